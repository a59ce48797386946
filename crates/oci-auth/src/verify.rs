//! The receiving side: parse an OCI `Authorization: Signature …` header, rebuild the signing
//! string from a received request and check the RSA-SHA256 signature (used by simulators).

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::header::{AUTHORIZATION, HOST};
use http::{HeaderMap, Method};

use crate::signer::{BodyDigest, HeaderSet, REQUEST_TARGET, X_CONTENT_SHA256};
use crate::{Error, KeyId, PublicKey};

/// A parsed `Authorization: Signature …` header. Parameter order does not matter (Python
/// and Go emit different orders); unknown parameters are ignored.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthorizationHeader {
    version: Option<String>,
    key_id: KeyId,
    algorithm: String,
    headers: Vec<String>,
    signature: Vec<u8>,
}

impl AuthorizationHeader {
    /// The `version` parameter, if sent (`"1"`; absent means version 1).
    #[must_use]
    pub fn version(&self) -> Option<&str> {
        self.version.as_deref()
    }

    /// The `keyId` parameter.
    #[must_use]
    pub fn key_id(&self) -> &KeyId {
        &self.key_id
    }

    /// The `algorithm` parameter (OCI uses `rsa-sha256`).
    #[must_use]
    pub fn algorithm(&self) -> &str {
        &self.algorithm
    }

    /// The signed header names, lower-cased, in signing order.
    #[must_use]
    pub fn headers(&self) -> &[String] {
        &self.headers
    }

    /// The decoded signature bytes.
    #[must_use]
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }

    /// The names that `header_set` requires for `method` and this header does not list.
    #[must_use]
    pub fn missing_required(&self, method: &Method, header_set: HeaderSet) -> Vec<&'static str> {
        header_set
            .names(method)
            .iter()
            .copied()
            .filter(|name| !self.headers.iter().any(|signed| signed == name))
            .collect()
    }
}

impl FromStr for AuthorizationHeader {
    type Err = Error;

    fn from_str(value: &str) -> Result<Self, Error> {
        let fail = |reason: &str| Error::ParseAuthorization {
            reason: reason.to_owned(),
        };
        let value = value.trim();
        let (scheme, params) = value.split_once(' ').ok_or_else(|| fail("no parameters"))?;
        if !scheme.eq_ignore_ascii_case("Signature") {
            return Err(fail("the auth scheme is not Signature"));
        }

        let mut version = None;
        let mut key_id = None;
        let mut algorithm = None;
        let mut headers = None;
        let mut signature = None;
        for (name, param) in parse_params(params)? {
            let slot = match name.as_str() {
                "version" => &mut version,
                "keyId" => &mut key_id,
                "algorithm" => &mut algorithm,
                "headers" => &mut headers,
                "signature" => &mut signature,
                _ => continue,
            };
            if slot.replace(param).is_some() {
                return Err(Error::ParseAuthorization {
                    reason: format!("parameter {name} appears twice"),
                });
            }
        }

        let key_id = key_id.ok_or_else(|| fail("keyId is missing"))?;
        let algorithm = algorithm.ok_or_else(|| fail("algorithm is missing"))?;
        let signature = signature.ok_or_else(|| fail("signature is missing"))?;
        let signature = STANDARD
            .decode(signature.as_bytes())
            .map_err(|_| fail("signature is not base64"))?;
        // draft-cavage: an absent headers parameter means just `date`.
        let headers = headers.unwrap_or_else(|| "date".to_owned());
        let headers = headers
            .split_ascii_whitespace()
            .map(str::to_ascii_lowercase)
            .collect();

        Ok(Self {
            version,
            key_id: KeyId::from_raw(key_id),
            algorithm,
            headers,
            signature,
        })
    }
}

impl fmt::Debug for AuthorizationHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizationHeader")
            .field("version", &self.version)
            .field("key_id", &self.key_id)
            .field("algorithm", &self.algorithm)
            .field("headers", &self.headers)
            .field("signature_len", &self.signature.len())
            .finish()
    }
}

/// A request as a server received it: method, request-target (path and query exactly as
/// on the wire) and headers (which must include `host` when it is signed).
#[derive(Debug, Clone, Copy)]
pub struct ReceivedRequest<'a> {
    method: &'a Method,
    path_and_query: &'a str,
    headers: &'a HeaderMap,
}

impl<'a> ReceivedRequest<'a> {
    /// A view of a received request. `path_and_query` is the raw request-target, e.g.
    /// `/20160918/vnics?limit=10` (`http::Uri::path_and_query` gives it).
    #[must_use]
    pub fn new(method: &'a Method, path_and_query: &'a str, headers: &'a HeaderMap) -> Self {
        Self {
            method,
            path_and_query,
            headers,
        }
    }

    /// Parses the request's `Authorization` header.
    ///
    /// # Errors
    /// [`Error::ParseAuthorization`] when it is absent or malformed.
    pub fn authorization(&self) -> Result<AuthorizationHeader, Error> {
        let value = self
            .headers
            .get(AUTHORIZATION)
            .ok_or_else(|| Error::ParseAuthorization {
                reason: "the request has no Authorization header".to_owned(),
            })?;
        let text = value.to_str().map_err(|_| Error::ParseAuthorization {
            reason: "the Authorization header is not visible ASCII".to_owned(),
        })?;
        text.parse()
    }

    /// Rebuilds the signing string for the header names `names` (as listed in the
    /// `headers` parameter): `(request-target)` from method and path, every other name from
    /// the header of that name, value bytes as received.
    ///
    /// # Errors
    /// [`Error::BuildSigningStringMissingHeader`] when a listed header is absent.
    pub fn signing_string(&self, names: &[impl AsRef<str>]) -> Result<Vec<u8>, Error> {
        let mut out = Vec::with_capacity(256);
        for (index, name) in names.iter().enumerate() {
            let name = name.as_ref();
            if index > 0 {
                out.push(b'\n');
            }
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            if name == REQUEST_TARGET {
                out.extend_from_slice(self.method.as_str().to_ascii_lowercase().as_bytes());
                out.push(b' ');
                out.extend_from_slice(self.path_and_query.as_bytes());
                continue;
            }
            let value =
                self.headers
                    .get(name)
                    .ok_or_else(|| Error::BuildSigningStringMissingHeader {
                        name: name.to_owned(),
                    })?;
            out.extend_from_slice(value.as_bytes());
        }
        Ok(out)
    }

    /// Verifies `authorization` against this request and `public_key`: the algorithm must
    /// be `rsa-sha256`, and the signature must match the rebuilt signing string.
    ///
    /// This does not check which headers are covered (see
    /// [`AuthorizationHeader::missing_required`]), the `date` skew, or the body hash (see
    /// [`ReceivedRequest::check_body`]); a server does those as its policy requires.
    ///
    /// # Errors
    /// [`Error::ParseAuthorization`] for another algorithm,
    /// [`Error::BuildSigningStringMissingHeader`] for an absent signed header,
    /// [`Error::VerifySignature`] for a signature that does not match.
    pub fn verify(
        &self,
        authorization: &AuthorizationHeader,
        public_key: &PublicKey,
    ) -> Result<(), Error> {
        if !authorization.algorithm().eq_ignore_ascii_case("rsa-sha256") {
            return Err(Error::ParseAuthorization {
                reason: format!(
                    "algorithm {:?} is not rsa-sha256",
                    authorization.algorithm()
                ),
            });
        }

        let signing_string = self.signing_string(authorization.headers())?;
        if public_key.verify_sha256(&signing_string, authorization.signature()) {
            Ok(())
        } else {
            Err(Error::VerifySignature {
                key_id: authorization.key_id().clone(),
            })
        }
    }

    /// Checks that `content-length` and `x-content-sha256`, when present, match `body`.
    ///
    /// # Errors
    /// [`Error::VerifyBody`] naming the header that does not match.
    pub fn check_body(&self, body: &[u8]) -> Result<(), Error> {
        let digest = BodyDigest::of(body);
        let expected = [
            (http::header::CONTENT_LENGTH, digest.length().to_string()),
            (X_CONTENT_SHA256, digest.sha256_base64().to_owned()),
        ];
        for (name, want) in expected {
            if self
                .headers
                .get(&name)
                .is_some_and(|got| got.as_bytes() != want.as_bytes())
            {
                return Err(Error::VerifyBody {
                    header: name.as_str().to_owned(),
                });
            }
        }
        Ok(())
    }

    /// The `host` header as received, if any.
    #[must_use]
    pub fn host(&self) -> Option<&str> {
        self.headers.get(HOST).and_then(|value| value.to_str().ok())
    }
}

/// Splits `name="value",name="value"` (commas inside quotes allowed; unquoted values too).
fn parse_params(text: &str) -> Result<Vec<(String, String)>, Error> {
    let fail = |reason: &str| Error::ParseAuthorization {
        reason: reason.to_owned(),
    };
    let mut params = Vec::new();
    let mut rest = text.trim();

    while !rest.is_empty() {
        let (name, after) = rest
            .split_once('=')
            .ok_or_else(|| fail("a parameter has no '='"))?;
        let name = name.trim().to_owned();
        let after = after.trim_start();

        let (value, remainder) = if let Some(quoted) = after.strip_prefix('"') {
            let end = quoted
                .find('"')
                .ok_or_else(|| fail("a quoted value is not closed"))?;
            (&quoted[..end], &quoted[end + 1..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].trim(), &after[end..])
        };
        params.push((name, value.to_owned()));

        let remainder = remainder.trim_start();
        rest = match remainder.strip_prefix(',') {
            Some(next) => next.trim_start(),
            None if remainder.is_empty() => remainder,
            None => return Err(fail("parameters must be separated by ','")),
        };
    }

    Ok(params)
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use http::HeaderValue;
    use url::Url;

    use super::*;
    use crate::{PrivateKey, SignableBody, SignableRequest, SigningParams, sign, test_keys};

    #[test]
    fn parses_both_parameter_orders() {
        let go = "Signature version=\"1\",headers=\"date (request-target) host\",keyId=\"a/b/c\",\
                  algorithm=\"rsa-sha256\",signature=\"AAEC\"";
        let python = "Signature algorithm=\"rsa-sha256\",headers=\"date (request-target) host\",\
                      keyId=\"a/b/c\",signature=\"AAEC\",version=\"1\"";
        let go: AuthorizationHeader = go.parse().unwrap();
        let python: AuthorizationHeader = python.parse().unwrap();
        assert_eq!(go, python);
        assert_eq!(go.headers(), ["date", "(request-target)", "host"]);
        assert_eq!(go.signature(), [0, 1, 2]);
        assert_eq!(go.version(), Some("1"));
        assert_eq!(go.key_id().expose(), "a/b/c");
    }

    #[test]
    fn rejects_malformed_headers() {
        for bad in [
            "",
            "Bearer abc",
            "Signature keyId=\"a\"",
            "Signature keyId=\"a\",algorithm=\"rsa-sha256\",signature=\"!!\"",
            "Signature keyId=\"a\",keyId=\"b\",algorithm=\"x\",signature=\"AA==\"",
            "Signature keyId=\"a",
        ] {
            assert!(bad.parse::<AuthorizationHeader>().is_err(), "{bad}");
        }
    }

    #[test]
    fn verifies_what_sign_produced_and_rejects_tampering() {
        let key = PrivateKey::from_pem(test_keys::PKCS1, None).unwrap();
        let key_id = KeyId::from_raw("ocid1.tenancy.oc1..a/ocid1.user.oc1..b/31:27");
        let url = Url::parse("http://127.0.0.1:8080/20160918/vnics?limit=5").unwrap();
        let mut headers = HeaderMap::new();
        let body = br#"{"displayName":"x"}"#;
        let request =
            SignableRequest::new(&Method::POST, &url, &headers, SignableBody::Bytes(body));
        let output = sign(
            &request,
            SigningParams::new(&key_id, &key, SystemTime::UNIX_EPOCH),
        )
        .unwrap();
        output.apply_to(&mut headers);

        let received = ReceivedRequest::new(&Method::POST, "/20160918/vnics?limit=5", &headers);
        let authorization = received.authorization().unwrap();
        assert!(
            authorization
                .missing_required(&Method::POST, HeaderSet::Standard)
                .is_empty()
        );
        received.verify(&authorization, key.public_key()).unwrap();
        received.check_body(body).unwrap();
        assert!(matches!(
            received.check_body(b"{}"),
            Err(Error::VerifyBody { .. })
        ));

        let moved = ReceivedRequest::new(&Method::POST, "/20160918/vnics?limit=6", &headers);
        assert!(matches!(
            moved.verify(&authorization, key.public_key()),
            Err(Error::VerifySignature { .. })
        ));

        headers.insert(HOST, HeaderValue::from_static("127.0.0.1:8081"));
        let rehosted = ReceivedRequest::new(&Method::POST, "/20160918/vnics?limit=5", &headers);
        assert!(rehosted.verify(&authorization, key.public_key()).is_err());

        headers.remove(HOST);
        let hostless = ReceivedRequest::new(&Method::POST, "/20160918/vnics?limit=5", &headers);
        assert!(matches!(
            hostless.verify(&authorization, key.public_key()),
            Err(Error::BuildSigningStringMissingHeader { .. })
        ));
    }
}
