//! The five cases every probe must get right, against an in-process HTTP mock: residual access
//! found, determinately clean, credentials refused, server failing or silent, and a body that
//! is not what the API promises. The end-to-end tests run against a real OpenBao.

use residual_probe::http::HttpPolicy;
use residual_probe::{AccountState, CollectStatus, FixedFilter, ProbeError, SystemSnapshot};
use serde_json::json;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::{collect, VaultInstance, ENTITY, TOKEN, TOKEN_VALID};

fn instance(server: &MockServer) -> VaultInstance {
    VaultInstance {
        name: None,
        addr: server.uri(),
        token: "mock-vault-token-123456".to_string().into(),
        namespace: None,
        kv_mounts: vec![],
        concurrency: 4,
        http: HttpPolicy::for_tests(),
    }
}

fn ok(data: serde_json::Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"data": data}))
}

async fn on(server: &MockServer, m: &str, p: &str, resp: ResponseTemplate) {
    Mock::given(method(m))
        .and(path(p))
        .and(header("x-vault-token", "mock-vault-token-123456"))
        .respond_with(resp)
        .mount(server)
        .await;
}

/// A server with one userpass mount, one entity (`alice`, enabled or not) and one token of hers.
async fn estate(server: &MockServer, disabled: bool) {
    on(
        server,
        "GET",
        "/v1/auth/token/lookup-self",
        ok(json!({"display_name": "audit", "policies": ["audit"]})),
    )
    .await;
    on(
        server,
        "GET",
        "/v1/sys/auth",
        ok(json!({"userpass/": {"type": "userpass", "accessor": "auth_userpass_1"}})),
    )
    .await;
    on(
        server,
        "LIST",
        "/v1/identity/entity/id",
        ok(json!({"keys": ["e1"]})),
    )
    .await;
    on(
        server,
        "GET",
        "/v1/identity/entity/id/e1",
        ok(json!({"name": "alice", "disabled": disabled,
        "metadata": {"email": "alice@acme.example"},
        "aliases": [{"mount_accessor": "auth_userpass_1", "name": "alice"}],
        "creation_time": "2026-01-01T00:00:00Z"})),
    )
    .await;
    on(
        server,
        "LIST",
        "/v1/auth/userpass/users",
        ok(json!({"keys": ["alice"]})),
    )
    .await;
    on(
        server,
        "LIST",
        "/v1/auth/token/accessors",
        ok(json!({"keys": ["acc1"]})),
    )
    .await;
    on(server, "POST", "/v1/auth/token/lookup-accessor", ok(json!({"display_name": "userpass-alice",
        "entity_id": "e1", "expire_time": null, "creation_time": 1767225600, "policies": ["default"]}))).await;
}

fn error(s: &SystemSnapshot) -> ProbeError {
    match &s.status {
        CollectStatus::Failed { error } => error.clone(),
        CollectStatus::Complete => panic!("expected a failed collection, got {s:?}"),
    }
}

#[tokio::test]
async fn found_a_login_an_entity_and_its_token() {
    let server = MockServer::start().await;
    estate(&server, false).await;
    let s = collect(&instance(&server), &FixedFilter::default()).await;
    assert!(
        s.is_complete() && s.gaps.is_empty(),
        "{:?} {:?}",
        s.status,
        s.gaps
    );
    let entity = s
        .accounts
        .iter()
        .find(|a| a.resource_type == ENTITY)
        .unwrap();
    assert_eq!(entity.emails, vec!["alice@acme.example"]);
    assert_eq!(entity.state, AccountState::Active);
    assert_eq!(entity.credentials.len(), 1);
    assert_eq!(entity.credentials[0].resource_type, TOKEN);
    let login = s
        .accounts
        .iter()
        .find(|a| a.resource_type == "vault_userpass_user")
        .unwrap();
    assert_eq!(
        login.emails,
        vec!["alice@acme.example"],
        "the alias ties the login to her"
    );
}

#[tokio::test]
async fn disabled_entity_and_empty_lists_are_determinate() {
    let server = MockServer::start().await;
    estate(&server, true).await;
    let s = collect(&instance(&server), &FixedFilter::default()).await;
    assert!(s.is_complete(), "{:?}", s.status);
    let entity = s
        .accounts
        .iter()
        .find(|a| a.resource_type == ENTITY)
        .unwrap();
    assert_eq!(entity.state, AccountState::Disabled);

    // OpenBao answers an empty LIST as 404, or as `data: {}`.
    let server = MockServer::start().await;
    on(
        &server,
        "GET",
        "/v1/auth/token/lookup-self",
        ok(json!({"display_name": "audit"})),
    )
    .await;
    on(&server, "GET", "/v1/sys/auth", ok(json!({}))).await;
    on(
        &server,
        "LIST",
        "/v1/identity/entity/id",
        ResponseTemplate::new(404).set_body_json(json!({"errors": []})),
    )
    .await;
    on(&server, "LIST", "/v1/auth/token/accessors", ok(json!({}))).await;
    let s = collect(&instance(&server), &FixedFilter::default()).await;
    assert!(
        s.is_complete() && s.gaps.is_empty(),
        "{:?} {:?}",
        s.status,
        s.gaps
    );
    assert!(s.accounts.is_empty());
}

#[tokio::test]
async fn refused_token_fails_the_instance_and_missing_sudo_is_a_gap() {
    let server = MockServer::start().await;
    on(
        &server,
        "GET",
        "/v1/auth/token/lookup-self",
        ResponseTemplate::new(403).set_body_json(json!({"errors": ["permission denied"]})),
    )
    .await;
    let s = collect(&instance(&server), &FixedFilter::default()).await;
    assert!(
        matches!(error(&s), ProbeError::Permission(_)),
        "{:?}",
        s.status
    );

    let server = MockServer::start().await;
    on(
        &server,
        "GET",
        "/v1/auth/token/lookup-self",
        ok(json!({"display_name": "audit"})),
    )
    .await;
    on(&server, "GET", "/v1/sys/auth", ok(json!({}))).await;
    on(&server, "LIST", "/v1/identity/entity/id", ok(json!({}))).await;
    on(
        &server,
        "LIST",
        "/v1/auth/token/accessors",
        ResponseTemplate::new(403).set_body_json(json!({"errors": ["permission denied"]})),
    )
    .await;
    let s = collect(&instance(&server), &FixedFilter::default()).await;
    assert!(s.is_complete());
    assert_eq!(s.gaps.len(), 1, "{:?}", s.gaps);
    assert_eq!(s.gaps[0].checks, vec![TOKEN_VALID.0]);
}

#[tokio::test]
async fn server_errors_and_silence_fail_the_instance() {
    let server = MockServer::start().await;
    on(
        &server,
        "GET",
        "/v1/auth/token/lookup-self",
        ResponseTemplate::new(500),
    )
    .await;
    let s = collect(&instance(&server), &FixedFilter::default()).await;
    assert!(matches!(error(&s), ProbeError::Server(_)), "{:?}", s.status);

    let server = MockServer::start().await;
    on(
        &server,
        "GET",
        "/v1/auth/token/lookup-self",
        ok(json!({})).set_delay(std::time::Duration::from_secs(3)),
    )
    .await;
    let s = collect(&instance(&server), &FixedFilter::default()).await;
    assert!(
        matches!(error(&s), ProbeError::Timeout(_)),
        "{:?}",
        s.status
    );
}

#[tokio::test]
async fn unexpected_bodies_fail_the_instance() {
    let server = MockServer::start().await;
    on(
        &server,
        "GET",
        "/v1/auth/token/lookup-self",
        ResponseTemplate::new(200).set_body_string("<html>proxy</html>"),
    )
    .await;
    let s = collect(&instance(&server), &FixedFilter::default()).await;
    assert!(
        matches!(error(&s), ProbeError::Unexpected(_)),
        "{:?}",
        s.status
    );

    // An entity alias without its mount is an error, not a login that matches nobody.
    // (wiremock answers with the first matching mock: the broken entity is mounted first.)
    let server = MockServer::start().await;
    on(
        &server,
        "GET",
        "/v1/identity/entity/id/e1",
        ok(json!({"name": "alice", "aliases": [{"name": "alice"}]})),
    )
    .await;
    estate(&server, false).await;
    let s = collect(&instance(&server), &FixedFilter::default()).await;
    let gap = s
        .gaps
        .iter()
        .find(|g| g.what == "identity entities")
        .expect("a gap");
    assert!(matches!(gap.error, ProbeError::Unexpected(_)), "{gap:?}");
}
