//! OCI request signing and credentials, exact to the byte.
//!
//! `oci-auth` signs HTTP requests the way Oracle Cloud Infrastructure expects
//! (draft-cavage HTTP signatures, RSA-SHA256, the header sets and `Authorization` layout of
//! Oracle's SDKs) and supplies the credentials to sign with: API keys from `~/.oci/config`,
//! session tokens, instance principals and resource principals. It knows `http` types but
//! owns no HTTP client; the signer reads no clock (the time is a parameter).
//!
//! Start with [`sign`]: a [`SignableRequest`] (method, URL, headers, body) and
//! [`SigningParams`] (key id, [`PrivateKey`], time) in, the headers to add out.
//! Long-running clients hold an `Arc<dyn` [`CredentialProvider`]`>` and take one
//! [`Credentials`] snapshot per request.
//!
//! # Credentials
//!
//! ```no_run
//! use std::time::SystemTime;
//! use oci_auth::{AuthConfig, AuthMethod};
//!
//! # async fn demo() -> Result<(), oci_auth::Error> {
//! // `auto`: resource principal if its variables are set, else ~/.oci/config, else the
//! // instance's own identity (IMDS + federation).
//! let provider = AuthConfig::new(AuthMethod::Auto).profile("DEFAULT").build()?;
//! # #[allow(clippy::disallowed_methods)]
//! let now = SystemTime::now();
//! let credentials = provider.credentials(now).await?; // one snapshot per request
//! // ... sign with `credentials.sign(&request, now)`; on a 401, `provider.refresh(now)`
//! // once and retry with a fresh date.
//! # Ok(()) }
//! ```
//!
//! | source | type | key id |
//! |---|---|---|
//! | `~/.oci/config` API key | [`StaticProvider`] via [`ConfigProfile::into_provider`] | `<tenancy>/<user>/<fingerprint>` |
//! | `security_token_file` | [`SessionTokenProvider`] | `ST$<token>` |
//! | instance principal | [`InstancePrincipalProvider`] | `ST$<token>`, fresh RSA-2048 key per token |
//! | resource principal v2.2 | [`ResourcePrincipalProvider`] | `ST$<RPST>` |
//!
//! [`ProviderChain`] tries several of these in order and keeps the first that gives
//! credentials.
//!
//! IMDS and federation calls go through the small [`HttpTransport`] trait; the
//! `reqwest` feature (on by default) provides [`ReqwestTransport`] (rustls). Every base URL
//! can be overridden (`OCI_METADATA_BASE_URL`, [`InstancePrincipalBuilder`]).
//!
//! # Verifying requests (servers and simulators)
//!
//! [`ReceivedRequest`] rebuilds the signing string of a received request, and
//! [`AuthorizationHeader`] parses its `Authorization: Signature …` header:
//!
//! 1. `let request = ReceivedRequest::new(&method, path_and_query, &headers);`
//! 2. `let authorization = request.authorization()?;` gives the `version`, `keyId`,
//!    `algorithm`, `headers` and decoded `signature`;
//!    [`AuthorizationHeader::missing_required`] says which required headers it left out;
//! 3. look up the public key for [`AuthorizationHeader::key_id`] (an API key:
//!    [`PublicKey::from_pem`] and [`PublicKey::fingerprint`]; a session token: the
//!    `publicKey` of the federation request, [`PublicKey::from_base64_der`]; a federation
//!    call: the leaf certificate, [`LeafCertificate`]);
//! 4. `request.verify(&authorization, &public_key)?` checks the RSA-SHA256 signature, and
//!    [`ReceivedRequest::check_body`] checks `content-length` and `x-content-sha256`.
//!
//! # Secrets
//!
//! Private keys, pass phrases and session tokens never appear in `Debug`, `Display`, errors
//! or logs: [`KeyId`] prints `ST$<redacted session token>`, [`PrivateKey`] prints its
//! fingerprint. The library logs only at `trace` level.

mod cert;
mod chain;
mod choice;
mod config;
mod env;
mod error;
mod ids;
mod instance;
mod key;
mod pem;
mod provider;
mod region;
mod region_table;
mod resource;
mod signer;
mod token;
mod transport;
mod verify;

#[cfg(test)]
pub(crate) mod test_keys;

pub use crate::cert::LeafCertificate;
pub use crate::chain::ProviderChain;
pub use crate::choice::{AuthConfig, AuthMethod};
pub use crate::config::{
    ConfigFile, ConfigProblem, ConfigProblemKind, ConfigProfile, DEFAULT_PROFILE, ProfileMode,
    SessionTokenProvider, default_config_paths, find_config_file,
};
pub use crate::env::Env;
pub use crate::error::{BoxError, Error};
pub use crate::ids::{KeyId, Ocid};
pub use crate::instance::{
    DEFAULT_METADATA_BASE_URL, DEFAULT_REFRESH_MARGIN, FederationFingerprint, GeneratedRsa2048,
    InstancePrincipalBuilder, InstancePrincipalProvider, RetryPolicy, SessionKeySource,
};
pub use crate::key::{Fingerprint, Passphrase, PrivateKey, PublicKey};
pub use crate::provider::{BoxFuture, CredentialProvider, Credentials, StaticProvider};
pub use crate::region::{Region, RegionInfo, realm_domain};
pub use crate::resource::{
    RP_PASSPHRASE, RP_PRIVATE_PEM, RP_REGION, RP_RPST, RP_VERSION, ResourcePrincipalProvider,
};
pub use crate::signer::{
    BodyDigest, DEFAULT_CONTENT_TYPE, HeaderSet, REQUEST_TARGET, SignableBody, SignableRequest,
    SigningOutput, SigningParams, X_CONTENT_SHA256, has_signed_body, host_of, request_target, sign,
};
pub use crate::token::SessionToken;
pub use crate::transport::HttpTransport;
#[cfg(feature = "reqwest")]
pub use crate::transport::ReqwestTransport;
pub use crate::verify::{AuthorizationHeader, ReceivedRequest};
