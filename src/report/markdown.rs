//! `summary.md`: a short summary to paste into a ticket — totals, then one line per finding
//! at high severity or above, then what could not be checked.

use std::fmt::Write;

use super::{Render, Report};
use crate::catalogue::Severity;
use crate::evaluate::Verdict;

pub struct Summary;

/// An estate value in Markdown: it must not break the table, inject markup (`<img onerror>`
/// runs when the Markdown is rendered), make a link, or carry control characters.
fn cell(s: &str) -> String {
    let s = residual_probe::redact::redact(s).replace(['\n', '\r'], " ");
    let s = residual_probe::text::printable(&s).into_owned();
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            // Emphasis, code, links (`[…](…)` needs the brackets) and table cells.
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '~' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

impl Render for Summary {
    fn file_name(&self) -> &'static str {
        "summary.md"
    }
    fn render(&self, r: &Report) -> anyhow::Result<Vec<u8>> {
        let ev = r.evaluation;
        let m = r.meta;
        let mut s = String::new();
        writeln!(s, "# residual scan {}", m.scan_id)?;
        writeln!(s)?;
        let departed: std::collections::BTreeSet<&str> = ev
            .coverage
            .iter()
            .filter(|c| c.outcome != Verdict::NotDeparted)
            .map(|c| &*c.leaver_id)
            .collect();
        let residual: std::collections::BTreeSet<&str> = ev
            .coverage
            .iter()
            .filter(|c| c.outcome == Verdict::Residual)
            .map(|c| &*c.leaver_id)
            .collect();
        // Open findings only: suppressed ones are listed under Suppressions.
        let sev = |x: Severity| ev.open(x);
        let not_departed = m.leavers_count.saturating_sub(departed.len());
        writeln!(s, "As of {}: {} leavers checked across {} system instance(s){}; **{} with residual access**.", super::rfc3339(m.as_of), departed.len(), r.snapshot.systems.len(), if not_departed > 0 { format!(" ({not_departed} more not yet departed)") } else { String::new() }, residual.len())?;
        writeln!(s)?;
        writeln!(
            s,
            "| critical | high | medium | low | errors | ambiguous | unverified |"
        )?;
        writeln!(s, "|---:|---:|---:|---:|---:|---:|---:|")?;
        let oc = |o: Verdict| ev.outcomes(o);
        writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} |",
            sev(Severity::Critical),
            sev(Severity::High),
            sev(Severity::Medium),
            sev(Severity::Low),
            oc(Verdict::Error),
            oc(Verdict::Ambiguous),
            oc(Verdict::Unverified)
        )?;
        writeln!(s)?;
        let top: Vec<_> = ev
            .findings
            .iter()
            .filter(|f| f.severity >= Severity::High)
            .collect();
        if !top.is_empty() {
            writeln!(s, "## Critical and high findings")?;
            writeln!(s)?;
            writeln!(
                s,
                "| severity | leaver | system | check | resource | used after departure |"
            )?;
            writeln!(s, "|---|---|---|---|---|---|")?;
            for f in top {
                writeln!(
                    s,
                    "| {} | {} | {}/{} | `{}` | {} | {} |",
                    f.severity.as_str(),
                    cell(&f.leaver_id),
                    cell(&f.system),
                    cell(&f.system_instance),
                    f.check_id,
                    cell(&f.resource_id),
                    f.used_after_departure.as_str()
                )?;
            }
            writeln!(s)?;
        }
        let problems: Vec<_> = ev
            .coverage
            .iter()
            .filter(|c| c.outcome.incomplete())
            .collect();
        if !problems.is_empty() {
            writeln!(s, "## Not fully checked")?;
            writeln!(s)?;
            for c in problems {
                writeln!(
                    s,
                    "- **{}** {}/{}: {} — {}",
                    c.outcome.as_str(),
                    cell(&c.system),
                    cell(&c.system_instance),
                    cell(&c.leaver_id),
                    cell(&c.detail)
                )?;
            }
            writeln!(s)?;
        }
        let new = ev
            .findings
            .iter()
            .filter(|f| f.baseline == Some("new"))
            .count();
        let persisting = ev
            .findings
            .iter()
            .filter(|f| f.baseline == Some("persisting"))
            .count();
        if new + persisting + ev.resolved.len() > 0 {
            writeln!(s, "## Since the baseline")?;
            writeln!(s)?;
            writeln!(
                s,
                "{new} new, {persisting} persisting, {} resolved{}.",
                ev.resolved.len(),
                crate::baseline::time_to_close(&ev.resolved)
                    .map(|t| format!(" ({t})"))
                    .unwrap_or_default()
            )?;
            writeln!(s)?;
            for c in &ev.closed_leavers {
                writeln!(
                    s,
                    "- all paths closed for {} at {}: {} h after departure, {} the {} h SLA",
                    cell(&c.leaver_email),
                    residual_probe::rfc3339(c.closed_at),
                    c.hours_after_departure,
                    if c.within_sla { "within" } else { "past" },
                    c.sla_hours
                )?;
            }
            if !ev.closed_leavers.is_empty() {
                let within = ev.closed_leavers.iter().filter(|c| c.within_sla).count();
                writeln!(
                    s,
                    "\nSLA: {within} of {} leaver(s) fully closed since the baseline were closed within {} h of departure.",
                    ev.closed_leavers.len(),
                    ev.closed_leavers[0].sla_hours
                )?;
                writeln!(s)?;
            }
        }
        if !ev.suppression_notes.is_empty() {
            writeln!(s, "## Suppressions")?;
            writeln!(s)?;
            for n in &ev.suppression_notes {
                writeln!(s, "- {}", cell(n))?;
            }
            writeln!(s)?;
        }
        writeln!(
            s,
            "Evidence: `findings.csv`, `coverage.csv`; integrity: `residual verify <this folder>`."
        )?;
        Ok(s.into_bytes())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn cells_cannot_inject_markup_links_or_escapes() {
        let c = super::cell("<img src=x onerror=alert(1)> [x](javascript:y) a|b \u{1b}[2J");
        assert!(!c.contains('<') && !c.contains('>'), "{c}");
        assert!(c.contains("\\[x\\](javascript:y)"), "{c}");
        assert!(c.contains("a\\|b"), "{c}");
        assert!(!c.contains('\u{1b}'), "{c}");
    }
}
