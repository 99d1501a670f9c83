//! `findings.csv` and `coverage.csv`: comma-delimited RFC 4180 with a header row, the columns
//! of docs/reports.md in order. Every text cell is made formula-injection safe (OWASP CSV Injection):
//! a cell beginning with `= + - @`, tab, CR or their full-width forms gets a leading `'`.
//! Numbers, booleans and dates are written by us and left alone.

use super::{rfc3339, Render, Report};
use crate::evaluate::Finding;

pub const FINDINGS_COLUMNS: &[&str] = &[
    "scan_id",
    "finding_id",
    "status",
    "severity",
    "check_id",
    "title",
    "leaver_id",
    "leaver_email",
    "leaver_name",
    "departure_date",
    "days_since_departure",
    "sla_breached",
    "system",
    "system_instance",
    "resource_type",
    "resource_id",
    "resource_name",
    "match_rule",
    "match_confidence",
    "created_at",
    "last_used_at",
    "used_after_departure",
    "evidence",
    "owasp_nhi",
    "nist_csf",
    "other_controls",
    "remediation",
    "observed_at",
];

pub const COVERAGE_COLUMNS: &[&str] = &[
    "scan_id",
    "leaver_id",
    "leaver_email",
    "system",
    "system_instance",
    "outcome",
    "accounts_matched",
    "open_findings",
    "detail",
];

/// Make a text cell safe to open in a spreadsheet, and free of secrets.
pub fn text_cell(s: &str) -> String {
    let s = residual_probe::redact::redact(s);
    let first = s.chars().next();
    match first {
        Some('=' | '+' | '-' | '@' | '\t' | '\r' | '＝' | '＋' | '－' | '＠') => {
            format!("'{s}")
        }
        _ => s,
    }
}

fn opt_time(t: Option<time::OffsetDateTime>) -> String {
    t.map(rfc3339).unwrap_or_default()
}

pub fn finding_record(f: &Finding) -> Vec<String> {
    let t = text_cell;
    vec![
        t(&f.scan_id),
        t(&f.finding_id),
        f.status.as_str().into(),
        f.severity.as_str().into(),
        t(&f.check_id),
        t(&f.title),
        t(&f.leaver_id),
        t(&f.leaver_email),
        t(&f.leaver_name),
        rfc3339(f.departure_date),
        f.days_since_departure.to_string(),
        f.sla_breached.to_string(),
        t(&f.system),
        t(&f.system_instance),
        t(&f.resource_type),
        t(&f.resource_id),
        t(&f.resource_name),
        t(&f.match_rule),
        f.match_confidence.as_str().into(),
        opt_time(f.created_at),
        opt_time(f.last_used_at),
        f.used_after_departure.as_str().into(),
        t(&f.evidence.join(";")),
        t(&f.owasp_nhi.join(";")),
        t(&f.nist_csf.join(";")),
        t(&f.other_controls.join(";")),
        t(&f.remediation),
        rfc3339(f.observed_at),
    ]
}

fn write(
    header: &[&str],
    rows: impl Iterator<Item = Vec<String>>,
    bom: bool,
) -> anyhow::Result<Vec<u8>> {
    let start: Vec<u8> = if bom {
        b"\xEF\xBB\xBF".to_vec()
    } else {
        Vec::new()
    };
    let mut w = ::csv::WriterBuilder::new()
        .terminator(::csv::Terminator::CRLF)
        .from_writer(start);
    w.write_record(header)?;
    for r in rows {
        w.write_record(&r)?;
    }
    Ok(w.into_inner()?)
}

pub struct FindingsCsv {
    pub bom: bool,
}
impl Render for FindingsCsv {
    fn file_name(&self) -> &'static str {
        "findings.csv"
    }
    fn render(&self, r: &Report) -> anyhow::Result<Vec<u8>> {
        write(
            FINDINGS_COLUMNS,
            r.evaluation.findings.iter().map(finding_record),
            self.bom,
        )
    }
}

pub struct CoverageCsv {
    pub bom: bool,
}
impl Render for CoverageCsv {
    fn file_name(&self) -> &'static str {
        "coverage.csv"
    }
    fn render(&self, r: &Report) -> anyhow::Result<Vec<u8>> {
        let t = text_cell;
        write(
            COVERAGE_COLUMNS,
            r.evaluation.coverage.iter().map(|c| {
                vec![
                    t(&c.scan_id),
                    t(&c.leaver_id),
                    t(&c.leaver_email),
                    t(&c.system),
                    t(&c.system_instance),
                    c.outcome.as_str().into(),
                    c.accounts_matched.to_string(),
                    c.open_findings.to_string(),
                    t(&c.detail),
                ]
            }),
            self.bom,
        )
    }
}

#[cfg(test)]
mod tests {
    /// docs/reports.md documents every column of both CSV files.
    #[test]
    fn docs_reports_md_documents_every_column() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/reports.md");
        let doc = std::fs::read_to_string(path).unwrap();
        for c in super::FINDINGS_COLUMNS
            .iter()
            .chain(super::COVERAGE_COLUMNS)
        {
            assert!(
                doc.contains(&format!("`{c}`")),
                "docs/reports.md does not document column {c}"
            );
        }
    }

    use super::text_cell;

    #[test]
    fn hostile_cells_are_defused() {
        assert_eq!(
            text_cell("=HYPERLINK(\"http://x\")"),
            "'=HYPERLINK(\"http://x\")"
        );
        assert_eq!(text_cell("+1"), "'+1");
        assert_eq!(text_cell("-cmd"), "'-cmd");
        assert_eq!(text_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(text_cell("\tx"), "'\tx");
        assert_eq!(text_cell("\rx"), "'\rx");
        assert_eq!(text_cell("＝1+1"), "'＝1+1");
        assert_eq!(text_cell("'already"), "'already");
        assert_eq!(text_cell("alice"), "alice");
    }
}
