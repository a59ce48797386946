//! The crate's one error type: every variant names the operation that failed and what to fix.

use std::path::PathBuf;

/// A boxed error from a lower layer (I/O, DER, HTTP transport, JSON).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong while loading credentials, signing or verifying a request.
///
/// Messages name the file, profile, key, field or endpoint involved and say what to do; the
/// underlying cause sits behind [`std::error::Error::source`] and is never repeated in the
/// message. No variant carries secret material (private keys, pass phrases, session tokens).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The HTTP method is not one OCI signs (GET, HEAD, DELETE, POST, PUT, PATCH).
    #[error(
        "failed to sign the request: method {method} is not signable; \
         OCI accepts GET, HEAD, DELETE, POST, PUT and PATCH"
    )]
    SignUnsupportedMethod {
        /// The method that was given.
        method: String,
    },

    /// The URL cannot be signed (no host, or not an `http`/`https` URL).
    #[error("failed to sign the request: URL {url} has no host; give an absolute http(s) URL")]
    SignUrlWithoutHost {
        /// The URL that was given.
        url: String,
    },

    /// A signed header value could not be turned into an HTTP header value.
    #[error(
        "failed to sign the request: the value of header {name} is not a valid HTTP header \
         value"
    )]
    SignInvalidHeaderValue {
        /// Lower-case header name.
        name: String,
    },

    /// A header the signature covers is not present on the request.
    #[error("failed to build the signing string: header {name} is listed but not present")]
    BuildSigningStringMissingHeader {
        /// Lower-case header name.
        name: String,
    },

    /// The RSA operation itself failed (only with a malformed key).
    #[error("failed to compute the RSA-SHA256 signature; the private key is unusable")]
    ComputeSignature {
        /// The RSA library's error.
        #[source]
        source: rsa::Error,
    },

    /// An `Authorization` header is not a well-formed OCI `Signature` header.
    #[error("failed to parse the Authorization header: {reason}")]
    ParseAuthorization {
        /// What is wrong with it.
        reason: String,
    },

    /// A signature does not match the signing string and public key.
    #[error(
        "failed to verify the signature for key {key_id}: it does not match the request \
         and the public key"
    )]
    VerifySignature {
        /// The key id from the request (session tokens redacted).
        key_id: crate::KeyId,
    },

    /// A received body does not match its `content-length` or `x-content-sha256` header.
    #[error("failed to verify the request body: it does not match the {header} header")]
    VerifyBody {
        /// The header that does not match.
        header: String,
    },

    /// A file (key, config, token, certificate) could not be read.
    #[error("failed to read {what} file {path}; check that it exists and is readable")]
    ReadFile {
        /// What the file was supposed to hold (`key`, `config`, `session token`, ...).
        what: &'static str,
        /// The path as tried, after `~` expansion.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },

    /// A private key is encrypted and no pass phrase was given.
    #[error(
        "failed to load the private key from {origin}: it is encrypted; give its pass phrase \
         (pass_phrase in the config profile, or --passphrase)"
    )]
    LoadKeyMissingPassphrase {
        /// Where the key came from (file path or description).
        origin: String,
    },

    /// An encrypted private key could not be decrypted.
    #[error(
        "failed to decrypt the private key from {origin}: the pass phrase is wrong or the \
         file is damaged"
    )]
    LoadKeyDecrypt {
        /// Where the key came from.
        origin: String,
        /// The decryption error.
        #[source]
        source: BoxError,
    },

    /// A legacy OpenSSL-encrypted PEM (`Proc-Type: 4,ENCRYPTED`) with a cipher other than
    /// AES-128/192/256-CBC.
    #[error(
        "failed to load the private key from {origin}: legacy encrypted PEM with cipher \
         {cipher} is not supported; convert it to encrypted PKCS#8 with \
         `openssl pkcs8 -topk8 -v2 aes-256-cbc -in OLD.pem -out NEW.pem`"
    )]
    LoadKeyLegacyCipher {
        /// Where the key came from.
        origin: String,
        /// The `DEK-Info` cipher name.
        cipher: String,
    },

    /// The PEM holds a public key or certificate where a private key was expected.
    #[error(
        "failed to load the private key from {origin}: it holds a {label}, not a private key; \
         point key_file at the private key"
    )]
    LoadKeyNotPrivate {
        /// Where the key came from.
        origin: String,
        /// The PEM label found.
        label: String,
    },

    /// The key is not an RSA key (OCI signs only with RSA).
    #[error(
        "failed to load the private key from {origin}: it is not an RSA key; OCI API keys \
         must be RSA (generate one with `openssl genrsa -out key.pem 2048`)"
    )]
    LoadKeyNotRsa {
        /// Where the key came from.
        origin: String,
    },

    /// The key text is not a PEM or DER RSA private key (truncated, damaged, wrong format).
    #[error(
        "failed to load the private key from {origin}: not a PEM RSA private key (PKCS#1 or \
         PKCS#8); check that the file is complete"
    )]
    LoadKey {
        /// Where the key came from.
        origin: String,
        /// The parsing error.
        #[source]
        source: BoxError,
    },

    /// A public key could not be parsed.
    #[error("failed to load the public key from {origin}: not a PEM or DER RSA public key")]
    LoadPublicKey {
        /// Where the key came from.
        origin: String,
        /// The parsing error.
        #[source]
        source: BoxError,
    },

    /// A public key could not be DER-encoded (only with a malformed key).
    #[error("failed to encode the public key as DER SubjectPublicKeyInfo")]
    EncodePublicKey {
        /// The encoding error.
        #[source]
        source: BoxError,
    },

    /// A value that should be an OCID is malformed.
    #[error("failed to parse {field} {value:?} as an OCID; expected e.g. ocid1.tenancy.oc1..aaaa…")]
    ParseOcid {
        /// Which field held it.
        field: &'static str,
        /// The value (OCIDs are not secret).
        value: String,
    },

    /// A key fingerprint is malformed.
    #[error(
        "failed to parse fingerprint {value:?}: expected 16 lower-case hex pairs joined by ':'"
    )]
    ParseFingerprint {
        /// The value given.
        value: String,
    },

    /// No config file was found at any of the default locations.
    #[error("failed to find an OCI config file; tried {tried:?}; create one or pass its path")]
    FindConfigFile {
        /// Every path tried, in order.
        tried: Vec<PathBuf>,
    },

    /// The config file has a syntax error.
    #[error("failed to parse config file {path} at line {line}: {reason}")]
    ParseConfig {
        /// The config file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },

    /// The requested profile does not exist in the config file.
    #[error("failed to find profile [{profile}] in config file {path}; add it or pick another")]
    FindProfile {
        /// The config file.
        path: PathBuf,
        /// The profile asked for.
        profile: String,
    },

    /// One or more keys of a profile are missing or malformed; all of them are listed.
    #[error(
        "failed to validate profile [{profile}] of config file {path}: {}",
        crate::config::describe_problems(problems)
    )]
    ValidateConfig {
        /// The config file.
        path: PathBuf,
        /// The profile.
        profile: String,
        /// Every problem found, key by key.
        problems: Vec<crate::config::ConfigProblem>,
    },

    /// A session token (JWT) could not be decoded.
    #[error("failed to decode the session token from {origin}: {reason}")]
    ParseSessionToken {
        /// Where the token came from.
        origin: String,
        /// What is wrong (never the token itself).
        reason: &'static str,
    },

    /// An HTTP call to the instance metadata service failed.
    #[error("failed to fetch {url} from the instance metadata service; is this an OCI instance?")]
    FetchMetadata {
        /// The URL called.
        url: String,
        /// The transport error.
        #[source]
        source: BoxError,
    },

    /// The instance metadata service answered with an error status.
    #[error("failed to fetch {url} from the instance metadata service: HTTP status {status}")]
    FetchMetadataStatus {
        /// The URL called.
        url: String,
        /// The HTTP status code.
        status: u16,
    },

    /// The instance metadata service answered something unreadable.
    #[error("failed to read the answer of {url} from the instance metadata service: {reason}")]
    ReadMetadata {
        /// The URL called.
        url: String,
        /// What is wrong with the answer.
        reason: String,
    },

    /// A certificate could not be parsed.
    #[error("failed to parse the certificate from {origin}")]
    ParseCertificate {
        /// Where it came from.
        origin: String,
        /// The parsing error.
        #[source]
        source: BoxError,
    },

    /// The leaf certificate subject carries no `opc-tenant:` / `opc-identity:` attribute.
    #[error(
        "failed to find the tenancy OCID in the subject of the certificate from {origin}; \
         expected an attribute starting with opc-tenant: or opc-identity:"
    )]
    FindTenancyInCertificate {
        /// Where the certificate came from.
        origin: String,
    },

    /// The tenancy in the leaf certificate changed between two refreshes.
    #[error(
        "failed to refresh instance principal credentials: the certificate's tenancy changed \
         from {before} to {after}; restart with fresh configuration"
    )]
    RefreshTenancyChanged {
        /// The tenancy seen first.
        before: String,
        /// The tenancy in the new certificate.
        after: String,
    },

    /// The federation call could not be made.
    #[error("failed to call the federation endpoint {endpoint}")]
    Federate {
        /// The federation URL.
        endpoint: String,
        /// The transport error.
        #[source]
        source: BoxError,
    },

    /// The federation endpoint answered with an error status.
    #[error(
        "failed to obtain a session token from {endpoint}: HTTP status {status} {code}; \
         check the instance's dynamic group and the endpoint's region"
    )]
    FederateStatus {
        /// The federation URL.
        endpoint: String,
        /// The HTTP status code.
        status: u16,
        /// The service error code from the body, if any.
        code: String,
    },

    /// The federation endpoint answered 2xx without a usable token.
    #[error("failed to read the session token from the answer of {endpoint}: {reason}")]
    ReadFederationAnswer {
        /// The federation URL.
        endpoint: String,
        /// What is wrong with the answer.
        reason: &'static str,
    },

    /// Generating the RSA session key pair failed.
    #[error("failed to generate the RSA-2048 session key pair")]
    GenerateSessionKey {
        /// The RSA library's error.
        #[source]
        source: rsa::Error,
    },

    /// A resource principal environment variable is missing or malformed.
    #[error("failed to read resource principal variable {variable}: {reason}")]
    ResourcePrincipalVariable {
        /// The variable name.
        variable: &'static str,
        /// What is wrong (never the value).
        reason: String,
    },

    /// The authentication method named in configuration is unknown.
    #[error(
        "failed to choose an authentication method: {value:?} is not one of auto, \
         api_key, security_token, instance_principal, resource_principal"
    )]
    ParseAuthMethod {
        /// The value given.
        value: String,
    },

    /// Every provider of a [`crate::ProviderChain`] failed to give credentials.
    #[error(
        "failed to find OCI credentials: every source in the chain failed ({}); \
         fix one of them",
        tried.join("; ")
    )]
    ChainExhausted {
        /// Each provider's error message, in the order tried.
        tried: Vec<String>,
    },

    /// A transport could not be built.
    #[error("failed to build the HTTP transport for metadata and federation calls")]
    BuildTransport {
        /// The underlying error.
        #[source]
        source: BoxError,
    },
}
