//! The `[[vault]]` table: one Vault or OpenBao namespace.

use residual_probe::config::{ConfigCtx, ConfigError};
use residual_probe::Probe;
use serde::Deserialize;

use crate::{VaultInstance, VaultProbe, SYSTEM};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawVault {
    /// The instance label in reports (default: host, and `/namespace` when one is set).
    pub name: Option<String>,
    pub addr: String,
    pub token_env: Option<String>,
    pub token_file: Option<String>,
    /// One namespace per table; add a table per namespace.
    pub namespace: Option<String>,
    /// KV v2 mounts whose metadata (never values) to read.
    #[serde(default)]
    pub kv_mounts: Vec<String>,
}

pub fn configure(cx: &ConfigCtx) -> Result<Vec<Box<dyn Probe>>, ConfigError> {
    let mut out: Vec<Box<dyn Probe>> = Vec::new();
    for t in cx.tables::<RawVault>(SYSTEM)? {
        let v = &t.value;
        let name = match &v.name {
            Some(n) => Some(t.non_empty("name", n)?),
            None => None,
        };
        out.push(Box::new(VaultProbe(VaultInstance {
            name,
            addr: t.url("addr", &v.addr)?,
            token: t.token(v.token_env.as_deref(), v.token_file.as_deref())?,
            namespace: v.namespace.clone().filter(|n| !n.trim().is_empty()),
            kv_mounts: v.kv_mounts.clone(),
            concurrency: cx.scan.concurrency,
            http: cx.scan.http,
        })));
    }
    Ok(out)
}
