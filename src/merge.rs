//! `residual merge DIR... --out DIR`: the report folders of a sharded scan (`scan --shard K/N`)
//! put back together as one report, evaluated again over the union of the shards' snapshots —
//! so cross-instance trust (a role in one account trusting a user in another shard's account)
//! is found as in an unsharded scan.
//!
//! Nothing is read before it is proven: every shard verifies (hashes, and the signature when
//! `--pubkey` is given); all must be shards of one config, one leavers file and one as-of, of
//! the same count, each index at most once, no instance twice. A shard that is missing is not
//! clean: every unit the present shards say it held becomes an instance that could not be
//! read, `error` for every leaver (exit 3).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::Context;
use residual_probe::{ProbeError, Snapshot, SystemSnapshot};

use crate::catalogue::{Catalogue, Severity};
use crate::pipeline::{self, RunOptions};
use crate::InputError;

fn refuse(dir: &Path, m: String) -> anyhow::Error {
    InputError {
        file: dir.display().to_string(),
        line: None,
        field: None,
        message: m,
    }
    .into()
}

struct Shard {
    dir: PathBuf,
    manifest: serde_json::Value,
    snapshot: Snapshot,
}

fn load(dir: &Path, pubkey: Option<&Path>) -> anyhow::Result<Shard> {
    let v = crate::report::verify(dir, pubkey, pubkey.is_some())?;
    if !v.problems.is_empty() {
        return Err(refuse(
            dir,
            format!(
                "does not verify, so it is not merged: {}",
                v.problems.join("; ")
            ),
        ));
    }
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json"))?)
            .with_context(|| format!("{}: manifest.json", dir.display()))?;
    let snapshot = crate::scan::load_snapshot(&dir.join("snapshot.json"))?;
    if snapshot.shard.is_none() {
        return Err(refuse(
            dir,
            "is not a shard (scan --shard K/N writes shards)".into(),
        ));
    }
    if !dir.join(crate::report::LEAVERS_COPY).is_file() {
        return Err(refuse(dir, "holds no copy of the leavers file".into()));
    }
    Ok(Shard {
        dir: dir.to_path_buf(),
        manifest,
        snapshot,
    })
}

fn field<'a>(m: &'a serde_json::Value, path: &[&str]) -> &'a serde_json::Value {
    let mut v = m;
    for p in path {
        v = &v[*p];
    }
    v
}

pub fn command(dirs: &[PathBuf], out: &Path, pubkey: Option<&Path>) -> anyhow::Result<u8> {
    if dirs.is_empty() {
        anyhow::bail!(refuse(Path::new("command line"), "no shard given".into()));
    }
    let shards: Vec<Shard> = dirs
        .iter()
        .map(|d| load(d, pubkey))
        .collect::<anyhow::Result<_>>()?;
    let first = &shards[0];
    let info0 = first.snapshot.shard.clone().expect("checked");
    // One scan: the same config, leavers, as-of, count and tool.
    for s in &shards[1..] {
        let info = s.snapshot.shard.as_ref().expect("checked");
        for (what, a, b) in [
            (
                "config",
                info0.config_sha256.clone(),
                info.config_sha256.clone(),
            ),
            (
                "shard count",
                info0.count.to_string(),
                info.count.to_string(),
            ),
            (
                "leavers file",
                field(&first.manifest, &["leavers", "sha256"]).to_string(),
                field(&s.manifest, &["leavers", "sha256"]).to_string(),
            ),
            (
                "as-of",
                field(&first.manifest, &["as_of"]).to_string(),
                field(&s.manifest, &["as_of"]).to_string(),
            ),
            (
                "tool version",
                first.snapshot.tool_version.clone(),
                s.snapshot.tool_version.clone(),
            ),
            (
                "SLA hours",
                field(&first.manifest, &["sla_hours"]).to_string(),
                field(&s.manifest, &["sla_hours"]).to_string(),
            ),
            (
                "--fail-on",
                field(&first.manifest, &["fail_on"]).to_string(),
                field(&s.manifest, &["fail_on"]).to_string(),
            ),
            (
                "checks override",
                field(&first.manifest, &["checks_override"]).to_string(),
                field(&s.manifest, &["checks_override"]).to_string(),
            ),
        ] {
            if a != b {
                return Err(refuse(
                    &s.dir,
                    format!(
                        "is a shard of another scan than {}: its {what} differs ({b} vs {a})",
                        first.dir.display()
                    ),
                ));
            }
        }
    }
    if !field(&first.manifest, &["checks_override"]).is_null() {
        return Err(refuse(
            &first.dir,
            "was scanned with --checks: merge evaluates with the built-in catalogue only".into(),
        ));
    }
    let mut seen: BTreeMap<u32, &Path> = BTreeMap::new();
    for s in &shards {
        let k = s.snapshot.shard.as_ref().expect("checked").index;
        if let Some(other) = seen.insert(k, &s.dir) {
            return Err(refuse(
                &s.dir,
                format!(
                    "is shard {k}/{} again (also {})",
                    info0.count,
                    other.display()
                ),
            ));
        }
    }
    // Every unit any shard knows of, and which shard holds it.
    let mut units: BTreeMap<(String, String), (u32, u32)> = BTreeMap::new();
    for s in &shards {
        for u in &s.snapshot.shard.as_ref().expect("checked").units {
            units
                .entry((u.system.clone(), u.unit.clone()))
                .or_insert((u.shard, u.probe));
        }
    }
    let missing: BTreeSet<u32> = (0..info0.count).filter(|k| !seen.contains_key(k)).collect();
    // The systems, each with its config table, once.
    let mut systems: Vec<(u32, SystemSnapshot)> = Vec::new();
    let mut instances: BTreeMap<(String, String), &Path> = BTreeMap::new();
    for s in &shards {
        let info = s.snapshot.shard.as_ref().expect("checked");
        for (i, sys) in s.snapshot.systems.iter().enumerate() {
            let key = (sys.system.clone(), sys.instance.clone());
            if let Some(other) = instances.insert(key.clone(), &s.dir) {
                return Err(refuse(
                    &s.dir,
                    format!(
                        "holds {}/{} too (also {}): shards overlap",
                        key.0,
                        key.1,
                        other.display()
                    ),
                ));
            }
            systems.push((
                info.probe_of.get(i).copied().unwrap_or(u32::MAX),
                sys.clone(),
            ));
        }
    }
    // A unit one shard says is shard k's, which shard k itself never saw (an organization
    // that changed between the shards' listings): nobody read it, so it is not clean.
    let own: BTreeMap<u32, BTreeSet<(String, String)>> = shards
        .iter()
        .map(|s| {
            let i = s.snapshot.shard.as_ref().expect("checked");
            (
                i.index,
                i.units
                    .iter()
                    .filter(|u| u.shard == i.index)
                    .map(|u| (u.system.clone(), u.unit.clone()))
                    .collect(),
            )
        })
        .collect();
    for ((system, unit), (k, probe)) in &units {
        if let Some(seen_by_k) = own.get(k) {
            if !seen_by_k.contains(&(system.clone(), unit.clone())) {
                systems.push((
                    *probe,
                    SystemSnapshot::failed(
                        system,
                        unit,
                        ProbeError::Unexpected(format!(
                            "another shard lists this unit as shard {k}/{}'s, which never saw it: not read (did the estate change between the shards?)",
                            info0.count
                        )),
                    ),
                ));
            }
        }
        if missing.contains(k) {
            let mut failed = SystemSnapshot::failed(
                system,
                unit,
                ProbeError::Unexpected(format!(
                    "shard {k}/{} is missing from the merge: this instance was not read",
                    info0.count
                )),
            );
            failed.notes.push("missing shard".into());
            systems.push((*probe, failed));
        }
    }
    systems.sort_by(|a, b| (a.0, &a.1.instance).cmp(&(b.0, &b.1.instance)));
    let collected_at = shards
        .iter()
        .map(|s| s.snapshot.collected_at)
        .max()
        .expect("one shard at least");
    let snapshot = Snapshot {
        schema_version: first.snapshot.schema_version,
        tool_version: first.snapshot.tool_version.clone(),
        collected_at,
        systems: systems.into_iter().map(|(_, s)| s).collect(),
        shard: None,
    };

    // The leavers, from the shard's own copy, which must be the file the scan read.
    let copy = first.dir.join(crate::report::LEAVERS_COPY);
    let name = field(&first.manifest, &["leavers", "file"])
        .as_str()
        .unwrap_or("leavers.csv")
        .to_string();
    let bytes = std::fs::read(&copy).with_context(|| format!("{}: cannot read", copy.display()))?;
    let format = crate::leavers::detect_format(Path::new(&name), None);
    let set = crate::leavers::parse(&name, &bytes, format)?;
    if Some(set.sha256.as_str()) != field(&first.manifest, &["leavers", "sha256"]).as_str() {
        return Err(refuse(
            &copy,
            "is not the leavers file the shard's manifest names".into(),
        ));
    }
    let as_of = crate::scan::parse_as_of(
        field(&first.manifest, &["as_of"])
            .as_str()
            .unwrap_or_default(),
    )?;
    let fail_on = Severity::parse(
        field(&first.manifest, &["fail_on"])
            .as_str()
            .unwrap_or("low"),
    )
    .unwrap_or(Severity::Low);
    let formats: Vec<String> = field(&first.manifest, &["formats"])
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|f| f.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_else(|| {
            crate::report::BUILT_FORMATS
                .iter()
                .map(|s| s.to_string())
                .collect()
        });
    let mut sources: Vec<String> = shards
        .iter()
        .map(|s| {
            let i = s.snapshot.shard.as_ref().expect("checked");
            format!("{}/{}", i.index, i.count)
        })
        .collect();
    sources.sort();
    let _guard = pipeline::claim_out(Some(out))?;
    let result = pipeline::run(
        &set,
        snapshot,
        RunOptions {
            leavers_file: name,
            snapshot_source: format!(
                "collected (merged from shards {}{})",
                sources.join(", "),
                if missing.is_empty() {
                    String::new()
                } else {
                    format!(
                        "; missing: {}",
                        missing
                            .iter()
                            .map(|k| format!("{k}/{}", info0.count))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }
            ),
            as_of,
            sla_hours: field(&first.manifest, &["sla_hours"])
                .as_u64()
                .unwrap_or(24) as u32,
            config_file: field(&first.manifest, &["config", "file"])
                .as_str()
                .map(str::to_string),
            config_sha256: field(&first.manifest, &["config", "sha256"])
                .as_str()
                .map(str::to_string),
            out: Some(out.to_path_buf()),
            formats,
            fail_on,
            exit_zero: false,
            started_at: time::OffsetDateTime::now_utc(),
            command_line: std::env::args().collect(),
            baseline: None,
            suppressions: Vec::new(),
            csv_bom: false,
            sign_key: None,
            catalogue: Catalogue::builtin(),
            leavers_copy: None,
        },
    )?;
    pipeline::print_summary(&result, false);
    Ok(result.code)
}
