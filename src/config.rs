//! `residual.toml` (docs/config.md): the `[scan]` table here, and one `[[system]]` array of
//! tables per registered system, each parsed and validated by its own crate (`registry.rs`).
//! Everything is checked before any request is sent: unknown tables and keys, types and
//! ranges, credentials (`token_env` must be set), and that no two instances share a label.
//!
//! Secrets never live in the file. A config error is an [`InputError`] (exit 2) naming the
//! file, line and key.

use std::path::Path;
use std::time::Duration;

use residual_probe::config::{toml_error, ConfigCtx, ConfigError, Positive, ScanSettings};
use residual_probe::Probe;
use serde::Deserialize;
use time::OffsetDateTime;

use crate::{registry, InputError};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScan {
    /// A TOML date-time, or a string in the leavers file's date formats.
    pub as_of: Option<toml::Value>,
    /// Requests in flight per system instance.
    pub concurrency: Option<Positive>,
    /// Residual access older than this after departure breaches the SLA.
    pub sla_hours: Option<Positive>,
    /// Per-request read timeout; a held connection fails after this.
    pub request_timeout_secs: Option<Positive>,
    /// Attempts per request, retries on throttling and 5xx included.
    pub max_attempts: Option<Positive>,
    /// The longest the scan waits for an API rate limit to reset before reporting the
    /// system incomplete (0: never wait).
    pub max_rate_limit_wait_secs: Option<u64>,
}

/// The validated config: scan settings and one probe per system instance.
pub struct Config {
    pub as_of: Option<OffsetDateTime>,
    pub concurrency: usize,
    pub sla_hours: u32,
    pub probes: Vec<Box<dyn Probe>>,
    pub sha256: Option<String>,
}

impl Config {
    /// No system to scan.
    pub fn is_empty(&self) -> bool {
        self.probes.is_empty()
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            as_of: None,
            concurrency: 16,
            sla_hours: 24,
            probes: Vec::new(),
            sha256: None,
        }
    }
}

/// The `[scan]` keys, for the config reference.
pub fn scan_keys() -> &'static [&'static str] {
    residual_probe::config::field_names::<RawScan>()
}

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
        message: if e.kind() == std::io::ErrorKind::NotFound {
            "config file not found".into()
        } else {
            format!("cannot read the config: {e}")
        },
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
    let env = |k: &str| std::env::var(k).ok();
    let mut cfg = parse_with(&file, text, &env, offline)?;
    cfg.sha256 = Some(hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes)));
    Ok(cfg)
}

/// Parse and validate; `env` looks up environment variables (injected for tests).
pub fn parse(
    file: &str,
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, InputError> {
    parse_with(file, text, env, false)
}

fn input(file: &str, e: ConfigError) -> InputError {
    InputError {
        file: file.into(),
        line: e.line,
        field: e.key,
        message: e.message,
    }
}

fn parse_with(
    file: &str,
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
    offline: bool,
) -> Result<Config, InputError> {
    let err = |e: ConfigError| input(file, e);
    // Syntax, and tables nobody reads: a misspelt `[[githb]]` must not scan nothing quietly.
    let doc: toml::Table = toml::from_str(text).map_err(|e| err(toml_error(text, &e)))?;
    for key in doc.keys() {
        if key != "scan" && registry::get(key).is_none() {
            return Err(err(ConfigError {
                line: header_lines(text, key).first().copied(),
                key: Some(key.clone()),
                message: format!(
                    "unknown table {key:?}: the config has [scan] and {}",
                    registry::tables()
                ),
            }));
        }
    }
    let scan: RawScan = residual_probe::config::section(text, "scan")
        .map_err(|e| err(toml_error(text, &e)))?
        .unwrap_or_default();
    let scan_err = |key: &str, message: String| {
        err(ConfigError {
            line: key_line(text, key),
            key: Some(key.into()),
            message: format!("{key}: {message}"),
        })
    };
    let as_of = match &scan.as_of {
        Some(d) => {
            Some(crate::leavers::parse_instant(&d.to_string()).map_err(|m| scan_err("as_of", m))?)
        }
        None => None,
    };
    let concurrency = scan.concurrency.map_or(16, |p| p.0);
    if concurrency > 256 {
        return Err(scan_err(
            "concurrency",
            format!("expected at most 256, found {concurrency}"),
        ));
    }
    let max_attempts = scan.max_attempts.map_or(6, |p| p.0);
    if max_attempts > 20 {
        return Err(scan_err(
            "max_attempts",
            format!("expected at most 20, found {max_attempts}"),
        ));
    }
    let sla_hours = scan.sla_hours.map_or(24, |p| p.0);
    let sla_hours = u32::try_from(sla_hours)
        .map_err(|_| scan_err("sla_hours", format!("{sla_hours} is too large")))?;
    let settings = ScanSettings {
        concurrency: concurrency as usize,
        http: residual_probe::http::HttpPolicy {
            read_timeout: Duration::from_secs(scan.request_timeout_secs.map_or(30, |p| p.0)),
            max_attempts: max_attempts as u32,
            max_rate_wait: Duration::from_secs(scan.max_rate_limit_wait_secs.unwrap_or(900)),
            ..Default::default()
        },
    };
    let cx = ConfigCtx::new(file, text, settings, env, offline);
    let mut probes: Vec<Box<dyn Probe>> = Vec::new();
    // (system, label) → seen; a second instance with the same label would mix two systems'
    // findings under one name, and a baseline could not tell them apart.
    let mut labels: Vec<(&str, String)> = Vec::new();
    for system in registry::SYSTEMS {
        let found = system.configure(&cx).map_err(err)?;
        let lines = header_lines(text, system.name());
        for (i, p) in found.iter().enumerate() {
            let label = p.label();
            if labels
                .iter()
                .any(|(s, l)| *s == system.name() && *l == label)
            {
                return Err(err(ConfigError {
                    line: lines.get(i).copied(),
                    key: Some("name".into()),
                    message: format!(
                        "[[{}]] #{}: another [[{}]] table has the label {label:?}; give each a distinct name",
                        system.name(),
                        i + 1,
                        system.name()
                    ),
                }));
            }
            labels.push((system.name(), label));
        }
        probes.extend(found);
    }
    Ok(Config {
        as_of,
        concurrency: concurrency as usize,
        sla_hours,
        probes,
        sha256: None,
    })
}

/// Lines of every `[[name]]` (or `[name]`) header, in order.
fn header_lines(text: &str, name: &str) -> Vec<usize> {
    let want = [format!("[[{name}]]"), format!("[{name}]")];
    text.lines()
        .enumerate()
        .filter(|(_, l)| {
            let t = l.trim();
            want.iter().any(|w| t.starts_with(w.as_str()))
        })
        .map(|(i, _)| i + 1)
        .collect()
}

/// The first line assigning `key`.
fn key_line(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .position(|l| {
            l.trim_start()
                .strip_prefix(key)
                .is_some_and(|r| r.trim_start().starts_with('='))
        })
        .map(|i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    /// `docs/config.md` documents exactly the keys each table accepts.
    #[test]
    fn docs_config_md_lists_every_key_of_every_table() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/config.md");
        let doc = std::fs::read_to_string(path).unwrap();
        let section = |heading: &str| -> Vec<String> {
            let start = doc
                .find(&format!("## `{heading}`"))
                .unwrap_or_else(|| panic!("docs/config.md has no section for {heading}"));
            let rest = &doc[start + 3..];
            let body = &rest[..rest.find("\n## ").unwrap_or(rest.len())];
            let mut keys: Vec<String> = body
                .lines()
                .filter_map(|l| l.strip_prefix("| `"))
                .filter_map(|l| l.split_once('`').map(|(k, _)| k.to_string()))
                .collect();
            keys.sort();
            keys
        };
        let sorted = |k: &[&str]| {
            let mut v: Vec<String> = k.iter().map(|s| s.to_string()).collect();
            v.sort();
            v
        };
        assert_eq!(section("[scan]"), sorted(scan_keys()), "[scan]");
        for s in registry::SYSTEMS {
            let h = format!("[[{}]]", s.name());
            assert_eq!(section(&h), sorted(s.config_keys()), "{h}");
        }
    }

    #[test]
    fn unknown_key_is_named_with_line() {
        let e = parse("r.toml", "[scan]\nconcurency = 3\n", &no_env)
            .map(|_| ())
            .unwrap_err();
        assert_eq!(e.line, Some(2));
        assert!(e.message.contains("concurency"), "{}", e.message);
    }

    #[test]
    fn unknown_table_is_named() {
        let e = parse("r.toml", "[[githb]]\norg = \"x\"\n", &no_env)
            .map(|_| ())
            .unwrap_err();
        assert_eq!(e.line, Some(1));
        assert!(e.message.contains("githb"), "{}", e.message);
        assert!(e.message.contains("[[github]]"), "{}", e.message);
    }

    #[test]
    fn unset_token_env_is_an_error_before_anything_runs() {
        let e = parse(
            "r.toml",
            "[[vault]]\naddr = \"http://x\"\ntoken_env = \"NOPE_TOKEN\"\n",
            &no_env,
        )
        .map(|_| ())
        .unwrap_err();
        assert!(e.message.contains("NOPE_TOKEN"), "{}", e.message);
        assert_eq!(e.field.as_deref(), Some("token_env"));
        assert_eq!(e.line, Some(3));
    }

    #[test]
    fn salesforce_client_credentials_need_both_halves() {
        let env = |_: &str| Some("value-123456".to_string());
        let e = parse(
            "r.toml",
            "[[salesforce]]\ninstance_url = \"https://x.my.salesforce.com\"\nclient_id_env = \"SF_ID\"\n",
            &env,
        )
        .map(|_| ())
        .unwrap_err();
        assert!(e.message.contains("client_secret_env"), "{}", e.message);
    }

    #[test]
    fn okta_auth_and_strategy_are_checked() {
        let env = |_: &str| Some("00okta-token-123456".to_string());
        let bad = |text: &str| parse("r.toml", text, &env).map(|_| ()).unwrap_err();
        let e = bad("[[okta]]\norg_url = \"https://acme.okta.com\"\nclient_id = \"0oa1\"\n");
        assert!(e.message.contains("private_key_file"), "{}", e.message);
        assert_eq!(e.line, Some(3));
        let e = bad("[[okta]]\norg_url = \"https://acme.okta.com\"\ntoken_env = \"T\"\nstrategy = \"fast\"\n");
        assert_eq!(e.field.as_deref(), Some("strategy"));
        assert!(e.message.contains("\"list\""), "{}", e.message);
        let e = bad("[[okta]]\norg_url = \"acme.okta.com\"\ntoken_env = \"T\"\n");
        assert_eq!(e.field.as_deref(), Some("org_url"));
        let c = parse(
            "r.toml",
            "[[okta]]\norg_url = \"https://acme.okta.com\"\ntoken_env = \"T\"\nstrategy = \"list\"\n",
            &env,
        );
        assert!(c.is_ok());
    }

    #[test]
    fn aws_defaults() {
        let c = parse(
            "r.toml",
            "[scan]\nas_of = 2026-11-26T00:00:00Z\n[[aws]]\nname = \"prod\"\n",
            &no_env,
        )
        .unwrap();
        assert_eq!(c.probes.len(), 1);
        assert_eq!(c.probes[0].label(), "prod");
        assert!(c.as_of.is_some());
    }

    #[test]
    fn scan_numbers_say_what_they_expect() {
        for (text, key, want) in [
            (
                "[scan]\nconcurrency = \"eight\"\n",
                "concurrency",
                "expected a positive integer, found string \"eight\"",
            ),
            (
                "[scan]\nconcurrency = 0\n",
                "concurrency",
                "expected a positive integer",
            ),
            (
                "[scan]\nconcurrency = -3\n",
                "concurrency",
                "expected a positive integer",
            ),
            (
                "[scan]\nsla_hours = 0\n",
                "sla_hours",
                "expected a positive integer",
            ),
            (
                "[scan]\nrequest_timeout_secs = 0\n",
                "request_timeout_secs",
                "expected a positive integer",
            ),
            (
                "[scan]\nmax_attempts = 0\n",
                "max_attempts",
                "expected a positive integer",
            ),
            (
                "[scan]\nmax_attempts = 50\n",
                "max_attempts",
                "expected at most 20, found 50",
            ),
            (
                "[scan]\nmax_rate_limit_wait_secs = -1\n",
                "max_rate_limit_wait_secs",
                "expected a non-negative integer",
            ),
        ] {
            let e = parse("r.toml", text, &no_env).map(|_| ()).unwrap_err();
            assert_eq!(e.line, Some(2), "{text}");
            assert_eq!(e.field.as_deref(), Some(key), "{text}: {e}");
            assert!(
                e.message.starts_with(&format!("{key}: ")),
                "{text}: {}",
                e.message
            );
            assert!(e.message.contains(want), "{text}: {}", e.message);
        }
    }

    #[test]
    fn duplicate_instance_labels_are_refused_for_every_system() {
        let env = |_: &str| Some("value-123456".to_string());
        for text in [
            "[[scim]]\nname = \"slack\"\nbase_url = \"https://a\"\ntoken_env = \"T\"\n\n[[scim]]\nname = \"slack\"\nbase_url = \"https://b\"\ntoken_env = \"T\"\n",
            "[[vault]]\naddr = \"https://v:8200\"\ntoken_env = \"T\"\n\n[[vault]]\naddr = \"https://v:8200/\"\ntoken_env = \"T\"\n",
            "[[aws]]\nregion = \"us-east-1\"\n\n[[aws]]\nregion = \"eu-west-1\"\n",
            "[[github]]\norg = \"acme\"\ntoken_env = \"T\"\n\n[[github]]\norg = \"acme\"\ntoken_env = \"T\"\napi_url = \"https://ghe/api/v3\"\n",
        ] {
            let e = parse("r.toml", text, &env).map(|_| ()).unwrap_err();
            let second = text.lines().enumerate().filter(|(_, l)| l.starts_with("[[")).nth(1);
            assert_eq!(e.line, second.map(|(i, _)| i + 1), "{text}: {e}");
            assert!(e.message.contains("label"), "{e}");
        }
        // One table per namespace on one address stays valid.
        let ok = "[[vault]]\naddr = \"https://v:8200\"\ntoken_env = \"T\"\n\n[[vault]]\naddr = \"https://v:8200\"\ntoken_env = \"T\"\nnamespace = \"team-a\"\n";
        assert_eq!(parse("r.toml", ok, &env).unwrap().probes.len(), 2);
    }
}
