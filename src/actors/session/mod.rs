//! The session actor: one per WebSocket connection (the Channels consumer).
//!
//! It keeps the connection honest with a ping/pong heartbeat and closes it
//! after a silence, hands each text frame to `dispatch.rs` (parsed and
//! checked at the edge by [`protocol::parse`], then
//! sent to the room or the registry within the allowances of `limits.rs`),
//! and writes the frames rooms and the registry give it through its
//! [`SessionHandle`]. Bad input never ends the connection: each bad frame
//! gets an `error` frame and the session carries on.
//!
//! This module is the only code that touches `actix-web-actors`, and
//! `http/ws.rs` (the handshake, which calls [`WsSession::start`]) the only
//! code that names it: rooms and the registry know a session only as a
//! [`SessionHandle`], so moving to another WebSocket layer (actix-ws)
//! changes `session/` and `http/ws.rs` and nothing else.

mod dispatch;
mod frame_guard;
mod limits;

pub use dispatch::SessionError;
pub use limits::{OpenSockets, SessionLimits, SocketPermit, TooManySockets, WriteAllowance};

use crate::actors::delivery::{Deliver, Disconnect, Hangup, JoinBurst, SessionHandle, SessionId};
use crate::actors::registry::{Connect, Registry};
use crate::actors::room::Room;
use crate::config::Settings;
use crate::domain::{Identity, LoginId, MessageId, RoomInfo};
use crate::metrics::METRICS;
use crate::protocol;
use actix::prelude::*;
use actix_web::{HttpRequest, HttpResponse, web};
use actix_web_actors::ws;
use frame_guard::FrameGuard;
use limits::Allowances;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// What every session of the instance shares, built once at start-up and
/// handed to each WebSocket handshake.
#[derive(Clone)]
pub struct SessionsShared {
    /// Where sessions connect.
    pub registry: Addr<Registry>,
    /// The per-connection limits, from the settings.
    pub limits: SessionLimits,
    /// Open sockets per user and address, against their caps.
    pub sockets: Arc<OpenSockets>,
    /// The per-user write allowance.
    pub writes: Arc<WriteAllowance>,
}

impl SessionsShared {
    /// Everything sessions share, for `registry` under `settings`.
    pub fn new(registry: Addr<Registry>, settings: &Settings) -> Self {
        SessionsShared {
            registry,
            limits: SessionLimits::from(settings),
            sockets: OpenSockets::new(settings),
            writes: WriteAllowance::new(settings),
        }
    }
}

/// One WebSocket connection of one user to one room.
pub struct WsSession {
    id: SessionId,
    user: Identity,
    /// The signed-in session the socket was opened with: when it ends, the
    /// socket closes.
    login: LoginId,
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
    allowances: Allowances,
    /// Raised by the frame guard when a frame header announced more than
    /// the frame limit.
    oversized: Arc<AtomicBool>,
    /// The user's write allowance, shared with their other sockets.
    writes: Arc<WriteAllowance>,
    /// This socket's place under the connection caps, given back when the
    /// session ends.
    _permit: Option<SocketPermit>,
}

impl WsSession {
    /// A session for `user`, signed in as `login`, in `room`, not yet
    /// started.
    pub fn new(
        user: Identity,
        login: LoginId,
        room_info: RoomInfo,
        shared: &SessionsShared,
    ) -> Self {
        WsSession {
            id: SessionId::next(),
            user,
            login,
            room_info,
            registry: shared.registry.clone(),
            room: None,
            limits: shared.limits.clone(),
            last_heard: Instant::now(),
            sent_in_history: Vec::new(),
            resume_after: None,
            allowances: Allowances::default(),
            oversized: Arc::new(AtomicBool::new(false)),
            writes: shared.writes.clone(),
            _permit: None,
        }
    }

    /// Makes the session a reconnection that has seen every message up to
    /// `after`: it catches up from there instead of getting the latest ten.
    pub fn resuming_after(mut self, after: Option<MessageId>) -> Self {
        self.resume_after = after;
        self
    }

    /// Makes the session hold `permit` (its place under the connection
    /// caps) for as long as it runs.
    pub fn holding(mut self, permit: SocketPermit) -> Self {
        self._permit = Some(permit);
        self
    }

    /// Completes the WebSocket handshake and starts the session actor.
    pub fn start(
        self,
        req: &HttpRequest,
        stream: web::Payload,
    ) -> Result<HttpResponse, actix_web::Error> {
        let frame_size = self.limits.max_frame_bytes();
        let stream = FrameGuard::new(stream, frame_size, self.oversized.clone());
        ws::WsResponseBuilder::new(self, req, stream)
            .frame_size(frame_size)
            .start()
    }

    /// Closes the connection with 1009: a frame was over the limit.
    fn close_too_big(&self, ctx: &mut ws::WebsocketContext<Self>) {
        log::warn!(
            "{} sent a frame over {} bytes; closing that connection",
            self.user.username,
            self.limits.max_frame_bytes()
        );
        ctx.close(Some(ws::CloseReason {
            code: ws::CloseCode::Size,
            description: Some(format!(
                "frames are limited to {} bytes",
                self.limits.max_frame_bytes()
            )),
        }));
        ctx.stop();
    }

    /// What a request is checked against.
    fn protocol_limits(&self) -> protocol::Limits {
        protocol::Limits {
            max_message_chars: self.limits.max_message_chars,
        }
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
            login: self.login,
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
            Ok(ws::Message::Binary(_)) | Ok(ws::Message::Continuation(_)) => {
                self.fail(SessionError::Binary, ctx)
            }
            Ok(ws::Message::Close(reason)) => {
                ctx.close(reason);
                ctx.stop();
            }
            // Too big, seen at the header (frame_guard.rs) or by actix.
            Err(_) if self.oversized.load(Ordering::Relaxed) => self.close_too_big(ctx),
            Err(ws::ProtocolError::Overflow) => self.close_too_big(ctx),
            Err(e) => {
                log::info!("protocol error from {}: {e}", self.user.username);
                ctx.close(Some(ws::CloseCode::Protocol.into()));
                ctx.stop();
            }
        }
    }
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
            // Exactly these words: the room page tells them from the above.
            Hangup::SignedOut => (ws::CloseCode::Policy, "signed out"),
        };
        ctx.close(Some(ws::CloseReason {
            code,
            description: Some(description.to_owned()),
        }));
        ctx.stop();
    }
}
