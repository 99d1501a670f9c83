//! The report folder (docs/reports.md). Each format is a [`Render`] that turns the [`Report`] into the
//! bytes of one file; this module writes each file atomically (temp file, then rename) and
//! writes `manifest.json` last, with the sha256 of every other file. A folder without a
//! manifest, or whose manifest says `complete: false`, is not a finished report.
//!
//! Every text value passes through the redaction filter on its way out: the estate holds no
//! secrets by design, and this is the second lock on that door.

pub mod csv;
pub mod html;
pub mod json;
pub mod markdown;
pub mod ocsf;
pub mod sign;

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use residual_probe::Snapshot;
use serde::Serialize;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::evaluate::Evaluation;

/// 2: `finding_id` includes the system; coverage may say `unverified`; manifest `report_complete` /
/// `scan_complete`.
pub const SCHEMA_VERSION: u32 = 2;

pub use residual_probe::rfc3339;

/// Everything a report is made of.
pub struct Report<'a> {
    pub meta: &'a ScanMeta,
    pub evaluation: &'a Evaluation,
    pub snapshot: &'a Snapshot,
}

/// Facts about the scan itself, for the manifest and the summaries.
#[derive(Debug, Clone, Serialize)]
pub struct ScanMeta {
    pub scan_id: String,
    pub tool_version: String,
    pub git_commit: String,
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub as_of: OffsetDateTime,
    pub command_line: Vec<String>,
    pub leavers_file: String,
    pub leavers_sha256: String,
    pub leavers_rows: usize,
    pub leavers_count: usize,
    pub config_file: Option<String>,
    pub config_sha256: Option<String>,
    /// `collected` or the snapshot file re-evaluated.
    pub snapshot_source: String,
    pub sla_hours: u32,
    pub fail_on: String,
    /// `--checks FILE` and its sha256: check metadata the user changed.
    pub checks_override: Option<(String, String)>,
    /// The formats written (what `verify` expects to find).
    pub formats: Vec<String>,
}

/// One output file's renderer.
pub trait Render {
    fn file_name(&self) -> &'static str;
    fn render(&self, report: &Report) -> anyhow::Result<Vec<u8>>;
}

/// Output formats by `--format` name; `csv` is two files.
pub fn renderers(formats: &[String], csv_bom: bool) -> anyhow::Result<Vec<Box<dyn Render>>> {
    let mut out: Vec<Box<dyn Render>> = Vec::new();
    for f in formats {
        match f.as_str() {
            "csv" => {
                out.push(Box::new(csv::FindingsCsv { bom: csv_bom }));
                out.push(Box::new(csv::CoverageCsv { bom: csv_bom }));
            }
            "json" => out.push(Box::new(json::FindingsJson)),
            "md" => out.push(Box::new(markdown::Summary)),
            "html" => out.push(Box::new(html::Page)),
            "ocsf" => out.push(Box::new(ocsf::Events)),
            other => anyhow::bail!("unknown format {other:?}"),
        }
    }
    Ok(out)
}

pub const BUILT_FORMATS: &[&str] = &["csv", "json", "ocsf", "html", "md"];

/// A shard's copy of the leavers file, byte for byte (`residual merge` evaluates again).
pub const LEAVERS_COPY: &str = "leavers.input";

/// A file written as given (hashed in the manifest like every other).
pub struct RawFile {
    pub name: &'static str,
    pub bytes: Vec<u8>,
}

impl Render for RawFile {
    fn file_name(&self) -> &'static str {
        self.name
    }
    fn render(&self, _: &Report) -> anyhow::Result<Vec<u8>> {
        Ok(self.bytes.clone())
    }
}

/// Writing the report failed after the scan ran: exit 4, naming the path. Temp files are
/// removed; the manifest, written last, is missing, so `verify` refuses the folder.
#[derive(Debug)]
pub struct WriteError {
    pub path: PathBuf,
    pub source: std::io::Error,
}

impl std::fmt::Display for WriteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "cannot write the report: {}: {}",
            residual_probe::text::printable(&self.path.display().to_string()),
            self.source
        )
    }
}

impl std::error::Error for WriteError {}

fn write_err(path: &Path) -> impl FnOnce(std::io::Error) -> WriteError + '_ {
    move |source| WriteError {
        path: path.to_path_buf(),
        source,
    }
}

/// Create (or adopt, when it exists, is a real folder and is empty) the report folder,
/// private to the user (0700). A symlink, a file or a non-empty folder is refused.
pub fn create_folder(dir: &Path) -> Result<(), crate::InputError> {
    let refuse = |m: &str| crate::InputError {
        file: dir.display().to_string(),
        line: None,
        field: Some("--out".into()),
        message: m.to_string(),
    };
    match std::fs::symlink_metadata(dir) {
        Ok(m) if m.file_type().is_symlink() => {
            return Err(refuse("is a symbolic link; choose a new folder"))
        }
        Ok(m) if !m.is_dir() => return Err(refuse("is a file; choose a new folder")),
        Ok(_) => {
            let mut entries = std::fs::read_dir(dir)
                .map_err(|e| refuse(&format!("cannot read the folder: {e}")))?;
            if entries.next().is_some() {
                return Err(refuse(
                    "folder exists and is not empty; choose a new folder",
                ));
            }
        }
        Err(_) => {
            if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent)
                    .map_err(|e| refuse(&format!("cannot create its parent folder: {e}")))?;
            }
            let mut b = std::fs::DirBuilder::new();
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
            b.create(dir)
                .map_err(|e| refuse(&format!("cannot create the folder: {e}")))?;
        }
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| refuse(&format!("cannot make the folder private: {e}")))?;
    }
    // Writable? Find out now, not after the scan.
    let probe = dir.join(format!(".residual-write-check-{}", std::process::id()));
    open_new(&probe).map_err(|e| refuse(&format!("cannot write in the folder: {e}")))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// A new file, private (0600), refusing to follow or replace anything already there.
fn open_new(path: &Path) -> std::io::Result<std::fs::File> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    o.open(path)
}

/// Write `bytes` to `dir/name` through a temp file and a rename, so a reader never sees half
/// a file. The temp file is created exclusively (a planted file or symlink is refused, not
/// followed) and removed on any failure. Returns the sha256.
pub fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<String, WriteError> {
    let tmp = dir.join(format!(".{name}.tmp"));
    let dest = dir.join(name);
    let result = (|| {
        let mut f = open_new(&tmp).map_err(write_err(&tmp))?;
        f.write_all(bytes).map_err(write_err(&tmp))?;
        f.sync_all().map_err(write_err(&tmp))?;
        std::fs::rename(&tmp, &dest).map_err(write_err(&dest))
    })();
    if result.is_err() {
        // Only our own temp file: a planted one made `open_new` fail before we wrote it.
        if let Err(e) = &result {
            if e.path != tmp || e.source.kind() != std::io::ErrorKind::AlreadyExists {
                let _ = std::fs::remove_file(&tmp);
            }
        }
    }
    result?;
    Ok(hex::encode(Sha256::digest(bytes)))
}

/// The files a format list writes (besides the manifest): what `verify` requires.
pub fn files_for(formats: &[String]) -> Vec<&'static str> {
    let mut out = vec!["snapshot.json"];
    for f in formats {
        out.extend(match f.as_str() {
            "csv" => &["findings.csv", "coverage.csv"][..],
            "json" => &["findings.json"][..],
            "ocsf" => &["findings.ocsf.json"][..],
            "html" => &["report.html"][..],
            "md" => &["summary.md"][..],
            _ => &[][..],
        });
    }
    out.sort();
    out
}

#[derive(Debug, Serialize)]
struct SystemFacts<'a> {
    system: &'a str,
    instance: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<&'a str>,
    status: &'static str,
    error: Option<String>,
    authenticated_as: Option<&'a str>,
    #[serde(with = "time::serde::rfc3339::option")]
    observed_at: Option<OffsetDateTime>,
    accounts_enumerated: u64,
    requests: u64,
    gaps: Vec<String>,
    notes: &'a [String],
}

/// Write every file of the report, then the manifest. Returns the folder.
pub fn write_folder(
    dir: &Path,
    report: &Report,
    renderers: &[Box<dyn Render>],
    exit_code: i32,
    sign_key: Option<&ed25519_dalek::SigningKey>,
) -> anyhow::Result<PathBuf> {
    // The folder was created (private, empty) by `create_folder` before the scan.
    let mut files = std::collections::BTreeMap::new();
    for r in renderers {
        let bytes = r.render(report)?;
        files.insert(
            r.file_name().to_string(),
            write_atomic(dir, r.file_name(), &bytes)?,
        );
    }
    let snap = residual_probe::redact::to_json_pretty(report.snapshot)?.into_bytes();
    files.insert(
        "snapshot.json".into(),
        write_atomic(dir, "snapshot.json", &snap)?,
    );

    let m = report.meta;
    let systems: Vec<SystemFacts> = report
        .snapshot
        .systems
        .iter()
        .map(|s| SystemFacts {
            system: &s.system,
            instance: &s.instance,
            title: s.title.as_deref(),
            status: if s.is_complete() {
                "complete"
            } else {
                "failed"
            },
            error: match &s.status {
                residual_probe::CollectStatus::Failed { error } => Some(error.to_string()),
                _ => None,
            },
            authenticated_as: s.authenticated_as.as_deref(),
            observed_at: s.observed_at,
            accounts_enumerated: s.accounts_enumerated,
            requests: s.requests,
            gaps: s
                .gaps
                .iter()
                .map(|g| {
                    format!(
                        "{}{}: {}",
                        g.what,
                        g.account_id
                            .as_ref()
                            .map(|a| format!(" ({a})"))
                            .unwrap_or_default(),
                        g.error
                    )
                })
                .collect(),
            notes: &s.notes,
        })
        .collect();
    let ev = report.evaluation;
    let count = |o: crate::evaluate::Verdict| ev.outcomes(o);
    use crate::evaluate::Verdict::*;
    let manifest = serde_json::json!({
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "residual", "version": m.tool_version, "git_commit": m.git_commit},
        "scan_id": m.scan_id,
        // The folder is finished (this file is written last) — whatever the scan found.
        "report_complete": true,
        // Every leaver × instance was checked (exit code 3 otherwise).
        "scan_complete": !ev.incomplete() && report.snapshot.shard.is_none(),
        "formats": m.formats,
        "signed": sign_key.is_some(),
        "exit_code": exit_code,
        "started_at": rfc3339(m.started_at),
        "finished_at": rfc3339(OffsetDateTime::now_utc()),
        "as_of": rfc3339(m.as_of),
        "command_line": m.command_line.iter().map(|a| residual_probe::redact::redact(a)).collect::<Vec<_>>(),
        "leavers": {"file": m.leavers_file, "sha256": m.leavers_sha256, "rows": m.leavers_rows, "leavers": m.leavers_count},
        "config": {"file": m.config_file, "sha256": m.config_sha256},
        "snapshot_source": m.snapshot_source,
        "sla_hours": m.sla_hours,
        "checks_override": m.checks_override.as_ref().map(|(f, h)| serde_json::json!({"file": f, "sha256": h})),
        "fail_on": m.fail_on,
        "systems": systems,
        "suppressions": ev.suppression_notes,
        "baseline": {"resolved": ev.resolved.len(), "new": ev.findings.iter().filter(|f| f.baseline == Some("new")).count(), "persisting": ev.findings.iter().filter(|f| f.baseline == Some("persisting")).count()},
        "totals": {
            "findings": ev.findings.len(),
            "coverage_rows": ev.coverage.len(),
            "residual": count(Residual), "deprovisioned": count(Deprovisioned),
            "no_account": count(NoAccount), "ambiguous": count(Ambiguous),
            "error": count(Error), "unverified": count(Unverified), "not_departed": count(NotDeparted),
        },
        "files": files,
    });
    let mut manifest = manifest;
    // A shard says which, of how many, by which key, of which config.
    if let Some(sh) = &report.snapshot.shard {
        manifest["shard"] = serde_json::json!({"index": sh.index, "count": sh.count,
            "key": sh.key, "config_sha256": sh.config_sha256, "units": sh.units.len()});
    }
    let text = residual_probe::redact::to_json_pretty(&manifest)?;
    // The signature is written before the manifest it covers, so a folder with a manifest is
    // never missing its signature.
    if let Some(k) = sign_key {
        write_atomic(
            dir,
            "manifest.sig",
            sign::sign(k, text.as_bytes()).as_bytes(),
        )?;
    }
    write_atomic(dir, "manifest.json", text.as_bytes())?;
    Ok(dir.to_path_buf())
}

/// What `verify` found: problems (the folder is not intact) and notes (what it could not
/// prove).
#[derive(Debug, Default)]
pub struct Verification {
    pub problems: Vec<String>,
    pub notes: Vec<String>,
}

/// Check a report folder against its manifest: no symlinks; the manifest finished, listing
/// every file its formats imply; every listed file present with the same sha256; no file it
/// does not list; and the signature, when a key is given (or required).
pub fn verify(
    dir: &Path,
    pubkey: Option<&Path>,
    require_signature: bool,
) -> anyhow::Result<Verification> {
    let mut v = Verification::default();
    let show = |n: &str| residual_probe::text::printable(n).into_owned();
    let meta = std::fs::symlink_metadata(dir)
        .with_context(|| format!("{}: cannot read", dir.display()))?;
    if meta.file_type().is_symlink() {
        v.problems
            .push("the folder is a symbolic link: verify the folder itself".into());
        return Ok(v);
    }
    let mpath = dir.join("manifest.json");
    match std::fs::symlink_metadata(&mpath) {
        Ok(m) if m.file_type().is_symlink() => {
            v.problems
                .push("manifest.json: a symbolic link, not the manifest".into());
            return Ok(v);
        }
        Ok(_) => {}
        Err(_) => {
            v.problems.push(
                "manifest.json: missing (the report was never finished, or was removed)".into(),
            );
            return Ok(v);
        }
    }
    let text = std::fs::read(&mpath).context("reading manifest.json")?;
    let manifest: serde_json::Value = match serde_json::from_slice(&text) {
        Ok(m) => m,
        Err(e) => {
            v.problems.push(format!("manifest.json: not JSON ({e})"));
            return Ok(v);
        }
    };
    let Some(files) = manifest.get("files").and_then(|f| f.as_object()) else {
        v.problems.push("manifest.json: no files table".into());
        return Ok(v);
    };
    // `complete` is how reports before `report_complete` said it.
    let finished = manifest
        .get("report_complete")
        .or_else(|| manifest.get("complete"))
        .and_then(|c| c.as_bool());
    if finished != Some(true) {
        v.problems
            .push("manifest does not mark the report complete".to_string());
    }
    if files.is_empty() {
        v.problems.push("manifest lists no files".into());
    }
    if let Some(formats) = manifest.get("formats").and_then(|f| f.as_array()) {
        let formats: Vec<String> = formats
            .iter()
            .filter_map(|f| f.as_str().map(str::to_string))
            .collect();
        for want in files_for(&formats) {
            if !files.contains_key(want) {
                v.problems.push(format!(
                    "{want}: the manifest's formats imply it, but it is not listed"
                ));
            }
        }
    }
    for (name, want) in files {
        if name.contains('/') || name.contains('\\') || name.contains("..") || name.starts_with('.')
        {
            v.problems
                .push(format!("{}: unsafe file name in manifest", show(name)));
            continue;
        }
        let path = dir.join(name);
        match std::fs::symlink_metadata(&path) {
            Ok(m) if m.file_type().is_symlink() => {
                v.problems
                    .push(format!("{}: a symbolic link, not a file", show(name)));
                continue;
            }
            Ok(m) if !m.is_file() => {
                v.problems.push(format!("{}: not a file", show(name)));
                continue;
            }
            Ok(_) => {}
            Err(_) => {
                v.problems.push(format!("{}: missing", show(name)));
                continue;
            }
        }
        match std::fs::read(&path) {
            Ok(bytes) => {
                let got = hex::encode(Sha256::digest(&bytes));
                if Some(got.as_str()) != want.as_str() {
                    v.problems.push(format!(
                        "{}: changed (sha256 {got}, manifest says {})",
                        show(name),
                        show(want.as_str().unwrap_or("?"))
                    ));
                }
            }
            Err(_) => v.problems.push(format!("{}: cannot be read", show(name))),
        }
    }
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name().to_string_lossy().to_string();
        if name != "manifest.json" && name != "manifest.sig" && !files.contains_key(&name) {
            v.problems
                .push(format!("{}: extra file not in the manifest", show(&name)));
        }
    }
    let sig = dir.join("manifest.sig");
    let has_sig = std::fs::symlink_metadata(&sig).is_ok();
    let signed = manifest.get("signed").and_then(|s| s.as_bool()) == Some(true);
    if signed && !has_sig {
        v.problems
            .push("manifest.sig: missing, though the manifest says the report was signed".into());
    }
    match pubkey {
        Some(k) => v.problems.extend(sign::verify_signature(dir, k)?),
        None if require_signature => v
            .problems
            .push("--require-signature: no signature was checked (pass --pubkey KEY.pub)".into()),
        None if has_sig => v.notes.push(
            "manifest.sig is present but was not checked: pass --pubkey KEY.pub to check it".into(),
        ),
        None => v.notes.push(
            "unsigned: the hashes show the files match the manifest, not that nobody rewrote both"
                .into(),
        ),
    }
    v.problems.sort();
    Ok(v)
}

#[cfg(test)]
mod tests {
    /// A symlink planted at the temp name is refused, never followed: the target keeps its
    /// content and the temp name is left as it was.
    #[cfg(unix)]
    #[test]
    fn write_atomic_refuses_a_planted_temp_file() {
        let d = tempfile::tempdir().unwrap();
        let victim = d.path().join("victim");
        std::fs::write(&victim, "precious").unwrap();
        std::os::unix::fs::symlink(&victim, d.path().join(".findings.csv.tmp")).unwrap();
        let e = super::write_atomic(d.path(), "findings.csv", b"data").unwrap_err();
        assert!(e.to_string().contains(".findings.csv.tmp"), "{e}");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        assert!(!d.path().join("findings.csv").exists());
        // A clean write works, and its file is private.
        let d2 = tempfile::tempdir().unwrap();
        super::write_atomic(d2.path(), "x.csv", b"data").unwrap();
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(d2.path().join("x.csv"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
