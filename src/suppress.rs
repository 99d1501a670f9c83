//! Suppressions (docs/reports.md, "Scheduled scans"): a TOML or YAML file of entries that mute findings. Each entry names
//! what it matches (check id, system instance, leaver, resource pattern — at least one) and
//! must say why (`reason`), who approved it (`approved_by`) and until when (`expires`). Muted
//! findings stay in every output as `suppressed`; an expired entry stops muting and is
//! reported, as is an entry that matched nothing.

use std::path::Path;

use serde::Deserialize;
use time::OffsetDateTime;

use crate::evaluate::{Evaluation, Status};
use crate::leavers::{normalize_email, parse_instant};
use crate::InputError;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub check_id: Option<String>,
    pub system_instance: Option<String>,
    /// A leaver id or email.
    pub leaver: Option<String>,
    /// A glob on `resource_id` (`*` any run, `?` one character).
    pub resource: Option<String>,
    pub reason: String,
    pub approved_by: String,
    pub expires: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    suppression: Vec<Entry>,
}

pub fn load(path: &Path) -> Result<Vec<(Entry, OffsetDateTime)>, InputError> {
    let file = path.display().to_string();
    let e = |line: Option<usize>, field: Option<&str>, m: String| InputError {
        file: file.clone(),
        line,
        field: field.map(str::to_string),
        message: m,
    };
    let text =
        std::fs::read_to_string(path).map_err(|x| e(None, None, format!("cannot read: {x}")))?;
    let yaml = matches!(
        path.extension().and_then(|x| x.to_str()),
        Some("yaml" | "yml")
    );
    let parsed: File = if yaml {
        serde_norway::from_str(&text)
            .map_err(|x| e(x.location().map(|l| l.line()), None, x.to_string()))?
    } else {
        toml::from_str(&text).map_err(|x| {
            let line = x
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
            e(line, None, x.message().to_string())
        })?
    };
    let mut out = Vec::new();
    for (i, s) in parsed.suppression.into_iter().enumerate() {
        let n = i + 1;
        for (k, v) in [("reason", &s.reason), ("approved_by", &s.approved_by)] {
            if v.trim().is_empty() {
                return Err(e(None, Some(k), format!("suppression #{n}: {k} is empty")));
            }
        }
        if s.check_id.is_none()
            && s.system_instance.is_none()
            && s.leaver.is_none()
            && s.resource.is_none()
        {
            return Err(e(None, None, format!("suppression #{n}: names nothing to match (check_id, system_instance, leaver or resource)")));
        }
        let expires = parse_instant(&s.expires)
            .map_err(|m| e(None, Some("expires"), format!("suppression #{n}: {m}")))?;
        out.push((s, expires));
    }
    Ok(out)
}

/// `*` and `?` glob, whole string.
pub fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// Mute matching findings; note expired and unused entries.
pub fn apply(ev: &mut Evaluation, entries: &[(Entry, OffsetDateTime)], as_of: OffsetDateTime) {
    for (i, (s, expires)) in entries.iter().enumerate() {
        let n = i + 1;
        let label = format!(
            "suppression #{n} ({}; approved by {}; expires {})",
            s.reason,
            s.approved_by,
            crate::report::rfc3339(*expires)
        );
        if *expires <= as_of {
            ev.suppression_notes
                .push(format!("{label}: expired, no longer mutes"));
            continue;
        }
        let mut used = 0;
        for f in ev.findings.iter_mut() {
            let hit = s.check_id.as_deref().is_none_or(|c| c == &*f.check_id)
                && s.system_instance
                    .as_deref()
                    .is_none_or(|x| x == &*f.system_instance)
                && s.leaver.as_deref().is_none_or(|l| {
                    l.eq_ignore_ascii_case(&f.leaver_id)
                        || normalize_email(l) == normalize_email(&f.leaver_email)
                })
                && s.resource
                    .as_deref()
                    .is_none_or(|r| glob(r, &f.resource_id));
            if hit && f.status == Status::Open {
                f.status = Status::Suppressed;
                f.suppression = Some(label.clone());
                used += 1;
            }
        }
        ev.suppression_notes.push(if used == 0 {
            format!("{label}: matched nothing")
        } else {
            format!("{label}: muted {used} finding(s)")
        });
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn globs() {
        assert!(super::glob(
            "arn:aws:iam::*:user/ci-*",
            "arn:aws:iam::123:user/ci-bot"
        ));
        assert!(!super::glob(
            "arn:aws:iam::*:user/ci-*",
            "arn:aws:iam::123:role/ci-bot"
        ));
        assert!(super::glob("AKIA????", "AKIA1234"));
        assert!(super::glob("*", ""));
    }
}
