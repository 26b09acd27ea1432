//! The session actor: one per WebSocket connection (the Channels consumer).
//!
//! It keeps the connection honest with a ping/pong heartbeat and closes it
//! after a silence, hands each text frame to `dispatch.rs` (parsed and
//! checked at the edge by [`protocol::parse`], then
//! sent to the room or the registry within the allowances of `limits.rs`),
//! and judges, once a second, whether its client keeps up with its
//! [`Outbox`] (the frames rooms and the registry push through its
//! [`SessionHandle`], and its own): too much unread for too long, or
//! nothing taken for the client timeout, closes the connection with 1013.
//! `output.rs` keeps the session running while the client does not read.
//! Bad input never ends the connection: each bad frame gets an `error`
//! frame and the session carries on.
//!
//! This module is the only code that touches `actix-web-actors`, and
//! `http/ws.rs` (the handshake, which calls [`WsSession::start`]) the only
//! code that names it: rooms and the registry know a session only as a
//! [`SessionHandle`], so moving to another WebSocket layer (actix-ws)
//! changes `session/` and `http/ws.rs` and nothing else.

mod dispatch;
mod frame_guard;
mod limits;
mod output;

pub use dispatch::SessionError;
pub use limits::{OpenSockets, SessionLimits, SocketPermit, TooManySockets, WriteAllowance};

use crate::actors::delivery::{Disconnect, Hangup, SessionHandle, SessionId};
use crate::actors::outbox::{FlowLimits, Outbox};
use crate::actors::registry::{Connect, Registry};
use crate::actors::room::Room;
use crate::config::Settings;
use crate::domain::{Identity, LoginId, MessageId, RoomInfo};
use crate::metrics::METRICS;
use crate::protocol;
use actix::prelude::*;
use actix_web::{HttpRequest, HttpResponse, web};
use actix_web_actors::ws;
use bytestring::ByteString;
use frame_guard::FrameGuard;
use limits::{Allowances, RequestQueue};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How often a session checks whether its client keeps up with its
/// output: the time rules are in whole seconds.
const OUTPUT_CHECK: Duration = Duration::from_secs(1);

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
    /// Every text frame for the client, in order, until the socket takes
    /// it; shared with the room, the registry and the response body.
    outbox: Arc<Outbox>,
    /// Requests waiting for an answer, shared with the frame guard, which
    /// stops reading the socket while too many wait.
    requests: Arc<RequestQueue>,
    /// Catch up from here instead of sending the latest ten on join.
    resume_after: Option<MessageId>,
    /// The client opened the socket with `?v=2`: it is sent the frame
    /// types newer than the tutorial's.
    modern: bool,
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
        let requests = RequestQueue::new(shared.limits.request_queue);
        WsSession {
            id: SessionId::next(),
            user,
            login,
            room_info,
            registry: shared.registry.clone(),
            room: None,
            limits: shared.limits.clone(),
            last_heard: Instant::now(),
            outbox: Arc::new(Outbox::new(FlowLimits {
                max_unsent_bytes: shared.limits.max_unsent_bytes,
                slow_client: shared.limits.slow_client,
                client_timeout: shared.limits.client_timeout,
            })),
            requests: requests.clone(),
            resume_after: None,
            modern: false,
            allowances: Allowances::new(requests),
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

    /// Makes the session a modern client's (`?v=2`), which is sent the
    /// frame types newer than the tutorial's.
    pub fn modern(mut self, modern: bool) -> Self {
        self.modern = modern;
        self
    }

    /// Makes the session hold `permit` (its place under the connection
    /// caps) for as long as it runs.
    pub fn holding(mut self, permit: SocketPermit) -> Self {
        self._permit = Some(permit);
        self
    }

    /// Completes the WebSocket handshake and starts the session actor: the
    /// actor runs in a task of its own and the response body is its outbox
    /// (`output.rs` says why).
    pub fn start(
        self,
        req: &HttpRequest,
        stream: web::Payload,
    ) -> Result<HttpResponse, actix_web::Error> {
        let mut response = ws::handshake(req)?;
        let frame_size = self.limits.max_frame_bytes();
        let outbox = self.outbox.clone();
        let stream = FrameGuard::new(
            stream,
            frame_size,
            self.oversized.clone(),
            self.requests.clone(),
        );
        let codec = actix_http::ws::Codec::new().max_size(frame_size);
        let context = ws::WebsocketContext::with_codec(self, stream, codec);
        actix_web::rt::spawn(output::drive(context, outbox.clone()));
        Ok(response.streaming(output::OutboxBody::new(outbox)))
    }

    /// Queues one of the session's own text frames (an answer, an error)
    /// behind everything already queued for the client.
    fn send(&self, frame: ByteString) {
        self.outbox.text(frame.into_bytes());
    }

    /// Judges whether the client keeps up with its output.
    fn check_output(&mut self, ctx: &mut ws::WebsocketContext<Self>) {
        if let Some(verdict) = self.outbox.verdict(Instant::now()) {
            log::warn!(
                "{} in #{} is not reading ({verdict}); disconnecting that connection",
                self.user.username,
                self.room_info.name
            );
            Handler::<Hangup>::handle(self, Hangup::TooSlow, ctx);
        }
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
        ctx.run_interval(OUTPUT_CHECK, Self::check_output);
        ctx.run_interval(self.limits.heartbeat_interval, |act, ctx| {
            // Silence is not held against a client whose socket we stopped
            // reading (back-pressure) or whose pong may wait behind output
            // it has not read yet: the output rules judge that one.
            if act.requests.holds_back() || act.outbox.unsent() > 0 {
                act.last_heard = Instant::now();
            }
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
            session: SessionHandle::new(self.id, &ctx.address(), self.outbox.clone(), self.modern),
            user: self.user.username.clone(),
            user_id: self.user.id,
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

impl Handler<Hangup> for WsSession {
    type Result = ();

    fn handle(&mut self, why: Hangup, ctx: &mut Self::Context) {
        // Hung up (and counted) once, whoever asks first.
        if ctx.state() != ActorState::Running {
            return;
        }
        if why == Hangup::TooSlow {
            METRICS.slow_client_dropped();
            // What it did not read is dropped (freeing its share of the
            // burst); only the close frame follows, if the socket takes it.
            self.outbox.close();
        }
        ctx.close(Some(close_reason(&why)));
        ctx.stop();
    }
}

/// Most bytes a close frame's reason may have (125 for the frame, less
/// the two of the code).
pub const CLOSE_REASON_MAX_BYTES: usize = 123;

/// The close frame for `why`: its code and its reason, which the room
/// page reads (docs/protocol.md, "Close codes").
fn close_reason(why: &Hangup) -> ws::CloseReason {
    /// `prefix: reason`, or `prefix` alone when no reason was given.
    fn with_reason(prefix: &str, reason: &str) -> String {
        if reason.is_empty() {
            prefix.to_owned()
        } else {
            format!("{prefix}: {reason}")
        }
    }
    let (code, description) = match why {
        Hangup::TooSlow => (
            ws::CloseCode::Again,
            "too slow: events were not being read".to_owned(),
        ),
        Hangup::GoingAway => (ws::CloseCode::Away, "server going away".to_owned()),
        Hangup::NotAdmitted => (
            ws::CloseCode::Policy,
            "this room is for staff only".to_owned(),
        ),
        // Exactly these words: the room page tells them from the others.
        Hangup::SignedOut => (ws::CloseCode::Policy, "signed out".to_owned()),
        Hangup::Deactivated => (ws::CloseCode::Policy, "account deactivated".to_owned()),
        Hangup::NotAMember => (
            ws::CloseCode::Policy,
            "not a member of this room".to_owned(),
        ),
        Hangup::Kicked { reason } => (ws::CloseCode::Other(4000), with_reason("kicked", reason)),
        Hangup::Banned { reason } => (ws::CloseCode::Other(4003), with_reason("banned", reason)),
        Hangup::RoomDeleted => (ws::CloseCode::Other(4004), "room deleted".to_owned()),
        Hangup::Moved { to } => (ws::CloseCode::Other(4005), format!("moved: {to}")),
    };
    ws::CloseReason {
        code,
        description: Some(cut_to(description, CLOSE_REASON_MAX_BYTES)),
    }
}

/// `text` cut to at most `max` bytes, between characters.
fn cut_to(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_reasons_fit_a_close_frame_and_keep_whole_characters() {
        let long = "é".repeat(100);
        let close = close_reason(&Hangup::Kicked { reason: long });
        let text = close.description.unwrap();
        assert!(text.len() <= CLOSE_REASON_MAX_BYTES, "{}", text.len());
        assert!(text.starts_with("kicked: é"));
        assert_eq!(close.code, ws::CloseCode::Other(4000));
        let banned = close_reason(&Hangup::Banned {
            reason: String::new(),
        });
        assert_eq!(banned.description.as_deref(), Some("banned"));
        let moved = close_reason(&Hangup::Moved {
            to: crate::domain::RoomName::parse("new-lobby").unwrap(),
        });
        assert_eq!(
            (moved.code, moved.description.as_deref()),
            (ws::CloseCode::Other(4005), Some("moved: new-lobby"))
        );
    }
}
