//! The wall clock used for the `date` header of signed requests.
//!
//! Library code never reads the system time directly: the client asks its [`Clock`], which
//! tests can replace with a fixed or skewed one.

use std::fmt::Debug;
use std::time::SystemTime;

/// A source of wall-clock time.
pub trait Clock: Send + Sync + Debug {
    /// The current time.
    fn now(&self) -> SystemTime;
}

/// The operating system's clock: the client's default.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    // The one place in this crate that reads the system time; everything else asks a `Clock`.
    #[allow(clippy::disallowed_methods)]
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock that always answers the same time (tests, reproducible signatures).
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub SystemTime);

impl Clock for FixedClock {
    fn now(&self) -> SystemTime {
        self.0
    }
}
