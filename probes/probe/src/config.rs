//! Config tables for systems: each system crate owns the serde type of its `[[name]]` table
//! (with `deny_unknown_fields`) and its validation; this module gives them the shared parts —
//! reading their tables out of `residual.toml` with their positions, errors that name the line
//! and key, credentials from environment variables or files (registered with the redactor),
//! and the scan-wide settings every probe needs.
//!
//! The reference for users is `docs/config.md`; a test checks it against [`field_names`].

use std::marker::PhantomData;
use std::ops::Range;

use secrecy::SecretString;
use serde::de::{DeserializeOwned, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;

use crate::http::HttpPolicy;

/// Scan-wide settings from `[scan]` that probes apply.
#[derive(Debug, Clone, Copy)]
pub struct ScanSettings {
    /// Requests in flight per probe, at most.
    pub concurrency: usize,
    /// Timeouts, attempts and rate-limit waits.
    pub http: HttpPolicy,
}

impl Default for ScanSettings {
    fn default() -> Self {
        ScanSettings {
            concurrency: 16,
            http: HttpPolicy::default(),
        }
    }
}

/// A config error: the core turns it into an input error (exit 2) naming the file.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    pub line: Option<usize>,
    pub key: Option<String>,
    pub message: String,
}

/// What a system's `configure` works from.
pub struct ConfigCtx<'a> {
    file: &'a str,
    text: &'a str,
    pub scan: ScanSettings,
    env: &'a dyn Fn(&str) -> Option<String>,
    /// `scan --snapshot`: nothing will be sent, so no credential is read or required.
    pub offline: bool,
}

/// The stand-in for every credential when nothing will be sent.
const OFFLINE: &str = "offline-replay-no-credential";

impl<'a> ConfigCtx<'a> {
    pub fn new(
        file: &'a str,
        text: &'a str,
        scan: ScanSettings,
        env: &'a dyn Fn(&str) -> Option<String>,
        offline: bool,
    ) -> Self {
        ConfigCtx {
            file,
            text,
            scan,
            env,
            offline,
        }
    }

    pub fn file(&self) -> &str {
        self.file
    }

    /// Every `[[system]]` table, in file order, deserialized into the system's own type.
    pub fn tables<T: DeserializeOwned>(
        &self,
        system: &'static str,
    ) -> Result<Vec<Table<'_, T>>, ConfigError> {
        let items: Option<Vec<toml::Spanned<T>>> =
            section(self.text, system).map_err(|e| toml_error(self.text, &e))?;
        Ok(items
            .unwrap_or_default()
            .into_iter()
            .enumerate()
            .map(|(i, s)| {
                let span = s.span();
                Table {
                    value: s.into_inner(),
                    index: i + 1,
                    span,
                    system,
                    cx: self,
                }
            })
            .collect())
    }
}

/// One `[[system]]` table with where it is, so errors can name its line and key.
pub struct Table<'a, T> {
    pub value: T,
    /// 1-based position among the tables of its system.
    pub index: usize,
    span: Range<usize>,
    system: &'static str,
    cx: &'a ConfigCtx<'a>,
}

impl<T> Table<'_, T> {
    /// `[[github]] #2`: how messages name the table.
    pub fn name(&self) -> String {
        format!("[[{}]] #{}", self.system, self.index)
    }

    /// A plain (not secret) environment variable, such as a credentials file's path.
    pub fn env(&self, var: &str) -> Option<String> {
        (self.cx.env)(var)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }

    /// `scan --snapshot`: nothing will be sent; credentials read as a stand-in.
    pub fn offline(&self) -> bool {
        self.cx.offline
    }

    /// The line of the table's header (`[[github]]`).
    pub fn line(&self) -> usize {
        line_at(self.cx.text, self.span.start)
    }

    /// An error about `key` of this table, on the key's line when it is there.
    pub fn error(&self, key: &str, message: impl std::fmt::Display) -> ConfigError {
        ConfigError {
            line: Some(self.key_line(key).unwrap_or_else(|| self.line())),
            key: Some(key.to_string()),
            message: format!("{}: {message}", self.name()),
        }
    }

    /// The line assigning `key` in this table's body: from its header (the span TOML gives
    /// an array-of-tables item) to the next table header.
    fn key_line(&self, key: &str) -> Option<usize> {
        let text = self.cx.text;
        let mut offset = self.span.end.min(text.len());
        for l in text[offset..].split_inclusive('\n') {
            let t = l.trim_start();
            if t.starts_with('[') {
                break;
            }
            if t.strip_prefix(key)
                .is_some_and(|r| r.trim_start().starts_with('='))
            {
                return Some(line_at(text, offset));
            }
            offset += l.len();
        }
        None
    }

    /// An http(s) URL in `key`, trimmed.
    pub fn url(&self, key: &str, value: &str) -> Result<String, ConfigError> {
        let v = value.trim();
        if v.starts_with("https://") || v.starts_with("http://") {
            Ok(v.to_string())
        } else {
            Err(self.error(key, format!("{key} must be an http(s) URL")))
        }
    }

    /// A non-empty string in `key`, trimmed.
    pub fn non_empty(&self, key: &str, value: &str) -> Result<String, ConfigError> {
        let v = value.trim();
        if v.is_empty() {
            Err(self.error(key, format!("{key} is empty")))
        } else {
            Ok(v.to_string())
        }
    }

    /// The credential named by `token_env` (an environment variable) or `token_file`.
    pub fn token(
        &self,
        token_env: Option<&str>,
        token_file: Option<&str>,
    ) -> Result<SecretString, ConfigError> {
        match (token_env, token_file) {
            (Some(var), _) => self.env_secret("token_env", var),
            (None, Some(path)) => self.secret_file("token_file", path),
            (None, None) => Err(self.error(
                "token_env",
                "missing required key token_env (or token_file)",
            )),
        }
    }

    /// A secret from the environment variable `var`, named in `key`; registered with the
    /// redactor so it can reach no output.
    pub fn env_secret(&self, key: &str, var: &str) -> Result<SecretString, ConfigError> {
        let valid = var
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(self.error(
                key,
                format!(
                    "{key} must name an environment variable (letters, digits, _), found {var:?}"
                ),
            ));
        }
        if self.cx.offline {
            return Ok(SecretString::from(OFFLINE));
        }
        let v = (self.cx.env)(var)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .ok_or_else(|| self.error(key, format!("environment variable {var} is not set")))?;
        crate::redact::register(&v);
        Ok(SecretString::from(v))
    }

    /// A secret file's content, trimmed, registered with the redactor (each long line too,
    /// so a PEM body is masked line by line).
    pub fn secret_file(&self, key: &str, path: &str) -> Result<SecretString, ConfigError> {
        if self.cx.offline {
            return Ok(SecretString::from(OFFLINE));
        }
        let text = std::fs::read_to_string(path)
            .map_err(|e| self.error(key, format!("cannot read {path:?}: {e}")))?;
        let text = text.trim().to_string();
        if text.is_empty() {
            return Err(self.error(key, format!("{path:?} is empty")));
        }
        crate::redact::register(&text);
        for line in text
            .lines()
            .filter(|l| l.len() > 16 && !l.starts_with("-----"))
        {
            crate::redact::register(line.trim());
        }
        Ok(SecretString::from(text))
    }
}

/// 1-based line of a byte offset.
pub fn line_at(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// A TOML error as a config error: its line, the key on that line, and serde's message
/// reworded to say what was expected first (`expected a positive integer, found string
/// "eight"`).
pub fn toml_error(text: &str, e: &toml::de::Error) -> ConfigError {
    let line = e.span().map(|s| line_at(text, s.start));
    let key = e.span().and_then(|s| {
        let start = text[..s.start.min(text.len())]
            .rfind('\n')
            .map_or(0, |i| i + 1);
        let l = text[start..].lines().next().unwrap_or("");
        let (k, _) = l.split_once('=')?;
        let k = k.trim().trim_matches('"');
        (!k.is_empty() && !k.starts_with('[')).then(|| k.to_string())
    });
    let mut message = e.message().trim().to_string();
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some(rest) = message.strip_prefix(prefix) {
            if let Some((found, expected)) = rest.rsplit_once(", expected ") {
                message = format!("expected {}, found {found}", readable_type(expected));
            }
        }
    }
    let message = match &key {
        Some(k) if !message.contains(k.as_str()) => format!("{k}: {message}"),
        _ => message,
    };
    ConfigError { line, key, message }
}

/// serde names Rust types in its messages; users read TOML.
fn readable_type(t: &str) -> String {
    match t {
        "usize" | "u8" | "u16" | "u32" | "u64" => "a non-negative integer".into(),
        "i8" | "i16" | "i32" | "i64" => "an integer".into(),
        "a boolean" | "bool" => "true or false".into(),
        other => other.to_string(),
    }
}

/// A positive integer in the config: zero and negatives are refused by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Positive(pub u64);

impl<'de> Deserialize<'de> for Positive {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Positive;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a positive integer")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Positive, E> {
                if v == 0 {
                    Err(E::invalid_value(serde::de::Unexpected::Unsigned(0), &self))
                } else {
                    Ok(Positive(v))
                }
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Positive, E> {
                if v <= 0 {
                    Err(E::invalid_value(serde::de::Unexpected::Signed(v), &self))
                } else {
                    Ok(Positive(v as u64))
                }
            }
        }
        d.deserialize_u64(V)
    }
}

/// The value of one top-level key of a TOML document, deserialized as `T` with the document's
/// own deserializer (so errors and `Spanned` positions refer to the whole file). Other keys are
/// skipped unread.
pub fn section<T: DeserializeOwned>(text: &str, key: &str) -> Result<Option<T>, toml::de::Error> {
    struct Pick<'k, T>(&'k str, PhantomData<T>);
    impl<'de, T: DeserializeOwned> Visitor<'de> for Pick<'_, T> {
        type Value = Option<T>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a TOML document")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<T>, A::Error> {
            let mut out = None;
            while let Some(k) = map.next_key::<String>()? {
                if k == self.0 {
                    out = Some(map.next_value::<T>()?);
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            Ok(out)
        }
    }
    impl<'de, T: DeserializeOwned> DeserializeSeed<'de> for Pick<'_, T> {
        type Value = Option<T>;
        fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Option<T>, D::Error> {
            d.deserialize_map(self)
        }
    }
    let de = toml::de::Deserializer::parse(text)?;
    Pick(key, PhantomData).deserialize(de)
}

/// The field names of a `#[derive(Deserialize)]` struct: what its config table accepts.
pub fn field_names<T: DeserializeOwned>() -> &'static [&'static str] {
    use serde::de::Error as _;
    type E = serde::de::value::Error;
    struct Grab(Option<&'static [&'static str]>);
    impl<'de> serde::Deserializer<'de> for &mut Grab {
        type Error = E;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, E> {
            Err(E::custom("not a struct"))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, E> {
            self.0 = Some(fields);
            Err(E::custom("fields taken"))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
            identifier ignored_any
        }
    }
    let mut g = Grab(None);
    let _ = T::deserialize(&mut g);
    g.0.unwrap_or(&[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Raw {
        name: String,
        #[serde(default)]
        count: Option<Positive>,
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn tables_keep_their_lines_and_errors_name_the_key() {
        let text = "[scan]\nconcurrency = 2\n\n[[x]]\nname = \"a\"\n\n[[x]]\nname = \"\"\n";
        let cx = ConfigCtx::new("r.toml", text, ScanSettings::default(), &no_env, false);
        let t = cx.tables::<Raw>("x").unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t[1].line(), 7);
        let e = t[1].non_empty("name", &t[1].value.name).unwrap_err();
        assert_eq!(e.line, Some(8));
        assert_eq!(e.key.as_deref(), Some("name"));
        assert_eq!(e.message, "[[x]] #2: name is empty");
    }

    #[test]
    fn type_errors_say_what_was_expected_and_where() {
        let text = "[[x]]\nname = \"a\"\ncount = \"eight\"\n";
        let cx = ConfigCtx::new("r.toml", text, ScanSettings::default(), &no_env, false);
        let e = cx.tables::<Raw>("x").map(|_| ()).unwrap_err();
        assert_eq!(e.line, Some(3));
        assert_eq!(e.key.as_deref(), Some("count"));
        assert!(
            e.message
                .contains("expected a positive integer, found string \"eight\""),
            "{}",
            e.message
        );
        let text = "[[x]]\nname = \"a\"\ncount = 0\n";
        let cx = ConfigCtx::new("r.toml", text, ScanSettings::default(), &no_env, false);
        let e = cx.tables::<Raw>("x").map(|_| ()).unwrap_err();
        assert!(
            e.message.contains("expected a positive integer"),
            "{}",
            e.message
        );
        let text = "[[x]]\nname = \"a\"\ncolour = 1\n";
        let cx = ConfigCtx::new("r.toml", text, ScanSettings::default(), &no_env, false);
        let e = cx.tables::<Raw>("x").map(|_| ()).unwrap_err();
        assert_eq!(e.line, Some(3));
        assert!(e.message.contains("colour"), "{}", e.message);
    }

    #[test]
    fn tokens_come_from_the_environment_and_offline_needs_none() {
        let text = "[[x]]\nname = \"a\"\n";
        let env = |k: &str| (k == "SET").then(|| " value-123456 ".to_string());
        let cx = ConfigCtx::new("r.toml", text, ScanSettings::default(), &env, false);
        let t = cx.tables::<Raw>("x").unwrap();
        use secrecy::ExposeSecret;
        assert_eq!(
            t[0].token(Some("SET"), None).unwrap().expose_secret(),
            "value-123456"
        );
        let e = t[0].token(Some("UNSET"), None).unwrap_err();
        assert!(e.message.contains("UNSET is not set"), "{}", e.message);
        assert!(t[0].token(None, None).is_err());
        let cx = ConfigCtx::new("r.toml", text, ScanSettings::default(), &env, true);
        let t = cx.tables::<Raw>("x").unwrap();
        assert!(t[0].token(Some("UNSET"), None).is_ok());
    }

    #[test]
    fn field_names_of_a_table_type() {
        assert_eq!(field_names::<Raw>(), &["name", "count"]);
    }
}
