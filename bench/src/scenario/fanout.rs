//! `fanout` (and `cross`): rooms full of members, a few of them sending.
//!
//! Every member's socket has a reader task; the first `--senders` members
//! of each room also send. A message's text is a [`Stamp`] (sender,
//! sequence number, send time), so each reader measures send→receive
//! latency and keeps a [`SeqTracker`] per sender of its room.
//!
//! A run is a series of stages: an unreported warm-up, then either one
//! stage as fast as the window allows (saturation) or one stage per
//! `--rate`. In rate mode a message's stamp is the time it was *due*, not
//! when it left, so a generator held back by the window still reports the
//! delay (no coordinated omission). Senders never have more than
//! `--window` messages in flight; a message counts as answered when its own
//! copy comes back on the sender's socket (or an error frame arrives), which
//! keeps them under the server's limit of 32 waiting requests.
//!
//! `cross` is the same with the sockets dealt over two instances that
//! share Redis: a message is posted on one and must reach members on both.

use super::RunOptions;
use crate::accounts::{self, Account, Site};
use crate::clock;
use crate::connect::{self, Dialer, Server, Socket};
use crate::frames::{self, Incoming, Stamp};
use crate::report::{self, thousands};
use crate::stats::{Arrival, Integrity, LatencyBatch, LatencySink, LatencySummary, SeqTracker};
use crate::system::{self, CpuMeter, CpuUse, Machine};
use anyhow::{Context, bail};
use clap::Args;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt, TryStreamExt, stream};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

/// Options of `fanout` and `cross`.
#[derive(Debug, Args)]
pub struct FanoutArgs {
    /// A server (repeat for `cross`); sockets are dealt over them in turn.
    /// Default: http://127.0.0.1:8000 (`cross`: and http://127.0.0.1:8001).
    #[arg(long = "url")]
    pub urls: Vec<String>,
    /// Rooms.
    #[arg(long, default_value_t = 1)]
    pub rooms: usize,
    /// Members (sockets) per room, senders included.
    #[arg(long, default_value_t = 100)]
    pub clients: usize,
    /// Senders per room (the first members of each room).
    #[arg(long, default_value_t = 1)]
    pub senders: usize,
    /// Messages each sender sends per stage.
    #[arg(long, default_value_t = 1000)]
    pub messages: u32,
    /// Fixed send rates, messages/s per sender, one stage each
    /// (`--rate 50,100,200`). Without it: one stage as fast as the window
    /// allows, i.e. the saturation point.
    #[arg(long, value_delimiter = ',')]
    pub rate: Vec<f64>,
    /// With --rate: each stage lasts this long (instead of --messages).
    #[arg(long)]
    pub stage_secs: Option<f64>,
    /// Messages one sender may have in flight (the server refuses more
    /// than 32 waiting requests per socket with `rate_limited`).
    #[arg(long, default_value_t = 16)]
    pub window: u64,
    /// Messages per sender in the unreported warm-up stage (0: none).
    #[arg(long, default_value_t = 50)]
    pub warmup: u32,
    /// Length of each message's text, in bytes.
    #[arg(long, default_value_t = 64)]
    pub size: usize,
    /// Distinct accounts, dealt over the sockets in turn (default: one per
    /// socket). Each costs the server an Argon2 hash to create.
    #[arg(long)]
    pub users: Option<usize>,
    /// Account names are this plus a number.
    #[arg(long, default_value = "bench")]
    pub user_prefix: String,
    /// Room names are this plus a number.
    #[arg(long, default_value = "fanout")]
    pub room_prefix: String,
    /// Accounts signed in at once.
    #[arg(long, default_value_t = 4)]
    pub login_concurrency: usize,
    /// Sockets opened at once.
    #[arg(long, default_value_t = 32)]
    pub connect_concurrency: usize,
    /// Read buffer of each socket, in bytes.
    #[arg(long, default_value_t = 16 * 1024)]
    pub read_buffer: usize,
    /// How long to wait for deliveries after the last send, in seconds.
    #[arg(long, default_value_t = 10.0)]
    pub drain_secs: f64,
    /// The server's pid (repeat per --url); default: found by port.
    #[arg(long = "server-pid")]
    pub server_pids: Vec<u32>,
    /// A free-form label copied into the JSON line.
    #[arg(long)]
    pub label: Option<String>,
    /// Members as the room page makes them: every account joins its room
    /// (the Join button) and every socket is a modern one (`?v=2`). Each
    /// message then also costs the unread bookkeeping: one `activity` on
    /// the bus and an `activity` frame to each member's socket besides the
    /// message (compare with a run without it).
    #[arg(long)]
    pub modern: bool,
}

/// One stage's result: the JSON line and the table.
#[derive(Debug, Serialize)]
struct StageResult {
    scenario: &'static str,
    label: Option<String>,
    instances: usize,
    rooms: usize,
    clients_per_room: usize,
    senders_per_room: usize,
    users: usize,
    mode: &'static str,
    /// Members joined their room and their sockets are modern (`?v=2`).
    modern: bool,
    /// Messages/s per sender asked for (rate mode).
    rate_per_sender: Option<f64>,
    window: u64,
    size: usize,
    stage: u32,
    messages_sent: u64,
    /// Deliveries/s the schedule asks for (rate mode).
    offered_deliveries_per_sec: Option<f64>,
    /// Deliveries counted between the first send and the last delivery.
    delivered_per_sec: f64,
    /// Messages posted per second, between the first send and the last
    /// delivery.
    messages_per_sec: f64,
    duration_secs: f64,
    latency: LatencySummary,
    integrity: Integrity,
    /// Error frames, by code.
    errors: BTreeMap<String, u64>,
    /// Sockets the server closed.
    disconnected: u64,
    /// Deliveries of an earlier stage's messages (late beyond the drain).
    stale: u64,
    /// Stamped messages that reached another room's members.
    misrouted: u64,
    /// Rate mode: how late the generator got behind its own schedule.
    max_send_lag_ms: f64,
    cpu: CpuUse,
    server_rss_kib: Option<u64>,
    machine: Machine,
}

/// What every reader shares with the coordinator.
struct Shared {
    run: u32,
    senders_per_room: usize,
    latency: LatencySink,
    /// Live deliveries of the current stage.
    deliveries: AtomicU64,
    /// When the latest delivery arrived, from [`clock`].
    last_delivery: AtomicU64,
    /// Every frame received, for waiting until the join traffic settles.
    frames: AtomicU64,
}

/// A sender's window: its reader counts the answers, the sender waits.
#[derive(Default)]
struct Gate {
    answered: AtomicU64,
    wake: Notify,
}

impl Gate {
    fn answer(&self) {
        self.answered.fetch_add(1, Ordering::Release);
        self.wake.notify_one();
    }
}

/// The coordinator asks a reader for its stage report (and to start the
/// next stage).
struct Collect(oneshot::Sender<ReaderReport>);

/// One reader's view of one stage.
#[derive(Default)]
struct ReaderReport {
    room: usize,
    trackers: Vec<SeqTracker>,
    delivered: u64,
    errors: BTreeMap<String, u64>,
    stale: u64,
    misrouted: u64,
    closed: bool,
}

impl ReaderReport {
    fn new(senders: usize) -> Self {
        ReaderReport {
            trackers: vec![SeqTracker::default(); senders],
            ..Default::default()
        }
    }
}

/// The state of one member's reading task.
struct Reader {
    room: usize,
    me: Option<(u32, Arc<Gate>)>,
    shared: Arc<Shared>,
    stage: u32,
    report: ReaderReport,
    batch: LatencyBatch,
    closed: bool,
}

impl Reader {
    fn on_text(&mut self, text: &str) {
        self.shared.frames.fetch_add(1, Ordering::Relaxed);
        match frames::parse(text) {
            Ok(Incoming::Chat {
                text,
                history: false,
                ..
            }) => self.on_chat(&text),
            Ok(Incoming::Error { code, .. }) => {
                *self.report.errors.entry(code.into_owned()).or_default() += 1;
                // The error answers one of our requests: reopen the window.
                if let Some((_, gate)) = &self.me {
                    gate.answer();
                }
            }
            Ok(_) => {}
            Err(_) => *self.report.errors.entry("garbled".into()).or_default() += 1,
        }
    }

    fn on_chat(&mut self, text: &str) {
        let now = clock::now_nanos();
        let Some(stamp) = Stamp::parse(text) else {
            return;
        };
        if stamp.run != self.shared.run {
            return;
        }
        if let Some((me, gate)) = &self.me
            && stamp.sender == *me
        {
            gate.answer();
        }
        if stamp.stage != self.stage {
            self.report.stale += 1;
            return;
        }
        let senders = self.shared.senders_per_room;
        let Some(local) = (stamp.sender as usize)
            .checked_sub(self.room * senders)
            .filter(|&k| k < senders)
        else {
            self.report.misrouted += 1;
            return;
        };
        self.report.delivered += 1;
        self.shared.deliveries.fetch_add(1, Ordering::Relaxed);
        self.shared.last_delivery.fetch_max(now, Ordering::Relaxed);
        match self.report.trackers[local].record(stamp.seq) {
            Arrival::InOrder | Arrival::Reordered => {
                let micros = now.saturating_sub(stamp.sent_nanos) / 1000;
                self.batch.record(micros, &self.shared.latency);
            }
            Arrival::Duplicate | Arrival::Invalid => {}
        }
    }

    fn collect(&mut self) -> ReaderReport {
        self.batch.flush(&self.shared.latency);
        self.stage += 1;
        let fresh = ReaderReport::new(self.shared.senders_per_room);
        let mut report = std::mem::replace(&mut self.report, fresh);
        report.closed = self.closed;
        report.room = self.room;
        report
    }
}

/// Reads one socket until the coordinator hangs up.
async fn read(
    mut socket: SplitStream<Socket>,
    mut control: mpsc::Receiver<Collect>,
    mut reader: Reader,
) {
    loop {
        tokio::select! {
            biased;
            command = control.recv() => match command {
                Some(Collect(reply)) => {
                    let _ = reply.send(reader.collect());
                }
                None => break,
            },
            frame = socket.next(), if !reader.closed => match frame {
                Some(Ok(Message::Text(text))) => reader.on_text(&text),
                Some(Ok(Message::Close(_)) | Err(_)) | None => reader.closed = true,
                Some(Ok(_)) => {}
            },
        }
    }
}

/// A member's socket as the coordinator holds it.
struct Member {
    sink: SplitSink<Socket, Message>,
    control: mpsc::Sender<Collect>,
    /// Set for senders: the sender's number and window.
    sender: Option<(u32, Arc<Gate>)>,
}

/// What one stage asks of a sender.
#[derive(Clone)]
struct Plan {
    run: u32,
    stage: u32,
    messages: u32,
    rate: Option<f64>,
    start_nanos: u64,
    window: u64,
    size: usize,
    deadline: Instant,
}

/// A sender's account of a stage.
#[derive(Default)]
struct Sent {
    count: u32,
    last_nanos: u64,
    max_lag_nanos: u64,
    failure: Option<String>,
}

/// A sender between stages: its socket and how many it has ever sent.
struct SenderState {
    id: u32,
    sink: SplitSink<Socket, Message>,
    gate: Arc<Gate>,
    sent_ever: u64,
}

async fn send_stage(mut s: SenderState, plan: Plan, offset_nanos: u64) -> (SenderState, Sent) {
    let mut sent = Sent::default();
    let deadline = tokio::time::Instant::from_std(plan.deadline);
    tokio::time::sleep_until(tokio::time::Instant::from_std(clock::instant_at(
        plan.start_nanos + offset_nanos,
    )))
    .await;
    for seq in 0..plan.messages {
        let due = plan
            .rate
            .map(|rate| plan.start_nanos + offset_nanos + (f64::from(seq) / rate * 1e9) as u64);
        if let Some(due) = due {
            let at = tokio::time::Instant::from_std(clock::instant_at(due));
            if at > deadline {
                sent.failure = Some("the stage ran out of time".into());
                break;
            }
            tokio::time::sleep_until(at).await;
        }
        while s
            .sent_ever
            .saturating_sub(s.gate.answered.load(Ordering::Acquire))
            >= plan.window
        {
            if tokio::time::timeout_at(deadline, s.gate.wake.notified())
                .await
                .is_err()
            {
                sent.failure = Some("messages in flight never came back".into());
                return (s, sent);
            }
        }
        let now = clock::now_nanos();
        let stamp = Stamp {
            run: plan.run,
            stage: plan.stage,
            sender: s.id,
            seq,
            sent_nanos: due.unwrap_or(now),
        };
        if let Err(e) = s
            .sink
            .send(Message::text(frames::chat_frame(&stamp.encode(plan.size))))
            .await
        {
            sent.failure = Some(format!("sending: {e}"));
            break;
        }
        s.sent_ever += 1;
        sent.count += 1;
        sent.last_nanos = clock::now_nanos();
        sent.max_lag_nanos = sent
            .max_lag_nanos
            .max(now.saturating_sub(due.unwrap_or(now)));
    }
    (s, sent)
}

/// Runs `fanout` (or, with `cross`, the two-instance variant).
pub async fn run(mut args: FanoutArgs, cross: bool, options: RunOptions<'_>) -> anyhow::Result<()> {
    let scenario = if cross { "cross" } else { "fanout" };
    if args.urls.is_empty() {
        args.urls.push("http://127.0.0.1:8000".into());
        if cross {
            args.urls.push("http://127.0.0.1:8001".into());
        }
    }
    if cross && args.urls.len() < 2 {
        bail!("cross needs two --url values (two instances sharing Redis)");
    }
    if args.rooms == 0 || args.clients == 0 || args.senders == 0 || args.senders > args.clients {
        bail!("need rooms ≥ 1 and 1 ≤ senders ≤ clients");
    }
    if args.window == 0 {
        bail!("--window must be at least 1");
    }
    if args.rate.iter().any(|&r| !(r > 0.0 && r.is_finite())) {
        bail!("--rate values must be positive");
    }
    let machine = Machine::measure().await;
    let servers: Vec<Server> = args
        .urls
        .iter()
        .map(|u| Server::parse(u))
        .collect::<anyhow::Result<_>>()?;
    let pids = super::server_pids(&servers, &args.server_pids);
    let total = args.rooms * args.clients;
    system::raise_open_files(total as u64 + 1024)?;
    let users = args.users.unwrap_or(total).clamp(1, total);

    let site = Site::new(&servers[0])?;
    let accounts = accounts::sign_in_all(
        &site,
        &args.user_prefix,
        users,
        args.login_concurrency,
        options.sessions,
    )
    .await?;
    let room_names: Vec<String> = (0..args.rooms)
        .map(|r| format!("{}{r}", args.room_prefix))
        .collect();
    for room in &room_names {
        site.open_room(&accounts[0], room).await?;
    }
    if args.modern {
        // Every account that has a socket in a room becomes its member.
        let pairs: std::collections::BTreeSet<(usize, usize)> = (0..total)
            .map(|i| (i / args.clients, i % accounts.len()))
            .collect();
        let joins = stream::iter(pairs)
            .map(|(room, account)| site.join_room(&accounts[account], &room_names[room]))
            .buffer_unordered(args.login_concurrency.max(1));
        joins.try_collect::<Vec<()>>().await?;
    }

    let run_id = super::run_id();
    let shared = Arc::new(Shared {
        run: run_id,
        senders_per_room: args.senders,
        latency: LatencySink::default(),
        deliveries: AtomicU64::new(0),
        last_delivery: AtomicU64::new(0),
        frames: AtomicU64::new(0),
    });
    let started = Instant::now();
    let members = connect_members(&args, &servers, &accounts, &room_names, &shared).await?;
    let connect_secs = started.elapsed().as_secs_f64();
    eprintln!(
        "{total} sockets joined in {connect_secs:.1} s ({:.0}/s)",
        total as f64 / connect_secs
    );
    settle(&shared, options.deadline).await;

    let (mut senders, mut controls) = (Vec::new(), Vec::new());
    let mut quiet_sinks = Vec::new();
    for member in members {
        controls.push(member.control);
        match member.sender {
            Some((id, gate)) => senders.push(SenderState {
                id,
                sink: member.sink,
                gate,
                sent_ever: 0,
            }),
            None => quiet_sinks.push(member.sink),
        }
    }
    senders.sort_by_key(|s| s.id);

    for (stage, spec) in stage_specs(&args).into_iter().enumerate() {
        let StageSpec {
            rate,
            messages,
            reported,
        } = spec;
        if Instant::now() >= options.deadline {
            bail!("--timeout-secs reached before stage {stage}");
        }
        shared.deliveries.store(0, Ordering::Relaxed);
        shared.last_delivery.store(0, Ordering::Relaxed);
        let expected_secs = rate.map_or(60.0, |r| f64::from(messages) / r) + 60.0;
        let plan = Plan {
            run: run_id,
            stage: stage as u32,
            messages,
            rate,
            start_nanos: clock::now_nanos() + 20_000_000,
            window: args.window,
            size: args.size,
            deadline: options
                .deadline
                .min(Instant::now() + Duration::from_secs_f64(expected_secs)),
        };
        let cpu = CpuMeter::start(&pids);
        let interval = rate.map_or(0.0, |r| 1e9 / r);
        let count = senders.len();
        let tasks: Vec<_> = senders
            .drain(..)
            .enumerate()
            .map(|(k, s)| {
                // Spread the senders evenly over one interval.
                let offset = (interval * k as f64 / count as f64) as u64;
                tokio::spawn(send_stage(s, plan.clone(), offset))
            })
            .collect();
        let mut sent_by = BTreeMap::new();
        let mut max_lag = 0u64;
        let mut last_send = plan.start_nanos;
        for task in tasks {
            let (state, sent) = task.await.context("a sender panicked")?;
            if let Some(failure) = &sent.failure {
                eprintln!("sender {}: {failure}", state.id);
            }
            sent_by.insert(state.id, sent.count);
            max_lag = max_lag.max(sent.max_lag_nanos);
            last_send = last_send.max(sent.last_nanos);
            senders.push(state);
        }
        senders.sort_by_key(|s| s.id);
        let expected: u64 = sent_by
            .values()
            .map(|&n| u64::from(n) * args.clients as u64)
            .sum();
        let drain_until = clock::instant_at(last_send) + Duration::from_secs_f64(args.drain_secs);
        while shared.deliveries.load(Ordering::Relaxed) < expected
            && Instant::now() < drain_until.min(options.deadline)
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let cpu = cpu.stop();
        let reports = collect(&controls).await?;
        let latency = shared.latency.take();
        if !reported {
            continue;
        }

        let Tally {
            integrity,
            errors,
            disconnected,
            stale,
            misrouted,
        } = tally(&reports, &sent_by, args.senders);
        let messages_sent: u64 = sent_by.values().map(|&n| u64::from(n)).sum();
        let last_delivery = shared.last_delivery.load(Ordering::Relaxed);
        let duration = clock::secs_between(plan.start_nanos, last_delivery.max(last_send));
        let result = StageResult {
            scenario,
            label: args.label.clone(),
            instances: servers.len(),
            rooms: args.rooms,
            clients_per_room: args.clients,
            senders_per_room: args.senders,
            users,
            mode: if rate.is_some() { "rate" } else { "window" },
            modern: args.modern,
            rate_per_sender: rate,
            window: args.window,
            size: args.size,
            stage: stage as u32,
            messages_sent,
            offered_deliveries_per_sec: rate
                .map(|r| r * (args.rooms * args.senders * args.clients) as f64),
            delivered_per_sec: integrity.delivered as f64 / duration.max(1e-9),
            messages_per_sec: messages_sent as f64 / duration.max(1e-9),
            duration_secs: duration,
            latency: LatencySummary::of(&latency),
            integrity,
            errors,
            disconnected,
            stale,
            misrouted,
            max_send_lag_ms: max_lag as f64 / 1e6,
            cpu,
            server_rss_kib: pids
                .iter()
                .filter_map(|&p| system::rss_kib(p).ok())
                .reduce(|a, b| a + b),
            machine: machine.clone(),
        };
        print_stage(&result);
        report::emit(&result, options.json_out)?;
    }

    // Close politely; a socket that does not answer in time is dropped.
    let closes =
        senders
            .into_iter()
            .map(|s| s.sink)
            .chain(quiet_sinks)
            .map(|mut sink| async move {
                let _ = tokio::time::timeout(Duration::from_secs(2), sink.close()).await;
            });
    futures_util::future::join_all(closes).await;
    drop(controls);
    Ok(())
}

/// Opens every member's socket, waits out its join burst and starts its
/// reader; `connect_concurrency` at a time.
async fn connect_members(
    args: &FanoutArgs,
    servers: &[Server],
    accounts: &[Account],
    room_names: &[String],
    shared: &Arc<Shared>,
) -> anyhow::Result<Vec<Member>> {
    let dialer = Dialer::new(args.read_buffer, 0).modern(args.modern);
    stream::iter(0..args.rooms * args.clients)
        .map(|i| {
            let (room, position) = (i / args.clients, i % args.clients);
            let server = &servers[i % servers.len()];
            let account = &accounts[i % accounts.len()];
            let room_name = &room_names[room];
            let (dialer, senders) = (&dialer, args.senders);
            async move {
                let mut socket = dialer.open(server, room_name, &account.cookie, i).await?;
                connect::until_joined(&mut socket, Duration::from_secs(60)).await?;
                let (sink, source) = socket.split();
                let (control, commands) = mpsc::channel(1);
                let sender = (position < senders).then(|| {
                    (
                        (room * senders + position) as u32,
                        Arc::new(Gate::default()),
                    )
                });
                let reader = Reader {
                    room,
                    me: sender.clone(),
                    shared: shared.clone(),
                    stage: 0,
                    report: ReaderReport::new(senders),
                    batch: LatencyBatch::default(),
                    closed: false,
                };
                tokio::spawn(read(source, commands, reader));
                anyhow::Ok(Member {
                    sink,
                    control,
                    sender,
                })
            }
        })
        .buffer_unordered(args.connect_concurrency.max(1))
        .try_collect()
        .await
}

/// One stage of a run.
#[derive(Debug, Clone, Copy, PartialEq)]
struct StageSpec {
    /// Messages/s per sender; `None`: as fast as the window allows.
    rate: Option<f64>,
    /// Messages per sender.
    messages: u32,
    /// False for the warm-up.
    reported: bool,
}

/// Stage 0 is the warm-up (empty without one, so that stage numbers stay
/// aligned with the readers'); then one stage per rate, or one saturating.
fn stage_specs(args: &FanoutArgs) -> Vec<StageSpec> {
    let mut stages = vec![StageSpec {
        rate: None,
        messages: args.warmup,
        reported: false,
    }];
    if args.rate.is_empty() {
        stages.push(StageSpec {
            rate: None,
            messages: args.messages,
            reported: true,
        });
    }
    for &rate in &args.rate {
        let messages = match args.stage_secs {
            Some(secs) => (rate * secs).ceil() as u32,
            None => args.messages,
        };
        stages.push(StageSpec {
            rate: Some(rate),
            messages,
            reported: true,
        });
    }
    stages
}

/// The readers' reports of one stage, summed.
#[derive(Debug, Default, PartialEq)]
struct Tally {
    integrity: Integrity,
    errors: BTreeMap<String, u64>,
    disconnected: u64,
    stale: u64,
    misrouted: u64,
}

/// Sums the readers' reports; `sent_by` says how many each sender sent,
/// which is what every member of its room should have received.
fn tally(reports: &[ReaderReport], sent_by: &BTreeMap<u32, u32>, senders_per_room: usize) -> Tally {
    let mut t = Tally::default();
    for report in reports {
        t.integrity.delivered += report.delivered;
        for (k, tracker) in report.trackers.iter().enumerate() {
            let id = (report.room * senders_per_room + k) as u32;
            t.integrity
                .add_tracker(tracker, sent_by.get(&id).copied().unwrap_or(0));
        }
        for (code, n) in &report.errors {
            *t.errors.entry(code.clone()).or_insert(0) += n;
        }
        t.disconnected += u64::from(report.closed);
        t.stale += report.stale;
        t.misrouted += report.misrouted;
    }
    t
}

/// Asks every reader for its stage report.
async fn collect(controls: &[mpsc::Sender<Collect>]) -> anyhow::Result<Vec<ReaderReport>> {
    let asks = controls.iter().map(|control| async move {
        let (reply, answer) = oneshot::channel();
        control
            .send(Collect(reply))
            .await
            .context("a reader stopped")?;
        tokio::time::timeout(Duration::from_secs(30), answer)
            .await
            .context("a reader did not report")?
            .context("a reader stopped")
    });
    futures_util::future::try_join_all(asks).await
}

/// Waits until no frame has arrived for a second (the joins' presence
/// traffic is over), at most a minute.
async fn settle(shared: &Shared, deadline: Instant) {
    let until = deadline.min(Instant::now() + Duration::from_secs(60));
    let mut last = shared.frames.load(Ordering::Relaxed);
    while Instant::now() < until {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = shared.frames.load(Ordering::Relaxed);
        if now == last {
            return;
        }
        last = now;
    }
}

fn print_stage(r: &StageResult) {
    let l = &r.latency;
    let i = &r.integrity;
    let load = match r.rate_per_sender {
        Some(rate) => format!(
            "{rate} msg/s per sender, offered {} deliveries/s",
            thousands(r.offered_deliveries_per_sec.unwrap_or(0.0) as u64)
        ),
        None => format!("as fast as a window of {} allows", r.window),
    };
    let cpu = match r.cpu.server_cores {
        Some(server) => format!(
            "server {server:.2} cores, bench {:.2} cores",
            r.cpu.bench_cores
        ),
        None => format!("bench {:.2} cores", r.cpu.bench_cores),
    };
    let verdict = if i.is_clean() && r.disconnected == 0 {
        "OK"
    } else {
        "NOT CLEAN"
    };
    report::print_table(
        &format!(
            "{} stage {}: {} room(s) x {} members, {} sender(s) per room, {} instance(s)",
            r.scenario, r.stage, r.rooms, r.clients_per_room, r.senders_per_room, r.instances
        ),
        &[
            ("load", load),
            ("messages sent", thousands(r.messages_sent)),
            ("messages/s", format!("{:.0}", r.messages_per_sec)),
            (
                "delivered",
                format!("{} in {:.2} s", thousands(i.delivered), r.duration_secs),
            ),
            (
                "deliveries/s",
                thousands(r.delivered_per_sec.round() as u64),
            ),
            (
                "latency ms",
                format!(
                    "p50 {:.2}  p90 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2}",
                    l.p50_ms, l.p90_ms, l.p99_ms, l.p999_ms, l.max_ms
                ),
            ),
            (
                "lost/dup/reord",
                format!(
                    "{}/{}/{} (unexpected {}) {verdict}",
                    i.lost, i.duplicated, i.reordered, i.unexpected
                ),
            ),
            ("errors", format!("{:?}", r.errors)),
            ("disconnected", r.disconnected.to_string()),
            ("cpu", cpu),
            ("send lag max", format!("{:.2} ms", r.max_send_lag_ms)),
        ],
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: FanoutArgs,
    }

    fn args(line: &[&str]) -> FanoutArgs {
        Cli::parse_from(std::iter::once("fanout").chain(line.iter().copied())).args
    }

    fn shared(senders_per_room: usize) -> Arc<Shared> {
        Arc::new(Shared {
            run: 7,
            senders_per_room,
            latency: LatencySink::default(),
            deliveries: AtomicU64::new(0),
            last_delivery: AtomicU64::new(0),
            frames: AtomicU64::new(0),
        })
    }

    fn reader(room: usize, me: Option<(u32, Arc<Gate>)>, shared: &Arc<Shared>) -> Reader {
        Reader {
            room,
            me,
            shared: shared.clone(),
            stage: 0,
            report: ReaderReport::new(shared.senders_per_room),
            batch: LatencyBatch::default(),
            closed: false,
        }
    }

    fn chat(run: u32, stage: u32, sender: u32, seq: u32) -> String {
        let stamp = Stamp {
            run,
            stage,
            sender,
            seq,
            sent_nanos: 0,
        };
        serde_json::json!({"type": "chat_message", "id": 1, "user": "u",
            "message": stamp.encode(0), "created_at": "x"})
        .to_string()
    }

    #[test]
    fn a_warm_up_then_one_stage_per_rate() {
        let specs = stage_specs(&args(&["--rate", "10,20", "--stage-secs", "2.5"]));
        let rates: Vec<_> = specs
            .iter()
            .map(|s| (s.rate, s.messages, s.reported))
            .collect();
        assert_eq!(
            rates,
            [
                (None, 50, false),
                (Some(10.0), 25, true),
                (Some(20.0), 50, true)
            ]
        );
        let specs = stage_specs(&args(&["--warmup", "0", "--messages", "9"]));
        assert_eq!(specs.len(), 2);
        assert_eq!((specs[0].messages, specs[0].reported), (0, false));
        assert_eq!((specs[1].rate, specs[1].messages), (None, 9));
    }

    #[test]
    fn readers_account_for_what_they_receive() {
        let shared = shared(2);
        let gate = Arc::new(Gate::default());
        // Member of room 1 (senders 2 and 3), itself sender 2.
        let mut r = reader(1, Some((2, gate.clone())), &shared);
        for frame in [
            chat(7, 0, 2, 0),
            chat(7, 0, 2, 1),
            chat(7, 0, 2, 1), // duplicate
            chat(7, 0, 3, 1),
            chat(7, 0, 3, 0), // reordered
            chat(7, 0, 0, 0), // room 0's sender: misrouted
            chat(7, 1, 3, 0), // a later stage: stale
            chat(6, 0, 3, 5), // an earlier run: ignored
        ] {
            r.on_text(&frame);
        }
        r.on_text(r#"{"type":"error","code":"rate_limited","message":"slow"}"#);
        r.on_text(r#"{"type":"user_join","user":"x"}"#);
        // Own copies (3) and the error frame reopen the window.
        assert_eq!(gate.answered.load(Ordering::Relaxed), 4);
        assert_eq!(shared.deliveries.load(Ordering::Relaxed), 5);
        let report = r.collect();
        assert_eq!(r.stage, 1);
        assert_eq!(
            (report.delivered, report.stale, report.misrouted),
            (5, 1, 1)
        );
        assert_eq!(report.errors.get("rate_limited"), Some(&1));
        assert_eq!(shared.latency.take().len(), 4);

        let sent_by = BTreeMap::from([(2, 3), (3, 2)]);
        let t = tally(&[report], &sent_by, 2);
        // Sender 2 sent 0..3 and seq 2 never came.
        assert_eq!(
            t.integrity,
            Integrity {
                delivered: 5,
                lost: 1,
                duplicated: 1,
                reordered: 1,
                unexpected: 0
            }
        );
        assert_eq!((t.disconnected, t.stale, t.misrouted), (0, 1, 1));
    }

    #[test]
    fn tally_adds_every_room_against_its_own_senders() {
        let shared = shared(1);
        let mut rooms: Vec<Reader> = (0..2).map(|room| reader(room, None, &shared)).collect();
        rooms[0].on_text(&chat(7, 0, 0, 0));
        rooms[0].on_text(&chat(7, 0, 0, 1));
        rooms[1].on_text(&chat(7, 0, 1, 0));
        rooms[1].closed = true;
        let reports: Vec<_> = rooms.iter_mut().map(Reader::collect).collect();
        let t = tally(&reports, &BTreeMap::from([(0, 2), (1, 2)]), 1);
        assert_eq!(t.integrity.delivered, 3);
        assert_eq!(t.integrity.lost, 1);
        assert_eq!(t.disconnected, 1);
        assert!(!t.integrity.is_clean());
    }
}
