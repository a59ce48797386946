//! The small HTTP transport used for IMDS and federation calls, so embedders can bring
//! their own client; a reqwest (rustls) implementation sits behind the `reqwest` feature.

use std::fmt;

use crate::{BoxError, BoxFuture};

/// Sends one HTTP request and returns the whole response.
///
/// Implementations must not follow redirects to other hosts and should apply timeouts.
pub trait HttpTransport: Send + Sync + fmt::Debug {
    /// Sends `request`; a non-2xx status is a normal response, not an error.
    fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> BoxFuture<'_, Result<http::Response<Vec<u8>>, BoxError>>;
}

#[cfg(feature = "reqwest")]
pub use self::reqwest_transport::ReqwestTransport;

#[cfg(feature = "reqwest")]
mod reqwest_transport {
    //! [`HttpTransport`] over `reqwest` with rustls.

    use std::time::Duration;

    use super::HttpTransport;
    use crate::{BoxError, BoxFuture, Error};

    /// Connect timeout for metadata and federation calls (as the Python SDK).
    const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
    /// Whole-request timeout.
    const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

    /// A reqwest client with rustls, 10 s connect and 60 s request timeouts, no redirects
    /// and no proxy (metadata is link-local).
    #[derive(Debug, Clone)]
    pub struct ReqwestTransport {
        client: reqwest::Client,
    }

    impl ReqwestTransport {
        /// Builds the default client.
        ///
        /// # Errors
        /// [`Error::BuildTransport`] if reqwest cannot build a client (TLS backend failure).
        pub fn new() -> Result<Self, Error> {
            let client = reqwest::Client::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .timeout(REQUEST_TIMEOUT)
                .redirect(reqwest::redirect::Policy::none())
                .no_proxy()
                .build()
                .map_err(|source| Error::BuildTransport {
                    source: Box::new(source),
                })?;
            Ok(Self { client })
        }

        /// Wraps a client configured by the caller.
        #[must_use]
        pub fn from_client(client: reqwest::Client) -> Self {
            Self { client }
        }
    }

    impl HttpTransport for ReqwestTransport {
        fn send(
            &self,
            request: http::Request<Vec<u8>>,
        ) -> BoxFuture<'_, Result<http::Response<Vec<u8>>, BoxError>> {
            Box::pin(async move {
                let request = reqwest::Request::try_from(request)?;
                let response = self.client.execute(request).await?;

                let mut builder = http::Response::builder().status(response.status());
                for (name, value) in response.headers() {
                    builder = builder.header(name, value);
                }
                let body = response.bytes().await?.to_vec();
                Ok(builder.body(body)?)
            })
        }
    }
}
