//! Who may read and write in the room, checked in the same database job as
//! the read or the write it allows (issue 14).
//!
//! Every check reads the database as it is now, so a rule takes effect on
//! the next request whoever changed it: this server, another instance, the
//! CLI. For a read (history, who reacted) the user must still be admitted:
//! the room exists, admits them ([`RoomInfo::admits`]: admin-only rooms
//! want staff), has not banned them and, if private, counts them as a
//! member. For a write (post, edit, reaction) the room must also be open
//! to them: not archived or locked (staff and the room's moderators may
//! write there anyway), they must not be muted and, for a post under slow
//! mode, not have posted within the interval (moderators are exempt).
//! Staff are held to none of it.
//!
//! The writer runs these checks for every write, so they are written for
//! its hot path: the room's row and its sanctions in force come from
//! [`rules::gate`], read once per batch and room; the user's staff flag
//! and whether they moderate are read only when a rule makes them matter
//! (an admin-only, locked or archived room, slow mode, a sanction on
//! them, deleting another's message). In an open room without sanctions
//! on the author a post costs no query of its own here.
//!
//! [`RoomInfo::admits`]: crate::domain::RoomInfo::admits

use super::{Room, RoomError};
use crate::db::models::Room as RoomRow;
use crate::db::queries::moderation::{RoomRole, SanctionKind};
use crate::db::queries::rules::{self, RoomGate, Sanctioned};
use crate::db::queries::{memberships, users};
use crate::db::{DbConnection, DbError};
use crate::domain::{Identity, RoomId, RoomName, UserId};
use chrono::{NaiveDateTime, TimeDelta};
use std::sync::Arc;

/// What decides who may act in a room, copied into each database job.
#[derive(Debug, Clone)]
pub(super) struct Gate {
    room: RoomId,
    /// The name the room's members know it by, for what they are told.
    name: RoomName,
    /// A direct conversation's participants, which never change.
    direct: Option<(UserId, UserId)>,
}

impl Room {
    /// The room's [`Gate`].
    pub(super) fn gate(&self) -> Gate {
        Gate {
            room: self.info.id,
            name: self.info.name.clone(),
            direct: self.info.direct,
        }
    }
}

/// What a write does, for the rules that tell them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Write {
    /// A new message, posted at this time (slow mode counts from it).
    Post(NaiveDateTime),
    /// A change to a message's text.
    Edit,
    /// A reaction toggled.
    React,
    /// A message deleted: needs admission only, so that a muted user may
    /// still take back what they said.
    Delete,
}

/// Someone acting in the room, with what has been read about them so far.
pub(super) struct Acting<'a> {
    who: &'a Identity,
    gate: Arc<RoomGate>,
    /// Their staff flag as of now, once read.
    staff: Option<bool>,
    /// Their role, once read.
    role: Option<RoomRole>,
}

impl Acting<'_> {
    fn is_staff(&mut self, conn: &mut DbConnection) -> Result<bool, RoomError> {
        if let Some(staff) = self.staff {
            return Ok(staff);
        }
        let staff = users::is_staff(conn, self.who.id)?;
        self.staff = Some(staff);
        Ok(staff)
    }

    /// Their role in the room now (read once).
    pub(super) fn role(&mut self, conn: &mut DbConnection) -> Result<RoomRole, RoomError> {
        if let Some(role) = self.role {
            return Ok(role);
        }
        let staff = self.is_staff(conn)?;
        let role = rules::role(conn, &self.gate.room, self.who.id, staff)?;
        self.role = Some(role);
        Ok(role)
    }

    /// Who it is.
    pub(super) fn user(&self) -> UserId {
        self.who.id
    }

    /// Who it is, as the request named them.
    pub(super) fn identity(&self) -> &Identity {
        self.who
    }

    fn room(&self) -> &RoomRow {
        &self.gate.room
    }
}

/// The room's gate now: [`RoomError::RoomGone`] once it is deleted.
fn gate_of(conn: &mut DbConnection, gate: &Gate) -> Result<Arc<RoomGate>, RoomError> {
    match rules::gate(conn, gate.room) {
        Ok(found) => Ok(found),
        Err(DbError::NotFound) => Err(RoomError::RoomGone),
        Err(e) => Err(e.into()),
    }
}

/// Checks that `who` may still read the room (see the module's rules);
/// returns them as an [`Acting`] for the checks that follow.
pub(super) fn still_admitted<'a>(
    conn: &mut DbConnection,
    gate: &Gate,
    who: &'a Identity,
) -> Result<Acting<'a>, RoomError> {
    let room = gate_of(conn, gate)?;
    let mut actor = Acting {
        who,
        gate: room,
        staff: None,
        role: None,
    };
    if let Some((a, b)) = gate.direct {
        // A conversation's two participants, which nothing changes.
        return if who.id == a || who.id == b {
            Ok(actor)
        } else {
            Err(RoomError::NotAdmitted)
        };
    }
    let admin_only = actor.room().admin_only;
    let invite_only = actor.room().invite_only;
    let ban = actor
        .gate
        .sanction(who.id, SanctionKind::Ban, now())
        .cloned();
    if !(admin_only || invite_only || ban.is_some()) {
        return Ok(actor);
    }
    if actor.is_staff(conn)? {
        return Ok(actor);
    }
    if admin_only {
        return Err(RoomError::NotAdmitted);
    }
    if let Some(ban) = ban {
        return Err(RoomError::Banned {
            message: sanction_sentence("banned from", &gate.name, &ban),
            reason: ban.reason,
        });
    }
    if invite_only && !memberships::is_member(conn, who.id, gate.room)? {
        return Err(RoomError::NotAMember);
    }
    Ok(actor)
}

/// Checks that `who` may make `write` in the room now (see the module's
/// rules); returns them as an [`Acting`], their rights read as far as the
/// checks needed.
pub(super) fn may_write<'a>(
    conn: &mut DbConnection,
    gate: &Gate,
    who: &'a Identity,
    write: Write,
) -> Result<Acting<'a>, RoomError> {
    let mut actor = still_admitted(conn, gate, who)?;
    if write == Write::Delete || gate.direct.is_some() {
        return Ok(actor);
    }
    let rules = actor.gate.rules();
    let at = match write {
        Write::Post(at) => at,
        _ => now(),
    };
    if rules.archived || rules.locked {
        let role = actor.role(conn)?;
        if !role.moderates() {
            return Err(if rules.archived {
                RoomError::Archived
            } else {
                RoomError::Locked
            });
        }
    }
    if let Some(mute) = actor.gate.sanction(who.id, SanctionKind::Mute, at).cloned()
        && !actor.is_staff(conn)?
    {
        return Err(RoomError::Muted {
            message: sanction_sentence("muted in", &gate.name, &mute),
            mute: mute.view(),
        });
    }
    if let (Write::Post(at), Some(interval)) = (write, rules.slow_mode())
        && !actor.role(conn)?.moderates()
    {
        let since = at - TimeDelta::from_std(interval).unwrap_or(TimeDelta::MAX);
        let last = rules::last_post_since(conn, gate.room, who.id, since)?;
        let wait = rules::slow_mode_wait(&rules, last, at);
        if !wait.is_zero() {
            return Err(RoomError::SlowMode {
                secs: rules.slow_mode_secs,
                retry_after: wait,
            });
        }
    }
    Ok(actor)
}

/// "You are muted in #lobby until 14:05 UTC: spamming."
fn sanction_sentence(what: &str, room: &RoomName, sanction: &Sanctioned) -> String {
    let mut sentence = format!("You are {what} #{room} {}", sanction.until_words(now()));
    if !sanction.reason.is_empty() {
        sentence.push_str(": ");
        sentence.push_str(&sanction.reason);
    }
    sentence
}

fn now() -> NaiveDateTime {
    crate::db::queries::now()
}
