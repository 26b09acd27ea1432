//! `idle`: many connected, silent members; what each costs the server.
//!
//! The server's resident memory (`VmRSS`) is read before the sockets open
//! and again after they have been held past a few heartbeats, and the
//! difference is divided by the number of sockets. Every socket keeps
//! being read, which is what makes tungstenite answer the server's pings;
//! holding longer than the server's client timeout (30 s by default)
//! therefore also proves the heartbeats work, as no socket may be closed.
//!
//! Past ~28,000 sockets one source address runs out of ephemeral ports,
//! so connections come from 127.0.0.2, .3, ... in turn, and the generator
//! raises its own open-file limit. The server's limit is the server's: it
//! is checked and reported, not changed.

use super::RunOptions;
use crate::accounts::{self, Site};
use crate::connect::{self, Dialer, Server};
use crate::report::{self, thousands};
use crate::stats::{LatencySink, LatencySummary};
use crate::system::{self, Machine};
use anyhow::{Context, bail};
use clap::Args;
use futures_util::{SinkExt, StreamExt, TryStreamExt, stream};
use serde::Serialize;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;

/// Options of `idle`.
#[derive(Debug, Args)]
pub struct IdleArgs {
    /// The server.
    #[arg(long, default_value = "http://127.0.0.1:8000")]
    pub url: String,
    /// Sockets to hold open.
    #[arg(long, default_value_t = 1000)]
    pub connections: usize,
    /// Distinct accounts, dealt over the sockets in turn.
    #[arg(long, default_value_t = 100)]
    pub users: usize,
    /// Rooms, dealt over the sockets in turn.
    #[arg(long, default_value_t = 1)]
    pub rooms: usize,
    /// How long to hold every socket once all are open, in seconds.
    #[arg(long, default_value_t = 40.0)]
    pub hold_secs: f64,
    /// Source addresses 127.0.0.2 and up (one gives ~28,000 sockets).
    #[arg(long, default_value_t = 4)]
    pub source_ips: usize,
    /// Sockets opened at once.
    #[arg(long, default_value_t = 64)]
    pub connect_concurrency: usize,
    /// Read buffer of each socket, in bytes (small: the sockets are quiet).
    #[arg(long, default_value_t = 1024)]
    pub read_buffer: usize,
    /// Account names are this plus a number.
    #[arg(long, default_value = "bench")]
    pub user_prefix: String,
    /// Room names are this plus a number.
    #[arg(long, default_value = "idle")]
    pub room_prefix: String,
    /// Accounts signed in at once.
    #[arg(long, default_value_t = 4)]
    pub login_concurrency: usize,
    /// The server's pid; default: found by port.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// A free-form label copied into the JSON line.
    #[arg(long)]
    pub label: Option<String>,
}

#[derive(Debug, Serialize)]
struct IdleResult {
    scenario: &'static str,
    label: Option<String>,
    connections: usize,
    users: usize,
    rooms: usize,
    hold_secs: f64,
    server_open_files_limit: Option<u64>,
    server_rss_before_kib: u64,
    server_rss_connected_kib: u64,
    server_rss_held_kib: u64,
    /// (held − before) / connections.
    server_bytes_per_connection: f64,
    connect_secs: f64,
    connects_per_sec: f64,
    connect_latency: LatencySummary,
    /// Sockets the server closed while they were held (must be 0).
    closed_during_hold: u64,
    bench_rss_kib: u64,
    bench_bytes_per_connection: f64,
    machine: Machine,
}

/// Runs `idle`.
pub async fn run(args: IdleArgs, options: RunOptions<'_>) -> anyhow::Result<()> {
    if args.connections == 0 || args.users == 0 || args.rooms == 0 {
        bail!("--connections, --users and --rooms must be at least 1");
    }
    let machine = Machine::measure().await;
    let server = Server::parse(&args.url)?;
    let pid = match args.server_pid {
        Some(pid) => pid,
        None => system::pid_listening_on(server.addr().port())?,
    };
    let limit = system::raise_open_files(args.connections as u64 + 1024)?;
    if limit < args.connections as u64 + 100 {
        bail!("cannot raise our open-file limit past {limit}; run as root or raise the hard limit");
    }
    let server_limit = system::open_files_limit(pid);
    if let Some(l) = server_limit
        && l < args.connections as u64 + 100
    {
        eprintln!(
            "warning: the server (pid {pid}) may open only {l} files; start it after `ulimit -n {}`",
            args.connections + 1024
        );
    }

    let site = Site::new(&server)?;
    let users = args.users.min(args.connections);
    let accounts = accounts::sign_in_all(
        &site,
        &args.user_prefix,
        users,
        args.login_concurrency,
        options.sessions,
    )
    .await?;
    let rooms: Vec<String> = (0..args.rooms)
        .map(|r| format!("{}{r}", args.room_prefix))
        .collect();
    for room in &rooms {
        site.open_room(&accounts[0], room).await?;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_before = system::rss_kib(pid)?;
    let own_before = system::own_rss_kib()?;

    let dialer = Dialer::new(args.read_buffer, args.source_ips);
    let connect_latency = LatencySink::default();
    let closed = Arc::new(AtomicU64::new(0));
    let (stop, stopped) = watch::channel(false);
    let started = Instant::now();
    let holders: Vec<tokio::task::JoinHandle<()>> = stream::iter(0..args.connections)
        .map(|i| {
            let (dialer, server, latency) = (&dialer, &server, &connect_latency);
            let account = &accounts[i % accounts.len()];
            let room = &rooms[i % rooms.len()];
            let (closed, mut stopped) = (closed.clone(), stopped.clone());
            async move {
                let t0 = Instant::now();
                let mut socket = dialer
                    .open(server, room, &account.cookie, i)
                    .await
                    .with_context(|| format!("socket {i}"))?;
                connect::until_joined(&mut socket, Duration::from_secs(60)).await?;
                latency.record(t0.elapsed().as_micros() as u64);
                if i > 0 && i % 1000 == 0 {
                    eprintln!("{i} sockets open");
                }
                // Hold: keep reading (that answers pings) until told to stop.
                Ok::<_, anyhow::Error>(tokio::spawn(async move {
                    loop {
                        tokio::select! {
                            _ = stopped.changed() => {
                                let close = socket.send(Message::Close(None));
                                let _ = tokio::time::timeout(Duration::from_secs(5), close).await;
                                return;
                            }
                            frame = socket.next() => match frame {
                                Some(Ok(Message::Close(_)) | Err(_)) | None => {
                                    closed.fetch_add(1, Ordering::Relaxed);
                                    return;
                                }
                                Some(Ok(_)) => {}
                            },
                        }
                    }
                }))
            }
        })
        .buffer_unordered(args.connect_concurrency.max(1))
        .try_collect()
        .await?;
    let connect_secs = started.elapsed().as_secs_f64();
    eprintln!(
        "{} sockets open in {connect_secs:.1} s; holding {} s",
        args.connections, args.hold_secs
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_connected = system::rss_kib(pid)?;
    let hold_until = options
        .deadline
        .min(Instant::now() + Duration::from_secs_f64(args.hold_secs));
    while Instant::now() < hold_until {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let rss_held = system::rss_kib(pid)?;
    let own_held = system::own_rss_kib()?;
    let closed_during_hold = closed.load(Ordering::Relaxed);

    let _ = stop.send(true);
    let _ = tokio::time::timeout(
        Duration::from_secs(30),
        futures_util::future::join_all(holders),
    )
    .await;

    let n = args.connections as f64;
    let result = IdleResult {
        scenario: "idle",
        label: args.label,
        connections: args.connections,
        users,
        rooms: args.rooms,
        hold_secs: args.hold_secs,
        server_open_files_limit: server_limit,
        server_rss_before_kib: rss_before,
        server_rss_connected_kib: rss_connected,
        server_rss_held_kib: rss_held,
        server_bytes_per_connection: (rss_held as f64 - rss_before as f64) * 1024.0 / n,
        connect_secs,
        connects_per_sec: n / connect_secs,
        connect_latency: LatencySummary::of(&connect_latency.take()),
        closed_during_hold,
        bench_rss_kib: own_held,
        bench_bytes_per_connection: (own_held as f64 - own_before as f64) * 1024.0 / n,
        machine,
    };
    let l = &result.connect_latency;
    report::print_table(
        &format!(
            "idle: {} sockets, {} users, {} room(s), held {} s",
            thousands(args.connections as u64),
            users,
            args.rooms,
            args.hold_secs
        ),
        &[
            (
                "server RSS",
                format!(
                    "{} KiB before, {} KiB connected, {} KiB after holding",
                    thousands(rss_before),
                    thousands(rss_connected),
                    thousands(rss_held)
                ),
            ),
            (
                "per connection",
                format!(
                    "{:.1} KiB ({:.0} bytes)",
                    result.server_bytes_per_connection / 1024.0,
                    result.server_bytes_per_connection
                ),
            ),
            (
                "connect rate",
                format!(
                    "{:.0}/s ({connect_secs:.1} s in all)",
                    result.connects_per_sec
                ),
            ),
            (
                "connect+join ms",
                format!(
                    "p50 {:.2}  p99 {:.2}  max {:.2}",
                    l.p50_ms, l.p99_ms, l.max_ms
                ),
            ),
            ("closed in hold", closed_during_hold.to_string()),
            (
                "server fd limit",
                server_limit.map_or("?".into(), |l| l.to_string()),
            ),
            (
                "bench RSS",
                format!(
                    "{} KiB ({:.1} KiB/conn)",
                    thousands(own_held),
                    result.bench_bytes_per_connection / 1024.0
                ),
            ),
        ],
    );
    report::emit(&result, options.json_out)
}
