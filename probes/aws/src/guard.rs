//! An interceptor on every AWS client the probe builds. It counts each attempt sent (for the
//! manifest) and refuses any operation that is not a read before it is signed, so `scan`
//! stays read-only even if a later change calls the wrong API.

use aws_sdk_iam::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use residual_probe::RequestCounter;

/// Operations a scan may call. `GenerateCredentialReport` creates a report document, not a
/// change to any identity; it is the one non-Get/List call IAM needs for the inventory.
pub fn is_read_only(operation: &str) -> bool {
    operation.starts_with("Get")
        || operation.starts_with("List")
        || operation == "GenerateCredentialReport"
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

    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        match cfg.load::<Metadata>() {
            Some(m) if is_read_only(m.name()) => Ok(()),
            Some(m) => Err(format!("refused {}: scan is read-only", m.name()).into()),
            None => Err("refused an operation with no name: scan is read-only".into()),
        }
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.counter.incr();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_reads_pass() {
        assert!(super::is_read_only("ListAccessKeys"));
        assert!(super::is_read_only("GetAccountAuthorizationDetails"));
        assert!(super::is_read_only("GenerateCredentialReport"));
        assert!(!super::is_read_only("UpdateAccessKey"));
        assert!(!super::is_read_only("DeleteUser"));
        assert!(!super::is_read_only("CreateAccessKey"));
    }
}
