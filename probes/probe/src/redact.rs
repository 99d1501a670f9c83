//! The redaction layer: the last line of defence between a secret and any output.
//!
//! Two mechanisms. Every secret the tool loads (tokens from `token_env`, AWS secret keys it
//! resolves) is registered, and any later occurrence of it in a string is masked exactly.
//! Strings that merely look like secrets (known token prefixes, long mixed-case base64 runs
//! such as an AWS secret access key, PEM private keys) are masked by shape, which catches
//! secrets the tool never loaded itself — a token echoed back in an error body, say.
//! Key ids (`AKIA…`, 20 characters), ARNs and sha256 digests do not look like secrets here.

use std::sync::{OnceLock, RwLock};

const MASK: &str = "[REDACTED]";

fn registry() -> &'static RwLock<Vec<String>> {
    static REG: OnceLock<RwLock<Vec<String>>> = OnceLock::new();
    REG.get_or_init(|| RwLock::new(Vec::new()))
}

/// Remember a secret so it is masked wherever it appears. Very short values are not
/// registered: masking every "a" would destroy the output and protects nothing.
pub fn register(secret: &str) {
    if secret.len() < 6 {
        return;
    }
    let mut reg = registry().write().unwrap_or_else(|e| e.into_inner());
    if !reg.iter().any(|s| s == secret) {
        reg.push(secret.to_string());
        // Longest first, so a secret containing another is masked whole.
        reg.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }
}

/// Prefixes of well-known token formats (GitHub, Vault/OpenBao, Slack, Salesforce session).
const TOKEN_PREFIXES: &[&str] = &[
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "ghr_",
    "github_pat_",
    "eyJ",
    "hvs.",
    "hvb.",
    "hvr.",
    "s.",
    "xoxb-",
    "xoxp-",
    "xoxa-",
    "xoxr-",
    "xoxs-",
    "xapp-",
    "00D",
    "sk_live_",
    "sk_test_",
    "rk_live_",
    "glpat-",
    "AIza",
    "ya29.",
    "npm_",
    "pypi-",
];

/// Mask registered secrets and secret-shaped words in `text`.
pub fn redact(text: &str) -> String {
    if !needs_redaction(text) {
        return text.to_string();
    }
    let mut out = text.to_string();
    {
        let reg = registry().read().unwrap_or_else(|e| e.into_inner());
        for s in reg.iter() {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), MASK);
            }
        }
    }
    let out = mask_pem_blocks(&out);
    let out = mask_url_passwords(&out);
    mask_shaped_words(&out)
}

/// Whether [`redact`] would change `text`, found without copying it: reports of a million
/// rows are checked whole, and almost never hold anything to mask.
pub fn needs_redaction(text: &str) -> bool {
    {
        let reg = registry().read().unwrap_or_else(|e| e.into_inner());
        if reg.iter().any(|s| text.contains(s.as_str())) {
            return true;
        }
    }
    if text.contains("-----BEGIN") && mask_pem_blocks(text) != text {
        return true;
    }
    if text.contains("://") && mask_url_passwords(text) != text {
        return true;
    }
    let mut start = None;
    for (i, c) in text.char_indices() {
        match (is_word_char(c), start) {
            (true, None) => start = Some(i),
            (false, Some(st)) => {
                if looks_secret(&text[st..i]) {
                    return true;
                }
                start = None;
            }
            _ => {}
        }
    }
    start.is_some_and(|st| looks_secret(&text[st..]))
}

/// Every PEM private-key block, from its `-----BEGIN` line to its `-----END …-----` line (or
/// to the end of the text when it has none). Text around it is kept.
fn mask_pem_blocks(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN") {
        let after = &rest[start..];
        let header_end = after[10..].find("-----").map(|i| i + 15);
        let is_key = header_end.is_some_and(|e| after[..e].contains("PRIVATE KEY"));
        if !is_key {
            out.push_str(&rest[..start + 10]);
            rest = &rest[start + 10..];
            continue;
        }
        out.push_str(&rest[..start]);
        out.push_str(MASK);
        match after.find("-----END") {
            Some(e) => {
                let tail = &after[e + 8..];
                let close = tail.find("-----").map_or(tail.len(), |i| i + 5);
                rest = &tail[close..];
            }
            None => rest = "",
        }
    }
    out.push_str(rest);
    out
}

/// `scheme://user:password@host` keeps the user and host and loses the password.
fn mask_url_passwords(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        out.push_str(&rest[..i + 3]);
        let after = &rest[i + 3..];
        let end = after
            .find(|c: char| c == '/' || c == '?' || c == '#' || c.is_whitespace() || c == '"')
            .unwrap_or(after.len());
        let authority = &after[..end];
        match authority
            .rfind('@')
            .and_then(|at| authority[..at].find(':').map(|c| (c, at)))
        {
            Some((colon, at)) if colon + 1 < at => {
                out.push_str(&authority[..colon + 1]);
                out.push_str(MASK);
                out.push_str(&authority[at..]);
            }
            _ => out.push_str(authority),
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// Every string in a JSON value redacted in place, keys included: what is serialised is
/// then valid JSON with no secret in it, whatever the values held.
pub fn redact_value(v: &mut serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::String(s) => {
            let r = redact(s);
            if r != *s {
                *s = r;
            }
        }
        Value::Array(a) => a.iter_mut().for_each(redact_value),
        Value::Object(m) => {
            let old = std::mem::take(m);
            for (k, mut val) in old {
                redact_value(&mut val);
                m.insert(redact(&k), val);
            }
        }
        _ => {}
    }
}

/// `value` serialised as (pretty) JSON with every string redacted. Values are redacted one
/// by one (never the finished text, whose escapes a mask could break); when the text shows
/// nothing to redact — the usual case, as the estate was redacted when it was collected — it
/// is used as it is, without building the value tree.
pub fn to_json_pretty<T: serde::Serialize>(value: &T) -> serde_json::Result<String> {
    let text = serde_json::to_string_pretty(value)?;
    if !needs_redaction(&text) {
        return Ok(text);
    }
    let mut v = serde_json::to_value(value)?;
    redact_value(&mut v);
    serde_json::to_string_pretty(&v)
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=' | '_' | '-' | '.')
}

fn looks_secret(word: &str) -> bool {
    let w = word.trim_end_matches(['.', '=']);
    if TOKEN_PREFIXES
        .iter()
        .any(|p| w.starts_with(p) && w.len() >= p.len() + 16 && !w.contains('/'))
    {
        return true;
    }
    // A long token with separators (`-`, `_`, base64url): random text switches between upper
    // case, lower case and digits at most characters; names such as
    // `AWSReservedSSO_AdministratorAccess_1234abcd` switch far less.
    if w.len() >= 32 && w.contains(['-', '_']) {
        let classes: Vec<u8> = w
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .map(|c| {
                if c.is_ascii_uppercase() {
                    0
                } else if c.is_ascii_lowercase() {
                    1
                } else {
                    2
                }
            })
            .collect();
        let switches = classes.windows(2).filter(|p| p[0] != p[1]).count();
        let n = classes.len();
        let share = |k: u8| classes.iter().filter(|&&c| c == k).count() * 100 / n.max(1);
        // Random base64 is about 40% upper, 40% lower, 16% digits; ids such as a UUID with a
        // namespace suffix (`b0070c34-…-4ee3ff558c18.sokQaa`) have almost no upper case.
        let mixed = share(0) >= 15 && share(1) >= 15 && share(2) >= 5;
        if mixed && n >= 30 && switches * 100 >= n * 45 {
            return true;
        }
    }
    // A long run mixing upper case, lower case and digits: AWS secret keys (40), most API
    // tokens. Hex digests are lower case only; key ids are 20 characters.
    // Separators (`_ - .`) are excluded from the run: names such as
    // `AWSReservedSSO_AdministratorAccess_1234abcd` are not secrets.
    w.len() >= 30
        && !w.contains(['_', '-', '.'])
        && w.chars().any(|c| c.is_ascii_uppercase())
        && w.chars().any(|c| c.is_ascii_lowercase())
        && w.chars().any(|c| c.is_ascii_digit())
        && !w.contains("::")
}

fn mask_shaped_words(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        if looks_secret(word) {
            out.push_str(MASK);
        } else {
            out.push_str(word);
        }
        word.clear();
    };
    for c in text.chars() {
        if is_word_char(c) {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_registered_secret_anywhere() {
        register("canary-Secret-value-42");
        assert_eq!(
            redact("error: token canary-Secret-value-42 rejected"),
            "error: token [REDACTED] rejected"
        );
    }

    #[test]
    fn masks_aws_secret_key_shape_but_not_key_id_or_arn() {
        let s = "key AKIAIOSFODNN7EXAMPLE secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY on arn:aws:iam::123456789012:user/alice";
        let r = redact(s);
        assert!(r.contains("AKIAIOSFODNN7EXAMPLE"), "{r}");
        assert!(!r.contains("wJalrXUtnFEMI"), "{r}");
        assert!(r.contains("arn:aws:iam::123456789012:user/alice"), "{r}");
    }

    #[test]
    fn masks_token_prefixes_and_private_keys() {
        let r = redact("got ghp_abcdefghijklmnopqrstuvwxyz012345 and hvs.CAESIabcdefghijklmnop");
        assert!(!r.contains("ghp_abc"), "{r}");
        assert!(!r.contains("hvs.CAES"), "{r}");
        let r = redact("pem -----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----");
        assert_eq!(r, "pem [REDACTED]");
    }

    #[test]
    fn masks_jwts_echoed_back() {
        let r = redact(
            "bad token eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiI0MjQyNDIifQ.c2lnbmF0dXJlLWJ5dGVz here",
        );
        assert_eq!(r, "bad token [REDACTED] here");
    }

    #[test]
    fn pem_blocks_are_masked_alone_and_urls_lose_their_password() {
        let r = redact("a -----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY----- b");
        assert_eq!(r, "a [REDACTED] b");
        let r = redact("cert -----BEGIN CERTIFICATE----- x");
        assert_eq!(r, "cert -----BEGIN CERTIFICATE----- x");
        assert_eq!(
            redact("see https://svc:hunter2pass@db.acme:5432/x and http://host/a"),
            "see https://svc:[REDACTED]@db.acme:5432/x and http://host/a"
        );
    }

    #[test]
    fn new_token_shapes_are_masked() {
        for t in [
            "sk_live_51HqLyjWDarjtT1zdp7dcXabcdEFGH",
            "glpat-xZ8Ea2sdfQWErtyUIop12",
            "AIzaSyDdI0hCZtE6vySjMm-WEfRq3CPzqKqqsHI",
            "xoxs-1234567890-abcdefghijklmnop",
            "Zq3-vT9kLmW2xR7_pQ4sN8yB1cD6fG0hJ5aE",
        ] {
            assert!(!redact(&format!("x {t} y")).contains(t), "{t}");
        }
    }

    #[test]
    fn redacted_json_stays_json() {
        let mut v = serde_json::json!({"a": "-----BEGIN RSA PRIVATE KEY-----\nabc", "b": ["ok", "line\nAbcdefghijklmnopqrstuvwxyz0123456789XYZ"], "c": 3});
        redact_value(&mut v);
        let text = serde_json::to_string(&v).unwrap();
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back["a"], "[REDACTED]");
        assert_eq!(back["b"][0], "ok");
        assert_eq!(back["c"], 3);
        assert!(!text.contains("Abcdefghijklmnop"), "{text}");
    }

    #[test]
    fn leaves_namespaced_uuids() {
        let id = "entity b0070c34-afc7-d00c-798c-4ee3ff558c18.sokQaa";
        assert_eq!(redact(id), id);
    }

    #[test]
    fn leaves_long_names_with_separators() {
        let n = "role AWSReservedSSO_AdministratorAccess_1234abcd5678ef90";
        assert_eq!(redact(n), n);
    }

    #[test]
    fn leaves_digests_and_plain_words() {
        let d = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(redact(d), d);
        assert_eq!(redact("user alice has 2 keys"), "user alice has 2 keys");
    }
}
