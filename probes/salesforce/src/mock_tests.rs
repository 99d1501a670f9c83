//! The five cases every probe must get right, against an in-process HTTP mock: residual access
//! found, determinately clean, credentials refused, server failing or silent, and a body that
//! is not what the API promises. The end-to-end tests run against `salesforce_server.py`.

use residual_probe::http::HttpPolicy;
use residual_probe::{
    AccountState, CollectStatus, FixedFilter, GapEffect, ProbeError, SystemSnapshot,
};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::{collect, SalesforceAuth, SalesforceInstance, OAUTH_TOKEN, USER_ACTIVE};

const QUERY: &str = "/services/data/v62.0/query";

fn instance(server: &MockServer) -> SalesforceInstance {
    SalesforceInstance {
        instance_url: server.uri(),
        api_version: "v62.0".into(),
        auth: SalesforceAuth::Token("mock-sf-token-123456".to_string().into()),
        concurrency: 4,
        http: HttpPolicy::for_tests(),
    }
}

fn rows(records: serde_json::Value) -> ResponseTemplate {
    let n = records.as_array().map_or(0, |a| a.len());
    ResponseTemplate::new(200)
        .set_body_json(json!({"totalSize": n, "done": true, "records": records}))
}

/// Matches a SOQL query on one object (`… FROM User …`).
fn from(object: &'static str) -> impl wiremock::Match {
    move |req: &wiremock::Request| {
        req.url.query_pairs().any(|(k, v)| {
            k == "q"
                && v.split_once(" FROM ")
                    .and_then(|(_, r)| r.split(' ').next())
                    == Some(object)
        })
    }
}

async fn on(server: &MockServer, object: &'static str, resp: ResponseTemplate) {
    Mock::given(method("GET"))
        .and(path(QUERY))
        .and(from(object))
        .respond_with(resp)
        .mount(server)
        .await;
}

async fn estate(server: &MockServer, active: bool) {
    on(
        server,
        "UserPermissionAccess",
        rows(json!([{"PermissionsViewAllUsers": true, "PermissionsManageUsers": true}])),
    )
    .await;
    on(server, "User", rows(json!([{"Id": "005A", "Username": "alice@acme.example", "Email": "alice@acme.example",
        "IsActive": active, "LastLoginDate": "2026-11-20T09:15:00.000+0000", "Profile": {"Name": "Standard User"}}]))).await;
    on(
        server,
        "UserLogin",
        rows(json!([{"Id": "L1", "UserId": "005A", "IsFrozen": false}])),
    )
    .await;
    on(
        server,
        "OauthToken",
        rows(json!([{"Id": "0CQ1", "AppName": "Sync", "UserId": "005A",
        "CreatedDate": "2026-01-01T00:00:00.000+0000", "LastUsedDate": null, "UseCount": 3}])),
    )
    .await;
    on(server, "LoginHistory", rows(json!([]))).await;
    on(server, "PermissionSetAssignment", rows(json!([{"AssigneeId": "005A",
        "PermissionSet": {"Name": "X00e1", "IsOwnedByProfile": true, "PermissionsModifyAllData": true, "PermissionsViewAllData": false}}]))).await;
}

fn error(s: &SystemSnapshot) -> ProbeError {
    match &s.status {
        CollectStatus::Failed { error } => error.clone(),
        CollectStatus::Complete => panic!("expected a failed collection, got {s:?}"),
    }
}

fn everyone() -> FixedFilter {
    FixedFilter {
        wants_all: true,
        ..Default::default()
    }
}

#[tokio::test]
async fn found_an_active_user_with_a_token_and_admin_power() {
    let server = MockServer::start().await;
    estate(&server, true).await;
    let s = collect(&instance(&server), &everyone()).await;
    assert!(
        s.is_complete() && s.gaps.is_empty(),
        "{:?} {:?}",
        s.status,
        s.gaps
    );
    let a = &s.accounts[0];
    assert_eq!(a.state, AccountState::Active);
    assert_eq!(a.credentials[0].resource_type, OAUTH_TOKEN);
    // A custom profile with Modify All Data is admin power, whatever the profile is called.
    assert_eq!(
        a.privileges,
        vec!["profile-owned permission set X00e1: ModifyAllData"]
    );
}

#[tokio::test]
async fn deactivated_user_is_determinate() {
    let server = MockServer::start().await;
    estate(&server, false).await;
    let s = collect(&instance(&server), &everyone()).await;
    assert!(s.is_complete(), "{:?}", s.status);
    assert_eq!(s.accounts[0].state, AccountState::Disabled);
}

#[tokio::test]
async fn refused_session_and_missing_view_all_users_fail_the_instance() {
    let server = MockServer::start().await;
    on(
        &server,
        "UserPermissionAccess",
        ResponseTemplate::new(401).set_body_json(
            json!([{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]),
        ),
    )
    .await;
    let s = collect(&instance(&server), &everyone()).await;
    assert!(matches!(error(&s), ProbeError::Auth(_)), "{:?}", s.status);

    // Without View All Users the User table is partial yet says done: the silent-empty trap.
    let server = MockServer::start().await;
    on(
        &server,
        "UserPermissionAccess",
        rows(json!([{"PermissionsViewAllUsers": false, "PermissionsManageUsers": true}])),
    )
    .await;
    on(&server, "User", rows(json!([]))).await;
    let s = collect(&instance(&server), &everyone()).await;
    assert!(
        matches!(error(&s), ProbeError::Permission(_)),
        "{:?}",
        s.status
    );
}

#[tokio::test]
async fn server_errors_and_silence_fail_the_instance() {
    let server = MockServer::start().await;
    on(&server, "UserPermissionAccess", ResponseTemplate::new(503)).await;
    let s = collect(&instance(&server), &everyone()).await;
    assert!(matches!(error(&s), ProbeError::Server(_)), "{:?}", s.status);

    let server = MockServer::start().await;
    on(
        &server,
        "UserPermissionAccess",
        rows(json!([])).set_delay(std::time::Duration::from_secs(3)),
    )
    .await;
    let s = collect(&instance(&server), &everyone()).await;
    assert!(
        matches!(error(&s), ProbeError::Timeout(_)),
        "{:?}",
        s.status
    );
}

#[tokio::test]
async fn unexpected_bodies_fail_and_unread_admin_power_is_a_severity_gap() {
    for user in [
        json!([{"Id": "005A", "Username": "a"}]),
        json!("not records"),
    ] {
        let server = MockServer::start().await;
        on(
            &server,
            "UserPermissionAccess",
            rows(json!([{"PermissionsViewAllUsers": true, "PermissionsManageUsers": true}])),
        )
        .await;
        on(&server, "User", rows(user)).await;
        let s = collect(&instance(&server), &everyone()).await;
        assert!(
            matches!(error(&s), ProbeError::Unexpected(_)),
            "{:?}",
            s.status
        );
    }
    let server = MockServer::start().await;
    on(
        &server,
        "PermissionSetAssignment",
        ResponseTemplate::new(400)
            .set_body_json(json!([{"message": "no", "errorCode": "INVALID_TYPE"}])),
    )
    .await;
    estate(&server, true).await;
    let s = collect(&instance(&server), &everyone()).await;
    assert!(s.is_complete());
    assert_eq!(s.gaps.len(), 1, "{:?}", s.gaps);
    assert_eq!(s.gaps[0].effect, GapEffect::Severity);
    assert_eq!(s.gaps[0].checks, vec![USER_ACTIVE.0]);
}
