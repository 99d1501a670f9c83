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
    "xapp-",
    "00D",
];

/// Mask registered secrets and secret-shaped words in `text`.
pub fn redact(text: &str) -> String {
    let mut out = text.to_string();
    {
        let reg = registry().read().unwrap_or_else(|e| e.into_inner());
        for s in reg.iter() {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), MASK);
            }
        }
    }
    if let Some(start) = out.find("-----BEGIN") {
        if out[start..].contains("PRIVATE KEY") {
            out.replace_range(start.., MASK);
        }
    }
    mask_shaped_words(&out)
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
