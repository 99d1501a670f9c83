//! An interceptor on every AWS client the probe builds. It counts each attempt sent (for the
//! manifest) and refuses any operation that is not a read before it is sent (the hook runs
//! after signing, before transmission), so `scan` stays read-only even if a later change calls
//! the wrong API.

use aws_sdk_iam::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use residual_probe::RequestCounter;

/// Operations a scan may call: Get, List and Describe reads. `GenerateCredentialReport`
/// creates a report document, not a change to any identity; it is the one other call IAM
/// needs for the inventory. `AssumeRole` mints short-lived credentials for the member role of
/// an organization scan; it changes nothing in the account.
///
/// Reads of secret *values* are refused too: they are not changes, but the estate holds no
/// secret value, ever, so the scan has no reason to fetch one.
pub fn is_read_only(operation: &str) -> bool {
    const SECRET_VALUE_READS: &[&str] =
        &["GetSecretValue", "BatchGetSecretValue", "GetRandomPassword"];
    if SECRET_VALUE_READS.contains(&operation) {
        return false;
    }
    operation.starts_with("Get")
        || operation.starts_with("List")
        || operation.starts_with("Describe")
        || operation == "GenerateCredentialReport"
        || operation == "AssumeRole"
}

#[derive(Debug, Clone)]
pub struct ReadOnlyGuard {
    counter: RequestCounter,
}

impl ReadOnlyGuard {
    pub fn new(counter: RequestCounter) -> Self {
        ReadOnlyGuard { counter }
    }
}

impl Intercept for ReadOnlyGuard {
    fn name(&self) -> &'static str {
        "residual-read-only-guard"
    }

    /// Runs for every attempt, after signing and before the request is sent: the operation's
    /// metadata is in the config bag by then (it is not yet at `read_before_execution`).
    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        match cfg.load::<Metadata>() {
            Some(m) if is_read_only(m.name()) => {
                self.counter.incr();
                Ok(())
            }
            Some(m) => Err(format!("refused {}: scan is read-only", m.name()).into()),
            None => Err("refused an operation with no name: scan is read-only".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A mutating call is refused before it is sent: nothing listens on the endpoint, and the
    /// error is the guard's, not a connection error; the counter saw no attempt.
    #[tokio::test]
    async fn mutating_call_is_refused_before_transmit() {
        let counter = RequestCounter::default();
        let conf = aws_sdk_iam::Config::builder()
            .behavior_version(aws_sdk_iam::config::BehaviorVersion::latest())
            .region(aws_sdk_iam::config::Region::new("us-east-1"))
            .endpoint_url("http://127.0.0.1:9")
            .credentials_provider(aws_sdk_iam::config::Credentials::new(
                "AKIDTEST",
                "test-secret",
                None,
                None,
                "test",
            ))
            .interceptor(ReadOnlyGuard::new(counter.clone()))
            .build();
        let iam = aws_sdk_iam::Client::from_conf(conf);
        let err = iam
            .update_access_key()
            .user_name("alice")
            .access_key_id("AKIAEXAMPLE")
            .status(aws_sdk_iam::types::StatusType::Inactive)
            .send()
            .await
            .unwrap_err();
        let text = format!(
            "{}",
            aws_smithy_types::error::display::DisplayErrorContext(&err)
        );
        assert!(
            text.contains("refused UpdateAccessKey: scan is read-only"),
            "{text}"
        );
        assert_eq!(counter.get(), 0);
    }

    #[test]
    fn only_reads_pass() {
        assert!(super::is_read_only("ListAccessKeys"));
        assert!(super::is_read_only("GetAccountAuthorizationDetails"));
        assert!(super::is_read_only("GenerateCredentialReport"));
        assert!(!super::is_read_only("UpdateAccessKey"));
        assert!(!super::is_read_only("DeleteUser"));
        assert!(!super::is_read_only("CreateAccessKey"));
        assert!(!super::is_read_only("GetSecretValue"));
        assert!(!super::is_read_only("BatchGetSecretValue"));
        assert!(super::is_read_only("ListSecrets"));
        assert!(super::is_read_only("GetResourcePolicy"));
    }
}
