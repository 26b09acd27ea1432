//! What the staff console (`/staff/`) lists: rooms, users, a user's
//! messages and sanctions, the report queue with each message in its
//! context, and the counts a deletion would remove.
//!
//! Reads only: every change the console makes goes through
//! [`moderation`](crate::moderation), which writes its own rows and the
//! audit log. Lists come a page at a time (`limit` rows from `offset`,
//! one more asked for to know whether there is a next page), so a page
//! costs the same however many rows exist. Direct conversations are never
//! listed: their content is their two participants' alone.

use super::{contains_pattern, lower};
use crate::db::models::{Report, Room, Sanction, User};
use crate::db::schema::{
    memberships, messages, reactions, reports, room_moderators, rooms, sanctions, sessions, users,
};
use crate::db::{DbConnection, DbError};
use crate::domain::{MessageId, RoomId, UserId};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use std::collections::HashMap;

/// One page of a list, and whether more rows follow it.
#[derive(Debug, Clone)]
pub struct Listing<T> {
    /// The rows, in the list's order.
    pub rows: Vec<T>,
    /// Whether the next page has rows.
    pub more: bool,
}

impl<T> Listing<T> {
    /// The first `limit` of `rows` (which were asked for with one more).
    fn of(mut rows: Vec<T>, limit: i64) -> Self {
        let limit = usize::try_from(limit).unwrap_or(0);
        let more = rows.len() > limit;
        rows.truncate(limit);
        Listing { rows, more }
    }
}

/// Which page: `limit` rows from `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageOf {
    /// Rows before the page.
    pub offset: i64,
    /// Rows on the page.
    pub limit: i64,
}

/// The console's front page: what needs attention, and how big things are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overview {
    /// Reports nobody has handled yet.
    pub open_reports: i64,
    /// Rooms (not direct conversations), archived ones included.
    pub rooms: i64,
    /// Accounts, deactivated ones included.
    pub users: i64,
    /// Messages posted since `since` and not deleted.
    pub messages_today: i64,
}

/// The counts of the front page; "today" starts at `since`.
pub fn overview(conn: &mut DbConnection, since: NaiveDateTime) -> Result<Overview, DbError> {
    Ok(Overview {
        open_reports: open_reports_query().count().get_result(conn)?,
        rooms: rooms::table
            .filter(rooms::direct_a.is_null())
            .count()
            .get_result(conn)?,
        users: users::table.count().get_result(conn)?,
        messages_today: messages::table
            .filter(messages::created_at.ge(since))
            .filter(messages::deleted_at.is_null())
            .count()
            .get_result(conn)?,
    })
}

/// A room as the console lists it.
#[derive(Debug, Clone)]
pub struct RoomLine {
    /// The row.
    pub room: Room,
    /// Who created it, if a user did.
    pub creator: Option<String>,
    /// Its messages, deleted ones not counted.
    pub messages: i64,
}

/// Rooms by name (no direct conversations), those whose name contains
/// `search` (ignoring case) when given.
pub fn rooms(
    conn: &mut DbConnection,
    search: Option<&str>,
    page: PageOf,
) -> Result<Listing<RoomLine>, DbError> {
    let live_messages = messages::table
        .filter(messages::room_id.eq(rooms::id))
        .filter(messages::deleted_at.is_null())
        .count()
        .single_value();
    let mut query = rooms::table
        .left_join(users::table.on(rooms::created_by.eq(users::id.nullable())))
        .filter(rooms::direct_a.is_null())
        .select((Room::as_select(), users::username.nullable(), live_messages))
        .order(rooms::name.asc())
        .offset(page.offset)
        .limit(page.limit + 1)
        .into_boxed();
    if let Some(search) = search {
        query = query.filter(
            lower(rooms::name)
                .like(contains_pattern(search))
                .escape('\\'),
        );
    }
    let rows: Vec<(Room, Option<String>, Option<i64>)> = query.load(conn)?;
    Ok(Listing::of(
        rows.into_iter()
            .map(|(room, creator, messages)| RoomLine {
                room,
                creator,
                messages: messages.unwrap_or(0),
            })
            .collect(),
        page.limit,
    ))
}

/// What deleting a room removes with it, counted as the deletion's
/// outcome counts it ([`delete_room`](super::moderation::delete_room)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RoomContents {
    /// Its messages (deleted ones, kept as markers, not counted).
    pub messages: i64,
    /// Reactions to them.
    pub reactions: i64,
    /// Its members (users who joined it, or were invited).
    pub memberships: i64,
}

/// One moderator of a room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModeratorLine {
    /// Their name.
    pub username: String,
    /// Since when.
    pub appointed_at: NaiveDateTime,
}

/// Everything the console's page of one room shows.
#[derive(Debug, Clone)]
pub struct RoomDetail {
    /// The row.
    pub room: Room,
    /// Who created it (its owner), if a user did.
    pub creator: Option<String>,
    /// Its messages, deleted ones not counted.
    pub live_messages: i64,
    /// What deleting it would remove.
    pub contents: RoomContents,
    /// Its moderators, by name.
    pub moderators: Vec<ModeratorLine>,
    /// Mutes and bans in force in it, newest first.
    pub sanctions: Vec<SanctionLine>,
}

/// The room called `name` with what its console page shows; `None` if
/// there is none, or it is a direct conversation.
pub fn room_detail(
    conn: &mut DbConnection,
    name: &str,
    now: NaiveDateTime,
) -> Result<Option<RoomDetail>, DbError> {
    let Some((room, creator)) = rooms::table
        .left_join(users::table.on(rooms::created_by.eq(users::id.nullable())))
        .filter(rooms::name.eq(name))
        .filter(rooms::direct_a.is_null())
        .select((Room::as_select(), users::username.nullable()))
        .first::<(Room, Option<String>)>(conn)
        .optional()?
    else {
        return Ok(None);
    };
    let live_messages = messages::table
        .filter(messages::room_id.eq(room.id))
        .filter(messages::deleted_at.is_null())
        .count()
        .get_result(conn)?;
    let contents = room_contents(conn, room.id)?;
    let moderators = room_moderators::table
        .inner_join(users::table)
        .filter(room_moderators::room_id.eq(room.id))
        .order(users::username.asc())
        .select((users::username, room_moderators::appointed_at))
        .load::<(String, NaiveDateTime)>(conn)?
        .into_iter()
        .map(|(username, appointed_at)| ModeratorLine {
            username,
            appointed_at,
        })
        .collect();
    let active = sanctions::table
        .filter(sanctions::room_id.eq(room.id))
        .filter(sanctions::lifted_at.is_null())
        .filter(
            sanctions::expires_at
                .is_null()
                .or(sanctions::expires_at.gt(now)),
        )
        .order(sanctions::id.desc())
        .select(Sanction::as_select())
        .load(conn)?;
    let sanctions = sanction_lines(conn, active, now)?;
    Ok(Some(RoomDetail {
        room,
        creator,
        live_messages,
        contents,
        moderators,
        sanctions,
    }))
}

/// What deleting the room `id` would remove.
pub fn room_contents(conn: &mut DbConnection, id: RoomId) -> Result<RoomContents, DbError> {
    Ok(RoomContents {
        messages: messages::table
            .filter(messages::room_id.eq(id))
            .filter(messages::deleted_at.is_null())
            .count()
            .get_result(conn)?,
        reactions: reactions::table
            .inner_join(messages::table)
            .filter(messages::room_id.eq(id))
            .count()
            .get_result(conn)?,
        memberships: memberships::table
            .filter(memberships::room_id.eq(id))
            .count()
            .get_result(conn)?,
    })
}

// The columns a user's line adds to `users`, as correlated subqueries:
// the last use of their sessions, and how many live messages they wrote.
// (Macros, because diesel names no type for `max`'s expression.)
macro_rules! last_seen {
    () => {
        sessions::table
            .filter(sessions::user_id.eq(users::id))
            .select(diesel::dsl::max(sessions::last_seen_at))
            .single_value()
    };
}

macro_rules! live_messages_of {
    () => {
        messages::table
            .filter(messages::user_id.eq(users::id))
            .filter(messages::deleted_at.is_null())
            .count()
            .single_value()
    };
}

/// An account as the console lists it.
#[derive(Debug, Clone)]
pub struct UserLine {
    /// The row.
    pub user: User,
    /// The last use of any of their sessions, as last written; `None`
    /// when they have none (signed out everywhere, or never back).
    pub last_seen: Option<NaiveDateTime>,
    /// Their messages, deleted ones not counted.
    pub messages: i64,
}

/// Accounts, newest first (a spammer who just signed up is on top), those
/// whose name contains `search` (ignoring case) when given.
pub fn users(
    conn: &mut DbConnection,
    search: Option<&str>,
    page: PageOf,
) -> Result<Listing<UserLine>, DbError> {
    let mut query = users::table
        .select((User::as_select(), last_seen!(), live_messages_of!()))
        .order(users::id.desc())
        .offset(page.offset)
        .limit(page.limit + 1)
        .into_boxed();
    if let Some(search) = search {
        query = query.filter(
            lower(users::username)
                .like(contains_pattern(search))
                .escape('\\'),
        );
    }
    let rows: Vec<(User, Option<NaiveDateTime>, Option<i64>)> = query.load(conn)?;
    Ok(Listing::of(
        rows.into_iter()
            .map(|(user, last_seen, messages)| UserLine {
                user,
                last_seen,
                messages: messages.unwrap_or(0),
            })
            .collect(),
        page.limit,
    ))
}

/// A message of the user's page: where, when, what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecentMessage {
    /// Its id.
    pub id: MessageId,
    /// Its room's name.
    pub room: String,
    /// Its text.
    pub content: String,
    /// When it was posted.
    pub created_at: NaiveDateTime,
}

/// Everything the console's page of one account shows.
#[derive(Debug, Clone)]
pub struct UserDetail {
    /// The account, with its last use and message count.
    pub line: UserLine,
    /// Sessions open now.
    pub sessions: i64,
    /// Their latest live messages in rooms (not direct conversations),
    /// newest first.
    pub recent: Vec<RecentMessage>,
    /// Their mutes and bans, in force or not, newest first.
    pub sanctions: Vec<SanctionLine>,
}

/// The account called `name` with what its console page shows, its
/// `recent` latest messages among them; `None` if there is none.
pub fn user_detail(
    conn: &mut DbConnection,
    name: &str,
    recent: i64,
    now: NaiveDateTime,
) -> Result<Option<UserDetail>, DbError> {
    let Some((user, last_seen, messages)) = users::table
        .filter(users::username.eq(name))
        .select((User::as_select(), last_seen!(), live_messages_of!()))
        .first::<(User, Option<NaiveDateTime>, Option<i64>)>(conn)
        .optional()?
    else {
        return Ok(None);
    };
    let sessions = sessions::table
        .filter(sessions::user_id.eq(user.id))
        .count()
        .get_result(conn)?;
    let recent = messages::table
        .inner_join(rooms::table)
        .filter(messages::user_id.eq(user.id))
        .filter(messages::deleted_at.is_null())
        .filter(rooms::direct_a.is_null())
        .order(messages::id.desc())
        .limit(recent)
        .select((
            messages::id,
            rooms::name,
            messages::content,
            messages::created_at,
        ))
        .load::<(MessageId, String, String, NaiveDateTime)>(conn)?
        .into_iter()
        .map(|(id, room, content, created_at)| RecentMessage {
            id,
            room,
            content,
            created_at,
        })
        .collect();
    let rows = sanctions::table
        .filter(sanctions::user_id.eq(user.id))
        .order(sanctions::id.desc())
        .limit(100)
        .select(Sanction::as_select())
        .load(conn)?;
    let sanctions = sanction_lines(conn, rows, now)?;
    Ok(Some(UserDetail {
        line: UserLine {
            user,
            last_seen,
            messages: messages.unwrap_or(0),
        },
        sessions,
        recent,
        sanctions,
    }))
}

/// A mute or a ban with the names it refers to.
#[derive(Debug, Clone)]
pub struct SanctionLine {
    /// The row.
    pub sanction: Sanction,
    /// Its room's name.
    pub room: String,
    /// Who it applies to.
    pub user: String,
    /// Who imposed it; `None`: the command line.
    pub by: Option<String>,
    /// Whether it is in force now.
    pub active: bool,
}

/// `rows` with the names of their rooms and people (two queries).
fn sanction_lines(
    conn: &mut DbConnection,
    rows: Vec<Sanction>,
    now: NaiveDateTime,
) -> Result<Vec<SanctionLine>, DbError> {
    let room_ids: Vec<RoomId> = rows.iter().map(|s| s.room_id).collect();
    let room_names: HashMap<RoomId, String> = rooms::table
        .filter(rooms::id.eq_any(room_ids))
        .select((rooms::id, rooms::name))
        .load(conn)?
        .into_iter()
        .collect();
    let user_ids: Vec<UserId> = rows
        .iter()
        .flat_map(|s| [Some(s.user_id), s.created_by])
        .flatten()
        .collect();
    let user_names = names_of(conn, user_ids)?;
    Ok(rows
        .into_iter()
        .map(|sanction| {
            let active =
                sanction.lifted_at.is_none() && sanction.expires_at.is_none_or(|end| end > now);
            SanctionLine {
                room: room_names
                    .get(&sanction.room_id)
                    .cloned()
                    .unwrap_or_default(),
                user: user_names
                    .get(&sanction.user_id)
                    .cloned()
                    .unwrap_or_default(),
                by: sanction
                    .created_by
                    .and_then(|id| user_names.get(&id).cloned()),
                active,
                sanction,
            }
        })
        .collect())
}

/// The names of the accounts `ids`.
fn names_of(
    conn: &mut DbConnection,
    mut ids: Vec<UserId>,
) -> Result<HashMap<UserId, String>, DbError> {
    ids.sort();
    ids.dedup();
    Ok(users::table
        .filter(users::id.eq_any(ids))
        .select((users::id, users::username))
        .load(conn)?
        .into_iter()
        .collect())
}

/// How many live messages the account `user` posted since `since` in
/// rooms: what a bulk delete of them removes (the very query the bulk
/// delete runs, [`live_messages_since`](super::moderation::live_messages_since)).
/// `None` when there is no such account.
pub fn messages_since(
    conn: &mut DbConnection,
    user: &str,
    since: NaiveDateTime,
) -> Result<Option<usize>, DbError> {
    let Some(id) = users::table
        .filter(users::username.eq(user))
        .select(users::id)
        .first::<UserId>(conn)
        .optional()?
    else {
        return Ok(None);
    };
    Ok(Some(
        super::moderation::live_messages_since(conn, id, since)?.len(),
    ))
}

/// A message as a report shows it, or as its context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextMessage {
    /// Its id.
    pub id: MessageId,
    /// Its author's name.
    pub author: String,
    /// Its text (empty once deleted).
    pub content: String,
    /// When it was posted.
    pub created_at: NaiveDateTime,
    /// Whether it has been deleted.
    pub deleted: bool,
}

/// A report with what the queue shows of it.
#[derive(Debug, Clone)]
pub struct ReportLine {
    /// The row.
    pub report: Report,
    /// Its room's name.
    pub room: String,
    /// Who reported it.
    pub reporter: String,
    /// Who handled it, once someone has (`None` also for the command
    /// line).
    pub resolved_by: Option<String>,
    /// The message reported.
    pub message: ContextMessage,
    /// Up to two messages before it in its room, oldest first.
    pub before: Vec<ContextMessage>,
    /// Up to two messages after it, oldest first.
    pub after: Vec<ContextMessage>,
}

/// Messages on each side of a reported one.
const CONTEXT: i64 = 2;

/// Reports nobody has handled, in rooms (a direct conversation has no
/// moderators, and its content is not shown).
#[diesel::dsl::auto_type]
fn open_reports_query() -> _ {
    reports::table.inner_join(rooms::table).filter(
        reports::resolved_at
            .is_null()
            .and(rooms::direct_a.is_null()),
    )
}

/// The open reports, oldest first, each with its message in context.
pub fn open_reports(conn: &mut DbConnection, page: PageOf) -> Result<Listing<ReportLine>, DbError> {
    let rows: Vec<Report> = open_reports_query()
        .order(reports::id.asc())
        .offset(page.offset)
        .limit(page.limit + 1)
        .select(Report::as_select())
        .load(conn)?;
    let listing = Listing::of(rows, page.limit);
    Ok(Listing {
        rows: report_lines(conn, listing.rows)?,
        more: listing.more,
    })
}

/// The handled reports, the latest handled first.
pub fn resolved_reports(
    conn: &mut DbConnection,
    page: PageOf,
) -> Result<Listing<ReportLine>, DbError> {
    let rows: Vec<Report> = reports::table
        .inner_join(rooms::table)
        .filter(reports::resolved_at.is_not_null())
        .filter(rooms::direct_a.is_null())
        .order((reports::resolved_at.desc(), reports::id.desc()))
        .offset(page.offset)
        .limit(page.limit + 1)
        .select(Report::as_select())
        .load(conn)?;
    let listing = Listing::of(rows, page.limit);
    Ok(Listing {
        rows: report_lines(conn, listing.rows)?,
        more: listing.more,
    })
}

/// `rows` with their names, messages and context: a few queries per
/// report, on one connection.
fn report_lines(conn: &mut DbConnection, rows: Vec<Report>) -> Result<Vec<ReportLine>, DbError> {
    let people: Vec<UserId> = rows
        .iter()
        .flat_map(|r| [Some(r.reporter_id), r.resolved_by])
        .flatten()
        .collect();
    let names = names_of(conn, people)?;
    let mut lines = Vec::with_capacity(rows.len());
    for report in rows {
        let room = rooms::table
            .find(report.room_id)
            .select(rooms::name)
            .first::<String>(conn)?;
        let mut near = |newer: bool| -> Result<Vec<ContextMessage>, DbError> {
            let query = messages::table
                .inner_join(users::table)
                .filter(messages::room_id.eq(report.room_id))
                .select(context_columns())
                .limit(CONTEXT)
                .into_boxed();
            let query = if newer {
                query
                    .filter(messages::id.gt(report.message_id))
                    .order(messages::id.asc())
            } else {
                query
                    .filter(messages::id.lt(report.message_id))
                    .order(messages::id.desc())
            };
            let mut found: Vec<ContextMessage> = query
                .load::<ContextRow>(conn)?
                .into_iter()
                .map(ContextMessage::from)
                .collect();
            found.sort_by_key(|m| m.id);
            Ok(found)
        };
        let before = near(false)?;
        let after = near(true)?;
        let message = messages::table
            .inner_join(users::table)
            .filter(messages::id.eq(report.message_id))
            .select(context_columns())
            .first::<ContextRow>(conn)?
            .into();
        lines.push(ReportLine {
            room,
            reporter: names.get(&report.reporter_id).cloned().unwrap_or_default(),
            resolved_by: report.resolved_by.and_then(|id| names.get(&id).cloned()),
            message,
            before,
            after,
            report,
        });
    }
    Ok(lines)
}

/// A message and its author, as loaded for a report.
type ContextRow = (
    MessageId,
    String,
    String,
    NaiveDateTime,
    Option<NaiveDateTime>,
);

fn context_columns() -> (
    messages::id,
    users::username,
    messages::content,
    messages::created_at,
    messages::deleted_at,
) {
    (
        messages::id,
        users::username,
        messages::content,
        messages::created_at,
        messages::deleted_at,
    )
}

impl From<ContextRow> for ContextMessage {
    fn from((id, author, content, created_at, deleted_at): ContextRow) -> Self {
        ContextMessage {
            id,
            author,
            content,
            created_at,
            deleted: deleted_at.is_some(),
        }
    }
}

/// What the console needs to act on a report: its message, room and
/// author, and whether it is still open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportTarget {
    /// The report.
    pub id: i32,
    /// The message reported.
    pub message_id: MessageId,
    /// Its room's name.
    pub room: String,
    /// Its author's name.
    pub author: String,
    /// Whether someone has handled it already.
    pub resolved: bool,
}

/// The report `id` as the console acts on it; `None` if there is none (or
/// it is about a direct conversation).
pub fn report_target(conn: &mut DbConnection, id: i32) -> Result<Option<ReportTarget>, DbError> {
    let found = reports::table
        .inner_join(rooms::table)
        .inner_join(messages::table.inner_join(users::table))
        .filter(reports::id.eq(id))
        .filter(rooms::direct_a.is_null())
        .select((
            reports::message_id,
            rooms::name,
            users::username,
            reports::resolved_at,
        ))
        .first::<(MessageId, String, String, Option<NaiveDateTime>)>(conn)
        .optional()?;
    Ok(
        found.map(|(message_id, room, author, resolved_at)| ReportTarget {
            id,
            message_id,
            room,
            author,
            resolved: resolved_at.is_some(),
        }),
    )
}
