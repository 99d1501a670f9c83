//! Salesforce (against `tests/harness/salesforce_server.py`, which speaks the documented REST
//! shapes) and SCIM (against the real `scim2-server` behind `scim_launcher.py`): exact
//! findings, coverage, the planner's two strategies, and the fail-closed paths.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use crate::harness::{code, csv_rows, python, repo, residual, text, Peer};

const SF_TOKEN: &str = "00Dresidual!TestSessionTokenValue0000000000001";
const AS_OF: &str = "2026-11-26T12:00:00Z";

fn salesforce(extra: &[&str]) -> Peer {
    let mut args: Vec<String> = vec![
        "--scenario".into(),
        repo()
            .join("fixtures/salesforce/scenario-main.json")
            .display()
            .to_string(),
        "--token".into(),
        SF_TOKEN.into(),
        "--client-id".into(),
        "residual-cid".into(),
        "--client-secret".into(),
        "residual-client-secret-000".into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    Peer::start("salesforce_server.py", &args)
}

fn sf_leavers(dir: &Path) {
    std::fs::write(
        dir.join("leavers.csv"),
        "email,departure_date,name\njdoe@acme.example,2026-11-20,John Doe\nmaria.lopez@acme.example,2026-11-10,Maria Lopez\ntom.chen@acme.example,2026-11-05,Tom Chen\npriya.shah@acme.example,2026-10-31,Priya Shah\nkiran.patel@acme.example,2026-11-14,Kiran Patel\nsam.rivera@acme.example,2026-11-12,Sam Rivera\nnadia.quinn@acme.example,2026-11-18,Nadia Quinn\nr.okoro@acme.example,2026-09-30,Rita Okoro\n",
    )
    .unwrap();
}

fn sf_config(dir: &Path, endpoint: &str, auth: &str, scan: &str) {
    std::fs::write(dir.join("residual.toml"), format!("[scan]\n{scan}\n[[salesforce]]\ninstance_url = \"{endpoint}\"\napi_version = \"v62.0\"\n{auth}\n")).unwrap();
}

fn scan(dir: &Path, out: &str) -> std::process::Output {
    residual(
        dir,
        &[
            "scan",
            "--leavers",
            "leavers.csv",
            "--out",
            out,
            "--as-of",
            AS_OF,
        ],
        &[
            ("SF_TOKEN", SF_TOKEN),
            ("SF_CID", "residual-cid"),
            ("SF_SECRET", "residual-client-secret-000"),
            ("SCIM_TOKEN", SCIM_TOKEN),
        ],
    )
}

#[test]
fn salesforce_exact_findings_coverage_and_read_only() {
    let sf = salesforce(&["--batch-size", "3"]);
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    sf_leavers(dir);
    sf_config(dir, &sf.endpoint(), "token_env = \"SF_TOKEN\"", "");
    let out = scan(dir, "r");
    assert_eq!(code(&out), 1, "{}", text(&out));
    let got: BTreeSet<(String, String, String, String)> = csv_rows(&dir.join("r/findings.csv"))
        .into_iter()
        .map(|f| {
            (
                f["leaver_id"].replace("@acme.example", ""),
                f["check_id"].clone(),
                f["resource_name"].clone(),
                f["severity"].clone(),
            )
        })
        .collect();
    let w = |l: &str, c: &str, r: &str, s: &str| {
        (l.to_string(), c.to_string(), r.to_string(), s.to_string())
    };
    let want: BTreeSet<_> = [
        w(
            "jdoe",
            "salesforce_user_active",
            "jdoe@acme.example",
            "high",
        ),
        w(
            "jdoe",
            "salesforce_oauth_token_valid",
            "Acme Quote Sync",
            "critical",
        ),
        w(
            "jdoe",
            "salesforce_oauth_token_valid",
            "Salesforce for Outlook",
            "high",
        ),
        w(
            "maria.lopez",
            "salesforce_user_active",
            "maria.lopez@acme.example",
            "high",
        ),
        w(
            "maria.lopez",
            "salesforce_login_after_departure",
            "maria.lopez@acme.example",
            "critical",
        ),
        w(
            "tom.chen",
            "salesforce_user_active",
            "tom.chen@acme.example",
            "low",
        ),
        w(
            "kiran.patel",
            "salesforce_user_active",
            "kp_9931@acme-prod.example",
            "high",
        ),
        w(
            "sam.rivera",
            "salesforce_user_active",
            "sam.rivera@acme.example",
            "critical",
        ),
        w(
            "nadia.quinn",
            "salesforce_user_active",
            "nadia.quinn@acme.example",
            "critical",
        ),
    ]
    .into_iter()
    .collect();
    assert_eq!(got, want, "\n{}", text(&out));
    let cov: std::collections::BTreeMap<String, String> = csv_rows(&dir.join("r/coverage.csv"))
        .into_iter()
        .map(|r| {
            (
                r["leaver_id"].replace("@acme.example", ""),
                r["outcome"].clone(),
            )
        })
        .collect();
    assert_eq!(cov["priya.shah"], "deprovisioned");
    assert_eq!(
        cov["tom.chen"], "deprovisioned",
        "frozen: licence waste, no working login"
    );
    assert_eq!(cov["r.okoro"], "no_account");
    assert_eq!(cov["jdoe"], "residual");
    // Read-only and paged: only GET queries, nextRecordsUrl followed (batch size 3).
    let reqs = sf.requests();
    assert!(
        reqs.iter().all(|r| r["method"] == "GET"),
        "non-GET request sent"
    );
    assert!(
        reqs.iter()
            .any(|r| r["path"].as_str().unwrap_or("").contains("/query/")),
        "nextRecordsUrl was followed"
    );
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("r/manifest.json")).unwrap()).unwrap();
    assert!(
        manifest["systems"][0]["notes"]
            .to_string()
            .contains("Sforce-Limit-Info"),
        "{}",
        manifest["systems"][0]["notes"]
    );
    assert!(
        !text(&out).contains(SF_TOKEN)
            && !std::fs::read_to_string(dir.join("r/manifest.json"))
                .unwrap()
                .contains(SF_TOKEN)
    );
}

#[test]
fn salesforce_session_expiry_limits_and_bad_bodies_fail_closed() {
    let sf = salesforce(&[]);
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    sf_leavers(dir);
    sf_config(
        dir,
        &sf.endpoint(),
        "token_env = \"SF_TOKEN\"",
        "max_attempts = 2",
    );
    let cases = [
        (
            "expired",
            serde_json::json!([{"kind": "expire_session"}]),
            "INVALID_SESSION_ID",
        ),
        (
            "limit",
            serde_json::json!([{"kind": "exhaust_limit"}]),
            "REQUEST_LIMIT_EXCEEDED",
        ),
        (
            "5xx",
            serde_json::json!([{"path_regex": "query", "kind": "status", "status": 503}]),
            "server error",
        ),
        (
            "garbage",
            serde_json::json!([{"path_regex": "query", "kind": "garbage"}]),
            "not the expected JSON",
        ),
    ];
    for (name, rules, words) in cases {
        let (s, b) = crate::harness::http(sf.port, "POST", "/_harness/reset", "{}");
        assert_eq!(s, 200, "{b}");
        sf.faults(rules);
        let out = scan(dir, name);
        assert_eq!(code(&out), 3, "{name}\n{}", text(&out));
        for r in csv_rows(&dir.join(name).join("coverage.csv")) {
            assert_eq!(r["outcome"], "error", "{name}: {r:?}");
            assert!(r["detail"].contains(words), "{name}: {r:?}");
        }
    }
    // With the client-credentials flow, an expired session is renewed and the scan completes.
    crate::harness::http(sf.port, "POST", "/_harness/reset", "{}");
    sf_config(
        dir,
        &sf.endpoint(),
        "client_id_env = \"SF_CID\"\nclient_secret_env = \"SF_SECRET\"",
        "",
    );
    sf.faults(serde_json::json!([{"kind": "expire_session", "times": 1}]));
    let out = scan(dir, "renewed");
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert_eq!(csv_rows(&dir.join("renewed/findings.csv")).len(), 9);
}

const SCIM_TOKEN: &str = "scim-residual-test-bearer-token-0001";

fn scim(page: &str) -> Peer {
    let peer = Peer::start(
        "scim_launcher.py",
        &[
            "--bearer-token".into(),
            SCIM_TOKEN.into(),
            "--page-size".into(),
            page.into(),
        ],
    );
    let out = Command::new(python())
        .arg(repo().join("tests/harness/seed_scim.py"))
        .args([
            "--base",
            &format!("{}/v2", peer.endpoint()),
            "--token",
            SCIM_TOKEN,
            "--scenario",
            "main",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "seeding scim2-server failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    peer
}

fn scim_setup(dir: &Path, peer: &Peer) {
    std::fs::write(dir.join("leavers.csv"), "email,departure_date,employee_id\nalice@acme.example,2026-11-20,\nbob@acme.example,2026-11-20,\ncarol@acme.example,2026-11-20,\ndave@acme.example,2026-11-20,E1004\nzed@acme.example,2026-11-20,\n").unwrap();
    std::fs::write(
        dir.join("residual.toml"),
        format!(
            "[[scim]]\nname = \"slack\"\nbase_url = \"{}/v2\"\ntoken_env = \"SCIM_TOKEN\"\n",
            peer.endpoint()
        ),
    )
    .unwrap();
}

fn scim_outcomes(dir: &Path, out: &str) -> std::collections::BTreeMap<String, String> {
    csv_rows(&dir.join(out).join("coverage.csv"))
        .into_iter()
        .map(|r| {
            (
                r["leaver_id"].replace("@acme.example", ""),
                r["outcome"].clone(),
            )
        })
        .collect()
}

/// Listing (20 a page: 2 more pages) and filter lookups (2 a page: 26 more pages) find the
/// same users; a server that rejects filters is listed instead.
#[test]
fn scim_both_strategies_agree_and_filters_fall_back() {
    let want: std::collections::BTreeMap<String, String> = [
        ("alice", "residual"),
        ("bob", "residual"),
        ("carol", "deprovisioned"),
        ("E1004", "residual"),
        ("zed", "no_account"),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    for (page, plan) in [
        ("20", "planner: full listing"),
        ("2", "planner: filter lookups"),
    ] {
        let peer = scim(page);
        let work = tempfile::tempdir().unwrap();
        let dir = work.path();
        scim_setup(dir, &peer);
        let seeded = peer.requests().len();
        let out = scan(dir, "r");
        assert_eq!(code(&out), 1, "{}", text(&out));
        assert_eq!(
            scim_outcomes(dir, "r"),
            want,
            "page size {page}\n{}",
            text(&out)
        );
        let manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("r/manifest.json")).unwrap()).unwrap();
        assert!(
            manifest["systems"][0]["notes"].to_string().contains(plan),
            "{}",
            manifest["systems"][0]["notes"]
        );
        assert_eq!(manifest["systems"][0]["accounts_enumerated"], 53);
        let writes: Vec<_> = peer
            .requests()
            .into_iter()
            .skip(seeded)
            .filter(|r| r["method"] != "GET")
            .collect();
        assert!(writes.is_empty(), "SCIM scan sent a write: {writes:?}");
        if page == "2" {
            peer.faults(serde_json::json!([{"kind": "reject_filter"}]));
            let out = scan(dir, "fallback");
            assert_eq!(code(&out), 1, "{}", text(&out));
            assert_eq!(scim_outcomes(dir, "fallback"), want);
            let m: serde_json::Value =
                serde_json::from_slice(&std::fs::read(dir.join("fallback/manifest.json")).unwrap())
                    .unwrap();
            assert!(m["systems"][0]["notes"]
                .to_string()
                .contains("rejected filters"));
            // Listed after all: the snapshot must not claim it only looked some users up.
            let snap: serde_json::Value =
                serde_json::from_slice(&std::fs::read(dir.join("fallback/snapshot.json")).unwrap())
                    .unwrap();
            assert!(
                snap["systems"][0].get("looked_up").is_none(),
                "{}",
                snap["systems"][0]["looked_up"]
            );
        }
    }
}

#[test]
fn scim_errors_fail_closed() {
    let peer = scim("20");
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    scim_setup(dir, &peer);
    let bad = residual(
        dir,
        &[
            "scan",
            "--leavers",
            "leavers.csv",
            "--out",
            "bad",
            "--as-of",
            AS_OF,
        ],
        &[("SCIM_TOKEN", "wrong-token-value-0000")],
    );
    assert_eq!(code(&bad), 3, "{}", text(&bad));
    assert!(csv_rows(&dir.join("bad/coverage.csv"))
        .iter()
        .all(|r| r["outcome"] == "error" && r["detail"].contains("401")));
    for (name, rules) in [
        (
            "5xx",
            serde_json::json!([{"kind": "status", "status": 502}]),
        ),
        ("garbage", serde_json::json!([{"kind": "garbage"}])),
    ] {
        peer.faults(rules);
        std::fs::write(dir.join("residual.toml"), format!("[scan]\nmax_attempts = 2\n[[scim]]\nname = \"slack\"\nbase_url = \"{}/v2\"\ntoken_env = \"SCIM_TOKEN\"\n", peer.endpoint())).unwrap();
        let out = scan(dir, name);
        assert_eq!(code(&out), 3, "{name}\n{}", text(&out));
        assert!(
            csv_rows(&dir.join(name).join("coverage.csv"))
                .iter()
                .all(|r| r["outcome"] == "error"),
            "{name}"
        );
    }
}

/// Regression (fail-open review #7): without "View All Users" Salesforce answers a partial
/// User table with `done: true`. The probe refuses rather than report `no_account`.
#[test]
fn salesforce_without_view_all_users_is_refused() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let mut scenario: serde_json::Value = serde_json::from_slice(
        &std::fs::read(repo().join("fixtures/salesforce/scenario-main.json")).unwrap(),
    )
    .unwrap();
    scenario["integration_user_permissions"] = serde_json::json!({"view_all_users": false});
    std::fs::write(dir.join("scenario.json"), scenario.to_string()).unwrap();
    let sf = Peer::start(
        "salesforce_server.py",
        &[
            "--scenario".into(),
            dir.join("scenario.json").display().to_string(),
            "--token".into(),
            SF_TOKEN.into(),
        ],
    );
    sf_leavers(dir);
    sf_config(dir, &sf.endpoint(), "token_env = \"SF_TOKEN\"", "");
    let out = scan(dir, "r");
    assert_eq!(code(&out), 3, "{}", text(&out));
    for r in csv_rows(&dir.join("r/coverage.csv")) {
        assert_eq!(r["outcome"], "error", "{r:?}");
        assert!(r["detail"].contains("ViewAllUsers"), "{r:?}");
    }
}
