//! The report folder: the demo's CSVs as golden snapshots, exit codes and flags, and
//! `verify` catching a changed, missing or extra file.

use crate::harness::{code, residual, text};

#[test]
fn demo_report_is_stable_and_complete() {
    let work = tempfile::tempdir().unwrap();
    let out = residual(work.path(), &["demo", "--out", "d"], &[]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let d = work.path().join("d");
    for f in [
        "findings.csv",
        "coverage.csv",
        "findings.json",
        "summary.md",
        "snapshot.json",
        "manifest.json",
    ] {
        assert!(d.join(f).is_file(), "{f} missing");
    }
    insta::assert_snapshot!(
        "demo_findings_csv",
        std::fs::read_to_string(d.join("findings.csv")).unwrap()
    );
    insta::assert_snapshot!(
        "demo_coverage_csv",
        std::fs::read_to_string(d.join("coverage.csv")).unwrap()
    );
    insta::assert_snapshot!(
        "demo_summary_md",
        std::fs::read_to_string(d.join("summary.md")).unwrap()
    );
    // The demo shows every coverage outcome.
    let cov = std::fs::read_to_string(d.join("coverage.csv")).unwrap();
    for o in [
        ",residual,",
        ",deprovisioned,",
        ",no_account,",
        ",ambiguous,",
        ",error,",
        ",not_departed,",
    ] {
        assert!(cov.contains(o), "demo lacks outcome {o}");
    }
}

#[test]
fn exit_codes_follow_fail_on_and_exit_zero() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    assert_eq!(code(&residual(dir, &["demo", "--out", "d"], &[])), 0);
    // Only the readable instance, and only leavers without ambiguity: a complete scan.
    let snap: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("d/snapshot.json")).unwrap()).unwrap();
    let mut one = snap.clone();
    one["systems"] = serde_json::json!([snap["systems"][0]]);
    std::fs::write(dir.join("one.json"), one.to_string()).unwrap();
    std::fs::write(dir.join("l.csv"), "email,departure_date\nbob@demo.example,2026-10-15\nhenry@demo.example,2026-10-01\ncarol@demo.example,2026-09-30\n").unwrap();
    let scan = |out: &str, extra: &[&str]| {
        let mut a = vec![
            "scan",
            "--leavers",
            "l.csv",
            "--snapshot",
            "one.json",
            "--as-of",
            "2026-11-26",
            "--out",
            out,
        ];
        a.extend_from_slice(extra);
        residual(dir, &a, &[])
    };
    // bob: aws_username is not in this file, so bob.smith is not matched; carol is (low).
    assert_eq!(
        code(&scan("a", &[])),
        1,
        "low finding fails at the default --fail-on low"
    );
    assert_eq!(
        code(&scan("b", &["--fail-on", "high"])),
        0,
        "nothing at high or above"
    );
    assert_eq!(code(&scan("c", &["--exit-zero"])), 0);
    let j = scan("e", &["--json"]);
    let v: serde_json::Value =
        serde_json::from_slice(&j.stdout).expect("stdout is only JSON with --json");
    assert_eq!(v["findings"]["low"], 1);
    // The full demo snapshot has an unreadable instance: incomplete, 3; --exit-zero makes it 0.
    let full = |out: &str, extra: &[&str]| {
        let mut a = vec![
            "scan",
            "--leavers",
            "l.csv",
            "--snapshot",
            "d/snapshot.json",
            "--as-of",
            "2026-11-26",
            "--out",
            out,
        ];
        a.extend_from_slice(extra);
        residual(dir, &a, &[])
    };
    assert_eq!(code(&full("f", &[])), 3);
    assert_eq!(code(&full("g", &["--exit-zero"])), 0);
    // A non-empty --out is refused: an earlier report is never overwritten.
    let o = full("f", &[]);
    assert_eq!(code(&o), 2, "{}", text(&o));
}

#[test]
fn verify_detects_changed_missing_and_extra_files() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    for name in ["flip", "gone", "extra"] {
        assert_eq!(code(&residual(dir, &["demo", "--out", name], &[])), 0);
        let ok = residual(dir, &["verify", name], &[]);
        assert_eq!(code(&ok), 0, "{}", text(&ok));
    }
    let mut bytes = std::fs::read(dir.join("flip/findings.csv")).unwrap();
    bytes[100] ^= 1;
    std::fs::write(dir.join("flip/findings.csv"), bytes).unwrap();
    std::fs::remove_file(dir.join("gone/coverage.csv")).unwrap();
    std::fs::write(dir.join("extra/notes.txt"), "x").unwrap();
    for (name, words) in [
        ("flip", "findings.csv: changed"),
        ("gone", "coverage.csv: missing"),
        ("extra", "notes.txt: extra file"),
    ] {
        let out = residual(dir, &["verify", name], &[]);
        assert_eq!(code(&out), 1, "{name}\n{}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stdout).contains(words),
            "{name}: {}",
            text(&out)
        );
    }
}

#[test]
fn checks_lists_the_catalogue() {
    let work = tempfile::tempdir().unwrap();
    let out = residual(work.path(), &["checks", "--json"], &[]);
    assert_eq!(code(&out), 0);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ids: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    for id in [
        "aws_iam_access_key_active",
        "aws_iam_user_privileged",
        "aws_iam_role_trusts_user",
        "aws_iam_principal_owned",
    ] {
        assert!(ids.contains(&id), "{id}");
    }
    let man = residual(work.path(), &["man"], &[]);
    assert!(String::from_utf8_lossy(&man.stdout).contains(".TH"));
}

/// Every OCSF event is a valid Detection Finding for an independent implementation
/// (py-ocsf-models, which Prowler's OCSF output is built on).
#[test]
fn ocsf_events_validate_with_py_ocsf_models() {
    let work = tempfile::tempdir().unwrap();
    assert_eq!(code(&residual(work.path(), &["demo", "--out", "d"], &[])), 0);
    let file = work.path().join("d/findings.ocsf.json");
    let out = std::process::Command::new(crate::harness::python())
        .arg(crate::harness::repo().join("tests/harness/ocsf_check.py"))
        .arg(&file)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let findings = crate::harness::csv_rows(&work.path().join("d/findings.csv")).len();
    assert!(stdout.contains(&format!("{findings} passed, 0 failed")), "{stdout}");
}
