//! `residual plan DIR`: a reviewable revocation plan from a verified report folder — one step
//! per open finding, critical first, then by leaver — as `plan.md` for people, `plan.json` for
//! automation and `plan.sh`, which prints every command and runs them only with `--apply`.
//! `plan` itself never calls a system.
//!
//! Each step carries the finding's commands in the catalogue's safe order (`then_commands`
//! after the first: deactivate, then delete), already shell-quoted by `shell::fill`, and what
//! a re-scan must show to prove it closed. Findings on secrets a leaver could read or machine
//! identities they owned are rotate-and-confirm steps. With `--done NEWER`, a later (verified)
//! report marks the steps it shows closed.
//!
//! Invariant: nothing from the report reaches `plan.sh` outside a single-quoted string, and
//! control characters are made visible first, so a hostile resource name cannot run.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Serialize;
use serde_json::Value;

use crate::catalogue::{Catalogue, On};

pub const PLAN_SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub step: usize,
    pub finding_id: String,
    pub severity: String,
    pub check_id: String,
    pub title: String,
    pub leaver_email: String,
    pub system: String,
    pub system_instance: String,
    pub resource_id: String,
    pub resource_name: String,
    /// `revoke`, or `rotate` (rotate the secret, confirm its users moved, then revoke the old).
    pub action: &'static str,
    pub remediation: String,
    /// Shell commands in order; empty when the catalogue has none for the check.
    pub commands: Vec<String>,
    /// What proves it closed.
    pub proof: String,
    /// Closed in the `--done` report.
    pub done: bool,
}

#[derive(Debug, Serialize)]
pub struct Plan {
    pub schema_version: u32,
    pub scan_id: String,
    pub as_of: String,
    pub source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub done_source: Option<String>,
    pub steps: Vec<Step>,
    /// Leaver × instance rows the report could not check (`error`, `ambiguous`,
    /// `unverified`): no step can close what was not seen. The plan exits 3 when any.
    pub not_checked: Vec<String>,
}

fn s(v: &Value, k: &str) -> String {
    v.get(k)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn severity_rank(s: &str) -> u8 {
    match s {
        "critical" => 0,
        "high" => 1,
        "medium" => 2,
        "low" => 3,
        _ => 4,
    }
}

/// Verified or refused: a plan is never made from a report whose hashes do not hold.
fn verified(dir: &Path, pubkey: Option<&Path>) -> anyhow::Result<Value> {
    let v = crate::report::verify(dir, pubkey, pubkey.is_some())?;
    if !v.problems.is_empty() {
        anyhow::bail!(crate::InputError {
            file: dir.display().to_string(),
            line: None,
            field: None,
            message: format!(
                "the report does not verify, so no plan is made from it: {}",
                v.problems.join("; ")
            ),
        });
    }
    let file = dir.join("findings.json");
    let bytes = std::fs::read(&file).with_context(|| format!("{}: cannot read", file.display()))?;
    serde_json::from_slice(&bytes).with_context(|| format!("{}: not JSON", file.display()))
}

/// Build the plan for the report in `dir`, with the steps `done` (a later report) closed.
pub fn build(dir: &Path, done: Option<&Path>, pubkey: Option<&Path>) -> anyhow::Result<Plan> {
    let report = verified(dir, pubkey)?;
    crate::baseline::load(dir)?;
    let cat = Catalogue::builtin();
    // The newer report's open finding ids, and the leaver × system × instance it fully checked.
    type Closed = (HashSet<String>, HashSet<(String, String, String)>);
    let closed: Option<Closed> = match done {
        None => None,
        Some(d) => {
            let newer = verified(d, pubkey)?;
            let (open, _) = crate::baseline::load(d)?;
            let cov = newer
                .get("coverage")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let checked = crate::baseline::checked_pairs(cov.iter().map(|c| {
                (
                    c.get("leaver_id")
                        .and_then(Value::as_str)
                        .unwrap_or_default(),
                    c.get("system").and_then(Value::as_str).unwrap_or_default(),
                    c.get("system_instance")
                        .and_then(Value::as_str)
                        .unwrap_or_default(),
                    c.get("outcome").and_then(Value::as_str).unwrap_or_default(),
                )
            }));
            Some((open.into_keys().collect(), checked))
        }
    };
    let findings: Vec<&Value> = report
        .get("findings")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter(|f| s(f, "status") == "open").collect())
        .unwrap_or_default();
    let mut steps: Vec<Step> = findings
        .iter()
        .map(|f| {
            let check_id = s(f, "check_id");
            let check = cat.get(&check_id);
            let rotate = check.is_some_and(|c| matches!(c.on, On::SecretNotRotated | On::Owned));
            let commands: Vec<String> = f
                .get("commands")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
                .unwrap_or_default();
            let id = s(f, "finding_id");
            let done = closed.as_ref().is_some_and(|(open, checked)| {
                !open.contains(&id) && checked.contains(&crate::baseline::pair(f))
            });
            let proof = format!(
                "a new scan no longer reports finding {id} ({check_id} on {}) and covers {} in {} (`residual diff` lists it resolved)",
                s(f, "resource_id"),
                s(f, "leaver_email"),
                s(f, "system_instance")
            );
            Step {
                step: 0,
                finding_id: id,
                severity: s(f, "severity"),
                check_id,
                title: s(f, "title"),
                leaver_email: s(f, "leaver_email"),
                system: s(f, "system"),
                system_instance: s(f, "system_instance"),
                resource_id: s(f, "resource_id"),
                resource_name: s(f, "resource_name"),
                action: if rotate { "rotate" } else { "revoke" },
                remediation: s(f, "remediation"),
                commands,
                proof,
                done,
            }
        })
        .collect();
    steps.sort_by(|a, b| {
        (
            severity_rank(&a.severity),
            &a.leaver_email,
            &a.system,
            &a.system_instance,
            &a.check_id,
            &a.resource_id,
        )
            .cmp(&(
                severity_rank(&b.severity),
                &b.leaver_email,
                &b.system,
                &b.system_instance,
                &b.check_id,
                &b.resource_id,
            ))
    });
    for (i, st) in steps.iter_mut().enumerate() {
        st.step = i + 1;
    }
    let not_checked: Vec<String> = report
        .get("coverage")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|c| {
            matches!(
                s(c, "outcome").as_str(),
                "error" | "ambiguous" | "unverified"
            )
        })
        .map(|c| {
            format!(
                "{} in {} {}: {} ({})",
                s(c, "leaver_email"),
                s(c, "system"),
                s(c, "system_instance"),
                s(c, "outcome"),
                s(c, "detail")
            )
        })
        .collect();
    Ok(Plan {
        not_checked,
        schema_version: PLAN_SCHEMA_VERSION,
        scan_id: s(&report, "scan_id"),
        as_of: s(&report, "as_of"),
        source: dir.display().to_string(),
        done_source: done.map(|d| d.display().to_string()),
        steps,
    })
}

fn printable(v: &str) -> String {
    residual_probe::text::printable(v).into_owned()
}

/// A single-quoted shell word: nothing inside is expanded.
fn sq(v: &str) -> String {
    format!("'{}'", printable(v).replace('\'', r"'\''"))
}

/// Markdown text: markup and control characters neutralised.
fn md(v: &str) -> String {
    let mut out = String::new();
    for c in printable(v).chars() {
        if "\\`*_{}[]<>()#+-.!|~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl Plan {
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let open = self.steps.iter().filter(|s| !s.done).count();
        let _ = writeln!(out, "# Revocation plan for scan {}\n", md(&self.scan_id));
        let _ = writeln!(
            out,
            "From `{}` (verified), as of {}: {} step(s), {} open{}. Critical first, then by leaver. \
             Review each step; `plan.sh` prints these commands and runs them only with `--apply`.\n",
            printable(&self.source).replace('`', "'"),
            md(&self.as_of),
            self.steps.len(),
            open,
            self.done_source
                .as_ref()
                .map(|d| format!(", checked against `{}`", printable(d).replace('`', "'")))
                .unwrap_or_default()
        );
        if !self.not_checked.is_empty() {
            let _ = writeln!(
                out,
                "## Not checked: no step can close these\n\nThe report could not check {} leaver × instance row(s); re-scan them before calling this plan complete.\n",
                self.not_checked.len()
            );
            for n in &self.not_checked {
                let _ = writeln!(out, "- {}", md(n));
            }
            let _ = writeln!(out);
        }
        for st in &self.steps {
            let _ = writeln!(
                out,
                "## {}. {}{} — {} ({})\n",
                st.step,
                if st.done { "[done] " } else { "" },
                md(&st.severity),
                md(&st.title),
                md(&st.check_id)
            );
            let _ = writeln!(
                out,
                "- leaver: {}\n- where: {} {}\n- resource: {} ({})\n- action: {}",
                md(&st.leaver_email),
                md(&st.system),
                md(&st.system_instance),
                md(&st.resource_name),
                md(&st.resource_id),
                if st.action == "rotate" {
                    "rotate: put a new secret in place, move its users to it, confirm, then revoke the old one"
                } else {
                    "revoke"
                }
            );
            let _ = writeln!(out, "- how: {}", md(&st.remediation));
            let _ = writeln!(out, "- proven closed when: {}\n", md(&st.proof));
            if st.commands.is_empty() {
                let _ = writeln!(out, "No command: follow the remediation above.\n");
            } else {
                let _ = writeln!(out, "```sh");
                for c in &st.commands {
                    let _ = writeln!(out, "{}", printable(c).replace("```", "'''"));
                }
                let _ = writeln!(out, "```\n");
            }
        }
        out
    }

    pub fn shell(&self) -> String {
        let mut out = String::new();
        out.push_str("#!/usr/bin/env bash\n");
        let _ = writeln!(
            out,
            "# Revocation plan for scan {}, from residual plan. Prints every command; runs them",
            printable(&self.scan_id).replace('\n', " ")
        );
        out.push_str("# only when called with --apply. Review plan.md first.\n");
        out.push_str("# Each command is data here, one single-quoted word: nothing in it expands until run.\n");
        out.push_str("# shellcheck disable=SC2016,SC1003\n");
        out.push_str("set -euo pipefail\n\napply=0\n");
        out.push_str("case \"${1:-}\" in\n  --apply) apply=1 ;;\n  '') ;;\n  *) echo \"usage: $0 [--apply]\" >&2; exit 2 ;;\nesac\n\n");
        out.push_str("step() { printf '\\n# step %s: %s\\n' \"$1\" \"$2\"; }\n");
        out.push_str("run() {\n  if [ \"$apply\" = 1 ]; then\n    printf '+ %s\\n' \"$1\"\n    bash -c \"$1\"\n  else\n    printf '%s\\n' \"$1\"\n  fi\n}\n");
        for st in self.steps.iter().filter(|s| !s.done) {
            let what = format!(
                "{} {} {} {} ({})",
                st.severity, st.check_id, st.action, st.resource_id, st.leaver_email
            );
            let _ = writeln!(out, "\nstep {} {}", st.step, sq(&what));
            if st.commands.is_empty() {
                let _ = writeln!(
                    out,
                    "printf '%s\\n' {}",
                    sq(&format!("no command: {}", st.remediation))
                );
            }
            for c in &st.commands {
                let _ = writeln!(out, "run {}", sq(c));
            }
        }
        out
    }
}

/// `residual plan DIR [--done NEWER] [--out PLAN_DIR]`: writes plan.md, plan.json, plan.sh.
pub fn command(
    dir: &Path,
    done: Option<&Path>,
    out: Option<&Path>,
    pubkey: Option<&Path>,
) -> anyhow::Result<u8> {
    let plan = build(dir, done, pubkey)?;
    let out: PathBuf = match out {
        Some(o) => o.to_path_buf(),
        None => {
            let name = dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "report".into());
            dir.with_file_name(format!("{name}-plan"))
        }
    };
    std::fs::create_dir_all(&out).with_context(|| format!("{}: cannot create", out.display()))?;
    let write = |name: &str, body: &str| -> anyhow::Result<()> {
        let p = out.join(name);
        std::fs::write(&p, body).with_context(|| format!("{}: cannot write", p.display()))
    };
    write("plan.md", &plan.markdown())?;
    write("plan.json", &(serde_json::to_string_pretty(&plan)? + "\n"))?;
    write("plan.sh", &plan.shell())?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let p = out.join("plan.sh");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755))?;
    }
    let mut by: BTreeMap<&str, usize> = BTreeMap::new();
    for st in plan.steps.iter().filter(|s| !s.done) {
        *by.entry(st.severity.as_str()).or_default() += 1;
    }
    let open = plan.steps.iter().filter(|s| !s.done).count();
    println!(
        "plan: {} step(s), {open} open ({}), {} done; written to {}",
        plan.steps.len(),
        by.iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", "),
        plan.steps.len() - open,
        printable(&out.display().to_string())
    );
    println!(
        "review {} then print the commands with: bash {}",
        sq(&out.join("plan.md").display().to_string()),
        sq(&out.join("plan.sh").display().to_string())
    );
    if !plan.not_checked.is_empty() {
        println!(
            "INCOMPLETE: {} leaver × instance row(s) were not checked; no step closes them (plan.md lists them)",
            plan.not_checked.len()
        );
        return Ok(crate::exit::INCOMPLETE);
    }
    Ok(crate::exit::CLEAN)
}
