//! `residual demo`: the built-in estate, scanned offline, written as a full report. Each
//! system crate contributes its part (`probes/<system>/src/demo.rs`), written against
//! `fixtures/demo/leavers.csv`; together they show every kind of finding and every coverage
//! outcome, including an instance that could not be read (`error`, never clean).
//!
//! The as-of instant is pinned so the demo report is the same on every machine and every day
//! (`reports/example/` is the demo's report, kept from drifting by a test).

use std::path::PathBuf;

use residual_probe::{Snapshot, SNAPSHOT_SCHEMA_VERSION};
use time::OffsetDateTime;

use crate::leavers::{self, Format};
use crate::pipeline::{self, RunOptions, TOOL_VERSION};
use crate::registry;

pub const LEAVERS_CSV: &str = include_str!("../fixtures/demo/leavers.csv");
pub const AS_OF: OffsetDateTime = residual_probe::demo::AS_OF;

/// The demo estate: every system's part, readable instances first.
pub fn estate() -> Snapshot {
    let mut systems: Vec<_> = registry::SYSTEMS.iter().flat_map(|s| s.demo()).collect();
    // Stable: the order within each group is the registry's.
    systems.sort_by_key(|s| !s.is_complete());
    Snapshot {
        schema_version: SNAPSHOT_SCHEMA_VERSION,
        tool_version: TOOL_VERSION.into(),
        collected_at: AS_OF,
        systems,
        shard: None,
    }
}

pub fn demo_command(
    out: Option<PathBuf>,
    json: bool,
    command_line: Vec<String>,
) -> anyhow::Result<u8> {
    let set = leavers::parse(
        "demo:leavers.csv",
        LEAVERS_CSV.as_bytes(),
        Format::Csv(b','),
    )?;
    let result = pipeline::run(
        &set,
        estate(),
        RunOptions {
            leavers_file: "demo:leavers.csv".into(),
            snapshot_source: "built-in demo estate".into(),
            as_of: AS_OF,
            // The demo is a replay of a fixed estate: its start is the estate's time.
            started_at: AS_OF,
            out,
            command_line,
            ..RunOptions::default()
        },
    )?;
    pipeline::print_summary(&result, json);
    if !json {
        println!(
            "  (a real scan would exit {}; the demo exits 0. Try: residual verify {})",
            result.code,
            result.dir.display()
        );
    }
    Ok(crate::exit::CLEAN)
}
