//! The evaluation's output model: findings (one per residual path or leftover), coverage rows
//! (one per leaver × system instance: the completeness proof) and the [`Evaluation`] that
//! holds both.

use std::sync::Arc;

use serde::Serialize;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::catalogue::Severity;
use crate::correlate::Confidence;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Tri {
    True,
    False,
    Unknown,
}

impl Tri {
    pub fn as_str(self) -> &'static str {
        match self {
            Tri::True => "true",
            Tri::False => "false",
            Tri::Unknown => "unknown",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Open,
    Suppressed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Suppressed => "suppressed",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub scan_id: Arc<str>,
    pub finding_id: String,
    pub status: Status,
    pub severity: Severity,
    pub check_id: Arc<str>,
    pub title: Arc<str>,
    pub leaver_id: Arc<str>,
    pub leaver_email: Arc<str>,
    pub leaver_name: Arc<str>,
    #[serde(with = "time::serde::rfc3339")]
    pub departure_date: OffsetDateTime,
    pub days_since_departure: i64,
    pub sla_breached: bool,
    pub system: Arc<str>,
    pub system_instance: Arc<str>,
    pub resource_type: String,
    pub resource_id: String,
    pub resource_name: String,
    pub match_rule: String,
    pub match_confidence: Confidence,
    #[serde(with = "time::serde::rfc3339::option")]
    pub created_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
    pub used_after_departure: Tri,
    pub evidence: Vec<String>,
    pub owasp_nhi: Arc<[String]>,
    pub nist_csf: Arc<[String]>,
    pub other_controls: Arc<[String]>,
    pub remediation: String,
    /// The remediation's commands, filled and shell-quoted, in the order to run them (the
    /// revocation plan's steps). JSON only: the CSV keeps them in `remediation`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub commands: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub observed_at: OffsetDateTime,
    /// Why the finding is muted (`--suppressions`): reason, approver, expiry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suppression: Option<String>,
    /// `new` or `persisting` against `--baseline`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline: Option<&'static str>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub first_seen: Option<OffsetDateTime>,
    /// A working path (coverage `residual`) rather than a leftover.
    #[serde(skip)]
    pub path: bool,
    /// Why the severity was assumed rather than decided: something that decides the
    /// escalation was not read (a severity gap).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity_assumed: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Residual,
    Deprovisioned,
    NoAccount,
    Ambiguous,
    Error,
    /// The system records nothing the leaver's row could be compared with: not checked.
    Unverified,
    NotDeparted,
}

impl Verdict {
    /// The row could not be checked, or needs a person: the scan is incomplete.
    pub fn incomplete(self) -> bool {
        matches!(
            self,
            Verdict::Error | Verdict::Ambiguous | Verdict::Unverified
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Residual => "residual",
            Verdict::Deprovisioned => "deprovisioned",
            Verdict::NoAccount => "no_account",
            Verdict::Ambiguous => "ambiguous",
            Verdict::Error => "error",
            Verdict::Unverified => "unverified",
            Verdict::NotDeparted => "not_departed",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct CoverageRow {
    pub scan_id: Arc<str>,
    pub leaver_id: Arc<str>,
    pub leaver_email: Arc<str>,
    pub system: Arc<str>,
    pub system_instance: Arc<str>,
    pub outcome: Verdict,
    pub accounts_matched: u32,
    pub open_findings: u32,
    /// Shared where many rows say the same (`no account among N enumerated`).
    pub detail: Arc<str>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Evaluation {
    pub findings: Vec<Finding>,
    pub coverage: Vec<CoverageRow>,
    /// Findings of the baseline report that are gone (with `--baseline`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub resolved: Vec<serde_json::Value>,
    /// Baseline findings whose leaver × instance could not be checked this time: not
    /// resolved, just not seen.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unverified: Vec<serde_json::Value>,
    /// What the suppressions file did: used, expired and unused entries.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub suppression_notes: Vec<String>,
    /// Leavers with access at the baseline and none now, every system checked (with
    /// `--baseline`): proof of closure.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub closed_leavers: Vec<crate::baseline::LeaverClosed>,
}

impl Evaluation {
    /// Coverage rows with this outcome.
    pub fn outcomes(&self, o: Verdict) -> usize {
        self.coverage.iter().filter(|c| c.outcome == o).count()
    }

    /// Open (not suppressed) findings at this severity: what `--fail-on` judges.
    pub fn open(&self, s: Severity) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == s && f.status == Status::Open)
            .count()
    }

    /// Some leaver × system could not be checked (or needs a person to decide who it is).
    pub fn incomplete(&self) -> bool {
        self.coverage.iter().any(|c| c.outcome.incomplete())
            || self.findings.iter().any(|f| f.severity_assumed.is_some())
    }
}

/// A stable id: the same check, system, instance, resource and leaver give the same id in
/// every scan; two systems' instances with one label never share ids.
pub fn finding_id(
    check: &str,
    system: &str,
    instance: &str,
    resource: &str,
    leaver: &str,
) -> String {
    let mut h = Sha256::new();
    for part in [check, system, instance, resource, leaver] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    hex::encode(&h.finalize()[..8])
}
