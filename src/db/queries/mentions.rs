//! Mentions: which users a message mentions (`@name`), for the `mentions`
//! field of its frames, the mentioned users' notices and their
//! `/mentions/` page.
//!
//! A message mentions a user when its text names them (see
//! [`mentioned_names`](crate::domain::mentioned_names)), the name is an
//! account's (compared as [`Username::folded`]), that account may read the
//! room ([`RoomInfo::admits`], with the room's admin-only flag as it is at
//! the write; in a private room, only its members and staff), and it is
//! not the author's own. The rows are written in the
//! same write as the message (and rewritten by an edit), so a message and
//! its mentions are stored, or not, together.
//!
//! Reading them back checks visibility again: a room made admin-only (or
//! private) since hides its mentions from users who are no longer
//! admitted.

use crate::db::models::Mention;
use crate::db::schema::{memberships, mentions, messages, rooms, users};
use crate::db::{DbConnection, DbError};
use crate::domain::{Identity, MessageId, RoomInfo, UserId, Username, mentioned_names};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use std::collections::HashMap;

/// Names looked up per statement: well within every backend's limit on
/// bound parameters however long a message may be.
const NAMES_PER_QUERY: usize = 1000;

/// A user a message mentions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MentionedUser {
    /// Their id.
    pub id: UserId,
    /// Their name as their account spells it (not as the text did).
    pub username: Username,
}

/// Stores who message `id` (by `author`, in `room`) mentions, from its
/// `text`, and returns them in the order the text first names them.
pub fn record(
    conn: &mut DbConnection,
    id: MessageId,
    room: &RoomInfo,
    author: UserId,
    text: &str,
) -> Result<Vec<MentionedUser>, DbError> {
    let names = mentioned_names(text);
    if names.is_empty() {
        return Ok(Vec::new());
    }
    // Who may read the room now, not when its actor opened.
    let gate = super::rules::gate(conn, room.id)?;
    let room = RoomInfo {
        admin_only: gate.room.admin_only,
        invite_only: gate.room.invite_only,
        ..room.clone()
    };
    let mut accounts: HashMap<String, (UserId, String, bool)> = HashMap::new();
    let folded: Vec<String> = names.iter().map(Username::folded).collect();
    for chunk in folded.chunks(NAMES_PER_QUERY) {
        let rows: Vec<(UserId, String, bool, Option<String>)> = users::table
            .filter(users::username_folded.eq_any(chunk))
            .select((
                users::id,
                users::username,
                users::is_staff,
                users::username_folded,
            ))
            .load(conn)?;
        for (user, name, is_staff, key) in rows {
            if let Some(key) = key {
                accounts.insert(key, (user, name, is_staff));
            }
        }
    }
    // In a private room, only its members (and staff) read it.
    let members: Option<Vec<UserId>> = if room.invite_only && room.direct.is_none() {
        let ids: Vec<UserId> = accounts.values().map(|(id, _, _)| *id).collect();
        Some(
            memberships::table
                .filter(memberships::room_id.eq(room.id))
                .filter(memberships::user_id.eq_any(&ids))
                .select(memberships::user_id)
                .load(conn)?,
        )
    } else {
        None
    };
    let mentioned: Vec<MentionedUser> = folded
        .iter()
        .filter_map(|key| accounts.get(key))
        .filter(|(user, name, is_staff)| {
            *user != author
                && room.admits(&Identity {
                    id: *user,
                    username: Username::from_stored(name.clone()),
                    is_staff: *is_staff,
                })
                && (*is_staff || members.as_ref().is_none_or(|m| m.contains(user)))
        })
        .map(|(user, name, _)| MentionedUser {
            id: *user,
            username: Username::from_stored(name.clone()),
        })
        .collect();
    if !mentioned.is_empty() {
        let rows: Vec<Mention> = mentioned
            .iter()
            .map(|m| Mention {
                message_id: id,
                user_id: m.id,
            })
            .collect();
        // One statement for all of them (each is a round trip of the single
        // writer's on PostgreSQL). diesel's multi-backend connection has no
        // multi-row insert, though both backends do: it is written once
        // and run per backend.
        macro_rules! insert_all {
            ($c:expr) => {
                diesel::insert_into(mentions::table)
                    .values(&rows)
                    .execute($c)
            };
        }
        match conn {
            DbConnection::Sqlite(c) => insert_all!(c),
            #[cfg(feature = "postgres")]
            DbConnection::Pg(c) => insert_all!(c),
        }?;
    }
    Ok(mentioned)
}

/// Rewrites who message `id` mentions after an edit to `text`: the old
/// rows go, the new text's are stored. Returns them as [`record`] does.
pub fn rewrite(
    conn: &mut DbConnection,
    id: MessageId,
    room: &RoomInfo,
    author: UserId,
    text: &str,
) -> Result<Vec<MentionedUser>, DbError> {
    forget(conn, id)?;
    record(conn, id, room, author, text)
}

/// Removes message `id`'s mentions (it was deleted).
pub fn forget(conn: &mut DbConnection, id: MessageId) -> Result<(), DbError> {
    diesel::delete(mentions::table.filter(mentions::message_id.eq(id))).execute(conn)?;
    Ok(())
}

/// Who each of `messages` mentions, for history and catch-up: per message
/// (by id, with its text), the mentioned users' names in the order the
/// text names them. Messages that mention nobody are left out.
pub fn for_messages(
    conn: &mut DbConnection,
    messages: &[(MessageId, &str)],
) -> Result<HashMap<MessageId, Vec<Username>>, DbError> {
    // Most messages mention nobody: only those whose text could are asked about.
    let ids: Vec<MessageId> = messages
        .iter()
        .filter(|(_, text)| text.contains('@'))
        .map(|(id, _)| *id)
        .collect();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(MessageId, String)> = mentions::table
        .inner_join(users::table)
        .filter(mentions::message_id.eq_any(&ids))
        .select((mentions::message_id, users::username))
        .load(conn)?;
    let mut stored: HashMap<MessageId, Vec<Username>> = HashMap::new();
    for (id, name) in rows {
        stored
            .entry(id)
            .or_default()
            .push(Username::from_stored(name));
    }
    let mut out = HashMap::new();
    for (id, text) in messages {
        let Some(names) = stored.remove(id) else {
            continue;
        };
        out.insert(*id, in_text_order(text, names));
    }
    Ok(out)
}

/// `names` in the order `text` first names them (any not named last).
fn in_text_order(text: &str, mut names: Vec<Username>) -> Vec<Username> {
    let order: Vec<String> = mentioned_names(text).iter().map(Username::folded).collect();
    names.sort_by_key(|n| {
        let key = n.folded();
        order.iter().position(|o| *o == key).unwrap_or(usize::MAX)
    });
    names
}

/// One of a user's mentions, as their `/mentions/` page lists it.
#[derive(Debug, Clone)]
pub struct MyMention {
    /// The message.
    pub id: MessageId,
    /// Where it was posted: the room's name, or `@other` for a direct
    /// conversation.
    pub room: String,
    /// The message's author.
    pub user: String,
    /// Its text.
    pub message: String,
    /// When it was posted (UTC).
    pub created_at: NaiveDateTime,
}

/// `me`'s most recent mentions, newest first, at most `limit` of them
/// (older than message `before`, if given), and whether there are more.
/// Deleted messages, and rooms `me` may no longer read (admin-only while
/// they are not staff, private while not a member, a direct conversation
/// not theirs), are left out.
///
/// Walks the `(user_id, message_id)` index from the newest.
pub fn mine(
    conn: &mut DbConnection,
    me: &Identity,
    before: Option<MessageId>,
    limit: i64,
) -> Result<(Vec<MyMention>, bool), DbError> {
    let mut query = mentions::table
        .inner_join(
            messages::table
                .inner_join(users::table)
                .inner_join(rooms::table),
        )
        .filter(mentions::user_id.eq(me.id))
        .filter(messages::deleted_at.is_null())
        .filter(
            rooms::direct_a
                .is_null()
                .or(rooms::direct_a.eq(me.id))
                .or(rooms::direct_b.eq(me.id)),
        )
        .select((
            messages::id,
            messages::content,
            messages::created_at,
            users::username,
            rooms::name,
            rooms::direct_a,
            rooms::direct_b,
        ))
        .order(mentions::message_id.desc())
        .limit(limit + 1)
        .into_boxed();
    if !me.is_staff {
        let member = memberships::table
            .filter(memberships::room_id.eq(rooms::id))
            .filter(memberships::user_id.eq(me.id));
        query = query
            .filter(rooms::admin_only.eq(false))
            .filter(rooms::invite_only.eq(false).or(diesel::dsl::exists(member)));
    }
    if let Some(before) = before {
        query = query.filter(mentions::message_id.lt(before));
    }
    type Row = (
        MessageId,
        String,
        NaiveDateTime,
        String,
        String,
        Option<UserId>,
        Option<UserId>,
    );
    let mut rows: Vec<Row> = query.load(conn)?;
    let more = rows.len() as i64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(0));
    // A direct conversation is shown as `@other` (its stored name is
    // internal); the other participants' names, in one query.
    let others: Vec<UserId> = rows
        .iter()
        .filter_map(|r| other_participant(me.id, r.5, r.6))
        .collect();
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
    let list = rows
        .into_iter()
        .map(|(id, message, created_at, user, room, a, b)| MyMention {
            id,
            room: match other_participant(me.id, a, b).and_then(|o| names.get(&o)) {
                Some(other) => format!("@{other}"),
                None => room,
            },
            user,
            message,
            created_at,
        })
        .collect();
    Ok((list, more))
}

/// The other participant of a direct conversation between `a` and `b`
/// (`me` again for notes to self); `None` for a room.
fn other_participant(me: UserId, a: Option<UserId>, b: Option<UserId>) -> Option<UserId> {
    match (a, b) {
        (Some(a), Some(b)) => Some(if a == me { b } else { a }),
        _ => None,
    }
}

/// Names `@` may complete to in a room, for its composer: the authors of
/// its latest `limit` messages, most recent first, then its members (the
/// `memberships` table), at most `limit` names in all, each once, and only
/// users the room admits now (staff, in an admin-only room; members and
/// staff, in a private one).
pub fn candidates(
    conn: &mut DbConnection,
    room: &RoomInfo,
    limit: i64,
) -> Result<Vec<String>, DbError> {
    let gate = super::rules::gate(conn, room.id)?;
    let (admin_only, invite_only) = (gate.room.admin_only, gate.room.invite_only);
    let recent: Vec<(UserId, MessageId)> = messages::table
        .filter(messages::room_id.eq(room.id))
        .filter(messages::deleted_at.is_null())
        .order(messages::id.desc())
        .limit(limit)
        .select((messages::user_id, messages::id))
        .load(conn)?;
    let mut ids: Vec<UserId> = Vec::new();
    for (user, _) in recent {
        if !ids.contains(&user) {
            ids.push(user);
        }
    }
    let members: Vec<UserId> = memberships::table
        .filter(memberships::room_id.eq(room.id))
        .order(memberships::joined_at.desc())
        .limit(limit)
        .select(memberships::user_id)
        .load(conn)?;
    for user in members {
        if !ids.contains(&user) {
            ids.push(user);
        }
    }
    ids.truncate(usize::try_from(limit).unwrap_or(0));
    let mut query = users::table
        .filter(users::id.eq_any(&ids))
        .select((users::id, users::username))
        .into_boxed();
    if admin_only {
        query = query.filter(users::is_staff.eq(true));
    } else if invite_only && room.direct.is_none() {
        let member = memberships::table
            .filter(memberships::room_id.eq(room.id))
            .filter(memberships::user_id.eq(users::id));
        query = query.filter(users::is_staff.eq(true).or(diesel::dsl::exists(member)));
    }
    let names: HashMap<UserId, String> =
        query.load::<(UserId, String)>(conn)?.into_iter().collect();
    Ok(ids.iter().filter_map(|id| names.get(id).cloned()).collect())
}
