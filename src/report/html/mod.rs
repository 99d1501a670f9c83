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

mod charts;
mod sections;
#[cfg(test)]
mod tests;
mod view;

use std::fmt::Write;

use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::{rfc3339, Render, Report};
use crate::catalogue::Severity;
use crate::evaluate::Verdict;
use charts::charts;
use sections::{closure, coverage, findings_table, header, leaver_details, manifest, problems};
use view::{Limits, Plan, Totals, View, LIMITS};

pub struct Page;

/// Most severe first: the order of legends, stacks and sorting.
const SEVERITIES: [Severity; 4] = [
    Severity::Critical,
    Severity::High,
    Severity::Medium,
    Severity::Low,
];

/// Legend order: the outcomes that need someone first.
const OUTCOMES: [Verdict; 7] = [
    Verdict::Error,
    Verdict::Unverified,
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
    closure(b, r)?;
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

/// The stylesheet (`style.css`). Constant: no value from the report ever goes in here.
const STYLE: &str = include_str!("style.css");

/// The script (`script.js`): sorting and filtering only. Constant, reads nothing but the DOM it
/// sorts.
const SCRIPT: &str = include_str!("script.js");
