//! The one time seam of the crate: every expiry, TTL and cooldown reads the time from a
//! [`Clock`], so tests can move time without sleeping.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A source of wall-clock time.
///
/// The default is [`SystemClock`]. Tests can pass their own (see
/// [`ManualClock`]) to the authenticator builder.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// The current time.
    fn now(&self) -> SystemTime;
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock that only moves when told to; for tests.
#[derive(Debug, Clone)]
pub struct ManualClock {
    offset: Arc<std::sync::atomic::AtomicU64>,
}

impl ManualClock {
    /// A clock that starts at the system's current time.
    pub fn new() -> Self {
        Self {
            offset: Arc::new(std::sync::atomic::AtomicU64::new(0)),
        }
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let millis = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        self.offset
            .fetch_add(millis, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        let offset = self.offset.load(std::sync::atomic::Ordering::SeqCst);
        SystemTime::now() + Duration::from_millis(offset)
    }
}

/// Seconds since the Unix epoch, as a float (NumericDate, RFC 7519 §2).
pub(crate) fn unix_seconds(t: SystemTime) -> f64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    }
}

pub(crate) type SharedClock = Arc<dyn Clock>;
