//! One monotonic clock for the whole process.
//!
//! Senders and receivers live in the same process, so a message can carry
//! its send time as nanoseconds since the process's first reading, and the
//! receiving task subtracts it from its own reading: no wall clock, no skew.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

static START: OnceLock<Instant> = OnceLock::new();

fn start() -> Instant {
    *START.get_or_init(Instant::now)
}

/// Nanoseconds since the process's first reading.
pub fn now_nanos() -> u64 {
    u64::try_from(start().elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// The instant `nanos` after the first reading.
pub fn instant_at(nanos: u64) -> Instant {
    start() + Duration::from_nanos(nanos)
}

/// Seconds between two readings.
pub fn secs_between(from_nanos: u64, to_nanos: u64) -> f64 {
    to_nanos.saturating_sub(from_nanos) as f64 / 1e9
}
