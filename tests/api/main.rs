//! The integration tests, one module per capability, built as one test
//! binary (`cargo test` links it once): each module drives the real server
//! over real sockets, with what `common` provides.
//!
//! `cargo test --test api chat::` runs one module's tests; a test's full
//! name is its module path, e.g. `chat::two_users_converse::sqlite`.

// Helpers and tests panic on purpose when something is wrong, and
// clippy.toml's exemption covers only `#[test]` functions themselves.
#![allow(clippy::unwrap_used, clippy::expect_used)]

// First, with `macro_use`: `on_every_backend!` is visible only in the
// modules declared after it.
#[macro_use]
mod common;

mod account_throttles;
mod accounts;
mod bad_input;
mod browser;
mod browser_mentions;
mod browser_moderation;
mod browser_replies;
mod browser_unread;
mod bus_auth;
mod chat;
mod cli;
mod client_ids;
mod connection_caps;
mod deactivation;
mod deploy;
mod direct_messages;
mod durability;
mod flow_control;
mod frame_cap;
mod history;
mod http_hardening;
mod limits;
mod mentions;
mod message_actions;
mod moderation_service;
mod moderation_sockets;
mod pages;
mod postgres;
mod presence;
mod private_messages;
mod private_rooms;
mod reactions;
mod replies;
mod rights;
mod rooms;
mod scale_out;
mod search;
mod sessions;
mod shutdown;
mod typing;
mod unread;
