//! The page's sections, top to bottom: header and banner, the coverage matrix, what could not
//! be checked, the findings table, per-leaver detail, and the scan's own facts.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use residual_probe::CollectStatus;
use time::OffsetDateTime;

use super::view::{abridged, LeaverView, Limits, Plan, Totals, View};
use super::*;
use crate::evaluate::{Finding, Status, Tri};

pub(super) fn header(b: &mut String, r: &Report, v: &View, t: &Totals) -> anyhow::Result<()> {
    let m = r.meta;
    writeln!(b, "<header id=\"top\">")?;
    writeln!(b, "<p class=\"kicker\">residual · leaver access report</p>")?;
    writeln!(
        b,
        "<h1>Who can still get in, as of {}</h1>",
        escape(&human(m.as_of))
    )?;
    writeln!(
        b,
        "<p class=\"sub\">Scan <code>{}</code> · {} from <code>{}</code> · {} · SLA {} h</p>",
        esc(&m.scan_id),
        plural(t.leavers, "leaver", "leavers"),
        esc(&m.leavers_file),
        plural(v.columns.len(), "system instance", "system instances"),
        m.sla_hours
    )?;
    writeln!(b, "<nav class=\"toc\" aria-label=\"Sections\"><a href=\"#charts\">Charts</a><a href=\"#coverage-section\">Coverage</a><a href=\"#problems\">Not fully checked</a><a href=\"#findings-section\">Findings</a><a href=\"#leavers\">Per leaver</a><a href=\"#manifest\">Scan facts</a></nav>")?;
    writeln!(b, "</header>")?;

    let bad = t.errors + t.ambiguous + t.unverified + t.missing;
    if bad > 0 {
        let mut why = Vec::new();
        if t.errors > 0 {
            why.push(format!(
                "{} across {} (a system or account could not be read)",
                plural(t.errors, "error", "errors"),
                plural(t.error_leavers, "leaver", "leavers")
            ));
        }
        if t.missing > 0 {
            why.push(format!("{} with no coverage row at all", t.missing));
        }
        if t.unverified > 0 {
            why.push(format!(
                "{} unverified (the system records nothing the leaver's row could be compared with)",
                t.unverified
            ));
        }
        if t.ambiguous > 0 {
            why.push(format!(
                "{} ambiguous (a person must decide whose account it is)",
                t.ambiguous
            ));
        }
        writeln!(
            b,
            "<div id=\"completeness\" class=\"banner incomplete\" role=\"alert\" data-incomplete=\"true\" data-errors=\"{}\" data-ambiguous=\"{}\">",
            t.errors, t.ambiguous
        )?;
        writeln!(b, "<p class=\"banner-title\">INCOMPLETE SCAN</p>")?;
        writeln!(
            b,
            "<p>{bad} of {} leaver × system checks did not complete: {}. An error is not a clean \
             result: a leaver may still have access where they could not be checked. See \
             <a href=\"#problems\">Not fully checked</a>.</p>",
            t.cells + t.missing,
            why.join(", ")
        )?;
        writeln!(b, "</div>")?;
    } else {
        writeln!(
            b,
            "<div id=\"completeness\" class=\"banner complete\" data-incomplete=\"false\" data-errors=\"0\" data-ambiguous=\"0\"><p class=\"banner-title\">COMPLETE</p><p>All {} leaver × system checks completed.</p></div>",
            t.cells
        )?;
    }

    writeln!(
        b,
        "<section id=\"summary\" aria-label=\"Totals\" class=\"stats\">"
    )?;
    let stat = |b: &mut String,
                key: &str,
                class: &str,
                n: usize,
                label: &str,
                sub: String|
     -> std::fmt::Result {
        writeln!(
            b,
            "<div class=\"stat {class}\" data-stat=\"{key}\"><span class=\"n\">{n}</span><span class=\"label\">{label}</span><span class=\"sub\">{sub}</span></div>"
        )
    };
    stat(
        b,
        "departed",
        "",
        t.departed,
        "leavers checked",
        format!(
            "departed by the as-of date; {} not yet",
            t.leavers - t.departed
        ),
    )?;
    stat(
        b,
        "residual",
        if t.residual_leavers > 0 {
            "alert"
        } else {
            "ok"
        },
        t.residual_leavers,
        "with residual access",
        "a working way in remains".into(),
    )?;
    stat(
        b,
        "critical",
        if t.by_sev[0] > 0 { "alert" } else { "ok" },
        t.by_sev[0],
        "critical findings",
        format!(
            "of {} open{}",
            t.open,
            if t.suppressed > 0 {
                format!("; {} suppressed", t.suppressed)
            } else {
                String::new()
            }
        ),
    )?;
    stat(
        b,
        "error",
        if t.errors > 0 { "warn" } else { "ok" },
        t.errors,
        "errors",
        "leaver × system checks not completed".into(),
    )?;
    stat(
        b,
        "ambiguous",
        if t.ambiguous > 0 { "warn" } else { "ok" },
        t.ambiguous,
        "ambiguous",
        "matches a person must confirm".into(),
    )?;
    stat(
        b,
        "past-sla",
        if t.past_sla > 0 { "alert" } else { "ok" },
        t.past_sla,
        "past the SLA",
        format!("open findings older than {} h", r.meta.sla_hours),
    )?;
    writeln!(b, "</section>")?;
    Ok(())
}

pub(super) fn coverage(b: &mut String, v: &View, plan: &Plan) -> anyhow::Result<()> {
    writeln!(b, "<section id=\"coverage-section\">")?;
    writeln!(b, "<h2>Coverage: every leaver × system instance</h2>")?;
    writeln!(
        b,
        "<p class=\"lede\">One row per leaver, one column per system instance. Each cell is the \
         outcome of checking that leaver there; <strong>error</strong>, <strong>unverified</strong> \
         and <strong>ambiguous</strong> cells were not fully checked and are never clean.</p>"
    )?;
    let mut counts = [0usize; OUTCOMES.len()];
    for l in &v.leavers {
        for c in l.cells.iter().flatten() {
            counts[outcome_rank(c.outcome)] += 1;
        }
    }
    writeln!(b, "<ul class=\"outcome-legend\">")?;
    for o in OUTCOMES {
        writeln!(
            b,
            "<li><span class=\"cell o-{0}\">{0}</span> {1}</li>",
            o.as_str(),
            counts[outcome_rank(o)]
        )?;
    }
    writeln!(b, "</ul>")?;
    writeln!(
        b,
        "<div id=\"coverage-filter\" class=\"controls\" hidden><label>Show leavers with \
         <select id=\"coverage-filter-select\"><option value=\"\">any outcome</option>"
    )?;
    for o in OUTCOMES {
        writeln!(b, "<option value=\"{0}\">{0}</option>", o.as_str())?;
    }
    writeln!(
        b,
        "</select></label> <span id=\"coverage-filter-count\" aria-live=\"polite\"></span></div>"
    )?;
    let shown = plan.rows.iter().filter(|x| **x).count();
    if shown < v.leavers.len() {
        abridged(
            b,
            &format!(
                "This scan has {} leavers; the matrix shows {shown}, those with error, \
                 ambiguous or residual outcomes first. <code>coverage.csv</code> has every row.",
                v.leavers.len()
            ),
        )?;
    }
    writeln!(b, "<div class=\"scroll\">")?;
    writeln!(
        b,
        "<table id=\"coverage\" class=\"matrix sortable\" data-leavers=\"{}\" data-rows=\"{shown}\">",
        v.leavers.len()
    )?;
    writeln!(b, "<thead><tr><th scope=\"col\">Leaver</th>")?;
    for c in &v.columns {
        let state = if c.failed() {
            "<span class=\"colstate bad\">not read</span>"
        } else if c.snap.is_some() {
            "<span class=\"colstate\">read</span>"
        } else {
            "<span class=\"colstate bad\">not in snapshot</span>"
        };
        writeln!(
            b,
            "<th scope=\"col\" data-system=\"{}\" data-instance=\"{}\">{}<br><span class=\"inst\">{}</span> {state}</th>",
            esc(c.system),
            esc(c.instance),
            esc(c.system),
            esc(c.instance)
        )?;
    }
    writeln!(b, "</tr></thead>")?;
    writeln!(b, "<tbody>")?;
    for (i, l) in v.leavers.iter().enumerate() {
        if !plan.rows[i] {
            continue;
        }
        let outcomes: BTreeSet<&str> = l
            .cells
            .iter()
            .map(|c| c.map(|c| c.outcome.as_str()).unwrap_or("missing"))
            .collect();
        let outcomes: Vec<&str> = outcomes.into_iter().collect();
        writeln!(
            b,
            "<tr data-leaver=\"{}\" data-outcomes=\"{}\">",
            esc(l.id),
            outcomes.join(" ")
        )?;
        let id = if !plan.details[i] {
            esc(l.id)
        } else {
            format!("<a href=\"#leaver-{}\">{}</a>", slug(l.id), esc(l.id))
        };
        let who = match (l.name.is_empty(), l.email.is_empty()) {
            (false, false) => format!("{} · {}", esc(l.name), esc(l.email)),
            (false, true) => esc(l.name),
            (true, false) => esc(l.email),
            (true, true) => String::new(),
        };
        writeln!(
            b,
            "<th scope=\"row\" data-sort=\"{i}\">{id}<span class=\"who\">{who}</span></th>"
        )?;
        for c in &l.cells {
            match c {
                Some(c) => {
                    let o = c.outcome.as_str();
                    let extra = if c.open_findings > 0 {
                        format!(
                            "<span class=\"k\">{}</span>",
                            plural(c.open_findings as usize, "finding", "findings")
                        )
                    } else {
                        String::new()
                    };
                    writeln!(
                        b,
                        "<td data-outcome=\"{o}\" class=\"cell o-{o}\" data-sort=\"{}\" title=\"{}\">{o}{extra}</td>",
                        outcome_rank(c.outcome),
                        esc(&c.detail)
                    )?;
                }
                None => writeln!(
                    b,
                    "<td data-outcome=\"missing\" class=\"cell o-error\" data-sort=\"0\" title=\"no coverage row\">missing</td>"
                )?,
            }
        }
        writeln!(b, "</tr>")?;
    }
    writeln!(b, "</tbody></table></div>")?;
    writeln!(b, "</section>")?;
    Ok(())
}

/// Error and ambiguous coverage, grouped where many leavers share one reason.
/// With `--baseline`: what closed since, how fast, and the leavers with every path closed.
pub(super) fn closure(b: &mut String, r: &Report) -> anyhow::Result<()> {
    let ev = &r.evaluation;
    if ev.resolved.is_empty() && ev.closed_leavers.is_empty() {
        return Ok(());
    }
    writeln!(b, "<section id=\"closure\">")?;
    writeln!(b, "<h2>Closed since the baseline</h2>")?;
    writeln!(
        b,
        "<p class=\"lede\">{} resolved{}.</p>",
        plural(ev.resolved.len(), "finding", "findings"),
        crate::baseline::time_to_close(&ev.resolved)
            .map(|t| format!(" ({})", esc(&t)))
            .unwrap_or_default()
    )?;
    if !ev.closed_leavers.is_empty() {
        let within = ev.closed_leavers.iter().filter(|c| c.within_sla).count();
        writeln!(
            b,
            "<p>SLA: {within} of {} fully closed within {} h of departure.</p>",
            plural(ev.closed_leavers.len(), "leaver", "leavers"),
            ev.closed_leavers[0].sla_hours
        )?;
        writeln!(b, "<table><thead><tr><th>leaver</th><th>all paths closed at</th><th>hours after departure</th><th>SLA</th></tr></thead><tbody>")?;
        for c in &ev.closed_leavers {
            writeln!(
                b,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&c.leaver_email),
                esc(&residual_probe::rfc3339(c.closed_at)),
                c.hours_after_departure,
                if c.within_sla { "within" } else { "past" }
            )?;
        }
        writeln!(b, "</tbody></table>")?;
    }
    writeln!(b, "</section>")?;
    Ok(())
}

pub(super) fn problems(b: &mut String, r: &Report, lim: Limits) -> anyhow::Result<()> {
    let mut groups: BTreeMap<(usize, &str, &str, &str), Vec<&str>> = BTreeMap::new();
    for c in &r.evaluation.coverage {
        if c.outcome.incomplete() {
            groups
                .entry((
                    outcome_rank(c.outcome),
                    &*c.system,
                    &*c.system_instance,
                    &*c.detail,
                ))
                .or_default()
                .push(&c.leaver_id);
        }
    }
    writeln!(b, "<section id=\"problems\">")?;
    writeln!(b, "<h2>Not fully checked</h2>")?;
    if groups.is_empty() {
        writeln!(
            b,
            "<p class=\"lede\">Every leaver was checked on every system instance.</p>"
        )?;
        writeln!(b, "</section>")?;
        return Ok(());
    }
    writeln!(
        b,
        "<p class=\"lede\">These leaver × system checks did not complete. Fix access or decide \
         the match, then scan again; until then, treat them as possible access.</p>"
    )?;
    writeln!(b, "<div class=\"scroll\"><table id=\"problem-table\">")?;
    writeln!(b, "<thead><tr><th scope=\"col\">Outcome</th><th scope=\"col\">System / instance</th><th scope=\"col\">Why</th><th scope=\"col\">Leavers</th></tr></thead><tbody>")?;
    for ((rank, system, instance, detail), leavers) in &groups {
        let o = OUTCOMES[*rank].as_str();
        let mut names: Vec<String> = leavers
            .iter()
            .take(lim.names_per_problem)
            .map(|l| esc(l))
            .collect();
        if leavers.len() > names.len() {
            names.push(format!(
                "… and {} more (see <code>coverage.csv</code>)",
                leavers.len() - names.len()
            ));
        }
        writeln!(
            b,
            "<tr data-outcome=\"{o}\"><td><span class=\"cell o-{o}\">{o}</span></td><td>{} / {}</td><td>{}</td><td><strong>{}</strong>: {}</td></tr>",
            esc(system),
            esc(instance),
            esc(detail),
            leavers.len(),
            names.join(", ")
        )?;
    }
    writeln!(b, "</tbody></table></div>")?;
    writeln!(b, "</section>")?;
    Ok(())
}

pub(super) fn used(f: &Finding) -> (&'static str, &'static str) {
    match f.used_after_departure {
        Tri::True => ("yes", "used-yes"),
        Tri::False => ("no", "used-no"),
        Tri::Unknown => ("unknown", "used-unknown"),
    }
}

pub(super) fn sev_badge(s: Severity) -> String {
    format!("<span class=\"sev sev-{0}\">{0}</span>", s.as_str())
}

/// Every finding in one sortable table: most severe and oldest first.
pub(super) fn findings_table(
    b: &mut String,
    r: &Report,
    v: &View,
    plan: &Plan,
    lim: Limits,
) -> anyhow::Result<()> {
    let mut all: Vec<&Finding> = r.evaluation.findings.iter().collect();
    all.sort_by_key(|f| {
        (
            f.status != Status::Open,
            sev_rank(f.severity),
            std::cmp::Reverse(f.days_since_departure),
        )
    });
    writeln!(b, "<section id=\"findings-section\">")?;
    writeln!(b, "<h2>Findings</h2>")?;
    if all.is_empty() {
        writeln!(b, "<p class=\"lede\">No findings.</p></section>")?;
        return Ok(());
    }
    writeln!(
        b,
        "<p class=\"lede\">Most severe first. Click a column heading to sort; the leaver's \
         section below has the evidence and the remediation.</p>"
    )?;
    if all.len() > lim.findings_rows {
        abridged(
            b,
            &format!(
                "This scan has {} findings; the table lists the {} most severe. \
                 <code>findings.csv</code> and <code>findings.json</code> have all of them.",
                all.len(),
                lim.findings_rows
            ),
        )?;
    }
    writeln!(
        b,
        "<div class=\"scroll\"><table id=\"findings\" class=\"sortable list\">"
    )?;
    writeln!(b, "<thead><tr><th scope=\"col\">Severity</th><th scope=\"col\">Leaver</th><th scope=\"col\">System / instance</th><th scope=\"col\">Check</th><th scope=\"col\">Resource</th><th scope=\"col\">Days since departure</th><th scope=\"col\">Used after departure</th></tr></thead><tbody>")?;
    for f in all.into_iter().take(lim.findings_rows) {
        let (u, uc) = used(f);
        let who = if plan.has_section(v, &f.leaver_id) {
            format!(
                "<a href=\"#leaver-{}\">{}</a>",
                slug(&f.leaver_id),
                esc(&f.leaver_id)
            )
        } else {
            esc(&f.leaver_id)
        };
        let status = if f.status == Status::Open {
            String::new()
        } else {
            " <span class=\"tag\">suppressed</span>".into()
        };
        writeln!(
            b,
            "<tr data-finding=\"{}\" data-severity=\"{}\" data-status=\"{}\"><td data-sort=\"{}\">{}{status}</td><td>{who}</td><td class=\"where\">{} / {}</td><td>{}</td><td>{}</td><td data-sort=\"{}\" class=\"num\">{}{}</td><td class=\"{uc}\">{u}</td></tr>",
            esc(&f.finding_id),
            f.severity.as_str(),
            f.status.as_str(),
            sev_rank(f.severity) + if f.status == Status::Open { 0 } else { 10 },
            sev_badge(f.severity),
            esc(&f.system),
            esc(&f.system_instance),
            esc(&f.title),
            esc(if f.resource_name.is_empty() {
                &f.resource_id
            } else {
                &f.resource_name
            }),
            f.days_since_departure,
            f.days_since_departure,
            if f.sla_breached {
                " <span class=\"tag past\">past SLA</span>"
            } else {
                ""
            }
        )?;
    }
    writeln!(b, "</tbody></table></div>")?;
    writeln!(b, "</section>")?;
    Ok(())
}

pub(super) fn opt_time(t: Option<OffsetDateTime>) -> String {
    t.map(rfc3339).unwrap_or_else(|| "unknown".into())
}

pub(super) fn leaver_details(b: &mut String, v: &View, plan: &Plan) -> anyhow::Result<()> {
    writeln!(b, "<section id=\"leavers\">")?;
    writeln!(b, "<h2>Per leaver</h2>")?;
    let with = v.leavers.iter().filter(|l| !l.findings.is_empty()).count();
    if with == 0 {
        writeln!(b, "<p class=\"lede\">No leaver has findings.</p></section>")?;
        return Ok(());
    }
    let shown: Vec<&LeaverView> = v
        .leavers
        .iter()
        .zip(&plan.details)
        .filter(|(_, d)| **d)
        .map(|(l, _)| l)
        .collect();
    if shown.len() < with {
        abridged(
            b,
            &format!(
                "{with} leavers have findings; this page details the {} with the most severe \
                 ones. <code>findings.csv</code> and <code>findings.json</code> have the \
                 evidence for every finding.",
                shown.len()
            ),
        )?;
    }
    for l in shown {
        let mut by_sev = [0usize; 4];
        for f in l.findings.iter().filter(|f| f.status == Status::Open) {
            by_sev[sev_rank(f.severity)] += 1;
        }
        let open: usize = by_sev.iter().sum();
        let mix: Vec<String> = SEVERITIES
            .iter()
            .filter(|s| by_sev[sev_rank(**s)] > 0)
            .map(|s| format!("{} {}", by_sev[sev_rank(*s)], s.as_str()))
            .collect();
        writeln!(
            b,
            "<section class=\"leaver\" id=\"leaver-{}\" data-leaver=\"{}\">",
            slug(l.id),
            esc(l.id)
        )?;
        writeln!(b, "<details open>")?;
        let name = if l.name.is_empty() {
            String::new()
        } else {
            format!(" · {}", esc(l.name))
        };
        writeln!(
            b,
            "<summary><h3>{}{name}</h3><span class=\"leaver-meta\">{}{}{} · {}{}</span></summary>",
            esc(l.id),
            if l.email.is_empty() {
                String::new()
            } else {
                format!("{} · ", esc(l.email))
            },
            l.departure
                .map(|d| format!("departed {}", day(d)))
                .unwrap_or_default(),
            l.days
                .map(|d| format!(" ({d} days before the as-of date)"))
                .unwrap_or_default(),
            plural(open, "open finding", "open findings"),
            if mix.is_empty() {
                String::new()
            } else {
                format!(": {}", mix.join(", "))
            }
        )?;
        writeln!(b, "<table class=\"detail\">")?;
        writeln!(b, "<thead><tr><th scope=\"col\">Severity</th><th scope=\"col\">Check</th><th scope=\"col\">System / instance</th><th scope=\"col\">Resource</th><th scope=\"col\">Used after departure</th></tr></thead>")?;
        for f in &l.findings {
            finding_rows(b, f)?;
        }
        writeln!(b, "</table>")?;
        writeln!(b, "</details>")?;
        writeln!(b, "</section>")?;
    }
    writeln!(b, "</section>")?;
    Ok(())
}

pub(super) fn finding_rows(b: &mut String, f: &Finding) -> anyhow::Result<()> {
    let (u, uc) = used(f);
    writeln!(
        b,
        "<tbody class=\"finding\" id=\"finding-{}\" data-severity=\"{}\" data-status=\"{}\">",
        slug(&f.finding_id),
        f.severity.as_str(),
        f.status.as_str()
    )?;
    let mut tags = String::new();
    if f.status == Status::Suppressed {
        tags.push_str("<br><span class=\"tag\">suppressed</span>");
    }
    if let Some(bl) = f.baseline {
        let _ = write!(tags, "<br><span class=\"tag\">{}</span>", esc(bl));
    }
    let name = if f.resource_name.is_empty() || f.resource_name == f.resource_id {
        String::new()
    } else {
        format!("<strong>{}</strong><br>", esc(&f.resource_name))
    };
    writeln!(
        b,
        "<tr class=\"head\"><td>{}{tags}</td><td><strong>{}</strong><br><code>{}</code></td><td class=\"where\">{} / {}</td><td>{name}<code class=\"rid\">{}</code><br><span class=\"muted rtype\">{}</span></td><td class=\"{uc}\"><strong>{u}</strong>{}</td></tr>",
        sev_badge(f.severity),
        esc(&f.title),
        esc(&f.check_id),
        esc(&f.system),
        esc(&f.system_instance),
        esc(&f.resource_id),
        esc(&f.resource_type),
        f.last_used_at
            .map(|t| format!("<br><span class=\"muted\">last used {}</span>", escape(&rfc3339(t))))
            .unwrap_or_default()
    )?;
    writeln!(
        b,
        "<tr class=\"body\"><td colspan=\"5\"><div class=\"cols\">"
    )?;
    writeln!(b, "<div><h4>Evidence</h4><ul class=\"evidence\">")?;
    for e in &f.evidence {
        writeln!(b, "<li>{}</li>", esc(e))?;
    }
    writeln!(b, "</ul></div>")?;
    let (what, cmd) = match f.remediation.split_once(" Command: ") {
        Some((w, c)) => (w, Some(c)),
        None => (f.remediation.as_str(), None),
    };
    writeln!(b, "<div><h4>Remediation</h4><p>{}</p>", esc(what))?;
    if let Some(c) = cmd {
        writeln!(b, "<pre class=\"cmd\"><code>{}</code></pre>", esc(c))?;
    }
    writeln!(b, "</div></div>")?;
    let mut facts = vec![
        format!("finding <code>{}</code>", esc(&f.finding_id)),
        format!(
            "matched by {} ({})",
            esc(&f.match_rule),
            f.match_confidence.as_str()
        ),
        format!("created {}", escape(&opt_time(f.created_at))),
        format!("last used {}", escape(&opt_time(f.last_used_at))),
        format!("observed {}", escape(&rfc3339(f.observed_at))),
    ];
    if f.sla_breached {
        facts.push("<span class=\"tag past\">past SLA</span>".into());
    }
    if let Some(s) = &f.suppression {
        facts.push(format!("suppressed: {}", esc(s)));
    }
    let controls: Vec<String> = f
        .owasp_nhi
        .iter()
        .chain(f.nist_csf.iter())
        .chain(f.other_controls.iter())
        .map(|c| esc(c))
        .collect();
    if !controls.is_empty() {
        facts.push(format!("controls: {}", controls.join(", ")));
    }
    writeln!(b, "<p class=\"facts\">{}</p>", facts.join(" · "))?;
    writeln!(b, "</td></tr>")?;
    writeln!(b, "</tbody>")?;
    Ok(())
}

pub(super) fn manifest(b: &mut String, r: &Report) -> anyhow::Result<()> {
    let m = r.meta;
    writeln!(b, "<section id=\"manifest\">")?;
    writeln!(b, "<h2>Scan facts</h2>")?;
    writeln!(b, "<dl class=\"facts-list\">")?;
    let mut dt = |k: &str, v: String| writeln!(b, "<dt>{k}</dt><dd>{v}</dd>");
    dt("Scan id", format!("<code>{}</code>", esc(&m.scan_id)))?;
    dt(
        "Tool",
        format!(
            "residual {} (commit <code>{}</code>)",
            esc(&m.tool_version),
            esc(&m.git_commit)
        ),
    )?;
    dt("As of", escape(&rfc3339(m.as_of)))?;
    dt("Started", escape(&rfc3339(m.started_at)))?;
    dt(
        "Snapshot",
        format!(
            "{} (collected {})",
            esc(&m.snapshot_source),
            escape(&rfc3339(r.snapshot.collected_at))
        ),
    )?;
    dt(
        "Leavers file",
        format!(
            "<code>{}</code>, {}, {}",
            esc(&m.leavers_file),
            plural(m.leavers_rows, "row", "rows"),
            plural(m.leavers_count, "leaver", "leavers")
        ),
    )?;
    dt(
        "Leavers sha256",
        format!("<code class=\"hash\">{}</code>", esc(&m.leavers_sha256)),
    )?;
    match (&m.config_file, &m.config_sha256) {
        (Some(f), sha) => dt(
            "Config",
            format!(
                "<code>{}</code>{}",
                esc(f),
                sha.as_ref()
                    .map(|s| format!(", sha256 <code class=\"hash\">{}</code>", esc(s)))
                    .unwrap_or_default()
            ),
        )?,
        (None, _) => dt("Config", "none".into())?,
    }
    dt("SLA", format!("{} h", m.sla_hours))?;
    dt("Fails on", esc(&m.fail_on))?;
    writeln!(b, "</dl>")?;
    writeln!(b, "<div class=\"scroll\"><table id=\"systems\">")?;
    writeln!(b, "<thead><tr><th scope=\"col\">System / instance</th><th scope=\"col\">Status</th><th scope=\"col\">Authenticated as</th><th scope=\"col\" class=\"num\">Accounts enumerated</th><th scope=\"col\" class=\"num\">Requests</th><th scope=\"col\">Observed</th><th scope=\"col\">Gaps</th><th scope=\"col\">Notes</th></tr></thead><tbody>")?;
    for s in &r.snapshot.systems {
        let status = match &s.status {
            CollectStatus::Complete => "<span class=\"ok-word\">complete</span>".to_string(),
            CollectStatus::Failed { error } => format!(
                "<span class=\"cell o-error\">error</span> {}",
                esc(&error.to_string())
            ),
        };
        let gaps: Vec<String> = s
            .gaps
            .iter()
            .map(|g| {
                format!(
                    "<li>{}{}: {}</li>",
                    esc(&g.what),
                    g.account_id
                        .as_ref()
                        .map(|a| format!(" ({})", esc(a)))
                        .unwrap_or_default(),
                    esc(&g.error.to_string())
                )
            })
            .collect();
        let notes: Vec<String> = s
            .notes
            .iter()
            .map(|n| format!("<li>{}</li>", esc(n)))
            .collect();
        let list = |items: Vec<String>| {
            if items.is_empty() {
                "none".to_string()
            } else {
                format!("<ul>{}</ul>", items.concat())
            }
        };
        writeln!(
            b,
            "<tr data-system=\"{}\" data-instance=\"{}\" data-status=\"{}\"><td>{} / {}{}</td><td>{status}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"time\">{}</td><td>{}</td><td>{}</td></tr>",
            esc(&s.system),
            esc(&s.instance),
            if s.is_complete() { "complete" } else { "error" },
            esc(&s.system),
            esc(&s.instance),
            s.title
                .as_deref()
                .map(|t| format!("<br><span class=\"muted\">{}</span>", esc(t)))
                .unwrap_or_default(),
            s.authenticated_as
                .as_deref()
                .map(|a| format!("<code>{}</code>", esc(a)))
                .unwrap_or_else(|| "unknown".into()),
            s.accounts_enumerated,
            s.requests,
            escape(&opt_time(s.observed_at)),
            list(gaps),
            list(notes)
        )?;
    }
    writeln!(b, "</tbody></table></div>")?;
    writeln!(b, "</section>")?;
    Ok(())
}
