//! Reports (issue 14): a user flags someone else's message for the room's
//! moderators and staff, with a reason.
//!
//! Filing is here ([`file`]), bounded twice: one report per reporter and
//! message (the table's unique index is the last word), and at most
//! `CONFAB_OPEN_REPORTS_PER_USER` open reports per reporter, so that one
//! person cannot bury the queue. Handling a report is a moderation action
//! (`ResolveReport`), done by [`crate::moderation::apply`]; the reads here
//! are what the room's settings page lists ([`open_in_room`]).

use crate::db::models::{Message, NewReport, Report};
use crate::db::schema::{messages, reports, users};
use crate::db::{DbConnection, DbError};
use crate::domain::{MessageId, RoomId, UserId};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use std::collections::HashMap;

/// Why a report was not filed; nothing was stored.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// This reporter reported this message already.
    #[error("you have already reported this message")]
    AlreadyReported,
    /// The reporter has this many reports waiting already.
    #[error(
        "you have {limit} reports waiting for the moderators already; you can report more once they have handled some"
    )]
    TooMany {
        /// `CONFAB_OPEN_REPORTS_PER_USER`.
        limit: u32,
    },
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Stores `report` if its reporter has not reported that message yet and
/// has fewer than `open_limit` reports waiting.
pub fn file(
    conn: &mut DbConnection,
    report: &NewReport<'_>,
    open_limit: u32,
) -> Result<Report, FileError> {
    let already = diesel::select(diesel::dsl::exists(
        reports::table
            .filter(reports::message_id.eq(report.message_id))
            .filter(reports::reporter_id.eq(report.reporter_id)),
    ))
    .get_result::<bool>(conn)
    .map_err(DbError::from)?;
    if already {
        return Err(FileError::AlreadyReported);
    }
    let open: i64 = reports::table
        .filter(reports::reporter_id.eq(report.reporter_id))
        .filter(reports::resolved_at.is_null())
        .count()
        .get_result(conn)
        .map_err(DbError::from)?;
    if open >= i64::from(open_limit) {
        return Err(FileError::TooMany { limit: open_limit });
    }
    diesel::insert_into(reports::table)
        .values(report)
        .returning(reports::all_columns)
        .get_result(conn)
        .map_err(|e| match DbError::from(e) {
            // Filed twice at once: the unique index decides.
            DbError::Conflict => FileError::AlreadyReported,
            other => FileError::Db(other),
        })
}

/// An open report as the room's settings page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenReport {
    /// The report.
    pub id: i32,
    /// The message reported.
    pub message_id: MessageId,
    /// Its text (empty once deleted).
    pub text: String,
    /// Whether it has been deleted since.
    pub deleted: bool,
    /// Its author.
    pub author: String,
    /// Who reported it.
    pub reporter: String,
    /// Why, in the reporter's words.
    pub reason: String,
    /// When it was reported (UTC).
    pub created_at: NaiveDateTime,
}

/// The open reports of messages in `room`, oldest first, at most `limit`.
pub fn open_in_room(
    conn: &mut DbConnection,
    room: RoomId,
    limit: usize,
) -> Result<Vec<OpenReport>, DbError> {
    let rows: Vec<(Report, MessageId, UserId, String, Option<NaiveDateTime>)> = reports::table
        .inner_join(messages::table)
        .filter(reports::room_id.eq(room))
        .filter(reports::resolved_at.is_null())
        .order(reports::id.asc())
        .limit(i64::try_from(limit).unwrap_or(i64::MAX))
        .select((
            Report::as_select(),
            messages::id,
            messages::user_id,
            messages::content,
            messages::deleted_at,
        ))
        .load(conn)?;
    // Authors and reporters: two roles of `users`, so their names are read
    // in one query of their own rather than a join on an aliased table.
    let mut ids: Vec<UserId> = rows
        .iter()
        .flat_map(|(report, _, author, _, _)| [report.reporter_id, *author])
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let names: HashMap<UserId, String> = users::table
        .filter(users::id.eq_any(&ids))
        .select((users::id, users::username))
        .load::<(UserId, String)>(conn)?
        .into_iter()
        .collect();
    let name = |id: &UserId| names.get(id).cloned().unwrap_or_default();
    Ok(rows
        .into_iter()
        .map(
            |(report, message_id, author, text, deleted_at)| OpenReport {
                id: report.id,
                message_id,
                text,
                deleted: deleted_at.is_some(),
                author: name(&author),
                reporter: name(&report.reporter_id),
                reason: report.reason,
                created_at: report.created_at,
            },
        )
        .collect())
}

/// The report `id` with the message it is about (live or deleted) and
/// that message's author's name.
pub fn with_message(
    conn: &mut DbConnection,
    id: i32,
) -> Result<Option<(Report, Message, String)>, DbError> {
    Ok(reports::table
        .inner_join(messages::table.inner_join(users::table))
        .filter(reports::id.eq(id))
        .select((Report::as_select(), Message::as_select(), users::username))
        .first(conn)
        .optional()?)
}
