//! The Vault probe against a real OpenBao dev server (`tests/harness/openbao_launcher.py`, its
//! audit log as the request log), seeded by `seed_vault.py`: exact findings across the root
//! namespace and a child namespace, read-only proof from the audit log, the canary, and the
//! `sudo` gap.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use crate::harness::{all_output, code, csv_rows, python, repo, residual, text, Peer};

const ROOT: &str = "residual-root-token-for-tests";
const CANARY: &str = "CANARY-vault-secret-value-7f3e9a";

fn bao() -> (Peer, serde_json::Value) {
    let peer = Peer::start("openbao_launcher.py", &["--root-token".into(), ROOT.into()]);
    let out = Command::new(python())
        .arg(repo().join("tests/harness/seed_vault.py"))
        .args([
            "--addr",
            &peer.endpoint(),
            "--token",
            ROOT,
            "--scenario",
            "main",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "seeding OpenBao failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seed = serde_json::from_slice(&out.stdout).expect("seed prints JSON");
    (peer, seed)
}

fn setup(dir: &Path, peer: &Peer, seed: &serde_json::Value, token_var: &str) {
    let t = seed["t_mid"].as_str().unwrap();
    let csv: String = ["alice", "bob", "carol", "dave", "erin", "frank"]
        .iter()
        .map(|p| format!("{p}@acme.example,{t}\n"))
        .collect();
    std::fs::write(
        dir.join("leavers.csv"),
        format!("email,departure_date\n{csv}"),
    )
    .unwrap();
    std::fs::write(
        dir.join("residual.toml"),
        format!(
            "[[vault]]\naddr = \"{0}\"\ntoken_env = \"{token_var}\"\nkv_mounts = [\"secret\"]\n\n[[vault]]\naddr = \"{0}\"\ntoken_env = \"{token_var}\"\nnamespace = \"team-a\"\n",
            peer.endpoint()
        ),
    )
    .unwrap();
}

#[test]
fn vault_exact_findings_namespaces_read_only_and_canary() {
    let (peer, seed) = bao();
    assert_eq!(
        seed["namespaces_supported"], true,
        "OpenBao 2.7 dev supports namespaces"
    );
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    setup(dir, &peer, &seed, "RESIDUAL_TEST_VAULT_TOKEN");
    let seeded = peer.requests().len();
    let out = residual(
        dir,
        &["-vv", "scan", "--leavers", "leavers.csv", "--out", "r"],
        &[("RESIDUAL_TEST_VAULT_TOKEN", ROOT)],
    );
    assert_eq!(code(&out), 1, "complete scan with findings\n{}", text(&out));

    let acc = |p: &str| {
        seed["token_accessors"][p]
            .as_str()
            .unwrap_or_else(|| panic!("no accessor for {p}: {seed}"))
            .to_string()
    };
    let ent = |p: &str| seed["entity_ids"][p].as_str().unwrap().to_string();
    let got: BTreeSet<(String, String, String)> = csv_rows(&dir.join("r/findings.csv"))
        .into_iter()
        .map(|f| {
            (
                f["leaver_id"].replace("@acme.example", ""),
                f["check_id"].clone(),
                f["resource_id"].clone(),
            )
        })
        .collect();
    let w = |l: &str, c: &str, r: String| (l.to_string(), c.to_string(), r);
    let want: BTreeSet<_> = [
        w(
            "alice",
            "vault_userpass_user_exists",
            "auth/userpass/users/alice".into(),
        ),
        w("alice", "vault_entity_active", ent("alice")),
        w("alice", "vault_token_valid", acc("alice")),
        w(
            "alice",
            "vault_kv_secret_not_rotated",
            "secret/apps/billing".into(),
        ),
        w(
            "bob",
            "vault_userpass_user_exists",
            "auth/userpass/users/bob".into(),
        ),
        w(
            "carol",
            "vault_userpass_user_exists",
            "auth/userpass/users/carol".into(),
        ),
        w("carol", "vault_entity_active", ent("carol")),
        w("dave", "vault_entity_active", ent("dave")),
        w("dave", "vault_token_valid", acc("dave")),
        w("erin", "vault_token_valid", acc("erin")),
        w(
            "frank",
            "vault_userpass_user_exists",
            "auth/userpass/users/frank".into(),
        ),
        w("frank", "vault_entity_active", ent("frank")),
        w("frank", "vault_token_valid", acc("frank")),
    ]
    .into_iter()
    .collect();
    assert_eq!(got, want, "\n{}", text(&out));
    // bob's entity is disabled and crm was rotated after he left; carol's token expired.
    let cov = std::fs::read_to_string(dir.join("r/coverage.csv")).unwrap();
    assert_eq!(cov.matches(",error,").count(), 0, "{cov}");

    // Read-only: after seeding, the audit log holds reads, lists, and lookup-accessor (a POST
    // that reads) only.
    for r in peer
        .requests()
        .into_iter()
        .skip(seeded)
        .filter(|r| r["type"] == "request")
    {
        let op = r["request"]["operation"].as_str().unwrap_or("?");
        let path = r["request"]["path"].as_str().unwrap_or("?");
        assert!(
            op == "read"
                || op == "list"
                || (op == "update" && path == "auth/token/lookup-accessor"),
            "scan sent {op} {path}"
        );
        assert!(!path.contains("/data/"), "scan read a secret value: {path}");
    }
    let all = all_output(&out, &dir.join("r"));
    for secret in [CANARY, ROOT, seed["no_sudo_token"].as_str().unwrap()] {
        assert!(!all.contains(secret), "{secret} leaked");
    }
}

#[test]
fn vault_token_without_sudo_is_a_named_gap_not_clean() {
    let (peer, seed) = bao();
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    setup(dir, &peer, &seed, "RESIDUAL_TEST_VAULT_TOKEN");
    let out = residual(
        dir,
        &["scan", "--leavers", "leavers.csv", "--out", "r"],
        &[(
            "RESIDUAL_TEST_VAULT_TOKEN",
            seed["no_sudo_token"].as_str().unwrap(),
        )],
    );
    assert_eq!(code(&out), 3, "{}", text(&out));
    let rows = csv_rows(&dir.join("r/coverage.csv"));
    let root: Vec<_> = rows
        .iter()
        .filter(|r| !r["system_instance"].ends_with("team-a"))
        .collect();
    assert!(!root.is_empty());
    for r in root {
        assert_eq!(r["outcome"], "error", "{r:?}");
        assert!(
            r["detail"].contains("sudo") && r["detail"].contains("403"),
            "{r:?}"
        );
    }
}

#[test]
fn vault_unreachable_or_bad_token_fails_closed() {
    let (peer, seed) = bao();
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    setup(dir, &peer, &seed, "RESIDUAL_TEST_VAULT_TOKEN");
    let out = residual(
        dir,
        &["scan", "--leavers", "leavers.csv", "--out", "bad-token"],
        &[("RESIDUAL_TEST_VAULT_TOKEN", "s.not-a-real-token-000000")],
    );
    assert_eq!(code(&out), 3, "{}", text(&out));
    assert!(csv_rows(&dir.join("bad-token/coverage.csv"))
        .iter()
        .all(|r| r["outcome"] == "error" && r["detail"].contains("403")));
    drop(peer);
    // Fewer attempts than the default six keep the test short; the path is the same.
    let cfg = std::fs::read_to_string(dir.join("residual.toml")).unwrap();
    std::fs::write(
        dir.join("residual.toml"),
        format!("[scan]\nmax_attempts = 2\n\n{cfg}"),
    )
    .unwrap();
    let out = residual(
        dir,
        &["scan", "--leavers", "leavers.csv", "--out", "down"],
        &[("RESIDUAL_TEST_VAULT_TOKEN", ROOT)],
    );
    assert_eq!(code(&out), 3, "{}", text(&out));
    assert!(csv_rows(&dir.join("down/coverage.csv"))
        .iter()
        .all(|r| r["outcome"] == "error"));
    assert_eq!(csv_rows(&dir.join("down/findings.csv")).len(), 0);
}

/// Regression: OpenBao answers an empty LIST (no entities, say) with `data: {}` and no keys.
/// That is an empty list — a leaver with nothing there is `no_account`, not `error`. (Her row
/// names her Vault login, `zoe`: an email alone cannot be compared with a Vault that records
/// no emails, which is `unverified`.)
#[test]
fn vault_empty_server_is_clean_not_an_error() {
    let peer = Peer::start("openbao_launcher.py", &["--root-token".into(), ROOT.into()]);
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    std::fs::write(
        dir.join("leavers.csv"),
        "email,departure_date,aliases\nzoe@acme.example,2026-11-01,zoe\n",
    )
    .unwrap();
    std::fs::write(dir.join("residual.toml"), format!("[[vault]]\naddr = \"{}\"\ntoken_env = \"RESIDUAL_TEST_VAULT_TOKEN\"\nkv_mounts = [\"secret\"]\n", peer.endpoint())).unwrap();
    let out = residual(
        dir,
        &["scan", "--leavers", "leavers.csv", "--out", "r"],
        &[("RESIDUAL_TEST_VAULT_TOKEN", ROOT)],
    );
    assert_eq!(code(&out), 0, "{}", text(&out));
    let rows = csv_rows(&dir.join("r/coverage.csv"));
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["outcome"], "no_account", "{:?}", rows[0]);
}

/// Issue 15 on the real OpenBao: a mover who still holds a listed policy and one who does
/// not, a person on leave and one back from it; then the policy removed on the server, a
/// second scan against the first, and the closed path with its time and all-closed line.
#[test]
fn vault_movers_leave_and_proof_of_closure() {
    let (peer, seed) = bao();
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    setup(dir, &peer, &seed, "RESIDUAL_TEST_VAULT_TOKEN");
    let t = seed["t_mid"].as_str().unwrap();
    std::fs::write(
        dir.join("leavers.csv"),
        format!(
            "email,departure_date,status,revoke,return_date\n\
             alice@acme.example,{t},mover,vault:policy/payments,\n\
             carol@acme.example,{t},mover,vault:policy/payments;vault:policy/payments-admin,\n\
             bob@acme.example,{t},mover,vault:policy/billing,\n\
             frank@acme.example,{t},leave,,2099-01-01\n\
             dave@acme.example,2020-01-01,leave,,2020-06-01\n"
        ),
    )
    .unwrap();
    let env = [("RESIDUAL_TEST_VAULT_TOKEN", ROOT)];
    let out = residual(
        dir,
        &["scan", "--leavers", "leavers.csv", "--out", "r"],
        &env,
    );
    assert_eq!(code(&out), 1, "{}", text(&out));
    let ent = |p: &str| seed["entity_ids"][p].as_str().unwrap().to_string();
    let acc = |p: &str| seed["token_accessors"][p].as_str().unwrap().to_string();
    let got: BTreeSet<(String, String, String, String)> = csv_rows(&dir.join("r/findings.csv"))
        .into_iter()
        .map(|f| {
            (
                f["leaver_id"].replace("@acme.example", ""),
                f["system_instance"].clone(),
                f["check_id"].clone(),
                f["resource_id"].clone(),
            )
        })
        .collect();
    let root = csv_rows(&dir.join("r/coverage.csv"))
        .iter()
        .find(|r| r["leaver_id"] == "alice@acme.example")
        .map(|r| r["system_instance"].clone())
        .unwrap();
    let ns = format!("{root}/team-a");
    let w = |l: &str, i: &str, c: &str, r: String| (l.to_string(), i.to_string(), c.to_string(), r);
    let want: BTreeSet<_> = [
        // Alice moved and still holds the policy her old role had; her account is no finding.
        w(
            "alice",
            &root,
            "vault_entitlement_retained",
            format!("{}#vault:policy/payments", ent("alice")),
        ),
        // Carol holds the group's policy through membership, Bob his login's token policy.
        w(
            "carol",
            &root,
            "vault_entitlement_retained",
            format!("{}#vault:policy/payments-admin", ent("carol")),
        ),
        w(
            "bob",
            &root,
            "vault_entitlement_retained",
            "auth/userpass/users/bob#vault:policy/billing".into(),
        ),
        // Frank is on leave: every working path is a finding.
        w(
            "frank",
            &ns,
            "vault_userpass_user_exists",
            "auth/userpass/users/frank".into(),
        ),
        w("frank", &ns, "vault_entity_active", ent("frank")),
        w("frank", &ns, "vault_token_valid", acc("frank")),
    ]
    .into_iter()
    .collect();
    assert_eq!(got, want, "\n{}", text(&out));
    let cov: Vec<_> = csv_rows(&dir.join("r/coverage.csv"));
    let at = |l: &str, i: &str| {
        cov.iter()
            .find(|r| r["leaver_id"] == format!("{l}@acme.example") && r["system_instance"] == i)
            .map(|r| (r["outcome"].clone(), r["detail"].clone()))
            .unwrap()
    };
    assert_eq!(at("alice", &root).0, "residual");
    let (o, d) = at("carol", &root);
    assert!(
        o == "residual" && d.starts_with("moved ") && d.contains("2 listed entitlement(s)"),
        "{o} {d}"
    );
    let f = std::fs::read_to_string(dir.join("r/findings.json")).unwrap();
    assert!(
        f.contains("through identity group payments-team"),
        "how it is held"
    );
    let (o, d) = at("dave", &root);
    assert!(
        o == "not_departed" && d.starts_with("back from leave on 2020-06-01"),
        "{o} {d}"
    );
    let (o, d) = at("frank", &ns);
    assert!(o == "residual" && d.starts_with("on leave "), "{o} {d}");

    // The fix, applied to the server: Alice's entity loses the policy.
    let fix = format!(
        "import json, urllib.request\nr = urllib.request.Request('{}/v1/identity/entity/id/{}', data=json.dumps({{'policies': ['default']}}).encode(), headers={{'X-Vault-Token': '{ROOT}'}}, method='POST')\nurllib.request.urlopen(r).read()\n",
        peer.endpoint(),
        ent("alice")
    );
    let o = Command::new(python()).args(["-c", &fix]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = residual(
        dir,
        &[
            "scan",
            "--leavers",
            "leavers.csv",
            "--out",
            "r2",
            "--baseline",
            "r",
        ],
        &env,
    );
    assert_eq!(code(&out), 1, "{}", text(&out));
    let j: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("r2/findings.json")).unwrap()).unwrap();
    let resolved: Vec<&str> = j["resolved"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["check_id"].as_str().unwrap())
        .collect();
    assert_eq!(resolved, vec!["vault_entitlement_retained"]);
    assert!(j["resolved"][0]["time_to_close_hours"].is_i64());
    let closed: Vec<&str> = j["closed_leavers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["leaver_email"].as_str().unwrap())
        .collect();
    assert_eq!(
        closed,
        vec!["alice@acme.example"],
        "only Alice has nothing left"
    );
    let d = residual(dir, &["diff", "r", "r2"], &[]);
    let t = String::from_utf8_lossy(&d.stdout);
    assert!(
        t.contains("all paths closed for alice@acme.example")
            && !t.contains("all paths closed for frank"),
        "{t}"
    );
}
