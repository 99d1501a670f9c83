//! `residual`: for every person who left, in every system, is any path to authenticate,
//! authorize or impersonate them left?
//!
//! This crate is the pipeline around the probes — parse leavers and config, plan, run the
//! probes (`probes/*`), correlate, evaluate, report — and does no network I/O of its own.
//! `main.rs` is a thin shell around [`run`].

pub mod baseline;
pub mod catalogue;
pub mod cli;
pub mod config;
pub mod correlate;
pub mod demo;
pub mod evaluate;
pub mod leavers;
pub mod merge;
pub mod pipeline;
pub mod plan;
pub mod registry;
pub mod report;
pub mod scan;
pub mod shell;
pub mod suppress;

use std::fmt;

/// Bad input: a leavers file, config or argument that cannot be used. Exit code 2, and
/// nothing is scanned. The message names the file, line and field.
#[derive(Debug, Clone, PartialEq)]
pub struct InputError {
    pub file: String,
    pub line: Option<usize>,
    pub field: Option<String>,
    pub message: String,
}

/// Messages echo input (a header, a value): at most this much of any part is shown.
const ECHO: usize = 200;

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use residual_probe::text::{clip, printable};
        write!(f, "{}", printable(&clip(&self.file, ECHO)))?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
        }
        if let Some(c) = &self.field {
            write!(f, ": field {:?}", clip(c, ECHO))?;
        }
        write!(f, ": {}", printable(&clip(&self.message, 2 * ECHO)))
    }
}

impl std::error::Error for InputError {}

/// Exit codes (docs/commands.md).
pub mod exit {
    pub const CLEAN: u8 = 0;
    pub const FINDINGS: u8 = 1;
    pub const INPUT: u8 = 2;
    pub const INCOMPLETE: u8 = 3;
    /// The scan ran but its report could not be written (disk full, permissions).
    pub const WRITE: u8 = 4;
}

/// Run the command line; returns the process exit code. Errors are printed here, redacted.
pub fn run(args: Vec<std::ffi::OsString>) -> u8 {
    use clap::Parser;
    let cli = match cli::Cli::try_parse_from(&args) {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() {
                exit::INPUT
            } else {
                exit::CLEAN
            };
            let _ = e.print();
            return code;
        }
    };
    cli::init_logging(cli.verbose, cli.quiet);
    match cli::dispatch(cli, &args) {
        Ok(code) => code,
        Err(e) => {
            let text = residual_probe::redact::redact(&format!("{e:#}"));
            eprintln!("error: {}", residual_probe::text::printable(&text));
            if e.downcast_ref::<report::WriteError>().is_some() {
                exit::WRITE
            } else {
                exit::INPUT
            }
        }
    }
}
