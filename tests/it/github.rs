//! The GitHub probe end to end against `tests/harness/github_server.py`, a local server whose
//! every response body is checked against GitHub's OpenAPI description
//! (`github_schema_check.py`, run here too). Covers the scenario in
//! `fixtures/github/README.md`, read-only, the planner, rate limits and the fail-closed paths.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use crate::harness::{all_output, code, csv_rows, python, repo, residual, rsa_keys, text, Peer};

const TOKEN: &str = "ghp_residualTestToken0000000000000000001";
const AS_OF: &str = "2026-11-26T12:00:00Z";

const LEAVERS: &str = "email,departure_date,full_name,github_login,aliases
maria.lopez@acme.example,2026-11-10,Maria Lopez,,
jdoe@acme.example,2026-11-20,John Doe,,
tom.chen@acme.example,2026-11-05,Tom Chen,,
priya.shah@acme.example,2026-11-20,Priya Shah,,
kiran.patel@acme.example,2026-11-14,Kiran Patel,kpatel-ext,kiran@patel-consulting.example
sam.rivera@acme.example,2026-11-12,Sam Rivera,,
r.okoro@acme.example,2026-09-30,Rita Okoro,,
";

fn server(scenario_args: &[&str], public_key: Option<&str>) -> Peer {
    let mut args: Vec<String> = scenario_args.iter().map(|s| s.to_string()).collect();
    args.extend([
        "--token".into(),
        TOKEN.into(),
        "--rate-reset-seconds".into(),
        "3600".into(),
    ]);
    if let Some(p) = public_key {
        args.extend(["--app-public-key".into(), p.into()]);
    }
    Peer::start("github_server.py", &args)
}

fn main_scenario() -> String {
    repo()
        .join("fixtures/github/scenario-main.json")
        .display()
        .to_string()
}

fn config(dir: &Path, endpoint: &str, auth: &str, scan_extra: &str) {
    std::fs::write(
        dir.join("residual.toml"),
        format!("[scan]\nconcurrency = 8\n{scan_extra}\n\n[[github]]\norg = \"acme\"\napi_url = \"{endpoint}\"\n{auth}\n"),
    )
    .unwrap();
}

fn token_auth() -> String {
    "token_env = \"RESIDUAL_TEST_GH_TOKEN\"".into()
}

fn app_auth(key: &str) -> String {
    format!("app_id = 424242\ninstallation_id = 7890123\nprivate_key_file = \"{key}\"")
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
        &[("RESIDUAL_TEST_GH_TOKEN", TOKEN)],
    )
}

fn coverage(dir: &Path, out: &str) -> BTreeMap<String, (String, String)> {
    csv_rows(&dir.join(out).join("coverage.csv"))
        .into_iter()
        .map(|r| {
            (
                r["leaver_id"].clone(),
                (r["outcome"].clone(), r["detail"].clone()),
            )
        })
        .collect()
}

#[test]
fn github_served_responses_match_the_official_schema() {
    let out = Command::new(python())
        .arg(repo().join("tests/harness/github_schema_check.py"))
        .args(["--scenario", &main_scenario(), "--self-test"])
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
fn github_main_scenario_exact_findings_and_read_only() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let (key, public) = rsa_keys(dir);
    let gh = server(&["--scenario", &main_scenario()], Some(&public));
    std::fs::write(dir.join("leavers.csv"), LEAVERS).unwrap();
    config(dir, &gh.endpoint(), &app_auth(&key), "");
    let out = scan(dir, "r");
    assert_eq!(code(&out), 1, "complete scan with findings\n{}", text(&out));

    let got: BTreeSet<(String, String, String, String)> = csv_rows(&dir.join("r/findings.csv"))
        .into_iter()
        .map(|f| {
            (
                f["leaver_id"].clone(),
                f["check_id"].clone(),
                f["resource_id"].clone(),
                f["severity"].clone(),
            )
        })
        .collect();
    let w = |l: &str, c: &str, r: &str, s: &str| {
        (
            format!("{l}@acme.example"),
            c.to_string(),
            r.to_string(),
            s.to_string(),
        )
    };
    let want: BTreeSet<_> = [
        w("maria.lopez", "github_org_member", "user/1002", "critical"),
        w(
            "maria.lopez",
            "github_sso_credential_authorized",
            "8003",
            "high",
        ),
        w(
            "maria.lopez",
            "github_deploy_key_added_by",
            "acme/legacy-tools/keys/60004",
            "high",
        ),
        w(
            "maria.lopez",
            "github_org_secret_not_rotated",
            "acme/actions/secrets/NPM_TOKEN",
            "medium",
        ),
        w(
            "maria.lopez",
            "github_org_secret_not_rotated",
            "acme/actions/secrets/SLACK_WEBHOOK",
            "medium",
        ),
        w("jdoe", "github_org_member", "user/1003", "high"),
        w(
            "jdoe",
            "github_sso_credential_authorized",
            "8001",
            "critical",
        ),
        w("jdoe", "github_sso_credential_authorized", "8002", "high"),
        w("tom.chen", "github_org_member", "user/1005", "high"),
        w(
            "tom.chen",
            "github_deploy_key_added_by",
            "acme/infra/keys/60001",
            "critical",
        ),
        w("priya.shah", "github_org_member", "user/1006", "high"),
        w(
            "priya.shah",
            "github_fine_grained_pat_granted",
            "25001",
            "critical",
        ),
        w(
            "kiran.patel",
            "github_outside_collaborator",
            "user/2001",
            "high",
        ),
        w(
            "sam.rivera",
            "github_invitation_pending",
            "invitation/5001",
            "medium",
        ),
    ]
    .into_iter()
    .collect();
    assert_eq!(got, want, "\n{}", text(&out));

    let cov = coverage(dir, "r");
    for l in [
        "maria.lopez",
        "jdoe",
        "tom.chen",
        "priya.shah",
        "kiran.patel",
        "sam.rivera",
    ] {
        assert_eq!(cov[&format!("{l}@acme.example")].0, "residual", "{l}");
    }
    assert_eq!(cov["r.okoro@acme.example"].0, "no_account");
    // John Doe is matched exactly through SAML, never to the look-alike jdoe-acme.
    assert!(
        cov["jdoe@acme.example"].1.contains("jdoe (exact: email)"),
        "{}",
        cov["jdoe@acme.example"].1
    );
    assert!(!std::fs::read_to_string(dir.join("r/findings.csv"))
        .unwrap()
        .contains("jdoe-acme"));

    // Read-only: GETs, plus the two POSTs reading needs (GraphQL query, installation token).
    for r in gh.requests() {
        let m = r["method"].as_str().unwrap();
        let p = r["path"].as_str().unwrap();
        assert!(
            m == "GET"
                || (m == "POST" && (p.ends_with("/graphql") || p.ends_with("/access_tokens"))),
            "scan sent {m} {p}"
        );
    }
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("r/manifest.json")).unwrap()).unwrap();
    let sys = &manifest["systems"][0];
    assert_eq!(
        sys["requests"].as_u64().unwrap() as usize,
        gh.requests().len(),
        "manifest counts every request"
    );
    assert!(sys["authenticated_as"]
        .as_str()
        .unwrap()
        .contains("installation 7890123"));
    assert!(
        sys["notes"].to_string().contains("full listing"),
        "{}",
        sys["notes"]
    );
    assert!(
        sys["notes"].to_string().contains("rate limit:"),
        "{}",
        sys["notes"]
    );
    // No secret in any output: the token, and the installation token the server minted.
    let all = all_output(&out, &dir.join("r"));
    assert!(!all.contains(TOKEN) && !all.contains("ghs_") && !all.contains("PRIVATE KEY"));
}

#[test]
fn github_plain_token_cannot_list_fine_grained_pats_and_says_so() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let gh = server(&["--scenario", &main_scenario()], None);
    std::fs::write(dir.join("leavers.csv"), LEAVERS).unwrap();
    config(dir, &gh.endpoint(), &token_auth(), "");
    let out = scan(dir, "r");
    assert_eq!(code(&out), 3, "{}", text(&out));
    for (l, (o, d)) in coverage(dir, "r") {
        assert_eq!(
            o, "error",
            "{l}: a gap in one check is an error for every leaver"
        );
        assert!(
            d.contains("personal-access-tokens") && d.contains("403"),
            "{l}: {d}"
        );
    }
    // What could be read is still reported.
    assert!(csv_rows(&dir.join("r/findings.csv"))
        .iter()
        .any(|f| f["check_id"] == "github_org_member"));
}

#[test]
fn github_failures_fail_closed() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let (key, public) = rsa_keys(dir);
    let gh = server(&["--scenario", &main_scenario()], Some(&public));
    std::fs::write(dir.join("leavers.csv"), LEAVERS).unwrap();
    config(
        dir,
        &gh.endpoint(),
        &app_auth(&key),
        "max_attempts = 2\nrequest_timeout_secs = 1",
    );
    let cases = [
        (
            "members-502",
            serde_json::json!([{"path_regex": "/orgs/acme/members", "kind": "status", "status": 502}]),
            "server error",
        ),
        (
            "creds-garbage",
            serde_json::json!([{"path_regex": "credential-authorizations", "kind": "garbage"}]),
            "not the expected JSON",
        ),
        (
            "keys-timeout",
            serde_json::json!([{"path_regex": "/keys", "kind": "delay", "delay_seconds": 5}]),
            "timed out",
        ),
        (
            "token-401",
            serde_json::json!([{"path_regex": "access_tokens", "kind": "status", "status": 401}]),
            "could not authenticate",
        ),
    ];
    for (name, rules, words) in cases {
        gh.faults(rules);
        let t = Instant::now();
        let out = scan(dir, name);
        assert_eq!(code(&out), 3, "{name}\n{}", text(&out));
        assert!(t.elapsed().as_secs() < 60, "{name} stalled");
        for (l, (o, d)) in coverage(dir, name) {
            assert_eq!(o, "error", "{name} {l}: {d}");
            assert!(d.contains(words), "{name} {l}: should say {words:?}: {d}");
        }
    }
}

#[test]
fn github_rate_limits_wait_then_complete_or_report_incomplete() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let (key, public) = rsa_keys(dir);
    let gh = server(&["--scenario", &main_scenario()], Some(&public));
    std::fs::write(dir.join("leavers.csv"), LEAVERS).unwrap();
    // Secondary limit (403 + retry-after) and primary exhaustion with a near reset: waits.
    config(dir, &gh.endpoint(), &app_auth(&key), "");
    gh.faults(serde_json::json!([
        {"path_regex": "/outside_collaborators", "kind": "secondary_rate_limit", "retry_after": 1, "times": 1},
        {"path_regex": "/invitations", "kind": "exhaust", "reset_in": 2},
    ]));
    let t = Instant::now();
    let out = scan(dir, "waited");
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(t.elapsed().as_secs() >= 2, "the scan waited for the reset");
    assert_eq!(csv_rows(&dir.join("waited/findings.csv")).len(), 14);
    // A reset further away than the scan may wait: incomplete, named.
    config(
        dir,
        &gh.endpoint(),
        &app_auth(&key),
        "max_rate_limit_wait_secs = 1",
    );
    gh.faults(
        serde_json::json!([{"path_regex": "/orgs/acme/repos", "kind": "exhaust", "reset_in": 120}]),
    );
    let out = scan(dir, "gave-up");
    assert_eq!(code(&out), 3, "{}", text(&out));
    let cov = coverage(dir, "gave-up");
    assert!(
        cov.values()
            .all(|(o, d)| o == "error" && d.contains("rate limit")),
        "{cov:?}"
    );
}

fn generated(dir: &Path, spec: &str) -> (Peer, Vec<String>) {
    let scenario = dir.join(format!("scenario-{}.json", spec.replace(':', "-")));
    let out = Command::new(python())
        .arg(repo().join("tests/harness/github_server.py"))
        .args(["--generate-scale", spec, "--dump-scenario"])
        .arg(&scenario)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s: serde_json::Value = serde_json::from_slice(&std::fs::read(&scenario).unwrap()).unwrap();
    let logins = s["meta"]["leavers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["login"].as_str().unwrap().to_string())
        .collect();
    (
        server(&["--scenario", scenario.to_str().unwrap()], None),
        logins,
    )
}

/// 50,000 members and 3 leavers with known logins: three membership lookups beat 500 pages.
/// 300 members and 40 leavers: listing (3 pages, following Link to the end) wins.
#[test]
fn github_planner_targets_a_huge_org_and_lists_a_small_one() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let (gh, logins) = generated(dir, "50000:20:3");
    let csv: String = logins
        .iter()
        .map(|l| format!("{l}@acme.example,2026-11-15,,{l}\n"))
        .collect();
    std::fs::write(
        dir.join("leavers.csv"),
        format!("email,departure_date,name,github_login\n{csv}"),
    )
    .unwrap();
    // A plain token: the PAT listing gap is expected here; the point is the request count.
    config(dir, &gh.endpoint(), &token_auth(), "");
    let out = scan(dir, "big");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("big/manifest.json")).unwrap()).unwrap();
    let sys = &manifest["systems"][0];
    assert!(
        sys["notes"]
            .to_string()
            .contains("targeted lookups (3 candidate logins"),
        "{}\n{}",
        sys["notes"],
        text(&out)
    );
    let requests = sys["requests"].as_u64().unwrap();
    eprintln!("50,000-member org, 3 leavers: {requests} requests");
    assert!(requests < 60, "{requests} requests for 3 leavers");
    let members = csv_rows(&dir.join("big/findings.csv"))
        .into_iter()
        .filter(|f| f["check_id"] == "github_org_member")
        .count();
    assert_eq!(members, 3);
    // Regression (fail-open review #1): a targeted snapshot replayed with a leavers file that
    // names someone it never looked up must say so, not report "no account".
    std::fs::write(
        dir.join("more.csv"),
        format!("email,departure_date,name,github_login\n{csv}user00007@acme.example,2026-11-15,,user00007\n"),
    )
    .unwrap();
    let replay = residual(
        dir,
        &[
            "scan",
            "--leavers",
            "more.csv",
            "--snapshot",
            "big/snapshot.json",
            "--out",
            "replay",
            "--as-of",
            AS_OF,
        ],
        &[],
    );
    assert_eq!(code(&replay), 3, "{}", text(&replay));
    let row = csv_rows(&dir.join("replay/coverage.csv"))
        .into_iter()
        .find(|r| r["leaver_id"] == "user00007@acme.example")
        .unwrap();
    assert_eq!(row["outcome"], "error", "{row:?}");
    assert!(row["detail"].contains("not looked up"), "{row:?}");

    let (gh2, _) = generated(dir, "300:10:40");
    let scenario: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("scenario-300-10-40.json")).unwrap())
            .unwrap();
    let leavers: Vec<&str> = scenario["meta"]["leavers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["login"].as_str().unwrap())
        .collect();
    let csv: String = leavers
        .iter()
        .map(|l| format!("{l}@acme.example,2026-11-15\n"))
        .collect();
    std::fs::write(
        dir.join("leavers.csv"),
        format!("email,departure_date\n{csv}"),
    )
    .unwrap();
    config(dir, &gh2.endpoint(), &token_auth(), "");
    let out = scan(dir, "small");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("small/manifest.json")).unwrap()).unwrap();
    assert!(
        manifest["systems"][0]["notes"]
            .to_string()
            .contains("full listing"),
        "{}",
        text(&out)
    );
    assert_eq!(
        manifest["systems"][0]["accounts_enumerated"], 300,
        "all three member pages were read"
    );
    let members: BTreeSet<String> = csv_rows(&dir.join("small/findings.csv"))
        .into_iter()
        .filter(|f| f["check_id"] == "github_org_member")
        .map(|f| f["leaver_id"].clone())
        .collect();
    assert_eq!(members.len(), 40);
}

/// Regression (fail-open review #2): a token whose user is not an org member sees public
/// members only and gets 404 for concealed ones, which would read as "not a member". The scan
/// refuses such a token instead.
#[test]
fn github_token_of_a_non_member_is_refused() {
    let outsider = "ghp_residualOutsiderToken00000000000002";
    let gh = server(
        &[
            "--scenario",
            &main_scenario(),
            "--token",
            &format!("{outsider}=lee-vendor"),
        ],
        None,
    );
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    std::fs::write(dir.join("leavers.csv"), LEAVERS).unwrap();
    config(dir, &gh.endpoint(), "token_env = \"OUTSIDER_TOKEN\"", "");
    let out = residual(
        dir,
        &[
            "scan",
            "--leavers",
            "leavers.csv",
            "--out",
            "r",
            "--as-of",
            AS_OF,
        ],
        &[("OUTSIDER_TOKEN", outsider)],
    );
    assert_eq!(code(&out), 3, "{}", text(&out));
    for r in csv_rows(&dir.join("r/coverage.csv")) {
        assert_eq!(r["outcome"], "error", "{r:?}");
        assert!(r["detail"].contains("not a member"), "{r:?}");
    }
}

/// Issue 15 on the schema-checked server: a mover keeps their membership; the team of the old
/// role they are still in is the finding, a listed team they left is none, and the command
/// removes the membership only.
#[test]
fn github_mover_still_in_the_old_team() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let gh = server(&["--scenario", &main_scenario()], None);
    std::fs::write(
        dir.join("leavers.csv"),
        "email,departure_date,status,revoke\ntom.chen@acme.example,2026-11-05,mover,github:team/platform;github:team/security\n",
    )
    .unwrap();
    config(dir, &gh.endpoint(), &token_auth(), "");
    let out = scan(dir, "r");
    assert_eq!(code(&out), 1, "{}", text(&out));
    let rows = csv_rows(&dir.join("r/findings.csv"));
    let got: Vec<(&str, &str, &str)> = rows
        .iter()
        .map(|f| {
            (
                f["check_id"].as_str(),
                f["resource_name"].as_str(),
                f["severity"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![(
            "github_entitlement_retained",
            "github:team/platform",
            "high"
        )],
        "{}",
        text(&out)
    );
    assert!(
        rows[0]["remediation"]
            .ends_with("Command: gh api -X DELETE /orgs/acme/teams/platform/memberships/tchen"),
        "{}",
        rows[0]["remediation"]
    );
    let cov = coverage(dir, "r");
    let (o, d) = &cov["tom.chen@acme.example"];
    assert!(
        o == "residual" && d.contains("2 listed entitlement(s)"),
        "{o} {d}"
    );
}
