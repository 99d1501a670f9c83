//! The `[[scim]]` table: one SCIM 2.0 application.

use residual_probe::config::{ConfigCtx, ConfigError};
use residual_probe::Probe;
use serde::Deserialize;

use crate::{ScimInstance, ScimProbe, SYSTEM};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScim {
    /// The instance label in reports (`slack`).
    pub name: String,
    /// The SCIM base URL, without `/Users`.
    pub base_url: String,
    pub token_env: Option<String>,
    pub token_file: Option<String>,
}

pub fn configure(cx: &ConfigCtx) -> Result<Vec<Box<dyn Probe>>, ConfigError> {
    let mut out: Vec<Box<dyn Probe>> = Vec::new();
    for t in cx.tables::<RawScim>(SYSTEM)? {
        let v = &t.value;
        out.push(Box::new(ScimProbe(ScimInstance {
            base_url: t.url("base_url", &v.base_url)?,
            name: t.non_empty("name", &v.name)?,
            token: t.token(v.token_env.as_deref(), v.token_file.as_deref())?,
            token_env: v.token_env.clone(),
            concurrency: cx.scan.concurrency,
            http: cx.scan.http,
        })));
    }
    Ok(out)
}
