//! confab: a real-time chat server on actix actors — rooms, live messages
//! and presence, as one small binary.
//!
//! Where things live:
//! - [`config`]: every setting, read once from the environment.
//! - [`startup`]: builds the database, the actors and the HTTP server.
//! - [`cli`]: the binary's commands (`serve`, `createsuperuser`, `room`,
//!   `user`, `healthcheck`).
//! - [`domain`]: validated values (room names, usernames, message text, ids).
//! - [`protocol`]: the WebSocket wire format, parsed and encoded at the edge.
//! - [`actors`]: session (one per socket), room (one per active room),
//!   registry (rooms and presence), the session handle rooms deliver to
//!   ([`actors::delivery`]) and the bus between rooms and delivery:
//!   in-process ([`actors::bus`]) or, with `REDIS_URL`, the bridge between
//!   instances ([`actors::redis_bridge`], with its `wire` format and the
//!   `presence` all instances share).
//! - [`http`]: pages, the staff console, accounts and sign-in (and their
//!   throttles), the cookie key, the WebSocket handshake, health, assets,
//!   templates, and the one error type of every handler.
//! - [`passwords`]: Argon2 hashing, for the HTTP side and the CLI alike.
//! - [`db`]: connection pool (SQLite or PostgreSQL), the writer that
//!   commits room writes in batches, generated schema, row structs and
//!   queries.
//! - [`metrics`]: process-wide counters, served at `/metrics`.

pub mod actors;
pub mod cli;
pub mod config;
pub mod db;
pub mod domain;
pub mod http;
pub mod metrics;
pub mod moderation;
pub mod passwords;
pub mod protocol;
pub mod startup;
