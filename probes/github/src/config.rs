//! The `[[github]]` table: one organization on github.com or GitHub Enterprise Server.

use residual_probe::config::{ConfigCtx, ConfigError};
use residual_probe::Probe;
use serde::Deserialize;

use crate::{GithubAuth, GithubInstance, GithubProbe, SYSTEM};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGithub {
    /// The instance label in reports (default: the org).
    pub name: Option<String>,
    pub org: String,
    /// `https://api.github.com` by default; Enterprise Server: `https://HOST/api/v3`.
    pub api_url: Option<String>,
    pub token_env: Option<String>,
    pub token_file: Option<String>,
    /// A GitHub App installation (needed to list fine-grained PAT grants): all three keys.
    pub app_id: Option<u64>,
    pub private_key_file: Option<String>,
    pub installation_id: Option<u64>,
}

pub fn configure(cx: &ConfigCtx) -> Result<Vec<Box<dyn Probe>>, ConfigError> {
    let mut out: Vec<Box<dyn Probe>> = Vec::new();
    for t in cx.tables::<RawGithub>(SYSTEM)? {
        let g = &t.value;
        let auth = match (g.app_id, &g.private_key_file, g.installation_id) {
            (Some(app_id), Some(key), Some(installation_id)) => GithubAuth::App {
                app_id,
                private_key_pem: t.secret_file("private_key_file", key)?,
                installation_id,
            },
            (Some(_), _, _) | (None, Some(_), _) | (None, _, Some(_)) => {
                return Err(t.error(
                    "app_id",
                    "a GitHub App needs app_id, private_key_file and installation_id",
                ))
            }
            (None, None, None) => {
                GithubAuth::Token(t.token(g.token_env.as_deref(), g.token_file.as_deref())?)
            }
        };
        let org = t.non_empty("org", &g.org)?;
        let api_url = t.url(
            "api_url",
            g.api_url.as_deref().unwrap_or("https://api.github.com"),
        )?;
        let name = match &g.name {
            Some(n) => t.non_empty("name", n)?,
            None => org.clone(),
        };
        out.push(Box::new(GithubProbe(GithubInstance {
            name,
            org,
            api_url,
            auth,
            concurrency: cx.scan.concurrency,
            http: cx.scan.http,
        })));
    }
    Ok(out)
}
