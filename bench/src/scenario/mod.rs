//! The scenarios, one file each, each owning its options and its result.
//!
//! - [`fanout`]: rooms full of members, a few senders, latency and
//!   delivery integrity; also `cross`, the same over two instances.
//! - [`idle`]: many quiet sockets; the server's memory per connection.
//! - [`join`]: how long joining a room takes, history included.
//! - [`seed`]: fills a room with stored messages for `join`.

pub mod fanout;
pub mod idle;
pub mod join;
pub mod seed;

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
