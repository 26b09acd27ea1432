//! The WebSocket wire format: JSON text frames, one event per frame.
//!
//! [`ClientFrame`] is everything a browser may send and [`ServerFrame`]
//! everything it may receive; `docs/protocol.md` is the reader's version of
//! the same. A frame is parsed exactly once, by [`parse`], at the edge of the
//! session actor, into a [`Request`] whose every value is already checked
//! against the server's [`Limits`]; a bad frame becomes a [`RequestError`]
//! whose [`code`](RequestError::code) goes back to the client in an `error`
//! frame.
//! Server frames are encoded once per event by [`encode`] and the bytes are
//! shared by every recipient.

mod client;
mod command;
#[cfg(test)]
mod proptests;
mod request;
mod server;

pub use client::{ClientFrame, FrameError, HISTORY_LIMIT_MAX, post_client_id};
pub use command::CommandError;
pub use request::{Limits, Request, RequestError, parse};
pub use server::{
    ActivityView, ErrorCode, MessageView, MuteView, PlaceKind, REPLY_EXCERPT_CHARS, ReactionView,
    ReplyView, RoomStateView, ServerFrame, StandingView, UnreadView, encode, excerpt, excerpt_of,
};
