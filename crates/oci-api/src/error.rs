//! The one error type of this crate.

use std::time::Duration;

use crate::Operation;

/// Everything that can go wrong building or using the client.
///
/// Call failures carry the [`Operation`]; OCI's answers carry the HTTP status, OCI's error
/// code and message and the `opc-request-id` to quote to Oracle support.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// OCI answered with an error status.
    #[error(
        "{operation} failed: OCI answered HTTP {status} {code}: {message} \
         (opc-request-id {request_id}, after {attempts} attempt(s))",
        request_id = request_id.as_deref().unwrap_or("none")
    )]
    Service {
        /// The operation.
        operation: Operation,
        /// HTTP status.
        status: u16,
        /// OCI's error `code`, e.g. `NotAuthorizedOrNotFound`, `InvalidParameter`.
        code: String,
        /// OCI's error `message`.
        message: String,
        /// `opc-request-id` of the failed response.
        request_id: Option<String>,
        /// How many requests were sent.
        attempts: u32,
    },

    /// The request never got an HTTP answer (connection refused or reset, timeout, TLS).
    #[error("{operation} failed: no answer from {endpoint} after {attempts} attempt(s)")]
    Transport {
        /// The operation.
        operation: Operation,
        /// The endpoint (scheme, host and port) the request went to.
        endpoint: String,
        /// How many requests were sent.
        attempts: u32,
        /// The transport failure of the last attempt.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// The retry budget's total time ran out before a retry could be sent.
    #[error(
        "{operation} failed: gave up after {attempts} attempt(s) and {elapsed:?}; \
         raise RetryPolicy::max_elapsed if OCI is just slow"
    )]
    RetryBudgetExhausted {
        /// The operation.
        operation: Operation,
        /// How many requests were sent.
        attempts: u32,
        /// Time spent so far.
        elapsed: Duration,
        /// The last failure.
        #[source]
        source: Box<Error>,
    },

    /// OCI answered 2xx, but the body was not the expected JSON.
    #[error(
        "{operation} failed: could not decode OCI's response (opc-request-id {request_id})",
        request_id = request_id.as_deref().unwrap_or("none")
    )]
    DecodeResponse {
        /// The operation.
        operation: Operation,
        /// `opc-request-id` of the response.
        request_id: Option<String>,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },

    /// The request body could not be encoded as JSON.
    #[error("{operation} failed: could not encode the request body")]
    EncodeRequest {
        /// The operation.
        operation: Operation,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },

    /// The credential provider could not produce a signing key, or signing failed.
    #[error("{operation} failed: could not sign the request")]
    SignRequest {
        /// The operation.
        operation: Operation,
        /// The signing or credential failure.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// A text that should have been an OCID was not one.
    #[error("{value:?} is not a {kind} OCID (expected `ocid1.<type>.<realm>.<region>.<id>`)")]
    ParseOcid {
        /// What the OCID was supposed to name.
        kind: &'static str,
        /// The rejected text (truncated to 80 characters).
        value: String,
    },

    /// A caller-chosen `opc-retry-token` was unusable.
    #[error("an opc-retry-token must be 1 to 64 visible ASCII characters (got {length} bytes)")]
    InvalidRetryToken {
        /// Length of the rejected token.
        length: usize,
    },

    /// An endpoint URL was unusable.
    #[error("endpoint {endpoint:?} is not usable: {reason}")]
    InvalidEndpoint {
        /// The endpoint as given.
        endpoint: String,
        /// What is wrong and how to fix it.
        reason: &'static str,
    },

    /// The client could not be built.
    #[error("could not build the OCI client: {reason}")]
    BuildClient {
        /// What is missing or wrong.
        reason: String,
        /// The underlying failure, if any.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
}

impl Error {
    /// The HTTP status OCI answered, if it answered with an error.
    #[must_use]
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Service { status, .. } => Some(*status),
            Error::RetryBudgetExhausted { source, .. } => source.status(),
            _ => None,
        }
    }

    /// OCI's error code (`NotAuthorizedOrNotFound`, `Conflict`...), if OCI answered.
    #[must_use]
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Service { code, .. } => Some(code),
            Error::RetryBudgetExhausted { source, .. } => source.code(),
            _ => None,
        }
    }

    /// The `opc-request-id` of the failed response, if there was one.
    #[must_use]
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Error::Service { request_id, .. } | Error::DecodeResponse { request_id, .. } => {
                request_id.as_deref()
            }
            Error::RetryBudgetExhausted { source, .. } => source.request_id(),
            _ => None,
        }
    }

    /// The operation that failed, for call failures.
    #[must_use]
    pub fn operation(&self) -> Option<Operation> {
        match self {
            Error::Service { operation, .. }
            | Error::Transport { operation, .. }
            | Error::RetryBudgetExhausted { operation, .. }
            | Error::DecodeResponse { operation, .. }
            | Error::EncodeRequest { operation, .. }
            | Error::SignRequest { operation, .. } => Some(*operation),
            _ => None,
        }
    }

    /// True for 404 (`NotAuthorizedOrNotFound` and friends): the resource does not exist or
    /// is not visible to this principal.
    #[must_use]
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    /// True for 409 answers (`Conflict`, `IncorrectState`, `InvalidatedRetryToken`...).
    #[must_use]
    pub fn is_conflict(&self) -> bool {
        self.status() == Some(409)
    }

    /// True for 429 answers that outlived every retry.
    #[must_use]
    pub fn is_throttled(&self) -> bool {
        self.status() == Some(429)
    }

    /// A short, bounded category for metric labels and Kubernetes event reasons.
    #[must_use]
    pub fn category(&self) -> &'static str {
        match self {
            Error::Service { status: 400, .. } => "bad_request",
            Error::Service { status: 401, .. } => "not_authenticated",
            Error::Service { status: 403, .. } => "forbidden",
            Error::Service { status: 404, .. } => "not_found",
            Error::Service { status: 409, .. } => "conflict",
            Error::Service { status: 412, .. } => "etag_mismatch",
            Error::Service { status: 429, .. } => "throttled",
            Error::Service {
                status: 500..=599, ..
            } => "server_error",
            Error::Service { .. } => "other_status",
            Error::Transport { .. } => "transport",
            Error::RetryBudgetExhausted { .. } => "retry_budget_exhausted",
            Error::DecodeResponse { .. } => "decode",
            Error::EncodeRequest { .. } => "encode",
            Error::SignRequest { .. } => "sign",
            Error::ParseOcid { .. } => "invalid_ocid",
            Error::InvalidRetryToken { .. } => "invalid_retry_token",
            Error::InvalidEndpoint { .. } => "invalid_endpoint",
            Error::BuildClient { .. } => "build",
        }
    }
}
