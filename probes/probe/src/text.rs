//! Estate values are hostile text: names, tags and paths may hold terminal escapes, bidi
//! overrides or control characters. Everything shown to a person passes through
//! [`printable`] first; long echoes are cut with [`clip`].

/// `s` with every control character (C0, DEL, C1) and bidi/format override written as a
/// visible escape (`\x1b`, `\u{202e}`), so a value can neither move the cursor, clear the
/// screen, set a window title nor reorder the text around it.
pub fn printable(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(needs_escape) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if needs_escape(c) {
            if (c as u32) < 0x80 {
                out.push_str(&format!("\\x{:02x}", c as u32));
            } else {
                out.push_str(&format!("\\u{{{:x}}}", c as u32));
            }
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
}

/// At most `max` characters of `s`, with `…` when cut.
pub fn clip(s: &str, max: usize) -> std::borrow::Cow<'_, str> {
    match s.char_indices().nth(max) {
        Some((i, _)) => std::borrow::Cow::Owned(format!("{}…", &s[..i])),
        None => std::borrow::Cow::Borrowed(s),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn control_characters_and_bidi_overrides_become_visible() {
        assert_eq!(
            super::printable("x\u{1b}[2J\rvfy1: intact"),
            "x\\x1b[2J\\x0dvfy1: intact"
        );
        assert_eq!(
            super::printable("a\u{7}b\u{202e}c\n"),
            "a\\x07b\\u{202e}c\\x0a"
        );
        assert_eq!(
            super::printable("plain text, ünïcode"),
            "plain text, ünïcode"
        );
        assert_eq!(super::clip("abcdef", 3), "abc…");
        assert_eq!(super::clip("abc", 3), "abc");
    }
}
