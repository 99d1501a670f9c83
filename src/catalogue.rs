//! The check catalogue: check metadata as data (`probes/<system>/checks.toml`, one per system
//! in the registry), compiled in and listed by `residual checks` (docs/checks.md). The evaluator looks a check up by what it inspects (`on`)
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
    /// A mover's account still holds an entitlement their `revoke` column lists.
    EntitlementRetained,
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
    /// `owned` checks on machine identities: a live credential of it was made before the
    /// departure (or its date is unknown), so the leaver may hold it.
    CredentialBeforeDeparture,
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
    /// Escalations that raise the severity to high (a medium check), as `critical_when`
    /// raises it to critical.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub high_when: Vec<Escalation>,
    /// `account_active` only: the account states it fires on (default: every state but
    /// disabled). Google's check fires on active users only: a suspended user is how
    /// Workspace offboards, and its grants and app passwords are findings of their own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub states: Vec<residual_probe::AccountState>,
    pub path: bool,
    pub title: Arc<str>,
    pub rationale: String,
    pub remediation: String,
    #[serde(default)]
    pub remediation_command: Option<String>,
    /// Commands that finish the job once the first one is confirmed harmless, in order
    /// (delete a key after deactivating it): the revocation plan's safe order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub then_commands: Vec<String>,
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
    /// The `--checks` file applied (path, sha256), for the manifest.
    pub overrides: Option<(String, String)>,
}

/// A user's change to one built-in check (`--checks FILE`): any field but the id, `on`, the
/// resource types and `path`, which are the code's contract with the probes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Override {
    id: String,
    severity: Option<Severity>,
    critical_when: Option<Vec<Escalation>>,
    high_when: Option<Vec<Escalation>>,
    title: Option<String>,
    rationale: Option<String>,
    remediation: Option<String>,
    remediation_command: Option<String>,
    owasp_nhi: Option<Vec<String>>,
    nist_csf: Option<Vec<String>>,
    other_controls: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OverrideFile {
    check: Vec<Override>,
}

impl Catalogue {
    /// The built-in catalogue with a user's overrides applied and validated again (every check
    /// must still map to NHI1:2025, PR.AC-4 and PR.AA-05).
    pub fn with_overrides(path: &std::path::Path) -> Result<Catalogue, crate::InputError> {
        let file = path.display().to_string();
        let e = |line: Option<usize>, field: Option<&str>, m: String| crate::InputError {
            file: file.clone(),
            line,
            field: field.map(str::to_string),
            message: m,
        };
        let text = std::fs::read_to_string(path)
            .map_err(|x| e(None, None, format!("cannot read: {x}")))?;
        let parsed: OverrideFile = toml::from_str(&text).map_err(|x| {
            let line = x
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
            e(line, None, x.message().to_string())
        })?;
        let mut cat = Catalogue::builtin();
        for o in parsed.check {
            let Some(c) = cat.checks.iter_mut().find(|c| *c.id == *o.id) else {
                return Err(e(
                    None,
                    Some("id"),
                    format!(
                        "no check {:?} in the catalogue (see `residual checks`)",
                        o.id
                    ),
                ));
            };
            if let Some(v) = o.severity {
                c.severity = v;
            }
            if let Some(v) = o.critical_when {
                c.critical_when = v;
            }
            if let Some(v) = o.high_when {
                c.high_when = v;
            }
            if let Some(v) = o.title {
                c.title = Arc::from(v);
            }
            if let Some(v) = o.rationale {
                c.rationale = v;
            }
            if let Some(v) = o.remediation {
                c.remediation = v;
            }
            if let Some(v) = o.remediation_command {
                c.remediation_command = Some(v);
            }
            if let Some(v) = o.owasp_nhi {
                c.owasp_nhi = Arc::from(v);
            }
            if let Some(v) = o.nist_csf {
                c.nist_csf = Arc::from(v);
            }
            if let Some(v) = o.other_controls {
                c.other_controls = Arc::from(v);
            }
        }
        cat.validate().map_err(|m| e(None, None, m))?;
        cat.overrides = Some((
            file.clone(),
            hex::encode(<sha2::Sha256 as sha2::Digest>::digest(text.as_bytes())),
        ));
        Ok(cat)
    }

    pub fn builtin() -> Catalogue {
        let mut checks = Vec::new();
        for system in crate::registry::SYSTEMS {
            let name = format!("probes/{}/checks.toml", system.name());
            let f: CatalogueFile = toml::from_str(system.catalogue())
                .unwrap_or_else(|e| panic!("built-in catalogue {name} is invalid: {e}"));
            for c in &f.check {
                if c.system != system.name() {
                    panic!("{name}: check {} says system {:?}", c.id, c.system);
                }
            }
            checks.extend(f.check);
        }
        let c = Catalogue {
            checks,
            overrides: None,
        };
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
        let mut kinds: Vec<(String, &str)> = Vec::new();
        for c in &self.checks {
            for rt in c.resource_types.iter() {
                let k = (format!("{:?}", c.on), rt.as_str());
                if kinds.contains(&k) {
                    return Err(format!(
                        "{}: another check already inspects {:?} on {rt}; the evaluator would use only one",
                        c.id, c.on
                    ));
                }
                kinds.push(k);
            }
        }
        // Every check id a system names in code (its gaps) is in the catalogue, under it.
        for system in crate::registry::SYSTEMS {
            for id in system.check_ids() {
                match self.get(id.as_str()) {
                    Some(c) if c.system == system.name() => {}
                    _ => {
                        return Err(format!(
                            "{}: named in residual-{} but not in its checks.toml",
                            id.as_str(),
                            system.name()
                        ))
                    }
                }
            }
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

    /// The check reference, `docs/checks.md`, generated from the catalogue (a test keeps the
    /// file equal to this).
    pub fn markdown(&self) -> String {
        use std::fmt::Write;
        let mut out = String::from(
            "# Checks\n\nGenerated from the catalogue (`probes/<system>/checks.toml`) by a test; do not edit by hand.\n`residual checks` lists the same, and `--checks FILE` overrides any field but `on`, the\nresource types and `path` per check id.\n\nSeverity: **critical** — the residual path was used after departure, or carries admin power;\n**high** — an active login or credential; **medium** — ownership, grants, secrets to rotate;\n**low** — leftovers with no working path. A check's escalations raise it to critical.\n",
        );
        let mut system = "";
        for c in &self.checks {
            if c.system != system {
                system = &c.system;
                let title = crate::registry::get(system).map_or(system, |s| s.title());
                let _ = write!(out, "\n## {system}: {title}\n");
            }
            let esc = |s: &str| s.replace('|', "\\|");
            let list = |v: &[String]| v.join(", ");
            let _ = write!(out, "\n### `{}`\n\n{}\n\n| | |\n|---|---|\n", c.id, c.title);
            let _ = writeln!(out, "| severity | {} |", c.severity.as_str());
            // The names the catalogue files use (`used_after_departure`).
            let word = |v: serde_json::Value| v.as_str().unwrap_or_default().to_string();
            let esc_when: Vec<String> = c
                .critical_when
                .iter()
                .map(|e| word(serde_json::to_value(e).unwrap_or_default()))
                .collect();
            let _ = writeln!(
                out,
                "| critical when | {} |",
                if esc_when.is_empty() {
                    "never".to_string()
                } else {
                    esc_when.join(", ")
                }
            );
            if !c.high_when.is_empty() {
                let high: Vec<String> = c
                    .high_when
                    .iter()
                    .map(|e| word(serde_json::to_value(e).unwrap_or_default()))
                    .collect();
                let _ = writeln!(out, "| high when | {} |", high.join(", "));
            }
            let _ = writeln!(
                out,
                "| a working path | {} |",
                if c.path {
                    "yes (coverage `residual`)"
                } else {
                    "no (a leftover)"
                }
            );
            let _ = writeln!(
                out,
                "| inspects | `{}` on {} |",
                word(serde_json::to_value(c.on).unwrap_or_default()),
                c.resource_types
                    .iter()
                    .map(|r| format!("`{r}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            let _ = writeln!(out, "| OWASP NHI | {} |", list(&c.owasp_nhi));
            let _ = writeln!(out, "| NIST CSF | {} |", list(&c.nist_csf));
            if !c.other_controls.is_empty() {
                let _ = writeln!(out, "| other controls | {} |", list(&c.other_controls));
            }
            let _ = writeln!(out, "| why | {} |", esc(&c.rationale));
            let _ = writeln!(out, "| remediation | {} |", esc(&c.remediation));
            if let Some(cmd) = &c.remediation_command {
                let _ = writeln!(out, "| command | `{}` |", esc(&cmd.replace('`', "'")));
            }
            for cmd in &c.then_commands {
                let _ = writeln!(out, "| then | `{}` |", esc(&cmd.replace('`', "'")));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    /// `docs/checks.md` is the catalogue, generated: `UPDATE_DOCS=1 cargo test` rewrites it.
    #[test]
    fn docs_checks_md_is_generated_from_the_catalogue() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/checks.md");
        let want = super::Catalogue::builtin().markdown();
        if std::env::var_os("UPDATE_DOCS").is_some() {
            std::fs::write(&path, &want).unwrap();
        }
        let got = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            got == want,
            "docs/checks.md drifted from the catalogue: run UPDATE_DOCS=1 cargo test -p residual docs_"
        );
    }

    /// Two checks on one kind and resource type: the evaluator would use only the first.
    #[test]
    fn two_checks_on_one_kind_and_resource_type_are_refused() {
        let mut c = super::Catalogue::builtin();
        let mut twin = c.checks[0].clone();
        twin.id = std::sync::Arc::from(format!("{}_twin", c.checks[0].id));
        c.checks.push(twin);
        let e = c.validate().unwrap_err();
        assert!(e.contains("already inspects"), "{e}");
    }

    #[test]
    fn builtin_catalogue_is_valid_and_credentials_map_to_nhi2() {
        let c = super::Catalogue::builtin();
        assert!(c.checks.len() >= 9);
        for ch in c.checks.iter().filter(|c| c.on == super::On::Credential) {
            assert!(ch.owasp_nhi.iter().any(|x| x == "NHI2:2025"), "{}", ch.id);
        }
    }
}
