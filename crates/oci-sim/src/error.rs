//! The crate's error type, and the OCI error body the HTTP side answers with.

use std::net::SocketAddr;
use std::path::PathBuf;

use http::StatusCode;

/// What can go wrong while loading a world, starting the simulator or driving it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// The world file could not be read.
    #[error("cannot read world file {path}")]
    ReadWorld {
        /// The file named with `--world` or passed to
        /// [`World::from_file`](crate::World::from_file).
        path: PathBuf,
        /// The I/O failure.
        #[source]
        source: std::io::Error,
    },
    /// The world file is not valid JSON for the world schema (see `docs/oci-sim.md`).
    #[error("cannot parse world file {path}: fix the JSON at the reported line and column")]
    ParseWorld {
        /// The world file.
        path: PathBuf,
        /// The parse failure, with line and column.
        #[source]
        source: serde_json::Error,
    },
    /// The world parsed but is inconsistent (dangling OCID, bad CIDR, unknown shape...).
    #[error("world is inconsistent: {problem}")]
    ValidateWorld {
        /// What to fix, naming the object and field.
        problem: String,
    },
    /// A public key in the world (or handed to the runtime API) could not be loaded.
    #[error("public key of user {user} is not a PEM RSA public key (SubjectPublicKeyInfo)")]
    LoadPublicKey {
        /// The user OCID the key belongs to.
        user: String,
        /// Why the key did not parse.
        #[source]
        source: oci_auth::Error,
    },
    /// Generating an RSA key failed.
    #[error("cannot generate an RSA key for {purpose}")]
    GenerateKey {
        /// What the key was for.
        purpose: String,
        /// The RSA failure.
        #[source]
        source: rsa::Error,
    },
    /// Encoding a key or certificate failed.
    #[error("cannot encode {what}")]
    Encode {
        /// What was being encoded.
        what: String,
        /// The encoder's failure.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The listening socket could not be bound.
    #[error("cannot listen on {addr}: pick a free loopback address")]
    Listen {
        /// The address asked for.
        addr: SocketAddr,
        /// The bind failure.
        #[source]
        source: std::io::Error,
    },
    /// Writing an OCI config file or key file failed.
    #[error("cannot write OCI config files into {dir}")]
    WriteConfig {
        /// The directory asked for.
        dir: PathBuf,
        /// The I/O failure.
        #[source]
        source: std::io::Error,
    },
    /// A runtime change to the world was refused.
    #[error("cannot change the world: {problem}")]
    ChangeWorld {
        /// What was wrong, naming the OCID or field.
        problem: String,
    },
}

/// An OCI error answer: HTTP status plus the `{code, message}` body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct WireError {
    pub(crate) status: StatusCode,
    pub(crate) code: &'static str,
    pub(crate) message: String,
}

impl WireError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    pub(crate) fn not_found(what: &str, id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NotAuthorizedOrNotFound",
            format!("Authorization failed or requested resource not found: {what} {id}"),
        )
    }

    pub(crate) fn related_not_found(what: &str, id: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "RelatedResourceNotAuthorizedOrNotFound",
            format!("The {what} {id} referenced in the request was not found or is not authorized"),
        )
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "InvalidParameter", message)
    }

    pub(crate) fn missing(name: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "MissingParameter",
            format!("Missing required parameter: {name}"),
        )
    }

    pub(crate) fn limit(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "LimitExceeded", message)
    }

    pub(crate) fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "Conflict", message)
    }

    pub(crate) fn not_authenticated(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "NotAuthenticated", message)
    }

    pub(crate) fn body(&self) -> serde_json::Value {
        serde_json::json!({ "code": self.code, "message": self.message })
    }
}
