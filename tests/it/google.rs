//! The Google probe end to end against `tests/harness/google_server.py`, a local Google whose
//! every body is checked against Google's own discovery documents (`google_schema_check.py`,
//! run here too). Covers the scenario in `fixtures/google/README.md`: exact findings and
//! coverage in the Workspace and the Cloud instance, both planner strategies, read-only, and
//! the fail-closed paths (a refused key, refused delegation, an org-unit admin, quota, 5xx,
//! garbage, a held connection).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use crate::harness::{all_output, code, csv_rows, python, repo, residual, rsa_keys, text, Peer};

const SA: &str = "residual-scanner@acme-sec.iam.gserviceaccount.com";
const AS_OF: &str = "2026-11-26T12:00:00Z";
const SCOPES: &str = "https://www.googleapis.com/auth/admin.directory.user.readonly,https://www.googleapis.com/auth/admin.directory.user.security,https://www.googleapis.com/auth/admin.directory.rolemanagement.readonly";

const LEAVERS: &str = "email,departure_date,name,employee_id
jdoe@acme.example,2026-11-20,John Doe,E1042
maria.lopez@acme.example,2026-11-10,Maria Lopez,E1007
tom.chen@acme.example,2026-11-05,Tom Chen,E1015
priya.shah@acme.example,2026-11-20,Priya Shah,
kiran.patel@acme.example,2026-11-14,Kiran Patel,C-9931
nadia.quinn@acme.example,2026-11-16,Nadia Quinn,
sam.rivera@acme.example,2026-11-12,Sam Rivera,
r.okoro@acme.example,2026-09-30,Rita Okoro,
lee.future@acme.example,2026-12-15,Lee Future,
";

fn scenario() -> String {
    repo()
        .join("fixtures/google/scenario-main.json")
        .display()
        .to_string()
}

/// The server, and a key file for the scanning service account.
fn server(dir: &Path, extra: &[&str]) -> (Peer, String) {
    let (key, public) = rsa_keys(dir);
    let mut args: Vec<String> = vec![
        "--scenario".into(),
        scenario(),
        "--service-account".into(),
        format!("{SA}={public}"),
        "--delegate".into(),
        format!("{SA}={SCOPES}"),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let peer = Peer::start("google_server.py", &args);
    let pem = std::fs::read_to_string(&key).unwrap();
    let file = dir.join("sa.json");
    std::fs::write(
        &file,
        serde_json::json!({
            "type": "service_account", "project_id": "acme-sec", "private_key_id": "k1",
            "private_key": pem, "client_email": SA, "client_id": "104000000000000000001",
            "token_uri": "https://oauth2.googleapis.com/token"
        })
        .to_string(),
    )
    .unwrap();
    (peer, file.display().to_string())
}

fn setup(dir: &Path, endpoint: &str, key: &str, table_extra: &str, scan_extra: &str) {
    std::fs::write(dir.join("leavers.csv"), LEAVERS).unwrap();
    std::fs::write(
        dir.join("residual.toml"),
        format!(
            "[scan]\nconcurrency = 8\n{scan_extra}\n\n[[google]]\ncredentials_file = \"{key}\"\nadmin_subject = \"residual-admin@acme.example\"\norganization = \"123456789012\"\nendpoint = \"{endpoint}\"\n{table_extra}\n"
        ),
    )
    .unwrap();
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
        &[],
    )
}

type Row = (String, String, String, String, String);

fn findings(dir: &Path, out: &str) -> BTreeSet<Row> {
    csv_rows(&dir.join(out).join("findings.csv"))
        .into_iter()
        .map(|f| {
            (
                f["leaver_email"].replace("@acme.example", ""),
                f["system_instance"].clone(),
                f["check_id"].clone(),
                f["resource_id"].clone(),
                f["severity"].clone(),
            )
        })
        .collect()
}

/// (leaver, instance) → (outcome, detail)
fn coverage(dir: &Path, out: &str) -> BTreeMap<(String, String), (String, String)> {
    csv_rows(&dir.join(out).join("coverage.csv"))
        .into_iter()
        .map(|r| {
            (
                (
                    r["leaver_email"].replace("@acme.example", ""),
                    r["system_instance"].clone(),
                ),
                (r["outcome"].clone(), r["detail"].clone()),
            )
        })
        .collect()
}

const WS: &str = "acme.example";
const CLOUD: &str = "acme.example/cloud";

fn expected() -> BTreeSet<Row> {
    let w = |l: &str, i: &str, c: &str, r: &str, s: &str| {
        (
            l.to_string(),
            i.to_string(),
            c.to_string(),
            r.to_string(),
            s.to_string(),
        )
    };
    let jdoe = "110000000000000001042";
    let prod = "//cloudresourcemanager.googleapis.com/projects/acme-prod";
    let data = "//cloudresourcemanager.googleapis.com/projects/acme-data";
    [
        // Active, signed in after leaving, a delegated admin (directly and through a group).
        w("jdoe", WS, "google_workspace_user_active", jdoe, "critical"),
        w(
            "jdoe",
            WS,
            "google_workspace_admin_role",
            &format!("{jdoe}/roleassignments/9170516996784042"),
            "critical",
        ),
        w(
            "jdoe",
            WS,
            "google_workspace_admin_role",
            &format!("{jdoe}/roleassignments/9170516996784043"),
            "critical",
        ),
        w(
            "jdoe",
            WS,
            "google_workspace_oauth_grant",
            "1234567890-zapier.apps.googleusercontent.com",
            "high",
        ),
        w(
            "jdoe",
            WS,
            "google_workspace_oauth_grant",
            "987654321-calendly.apps.googleusercontent.com",
            "high",
        ),
        w(
            "jdoe",
            CLOUD,
            "google_cloud_iam_binding_user",
            &format!("{prod}#roles/owner"),
            "critical",
        ),
        w(
            "jdoe",
            CLOUD,
            "google_cloud_iam_binding_user",
            &format!("{data}#roles/bigquery.dataViewer"),
            "high",
        ),
        w(
            "jdoe",
            CLOUD,
            "google_cloud_service_account_owned",
            "etl@acme-sandbox.iam.gserviceaccount.com",
            "high",
        ),
        // Suspended: no user finding, but the grant and the app passwords remain, one used
        // after she left.
        w(
            "maria.lopez",
            WS,
            "google_workspace_oauth_grant",
            "555000111-superhuman.apps.googleusercontent.com",
            "high",
        ),
        w(
            "maria.lopez",
            WS,
            "google_workspace_app_password",
            "1",
            "critical",
        ),
        w(
            "maria.lopez",
            WS,
            "google_workspace_app_password",
            "2",
            "high",
        ),
        // Found by alias only; a conditional compute admin binding.
        w(
            "priya.shah",
            WS,
            "google_workspace_user_active",
            "110000000000000001101",
            "high",
        ),
        w(
            "priya.shah",
            CLOUD,
            "google_cloud_iam_binding_user",
            &format!("{prod}#roles/compute.admin#if:expires 2026-12-31"),
            "critical",
        ),
        // Found by employee id only.
        w(
            "kiran.patel",
            WS,
            "google_workspace_user_active",
            "110000000000000009931",
            "high",
        ),
        // Suspended in Workspace, but a bucket binding and a service account with keys.
        w(
            "nadia.quinn",
            CLOUD,
            "google_cloud_iam_binding_user",
            "//storage.googleapis.com/acme-reports#roles/storage.objectViewer",
            "high",
        ),
        w(
            "nadia.quinn",
            CLOUD,
            "google_cloud_service_account_owned",
            "reporting@acme-data.iam.gserviceaccount.com",
            "high",
        ),
        // Deleted identity, binding left behind: clutter, not a path.
        w(
            "sam.rivera",
            CLOUD,
            "google_cloud_iam_binding_user",
            &format!("{data}#roles/viewer"),
            "high",
        ),
    ]
    .into_iter()
    .collect()
}

fn assert_expected_coverage(dir: &Path, out: &str) {
    let cov = coverage(dir, out);
    let at = |l: &str, i: &str| cov[&(l.to_string(), i.to_string())].clone();
    for l in ["jdoe", "maria.lopez", "priya.shah", "kiran.patel"] {
        assert_eq!(at(l, WS).0, "residual", "{l}: {:?}", at(l, WS));
    }
    for l in ["tom.chen", "nadia.quinn"] {
        assert_eq!(at(l, WS).0, "deprovisioned", "{l}: {:?}", at(l, WS));
    }
    for l in ["sam.rivera", "r.okoro"] {
        assert_eq!(at(l, WS).0, "no_account", "{l}: {:?}", at(l, WS));
    }
    for l in ["jdoe", "priya.shah", "nadia.quinn"] {
        assert_eq!(at(l, CLOUD).0, "residual", "{l}: {:?}", at(l, CLOUD));
    }
    assert_eq!(at("sam.rivera", CLOUD).0, "deprovisioned");
    for l in ["maria.lopez", "tom.chen", "kiran.patel", "r.okoro"] {
        assert_eq!(at(l, CLOUD).0, "no_account", "{l}: {:?}", at(l, CLOUD));
    }
    assert_eq!(at("lee.future", WS).0, "not_departed");
    // John Doe is his own account only, never the look-alike jdoe@acme-labs.example.
    assert!(
        at("jdoe", WS)
            .1
            .starts_with("accounts: jdoe@acme.example (exact"),
        "{:?}",
        at("jdoe", WS)
    );
    assert!(at("priya.shah", WS).1.contains("p.shah@acme.example"));
    assert!(at("kiran.patel", WS).1.contains("employee_id"));
}

fn assert_read_only(peer: &Peer) {
    let log = peer.requests();
    assert!(log.len() > 10, "{log:?}");
    for r in &log {
        let method = r["method"].as_str().unwrap();
        assert!(
            method == "GET" || (method == "POST" && r["template"] == "/token"),
            "scan sent a non-read request: {r}"
        );
    }
}

#[test]
fn google_served_responses_match_the_discovery_documents() {
    let out = Command::new(python())
        .arg(repo().join("tests/harness/google_schema_check.py"))
        .args(["--scenario", &scenario(), "--self-test"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}");
}

#[test]
fn google_exact_findings_coverage_and_read_only() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let (g, key) = server(dir, &[]);
    setup(dir, &g.endpoint(), &key, "", "");
    let out = scan(dir, "r");
    assert_eq!(code(&out), 1, "complete scan with findings\n{}", text(&out));
    assert_eq!(findings(dir, "r"), expected(), "\n{}", text(&out));
    assert_expected_coverage(dir, "r");
    let manifest = std::fs::read_to_string(dir.join("r/manifest.json")).unwrap();
    assert!(
        manifest.contains(&format!(
            "service account {SA} acting as residual-admin@acme.example (super admin)"
        )),
        "{manifest}"
    );
    assert!(manifest.contains("planner: listing"), "{manifest}");
    // The evidence of Nadia's service account: the key made before she left needs rotation.
    let f = std::fs::read_to_string(dir.join("r/findings.json")).unwrap();
    assert!(
        f.contains("7e9a000000000000000000000000000000000001, active, created 2026-01-05T00:00:00Z (made before the departure: rotate)"),
        "{f}"
    );
    assert!(!f.contains(
        "7e9a000000000000000000000000000000000002, active, created 2026-11-20T00:00:00Z (made before"
    ));
    // The group's role is removed by taking John out of the group, not by deleting it.
    assert!(
        f.contains("directory/v1/groups/03ep43zb1itadmn/members/110000000000000001042"),
        "{f}"
    );
    // Delegated tokens carry the admin subject; the Cloud token carries none.
    let log = g.requests();
    assert!(log
        .iter()
        .any(|r| r["api"] == "cloudasset" && r["subject"].is_null()));
    assert!(log
        .iter()
        .any(|r| r["api"] == "directory" && r["subject"] == "residual-admin@acme.example"));
    assert_read_only(&g);
    let all = all_output(&out, &dir.join("r"));
    assert!(!all.contains("BEGIN PRIVATE KEY") && !all.contains("ya29."));
}

#[test]
fn google_lookups_agree_with_the_listing() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    // More users than one page, so the first page does not already hold the whole listing.
    let (g, key) = server(dir, &["--pad-staff", "600"]);
    setup(dir, &g.endpoint(), &key, "strategy = \"lookup\"", "");
    let out = scan(dir, "r");
    assert_eq!(code(&out), 1, "\n{}", text(&out));
    assert_eq!(findings(dir, "r"), expected(), "\n{}", text(&out));
    assert_expected_coverage(dir, "r");
    let log = g.requests();
    // One listing page (the proof), then users.get and externalId queries.
    assert_eq!(
        log.iter()
            .filter(|r| r["template"] == "/admin/directory/v1/users"
                && !r["query"].as_str().unwrap().contains("query="))
            .count(),
        1
    );
    assert!(log
        .iter()
        .any(|r| r["query"].as_str().unwrap().contains("externalId")));
    assert_read_only(&g);
}

/// Every leaver is `error` in `instance` (both when `None`), exit 3.
fn assert_fails_closed(dir: &Path, out: &str, instance: Option<&str>, what: &str) -> String {
    let o = scan(dir, out);
    assert_eq!(code(&o), 3, "{what}: must be incomplete\n{}", text(&o));
    let cov = coverage(dir, out);
    let mut details = String::new();
    for ((l, i), (outcome, detail)) in &cov {
        if l == "lee.future" || instance.is_some_and(|x| x != i) {
            continue;
        }
        assert_eq!(
            outcome, "error",
            "{what}: {l} in {i} is {outcome} ({detail})"
        );
        details.push_str(detail);
    }
    details
}

#[test]
fn google_failures_fail_closed() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let (g, key) = server(dir, &[]);
    let settings = "request_timeout_secs = 2\nmax_attempts = 2\nmax_rate_limit_wait_secs = 2";
    setup(dir, &g.endpoint(), &key, "", settings);

    // Delegation refused by the token endpoint: Workspace fails, Cloud (no subject) does not.
    g.faults(serde_json::json!({"kind": "refuse_delegation"}));
    let d = assert_fails_closed(dir, "no-delegation", Some(WS), "refused delegation");
    assert!(
        d.contains("unauthorized_client") && d.contains("domain-wide delegation"),
        "{d}"
    );
    let cov = coverage(dir, "no-delegation");
    assert_eq!(cov[&("jdoe".to_string(), CLOUD.to_string())].0, "residual");

    // Quota, a server error that persists, garbage, a held connection.
    for (name, rule, instance) in [
        (
            "quota",
            serde_json::json!({"path_regex": "/admin/directory/v1/users(\\?|$)", "kind": "quota"}),
            Some(WS),
        ),
        (
            "unauthorized",
            serde_json::json!({"path_regex": "/admin/directory/v1/users(\\?|$)", "kind": "status", "status": 401}),
            Some(WS),
        ),
        (
            "forbidden",
            serde_json::json!({"path_regex": "searchAllIamPolicies", "kind": "status", "status": 403}),
            Some(CLOUD),
        ),
        (
            "server-error",
            serde_json::json!({"path_regex": "searchAllIamPolicies", "kind": "status", "status": 503}),
            Some(CLOUD),
        ),
        (
            "held",
            serde_json::json!({"path_regex": "searchAllResources", "kind": "hang", "delay_seconds": 8}),
            Some(CLOUD),
        ),
    ] {
        g.faults(rule);
        assert_fails_closed(dir, name, instance, name);
    }

    // Garbage from one user's grants: that gap is the user's, so every matched leaver is
    // `error` and only the leavers no listed account matches stay `no_account`.
    g.faults(serde_json::json!({"path_regex": "/tokens(\\?|$)", "kind": "garbage"}));
    let o = scan(dir, "garbage");
    assert_eq!(code(&o), 3, "garbage: must be incomplete\n{}", text(&o));
    let cov = coverage(dir, "garbage");
    for l in [
        "jdoe",
        "maria.lopez",
        "tom.chen",
        "priya.shah",
        "kiran.patel",
    ] {
        let (outcome, detail) = &cov[&(l.to_string(), WS.to_string())];
        assert_eq!(outcome, "error", "garbage: {l} is {outcome} ({detail})");
        assert!(detail.contains("tokens"), "{detail}");
    }
    assert_eq!(
        cov[&("r.okoro".to_string(), WS.to_string())].0,
        "no_account"
    );
    g.faults(serde_json::json!([]));

    // A subject who administers one org unit sees part of the users: refused.
    setup(dir, &g.endpoint(), &key, "", settings);
    let toml = std::fs::read_to_string(dir.join("residual.toml"))
        .unwrap()
        .replace("residual-admin@acme.example", "helpdesk@acme.example");
    std::fs::write(dir.join("residual.toml"), toml).unwrap();
    assert_fails_closed(
        dir,
        "org-unit-admin",
        Some("acme.example"),
        "org-unit admin",
    );

    // A key the token endpoint does not know (another service account's signature).
    let other = tempfile::tempdir().unwrap();
    let (k2, _) = rsa_keys(other.path());
    let sa = std::fs::read_to_string(&key).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&sa).unwrap();
    v["private_key"] = std::fs::read_to_string(k2).unwrap().into();
    std::fs::write(dir.join("bad-key.json"), v.to_string()).unwrap();
    setup(
        dir,
        &g.endpoint(),
        &dir.join("bad-key.json").display().to_string(),
        "",
        settings,
    );
    let d = assert_fails_closed(dir, "bad-key", None, "unknown key");
    assert!(d.contains("invalid_grant"), "{d}");
    assert_read_only(&g);
}
