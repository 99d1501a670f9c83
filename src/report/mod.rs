//! The report folder (docs/reports.md). Each format is a [`Render`] that turns the [`Report`] into the
//! bytes of one file; this module writes each file atomically (temp file, then rename) and
//! writes `manifest.json` last, with the sha256 of every other file. A folder without a
//! manifest, or whose manifest says `complete: false`, is not a finished report.
//!
//! Every text value passes through the redaction filter on its way out: the estate holds no
//! secrets by design, and this is the second lock on that door.

pub mod csv;
pub mod html;
pub mod json;
pub mod markdown;
pub mod ocsf;
pub mod sign;

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use residual_probe::Snapshot;
use serde::Serialize;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::evaluate::Evaluation;

pub const SCHEMA_VERSION: u32 = 1;

pub use residual_probe::rfc3339;

/// Everything a report is made of.
pub struct Report<'a> {
    pub meta: &'a ScanMeta,
    pub evaluation: &'a Evaluation,
    pub snapshot: &'a Snapshot,
}

/// Facts about the scan itself, for the manifest and the summaries.
#[derive(Debug, Clone, Serialize)]
pub struct ScanMeta {
    pub scan_id: String,
    pub tool_version: String,
    pub git_commit: String,
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub as_of: OffsetDateTime,
    pub command_line: Vec<String>,
    pub leavers_file: String,
    pub leavers_sha256: String,
    pub leavers_rows: usize,
    pub leavers_count: usize,
    pub config_file: Option<String>,
    pub config_sha256: Option<String>,
    /// `collected` or the snapshot file re-evaluated.
    pub snapshot_source: String,
    pub sla_hours: u32,
    pub fail_on: String,
    /// `--checks FILE` and its sha256: check metadata the user changed.
    pub checks_override: Option<(String, String)>,
}

/// One output file's renderer.
pub trait Render {
    fn file_name(&self) -> &'static str;
    fn render(&self, report: &Report) -> anyhow::Result<Vec<u8>>;
}

/// Output formats by `--format` name; `csv` is two files.
pub fn renderers(formats: &[String], csv_bom: bool) -> anyhow::Result<Vec<Box<dyn Render>>> {
    let mut out: Vec<Box<dyn Render>> = Vec::new();
    for f in formats {
        match f.as_str() {
            "csv" => {
                out.push(Box::new(csv::FindingsCsv { bom: csv_bom }));
                out.push(Box::new(csv::CoverageCsv { bom: csv_bom }));
            }
            "json" => out.push(Box::new(json::FindingsJson)),
            "md" => out.push(Box::new(markdown::Summary)),
            "html" => out.push(Box::new(html::Page)),
            "ocsf" => out.push(Box::new(ocsf::Events)),
            other => anyhow::bail!("unknown format {other:?}"),
        }
    }
    Ok(out)
}

pub const BUILT_FORMATS: &[&str] = &["csv", "json", "ocsf", "html", "md"];

/// Write `bytes` to `dir/name` through a temp file and a rename, so a reader never sees half
/// a file. Returns the sha256.
pub fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> anyhow::Result<String> {
    let tmp = dir.join(format!(".{name}.tmp"));
    let dest = dir.join(name);
    {
        let mut f =
            std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, &dest).with_context(|| format!("renaming to {}", dest.display()))?;
    Ok(hex::encode(Sha256::digest(bytes)))
}

#[derive(Debug, Serialize)]
struct SystemFacts<'a> {
    system: &'a str,
    instance: &'a str,
    status: &'static str,
    error: Option<String>,
    authenticated_as: Option<&'a str>,
    #[serde(with = "time::serde::rfc3339::option")]
    observed_at: Option<OffsetDateTime>,
    accounts_enumerated: u64,
    requests: u64,
    gaps: Vec<String>,
    notes: &'a [String],
}

/// Write every file of the report, then the manifest. Returns the folder.
pub fn write_folder(
    dir: &Path,
    report: &Report,
    renderers: &[Box<dyn Render>],
    exit_code: i32,
    sign_key: Option<&ed25519_dalek::SigningKey>,
) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut files = std::collections::BTreeMap::new();
    for r in renderers {
        let bytes = r.render(report)?;
        files.insert(
            r.file_name().to_string(),
            write_atomic(dir, r.file_name(), &bytes)?,
        );
    }
    let snap = serde_json::to_vec_pretty(report.snapshot)?;
    files.insert(
        "snapshot.json".into(),
        write_atomic(dir, "snapshot.json", &snap)?,
    );

    let m = report.meta;
    let systems: Vec<SystemFacts> = report
        .snapshot
        .systems
        .iter()
        .map(|s| SystemFacts {
            system: &s.system,
            instance: &s.instance,
            status: if s.is_complete() {
                "complete"
            } else {
                "failed"
            },
            error: match &s.status {
                residual_probe::CollectStatus::Failed { error } => Some(error.to_string()),
                _ => None,
            },
            authenticated_as: s.authenticated_as.as_deref(),
            observed_at: s.observed_at,
            accounts_enumerated: s.accounts_enumerated,
            requests: s.requests,
            gaps: s
                .gaps
                .iter()
                .map(|g| {
                    format!(
                        "{}{}: {}",
                        g.what,
                        g.account_id
                            .as_ref()
                            .map(|a| format!(" ({a})"))
                            .unwrap_or_default(),
                        g.error
                    )
                })
                .collect(),
            notes: &s.notes,
        })
        .collect();
    let ev = report.evaluation;
    let count = |o: crate::evaluate::Verdict| ev.outcomes(o);
    use crate::evaluate::Verdict::*;
    let manifest = serde_json::json!({
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "residual", "version": m.tool_version, "git_commit": m.git_commit},
        "scan_id": m.scan_id,
        "complete": true,
        "scan_incomplete": ev.incomplete(),
        "exit_code": exit_code,
        "started_at": rfc3339(m.started_at),
        "finished_at": rfc3339(OffsetDateTime::now_utc()),
        "as_of": rfc3339(m.as_of),
        "command_line": m.command_line.iter().map(|a| residual_probe::redact::redact(a)).collect::<Vec<_>>(),
        "leavers": {"file": m.leavers_file, "sha256": m.leavers_sha256, "rows": m.leavers_rows, "leavers": m.leavers_count},
        "config": {"file": m.config_file, "sha256": m.config_sha256},
        "snapshot_source": m.snapshot_source,
        "sla_hours": m.sla_hours,
        "checks_override": m.checks_override.as_ref().map(|(f, h)| serde_json::json!({"file": f, "sha256": h})),
        "fail_on": m.fail_on,
        "systems": systems,
        "suppressions": ev.suppression_notes,
        "baseline": {"resolved": ev.resolved.len(), "new": ev.findings.iter().filter(|f| f.baseline == Some("new")).count(), "persisting": ev.findings.iter().filter(|f| f.baseline == Some("persisting")).count()},
        "totals": {
            "findings": ev.findings.len(),
            "coverage_rows": ev.coverage.len(),
            "residual": count(Residual), "deprovisioned": count(Deprovisioned),
            "no_account": count(NoAccount), "ambiguous": count(Ambiguous),
            "error": count(Error), "not_departed": count(NotDeparted),
        },
        "files": files,
    });
    let text = residual_probe::redact::redact(&serde_json::to_string_pretty(&manifest)?);
    // The signature is written before the manifest it covers, so a folder with a manifest is
    // never missing its signature.
    if let Some(k) = sign_key {
        write_atomic(
            dir,
            "manifest.sig",
            sign::sign(k, text.as_bytes()).as_bytes(),
        )?;
    }
    write_atomic(dir, "manifest.json", text.as_bytes())?;
    Ok(dir.to_path_buf())
}

/// Check a report folder against its manifest: every listed file present with the same sha256,
/// and no file the manifest does not list. Returns the problems found, empty when intact.
pub fn verify(dir: &Path) -> anyhow::Result<Vec<String>> {
    let text = std::fs::read(dir.join("manifest.json"))
        .with_context(|| format!("no manifest.json in {}", dir.display()))?;
    let manifest: serde_json::Value =
        serde_json::from_slice(&text).context("manifest.json is not JSON")?;
    let files = manifest
        .get("files")
        .and_then(|f| f.as_object())
        .context("manifest.json has no files table")?;
    let mut problems = Vec::new();
    if manifest.get("complete").and_then(|c| c.as_bool()) != Some(true) {
        problems.push("manifest does not mark the report complete".to_string());
    }
    for (name, want) in files {
        if name.contains('/') || name.contains("..") {
            problems.push(format!("{name}: unsafe file name in manifest"));
            continue;
        }
        match std::fs::read(dir.join(name)) {
            Ok(bytes) => {
                let got = hex::encode(Sha256::digest(&bytes));
                if Some(got.as_str()) != want.as_str() {
                    problems.push(format!(
                        "{name}: changed (sha256 {got}, manifest says {})",
                        want.as_str().unwrap_or("?")
                    ));
                }
            }
            Err(_) => problems.push(format!("{name}: missing")),
        }
    }
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name().to_string_lossy().to_string();
        if name != "manifest.json" && name != "manifest.sig" && !files.contains_key(&name) {
            problems.push(format!("{name}: extra file not in the manifest"));
        }
    }
    problems.sort();
    Ok(problems)
}
