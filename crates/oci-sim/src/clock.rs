//! The simulator's clock: wall time plus an offset that tests can advance.
//!
//! Two notions of time meet in the simulator. Request signatures carry the *client's* wall
//! clock in their `date` header, so the five-minute skew check compares against real wall
//! time. Everything the simulator decides on its own (attachment delays, retry-token expiry,
//! session-token expiry, `timeCreated`) uses *simulated* time, which is wall time plus an
//! offset. [`SimClock::advance`] moves simulated time forward without sleeping, so a test can
//! expire a 24-hour retry token or a session token instantly while signatures stay valid.

use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;
use std::time::SystemTime;

/// A cheaply cloneable handle on the simulator's clock.
#[derive(Clone, Debug, Default)]
pub struct SimClock {
    offset: Arc<Mutex<Duration>>,
}

impl SimClock {
    /// A clock that starts at wall time (offset zero).
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Simulated now: wall time plus every [`advance`](Self::advance) so far.
    #[must_use]
    pub fn now(&self) -> SystemTime {
        wall_now() + self.offset()
    }

    /// Real wall time, used for the signature `date` skew check.
    #[must_use]
    pub fn wall_now(&self) -> SystemTime {
        wall_now()
    }

    /// Moves simulated time forward by `by`.
    pub fn advance(&self, by: Duration) {
        let mut offset = self
            .offset
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        *offset += by;
    }

    /// How far simulated time is ahead of wall time.
    #[must_use]
    pub fn offset(&self) -> Duration {
        *self
            .offset
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }
}

/// The one place the simulator reads the system clock; the stand-in is allowed to, library
/// code of the product is not (see `clippy.toml`).
#[allow(clippy::disallowed_methods)]
fn wall_now() -> SystemTime {
    SystemTime::now()
}

/// Formats a time as OCI does in JSON bodies: RFC 3339, UTC, milliseconds.
pub(crate) fn rfc3339(at: SystemTime) -> String {
    match jiff::Timestamp::try_from(at) {
        Ok(ts) => ts.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        Err(_) => "1970-01-01T00:00:00.000Z".to_owned(),
    }
}

/// Seconds since the Unix epoch (0 for times before it).
pub(crate) fn epoch_secs(at: SystemTime) -> u64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Milliseconds since the Unix epoch (0 for times before it).
pub(crate) fn epoch_millis(at: SystemTime) -> u64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advance_moves_simulated_time_but_not_wall_time() {
        let clock = SimClock::new();
        let before = clock.now();

        clock.advance(Duration::from_secs(86_400));

        assert!(clock.now() >= before + Duration::from_secs(86_400));
        assert!(clock.wall_now() < before + Duration::from_secs(3_600));
        assert_eq!(clock.offset(), Duration::from_secs(86_400));
    }

    #[test]
    fn rfc3339_has_milliseconds_and_zulu() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        assert_eq!(rfc3339(at), "2023-11-14T22:13:20.123Z");
    }
}
