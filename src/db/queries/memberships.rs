//! Memberships: "my rooms" and how far I have read in each.
//!
//! A user becomes a member of a room by posting in it (in the same write
//! as the post, [`joined_by_posting`]) or with the Join button ([`join`]),
//! and stops being one with Leave ([`leave`]). Each membership holds a read
//! marker, `last_read_id`: every live message after it that someone else
//! wrote is unread. [`unread`] counts them (and the mentions among them)
//! for all of a user's rooms at once, or for one.

use crate::db::models::Membership;
use crate::db::schema::{memberships, mentions, messages, rooms, users};
use crate::db::{DbConnection, DbError};
use crate::domain::{MessageId, RoomId, UserId};
use chrono::NaiveDateTime;
use diesel::dsl::{count_star, max};
use diesel::prelude::*;
use std::collections::HashMap;

/// `user` posted message `id` in `room`: they are a member from now on
/// (if they were not) and have read the room up to their own post.
///
/// One statement, written once and run per backend: diesel's
/// multi-backend connection has no `ON CONFLICT`, though both backends
/// do. Every post runs it inside the writer's batch.
pub fn joined_by_posting(
    conn: &mut DbConnection,
    user: UserId,
    room: RoomId,
    id: MessageId,
    at: NaiveDateTime,
) -> Result<(), DbError> {
    let row = Membership {
        user_id: user,
        room_id: room,
        last_read_id: id,
        joined_at: at,
    };
    macro_rules! upsert {
        ($c:expr) => {
            diesel::insert_into(memberships::table)
                .values(&row)
                .on_conflict((memberships::user_id, memberships::room_id))
                .do_update()
                .set(
                    memberships::last_read_id
                        .eq(diesel::upsert::excluded(memberships::last_read_id)),
                )
                .execute($c)
        };
    }
    match conn {
        DbConnection::Sqlite(c) => upsert!(c),
        #[cfg(feature = "postgres")]
        DbConnection::Pg(c) => upsert!(c),
    }?;
    Ok(())
}

/// `user` joins `room` with the Join button: everything already there
/// counts as read. Joining twice changes nothing.
pub fn join(
    conn: &mut DbConnection,
    user: UserId,
    room: RoomId,
    at: NaiveDateTime,
) -> Result<(), DbError> {
    let newest: Option<MessageId> = messages::table
        .filter(messages::room_id.eq(room))
        .select(max(messages::id))
        .first(conn)?;
    let row = Membership {
        user_id: user,
        room_id: room,
        last_read_id: newest.unwrap_or(MessageId(0)),
        joined_at: at,
    };
    // As in `joined_by_posting`: one statement, run per backend.
    macro_rules! insert_unless_member {
        ($c:expr) => {
            diesel::insert_into(memberships::table)
                .values(&row)
                .on_conflict_do_nothing()
                .execute($c)
        };
    }
    match conn {
        DbConnection::Sqlite(c) => insert_unless_member!(c),
        #[cfg(feature = "postgres")]
        DbConnection::Pg(c) => insert_unless_member!(c),
    }?;
    Ok(())
}

/// `user` leaves `room`: it is no longer one of theirs. Whether they were
/// a member.
pub fn leave(conn: &mut DbConnection, user: UserId, room: RoomId) -> Result<bool, DbError> {
    let gone = diesel::delete(
        memberships::table
            .filter(memberships::user_id.eq(user))
            .filter(memberships::room_id.eq(room)),
    )
    .execute(conn)?;
    Ok(gone > 0)
}

/// Whether `user` is a member of `room`.
pub fn is_member(conn: &mut DbConnection, user: UserId, room: RoomId) -> Result<bool, DbError> {
    let found = memberships::table
        .filter(memberships::user_id.eq(user))
        .filter(memberships::room_id.eq(room))
        .select(memberships::room_id)
        .first::<RoomId>(conn)
        .optional()?;
    Ok(found.is_some())
}

/// The rooms (and conversations) `user` is a member of.
pub fn rooms_of(conn: &mut DbConnection, user: UserId) -> Result<Vec<RoomId>, DbError> {
    Ok(memberships::table
        .filter(memberships::user_id.eq(user))
        .select(memberships::room_id)
        .load(conn)?)
}

/// [`DbError::NotFound`] unless message `id` is in `room` (deleted or not).
fn check_in_room(conn: &mut DbConnection, room: RoomId, id: MessageId) -> Result<(), DbError> {
    messages::table
        .filter(messages::id.eq(id))
        .filter(messages::room_id.eq(room))
        .select(messages::id)
        .first::<MessageId>(conn)?;
    Ok(())
}

/// `user` has read `room` up to message `id`: the marker moves forward to
/// it, never back. [`DbError::NotFound`] if `id` is not a message of the
/// room; a user who is not a member has no marker, and nothing changes.
pub fn mark_read(
    conn: &mut DbConnection,
    user: UserId,
    room: RoomId,
    id: MessageId,
) -> Result<(), DbError> {
    check_in_room(conn, room, id)?;
    diesel::update(
        memberships::table
            .filter(memberships::user_id.eq(user))
            .filter(memberships::room_id.eq(room))
            .filter(memberships::last_read_id.lt(id)),
    )
    .set(memberships::last_read_id.eq(id))
    .execute(conn)?;
    Ok(())
}

/// "Mark as unread": `user`'s marker in `room` moves back to just before
/// message `id`, so that it and everything after it count as unread; a
/// marker already before it stays. [`DbError::NotFound`] as for
/// [`mark_read`].
pub fn mark_unread(
    conn: &mut DbConnection,
    user: UserId,
    room: RoomId,
    id: MessageId,
) -> Result<(), DbError> {
    check_in_room(conn, room, id)?;
    diesel::update(
        memberships::table
            .filter(memberships::user_id.eq(user))
            .filter(memberships::room_id.eq(room))
            .filter(memberships::last_read_id.ge(id)),
    )
    .set(memberships::last_read_id.eq(id.previous()))
    .execute(conn)?;
    Ok(())
}

/// One of a user's rooms, with what they have not read there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreadRow {
    /// The room.
    pub room_id: RoomId,
    /// Its stored name.
    pub name: String,
    /// For a direct conversation, the other participant's name (the
    /// user's own for notes to self); `None` for a room.
    pub direct_with: Option<String>,
    /// The newest message read.
    pub last_read_id: MessageId,
    /// Live messages after the marker by someone else.
    pub unread: u64,
    /// How many of those mention the user.
    pub mentions: u64,
}

/// `user`'s rooms and conversations (or only `only`, if they are a member
/// of it) with their unread and mention counts, ordered by name.
///
/// Four small queries, whatever the number of rooms: the memberships, the
/// unread messages per room and the unread mentions per room (each one
/// grouped count over the `(room_id, id)` and `(user_id, message_id)`
/// indexes, starting at each marker), and the names of the other
/// participants of direct conversations.
pub fn unread(
    conn: &mut DbConnection,
    user: UserId,
    only: Option<RoomId>,
) -> Result<Vec<UnreadRow>, DbError> {
    let mut mine = memberships::table
        .inner_join(rooms::table)
        .filter(memberships::user_id.eq(user))
        .select((
            rooms::id,
            rooms::name,
            rooms::direct_a,
            rooms::direct_b,
            memberships::last_read_id,
        ))
        .order(rooms::name.asc())
        .into_boxed();
    if let Some(room) = only {
        mine = mine.filter(rooms::id.eq(room));
    }
    type Mine = (RoomId, String, Option<UserId>, Option<UserId>, MessageId);
    let mine: Vec<Mine> = mine.load(conn)?;
    if mine.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<RoomId> = mine.iter().map(|row| row.0).collect();
    let after_marker = memberships::table.on(memberships::room_id
        .eq(messages::room_id)
        .and(memberships::user_id.eq(user)));
    let unread: HashMap<RoomId, i64> = messages::table
        .inner_join(after_marker)
        .filter(messages::room_id.eq_any(&ids))
        .filter(messages::id.gt(memberships::last_read_id))
        .filter(messages::deleted_at.is_null())
        .filter(messages::user_id.ne(user))
        .group_by(messages::room_id)
        .select((messages::room_id, count_star()))
        .load::<(RoomId, i64)>(conn)?
        .into_iter()
        .collect();
    let mentioned: HashMap<RoomId, i64> = mentions::table
        .inner_join(messages::table)
        .inner_join(after_marker)
        .filter(mentions::user_id.eq(user))
        .filter(messages::room_id.eq_any(&ids))
        .filter(messages::id.gt(memberships::last_read_id))
        .filter(messages::deleted_at.is_null())
        .group_by(messages::room_id)
        .select((messages::room_id, count_star()))
        .load::<(RoomId, i64)>(conn)?
        .into_iter()
        .collect();
    let other = |a: Option<UserId>, b: Option<UserId>| match (a, b) {
        (Some(a), Some(b)) => Some(if a == user { b } else { a }),
        _ => None,
    };
    let others: Vec<UserId> = mine.iter().filter_map(|r| other(r.2, r.3)).collect();
    let names: HashMap<UserId, String> = if others.is_empty() {
        HashMap::new()
    } else {
        users::table
            .filter(users::id.eq_any(&others))
            .select((users::id, users::username))
            .load::<(UserId, String)>(conn)?
            .into_iter()
            .collect()
    };
    let count = |n: Option<&i64>| n.and_then(|n| u64::try_from(*n).ok()).unwrap_or(0);
    Ok(mine
        .into_iter()
        .map(|(room_id, name, a, b, last_read_id)| UnreadRow {
            room_id,
            name,
            direct_with: other(a, b).and_then(|id| names.get(&id).cloned()),
            last_read_id,
            unread: count(unread.get(&room_id)),
            mentions: count(mentioned.get(&room_id)),
        })
        .collect())
}

/// The names of `room`'s members, alphabetically (a private room's
/// member list).
pub fn members_of(conn: &mut DbConnection, room: RoomId) -> Result<Vec<String>, DbError> {
    Ok(memberships::table
        .inner_join(users::table)
        .filter(memberships::room_id.eq(room))
        .order(users::username.asc())
        .select(users::username)
        .load(conn)?)
}
