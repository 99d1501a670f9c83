//! The contract every probe implements, and the estate model probes fill.
//!
//! A probe reads one outside system (an AWS account, a GitHub org, …) and returns a
//! [`SystemSnapshot`]: normalised accounts, credentials and assets, with no secret values.
//! It never decides a finding — that is the `residual` crate's evaluator, working from the
//! check catalogue. It never turns an error into an empty inventory: a system it could not
//! read comes back with [`CollectStatus::Failed`], and anything it could not read for one
//! account is a [`Gap`] naming that account.

pub mod config;
pub mod demo;
pub mod estate;
pub mod http;
pub mod jwt;
pub mod oauth;
pub mod redact;
pub mod system;
pub mod text;

pub use estate::*;
pub use system::System;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A check id from a system's catalogue, named in code (a gap's checks). Each crate defines
/// its ids as constants and lists them in [`System::check_ids`], which the core validates
/// against the catalogue at startup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CheckId(pub &'static str);

impl CheckId {
    pub fn as_str(self) -> &'static str {
        self.0
    }
}

impl std::fmt::Display for CheckId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

/// Decides which inventory accounts deserve the targeted (per-account) calls. The `residual`
/// crate passes its correlation here so a probe stays ignorant of leavers and matching rules.
pub trait AccountFilter: Send + Sync {
    fn wants(&self, account: &Account) -> bool;
    /// What the scan knows the leavers by, for probes that can look accounts up one by one
    /// instead of listing everything (the planner compares the two costs).
    fn candidates(&self, _system: &str) -> Candidates {
        Candidates::default()
    }
    /// Do these owner references (tags, labels, a description's `owner:`) name a leaver? The
    /// probe details such machine identities (their keys) as it details the leavers' own
    /// accounts.
    fn owns(&self, _system: &str, _refs: &[OwnerRef]) -> bool {
        false
    }
    /// With `--shard`: whether this unit (an instance a probe is about to read, such as one
    /// account of an AWS organization) belongs to this shard. Probes that expand into several
    /// instances ask for each; the answer is recorded, so the shard knows every unit there is.
    fn in_shard(&self, _system: &str, _unit: &str) -> bool {
        true
    }
}

/// Handles and emails to look up, lower-cased.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Candidates {
    /// Explicit handles, non-email aliases and email local parts.
    pub logins: Vec<String>,
    /// Normalised emails and email aliases.
    pub emails: Vec<String>,
    /// Some leaver has no explicit handle for this system: matching them needs an
    /// email-to-account directory (SAML identities, user profiles).
    #[serde(default)]
    pub needs_directory: bool,
    /// HR employee ids (matched against SCIM `externalId`).
    pub external_ids: Vec<String>,
    /// The earliest departure among the leavers: how far back login history matters.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub earliest_departure: Option<time::OffsetDateTime>,
    /// Movers' `revoke` references for this system (`okta:group/finance`): entitlement
    /// kinds a probe reads only on demand must be read when this names them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entitlements: Vec<String>,
}

/// Errors a probe reports. Each is *indeterminate*: the system said nothing about access, so
/// the evaluator reports `error`, never clean. Messages never carry a secret: they are built
/// from status codes, error codes and our own words, and pass through [`redact::redact`].
#[derive(Debug, thiserror::Error, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
pub enum ProbeError {
    #[error("could not authenticate: {0}")]
    Auth(String),
    #[error("permission denied: {0}")]
    Permission(String),
    #[error("throttled and out of retries: {0}")]
    Throttled(String),
    #[error("timed out: {0}")]
    Timeout(String),
    #[error("server error: {0}")]
    Server(String),
    #[error("unexpected response: {0}")]
    Unexpected(String),
    #[error("transport error: {0}")]
    Transport(String),
    #[error("configuration error: {0}")]
    Config(String),
}

impl ProbeError {
    /// A copy with every message passed through the redaction filter.
    pub fn redacted(self) -> Self {
        use ProbeError::*;
        match self {
            Auth(m) => Auth(redact::redact(&m)),
            Permission(m) => Permission(redact::redact(&m)),
            Throttled(m) => Throttled(redact::redact(&m)),
            Timeout(m) => Timeout(redact::redact(&m)),
            Server(m) => Server(redact::redact(&m)),
            Unexpected(m) => Unexpected(redact::redact(&m)),
            Transport(m) => Transport(redact::redact(&m)),
            Config(m) => Config(redact::redact(&m)),
        }
    }
}

/// An instant as RFC 3339 in UTC, to the second: the one time format of every output.
/// An optional RFC 3339 instant from an API body: absent or empty is `None`; anything else
/// that does not parse is an error naming `what` (a wrong time would misdate a finding).
pub fn time_of(what: &str, v: &Option<String>) -> Result<Option<time::OffsetDateTime>, ProbeError> {
    match v.as_deref().filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
            .map(Some)
            .map_err(|e| ProbeError::Unexpected(format!("{what}: bad time {s:?}: {e}"))),
    }
}

pub fn rfc3339(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    t.replace_nanosecond(0)
        .unwrap_or(t)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Lower-case and strip `+tag` sub-addressing: `J.Doe+ops@Acme.com` → `j.doe@acme.com`. The
/// one normalisation of emails, used by correlation and by probes that look emails up.
pub fn normalize_email(s: &str) -> String {
    // One allocation: this runs for every row of a million-row HR file.
    fn push_lower(out: &mut String, s: &str) {
        if s.is_ascii() {
            out.extend(s.chars().map(|c| c.to_ascii_lowercase()));
        } else {
            out.push_str(&s.to_lowercase());
        }
    }
    let s = s.trim();
    let mut out = String::with_capacity(s.len());
    match s.rfind('@') {
        Some(at) => {
            let local = &s[..at];
            push_lower(&mut out, local.split('+').next().unwrap_or(local));
            out.push('@');
            push_lower(&mut out, &s[at + 1..]);
        }
        None => push_lower(&mut out, s),
    }
    out
}

/// Counts HTTP requests a probe sends (retries included), for the manifest, and the retries
/// and rate-limit waits among them, for the scan's per-instance table.
#[derive(Debug, Clone, Default)]
pub struct RequestCounter(Arc<[AtomicU64; 3]>);

impl RequestCounter {
    pub fn incr(&self) {
        self.0[0].fetch_add(1, Ordering::Relaxed);
    }
    pub fn get(&self) -> u64 {
        self.0[0].load(Ordering::Relaxed)
    }
    /// A request sent again after a failure (5xx, a broken connection).
    pub fn retried(&self) {
        self.0[1].fetch_add(1, Ordering::Relaxed);
    }
    pub fn retries(&self) -> u64 {
        self.0[1].load(Ordering::Relaxed)
    }
    /// A wait for a rate limit to reset.
    pub fn waited(&self) {
        self.0[2].fetch_add(1, Ordering::Relaxed);
    }
    pub fn waits(&self) -> u64 {
        self.0[2].load(Ordering::Relaxed)
    }
}

/// Run `tasks` with at most `limit` in flight and collect their results. The first error ends
/// the run: requests not yet started are not sent, and no partial list is returned.
pub async fn bounded<T, E, F, I>(limit: usize, tasks: I) -> Result<Vec<T>, E>
where
    I: IntoIterator<Item = F>,
    F: std::future::Future<Output = Result<T, E>>,
{
    use futures::{StreamExt, TryStreamExt};
    futures::stream::iter(tasks)
        .buffer_unordered(limit.max(1))
        .try_collect()
        .await
}

/// One system instance to scan. Every probe crate exports one implementation; the `residual`
/// crate builds them from the config and runs them concurrently.
#[async_trait::async_trait]
pub trait Probe: Send + Sync {
    /// The system name (`aws`, …): folder, config table and report `system` value.
    fn system(&self) -> &'static str;
    /// The instance label before collection (the config's `name`, or the system name).
    fn label(&self) -> String;
    /// Read the system: one snapshot per instance it stands for (one, or every account of an
    /// AWS organization). Never fails: errors are inside the snapshots (status and gaps).
    async fn collect(&self, filter: &dyn AccountFilter) -> Vec<SystemSnapshot>;
    /// Whether it stands for several units that `--shard` splits (an AWS organization's
    /// accounts): it then asks [`AccountFilter::in_shard`] for each. Otherwise the probe is
    /// one unit, its label, and the core decides.
    fn expands(&self) -> bool {
        false
    }
}

/// A filter for probe tests and benchmarks: wants every account (or none), and offers fixed
/// candidates to look up.
#[derive(Debug, Clone, Default)]
pub struct FixedFilter {
    pub wants_all: bool,
    pub candidates: Candidates,
}

impl AccountFilter for FixedFilter {
    fn wants(&self, _: &Account) -> bool {
        self.wants_all
    }
    fn candidates(&self, _: &str) -> Candidates {
        self.candidates.clone()
    }
    fn owns(&self, _: &str, refs: &[OwnerRef]) -> bool {
        self.wants_all && !refs.is_empty()
    }
}
