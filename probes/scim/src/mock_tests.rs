//! The five cases every probe must get right, against an in-process HTTP mock: residual access
//! found, determinately clean, credentials refused, server failing or silent, and a body that
//! is not what the API promises. The end-to-end tests run against the real scim2-server.

use residual_probe::http::HttpPolicy;
use residual_probe::{AccountState, Candidates, CollectStatus, FixedFilter, ProbeError};
use serde_json::json;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::{collect, ScimInstance};

fn instance(server: &MockServer) -> ScimInstance {
    ScimInstance {
        name: "app".into(),
        base_url: format!("{}/scim/v2", server.uri()),
        token: "mock-token-123456".to_string().into(),
        token_env: None,
        concurrency: 4,
        http: HttpPolicy::for_tests(),
    }
}

fn listing() -> FixedFilter {
    FixedFilter {
        wants_all: true,
        // Many candidates: listing is cheaper than lookups.
        candidates: Candidates {
            emails: (0..50).map(|i| format!("u{i}@acme.example")).collect(),
            ..Default::default()
        },
    }
}

fn list(users: serde_json::Value, total: u64) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "totalResults": total, "startIndex": 1, "itemsPerPage": 100, "Resources": users,
    }))
}

async fn users(server: &MockServer, resp: ResponseTemplate) {
    Mock::given(method("GET"))
        .and(path("/scim/v2/Users"))
        .and(header("authorization", "Bearer mock-token-123456"))
        .respond_with(resp)
        .mount(server)
        .await;
}

fn error(s: &residual_probe::SystemSnapshot) -> ProbeError {
    match &s.status {
        CollectStatus::Failed { error } => error.clone(),
        CollectStatus::Complete => panic!("expected a failed collection, got {s:?}"),
    }
}

#[tokio::test]
async fn found_an_active_user() {
    let server = MockServer::start().await;
    users(
        &server,
        list(
            json!([{"id": "1", "userName": "alice@acme.example", "active": true,
        "emails": [{"value": "alice@acme.example", "primary": true}]}]),
            1,
        ),
    )
    .await;
    let s = collect(&instance(&server), &listing()).await;
    assert!(s.is_complete(), "{:?}", s.status);
    assert_eq!(s.accounts.len(), 1);
    assert_eq!(s.accounts[0].state, AccountState::Active);
    assert_eq!(s.accounts[0].emails, vec!["alice@acme.example"]);
}

#[tokio::test]
async fn deactivated_and_empty_are_determinate() {
    let server = MockServer::start().await;
    users(
        &server,
        list(json!([{"id": "1", "userName": "bob", "active": false}]), 1),
    )
    .await;
    let s = collect(&instance(&server), &listing()).await;
    assert!(s.is_complete(), "{:?}", s.status);
    assert_eq!(s.accounts[0].state, AccountState::Disabled);

    let server = MockServer::start().await;
    users(&server, list(json!([]), 0)).await;
    let s = collect(&instance(&server), &listing()).await;
    assert!(s.is_complete(), "{:?}", s.status);
    assert!(s.accounts.is_empty());
}

#[tokio::test]
async fn refused_credentials_fail_the_instance() {
    let server = MockServer::start().await;
    users(&server, ResponseTemplate::new(401).set_body_json(json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "status": "401", "detail": "bad token"}))).await;
    let s = collect(&instance(&server), &listing()).await;
    assert!(matches!(error(&s), ProbeError::Auth(_)), "{:?}", s.status);
}

#[tokio::test]
async fn server_errors_and_silence_fail_the_instance() {
    let server = MockServer::start().await;
    users(&server, ResponseTemplate::new(503)).await;
    let s = collect(&instance(&server), &listing()).await;
    assert!(matches!(error(&s), ProbeError::Server(_)), "{:?}", s.status);

    let server = MockServer::start().await;
    users(
        &server,
        list(json!([]), 0).set_delay(std::time::Duration::from_secs(3)),
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
async fn unexpected_bodies_fail_the_instance() {
    for body in [
        ResponseTemplate::new(200).set_body_string("<html>login</html>"),
        // A page that claims more users than it holds, then an empty page: not the end.
        list(json!([{"id": "1", "userName": "a"}]), 5),
        list(json!([{"userName": "no id"}]), 1),
    ] {
        let server = MockServer::start().await;
        users(&server, body).await;
        let s = collect(&instance(&server), &listing()).await;
        assert!(
            matches!(error(&s), ProbeError::Unexpected(_)),
            "{:?}",
            s.status
        );
    }
}
