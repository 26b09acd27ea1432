//! Moderation (issue 14): every action staff, room owners and moderators
//! take (from the staff console, from a room, or from the CLI) goes
//! through [`apply`], one code path whoever asks.
//!
//! [`apply`] checks that the actor may do it, changes the database and
//! writes the audit log entry, all in one transaction, and says what must
//! happen to open connections ([`Effect`]). [`perform`] is what the server
//! calls: it runs [`apply`] on the writer and publishes the effects on the
//! bus, so that every instance acts within a second. The CLI runs
//! [`apply`] alone (it cannot reach a server): every instance's session
//! sweep reads the change within `CONFAB_SESSION_SWEEP_SECS`.
//!
//! Enforcement does not live here: the writer's checks, the handshake,
//! the pages and the sweep read the rows this module writes.

mod accounts;
mod acting;
pub mod audit;
mod messages;
mod people;
mod rooms;

pub use audit::{AuditFilter, audit_entries, record};

use crate::actors::bus::{Bus, ModerationNews, RoomEvent};
use crate::config::Settings;
use crate::db::queries::moderation::SanctionKind;
use crate::db::{Database, DbConnection, DbError};
use crate::domain::{Identity, MessageId, Reason, RoomName, Username};
use crate::protocol::ServerFrame;
use acting::Acting;
use audit::Entry;
use diesel::Connection;

/// Who acts.
#[derive(Debug, Clone)]
pub enum Actor {
    /// A signed-in user, with their rights as loaded for this request
    /// ([`apply`] reads them again).
    User(Identity),
    /// The command line (the audit log says `cli`).
    Cli,
}

/// Who may enter a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Everyone signed in.
    Public,
    /// Staff only.
    AdminOnly,
    /// Its members only (invited); everyone else gets 404.
    InviteOnly,
}

/// What a report's handler did with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// The message was deleted.
    Deleted,
    /// Its author was muted.
    Muted,
    /// Its author was banned from the room.
    Banned,
    /// Nothing was wrong.
    Dismissed,
}

impl Resolution {
    /// As stored in `reports.resolution`.
    pub fn as_str(self) -> &'static str {
        match self {
            Resolution::Deleted => "deleted",
            Resolution::Muted => "muted",
            Resolution::Banned => "banned",
            Resolution::Dismissed => "dismissed",
        }
    }
}

/// Every moderation and console action. Rooms are named by their stored
/// name; who may do each is said beside it (staff may do everything).
#[derive(Debug, Clone)]
pub enum Action {
    /// Staff: a new room.
    CreateRoom {
        /// Its name.
        name: RoomName,
        /// Who may enter.
        access: Access,
    },
    /// Staff: a new name; the old one redirects.
    RenameRoom {
        /// The room.
        room: RoomName,
        /// Its new name.
        to: RoomName,
    },
    /// Staff any; the owner between public and invite-only.
    SetAccess {
        /// The room.
        room: RoomName,
        /// Who may enter from now on.
        access: Access,
    },
    /// Moderators: read-only for everyone but staff and moderators.
    Lock {
        /// The room.
        room: RoomName,
    },
    /// Moderators: writable again.
    Unlock {
        /// The room.
        room: RoomName,
    },
    /// Moderators: at most one post per `secs` per user (0: off).
    SlowMode {
        /// The room.
        room: RoomName,
        /// Seconds between one user's posts.
        secs: u32,
    },
    /// Staff: hidden from the selector, read-only, history kept.
    Archive {
        /// The room.
        room: RoomName,
    },
    /// Staff: back in the selector, writable.
    Unarchive {
        /// The room.
        room: RoomName,
    },
    /// Staff: the room and everything in it, for good.
    DeleteRoom {
        /// The room.
        room: RoomName,
    },
    /// Moderators: make `user` a member (of a private room, where that is
    /// the only way in).
    Invite {
        /// The room.
        room: RoomName,
        /// Who.
        user: Username,
    },
    /// Moderators: end `user`'s membership (out of a private room).
    Uninvite {
        /// The room.
        room: RoomName,
        /// Who.
        user: Username,
    },
    /// The owner: appoint a moderator.
    AddModerator {
        /// The room.
        room: RoomName,
        /// Who.
        user: Username,
    },
    /// The owner: remove a moderator.
    RemoveModerator {
        /// The room.
        room: RoomName,
        /// Who.
        user: Username,
    },
    /// Moderators: close `user`'s sockets in the room; they may come back.
    Kick {
        /// The room.
        room: RoomName,
        /// Who.
        user: Username,
        /// Why (shown to them).
        reason: Reason,
    },
    /// Moderators: `user` may read but not post, edit, react or type.
    Mute {
        /// The room.
        room: RoomName,
        /// Who.
        user: Username,
        /// For how long; `None`: until lifted.
        minutes: Option<u32>,
        /// Why (shown to them).
        reason: Reason,
    },
    /// Moderators: lift a mute.
    Unmute {
        /// The room.
        room: RoomName,
        /// Who.
        user: Username,
    },
    /// Moderators: keep `user` out of the room.
    Ban {
        /// The room.
        room: RoomName,
        /// Who.
        user: Username,
        /// For how long; `None`: until lifted.
        minutes: Option<u32>,
        /// Why (shown to them).
        reason: Reason,
    },
    /// Moderators: lift a ban.
    Unban {
        /// The room.
        room: RoomName,
        /// Who.
        user: Username,
    },
    /// Staff: make an account staff.
    Promote {
        /// Who.
        user: Username,
    },
    /// Staff: take staff rights away.
    Demote {
        /// Who.
        user: Username,
    },
    /// Staff: the account cannot log in; its sessions end.
    Deactivate {
        /// Who.
        user: Username,
        /// Why (for the audit log).
        reason: Reason,
    },
    /// Staff: the account may log in again.
    Reactivate {
        /// Who.
        user: Username,
    },
    /// Staff: every session of the account ends.
    EndSessions {
        /// Who.
        user: Username,
    },
    /// Staff: a new password (an Argon2 hash), which the user must change
    /// at the next login; their sessions end.
    SetPassword {
        /// Who.
        user: Username,
        /// The new password's hash.
        hash: String,
    },
    /// Moderators of its room: delete a message.
    DeleteMessage {
        /// Which.
        id: MessageId,
        /// Why (for the audit log).
        reason: Reason,
    },
    /// Staff: delete every message `user` posted in the last `hours`, in
    /// every room (the usual answer to a spammer).
    BulkDelete {
        /// Whose.
        user: Username,
        /// How far back.
        hours: u32,
        /// Why (for the audit log).
        reason: Reason,
    },
    /// Moderators of its room: close a report, saying what was done.
    ResolveReport {
        /// Which report.
        id: i32,
        /// What was done.
        resolution: Resolution,
    },
}

/// What [`apply`] did, in words for the person who asked ("bob is muted
/// in #lobby for 10 minutes.", "Deleted #old: 120 messages, 4 reactions,
/// 3 members.").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// One or two sentences.
    pub message: String,
}

/// What must happen to open connections once the change is committed.
#[derive(Debug, Clone)]
pub enum Effect {
    /// Every instance re-reads who may be where and do what
    /// ([`ModerationNews::Recheck`]).
    Recheck,
    /// Close `user`'s sockets in `room` on every instance.
    Kick {
        /// The room.
        room: RoomName,
        /// Who.
        user: Username,
        /// Why.
        reason: String,
    },
    /// A frame for the room's members on every instance
    /// (`message_deleted`).
    RoomFrame {
        /// The room.
        room: RoomName,
        /// The frame.
        frame: ServerFrame,
    },
}

/// What [`apply`] committed.
#[derive(Debug, Clone)]
pub struct Applied {
    /// For the person who asked.
    pub outcome: Outcome,
    /// For the open connections.
    pub effects: Vec<Effect>,
}

/// Why an action was refused; nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum ModError {
    /// The room, user, message or report does not exist (or the actor may
    /// not know it does).
    #[error("{0}")]
    NotFound(String),
    /// The actor may not do this (here, or to this person).
    #[error("{0}")]
    Forbidden(String),
    /// The request makes no sense (a DM cannot be locked, a duration of 0).
    #[error("{0}")]
    Invalid(String),
    /// It clashes with what exists (a room name taken).
    #[error("{0}")]
    Conflict(String),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

impl ModError {
    /// The typed error code: `not_found`, `forbidden`, `invalid`,
    /// `conflict` or `unavailable`.
    pub fn code(&self) -> &'static str {
        match self {
            ModError::NotFound(_) => "not_found",
            ModError::Forbidden(_) => "forbidden",
            ModError::Invalid(_) => "invalid",
            ModError::Conflict(_) => "conflict",
            ModError::Db(_) => "unavailable",
        }
    }
}

// What a transaction's own BEGIN or COMMIT fails with.
impl From<diesel::result::Error> for ModError {
    fn from(e: diesel::result::Error) -> Self {
        ModError::Db(e.into())
    }
}

/// The bounds [`apply`] holds actions to, from the settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// `CONFAB_SLOW_MODE_MAX_SECS`.
    pub slow_mode_max_secs: u32,
    /// `CONFAB_BULK_DELETE_MAX_HOURS`.
    pub bulk_delete_max_hours: u32,
}

impl Limits {
    /// The limits `settings` set.
    pub fn from_settings(settings: &Settings) -> Self {
        Limits {
            slow_mode_max_secs: settings.slow_mode_max_secs,
            bulk_delete_max_hours: settings.bulk_delete_max_hours,
        }
    }
}

/// What one action did: the sentence for who asked, what open
/// connections must do, and the audit entry.
struct Done {
    message: String,
    effects: Vec<Effect>,
    entry: Entry,
}

impl Done {
    /// Done, as `message` says, recorded as `entry`, with no effects yet.
    fn new(message: String, entry: Entry) -> Done {
        Done {
            message,
            effects: Vec::new(),
            entry,
        }
    }

    /// With `effect` too.
    fn effect(mut self, effect: Effect) -> Done {
        self.effects.push(effect);
        self
    }
}

/// Checks, changes and records `action` by `actor`, in one transaction:
/// either all of it is committed (the change and its audit entry) or
/// nothing is.
///
/// The actor is read again from the database (a demoted or deactivated
/// user may no longer do what their request's identity says); the command
/// line may do anything. Refusals are sentences a person understands:
/// [`ModError::Forbidden`] for who may not, [`ModError::NotFound`] for an
/// unknown room, user, message or report (or a private room the actor is
/// not in), [`ModError::Invalid`] for what makes no sense (an action on a
/// direct conversation, a limit exceeded), [`ModError::Conflict`] for a
/// name taken or a report handled already.
pub fn apply(
    conn: &mut DbConnection,
    actor: &Actor,
    action: &Action,
    limits: &Limits,
) -> Result<Applied, ModError> {
    conn.transaction(|conn| {
        let acting = Acting::load(conn, actor)?;
        let done = dispatch(conn, &acting, action, limits)?;
        done.entry.write(conn, &acting.name)?;
        Ok(Applied {
            outcome: Outcome {
                message: done.message,
            },
            effects: done.effects,
        })
    })
}

/// Runs `action`'s own checks and changes.
fn dispatch(
    conn: &mut DbConnection,
    acting: &Acting,
    action: &Action,
    limits: &Limits,
) -> Result<Done, ModError> {
    use Action::*;
    match action {
        CreateRoom { name, access } => rooms::create(conn, acting, name, *access),
        RenameRoom { room, to } => rooms::rename(conn, acting, room, to),
        SetAccess { room, access } => rooms::set_access(conn, acting, room, *access),
        Lock { room } => rooms::lock(conn, acting, room, true),
        Unlock { room } => rooms::lock(conn, acting, room, false),
        SlowMode { room, secs } => rooms::slow_mode(conn, acting, room, *secs, limits),
        Archive { room } => rooms::archive(conn, acting, room, true),
        Unarchive { room } => rooms::archive(conn, acting, room, false),
        DeleteRoom { room } => rooms::delete(conn, acting, room),
        Invite { room, user } => rooms::invite(conn, acting, room, user),
        Uninvite { room, user } => rooms::uninvite(conn, acting, room, user),
        AddModerator { room, user } => rooms::moderator(conn, acting, room, user, true),
        RemoveModerator { room, user } => rooms::moderator(conn, acting, room, user, false),
        Kick { room, user, reason } => people::kick(conn, acting, room, user, reason),
        Mute {
            room,
            user,
            minutes,
            reason,
        } => people::sanction(
            conn,
            acting,
            room,
            user,
            SanctionKind::Mute,
            *minutes,
            reason,
        ),
        Unmute { room, user } => people::lift(conn, acting, room, user, SanctionKind::Mute),
        Ban {
            room,
            user,
            minutes,
            reason,
        } => people::sanction(
            conn,
            acting,
            room,
            user,
            SanctionKind::Ban,
            *minutes,
            reason,
        ),
        Unban { room, user } => people::lift(conn, acting, room, user, SanctionKind::Ban),
        Promote { user } => accounts::staff(conn, acting, user, true),
        Demote { user } => accounts::staff(conn, acting, user, false),
        Deactivate { user, reason } => accounts::deactivate(conn, acting, user, reason),
        Reactivate { user } => accounts::reactivate(conn, acting, user),
        EndSessions { user } => accounts::end_sessions(conn, acting, user),
        SetPassword { user, hash } => accounts::set_password(conn, acting, user, hash),
        DeleteMessage { id, reason } => messages::delete(conn, acting, *id, reason),
        BulkDelete {
            user,
            hours,
            reason,
        } => messages::bulk_delete(conn, acting, user, *hours, reason, limits),
        ResolveReport { id, resolution } => {
            messages::resolve_report(conn, acting, *id, *resolution)
        }
    }
}

/// The service as the HTTP handlers hold it (`web::Data<Moderation>`):
/// the database, the bus and the limits, built once at start-up.
#[derive(Clone)]
pub struct Moderation {
    db: Database,
    bus: Bus,
    limits: Limits,
}

impl Moderation {
    /// The service over `db` and `bus`, within `limits`.
    pub fn new(db: Database, bus: Bus, limits: Limits) -> Self {
        Moderation { db, bus, limits }
    }

    /// Applies `action` by `actor` on the writer and publishes its
    /// effects on the bus, so that open connections on every instance
    /// follow.
    pub async fn perform(&self, actor: Actor, action: Action) -> Result<Outcome, ModError> {
        let limits = self.limits;
        let applied = self
            .db
            .write(move |c| {
                let applied = apply(c, &actor, &action, &limits);
                // What it changed holds for the very next write, even in
                // this batch (the writer reads a room's rules once per
                // batch otherwise).
                crate::db::writer::forget_gates();
                applied
            })
            .await?;
        publish(&self.bus, applied.effects);
        Ok(applied.outcome)
    }
}

/// Publishes `effects` on `bus`: one recheck however many asked for it.
fn publish(bus: &Bus, effects: Vec<Effect>) {
    let mut recheck = false;
    for effect in effects {
        match effect {
            Effect::Recheck => recheck = true,
            Effect::Kick { room, user, reason } => {
                bus.publish_moderation(ModerationNews::Kick { room, user, reason })
            }
            Effect::RoomFrame { room, frame } => {
                bus.publish(&room, RoomEvent::now(&frame, None, None))
            }
        }
    }
    if recheck {
        bus.publish_moderation(ModerationNews::Recheck);
    }
}
