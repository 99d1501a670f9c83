//! The `[[microsoft]]` table: one Entra ID tenant, and the Azure subscriptions it holds.

use base64::Engine;
use residual_probe::config::{ConfigCtx, ConfigError};
use residual_probe::Probe;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::{ClientAuth, MicrosoftInstance, MicrosoftProbe, Strategy, Subscriptions, SYSTEM};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMicrosoft {
    /// The instance label (default: the tenant).
    pub name: Option<String>,
    /// The tenant id (a GUID) or one of its verified domains.
    pub tenant: Option<String>,
    /// The app registration's application (client) id.
    pub client_id: Option<String>,
    /// The environment variable holding the app's client secret.
    pub client_secret_env: Option<String>,
    /// A PEM file with the app's certificate and its private key (instead of a secret).
    pub certificate_file: Option<String>,
    /// Read Azure role assignments (default true).
    pub azure: Option<bool>,
    /// The subscription ids to read (default: every subscription the app can see).
    pub subscriptions: Option<Vec<String>>,
    /// `auto` (default), `list` or `lookup`: how users are read.
    pub strategy: Option<String>,
    /// One root for the token endpoint, Graph and ARM (tests, proxies).
    pub endpoint: Option<String>,
}

fn is_guid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.chars().all(|c| c.is_ascii_hexdigit()))
}

/// The base64 body of the first PEM block labelled `label`.
fn pem_block<'a>(text: &'a str, label: &str) -> Option<(&'a str, &'a str)> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = text.find(&begin)?;
    let stop = text[start..].find(&end)? + start;
    Some((
        &text[start..stop + end.len()],
        &text[start + begin.len()..stop],
    ))
}

fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub fn configure(cx: &ConfigCtx) -> Result<Vec<Box<dyn Probe>>, ConfigError> {
    let mut out: Vec<Box<dyn Probe>> = Vec::new();
    for t in cx.tables::<RawMicrosoft>(SYSTEM)? {
        let v = &t.value;
        let tenant = match &v.tenant {
            Some(x) => t.non_empty("tenant", x)?.to_ascii_lowercase(),
            None => {
                return Err(t.error(
                    "tenant",
                    "missing tenant: the tenant id (a GUID) or one of its verified domains",
                ))
            }
        };
        if !is_guid(&tenant) && !tenant.contains('.') {
            return Err(t.error(
                "tenant",
                format!("tenant must be a tenant id (GUID) or a domain, found {tenant:?}"),
            ));
        }
        let client_id = match &v.client_id {
            Some(x) => t.non_empty("client_id", x)?.to_ascii_lowercase(),
            None => {
                return Err(t.error(
                    "client_id",
                    "missing client_id: the application (client) id of the app registration",
                ))
            }
        };
        if !is_guid(&client_id) {
            return Err(t.error(
                "client_id",
                format!("client_id must be a GUID, found {client_id:?}"),
            ));
        }
        let auth = match (&v.client_secret_env, &v.certificate_file) {
            (Some(_), Some(_)) => {
                return Err(t.error(
                    "certificate_file",
                    "give a client secret (client_secret_env) or a certificate (certificate_file), not both",
                ))
            }
            (None, None) => {
                return Err(t.error(
                    "client_secret_env",
                    "missing credentials: client_secret_env (the environment variable holding the app's client secret) or certificate_file",
                ))
            }
            (Some(var), None) => ClientAuth::Secret(t.env_secret("client_secret_env", var)?),
            (None, Some(path)) if t.offline() => {
                let _ = path;
                ClientAuth::Secret(SecretString::from(String::new()))
            }
            (None, Some(path)) => {
                let text = t.secret_file("certificate_file", path)?;
                let text = text.expose_secret();
                let key = ["PRIVATE KEY", "RSA PRIVATE KEY"]
                    .iter()
                    .find_map(|l| pem_block(text, l))
                    .map(|(whole, _)| whole.to_string())
                    .ok_or_else(|| {
                        t.error(
                            "certificate_file",
                            format!("{path:?} holds no private key (PEM \"PRIVATE KEY\")"),
                        )
                    })?;
                let der = pem_block(text, "CERTIFICATE")
                    .and_then(|(_, b)| {
                        let b: String = b.chars().filter(|c| !c.is_whitespace()).collect();
                        base64::engine::general_purpose::STANDARD.decode(b).ok()
                    })
                    .ok_or_else(|| {
                        t.error(
                            "certificate_file",
                            format!("{path:?} holds no certificate (PEM \"CERTIFICATE\") beside the key"),
                        )
                    })?;
                residual_probe::redact::register(&key);
                use aws_lc_rs::digest;
                ClientAuth::Certificate {
                    key: SecretString::from(key),
                    x5t: b64url(digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, &der).as_ref()),
                    x5t_s256: b64url(digest::digest(&digest::SHA256, &der).as_ref()),
                }
            }
        };
        let subscriptions = match (v.azure.unwrap_or(true), &v.subscriptions) {
            (false, Some(_)) => {
                return Err(t.error("subscriptions", "subscriptions is set but azure = false"))
            }
            (false, None) => Subscriptions::None,
            (true, None) => Subscriptions::All,
            (true, Some(list)) => {
                if list.is_empty() {
                    return Err(t.error(
                        "subscriptions",
                        "subscriptions is empty: list subscription ids, leave it out to read every visible one, or set azure = false",
                    ));
                }
                let mut ids = Vec::new();
                for s in list {
                    let s = s
                        .trim()
                        .trim_start_matches("/subscriptions/")
                        .to_ascii_lowercase();
                    if !is_guid(&s) {
                        return Err(t.error(
                            "subscriptions",
                            format!(
                                "subscriptions must hold subscription ids (GUIDs), found {s:?}"
                            ),
                        ));
                    }
                    if !ids.contains(&s) {
                        ids.push(s);
                    }
                }
                Subscriptions::Listed(ids)
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
        let name = match &v.name {
            Some(n) => t.non_empty("name", n)?,
            None => tenant.clone(),
        };
        out.push(Box::new(MicrosoftProbe(MicrosoftInstance {
            name,
            tenant,
            client_id,
            auth,
            subscriptions,
            strategy,
            endpoint,
            concurrency: cx.scan.concurrency,
            http: cx.scan.http,
        })));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn guids_are_recognised() {
        assert!(super::is_guid("5f2c7a1e-0b6d-4e8a-9c3f-2d1e0a9b8c7d"));
        assert!(!super::is_guid("5f2c7a1e-0b6d-4e8a-9c3f-2d1e0a9b8c7"));
        assert!(!super::is_guid("acme.example"));
    }
}
