//! Every allowance of one connection, in one place: how big a frame may
//! be, how many requests may wait for the room before the socket is no
//! longer read, how much unread output a client may leave, how often
//! typing and private messages are passed on.
//!
//! [`SessionLimits`] is what [`Settings`] configures; [`Allowances`] is the
//! state that enforces it for one socket. A request is admitted through
//! [`Allowances::take`] and released when answered, and every refusal is a
//! [`Refusal`] that the session reports as `rate_limited`.
//!
//! Before any of that, [`OpenSockets`] decides at the handshake whether a
//! connection may open at all: how many sockets one user, and one client
//! address, may hold on this instance. A [`SocketPermit`] travels with the
//! session and gives its place back when the session ends.
//!
//! Allowances shared by all of a user's sockets live here too: the
//! [`WriteAllowance`], a token bucket per user that every session of the
//! instance holds through one `Arc` and spends before it asks the room to
//! change anything.
//!
//! (About 600 lines with its unit tests: every allowance stays in this
//! one file on purpose, so that "where is the limit for X" has one answer.)

use crate::config::Settings;
use crate::domain::UserId;
use futures_util::task::AtomicWaker;
use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Waker;
use std::time::{Duration, Instant};

/// Smallest limit on one WebSocket frame, in bytes; a bigger frame closes
/// the connection with code 1009. See [`SessionLimits::max_frame_bytes`].
const MIN_FRAME_BYTES: usize = 64 * 1024;

/// A client repeating "still typing" more often than this is not passed
/// on: the browser sends it every 2 s.
const TYPING_REPEAT: Duration = Duration::from_secs(1);

/// Typing changes passed on at once, and how fast the allowance returns:
/// plenty for a person (a change every 2 s, plus one per send or clear),
/// far too little to flood a room by alternating true and false.
const TYPING_BURST: u32 = 4;
const TYPING_REFILL: Duration = Duration::from_millis(500);

/// Private messages sent at once, and how fast the allowance returns, so
/// that one user cannot bury another's connections.
const PRIVATE_BURST: u32 = 10;
const PRIVATE_REFILL: Duration = Duration::from_millis(200);

/// The limits a session enforces, from [`Settings`].
#[derive(Debug, Clone)]
pub struct SessionLimits {
    /// Ping interval.
    pub heartbeat_interval: Duration,
    /// Silence before the connection is closed.
    pub client_timeout: Duration,
    /// Unread output a client may leave for longer than `slow_client`.
    pub max_unsent_bytes: usize,
    /// How long unread output may stay over `max_unsent_bytes`.
    pub slow_client: Duration,
    /// Requests that may wait for their answer before the socket is no
    /// longer read (back-pressure instead of a refusal).
    pub request_queue: usize,
    /// Longest message, in characters.
    pub max_message_chars: usize,
    /// Distinct emoji one message may carry.
    pub max_reactions: usize,
}

impl SessionLimits {
    /// Largest frame accepted: room for the longest allowed message even
    /// if every character is JSON-escaped (`\u0001` is six bytes), plus the
    /// frame's other fields, so a valid message never closes the socket.
    pub fn max_frame_bytes(&self) -> usize {
        (self.max_message_chars.saturating_mul(6) + 4096).max(MIN_FRAME_BYTES)
    }
}

impl From<&Settings> for SessionLimits {
    fn from(s: &Settings) -> Self {
        SessionLimits {
            heartbeat_interval: s.heartbeat_interval,
            client_timeout: s.client_timeout,
            max_unsent_bytes: s.max_unsent_bytes,
            slow_client: s.slow_client,
            request_queue: s.request_queue,
            max_message_chars: s.max_message_chars,
            max_reactions: s.max_reactions,
        }
    }
}

/// How long a client that asked for a page before the last one came is
/// told to wait: about as long as the room takes to answer under load.
const IN_FLIGHT_RETRY: Duration = Duration::from_millis(100);

/// Why a request was refused by an allowance; the client gets
/// `rate_limited` with [`retry_after`](Refusal::retry_after).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// A history page is still on its way.
    #[error("wait for the previous history page before asking for the next")]
    HistoryPending,
    /// A list of who reacted is still on its way.
    #[error("wait for the previous list of who reacted before asking for the next")]
    ReactorsPending,
    /// The private-message allowance is spent.
    #[error("too many private messages at once; this one was not sent")]
    TooManyPrivate {
        /// Until the next one is allowed.
        retry_after: Duration,
    },
    /// The user's write allowance (all their sockets) is spent.
    #[error(
        "you are writing faster than {per_sec} messages, edits, deletions or reactions a \
         second; this was not done, try again in {:.1} s",
        retry_after.as_secs_f64()
    )]
    WriteRate {
        /// Until the next write is allowed.
        retry_after: Duration,
        /// The allowance's rate.
        per_sec: u32,
    },
}

impl Refusal {
    /// How long the client should wait before trying again.
    pub fn retry_after(&self) -> Duration {
        match self {
            Refusal::HistoryPending | Refusal::ReactorsPending => IN_FLIGHT_RETRY,
            Refusal::TooManyPrivate { retry_after } | Refusal::WriteRate { retry_after, .. } => {
                *retry_after
            }
        }
    }
}

/// One user's writes (posts, edits, deletions, reactions) over all their
/// sockets on this instance: a token bucket per user of
/// `CONFAB_WRITE_BURST` tokens that refills at `CONFAB_WRITE_PER_SEC`.
/// Shared by every session (an `Arc`), so opening more sockets buys no
/// more writes.
pub struct WriteAllowance {
    /// `None` when `CONFAB_WRITE_PER_SEC` is 0: no allowance.
    buckets: Option<DefaultKeyedRateLimiter<UserId>>,
    per_sec: u32,
}

impl std::fmt::Debug for WriteAllowance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteAllowance")
            .field("per_sec", &self.per_sec)
            .finish_non_exhaustive()
    }
}

impl WriteAllowance {
    /// The allowance `settings` describe, shared by every session.
    pub fn new(settings: &Settings) -> Arc<Self> {
        let buckets = NonZeroU32::new(settings.write_per_sec).map(|per_sec| {
            let burst = NonZeroU32::new(settings.write_burst).unwrap_or(per_sec);
            RateLimiter::dashmap(Quota::per_second(per_sec).allow_burst(burst))
        });
        Arc::new(WriteAllowance {
            buckets,
            per_sec: settings.write_per_sec,
        })
    }

    /// Spends one write of `user`'s allowance, or says how long until one
    /// is left.
    pub fn spend(&self, user: UserId) -> Result<(), Refusal> {
        let Some(buckets) = &self.buckets else {
            return Ok(());
        };
        buckets
            .check_key(&user)
            .map_err(|not_until| Refusal::WriteRate {
                retry_after: not_until.wait_time_from(buckets.clock().now()),
                per_sec: self.per_sec,
            })
    }
}

/// The requests of one socket that wait for their answer, against
/// `CONFAB_REQUEST_QUEUE`. Requests are never refused for being many:
/// while the queue is full the frame guard (`frame_guard.rs`) stops
/// reading the socket, so the client's own TCP window holds the rest, and
/// reading resumes as answers come back. The count may pass the limit by
/// the frames one read of the socket had already brought in.
#[derive(Debug)]
pub struct RequestQueue {
    waiting: AtomicUsize,
    limit: usize,
    /// The frame guard, parked while the queue is full.
    reader: AtomicWaker,
}

impl RequestQueue {
    /// An empty queue of at most `limit` requests.
    pub fn new(limit: usize) -> Arc<Self> {
        Arc::new(RequestQueue {
            waiting: AtomicUsize::new(0),
            limit,
            reader: AtomicWaker::new(),
        })
    }

    fn add(&self) {
        self.waiting.fetch_add(1, Ordering::AcqRel);
    }

    fn done(&self) {
        let before = self.waiting.fetch_sub(1, Ordering::AcqRel);
        if before <= self.limit {
            self.reader.wake();
        }
    }

    /// Whether the socket should not be read now; if so, `waker` is woken
    /// when it may be again.
    pub fn is_full(&self, waker: &Waker) -> bool {
        if self.waiting.load(Ordering::Acquire) < self.limit {
            return false;
        }
        self.reader.register(waker);
        // An answer may have come between the check and the registration.
        self.waiting.load(Ordering::Acquire) >= self.limit
    }

    /// Whether the socket is not being read because of this queue.
    pub fn holds_back(&self) -> bool {
        self.waiting.load(Ordering::Acquire) >= self.limit
    }
}

/// Which allowance a request to the room counts against.
#[derive(Debug, Clone, Copy)]
pub enum Slot {
    /// Posts, edits, deletions, reactions (and private messages): never
    /// refused for being many; past `CONFAB_REQUEST_QUEUE` waiting, the
    /// socket is simply not read (see [`RequestQueue`]).
    Request,
    /// History pages: one at a time, so one client cannot pile up pages in
    /// its own output buffer. (Not pipelining of writes: a page is only
    /// asked for after the last one was read.)
    History,
    /// Full lists of who reacted: one at a time, for the same reason (a
    /// list can hold every member of a big room).
    Reactors,
}

/// The allowances of one connection, as they stand.
#[derive(Debug)]
pub struct Allowances {
    /// Requests waiting for the room or the registry, shared with the
    /// frame guard that stops reading the socket when it is full.
    requests: Arc<RequestQueue>,
    /// A `history` request is being answered; the next waits for it.
    history_in_flight: bool,
    /// A `reactors` request is being answered; the next waits for it.
    reactors_in_flight: bool,
    /// Last typing state passed on to the room, and when.
    typing: Option<(bool, Instant)>,
    typing_budget: Budget,
    private_budget: Budget,
}

impl Allowances {
    /// Fresh allowances, counting requests in `requests`.
    pub fn new(requests: Arc<RequestQueue>) -> Self {
        Allowances {
            requests,
            history_in_flight: false,
            reactors_in_flight: false,
            typing: None,
            typing_budget: Budget::new(TYPING_BURST, TYPING_REFILL),
            private_budget: Budget::new(PRIVATE_BURST, PRIVATE_REFILL),
        }
    }

    /// Counts one more request in flight in `slot`, or refuses it.
    pub fn take(&mut self, slot: Slot) -> Result<(), Refusal> {
        match slot {
            Slot::History if self.history_in_flight => Err(Refusal::HistoryPending),
            Slot::Reactors if self.reactors_in_flight => Err(Refusal::ReactorsPending),
            Slot::Request => {
                self.requests.add();
                Ok(())
            }
            Slot::History => {
                self.history_in_flight = true;
                Ok(())
            }
            Slot::Reactors => {
                self.reactors_in_flight = true;
                Ok(())
            }
        }
    }

    /// A request admitted by [`take`](Self::take) was answered.
    pub fn release(&mut self, slot: Slot) {
        match slot {
            Slot::Request => self.requests.done(),
            Slot::History => self.history_in_flight = false,
            Slot::Reactors => self.reactors_in_flight = false,
        }
    }

    /// Spends one private message of the allowance.
    pub fn private_message(&mut self, now: Instant) -> Result<(), Refusal> {
        if self.private_budget.try_take(now) {
            Ok(())
        } else {
            Err(Refusal::TooManyPrivate {
                retry_after: self.private_budget.wait(now),
            })
        }
    }

    /// Whether a typing state is worth passing on: not a repeat of the last
    /// one within [`TYPING_REPEAT`], and within the typing budget. Typing
    /// hints are never refused out loud; one that is not passed on is
    /// simply dropped.
    pub fn typing(&mut self, typing: bool, now: Instant) -> bool {
        let repeat = self.typing.is_some_and(|(last, at)| {
            last == typing && (!typing || now.duration_since(at) < TYPING_REPEAT)
        });
        if repeat || !self.typing_budget.try_take(now) {
            return false;
        }
        self.typing = Some((typing, now));
        true
    }

    /// Whether the last typing state passed on was "typing".
    pub fn is_typing(&self) -> bool {
        self.typing.is_some_and(|(typing, _)| typing)
    }
}

/// A token bucket: up to `burst` actions at once, then one per `refill`.
#[derive(Debug)]
struct Budget {
    burst: u32,
    refill: Duration,
    tokens: u32,
    /// When the last token was earned (or the bucket was last full).
    since: Instant,
}

impl Budget {
    fn new(burst: u32, refill: Duration) -> Self {
        Budget {
            burst,
            refill,
            tokens: burst,
            since: Instant::now(),
        }
    }

    /// Spends one token if there is one.
    fn try_take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.since).as_nanos();
        let earned = (elapsed / self.refill.as_nanos().max(1)).min(u128::from(self.burst)) as u32;
        if earned > 0 {
            self.tokens = (self.tokens + earned).min(self.burst);
            self.since = if self.tokens == self.burst {
                now
            } else {
                self.since + self.refill * earned
            };
        }
        if self.tokens == 0 {
            return false;
        }
        self.tokens -= 1;
        true
    }

    /// How long from `now` until a token is earned (zero if one is left).
    fn wait(&self, now: Instant) -> Duration {
        if self.tokens > 0 {
            return Duration::ZERO;
        }
        (self.since + self.refill).saturating_duration_since(now)
    }
}

/// Why a connection may not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TooManySockets {
    /// The user holds as many sockets as one user may.
    #[error(
        "you have {0} chat connections open, the most one account may have; close a tab and try again"
    )]
    ForUser(usize),
    /// The client address holds as many sockets as one address may.
    #[error(
        "{0} chat connections are open from your address, the most one address may have; try again later"
    )]
    ForAddress(usize),
}

/// Open sockets per user and per client address on this instance, against
/// `CONFAB_MAX_SOCKETS_PER_USER` and `CONFAB_MAX_SOCKETS_PER_ADDRESS`.
#[derive(Debug)]
pub struct OpenSockets {
    per_user: Counts<UserId>,
    per_address: Counts<IpAddr>,
}

impl OpenSockets {
    /// Caps from `settings` (0: no cap), shared by every handshake.
    pub fn new(settings: &Settings) -> Arc<Self> {
        Arc::new(OpenSockets {
            per_user: Counts::new(settings.max_sockets_per_user),
            per_address: Counts::new(settings.max_sockets_per_address),
        })
    }

    /// Takes a place for one more socket of `user` from `address`, or says
    /// which cap it would pass. The place is held until the permit drops.
    pub fn admit(
        self: &Arc<Self>,
        user: UserId,
        address: Option<IpAddr>,
    ) -> Result<SocketPermit, TooManySockets> {
        self.per_user.take(user).map_err(TooManySockets::ForUser)?;
        if let Some(address) = address
            && let Err(cap) = self.per_address.take(address)
        {
            self.per_user.give_back(&user);
            return Err(TooManySockets::ForAddress(cap));
        }
        Ok(SocketPermit {
            sockets: self.clone(),
            user,
            address,
        })
    }
}

/// One open socket's place in [`OpenSockets`], given back on drop.
#[derive(Debug)]
pub struct SocketPermit {
    sockets: Arc<OpenSockets>,
    user: UserId,
    address: Option<IpAddr>,
}

impl Drop for SocketPermit {
    fn drop(&mut self) {
        self.sockets.per_user.give_back(&self.user);
        if let Some(address) = &self.address {
            self.sockets.per_address.give_back(address);
        }
    }
}

/// How many of something are open, under a cap.
#[derive(Debug)]
struct Counts<K> {
    cap: usize,
    open: Mutex<HashMap<K, usize>>,
}

impl<K: Hash + Eq + Clone> Counts<K> {
    fn new(cap: usize) -> Self {
        Counts {
            cap,
            open: Mutex::new(HashMap::new()),
        }
    }

    fn map(&self) -> MutexGuard<'_, HashMap<K, usize>> {
        // Each operation is one lookup and one write: a panic elsewhere
        // cannot leave the map half-changed.
        self.open
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// Counts one more for `key`, or returns the cap it would pass.
    fn take(&self, key: K) -> Result<(), usize> {
        let mut map = self.map();
        let count = map.entry(key).or_insert(0);
        if self.cap != 0 && *count >= self.cap {
            return Err(self.cap);
        }
        *count += 1;
        Ok(())
    }

    fn give_back(&self, key: &K) {
        let mut map = self.map();
        if let Some(count) = map.get_mut(key) {
            *count -= 1;
            if *count == 0 {
                map.remove(key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_allows_a_burst_then_one_per_refill() {
        let mut budget = Budget::new(3, Duration::from_millis(100));
        let t0 = budget.since;
        assert!((0..3).all(|_| budget.try_take(t0)));
        assert!(!budget.try_take(t0), "the burst is spent");
        assert!(!budget.try_take(t0 + Duration::from_millis(99)));
        assert!(budget.try_take(t0 + Duration::from_millis(100)));
        assert!(!budget.try_take(t0 + Duration::from_millis(150)));
        assert!(budget.try_take(t0 + Duration::from_millis(200)));
    }

    #[test]
    fn a_budget_refills_to_its_burst_and_no_more() {
        let mut budget = Budget::new(2, Duration::from_millis(10));
        let t0 = budget.since;
        assert!(budget.try_take(t0) && budget.try_take(t0));
        let later = t0 + Duration::from_secs(60);
        assert!(budget.try_take(later) && budget.try_take(later));
        assert!(!budget.try_take(later), "a long pause earns only the burst");
    }

    #[test]
    fn socket_caps_count_per_user_and_per_address_and_give_places_back() {
        let settings = Settings {
            max_sockets_per_user: 2,
            max_sockets_per_address: 3,
            ..Settings::default()
        };
        let sockets = OpenSockets::new(&settings);
        let here: Option<IpAddr> = Some([127, 0, 0, 1].into());
        let a1 = sockets.admit(UserId(1), here).unwrap();
        let _a2 = sockets.admit(UserId(1), here).unwrap();
        assert_eq!(
            sockets.admit(UserId(1), here).unwrap_err(),
            TooManySockets::ForUser(2)
        );
        let _b1 = sockets.admit(UserId(2), here).unwrap();
        assert_eq!(
            sockets.admit(UserId(2), here).unwrap_err(),
            TooManySockets::ForAddress(3)
        );
        drop(a1);
        let _b2 = sockets.admit(UserId(2), here).unwrap();
        let elsewhere: Option<IpAddr> = Some([10, 0, 0, 1].into());
        assert!(sockets.admit(UserId(3), elsewhere).is_ok());
        assert!(
            sockets.per_user.map().get(&UserId(3)).is_none(),
            "given back on drop"
        );
    }

    #[test]
    fn a_full_request_queue_holds_reading_back_until_an_answer_comes() {
        struct Flag(std::sync::atomic::AtomicBool);
        impl std::task::Wake for Flag {
            fn wake(self: Arc<Self>) {
                self.0.store(true, Ordering::SeqCst);
            }
        }
        let woken = Arc::new(Flag(std::sync::atomic::AtomicBool::new(false)));
        let waker = Waker::from(woken.clone());
        let queue = RequestQueue::new(2);
        let mut allowances = Allowances::new(queue.clone());
        assert!(allowances.take(Slot::Request).is_ok());
        assert!(!queue.is_full(&waker));
        assert!(
            allowances.take(Slot::Request).is_ok(),
            "never refused, only counted"
        );
        assert!(queue.is_full(&waker) && queue.holds_back());
        allowances.release(Slot::Request);
        assert!(woken.0.load(Ordering::SeqCst), "the reader is woken");
        assert!(!queue.is_full(&waker));
    }

    #[test]
    fn frames_fit_the_longest_message() {
        let limits = |max_message_chars| SessionLimits {
            heartbeat_interval: Duration::from_secs(1),
            client_timeout: Duration::from_secs(2),
            max_unsent_bytes: 1,
            slow_client: Duration::from_secs(1),
            request_queue: 1,
            max_message_chars,
            max_reactions: 20,
        };
        assert_eq!(limits(4000).max_frame_bytes(), MIN_FRAME_BYTES);
        assert!(limits(20_000).max_frame_bytes() >= 20_000 * 6);
    }
}
