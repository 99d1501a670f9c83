//! The Okta probe end to end against `tests/harness/okta_server.py`, a local server whose every
//! body is checked against Okta's own OpenAPI description (`okta_schema_check.py`, run here
//! too). Covers the scenario in `fixtures/okta/README.md`: exact findings and coverage with an
//! API token and with a service app, the planner's two strategies, read-only, and the
//! fail-closed paths (401, 429 beyond the wait, 5xx, garbage, a held connection, and an identity
//! that gets `200` and an empty list).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use crate::harness::{all_output, code, csv_rows, python, repo, residual, rsa_keys, text, Peer};

const SUPER: &str = "00oktaSuperAdminToken0000000000000000000001";
const READ_ONLY: &str = "00oktaReadOnlyToken00000000000000000000002";
const HELP_DESK: &str = "00oktaHelpDeskToken00000000000000000000003";
const AS_OF: &str = "2026-11-26T12:00:00Z";
const CLIENT: &str = "0oa1residualsvc0001";
const NO_ROLES: &str = "0oa1noroles00000001";

const LEAVERS: &str = "email,departure_date,name,employee_id
jdoe@acme.example,2026-11-20,John Doe,E1042
maria.lopez@acme.example,2026-11-10,Maria Lopez,E1007
tom.chen@acme.example,2026-11-05,Tom Chen,E1015
priya.shah@acme.example,2026-11-20,Priya Shah,
kiran.patel@acme.example,2026-11-14,Kiran Patel,C-9931
sam.rivera@acme.example,2026-11-12,Sam Rivera,E1200
nadia.quinn@acme.example,2026-11-16,Nadia Quinn,
r.okoro@acme.example,2026-09-30,Rita Okoro,
lee.future@acme.example,2026-12-15,Lee Future,E1400
";

fn scenario() -> String {
    repo()
        .join("fixtures/okta/scenario-main.json")
        .display()
        .to_string()
}

fn server(extra: &[&str], public_key: Option<&str>) -> Peer {
    let mut args: Vec<String> = vec![
        "--scenario".into(),
        scenario(),
        "--token".into(),
        format!("{SUPER}=00u1adaadmin0000001"),
        "--token".into(),
        format!("{READ_ONLY}=00u1svcresidual0001"),
        "--token".into(),
        format!("{HELP_DESK}=00u1helpdesk0000001"),
    ];
    if let Some(p) = public_key {
        for c in [CLIENT, NO_ROLES] {
            args.extend(["--client".into(), format!("{c}={p}")]);
        }
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    Peer::start("okta_server.py", &args)
}

fn setup(dir: &Path, endpoint: &str, auth: &str, scan_extra: &str) {
    std::fs::write(dir.join("leavers.csv"), LEAVERS).unwrap();
    std::fs::write(
        dir.join("residual.toml"),
        format!(
            "[scan]\nconcurrency = 8\n{scan_extra}\n\n[[okta]]\norg_url = \"{endpoint}\"\n{auth}\n"
        ),
    )
    .unwrap();
}

fn token(t: &str) -> String {
    let var = if t == SUPER {
        "OKTA_TEST_SUPER"
    } else {
        "OKTA_TEST_READ_ONLY"
    };
    format!("token_env = \"{var}\"")
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
            ("OKTA_TEST_SUPER", SUPER),
            ("OKTA_TEST_READ_ONLY", READ_ONLY),
        ],
    )
}

type Row = (String, String, String, String);

fn findings(dir: &Path, out: &str) -> BTreeSet<Row> {
    csv_rows(&dir.join(out).join("findings.csv"))
        .into_iter()
        .map(|f| {
            (
                f["leaver_email"].replace("@acme.example", ""),
                f["check_id"].clone(),
                f["resource_id"].clone(),
                f["severity"].clone(),
            )
        })
        .collect()
}

fn coverage(dir: &Path, out: &str) -> BTreeMap<String, (String, String)> {
    csv_rows(&dir.join(out).join("coverage.csv"))
        .into_iter()
        .map(|r| {
            (
                r["leaver_email"].replace("@acme.example", ""),
                (r["outcome"].clone(), r["detail"].clone()),
            )
        })
        .collect()
}

fn expected() -> BTreeSet<Row> {
    let w = |l: &str, c: &str, r: &str, s: &str| {
        (l.to_string(), c.to_string(), r.to_string(), s.to_string())
    };
    let jdoe = "00u1jdoe00000000001";
    let maria = "00u1mlopez000000001";
    [
        // Active, signed in after leaving, an org admin; apps through engineering and all-staff.
        w("jdoe", "okta_user_active", jdoe, "critical"),
        w(
            "jdoe",
            "okta_admin_role",
            &format!("{jdoe}/roles/ra1jdoeorgadmin0001"),
            "critical",
        ),
        w(
            "jdoe",
            "okta_app_assignment",
            &format!("{jdoe}/apps/0oa1githubent0000001"),
            "medium",
        ),
        w(
            "jdoe",
            "okta_app_assignment",
            &format!("{jdoe}/apps/0oa1awsidc0000000001"),
            "medium",
        ),
        w(
            "jdoe",
            "okta_app_assignment",
            &format!("{jdoe}/apps/0oa1zoom000000000001"),
            "medium",
        ),
        // Suspended: low for the user, but her API tokens still work, one used after she left,
        // and she is a super admin through the security-admins group.
        w("maria.lopez", "okta_user_active", maria, "low"),
        w(
            "maria.lopez",
            "okta_api_token_owned",
            "00T1mlopezdeploy001",
            "critical",
        ),
        w(
            "maria.lopez",
            "okta_api_token_owned",
            "00T1mlopezreport001",
            "high",
        ),
        w(
            "maria.lopez",
            "okta_admin_role",
            &format!("{maria}/roles/ra1grpsecadmins00001"),
            "critical",
        ),
        w(
            "maria.lopez",
            "okta_app_assignment",
            &format!("{maria}/apps/0oa1zoom000000000001"),
            "medium",
        ),
        // Found by secondary email only.
        w(
            "priya.shah",
            "okta_user_active",
            "00u1pshah0000000001",
            "high",
        ),
        w(
            "priya.shah",
            "okta_app_assignment",
            "00u1pshah0000000001/apps/0oa1zoom000000000001",
            "medium",
        ),
        // Found by employee number only.
        w(
            "kiran.patel",
            "okta_user_active",
            "00u1kp9931000000001",
            "high",
        ),
        w(
            "kiran.patel",
            "okta_app_assignment",
            "00u1kp9931000000001/apps/0oa1salesforce000001",
            "medium",
        ),
        // Deprovisioned, but Slack is still assigned: a leftover, not a path.
        w(
            "sam.rivera",
            "okta_app_assignment",
            "00u1srivera00000001/apps/0oa1slack00000000001",
            "medium",
        ),
        // Locked out (still a user), a sub-addressed, upper-case login, signed in after leaving.
        w(
            "nadia.quinn",
            "okta_user_active",
            "00u1nquinn000000001",
            "critical",
        ),
    ]
    .into_iter()
    .collect()
}

fn assert_expected_coverage(dir: &Path, out: &str) {
    let cov = coverage(dir, out);
    for l in [
        "jdoe",
        "maria.lopez",
        "priya.shah",
        "kiran.patel",
        "nadia.quinn",
    ] {
        assert_eq!(cov[l].0, "residual", "{l}: {:?}", cov[l]);
    }
    assert_eq!(cov["tom.chen"].0, "deprovisioned", "{:?}", cov["tom.chen"]);
    assert_eq!(
        cov["sam.rivera"].0, "deprovisioned",
        "{:?}",
        cov["sam.rivera"]
    );
    assert_eq!(cov["r.okoro"].0, "no_account", "{:?}", cov["r.okoro"]);
    assert_eq!(cov["lee.future"].0, "not_departed");
    // John Doe is his own account only, never the look-alike jdoe@acme-labs.example.
    assert!(
        cov["jdoe"]
            .1
            .starts_with("accounts: jdoe@acme.example (exact"),
        "{}",
        cov["jdoe"].1
    );
    assert!(cov["kiran.patel"].1.contains("employee_id"), "{:?}", cov);
}

fn assert_read_only(peer: &Peer) {
    let log = peer.requests();
    assert!(log.len() > 10, "{log:?}");
    for r in &log {
        let method = r["method"].as_str().unwrap();
        let template = r["template"].as_str().unwrap();
        assert!(
            method == "GET" || (method == "POST" && template == "/oauth2/v1/token"),
            "scan sent a non-read request: {r}"
        );
    }
}

#[test]
fn okta_served_responses_match_the_official_schema() {
    let out = Command::new(python())
        .arg(repo().join("tests/harness/okta_schema_check.py"))
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
fn okta_exact_findings_coverage_and_read_only() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let okta = server(&[], None);
    setup(dir, &okta.endpoint(), &token(SUPER), "");
    let out = scan(dir, "r");
    assert_eq!(code(&out), 1, "complete scan with findings\n{}", text(&out));
    assert_eq!(findings(dir, "r"), expected(), "\n{}", text(&out));
    assert_expected_coverage(dir, "r");
    let manifest = std::fs::read_to_string(dir.join("r/manifest.json")).unwrap();
    assert!(
        manifest.contains("API token of ada.admin@acme.example (00u1adaadmin0000001)"),
        "{manifest}"
    );
    assert!(manifest.contains("full listing"), "{manifest}");
    // Listing: the plain list, and the DEPROVISIONED users with an explicit filter.
    let log = okta.requests();
    assert!(log.iter().any(|r| r["template"] == "/api/v1/users"
        && r["query"].as_str().unwrap().contains("DEPROVISIONED")));
    assert_read_only(&okta);
    // No token, header or assertion reached any output.
    let all = all_output(&out, &dir.join("r"));
    assert!(!all.contains(SUPER), "the API token leaked");
}

#[test]
fn okta_service_app_and_lookups_agree_with_the_listing() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let (key, public) = rsa_keys(dir);
    // 3,000 more staff: 16 pages of users, so searching for the leavers is cheaper.
    let okta = server(&["--pad-users", "3000"], Some(&public));
    setup(
        dir,
        &okta.endpoint(),
        &format!("client_id = \"{CLIENT}\"\nprivate_key_file = \"{key}\""),
        "",
    );
    let out = scan(dir, "r");
    assert_eq!(code(&out), 1, "\n{}", text(&out));
    assert_eq!(findings(dir, "r"), expected(), "\n{}", text(&out));
    assert_expected_coverage(dir, "r");
    let manifest = std::fs::read_to_string(dir.join("r/manifest.json")).unwrap();
    assert!(
        manifest.contains(&format!("service app {CLIENT}")),
        "{manifest}"
    );
    assert!(manifest.contains("search lookups"), "{manifest}");
    let log = okta.requests();
    assert_eq!(
        log.iter()
            .filter(|r| r["template"] == "/oauth2/v1/token")
            .count(),
        1
    );
    // Lookups, not a listing: no page of the plain list was read.
    assert!(
        log.iter().all(|r| r["template"] != "/api/v1/users"
            || r["query"].as_str().unwrap().contains("search=")),
        "listed users instead of looking the leavers up"
    );
    assert!(log.iter().all(|r| r["auth"] != "ssws"));
    assert_read_only(&okta);
    let all = all_output(&out, &dir.join("r"));
    assert!(!all.contains("BEGIN PRIVATE KEY") && !all.contains("eyJraWQiOiJ"));
}

#[test]
fn okta_read_only_admin_without_api_tokens_is_a_named_gap() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let okta = server(&[], None);
    setup(dir, &okta.endpoint(), &token(READ_ONLY), "");
    let out = scan(dir, "r");
    assert_eq!(
        code(&out),
        3,
        "API tokens unread: incomplete\n{}",
        text(&out)
    );
    let cov = coverage(dir, "r");
    for (l, (outcome, detail)) in &cov {
        if l == "lee.future" {
            continue;
        }
        assert_eq!(outcome, "error", "{l}: {detail}");
        assert!(
            detail.contains("/api/v1/api-tokens not read"),
            "{l}: {detail}"
        );
    }
}

/// Every failure is `error` for every leaver, exit 3, and says what failed.
fn assert_fails_closed(dir: &Path, out: &str, what: &str) {
    let o = scan(dir, out);
    assert_eq!(code(&o), 3, "{what}: must be incomplete\n{}", text(&o));
    let cov = coverage(dir, out);
    for (l, (outcome, detail)) in &cov {
        if l == "lee.future" {
            continue;
        }
        assert_eq!(outcome, "error", "{what}: {l} is {outcome} ({detail})");
    }
}

#[test]
fn okta_failures_fail_closed() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let (key, public) = rsa_keys(dir);
    let okta = server(&[], Some(&public));
    let scan_settings = "request_timeout_secs = 2\nmax_attempts = 2\nmax_rate_limit_wait_secs = 2";

    // A revoked token.
    std::fs::write(dir.join("leavers.csv"), LEAVERS).unwrap();
    setup(dir, &okta.endpoint(), &token(SUPER), scan_settings);
    let o = residual(
        dir,
        &[
            "scan",
            "--leavers",
            "leavers.csv",
            "--out",
            "bad-token",
            "--as-of",
            AS_OF,
        ],
        &[(
            "OKTA_TEST_SUPER",
            "00oktaRevoked000000000000000000000000000",
        )],
    );
    assert_eq!(code(&o), 3, "{}", text(&o));
    let cov = coverage(dir, "bad-token");
    assert!(cov["jdoe"].1.contains("E0000011"), "{:?}", cov["jdoe"]);

    // Rate limited past the wait; a server error that persists; garbage; a held connection.
    for (name, rule) in [
        (
            "rate-limited",
            serde_json::json!({"path_regex": "^/api/v1/users\\?", "kind": "rate_limit", "reset_in": 3600}),
        ),
        (
            "server-error",
            serde_json::json!({"path_regex": "^/api/v1/groups", "kind": "status", "status": 503}),
        ),
        (
            "garbage",
            serde_json::json!({"path_regex": "/roles$", "kind": "garbage"}),
        ),
        (
            "held",
            serde_json::json!({"path_regex": "^/api/v1/api-tokens", "kind": "hang", "delay_seconds": 8}),
        ),
    ] {
        okta.faults(rule);
        assert_fails_closed(dir, name, name);
    }
    okta.faults(serde_json::json!([]));

    // The silent-empty trap: a service app without an admin role gets 200 and [].
    setup(
        dir,
        &okta.endpoint(),
        &format!("client_id = \"{NO_ROLES}\"\nprivate_key_file = \"{key}\""),
        scan_settings,
    );
    assert_fails_closed(dir, "no-role", "service app without a role");
    let cov = coverage(dir, "no-role");
    assert!(
        cov["jdoe"].1.contains("no org-wide admin role"),
        "{:?}",
        cov["jdoe"]
    );
    // A help-desk admin scoped to one group sees that group's users only: refused too.
    setup(
        dir,
        &okta.endpoint(),
        "token_env = \"OKTA_TEST_HELP\"",
        scan_settings,
    );
    let o = residual(
        dir,
        &[
            "scan",
            "--leavers",
            "leavers.csv",
            "--out",
            "help-desk",
            "--as-of",
            AS_OF,
        ],
        &[("OKTA_TEST_HELP", HELP_DESK)],
    );
    assert_eq!(code(&o), 3, "{}", text(&o));
    let cov = coverage(dir, "help-desk");
    assert!(
        cov["jdoe"].1.contains("HELP_DESK_ADMIN"),
        "{:?}",
        cov["jdoe"]
    );
    assert_read_only(&okta);
}

/// Issue 15 on the schema-checked Okta server: groups are read only because a mover names
/// one; Nadia is still in Finance (the finding, with a command that removes only the
/// membership), Kiran never was (none), and their accounts are no finding.
#[test]
fn okta_mover_still_in_the_old_group() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let okta = server(&[], None);
    setup(dir, &okta.endpoint(), &token(SUPER), "");
    std::fs::write(
        dir.join("leavers.csv"),
        "email,move_date,status,revoke,employee_id\n\
         nadia.quinn@acme.example,2026-11-16,mover,okta:group/Finance,\n\
         kiran.patel@acme.example,2026-11-14,mover,okta:group/Finance,C-9931\n",
    )
    .unwrap();
    let out = scan(dir, "r");
    assert_eq!(code(&out), 1, "{}", text(&out));
    let rows = csv_rows(&dir.join("r/findings.csv"));
    let got: Vec<(&str, &str, &str, &str)> = rows
        .iter()
        .map(|f| {
            (
                f["leaver_email"].as_str(),
                f["check_id"].as_str(),
                f["resource_id"].as_str(),
                f["severity"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![(
            "nadia.quinn@acme.example",
            "okta_entitlement_retained",
            "00u1nquinn000000001#okta:group/Finance",
            "high"
        )],
        "{}",
        text(&out)
    );
    assert!(
        rows[0]["remediation"]
            .contains("/api/v1/groups/00g1finance000000001/users/00u1nquinn000000001"),
        "{}",
        rows[0]["remediation"]
    );
    let cov = coverage(dir, "r");
    assert_eq!(cov["kiran.patel"].0, "deprovisioned", "{:?}", cov);
    let log = okta.requests();
    assert!(log
        .iter()
        .any(|r| r["template"] == "/api/v1/users/{id}/groups"));
    assert_read_only(&okta);
}
