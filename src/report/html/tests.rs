//! Unit tests of the page: escaping, limits, and what each section shows.

use super::*;
use crate::report::ScanMeta;

fn demo_report(mutate: impl FnOnce(&mut crate::evaluate::Evaluation)) -> String {
    demo_report_with(mutate, LIMITS)
}

fn demo_report_with(mutate: impl FnOnce(&mut crate::evaluate::Evaluation), lim: Limits) -> String {
    let set = crate::leavers::parse(
        "demo:leavers.csv",
        crate::demo::LEAVERS_CSV.as_bytes(),
        crate::leavers::Format::Csv(b','),
    )
    .unwrap();
    let snapshot = crate::demo::estate();
    let matches = crate::correlate::correlate(&set.leavers, &snapshot);
    let catalogue = crate::catalogue::Catalogue::builtin();
    let mut ev = crate::evaluate::evaluate(&crate::evaluate::Input {
        scan_id: "s1",
        leavers: &set.leavers,
        snapshot: &snapshot,
        matches: &matches,
        catalogue: &catalogue,
        as_of: crate::demo::AS_OF,
        sla_hours: 24,
    });
    mutate(&mut ev);
    let meta = ScanMeta {
        scan_id: "s1".into(),
        tool_version: "0.0.0".into(),
        git_commit: "abc".into(),
        started_at: crate::demo::AS_OF,
        as_of: crate::demo::AS_OF,
        command_line: vec![],
        leavers_file: "l.csv".into(),
        leavers_sha256: set.sha256.clone(),
        leavers_rows: set.rows,
        leavers_count: set.leavers.len(),
        config_file: None,
        config_sha256: None,
        snapshot_source: "test".into(),
        sla_hours: 24,
        fail_on: "low".into(),
        checks_override: None,
        formats: vec![],
    };
    let bytes = render(
        &Report {
            meta: &meta,
            evaluation: &ev,
            snapshot: &snapshot,
        },
        lim,
    )
    .unwrap();
    String::from_utf8(bytes).unwrap()
}

#[test]
fn html_escapes_hostile_values() {
    let hostile = "<script>alert(1)</script>\"onmouseover=alert(2) x='y'";
    let page = demo_report(|ev| {
        let f = &mut ev.findings[0];
        f.resource_name = hostile.into();
        f.resource_id = hostile.into();
        f.evidence.push(hostile.into());
        f.leaver_name = hostile.into();
        f.remediation = format!("Do it. Command: {hostile}");
        ev.coverage[0].detail = hostile.into();
        let last = ev.coverage.len() - 1;
        ev.coverage[last].leaver_id = hostile.into();
        ev.coverage[last].system_instance = hostile.into();
    });
    assert!(!page.contains("<script>alert"), "raw script tag in page");
    assert!(
        !page.contains("\"onmouseover"),
        "attribute breakout in page"
    );
    assert!(!page.contains("x='y'"), "single quote unescaped");
    let escaped = "&lt;script&gt;alert(1)&lt;/script&gt;&quot;onmouseover=alert(2) x=&#39;y&#39;";
    // Resource name, id, evidence, leaver name, remediation command, coverage detail.
    assert!(
        page.matches(escaped).count() >= 6,
        "escaped value appears {} times",
        page.matches(escaped).count()
    );
    // The only script element is ours.
    assert_eq!(page.matches("<script").count(), 1);
}

#[test]
fn html_large_scans_are_abridged_and_say_so() {
    let lim = Limits {
        matrix_rows: 3,
        findings_rows: 5,
        detail_findings: 4,
        names_per_problem: 2,
    };
    // The leaver whose details are kept: a critical finding, then the most findings, then
    // file order (computed here, so the demo estate can grow).
    let mut kept = String::new();
    let page = demo_report_with(
        |ev| {
            let mut per: std::collections::BTreeMap<&str, (bool, usize)> = Default::default();
            for f in &ev.findings {
                let e = per.entry(&*f.leaver_id).or_default();
                e.0 |= f.severity == crate::catalogue::Severity::Critical;
                e.1 += 1;
            }
            kept = per
                .iter()
                .filter(|(_, (crit, _))| *crit)
                .max_by_key(|(id, (_, n))| (*n, std::cmp::Reverse(*id)))
                .map(|(id, _)| id.to_string())
                .unwrap();
        },
        lim,
    );
    assert_eq!(page.matches("class=\"abridged\"").count(), 3, "{page}");
    // Matrix: the first three leavers needing attention (all demo leavers but E1006 have
    // an error cell), in file order.
    assert!(page.contains("data-leavers=\"9\" data-rows=\"3\""));
    assert_eq!(page.matches("<tr data-leaver=").count(), 3);
    for id in ["E1001", "E1002", "E1003"] {
        assert!(page.contains(&format!("<tr data-leaver=\"{id}\"")), "{id}");
    }
    // Findings table: the five most severe.
    assert_eq!(page.matches("<tr data-finding=").count(), 5);
    // Details: that leaver only, and links only to it.
    assert_eq!(page.matches("<section class=\"leaver\"").count(), 1);
    assert!(page.contains(&format!("id=\"leaver-{kept}\"")), "{kept}");
    assert!(page.contains(&format!("href=\"#leaver-{kept}\"")));
    assert_eq!(
        page.matches("href=\"#leaver-").count(),
        page.matches(&format!("href=\"#leaver-{kept}\"")).count()
    );
    // Problem groups name a few leavers and count the rest.
    assert!(page.contains("… and 6 more"), "{page}");
    // Totals still count everything.
    assert!(page.contains("data-errors=\"8\""));
}

#[test]
fn html_complete_scan_says_so_and_a_gap_never_looks_clean() {
    let page = demo_report(|ev| {
        for c in &mut ev.coverage {
            if c.outcome.incomplete() {
                c.outcome = Verdict::NoAccount;
            }
        }
    });
    assert!(page.contains("data-incomplete=\"false\""));
    assert!(page.contains(">COMPLETE<"));
    assert!(!page.contains("INCOMPLETE"));
    // A leaver × system pair without a coverage row is shown and counted as incomplete.
    let page = demo_report(|ev| {
        for c in &mut ev.coverage {
            if c.outcome.incomplete() {
                c.outcome = Verdict::NoAccount;
            }
        }
        ev.coverage.remove(0);
    });
    assert!(page.contains("data-incomplete=\"true\""));
    assert!(page.contains("1 with no coverage row at all"));
    assert_eq!(page.matches("data-outcome=\"missing\"").count(), 1);
}

#[test]
fn html_ids_are_safe_and_distinct() {
    assert_eq!(slug("E1001"), "E1001");
    assert_eq!(slug("a b"), "a_20b");
    assert_ne!(slug("a_20b"), slug("a b"));
    assert_eq!(slug("\"><x"), "_22_3e_3cx");
}

#[test]
fn html_is_stable_and_self_contained() {
    let a = demo_report(|_| {});
    let b = demo_report(|_| {});
    assert_eq!(a, b);
    // Nothing that fetches: no source or link attribute, no stylesheet import, every
    // `url(` an in-page reference. (URLs may appear as text: escaped, never links.)
    for bad in [
        " src=",
        " srcset=",
        "href=\"http",
        "href=\"//",
        "@import",
        "<link",
        "<img",
        "<iframe",
        "<object",
        "<embed",
        " style=",
    ] {
        assert!(!a.contains(bad), "{bad} in page");
    }
    assert_eq!(a.matches("url(").count(), a.matches("url(#").count());
    assert_eq!(a.matches("href=\"").count(), a.matches("href=\"#").count());
    assert!(a.contains("INCOMPLETE SCAN"));
    assert!(!a.contains("class=\"abridged\""), "the demo is small");
}

#[test]
fn html_csp_hashes_match_the_inline_text() {
    assert_eq!(base64(b""), "");
    assert_eq!(base64(b"f"), "Zg==");
    assert_eq!(base64(b"fo"), "Zm8=");
    assert_eq!(base64(b"foo"), "Zm9v");
    assert_eq!(base64(b"foob"), "Zm9vYg==");
    let page = demo_report(|_| {});
    assert!(page.contains(&format!("<style>{STYLE}</style>")));
    assert!(page.contains(&format!("<script>{SCRIPT}</script>")));
    assert!(page.contains(&csp_hash(STYLE)));
}
