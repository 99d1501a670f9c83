//! The Salesforce probe: active users (frozen ones are licence waste), connected-app OAuth
//! tokens, successful logins since the earliest departure, and permission sets as evidence of
//! what a residual user can do — all through SOQL over the REST API, following
//! `nextRecordsUrl` until `done`.
//!
//! Inventory first: every `User` (a few pages even for 50,000 users), correlated in the core;
//! then, for the wanted users only, `UserLogin`, `OauthToken`, `LoginHistory` and
//! `PermissionSetAssignment` with `WHERE UserId IN (…)` in batches that keep the URL short, so
//! requests grow with leavers / batch size.
//!
//! `INVALID_SESSION_ID` and `REQUEST_LIMIT_EXCEEDED` are named errors. With the OAuth 2.0
//! client-credentials flow an expired session is renewed once and the query retried.

pub mod api;
mod config;
mod demo;
#[cfg(test)]
mod mock_tests;

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use residual_probe::config::{ConfigCtx, ConfigError};
use residual_probe::http::{encode, Http, HttpPolicy, Method, Reply, Request};
use residual_probe::{
    Account, AccountFilter, AccountState, CheckId, Credential, Gap, Probe, ProbeError,
    SystemSnapshot,
};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use time::OffsetDateTime;

pub const SYSTEM: &str = "salesforce";
pub const USER: &str = "salesforce_user";
pub const OAUTH_TOKEN: &str = "salesforce_oauth_token";

/// The catalogue's checks, as code names them.
pub const USER_ACTIVE: CheckId = CheckId("salesforce_user_active");
pub const OAUTH_TOKEN_VALID: CheckId = CheckId("salesforce_oauth_token_valid");
pub const LOGIN_AFTER_DEPARTURE: CheckId = CheckId("salesforce_login_after_departure");

/// The Salesforce system, for the registry.
pub struct Salesforce;

impl residual_probe::System for Salesforce {
    fn name(&self) -> &'static str {
        SYSTEM
    }
    fn title(&self) -> &'static str {
        "Salesforce"
    }
    fn catalogue(&self) -> &'static str {
        include_str!("../checks.toml")
    }
    fn check_ids(&self) -> &'static [CheckId] {
        &[USER_ACTIVE, OAUTH_TOKEN_VALID, LOGIN_AFTER_DEPARTURE]
    }
    fn handle_columns(&self) -> &'static [&'static str] {
        &["salesforce_username", "sfdc_username", "salesforce_user"]
    }
    fn entitlement_kinds(&self) -> &'static [(&'static str, &'static str)] {
        &[("salesforce", "permission-set")]
    }
    fn config_keys(&self) -> &'static [&'static str] {
        residual_probe::config::field_names::<config::RawSalesforce>()
    }
    fn configure(&self, cx: &ConfigCtx) -> Result<Vec<Box<dyn Probe>>, ConfigError> {
        config::configure(cx)
    }
    fn demo(&self) -> Vec<SystemSnapshot> {
        demo::demo()
    }
}

/// Ids per `IN (…)` clause: 300 × ~21 bytes stays far below the 16,384-byte URI limit.
pub const ID_BATCH: usize = 300;

/// Salesforce returns at most this many `OauthToken` rows for one query, silently: a batch
/// that reaches it is split and queried again, so no token is lost to the cap.
pub const OAUTH_TOKEN_CAP: usize = 2500;

#[derive(Debug, Clone)]
pub enum SalesforceAuth {
    Token(SecretString),
    ClientCredentials {
        client_id: SecretString,
        client_secret: SecretString,
    },
}

#[derive(Debug, Clone)]
pub struct SalesforceInstance {
    pub instance_url: String,
    pub api_version: String,
    pub auth: SalesforceAuth,
    pub concurrency: usize,
    pub http: HttpPolicy,
}

pub struct SalesforceProbe(pub SalesforceInstance);

#[async_trait::async_trait]
impl residual_probe::Probe for SalesforceProbe {
    fn system(&self) -> &'static str {
        SYSTEM
    }
    fn label(&self) -> String {
        label(&self.0)
    }
    async fn collect(&self, filter: &dyn AccountFilter) -> Vec<SystemSnapshot> {
        vec![collect(&self.0, filter).await]
    }
}

/// Every user has an email, a username and possibly a federation id.
pub(crate) fn identify(snap: &mut SystemSnapshot) {
    use residual_probe::Identifier::{Email, EmployeeId, Handle, Username};
    snap.identify_by(&[Email, Handle, Username, EmployeeId], None);
}

fn label(inst: &SalesforceInstance) -> String {
    residual_probe::http::host_label(&inst.instance_url)
}

pub async fn collect(inst: &SalesforceInstance, filter: &dyn AccountFilter) -> SystemSnapshot {
    residual_probe::http::collect_with(SYSTEM, &label(inst), inst.http, |http| async move {
        let c = Collector {
            inst,
            http,
            base: inst.instance_url.trim_end_matches('/').to_string(),
            token: Mutex::new(None),
            limit_info: Mutex::new(None),
        };
        c.run(filter).await
    })
    .await
}

struct Collector<'a> {
    inst: &'a SalesforceInstance,
    http: Http,
    base: String,
    token: Mutex<Option<SecretString>>,
    limit_info: Mutex<Option<String>>,
}

fn bad(e: String) -> ProbeError {
    ProbeError::Unexpected(e)
}

/// Salesforce errors are `[{"message", "errorCode"}]` (a single object on some endpoints).
fn error_code(r: &Reply) -> (String, String) {
    let first = serde_json::from_slice::<Vec<api::ApiError>>(&r.body)
        .ok()
        .and_then(|v| v.into_iter().next())
        .or_else(|| serde_json::from_slice::<api::ApiError>(&r.body).ok())
        .unwrap_or_default();
    let code = first.error_code.unwrap_or_default();
    let msg: String = first
        .message
        .unwrap_or_default()
        .chars()
        .take(200)
        .collect();
    (code, residual_probe::redact::redact(&msg))
}

fn classify(what: &str, r: &Reply) -> ProbeError {
    let (code, msg) = error_code(r);
    match (r.status, code.as_str()) {
        (_, "INVALID_SESSION_ID") | (401, _) => {
            ProbeError::Auth(format!("{what}: INVALID_SESSION_ID {msg}"))
        }
        (_, "REQUEST_LIMIT_EXCEEDED") => ProbeError::Throttled(format!(
            "{what}: REQUEST_LIMIT_EXCEEDED {msg} (the org's daily API limit)"
        )),
        (403, _) | (404, _) => {
            ProbeError::Permission(format!("{what}: HTTP {} {code} {msg}", r.status))
        }
        (s, _) => ProbeError::Unexpected(format!("{what}: HTTP {s} {code} {msg}")),
    }
}

/// Salesforce datetimes: `2026-11-20T09:15:00.000+0000`.
fn sf_time(v: Option<&str>) -> Result<Option<OffsetDateTime>, ProbeError> {
    let Some(s) = v else {
        return Ok(None);
    };
    let fmt = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond][offset_hour sign:mandatory][offset_minute]");
    OffsetDateTime::parse(s, &fmt)
        .or_else(|_| OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339))
        .map(Some)
        .map_err(|e| bad(format!("bad Salesforce time {s:?}: {e}")))
}

fn soql_time(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        t.month() as u8,
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// A non-empty optional string.
fn present(v: &Option<String>) -> Option<&str> {
    v.as_deref().filter(|s| !s.is_empty())
}

impl Collector<'_> {
    async fn authenticate(&self) -> Result<String, ProbeError> {
        match &self.inst.auth {
            SalesforceAuth::Token(t) => {
                *self.token.lock().unwrap_or_else(|e| e.into_inner()) = Some(t.clone());
                Ok("access token".into())
            }
            SalesforceAuth::ClientCredentials {
                client_id,
                client_secret,
            } => {
                let path = "/services/oauth2/token";
                let mut req = Request::get(format!("{}{path}", self.base), path);
                req.method = Method::POST;
                req.headers
                    .push(("content-type", "application/x-www-form-urlencoded".into()));
                let body = format!(
                    "grant_type=client_credentials&client_id={}&client_secret={}",
                    encode(client_id.expose_secret()),
                    encode(client_secret.expose_secret())
                );
                req.body = Some(body.into_bytes());
                let r = self.http.send(&req).await?;
                if r.status != 200 {
                    let v: api::TokenResponse = serde_json::from_slice(&r.body).unwrap_or_default();
                    let e = present(&v.error).unwrap_or("?");
                    let e =
                        residual_probe::redact::redact(&e.chars().take(100).collect::<String>());
                    return Err(ProbeError::Auth(format!("{path}: HTTP {} {e}", r.status)));
                }
                let v: api::TokenResponse = r.json(path)?;
                let token = present(&v.access_token)
                    .ok_or_else(|| bad(format!("{path}: no access_token")))?;
                residual_probe::redact::register(token);
                *self.token.lock().unwrap_or_else(|e| e.into_inner()) =
                    Some(SecretString::from(token.to_string()));
                Ok(format!(
                    "client credentials ({})",
                    present(&v.id).unwrap_or("connected app")
                ))
            }
        }
    }

    async fn get(&self, path_and_query: &str, what: &str) -> Result<Reply, ProbeError> {
        let token = self.token.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let mut req = Request::get(format!("{}{path_and_query}", self.base), what);
        req.bearer = token.as_ref();
        let r = self.http.send(&req).await?;
        if let Some(l) = r.header("sforce-limit-info") {
            *self.limit_info.lock().unwrap_or_else(|e| e.into_inner()) = Some(l.to_string());
        }
        Ok(r)
    }

    /// Every record of a SOQL query, following `nextRecordsUrl` until `done`. An expired
    /// session under client credentials is renewed once.
    async fn query<T: DeserializeOwned>(
        &self,
        soql: &str,
        what: &str,
    ) -> Result<Vec<T>, ProbeError> {
        let v = &self.inst.api_version;
        let mut next = Some(format!("/services/data/{v}/query?q={}", encode(soql)));
        let mut out = Vec::new();
        let mut renewed = false;
        let mut pages = 0;
        while let Some(url) = next.take() {
            let r = self.get(&url, what).await?;
            if r.status == 401
                && !renewed
                && matches!(self.inst.auth, SalesforceAuth::ClientCredentials { .. })
            {
                renewed = true;
                self.authenticate().await?;
                next = Some(url);
                continue;
            }
            if r.status != 200 {
                return Err(classify(what, &r));
            }
            let page: api::QueryResponse<T> = r.json(what)?;
            out.extend(page.records);
            if !page.done {
                let n = present(&page.next_records_url)
                    .ok_or_else(|| bad(format!("{what}: not done but no nextRecordsUrl")))?;
                next = Some(n.to_string());
            }
            pages += 1;
            if pages > 100_000 {
                return Err(bad(format!("{what}: pagination does not end")));
            }
        }
        Ok(out)
    }

    /// The same query per batch of user ids. With `cap`, a batch whose answer reaches the cap
    /// may be truncated: it is halved and queried again, down to one user (whose answer at the
    /// cap is an error, never a short list).
    async fn per_users<T: DeserializeOwned>(
        &self,
        ids: &[String],
        what: &str,
        cap: Option<usize>,
        build: impl Fn(&str) -> String,
    ) -> Result<Vec<T>, ProbeError> {
        let mut out = Vec::new();
        let mut work: Vec<&[String]> = ids.chunks(ID_BATCH).rev().collect();
        while let Some(chunk) = work.pop() {
            let list: Vec<String> = chunk
                .iter()
                .map(|i| format!("'{}'", i.replace('\'', "")))
                .collect();
            let rows: Vec<T> = self.query(&build(&list.join(",")), what).await?;
            match cap {
                Some(c) if rows.len() >= c && chunk.len() > 1 => {
                    let (a, b) = chunk.split_at(chunk.len() / 2);
                    work.push(b);
                    work.push(a);
                }
                Some(c) if rows.len() >= c => {
                    return Err(bad(format!(
                        "{what}: user {} has {c} or more rows, the most Salesforce returns",
                        chunk[0]
                    )));
                }
                _ => out.extend(rows),
            }
        }
        Ok(out)
    }

    async fn run(&self, filter: &dyn AccountFilter) -> Result<SystemSnapshot, ProbeError> {
        let who = self.authenticate().await?;
        let mut snap = SystemSnapshot::new(SYSTEM, &label(self.inst), Some(who));
        // A running user without "View All Users" sees only the users sharing rules show it,
        // with `done: true`: the inventory would look complete and be short. Refuse instead.
        let perms: Vec<api::UserPermissionAccess> = self
            .query(
                "SELECT PermissionsViewAllUsers, PermissionsManageUsers FROM UserPermissionAccess",
                "UserPermissionAccess",
            )
            .await?;
        let p = perms
            .first()
            .ok_or_else(|| bad("UserPermissionAccess: no row for the running user".into()))?;
        for (flag, value, why) in [
            ("ViewAllUsers", p.permissions_view_all_users, "every user"),
            (
                "ManageUsers",
                p.permissions_manage_users,
                "OAuth tokens and login history",
            ),
        ] {
            if value != Some(true) {
                return Err(ProbeError::Permission(format!(
                    "the running user lacks {flag} ({why} would be partly invisible)"
                )));
            }
        }
        let users: Vec<api::User> = self
            .query("SELECT Id, Username, Email, FederationIdentifier, IsActive, LastLoginDate, Name, UserType, Profile.Name FROM User", "User")
            .await?;
        snap.accounts_enumerated = users.len() as u64;
        let mut accounts: Vec<Account> = Vec::with_capacity(users.len());
        for u in &users {
            if u.id.is_empty() {
                return Err(bad("User without Id".into()));
            }
            let id = u.id.clone();
            let username = present(&u.username).unwrap_or_default().to_string();
            let mut emails: Vec<String> =
                present(&u.email).into_iter().map(str::to_string).collect();
            let fed = present(&u.federation_identifier).map(str::to_string);
            if let Some(f) = fed.as_ref().filter(|f| f.contains('@')) {
                emails.push(f.clone());
            }
            let profile = u
                .profile
                .as_ref()
                .and_then(|p| present(&p.name))
                .map(str::to_string);
            let mut attributes = BTreeMap::new();
            if let Some(p) = &profile {
                attributes.insert("profile".into(), p.clone());
            }
            if let Some(t) = present(&u.user_type) {
                attributes.insert("user_type".into(), t.to_string());
            }
            let active = u.is_active;
            accounts.push(Account {
                id,
                resource_type: USER.into(),
                name: username.clone(),
                usernames: vec![username],
                emails,
                external_ids: fed.into_iter().collect(),
                owner_refs: vec![],
                state: if active {
                    AccountState::Active
                } else {
                    AccountState::Disabled
                },
                role: None,
                privileges: profile
                    .iter()
                    .filter(|p| p.as_str() == "System Administrator")
                    .map(|p| format!("profile {p}"))
                    .collect(),
                created_at: None,
                last_login_at: sf_time(present(&u.last_login_date))?,
                credentials: vec![],
                detailed: false,
                attributes,
                entitlements: vec![],
            });
        }
        let wanted: Vec<usize> = (0..accounts.len())
            .filter(|&i| filter.wants(&accounts[i]))
            .collect();
        let ids: Vec<String> = wanted.iter().map(|&i| accounts[i].id.clone()).collect();
        let index: HashMap<String, usize> = wanted
            .iter()
            .map(|&i| (accounts[i].id.clone(), i))
            .collect();
        snap.notes.push(format!(
            "inventory: {} users; detail queries for {} correlated users in batches of {ID_BATCH}",
            users.len(),
            ids.len()
        ));

        if !ids.is_empty() {
            let since = filter
                .candidates(SYSTEM)
                .earliest_departure
                .unwrap_or(OffsetDateTime::UNIX_EPOCH);
            snap.history_since = Some(since);
            let (frozen, tokens, logins, perms) = futures::join!(
                self.per_users::<api::UserLogin>(&ids, "UserLogin", None, |l| format!("SELECT Id, UserId, IsFrozen FROM UserLogin WHERE UserId IN ({l})")),
                self.per_users::<api::OauthToken>(&ids, "OauthToken", Some(OAUTH_TOKEN_CAP), |l| format!("SELECT Id, AppName, UserId, CreatedDate, LastUsedDate, UseCount FROM OauthToken WHERE UserId IN ({l})")),
                self.per_users::<api::LoginHistory>(&ids, "LoginHistory", None, |l| format!(
                    "SELECT Id, UserId, LoginTime, Status, LoginType, SourceIp, Application FROM LoginHistory WHERE UserId IN ({l}) AND Status = 'Success' AND LoginTime >= {}",
                    soql_time(since)
                )),
                self.per_users::<api::PermissionSetAssignment>(&ids, "PermissionSetAssignment", None, |l| format!(
                    "SELECT Id, AssigneeId, PermissionSet.Name, PermissionSet.IsOwnedByProfile, PermissionSet.PermissionsModifyAllData, PermissionSet.PermissionsViewAllData FROM PermissionSetAssignment WHERE AssigneeId IN ({l})"
                )),
            );
            // Frozen state decides whether an active user can log in: without it the scan
            // cannot tell residual from licence waste, so its failure fails the instance.
            for r in frozen? {
                if let (Some(uid), Some(true)) = (present(&r.user_id), r.is_frozen) {
                    if let Some(&i) = index.get(uid) {
                        if accounts[i].state == AccountState::Active {
                            accounts[i].state = AccountState::Frozen;
                        }
                    }
                }
            }
            match tokens {
                Ok(list) => {
                    for t in list {
                        let Some(&i) = present(&t.user_id).and_then(|u| index.get(u)) else {
                            continue;
                        };
                        let mut attributes = BTreeMap::new();
                        if let Some(n) = t.use_count {
                            attributes.insert("use_count".into(), n.to_string());
                        }
                        accounts[i].credentials.push(Credential {
                            id: t.id.clone(),
                            resource_type: OAUTH_TOKEN.into(),
                            name: present(&t.app_name).map(str::to_string),
                            active: true,
                            created_at: sf_time(present(&t.created_date))?,
                            last_used_at: sf_time(present(&t.last_used_date))?,
                            last_use_tracked: true,
                            expires_at: None,
                            attributes,
                        });
                    }
                }
                Err(e) => snap
                    .gaps
                    .push(Gap::blocks("OauthToken", &[OAUTH_TOKEN_VALID], e)),
            }
            match logins {
                Ok(list) => {
                    for l in list {
                        let Some(&i) = present(&l.user_id).and_then(|u| index.get(u)) else {
                            continue;
                        };
                        let t = sf_time(present(&l.login_time))?;
                        if t > accounts[i].last_login_at {
                            accounts[i].last_login_at = t;
                            let src = [
                                present(&l.login_type),
                                present(&l.application),
                                present(&l.source_ip),
                            ];
                            accounts[i].attributes.insert(
                                "last_login_source".into(),
                                src.iter().flatten().copied().collect::<Vec<_>>().join(", "),
                            );
                        }
                    }
                }
                Err(e) => snap
                    .gaps
                    .push(Gap::blocks("LoginHistory", &[LOGIN_AFTER_DEPARTURE], e)),
            }
            match perms {
                Ok(list) => {
                    snap.entitlement_kinds = vec!["salesforce:permission-set".into()];
                    for p in list {
                        let Some(&i) = present(&p.assignee_id).and_then(|u| index.get(u)) else {
                            continue;
                        };
                        let Some(ps) = p.permission_set else {
                            continue;
                        };
                        let name = present(&ps.name).unwrap_or("?");
                        // A profile's own permission set carries the profile's permissions: a
                        // custom profile with Modify All Data is admin power whatever its name.
                        let by_profile = ps.is_owned_by_profile == Some(true);
                        let owner = if by_profile {
                            "profile-owned permission set"
                        } else {
                            "permission set"
                        };
                        for (flag, value) in [
                            ("ModifyAllData", ps.permissions_modify_all_data),
                            ("ViewAllData", ps.permissions_view_all_data),
                        ] {
                            if value == Some(true) {
                                accounts[i]
                                    .privileges
                                    .push(format!("{owner} {name}: {flag}"));
                            }
                        }
                        if by_profile {
                            continue;
                        }
                        let admin = ps.permissions_modify_all_data == Some(true)
                            || ps.permissions_view_all_data == Some(true);
                        accounts[i]
                            .entitlements
                            .push(residual_probe::Entitlement::new(
                                "salesforce",
                                "permission-set",
                                name,
                                admin,
                            ));
                        let sets = accounts[i]
                            .attributes
                            .entry("permission_sets".into())
                            .or_default();
                        if !sets.is_empty() {
                            sets.push(';');
                        }
                        sets.push_str(name);
                    }
                }
                // Permission sets decide whether an active user is privileged (critical): not
                // reading them must not leave the lower severity standing unremarked.
                Err(e) => snap.gaps.push(Gap::severity(
                    "PermissionSetAssignment (admin power)",
                    &[USER_ACTIVE],
                    e,
                )),
            }
            for &i in &wanted {
                accounts[i].detailed = true;
            }
        }
        if let Some(l) = self
            .limit_info
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
        {
            snap.notes
                .push(format!("Sforce-Limit-Info after the scan: {l}"));
        }
        snap.accounts = accounts;
        snap.accounts.sort_by(|a, b| a.id.cmp(&b.id));
        identify(&mut snap);
        Ok(snap)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn salesforce_times() {
        let t = super::sf_time(Some("2026-11-20T09:15:00.000+0000"))
            .unwrap()
            .unwrap();
        assert_eq!(super::soql_time(t), "2026-11-20T09:15:00Z");
        assert!(super::sf_time(Some("yesterday")).is_err());
    }
}
