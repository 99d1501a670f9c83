//! The systems `residual` scans: one line each. Everything in the core that depends on which
//! systems exist — config tables, the check catalogue, the CLI help, the leavers file's handle
//! columns, the demo estate — iterates this list. Adding a system is a new crate under
//! `probes/` and one line here (ARCHITECTURE.md, "Adding a system").

use residual_probe::System;

pub const SYSTEMS: &[&dyn System] = &[
    &residual_aws::Aws,
    &residual_github::Github,
    &residual_vault::Vault,
    &residual_salesforce::Salesforce,
    &residual_scim::Scim,
    &residual_okta::Okta,
    &residual_google::Google,
    &residual_microsoft::Microsoft,
];

/// The system called `name`.
pub fn get(name: &str) -> Option<&'static dyn System> {
    SYSTEMS.iter().copied().find(|s| s.name() == name)
}

/// `a, b and c`.
pub fn joined(items: &[String], last: &str) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., tail] => format!("{} {last} {tail}", rest.join(", ")),
    }
}

/// The config tables, for messages: `[[aws]], [[github]] … or [[scim]]`.
pub fn tables() -> String {
    let t: Vec<String> = SYSTEMS
        .iter()
        .map(|s| format!("[[{}]]", s.name()))
        .collect();
    joined(&t, "or")
}

/// The one-line description of the tool, naming every system.
pub fn about() -> String {
    let titles: Vec<String> = SYSTEMS.iter().map(|s| s.title().to_string()).collect();
    format!(
        "Find the access people kept after they left — in {} — with evidence an auditor accepts",
        joined(&titles, "and")
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_are_unique_lowercase_words() {
        let mut names: Vec<&str> = super::SYSTEMS.iter().map(|s| s.name()).collect();
        for n in &names {
            assert!(
                !n.is_empty() && n.chars().all(|c| c.is_ascii_lowercase()),
                "{n:?}"
            );
        }
        names.sort();
        names.dedup();
        assert_eq!(names.len(), super::SYSTEMS.len());
    }
}
