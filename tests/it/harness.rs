//! Test peers and helpers: a moto server per test (started here, killed on drop), seeding
//! through the Python harness, and running the `residual` binary.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The venv's Python. `scripts/test` creates it; a missing venv fails the test and says why.
pub fn python() -> PathBuf {
    let p = std::env::var_os("RESIDUAL_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join(".venv/bin/python"));
    assert!(
        p.exists(),
        "test Python {} not found: run scripts/test, which creates the venv with moto",
        p.display()
    );
    p
}

/// A fresh RSA key pair (PKCS#8 private, SPKI public; PEM files in `dir`): no private key lives
/// in the repo. For GitHub App JWTs and Okta service-app client assertions.
pub fn rsa_keys(dir: &Path) -> (String, String) {
    let key = dir.join("app.pem");
    let public = dir.join("app.pub.pem");
    let script = "import sys\nfrom cryptography.hazmat.primitives.asymmetric import rsa\nfrom cryptography.hazmat.primitives import serialization as s\nk = rsa.generate_private_key(public_exponent=65537, key_size=2048)\nopen(sys.argv[1], 'wb').write(k.private_bytes(s.Encoding.PEM, s.PrivateFormat.PKCS8, s.NoEncryption()))\nopen(sys.argv[2], 'wb').write(k.public_key().public_bytes(s.Encoding.PEM, s.PublicFormat.SubjectPublicKeyInfo))\n";
    let out = Command::new(python())
        .args(["-c", script])
        .arg(&key)
        .arg(&public)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (key.display().to_string(), public.display().to_string())
}

/// A test peer: a Python server from `tests/harness/` on a free 127.0.0.1 port, with a request
/// log, killed on drop. It writes its port to a file once it is listening.
pub struct Peer {
    child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

impl Peer {
    pub fn start(script: &str, args: &[String]) -> Peer {
        let dir = tempfile::tempdir().expect("tempdir");
        let port_file = dir.path().join("port");
        let log = dir.path().join("requests.jsonl");
        let stderr = std::fs::File::create(dir.path().join("peer.stderr")).unwrap();
        let mut child = Command::new(python())
            .arg(repo().join("tests/harness").join(script))
            .args(["--port", "0", "--port-file"])
            .arg(&port_file)
            .arg("--request-log")
            .arg(&log)
            .args(args)
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {script}: {e}"));
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(s) = std::fs::read_to_string(&port_file) {
                if let Ok(port) = s.trim().parse::<u16>() {
                    return Peer { child, port, dir };
                }
            }
            if let Ok(Some(status)) = child.try_wait() {
                let err =
                    std::fs::read_to_string(dir.path().join("peer.stderr")).unwrap_or_default();
                panic!("{script} exited with {status} before listening:\n{err}");
            }
            assert!(
                Instant::now() < deadline,
                "{script} did not start within 60 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Request log lines so far (one JSON object per request).
    pub fn requests(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.dir.path().join("requests.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("request log line is JSON"))
            .collect()
    }

    pub fn faults(&self, rules: serde_json::Value) {
        let (status, body) = http(self.port, "POST", "/_harness/faults", &rules.to_string());
        assert_eq!(status, 200, "setting faults: {body}");
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// moto behind `moto_launcher.py` (extra IAM actions, request log, faults, paging).
pub struct Moto {
    peer: Peer,
    pub port: u16,
}

impl Moto {
    pub fn start() -> Moto {
        let peer = Peer::start("moto_launcher.py", &[]);
        Moto {
            port: peer.port,
            peer,
        }
    }

    pub fn endpoint(&self) -> String {
        self.peer.endpoint()
    }

    /// Seed a scenario through boto3; returns the JSON the seeder prints.
    pub fn seed(&self, scenario: &str, extra: &[&str]) -> serde_json::Value {
        let out = Command::new(python())
            .arg(repo().join("tests/harness/seed_iam.py"))
            .args(["--endpoint", &self.endpoint(), "--scenario", scenario])
            .args(extra)
            .output()
            .expect("run seeder");
        assert!(
            out.status.success(),
            "seeding failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("seeder prints JSON")
    }

    pub fn requests(&self) -> Vec<serde_json::Value> {
        self.peer.requests()
    }

    pub fn faults(&self, rules: serde_json::Value) {
        self.peer.faults(rules)
    }
}

/// A minimal HTTP/1.1 request to the harness's own endpoints.
pub fn http(port: u16, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect harness");
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let status = resp
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = resp
        .split_once("\r\n\r\n")
        .map(|x| x.1.to_string())
        .unwrap_or_default();
    (status, body)
}

/// Run `residual` with moto-compatible AWS credentials and no ambient config.
pub fn residual(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_residual"));
    cmd.current_dir(cwd)
        .args(args)
        .env_remove("RESIDUAL_LOG")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing-secret-key")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_PROFILE")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/nonexistent/residual-test-config")
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/residual-test-credentials",
        );
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run residual")
}

pub fn code(o: &Output) -> i32 {
    o.status.code().expect("exit code")
}

pub fn text(o: &Output) -> String {
    format!(
        "--- stdout\n{}\n--- stderr\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Read a CSV report file into header-keyed rows.
pub fn csv_rows(path: &Path) -> Vec<std::collections::BTreeMap<String, String>> {
    let mut r = csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let headers = r.headers().unwrap().clone();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            headers
                .iter()
                .zip(rec.iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

pub fn rfc3339(t: time::OffsetDateTime) -> String {
    t.replace_nanosecond(0)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

/// `residual scan --leavers leavers.csv --out OUT [extra…]` in `dir`.
pub fn scan(dir: &Path, out: &str, extra: &[&str], env: &[(&str, &str)]) -> Output {
    let mut args = vec!["scan", "--leavers", "leavers.csv", "--out", out];
    args.extend_from_slice(extra);
    residual(dir, &args, env)
}

/// Everything a run left for a reader: its stdout and stderr and every file of the report
/// folder. Canary tests search it for secrets.
pub fn all_output(out: &Output, report: &Path) -> String {
    let mut all = text(out);
    for e in std::fs::read_dir(report).unwrap_or_else(|e| panic!("{}: {e}", report.display())) {
        all.push_str(&std::fs::read_to_string(e.unwrap().path()).unwrap_or_default());
    }
    all
}
