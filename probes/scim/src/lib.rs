//! The SCIM 2.0 probe (RFC 7643/7644): one generic client for every `[[scim]]` application.
//! A user with `active: true` (or no `active` at all: absence is not evidence of
//! deactivation) for a leaver is residual access; `active: false` is deprovisioned evidence.
//!
//! Planning: a filter lookup (`userName eq … or emails.value eq …`, `externalId eq …`) costs
//! one request per identifier; listing costs `totalResults / itemsPerPage` pages, known from
//! the first page. The cheaper wins; a server that rejects filters (`invalidFilter`) is
//! listed instead. SCIM error bodies become named errors.

pub mod api;
mod config;
mod demo;
#[cfg(test)]
mod mock_tests;

use std::collections::{BTreeMap, BTreeSet};

use residual_probe::config::{ConfigCtx, ConfigError};
use residual_probe::http::{encode, Http, HttpPolicy, Reply, Request};
use residual_probe::{
    Account, AccountFilter, AccountState, CheckId, Probe, ProbeError, SystemSnapshot,
};
use secrecy::SecretString;

pub const SYSTEM: &str = "scim";
pub const USER: &str = "scim_user";
const PAGE: u64 = 100;

/// The catalogue's checks, as code names them.
pub const USER_ACTIVE: CheckId = CheckId("scim_user_active");

/// The SCIM system, for the registry.
pub struct Scim;

impl residual_probe::System for Scim {
    fn name(&self) -> &'static str {
        SYSTEM
    }
    fn title(&self) -> &'static str {
        "SCIM 2.0 apps"
    }
    fn catalogue(&self) -> &'static str {
        include_str!("../checks.toml")
    }
    fn check_ids(&self) -> &'static [CheckId] {
        &[USER_ACTIVE]
    }
    fn config_keys(&self) -> &'static [&'static str] {
        residual_probe::config::field_names::<config::RawScim>()
    }
    fn configure(&self, cx: &ConfigCtx) -> Result<Vec<Box<dyn Probe>>, ConfigError> {
        config::configure(cx)
    }
    fn demo(&self) -> Vec<SystemSnapshot> {
        demo::demo()
    }
}

#[derive(Debug, Clone)]
pub struct ScimInstance {
    pub name: String,
    pub base_url: String,
    pub token: SecretString,
    /// The variable the token came from, for remediation commands (never the token).
    pub token_env: Option<String>,
    pub concurrency: usize,
    pub http: HttpPolicy,
}

pub struct ScimProbe(pub ScimInstance);

#[async_trait::async_trait]
impl residual_probe::Probe for ScimProbe {
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

pub async fn collect(inst: &ScimInstance, filter: &dyn AccountFilter) -> SystemSnapshot {
    residual_probe::http::collect_with(SYSTEM, &inst.name, inst.http, |http| async move {
        Collector {
            inst,
            http,
            base: inst.base_url.trim_end_matches('/').to_string(),
        }
        .run(filter)
        .await
    })
    .await
}

struct Collector<'a> {
    inst: &'a ScimInstance,
    http: Http,
    base: String,
}

fn bad(e: String) -> ProbeError {
    ProbeError::Unexpected(e)
}

/// SCIM users carry a userName, emails and an externalId; remediation needs the base URL and
/// the token variable's name.
pub(crate) fn identify(snap: &mut SystemSnapshot, base_url: &str, token_env: Option<&str>) {
    use residual_probe::Identifier::{Email, EmployeeId, Username};
    snap.identify_by(&[Email, Username, EmployeeId], None);
    snap.context
        .insert("base_url".into(), residual_probe::http::clean_url(base_url));
    snap.context.insert(
        "token_env".into(),
        token_env.unwrap_or("SCIM_TOKEN").to_string(),
    );
}

fn error_body(r: &Reply) -> api::Error {
    serde_json::from_slice(&r.body).unwrap_or_default()
}

/// A SCIM error (`urn:ietf:params:scim:api:messages:2.0:Error`): status, scimType, detail.
fn classify(what: &str, r: &Reply) -> ProbeError {
    let e = error_body(r);
    let scim_type = e.scim_type.unwrap_or_default();
    let detail: String = e.detail.unwrap_or_default().chars().take(200).collect();
    let detail = residual_probe::redact::redact(&detail);
    match r.status {
        401 => ProbeError::Auth(format!("{what}: HTTP 401 {detail}")),
        403 => ProbeError::Permission(format!("{what}: HTTP 403 {scim_type} {detail}")),
        s => ProbeError::Unexpected(format!("{what}: HTTP {s} {scim_type} {detail}")),
    }
}

fn is_filter_rejection(r: &Reply) -> bool {
    matches!(r.status, 400 | 501)
        && matches!(
            error_body(r).scim_type.as_deref(),
            Some("invalidFilter") | None
        )
}

/// RFC 7644 §3.4.2.2: a filter string value, quoted and escaped.
fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn user_account(u: &api::User) -> Account {
    let user_name = u.user_name.clone().unwrap_or_default();
    let emails: Vec<String> = u
        .emails
        .iter()
        .flatten()
        .filter_map(|e| e.value.clone())
        .collect();
    // RFC 7643: `active` is optional. Only an explicit false is deprovisioning.
    let state = match u.active {
        Some(false) => AccountState::Disabled,
        _ => AccountState::Active,
    };
    let mut attributes = BTreeMap::new();
    if u.active.is_none() {
        attributes.insert("active".into(), "absent (treated as active)".into());
    }
    Account {
        id: u.id.clone(),
        resource_type: USER.into(),
        name: user_name.clone(),
        usernames: vec![user_name],
        emails,
        external_ids: u.external_id.iter().cloned().collect(),
        owner_refs: vec![],
        state,
        role: None,
        privileges: vec![],
        created_at: None,
        last_login_at: None,
        credentials: vec![],
        detailed: true,
        attributes,
        entitlements: vec![],
    }
}

impl Collector<'_> {
    async fn get(&self, query: &str) -> Result<Reply, ProbeError> {
        let mut req = Request::get(format!("{}/Users{query}", self.base), "/Users");
        req.bearer = Some(&self.inst.token);
        req.headers.push(("accept", "application/scim+json".into()));
        self.http.send(&req).await
    }

    /// One `ListResponse` page: (resources, totalResults).
    fn page(r: &Reply) -> Result<(Vec<api::User>, u64), ProbeError> {
        let v: api::ListResponse = r.json("/Users ListResponse")?;
        Ok((v.resources.unwrap_or_default(), v.total_results))
    }

    /// Every user, page by page. The pages must add up: a server that ignores `startIndex`
    /// (answering page one again) or miscounts `totalResults` is an error, not a short list.
    async fn list_all(&self, first: (Vec<api::User>, u64)) -> Result<Vec<api::User>, ProbeError> {
        let (mut users, total) = first;
        let mut ids: BTreeSet<String> = users.iter().map(|u| u.id.clone()).collect();
        while (users.len() as u64) < total {
            let start = users.len() as u64 + 1;
            let r = self
                .get(&format!("?startIndex={start}&count={PAGE}"))
                .await?;
            if r.status != 200 {
                return Err(classify("/Users", &r));
            }
            let (page, _) = Self::page(&r)?;
            if page.is_empty() {
                return Err(bad(format!(
                    "/Users: empty page at startIndex {start} of {total}"
                )));
            }
            for u in &page {
                let id = &u.id;
                if !ids.insert(id.clone()) {
                    return Err(bad(format!(
                        "/Users: user {id} came back again at startIndex {start}: the server does not page"
                    )));
                }
            }
            users.extend(page);
        }
        if ids.len() as u64 != total {
            return Err(bad(format!(
                "/Users: read {} distinct users, totalResults says {total}",
                ids.len()
            )));
        }
        Ok(users)
    }

    async fn run(&self, filter: &dyn AccountFilter) -> Result<SystemSnapshot, ProbeError> {
        let mut snap = SystemSnapshot::new(
            SYSTEM,
            &self.inst.name,
            Some(format!(
                "bearer token for {}",
                residual_probe::http::host_label(&self.base)
            )),
        );
        let r = self.get(&format!("?startIndex=1&count={PAGE}")).await?;
        if r.status != 200 {
            return Err(classify("/Users", &r));
        }
        let first = Self::page(&r)?;
        let total_users = first.1;
        let per_page = (first.0.len() as u64).max(1);
        let list_cost = first.1.div_ceil(per_page).saturating_sub(1);
        let cands = filter.candidates(SYSTEM);
        let mut filters: BTreeSet<String> = BTreeSet::new();
        for e in &cands.emails {
            // `sw "local+"` also finds sub-addressed variants (`alice+slack@…`), which a full
            // listing would match after normalisation: both plans must see the same users.
            let local = e.split('@').next().unwrap_or(e);
            filters.insert(format!(
                "userName eq {0} or emails.value eq {0} or userName sw {1} or emails.value sw {1}",
                quote(e),
                quote(&format!("{local}+"))
            ));
        }
        for l in &cands.logins {
            filters.insert(format!("userName eq {}", quote(l)));
        }
        for x in &cands.external_ids {
            filters.insert(format!("externalId eq {}", quote(x)));
        }
        let targeted = (filters.len() as u64) < list_cost;
        snap.notes.push(format!(
            "planner: {} ({} filter lookups vs {list_cost} more pages for {} users)",
            if targeted {
                "filter lookups"
            } else {
                "full listing"
            },
            filters.len(),
            first.1
        ));
        if targeted {
            snap.looked_up = Some(cands.clone());
        }
        let users = if targeted {
            match self.lookups(&filters).await {
                Ok(u) => u,
                Err(None) => {
                    snap.notes
                        .push("the server rejected filters: listed instead".into());
                    // Listed after all: every user was seen, none only looked up.
                    snap.looked_up = None;
                    self.list_all(first).await?
                }
                Err(Some(e)) => return Err(e),
            }
        } else {
            self.list_all(first).await?
        };
        // The app's own count, from the first page, whichever way the users were read.
        snap.accounts_enumerated = total_users;
        // Filter lookups can return one user for several filters; listing cannot repeat.
        let mut seen = BTreeSet::new();
        for u in &users {
            let a = user_account(u);
            if seen.insert(a.id.clone()) {
                snap.accounts.push(a);
            }
        }
        snap.accounts.sort_by(|a, b| a.id.cmp(&b.id));
        identify(
            &mut snap,
            &self.inst.base_url,
            self.inst.token_env.as_deref(),
        );
        Ok(snap)
    }

    /// Filter lookups, concurrently. `Err(None)`: the server does not filter (list instead).
    async fn lookups(
        &self,
        filters: &BTreeSet<String>,
    ) -> Result<Vec<api::User>, Option<ProbeError>> {
        // Owned values into the stream: borrowed ones trip async-trait's Send inference.
        let results: Vec<Vec<api::User>> = residual_probe::bounded(
            self.inst.concurrency,
            filters.iter().cloned().map(|f| async move {
                let r = self
                    .get(&format!("?filter={}&count={PAGE}", encode(&f)))
                    .await
                    .map_err(Some)?;
                if r.status == 200 {
                    let (page, total) = Self::page(&r).map_err(Some)?;
                    if total > page.len() as u64 {
                        return Err(Some(bad(format!(
                            "/Users: filter {f} matched {total} users, more than one page"
                        ))));
                    }
                    Ok(page)
                } else if is_filter_rejection(&r) {
                    Err(None)
                } else {
                    Err(Some(classify("/Users?filter", &r)))
                }
            }),
        )
        .await?;
        Ok(results.into_iter().flatten().collect())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn filter_values_are_quoted() {
        assert_eq!(super::quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
    }

    #[test]
    fn absent_active_is_active() {
        let u = |v| serde_json::from_value::<super::api::User>(v).unwrap();
        let a = super::user_account(&u(serde_json::json!({"id": "1", "userName": "x"})));
        assert_eq!(a.state, residual_probe::AccountState::Active);
        let a = super::user_account(&u(
            serde_json::json!({"id": "1", "userName": "x", "active": false}),
        ));
        assert_eq!(a.state, residual_probe::AccountState::Disabled);
    }
}
