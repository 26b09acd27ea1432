//! Rooms: looked up by the name in the URL, created on a first visit (the
//! tutorial's `get_or_create`, within the visitor's hourly quota) or by
//! staff and `confab room create`, and listed for the room selector.
//!
//! A direct conversation is a room too (the same log, history, edits and
//! reactions), named and opened by its two participants ([`direct`]); no
//! listing here ever shows one, and opening one is not counted by the
//! creation quota.

use crate::db::models::{Membership, NewRoom, Room};
use crate::db::schema::{memberships, messages, rooms, users};
use crate::db::{DbConnection, DbError};
use crate::domain::{MessageId, RoomId, RoomName, UserId};
use chrono::{NaiveDateTime, TimeDelta};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable};
use std::collections::HashMap;
use std::time::Duration;

diesel::define_sql_function! {
    /// `coalesce(x, y)`: a room without messages sorts as if its latest
    /// message had id 0, last on both backends (PostgreSQL would put the
    /// NULL first in a descending order, SQLite last).
    fn coalesce(x: Nullable<BigInt>, y: BigInt) -> BigInt;
}

/// The window the creation quota counts over.
const QUOTA_WINDOW: TimeDelta = TimeDelta::hours(1);

/// Looks a room up by name.
pub fn by_name(conn: &mut DbConnection, name: &str) -> Result<Option<Room>, DbError> {
    Ok(rooms::table
        .filter(rooms::name.eq(name))
        .select(Room::as_select())
        .first(conn)
        .optional()?)
}

/// Creates a room made by `created_by` (`None`: the command line);
/// [`DbError::Conflict`] when the name is taken.
pub fn create(
    conn: &mut DbConnection,
    name: &str,
    admin_only: bool,
    created_by: Option<UserId>,
) -> Result<Room, DbError> {
    diesel::insert_into(rooms::table)
        .values(&NewRoom {
            name,
            admin_only,
            created_at: super::now(),
            created_by,
            direct_a: None,
            direct_b: None,
        })
        .returning(rooms::all_columns)
        .get_result(conn)
        .map_err(DbError::from)
}

/// Makes a room admin-only or open to everyone; [`DbError::NotFound`] for
/// an unknown name.
pub fn set_admin_only(
    conn: &mut DbConnection,
    name: &str,
    admin_only: bool,
) -> Result<(), DbError> {
    let changed = diesel::update(rooms::table.filter(rooms::name.eq(name)))
        .set(rooms::admin_only.eq(admin_only))
        .execute(conn)?;
    if changed == 0 {
        return Err(DbError::NotFound);
    }
    Ok(())
}

/// Whether the room `id` is admin-only now: read at each act of a member,
/// so `confab room set NAME --admin-only` takes effect at once.
///
/// In the writer's batches it is read once per batch and room, with the
/// rest of the room's rules ([`rules::gate`](super::rules::gate)).
pub fn is_admin_only(conn: &mut DbConnection, id: crate::domain::RoomId) -> Result<bool, DbError> {
    Ok(super::rules::gate(conn, id)?.room.admin_only)
}

/// Who is opening a room by visiting it, and how many rooms an hour they
/// may create that way.
#[derive(Debug, Clone, Copy)]
pub struct Visitor {
    /// The user.
    pub id: UserId,
    /// Rooms they may create per hour; `None`: no limit (staff, or
    /// `CONFAB_ROOMS_PER_HOUR=0`).
    pub rooms_per_hour: Option<u32>,
}

/// Why a visit did not open a room.
#[derive(Debug, thiserror::Error)]
pub enum OpenRoomError {
    /// The visitor has created their quota of rooms within the last hour.
    #[error(
        "you have created {limit} new rooms in the last hour, the most allowed; \
         you can create another in {}, and meanwhile enter any room that exists",
        in_words(*retry_after)
    )]
    QuotaReached {
        /// The quota.
        limit: u32,
        /// When the oldest of those rooms leaves the window.
        retry_after: Duration,
    },
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

// What a transaction's own BEGIN or COMMIT fails with.
impl From<diesel::result::Error> for OpenRoomError {
    fn from(e: diesel::result::Error) -> Self {
        OpenRoomError::Db(e.into())
    }
}

/// A wait as a person says it: "45 seconds", "1 minute", "12 minutes".
fn in_words(wait: Duration) -> String {
    let secs = wait.as_secs().max(1);
    if secs < 60 {
        return format!("{secs} second{}", if secs == 1 { "" } else { "s" });
    }
    let minutes = secs.div_ceil(60);
    format!("{minutes} minute{}", if minutes == 1 { "" } else { "s" })
}

/// Returns the room called `name`, creating an open room made by
/// `visitor` if there is none and their quota allows (the tutorial's
/// `get_or_create`). Safe when two requests race: the loser of the insert
/// reads the winner's row, and a user's own racing visits are counted one
/// after the other (see [`create_within_quota`]).
pub fn get_or_create(
    conn: &mut DbConnection,
    name: &str,
    visitor: Visitor,
) -> Result<Room, OpenRoomError> {
    if let Some(room) = by_name(conn, name)? {
        return Ok(room);
    }
    match create_within_quota(conn, name, visitor) {
        Err(OpenRoomError::Db(DbError::Conflict)) => {
            Ok(by_name(conn, name)?.ok_or(DbError::NotFound)?)
        }
        other => other,
    }
}

/// Creates the room if `visitor` has created fewer than their quota in the
/// last hour. The count and the insert run in one transaction that first
/// writes the visitor's own `users` row (to the value it has): that takes
/// the row's lock on PostgreSQL and the database's write lock on SQLite, so
/// one user's visits racing on any number of instances are counted one
/// after the other, and none slips past the quota.
fn create_within_quota(
    conn: &mut DbConnection,
    name: &str,
    visitor: Visitor,
) -> Result<Room, OpenRoomError> {
    conn.transaction(|conn| {
        diesel::update(users::table.find(visitor.id))
            .set(users::is_staff.eq(users::is_staff))
            .execute(conn)
            .map_err(DbError::from)?;
        if let Some(limit) = visitor.rooms_per_hour {
            let now = super::now();
            let recent: Vec<NaiveDateTime> = rooms::table
                .filter(rooms::created_by.eq(visitor.id))
                .filter(rooms::created_at.gt(now - QUOTA_WINDOW))
                .order(rooms::created_at.asc())
                .select(rooms::created_at)
                .load(conn)
                .map_err(DbError::from)?;
            let limit_len = limit as usize;
            if recent.len() >= limit_len {
                // Room becomes free when enough of them leave the window
                // for the count to drop below the limit.
                let frees_at = recent[recent.len() - limit_len] + QUOTA_WINDOW;
                let retry_after = (frees_at - now).to_std().unwrap_or(Duration::from_secs(1));
                return Err(OpenRoomError::QuotaReached { limit, retry_after });
            }
        }
        Ok(create(conn, name, false, Some(visitor.id))?)
    })
}

/// The direct conversation between `me` and `other` (the same user twice:
/// notes to self), created on its first use, with both participants as
/// members (again, if one has left it). Safe when two requests race, like
/// [`get_or_create`]; not counted by the creation quota.
pub fn direct(conn: &mut DbConnection, me: UserId, other: UserId) -> Result<Room, DbError> {
    let name = RoomName::direct(me, other);
    let (a, b) = if me <= other {
        (me, other)
    } else {
        (other, me)
    };
    let room = match by_name(conn, name.as_str())? {
        Some(room) => room,
        None => {
            let created = diesel::insert_into(rooms::table)
                .values(&NewRoom {
                    name: name.as_str(),
                    admin_only: false,
                    created_at: super::now(),
                    created_by: None,
                    direct_a: Some(a),
                    direct_b: Some(b),
                })
                .returning(rooms::all_columns)
                .get_result(conn)
                .map_err(DbError::from);
            match created {
                Err(DbError::Conflict) => by_name(conn, name.as_str())?.ok_or(DbError::NotFound)?,
                other => other?,
            }
        }
    };
    // A read on every visit; a write only when a participant is missing.
    let present: Vec<UserId> = memberships::table
        .filter(memberships::room_id.eq(room.id))
        .filter(memberships::user_id.eq_any([a, b]))
        .select(memberships::user_id)
        .load(conn)?;
    let missing = if a == b { vec![a] } else { vec![a, b] };
    for user_id in missing.into_iter().filter(|u| !present.contains(u)) {
        // Not in a transaction, so a racing visit's row (a conflict) is
        // simply there already.
        let joined = diesel::insert_into(memberships::table)
            .values(&Membership {
                user_id,
                room_id: room.id,
                last_read_id: MessageId(0),
                joined_at: super::now(),
            })
            .execute(conn)
            .map_err(DbError::from);
        match joined {
            Ok(_) | Err(DbError::Conflict) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(room)
}

/// For each direct conversation among `rooms`, the participant who is not
/// `me` (`me` for notes to self), by name: what `me` calls it (`@<name>`,
/// the page `/chat/@<name>/`). Rooms that are not conversations of `me`
/// are left out. Two queries, whatever the number of rooms.
pub fn partners(
    conn: &mut DbConnection,
    me: UserId,
    rooms_of: &[RoomId],
) -> Result<HashMap<RoomId, String>, DbError> {
    let mut other_of: Vec<(RoomId, UserId)> = Vec::new();
    // Bounded lists: bind parameters are limited per statement.
    for chunk in rooms_of.chunks(10_000) {
        let pairs: Vec<(RoomId, Option<UserId>, Option<UserId>)> = rooms::table
            .filter(rooms::id.eq_any(chunk))
            .filter(rooms::direct_a.is_not_null())
            .select((rooms::id, rooms::direct_a, rooms::direct_b))
            .load(conn)?;
        other_of.extend(pairs.into_iter().filter_map(|(id, a, b)| match (a?, b?) {
            (a, b) if a == me => Some((id, b)),
            (a, b) if b == me => Some((id, a)),
            _ => None,
        }));
    }
    let mut ids: Vec<UserId> = other_of.iter().map(|(_, u)| *u).collect();
    ids.sort();
    ids.dedup();
    let mut names: HashMap<UserId, String> = HashMap::new();
    for chunk in ids.chunks(10_000) {
        let rows: Vec<(UserId, String)> = users::table
            .filter(users::id.eq_any(chunk))
            .select((users::id, users::username))
            .load(conn)?;
        names.extend(rows);
    }
    Ok(other_of
        .into_iter()
        .filter_map(|(room, user)| Some((room, names.get(&user)?.clone())))
        .collect())
}

/// Every room, by name (no direct conversations).
pub fn all(conn: &mut DbConnection) -> Result<Vec<Room>, DbError> {
    Ok(rooms::table
        .filter(rooms::direct_a.is_null())
        .order(rooms::name.asc())
        .select(Room::as_select())
        .load(conn)?)
}

/// What the room selector asks for.
#[derive(Debug, Clone)]
pub struct IndexQuery {
    /// Who reads it (private rooms are listed to their members).
    pub viewer: UserId,
    /// Whether admin-only, archived and every private room may be listed
    /// (the reader is staff).
    pub staff: bool,
    /// Only names containing this, ignoring case.
    pub search: Option<String>,
    /// At most this many rooms.
    pub limit: usize,
    /// Rooms with someone online, and how many: listed first, busiest first.
    pub online: HashMap<String, usize>,
}

/// One room of the selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexEntry {
    /// Its name.
    pub name: String,
    /// Only staff may enter.
    pub admin_only: bool,
    /// Private: members only.
    pub invite_only: bool,
    /// Archived.
    pub archived: bool,
    /// Distinct users online in it.
    pub online: usize,
}

/// The selector's rooms, and whether more match than are listed.
#[derive(Debug, Clone)]
pub struct IndexPage {
    /// By members online, then latest message, then name.
    pub rooms: Vec<IndexEntry>,
    /// Rooms that match but are not listed.
    pub more: bool,
}

/// The rooms to list: the busiest by members online, then by latest
/// message, then by name, visible to the reader and matching the search.
/// Archived rooms, and private rooms the reader is not a member of, are
/// listed to staff only.
///
/// Two queries, whatever the number of rooms: the rooms with someone
/// online (a list bounded by who is connected), and the `limit + 1` with
/// the latest messages. Every room the true order lists among the first
/// `limit` is in one of the two, so ordering their union gives the page.
pub fn index(conn: &mut DbConnection, query: &IndexQuery) -> Result<IndexPage, DbError> {
    let latest = || {
        coalesce(
            messages::table
                .filter(messages::room_id.eq(rooms::id))
                .select(diesel::dsl::max(messages::id))
                .single_value(),
            0_i64,
        )
    };
    let pattern = query.search.as_deref().map(super::contains_pattern);
    let visible = || {
        // Direct conversations are never listed.
        let mut rows = rooms::table
            .filter(rooms::direct_a.is_null())
            .select((
                rooms::name,
                (
                    rooms::admin_only,
                    rooms::invite_only,
                    rooms::archived_at.is_not_null(),
                ),
                latest(),
            ))
            .into_boxed();
        if !query.staff {
            let member = memberships::table
                .filter(memberships::room_id.eq(rooms::id))
                .filter(memberships::user_id.eq(query.viewer));
            rows = rows
                .filter(rooms::admin_only.eq(false))
                .filter(rooms::archived_at.is_null())
                .filter(rooms::invite_only.eq(false).or(diesel::dsl::exists(member)));
        }
        if let Some(pattern) = &pattern {
            rows = rows.filter(super::lower(rooms::name).like(pattern.clone()).escape('\\'));
        }
        rows
    };
    type Flags = (bool, bool, bool);
    let mut found: HashMap<String, (Flags, i64)> = HashMap::new();
    let busy: Vec<&String> = query.online.keys().collect();
    // In chunks, within every backend's limit on bound parameters.
    for names in busy.chunks(1000) {
        let rows: Vec<(String, Flags, i64)> =
            visible().filter(rooms::name.eq_any(names)).load(conn)?;
        found.extend(rows.into_iter().map(|(n, a, l)| (n, (a, l))));
    }
    let recent: Vec<(String, Flags, i64)> = visible()
        .order((latest().desc(), rooms::name.asc()))
        .limit(
            i64::try_from(query.limit)
                .unwrap_or(i64::MAX)
                .saturating_add(1),
        )
        .load(conn)?;
    found.extend(recent.into_iter().map(|(n, a, l)| (n, (a, l))));
    let mut listed: Vec<(IndexEntry, i64)> = found
        .into_iter()
        .map(|(name, ((admin_only, invite_only, archived), latest))| {
            let online = query.online.get(&name).copied().unwrap_or(0);
            (
                IndexEntry {
                    name,
                    admin_only,
                    invite_only,
                    archived,
                    online,
                },
                latest,
            )
        })
        .collect();
    listed.sort_by(|(a, a_latest), (b, b_latest)| {
        b.online
            .cmp(&a.online)
            .then(b_latest.cmp(a_latest))
            .then(a.name.cmp(&b.name))
    });
    let more = listed.len() > query.limit;
    listed.truncate(query.limit);
    Ok(IndexPage {
        rooms: listed.into_iter().map(|(entry, _)| entry).collect(),
        more,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_read_as_a_person_says_them() {
        assert_eq!(in_words(Duration::from_millis(200)), "1 second");
        assert_eq!(in_words(Duration::from_secs(45)), "45 seconds");
        assert_eq!(in_words(Duration::from_secs(60)), "1 minute");
        assert_eq!(in_words(Duration::from_secs(61)), "2 minutes");
        assert_eq!(in_words(Duration::from_secs(3599)), "60 minutes");
    }
}
