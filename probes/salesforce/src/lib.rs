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

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use residual_probe::http::{encode, Http, HttpPolicy, Method, Reply, Request};
use residual_probe::{
    Account, AccountFilter, AccountState, Credential, Gap, ProbeError, SystemSnapshot,
};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use time::OffsetDateTime;

pub const SYSTEM: &str = "salesforce";
pub const CHECKS: &str = include_str!("../checks.toml");
pub const USER: &str = "salesforce_user";
pub const OAUTH_TOKEN: &str = "salesforce_oauth_token";

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
    async fn collect(&self, filter: &dyn AccountFilter) -> SystemSnapshot {
        collect(&self.0, filter).await
    }
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

/// Salesforce errors are `[{"message", "errorCode"}]`.
fn error_code(r: &Reply) -> (String, String) {
    let v: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
    let first = v.as_array().and_then(|a| a.first()).cloned().unwrap_or(v);
    let code = first
        .get("errorCode")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let msg = first
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("")
        .chars()
        .take(200)
        .collect::<String>();
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
fn sf_time(v: Option<&Value>) -> Result<Option<OffsetDateTime>, ProbeError> {
    let Some(s) = v.and_then(Value::as_str) else {
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

fn str_of<'v>(v: &'v Value, k: &str) -> Option<&'v str> {
    v.get(k).and_then(Value::as_str).filter(|s| !s.is_empty())
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
                    let v: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
                    let e = str_of(&v, "error").unwrap_or("?");
                    return Err(ProbeError::Auth(format!("{path}: HTTP {} {e}", r.status)));
                }
                let v: Value = r.json(path)?;
                let token = str_of(&v, "access_token")
                    .ok_or_else(|| bad(format!("{path}: no access_token")))?;
                residual_probe::redact::register(token);
                *self.token.lock().unwrap_or_else(|e| e.into_inner()) =
                    Some(SecretString::from(token.to_string()));
                Ok(format!(
                    "client credentials ({})",
                    str_of(&v, "id").unwrap_or("connected app")
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
    async fn query(&self, soql: &str, what: &str) -> Result<Vec<Value>, ProbeError> {
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
            let page: Value = r.json(what)?;
            let records = page
                .get("records")
                .and_then(Value::as_array)
                .ok_or_else(|| bad(format!("{what}: no records array")))?;
            out.extend(records.iter().cloned());
            let done = page
                .get("done")
                .and_then(Value::as_bool)
                .ok_or_else(|| bad(format!("{what}: no done flag")))?;
            if !done {
                let n = str_of(&page, "nextRecordsUrl")
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
    async fn per_users(
        &self,
        ids: &[String],
        what: &str,
        cap: Option<usize>,
        build: impl Fn(&str) -> String,
    ) -> Result<Vec<Value>, ProbeError> {
        let mut out = Vec::new();
        let mut work: Vec<&[String]> = ids.chunks(ID_BATCH).rev().collect();
        while let Some(chunk) = work.pop() {
            let list: Vec<String> = chunk
                .iter()
                .map(|i| format!("'{}'", i.replace('\'', "")))
                .collect();
            let rows = self.query(&build(&list.join(",")), what).await?;
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
        let perms = self
            .query(
                "SELECT PermissionsViewAllUsers, PermissionsManageUsers FROM UserPermissionAccess",
                "UserPermissionAccess",
            )
            .await?;
        let p = perms
            .first()
            .ok_or_else(|| bad("UserPermissionAccess: no row for the running user".into()))?;
        for (flag, why) in [
            ("PermissionsViewAllUsers", "every user"),
            ("PermissionsManageUsers", "OAuth tokens and login history"),
        ] {
            if p.get(flag).and_then(Value::as_bool) != Some(true) {
                return Err(ProbeError::Permission(format!(
                    "the running user lacks {} ({why} would be partly invisible)",
                    flag.trim_start_matches("Permissions")
                )));
            }
        }
        let users = self
            .query("SELECT Id, Username, Email, FederationIdentifier, IsActive, LastLoginDate, Name, UserType, Profile.Name FROM User", "User")
            .await?;
        snap.accounts_enumerated = users.len() as u64;
        let mut accounts: Vec<Account> = Vec::with_capacity(users.len());
        for u in &users {
            let id = str_of(u, "Id")
                .ok_or_else(|| bad("User without Id".into()))?
                .to_string();
            let username = str_of(u, "Username").unwrap_or_default().to_string();
            let mut emails: Vec<String> =
                str_of(u, "Email").into_iter().map(str::to_string).collect();
            let fed = str_of(u, "FederationIdentifier").map(str::to_string);
            if let Some(f) = fed.as_ref().filter(|f| f.contains('@')) {
                emails.push(f.clone());
            }
            let profile = u
                .get("Profile")
                .and_then(|p| str_of(p, "Name"))
                .map(str::to_string);
            let mut attributes = BTreeMap::new();
            if let Some(p) = &profile {
                attributes.insert("profile".into(), p.clone());
            }
            if let Some(t) = str_of(u, "UserType") {
                attributes.insert("user_type".into(), t.to_string());
            }
            let active = u
                .get("IsActive")
                .and_then(Value::as_bool)
                .ok_or_else(|| bad(format!("User {id}: no IsActive")))?;
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
                last_login_at: sf_time(u.get("LastLoginDate"))?,
                credentials: vec![],
                detailed: false,
                attributes,
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
                self.per_users(&ids, "UserLogin", None, |l| format!("SELECT Id, UserId, IsFrozen FROM UserLogin WHERE UserId IN ({l})")),
                self.per_users(&ids, "OauthToken", Some(OAUTH_TOKEN_CAP), |l| format!("SELECT Id, AppName, UserId, CreatedDate, LastUsedDate, UseCount FROM OauthToken WHERE UserId IN ({l})")),
                self.per_users(&ids, "LoginHistory", None, |l| format!(
                    "SELECT Id, UserId, LoginTime, Status, LoginType, SourceIp, Application FROM LoginHistory WHERE UserId IN ({l}) AND Status = 'Success' AND LoginTime >= {}",
                    soql_time(since)
                )),
                self.per_users(&ids, "PermissionSetAssignment", None, |l| format!(
                    "SELECT Id, AssigneeId, PermissionSet.Name, PermissionSet.IsOwnedByProfile, PermissionSet.PermissionsModifyAllData, PermissionSet.PermissionsViewAllData FROM PermissionSetAssignment WHERE AssigneeId IN ({l})"
                )),
            );
            // Frozen state decides whether an active user can log in: without it the scan
            // cannot tell residual from licence waste, so its failure fails the instance.
            for r in frozen? {
                if let (Some(uid), Some(true)) = (
                    str_of(&r, "UserId"),
                    r.get("IsFrozen").and_then(Value::as_bool),
                ) {
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
                        let Some(&i) = str_of(&t, "UserId").and_then(|u| index.get(u)) else {
                            continue;
                        };
                        let mut attributes = BTreeMap::new();
                        if let Some(n) = t.get("UseCount").and_then(Value::as_i64) {
                            attributes.insert("use_count".into(), n.to_string());
                        }
                        accounts[i].credentials.push(Credential {
                            id: str_of(&t, "Id").unwrap_or_default().to_string(),
                            resource_type: OAUTH_TOKEN.into(),
                            name: str_of(&t, "AppName").map(str::to_string),
                            active: true,
                            created_at: sf_time(t.get("CreatedDate"))?,
                            last_used_at: sf_time(t.get("LastUsedDate"))?,
                            last_use_tracked: true,
                            expires_at: None,
                            attributes,
                        });
                    }
                }
                Err(e) => snap.gaps.push(Gap {
                    account_id: None,
                    what: "OauthToken".into(),
                    checks: vec!["salesforce_oauth_token_valid".into()],
                    error: e.redacted(),
                }),
            }
            match logins {
                Ok(list) => {
                    for l in list {
                        let Some(&i) = str_of(&l, "UserId").and_then(|u| index.get(u)) else {
                            continue;
                        };
                        let t = sf_time(l.get("LoginTime"))?;
                        if t > accounts[i].last_login_at {
                            accounts[i].last_login_at = t;
                            let src = [
                                str_of(&l, "LoginType"),
                                str_of(&l, "Application"),
                                str_of(&l, "SourceIp"),
                            ];
                            accounts[i].attributes.insert(
                                "last_login_source".into(),
                                src.iter().flatten().copied().collect::<Vec<_>>().join(", "),
                            );
                        }
                    }
                }
                Err(e) => snap.gaps.push(Gap {
                    account_id: None,
                    what: "LoginHistory".into(),
                    checks: vec!["salesforce_login_after_departure".into()],
                    error: e.redacted(),
                }),
            }
            match perms {
                Ok(list) => {
                    for p in list {
                        let Some(&i) = str_of(&p, "AssigneeId").and_then(|u| index.get(u)) else {
                            continue;
                        };
                        let Some(ps) = p.get("PermissionSet") else {
                            continue;
                        };
                        if ps.get("IsOwnedByProfile").and_then(Value::as_bool) == Some(true) {
                            continue;
                        }
                        let name = str_of(ps, "Name").unwrap_or("?");
                        for flag in ["PermissionsModifyAllData", "PermissionsViewAllData"] {
                            if ps.get(flag).and_then(Value::as_bool) == Some(true) {
                                accounts[i].privileges.push(format!(
                                    "permission set {name}: {}",
                                    flag.trim_start_matches("Permissions")
                                ));
                            }
                        }
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
                Err(e) => snap
                    .notes
                    .push(format!("permission sets not read (evidence only): {e}")),
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
        Ok(snap)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn salesforce_times() {
        let t = super::sf_time(Some(&serde_json::json!("2026-11-20T09:15:00.000+0000")))
            .unwrap()
            .unwrap();
        assert_eq!(super::soql_time(t), "2026-11-20T09:15:00Z");
        assert!(super::sf_time(Some(&serde_json::json!("yesterday"))).is_err());
    }
}
