//! Scheduled scans (docs/reports.md, "Scheduled scans"): compare a scan with an earlier report folder. A finding whose
//! stable `finding_id` was in the baseline is `persisting` (keeping its `first_seen`); one
//! that was not is `new`; a baseline finding that is gone is `resolved`. `residual diff` prints
//! the same comparison for two existing folders.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use anyhow::Context;
use serde_json::Value;
use time::OffsetDateTime;

use crate::evaluate::Evaluation;
use crate::InputError;

/// Findings of a report folder, by id, from its `findings.json`.
pub fn load(dir: &Path) -> Result<(BTreeMap<String, Value>, Option<OffsetDateTime>), InputError> {
    let file = dir.join("findings.json");
    // One shard's report leaves out every other shard's instances: compared as a whole scan,
    // their findings would all look resolved.
    if let Ok(m) = std::fs::read(dir.join("manifest.json")) {
        if let Ok(m) = serde_json::from_slice::<Value>(&m) {
            if let Some(sh) = m.get("shard").filter(|s| !s.is_null()) {
                return Err(InputError {
                    file: dir.display().to_string(),
                    line: None,
                    field: None,
                    message: format!(
                        "is shard {}/{} of a scan, not a whole one: merge the shards first (residual merge)",
                        sh["index"], sh["count"]
                    ),
                });
            }
        }
    }
    let e = |m: String| InputError {
        file: file.display().to_string(),
        line: None,
        field: None,
        message: m,
    };
    let bytes = std::fs::read(&file).map_err(|x| {
        e(format!(
            "cannot read: {x} (is this a residual report folder?)"
        ))
    })?;
    let v: Value = serde_json::from_slice(&bytes).map_err(|x| InputError {
        file: file.display().to_string(),
        line: Some(x.line()),
        field: None,
        message: format!("not a residual findings.json: {x}"),
    })?;
    // Finding ids of another schema are computed differently: every finding would look new
    // and every old one resolved.
    let version = v.get("schema_version").and_then(Value::as_u64);
    if version != Some(u64::from(crate::report::SCHEMA_VERSION)) {
        return Err(e(format!(
            "findings.json schema {} cannot be compared with this version's (schema {}): its finding ids differ",
            version.map_or("unknown".to_string(), |v| v.to_string()),
            crate::report::SCHEMA_VERSION
        )));
    }
    let as_of = v.get("as_of").and_then(Value::as_str).and_then(|s| {
        OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
    });
    let findings = v
        .get("findings")
        .and_then(Value::as_array)
        .ok_or_else(|| e("no findings array".into()))?;
    let mut out = BTreeMap::new();
    for f in findings {
        let id = f
            .get("finding_id")
            .and_then(Value::as_str)
            .ok_or_else(|| e("a finding without finding_id".into()))?;
        out.insert(id.to_string(), f.clone());
    }
    Ok((out, as_of))
}

/// Leaver × instance pairs that were fully checked (no `error`, no `ambiguous`): only there
/// can a missing finding mean "resolved".
/// A leaver who has not departed (yet, or any more: a departure moved later) was not
/// checked either.
pub(crate) fn checked_pairs<'a>(
    rows: impl Iterator<Item = (&'a str, &'a str, &'a str, &'a str)>,
) -> HashSet<(String, String, String)> {
    rows.filter(|(_, _, _, o)| !matches!(*o, "error" | "ambiguous" | "unverified" | "not_departed"))
        .map(|(l, s, i, _)| (l.to_string(), s.to_string(), i.to_string()))
        .collect()
}

/// Leaver × system × instance of a finding: the instance label alone may repeat across
/// systems.
pub(crate) fn pair(f: &Value) -> (String, String, String) {
    (
        field(f, "leaver_id").to_string(),
        field(f, "system").to_string(),
        field(f, "system_instance").to_string(),
    )
}

/// Mark `ev`'s findings against the baseline folder; list the resolved ones, and apart from
/// them the ones only unseen because their leaver × instance could not be checked now.
pub fn apply(
    ev: &mut Evaluation,
    baseline_dir: &Path,
    as_of: OffsetDateTime,
    sla_hours: u32,
) -> Result<(), InputError> {
    let (old, old_as_of) = load(baseline_dir)?;
    let current: HashMap<&str, ()> = ev
        .findings
        .iter()
        .map(|f| (f.finding_id.as_str(), ()))
        .collect();
    let checked = checked_pairs(ev.coverage.iter().map(|c| {
        (
            &*c.leaver_id,
            &*c.system,
            &*c.system_instance,
            c.outcome.as_str(),
        )
    }));
    for (id, f) in &old {
        if current.contains_key(id.as_str()) {
            continue;
        }
        if checked.contains(&pair(f)) {
            ev.resolved.push(closed(f, old_as_of, as_of));
        } else {
            ev.unverified.push(f.clone());
        }
    }
    for f in &mut ev.findings {
        match old.get(&f.finding_id) {
            Some(prev) => {
                f.baseline = Some("persisting");
                f.first_seen = prev
                    .get("first_seen")
                    .and_then(Value::as_str)
                    .and_then(|s| {
                        OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                            .ok()
                    })
                    .or(old_as_of);
            }
            None => {
                f.baseline = Some("new");
                f.first_seen = Some(as_of);
            }
        }
    }
    let coverage: Vec<(&str, &str)> = ev
        .coverage
        .iter()
        .map(|c| (&*c.leaver_id, c.outcome.as_str()))
        .collect();
    // Still open: a finding now, or a baseline finding this scan could not check.
    let open: HashSet<&str> = ev
        .findings
        .iter()
        .map(|f| &*f.leaver_id)
        .chain(ev.unverified.iter().map(|f| field(f, "leaver_id")))
        .collect();
    ev.closed_leavers = leavers_closed(&ev.resolved, &coverage, &open, as_of, sla_hours);
    Ok(())
}

/// A baseline finding gone now: with when it was first seen, when this scan found it closed,
/// and the hours between (its time to close).
fn closed(f: &Value, old_as_of: Option<OffsetDateTime>, as_of: OffsetDateTime) -> Value {
    let mut f = f.clone();
    let first = time_of(&f, "first_seen").or(old_as_of);
    if let Some(o) = f.as_object_mut() {
        if let Some(t) = first {
            o.insert(
                "first_seen".into(),
                Value::String(residual_probe::rfc3339(t)),
            );
            o.insert(
                "time_to_close_hours".into(),
                Value::from((as_of - t).whole_hours()),
            );
        }
        o.insert(
            "closed_at".into(),
            Value::String(residual_probe::rfc3339(as_of)),
        );
    }
    f
}

/// "time to close: median 30 h, longest 52 h" over resolved findings that know it.
pub fn time_to_close(resolved: &[Value]) -> Option<String> {
    let mut h: Vec<i64> = resolved
        .iter()
        .filter_map(|f| f.get("time_to_close_hours").and_then(Value::as_i64))
        .collect();
    if h.is_empty() {
        return None;
    }
    h.sort_unstable();
    Some(format!(
        "time to close: median {} h, longest {} h",
        h[h.len() / 2],
        h[h.len() - 1]
    ))
}

fn time_of(f: &Value, k: &str) -> Option<OffsetDateTime> {
    f.get(k)
        .and_then(Value::as_str)
        .and_then(|s| OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok())
}

/// One leaver whose every path is closed: they had findings at the baseline, none now, and
/// every system instance checked them completely.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LeaverClosed {
    pub leaver_id: String,
    pub leaver_email: String,
    #[serde(with = "time::serde::rfc3339")]
    pub departure_date: OffsetDateTime,
    /// When this scan proved it (an upper bound: closure happened at or before).
    #[serde(with = "time::serde::rfc3339")]
    pub closed_at: OffsetDateTime,
    pub hours_after_departure: i64,
    pub sla_hours: u32,
    pub within_sla: bool,
}

/// Leavers among `resolved`'s with no finding now (`open`: leaver ids with one) and every
/// coverage row checked.
fn leavers_closed(
    resolved: &[Value],
    coverage: &[(&str, &str)],
    open: &HashSet<&str>,
    as_of: OffsetDateTime,
    sla_hours: u32,
) -> Vec<LeaverClosed> {
    let mut out: BTreeMap<String, LeaverClosed> = BTreeMap::new();
    for f in resolved {
        let id = field(f, "leaver_id");
        if open.contains(id) || out.contains_key(id) {
            continue;
        }
        let rows: Vec<&str> = coverage
            .iter()
            .filter(|(l, _)| *l == id)
            .map(|(_, o)| *o)
            .collect();
        let all_checked = !rows.is_empty()
            && rows
                .iter()
                .all(|o| !matches!(*o, "error" | "ambiguous" | "unverified" | "not_departed"));
        let Some(departure) = time_of(f, "departure_date") else {
            continue;
        };
        if all_checked {
            let hours = (as_of - departure).whole_hours();
            out.insert(
                id.to_string(),
                LeaverClosed {
                    leaver_id: id.to_string(),
                    leaver_email: field(f, "leaver_email").to_string(),
                    departure_date: departure,
                    closed_at: as_of,
                    hours_after_departure: hours,
                    sla_hours,
                    within_sla: hours <= i64::from(sla_hours),
                },
            );
        }
    }
    out.into_values().collect()
}

fn field<'v>(f: &'v Value, k: &str) -> &'v str {
    f.get(k).and_then(Value::as_str).unwrap_or("")
}

/// `residual diff OLD NEW`: new, resolved and persisting findings.
pub fn diff_command(old: &Path, new: &Path, json: bool) -> anyhow::Result<u8> {
    let (a, _) = load(old).context("old report")?;
    let (b, _) = load(new).context("new report")?;
    let new_json: Value = serde_json::from_slice(&std::fs::read(new.join("findings.json"))?)?;
    let cov: Vec<(String, String, String, String)> = new_json
        .get("coverage")
        .and_then(Value::as_array)
        .map(|rows| {
            rows.iter()
                .map(|c| {
                    (
                        field(c, "leaver_id").to_string(),
                        field(c, "system").to_string(),
                        field(c, "system_instance").to_string(),
                        field(c, "outcome").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let checked = checked_pairs(
        cov.iter()
            .map(|(l, s, i, o)| (l.as_str(), s.as_str(), i.as_str(), o.as_str())),
    );
    let mut rows: Vec<(&str, &Value)> = Vec::new();
    for (id, f) in &b {
        rows.push((
            if a.contains_key(id) {
                "persisting"
            } else {
                "new"
            },
            f,
        ));
    }
    for (id, f) in &a {
        if !b.contains_key(id) {
            // Gone only because it could not be checked now: not resolved.
            rows.push((
                if checked.contains(&pair(f)) {
                    "resolved"
                } else {
                    "unverified"
                },
                f,
            ));
        }
    }
    rows.sort_by(|x, y| {
        (x.0, field(x.1, "leaver_id"), field(x.1, "check_id")).cmp(&(
            y.0,
            field(y.1, "leaver_id"),
            field(y.1, "check_id"),
        ))
    });
    // Time to close: first seen (the old report's own `first_seen`, else its scan time) to
    // the new scan that no longer finds it.
    let (_, old_as_of) = load(old)?;
    let new_as_of = time_of(&new_json, "as_of");
    let sla_hours = std::fs::read(new.join("manifest.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .and_then(|m| m.get("sla_hours").and_then(Value::as_u64))
        .unwrap_or(24) as u32;
    let closed_rows: Vec<Value> = match new_as_of {
        Some(t) => rows
            .iter()
            .filter(|r| r.0 == "resolved")
            .map(|r| closed(r.1, old_as_of, t))
            .collect(),
        None => Vec::new(),
    };
    let hours = |id: &str| -> Option<i64> {
        closed_rows
            .iter()
            .find(|c| field(c, "finding_id") == id)
            .and_then(|c| c.get("time_to_close_hours").and_then(Value::as_i64))
    };
    let open: HashSet<&str> = b
        .values()
        .map(|f| field(f, "leaver_id"))
        .chain(
            rows.iter()
                .filter(|r| r.0 == "unverified")
                .map(|r| field(r.1, "leaver_id")),
        )
        .collect();
    let cov_rows: Vec<(&str, &str)> = cov
        .iter()
        .map(|(l, _, _, o)| (l.as_str(), o.as_str()))
        .collect();
    let leavers = match new_as_of {
        Some(t) => leavers_closed(&closed_rows, &cov_rows, &open, t, sla_hours),
        None => Vec::new(),
    };
    if json {
        let v: Vec<Value> = rows
            .iter()
            .map(|(state, f)| {
                let mut j = serde_json::json!({"state": state, "finding_id": field(f, "finding_id"), "severity": field(f, "severity"), "check_id": field(f, "check_id"), "leaver_id": field(f, "leaver_id"), "system_instance": field(f, "system_instance"), "resource_id": field(f, "resource_id")});
                if let Some(h) = hours(field(f, "finding_id")).filter(|_| *state == "resolved") {
                    j["time_to_close_hours"] = Value::from(h);
                }
                j
            })
            .collect();
        let out =
            serde_json::json!({"findings": v, "leavers_closed": leavers, "sla_hours": sla_hours});
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!(
            "{:<11} {:<9} {:<40} {:<28} RESOURCE",
            "STATE", "SEVERITY", "CHECK", "LEAVER"
        );
        // Values from the reports are estate text: shown with control characters escaped.
        let p = |k: &str| -> String { residual_probe::text::printable(k).into_owned() };
        for (state, f) in &rows {
            let closed_in = match hours(field(f, "finding_id")) {
                Some(h) if *state == "resolved" => format!("  (closed in {h} h)"),
                _ => String::new(),
            };
            println!(
                "{:<11} {:<9} {:<40} {:<28} {}{closed_in}",
                state,
                p(field(f, "severity")),
                p(field(f, "check_id")),
                p(field(f, "leaver_id")),
                p(field(f, "resource_id"))
            );
        }
        for c in &leavers {
            println!(
                "all paths closed for {} at {}: {} h after departure, {} the {sla_hours} h SLA",
                p(&c.leaver_email),
                residual_probe::rfc3339(c.closed_at),
                c.hours_after_departure,
                if c.within_sla { "within" } else { "past" }
            );
        }
        let count = |s: &str| rows.iter().filter(|r| r.0 == s).count();
        println!(
            "\n{} new, {} resolved, {} persisting, {} unverified (not checked in the new scan){}",
            count("new"),
            count("resolved"),
            count("persisting"),
            count("unverified"),
            time_to_close(&closed_rows)
                .map(|t| format!("; {t}"))
                .unwrap_or_default()
        );
        if !leavers.is_empty() {
            println!(
                "SLA: {} of {} leaver(s) fully closed were closed within {sla_hours} h of departure",
                leavers.iter().filter(|c| c.within_sla).count(),
                leavers.len()
            );
        }
    }
    Ok(crate::exit::CLEAN)
}
