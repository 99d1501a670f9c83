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
    /// Scan the whole organization through this role (assumed in every member account).
    pub organization_role: Option<String>,
    /// Only these member accounts (12-digit ids).
    pub organization_accounts: Option<Vec<String>>,
    /// Not these member accounts.
    #[serde(default)]
    pub organization_exclude: Vec<String>,
    /// Only the accounts under these organizational units (`ou-…`, nested ones included).
    #[serde(default)]
    pub organization_units: Vec<String>,
    /// The external id the member role's trust policy requires, if any.
    pub external_id: Option<String>,
    /// Read IAM Identity Center (default: when the organization has an instance; `true`: it
    /// must; `false`: skip it).
    pub identity_center: Option<bool>,
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
        let organization = match &a.organization_role {
            Some(role) => {
                let role = t.non_empty("organization_role", role)?;
                if role.starts_with("arn:") {
                    return Err(t.error("organization_role", "organization_role is a role name (ResidualAudit, or a path/name), not an ARN"));
                }
                let ids = |key: &str, v: &[String]| -> Result<Vec<String>, ConfigError> {
                    v.iter()
                        .map(|id| {
                            let id = id.trim();
                            if id.len() == 12 && id.chars().all(|c| c.is_ascii_digit()) {
                                Ok(id.to_string())
                            } else {
                                Err(t.error(key, format!("{id:?} is not a 12-digit account id")))
                            }
                        })
                        .collect()
                };
                for ou in &a.organization_units {
                    if !(ou.starts_with("ou-") || ou.starts_with("r-")) {
                        return Err(t.error(
                            "organization_units",
                            format!(
                                "{ou:?} is not an organizational unit id (ou-…) or a root (r-…)"
                            ),
                        ));
                    }
                }
                if a.name.is_none() {
                    return Err(t.error("name", "an organization table needs a name: its instances are \"<name>/<account id>\""));
                }
                Some(crate::Organization {
                    role,
                    include: match &a.organization_accounts {
                        Some(v) => Some(ids("organization_accounts", v)?),
                        None => None,
                    },
                    exclude: ids("organization_exclude", &a.organization_exclude)?,
                    units: a.organization_units.clone(),
                    external_id: a.external_id.clone(),
                    identity_center: a.identity_center,
                })
            }
            None => {
                for (key, set) in [
                    ("organization_accounts", a.organization_accounts.is_some()),
                    ("organization_exclude", !a.organization_exclude.is_empty()),
                    ("organization_units", !a.organization_units.is_empty()),
                    ("external_id", a.external_id.is_some()),
                    ("identity_center", a.identity_center.is_some()),
                ] {
                    if set {
                        return Err(t.error(key, format!("{key} needs organization_role (it applies to an organization scan)")));
                    }
                }
                None
            }
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
            organization,
        })));
    }
    Ok(out)
}
