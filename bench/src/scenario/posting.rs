//! The engine of `burst` and `ingest`: rooms whose members read everything
//! while some of them post through a window of unacknowledged posts.
//!
//! Every socket has a reader task; a member that posts also has a sender
//! task holding the socket's write half, which the reader tells about
//! answers to its posts (its own echo, or an `error` frame). A post is a
//! [`Stamp`] (sender, sequence number, first send time), so the echo gives
//! the post→echo latency and every reader keeps a [`SeqTracker`] per sender
//! of its room. With client ids on, each post carries `b<run>-<sender>-<seq>`
//! as its `client_id`, and an error frame naming it says which post was
//! refused; with `retry`, that post is sent again, same text and same
//! client id, after the frame's `retry_after_ms`. Against a server that
//! does not know client ids, refusals are counted but not attributed.
//!
//! The [`Ledger`] of each sender (what was sent, refused, echoed) and the
//! readers' trackers and arrival orders make the [`Outcome`]; the pure
//! arithmetic ([`Ledger`], [`check_order`], [`lost_deliveries`]) is tested
//! below.

use crate::accounts::Account;
use crate::clock;
use crate::connect::{self, Dialer, Server, Socket};
use crate::frames::{self, Incoming, Stamp};
use crate::stats::{LatencySink, LatencySummary, SeqTracker};
use anyhow::Context;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt, TryStreamExt, stream};
use serde::Serialize;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::Message;

/// What one stage of posting asks for.
#[derive(Debug, Clone)]
pub struct Load {
    /// Tells this stage's posts from any other's in the same rooms.
    pub run: u32,
    /// The rooms, each with `members` sockets.
    pub rooms: Vec<String>,
    /// Sockets per room.
    pub members: usize,
    /// The first this many members of each room post.
    pub senders: usize,
    /// Posts per sender, at most.
    pub messages: u32,
    /// Posts per second per sender; `None`: as fast as the window allows.
    pub rate: Option<f64>,
    /// Stop starting new posts after this long (answers are still awaited).
    pub send_for: Option<Duration>,
    /// Posts a sender may have unanswered.
    pub window: u64,
    /// Bytes of each post's text.
    pub size: usize,
    /// Send a `client_id` with each post.
    pub client_ids: bool,
    /// Send refused posts again after their `retry_after_ms`.
    pub retry: bool,
    /// Keep every member's arrival order (ids), to compare them.
    pub record_order: bool,
    /// How long to wait for deliveries after the last answer.
    pub drain: Duration,
    /// Give up by then.
    pub deadline: Instant,
}

/// An answer to one of a sender's posts, passed from its reader.
#[derive(Debug)]
enum Answer {
    /// The post came back on the author's socket: it is stored.
    Echo { seq: u32, sent_nanos: u64 },
    /// An error frame; `seq` when it named the post's client id.
    Refused {
        seq: Option<u32>,
        retry_after_ms: Option<u64>,
    },
}

/// The client id of post `seq` of `sender` in `run`.
pub fn client_id(run: u32, sender: u32, seq: u32) -> String {
    format!("b{run}-{sender}-{seq}")
}

/// The sequence number a client id of `sender` in `run` names.
pub fn client_id_seq(id: &str, run: u32, sender: u32) -> Option<u32> {
    let rest = id.strip_prefix(&format!("b{run}-{sender}-"))?;
    rest.parse().ok()
}

/// One post's history, as its sender saw it.
#[derive(Debug, Clone, Copy, Default)]
struct PostState {
    first_sent_nanos: u64,
    attempts: u32,
    refusals: u32,
    echoes: u32,
}

/// What a sender sent and what became of it.
#[derive(Debug, Clone, Default)]
pub struct Ledger {
    posts: Vec<PostState>,
    /// Error frames that named no post (a server without client ids).
    unattributed: u64,
    /// Of the refusals, those that carried `retry_after_ms`.
    with_retry_after: u64,
}

/// A ledger summed up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct LedgerSummary {
    /// Distinct posts.
    pub posts: u64,
    /// Frames sent, retries included.
    pub attempts: u64,
    /// Posts that were echoed (stored).
    pub accepted: u64,
    /// Refusals (error frames answering a post).
    pub refused: u64,
    /// Refusals that carried `retry_after_ms`.
    pub refused_with_retry_after: u64,
    /// Posts refused at least once.
    pub refused_posts: u64,
    /// Posts refused at least once and echoed later (through a retry).
    pub refused_then_accepted: u64,
    /// Posts never echoed.
    pub never_accepted: u64,
    /// Posts echoed more than once (stored twice).
    pub accepted_twice: u64,
    /// Error frames that named no post.
    pub unattributed: u64,
}

impl LedgerSummary {
    /// Adds another sender's summary.
    pub fn add(&mut self, o: &LedgerSummary) {
        self.posts += o.posts;
        self.attempts += o.attempts;
        self.accepted += o.accepted;
        self.refused += o.refused;
        self.refused_with_retry_after += o.refused_with_retry_after;
        self.refused_posts += o.refused_posts;
        self.refused_then_accepted += o.refused_then_accepted;
        self.never_accepted += o.never_accepted;
        self.accepted_twice += o.accepted_twice;
        self.unattributed += o.unattributed;
    }
}

impl Ledger {
    /// Notes a send of `seq` at `now`; returns the first send's time (the
    /// one its stamp carries).
    fn sent(&mut self, seq: u32, now: u64) -> u64 {
        let i = seq as usize;
        if self.posts.len() <= i {
            self.posts.resize(i + 1, PostState::default());
        }
        let post = &mut self.posts[i];
        if post.attempts == 0 {
            post.first_sent_nanos = now;
        }
        post.attempts += 1;
        post.first_sent_nanos
    }

    /// Notes a refusal, of `seq` if the frame named it.
    fn refused(&mut self, seq: Option<u32>, retry_after: bool) {
        self.with_retry_after += u64::from(retry_after);
        match seq.and_then(|s| self.posts.get_mut(s as usize)) {
            Some(post) => post.refusals += 1,
            None => self.unattributed += 1,
        }
    }

    /// Notes an echo of `seq`; true the first time.
    fn echoed(&mut self, seq: u32) -> bool {
        match self.posts.get_mut(seq as usize) {
            Some(post) => {
                post.echoes += 1;
                post.echoes == 1
            }
            None => false,
        }
    }

    /// Whether `seq` was echoed.
    pub fn accepted(&self, seq: u32) -> bool {
        self.posts.get(seq as usize).is_some_and(|p| p.echoes > 0)
    }

    /// The sums.
    pub fn summary(&self) -> LedgerSummary {
        let sent = self.posts.iter().filter(|p| p.attempts > 0);
        let mut s = LedgerSummary {
            unattributed: self.unattributed,
            refused_with_retry_after: self.with_retry_after,
            ..LedgerSummary::default()
        };
        for p in sent {
            s.posts += 1;
            s.attempts += u64::from(p.attempts);
            s.accepted += u64::from(p.echoes > 0);
            s.refused += u64::from(p.refusals);
            s.refused_posts += u64::from(p.refusals > 0);
            s.refused_then_accepted += u64::from(p.refusals > 0 && p.echoes > 0);
            s.never_accepted += u64::from(p.echoes == 0);
            s.accepted_twice += u64::from(p.echoes > 1);
        }
        s.refused += self.unattributed;
        s
    }
}

/// Whether members agree on the order of what they received.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct OrderCheck {
    /// Members compared.
    pub members: u64,
    /// Members whose arrivals came in increasing message id: any two of
    /// them agree on the order of every pair both received.
    pub in_id_order: u64,
    /// Members whose arrival sequence is identical to the longest one.
    pub identical: u64,
    /// Every member in id order.
    pub same_order: bool,
}

/// Compares the members' arrival orders (message ids) of one room.
pub fn check_order(orders: &[&[i64]]) -> OrderCheck {
    let longest = orders
        .iter()
        .max_by_key(|o| o.len())
        .copied()
        .unwrap_or(&[]);
    let in_id_order = orders
        .iter()
        .filter(|o| o.windows(2).all(|w| w[0] < w[1]))
        .count() as u64;
    OrderCheck {
        members: orders.len() as u64,
        in_id_order,
        identical: orders.iter().filter(|o| **o == longest).count() as u64,
        same_order: in_id_order == orders.len() as u64,
    }
}

/// Deliveries one member missed: posts of its room's senders that were
/// echoed (stored) but never reached it; and those it got that were never
/// echoed to their author.
pub fn lost_deliveries(trackers: &[SeqTracker], ledgers: &[&Ledger]) -> (u64, u64) {
    let (mut lost, mut unconfirmed) = (0, 0);
    for (tracker, ledger) in trackers.iter().zip(ledgers) {
        for seq in 0..ledger.posts.len() as u32 {
            match (ledger.accepted(seq), tracker.has(seq)) {
                (true, false) => lost += 1,
                (false, true) => unconfirmed += 1,
                _ => {}
            }
        }
    }
    (lost, unconfirmed)
}

/// What every task shares with the coordinator.
struct Shared {
    load: Load,
    echo_latency: LatencySink,
    /// Live deliveries of this run's posts, duplicates included.
    deliveries: AtomicU64,
    /// Echoes per room (each should reach every member).
    accepted: Vec<AtomicU64>,
    /// When the latest echo arrived.
    last_echo: AtomicU64,
}

/// One member's reading, at the end.
#[derive(Debug, Default)]
pub struct ReaderOutcome {
    /// The member's room.
    pub room: usize,
    /// Per sender of its room.
    pub trackers: Vec<SeqTracker>,
    /// Message ids in arrival order (with `record_order`).
    pub order: Vec<i64>,
    /// Live deliveries of this run's posts.
    pub received: u64,
    /// Error frames, by code.
    pub errors: BTreeMap<String, u64>,
    /// How the socket ended, if it did: the close code, or why not.
    pub closed: Option<String>,
}

struct Reader {
    shared: Arc<Shared>,
    me: Option<u32>,
    answers: Option<mpsc::UnboundedSender<Answer>>,
    out: ReaderOutcome,
}

impl Reader {
    fn on_text(&mut self, text: &str) {
        match frames::parse(text) {
            Ok(Incoming::Chat {
                text,
                history: false,
                id,
                ..
            }) => self.on_chat(&text, id),
            Ok(Incoming::Error {
                code,
                retry_after_ms,
                client_id,
            }) => {
                *self.out.errors.entry(code.into_owned()).or_default() += 1;
                if let (Some(me), Some(answers)) = (self.me, &self.answers) {
                    let seq = client_id.and_then(|c| client_id_seq(&c, self.shared.load.run, me));
                    let _ = answers.send(Answer::Refused {
                        seq,
                        retry_after_ms,
                    });
                }
            }
            Ok(_) => {}
            Err(_) => *self.out.errors.entry("garbled".into()).or_default() += 1,
        }
    }

    fn on_chat(&mut self, text: &str, id: Option<i64>) {
        let Some(stamp) = Stamp::parse(text) else {
            return;
        };
        let load = &self.shared.load;
        if stamp.run != load.run {
            return;
        }
        let Some(local) = (stamp.sender as usize)
            .checked_sub(self.out.room * load.senders)
            .filter(|&k| k < load.senders)
        else {
            *self.out.errors.entry("misrouted".into()).or_default() += 1;
            return;
        };
        self.out.trackers[local].record(stamp.seq);
        self.out.received += 1;
        self.shared.deliveries.fetch_add(1, Ordering::Relaxed);
        if load.record_order {
            self.out.order.push(id.unwrap_or(-1));
        }
        if self.me == Some(stamp.sender)
            && let Some(answers) = &self.answers
        {
            let _ = answers.send(Answer::Echo {
                seq: stamp.seq,
                sent_nanos: stamp.sent_nanos,
            });
        }
    }
}

async fn read(
    mut source: SplitStream<Socket>,
    mut stop: watch::Receiver<bool>,
    mut r: Reader,
) -> ReaderOutcome {
    loop {
        tokio::select! {
            biased;
            _ = stop.changed() => break,
            frame = source.next(), if r.out.closed.is_none() => match frame {
                Some(Ok(Message::Text(text))) => r.on_text(&text),
                Some(Ok(Message::Close(close))) => {
                    r.out.closed = Some(close.map_or("close without code".into(), |c| u16::from(c.code).to_string()));
                    r.answers = None;
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    r.out.closed = Some(format!("error: {e}"));
                    r.answers = None;
                }
                None => {
                    r.out.closed = Some("dropped without a close frame".into());
                    r.answers = None;
                }
            },
        }
    }
    r.out
}

/// A sender at the end.
#[derive(Debug, Default)]
pub struct SenderOutcome {
    /// Which sender (numbered over all rooms).
    pub id: u32,
    /// Its posts.
    pub ledger: Ledger,
    /// Why it stopped early, if it did.
    pub failure: Option<String>,
}

async fn send(
    id: u32,
    mut sink: SplitSink<Socket, Message>,
    mut answers: mpsc::UnboundedReceiver<Answer>,
    shared: Arc<Shared>,
    start_nanos: u64,
    room: usize,
) -> (SenderOutcome, SplitSink<Socket, Message>) {
    let load = &shared.load;
    let mut out = SenderOutcome {
        id,
        ..Default::default()
    };
    let stop_new = load.send_for.map(|d| start_nanos + d.as_nanos() as u64);
    let deadline = tokio::time::Instant::from_std(load.deadline);
    let mut next_seq = 0u32;
    let mut in_flight = 0u64;
    let mut retries: BinaryHeap<Reverse<(u64, u32)>> = BinaryHeap::new();
    // At a rate, senders keep the same period but not the same phase: each
    // starts its own fraction of a period later, as independent people
    // would. (All in step, a thousand senders would post in one wave every
    // period, and the latency measured would be the wave's, not the
    // server's at that rate.)
    let senders = (load.rooms.len() * load.senders).max(1);
    let start_nanos = start_nanos
        + load.rate.map_or(0, |rate| {
            (f64::from(id) / senders as f64 / rate * 1e9) as u64
        });
    tokio::time::sleep_until(tokio::time::Instant::from_std(clock::instant_at(
        start_nanos,
    )))
    .await;
    loop {
        let now = clock::now_nanos();
        let more_new = next_seq < load.messages && stop_new.is_none_or(|t| now < t);
        if !more_new && in_flight == 0 && retries.is_empty() {
            break;
        }
        // What goes next, and when: a due retry first, then a new post.
        let new_due = load.rate.map_or(now, |rate| {
            start_nanos + (f64::from(next_seq) / rate * 1e9) as u64
        });
        let next = match retries.peek() {
            Some(Reverse((due, seq))) if !more_new || *due <= new_due => Some((*due, Some(*seq))),
            _ if more_new => Some((new_due, None)),
            _ => None,
        };
        let can_send = in_flight < load.window && next.is_some();
        let due_at = tokio::time::Instant::from_std(clock::instant_at(next.map_or(now, |n| n.0)));
        tokio::select! {
            biased;
            answer = answers.recv() => match answer {
                Some(Answer::Echo { seq, sent_nanos }) => {
                    in_flight = in_flight.saturating_sub(1);
                    if out.ledger.echoed(seq) {
                        let now = clock::now_nanos();
                        shared.echo_latency.record(now.saturating_sub(sent_nanos) / 1000);
                        shared.accepted[room].fetch_add(1, Ordering::Relaxed);
                        shared.last_echo.fetch_max(now, Ordering::Relaxed);
                    }
                }
                Some(Answer::Refused { seq, retry_after_ms }) => {
                    in_flight = in_flight.saturating_sub(1);
                    out.ledger.refused(seq, retry_after_ms.is_some());
                    if load.retry && let (Some(seq), Some(ms)) = (seq, retry_after_ms) {
                        retries.push(Reverse((clock::now_nanos() + ms * 1_000_000, seq)));
                    }
                }
                None => {
                    out.failure = Some("the socket closed".into());
                    break;
                }
            },
            _ = tokio::time::sleep_until(due_at), if can_send => {
                let Some((due, retry)) = next else { continue };
                let seq = match retry {
                    Some(seq) => {
                        retries.pop();
                        seq
                    }
                    None => {
                        next_seq += 1;
                        next_seq - 1
                    }
                };
                // Rate mode stamps the due time (no coordinated omission).
                let stamp_time = if load.rate.is_some() && retry.is_none() { due } else { clock::now_nanos() };
                let sent_nanos = out.ledger.sent(seq, stamp_time);
                let text = Stamp { run: load.run, stage: 0, sender: id, seq, sent_nanos }.encode(load.size);
                let frame = if load.client_ids {
                    frames::chat_frame_with_id(&text, &client_id(load.run, id, seq))
                } else {
                    frames::chat_frame(&text)
                };
                if let Err(e) = sink.send(Message::text(frame)).await {
                    out.failure = Some(format!("sending: {e}"));
                    break;
                }
                in_flight += 1;
            },
            _ = tokio::time::sleep_until(deadline) => {
                out.failure = Some(format!("{in_flight} posts unanswered at the deadline"));
                break;
            }
        }
    }
    (out, sink)
}

/// Everything a stage gives.
#[derive(Debug)]
pub struct Outcome {
    /// Per reader.
    pub readers: Vec<ReaderOutcome>,
    /// Per sender, in id order.
    pub senders: Vec<SenderOutcome>,
    /// Post→echo latency of accepted posts.
    pub echo_latency: LatencySummary,
    /// From the first post to the last echo.
    pub secs: f64,
    /// Seconds from the first post to the last echo or delivery wait.
    pub total_secs: f64,
}

impl Outcome {
    /// The senders' ledgers summed.
    pub fn posts(&self) -> LedgerSummary {
        let mut sum = LedgerSummary::default();
        for s in &self.senders {
            sum.add(&s.ledger.summary());
        }
        sum
    }

    /// Lost and unconfirmed deliveries over every member.
    pub fn losses(&self, senders_per_room: usize) -> (u64, u64) {
        let (mut lost, mut unconfirmed) = (0, 0);
        for r in &self.readers {
            let ledgers: Vec<&Ledger> = (0..senders_per_room)
                .filter_map(|k| self.senders.get(r.room * senders_per_room + k))
                .map(|s| &s.ledger)
                .collect();
            let (l, u) = lost_deliveries(&r.trackers, &ledgers);
            lost += l;
            unconfirmed += u;
        }
        (lost, unconfirmed)
    }

    /// Duplicated and reordered deliveries (per sender) over every member.
    pub fn duplicated_reordered(&self) -> (u64, u64) {
        self.readers
            .iter()
            .flat_map(|r| &r.trackers)
            .fold((0, 0), |(d, o), t| (d + t.duplicated(), o + t.reordered()))
    }

    /// Sockets the server closed, by close code (or how they ended).
    pub fn disconnects(&self) -> BTreeMap<String, u64> {
        let mut by = BTreeMap::new();
        for r in &self.readers {
            if let Some(how) = &r.closed {
                *by.entry(how.clone()).or_default() += 1;
            }
        }
        by
    }

    /// Error frames by code over every socket.
    pub fn errors(&self) -> BTreeMap<String, u64> {
        let mut by = BTreeMap::new();
        for r in &self.readers {
            for (code, n) in &r.errors {
                *by.entry(code.clone()).or_default() += n;
            }
        }
        by
    }

    /// The order check of every room, summed.
    pub fn order(&self, rooms: usize) -> OrderCheck {
        let mut sum = OrderCheck {
            same_order: true,
            ..OrderCheck::default()
        };
        for room in 0..rooms {
            let orders: Vec<&[i64]> = self
                .readers
                .iter()
                .filter(|r| r.room == room)
                .map(|r| r.order.as_slice())
                .collect();
            let c = check_order(&orders);
            sum.members += c.members;
            sum.in_id_order += c.in_id_order;
            sum.identical += c.identical;
            sum.same_order &= c.same_order;
        }
        sum
    }
}

/// Opens every socket (`accounts` dealt over them in turn), runs the
/// stage and closes them.
pub async fn run(
    server: &Server,
    accounts: &[Account],
    load: Load,
    connect_concurrency: usize,
) -> anyhow::Result<Outcome> {
    let (rooms, members, senders) = (load.rooms.len(), load.members, load.senders);
    let shared = Arc::new(Shared {
        echo_latency: LatencySink::default(),
        deliveries: AtomicU64::new(0),
        accepted: (0..rooms).map(|_| AtomicU64::new(0)).collect(),
        last_echo: AtomicU64::new(0),
        load,
    });
    let dialer = Dialer::new(16 * 1024, 0);
    let started = Instant::now();
    let sockets: Vec<(usize, Socket)> = stream::iter(0..rooms * members)
        .map(|i| {
            let (dialer, shared) = (&dialer, &shared);
            async move {
                let room = &shared.load.rooms[i / members];
                let account = &accounts[i % accounts.len()];
                let mut socket = dialer.open(server, room, &account.cookie, i).await?;
                connect::until_joined(&mut socket, Duration::from_secs(60)).await?;
                anyhow::Ok((i, socket))
            }
        })
        .buffer_unordered(connect_concurrency.max(1))
        .try_collect()
        .await?;
    eprintln!(
        "{} sockets joined in {:.1} s",
        sockets.len(),
        started.elapsed().as_secs_f64()
    );

    let (stop, stopped) = watch::channel(false);
    let start_nanos = clock::now_nanos() + 50_000_000;
    let (mut readers, mut sender_tasks, mut quiet) = (Vec::new(), Vec::new(), Vec::new());
    for (i, socket) in sockets {
        let (room, position) = (i / members, i % members);
        let (sink, source) = socket.split();
        let me = (position < senders).then_some((room * senders + position) as u32);
        let (answers, answered) = mpsc::unbounded_channel();
        let reader = Reader {
            shared: shared.clone(),
            me,
            answers: me.map(|_| answers),
            out: ReaderOutcome {
                room,
                trackers: vec![SeqTracker::default(); senders],
                ..Default::default()
            },
        };
        readers.push(tokio::spawn(read(source, stopped.clone(), reader)));
        match me {
            Some(id) => sender_tasks.push(tokio::spawn(send(
                id,
                sink,
                answered,
                shared.clone(),
                start_nanos,
                room,
            ))),
            None => quiet.push(sink),
        }
    }

    let mut sender_outcomes = Vec::new();
    let mut sinks = quiet;
    for task in sender_tasks {
        let (outcome, sink) = task.await.context("a sender panicked")?;
        if let Some(failure) = &outcome.failure {
            eprintln!("sender {}: {failure}", outcome.id);
        }
        sender_outcomes.push(outcome);
        sinks.push(sink);
    }
    sender_outcomes.sort_by_key(|s| s.id);
    // Every echoed post should reach every member of its room.
    let expected: u64 = shared
        .accepted
        .iter()
        .map(|a| a.load(Ordering::Relaxed) * members as u64)
        .sum();
    let drain_until = (Instant::now() + shared.load.drain).min(shared.load.deadline);
    while shared.deliveries.load(Ordering::Relaxed) < expected && Instant::now() < drain_until {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let total_secs = clock::secs_between(start_nanos, clock::now_nanos());
    let _ = stop.send(true);
    let mut reader_outcomes = Vec::new();
    for task in readers {
        reader_outcomes.push(task.await.context("a reader panicked")?);
    }
    let closes = sinks.into_iter().map(|mut sink| async move {
        let _ = tokio::time::timeout(Duration::from_secs(2), sink.close()).await;
    });
    futures_util::future::join_all(closes).await;
    let last_echo = shared.last_echo.load(Ordering::Relaxed);
    Ok(Outcome {
        readers: reader_outcomes,
        senders: sender_outcomes,
        echo_latency: LatencySummary::of(&shared.echo_latency.take()),
        secs: clock::secs_between(start_nanos, last_echo.max(start_nanos)),
        total_secs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};
    use std::collections::HashSet;
    use std::sync::Mutex;
    use tokio::net::TcpListener;
    use tokio::sync::broadcast;

    /// A stand-in for a server with client ids: it refuses the first
    /// attempt of every post with `rate_limited` naming its client id,
    /// stores the second (a new id) and sends it to every socket, in one
    /// order.
    async fn refusing_server() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (room, _) = broadcast::channel::<String>(4096);
        let state = Arc::new(Mutex::new((0i64, HashSet::<String>::new())));
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (room, state) = (room.clone(), state.clone());
                tokio::spawn(async move {
                    let ws = tokio_tungstenite::accept_async(stream).await.unwrap();
                    let (mut sink, mut source) = ws.split();
                    let mut live = room.subscribe();
                    let (reply, mut replies) = mpsc::unbounded_channel::<String>();
                    reply
                        .send(r#"{"type":"user_list","users":["u"]}"#.into())
                        .unwrap();
                    tokio::spawn(async move {
                        loop {
                            let frame = tokio::select! {
                                r = replies.recv() => r,
                                l = live.recv() => l.ok(),
                            };
                            let Some(frame) = frame else { break };
                            if sink.send(Message::text(frame)).await.is_err() {
                                break;
                            }
                        }
                    });
                    while let Some(Ok(Message::Text(text))) = source.next().await {
                        let post: Value = serde_json::from_str(&text).unwrap();
                        let client_id = post["client_id"].as_str().unwrap().to_owned();
                        let mut state = state.lock().unwrap();
                        if state.1.insert(client_id.clone()) {
                            let error = json!({"type": "error", "code": "rate_limited",
                                "message": "slow down", "retry_after_ms": 5, "client_id": client_id});
                            let _ = reply.send(error.to_string());
                        } else {
                            state.0 += 1;
                            let stored = json!({"type": "chat_message", "id": state.0, "user": "u",
                                "message": post["message"], "created_at": "x", "client_id": client_id});
                            let _ = room.send(stored.to_string());
                        }
                    }
                });
            }
        });
        Server::parse(&format!("http://{addr}")).unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn refused_posts_are_retried_until_each_is_stored_once() {
        let server = refusing_server().await;
        let accounts = [Account {
            username: "u".into(),
            cookie: "confab_session=x".into(),
        }];
        let load = Load {
            run: 7,
            rooms: vec!["room".into()],
            members: 3,
            senders: 2,
            messages: 20,
            rate: None,
            send_for: None,
            window: 8,
            size: 32,
            client_ids: true,
            retry: true,
            record_order: true,
            drain: Duration::from_secs(5),
            deadline: Instant::now() + Duration::from_secs(30),
        };
        let outcome = run(&server, &accounts, load, 4).await.unwrap();
        let posts = outcome.posts();
        assert_eq!(
            posts,
            LedgerSummary {
                posts: 40,
                attempts: 80,
                accepted: 40,
                refused: 40,
                refused_with_retry_after: 40,
                refused_posts: 40,
                refused_then_accepted: 40,
                never_accepted: 0,
                accepted_twice: 0,
                unattributed: 0,
            }
        );
        assert_eq!(outcome.losses(2), (0, 0));
        assert_eq!(outcome.duplicated_reordered(), (0, 0));
        let order = outcome.order(1);
        assert!(order.same_order && order.identical == 3, "{order:?}");
        assert!(outcome.disconnects().is_empty());
        assert_eq!(outcome.errors().get("rate_limited"), Some(&40));
        assert_eq!(outcome.echo_latency.count, 40);
        assert!(outcome.readers.iter().all(|r| r.received == 40));
    }

    #[test]
    fn client_ids_name_run_sender_and_post() {
        let id = client_id(7, 3, 41);
        assert_eq!(id, "b7-3-41");
        assert!(id.len() <= 64);
        assert_eq!(client_id_seq(&id, 7, 3), Some(41));
        assert_eq!(client_id_seq(&id, 7, 4), None);
        assert_eq!(client_id_seq(&id, 8, 3), None);
        assert_eq!(client_id_seq("b7-3-x", 7, 3), None);
        // Sender 3 must not claim sender 31's posts.
        assert_eq!(client_id_seq(&client_id(7, 31, 1), 7, 3), None);
    }

    #[test]
    fn the_ledger_follows_refusals_retries_and_echoes() {
        let mut l = Ledger::default();
        assert_eq!(l.sent(0, 100), 100);
        assert_eq!(l.sent(1, 110), 110);
        assert_eq!(l.sent(2, 120), 120);
        l.refused(Some(1), true);
        // The retry keeps the first send's time.
        assert_eq!(l.sent(1, 500), 110);
        assert!(l.echoed(0));
        assert!(l.echoed(1));
        assert!(!l.echoed(1), "a second echo is not a first");
        l.refused(Some(2), true);
        l.refused(None, false);
        assert!(l.accepted(0) && l.accepted(1) && !l.accepted(2));
        assert_eq!(
            l.summary(),
            LedgerSummary {
                posts: 3,
                attempts: 4,
                accepted: 2,
                refused: 3,
                refused_with_retry_after: 2,
                refused_posts: 2,
                refused_then_accepted: 1,
                never_accepted: 1,
                accepted_twice: 1,
                unattributed: 1,
            }
        );
        // An echo of something never sent is ignored.
        assert!(!l.echoed(99));
    }

    #[test]
    fn orders_are_compared_by_message_id() {
        let a: &[i64] = &[1, 2, 3, 5];
        let b: &[i64] = &[1, 2, 3, 5];
        let gap: &[i64] = &[1, 3, 5];
        let swapped: &[i64] = &[1, 3, 2, 5];
        let c = check_order(&[a, b, gap]);
        assert_eq!(
            c,
            OrderCheck {
                members: 3,
                in_id_order: 3,
                identical: 2,
                same_order: true
            }
        );
        let c = check_order(&[a, swapped]);
        assert_eq!((c.in_id_order, c.same_order), (1, false));
        assert!(check_order(&[]).same_order);
    }

    #[test]
    fn losses_count_only_accepted_posts() {
        let mut ledger = Ledger::default();
        for seq in 0..4 {
            ledger.sent(seq, 0);
        }
        ledger.echoed(0);
        ledger.echoed(1);
        ledger.echoed(2);
        // Post 3 was refused: nobody should have it.
        let mut t = SeqTracker::default();
        t.record(0);
        t.record(2);
        t.record(3);
        assert_eq!(lost_deliveries(&[t], &[&ledger]), (1, 1));
    }
}
