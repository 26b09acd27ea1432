//! A session's output: the bytes written to its socket, in order, counted
//! so that a client is judged by how much it leaves unread and for how
//! long, never by how many frames a burst happened to bring.
//!
//! Rooms and the registry push frames straight into a member's [`Outbox`]
//! (through its `SessionHandle`), from any thread, without a message to
//! the session actor per frame: a burst in a big room costs each member a
//! few pointers, not a place in a bounded mailbox. Each text frame is a
//! 2–10 byte WebSocket header plus the payload the room encoded once, shared
//! by every member (`Bytes` clones are reference counts, not copies).
//!
//! The response body of the socket (`session/`) takes pieces from the front
//! as fast as the connection accepts them. What is pushed but not yet taken
//! is the client's *unsent* output; [`Outbox::verdict`] says when it has
//! been over the limit for too long, or when nothing at all was taken for
//! too long, and then the session clears the outbox (freeing its share of
//! the burst) and closes the connection with 1013.
//!
//! The join burst goes through the same queue, so a live frame never
//! overtakes history; the ids it carried are remembered so that a live
//! copy of one of them (stored just before the join and delivered just
//! after) is not written twice.

use crate::domain::MessageId;
use actix_web::web::Bytes;
use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// How a client is judged, from the settings.
#[derive(Debug, Clone, Copy)]
pub struct FlowLimits {
    /// Unsent bytes a client may leave...
    pub max_unsent_bytes: usize,
    /// ...for at most this long.
    pub slow_client: Duration,
    /// Longest time nothing may be taken while something waits.
    pub client_timeout: Duration,
}

/// Why a client is to be disconnected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Verdict {
    /// Its unsent output stayed over the byte limit for too long.
    #[error("more than {bytes} bytes stayed unread for over {for_secs} s")]
    FellBehind {
        /// The limit.
        bytes: usize,
        /// How long it may be passed.
        for_secs: u64,
    },
    /// It took no byte at all for too long while output waited.
    #[error("it took no data for {for_secs} s")]
    StoppedReading {
        /// The client timeout.
        for_secs: u64,
    },
}

/// The output queue of one WebSocket connection, shared (`Arc`) by its
/// session, its room, the registry and its response body.
#[derive(Debug)]
pub struct Outbox {
    limits: FlowLimits,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    pieces: VecDeque<Bytes>,
    /// Bytes in `pieces`.
    unsent: usize,
    /// Ids sent in the join burst, ascending.
    sent_in_history: Vec<MessageId>,
    /// The byte limit, and since when `unsent` has been over it.
    max_unsent: usize,
    over_since: Option<Instant>,
    /// Since when something has waited with nothing taken.
    stalled_since: Option<Instant>,
    /// No more text frames are taken (the client was judged, or the session
    /// ended); control frames (the close) still are.
    closed: bool,
    /// The session is over: the body ends once it has sent what is left.
    finished: bool,
    /// The body is gone (the connection ended).
    body_gone: bool,
    /// The response body, waiting for pieces.
    reader: Option<Waker>,
    /// The task that runs the session, waiting to hear the body is gone.
    driver: Option<Waker>,
}

impl Outbox {
    /// An empty outbox judged by `limits`.
    pub fn new(limits: FlowLimits) -> Self {
        Outbox {
            limits,
            state: Mutex::new(State {
                max_unsent: limits.max_unsent_bytes,
                ..State::default()
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Every change is a few field writes that cannot panic halfway.
        self.state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// Queues a text frame whose payload is `text` (UTF-8 JSON).
    pub fn text(&self, text: Bytes) {
        let mut state = self.state();
        if state.closed {
            return;
        }
        state.push(frame_header(text.len()));
        state.push(text);
    }

    /// Queues a live frame, unless it announces a message the join burst
    /// already carried.
    pub fn deliver(&self, text: Bytes, message_id: Option<MessageId>) {
        let mut state = self.state();
        if state.closed
            || message_id.is_some_and(|id| state.sent_in_history.binary_search(&id).is_ok())
        {
            return;
        }
        state.push(frame_header(text.len()));
        state.push(text);
    }

    /// Queues the join burst: `frames` in order, remembering `ids` (the
    /// history's, ascending) so their live copies are skipped.
    pub fn burst(&self, ids: Vec<MessageId>, frames: impl IntoIterator<Item = Bytes>) {
        let mut state = self.state();
        if state.closed {
            return;
        }
        state.sent_in_history = ids;
        for text in frames {
            state.push(frame_header(text.len()));
            state.push(text);
        }
    }

    /// Queues bytes already framed (pings, pongs, the close frame), even
    /// after [`close`](Self::close).
    pub fn control(&self, framed: Bytes) {
        if framed.is_empty() {
            return;
        }
        let mut state = self.state();
        if state.body_gone {
            return;
        }
        state.push(framed);
    }

    /// Drops what is unsent and takes no more text frames: the client was
    /// judged too slow (or is leaving), and only a close frame follows.
    pub fn close(&self) {
        let mut state = self.state();
        state.closed = true;
        state.pieces.clear();
        state.unsent = 0;
        state.over_since = None;
        state.stalled_since = None;
    }

    /// The session is over: the body ends after what is queued.
    pub fn finish(&self) {
        let mut state = self.state();
        state.closed = true;
        state.finished = true;
        if let Some(reader) = state.reader.take() {
            reader.wake();
        }
    }

    /// The next piece for the socket; `None` once the session finished and
    /// everything was taken.
    pub fn poll_take(&self, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        let mut state = self.state();
        match state.pieces.pop_front() {
            Some(piece) => {
                state.unsent -= piece.len();
                let now = Instant::now();
                state.stalled_since = (state.unsent > 0).then_some(now);
                if state.unsent <= state.max_unsent {
                    state.over_since = None;
                }
                Poll::Ready(Some(piece))
            }
            None if state.finished => Poll::Ready(None),
            None => {
                state.reader = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }

    /// The body was dropped: the connection is gone.
    pub fn body_dropped(&self) {
        let mut state = self.state();
        state.body_gone = true;
        state.closed = true;
        state.pieces.clear();
        state.unsent = 0;
        if let Some(driver) = state.driver.take() {
            driver.wake();
        }
    }

    /// Whether the connection is gone; if not, `cx` is woken when it is.
    pub fn poll_body_gone(&self, cx: &mut Context<'_>) -> bool {
        let mut state = self.state();
        if !state.body_gone {
            state.driver = Some(cx.waker().clone());
        }
        state.body_gone
    }

    /// Bytes queued and not yet taken by the socket.
    pub fn unsent(&self) -> usize {
        self.state().unsent
    }

    /// Whether the client should be disconnected, as of `now`.
    pub fn verdict(&self, now: Instant) -> Option<Verdict> {
        let limits = self.limits;
        let state = self.state();
        if state.closed {
            return None;
        }
        if let Some(since) = state.over_since
            && now.saturating_duration_since(since) > limits.slow_client
        {
            return Some(Verdict::FellBehind {
                bytes: limits.max_unsent_bytes,
                for_secs: limits.slow_client.as_secs(),
            });
        }
        if let Some(since) = state.stalled_since
            && now.saturating_duration_since(since) > limits.client_timeout
        {
            return Some(Verdict::StoppedReading {
                for_secs: limits.client_timeout.as_secs(),
            });
        }
        None
    }
}

impl State {
    fn push(&mut self, piece: Bytes) {
        if self.unsent == 0 {
            self.stalled_since = Some(Instant::now());
        }
        self.unsent += piece.len();
        if self.unsent > self.max_unsent && self.over_since.is_none() {
            self.over_since = Some(Instant::now());
        }
        self.pieces.push_back(piece);
        if let Some(reader) = self.reader.take() {
            reader.wake();
        }
    }
}

/// The header of an unmasked (server) WebSocket text frame of `len` bytes.
pub fn frame_header(len: usize) -> Bytes {
    let mut header = [0u8; 10];
    header[0] = 0x81; // FIN, text
    let used = match len {
        0..=125 => {
            header[1] = len as u8;
            2
        }
        126..=0xffff => {
            header[1] = 126;
            header[2..4].copy_from_slice(&(len as u16).to_be_bytes());
            4
        }
        _ => {
            header[1] = 127;
            header[2..10].copy_from_slice(&(len as u64).to_be_bytes());
            10
        }
    };
    Bytes::copy_from_slice(&header[..used])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn take_all(outbox: &Outbox) -> Vec<u8> {
        let waker = Waker::noop();
        let mut cx = Context::from_waker(waker);
        let mut out = Vec::new();
        while let Poll::Ready(Some(piece)) = outbox.poll_take(&mut cx) {
            out.extend_from_slice(&piece);
        }
        out
    }

    fn limits() -> FlowLimits {
        FlowLimits {
            max_unsent_bytes: 10,
            slow_client: Duration::from_secs(10),
            client_timeout: Duration::from_secs(30),
        }
    }

    #[test]
    fn headers_follow_rfc_6455_lengths() {
        assert_eq!(&frame_header(5)[..], [0x81, 5]);
        assert_eq!(&frame_header(126)[..], [0x81, 126, 0, 126]);
        assert_eq!(
            &frame_header(70_000)[..],
            [0x81, 127, 0, 0, 0, 0, 0, 1, 0x11, 0x70]
        );
    }

    #[test]
    fn frames_come_out_in_order_and_the_payload_is_shared() {
        let outbox = Outbox::new(limits());
        let shared = Bytes::from_static(b"{\"type\":\"x\"}");
        outbox.text(Bytes::from_static(b"hi"));
        outbox.deliver(shared.clone(), None);
        assert_eq!(outbox.unsent(), 2 + 2 + 2 + shared.len());
        let waker = Waker::noop();
        let mut cx = Context::from_waker(waker);
        let mut pieces = Vec::new();
        while let Poll::Ready(Some(piece)) = outbox.poll_take(&mut cx) {
            pieces.push(piece);
        }
        assert_eq!(pieces[3].as_ptr(), shared.as_ptr(), "not copied");
        assert_eq!(outbox.unsent(), 0);
    }

    #[test]
    fn live_copies_of_burst_messages_are_skipped() {
        let outbox = Outbox::new(limits());
        outbox.burst(vec![MessageId(4)], [Bytes::from_static(b"4")]);
        outbox.deliver(Bytes::from_static(b"4"), Some(MessageId(4)));
        outbox.deliver(Bytes::from_static(b"5"), Some(MessageId(5)));
        assert_eq!(take_all(&outbox), [0x81, 1, b'4', 0x81, 1, b'5']);
    }

    #[test]
    fn a_client_is_judged_by_bytes_over_time_not_by_frames() {
        let t0 = Instant::now();
        let outbox = Outbox::new(limits());
        for _ in 0..10_000 {
            outbox.text(Bytes::new());
        }
        // 20,000 bytes of empty frames: over the limit, but not for long.
        assert_eq!(outbox.verdict(t0), None);
        assert_eq!(outbox.verdict(t0 + Duration::from_secs(9)), None);
        assert!(matches!(
            outbox.verdict(t0 + Duration::from_secs(12)),
            Some(Verdict::FellBehind { .. })
        ));
    }

    #[test]
    fn reading_below_the_limit_resets_the_clock() {
        let outbox = Outbox::new(limits());
        let t0 = Instant::now();
        outbox.text(Bytes::from(vec![b'x'; 100]));
        assert_eq!(outbox.verdict(t0), None);
        take_all(&outbox);
        assert_eq!(outbox.verdict(t0 + Duration::from_secs(60)), None);
    }

    #[test]
    fn nothing_taken_for_the_client_timeout_is_a_verdict() {
        let outbox = Outbox::new(limits());
        outbox.text(Bytes::from_static(b"x"));
        let later = Instant::now() + Duration::from_secs(31);
        assert!(matches!(
            outbox.verdict(later),
            Some(Verdict::StoppedReading { for_secs: 30 })
        ));
    }

    #[test]
    fn after_close_only_control_frames_pass_and_then_the_end() {
        let outbox = Outbox::new(limits());
        outbox.text(Bytes::from(vec![b'x'; 100]));
        outbox.close();
        outbox.text(Bytes::from_static(b"late"));
        outbox.control(Bytes::from_static(&[0x88, 0]));
        outbox.finish();
        assert_eq!(take_all(&outbox), [0x88, 0]);
        let waker = Waker::noop();
        assert_eq!(
            outbox.poll_take(&mut Context::from_waker(waker)),
            Poll::Ready(None)
        );
    }
}
