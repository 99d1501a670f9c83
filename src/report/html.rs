//! `report.html`: one self-contained page for people — headline totals, a completeness banner,
//! two charts drawn here as inline SVG, the coverage matrix, the findings per leaver and the
//! scan's own facts.
//!
//! Rules the page keeps:
//! - Nothing is fetched: styles and the one small script are inline, and a Content Security
//!   Policy (`default-src 'none'`, style and script allowed by their sha256 only) forbids any
//!   load, so even a value that slipped through escaping could neither load nor run anything.
//! - Every value from the estate or the leavers file is redacted, then HTML-escaped ([`esc`]);
//!   none goes into the script or the stylesheet, which are constant.
//! - Everything is rendered on the server: the script only sorts and filters tables, and the
//!   page reads the same with JavaScript off and on paper (`@media print`).
//! - The same report gives the same bytes: times come from the scan, orders are fixed.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write;

use residual_probe::{CollectStatus, SystemSnapshot};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::{rfc3339, Render, Report};
use crate::catalogue::Severity;
use crate::evaluate::{CoverageRow, Finding, Status, Tri, Verdict};

pub struct Page;

/// Most severe first: the order of legends, stacks and sorting.
const SEVERITIES: [Severity; 4] = [
    Severity::Critical,
    Severity::High,
    Severity::Medium,
    Severity::Low,
];

/// Legend order: the outcomes that need someone first.
const OUTCOMES: [Verdict; 6] = [
    Verdict::Error,
    Verdict::Ambiguous,
    Verdict::Residual,
    Verdict::Deprovisioned,
    Verdict::NoAccount,
    Verdict::NotDeparted,
];

fn sev_rank(s: Severity) -> usize {
    SEVERITIES.iter().position(|x| *x == s).unwrap_or(0)
}

fn outcome_rank(o: Verdict) -> usize {
    OUTCOMES.iter().position(|x| *x == o).unwrap_or(0)
}

/// Bar fill and the text colour that reads on it.
fn sev_colours(s: Severity) -> (&'static str, &'static str) {
    match s {
        Severity::Critical => ("#a51d24", "#ffffff"),
        Severity::High => ("#e8590c", "#ffffff"),
        Severity::Medium => ("#f2b705", "#1f1600"),
        Severity::Low => ("#7b8ba1", "#ffffff"),
    }
}

/// Escape for HTML text and double- or single-quoted attribute values. Control characters
/// other than tab and newline become U+FFFD.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' => out.push(c),
            c if c.is_control() => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// A value from the estate or the leavers file, ready for the page: redacted, then escaped.
fn esc(s: &str) -> String {
    escape(&residual_probe::redact::redact(s))
}

/// [`esc`], shortened to `max` characters (redacted before it is cut, so a cut cannot unmask
/// a secret).
fn esc_clip(s: &str, max: usize) -> String {
    let r = residual_probe::redact::redact(s);
    if r.chars().count() <= max {
        escape(&r)
    } else {
        let cut: String = r.chars().take(max.saturating_sub(1)).collect();
        escape(&format!("{cut}…"))
    }
}

/// A value usable in an `id` and a `#fragment`: ASCII letters, digits and `-` kept, every
/// other byte written as `_xx`, so distinct values give distinct ids.
fn slug(s: &str) -> String {
    let r = residual_probe::redact::redact(s);
    let mut out = String::with_capacity(r.len());
    for b in r.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' {
            out.push(b as char);
        } else {
            let _ = write!(out, "_{b:02x}");
        }
    }
    out
}

fn day(t: OffsetDateTime) -> String {
    rfc3339(t).chars().take(10).collect()
}

/// A time for people: `2026-11-26 00:00 UTC`.
fn human(t: OffsetDateTime) -> String {
    let s = rfc3339(t);
    match (s.get(..10), s.get(11..16)) {
        (Some(d), Some(hm)) => format!("{d} {hm} UTC"),
        _ => s,
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A CSP source allowing exactly this inline text.
fn csp_hash(text: &str) -> String {
    format!(
        "'sha256-{}'",
        base64(Sha256::digest(text.as_bytes()).as_slice())
    )
}

/// One column of the coverage matrix and one bar of the severity chart.
struct Column<'a> {
    system: &'a str,
    instance: &'a str,
    snap: Option<&'a SystemSnapshot>,
}

impl Column<'_> {
    fn failed(&self) -> bool {
        self.snap.is_some_and(|s| !s.is_complete())
    }
    fn label(&self) -> String {
        format!("{} / {}", self.system, self.instance)
    }
}

struct LeaverView<'a> {
    id: &'a str,
    email: &'a str,
    name: &'a str,
    departure: Option<OffsetDateTime>,
    days: Option<i64>,
    cells: Vec<Option<&'a CoverageRow>>,
    findings: Vec<&'a Finding>,
}

/// The report rearranged for the page, in a fixed order: columns as the snapshot lists its
/// system instances, leavers as the coverage lists them (the leavers file's order).
struct View<'a> {
    columns: Vec<Column<'a>>,
    leavers: Vec<LeaverView<'a>>,
    /// Leaver id → position in `leavers`.
    index: HashMap<&'a str, usize>,
    open: Vec<&'a Finding>,
}

impl<'a> View<'a> {
    fn new(r: &'a Report) -> View<'a> {
        let mut columns: Vec<Column<'a>> = Vec::new();
        let mut col_ix: HashMap<(&'a str, &'a str), usize> = HashMap::new();
        for s in &r.snapshot.systems {
            col_ix
                .entry((s.system.as_str(), s.instance.as_str()))
                .or_insert_with(|| {
                    columns.push(Column {
                        system: &s.system,
                        instance: &s.instance,
                        snap: Some(s),
                    });
                    columns.len() - 1
                });
        }
        let mut col = |system: &'a str, instance: &'a str| -> usize {
            *col_ix.entry((system, instance)).or_insert_with(|| {
                columns.push(Column {
                    system,
                    instance,
                    snap: None,
                });
                columns.len() - 1
            })
        };
        let mut leavers: Vec<LeaverView<'a>> = Vec::new();
        let mut lv_ix: HashMap<&'a str, usize> = HashMap::new();
        let leaver = |id: &'a str,
                      email: &'a str,
                      leavers: &mut Vec<LeaverView<'a>>,
                      lv_ix: &mut HashMap<&'a str, usize>| {
            *lv_ix.entry(id).or_insert_with(|| {
                leavers.push(LeaverView {
                    id,
                    email,
                    name: "",
                    departure: None,
                    days: None,
                    cells: Vec::new(),
                    findings: Vec::new(),
                });
                leavers.len() - 1
            })
        };
        for c in &r.evaluation.coverage {
            let li = leaver(&c.leaver_id, &c.leaver_email, &mut leavers, &mut lv_ix);
            let ci = col(&c.system, &c.system_instance);
            let cells = &mut leavers[li].cells;
            if cells.len() <= ci {
                cells.resize(ci + 1, None);
            }
            cells[ci] = Some(c);
        }
        let mut open = Vec::new();
        for f in &r.evaluation.findings {
            col(&f.system, &f.system_instance);
            let li = leaver(&f.leaver_id, &f.leaver_email, &mut leavers, &mut lv_ix);
            let l = &mut leavers[li];
            if l.name.is_empty() {
                l.name = &f.leaver_name;
            }
            l.departure.get_or_insert(f.departure_date);
            l.days.get_or_insert(f.days_since_departure);
            l.findings.push(f);
            if f.status == Status::Open {
                open.push(f);
            }
        }
        let n = columns.len();
        for l in &mut leavers {
            l.cells.resize(n, None);
            // Open before suppressed, most severe first; the evaluator's order otherwise.
            l.findings
                .sort_by_key(|f| (f.status != Status::Open, sev_rank(f.severity)));
        }
        View {
            columns,
            leavers,
            index: lv_ix,
            open,
        }
    }

    fn column_of(&self, f: &Finding) -> usize {
        self.columns
            .iter()
            .position(|c| c.system == &*f.system && c.instance == &*f.system_instance)
            .unwrap_or(0)
    }
}

/// How much of a large scan the page shows in full. Totals, charts and the banner always
/// count everything; a table past its limit shows what needs attention first and says what it
/// left out (the CSV and JSON files have every row).
#[derive(Clone, Copy)]
struct Limits {
    matrix_rows: usize,
    findings_rows: usize,
    detail_findings: usize,
    names_per_problem: usize,
}

const LIMITS: Limits = Limits {
    matrix_rows: 5_000,
    findings_rows: 3_000,
    detail_findings: 3_000,
    names_per_problem: 50,
};

/// Which leavers get a matrix row and a detail section.
struct Plan {
    rows: Vec<bool>,
    details: Vec<bool>,
}

impl Plan {
    fn new(v: &View, lim: Limits) -> Plan {
        let n = v.leavers.len();
        let mut rows = vec![n <= lim.matrix_rows; n];
        if n > lim.matrix_rows {
            // Error, ambiguous and residual rows first; file order within each.
            let mut order: Vec<usize> = (0..n).collect();
            order.sort_by_key(|&i| {
                let worst = v.leavers[i]
                    .cells
                    .iter()
                    .map(|c| c.map(|c| outcome_rank(c.outcome)).unwrap_or(0))
                    .min()
                    .unwrap_or(usize::MAX);
                (worst, i)
            });
            for &i in order.iter().take(lim.matrix_rows) {
                rows[i] = true;
            }
        }
        let with: Vec<usize> = (0..n)
            .filter(|&i| !v.leavers[i].findings.is_empty())
            .collect();
        let total: usize = with.iter().map(|&i| v.leavers[i].findings.len()).sum();
        let mut details = vec![false; n];
        if total <= lim.detail_findings {
            for &i in &with {
                details[i] = true;
            }
        } else {
            // The leavers with the most severe open findings, then the most of them.
            let mut order = with;
            order.sort_by_key(|&i| {
                let open: Vec<&&Finding> = v.leavers[i]
                    .findings
                    .iter()
                    .filter(|f| f.status == Status::Open)
                    .collect();
                let worst = open.iter().map(|f| sev_rank(f.severity)).min().unwrap_or(4);
                (worst, std::cmp::Reverse(open.len()), i)
            });
            let mut used = 0;
            for i in order {
                let k = v.leavers[i].findings.len();
                if used > 0 && used + k > lim.detail_findings {
                    break;
                }
                details[i] = true;
                used += k;
            }
        }
        Plan { rows, details }
    }

    fn has_section(&self, v: &View, leaver_id: &str) -> bool {
        v.index.get(leaver_id).is_some_and(|&i| self.details[i])
    }
}

fn abridged(b: &mut String, text: &str) -> std::fmt::Result {
    writeln!(b, "<p class=\"abridged\" role=\"note\">{text}</p>")
}

struct Totals {
    leavers: usize,
    departed: usize,
    residual_leavers: usize,
    open: usize,
    suppressed: usize,
    by_sev: [usize; 4],
    past_sla: usize,
    errors: usize,
    error_leavers: usize,
    ambiguous: usize,
    cells: usize,
    /// Leaver × system pairs without a coverage row (never expected; never clean).
    missing: usize,
}

impl Totals {
    fn new(r: &Report, v: &View) -> Totals {
        let ev = r.evaluation;
        let with = |o: Verdict| -> usize {
            v.leavers
                .iter()
                .filter(|l| l.cells.iter().flatten().any(|c| c.outcome == o))
                .count()
        };
        let rows = |o: Verdict| ev.outcomes(o);
        let mut by_sev = [0; 4];
        for f in &v.open {
            by_sev[sev_rank(f.severity)] += 1;
        }
        Totals {
            leavers: v.leavers.len(),
            departed: v
                .leavers
                .iter()
                .filter(|l| {
                    l.cells
                        .iter()
                        .flatten()
                        .any(|c| c.outcome != Verdict::NotDeparted)
                })
                .count(),
            residual_leavers: with(Verdict::Residual),
            open: v.open.len(),
            suppressed: ev
                .findings
                .iter()
                .filter(|f| f.status == Status::Suppressed)
                .count(),
            by_sev,
            past_sla: v.open.iter().filter(|f| f.sla_breached).count(),
            errors: rows(Verdict::Error),
            error_leavers: with(Verdict::Error),
            ambiguous: rows(Verdict::Ambiguous),
            cells: ev.coverage.len(),
            missing: v
                .leavers
                .iter()
                .map(|l| l.cells.iter().filter(|c| c.is_none()).count())
                .sum(),
        }
    }
}

impl Render for Page {
    fn file_name(&self) -> &'static str {
        "report.html"
    }

    fn render(&self, r: &Report) -> anyhow::Result<Vec<u8>> {
        render(r, LIMITS)
    }
}

fn render(r: &Report, lim: Limits) -> anyhow::Result<Vec<u8>> {
    let v = View::new(r);
    let plan = Plan::new(&v, lim);
    let t = Totals::new(r, &v);
    let m = r.meta;
    let mut body = String::with_capacity(64 * 1024 + r.evaluation.findings.len() * 2048);
    let b = &mut body;
    header(b, r, &v, &t)?;
    charts(b, r, &v, &t)?;
    coverage(b, &v, &plan)?;
    problems(b, r, lim)?;
    findings_table(b, r, &v, &plan, lim)?;
    leaver_details(b, &v, &plan)?;
    manifest(b, r)?;
    writeln!(
        b,
        "<footer><p>Written by residual {} for scan <code>{}</code>. This page is one file \
             of the report folder; <code>residual verify &lt;folder&gt;</code> checks it against \
             <code>manifest.json</code>. The evidence of record is <code>findings.csv</code> and \
             <code>coverage.csv</code>.</p></footer>",
        esc(&m.tool_version),
        esc(&m.scan_id)
    )?;

    let csp = format!(
        "default-src 'none'; style-src {}; script-src {}; img-src 'none'; base-uri 'none'; \
             form-action 'none'",
        csp_hash(STYLE),
        csp_hash(SCRIPT)
    );
    let mut page = String::with_capacity(body.len() + STYLE.len() + SCRIPT.len() + 1024);
    writeln!(page, "<!doctype html>")?;
    writeln!(page, "<html lang=\"en\">")?;
    writeln!(page, "<head>")?;
    writeln!(page, "<meta charset=\"utf-8\">")?;
    writeln!(
        page,
        "<meta http-equiv=\"Content-Security-Policy\" content=\"{csp}\">"
    )?;
    writeln!(page, "<meta name=\"referrer\" content=\"no-referrer\">")?;
    writeln!(
        page,
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
    )?;
    writeln!(
        page,
        "<title>residual: leaver access report, scan {} as of {}</title>",
        esc(&m.scan_id),
        day(m.as_of)
    )?;
    writeln!(page, "<style>{STYLE}</style>")?;
    writeln!(page, "</head>")?;
    writeln!(page, "<body>")?;
    writeln!(page, "<div class=\"wrap\">")?;
    page.push_str(&body);
    writeln!(page, "</div>")?;
    writeln!(page, "<script>{SCRIPT}</script>")?;
    writeln!(page, "</body>")?;
    writeln!(page, "</html>")?;
    Ok(page.into_bytes())
}

fn header(b: &mut String, r: &Report, v: &View, t: &Totals) -> anyhow::Result<()> {
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

    let bad = t.errors + t.ambiguous + t.missing;
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

fn legend(b: &mut String, x: f64, y: f64) -> std::fmt::Result {
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

fn charts(b: &mut String, r: &Report, v: &View, t: &Totals) -> anyhow::Result<()> {
    writeln!(b, "<section id=\"charts\" class=\"charts\">")?;
    severity_chart(b, v)?;
    days_chart(b, r, v, t)?;
    writeln!(b, "</section>")?;
    Ok(())
}

/// Horizontal stacked bars: one per system instance, one segment per severity, counts as text.
fn severity_chart(b: &mut String, v: &View) -> anyhow::Result<()> {
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
fn nice_step(max: f64, target: f64, steps: &[u64]) -> u64 {
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
fn days_chart(b: &mut String, r: &Report, v: &View, t: &Totals) -> anyhow::Result<()> {
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

fn coverage(b: &mut String, v: &View, plan: &Plan) -> anyhow::Result<()> {
    writeln!(b, "<section id=\"coverage-section\">")?;
    writeln!(b, "<h2>Coverage: every leaver × system instance</h2>")?;
    writeln!(
        b,
        "<p class=\"lede\">One row per leaver, one column per system instance. Each cell is the \
         outcome of checking that leaver there; <strong>error</strong> and \
         <strong>ambiguous</strong> cells were not fully checked and are never clean.</p>"
    )?;
    let mut counts = [0usize; 6];
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
fn problems(b: &mut String, r: &Report, lim: Limits) -> anyhow::Result<()> {
    let mut groups: BTreeMap<(usize, &str, &str, &str), Vec<&str>> = BTreeMap::new();
    for c in &r.evaluation.coverage {
        if matches!(c.outcome, Verdict::Error | Verdict::Ambiguous) {
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

fn used(f: &Finding) -> (&'static str, &'static str) {
    match f.used_after_departure {
        Tri::True => ("yes", "used-yes"),
        Tri::False => ("no", "used-no"),
        Tri::Unknown => ("unknown", "used-unknown"),
    }
}

fn sev_badge(s: Severity) -> String {
    format!("<span class=\"sev sev-{0}\">{0}</span>", s.as_str())
}

/// Every finding in one sortable table: most severe and oldest first.
fn findings_table(
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

fn opt_time(t: Option<OffsetDateTime>) -> String {
    t.map(rfc3339).unwrap_or_else(|| "unknown".into())
}

fn leaver_details(b: &mut String, v: &View, plan: &Plan) -> anyhow::Result<()> {
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

fn finding_rows(b: &mut String, f: &Finding) -> anyhow::Result<()> {
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

fn manifest(b: &mut String, r: &Report) -> anyhow::Result<()> {
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
            "<tr data-system=\"{}\" data-instance=\"{}\" data-status=\"{}\"><td>{} / {}</td><td>{status}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"time\">{}</td><td>{}</td><td>{}</td></tr>",
            esc(&s.system),
            esc(&s.instance),
            if s.is_complete() { "complete" } else { "error" },
            esc(&s.system),
            esc(&s.instance),
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

/// The stylesheet. Constant: no value from the report ever goes in here.
const STYLE: &str = r#"
:root{--ink:#1d2330;--muted:#5b6472;--line:#d9dee6;--bg:#f6f7f9;--card:#fff;--red:#c92a2a;--amber:#d9480f;--green:#2b8a3e}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;background:var(--bg);color:var(--ink);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
.wrap{max-width:1240px;margin:0 auto;padding:0 24px}
header{padding-top:20px;padding-bottom:4px}
.kicker{margin:0;color:var(--muted);text-transform:uppercase;letter-spacing:.08em;font-size:12px;font-weight:600}
h1{margin:2px 0 4px;font-size:26px;line-height:1.2}
h2{font-size:18px;margin:0 0 8px}
h3{font-size:16px;margin:0;display:inline}
h4{font-size:12px;margin:0 0 4px;text-transform:uppercase;letter-spacing:.05em;color:var(--muted)}
.sub{margin:0;color:var(--muted)}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace;font-size:12px;overflow-wrap:anywhere}
a{color:#1c5fb8}
.toc{display:flex;flex-wrap:wrap;gap:4px 16px;margin:10px 0 0;font-size:13px}
.banner{margin-top:14px;margin-bottom:14px;border-radius:8px;padding:12px 18px}
.banner p{margin:0}
.banner-title{font-weight:800;letter-spacing:.06em;font-size:16px}
.banner.incomplete{background:repeating-linear-gradient(135deg,#fff4e6 0 14px,#ffe8cc 14px 28px);border:3px solid var(--amber);border-left-width:12px;color:#3d1300}
.banner.incomplete .banner-title{color:#b02a0c}
.banner.complete{background:#ebfbee;border:2px solid var(--green);border-left-width:12px}
.banner.complete .banner-title{color:var(--green)}
.stats{display:grid;grid-template-columns:repeat(auto-fit,minmax(170px,1fr));gap:12px;margin-bottom:18px}
.stat{background:var(--card);border:1px solid var(--line);border-top:5px solid #adb5bd;border-radius:8px;padding:10px 14px;display:flex;flex-direction:column}
.stat .n{font-size:32px;font-weight:750;line-height:1.1}
.stat .label{font-weight:650}
.stat .sub{color:var(--muted);font-size:12px}
.stat.alert{border-top-color:var(--red)}.stat.alert .n{color:var(--red)}
.stat.warn{border-top-color:var(--amber);background:#fff8f0}.stat.warn .n{color:#b02a0c}
.stat.ok{border-top-color:var(--green)}
section{margin-bottom:26px}
.charts{display:grid;grid-template-columns:minmax(0,480fr) minmax(0,660fr);gap:16px;align-items:start}
@media (max-width:1000px){.charts{grid-template-columns:minmax(0,1fr)}}
.chart{margin:0;background:var(--card);border:1px solid var(--line);border-radius:8px;padding:14px 16px}
.chart svg{width:100%;height:auto;display:block;font-family:inherit}
figcaption{color:var(--muted);font-size:12px;margin-top:6px}
figcaption strong{color:var(--ink)}
.chart svg{fill:var(--ink)}
svg text{font-size:12px}
svg .legend{font-size:12px}
svg .axis-label{font-size:12px;font-weight:600}
svg .instance-label{font-size:11px;fill:var(--muted)}
svg .in-bar{font-size:12px;font-weight:700}
svg .total{font-size:13px;font-weight:750}
svg .breakdown{font-size:11px;fill:var(--muted)}
svg .bar-error{font-size:12px;font-weight:800;fill:#7a1f00}
svg .muted{fill:var(--muted)}
svg .tick{font-size:11px;fill:var(--muted)}
svg .count{font-size:11px;font-weight:700}
svg .axis-title{font-size:11px;fill:var(--muted)}
svg .grid{stroke:#e9ecef;stroke-width:1}
svg .axis{stroke:#868e96;stroke-width:1}
svg .sla{stroke:var(--red);stroke-width:2;stroke-dasharray:6 4}
svg .sla-label{font-size:12px;font-weight:800;fill:var(--red)}
svg .sla-past{font-size:11px;font-weight:600;fill:var(--red)}
.lede{color:var(--muted);margin:0 0 10px;max-width:900px}
.scroll{overflow-x:auto;background:var(--card);border:1px solid var(--line);border-radius:8px}
table{border-collapse:collapse;width:100%}
th,td{padding:6px 10px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
thead th{background:#eef1f5;font-size:12px;text-transform:uppercase;letter-spacing:.03em;color:#343a40;position:sticky;top:0;z-index:1}
.num{text-align:right;font-variant-numeric:tabular-nums}
.muted{color:var(--muted)}
.outcome-legend{list-style:none;display:flex;flex-wrap:wrap;gap:6px 16px;padding:0;margin:0 0 10px}
.outcome-legend .cell{display:inline-block;padding:2px 8px;border-radius:4px;min-width:0}
.controls{margin:0 0 8px}
.matrix td.cell{text-align:center;font-weight:600;font-size:12px;min-width:112px;white-space:nowrap;border-left:2px solid #fff}
.matrix th[scope=row]{white-space:nowrap;font-weight:650}
.matrix .who{display:block;font-weight:400;color:var(--muted);font-size:12px}
.matrix .k{display:block;font-weight:500;font-size:11px}
.matrix thead th{text-transform:none;letter-spacing:0;font-size:13px}
.inst{font-weight:500}
.colstate{display:inline-block;font-size:10px;font-weight:600;color:var(--green);text-transform:uppercase}
.colstate.bad{color:#fff;background:var(--amber);padding:0 4px;border-radius:3px}
.cell{-webkit-print-color-adjust:exact;print-color-adjust:exact}
.o-residual{background:var(--red);color:#fff}
.o-error{background:repeating-linear-gradient(135deg,#ffd8a8 0 5px,#fff4e6 5px 10px);color:#5c1a00;outline:2px solid var(--amber);outline-offset:-2px;text-transform:uppercase;font-weight:800!important}
.o-ambiguous{background:#fff3bf;color:#5c3c00;outline:2px dashed #f08c00;outline-offset:-3px}
.o-deprovisioned{background:#d3f9d8;color:#1b5e20}
.o-no_account{background:#f1faf3;color:#2b6a3c}
.o-not_departed{background:#f1f3f5;color:#495057;font-weight:400!important}
.sev{display:inline-block;padding:1px 8px;border-radius:10px;font-size:11px;font-weight:750;text-transform:uppercase;letter-spacing:.03em;-webkit-print-color-adjust:exact;print-color-adjust:exact}
.sev-critical{background:#a51d24;color:#fff}.sev-high{background:#e8590c;color:#fff}.sev-medium{background:#f2b705;color:#1f1600}.sev-low{background:#7b8ba1;color:#fff}
.tag{display:inline-block;font-size:10px;font-weight:700;text-transform:uppercase;border:1px solid #adb5bd;border-radius:3px;padding:0 4px;color:#495057}
.tag.past{border-color:var(--red);color:var(--red)}
.used-yes{color:var(--red)}.used-yes::before{content:"⚠ "}
.used-unknown{color:var(--muted)}
.leaver{background:var(--card);border:1px solid var(--line);border-radius:8px;margin-bottom:14px}
.leaver summary{padding:10px 14px;cursor:pointer;border-bottom:1px solid var(--line)}
.leaver-meta{display:block;color:var(--muted);font-size:13px;margin-left:18px}
.detail tbody.finding tr.head td{border-bottom:0;padding-top:10px}
.detail tbody.finding tr.body td{border-bottom:2px solid var(--line);padding-top:0}
.detail .cols{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:16px;background:#f8f9fb;border-radius:6px;padding:8px 12px}
.evidence{margin:0;padding-left:18px;font-size:12px;overflow-wrap:anywhere}
.detail p{margin:0 0 4px}
.cmd{margin:4px 0 0;padding:6px 8px;background:#1d2330;color:#f1f3f5;border-radius:4px;white-space:pre-wrap;overflow-wrap:anywhere}
.cmd code{color:inherit}
.facts{color:var(--muted);font-size:11px;margin:6px 0 0!important}
.rid{overflow-wrap:anywhere}
.rtype{font-size:12px}
.where{white-space:nowrap}
.facts-list{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;background:var(--card);border:1px solid var(--line);border-radius:8px;padding:12px 16px;margin:0 0 12px}
.facts-list dt{font-weight:650}.facts-list dd{margin:0;overflow-wrap:anywhere}
.hash{font-size:11px}
#systems ul,#problem-table ul{margin:0;padding-left:16px}
#problem-table .cell,#systems .cell{display:inline-block;padding:2px 8px;border-radius:4px}
.time{white-space:nowrap;font-size:12px}
.ok-word{color:var(--green);font-weight:650}
.abridged{background:#fff9db;border:1px solid #f08c00;border-radius:6px;padding:6px 12px;margin:0 0 10px}
button.sort{all:unset;cursor:pointer}
button.sort::after{content:" ↕";color:#adb5bd}
th[aria-sort=ascending] button.sort::after{content:" ↑";color:var(--ink)}
th[aria-sort=descending] button.sort::after{content:" ↓";color:var(--ink)}
button.sort:focus-visible{outline:2px solid #1c5fb8}
footer{color:var(--muted);font-size:12px;padding-bottom:30px}
@media print{
 @page{margin:14mm}
 body{background:#fff;color:#000;font-size:10pt}
 .wrap{max-width:none;padding:0}
 .toc,.controls,button.sort::after{display:none!important}
 thead th{position:static}
 thead{display:table-header-group}
 tr,tbody.finding,.stat,.chart,.banner,dl{break-inside:avoid}
 h2,h3,summary{break-after:avoid}
 .scroll{overflow:visible;border:0}
 .chart,.leaver,.stat,.facts-list{border-color:#999}
 .charts{grid-template-columns:minmax(0,1fr)}
 .chart svg{width:auto;height:auto;max-width:100%}
 .muted,.lede,figcaption,.stat .sub,.leaver-meta,.facts,.breakdown,.who{color:#000!important}
 .chart svg,svg .breakdown,svg .muted,svg .tick,svg .axis-title,svg .instance-label{fill:#000}
 .where{white-space:nowrap}
 .list .where{white-space:normal}
 th,td{padding:4px 6px}
 thead th{font-size:9pt}
 a{color:#000;text-decoration:none}
 .matrix td.cell{min-width:0;white-space:normal}
 details>summary{list-style:none}
 details:not([open])::details-content{content-visibility:visible;display:block}
 .banner,.stat,.o-residual,.o-error,.o-ambiguous,.o-deprovisioned,.o-no_account,.o-not_departed,.cmd,.detail .cols{-webkit-print-color-adjust:exact;print-color-adjust:exact}
 .cmd{background:#fff;color:#000;border:1px solid #999}
}
"#;

/// The script: sorting and filtering only. Constant, reads nothing but the DOM it sorts.
const SCRIPT: &str = r#"
(function () {
  'use strict';
  function key(cell) {
    var k = cell ? (cell.getAttribute('data-sort') || cell.textContent.trim()) : '';
    var n = Number(k);
    return k !== '' && !isNaN(n) ? n : k.toLowerCase();
  }
  function compare(a, b) {
    if (typeof a === 'number' && typeof b === 'number') { return a - b; }
    return String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0;
  }
  Array.prototype.forEach.call(document.querySelectorAll('table.sortable'), function (table) {
    var head = table.tHead && table.tHead.rows[0];
    if (!head) { return; }
    Array.prototype.forEach.call(head.cells, function (th, i) {
      var button = document.createElement('button');
      button.type = 'button';
      button.className = 'sort';
      while (th.firstChild) { button.appendChild(th.firstChild); }
      th.appendChild(button);
      button.addEventListener('click', function () {
        var dir = th.getAttribute('aria-sort') === 'ascending' ? -1 : 1;
        Array.prototype.forEach.call(head.cells, function (h) { h.removeAttribute('aria-sort'); });
        th.setAttribute('aria-sort', dir === 1 ? 'ascending' : 'descending');
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) { return dir * compare(key(a.cells[i]), key(b.cells[i])); });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  });
  var filter = document.getElementById('coverage-filter');
  var select = document.getElementById('coverage-filter-select');
  var count = document.getElementById('coverage-filter-count');
  var matrix = document.getElementById('coverage');
  if (filter && select && matrix) {
    filter.hidden = false;
    select.addEventListener('change', function () {
      var want = select.value;
      var shown = 0;
      Array.prototype.forEach.call(matrix.tBodies[0].rows, function (row) {
        var has = (row.getAttribute('data-outcomes') || '').split(' ');
        row.hidden = want !== '' && has.indexOf(want) < 0;
        if (!row.hidden) { shown += 1; }
      });
      count.textContent = want === '' ? '' : shown + ' of ' + matrix.tBodies[0].rows.length + ' leavers';
    });
  }
  window.addEventListener('beforeprint', function () {
    Array.prototype.forEach.call(document.querySelectorAll('details'), function (d) { d.open = true; });
    Array.prototype.forEach.call(document.querySelectorAll('tr[hidden]'), function (r) { r.hidden = false; });
    if (select) { select.value = ''; }
  });
  document.documentElement.setAttribute('data-js', 'ready');
})();
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::ScanMeta;

    fn demo_report(mutate: impl FnOnce(&mut crate::evaluate::Evaluation)) -> String {
        demo_report_with(mutate, LIMITS)
    }

    fn demo_report_with(
        mutate: impl FnOnce(&mut crate::evaluate::Evaluation),
        lim: Limits,
    ) -> String {
        let set = crate::leavers::parse(
            "demo:leavers.csv",
            crate::demo::LEAVERS_CSV.as_bytes(),
            crate::leavers::Format::Csv(b','),
        )
        .unwrap();
        let snapshot = crate::demo::estate();
        let matches = crate::correlate::correlate(&set.leavers, &snapshot);
        let catalogue = crate::catalogue::Catalogue::builtin();
        let mut ev = crate::evaluate::evaluate(&crate::evaluate::Input {
            scan_id: "s1",
            leavers: &set.leavers,
            snapshot: &snapshot,
            matches: &matches,
            catalogue: &catalogue,
            as_of: crate::demo::AS_OF,
            sla_hours: 24,
        });
        mutate(&mut ev);
        let meta = ScanMeta {
            scan_id: "s1".into(),
            tool_version: "0.0.0".into(),
            git_commit: "abc".into(),
            started_at: crate::demo::AS_OF,
            as_of: crate::demo::AS_OF,
            command_line: vec![],
            leavers_file: "l.csv".into(),
            leavers_sha256: set.sha256.clone(),
            leavers_rows: set.rows,
            leavers_count: set.leavers.len(),
            config_file: None,
            config_sha256: None,
            snapshot_source: "test".into(),
            sla_hours: 24,
            fail_on: "low".into(),
            checks_override: None,
        };
        let bytes = render(
            &Report {
                meta: &meta,
                evaluation: &ev,
                snapshot: &snapshot,
            },
            lim,
        )
        .unwrap();
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn html_escapes_hostile_values() {
        let hostile = "<script>alert(1)</script>\"onmouseover=alert(2) x='y'";
        let page = demo_report(|ev| {
            let f = &mut ev.findings[0];
            f.resource_name = hostile.into();
            f.resource_id = hostile.into();
            f.evidence.push(hostile.into());
            f.leaver_name = hostile.into();
            f.remediation = format!("Do it. Command: {hostile}");
            ev.coverage[0].detail = hostile.into();
            let last = ev.coverage.len() - 1;
            ev.coverage[last].leaver_id = hostile.into();
            ev.coverage[last].system_instance = hostile.into();
        });
        assert!(!page.contains("<script>alert"), "raw script tag in page");
        assert!(
            !page.contains("\"onmouseover"),
            "attribute breakout in page"
        );
        assert!(!page.contains("x='y'"), "single quote unescaped");
        let escaped =
            "&lt;script&gt;alert(1)&lt;/script&gt;&quot;onmouseover=alert(2) x=&#39;y&#39;";
        // Resource name, id, evidence, leaver name, remediation command, coverage detail.
        assert!(
            page.matches(escaped).count() >= 6,
            "escaped value appears {} times",
            page.matches(escaped).count()
        );
        // The only script element is ours.
        assert_eq!(page.matches("<script").count(), 1);
    }

    #[test]
    fn html_large_scans_are_abridged_and_say_so() {
        let lim = Limits {
            matrix_rows: 3,
            findings_rows: 5,
            detail_findings: 4,
            names_per_problem: 2,
        };
        let page = demo_report_with(|_| {}, lim);
        assert_eq!(page.matches("class=\"abridged\"").count(), 3, "{page}");
        // Matrix: the first three leavers needing attention (all demo leavers but E1006 have
        // an error cell), in file order.
        assert!(page.contains("data-leavers=\"9\" data-rows=\"3\""));
        assert_eq!(page.matches("<tr data-leaver=").count(), 3);
        for id in ["E1001", "E1002", "E1003"] {
            assert!(page.contains(&format!("<tr data-leaver=\"{id}\"")), "{id}");
        }
        // Findings table: the five most severe.
        assert_eq!(page.matches("<tr data-finding=").count(), 5);
        // Details: the leaver with the most critical findings only, and links only to it.
        assert_eq!(page.matches("<section class=\"leaver\"").count(), 1);
        assert!(page.contains("id=\"leaver-E1001\""));
        assert!(page.contains("href=\"#leaver-E1001\""));
        assert!(!page.contains("href=\"#leaver-E1002\""));
        // Problem groups name a few leavers and count the rest.
        assert!(page.contains("… and 6 more"), "{page}");
        // Totals still count everything.
        assert!(page.contains("data-errors=\"8\""));
    }

    #[test]
    fn html_complete_scan_says_so_and_a_gap_never_looks_clean() {
        let page = demo_report(|ev| {
            for c in &mut ev.coverage {
                if matches!(c.outcome, Verdict::Error | Verdict::Ambiguous) {
                    c.outcome = Verdict::NoAccount;
                }
            }
        });
        assert!(page.contains("data-incomplete=\"false\""));
        assert!(page.contains(">COMPLETE<"));
        assert!(!page.contains("INCOMPLETE"));
        // A leaver × system pair without a coverage row is shown and counted as incomplete.
        let page = demo_report(|ev| {
            for c in &mut ev.coverage {
                if matches!(c.outcome, Verdict::Error | Verdict::Ambiguous) {
                    c.outcome = Verdict::NoAccount;
                }
            }
            ev.coverage.remove(0);
        });
        assert!(page.contains("data-incomplete=\"true\""));
        assert!(page.contains("1 with no coverage row at all"));
        assert_eq!(page.matches("data-outcome=\"missing\"").count(), 1);
    }

    #[test]
    fn html_ids_are_safe_and_distinct() {
        assert_eq!(slug("E1001"), "E1001");
        assert_eq!(slug("a b"), "a_20b");
        assert_ne!(slug("a_20b"), slug("a b"));
        assert_eq!(slug("\"><x"), "_22_3e_3cx");
    }

    #[test]
    fn html_is_stable_and_self_contained() {
        let a = demo_report(|_| {});
        let b = demo_report(|_| {});
        assert_eq!(a, b);
        // Nothing that fetches: no source or link attribute, no stylesheet import, every
        // `url(` an in-page reference. (URLs may appear as text: escaped, never links.)
        for bad in [
            " src=",
            " srcset=",
            "href=\"http",
            "href=\"//",
            "@import",
            "<link",
            "<img",
            "<iframe",
            "<object",
            "<embed",
            " style=",
        ] {
            assert!(!a.contains(bad), "{bad} in page");
        }
        assert_eq!(a.matches("url(").count(), a.matches("url(#").count());
        assert_eq!(a.matches("href=\"").count(), a.matches("href=\"#").count());
        assert!(a.contains("INCOMPLETE SCAN"));
        assert!(!a.contains("class=\"abridged\""), "the demo is small");
    }

    #[test]
    fn html_csp_hashes_match_the_inline_text() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foob"), "Zm9vYg==");
        let page = demo_report(|_| {});
        assert!(page.contains(&format!("<style>{STYLE}</style>")));
        assert!(page.contains(&format!("<script>{SCRIPT}</script>")));
        assert!(page.contains(&csp_hash(STYLE)));
    }
}
