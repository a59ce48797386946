//! Signing each attempt with credentials from an `oci_auth::CredentialProvider`.

use std::fmt::Debug;
use std::sync::Arc;
use std::time::SystemTime;

use futures::future::BoxFuture;
use oci_auth::{CredentialProvider, KeyId, SignableBody, SignableRequest};

use crate::transport::{BoxError, HttpRequest};

/// Adds authentication to a request about to be sent.
pub(crate) trait Authorizer: Send + Sync + Debug {
    /// Signs `request` as of `now` (a fresh `date` each time), returning the key id used.
    fn authorize<'a>(
        &'a self,
        request: &'a mut HttpRequest,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<Option<KeyId>, BoxError>>;

    /// Forces a credential refresh after a `401`; returns true when the credentials changed
    /// from `used` (so one more attempt is worth it).
    fn refresh<'a>(
        &'a self,
        used: Option<&'a KeyId>,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<bool, BoxError>>;
}

/// Signs with OCI's HTTP signature scheme.
#[derive(Debug)]
pub(crate) struct OciSigner {
    provider: Arc<dyn CredentialProvider>,
}

impl OciSigner {
    pub(crate) fn new(provider: Arc<dyn CredentialProvider>) -> Self {
        Self { provider }
    }
}

impl Authorizer for OciSigner {
    fn authorize<'a>(
        &'a self,
        request: &'a mut HttpRequest,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<Option<KeyId>, BoxError>> {
        Box::pin(async move {
            let credentials = self.provider.credentials(now).await?;

            let output = {
                let view = SignableRequest::new(
                    &request.method,
                    &request.url,
                    &request.headers,
                    SignableBody::Bytes(&request.body),
                );
                credentials.sign(&view, now)?
            };
            output.apply_to(&mut request.headers);

            Ok(Some(credentials.key_id().clone()))
        })
    }

    fn refresh<'a>(
        &'a self,
        used: Option<&'a KeyId>,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<bool, BoxError>> {
        Box::pin(async move {
            let fresh = self.provider.refresh(now).await?;
            Ok(used != Some(fresh.key_id()))
        })
    }
}

/// Adds `Authorization: Bearer Oracle`, which IMDS v2 requires.
#[derive(Debug)]
pub(crate) struct MetadataBearer;

impl Authorizer for MetadataBearer {
    fn authorize<'a>(
        &'a self,
        request: &'a mut HttpRequest,
        _now: SystemTime,
    ) -> BoxFuture<'a, Result<Option<KeyId>, BoxError>> {
        request.headers.insert(
            http::header::AUTHORIZATION,
            http::HeaderValue::from_static("Bearer Oracle"),
        );
        Box::pin(std::future::ready(Ok(None)))
    }

    fn refresh<'a>(
        &'a self,
        _used: Option<&'a KeyId>,
        _now: SystemTime,
    ) -> BoxFuture<'a, Result<bool, BoxError>> {
        Box::pin(std::future::ready(Ok(false)))
    }
}
