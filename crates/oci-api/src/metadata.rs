//! [`MetadataClient`]: the instance metadata service (IMDS v2) of the local instance.

use std::sync::Arc;

use http::Method;

use crate::api::{CallFuture, Metadata};
use crate::auth::MetadataBearer;
use crate::clock::SystemClock;
use crate::endpoint::MetadataEndpoint;
use crate::exec::{Call, Executor};
use crate::model::{ImdsInstance, ImdsShapeConfig, ImdsVnic, RegionInfo};
use crate::observe::{NoopObserver, Observer};
use crate::ratelimit::RateLimits;
use crate::retry::RetryPolicy;
use crate::transport::{ReqwestTransport, Timeouts, Transport};
use crate::{Error, Operation};

/// Reads the instance metadata service with `Authorization: Bearer Oracle`.
///
/// IMDS is throttled; Oracle advises up to 3 tries on 404, 429 and 5xx, so the default
/// policy makes 3 attempts and also retries 404 (unlike the Core API). Cache what you read.
///
/// ```no_run
/// use oci_api::prelude::*;
/// use oci_api::{Endpoint, MetadataClient, MetadataEndpoint};
///
/// # async fn example() -> Result<(), oci_api::Error> {
/// let imds = MetadataClient::builder().endpoint(MetadataEndpoint::default()).build()?;
/// let region = imds.region_info().await?;
/// let endpoint = Endpoint::from_region_info(&region)?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct MetadataClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    endpoint: MetadataEndpoint,
    executor: Executor,
}

impl MetadataClient {
    /// Starts building a metadata client.
    pub fn builder() -> MetadataClientBuilder {
        MetadataClientBuilder::default()
    }

    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        operation: Operation,
        path: &[&str],
    ) -> Result<T, Error> {
        let url = self.inner.endpoint.join(path);
        let answer = self
            .inner
            .executor
            .execute(Call::new(operation, Method::GET, url))
            .await?;
        answer.decode()
    }
}

impl Metadata for MetadataClient {
    fn instance(&self) -> CallFuture<'_, ImdsInstance> {
        Box::pin(self.get(Operation::MetadataInstance, &["instance", ""]))
    }

    fn vnics(&self) -> CallFuture<'_, Vec<ImdsVnic>> {
        Box::pin(self.get(Operation::MetadataVnics, &["vnics", ""]))
    }

    fn region_info(&self) -> CallFuture<'_, RegionInfo> {
        Box::pin(self.get(Operation::MetadataRegionInfo, &["instance", "regionInfo"]))
    }

    fn shape_config(&self) -> CallFuture<'_, ImdsShapeConfig> {
        Box::pin(self.get(Operation::MetadataShapeConfig, &["instance", "shapeConfig"]))
    }
}

/// Builds a [`MetadataClient`].
#[derive(Debug, Default)]
#[must_use]
pub struct MetadataClientBuilder {
    endpoint: Option<MetadataEndpoint>,
    transport: Option<Arc<dyn Transport>>,
    observer: Option<Arc<dyn Observer>>,
    retry: Option<RetryPolicy>,
    timeouts: Option<Timeouts>,
}

impl MetadataClientBuilder {
    /// The IMDS base URL (default `http://169.254.169.254/opc/v2/`).
    pub fn endpoint(mut self, endpoint: MetadataEndpoint) -> Self {
        self.endpoint = Some(endpoint);
        self
    }

    /// Retry policy (default: 3 attempts, 1 s doubling, 30 s in total).
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }

    /// Receives one record per call and per retry.
    pub fn observer(mut self, observer: Arc<dyn Observer>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Timeouts of the built-in transport (default 10 s connect, 30 s per request).
    pub fn timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = Some(timeouts);
        self
    }

    /// Replaces the HTTP transport.
    pub fn transport(mut self, transport: Arc<dyn Transport>) -> Self {
        self.transport = Some(transport);
        self
    }

    /// Builds the client.
    ///
    /// # Errors
    /// [`Error::BuildClient`] when the HTTP transport cannot be set up.
    pub fn build(self) -> Result<MetadataClient, Error> {
        let endpoint = self.endpoint.unwrap_or_default();

        let transport: Arc<dyn Transport> = match self.transport {
            Some(transport) => transport,
            None => {
                let timeouts = self.timeouts.unwrap_or(Timeouts {
                    connect: std::time::Duration::from_secs(10),
                    request: std::time::Duration::from_secs(30),
                });
                Arc::new(ReqwestTransport::new(timeouts, &[])?)
            }
        };
        let retry = self.retry.unwrap_or_else(|| {
            RetryPolicy::new(
                3,
                std::time::Duration::from_secs(1),
                std::time::Duration::from_secs(4),
                std::time::Duration::from_secs(30),
            )
        });

        let executor = Executor::new(
            transport,
            Some(Arc::new(MetadataBearer)),
            Arc::new(SystemClock),
            retry,
            &RateLimits::unlimited(),
            self.observer.unwrap_or_else(|| Arc::new(NoopObserver)),
            endpoint.origin(),
        );

        Ok(MetadataClient {
            inner: Arc::new(Inner { endpoint, executor }),
        })
    }
}
