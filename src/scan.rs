//! The `scan` and `collect` commands: load inputs, run the probes (or load a snapshot),
//! correlate, evaluate, write the report, and turn the result into an exit code.
//!
//! Inputs are validated in full before the first request: a config or leavers error exits 2
//! with nothing scanned and no report folder created.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::Context;
use residual_probe::{AccountFilter, Probe, Snapshot, SNAPSHOT_SCHEMA_VERSION};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::catalogue::{Catalogue, Severity};
use crate::cli::ScanArgs;
use crate::config::{self, Config};
use crate::correlate::{self, LeaverIndex};
use crate::evaluate::{self, Evaluation, Status};
use crate::leavers::{self, LeaverSet};
use crate::report::{self, Report, ScanMeta};
use crate::{exit, InputError};

pub const TOOL_VERSION: &str = env!("CARGO_PKG_VERSION");
pub const GIT_COMMIT: &str = env!("RESIDUAL_GIT_COMMIT");

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

pub fn parse_as_of(s: &str) -> Result<OffsetDateTime, InputError> {
    leavers::parse_instant(s).map_err(|m| InputError {
        file: "command line".into(),
        line: None,
        field: Some("--as-of".into()),
        message: m,
    })
}

fn check_formats(formats: &[String]) -> Result<Vec<String>, InputError> {
    let mut out = Vec::new();
    for f in formats {
        let f = f.trim().to_ascii_lowercase();
        if report::BUILT_FORMATS.contains(&f.as_str()) {
            if !out.contains(&f) {
                out.push(f);
            }
        } else {
            return Err(InputError {
                file: "command line".into(),
                line: None,
                field: Some("--format".into()),
                message: format!(
                    "unknown format {f:?}; choose from {}",
                    report::BUILT_FORMATS.join(", ")
                ),
            });
        }
    }
    Ok(out)
}

/// A new or empty folder: an earlier report is never overwritten or mixed into.
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
    if let Ok(mut entries) = std::fs::read_dir(&dir) {
        if entries.next().is_some() {
            return Err(InputError {
                file: dir.display().to_string(),
                line: None,
                field: Some("--out".into()),
                message: "folder exists and is not empty; choose a new folder".into(),
            });
        }
    }
    Ok(dir)
}

pub fn load_snapshot(path: &Path) -> Result<Snapshot, InputError> {
    let file = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| InputError {
        file: file.clone(),
        line: None,
        field: None,
        message: format!("cannot read: {e}"),
    })?;
    let snap: Snapshot = serde_json::from_slice(&bytes).map_err(|e| InputError {
        file: file.clone(),
        line: Some(e.line()),
        field: None,
        message: format!("not a residual snapshot: {e}"),
    })?;
    if snap.schema_version != SNAPSHOT_SCHEMA_VERSION {
        return Err(InputError {
            file,
            line: None,
            field: Some("schema_version".into()),
            message: format!(
                "snapshot schema {} is not supported (expected {SNAPSHOT_SCHEMA_VERSION})",
                snap.schema_version
            ),
        });
    }
    Ok(snap)
}

/// Which accounts a probe should detail: those some leaver could be, by any own-match rule.
struct Wanted<'a> {
    ix: &'a LeaverIndex,
    system: &'static str,
}

impl AccountFilter for Wanted<'_> {
    fn wants(&self, account: &residual_probe::Account) -> bool {
        self.ix.wants(self.system, account)
    }
    fn candidates(&self, system: &str) -> residual_probe::Candidates {
        self.ix.candidates(system)
    }
}

fn probes(cfg: &Config) -> Vec<Box<dyn Probe>> {
    let mut out: Vec<Box<dyn Probe>> = Vec::new();
    for a in &cfg.aws {
        out.push(Box::new(residual_aws::AwsProbe(a.clone())));
    }
    for g in &cfg.github {
        out.push(Box::new(residual_github::GithubProbe(g.clone())));
    }
    for v in &cfg.vault {
        out.push(Box::new(residual_vault::VaultProbe(v.clone())));
    }
    for s in &cfg.salesforce {
        out.push(Box::new(residual_salesforce::SalesforceProbe(s.clone())));
    }
    for s in &cfg.scim {
        out.push(Box::new(residual_scim::ScimProbe(s.clone())));
    }
    out
}

/// Run every probe concurrently. Each probe bounds its own requests by the scan concurrency.
pub fn collect(cfg: &Config, set: &LeaverSet) -> anyhow::Result<Snapshot> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let ix = LeaverIndex::new(&set.leavers);
    let probes = probes(cfg);
    let bar = progress(probes.len() as u64);
    let systems = rt.block_on(async {
        let futs = probes.iter().map(|p| {
            let ix = &ix;
            let bar = &bar;
            async move {
                let filter = Wanted { ix, system: p.system() };
                tracing::info!(system = p.system(), instance = %p.label(), "collecting");
                let s = p.collect(&filter).await;
                if let residual_probe::CollectStatus::Failed { error } = &s.status {
                    tracing::warn!(system = p.system(), instance = %s.instance, "could not read: {error}");
                }
                if let Some(b) = bar {
                    b.inc(1);
                    b.set_message(format!("{}/{}", s.system, s.instance));
                }
                s
            }
        });
        futures::future::join_all(futs).await
    });
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    Ok(Snapshot {
        schema_version: SNAPSHOT_SCHEMA_VERSION,
        tool_version: TOOL_VERSION.into(),
        collected_at: OffsetDateTime::now_utc()
            .replace_nanosecond(0)
            .unwrap_or(OffsetDateTime::now_utc()),
        systems,
    })
}

fn progress(n: u64) -> Option<indicatif::ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let b = indicatif::ProgressBar::new(n);
    b.set_style(
        indicatif::ProgressStyle::with_template("{spinner} collecting {pos}/{len} systems {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    b.enable_steady_tick(std::time::Duration::from_millis(120));
    Some(b)
}

/// The exit code for an evaluation (SPEC §2).
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

/// Evaluate a snapshot and write the report folder. Shared by `scan` and `demo`.
pub struct Outcome {
    pub evaluation: Evaluation,
    pub dir: PathBuf,
    pub code: u8,
    pub meta: ScanMeta,
}

pub struct Pipeline<'a> {
    pub set: &'a LeaverSet,
    pub leavers_file: String,
    pub snapshot: Snapshot,
    pub snapshot_source: String,
    pub as_of: OffsetDateTime,
    pub sla_hours: u32,
    pub config_file: Option<String>,
    pub config_sha256: Option<String>,
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
}

pub fn evaluate_and_report(p: Pipeline) -> anyhow::Result<Outcome> {
    let id = scan_id(p.snapshot.collected_at, p.as_of, &p.set.sha256);
    let dir = prepare_out(p.out, &id)?;
    let catalogue = &p.catalogue;
    let matches = correlate::correlate(&p.set.leavers, &p.snapshot);
    let evaluation = evaluate::evaluate(&evaluate::Input {
        scan_id: &id,
        leavers: &p.set.leavers,
        snapshot: &p.snapshot,
        matches: &matches,
        catalogue,
        as_of: p.as_of,
        sla_hours: p.sla_hours,
    });
    let mut evaluation = evaluation;
    if let Some(dir) = &p.baseline {
        crate::baseline::apply(&mut evaluation, dir, p.as_of)?;
    }
    crate::suppress::apply(&mut evaluation, &p.suppressions, p.as_of);
    for n in &evaluation.suppression_notes {
        tracing::warn!("{n}");
    }
    let code = exit_code(&evaluation, p.fail_on, p.exit_zero);
    let meta = ScanMeta {
        scan_id: id,
        tool_version: TOOL_VERSION.into(),
        git_commit: GIT_COMMIT.into(),
        started_at: p.started_at,
        as_of: p.as_of,
        command_line: p.command_line,
        leavers_file: p.leavers_file,
        leavers_sha256: p.set.sha256.clone(),
        leavers_rows: p.set.rows,
        leavers_count: p.set.leavers.len(),
        config_file: p.config_file,
        config_sha256: p.config_sha256,
        snapshot_source: p.snapshot_source,
        sla_hours: p.sla_hours,
        fail_on: p.fail_on.as_str().into(),
        checks_override: p.catalogue.overrides.clone(),
    };
    let renderers = report::renderers(&p.formats, p.csv_bom)?;
    let key = match &p.sign_key {
        Some(k) => Some(report::sign::load_signing_key(k)?),
        None => None,
    };
    report::write_folder(
        &dir,
        &Report {
            meta: &meta,
            evaluation: &evaluation,
            snapshot: &p.snapshot,
        },
        &renderers,
        code as i32,
        key.as_ref(),
    )?;
    Ok(Outcome {
        evaluation,
        dir,
        code,
        meta,
    })
}

/// The stdout summary: a few lines for people, or one JSON object with `--json`.
pub fn print_summary(o: &Outcome, snapshot_systems: usize, json: bool) {
    use crate::evaluate::Outcome as C;
    let ev = &o.evaluation;
    let count = |c: C| ev.outcomes(c);
    let sev = |s: Severity| ev.open(s);
    if json {
        let v = serde_json::json!({
            "scan_id": o.meta.scan_id,
            "as_of": report::rfc3339(o.meta.as_of),
            "report": o.dir.display().to_string(),
            "exit_code": o.code,
            "leavers": o.meta.leavers_count,
            "systems": snapshot_systems,
            "findings": {"total": ev.findings.len(), "suppressed": ev.findings.iter().filter(|f| f.status == Status::Suppressed).count(), "critical": sev(Severity::Critical), "high": sev(Severity::High), "medium": sev(Severity::Medium), "low": sev(Severity::Low)},
            "coverage": {"residual": count(C::Residual), "deprovisioned": count(C::Deprovisioned), "no_account": count(C::NoAccount), "ambiguous": count(C::Ambiguous), "error": count(C::Error), "not_departed": count(C::NotDeparted)},
        });
        println!("{v}");
        return;
    }
    println!(
        "residual scan {} as of {}",
        o.meta.scan_id,
        report::rfc3339(o.meta.as_of)
    );
    println!(
        "  leavers: {}   system instances: {}",
        o.meta.leavers_count, snapshot_systems
    );
    println!(
        "  findings: {} open (critical {}, high {}, medium {}, low {}), {} suppressed",
        ev.findings
            .iter()
            .filter(|f| f.status == Status::Open)
            .count(),
        sev(Severity::Critical),
        sev(Severity::High),
        sev(Severity::Medium),
        sev(Severity::Low),
        ev.findings
            .iter()
            .filter(|f| f.status == Status::Suppressed)
            .count()
    );
    println!(
        "  coverage: residual {}, deprovisioned {}, no_account {}, ambiguous {}, error {}, not_departed {}",
        count(C::Residual), count(C::Deprovisioned), count(C::NoAccount), count(C::Ambiguous), count(C::Error), count(C::NotDeparted)
    );
    if ev.incomplete() {
        println!("  INCOMPLETE: some leavers could not be checked (see coverage.csv, outcome error/ambiguous)");
    }
    println!("  report: {}", o.dir.display());
}

pub fn scan_command(args: ScanArgs, command_line: Vec<String>) -> anyhow::Result<u8> {
    let started_at = OffsetDateTime::now_utc();
    let formats = check_formats(&args.format)?;
    let set = leavers::load(&args.leavers, args.delimiter)?;
    // Everything the run needs is validated before the first request.
    let suppressions = match &args.suppressions {
        Some(p) => crate::suppress::load(p)?,
        None => Vec::new(),
    };
    if let Some(dir) = &args.baseline {
        crate::baseline::load(dir)?;
    }
    if let Some(k) = &args.sign_key {
        report::sign::load_signing_key(k)?;
    }
    let catalogue = match &args.checks {
        Some(p) => Catalogue::with_overrides(p)?,
        None => Catalogue::builtin(),
    };
    for w in &set.warnings {
        tracing::warn!("{w}");
    }
    let config_path = args.config.clone().or_else(|| {
        let p = PathBuf::from("residual.toml");
        p.is_file().then_some(p)
    });
    let cfg = match &config_path {
        Some(p) if args.snapshot.is_some() => config::load_offline(p)?,
        Some(p) => config::load(p)?,
        None => Config::default(),
    };
    let as_of = match &args.as_of {
        Some(s) => parse_as_of(s)?,
        None => cfg.as_of.unwrap_or(started_at),
    };
    let (snapshot, source) = match &args.snapshot {
        Some(p) => (load_snapshot(p)?, format!("file {}", p.display())),
        None => {
            if cfg.is_empty() {
                return Err(InputError {
                    file: config_path
                        .map(|p| p.display().to_string())
                        .unwrap_or_else(|| "residual.toml".into()),
                    line: None,
                    field: None,
                    message:
                        "no system to scan: add an [[aws]], [[github]], [[vault]], [[salesforce]] or [[scim]] table to the config, or pass --snapshot"
                            .into(),
                }
                .into());
            }
            (collect(&cfg, &set)?, "collected".to_string())
        }
    };
    let n = snapshot.systems.len();
    let outcome = evaluate_and_report(Pipeline {
        set: &set,
        leavers_file: args.leavers.display().to_string(),
        snapshot,
        snapshot_source: source,
        as_of,
        sla_hours: cfg.sla_hours,
        config_file: config_path.map(|p| p.display().to_string()),
        config_sha256: cfg.sha256.clone(),
        out: args.out,
        formats,
        fail_on: args.fail_on,
        exit_zero: args.exit_zero,
        started_at,
        command_line,
        baseline: args.baseline.clone(),
        suppressions,
        csv_bom: args.csv_bom,
        sign_key: args.sign_key.clone(),
        catalogue,
    })?;
    print_summary(&outcome, n, args.json);
    Ok(outcome.code)
}

pub fn collect_command(
    config_path: &Path,
    leavers_path: &Path,
    out: &Path,
    delimiter: Option<u8>,
) -> anyhow::Result<u8> {
    let set = leavers::load(leavers_path, delimiter)?;
    let cfg = config::load(config_path)?;
    if cfg.is_empty() {
        return Err(InputError {
            file: config_path.display().to_string(),
            line: None,
            field: None,
            message: "no system to scan: add an [[aws]], [[github]], [[vault]], [[salesforce]] or [[scim]] table to the config".into(),
        }
        .into());
    }
    let snap = collect(&cfg, &set)?;
    let dir = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = out
        .file_name()
        .context("--out needs a file name")?
        .to_string_lossy()
        .to_string();
    report::write_atomic(dir, &name, &serde_json::to_vec_pretty(&snap)?)?;
    let failed = snap
        .systems
        .iter()
        .any(|s| !s.is_complete() || !s.gaps.is_empty());
    println!(
        "snapshot: {} ({} system instance(s){})",
        out.display(),
        snap.systems.len(),
        if failed { ", INCOMPLETE" } else { "" }
    );
    Ok(if failed {
        exit::INCOMPLETE
    } else {
        exit::CLEAN
    })
}
