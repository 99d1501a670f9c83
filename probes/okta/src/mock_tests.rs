//! The cases every probe must get right, against an in-process HTTP mock: residual access
//! found, determinately clean, credentials refused, server failing or silent, a body that is
//! not what the API promises — and Okta's own trap, a scanning identity that gets `200` and an
//! empty list. The end-to-end tests run against tests/harness/okta_server.py.

use residual_probe::http::HttpPolicy;
use residual_probe::{AccountState, Candidates, CollectStatus, FixedFilter, ProbeError};
use serde_json::json;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::{collect, OktaAuth, OktaInstance};

const TOKEN: &str = "00mockOktaToken1234567890abcdefghijklmnopq";

fn instance(server: &MockServer) -> OktaInstance {
    OktaInstance {
        name: "acme".into(),
        org_url: server.uri(),
        auth: OktaAuth::ApiToken(TOKEN.to_string().into()),
        strategy: crate::Strategy::Auto,
        concurrency: 4,
        http: HttpPolicy::for_tests(),
    }
}

/// Many candidates: a full listing is cheaper than lookups for a small org.
fn listing() -> FixedFilter {
    FixedFilter {
        wants_all: true,
        candidates: Candidates {
            emails: (0..50).map(|i| format!("u{i}@acme.example")).collect(),
            ..Default::default()
        },
    }
}

fn user(id: &str, login: &str, status: &str) -> serde_json::Value {
    json!({"id": id, "status": status, "created": "2024-01-01T00:00:00.000Z",
           "lastLogin": null, "profile": {"login": login, "email": login}})
}

fn ok(body: serde_json::Value) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .set_body_json(body)
        .insert_header("x-rate-limit-limit", "600")
        .insert_header("x-rate-limit-remaining", "599")
        .insert_header("x-rate-limit-reset", "4102444800")
}

async fn get(server: &MockServer, p: &str, resp: ResponseTemplate) {
    Mock::given(method("GET"))
        .and(path(p))
        .and(header("authorization", format!("SSWS {TOKEN}").as_str()))
        .respond_with(resp)
        .mount(server)
        .await;
}

/// An org the token can see: a read-only admin, an Everyone group of `count`.
async fn org(server: &MockServer, count: u64, roles: serde_json::Value) {
    get(
        server,
        "/api/v1/users/me",
        ok(user("00uscanner", "scanner@acme.example", "ACTIVE")),
    )
    .await;
    get(server, "/api/v1/users/00uscanner/roles", ok(roles)).await;
    get(
        server,
        "/api/v1/groups",
        ok(json!([{"id": "00geveryone", "type": "BUILT_IN",
                   "profile": {"name": "Everyone"}, "_embedded": {"stats": {"usersCount": count}}}])),
    )
    .await;
    get(server, "/api/v1/api-tokens", ok(json!([]))).await;
}

fn read_only() -> serde_json::Value {
    json!([{"id": "ra1", "type": "READ_ONLY_ADMIN", "label": "Read-only Administrator",
            "status": "ACTIVE", "assignmentType": "USER"}])
}

async fn users(server: &MockServer, active: serde_json::Value, gone: serde_json::Value) {
    Mock::given(method("GET"))
        .and(path("/api/v1/users"))
        .and(query_param("filter", "status eq \"DEPROVISIONED\""))
        .respond_with(ok(gone))
        .with_priority(1)
        .mount(server)
        .await;
    get(server, "/api/v1/users", ok(active)).await;
}

fn error(s: &residual_probe::SystemSnapshot) -> ProbeError {
    match &s.status {
        CollectStatus::Failed { error } => error.clone(),
        CollectStatus::Complete => panic!("expected a failed collection, got {s:?}"),
    }
}

#[tokio::test]
async fn found_an_active_admin_with_a_token() {
    let server = MockServer::start().await;
    org(&server, 2, read_only()).await;
    users(
        &server,
        json!([
            user("00uscanner", "scanner@acme.example", "ACTIVE"),
            user("00ualice", "alice@acme.example", "SUSPENDED")
        ]),
        json!([]),
    )
    .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/api-tokens"))
        .respond_with(ok(json!([{"id": "00Tabc", "name": "script", "userId": "00ualice",
                   "created": "2025-01-01T00:00:00.000Z", "lastUpdated": "2026-11-20T00:00:00.000Z"}])))
        .with_priority(1)
        .mount(&server)
        .await;
    get(
        &server,
        "/api/v1/users/00ualice/roles",
        ok(
            json!([{"id": "ra2", "type": "ORG_ADMIN", "label": "Organization Administrator",
                   "status": "ACTIVE", "assignmentType": "GROUP"}]),
        ),
    )
    .await;
    get(&server, "/api/v1/users/00uscanner/appLinks", ok(json!([]))).await;
    get(
        &server,
        "/api/v1/users/00ualice/appLinks",
        ok(json!([{"appInstanceId": "0oa1", "appName": "salesforce", "label": "Salesforce"}])),
    )
    .await;
    let s = collect(&instance(&server), &listing()).await;
    assert!(s.is_complete(), "{:?}", s.status);
    assert!(s
        .authenticated_as
        .as_deref()
        .unwrap()
        .contains("scanner@acme.example"));
    let alice = s.accounts.iter().find(|a| a.id == "00ualice").unwrap();
    assert_eq!(alice.state, AccountState::Frozen);
    assert_eq!(alice.credentials.len(), 1);
    assert_eq!(alice.credentials[0].name.as_deref(), Some("script"));
    assert!(
        alice.privileges.iter().any(|p| p.contains("ORG_ADMIN")),
        "{:?}",
        alice.privileges
    );
    let kinds: Vec<&str> = s
        .assets
        .iter()
        .filter(|x| x.trusted_principals == ["00ualice"])
        .map(|x| x.resource_type.as_str())
        .collect();
    assert_eq!(
        kinds,
        ["okta_app_assignment", "okta_role_assignment"],
        "{:?}",
        s.assets
    );
    assert!(
        s.notes.iter().any(|n| n.contains("full listing")),
        "{:?}",
        s.notes
    );
}

#[tokio::test]
async fn deprovisioned_users_are_read_with_an_explicit_filter() {
    let server = MockServer::start().await;
    org(&server, 1, read_only()).await;
    users(
        &server,
        json!([user("00uscanner", "scanner@acme.example", "ACTIVE")]),
        json!([user("00ubob", "bob@acme.example", "DEPROVISIONED")]),
    )
    .await;
    for id in ["00uscanner", "00ubob"] {
        get(&server, &format!("/api/v1/users/{id}/roles"), ok(json!([]))).await;
        get(
            &server,
            &format!("/api/v1/users/{id}/appLinks"),
            ok(json!([])),
        )
        .await;
    }
    let s = collect(&instance(&server), &listing()).await;
    assert!(s.is_complete(), "{:?}", s.status);
    let bob = s.accounts.iter().find(|a| a.id == "00ubob").unwrap();
    assert_eq!(bob.state, AccountState::Disabled);
    assert!(
        s.assets
            .iter()
            .all(|x| !x.trusted_principals.contains(&bob.id)),
        "{:?}",
        s.assets
    );
}

#[tokio::test]
async fn refused_credentials_fail_the_instance() {
    let server = MockServer::start().await;
    get(
        &server,
        "/api/v1/users/me",
        ResponseTemplate::new(401).set_body_json(json!({
            "errorCode": "E0000011", "errorSummary": "Invalid token provided",
            "errorLink": "E0000011", "errorId": "oaeABC", "errorCauses": []})),
    )
    .await;
    let s = collect(&instance(&server), &listing()).await;
    let e = error(&s);
    assert!(
        matches!(&e, ProbeError::Auth(m) if m.contains("E0000011") && m.contains("oaeABC")),
        "{e:?}"
    );
}

#[tokio::test]
async fn server_errors_and_silence_fail_the_instance() {
    let server = MockServer::start().await;
    get(&server, "/api/v1/users/me", ResponseTemplate::new(503)).await;
    let s = collect(&instance(&server), &listing()).await;
    assert!(matches!(error(&s), ProbeError::Server(_)), "{:?}", s.status);

    let server = MockServer::start().await;
    get(
        &server,
        "/api/v1/users/me",
        ok(user("00uscanner", "s@acme.example", "ACTIVE"))
            .set_delay(std::time::Duration::from_secs(3)),
    )
    .await;
    let s = collect(&instance(&server), &listing()).await;
    assert!(
        matches!(error(&s), ProbeError::Timeout(_)),
        "{:?}",
        s.status
    );
}

#[tokio::test]
async fn a_body_that_is_not_the_api_fails_the_instance() {
    let server = MockServer::start().await;
    org(&server, 1, read_only()).await;
    get(
        &server,
        "/api/v1/users",
        ResponseTemplate::new(200).set_body_string("[{\"id\": \"00u1\","),
    )
    .await;
    let s = collect(&instance(&server), &listing()).await;
    assert!(
        matches!(error(&s), ProbeError::Unexpected(_)),
        "{:?}",
        s.status
    );

    // A user without a status: its state is unknown, not active or clean.
    let server = MockServer::start().await;
    org(&server, 1, read_only()).await;
    users(
        &server,
        json!([{"id": "00u1", "profile": {"login": "x@acme.example"}}]),
        json!([]),
    )
    .await;
    let s = collect(&instance(&server), &listing()).await;
    assert!(
        matches!(error(&s), ProbeError::Unexpected(_)),
        "{:?}",
        s.status
    );
}

#[tokio::test]
async fn an_identity_that_cannot_see_the_org_is_refused() {
    // No admin role: Okta would answer the user list with 200 and nothing in it.
    let server = MockServer::start().await;
    org(&server, 40, json!([])).await;
    users(&server, json!([]), json!([])).await;
    let s = collect(&instance(&server), &listing()).await;
    let e = error(&s);
    assert!(
        matches!(&e, ProbeError::Permission(m) if m.contains("no org-wide admin role")),
        "{e:?}"
    );

    // A scoped role (help desk for one group): the list is short of the Everyone count.
    let server = MockServer::start().await;
    org(
        &server,
        40,
        json!([{"id": "ra1", "type": "HELP_DESK_ADMIN", "status": "ACTIVE"}]),
    )
    .await;
    let s = collect(&instance(&server), &listing()).await;
    assert!(
        matches!(error(&s), ProbeError::Permission(_)),
        "{:?}",
        s.status
    );

    // An org-wide role, but the list comes back short of the Everyone group's count.
    let server = MockServer::start().await;
    org(&server, 40, read_only()).await;
    users(
        &server,
        json!([user("00uscanner", "scanner@acme.example", "ACTIVE")]),
        json!([]),
    )
    .await;
    let s = collect(&instance(&server), &listing()).await;
    let e = error(&s);
    assert!(
        matches!(&e, ProbeError::Permission(m) if m.contains("counts 40")),
        "{e:?}"
    );
}

#[tokio::test]
async fn rate_limits_past_the_wait_fail_closed() {
    let server = MockServer::start().await;
    get(
        &server,
        "/api/v1/users/me",
        ResponseTemplate::new(429)
            .set_body_json(json!({"errorCode": "E0000047", "errorSummary": "API call exceeded rate limit due to too many requests.", "errorId": "oae1", "errorCauses": []}))
            .insert_header("x-rate-limit-limit", "600")
            .insert_header("x-rate-limit-remaining", "0")
            .insert_header(
                "x-rate-limit-reset",
                (time::OffsetDateTime::now_utc().unix_timestamp() + 3600).to_string().as_str(),
            ),
    )
    .await;
    let s = collect(&instance(&server), &listing()).await;
    assert!(
        matches!(error(&s), ProbeError::Throttled(_)),
        "{:?}",
        s.status
    );
}

#[tokio::test]
async fn api_tokens_unreadable_is_a_gap_not_clean() {
    let server = MockServer::start().await;
    org(&server, 1, read_only()).await;
    users(
        &server,
        json!([user("00uscanner", "scanner@acme.example", "ACTIVE")]),
        json!([]),
    )
    .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/api-tokens"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({
            "errorCode": "E0000006", "errorSummary": "You do not have permission to perform the requested action",
            "errorId": "oae2", "errorCauses": []})))
        .with_priority(1)
        .mount(&server)
        .await;
    get(&server, "/api/v1/users/00uscanner/roles", ok(json!([]))).await;
    get(&server, "/api/v1/users/00uscanner/appLinks", ok(json!([]))).await;
    let s = collect(&instance(&server), &listing()).await;
    assert!(s.is_complete(), "{:?}", s.status);
    assert_eq!(s.gaps.len(), 1, "{:?}", s.gaps);
    assert_eq!(s.gaps[0].checks, ["okta_api_token_owned"]);
    assert!(matches!(s.gaps[0].error, ProbeError::Permission(_)));
}

#[tokio::test]
async fn a_429_waits_for_okta_reset_header_then_succeeds() {
    // No Retry-After: Okta names the reset in X-Rate-Limit-Reset. Waiting the 60 s fallback
    // would exceed the test policy's 2 s and fail; waiting for the reset (1 s) succeeds.
    let server = MockServer::start().await;
    let reset = time::OffsetDateTime::now_utc().unix_timestamp() + 1;
    Mock::given(method("GET"))
        .and(path("/api/v1/users/me"))
        .respond_with(
            ResponseTemplate::new(429)
                .set_body_json(json!({"errorCode": "E0000047", "errorSummary": "API call exceeded rate limit due to too many requests.", "errorId": "oae3", "errorCauses": []}))
                .insert_header("x-rate-limit-limit", "600")
                .insert_header("x-rate-limit-remaining", "0")
                .insert_header("x-rate-limit-reset", reset.to_string().as_str()),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    org(&server, 1, read_only()).await;
    users(
        &server,
        json!([user("00uscanner", "scanner@acme.example", "ACTIVE")]),
        json!([]),
    )
    .await;
    get(&server, "/api/v1/users/00uscanner/appLinks", ok(json!([]))).await;
    let started = std::time::Instant::now();
    let s = collect(&instance(&server), &listing()).await;
    assert!(s.is_complete(), "{:?}", s.status);
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(900),
        "did not wait for the reset"
    );
    assert!(s.requests >= 2);
}
