//! The command line (docs/commands.md): argument types, logging setup, and dispatch to the
//! commands. Arguments become the commands' own input types here; nothing below depends on
//! clap.

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::{CommandFactory, Parser, Subcommand};

use crate::catalogue::{Catalogue, Severity};
use crate::{exit, scan};

#[derive(Debug, Parser)]
#[command(name = "residual", version, about = crate::registry::about(), long_about = None)]
pub struct Cli {
    /// More log output on stderr (-v info, -vv debug).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Scan every configured system for the leavers' residual access and write a report.
    Scan(ScanArgs),
    /// Scan the built-in demo estate (offline) and write a full report.
    Demo {
        /// Report folder (default: reports/<UTC timestamp>-<scan id>/).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Print the summary as JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Collect only: write the estate snapshot for a later `scan --snapshot`.
    Collect {
        #[arg(long)]
        config: PathBuf,
        #[arg(long)]
        leavers: PathBuf,
        #[arg(long)]
        out: PathBuf,
        #[arg(long, value_parser = parse_delimiter)]
        delimiter: Option<u8>,
        /// Collect only shard K of N (K from 0): see `residual merge`.
        #[arg(long)]
        shard: Option<String>,
    },
    /// Re-hash a report folder against its manifest: exit 0 intact, 1 tampered.
    Verify {
        dir: PathBuf,
        /// Also check manifest.sig with this Ed25519 public key (SPKI PEM).
        #[arg(long)]
        pubkey: Option<PathBuf>,
        /// Fail unless a valid signature was checked (needs --pubkey).
        #[arg(long)]
        require_signature: bool,
    },
    /// New, resolved and persisting findings between two scans.
    Diff {
        old: PathBuf,
        new: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Put the report folders of a sharded scan (`scan --shard K/N`) back together as one report.
    Merge {
        /// The shard report folders.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// The merged report folder (new or empty).
        #[arg(long)]
        out: PathBuf,
        /// Check every shard's manifest.sig with this Ed25519 public key (SPKI PEM).
        #[arg(long)]
        pubkey: Option<PathBuf>,
    },
    /// An ordered, reviewable revocation plan from a report folder (verified first).
    Plan {
        dir: PathBuf,
        /// A newer report folder: mark the steps it shows closed.
        #[arg(long)]
        done: Option<PathBuf>,
        /// Where to write plan.md, plan.json and plan.sh (default: <DIR>-plan).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Require a valid manifest.sig under this Ed25519 public key (SPKI PEM) on the
        /// report and on --done: commands from an unsigned folder are only as trustworthy as
        /// whoever could write it.
        #[arg(long)]
        pubkey: Option<PathBuf>,
    },
    /// List the check catalogue.
    Checks {
        #[arg(long)]
        json: bool,
        /// Show the catalogue with these overrides applied.
        #[arg(long = "checks")]
        overrides: Option<PathBuf>,
    },
    /// Print shell completions.
    Completions { shell: clap_complete::Shell },
    /// Print the man page (roff).
    Man,
}

#[derive(Debug, clap::Args)]
pub struct ScanArgs {
    /// The HR list of departed identities (CSV, JSON or JSON Lines).
    #[arg(long)]
    pub leavers: PathBuf,
    /// Config file (default: residual.toml if present).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Report folder (default: reports/<UTC timestamp>-<scan id>/); must be new or empty.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Re-evaluate a saved snapshot offline instead of collecting.
    #[arg(long)]
    pub snapshot: Option<PathBuf>,
    /// Evaluate as of this instant (YYYY-MM-DD or RFC 3339; default now).
    #[arg(long)]
    pub as_of: Option<String>,
    /// Output formats, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "csv,json,ocsf,html,md")]
    pub format: Vec<String>,
    /// Exit 1 when an open finding is at or above this severity.
    #[arg(long, default_value = "low", value_parser = parse_severity)]
    pub fail_on: Severity,
    /// Mark findings new or persisting against an earlier report folder.
    #[arg(long)]
    pub baseline: Option<PathBuf>,
    /// Mute findings listed in this file (TOML or YAML).
    #[arg(long)]
    pub suppressions: Option<PathBuf>,
    /// Exit 0 even when findings exist or the scan is incomplete (not on input errors).
    #[arg(long)]
    pub exit_zero: bool,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Leavers CSV delimiter (one character; `\t` for tab).
    #[arg(long, value_parser = parse_delimiter)]
    pub delimiter: Option<u8>,
    /// Start the CSV files with a UTF-8 byte order mark (for Excel on Windows).
    #[arg(long)]
    pub csv_bom: bool,
    /// Sign manifest.json with this Ed25519 private key (PKCS#8 PEM); writes manifest.sig.
    #[arg(long)]
    pub sign_key: Option<PathBuf>,
    /// Override check metadata (severity, titles, remediation, controls) from this TOML file.
    #[arg(long)]
    pub checks: Option<PathBuf>,
    /// Scan only shard K of N (K from 0, as Kubernetes' JOB_COMPLETION_INDEX): a complete
    /// report folder of this shard's instances, for `residual merge`.
    #[arg(long)]
    pub shard: Option<String>,
}

fn parse_severity(s: &str) -> Result<Severity, String> {
    Severity::parse(s).ok_or_else(|| format!("{s:?} is not one of low, medium, high, critical"))
}

fn parse_delimiter(s: &str) -> Result<u8, String> {
    match s {
        "\\t" | "tab" => Ok(b'\t'),
        s if s.len() == 1 && s.is_ascii() && s != "\"" && s != "\n" => Ok(s.as_bytes()[0]),
        _ => Err(format!("{s:?} is not a one-character delimiter")),
    }
}

/// Logs go to stderr, through the redaction filter, never to stdout.
/// `--quiet`: the scan's own stderr table stays silent too.
pub static QUIET: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

pub fn init_logging(verbose: u8, quiet: bool) {
    QUIET.store(quiet, std::sync::atomic::Ordering::Relaxed);
    let level = if quiet {
        "error"
    } else {
        match verbose {
            0 => "warn",
            1 => "info",
            _ => "debug",
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("RESIDUAL_LOG").unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!(
            "{level},aws_config=warn,aws_smithy_runtime=warn,aws_sigv4=warn,aws_smithy_http_client=warn,hyper=warn,hyper_util=warn,rustls=warn"
        ))
    });
    // No colours: log lines carry estate text, and every control character in them is
    // escaped (a value must not be able to move the cursor or retitle the terminal).
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| RedactingStderr)
        .with_ansi(false)
        .try_init();
}

/// A stderr writer that redacts each formatted log event, and escapes its control
/// characters, before it is written.
struct RedactingStderr;

impl Write for RedactingStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        let text = residual_probe::redact::redact(&text);
        let (body, end) = match text.strip_suffix('\n') {
            Some(b) => (b, "\n"),
            None => (text.as_str(), ""),
        };
        let line = format!("{}{end}", residual_probe::text::printable(body));
        std::io::stderr().write_all(line.as_bytes())?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// The catalogue as a table: columns as wide as their widest value, the severity with what it
/// escalates to (`high→critical`), values from an overrides file escaped.
fn print_checks(cat: &Catalogue) -> anyhow::Result<()> {
    let p = |s: &str| residual_probe::text::printable(s).into_owned();
    let rows: Vec<[String; 4]> = cat
        .checks
        .iter()
        .map(|c| {
            let sev = if c.critical_when.is_empty() || c.severity == Severity::Critical {
                c.severity.as_str().to_string()
            } else {
                format!("{}→critical", c.severity.as_str())
            };
            let controls = [c.owasp_nhi.join(","), c.nist_csf.join(",")].join(" ");
            [p(&c.id), sev, p(&controls), p(&c.title)]
        })
        .collect();
    let head = ["ID", "SEVERITY", "CONTROLS", "TITLE"];
    let width = |i: usize| {
        rows.iter()
            .map(|r| r[i].chars().count())
            .chain([head[i].len()])
            .max()
            .unwrap_or(0)
    };
    let (w0, w1, w2) = (width(0), width(1), width(2));
    let mut out = std::io::stdout().lock();
    let line = |out: &mut std::io::StdoutLock, r: [&str; 4]| {
        let pad =
            |s: &str, w: usize| format!("{s}{}", " ".repeat(w.saturating_sub(s.chars().count())));
        writeln!(
            out,
            "{}  {}  {}  {}",
            pad(r[0], w0),
            pad(r[1], w1),
            pad(r[2], w2),
            r[3]
        )
    };
    line(&mut out, head)?;
    for r in &rows {
        line(&mut out, [&r[0], &r[1], &r[2], &r[3]])?;
    }
    if cat.checks.iter().any(|c| !c.critical_when.is_empty()) {
        writeln!(out, "\n→critical: when used after departure, or with admin power or the owner role (docs/checks.md)")?;
    }
    Ok(())
}

pub fn dispatch(cli: Cli, raw_args: &[OsString]) -> anyhow::Result<u8> {
    let command_line: Vec<String> = raw_args
        .iter()
        .map(|a| a.to_string_lossy().to_string())
        .collect();
    match cli.command {
        Command::Scan(a) => scan::scan_command(scan::ScanInputs {
            leavers: a.leavers,
            config: a.config,
            out: a.out,
            snapshot: a.snapshot,
            as_of: a.as_of,
            formats: a.format,
            fail_on: a.fail_on,
            baseline: a.baseline,
            suppressions: a.suppressions,
            exit_zero: a.exit_zero,
            json: a.json,
            delimiter: a.delimiter,
            csv_bom: a.csv_bom,
            sign_key: a.sign_key,
            checks: a.checks,
            shard: a.shard,
            command_line,
        }),
        Command::Demo { out, json } => crate::demo::demo_command(out, json, command_line),
        Command::Collect {
            config,
            leavers,
            out,
            delimiter,
            shard,
        } => scan::collect_command(&config, &leavers, &out, delimiter, shard.as_deref()),
        Command::Verify {
            dir,
            pubkey,
            require_signature,
        } => {
            let v = crate::report::verify(&dir, pubkey.as_deref(), require_signature)?;
            let name = residual_probe::text::printable(&dir.display().to_string()).into_owned();
            for n in &v.notes {
                eprintln!("{name}: note: {n}");
            }
            if v.problems.is_empty() {
                println!("{name}: intact");
                Ok(exit::CLEAN)
            } else {
                for p in &v.problems {
                    println!("{name}: {p}");
                }
                Ok(exit::FINDINGS)
            }
        }
        Command::Diff { old, new, json } => crate::baseline::diff_command(&old, &new, json),
        Command::Merge { dirs, out, pubkey } => {
            crate::merge::command(&dirs, &out, pubkey.as_deref())
        }
        Command::Plan {
            dir,
            done,
            out,
            pubkey,
        } => crate::plan::command(&dir, done.as_deref(), out.as_deref(), pubkey.as_deref()),
        Command::Checks { json, overrides } => {
            let cat = match &overrides {
                Some(p) => Catalogue::with_overrides(p)?,
                None => Catalogue::builtin(),
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&cat.checks)?);
            } else {
                print_checks(&cat)?;
            }
            Ok(exit::CLEAN)
        }
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "residual",
                &mut std::io::stdout(),
            );
            Ok(exit::CLEAN)
        }
        Command::Man => {
            clap_mangen::Man::new(Cli::command())
                .render(&mut std::io::stdout())
                .context("writing the man page")?;
            Ok(exit::CLEAN)
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// `docs/commands.md` names every command and every option of `scan` and `collect`.
    #[test]
    fn docs_commands_md_names_every_command_and_option() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/commands.md");
        let doc = std::fs::read_to_string(path).unwrap();
        let cmd = super::Cli::command();
        for sub in cmd.get_subcommands() {
            let name = sub.get_name();
            assert!(
                doc.contains(&format!("`residual {name}")),
                "docs/commands.md does not document `residual {name}`"
            );
            if matches!(
                name,
                "scan" | "collect" | "verify" | "diff" | "checks" | "demo" | "plan" | "merge"
            ) {
                for a in sub.get_arguments() {
                    if let Some(l) = a.get_long() {
                        assert!(
                            doc.contains(&format!("--{l}")),
                            "docs/commands.md does not document `residual {name} --{l}`"
                        );
                    }
                }
            }
        }
    }
}
