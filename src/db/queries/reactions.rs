//! Reactions: one row per user, message and emoji.

use crate::db::models::NewReaction;
use crate::db::schema::{messages, reactions, users};
use crate::db::{DbConnection, DbError};
use crate::domain::{MessageId, UserId};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use std::collections::HashMap;

/// Everyone who reacted to one message with one emoji.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReactionGroup {
    /// The emoji.
    pub emoji: String,
    /// Usernames, in the order they reacted.
    pub users: Vec<String>,
}

/// The reactions on each of `message_ids` that has any, each message's
/// groups in order of the emoji's first use.
pub fn for_messages(
    conn: &mut DbConnection,
    message_ids: &[MessageId],
) -> Result<HashMap<MessageId, Vec<ReactionGroup>>, DbError> {
    if message_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(MessageId, String, String)> = reactions::table
        .inner_join(users::table)
        .filter(reactions::message_id.eq_any(message_ids))
        .order(reactions::id.asc())
        .select((reactions::message_id, reactions::emoji, users::username))
        .load(conn)?;
    let mut out: HashMap<MessageId, Vec<ReactionGroup>> = HashMap::new();
    for (message_id, emoji, user) in rows {
        let groups = out.entry(message_id).or_default();
        match groups.iter_mut().find(|g| g.emoji == emoji) {
            Some(group) => group.users.push(user),
            None => groups.push(ReactionGroup {
                emoji,
                users: vec![user],
            }),
        }
    }
    Ok(out)
}

/// Adds `user_id`'s `emoji` to a message, or takes it away if it was there,
/// and returns the message's reactions afterwards; [`DbError::NotFound`]
/// if the message is not live (deleted meanwhile, by another instance say).
pub fn toggle(
    conn: &mut DbConnection,
    message_id: MessageId,
    user_id: UserId,
    emoji: &str,
    at: NaiveDateTime,
) -> Result<Vec<ReactionGroup>, DbError> {
    conn.transaction(|conn| {
        // A write first, so that SQLite takes its write lock before this
        // transaction reads anything (a read first could find its snapshot
        // stale at the insert and fail with SQLITE_BUSY).
        let removed = diesel::delete(
            reactions::table
                .filter(reactions::message_id.eq(message_id))
                .filter(reactions::user_id.eq(user_id))
                .filter(reactions::emoji.eq(emoji)),
        )
        .execute(conn)?;
        if removed == 0 {
            // Checked inside the transaction: on SQLite (one writer at a
            // time) a delete cannot slip in before the insert. On
            // PostgreSQL one committing on another instance at the same
            // moment could; the reaction then sits on a deleted message,
            // which nothing ever shows.
            let live: i64 = messages::table
                .filter(messages::id.eq(message_id))
                .filter(messages::deleted_at.is_null())
                .count()
                .get_result(conn)?;
            if live == 0 {
                return Err(DbError::NotFound);
            }
            diesel::insert_into(reactions::table)
                .values(&NewReaction {
                    message_id,
                    user_id,
                    emoji,
                    created_at: at,
                })
                .execute(conn)?;
        }
        let mut groups = for_messages(conn, &[message_id])?;
        Ok(groups.remove(&message_id).unwrap_or_default())
    })
}
