//! Issue 10's regressions: hostile estate values planted into a copy of the demo's
//! `snapshot.json` and replayed with `scan --snapshot`, report folders that cannot be turned
//! against their readers, `verify` that proves what it says, and coverage that never reads
//! clean when the scan could not tell.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{json, Value};

use crate::harness::{all_output, code, csv_rows, residual, text};

const AS_OF: &str = "2026-11-26T00:00:00Z";

fn demo_snapshot(dir: &Path) -> Value {
    assert_eq!(code(&residual(dir, &["demo", "--out", "demo"], &[])), 0);
    std::fs::write(dir.join("l.csv"), residual::demo::LEAVERS_CSV).unwrap();
    serde_json::from_slice(&std::fs::read(dir.join("demo/snapshot.json")).unwrap()).unwrap()
}

fn replay(dir: &Path, snapshot: &str, leavers: &str, out: &str) -> std::process::Output {
    residual(
        dir,
        &[
            "scan",
            "--leavers",
            leavers,
            "--snapshot",
            snapshot,
            "--as-of",
            AS_OF,
            "--out",
            out,
        ],
        &[],
    )
}

/// The secret shapes every output must mask: (what to plant, what must never appear).
const CANARIES: &[(&str, &str)] = &[
    (
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYCANARYKEY0",
        "bPxRfiCYCANARYKEY0",
    ),
    (
        "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789",
        "aBcDeFgHiJkLmNoPqRsTuVwXyZ",
    ),
    (
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJjYW5hcnkifQ.c2lnbmF0dXJlX2NhbmFyeQ",
        "eyJzdWIiOiJjYW5hcnkifQ",
    ),
    (
        "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----",
        "MIIEvQIBADANBgkqhkiG9w0",
    ),
    (
        "xoxb-123456789012-abcdefghijklmnopqrstuvwx",
        "abcdefghijklmnopqrstuvwx",
    ),
    ("sk_live_51HqLyjWDarjtT1zdp7dcXCanary", "51HqLyjWDarjtT1zdp7dcX"),
    ("glpat-CanaryCanaryCanary12345", "CanaryCanaryCanary12345"),
    ("AIzaSyCanaryCanaryCanaryCanary1234567", "SyCanaryCanaryCanary"),
    (
        "https://svc:CanaryUrlPassword99@db.example/x",
        "CanaryUrlPassword99",
    ),
    (
        "Zq3-vT9kLmW2xR7_pQ4sN8yB1cD6fG0hJ5aE",
        "vT9kLmW2xR7_pQ4sN8yB1cD6fG0hJ5aE",
    ),
];

const MARKUP: &str = "<img src=x onerror=alert(1)>";
const SHELL: &str = "payments/$(touch /tmp/residual-pwned)";
const TERMINAL: &str = "x\u{1b}]0;pwned\u{7}\u{1b}[2J\rclean";

fn system<'a>(snap: &'a mut Value, name: &str) -> &'a mut Value {
    snap["systems"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|s| s["system"] == name && s["status"]["state"] == "complete")
        .unwrap()
}

/// Every canary and hostile value, planted where it reaches findings, evidence, notes and
/// gaps; the result is still a valid snapshot of the same estate.
fn plant(snap: &mut Value) {
    let all: Vec<&str> = CANARIES.iter().map(|(c, _)| *c).collect();
    let aws = system(snap, "aws");
    let alice = &mut aws["accounts"][0];
    assert_eq!(alice["name"], "alice");
    for (i, c) in alice["credentials"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .enumerate()
    {
        c["attributes"]["note"] = json!(format!("{} {TERMINAL}", all.join(" ")));
        if i == 1 {
            // Her access key (a critical finding: summary.md lists it).
            c["id"] = json!(format!("AKIA{MARKUP}"));
        }
    }
    aws["notes"].as_array_mut().unwrap().push(json!(format!(
        "line\nAbcdefghijklmnopqrstuvwxyz0123456789XYZ {}",
        all.join(" ")
    )));
    aws["assets"][0]["name"] = json!(format!("deploy-role {TERMINAL} {MARKUP}"));
    let vault = system(snap, "vault");
    vault["assets"][0]["id"] = json!(format!("secret/{SHELL}"));
    vault["assets"][0]["name"] = json!(SHELL);
    vault["gaps"] = json!([{"what": format!("a gap {}", all.join(" ")), "checks": ["vault_token_valid"],
        "effect": "blocks", "error": {"Unexpected": format!("{} \n{TERMINAL}", all.join(" "))}}]);
}

#[test]
fn hostile_estate_values_reach_no_output_raw_and_every_file_stays_valid() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let mut snap = demo_snapshot(dir);
    std::fs::write(dir.join("clean.json"), snap.to_string()).unwrap();
    plant(&mut snap);
    std::fs::write(dir.join("hostile.json"), snap.to_string()).unwrap();

    let clean = replay(dir, "clean.json", "l.csv", "r0");
    let out = replay(dir, "hostile.json", "l.csv", "r");
    assert_eq!(code(&out), 3, "{}", text(&out));
    let r = dir.join("r");
    let everything = all_output(&out, &r);
    for (planted, secret) in CANARIES {
        assert!(
            !everything.contains(secret),
            "a canary ({planted}) reached an output"
        );
    }
    // Every JSON file still parses and has everything in it (a PEM header no longer masks
    // the rest of the document; no invalid `\[REDACTED]` escape).
    for f in [
        "findings.json",
        "findings.ocsf.json",
        "manifest.json",
        "snapshot.json",
    ] {
        let v: Value = serde_json::from_slice(&std::fs::read(r.join(f)).unwrap())
            .unwrap_or_else(|e| panic!("{f} is not JSON: {e}"));
        assert!(!v.is_null(), "{f}");
    }
    let count = |d: &str| csv_rows(&dir.join(d).join("findings.csv")).len();
    assert_eq!(count("r"), count("r0"), "{}", text(&clean));
    let findings: Value =
        serde_json::from_slice(&std::fs::read(r.join("findings.json")).unwrap()).unwrap();
    assert_eq!(findings["findings"].as_array().unwrap().len(), count("r0"));

    // Markup is escaped where it is rendered; terminal escapes are visible, not obeyed.
    for f in ["summary.md", "report.html"] {
        let t = std::fs::read_to_string(r.join(f)).unwrap();
        assert!(!t.contains("<img"), "{f} carries raw markup");
        assert!(
            !t.contains('\u{1b}') && !t.contains('\u{7}'),
            "{f} carries control characters"
        );
    }
    let md = std::fs::read_to_string(r.join("summary.md")).unwrap();
    assert!(
        md.contains("&lt;img"),
        "summary.md should show the value, escaped"
    );
    let stdio = text(&out);
    assert!(
        !stdio.contains('\u{1b}'),
        "stdout/stderr carry an escape sequence"
    );

    // The remediation command quotes the KV path: pasted, it stays a path.
    let kv = csv_rows(&r.join("findings.csv"))
        .into_iter()
        .find(|f| f["check_id"] == "vault_kv_secret_not_rotated")
        .expect("the KV finding");
    assert!(
        kv["remediation"].contains(
            "bao kv patch 'secret/payments/$(touch /tmp/residual-pwned)' KEY=\"$NEW_VALUE\""
        ),
        "{}",
        kv["remediation"]
    );

    // A replay of the redacted snapshot gives the same findings: redaction happened before
    // evaluation, not only on the way out.
    let again = replay(dir, "r/snapshot.json", "l.csv", "r2");
    assert_eq!(code(&again), 3, "{}", text(&again));
    assert_eq!(
        std::fs::read(dir.join("r/findings.csv")).unwrap(),
        std::fs::read(dir.join("r2/findings.csv")).unwrap()
    );
    let v = residual(dir, &["verify", "r"], &[]);
    assert_eq!(code(&v), 0, "{}", text(&v));
}

/// An email-only HR export cannot identify GitHub members without SAML: that is
/// `unverified` (exit 3) with the fix, in every output — not `no_account`.
#[test]
fn a_leaver_the_system_cannot_identify_is_unverified_not_no_account() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    demo_snapshot(dir);
    std::fs::write(
        dir.join("plain.csv"),
        "email,departure_date\nalice@demo.example,2026-11-01\n",
    )
    .unwrap();
    let out = replay(dir, "demo/snapshot.json", "plain.csv", "r");
    assert_eq!(code(&out), 3, "{}", text(&out));
    let cov: BTreeMap<String, (String, String)> = csv_rows(&dir.join("r/coverage.csv"))
        .into_iter()
        .map(|c| {
            (
                c["system_instance"].clone(),
                (c["outcome"].clone(), c["detail"].clone()),
            )
        })
        .collect();
    let (outcome, detail) = &cov["demo-org"];
    assert_eq!(outcome, "unverified", "{detail}");
    assert!(
        detail.contains("github_login") && detail.contains("SAML"),
        "{detail}"
    );
    // Salesforce records emails: there she is identifiable, and has no account.
    assert_eq!(cov["demo.my.salesforce.com"].0, "no_account");
    let json: Value =
        serde_json::from_slice(&std::fs::read(dir.join("r/findings.json")).unwrap()).unwrap();
    assert!(json["coverage"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["outcome"] == "unverified"));
    let html = std::fs::read_to_string(dir.join("r/report.html")).unwrap();
    assert!(html.contains("INCOMPLETE SCAN") && html.contains("unverified"));
    let md = std::fs::read_to_string(dir.join("r/summary.md")).unwrap();
    assert!(md.contains("**unverified**"), "{md}");
}

/// No row is `no_account` with open findings: owning a machine identity or a readable secret
/// is residual access.
#[test]
fn open_findings_are_never_no_account() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    demo_snapshot(dir);
    let rows = csv_rows(&dir.join("demo/coverage.csv"));
    for r in &rows {
        if r["outcome"] == "no_account" {
            assert_eq!(r["open_findings"], "0", "{r:?}");
        }
    }
    let dave = rows
        .iter()
        .find(|r| r["leaver_email"] == "dave@demo.example" && r["system"] == "aws")
        .unwrap();
    assert_eq!(dave["outcome"], "residual", "{dave:?}");
}

/// `finding_id` and the baseline's keys include the system: an error in one system's
/// instance cannot make another system's findings under the same label `resolved`; and a
/// leaver whose departure moved later is `unverified`, not `resolved`.
#[test]
fn baselines_never_resolve_what_was_not_checked() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let mut snap = demo_snapshot(dir);
    // Give the SCIM app the AWS account's label.
    system(&mut snap, "scim")["instance"] = json!("demo-prod");
    std::fs::write(dir.join("a.json"), snap.to_string()).unwrap();
    assert_eq!(code(&replay(dir, "a.json", "l.csv", "base")), 3);
    // Now the AWS account cannot be read; the SCIM app (same label) still can.
    let aws = system(&mut snap, "aws");
    *aws = json!({"system": "aws", "instance": "demo-prod", "status": {"state": "failed", "error": {"Timeout": "no answer"}}});
    std::fs::write(dir.join("b.json"), snap.to_string()).unwrap();
    let out = residual(
        dir,
        &[
            "scan",
            "--leavers",
            "l.csv",
            "--snapshot",
            "b.json",
            "--as-of",
            AS_OF,
            "--out",
            "next",
            "--baseline",
            "base",
        ],
        &[],
    );
    assert_eq!(code(&out), 3, "{}", text(&out));
    let f: Value =
        serde_json::from_slice(&std::fs::read(dir.join("next/findings.json")).unwrap()).unwrap();
    let resolved = f["resolved"].as_array().cloned().unwrap_or_default();
    assert!(
        resolved.iter().all(|x| x["system"] != "aws"),
        "an unreadable AWS account resolved findings: {resolved:?}"
    );
    assert!(f["unverified"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["system"] == "aws"));

    // Alice's departure moves into the future: her findings are unverified, not resolved.
    let later = residual::demo::LEAVERS_CSV.replace(
        "alice@demo.example,2026-11-01",
        "alice@demo.example,2027-01-01",
    );
    std::fs::write(dir.join("later.csv"), later).unwrap();
    let out = residual(
        dir,
        &[
            "scan",
            "--leavers",
            "later.csv",
            "--snapshot",
            "a.json",
            "--as-of",
            AS_OF,
            "--out",
            "moved",
            "--baseline",
            "base",
        ],
        &[],
    );
    assert!(matches!(code(&out), 1 | 3), "{}", text(&out));
    let f: Value =
        serde_json::from_slice(&std::fs::read(dir.join("moved/findings.json")).unwrap()).unwrap();
    let of_alice = |k: &str| {
        f[k].as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|x| x["leaver_email"] == "alice@demo.example")
            .count()
    };
    assert_eq!(of_alice("resolved"), 0);
    assert!(of_alice("unverified") > 0);
}

/// A listener that counts the connections made to it: "before any request" made testable.
struct Tripwire {
    port: u16,
    hits: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl Tripwire {
    fn new() -> Tripwire {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let h = hits.clone();
        std::thread::spawn(move || {
            for c in l.incoming() {
                h.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                drop(c);
            }
        });
        Tripwire { port, hits }
    }
    fn hits(&self) -> usize {
        self.hits.load(std::sync::atomic::Ordering::SeqCst)
    }
}

#[test]
fn bad_out_folders_and_missing_configs_are_refused_before_any_request() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let wire = Tripwire::new();
    std::fs::write(
        dir.join("l.csv"),
        "email,departure_date\na@acme.example,2026-11-01\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("residual.toml"),
        format!("[[scim]]\nname = \"app\"\nbase_url = \"http://127.0.0.1:{}/scim\"\ntoken_env = \"T\"\n", wire.port),
    )
    .unwrap();
    std::fs::create_dir(dir.join("full")).unwrap();
    std::fs::write(dir.join("full/x"), "x").unwrap();
    std::fs::write(dir.join("a-file"), "x").unwrap();
    std::fs::create_dir(dir.join("locked")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.join("locked"), std::fs::Permissions::from_mode(0o500))
            .unwrap();
    }
    let root = unsafe { libc::geteuid() } == 0;
    let mut cases = vec![("full", "not empty"), ("a-file", "is a file")];
    if !root {
        cases.push(("locked/r", "cannot create"));
    }
    for (out, why) in cases {
        let o = residual(
            dir,
            &["scan", "--leavers", "l.csv", "--out", out],
            &[("T", "tok-123456")],
        );
        assert_eq!(code(&o), 2, "{out}: {}", text(&o));
        assert!(
            String::from_utf8_lossy(&o.stderr).contains(why),
            "{out}: {}",
            text(&o)
        );
    }
    std::fs::write(dir.join("snap.json"), "{}").unwrap();
    let o = residual(
        dir,
        &[
            "collect",
            "--config",
            "residual.toml",
            "--leavers",
            "l.csv",
            "--out",
            "snap.json",
        ],
        &[("T", "tok-123456")],
    );
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert_eq!(
        wire.hits(),
        0,
        "a request was sent before the output was checked"
    );

    // No config at all: named as missing.
    std::fs::remove_file(dir.join("residual.toml")).unwrap();
    let o = residual(dir, &["scan", "--leavers", "l.csv", "--out", "r"], &[]);
    assert_eq!(code(&o), 2);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("no config: residual.toml not found"),
        "{}",
        text(&o)
    );
    assert!(!dir.join("r").exists(), "an empty folder was left behind");
}

#[cfg(unix)]
#[test]
fn report_folders_are_private_and_a_planted_symlink_is_never_followed() {
    use std::os::unix::fs::PermissionsExt;
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    demo_snapshot(dir);
    // Under umask 000 the folder and files would be world-readable if the tool followed it.
    let bin = env!("CARGO_BIN_EXE_residual");
    let o = std::process::Command::new("sh")
        .current_dir(dir)
        .arg("-c")
        .arg(format!("umask 000; exec '{bin}' scan --leavers l.csv --snapshot demo/snapshot.json --as-of {AS_OF} --out r"))
        .output()
        .unwrap();
    assert_eq!(code(&o), 3, "{}", text(&o));
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir.join("r")), 0o700);
    for e in std::fs::read_dir(dir.join("r")).unwrap() {
        let p = e.unwrap().path();
        assert_eq!(mode(&p), 0o600, "{}", p.display());
    }

    // A symlink planted where the tool writes its temp file: refused (exit 4), the target
    // untouched, no manifest, and `verify` does not accept the folder.
    std::fs::create_dir(dir.join("trap")).unwrap();
    std::fs::write(dir.join("victim"), "precious").unwrap();
    std::os::unix::fs::symlink(dir.join("victim"), dir.join("trap/.findings.csv.tmp")).unwrap();
    let o = residual(
        dir,
        &[
            "scan",
            "--leavers",
            "l.csv",
            "--snapshot",
            "demo/snapshot.json",
            "--as-of",
            AS_OF,
            "--out",
            "trap",
        ],
        &[],
    );
    // The folder is not empty (the planted link is in it): refused before anything is written.
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert_eq!(
        std::fs::read_to_string(dir.join("victim")).unwrap(),
        "precious"
    );
    assert!(!dir.join("trap/manifest.json").exists());
}

#[cfg(unix)]
#[test]
fn a_report_that_cannot_be_written_exits_4_and_leaves_nothing_verify_accepts() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    demo_snapshot(dir);
    // A file-size limit the report files exceed (as a full disk would refuse them); the
    // signal is ignored so the write fails with an error instead of killing the process.
    let bin = env!("CARGO_BIN_EXE_residual");
    let o = std::process::Command::new("sh")
        .current_dir(dir)
        .arg("-c")
        .arg(format!("trap '' XFSZ; ulimit -f 1; exec '{bin}' scan --leavers l.csv --snapshot demo/snapshot.json --as-of {AS_OF} --out r"))
        .output()
        .unwrap();
    assert_eq!(code(&o), 4, "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("cannot write the report") && err.contains(".tmp"),
        "{err}"
    );
    // The folder is gone (it held nothing once the temp file was removed), or holds no temp
    // file and no manifest.
    if let Ok(entries) = std::fs::read_dir(dir.join("r")) {
        let left: Vec<String> = entries
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .collect();
        assert!(
            left.iter().all(|n| !n.ends_with(".tmp")),
            "temp files left: {left:?}"
        );
        assert!(!left.contains(&"manifest.json".to_string()));
    }
    let v = residual(dir, &["verify", "r"], &[]);
    assert_ne!(code(&v), 0, "{}", text(&v));
}

/// `verify` proves what it says, and says what it did not prove.
#[test]
fn verify_refuses_symlinks_lists_implied_files_and_names_unchecked_signatures() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    demo_snapshot(dir);
    let key = dir.join("k.pem");
    let pubkey = dir.join("k.pub");
    let gen = "import sys\nfrom cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey\nfrom cryptography.hazmat.primitives import serialization as s\nk = Ed25519PrivateKey.generate()\nopen(sys.argv[1], 'wb').write(k.private_bytes(s.Encoding.PEM, s.PrivateFormat.PKCS8, s.NoEncryption()))\nopen(sys.argv[2], 'wb').write(k.public_key().public_bytes(s.Encoding.PEM, s.PublicFormat.SubjectPublicKeyInfo))\n";
    let o = std::process::Command::new(crate::harness::python())
        .args(["-c", gen])
        .arg(&key)
        .arg(&pubkey)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let scan = |out: &str| {
        let o = residual(
            dir,
            &[
                "scan",
                "--leavers",
                "l.csv",
                "--snapshot",
                "demo/snapshot.json",
                "--as-of",
                AS_OF,
                "--out",
                out,
                "--sign-key",
                key.to_str().unwrap(),
            ],
            &[],
        );
        assert_eq!(code(&o), 3, "{}", text(&o));
        dir.join(out)
    };
    let verify = |d: &Path, extra: &[&str]| {
        let mut args = vec!["verify", d.to_str().unwrap()];
        args.extend_from_slice(extra);
        residual(dir, &args, &[])
    };
    let rehash = |d: &Path, f: &str| {
        let mut m: Value =
            serde_json::from_slice(&std::fs::read(d.join("manifest.json")).unwrap()).unwrap();
        let bytes = std::fs::read(d.join(f)).unwrap();
        m["files"][f] = json!(hex_sha256(&bytes));
        std::fs::write(
            d.join("manifest.json"),
            serde_json::to_vec_pretty(&m).unwrap(),
        )
        .unwrap();
    };

    // Rewritten consistently: without a key it is "intact" but says the signature went
    // unchecked; --require-signature and --pubkey both fail it.
    let a = scan("a");
    std::fs::write(a.join("summary.md"), "all clean\n").unwrap();
    rehash(&a, "summary.md");
    let o = verify(&a, &[]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("not checked"),
        "{}",
        text(&o)
    );
    assert_eq!(code(&verify(&a, &["--require-signature"])), 1);
    assert_eq!(
        code(&verify(&a, &["--pubkey", pubkey.to_str().unwrap()])),
        1
    );

    // The signature deleted: the manifest says it was signed.
    let b = scan("b");
    std::fs::remove_file(b.join("manifest.sig")).unwrap();
    let o = verify(&b, &[]);
    assert_eq!(code(&o), 1, "{}", text(&o));

    // A manifest that lists no files, or misses one its formats imply.
    let c = scan("c");
    let mut m: Value =
        serde_json::from_slice(&std::fs::read(c.join("manifest.json")).unwrap()).unwrap();
    m["files"] = json!({});
    std::fs::write(c.join("manifest.json"), serde_json::to_vec(&m).unwrap()).unwrap();
    for f in std::fs::read_dir(&c).unwrap() {
        let p = f.unwrap().path();
        if p.file_name().unwrap() != "manifest.json" {
            std::fs::remove_file(p).unwrap();
        }
    }
    let o = verify(&c, &[]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("lists no files"),
        "{}",
        text(&o)
    );

    #[cfg(unix)]
    {
        // A file, the manifest, or the folder replaced by a symlink.
        let d = scan("d");
        let real = dir.join("elsewhere.csv");
        std::fs::rename(d.join("findings.csv"), &real).unwrap();
        std::os::unix::fs::symlink(&real, d.join("findings.csv")).unwrap();
        let o = verify(&d, &[]);
        assert_eq!(code(&o), 1, "{}", text(&o));
        assert!(String::from_utf8_lossy(&o.stdout).contains("symbolic link"));
        let e = scan("e");
        std::os::unix::fs::symlink(&e, dir.join("e-link")).unwrap();
        assert_eq!(code(&verify(&dir.join("e-link"), &[])), 1);
        let f = scan("f");
        std::fs::rename(f.join("manifest.json"), dir.join("m.json")).unwrap();
        std::os::unix::fs::symlink(dir.join("m.json"), f.join("manifest.json")).unwrap();
        assert_eq!(code(&verify(&f, &[])), 1);

        // A file whose name is a terminal escape cannot make the output look intact.
        let g = scan("g");
        std::fs::write(g.join("x\u{1b}[2J\rvfy1: intact"), "x").unwrap();
        let o = verify(&g, &[]);
        assert_eq!(code(&o), 1);
        assert!(
            !String::from_utf8_lossy(&o.stdout).contains('\u{1b}'),
            "{}",
            text(&o)
        );
    }
    // The manifest names both facts apart.
    let m: Value =
        serde_json::from_slice(&std::fs::read(dir.join("a/manifest.json")).unwrap()).unwrap();
    assert_eq!(m["report_complete"], true);
    assert_eq!(m["scan_complete"], false);
}

fn hex_sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// A failed read that decides an escalation (Salesforce permission sets: "privileged") is a
/// gap on that check: the finding is raised to critical with the reason, the coverage says
/// so, and the scan is incomplete — never a quietly lower severity.
#[test]
fn a_severity_gap_raises_the_finding_and_makes_the_scan_incomplete() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let mut snap = demo_snapshot(dir);
    system(&mut snap, "salesforce")["gaps"] = json!([{"what": "PermissionSetAssignment (admin power)",
        "checks": ["salesforce_user_active"], "effect": "severity",
        "error": {"Permission": "PermissionSetAssignment: HTTP 403"}}]);
    std::fs::write(dir.join("s.json"), snap.to_string()).unwrap();
    let out = replay(dir, "s.json", "l.csv", "r");
    assert_eq!(code(&out), 3, "{}", text(&out));
    let gina = csv_rows(&dir.join("r/findings.csv"))
        .into_iter()
        .find(|f| {
            f["check_id"] == "salesforce_user_active" && f["leaver_email"] == "gina@demo.example"
        })
        .expect("gina's active Salesforce user");
    assert_eq!(gina["severity"], "critical");
    assert!(
        gina["evidence"].contains("severity assumed critical"),
        "{}",
        gina["evidence"]
    );
    let row = csv_rows(&dir.join("r/coverage.csv"))
        .into_iter()
        .find(|c| c["system"] == "salesforce" && c["leaver_email"] == "gina@demo.example")
        .unwrap();
    assert!(
        row["detail"].contains("severity not fully checked"),
        "{row:?}"
    );
    // Without the gap the same finding is high (the demo's own severity).
    let plain = csv_rows(&dir.join("demo/findings.csv"))
        .into_iter()
        .find(|f| {
            f["check_id"] == "salesforce_user_active" && f["leaver_email"] == "gina@demo.example"
        })
        .unwrap();
    assert_eq!(plain["severity"], "high");
}

/// `residual plan` over a report whose estate holds hostile names: one step per open
/// finding, critical first, a `plan.sh` that passes `bash -n` and shellcheck and, run
/// without `--apply`, prints exactly the commands and runs nothing.
#[test]
fn plan_from_a_hostile_report_is_complete_quoted_and_inert() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let mut snap = demo_snapshot(dir);
    plant(&mut snap);
    let aws = system(&mut snap, "aws");
    aws["accounts"][0]["name"] = json!("--alice'\"$(touch PWNED)`touch PWNED2`\nnext; rm -rf x");
    std::fs::write(dir.join("hostile.json"), snap.to_string()).unwrap();
    let out = replay(dir, "hostile.json", "l.csv", "r");
    assert_eq!(code(&out), 3, "{}", text(&out));
    let p = residual(dir, &["plan", "r", "--out", "p"], &[]);
    // The report is incomplete (a gap, an unreadable instance): the plan says so, exit 3.
    assert_eq!(code(&p), 3, "{}", text(&p));
    assert!(
        text(&p).contains("INCOMPLETE")
            && std::fs::read_to_string(dir.join("p/plan.md"))
                .unwrap()
                .contains("## Not checked")
    );
    assert!(text(&p).contains("bash 'p/plan.sh'"), "{}", text(&p));

    let findings: Value =
        serde_json::from_slice(&std::fs::read(dir.join("r/findings.json")).unwrap()).unwrap();
    let open: Vec<&str> = findings["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["status"] == "open")
        .map(|f| f["finding_id"].as_str().unwrap())
        .collect();
    let plan: Value =
        serde_json::from_slice(&std::fs::read(dir.join("p/plan.json")).unwrap()).unwrap();
    let steps = plan["steps"].as_array().unwrap();
    let mut ids: Vec<&str> = steps
        .iter()
        .map(|s| s["finding_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), open.len(), "one step per open finding");
    ids.sort_unstable();
    ids.dedup();
    let mut want = open.clone();
    want.sort_unstable();
    assert_eq!(ids, want);
    let rank = |s: &Value| match s["severity"].as_str().unwrap() {
        "critical" => 0,
        "high" => 1,
        "medium" => 2,
        _ => 3,
    };
    assert!(
        steps.windows(2).all(|w| rank(&w[0]) <= rank(&w[1])),
        "critical first"
    );
    // The access key: deactivated, then deleted.
    let key = steps
        .iter()
        .find(|s| s["check_id"] == "aws_iam_access_key_active")
        .unwrap();
    let cmds: Vec<&str> = key["commands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert!(
        cmds[0].contains("update-access-key") && cmds[1].contains("delete-access-key"),
        "{cmds:?}"
    );
    assert!(steps.iter().any(|s| s["action"] == "rotate"));

    let sh = dir.join("p/plan.sh");
    let n = std::process::Command::new("bash")
        .arg("-n")
        .arg(&sh)
        .output()
        .unwrap();
    assert!(
        n.status.success(),
        "bash -n: {}",
        String::from_utf8_lossy(&n.stderr)
    );
    let sc = std::process::Command::new("shellcheck")
        .arg(&sh)
        .output()
        .unwrap_or_else(|e| panic!("shellcheck is needed for this test (apt-get install shellcheck; scripts/test installs it as root): {e}"));
    assert!(
        sc.status.success(),
        "shellcheck:\n{}",
        String::from_utf8_lossy(&sc.stdout)
    );
    let run = std::process::Command::new("bash")
        .arg(&sh)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let printed = String::from_utf8_lossy(&run.stdout);
    for s in steps {
        for c in s["commands"].as_array().unwrap() {
            let c = residual_probe::text::printable(c.as_str().unwrap()).into_owned();
            assert!(
                printed.lines().any(|l| l == c),
                "not printed as is: {c}\n{printed}"
            );
        }
    }
    assert!(!dir.join("PWNED").exists() && !dir.join("PWNED2").exists());
    assert!(!Path::new("/tmp/residual-pwned").exists());
    let md = std::fs::read_to_string(dir.join("p/plan.md")).unwrap();
    // Outside code blocks markup is escaped; nothing anywhere drives a terminal.
    assert!(!md.contains('\u{1b}'), "{md}");
    let mut fenced = false;
    for line in md.lines() {
        if line.starts_with("```") {
            fenced = !fenced;
        } else if !fenced {
            assert!(!line.replace("\\<img", "").contains("<img"), "{line}");
        }
    }
    assert!(md.contains("\\<img"), "{md}");
}

/// A plan is never made from a report that does not verify; a newer report marks the steps
/// it shows closed.
#[test]
fn plan_refuses_a_tampered_report_and_marks_closed_steps_done() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let mut snap = demo_snapshot(dir);
    std::fs::write(dir.join("before.json"), snap.to_string()).unwrap();
    let aws = system(&mut snap, "aws");
    aws["accounts"][0]["credentials"]
        .as_array_mut()
        .unwrap()
        .retain(|c| c["resource_type"] != "aws_iam_access_key");
    std::fs::write(dir.join("after.json"), snap.to_string()).unwrap();
    replay(dir, "before.json", "l.csv", "r0");
    replay(dir, "after.json", "l.csv", "r1");

    let p = residual(dir, &["plan", "r0", "--done", "r1", "--out", "p"], &[]);
    assert_eq!(code(&p), 3, "the demo's unreadable account\n{}", text(&p));
    let plan: Value =
        serde_json::from_slice(&std::fs::read(dir.join("p/plan.json")).unwrap()).unwrap();
    let done: Vec<&str> = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["done"] == true)
        .map(|s| s["check_id"].as_str().unwrap())
        .collect();
    assert_eq!(done, vec!["aws_iam_access_key_active"]);
    let sh = std::fs::read_to_string(dir.join("p/plan.sh")).unwrap();
    assert!(!sh.contains("update-access-key --user-name=alice"), "{sh}");
    assert!(std::fs::read_to_string(dir.join("p/plan.md"))
        .unwrap()
        .contains("[done]"));

    let f = dir.join("r0/findings.json");
    let body = std::fs::read_to_string(&f)
        .unwrap()
        .replacen("critical", "low", 1);
    std::fs::write(&f, body).unwrap();
    let p = residual(dir, &["plan", "r0", "--out", "p2"], &[]);
    assert_eq!(code(&p), 2, "{}", text(&p));
    assert!(text(&p).contains("does not verify"), "{}", text(&p));
    assert!(!dir.join("p2").exists());
}
