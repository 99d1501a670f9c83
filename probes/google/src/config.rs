//! The `[[google]]` table: one Workspace customer and/or one Cloud organization.

use residual_probe::config::{ConfigCtx, ConfigError};
use residual_probe::Probe;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::{GoogleInstance, GoogleProbe, ServiceAccount, Strategy, SYSTEM};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGoogle {
    /// The instance label (default: the admin subject's domain, else `gcp-<organization>`).
    pub name: Option<String>,
    /// The service-account key file (default: `GOOGLE_APPLICATION_CREDENTIALS`).
    pub credentials_file: Option<String>,
    /// The Workspace admin the service account acts as (domain-wide delegation).
    pub admin_subject: Option<String>,
    /// The Workspace customer id (default `my_customer`: the subject's own).
    pub customer: Option<String>,
    /// Read Workspace (default true).
    pub workspace: Option<bool>,
    /// The Cloud organization id (`123456789012`): read its IAM policies and service
    /// accounts. Without it, no Cloud instance.
    pub organization: Option<String>,
    /// Description and label keys naming a service account's owner (`owner: jdoe@acme.com`).
    pub owner_keys: Option<Vec<String>>,
    /// `auto` (default), `list` or `lookup`: how Workspace users are read.
    pub strategy: Option<String>,
    /// One root for every Google API and the token endpoint (tests, private endpoints).
    pub endpoint: Option<String>,
}

const OWNER_KEYS: &[&str] = &["owner", "created_by", "created-by", "creator", "contact"];

pub fn configure(cx: &ConfigCtx) -> Result<Vec<Box<dyn Probe>>, ConfigError> {
    let mut out: Vec<Box<dyn Probe>> = Vec::new();
    for t in cx.tables::<RawGoogle>(SYSTEM)? {
        let v = &t.value;
        let workspace = v.workspace.unwrap_or(true);
        let subject = match (&v.admin_subject, workspace) {
            (Some(s), _) => {
                let s = t.non_empty("admin_subject", s)?;
                if !s.contains('@') {
                    return Err(t.error("admin_subject", "admin_subject must be an email address"));
                }
                Some(s)
            }
            (None, true) => {
                return Err(t.error(
                    "admin_subject",
                    "missing admin_subject: the Workspace admin the service account acts as (or set workspace = false)",
                ))
            }
            (None, false) => None,
        };
        let organization = match &v.organization {
            None => None,
            Some(o) => {
                let id = o.trim().trim_start_matches("organizations/");
                if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
                    return Err(t.error(
                        "organization",
                        format!("organization must be a numeric organization id, found {o:?}"),
                    ));
                }
                Some(id.to_string())
            }
        };
        if !workspace && organization.is_none() {
            return Err(t.error(
                "workspace",
                "nothing to scan: workspace = false and no organization",
            ));
        }
        let path = match &v.credentials_file {
            Some(p) => Some(p.clone()),
            None => t.env("GOOGLE_APPLICATION_CREDENTIALS"),
        };
        let account = match path {
            _ if t.offline() => ServiceAccount::offline(),
            None => {
                return Err(t.error(
                    "credentials_file",
                    "missing credentials_file (a service-account key file), and GOOGLE_APPLICATION_CREDENTIALS is not set",
                ))
            }
            Some(p) => {
                let text = t.secret_file("credentials_file", &p)?;
                let key: crate::api::KeyFile = serde_json::from_str(text.expose_secret())
                    .map_err(|e| {
                        t.error(
                            "credentials_file",
                            format!(
                                "{p:?} is not a service-account key file (line {}, column {})",
                                e.line(),
                                e.column()
                            ),
                        )
                    })?;
                if key.kind != "service_account" {
                    return Err(t.error(
                        "credentials_file",
                        format!("{p:?} is a {:?} credential, not a service-account key", key.kind),
                    ));
                }
                residual_probe::redact::register(&key.private_key);
                ServiceAccount {
                    email: key.client_email,
                    key: SecretString::from(key.private_key),
                    key_id: key.private_key_id,
                    token_uri: key.token_uri,
                }
            }
        };
        let strategy = match v.strategy.as_deref().map(str::trim) {
            None | Some("auto") => Strategy::Auto,
            Some("list") => Strategy::List,
            Some("lookup") => Strategy::Lookup,
            Some(other) => {
                return Err(t.error(
                    "strategy",
                    format!("strategy must be \"auto\", \"list\" or \"lookup\", not {other:?}"),
                ))
            }
        };
        let endpoint = match &v.endpoint {
            Some(e) => Some(t.url("endpoint", e)?.trim_end_matches('/').to_string()),
            None => None,
        };
        let owner_keys: Vec<String> = match &v.owner_keys {
            Some(k) if k.iter().any(|x| x.trim().is_empty()) => {
                return Err(t.error("owner_keys", "owner_keys holds an empty key"))
            }
            Some(k) => k.iter().map(|x| x.trim().to_ascii_lowercase()).collect(),
            None => OWNER_KEYS.iter().map(|s| s.to_string()).collect(),
        };
        let name = match &v.name {
            Some(n) => t.non_empty("name", n)?,
            None => match (&subject, &organization) {
                (Some(s), _) => s.rsplit('@').next().unwrap_or(s).to_ascii_lowercase(),
                (None, Some(o)) => format!("gcp-{o}"),
                (None, None) => unreachable!("checked above"),
            },
        };
        let customer = match &v.customer {
            Some(c) => t.non_empty("customer", c)?,
            None => "my_customer".into(),
        };
        out.push(Box::new(GoogleProbe(GoogleInstance {
            name,
            account,
            subject: if workspace { subject } else { None },
            customer,
            organization,
            owner_keys,
            strategy,
            endpoint,
            concurrency: cx.scan.concurrency,
            http: cx.scan.http,
        })));
    }
    Ok(out)
}
