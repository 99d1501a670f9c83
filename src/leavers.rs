//! The leavers file (docs/leavers.md): CSV, JSON or JSON Lines from an HR export, parsed and validated
//! into [`Leaver`]s before anything is scanned.
//!
//! Every defect is an [`InputError`] naming the file, line and field, and the scan stops with
//! exit 2 before a request is sent: an audit that silently skipped a row would claim coverage
//! it does not have. Duplicate rows for one person merge (earliest departure wins) with a
//! warning, because HR exports repeat people who had several contracts.

use std::collections::BTreeMap;
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
    /// System → explicit handle (exact match only).
    pub handles: BTreeMap<String, String>,
    pub aliases: Vec<String>,
    /// Line (CSV, JSONL) or record number (JSON) of the first row for this person.
    pub line: usize,
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
    let rows = match format {
        Format::Csv(d) => csv_rows(file, text, d)?,
        Format::Json => json_rows(file, text)?,
        Format::JsonLines => jsonl_rows(file, text)?,
    };
    if rows.is_empty() {
        return Err(err(
            None,
            None,
            "no leavers: the file has a header but no rows".into(),
        ));
    }
    let n = rows.len();
    let mut leavers: Vec<Leaver> = Vec::with_capacity(n);
    let mut warnings = Vec::new();
    for row in rows {
        let l = row_to_leaver(file, row)?;
        match leavers.iter_mut().find(|o| same_person(o, &l)) {
            Some(o) => {
                warnings.push(format!(
                    "{file}:{}: duplicate of line {} ({}); merged, earliest departure kept",
                    l.line, o.line, o.id
                ));
                merge(o, l);
            }
            None => leavers.push(l),
        }
    }
    Ok(LeaverSet {
        leavers,
        warnings,
        sha256,
        rows: n,
    })
}

/// One input row: canonical field name → value, with its line number.
struct Row {
    line: usize,
    fields: BTreeMap<&'static str, String>,
}

fn check_len(file: &str, line: usize, field: &str, v: &str) -> Result<(), InputError> {
    if v.len() > MAX_FIELD_BYTES {
        return Err(InputError {
            file: file.into(),
            line: Some(line),
            field: Some(field.into()),
            message: format!("field is {} bytes; the limit is {MAX_FIELD_BYTES}", v.len()),
        });
    }
    Ok(())
}

fn csv_rows(file: &str, text: &str, delimiter: u8) -> Result<Vec<Row>, InputError> {
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(false)
        .from_reader(text.as_bytes());
    let e = |line: Option<usize>, field: Option<&str>, message: String| InputError {
        file: file.into(),
        line,
        field: field.map(str::to_string),
        message,
    };
    let headers = rdr
        .headers()
        .map_err(|er| e(Some(1), None, format!("cannot read the header: {er}")))?
        .clone();
    let mut cols: Vec<Option<&'static str>> = Vec::new();
    for h in headers.iter() {
        check_len(file, 1, h, h)?;
        let c = canonical_column(h);
        if let Some(c) = c {
            if cols.contains(&Some(c)) {
                return Err(e(Some(1), Some(h), format!("two columns mean {c:?}")));
            }
        }
        cols.push(c);
    }
    require_columns(file, &cols, &headers.iter().collect::<Vec<_>>(), delimiter)?;
    let mut rows = Vec::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|er| {
            let line = er.position().map(|p| p.line() as usize);
            e(line, None, format!("malformed CSV row: {er}"))
        })?;
        let line = rec.position().map(|p| p.line() as usize).unwrap_or(0);
        if rec.iter().all(|v| v.trim().is_empty()) {
            continue;
        }
        let mut fields = BTreeMap::new();
        for (i, v) in rec.iter().enumerate() {
            let name = headers.get(i).unwrap_or("?");
            check_len(file, line, name, v)?;
            if let Some(Some(c)) = cols.get(i) {
                let v = v.trim();
                if !v.is_empty() {
                    fields.insert(*c, v.to_string());
                }
            }
        }
        rows.push(Row { line, fields });
    }
    Ok(rows)
}

fn require_columns(
    file: &str,
    cols: &[Option<&'static str>],
    raw: &[&str],
    delimiter: u8,
) -> Result<(), InputError> {
    if cols.contains(&Some("departure_date")) {
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

fn object_row(file: &str, line: usize, v: serde_json::Value) -> Result<Row, InputError> {
    let e = |field: Option<&str>, message: String| InputError {
        file: file.into(),
        line: Some(line),
        field: field.map(str::to_string),
        message,
    };
    let obj = match v {
        serde_json::Value::Object(o) => o,
        other => {
            return Err(e(
                None,
                format!("expected an object, found {}", json_kind(&other)),
            ))
        }
    };
    let mut fields = BTreeMap::new();
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
        check_len(file, line, &k, &s)?;
        if c == "departure_date" {
            saw_departure = true;
        }
        let s = s.trim().to_string();
        if !s.is_empty() {
            fields.insert(c, s);
        }
    }
    if !saw_departure {
        return Err(e(
            Some("departure_date"),
            "missing required field \"departure_date\"".into(),
        ));
    }
    Ok(Row { line, fields })
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

fn json_rows(file: &str, text: &str) -> Result<Vec<Row>, InputError> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(|er| InputError {
        file: file.into(),
        line: Some(er.line()),
        field: None,
        message: format!("invalid JSON: {er}"),
    })?;
    let items = match v {
        serde_json::Value::Array(a) => a,
        serde_json::Value::Object(mut o) if o.contains_key("leavers") => {
            match o.remove("leavers") {
                Some(serde_json::Value::Array(a)) => a,
                _ => Vec::new(),
            }
        }
        other => {
            return Err(InputError {
                file: file.into(),
                line: Some(1),
                field: None,
                message: format!("expected an array of leavers, found {}", json_kind(&other)),
            })
        }
    };
    // JSON arrays carry no line numbers once parsed: report the record number instead.
    items
        .into_iter()
        .enumerate()
        .map(|(i, v)| object_row(file, i + 1, v))
        .collect()
}

fn jsonl_rows(file: &str, text: &str) -> Result<Vec<Row>, InputError> {
    let mut rows = Vec::new();
    for (i, l) in text.lines().enumerate() {
        if l.trim().is_empty() {
            continue;
        }
        let v: serde_json::Value = serde_json::from_str(l).map_err(|er| InputError {
            file: file.into(),
            line: Some(i + 1),
            field: None,
            message: format!("invalid JSON: {er}"),
        })?;
        rows.push(object_row(file, i + 1, v)?);
    }
    Ok(rows)
}

/// `YYYY-MM-DD` (start of that day, UTC) or an RFC 3339 date-time.
pub fn parse_instant(s: &str) -> Result<OffsetDateTime, String> {
    let s = s.trim();
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Ok(t.to_offset(time::UtcOffset::UTC));
    }
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
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
    let f = &row.fields;
    let departure_raw = f
        .get("departure_date")
        .ok_or_else(|| e("departure_date", "departure_date is empty".into()))?;
    let departure = parse_instant(departure_raw).map_err(|m| e("departure_date", m))?;
    if let Some(st) = f.get("status") {
        if !st.eq_ignore_ascii_case("leaver") {
            return Err(e(
                "status",
                format!("unsupported status {st:?}: only \"leaver\" is supported"),
            ));
        }
    }
    let email = f.get("email").cloned();
    if let Some(m) = &email {
        if !valid_email(m) {
            return Err(e("email", format!("{m:?} is not an email address")));
        }
    }
    let mut handles = BTreeMap::new();
    for system in crate::registry::SYSTEMS {
        if let Some(h) = system.handle_columns().first().and_then(|c| f.get(c)) {
            handles.insert(system.name().to_string(), h.clone());
        }
    }
    let employee_id = f.get("employee_id").cloned();
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
        name: f.get("name").cloned(),
        employee_id,
        departure,
        handles,
        aliases,
        line,
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

fn merge(into: &mut Leaver, other: Leaver) {
    if other.departure < into.departure {
        into.departure = other.departure;
    }
    for a in other.aliases {
        if !into.aliases.contains(&a) {
            into.aliases.push(a);
        }
    }
    for (k, v) in other.handles {
        into.handles.entry(k).or_insert(v);
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
}
