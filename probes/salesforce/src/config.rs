//! The `[[salesforce]]` table: one Salesforce org.

use residual_probe::config::{ConfigCtx, ConfigError};
use residual_probe::Probe;
use serde::Deserialize;

use crate::{SalesforceAuth, SalesforceInstance, SalesforceProbe, SYSTEM};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSalesforce {
    pub instance_url: String,
    /// `v62.0` by default.
    pub api_version: Option<String>,
    pub token_env: Option<String>,
    pub token_file: Option<String>,
    /// The OAuth 2.0 client-credentials flow: both variables, instead of a token.
    pub client_id_env: Option<String>,
    pub client_secret_env: Option<String>,
}

pub fn configure(cx: &ConfigCtx) -> Result<Vec<Box<dyn Probe>>, ConfigError> {
    let mut out: Vec<Box<dyn Probe>> = Vec::new();
    for t in cx.tables::<RawSalesforce>(SYSTEM)? {
        let v = &t.value;
        let instance_url = t.url("instance_url", &v.instance_url)?;
        let auth =
            match (&v.client_id_env, &v.client_secret_env) {
                (Some(id), Some(secret)) => SalesforceAuth::ClientCredentials {
                    client_id: t.env_secret("client_id_env", id)?,
                    client_secret: t.env_secret("client_secret_env", secret)?,
                },
                (Some(_), None) | (None, Some(_)) => return Err(t.error(
                    "client_id_env",
                    "the client-credentials flow needs both client_id_env and client_secret_env",
                )),
                (None, None) => {
                    SalesforceAuth::Token(t.token(v.token_env.as_deref(), v.token_file.as_deref())?)
                }
            };
        let api_version = v.api_version.clone().unwrap_or_else(|| "v62.0".into());
        if !api_version.starts_with('v') || api_version[1..].parse::<f32>().is_err() {
            return Err(t.error("api_version", "api_version must look like v62.0"));
        }
        out.push(Box::new(SalesforceProbe(SalesforceInstance {
            instance_url,
            api_version,
            auth,
            concurrency: cx.scan.concurrency,
            http: cx.scan.http,
        })));
    }
    Ok(out)
}
