//! The five cases every probe must get right, against an in-process HTTP mock: residual access
//! found, determinately clean, credentials refused, server failing or silent, and a body that
//! is not what the API promises. The end-to-end tests run against the schema-checked
//! `github_server.py`.

use residual_probe::http::HttpPolicy;
use residual_probe::{Candidates, CollectStatus, FixedFilter, ProbeError, SystemSnapshot};
use serde_json::json;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::{collect, GithubAuth, GithubInstance, MEMBER, SSO_CREDENTIAL};

fn instance(server: &MockServer) -> GithubInstance {
    GithubInstance {
        name: "acme".into(),
        org: "acme".into(),
        api_url: server.uri(),
        auth: GithubAuth::Token(
            "ghp_mockmockmockmockmockmockmockmock0000"
                .to_string()
                .into(),
        ),
        concurrency: 4,
        http: HttpPolicy::for_tests(),
    }
}

fn filter() -> FixedFilter {
    FixedFilter {
        wants_all: true,
        candidates: Candidates {
            logins: vec!["alice".into()],
            ..Default::default()
        },
    }
}

fn ok(body: serde_json::Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(body)
}

async fn on(server: &MockServer, p: &str, resp: ResponseTemplate) {
    Mock::given(method("GET"))
        .and(path(p))
        .respond_with(resp)
        .mount(server)
        .await;
}

/// An org whose scanning token belongs to owner `audit`; `members` are the org's members.
async fn org(server: &MockServer, members: serde_json::Value, auths: serde_json::Value) {
    on(
        server,
        "/user",
        ok(json!({"login": "audit", "id": 1})).insert_header("x-oauth-scopes", "read:org, repo"),
    )
    .await;
    on(
        server,
        "/orgs/acme/memberships/audit",
        ok(json!({"state": "active", "role": "admin",
        "user": {"login": "audit", "id": 1}})),
    )
    .await;
    Mock::given(method("GET"))
        .and(path("/orgs/acme/members"))
        .and(query_param("role", "admin"))
        .respond_with(ok(json!([])))
        .mount(server)
        .await;
    on(server, "/orgs/acme/members", ok(members)).await;
    for p in [
        "/orgs/acme/outside_collaborators",
        "/orgs/acme/invitations",
        "/orgs/acme/repos",
        "/orgs/acme/teams",
        "/orgs/acme/personal-access-tokens",
    ] {
        on(server, p, ok(json!([]))).await;
    }
    on(
        server,
        "/orgs/acme/actions/secrets",
        ok(json!({"total_count": 0, "secrets": []})),
    )
    .await;
    on(server, "/orgs/acme/credential-authorizations", ok(auths)).await;
}

fn error(s: &SystemSnapshot) -> ProbeError {
    match &s.status {
        CollectStatus::Failed { error } => error.clone(),
        CollectStatus::Complete => panic!("expected a failed collection, got {s:?}"),
    }
}

#[tokio::test]
async fn found_a_member_with_an_sso_token() {
    let server = MockServer::start().await;
    org(&server, json!([{"login": "alice", "id": 7}]), json!([{"login": "alice", "credential_id": 81,
        "credential_type": "personal access token", "token_last_eight": "a91c22f0",
        "credential_authorized_at": "2026-01-01T00:00:00Z", "credential_accessed_at": "2026-11-20T00:00:00Z"}])).await;
    let s = collect(&instance(&server), &filter()).await;
    assert!(
        s.is_complete() && s.gaps.is_empty(),
        "{:?} {:?}",
        s.status,
        s.gaps
    );
    let a = s.accounts.iter().find(|a| a.name == "alice").unwrap();
    assert_eq!(a.resource_type, MEMBER);
    assert_eq!(a.credentials[0].resource_type, SSO_CREDENTIAL);
}

#[tokio::test]
async fn no_member_is_determinate() {
    let server = MockServer::start().await;
    org(&server, json!([{"login": "bob", "id": 8}]), json!([])).await;
    let s = collect(&instance(&server), &filter()).await;
    assert!(
        s.is_complete() && s.gaps.is_empty(),
        "{:?} {:?}",
        s.status,
        s.gaps
    );
    assert!(s.accounts.iter().all(|a| a.name != "alice"));
    assert_eq!(s.accounts_enumerated, 1);
}

#[tokio::test]
async fn refused_token_and_a_token_that_sees_too_little_fail_the_instance() {
    let server = MockServer::start().await;
    on(
        &server,
        "/user",
        ResponseTemplate::new(401).set_body_json(json!({"message": "Bad credentials"})),
    )
    .await;
    let s = collect(&instance(&server), &filter()).await;
    assert!(matches!(error(&s), ProbeError::Auth(_)), "{:?}", s.status);

    // A classic token without read:org sees public members only.
    let server = MockServer::start().await;
    on(
        &server,
        "/user",
        ok(json!({"login": "audit", "id": 1})).insert_header("x-oauth-scopes", "repo"),
    )
    .await;
    let s = collect(&instance(&server), &filter()).await;
    assert!(
        matches!(error(&s), ProbeError::Permission(_)),
        "{:?}",
        s.status
    );
}

#[tokio::test]
async fn server_errors_and_silence_fail_the_instance() {
    let server = MockServer::start().await;
    on(&server, "/user", ResponseTemplate::new(502)).await;
    let s = collect(&instance(&server), &filter()).await;
    assert!(matches!(error(&s), ProbeError::Server(_)), "{:?}", s.status);

    let server = MockServer::start().await;
    on(
        &server,
        "/user",
        ok(json!({})).set_delay(std::time::Duration::from_secs(3)),
    )
    .await;
    let s = collect(&instance(&server), &filter()).await;
    assert!(
        matches!(error(&s), ProbeError::Timeout(_)),
        "{:?}",
        s.status
    );
}

#[tokio::test]
async fn unexpected_bodies_fail_the_instance_or_name_a_gap() {
    let server = MockServer::start().await;
    org(&server, json!({"not": "a list"}), json!([])).await;
    let s = collect(&instance(&server), &filter()).await;
    assert!(
        matches!(error(&s), ProbeError::Unexpected(_)),
        "{:?}",
        s.status
    );

    // Secrets whose pages do not add up to total_count: a gap, not a short list.
    let server = MockServer::start().await;
    on(
        &server,
        "/orgs/acme/actions/secrets",
        ok(json!({"total_count": 3, "secrets": []})),
    )
    .await;
    org(&server, json!([]), json!([])).await;
    let s = collect(&instance(&server), &filter()).await;
    assert!(s.is_complete());
    assert!(
        s.gaps
            .iter()
            .any(|g| g.checks == vec!["github_org_secret_not_rotated"]),
        "{:?}",
        s.gaps
    );
}
