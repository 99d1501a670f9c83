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
    assert_eq!(
        code(&residual(work.path(), &["demo", "--out", "d"], &[])),
        0
    );
    let file = work.path().join("d/findings.ocsf.json");
    let out = std::process::Command::new(crate::harness::python())
        .arg(crate::harness::repo().join("tests/harness/ocsf_check.py"))
        .arg(&file)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let findings = crate::harness::csv_rows(&work.path().join("d/findings.csv")).len();
    assert!(
        stdout.contains(&format!("{findings} passed, 0 failed")),
        "{stdout}"
    );
}

fn demo_snapshot(dir: &std::path::Path) -> serde_json::Value {
    assert_eq!(code(&residual(dir, &["demo", "--out", "demo"], &[])), 0);
    serde_json::from_slice(&std::fs::read(dir.join("demo/snapshot.json")).unwrap()).unwrap()
}

fn leavers_csv(dir: &std::path::Path) {
    std::fs::write(dir.join("l.csv"), residual::demo::LEAVERS_CSV).unwrap();
}

/// Two scans: bob's SSH key removed (resolved), a new key for erin (new), the rest persisting.
#[test]
fn baseline_round_trip_and_diff() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    leavers_csv(dir);
    let snap = demo_snapshot(dir);
    std::fs::write(dir.join("a.json"), snap.to_string()).unwrap();
    let mut b = snap.clone();
    let accounts = b["systems"][0]["accounts"].as_array_mut().unwrap();
    let bob = accounts
        .iter_mut()
        .find(|a| a["name"] == "bob.smith")
        .unwrap();
    bob["credentials"]
        .as_array_mut()
        .unwrap()
        .retain(|c| c["resource_type"] != "aws_iam_ssh_public_key");
    let erin = accounts.iter_mut().find(|a| a["name"] == "erin").unwrap();
    let mut key = erin["credentials"][0].clone();
    key["id"] = "AKIADEMOERIN00000002".into();
    erin["credentials"].as_array_mut().unwrap().push(key);
    std::fs::write(dir.join("b.json"), b.to_string()).unwrap();
    let scan = |snap: &str, out: &str, extra: &[&str]| {
        let mut a = vec![
            "scan",
            "--leavers",
            "l.csv",
            "--snapshot",
            snap,
            "--as-of",
            "2026-11-26",
            "--out",
            out,
        ];
        a.extend_from_slice(extra);
        residual(dir, &a, &[])
    };
    assert_eq!(code(&scan("a.json", "r1", &[])), 3);
    let out = scan("b.json", "r2", &["--baseline", "r1"]);
    assert_eq!(code(&out), 3, "{}", text(&out));
    let j: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("r2/findings.json")).unwrap()).unwrap();
    let new: Vec<&str> = j["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["baseline"] == "new")
        .map(|f| f["resource_id"].as_str().unwrap())
        .collect();
    assert_eq!(new, vec!["AKIADEMOERIN00000002"]);
    assert!(j["findings"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["first_seen"].is_string()));
    let resolved: Vec<&str> = j["resolved"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["resource_id"].as_str().unwrap())
        .collect();
    assert_eq!(resolved, vec!["APKADEMOBOB000000001"]);
    let d = residual(dir, &["diff", "r1", "r2", "--json"], &[]);
    assert_eq!(code(&d), 0, "{}", text(&d));
    let v: serde_json::Value = serde_json::from_slice(&d.stdout).unwrap();
    let rows = v["findings"].as_array().unwrap();
    let count = |s: &str| rows.iter().filter(|r| r["state"] == s).count();
    let total = crate::harness::csv_rows(&dir.join("r1/findings.csv")).len();
    assert_eq!(
        (count("new"), count("resolved"), count("persisting")),
        (1, 1, total - 1)
    );
    let table = residual(dir, &["diff", "r1", "r2"], &[]);
    assert!(String::from_utf8_lossy(&table.stdout)
        .contains(&format!("1 new, 1 resolved, {} persisting", total - 1)));
}

/// Proof of closure: dave's three paths are gone in the second scan, every instance checked
/// him, so `diff`, `summary.md`, `findings.json` and the HTML say all his paths closed, with
/// each finding's time to close and the SLA verdict; nobody else is called closed.
#[test]
fn closure_times_and_the_all_closed_line() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    leavers_csv(dir);
    let mut snap = demo_snapshot(dir);
    snap["systems"]
        .as_array_mut()
        .unwrap()
        .retain(|s| s["status"]["state"] == "complete");
    std::fs::write(dir.join("a.json"), snap.to_string()).unwrap();
    for s in snap["systems"].as_array_mut().unwrap() {
        for kind in ["accounts", "assets"] {
            for x in s[kind].as_array_mut().into_iter().flatten() {
                if let Some(refs) = x["owner_refs"].as_array_mut() {
                    refs.retain(|r| {
                        let v = r["value"].as_str().unwrap().to_lowercase();
                        !v.contains("dave") && v != "ddias"
                    });
                }
            }
        }
    }
    std::fs::write(dir.join("b.json"), snap.to_string()).unwrap();
    let scan = |snap: &str, out: &str, as_of: &str, extra: &[&str]| {
        let mut a = vec![
            "scan",
            "--leavers",
            "l.csv",
            "--snapshot",
            snap,
            "--as-of",
            as_of,
            "--out",
            out,
        ];
        a.extend_from_slice(extra);
        residual(dir, &a, &[])
    };
    scan("a.json", "r1", "2026-11-26T00:00:00Z", &[]);
    let out = scan(
        "b.json",
        "r2",
        "2026-11-28T06:00:00Z",
        &["--baseline", "r1"],
    );
    assert!(code(&out) <= 3, "{}", text(&out));
    let j: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("r2/findings.json")).unwrap()).unwrap();
    let resolved = j["resolved"].as_array().unwrap();
    assert_eq!(resolved.len(), 3, "{resolved:?}");
    for f in resolved {
        assert_eq!(f["leaver_email"], "dave@demo.example");
        assert_eq!(f["time_to_close_hours"], 54, "{f}");
        assert_eq!(f["closed_at"], "2026-11-28T06:00:00Z");
    }
    let closed = j["closed_leavers"].as_array().unwrap();
    assert_eq!(closed.len(), 1, "{closed:?}");
    assert_eq!(closed[0]["leaver_email"], "dave@demo.example");
    assert_eq!(closed[0]["within_sla"], false);
    let summary = std::fs::read_to_string(dir.join("r2/summary.md")).unwrap();
    assert!(
        summary.contains("3 resolved (time to close: median 54 h, longest 54 h)")
            && summary.contains("all paths closed for dave@demo.example at 2026-11-28T06:00:00Z")
            && summary.contains("SLA: 0 of 1 leaver(s)"),
        "{summary}"
    );
    let html = std::fs::read_to_string(dir.join("r2/report.html")).unwrap();
    assert!(html.contains("Closed since the baseline") && html.contains("dave@demo.example</td>"));
    let d = residual(dir, &["diff", "r1", "r2"], &[]);
    let t = String::from_utf8_lossy(&d.stdout);
    assert!(
        t.contains("(closed in 54 h)") && t.contains("all paths closed for dave@demo.example"),
        "{t}"
    );
    let d = residual(dir, &["diff", "r1", "r2", "--json"], &[]);
    let v: serde_json::Value = serde_json::from_slice(&d.stdout).unwrap();
    assert_eq!(v["leavers_closed"].as_array().unwrap().len(), 1);
    // The first scan against itself closes nothing.
    let d = residual(dir, &["diff", "r1", "r1"], &[]);
    assert!(!String::from_utf8_lossy(&d.stdout).contains("all paths closed"));
}

/// Regression (fail-open review #8): when a system cannot be read, its earlier findings are
/// "unverified", never "resolved".
#[test]
fn baseline_never_resolves_what_could_not_be_checked() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    leavers_csv(dir);
    let snap = demo_snapshot(dir);
    std::fs::write(dir.join("a.json"), snap.to_string()).unwrap();
    let mut failed = snap.clone();
    failed["systems"][0]["status"] = serde_json::json!({"state": "failed", "error": {"Timeout": "GetAccountAuthorizationDetails: no answer in time"}});
    failed["systems"][0]["accounts"] = serde_json::json!([]);
    failed["systems"][0]["assets"] = serde_json::json!([]);
    std::fs::write(dir.join("c.json"), failed.to_string()).unwrap();
    let scan = |snap: &str, out: &str, extra: &[&str]| {
        let mut a = vec![
            "scan",
            "--leavers",
            "l.csv",
            "--snapshot",
            snap,
            "--as-of",
            "2026-11-26",
            "--out",
            out,
        ];
        a.extend_from_slice(extra);
        residual(dir, &a, &[])
    };
    assert_eq!(code(&scan("a.json", "r1", &[])), 3);
    let out = scan("c.json", "r3", &["--baseline", "r1"]);
    assert_eq!(code(&out), 3, "{}", text(&out));
    let j: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("r3/findings.json")).unwrap()).unwrap();
    let aws_prod = crate::harness::csv_rows(&dir.join("r1/findings.csv"))
        .iter()
        .filter(|f| f["system_instance"] == "demo-prod")
        .count();
    assert!(aws_prod > 0);
    assert_eq!(
        j["unverified"].as_array().map(Vec::len).unwrap_or(0),
        aws_prod,
        "{}",
        j["resolved"]
    );
    assert!(
        j["resolved"].as_array().is_none_or(|r| r.is_empty()),
        "{}",
        j["resolved"]
    );
    let d = residual(dir, &["diff", "r1", "r3", "--json"], &[]);
    let v: serde_json::Value = serde_json::from_slice(&d.stdout).unwrap();
    let rows = v["findings"].as_array().unwrap();
    assert!(rows.iter().all(|r| r["state"] != "resolved"), "{rows:?}");
}

#[test]
fn suppressions_mute_expire_and_are_validated() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    leavers_csv(dir);
    demo_snapshot(dir);
    // Only the readable instance: a complete scan, so the exit code reflects open findings.
    let snap: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("demo/snapshot.json")).unwrap()).unwrap();
    let mut one = snap.clone();
    one["systems"] = serde_json::json!([snap["systems"][0]]);
    std::fs::write(dir.join("one.json"), one.to_string()).unwrap();
    std::fs::write(
        dir.join("l2.csv"),
        "email,departure_date\ncarol@demo.example,2026-09-30\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("s.toml"),
        "[[suppression]]\ncheck_id = \"aws_iam_user_not_removed\"\nleaver = \"Carol@demo.example\"\nreason = \"kept for legal hold\"\napproved_by = \"ciso@demo.example\"\nexpires = \"2026-12-31\"\n\n[[suppression]]\nresource = \"arn:aws:iam::*:user/nobody\"\nreason = \"old\"\napproved_by = \"x\"\nexpires = \"2026-01-01\"\n",
    )
    .unwrap();
    let scan = |out: &str, extra: &[&str]| {
        let mut a = vec![
            "scan",
            "--leavers",
            "l2.csv",
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
    assert_eq!(code(&scan("plain", &[])), 1, "carol's low finding is open");
    let out = scan("muted", &["--suppressions", "s.toml"]);
    assert_eq!(
        code(&out),
        0,
        "the only finding is suppressed\n{}",
        text(&out)
    );
    let rows = crate::harness::csv_rows(&dir.join("muted/findings.csv"));
    assert_eq!(rows.len(), 1, "muted findings stay in the output");
    assert_eq!(rows[0]["status"], "suppressed");
    let md = std::fs::read_to_string(dir.join("muted/summary.md")).unwrap();
    assert!(
        md.contains("muted 1 finding") && md.contains("expired, no longer mutes"),
        "{md}"
    );
    let ocsf = std::fs::read_to_string(dir.join("muted/findings.ocsf.json")).unwrap();
    assert!(
        ocsf.contains("\"status_id\": 3"),
        "suppressed is OCSF status 3"
    );
    // After its expiry the entry stops muting.
    let out = residual(
        dir,
        &[
            "scan",
            "--leavers",
            "l2.csv",
            "--snapshot",
            "one.json",
            "--as-of",
            "2027-01-15",
            "--out",
            "later",
            "--suppressions",
            "s.toml",
        ],
        &[],
    );
    assert_eq!(code(&out), 1, "{}", text(&out));
    // YAML works the same.
    std::fs::write(dir.join("s.yaml"), "suppression:\n  - check_id: aws_iam_user_not_removed\n    reason: legal hold\n    approved_by: ciso\n    expires: '2026-12-31'\n").unwrap();
    assert_eq!(code(&scan("yaml", &["--suppressions", "s.yaml"])), 0);
    // Malformed: no reason, unknown key, no matcher — exit 2, nothing written.
    for (name, body) in [
        ("noreason.toml", "[[suppression]]\ncheck_id = \"x\"\napproved_by = \"y\"\nexpires = \"2026-12-31\"\n"),
        ("unknown.toml", "[[suppression]]\ncheck = \"x\"\nreason = \"r\"\napproved_by = \"y\"\nexpires = \"2026-12-31\"\n"),
        ("nomatch.toml", "[[suppression]]\nreason = \"r\"\napproved_by = \"y\"\nexpires = \"2026-12-31\"\n"),
    ] {
        std::fs::write(dir.join(name), body).unwrap();
        let out = scan(&format!("bad-{name}"), &["--suppressions", name]);
        assert_eq!(code(&out), 2, "{name}\n{}", text(&out));
        assert!(String::from_utf8_lossy(&out.stderr).contains(name), "{name}: {}", text(&out));
        assert!(!dir.join(format!("bad-{name}")).exists());
    }
}

#[test]
fn signed_manifest_verifies_and_detects_tampering_and_wrong_keys() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    leavers_csv(dir);
    demo_snapshot(dir);
    let keys = "import sys\nfrom cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey\nfrom cryptography.hazmat.primitives import serialization as s\nfor name in ('a', 'b'):\n    k = Ed25519PrivateKey.generate()\n    open(sys.argv[1] + '/' + name + '.pem', 'wb').write(k.private_bytes(s.Encoding.PEM, s.PrivateFormat.PKCS8, s.NoEncryption()))\n    open(sys.argv[1] + '/' + name + '.pub', 'wb').write(k.public_key().public_bytes(s.Encoding.PEM, s.PublicFormat.SubjectPublicKeyInfo))\n";
    let out = std::process::Command::new(crate::harness::python())
        .args(["-c", keys])
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = residual(
        dir,
        &[
            "scan",
            "--leavers",
            "l.csv",
            "--snapshot",
            "demo/snapshot.json",
            "--as-of",
            "2026-11-26",
            "--out",
            "s",
            "--sign-key",
            "a.pem",
            "--csv-bom",
        ],
        &[],
    );
    assert_eq!(code(&out), 3, "{}", text(&out));
    assert!(std::fs::read(dir.join("s/findings.csv"))
        .unwrap()
        .starts_with(b"\xEF\xBB\xBFscan_id,"));
    let ok = residual(dir, &["verify", "s", "--pubkey", "a.pub"], &[]);
    assert_eq!(code(&ok), 0, "{}", text(&ok));
    let wrong = residual(dir, &["verify", "s", "--pubkey", "b.pub"], &[]);
    assert_eq!(code(&wrong), 1);
    assert!(String::from_utf8_lossy(&wrong.stdout).contains("bad signature"));
    // A plan that will be applied can demand the signature: the right key plans (exit 3:
    // the demo has an unreadable instance), the wrong one is refused before anything.
    let p = residual(
        dir,
        &["plan", "s", "--pubkey", "a.pub", "--out", "p-ok"],
        &[],
    );
    assert_eq!(code(&p), 3, "{}", text(&p));
    assert!(dir.join("p-ok/plan.sh").is_file());
    let p = residual(
        dir,
        &["plan", "s", "--pubkey", "b.pub", "--out", "p-bad"],
        &[],
    );
    assert_eq!(code(&p), 2, "{}", text(&p));
    assert!(text(&p).contains("does not verify"), "{}", text(&p));
    assert!(!dir.join("p-bad").exists());
    // Rewrite the manifest (say, to hide a file): the hashes could be recomputed, the
    // signature cannot.
    let m = std::fs::read_to_string(dir.join("s/manifest.json"))
        .unwrap()
        .replace("\"report_complete\": true", "\"report_complete\": true ");
    std::fs::write(dir.join("s/manifest.json"), m).unwrap();
    let tampered = residual(dir, &["verify", "s", "--pubkey", "a.pub"], &[]);
    assert_eq!(code(&tampered), 1);
    assert!(String::from_utf8_lossy(&tampered.stdout).contains("manifest.sig: bad signature"));
    // A bad key file is an input error before anything runs.
    std::fs::write(dir.join("junk.pem"), "not a key").unwrap();
    let bad = residual(
        dir,
        &[
            "scan",
            "--leavers",
            "l.csv",
            "--snapshot",
            "demo/snapshot.json",
            "--out",
            "t",
            "--sign-key",
            "junk.pem",
        ],
        &[],
    );
    assert_eq!(code(&bad), 2);
    assert!(!dir.join("t").exists());
}

/// `reports/example/` is the demo's report, kept in the repo for readers and auditors. It is
/// regenerated here and must not drift; `UPDATE_EXAMPLE=1` rewrites it. `manifest.json` holds
/// the run's finish time and command line, so it is compared for its file hashes only.
#[test]
fn example_report_is_the_demo_and_does_not_drift() {
    let example = crate::harness::repo().join("reports/example");
    let work = tempfile::tempdir().unwrap();
    let fresh = work.path().join("example");
    let out = residual(
        work.path(),
        &["demo", "--out", fresh.to_str().unwrap()],
        &[],
    );
    assert_eq!(code(&out), 0, "{}", text(&out));
    if std::env::var_os("UPDATE_EXAMPLE").is_some() {
        let _ = std::fs::remove_dir_all(&example);
        std::fs::create_dir_all(&example).unwrap();
        for e in std::fs::read_dir(&fresh).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), example.join(e.file_name())).unwrap();
        }
    }
    let names = |d: &std::path::Path| -> std::collections::BTreeSet<String> {
        std::fs::read_dir(d)
            .unwrap_or_else(|e| panic!("{}: {e} (run with UPDATE_EXAMPLE=1)", d.display()))
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .collect()
    };
    assert_eq!(
        names(&example),
        names(&fresh),
        "reports/example has other files than the demo writes"
    );
    // The build's git commit is a property of the binary, not of the demo: each side's own
    // commit (from its manifest) is blanked before comparing.
    let commit = |d: &std::path::Path| -> String {
        let m: serde_json::Value =
            serde_json::from_slice(&std::fs::read(d.join("manifest.json")).unwrap()).unwrap();
        m["tool"]["git_commit"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    let normalized = |d: &std::path::Path, name: &str| -> Vec<u8> {
        let bytes = std::fs::read(d.join(name)).unwrap();
        let c = commit(d);
        match String::from_utf8(bytes) {
            Ok(t) if !c.is_empty() => t.replace(&c, "<commit>").into_bytes(),
            Ok(t) => t.into_bytes(),
            Err(e) => e.into_bytes(),
        }
    };
    for name in names(&fresh) {
        if name == "manifest.json" {
            continue;
        }
        assert!(
            normalized(&example, &name) == normalized(&fresh, &name),
            "reports/example/{name} drifted from the demo: run UPDATE_EXAMPLE=1 cargo nextest run -E 'test(example_report)'"
        );
    }
    let v = residual(work.path(), &["verify", example.to_str().unwrap()], &[]);
    assert_eq!(code(&v), 0, "{}", text(&v));
}

/// Regression: `residual checks | head -1` panicked with "failed printing to stdout: Broken
/// pipe". A closed reader must end the process quietly.
#[test]
fn broken_pipe_does_not_panic() {
    let bin = env!("CARGO_BIN_EXE_residual");
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("'{bin}' checks | head -1 >/dev/null; '{bin}' demo --out \"$(mktemp -d)/d\" | head -1 >/dev/null"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !err.contains("panicked") && !err.contains("Broken pipe"),
        "{err}"
    );
}

/// docs/checks.md: check metadata is data users may override (`--checks FILE`); the overrides file is
/// recorded in the manifest, an unknown id or a dropped mandatory control is exit 2.
#[test]
fn check_metadata_can_be_overridden_and_is_recorded() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    demo_snapshot(dir);
    std::fs::write(
        dir.join("l2.csv"),
        "email,departure_date\ncarol@demo.example,2026-09-30\n",
    )
    .unwrap();
    std::fs::write(dir.join("o.toml"), "[[check]]\nid = \"aws_iam_user_not_removed\"\nseverity = \"medium\"\ntitle = \"Dormant IAM user of a leaver (our policy: medium)\"\n").unwrap();
    let run = |out: &str, file: &str| {
        residual(
            dir,
            &[
                "scan",
                "--leavers",
                "l2.csv",
                "--snapshot",
                "demo/snapshot.json",
                "--as-of",
                "2026-11-26",
                "--out",
                out,
                "--checks",
                file,
            ],
            &[],
        )
    };
    let out = run("o", "o.toml");
    assert_eq!(code(&out), 3, "{}", text(&out));
    let f = crate::harness::csv_rows(&dir.join("o/findings.csv"))
        .into_iter()
        .find(|f| f["check_id"] == "aws_iam_user_not_removed")
        .unwrap();
    assert_eq!(f["severity"], "medium");
    assert!(f["title"].contains("our policy"));
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("o/manifest.json")).unwrap()).unwrap();
    assert_eq!(m["checks_override"]["file"], "o.toml");
    assert_eq!(m["checks_override"]["sha256"].as_str().unwrap().len(), 64);
    let listed = residual(dir, &["checks", "--json", "--checks", "o.toml"], &[]);
    assert!(String::from_utf8_lossy(&listed.stdout).contains("our policy"));
    std::fs::write(
        dir.join("bad-id.toml"),
        "[[check]]\nid = \"aws_nope\"\nseverity = \"low\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("bad-ctl.toml"),
        "[[check]]\nid = \"aws_iam_user_not_removed\"\nowasp_nhi = [\"NHI7:2025\"]\n",
    )
    .unwrap();
    for (file, words) in [
        ("bad-id.toml", "no check \"aws_nope\""),
        ("bad-ctl.toml", "NHI1:2025"),
    ] {
        let out = run(&format!("r-{file}"), file);
        assert_eq!(code(&out), 2, "{file}\n{}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(words),
            "{file}: {}",
            text(&out)
        );
    }
}
