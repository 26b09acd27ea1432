//! The command line: global options and one subcommand per scenario.

use crate::plot::{self, PlotArgs};
use crate::scenario::RunOptions;
use crate::scenario::burst::{self, BurstArgs};
use crate::scenario::fanout::{self, FanoutArgs};
use crate::scenario::idle::{self, IdleArgs};
use crate::scenario::ingest::{self, IngestArgs};
use crate::scenario::join::{self, JoinArgs};
use crate::scenario::search::{self, SearchArgs};
use crate::scenario::seed::{self, SeedArgs};
use crate::scenario::soak::{self, SoakArgs};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Load generator for a confab server running on this machine.
///
/// Start the server yourself (see BENCHMARKS.md), then run a scenario.
/// Each run prints a table and one JSON line per result.
#[derive(Debug, Parser)]
#[command(name = "confab-bench", version)]
pub struct Cli {
    /// Tokio worker threads of the generator.
    #[arg(long, global = true, default_value_t = default_threads())]
    pub threads: usize,
    /// Also append each result's JSON line to this file.
    #[arg(long, global = true)]
    pub json_out: Option<PathBuf>,
    /// Keep signed-in session cookies in this file and reuse them, so a
    /// freshly restarted server (same database and key) is measured
    /// without the sign-ins' password hashing.
    #[arg(long, global = true)]
    pub sessions: Option<PathBuf>,
    /// Give up on the whole run after this many seconds.
    #[arg(long, global = true, default_value_t = 900)]
    pub timeout_secs: u64,
    #[command(subcommand)]
    pub scenario: Scenario,
}

/// What to run.
#[derive(Debug, Subcommand)]
pub enum Scenario {
    /// Rooms of members with a few senders: deliveries/s, latency,
    /// lost/duplicated/reordered.
    Fanout(FanoutArgs),
    /// `fanout` with the sockets split over two instances sharing Redis.
    Cross(FanoutArgs),
    /// Many idle sockets: server memory per connection, connect rate.
    Idle(IdleArgs),
    /// Join time (connect → last ten messages → user list).
    Join(JoinArgs),
    /// One room, a burst of pipelined posts from several members: loss,
    /// order, refusals, disconnects (and, with --retry, retries).
    Burst(BurstArgs),
    /// Many rooms, every member posting: stored messages/s, post→echo
    /// latency.
    Ingest(IngestArgs),
    /// Minutes of mixed traffic and hostile clients: server memory over
    /// time, exact delivery across reconnects.
    Soak(SoakArgs),
    /// Load 1,000,000 messages into the server's database (SQLite or
    /// PostgreSQL), then time one-word searches: p50/p99.
    Search(SearchArgs),
    /// Fill a room with stored messages in the server's SQLite file
    /// (server stopped).
    Seed(SeedArgs),
    /// Draw the latency-against-load chart from `fanout --json-out` lines.
    Plot(PlotArgs),
}

fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Runs the chosen scenario.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let options = RunOptions {
        json_out: cli.json_out.as_deref(),
        deadline: Instant::now() + Duration::from_secs(cli.timeout_secs),
        sessions: cli.sessions.as_deref(),
    };
    match cli.scenario {
        Scenario::Fanout(args) => fanout::run(args, false, options).await,
        Scenario::Cross(args) => fanout::run(args, true, options).await,
        Scenario::Idle(args) => idle::run(args, options).await,
        Scenario::Join(args) => join::run(args, options).await,
        Scenario::Burst(args) => burst::run(args, options).await,
        Scenario::Ingest(args) => ingest::run(args, options).await,
        Scenario::Soak(args) => soak::run(args, options).await,
        Scenario::Search(args) => search::run(args, options).await,
        Scenario::Seed(args) => seed::run(args),
        Scenario::Plot(args) => plot::run(args),
    }
}
