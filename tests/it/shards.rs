//! Issue 16: a sharded scan and `residual merge`, on an estate of several units — an AWS
//! organization on moto (each account and the Identity Center a unit, one account that cannot
//! be assumed), two GitHub orgs and an Okta org on their schema-checked servers. For N = 1, 2,
//! 3 and 5 the merged report equals the unsharded one in every file, timestamps and the scan
//! id (which follows the collection time) aside; a missing, duplicated, tampered or foreign
//! shard is caught.

use std::path::Path;
use std::process::Command;

use crate::harness::{code, csv_rows, python, repo, residual, text, Moto, Peer};

const AS_OF: &str = "2026-11-26T12:00:00Z";
const GH_TOKEN: &str = "ghp_residualTestToken0000000000000000001";
const OKTA_TOKEN: &str = "00oktaSuperAdminToken0000000000000000000001";
/// What the evaluation writes: equal to the unsharded scan's (which collected the estate at
/// another moment: its snapshot's notes and request counts are its own).
const EVALUATED: &[&str] = &[
    "findings.csv",
    "coverage.csv",
    "findings.json",
    "findings.ocsf.json",
    "summary.md",
];
/// Every file but the manifest: equal to a replay of the merged snapshot as one scan.
const ALL: &[&str] = &[
    "findings.csv",
    "coverage.csv",
    "findings.json",
    "findings.ocsf.json",
    "summary.md",
    "report.html",
    "snapshot.json",
];

fn same(a: &Path, b: &Path, files: &[&str], what: &str) {
    for f in files {
        let (want, got) = (normal(a, f), normal(b, f));
        if want != got {
            let line = want
                .lines()
                .zip(got.lines())
                .find(|(x, y)| x != y)
                .map(|(x, y)| format!("{}: {x}\n{}: {y}", a.display(), b.display()))
                .unwrap_or_else(|| "lengths differ".into());
            panic!("{what}: {f} differs\n{line}");
        }
    }
}

struct Estate {
    _moto: Moto,
    _peers: Vec<Peer>,
}

fn estate(dir: &Path) -> Estate {
    let moto = Moto::start();
    let out = Command::new(python())
        .arg(repo().join("tests/harness/seed_org.py"))
        .args(["--endpoint", &moto.endpoint(), "--scenario", "test"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let gh = |_: usize| {
        Peer::start(
            "github_server.py",
            &[
                "--scenario".into(),
                repo()
                    .join("fixtures/github/scenario-main.json")
                    .display()
                    .to_string(),
                "--token".into(),
                GH_TOKEN.into(),
            ],
        )
    };
    let (gh1, gh2) = (gh(1), gh(2));
    let okta = Peer::start(
        "okta_server.py",
        &[
            "--scenario".into(),
            repo()
                .join("fixtures/okta/scenario-main.json")
                .display()
                .to_string(),
            "--token".into(),
            format!("{OKTA_TOKEN}=00u1adaadmin0000001"),
        ],
    );
    std::fs::write(
        dir.join("leavers.csv"),
        "email,departure_date,name\nlena@acme.example,2026-11-01,Lena\nmax@acme.example,2026-11-01,Max\nolga@acme.example,2026-11-01,Olga\njdoe@acme.example,2026-11-20,John Doe\nmaria.lopez@acme.example,2026-11-10,Maria Lopez\ntom.chen@acme.example,2026-11-05,Tom Chen\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("residual.toml"),
        format!(
            "[scan]\nconcurrency = 8\n\n[[aws]]\nname = \"acme\"\nendpoint_url = \"{}\"\norganization_role = \"ResidualAudit\"\n\n\
             [[github]]\nname = \"gh-one\"\norg = \"acme\"\napi_url = \"{}\"\ntoken_env = \"GH_T\"\n\n\
             [[github]]\nname = \"gh-two\"\norg = \"acme\"\napi_url = \"{}\"\ntoken_env = \"GH_T\"\n\n\
             [[okta]]\norg_url = \"{}\"\ntoken_env = \"OKTA_T\"\n",
            moto.endpoint(),
            gh1.endpoint(),
            gh2.endpoint(),
            okta.endpoint()
        ),
    )
    .unwrap();
    Estate {
        _moto: moto,
        _peers: vec![gh1, gh2, okta],
    }
}

fn env() -> [(&'static str, &'static str); 2] {
    [("GH_T", GH_TOKEN), ("OKTA_T", OKTA_TOKEN)]
}

fn scan(dir: &Path, out: &str, shard: Option<String>) -> std::process::Output {
    let mut a = vec![
        "scan".to_string(),
        "--leavers".into(),
        "leavers.csv".into(),
        "--as-of".into(),
        AS_OF.into(),
        "--out".into(),
        out.into(),
    ];
    if let Some(s) = shard {
        a.extend(["--shard".into(), s]);
    }
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    residual(dir, &a, &env())
}

/// A report file with what differs between two collections of one estate blanked: times,
/// the scan id (it follows the collection time), request counts (each shard lists the
/// organization), the command line and the snapshot's source.
fn normal(dir: &Path, file: &str) -> String {
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    let id = m["scan_id"].as_str().unwrap().to_string();
    let text = std::fs::read_to_string(dir.join(file))
        .unwrap()
        .replace(&id, "SCANID");
    // The one honest difference: a merged report says it was merged.
    let mut text = text;
    while let Some(i) = text.find(" (merged from shards") {
        let end = text[i..].find(')').map_or(text.len(), |j| i + j + 1);
        text.replace_range(i..end, "");
    }
    // Where the snapshot came from (collected, merged, a replayed file): said, not compared.
    let tag = "<dt>Snapshot</dt><dd>";
    if let Some(i) = text.find(tag) {
        let from = i + tag.len();
        if let Some(j) = text[from..].find(" (collected") {
            text.replace_range(from..from + j, "SOURCE");
        }
    }
    let ts = regex_lite(&text);
    let mut out = String::new();
    for line in ts.lines() {
        let l = if line.contains("\"requests\"") {
            "\"requests\": N".to_string()
        } else {
            line.to_string()
        };
        out.push_str(&l);
        out.push('\n');
    }
    out
}

/// RFC 3339 instants (and the `<timestamp>-<scan id>` style) replaced by `T`.
fn regex_lite(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    let digits =
        |r: std::ops::Range<usize>| r.clone().all(|j| j < b.len() && b[j].is_ascii_digit());
    while i < b.len() {
        // Epoch milliseconds (OCSF times): 13 digits.
        if digits(i..i + 13) && !digits(i + 13..i + 14) && (i == 0 || !b[i - 1].is_ascii_digit()) {
            out.push('E');
            i += 13;
            continue;
        }
        // YYYY-MM-DDTHH:MM:SS[.fff]Z
        if i + 20 <= b.len()
            && digits(i..i + 4)
            && b[i + 4] == b'-'
            && digits(i + 5..i + 7)
            && b[i + 7] == b'-'
            && digits(i + 8..i + 10)
            && b[i + 10] == b'T'
            && digits(i + 11..i + 13)
            && b[i + 13] == b':'
        {
            let mut j = i + 16;
            while j < b.len() && (b[j].is_ascii_digit() || b[j] == b':' || b[j] == b'.') {
                j += 1;
            }
            if j < b.len() && b[j] == b'Z' {
                j += 1;
            }
            out.push('T');
            i = j;
            continue;
        }
        out.push(b[i] as char);
        i += 1;
    }
    out
}

#[test]
fn sharded_scans_merge_into_the_unsharded_report_and_bad_shards_are_caught() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let _estate = estate(dir);
    let full = scan(dir, "full", None);
    assert_eq!(
        code(&full),
        3,
        "one account cannot be assumed\n{}",
        text(&full)
    );
    // Progress people can follow off a terminal: a line per config table, then the table.
    let err = String::from_utf8_lossy(&full.stderr);
    assert!(
        err.contains("residual: collected aws/acme (6 instance(s), 1 not read,"),
        "{err}"
    );
    assert!(err.contains("residual: collected okta/"), "{err}");
    assert!(
        err.contains("INSTANCE") && err.contains("RETRIES") && err.contains("WAITS"),
        "{err}"
    );
    assert!(
        err.lines()
            .any(|l| l.starts_with("github/gh-one") && l.contains(" read ")),
        "{err}"
    );
    let rows = csv_rows(&dir.join("full/coverage.csv")).len();
    assert_eq!(rows, 6 * 9, "six leavers × nine instances");

    for n in [1u32, 2, 3, 5] {
        let mut dirs = Vec::new();
        for k in 0..n {
            let out = format!("s{n}-{k}");
            let o = scan(dir, &out, Some(format!("{k}/{n}")));
            assert!(
                code(&o) <= 3,
                "shard {k}/{n} must write a complete report\n{}",
                text(&o)
            );
            let v = residual(dir, &["verify", &out], &[]);
            assert_eq!(code(&v), 0, "{}", text(&v));
            dirs.push(out);
        }
        let merged = format!("m{n}");
        let mut a = vec!["merge"];
        a.extend(dirs.iter().map(String::as_str));
        a.extend(["--out", &merged]);
        let o = residual(dir, &a, &[]);
        assert_eq!(
            code(&o),
            3,
            "the merge keeps the unsharded verdict\n{}",
            text(&o)
        );
        assert_eq!(code(&residual(dir, &["verify", &merged], &[])), 0);
        same(
            &dir.join("full"),
            &dir.join(&merged),
            EVALUATED,
            &format!("N = {n}, against the unsharded scan"),
        );
        let replay = format!("replay{n}");
        let snap = format!("{merged}/snapshot.json");
        let o = residual(
            dir,
            &[
                "scan",
                "--leavers",
                "leavers.csv",
                "--snapshot",
                &snap,
                "--as-of",
                AS_OF,
                "--out",
                &replay,
            ],
            &[],
        );
        assert_eq!(code(&o), 3, "{}", text(&o));
        same(
            &dir.join(&replay),
            &dir.join(&merged),
            ALL,
            &format!("N = {n}, against its snapshot replayed"),
        );
        let m: serde_json::Value = serde_json::from_slice(
            &std::fs::read(dir.join(&merged).join("manifest.json")).unwrap(),
        )
        .unwrap();
        assert!(m["snapshot_source"]
            .as_str()
            .unwrap()
            .starts_with("collected (merged from shards"));
    }

    // `collect --shard` snapshots, replayed, merge the same way.
    let mut replayed = Vec::new();
    for k in 0..2 {
        let snap = format!("c{k}.json");
        let shard = format!("{k}/2");
        let o = residual(
            dir,
            &[
                "collect",
                "--config",
                "residual.toml",
                "--leavers",
                "leavers.csv",
                "--out",
                &snap,
                "--shard",
                &shard,
            ],
            &env(),
        );
        // 3 for the shard holding the account that cannot be assumed.
        assert!(matches!(code(&o), 0 | 3), "{}", text(&o));
        let out = format!("cr{k}");
        let o = residual(
            dir,
            &[
                "scan",
                "--leavers",
                "leavers.csv",
                "--snapshot",
                &snap,
                "--as-of",
                AS_OF,
                "--out",
                &out,
            ],
            &[],
        );
        assert!(code(&o) <= 3, "{}", text(&o));
        replayed.push(out);
    }
    let o = residual(
        dir,
        &["merge", &replayed[0], &replayed[1], "--out", "mc"],
        &[],
    );
    assert_eq!(code(&o), 3, "{}", text(&o));
    same(
        &dir.join("full"),
        &dir.join("mc"),
        EVALUATED,
        "collected shards, replayed and merged",
    );

    // A shard that never saw a unit another shard says is its own (the estate changed
    // between them): that unit is `error`, not missing from the report.
    // A unit of a single-instance table (the organization's accounts would do too), in
    // whichever shard holds one.
    let (k, mut c0, i) = (0..2)
        .find_map(|k| {
            let c: serde_json::Value =
                serde_json::from_slice(&std::fs::read(dir.join(format!("c{k}.json"))).unwrap())
                    .unwrap();
            let i = c["shard"]["units"]
                .as_array()
                .unwrap()
                .iter()
                .position(|u| u["shard"] == k && u["system"] != "aws")?;
            Some((k, c, i))
        })
        .expect("some shard holds a GitHub or Okta org");
    let gone = c0["shard"]["units"].as_array_mut().unwrap().remove(i);
    let unit = gone["unit"].as_str().unwrap().to_string();
    let pos = c0["systems"]
        .as_array()
        .unwrap()
        .iter()
        .position(|x| x["instance"] == unit.as_str())
        .expect("its instance");
    c0["systems"].as_array_mut().unwrap().remove(pos);
    c0["shard"]["probe_of"].as_array_mut().unwrap().remove(pos);
    std::fs::write(dir.join("c0-changed.json"), c0.to_string()).unwrap();
    let o = residual(
        dir,
        &[
            "scan",
            "--leavers",
            "leavers.csv",
            "--snapshot",
            "c0-changed.json",
            "--as-of",
            AS_OF,
            "--out",
            "cr0x",
        ],
        &[],
    );
    assert!(code(&o) <= 3, "{}", text(&o));
    let other = &replayed[1 - k as usize];
    let o = residual(dir, &["merge", "cr0x", other, "--out", "mcx"], &[]);
    assert_eq!(code(&o), 3, "{}", text(&o));
    let cov = csv_rows(&dir.join("mcx/coverage.csv"));
    let unseen: Vec<_> = cov
        .iter()
        .filter(|r| r["system_instance"] == unit)
        .collect();
    assert_eq!(
        unseen.len(),
        6,
        "{unit} is still in the report, for every leaver"
    );
    assert!(
        unseen
            .iter()
            .all(|r| r["outcome"] == "error" && r["detail"].contains("never saw it")),
        "{unseen:?}"
    );

    // One shard is not a whole scan: not a baseline, not one side of a diff.
    let o = residual(dir, &["diff", "s3-0", "full"], &[]);
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert!(text(&o).contains("merge the shards first"), "{}", text(&o));
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("s3-0/manifest.json")).unwrap()).unwrap();
    assert_eq!(
        m["scan_complete"], false,
        "a shard never reads as a complete scan"
    );

    // A missing shard: what it held is `error` for every leaver, never clean.
    let o = residual(dir, &["merge", "s3-0", "s3-2", "--out", "missing"], &[]);
    assert_eq!(code(&o), 3, "{}", text(&o));
    let cov = csv_rows(&dir.join("missing/coverage.csv"));
    assert_eq!(cov.len(), rows, "every leaver × instance is still there");
    let lost: Vec<_> = cov
        .iter()
        .filter(|r| r["detail"].contains("shard 1/3 is missing"))
        .collect();
    assert!(!lost.is_empty() && lost.iter().all(|r| r["outcome"] == "error"));

    // Duplicated, tampered, foreign.
    let o = residual(
        dir,
        &["merge", "s3-0", "s3-1", "s3-1", "s3-2", "--out", "dup"],
        &[],
    );
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert!(text(&o).contains("again"), "{}", text(&o));
    let f = dir.join("s3-1/coverage.csv");
    let body = std::fs::read_to_string(&f)
        .unwrap()
        .replacen("error", "no_account", 1);
    std::fs::write(&f, body).unwrap();
    let o = residual(
        dir,
        &["merge", "s3-0", "s3-1", "s3-2", "--out", "tampered"],
        &[],
    );
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert!(text(&o).contains("does not verify"), "{}", text(&o));
    let cfg = std::fs::read_to_string(dir.join("residual.toml")).unwrap();
    std::fs::write(
        dir.join("residual.toml"),
        cfg.replace("concurrency = 8", "concurrency = 6"),
    )
    .unwrap();
    let o = scan(dir, "foreign", Some("1/3".into()));
    assert!(code(&o) <= 3);
    let o = residual(
        dir,
        &["merge", "s3-0", "foreign", "s3-2", "--out", "mixed"],
        &[],
    );
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert!(text(&o).contains("its config differs"), "{}", text(&o));
    for d in ["dup", "tampered", "mixed"] {
        assert!(
            !dir.join(d).join("manifest.json").exists(),
            "{d}: no report from a refused merge"
        );
    }
}

/// A bad `--shard` is exit 2 naming the option, before any request; the index may come from a
/// variable an engine sets (AWS Batch).
#[test]
fn shard_option_is_checked_and_may_name_a_variable() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    std::fs::write(
        dir.join("leavers.csv"),
        "email,departure_date\na@acme.example,2026-11-01\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("residual.toml"),
        "[[vault]]\naddr = \"http://127.0.0.1:9\"\ntoken_env = \"V\"\n",
    )
    .unwrap();
    for bad in ["4/4", "x/4", "1/0", "1", "MISSING_INDEX/4"] {
        let o = residual(
            dir,
            &[
                "scan",
                "--leavers",
                "leavers.csv",
                "--shard",
                bad,
                "--out",
                "r",
            ],
            &[("V", "t")],
        );
        assert_eq!(code(&o), 2, "{bad}: {}", text(&o));
        assert!(text(&o).contains("--shard"), "{bad}: {}", text(&o));
        assert!(!dir.join("r").exists(), "{bad}: nothing written");
    }
    // From a variable: shard 1 of 2 holds no unit here (the one table is shard 0's or 1's);
    // either way the run writes a complete shard report.
    let o = residual(
        dir,
        &[
            "scan",
            "--leavers",
            "leavers.csv",
            "--shard",
            "AWS_BATCH_JOB_ARRAY_INDEX/2",
            "--out",
            "r",
        ],
        &[("V", "t"), ("AWS_BATCH_JOB_ARRAY_INDEX", "1")],
    );
    assert!(code(&o) <= 3, "{}", text(&o));
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("r/manifest.json")).unwrap()).unwrap();
    assert_eq!(m["shard"]["index"], 1);
    assert_eq!(m["shard"]["count"], 2);
    assert!(dir.join("r/leavers.input").is_file());
}
