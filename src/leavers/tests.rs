//! The leavers file's parsing and validation, case by case.
use super::*;

fn csv(s: &str) -> Result<LeaverSet, InputError> {
    parse("t.csv", s.as_bytes(), Format::Csv(b','))
}

#[test]
fn synonyms_bom_and_dates() {
    let set = csv("\u{feff}Work Email,Termination Date,Full Name,GitHub\nA@Acme.com,2026-01-02,Ann,ann-gh\nb@acme.com,2026-01-03T10:00:00+02:00,,\n").unwrap();
    assert_eq!(set.leavers.len(), 2);
    assert_eq!(set.leavers[0].id, "a@acme.com");
    assert_eq!(set.leavers[0].handles["github"], "ann-gh");
    assert_eq!(set.leavers[1].departure.hour(), 8);
}

#[test]
fn duplicates_merge_earliest_wins() {
    let set = csv("email,departure_date,aliases\na@acme.com,2026-02-01,x@acme.com\nA+hr@acme.com,2026-01-01,y\n").unwrap();
    assert_eq!(set.leavers.len(), 1);
    assert_eq!(set.leavers[0].departure.date().to_string(), "2026-01-01");
    assert_eq!(set.leavers[0].aliases, vec!["x@acme.com", "y"]);
    assert_eq!(set.warnings.len(), 1);
}

#[test]
fn bad_date_names_line_and_field() {
    let e =
        csv("email,departure_date\na@acme.com,2026-01-01\nb@acme.com,31/12/2026\n").unwrap_err();
    assert_eq!(e.line, Some(3));
    assert_eq!(e.field.as_deref(), Some("departure_date"));
}

#[test]
fn sub_addressing_and_case_normalize() {
    assert_eq!(normalize_email(" J.Doe+ops@Acme.COM "), "j.doe@acme.com");
}

#[test]
fn jsonl_and_json() {
    let s = parse("t.jsonl", b"{\"email\":\"a@acme.com\",\"end_date\":\"2026-01-01\"}\n\n{\"email\":\"b@acme.com\",\"departure_date\":\"2026-01-01\",\"aliases\":[\"bb\"]}\n", Format::JsonLines).unwrap();
    assert_eq!(s.leavers.len(), 2);
    let e = parse(
        "t.json",
        b"[{\"email\":\"a@acme.com\",\"departure_date\":5}]",
        Format::Json,
    )
    .unwrap_err();
    assert_eq!(e.field.as_deref(), Some("departure_date"));
}

#[test]
fn an_unclosed_quote_names_the_line_it_opened() {
    let e = csv("email,departure_date,name\na@acme.com,2026-01-01,Ann\nb@acme.com,2026-01-02,\"Bob\nc@acme.com,2026-01-03,Cy\n")
        .unwrap_err();
    assert_eq!(e.line, Some(3), "{e}");
    assert!(e.message.contains("never closes"), "{e}");
    // Escaped quotes inside a quoted field are fine.
    assert!(csv("email,departure_date,name\na@acme.com,2026-01-01,\"An \"\"A\"\" n\"\n").is_ok());
}

#[test]
fn control_characters_in_fields_are_refused() {
    let e = csv("email,departure_date\na\u{0}@acme.com,2026-01-01\n").unwrap_err();
    assert_eq!(
        (e.line, e.field.as_deref()),
        (Some(2), Some("email")),
        "{e}"
    );
    let e = csv("email,departure_date,name\na@acme.com,2026-01-01,\"x\u{1b}[2J\"\n").unwrap_err();
    assert_eq!(e.field.as_deref(), Some("name"), "{e}");
}

#[test]
fn crlf_files_count_lines_right() {
    let e = csv("email,departure_date\r\na@acme.com,2026-01-01\r\nb@acme.com,31/12/2026\r\n")
        .unwrap_err();
    assert_eq!(e.line, Some(3), "{e}");
    let e = parse("t.jsonl", b"{\"email\":\"a@acme.com\",\"departure_date\":\"2026-01-01\"}\r\n{\"email\":\"b@acme.com\",\"departure_date\":\"nope\"}\r\n", Format::JsonLines).unwrap_err();
    assert_eq!(e.line, Some(2), "{e}");
}

#[test]
fn json_type_errors_name_the_line_of_the_value_and_empty_rows_are_skipped() {
    let text = "[\n  {\"email\": \"a@acme.com\", \"departure_date\": \"2026-01-01\"},\n  {\"email\": \"b@acme.com\",\n   \"departure_date\": 20260101}\n]\n";
    let e = parse("t.json", text.as_bytes(), Format::Json).unwrap_err();
    assert_eq!(
        (e.line, e.field.as_deref()),
        (Some(4), Some("departure_date")),
        "{e}"
    );
    let text = "[{\"email\": \"a@acme.com\", \"departure_date\": \"2026-01-01\"}, {}]";
    let set = parse("t.json", text.as_bytes(), Format::Json).unwrap();
    assert_eq!(set.leavers.len(), 1);
    assert!(
        set.warnings.iter().any(|w| w.contains("empty object")),
        "{:?}",
        set.warnings
    );
    let set = csv("email,departure_date\n,\na@acme.com,2026-01-01\n").unwrap();
    assert_eq!(set.leavers.len(), 1);
    assert!(
        set.warnings
            .iter()
            .any(|w| w.contains(":2: every field is empty")),
        "{:?}",
        set.warnings
    );
}

#[test]
fn movers_and_leave_parse_and_bad_references_name_line_and_field() {
    let set = csv("email,status,move_date,revoke\na@acme.com,mover,2026-11-01,github:team/payments; AWS:group/prod-admins ;aws-sso:permission-set/AdministratorAccess\n").unwrap();
    match &set.leavers[0].status {
        Status::Mover { revoke } => {
            let r: Vec<(&str, &str)> = revoke
                .iter()
                .map(|r| (r.system, r.reference.as_str()))
                .collect();
            assert_eq!(
                r,
                vec![
                    ("github", "github:team/payments"),
                    ("aws", "aws:group/prod-admins"),
                    ("aws", "aws-sso:permission-set/AdministratorAccess")
                ]
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(set.leavers[0].departure.date().to_string(), "2026-11-01");
    let set =
        csv("email,departure_date,status,return_date\nb@acme.com,2026-11-01,leave,2027-01-15\n")
            .unwrap();
    assert!(matches!(set.leavers[0].status, Status::Leave { .. }));
    for (text, line, field, want) in [
        ("email,departure_date,status,revoke\nok@acme.com,2026-01-01,,\na@acme.com,2026-11-01,mover,jira:group/x\n", 3, "revoke", "no system reports entitlements as \"jira\""),
        ("email,departure_date,status,revoke\na@acme.com,2026-11-01,mover,github:repo/x\n", 2, "revoke", "github reports team entitlements, not \"repo\""),
        ("email,departure_date,status,revoke\na@acme.com,2026-11-01,mover,github-team-x\n", 2, "revoke", "expected prefix:kind/name"),
        ("email,departure_date,status,revoke\na@acme.com,2026-11-01,mover,github:team/\n", 2, "revoke", "is empty"),
        ("email,departure_date,status\na@acme.com,2026-11-01,mover\n", 2, "revoke", "a mover needs a revoke column"),
        ("email,departure_date,status\na@acme.com,2026-11-01,leave\n", 2, "return_date", "needs a return_date"),
        ("email,departure_date,status,return_date\na@acme.com,2026-11-01,leave,2026-10-01\n", 2, "return_date", "not after"),
        ("email,departure_date,revoke\na@acme.com,2026-11-01,github:team/x\n", 2, "revoke", "for movers"),
        ("email,departure_date,status\na@acme.com,2026-11-01,retired\n", 2, "status", "leaver, mover or leave"),
    ] {
        let e = csv(text).unwrap_err();
        assert_eq!((e.line, e.field.as_deref()), (Some(line), Some(field)), "{e}");
        assert!(e.message.contains(want), "{e}");
    }
}

#[test]
fn a_departure_beats_a_move_or_a_leave_of_the_same_person() {
    let set = csv("email,departure_date,status,revoke,return_date\na@acme.com,2026-10-01,mover,github:team/x,\nA@acme.com,2026-11-01,,,\nb@acme.com,2026-09-01,leave,,2027-01-01\nb@acme.com,2026-11-02,,,\nc@acme.com,2026-10-01,mover,github:team/x,\nc@acme.com,2026-10-02,mover,github:team/y,\n").unwrap();
    assert_eq!(set.leavers[0].status, Status::Leaver);
    assert_eq!(set.leavers[0].departure.date().to_string(), "2026-11-01");
    assert_eq!(set.leavers[1].status, Status::Leaver);
    assert_eq!(set.leavers[1].departure.date().to_string(), "2026-11-02");
    match &set.leavers[2].status {
        Status::Mover { revoke } => assert_eq!(revoke.len(), 2),
        other => panic!("{other:?}"),
    }
}

#[test]
fn duplicates_merge_by_employee_id_or_email_in_file_order() {
    let set = csv("email,departure_date,employee_id\na@acme.com,2026-03-01,E1\nb@acme.com,2026-02-01,E1\nA+x@acme.com,2026-01-01,\nc@acme.com,2026-01-01,E2\nc@acme.com,2026-01-05,E3\n").unwrap();
    // E1 twice merges; the email-only row joins a@ (no employee id to disagree); c@ with two
    // different employee ids are two people.
    assert_eq!(set.leavers.len(), 3, "{:?}", set.leavers);
    assert_eq!(set.leavers[0].departure.date().to_string(), "2026-01-01");
    assert_eq!(set.warnings.len(), 2, "{:?}", set.warnings);
}
