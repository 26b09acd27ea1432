//! The actors that carry chat traffic, and how they fit together.
//!
//! ```text
//!  browser ──ws──▶ Session ──Post──▶ Room ──publish──▶ Bus ──Published──▶ Room ──Deliver──▶ Session(s)
//!                    │  ▲                                                    (every instance)
//!          Connect/  │  │ Join/Leave
//!          Disconnect▼  │
//!                   Registry  (rooms on demand, presence, private messages)
//! ```
//!
//! - [`session::WsSession`]: one per WebSocket. Parses frames into checked
//!   requests, keeps the heartbeat and the connection's allowances, and
//!   writes the frames it is given.
//! - [`room::Room`]: one per room with members on this instance (the
//!   Channels "group"). Stores messages in order (through the database's
//!   writer, many in flight), publishes room events to the bus and fans the
//!   bus's events out to its members.
//! - [`registry::Registry`]: one per process. Starts rooms when their first
//!   member arrives and stops them when the last leaves; knows who is online
//!   where, for presence and private messages.
//! - [`bus`]: the seam between publishing a room event and delivering it.
//!   In-process by default; a Redis bridge plugs into the same trait so that
//!   rooms and sessions never know how many instances there are.
//! - [`sweep`]: one per process. Every few seconds, and at once on
//!   moderation news, re-checks the signed-in sessions, accounts, staff
//!   rights and room rules (bans, private rooms, renames, deletions)
//!   behind the registry's connections (what another process, the CLI,
//!   changed too) and hangs up those that lost them; it hands each room
//!   what it read of its rules and its members' standing.
//! - [`outbox`]: a session's output queue, shared by the rooms that fill
//!   it and the socket that drains it, and the rule for slow clients.
//! - [`delivery`]: a session as rooms and the registry see it, a
//!   [`SessionHandle`](delivery::SessionHandle), and the messages they send
//!   it.
//!
//! Imports go one way, so the pieces can be read and changed bottom-up:
//! `delivery` uses only `outbox`; `bus` and `redis_bridge` use only the bus;
//! `room` uses `bus` and `delivery`; `registry` adds `room`; `sweep` uses
//! `registry` and `delivery`; `session` is at
//! the top and nothing below it names it (only `http/ws.rs` starts one).
//!
//! Every queue a client can fill is bounded. Its requests: at
//! `CONFAB_REQUEST_QUEUE` waiting, its socket is no longer read. Its
//! output: frames are shared bytes in its [`outbox`](outbox::Outbox), and a
//! client that leaves more than `CONFAB_MAX_UNSENT_BYTES` unread for
//! `CONFAB_SLOW_CLIENT_SECS` (or takes nothing for
//! `CONFAB_CLIENT_TIMEOUT_SECS`) is disconnected; one that reads is never
//! dropped, however big the burst.

pub mod bus;
pub mod delivery;
pub mod outbox;
pub mod redis_bridge;
pub mod registry;
pub mod room;
pub mod session;
pub mod sweep;
pub mod unread;
