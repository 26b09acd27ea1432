//! `burst`: one room of 50 members, 10 of them posting 200 messages each
//! as fast as a window of 64 unanswered posts allows, everyone reading as
//! fast as it can. What flow control has to survive: does every member get
//! every accepted post, in one order, without being disconnected, and what
//! is refused (and, with `--retry`, does every refused post get in later,
//! once)?
//!
//! The engine is [`super::posting`]; this file owns the options and the
//! report.

use super::RunOptions;
use super::posting::{self, LedgerSummary, Load, OrderCheck};
use crate::accounts::{self, Site};
use crate::connect::Server;
use crate::report::{self, thousands};
use crate::stats::LatencySummary;
use crate::system::{self, CpuMeter, CpuUse, Machine};
use anyhow::bail;
use clap::{ArgAction, Args};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// Options of `burst`.
#[derive(Debug, Args)]
pub struct BurstArgs {
    /// The server.
    #[arg(long, default_value = "http://127.0.0.1:8000")]
    pub url: String,
    /// Members (sockets) of the room, senders included.
    #[arg(long, default_value_t = 50)]
    pub clients: usize,
    /// Members that post (the first ones).
    #[arg(long, default_value_t = 10)]
    pub senders: usize,
    /// Posts per sender.
    #[arg(long, default_value_t = 200)]
    pub messages: u32,
    /// Posts a sender may have unanswered (pipelined).
    #[arg(long, default_value_t = 64)]
    pub window: u64,
    /// Bytes of each post's text.
    #[arg(long, default_value_t = 64)]
    pub size: usize,
    /// Send a `client_id` with each post (`--client-ids false` for a
    /// server that would refuse the field; refusals are then not
    /// attributed to posts and `--retry` is impossible).
    #[arg(long, default_value_t = true, action = ArgAction::Set)]
    pub client_ids: bool,
    /// Send every refused post again after its `retry_after_ms`, with the
    /// same client id, until it is accepted (for a server with its write
    /// allowance on).
    #[arg(long)]
    pub retry: bool,
    /// Accounts, dealt over the sockets in turn (default: one per socket).
    #[arg(long)]
    pub users: Option<usize>,
    /// Account names are this plus a number.
    #[arg(long, default_value = "bench")]
    pub user_prefix: String,
    /// The room.
    #[arg(long, default_value = "burst")]
    pub room: String,
    /// Accounts signed in at once.
    #[arg(long, default_value_t = 4)]
    pub login_concurrency: usize,
    /// How long to wait for deliveries after the last answer, in seconds.
    #[arg(long, default_value_t = 10.0)]
    pub drain_secs: f64,
    /// Give up on answers after this many seconds (retries included).
    #[arg(long, default_value_t = 300.0)]
    pub max_secs: f64,
    /// The server's pid; default: found by port.
    #[arg(long = "server-pid")]
    pub server_pid: Option<u32>,
    /// A free-form label copied into the JSON line.
    #[arg(long)]
    pub label: Option<String>,
}

/// The JSON line of a `burst` run.
#[derive(Debug, Serialize)]
struct BurstResult {
    scenario: &'static str,
    label: Option<String>,
    clients: usize,
    senders: usize,
    messages_per_sender: u32,
    window: u64,
    client_ids: bool,
    retry: bool,
    posts: LedgerSummary,
    /// Error frames over every socket, by code.
    errors: BTreeMap<String, u64>,
    /// Sockets that ended during the run, by close code.
    disconnects: BTreeMap<String, u64>,
    /// Per member, in socket order: live posts received.
    received: Vec<u64>,
    /// (member, accepted post) pairs that never arrived.
    lost: u64,
    /// Deliveries of posts whose author never saw them echoed.
    unconfirmed: u64,
    duplicated: u64,
    reordered: u64,
    order: OrderCheck,
    echo_latency: LatencySummary,
    /// First post to last echo.
    secs: f64,
    /// First post to the end of the wait for deliveries.
    total_secs: f64,
    cpu: CpuUse,
    server_rss_kib: Option<u64>,
    machine: Machine,
}

/// Runs `burst`.
pub async fn run(args: BurstArgs, options: RunOptions<'_>) -> anyhow::Result<()> {
    if args.senders == 0 || args.senders > args.clients || args.window == 0 {
        bail!("need 1 ≤ senders ≤ clients and a window of at least 1");
    }
    if args.retry && !args.client_ids {
        bail!("--retry needs client ids: without them a refusal does not say which post it was");
    }
    let machine = Machine::measure().await;
    let server = Server::parse(&args.url)?;
    let pids = super::server_pids(std::slice::from_ref(&server), args.server_pid.as_slice());
    system::raise_open_files(args.clients as u64 + 1024)?;
    let site = Site::new(&server)?;
    let users = args.users.unwrap_or(args.clients).clamp(1, args.clients);
    let accounts = accounts::sign_in_all(
        &site,
        &args.user_prefix,
        users,
        args.login_concurrency,
        options.sessions,
    )
    .await?;
    site.open_room(&accounts[0], &args.room).await?;
    let load = Load {
        run: super::run_id(),
        rooms: vec![args.room.clone()],
        members: args.clients,
        senders: args.senders,
        messages: args.messages,
        rate: None,
        send_for: None,
        window: args.window,
        size: args.size,
        client_ids: args.client_ids,
        retry: args.retry,
        record_order: true,
        drain: Duration::from_secs_f64(args.drain_secs),
        deadline: options
            .deadline
            .min(std::time::Instant::now() + Duration::from_secs_f64(args.max_secs)),
    };
    let cpu = CpuMeter::start(&pids);
    let outcome = posting::run(&server, &accounts, load, 32).await?;
    let cpu = cpu.stop();
    let (lost, unconfirmed) = outcome.losses(args.senders);
    let (duplicated, reordered) = outcome.duplicated_reordered();
    let result = BurstResult {
        scenario: "burst",
        label: args.label.clone(),
        clients: args.clients,
        senders: args.senders,
        messages_per_sender: args.messages,
        window: args.window,
        client_ids: args.client_ids,
        retry: args.retry,
        posts: outcome.posts(),
        errors: outcome.errors(),
        disconnects: outcome.disconnects(),
        received: outcome.readers.iter().map(|r| r.received).collect(),
        lost,
        unconfirmed,
        duplicated,
        reordered,
        order: outcome.order(1),
        echo_latency: outcome.echo_latency,
        secs: outcome.secs,
        total_secs: outcome.total_secs,
        cpu,
        server_rss_kib: pids.first().and_then(|&p| system::rss_kib(p).ok()),
        machine,
    };
    print(&result);
    report::emit(&result, options.json_out)
}

fn print(r: &BurstResult) {
    let p = &r.posts;
    let l = &r.echo_latency;
    let min = r.received.iter().min().copied().unwrap_or(0);
    let max = r.received.iter().max().copied().unwrap_or(0);
    let clean = r.lost == 0
        && r.duplicated == 0
        && r.disconnects.is_empty()
        && r.order.same_order
        && p.accepted_twice == 0
        && (!r.retry || p.never_accepted == 0);
    let mut rows = vec![
        (
            "posts",
            format!(
                "{} sent in {} frames: {} accepted, {} refused ({} with retry_after_ms)",
                thousands(p.posts),
                thousands(p.attempts),
                thousands(p.accepted),
                thousands(p.refused),
                thousands(p.refused_with_retry_after)
            ),
        ),
        ("errors", format!("{:?}", r.errors)),
        ("disconnects", format!("{:?}", r.disconnects)),
        (
            "received per member",
            format!("min {} max {} (of {} accepted)", min, max, p.accepted),
        ),
        (
            "lost/dup/reord",
            format!(
                "{}/{}/{} (unconfirmed {})",
                r.lost, r.duplicated, r.reordered, r.unconfirmed
            ),
        ),
        (
            "order",
            format!(
                "{} of {} members in id order, {} identical; same order: {}",
                r.order.in_id_order, r.order.members, r.order.identical, r.order.same_order
            ),
        ),
        (
            "post→echo ms",
            format!(
                "p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2}",
                l.p50_ms, l.p90_ms, l.p99_ms, l.max_ms
            ),
        ),
        (
            "time",
            format!(
                "{:.2} s to the last echo, {:.2} s in all",
                r.secs, r.total_secs
            ),
        ),
    ];
    if r.retry {
        rows.push((
            "retry",
            format!(
                "{} posts refused at least once, {} of them got in later, {} never; {} stored twice",
                p.refused_posts, p.refused_then_accepted, p.never_accepted, p.accepted_twice
            ),
        ));
    }
    if p.unattributed > 0 {
        rows.push((
            "unattributed",
            format!(
                "{} refusals named no post (a server without client ids): not retried",
                p.unattributed
            ),
        ));
    }
    rows.push(("verdict", if clean { "OK" } else { "NOT CLEAN" }.into()));
    report::print_table(
        &format!(
            "burst: 1 room x {} members, {} senders x {} posts, window {}",
            r.clients, r.senders, r.messages_per_sender, r.window
        ),
        &rows,
    );
}
