//! The `[[aws]]` table: one AWS account.

use residual_probe::config::{ConfigCtx, ConfigError};
use residual_probe::Probe;
use serde::Deserialize;

use crate::{AwsInstance, AwsProbe, NetPolicy, SYSTEM};

/// Tags that name a person, when the table does not say.
pub const DEFAULT_OWNER_TAG_KEYS: &[&str] = &["email", "owner", "created_by"];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAws {
    /// The instance label in reports (default `aws`; name every table when there are several).
    pub name: Option<String>,
    /// `us-east-1` by default.
    pub region: Option<String>,
    /// Emulators and VPC endpoints.
    pub endpoint_url: Option<String>,
    pub profile: Option<String>,
    pub assume_role_arn: Option<String>,
    /// Regions whose Secrets Manager secrets to read (metadata only); empty skips it.
    #[serde(default)]
    pub secrets_manager_regions: Vec<String>,
    /// Tag keys that name a person (case-insensitive).
    pub owner_tag_keys: Option<Vec<String>>,
}

pub fn configure(cx: &ConfigCtx) -> Result<Vec<Box<dyn Probe>>, ConfigError> {
    let net = NetPolicy {
        read_timeout: cx.scan.http.read_timeout,
        max_attempts: cx.scan.http.max_attempts,
        ..Default::default()
    };
    let mut out: Vec<Box<dyn Probe>> = Vec::new();
    for t in cx.tables::<RawAws>(SYSTEM)? {
        let a = &t.value;
        let endpoint_url = match &a.endpoint_url {
            Some(u) => Some(t.url("endpoint_url", u)?),
            None => None,
        };
        let name = match &a.name {
            Some(n) => Some(t.non_empty("name", n)?),
            None => None,
        };
        out.push(Box::new(AwsProbe(AwsInstance {
            name,
            region: a.region.clone().unwrap_or_else(|| "us-east-1".into()),
            endpoint_url,
            profile: a.profile.clone(),
            assume_role_arn: a.assume_role_arn.clone(),
            secrets_manager_regions: a.secrets_manager_regions.clone(),
            owner_tag_keys: a.owner_tag_keys.clone().unwrap_or_else(|| {
                DEFAULT_OWNER_TAG_KEYS
                    .iter()
                    .map(|s| s.to_string())
                    .collect()
            }),
            concurrency: cx.scan.concurrency,
            net,
        })));
    }
    Ok(out)
}
