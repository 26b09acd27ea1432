//! The room actor: one per room that has members on this instance (the
//! Channels "group" plus its consumer fan-out).
//!
//! It owns the order of its room. Messages that change the log ([`Post`])
//! are handled atomically: the next one is not looked at until the database
//! has stored the previous one and its event is published, so ids, the log
//! and the broadcast agree. [`Join`] is atomic too, so a newcomer's history
//! and its first live event never overlap or leave a gap.
//!
//! Delivery is the other half: every [`Published`] event from the bus is
//! handed to each member's mailbox with `try_send`. A member whose mailbox
//! is full is not waited for: it is reported to the registry and kicked.

use crate::actors::SessionId;
use crate::actors::bus::{Bus, RoomEvent, Subscription};
use crate::actors::registry::{Disconnect, Registry};
use crate::actors::session::{Deliver, Kick, WsSession};
use crate::db::queries::messages;
use crate::db::{Database, DbError};
use crate::domain::{Identity, MessageId, MessageText, RoomInfo, Username};
use crate::protocol::{ErrorCode, MessageView, ServerFrame, encode};
use actix::prelude::*;
use chrono::Utc;
use std::collections::HashMap;
use std::sync::Arc;

/// Messages a newcomer receives on joining.
pub const HISTORY_ON_JOIN: i64 = 10;

/// Posts that may wait in a room's mailbox before senders are held back.
const MAILBOX_CAPACITY: usize = 1024;

/// What went wrong handling a request to the room.
#[derive(Debug, thiserror::Error)]
pub enum RoomError {
    /// The database refused or failed.
    #[error("the message could not be stored")]
    Storage(#[from] DbError),
}

struct Member {
    user: Username,
    addr: Addr<WsSession>,
    /// Already reported as too slow; gets nothing more.
    kicked: bool,
}

/// A live room.
pub struct Room {
    info: RoomInfo,
    db: Database,
    bus: Bus,
    registry: Addr<Registry>,
    members: HashMap<SessionId, Member>,
    subscription: Option<Subscription>,
}

impl Room {
    /// A room actor for `info`, not yet started.
    pub fn new(info: RoomInfo, db: Database, bus: Bus, registry: Addr<Registry>) -> Self {
        Room {
            info,
            db,
            bus,
            registry,
            members: HashMap::new(),
            subscription: None,
        }
    }

    fn publish(&self, frame: &ServerFrame, skip_user: Option<Username>, id: Option<MessageId>) {
        self.bus.publish(
            &self.info.name,
            RoomEvent {
                frame: encode(frame),
                skip_user,
                message_id: id,
            },
        );
    }

    /// Hands one frame to one member; false when its mailbox is full.
    fn deliver_to(addr: &Addr<WsSession>, deliver: Deliver) -> bool {
        match addr.try_send(deliver) {
            Ok(()) => true,
            Err(SendError::Full(_)) => false,
            // The session is stopping; its Disconnect is on the way.
            Err(SendError::Closed(_)) => true,
        }
    }

    fn kick(&mut self, session: SessionId) {
        let Some(member) = self.members.get_mut(&session) else {
            return;
        };
        if member.kicked {
            return;
        }
        member.kicked = true;
        log::warn!(
            "room {}: {} is not reading; disconnecting that connection",
            self.info.name,
            member.user
        );
        member.addr.do_send(Kick);
        self.registry.do_send(Disconnect { session });
    }
}

impl Actor for Room {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(MAILBOX_CAPACITY);
        self.subscription = Some(
            self.bus
                .subscribe(&self.info.name, ctx.address().recipient()),
        );
        log::debug!("room {} opened", self.info.name);
    }

    fn stopped(&mut self, _ctx: &mut Self::Context) {
        if let Some(subscription) = self.subscription.take() {
            self.bus.unsubscribe(&self.info.name, subscription);
        }
        log::debug!("room {} closed", self.info.name);
    }
}

/// A session enters the room (sent by the registry).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Join {
    /// The connection.
    pub session: SessionId,
    /// Its user.
    pub user: Username,
    /// Where its frames go.
    pub addr: Addr<WsSession>,
    /// This is the user's first connection to the room.
    pub first: bool,
    /// Everyone online in the room, the newcomer included.
    pub online: Vec<Username>,
}

impl Handler<Join> for Room {
    type Result = AtomicResponse<Self, ()>;

    fn handle(&mut self, join: Join, _ctx: &mut Self::Context) -> Self::Result {
        let db = self.db.clone();
        let room_id = self.info.id.0;
        let load = async move {
            db.run(move |c| messages::latest(c, room_id, HISTORY_ON_JOIN))
                .await
        };
        AtomicResponse::new(Box::pin(load.into_actor(self).map(
            move |history, room, _ctx| {
                let mut frames = Vec::new();
                match history {
                    Ok(rows) => {
                        for row in rows {
                            let id = MessageId(row.message.id);
                            let frame = ServerFrame::ChatMessage(view_of(row, true));
                            frames.push(Deliver {
                                frame: encode(&frame),
                                message_id: Some(id),
                            });
                        }
                    }
                    Err(e) => {
                        log::error!("room {}: loading history failed: {e}", room.info.name);
                        frames.push(Deliver::frame(&ServerFrame::Error {
                            code: ErrorCode::Internal,
                            message: "the message history could not be loaded".to_owned(),
                        }));
                    }
                }
                frames.push(Deliver::frame(&ServerFrame::UserList {
                    users: join.online,
                }));
                for frame in frames {
                    // A brand-new mailbox holds the whole history; if not,
                    // the client will be kicked at the next broadcast.
                    Room::deliver_to(&join.addr, frame);
                }
                room.members.insert(
                    join.session,
                    Member {
                        user: join.user.clone(),
                        addr: join.addr,
                        kicked: false,
                    },
                );
                if join.first {
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
    type Result = ();

    fn handle(&mut self, leave: Leave, _ctx: &mut Self::Context) {
        self.members.remove(&leave.session);
        if leave.last {
            self.publish(&ServerFrame::UserLeave { user: leave.user }, None, None);
        }
    }
}

/// A member posts a message to the room.
#[derive(Message)]
#[rtype(result = "Result<MessageId, RoomError>")]
pub struct Post {
    /// The author.
    pub author: Identity,
    /// What they wrote.
    pub text: MessageText,
}

impl Handler<Post> for Room {
    type Result = AtomicResponse<Self, Result<MessageId, RoomError>>;

    fn handle(&mut self, post: Post, _ctx: &mut Self::Context) -> Self::Result {
        let db = self.db.clone();
        let room_id = self.info.id.0;
        let user_id = post.author.id.0;
        let created_at = Utc::now();
        let text = post.text.into_string();
        let store = async move {
            db.run(move |c| {
                messages::insert(c, room_id, user_id, &text, created_at.naive_utc())
                    .map(|row| (row.id, text))
            })
            .await
        };
        let author = post.author.username;
        AtomicResponse::new(Box::pin(store.into_actor(self).map(
            move |stored, room, _ctx| {
                let (id, message) = stored?;
                let id = MessageId(id);
                let view = MessageView {
                    id,
                    user: author,
                    message,
                    created_at,
                    history: false,
                };
                room.publish(&ServerFrame::ChatMessage(view), None, Some(id));
                Ok(id)
            },
        )))
    }
}

/// An event from the bus, to be delivered to every member.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Published {
    /// The event, shared by every delivery.
    pub event: Arc<RoomEvent>,
}

impl Handler<Published> for Room {
    type Result = ();

    fn handle(&mut self, msg: Published, _ctx: &mut Self::Context) {
        let event = msg.event;
        let mut slow = Vec::new();
        for (session, member) in &self.members {
            if member.kicked || event.skip_user.as_ref() == Some(&member.user) {
                continue;
            }
            let deliver = Deliver {
                frame: event.frame.clone(),
                message_id: event.message_id,
            };
            if !Room::deliver_to(&member.addr, deliver) {
                slow.push(*session);
            }
        }
        for session in slow {
            self.kick(session);
        }
    }
}

/// The room has no members left on this instance (sent by the registry).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Close;

impl Handler<Close> for Room {
    type Result = ();

    fn handle(&mut self, _: Close, ctx: &mut Self::Context) {
        ctx.stop();
    }
}

/// The view of a stored message.
pub fn view_of(row: messages::MessageWithAuthor, history: bool) -> MessageView {
    MessageView {
        id: MessageId(row.message.id),
        user: Username::from_stored(row.author),
        message: row.message.content,
        created_at: row.message.created_at.and_utc(),
        history,
    }
}
