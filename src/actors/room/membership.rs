//! Who is in the room: sessions join (with their history burst, and for a
//! modern socket the room's rules and the user's standing) and leave, say
//! they are typing (unless muted, or in a locked or archived room), and
//! the room closes when the last has gone.

use super::catch_up::resume_floor;
use super::{Member, Room, view_of};
use crate::actors::delivery::{JoinBurst, SessionHandle, SessionId};
use crate::actors::unread;
use crate::db::RETRY_UNAVAILABLE;
use crate::db::queries::{memberships, messages, rules};
use crate::domain::{MessageId, UserId, Username, Window};
use crate::protocol::{ErrorCode, ServerFrame, encode};
use actix::prelude::*;
use futures_util::future::BoxFuture;
use std::time::Instant;

/// Messages a newcomer receives on joining.
pub const HISTORY_ON_JOIN: i64 = 10;

/// Most missed messages a reconnecting client receives in its catch-up
/// burst; it asks for the rest with `history` requests.
pub const RESUME_LIMIT: i64 = 500;

/// A session enters the room (sent by the registry).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Join {
    /// The connection, and where its frames go.
    pub session: SessionHandle,
    /// Its user.
    pub user: Username,
    /// The user's id.
    pub user_id: UserId,
    /// This is the user's first connection to the room.
    pub first: bool,
    /// Everyone online in the room, the newcomer included.
    pub online: Vec<Username>,
    /// The client reconnects and has seen every message up to this id.
    pub resume_after: Option<MessageId>,
    /// Completes when the user's private messages are routed to this
    /// instance (their first connection here); the join waits for it.
    pub user_ready: Option<BoxFuture<'static, ()>>,
}

impl Handler<Join> for Room {
    type Result = AtomicResponse<Self, ()>;

    fn handle(&mut self, mut join: Join, _ctx: &mut Self::Context) -> Self::Result {
        let db = self.db.clone();
        let room_id = self.info.id;
        let resume_after = join.resume_after;
        let reader = join.user.as_str().to_owned();
        let presence = self.bus.arrive(&self.info.name, &join.user, join.first);
        let user_ready = join.user_ready.take();
        // A modern socket's burst ends with the user's unread counts.
        let modern = join.session.is_modern();
        let (counts_db, user_id) = (self.db.clone(), join.user_id);
        // The room's rules and the user's standing: for typing, and for a
        // modern socket's burst.
        let (rules_db, read_at) = (self.db.clone(), Instant::now());
        let load = async move {
            let history = db.run(move |c| {
                let readers = [reader.as_str()];
                match resume_after {
                    Some(after) => {
                        let floor = resume_floor(c, room_id, after)?;
                        messages::page(c, room_id, Window::After(floor), RESUME_LIMIT, &readers)
                    }
                    None => messages::page(c, room_id, Window::Latest, HISTORY_ON_JOIN, &readers),
                }
            });
            let user_ready = async {
                if let Some(ready) = user_ready {
                    ready.await;
                }
            };
            let counts = async move {
                if !modern {
                    return None;
                }
                Some(
                    counts_db
                        .run(move |c| memberships::unread(c, user_id, None))
                        .await,
                )
            };
            let standing = rules_db.run(move |c| rules::on_join(c, room_id, user_id));
            let (history, arrival, (), counts, standing) =
                tokio::join!(history, presence, user_ready, counts, standing);
            (history, arrival, counts, standing)
        };
        AtomicResponse::new(Box::pin(load.into_actor(self).map(
            move |(history, arrival, counts, standing), room, _ctx| {
                if !join.session.is_connected() {
                    // Gone while its history loaded; its Leave has passed.
                    return;
                }
                let (first, online) = match arrival {
                    Some(arrival) => (arrival.first, arrival.online),
                    None => (join.first, join.online),
                };
                let mut burst = JoinBurst::default();
                match history {
                    Ok((rows, has_more)) => {
                        // Pages come oldest first: the ids are ascending.
                        for row in rows {
                            burst.ids.push(row.message.id);
                            let frame = ServerFrame::ChatMessage(view_of(&row, true, &join.user));
                            burst.history.push(encode(&frame));
                        }
                        room.memory.note_burst(&burst.ids);
                        if let Some(after) = join.resume_after {
                            burst
                                .then
                                .push(encode(&ServerFrame::Resumed { after, has_more }));
                        }
                    }
                    Err(e) => {
                        log::error!("room {}: loading history failed: {e}", room.info.name);
                        let unavailable = e.is_unavailable();
                        burst.then.push(encode(&ServerFrame::Error {
                            code: if unavailable {
                                ErrorCode::Unavailable
                            } else {
                                ErrorCode::Internal
                            },
                            message: "the message history could not be loaded".to_owned(),
                            retry_after_ms: unavailable.then(|| {
                                u64::try_from(RETRY_UNAVAILABLE.as_millis()).unwrap_or(u64::MAX)
                            }),
                            client_id: None,
                            mute: None,
                        }));
                    }
                }
                match standing {
                    Ok(Some(read)) => {
                        let frames = room.note_join(&join.user, read, read_at);
                        if modern {
                            burst.then.extend(frames.iter().map(encode));
                        }
                    }
                    // Deleted meanwhile: the sweep closes the socket.
                    Ok(None) => {}
                    Err(e) => log::error!(
                        "room {}: loading the standing of {} failed: {e}",
                        room.info.name,
                        join.user
                    ),
                }
                burst
                    .then
                    .push(encode(&ServerFrame::UserList { users: online }));
                match counts {
                    Some(Ok(rows)) => burst.then.push(unread::snapshot(rows)),
                    Some(Err(e)) => {
                        log::error!("loading the unread counts of {} failed: {e}", join.user);
                    }
                    None => {}
                }
                join.session.send_burst(burst);
                room.members.insert(
                    join.session.id(),
                    Member {
                        user: join.user.clone(),
                        session: join.session,
                    },
                );
                if first {
                    // The newcomer already sees itself in its user list.
                    let frame = ServerFrame::UserJoin {
                        user: join.user.clone(),
                    };
                    room.publish(&frame, Some(join.user), None);
                }
            },
        )))
    }
}

/// A session left the room (sent by the registry).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Leave {
    /// The connection.
    pub session: SessionId,
    /// Its user.
    pub user: Username,
    /// It was the user's last connection to the room.
    pub last: bool,
}

impl Handler<Leave> for Room {
    // Atomic, like Join, so one user's arrival and departure are told to
    // the shared presence (and announced) in the order they happened.
    type Result = AtomicResponse<Self, ()>;

    fn handle(&mut self, leave: Leave, _ctx: &mut Self::Context) -> Self::Result {
        self.members.remove(&leave.session);
        if !leave.last {
            return AtomicResponse::new(Box::pin(fut::ready(())));
        }
        self.standings.forget(&leave.user);
        let departed = self.bus.depart(&self.info.name, &leave.user);
        AtomicResponse::new(Box::pin(departed.into_actor(self).map(
            move |gone_everywhere, room, _ctx| {
                if gone_everywhere.unwrap_or(true) {
                    room.publish(&ServerFrame::UserLeave { user: leave.user }, None, None);
                }
            },
        )))
    }
}

/// A member started or stopped typing; the others are told, never stored.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Typing {
    /// Who.
    pub user: Username,
    /// Whether they are typing now.
    pub typing: bool,
}

impl Handler<Typing> for Room {
    type Result = ();

    fn handle(&mut self, msg: Typing, _ctx: &mut Self::Context) {
        // Muted, or in a locked or archived room: nobody hears of it (a
        // stop is let through, so no one is left watching a stale line).
        if msg.typing && !self.standings.may_type(&msg.user) {
            return;
        }
        let frame = ServerFrame::Typing {
            user: msg.user.clone(),
            typing: msg.typing,
        };
        self.publish(&frame, Some(msg.user), None);
    }
}

/// The room has no members left on this instance (sent by the registry).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Close;

impl Handler<Close> for Room {
    type Result = ();

    fn handle(&mut self, _: Close, ctx: &mut Self::Context) {
        // Writes still in flight are published first (`pending.rs` stops
        // the room after the last).
        self.closing = true;
        if self.pending.is_empty() {
            ctx.stop();
        }
    }
}
