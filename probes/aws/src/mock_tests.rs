//! The five cases every probe must get right, against an in-process HTTP mock speaking IAM's
//! query protocol through the real SDK: residual access found, determinately clean, credentials
//! refused, server failing or silent, and a body that is not what the API promises. The
//! end-to-end tests run against a real moto server.

use std::time::Duration;

use residual_probe::{CollectStatus, FixedFilter, ProbeError, SystemSnapshot};
use wiremock::matchers::{body_string_contains, method};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::{collect, AwsInstance, NetPolicy, ACCESS_KEY, LOGIN_PROFILE};

const ACCT: &str = "123456789012";

fn instance(server: &MockServer) -> AwsInstance {
    // The SDK reads credentials from the environment; every test sets the same values.
    std::env::set_var("AWS_ACCESS_KEY_ID", "AKIAMOCKMOCKMOCK0000");
    std::env::set_var(
        "AWS_SECRET_ACCESS_KEY",
        "mock/secret/key/mock/secret/key/mock0000",
    );
    std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
    std::env::set_var("AWS_CONFIG_FILE", "/nonexistent/residual-mock-config");
    std::env::set_var(
        "AWS_SHARED_CREDENTIALS_FILE",
        "/nonexistent/residual-mock-credentials",
    );
    AwsInstance {
        name: Some("mock".into()),
        region: "us-east-1".into(),
        endpoint_url: Some(server.uri()),
        profile: None,
        assume_role_arn: None,
        owner_tag_keys: vec!["owner".into()],
        secrets_manager_regions: vec![],
        concurrency: 4,
        net: NetPolicy {
            connect_timeout: Duration::from_secs(2),
            read_timeout: Duration::from_millis(700),
            max_attempts: 2,
            initial_backoff: Duration::from_millis(10),
        },
        organization: None,
    }
}

fn xml(action: &str, result: &str) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .insert_header("content-type", "text/xml")
        .set_body_string(format!(
            "<{action}Response xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><{action}Result>{result}</{action}Result><ResponseMetadata><RequestId>r1</RequestId></ResponseMetadata></{action}Response>"
        ))
}

fn aws_error(status: u16, code: &str) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .insert_header("content-type", "text/xml")
        .set_body_string(format!(
            "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>mock</Message></Error><RequestId>r1</RequestId></ErrorResponse>"
        ))
}

async fn on(server: &MockServer, action: &str, resp: ResponseTemplate) {
    Mock::given(method("POST"))
        .and(body_string_contains(format!("Action={action}&")))
        .respond_with(resp)
        .mount(server)
        .await;
}

const REPORT_HEADER: &str = "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated";

/// An account with one user, alice (tagged with her email), with a console password and an
/// access key when `residual`.
async fn account(server: &MockServer, residual: bool) {
    on(server, "GetCallerIdentity", xml("GetCallerIdentity", &format!(
        "<Arn>arn:aws:iam::{ACCT}:user/audit</Arn><UserId>AIDAAUDIT</UserId><Account>{ACCT}</Account>"))).await;
    on(
        server,
        "GenerateCredentialReport",
        xml("GenerateCredentialReport", "<State>COMPLETE</State>"),
    )
    .await;
    let pw = if residual { "true" } else { "false" };
    let report = format!("{REPORT_HEADER}\nalice,arn:aws:iam::{ACCT}:user/alice,2025-01-01T00:00:00+00:00,{pw},N/A,2025-01-01T00:00:00+00:00,N/A,false,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\n");
    on(server, "GetCredentialReport", xml("GetCredentialReport", &format!(
        "<Content>{}</Content><ReportFormat>text/csv</ReportFormat><GeneratedTime>2026-11-30T00:00:00Z</GeneratedTime>",
        aws_smithy_types::base64::encode(report)))).await;
    on(server, "GetAccountAuthorizationDetails", xml("GetAccountAuthorizationDetails", &format!(
        "<IsTruncated>false</IsTruncated><UserDetailList><member><Path>/</Path><UserName>alice</UserName><UserId>AIDAALICE</UserId><Arn>arn:aws:iam::{ACCT}:user/alice</Arn><CreateDate>2025-01-01T00:00:00Z</CreateDate><Tags><member><Key>email</Key><Value>alice@acme.example</Value></member></Tags></member></UserDetailList><GroupDetailList/><RoleDetailList/><Policies/>"))).await;
    let keys = if residual {
        "<member><UserName>alice</UserName><AccessKeyId>AKIAALICE00000000001</AccessKeyId><Status>Active</Status><CreateDate>2025-01-01T00:00:00Z</CreateDate></member>"
    } else {
        ""
    };
    on(
        server,
        "ListAccessKeys",
        xml(
            "ListAccessKeys",
            &format!(
                "<IsTruncated>false</IsTruncated><AccessKeyMetadata>{keys}</AccessKeyMetadata>"
            ),
        ),
    )
    .await;
    on(server, "GetAccessKeyLastUsed", xml("GetAccessKeyLastUsed", "<UserName>alice</UserName><AccessKeyLastUsed><Region>N/A</Region><ServiceName>N/A</ServiceName></AccessKeyLastUsed>")).await;
    on(
        server,
        "ListSigningCertificates",
        xml(
            "ListSigningCertificates",
            "<IsTruncated>false</IsTruncated><Certificates/>",
        ),
    )
    .await;
    if residual {
        on(server, "GetLoginProfile", xml("GetLoginProfile", "<LoginProfile><UserName>alice</UserName><CreateDate>2025-01-01T00:00:00Z</CreateDate><PasswordResetRequired>false</PasswordResetRequired></LoginProfile>")).await;
    } else {
        on(server, "GetLoginProfile", aws_error(404, "NoSuchEntity")).await;
    }
    on(
        server,
        "ListSSHPublicKeys",
        xml(
            "ListSSHPublicKeys",
            "<IsTruncated>false</IsTruncated><SSHPublicKeys/>",
        ),
    )
    .await;
    on(
        server,
        "ListServiceSpecificCredentials",
        xml(
            "ListServiceSpecificCredentials",
            "<ServiceSpecificCredentials/>",
        ),
    )
    .await;
}

fn everyone() -> FixedFilter {
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

#[tokio::test]
async fn found_a_user_with_a_password_and_a_key() {
    let server = MockServer::start().await;
    account(&server, true).await;
    let s = collect(&instance(&server), &everyone()).await;
    assert!(
        s.is_complete() && s.gaps.is_empty(),
        "{:?} {:?}",
        s.status,
        s.gaps
    );
    let a = &s.accounts[0];
    assert_eq!(a.emails, vec!["alice@acme.example"]);
    let mut kinds: Vec<&str> = a
        .credentials
        .iter()
        .map(|c| c.resource_type.as_str())
        .collect();
    kinds.sort();
    assert_eq!(kinds, vec![ACCESS_KEY, LOGIN_PROFILE]);
    assert!(a.detailed);
}

#[tokio::test]
async fn a_user_without_credentials_is_determinate() {
    let server = MockServer::start().await;
    account(&server, false).await;
    let s = collect(&instance(&server), &everyone()).await;
    assert!(
        s.is_complete() && s.gaps.is_empty(),
        "{:?} {:?}",
        s.status,
        s.gaps
    );
    assert!(s.accounts[0].credentials.is_empty());
}

#[tokio::test]
async fn refused_credentials_fail_the_instance() {
    let server = MockServer::start().await;
    on(&server, "GetCallerIdentity", aws_error(403, "ExpiredToken")).await;
    let s = collect(&instance(&server), &everyone()).await;
    assert!(matches!(error(&s), ProbeError::Auth(_)), "{:?}", s.status);
}

#[tokio::test]
async fn server_errors_and_silence_fail_the_instance_or_the_user() {
    let server = MockServer::start().await;
    on(
        &server,
        "GetCallerIdentity",
        aws_error(500, "ServiceFailure"),
    )
    .await;
    let s = collect(&instance(&server), &everyone()).await;
    assert!(matches!(error(&s), ProbeError::Server(_)), "{:?}", s.status);

    let server = MockServer::start().await;
    on(
        &server,
        "GetCallerIdentity",
        xml("GetCallerIdentity", "").set_delay(Duration::from_secs(3)),
    )
    .await;
    let s = collect(&instance(&server), &everyone()).await;
    assert!(
        matches!(error(&s), ProbeError::Timeout(_)),
        "{:?}",
        s.status
    );

    // One user's call failing is a gap for that user, not a clean user.
    let server = MockServer::start().await;
    on(
        &server,
        "ListSSHPublicKeys",
        aws_error(500, "ServiceFailure"),
    )
    .await;
    account(&server, false).await;
    let s = collect(&instance(&server), &everyone()).await;
    assert!(s.is_complete());
    assert_eq!(s.gaps.len(), 1, "{:?}", s.gaps);
    assert_eq!(
        s.gaps[0].account_id.as_deref(),
        Some("arn:aws:iam::123456789012:user/alice")
    );
}

#[tokio::test]
async fn unexpected_bodies_fail_the_instance() {
    // A credential report that is not the documented CSV.
    let server = MockServer::start().await;
    on(
        &server,
        "GetCredentialReport",
        xml(
            "GetCredentialReport",
            &format!(
                "<Content>{}</Content><ReportFormat>text/csv</ReportFormat>",
                aws_smithy_types::base64::encode("user,arn\nalice,x\n")
            ),
        ),
    )
    .await;
    account(&server, true).await;
    let s = collect(&instance(&server), &everyone()).await;
    assert!(
        matches!(error(&s), ProbeError::Unexpected(_)),
        "{:?}",
        s.status
    );

    let server = MockServer::start().await;
    on(
        &server,
        "GetCallerIdentity",
        ResponseTemplate::new(200).set_body_string("<html>captive portal</html>"),
    )
    .await;
    let s = collect(&instance(&server), &everyone()).await;
    assert!(s.status != CollectStatus::Complete, "{:?}", s.status);
}
