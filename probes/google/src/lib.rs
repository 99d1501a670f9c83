//! The Google probe: Workspace accounts and what a leaver left behind in them (OAuth grants to
//! third-party apps, app-specific passwords, admin roles), and the Cloud IAM bindings and
//! service accounts that name them across an organization.
//!
//! One `[[google]]` table gives up to two instances:
//! - `<name>`: the Workspace customer, read through the Admin SDK Directory API as the
//!   configured admin (domain-wide delegation). Users come from a paged listing or from
//!   per-leaver lookups (the planner's choice); then, for the wanted users only, their
//!   grants, app passwords and role assignments (`workspace.rs`).
//! - `<name>/cloud`: the Cloud organization, read through Cloud Asset Inventory as the service
//!   account itself: every IAM policy in the organization, and every service account, with
//!   the user-managed keys of those a leaver owns (`cloud.rs`).
//!
//! Neither trusts a quiet answer: the admin subject must be able to see the whole customer (a
//! super admin, or a role scoped to it, not to an org unit), and the organization's own IAM
//! policy must be among the policies the search returns.
//!
//! Files: `api.rs` (wire types), `auth.rs` (JWT-bearer tokens), `config.rs`, `demo.rs`,
//! `mock_tests.rs`.

pub mod api;
mod auth;
mod cloud;
mod config;
mod demo;
#[cfg(test)]
mod mock_tests;
mod workspace;

use residual_probe::config::{ConfigCtx, ConfigError};
use residual_probe::http::{HttpPolicy, Reply};
use residual_probe::{AccountFilter, CheckId, Probe, ProbeError, SystemSnapshot};
use secrecy::SecretString;
use time::OffsetDateTime;

pub const SYSTEM: &str = "google";
pub const USER: &str = "google_workspace_user";
pub const OAUTH_GRANT: &str = "google_oauth_grant";
pub const APP_PASSWORD: &str = "google_app_password";
pub const ROLE_ASSIGNMENT: &str = "google_workspace_role_assignment";
pub const MEMBER: &str = "google_cloud_member";
pub const BINDING: &str = "google_cloud_iam_binding";
pub const SERVICE_ACCOUNT: &str = "google_cloud_service_account";
pub const SA_KEY: &str = "google_cloud_service_account_key";

/// The catalogue's checks, as code names them.
pub const USER_ACTIVE: CheckId = CheckId("google_workspace_user_active");
pub const OAUTH_GRANT_CHECK: CheckId = CheckId("google_workspace_oauth_grant");
pub const APP_PASSWORD_CHECK: CheckId = CheckId("google_workspace_app_password");
pub const ADMIN_ROLE: CheckId = CheckId("google_workspace_admin_role");
pub const IAM_BINDING: CheckId = CheckId("google_cloud_iam_binding_user");
pub const SA_OWNED: CheckId = CheckId("google_cloud_service_account_owned");

/// The scopes the Workspace token asks for (granted to the client id in the Admin console's
/// domain-wide delegation), and the Cloud token's.
pub const DIRECTORY_SCOPES: &[&str] = &[
    "https://www.googleapis.com/auth/admin.directory.user.readonly",
    "https://www.googleapis.com/auth/admin.directory.user.security",
    "https://www.googleapis.com/auth/admin.directory.rolemanagement.readonly",
];
pub const CLOUD_SCOPES: &[&str] = &["https://www.googleapis.com/auth/cloud-platform.read-only"];

/// The Google system, for the registry.
pub struct Google;

impl residual_probe::System for Google {
    fn name(&self) -> &'static str {
        SYSTEM
    }
    fn title(&self) -> &'static str {
        "Google Workspace and Cloud"
    }
    fn catalogue(&self) -> &'static str {
        include_str!("../checks.toml")
    }
    fn check_ids(&self) -> &'static [CheckId] {
        &[
            USER_ACTIVE,
            OAUTH_GRANT_CHECK,
            APP_PASSWORD_CHECK,
            ADMIN_ROLE,
            IAM_BINDING,
            SA_OWNED,
        ]
    }
    fn handle_columns(&self) -> &'static [&'static str] {
        &["google_email", "google"]
    }
    fn config_keys(&self) -> &'static [&'static str] {
        residual_probe::config::field_names::<config::RawGoogle>()
    }
    fn configure(&self, cx: &ConfigCtx) -> Result<Vec<Box<dyn Probe>>, ConfigError> {
        config::configure(cx)
    }
    fn demo(&self) -> Vec<SystemSnapshot> {
        demo::demo()
    }
}

/// The service account the probe signs as (from its key file).
#[derive(Debug, Clone)]
pub struct ServiceAccount {
    pub email: String,
    pub key: SecretString,
    pub key_id: Option<String>,
    pub token_uri: Option<String>,
}

impl ServiceAccount {
    /// `scan --snapshot`: nothing is sent.
    pub fn offline() -> Self {
        ServiceAccount {
            email: "offline@replay.invalid".into(),
            key: SecretString::from(String::new()),
            key_id: None,
            token_uri: None,
        }
    }
}

/// How Workspace users are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// A listing, unless looking the leavers up costs fewer requests than listing an org of
    /// [`workspace::LOOKUP_BUDGET`] pages.
    Auto,
    List,
    Lookup,
}

/// One `[[google]]` table, validated.
#[derive(Debug, Clone)]
pub struct GoogleInstance {
    pub name: String,
    pub account: ServiceAccount,
    /// The Workspace admin to act as; `None`: no Workspace instance.
    pub subject: Option<String>,
    pub customer: String,
    /// The Cloud organization id; `None`: no Cloud instance.
    pub organization: Option<String>,
    /// Description and label keys that name a service account's owner, lower-case.
    pub owner_keys: Vec<String>,
    pub strategy: Strategy,
    /// One root for every API and the token endpoint (`<endpoint>/token`).
    pub endpoint: Option<String>,
    pub concurrency: usize,
    pub http: HttpPolicy,
}

impl GoogleInstance {
    /// The root of one Google API (`admin`, `cloudasset`, `iam`).
    fn root(&self, api: &str) -> String {
        match &self.endpoint {
            Some(e) => e.clone(),
            None => format!("https://{api}.googleapis.com"),
        }
    }

    fn token_uri(&self) -> String {
        match (&self.endpoint, &self.account.token_uri) {
            (Some(e), _) => format!("{e}/token"),
            (None, Some(t)) => t.clone(),
            (None, None) => "https://oauth2.googleapis.com/token".into(),
        }
    }

    fn cloud_instance(&self) -> String {
        format!("{}/cloud", self.name)
    }
}

pub struct GoogleProbe(pub GoogleInstance);

#[async_trait::async_trait]
impl Probe for GoogleProbe {
    fn system(&self) -> &'static str {
        SYSTEM
    }
    fn label(&self) -> String {
        self.0.name.clone()
    }
    async fn collect(&self, filter: &dyn AccountFilter) -> Vec<SystemSnapshot> {
        let inst = &self.0;
        let mut out = Vec::new();
        if let Some(subject) = &inst.subject {
            out.push(
                residual_probe::http::collect_with(
                    SYSTEM,
                    &inst.name,
                    inst.http,
                    |http| async move { workspace::collect(inst, subject, &http, filter).await },
                )
                .await,
            );
        }
        if let Some(org) = &inst.organization {
            let name = inst.cloud_instance();
            let mut snap =
                residual_probe::http::collect_with(SYSTEM, &name, inst.http, |http| async move {
                    cloud::collect(inst, org, &http, filter).await
                })
                .await;
            snap.title = Some(format!("organization {org}"));
            out.push(snap);
        }
        out
    }
}

fn bad(m: String) -> ProbeError {
    ProbeError::Unexpected(m)
}

/// Google's error body as a named error: status, `error.status`, the first reason, and the
/// message (clipped, redacted).
fn classify(what: &str, r: &Reply) -> ProbeError {
    let e = serde_json::from_slice::<api::ErrorBody>(&r.body)
        .ok()
        .and_then(|b| b.error)
        .unwrap_or_default();
    let reason = e
        .errors
        .iter()
        .find_map(|x| x.reason.clone())
        .unwrap_or_default();
    let status = e.status.unwrap_or_default();
    let msg: String = e.message.unwrap_or_default().chars().take(200).collect();
    let msg = residual_probe::redact::redact(&msg);
    let text = format!("{what}: HTTP {} {status} {reason} {msg}", r.status);
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match r.status {
        401 => ProbeError::Auth(text),
        403 => ProbeError::Permission(text),
        _ => ProbeError::Unexpected(text),
    }
}

use residual_probe::time_of;

/// An int64-as-string of milliseconds since the epoch (`Asp.creationTime`); 0 means never.
fn millis(what: &str, v: &Option<String>) -> Result<Option<OffsetDateTime>, ProbeError> {
    match v.as_deref().filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => {
            let ms: i64 = s
                .trim()
                .parse()
                .map_err(|_| bad(format!("{what}: {s:?} is not milliseconds")))?;
            if ms <= 0 {
                return Ok(None);
            }
            OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
                .map(Some)
                .map_err(|_| bad(format!("{what}: {s:?} is out of range")))
        }
    }
}

/// GET requests with one access token, Google's errors classified.
pub(crate) struct Api<'a> {
    http: &'a residual_probe::http::Http,
    token: SecretString,
}

impl<'a> Api<'a> {
    pub(crate) fn new(http: &'a residual_probe::http::Http, token: SecretString) -> Self {
        Api { http, token }
    }

    async fn send(&self, url: String, path: &str) -> Result<Reply, ProbeError> {
        let mut req = residual_probe::http::Request::get(url, path);
        req.bearer = Some(&self.token);
        req.headers.push(("accept", "application/json".into()));
        self.http.send(&req).await
    }

    /// A 2xx answer as `T`; anything else a named error.
    pub(crate) async fn get<T: serde::de::DeserializeOwned>(
        &self,
        url: String,
        path: &str,
    ) -> Result<T, ProbeError> {
        let r = self.send(url, path).await?;
        if (200..300).contains(&r.status) {
            r.json(path)
        } else {
            Err(classify(path, &r))
        }
    }

    /// As [`Api::get`], with 404 (`notFound`) as `None`.
    pub(crate) async fn get_opt<T: serde::de::DeserializeOwned>(
        &self,
        url: String,
        path: &str,
    ) -> Result<Option<T>, ProbeError> {
        let r = self.send(url, path).await?;
        match r.status {
            200..=299 => r.json(path).map(Some),
            404 => Ok(None),
            _ => Err(classify(path, &r)),
        }
    }
}

/// Pages guard: a listing that never ends is an error, not a hang.
const MAX_PAGES: u32 = 100_000;
