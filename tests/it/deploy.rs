//! Issue 16: what the engines need, validated offline — the Kubernetes manifests against the
//! Kubernetes OpenAPI schemas (`kubernetes-validate --strict`), the Dockerfile with
//! `hadolint`, the GitHub Actions workflow against the workflow schema (`check-jsonschema`).
//! Each validator is first shown to fail on a broken copy, so a pass means something.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::harness::{python, repo};

/// A validator installed in the test venv, beside its Python.
fn tool(name: &str) -> PathBuf {
    let bin = python().parent().unwrap().join(name);
    assert!(
        bin.is_file(),
        "{} is missing: scripts/test installs it from tests/harness/requirements.txt",
        bin.display()
    );
    bin
}

fn run(name: &str, args: &[&str], file: &Path) -> (bool, String) {
    let o = Command::new(tool(name))
        .args(args)
        .arg(file)
        .output()
        .unwrap();
    (
        o.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
    )
}

#[test]
fn deployment_files_validate_and_the_validators_can_fail() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let k8s = repo().join("deploy/kubernetes");
    let mut manifests: Vec<PathBuf> = std::fs::read_dir(&k8s)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    manifests.sort();
    assert!(manifests.len() >= 4, "{manifests:?}");
    for m in &manifests {
        let (ok, out) = run("kubernetes-validate", &["--strict"], m);
        assert!(ok && out.contains("passed"), "{}: {out}", m.display());
    }
    let job = std::fs::read_to_string(k8s.join("scan-shards.yaml")).unwrap();
    assert!(job.contains("completionMode: Indexed") && job.contains("$(JOB_COMPLETION_INDEX)/4"));
    let broken = dir.join("broken.yaml");
    std::fs::write(&broken, job.replace("completionMode:", "completionMod:")).unwrap();
    let (ok, out) = run("kubernetes-validate", &["--strict"], &broken);
    assert!(!ok, "a misspelt field must fail: {out}");

    let docker = repo().join("Dockerfile");
    let (ok, out) = run("hadolint", &[], &docker);
    assert!(ok, "hadolint: {out}");
    let text = std::fs::read_to_string(&docker).unwrap();
    assert!(
        text.contains("distroless") && text.contains("USER 65532"),
        "non-root, small base"
    );
    let broken = dir.join("Dockerfile");
    std::fs::write(&broken, "FROM debian:latest\nRUN apt-get install curl\n").unwrap();
    let (ok, out) = run("hadolint", &[], &broken);
    assert!(!ok, "hadolint must fail on an unpinned image: {out}");

    let wf = repo().join("deploy/github-actions/residual-scan.yml");
    let args = ["--builtin-schema", "vendor.github-workflows"];
    let (ok, out) = run("check-jsonschema", &args, &wf);
    assert!(ok, "workflow: {out}");
    let text = std::fs::read_to_string(&wf).unwrap();
    assert!(text.contains("schedule:") && text.contains("upload-artifact"));
    let broken = dir.join("wf.yml");
    std::fs::write(&broken, text.replace("runs-on:", "run-on:")).unwrap();
    let (ok, out) = run("check-jsonschema", &args, &broken);
    assert!(!ok, "a misspelt key must fail: {out}");
}
