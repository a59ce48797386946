//! The HTTP layer under the client: one request in, one response out.
//!
//! [`ReqwestTransport`] (rustls, certificate verification always on) is the default. Tests
//! and embedders may supply their own [`Transport`].

use std::fmt::{self, Debug};
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use http::{HeaderMap, Method, StatusCode};
use url::Url;

use crate::Error;

/// A boxed error from a transport.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A fully built request, signed when it reaches the transport.
///
/// `Debug` leaves out the `authorization` value (its key id may carry a session token) and
/// shows the body by length only.
#[derive(Clone)]
#[non_exhaustive]
pub struct HttpRequest {
    /// Method.
    pub method: Method,
    /// Absolute URL, already percent-encoded (it is what was signed).
    pub url: Url,
    /// Headers to send.
    pub headers: HeaderMap,
    /// Body bytes (empty for GET and DELETE).
    pub body: Bytes,
}

impl HttpRequest {
    /// A request without headers or body.
    #[must_use]
    pub fn new(method: Method, url: Url) -> Self {
        Self {
            method,
            url,
            headers: HeaderMap::new(),
            body: Bytes::new(),
        }
    }
}

impl fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(name, value)| {
                let shown = if name == http::header::AUTHORIZATION {
                    "<redacted>"
                } else {
                    value.to_str().unwrap_or("<binary>")
                };
                (name.as_str(), shown)
            })
            .collect();

        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("url", &self.url.as_str())
            .field("headers", &headers)
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// The answer to an [`HttpRequest`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HttpResponse {
    /// Status.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// Body bytes.
    pub body: Bytes,
}

impl HttpResponse {
    /// A response with the given parts.
    #[must_use]
    pub fn new(status: StatusCode, headers: HeaderMap, body: Bytes) -> Self {
        Self {
            status,
            headers,
            body,
        }
    }
}

/// Sends requests. An `Err` means no HTTP answer was received (connection, TLS, timeout);
/// the client retries those.
pub trait Transport: Send + Sync + Debug {
    /// Sends `request` and reads the whole response.
    fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, BoxError>>;
}

/// Timeouts of the built-in transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Timeouts {
    /// TCP + TLS connection set-up.
    pub connect: Duration,
    /// One whole request, from sending to the last byte of the response.
    pub request: Duration,
}

impl Timeouts {
    /// `connect` for connection set-up, `request` for a whole request.
    #[must_use]
    pub fn new(connect: Duration, request: Duration) -> Self {
        Self { connect, request }
    }
}

impl Default for Timeouts {
    /// 10 s to connect and 60 s per request, as the SDKs.
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(10),
            request: Duration::from_secs(60),
        }
    }
}

/// The default transport: reqwest over rustls with webpki roots, certificate verification
/// always on, HTTP/1.1 connection pooling.
#[derive(Debug, Clone)]
pub struct ReqwestTransport {
    client: reqwest::Client,
}

impl ReqwestTransport {
    /// A transport with these timeouts, trusting the webpki roots plus `extra_roots_pem`
    /// (PEM certificates of a private CA, e.g. for a private endpoint).
    ///
    /// # Errors
    /// [`Error::BuildClient`] when a PEM certificate does not parse or TLS cannot be set up.
    pub fn new(timeouts: Timeouts, extra_roots_pem: &[Vec<u8>]) -> Result<Self, Error> {
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .https_only(false)
            .connect_timeout(timeouts.connect)
            .timeout(timeouts.request)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("oci-ipam-oci-api/", env!("CARGO_PKG_VERSION")));

        for pem in extra_roots_pem {
            let certificate =
                reqwest::Certificate::from_pem(pem).map_err(|e| Error::BuildClient {
                    reason: "an extra root certificate is not a PEM certificate".to_owned(),
                    source: Some(Box::new(e)),
                })?;
            builder = builder.add_root_certificate(certificate);
        }

        let client = builder.build().map_err(|e| Error::BuildClient {
            reason: "the HTTP client (rustls) could not be initialised".to_owned(),
            source: Some(Box::new(e)),
        })?;

        Ok(Self { client })
    }
}

impl Transport for ReqwestTransport {
    fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, BoxError>> {
        Box::pin(async move {
            let mut outgoing = reqwest::Request::new(request.method, request.url);
            *outgoing.headers_mut() = request.headers;
            if !request.body.is_empty() {
                *outgoing.body_mut() = Some(reqwest::Body::from(request.body));
            }

            let response = self.client.execute(outgoing).await?;

            let status = response.status();
            let headers = response.headers().clone();
            let body = response.bytes().await?;

            Ok(HttpResponse {
                status,
                headers,
                body,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_debug_hides_the_authorization_value() {
        let url = Url::parse("http://127.0.0.1:1/20160918/vnics/x").unwrap();
        let mut request = HttpRequest::new(Method::GET, url);
        request.headers.insert(
            http::header::AUTHORIZATION,
            http::HeaderValue::from_static("Signature keyId=\"ST$secret-session-token\""),
        );
        request
            .headers
            .insert("opc-retry-token", http::HeaderValue::from_static("tok-1"));
        request.body = Bytes::from_static(b"{\"secret\": 1}");

        let text = format!("{request:?}");

        assert!(!text.contains("secret"), "{text}");
        assert!(
            text.contains("<redacted>") && text.contains("tok-1"),
            "{text}"
        );
        assert!(text.contains("body_len: 13"), "{text}");
    }
}
