//! SDK errors as dapgov errors: access denied names the action, the resource and the reason;
//! everything else keeps the service's code and message.

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use dapgov_target::TargetError;

const ACCESS_DENIED: [&str; 5] = [
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "UnauthorizedAccess",
    "AuthorizationError",
];

/// The error's service code, if the service answered.
pub(crate) fn code<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> Option<&str> {
    match e {
        SdkError::ServiceError(s) => s.err().code(),
        _ => None,
    }
}

/// A one-line description: `Code: message`, or the transport failure with its causes.
pub fn describe<E, R>(e: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match e {
        SdkError::ServiceError(s) if s.err().code().is_some() => {
            format!(
                "{}: {}",
                s.err().code().unwrap_or("error"),
                s.err().message().unwrap_or("(no message)")
            )
        }
        // No code: the answer could not be read as an AWS error; say what came back.
        SdkError::ServiceError(s) => {
            format!("{} (HTTP response: {:?})", DisplayErrorContext(e), s.raw())
        }
        other => format!("{}", DisplayErrorContext(other)),
    }
}

pub(crate) fn sdk<E, R>(action: &str, resource: &str, e: SdkError<E, R>) -> TargetError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    if code(&e).is_some_and(|c| ACCESS_DENIED.contains(&c)) {
        return TargetError::AccessDenied {
            principal: "the caller (see `aws sts get-caller-identity`)".into(),
            action: action.into(),
            resource: resource.into(),
            reason: e
                .as_service_error()
                .and_then(|s| s.message())
                .map(str::to_string),
        };
    }
    TargetError::Other(format!("{action} on {resource}: {}", describe(&e)))
}

/// A builder that refused its input: a bug in dapgov, reported with what was being built.
pub(crate) fn build(what: &str, e: impl std::fmt::Display) -> TargetError {
    TargetError::Other(format!("building {what}: {e}"))
}
