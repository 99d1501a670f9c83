//! Evaluation: matches + estate + catalogue → findings and coverage. Pure and deterministic:
//! the same snapshot, leavers and as-of give byte-identical output, which is what makes
//! `scan --snapshot` a replay and `finding_id` stable across scans.
//!
//! - `finding.rs`: the output model (findings, coverage rows, the evaluation).
//! - `checks.rs`: each kind of check (`On`), implemented once for every system; what a check
//!   is called, how severe it is and what it maps to comes from the catalogue.
//! - `coverage.rs`: the decision for one leaver × instance, and what gaps do to it.
//!
//! Coverage is the completeness proof: one row per leaver × system instance, and a system or
//! account that could not be read is `error` — there is no path from an error to
//! `no_account`.

mod checks;
mod coverage;
mod finding;

pub use finding::*;

use std::collections::HashMap;
use std::sync::Arc;

use residual_probe::{CollectStatus, Snapshot};
use time::OffsetDateTime;

use crate::catalogue::Catalogue;
use crate::correlate::Matches;
use crate::leavers::Leaver;
use checks::{Ctx, Shared};

pub struct Input<'a> {
    pub scan_id: &'a str,
    pub leavers: &'a [Leaver],
    pub snapshot: &'a Snapshot,
    pub matches: &'a Matches,
    pub catalogue: &'a Catalogue,
    pub as_of: OffsetDateTime,
    pub sla_hours: u32,
}

pub fn evaluate(input: &Input) -> Evaluation {
    let mut ev = Evaluation::default();
    // (leaver, system) → matches / ambiguities, in input order.
    // Matches and ambiguities come sorted by (leaver, system): each pair is a slice.
    let all = &input.matches.matches;
    let amb_all = &input.matches.ambiguities;
    let slice_of = |li: usize, si: usize| {
        let lo = all.partition_point(|m| (m.leaver, m.system) < (li, si));
        let hi = all.partition_point(|m| (m.leaver, m.system) <= (li, si));
        &all[lo..hi]
    };
    let amb_of = |li: usize, si: usize| {
        let lo = amb_all.partition_point(|a| (a.leaver, a.system) < (li, si));
        let hi = amb_all.partition_point(|a| (a.leaver, a.system) <= (li, si));
        &amb_all[lo..hi]
    };
    let trusts: Vec<HashMap<&str, Vec<usize>>> = input
        .snapshot
        .systems
        .iter()
        .map(|sys| {
            let mut m: HashMap<&str, Vec<usize>> = HashMap::new();
            for (i, x) in sys.assets.iter().enumerate() {
                for p in &x.trusted_principals {
                    m.entry(p.as_str()).or_default().push(i);
                }
            }
            m
        })
        .collect();
    let scan_id: Arc<str> = Arc::from(input.scan_id);
    let sys_names: Vec<(Arc<str>, Arc<str>)> = input
        .snapshot
        .systems
        .iter()
        .map(|s| (Arc::from(s.system.as_str()), Arc::from(s.instance.as_str())))
        .collect();
    ev.coverage
        .reserve_exact(input.leavers.len() * input.snapshot.systems.len());
    let no_account: Vec<Arc<str>> = input
        .snapshot
        .systems
        .iter()
        .map(|s| {
            Arc::from(format!(
                "no account among {} enumerated",
                s.accounts_enumerated
            ))
        })
        .collect();
    for (li, leaver) in input.leavers.iter().enumerate() {
        let leaver_id: Arc<str> = Arc::from(leaver.id.as_str());
        let leaver_email: Arc<str> = Arc::from(leaver.email.as_deref().unwrap_or_default());
        let leaver_name: Arc<str> = Arc::from(leaver.name.as_deref().unwrap_or_default());
        // The leaver's own accounts in every instance: a role in one AWS account may trust
        // their user in another.
        let of_leaver = {
            let lo = all.partition_point(|m| m.leaver < li);
            let hi = all.partition_point(|m| m.leaver <= li);
            &all[lo..hi]
        };
        let own_everywhere: Vec<&crate::correlate::Match> = of_leaver
            .iter()
            .filter(|m| {
                m.relation == crate::correlate::Relation::Own
                    && matches!(m.target, crate::correlate::Target::Account(_))
            })
            .collect();
        for (si, sys) in input.snapshot.systems.iter().enumerate() {
            let elsewhere: Vec<&crate::correlate::Match> = own_everywhere
                .iter()
                .copied()
                .filter(|m| m.system != si && input.snapshot.systems[m.system].system == sys.system)
                .collect();
            let shared = Shared {
                scan_id: scan_id.clone(),
                leaver_id: leaver_id.clone(),
                leaver_email: leaver_email.clone(),
                leaver_name: leaver_name.clone(),
                system: sys_names[si].0.clone(),
                instance: sys_names[si].1.clone(),
            };
            let cx = Ctx {
                input,
                leaver,
                sys,
                shared: &shared,
                trusts: &trusts[si],
                observed_at: sys.observed_at.unwrap_or(input.snapshot.collected_at),
                elsewhere: &elsewhere,
            };
            let row = |outcome: Verdict, accounts: usize, findings: usize, detail: Arc<str>| {
                CoverageRow {
                    scan_id: shared.scan_id.clone(),
                    leaver_id: shared.leaver_id.clone(),
                    leaver_email: shared.leaver_email.clone(),
                    system: shared.system.clone(),
                    system_instance: shared.instance.clone(),
                    outcome,
                    accounts_matched: accounts as u32,
                    open_findings: findings as u32,
                    detail,
                }
            };
            if leaver.departure > input.as_of {
                ev.coverage.push(row(
                    Verdict::NotDeparted,
                    0,
                    0,
                    Arc::from(format!(
                        "departs {} (after as-of {})",
                        residual_probe::rfc3339(leaver.departure),
                        residual_probe::rfc3339(input.as_of)
                    )),
                ));
                continue;
            }
            if let crate::leavers::Status::Leave { until } = &leaver.status {
                if *until <= input.as_of {
                    ev.coverage.push(row(
                        Verdict::NotDeparted,
                        0,
                        0,
                        Arc::from(format!(
                            "back from leave on {} (leave from {})",
                            residual_probe::rfc3339(*until),
                            residual_probe::rfc3339(leaver.departure)
                        )),
                    ));
                    continue;
                }
            }
            if let crate::leavers::Status::Mover { revoke } = &leaver.status {
                if !sys.is_complete() || coverage::applicable(sys, revoke).is_empty() {
                    // A failed instance might have held a listed entitlement: only one whose
                    // system no reference names is out of scope.
                    if revoke.iter().all(|r| r.system != sys.system) {
                        ev.coverage.push(row(
                            Verdict::NotDeparted,
                            0,
                            0,
                            Arc::from(format!(
                                "moved {}: nothing listed to revoke in {}",
                                residual_probe::rfc3339(leaver.departure),
                                sys.system
                            )),
                        ));
                        continue;
                    }
                    if sys.is_complete() {
                        ev.coverage.push(row(
                            Verdict::NotDeparted,
                            0,
                            0,
                            Arc::from(format!(
                                "moved {}: this instance reports none of the listed kinds",
                                residual_probe::rfc3339(leaver.departure)
                            )),
                        ));
                        continue;
                    }
                }
            }
            if let CollectStatus::Failed { error } = &sys.status {
                ev.coverage.push(row(
                    Verdict::Error,
                    0,
                    0,
                    Arc::from(format!("system not read: {error}")),
                ));
                continue;
            }
            let (outcome, accounts, findings, detail) =
                coverage::cell(&cx, slice_of(li, si), amb_of(li, si), &no_account[si]);
            let open = findings.len();
            ev.coverage.push(row(outcome, accounts, open, detail));
            ev.findings.extend(findings);
        }
        // A mover's reference no scanned instance reads (no such table, no Identity Center):
        // not checked anywhere, so not clean.
        if let crate::leavers::Status::Mover { revoke } = &leaver.status {
            if leaver.departure <= input.as_of {
                for r in revoke {
                    let one = std::slice::from_ref(r);
                    let seen = input.snapshot.systems.iter().any(|sys| {
                        sys.system == r.system
                            && (!sys.is_complete() || !coverage::applicable(sys, one).is_empty())
                    });
                    if !seen {
                        let kind = r.reference.split_once('/').map_or("", |(k, _)| k);
                        ev.coverage.push(CoverageRow {
                            scan_id: scan_id.clone(),
                            leaver_id: leaver_id.clone(),
                            leaver_email: leaver_email.clone(),
                            system: Arc::from(r.system),
                            system_instance: Arc::from("(no instance)"),
                            outcome: Verdict::Unverified,
                            accounts_matched: 0,
                            open_findings: 0,
                            detail: Arc::from(format!(
                                "moved {}: {} cannot be checked: no scanned instance reads {kind} entitlements",
                                residual_probe::rfc3339(leaver.departure),
                                r.reference
                            )),
                        });
                    }
                }
            }
        }
    }
    ev.findings.sort_by(|a, b| {
        (
            &a.leaver_id,
            &a.system,
            &a.system_instance,
            &a.check_id,
            &a.resource_id,
        )
            .cmp(&(
                &b.leaver_id,
                &b.system,
                &b.system_instance,
                &b.check_id,
                &b.resource_id,
            ))
    });
    ev.findings.dedup_by(|a, b| a.finding_id == b.finding_id);
    ev
}
