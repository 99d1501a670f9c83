//! `findings.ocsf.json`: one OCSF Detection Finding (class 2004, category Findings) per
//! finding, so a SIEM ingests the scan as events. Field choices follow the OCSF 1.1 schema:
//! severity and status ids, the finding's stable id as `finding_info.uid`, the resource, the
//! evidence, remediation, and the control mappings in `finding_info.types` and `unmapped`.

use serde_json::{json, Value};

use super::{Render, Report};
use crate::catalogue::Severity;
use crate::correlate::Confidence;
use crate::evaluate::{Finding, Status};

pub struct Events;

pub const OCSF_VERSION: &str = "1.1.0";

fn millis(t: time::OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

fn severity(s: Severity) -> (u8, &'static str) {
    match s {
        Severity::Low => (2, "Low"),
        Severity::Medium => (3, "Medium"),
        Severity::High => (4, "High"),
        Severity::Critical => (5, "Critical"),
    }
}

pub fn event(f: &Finding, r: &Report) -> Value {
    let (sev_id, sev) = severity(f.severity);
    let (status_id, status) = match f.status {
        Status::Open => (1, "New"),
        Status::Suppressed => (3, "Suppressed"),
    };
    let (conf_id, conf) = match f.match_confidence {
        Confidence::Exact => (3, "High"),
        Confidence::Probable => (2, "Medium"),
    };
    let mut types: Vec<String> = vec![f.check_id.to_string()];
    types.extend(f.owasp_nhi.iter().cloned());
    types.extend(f.nist_csf.iter().cloned());
    json!({
        "activity_id": 1,
        "activity_name": "Create",
        "category_uid": 2,
        "category_name": "Findings",
        "class_uid": 2004,
        "class_name": "Detection Finding",
        "type_uid": 200401,
        "type_name": "Detection Finding: Create",
        "severity_id": sev_id,
        "severity": sev,
        "status_id": status_id,
        "status": status,
        "confidence_id": conf_id,
        "confidence": conf,
        "time": millis(f.observed_at),
        "message": format!("{}: {} ({})", f.title, f.leaver_id, f.resource_id),
        "metadata": {
            "version": OCSF_VERSION,
            "product": {"name": "residual", "vendor_name": "residual", "version": r.meta.tool_version},
            "uid": f.finding_id,
            "event_code": &*f.check_id,
            "labels": [format!("scan:{}", r.meta.scan_id)],
        },
        "finding_info": {
            "uid": f.finding_id,
            "title": &*f.title,
            "desc": format!("Leaver {} (departed {}, {} days before the scan's as-of): {}", f.leaver_id, super::rfc3339(f.departure_date), f.days_since_departure, f.title),
            "types": types,
            "created_time": millis(f.observed_at),
        },
        "resources": [{
            "uid": f.resource_id,
            "type": f.resource_type,
            "name": f.resource_name,
            "group": {"name": format!("{}/{}", f.system, f.system_instance)},
            "labels": [&*f.system],
        }],
        "evidences": [{
            "name": "residual evidence",
            "data": {
                "evidence": f.evidence,
                "created_at": f.created_at.map(super::rfc3339),
                "last_used_at": f.last_used_at.map(super::rfc3339),
                "used_after_departure": f.used_after_departure.as_str(),
            },
        }],
        "remediation": {"desc": f.remediation},
        "unmapped": {
            "leaver": {"id": &*f.leaver_id, "email": &*f.leaver_email, "name": &*f.leaver_name, "departure_date": super::rfc3339(f.departure_date)},
            "days_since_departure": f.days_since_departure,
            "sla_breached": f.sla_breached,
            "match": {"rule": f.match_rule, "confidence": f.match_confidence.as_str()},
            "compliance": {"owasp_nhi": &*f.owasp_nhi, "nist_csf": &*f.nist_csf, "other": &*f.other_controls},
        },
    })
}

impl Render for Events {
    fn file_name(&self) -> &'static str {
        "findings.ocsf.json"
    }
    fn render(&self, r: &Report) -> anyhow::Result<Vec<u8>> {
        let events: Vec<Value> = r.evaluation.findings.iter().map(|f| event(f, r)).collect();
        Ok(residual_probe::redact::to_json_pretty(&events)?.into_bytes())
    }
}
