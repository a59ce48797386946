//! Which failures are retried, and how long to wait between attempts.
//!
//! Mirrors the SDKs' default policy: network errors, `429`, `500`–`504` except `501`, and
//! `409 IncorrectState`/`LockConflict` are retried with exponential backoff plus jitter, within
//! a bound on attempts and on total time.

use std::time::Duration;

use rand::Rng;

/// How the client retries one logical call.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Requests sent at most, the first included (1 disables retries).
    pub max_attempts: u32,
    /// Delay before the first retry; doubles with each further retry.
    pub base_delay: Duration,
    /// Cap on the exponential part of a delay.
    pub max_delay: Duration,
    /// Random extra delay, uniform in `[0, jitter]`, added to every delay.
    pub jitter: Duration,
    /// No retry starts once this much time has passed since the first attempt.
    pub max_elapsed: Duration,
}

impl Default for RetryPolicy {
    /// 8 attempts, 1 s doubling to 30 s, up to 1 s jitter, 2 minutes in total: the SDKs'
    /// schedule with a tighter total so an operator's worker is not stuck for 10 minutes.
    fn default() -> Self {
        Self {
            max_attempts: 8,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(30),
            jitter: Duration::from_secs(1),
            max_elapsed: Duration::from_secs(120),
        }
    }
}

impl RetryPolicy {
    /// Exactly one attempt.
    #[must_use]
    pub fn no_retries() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// `max_attempts` attempts with delays starting at `base_delay`, capped at `max_delay`,
    /// with jitter up to `base_delay` and a total bound of `max_elapsed`.
    #[must_use]
    pub fn new(
        max_attempts: u32,
        base_delay: Duration,
        max_delay: Duration,
        max_elapsed: Duration,
    ) -> Self {
        Self {
            max_attempts: max_attempts.max(1),
            base_delay,
            max_delay,
            jitter: base_delay,
            max_elapsed,
        }
    }

    /// Sets the jitter bound.
    #[must_use]
    pub fn with_jitter(mut self, jitter: Duration) -> Self {
        self.jitter = jitter;
        self
    }

    /// The delay before retry number `retry` (1 = the second attempt):
    /// `min(base × 2^(retry−1), max) + uniform(0, jitter)`.
    #[must_use]
    pub fn delay<R: Rng + ?Sized>(&self, retry: u32, rng: &mut R) -> Duration {
        let exponent = retry.saturating_sub(1).min(31);
        let exponential = self
            .base_delay
            .saturating_mul(1_u32 << exponent)
            .min(self.max_delay);

        let jitter_nanos = u64::try_from(self.jitter.as_nanos()).unwrap_or(u64::MAX);
        let jitter = if jitter_nanos == 0 {
            Duration::ZERO
        } else {
            Duration::from_nanos(rng.gen_range(0..=jitter_nanos))
        };

        exponential.saturating_add(jitter)
    }
}

/// True when OCI's answer is worth retrying with the same request.
#[must_use]
pub fn is_retryable_status(status: u16, code: &str) -> bool {
    match status {
        429 | 500 | 502 | 503 | 504 => true,
        409 => matches!(code, "IncorrectState" | "LockConflict"),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    #[test]
    fn delays_double_then_cap_and_jitter_stays_in_bounds() {
        let policy = RetryPolicy::default();
        let mut rng = StdRng::seed_from_u64(7);

        let delays: Vec<Duration> = (1..=8).map(|n| policy.delay(n, &mut rng)).collect();

        let floors = [1, 2, 4, 8, 16, 30, 30, 30];
        for (delay, floor) in delays.iter().zip(floors) {
            assert!(*delay >= Duration::from_secs(floor), "{delay:?} < {floor}s");
            assert!(
                *delay <= Duration::from_secs(floor + 1),
                "{delay:?} > {floor}s + 1s"
            );
        }
    }

    #[test]
    fn zero_jitter_is_exact_and_huge_retry_numbers_saturate() {
        let policy = RetryPolicy::new(
            3,
            Duration::from_millis(1),
            Duration::from_millis(5),
            Duration::from_secs(1),
        )
        .with_jitter(Duration::ZERO);
        let mut rng = StdRng::seed_from_u64(1);

        assert_eq!(policy.delay(1, &mut rng), Duration::from_millis(1));
        assert_eq!(policy.delay(3, &mut rng), Duration::from_millis(4));
        assert_eq!(policy.delay(u32::MAX, &mut rng), Duration::from_millis(5));
    }

    #[test]
    fn retryable_statuses_follow_the_sdks() {
        let table = [
            (429, "TooManyRequests", true),
            (500, "InternalServerError", true),
            (501, "MethodNotImplemented", false),
            (502, "", true),
            (503, "ServiceUnavailable", true),
            (504, "", true),
            (409, "IncorrectState", true),
            (409, "LockConflict", true),
            (409, "Conflict", false),
            (409, "InvalidatedRetryToken", false),
            (400, "InvalidParameter", false),
            (401, "NotAuthenticated", false),
            (404, "NotAuthorizedOrNotFound", false),
            (412, "NoEtagMatch", false),
        ];

        for (status, code, expected) in table {
            assert_eq!(
                is_retryable_status(status, code),
                expected,
                "{status} {code}"
            );
        }
    }
}
