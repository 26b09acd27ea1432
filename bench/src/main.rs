//! `confab-bench`: a load generator for a running confab, over loopback.
//!
//! It signs real users up through the web forms, opens real WebSockets with
//! their session cookies and measures what a chat user feels: how fast a
//! message reaches every member of a room, how much server memory an idle
//! connection costs, how long joining a room takes. See `BENCHMARKS.md` at
//! the repository root for the commands and the figures.
//!
//! Where things live:
//! - [`cli`]: the command line, one subcommand per scenario;
//! - [`scenario`]: the scenarios themselves (`fanout`/`cross`, `idle`,
//!   `join`, `burst`, `ingest`, `soak`) and the `seed` step that fills a
//!   room for `join`;
//! - [`accounts`]: signing users up and opening rooms over HTTP;
//! - [`connect`]: opening a socket and waiting out its join burst;
//! - [`frames`]: the server frames we read and the stamped text we send;
//! - [`stats`]: latency percentiles and lost/duplicated/reordered accounting;
//! - [`system`]: `/proc` (RSS, CPU, the server's pid) and resource limits;
//! - [`report`]: the human table and the JSON line;
//! - [`plot`]: the SVG latency chart drawn from the JSON lines.

mod accounts;
mod cli;
mod clock;
mod connect;
mod frames;
mod plot;
mod report;
mod scenario;
mod stats;
mod system;

use clap::Parser;

fn main() -> anyhow::Result<()> {
    let cli = cli::Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cli.threads.max(1))
        .enable_all()
        .build()?;
    runtime.block_on(cli::run(cli))
}
