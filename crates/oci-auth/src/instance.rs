//! Instance principals: the instance's identity certificate from IMDS v2 is exchanged at
//! the auth service's federation endpoint for a session token bound to a fresh RSA-2048
//! session key.

use std::fmt;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use http::header::{AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue, Method};
use serde::Deserialize;
use url::Url;

use crate::{
    BoxError, BoxFuture, CredentialProvider, Credentials, Env, Error, HeaderSet, HttpTransport,
    KeyId, LeafCertificate, Ocid, PrivateKey, Region, RegionInfo, SessionToken, SignableBody,
    SignableRequest, SigningParams, sign,
};

/// The IMDS v2 base URL on an OCI instance.
pub const DEFAULT_METADATA_BASE_URL: &str = "http://169.254.169.254/opc/v2";

/// Refresh a token this long before it expires (capped at half its lifetime).
pub const DEFAULT_REFRESH_MARGIN: Duration = Duration::from_secs(300);

/// Where fresh session keys come from: RSA-2048 generation in production.
pub trait SessionKeySource: Send + Sync + fmt::Debug {
    /// A new key pair, never handed out before.
    ///
    /// # Errors
    /// [`Error::GenerateSessionKey`] when generation fails.
    fn next_key(&self) -> Result<PrivateKey, Error>;
}

/// Generates a fresh RSA-2048 key (exponent 65537) for every token, as the SDKs do. It
/// runs on the calling task and takes tens to hundreds of milliseconds, once per refresh.
#[derive(Debug, Clone, Copy, Default)]
pub struct GeneratedRsa2048;

impl SessionKeySource for GeneratedRsa2048 {
    fn next_key(&self) -> Result<PrivateKey, Error> {
        PrivateKey::generate_rsa_2048()
    }
}

/// Which leaf-certificate hash the federation call's key id carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum FederationFingerprint {
    /// `<tenancy>/fed-x509-sha256/<sha256>` with `"fingerprintAlgorithm": "SHA256"` in the
    /// body (Go SDK since v65.95.1).
    #[default]
    Sha256,
    /// `<tenancy>/fed-x509/<SHA1>` (Python SDK, older Go).
    Sha1,
}

/// How often and how patiently to retry a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub struct RetryPolicy {
    /// Attempts in total (at least 1).
    pub max_attempts: u32,
    /// Delay before the second attempt; doubled for each further one.
    pub initial_backoff: Duration,
    /// Upper bound of one delay.
    pub max_backoff: Duration,
}

impl RetryPolicy {
    /// IMDS calls: 8 attempts, 1 s doubling to at most 30 s (as the SDKs).
    pub const METADATA: Self = Self {
        max_attempts: 8,
        initial_backoff: Duration::from_secs(1),
        max_backoff: Duration::from_secs(30),
    };

    /// Federation calls: 3 attempts, 1 s then 2 s (as the Go SDK).
    pub const FEDERATION: Self = Self {
        max_attempts: 3,
        initial_backoff: Duration::from_secs(1),
        max_backoff: Duration::from_secs(4),
    };

    fn delay_before(self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(2));
        self.initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }
}

/// Builds an [`InstancePrincipalProvider`].
#[derive(Debug, Clone)]
#[must_use]
pub struct InstancePrincipalBuilder {
    transport: Arc<dyn HttpTransport>,
    metadata_base_url: String,
    federation_endpoint: Option<String>,
    region: Option<RegionInfo>,
    key_source: Arc<dyn SessionKeySource>,
    refresh_margin: Duration,
    fingerprint: FederationFingerprint,
    metadata_retry: RetryPolicy,
    federation_retry: RetryPolicy,
    env: Env,
}

impl InstancePrincipalBuilder {
    /// The IMDS base URL (default [`DEFAULT_METADATA_BASE_URL`]); tests point it at a local
    /// server.
    pub fn metadata_base_url(mut self, url: &Url) -> Self {
        self.metadata_base_url = url.as_str().trim_end_matches('/').to_owned();
        self
    }

    /// The federation URL (default `https://auth.<region>.<realm domain>/v1/x509`).
    pub fn federation_endpoint(mut self, url: &Url) -> Self {
        self.federation_endpoint = Some(url.as_str().to_owned());
        self
    }

    /// Uses this region instead of asking IMDS.
    pub fn region(mut self, region: RegionInfo) -> Self {
        self.region = Some(region);
        self
    }

    /// Reads overrides from the environment as the SDKs do: `OCI_METADATA_BASE_URL`, and
    /// `OCI_SDK_AUTH_CLIENT_REGION_URL` (the auth service base URL, `/v1/x509` appended).
    /// Also used for realm resolution (`OCI_REGION_METADATA`, `OCI_DEFAULT_REALM`).
    pub fn env(mut self, env: &Env) -> Self {
        if let Some(base) = env.var("OCI_METADATA_BASE_URL") {
            self.metadata_base_url = base.trim_end_matches('/').to_owned();
        }
        if let Some(auth) = env.var("OCI_SDK_AUTH_CLIENT_REGION_URL") {
            self.federation_endpoint = Some(format!("{}/v1/x509", auth.trim_end_matches('/')));
        }
        self.env = env.clone();
        self
    }

    /// Where session keys come from (default: [`GeneratedRsa2048`]).
    pub fn session_key_source(mut self, source: Arc<dyn SessionKeySource>) -> Self {
        self.key_source = source;
        self
    }

    /// Refresh this long before expiry (default [`DEFAULT_REFRESH_MARGIN`]; capped at half
    /// the token lifetime).
    pub fn refresh_margin(mut self, margin: Duration) -> Self {
        self.refresh_margin = margin;
        self
    }

    /// Which certificate hash the federation key id uses (default SHA-256).
    pub fn federation_fingerprint(mut self, fingerprint: FederationFingerprint) -> Self {
        self.fingerprint = fingerprint;
        self
    }

    /// Retry policies for IMDS and federation calls.
    pub fn retry(mut self, metadata: RetryPolicy, federation: RetryPolicy) -> Self {
        self.metadata_retry = metadata;
        self.federation_retry = federation;
        self
    }

    /// Builds the provider. Nothing is fetched until the first [`credentials`] call.
    ///
    /// [`credentials`]: CredentialProvider::credentials
    #[must_use]
    pub fn build(self) -> InstancePrincipalProvider {
        InstancePrincipalProvider {
            config: self,
            current: RwLock::new(None),
            refresh_lock: tokio::sync::Mutex::new(()),
            identity: RwLock::new(None),
        }
    }
}

/// Credentials of the instance itself (instance principals).
///
/// Each refresh: new session key → leaf certificate and key from IMDS (re-read every time,
/// they rotate) → tenancy from the certificate subject, refused if it changed →
/// intermediate certificate → federation call signed with the leaf key → session token.
/// The (token, session key) pair is swapped as one value, so a [`Credentials`] snapshot
/// never mixes a new token with an old key. Tokens are refreshed when they come within the
/// refresh margin of `exp` (if that fails, the current token is used until it expires), and
/// on demand (a `401`) through [`CredentialProvider::refresh`], which reports failures;
/// concurrent refreshes are coalesced.
pub struct InstancePrincipalProvider {
    config: InstancePrincipalBuilder,
    current: RwLock<Option<Arc<Session>>>,
    refresh_lock: tokio::sync::Mutex<()>,
    identity: RwLock<Option<Identity>>,
}

/// One token with its key.
struct Session {
    credentials: Credentials,
    token: SessionToken,
    generation: u64,
}

/// What stays fixed across refreshes.
#[derive(Clone)]
struct Identity {
    tenancy: Ocid,
    region: RegionInfo,
}

impl InstancePrincipalProvider {
    /// A builder using `transport` for IMDS and federation calls.
    pub fn builder(transport: Arc<dyn HttpTransport>) -> InstancePrincipalBuilder {
        InstancePrincipalBuilder {
            transport,
            metadata_base_url: DEFAULT_METADATA_BASE_URL.to_owned(),
            federation_endpoint: None,
            region: None,
            key_source: Arc::new(GeneratedRsa2048),
            refresh_margin: DEFAULT_REFRESH_MARGIN,
            fingerprint: FederationFingerprint::default(),
            metadata_retry: RetryPolicy::METADATA,
            federation_retry: RetryPolicy::FEDERATION,
            env: Env::process(),
        }
    }

    /// The region and realm, asking IMDS (`/instance/regionInfo`, else `/instance/region`)
    /// the first time.
    ///
    /// # Errors
    /// IMDS errors ([`Error::FetchMetadata`], [`Error::FetchMetadataStatus`],
    /// [`Error::ReadMetadata`]).
    pub async fn region_info(&self) -> Result<RegionInfo, Error> {
        if let Some(region) = &self.config.region {
            return Ok(region.clone());
        }
        if let Some(identity) = read_lock(&self.identity) {
            return Ok(identity.region);
        }

        match self.fetch_text("/instance/regionInfo").await {
            Ok(text) => RegionInfo::from_json(&text).map_err(|error| Error::ReadMetadata {
                url: self.metadata_url("/instance/regionInfo"),
                reason: format!("not regionInfo JSON ({error})"),
            }),
            Err(Error::FetchMetadataStatus { status: 404, .. }) => {
                let text = self.fetch_text("/instance/region").await?;
                Ok(RegionInfo::resolve(text.trim(), &self.config.env))
            }
            Err(error) => Err(error),
        }
    }

    fn snapshot(&self) -> Option<Arc<Session>> {
        read_lock(&self.current)
    }

    /// Refreshes under the lock. `seen` is the generation the caller saw; when another
    /// task already replaced it while this one waited, its result is reused.
    async fn refresh_locked(
        &self,
        now: SystemTime,
        seen: Option<u64>,
        force: bool,
    ) -> Result<Credentials, Error> {
        let _guard = self.refresh_lock.lock().await;

        if let Some(session) = self.snapshot() {
            let fresh = !session.token.needs_refresh(now, self.config.refresh_margin);
            let replaced = Some(session.generation) != seen;
            if fresh && (replaced || !force) {
                return Ok(session.credentials.clone());
            }
        }

        let generation = self.snapshot().map_or(1, |session| session.generation + 1);
        let session = Arc::new(self.fetch_session(now, generation).await?);
        let credentials = session.credentials.clone();
        match self.current.write() {
            Ok(mut guard) => *guard = Some(session),
            Err(poisoned) => *poisoned.into_inner() = Some(session),
        }
        tracing::debug!(generation, "instance principal session token refreshed");
        Ok(credentials)
    }

    async fn fetch_session(&self, now: SystemTime, generation: u64) -> Result<Session, Error> {
        let region = self.region_info().await?;
        let session_key = Arc::new(self.config.key_source.next_key()?);

        let cert_url = self.metadata_url("/identity/cert.pem");
        let leaf =
            LeafCertificate::from_pem(&self.fetch_text("/identity/cert.pem").await?, &cert_url)?;
        let leaf_key_url = self.metadata_url("/identity/key.pem");
        let leaf_key = PrivateKey::from_pem_named(
            &self.fetch_text("/identity/key.pem").await?,
            None,
            &leaf_key_url,
        )?;
        let tenancy = leaf.tenancy(&cert_url)?;
        if let Some(identity) = read_lock(&self.identity)
            && identity.tenancy != tenancy
        {
            return Err(Error::RefreshTenancyChanged {
                before: identity.tenancy.to_string(),
                after: tenancy.to_string(),
            });
        }
        let intermediate_url = self.metadata_url("/identity/intermediate.pem");
        let intermediate = LeafCertificate::from_pem(
            &self.fetch_text("/identity/intermediate.pem").await?,
            &intermediate_url,
        )?;

        let endpoint = self
            .config
            .federation_endpoint
            .clone()
            .unwrap_or_else(|| region.federation_endpoint());
        let federation = FederationRequest {
            endpoint: &endpoint,
            leaf: &leaf,
            leaf_key: &leaf_key,
            intermediate: &intermediate,
            tenancy: &tenancy,
            session_key: &session_key,
            fingerprint: self.config.fingerprint,
        };
        let token = self.federate(&federation, now).await?;

        match self.identity.write() {
            Ok(mut guard) => *guard = Some(Identity { tenancy, region }),
            Err(poisoned) => *poisoned.into_inner() = Some(Identity { tenancy, region }),
        }
        let credentials = Credentials::new(KeyId::session_token(&token), session_key);
        Ok(Session {
            credentials,
            token,
            generation,
        })
    }

    async fn federate(
        &self,
        federation: &FederationRequest<'_>,
        now: SystemTime,
    ) -> Result<SessionToken, Error> {
        let endpoint = federation.endpoint;
        let url = Url::parse(endpoint).map_err(|source| Error::Federate {
            endpoint: endpoint.to_owned(),
            source: Box::new(source),
        })?;
        let body = federation.body();
        let key_id = federation.key_id();
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));

        let policy = self.config.federation_retry;
        let mut attempt = 1;
        let response = loop {
            // Each attempt is signed afresh, so a retry carries a valid date.
            let request =
                SignableRequest::new(&Method::POST, &url, &headers, SignableBody::Bytes(&body));
            let params = SigningParams::new(&key_id, federation.leaf_key, now)
                .with_header_set(HeaderSet::Federation);
            let output = sign(&request, params)?;
            let mut builder = http::Request::builder().method(Method::POST).uri(endpoint);
            for (name, value) in headers
                .iter()
                .chain(output.headers().iter().map(|(n, v)| (n, v)))
            {
                builder = builder.header(name, value);
            }
            let request = builder
                .body(body.clone())
                .map_err(|source| Error::Federate {
                    endpoint: endpoint.to_owned(),
                    source: Box::new(source),
                })?;

            let outcome = self.config.transport.send(request).await;
            let retryable = match &outcome {
                Ok(response) => response.status().is_server_error(),
                Err(_) => true,
            };
            if !retryable || attempt >= policy.max_attempts.max(1) {
                break outcome;
            }
            attempt += 1;
            tokio::time::sleep(policy.delay_before(attempt)).await;
        };

        let response = response.map_err(|source| Error::Federate {
            endpoint: endpoint.to_owned(),
            source,
        })?;
        if !response.status().is_success() {
            return Err(Error::FederateStatus {
                endpoint: endpoint.to_owned(),
                status: response.status().as_u16(),
                code: service_error_code(response.body()),
            });
        }

        #[derive(Deserialize)]
        struct Answer {
            token: Option<String>,
        }
        let answer: Answer =
            serde_json::from_slice(response.body()).map_err(|_| Error::ReadFederationAnswer {
                endpoint: endpoint.to_owned(),
                reason: "not JSON",
            })?;
        let token = answer.token.ok_or_else(|| Error::ReadFederationAnswer {
            endpoint: endpoint.to_owned(),
            reason: "no token field",
        })?;
        SessionToken::parse(&token, endpoint)
    }

    fn metadata_url(&self, path: &str) -> String {
        format!("{}{path}", self.config.metadata_base_url)
    }

    /// GETs an IMDS path with `Authorization: Bearer Oracle`, retrying connection errors,
    /// 404, 429 and 5xx.
    async fn fetch_text(&self, path: &str) -> Result<String, Error> {
        let url = self.metadata_url(path);
        let policy = self.config.metadata_retry;
        let mut attempt = 1;

        loop {
            let outcome = self.fetch_once(&url).await;
            let retryable = match &outcome {
                Err(Error::FetchMetadata { .. }) => true,
                Err(Error::FetchMetadataStatus { status, .. }) => {
                    *status == 404 || *status == 429 || *status >= 500
                }
                _ => false,
            };
            if !retryable || attempt >= policy.max_attempts.max(1) {
                return outcome;
            }
            attempt += 1;
            tracing::trace!(url = %url, attempt, "retrying instance metadata call");
            tokio::time::sleep(policy.delay_before(attempt)).await;
        }
    }

    async fn fetch_once(&self, url: &str) -> Result<String, Error> {
        let fetch_error = |source: BoxError| Error::FetchMetadata {
            url: url.to_owned(),
            source,
        };
        let request = http::Request::builder()
            .method(Method::GET)
            .uri(url)
            .header(AUTHORIZATION, "Bearer Oracle")
            .body(Vec::new())
            .map_err(|e| fetch_error(Box::new(e)))?;

        let response = self
            .config
            .transport
            .send(request)
            .await
            .map_err(fetch_error)?;
        if !response.status().is_success() {
            return Err(Error::FetchMetadataStatus {
                url: url.to_owned(),
                status: response.status().as_u16(),
            });
        }
        String::from_utf8(response.into_body()).map_err(|_| Error::ReadMetadata {
            url: url.to_owned(),
            reason: "the answer is not UTF-8 text".to_owned(),
        })
    }
}

impl CredentialProvider for InstancePrincipalProvider {
    fn credentials(&self, now: SystemTime) -> BoxFuture<'_, Result<Credentials, Error>> {
        Box::pin(async move {
            let current = self.snapshot();
            if let Some(session) = &current
                && !session.token.needs_refresh(now, self.config.refresh_margin)
            {
                return Ok(session.credentials.clone());
            }
            let refreshed = self
                .refresh_locked(now, current.as_ref().map(|s| s.generation), false)
                .await;

            // A failed early refresh keeps the current token while it is still valid.
            match (refreshed, self.snapshot()) {
                (Err(error), Some(session)) if now < session.token.expires_at() => {
                    tracing::debug!(
                        error = &error as &dyn std::error::Error,
                        "refreshing the session token failed; the current one is still valid"
                    );
                    Ok(session.credentials.clone())
                }
                (result, _) => result,
            }
        })
    }

    fn refresh(&self, now: SystemTime) -> BoxFuture<'_, Result<Credentials, Error>> {
        Box::pin(async move {
            let seen = self.snapshot().map(|session| session.generation);
            self.refresh_locked(now, seen, true).await
        })
    }

    fn region(&self) -> Option<Region> {
        match &self.config.region {
            Some(region) => Some(region.region().clone()),
            None => read_lock(&self.identity).map(|identity| identity.region.region().clone()),
        }
    }

    fn tenancy(&self) -> Option<Ocid> {
        read_lock(&self.identity).map(|identity| identity.tenancy)
    }
}

impl fmt::Debug for InstancePrincipalProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let session = self.snapshot();
        f.debug_struct("InstancePrincipalProvider")
            .field("metadata_base_url", &self.config.metadata_base_url)
            .field("federation_endpoint", &self.config.federation_endpoint)
            .field("tenancy", &self.tenancy())
            .field("token", &session.as_ref().map(|s| &s.token))
            .field("generation", &session.as_ref().map(|s| s.generation))
            .finish()
    }
}

/// The pieces of one federation call.
struct FederationRequest<'a> {
    endpoint: &'a str,
    leaf: &'a LeafCertificate,
    leaf_key: &'a PrivateKey,
    intermediate: &'a LeafCertificate,
    tenancy: &'a Ocid,
    session_key: &'a PrivateKey,
    fingerprint: FederationFingerprint,
}

impl FederationRequest<'_> {
    fn key_id(&self) -> KeyId {
        match self.fingerprint {
            FederationFingerprint::Sha256 => KeyId::from_raw(format!(
                "{}/fed-x509-sha256/{}",
                self.tenancy,
                self.leaf.sha256_fingerprint()
            )),
            FederationFingerprint::Sha1 => KeyId::from_raw(format!(
                "{}/fed-x509/{}",
                self.tenancy,
                self.leaf.sha1_fingerprint()
            )),
        }
    }

    fn body(&self) -> Vec<u8> {
        let mut body = serde_json::json!({
            "certificate": self.leaf.to_base64_der(),
            "publicKey": self.session_key.public_key().to_base64_der(),
            "intermediateCertificates": [self.intermediate.to_base64_der()],
        });
        if self.fingerprint == FederationFingerprint::Sha256 {
            body["fingerprintAlgorithm"] = serde_json::Value::from("SHA256");
        }
        body.to_string().into_bytes()
    }
}

/// The `code` of an OCI error body (`{"code": …, "message": …}`), or empty.
fn service_error_code(body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct ServiceError {
        code: Option<String>,
    }
    serde_json::from_slice::<ServiceError>(body)
        .ok()
        .and_then(|error| error.code)
        .unwrap_or_default()
}

fn read_lock<T: Clone>(lock: &RwLock<T>) -> T {
    match lock.read() {
        Ok(guard) => guard.clone(),
        Err(poisoned) => poisoned.into_inner().clone(),
    }
}
