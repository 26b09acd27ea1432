//! The registry actor: one per process, the directory of who is where.
//!
//! Sessions arrive and leave through it, so it alone decides when a room
//! actor starts (first member) and stops (last member leaves), and it alone
//! counts a user's connections per room, which is what presence is: a user
//! with two tabs is online once, and leaves when the last tab closes. It also
//! carries `/pm`s into their direct conversations (starting the
//! conversation's room for the one post when nobody is in it here, so the
//! post takes the same path as any other) and hands the tutorial's
//! `private_message` to the recipient's legacy connections, since it knows
//! every connection of every user; and it closes the connections of
//! sessions that end (a logout, a password change, anywhere), since it
//! knows which session opened each. The [sweep](super::sweep) asks it for
//! that list to re-check it.
//!
//! It also watches moderation news (issue 14) from every instance: a kick
//! closes the user's connections to that room here (close code 4000), and
//! anything else wakes the sweep, which re-reads who may be where and hands
//! each room what it read of its rules and its members' standing
//! ([`RoomsRead`]).

use crate::actors::bus::{Activity, Bus, ModerationNews, Subscription, ToUser, UserDelivery};
use crate::actors::delivery::{Deliver, Disconnect, Hangup, SessionHandle, SessionId};
use crate::actors::room::{Close, Join, Leave, Post, Posted, Room, RoomError, RulesRead};
use crate::actors::unread::{ActivityFrames, LocalMembers};
use crate::db::queries::{memberships, rooms, users};
use crate::db::{Database, DbError};
use crate::domain::{
    ClientId, EndedLogins, Identity, LoginId, MessageText, RoomId, RoomInfo, RoomName, UserId,
    Username,
};
use crate::protocol::{ErrorCode, ServerFrame, encode};
use actix::prelude::*;
use bytestring::ByteString;
use std::collections::{BTreeMap, HashMap, HashSet};

struct RoomEntry {
    addr: Addr<Room>,
    /// Connections per online user.
    online: BTreeMap<Username, usize>,
}

struct SessionEntry {
    user: Username,
    user_id: UserId,
    /// The signed-in session that opened it.
    login: LoginId,
    room: RoomName,
    /// The room's id, for the sweep to read whether it is admin-only now.
    room_id: RoomId,
    handle: SessionHandle,
}

/// Which of a user's connections a per-user frame is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Audience {
    /// Every one.
    All,
    /// Newer clients only (`?v=2`): frame types the tutorial's client does
    /// not know.
    Modern,
    /// The tutorial's clients only: frames a newer client gets another way
    /// (`private_message`, which it sees as a message in the conversation).
    Legacy,
}

impl Audience {
    fn includes(self, session: &SessionHandle) -> bool {
        match self {
            Audience::All => true,
            Audience::Modern => session.is_modern(),
            Audience::Legacy => !session.is_modern(),
        }
    }
}

/// The process-wide directory of rooms and connections.
pub struct Registry {
    db: Database,
    bus: Bus,
    rooms: HashMap<RoomName, RoomEntry>,
    sessions: HashMap<SessionId, SessionEntry>,
    users: HashMap<Username, UserEntry>,
    /// Which local users are members of which rooms, for activity.
    members: LocalMembers,
    /// The server is shutting down: no new connection is let in.
    closing: bool,
    /// The session sweep, asked to run at once on moderation news.
    sweep: Option<Recipient<SweepNow>>,
}

/// A user with connections on this instance.
struct UserEntry {
    sessions: HashSet<SessionId>,
    /// Routes the user's private messages from the bus to this registry.
    watch: Subscription,
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
            members: LocalMembers::default(),
            closing: false,
            sweep: None,
        }
    }
}

impl Actor for Registry {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        self.bus.watch_activity(ctx.address().recipient());
        self.bus.watch_moderation(ctx.address().recipient());
    }
}

/// A session wants to enter a room; answers with the room to post to, or
/// `None` when the server is shutting down.
#[derive(Message)]
#[rtype(result = "Option<Addr<Room>>")]
pub struct Connect {
    /// The connection, and where its frames go.
    pub session: SessionHandle,
    /// Its user.
    pub user: Username,
    /// The user's id.
    pub user_id: UserId,
    /// The signed-in session it was opened with.
    pub login: LoginId,
    /// The room, already checked to exist and admit the user.
    pub room: RoomInfo,
    /// A reconnection that has seen every message up to this id.
    pub resume_after: Option<crate::domain::MessageId>,
}

impl Handler<Connect> for Registry {
    type Result = MessageResult<Connect>;

    fn handle(&mut self, msg: Connect, ctx: &mut Self::Context) -> Self::Result {
        if self.closing {
            return MessageResult(None);
        }
        // The user's private messages are routed here from their first
        // connection on; that connection's join waits until they are.
        let bus = &self.bus;
        let mut user_ready = None;
        self.users
            .entry(msg.user.clone())
            .or_insert_with(|| {
                let watch = bus.watch_user(&msg.user, ctx.address().recipient());
                user_ready = Some(watch.ready);
                UserEntry {
                    sessions: HashSet::new(),
                    watch: watch.token,
                }
            })
            .sessions
            .insert(msg.session.id());
        if user_ready.is_some() {
            self.load_memberships(msg.user.clone(), msg.user_id, ctx);
        }
        self.room_for(&msg.room);
        let Some(entry) = self.rooms.get_mut(&msg.room.name) else {
            return MessageResult(None);
        };
        let count = entry.online.entry(msg.user.clone()).or_insert(0);
        *count += 1;
        let first = *count == 1;
        entry.addr.do_send(Join {
            session: msg.session.clone(),
            user: msg.user.clone(),
            user_id: msg.user_id,
            first,
            online: entry.online.keys().cloned().collect(),
            resume_after: msg.resume_after,
            user_ready,
        });
        self.sessions.insert(
            msg.session.id(),
            SessionEntry {
                user: msg.user,
                user_id: msg.user_id,
                login: msg.login,
                room_id: msg.room.id,
                room: msg.room.name,
                handle: msg.session,
            },
        );
        MessageResult(Some(entry.addr.clone()))
    }
}

impl Handler<Disconnect> for Registry {
    type Result = ();

    fn handle(&mut self, msg: Disconnect, _ctx: &mut Self::Context) {
        let Some(gone) = self.sessions.remove(&msg.session) else {
            return;
        };
        if let Some(entry) = self.users.get_mut(&gone.user) {
            entry.sessions.remove(&msg.session);
            if entry.sessions.is_empty() {
                self.bus.unwatch_user(&gone.user, entry.watch);
                self.users.remove(&gone.user);
                self.members.forget(&gone.user);
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

/// Why a private message was not stored.
#[derive(Debug, thiserror::Error)]
pub enum PrivateMessageError {
    /// No account has the target's name.
    #[error("there is no user called {0}")]
    NoSuchUser(Username),
    /// The conversation refused or failed the post.
    #[error(transparent)]
    Room(#[from] RoomError),
}

impl PrivateMessageError {
    /// The code the client gets in its `error` frame.
    pub fn code(&self) -> ErrorCode {
        match self {
            PrivateMessageError::NoSuchUser(_) => ErrorCode::NoSuchUser,
            PrivateMessageError::Room(e) => e.code(),
        }
    }

    /// How long to wait before sending it again, for `unavailable`.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            PrivateMessageError::NoSuchUser(_) => None,
            PrivateMessageError::Room(e) => e.retry_after(),
        }
    }
}

/// `/pm`: a post into the direct conversation of its sender and `to`
/// (notes to self when they are the same), stored whether or not `to` is
/// online. Answers with the recipient's name as their account spells it.
#[derive(Message)]
#[rtype(result = "Result<Username, PrivateMessageError>")]
pub struct SendPrivate {
    /// The sender.
    pub from: Identity,
    /// The socket it was sent from.
    pub session: SessionId,
    /// The recipient, as the sender typed the name.
    pub to: Username,
    /// The text, already checked.
    pub text: MessageText,
    /// The sender's name for the post: stored once, like a room post's.
    pub client_id: Option<ClientId>,
}

impl Handler<SendPrivate> for Registry {
    type Result = ResponseActFuture<Self, Result<Username, PrivateMessageError>>;

    fn handle(&mut self, msg: SendPrivate, _ctx: &mut Self::Context) -> Self::Result {
        if self.closing {
            // No room starts while the server shuts down.
            return Box::pin(fut::ready(Err(RoomError::Closed.into())));
        }
        let db = self.db.clone();
        let (me, to) = (msg.from.id, msg.to.clone());
        let open = async move {
            db.run(move |c| {
                let Some(other) = users::by_login_name(c, &to)? else {
                    return Ok(None);
                };
                let room = rooms::direct(c, me, other.id)?;
                Ok::<_, DbError>(Some((room, Username::from_stored(other.username))))
            })
            .await
        };
        Box::pin(open.into_actor(self).then(move |found, act, _ctx| {
            let (room, target) = match found {
                Ok(Some(found)) => found,
                Ok(None) => {
                    let refused = Err(PrivateMessageError::NoSuchUser(msg.to));
                    return fut::ready(refused).boxed_local();
                }
                Err(e) => {
                    let failed = Err(PrivateMessageError::Room(e.into()));
                    return fut::ready(failed).boxed_local();
                }
            };
            let info = RoomInfo::from(room);
            let legacy = ServerFrame::PrivateMessage {
                user: msg.from.username.clone(),
                message: msg.text.as_str().to_owned(),
            };
            let addr = act.room_for(&info);
            let post = Post {
                author: msg.from,
                text: msg.text,
                session: msg.session,
                client_id: msg.client_id,
                reply_to: None,
            };
            let posted = addr
                .send(post)
                .into_actor(act)
                .map(move |result, act, _ctx| {
                    act.close_if_unused(&info.name, &addr);
                    match result {
                        Ok(Ok(Posted::New(_))) => {
                            // The tutorial's frame, for clients that know no
                            // conversations; newer ones see the message in it.
                            // Whether anyone got it changes nothing: it is stored.
                            drop(
                                act.bus
                                    .send_to_user(&target, ToUser::Legacy(encode(&legacy))),
                            );
                            Ok(target)
                        }
                        // Sent again (its answer was lost): told once already.
                        Ok(Ok(Posted::Repeat(_))) => Ok(target),
                        Ok(Err(e)) => Err(e.into()),
                        Err(_) => Err(RoomError::Closed.into()),
                    }
                });
            posted.boxed_local()
        }))
    }
}

impl Registry {
    /// The live room actor of `info` here, started without members if
    /// there is none (a `/pm` into a conversation nobody has open here).
    fn room_for(&mut self, info: &RoomInfo) -> Addr<Room> {
        let (db, bus) = (&self.db, &self.bus);
        self.rooms
            .entry(info.name.clone())
            .or_insert_with(|| RoomEntry {
                addr: Room::new(info.clone(), db.clone(), bus.clone()).start(),
                online: BTreeMap::new(),
            })
            .addr
            .clone()
    }

    /// Closes the room `name` if it is still the actor `addr` and nobody
    /// came into it meanwhile (it publishes what it stored first).
    fn close_if_unused(&mut self, name: &RoomName, addr: &Addr<Room>) {
        if self
            .rooms
            .get(name)
            .is_some_and(|room| room.addr == *addr && room.online.is_empty())
        {
            addr.do_send(Close);
            self.rooms.remove(name);
        }
    }
}

impl Handler<UserDelivery> for Registry {
    type Result = ();

    fn handle(&mut self, msg: UserDelivery, _ctx: &mut Self::Context) {
        match msg.what {
            ToUser::Frame(frame) => self.offer_to(&msg.user, frame, Audience::All),
            ToUser::Legacy(frame) => self.offer_to(&msg.user, frame, Audience::Legacy),
            ToUser::Notice(frame) => self.offer_to(&msg.user, frame, Audience::Modern),
            ToUser::Membership {
                room,
                member,
                notice,
            } => {
                if !self.users.contains_key(&msg.user) {
                    return;
                }
                if member {
                    self.members.join(&msg.user, room);
                } else {
                    self.members.leave(&msg.user, room);
                }
                self.offer_to(&msg.user, notice, Audience::Modern);
            }
            ToUser::SignedOut(ended) => self.sign_out(&msg.user, ended),
        }
    }
}

impl Handler<Activity> for Registry {
    type Result = ();

    fn handle(&mut self, activity: Activity, _ctx: &mut Self::Context) {
        // Posting made the author a member (in the post's own write).
        if self.users.contains_key(&activity.author) {
            self.members.join(&activity.author, activity.room_id);
        }
        let mut frames = None;
        let mut delivered = 0;
        for user in self.members.of(activity.room_id) {
            if *user == activity.author {
                continue;
            }
            let Some(entry) = self.users.get(user) else {
                continue;
            };
            let frames = frames.get_or_insert_with(|| ActivityFrames::of(&activity));
            let frame = frames.for_user(&activity, user);
            for id in &entry.sessions {
                // A socket in the room itself has the message already (its
                // `chat_message`): the page counts that, so it gets no second
                // frame per message.
                if let Some(session) = self.sessions.get(id)
                    && session.handle.is_modern()
                    && session.room_id != activity.room_id
                {
                    session.handle.offer(Deliver {
                        frame: frame.clone(),
                        message_id: None,
                    });
                    delivered += 1;
                }
            }
        }
        crate::metrics::METRICS.frames_out(delivered);
    }
}

/// The rooms a user is a member of, loaded on their first connection here.
#[derive(Message)]
#[rtype(result = "()")]
struct MembershipsLoaded {
    user: Username,
    rooms: Vec<RoomId>,
}

impl Handler<MembershipsLoaded> for Registry {
    type Result = ();

    fn handle(&mut self, msg: MembershipsLoaded, _ctx: &mut Self::Context) {
        // Gone again while they loaded: nothing to keep.
        if self.users.contains_key(&msg.user) {
            self.members.load(&msg.user, msg.rooms);
        }
    }
}

impl Registry {
    /// Loads which rooms `user` is a member of into the index, without
    /// waiting (a message in the meantime misses their sidebar, whose
    /// snapshot is loaded with their join anyway).
    fn load_memberships(&self, user: Username, id: UserId, ctx: &mut Context<Self>) {
        let db = self.db.clone();
        let me = ctx.address();
        actix::spawn(async move {
            match db.run(move |c| memberships::rooms_of(c, id)).await {
                Ok(rooms) => me.do_send(MembershipsLoaded { user, rooms }),
                Err(e) => log::error!("loading the rooms of {user} failed: {e}"),
            }
        });
    }

    /// Offers `frame` to this instance's connections of `user` that are in
    /// `audience`. Never waits: a session that does not keep up is judged
    /// by its own outbox.
    fn offer_to(&self, user: &Username, frame: ByteString, audience: Audience) {
        let Some(entry) = self.users.get(user) else {
            return;
        };
        let deliver = Deliver {
            frame,
            message_id: None,
        };
        for id in &entry.sessions {
            if let Some(session) = self.sessions.get(id)
                && audience.includes(&session.handle)
            {
                session.handle.offer(deliver.clone());
            }
        }
    }

    /// Closes this instance's connections of `user`'s sessions `ended`
    /// (each tells the registry it is gone as it stops).
    fn sign_out(&self, user: &Username, ended: EndedLogins) {
        let Some(entry) = self.users.get(user) else {
            return;
        };
        for id in &entry.sessions {
            if let Some(session) = self.sessions.get(id)
                && ended.includes(session.login)
            {
                session.handle.hang_up(Hangup::SignedOut);
            }
        }
    }
}

/// One open connection, as the [sweep](super::sweep) re-checks it.
pub struct OpenConnection {
    /// The signed-in session that opened it.
    pub login: LoginId,
    /// Its user.
    pub user: Username,
    /// The user's id.
    pub user_id: UserId,
    /// Its room (whether that is admin-only, private, renamed or gone is
    /// read at each sweep, so what the CLI changes reaches open sockets).
    pub room: RoomId,
    /// The room's name when the connection opened.
    pub room_name: RoomName,
    /// Where to hang it up.
    pub handle: SessionHandle,
}

/// Every open connection of this instance, for the sweep.
#[derive(Message)]
#[rtype(result = "Vec<OpenConnection>")]
pub struct OpenConnections;

impl Handler<OpenConnections> for Registry {
    type Result = MessageResult<OpenConnections>;

    fn handle(&mut self, _: OpenConnections, _ctx: &mut Self::Context) -> Self::Result {
        MessageResult(
            self.sessions
                .values()
                .map(|entry| OpenConnection {
                    login: entry.login,
                    user: entry.user.clone(),
                    user_id: entry.user_id,
                    room: entry.room_id,
                    room_name: entry.room.clone(),
                    handle: entry.handle.clone(),
                })
                .collect(),
        )
    }
}

/// Asks the session sweep to run now (or, if it is running, once more
/// after it): something moderation decides changed.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "()")]
pub struct SweepNow;

/// Tells the registry where the session sweep is (start-up does, once
/// both run).
#[derive(Message)]
#[rtype(result = "()")]
pub struct AttachSweep(pub Recipient<SweepNow>);

impl Handler<AttachSweep> for Registry {
    type Result = ();

    fn handle(&mut self, msg: AttachSweep, _ctx: &mut Self::Context) {
        self.sweep = Some(msg.0);
    }
}

/// Moderation news from any instance (this one's included): a kick closes
/// the user's connections to the room here; anything else is for the
/// sweep, which re-reads every rule behind this instance's connections.
impl Handler<ModerationNews> for Registry {
    type Result = ();

    fn handle(&mut self, news: ModerationNews, _ctx: &mut Self::Context) {
        match news {
            ModerationNews::Kick { room, user, reason } => {
                let Some(entry) = self.users.get(&user) else {
                    return;
                };
                for id in &entry.sessions {
                    if let Some(session) = self.sessions.get(id)
                        && session.room == room
                    {
                        session.handle.hang_up(Hangup::Kicked {
                            reason: reason.clone(),
                        });
                    }
                }
            }
            ModerationNews::Recheck => match &self.sweep {
                Some(sweep) => sweep.do_send(SweepNow),
                None => log::warn!("moderation news, but no session sweep runs to act on it"),
            },
        }
    }
}

/// What the sweep read of rooms with connections here: each goes to its
/// room's actor, which keeps it and tells its modern sockets what changed.
#[derive(Message)]
#[rtype(result = "()")]
pub struct RoomsRead(pub Vec<(RoomName, RulesRead)>);

impl Handler<RoomsRead> for Registry {
    type Result = ();

    fn handle(&mut self, msg: RoomsRead, _ctx: &mut Self::Context) {
        for (name, read) in msg.0 {
            if let Some(room) = self.rooms.get(&name) {
                room.addr.do_send(read);
            }
        }
    }
}

/// Every room with anyone online and how many distinct users, over every
/// instance when the bus shares presence, else on this one. Rooms nobody
/// is in are not asked about at all, so the answer costs what the busy
/// rooms cost, however many rooms exist.
#[derive(Message)]
#[rtype(result = "HashMap<RoomName, usize>")]
pub struct OnlineRooms;

impl Handler<OnlineRooms> for Registry {
    type Result = ResponseFuture<HashMap<RoomName, usize>>;

    fn handle(&mut self, _: OnlineRooms, _ctx: &mut Self::Context) -> Self::Result {
        let local: HashMap<RoomName, usize> = self
            .rooms
            .iter()
            .map(|(name, room)| (name.clone(), room.online.len()))
            .collect();
        let shared = self.bus.online_rooms();
        Box::pin(async move { shared.await.unwrap_or(local) })
    }
}

/// The server is shutting down: close every connection with "going away".
#[derive(Message)]
#[rtype(result = "()")]
pub struct CloseAll;

impl Handler<CloseAll> for Registry {
    type Result = ();

    fn handle(&mut self, _: CloseAll, _ctx: &mut Self::Context) {
        self.closing = true;
        for session in self.sessions.values() {
            session.handle.hang_up(Hangup::GoingAway);
        }
    }
}
