//! SDK errors as probe errors: every class is an error, none becomes "nothing found".

use aws_sdk_iam::error::ProvideErrorMetadata;
use aws_smithy_runtime_api::client::result::SdkError;
use residual_probe::ProbeError;
use time::OffsetDateTime;

pub(crate) fn to_time(t: &aws_smithy_types::DateTime) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(t.secs()).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

pub(crate) fn named<E, R>(op: &str, e: SdkError<E, R>) -> (String, ProbeError)
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    (op.to_string(), sdk_err(op, e))
}

/// Classify an SDK error. Every class is an error: none becomes "nothing found".
pub(crate) fn sdk_err<E, R>(op: &str, e: SdkError<E, R>) -> ProbeError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let msg = |detail: String| residual_probe::redact::redact(&format!("{op}: {detail}"));
    match &e {
        SdkError::TimeoutError(_) => ProbeError::Timeout(msg("no answer in time".into())),
        SdkError::DispatchFailure(d) => {
            if d.is_timeout() {
                ProbeError::Timeout(msg("no answer in time".into()))
            } else {
                let detail: String = aws_smithy_types::error::display::DisplayErrorContext(&e)
                    .to_string()
                    .chars()
                    .take(300)
                    .collect();
                ProbeError::Transport(msg(format!("could not reach the endpoint: {detail}")))
            }
        }
        SdkError::ServiceError(ctx) => {
            let code = ctx.err().code().unwrap_or("Unknown");
            let text = ctx.err().message().unwrap_or("");
            let detail = format!("{code}: {text}");
            match code {
                "Throttling" | "ThrottlingException" | "RequestLimitExceeded" => {
                    ProbeError::Throttled(msg(detail))
                }
                "AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation" => {
                    ProbeError::Permission(msg(detail))
                }
                "InvalidClientTokenId"
                | "ExpiredToken"
                | "ExpiredTokenException"
                | "SignatureDoesNotMatch"
                | "UnrecognizedClientException"
                | "InvalidAccessKeyId" => ProbeError::Auth(msg(detail)),
                _ if code.contains("ServiceFailure") || code.contains("InternalFailure") => {
                    ProbeError::Server(msg(detail))
                }
                _ => ProbeError::Unexpected(msg(detail)),
            }
        }
        SdkError::ResponseError(_) => {
            ProbeError::Unexpected(msg("response could not be parsed".into()))
        }
        SdkError::ConstructionFailure(_) => ProbeError::Config(msg(format!(
            "request could not be built: {}",
            aws_smithy_types::error::display::DisplayErrorContext(&e)
        ))),
        _ => ProbeError::Unexpected(msg("unknown SDK error".into())),
    }
}
