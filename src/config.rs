//! `residual.toml` (SPEC §4): raw serde types that refuse unknown keys, validated into the
//! probes' own config types before any request is sent.
//!
//! Secrets never live in the file; `token_env` names an environment variable and must be set.
//! A config error is an [`InputError`] (exit 2) naming the file, line and key.

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use time::OffsetDateTime;

use crate::InputError;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    pub scan: RawScan,
    #[serde(default)]
    pub aws: Vec<RawAws>,
    #[serde(default)]
    pub github: Vec<RawGithub>,
    #[serde(default)]
    pub salesforce: Vec<RawSalesforce>,
    #[serde(default)]
    pub vault: Vec<RawVault>,
    #[serde(default)]
    pub scim: Vec<RawScim>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScan {
    /// A TOML date-time, or a string in the leavers file's date formats.
    pub as_of: Option<toml::Value>,
    pub concurrency: Option<usize>,
    pub sla_hours: Option<u32>,
    /// Per-request read timeout; a held connection fails after this.
    pub request_timeout_secs: Option<u64>,
    /// Attempts per request, retries on throttling and 5xx included.
    pub max_attempts: Option<u32>,
    /// The longest the scan waits for an API rate limit to reset before reporting the
    /// system incomplete.
    pub max_rate_limit_wait_secs: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAws {
    pub name: Option<String>,
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
    pub profile: Option<String>,
    pub assume_role_arn: Option<String>,
    #[serde(default)]
    pub secrets_manager_regions: Vec<String>,
    pub owner_tag_keys: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGithub {
    pub org: String,
    pub api_url: Option<String>,
    pub token_env: Option<String>,
    pub token_file: Option<String>,
    pub app_id: Option<u64>,
    pub private_key_file: Option<String>,
    pub installation_id: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSalesforce {
    pub instance_url: String,
    pub api_version: Option<String>,
    pub token_env: Option<String>,
    pub token_file: Option<String>,
    pub client_id_env: Option<String>,
    pub client_secret_env: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawVault {
    pub addr: String,
    pub token_env: Option<String>,
    pub token_file: Option<String>,
    pub namespace: Option<String>,
    #[serde(default)]
    pub kv_mounts: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScim {
    pub name: String,
    pub base_url: String,
    pub token_env: Option<String>,
    pub token_file: Option<String>,
}

/// The validated config.
#[derive(Debug, Clone)]
pub struct Config {
    pub as_of: Option<OffsetDateTime>,
    pub concurrency: usize,
    pub sla_hours: u32,
    pub aws: Vec<residual_aws::AwsInstance>,
    pub github: Vec<residual_github::GithubInstance>,
    pub vault: Vec<residual_vault::VaultInstance>,
    pub salesforce: Vec<residual_salesforce::SalesforceInstance>,
    pub scim: Vec<residual_scim::ScimInstance>,
    pub sha256: Option<String>,
}

impl Config {
    /// No system to scan.
    pub fn is_empty(&self) -> bool {
        self.aws.is_empty()
            && self.github.is_empty()
            && self.vault.is_empty()
            && self.salesforce.is_empty()
            && self.scim.is_empty()
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            as_of: None,
            concurrency: 16,
            sla_hours: 24,
            aws: Vec::new(),
            github: Vec::new(),
            vault: Vec::new(),
            salesforce: Vec::new(),
            scim: Vec::new(),
            sha256: None,
        }
    }
}

pub const DEFAULT_OWNER_TAG_KEYS: &[&str] = &["email", "owner", "created_by"];

pub fn load(path: &Path) -> Result<Config, InputError> {
    load_with(path, false)
}

/// For `scan --snapshot`: the file is validated, but no request will be sent, so credentials
/// (token variables, secret files) are not required.
pub fn load_offline(path: &Path) -> Result<Config, InputError> {
    load_with(path, true)
}

fn load_with(path: &Path, offline: bool) -> Result<Config, InputError> {
    let file = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| InputError {
        file: file.clone(),
        line: None,
        field: None,
        message: format!("cannot read: {e}"),
    })?;
    let text = std::str::from_utf8(&bytes).map_err(|e| InputError {
        file: file.clone(),
        line: Some(
            bytes[..e.valid_up_to()]
                .iter()
                .filter(|&&b| b == b'\n')
                .count()
                + 1,
        ),
        field: None,
        message: "invalid UTF-8".into(),
    })?;
    let mut cfg = if offline {
        parse(&file, text, &|_| {
            Some("offline-replay-no-credential".to_string())
        })?
    } else {
        parse(&file, text, &|k| std::env::var(k).ok())?
    };
    cfg.sha256 = Some(hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes)));
    Ok(cfg)
}

/// Parse and validate; `env` looks up environment variables (injected for tests).
pub fn parse(
    file: &str,
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, InputError> {
    let raw: RawConfig = toml::from_str(text).map_err(|e| {
        let line = e
            .span()
            .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
        InputError {
            file: file.into(),
            line,
            field: None,
            message: e.message().to_string(),
        }
    })?;
    let err = |field: &str, message: String| InputError {
        file: file.into(),
        line: find_line(text, field),
        field: Some(field.into()),
        message,
    };
    let scan = &raw.scan;
    let as_of = match &scan.as_of {
        Some(d) => {
            Some(crate::leavers::parse_instant(&d.to_string()).map_err(|m| err("as_of", m))?)
        }
        None => None,
    };
    let concurrency = scan.concurrency.unwrap_or(16);
    if concurrency == 0 || concurrency > 256 {
        return Err(err(
            "concurrency",
            "concurrency must be between 1 and 256".into(),
        ));
    }
    let max_attempts = scan.max_attempts.unwrap_or(6);
    if max_attempts == 0 || max_attempts > 20 {
        return Err(err(
            "max_attempts",
            "max_attempts must be between 1 and 20".into(),
        ));
    }
    let http = residual_probe::http::HttpPolicy {
        read_timeout: Duration::from_secs(scan.request_timeout_secs.unwrap_or(30).max(1)),
        max_attempts,
        max_rate_wait: Duration::from_secs(scan.max_rate_limit_wait_secs.unwrap_or(900)),
        ..Default::default()
    };
    let mut github = Vec::new();
    for (i, g) in raw.github.iter().enumerate() {
        let n = i + 1;
        let auth = match (g.app_id, &g.private_key_file, g.installation_id) {
            (Some(app_id), Some(key), Some(installation_id)) => residual_github::GithubAuth::App {
                app_id,
                private_key_pem: read_secret_file(key).map_err(|m| err("private_key_file", format!("[[github]] #{n}: {m}")))?,
                installation_id,
            },
            (Some(_), _, _) => {
                return Err(err("app_id", format!("[[github]] #{n}: a GitHub App needs app_id, private_key_file and installation_id")))
            }
            (None, _, _) => residual_github::GithubAuth::Token(load_token(&g.token_env, &g.token_file, env).map_err(|(f, m)| err(f, format!("[[github]] #{n}: {m}")))?),
        };
        if g.org.trim().is_empty() {
            return Err(err("org", format!("[[github]] #{n}: org is empty")));
        }
        let api_url = g
            .api_url
            .clone()
            .unwrap_or_else(|| "https://api.github.com".into());
        if !(api_url.starts_with("https://") || api_url.starts_with("http://")) {
            return Err(err(
                "api_url",
                format!("[[github]] #{n}: api_url must be an http(s) URL"),
            ));
        }
        github.push(residual_github::GithubInstance {
            org: g.org.trim().to_string(),
            api_url,
            auth,
            concurrency,
            http,
        });
    }
    let mut vault = Vec::new();
    for (i, v) in raw.vault.iter().enumerate() {
        let n = i + 1;
        if !(v.addr.starts_with("https://") || v.addr.starts_with("http://")) {
            return Err(err(
                "addr",
                format!("[[vault]] #{n}: addr must be an http(s) URL"),
            ));
        }
        vault.push(residual_vault::VaultInstance {
            addr: v.addr.clone(),
            token: load_token(&v.token_env, &v.token_file, env)
                .map_err(|(f, m)| err(f, format!("[[vault]] #{n}: {m}")))?,
            namespace: v.namespace.clone().filter(|n| !n.trim().is_empty()),
            kv_mounts: v.kv_mounts.clone(),
            concurrency,
            http,
        });
    }
    let mut salesforce = Vec::new();
    for (i, sf) in raw.salesforce.iter().enumerate() {
        let n = i + 1;
        if !(sf.instance_url.starts_with("https://") || sf.instance_url.starts_with("http://")) {
            return Err(err(
                "instance_url",
                format!("[[salesforce]] #{n}: instance_url must be an http(s) URL"),
            ));
        }
        let auth = match (&sf.client_id_env, &sf.client_secret_env) {
            (Some(id), Some(secret)) => {
                let get = |var: &str, key: &str| -> Result<secrecy::SecretString, InputError> {
                    let v = env(var).filter(|v| !v.is_empty()).ok_or_else(|| err(key, format!("[[salesforce]] #{n}: environment variable {var} is not set")))?;
                    residual_probe::redact::register(&v);
                    Ok(secrecy::SecretString::from(v))
                };
                residual_salesforce::SalesforceAuth::ClientCredentials { client_id: get(id, "client_id_env")?, client_secret: get(secret, "client_secret_env")? }
            }
            (Some(_), None) | (None, Some(_)) => {
                return Err(err("client_id_env", format!("[[salesforce]] #{n}: the client-credentials flow needs both client_id_env and client_secret_env")))
            }
            (None, None) => residual_salesforce::SalesforceAuth::Token(load_token(&sf.token_env, &sf.token_file, env).map_err(|(f, m)| err(f, format!("[[salesforce]] #{n}: {m}")))?),
        };
        let api_version = sf.api_version.clone().unwrap_or_else(|| "v62.0".into());
        if !api_version.starts_with('v') || api_version[1..].parse::<f32>().is_err() {
            return Err(err(
                "api_version",
                format!("[[salesforce]] #{n}: api_version must look like v62.0"),
            ));
        }
        salesforce.push(residual_salesforce::SalesforceInstance {
            instance_url: sf.instance_url.clone(),
            api_version,
            auth,
            concurrency,
            http,
        });
    }
    let mut scim = Vec::new();
    for (i, sc) in raw.scim.iter().enumerate() {
        let n = i + 1;
        if !(sc.base_url.starts_with("https://") || sc.base_url.starts_with("http://")) {
            return Err(err(
                "base_url",
                format!("[[scim]] #{n}: base_url must be an http(s) URL"),
            ));
        }
        if sc.name.trim().is_empty() {
            return Err(err("name", format!("[[scim]] #{n}: name is empty")));
        }
        scim.push(residual_scim::ScimInstance {
            name: sc.name.trim().to_string(),
            base_url: sc.base_url.clone(),
            token: load_token(&sc.token_env, &sc.token_file, env)
                .map_err(|(f, m)| err(f, format!("[[scim]] #{n}: {m}")))?,
            concurrency,
            http,
        });
    }
    let net = residual_aws::NetPolicy {
        read_timeout: Duration::from_secs(scan.request_timeout_secs.unwrap_or(30).max(1)),
        max_attempts,
        ..Default::default()
    };
    let mut aws = Vec::new();
    for (i, a) in raw.aws.iter().enumerate() {
        if let Some(u) = &a.endpoint_url {
            if !(u.starts_with("http://") || u.starts_with("https://")) {
                return Err(err(
                    "endpoint_url",
                    format!("[[aws]] #{}: endpoint_url must be an http(s) URL", i + 1),
                ));
            }
        }
        aws.push(residual_aws::AwsInstance {
            name: a.name.clone(),
            region: a.region.clone().unwrap_or_else(|| "us-east-1".into()),
            endpoint_url: a.endpoint_url.clone(),
            profile: a.profile.clone(),
            assume_role_arn: a.assume_role_arn.clone(),
            secrets_manager_regions: a.secrets_manager_regions.clone(),
            owner_tag_keys: a.owner_tag_keys.clone().unwrap_or_else(|| {
                DEFAULT_OWNER_TAG_KEYS
                    .iter()
                    .map(|s| s.to_string())
                    .collect()
            }),
            concurrency,
            net,
        });
    }
    let mut names: Vec<String> = aws.iter().filter_map(|a| a.name.clone()).collect();
    names.sort();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        return Err(err(
            "name",
            format!("two [[aws]] tables are named {:?}", w[0]),
        ));
    }
    Ok(Config {
        as_of,
        concurrency,
        sla_hours: scan.sla_hours.unwrap_or(24),
        aws,
        github,
        vault,
        salesforce,
        scim,
        sha256: None,
    })
}

/// A secret file's content, trimmed, registered with the redactor.
fn read_secret_file(path: &str) -> Result<secrecy::SecretString, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path:?}: {e}"))?;
    let text = text.trim().to_string();
    if text.is_empty() {
        return Err(format!("{path:?} is empty"));
    }
    residual_probe::redact::register(&text);
    for line in text
        .lines()
        .filter(|l| l.len() > 16 && !l.starts_with("-----"))
    {
        residual_probe::redact::register(line.trim());
    }
    Ok(secrecy::SecretString::from(text))
}

/// The token named by `token_env` (registered with the redactor) or `token_file`; an error
/// names the key at fault.
fn load_token(
    env_key: &Option<String>,
    file_key: &Option<String>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<secrecy::SecretString, (&'static str, String)> {
    match (env_key, file_key) {
        (Some(var), _) => {
            let v = env(var).filter(|v| !v.trim().is_empty()).ok_or_else(|| {
                (
                    "token_env",
                    format!("environment variable {var} is not set"),
                )
            })?;
            let v = v.trim().to_string();
            residual_probe::redact::register(&v);
            Ok(secrecy::SecretString::from(v))
        }
        (None, Some(f)) => read_secret_file(f).map_err(|m| ("token_file", m)),
        (None, None) => Err((
            "token_env",
            "missing required key token_env (or token_file)".into(),
        )),
    }
}

/// The first line where `key` is assigned or a `[[key]]` table opens, for error messages.
fn find_line(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .position(|l| {
            let t = l.trim_start();
            t.starts_with(&format!("{key} "))
                || t.starts_with(&format!("{key}="))
                || t.starts_with(&format!("[[{key}]]"))
        })
        .map(|i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn unknown_key_is_named_with_line() {
        let e = parse("r.toml", "[scan]\nconcurency = 3\n", &no_env).unwrap_err();
        assert_eq!(e.line, Some(2));
        assert!(e.message.contains("concurency"), "{}", e.message);
    }

    #[test]
    fn unset_token_env_is_an_error_before_anything_runs() {
        let e = parse(
            "r.toml",
            "[[vault]]\naddr = \"http://x\"\ntoken_env = \"NOPE_TOKEN\"\n",
            &no_env,
        )
        .unwrap_err();
        assert!(e.message.contains("NOPE_TOKEN"), "{}", e.message);
        assert_eq!(e.field.as_deref(), Some("token_env"));
    }

    #[test]
    fn salesforce_client_credentials_need_both_halves() {
        let env = |_: &str| Some("value-123456".to_string());
        let e = parse(
            "r.toml",
            "[[salesforce]]\ninstance_url = \"https://x.my.salesforce.com\"\nclient_id_env = \"SF_ID\"\n",
            &env,
        )
        .unwrap_err();
        assert!(e.message.contains("client_secret_env"), "{}", e.message);
    }

    #[test]
    fn aws_defaults() {
        let c = parse(
            "r.toml",
            "[scan]\nas_of = 2026-11-26T00:00:00Z\n[[aws]]\nname = \"prod\"\n",
            &no_env,
        )
        .unwrap();
        assert_eq!(c.aws[0].region, "us-east-1");
        assert_eq!(c.aws[0].owner_tag_keys.len(), 3);
        assert!(c.as_of.is_some());
    }
}
