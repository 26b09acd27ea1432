//! Reactions: one row per user, message and emoji.
//!
//! Readers never get a message's whole reaction set in one piece: per emoji
//! they get how many reacted, whether they did, and the first few names
//! ([`ReactionGroup`]); the full list of one emoji's users is asked for
//! apart ([`reactors`]). A toggle reports only what changed ([`Toggled`]),
//! and a message holds at most a configured number of distinct emoji.

use crate::db::models::NewReaction;
use crate::db::schema::{messages, reactions, users};
use crate::db::{DbConnection, DbError};
use crate::domain::{MessageId, UserId};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use std::collections::{HashMap, HashSet};

/// Names a reaction summary carries per emoji; the rest are fetched on
/// demand with [`reactors`].
pub const NAMES_SHOWN: usize = 3;

/// One emoji's reactions on one message, as a reader sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReactionGroup {
    /// The emoji.
    pub emoji: String,
    /// How many users reacted with it.
    pub count: usize,
    /// The first [`NAMES_SHOWN`] of them, in the order they reacted.
    pub first: Vec<String>,
    /// Those of the readers asked about who reacted with it.
    pub readers: Vec<String>,
}

/// The reactions on each of `message_ids` that has any, each message's
/// groups in order of the emoji's first use, with which of `readers`
/// reacted.
///
/// Reads every reaction row of those messages (at most the cap of distinct
/// emoji times the users who reacted) but hands on only the summary.
pub fn for_messages(
    conn: &mut DbConnection,
    message_ids: &[MessageId],
    readers: &[&str],
) -> Result<HashMap<MessageId, Vec<ReactionGroup>>, DbError> {
    if message_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let readers: HashSet<&str> = readers.iter().copied().collect();
    let rows: Vec<(MessageId, String, String)> = reactions::table
        .inner_join(users::table)
        .filter(reactions::message_id.eq_any(message_ids))
        .order(reactions::id.asc())
        .select((reactions::message_id, reactions::emoji, users::username))
        .load(conn)?;
    let mut out: HashMap<MessageId, Vec<ReactionGroup>> = HashMap::new();
    for (message_id, emoji, user) in rows {
        let groups = out.entry(message_id).or_default();
        let at = match groups.iter().position(|g| g.emoji == emoji) {
            Some(at) => at,
            None => {
                groups.push(ReactionGroup {
                    emoji,
                    count: 0,
                    first: Vec::new(),
                    readers: Vec::new(),
                });
                groups.len() - 1
            }
        };
        let group = &mut groups[at];
        group.count += 1;
        if readers.contains(user.as_str()) {
            group.readers.push(user.clone());
        }
        if group.first.len() < NAMES_SHOWN {
            group.first.push(user);
        }
    }
    Ok(out)
}

/// Everyone who reacted to `message_id` with `emoji`, in the order they
/// reacted.
pub fn reactors(
    conn: &mut DbConnection,
    message_id: MessageId,
    emoji: &str,
) -> Result<Vec<String>, DbError> {
    Ok(reactions::table
        .inner_join(users::table)
        .filter(reactions::message_id.eq(message_id))
        .filter(reactions::emoji.eq(emoji))
        .order(reactions::id.asc())
        .select(users::username)
        .load(conn)?)
}

/// What a toggle did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Toggled {
    /// The reaction was added (`true`) or taken away (`false`); `count`
    /// users now react with that emoji.
    Done {
        /// Whether it was added.
        added: bool,
        /// Users reacting with the emoji afterwards.
        count: usize,
    },
    /// Not added: the message already has the most distinct emoji allowed
    /// and this is not one of them. Nothing was stored.
    Full,
}

/// Adds `user_id`'s `emoji` to a message, or takes it away if it was there;
/// [`DbError::NotFound`] if the message is not live (deleted meanwhile, by
/// another instance say). A new emoji on a message that already has
/// `max_distinct` distinct ones is refused with [`Toggled::Full`].
///
/// The cap holds exactly, whatever instances race: the transaction starts
/// by writing the message's row (a no-op update), which takes SQLite's
/// write lock and, on PostgreSQL, a lock on that row, so toggles of one
/// message run one after the other on every backend and each counts the
/// emoji with the previous one committed. The same lock orders a toggle
/// with a deletion of the message: no reaction lands on a deleted message.
pub fn toggle(
    conn: &mut DbConnection,
    message_id: MessageId,
    user_id: UserId,
    emoji: &str,
    at: NaiveDateTime,
    max_distinct: usize,
) -> Result<Toggled, DbError> {
    conn.transaction(|conn| {
        let live = diesel::update(
            messages::table
                .filter(messages::id.eq(message_id))
                .filter(messages::deleted_at.is_null()),
        )
        .set(messages::deleted_at.eq(None::<NaiveDateTime>))
        .execute(conn)?;
        if live == 0 {
            return Err(DbError::NotFound);
        }
        let on_message = reactions::table.filter(reactions::message_id.eq(message_id));
        let removed = diesel::delete(
            on_message
                .filter(reactions::user_id.eq(user_id))
                .filter(reactions::emoji.eq(emoji)),
        )
        .execute(conn)?;
        let same_emoji = || on_message.filter(reactions::emoji.eq(emoji)).count();
        if removed > 0 {
            let count: i64 = same_emoji().get_result(conn)?;
            return Ok(Toggled::Done {
                added: false,
                count: usize::try_from(count).unwrap_or(0),
            });
        }
        let others: i64 = same_emoji().get_result(conn)?;
        if others == 0 {
            // At most `max_distinct` rows: the cap holds.
            let distinct: Vec<String> =
                on_message.select(reactions::emoji).distinct().load(conn)?;
            if distinct.len() >= max_distinct {
                return Ok(Toggled::Full);
            }
        }
        diesel::insert_into(reactions::table)
            .values(&NewReaction {
                message_id,
                user_id,
                emoji,
                created_at: at,
            })
            .execute(conn)?;
        Ok(Toggled::Done {
            added: true,
            count: usize::try_from(others + 1).unwrap_or(usize::MAX),
        })
    })
}
