//! The session actor: one per WebSocket connection (the Channels consumer).
//!
//! It turns frames into typed requests for its room or the registry, and
//! typed deliveries back into frames. It keeps the connection honest with a
//! ping/pong heartbeat and closes it after a silence. Bad input never ends
//! the connection: each bad frame gets an `error` frame and the session
//! carries on. This is the only module that touches `actix-web-actors`.

use crate::actors::SessionId;
use crate::actors::registry::{Connect, Disconnect, PrivateMessageError, Registry, SendPrivate};
use crate::actors::room::{Delete, Edit, LoadHistory, Post, React, Room, RoomError, Typing};
use crate::config::Settings;
use crate::db::queries::messages::Window;
use crate::domain::{Emoji, Identity, MessageId, MessageText, MessageTextError, RoomInfo};
use crate::metrics::METRICS;
use crate::protocol::{self, ClientFrame, ErrorCode, PrivateCommand, ServerFrame, encode};
use actix::prelude::*;
use actix_web::{HttpRequest, HttpResponse, web};
use actix_web_actors::ws;
use bytestring::ByteString;
use std::time::{Duration, Instant};

/// Largest WebSocket frame accepted, in bytes. Comfortably above the
/// longest allowed message (4,000 characters of up to 4 UTF-8 bytes, JSON
/// escaped); a bigger frame closes the connection with code 1009.
pub const MAX_FRAME_BYTES: usize = 64 * 1024;

/// Requests (posts, edits, reactions, history) one session may have waiting
/// in its room before it is told to slow down.
const MAX_REQUESTS_IN_FLIGHT: usize = 32;

/// A client repeating "still typing" more often than this is not passed
/// on: the browser sends it every 2 s, and it must not flood the room.
const TYPING_REPEAT: Duration = Duration::from_secs(1);

/// The limits a session enforces, from [`Settings`].
#[derive(Debug, Clone)]
pub struct SessionLimits {
    /// Ping interval.
    pub heartbeat_interval: Duration,
    /// Silence before the connection is closed.
    pub client_timeout: Duration,
    /// Mailbox capacity: deliveries that may wait for this client.
    pub queue: usize,
    /// Longest message, in characters.
    pub max_message_chars: usize,
}

impl From<&Settings> for SessionLimits {
    fn from(s: &Settings) -> Self {
        SessionLimits {
            heartbeat_interval: s.heartbeat_interval,
            client_timeout: s.client_timeout,
            queue: s.session_queue,
            max_message_chars: s.max_message_chars,
        }
    }
}

/// One WebSocket connection of one user to one room.
pub struct WsSession {
    id: SessionId,
    user: Identity,
    room_info: RoomInfo,
    registry: Addr<Registry>,
    room: Option<Addr<Room>>,
    limits: SessionLimits,
    last_heard: Instant,
    /// Ids of the messages sent in the join burst: a live copy of one of
    /// them (stored just before the join, delivered just after) is not
    /// written twice. At most one burst's worth, so small and bounded.
    sent_in_history: Vec<MessageId>,
    /// Catch up from here instead of sending the latest ten on join.
    resume_after: Option<MessageId>,
    requests_in_flight: usize,
    /// Last typing state passed on to the room, and when.
    typing: Option<(bool, Instant)>,
}

impl WsSession {
    /// A session for `user` in `room`, not yet started.
    pub fn new(
        user: Identity,
        room_info: RoomInfo,
        registry: Addr<Registry>,
        limits: SessionLimits,
    ) -> Self {
        WsSession {
            id: SessionId::next(),
            user,
            room_info,
            registry,
            room: None,
            limits,
            last_heard: Instant::now(),
            sent_in_history: Vec::new(),
            resume_after: None,
            requests_in_flight: 0,
            typing: None,
        }
    }

    /// Makes the session a reconnection that has seen every message up to
    /// `after`: it catches up from there instead of getting the latest ten.
    pub fn resuming_after(mut self, after: Option<MessageId>) -> Self {
        self.resume_after = after;
        self
    }

    /// Completes the WebSocket handshake and starts the session actor.
    pub fn start(
        self,
        req: &HttpRequest,
        stream: web::Payload,
    ) -> Result<HttpResponse, actix_web::Error> {
        ws::WsResponseBuilder::new(self, req, stream)
            .frame_size(MAX_FRAME_BYTES)
            .start()
    }

    fn send_error(
        ctx: &mut ws::WebsocketContext<Self>,
        code: ErrorCode,
        message: impl Into<String>,
    ) {
        ctx.text(encode(&ServerFrame::Error {
            code,
            message: message.into(),
        }));
    }

    fn on_text(&mut self, text: &str, ctx: &mut ws::WebsocketContext<Self>) {
        let frame = match protocol::parse(text) {
            Ok(frame) => frame,
            Err(e) => return Self::send_error(ctx, e.code(), e.to_string()),
        };
        match frame {
            ClientFrame::ChatMessage { message } => self.on_chat_message(message, ctx),
            ClientFrame::History {
                before,
                after,
                limit,
            } => {
                let window = match (before, after) {
                    (Some(before), _) => Window::Before(before.0),
                    (None, Some(after)) => Window::After(after.0),
                    (None, None) => Window::Latest,
                };
                self.ask_room(LoadHistory { window, limit }, ctx, |page, _act, ctx| {
                    ctx.text(encode(&ServerFrame::History {
                        messages: page.messages,
                        has_more: page.has_more,
                    }))
                })
            }
            ClientFrame::EditMessage { id, message } => {
                if let Some(text) = self.check_text(message, ctx) {
                    let edit = Edit {
                        editor: self.user.clone(),
                        id,
                        text,
                    };
                    self.ask_room(edit, ctx, |(), _, _| {});
                }
            }
            ClientFrame::DeleteMessage { id } => {
                let delete = Delete {
                    by: self.user.clone(),
                    id,
                };
                self.ask_room(delete, ctx, |(), _, _| {});
            }
            ClientFrame::React { id, emoji } => match Emoji::parse(&emoji) {
                Ok(emoji) => {
                    let react = React {
                        user: self.user.clone(),
                        id,
                        emoji,
                    };
                    self.ask_room(react, ctx, |(), _, _| {});
                }
                Err(e) => Self::send_error(ctx, ErrorCode::InvalidEmoji, e.to_string()),
            },
            ClientFrame::Typing { typing } => self.on_typing(typing),
            // `parse` turns unknown types into an error; nothing to do here.
            ClientFrame::Unknown => {}
        }
    }

    /// Passes a typing state on, unless it only repeats the last one within
    /// [`TYPING_REPEAT`].
    fn on_typing(&mut self, typing: bool) {
        let Some(room) = &self.room else { return };
        let repeat = self
            .typing
            .is_some_and(|(last, at)| last == typing && (!typing || at.elapsed() < TYPING_REPEAT));
        if repeat {
            return;
        }
        self.typing = Some((typing, Instant::now()));
        room.do_send(Typing {
            user: self.user.username.clone(),
            typing,
        });
    }

    fn check_text(
        &self,
        text: String,
        ctx: &mut ws::WebsocketContext<Self>,
    ) -> Option<MessageText> {
        match MessageText::parse(text, self.limits.max_message_chars) {
            Ok(text) => Some(text),
            Err(e) => {
                let code = match e {
                    MessageTextError::Empty => ErrorCode::EmptyMessage,
                    MessageTextError::TooLong { .. } => ErrorCode::MessageTooLong,
                };
                Self::send_error(ctx, code, e.to_string());
                None
            }
        }
    }

    fn on_chat_message(&mut self, message: String, ctx: &mut ws::WebsocketContext<Self>) {
        match PrivateCommand::parse(&message) {
            Some(Ok(command)) => self.send_private(command, ctx),
            Some(Err(e)) => Self::send_error(ctx, ErrorCode::InvalidCommand, e.to_string()),
            None => {
                if let Some(text) = self.check_text(message, ctx) {
                    self.post(text, ctx);
                }
            }
        }
    }

    fn post(&mut self, text: MessageText, ctx: &mut ws::WebsocketContext<Self>) {
        // A message sent ends "typing" (the browser says so too, but a
        // client that does not must not leave others watching a stale line).
        if self.typing.is_some_and(|(typing, _)| typing) {
            self.on_typing(false);
        }
        let post = Post {
            author: self.user.clone(),
            text,
        };
        self.ask_room(post, ctx, |_, _, _| {});
    }

    /// Sends `request` to the room, within the in-flight limit; `done` gets
    /// the answer, and a refusal or failure becomes an `error` frame.
    fn ask_room<M, T>(
        &mut self,
        request: M,
        ctx: &mut ws::WebsocketContext<Self>,
        done: impl FnOnce(T, &mut Self, &mut ws::WebsocketContext<Self>) + 'static,
    ) where
        M: actix::Message<Result = Result<T, RoomError>> + Send + 'static,
        T: Send + 'static,
        Room: Handler<M>,
    {
        let Some(room) = self.room.clone() else {
            return Self::send_error(ctx, ErrorCode::Internal, "not connected to the room yet");
        };
        if self.requests_in_flight >= MAX_REQUESTS_IN_FLIGHT {
            return Self::send_error(
                ctx,
                ErrorCode::RateLimited,
                "you are sending faster than the room can keep up; this was not done",
            );
        }
        self.requests_in_flight += 1;
        ctx.spawn(room.send(request).into_actor(self).map(|result, act, ctx| {
            act.requests_in_flight -= 1;
            match result {
                Ok(Ok(answer)) => done(answer, act, ctx),
                Ok(Err(RoomError::Storage(e))) => {
                    log::error!("room request for {} failed: {e}", act.user.username);
                    Self::send_error(
                        ctx,
                        ErrorCode::Internal,
                        "the server could not store that; please try again",
                    );
                }
                Ok(Err(refused)) => Self::send_error(ctx, refused.code(), refused.to_string()),
                Err(e) => {
                    log::error!("room unavailable for {}: {e}", act.user.username);
                    Self::send_error(
                        ctx,
                        ErrorCode::Internal,
                        "the room is unavailable; try again",
                    );
                }
            }
        }));
    }

    fn send_private(&mut self, command: PrivateCommand, ctx: &mut ws::WebsocketContext<Self>) {
        let Some(text) = self.check_text(command.text, ctx) else {
            return;
        };
        let echo = text.as_str().to_owned();
        let request = SendPrivate {
            from: self.user.username.clone(),
            to: command.target.clone(),
            text: text.into_string(),
        };
        let target = command.target;
        ctx.spawn(
            self.registry.send(request).into_actor(self).map(
                move |result, _act, ctx| match result {
                    Ok(Ok(())) => ctx.text(encode(&ServerFrame::PrivateMessageDelivered {
                        target,
                        message: echo,
                    })),
                    Ok(Err(PrivateMessageError::NotOnline(who))) => Self::send_error(
                        ctx,
                        ErrorCode::UserNotOnline,
                        format!("{who} is not online (or there is no such user)"),
                    ),
                    Err(e) => {
                        Self::send_error(ctx, ErrorCode::Internal, format!("not delivered: {e}"))
                    }
                },
            ),
        );
    }
}

impl Actor for WsSession {
    type Context = ws::WebsocketContext<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        METRICS.connections(1);
        ctx.set_mailbox_capacity(self.limits.queue);
        ctx.run_interval(self.limits.heartbeat_interval, |act, ctx| {
            if act.last_heard.elapsed() > act.limits.client_timeout {
                log::info!(
                    "{} timed out in room {}",
                    act.user.username,
                    act.room_info.name
                );
                ctx.close(Some(ws::CloseReason {
                    code: ws::CloseCode::Away,
                    description: Some("no heartbeat".to_owned()),
                }));
                ctx.stop();
            } else {
                ctx.ping(b"");
            }
        });
        let connect = Connect {
            session: self.id,
            user: self.user.username.clone(),
            room: self.room_info.clone(),
            addr: ctx.address(),
            resume_after: self.resume_after,
        };
        // Frames from the client wait until the room is known.
        self.registry
            .send(connect)
            .into_actor(self)
            .map(|result, act, ctx| match result {
                Ok(room) => act.room = Some(room),
                Err(e) => {
                    log::error!("registry unavailable: {e}");
                    ctx.close(Some(ws::CloseCode::Error.into()));
                    ctx.stop();
                }
            })
            .wait(ctx);
    }

    fn stopped(&mut self, _ctx: &mut Self::Context) {
        METRICS.connections(-1);
    }

    fn stopping(&mut self, _ctx: &mut Self::Context) -> Running {
        self.registry.do_send(Disconnect { session: self.id });
        Running::Stop
    }
}

impl StreamHandler<Result<ws::Message, ws::ProtocolError>> for WsSession {
    fn handle(&mut self, item: Result<ws::Message, ws::ProtocolError>, ctx: &mut Self::Context) {
        self.last_heard = Instant::now();
        match item {
            Ok(ws::Message::Text(text)) => self.on_text(&text, ctx),
            Ok(ws::Message::Ping(payload)) => ctx.pong(&payload),
            Ok(ws::Message::Pong(_)) | Ok(ws::Message::Nop) => {}
            Ok(ws::Message::Binary(_)) | Ok(ws::Message::Continuation(_)) => Self::send_error(
                ctx,
                ErrorCode::BinaryNotSupported,
                "only single JSON text frames are understood",
            ),
            Ok(ws::Message::Close(reason)) => {
                ctx.close(reason);
                ctx.stop();
            }
            Err(ws::ProtocolError::Overflow) => {
                ctx.close(Some(ws::CloseReason {
                    code: ws::CloseCode::Size,
                    description: Some(format!("frames are limited to {MAX_FRAME_BYTES} bytes")),
                }));
                ctx.stop();
            }
            Err(e) => {
                log::info!("protocol error from {}: {e}", self.user.username);
                ctx.close(Some(ws::CloseCode::Protocol.into()));
                ctx.stop();
            }
        }
    }
}

/// A frame for the client.
#[derive(Message, Clone)]
#[rtype(result = "()")]
pub struct Deliver {
    /// The encoded frame, shared with every other recipient.
    pub frame: ByteString,
    /// Set when the frame announces a new message.
    pub message_id: Option<MessageId>,
}

impl Handler<Deliver> for WsSession {
    type Result = ();

    fn handle(&mut self, msg: Deliver, ctx: &mut Self::Context) {
        if msg
            .message_id
            .is_some_and(|id| self.sent_in_history.contains(&id))
        {
            return;
        }
        ctx.text(msg.frame);
    }
}

/// What a session gets on joining, in one message: the history (or the
/// catch-up after a reconnect), then the frames that close the burst.
#[derive(Message, Default)]
#[rtype(result = "()")]
pub struct JoinBurst {
    /// Stored messages, oldest first, each with its id.
    pub history: Vec<(MessageId, ByteString)>,
    /// Frames after the history (`resumed`, `user_list`).
    pub then: Vec<ByteString>,
}

impl Handler<JoinBurst> for WsSession {
    type Result = ();

    fn handle(&mut self, burst: JoinBurst, ctx: &mut Self::Context) {
        self.sent_in_history = burst.history.iter().map(|(id, _)| *id).collect();
        for (_, frame) in burst.history {
            ctx.text(frame);
        }
        for frame in burst.then {
            ctx.text(frame);
        }
    }
}

/// The client fell too far behind; close its connection.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Kick;

impl Handler<Kick> for WsSession {
    type Result = ();

    fn handle(&mut self, _: Kick, ctx: &mut Self::Context) {
        ctx.close(Some(ws::CloseReason {
            code: ws::CloseCode::Again,
            description: Some("too slow: events were not being read".to_owned()),
        }));
        ctx.stop();
    }
}

/// The server is shutting down; close with 1001 so the client reconnects
/// (to another instance, behind a load balancer) and resumes.
#[derive(Message)]
#[rtype(result = "()")]
pub struct GoingAway;

impl Handler<GoingAway> for WsSession {
    type Result = ();

    fn handle(&mut self, _: GoingAway, ctx: &mut Self::Context) {
        ctx.close(Some(ws::CloseReason {
            code: ws::CloseCode::Away,
            description: Some("server going away".to_owned()),
        }));
        ctx.stop();
    }
}
