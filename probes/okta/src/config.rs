//! The `[[okta]]` table: one Okta org.

use residual_probe::config::{ConfigCtx, ConfigError};
use residual_probe::Probe;
use serde::Deserialize;

use crate::{OktaAuth, OktaInstance, OktaProbe, Strategy, SYSTEM};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOkta {
    /// The instance label in reports (default: the org's host).
    pub name: Option<String>,
    /// `https://acme.okta.com` (or a custom domain).
    pub org_url: String,
    /// An API token (sent as `SSWS`), from this variable …
    pub token_env: Option<String>,
    pub token_file: Option<String>,
    /// … or an OAuth 2.0 service app with `private_key_jwt`: its client id and key.
    pub client_id: Option<String>,
    pub private_key_file: Option<String>,
    /// The key's id (`kid`) as registered on the app, when it has several.
    pub key_id: Option<String>,
    /// `auto` (default), `list` or `search`: how users are read.
    pub strategy: Option<String>,
}

pub fn configure(cx: &ConfigCtx) -> Result<Vec<Box<dyn Probe>>, ConfigError> {
    let mut out: Vec<Box<dyn Probe>> = Vec::new();
    for t in cx.tables::<RawOkta>(SYSTEM)? {
        let v = &t.value;
        let org_url = t.url("org_url", &v.org_url)?;
        let auth = match (&v.client_id, &v.private_key_file) {
            (Some(id), Some(key)) => {
                if v.token_env.is_some() || v.token_file.is_some() {
                    return Err(t.error(
                        "client_id",
                        "give an API token (token_env) or a service app (client_id and private_key_file), not both",
                    ));
                }
                OktaAuth::ServiceApp {
                    client_id: t.non_empty("client_id", id)?,
                    private_key_pem: t.secret_file("private_key_file", key)?,
                    key_id: v.key_id.clone(),
                }
            }
            (Some(_), None) | (None, Some(_)) => {
                return Err(t.error(
                    "client_id",
                    "a service app needs both client_id and private_key_file",
                ))
            }
            (None, None) => {
                OktaAuth::ApiToken(t.token(v.token_env.as_deref(), v.token_file.as_deref())?)
            }
        };
        let name = match &v.name {
            Some(n) => t.non_empty("name", n)?,
            None => residual_probe::http::host_label(&org_url),
        };
        let strategy = match v.strategy.as_deref().map(str::trim) {
            None | Some("auto") => Strategy::Auto,
            Some("list") => Strategy::List,
            Some("search") => Strategy::Search,
            Some(other) => {
                return Err(t.error(
                    "strategy",
                    format!("strategy must be \"auto\", \"list\" or \"search\", not {other:?}"),
                ))
            }
        };
        out.push(Box::new(OktaProbe(OktaInstance {
            name,
            org_url,
            auth,
            strategy,
            concurrency: cx.scan.concurrency,
            http: cx.scan.http,
        })));
    }
    Ok(out)
}
