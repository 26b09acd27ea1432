//! `ingest`: how many messages a server stores per second, and how long a
//! post waits for its echo, with many rooms all posting: N rooms × M
//! members (100 × 10), every member posting at a rate or as fast as a
//! window of unanswered posts allows, every member reading its room.
//!
//! A message counts as stored when its author gets its echo (the server
//! broadcasts only what it stored); `--db` also counts the rows of a SQLite
//! server before and after. `--find-half` first saturates (window mode) to
//! find the stored rate, then posts at half of it for the latency figure.
//! The database is the operator's choice: the generator only connects.

use super::RunOptions;
use super::posting::{self, LedgerSummary, Load};
use crate::accounts::{self, Site};
use crate::connect::Server;
use crate::report::{self, thousands};
use crate::stats::LatencySummary;
use crate::system::{self, CpuMeter, CpuUse, Machine};
use anyhow::{Context, bail};
use clap::{ArgAction, Args};
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Options of `ingest`.
#[derive(Debug, Args)]
pub struct IngestArgs {
    /// The server.
    #[arg(long, default_value = "http://127.0.0.1:8000")]
    pub url: String,
    /// Rooms.
    #[arg(long, default_value_t = 100)]
    pub rooms: usize,
    /// Members per room; every one of them posts.
    #[arg(long, default_value_t = 10)]
    pub clients: usize,
    /// Posts per second of each member; without it, as fast as the
    /// window allows (saturation).
    #[arg(long)]
    pub rate: Option<f64>,
    /// How long members post, in seconds.
    #[arg(long, default_value_t = 10.0)]
    pub secs: f64,
    /// First saturate for --secs, then post at half the stored rate for
    /// --secs (the latency figure).
    #[arg(long)]
    pub find_half: bool,
    /// Posts a member may have unanswered.
    #[arg(long, default_value_t = 64)]
    pub window: u64,
    /// Bytes of each post's text.
    #[arg(long, default_value_t = 64)]
    pub size: usize,
    /// Send a `client_id` with each post (`--client-ids false` for a
    /// server that would refuse the field).
    #[arg(long, default_value_t = true, action = ArgAction::Set)]
    pub client_ids: bool,
    /// The server's SQLite file: count its message rows before and after.
    #[arg(long)]
    pub db: Option<String>,
    /// Accounts, dealt over the sockets in turn (default: one per socket;
    /// each costs the server a password hash once, see --sessions).
    #[arg(long)]
    pub users: Option<usize>,
    /// Account names are this plus a number.
    #[arg(long, default_value = "bench")]
    pub user_prefix: String,
    /// Room names are this plus a number.
    #[arg(long, default_value = "ingest")]
    pub room_prefix: String,
    /// Accounts signed in at once.
    #[arg(long, default_value_t = 4)]
    pub login_concurrency: usize,
    /// Sockets opened at once.
    #[arg(long, default_value_t = 32)]
    pub connect_concurrency: usize,
    /// The server's pid; default: found by port.
    #[arg(long = "server-pid")]
    pub server_pid: Option<u32>,
    /// A free-form label copied into the JSON line.
    #[arg(long)]
    pub label: Option<String>,
}

/// The JSON line of one `ingest` stage.
#[derive(Debug, Serialize)]
struct IngestResult {
    scenario: &'static str,
    label: Option<String>,
    /// `saturate`, `rate` or `half` (the rate stage of --find-half).
    mode: &'static str,
    rooms: usize,
    clients_per_room: usize,
    rate_per_member: Option<f64>,
    offered_per_sec: Option<f64>,
    window: u64,
    size: usize,
    posts: LedgerSummary,
    /// Echoed (stored) messages per second, first post to last echo.
    stored_per_sec: f64,
    /// Rows the SQLite file gained (with --db).
    db_rows_added: Option<i64>,
    echo_latency: LatencySummary,
    errors: BTreeMap<String, u64>,
    disconnects: BTreeMap<String, u64>,
    /// Deliveries (member, stored post) that never arrived.
    lost: u64,
    duplicated: u64,
    reordered: u64,
    secs: f64,
    cpu: CpuUse,
    server_rss_kib: Option<u64>,
    machine: Machine,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Message rows in a SQLite server's file (read while it runs: WAL lets
/// a reader in beside the writer).
fn count_rows(db: &str) -> anyhow::Result<i64> {
    let path = db.strip_prefix("sqlite://").unwrap_or(db);
    let mut conn = diesel::sqlite::SqliteConnection::establish(path)
        .with_context(|| format!("opening {path}"))?;
    let count: Count =
        diesel::sql_query("SELECT count(*) AS n FROM messages").get_result(&mut conn)?;
    Ok(count.n)
}

/// Runs `ingest`.
pub async fn run(args: IngestArgs, options: RunOptions<'_>) -> anyhow::Result<()> {
    if args.rooms == 0 || args.clients == 0 || args.window == 0 {
        bail!("need rooms, clients and window of at least 1");
    }
    let positive = |x: f64| x > 0.0 && x.is_finite();
    if args.rate.is_some_and(|r| !positive(r)) || !positive(args.secs) {
        bail!("--rate and --secs must be positive");
    }
    if args.find_half && args.rate.is_some() {
        bail!("--find-half finds the rate itself; leave out --rate");
    }
    let machine = Machine::measure().await;
    let server = Server::parse(&args.url)?;
    let pids = super::server_pids(std::slice::from_ref(&server), args.server_pid.as_slice());
    let total = args.rooms * args.clients;
    system::raise_open_files(total as u64 + 1024)?;
    let site = Site::new(&server)?;
    let users = args.users.unwrap_or(total).clamp(1, total);
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
    // Each room opened by another account: a user may create only a few
    // rooms an hour (CONFAB_ROOMS_PER_HOUR).
    for (r, room) in rooms.iter().enumerate() {
        site.open_room(&accounts[r % accounts.len()], room).await?;
    }

    let mut stages = vec![match args.rate {
        Some(rate) => ("rate", Some(rate)),
        None => ("saturate", None),
    }];
    if args.find_half {
        stages.push(("half", None));
    }
    let mut stored_rate = 0.0;
    for (mode, mut rate) in stages {
        if mode == "half" {
            if stored_rate <= 0.0 {
                bail!("nothing was stored while saturating: no half rate to post at");
            }
            rate = Some(stored_rate / 2.0 / total as f64);
        }
        let messages = match rate {
            Some(r) => (r * args.secs).ceil().max(1.0) as u32,
            None => u32::MAX,
        };
        let load = Load {
            run: super::run_id(),
            rooms: rooms.clone(),
            members: args.clients,
            senders: args.clients,
            messages,
            rate,
            send_for: Some(Duration::from_secs_f64(args.secs)),
            window: args.window,
            size: args.size,
            client_ids: args.client_ids,
            retry: false,
            record_order: false,
            drain: Duration::from_secs(10),
            deadline: options
                .deadline
                .min(Instant::now() + Duration::from_secs_f64(args.secs + 120.0)),
        };
        let rows_before = args.db.as_deref().map(count_rows).transpose()?;
        let cpu = CpuMeter::start(&pids);
        let outcome = posting::run(&server, &accounts, load, args.connect_concurrency).await?;
        let cpu = cpu.stop();
        let rows_after = args.db.as_deref().map(count_rows).transpose()?;
        let posts = outcome.posts();
        stored_rate = posts.accepted as f64 / outcome.secs.max(1e-9);
        let (lost, _) = outcome.losses(args.clients);
        let (duplicated, reordered) = outcome.duplicated_reordered();
        let result = IngestResult {
            scenario: "ingest",
            label: args.label.clone(),
            mode,
            rooms: args.rooms,
            clients_per_room: args.clients,
            rate_per_member: rate,
            offered_per_sec: rate.map(|r| r * total as f64),
            window: args.window,
            size: args.size,
            posts,
            stored_per_sec: stored_rate,
            db_rows_added: rows_before.zip(rows_after).map(|(b, a)| a - b),
            echo_latency: outcome.echo_latency,
            errors: outcome.errors(),
            disconnects: outcome.disconnects(),
            lost,
            duplicated,
            reordered,
            secs: outcome.secs,
            cpu,
            server_rss_kib: pids.first().and_then(|&p| system::rss_kib(p).ok()),
            machine: machine.clone(),
        };
        print(&result);
        report::emit(&result, options.json_out)?;
    }
    Ok(())
}

fn print(r: &IngestResult) {
    let l = &r.echo_latency;
    let load = match r.rate_per_member {
        Some(rate) => format!(
            "{rate:.2} posts/s per member, {} offered",
            thousands(r.offered_per_sec.unwrap_or(0.0) as u64)
        ),
        None => format!("as fast as a window of {} allows", r.window),
    };
    let cpu = match r.cpu.server_cores {
        Some(server) => format!("server {server:.2} cores, bench {:.2}", r.cpu.bench_cores),
        None => format!("bench {:.2} cores", r.cpu.bench_cores),
    };
    report::print_table(
        &format!(
            "ingest ({}): {} rooms x {} members, all posting",
            r.mode, r.rooms, r.clients_per_room
        ),
        &[
            ("load", load),
            (
                "posts",
                format!(
                    "{} sent, {} stored, {} refused",
                    thousands(r.posts.posts),
                    thousands(r.posts.accepted),
                    thousands(r.posts.refused)
                ),
            ),
            (
                "stored/s",
                format!(
                    "{} (rows added: {})",
                    thousands(r.stored_per_sec.round() as u64),
                    r.db_rows_added
                        .map_or("not counted".into(), |n| n.to_string())
                ),
            ),
            (
                "post→echo ms",
                format!(
                    "p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2}",
                    l.p50_ms, l.p90_ms, l.p99_ms, l.max_ms
                ),
            ),
            ("errors", format!("{:?}", r.errors)),
            ("disconnects", format!("{:?}", r.disconnects)),
            (
                "lost/dup/reord",
                format!("{}/{}/{}", r.lost, r.duplicated, r.reordered),
            ),
            ("time", format!("{:.2} s to the last echo", r.secs)),
            ("cpu", cpu),
        ],
    );
}
