//! The check catalogue: check metadata as data (`probes/<system>/checks.toml`), compiled in
//! and listed by `residual checks`. The evaluator looks a check up by what it inspects (`on`)
//! and the resource type; titles, severities, controls and remediation come from here only.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
    pub fn parse(s: &str) -> Option<Severity> {
        Some(match s.to_ascii_lowercase().as_str() {
            "low" => Severity::Low,
            "medium" => Severity::Medium,
            "high" => Severity::High,
            "critical" => Severity::Critical,
            _ => return None,
        })
    }
}

/// What a check inspects. The evaluator implements each kind once, for every system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum On {
    /// An active, unexpired credential of the leaver's account.
    Credential,
    /// The leaver's account exists but has no working credential.
    AccountNoPath,
    /// The leaver's account has a working credential and admin power.
    AccountPrivileged,
    /// The leaver's account is active (or frozen, or a pending invitation).
    AccountActive,
    /// An asset trusts the leaver's account.
    AssetTrustsAccount,
    /// An account or asset (not the leaver's own) names the leaver as owner.
    Owned,
    /// The leaver's account recorded a successful login after their departure.
    LoginAfterDeparture,
    /// A secret the leaver could reach — owner tag, resource policy naming their account, or
    /// a role they held (`readable_by_role`) — last changed before they left.
    SecretNotRotated,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Escalation {
    UsedAfterDeparture,
    Privileged,
    OwnerRole,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Check {
    /// Shared (`Arc`) fields are cloned into every finding; sharing keeps 100k findings cheap.
    pub id: Arc<str>,
    pub system: String,
    pub on: On,
    pub resource_types: Vec<String>,
    pub severity: Severity,
    #[serde(default)]
    pub critical_when: Vec<Escalation>,
    pub path: bool,
    pub title: Arc<str>,
    pub rationale: String,
    pub remediation: String,
    #[serde(default)]
    pub remediation_command: Option<String>,
    pub owasp_nhi: Arc<[String]>,
    pub nist_csf: Arc<[String]>,
    #[serde(default = "no_controls")]
    pub other_controls: Arc<[String]>,
}

fn no_controls() -> Arc<[String]> {
    Arc::from(Vec::new())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogueFile {
    check: Vec<Check>,
}

#[derive(Debug, Clone)]
pub struct Catalogue {
    pub checks: Vec<Check>,
}

/// Every probe's catalogue, in system order.
const SOURCES: &[(&str, &str)] = &[
    ("probes/aws/checks.toml", residual_aws::CHECKS),
    ("probes/github/checks.toml", residual_github::CHECKS),
    ("probes/vault/checks.toml", residual_vault::CHECKS),
    ("probes/salesforce/checks.toml", residual_salesforce::CHECKS),
    ("probes/scim/checks.toml", residual_scim::CHECKS),
];

impl Catalogue {
    pub fn builtin() -> Catalogue {
        let mut checks = Vec::new();
        for (name, text) in SOURCES {
            let f: CatalogueFile = toml::from_str(text)
                .unwrap_or_else(|e| panic!("built-in catalogue {name} is invalid: {e}"));
            checks.extend(f.check);
        }
        let c = Catalogue { checks };
        if let Err(e) = c.validate() {
            panic!("built-in catalogue is invalid: {e}");
        }
        c
    }

    /// Invariants every finding relies on: unique ids, the mandatory controls on every check.
    pub fn validate(&self) -> Result<(), String> {
        let mut ids: Vec<&str> = self.checks.iter().map(|c| &*c.id).collect();
        ids.sort();
        if let Some(w) = ids.windows(2).find(|w| w[0] == w[1]) {
            return Err(format!("duplicate check id {}", w[0]));
        }
        for c in &self.checks {
            if !c.id.starts_with(&format!("{}_", c.system)) {
                return Err(format!("{}: id must start with its system", c.id));
            }
            if !c.owasp_nhi.iter().any(|x| x == "NHI1:2025") {
                return Err(format!("{}: every check maps to NHI1:2025", c.id));
            }
            for n in ["PR.AC-4", "PR.AA-05"] {
                if !c.nist_csf.iter().any(|x| x == n) {
                    return Err(format!("{}: every check maps to {n}", c.id));
                }
            }
        }
        Ok(())
    }

    pub fn find(&self, on: On, resource_type: &str) -> Option<&Check> {
        self.checks
            .iter()
            .find(|c| c.on == on && c.resource_types.iter().any(|r| r == resource_type))
    }

    pub fn get(&self, id: &str) -> Option<&Check> {
        self.checks.iter().find(|c| &*c.id == id)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn builtin_catalogue_is_valid_and_credentials_map_to_nhi2() {
        let c = super::Catalogue::builtin();
        assert!(c.checks.len() >= 9);
        for ch in c.checks.iter().filter(|c| c.on == super::On::Credential) {
            assert!(ch.owasp_nhi.iter().any(|x| x == "NHI2:2025"), "{}", ch.id);
        }
    }
}
