//! The registry actor: one per process, the directory of who is where.
//!
//! Sessions arrive and leave through it, so it alone decides when a room
//! actor starts (first member) and stops (last member leaves), and it alone
//! counts a user's connections per room, which is what presence is: a user
//! with two tabs is online once, and leaves when the last tab closes. It also
//! routes private messages, since it knows every connection of every user.

use crate::actors::SessionId;
use crate::actors::bus::Bus;
use crate::actors::room::{Close, Join, Leave, Room};
use crate::actors::session::{Deliver, WsSession};
use crate::db::Database;
use crate::domain::{RoomInfo, RoomName, Username};
use crate::protocol::ServerFrame;
use actix::prelude::*;
use std::collections::{BTreeMap, HashMap, HashSet};

struct RoomEntry {
    addr: Addr<Room>,
    /// Connections per online user.
    online: BTreeMap<Username, usize>,
}

struct SessionEntry {
    user: Username,
    room: RoomName,
    addr: Addr<WsSession>,
}

/// The process-wide directory of rooms and connections.
pub struct Registry {
    db: Database,
    bus: Bus,
    rooms: HashMap<RoomName, RoomEntry>,
    sessions: HashMap<SessionId, SessionEntry>,
    users: HashMap<Username, HashSet<SessionId>>,
}

impl Registry {
    /// A registry whose rooms store through `db` and publish on `bus`.
    pub fn new(db: Database, bus: Bus) -> Self {
        Registry {
            db,
            bus,
            rooms: HashMap::new(),
            sessions: HashMap::new(),
            users: HashMap::new(),
        }
    }
}

impl Actor for Registry {
    type Context = Context<Self>;
}

/// A session wants to enter a room; answers with the room to post to.
#[derive(Message)]
#[rtype(result = "Addr<Room>")]
pub struct Connect {
    /// The connection.
    pub session: SessionId,
    /// Its user.
    pub user: Username,
    /// The room, already checked to exist and admit the user.
    pub room: RoomInfo,
    /// Where the connection's frames go.
    pub addr: Addr<WsSession>,
}

impl Handler<Connect> for Registry {
    type Result = MessageResult<Connect>;

    fn handle(&mut self, msg: Connect, ctx: &mut Self::Context) -> Self::Result {
        let entry = self.rooms.entry(msg.room.name.clone()).or_insert_with(|| {
            let room = Room::new(
                msg.room.clone(),
                self.db.clone(),
                self.bus.clone(),
                ctx.address(),
            );
            RoomEntry {
                addr: room.start(),
                online: BTreeMap::new(),
            }
        });
        let count = entry.online.entry(msg.user.clone()).or_insert(0);
        *count += 1;
        let first = *count == 1;
        entry.addr.do_send(Join {
            session: msg.session,
            user: msg.user.clone(),
            addr: msg.addr.clone(),
            first,
            online: entry.online.keys().cloned().collect(),
        });
        self.users
            .entry(msg.user.clone())
            .or_default()
            .insert(msg.session);
        self.sessions.insert(
            msg.session,
            SessionEntry {
                user: msg.user,
                room: msg.room.name,
                addr: msg.addr,
            },
        );
        MessageResult(entry.addr.clone())
    }
}

/// A connection is gone (or was kicked). Sending it twice is harmless.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Disconnect {
    /// The connection.
    pub session: SessionId,
}

impl Handler<Disconnect> for Registry {
    type Result = ();

    fn handle(&mut self, msg: Disconnect, _ctx: &mut Self::Context) {
        let Some(gone) = self.sessions.remove(&msg.session) else {
            return;
        };
        if let Some(sessions) = self.users.get_mut(&gone.user) {
            sessions.remove(&msg.session);
            if sessions.is_empty() {
                self.users.remove(&gone.user);
            }
        }
        let Some(room) = self.rooms.get_mut(&gone.room) else {
            return;
        };
        let last = match room.online.get_mut(&gone.user) {
            Some(count) if *count > 1 => {
                *count -= 1;
                false
            }
            _ => {
                room.online.remove(&gone.user);
                true
            }
        };
        room.addr.do_send(Leave {
            session: msg.session,
            user: gone.user,
            last,
        });
        if room.online.is_empty() {
            room.addr.do_send(Close);
            self.rooms.remove(&gone.room);
        }
    }
}

/// Why a private message was not delivered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrivateMessageError {
    /// The target has no open connection.
    #[error("{0} is not online")]
    NotOnline(Username),
}

/// A private message from one user to all connections of another.
#[derive(Message)]
#[rtype(result = "Result<(), PrivateMessageError>")]
pub struct SendPrivate {
    /// The sender.
    pub from: Username,
    /// The recipient.
    pub to: Username,
    /// The text, already checked.
    pub text: String,
}

impl Handler<SendPrivate> for Registry {
    type Result = Result<(), PrivateMessageError>;

    fn handle(&mut self, msg: SendPrivate, _ctx: &mut Self::Context) -> Self::Result {
        let sessions = self
            .users
            .get(&msg.to)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| PrivateMessageError::NotOnline(msg.to.clone()))?;
        let frame = Deliver::frame(&ServerFrame::PrivateMessage {
            user: msg.from,
            message: msg.text,
        });
        for session in sessions {
            if let Some(entry) = self.sessions.get(session) {
                // A full mailbox means a slow client, which its room kicks.
                let _ = entry.addr.try_send(frame.clone());
            }
        }
        Ok(())
    }
}

/// How many distinct users are online in each active room.
#[derive(Message)]
#[rtype(result = "HashMap<RoomName, usize>")]
pub struct OnlineCounts;

impl Handler<OnlineCounts> for Registry {
    type Result = MessageResult<OnlineCounts>;

    fn handle(&mut self, _: OnlineCounts, _ctx: &mut Self::Context) -> Self::Result {
        MessageResult(
            self.rooms
                .iter()
                .map(|(name, room)| (name.clone(), room.online.len()))
                .collect(),
        )
    }
}
