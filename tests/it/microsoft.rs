//! The Microsoft probe end to end against `tests/harness/msgraph_server.py`, a local Entra ID
//! token endpoint, Microsoft Graph and Azure Resource Manager whose every Graph body is checked
//! against Graph's own CSDL metadata (`msgraph_schema_check.py`, run here too). Covers the
//! scenario in `fixtures/microsoft/README.md`: exact findings and coverage with a client
//! secret and with a certificate, listing and lookups, read-only, a tenant without the
//! sign-in licence, and the fail-closed paths.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use crate::harness::{all_output, code, csv_rows, python, repo, residual, text, Peer};

const CLIENT: &str = "9a1b2c3d-0000-4000-8000-00000000c0de";
const TENANT: &str = "5f2c7a1e-0b6d-4e8a-9c3f-2d1e0a9b8c7d";
const SECRET: &str = "Zq8~mockClientSecretValue.0123456789abcdef";
const PERMS: &str =
    "User.Read.All,Directory.Read.All,Application.Read.All,AuditLog.Read.All,RoleManagement.Read.Directory";
const AS_OF: &str = "2026-11-26T12:00:00Z";
const I: &str = "acme";
const PROD: &str = "11111111-aaaa-4bbb-8ccc-000000000001";
const DEV: &str = "11111111-aaaa-4bbb-8ccc-000000000002";
const SANDBOX: &str = "11111111-aaaa-4bbb-8ccc-000000000003";

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
        .join("fixtures/microsoft/scenario-main.json")
        .display()
        .to_string()
}

fn server(extra: &[&str], readers: &str) -> Peer {
    let mut args: Vec<String> = vec![
        "--scenario".into(),
        scenario(),
        "--client".into(),
        format!("{CLIENT}={SECRET}"),
        "--grant".into(),
        format!("{CLIENT}={PERMS}"),
        "--arm-reader".into(),
        format!("{CLIENT}={readers}"),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    Peer::start("msgraph_server.py", &args)
}

/// `residual.toml` for the tenant; `auth` is the credential lines, `extra` more keys.
fn setup(dir: &Path, endpoint: &str, auth: &str, extra: &str, scan_extra: &str) {
    std::fs::write(dir.join("leavers.csv"), LEAVERS).unwrap();
    std::fs::write(
        dir.join("residual.toml"),
        format!(
            "[scan]\nconcurrency = 8\n{scan_extra}\n\n[[microsoft]]\nname = \"{I}\"\ntenant = \"acme.example\"\nclient_id = \"{CLIENT}\"\n{auth}\nendpoint = \"{endpoint}\"\n{extra}\n"
        ),
    )
    .unwrap();
}

const SECRET_AUTH: &str = "client_secret_env = \"MS_CLIENT_SECRET\"";

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
        &[("MS_CLIENT_SECRET", SECRET)],
    )
}

type Row = (String, String, String, String);

fn findings(dir: &Path, out: &str) -> BTreeSet<Row> {
    csv_rows(&dir.join(out).join("findings.csv"))
        .into_iter()
        .map(|f| {
            assert_eq!(f["system_instance"], I);
            (
                f["leaver_email"].replace("@acme.example", ""),
                f["check_id"].clone(),
                f["resource_id"].clone(),
                f["severity"].clone(),
            )
        })
        .collect()
}

/// leaver → (outcome, detail)
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

fn uid(n: u32) -> String {
    format!("00000000-0000-4000-8000-00000000{n:04}")
}

fn assignment(scope: &str, guid: &str) -> String {
    format!("{scope}/providers/Microsoft.Authorization/roleAssignments/{guid}")
}

fn expected() -> BTreeSet<Row> {
    let w = |l: &str, c: &str, r: &str, s: &str| {
        (l.to_string(), c.to_string(), r.to_string(), s.to_string())
    };
    let priya = uid(1004);
    [
        // Enabled, signed in after leaving, Global Administrator; Contributor on a resource
        // group, Owner of the sandbox.
        w(
            "jdoe",
            "microsoft_entra_user_enabled",
            &uid(1001),
            "critical",
        ),
        w(
            "jdoe",
            "microsoft_entra_directory_role",
            &format!("{}/directoryRoles/62e90394-69f5-4237-9190-012177145e10", uid(1001)),
            "critical",
        ),
        w(
            "jdoe",
            "microsoft_azure_role_assignment",
            &assignment(
                &format!("/subscriptions/{DEV}/resourceGroups/app-rg"),
                "a0000000-0000-4000-8000-000000000001",
            ),
            "critical",
        ),
        w(
            "jdoe",
            "microsoft_azure_role_assignment",
            &assignment(
                &format!("/subscriptions/{SANDBOX}"),
                "a0000000-0000-4000-8000-000000000004",
            ),
            "critical",
        ),
        // Disabled, but owns an app whose unexpired secret predates her departure (high),
        // one whose secret expired and a service principal without credentials (medium).
        w(
            "maria.lopez",
            "microsoft_entra_app_owned",
            "b0000000-0000-4000-8000-000000000001",
            "high",
        ),
        w(
            "maria.lopez",
            "microsoft_entra_app_owned",
            "b0000000-0000-4000-8000-000000000002",
            "medium",
        ),
        w(
            "maria.lopez",
            "microsoft_entra_app_owned",
            "b0000000-0000-4000-8000-000000000003",
            "medium",
        ),
        // Disabled, a delegated consent and an enterprise app assignment left.
        w(
            "tom.chen",
            "microsoft_entra_oauth2_grant",
            "d0000000-0000-4000-8000-000000000001/d0000000-0000-4000-8000-000000000002",
            "high",
        ),
        w(
            "tom.chen",
            "microsoft_entra_app_role_assignment",
            &format!(
                "{}/appRoleAssignments/d0000000-0000-4000-8000-000000000003/00000000-0000-0000-0000-000000000000",
                uid(1003)
            ),
            "medium",
        ),
        // Disabled; Owner directly, Reader and Helpdesk Administrator through groups.
        w(
            "priya.shah",
            "microsoft_azure_role_assignment",
            &assignment(
                &format!("/subscriptions/{PROD}"),
                "a0000000-0000-4000-8000-000000000002",
            ),
            "critical",
        ),
        w(
            "priya.shah",
            "microsoft_azure_role_assignment",
            &format!(
                "{}#member:{priya}",
                assignment(
                    &format!("/subscriptions/{DEV}"),
                    "a0000000-0000-4000-8000-000000000003"
                )
            ),
            "high",
        ),
        w(
            "priya.shah",
            "microsoft_entra_directory_role",
            &format!("{priya}/directoryRoles/729827e3-9c14-49f7-bb1b-9608f156bbb8/via/e0000000-0000-4000-8000-000000000002"),
            "critical",
        ),
        // Matched by a proxy address only; enabled, no sign-in since leaving.
        w(
            "kiran.patel",
            "microsoft_entra_user_enabled",
            &uid(1005),
            "high",
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
        "tom.chen",
        "priya.shah",
        "kiran.patel",
    ] {
        assert_eq!(cov[l].0, "residual", "{l}: {:?}", cov[l]);
    }
    assert_eq!(
        cov["nadia.quinn"].0, "deprovisioned",
        "{:?}",
        cov["nadia.quinn"]
    );
    for l in ["sam.rivera", "r.okoro"] {
        assert_eq!(cov[l].0, "no_account", "{l}: {:?}", cov[l]);
    }
    assert_eq!(cov["lee.future"].0, "not_departed");
    // The look-alikes (john.doe@, the other Sam Rivera) are nobody's account.
    assert!(
        cov["jdoe"]
            .1
            .starts_with("accounts: jdoe@acme.example (exact"),
        "{:?}",
        cov["jdoe"]
    );
    assert!(
        !cov["sam.rivera"].1.contains("sam.rivera2"),
        "{:?}",
        cov["sam.rivera"]
    );
    assert!(
        cov["kiran.patel"]
            .1
            .contains("kpatel@acmecorp.onmicrosoft.com"),
        "{:?}",
        cov["kiran.patel"]
    );
}

fn assert_read_only(peer: &Peer) {
    let log = peer.requests();
    assert!(log.len() > 10, "{log:?}");
    for r in &log {
        let method = r["method"].as_str().unwrap();
        assert!(
            method == "GET" || (method == "POST" && r["api"] == "login"),
            "scan sent a non-read request: {r}"
        );
    }
}

#[test]
fn microsoft_served_responses_match_the_csdl() {
    let out = Command::new(python())
        .arg(repo().join("tests/harness/msgraph_schema_check.py"))
        .arg("--self-test")
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
fn microsoft_exact_findings_coverage_and_read_only() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let g = server(&[], "*");
    setup(dir, &g.endpoint(), SECRET_AUTH, "", "");
    let out = scan(dir, "r");
    assert_eq!(code(&out), 1, "complete scan with findings\n{}", text(&out));
    assert_eq!(findings(dir, "r"), expected(), "\n{}", text(&out));
    assert_expected_coverage(dir, "r");
    let manifest = std::fs::read_to_string(dir.join("r/manifest.json")).unwrap();
    assert!(
        manifest.contains(&format!("app {CLIENT} in tenant {TENANT}")),
        "{manifest}"
    );
    assert!(manifest.contains("planner: listing"), "{manifest}");
    assert!(manifest.contains("Azure: 3 subscription(s)"), "{manifest}");
    let f = std::fs::read_to_string(dir.join("r/findings.json")).unwrap();
    // Maria's live secret predates her departure; the group's role is removed by taking
    // Priya out of the group; the grant's scopes are called out.
    assert!(
        f.contains("c0000000-0000-4000-8000-000000000001")
            && f.contains("(made before the departure: rotate)"),
        "{f}"
    );
    assert!(
        f.contains(&format!(
            "/v1.0/groups/e0000000-0000-4000-8000-000000000002/members/{}/$ref",
            uid(1004)
        )),
        "{f}"
    );
    assert!(
        f.contains("sensitive scopes mail, files, offline access"),
        "{f}"
    );
    assert_read_only(&g);
    let log = g.requests();
    assert!(log
        .iter()
        .any(|r| r["api"] == "arm" && r["client"] == CLIENT));
    let all = all_output(&out, &dir.join("r"));
    assert!(!all.contains(SECRET), "the client secret reached an output");
}

#[test]
fn microsoft_certificate_and_lookups_agree_with_the_listing() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    // A self-signed certificate and its key, one PEM file for the probe, the certificate
    // alone for the server.
    let script = "import sys, datetime\nfrom cryptography import x509\nfrom cryptography.x509.oid import NameOID\nfrom cryptography.hazmat.primitives import hashes, serialization as s\nfrom cryptography.hazmat.primitives.asymmetric import rsa\nk = rsa.generate_private_key(public_exponent=65537, key_size=2048)\nn = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'residual-scanner')])\nnow = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)\nc = x509.CertificateBuilder().subject_name(n).issuer_name(n).public_key(k.public_key()).serial_number(7).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=730)).sign(k, hashes.SHA256())\ncert = c.public_bytes(s.Encoding.PEM)\nopen(sys.argv[1], 'wb').write(k.private_bytes(s.Encoding.PEM, s.PrivateFormat.PKCS8, s.NoEncryption()) + cert)\nopen(sys.argv[2], 'wb').write(cert)\n";
    let both = dir.join("app.pem");
    let cert = dir.join("app.crt");
    let o = Command::new(python())
        .args(["-c", script])
        .arg(&both)
        .arg(&cert)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let cert_arg = format!("{CLIENT}={}", cert.display());
    let g = server(&["--client-cert", &cert_arg], "*");
    let auth = format!("certificate_file = \"{}\"", both.display());
    setup(dir, &g.endpoint(), &auth, "strategy = \"lookup\"", "");
    let out = scan(dir, "r");
    assert_eq!(code(&out), 1, "\n{}", text(&out));
    assert_eq!(findings(dir, "r"), expected(), "\n{}", text(&out));
    assert_expected_coverage(dir, "r");
    let log = g.requests();
    let lookups = log
        .iter()
        .filter(|r| {
            r["template"] == "/v1.0/users" && r["query"].as_str().unwrap().contains("filter")
        })
        .count();
    // 9 leaver emails, three a request; their 9 local parts as on-premises usernames in one;
    // 3 employee ids in one.
    assert_eq!(lookups, 5, "{log:?}");
    assert_read_only(&g);
    let all = all_output(&out, &dir.join("r"));
    assert!(!all.contains("BEGIN PRIVATE KEY"));
}

#[test]
fn microsoft_without_the_sign_in_licence_names_the_gap() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let g = server(&["--no-premium"], "*");
    setup(dir, &g.endpoint(), SECRET_AUTH, "", "");
    let out = scan(dir, "r");
    assert_eq!(
        code(&out),
        3,
        "a severity gap is incomplete\n{}",
        text(&out)
    );
    let rows = csv_rows(&dir.join("r/findings.csv"));
    let kiran = rows
        .iter()
        .find(|f| {
            f["check_id"] == "microsoft_entra_user_enabled"
                && f["leaver_email"].starts_with("kiran")
        })
        .expect("kiran's finding");
    assert_eq!(kiran["severity"], "critical", "{kiran:?}");
    assert_eq!(kiran["used_after_departure"], "unknown", "{kiran:?}");
    let cov = coverage(dir, "r");
    assert!(
        cov["kiran.patel"]
            .1
            .contains("severity not fully checked: signInActivity"),
        "{:?}",
        cov["kiran.patel"]
    );
    // Nothing else changes: the same findings, severities aside.
    let strip = |s: BTreeSet<Row>| -> BTreeSet<(String, String, String)> {
        s.into_iter().map(|(l, c, r, _)| (l, c, r)).collect()
    };
    assert_eq!(strip(findings(dir, "r")), strip(expected()));
}

/// Every leaver who has departed is `error`, exit 3; returns the details.
fn assert_fails_closed(dir: &Path, out: &str, what: &str, skip: &[&str]) -> String {
    let o = scan(dir, out);
    assert_eq!(code(&o), 3, "{what}: must be incomplete\n{}", text(&o));
    let mut details = String::new();
    for (l, (outcome, detail)) in coverage(dir, out) {
        if l == "lee.future" || skip.contains(&l.as_str()) {
            continue;
        }
        assert_eq!(outcome, "error", "{what}: {l} is {outcome} ({detail})");
        details.push_str(&detail);
        details.push('\n');
    }
    details
}

#[test]
fn microsoft_failures_fail_closed() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    // Reader on prod and dev only.
    let g = server(&[], &format!("{PROD},{DEV}"));
    let settings = "request_timeout_secs = 2\nmax_attempts = 2\nmax_rate_limit_wait_secs = 2";
    setup(dir, &g.endpoint(), SECRET_AUTH, "", settings);

    let no_account = ["sam.rivera", "r.okoro"];
    for (name, rule, skip, want) in [
        (
            "refused-token",
            serde_json::json!({"path_regex": "/oauth2/v2.0/token", "kind": "refuse_token"}),
            &[][..],
            "invalid_client",
        ),
        (
            "unauthorized",
            serde_json::json!({"path_regex": "^/v1.0/users\\?", "kind": "status", "status": 401}),
            &[][..],
            "401",
        ),
        (
            "throttled",
            serde_json::json!({"path_regex": "^/v1.0/users\\?", "kind": "throttle", "retry_after": 30}),
            &[][..],
            "rate limit",
        ),
        (
            "server-error",
            serde_json::json!({"path_regex": "roleManagement/directory/roleAssignments", "kind": "status", "status": 503}),
            &[][..],
            "503",
        ),
        (
            "garbage",
            serde_json::json!({"path_regex": "/oauth2PermissionGrants", "kind": "garbage"}),
            &no_account[..],
            "oauth2PermissionGrants",
        ),
        (
            "held",
            serde_json::json!({"path_regex": "roleAssignments\\?api-version", "kind": "hang", "delay_seconds": 8}),
            &[][..],
            "no answer in time",
        ),
        (
            "short-list",
            serde_json::json!({"path_regex": "^/v1.0/users\\?", "kind": "short_list"}),
            &[][..],
            "does not add up",
        ),
    ] {
        g.faults(rule);
        let d = assert_fails_closed(dir, name, name, skip);
        assert!(d.contains(want), "{name}: {d}");
        assert!(!d.contains(SECRET));
        for l in skip {
            assert_eq!(coverage(dir, name)[*l].0, "no_account", "{name}: {l}");
        }
    }
    g.faults(serde_json::json!([]));

    // A configured subscription the app may not read: the Azure check is blocked for all.
    setup(
        dir,
        &g.endpoint(),
        SECRET_AUTH,
        &format!("subscriptions = [\"{PROD}\", \"{SANDBOX}\"]"),
        settings,
    );
    let d = assert_fails_closed(dir, "sandbox", "unreadable subscription", &[]);
    assert!(d.contains("AuthorizationFailed"), "{d}");

    // Without the Graph permissions: refused, not an empty tenant.
    let g2 = Peer::start(
        "msgraph_server.py",
        &[
            "--scenario".into(),
            scenario(),
            "--client".into(),
            format!("{CLIENT}={SECRET}"),
            "--grant".into(),
            format!("{CLIENT}=AuditLog.Read.All"),
        ],
    );
    setup(dir, &g2.endpoint(), SECRET_AUTH, "azure = false", settings);
    let d = assert_fails_closed(dir, "no-permission", "no permission", &[]);
    assert!(d.contains("Authorization_RequestDenied"), "{d}");
    assert_read_only(&g);
}
