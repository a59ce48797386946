//! The call loop shared by every operation: rate limit, sign, send, classify, retry, observe.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use oci_auth::KeyId;
use serde::de::DeserializeOwned;
use tokio::time::Instant;
use url::Url;

use crate::auth::Authorizer;
use crate::clock::Clock;
use crate::model::Page;
use crate::observe::{CallRecord, Observer, RetryRecord};
use crate::ratelimit::{RateLimits, TokenBucket};
use crate::retry::{RetryPolicy, is_retryable_status};
use crate::transport::{HttpRequest, HttpResponse, Transport};
use crate::{Error, Operation, OperationClass};

/// `opc-request-id`.
pub(crate) const OPC_REQUEST_ID: HeaderName = HeaderName::from_static("opc-request-id");
/// `opc-retry-token`.
pub(crate) const OPC_RETRY_TOKEN: HeaderName = HeaderName::from_static("opc-retry-token");
/// `opc-next-page`.
pub(crate) const OPC_NEXT_PAGE: HeaderName = HeaderName::from_static("opc-next-page");
/// `opc-client-retries`, sent (as the SDKs do) on every attempt after the first.
const OPC_CLIENT_RETRIES: HeaderName = HeaderName::from_static("opc-client-retries");

/// One logical call, as built by an operation.
#[derive(Debug)]
pub(crate) struct Call {
    pub(crate) operation: Operation,
    pub(crate) method: Method,
    pub(crate) url: Url,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

impl Call {
    /// A call without body.
    pub(crate) fn new(operation: Operation, method: Method, url: Url) -> Self {
        Self {
            operation,
            method,
            url,
            headers: HeaderMap::new(),
            body: Bytes::new(),
        }
    }

    /// Adds a JSON body.
    pub(crate) fn json<B: serde::Serialize>(mut self, body: &B) -> Result<Self, Error> {
        let bytes = serde_json::to_vec(body).map_err(|source| Error::EncodeRequest {
            operation: self.operation,
            source,
        })?;

        self.headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        self.body = Bytes::from(bytes);
        Ok(self)
    }

    /// Adds a header whose value is known to be valid.
    pub(crate) fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.insert(name, value);
        self
    }
}

/// A successful answer.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) operation: Operation,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
    pub(crate) request_id: Option<String>,
}

impl Answer {
    /// Decodes the body as `T`.
    pub(crate) fn decode<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_slice(&self.body).map_err(|source| Error::DecodeResponse {
            operation: self.operation,
            request_id: self.request_id.clone(),
            source,
        })
    }

    /// Decodes a list answer: a JSON array plus `opc-next-page`.
    pub(crate) fn page<T: DeserializeOwned>(&self) -> Result<Page<T>, Error> {
        let items = self.decode()?;
        let next_page = header_text(&self.headers, &OPC_NEXT_PAGE);
        Ok(Page::new(items, next_page))
    }
}

/// Runs calls: everything but building the request and decoding the answer.
#[derive(Debug)]
pub(crate) struct Executor {
    pub(crate) transport: Arc<dyn Transport>,
    pub(crate) authorizer: Option<Arc<dyn Authorizer>>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) retry: RetryPolicy,
    pub(crate) observer: Arc<dyn Observer>,
    pub(crate) origin: String,
    buckets: Buckets,
}

#[derive(Debug)]
struct Buckets {
    read: Option<TokenBucket>,
    private_ip_write: Option<TokenBucket>,
    vnic_attach: Option<TokenBucket>,
}

/// What the attempts of one call have done so far.
#[derive(Debug, Default)]
struct Progress {
    attempts: u32,
    rate_limit_wait: Duration,
    status: Option<u16>,
    request_id: Option<String>,
}

/// How one attempt ended, when it did not succeed.
enum Failure {
    Answered(Error),
    Unanswered(Error),
}

impl Executor {
    pub(crate) fn new(
        transport: Arc<dyn Transport>,
        authorizer: Option<Arc<dyn Authorizer>>,
        clock: Arc<dyn Clock>,
        retry: RetryPolicy,
        limits: &RateLimits,
        observer: Arc<dyn Observer>,
        origin: String,
    ) -> Self {
        let bucket = |class| limits.for_class(class).map(TokenBucket::new);
        let buckets = Buckets {
            read: bucket(OperationClass::Read),
            private_ip_write: bucket(OperationClass::PrivateIpWrite),
            vnic_attach: bucket(OperationClass::VnicAttach),
        };

        Self {
            transport,
            authorizer,
            clock,
            retry,
            observer,
            origin,
            buckets,
        }
    }

    /// Runs `call` to a successful answer or a final error, observing it.
    pub(crate) async fn execute(&self, call: Call) -> Result<Answer, Error> {
        let started = Instant::now();
        let mut progress = Progress::default();

        let result = self.attempts(&call, started, &mut progress).await;

        let attempts = progress.attempts;
        let record = CallRecord {
            operation: call.operation,
            class: call.operation.class(),
            duration: started.elapsed(),
            rate_limit_wait: progress.rate_limit_wait,
            attempts,
            status: progress.status,
            request_id: progress.request_id.as_deref(),
            error: result.as_ref().err(),
        };
        self.observer.call_finished(&record);

        match &result {
            Ok(_) => tracing::debug!(
                operation = %call.operation,
                attempts,
                request_id = progress.request_id.as_deref().unwrap_or(""),
                elapsed_ms = record.duration.as_millis() as u64,
                "OCI call succeeded"
            ),
            Err(err) => tracing::debug!(
                operation = %call.operation,
                attempts,
                request_id = err.request_id().unwrap_or(""),
                error = err as &dyn std::error::Error,
                "OCI call failed"
            ),
        }

        result
    }

    async fn attempts(
        &self,
        call: &Call,
        started: Instant,
        progress: &mut Progress,
    ) -> Result<Answer, Error> {
        let operation = call.operation;
        let mut refreshed = false;

        loop {
            progress.attempts += 1;
            let attempts = progress.attempts;
            progress.rate_limit_wait += self.acquire(operation.class()).await;

            let (request, key_id) = self.prepare(call, attempts).await?;

            let failure = match self.transport.send(request).await {
                Ok(response) => {
                    progress.status = Some(response.status.as_u16());
                    progress.request_id = header_text(&response.headers, &OPC_REQUEST_ID);

                    if response.status.is_success() {
                        return Ok(Answer {
                            operation,
                            headers: response.headers,
                            body: response.body,
                            request_id: progress.request_id.clone(),
                        });
                    }

                    if response.status == http::StatusCode::NOT_FOUND
                        && call.method == Method::DELETE
                        && attempts > 1
                    {
                        // An earlier attempt may have deleted it before its answer was lost:
                        // for a delete, "gone" is the outcome asked for.
                        tracing::debug!(
                            operation = %operation,
                            attempt = attempts,
                            request_id = progress.request_id.as_deref().unwrap_or(""),
                            "404 on a retried delete: already gone"
                        );
                        return Ok(Answer {
                            operation,
                            headers: response.headers,
                            body: bytes::Bytes::new(),
                            request_id: progress.request_id.clone(),
                        });
                    }

                    let error = service_error(operation, &response, attempts);

                    if response.status.as_u16() == 401 && !refreshed {
                        refreshed = true;
                        if self.refresh(operation, key_id.as_ref()).await? {
                            tracing::debug!(
                                operation = %operation,
                                request_id = progress.request_id.as_deref().unwrap_or(""),
                                "401 answered; credentials refreshed, retrying once"
                            );
                            continue;
                        }
                    }

                    Failure::Answered(error)
                }
                Err(source) => {
                    progress.status = None;
                    progress.request_id = None;
                    Failure::Unanswered(Error::Transport {
                        operation,
                        endpoint: self.origin.clone(),
                        attempts,
                        source,
                    })
                }
            };

            let error = match failure {
                Failure::Answered(error) => {
                    let retryable = matches!(
                        &error,
                        Error::Service { status, code, .. }
                            if is_retryable_status(*status, code)
                                || (*status == 404 && operation.class() == OperationClass::Metadata)
                    );
                    if !retryable {
                        return Err(error);
                    }
                    error
                }
                Failure::Unanswered(error) => error,
            };

            if attempts >= self.retry.max_attempts {
                return Err(error);
            }

            let delay = self.retry.delay(attempts, &mut rand::thread_rng());
            let elapsed = started.elapsed();
            if elapsed.saturating_add(delay) > self.retry.max_elapsed {
                return Err(Error::RetryBudgetExhausted {
                    operation,
                    attempts,
                    elapsed,
                    source: Box::new(error),
                });
            }

            self.observer.retrying(&RetryRecord {
                operation,
                attempt: attempts,
                status: error.status(),
                code: error.code(),
                request_id: error.request_id(),
                delay,
            });
            tracing::debug!(
                operation = %operation,
                attempt = attempts,
                status = error.status().unwrap_or(0),
                code = error.code().unwrap_or(""),
                request_id = error.request_id().unwrap_or(""),
                delay_ms = delay.as_millis() as u64,
                "retrying OCI call"
            );

            tokio::time::sleep(delay).await;
        }
    }

    /// Builds and signs (with a fresh `date`) one attempt's request.
    async fn prepare(
        &self,
        call: &Call,
        attempt: u32,
    ) -> Result<(HttpRequest, Option<KeyId>), Error> {
        let mut request = HttpRequest::new(call.method.clone(), call.url.clone());
        request.headers = call.headers.clone();
        request.body = call.body.clone();

        if attempt > 1 {
            request
                .headers
                .insert(OPC_CLIENT_RETRIES, HeaderValue::from_static("true"));
        }

        let Some(authorizer) = &self.authorizer else {
            return Ok((request, None));
        };

        let key_id = authorizer
            .authorize(&mut request, self.clock.now())
            .await
            .map_err(|source| Error::SignRequest {
                operation: call.operation,
                source,
            })?;

        Ok((request, key_id))
    }

    /// Forces a credential refresh; true when the credentials changed.
    async fn refresh(&self, operation: Operation, used: Option<&KeyId>) -> Result<bool, Error> {
        let Some(authorizer) = &self.authorizer else {
            return Ok(false);
        };

        authorizer
            .refresh(used, self.clock.now())
            .await
            .map_err(|source| Error::SignRequest { operation, source })
    }

    async fn acquire(&self, class: OperationClass) -> Duration {
        let bucket = match class {
            OperationClass::Read => self.buckets.read.as_ref(),
            OperationClass::PrivateIpWrite => self.buckets.private_ip_write.as_ref(),
            OperationClass::VnicAttach => self.buckets.vnic_attach.as_ref(),
            _ => None,
        };

        match bucket {
            Some(bucket) => bucket.acquire().await,
            None => Duration::ZERO,
        }
    }
}

/// The error for a non-2xx answer, from OCI's `{code, message}` body when there is one.
fn service_error(operation: Operation, response: &HttpResponse, attempts: u32) -> Error {
    #[derive(serde::Deserialize)]
    struct Body {
        #[serde(default)]
        code: Option<String>,
        #[serde(default)]
        message: Option<String>,
    }

    let body: Option<Body> = serde_json::from_slice(&response.body).ok();
    let (code, message) = match body {
        Some(Body { code, message }) => (code, message),
        None => (None, None),
    };

    let status = response.status;
    Error::Service {
        operation,
        status: status.as_u16(),
        code: code.unwrap_or_else(|| {
            status
                .canonical_reason()
                .unwrap_or("Unknown")
                .replace(' ', "")
        }),
        message: message.unwrap_or_else(|| {
            String::from_utf8_lossy(&response.body[..response.body.len().min(200)]).into_owned()
        }),
        request_id: header_text(&response.headers, &OPC_REQUEST_ID),
        attempts,
    }
}

fn header_text(headers: &HeaderMap, name: &HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}
