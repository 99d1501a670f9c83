//! The Okta probe: whether each leaver's Okta user is really deprovisioned, and what hangs off
//! it — API tokens they created, admin roles, app assignments.
//!
//! Okta is where "SSO disabled" is decided, so this probe must never take an empty answer for
//! a clean one:
//! - The plain user list omits `DEPROVISIONED` users; they are read with an explicit
//!   `filter=status eq "DEPROVISIONED"`, or found by the lookups (`search` includes them).
//! - A service app without an org-wide admin role gets `200` and an empty (or partial) list.
//!   Before anything else the scan proves it can see the org: the scanning identity must hold
//!   `SUPER_ADMIN`, `ORG_ADMIN` or `READ_ONLY_ADMIN`, and the built-in Everyone group must be
//!   visible with its user count — which the listing must then reach.
//!
//! Planning, like GitHub's: the Everyone group's count prices a full listing (200 users a
//! page) against `search` lookups for the leavers (a few terms a query); the cheaper wins. Then,
//! for the wanted users only, their role assignments and app links, and one listing of API
//! tokens for the whole org.
//!
//! Files: `api.rs` (wire types), `config.rs` (`[[okta]]`), `demo.rs`, `mock_tests.rs`.

pub mod api;
mod config;
mod demo;
mod estate;
pub(crate) use estate::{app_asset, role_asset, token_credential, user_account};
#[cfg(test)]
mod mock_tests;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use residual_probe::config::{ConfigCtx, ConfigError};
use residual_probe::http::{encode, link_next, Http, HttpPolicy, Method, Reply, Request};
use residual_probe::{
    Account, AccountFilter, AccountState, Asset, CheckId, Credential, Gap, Identifier, Probe,
    ProbeError, SystemSnapshot,
};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use time::OffsetDateTime;

pub const SYSTEM: &str = "okta";
pub const USER: &str = "okta_user";
pub const API_TOKEN: &str = "okta_api_token";
pub const ROLE_ASSIGNMENT: &str = "okta_role_assignment";
pub const APP_ASSIGNMENT: &str = "okta_app_assignment";

/// The catalogue's checks, as code names them.
pub const USER_ACTIVE: CheckId = CheckId("okta_user_active");
pub const API_TOKEN_OWNED: CheckId = CheckId("okta_api_token_owned");
pub const ADMIN_ROLE: CheckId = CheckId("okta_admin_role");
pub const APP_ASSIGNMENT_CHECK: CheckId = CheckId("okta_app_assignment");
pub const ENTITLEMENT_RETAINED: CheckId = CheckId("okta_entitlement_retained");

/// Users a page (Okta's maximum for `/api/v1/users`).
const PAGE: u32 = 200;
/// The longest lookup query, in characters before encoding (Okta refuses overly long or
/// complex searches; this keeps a request line near 2 KB).
const MAX_QUERY: usize = 1_400;
/// The scopes a service app asks for: read-only, everything the scan reads.
pub const SCOPES: &str =
    "okta.users.read okta.apps.read okta.roles.read okta.apiTokens.read okta.groups.read";
/// Roles that see every user of the org.
const ORG_WIDE: &[&str] = &["SUPER_ADMIN", "ORG_ADMIN", "READ_ONLY_ADMIN"];

/// The Okta system, for the registry.
pub struct Okta;

impl residual_probe::System for Okta {
    fn name(&self) -> &'static str {
        SYSTEM
    }
    fn title(&self) -> &'static str {
        "Okta"
    }
    fn catalogue(&self) -> &'static str {
        include_str!("../checks.toml")
    }
    fn check_ids(&self) -> &'static [CheckId] {
        &[
            USER_ACTIVE,
            API_TOKEN_OWNED,
            ADMIN_ROLE,
            APP_ASSIGNMENT_CHECK,
            ENTITLEMENT_RETAINED,
        ]
    }
    fn handle_columns(&self) -> &'static [&'static str] {
        &["okta_login", "okta", "okta_username"]
    }
    fn entitlement_kinds(&self) -> &'static [(&'static str, &'static str)] {
        &[("okta", "group")]
    }
    fn config_keys(&self) -> &'static [&'static str] {
        residual_probe::config::field_names::<config::RawOkta>()
    }
    fn configure(&self, cx: &ConfigCtx) -> Result<Vec<Box<dyn Probe>>, ConfigError> {
        config::configure(cx)
    }
    fn demo(&self) -> Vec<SystemSnapshot> {
        demo::demo()
    }
}

/// How the probe authenticates.
#[derive(Debug, Clone)]
pub enum OktaAuth {
    /// An API token, sent as `Authorization: SSWS <token>`.
    ApiToken(SecretString),
    /// An OAuth 2.0 service app, `private_key_jwt` client authentication.
    ServiceApp {
        client_id: String,
        private_key_pem: SecretString,
        key_id: Option<String>,
    },
}

/// How the users are read: the planner's choice, or the one the config names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// The cheaper of a full listing and search lookups, in requests.
    Auto,
    /// Always the full listing (`search` is eventually consistent; the list is not).
    List,
    /// Always search lookups for the leavers.
    Search,
}

/// One `[[okta]]` table, validated.
#[derive(Debug, Clone)]
pub struct OktaInstance {
    pub name: String,
    pub org_url: String,
    pub auth: OktaAuth,
    pub strategy: Strategy,
    pub concurrency: usize,
    pub http: HttpPolicy,
}

pub struct OktaProbe(pub OktaInstance);

#[async_trait::async_trait]
impl Probe for OktaProbe {
    fn system(&self) -> &'static str {
        SYSTEM
    }
    fn label(&self) -> String {
        self.0.name.clone()
    }
    async fn collect(&self, filter: &dyn AccountFilter) -> Vec<SystemSnapshot> {
        vec![collect(&self.0, filter).await]
    }
}

pub async fn collect(inst: &OktaInstance, filter: &dyn AccountFilter) -> SystemSnapshot {
    residual_probe::http::collect_with(SYSTEM, &inst.name, inst.http, |http| async move {
        let mut c = Collector {
            inst,
            http,
            base: inst.org_url.trim_end_matches('/').to_string(),
            auth: None,
        };
        c.run(filter).await
    })
    .await
}

struct Collector<'a> {
    inst: &'a OktaInstance,
    http: Http,
    base: String,
    /// The `Authorization` header's value (`SSWS …` or `Bearer …`).
    auth: Option<SecretString>,
}

fn bad(m: String) -> ProbeError {
    ProbeError::Unexpected(m)
}

/// Okta's error body (`errorCode`, `errorSummary`, `errorId`) as a named error; the error id
/// is kept for Okta support.
fn classify(what: &str, r: &Reply) -> ProbeError {
    let e: api::Error = serde_json::from_slice(&r.body).unwrap_or_default();
    let code = e.error_code.unwrap_or_default();
    let summary: String = e
        .error_summary
        .unwrap_or_default()
        .chars()
        .take(200)
        .collect();
    let summary = residual_probe::redact::redact(&summary);
    let id = e
        .error_id
        .map(|i| format!(" (errorId {i})"))
        .unwrap_or_default();
    match r.status {
        401 => ProbeError::Auth(format!("{what}: HTTP 401 {code} {summary}{id}")),
        403 => ProbeError::Permission(format!("{what}: HTTP 403 {code} {summary}{id}")),
        s => ProbeError::Unexpected(format!("{what}: HTTP {s} {code} {summary}{id}")),
    }
}

use residual_probe::time_of;

/// A search string value, quoted (Okta follows the SCIM filter grammar).
fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

impl Collector<'_> {
    fn request<'r>(&'r self, url: String, path: &'r str) -> Request<'r> {
        let mut r = Request::get(url, path);
        if let Some(a) = &self.auth {
            r.secret_header = Some(("authorization", a));
        }
        r.headers.push(("accept", "application/json".into()));
        r
    }

    async fn get_ok(&self, url: String, path: &str) -> Result<Reply, ProbeError> {
        let r = self.http.send(&self.request(url, path)).await?;
        if (200..300).contains(&r.status) {
            Ok(r)
        } else {
            Err(classify(path, &r))
        }
    }

    /// Every page of a list, following `Link: rel="next"` (the `after` cursor).
    async fn list<T: DeserializeOwned>(
        &self,
        first: String,
        path: &str,
    ) -> Result<Vec<T>, ProbeError> {
        let mut out = Vec::new();
        let mut url = Some(first);
        let mut pages = 0u32;
        while let Some(u) = url {
            let r = self.get_ok(u, path).await?;
            out.extend(r.json::<Vec<T>>(path)?);
            url = link_next(r.header("link"));
            pages += 1;
            if pages > 100_000 {
                return Err(bad(format!("{path}: pagination does not end")));
            }
        }
        Ok(out)
    }

    /// Authenticate; returns who the scan is, and the roles it holds.
    async fn authenticate(&mut self) -> Result<(String, Vec<api::Role>), ProbeError> {
        match self.inst.auth.clone() {
            OktaAuth::ApiToken(t) => {
                let header = format!("SSWS {}", t.expose_secret());
                residual_probe::redact::register(&header);
                self.auth = Some(SecretString::from(header));
                let path = "/api/v1/users/me";
                let me: api::User = self
                    .get_ok(format!("{}{path}", self.base), path)
                    .await?
                    .json(path)?;
                let rpath = "/api/v1/users/{id}/roles";
                let roles: Vec<api::Role> = self
                    .get_ok(format!("{}/api/v1/users/{}/roles", self.base, me.id), rpath)
                    .await?
                    .json(rpath)?;
                let login = me.profile.login.clone().unwrap_or(me.id.clone());
                Ok((format!("API token of {login} ({})", me.id), roles))
            }
            OktaAuth::ServiceApp {
                client_id,
                private_key_pem,
                key_id,
            } => {
                let token = self
                    .service_app_token(&client_id, &private_key_pem, key_id.as_deref())
                    .await?;
                let header = format!("Bearer {}", token.expose_secret());
                residual_probe::redact::register(&header);
                self.auth = Some(SecretString::from(header));
                let rpath = "/oauth2/v1/clients/{clientId}/roles";
                let roles: Vec<api::Role> = self
                    .get_ok(
                        format!(
                            "{}/oauth2/v1/clients/{}/roles",
                            self.base,
                            encode(&client_id)
                        ),
                        rpath,
                    )
                    .await?
                    .json(rpath)?;
                Ok((format!("service app {client_id}"), roles))
            }
        }
    }

    /// The OAuth 2.0 client-credentials grant with a `private_key_jwt` client assertion.
    async fn service_app_token(
        &self,
        client_id: &str,
        pem: &SecretString,
        key_id: Option<&str>,
    ) -> Result<SecretString, ProbeError> {
        let path = "/oauth2/v1/token";
        let audience = format!("{}{path}", self.base);
        let assertion = client_assertion(client_id, &audience, pem, key_id)?;
        let body = format!(
            "grant_type=client_credentials&scope={}&client_assertion_type={}&client_assertion={}",
            encode(SCOPES),
            encode("urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
            encode(assertion.expose_secret())
        );
        let mut req = Request::get(audience.clone(), path);
        req.method = Method::POST;
        req.headers
            .push(("content-type", "application/x-www-form-urlencoded".into()));
        req.headers.push(("accept", "application/json".into()));
        req.body = Some(body.into_bytes());
        let r = self.http.send(&req).await?;
        let v: api::TokenResponse = serde_json::from_slice(&r.body).unwrap_or_default();
        if r.status != 200 {
            let e = v.error.unwrap_or_else(|| format!("HTTP {}", r.status));
            let d: String = v
                .error_description
                .unwrap_or_default()
                .chars()
                .take(200)
                .collect();
            return Err(ProbeError::Auth(format!(
                "{path}: {e} {}",
                residual_probe::redact::redact(&d)
            )));
        }
        let token = v
            .access_token
            .filter(|t| !t.is_empty())
            .ok_or_else(|| bad(format!("{path}: no access_token")))?;
        residual_probe::redact::register(&token);
        Ok(SecretString::from(token))
    }

    /// The built-in Everyone group's user count: proof the scan can see the org, and the size
    /// that prices a full listing.
    async fn everyone(&self) -> Result<u64, ProbeError> {
        let path = "/api/v1/groups";
        let url = format!(
            "{}{path}?search={}&expand=stats&limit=20",
            self.base,
            encode("type eq \"BUILT_IN\"")
        );
        let groups: Vec<api::Group> = self.get_ok(url, path).await?.json(path)?;
        let g = groups
            .iter()
            .find(|g| g.kind.as_deref() == Some("BUILT_IN"))
            .ok_or_else(|| {
                ProbeError::Permission(
                    "the built-in Everyone group is not visible: the scanning identity cannot see the org's users".into(),
                )
            })?;
        g.embedded
            .as_ref()
            .and_then(|e| e.stats.as_ref())
            .and_then(|s| s.users_count)
            .ok_or_else(|| {
                bad(format!(
                    "{path}: the Everyone group ({}) has no user count",
                    g.id
                ))
            })
    }

    async fn run(&mut self, filter: &dyn AccountFilter) -> Result<SystemSnapshot, ProbeError> {
        let (who, roles) = self.authenticate().await?;
        self.scan(who, roles, filter).await
    }

    async fn scan(
        &self,
        who: String,
        roles: Vec<api::Role>,
        filter: &dyn AccountFilter,
    ) -> Result<SystemSnapshot, ProbeError> {
        // An identity without an org-wide role gets a partial or empty user list with 200.
        let org_wide: Vec<&str> = roles
            .iter()
            .filter(|r| r.status.as_deref().is_none_or(|s| s == "ACTIVE"))
            .map(|r| r.kind.as_str())
            .filter(|k| ORG_WIDE.contains(k))
            .collect();
        if org_wide.is_empty() {
            let held: Vec<&str> = roles.iter().map(|r| r.kind.as_str()).collect();
            return Err(ProbeError::Permission(format!(
                "{who} holds no org-wide admin role (needs one of {}; holds {}): Okta would answer with a partial or empty user list",
                ORG_WIDE.join(", "),
                if held.is_empty() { "none".to_string() } else { held.join(", ") }
            )));
        }
        let count = self.everyone().await?;
        if count == 0 {
            return Err(ProbeError::Permission(
                "Okta counts no users in the Everyone group: the scanning identity cannot see the org".into(),
            ));
        }
        let mut snap = SystemSnapshot::new(
            SYSTEM,
            &self.inst.name,
            Some(format!("{who} ({})", org_wide.join(", "))),
        );
        snap.context.insert(
            "base_url".into(),
            residual_probe::http::clean_url(&self.base),
        );

        // Plan: list everyone, or look the leavers up.
        let cands = filter.candidates(SYSTEM);
        let queries = lookup_queries(&cands);
        let list_cost = count.div_ceil(PAGE as u64) + 1;
        let targeted = match self.inst.strategy {
            Strategy::Auto => (queries.len() as u64) < list_cost,
            Strategy::List => false,
            Strategy::Search => true,
        };
        snap.notes.push(format!(
            "planner: {}{} ({} search queries vs {list_cost} pages for {count} users)",
            if targeted {
                "search lookups"
            } else {
                "full listing"
            },
            if self.inst.strategy == Strategy::Auto {
                ""
            } else {
                ", as configured"
            },
            queries.len()
        ));
        let users: Vec<api::User> = if targeted {
            snap.looked_up = Some(cands.clone());
            let found: Vec<Vec<api::User>> = residual_probe::bounded(
                self.inst.concurrency,
                queries.into_iter().map(|q| async move {
                    let path = "/api/v1/users";
                    let url = format!("{}{path}?search={}&limit={PAGE}", self.base, encode(&q));
                    self.list::<api::User>(url, path).await
                }),
            )
            .await?;
            let mut seen = BTreeSet::new();
            found
                .into_iter()
                .flatten()
                .filter(|u| seen.insert(u.id.clone()))
                .collect()
        } else {
            let path = "/api/v1/users";
            let (listed, gone) = futures::join!(
                self.list::<api::User>(format!("{}{path}?limit={PAGE}", self.base), path),
                self.list::<api::User>(
                    format!(
                        "{}{path}?filter={}&limit={PAGE}",
                        self.base,
                        encode("status eq \"DEPROVISIONED\"")
                    ),
                    path
                ),
            );
            let (listed, gone) = (listed?, gone?);
            // The lists must reach the Everyone group's count: a short list is a partial view.
            let seen = (listed.len() + gone.len()) as u64;
            if seen < count {
                return Err(ProbeError::Permission(format!(
                    "/api/v1/users: listed {seen} users, the Everyone group counts {count}: the scanning identity sees only part of the org"
                )));
            }
            let mut all = listed;
            all.extend(gone);
            let mut seen = BTreeSet::new();
            all.retain(|u| seen.insert(u.id.clone()));
            all
        };
        snap.accounts_enumerated = users.len() as u64;

        let mut accounts: Vec<Account> =
            users.iter().map(user_account).collect::<Result<_, _>>()?;
        let wanted: Vec<usize> = (0..accounts.len())
            .filter(|&i| filter.wants(&accounts[i]))
            .collect();

        // API tokens of the whole org: one listing.
        let tpath = "/api/v1/api-tokens";
        match self
            .list::<api::ApiToken>(format!("{}{tpath}", self.base), tpath)
            .await
        {
            Ok(tokens) => {
                let index: HashMap<String, usize> = accounts
                    .iter()
                    .enumerate()
                    .map(|(i, a)| (a.id.clone(), i))
                    .collect();
                snap.notes
                    .push(format!("API tokens: {} in the org", tokens.len()));
                for t in &tokens {
                    let Some(&i) = t.user_id.as_ref().and_then(|u| index.get(u)) else {
                        continue;
                    };
                    accounts[i].credentials.push(token_credential(t)?);
                }
            }
            Err(e) => snap.gaps.push(Gap::blocks(tpath, &[API_TOKEN_OWNED], e)),
        }

        // Roles and app links of the wanted users; their groups only when a mover's revoke
        // list names an Okta group (a request per user nobody else needs).
        let with_groups = cands
            .entitlements
            .iter()
            .any(|e| e.starts_with("okta:group/"));
        if with_groups {
            snap.entitlement_kinds = vec!["okta:group".into()];
        }
        let jobs: Vec<(usize, String)> = wanted
            .iter()
            .map(|&i| (i, encode(&accounts[i].id)))
            .collect();
        let details = residual_probe::bounded(
            self.inst.concurrency,
            jobs.into_iter().map(|(i, id)| async move {
                let (roles, apps, groups) = futures::join!(
                    self.list::<api::Role>(
                        format!("{}/api/v1/users/{id}/roles", self.base),
                        "/api/v1/users/{id}/roles"
                    ),
                    self.list::<api::AppLink>(
                        format!("{}/api/v1/users/{id}/appLinks", self.base),
                        "/api/v1/users/{id}/appLinks"
                    ),
                    async {
                        if with_groups {
                            Some(
                                self.list::<api::Group>(
                                    format!("{}/api/v1/users/{id}/groups?limit=200", self.base),
                                    "/api/v1/users/{id}/groups",
                                )
                                .await,
                            )
                        } else {
                            None
                        }
                    },
                );
                Ok::<_, ProbeError>((i, roles, apps, groups))
            }),
        )
        .await?;
        for (i, roles, apps, groups) in details {
            let a = &mut accounts[i];
            match groups {
                None => {}
                Some(Ok(groups)) => {
                    for g in &groups {
                        let name = g
                            .profile
                            .as_ref()
                            .and_then(|p| p.name.clone())
                            .unwrap_or_else(|| g.id.clone());
                        let mut e = residual_probe::Entitlement::new("okta", "group", &name, false);
                        e.id = Some(g.id.clone());
                        a.entitlements.push(e);
                    }
                }
                // Every check but the mover's stands; the mover's cannot be told.
                Some(Err(e)) => snap.gaps.push(
                    Gap::blocks("/api/v1/users/{id}/groups", &[ENTITLEMENT_RETAINED], e)
                        .for_account(a.id.clone()),
                ),
            }
            match roles {
                Ok(roles) => {
                    for r in &roles {
                        let x = role_asset(a, r);
                        a.privileges.extend(x.privileges.iter().cloned());
                        snap.assets.push(x);
                    }
                }
                // Unread roles: the admin-role check cannot be decided, nor whether the user's
                // own finding is critical.
                Err(e) => {
                    snap.gaps.push(
                        Gap::blocks("/api/v1/users/{id}/roles", &[ADMIN_ROLE], e.clone())
                            .for_account(a.id.clone()),
                    );
                    snap.gaps.push(
                        Gap::severity("/api/v1/users/{id}/roles", &[USER_ACTIVE], e)
                            .for_account(a.id.clone()),
                    );
                }
            }
            match apps {
                Ok(apps) => snap.assets.extend(apps.iter().map(|l| app_asset(a, l))),
                Err(e) => snap.gaps.push(
                    Gap::blocks("/api/v1/users/{id}/appLinks", &[APP_ASSIGNMENT_CHECK], e)
                        .for_account(a.id.clone()),
                ),
            }
            a.detailed = true;
        }
        let rate = self.http.rate();
        if let (Some(rem), Some(lim)) = (rate.remaining, rate.limit) {
            snap.notes.push(format!(
                "rate limit (last bucket seen): {rem} of {lim} remaining"
            ));
        }
        snap.accounts = accounts;
        snap.accounts.sort_by(|a, b| a.id.cmp(&b.id));
        snap.assets.sort_by(|a, b| a.id.cmp(&b.id));
        identify(&mut snap);
        Ok(snap)
    }
}

/// Okta users carry a login, emails (primary and secondary) and an employee number.
pub(crate) fn identify(snap: &mut SystemSnapshot) {
    snap.identify_by(
        &[
            Identifier::Email,
            Identifier::Handle,
            Identifier::Username,
            Identifier::EmployeeId,
        ],
        None,
    );
}

/// The search queries that find every user a leaver could be: login, primary or secondary
/// email (and `+tag` variants), a login equal to the email's local part, employee number.
/// Terms are OR-ed into queries of at most [`MAX_QUERY`] characters. `search` includes
/// DEPROVISIONED users and compares values case-insensitively.
fn lookup_queries(c: &residual_probe::Candidates) -> Vec<String> {
    let mut terms: BTreeSet<String> = BTreeSet::new();
    let mut locals: BTreeSet<&str> = BTreeSet::new();
    for e in &c.emails {
        let q = quote(e);
        let local = e.split('@').next().unwrap_or(e);
        locals.insert(local);
        let sub = quote(&format!("{local}+"));
        terms.insert(format!(
            "profile.login eq {q} or profile.email eq {q} or profile.secondEmail eq {q} or profile.login sw {sub} or profile.email sw {sub} or profile.login eq {}",
            quote(local)
        ));
    }
    // Handles and aliases that are not an email's local part (already searched above).
    for l in c.logins.iter().filter(|l| !locals.contains(l.as_str())) {
        terms.insert(format!("profile.login eq {}", quote(l)));
    }
    for x in &c.external_ids {
        terms.insert(format!("profile.employeeNumber eq {}", quote(x)));
    }
    let mut out: Vec<String> = Vec::new();
    let mut cur = String::new();
    for t in terms {
        if !cur.is_empty() && cur.len() + t.len() + 6 > MAX_QUERY {
            out.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push_str(" or ");
        }
        cur.push('(');
        cur.push_str(&t);
        cur.push(')');
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// A `private_key_jwt` client assertion (RS256): issuer and subject the client id, audience
/// the token endpoint, valid five minutes, a fresh `jti`.
fn client_assertion(
    client_id: &str,
    audience: &str,
    pem: &SecretString,
    key_id: Option<&str>,
) -> Result<SecretString, ProbeError> {
    #[derive(serde::Serialize)]
    struct Claims<'a> {
        iss: &'a str,
        sub: &'a str,
        aud: &'a str,
        iat: i64,
        exp: i64,
        jti: String,
    }
    let now = OffsetDateTime::now_utc();
    let claims = Claims {
        iss: client_id,
        sub: client_id,
        aud: audience,
        iat: now.unix_timestamp(),
        exp: now.unix_timestamp() + 300,
        jti: format!(
            "residual-{}-{}",
            now.unix_timestamp_nanos(),
            std::process::id()
        ),
    };
    residual_probe::jwt::sign_rs256(&claims, pem, key_id, "private_key_file")
}

#[cfg(test)]
mod tests {
    #[test]
    fn lookups_pack_terms_and_quote_values() {
        let c = residual_probe::Candidates {
            emails: vec!["a\"b@acme.example".into()],
            logins: vec!["a\"b".into(), "jdoe".into()],
            external_ids: vec!["E1".into(), "E2".into()],
            ..Default::default()
        };
        let q = super::lookup_queries(&c);
        assert_eq!(q.len(), 1, "{q:?}");
        assert!(
            q[0].contains("profile.login eq \"a\\\"b@acme.example\""),
            "{q:?}"
        );
        assert!(q[0].contains("profile.secondEmail eq"), "{q:?}");
        assert!(q[0].contains("profile.login sw \"a\\\"b+\""), "{q:?}");
        assert!(q[0].contains("(profile.login eq \"jdoe\")"), "{q:?}");
        assert!(q[0].contains("(profile.employeeNumber eq \"E2\")"), "{q:?}");
        // The local part is searched once, inside the email's term.
        assert_eq!(
            q[0].matches("profile.login eq \"a\\\"b\"").count(),
            1,
            "{q:?}"
        );

        let many = residual_probe::Candidates {
            emails: (0..40).map(|i| format!("person{i}@acme.example")).collect(),
            ..Default::default()
        };
        let q = super::lookup_queries(&many);
        assert!(
            q.len() > 1 && q.iter().all(|s| s.len() <= super::MAX_QUERY),
            "{q:?}"
        );
        for i in 0..40 {
            let e = format!("profile.email eq \"person{i}@acme.example\"");
            assert_eq!(q.iter().filter(|s| s.contains(&e)).count(), 1, "{e}");
        }
    }
}
