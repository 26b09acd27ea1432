//! Moderation's rows (issue 14): who moderates a room, who is muted or
//! banned in it, and the state moderation gives rooms and accounts.
//!
//! The reads here are the ones every part of the server shares: a user's
//! standing in a room ([`role_in`]) and whether a sanction is in force
//! ([`active_sanction`]). Both are read where they are enforced, so a
//! change takes effect whoever made it.

use crate::db::models::{Room, Sanction};
use crate::db::schema::{room_moderators, sanctions, users};
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

/// The names of `room`'s appointed moderators, alphabetically.
pub fn moderator_names(conn: &mut DbConnection, room: RoomId) -> Result<Vec<String>, DbError> {
    Ok(room_moderators::table
        .inner_join(users::table)
        .filter(room_moderators::room_id.eq(room))
        .order(users::username.asc())
        .select(users::username)
        .load(conn)?)
}

/// A mute or ban in force, as a room's settings page lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveSanction {
    /// Who is muted or banned.
    pub user: String,
    /// Mute or ban.
    pub kind: SanctionKind,
    /// Why, as they are shown it (may be empty).
    pub reason: String,
    /// When it was imposed (UTC).
    pub created_at: NaiveDateTime,
    /// When it ends by itself (UTC); `None`: when lifted.
    pub until: Option<NaiveDateTime>,
    /// Who imposed it; `None`: the command line.
    pub by: Option<String>,
}

/// The mutes and bans in force in `room` at `now`, newest first.
pub fn active_sanctions_in(
    conn: &mut DbConnection,
    room: RoomId,
    now: NaiveDateTime,
) -> Result<Vec<ActiveSanction>, DbError> {
    let rows: Vec<(Sanction, String)> = sanctions::table
        .inner_join(users::table.on(users::id.eq(sanctions::user_id)))
        .filter(sanctions::room_id.eq(room))
        .filter(sanctions::lifted_at.is_null())
        .filter(
            sanctions::expires_at
                .is_null()
                .or(sanctions::expires_at.gt(now)),
        )
        .order(sanctions::id.desc())
        .select((Sanction::as_select(), users::username))
        .load(conn)?;
    // Who imposed them: another role of `users`, read by id.
    let mut by_ids: Vec<UserId> = rows.iter().filter_map(|(s, _)| s.created_by).collect();
    by_ids.sort_unstable();
    by_ids.dedup();
    let names: std::collections::HashMap<UserId, String> = users::table
        .filter(users::id.eq_any(&by_ids))
        .select((users::id, users::username))
        .load::<(UserId, String)>(conn)?
        .into_iter()
        .collect();
    Ok(rows
        .into_iter()
        .map(|(s, user)| ActiveSanction {
            user,
            kind: if s.kind == SanctionKind::Ban.as_str() {
                SanctionKind::Ban
            } else {
                SanctionKind::Mute
            },
            reason: s.reason,
            created_at: s.created_at,
            until: s.expires_at,
            by: s.created_by.and_then(|id| names.get(&id).cloned()),
        })
        .collect())
}
