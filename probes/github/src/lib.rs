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
mod auth;
mod config;
mod demo;
mod estate;
mod membership;
#[cfg(test)]
mod mock_tests;

use residual_probe::config::{ConfigCtx, ConfigError};
use residual_probe::http::{link_next, Http, HttpPolicy, Reply, Request};
use residual_probe::{AccountFilter, Asset, CheckId, Gap, Probe, ProbeError, SystemSnapshot};
use secrecy::SecretString;
use serde::de::DeserializeOwned;
use time::OffsetDateTime;

use estate::{
    deploy_key_asset, invitation_account, member_account, owner_account, pat_credential,
    secret_asset, sso_credential,
};

pub const SYSTEM: &str = "github";

/// The catalogue's checks, as code names them.
pub const ORG_MEMBER: CheckId = CheckId("github_org_member");
pub const OUTSIDE_COLLABORATOR_CHECK: CheckId = CheckId("github_outside_collaborator");
pub const INVITATION_PENDING: CheckId = CheckId("github_invitation_pending");
pub const SSO_CREDENTIAL_AUTHORIZED: CheckId = CheckId("github_sso_credential_authorized");
pub const FINE_GRAINED_PAT_GRANTED: CheckId = CheckId("github_fine_grained_pat_granted");
pub const DEPLOY_KEY_ADDED_BY: CheckId = CheckId("github_deploy_key_added_by");
pub const ORG_SECRET_NOT_ROTATED: CheckId = CheckId("github_org_secret_not_rotated");

/// The GitHub system, for the registry.
pub struct Github;

impl residual_probe::System for Github {
    fn name(&self) -> &'static str {
        SYSTEM
    }
    fn title(&self) -> &'static str {
        "GitHub"
    }
    fn catalogue(&self) -> &'static str {
        include_str!("../checks.toml")
    }
    fn check_ids(&self) -> &'static [CheckId] {
        &[
            ORG_MEMBER,
            OUTSIDE_COLLABORATOR_CHECK,
            INVITATION_PENDING,
            SSO_CREDENTIAL_AUTHORIZED,
            FINE_GRAINED_PAT_GRANTED,
            DEPLOY_KEY_ADDED_BY,
            ORG_SECRET_NOT_ROTATED,
        ]
    }
    fn handle_columns(&self) -> &'static [&'static str] {
        &["github_login", "github", "github_username"]
    }
    fn entitlement_kinds(&self) -> &'static [(&'static str, &'static str)] {
        &[("github", "team")]
    }
    fn config_keys(&self) -> &'static [&'static str] {
        residual_probe::config::field_names::<config::RawGithub>()
    }
    fn configure(&self, cx: &ConfigCtx) -> Result<Vec<Box<dyn Probe>>, ConfigError> {
        config::configure(cx)
    }
    fn demo(&self) -> Vec<SystemSnapshot> {
        demo::demo()
    }
}

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
    /// The instance label (the org unless the table names it).
    pub name: String,
    pub org: String,
    pub api_url: String,
    pub auth: GithubAuth,
    pub concurrency: usize,
    pub http: HttpPolicy,
}

pub(crate) const PER_PAGE: u32 = 100;

pub struct GithubProbe(pub GithubInstance);

#[async_trait::async_trait]
impl residual_probe::Probe for GithubProbe {
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

pub async fn collect(inst: &GithubInstance, filter: &dyn AccountFilter) -> SystemSnapshot {
    residual_probe::http::collect_with(SYSTEM, &inst.name, inst.http, |http| async move {
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

/// Members are known by login (the `github_login` column, non-email aliases, a probable email
/// local part), and by email only through SAML NameIDs: an invitation's email matches no
/// member.
pub(crate) fn identify(snap: &mut SystemSnapshot, saml: bool) {
    use residual_probe::Identifier::{Email, Handle, Username};
    snap.identifiers = if saml {
        vec![Email, Handle, Username]
    } else {
        vec![Handle, Username]
    };
    snap.identify_hint = Some(
        "add a github_login column to the leavers file, or enable SAML SSO for the org (its NameIDs are matched by email)"
            .into(),
    );
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
pub(crate) enum Plan {
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

    async fn run(mut self, filter: &dyn AccountFilter) -> Result<SystemSnapshot, ProbeError> {
        let org = self.inst.org.clone();
        let who = self.authenticate().await?;
        let this = &self;
        let mut snap = SystemSnapshot::new(SYSTEM, &self.inst.name, Some(who));
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
                .push(Gap::blocks(&collab_path, &[OUTSIDE_COLLABORATOR_CHECK], e)),
        }
        match invitations {
            Ok(invs) => {
                for i in invs {
                    snap.accounts.push(invitation_account(&i).map_err(bad)?);
                }
            }
            Err(e) => snap
                .gaps
                .push(Gap::blocks(&inv_path, &[INVITATION_PENDING], e)),
        }
        match keys {
            Ok((keys, repos)) => {
                snap.notes.push(format!(
                    "deploy keys: {} across {repos} repositories",
                    keys.len()
                ));
                snap.assets.extend(keys);
            }
            Err(e) => snap.gaps.push(Gap::blocks(
                format!("/repos/{org}/{{repo}}/keys"),
                &[DEPLOY_KEY_ADDED_BY],
                e,
            )),
        }
        match secrets {
            Ok(secrets) => snap.assets.extend(secrets),
            Err(e) => snap
                .gaps
                .push(Gap::blocks(&secrets_path, &[ORG_SECRET_NOT_ROTATED], e)),
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
                // Teams are evidence for leavers; a huge org's teams would cost more than the
                // whole targeted scan, so they are read when listing — or when a mover's
                // revoke list names a team, whatever the plan.
                let movers = cands
                    .entitlements
                    .iter()
                    .any(|e| e.starts_with("github:team/"));
                if plan == Plan::List || movers {
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
                .push(Gap::blocks(&cred_path, &[SSO_CREDENTIAL_AUTHORIZED], e)),
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
                .push(Gap::blocks(&pat_path, &[FINE_GRAINED_PAT_GRANTED], e)),
        }
        match teams {
            Some(Ok(teams)) => {
                snap.entitlement_kinds = vec!["github:team".into()];
                for (login, slugs) in teams {
                    if let Some(a) = accounts.get_mut(&login) {
                        a.attributes.insert("teams".into(), slugs.join(";"));
                        for t in &slugs {
                            a.entitlements
                                .push(residual_probe::Entitlement::new("github", "team", t, false));
                        }
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
        identify(&mut snap, !login_to_nameid.is_empty());
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
