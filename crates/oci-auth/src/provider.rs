//! The credential provider trait the API client uses, and the credential snapshot it hands
//! out for each request.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::SystemTime;

use crate::{
    Error, KeyId, Ocid, PrivateKey, Region, SignableRequest, SigningOutput, SigningParams, sign,
};

/// A boxed, `Send` future, so that provider traits stay dyn-compatible.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One consistent (key id, signing key) pair: take one snapshot per request and sign with
/// it, so a refreshed token is never paired with an old key.
///
/// Cloning is cheap. `Debug` shows the key id (session tokens redacted) and fingerprint.
#[derive(Clone)]
pub struct Credentials {
    key_id: KeyId,
    key: Arc<PrivateKey>,
}

impl Credentials {
    /// Pairs a key id with its private key.
    #[must_use]
    pub fn new(key_id: KeyId, key: Arc<PrivateKey>) -> Self {
        Self { key_id, key }
    }

    /// The key id (`ST$…` for session tokens).
    #[must_use]
    pub fn key_id(&self) -> &KeyId {
        &self.key_id
    }

    /// The private key matching the key id.
    #[must_use]
    pub fn private_key(&self) -> &PrivateKey {
        &self.key
    }

    /// Signing parameters for these credentials at `time`.
    pub fn signing_params(&self, time: SystemTime) -> SigningParams<'_> {
        SigningParams::new(&self.key_id, &self.key, time)
    }

    /// Signs `request` at `time` with the standard header set.
    ///
    /// # Errors
    /// As [`sign`].
    pub fn sign(
        &self,
        request: &SignableRequest<'_>,
        time: SystemTime,
    ) -> Result<SigningOutput, Error> {
        sign(request, self.signing_params(time))
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("key_id", &self.key_id)
            .field("key", &self.key)
            .finish()
    }
}

/// Gives the API client credentials for each request.
///
/// Implementations: [`crate::StaticProvider`] (API key), [`crate::SessionTokenProvider`]
/// (`security_token_file`), [`crate::InstancePrincipalProvider`],
/// [`crate::ResourcePrincipalProvider`]; [`crate::AuthConfig::build`] picks one from
/// configuration, and [`crate::ProviderChain`] tries several in order. Use as
/// `Arc<dyn CredentialProvider>`.
///
/// The current time is passed in (the library reads no clock): providers whose tokens
/// expire compare it with the token's `exp`.
pub trait CredentialProvider: Send + Sync + fmt::Debug {
    /// Credentials to sign a request made at `now`, refreshing first when they are expired
    /// or about to be.
    fn credentials(&self, now: SystemTime) -> BoxFuture<'_, Result<Credentials, Error>>;

    /// Forces a refresh (e.g. after a `401`) and returns the new credentials. Providers
    /// without anything to refresh return their credentials unchanged. Concurrent calls
    /// are coalesced: callers that waited for a refresh in progress get its result.
    fn refresh(&self, now: SystemTime) -> BoxFuture<'_, Result<Credentials, Error>>;

    /// The region, when the credentials source knows it (config `region`, IMDS, RP env).
    fn region(&self) -> Option<Region>;

    /// The tenancy OCID, when known.
    fn tenancy(&self) -> Option<Ocid>;
}

/// Credentials that never change: an API key with its key id.
#[derive(Debug, Clone)]
pub struct StaticProvider {
    credentials: Credentials,
    region: Option<Region>,
    tenancy: Option<Ocid>,
}

impl StaticProvider {
    /// A provider always returning `credentials`.
    #[must_use]
    pub fn new(credentials: Credentials) -> Self {
        Self {
            credentials,
            region: None,
            tenancy: None,
        }
    }

    /// Sets the region it reports.
    #[must_use]
    pub fn with_region(mut self, region: Region) -> Self {
        self.region = Some(region);
        self
    }

    /// Sets the tenancy it reports.
    #[must_use]
    pub fn with_tenancy(mut self, tenancy: Ocid) -> Self {
        self.tenancy = Some(tenancy);
        self
    }
}

impl CredentialProvider for StaticProvider {
    fn credentials(&self, _now: SystemTime) -> BoxFuture<'_, Result<Credentials, Error>> {
        Box::pin(std::future::ready(Ok(self.credentials.clone())))
    }

    fn refresh(&self, _now: SystemTime) -> BoxFuture<'_, Result<Credentials, Error>> {
        Box::pin(std::future::ready(Ok(self.credentials.clone())))
    }

    fn region(&self) -> Option<Region> {
        self.region.clone()
    }

    fn tenancy(&self) -> Option<Ocid> {
        self.tenancy.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_keys;

    #[tokio::test]
    async fn static_provider_is_dyn_compatible() {
        let key = Arc::new(PrivateKey::from_pem(test_keys::PKCS1, None).unwrap());
        let credentials = Credentials::new(KeyId::from_raw("t/u/f"), key);
        let provider: Arc<dyn CredentialProvider> =
            Arc::new(StaticProvider::new(credentials).with_region(Region::resolve("iad")));
        let got = provider.credentials(SystemTime::UNIX_EPOCH).await.unwrap();
        assert_eq!(got.key_id().expose(), "t/u/f");
        assert_eq!(
            provider
                .refresh(SystemTime::UNIX_EPOCH)
                .await
                .unwrap()
                .key_id(),
            got.key_id()
        );
        assert_eq!(provider.region().unwrap().as_str(), "us-ashburn-1");
    }
}
