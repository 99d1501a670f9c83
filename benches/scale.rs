//! Correlation and evaluation at scale: 1,000,000 accounts across five systems against
//! 100,000 leavers, with the collisions real estates have — shared local parts across
//! domains (ambiguous), look-alike staff accounts tagged with someone else's email, mixed
//! case and `+tag` sub-addressing, owner tags on machine identities, roles trusting users.
//!
//! `cargo bench --bench scale` prints criterion's timing, then the process's peak RSS
//! (VmHWM), which includes the generated estate itself.

use std::collections::BTreeMap;

use criterion::{criterion_group, Criterion};
use residual::catalogue::Catalogue;
use residual::correlate::correlate;
use residual::evaluate::{evaluate, Input};
use residual::leavers::Leaver;
use residual_probe::{
    Account, AccountState, Asset, CollectStatus, Credential, OwnerRef, Snapshot, SystemSnapshot,
};
use time::macros::datetime;

const LEAVERS: usize = 100_000;
const ACCOUNTS: usize = 1_000_000;
const SYSTEMS: &[&str] = &["aws", "aws", "aws", "aws", "aws"];

fn leavers() -> Vec<Leaver> {
    (0..LEAVERS)
        .map(|i| {
            // Every 50th leaver shares a local part with another leaver at another domain.
            let domain = if i % 50 == 1 {
                "acme.co.uk"
            } else {
                "acme.com"
            };
            let local = if i % 50 == 1 {
                format!("user{}", i - 1)
            } else {
                format!("user{i}")
            };
            let email = format!("{local}@{domain}");
            Leaver {
                id: format!("E{i:06}"),
                email: Some(email),
                name: Some(format!("User {i}")),
                employee_id: Some(format!("E{i:06}")),
                departure: datetime!(2026-10-01 00:00 UTC),
                handles: Default::default(),
                aliases: if i % 7 == 0 {
                    vec![format!("u{i}.alias@acme.com")]
                } else {
                    vec![]
                },
                line: i + 2,
                status: residual::leavers::Status::Leaver,
            }
        })
        .collect()
}

fn estate() -> Snapshot {
    let per = ACCOUNTS / SYSTEMS.len();
    let systems = SYSTEMS
        .iter()
        .enumerate()
        .map(|(s, sys)| {
            let accounts: Vec<Account> = (0..per)
                .map(|j| {
                    // A quarter of accounts belong to leavers (by local part, email tag, or
                    // mixed-case sub-addressed email); the rest are staff and machines.
                    let n = (j * 7 + s * 13) % (LEAVERS * 4);
                    let (name, emails, owner_refs) = match j % 8 {
                        0 => (format!("user{n}"), vec![], vec![]),
                        1 => (
                            format!("acct{j}"),
                            vec![format!("User{n}+ops@ACME.com")],
                            vec![],
                        ),
                        2 => (
                            format!("user{n}"),
                            vec![format!("someone.else{j}@acme.com")],
                            vec![],
                        ),
                        3 => (
                            format!("svc-{j}"),
                            vec![],
                            vec![OwnerRef {
                                key: "owner".into(),
                                value: format!("user{n}@acme.com"),
                            }],
                        ),
                        _ => (
                            format!("staff{j}"),
                            vec![format!("staff{j}@acme.com")],
                            vec![],
                        ),
                    };
                    let credentials = if j % 2 == 0 {
                        vec![Credential {
                            id: format!("AKIA{s}{j:015}"),
                            resource_type: "aws_iam_access_key".into(),
                            name: None,
                            active: j % 4 == 0,
                            created_at: Some(datetime!(2025-01-01 00:00 UTC)),
                            last_used_at: Some(datetime!(2026-10-05 00:00 UTC)),
                            last_use_tracked: true,
                            expires_at: None,
                            attributes: BTreeMap::new(),
                        }]
                    } else {
                        vec![]
                    };
                    Account {
                        id: format!("arn:aws:iam::{s:012}:user/{name}"),
                        resource_type: "aws_iam_user".into(),
                        usernames: vec![name.clone()],
                        name,
                        emails,
                        external_ids: vec![],
                        owner_refs,
                        state: AccountState::Active,
                        role: None,
                        privileges: if j % 97 == 0 {
                            vec!["Action \"*\"".into()]
                        } else {
                            vec![]
                        },
                        created_at: None,
                        last_login_at: None,
                        credentials,
                        detailed: true,
                        attributes: BTreeMap::new(),
                        entitlements: vec![],
                    }
                })
                .collect();
            let assets = (0..per / 20)
                .map(|k| Asset {
                    id: format!("arn:aws:iam::{s:012}:role/r{k}"),
                    resource_type: "aws_iam_role".into(),
                    name: format!("r{k}"),
                    owner_refs: vec![],
                    trusted_principals: vec![accounts[k * 20].id.clone()],
                    created_at: None,
                    last_changed_at: None,
                    last_used_at: None,
                    last_use_tracked: false,
                    readable_by_role: None,
                    privileges: vec![],
                    attributes: BTreeMap::new(),
                })
                .collect();
            SystemSnapshot {
                system: sys.to_string(),
                instance: format!("{sys}-{s}"),
                title: None,
                status: CollectStatus::Complete,
                authenticated_as: None,
                observed_at: None,
                accounts_enumerated: per as u64,
                requests: 0,
                retries: 0,
                rate_waits: 0,
                notes: vec![],
                accounts,
                assets,
                gaps: vec![],
                looked_up: None,
                history_since: None,
                identifiers: vec![
                    residual_probe::Identifier::Email,
                    residual_probe::Identifier::Handle,
                    residual_probe::Identifier::Username,
                    residual_probe::Identifier::EmployeeId,
                ],
                identify_hint: None,
                context: Default::default(),
                entitlement_kinds: Vec::new(),
            }
        })
        .collect();
    Snapshot {
        schema_version: residual_probe::SNAPSHOT_SCHEMA_VERSION,
        tool_version: "bench".into(),
        collected_at: datetime!(2026-11-26 00:00 UTC),
        systems,
        shard: None,
    }
}

fn bench(c: &mut Criterion) {
    let leavers = leavers();
    let snapshot = estate();
    let catalogue = Catalogue::builtin();
    eprintln!(
        "after generating the estate: {} / current {}",
        peak_rss(),
        rss("VmRSS")
    );
    let run = || {
        let matches = correlate(&leavers, &snapshot);
        let ev = evaluate(&Input {
            scan_id: "bench",
            leavers: &leavers,
            snapshot: &snapshot,
            matches: &matches,
            catalogue: &catalogue,
            as_of: datetime!(2026-11-26 00:00 UTC),
            sla_hours: 24,
        });
        (
            matches.matches.len(),
            matches.ambiguities.len(),
            ev.findings.len(),
            ev.coverage.len(),
        )
    };
    let (m, a, f, cov) = run();
    eprintln!("after one run: {}", peak_rss());
    eprintln!("scale: {LEAVERS} leavers x {ACCOUNTS} accounts: {m} matches, {a} ambiguous, {f} findings, {cov} coverage rows");
    let mut g = c.benchmark_group("scale");
    g.sample_size(10);
    g.bench_function("correlate+evaluate 1M accounts x 100k leavers", |b| {
        b.iter(run)
    });
    g.finish();
}

fn rss(field: &str) -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        })
        .unwrap_or_else(|| format!("{field} unavailable"))
}

fn peak_rss() -> String {
    rss("VmHWM")
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    eprintln!(
        "peak memory (whole process, estate included): {}",
        peak_rss()
    );
}
