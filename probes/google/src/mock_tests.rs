//! The cases every probe must get right, against an in-process HTTP mock: residual access
//! found, determinately clean, credentials refused, server failing or silent, a body that is
//! not what the API promises — and Google's own traps: an admin who sees only an org unit,
//! an organization search that does not return the organization, quota 403s. The end-to-end
//! tests run against tests/harness/google_server.py.

use residual_probe::http::HttpPolicy;
use residual_probe::{
    AccountState, Candidates, CollectStatus, FixedFilter, ProbeError, SystemSnapshot,
};
use serde_json::json;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::{GoogleInstance, GoogleProbe, ServiceAccount, Strategy};
use residual_probe::Probe;

/// A fresh RSA key (PKCS#8 PEM): no private key lives in the repo.
fn key() -> String {
    use aws_lc_rs::encoding::AsDer;
    use base64::Engine;
    let k = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let der = k.as_der().unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
    let lines: Vec<String> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| String::from_utf8(c.to_vec()).unwrap())
        .collect();
    format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        lines.join("\n")
    )
}

fn instance(server: &MockServer, org: Option<&str>) -> GoogleInstance {
    GoogleInstance {
        name: "acme.example".into(),
        account: ServiceAccount {
            email: "scanner@acme-sec.iam.gserviceaccount.com".into(),
            key: key().into(),
            key_id: Some("k1".into()),
            token_uri: None,
        },
        subject: Some("admin@acme.example".into()),
        customer: "my_customer".into(),
        organization: org.map(str::to_string),
        owner_keys: vec!["owner".into()],
        strategy: Strategy::Auto,
        endpoint: Some(server.uri()),
        concurrency: 4,
        http: HttpPolicy::for_tests(),
    }
}

fn listing() -> FixedFilter {
    FixedFilter {
        wants_all: true,
        candidates: Candidates {
            emails: (0..80).map(|i| format!("u{i}@acme.example")).collect(),
            ..Default::default()
        },
    }
}

fn ok(body: serde_json::Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(body)
}

fn google_error(code: u16, status: &str, reason: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(code).set_body_json(json!({"error": {"code": code, "message": message,
        "status": status, "errors": [{"message": message, "domain": "global", "reason": reason}]}}))
}

async fn get(server: &MockServer, p: &str, resp: ResponseTemplate) {
    Mock::given(method("GET"))
        .and(path(p))
        .respond_with(resp)
        .mount(server)
        .await;
}

fn user(id: &str, email: &str, suspended: bool, admin: bool) -> serde_json::Value {
    json!({"id": id, "primaryEmail": email, "suspended": suspended, "archived": false,
           "isAdmin": admin, "lastLoginTime": "1970-01-01T00:00:00.000Z",
           "creationTime": "2024-01-01T00:00:00.000Z"})
}

const D: &str = "/admin/directory/v1";

/// A token endpoint, an admin subject who sees everything, and the roles.
async fn workspace(server: &MockServer) {
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ok(json!({"access_token": "ya29.mock-access-token-0001", "expires_in": 3599, "token_type": "Bearer"})))
        .mount(server)
        .await;
    get(
        server,
        &format!("{D}/users/admin@acme.example"),
        ok(user("1", "admin@acme.example", false, true)),
    )
    .await;
    get(server, &format!("{D}/customer/my_customer/roles"),
        ok(json!({"items": [{"roleId": "91", "roleName": "_SEED_ADMIN_ROLE", "isSuperAdminRole": true},
                            {"roleId": "92", "roleName": "_GROUPS_ADMIN_ROLE"}]}))).await;
}

fn error(s: &SystemSnapshot) -> ProbeError {
    match &s.status {
        CollectStatus::Failed { error } => error.clone(),
        CollectStatus::Complete => panic!("expected a failed collection, got {s:?}"),
    }
}

async fn scan(inst: GoogleInstance) -> Vec<SystemSnapshot> {
    GoogleProbe(inst).collect(&listing()).await
}

#[tokio::test]
async fn found_an_active_user_with_grants_passwords_and_a_role() {
    let server = MockServer::start().await;
    workspace(&server).await;
    get(
        &server,
        &format!("{D}/users"),
        ok(json!({"users": [
        user("1", "admin@acme.example", false, true),
        {"id": "2", "primaryEmail": "jdoe@acme.example", "suspended": false, "isAdmin": false,
         "aliases": ["john@acme.example"], "externalIds": [{"value": "E1", "type": "organization"}],
         "lastLoginTime": "2026-11-24T10:00:00.000Z"}]})),
    )
    .await;
    for id in ["1", "2"] {
        let (t, a) = if id == "2" {
            (
                json!({"items": [{"clientId": "zap.apps.googleusercontent.com", "displayText": "Zapier",
                               "scopes": ["https://www.googleapis.com/auth/drive"]}]}),
                json!({"items": [{"codeId": 7, "name": "imap", "creationTime": "1735689600000", "lastTimeUsed": "0"}]}),
            )
        } else {
            (json!({}), json!({}))
        };
        get(&server, &format!("{D}/users/{id}/tokens"), ok(t)).await;
        get(&server, &format!("{D}/users/{id}/asps"), ok(a)).await;
    }
    Mock::given(method("GET"))
        .and(path(format!("{D}/customer/my_customer/roleassignments")))
        .and(query_param("userKey", "2"))
        .respond_with(ok(json!({"items": [{"roleAssignmentId": "500", "roleId": "92", "assignedTo": "777", "assigneeType": "group", "scopeType": "CUSTOMER"}]})))
        .with_priority(1)
        .mount(&server)
        .await;
    get(&server, &format!("{D}/customer/my_customer/roleassignments"), ok(json!({"items": [
        {"roleAssignmentId": "1", "roleId": "91", "assignedTo": "1", "assigneeType": "user", "scopeType": "CUSTOMER"}]}))).await;
    let snaps = scan(instance(&server, None)).await;
    assert_eq!(snaps.len(), 1);
    let s = &snaps[0];
    assert!(s.is_complete(), "{:?}", s.status);
    let j = s.accounts.iter().find(|a| a.id == "2").unwrap();
    assert_eq!(j.emails, ["jdoe@acme.example", "john@acme.example"]);
    assert_eq!(j.external_ids, ["E1"]);
    assert_eq!(j.credentials.len(), 2, "{:?}", j.credentials);
    let grant = j
        .credentials
        .iter()
        .find(|c| c.resource_type == "google_oauth_grant")
        .unwrap();
    assert_eq!(grant.attributes["sensitive scopes"], "Drive");
    let asp = j
        .credentials
        .iter()
        .find(|c| c.resource_type == "google_app_password")
        .unwrap();
    assert_eq!(asp.last_used_at, None, "lastTimeUsed 0 is never");
    let role = s
        .assets
        .iter()
        .find(|x| x.trusted_principals == ["2"])
        .unwrap();
    assert_eq!(
        role.attributes["removal_path"], "groups/777/members/2",
        "a group's role: leave the group"
    );
    assert!(
        j.privileges
            .iter()
            .any(|p| p.contains("_GROUPS_ADMIN_ROLE")),
        "{:?}",
        j.privileges
    );
    // The never-signed-in 1970 time is no login.
    assert_eq!(
        s.accounts
            .iter()
            .find(|a| a.id == "1")
            .unwrap()
            .last_login_at,
        None
    );
}

#[tokio::test]
async fn suspended_and_deleted_are_determinate() {
    let server = MockServer::start().await;
    workspace(&server).await;
    get(&server, &format!("{D}/users"), ok(json!({"users": [user("1", "admin@acme.example", false, true), user("3", "bob@acme.example", true, false)]}))).await;
    for id in ["1", "3"] {
        get(&server, &format!("{D}/users/{id}/tokens"), ok(json!({}))).await;
        get(&server, &format!("{D}/users/{id}/asps"), ok(json!({}))).await;
    }
    get(
        &server,
        &format!("{D}/customer/my_customer/roleassignments"),
        ok(json!({"items": [
        {"roleAssignmentId": "1", "roleId": "91", "assignedTo": "1", "scopeType": "CUSTOMER"}]})),
    )
    .await;
    get(&server, "/v1/organizations/42:searchAllIamPolicies", ok(json!({"results": [
        {"resource": "//cloudresourcemanager.googleapis.com/organizations/42", "policy": {"bindings": [
            {"role": "roles/viewer", "members": ["deleted:user:bob@acme.example?uid=9", "serviceAccount:x@y.iam.gserviceaccount.com"]}]}}]}))).await;
    get(
        &server,
        "/v1/organizations/42:searchAllResources",
        ok(json!({})),
    )
    .await;
    let snaps = scan(instance(&server, Some("42"))).await;
    assert_eq!(snaps.len(), 2);
    assert!(snaps.iter().all(|s| s.is_complete()), "{snaps:?}");
    let bob = snaps[0].accounts.iter().find(|a| a.id == "3").unwrap();
    assert_eq!(bob.state, AccountState::Frozen);
    assert!(bob.attributes["blocked"].contains("suspended"));
    let cloud = &snaps[1];
    assert_eq!(cloud.instance, "acme.example/cloud");
    assert_eq!(
        cloud.accounts.len(),
        1,
        "only user members: {:?}",
        cloud.accounts
    );
    assert_eq!(cloud.accounts[0].state, AccountState::Disabled);
    assert_eq!(cloud.accounts[0].emails, ["bob@acme.example"]);
}

#[tokio::test]
async fn refused_delegation_fails_the_instance() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"error": "unauthorized_client",
            "error_description": "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested."})))
        .mount(&server)
        .await;
    let snaps = scan(instance(&server, None)).await;
    let e = error(&snaps[0]);
    assert!(
        matches!(&e, ProbeError::Auth(m) if m.contains("unauthorized_client") && m.contains("domain-wide delegation")),
        "{e:?}"
    );
}

#[tokio::test]
async fn server_errors_and_silence_fail_the_instance() {
    let server = MockServer::start().await;
    workspace(&server).await;
    get(
        &server,
        &format!("{D}/customer/my_customer/roleassignments"),
        ok(json!({})),
    )
    .await;
    get(&server, &format!("{D}/users"), ResponseTemplate::new(503)).await;
    assert!(matches!(
        error(&scan(instance(&server, None)).await[0]),
        ProbeError::Server(_)
    ));

    let server = MockServer::start().await;
    workspace(&server).await;
    get(
        &server,
        &format!("{D}/customer/my_customer/roleassignments"),
        ok(json!({})),
    )
    .await;
    get(
        &server,
        &format!("{D}/users"),
        ok(json!({})).set_delay(std::time::Duration::from_secs(3)),
    )
    .await;
    assert!(matches!(
        error(&scan(instance(&server, None)).await[0]),
        ProbeError::Timeout(_)
    ));
}

#[tokio::test]
async fn a_body_that_is_not_the_api_fails_the_instance() {
    let server = MockServer::start().await;
    workspace(&server).await;
    get(
        &server,
        &format!("{D}/customer/my_customer/roleassignments"),
        ok(json!({})),
    )
    .await;
    // A user without `suspended`: its state is unknown.
    get(
        &server,
        &format!("{D}/users"),
        ok(json!({"users": [{"id": "1", "primaryEmail": "admin@acme.example"}]})),
    )
    .await;
    let e = error(&scan(instance(&server, None)).await[0]);
    assert!(matches!(e, ProbeError::Unexpected(_)), "{e:?}");
}

#[tokio::test]
async fn an_admin_limited_to_an_org_unit_is_refused() {
    let server = MockServer::start().await;
    workspace(&server).await;
    // Not a super admin; its one role is scoped to an org unit.
    get(
        &server,
        &format!("{D}/users/helpdesk@acme.example"),
        ok(user("5", "helpdesk@acme.example", false, false)),
    )
    .await;
    get(&server, &format!("{D}/customer/my_customer/roleassignments"), ok(json!({"items": [
        {"roleAssignmentId": "9", "roleId": "93", "assignedTo": "5", "scopeType": "ORG_UNIT", "orgUnitId": "03ph8a2z"}]}))).await;
    get(
        &server,
        &format!("{D}/users"),
        ok(json!({"users": [user("6", "desk@acme.example", false, false)]})),
    )
    .await;
    let mut inst = instance(&server, None);
    inst.subject = Some("helpdesk@acme.example".into());
    let e = error(&scan(inst).await[0]);
    assert!(
        matches!(&e, ProbeError::Permission(m) if m.contains("org units")),
        "{e:?}"
    );
}

#[tokio::test]
async fn an_organization_search_without_the_organization_is_refused() {
    let server = MockServer::start().await;
    workspace(&server).await;
    // The caller sees one project's policy only: not the organization.
    get(&server, "/v1/organizations/42:searchAllIamPolicies", ok(json!({"results": [
        {"resource": "//cloudresourcemanager.googleapis.com/projects/p1", "policy": {"bindings": []}}]}))).await;
    let mut inst = instance(&server, Some("42"));
    inst.subject = None;
    let snaps = scan(inst).await;
    assert_eq!(snaps.len(), 1);
    let e = error(&snaps[0]);
    assert!(
        matches!(&e, ProbeError::Permission(m) if m.contains("organization's own policy")),
        "{e:?}"
    );
}

#[tokio::test]
async fn quota_403s_back_off_and_then_fail_closed() {
    let server = MockServer::start().await;
    workspace(&server).await;
    get(
        &server,
        &format!("{D}/customer/my_customer/roleassignments"),
        ok(json!({})),
    )
    .await;
    get(
        &server,
        &format!("{D}/users"),
        google_error(
            403,
            "PERMISSION_DENIED",
            "userRateLimitExceeded",
            "Quota exceeded for quota metric 'Queries'",
        ),
    )
    .await;
    let e = error(&scan(instance(&server, None)).await[0]);
    assert!(
        matches!(&e, ProbeError::Throttled(_)),
        "a quota 403 is throttling, not a permission: {e:?}"
    );
    // The backoff retried within the attempts (HttpPolicy::for_tests: 2).
    let n = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == format!("{D}/users"))
        .count();
    assert_eq!(n, 2);
}
