//! `soak`: minutes of mixed traffic, a few hostile clients, and the
//! server's memory sampled all along.
//!
//! Well-behaved members post, edit and delete their own messages, react to
//! others', send typing hints, and now and then leave: politely (a close
//! frame) or abruptly (the TCP connection dropped), each time coming back
//! with `?after=<highest id seen>` so the server fills the gap. Every member
//! keeps the set of message ids it has seen, and at the end each one is
//! checked against what anyone saw: nothing lost (a message stored after
//! its first join and not deleted that it never got), nothing duplicated (a
//! live frame of an id it had), nothing reordered (a new id lower than one
//! already seen on the same socket). Edits, reactions and deletions are
//! checked for every member that was in the room from before the change was
//! sent until a second after its author saw it.
//!
//! Hostile clients, on accounts of their own, send malformed JSON, unknown
//! types, wrong field types, texts over the limit, binary frames and now
//! and then a frame over the server's size cap (which closes the socket:
//! they reconnect). The server's RSS is sampled every `--rss-every`
//! seconds; the target is the end within 10 % of minute 2 (`--baseline-secs`).

use super::RunOptions;
use crate::accounts::{self, Account, Site};
use crate::clock;
use crate::connect::{Dialer, Server, Socket};
use crate::frames::{self, Incoming, Stamp};
use crate::report::{self, thousands};
use crate::system::{self, Machine};
use anyhow::bail;
use clap::Args;
use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

/// Options of `soak`.
#[derive(Debug, Args)]
pub struct SoakArgs {
    /// The server.
    #[arg(long, default_value = "http://127.0.0.1:8000")]
    pub url: String,
    /// How long the traffic lasts, in seconds.
    #[arg(long, default_value_t = 600.0)]
    pub duration: f64,
    /// Rooms.
    #[arg(long, default_value_t = 4)]
    pub rooms: usize,
    /// Well-behaved members per room (one account each).
    #[arg(long, default_value_t = 10)]
    pub clients: usize,
    /// Actions (post, edit, react, delete, typing) per second per member.
    #[arg(long, default_value_t = 1.0)]
    pub actions_per_sec: f64,
    /// A member stays connected this long on average before it leaves
    /// and resumes, in seconds.
    #[arg(long, default_value_t = 30.0)]
    pub stay_secs: f64,
    /// Hostile clients (spread over the rooms).
    #[arg(long, default_value_t = 2)]
    pub hostile: usize,
    /// Frames per second of each hostile client.
    #[arg(long, default_value_t = 5.0)]
    pub hostile_per_sec: f64,
    /// Sample the server's RSS this often, in seconds.
    #[arg(long, default_value_t = 10.0)]
    pub rss_every: f64,
    /// The sample the end is compared with (minute 2 by default).
    #[arg(long, default_value_t = 120.0)]
    pub baseline_secs: f64,
    /// Account names are this plus a number (hostile ones: this, `h`, a
    /// number).
    #[arg(long, default_value = "soak")]
    pub user_prefix: String,
    /// Room names are this plus a number.
    #[arg(long, default_value = "soak")]
    pub room_prefix: String,
    /// Accounts signed in at once.
    #[arg(long, default_value_t = 4)]
    pub login_concurrency: usize,
    /// The server's pid; default: found by port.
    #[arg(long = "server-pid")]
    pub server_pid: Option<u32>,
    /// A random seed (default: from the clock).
    #[arg(long)]
    pub seed: Option<u64>,
    /// A free-form label copied into the JSON line.
    #[arg(long)]
    pub label: Option<String>,
}

/// A small xorshift generator: the load needs variety, not quality.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// Uniform in `0..n` (n > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// An exponential wait with mean `mean` seconds.
    fn wait(&mut self, mean: f64) -> Duration {
        Duration::from_secs_f64(-mean * (1.0 - self.unit()).ln())
    }
}

/// A change to a message that every member present should see.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Change {
    Edited {
        id: i64,
        text: String,
    },
    Deleted {
        id: i64,
    },
    Reaction {
        id: i64,
        emoji: String,
        user: String,
        added: bool,
    },
}

impl Change {
    /// Whether `seen` is the server's answer to this change as sent: the
    /// same change, or for a reaction toggle the same message, emoji and
    /// user (whether it added or took back is the server's to say).
    fn answered_by(&self, seen: &Change) -> bool {
        match (self, seen) {
            (
                Change::Reaction {
                    id, emoji, user, ..
                },
                Change::Reaction {
                    id: i2,
                    emoji: e2,
                    user: u2,
                    ..
                },
            ) => id == i2 && emoji == e2 && user == u2,
            _ => self == seen,
        }
    }
}

/// A change its author saw confirmed, with when it was sent and confirmed.
#[derive(Debug, Clone)]
struct Confirmed {
    room: usize,
    change: Change,
    sent_nanos: u64,
    acked_nanos: u64,
}

/// One member's record, kept across its reconnects.
#[derive(Debug, Default)]
struct MemberLog {
    room: usize,
    /// Every chat id seen (history and live).
    seen: BTreeSet<i64>,
    /// Ids up to here were there before the first join.
    boundary: i64,
    /// Changes seen.
    changes: BTreeSet<Change>,
    /// When it was in the room: from `user_list` to leaving.
    present: Vec<(u64, u64)>,
    duplicated: u64,
    reordered: u64,
    /// Ids the resume's catch-up brought that the member had not seen.
    gap_filled: u64,
    resumes: u64,
    polite_leaves: u64,
    abrupt_leaves: u64,
    posts: u64,
    edits: u64,
    reactions: u64,
    deletes: u64,
    typing: u64,
    errors: BTreeMap<String, u64>,
    /// Closes the server chose, by code.
    server_closes: BTreeMap<String, u64>,
    failures: Vec<String>,
}

/// What every task shares.
struct Shared {
    run: u32,
    server: Server,
    dialer: Dialer,
    rooms: Vec<String>,
    end: Instant,
    drain: Duration,
    confirmed: Mutex<Vec<Confirmed>>,
}

impl Shared {
    fn confirm(&self, c: Confirmed) {
        self.confirmed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(c);
    }
}

/// What a member sent and awaits the confirmation of.
#[derive(Debug, Default)]
struct Pending {
    /// Changes sent, with when.
    changes: Vec<(Change, u64)>,
}

const EMOJI: &[&str] = &["👍", "🎉", "❤️"];

/// One well-behaved member, from its first join to the end.
async fn member(
    shared: Arc<Shared>,
    account: Account,
    room: usize,
    index: usize,
    mean_stay: f64,
    per_sec: f64,
    seed: u64,
) -> MemberLog {
    let mut log = MemberLog {
        room,
        boundary: -1,
        ..MemberLog::default()
    };
    let mut rng = Rng::new(seed);
    let mut mine: Vec<i64> = Vec::new();
    let mut seq = 0u32;
    let stop_at = shared.end + shared.drain;
    while Instant::now() < stop_at {
        let after = log.seen.last().copied().filter(|_| log.boundary >= 0);
        let socket = shared
            .dialer
            .open_after(
                &shared.server,
                &shared.rooms[room],
                after,
                &account.cookie,
                index,
            )
            .await;
        let mut socket = match socket {
            Ok(s) => s,
            Err(e) => {
                log.failures.push(format!("connecting: {e:#}"));
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let stay = rng.wait(mean_stay);
        let leave_at = if Instant::now() + stay >= shared.end {
            stop_at
        } else {
            Instant::now() + stay
        };
        let ended = session(
            &shared,
            &mut socket,
            &mut log,
            &mut rng,
            &mut mine,
            &mut seq,
            &account,
            index,
            after.is_some(),
            leave_at,
            per_sec,
        )
        .await;
        if let Some(p) = log.present.last_mut()
            && p.1 == 0
        {
            p.1 = clock::now_nanos();
        }
        match ended {
            Ended::ByServer(code) => {
                *log.server_closes.entry(code).or_default() += 1;
            }
            Ended::Leave => {
                if rng.below(3) == 0 {
                    log.abrupt_leaves += 1;
                    drop(socket);
                } else {
                    log.polite_leaves += 1;
                    let _ = tokio::time::timeout(Duration::from_secs(2), socket.close(None)).await;
                }
            }
        }
        if Instant::now() < shared.end {
            tokio::time::sleep(Duration::from_millis(200 + rng.below(1500) as u64)).await;
        }
    }
    log
}

enum Ended {
    Leave,
    ByServer(String),
}

#[expect(
    clippy::too_many_arguments,
    reason = "one member's state, threaded through its sessions"
)]
async fn session(
    shared: &Shared,
    socket: &mut Socket,
    log: &mut MemberLog,
    rng: &mut Rng,
    mine: &mut Vec<i64>,
    seq: &mut u32,
    account: &Account,
    index: usize,
    resuming: bool,
    leave_at: Instant,
    per_sec: f64,
) -> Ended {
    let mut joined = false;
    let mut conn_highest = i64::MIN;
    let mut pending = Pending::default();
    let mut next_action = tokio::time::Instant::now() + rng.wait(1.0 / per_sec);
    let leave = tokio::time::Instant::from_std(leave_at);
    let end = tokio::time::Instant::from_std(shared.end);
    loop {
        let acting = joined && next_action < end;
        tokio::select! {
            biased;
            frame = socket.next() => {
                let text = match frame {
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(Message::Close(close))) => {
                        return Ended::ByServer(close.map_or("no code".into(), |c| u16::from(c.code).to_string()));
                    }
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => return Ended::ByServer(format!("error: {e}")),
                    None => return Ended::ByServer("dropped".into()),
                };
                let now = clock::now_nanos();
                match frames::parse(&text) {
                    Ok(Incoming::Chat { text, history, id: Some(id), .. }) => {
                        if !joined && log.boundary < 0 && history {
                            // The first join's last ten: what came before us.
                            log.seen.insert(id);
                            continue;
                        }
                        let new = log.seen.insert(id);
                        if !new {
                            if !history {
                                log.duplicated += 1;
                            }
                            continue;
                        }
                        if id < conn_highest {
                            log.reordered += 1;
                        }
                        conn_highest = conn_highest.max(id);
                        if history && resuming {
                            log.gap_filled += 1;
                        }
                        // Our own post: one we may edit or delete.
                        if Stamp::parse(&text).is_some_and(|s| s.run == shared.run && s.sender as usize == index) {
                            mine.push(id);
                        }
                    }
                    Ok(Incoming::Chat { .. }) => {}
                    Ok(Incoming::UserList) if !joined => {
                        joined = true;
                        if log.boundary < 0 {
                            log.boundary = log.seen.last().copied().unwrap_or(0);
                        }
                        log.present.push((now, 0));
                    }
                    Ok(Incoming::Resumed) => log.resumes += 1,
                    Ok(Incoming::Edited { id, text }) => {
                        note(shared, log, &mut pending, Change::Edited { id, text: text.into_owned() }, now);
                    }
                    Ok(Incoming::Deleted { id }) => {
                        mine.retain(|&m| m != id);
                        note(shared, log, &mut pending, Change::Deleted { id }, now);
                    }
                    Ok(Incoming::Reaction { id, emoji, user, added }) => {
                        note(shared, log, &mut pending, Change::Reaction { id, emoji: emoji.into_owned(), user: user.into_owned(), added }, now);
                    }
                    Ok(Incoming::Error { code, .. }) => {
                        *log.errors.entry(code.into_owned()).or_default() += 1;
                    }
                    Ok(_) => {}
                    Err(_) => *log.errors.entry("garbled".into()).or_default() += 1,
                }
            }
            _ = tokio::time::sleep_until(next_action), if acting => {
                next_action = tokio::time::Instant::now() + rng.wait(1.0 / per_sec);
                let (frame, change) = action(shared, log, rng, mine, seq, index, &account.username);
                if let Some(change) = change {
                    pending.changes.push((change, clock::now_nanos()));
                }
                if socket.send(Message::text(frame)).await.is_err() {
                    return Ended::ByServer("send failed".into());
                }
            }
            // Not before the join burst is read: a resume must be whole.
            _ = tokio::time::sleep_until(leave), if joined => return Ended::Leave,
            _ = tokio::time::sleep_until(leave + Duration::from_secs(10)) => {
                return Ended::ByServer("join burst never ended".into());
            }
        }
    }
}

/// Records a change seen; if it answers one this member sent, the change
/// (as the server made it) is confirmed.
fn note(shared: &Shared, log: &mut MemberLog, pending: &mut Pending, change: Change, now: u64) {
    if let Some(i) = pending
        .changes
        .iter()
        .position(|(c, _)| c.answered_by(&change))
    {
        let (_, sent_nanos) = pending.changes.swap_remove(i);
        shared.confirm(Confirmed {
            room: log.room,
            change: change.clone(),
            sent_nanos,
            acked_nanos: now,
        });
    }
    log.changes.insert(change);
}

/// Picks the next thing a member does: its frame and the change it
/// expects to see confirmed.
fn action(
    shared: &Shared,
    log: &mut MemberLog,
    rng: &mut Rng,
    mine: &mut Vec<i64>,
    seq: &mut u32,
    index: usize,
    me: &str,
) -> (String, Option<Change>) {
    let roll = rng.below(100);
    let own = (!mine.is_empty()).then(|| mine[rng.below(mine.len())]);
    let recent: Vec<i64> = log.seen.iter().rev().take(20).copied().collect();
    match (roll, own) {
        (60..=69, Some(id)) => {
            log.edits += 1;
            *seq += 1;
            let text = format!("edited {} {}", shared.run, seq);
            let frame = serde_json::json!({"type": "edit_message", "id": id, "message": text});
            (frame.to_string(), Some(Change::Edited { id, text }))
        }
        (70..=73, Some(id)) => {
            log.deletes += 1;
            mine.retain(|&m| m != id);
            let frame = serde_json::json!({"type": "delete_message", "id": id});
            (frame.to_string(), Some(Change::Deleted { id }))
        }
        (74..=84, _) if !recent.is_empty() => {
            log.reactions += 1;
            let id = recent[rng.below(recent.len())];
            let emoji = EMOJI[rng.below(EMOJI.len())];
            let frame = serde_json::json!({"type": "react", "id": id, "emoji": emoji});
            let change = Change::Reaction {
                id,
                emoji: emoji.to_owned(),
                user: me.to_owned(),
                added: true,
            };
            (frame.to_string(), Some(change))
        }
        (85..=99, _) => {
            log.typing += 1;
            let frame = serde_json::json!({"type": "typing", "typing": rng.below(2) == 0});
            (frame.to_string(), None)
        }
        _ => {
            log.posts += 1;
            *seq += 1;
            let stamp = Stamp {
                run: shared.run,
                stage: log.room as u32,
                sender: index as u32,
                seq: *seq,
                sent_nanos: clock::now_nanos(),
            };
            (frames::chat_frame(&stamp.encode(48)), None)
        }
    }
}

/// A hostile client's record.
#[derive(Debug, Default, Clone, Serialize)]
struct HostileLog {
    frames: u64,
    oversized: u64,
    errors: BTreeMap<String, u64>,
    closes: BTreeMap<String, u64>,
    failures: u64,
}

/// A frame no well-behaved client sends.
fn bad_frame(rng: &mut Rng, max_chars: usize) -> Message {
    match rng.below(9) {
        0 => Message::text("{not json"),
        1 => Message::text("[1,2,3]"),
        2 => Message::text(r#"{"type":"launch_rockets"}"#),
        3 => Message::text(r#"{"type":"edit_message","id":"x","message":5}"#),
        4 => Message::text(r#"{"type":"history","limit":100000}"#),
        5 => Message::text(
            serde_json::json!({"type":"chat_message","message":"x".repeat(max_chars + 1)})
                .to_string(),
        ),
        6 => Message::text(r#"{"type":"react","id":1,"emoji":"not an emoji"}"#),
        7 => Message::binary(vec![0u8; 64]),
        _ => Message::text(r#"{"message":"   "}"#),
    }
}

async fn hostile(
    shared: Arc<Shared>,
    account: Account,
    room: usize,
    index: usize,
    per_sec: f64,
    seed: u64,
) -> HostileLog {
    let mut log = HostileLog::default();
    let mut rng = Rng::new(seed);
    while Instant::now() < shared.end {
        let mut socket = match shared
            .dialer
            .open(&shared.server, &shared.rooms[room], &account.cookie, index)
            .await
        {
            Ok(s) => s,
            Err(_) => {
                log.failures += 1;
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / per_sec));
        let closed = loop {
            tokio::select! {
                frame = socket.next() => match frame {
                    Some(Ok(Message::Text(text))) => {
                        if let Ok(Incoming::Error { code, .. }) = frames::parse(&text) {
                            *log.errors.entry(code.into_owned()).or_default() += 1;
                        }
                    }
                    Some(Ok(Message::Close(close))) => break close.map_or("no code".into(), |c| u16::from(c.code).to_string()),
                    Some(Ok(_)) => {}
                    Some(Err(e)) => break format!("error: {e}"),
                    None => break "dropped".into(),
                },
                _ = tick.tick() => {
                    if Instant::now() >= shared.end {
                        let _ = socket.close(None).await;
                        break "ended".into();
                    }
                    // One frame in 50 is over the server's 64 KiB cap.
                    let frame = if rng.below(50) == 0 {
                        log.oversized += 1;
                        Message::text(serde_json::json!({"type":"chat_message","message":"y".repeat(70 * 1024)}).to_string())
                    } else {
                        bad_frame(&mut rng, 4000)
                    };
                    log.frames += 1;
                    if socket.send(frame).await.is_err() {
                        break "send failed".into();
                    }
                }
            }
        };
        if closed != "ended" {
            *log.closes.entry(closed).or_default() += 1;
        }
    }
    log
}

/// Delivery integrity of the well-behaved members.
#[derive(Debug, Default, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct SoakIntegrity {
    /// (member, message) pairs stored after the member's first join, not
    /// deleted, seen by someone, never seen by the member.
    pub lost: u64,
    /// Live frames of a message the member already had.
    pub duplicated: u64,
    /// New messages that came after a higher id on the same socket.
    pub reordered: u64,
    /// Messages a resume's catch-up brought.
    pub gap_filled: u64,
    /// (member, change) pairs the member should have seen.
    pub changes_expected: u64,
    /// Of those, not seen.
    pub changes_missed: u64,
}

/// Checks every member against what anyone in its room saw.
fn check(logs: &[MemberLog], confirmed: &[Confirmed], margin_nanos: u64) -> SoakIntegrity {
    let mut out = SoakIntegrity::default();
    let rooms = logs.iter().map(|l| l.room).max().map_or(0, |r| r + 1);
    for room in 0..rooms {
        let members: Vec<&MemberLog> = logs.iter().filter(|l| l.room == room).collect();
        let all: BTreeSet<i64> = members
            .iter()
            .flat_map(|l| l.seen.iter().copied())
            .collect();
        let deleted: BTreeSet<i64> = members
            .iter()
            .flat_map(|l| &l.changes)
            .filter_map(|c| match c {
                Change::Deleted { id } => Some(*id),
                _ => None,
            })
            .collect();
        for m in &members {
            out.lost += all
                .range(m.boundary + 1..)
                .filter(|id| !deleted.contains(id) && !m.seen.contains(id))
                .count() as u64;
            out.duplicated += m.duplicated;
            out.reordered += m.reordered;
            out.gap_filled += m.gap_filled;
        }
        for c in confirmed.iter().filter(|c| c.room == room) {
            for m in &members {
                let present = m.present.iter().any(|&(from, to)| {
                    from < c.sent_nanos && (to == 0 || to > c.acked_nanos + margin_nanos)
                });
                if present {
                    out.changes_expected += 1;
                    out.changes_missed += u64::from(!m.changes.contains(&c.change));
                }
            }
        }
    }
    out
}

/// The JSON line of a `soak` run.
#[derive(Debug, Serialize)]
struct SoakResult {
    scenario: &'static str,
    label: Option<String>,
    duration_secs: f64,
    rooms: usize,
    clients_per_room: usize,
    hostile_clients: usize,
    posts: u64,
    edits: u64,
    reactions: u64,
    deletes: u64,
    typing: u64,
    resumes: u64,
    polite_leaves: u64,
    abrupt_leaves: u64,
    integrity: SoakIntegrity,
    /// Error frames the well-behaved members got, by code.
    errors: BTreeMap<String, u64>,
    /// Well-behaved sockets the server closed, by code.
    server_closes: BTreeMap<String, u64>,
    hostile: HostileLog,
    /// (seconds since the start, server RSS in KiB).
    rss_kib: Vec<(f64, u64)>,
    rss_baseline_kib: Option<u64>,
    rss_end_kib: Option<u64>,
    /// End against the baseline, in percent.
    rss_change_percent: Option<f64>,
    machine: Machine,
}

/// Runs `soak`.
pub async fn run(args: SoakArgs, options: RunOptions<'_>) -> anyhow::Result<()> {
    let positive = |x: f64| x > 0.0 && x.is_finite();
    if args.rooms == 0 || args.clients == 0 || !positive(args.duration) {
        bail!("need rooms, clients and a duration");
    }
    let rates = [
        args.actions_per_sec,
        args.stay_secs,
        args.hostile_per_sec,
        args.rss_every,
    ];
    if !rates.into_iter().all(positive) {
        bail!("rates and intervals must be positive");
    }
    let machine = Machine::measure().await;
    let server = Server::parse(&args.url)?;
    let pids = super::server_pids(std::slice::from_ref(&server), args.server_pid.as_slice());
    let total = args.rooms * args.clients;
    system::raise_open_files(total as u64 + args.hostile as u64 + 1024)?;
    let site = Site::new(&server)?;
    let accounts = accounts::sign_in_all(
        &site,
        &args.user_prefix,
        total,
        args.login_concurrency,
        options.sessions,
    )
    .await?;
    let hostile_accounts = accounts::sign_in_all(
        &site,
        &format!("{}h", args.user_prefix),
        args.hostile,
        args.login_concurrency,
        options.sessions,
    )
    .await?;
    let rooms: Vec<String> = (0..args.rooms)
        .map(|r| format!("{}{r}", args.room_prefix))
        .collect();
    // Each room opened by another account: a user may create only a few
    // rooms an hour (CONFAB_ROOMS_PER_HOUR).
    for (r, room) in rooms.iter().enumerate() {
        site.open_room(&accounts[r % accounts.len()], room).await?;
    }
    let started = Instant::now();
    let drain = Duration::from_secs(3);
    let end = (started + Duration::from_secs_f64(args.duration)).min(options.deadline - drain);
    let shared = Arc::new(Shared {
        run: super::run_id(),
        server,
        dialer: Dialer::new(16 * 1024, 0),
        rooms,
        end,
        drain,
        confirmed: Mutex::new(Vec::new()),
    });
    let seed = args.seed.unwrap_or_else(|| u64::from(super::run_id()));
    let members: Vec<_> = accounts
        .into_iter()
        .enumerate()
        .map(|(i, account)| {
            tokio::spawn(member(
                shared.clone(),
                account,
                i / args.clients,
                i,
                args.stay_secs,
                args.actions_per_sec,
                seed.wrapping_add(i as u64 * 7919),
            ))
        })
        .collect();
    let hostiles: Vec<_> = hostile_accounts
        .into_iter()
        .enumerate()
        .map(|(i, account)| {
            tokio::spawn(hostile(
                shared.clone(),
                account,
                i % args.rooms,
                total + i,
                args.hostile_per_sec,
                seed ^ ((i as u64 + 1) << 32),
            ))
        })
        .collect();

    // Sample the server's memory until the members are done.
    let pid = pids.first().copied();
    let mut rss = Vec::new();
    let every = Duration::from_secs_f64(args.rss_every);
    let mut next = started;
    while Instant::now() < end + drain {
        if let Some(kib) = pid.and_then(|p| system::rss_kib(p).ok()) {
            rss.push((started.elapsed().as_secs_f64(), kib));
        }
        next += every;
        tokio::time::sleep_until(tokio::time::Instant::from_std(next.min(end + drain))).await;
    }
    let mut logs = Vec::new();
    for m in members {
        logs.push(m.await?);
    }
    let mut hostile_log = HostileLog::default();
    for h in hostiles {
        let h = h.await?;
        hostile_log.frames += h.frames;
        hostile_log.oversized += h.oversized;
        hostile_log.failures += h.failures;
        for (k, v) in h.errors {
            *hostile_log.errors.entry(k).or_default() += v;
        }
        for (k, v) in h.closes {
            *hostile_log.closes.entry(k).or_default() += v;
        }
    }
    if let Some(kib) = pid.and_then(|p| system::rss_kib(p).ok()) {
        rss.push((started.elapsed().as_secs_f64(), kib));
    }
    let confirmed = shared
        .confirmed
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let integrity = check(&logs, &confirmed, 1_000_000_000);
    let baseline = baseline(&rss, args.baseline_secs);
    let rss_end = rss.last().map(|&(_, k)| k);
    let sum = |f: fn(&MemberLog) -> u64| logs.iter().map(f).sum::<u64>();
    let mut errors = BTreeMap::new();
    let mut server_closes = BTreeMap::new();
    for l in &logs {
        for (k, v) in &l.errors {
            *errors.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &l.server_closes {
            *server_closes.entry(k.clone()).or_default() += v;
        }
        for f in l.failures.iter().take(3) {
            eprintln!("member of room {}: {f}", l.room);
        }
    }
    let result = SoakResult {
        scenario: "soak",
        label: args.label.clone(),
        duration_secs: started.elapsed().as_secs_f64(),
        rooms: args.rooms,
        clients_per_room: args.clients,
        hostile_clients: args.hostile,
        posts: sum(|l| l.posts),
        edits: sum(|l| l.edits),
        reactions: sum(|l| l.reactions),
        deletes: sum(|l| l.deletes),
        typing: sum(|l| l.typing),
        resumes: sum(|l| l.resumes),
        polite_leaves: sum(|l| l.polite_leaves),
        abrupt_leaves: sum(|l| l.abrupt_leaves),
        integrity,
        errors,
        server_closes,
        hostile: hostile_log,
        rss_change_percent: baseline
            .zip(rss_end)
            .map(|(b, e)| 100.0 * (e as f64 - b as f64) / b.max(1) as f64),
        rss_kib: rss,
        rss_baseline_kib: baseline,
        rss_end_kib: rss_end,
        machine,
    };
    print(&result);
    report::emit(&result, options.json_out)
}

/// The sample nearest `at` seconds.
fn baseline(samples: &[(f64, u64)], at: f64) -> Option<u64> {
    samples
        .iter()
        .min_by(|a, b| (a.0 - at).abs().total_cmp(&(b.0 - at).abs()))
        .map(|&(_, k)| k)
}

fn print(r: &SoakResult) {
    let i = &r.integrity;
    let clean = i.lost == 0 && i.duplicated == 0 && i.reordered == 0 && i.changes_missed == 0;
    let rss: Vec<String> = r
        .rss_kib
        .iter()
        .map(|(t, k)| format!("{t:.0}s {}", thousands(*k)))
        .collect();
    report::print_table(
        &format!(
            "soak: {} rooms x {} members, {} hostile, {:.0} s",
            r.rooms, r.clients_per_room, r.hostile_clients, r.duration_secs
        ),
        &[
            (
                "traffic",
                format!(
                    "{} posts, {} edits, {} reactions, {} deletes, {} typing",
                    r.posts, r.edits, r.reactions, r.deletes, r.typing
                ),
            ),
            (
                "leaves",
                format!(
                    "{} polite, {} abrupt; {} resumes filled {} gaps",
                    r.polite_leaves, r.abrupt_leaves, r.resumes, i.gap_filled
                ),
            ),
            (
                "lost/dup/reord",
                format!("{}/{}/{}", i.lost, i.duplicated, i.reordered),
            ),
            (
                "changes",
                format!("{} of {} missed", i.changes_missed, i.changes_expected),
            ),
            ("errors", format!("{:?}", r.errors)),
            ("server closes", format!("{:?}", r.server_closes)),
            (
                "hostile",
                format!(
                    "{} frames ({} oversized): errors {:?}, closes {:?}",
                    r.hostile.frames, r.hostile.oversized, r.hostile.errors, r.hostile.closes
                ),
            ),
            ("rss KiB", rss.join(", ")),
            (
                "rss end vs baseline",
                r.rss_change_percent
                    .map_or("n/a".into(), |p| format!("{p:+.1} %")),
            ),
            ("verdict", if clean { "OK" } else { "NOT CLEAN" }.into()),
        ],
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(room: usize, boundary: i64, seen: &[i64]) -> MemberLog {
        MemberLog {
            room,
            boundary,
            seen: seen.iter().copied().collect(),
            present: vec![(10, 0)],
            ..MemberLog::default()
        }
    }

    #[test]
    fn members_are_checked_against_what_their_room_saw() {
        let mut a = member(0, 0, &[1, 2, 3, 4]);
        let b = member(0, 2, &[2, 4]);
        a.changes.insert(Change::Deleted { id: 3 });
        // Another room's ids are not expected here.
        let c = member(1, 0, &[9]);
        let i = check(&[a, b, c], &[], 0);
        // b joined after 2; 3 was deleted; so b misses nothing; a nothing.
        assert_eq!(i.lost, 0);
        let a = member(0, 0, &[1, 2, 4]);
        let b = member(0, 0, &[1, 3]);
        let i = check(&[a, b], &[], 0);
        // a lacks 3, b lacks 2 and 4.
        assert_eq!(i.lost, 3);
    }

    #[test]
    fn changes_count_only_for_members_present_throughout() {
        let change = Change::Edited {
            id: 1,
            text: "e".into(),
        };
        let mut saw = member(0, 0, &[1]);
        saw.changes.insert(change.clone());
        let missed = member(0, 0, &[1]);
        let mut absent = member(0, 0, &[1]);
        absent.present = vec![(10, 20)];
        let confirmed = [Confirmed {
            room: 0,
            change,
            sent_nanos: 30,
            acked_nanos: 40,
        }];
        let i = check(&[saw, missed, absent], &confirmed, 5);
        assert_eq!((i.changes_expected, i.changes_missed), (2, 1));
    }

    #[test]
    fn the_baseline_is_the_nearest_sample() {
        let samples = [(0.0, 100), (110.0, 200), (125.0, 300)];
        assert_eq!(baseline(&samples, 120.0), Some(300));
        assert_eq!(baseline(&[], 120.0), None);
    }

    #[test]
    fn waits_are_positive_and_near_their_mean() {
        let mut rng = Rng::new(42);
        let n = 20_000;
        let total: f64 = (0..n).map(|_| rng.wait(2.0).as_secs_f64()).sum();
        let mean = total / f64::from(n);
        assert!((1.8..2.2).contains(&mean), "mean {mean}");
        assert!((0..1000).all(|_| rng.below(7) < 7));
    }
}
