//! The GitHub probe: for one org, who is still a member (and an owner), an outside
//! collaborator or invited; which SSO-authorised PATs and SSH keys, fine-grained PATs and
//! deploy keys they left; and the org secrets an owner who left could have read.
//!
//! Correlation material: logins (explicit handles, aliases, email local parts) and, when the
//! org uses SAML SSO, each member's SAML NameID (an email) from the GraphQL API.
//!
//! Planning: the first members page tells how many pages a full listing costs; when the scan
//! has fewer candidate logins than that, it looks each one up instead
//! (`/orgs/{org}/memberships/{login}`, `credential-authorizations?login=`,
//! `personal-access-tokens?owner[]=`). The choice and both costs go to the manifest.
//!
//! Fail closed: the members inventory failing fails the instance; any other part the token
//! cannot read (no SAML plan, no App for fine-grained PATs, 403/404) is a named [`Gap`]
//! against the checks it feeds — never an empty list.

pub mod api;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use residual_probe::http::{link_next, link_rel, Http, HttpPolicy, Reply, Request};
use residual_probe::{
    Account, AccountFilter, AccountState, Asset, Credential, Gap, OwnerRef, ProbeError,
    SystemSnapshot,
};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use time::OffsetDateTime;

pub const SYSTEM: &str = "github";
pub const CHECKS: &str = include_str!("../checks.toml");

pub const MEMBER: &str = "github_member";
pub const OUTSIDE_COLLABORATOR: &str = "github_outside_collaborator";
pub const INVITATION: &str = "github_invitation";
/// An account known only as the owner of a token (not a member or collaborator any more).
pub const TOKEN_OWNER: &str = "github_token_owner";
pub const SSO_CREDENTIAL: &str = "github_sso_credential";
pub const FINE_GRAINED_PAT: &str = "github_fine_grained_pat";
pub const DEPLOY_KEY: &str = "github_deploy_key";
pub const ORG_SECRET: &str = "github_org_secret";

/// How the probe authenticates.
#[derive(Debug, Clone)]
pub enum GithubAuth {
    Token(SecretString),
    /// A GitHub App installation: required by GitHub to list fine-grained PAT grants.
    App {
        app_id: u64,
        private_key_pem: SecretString,
        installation_id: u64,
    },
}

/// One `[[github]]` table, validated.
#[derive(Debug, Clone)]
pub struct GithubInstance {
    pub org: String,
    pub api_url: String,
    pub auth: GithubAuth,
    pub concurrency: usize,
    pub http: HttpPolicy,
}

const PER_PAGE: u32 = 100;

pub struct GithubProbe(pub GithubInstance);

#[async_trait::async_trait]
impl residual_probe::Probe for GithubProbe {
    fn system(&self) -> &'static str {
        SYSTEM
    }
    fn label(&self) -> String {
        self.0.org.clone()
    }
    async fn collect(&self, filter: &dyn AccountFilter) -> SystemSnapshot {
        collect(&self.0, filter).await
    }
}

pub async fn collect(inst: &GithubInstance, filter: &dyn AccountFilter) -> SystemSnapshot {
    residual_probe::http::collect_with(SYSTEM, &inst.org, inst.http, |http| async move {
        let c = Collector {
            inst,
            http,
            base: inst.api_url.trim_end_matches('/').to_string(),
            token: SecretString::from(String::new()),
            sees_all: false,
        };
        c.run(filter).await
    })
    .await
}

struct Collector<'a> {
    inst: &'a GithubInstance,
    http: Http,
    base: String,
    token: SecretString,
    /// The scanning identity can see everything an owner sees (an org owner's token, or an
    /// App installation): only then does an absent SAML provider mean "no SAML".
    sees_all: bool,
}

/// Map a non-success status to an error. `what` is the endpoint, for the message.
fn classify(what: &str, r: &Reply) -> ProbeError {
    let msg = serde_json::from_slice::<api::ErrorBody>(&r.body)
        .ok()
        .and_then(|b| b.message)
        .map(|m| residual_probe::redact::redact(&m.chars().take(200).collect::<String>()))
        .unwrap_or_default();
    match r.status {
        401 => ProbeError::Auth(format!("{what}: HTTP 401 {msg}")),
        403 | 404 => ProbeError::Permission(format!(
            "{what}: HTTP {} {msg} (the token may lack the scope, role or plan this needs)",
            r.status
        )),
        s => ProbeError::Unexpected(format!("{what}: HTTP {s} {msg}")),
    }
}

fn bad(e: String) -> ProbeError {
    ProbeError::Unexpected(e)
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

/// What the planner decided, for the manifest.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Plan {
    List,
    Targeted,
}

impl Collector<'_> {
    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    fn request<'r>(&'r self, url: String, path: &'r str) -> Request<'r> {
        let mut r = Request::get(url, path);
        r.bearer = Some(&self.token);
        r.headers
            .push(("accept", "application/vnd.github+json".into()));
        r.headers
            .push(("x-github-api-version", "2022-11-28".into()));
        r
    }

    async fn get(&self, url: String, path: &str) -> Result<Reply, ProbeError> {
        self.http.send(&self.request(url, path)).await
    }

    /// GET one page and demand 2xx.
    async fn get_ok(&self, url: String, path: &str) -> Result<Reply, ProbeError> {
        let r = self.get(url, path).await?;
        if (200..300).contains(&r.status) {
            Ok(r)
        } else {
            Err(classify(path, &r))
        }
    }

    /// Every page of a list endpoint, following `Link: rel="next"` exactly as given.
    async fn list<T: DeserializeOwned>(
        &self,
        first: String,
        path: &str,
    ) -> Result<Vec<T>, ProbeError> {
        let mut out = Vec::new();
        let mut url = Some(first);
        let mut pages = 0;
        while let Some(u) = url {
            let r = self.get_ok(u, path).await?;
            let items: Vec<T> = r.json(path)?;
            out.extend(items);
            url = link_next(r.header("link"));
            pages += 1;
            if pages > 100_000 {
                return Err(bad(format!("{path}: pagination does not end")));
            }
        }
        Ok(out)
    }

    async fn authenticate(&mut self) -> Result<String, ProbeError> {
        match &self.inst.auth {
            GithubAuth::Token(t) => {
                self.token = t.clone();
                let r = self.get_ok(self.url("/user"), "/user").await?;
                let u: api::SimpleUser = r.json("/user")?;
                // A classic token without read:org sees public members only, and a membership
                // lookup answers 404 for a concealed member: that would read as "not a member".
                if let Some(scopes) = r.header("x-oauth-scopes") {
                    let ok = scopes
                        .split(',')
                        .map(str::trim)
                        .any(|s| matches!(s, "read:org" | "write:org" | "admin:org"));
                    if !ok {
                        return Err(ProbeError::Permission(format!("the token's scopes ({scopes}) lack read:org: concealed members would be invisible")));
                    }
                }
                // The token's own user must be an active member, or private memberships are
                // hidden from it.
                let path = format!("/orgs/{}/memberships/{{username}}", self.inst.org);
                let r = self
                    .get(
                        self.url(&format!("/orgs/{}/memberships/{}", self.inst.org, u.login)),
                        &path,
                    )
                    .await?;
                let m: api::Membership = match r.status {
                    200 => r.json(&path)?,
                    _ => return Err(ProbeError::Permission(format!("the token's user {} is not a member of {}: concealed members would be invisible (HTTP {})", u.login, self.inst.org, r.status))),
                };
                if m.state != "active" {
                    return Err(ProbeError::Permission(format!(
                        "the token's user {} has a {} membership of {}",
                        u.login, m.state, self.inst.org
                    )));
                }
                self.sees_all = m.role == "admin";
                Ok(format!(
                    "user {} ({}), org {}",
                    u.login,
                    u.id,
                    if m.role == "admin" { "owner" } else { "member" }
                ))
            }
            GithubAuth::App {
                app_id,
                private_key_pem,
                installation_id,
            } => {
                let jwt = app_jwt(*app_id, private_key_pem)?;
                residual_probe::redact::register(jwt.expose_secret());
                let mut req = Request::get(self.url("/app"), "/app");
                req.bearer = Some(&jwt);
                req.headers
                    .push(("accept", "application/vnd.github+json".into()));
                let r = self.http.send(&req).await?;
                if r.status != 200 {
                    return Err(classify("/app", &r));
                }
                let app: api::App = r.json("/app")?;
                let path = format!("/app/installations/{installation_id}/access_tokens");
                let mut req = Request::get(self.url(&path), &path);
                req.method = residual_probe::http::Method::POST;
                req.bearer = Some(&jwt);
                req.headers
                    .push(("accept", "application/vnd.github+json".into()));
                let r = self.http.send(&req).await?;
                if r.status != 201 && r.status != 200 {
                    return Err(classify(&path, &r));
                }
                let tok: api::InstallationToken = r.json(&path)?;
                residual_probe::redact::register(&tok.token);
                self.token = SecretString::from(tok.token);
                self.sees_all = true;
                Ok(format!(
                    "app {} ({}) installation {installation_id}",
                    app.slug.unwrap_or_default(),
                    app.id
                ))
            }
        }
    }

    /// SAML NameID (normalised email) → login, or `None` when the org has no SAML provider.
    async fn saml_identities(&self) -> Result<Option<HashMap<String, String>>, ProbeError> {
        let url = api::graphql_url(&self.base);
        let mut map = HashMap::new();
        let mut after: Option<String> = None;
        loop {
            let body = serde_json::json!({
                "query": api::SAML_QUERY,
                "variables": {"org": self.inst.org, "first": PER_PAGE, "after": after},
            });
            let mut req = self.request(url.clone(), "/graphql (SAML identities)");
            req.method = residual_probe::http::Method::POST;
            req.headers
                .push(("content-type", "application/json".into()));
            req.body = Some(serde_json::to_vec(&body).map_err(|e| bad(e.to_string()))?);
            let r = self.http.send(&req).await?;
            if r.status != 200 {
                return Err(classify("/graphql", &r));
            }
            let g: api::GraphQl<api::SamlData> = r.json("/graphql")?;
            if let Some(e) = g.errors.first() {
                let m = residual_probe::redact::redact(&e.message);
                return Err(match e.kind.as_deref() {
                    Some("FORBIDDEN") | Some("INSUFFICIENT_SCOPES") => {
                        ProbeError::Permission(format!("/graphql SAML identities: {m}"))
                    }
                    _ => ProbeError::Unexpected(format!("/graphql SAML identities: {m}")),
                });
            }
            let org = g.data.and_then(|d| d.organization).ok_or_else(|| {
                ProbeError::Permission(format!(
                    "/graphql: organization {} not visible to this token",
                    self.inst.org
                ))
            })?;
            let Some(idp) = org.saml_identity_provider else {
                return Ok(None);
            };
            let conn = idp.external_identities;
            for n in conn.nodes {
                if let (Some(name_id), Some(user)) =
                    (n.saml_identity.and_then(|s| s.name_id), n.user)
                {
                    map.insert(residual_probe::normalize_email(&name_id), user.login);
                }
            }
            if !conn.page_info.has_next_page {
                return Ok(Some(map));
            }
            after = conn.page_info.end_cursor;
            if after.is_none() {
                return Err(bad("/graphql: hasNextPage without endCursor".into()));
            }
        }
    }

    async fn run(mut self, filter: &dyn AccountFilter) -> Result<SystemSnapshot, ProbeError> {
        let org = self.inst.org.clone();
        let who = self.authenticate().await?;
        let this = &self;
        let mut snap = SystemSnapshot::new(SYSTEM, &org, Some(who));
        let cands = filter.candidates(SYSTEM);
        let collab_path = format!("/orgs/{org}/outside_collaborators");
        let inv_path = format!("/orgs/{org}/invitations");
        let secrets_path = format!("/orgs/{org}/actions/secrets");

        // What does not depend on who the members are starts at once, beside the membership
        // reads: collaborators, invitations, deploy keys (one request per repository), secrets.
        let independent = async {
            futures::join!(
                this.list::<api::SimpleUser>(
                    this.url(&format!("{collab_path}?per_page={PER_PAGE}")),
                    &collab_path
                ),
                this.list::<api::Invitation>(
                    this.url(&format!("{inv_path}?per_page={PER_PAGE}")),
                    &inv_path
                ),
                this.deploy_keys(&org),
                this.secrets(&secrets_path),
            )
        };
        let (core, (collabs, invitations, keys, secrets)) =
            futures::join!(this.membership(&cands), independent);
        let core = core?;
        snap.notes.extend(core.notes);
        snap.gaps.extend(core.gaps);
        snap.accounts_enumerated = core.enumerated;
        if core.plan == Plan::Targeted {
            snap.looked_up = Some(cands.clone());
        }
        let (plan, login_to_nameid, mut accounts) =
            (core.plan, core.login_to_nameid, core.accounts);

        match collabs {
            Ok(users) => {
                for u in users {
                    let mut a = member_account(&u, "outside collaborator", &login_to_nameid);
                    a.resource_type = OUTSIDE_COLLABORATOR.into();
                    a.role = None;
                    accounts.insert(u.login.to_lowercase(), a);
                }
            }
            Err(e) => snap
                .gaps
                .push(gap(&collab_path, &["github_outside_collaborator"], e)),
        }
        match invitations {
            Ok(invs) => {
                for i in invs {
                    snap.accounts.push(invitation_account(&i).map_err(bad)?);
                }
            }
            Err(e) => snap
                .gaps
                .push(gap(&inv_path, &["github_invitation_pending"], e)),
        }
        match keys {
            Ok((keys, repos)) => {
                snap.notes.push(format!(
                    "deploy keys: {} across {repos} repositories",
                    keys.len()
                ));
                snap.assets.extend(keys);
            }
            Err(e) => snap.gaps.push(gap(
                &format!("/repos/{org}/{{repo}}/keys"),
                &["github_deploy_key_added_by"],
                e,
            )),
        }
        match secrets {
            Ok(secrets) => snap.assets.extend(secrets),
            Err(e) => snap
                .gaps
                .push(gap(&secrets_path, &["github_org_secret_not_rotated"], e)),
        }

        // Targeted calls cover only the accounts some leaver could be.
        let wanted: Vec<String> = accounts
            .iter()
            .filter(|(_, a)| filter.wants(a))
            .map(|(login, _)| login.clone())
            .collect();
        let cred_path = format!("/orgs/{org}/credential-authorizations");
        let pat_path = format!("/orgs/{org}/personal-access-tokens");
        let teams_path = format!("/orgs/{org}/teams");
        let (auths, grants, teams) = futures::join!(
            this.credential_authorizations(plan, &cred_path, &wanted),
            this.pat_grants(plan, &pat_path, &wanted),
            async {
                // Teams are evidence only; a huge org's teams would cost more than the whole
                // targeted scan, so they are read when listing.
                if plan == Plan::List {
                    Some(this.teams(&teams_path).await)
                } else {
                    None
                }
            },
        );
        match auths {
            Ok(list) => {
                for c in list {
                    let cred = sso_credential(&c).map_err(bad)?;
                    owner_account(&mut accounts, &c.login, 0)
                        .credentials
                        .push(cred);
                }
            }
            Err(e) => snap
                .gaps
                .push(gap(&cred_path, &["github_sso_credential_authorized"], e)),
        }
        match grants {
            Ok(list) => {
                for g in list {
                    let cred = pat_credential(&g).map_err(bad)?;
                    owner_account(&mut accounts, &g.owner.login, g.owner.id)
                        .credentials
                        .push(cred);
                }
            }
            Err(e) => snap
                .gaps
                .push(gap(&pat_path, &["github_fine_grained_pat_granted"], e)),
        }
        match teams {
            Some(Ok(teams)) => {
                for (login, slugs) in teams {
                    if let Some(a) = accounts.get_mut(&login) {
                        a.attributes.insert("teams".into(), slugs.join(";"));
                    }
                }
            }
            Some(Err(e)) => snap
                .notes
                .push(format!("teams not read (evidence only): {e}")),
            None => snap.notes.push("teams not read: targeted plan".into()),
        }

        for a in accounts.values_mut() {
            a.detailed = true;
        }
        snap.accounts.extend(accounts.into_values());
        snap.accounts
            .sort_by(|a, b| (&a.resource_type, &a.id).cmp(&(&b.resource_type, &b.id)));
        snap.assets.sort_by(|a, b| a.id.cmp(&b.id));
        let rate = this.http.rate();
        if let (Some(rem), Some(lim)) = (rate.remaining, rate.limit) {
            snap.notes.push(format!(
                "rate limit: {rem} of {lim} remaining{}",
                rate.reset
                    .and_then(|r| OffsetDateTime::from_unix_timestamp(r).ok())
                    .map(|t| format!(", resets {}", residual_probe::rfc3339(t)))
                    .unwrap_or_default()
            ));
        }
        Ok(snap)
    }

    /// Who is a member, and with which role: the SAML directory (when a leaver needs it),
    /// the planner's choice, then a full listing or targeted lookups.
    async fn membership(&self, cands: &residual_probe::Candidates) -> Result<Core, ProbeError> {
        let org = &self.inst.org;
        let mut core = Core {
            plan: Plan::List,
            login_to_nameid: HashMap::new(),
            accounts: BTreeMap::new(),
            enumerated: 0,
            notes: Vec::new(),
            gaps: Vec::new(),
        };
        let members_path = format!("/orgs/{org}/members");
        let first_url = self.url(&format!("{members_path}?per_page={PER_PAGE}"));
        // Only a leaver without a GitHub handle needs the directory; for a huge org it is the
        // most expensive read of the scan (one GraphQL page per 100 identities).
        let (directory, first) = futures::join!(
            async {
                if cands.needs_directory {
                    self.saml_identities().await
                } else {
                    Ok(Some(HashMap::new()))
                }
            },
            self.get_ok(first_url, &members_path),
        );
        let mut saml: HashMap<String, String> = HashMap::new();
        match directory {
            Ok(Some(m)) if cands.needs_directory => {
                core.notes
                    .push(format!("SAML SSO: {} linked identities", m.len()));
                saml = m;
            }
            Ok(Some(_)) => core
                .notes
                .push("SAML identities not read: every leaver has an explicit GitHub login".into()),
            Ok(None) if self.sees_all => core
                .notes
                .push("SAML SSO: not configured for this org; matching by login only".into()),
            // Only owners (and Apps) see the SAML provider: for anyone else "none" may mean
            // "hidden", and leavers without a GitHub login could not be matched.
            Ok(None) => core.gaps.push(Gap {
                account_id: None,
                what: "SAML identities (not visible to a non-owner token)".into(),
                checks: ["github_org_member", "github_sso_credential_authorized", "github_fine_grained_pat_granted"].iter().map(|s| s.to_string()).collect(),
                error: ProbeError::Permission("the SAML provider is visible to org owners only; scan with an owner's token or a GitHub App".into()),
            }),
            // Without the directory a leaver with no known login could not be matched: a gap
            // against every check, never "no account".
            Err(e) => core.gaps.push(Gap {
                account_id: None,
                what: "SAML identities (email to login)".into(),
                checks: [
                    "github_org_member",
                    "github_sso_credential_authorized",
                    "github_fine_grained_pat_granted",
                ]
                .iter()
                .map(|s| s.to_string())
                .collect(),
                error: e.redacted(),
            }),
        }
        core.login_to_nameid = saml
            .iter()
            .map(|(e, l)| (l.to_lowercase(), e.clone()))
            .collect();
        let mut logins: BTreeSet<String> = cands.logins.iter().cloned().collect();
        for e in &cands.emails {
            if let Some(l) = saml.get(e) {
                logins.insert(l.to_lowercase());
            }
        }

        // The first members page prices a full listing.
        let first = first?;
        let last_page = link_rel(first.header("link"), "last")
            .and_then(|u| page_param(&u))
            .unwrap_or(1);
        let list_cost = (last_page - 1) + 1; // remaining member pages + the owners listing
        core.plan = if (logins.len() as u64) < list_cost {
            Plan::Targeted
        } else {
            Plan::List
        };
        core.notes.push(format!(
            "planner: {} ({} candidate logins to look up vs {} more pages to list {} member page(s))",
            if core.plan == Plan::Targeted { "targeted lookups" } else { "full listing" },
            logins.len(),
            list_cost,
            last_page
        ));
        match core.plan {
            Plan::List => {
                let mut members: Vec<api::SimpleUser> = first.json(&members_path)?;
                let (rest, owners) = futures::join!(
                    self.rest_of_pages::<api::SimpleUser>(&first, &members_path),
                    self.list::<api::SimpleUser>(
                        self.url(&format!("{members_path}?role=admin&per_page={PER_PAGE}")),
                        &members_path
                    ),
                );
                members.extend(rest?);
                let owners: BTreeSet<u64> = owners?.iter().map(|u| u.id).collect();
                core.enumerated = members.len() as u64;
                for u in members {
                    let role = if owners.contains(&u.id) {
                        "owner"
                    } else {
                        "member"
                    };
                    core.accounts.insert(
                        u.login.to_lowercase(),
                        member_account(&u, role, &core.login_to_nameid),
                    );
                }
            }
            Plan::Targeted => {
                let path = format!("/orgs/{org}/memberships/{{username}}");
                let results: Vec<(String, Option<api::Membership>)> = residual_probe::bounded(
                    self.inst.concurrency,
                    logins.iter().cloned().map(|login| {
                        let path = path.clone();
                        async move {
                            let url =
                                self.url(&format!("/orgs/{}/memberships/{login}", self.inst.org));
                            let r = self.get(url, &path).await?;
                            let m = match r.status {
                                200 => Some(r.json::<api::Membership>(&path)?),
                                // Not a member: a determinate answer (the token's own
                                // membership was checked, so a 404 is not "hidden").
                                404 => None,
                                _ => return Err(classify(&path, &r)),
                            };
                            Ok((login, m))
                        }
                    }),
                )
                .await?;
                core.enumerated = logins.len() as u64;
                for (login, m) in results {
                    // Pending memberships are invitations, listed separately.
                    if let Some(m) = m.filter(|m| m.state == "active") {
                        let u = m.user.unwrap_or(api::SimpleUser {
                            login: login.clone(),
                            id: 0,
                        });
                        let role = if m.role == "admin" { "owner" } else { "member" };
                        core.accounts.insert(
                            u.login.to_lowercase(),
                            member_account(&u, role, &core.login_to_nameid),
                        );
                    }
                }
            }
        }
        Ok(core)
    }

    /// Pages 2..N of a page-numbered list, fetched concurrently: their URLs are the server's
    /// own `rel="next"` link with only `page=` changed. A list without page numbers in its
    /// links is followed one `next` at a time instead.
    async fn rest_of_pages<T: DeserializeOwned>(
        &self,
        first: &Reply,
        path: &str,
    ) -> Result<Vec<T>, ProbeError> {
        let link = first.header("link");
        let (Some(next), Some(last)) = (
            link_next(link),
            link_rel(link, "last").and_then(|u| page_param(&u)),
        ) else {
            return match link_next(link) {
                Some(next) => self.list(next, path).await,
                None => Ok(Vec::new()),
            };
        };
        if page_param(&next) != Some(2) || last > 100_000 {
            return self.list(next, path).await;
        }
        let mut pages: Vec<(u64, Vec<T>)> = residual_probe::bounded(
            self.inst.concurrency,
            (2..=last).map(|p| {
                let url = with_page(&next, p);
                async move {
                    let r = self.get_ok(url, path).await?;
                    Ok((p, r.json::<Vec<T>>(path)?))
                }
            }),
        )
        .await?;
        pages.sort_by_key(|(p, _)| *p);
        Ok(pages.into_iter().flat_map(|(_, v)| v).collect())
    }

    async fn teams(&self, path: &str) -> Result<BTreeMap<String, Vec<String>>, ProbeError> {
        let teams: Vec<api::Team> = self
            .list(self.url(&format!("{path}?per_page={PER_PAGE}")), path)
            .await?;
        let mpath = format!("/orgs/{}/teams/{{team_slug}}/members", self.inst.org);
        let results: Vec<(String, Vec<api::SimpleUser>)> = residual_probe::bounded(
            self.inst.concurrency,
            teams.into_iter().map(|t| {
                let mpath = mpath.clone();
                async move {
                    let url = self.url(&format!(
                        "/orgs/{}/teams/{}/members?per_page={PER_PAGE}",
                        self.inst.org, t.slug
                    ));
                    self.list::<api::SimpleUser>(url, &mpath)
                        .await
                        .map(|m| (t.slug, m))
                }
            }),
        )
        .await?;
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for r in results {
            let (slug, members) = r;
            for m in members {
                out.entry(m.login.to_lowercase())
                    .or_default()
                    .push(slug.clone());
            }
        }
        for slugs in out.values_mut() {
            slugs.sort();
        }
        Ok(out)
    }

    /// All authorizations when listing; one filtered query per wanted login when targeted.
    async fn credential_authorizations(
        &self,
        plan: Plan,
        path: &str,
        wanted: &[String],
    ) -> Result<Vec<api::CredentialAuthorization>, ProbeError> {
        match plan {
            Plan::List => {
                self.list(self.url(&format!("{path}?per_page={PER_PAGE}")), path)
                    .await
            }
            Plan::Targeted => {
                let mut all = Vec::new();
                for login in wanted {
                    all.extend(
                        self.list::<api::CredentialAuthorization>(
                            self.url(&format!("{path}?per_page={PER_PAGE}&login={login}")),
                            path,
                        )
                        .await?,
                    );
                }
                Ok(all)
            }
        }
    }

    /// All grants when listing; `owner[]` filters, ten owners a query, when targeted.
    async fn pat_grants(
        &self,
        plan: Plan,
        path: &str,
        wanted: &[String],
    ) -> Result<Vec<api::PatGrant>, ProbeError> {
        match plan {
            Plan::List => {
                self.list(self.url(&format!("{path}?per_page={PER_PAGE}")), path)
                    .await
            }
            Plan::Targeted => {
                let mut all = Vec::new();
                for chunk in wanted.chunks(10) {
                    let q: String = chunk.iter().map(|o| format!("&owner[]={o}")).collect();
                    all.extend(
                        self.list::<api::PatGrant>(
                            self.url(&format!("{path}?per_page={PER_PAGE}{q}")),
                            path,
                        )
                        .await?,
                    );
                }
                Ok(all)
            }
        }
    }

    async fn deploy_keys(&self, org: &str) -> Result<(Vec<Asset>, usize), ProbeError> {
        let rpath = format!("/orgs/{org}/repos");
        let repos: Vec<api::Repo> = self
            .list(
                self.url(&format!("{rpath}?per_page={PER_PAGE}&type=all")),
                &rpath,
            )
            .await?;
        let kpath = format!("/repos/{org}/{{repo}}/keys");
        let n = repos.len();
        // Owned values into the stream: borrowed ones trip async-trait's Send inference.
        let results: Vec<Vec<Asset>> = residual_probe::bounded(
            self.inst.concurrency,
            repos.into_iter().map(|repo| {
                let kpath = kpath.clone();
                async move {
                    let keys: Vec<api::DeployKey> = self
                        .list(
                            self.url(&format!(
                                "/repos/{}/keys?per_page={PER_PAGE}",
                                repo.full_name
                            )),
                            &kpath,
                        )
                        .await?;
                    keys.iter()
                        .map(|k| deploy_key_asset(&repo, k).map_err(bad))
                        .collect()
                }
            }),
        )
        .await?;
        Ok((results.into_iter().flatten().collect(), n))
    }

    async fn secrets(&self, path: &str) -> Result<Vec<Asset>, ProbeError> {
        let mut out = Vec::new();
        let mut total: Option<u64> = None;
        let mut url = Some(self.url(&format!("{path}?per_page={PER_PAGE}")));
        while let Some(u) = url {
            let r = self.get_ok(u, path).await?;
            let page: api::SecretsPage = r.json(path)?;
            for s in &page.secrets {
                out.push(secret_asset(&self.inst.org, s).map_err(bad)?);
            }
            url = link_next(r.header("link"));
            total = Some(page.total_count);
        }
        // The pages must add up to total_count: a missing Link header is not the end.
        if let Some(t) = total {
            if out.len() as u64 != t {
                return Err(bad(format!(
                    "{path}: read {} secrets, total_count says {t}",
                    out.len()
                )));
            }
        }
        Ok(out)
    }
}

fn gap(what: &str, checks: &[&str], e: ProbeError) -> Gap {
    Gap {
        account_id: None,
        what: what.to_string(),
        checks: checks.iter().map(|s| s.to_string()).collect(),
        error: e.redacted(),
    }
}

/// The same URL with its `page=` query parameter set to `page`.
fn with_page(url: &str, page: u64) -> String {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let params: Vec<String> = query
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            if kv.starts_with("page=") {
                format!("page={page}")
            } else {
                kv.to_string()
            }
        })
        .collect();
    format!("{base}?{}", params.join("&"))
}

/// What the membership phase found.
struct Core {
    plan: Plan,
    login_to_nameid: HashMap<String, String>,
    accounts: BTreeMap<String, Account>,
    enumerated: u64,
    notes: Vec<String>,
    gaps: Vec<Gap>,
}

/// `page=N` of a Link URL.
fn page_param(url: &str) -> Option<u64> {
    url.split(['?', '&'])
        .find_map(|kv| kv.strip_prefix("page="))
        .and_then(|v| v.parse().ok())
}

fn member_account(u: &api::SimpleUser, role: &str, saml: &HashMap<String, String>) -> Account {
    let mut attributes = BTreeMap::new();
    let mut emails = Vec::new();
    if let Some(n) = saml.get(&u.login.to_lowercase()) {
        emails.push(n.clone());
        attributes.insert("saml_name_id".into(), n.clone());
    }
    Account {
        id: if u.id > 0 {
            format!("user/{}", u.id)
        } else {
            format!("login/{}", u.login)
        },
        resource_type: MEMBER.into(),
        name: u.login.clone(),
        usernames: vec![u.login.clone()],
        emails,
        external_ids: vec![],
        owner_refs: vec![],
        state: AccountState::Active,
        role: Some(role.to_string()),
        privileges: if role == "owner" {
            vec!["organization owner".into()]
        } else {
            vec![]
        },
        created_at: None,
        last_login_at: None,
        credentials: vec![],
        detailed: true,
        attributes,
    }
}

/// The account a token belongs to; a token owner who is no longer a member or collaborator
/// still gets an account, so the token is not lost.
fn owner_account<'m>(
    accounts: &'m mut BTreeMap<String, Account>,
    login: &str,
    id: u64,
) -> &'m mut Account {
    accounts.entry(login.to_lowercase()).or_insert_with(|| {
        let mut a = member_account(
            &api::SimpleUser {
                login: login.to_string(),
                id,
            },
            "token owner",
            &HashMap::new(),
        );
        a.resource_type = TOKEN_OWNER.into();
        a.role = None;
        a
    })
}

fn invitation_account(i: &api::Invitation) -> Result<Account, String> {
    let mut attributes = BTreeMap::new();
    attributes.insert("invitation_role".into(), i.role.clone());
    if let Some(inv) = &i.inviter {
        attributes.insert("inviter".into(), inv.login.clone());
    }
    Ok(Account {
        id: format!("invitation/{}", i.id),
        resource_type: INVITATION.into(),
        name: i
            .login
            .clone()
            .or_else(|| i.email.clone())
            .unwrap_or_else(|| format!("invitation {}", i.id)),
        usernames: i.login.iter().cloned().collect(),
        emails: i.email.iter().cloned().collect(),
        external_ids: vec![],
        owner_refs: vec![],
        state: AccountState::Pending,
        role: None,
        privileges: vec![],
        created_at: Some(api::time_of("invitation created_at", &i.created_at)?),
        last_login_at: None,
        credentials: vec![],
        detailed: true,
        attributes,
    })
}

fn sso_credential(c: &api::CredentialAuthorization) -> Result<Credential, String> {
    let mut attributes = BTreeMap::new();
    attributes.insert("credential_type".into(), c.credential_type.clone());
    attributes.insert("authorized_at".into(), c.credential_authorized_at.clone());
    if let Some(s) = &c.scopes {
        attributes.insert("scopes".into(), s.join(" "));
    }
    if let Some(f) = &c.fingerprint {
        attributes.insert("fingerprint".into(), f.clone());
    }
    let name = match (&c.token_last_eight, &c.authorized_credential_title) {
        (Some(last8), _) => format!("{} …{last8}", c.credential_type),
        (None, Some(t)) => format!("{} {t}", c.credential_type),
        _ => c.credential_type.clone(),
    };
    Ok(Credential {
        id: c.credential_id.to_string(),
        resource_type: SSO_CREDENTIAL.into(),
        name: Some(name),
        active: true,
        created_at: Some(api::time_of(
            "credential_authorized_at",
            &c.credential_authorized_at,
        )?),
        last_used_at: api::opt_time_of("credential_accessed_at", &c.credential_accessed_at)?,
        last_use_tracked: true,
        expires_at: api::opt_time_of(
            "authorized_credential_expires_at",
            &c.authorized_credential_expires_at,
        )?,
        attributes,
    })
}

fn pat_credential(g: &api::PatGrant) -> Result<Credential, String> {
    let mut attributes = BTreeMap::new();
    attributes.insert("token_id".into(), g.token_id.to_string());
    attributes.insert(
        "repository_selection".into(),
        g.repository_selection.clone(),
    );
    attributes.insert("access_granted_at".into(), g.access_granted_at.clone());
    Ok(Credential {
        id: g.id.to_string(),
        resource_type: FINE_GRAINED_PAT.into(),
        name: Some(g.token_name.clone()),
        active: !g.token_expired,
        created_at: Some(api::time_of("access_granted_at", &g.access_granted_at)?),
        last_used_at: api::opt_time_of("token_last_used_at", &g.token_last_used_at)?,
        last_use_tracked: true,
        expires_at: api::opt_time_of("token_expires_at", &g.token_expires_at)?,
        attributes,
    })
}

fn deploy_key_asset(repo: &api::Repo, k: &api::DeployKey) -> Result<Asset, String> {
    let mut attributes = BTreeMap::new();
    attributes.insert("repository".into(), repo.full_name.clone());
    attributes.insert(
        "access".into(),
        if k.read_only {
            "read-only"
        } else {
            "read-write"
        }
        .into(),
    );
    if repo.archived {
        attributes.insert("archived".into(), "true".into());
    }
    Ok(Asset {
        id: format!("{}/keys/{}", repo.full_name, k.id),
        resource_type: DEPLOY_KEY.into(),
        name: format!("{}: {}", repo.name, k.title),
        owner_refs: k
            .added_by
            .iter()
            .map(|l| OwnerRef {
                key: "added_by".into(),
                value: l.clone(),
            })
            .collect(),
        trusted_principals: vec![],
        created_at: Some(api::time_of("deploy key created_at", &k.created_at)?),
        last_changed_at: None,
        last_used_at: api::opt_time_of("deploy key last_used", &k.last_used)?,
        last_use_tracked: true,
        readable_by_role: None,
        attributes,
    })
}

fn secret_asset(org: &str, s: &api::OrgSecret) -> Result<Asset, String> {
    let mut attributes = BTreeMap::new();
    attributes.insert("visibility".into(), s.visibility.clone());
    Ok(Asset {
        id: format!("{org}/actions/secrets/{}", s.name),
        resource_type: ORG_SECRET.into(),
        name: s.name.clone(),
        owner_refs: vec![],
        trusted_principals: vec![],
        created_at: Some(api::time_of("secret created_at", &s.created_at)?),
        last_changed_at: Some(api::time_of("secret updated_at", &s.updated_at)?),
        last_used_at: None,
        last_use_tracked: false,
        // Org owners administer Actions secrets and the workflows that read them.
        readable_by_role: Some("owner".into()),
        attributes,
    })
}

/// A GitHub App JWT (RS256, `iss` = app id, valid ten minutes with a minute of clock skew).
fn app_jwt(app_id: u64, pem: &SecretString) -> Result<SecretString, ProbeError> {
    #[derive(serde::Serialize)]
    struct Claims {
        iat: i64,
        exp: i64,
        iss: String,
    }
    let now = now().unix_timestamp();
    let key =
        jsonwebtoken::EncodingKey::from_rsa_pem(pem.expose_secret().as_bytes()).map_err(|_| {
            ProbeError::Config("private_key_file is not an RSA private key in PEM form".into())
        })?;
    let claims = Claims {
        iat: now - 60,
        exp: now + 540,
        iss: app_id.to_string(),
    };
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
        &claims,
        &key,
    )
    .map(SecretString::from)
    .map_err(|_| ProbeError::Config("could not sign the GitHub App JWT".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_urls_change_only_the_page() {
        let next = "http://h/organizations/9/members?per_page=100&page=2";
        assert_eq!(
            with_page(next, 7),
            "http://h/organizations/9/members?per_page=100&page=7"
        );
        assert_eq!(page_param(next), Some(2));
        assert_eq!(page_param("http://h/x?per_page=100"), None);
    }
}
