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

/// One input row: canonical field name → value, with its line number.
struct Row {
    line: usize,
    fields: Fields,
}

/// A row's values by canonical column: a handful of entries, so a small vector (one
/// allocation a row) beats a map.
#[derive(Default)]
struct Fields(Vec<(&'static str, String)>);

impl Fields {
    fn with_capacity(n: usize) -> Self {
        Fields(Vec::with_capacity(n))
    }
    fn insert(&mut self, k: &'static str, v: String) {
        match self.0.iter_mut().find(|(c, _)| *c == k) {
            Some(e) => e.1 = v,
            None => self.0.push((k, v)),
        }
    }
    fn get(&self, k: &str) -> Option<&String> {
        self.0.iter().find(|(c, _)| *c == k).map(|(_, v)| v)
    }
    fn remove(&mut self, k: &str) -> Option<String> {
        let i = self.0.iter().position(|(c, _)| *c == k)?;
        Some(self.0.swap_remove(i).1)
    }
}

/// A field's value: not over the size limit, and no control character (a NUL or an escape
/// sequence in an identifier is corruption or an attack, never a person's name).
fn check_field(file: &str, line: usize, field: &str, v: &str) -> Result<(), InputError> {
    let e = |message: String| InputError {
        file: file.into(),
        line: Some(line),
        field: Some(field.into()),
        message,
    };
    if v.len() > MAX_FIELD_BYTES {
        return Err(e(format!(
            "field is {} bytes; the limit is {MAX_FIELD_BYTES}",
            v.len()
        )));
    }
    if let Some(c) = v.chars().find(|c| c.is_control()) {
        return Err(e(format!(
            "contains the control character U+{:04X}; remove it (a quoted field that spans lines is not supported)",
            c as u32
        )));
    }
    Ok(())
}

/// RFC 4180 quoting, scanned before parsing: a quote that opens a field and never closes
/// would swallow the rest of the file into one field. Returns the line where it opened.
fn unclosed_quote(text: &str, delimiter: u8) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut line = 1usize;
    let mut in_quotes = false;
    let mut opened_at = 0usize;
    let mut field_start = true;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if in_quotes {
            if b == b'"' {
                if bytes.get(i + 1) == Some(&b'"') {
                    i += 1;
                } else {
                    in_quotes = false;
                }
            } else if b == b'\n' {
                line += 1;
            }
        } else if b == b'"' && field_start {
            in_quotes = true;
            opened_at = line;
        } else if b == b'\n' {
            line += 1;
            field_start = true;
            i += 1;
            continue;
        }
        field_start = !in_quotes && (b == delimiter || b == b'\n');
        i += 1;
    }
    in_quotes.then_some(opened_at)
}

fn csv_rows(
    file: &str,
    text: &str,
    delimiter: u8,
    sink: &mut dyn FnMut(Row) -> Result<(), InputError>,
    warnings: &mut Vec<String>,
) -> Result<(), InputError> {
    let e = |line: Option<usize>, field: Option<&str>, message: String| InputError {
        file: file.into(),
        line,
        field: field.map(str::to_string),
        message,
    };
    if let Some(line) = unclosed_quote(text, delimiter) {
        return Err(e(
            Some(line),
            None,
            "a quoted field opens here and never closes (an unbalanced \")".into(),
        ));
    }
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(false)
        .from_reader(text.as_bytes());
    let headers = rdr
        .headers()
        .map_err(|er| e(Some(1), None, format!("cannot read the header: {er}")))?
        .clone();
    let mut cols: Vec<Option<&'static str>> = Vec::new();
    for h in headers.iter() {
        check_field(file, 1, "header", h)?;
        let c = canonical_column(h);
        if let Some(c) = c {
            if cols.contains(&Some(c)) {
                return Err(e(Some(1), Some(h), format!("two columns mean {c:?}")));
            }
        }
        cols.push(c);
    }
    require_columns(file, &cols, &headers.iter().collect::<Vec<_>>(), delimiter)?;
    let mapped = cols.iter().flatten().count();
    let mut lines = LineCursor::new(text);
    let mut rec = csv::StringRecord::new();
    loop {
        let more = rdr.read_record(&mut rec).map_err(|er| {
            let line = er
                .position()
                .map(|p| LineCursor::new(text).record_line(p.byte()));
            e(line, None, format!("malformed CSV row: {er}"))
        })?;
        if !more {
            break;
        }
        // The line from the byte offset: the csv crate counts CRLF files one line short.
        let line = rec
            .position()
            .map(|p| lines.record_line(p.byte()))
            .unwrap_or(0);
        if rec.iter().all(|v| v.trim().is_empty()) {
            warnings.push(format!("{file}:{line}: every field is empty; row skipped"));
            continue;
        }
        let mut fields = Fields::with_capacity(mapped);
        for (i, v) in rec.iter().enumerate() {
            let name = headers.get(i).unwrap_or("?");
            check_field(file, line, name, v)?;
            if let Some(Some(c)) = cols.get(i) {
                let v = v.trim();
                if !v.is_empty() {
                    fields.insert(c, v.to_string());
                }
            }
        }
        sink(Row { line, fields })?;
    }
    Ok(())
}

fn require_columns(
    file: &str,
    cols: &[Option<&'static str>],
    raw: &[&str],
    delimiter: u8,
) -> Result<(), InputError> {
    if cols.contains(&Some("departure_date")) || cols.contains(&Some("move_date")) {
        return Ok(());
    }
    let mut message =
        "missing required column \"departure_date\" (or termination_date, end_date, last_day)"
            .to_string();
    if raw.len() == 1 {
        if let Some(d) = [';', '\t', '|']
            .into_iter()
            .find(|d| raw[0].contains(*d) && *d as u8 != delimiter)
        {
            message = format!(
                "the header is one column containing {d:?}: the file is not delimited by {:?}; pass --delimiter {:?}",
                delimiter as char,
                if d == '\t' { "\\t".to_string() } else { d.to_string() }
            );
        }
    }
    Err(InputError {
        file: file.into(),
        line: Some(1),
        field: Some("departure_date".into()),
        message,
    })
}

/// Lines of a text, counted forward from the last position asked: records arrive in order,
/// so finding each one's line costs the bytes since the previous one (linear in the file,
/// not quadratic).
struct LineCursor<'t> {
    text: &'t [u8],
    offset: usize,
    line: usize,
}

impl<'t> LineCursor<'t> {
    fn new(text: &'t str) -> Self {
        LineCursor {
            text: text.as_bytes(),
            offset: 0,
            line: 1,
        }
    }

    /// The line a CSV record starts on. The csv crate may report a record's start at the line
    /// break before it (the `\n` of a CRLF), so line ends there are skipped first.
    fn record_line(&mut self, byte: u64) -> usize {
        let b = self.text;
        let mut i = (byte as usize).min(b.len());
        while i < b.len() && (b[i] == b'\n' || b[i] == b'\r') {
            i += 1;
        }
        self.line_of(i)
    }

    /// The line of byte `i`.
    fn line_of(&mut self, i: usize) -> usize {
        let i = i.min(self.text.len());
        if i < self.offset {
            // Out of order (never for records read front to back): count from the start.
            self.offset = 0;
            self.line = 1;
        }
        self.line += self.text[self.offset..i]
            .iter()
            .filter(|&&c| c == b'\n')
            .count();
        self.offset = i;
        self.line
    }
}

/// One JSON object as a row; `line` is where it begins, so an error names the line of the
/// offending value. `None`: an empty object.
fn object_row(file: &str, line: usize, raw: &str) -> Result<Option<Row>, InputError> {
    // The line of `"key"` inside this object (the first occurrence; good enough for errors).
    let key_line = |k: &str| {
        raw.find(&format!("\"{k}\""))
            .map_or(line, |i| line + raw[..i].matches('\n').count())
    };
    let e = |field: Option<&str>, message: String| InputError {
        file: file.into(),
        line: Some(field.map_or(line, key_line)),
        field: field.map(str::to_string),
        message,
    };
    let v: serde_json::Value =
        serde_json::from_str(raw).map_err(|x| e(None, format!("invalid JSON: {x}")))?;
    let obj = match v {
        serde_json::Value::Object(o) => o,
        other => {
            return Err(e(
                None,
                format!("expected an object, found {}", json_kind(&other)),
            ))
        }
    };
    if obj
        .values()
        .all(|v| v.is_null() || v.as_str().is_some_and(|s| s.trim().is_empty()))
    {
        return Ok(None);
    }
    let mut fields = Fields::default();
    let mut saw_departure = false;
    for (k, v) in obj {
        let Some(c) = canonical_column(&k) else {
            continue;
        };
        let s = match v {
            serde_json::Value::Null => continue,
            serde_json::Value::String(s) => s,
            serde_json::Value::Array(items) if c == "aliases" => items
                .into_iter()
                .map(|i| match i {
                    serde_json::Value::String(s) => Ok(s),
                    other => Err(e(
                        Some(&k),
                        format!("alias must be a string, found {}", json_kind(&other)),
                    )),
                })
                .collect::<Result<Vec<_>, _>>()?
                .join(";"),
            serde_json::Value::Number(n) if c == "employee_id" => n.to_string(),
            other => {
                return Err(e(
                    Some(&k),
                    format!("expected a string, found {}", json_kind(&other)),
                ))
            }
        };
        check_field(file, key_line(&k), &k, &s)?;
        if c == "departure_date" {
            saw_departure = true;
        }
        let s = s.trim().to_string();
        if !s.is_empty() {
            fields.insert(c, s);
        }
    }
    if !saw_departure {
        return Err(InputError {
            field: Some("departure_date".into()),
            ..e(None, "missing required field \"departure_date\"".into())
        });
    }
    Ok(Some(Row { line, fields }))
}

fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// Where `inner` (a slice of `text`) starts in it.
fn offset_in(text: &str, inner: &str) -> usize {
    (inner.as_ptr() as usize).saturating_sub(text.as_ptr() as usize)
}

fn json_rows(
    file: &str,
    text: &str,
    sink: &mut dyn FnMut(Row) -> Result<(), InputError>,
    warnings: &mut Vec<String>,
) -> Result<(), InputError> {
    use serde_json::value::RawValue;
    #[derive(serde::Deserialize)]
    struct Wrapped<'a> {
        #[serde(borrow)]
        leavers: Vec<&'a RawValue>,
    }
    let bad = |line: usize, message: String| InputError {
        file: file.into(),
        line: Some(line),
        field: None,
        message,
    };
    // Syntax first, for the exact line of a JSON error.
    let v: serde_json::Value =
        serde_json::from_str(text).map_err(|er| bad(er.line(), format!("invalid JSON: {er}")))?;
    if !(v.is_array() || v.get("leavers").is_some_and(|l| l.is_array())) {
        return Err(bad(
            1,
            format!("expected an array of leavers, found {}", json_kind(&v)),
        ));
    }
    // Again, keeping each record's text: its offset gives the lines errors name.
    let items: Vec<&RawValue> = if v.is_array() {
        serde_json::from_str(text)
    } else {
        serde_json::from_str::<Wrapped>(text).map(|w| w.leavers)
    }
    .map_err(|er| bad(er.line(), format!("invalid JSON: {er}")))?;
    drop(v);
    let mut lines = LineCursor::new(text);
    for raw in items {
        let line = lines.line_of(offset_in(text, raw.get()));
        match object_row(file, line, raw.get())? {
            Some(row) => sink(row)?,
            None => warnings.push(format!("{file}:{line}: an empty object; skipped")),
        }
    }
    Ok(())
}

fn jsonl_rows(
    file: &str,
    text: &str,
    sink: &mut dyn FnMut(Row) -> Result<(), InputError>,
    warnings: &mut Vec<String>,
) -> Result<(), InputError> {
    for (i, l) in text.split_inclusive('\n').enumerate() {
        let line = i + 1;
        let body = l.trim_end_matches(['\n', '\r']);
        if body.trim().is_empty() {
            continue;
        }
        match object_row(file, line, body)? {
            Some(row) => sink(row)?,
            None => warnings.push(format!("{file}:{line}: an empty object; skipped")),
        }
    }
    Ok(())
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

/// `prefix:kind/name` against the systems' entitlement kinds.
fn parse_revoke(r: &str) -> Result<Revoke, String> {
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

fn same_person(a: &Leaver, b: &Leaver) -> bool {
    if let (Some(x), Some(y)) = (&a.employee_id, &b.employee_id) {
        return x == y;
    }
    match (&a.email, &b.email) {
        (Some(x), Some(y)) => normalize_email(x) == normalize_email(y),
        _ => false,
    }
}

fn merge(into: &mut Leaver, other: Leaver) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn csv(s: &str) -> Result<LeaverSet, InputError> {
        parse("t.csv", s.as_bytes(), Format::Csv(b','))
    }

    #[test]
    fn synonyms_bom_and_dates() {
        let set = csv("\u{feff}Work Email,Termination Date,Full Name,GitHub\nA@Acme.com,2026-01-02,Ann,ann-gh\nb@acme.com,2026-01-03T10:00:00+02:00,,\n").unwrap();
        assert_eq!(set.leavers.len(), 2);
        assert_eq!(set.leavers[0].id, "a@acme.com");
        assert_eq!(set.leavers[0].handles["github"], "ann-gh");
        assert_eq!(set.leavers[1].departure.hour(), 8);
    }

    #[test]
    fn duplicates_merge_earliest_wins() {
        let set = csv("email,departure_date,aliases\na@acme.com,2026-02-01,x@acme.com\nA+hr@acme.com,2026-01-01,y\n").unwrap();
        assert_eq!(set.leavers.len(), 1);
        assert_eq!(set.leavers[0].departure.date().to_string(), "2026-01-01");
        assert_eq!(set.leavers[0].aliases, vec!["x@acme.com", "y"]);
        assert_eq!(set.warnings.len(), 1);
    }

    #[test]
    fn bad_date_names_line_and_field() {
        let e = csv("email,departure_date\na@acme.com,2026-01-01\nb@acme.com,31/12/2026\n")
            .unwrap_err();
        assert_eq!(e.line, Some(3));
        assert_eq!(e.field.as_deref(), Some("departure_date"));
    }

    #[test]
    fn sub_addressing_and_case_normalize() {
        assert_eq!(normalize_email(" J.Doe+ops@Acme.COM "), "j.doe@acme.com");
    }

    #[test]
    fn jsonl_and_json() {
        let s = parse("t.jsonl", b"{\"email\":\"a@acme.com\",\"end_date\":\"2026-01-01\"}\n\n{\"email\":\"b@acme.com\",\"departure_date\":\"2026-01-01\",\"aliases\":[\"bb\"]}\n", Format::JsonLines).unwrap();
        assert_eq!(s.leavers.len(), 2);
        let e = parse(
            "t.json",
            b"[{\"email\":\"a@acme.com\",\"departure_date\":5}]",
            Format::Json,
        )
        .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("departure_date"));
    }

    #[test]
    fn an_unclosed_quote_names_the_line_it_opened() {
        let e = csv("email,departure_date,name\na@acme.com,2026-01-01,Ann\nb@acme.com,2026-01-02,\"Bob\nc@acme.com,2026-01-03,Cy\n")
            .unwrap_err();
        assert_eq!(e.line, Some(3), "{e}");
        assert!(e.message.contains("never closes"), "{e}");
        // Escaped quotes inside a quoted field are fine.
        assert!(
            csv("email,departure_date,name\na@acme.com,2026-01-01,\"An \"\"A\"\" n\"\n").is_ok()
        );
    }

    #[test]
    fn control_characters_in_fields_are_refused() {
        let e = csv("email,departure_date\na\u{0}@acme.com,2026-01-01\n").unwrap_err();
        assert_eq!(
            (e.line, e.field.as_deref()),
            (Some(2), Some("email")),
            "{e}"
        );
        let e =
            csv("email,departure_date,name\na@acme.com,2026-01-01,\"x\u{1b}[2J\"\n").unwrap_err();
        assert_eq!(e.field.as_deref(), Some("name"), "{e}");
    }

    #[test]
    fn crlf_files_count_lines_right() {
        let e = csv("email,departure_date\r\na@acme.com,2026-01-01\r\nb@acme.com,31/12/2026\r\n")
            .unwrap_err();
        assert_eq!(e.line, Some(3), "{e}");
        let e = parse("t.jsonl", b"{\"email\":\"a@acme.com\",\"departure_date\":\"2026-01-01\"}\r\n{\"email\":\"b@acme.com\",\"departure_date\":\"nope\"}\r\n", Format::JsonLines).unwrap_err();
        assert_eq!(e.line, Some(2), "{e}");
    }

    #[test]
    fn json_type_errors_name_the_line_of_the_value_and_empty_rows_are_skipped() {
        let text = "[\n  {\"email\": \"a@acme.com\", \"departure_date\": \"2026-01-01\"},\n  {\"email\": \"b@acme.com\",\n   \"departure_date\": 20260101}\n]\n";
        let e = parse("t.json", text.as_bytes(), Format::Json).unwrap_err();
        assert_eq!(
            (e.line, e.field.as_deref()),
            (Some(4), Some("departure_date")),
            "{e}"
        );
        let text = "[{\"email\": \"a@acme.com\", \"departure_date\": \"2026-01-01\"}, {}]";
        let set = parse("t.json", text.as_bytes(), Format::Json).unwrap();
        assert_eq!(set.leavers.len(), 1);
        assert!(
            set.warnings.iter().any(|w| w.contains("empty object")),
            "{:?}",
            set.warnings
        );
        let set = csv("email,departure_date\n,\na@acme.com,2026-01-01\n").unwrap();
        assert_eq!(set.leavers.len(), 1);
        assert!(
            set.warnings
                .iter()
                .any(|w| w.contains(":2: every field is empty")),
            "{:?}",
            set.warnings
        );
    }

    #[test]
    fn movers_and_leave_parse_and_bad_references_name_line_and_field() {
        let set = csv("email,status,move_date,revoke\na@acme.com,mover,2026-11-01,github:team/payments; AWS:group/prod-admins ;aws-sso:permission-set/AdministratorAccess\n").unwrap();
        match &set.leavers[0].status {
            Status::Mover { revoke } => {
                let r: Vec<(&str, &str)> = revoke
                    .iter()
                    .map(|r| (r.system, r.reference.as_str()))
                    .collect();
                assert_eq!(
                    r,
                    vec![
                        ("github", "github:team/payments"),
                        ("aws", "aws:group/prod-admins"),
                        ("aws", "aws-sso:permission-set/AdministratorAccess")
                    ]
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(set.leavers[0].departure.date().to_string(), "2026-11-01");
        let set = csv(
            "email,departure_date,status,return_date\nb@acme.com,2026-11-01,leave,2027-01-15\n",
        )
        .unwrap();
        assert!(matches!(set.leavers[0].status, Status::Leave { .. }));
        for (text, line, field, want) in [
            ("email,departure_date,status,revoke\nok@acme.com,2026-01-01,,\na@acme.com,2026-11-01,mover,jira:group/x\n", 3, "revoke", "no system reports entitlements as \"jira\""),
            ("email,departure_date,status,revoke\na@acme.com,2026-11-01,mover,github:repo/x\n", 2, "revoke", "github reports team entitlements, not \"repo\""),
            ("email,departure_date,status,revoke\na@acme.com,2026-11-01,mover,github-team-x\n", 2, "revoke", "expected prefix:kind/name"),
            ("email,departure_date,status,revoke\na@acme.com,2026-11-01,mover,github:team/\n", 2, "revoke", "is empty"),
            ("email,departure_date,status\na@acme.com,2026-11-01,mover\n", 2, "revoke", "a mover needs a revoke column"),
            ("email,departure_date,status\na@acme.com,2026-11-01,leave\n", 2, "return_date", "needs a return_date"),
            ("email,departure_date,status,return_date\na@acme.com,2026-11-01,leave,2026-10-01\n", 2, "return_date", "not after"),
            ("email,departure_date,revoke\na@acme.com,2026-11-01,github:team/x\n", 2, "revoke", "for movers"),
            ("email,departure_date,status\na@acme.com,2026-11-01,retired\n", 2, "status", "leaver, mover or leave"),
        ] {
            let e = csv(text).unwrap_err();
            assert_eq!((e.line, e.field.as_deref()), (Some(line), Some(field)), "{e}");
            assert!(e.message.contains(want), "{e}");
        }
    }

    #[test]
    fn a_departure_beats_a_move_or_a_leave_of_the_same_person() {
        let set = csv("email,departure_date,status,revoke,return_date\na@acme.com,2026-10-01,mover,github:team/x,\nA@acme.com,2026-11-01,,,\nb@acme.com,2026-09-01,leave,,2027-01-01\nb@acme.com,2026-11-02,,,\nc@acme.com,2026-10-01,mover,github:team/x,\nc@acme.com,2026-10-02,mover,github:team/y,\n").unwrap();
        assert_eq!(set.leavers[0].status, Status::Leaver);
        assert_eq!(set.leavers[0].departure.date().to_string(), "2026-11-01");
        assert_eq!(set.leavers[1].status, Status::Leaver);
        assert_eq!(set.leavers[1].departure.date().to_string(), "2026-11-02");
        match &set.leavers[2].status {
            Status::Mover { revoke } => assert_eq!(revoke.len(), 2),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn duplicates_merge_by_employee_id_or_email_in_file_order() {
        let set = csv("email,departure_date,employee_id\na@acme.com,2026-03-01,E1\nb@acme.com,2026-02-01,E1\nA+x@acme.com,2026-01-01,\nc@acme.com,2026-01-01,E2\nc@acme.com,2026-01-05,E3\n").unwrap();
        // E1 twice merges; the email-only row joins a@ (no employee id to disagree); c@ with two
        // different employee ids are two people.
        assert_eq!(set.leavers.len(), 3, "{:?}", set.leavers);
        assert_eq!(set.leavers[0].departure.date().to_string(), "2026-01-01");
        assert_eq!(set.warnings.len(), 2, "{:?}", set.warnings);
    }
}
