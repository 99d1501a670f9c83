//! `report.html` in a real browser: Debian's Chromium, headless, with the network cut off. The
//! page must render from the one file alone — no request, no console error — and what the
//! browser shows after the page's script ran must agree with `findings.csv` and `coverage.csv`.
//!
//! How "no request" is proven without DevTools: Chromium writes a NetLog (`--log-net-log`) of
//! every URL request it starts, with the page that asked for it. Requests the browser makes for
//! itself (update checks, time sync) carry no page; a request from our `file://` page would.
//! A control page that does fetch something and does throw shows the detector catches both,
//! so a silent log cannot pass for a clean one. DNS resolves nothing and every connection goes
//! to a dead local proxy, so nothing leaves the machine either way.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::{code, csv_rows, repo, residual, text};

/// `RESIDUAL_TEST_CHROMIUM`, else `chromium` on PATH, else `/usr/bin/chromium`. Missing is a
/// failure, never a skip.
fn chromium() -> PathBuf {
    if let Some(p) = std::env::var_os("RESIDUAL_TEST_CHROMIUM") {
        let p = PathBuf::from(p);
        assert!(
            p.is_file(),
            "RESIDUAL_TEST_CHROMIUM={} is not a file (unset it to use `chromium` from PATH)",
            p.display()
        );
        return p;
    }
    let on_path = std::env::var_os("PATH")
        .map(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join("chromium"))
                .find(|p| p.is_file())
        })
        .unwrap_or_default();
    let fallback = PathBuf::from("/usr/bin/chromium");
    on_path
        .or_else(|| fallback.is_file().then_some(fallback))
        .unwrap_or_else(|| {
            panic!(
                "Chromium not found (no `chromium` on PATH, no /usr/bin/chromium): the HTML \
                 report test needs a real browser. Install it with \
                 `apt-get install chromium` (scripts/test does this when run as root), or set \
                 RESIDUAL_TEST_CHROMIUM to a Chromium binary."
            )
        })
}

fn file_url(p: &Path) -> String {
    let mut url = String::from("file://");
    for b in p.to_string_lossy().bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'.' | b'~' => {
                url.push(b as char)
            }
            _ => url.push_str(&format!("%{b:02X}")),
        }
    }
    url
}

/// A URL request Chromium started, from its NetLog.
#[derive(Debug)]
struct Request {
    url: String,
    initiator: String,
    isolation_key: String,
}

impl Request {
    /// Asked for by a page loaded from a file, rather than by the browser itself.
    fn by_page(&self) -> bool {
        self.initiator == "null"
            || self.initiator.starts_with("file:")
            || self.isolation_key.contains("file://")
    }
}

struct Loaded {
    dom: String,
    stderr: String,
    requests: Vec<Request>,
    elapsed: Duration,
}

impl Loaded {
    fn page_requests(&self) -> Vec<&Request> {
        self.requests.iter().filter(|r| r.by_page()).collect()
    }
    /// Console messages Chromium logged (`INFO:CONSOLE…] "message", source: …`).
    fn console(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .filter(|l| l.contains(":CONSOLE") || l.contains("Uncaught"))
            .collect()
    }
}

/// Load `page` in headless Chromium, offline, with a fresh profile; dump the DOM after the
/// page's scripts ran, and optionally a screenshot and a PDF.
fn load(page: &Path, work: &Path, screenshot: Option<&Path>, pdf: Option<&Path>) -> Loaded {
    let bin = chromium();
    let profile = tempfile::tempdir_in(work).expect("profile dir");
    let netlog = work.join(format!(
        "{}.netlog.json",
        page.file_stem().unwrap().to_string_lossy()
    ));
    let out_path = work.join("chromium.stdout");
    let err_path = work.join("chromium.stderr");
    let mut cmd = Command::new(&bin);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--disable-default-apps",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--proxy-server=http://127.0.0.1:9",
        "--proxy-bypass-list=<-loopback>",
        "--enable-logging=stderr",
        "--v=0",
        "--window-size=1280,2400",
        "--hide-scrollbars",
    ])
    .arg(format!("--user-data-dir={}", profile.path().display()))
    .arg(format!("--log-net-log={}", netlog.display()));
    if let Some(s) = screenshot {
        cmd.arg(format!("--screenshot={}", s.display()));
    }
    if let Some(p) = pdf {
        cmd.arg(format!("--print-to-pdf={}", p.display()))
            .arg("--no-pdf-header-footer");
    }
    cmd.arg("--dump-dom")
        .arg(file_url(page))
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap());
    let start = Instant::now();
    let mut child = cmd.spawn().unwrap_or_else(|e| {
        panic!(
            "could not start Chromium at {}: {e}. Install it with `apt-get install chromium`.",
            bin.display()
        )
    });
    let deadline = start + Duration::from_secs(120);
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait for Chromium") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "Chromium did not finish loading {} within 120 s; stderr:\n{}",
                page.display(),
                std::fs::read_to_string(&err_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let elapsed = start.elapsed();
    let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
    assert!(
        status.success(),
        "Chromium ({}) failed on {} with {status}:\n{stderr}",
        bin.display(),
        page.display()
    );
    let dom = std::fs::read_to_string(&out_path).unwrap();
    assert!(
        dom.contains("<html"),
        "Chromium printed no DOM for {}; stderr:\n{stderr}",
        page.display()
    );
    Loaded {
        dom,
        stderr,
        requests: netlog_requests(&netlog),
        elapsed,
    }
}

fn netlog_requests(path: &Path) -> Vec<Request> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("Chromium wrote no NetLog at {}: {e}", path.display()));
    let log: serde_json::Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("NetLog {} is not JSON: {e}", path.display()));
    let start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
        .as_u64()
        .expect("NetLog constants name URL_REQUEST_START_JOB");
    let s = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
    log["events"]
        .as_array()
        .expect("NetLog has events")
        .iter()
        .filter(|e| e["type"].as_u64() == Some(start_job))
        .filter(|e| e["params"]["url"].is_string())
        .map(|e| Request {
            url: s(&e["params"]["url"]),
            initiator: s(&e["params"]["initiator"]),
            isolation_key: s(&e["params"]["network_isolation_key"]),
        })
        .collect()
}

fn decode(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&")
}

/// A start tag from serialised HTML: its name and attributes.
#[derive(Debug)]
struct Tag {
    name: String,
    attrs: BTreeMap<String, String>,
    /// Byte offset just past the tag's `>`.
    end: usize,
}

impl Tag {
    fn get(&self, k: &str) -> Option<&str> {
        self.attrs.get(k).map(String::as_str)
    }
}

/// Every start tag in `html`, in order. Enough for the DOM Chromium serialises: attribute
/// values quoted, text and comments never containing a raw `<` that starts a tag name.
fn tags(html: &str) -> Vec<Tag> {
    let bytes = html.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(off) = html[i..].find('<') {
        let start = i + off + 1;
        i = start;
        if html[start..].starts_with("!--") {
            i = html[start..]
                .find("-->")
                .map(|e| start + e + 3)
                .unwrap_or(html.len());
            continue;
        }
        if !bytes.get(start).is_some_and(|b| b.is_ascii_alphabetic()) {
            continue;
        }
        let mut j = start;
        while j < bytes.len()
            && !bytes[j].is_ascii_whitespace()
            && bytes[j] != b'>'
            && bytes[j] != b'/'
        {
            j += 1;
        }
        let name = html[start..j].to_ascii_lowercase();
        let mut attrs = BTreeMap::new();
        loop {
            while j < bytes.len() && (bytes[j].is_ascii_whitespace() || bytes[j] == b'/') {
                j += 1;
            }
            if j >= bytes.len() || bytes[j] == b'>' {
                break;
            }
            let k0 = j;
            while j < bytes.len()
                && !bytes[j].is_ascii_whitespace()
                && !matches!(bytes[j], b'=' | b'>' | b'/')
            {
                j += 1;
            }
            let key = html[k0..j].to_ascii_lowercase();
            let mut value = String::new();
            if bytes.get(j) == Some(&b'=') {
                j += 1;
                if let Some(&q @ (b'"' | b'\'')) = bytes.get(j) {
                    let v0 = j + 1;
                    let v1 = html[v0..]
                        .find(q as char)
                        .map(|e| v0 + e)
                        .unwrap_or(html.len());
                    value = decode(&html[v0..v1]);
                    j = (v1 + 1).min(html.len());
                } else {
                    let v0 = j;
                    while j < bytes.len() && !bytes[j].is_ascii_whitespace() && bytes[j] != b'>' {
                        j += 1;
                    }
                    value = decode(&html[v0..j]);
                }
            }
            attrs.insert(key, value);
        }
        i = (j + 1).min(html.len());
        out.push(Tag {
            name,
            attrs,
            end: i,
        });
    }
    out
}

/// The serialised element with this id: from its start tag to its matching end tag.
fn element<'a>(html: &'a str, all: &[Tag], id: &str) -> &'a str {
    let t = all
        .iter()
        .find(|t| t.get("id") == Some(id))
        .unwrap_or_else(|| panic!("no element with id={id:?} in the DOM"));
    let open = format!("<{}", t.name);
    let close = format!("</{}>", t.name);
    let start = html[..t.end].rfind(&open).unwrap();
    let mut depth = 1;
    let mut i = t.end;
    while depth > 0 {
        let next_open = html[i..].find(&open).map(|o| i + o);
        let next_close = html[i..]
            .find(&close)
            .map(|c| i + c)
            .unwrap_or_else(|| panic!("<{}> #{id} is not closed", t.name));
        match next_open {
            Some(o) if o < next_close => {
                depth += 1;
                i = o + open.len();
            }
            _ => {
                depth -= 1;
                i = next_close + close.len();
            }
        }
    }
    &html[start..i]
}

fn count(s: Option<&str>) -> usize {
    s.and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("not a count: {s:?}"))
}

#[test]
fn html_report_renders_offline_in_chromium() {
    let work = tempfile::tempdir().unwrap();
    let out = residual(work.path(), &["demo", "--out", "d"], &[]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let dir = work.path().join("d");
    let page = dir.join("report.html");
    assert!(page.is_file(), "demo wrote no report.html");

    // Screenshot and PDF are made here, checked, then kept in tests/artifacts/ (git-ignored)
    // for people to look at.
    let shot = work.path().join("report.png");
    let pdf = work.path().join("report.pdf");

    // The control: a page that fetches and throws must be caught, or the checks below prove
    // nothing.
    let control = work.path().join("control.html");
    std::fs::write(
        &control,
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>control</title></head>\
         <body><img src=\"https://residual-control.invalid/pixel.png\" alt=\"\">\
         <script>console.error('residual-control-error'); residualNoSuchFunction();</script>\
         </body></html>",
    )
    .unwrap();
    let c = load(&control, work.path(), None, None);
    assert!(
        c.page_requests()
            .iter()
            .any(|r| r.url.starts_with("https://residual-control.invalid/")),
        "the NetLog check missed the control page's request; requests seen: {:#?}",
        c.requests
    );
    let console = c.console();
    assert!(
        console.iter().any(|l| l.contains("residual-control-error"))
            && console.iter().any(|l| l.contains("Uncaught")),
        "the console check missed the control page's errors; stderr:\n{}",
        c.stderr
    );

    let r = load(&page, work.path(), Some(&shot), Some(&pdf));
    let artifacts = repo().join("tests/artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    for (from, to) in [
        (&page, "report.html"),
        (&shot, "report.png"),
        (&pdf, "report.pdf"),
    ] {
        if from.is_file() {
            std::fs::copy(from, artifacts.join(to)).unwrap();
        }
    }
    std::fs::write(artifacts.join("report.dom.html"), &r.dom).unwrap();
    eprintln!(
        "report.html loaded in {:.2} s (control page {:.2} s); screenshot {}",
        r.elapsed.as_secs_f64(),
        c.elapsed.as_secs_f64(),
        artifacts.join("report.png").display()
    );

    // No request from the page, no console message of any kind.
    let asked = r.page_requests();
    assert!(asked.is_empty(), "report.html made requests: {asked:#?}");
    assert!(
        r.console().is_empty(),
        "console output from report.html:\n{}",
        r.console().join("\n")
    );

    let dom = &r.dom;
    let all = tags(dom);

    // The script ran to its end (so the CSP hash allows it) and revealed the filter.
    let html_tag = all.iter().find(|t| t.name == "html").unwrap();
    assert_eq!(
        html_tag.get("data-js"),
        Some("ready"),
        "the page script did not run"
    );
    let filter = all
        .iter()
        .find(|t| t.get("id") == Some("coverage-filter"))
        .expect("coverage filter");
    assert!(!filter.attrs.contains_key("hidden"), "filter still hidden");

    // Nothing outside the page: no loading elements, every link a fragment, no attribute an
    // element could fetch from. (URLs may appear as text, such as a SCIM base URL in the scan
    // facts: escaped, never a link.)
    for t in &all {
        assert!(
            !matches!(
                t.name.as_str(),
                "img"
                    | "link"
                    | "iframe"
                    | "object"
                    | "embed"
                    | "audio"
                    | "video"
                    | "source"
                    | "base"
                    | "form"
            ),
            "<{}> in the page: {:?}",
            t.name,
            t.attrs
        );
        for (k, v) in &t.attrs {
            let lower = v.to_ascii_lowercase();
            if matches!(
                k.as_str(),
                "src"
                    | "href"
                    | "xlink:href"
                    | "action"
                    | "formaction"
                    | "poster"
                    | "data"
                    | "srcset"
                    | "background"
                    | "ping"
                    | "manifest"
            ) {
                assert!(
                    v.starts_with('#'),
                    "<{} {k}={v:?}> points outside the page",
                    t.name
                );
            }
            // `url(` only as an in-page reference (`fill="url(#hatch)"`).
            assert!(
                lower.matches("url(").count() == lower.matches("url(#").count(),
                "<{} {k}={v:?}> refers to something outside the page",
                t.name
            );
            assert!(
                k != "style",
                "<{} style=…>: the CSP forbids inline styles",
                t.name
            );
        }
        if t.name == "script" {
            assert!(!t.attrs.contains_key("src"), "external script");
        }
    }
    for bad in ["url(http", "url(//", "@import", "src=\"http", "href=\"http"] {
        assert!(!dom.contains(bad), "{bad} in the page");
    }

    let findings = csv_rows(&dir.join("findings.csv"));
    let coverage = csv_rows(&dir.join("coverage.csv"));
    let open: Vec<_> = findings.iter().filter(|f| f["status"] == "open").collect();

    // Severity chart: one segment per system instance × severity with the CSV's count.
    let chart = element(dom, &all, "chart-severity");
    let mut want: BTreeMap<(String, String, String), usize> = BTreeMap::new();
    for f in &open {
        *want
            .entry((
                f["system"].clone(),
                f["system_instance"].clone(),
                f["severity"].clone(),
            ))
            .or_default() += 1;
    }
    let mut got: BTreeMap<(String, String, String), usize> = BTreeMap::new();
    for t in tags(chart)
        .iter()
        .filter(|t| t.name == "rect" && t.attrs.contains_key("data-severity"))
    {
        let key = (
            t.get("data-system").unwrap().to_string(),
            t.get("data-instance").unwrap().to_string(),
            t.get("data-severity").unwrap().to_string(),
        );
        assert!(
            got.insert(key.clone(), count(t.get("data-count")))
                .is_none(),
            "two segments for {key:?}"
        );
    }
    assert_eq!(got, want, "severity chart vs findings.csv");
    // …and by system alone, as the chart's heading promises.
    let by_system = |m: &BTreeMap<(String, String, String), usize>| {
        let mut s: BTreeMap<(String, String), usize> = BTreeMap::new();
        for ((sys, _, sev), n) in m {
            *s.entry((sys.clone(), sev.clone())).or_default() += n;
        }
        s
    };
    assert_eq!(by_system(&got), by_system(&want));
    // The instance that could not be read is drawn as such, not as an empty bar.
    let failed: Vec<_> = coverage
        .iter()
        .filter(|c| c["detail"].starts_with("system not read"))
        .map(|c| c["system_instance"].clone())
        .collect();
    assert!(!failed.is_empty(), "the demo has an unreadable instance");
    assert!(
        chart.contains("data-status=\"error\""),
        "unreadable instance not marked in the chart"
    );

    // Days chart: every open finding counted once; the SLA line at the manifest's SLA.
    let days = element(dom, &all, "chart-days");
    let marks: usize = tags(days)
        .iter()
        .filter(|t| t.name == "rect" && t.attrs.contains_key("data-severity"))
        .map(|t| count(t.get("data-count")))
        .sum();
    assert_eq!(marks, open.len(), "days chart vs open findings");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    let sla = manifest["sla_hours"].as_u64().unwrap().to_string();
    let line = all
        .iter()
        .find(|t| t.get("id") == Some("sla-line"))
        .expect("SLA line");
    assert_eq!(line.get("data-sla-hours"), Some(sla.as_str()));
    assert!(
        days.contains(&format!("SLA {sla} h")),
        "SLA line not labelled"
    );

    // Coverage matrix: one row per leaver, every cell the CSV's outcome, as many error cells.
    let matrix = element(dom, &all, "coverage");
    let mtags = tags(matrix);
    let columns: Vec<(String, String)> = mtags
        .iter()
        .filter(|t| t.name == "th" && t.attrs.contains_key("data-instance"))
        .map(|t| {
            (
                t.get("data-system").unwrap().to_string(),
                t.get("data-instance").unwrap().to_string(),
            )
        })
        .collect();
    let mut cells: BTreeMap<(String, String, String), String> = BTreeMap::new();
    let mut rows = 0;
    let mut col = 0;
    let mut leaver = String::new();
    for t in &mtags {
        match t.name.as_str() {
            "tr" if t.attrs.contains_key("data-leaver") => {
                rows += 1;
                col = 0;
                leaver = t.get("data-leaver").unwrap().to_string();
            }
            "td" if t.attrs.contains_key("data-outcome") => {
                let (s, i) = columns[col].clone();
                cells.insert(
                    (leaver.clone(), s, i),
                    t.get("data-outcome").unwrap().to_string(),
                );
                col += 1;
            }
            _ => {}
        }
    }
    let leavers: std::collections::BTreeSet<&str> =
        coverage.iter().map(|c| c["leaver_id"].as_str()).collect();
    assert_eq!(
        rows,
        leavers.len(),
        "matrix rows vs leavers in coverage.csv"
    );
    let want_cells: BTreeMap<(String, String, String), String> = coverage
        .iter()
        .map(|c| {
            (
                (
                    c["leaver_id"].clone(),
                    c["system"].clone(),
                    c["system_instance"].clone(),
                ),
                c["outcome"].clone(),
            )
        })
        .collect();
    assert_eq!(cells, want_cells, "matrix vs coverage.csv");
    let errors = coverage.iter().filter(|c| c["outcome"] == "error").count();
    let ambiguous = coverage
        .iter()
        .filter(|c| c["outcome"] == "ambiguous")
        .count();
    assert!(errors > 0);
    assert_eq!(
        matrix.matches("data-outcome=\"error\"").count(),
        errors,
        "error cells vs coverage.csv"
    );

    // The banner says the scan is incomplete, with the counts; the totals agree.
    let banner = all
        .iter()
        .find(|t| t.get("id") == Some("completeness"))
        .expect("completeness banner");
    assert_eq!(banner.get("data-incomplete"), Some("true"));
    assert_eq!(count(banner.get("data-errors")), errors);
    assert_eq!(count(banner.get("data-ambiguous")), ambiguous);
    assert!(element(dom, &all, "completeness").contains("INCOMPLETE"));
    let stat = |key: &str| -> usize {
        let t = all
            .iter()
            .find(|t| t.get("data-stat") == Some(key))
            .unwrap_or_else(|| panic!("no {key} total"));
        let rest = &dom[t.end..];
        let n0 = rest.find("class=\"n\">").unwrap() + "class=\"n\">".len();
        let n1 = n0 + rest[n0..].find('<').unwrap();
        rest[n0..n1].parse().unwrap()
    };
    let departed: std::collections::BTreeSet<&str> = coverage
        .iter()
        .filter(|c| c["outcome"] != "not_departed")
        .map(|c| c["leaver_id"].as_str())
        .collect();
    let residual_leavers: std::collections::BTreeSet<&str> = coverage
        .iter()
        .filter(|c| c["outcome"] == "residual")
        .map(|c| c["leaver_id"].as_str())
        .collect();
    assert_eq!(stat("departed"), departed.len());
    assert_eq!(stat("residual"), residual_leavers.len());
    assert_eq!(
        stat("critical"),
        open.iter().filter(|f| f["severity"] == "critical").count()
    );
    assert_eq!(stat("error"), errors);
    assert_eq!(stat("ambiguous"), ambiguous);

    // A section per leaver with findings, holding each of their findings.
    let with: std::collections::BTreeSet<&str> =
        findings.iter().map(|f| f["leaver_id"].as_str()).collect();
    for l in &with {
        let section = element(dom, &all, &format!("leaver-{l}"));
        let n = findings.iter().filter(|f| f["leaver_id"] == *l).count();
        assert_eq!(
            section.matches("<tbody class=\"finding\"").count(),
            n,
            "findings in the section of {l}"
        );
        for f in findings.iter().filter(|f| f["leaver_id"] == *l) {
            assert!(
                section.contains(&f["finding_id"]),
                "{} not under {l}",
                f["finding_id"]
            );
        }
    }

    // The manifest facts: every system instance, with its status.
    let systems = element(dom, &all, "systems");
    for s in manifest["systems"].as_array().unwrap() {
        let inst = s["instance"].as_str().unwrap();
        assert!(
            systems.contains(&format!("data-instance=\"{inst}\"")),
            "{inst} missing from the scan facts"
        );
    }
    assert!(dom.contains(manifest["leavers"]["sha256"].as_str().unwrap()));

    // The screenshot and the PDF exist and are what they claim to be.
    let png = std::fs::read(&shot).expect("screenshot written");
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n"),
        "screenshot is not a PNG"
    );
    let (w, h) = (
        u32::from_be_bytes(png[16..20].try_into().unwrap()),
        u32::from_be_bytes(png[20..24].try_into().unwrap()),
    );
    assert_eq!((w, h), (1280, 2400), "screenshot size");
    let pdf_bytes = std::fs::read(&pdf).expect("PDF written");
    assert!(pdf_bytes.starts_with(b"%PDF-"), "print output is not a PDF");
}
