//! The registry contract: everything one system crate tells the core about itself.
//!
//! A system (`aws`, `github`, …) is one crate that exports one [`System`]. The core lists them
//! in `src/registry.rs`, one line each, and iterates that list for config parsing, catalogue
//! loading, the CLI help text, the leavers file's handle columns and the demo estate — so
//! adding a system touches no other file of the core. See ARCHITECTURE.md, "Adding a system".
//!
//! The name is one word used everywhere: the folder under `probes/`, the crate suffix
//! (`residual-<name>`), the config table (`[[<name>]]`), the report's `system` column and the
//! prefix of every check id.

use crate::config::{ConfigCtx, ConfigError};
use crate::{CheckId, Probe, SystemSnapshot};

/// One system, as its crate defines it. Implemented by a unit struct (`residual_aws::Aws`),
/// so the registry can be a `const` list.
pub trait System: Sync {
    /// The one word: folder, crate suffix, config table, `system` column, check-id prefix.
    fn name(&self) -> &'static str;

    /// How people call it, for help text: "AWS IAM and Secrets Manager".
    fn title(&self) -> &'static str;

    /// The check catalogue (`checks.toml`, compiled in with `include_str!`).
    fn catalogue(&self) -> &'static str;

    /// Every check id the crate names in code (gaps, tests), validated against the catalogue
    /// when it loads: a typo is caught at startup, not by an auditor.
    fn check_ids(&self) -> &'static [CheckId];

    /// Leavers-file columns that hold this system's explicit handle, canonical name first
    /// (`github_login`, then synonyms such as `github`). Empty when the system has none.
    fn handle_columns(&self) -> &'static [&'static str] {
        &[]
    }

    /// The entitlements its accounts report (`Account::entitlements`), as the leavers file's
    /// `revoke` column names them: `(prefix, kind)` pairs such as `("github", "team")` or
    /// `("aws-sso", "permission-set")` — `prefix:kind/name`. The prefix is the system's name
    /// unless a part of it has its own (`aws-sso`). Empty: movers cannot be checked here.
    fn entitlement_kinds(&self) -> &'static [(&'static str, &'static str)] {
        &[]
    }

    /// The keys its `[[name]]` table accepts, for the config reference (`docs/config.md` is
    /// checked against them).
    fn config_keys(&self) -> &'static [&'static str];

    /// Turn every `[[name]]` table of the config into probes. Validates everything it can
    /// without a request; an error names the table and key. Credentials are read here (and
    /// registered with the redactor) unless `cx.offline`.
    fn configure(&self, cx: &ConfigCtx) -> Result<Vec<Box<dyn Probe>>, ConfigError>;

    /// This system's part of the built-in demo estate (`residual demo`), written against
    /// `fixtures/demo/leavers.csv`.
    fn demo(&self) -> Vec<SystemSnapshot>;
}
