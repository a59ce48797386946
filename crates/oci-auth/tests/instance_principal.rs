//! Instance principals end to end against local IMDS and federation servers on 127.0.0.1:
//! test certificates (one with its OUs in a single multi-valued RDN longer than 64
//! characters), federation requests verified with the crate's own verification surface,
//! refresh before expiry, forced refresh, coalescing, tenancy change and failure modes.

// Helpers outside #[test] functions unwrap too: any failure there is a test failure.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use der::asn1::{ObjectIdentifier, SetOfVec};
use der::{Any, Decode as _, Encode as _, Tag};
use oci_auth::{
    CredentialProvider, Error, HeaderSet, InstancePrincipalProvider, LeafCertificate, PrivateKey,
    PublicKey, ReceivedRequest, ReqwestTransport, RetryPolicy, SessionKeySource, SignableBody,
    SignableRequest,
};
use rsa::pkcs1v15::SigningKey;
use sha2::Sha256;
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::builder::{Builder as _, CertificateBuilder, Profile};
use x509_cert::name::{Name, RdnSequence, RelativeDistinguishedName};
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::SubjectPublicKeyInfoOwned;
use x509_cert::time::Validity;

const TENANCY: &str = "ocid1.tenancy.oc1..aaaaaaaatestinstanceprincipaltenancyfortheociauthcrate";
const OTHER_TENANCY: &str = "ocid1.tenancy.oc1..aaaaaaaaanothertenancy";
const COMPARTMENT: &str = "ocid1.compartment.oc1..aaaaaaaatestcompartmentforinstanceprincipals";
const INSTANCE: &str =
    "ocid1.instance.oc1.iad.anuwcljtestinstanceocidlongerthansixtyfourcharacters";
const T0: u64 = 1_800_000_000;
const LIFETIME: u64 = 1_200;

const OID_CN: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");
const OID_O: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.10");
const OID_OU: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.11");

fn data(name: &str) -> String {
    std::fs::read_to_string(format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn rsa_key(name: &str) -> rsa::RsaPrivateKey {
    PrivateKey::from_pem(&data(name), None)
        .unwrap()
        .as_rsa()
        .clone()
}

fn attribute(oid: ObjectIdentifier, value: &str) -> AttributeTypeAndValue {
    AttributeTypeAndValue {
        oid,
        value: Any::new(Tag::PrintableString, value.as_bytes()).unwrap(),
    }
}

fn rdn(attributes: Vec<AttributeTypeAndValue>) -> RelativeDistinguishedName {
    RelativeDistinguishedName(SetOfVec::try_from(attributes).unwrap())
}

/// The subject layouts instance certificates come in.
#[derive(Clone, Copy)]
enum Layout {
    /// One OU per RDN, tenancy in `OU=opc-tenant:`.
    SeparateRdns,
    /// All OUs in one multi-valued RDN.
    MultiValuedRdn,
    /// Tenancy in `O=opc-identity:` (service principal style).
    Identity,
    /// No tenancy at all.
    NoTenancy,
}

fn subject(layout: Layout, tenancy: &str) -> Name {
    let ous = [
        "opc-certtype:instance".to_owned(),
        format!("opc-compartment:{COMPARTMENT}"),
        format!("opc-instance:{INSTANCE}"),
        format!("opc-tenant:{tenancy}"),
    ];
    let cn = attribute(OID_CN, INSTANCE);
    let rdns = match layout {
        Layout::SeparateRdns => std::iter::once(rdn(vec![cn]))
            .chain(ous.iter().map(|ou| rdn(vec![attribute(OID_OU, ou)])))
            .collect(),
        Layout::MultiValuedRdn => {
            vec![
                rdn(vec![cn]),
                rdn(ous.iter().map(|ou| attribute(OID_OU, ou)).collect()),
            ]
        }
        Layout::Identity => vec![
            rdn(vec![cn]),
            rdn(vec![attribute(OID_O, &format!("opc-identity:{tenancy}"))]),
        ],
        Layout::NoTenancy => vec![rdn(vec![cn]), rdn(vec![attribute(OID_OU, &ous[0])])],
    };
    RdnSequence(rdns)
}

fn pem(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

fn ca_name() -> Name {
    RdnSequence(vec![rdn(vec![attribute(
        OID_CN,
        "oci-auth test intermediate CA",
    )])])
}

/// The intermediate (self-signed here) and a leaf issued by it, as PEM.
fn certificates(layout: Layout, tenancy: &str) -> (String, String) {
    let ca_signer = SigningKey::<Sha256>::new(rsa_key("ca-key.pem"));
    let validity = Validity::from_now(Duration::from_secs(3_600)).unwrap();
    let ca_spki = SubjectPublicKeyInfoOwned::from_der(
        PrivateKey::from_pem(&data("ca-key.pem"), None)
            .unwrap()
            .public_key()
            .spki_der(),
    )
    .unwrap();
    let ca = CertificateBuilder::new(
        Profile::Root,
        SerialNumber::new(&[1]).unwrap(),
        validity,
        ca_name(),
        ca_spki,
        &ca_signer,
    )
    .unwrap()
    .build::<rsa::pkcs1v15::Signature>()
    .unwrap();

    let leaf_spki = SubjectPublicKeyInfoOwned::from_der(
        PrivateKey::from_pem(&data("leaf-key.pem"), None)
            .unwrap()
            .public_key()
            .spki_der(),
    )
    .unwrap();
    let profile = Profile::Leaf {
        issuer: ca_name(),
        enable_key_agreement: false,
        enable_key_encipherment: true,
    };
    let leaf = CertificateBuilder::new(
        profile,
        SerialNumber::new(&[2]).unwrap(),
        validity,
        subject(layout, tenancy),
        leaf_spki,
        &ca_signer,
    )
    .unwrap()
    .build::<rsa::pkcs1v15::Signature>()
    .unwrap();

    (
        pem("CERTIFICATE", &leaf.to_der().unwrap()),
        pem("CERTIFICATE", &ca.to_der().unwrap()),
    )
}

/// Hands out the committed test session keys in turn (RSA generation is slow in debug
/// builds); one test below exercises the real generator.
#[derive(Debug)]
struct CommittedKeys {
    next: AtomicUsize,
    keys: Vec<PrivateKey>,
}

impl CommittedKeys {
    fn new() -> Arc<Self> {
        let keys = (1..=4)
            .map(|i| PrivateKey::from_pem(&data(&format!("session-key-{i}.pem")), None).unwrap());
        Arc::new(Self {
            next: AtomicUsize::new(0),
            keys: keys.collect(),
        })
    }
}

impl SessionKeySource for CommittedKeys {
    fn next_key(&self) -> Result<PrivateKey, Error> {
        let index = self.next.fetch_add(1, Ordering::SeqCst) % self.keys.len();
        Ok(self.keys[index].clone())
    }
}

/// The stand-in metadata service and auth service.
struct Sim {
    cert_pem: Mutex<String>,
    intermediate_pem: Mutex<String>,
    key_pem: String,
    region_info: Option<String>,
    region: String,
    clock: Mutex<u64>,
    federation_calls: AtomicUsize,
    federation_failure: Mutex<Option<(StatusCode, &'static str)>>,
    issued: Mutex<Vec<(String, PublicKey)>>,
    rejected: Mutex<Vec<String>>,
}

impl Sim {
    fn new(layout: Layout) -> Arc<Self> {
        let (cert, intermediate) = certificates(layout, TENANCY);
        Arc::new(Self {
            cert_pem: Mutex::new(cert),
            intermediate_pem: Mutex::new(intermediate),
            key_pem: data("leaf-key.pem"),
            region_info: Some(
                r#"{"realmKey":"oc1","realmDomainComponent":"oraclecloud.com","regionKey":"IAD","regionIdentifier":"us-ashburn-1"}"#
                    .to_owned(),
            ),
            region: "iad".to_owned(),
            clock: Mutex::new(T0),
            federation_calls: AtomicUsize::new(0),
            federation_failure: Mutex::new(None),
            issued: Mutex::new(Vec::new()),
            rejected: Mutex::new(Vec::new()),
        })
    }

    fn calls(&self) -> usize {
        self.federation_calls.load(Ordering::SeqCst)
    }

    fn session_key_of(&self, token: &str) -> PublicKey {
        let issued = self.issued.lock().unwrap();
        issued
            .iter()
            .find(|(t, _)| t == token)
            .map(|(_, key)| key.clone())
            .unwrap()
    }
}

async fn imds(State(sim): State<Arc<Sim>>, uri: Uri, headers: HeaderMap) -> Response {
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some("Bearer Oracle") {
        return (
            StatusCode::UNAUTHORIZED,
            "IMDS v2 needs Authorization: Bearer Oracle",
        )
            .into_response();
    }
    let body = match uri.path() {
        "/opc/v2/instance/regionInfo" => match &sim.region_info {
            Some(json) => json.clone(),
            None => return StatusCode::NOT_FOUND.into_response(),
        },
        "/opc/v2/instance/region" => sim.region.clone(),
        "/opc/v2/identity/cert.pem" => sim.cert_pem.lock().unwrap().clone(),
        "/opc/v2/identity/key.pem" => sim.key_pem.clone(),
        "/opc/v2/identity/intermediate.pem" => sim.intermediate_pem.lock().unwrap().clone(),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    body.into_response()
}

async fn federation(
    State(sim): State<Arc<Sim>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    sim.federation_calls.fetch_add(1, Ordering::SeqCst);
    if let Some((status, code)) = *sim.federation_failure.lock().unwrap() {
        return (
            status,
            format!(r#"{{"code":"{code}","message":"test failure"}}"#),
        )
            .into_response();
    }

    let reject = |why: String| {
        sim.rejected.lock().unwrap().push(why.clone());
        (
            StatusCode::UNAUTHORIZED,
            format!(r#"{{"code":"NotAuthenticated","message":"{why}"}}"#),
        )
            .into_response()
    };
    let json: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(json) => json,
        Err(e) => return reject(format!("body: {e}")),
    };
    let cert_der = STANDARD
        .decode(json["certificate"].as_str().unwrap_or_default())
        .unwrap_or_default();
    let leaf = match LeafCertificate::from_der(&cert_der, "federation body") {
        Ok(leaf) => leaf,
        Err(e) => return reject(format!("certificate: {e}")),
    };
    let received = ReceivedRequest::new(
        &method,
        uri.path_and_query().map_or("/", |p| p.as_str()),
        &headers,
    );
    let authorization = match received.authorization() {
        Ok(a) => a,
        Err(e) => return reject(format!("authorization: {e}")),
    };
    let expected_key_id = format!("{TENANCY}/fed-x509-sha256/{}", leaf.sha256_fingerprint());
    if authorization.key_id().expose() != expected_key_id {
        return reject(format!("keyId {}", authorization.key_id()));
    }
    if !authorization
        .missing_required(&method, HeaderSet::Federation)
        .is_empty()
    {
        return reject("headers not signed".to_owned());
    }
    if let Err(e) = received.verify(&authorization, leaf.public_key()) {
        return reject(format!("signature: {e}"));
    }
    if let Err(e) = received.check_body(&body) {
        return reject(format!("body hash: {e}"));
    }
    if json["fingerprintAlgorithm"] != "SHA256"
        || json["intermediateCertificates"].as_array().map(Vec::len) != Some(1)
    {
        return reject("body fields".to_owned());
    }
    let session_key =
        match PublicKey::from_base64_der(json["publicKey"].as_str().unwrap_or_default()) {
            Ok(key) => key,
            Err(e) => return reject(format!("publicKey: {e}")),
        };

    let now = *sim.clock.lock().unwrap();
    let serial = sim.issued.lock().unwrap().len();
    let claims =
        serde_json::json!({"exp": now + LIFETIME, "iat": now, "sub": INSTANCE, "n": serial});
    let token = format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256"}"#),
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        URL_SAFE_NO_PAD.encode(b"test-signature")
    );
    sim.issued
        .lock()
        .unwrap()
        .push((token.clone(), session_key));
    serde_json::json!({ "token": token })
        .to_string()
        .into_response()
}

/// Starts both servers on one loopback listener; returns the base URL.
async fn serve(sim: Arc<Sim>) -> String {
    let app = Router::new()
        .route("/opc/v2/{*path}", get(imds))
        .route("/v1/x509", post(federation))
        .with_state(sim);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{address}")
}

fn fast_retry(attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts: attempts,
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(2),
    }
}

async fn provider_for(sim: &Arc<Sim>) -> InstancePrincipalProvider {
    let base = serve(Arc::clone(sim)).await;
    InstancePrincipalProvider::builder(Arc::new(ReqwestTransport::new().unwrap()))
        .metadata_base_url(&format!("{base}/opc/v2").parse().unwrap())
        .federation_endpoint(&format!("{base}/v1/x509").parse().unwrap())
        .session_key_source(CommittedKeys::new())
        .retry(fast_retry(2), fast_retry(3))
        .build()
}

fn at(seconds: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(seconds)
}

fn token_of(credentials: &oci_auth::Credentials) -> String {
    credentials
        .key_id()
        .session_token_text()
        .unwrap()
        .to_owned()
}

/// Signs a request with `credentials` and checks it verifies with the session public key
/// the auth service received for that token.
fn assert_pairs_with_federated_key(sim: &Sim, credentials: &oci_auth::Credentials) {
    let url =
        url::Url::parse("https://iaas.us-ashburn-1.oraclecloud.com/20160918/vnics/x").unwrap();
    let mut headers = http::HeaderMap::new();
    let request =
        SignableRequest::new(&http::Method::GET, &url, &headers, SignableBody::Bytes(b""));
    let output = credentials.sign(&request, at(T0)).unwrap();
    output.apply_to(&mut headers);
    let received = ReceivedRequest::new(&http::Method::GET, "/20160918/vnics/x", &headers);
    let authorization = received.authorization().unwrap();
    assert!(authorization.key_id().expose().starts_with("ST$"));
    let key = sim.session_key_of(&token_of(credentials));
    received.verify(&authorization, &key).unwrap();
}

#[tokio::test]
async fn token_fetched_used_refreshed_and_forced() {
    let sim = Sim::new(Layout::SeparateRdns);
    let provider = provider_for(&sim).await;

    let first = provider.credentials(at(T0)).await.unwrap();
    assert_eq!(
        sim.calls(),
        1,
        "rejected: {:?}",
        sim.rejected.lock().unwrap()
    );
    assert_pairs_with_federated_key(&sim, &first);
    assert_eq!(provider.tenancy().unwrap().as_str(), TENANCY);
    assert_eq!(provider.region().unwrap().as_str(), "us-ashburn-1");

    // Well within the lifetime: the same token and key.
    let again = provider.credentials(at(T0 + 600)).await.unwrap();
    assert_eq!(token_of(&again), token_of(&first));
    assert_eq!(sim.calls(), 1);

    // Inside the 300 s margin before exp: refreshed before expiry, with a new key.
    *sim.clock.lock().unwrap() = T0 + LIFETIME - 299;
    let renewed = provider.credentials(at(T0 + LIFETIME - 299)).await.unwrap();
    assert_eq!(sim.calls(), 2);
    assert_ne!(token_of(&renewed), token_of(&first));
    assert_ne!(
        renewed.private_key().public_key(),
        first.private_key().public_key()
    );
    assert_pairs_with_federated_key(&sim, &renewed);

    // Forced refresh (a 401): a new token even though the current one is fresh.
    let forced = provider.refresh(at(T0 + LIFETIME - 200)).await.unwrap();
    assert_eq!(sim.calls(), 3);
    assert_ne!(token_of(&forced), token_of(&renewed));
    assert_pairs_with_federated_key(&sim, &forced);

    // Concurrent forced refreshes (many requests got 401 at once) coalesce into one call.
    let now = at(T0 + LIFETIME - 100);
    let (a, b, c) = tokio::join!(
        provider.refresh(now),
        provider.refresh(now),
        provider.refresh(now)
    );
    assert_eq!(sim.calls(), 4);
    let tokens = [
        token_of(&a.unwrap()),
        token_of(&b.unwrap()),
        token_of(&c.unwrap()),
    ];
    assert!(tokens.iter().all(|t| t == &tokens[0]));

    let shown = format!("{provider:?}");
    assert!(!shown.contains(&tokens[0]), "{shown}");
}

#[tokio::test]
async fn tenancy_change_at_refresh_is_refused() {
    let sim = Sim::new(Layout::SeparateRdns);
    let provider = provider_for(&sim).await;
    let first = provider.credentials(at(T0)).await.unwrap();

    let (cert, intermediate) = certificates(Layout::SeparateRdns, OTHER_TENANCY);
    *sim.cert_pem.lock().unwrap() = cert;
    *sim.intermediate_pem.lock().unwrap() = intermediate;
    let err = provider.refresh(at(T0 + 10)).await.unwrap_err();
    match &err {
        Error::RefreshTenancyChanged { before, after } => {
            assert_eq!(before, TENANCY);
            assert_eq!(after, OTHER_TENANCY);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        sim.calls(),
        1,
        "no federation call with a foreign certificate"
    );

    // The old, still valid token stays in use.
    let still = provider.credentials(at(T0 + 20)).await.unwrap();
    assert_eq!(token_of(&still), token_of(&first));
}

#[tokio::test]
async fn multi_valued_rdn_and_identity_subjects() {
    for layout in [Layout::MultiValuedRdn, Layout::Identity] {
        let sim = Sim::new(layout);
        let provider = provider_for(&sim).await;
        let credentials = provider.credentials(at(T0)).await.unwrap();
        assert_pairs_with_federated_key(&sim, &credentials);
        assert_eq!(provider.tenancy().unwrap().as_str(), TENANCY);
    }

    let (cert, _) = certificates(Layout::MultiValuedRdn, TENANCY);
    let leaf = LeafCertificate::from_pem(&cert, "test").unwrap();
    let long = leaf
        .subject_values()
        .iter()
        .filter(|v| v.len() > 64)
        .count();
    assert!(long >= 3, "{:?}", leaf.subject_values());
}

#[tokio::test]
async fn certificate_without_tenancy_is_an_error() {
    let sim = Sim::new(Layout::NoTenancy);
    let provider = provider_for(&sim).await;
    let err = provider.credentials(at(T0)).await.unwrap_err();
    assert!(
        matches!(err, Error::FindTenancyInCertificate { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("/identity/cert.pem"), "{err}");
}

#[tokio::test]
async fn federation_failures_are_typed() {
    let sim = Sim::new(Layout::SeparateRdns);
    let provider = provider_for(&sim).await;

    *sim.federation_failure.lock().unwrap() = Some((StatusCode::UNAUTHORIZED, "NotAuthenticated"));
    let err = provider.credentials(at(T0)).await.unwrap_err();
    match &err {
        Error::FederateStatus {
            status: 401,
            code,
            endpoint,
        } => {
            assert_eq!(code, "NotAuthenticated");
            assert!(endpoint.ends_with("/v1/x509"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(sim.calls(), 1, "4xx is not retried");

    *sim.federation_failure.lock().unwrap() =
        Some((StatusCode::SERVICE_UNAVAILABLE, "Unavailable"));
    let err = provider.credentials(at(T0)).await.unwrap_err();
    assert!(
        matches!(err, Error::FederateStatus { status: 503, .. }),
        "{err:?}"
    );
    assert_eq!(sim.calls(), 4, "5xx is retried: 3 attempts");

    *sim.federation_failure.lock().unwrap() = None;
    provider.credentials(at(T0)).await.unwrap();
}

#[tokio::test]
async fn unreadable_metadata_and_region_fallback() {
    let sim = Sim::new(Layout::SeparateRdns);
    *sim.cert_pem.lock().unwrap() = "this is not a certificate".to_owned();
    let provider = provider_for(&sim).await;
    let err = provider.credentials(at(T0)).await.unwrap_err();
    assert!(matches!(err, Error::ParseCertificate { .. }), "{err:?}");
    assert!(err.to_string().contains("/identity/cert.pem"), "{err}");

    let mut sim = Sim::new(Layout::SeparateRdns);
    let inner = Arc::get_mut(&mut sim).unwrap();
    inner.region_info = None;
    inner.region = "phx\n".to_owned();
    let provider = provider_for(&sim).await;
    let info = provider.region_info().await.unwrap();
    assert_eq!(info.region().as_str(), "us-phoenix-1");
    assert_eq!(
        info.federation_endpoint(),
        "https://auth.us-phoenix-1.oraclecloud.com/v1/x509"
    );
}

#[tokio::test]
async fn unreachable_metadata_service_names_the_url() {
    // A port nothing listens on (bound, then released).
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}/opc/v2", listener.local_addr().unwrap());
    drop(listener);
    let provider = InstancePrincipalProvider::builder(Arc::new(ReqwestTransport::new().unwrap()))
        .metadata_base_url(&base.parse().unwrap())
        .retry(fast_retry(2), fast_retry(1))
        .build();
    let err = provider.credentials(at(T0)).await.unwrap_err();
    assert!(matches!(err, Error::FetchMetadata { .. }), "{err:?}");
    assert!(err.to_string().contains(&base), "{err}");
}

#[tokio::test]
async fn real_rsa_2048_session_key_generation() {
    let sim = Sim::new(Layout::SeparateRdns);
    let base = serve(Arc::clone(&sim)).await;
    let provider = InstancePrincipalProvider::builder(Arc::new(ReqwestTransport::new().unwrap()))
        .metadata_base_url(&format!("{base}/opc/v2").parse().unwrap())
        .federation_endpoint(&format!("{base}/v1/x509").parse().unwrap())
        .build();
    let credentials = provider.credentials(at(T0)).await.unwrap();
    assert_pairs_with_federated_key(&sim, &credentials);
    use rsa::traits::PublicKeyParts as _;
    let public = credentials.private_key().public_key().as_rsa();
    assert_eq!(public.size(), 256);
    assert_eq!(public.e(), &rsa::BigUint::from(65_537u32));
}

#[tokio::test]
async fn failed_early_refresh_keeps_the_valid_token_until_it_expires() {
    let sim = Sim::new(Layout::SeparateRdns);
    let provider = provider_for(&sim).await;
    let first = provider.credentials(at(T0)).await.unwrap();

    *sim.federation_failure.lock().unwrap() = Some((StatusCode::BAD_GATEWAY, "BadGateway"));
    let within_margin = provider.credentials(at(T0 + LIFETIME - 100)).await.unwrap();
    assert_eq!(token_of(&within_margin), token_of(&first));
    assert!(
        provider.refresh(at(T0 + LIFETIME - 100)).await.is_err(),
        "forced refresh reports"
    );

    let expired = provider.credentials(at(T0 + LIFETIME)).await.unwrap_err();
    assert!(
        matches!(expired, Error::FederateStatus { status: 502, .. }),
        "{expired:?}"
    );
}

#[tokio::test]
async fn environment_overrides_point_metadata_and_federation_elsewhere() {
    let sim = Sim::new(Layout::SeparateRdns);
    let base = serve(Arc::clone(&sim)).await;
    let env = oci_auth::Env::from_pairs([
        ("OCI_METADATA_BASE_URL", format!("{base}/opc/v2/")),
        ("OCI_SDK_AUTH_CLIENT_REGION_URL", base.clone()),
    ]);
    let provider = InstancePrincipalProvider::builder(Arc::new(ReqwestTransport::new().unwrap()))
        .env(&env)
        .session_key_source(CommittedKeys::new())
        .retry(fast_retry(2), fast_retry(3))
        .build();

    let credentials = provider.credentials(at(T0)).await.unwrap();

    assert_eq!(sim.calls(), 1, "federated at the overridden auth URL");
    assert_pairs_with_federated_key(&sim, &credentials);
    assert_eq!(provider.tenancy().unwrap().as_str(), TENANCY);
}
