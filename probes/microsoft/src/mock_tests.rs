//! The cases every probe must get right, against an in-process HTTP mock: residual access
//! found, credentials refused, a server that fails or garbles, a list that does not add up —
//! and Microsoft's own traps: a tenant without the sign-in licence, a token for another
//! tenant, a subscription listing that shows nothing, a next page pointing elsewhere. The
//! end-to-end tests run against tests/harness/msgraph_server.py.

use residual_probe::http::HttpPolicy;
use residual_probe::{
    AccountState, CollectStatus, FixedFilter, GapEffect, ProbeError, SystemSnapshot,
};
use serde_json::json;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::{ClientAuth, MicrosoftInstance, MicrosoftProbe, Strategy, Subscriptions};
use residual_probe::Probe;

const TENANT: &str = "5f2c7a1e-0b6d-4e8a-9c3f-2d1e0a9b8c7d";

fn instance(server: &MockServer, subs: Subscriptions) -> MicrosoftInstance {
    MicrosoftInstance {
        name: "acme".into(),
        tenant: TENANT.into(),
        client_id: "9a1b2c3d-0000-4000-8000-00000000c0de".into(),
        auth: ClientAuth::Secret("mock-client-secret-0001".to_string().into()),
        subscriptions: subs,
        strategy: Strategy::List,
        endpoint: Some(server.uri()),
        concurrency: 4,
        http: HttpPolicy::for_tests(),
    }
}

fn ok(body: serde_json::Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(body)
}

fn graph_error(code: u16, name: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(code).set_body_json(json!({"error": {"code": name, "message": message,
        "innerError": {"date": "2026-11-26T12:00:00", "request-id": "0b7e8c1d-mock-request-id"}}}))
}

async fn get(server: &MockServer, p: &str, resp: ResponseTemplate) {
    Mock::given(method("GET"))
        .and(path(p))
        .respond_with(resp)
        .mount(server)
        .await;
}

fn user(id: &str, upn: &str, enabled: bool) -> serde_json::Value {
    json!({"id": id, "userPrincipalName": upn, "mail": upn, "accountEnabled": enabled,
           "otherMails": [], "proxyAddresses": [], "createdDateTime": "2024-01-01T00:00:00Z"})
}

/// A token endpoint, the tenant, two users, no roles; `users` answers the listing.
async fn tenant(server: &MockServer, users: ResponseTemplate) {
    Mock::given(method("POST"))
        .and(path(format!("/{TENANT}/oauth2/v2.0/token")))
        .respond_with(ok(json!({"token_type": "Bearer", "expires_in": 3599,
            "access_token": "eyJ0eXAiOiJKV1QiLCJhbGciOiJub25lIn0.mock-access-token-0001"})))
        .mount(server)
        .await;
    get(
        server,
        "/v1.0/organization",
        ok(json!({"value": [{"id": TENANT, "displayName": "Acme",
        "verifiedDomains": [{"name": "acme.example"}]}]})),
    )
    .await;
    Mock::given(method("GET"))
        .and(path("/v1.0/users/$count"))
        .respond_with(ResponseTemplate::new(200).set_body_string("2"))
        .mount(server)
        .await;
    get(server, "/v1.0/users", users).await;
    for p in ["roleDefinitions", "roleAssignments"] {
        get(
            server,
            &format!("/v1.0/roleManagement/directory/{p}"),
            ok(json!({"value": []})),
        )
        .await;
    }
}

fn two_users() -> ResponseTemplate {
    ok(
        json!({"value": [user("u1", "jdoe@acme.example", true), user("u2", "ann@acme.example", true)]}),
    )
}

/// Every per-user read of `id` answers an empty collection.
async fn details(server: &MockServer, id: &str) {
    for p in [
        "transitiveMemberOf/microsoft.graph.group",
        "ownedObjects/microsoft.graph.application",
        "ownedObjects/microsoft.graph.servicePrincipal",
        "oauth2PermissionGrants",
        "appRoleAssignments",
    ] {
        get(
            server,
            &format!("/v1.0/users/{id}/{p}"),
            ok(json!({"value": []})),
        )
        .await;
    }
}

fn filter() -> FixedFilter {
    FixedFilter {
        wants_all: true,
        ..Default::default()
    }
}

fn error(s: &SystemSnapshot) -> ProbeError {
    match &s.status {
        CollectStatus::Failed { error } => error.clone(),
        CollectStatus::Complete => panic!("expected a failed collection, got {s:?}"),
    }
}

async fn scan(inst: MicrosoftInstance) -> SystemSnapshot {
    MicrosoftProbe(inst).collect(&filter()).await.remove(0)
}

#[tokio::test]
async fn users_are_read_with_their_state_and_sign_in() {
    let server = MockServer::start().await;
    let mut jdoe = user("u1", "jdoe@acme.example", true);
    jdoe["signInActivity"] = json!({"lastSuccessfulSignInDateTime": "2026-11-24T09:00:00Z"});
    jdoe["proxyAddresses"] = json!([
        "SMTP:jdoe@acme.example",
        "smtp:john@acme.example",
        "sip:jdoe@acme.example"
    ]);
    tenant(
        &server,
        ok(json!({"value": [jdoe, user("u2", "ann@acme.example", false)]})),
    )
    .await;
    details(&server, "u1").await;
    details(&server, "u2").await;
    let s = scan(instance(&server, Subscriptions::None)).await;
    assert!(s.is_complete(), "{s:?}");
    let j = s.accounts.iter().find(|a| a.id == "u1").unwrap();
    assert_eq!(j.state, AccountState::Active);
    assert_eq!(j.emails, vec!["jdoe@acme.example", "john@acme.example"]);
    assert!(j.last_login_at.is_some());
    let a = s.accounts.iter().find(|a| a.id == "u2").unwrap();
    assert_eq!(a.state, AccountState::Frozen);
    assert!(s.gaps.is_empty(), "{:?}", s.gaps);
}

#[tokio::test]
async fn a_tenant_without_the_sign_in_licence_is_a_severity_gap() {
    let server = MockServer::start().await;
    // The select with signInActivity is refused; the one without answers.
    Mock::given(method("GET"))
        .and(path("/v1.0/users"))
        .and(query_param(
            "$select",
            format!("{},signInActivity", crate::graph::SELECT_FOR_TESTS),
        ))
        .respond_with(graph_error(
            403,
            "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
            "Neither tenant is B2C or tenant doesn't have premium license",
        ))
        .with_priority(1)
        .mount(&server)
        .await;
    tenant(&server, two_users()).await;
    details(&server, "u1").await;
    details(&server, "u2").await;
    let s = scan(instance(&server, Subscriptions::None)).await;
    assert!(s.is_complete(), "{s:?}");
    assert_eq!(s.accounts.len(), 2);
    let g = &s.gaps[0];
    assert_eq!(g.effect, GapEffect::Severity);
    assert_eq!(g.checks, vec!["microsoft_entra_user_enabled"]);
    assert!(
        g.error
            .to_string()
            .contains("Authentication_RequestFromNonPremiumTenantOrB2CTenant")
            && g.error.to_string().contains("0b7e8c1d-mock-request-id"),
        "{}",
        g.error
    );
}

#[tokio::test]
async fn a_list_that_does_not_add_up_fails_closed() {
    let server = MockServer::start().await;
    tenant(
        &server,
        ok(json!({"value": [user("u1", "jdoe@acme.example", true)]})),
    )
    .await;
    let s = scan(instance(&server, Subscriptions::None)).await;
    let e = error(&s).to_string();
    assert!(e.contains("does not add up"), "{e}");
}

#[tokio::test]
async fn refusals_failures_and_garbage_fail_closed() {
    for (name, resp, want) in [
        (
            "unauthorized",
            graph_error(
                401,
                "InvalidAuthenticationToken",
                "Access token has expired or is not yet valid.",
            ),
            "InvalidAuthenticationToken",
        ),
        (
            "forbidden",
            graph_error(
                403,
                "Authorization_RequestDenied",
                "Insufficient privileges to complete the operation.",
            ),
            "Authorization_RequestDenied",
        ),
        (
            "server",
            graph_error(503, "serviceNotAvailable", "Service unavailable"),
            "503",
        ),
        (
            "garbage",
            ResponseTemplate::new(200).set_body_string("{\"value\": [{\"id\""),
            "/v1.0/users",
        ),
        (
            "throttled",
            graph_error(429, "TooManyRequests", "Too many requests")
                .insert_header("retry-after", "3600"),
            "rate limit",
        ),
    ] {
        let server = MockServer::start().await;
        tenant(&server, resp).await;
        let s = scan(instance(&server, Subscriptions::None)).await;
        let e = error(&s).to_string();
        assert!(e.contains(want), "{name}: {e}");
        assert!(
            !e.contains("mock-client-secret-0001") && !e.contains("mock-access-token-0001"),
            "{e}"
        );
    }
}

#[tokio::test]
async fn a_token_refused_or_for_another_tenant_fails_closed() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/{TENANT}/oauth2/v2.0/token")))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"error": "invalid_client",
            "error_description": "AADSTS7000215: Invalid client secret provided.\r\nTrace ID: x\r\nCorrelation ID: y",
            "error_codes": [7000215]})))
        .mount(&server)
        .await;
    let e = error(&scan(instance(&server, Subscriptions::None)).await).to_string();
    assert!(
        e.contains("invalid_client") && e.contains("AADSTS7000215"),
        "{e}"
    );
    assert!(!e.contains("mock-client-secret-0001"), "{e}");

    let server = MockServer::start().await;
    tenant(&server, two_users()).await;
    let mut inst = instance(&server, Subscriptions::None);
    inst.tenant = "other.example".into();
    Mock::given(method("POST"))
        .and(path("/other.example/oauth2/v2.0/token"))
        .respond_with(ok(
            json!({"access_token": "eyJ.mock-access-token-0002", "token_type": "Bearer"}),
        ))
        .mount(&server)
        .await;
    let e = error(&scan(inst).await).to_string();
    assert!(e.contains("not the configured tenant"), "{e}");
}

#[tokio::test]
async fn a_next_page_elsewhere_is_not_followed() {
    let server = MockServer::start().await;
    tenant(
        &server,
        ok(json!({"value": [user("u1", "jdoe@acme.example", true)],
        "@odata.nextLink": "https://attacker.example/v1.0/users?$skiptoken=x"})),
    )
    .await;
    let e = error(&scan(instance(&server, Subscriptions::None)).await).to_string();
    assert!(
        e.contains("not followed") && e.contains("attacker.example"),
        "{e}"
    );
}

#[tokio::test]
async fn azure_that_shows_no_subscription_blocks_the_azure_check() {
    let server = MockServer::start().await;
    tenant(&server, two_users()).await;
    details(&server, "u1").await;
    details(&server, "u2").await;
    get(
        &server,
        "/subscriptions",
        ok(json!({"value": [], "count": {"type": "Total", "value": 0}})),
    )
    .await;
    let s = scan(instance(&server, Subscriptions::All)).await;
    assert!(s.is_complete(), "{s:?}");
    let g = s
        .gaps
        .iter()
        .find(|g| g.checks == vec!["microsoft_azure_role_assignment"])
        .expect("an Azure gap");
    assert!(g.account_id.is_none() && g.effect == GapEffect::Blocks);
    assert!(
        g.error.to_string().contains("sees no Azure subscription"),
        "{}",
        g.error
    );
}

#[tokio::test]
async fn lookups_quote_and_pack_the_leavers() {
    let server = MockServer::start().await;
    tenant(&server, two_users()).await;
    details(&server, "u1").await;
    let mut inst = instance(&server, Subscriptions::None);
    inst.strategy = Strategy::Lookup;
    let f = FixedFilter {
        wants_all: true,
        candidates: residual_probe::Candidates {
            emails: vec!["o'brien@acme.example".into()],
            ..Default::default()
        },
    };
    let s = MicrosoftProbe(inst).collect(&f).await.remove(0);
    assert!(s.is_complete(), "{s:?}");
    let reqs = server.received_requests().await.unwrap();
    let q: Vec<String> = reqs
        .iter()
        .filter(|r| r.url.path() == "/v1.0/users")
        .filter_map(|r| {
            r.url
                .query_pairs()
                .find(|(k, _)| k == "$filter")
                .map(|(_, v)| v.into_owned())
        })
        .collect();
    assert_eq!(q.len(), 1, "{q:?}");
    assert!(
        q[0].contains("userPrincipalName eq 'o''brien@acme.example'")
            && q[0].contains("proxyAddresses/any(p:p eq 'smtp:o''brien@acme.example')"),
        "{}",
        q[0]
    );
}
