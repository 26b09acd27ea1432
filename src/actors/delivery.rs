//! Sessions as rooms and the registry see them: something to offer frames
//! to, hand a join burst, hang up, and ask whether it is still there.
//!
//! This is the bottom of the actor layer. Rooms and the registry hold a
//! [`SessionHandle`] (the session's [`Outbox`] and a `Recipient`) instead
//! of the session actor's address, so neither imports the session module
//! and the session is free to change how it talks to its socket: moving
//! from actix-web-actors to another WebSocket layer touches only
//! `session/` and the handshake in `http/ws.rs`.
//!
//! Frames go straight into the session's outbox, not through its mailbox:
//! offering never waits and is never refused for a burst's size. Whether a
//! client keeps up is judged by the session from the outbox's unsent bytes
//! over time (`outbox.rs`).
//!
//! The messages defined here are the whole contract between the two sides:
//! [`Deliver`] (one live frame), [`JoinBurst`] (history and the frames that
//! close a join), [`Hangup`] (the server ends the connection, and why) and
//! [`Disconnect`] (a connection is gone, told to the registry).

use super::outbox::Outbox;
use crate::domain::{MessageId, RoomName};
use actix::dev::ToEnvelope;
use actix::prelude::*;
use bytestring::ByteString;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// One WebSocket connection within this process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(u64);

impl SessionId {
    /// A fresh id, never handed out before in this process.
    pub fn next() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        SessionId(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

/// A frame for the client.
#[derive(Clone)]
pub struct Deliver {
    /// The encoded frame, shared with every other recipient.
    pub frame: ByteString,
    /// Set when the frame announces a new message.
    pub message_id: Option<MessageId>,
}

/// What a session gets on joining, in one message: the history (or the
/// catch-up after a reconnect), then the frames that close the burst.
#[derive(Default)]
pub struct JoinBurst {
    /// The ids of `history`, ascending.
    pub ids: Vec<MessageId>,
    /// Stored messages, oldest first.
    pub history: Vec<ByteString>,
    /// Frames after the history (`resumed`, `user_list`).
    pub then: Vec<ByteString>,
}

/// Why the server ends a connection, with the close code each one sends
/// (the session turns it into the close frame; docs/protocol.md lists
/// them).
#[derive(Message, Debug, Clone, PartialEq, Eq)]
#[rtype(result = "()")]
pub enum Hangup {
    /// The client left too much unread for too long, or took nothing at
    /// all for the client timeout (1013, try again later).
    TooSlow,
    /// The server is shutting down (1001): the client reconnects (to
    /// another instance, behind a load balancer) and resumes.
    GoingAway,
    /// The user may no longer be in this room: it is admin-only now (1008,
    /// policy).
    NotAdmitted,
    /// The session the connection was opened with ended: a logout, a
    /// password change, `confab user logout-all`, or idle expiry (1008,
    /// policy, with the reason "signed out"; the client should not
    /// reconnect but offer to log in).
    SignedOut,
    /// The account was deactivated (1008, "account deactivated").
    Deactivated,
    /// The room is private and the user is no longer one of its members
    /// (1008, "not a member of this room").
    NotAMember,
    /// A moderator removed the user from the room (4000, "kicked:
    /// <reason>"); they may come back.
    Kicked {
        /// Why, as the moderator gave it (may be empty).
        reason: String,
    },
    /// The user is banned from the room (4003, "banned: <reason>"); the
    /// client does not reconnect.
    Banned {
        /// Why, as the moderator gave it (may be empty).
        reason: String,
    },
    /// The room was deleted (4004, "room deleted").
    RoomDeleted,
    /// The room was renamed (4005, "moved: <new name>"): the client goes
    /// to the new name.
    Moved {
        /// The room's name now.
        to: RoomName,
    },
}

/// A connection is gone, for the registry. Sending it twice
/// is harmless.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Disconnect {
    /// The connection.
    pub session: SessionId,
}

/// One session, as the rooms and the registry hold it. Clones share one
/// allocation: a connection costs its room and the registry a pointer each.
#[derive(Clone)]
pub struct SessionHandle(Arc<Handles>);

struct Handles {
    id: SessionId,
    outbox: Arc<Outbox>,
    hangup: Recipient<Hangup>,
    modern: bool,
}

impl SessionHandle {
    /// The handle of session `id`, whose actor runs at `addr` and writes
    /// `outbox` to its socket; `modern` if its client declared itself a
    /// newer one (`?v=2`).
    pub fn new<A>(id: SessionId, addr: &Addr<A>, outbox: Arc<Outbox>, modern: bool) -> Self
    where
        A: Actor + Handler<Hangup>,
        A::Context: ToEnvelope<A, Hangup>,
    {
        SessionHandle(Arc::new(Handles {
            id,
            outbox,
            hangup: addr.clone().recipient(),
            modern,
        }))
    }

    /// Which session this is.
    pub fn id(&self) -> SessionId {
        self.0.id
    }

    /// Whether the client opened the socket with `?v=2`: only such
    /// sockets are sent the frame types added after the tutorial's
    /// (`unread`, `read_marker`, `activity`); every other socket gets only
    /// the types it has always known, so the tutorial's client keeps
    /// working unchanged.
    pub fn is_modern(&self) -> bool {
        self.0.modern
    }

    /// Queues a frame for the client without waiting; the payload is
    /// shared, not copied. Never refused: however big a burst, a client
    /// that reads gets it (the session itself judges one that does not,
    /// by bytes and time, and hangs up on its own).
    pub fn offer(&self, deliver: Deliver) {
        self.0
            .outbox
            .deliver(deliver.frame.into_bytes(), deliver.message_id);
    }

    /// Queues the join burst, ahead of every live frame that follows.
    pub fn send_burst(&self, burst: JoinBurst) {
        let frames = burst.history.into_iter().chain(burst.then);
        self.0
            .outbox
            .burst(burst.ids, frames.map(ByteString::into_bytes));
    }

    /// Ends the connection for the reason given.
    pub fn hang_up(&self, why: Hangup) {
        self.0.hangup.do_send(why);
    }

    /// Whether the session is still running.
    pub fn is_connected(&self) -> bool {
        self.0.hangup.connected()
    }
}
