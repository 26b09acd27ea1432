//! The session actor: one per WebSocket connection (the Channels consumer).
//!
//! It turns frames into typed requests for its room or the registry, and
//! typed deliveries back into frames. It keeps the connection honest with a
//! ping/pong heartbeat and closes it after a silence. Bad input never ends
//! the connection: each bad frame gets an `error` frame and the session
//! carries on. This is the only module that touches `actix-web-actors`.

use crate::actors::delivery::{Deliver, Disconnect, Hangup, JoinBurst, SessionHandle, SessionId};
use crate::actors::registry::{Connect, PrivateMessageError, Registry, SendPrivate};
use crate::actors::room::{Delete, Edit, LoadHistory, Post, React, Room, RoomError, Typing};
use crate::config::Settings;
use crate::db::queries::messages::Window;
use crate::domain::{Emoji, Identity, MessageId, MessageText, MessageTextError, RoomInfo};
use crate::metrics::METRICS;
use crate::protocol::{self, ClientFrame, ErrorCode, PrivateCommand, ServerFrame, encode};
use actix::prelude::*;
use actix_web::{HttpRequest, HttpResponse, web};
use actix_web_actors::ws;
use std::time::{Duration, Instant};

/// Smallest limit on one WebSocket frame, in bytes; a bigger frame closes
/// the connection with code 1009. See [`SessionLimits::max_frame_bytes`].
const MIN_FRAME_BYTES: usize = 64 * 1024;

/// Requests (posts, edits, reactions, private messages) one session may
/// have waiting before it is told to slow down.
const MAX_REQUESTS_IN_FLIGHT: usize = 32;

/// A client repeating "still typing" more often than this is not passed
/// on: the browser sends it every 2 s.
const TYPING_REPEAT: Duration = Duration::from_secs(1);

/// Typing changes passed on at once, and how fast the allowance returns:
/// plenty for a person (a change every 2 s, plus one per send or clear),
/// far too little to flood a room by alternating true and false.
const TYPING_BURST: u32 = 4;
const TYPING_REFILL: Duration = Duration::from_millis(500);

/// Private messages sent at once, and how fast the allowance returns, so
/// that one user cannot bury another's connections.
const PRIVATE_BURST: u32 = 10;
const PRIVATE_REFILL: Duration = Duration::from_millis(200);

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

impl SessionLimits {
    /// Largest frame accepted: room for the longest allowed message even
    /// if every character is JSON-escaped (`\u0001` is six bytes), plus the
    /// frame's other fields, so a valid message never closes the socket.
    pub fn max_frame_bytes(&self) -> usize {
        (self.max_message_chars.saturating_mul(6) + 4096).max(MIN_FRAME_BYTES)
    }
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

/// A token bucket: up to `burst` actions at once, then one per `refill`.
#[derive(Debug)]
struct Budget {
    burst: u32,
    refill: Duration,
    tokens: u32,
    /// When the last token was earned (or the bucket was last full).
    since: Instant,
}

impl Budget {
    fn new(burst: u32, refill: Duration) -> Self {
        Budget {
            burst,
            refill,
            tokens: burst,
            since: Instant::now(),
        }
    }

    /// Spends one token if there is one.
    fn try_take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.since).as_nanos();
        let earned = (elapsed / self.refill.as_nanos().max(1)).min(u128::from(self.burst)) as u32;
        if earned > 0 {
            self.tokens = (self.tokens + earned).min(self.burst);
            self.since = if self.tokens == self.burst {
                now
            } else {
                self.since + self.refill * earned
            };
        }
        if self.tokens == 0 {
            return false;
        }
        self.tokens -= 1;
        true
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
    /// Ids of the messages sent in the join burst, ascending: a live copy
    /// of one of them (stored just before the join and delivered just after,
    /// or found by a room's catch-up later) is not written twice. Ten ids
    /// for a join, at most 500 for a resume.
    sent_in_history: Vec<MessageId>,
    /// Catch up from here instead of sending the latest ten on join.
    resume_after: Option<MessageId>,
    requests_in_flight: usize,
    /// A `history` request is being answered; the next waits for it, so
    /// one client cannot pile up pages in its own output buffer.
    history_in_flight: bool,
    /// Last typing state passed on to the room, and when.
    typing: Option<(bool, Instant)>,
    typing_budget: Budget,
    private_budget: Budget,
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
            history_in_flight: false,
            typing: None,
            typing_budget: Budget::new(TYPING_BURST, TYPING_REFILL),
            private_budget: Budget::new(PRIVATE_BURST, PRIVATE_REFILL),
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
        let frame_size = self.limits.max_frame_bytes();
        ws::WsResponseBuilder::new(self, req, stream)
            .frame_size(frame_size)
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
                let request = LoadHistory { window, limit };
                self.ask_room(request, Slot::History, ctx, |page, _, ctx| {
                    ctx.text(encode(&ServerFrame::History {
                        messages: page.messages,
                        has_more: page.has_more,
                    }));
                });
            }
            ClientFrame::EditMessage { id, message } => {
                if let Some(text) = self.check_text(message, ctx) {
                    let edit = Edit {
                        editor: self.user.clone(),
                        id,
                        text,
                    };
                    self.ask_room(edit, Slot::Request, ctx, |(), _, _| {});
                }
            }
            ClientFrame::DeleteMessage { id } => {
                let delete = Delete {
                    by: self.user.clone(),
                    id,
                };
                self.ask_room(delete, Slot::Request, ctx, |(), _, _| {});
            }
            ClientFrame::React { id, emoji } => match Emoji::parse(&emoji) {
                Ok(emoji) => {
                    let react = React {
                        user: self.user.clone(),
                        id,
                        emoji,
                    };
                    self.ask_room(react, Slot::Request, ctx, |(), _, _| {});
                }
                Err(e) => Self::send_error(ctx, ErrorCode::InvalidEmoji, e.to_string()),
            },
            ClientFrame::Typing { typing } => self.on_typing(typing),
            // `parse` turns unknown types into an error; nothing to do here.
            ClientFrame::Unknown => {}
        }
    }

    /// Passes a typing state on, unless it only repeats the last one within
    /// [`TYPING_REPEAT`] or the client has spent its typing budget. Never
    /// waits: a room too busy to take it simply misses a typing hint.
    fn on_typing(&mut self, typing: bool) {
        let Some(room) = &self.room else { return };
        let now = Instant::now();
        let repeat = self.typing.is_some_and(|(last, at)| {
            last == typing && (!typing || now.duration_since(at) < TYPING_REPEAT)
        });
        if repeat || !self.typing_budget.try_take(now) {
            return;
        }
        self.typing = Some((typing, now));
        let _ = room.try_send(Typing {
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
        self.ask_room(post, Slot::Request, ctx, |_, _, _| {});
    }

    /// Sends `request` to the room, within the limit of its `slot`; `done`
    /// gets the answer, and a refusal or failure becomes an `error` frame.
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
        let Some(room) = self.room.clone() else {
            return Self::send_error(
                ctx,
                ErrorCode::NotReady,
                "this connection is closing (the server may be shutting down); reconnect",
            );
        };
        if !self.take_slot(slot, ctx) {
            return;
        }
        ctx.spawn(
            room.send(request)
                .into_actor(self)
                .map(move |result, act, ctx| {
                    act.release_slot(slot);
                    match result {
                        Ok(Ok(answer)) => done(answer, act, ctx),
                        Ok(Err(e)) => act.room_failed(e, ctx),
                        Err(e) => act.room_unavailable(e, ctx),
                    }
                }),
        );
    }

    /// Counts one more request in flight in `slot`, or tells the client to
    /// slow down.
    fn take_slot(&mut self, slot: Slot, ctx: &mut ws::WebsocketContext<Self>) -> bool {
        let (full, refusal) = match slot {
            Slot::Request => (
                self.requests_in_flight >= MAX_REQUESTS_IN_FLIGHT,
                "you are sending faster than the server can keep up; this was not done",
            ),
            Slot::History => (
                self.history_in_flight,
                "wait for the previous history page before asking for the next",
            ),
        };
        if full {
            Self::send_error(ctx, ErrorCode::RateLimited, refusal);
            return false;
        }
        match slot {
            Slot::Request => self.requests_in_flight += 1,
            Slot::History => self.history_in_flight = true,
        }
        true
    }

    /// A request taken by [`take_slot`](Self::take_slot) was answered.
    fn release_slot(&mut self, slot: Slot) {
        match slot {
            Slot::Request => self.requests_in_flight -= 1,
            Slot::History => self.history_in_flight = false,
        }
    }

    /// A refusal or failure of the room, as the client sees it.
    fn room_failed(&self, error: RoomError, ctx: &mut ws::WebsocketContext<Self>) {
        match error {
            RoomError::Storage(e) => {
                log::error!("room request for {} failed: {e}", self.user.username);
                Self::send_error(
                    ctx,
                    ErrorCode::Internal,
                    "the server's database failed, so this was not done; please try again",
                );
            }
            refused => {
                Self::send_error(ctx, refused.code(), refused.to_string());
                if matches!(refused, RoomError::NotAdmitted) {
                    ctx.notify(Hangup::NotAdmitted);
                }
            }
        }
    }

    fn room_unavailable(&self, error: MailboxError, ctx: &mut ws::WebsocketContext<Self>) {
        log::error!("room unavailable for {}: {error}", self.user.username);
        Self::send_error(
            ctx,
            ErrorCode::Internal,
            "the room is unavailable; try again",
        );
    }

    fn send_private(&mut self, command: PrivateCommand, ctx: &mut ws::WebsocketContext<Self>) {
        let Some(text) = self.check_text(command.text, ctx) else {
            return;
        };
        if !self.private_budget.try_take(Instant::now()) {
            return Self::send_error(
                ctx,
                ErrorCode::RateLimited,
                "too many private messages at once; this one was not sent",
            );
        }
        if !self.take_slot(Slot::Request, ctx) {
            return;
        }
        let echo = text.as_str().to_owned();
        let request = SendPrivate {
            from: self.user.username.clone(),
            to: command.target.clone(),
            text: text.into_string(),
        };
        let target = command.target;
        ctx.spawn(
            self.registry
                .send(request)
                .into_actor(self)
                .map(move |result, act, ctx| {
                    act.release_slot(Slot::Request);
                    match result {
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
                            log::error!("registry unavailable for a private message: {e}");
                            Self::send_error(
                                ctx,
                                ErrorCode::Internal,
                                "the private message could not be delivered; please try again",
                            );
                        }
                    }
                }),
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
            session: SessionHandle::new(self.id, &ctx.address()),
            user: self.user.username.clone(),
            room: self.room_info.clone(),
            resume_after: self.resume_after,
        };
        // Frames from the client wait until the room is known.
        self.registry
            .send(connect)
            .into_actor(self)
            .map(|result, act, ctx| match result {
                Ok(Some(room)) => act.room = Some(room),
                // Shutting down: come back (to another instance) later.
                Ok(None) => Handler::<Hangup>::handle(act, Hangup::GoingAway, ctx),
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
                    description: Some(format!(
                        "frames are limited to {} bytes",
                        self.limits.max_frame_bytes()
                    )),
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

/// Which limit a request to the room counts against.
#[derive(Debug, Clone, Copy)]
enum Slot {
    /// Posts, edits, deletions, reactions (and private messages): up to
    /// [`MAX_REQUESTS_IN_FLIGHT`] at once.
    Request,
    /// History pages: one at a time, so one client cannot pile up pages in
    /// its own output buffer.
    History,
}

impl Handler<Deliver> for WsSession {
    type Result = ();

    fn handle(&mut self, msg: Deliver, ctx: &mut Self::Context) {
        if msg
            .message_id
            .is_some_and(|id| self.sent_in_history.binary_search(&id).is_ok())
        {
            return;
        }
        ctx.text(msg.frame);
    }
}

impl Handler<JoinBurst> for WsSession {
    type Result = ();

    fn handle(&mut self, burst: JoinBurst, ctx: &mut Self::Context) {
        self.sent_in_history = burst.ids;
        for frame in burst.history {
            ctx.text(frame);
        }
        for frame in burst.then {
            ctx.text(frame);
        }
    }
}

impl Handler<Hangup> for WsSession {
    type Result = ();

    fn handle(&mut self, why: Hangup, ctx: &mut Self::Context) {
        // A room and the registry may both find one client too slow: it is
        // hung up (and counted) once.
        if ctx.state() != ActorState::Running {
            return;
        }
        if why == Hangup::TooSlow {
            log::warn!(
                "{} in #{} is not reading; disconnecting that connection",
                self.user.username,
                self.room_info.name
            );
            METRICS.slow_client_dropped();
        }
        let (code, description) = match why {
            Hangup::TooSlow => (ws::CloseCode::Again, "too slow: events were not being read"),
            Hangup::GoingAway => (ws::CloseCode::Away, "server going away"),
            Hangup::NotAdmitted => (ws::CloseCode::Policy, "this room is for staff only"),
        };
        ctx.close(Some(ws::CloseReason {
            code,
            description: Some(description.to_owned()),
        }));
        ctx.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_allows_a_burst_then_one_per_refill() {
        let mut budget = Budget::new(3, Duration::from_millis(100));
        let t0 = budget.since;
        assert!((0..3).all(|_| budget.try_take(t0)));
        assert!(!budget.try_take(t0), "the burst is spent");
        assert!(!budget.try_take(t0 + Duration::from_millis(99)));
        assert!(budget.try_take(t0 + Duration::from_millis(100)));
        assert!(!budget.try_take(t0 + Duration::from_millis(150)));
        assert!(budget.try_take(t0 + Duration::from_millis(200)));
    }

    #[test]
    fn a_budget_refills_to_its_burst_and_no_more() {
        let mut budget = Budget::new(2, Duration::from_millis(10));
        let t0 = budget.since;
        assert!(budget.try_take(t0) && budget.try_take(t0));
        let later = t0 + Duration::from_secs(60);
        assert!(budget.try_take(later) && budget.try_take(later));
        assert!(!budget.try_take(later), "a long pause earns only the burst");
    }

    #[test]
    fn frames_fit_the_longest_message() {
        let limits = |max_message_chars| SessionLimits {
            heartbeat_interval: Duration::from_secs(1),
            client_timeout: Duration::from_secs(2),
            queue: 1,
            max_message_chars,
        };
        assert_eq!(limits(4000).max_frame_bytes(), MIN_FRAME_BYTES);
        assert!(limits(20_000).max_frame_bytes() >= 20_000 * 6);
    }
}
