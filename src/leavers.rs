//! The leavers file (docs/leavers.md): CSV, JSON or JSON Lines from an HR export, parsed and validated
//! into [`Leaver`]s before anything is scanned.
//!
//! Every defect is an [`InputError`] naming the file, line and field, and the scan stops with
//! exit 2 before a request is sent: an audit that silently skipped a row would claim coverage
//! it does not have. Duplicate rows for one person merge (earliest departure wins) with a
//! warning, because HR exports repeat people who had several contracts.

use std::collections::HashMap;
use std::path::Path;

use sha2::{Digest, Sha256};
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime};

use crate::InputError;

/// A file larger than this is refused before it is read: HR exports are megabytes, not
/// gigabytes, and reading one unbounded line would exhaust memory.
pub const MAX_FILE_BYTES: u64 = 256 * 1024 * 1024;
/// A field longer than this is refused (an email is at most 254 bytes).
pub const MAX_FIELD_BYTES: usize = 4096;

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Leaver {
    /// `employee_id` when given, else the lower-cased email: stable across scans.
    pub id: String,
    pub email: Option<String>,
    pub name: Option<String>,
    pub employee_id: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub departure: OffsetDateTime,
    /// System (its registry name) → explicit handle (exact match only).
    pub handles: Handles,
    pub aliases: Vec<String>,
    /// Line (CSV, JSONL) or record number (JSON) of the first row for this person.
    pub line: usize,
    /// Leaver (the default), mover or on leave.
    pub status: Status,
}

/// A leaver's explicit handles, by system: rarely more than two, so a small vector (one
/// exact allocation; a `BTreeMap` allocates a node of eleven slots for the first).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Handles(Vec<(&'static str, String)>);

impl Handles {
    pub fn get(&self, system: &str) -> Option<&String> {
        self.0.iter().find(|(s, _)| *s == system).map(|(_, h)| h)
    }
    pub fn contains_key(&self, system: &str) -> bool {
        self.get(system).is_some()
    }
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &String)> {
        self.0.iter().map(|(s, h)| (*s, h))
    }
    pub fn keys(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.0.iter().map(|(s, _)| *s)
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// Keep an existing handle for `system`; add this one otherwise.
    pub fn insert_if_absent(&mut self, system: &'static str, handle: String) {
        if !self.contains_key(system) {
            self.0.push((system, handle));
        }
    }
}

impl std::ops::Index<&str> for Handles {
    type Output = String;
    fn index(&self, system: &str) -> &String {
        self.get(system).expect("no handle for that system")
    }
}

impl serde::Serialize for Handles {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

#[derive(Debug, Clone)]
pub struct LeaverSet {
    pub leavers: Vec<Leaver>,
    pub warnings: Vec<String>,
    pub sha256: String,
    pub rows: usize,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Format {
    Csv(u8),
    Json,
    JsonLines,
}

/// Header names, lower-cased with spaces and hyphens as underscores, mapped to our field names.
fn canonical_column(raw: &str) -> Option<&'static str> {
    let h: String = raw
        .trim()
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c == ' ' || c == '-' { '_' } else { c })
        .collect();
    Some(match h.as_str() {
        "email" | "work_email" | "email_address" | "mail" | "e_mail" | "primary_email" => "email",
        "departure_date" | "termination_date" | "end_date" | "last_day" | "departure"
        | "leave_date" | "terminated_at" | "separation_date" => "departure_date",
        "name" | "full_name" | "display_name" | "employee_name" => "name",
        "employee_id" | "employee_number" | "emp_id" | "worker_id" | "hr_id" => "employee_id",
        "aliases" | "alias" | "other_emails" => "aliases",
        "status" => "status",
        "move_date" => "move_date",
        "return_date" | "return" | "leave_end" | "back_date" => "return_date",
        "revoke" | "revoke_entitlements" | "entitlements_to_revoke" => "revoke",
        // A system's explicit handle: its canonical column name (`github_login`).
        other => crate::registry::SYSTEMS
            .iter()
            .map(|s| s.handle_columns())
            .find(|cols| cols.contains(&other))
            .and_then(|cols| cols.first().copied())?,
    })
}

pub fn detect_format(path: &Path, delimiter: Option<u8>) -> Format {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    match ext.as_str() {
        "json" => Format::Json,
        "jsonl" | "ndjson" => Format::JsonLines,
        "tsv" => Format::Csv(delimiter.unwrap_or(b'\t')),
        _ => Format::Csv(delimiter.unwrap_or(b',')),
    }
}

/// Read, validate and merge a leavers file.
pub fn load(path: &Path, delimiter: Option<u8>) -> Result<LeaverSet, InputError> {
    let file = path.display().to_string();
    let err = |line: Option<usize>, field: Option<&str>, msg: String| InputError {
        file: file.clone(),
        line,
        field: field.map(str::to_string),
        message: msg,
    };
    let meta = std::fs::metadata(path).map_err(|e| err(None, None, format!("cannot read: {e}")))?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(err(
            None,
            None,
            format!(
                "file is {} bytes; the limit is {MAX_FILE_BYTES} (is this the right file?)",
                meta.len()
            ),
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| err(None, None, format!("cannot read: {e}")))?;
    parse(&file, &bytes, detect_format(path, delimiter))
}

/// Parse from memory; `file` names the source in errors.
pub fn parse(file: &str, bytes: &[u8], format: Format) -> Result<LeaverSet, InputError> {
    let err = |line: Option<usize>, field: Option<&str>, msg: String| InputError {
        file: file.to_string(),
        line,
        field: field.map(str::to_string),
        message: msg,
    };
    let sha256 = hex::encode(Sha256::digest(bytes));
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let upto = e.valid_up_to();
            let line = bytes[..upto].iter().filter(|&&b| b == b'\n').count() + 1;
            let col = upto
                - bytes[..upto]
                    .iter()
                    .rposition(|&b| b == b'\n')
                    .map_or(0, |p| p + 1)
                + 1;
            return Err(err(
                Some(line),
                None,
                format!("invalid UTF-8 at byte {col} of the line (save the file as UTF-8)"),
            ));
        }
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim().is_empty() {
        return Err(err(
            None,
            None,
            "file is empty: no header, no leavers".into(),
        ));
    }
    // Rows become leavers as they are read, and duplicates are found through two hash maps,
    // so a million-row export loads in linear time and without a second copy of every row.
    // About 60 bytes a row in a typical export.
    let mut m = Merger::with_capacity(text.len() / 60 + 16);
    let mut rows = 0usize;
    let mut sink = |row: Row| -> Result<(), InputError> {
        rows += 1;
        let l = row_to_leaver(file, row)?;
        m.add(file, l);
        Ok(())
    };
    let mut skipped = Vec::new();
    match format {
        Format::Csv(d) => csv_rows(file, text, d, &mut sink, &mut skipped)?,
        Format::Json => json_rows(file, text, &mut sink, &mut skipped)?,
        Format::JsonLines => jsonl_rows(file, text, &mut sink, &mut skipped)?,
    }
    m.warnings.extend(skipped);
    if rows == 0 {
        return Err(err(
            None,
            None,
            "no leavers: the file has a header but no rows".into(),
        ));
    }
    Ok(LeaverSet {
        leavers: m.leavers,
        warnings: m.warnings,
        sha256,
        rows,
    })
}

/// Leavers so far, and where each email and employee id points: duplicate rows merge into
/// the first row of their person (earliest departure wins).
/// Hash maps keyed by HR values: foldhash, seeded per process (a crafted file cannot aim at
/// collisions), and much faster than SipHash on a million short keys.
type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

#[derive(Default)]
struct Merger {
    leavers: Vec<Leaver>,
    warnings: Vec<String>,
    by_employee: Map<String, usize>,
    /// Normalised email → the first leaver with it; `more_by_email` holds the rare others
    /// (two people with one email and different employee ids).
    by_email: Map<String, usize>,
    more_by_email: Map<String, Vec<usize>>,
}

impl Merger {
    /// Sized for about `rows` people, so the maps do not grow (and rehash) row by row.
    fn with_capacity(rows: usize) -> Self {
        Merger {
            leavers: Vec::with_capacity(rows),
            by_employee: Map::with_capacity_and_hasher(rows, Default::default()),
            by_email: Map::with_capacity_and_hasher(rows, Default::default()),
            ..Default::default()
        }
    }
}

impl Merger {
    fn add(&mut self, file: &str, l: Leaver) {
        // Without an employee id, the id is the normalised email already.
        let email = match (&l.employee_id, &l.email) {
            (None, Some(_)) => Some(l.id.clone()),
            (_, e) => e.as_deref().map(normalize_email),
        };
        let mut candidates: Vec<usize> = Vec::new();
        if let Some(e) = &l.employee_id {
            candidates.extend(self.by_employee.get(e));
        }
        if let Some(e) = &email {
            candidates.extend(self.by_email.get(e));
            candidates.extend(self.more_by_email.get(e).into_iter().flatten());
        }
        candidates.sort_unstable();
        let found = candidates
            .into_iter()
            .find(|&i| same_person(&self.leavers[i], &l));
        match found {
            Some(i) => {
                let o = &mut self.leavers[i];
                self.warnings.push(format!(
                    "{file}:{}: duplicate of line {} ({}); merged, earliest departure kept",
                    l.line, o.line, o.id
                ));
                merge(o, l);
                let (emp, mail) = (
                    o.employee_id.clone(),
                    o.email.as_deref().map(normalize_email),
                );
                self.index(i, emp, mail);
            }
            None => {
                let i = self.leavers.len();
                let emp = l.employee_id.clone();
                self.leavers.push(l);
                self.index(i, emp, email);
            }
        }
    }

    fn index(&mut self, i: usize, employee: Option<String>, email: Option<String>) {
        if let Some(e) = employee {
            self.by_employee.entry(e).or_insert(i);
        }
        if let Some(e) = email {
            match self.by_email.get(&e) {
                None => {
                    self.by_email.insert(e, i);
                }
                Some(&first) if first == i => {}
                Some(_) => {
                    let v = self.more_by_email.entry(e).or_default();
                    if !v.contains(&i) {
                        v.push(i);
                    }
                }
            }
        }
    }
}

/// `YYYY-MM-DD` (start of that day, UTC) or an RFC 3339 date-time.
pub fn parse_instant(s: &str) -> Result<OffsetDateTime, String> {
    let s = s.trim();
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    // A plain date is the common case in HR exports: try it first.
    if s.len() == 10 {
        if let Ok(d) = Date::parse(s, &fmt) {
            return Ok(d.midnight().assume_utc());
        }
    }
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Ok(t.to_offset(time::UtcOffset::UTC));
    }
    Date::parse(s, &fmt)
        .map(|d| d.midnight().assume_utc())
        .map_err(|_| format!("{s:?} is not a date (YYYY-MM-DD) or an RFC 3339 date-time"))
}

pub use residual_probe::normalize_email;

fn valid_email(s: &str) -> bool {
    match s.rsplit_once('@') {
        Some((l, d)) => {
            !l.is_empty()
                && d.contains('.')
                && !d.starts_with('.')
                && !s.contains(char::is_whitespace)
        }
        None => false,
    }
}

fn row_to_leaver(file: &str, row: Row) -> Result<Leaver, InputError> {
    let line = row.line;
    let e = |field: &str, message: String| InputError {
        file: file.into(),
        line: Some(line),
        field: Some(field.into()),
        message,
    };
    // Values move out of the row: a million rows are not copied twice.
    let mut f = row.fields;
    let status_word = f
        .remove("status")
        .map(|s| s.trim().to_ascii_lowercase())
        .unwrap_or_else(|| "leaver".into());
    // A mover's move date may come as `move_date`; it is their departure from the old role.
    let (date_field, departure_raw) = match (f.remove("departure_date"), f.remove("move_date")) {
        (Some(d), None) => ("departure_date", d),
        (None, Some(m)) => ("move_date", m),
        (Some(_), Some(_)) => {
            return Err(e(
                "move_date",
                "give departure_date or move_date, not both".into(),
            ))
        }
        (None, None) => {
            return Err(e("departure_date", "departure_date is empty".into()));
        }
    };
    let departure = parse_instant(&departure_raw).map_err(|m| e(date_field, m))?;
    let revoke_raw = f.remove("revoke");
    let return_raw = f.remove("return_date");
    let status = match status_word.as_str() {
        "leaver" | "leavers" | "terminated" => Status::Leaver,
        "mover" | "transfer" | "role_change" => {
            let raw = revoke_raw.as_deref().unwrap_or("").trim();
            if raw.is_empty() {
                return Err(e(
                    "revoke",
                    "a mover needs a revoke column: the old role's entitlements, `;`-separated (github:team/payments; aws:group/prod-admins)".into(),
                ));
            }
            let mut revoke = Vec::new();
            for r in raw.split(';').map(str::trim).filter(|r| !r.is_empty()) {
                let item = parse_revoke(r).map_err(|m| e("revoke", m))?;
                if !revoke.contains(&item) {
                    revoke.push(item);
                }
            }
            Status::Mover { revoke }
        }
        "leave" | "on_leave" | "leave_of_absence" | "loa" => {
            let raw = return_raw.as_deref().unwrap_or("").trim().to_string();
            if raw.is_empty() {
                return Err(e(
                    "return_date",
                    "a leave of absence needs a return_date".into(),
                ));
            }
            let until = parse_instant(&raw).map_err(|m| e("return_date", m))?;
            if until <= departure {
                return Err(e(
                    "return_date",
                    format!("return_date {raw} is not after the leave starts ({departure_raw})"),
                ));
            }
            Status::Leave { until }
        }
        other => {
            return Err(e(
                "status",
                format!("unsupported status {other:?}: leaver, mover or leave"),
            ))
        }
    };
    if !matches!(status, Status::Mover { .. })
        && revoke_raw.as_deref().is_some_and(|r| !r.trim().is_empty())
    {
        return Err(e(
            "revoke",
            "revoke is for movers (status mover) only".into(),
        ));
    }
    if !matches!(status, Status::Leave { .. })
        && return_raw.as_deref().is_some_and(|r| !r.trim().is_empty())
    {
        return Err(e(
            "return_date",
            "return_date is for a leave of absence (status leave) only".into(),
        ));
    }
    let email = f.remove("email");
    if let Some(m) = &email {
        if !valid_email(m) {
            return Err(e("email", format!("{m:?} is not an email address")));
        }
    }
    let mut handles = Handles::default();
    for system in crate::registry::SYSTEMS {
        if let Some(h) = system.handle_columns().first().and_then(|c| f.remove(c)) {
            handles.insert_if_absent(system.name(), h);
        }
    }
    let employee_id = f.remove("employee_id");
    if email.is_none() && (employee_id.is_none() || handles.is_empty()) {
        return Err(e(
            "email",
            "row has no identifier: give an email, or an employee_id and a system handle".into(),
        ));
    }
    let aliases = f
        .get("aliases")
        .map(|a| {
            a.split(';')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let id = employee_id
        .clone()
        .or_else(|| email.as_deref().map(normalize_email))
        .unwrap_or_default();
    Ok(Leaver {
        id,
        email,
        name: f.remove("name"),
        employee_id,
        departure,
        handles,
        aliases,
        line,
        status,
    })
}

fn same_person(a: &Leaver, b: &Leaver) -> bool {
    if let (Some(x), Some(y)) = (&a.employee_id, &b.employee_id) {
        return x == y;
    }
    match (&a.email, &b.email) {
        (Some(x), Some(y)) => normalize_email(x) == normalize_email(y),
        _ => false,
    }
}

mod rows;
mod status;
use rows::{csv_rows, json_rows, jsonl_rows, Row};
use status::{merge, parse_revoke};
pub use status::{Revoke, Status};

#[cfg(test)]
mod tests;
