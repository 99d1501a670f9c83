//! The Microsoft probe: Entra ID users and what a leaver left behind in the tenant — the
//! directory roles they hold, the app registrations and service principals they own (with
//! the client secrets and certificates those carry), the delegated consents they granted,
//! their app role assignments — and the Azure RBAC role assignments that name them.
//!
//! One `[[microsoft]]` table is one tenant, one instance. Azure is read in the same instance:
//! a role assignment names its principal by Entra object id only, so it can be tied to a
//! leaver only through the tenant's users (and the groups they are in).
//!
//! The read, in order (`graph.rs`, then `azure.rs`):
//! - the tenant (`/organization`) and how many users it has (`/users/$count`), the proof the
//!   app sees the directory and the planner's price of a listing;
//! - users, by a paged listing that must add up to the count, or by `$filter` lookups;
//! - for the wanted users only: their groups (transitive), owned applications and service
//!   principals, delegated permission grants and app role assignments; directory role
//!   assignments of the tenant, once;
//! - per subscription (configured, or every one the app can see), its role definitions and
//!   role assignments.
//!
//! Sign-in activity needs `AuditLog.Read.All` and an Entra ID P1/P2 licence. Without it the
//! users are read without `signInActivity`, and "used after departure" is unknown: a named
//! severity gap, never a silent downgrade.
//!
//! Files: `api.rs` (wire types), `estate.rs` (wire to estate), `auth.rs` (client credentials),
//! `config.rs`, `demo.rs`,
//! `mock_tests.rs`.

pub mod api;
mod auth;
mod azure;
mod config;
mod demo;
mod estate;
mod graph;
#[cfg(test)]
mod mock_tests;

use residual_probe::config::{ConfigCtx, ConfigError};
use residual_probe::http::{HttpPolicy, Reply};
use residual_probe::{AccountFilter, CheckId, Probe, ProbeError, SystemSnapshot};
use secrecy::SecretString;

pub const SYSTEM: &str = "microsoft";
pub const USER: &str = "entra_user";
pub const OAUTH2_GRANT: &str = "entra_oauth2_grant";
pub const DIRECTORY_ROLE: &str = "entra_directory_role_assignment";
pub const APP_ROLE: &str = "entra_app_role_assignment";
pub const APPLICATION: &str = "entra_application";
pub const SERVICE_PRINCIPAL: &str = "entra_service_principal";
pub const APP_SECRET: &str = "entra_client_secret";
pub const APP_CERT: &str = "entra_certificate";
pub const AZURE_ROLE: &str = "azure_role_assignment";

/// The catalogue's checks, as code names them.
pub const USER_ENABLED: CheckId = CheckId("microsoft_entra_user_enabled");
pub const DIRECTORY_ROLE_CHECK: CheckId = CheckId("microsoft_entra_directory_role");
pub const APP_OWNED: CheckId = CheckId("microsoft_entra_app_owned");
pub const OAUTH2_GRANT_CHECK: CheckId = CheckId("microsoft_entra_oauth2_grant");
pub const APP_ROLE_CHECK: CheckId = CheckId("microsoft_entra_app_role_assignment");
pub const AZURE_ROLE_CHECK: CheckId = CheckId("microsoft_azure_role_assignment");

/// The Microsoft system, for the registry.
pub struct Microsoft;

impl residual_probe::System for Microsoft {
    fn name(&self) -> &'static str {
        SYSTEM
    }
    fn title(&self) -> &'static str {
        "Microsoft Entra ID and Azure"
    }
    fn catalogue(&self) -> &'static str {
        include_str!("../checks.toml")
    }
    fn check_ids(&self) -> &'static [CheckId] {
        &[
            USER_ENABLED,
            DIRECTORY_ROLE_CHECK,
            APP_OWNED,
            OAUTH2_GRANT_CHECK,
            APP_ROLE_CHECK,
            AZURE_ROLE_CHECK,
        ]
    }
    fn handle_columns(&self) -> &'static [&'static str] {
        &["entra_upn", "microsoft"]
    }
    fn entitlement_kinds(&self) -> &'static [(&'static str, &'static str)] {
        &[("microsoft", "group"), ("microsoft", "role")]
    }
    fn config_keys(&self) -> &'static [&'static str] {
        residual_probe::config::field_names::<config::RawMicrosoft>()
    }
    fn configure(&self, cx: &ConfigCtx) -> Result<Vec<Box<dyn Probe>>, ConfigError> {
        config::configure(cx)
    }
    fn demo(&self) -> Vec<SystemSnapshot> {
        demo::demo()
    }
}

/// How the app proves itself at the token endpoint.
#[derive(Debug, Clone)]
pub enum ClientAuth {
    /// A client secret (from the environment).
    Secret(SecretString),
    /// A certificate: its private key signs a client assertion, its thumbprints name it.
    Certificate {
        key: SecretString,
        /// base64url SHA-1 and SHA-256 of the certificate's DER (`x5t`, `x5t#S256`).
        x5t: String,
        x5t_s256: String,
    },
}

/// How users are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// A listing, unless `$filter` lookups for the leavers take fewer requests.
    Auto,
    List,
    Lookup,
}

/// Which Azure subscriptions to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subscriptions {
    /// Azure is not read.
    None,
    /// Every subscription the app can see.
    All,
    /// These, each of which must be readable.
    Listed(Vec<String>),
}

/// One `[[microsoft]]` table, validated.
#[derive(Debug, Clone)]
pub struct MicrosoftInstance {
    pub name: String,
    /// The tenant id or one of its verified domains.
    pub tenant: String,
    pub client_id: String,
    pub auth: ClientAuth,
    pub subscriptions: Subscriptions,
    pub strategy: Strategy,
    /// One root for the token endpoint, Graph and ARM (tests, sovereign clouds through a proxy).
    pub endpoint: Option<String>,
    pub concurrency: usize,
    pub http: HttpPolicy,
}

impl MicrosoftInstance {
    fn login_root(&self) -> String {
        self.endpoint
            .clone()
            .unwrap_or_else(|| "https://login.microsoftonline.com".into())
    }
    fn graph_root(&self) -> String {
        self.endpoint
            .clone()
            .unwrap_or_else(|| "https://graph.microsoft.com".into())
    }
    fn arm_root(&self) -> String {
        self.endpoint
            .clone()
            .unwrap_or_else(|| "https://management.azure.com".into())
    }
    fn token_url(&self) -> String {
        format!(
            "{}/{}/oauth2/v2.0/token",
            self.login_root(),
            residual_probe::http::encode(&self.tenant)
        )
    }
}

pub struct MicrosoftProbe(pub MicrosoftInstance);

#[async_trait::async_trait]
impl Probe for MicrosoftProbe {
    fn system(&self) -> &'static str {
        SYSTEM
    }
    fn label(&self) -> String {
        self.0.name.clone()
    }
    async fn collect(&self, filter: &dyn AccountFilter) -> Vec<SystemSnapshot> {
        let inst = &self.0;
        vec![
            residual_probe::http::collect_with(SYSTEM, &inst.name, inst.http, |http| async move {
                let (mut snap, groups) = graph::collect(inst, &http, filter).await?;
                if inst.subscriptions != Subscriptions::None {
                    azure::collect(inst, &http, &mut snap, &groups).await?;
                }
                Ok(snap)
            })
            .await,
        ]
    }
}

fn bad(m: String) -> ProbeError {
    ProbeError::Unexpected(m)
}

/// Graph's and ARM's error body as a named error: status, `error.code`, the message (clipped,
/// redacted) and the request id Microsoft support asks for.
fn classify(what: &str, r: &Reply) -> ProbeError {
    let e = serde_json::from_slice::<api::ErrorBody>(&r.body)
        .ok()
        .and_then(|b| b.error)
        .unwrap_or_default();
    let code = e.code.unwrap_or_default();
    let msg: String = e.message.unwrap_or_default().chars().take(240).collect();
    let msg = residual_probe::redact::redact(&msg);
    let request_id = e
        .inner_error
        .and_then(|i| i.request_id)
        .or_else(|| r.header("request-id").map(str::to_string))
        .or_else(|| r.header("x-ms-request-id").map(str::to_string));
    let mut text = format!("{what}: HTTP {} {code} {msg}", r.status);
    if let Some(id) = request_id {
        text.push_str(&format!(
            " (request-id {})",
            residual_probe::text::printable(&id)
        ));
    }
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match r.status {
        401 => ProbeError::Auth(text),
        403 => ProbeError::Permission(text),
        _ => ProbeError::Unexpected(text),
    }
}

use residual_probe::time_of;

/// GET requests with one access token, for one API root; errors classified.
pub(crate) struct Api<'a> {
    http: &'a residual_probe::http::Http,
    token: SecretString,
    /// `@odata.nextLink` and ARM `nextLink` must stay under this root: the token is never
    /// sent anywhere a page points to.
    root: String,
}

impl<'a> Api<'a> {
    pub(crate) fn new(
        http: &'a residual_probe::http::Http,
        token: SecretString,
        root: String,
    ) -> Self {
        Api { http, token, root }
    }

    pub(crate) async fn send(
        &self,
        url: String,
        path: &str,
        eventual: bool,
    ) -> Result<Reply, ProbeError> {
        if !url.starts_with(&self.root) {
            return Err(bad(format!(
                "{path}: a next page outside {} ({}): not followed",
                self.root,
                residual_probe::http::host_label(&url)
            )));
        }
        let mut req = residual_probe::http::Request::get(url, path);
        req.bearer = Some(&self.token);
        req.headers.push(("accept", "application/json".into()));
        if eventual {
            req.headers.push(("consistencylevel", "eventual".into()));
        }
        self.http.send(&req).await
    }

    /// A 2xx answer as `T`; anything else a named error.
    pub(crate) async fn get<T: serde::de::DeserializeOwned>(
        &self,
        url: String,
        path: &str,
    ) -> Result<T, ProbeError> {
        let r = self.send(url, path, false).await?;
        if (200..300).contains(&r.status) {
            r.json(path)
        } else {
            Err(classify(path, &r))
        }
    }

    /// Every page of a collection (`value` + `@odata.nextLink`, or ARM's `nextLink`).
    pub(crate) async fn all<T: serde::de::DeserializeOwned>(
        &self,
        first: String,
        path: &str,
    ) -> Result<Vec<T>, ProbeError> {
        let mut out = Vec::new();
        let mut url = Some(first);
        let mut pages = 0u32;
        while let Some(u) = url.take() {
            pages += 1;
            if pages > MAX_PAGES {
                return Err(bad(format!("{path}: pagination does not end")));
            }
            let page: api::Page<T> = self.get(u, path).await?;
            out.extend(page.value);
            url = page.next.filter(|n| !n.is_empty());
        }
        Ok(out)
    }
}

/// Pages guard: a listing that never ends is an error, not a hang.
const MAX_PAGES: u32 = 100_000;
