//! Process-wide counters, served at `/metrics` in the Prometheus text
//! format.
//!
//! Plain atomics, bumped where things happen: no locks, no allocation, and
//! nothing to pass around, so the hot paths (delivering a frame to a
//! thousand members) pay one relaxed increment each. The process is the
//! unit Prometheus scrapes, so process-wide statics are the right scope.

use crate::actors::redis_bridge::Rejected;
use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the bus lag histogram, in seconds.
const LAG_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// Everything counted.
pub struct Metrics {
    connections: AtomicI64,
    rooms: AtomicI64,
    messages_in: AtomicU64,
    frames_out: AtomicU64,
    slow_clients_dropped: AtomicU64,
    caught_up: AtomicU64,
    bus_local_only: AtomicU64,
    bus_queue: AtomicI64,
    bus_rejected: [AtomicU64; Rejected::ALL.len()],
    password_hashes: AtomicU64,
    accounts_throttled: AtomicU64,
    lag_buckets: [AtomicU64; LAG_BUCKETS.len()],
    lag_count: AtomicU64,
    lag_sum_micros: AtomicU64,
}

/// The process's counters.
pub static METRICS: Metrics = Metrics::new();

impl Metrics {
    const fn new() -> Self {
        Metrics {
            connections: AtomicI64::new(0),
            rooms: AtomicI64::new(0),
            messages_in: AtomicU64::new(0),
            frames_out: AtomicU64::new(0),
            slow_clients_dropped: AtomicU64::new(0),
            caught_up: AtomicU64::new(0),
            bus_local_only: AtomicU64::new(0),
            bus_queue: AtomicI64::new(0),
            bus_rejected: [const { AtomicU64::new(0) }; Rejected::ALL.len()],
            password_hashes: AtomicU64::new(0),
            accounts_throttled: AtomicU64::new(0),
            lag_buckets: [const { AtomicU64::new(0) }; LAG_BUCKETS.len()],
            lag_count: AtomicU64::new(0),
            lag_sum_micros: AtomicU64::new(0),
        }
    }

    /// A payload read from Redis was dropped; returns how many were
    /// dropped for that reason so far, this one included.
    pub fn bus_rejected(&self, why: Rejected) -> u64 {
        self.bus_rejected[why as usize].fetch_add(1, Ordering::Relaxed) + 1
    }

    /// A WebSocket opened (`+1`) or closed (`-1`).
    pub fn connections(&self, delta: i64) {
        self.connections.fetch_add(delta, Ordering::Relaxed);
    }

    /// A room actor started (`+1`) or stopped (`-1`).
    pub fn rooms(&self, delta: i64) {
        self.rooms.fetch_add(delta, Ordering::Relaxed);
    }

    /// A chat message was stored.
    pub fn message_in(&self) {
        self.messages_in.fetch_add(1, Ordering::Relaxed);
    }

    /// `n` frames were handed to sessions for delivery.
    pub fn frames_out(&self, n: u64) {
        self.frames_out.fetch_add(n, Ordering::Relaxed);
    }

    /// A client that stopped reading was disconnected.
    pub fn slow_client_dropped(&self) {
        self.slow_clients_dropped.fetch_add(1, Ordering::Relaxed);
    }

    /// A room delivered `n` messages that it found in the database rather
    /// than on the bus (catching up after an outage or overflow).
    pub fn caught_up(&self, n: u64) {
        self.caught_up.fetch_add(n, Ordering::Relaxed);
    }

    /// An event reached this instance's members only: Redis was down or
    /// could not take it.
    pub fn bus_local_only(&self) {
        self.bus_local_only.fetch_add(1, Ordering::Relaxed);
    }

    /// Events waiting to be published to Redis right now.
    pub fn bus_queue(&self, len: usize) {
        self.bus_queue
            .store(i64::try_from(len).unwrap_or(i64::MAX), Ordering::Relaxed);
    }

    /// An Argon2 run began (a sign-up, or a login checked).
    pub fn password_hash(&self) {
        self.password_hashes.fetch_add(1, Ordering::Relaxed);
    }

    /// A login or sign-up was refused by its throttle, with no hashing.
    pub fn account_throttled(&self) {
        self.accounts_throttled.fetch_add(1, Ordering::Relaxed);
    }

    /// An event took `lag` from publication to its room's fan-out.
    pub fn bus_lag(&self, lag: Duration) {
        let seconds = lag.as_secs_f64();
        for (bound, bucket) in LAG_BUCKETS.iter().zip(&self.lag_buckets) {
            if seconds <= *bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.lag_count.fetch_add(1, Ordering::Relaxed);
        self.lag_sum_micros
            .fetch_add(lag.as_micros() as u64, Ordering::Relaxed);
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self, redis_up: Option<bool>) -> String {
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, value: String| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        };
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed).to_string();
        metric(
            "confab_connections",
            "gauge",
            "Open WebSocket connections.",
            self.connections.load(Ordering::Relaxed).to_string(),
        );
        metric(
            "confab_rooms",
            "gauge",
            "Rooms with members on this instance.",
            self.rooms.load(Ordering::Relaxed).to_string(),
        );
        metric(
            "confab_messages_in_total",
            "counter",
            "Chat messages stored.",
            get(&self.messages_in),
        );
        metric(
            "confab_frames_out_total",
            "counter",
            "Room event frames handed to connections.",
            get(&self.frames_out),
        );
        metric(
            "confab_slow_clients_dropped_total",
            "counter",
            "Connections closed because the client stopped reading.",
            get(&self.slow_clients_dropped),
        );
        metric(
            "confab_messages_caught_up_total",
            "counter",
            "Messages a room delivered from the database because the bus had not carried them.",
            get(&self.caught_up),
        );
        metric(
            "confab_password_hashes_total",
            "counter",
            "Argon2 runs: sign-ups and checked logins.",
            get(&self.password_hashes),
        );
        metric(
            "confab_accounts_throttled_total",
            "counter",
            "Logins and sign-ups refused with 429 by their throttles, without hashing.",
            get(&self.accounts_throttled),
        );
        if let Some(up) = redis_up {
            metric(
                "confab_redis_up",
                "gauge",
                "1 when the Redis bridge is connected.",
                u8::from(up).to_string(),
            );
            metric(
                "confab_bus_local_only_total",
                "counter",
                "Room events that reached only this instance's members (Redis down or behind); rooms catch up from the database.",
                get(&self.bus_local_only),
            );
            metric(
                "confab_bus_queue",
                "gauge",
                "Events waiting to be published to Redis.",
                self.bus_queue.load(Ordering::Relaxed).to_string(),
            );
            let name = "confab_bus_rejected_total";
            let _ = writeln!(
                out,
                "# HELP {name} Payloads read from Redis and dropped undelivered (not sealed with this deployment's key, malformed, or oversized).\n# TYPE {name} counter"
            );
            for why in Rejected::ALL {
                let count = get(&self.bus_rejected[why as usize]);
                let _ = writeln!(out, "{name}{{reason=\"{}\"}} {count}", why.label());
            }
        }
        let name = "confab_bus_lag_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} Time from publishing a room event to its fan-out.\n# TYPE {name} histogram"
        );
        for (bound, bucket) in LAG_BUCKETS.iter().zip(&self.lag_buckets) {
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {}", get(bucket));
        }
        let count = get(&self.lag_count);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let sum = self.lag_sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum {sum}\n{name}_count {count}");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_lands_in_cumulative_buckets() {
        let m = Metrics::new();
        m.bus_lag(Duration::from_millis(3));
        let text = m.render(None);
        assert!(
            text.contains("confab_bus_lag_seconds_bucket{le=\"0.001\"} 0"),
            "{text}"
        );
        assert!(
            text.contains("confab_bus_lag_seconds_bucket{le=\"0.005\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("confab_bus_lag_seconds_bucket{le=\"+Inf\"} 1"),
            "{text}"
        );
        assert!(text.contains("confab_bus_lag_seconds_count 1"));
        assert!(!text.contains("confab_redis_up"));
    }
}
