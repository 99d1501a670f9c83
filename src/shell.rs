//! Filling remediation command templates (`aws iam delete-login-profile --user-name {account}`)
//! with values from the estate, which are hostile text: a KV path holding `$(rm -rf ~)` must
//! stay a path when the command is pasted into a shell.
//!
//! The template is scanned with the shell's own quoting rules (unquoted, `'…'`, `"…"`) and
//! each value is escaped for the context its placeholder sits in. Control characters are
//! written as visible escapes (`\x1b`) in every context: a command naming such a resource will
//! not match it exactly, which is safer than a pasted command that does something else.

/// Fill `{name}` placeholders from `lookup`; an unknown placeholder becomes `UNKNOWN_NAME`.
pub fn fill(template: &str, lookup: &dyn Fn(&str) -> Option<String>) -> String {
    #[derive(Clone, Copy, PartialEq)]
    enum Ctx {
        Bare,
        Single,
        Double,
    }
    let mut out = String::with_capacity(template.len() + 32);
    let mut ctx = Ctx::Bare;
    let mut chars = template.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match (ctx, c) {
            (Ctx::Bare, '\'') => ctx = Ctx::Single,
            (Ctx::Single, '\'') => ctx = Ctx::Bare,
            (Ctx::Bare, '"') => ctx = Ctx::Double,
            (Ctx::Double, '"') => ctx = Ctx::Bare,
            (Ctx::Bare | Ctx::Double, '\\') => {
                out.push(c);
                if let Some((_, n)) = chars.next() {
                    out.push(n);
                }
                continue;
            }
            (_, '{') => {
                let rest = &template[i + 1..];
                if let Some(end) = rest.find('}') {
                    let name = &rest[..end];
                    if !name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                    {
                        let value = lookup(name)
                            .unwrap_or_else(|| format!("UNKNOWN_{}", name.to_ascii_uppercase()));
                        let value = residual_probe::text::printable(&value).into_owned();
                        out.push_str(&match ctx {
                            Ctx::Bare => bare(&value),
                            Ctx::Single => value.replace('\'', "'\\''"),
                            Ctx::Double => double(&value),
                        });
                        for _ in 0..=end {
                            chars.next();
                        }
                        continue;
                    }
                }
            }
            _ => {}
        }
        out.push(c);
    }
    out
}

/// Characters that need no quoting anywhere in a word.
fn safe(c: char) -> bool {
    c.is_ascii_alphanumeric() || "@%+=:,./_-".contains(c)
}

/// A value as (part of) an unquoted word: as is when every character is safe and it cannot be
/// read as an option, else single-quoted.
fn bare(v: &str) -> String {
    if !v.is_empty() && v.chars().all(safe) && !v.starts_with('-') {
        v.to_string()
    } else {
        format!("'{}'", v.replace('\'', "'\\''"))
    }
}

/// A value inside double quotes: `\`, `$`, `` ` `` and `"` escaped; `!` (history expansion in
/// an interactive bash) taken out of the double quotes.
fn double(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' | '$' | '`' | '"' => {
                out.push('\\');
                out.push(c);
            }
            '!' => out.push_str("\"'!'\""),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::fill;

    fn with(v: &'static str) -> impl Fn(&str) -> Option<String> {
        move |k: &str| (k == "id").then(|| v.to_string())
    }

    /// Run `sh -c 'printf %s <filled>'` and return what the shell made of the value.
    fn through_sh(template: &str, value: &'static str) -> String {
        let cmd = fill(template, &with(value));
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(&cmd)
            .output()
            .expect("sh");
        assert!(
            out.status.success(),
            "{cmd}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    #[test]
    fn hostile_values_stay_values_in_every_quoting_context() {
        for v in [
            "$(echo pwned)",
            "`echo pwned`",
            "a'b\"c",
            "-rf",
            "x; echo pwned",
            "semi;colon && $HOME",
            "back\\slash",
            "bang!bang",
            "plain-value_1.2",
        ] {
            assert_eq!(through_sh("printf %s {id}", v), v, "bare");
            assert_eq!(
                through_sh("printf %s /a/{id}/b", v),
                format!("/a/{v}/b"),
                "in a word"
            );
            assert_eq!(
                through_sh("printf %s \"x {id} y\"", v),
                format!("x {v} y"),
                "double"
            );
            assert_eq!(
                through_sh("printf %s 'x {id} y'", v),
                format!("x {v} y"),
                "single"
            );
        }
    }

    #[test]
    fn safe_values_are_left_readable_and_unknowns_are_named() {
        assert_eq!(
            fill(
                "aws iam delete-login-profile --user-name {id}",
                &with("alice")
            ),
            "aws iam delete-login-profile --user-name alice"
        );
        assert_eq!(fill("x {nope}", &with("a")), "x UNKNOWN_NOPE");
        assert_eq!(fill("x {id}", &with("a\u{1b}b")), "x 'a\\x1bb'");
    }
}
