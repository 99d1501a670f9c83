//! Bad input never scans: every malformed leavers or config file exits 2 with a message that
//! names the file, line and field, and no report folder is created.

use std::path::Path;

use crate::harness::{code, repo, residual, text};

/// (fixture, line, field, words the message must contain)
const BAD: &[(&str, Option<usize>, Option<&str>, &str)] = &[
    (
        "missing_column.csv",
        Some(1),
        Some("departure_date"),
        "missing required column",
    ),
    (
        "bad_date.csv",
        Some(3),
        Some("departure_date"),
        "is not a date",
    ),
    ("empty.csv", None, None, "file is empty"),
    ("header_only.csv", None, None, "no leavers"),
    ("invalid_utf8.csv", Some(2), None, "invalid UTF-8"),
    ("no_identifier.csv", Some(3), Some("email"), "no identifier"),
    (
        "semicolon_delimited.csv",
        Some(1),
        Some("departure_date"),
        "pass --delimiter \";\"",
    ),
    ("long_field.csv", Some(2), Some("name"), "the limit is 4096"),
    (
        "bad_email.csv",
        Some(2),
        Some("email"),
        "is not an email address",
    ),
    ("ragged_row.csv", Some(2), None, "malformed CSV row"),
    (
        "bad_status.csv",
        Some(2),
        Some("status"),
        "unsupported status",
    ),
    // A mover's entitlement of a system that reports none.
    (
        "bad_revoke.csv",
        Some(3),
        Some("revoke"),
        "no system reports entitlements as \"jira\"",
    ),
    ("truncated.json", Some(3), None, "invalid JSON"),
    (
        "wrong_type.jsonl",
        Some(2),
        Some("departure_date"),
        "expected a string",
    ),
    // A quote that never closes would swallow the rest of the file (and a leaver) silently.
    ("unclosed_quote.csv", Some(3), None, "never closes"),
    (
        "nul_in_email.csv",
        Some(2),
        Some("email"),
        "control character",
    ),
    // CRLF line ends are counted right (the csv crate alone said line 2).
    (
        "crlf_bad_date.csv",
        Some(3),
        Some("departure_date"),
        "is not a date",
    ),
    // JSON errors name the line of the offending value, not the record number.
    (
        "wrong_type_line.json",
        Some(4),
        Some("departure_date"),
        "expected a string",
    ),
    // A huge header cell is echoed as a bounded prefix.
    (
        "huge_header.csv",
        Some(1),
        Some("header"),
        "the limit is 4096",
    ),
];

fn fixture(name: &str) -> String {
    repo()
        .join("fixtures/leavers/bad")
        .join(name)
        .display()
        .to_string()
}

#[test]
fn every_bad_leavers_file_exits_2_naming_file_line_and_field() {
    let work = tempfile::tempdir().unwrap();
    // A valid config, so only the leavers file is at fault.
    std::fs::write(
        work.path().join("residual.toml"),
        "[[aws]]\nendpoint_url = \"http://127.0.0.1:9\"\n",
    )
    .unwrap();
    for (file, line, field, words) in BAD {
        let path = fixture(file);
        let out = residual(
            work.path(),
            &["scan", "--leavers", &path, "--out", "r"],
            &[],
        );
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert_eq!(code(&out), 2, "{file}\n{}", text(&out));
        let mut prefix = path.clone();
        if let Some(l) = line {
            prefix.push_str(&format!(":{l}"));
        }
        assert!(
            err.contains(&prefix),
            "{file}: message should start with {prefix:?}: {err}"
        );
        if let Some(f) = field {
            assert!(
                err.contains(&format!("field \"{f}\"")),
                "{file}: message should name field {f}: {err}"
            );
        }
        assert!(
            err.contains(words),
            "{file}: message should say {words:?}: {err}"
        );
        assert!(!err.contains("panicked"), "{file}: {err}");
        assert!(
            err.len() < 2_000,
            "{file}: the message echoes too much ({} bytes)",
            err.len()
        );
        assert!(
            !work.path().join("r").exists(),
            "{file}: a report folder was created"
        );
    }
}

#[test]
fn good_hr_exports_parse_with_synonyms_bom_tabs_and_jsonl() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    for f in [
        "hr_export_synonyms_bom.csv",
        "leavers.jsonl",
        "tab_delimited.tsv",
    ] {
        let src = repo().join("fixtures/leavers/good").join(f);
        // An offline scan of the demo snapshot proves the file parsed; no system is contacted.
        let demo = dir.join(format!("demo-{f}"));
        let out = residual(dir, &["demo", "--out", demo.to_str().unwrap()], &[]);
        assert_eq!(code(&out), 0, "{}", text(&out));
        let out = residual(
            dir,
            &[
                "scan",
                "--leavers",
                src.to_str().unwrap(),
                "--snapshot",
                demo.join("snapshot.json").to_str().unwrap(),
                "--out",
                &format!("r-{f}"),
                "--as-of",
                "2026-11-26",
            ],
            &[],
        );
        assert!(matches!(code(&out), 0 | 1 | 3), "{f}\n{}", text(&out));
        let manifest: serde_json::Value = serde_json::from_slice(
            &std::fs::read(dir.join(format!("r-{f}/manifest.json"))).unwrap(),
        )
        .unwrap();
        let want = match f {
            "hr_export_synonyms_bom.csv" => (3, 2),
            "leavers.jsonl" => (2, 2),
            _ => (1, 1),
        };
        assert_eq!(
            (
                manifest["leavers"]["rows"].as_u64().unwrap(),
                manifest["leavers"]["leavers"].as_u64().unwrap()
            ),
            want,
            "{f}"
        );
        if f == "hr_export_synonyms_bom.csv" {
            assert!(
                String::from_utf8_lossy(&out.stderr).contains("duplicate"),
                "merge warning on stderr\n{}",
                text(&out)
            );
        }
    }
}

fn config_error(toml: &str, env: &[(&str, &str)], words: &[&str]) {
    let work = tempfile::tempdir().unwrap();
    let dir: &Path = work.path();
    std::fs::write(dir.join("residual.toml"), toml).unwrap();
    std::fs::copy(
        repo().join("fixtures/demo/leavers.csv"),
        dir.join("leavers.csv"),
    )
    .unwrap();
    let out = residual(
        dir,
        &["scan", "--leavers", "leavers.csv", "--out", "r"],
        env,
    );
    assert_eq!(code(&out), 2, "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    for w in words {
        assert!(err.contains(w), "config error should say {w:?}: {err}");
    }
    assert!(!dir.join("r").exists());
}

#[test]
fn config_errors_exit_2_before_any_request() {
    // The endpoint is unreachable: an exit 2 (not 3) proves nothing was attempted.
    config_error(
        "[scan]\nconcurency = 4\n[[aws]]\nendpoint_url = \"http://127.0.0.1:9\"\n",
        &[],
        &["residual.toml:2", "concurency"],
    );
    config_error(
        "[[aws]]\nregion = \"us-east-1\"\nendpont_url = \"x\"\n",
        &[],
        &["residual.toml:3", "endpont_url"],
    );
    config_error("[[aws]]\nendpoint_url = \"http://127.0.0.1:9\"\n[[vault]]\naddr = \"http://127.0.0.1:9\"\ntoken_env = \"RESIDUAL_TEST_UNSET_TOKEN\"\n", &[], &["RESIDUAL_TEST_UNSET_TOKEN", "token_env"]);
    config_error(
        "[[scim]]\nname = \"slack\"\nbase_url = \"ftp://x\"\ntoken_env = \"SCIM_TOKEN_FOR_TEST\"\n",
        &[("SCIM_TOKEN_FOR_TEST", "scim-test-token-123")],
        &["base_url", "http(s) URL"],
    );
    config_error(
        "[[github]]\norg = \"acme\"\napp_id = 1\n",
        &[],
        &["app_id", "private_key_file and installation_id"],
    );
    config_error(
        "[[github]]\norg = \"acme\"\n",
        &[],
        &["token_env", "missing required key"],
    );
    config_error("[scan]\nas_of = \"yesterday\"\n[[aws]]\n", &[], &["as_of"]);
}

#[test]
fn usage_errors_exit_2() {
    let work = tempfile::tempdir().unwrap();
    let out = residual(
        work.path(),
        &["scan", "--leavers", "x.csv", "--fail-on", "severe"],
        &[],
    );
    assert_eq!(code(&out), 2, "{}", text(&out));
    let out = residual(
        work.path(),
        &["scan", "--leavers", "x.csv", "--as-of", "soon"],
        &[],
    );
    assert_eq!(code(&out), 2, "{}", text(&out));
    let out = residual(work.path(), &["frobnicate"], &[]);
    assert_eq!(code(&out), 2, "{}", text(&out));
}
