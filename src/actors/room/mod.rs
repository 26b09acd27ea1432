//! The room actor: one per room that has members on this instance (the
//! Channels "group" plus its consumer fan-out).
//!
//! It owns the order of its room. Messages that change the log are queued
//! with the database's writer in the order they came, many in flight at
//! once, and each is published once it and every write before it are
//! durably stored, so ids, the log and the broadcast agree. A join is
//! atomic, so a newcomer's history and its first live event never overlap
//! or leave a gap.
//!
//! Delivery is the other half: every [`Published`] event from the bus is
//! encoded once and offered to each member's [`SessionHandle`] without
//! waiting (into its outbox, shared). A member that does not keep up is
//! judged and hung up by its own session (`actors/outbox.rs`), not here.
//!
//! This file holds the actor itself and delivery; each other concern has a
//! file of its own:
//! - `membership.rs`: who is in the room — [`Join`] (with its history burst),
//!   [`Leave`], [`Typing`], [`Close`].
//! - `changes.rs`: what changes the log — [`Post`], and [`Edit`],
//!   [`Delete`] and [`React`], which go through one helper that checks
//!   rights and finds the message.
//! - `pending.rs`: the writes in flight, published in the order they came.
//! - `history.rs`: reading the log on request: pages ([`LoadHistory`]) and
//!   the full list of who reacted with one emoji ([`ListReactors`]).
//! - `catch_up.rs`: nothing stored is lost to the members, even when the bus
//!   is not there to carry it. The room catches up from the database while
//!   the bus is down, whenever the bus says events may have been missed, and,
//!   with several instances, every few seconds for messages stored long
//!   enough ago that the bus should have brought them (an instance that died
//!   between storing a message and publishing it).
//! - `memory.rs`: which messages the room has delivered, for the catch-up.
//! - `markers.rs`: read markers — [`MoveMarker`] (`read`, `mark_unread`),
//!   and the news of it to the user's other sockets.
//! - `echoes.rs`: the echo of a post to the socket that sent it, which
//!   alone carries the post's `client_id`.
//! - `admission.rs`: who may read and write here, checked in the database
//!   job of each read and write (issue 14: bans, private rooms, locks,
//!   archives, mutes, slow mode).
//! - `standing.rs`: the room's copy of its rules and its members'
//!   standing, for typing and for the `room_state` and `standing` frames
//!   ([`RulesRead`], from the session sweep).

mod admission;
mod catch_up;
mod changes;
mod echoes;
mod history;
mod markers;
mod membership;
mod memory;
mod pending;
mod standing;

pub use changes::{Delete, Edit, Post, Posted, React};
pub use history::{HistoryPage, ListReactors, LoadHistory};
pub use markers::{Marker, MoveMarker};
pub use membership::{Close, HISTORY_ON_JOIN, Join, Leave, RESUME_LIMIT, Typing};
pub use standing::RulesRead;

use crate::actors::bus::{Bus, Published, RoomEvent, Subscription};
use crate::actors::delivery::{Deliver, Hangup, SessionHandle, SessionId};
use crate::db::queries::messages::{MessageWithAuthor, Quoted};
use crate::db::queries::reactions::ReactionGroup;
use crate::db::{Database, DbError};
use crate::domain::{MessageId, RoomInfo, Username};
use crate::metrics::METRICS;
use crate::protocol::{ErrorCode, MessageView, MuteView, ReactionView, ReplyView, ServerFrame};
use actix::prelude::*;
use bytestring::ByteString;
use catch_up::{CatchUp, OUTAGE_POLL, Scope};
use echoes::{Echo, Echoes};
use memory::Memory;
use pending::PendingWrites;
use standing::Standings;
use std::collections::HashMap;

/// Posts that may wait in a room's mailbox before senders are held back.
const MAILBOX_CAPACITY: usize = 1024;

/// Why the room refused or failed a request.
#[derive(Debug, thiserror::Error)]
pub enum RoomError {
    /// The database refused or failed (logged; the client is told only
    /// that it failed).
    #[error("the server's database failed, so this was not done; please try again")]
    Storage(DbError),
    /// The database cannot be reached or cannot write right now (see
    /// [`DbError::is_unavailable`]): nothing was done, and the client
    /// should try again in a moment.
    #[error("the database is unavailable right now, so this was not done; try again in a moment")]
    Unavailable(DbError),
    /// The room stopped before the write was confirmed (the server is
    /// shutting down); it may have been stored.
    #[error("the room closed before this was confirmed; try again")]
    Closed,
    /// No such message in this room, or it was deleted.
    #[error("there is no message {0} in this room")]
    NotFound(MessageId),
    /// The user may not do that to that message.
    #[error("{0}")]
    Forbidden(&'static str),
    /// The room is admin-only and the user is no longer staff.
    #[error("this room is for staff only")]
    NotAdmitted,
    /// The room was deleted.
    #[error("this room was deleted")]
    RoomGone,
    /// The user is banned from the room.
    #[error("{message}")]
    Banned {
        /// "You are banned from #lobby until …: <reason>".
        message: String,
        /// The reason alone, for the close frame.
        reason: String,
    },
    /// The room is private and the user is not (or no longer) a member.
    #[error("you are not a member of this room")]
    NotAMember,
    /// The room is archived: nobody but staff and moderators writes.
    #[error("this room is archived: it can be read, not written to")]
    Archived,
    /// The room is locked: nobody but staff and moderators writes.
    #[error("this room is locked: only moderators can post")]
    Locked,
    /// The user is muted here.
    #[error("{message}")]
    Muted {
        /// "You are muted in #lobby until 14:05 UTC: spamming".
        message: String,
        /// The mute, for the fields of the error frame.
        mute: MuteView,
    },
    /// Slow mode: the user posted here too recently.
    #[error(
        "slow mode: one message every {secs} seconds; you can post again in {} s",
        retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0)
    )]
    SlowMode {
        /// The room's interval.
        secs: u32,
        /// When the next post will be taken.
        retry_after: std::time::Duration,
    },
    /// A repeated `client_id` whose message was deleted since, or is in
    /// another room: nothing is stored again.
    #[error(
        "this client_id was used already, for message {0}, which has been deleted or is in \
         another room; it was not stored again"
    )]
    RepeatGone(MessageId),
    /// A new emoji on a message that already has the most allowed.
    #[error("this message already has {max} different reactions; add yours to one of them instead")]
    TooManyReactions {
        /// The cap, `CONFAB_MAX_REACTIONS`.
        max: usize,
    },
}

impl From<DbError> for RoomError {
    fn from(e: DbError) -> Self {
        if e.is_unavailable() {
            RoomError::Unavailable(e)
        } else {
            RoomError::Storage(e)
        }
    }
}

impl RoomError {
    /// How long the client should wait before sending it again, for
    /// `unavailable`.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            RoomError::Unavailable(_) => Some(crate::db::RETRY_UNAVAILABLE),
            RoomError::SlowMode { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }

    /// With `muted`: the mute, whose reason and end the error frame
    /// carries.
    pub fn mute(&self) -> Option<&MuteView> {
        match self {
            RoomError::Muted { mute, .. } => Some(mute),
            _ => None,
        }
    }

    /// How the socket must end after this refusal, if the user may no
    /// longer be in the room at all.
    pub fn hangup(&self) -> Option<Hangup> {
        match self {
            RoomError::NotAdmitted => Some(Hangup::NotAdmitted),
            RoomError::NotAMember => Some(Hangup::NotAMember),
            RoomError::RoomGone => Some(Hangup::RoomDeleted),
            RoomError::Banned { reason, .. } => Some(Hangup::Banned {
                reason: reason.clone(),
            }),
            _ => None,
        }
    }

    /// The code the client gets in its `error` frame.
    pub fn code(&self) -> ErrorCode {
        match self {
            RoomError::Storage(_) | RoomError::Closed => ErrorCode::Internal,
            RoomError::Unavailable(_) => ErrorCode::Unavailable,
            RoomError::NotFound(_) | RoomError::RepeatGone(_) => ErrorCode::NotFound,
            RoomError::Forbidden(_)
            | RoomError::NotAdmitted
            | RoomError::Banned { .. }
            | RoomError::NotAMember => ErrorCode::Forbidden,
            RoomError::RoomGone => ErrorCode::NotFound,
            RoomError::TooManyReactions { .. } => ErrorCode::TooManyReactions,
            RoomError::Archived => ErrorCode::RoomArchived,
            RoomError::Locked => ErrorCode::RoomLocked,
            RoomError::Muted { .. } => ErrorCode::Muted,
            RoomError::SlowMode { .. } => ErrorCode::SlowMode,
        }
    }
}

struct Member {
    user: Username,
    session: SessionHandle,
}

/// A live room.
pub struct Room {
    info: RoomInfo,
    db: Database,
    bus: Bus,
    members: HashMap<SessionId, Member>,
    subscription: Option<Subscription>,
    /// What members have had, for catching up from the database.
    memory: Memory,
    /// Echoes due to the sockets that posted, with their `client_id`s.
    echoes: Echoes,
    /// Outage polls since the last settled check.
    ticks: u32,
    /// Writes queued with the database and not yet published.
    pending: PendingWrites,
    /// The registry closed the room; it stops once `pending` is empty, so
    /// that every stored write is published.
    closing: bool,
    /// Its rules and its members' standing, for typing and for the frames
    /// that tell modern sockets of them.
    standings: Standings,
}

impl Room {
    /// A room actor for `info`, not yet started.
    pub fn new(info: RoomInfo, db: Database, bus: Bus) -> Self {
        Room {
            info,
            db,
            bus,
            members: HashMap::new(),
            subscription: None,
            memory: Memory::default(),
            echoes: Echoes::default(),
            ticks: 0,
            pending: PendingWrites::default(),
            closing: false,
            standings: Standings::default(),
        }
    }

    fn publish(&self, frame: &ServerFrame, skip_user: Option<Username>, id: Option<MessageId>) {
        self.bus
            .publish(&self.info.name, RoomEvent::now(frame, skip_user, id));
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
    /// `skip_user`).
    fn deliver(&mut self, frame: &ByteString, skip_user: Option<&Username>, id: Option<MessageId>) {
        self.deliver_to(frame, id, |user| skip_user != Some(user));
    }

    /// Hands one encoded frame to the members whose user `to` picks.
    fn deliver_to(
        &mut self,
        frame: &ByteString,
        id: Option<MessageId>,
        to: impl Fn(&Username) -> bool,
    ) {
        // The sender of a post gets its echo, with its client_id.
        let echo = self.echoes.waiting(id);
        let mut echoed = false;
        let mut delivered = 0;
        for (session, member) in &self.members {
            if !to(&member.user) {
                continue;
            }
            echoed |= echo.is_some_and(|echo| echo.is_for(*session));
            member.session.offer(Deliver {
                frame: Echo::frame_for(echo, *session, frame),
                message_id: id,
            });
            delivered += 1;
        }
        if echoed && let Some(id) = id {
            self.echoes.delivered(id);
        }
        METRICS.frames_out(delivered);
    }
}

/// The view of a stored message for `reader` (loaded with `reader` among
/// its readers, so that its reactions say whether they reacted).
pub fn view_of(row: &MessageWithAuthor, history: bool, reader: &Username) -> MessageView {
    MessageView {
        id: row.message.id,
        user: Username::from_stored(row.author.clone()),
        message: row.message.content.clone(),
        created_at: row.message.created_at.and_utc(),
        edited_at: row.message.edited_at.map(|t| t.and_utc()),
        reactions: reaction_views(&row.reactions, reader),
        reply_to: row.quoted.as_ref().map(reply_view),
        mentions: row.mentions.clone(),
        history,
        client_id: None,
    }
}

/// What a reply shows of the original it quotes.
pub fn reply_view(quoted: &Quoted) -> ReplyView {
    match quoted {
        Quoted::Live {
            id,
            author,
            content,
        } => ReplyView::live(*id, Username::from_stored(author.clone()), content),
        Quoted::Deleted { id } => ReplyView::deleted(*id),
    }
}

/// Reactions as `reader` sees them.
fn reaction_views(groups: &[ReactionGroup], reader: &Username) -> Vec<ReactionView> {
    groups
        .iter()
        .map(|g| ReactionView {
            emoji: g.emoji.clone(),
            count: g.count,
            me: g.readers.iter().any(|r| r == reader.as_str()),
            users: g.first.iter().cloned().map(Username::from_stored).collect(),
        })
        .collect()
}
