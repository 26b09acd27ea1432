//! The message log: every message a room stores, read back in pages by
//! id for history and for clients that reconnect and catch up, or around
//! one message for a client that jumps to it. Every message read comes
//! with what it quotes when it is a reply (its original's author and text,
//! or that the original was deleted).

use super::mentions;
use super::reactions::{self, ReactionGroup};
use crate::db::models::{Message, NewMessage};
use crate::db::schema::{messages, reactions as reactions_table, users};
use crate::db::{DbConnection, DbError};
use crate::domain::{ClientId, MessageId, RoomId, UserId, Username, Window};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use std::collections::HashMap;

/// A stored message with what the protocol shows beside it: its author's
/// name, its reactions, summed up for the readers it was loaded for, and
/// who it mentions.
#[derive(Debug, Clone)]
pub struct MessageWithAuthor {
    /// The row.
    pub message: Message,
    /// The author's username.
    pub author: String,
    /// Reactions, in order of first use.
    pub reactions: Vec<ReactionGroup>,
    /// What it replies to, if it is a reply.
    pub quoted: Option<Quoted>,
    /// The users it mentions, in the order its text names them.
    pub mentions: Vec<Username>,
}

/// The original a reply quotes, as it is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Quoted {
    /// Still there: its author and its current text.
    Live {
        /// The original.
        id: MessageId,
        /// Its author's username.
        author: String,
        /// Its text now (edited, perhaps).
        content: String,
    },
    /// Deleted since the reply was posted.
    Deleted {
        /// The original.
        id: MessageId,
    },
}

/// What a new post quotes: the live message `id` of room `room_id` and its
/// author; [`DbError::NotFound`] if there is no such message in that room
/// (or it was deleted), so a reply never points into another room.
pub fn quotable(
    conn: &mut DbConnection,
    room_id: RoomId,
    id: MessageId,
) -> Result<Quoted, DbError> {
    let (message, author): (Message, String) = messages::table
        .inner_join(users::table)
        .filter(messages::id.eq(id))
        .filter(messages::room_id.eq(room_id))
        .filter(messages::deleted_at.is_null())
        .select((Message::as_select(), users::username))
        .first(conn)?;
    Ok(Quoted::Live {
        id,
        author,
        content: message.content,
    })
}

/// The originals the replies among `rows` quote, by id, as they are now.
/// An original that is missing, deleted or (which a post never stores) in
/// another room than its reply is `Deleted`.
fn quotes_for(
    conn: &mut DbConnection,
    rows: &[(Message, String)],
) -> Result<HashMap<MessageId, Quoted>, DbError> {
    let wanted: Vec<MessageId> = rows.iter().filter_map(|(m, _)| m.reply_to).collect();
    if wanted.is_empty() {
        return Ok(HashMap::new());
    }
    let found: Vec<(Message, String)> = messages::table
        .inner_join(users::table)
        .filter(messages::id.eq_any(&wanted))
        .select((Message::as_select(), users::username))
        .load(conn)?;
    let found: HashMap<MessageId, (Message, String)> =
        found.into_iter().map(|(m, a)| (m.id, (m, a))).collect();
    Ok(rows
        .iter()
        .filter_map(|(reply, _)| {
            let id = reply.reply_to?;
            let quoted = match found.get(&id) {
                Some((original, author))
                    if original.deleted_at.is_none() && original.room_id == reply.room_id =>
                {
                    Quoted::Live {
                        id,
                        author: author.clone(),
                        content: original.content.clone(),
                    }
                }
                _ => Quoted::Deleted { id },
            };
            Some((id, quoted))
        })
        .collect())
}

/// Stores a message (a reply to `reply_to`, if given, which the caller
/// checked with [`quotable`]) and returns its row (with the id the
/// database gave it).
pub fn insert(
    conn: &mut DbConnection,
    room_id: RoomId,
    user_id: UserId,
    content: &str,
    created_at: NaiveDateTime,
    reply_to: Option<MessageId>,
) -> Result<Message, DbError> {
    insert_row(
        conn,
        &NewMessage {
            room_id,
            user_id,
            content,
            created_at,
            client_id: None,
            reply_to,
        },
    )
}

/// What storing a post with a `client_id` came to.
#[derive(Debug)]
pub enum Stored {
    /// Stored now, as this row.
    New(Message),
    /// The author had stored a post with this `client_id` before: that
    /// row, as it is now (edited, or deleted, since perhaps), and nothing new.
    Repeat(Message),
}

/// Stores a post that its author named `client_id`, unless they already
/// stored one so named (in any room, at any time): then that row is
/// returned instead and nothing is written.
///
/// The unique index on `(user_id, client_id)` decides, so two repeats
/// racing (on two instances, say) store one message: the loser's insert
/// stores nothing (`ON CONFLICT DO NOTHING`) and it reads the winner's row.
pub fn insert_once(
    conn: &mut DbConnection,
    room_id: RoomId,
    user_id: UserId,
    content: &str,
    created_at: NaiveDateTime,
    client_id: &ClientId,
    reply_to: Option<MessageId>,
) -> Result<Stored, DbError> {
    let new = NewMessage {
        room_id,
        user_id,
        content,
        created_at,
        client_id: Some(client_id.as_str()),
        reply_to,
    };
    // One statement in the usual case (a new post): the unique index turns
    // a repeat into no row rather than an error that would abort a
    // PostgreSQL transaction; only then is the stored one looked up. (Each
    // statement is a round trip of the single writer's.) diesel's
    // multi-backend connection has no `ON CONFLICT`, though both backends
    // do: the statement is written once and run per backend.
    macro_rules! insert_unless_repeated {
        ($c:expr) => {
            diesel::insert_into(messages::table)
                .values(&new)
                .on_conflict_do_nothing()
                .returning(messages::all_columns)
                .get_result::<Message>($c)
                .optional()
        };
    }
    let inserted = match conn {
        DbConnection::Sqlite(c) => insert_unless_repeated!(c),
        #[cfg(feature = "postgres")]
        DbConnection::Pg(c) => insert_unless_repeated!(c),
    }?;
    match inserted {
        Some(row) => Ok(Stored::New(row)),
        None => by_client_id(conn, user_id, client_id)?
            .map(Stored::Repeat)
            .ok_or(DbError::Conflict),
    }
}

fn insert_row(conn: &mut DbConnection, new: &NewMessage<'_>) -> Result<Message, DbError> {
    diesel::insert_into(messages::table)
        .values(new)
        .returning(messages::all_columns)
        .get_result(conn)
        .map_err(DbError::from)
}

/// The message `user_id` posted with `client_id`, deleted or not.
pub fn by_client_id(
    conn: &mut DbConnection,
    user_id: UserId,
    client_id: &ClientId,
) -> Result<Option<Message>, DbError> {
    Ok(messages::table
        .filter(messages::user_id.eq(user_id))
        .filter(messages::client_id.eq(client_id.as_str()))
        .select(Message::as_select())
        .first(conn)
        .optional()?)
}

/// Up to `limit` messages of a room in `window`, oldest first, and whether
/// the log goes on past the page (older ones for `Latest`/`Before`, newer
/// ones for `After`). Deleted messages are left out. The reactions say
/// which of `readers` reacted.
///
/// Walks the `(room_id, id)` index from the window's edge, so its cost does
/// not grow with the length of the log.
pub fn page(
    conn: &mut DbConnection,
    room_id: RoomId,
    window: Window,
    limit: i64,
    readers: &[&str],
) -> Result<(Vec<MessageWithAuthor>, bool), DbError> {
    if let Window::Around(id) = window {
        let (rows, has_older, _) = around(conn, room_id, id, limit, readers)?;
        return Ok((rows, has_older));
    }
    let mut query = messages::table
        .inner_join(users::table)
        .filter(messages::room_id.eq(room_id))
        .filter(messages::deleted_at.is_null())
        .select((Message::as_select(), users::username))
        // One row more than asked for tells whether the log goes on.
        .limit(limit + 1)
        .into_boxed();
    query = match window {
        Window::Latest => query.order(messages::id.desc()),
        Window::Before(id) => query.filter(messages::id.lt(id)).order(messages::id.desc()),
        Window::After(id) | Window::Around(id) => {
            query.filter(messages::id.gt(id)).order(messages::id.asc())
        }
    };
    let mut rows: Vec<(Message, String)> = query.load(conn)?;
    let has_more = rows.len() as i64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(0));
    if window_is_backwards(window) {
        rows.reverse();
    }
    Ok((with_reactions(conn, rows, readers)?, has_more))
}

/// Up to `limit` messages of a room around `id`, oldest first: `id` itself
/// (if it is live) and the older ones before it, about half of the page,
/// then the newer ones; and whether the log goes on past the page, older
/// and newer. Deleted messages are left out. Two walks of the
/// `(room_id, id)` index, one each way from `id`.
pub fn around(
    conn: &mut DbConnection,
    room_id: RoomId,
    id: MessageId,
    limit: i64,
    readers: &[&str],
) -> Result<(Vec<MessageWithAuthor>, bool, bool), DbError> {
    let newer_limit = limit / 2;
    let older_limit = limit - newer_limit;
    let side = |conn: &mut DbConnection, older: bool, limit: i64| {
        let query = messages::table
            .inner_join(users::table)
            .filter(messages::room_id.eq(room_id))
            .filter(messages::deleted_at.is_null())
            .select((Message::as_select(), users::username))
            .limit(limit + 1)
            .into_boxed();
        let query = if older {
            query.filter(messages::id.le(id)).order(messages::id.desc())
        } else {
            query.filter(messages::id.gt(id)).order(messages::id.asc())
        };
        let mut rows: Vec<(Message, String)> = query.load(conn)?;
        let more = rows.len() as i64 > limit;
        rows.truncate(usize::try_from(limit).unwrap_or(0));
        Ok::<_, DbError>((rows, more))
    };
    let (mut rows, has_older) = side(conn, true, older_limit)?;
    rows.reverse();
    let (newer, has_newer) = if newer_limit > 0 {
        side(conn, false, newer_limit)?
    } else {
        (Vec::new(), messages_after(conn, room_id, id)?)
    };
    rows.extend(newer);
    Ok((with_reactions(conn, rows, readers)?, has_older, has_newer))
}

/// Whether room `room_id` has a live message after `id`.
fn messages_after(
    conn: &mut DbConnection,
    room_id: RoomId,
    id: MessageId,
) -> Result<bool, DbError> {
    Ok(!ids_after(conn, room_id, id, 1)?.is_empty())
}

/// Rows and their authors, with each message's reactions, its mentions
/// and, for a reply, what it quotes beside it.
fn with_reactions(
    conn: &mut DbConnection,
    rows: Vec<(Message, String)>,
    readers: &[&str],
) -> Result<Vec<MessageWithAuthor>, DbError> {
    let ids: Vec<MessageId> = rows.iter().map(|(m, _)| m.id).collect();
    let mut groups = reactions::for_messages(conn, &ids, readers)?;
    let quotes = quotes_for(conn, &rows)?;
    let texts: Vec<(MessageId, &str)> = rows
        .iter()
        .map(|(m, _)| (m.id, m.content.as_str()))
        .collect();
    let mut mentioned = mentions::for_messages(conn, &texts)?;
    Ok(rows
        .into_iter()
        .map(|(message, author)| MessageWithAuthor {
            reactions: groups.remove(&message.id).unwrap_or_default(),
            quoted: message.reply_to.and_then(|id| quotes.get(&id).cloned()),
            mentions: mentioned.remove(&message.id).unwrap_or_default(),
            message,
            author,
        })
        .collect())
}

/// The ids of a room's live messages after `after`, ascending, at most
/// `limit`: a cheap way to compare a room with what it delivered (it walks
/// the `(room_id, id)` index and loads no text).
pub fn ids_after(
    conn: &mut DbConnection,
    room_id: RoomId,
    after: MessageId,
    limit: i64,
) -> Result<Vec<MessageId>, DbError> {
    Ok(messages::table
        .filter(messages::room_id.eq(room_id))
        .filter(messages::id.gt(after))
        .filter(messages::deleted_at.is_null())
        .order(messages::id.asc())
        .select(messages::id)
        .limit(limit)
        .load(conn)?)
}

/// The live messages `ids` of a room, oldest first, their reactions
/// showing which of `readers` reacted. Callers pass at most
/// a room's catch-up limit (10,000) of ids: within every backend's limit
/// on bound parameters (SQLite's is 32,766), here and for the reactions.
pub fn with_ids(
    conn: &mut DbConnection,
    room_id: RoomId,
    ids: &[MessageId],
    readers: &[&str],
) -> Result<Vec<MessageWithAuthor>, DbError> {
    let rows: Vec<(Message, String)> = messages::table
        .inner_join(users::table)
        .filter(messages::room_id.eq(room_id))
        .filter(messages::id.eq_any(ids))
        .filter(messages::deleted_at.is_null())
        .order(messages::id.asc())
        .select((Message::as_select(), users::username))
        .load(conn)?;
    with_reactions(conn, rows, readers)
}

/// Most stored messages [`resume_floor`] looks back over.
const RESUME_LOOKBACK_ROWS: i64 = 200;

/// Where a reconnecting client's catch-up starts: just after `after`, moved
/// back over the messages stored less than `overlap` before it.
///
/// Ids follow the order messages were stored; with several instances,
/// delivery follows the order Redis received them, and the two can differ
/// by a few milliseconds. A message stored on one instance just before
/// `after` was stored on another may reach a client after `after`; if the
/// client dropped in between, "everything after `after`" would miss it.
/// Starting a little earlier costs a few messages the client already has
/// (it skips them by id) and loses none.
pub fn resume_floor(
    conn: &mut DbConnection,
    room_id: RoomId,
    after: MessageId,
    overlap: chrono::Duration,
) -> Result<MessageId, DbError> {
    let recent: Vec<(MessageId, NaiveDateTime)> = messages::table
        .filter(messages::room_id.eq(room_id))
        .filter(messages::id.le(after))
        .order(messages::id.desc())
        .limit(RESUME_LOOKBACK_ROWS)
        .select((messages::id, messages::created_at))
        .load(conn)?;
    let Some(newest) = recent.iter().map(|(_, at)| *at).max() else {
        return Ok(after);
    };
    let since = newest - overlap;
    let mut floor = after;
    for (id, at) in recent {
        if at < since {
            break;
        }
        floor = id.previous();
    }
    Ok(floor)
}

fn window_is_backwards(window: Window) -> bool {
    !matches!(window, Window::After(_))
}

/// The message `id` if it is in room `room_id` and not deleted;
/// [`DbError::NotFound`] otherwise.
pub fn find_live(
    conn: &mut DbConnection,
    room_id: RoomId,
    id: MessageId,
) -> Result<Message, DbError> {
    messages::table
        .filter(messages::id.eq(id))
        .filter(messages::room_id.eq(room_id))
        .filter(messages::deleted_at.is_null())
        .select(Message::as_select())
        .first(conn)
        .map_err(DbError::from)
}

/// Replaces a message's text and marks it edited at `at`, if it is still
/// live; [`DbError::NotFound`] if it was deleted meanwhile (by another
/// instance, say), so an edit never writes into a deleted message.
pub fn edit(
    conn: &mut DbConnection,
    id: MessageId,
    content: &str,
    at: NaiveDateTime,
) -> Result<(), DbError> {
    let changed = diesel::update(
        messages::table
            .filter(messages::id.eq(id))
            .filter(messages::deleted_at.is_null()),
    )
    .set((messages::content.eq(content), messages::edited_at.eq(at)))
    .execute(conn)?;
    if changed == 0 {
        return Err(DbError::NotFound);
    }
    Ok(())
}

/// Deletes a message for everyone: its text, reactions and mentions are erased; the
/// row stays as a marker so that its id is never reused.
/// [`DbError::NotFound`] if it was deleted already.
pub fn delete(conn: &mut DbConnection, id: MessageId, at: NaiveDateTime) -> Result<(), DbError> {
    conn.transaction(|conn| {
        let changed = diesel::update(
            messages::table
                .filter(messages::id.eq(id))
                .filter(messages::deleted_at.is_null()),
        )
        .set((messages::content.eq(""), messages::deleted_at.eq(at)))
        .execute(conn)?;
        if changed == 0 {
            return Err(DbError::NotFound);
        }
        diesel::delete(reactions_table::table.filter(reactions_table::message_id.eq(id)))
            .execute(conn)?;
        mentions::forget(conn, id)
    })
}
