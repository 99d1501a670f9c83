//! The estate model: what a probe saw, normalised across systems.
//!
//! Invariant: nothing here holds a secret value. Credentials are described by their id (AWS key
//! id, token accessor, last eight characters), state and dates — never by the secret itself.
//! The snapshot is saved with every report and re-evaluated offline by `scan --snapshot`, so
//! its serialised form is part of the product: add fields with `#[serde(default)]`, and bump
//! [`SNAPSHOT_SCHEMA_VERSION`] when a change is not backwards compatible.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use time::OffsetDateTime;

use crate::ProbeError;

/// 2: instances record what they can identify people by (`identifiers`), and finding ids
/// include the system.
pub const SNAPSHOT_SCHEMA_VERSION: u32 = 2;

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Every system instance a scan collected.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Snapshot {
    pub schema_version: u32,
    pub tool_version: String,
    #[serde(with = "time::serde::rfc3339")]
    pub collected_at: OffsetDateTime,
    pub systems: Vec<SystemSnapshot>,
    /// Set when this is one shard of a scan (`--shard K/N`): what `residual merge` needs to
    /// put the shards back together and to know what a missing one would have held.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardInfo>,
}

/// One shard's place in a sharded scan.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ShardInfo {
    /// This shard, counted from 0 (Kubernetes' `JOB_COMPLETION_INDEX`).
    pub index: u32,
    pub count: u32,
    /// How units are assigned: `sha256(system/unit) mod count`.
    pub key: String,
    /// The config file's sha256: shards of different configs never merge.
    pub config_sha256: String,
    /// Every unit this shard knows of and its shard, in collection order: what a missing
    /// shard would have held.
    pub units: Vec<ShardUnit>,
    /// For each collected system (parallel to `systems`), the config table it came from:
    /// merged shards are ordered as one scan would order them.
    pub probe_of: Vec<u32>,
}

/// A unit of partitioning: a config table's instance, or one account of an AWS organization.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ShardUnit {
    pub system: String,
    pub unit: String,
    pub shard: u32,
    /// The config table (its position among the probes).
    pub probe: u32,
}

/// The shard a unit belongs to: stable for the same system, label and shard count.
pub fn shard_of(system: &str, unit: &str, count: u32) -> u32 {
    // FNV-1a, 64-bit: stable across versions and platforms, no dependency.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in system.bytes().chain([b'/']).chain(unit.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (h % u64::from(count.max(1))) as u32
}

/// One system instance (an AWS account, a GitHub org, …) as one probe saw it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SystemSnapshot {
    /// The system's name: the probe folder, config table and report `system` value (`aws`, …).
    pub system: String,
    /// The instance label from the config (`name`), or a default the probe chose (account id).
    pub instance: String,
    /// What people call the instance, when the label is an id (an AWS account's name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub status: CollectStatus,
    /// Who the probe authenticated as (ARN, login, …), for the manifest.
    #[serde(default)]
    pub authenticated_as: Option<String>,
    /// When the system's own data was produced (AWS: the credential report's generation time).
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub observed_at: Option<OffsetDateTime>,
    /// How many accounts the inventory enumerated, so an auditor can tie counts to the source.
    #[serde(default)]
    pub accounts_enumerated: u64,
    /// HTTP requests sent, retries included.
    #[serde(default)]
    pub requests: u64,
    /// Of those, sent again after a failure; and waits for a rate limit to reset.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub retries: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub rate_waits: u64,
    /// Planner choices and other facts worth putting in the manifest.
    #[serde(default)]
    pub notes: Vec<String>,
    #[serde(default)]
    pub accounts: Vec<Account>,
    #[serde(default)]
    pub assets: Vec<Asset>,
    /// What could not be read. A gap never means "nothing there".
    #[serde(default)]
    pub gaps: Vec<Gap>,
    /// When the probe looked accounts up one by one instead of listing them all: what it
    /// looked up. A leaver known by anything else was not checked (`scan --snapshot` with
    /// another leavers file): their coverage is `error`, never `no_account`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub looked_up: Option<crate::Candidates>,
    /// History (logins) was read from this instant on: an earlier departure was not checked.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub history_since: Option<OffsetDateTime>,
    /// What this instance's accounts can be matched on. A leaver whose row has none of these
    /// (an email-only HR row against a GitHub org without SAML) cannot be identified here:
    /// coverage `unverified`, never `no_account`.
    #[serde(default)]
    pub identifiers: Vec<Identifier>,
    /// What would make such a leaver identifiable ("add a github_login column or enable SAML").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identify_hint: Option<String>,
    /// The entitlement kinds this instance read for its accounts (`github:team`): a mover's
    /// reference of another kind cannot be checked here (coverage `error`, never clean).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entitlement_kinds: Vec<String>,
    /// Values remediation commands need beyond the finding (`base_url`, `token_env`): never a
    /// secret, only where and how to reach the system.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub context: BTreeMap<String, String>,
}

/// A kind of identifier a system records for its accounts, and a leaver row may carry.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Identifier {
    /// Email addresses (the account's own, a SAML NameID, a SCIM email).
    Email,
    /// The system's explicit handle column in the leavers file (`github_login`).
    Handle,
    /// Usernames, compared with the row's non-email aliases.
    Username,
    /// HR employee ids (SCIM `externalId`, a federation id).
    EmployeeId,
}

impl Identifier {
    pub fn as_str(self) -> &'static str {
        match self {
            Identifier::Email => "email",
            Identifier::Handle => "handle",
            Identifier::Username => "username",
            Identifier::EmployeeId => "employee id",
        }
    }
}

impl SystemSnapshot {
    /// A complete, still empty snapshot, observed now.
    pub fn new(system: &str, instance: &str, authenticated_as: Option<String>) -> Self {
        SystemSnapshot {
            system: system.to_string(),
            instance: instance.to_string(),
            title: None,
            status: CollectStatus::Complete,
            authenticated_as,
            observed_at: Some(OffsetDateTime::now_utc()),
            accounts_enumerated: 0,
            requests: 0,
            retries: 0,
            rate_waits: 0,
            notes: Vec::new(),
            accounts: Vec::new(),
            assets: Vec::new(),
            gaps: Vec::new(),
            looked_up: None,
            history_since: None,
            identifiers: Vec::new(),
            identify_hint: None,
            entitlement_kinds: Vec::new(),
            context: BTreeMap::new(),
        }
    }

    /// Record what accounts can be matched on: always `always`, and `Email` too when some
    /// account records an email (or logs in with one).
    pub fn identify_by(&mut self, always: &[Identifier], hint: Option<&str>) {
        let mut ids = always.to_vec();
        let emails = self
            .accounts
            .iter()
            .any(|a| !a.emails.is_empty() || a.usernames.iter().any(|u| u.contains('@')));
        if emails && !ids.contains(&Identifier::Email) {
            ids.push(Identifier::Email);
        }
        ids.sort();
        self.identifiers = ids;
        self.identify_hint = hint.map(str::to_string);
    }

    /// An instance that could not be read at all.
    pub fn failed(system: &str, instance: &str, error: ProbeError) -> Self {
        SystemSnapshot {
            system: system.to_string(),
            instance: instance.to_string(),
            title: None,
            status: CollectStatus::Failed {
                error: error.redacted(),
            },
            authenticated_as: None,
            observed_at: None,
            accounts_enumerated: 0,
            requests: 0,
            retries: 0,
            rate_waits: 0,
            notes: Vec::new(),
            accounts: Vec::new(),
            assets: Vec::new(),
            gaps: Vec::new(),
            looked_up: None,
            history_since: None,
            identifiers: Vec::new(),
            identify_hint: None,
            entitlement_kinds: Vec::new(),
            context: BTreeMap::new(),
        }
    }

    pub fn is_complete(&self) -> bool {
        matches!(self.status, CollectStatus::Complete)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum CollectStatus {
    Complete,
    Failed { error: ProbeError },
}

/// Something the probe could not read. With `account_id`, it concerns that account only (its
/// matched leaver); without, it concerns every leaver of the instance.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Gap {
    #[serde(default)]
    pub account_id: Option<String>,
    /// What was not read, in words (`ListSSHPublicKeys`, `credential authorizations`).
    pub what: String,
    /// The catalogue checks it concerns (empty: every check of the system).
    #[serde(default)]
    pub checks: Vec<String>,
    /// What the evaluator does about it.
    #[serde(default)]
    pub effect: GapEffect,
    pub error: ProbeError,
}

/// How a gap limits what the evaluation can say.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum GapEffect {
    /// The checks could not be evaluated: the leaver × instance is `error`, never clean.
    #[default]
    Blocks,
    /// The checks were evaluated, but something that decides their severity escalation was
    /// not read: their findings are raised to critical and say why, and the scan is
    /// incomplete. Severity never drops silently.
    Severity,
}

impl Gap {
    /// The named checks could not be evaluated.
    pub fn blocks(what: impl Into<String>, checks: &[crate::CheckId], error: ProbeError) -> Gap {
        Gap {
            account_id: None,
            what: what.into(),
            checks: checks.iter().map(|c| c.0.to_string()).collect(),
            effect: GapEffect::Blocks,
            error: error.redacted(),
        }
    }

    /// The named checks' severity escalation could not be decided.
    pub fn severity(what: impl Into<String>, checks: &[crate::CheckId], error: ProbeError) -> Gap {
        Gap {
            effect: GapEffect::Severity,
            ..Gap::blocks(what, checks, error)
        }
    }

    /// The same gap, for one account only.
    pub fn for_account(mut self, id: impl Into<String>) -> Gap {
        self.account_id = Some(id.into());
        self
    }
}

/// A login identity in a system: an IAM user, an org member, a CRM user, a SCIM user.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Account {
    /// Stable id within the instance (ARN, numeric id, …): the finding's `resource_id`.
    pub id: String,
    /// `aws_iam_user`, `github_member`, … — the catalogue keys checks on it.
    pub resource_type: String,
    /// The display handle: username, login.
    pub name: String,
    /// Handles this account logs in with, for exact handle and probable local-part matches.
    #[serde(default)]
    pub usernames: Vec<String>,
    /// Email addresses the system itself records for the account.
    #[serde(default)]
    pub emails: Vec<String>,
    /// HR ids the system records (SCIM `externalId`, …).
    #[serde(default)]
    pub external_ids: Vec<String>,
    /// Tag or metadata values naming a person as owner or creator.
    #[serde(default)]
    pub owner_refs: Vec<OwnerRef>,
    pub state: AccountState,
    /// A role in the system worth naming (`owner` of a GitHub org, …).
    #[serde(default)]
    pub role: Option<String>,
    /// Evidence of admin power, one line each (`AdministratorAccess via group admins`).
    #[serde(default)]
    pub privileges: Vec<String>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub created_at: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub last_login_at: Option<OffsetDateTime>,
    #[serde(default)]
    pub credentials: Vec<Credential>,
    /// Whether the targeted calls for this account were made (credentials complete). Accounts
    /// of no interest to the scan keep the inventory's view only.
    #[serde(default)]
    pub detailed: bool,
    /// Other evidence: groups, teams, profile.
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// What the account holds by membership or assignment (groups, teams, permission sets,
    /// policies), as `prefix:kind/name` references: what a mover's `revoke` column is checked
    /// against. Reported only for the kinds the instance lists in `entitlement_kinds`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entitlements: Vec<Entitlement>,
}

/// One entitlement an account holds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Entitlement {
    /// `github:team/payments`, `aws-sso:permission-set/AdministratorAccess`.
    pub reference: String,
    /// It carries admin power (a group with AdministratorAccess, an admin permission set).
    #[serde(default)]
    pub admin: bool,
    /// How it is held, when not directly (`group Platform`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
    /// The system's own id of the group, team or set, when commands need it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

impl Entitlement {
    pub fn new(prefix: &str, kind: &str, name: &str, admin: bool) -> Entitlement {
        Entitlement {
            reference: format!("{prefix}:{kind}/{name}"),
            admin,
            via: None,
            id: None,
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum AccountState {
    Active,
    Disabled,
    /// Active but blocked from logging in (Salesforce frozen): licence waste, no path.
    Frozen,
    /// Invited, not yet accepted.
    Pending,
}

/// A tag or metadata value that names a person (`owner = jdoe@acme.com`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OwnerRef {
    pub key: String,
    pub value: String,
}

/// A way to authenticate as an account: a password, key, token or certificate.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Credential {
    /// Key id, certificate id, token accessor — never the secret.
    pub id: String,
    /// `aws_iam_access_key`, … — the catalogue keys checks on it.
    pub resource_type: String,
    #[serde(default)]
    pub name: Option<String>,
    pub active: bool,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub created_at: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
    /// Whether the system records last use at all (an unknown last use is not "never used").
    #[serde(default)]
    pub last_use_tracked: bool,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
}

/// A resource tied to people without being their login: a role that trusts a user, a machine
/// identity or secret someone owns.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Asset {
    pub id: String,
    /// `aws_iam_role`, … — the catalogue keys checks on it.
    pub resource_type: String,
    pub name: String,
    #[serde(default)]
    pub owner_refs: Vec<OwnerRef>,
    /// Account ids (ARNs, …) this asset lets act through it: trust or resource policies.
    #[serde(default)]
    pub trusted_principals: Vec<String>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub created_at: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub last_changed_at: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
    /// Whether the system records last use (a deploy key's `last_used` does).
    #[serde(default)]
    pub last_use_tracked: bool,
    /// A role whose holders can read or administer this asset (`owner` of a GitHub org for
    /// its Actions secrets): a leaver who held it must have it rotated.
    #[serde(default)]
    pub readable_by_role: Option<String>,
    /// Evidence of admin power the asset grants whoever it trusts (an Identity Center
    /// permission set with AdministratorAccess), one line each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub privileges: Vec<String>,
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
}

/// Redaction in place, field by field: no copy of the estate, whatever its size.
fn r(s: &mut String) {
    if crate::redact::needs_redaction(s) {
        *s = crate::redact::redact(s);
    }
}

fn r_opt(s: &mut Option<String>) {
    if let Some(s) = s {
        r(s);
    }
}

fn r_all(v: &mut [String]) {
    v.iter_mut().for_each(r);
}

fn r_map(m: &mut BTreeMap<String, String>) {
    let dirty = m
        .iter()
        .any(|(k, v)| crate::redact::needs_redaction(k) || crate::redact::needs_redaction(v));
    if dirty {
        let old = std::mem::take(m);
        for (mut k, mut v) in old {
            r(&mut k);
            r(&mut v);
            m.insert(k, v);
        }
    }
}

fn r_refs(v: &mut [OwnerRef]) {
    for o in v {
        r(&mut o.key);
        r(&mut o.value);
    }
}

impl Snapshot {
    /// Every string of the estate passed through the redactor: done once after collection and
    /// on loading a snapshot, so evaluation, reports and replays all see the same values.
    pub fn redact_in_place(&mut self) {
        r(&mut self.tool_version);
        for s in &mut self.systems {
            s.redact_in_place();
        }
    }
}

impl SystemSnapshot {
    fn redact_in_place(&mut self) {
        r(&mut self.system);
        r(&mut self.instance);
        r_opt(&mut self.title);
        if let CollectStatus::Failed { error } = &mut self.status {
            *error = error.clone().redacted();
        }
        r_opt(&mut self.authenticated_as);
        r_all(&mut self.notes);
        for a in &mut self.accounts {
            r(&mut a.id);
            r(&mut a.resource_type);
            r(&mut a.name);
            r_all(&mut a.usernames);
            r_all(&mut a.emails);
            r_all(&mut a.external_ids);
            r_refs(&mut a.owner_refs);
            r_opt(&mut a.role);
            r_all(&mut a.privileges);
            r_map(&mut a.attributes);
            for e in &mut a.entitlements {
                r(&mut e.reference);
                r_opt(&mut e.via);
                r_opt(&mut e.id);
            }
            for c in &mut a.credentials {
                r(&mut c.id);
                r(&mut c.resource_type);
                r_opt(&mut c.name);
                r_map(&mut c.attributes);
            }
        }
        for x in &mut self.assets {
            r(&mut x.id);
            r(&mut x.resource_type);
            r(&mut x.name);
            r_refs(&mut x.owner_refs);
            r_all(&mut x.trusted_principals);
            r_opt(&mut x.readable_by_role);
            r_all(&mut x.privileges);
            r_map(&mut x.attributes);
        }
        for g in &mut self.gaps {
            r_opt(&mut g.account_id);
            r(&mut g.what);
            r_all(&mut g.checks);
            g.error = g.error.clone().redacted();
        }
        if let Some(c) = &mut self.looked_up {
            r_all(&mut c.logins);
            r_all(&mut c.emails);
            r_all(&mut c.external_ids);
        }
        r_opt(&mut self.identify_hint);
        r_map(&mut self.context);
    }
}
