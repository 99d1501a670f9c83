//! Reading rows out of the three formats — CSV (with the quote, control-character and
//! column checks), a JSON array and JSON Lines — into canonical fields with their line
//! numbers. `row_to_leaver` turns a row into a person.

use super::*;

/// One input row: canonical field name → value, with its line number.
pub(super) struct Row {
    pub(super) line: usize,
    pub(super) fields: Fields,
}

/// A row's values by canonical column: a handful of entries, so a small vector (one
/// allocation a row) beats a map.
#[derive(Default)]
pub(super) struct Fields(Vec<(&'static str, String)>);

impl Fields {
    fn with_capacity(n: usize) -> Self {
        Fields(Vec::with_capacity(n))
    }
    pub(super) fn insert(&mut self, k: &'static str, v: String) {
        match self.0.iter_mut().find(|(c, _)| *c == k) {
            Some(e) => e.1 = v,
            None => self.0.push((k, v)),
        }
    }
    pub(super) fn get(&self, k: &str) -> Option<&String> {
        self.0.iter().find(|(c, _)| *c == k).map(|(_, v)| v)
    }
    pub(super) fn remove(&mut self, k: &str) -> Option<String> {
        let i = self.0.iter().position(|(c, _)| *c == k)?;
        Some(self.0.swap_remove(i).1)
    }
}

/// A field's value: not over the size limit, and no control character (a NUL or an escape
/// sequence in an identifier is corruption or an attack, never a person's name).
pub(super) fn check_field(file: &str, line: usize, field: &str, v: &str) -> Result<(), InputError> {
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
pub(super) fn unclosed_quote(text: &str, delimiter: u8) -> Option<usize> {
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

pub(super) fn csv_rows(
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

pub(super) fn require_columns(
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
pub(super) struct LineCursor<'t> {
    text: &'t [u8],
    offset: usize,
    pub(super) line: usize,
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
pub(super) fn object_row(file: &str, line: usize, raw: &str) -> Result<Option<Row>, InputError> {
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

pub(super) fn json_kind(v: &serde_json::Value) -> &'static str {
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
pub(super) fn offset_in(text: &str, inner: &str) -> usize {
    (inner.as_ptr() as usize).saturating_sub(text.as_ptr() as usize)
}

pub(super) fn json_rows(
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

pub(super) fn jsonl_rows(
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
