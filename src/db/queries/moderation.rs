//! Moderation's rows (issue 14): who moderates a room, who is muted or
//! banned in it, and the state moderation gives rooms and accounts.
//!
//! The reads here are the ones every part of the server shares: a user's
//! standing in a room ([`role_in`]) and whether a sanction is in force
//! ([`active_sanction`]). Both are read where they are enforced, so a
//! change takes effect whoever made it.

use crate::db::models::{Room, Sanction};
use crate::db::schema::{room_moderators, sanctions};
use crate::db::{DbConnection, DbError};
use crate::domain::{Identity, RoomId, UserId};
use chrono::NaiveDateTime;
use diesel::prelude::*;

/// Someone's standing in one room, lowest first: each may do what the
/// ones below may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RoomRole {
    /// Anyone the room admits.
    Member,
    /// Appointed by the owner or staff: may kick, mute, ban, lock, set slow
    /// mode, invite, delete others' messages and handle reports here.
    Moderator,
    /// Created the room (`rooms.created_by`): a moderator who may also
    /// appoint and remove moderators and make the room private or open.
    Owner,
    /// Staff: everything, in every room.
    Staff,
}

impl RoomRole {
    /// The word used in frames and pages: `member`, `moderator`, `owner`,
    /// `staff`.
    pub fn as_str(self) -> &'static str {
        match self {
            RoomRole::Member => "member",
            RoomRole::Moderator => "moderator",
            RoomRole::Owner => "owner",
            RoomRole::Staff => "staff",
        }
    }

    /// Whether this role moderates the room (moderator and above).
    pub fn moderates(self) -> bool {
        self >= RoomRole::Moderator
    }
}

/// A mute (may read, may not post, edit, react or type) or a ban (may not
/// enter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SanctionKind {
    /// Read-only for this user.
    Mute,
    /// Kept out.
    Ban,
}

impl SanctionKind {
    /// As stored: `mute` or `ban`.
    pub fn as_str(self) -> &'static str {
        match self {
            SanctionKind::Mute => "mute",
            SanctionKind::Ban => "ban",
        }
    }
}

/// `who`'s role in `room` now: staff, the room's creator, an appointed
/// moderator, or a member. A direct conversation has no owner or
/// moderators (staff keep their role, which gives them nothing there that
/// [`RoomInfo::admits`](crate::domain::RoomInfo::admits) does not).
pub fn role_in(conn: &mut DbConnection, room: &Room, who: &Identity) -> Result<RoomRole, DbError> {
    if who.is_staff {
        return Ok(RoomRole::Staff);
    }
    if room.direct_a.is_some() {
        return Ok(RoomRole::Member);
    }
    if room.created_by == Some(who.id) {
        return Ok(RoomRole::Owner);
    }
    if is_moderator(conn, room.id, who.id)? {
        return Ok(RoomRole::Moderator);
    }
    Ok(RoomRole::Member)
}

/// Whether `user` was appointed to moderate `room`.
pub fn is_moderator(conn: &mut DbConnection, room: RoomId, user: UserId) -> Result<bool, DbError> {
    Ok(diesel::select(diesel::dsl::exists(
        room_moderators::table
            .filter(room_moderators::room_id.eq(room))
            .filter(room_moderators::user_id.eq(user)),
    ))
    .get_result(conn)?)
}

/// The `kind` sanction of `user` in `room` in force at `now`, if any (the
/// one that ends last, when several overlap).
pub fn active_sanction(
    conn: &mut DbConnection,
    room: RoomId,
    user: UserId,
    kind: SanctionKind,
    now: NaiveDateTime,
) -> Result<Option<Sanction>, DbError> {
    let rows: Vec<Sanction> = sanctions::table
        .filter(sanctions::room_id.eq(room))
        .filter(sanctions::user_id.eq(user))
        .filter(sanctions::kind.eq(kind.as_str()))
        .filter(sanctions::lifted_at.is_null())
        .filter(
            sanctions::expires_at
                .is_null()
                .or(sanctions::expires_at.gt(now)),
        )
        .select(Sanction::as_select())
        .load(conn)?;
    // Until lifted (no end) outlasts any end.
    Ok(rows
        .into_iter()
        .max_by_key(|s| (s.expires_at.is_none(), s.expires_at)))
}
