//! Builders for the built-in demo estate (`residual demo`). Each system crate writes its part
//! of the estate in its own `demo.rs` with these, against `fixtures/demo/leavers.csv`; the
//! core puts the parts together. Everything is fixed in code, so the demo report is the same
//! on every machine and every day.

use std::collections::BTreeMap;

use time::macros::datetime;
use time::OffsetDateTime;

use crate::{Account, AccountState, Asset, Credential, SystemSnapshot};

/// The instant the demo estate was "collected" and is evaluated at.
pub const AS_OF: OffsetDateTime = datetime!(2026-11-26 00:00:00 UTC);

/// An active credential.
pub fn credential(
    resource_type: &str,
    id: &str,
    created: OffsetDateTime,
    last_used: Option<OffsetDateTime>,
    use_tracked: bool,
) -> Credential {
    Credential {
        id: id.into(),
        resource_type: resource_type.into(),
        name: None,
        active: true,
        created_at: Some(created),
        last_used_at: last_used,
        last_use_tracked: use_tracked,
        expires_at: None,
        attributes: BTreeMap::new(),
    }
}

/// An active, detailed account known by one username.
pub fn account(resource_type: &str, id: &str, name: &str, credentials: Vec<Credential>) -> Account {
    Account {
        id: id.into(),
        resource_type: resource_type.into(),
        name: name.into(),
        usernames: vec![name.into()],
        emails: vec![],
        external_ids: vec![],
        owner_refs: vec![],
        state: AccountState::Active,
        role: None,
        privileges: vec![],
        created_at: None,
        last_login_at: None,
        credentials,
        detailed: true,
        attributes: BTreeMap::new(),
        entitlements: vec![],
    }
}

/// An account with its own email addresses and state.
pub fn account_with(
    resource_type: &str,
    id: &str,
    name: &str,
    emails: &[&str],
    state: AccountState,
    credentials: Vec<Credential>,
) -> Account {
    let mut a = account(resource_type, id, name, credentials);
    a.emails = emails.iter().map(|e| e.to_string()).collect();
    a.state = state;
    a
}

/// An asset with no owner, trust or history yet.
pub fn asset(resource_type: &str, id: &str, name: &str) -> Asset {
    Asset {
        id: id.into(),
        resource_type: resource_type.into(),
        name: name.into(),
        owner_refs: vec![],
        trusted_principals: vec![],
        created_at: None,
        last_changed_at: None,
        last_used_at: None,
        last_use_tracked: false,
        readable_by_role: None,
        privileges: vec![],
        attributes: BTreeMap::new(),
    }
}

/// A complete demo instance.
pub fn instance(
    system: &str,
    instance: &str,
    authenticated_as: &str,
    observed_at: OffsetDateTime,
    requests: u64,
    accounts: Vec<Account>,
    assets: Vec<Asset>,
) -> SystemSnapshot {
    let mut s = SystemSnapshot::new(system, instance, Some(authenticated_as.into()));
    s.observed_at = Some(observed_at);
    s.accounts_enumerated = accounts.len() as u64;
    s.requests = requests;
    s.notes = vec!["demo estate (built in, offline)".into()];
    s.accounts = accounts;
    s.assets = assets;
    s
}
