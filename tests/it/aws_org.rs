//! An AWS organization on moto, end to end (issue 11): member accounts reached through
//! AssumeRole, a role in one account trusting a leaver's user in another, IAM Identity Center
//! assignments direct and through a group, an account whose role cannot be assumed, and the
//! read-only proof from the request log across every account.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use crate::harness::{code, csv_rows, python, repo, scan, text, Moto};

fn seed(moto: &Moto) -> serde_json::Value {
    let out = Command::new(python())
        .arg(repo().join("tests/harness/seed_org.py"))
        .args(["--endpoint", &moto.endpoint(), "--scenario", "test"])
        .output()
        .expect("run seed_org.py");
    assert!(
        out.status.success(),
        "seeding failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("seeder prints JSON")
}

#[test]
fn aws_organization_accounts_identity_center_and_cross_account_trust() {
    let moto = Moto::start();
    let seed = seed(&moto);
    let seeded = moto.requests().len();
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    std::fs::write(
        dir.join("leavers.csv"),
        "email,departure_date\nlena@acme.example,2026-11-01\nmax@acme.example,2026-11-01\nolga@acme.example,2026-11-01\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("residual.toml"),
        format!(
            "[scan]\nconcurrency = 8\n\n[[aws]]\nname = \"acme\"\nendpoint_url = \"{}\"\norganization_role = \"ResidualAudit\"\n",
            moto.endpoint()
        ),
    )
    .unwrap();
    let out = scan(dir, "r", &[], &[]);
    assert_eq!(
        code(&out),
        3,
        "the unreachable account makes it incomplete\n{}",
        text(&out)
    );

    let acct = |n: &str| seed["accounts"][n].as_str().unwrap().to_string();
    let inst = |n: &str| format!("acme/{}", acct(n));
    let admin = seed["admin_permission_set"].as_str().unwrap();
    let max = seed["max_id"].as_str().unwrap();

    // Exact findings: (check, leaver, instance, resource) → severity.
    let got: BTreeMap<(String, String, String, String), String> =
        csv_rows(&dir.join("r/findings.csv"))
            .into_iter()
            .map(|f| {
                (
                    (
                        f["check_id"].clone(),
                        f["leaver_email"].replace("@acme.example", ""),
                        f["system_instance"].clone(),
                        f["resource_id"].clone(),
                    ),
                    f["severity"].clone(),
                )
            })
            .collect();
    let w = |c: &str, l: &str, i: String, r: String, s: &str| {
        ((c.into(), l.into(), i, r), s.to_string())
    };
    let want: BTreeMap<_, _> = [
        w(
            "aws_iam_access_key_active",
            "lena",
            inst("alpha"),
            seed["lena_key"].as_str().unwrap().into(),
            "high",
        ),
        // A role in beta trusting her user in alpha: cross-account trust, found in beta.
        w(
            "aws_iam_role_trusts_user",
            "lena",
            inst("beta"),
            format!("arn:aws:iam::{}:role/deploy", acct("beta")),
            "high",
        ),
        w(
            "aws_sso_user_active",
            "max",
            "acme/identity-center".into(),
            max.into(),
            "critical",
        ),
        w(
            "aws_sso_account_assignment",
            "max",
            "acme/identity-center".into(),
            format!("{}/{admin}", acct("alpha")),
            "critical",
        ),
        w(
            "aws_sso_account_assignment",
            "max",
            "acme/identity-center".into(),
            format!("{}/{admin}", acct("beta")),
            "critical",
        ),
        w(
            "aws_sso_account_assignment",
            "max",
            "acme/identity-center".into(),
            format!("{}/{admin}", acct("gamma")),
            "critical",
        ),
    ]
    .into_iter()
    .collect();
    assert_eq!(got, want, "\n{}", text(&out));

    // Evidence names the group when the path is through one.
    let findings = csv_rows(&dir.join("r/findings.csv"));
    let via = |account: &str| {
        findings
            .iter()
            .find(|f| f["resource_id"] == format!("{}/{admin}", acct(account)))
            .map(|f| f["evidence"].clone())
            .unwrap()
    };
    assert!(
        via("alpha").contains("through direct assignment"),
        "{}",
        via("alpha")
    );
    assert!(
        via("beta").contains("through group Admins"),
        "{}",
        via("beta")
    );
    // The same-name staff member (Max Mustermann, another email) is nobody's.
    let other = seed["other_id"].as_str().unwrap();
    assert!(findings.iter().all(|f| !f["resource_id"].contains(other)));

    // Coverage: delta could not be assumed — error for every leaver there, named; olga was
    // deleted from the identity store — clean; every account is its own instance.
    let cov: BTreeMap<(String, String), (String, String)> = csv_rows(&dir.join("r/coverage.csv"))
        .into_iter()
        .map(|c| {
            (
                (
                    c["leaver_email"].replace("@acme.example", ""),
                    c["system_instance"].clone(),
                ),
                (c["outcome"].clone(), c["detail"].clone()),
            )
        })
        .collect();
    for l in ["lena", "max", "olga"] {
        let (o, d) = &cov[&(l.to_string(), inst("delta"))];
        assert_eq!(o, "error", "{l}");
        assert!(
            d.contains("AssumeRole") && d.contains("ResidualAudit"),
            "{d}"
        );
    }
    assert_eq!(
        cov[&("olga".into(), "acme/identity-center".into())].0,
        "no_account"
    );
    assert_eq!(cov[&("lena".into(), inst("beta"))].0, "residual");
    assert_eq!(cov[&("lena".into(), inst("gamma"))].0, "no_account");
    let instances: BTreeSet<&String> = cov.keys().map(|(_, i)| i).collect();
    assert_eq!(
        instances.len(),
        6,
        "management + 4 members + identity center: {instances:?}"
    );

    // The manifest says how many accounts there are and how many were scanned, and names
    // each account.
    let manifest = std::fs::read_to_string(dir.join("r/manifest.json")).unwrap();
    assert!(
        manifest.contains("organization: 5 accounts (5 active), 5 scanned"),
        "{manifest}"
    );

    // Read-only, across every account the scan reached.
    let reqs: Vec<serde_json::Value> = moto.requests().into_iter().skip(seeded).collect();
    let accounts: BTreeSet<String> = reqs
        .iter()
        .filter_map(|r| r["account"].as_str().map(str::to_string))
        .collect();
    assert!(accounts.len() >= 4, "requests reached {accounts:?}");
    for r in &reqs {
        let a = r["action"].as_str().unwrap_or("");
        assert!(
            a.starts_with("Get")
                || a.starts_with("List")
                || a.starts_with("Describe")
                || a == "GenerateCredentialReport"
                || a == "AssumeRole",
            "a non-read call: {r}"
        );
    }
    let manifest: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    let counted: u64 = manifest["systems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["requests"].as_u64().unwrap())
        .sum();
    assert_eq!(
        counted as usize,
        reqs.len(),
        "the manifest counts every request sent"
    );
}

/// Identity Center off, and narrowing to chosen accounts: only those are instances.
#[test]
fn aws_organization_narrowed_to_chosen_accounts() {
    let moto = Moto::start();
    let seed = seed(&moto);
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    std::fs::write(
        dir.join("leavers.csv"),
        "email,departure_date\nlena@acme.example,2026-11-01\n",
    )
    .unwrap();
    let alpha = seed["accounts"]["alpha"].as_str().unwrap();
    std::fs::write(
        dir.join("residual.toml"),
        format!(
            "[[aws]]\nname = \"acme\"\nendpoint_url = \"{}\"\norganization_role = \"ResidualAudit\"\norganization_accounts = [\"{alpha}\"]\nidentity_center = false\n",
            moto.endpoint()
        ),
    )
    .unwrap();
    let out = scan(dir, "r", &[], &[]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    let instances: BTreeSet<String> = csv_rows(&dir.join("r/coverage.csv"))
        .into_iter()
        .map(|c| c["system_instance"].clone())
        .collect();
    assert_eq!(instances, BTreeSet::from([format!("acme/{alpha}")]));
}

/// Issue 15 on moto: movers keep their accounts; only the listed entitlements they still hold
/// are findings — an IAM group and the policy it carries, an Identity Center permission set
/// (admin: critical) and group — and a listed one they do not hold is none.
#[test]
fn aws_movers_are_checked_for_the_entitlements_they_must_lose() {
    let moto = Moto::start();
    let seed = seed(&moto);
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    std::fs::write(
        dir.join("leavers.csv"),
        "email,move_date,status,revoke\n\
         lena@acme.example,2026-11-01,mover,aws:group/deployers;aws:policy/ReadOnlyAccess;aws:group/prod-admins\n\
         max@acme.example,2026-11-01,mover,aws-sso:permission-set/AdministratorAccess;aws-sso:group/Admins;aws-sso:permission-set/ReadOnly\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("residual.toml"),
        format!(
            "[scan]\nconcurrency = 8\n\n[[aws]]\nname = \"acme\"\nendpoint_url = \"{}\"\norganization_role = \"ResidualAudit\"\n",
            moto.endpoint()
        ),
    )
    .unwrap();
    let out = scan(dir, "r", &[], &[]);
    assert_eq!(code(&out), 3, "delta cannot be assumed\n{}", text(&out));
    let acct = |n: &str| seed["accounts"][n].as_str().unwrap().to_string();
    let lena = seed["lena_arn"].as_str().unwrap();
    let max = seed["max_id"].as_str().unwrap();
    let got: BTreeMap<(String, String, String), String> = csv_rows(&dir.join("r/findings.csv"))
        .into_iter()
        .map(|f| {
            (
                (
                    f["check_id"].clone(),
                    f["system_instance"].clone(),
                    f["resource_id"].clone(),
                ),
                f["severity"].clone(),
            )
        })
        .collect();
    let alpha = format!("acme/{}", acct("alpha"));
    let w = |c: &str, i: &str, r: String, s: &str| ((c.into(), i.into(), r), s.to_string());
    let want: BTreeMap<_, _> = [
        w(
            "aws_iam_entitlement_retained",
            &alpha,
            format!("{lena}#aws:group/deployers"),
            "high",
        ),
        w(
            "aws_iam_entitlement_retained",
            &alpha,
            format!("{lena}#aws:policy/ReadOnlyAccess"),
            "high",
        ),
        w(
            "aws_sso_entitlement_retained",
            "acme/identity-center",
            format!("{max}#aws-sso:permission-set/AdministratorAccess"),
            "critical",
        ),
        w(
            "aws_sso_entitlement_retained",
            "acme/identity-center",
            format!("{max}#aws-sso:group/Admins"),
            "high",
        ),
    ]
    .into_iter()
    .collect();
    assert_eq!(
        got,
        want,
        "no account finding, no key, no trust: they stay\n{}",
        text(&out)
    );
    let f = std::fs::read_to_string(dir.join("r/findings.json")).unwrap();
    assert!(
        f.contains("through group deployers"),
        "the policy says how it is held"
    );
    let cov: BTreeMap<(String, String), (String, String)> = csv_rows(&dir.join("r/coverage.csv"))
        .into_iter()
        .map(|c| {
            (
                (
                    c["leaver_email"].replace("@acme.example", ""),
                    c["system_instance"].clone(),
                ),
                (c["outcome"].clone(), c["detail"].clone()),
            )
        })
        .collect();
    let (o, d) = &cov[&("lena".into(), alpha.clone())];
    assert!(
        o == "residual" && d.starts_with("moved 2026-11-01T00:00:00Z: 3 listed"),
        "{o} {d}"
    );
    let (o, d) = &cov[&("lena".into(), "acme/identity-center".into())];
    assert!(
        o == "not_departed" && d.contains("none of the listed kinds"),
        "{o} {d}"
    );
    for l in ["lena", "max"] {
        assert_eq!(
            cov[&(l.to_string(), format!("acme/{}", acct("delta")))].0,
            "error",
            "{l}"
        );
    }
}
