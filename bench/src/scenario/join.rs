//! `join`: how long from opening a socket to having the room on screen.
//!
//! One join is timed from the TCP connect to the `user_list` frame that
//! ends the join burst (the last ten messages come before it), the time a
//! browser tab waits before it can show the room. Joins run one after the
//! other by default, against a room that `seed` filled with many stored
//! messages, while one "anchor" member keeps the room open as it would be
//! in real use (so each join finds a live room actor).

use super::RunOptions;
use crate::accounts::{self, Site};
use crate::connect::{self, Dialer, Server};
use crate::report::{self, thousands};
use crate::stats::{LatencySink, LatencySummary};
use crate::system::{CpuMeter, CpuUse, Machine};
use anyhow::{Context, bail};
use clap::Args;
use futures_util::{SinkExt, StreamExt, TryStreamExt, stream};
use serde::Serialize;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

/// Options of `join`.
#[derive(Debug, Args)]
pub struct JoinArgs {
    /// The server.
    #[arg(long, default_value = "http://127.0.0.1:8000")]
    pub url: String,
    /// The room to join (fill it first with `seed`).
    #[arg(long, default_value = "seeded")]
    pub room: String,
    /// Timed joins.
    #[arg(long, default_value_t = 1000)]
    pub joins: usize,
    /// Untimed joins first.
    #[arg(long, default_value_t = 50)]
    pub warmup: usize,
    /// Joins in progress at once (1: one after the other).
    #[arg(long, default_value_t = 1)]
    pub concurrency: usize,
    /// Distinct accounts, used in turn.
    #[arg(long, default_value_t = 10)]
    pub users: usize,
    /// Do not keep a member in the room between joins (each join then
    /// also starts the room actor).
    #[arg(long)]
    pub no_anchor: bool,
    /// Account names are this plus a number.
    #[arg(long, default_value = "bench")]
    pub user_prefix: String,
    /// The server's pid; default: found by port.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// A free-form label copied into the JSON line.
    #[arg(long)]
    pub label: Option<String>,
}

#[derive(Debug, Serialize)]
struct JoinResult {
    scenario: &'static str,
    label: Option<String>,
    room: String,
    joins: usize,
    concurrency: usize,
    anchored: bool,
    /// Connect → `user_list`.
    join: LatencySummary,
    /// Connect → upgrade answered (the HTTP side: cookie, room lookup).
    handshake: LatencySummary,
    /// Fewest and most history frames in one burst (10 for a full room).
    history_min: usize,
    history_max: usize,
    joins_per_sec: f64,
    cpu: CpuUse,
    machine: Machine,
}

/// Runs `join`.
pub async fn run(args: JoinArgs, options: RunOptions<'_>) -> anyhow::Result<()> {
    if args.joins == 0 || args.users == 0 {
        bail!("--joins and --users must be at least 1");
    }
    let machine = Machine::measure().await;
    let server = Server::parse(&args.url)?;
    let pids = super::server_pids(std::slice::from_ref(&server), &[]);
    let pids = args.server_pid.map_or(pids, |p| vec![p]);
    let site = Site::new(&server)?;
    let accounts =
        accounts::sign_in_all(&site, &args.user_prefix, args.users, 4, options.sessions).await?;
    site.open_room(&accounts[0], &args.room).await?;
    let dialer = Dialer::new(16 * 1024, 0);

    // The anchor keeps the room actor alive and keeps reading (pings).
    let anchor = if args.no_anchor {
        None
    } else {
        let mut socket = dialer
            .open(&server, &args.room, &accounts[0].cookie, 0)
            .await?;
        connect::until_joined(&mut socket, Duration::from_secs(30)).await?;
        Some(tokio::spawn(async move {
            while let Some(Ok(_)) = socket.next().await {}
        }))
    };

    let join_latency = LatencySink::default();
    let handshake_latency = LatencySink::default();
    let history_min = AtomicUsize::new(usize::MAX);
    let history_max = AtomicUsize::new(0);
    let mut cpu = CpuMeter::start(&pids);
    let mut timed_from = Instant::now();
    for (phase, count) in [("warm-up", args.warmup), ("timed", args.joins)] {
        if phase == "timed" {
            // Nothing recorded so far counts.
            join_latency.take();
            handshake_latency.take();
            history_min.store(usize::MAX, Ordering::Relaxed);
            history_max.store(0, Ordering::Relaxed);
            cpu = CpuMeter::start(&pids);
            timed_from = Instant::now();
        }
        stream::iter(0..count)
            .map(|i| {
                let account = &accounts[i % accounts.len()];
                let (dialer, server, room) = (&dialer, &server, &args.room);
                let (join_latency, handshake_latency) = (&join_latency, &handshake_latency);
                let (history_min, history_max) = (&history_min, &history_max);
                async move {
                    if Instant::now() > options.deadline {
                        bail!("--timeout-secs reached");
                    }
                    let t0 = Instant::now();
                    let mut socket = dialer.open(server, room, &account.cookie, i).await?;
                    let upgraded = t0.elapsed();
                    let burst = connect::until_joined(&mut socket, Duration::from_secs(30))
                        .await
                        .with_context(|| format!("join {i}"))?;
                    let joined = t0.elapsed();
                    join_latency.record(joined.as_micros() as u64);
                    handshake_latency.record(upgraded.as_micros() as u64);
                    history_min.fetch_min(burst.history, Ordering::Relaxed);
                    history_max.fetch_max(burst.history, Ordering::Relaxed);
                    // Leave in the background; the next join does not wait.
                    tokio::spawn(async move {
                        let close = async {
                            socket.send(Message::Close(None)).await?;
                            while socket.next().await.is_some() {}
                            anyhow::Ok(())
                        };
                        let _ = tokio::time::timeout(Duration::from_secs(2), close).await;
                    });
                    anyhow::Ok(())
                }
            })
            .buffer_unordered(args.concurrency.max(1))
            .try_collect::<()>()
            .await?;
    }
    let elapsed = timed_from.elapsed().as_secs_f64();
    let cpu = cpu.stop();
    if let Some(anchor) = anchor {
        anchor.abort();
    }

    let result = JoinResult {
        scenario: "join",
        label: args.label,
        room: args.room,
        joins: args.joins,
        concurrency: args.concurrency,
        anchored: !args.no_anchor,
        join: LatencySummary::of(&join_latency.take()),
        handshake: LatencySummary::of(&handshake_latency.take()),
        history_min: history_min.load(Ordering::Relaxed),
        history_max: history_max.load(Ordering::Relaxed),
        joins_per_sec: args.joins as f64 / elapsed,
        cpu,
        machine,
    };
    let (j, h) = (&result.join, &result.handshake);
    report::print_table(
        &format!(
            "join: {} joins of #{}, {} at a time",
            thousands(args.joins as u64),
            result.room,
            result.concurrency
        ),
        &[
            (
                "join ms",
                format!(
                    "p50 {:.2}  p90 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2}",
                    j.p50_ms, j.p90_ms, j.p99_ms, j.p999_ms, j.max_ms
                ),
            ),
            (
                "handshake ms",
                format!(
                    "p50 {:.2}  p99 {:.2}  max {:.2}",
                    h.p50_ms, h.p99_ms, h.max_ms
                ),
            ),
            (
                "history frames",
                format!("{}..{} per join", result.history_min, result.history_max),
            ),
            ("joins/s", format!("{:.0}", result.joins_per_sec)),
            (
                "cpu",
                match result.cpu.server_cores {
                    Some(s) => format!("server {s:.2} cores, bench {:.2}", result.cpu.bench_cores),
                    None => format!("bench {:.2} cores", result.cpu.bench_cores),
                },
            ),
        ],
    );
    report::emit(&result, options.json_out)
}
