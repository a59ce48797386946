//! Token buckets per operation class, so a busy operator stays inside OCI's undisclosed
//! request budgets instead of learning them through 429s.
//!
//! Each acquisition reserves a token immediately (the bucket may go into debt) and then sleeps
//! until that token would have been available, so waiters are served in arrival order.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::OperationClass;

/// A steady rate with a burst allowance.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct RateLimit {
    /// Tokens added per second.
    pub per_second: f64,
    /// Bucket size: requests that may go out back to back after an idle period.
    pub burst: u32,
}

impl RateLimit {
    /// `per_second` requests per second with bursts of `burst`.
    #[must_use]
    pub fn new(per_second: f64, burst: u32) -> Self {
        Self {
            per_second,
            burst: burst.max(1),
        }
    }
}

/// The budget of each rate-limited operation class; `None` means unlimited.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RateLimits {
    /// Get and List calls.
    pub read: Option<RateLimit>,
    /// CreatePrivateIp, UpdatePrivateIp, DeletePrivateIp (and IPv6).
    pub private_ip_write: Option<RateLimit>,
    /// AttachVnic and DetachVnic.
    pub vnic_attach: Option<RateLimit>,
}

impl Default for RateLimits {
    /// Reads 20/s (burst 40), private-IP writes 10/s (burst 20), VNIC attach 1/s (burst 2).
    /// Oracle publishes no numbers; these stay well inside what clients report working.
    fn default() -> Self {
        Self {
            read: Some(RateLimit::new(20.0, 40)),
            private_ip_write: Some(RateLimit::new(10.0, 20)),
            vnic_attach: Some(RateLimit::new(1.0, 2)),
        }
    }
}

impl RateLimits {
    /// No client-side limits at all (OCI's 429s are still retried).
    #[must_use]
    pub fn unlimited() -> Self {
        Self {
            read: None,
            private_ip_write: None,
            vnic_attach: None,
        }
    }

    /// Sets the budget of Get and List calls.
    #[must_use]
    pub fn with_read(mut self, limit: Option<RateLimit>) -> Self {
        self.read = limit;
        self
    }

    /// Sets the budget of private-IP (and IPv6) writes.
    #[must_use]
    pub fn with_private_ip_write(mut self, limit: Option<RateLimit>) -> Self {
        self.private_ip_write = limit;
        self
    }

    /// Sets the budget of VNIC attach and detach.
    #[must_use]
    pub fn with_vnic_attach(mut self, limit: Option<RateLimit>) -> Self {
        self.vnic_attach = limit;
        self
    }

    /// The limit of `class`.
    #[must_use]
    pub fn for_class(&self, class: OperationClass) -> Option<RateLimit> {
        match class {
            OperationClass::Read => self.read,
            OperationClass::PrivateIpWrite => self.private_ip_write,
            OperationClass::VnicAttach => self.vnic_attach,
            OperationClass::Metadata => None,
        }
    }
}

/// One token bucket.
#[derive(Debug)]
pub(crate) struct TokenBucket {
    limit: RateLimit,
    state: Mutex<BucketState>,
}

#[derive(Debug)]
struct BucketState {
    tokens: f64,
    updated: Instant,
}

impl TokenBucket {
    /// A full bucket.
    pub(crate) fn new(limit: RateLimit) -> Self {
        let state = BucketState {
            tokens: f64::from(limit.burst),
            updated: Instant::now(),
        };
        Self {
            limit,
            state: Mutex::new(state),
        }
    }

    /// Takes one token, sleeping until it is due; returns the time spent waiting.
    pub(crate) async fn acquire(&self) -> Duration {
        let wait = self.reserve(Instant::now());

        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }

        wait
    }

    /// Reserves a token at `now` and returns how long the caller must wait for it.
    fn reserve(&self, now: Instant) -> Duration {
        let rate = if self.limit.per_second > 0.0 {
            self.limit.per_second
        } else {
            f64::MIN_POSITIVE
        };
        let mut state = match self.state.lock() {
            Ok(state) => state,
            // A panic while holding this lock cannot leave the counters inconsistent.
            Err(poisoned) => poisoned.into_inner(),
        };

        let elapsed = now.saturating_duration_since(state.updated).as_secs_f64();
        state.tokens = (state.tokens + elapsed * rate).min(f64::from(self.limit.burst));
        state.updated = now;

        state.tokens -= 1.0;

        if state.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::try_from_secs_f64(-state.tokens / rate).unwrap_or(Duration::MAX)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn burst_is_free_then_requests_are_spaced_by_the_rate() {
        let bucket = TokenBucket::new(RateLimit::new(10.0, 3));
        let start = Instant::now();

        let mut waits = Vec::new();
        for _ in 0..6 {
            waits.push(bucket.acquire().await);
        }

        assert_eq!(&waits[..3], &[Duration::ZERO; 3]);
        assert!(waits[3..].iter().all(|w| *w > Duration::ZERO));
        let elapsed = start.elapsed();
        assert!(
            elapsed >= Duration::from_millis(299) && elapsed <= Duration::from_millis(301),
            "{elapsed:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_waiters_are_served_in_order_of_arrival() {
        let bucket = std::sync::Arc::new(TokenBucket::new(RateLimit::new(100.0, 1)));
        let now = Instant::now();

        let waits: Vec<Duration> = (0..4).map(|_| bucket.reserve(now)).collect();

        assert_eq!(waits[0], Duration::ZERO);
        assert!(waits.windows(2).all(|w| w[0] < w[1]), "{waits:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn idle_time_refills_up_to_the_burst_only() {
        let bucket = TokenBucket::new(RateLimit::new(1.0, 2));

        bucket.acquire().await;
        bucket.acquire().await;
        tokio::time::advance(Duration::from_secs(60)).await;

        assert_eq!(bucket.acquire().await, Duration::ZERO);
        assert_eq!(bucket.acquire().await, Duration::ZERO);
        assert!(bucket.acquire().await > Duration::ZERO);
    }
}
