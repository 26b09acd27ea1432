//! The message log.

use crate::db::models::{Message, NewMessage};
use crate::db::schema::{messages, users};
use crate::db::{DbConnection, DbError};
use chrono::NaiveDateTime;
use diesel::prelude::*;

/// A stored message with its author's name, as the protocol shows it.
#[derive(Debug, Clone)]
pub struct MessageWithAuthor {
    /// The row.
    pub message: Message,
    /// The author's username.
    pub author: String,
}

/// Stores a message and returns its row (with the id the database gave it).
pub fn insert(
    conn: &mut DbConnection,
    room_id: i32,
    user_id: i32,
    content: &str,
    created_at: NaiveDateTime,
) -> Result<Message, DbError> {
    diesel::insert_into(messages::table)
        .values(&NewMessage {
            room_id,
            user_id,
            content,
            created_at,
        })
        .returning(messages::all_columns)
        .get_result(conn)
        .map_err(DbError::from)
}

/// The newest `limit` messages of a room, oldest first. Walks the
/// `(room_id, id)` index backwards, so its cost does not grow with the log.
pub fn latest(
    conn: &mut DbConnection,
    room_id: i32,
    limit: i64,
) -> Result<Vec<MessageWithAuthor>, DbError> {
    let mut rows: Vec<(Message, String)> = messages::table
        .inner_join(users::table)
        .filter(messages::room_id.eq(room_id))
        .order(messages::id.desc())
        .limit(limit)
        .select((Message::as_select(), users::username))
        .load(conn)?;
    rows.reverse();
    Ok(rows
        .into_iter()
        .map(|(message, author)| MessageWithAuthor { message, author })
        .collect())
}
