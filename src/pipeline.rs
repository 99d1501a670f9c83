//! From a snapshot to a finished report: correlate, evaluate, apply baseline and
//! suppressions, write the report folder, and decide the exit code. One entry point,
//! [`run`], for `scan` (collected or replayed) and `demo`; the callers only build the
//! [`RunOptions`].
//!
//! The evaluation is a pure function of snapshot, leavers and as-of; everything after it
//! (baseline, suppressions) only annotates findings, never removes one.

use std::path::PathBuf;

use residual_probe::Snapshot;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::catalogue::{Catalogue, Severity};
use crate::correlate;
use crate::evaluate::{self, Evaluation, Status, Verdict};
use crate::exit;
use crate::leavers::LeaverSet;
use crate::report::{self, Report, ScanMeta};
use crate::InputError;

pub const TOOL_VERSION: &str = env!("CARGO_PKG_VERSION");
pub const GIT_COMMIT: &str = env!("RESIDUAL_GIT_COMMIT");

/// Everything a run needs besides the leavers and the snapshot. [`Default`] is a plain
/// scan: now, every format, fail on any open finding, the built-in catalogue.
pub struct RunOptions {
    pub leavers_file: String,
    /// `collected`, or where a replayed snapshot came from.
    pub snapshot_source: String,
    pub as_of: OffsetDateTime,
    pub sla_hours: u32,
    pub config_file: Option<String>,
    pub config_sha256: Option<String>,
    /// Report folder; default `reports/<UTC timestamp>-<scan id>/`.
    pub out: Option<PathBuf>,
    pub formats: Vec<String>,
    pub fail_on: Severity,
    pub exit_zero: bool,
    pub started_at: OffsetDateTime,
    pub command_line: Vec<String>,
    pub baseline: Option<PathBuf>,
    pub suppressions: Vec<(crate::suppress::Entry, OffsetDateTime)>,
    pub csv_bom: bool,
    pub sign_key: Option<PathBuf>,
    pub catalogue: Catalogue,
    /// A shard's report carries the leavers file (`leavers.input`) for `residual merge`.
    pub leavers_copy: Option<Vec<u8>>,
}

impl Default for RunOptions {
    fn default() -> Self {
        let now = OffsetDateTime::now_utc();
        RunOptions {
            leavers_file: String::new(),
            snapshot_source: "collected".into(),
            as_of: now,
            sla_hours: 24,
            config_file: None,
            config_sha256: None,
            out: None,
            formats: report::BUILT_FORMATS
                .iter()
                .map(|s| s.to_string())
                .collect(),
            fail_on: Severity::Low,
            exit_zero: false,
            started_at: now,
            command_line: Vec::new(),
            baseline: None,
            suppressions: Vec::new(),
            csv_bom: false,
            sign_key: None,
            catalogue: Catalogue::builtin(),
            leavers_copy: None,
        }
    }
}

/// A finished run.
pub struct RunResult {
    pub evaluation: Evaluation,
    pub dir: PathBuf,
    pub code: u8,
    pub meta: ScanMeta,
    /// System instances in the snapshot.
    pub instances: usize,
}

/// Reproducible: the same snapshot, as-of and leavers file give the same scan id, so a replay
/// with `--snapshot` produces byte-identical findings.
pub fn scan_id(
    collected_at: OffsetDateTime,
    as_of: OffsetDateTime,
    leavers_sha256: &str,
) -> String {
    let mut h = Sha256::new();
    h.update(report::rfc3339(collected_at));
    h.update([0]);
    h.update(report::rfc3339(as_of));
    h.update([0]);
    h.update(leavers_sha256);
    hex::encode(&h.finalize()[..6])
}

/// The report folder: `out`, or `reports/<UTC timestamp>-<scan id>/`, created private and
/// empty (an existing empty folder is adopted). An earlier report is never overwritten or
/// mixed into.
pub fn prepare_out(out: Option<PathBuf>, scan_id: &str) -> Result<PathBuf, InputError> {
    let dir = out.unwrap_or_else(|| {
        let ts = OffsetDateTime::now_utc();
        let stamp = format!(
            "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
            ts.year(),
            ts.month() as u8,
            ts.day(),
            ts.hour(),
            ts.minute(),
            ts.second()
        );
        PathBuf::from("reports").join(format!("{stamp}-{}", &scan_id[..8]))
    });
    report::create_folder(&dir)?;
    Ok(dir)
}

/// Removes the folder it guards when it is still empty on drop: a scan that fails before its
/// report leaves nothing behind.
pub struct EmptyDirGuard(Option<PathBuf>);

impl Drop for EmptyDirGuard {
    fn drop(&mut self) {
        if let Some(d) = &self.0 {
            // Fails (and keeps the folder) unless it is empty.
            let _ = std::fs::remove_dir(d);
        }
    }
}

/// Before any request: the report folder must be creatable and writable. A given `--out` is
/// created now (private, empty); for the default, `reports/` must accept files.
pub fn claim_out(out: Option<&std::path::Path>) -> Result<EmptyDirGuard, InputError> {
    match out {
        Some(dir) => {
            let existed = std::fs::symlink_metadata(dir).is_ok();
            report::create_folder(dir)?;
            Ok(EmptyDirGuard((!existed).then(|| dir.to_path_buf())))
        }
        None => {
            let reports = std::path::Path::new("reports");
            let e = |m: String| InputError {
                file: "reports".into(),
                line: None,
                field: Some("--out".into()),
                message: m,
            };
            std::fs::create_dir_all(reports).map_err(|x| {
                e(format!(
                    "cannot create the default report folder: {x}; pass --out DIR"
                ))
            })?;
            let probe = reports.join(format!(".residual-write-check-{}", std::process::id()));
            std::fs::File::create(&probe)
                .map_err(|x| e(format!("cannot write in reports/: {x}; pass --out DIR")))?;
            let _ = std::fs::remove_file(&probe);
            Ok(EmptyDirGuard(None))
        }
    }
}

/// The exit code for an evaluation (docs/commands.md).
pub fn exit_code(ev: &Evaluation, fail_on: Severity, exit_zero: bool) -> u8 {
    let code = if ev.incomplete() {
        exit::INCOMPLETE
    } else if ev
        .findings
        .iter()
        .any(|f| f.status == Status::Open && f.severity >= fail_on)
    {
        exit::FINDINGS
    } else {
        exit::CLEAN
    };
    if exit_zero {
        exit::CLEAN
    } else {
        code
    }
}

/// Evaluate `snapshot` for `set` and write the report folder.
pub fn run(set: &LeaverSet, snapshot: Snapshot, o: RunOptions) -> anyhow::Result<RunResult> {
    let id = scan_id(snapshot.collected_at, o.as_of, &set.sha256);
    let dir = prepare_out(o.out, &id)?;
    let t = std::time::Instant::now();
    let matches = correlate::correlate(&set.leavers, &snapshot);
    tracing::info!("correlated in {:.3} s", t.elapsed().as_secs_f64());
    let t = std::time::Instant::now();
    let mut evaluation = evaluate::evaluate(&evaluate::Input {
        scan_id: &id,
        leavers: &set.leavers,
        snapshot: &snapshot,
        matches: &matches,
        catalogue: &o.catalogue,
        as_of: o.as_of,
        sla_hours: o.sla_hours,
    });
    tracing::info!(
        "evaluated in {:.3} s: {} findings, {} coverage rows",
        t.elapsed().as_secs_f64(),
        evaluation.findings.len(),
        evaluation.coverage.len()
    );
    if let Some(dir) = &o.baseline {
        crate::baseline::apply(&mut evaluation, dir, o.as_of, o.sla_hours)?;
    }
    crate::suppress::apply(&mut evaluation, &o.suppressions, o.as_of);
    for n in &evaluation.suppression_notes {
        tracing::warn!("{n}");
    }
    let mut code = exit_code(&evaluation, o.fail_on, o.exit_zero);
    // One shard is part of a scan: never a verdict on its own (the merge gives it).
    if snapshot.shard.is_some() && !o.exit_zero {
        code = exit::INCOMPLETE;
    }
    let meta = ScanMeta {
        scan_id: id,
        tool_version: TOOL_VERSION.into(),
        git_commit: GIT_COMMIT.into(),
        started_at: o.started_at,
        as_of: o.as_of,
        command_line: o.command_line,
        leavers_file: o.leavers_file,
        leavers_sha256: set.sha256.clone(),
        leavers_rows: set.rows,
        leavers_count: set.leavers.len(),
        config_file: o.config_file,
        config_sha256: o.config_sha256,
        snapshot_source: o.snapshot_source,
        sla_hours: o.sla_hours,
        fail_on: o.fail_on.as_str().into(),
        checks_override: o.catalogue.overrides.clone(),
        formats: o.formats.clone(),
    };
    let mut renderers = report::renderers(&o.formats, o.csv_bom)?;
    if let Some(bytes) = o.leavers_copy {
        renderers.push(Box::new(report::RawFile {
            name: report::LEAVERS_COPY,
            bytes,
        }));
    }
    let key = match &o.sign_key {
        Some(k) => Some(report::sign::load_signing_key(k)?),
        None => None,
    };
    let t = std::time::Instant::now();
    report::write_folder(
        &dir,
        &Report {
            meta: &meta,
            evaluation: &evaluation,
            snapshot: &snapshot,
        },
        &renderers,
        code as i32,
        key.as_ref(),
    )?;
    tracing::info!("report written in {:.3} s", t.elapsed().as_secs_f64());
    Ok(RunResult {
        evaluation,
        dir,
        code,
        meta,
        instances: snapshot.systems.len(),
    })
}

/// The stdout summary: a few lines for people, or one JSON object with `--json`.
pub fn print_summary(o: &RunResult, json: bool) {
    use Verdict as C;
    let ev = &o.evaluation;
    let count = |c: C| ev.outcomes(c);
    let sev = |s: Severity| ev.open(s);
    let suppressed = ev
        .findings
        .iter()
        .filter(|f| f.status == Status::Suppressed)
        .count();
    if json {
        let v = serde_json::json!({
            "scan_id": o.meta.scan_id,
            "as_of": report::rfc3339(o.meta.as_of),
            "report": o.dir.display().to_string(),
            "exit_code": o.code,
            "leavers": o.meta.leavers_count,
            "systems": o.instances,
            "findings": {"total": ev.findings.len(), "suppressed": suppressed, "critical": sev(Severity::Critical), "high": sev(Severity::High), "medium": sev(Severity::Medium), "low": sev(Severity::Low)},
            "coverage": {"residual": count(C::Residual), "deprovisioned": count(C::Deprovisioned), "no_account": count(C::NoAccount), "ambiguous": count(C::Ambiguous), "error": count(C::Error), "unverified": count(C::Unverified), "not_departed": count(C::NotDeparted)},
        });
        println!("{v}");
        return;
    }
    println!(
        "residual scan {} as of {}",
        o.meta.scan_id,
        report::rfc3339(o.meta.as_of)
    );
    let not_departed = {
        let departed: std::collections::BTreeSet<&str> = ev
            .coverage
            .iter()
            .filter(|c| c.outcome != Verdict::NotDeparted)
            .map(|c| &*c.leaver_id)
            .collect();
        if ev.coverage.is_empty() {
            0
        } else {
            o.meta.leavers_count.saturating_sub(departed.len())
        }
    };
    println!(
        "  leavers: {}{}   system instances: {}",
        o.meta.leavers_count,
        if not_departed > 0 {
            format!(" ({not_departed} not yet departed)")
        } else {
            String::new()
        },
        o.instances
    );
    println!(
        "  findings: {} open (critical {}, high {}, medium {}, low {}), {suppressed} suppressed",
        ev.findings
            .iter()
            .filter(|f| f.status == Status::Open)
            .count(),
        sev(Severity::Critical),
        sev(Severity::High),
        sev(Severity::Medium),
        sev(Severity::Low),
    );
    println!(
        "  coverage: residual {}, deprovisioned {}, no_account {}, ambiguous {}, error {}, unverified {}, not_departed {}",
        count(C::Residual), count(C::Deprovisioned), count(C::NoAccount), count(C::Ambiguous), count(C::Error), count(C::Unverified), count(C::NotDeparted)
    );
    if ev.incomplete() {
        println!("  INCOMPLETE: some leavers could not be checked (see coverage.csv, outcome error, ambiguous or unverified)");
    }
    println!("  report: {}", o.dir.display());
}
