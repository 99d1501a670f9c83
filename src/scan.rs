//! The `scan` and `collect` commands: load inputs, run the probes (or load a snapshot),
//! correlate, evaluate, write the report, and turn the result into an exit code.
//!
//! Inputs are validated in full before the first request: a config or leavers error exits 2
//! with nothing scanned and no report folder created.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::Context;
use residual_probe::{AccountFilter, Snapshot, SNAPSHOT_SCHEMA_VERSION};
use time::OffsetDateTime;

use crate::catalogue::{Catalogue, Severity};
use crate::config::{self, Config};
use crate::correlate::LeaverIndex;
use crate::leavers::{self, LeaverSet};
use crate::pipeline::{self, RunOptions, TOOL_VERSION};
use crate::{exit, registry, report, InputError};

/// What `scan` was asked, as the command line gave it.
pub struct ScanInputs {
    pub leavers: PathBuf,
    pub config: Option<PathBuf>,
    pub out: Option<PathBuf>,
    pub snapshot: Option<PathBuf>,
    pub as_of: Option<String>,
    pub formats: Vec<String>,
    pub fail_on: Severity,
    pub baseline: Option<PathBuf>,
    pub suppressions: Option<PathBuf>,
    pub exit_zero: bool,
    pub json: bool,
    pub delimiter: Option<u8>,
    pub csv_bom: bool,
    pub sign_key: Option<PathBuf>,
    pub checks: Option<PathBuf>,
    pub shard: Option<String>,
    pub command_line: Vec<String>,
}

/// `--shard K/N`: shard K (from 0) of N.
pub fn parse_shard(s: &str) -> Result<(u32, u32), InputError> {
    let e = |m: String| InputError {
        file: "command line".into(),
        line: None,
        field: Some("--shard".into()),
        message: m,
    };
    let (k, n) = s.split_once('/').ok_or_else(|| {
        e(format!(
            "{s:?}: expected K/N, such as 0/4 (K counts from 0)"
        ))
    })?;
    // K may name the variable an engine puts the index in (AWS Batch array jobs:
    // `--shard AWS_BATCH_JOB_ARRAY_INDEX/4`), where no shell expands it.
    let k = k.trim();
    let named = !k.is_empty()
        && k.chars().any(|c| c.is_ascii_uppercase())
        && k.chars()
            .all(|c| c.is_ascii_uppercase() || c == '_' || c.is_ascii_digit());
    let k_text = if named {
        std::env::var(k).map_err(|_| e(format!("{s:?}: the variable {k} is not set")))?
    } else {
        k.to_string()
    };
    let k: u32 = k_text
        .trim()
        .parse()
        .map_err(|_| e(format!("{s:?}: K is not a number ({k_text:?})")))?;
    let n: u32 = n
        .trim()
        .parse()
        .map_err(|_| e(format!("{s:?}: N is not a number")))?;
    if n == 0 || n > 10_000 {
        return Err(e(format!("{s:?}: N must be 1 to 10000")));
    }
    if k >= n {
        return Err(e(format!(
            "{s:?}: K counts from 0, so it must be below N ({n})"
        )));
    }
    Ok((k, n))
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
                "snapshot schema {} is not supported (expected {SNAPSHOT_SCHEMA_VERSION}): collect it again with this version",
                snap.schema_version
            ),
        });
    }
    // A snapshot from elsewhere may hold what a scan of ours never writes.
    let mut snap = snap;
    snap.redact_in_place();
    Ok(snap)
}

/// Every check a snapshot's gaps name must be in the catalogue: a gap naming nothing known
/// would block nothing.
fn check_gaps(snap: &Snapshot, catalogue: &Catalogue, file: &str) -> Result<(), InputError> {
    for s in &snap.systems {
        for g in &s.gaps {
            for c in &g.checks {
                if catalogue.get(c).is_none_or(|ch| ch.system != s.system) {
                    return Err(InputError {
                        file: file.into(),
                        line: None,
                        field: Some("gaps.checks".into()),
                        message: format!(
                            "{}/{}: a gap names check {c:?}, which the {} catalogue does not hold",
                            s.system, s.instance, s.system
                        ),
                    });
                }
            }
        }
    }
    Ok(())
}

/// `collect --out FILE`, before any request: a new file in a folder that accepts files. An
/// existing file (an earlier snapshot is evidence) or folder is refused.
fn check_snapshot_out(out: &Path) -> Result<(), InputError> {
    let e = |m: String| InputError {
        file: out.display().to_string(),
        line: None,
        field: Some("--out".into()),
        message: m,
    };
    if std::fs::symlink_metadata(out).is_ok() {
        return Err(e("exists; choose a new file".into()));
    }
    if out.file_name().is_none() {
        return Err(e("needs a file name".into()));
    }
    let dir = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|x| e(format!("cannot create its folder: {x}")))?;
    let probe = dir.join(format!(".residual-write-check-{}", std::process::id()));
    std::fs::File::create(&probe).map_err(|x| e(format!("cannot write in its folder: {x}")))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// Which accounts a probe should detail: those some leaver could be, by any own-match rule;
/// and, with `--shard`, which units are this shard's (every unit asked about is recorded).
struct Wanted<'a> {
    ix: &'a LeaverIndex,
    system: &'static str,
    shard: Option<(u32, u32)>,
    probe: u32,
    units: &'a std::sync::Mutex<Vec<residual_probe::ShardUnit>>,
}

impl AccountFilter for Wanted<'_> {
    fn wants(&self, account: &residual_probe::Account) -> bool {
        self.ix.wants(self.system, account)
    }
    fn candidates(&self, system: &str) -> residual_probe::Candidates {
        self.ix.candidates(system)
    }
    fn owns(&self, system: &str, refs: &[residual_probe::OwnerRef]) -> bool {
        !self
            .ix
            .owner_matches(system, refs, &std::collections::HashMap::new())
            .is_empty()
    }
    fn in_shard(&self, system: &str, unit: &str) -> bool {
        let Some((index, count)) = self.shard else {
            return true;
        };
        let shard = residual_probe::shard_of(system, unit, count);
        self.units
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(residual_probe::ShardUnit {
                system: system.to_string(),
                unit: unit.to_string(),
                shard,
                probe: self.probe,
            });
        shard == index
    }
}

/// Run every probe concurrently. Each probe bounds its own requests by the scan concurrency.
pub fn collect(
    cfg: &Config,
    set: &LeaverSet,
    shard: Option<(u32, u32)>,
) -> anyhow::Result<Snapshot> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let ix = LeaverIndex::new(&set.leavers);
    let probes = &cfg.probes;
    let bar = progress(probes.len() as u64);
    let units = std::sync::Mutex::new(Vec::new());
    let systems = rt.block_on(async {
        let futs = probes.iter().enumerate().map(|(pi, p)| {
            let ix = &ix;
            let bar = &bar;
            let units = &units;
            async move {
                let filter = Wanted {
                    ix,
                    system: p.system(),
                    shard,
                    probe: pi as u32,
                    units,
                };
                // A probe that is one unit is this shard's, or not read at all.
                if !p.expands() && !filter.in_shard(p.system(), &p.label()) {
                    return Vec::new();
                }
                let started = std::time::Instant::now();
                tracing::info!(system = p.system(), instance = %p.label(), "collecting");
                let snaps = p.collect(&filter).await;
                let took = started.elapsed();
                progress_line(p.system(), &p.label(), &snaps, took);
                let snaps: Vec<(u32, residual_probe::SystemSnapshot, f64)> = snaps
                    .into_iter()
                    .map(|s| (pi as u32, s, took.as_secs_f64()))
                    .collect();
                for s in &snaps {
                    if let residual_probe::CollectStatus::Failed { error } = &s.1.status {
                        tracing::warn!(system = p.system(), instance = %s.1.instance, "could not read: {error}");
                    }
                }
                if let Some(b) = bar {
                    b.inc(1);
                    b.set_message(format!("{}/{}", p.system(), p.label()));
                }
                snaps
            }
        });
        futures::future::join_all(futs).await
    });
    // One order for a whole scan and for merged shards: config table, then instance.
    let mut systems: Vec<(u32, residual_probe::SystemSnapshot, f64)> =
        systems.into_iter().flatten().collect();
    systems.sort_by(|a, b| (a.0, &a.1.instance).cmp(&(b.0, &b.1.instance)));
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    print_instance_table(&systems);
    let shard_info = shard.map(|(index, count)| residual_probe::ShardInfo {
        index,
        count,
        key: "fnv1a64(system/unit) mod count; a unit is a config table, or one account (and the Identity Center) of an AWS organization".into(),
        config_sha256: cfg.sha256.clone().unwrap_or_default(),
        units: units.into_inner().unwrap_or_else(|e| e.into_inner()),
        probe_of: systems.iter().map(|(p, _, _)| *p).collect(),
    });
    let systems: Vec<residual_probe::SystemSnapshot> =
        systems.into_iter().map(|(_, s, _)| s).collect();
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    // Redacted once, here: the evaluation, every report file and a later replay all see the
    // same values, so a replay of the saved snapshot gives the same findings.
    let mut snap = Snapshot {
        schema_version: SNAPSHOT_SCHEMA_VERSION,
        tool_version: TOOL_VERSION.into(),
        collected_at: OffsetDateTime::now_utc()
            .replace_nanosecond(0)
            .unwrap_or(OffsetDateTime::now_utc()),
        systems,
        shard: shard_info,
    };
    snap.redact_in_place();
    Ok(snap)
}

/// For logs people follow (CI, Kubernetes): one plain line per finished config table on
/// stderr when it is not a terminal (a terminal has the progress bar).
fn progress_line(
    system: &str,
    label: &str,
    snaps: &[residual_probe::SystemSnapshot],
    took: std::time::Duration,
) {
    if std::io::stderr().is_terminal() {
        return;
    }
    let requests: u64 = snaps.iter().map(|s| s.requests).sum();
    let failed = snaps.iter().filter(|s| !s.is_complete()).count();
    eprintln!(
        "residual: collected {system}/{} ({} instance(s){}, {requests} requests, {:.1} s)",
        residual_probe::text::printable(label),
        snaps.len(),
        if failed > 0 {
            format!(", {failed} not read")
        } else {
            String::new()
        },
        took.as_secs_f64()
    );
}

/// After collecting more than one instance (unless `--quiet`), on stderr: per instance,
/// whether it was read, requests, retries, rate-limit waits and the seconds its config
/// table took.
fn print_instance_table(systems: &[(u32, residual_probe::SystemSnapshot, f64)]) {
    if systems.len() < 2 || crate::cli::QUIET.load(std::sync::atomic::Ordering::Relaxed) {
        return;
    }
    let name = |s: &residual_probe::SystemSnapshot| {
        format!(
            "{}/{}",
            s.system,
            residual_probe::text::printable(&s.instance)
        )
    };
    let w = systems
        .iter()
        .map(|(_, s, _)| name(s).chars().count())
        .max()
        .unwrap_or(8)
        .max(8);
    let mut out = format!(
        "{:<w$}  {:<8}  {:>8}  {:>7}  {:>5}  {:>7}\n",
        "INSTANCE", "STATUS", "REQUESTS", "RETRIES", "WAITS", "SECONDS"
    );
    for (_, s, secs) in systems {
        out.push_str(&format!(
            "{:<w$}  {:<8}  {:>8}  {:>7}  {:>5}  {:>7.1}\n",
            name(s),
            if s.is_complete() { "read" } else { "NOT READ" },
            s.requests,
            s.retries,
            s.rate_waits,
            secs
        ));
    }
    eprint!("{out}");
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

pub fn scan_command(args: ScanInputs) -> anyhow::Result<u8> {
    let started_at = OffsetDateTime::now_utc();
    let formats = check_formats(&args.formats)?;
    let shard = args.shard.as_deref().map(parse_shard).transpose()?;
    if shard.is_some() && args.snapshot.is_some() {
        return Err(InputError {
            file: "command line".into(),
            line: None,
            field: Some("--shard".into()),
            message:
                "--shard splits a collection; a replayed --snapshot is already whole or a shard"
                    .into(),
        }
        .into());
    }
    let t = std::time::Instant::now();
    let set = leavers::load(&args.leavers, args.delimiter)?;
    tracing::info!(
        "leavers: {} rows, {} people, loaded in {:.3} s",
        set.rows,
        set.leavers.len(),
        t.elapsed().as_secs_f64()
    );
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
    let (snapshot, source, _out_guard) = match &args.snapshot {
        Some(p) => {
            let snap = load_snapshot(p)?;
            check_gaps(&snap, &catalogue, &p.display().to_string())?;
            if args.as_of.is_none()
                && cfg.as_of.is_none()
                && started_at - snap.collected_at > time::Duration::days(1)
            {
                tracing::warn!(
                    "replaying a snapshot collected {} without --as-of: departures, days since departure and SLA breaches are counted to now, so this report differs from the original; to reproduce it, pass --as-of with the original report's as_of (in its manifest.json)",
                    report::rfc3339(snap.collected_at)
                );
            }
            let guard = pipeline::claim_out(args.out.as_deref())?;
            (snap, format!("file {}", p.display()), guard)
        }
        None => {
            let Some(path) = &config_path else {
                return Err(InputError {
                    file: "residual.toml".into(),
                    line: None,
                    field: None,
                    message: "no config: residual.toml not found in this folder; pass --config FILE (or --snapshot FILE to replay a saved scan)".into(),
                }
                .into());
            };
            if cfg.is_empty() {
                return Err(InputError {
                    file: path.display().to_string(),
                    line: None,
                    field: None,
                    message: format!(
                        "no system to scan: add an {} table to the config, or pass --snapshot",
                        registry::tables()
                    ),
                }
                .into());
            }
            // The report folder is checked (and a given --out created) before any request.
            let guard = pipeline::claim_out(args.out.as_deref())?;
            (collect(&cfg, &set, shard)?, "collected".to_string(), guard)
        }
    };
    // A shard (collected now, or a `collect --shard` snapshot replayed) carries the leavers.
    let sharded = snapshot.shard.is_some();
    let result = pipeline::run(
        &set,
        snapshot,
        RunOptions {
            leavers_file: args.leavers.display().to_string(),
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
            command_line: args.command_line,
            baseline: args.baseline,
            suppressions,
            csv_bom: args.csv_bom,
            sign_key: args.sign_key,
            catalogue,
            // A shard carries the leavers file itself: `merge` evaluates the whole again.
            leavers_copy: match sharded {
                true => Some(
                    std::fs::read(&args.leavers)
                        .with_context(|| format!("{}: cannot read", args.leavers.display()))?,
                ),
                false => None,
            },
        },
    )?;
    pipeline::print_summary(&result, args.json);
    Ok(result.code)
}

pub fn collect_command(
    config_path: &Path,
    leavers_path: &Path,
    out: &Path,
    delimiter: Option<u8>,
    shard: Option<&str>,
) -> anyhow::Result<u8> {
    let shard = shard.map(parse_shard).transpose()?;
    let set = leavers::load(leavers_path, delimiter)?;
    let cfg = config::load(config_path)?;
    check_snapshot_out(out)?;
    if cfg.is_empty() {
        return Err(InputError {
            file: config_path.display().to_string(),
            line: None,
            field: None,
            message: format!(
                "no system to scan: add an {} table to the config",
                registry::tables()
            ),
        }
        .into());
    }
    let snap = collect(&cfg, &set, shard)?;
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
    report::write_atomic(
        dir,
        &name,
        residual_probe::redact::to_json_pretty(&snap)?.as_bytes(),
    )?;
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
