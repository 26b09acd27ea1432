//! The WebSocket wire format: JSON text frames, one event per frame.
//!
//! [`ClientFrame`] is everything a browser may send and [`ServerFrame`]
//! everything it may receive; `docs/protocol.md` is the reader's version of
//! the same. A frame is parsed exactly once, by [`parse`], at the edge of the
//! session actor; a bad frame becomes a [`FrameError`] whose
//! [`code`](FrameError::code) goes back to the client in an `error` frame.
//! Server frames are encoded once per event by [`encode`] and the bytes are
//! shared by every recipient.

mod client;
mod command;
mod server;

pub use client::{ClientFrame, FrameError, HISTORY_LIMIT_MAX, parse};
pub use command::{CommandError, PrivateCommand};
pub use server::{ErrorCode, MessageView, ReactionView, ServerFrame, encode};
