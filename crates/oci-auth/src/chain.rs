//! A provider chain: tries several credential sources in order and keeps the first one that
//! gives credentials (e.g. resource principal, then a config file, then instance principal).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use crate::{BoxFuture, CredentialProvider, Credentials, Error, Ocid, Region};

/// Tries its providers in order until one gives credentials, then sticks with that one:
/// later calls, refreshes, region and tenancy all go to it. A source that failed is not
/// tried again once another one worked, so a chain never switches identity mid-run.
///
/// Until a provider has succeeded, each call tries the whole chain again; when all fail the
/// error lists every provider's own message ([`Error::ChainExhausted`]).
#[derive(Debug)]
pub struct ProviderChain {
    providers: Vec<Arc<dyn CredentialProvider>>,
    chosen: Mutex<Option<usize>>,
}

impl ProviderChain {
    /// A chain trying `providers` in the given order.
    #[must_use]
    pub fn new(providers: Vec<Arc<dyn CredentialProvider>>) -> Self {
        Self {
            providers,
            chosen: Mutex::new(None),
        }
    }

    /// The position of the provider in use, once one has given credentials.
    #[must_use]
    pub fn chosen(&self) -> Option<usize> {
        *self.chosen.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn chosen_provider(&self) -> Option<&Arc<dyn CredentialProvider>> {
        self.chosen().and_then(|index| self.providers.get(index))
    }

    async fn first_that_works(&self, now: SystemTime) -> Result<Credentials, Error> {
        let mut tried = Vec::with_capacity(self.providers.len());

        for (index, provider) in self.providers.iter().enumerate() {
            match provider.credentials(now).await {
                Ok(credentials) => {
                    tracing::debug!(index, "credential chain chose a provider");
                    let index = *self
                        .chosen
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .get_or_insert(index);
                    return match self.providers.get(index) {
                        // Another caller settled on an earlier provider meanwhile.
                        Some(other) if !Arc::ptr_eq(other, provider) => {
                            other.credentials(now).await
                        }
                        _ => Ok(credentials),
                    };
                }
                Err(err) => {
                    tracing::trace!(index, error = %err, "credential source failed");
                    tried.push(err.to_string());
                }
            }
        }

        Err(Error::ChainExhausted { tried })
    }
}

impl CredentialProvider for ProviderChain {
    fn credentials(&self, now: SystemTime) -> BoxFuture<'_, Result<Credentials, Error>> {
        match self.chosen_provider() {
            Some(provider) => provider.credentials(now),
            None => Box::pin(self.first_that_works(now)),
        }
    }

    fn refresh(&self, now: SystemTime) -> BoxFuture<'_, Result<Credentials, Error>> {
        match self.chosen_provider() {
            Some(provider) => provider.refresh(now),
            None => Box::pin(self.first_that_works(now)),
        }
    }

    fn region(&self) -> Option<Region> {
        self.chosen_provider()
            .and_then(|provider| provider.region())
    }

    fn tenancy(&self) -> Option<Ocid> {
        self.chosen_provider()
            .and_then(|provider| provider.tenancy())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::{KeyId, PrivateKey, StaticProvider, test_keys};

    /// Fails until `succeed_from` calls have been made, counting every call.
    #[derive(Debug)]
    struct Flaky {
        calls: AtomicUsize,
        succeed_from: usize,
        inner: StaticProvider,
    }

    impl Flaky {
        fn new(key_id: &str, succeed_from: usize) -> Arc<Self> {
            let key = Arc::new(PrivateKey::from_pem(test_keys::PKCS1, None).unwrap());
            let credentials = Credentials::new(KeyId::from_raw(key_id), key);
            Arc::new(Self {
                calls: AtomicUsize::new(0),
                succeed_from,
                inner: StaticProvider::new(credentials).with_region(Region::resolve("iad")),
            })
        }

        fn calls(&self) -> usize {
            self.calls.load(Ordering::SeqCst)
        }
    }

    impl CredentialProvider for Flaky {
        fn credentials(&self, now: SystemTime) -> BoxFuture<'_, Result<Credentials, Error>> {
            let call = self.calls.fetch_add(1, Ordering::SeqCst);
            if call < self.succeed_from {
                let err = Error::ParseAuthMethod {
                    value: "unavailable".to_owned(),
                };
                return Box::pin(std::future::ready(Err(err)));
            }
            self.inner.credentials(now)
        }

        fn refresh(&self, now: SystemTime) -> BoxFuture<'_, Result<Credentials, Error>> {
            self.credentials(now)
        }

        fn region(&self) -> Option<Region> {
            self.inner.region()
        }

        fn tenancy(&self) -> Option<Ocid> {
            None
        }
    }

    fn key_id(credentials: &Credentials) -> String {
        credentials.key_id().expose().to_owned()
    }

    #[tokio::test]
    async fn the_first_working_provider_is_chosen_and_kept() {
        let broken = Flaky::new("a/broken/00", usize::MAX);
        let works = Flaky::new("b/works/00", 0);
        let later = Flaky::new("c/later/00", 0);
        let chain = ProviderChain::new(vec![broken.clone(), works.clone(), later.clone()]);
        assert_eq!(chain.region(), None, "nothing chosen yet");

        let first = chain.credentials(SystemTime::UNIX_EPOCH).await.unwrap();
        let again = chain.credentials(SystemTime::UNIX_EPOCH).await.unwrap();
        let refreshed = chain.refresh(SystemTime::UNIX_EPOCH).await.unwrap();

        assert_eq!(key_id(&first), "b/works/00");
        assert_eq!(key_id(&again), "b/works/00");
        assert_eq!(key_id(&refreshed), "b/works/00");
        assert_eq!(chain.chosen(), Some(1));
        assert_eq!(
            broken.calls(),
            1,
            "a failed source is not retried once one works"
        );
        assert_eq!(works.calls(), 3);
        assert_eq!(
            later.calls(),
            0,
            "sources after the chosen one are never asked"
        );
        assert_eq!(chain.region().unwrap().as_str(), "us-ashburn-1");
    }

    #[tokio::test]
    async fn when_every_provider_fails_the_error_lists_each_and_the_chain_tries_again() {
        let first = Flaky::new("a/first/00", 2);
        let second = Flaky::new("b/second/00", usize::MAX);
        let chain = ProviderChain::new(vec![first.clone(), second.clone()]);

        let err = chain.credentials(SystemTime::UNIX_EPOCH).await.unwrap_err();
        let Error::ChainExhausted { tried } = &err else {
            panic!("{err:?}");
        };
        assert_eq!(tried.len(), 2);
        assert!(
            err.to_string().contains("every source in the chain failed"),
            "{err}"
        );
        assert!(chain.refresh(SystemTime::UNIX_EPOCH).await.is_err());

        let recovered = chain.credentials(SystemTime::UNIX_EPOCH).await.unwrap();
        assert_eq!(key_id(&recovered), "a/first/00");
        assert_eq!(chain.chosen(), Some(0));
        assert_eq!(second.calls(), 2);

        let empty = ProviderChain::new(Vec::new());
        let err = empty.credentials(SystemTime::UNIX_EPOCH).await.unwrap_err();
        assert!(matches!(err, Error::ChainExhausted { ref tried } if tried.is_empty()));
    }
}
