//! From a checked [`Request`] to the actor that carries it out, and from
//! any failure to the client's `error` frame.
//!
//! Posts, edits, deletions, reactions, typing, history pages and lists of
//! who reacted go to the
//! room; private messages to the registry. Requests are sent in the order
//! they arrived and the room takes its mailbox in order, so a pipelined
//! burst is stored in the order it was sent; none is refused for being one
//! of many (past `CONFAB_REQUEST_QUEUE` waiting, the socket is simply not
//! read). Each waits within its
//! [allowance](super::limits), and whatever goes wrong on the way is a
//! [`SessionError`], which [`WsSession::fail`] turns into an `error` frame:
//! the one place that does. Every answer to a post (or `/pm`) carries the
//! `client_id` it came with, the errors too.

use super::WsSession;
use super::limits::{Refusal, Slot};
use crate::actors::registry::{PrivateMessageError, SendPrivate};
use crate::actors::room::{
    Delete, Edit, ListReactors, LoadHistory, Marker, MoveMarker, Post, Posted, React, Room,
    RoomError, Typing,
};
use crate::domain::{ClientId, MessageId, MessageText, Username};
use crate::protocol::{self, ErrorCode, Request, RequestError, ServerFrame, encode};
use actix::prelude::*;
use actix_web_actors::ws;
use std::time::Instant;

/// Everything that can go wrong with what a client asked, as it is told.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The frame is not a request the server can act on.
    #[error(transparent)]
    Request(#[from] RequestError),
    /// An allowance is spent.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// A binary or fragmented frame.
    #[error("only single JSON text frames are understood")]
    Binary,
    /// The session has no room (yet, or any more).
    #[error("this connection is closing (the server may be shutting down); reconnect")]
    Closing,
    /// The room refused or failed.
    #[error(transparent)]
    Room(#[from] RoomError),
    /// The room's actor could not be reached.
    #[error("the room is unavailable; try again")]
    RoomUnavailable(MailboxError),
    /// The private message found no one, or its conversation failed it.
    #[error(transparent)]
    Private(#[from] PrivateMessageError),
    /// The registry could not be reached for a private message.
    #[error("the private message could not be delivered; please try again")]
    RegistryUnavailable(MailboxError),
}

impl SessionError {
    /// How long to wait before trying again, for every `rate_limited` and
    /// `unavailable`.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            SessionError::Refused(refusal) => Some(refusal.retry_after()),
            SessionError::Room(e) => e.retry_after(),
            SessionError::Private(e) => e.retry_after(),
            _ => None,
        }
    }

    /// The code the client gets in its `error` frame.
    pub fn code(&self) -> ErrorCode {
        match self {
            SessionError::Request(e) => e.code(),
            SessionError::Refused(_) => ErrorCode::RateLimited,
            SessionError::Binary => ErrorCode::BinaryNotSupported,
            SessionError::Closing => ErrorCode::NotReady,
            SessionError::Room(e) => e.code(),
            SessionError::Private(e) => e.code(),
            SessionError::RoomUnavailable(_) | SessionError::RegistryUnavailable(_) => {
                ErrorCode::Internal
            }
        }
    }
}

impl WsSession {
    /// Handles one text frame from the client.
    pub(super) fn on_text(&mut self, text: &str, ctx: &mut ws::WebsocketContext<Self>) {
        match protocol::parse(text, &self.protocol_limits()) {
            Ok(request) => self.dispatch(request, ctx),
            Err(e) => self.fail_answering(e.into(), protocol::post_client_id(text), ctx),
        }
    }

    fn dispatch(&mut self, request: Request, ctx: &mut ws::WebsocketContext<Self>) {
        if request.is_write()
            && let Err(refused) = self.writes.spend(self.user.id)
        {
            return self.fail_answering(refused.into(), request.client_id().cloned(), ctx);
        }
        match request {
            Request::Post {
                text,
                client_id,
                reply_to,
            } => self.post(text, client_id, reply_to, ctx),
            Request::Private {
                to,
                text,
                client_id,
            } => self.send_private(to, text, client_id, ctx),
            Request::History { window, limit } => {
                let request = LoadHistory {
                    who: self.user.clone(),
                    window,
                    limit,
                };
                self.ask_room(request, Slot::History, ctx, |page, act, _| {
                    act.send(encode(&ServerFrame::History {
                        messages: page.messages,
                        has_more: page.has_more,
                        has_newer: page.has_newer,
                    }));
                });
            }
            Request::Edit { id, text } => {
                let edit = Edit {
                    editor: self.user.clone(),
                    id,
                    text,
                };
                self.ask_room(edit, Slot::Request, ctx, |(), _, _| {});
            }
            Request::Delete { id } => {
                let delete = Delete {
                    by: self.user.clone(),
                    id,
                };
                self.ask_room(delete, Slot::Request, ctx, |(), _, _| {});
            }
            Request::React { id, emoji } => {
                let react = React {
                    user: self.user.clone(),
                    id,
                    emoji,
                    max_distinct: self.limits.max_reactions,
                };
                self.ask_room(react, Slot::Request, ctx, |(), _, _| {});
            }
            Request::Reactors { id, emoji } => {
                let emoji_text = emoji.as_str().to_owned();
                let request = ListReactors {
                    reader: self.user.clone(),
                    id,
                    emoji,
                };
                self.ask_room(request, Slot::Reactors, ctx, move |users, act, _| {
                    act.send(encode(&ServerFrame::Reactors {
                        id,
                        emoji: emoji_text,
                        users,
                    }));
                });
            }
            Request::Typing(typing) => self.on_typing(typing),
            Request::Read(id) => self.move_marker(id, Marker::Read, ctx),
            Request::MarkUnread(id) => self.move_marker(id, Marker::Unread, ctx),
        }
    }

    /// Moves the user's read marker in this room; the room tells every
    /// modern socket of theirs the new counts.
    fn move_marker(&mut self, id: MessageId, to: Marker, ctx: &mut ws::WebsocketContext<Self>) {
        let request = MoveMarker {
            user: self.user.clone(),
            id,
            to,
        };
        self.ask_room(request, Slot::Request, ctx, |(), _, _| {});
    }

    /// Passes a typing state on if its allowance says so. Never waits: a
    /// room too busy to take it simply misses a typing hint.
    fn on_typing(&mut self, typing: bool) {
        let Some(room) = &self.room else { return };
        if !self.allowances.typing(typing, Instant::now()) {
            return;
        }
        let _ = room.try_send(Typing {
            user: self.user.username.clone(),
            typing,
        });
    }

    fn post(
        &mut self,
        text: MessageText,
        client_id: Option<ClientId>,
        reply_to: Option<MessageId>,
        ctx: &mut ws::WebsocketContext<Self>,
    ) {
        // A message sent ends "typing" (the browser says so too, but a
        // client that does not must not leave others watching a stale line).
        if self.allowances.is_typing() {
            self.on_typing(false);
        }
        let post = Post {
            author: self.user.clone(),
            text,
            session: self.id,
            client_id: client_id.clone(),
            reply_to,
        };
        // A new message's echo comes through the room, like everyone's; a
        // repeat is answered here, to this socket alone.
        self.ask_room_for(post, Slot::Request, client_id, ctx, |posted, act, _| {
            if let Posted::Repeat(view) = posted {
                act.send(encode(&ServerFrame::ChatMessage(*view)));
            }
        });
    }

    /// Sends `request` to the room, within the allowance of its `slot`;
    /// `done` gets the answer, and a refusal or failure becomes an `error`
    /// frame.
    fn ask_room<M, T>(
        &mut self,
        request: M,
        slot: Slot,
        ctx: &mut ws::WebsocketContext<Self>,
        done: impl FnOnce(T, &mut Self, &mut ws::WebsocketContext<Self>) + 'static,
    ) where
        M: actix::Message<Result = Result<T, RoomError>> + Send + 'static,
        T: Send + 'static,
        Room: Handler<M>,
    {
        self.ask_room_for(request, slot, None, ctx, done);
    }

    /// [`ask_room`](Self::ask_room) for a request the client named
    /// `client_id`, which its `error` frames then carry.
    fn ask_room_for<M, T>(
        &mut self,
        request: M,
        slot: Slot,
        client_id: Option<ClientId>,
        ctx: &mut ws::WebsocketContext<Self>,
        done: impl FnOnce(T, &mut Self, &mut ws::WebsocketContext<Self>) + 'static,
    ) where
        M: actix::Message<Result = Result<T, RoomError>> + Send + 'static,
        T: Send + 'static,
        Room: Handler<M>,
    {
        let Some(room) = self.room.clone() else {
            return self.fail_answering(SessionError::Closing, client_id, ctx);
        };
        if let Err(refused) = self.allowances.take(slot) {
            return self.fail_answering(refused.into(), client_id, ctx);
        }
        ctx.spawn(
            room.send(request)
                .into_actor(self)
                .map(move |result, act, ctx| {
                    act.allowances.release(slot);
                    match result {
                        Ok(Ok(answer)) => done(answer, act, ctx),
                        Ok(Err(e)) => act.fail_answering(e.into(), client_id, ctx),
                        Err(e) => {
                            act.fail_answering(SessionError::RoomUnavailable(e), client_id, ctx)
                        }
                    }
                }),
        );
    }

    fn send_private(
        &mut self,
        to: Username,
        text: MessageText,
        client_id: Option<ClientId>,
        ctx: &mut ws::WebsocketContext<Self>,
    ) {
        if let Err(refused) = self.allowances.private_message(Instant::now()) {
            return self.fail_answering(refused.into(), client_id, ctx);
        }
        if let Err(refused) = self.allowances.take(Slot::Request) {
            return self.fail_answering(refused.into(), client_id, ctx);
        }
        let echo = text.as_str().to_owned();
        let request = SendPrivate {
            from: self.user.clone(),
            session: self.id,
            to,
            text,
            client_id: client_id.clone(),
        };
        ctx.spawn(
            self.registry
                .send(request)
                .into_actor(self)
                .map(move |result, act, ctx| {
                    act.allowances.release(Slot::Request);
                    match result {
                        Ok(Ok(target)) => act.send(encode(&ServerFrame::PrivateMessageDelivered {
                            target,
                            message: echo,
                            client_id,
                        })),
                        Ok(Err(e)) => act.fail_answering(e.into(), client_id, ctx),
                        Err(e) => {
                            act.fail_answering(SessionError::RegistryUnavailable(e), client_id, ctx)
                        }
                    }
                }),
        );
    }

    /// Tells the client what went wrong, in an `error` frame: every failure
    /// of a request ends here. The session carries on, unless the user may
    /// no longer be in the room (staff only now, banned, no longer a
    /// member of a private room, the room deleted).
    pub(super) fn fail(&self, error: SessionError, ctx: &mut ws::WebsocketContext<Self>) {
        self.fail_answering(error, None, ctx);
    }

    /// [`fail`](Self::fail) for a post (or `/pm`) the client named
    /// `client_id`: the `error` frame carries it, so the client knows which
    /// of its posts was refused.
    pub(super) fn fail_answering(
        &self,
        error: SessionError,
        client_id: Option<ClientId>,
        ctx: &mut ws::WebsocketContext<Self>,
    ) {
        match &error {
            SessionError::Room(RoomError::Storage(e)) => {
                log::error!("room request for {} failed: {e}", self.user.username);
            }
            SessionError::RoomUnavailable(e) => {
                log::error!("room unavailable for {}: {e}", self.user.username);
            }
            SessionError::RegistryUnavailable(e) => {
                log::error!("registry unavailable for a private message: {e}");
            }
            _ => {}
        }
        self.send(encode(&ServerFrame::Error {
            code: error.code(),
            message: error.to_string(),
            retry_after_ms: error.retry_after().map(|wait| {
                // Rounded up: a client that waits exactly this long is let in.
                u64::try_from(wait.as_nanos().div_ceil(1_000_000)).unwrap_or(u64::MAX)
            }),
            client_id,
            mute: match &error {
                SessionError::Room(e) => e.mute().cloned(),
                _ => None,
            },
        }));
        // A refusal that says the user may no longer be here at all ends
        // the connection, with the close code that says why.
        if let SessionError::Room(e) = &error
            && let Some(hangup) = e.hangup()
        {
            ctx.notify(hangup);
        }
    }
}
