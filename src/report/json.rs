//! `findings.json`: the findings and coverage with full evidence, and a `schema_version`.

use super::{Render, Report, SCHEMA_VERSION};

pub struct FindingsJson;

impl Render for FindingsJson {
    fn file_name(&self) -> &'static str {
        "findings.json"
    }
    fn render(&self, r: &Report) -> anyhow::Result<Vec<u8>> {
        let v = serde_json::json!({
            "schema_version": SCHEMA_VERSION,
            "scan_id": r.meta.scan_id,
            "as_of": super::rfc3339(r.meta.as_of),
            "findings": r.evaluation.findings,
            "coverage": r.evaluation.coverage,
            "resolved": r.evaluation.resolved,
            "unverified": r.evaluation.unverified,
            "suppressions": r.evaluation.suppression_notes,
            "closed_leavers": r.evaluation.closed_leavers,
        });
        // Each value redacted before it is serialised: the file stays valid JSON.
        Ok(residual_probe::redact::to_json_pretty(&v)?.into_bytes())
    }
}
