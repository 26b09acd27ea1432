//! The scenarios, one file each, each owning its options and its result.
//!
//! - [`fanout`]: rooms full of members, a few senders, latency and
//!   delivery integrity; also `cross`, the same over two instances.
//! - [`idle`]: many quiet sockets; the server's memory per connection.
//! - [`join`]: how long joining a room takes, history included.
//! - [`seed`]: fills a room with stored messages for `join`.
//! - [`burst`]: a burst of pipelined posts in one room: loss, order,
//!   refusals, disconnects, retries.
//! - [`ingest`]: many rooms all posting: stored messages/s and post→echo
//!   latency.
//! - [`soak`]: mixed traffic and hostile clients for minutes: server memory
//!   over time and exact delivery across reconnects.
//! - [`search`]: `/search/` over 1,000,000 messages: p50/p99 of a
//!   one-word query, for a common, a middling and a rare word.
//! - [`posting`]: the engine `burst` and `ingest` share.

pub mod burst;
pub mod fanout;
pub mod idle;
pub mod ingest;
pub mod join;
pub mod posting;
pub mod search;
pub mod seed;
pub mod soak;

use crate::connect::Server;
use crate::system;
use std::path::Path;
use std::time::Instant;

/// What every scenario gets from the global options.
#[derive(Debug, Clone, Copy)]
pub struct RunOptions<'a> {
    /// Append each result's JSON line here too.
    pub json_out: Option<&'a Path>,
    /// Give up after this.
    pub deadline: Instant,
    /// Reuse and save session cookies here.
    pub sessions: Option<&'a Path>,
}

/// Pids of the servers: the one given, or whoever listens on each port.
pub fn server_pids(servers: &[Server], given: &[u32]) -> Vec<u32> {
    if !given.is_empty() {
        return given.to_vec();
    }
    servers
        .iter()
        .filter_map(|s| match system::pid_listening_on(s.addr().port()) {
            Ok(pid) => Some(pid),
            Err(e) => {
                eprintln!("warning: {e}; server CPU and memory will not be reported");
                None
            }
        })
        .collect()
}

/// A number that tells this run's messages from earlier runs' in the same
/// rooms (their history is still there).
pub fn run_id() -> u32 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    nanos ^ std::process::id().rotate_left(16)
}
