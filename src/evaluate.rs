//! Evaluation: matches + estate + catalogue → findings and coverage. Pure and deterministic:
//! the same snapshot, leavers and as-of give byte-identical output, which is what makes
//! `scan --snapshot` a replay and `finding_id` stable across scans.
//!
//! Each kind of check (`On`) is implemented once here, for every system; what a check is
//! called, how severe it is and what it maps to comes from the catalogue. Coverage is the
//! completeness proof: one row per leaver × system instance, and a system or account that
//! could not be read is `error` — there is no path from an error to `no_account`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use residual_probe::{
    Account, AccountState, Asset, CollectStatus, Credential, Snapshot, SystemSnapshot,
};
use serde::Serialize;
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

use crate::catalogue::{Catalogue, Check, Escalation, On, Severity};
use crate::correlate::{Confidence, Matches, Relation, Target};
use crate::leavers::Leaver;

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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Residual,
    Deprovisioned,
    NoAccount,
    Ambiguous,
    Error,
    NotDeparted,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Residual => "residual",
            Outcome::Deprovisioned => "deprovisioned",
            Outcome::NoAccount => "no_account",
            Outcome::Ambiguous => "ambiguous",
            Outcome::Error => "error",
            Outcome::NotDeparted => "not_departed",
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
    pub outcome: Outcome,
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
}

impl Evaluation {
    /// Coverage rows with this outcome.
    pub fn outcomes(&self, o: Outcome) -> usize {
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
        self.coverage
            .iter()
            .any(|c| matches!(c.outcome, Outcome::Error | Outcome::Ambiguous))
    }
}

pub struct Input<'a> {
    pub scan_id: &'a str,
    pub leavers: &'a [Leaver],
    pub snapshot: &'a Snapshot,
    pub matches: &'a Matches,
    pub catalogue: &'a Catalogue,
    pub as_of: OffsetDateTime,
    pub sla_hours: u32,
}

pub fn finding_id(check: &str, instance: &str, resource: &str, leaver: &str) -> String {
    let mut h = Sha256::new();
    for part in [check, instance, resource, leaver] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    hex::encode(&h.finalize()[..8])
}

/// Strings every finding and coverage row of one leaver × system repeats, made once.
struct Shared {
    scan_id: Arc<str>,
    leaver_id: Arc<str>,
    leaver_email: Arc<str>,
    leaver_name: Arc<str>,
    system: Arc<str>,
    instance: Arc<str>,
}

/// Everything one leaver × system evaluation needs in one place.
struct Ctx<'a> {
    input: &'a Input<'a>,
    leaver: &'a Leaver,
    sys: &'a SystemSnapshot,
    shared: &'a Shared,
    /// Account id → assets that trust it, built once per system.
    trusts: &'a HashMap<&'a str, Vec<usize>>,
    observed_at: OffsetDateTime,
}

impl Ctx<'_> {
    /// A finding about the account itself (not one of its credentials).
    fn account_finding(
        &self,
        check: &Check,
        a: &Account,
        rule: &str,
        conf: Confidence,
        evidence: Vec<String>,
    ) -> Finding {
        self.finding(
            check,
            &a.resource_type,
            &a.id,
            &a.name,
            &a.name,
            rule,
            conf,
            None,
            false,
            evidence,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn finding(
        &self,
        check: &Check,
        resource_type: &str,
        resource_id: &str,
        resource_name: &str,
        account_name: &str,
        rule: &str,
        confidence: Confidence,
        cred: Option<&Credential>,
        escalate: bool,
        mut evidence: Vec<String>,
    ) -> Finding {
        let dep = self.leaver.departure;
        let since = self.input.as_of - dep;
        let used = match cred {
            Some(c) => match c.last_used_at {
                Some(t) if t > dep => Tri::True,
                _ if c.last_use_tracked => Tri::False,
                _ => Tri::Unknown,
            },
            None => Tri::Unknown,
        };
        let mut severity = check.severity;
        if used == Tri::True
            && check
                .critical_when
                .contains(&Escalation::UsedAfterDeparture)
        {
            severity = Severity::Critical;
            evidence.push(format!(
                "used after departure: last used {}",
                cred.and_then(|c| c.last_used_at)
                    .map(residual_probe::rfc3339)
                    .unwrap_or_default()
            ));
        }
        if escalate {
            severity = Severity::Critical;
        }
        let mut remediation = check.remediation.clone();
        if let Some(cmd) = &check.remediation_command {
            let cmd = cmd
                .replace("{account}", account_name)
                .replace("{resource_id}", resource_id)
                .replace("{resource_name}", resource_name)
                .replace("{instance}", &self.sys.instance);
            remediation.push_str(" Command: ");
            remediation.push_str(&cmd);
        }
        let sh = self.shared;
        Finding {
            scan_id: sh.scan_id.clone(),
            finding_id: finding_id(&check.id, &self.sys.instance, resource_id, &self.leaver.id),
            status: Status::Open,
            severity,
            check_id: check.id.clone(),
            title: check.title.clone(),
            leaver_id: sh.leaver_id.clone(),
            leaver_email: sh.leaver_email.clone(),
            leaver_name: sh.leaver_name.clone(),
            departure_date: dep,
            days_since_departure: since.whole_days(),
            sla_breached: since > Duration::hours(self.input.sla_hours as i64),
            system: sh.system.clone(),
            system_instance: sh.instance.clone(),
            resource_type: resource_type.to_string(),
            resource_id: resource_id.to_string(),
            resource_name: resource_name.to_string(),
            match_rule: rule.to_string(),
            match_confidence: confidence,
            created_at: cred.and_then(|c| c.created_at),
            last_used_at: cred.and_then(|c| c.last_used_at),
            used_after_departure: used,
            evidence,
            owasp_nhi: check.owasp_nhi.clone(),
            nist_csf: check.nist_csf.clone(),
            other_controls: check.other_controls.clone(),
            remediation,
            observed_at: self.observed_at,
            suppression: None,
            baseline: None,
            first_seen: None,
            path: check.path,
        }
    }
}

fn live(c: &Credential, as_of: OffsetDateTime) -> bool {
    c.active && c.expires_at.is_none_or(|e| e > as_of)
}

fn describe_credential(c: &Credential) -> String {
    let mut s = format!("{} {}", c.resource_type, c.id);
    if let Some(n) = &c.name {
        s.push_str(&format!(" ({n})"));
    }
    s.push_str(if c.active { ", active" } else { ", inactive" });
    if let Some(t) = c.created_at {
        s.push_str(&format!(", created {}", residual_probe::rfc3339(t)));
    }
    match (c.last_used_at, c.last_use_tracked) {
        (Some(t), _) => s.push_str(&format!(", last used {}", residual_probe::rfc3339(t))),
        (None, true) => s.push_str(", never used"),
        (None, false) => {}
    }
    if let Some(t) = c.expires_at {
        s.push_str(&format!(", expires {}", residual_probe::rfc3339(t)));
    }
    for (k, v) in &c.attributes {
        s.push_str(&format!(", {k} {v}"));
    }
    s
}

/// Whether any credential of the account (inactive ones too: a key used after departure and
/// then deactivated is evidence of access) or its last login was used after departure.
fn account_usage(a: &Account, departure: OffsetDateTime) -> (Tri, Option<OffsetDateTime>) {
    let last = a
        .credentials
        .iter()
        .filter_map(|c| c.last_used_at)
        .chain(a.last_login_at)
        .max();
    let tri = match last {
        Some(t) if t > departure => Tri::True,
        _ if a.credentials.iter().all(|c| c.last_use_tracked) => Tri::False,
        _ => Tri::Unknown,
    };
    (tri, last)
}

/// Findings for one account that is the leaver's own.
fn own_account_findings(
    cx: &Ctx,
    a: &Account,
    rule: &str,
    conf: Confidence,
    out: &mut Vec<Finding>,
) {
    let cat = cx.input.catalogue;
    let as_of = cx.input.as_of;
    let base_evidence = |extra: Vec<String>| {
        let mut e = vec![format!("account {} ({})", a.name, a.id)];
        if let Some(t) = a.created_at {
            e.push(format!("account created {}", residual_probe::rfc3339(t)));
        }
        e.extend(extra);
        e
    };
    // A disabled account's credentials are no path: a disabled Vault entity blocks its tokens,
    // a deactivated Salesforce user's OAuth tokens stop working.
    let live_creds: Vec<&Credential> = if a.state == AccountState::Disabled {
        Vec::new()
    } else {
        a.credentials.iter().filter(|c| live(c, as_of)).collect()
    };
    for c in &live_creds {
        if let Some(check) = cat.find(On::Credential, &c.resource_type) {
            out.push(cx.finding(
                check,
                &c.resource_type,
                &c.id,
                c.name.as_deref().unwrap_or(&a.name),
                &a.name,
                rule,
                conf,
                Some(c),
                false,
                base_evidence(vec![describe_credential(c)]),
            ));
        }
    }
    let has_path = !live_creds.is_empty();
    if has_path && !a.privileges.is_empty() {
        if let Some(check) = cat.find(On::AccountPrivileged, &a.resource_type) {
            let mut ev = base_evidence(
                a.privileges
                    .iter()
                    .map(|p| format!("admin power: {p}"))
                    .collect(),
            );
            ev.push(format!("{} working credential(s)", live_creds.len()));
            let mut f = cx.account_finding(check, a, rule, conf, ev);
            (f.used_after_departure, f.last_used_at) = account_usage(a, cx.leaver.departure);
            f.created_at = a.created_at;
            out.push(f);
        }
    }
    if !has_path && a.state != AccountState::Disabled {
        if let Some(check) = cat.find(On::AccountNoPath, &a.resource_type) {
            let mut ev = base_evidence(vec!["no active credential".into()]);
            ev.extend(
                a.privileges
                    .iter()
                    .map(|p| format!("admin power (no working credential): {p}")),
            );
            for c in a.credentials.iter().filter(|c| !live(c, as_of)) {
                ev.push(describe_credential(c));
            }
            let mut f = cx.account_finding(check, a, rule, conf, ev);
            (f.used_after_departure, f.last_used_at) = account_usage(a, cx.leaver.departure);
            if f.used_after_departure == Tri::True {
                f.evidence.push(
                    "a credential now inactive was used after departure: review its activity"
                        .into(),
                );
            }
            f.created_at = a.created_at;
            out.push(f);
        }
    }
    if let Some(check) = cat.find(On::AccountActive, &a.resource_type) {
        if a.state != AccountState::Disabled {
            let owner = (a.role.as_deref() == Some("owner")
                && check.critical_when.contains(&Escalation::OwnerRole))
                || (!a.privileges.is_empty()
                    && check.critical_when.contains(&Escalation::Privileged));
            let mut f = cx.finding(
                check,
                &a.resource_type,
                &a.id,
                &a.name,
                &a.name,
                rule,
                conf,
                None,
                owner,
                base_evidence(
                    a.role
                        .iter()
                        .map(|r| format!("role {r}"))
                        .chain(a.attributes.iter().map(|(k, v)| format!("{k}: {v}")))
                        .collect(),
                ),
            );
            if a.state == AccountState::Frozen {
                f.severity = Severity::Low;
                f.path = false;
                f.evidence
                    .push("frozen: cannot log in (licence waste)".into());
            }
            if let Some(t) = a.last_login_at {
                f.last_used_at = Some(t);
                f.used_after_departure = if t > cx.leaver.departure {
                    Tri::True
                } else {
                    Tri::False
                };
            }
            out.push(f);
        }
    }
    if let (Some(t), Some(check)) = (
        a.last_login_at,
        cat.find(On::LoginAfterDeparture, &a.resource_type),
    ) {
        if t > cx.leaver.departure {
            let mut ev = base_evidence(vec![format!(
                "successful login at {} (departure {})",
                residual_probe::rfc3339(t),
                residual_probe::rfc3339(cx.leaver.departure)
            )]);
            if let Some(s) = a.attributes.get("last_login_source") {
                ev.push(format!("login source: {s}"));
            }
            let mut f = cx.account_finding(check, a, rule, conf, ev);
            f.last_used_at = Some(t);
            f.used_after_departure = Tri::True;
            out.push(f);
        }
    }
    for x in cx
        .trusts
        .get(a.id.as_str())
        .into_iter()
        .flatten()
        .map(|&i| &cx.sys.assets[i])
    {
        {
            if let Some(check) = cat.find(On::AssetTrustsAccount, &x.resource_type) {
                let mut ev = base_evidence(vec![format!(
                    "{} {} trusts {}",
                    x.resource_type, x.name, a.id
                )]);
                if let Some(t) = x.last_used_at {
                    ev.push(format!("role last used {}", residual_probe::rfc3339(t)));
                }
                out.push(cx.finding(
                    check,
                    &x.resource_type,
                    &x.id,
                    &x.name,
                    &a.name,
                    rule,
                    conf,
                    None,
                    false,
                    ev,
                ));
            }
            // A secret whose resource policy lets the leaver's account read it.
            if let Some(check) = cat.find(On::SecretNotRotated, &x.resource_type) {
                if not_rotated(x, cx.leaver.departure) {
                    let via = format!("resource policy allows {}", a.id);
                    out.push(secret_finding(cx, check, x, via, rule, conf));
                }
            }
        }
    }
    // Secrets readable by a role the leaver held (GitHub org owners and Actions secrets).
    if let Some(role) = a.role.as_deref() {
        for x in cx
            .sys
            .assets
            .iter()
            .filter(|x| x.readable_by_role.as_deref() == Some(role))
        {
            if let Some(check) = cat.find(On::SecretNotRotated, &x.resource_type) {
                if not_rotated(x, cx.leaver.departure) {
                    let via = format!("readable by the {role} role, which {} held", a.name);
                    out.push(secret_finding(cx, check, x, via, rule, conf));
                }
            }
        }
    }
}

/// A secret whose last change predates the departure (or is unknown: not proof of rotation).
fn not_rotated(x: &Asset, departure: OffsetDateTime) -> bool {
    x.last_changed_at.is_none_or(|t| t < departure)
}

fn secret_finding(
    cx: &Ctx,
    check: &Check,
    x: &Asset,
    via: String,
    rule: &str,
    conf: Confidence,
) -> Finding {
    let mut evd = vec![format!("{} {} ({})", x.resource_type, x.name, x.id), via];
    evd.push(match x.last_changed_at {
        Some(t) => format!(
            "last changed {} (departure {})",
            residual_probe::rfc3339(t),
            residual_probe::rfc3339(cx.leaver.departure)
        ),
        None => "last change unknown: not evidence of rotation".into(),
    });
    let mut f = cx.finding(
        check,
        &x.resource_type,
        &x.id,
        &x.name,
        &x.name,
        rule,
        conf,
        None,
        false,
        evd,
    );
    f.created_at = x.created_at;
    f
}

/// Findings for something that names the leaver as owner: an owned machine identity, a deploy
/// key they added (a path: they may hold its private key), a secret they own.
fn owned_findings(cx: &Ctx, target: Target, rule: &str, conf: Confidence, out: &mut Vec<Finding>) {
    let input = cx.input;
    let sys = cx.sys;
    let (rt, id, name, refs, extra, asset) = match target {
        Target::Account(ai) => {
            let a = &sys.accounts[ai];
            let live_n = a
                .credentials
                .iter()
                .filter(|c| live(c, input.as_of))
                .count();
            let extra = if a.detailed {
                format!("{live_n} active credential(s)")
            } else {
                "credentials not enumerated (not the leaver's own account)".into()
            };
            (
                a.resource_type.as_str(),
                a.id.as_str(),
                a.name.as_str(),
                &a.owner_refs,
                extra,
                None,
            )
        }
        Target::Asset(xi) => {
            let x = &sys.assets[xi];
            let extra = match (x.last_used_at, x.last_use_tracked) {
                (Some(t), _) => format!("last used {}", residual_probe::rfc3339(t)),
                (None, true) => "never used".into(),
                (None, false) => String::new(),
            };
            (
                x.resource_type.as_str(),
                x.id.as_str(),
                x.name.as_str(),
                &x.owner_refs,
                extra,
                Some(x),
            )
        }
    };
    if let Some(check) = input.catalogue.find(On::Owned, rt) {
        let mut evd: Vec<String> = refs
            .iter()
            .map(|r| format!("{} = {}", r.key, r.value))
            .collect();
        evd.insert(0, format!("{rt} {name} ({id})"));
        evd.extend(
            asset
                .iter()
                .flat_map(|x| x.attributes.iter().map(|(k, v)| format!("{k}: {v}"))),
        );
        if !extra.is_empty() {
            evd.push(extra);
        }
        let mut f = cx.finding(check, rt, id, name, name, rule, conf, None, false, evd);
        if let Some(x) = asset {
            f.created_at = x.created_at;
            f.last_used_at = x.last_used_at;
            f.used_after_departure = match x.last_used_at {
                Some(t) if t > cx.leaver.departure => Tri::True,
                _ if x.last_use_tracked => Tri::False,
                _ => Tri::Unknown,
            };
            if f.used_after_departure == Tri::True
                && check
                    .critical_when
                    .contains(&Escalation::UsedAfterDeparture)
            {
                f.severity = Severity::Critical;
                f.evidence.push("used after departure".into());
            }
        }
        out.push(f);
    }
    if let (Some(x), Some(check)) = (asset, input.catalogue.find(On::SecretNotRotated, rt)) {
        if not_rotated(x, cx.leaver.departure) {
            let via = refs
                .iter()
                .map(|r| format!("owner {} = {}", r.key, r.value))
                .collect::<Vec<_>>()
                .join(", ");
            out.push(secret_finding(cx, check, x, via, rule, conf));
        }
    }
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
        for (si, sys) in input.snapshot.systems.iter().enumerate() {
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
            };
            let row = |outcome: Outcome, accounts: usize, findings: usize, detail: Arc<str>| {
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
                    Outcome::NotDeparted,
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
            if let CollectStatus::Failed { error } = &sys.status {
                ev.coverage.push(row(
                    Outcome::Error,
                    0,
                    0,
                    Arc::from(format!("system not read: {error}")),
                ));
                continue;
            }
            let matches = slice_of(li, si);
            let ambiguities = amb_of(li, si);
            let mut findings = Vec::new();
            let mut errors: Vec<String> = sys
                .gaps
                .iter()
                .filter(|g| g.account_id.is_none())
                .map(|g| format!("{} not read: {}", g.what, g.error))
                .collect();
            // A targeted collection only saw the leavers it looked up (a snapshot replayed with
            // another leavers file may name others), and history only from `history_since`.
            if let Some(seen) = &sys.looked_up {
                let missing: Vec<String> = crate::correlate::leaver_keys(leaver, &sys.system)
                    .into_iter()
                    .filter(|k| {
                        !seen.logins.contains(k)
                            && !seen.emails.contains(k)
                            && !seen.external_ids.contains(k)
                    })
                    .collect();
                if !missing.is_empty() {
                    errors.push(format!(
                        "not looked up when the snapshot was collected ({}): collect again with this leavers file",
                        missing.join(", ")
                    ));
                }
            }
            if let Some(since) = sys.history_since {
                if leaver.departure < since {
                    errors.push(format!(
                        "login history was read from {} only, after this departure: collect again with this leavers file",
                        residual_probe::rfc3339(since)
                    ));
                }
            }
            let mut own_accounts = Vec::new();
            for m in matches {
                match (m.relation, m.target) {
                    (Relation::Own, Target::Account(ai)) => {
                        let a = &sys.accounts[ai];
                        own_accounts.push(format!(
                            "{} ({}: {})",
                            a.name,
                            m.confidence.as_str(),
                            m.rule
                        ));
                        for g in sys
                            .gaps
                            .iter()
                            .filter(|g| g.account_id.as_deref() == Some(&a.id))
                        {
                            errors.push(format!("{} of {} not read: {}", g.what, a.name, g.error));
                        }
                        // Any system: a probe details only the accounts the collection's leavers
                        // could be (AWS per-user calls, Salesforce tokens and logins).
                        if !a.detailed {
                            errors.push(format!(
                                "{} was not detailed when the snapshot was collected (collect again with this leavers file)",
                                a.name
                            ));
                        }
                        own_account_findings(&cx, a, &m.rule, m.confidence, &mut findings);
                    }
                    (Relation::Owner, target) => {
                        owned_findings(&cx, target, &m.rule, m.confidence, &mut findings);
                    }
                    (Relation::Own, Target::Asset(_)) => {}
                }
            }
            let open = findings.len();
            let has_path = findings.iter().any(|f| f.path);
            let (outcome, detail) = if !errors.is_empty() {
                (Outcome::Error, errors.join("; "))
            } else if has_path {
                (Outcome::Residual, summarize(&own_accounts, &findings))
            } else if !ambiguities.is_empty() {
                let d: Vec<String> = ambiguities
                    .iter()
                    .map(|a| {
                        let who: Vec<&str> = a
                            .candidates
                            .iter()
                            .map(|&c| input.leavers[c].id.as_str())
                            .collect();
                        format!(
                            "{} (candidates: {}; account: {})",
                            a.reason,
                            who.join(", "),
                            sys.accounts[a.account].id
                        )
                    })
                    .collect();
                (Outcome::Ambiguous, d.join("; "))
            } else if !own_accounts.is_empty() {
                (Outcome::Deprovisioned, summarize(&own_accounts, &findings))
            } else {
                // No login of their own; anything they own is listed but is not a path.
                if open > 0 {
                    let d = format!("{}; owns: {}", no_account[si], summarize(&[], &findings));
                    (Outcome::NoAccount, d)
                } else {
                    (Outcome::NoAccount, String::new())
                }
            };
            let mut detail = detail;
            if outcome != Outcome::Ambiguous && !ambiguities.is_empty() {
                detail.push_str(&format!(
                    "; also ambiguous: {}",
                    ambiguities
                        .iter()
                        .map(|a| a.reason.as_str())
                        .collect::<Vec<_>>()
                        .join("; ")
                ));
            }
            // The most common row shares its sentence with every other leaver's.
            let detail: Arc<str> = if detail.is_empty() && outcome == Outcome::NoAccount {
                no_account[si].clone()
            } else {
                Arc::from(detail)
            };
            ev.coverage
                .push(row(outcome, own_accounts.len(), open, detail));
            ev.findings.extend(findings);
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

fn summarize(accounts: &[String], findings: &[Finding]) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for f in findings {
        *counts.entry(&*f.check_id).or_default() += 1;
    }
    let checks: Vec<String> = counts.iter().map(|(k, v)| format!("{k}×{v}")).collect();
    let mut s = String::new();
    if !accounts.is_empty() {
        s.push_str(&format!("accounts: {}", accounts.join(", ")));
    }
    if !checks.is_empty() {
        if !s.is_empty() {
            s.push_str("; ");
        }
        s.push_str(&format!("findings: {}", checks.join(", ")));
    }
    s
}
