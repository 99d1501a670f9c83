//! What a row says happened to the person — left, moved, on leave — and how two rows for
//! one person combine: the `status`, `revoke` and `return_date` columns.

use time::OffsetDateTime;

use super::{Handles, Leaver};

/// What the row says happened to the person on `departure`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Status {
    /// Left: every path is a finding.
    Leaver,
    /// Changed role on `departure` (the move date) and keeps their accounts: only the listed
    /// entitlements of the old role, still held, are findings.
    Mover { revoke: Vec<Revoke> },
    /// On leave from `departure` until `until`: every working path in between is a finding;
    /// from `until` on, nothing is.
    Leave {
        #[serde(with = "time::serde::rfc3339")]
        until: OffsetDateTime,
    },
}

/// One `revoke` reference of a mover: `prefix:kind/name`, the prefix naming the system (or a
/// part of it, `aws-sso`) whose accounts report that kind.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Revoke {
    /// The registry system that reports it.
    pub system: &'static str,
    /// `github:team/payments`, as the probes write `Entitlement::reference`.
    pub reference: String,
}

/// `prefix:kind/name` against the systems' entitlement kinds.
pub(super) fn parse_revoke(r: &str) -> Result<Revoke, String> {
    let grammar = "expected prefix:kind/name, such as github:team/payments";
    let (prefix, rest) = r
        .split_once(':')
        .ok_or_else(|| format!("{r:?}: {grammar}"))?;
    let (kind, name) = rest
        .split_once('/')
        .ok_or_else(|| format!("{r:?}: {grammar}"))?;
    let (prefix, kind, name) = (
        prefix.trim().to_ascii_lowercase(),
        kind.trim().to_ascii_lowercase(),
        name.trim(),
    );
    if name.is_empty() {
        return Err(format!("{r:?}: the name after {kind}/ is empty"));
    }
    let known: Vec<(&'static str, &'static str, &'static str)> = crate::registry::SYSTEMS
        .iter()
        .flat_map(|s| {
            s.entitlement_kinds()
                .iter()
                .map(|(p, k)| (s.name(), *p, *k))
        })
        .collect();
    if !known.iter().any(|(_, p, _)| *p == prefix) {
        let mut prefixes: Vec<&str> = known.iter().map(|(_, p, _)| *p).collect();
        prefixes.sort_unstable();
        prefixes.dedup();
        return Err(format!(
            "{r:?}: no system reports entitlements as {prefix:?} (known: {})",
            prefixes.join(", ")
        ));
    }
    match known.iter().find(|(_, p, k)| *p == prefix && *k == kind) {
        Some((system, _, _)) => Ok(Revoke {
            system,
            reference: format!("{prefix}:{kind}/{name}"),
        }),
        None => Err(format!(
            "{r:?}: {prefix} reports {} entitlements, not {kind:?}",
            known
                .iter()
                .filter(|(_, p, _)| *p == prefix)
                .map(|(_, _, k)| *k)
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

pub(super) fn merge(into: &mut Leaver, other: Leaver) {
    // Statuses: a departure beats a move or a leave (with the departure's date: the move's
    // or leave's could be earlier and must not stand for it); two moves revoke both lists;
    // two leaves keep the earliest start and the latest return.
    match (&mut into.status, other.status) {
        (Status::Leaver, Status::Leaver) => {}
        (Status::Leaver, _) => {
            // `into` is the departure: its own date stands.
            merge_rest(
                into,
                other.aliases,
                other.handles,
                other.name,
                other.email,
                other.employee_id,
            );
            return;
        }
        (_, Status::Leaver) => {
            into.status = Status::Leaver;
            into.departure = other.departure;
            merge_rest(
                into,
                other.aliases,
                other.handles,
                other.name,
                other.email,
                other.employee_id,
            );
            return;
        }
        (Status::Mover { revoke }, Status::Mover { revoke: more }) => {
            for r in more {
                if !revoke.contains(&r) {
                    revoke.push(r);
                }
            }
        }
        (Status::Leave { until }, Status::Leave { until: u2 }) => {
            if u2 > *until {
                *until = u2;
            }
        }
        // A move and a leave: the person is checked as on leave (every working path), which
        // covers what the move would revoke.
        (s @ Status::Mover { .. }, l @ Status::Leave { .. }) => *s = l,
        (Status::Leave { .. }, Status::Mover { .. }) => {}
    }
    if other.departure < into.departure {
        into.departure = other.departure;
    }
    merge_rest(
        into,
        other.aliases,
        other.handles,
        other.name,
        other.email,
        other.employee_id,
    );
}

fn merge_rest(
    into: &mut Leaver,
    aliases: Vec<String>,
    handles: Handles,
    name: Option<String>,
    email: Option<String>,
    employee_id: Option<String>,
) {
    let other = Leaver {
        id: String::new(),
        email,
        name,
        employee_id,
        departure: into.departure,
        handles,
        aliases,
        line: 0,
        status: Status::Leaver,
    };
    for a in other.aliases {
        if !into.aliases.contains(&a) {
            into.aliases.push(a);
        }
    }
    for (k, v) in other.handles.0 {
        into.handles.insert_if_absent(k, v);
    }
    into.name = into.name.take().or(other.name);
    into.email = into.email.take().or(other.email);
    into.employee_id = into.employee_id.take().or(other.employee_id);
}
