//! The room actor: one per room that has members on this instance (the
//! Channels "group" plus its consumer fan-out).
//!
//! It owns the order of its room. Messages that change the log ([`Post`],
//! [`Edit`], [`Delete`], [`React`]) are handled atomically: the next one is
//! not looked at until the database has stored the previous one and its
//! event is published, so ids, the log and the broadcast agree. [`Join`] is atomic too, so a newcomer's history
//! and its first live event never overlap or leave a gap.
//!
//! Delivery is the other half: every [`Published`] event from the bus is
//! handed to each member's mailbox with `try_send`. A member whose mailbox
//! is full is not waited for: it is reported to the registry and kicked.
//!
//! Nothing stored is lost to the members of a room, even when the bus is
//! not there to carry it: the room remembers which messages it delivered,
//! and catches up from the database (delivering what it has not) while the
//! bus is down, whenever the bus says events may have been missed (an
//! instance that was cut off from Redis comes back, a queue overflowed),
//! and, with several instances, every few seconds for messages stored long
//! enough ago that the bus should have brought them (an instance that died
//! between storing a message and publishing it).

mod memory;

use crate::actors::bus::{Bus, Published, RoomEvent, Subscription};
use crate::actors::delivery::{Deliver, Disconnect, Hangup, JoinBurst, SessionHandle, SessionId};
use crate::db::queries::messages::{self, MessageWithAuthor, Window};
use crate::db::queries::reactions::{self, ReactionGroup};
use crate::db::queries::users;
use crate::db::{Database, DbConnection, DbError};
use crate::domain::{Emoji, Identity, MessageId, MessageText, RoomInfo, UserId, Username};
use crate::metrics::METRICS;
use crate::protocol::{ErrorCode, MessageView, ReactionView, ServerFrame, encode};
use actix::prelude::*;
use bytestring::ByteString;
use chrono::Utc;
use futures_util::future::BoxFuture;
use memory::Memory;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Messages a newcomer receives on joining.
pub const HISTORY_ON_JOIN: i64 = 10;

/// Most missed messages a reconnecting client receives in its catch-up
/// burst; it asks for the rest with `history` requests.
pub const RESUME_LIMIT: i64 = 500;

/// How far before the client's last message its catch-up starts, to cover
/// messages from other instances delivered out of id order (see
/// [`messages::resume_floor`]).
const RESUME_OVERLAP_MS: i64 = 2_000;

/// Where a catch-up after message `after` starts: [`RESUME_OVERLAP_MS`]
/// before it.
fn resume_floor(conn: &mut DbConnection, room_id: i32, after: MessageId) -> Result<i32, DbError> {
    let overlap = chrono::Duration::milliseconds(RESUME_OVERLAP_MS);
    messages::resume_floor(conn, room_id, after.0, overlap)
}

/// Posts that may wait in a room's mailbox before senders are held back.
const MAILBOX_CAPACITY: usize = 1024;

/// While the bus is down, how often a room looks in the database for
/// messages that other instances stored.
const OUTAGE_POLL: Duration = Duration::from_secs(1);

/// While the bus is up, how often a room checks the database for messages
/// it never got (an instance that died between storing a message and
/// publishing it), every this many outage polls.
const SETTLED_CHECK_EVERY: u32 = 2;

/// Most messages one catch-up looks at.
const CATCH_UP_LIMIT: i64 = 10_000;

/// Why the room refused or failed a request.
#[derive(Debug, thiserror::Error)]
pub enum RoomError {
    /// The database refused or failed.
    #[error("the change could not be stored")]
    Storage(#[from] DbError),
    /// No such message in this room, or it was deleted.
    #[error("there is no message {0} in this room")]
    NotFound(MessageId),
    /// The user may not do that to that message.
    #[error("{0}")]
    Forbidden(&'static str),
    /// The room is admin-only and the user is no longer staff.
    #[error("this room is for staff only")]
    NotAdmitted,
}

impl RoomError {
    /// The code the client gets in its `error` frame.
    pub fn code(&self) -> ErrorCode {
        match self {
            RoomError::Storage(_) => ErrorCode::Internal,
            RoomError::NotFound(_) => ErrorCode::NotFound,
            RoomError::Forbidden(_) | RoomError::NotAdmitted => ErrorCode::Forbidden,
        }
    }
}

/// The live message `id` of room `room_id`, or [`RoomError::NotFound`].
fn find_message(
    conn: &mut DbConnection,
    room_id: i32,
    id: MessageId,
) -> Result<crate::db::models::Message, RoomError> {
    messages::find_live(conn, room_id, id.0).map_err(|e| not_found_as(e, id))
}

/// A database error about message `id`, as the room reports it.
fn not_found_as(error: DbError, id: MessageId) -> RoomError {
    match error {
        DbError::NotFound => RoomError::NotFound(id),
        other => RoomError::Storage(other),
    }
}

/// `who` with their staff rights as they are now. Rights are read per
/// request, so a user demoted while connected loses them at once.
fn as_of_now(conn: &mut DbConnection, who: &Identity) -> Result<Identity, RoomError> {
    let is_staff = users::is_staff(conn, who.id.0)?;
    Ok(Identity {
        is_staff,
        ..who.clone()
    })
}

/// Checks that `who` may still act in the room: always in an open room;
/// in an admin-only one only while staff.
fn still_admitted(
    conn: &mut DbConnection,
    room: &RoomInfo,
    who: &Identity,
) -> Result<Identity, RoomError> {
    if !room.admin_only {
        return Ok(who.clone());
    }
    let now = as_of_now(conn, who)?;
    if room.admits(&now) {
        Ok(now)
    } else {
        Err(RoomError::NotAdmitted)
    }
}

struct Member {
    user: Username,
    session: SessionHandle,
    /// Already reported as too slow; gets nothing more.
    kicked: bool,
}

/// A live room.
pub struct Room {
    info: RoomInfo,
    db: Database,
    bus: Bus,
    /// Told when the room drops a member (the registry).
    registry: Recipient<Disconnect>,
    members: HashMap<SessionId, Member>,
    subscription: Option<Subscription>,
    /// What members have had, for catching up from the database.
    memory: Memory,
    /// Outage polls since the last settled check.
    ticks: u32,
}

impl Room {
    /// A room actor for `info`, not yet started.
    pub fn new(info: RoomInfo, db: Database, bus: Bus, registry: Recipient<Disconnect>) -> Self {
        Room {
            info,
            db,
            bus,
            registry,
            members: HashMap::new(),
            subscription: None,
            memory: Memory::default(),
            ticks: 0,
        }
    }

    /// Looks in the database for messages other instances stored that the
    /// bus did not bring: every second while it is down, now and then while
    /// it is up.
    fn check_database(&mut self, ctx: &mut Context<Self>) {
        if !self.memory.is_anchored() {
            return; // no join burst yet: nothing to compare with
        }
        if !self.bus.is_healthy() {
            // Cut off from the other instances: their messages reach the
            // database, not the bus.
            self.ticks = 0;
            return ctx.notify(CatchUp {
                from: self.memory.newest(),
                scope: Scope::Since,
            });
        }
        self.ticks += 1;
        if self.ticks < SETTLED_CHECK_EVERY {
            return;
        }
        self.ticks = 0;
        if let Some(from) = self.memory.next_settled_check() {
            ctx.notify(CatchUp {
                from,
                scope: Scope::Settled,
            });
        }
    }

    fn publish(&self, frame: &ServerFrame, skip_user: Option<Username>, id: Option<MessageId>) {
        self.bus
            .publish(&self.info.name, RoomEvent::now(frame, skip_user, id));
    }

    /// Runs `store` as the room's next atomic step and, when it succeeds,
    /// publishes the frame `announce` makes of its result.
    fn then_publish<T: 'static>(
        &self,
        store: impl std::future::Future<Output = Result<T, RoomError>> + 'static,
        announce: impl FnOnce(T) -> ServerFrame + 'static,
    ) -> AtomicResponse<Self, Result<(), RoomError>> {
        AtomicResponse::new(Box::pin(store.into_actor(self).map(
            move |stored, room, _ctx| {
                room.publish(&announce(stored?), None, None);
                Ok(())
            },
        )))
    }

    fn kick(&mut self, session: SessionId) {
        let Some(member) = self.members.get_mut(&session) else {
            return;
        };
        if member.kicked {
            return;
        }
        member.kicked = true;
        member.session.hang_up(Hangup::TooSlow);
        self.registry.do_send(Disconnect { session });
    }
}

impl Actor for Room {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        METRICS.rooms(1);
        ctx.set_mailbox_capacity(MAILBOX_CAPACITY);
        if self.bus.is_shared() {
            ctx.run_interval(OUTAGE_POLL, Room::check_database);
        }
        let subscribed = self
            .bus
            .subscribe(&self.info.name, ctx.address().recipient());
        self.subscription = Some(subscribed.token);
        // No Join is handled (no history loaded) before the subscription is
        // in effect: a message stored in between would reach neither.
        ctx.wait(subscribed.ready.into_actor(self));
        log::debug!("room {} opened", self.info.name);
    }

    fn stopped(&mut self, _ctx: &mut Self::Context) {
        METRICS.rooms(-1);
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
    /// The connection, and where its frames go.
    pub session: SessionHandle,
    /// Its user.
    pub user: Username,
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
        let room_id = self.info.id.0;
        let resume_after = join.resume_after;
        let presence = self.bus.arrive(&self.info.name, &join.user, join.first);
        let user_ready = join.user_ready.take();
        let load = async move {
            let history = db.run(move |c| match resume_after {
                Some(after) => {
                    let floor = resume_floor(c, room_id, after)?;
                    messages::page(c, room_id, Window::After(floor), RESUME_LIMIT)
                }
                None => messages::page(c, room_id, Window::Latest, HISTORY_ON_JOIN),
            });
            let user_ready = async {
                if let Some(ready) = user_ready {
                    ready.await;
                }
            };
            let (history, arrival, ()) = tokio::join!(history, presence, user_ready);
            (history, arrival)
        };
        AtomicResponse::new(Box::pin(load.into_actor(self).map(
            move |(history, arrival), room, _ctx| {
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
                            burst.ids.push(MessageId(row.message.id));
                            let frame = ServerFrame::ChatMessage(view_of(row, true));
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
                        burst.then.push(encode(&ServerFrame::Error {
                            code: ErrorCode::Internal,
                            message: "the message history could not be loaded".to_owned(),
                        }));
                    }
                }
                burst
                    .then
                    .push(encode(&ServerFrame::UserList { users: online }));
                join.session.send_burst(burst);
                room.members.insert(
                    join.session.id(),
                    Member {
                        user: join.user.clone(),
                        session: join.session,
                        kicked: false,
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
        let info = self.info.clone();
        let created_at = Utc::now();
        let text = post.text.into_string();
        let author = post.author.clone();
        let store = async move {
            db.run(move |c| {
                still_admitted(c, &info, &author)?;
                let row =
                    messages::insert(c, info.id.0, author.id.0, &text, created_at.naive_utc())?;
                Ok::<_, RoomError>((row.id, text))
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
                    edited_at: None,
                    reactions: Vec::new(),
                    history: false,
                };
                METRICS.message_in();
                room.publish(&ServerFrame::ChatMessage(view), None, Some(id));
                Ok(id)
            },
        )))
    }
}

/// A member changes the text of their message.
#[derive(Message)]
#[rtype(result = "Result<(), RoomError>")]
pub struct Edit {
    /// Who asks.
    pub editor: Identity,
    /// Which message.
    pub id: MessageId,
    /// The new text.
    pub text: MessageText,
}

impl Handler<Edit> for Room {
    type Result = AtomicResponse<Self, Result<(), RoomError>>;

    fn handle(&mut self, edit: Edit, _ctx: &mut Self::Context) -> Self::Result {
        let db = self.db.clone();
        let room_id = self.info.id.0;
        let Edit { editor, id, text } = edit;
        let edited_at = Utc::now();
        let info = self.info.clone();
        let store = async move {
            db.run(move |c| {
                still_admitted(c, &info, &editor)?;
                let message = find_message(c, room_id, id)?;
                if !editor.may_edit(UserId(message.user_id)) {
                    return Err(RoomError::Forbidden("only its author may edit a message"));
                }
                let text = text.into_string();
                messages::edit(c, id.0, &text, edited_at.naive_utc())
                    .map_err(|e| not_found_as(e, id))?;
                Ok(text)
            })
            .await
        };
        self.then_publish(store, move |message| ServerFrame::MessageEdited {
            id,
            message,
            edited_at,
        })
    }
}

/// A member deletes a message: their own, or any if they are staff.
#[derive(Message)]
#[rtype(result = "Result<(), RoomError>")]
pub struct Delete {
    /// Who asks.
    pub by: Identity,
    /// Which message.
    pub id: MessageId,
}

impl Handler<Delete> for Room {
    type Result = AtomicResponse<Self, Result<(), RoomError>>;

    fn handle(&mut self, delete: Delete, _ctx: &mut Self::Context) -> Self::Result {
        let db = self.db.clone();
        let room_id = self.info.id.0;
        let Delete { by, id } = delete;
        let info = self.info.clone();
        let store = async move {
            db.run(move |c| {
                let by = still_admitted(c, &info, &by)?;
                let message = find_message(c, room_id, id)?;
                let author = UserId(message.user_id);
                // Staff rights as they are now, not as they were when the
                // socket opened (in an admin-only room, just read).
                let by = if by.id == author || info.admin_only {
                    by
                } else {
                    as_of_now(c, &by)?
                };
                if !by.may_delete(author) {
                    return Err(RoomError::Forbidden(
                        "only its author or staff may delete a message",
                    ));
                }
                messages::delete(c, id.0, Utc::now().naive_utc())
                    .map_err(|e| not_found_as(e, id))?;
                Ok(())
            })
            .await
        };
        self.then_publish(store, move |()| ServerFrame::MessageDeleted { id })
    }
}

/// A member toggles their reaction on a message.
#[derive(Message)]
#[rtype(result = "Result<(), RoomError>")]
pub struct React {
    /// Who reacts.
    pub user: Identity,
    /// Which message.
    pub id: MessageId,
    /// With what.
    pub emoji: Emoji,
}

impl Handler<React> for Room {
    type Result = AtomicResponse<Self, Result<(), RoomError>>;

    fn handle(&mut self, react: React, _ctx: &mut Self::Context) -> Self::Result {
        let db = self.db.clone();
        let room_id = self.info.id.0;
        let React { user, id, emoji } = react;
        let info = self.info.clone();
        let store = async move {
            db.run(move |c| {
                still_admitted(c, &info, &user)?;
                find_message(c, room_id, id)?;
                reactions::toggle(c, id.0, user.id.0, emoji.as_str(), Utc::now().naive_utc())
                    .map_err(|e| not_found_as(e, id))
            })
            .await
        };
        self.then_publish(store, move |groups| ServerFrame::Reactions {
            id,
            reactions: reaction_views(groups),
        })
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
        let frame = ServerFrame::Typing {
            user: msg.user.clone(),
            typing: msg.typing,
        };
        self.publish(&frame, Some(msg.user), None);
    }
}

/// A member asks for a page of the log (scrolling back, or catching up).
#[derive(Message)]
#[rtype(result = "Result<HistoryPage, RoomError>")]
pub struct LoadHistory {
    /// Which part of the log.
    pub window: Window,
    /// At most this many.
    pub limit: u32,
}

/// The answer to [`LoadHistory`].
#[derive(Debug)]
pub struct HistoryPage {
    /// Oldest first.
    pub messages: Vec<MessageView>,
    /// Whether there are older ones.
    pub has_more: bool,
}

impl Handler<LoadHistory> for Room {
    // Reading needs no place in the room's order: a page holds stored
    // messages only, and the client keys messages by id.
    type Result = ResponseFuture<Result<HistoryPage, RoomError>>;

    fn handle(&mut self, msg: LoadHistory, _ctx: &mut Self::Context) -> Self::Result {
        let db = self.db.clone();
        let room_id = self.info.id.0;
        Box::pin(async move {
            let (rows, has_more) = db
                .run(move |c| messages::page(c, room_id, msg.window, msg.limit.into()))
                .await?;
            Ok(HistoryPage {
                messages: rows.into_iter().map(|row| view_of(row, true)).collect(),
                has_more,
            })
        })
    }
}

impl Handler<Published> for Room {
    type Result = ();

    fn handle(&mut self, msg: Published, ctx: &mut Self::Context) {
        match msg {
            Published::Event(event) => {
                if let Ok(lag) = event.published_at.elapsed() {
                    METRICS.bus_lag(lag);
                }
                // A message is delivered once, however many ways it came.
                if let Some(id) = event.message_id
                    && !self.memory.remember(id)
                {
                    return;
                }
                self.deliver(&event.frame, event.skip_user.as_ref(), event.message_id);
            }
            Published::Missed { after } => {
                ctx.notify(CatchUp {
                    from: self.memory.missed_since(after),
                    scope: Scope::Since,
                });
            }
        }
    }
}

impl Room {
    /// Hands one encoded frame to every member (but those named
    /// `skip_user`), kicking any that cannot take it.
    fn deliver(&mut self, frame: &ByteString, skip_user: Option<&Username>, id: Option<MessageId>) {
        let mut slow = Vec::new();
        let mut delivered = 0;
        for (session, member) in &self.members {
            if member.kicked || skip_user == Some(&member.user) {
                continue;
            }
            let deliver = Deliver {
                frame: frame.clone(),
                message_id: id,
            };
            if member.session.offer(deliver) {
                delivered += 1;
            } else {
                slow.push(*session);
            }
        }
        METRICS.frames_out(delivered);
        for session in slow {
            self.kick(session);
        }
    }
}

/// Look for stored messages that members have not had.
#[derive(Message)]
#[rtype(result = "()")]
struct CatchUp {
    from: MessageId,
    scope: Scope,
}

/// Which stored messages a [`CatchUp`] considers, and when it delivers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// Everything after `from`, and a little before it (see
    /// [`messages::resume_floor`]), delivered at once: the bus was down or
    /// said it missed events.
    Since,
    /// The same window, but a message is delivered only once it has been
    /// missing for [`memory::SETTLE`]: a check, while the bus works, that nothing
    /// fell through it.
    Settled,
}

impl Handler<CatchUp> for Room {
    // Atomic: a catch-up takes its place in the room's order like a post.
    type Result = AtomicResponse<Self, ()>;

    fn handle(&mut self, msg: CatchUp, _ctx: &mut Self::Context) -> Self::Result {
        if self.members.is_empty() {
            return AtomicResponse::new(Box::pin(fut::ready(())));
        }
        let db = self.db.clone();
        let room_id = self.info.id.0;
        let forgotten = self.memory.forgotten().0;
        let load = async move {
            db.run(move |c| {
                let floor = resume_floor(c, room_id, msg.from)?;
                // Reads ids only; whole messages only for the missing ones.
                messages::ids_after(c, room_id, floor.max(forgotten), CATCH_UP_LIMIT)
            })
            .await
        };
        AtomicResponse::new(Box::pin(load.into_actor(self).map(
            move |found, room, ctx| {
                let ids = match found {
                    Ok(ids) => ids,
                    Err(e) => {
                        return log::warn!("room {}: catching up failed: {e}", room.info.name);
                    }
                };
                let missing = room.memory.missing(ids.into_iter().map(MessageId));
                let due = match msg.scope {
                    Scope::Since => missing,
                    Scope::Settled => room.memory.settle(missing, Instant::now()),
                };
                if !due.is_empty() {
                    ctx.notify(Fetch { ids: due });
                }
            },
        )))
    }
}

/// Deliver stored messages `ids` that members have not had.
#[derive(Message)]
#[rtype(result = "()")]
struct Fetch {
    ids: Vec<MessageId>,
}

impl Handler<Fetch> for Room {
    type Result = AtomicResponse<Self, ()>;

    fn handle(&mut self, msg: Fetch, _ctx: &mut Self::Context) -> Self::Result {
        let db = self.db.clone();
        let room_id = self.info.id.0;
        let ids: Vec<i32> = msg.ids.iter().map(|id| id.0).collect();
        let load = async move { db.run(move |c| messages::with_ids(c, room_id, &ids)).await };
        AtomicResponse::new(Box::pin(load.into_actor(self).map(|loaded, room, _ctx| {
            let rows = match loaded {
                Ok(rows) => rows,
                Err(e) => return log::warn!("room {}: catching up failed: {e}", room.info.name),
            };
            let mut caught = 0;
            for row in rows {
                let id = MessageId(row.message.id);
                if room.memory.remember(id) {
                    let frame = encode(&ServerFrame::ChatMessage(view_of(row, false)));
                    room.deliver(&frame, None, Some(id));
                    caught += 1;
                }
            }
            if caught > 0 {
                METRICS.caught_up(caught);
                log::info!(
                    "room {}: delivered {caught} messages from the database that the bus had not",
                    room.info.name
                );
            }
        })))
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
pub fn view_of(row: MessageWithAuthor, history: bool) -> MessageView {
    MessageView {
        id: MessageId(row.message.id),
        user: Username::from_stored(row.author),
        message: row.message.content,
        created_at: row.message.created_at.and_utc(),
        edited_at: row.message.edited_at.map(|t| t.and_utc()),
        reactions: reaction_views(row.reactions),
        history,
    }
}

/// Reactions as the protocol shows them.
fn reaction_views(groups: Vec<ReactionGroup>) -> Vec<ReactionView> {
    groups
        .into_iter()
        .map(|g| ReactionView {
            emoji: g.emoji,
            count: g.users.len(),
            users: g.users.into_iter().map(Username::from_stored).collect(),
        })
        .collect()
}
