//! The two charts, drawn here as inline SVG with their counts written out: findings by
//! system instance × severity, and open findings by days since departure with the SLA line.

use std::fmt::Write;

use residual_probe::CollectStatus;

use super::view::{Totals, View};
use super::*;

pub(super) fn charts(b: &mut String, r: &Report, v: &View, t: &Totals) -> anyhow::Result<()> {
    writeln!(b, "<section id=\"charts\" class=\"charts\">")?;
    severity_chart(b, v)?;
    days_chart(b, r, v, t)?;
    writeln!(b, "</section>")?;
    Ok(())
}

/// Horizontal stacked bars: one per system instance, one segment per severity, counts as text.
pub(super) fn severity_chart(b: &mut String, v: &View) -> anyhow::Result<()> {
    const W: f64 = 480.0;
    const BAR_X: f64 = 160.0;
    const BAR_MAX: f64 = W - BAR_X - 40.0;
    const TOP: f64 = 34.0;
    const ROW: f64 = 50.0;
    let mut counts = vec![[0usize; 4]; v.columns.len()];
    for f in &v.open {
        counts[v.column_of(f)][sev_rank(f.severity)] += 1;
    }
    let max = counts
        .iter()
        .map(|c| c.iter().sum::<usize>())
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let h = TOP + ROW * v.columns.len().max(1) as f64;
    writeln!(b, "<figure class=\"chart\">")?;
    writeln!(b, "<h2>Open findings by system and severity</h2>")?;
    writeln!(
        b,
        "<svg id=\"chart-severity\" viewBox=\"0 0 {W} {h}\" width=\"{W}\" height=\"{h}\" role=\"img\" aria-labelledby=\"chart-severity-title\">"
    )?;
    writeln!(
        b,
        "<title id=\"chart-severity-title\">Open findings per system instance, stacked by severity</title>"
    )?;
    writeln!(b, "<defs><pattern id=\"hatch-sev\" width=\"8\" height=\"8\" patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\"><rect width=\"8\" height=\"8\" fill=\"#fff4e6\"/><rect width=\"4\" height=\"8\" fill=\"#ffc078\"/></pattern></defs>")?;
    legend(b, 0.0, 16.0)?;
    if v.columns.is_empty() {
        writeln!(
            b,
            "<text x=\"0\" y=\"{}\" class=\"muted\">no system instances in this scan</text>",
            TOP + 18.0
        )?;
    }
    for (i, (c, n)) in v.columns.iter().zip(&counts).enumerate() {
        let y = TOP + ROW * i as f64;
        let label = c.label();
        writeln!(
            b,
            "<g class=\"bar\" data-system=\"{}\" data-instance=\"{}\">",
            esc(c.system),
            esc(c.instance)
        )?;
        writeln!(
            b,
            "<text x=\"0\" y=\"{:.1}\" class=\"axis-label\"><title>{}</title>{}</text><text x=\"0\" y=\"{:.1}\" class=\"instance-label\"><title>{}</title>{}</text>",
            y + 15.0,
            esc(&label),
            esc_clip(c.system, 22),
            y + 30.0,
            esc(&label),
            esc_clip(c.instance, 25)
        )?;
        let total: usize = n.iter().sum();
        if c.failed() {
            writeln!(
                b,
                "<rect x=\"{BAR_X}\" y=\"{y:.1}\" width=\"{BAR_MAX}\" height=\"22\" fill=\"url(#hatch-sev)\" stroke=\"#d9480f\" stroke-width=\"1.5\" data-status=\"error\"/>"
            )?;
            writeln!(
                b,
                "<text x=\"{:.1}\" y=\"{:.1}\" class=\"bar-error\">NOT READ: findings unknown</text>",
                BAR_X + 8.0,
                y + 15.5
            )?;
        }
        let mut x = BAR_X;
        for s in SEVERITIES {
            let k = n[sev_rank(s)];
            if k == 0 {
                continue;
            }
            let w = k as f64 / max * BAR_MAX;
            let (fill, ink) = sev_colours(s);
            writeln!(
                b,
                "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"22\" fill=\"{fill}\" data-system=\"{}\" data-instance=\"{}\" data-severity=\"{}\" data-count=\"{k}\"><title>{}: {k} {}</title></rect>",
                esc(c.system),
                esc(c.instance),
                s.as_str(),
                esc(&label),
                s.as_str()
            )?;
            if w >= 18.0 {
                writeln!(
                    b,
                    "<text x=\"{:.1}\" y=\"{:.1}\" fill=\"{ink}\" class=\"in-bar\" text-anchor=\"middle\">{k}</text>",
                    x + w / 2.0,
                    y + 15.5
                )?;
            }
            x += w;
        }
        if !c.failed() {
            if total == 0 {
                writeln!(
                    b,
                    "<text x=\"{BAR_X}\" y=\"{:.1}\" class=\"muted\">no open findings</text>",
                    y + 15.5
                )?;
            } else {
                writeln!(
                    b,
                    "<text x=\"{:.1}\" y=\"{:.1}\" class=\"total\">{total}</text>",
                    x + 6.0,
                    y + 15.5
                )?;
            }
        }
        let detail = if c.failed() {
            match c.snap.map(|s| &s.status) {
                Some(CollectStatus::Failed { error }) => esc_clip(&error.to_string(), 52),
                _ => "not read".into(),
            }
        } else {
            SEVERITIES
                .iter()
                .filter(|s| n[sev_rank(**s)] > 0)
                .map(|s| format!("{} {}", n[sev_rank(*s)], s.as_str()))
                .collect::<Vec<_>>()
                .join(" · ")
        };
        writeln!(
            b,
            "<text x=\"{BAR_X}\" y=\"{:.1}\" class=\"breakdown\">{detail}</text>",
            y + 36.0
        )?;
        writeln!(b, "</g>")?;
    }
    writeln!(b, "</svg>")?;
    writeln!(
        b,
        "<figcaption>Each bar is one system instance; segments are severities, with the count \
         written in the segment and under the bar. A hatched bar is an instance that could not \
         be read: its findings are unknown, not zero.</figcaption>"
    )?;
    writeln!(b, "</figure>")?;
    Ok(())
}

/// A round step for about `target` ticks over `0..=max`.
pub(super) fn nice_step(max: f64, target: f64, steps: &[u64]) -> u64 {
    let raw = max / target;
    steps
        .iter()
        .copied()
        .find(|s| *s as f64 >= raw)
        .unwrap_or_else(|| {
            let last = *steps.last().unwrap_or(&1);
            let mut s = last;
            while (s as f64) < raw {
                s *= 2;
            }
            s
        })
}

/// Open findings by days since departure, in buckets, stacked by severity, with the SLA line.
pub(super) fn days_chart(b: &mut String, r: &Report, v: &View, t: &Totals) -> anyhow::Result<()> {
    const W: f64 = 660.0;
    const H: f64 = 300.0;
    const PL: f64 = 44.0;
    const PR: f64 = 14.0;
    const PT: f64 = 56.0;
    const PB: f64 = 46.0;
    let pw = W - PL - PR;
    let ph = H - PT - PB;
    let sla_hours = r.meta.sla_hours;
    let sla_days = f64::from(sla_hours) / 24.0;
    let max_day = v
        .open
        .iter()
        .map(|f| f.days_since_departure.max(0) as u64)
        .max()
        .unwrap_or(0);
    let span = (max_day + 1).max(sla_days.ceil() as u64 + 1).max(7);
    // Whole-day buckets while they fit, so a 24 h SLA falls on a bucket edge; then weeks,
    // months, years.
    let bw = [1u64, 7, 14, 30, 91, 365]
        .into_iter()
        .find(|w| span.div_ceil(*w) <= 70)
        .unwrap_or_else(|| span.div_ceil(70));
    let nb = span.div_ceil(bw);
    let xmax = (nb * bw) as f64;
    let mut buckets = vec![[0usize; 4]; nb as usize];
    for f in &v.open {
        let d = f.days_since_departure.max(0) as u64;
        buckets[(d / bw) as usize][sev_rank(f.severity)] += 1;
    }
    let top = buckets
        .iter()
        .map(|c| c.iter().sum::<usize>())
        .max()
        .unwrap_or(0)
        .max(1);
    let ystep = nice_step(
        top as f64,
        4.0,
        &[1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500],
    );
    let ymax = (top as u64).div_ceil(ystep) * ystep;
    let x = |d: f64| PL + d / xmax * pw;
    let y = |n: f64| PT + ph - n / ymax as f64 * ph;

    writeln!(b, "<figure class=\"chart\">")?;
    writeln!(b, "<h2>Residual access by days since departure</h2>")?;
    writeln!(
        b,
        "<svg id=\"chart-days\" viewBox=\"0 0 {W} {H}\" width=\"{W}\" height=\"{H}\" role=\"img\" aria-labelledby=\"chart-days-title\" data-bucket-days=\"{bw}\">"
    )?;
    writeln!(
        b,
        "<title id=\"chart-days-title\">Open findings by days since the leaver's departure, with the {sla_hours} h SLA</title>"
    )?;
    legend(b, 0.0, 16.0)?;
    // The region past the SLA.
    let sx = x(sla_days);
    writeln!(
        b,
        "<rect x=\"{sx:.1}\" y=\"{PT}\" width=\"{:.1}\" height=\"{ph:.1}\" fill=\"#fff1f0\"/>",
        (PL + pw - sx).max(0.0)
    )?;
    // Horizontal grid and y labels.
    let mut n = 0;
    while n <= ymax {
        let yy = y(n as f64);
        writeln!(
            b,
            "<line x1=\"{PL}\" x2=\"{:.1}\" y1=\"{yy:.1}\" y2=\"{yy:.1}\" class=\"grid\"/><text x=\"{:.1}\" y=\"{:.1}\" class=\"tick\" text-anchor=\"end\">{n}</text>",
            PL + pw,
            PL - 6.0,
            yy + 4.0
        )?;
        n += ystep;
    }
    // Bars.
    let slot = pw / nb as f64;
    let bar_w = (slot - 2.0).max(1.0);
    for (i, c) in buckets.iter().enumerate() {
        let total: usize = c.iter().sum();
        if total == 0 {
            continue;
        }
        let from = i as u64 * bw;
        let to = from + bw;
        let days = if bw == 1 {
            plural(from as usize, "day", "days")
        } else {
            format!("{from}–{} days", to - 1)
        };
        let bx = PL + slot * i as f64 + (slot - bar_w) / 2.0;
        let mut acc = 0usize;
        // Most severe at the bottom.
        for s in SEVERITIES {
            let k = c[sev_rank(s)];
            if k == 0 {
                continue;
            }
            let y1 = y((acc + k) as f64);
            let y0 = y(acc as f64);
            writeln!(
                b,
                "<rect x=\"{bx:.1}\" y=\"{y1:.1}\" width=\"{bar_w:.1}\" height=\"{:.1}\" fill=\"{}\" data-days-from=\"{from}\" data-days-to=\"{to}\" data-severity=\"{}\" data-count=\"{k}\"><title>{k} {} open, {days} since departure</title></rect>",
                y0 - y1,
                sev_colours(s).0,
                s.as_str(),
                s.as_str()
            )?;
            acc += k;
        }
        let (cx, cy) = (bx + bar_w / 2.0, y(total as f64) - 4.0);
        if slot >= 14.0 || total < 10 {
            writeln!(
                b,
                "<text x=\"{cx:.1}\" y=\"{cy:.1}\" class=\"count\" text-anchor=\"middle\">{total}</text>"
            )?;
        } else {
            // Too narrow for the number across: write it upwards.
            writeln!(
                b,
                "<text transform=\"translate({:.1} {cy:.1}) rotate(-90)\" class=\"count\">{total}</text>",
                cx + 3.5
            )?;
        }
    }
    // Axes.
    writeln!(
        b,
        "<line x1=\"{PL}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" class=\"axis\"/>",
        PL + pw,
        PT + ph,
        PT + ph
    )?;
    let xstep = nice_step(
        xmax,
        8.0,
        &[1, 2, 5, 7, 14, 30, 60, 90, 180, 365, 730, 1825, 3650],
    );
    let mut d = 0;
    while d as f64 <= xmax {
        let xx = x(d as f64);
        writeln!(
            b,
            "<line x1=\"{xx:.1}\" x2=\"{xx:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" class=\"axis\"/><text x=\"{xx:.1}\" y=\"{:.1}\" class=\"tick\" text-anchor=\"middle\">{d}</text>",
            PT + ph,
            PT + ph + 4.0,
            PT + ph + 16.0
        )?;
        d += xstep;
    }
    writeln!(
        b,
        "<text x=\"{:.1}\" y=\"{:.1}\" class=\"axis-title\" text-anchor=\"middle\">days since departure (as of {})</text>",
        PL + pw / 2.0,
        H - 8.0,
        day(r.meta.as_of)
    )?;
    writeln!(
        b,
        "<text transform=\"translate(12 {:.1}) rotate(-90)\" class=\"axis-title\" text-anchor=\"middle\">open findings</text>",
        PT + ph / 2.0
    )?;
    // The SLA line, drawn last so bars do not hide it.
    writeln!(
        b,
        "<line id=\"sla-line\" data-sla-hours=\"{sla_hours}\" x1=\"{sx:.1}\" x2=\"{sx:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" class=\"sla\"/>",
        PT - 30.0,
        PT + ph
    )?;
    let room = PL + pw - sx;
    let (lx, anchor) = if room > 80.0 {
        (sx + 5.0, "start")
    } else {
        (sx - 5.0, "end")
    };
    writeln!(
        b,
        "<text id=\"sla-label\" x=\"{lx:.1}\" y=\"{:.1}\" class=\"sla-label\" text-anchor=\"{anchor}\">SLA {sla_hours} h</text>",
        PT - 18.0
    )?;
    if room > 180.0 {
        writeln!(
            b,
            "<text x=\"{:.1}\" y=\"{:.1}\" class=\"sla-past\" text-anchor=\"end\">past the SLA →</text>",
            PL + pw - 2.0,
            PT - 18.0
        )?;
    }
    if v.open.is_empty() {
        writeln!(
            b,
            "<text x=\"{:.1}\" y=\"{:.1}\" class=\"muted\" text-anchor=\"middle\">no open findings</text>",
            PL + pw / 2.0,
            PT + ph / 2.0
        )?;
    }
    writeln!(b, "</svg>")?;
    let oldest = match v.open.iter().map(|f| f.days_since_departure).max() {
        Some(d) => format!(" The oldest open finding is {d} days past its leaver's departure."),
        None => String::new(),
    };
    writeln!(
        b,
        "<figcaption><strong>{} of {} open findings are past the {sla_hours} h SLA.</strong>{oldest} \
         Bars count open findings by whole days since departure{}; the dashed line is the SLA.</figcaption>",
        t.past_sla,
        t.open,
        if bw > 1 {
            format!(", in buckets of {bw} days")
        } else {
            String::new()
        }
    )?;
    writeln!(b, "</figure>")?;
    Ok(())
}

pub(super) fn legend(b: &mut String, x: f64, y: f64) -> std::fmt::Result {
    let mut x = x;
    for s in SEVERITIES {
        let (fill, _) = sev_colours(s);
        writeln!(
            b,
            "<rect class=\"swatch\" x=\"{x:.1}\" y=\"{:.1}\" width=\"12\" height=\"12\" fill=\"{fill}\"/><text x=\"{:.1}\" y=\"{:.1}\" class=\"legend\">{}</text>",
            y - 10.0,
            x + 16.0,
            y,
            s.as_str()
        )?;
        x += 30.0 + 7.0 * s.as_str().len() as f64;
    }
    Ok(())
}
