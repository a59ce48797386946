//! Building the OCI client from the configuration: endpoint, rate limits, metrics observer.

use std::sync::Arc;

use oci_api::{CallRecord, Endpoint, Observer, RateLimit, RateLimits, RetryPolicy, RetryRecord};
use oci_auth::CredentialProvider;

use crate::config::{Bucket, Config};
use crate::error::Error;
use crate::metrics::Metrics;

/// Builds the OCI client the operator uses.
///
/// The endpoint is `--oci-endpoint` when given (plain `http://` only to loopback hosts, as a
/// stand-in uses; `oci-api` refuses it elsewhere), else the regional endpoint of `region` (from the flag or the credentials)
/// in the realm `realm`.
///
/// # Errors
///
/// [`Error::BuildOciClient`] naming what is wrong.
pub fn build(
    config: &Config,
    credentials: Arc<dyn CredentialProvider>,
    region: Option<&str>,
    realm: &str,
    metrics: Arc<Metrics>,
    retry: RetryPolicy,
) -> Result<oci_api::Client, Error> {
    let fail = |source: oci_api::Error| Error::BuildOciClient {
        source: Box::new(source),
    };

    let endpoint = match (
        &config.endpoints.oci_api,
        config.region.as_ref().map(|r| r.as_str()).or(region),
    ) {
        (Some(url), _) => Endpoint::parse(url).map_err(fail)?,
        (None, Some(region)) => Endpoint::for_region(region, realm).map_err(fail)?,
        (None, None) => {
            return Err(Error::BuildOciClient {
                source: "no region: set --oci-region or use credentials that name one".into(),
            });
        }
    };

    oci_api::Client::builder()
        .endpoint(endpoint)
        .credentials(credentials)
        .rate_limits(rate_limits(config))
        .retry_policy(retry)
        .observer(Arc::new(MetricsObserver { metrics }))
        .build()
        .map_err(fail)
}

/// The client-side rate limits of `config`.
#[must_use]
pub fn rate_limits(config: &Config) -> RateLimits {
    let limit = |bucket: Bucket| Some(RateLimit::new(bucket.qps, bucket.burst));
    let mut limits = RateLimits::unlimited();
    limits.read = limit(config.rate_limits.read);
    limits.private_ip_write = limit(config.rate_limits.private_ip_write);
    limits.vnic_attach = limit(config.rate_limits.vnic_attach);
    limits
}

/// Feeds every OCI call into the Prometheus metrics and the debug log.
#[derive(Debug)]
struct MetricsObserver {
    metrics: Arc<Metrics>,
}

impl Observer for MetricsObserver {
    fn call_finished(&self, call: &CallRecord<'_>) {
        let code = call
            .status
            .map_or_else(|| "error".to_owned(), |status| status.to_string());
        self.metrics
            .observe_api_call(call.operation.name(), &code, call.duration);
        if !call.rate_limit_wait.is_zero() {
            self.metrics
                .observe_rate_limit_wait(call.operation.name(), call.rate_limit_wait);
        }
        tracing::trace!(
            operation = call.operation.name(),
            status = call.status,
            request_id = call.request_id,
            attempts = call.attempts,
            "OCI call finished"
        );
    }

    fn retrying(&self, retry: &RetryRecord<'_>) {
        tracing::debug!(
            operation = retry.operation.name(),
            attempt = retry.attempt,
            status = retry.status,
            code = retry.code,
            request_id = retry.request_id,
            delay = ?retry.delay,
            "retrying OCI call"
        );
    }
}
