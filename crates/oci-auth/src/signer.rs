//! The pure request signer: a request view and signing parameters in, the headers to add out.
//!
//! Nothing here reads a clock, a file or the network: the time is a parameter.

use std::fmt;
use std::time::SystemTime;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, DATE, HOST};
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use sha2::{Digest as _, Sha256};
use url::Url;

use crate::{Error, KeyId, PrivateKey};

/// Name of the body-hash header.
pub const X_CONTENT_SHA256: HeaderName = HeaderName::from_static("x-content-sha256");

/// The pseudo-header standing for the method and path+query.
pub const REQUEST_TARGET: &str = "(request-target)";

/// `content-type` used for bodies when the request carries none.
pub const DEFAULT_CONTENT_TYPE: &str = "application/json";

/// A request to sign, borrowed from whatever HTTP types the caller uses.
#[derive(Debug, Clone, Copy)]
pub struct SignableRequest<'a> {
    method: &'a Method,
    url: &'a Url,
    headers: &'a HeaderMap,
    body: SignableBody<'a>,
}

impl<'a> SignableRequest<'a> {
    /// A request view. `url` must be the exact URL the HTTP client sends: path and query are
    /// signed as they appear in it (percent-encoded, in order), and its host (with the port
    /// when it is not the scheme's default) is signed unless `headers` has a `host`.
    /// `headers` are the headers the caller already set (e.g. a fixed `date`); their values
    /// are signed byte for byte.
    #[must_use]
    pub fn new(
        method: &'a Method,
        url: &'a Url,
        headers: &'a HeaderMap,
        body: SignableBody<'a>,
    ) -> Self {
        Self {
            method,
            url,
            headers,
            body,
        }
    }
}

/// The body of a request to sign.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum SignableBody<'a> {
    /// The exact bytes sent (use `&[]` for an empty body).
    Bytes(&'a [u8]),
    /// A body hashed beforehand (e.g. a stream): its digest and length.
    Precomputed(&'a BodyDigest),
}

/// SHA-256 (base64) and length of a body, as carried in `x-content-sha256` and
/// `content-length`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyDigest {
    sha256_base64: String,
    length: u64,
}

impl BodyDigest {
    /// Hashes `body`.
    #[must_use]
    pub fn of(body: &[u8]) -> Self {
        Self {
            sha256_base64: STANDARD.encode(Sha256::digest(body)),
            length: body.len() as u64,
        }
    }

    /// A digest computed elsewhere: base64 SHA-256 and byte length.
    #[must_use]
    pub fn from_parts(sha256_base64: impl Into<String>, length: u64) -> Self {
        Self {
            sha256_base64: sha256_base64.into(),
            length,
        }
    }

    /// Base64 of the SHA-256 of the body.
    #[must_use]
    pub fn sha256_base64(&self) -> &str {
        &self.sha256_base64
    }

    /// Body length in bytes.
    #[must_use]
    pub fn length(&self) -> u64 {
        self.length
    }
}

/// Which headers a signature covers (Oracle's draft-cavage HTTP signature profile).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum HeaderSet {
    /// `date (request-target) host`, plus `content-length content-type x-content-sha256`
    /// for POST, PUT and PATCH.
    #[default]
    Standard,
    /// `date (request-target) host` for every method: the body is not hashed (Object
    /// Storage `PutObject`/`UploadPart`).
    UnsignedBody,
    /// The auth service's federation call: `date (request-target) content-length
    /// content-type x-content-sha256`, without `host`.
    Federation,
}

impl HeaderSet {
    /// The header names signed for `method`, in the order they are emitted.
    #[must_use]
    pub fn names(self, method: &Method) -> &'static [&'static str] {
        const GENERIC: &[&str] = &["date", REQUEST_TARGET, "host"];
        const WITH_BODY: &[&str] = &[
            "date",
            REQUEST_TARGET,
            "host",
            "content-length",
            "content-type",
            "x-content-sha256",
        ];
        const FEDERATION: &[&str] = &[
            "date",
            REQUEST_TARGET,
            "content-length",
            "content-type",
            "x-content-sha256",
        ];

        match self {
            Self::Standard if has_signed_body(method) => WITH_BODY,
            Self::Standard | Self::UnsignedBody => GENERIC,
            Self::Federation => FEDERATION,
        }
    }
}

/// Key, key id, time and header set for one signature.
#[derive(Debug, Clone, Copy)]
#[must_use]
pub struct SigningParams<'a> {
    key_id: &'a KeyId,
    key: &'a PrivateKey,
    time: SystemTime,
    header_set: HeaderSet,
}

impl<'a> SigningParams<'a> {
    /// Parameters with the [`HeaderSet::Standard`] header set. `time` fills the `date`
    /// header when the request has none.
    pub fn new(key_id: &'a KeyId, key: &'a PrivateKey, time: SystemTime) -> Self {
        Self {
            key_id,
            key,
            time,
            header_set: HeaderSet::Standard,
        }
    }

    /// Chooses another header set.
    pub fn with_header_set(mut self, header_set: HeaderSet) -> Self {
        self.header_set = header_set;
        self
    }
}

/// The result of signing: the headers to add to the request, and the intermediate values.
///
/// `Debug` shows the signing string but not the `authorization` value, whose key id may hold
/// a session token.
#[derive(Clone)]
pub struct SigningOutput {
    headers: Vec<(HeaderName, HeaderValue)>,
    signing_string: String,
    signature: String,
    signed_header_names: &'static [&'static str],
}

impl SigningOutput {
    /// Headers to add: the signed ones the request lacked (`date`, `host`,
    /// `content-length`, `content-type`, `x-content-sha256`) and `authorization`, in that
    /// order. Headers the request already had are signed as they are and not repeated.
    #[must_use]
    pub fn headers(&self) -> &[(HeaderName, HeaderValue)] {
        &self.headers
    }

    /// Consumes the output, giving the headers to add.
    #[must_use]
    pub fn into_headers(self) -> Vec<(HeaderName, HeaderValue)> {
        self.headers
    }

    /// Inserts the headers into `headers` (replacing same-named ones).
    pub fn apply_to(&self, headers: &mut HeaderMap) {
        for (name, value) in &self.headers {
            headers.insert(name.clone(), value.clone());
        }
    }

    /// The signing string that was signed (lines joined by `\n`).
    #[must_use]
    pub fn signing_string(&self) -> &str {
        &self.signing_string
    }

    /// The base64 signature.
    #[must_use]
    pub fn signature(&self) -> &str {
        &self.signature
    }

    /// The signed header names, in order (the `headers="…"` parameter, split).
    #[must_use]
    pub fn signed_header_names(&self) -> &'static [&'static str] {
        self.signed_header_names
    }

    /// The `authorization` header value. It holds the key id, which for session tokens is
    /// a secret: never log it.
    #[must_use]
    pub fn authorization(&self) -> Option<&HeaderValue> {
        self.headers
            .iter()
            .find(|(name, _)| name == AUTHORIZATION)
            .map(|(_, value)| value)
    }
}

impl fmt::Debug for SigningOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("SigningOutput")
            .field("headers_added", &names)
            .field("signing_string", &self.signing_string)
            .field("signature", &self.signature)
            .finish()
    }
}

/// Signs `request` as Oracle's SDKs do: builds the signing string from
/// the signed headers, signs it with RSASSA-PKCS1-v1_5 SHA-256 and returns the headers to
/// add, `authorization` last.
///
/// Values the request already carries (`date`, `host`, `content-type`, `content-length`,
/// `x-content-sha256`) are signed as given; missing ones are computed: `date` from
/// `params` time in IMF-fixdate, `host` from the URL, `content-type` as
/// `application/json`, `content-length` and `x-content-sha256` from the body.
///
/// # Errors
/// [`Error::SignUnsupportedMethod`] for methods other than GET, HEAD, DELETE, POST, PUT and
/// PATCH; [`Error::SignUrlWithoutHost`] for a URL without host;
/// [`Error::SignInvalidHeaderValue`] if a computed value is not a header value;
/// [`Error::ComputeSignature`] for an unusable key.
///
/// # Example
/// ```
/// use std::time::{Duration, SystemTime};
/// use oci_auth::{sign, KeyId, PrivateKey, SignableBody, SignableRequest, SigningParams};
///
/// let pem = std::fs::read_to_string(concat!(
///     env!("CARGO_MANIFEST_DIR"),
///     "/tests/data/oracle-docs-key.pem"
/// ))?;
/// let key = PrivateKey::from_pem(&pem, None)?;
/// let key_id = KeyId::from_raw("ocid1.tenancy.oc1..aaaa/ocid1.user.oc1..bbbb/73:61:a2:21");
/// let url = url::Url::parse("https://iaas.us-phoenix-1.oraclecloud.com/20160918/vcns")?;
/// let headers = http::HeaderMap::new();
/// let request = SignableRequest::new(&http::Method::GET, &url, &headers, SignableBody::Bytes(b""));
/// let time = SystemTime::UNIX_EPOCH + Duration::from_secs(1_764_577_800);
///
/// let output = sign(&request, SigningParams::new(&key_id, &key, time))?;
/// assert_eq!(
///     output.signing_string(),
///     "date: Mon, 01 Dec 2025 08:30:00 GMT\n\
///      (request-target): get /20160918/vcns\n\
///      host: iaas.us-phoenix-1.oraclecloud.com"
/// );
/// assert!(output.authorization().is_some());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn sign(
    request: &SignableRequest<'_>,
    params: SigningParams<'_>,
) -> Result<SigningOutput, Error> {
    check_method(request.method)?;
    let names = params.header_set.names(request.method);

    let computed = computed_values(request, params.time, names)?;
    let value_of = |name: &str| -> Result<Vec<u8>, Error> {
        if name == REQUEST_TARGET {
            return Ok(request_target(request.method, request.url).into_bytes());
        }
        if let Some(value) = request.headers.get(name) {
            return Ok(value.as_bytes().to_vec());
        }
        computed
            .iter()
            .find(|(computed_name, _)| computed_name == name)
            .map(|(_, value)| value.as_bytes().to_vec())
            .ok_or_else(|| Error::BuildSigningStringMissingHeader {
                name: name.to_owned(),
            })
    };

    let mut signing_bytes = Vec::with_capacity(256);
    for (index, name) in names.iter().enumerate() {
        if index > 0 {
            signing_bytes.push(b'\n');
        }
        signing_bytes.extend_from_slice(name.as_bytes());
        signing_bytes.extend_from_slice(b": ");
        signing_bytes.extend_from_slice(&value_of(name)?);
    }

    let signature = STANDARD.encode(params.key.sign_sha256(&signing_bytes)?);
    let authorization = format!(
        "Signature version=\"1\",headers=\"{}\",keyId=\"{}\",algorithm=\"rsa-sha256\",\
         signature=\"{signature}\"",
        names.join(" "),
        params.key_id.expose(),
    );
    tracing::trace!(key_id = %params.key_id, headers = %names.join(" "), "signed request");

    let mut headers = computed;
    headers.push((
        AUTHORIZATION,
        HeaderValue::try_from(authorization).map_err(|_| Error::SignInvalidHeaderValue {
            name: "authorization".to_owned(),
        })?,
    ));

    Ok(SigningOutput {
        headers,
        signing_string: String::from_utf8_lossy(&signing_bytes).into_owned(),
        signature,
        signed_header_names: names,
    })
}

/// The `(request-target)` value: lower-case method, space, path, and `?query` when the URL
/// has a query (even an empty one, since the HTTP client then sends the `?`).
#[must_use]
pub fn request_target(method: &Method, url: &Url) -> String {
    let method = method.as_str().to_ascii_lowercase();
    match url.query() {
        Some(query) => format!("{method} {}?{query}", url.path()),
        None => format!("{method} {}", url.path()),
    }
}

/// The `host` value for `url`: host, plus `:port` when the port is not the scheme default.
///
/// # Errors
/// [`Error::SignUrlWithoutHost`] when the URL has no host.
pub fn host_of(url: &Url) -> Result<String, Error> {
    let host = url.host_str().ok_or_else(|| Error::SignUrlWithoutHost {
        url: url.to_string(),
    })?;
    Ok(match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    })
}

/// Whether OCI signs the body of requests with this method (POST, PUT, PATCH).
#[must_use]
pub fn has_signed_body(method: &Method) -> bool {
    *method == Method::POST || *method == Method::PUT || *method == Method::PATCH
}

fn check_method(method: &Method) -> Result<(), Error> {
    let signable = [
        Method::GET,
        Method::HEAD,
        Method::DELETE,
        Method::POST,
        Method::PUT,
    ]
    .contains(method)
        || *method == Method::PATCH;
    if signable {
        Ok(())
    } else {
        Err(Error::SignUnsupportedMethod {
            method: method.to_string(),
        })
    }
}

/// Values for signed headers the request lacks, in signing order (request-target excluded).
fn computed_values(
    request: &SignableRequest<'_>,
    time: SystemTime,
    names: &[&str],
) -> Result<Vec<(HeaderName, HeaderValue)>, Error> {
    let missing =
        |name: &HeaderName| names.contains(&name.as_str()) && !request.headers.contains_key(name);
    let header_value = |name: &HeaderName, value: String| {
        HeaderValue::try_from(value).map_err(|_| Error::SignInvalidHeaderValue {
            name: name.as_str().to_owned(),
        })
    };
    let mut out = Vec::with_capacity(5);

    if missing(&DATE) {
        out.push((DATE, header_value(&DATE, httpdate::fmt_http_date(time))?));
    }
    if missing(&HOST) {
        out.push((HOST, header_value(&HOST, host_of(request.url)?)?));
    }

    let needs_digest = missing(&CONTENT_LENGTH) || missing(&X_CONTENT_SHA256);
    let owned_digest;
    let digest = match request.body {
        SignableBody::Precomputed(digest) => digest,
        SignableBody::Bytes(bytes) if needs_digest => {
            owned_digest = BodyDigest::of(bytes);
            &owned_digest
        }
        SignableBody::Bytes(_) => {
            owned_digest = BodyDigest::from_parts(String::new(), 0);
            &owned_digest
        }
    };
    if missing(&CONTENT_LENGTH) {
        out.push((CONTENT_LENGTH, HeaderValue::from(digest.length())));
    }
    if missing(&CONTENT_TYPE) {
        out.push((CONTENT_TYPE, HeaderValue::from_static(DEFAULT_CONTENT_TYPE)));
    }
    if missing(&X_CONTENT_SHA256) {
        out.push((
            X_CONTENT_SHA256,
            header_value(&X_CONTENT_SHA256, digest.sha256_base64().to_owned())?,
        ));
    }

    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::test_keys;

    fn docs_key() -> PrivateKey {
        PrivateKey::from_pem(test_keys::ORACLE_DOCS, None).unwrap()
    }

    fn docs_key_id() -> KeyId {
        KeyId::from_raw(
            "ocid1.tenancy.oc1..aaaaaaaaba3pv6wkcr4jqae5f15p2b2m2yt2j6rx32uzr4h25vqstifsfdsq/\
             ocid1.user.oc1..aaaaaaaat5nvwcna5j6aqzjcaty5eqbb6qt2jvpkanghtgdaqedqw3rynjq/\
             20:3b:97:13:55:1c:5b:0d:d3:37:d8:50:4e:c5:3a:34",
        )
    }

    fn dated(date: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(DATE, HeaderValue::from_str(date).unwrap());
        headers
    }

    #[test]
    fn oracle_docs_get_example() {
        let url = Url::parse(
            "https://iaas.us-phoenix-1.oraclecloud.com/20160918/instances\
             ?availabilityDomain=Pjwf%3A%20PHX-AD-1\
             &compartmentId=ocid1.compartment.oc1..aaaaaaaam3we6vgnherjq5q2idnccdflvjsnog7mlr6rtdb25gilchfeyjxa\
             &displayName=TeamXInstances\
             &volumeId=ocid1.volume.oc1.phx.abyhqljrgvttnlx73nmrwfaux7kcvzfs3s66izvxf2h4lgvyndsdsnoiwr5q",
        )
        .unwrap();
        let headers = dated("Thu, 05 Jan 2014 21:31:40 GMT");
        let (key, key_id) = (docs_key(), docs_key_id());
        let request = SignableRequest::new(&Method::GET, &url, &headers, SignableBody::Bytes(&[]));

        let output = sign(
            &request,
            SigningParams::new(&key_id, &key, SystemTime::UNIX_EPOCH),
        )
        .unwrap();

        assert_eq!(
            output.signature(),
            "GBas7grhyrhSKHP6AVIj/h5/Vp8bd/peM79H9Wv8kjoaCivujVXlpbKLjMPeDUhxkFIWtTtLBj3sUzaFj34XE6\
             YZAHc9r2DmE4pMwOAy/kiITcZxa1oHPOeRheC0jP2dqbTll8fmTZVwKZOKHYPtrLJIJQHJjNvxFWeHQjMaR7M="
        );
        let names: Vec<&str> = output.headers().iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["host", "authorization"]);
    }

    #[test]
    fn post_fills_body_headers_and_date() {
        let url =
            Url::parse("https://iaas.us-phoenix-1.oraclecloud.com:8443/20160918/vcns").unwrap();
        let headers = HeaderMap::new();
        let (key, key_id) = (docs_key(), docs_key_id());
        let request = SignableRequest::new(&Method::POST, &url, &headers, SignableBody::Bytes(b""));
        let time = SystemTime::UNIX_EPOCH + Duration::from_secs(1_764_577_800);

        let output = sign(&request, SigningParams::new(&key_id, &key, time)).unwrap();

        assert_eq!(
            output.signing_string(),
            "date: Mon, 01 Dec 2025 08:30:00 GMT\n\
             (request-target): post /20160918/vcns\n\
             host: iaas.us-phoenix-1.oraclecloud.com:8443\n\
             content-length: 0\n\
             content-type: application/json\n\
             x-content-sha256: 47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
        let authorization = output.authorization().unwrap().to_str().unwrap();
        assert!(authorization.starts_with(
            "Signature version=\"1\",headers=\"date (request-target) host content-length \
             content-type x-content-sha256\",keyId=\""
        ));
    }

    #[test]
    fn federation_set_has_no_host_and_unsigned_body_has_no_hash() {
        let post = Method::POST;
        assert!(!HeaderSet::Federation.names(&post).contains(&"host"));
        assert_eq!(
            HeaderSet::UnsignedBody.names(&Method::PUT),
            ["date", REQUEST_TARGET, "host"]
        );
        assert_eq!(HeaderSet::Standard.names(&Method::HEAD).len(), 3);
        assert_eq!(HeaderSet::Standard.names(&Method::PATCH).len(), 6);
    }

    #[test]
    fn refuses_other_methods() {
        let url = Url::parse("https://example.test/").unwrap();
        let headers = HeaderMap::new();
        let (key, key_id) = (docs_key(), docs_key_id());
        let request =
            SignableRequest::new(&Method::OPTIONS, &url, &headers, SignableBody::Bytes(&[]));
        let err = sign(
            &request,
            SigningParams::new(&key_id, &key, SystemTime::UNIX_EPOCH),
        );
        assert!(matches!(err, Err(Error::SignUnsupportedMethod { .. })));
    }

    #[test]
    fn request_target_keeps_wire_encoding() {
        let url = Url::parse("https://h.test/a%20b/c?x=1+2&y=%3A&x=0").unwrap();
        assert_eq!(
            request_target(&Method::DELETE, &url),
            "delete /a%20b/c?x=1+2&y=%3A&x=0"
        );
        let bare = Url::parse("https://h.test").unwrap();
        assert_eq!(request_target(&Method::GET, &bare), "get /");
        assert_eq!(
            host_of(&Url::parse("https://h.test:443/").unwrap()).unwrap(),
            "h.test"
        );
        assert_eq!(
            host_of(&Url::parse("http://[::1]:8080/").unwrap()).unwrap(),
            "[::1]:8080"
        );
    }

    #[test]
    fn session_token_stays_out_of_debug() {
        let url = Url::parse("https://h.test/").unwrap();
        let headers = HeaderMap::new();
        let key = docs_key();
        let key_id = KeyId::from_raw("ST$eyJsecret-token-text");
        let request = SignableRequest::new(&Method::GET, &url, &headers, SignableBody::Bytes(&[]));
        let output = sign(
            &request,
            SigningParams::new(&key_id, &key, SystemTime::UNIX_EPOCH),
        )
        .unwrap();
        assert!(!format!("{output:?}").contains("secret-token-text"));
        assert!(!format!("{key_id:?}{key_id}").contains("secret-token-text"));
    }
}
