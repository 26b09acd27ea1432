//! The pure arithmetic of a run: latency percentiles and delivery accounting.
//!
//! Latencies are recorded in microseconds into an HDR histogram. With a
//! thousand receiving tasks a histogram each would cost more memory than
//! the sockets, so tasks record into a small [`LatencyBatch`] and pour it
//! into one shared [`LatencySink`] now and then.
//!
//! Every (receiver, sender) pair has a [`SeqTracker`]: a bitmap of the
//! sequence numbers seen, which tells a duplicate (seen before), a
//! reordering (arrived after a higher number) and, at the end, the losses
//! (numbers sent but never seen).

use hdrhistogram::Histogram;
use serde::Serialize;
use std::sync::Mutex;

/// Highest latency the histograms hold: an hour, in microseconds.
const MAX_MICROS: u64 = 3_600_000_000;

/// Sequence numbers at or above this are refused as garbage rather than
/// letting a bad frame allocate a huge bitmap.
pub const MAX_SEQ: u32 = 1 << 26;

/// An empty latency histogram in microseconds, three significant digits.
#[expect(
    clippy::expect_used,
    reason = "the bounds are constants hdrhistogram accepts; failing is a bug here"
)]
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_MICROS, 3).expect("valid histogram bounds")
}

/// Percentiles of a latency histogram, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct LatencySummary {
    /// Samples.
    pub count: u64,
    /// Mean.
    pub mean_ms: f64,
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// 99.9th percentile.
    pub p999_ms: f64,
    /// Largest sample.
    pub max_ms: f64,
}

impl LatencySummary {
    /// Summarizes a histogram of microseconds.
    pub fn of(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return LatencySummary::default();
        }
        let ms = |micros: u64| micros as f64 / 1000.0;
        LatencySummary {
            count: h.len(),
            mean_ms: h.mean() / 1000.0,
            p50_ms: ms(h.value_at_quantile(0.50)),
            p90_ms: ms(h.value_at_quantile(0.90)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            p999_ms: ms(h.value_at_quantile(0.999)),
            max_ms: ms(h.max()),
        }
    }
}

/// The shared histogram that [`LatencyBatch`]es are poured into.
pub struct LatencySink(Mutex<Histogram<u64>>);

impl Default for LatencySink {
    fn default() -> Self {
        LatencySink(Mutex::new(histogram()))
    }
}

impl LatencySink {
    fn lock(&self) -> std::sync::MutexGuard<'_, Histogram<u64>> {
        // A panicking recorder leaves a histogram that is still usable.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Records one sample directly (for low-rate callers).
    pub fn record(&self, micros: u64) {
        self.lock().saturating_record(micros.max(1));
    }

    /// Everything recorded so far; the sink starts again empty.
    pub fn take(&self) -> Histogram<u64> {
        let mut h = self.lock();
        let taken = h.clone();
        h.reset();
        taken
    }
}

/// A receiver's local buffer of latency samples.
#[derive(Default)]
pub struct LatencyBatch(Vec<u64>);

impl LatencyBatch {
    const CAPACITY: usize = 512;

    /// Adds one sample, pouring the batch into `sink` when it is full.
    pub fn record(&mut self, micros: u64, sink: &LatencySink) {
        self.0.push(micros.max(1));
        if self.0.len() >= Self::CAPACITY {
            self.flush(sink);
        }
    }

    /// Pours every buffered sample into `sink`.
    pub fn flush(&mut self, sink: &LatencySink) {
        if self.0.is_empty() {
            return;
        }
        let mut h = sink.lock();
        for &v in &self.0 {
            h.saturating_record(v);
        }
        self.0.clear();
    }
}

/// What one arrival was, for one (receiver, sender) pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// First time seen, and higher than everything before it.
    InOrder,
    /// First time seen, but after a higher number.
    Reordered,
    /// Seen before.
    Duplicate,
    /// An impossible sequence number.
    Invalid,
}

/// Sequence numbers one receiver has seen from one sender.
#[derive(Debug, Default, Clone)]
pub struct SeqTracker {
    seen: Vec<u64>,
    highest: Option<u32>,
    distinct: u64,
    duplicated: u64,
    reordered: u64,
}

impl SeqTracker {
    /// Notes the arrival of `seq`.
    pub fn record(&mut self, seq: u32) -> Arrival {
        if seq >= MAX_SEQ {
            return Arrival::Invalid;
        }
        let word = (seq / 64) as usize;
        let mask = 1u64 << (seq % 64);
        if word >= self.seen.len() {
            self.seen.resize(word + 1, 0);
        }
        if self.seen[word] & mask != 0 {
            self.duplicated += 1;
            return Arrival::Duplicate;
        }
        self.seen[word] |= mask;
        self.distinct += 1;
        match self.highest {
            Some(highest) if seq < highest => {
                self.reordered += 1;
                Arrival::Reordered
            }
            _ => {
                self.highest = Some(seq);
                Arrival::InOrder
            }
        }
    }

    /// Whether `seq` arrived.
    pub fn has(&self, seq: u32) -> bool {
        self.seen
            .get((seq / 64) as usize)
            .is_some_and(|w| w & (1u64 << (seq % 64)) != 0)
    }

    /// How many of `0..sent` never arrived.
    pub fn lost(&self, sent: u32) -> u64 {
        let seen = (0..sent).filter(|&seq| self.has(seq)).count() as u64;
        u64::from(sent) - seen
    }

    /// How many arrived that were never sent (numbers at or above `sent`).
    pub fn unexpected(&self, sent: u32) -> u64 {
        self.distinct - (u64::from(sent) - self.lost(sent))
    }

    /// Arrivals that had been seen before.
    pub fn duplicated(&self) -> u64 {
        self.duplicated
    }

    /// Arrivals after a higher number.
    pub fn reordered(&self) -> u64 {
        self.reordered
    }
}

/// Delivery accounting summed over receivers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Integrity {
    /// Every live delivery of this stage's messages, duplicates included.
    pub delivered: u64,
    /// (receiver, message) pairs that never arrived.
    pub lost: u64,
    /// Deliveries of a message already delivered to that receiver.
    pub duplicated: u64,
    /// Deliveries after a later message of the same sender.
    pub reordered: u64,
    /// Deliveries of messages never sent (or garbled).
    pub unexpected: u64,
}

impl Integrity {
    /// Accounts one receiver's tracker for a sender that sent `sent`.
    pub fn add_tracker(&mut self, tracker: &SeqTracker, sent: u32) {
        self.lost += tracker.lost(sent);
        self.duplicated += tracker.duplicated();
        self.reordered += tracker.reordered();
        self.unexpected += tracker.unexpected(sent);
    }

    /// Nothing lost, duplicated, reordered or made up.
    pub fn is_clean(&self) -> bool {
        self.lost == 0 && self.duplicated == 0 && self.reordered == 0 && self.unexpected == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_a_known_distribution() {
        let mut h = histogram();
        for micros in 1..=10_000u64 {
            h.record(micros).unwrap();
        }
        let s = LatencySummary::of(&h);
        assert_eq!(s.count, 10_000);
        // Three significant digits: within 0.1 % of the exact value.
        let close = |got: f64, want: f64| (got - want).abs() <= want * 0.001 + 0.001;
        assert!(close(s.p50_ms, 5.0), "p50 {}", s.p50_ms);
        assert!(close(s.p90_ms, 9.0), "p90 {}", s.p90_ms);
        assert!(close(s.p99_ms, 9.9), "p99 {}", s.p99_ms);
        assert!(close(s.p999_ms, 9.99), "p99.9 {}", s.p999_ms);
        assert!(close(s.max_ms, 10.0), "max {}", s.max_ms);
        assert!(close(s.mean_ms, 5.0005), "mean {}", s.mean_ms);
    }

    #[test]
    fn empty_histogram_summarizes_to_zero() {
        assert_eq!(LatencySummary::of(&histogram()), LatencySummary::default());
    }

    #[test]
    fn batches_reach_the_sink_when_flushed() {
        let sink = LatencySink::default();
        let mut batch = LatencyBatch::default();
        for _ in 0..LatencyBatch::CAPACITY + 3 {
            batch.record(0, &sink);
        }
        assert_eq!(sink.take().len(), LatencyBatch::CAPACITY as u64);
        batch.flush(&sink);
        let rest = sink.take();
        assert_eq!(rest.len(), 3);
        // A zero latency is recorded as the histogram's lowest value.
        assert_eq!(rest.min(), 1);
        assert!(sink.take().is_empty());
    }

    #[test]
    fn in_order_arrivals_are_clean() {
        let mut t = SeqTracker::default();
        for seq in 0..200 {
            assert_eq!(t.record(seq), Arrival::InOrder);
        }
        let mut i = Integrity::default();
        i.add_tracker(&t, 200);
        assert!(i.is_clean(), "{i:?}");
    }

    #[test]
    fn gaps_duplicates_and_reorderings_are_counted() {
        let mut t = SeqTracker::default();
        assert_eq!(t.record(0), Arrival::InOrder);
        assert_eq!(t.record(2), Arrival::InOrder);
        assert_eq!(t.record(1), Arrival::Reordered);
        assert_eq!(t.record(2), Arrival::Duplicate);
        assert_eq!(t.record(70), Arrival::InOrder);
        assert_eq!(t.record(MAX_SEQ), Arrival::Invalid);
        // Sent 0..100: 0, 1, 2 and 70 arrived.
        assert_eq!(t.lost(100), 96);
        assert_eq!(t.unexpected(100), 0);
        // Had only 0..10 been sent, 70 was never sent.
        assert_eq!(t.lost(10), 7);
        assert_eq!(t.unexpected(10), 1);
        let mut i = Integrity::default();
        i.add_tracker(&t, 100);
        assert_eq!(
            i,
            Integrity {
                delivered: 0,
                lost: 96,
                duplicated: 1,
                reordered: 1,
                unexpected: 0
            }
        );
        assert!(!i.is_clean());
    }

    #[test]
    fn nothing_seen_means_everything_lost() {
        let t = SeqTracker::default();
        assert_eq!(t.lost(5), 5);
        assert_eq!(t.lost(0), 0);
    }
}
