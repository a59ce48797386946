//! Per-call observations for metrics and tracing.
//!
//! Implement [`Observer`] (e.g. with prometheus-client counters and histograms) and give it to
//! [`ClientBuilder::observer`](crate::ClientBuilder::observer). The client calls it once per
//! logical call, after the last attempt, and once per retry. Label values are bounded:
//! operation names, class names and [`Error::category`] strings.
//!
//! ```
//! use std::sync::Mutex;
//! use std::time::Duration;
//!
//! use oci_api::{CallRecord, Observer, RetryRecord};
//!
//! /// Sums time per (operation, outcome); a real operator feeds prometheus histograms.
//! #[derive(Debug, Default)]
//! struct Totals(Mutex<Vec<(&'static str, &'static str, Duration, Duration)>>);
//!
//! impl Observer for Totals {
//!     fn call_finished(&self, call: &CallRecord<'_>) {
//!         let row = (call.operation.name(), call.outcome(), call.duration, call.rate_limit_wait);
//!         self.0.lock().expect("not poisoned").push(row);
//!     }
//!
//!     fn retrying(&self, retry: &RetryRecord<'_>) {
//!         // e.g. increment `oci_api_retries_total{operation, status}`
//!         let _ = (retry.operation, retry.status, retry.request_id);
//!     }
//! }
//!
//! let observer: std::sync::Arc<dyn Observer> = std::sync::Arc::new(Totals::default());
//! # let _ = observer;
//! ```

use std::fmt::Debug;
use std::time::Duration;

use crate::{Error, Operation, OperationClass};

/// Receives what the client did. Methods must be cheap and must not block.
pub trait Observer: Send + Sync + Debug {
    /// One logical call finished (after every attempt it took).
    fn call_finished(&self, call: &CallRecord<'_>);

    /// An attempt failed and the client will retry after `retry.delay`.
    fn retrying(&self, retry: &RetryRecord<'_>) {
        let _ = retry;
    }
}

/// What one logical call did.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct CallRecord<'a> {
    /// The operation.
    pub operation: Operation,
    /// Its rate-limit class.
    pub class: OperationClass,
    /// Wall time from the call to its result, waits and retries included.
    pub duration: Duration,
    /// Time spent waiting for rate-limit tokens (all attempts).
    pub rate_limit_wait: Duration,
    /// Requests sent.
    pub attempts: u32,
    /// HTTP status of the last answer, if any.
    pub status: Option<u16>,
    /// `opc-request-id` of the last answer, if any.
    pub request_id: Option<&'a str>,
    /// The error, if the call failed.
    pub error: Option<&'a Error>,
}

impl CallRecord<'_> {
    /// `ok`, or the failed call's [`Error::category`]: a bounded label value.
    #[must_use]
    pub fn outcome(&self) -> &'static str {
        self.error.map_or("ok", Error::category)
    }
}

/// One failed attempt that is about to be retried.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct RetryRecord<'a> {
    /// The operation.
    pub operation: Operation,
    /// The attempt that failed (1 = the first).
    pub attempt: u32,
    /// HTTP status of the failed attempt; `None` for a transport failure.
    pub status: Option<u16>,
    /// OCI error code of the failed attempt, if any.
    pub code: Option<&'a str>,
    /// `opc-request-id` of the failed attempt, if any.
    pub request_id: Option<&'a str>,
    /// Backoff before the next attempt.
    pub delay: Duration,
}

/// An observer that ignores everything (the default).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoopObserver;

impl Observer for NoopObserver {
    fn call_finished(&self, _call: &CallRecord<'_>) {}
}
