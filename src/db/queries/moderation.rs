//! Moderation's rows (issue 14): who moderates a room, who is muted or
//! banned in it, and the state moderation gives rooms and accounts.
//!
//! The reads here are the ones every part of the server shares: a user's
//! standing in a room ([`role_in`]) and whether a sanction is in force
//! ([`active_sanction`]). Both are read where they are enforced, so a
//! change takes effect whoever made it.
//!
//! The writes are [`crate::moderation::apply`]'s, which runs them inside
//! its transaction after checking who may: nothing else calls them. The
//! audit log is read here too ([`audit_page`]), for the console and
//! `confab audit`.

use super::{contains_pattern, like_escaped, lower};
use crate::db::models::{
    AuditEntry, Message, NewAuditEntry, NewSanction, Report, Room, RoomAlias, RoomModerator,
    Sanction,
};
use crate::db::schema::{
    audit_log, memberships, mentions, messages, reactions, reports, room_aliases, room_moderators,
    rooms, sanctions, users,
};
use crate::db::{DbConnection, DbError};
use crate::domain::{Identity, MessageId, RoomId, UserId};
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

/// Whether a sanction is in force at `now`: not lifted, and without an
/// end or ending later.
#[diesel::dsl::auto_type]
pub fn in_force(now: NaiveDateTime) -> _ {
    sanctions::lifted_at.is_null().and(
        sanctions::expires_at
            .is_null()
            .or(sanctions::expires_at.gt(now)),
    )
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
        .filter(in_force(now))
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
        .filter(in_force(now))
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

// ---------------------------------------------------------------------
// The writes of moderation (`crate::moderation::apply` calls them, inside
// its transaction) and the reads the pages and the console share.
// ---------------------------------------------------------------------

/// The room called `name` now, or the one that was called so before a
/// rename (`room_aliases`): for pages, which redirect an old name to the
/// new one (compare the row's `name` with the one asked for).
pub fn room_by_name_or_alias(conn: &mut DbConnection, name: &str) -> Result<Option<Room>, DbError> {
    if let Some(room) = super::rooms::by_name(conn, name)? {
        return Ok(Some(room));
    }
    Ok(room_aliases::table
        .inner_join(rooms::table)
        .filter(room_aliases::name.eq(name))
        .select(Room::as_select())
        .first(conn)
        .optional()?)
}

/// Creates a room with the given access; [`DbError::Conflict`] when the
/// name is taken. An old name (alias) equal to it stops redirecting: the
/// new room has it now.
pub fn create_room(
    conn: &mut DbConnection,
    name: &str,
    admin_only: bool,
    invite_only: bool,
    created_by: Option<UserId>,
) -> Result<Room, DbError> {
    let room = super::rooms::create(conn, name, admin_only, created_by)?;
    diesel::delete(room_aliases::table.filter(room_aliases::name.eq(name))).execute(conn)?;
    if invite_only {
        set_access(conn, room.id, admin_only, true)?;
    }
    Ok(Room {
        invite_only,
        ..room
    })
}

/// Renames room `id` from `from` to `to`: `from` becomes an alias of it
/// (links to it redirect), and an alias called `to` is dropped (the name
/// is the room's own now). [`DbError::Conflict`] when a room is called
/// `to` already.
pub fn rename_room(
    conn: &mut DbConnection,
    id: RoomId,
    from: &str,
    to: &str,
) -> Result<(), DbError> {
    diesel::update(rooms::table.find(id))
        .set(rooms::name.eq(to))
        .execute(conn)?;
    diesel::delete(room_aliases::table.filter(room_aliases::name.eq_any([from, to])))
        .execute(conn)?;
    diesel::insert_into(room_aliases::table)
        .values(&RoomAlias {
            name: from.to_owned(),
            room_id: id,
            created_at: super::now(),
        })
        .execute(conn)?;
    Ok(())
}

/// Sets who may enter room `id`: staff only, its members only, or both
/// flags off (everyone signed in).
pub fn set_access(
    conn: &mut DbConnection,
    id: RoomId,
    admin_only: bool,
    invite_only: bool,
) -> Result<(), DbError> {
    diesel::update(rooms::table.find(id))
        .set((
            rooms::admin_only.eq(admin_only),
            rooms::invite_only.eq(invite_only),
        ))
        .execute(conn)?;
    Ok(())
}

/// Makes room `id` read-only (for all but moderators and staff) or
/// writable.
pub fn set_locked(conn: &mut DbConnection, id: RoomId, locked: bool) -> Result<(), DbError> {
    diesel::update(rooms::table.find(id))
        .set(rooms::locked.eq(locked))
        .execute(conn)?;
    Ok(())
}

/// Sets room `id`'s slow mode: seconds between one user's posts (0: off).
pub fn set_slow_mode(conn: &mut DbConnection, id: RoomId, secs: i32) -> Result<(), DbError> {
    diesel::update(rooms::table.find(id))
        .set(rooms::slow_mode_secs.eq(secs))
        .execute(conn)?;
    Ok(())
}

/// Archives room `id` at `at`, or brings it back (`None`).
pub fn set_archived(
    conn: &mut DbConnection,
    id: RoomId,
    at: Option<NaiveDateTime>,
) -> Result<(), DbError> {
    diesel::update(rooms::table.find(id))
        .set(rooms::archived_at.eq(at))
        .execute(conn)?;
    Ok(())
}

/// What deleting a room removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RoomDeletion {
    /// Its live messages (deleted ones were markers already).
    pub messages: usize,
    /// Reactions on its messages.
    pub reactions: usize,
    /// Its members ("my rooms" entries).
    pub members: usize,
}

/// Deletes room `id` and every row that refers to it or to its messages:
/// reactions, mentions, reports, sanctions, moderators, aliases,
/// memberships and messages (SQLite's search index follows by trigger,
/// PostgreSQL's is a column of the rows). Its name is free afterwards.
pub fn delete_room(conn: &mut DbConnection, id: RoomId) -> Result<RoomDeletion, DbError> {
    let its_messages = || {
        messages::table
            .filter(messages::room_id.eq(id))
            .select(messages::id)
    };
    let live: i64 = messages::table
        .filter(messages::room_id.eq(id))
        .filter(messages::deleted_at.is_null())
        .count()
        .get_result(conn)?;
    let reactions =
        diesel::delete(reactions::table.filter(reactions::message_id.eq_any(its_messages())))
            .execute(conn)?;
    diesel::delete(mentions::table.filter(mentions::message_id.eq_any(its_messages())))
        .execute(conn)?;
    diesel::delete(
        reports::table.filter(
            reports::room_id
                .eq(id)
                .or(reports::message_id.eq_any(its_messages())),
        ),
    )
    .execute(conn)?;
    diesel::delete(sanctions::table.filter(sanctions::room_id.eq(id))).execute(conn)?;
    diesel::delete(room_moderators::table.filter(room_moderators::room_id.eq(id))).execute(conn)?;
    diesel::delete(room_aliases::table.filter(room_aliases::room_id.eq(id))).execute(conn)?;
    let members =
        diesel::delete(memberships::table.filter(memberships::room_id.eq(id))).execute(conn)?;
    diesel::delete(messages::table.filter(messages::room_id.eq(id))).execute(conn)?;
    diesel::delete(rooms::table.find(id)).execute(conn)?;
    Ok(RoomDeletion {
        messages: usize::try_from(live).unwrap_or(0),
        reactions,
        members,
    })
}

/// Appoints `user` to moderate `room`; false if they did already.
pub fn add_moderator(conn: &mut DbConnection, room: RoomId, user: UserId) -> Result<bool, DbError> {
    if is_moderator(conn, room, user)? {
        return Ok(false);
    }
    diesel::insert_into(room_moderators::table)
        .values(&RoomModerator {
            room_id: room,
            user_id: user,
            appointed_at: super::now(),
        })
        .execute(conn)?;
    Ok(true)
}

/// Removes `user` from `room`'s moderators; false if they were not one.
pub fn remove_moderator(
    conn: &mut DbConnection,
    room: RoomId,
    user: UserId,
) -> Result<bool, DbError> {
    let gone = diesel::delete(
        room_moderators::table
            .filter(room_moderators::room_id.eq(room))
            .filter(room_moderators::user_id.eq(user)),
    )
    .execute(conn)?;
    Ok(gone > 0)
}

/// The user ids appointed to moderate `room`.
pub fn moderators_of(conn: &mut DbConnection, room: RoomId) -> Result<Vec<UserId>, DbError> {
    Ok(room_moderators::table
        .filter(room_moderators::room_id.eq(room))
        .select(room_moderators::user_id)
        .load(conn)?)
}

/// Imposes a sanction: lifts any `kind` sanction of the same user in the
/// same room still in force (the new one replaces it), then stores `new`.
pub fn impose(conn: &mut DbConnection, new: &NewSanction<'_>) -> Result<Sanction, DbError> {
    let kind = match new.kind {
        "ban" => SanctionKind::Ban,
        _ => SanctionKind::Mute,
    };
    lift(conn, new.room_id, new.user_id, kind, new.created_at)?;
    diesel::insert_into(sanctions::table)
        .values(new)
        .returning(sanctions::all_columns)
        .get_result(conn)
        .map_err(DbError::from)
}

/// Lifts at `now` every `kind` sanction of `user` in `room` in force at
/// `now`; returns how many there were.
pub fn lift(
    conn: &mut DbConnection,
    room: RoomId,
    user: UserId,
    kind: SanctionKind,
    now: NaiveDateTime,
) -> Result<usize, DbError> {
    Ok(diesel::update(
        sanctions::table
            .filter(sanctions::room_id.eq(room))
            .filter(sanctions::user_id.eq(user))
            .filter(sanctions::kind.eq(kind.as_str()))
            .filter(in_force(now)),
    )
    .set(sanctions::lifted_at.eq(now))
    .execute(conn)?)
}

/// The report `id`, if there is one.
pub fn report(conn: &mut DbConnection, id: i32) -> Result<Option<Report>, DbError> {
    Ok(reports::table
        .find(id)
        .select(Report::as_select())
        .first(conn)
        .optional()?)
}

/// Closes every open report of `message` (one per reporter) as handled by
/// `by` (`None`: the command line) with `resolution`; returns how many.
pub fn resolve_reports_of(
    conn: &mut DbConnection,
    message: MessageId,
    by: Option<UserId>,
    resolution: &str,
    at: NaiveDateTime,
) -> Result<usize, DbError> {
    Ok(diesel::update(
        reports::table
            .filter(reports::message_id.eq(message))
            .filter(reports::resolved_at.is_null()),
    )
    .set((
        reports::resolved_at.eq(at),
        reports::resolved_by.eq(by),
        reports::resolution.eq(resolution),
    ))
    .execute(conn)?)
}

/// The live messages `user` posted since `since` in rooms (not in direct
/// conversations, which moderation does not reach), oldest first, with
/// their room's name: what a bulk delete removes.
pub fn live_messages_since(
    conn: &mut DbConnection,
    user: UserId,
    since: NaiveDateTime,
) -> Result<Vec<(MessageId, String)>, DbError> {
    Ok(messages::table
        .inner_join(rooms::table)
        .filter(messages::user_id.eq(user))
        .filter(messages::deleted_at.is_null())
        .filter(messages::created_at.gt(since))
        .filter(rooms::direct_a.is_null())
        .order(messages::id.asc())
        .select((messages::id, rooms::name))
        .load(conn)?)
}

/// Appends one entry to the audit log.
pub fn insert_audit(conn: &mut DbConnection, entry: &NewAuditEntry<'_>) -> Result<(), DbError> {
    diesel::insert_into(audit_log::table)
        .values(entry)
        .execute(conn)?;
    Ok(())
}

/// Which audit log entries to list; every field left `None` lets all
/// through.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Done by this actor (a username, or `cli`), exactly.
    pub actor: Option<String>,
    /// This action (`user.mute`), or every action of a kind when it ends
    /// with a dot (`user.`).
    pub action: Option<String>,
    /// Text in the target or the room's name, ignoring case.
    pub target: Option<String>,
    /// At or after this time (UTC).
    pub since: Option<NaiveDateTime>,
}

/// Up to `limit` audit log entries that `filter` lets through, newest
/// first, older than the entry `before` when given (the next page).
pub fn audit_page(
    conn: &mut DbConnection,
    filter: &AuditFilter,
    before: Option<i32>,
    limit: i64,
) -> Result<Vec<AuditEntry>, DbError> {
    let mut query = audit_log::table
        .order(audit_log::id.desc())
        .limit(limit)
        .select(AuditEntry::as_select())
        .into_boxed();
    if let Some(before) = before {
        query = query.filter(audit_log::id.lt(before));
    }
    if let Some(actor) = &filter.actor {
        query = query.filter(audit_log::actor.eq(actor.clone()));
    }
    match filter.action.as_deref() {
        Some(kind) if kind.ends_with('.') => {
            query = query.filter(
                audit_log::action
                    .like(format!("{}%", like_escaped(kind)))
                    .escape('\\'),
            );
        }
        Some(action) => query = query.filter(audit_log::action.eq(action.to_owned())),
        None => {}
    }
    if let Some(text) = &filter.target {
        let pattern = contains_pattern(text);
        query = query.filter(
            lower(audit_log::target)
                .like(pattern.clone())
                .escape('\\')
                .or(lower(audit_log::room.assume_not_null())
                    .like(pattern)
                    .escape('\\')),
        );
    }
    if let Some(since) = filter.since {
        query = query.filter(audit_log::at.ge(since));
    }
    Ok(query.load(conn)?)
}

/// The room `id`, if it exists.
pub fn room_by_id(conn: &mut DbConnection, id: RoomId) -> Result<Option<Room>, DbError> {
    Ok(rooms::table
        .find(id)
        .select(Room::as_select())
        .first(conn)
        .optional()?)
}

/// The live message `id` (any room) and its author's name, if there is
/// one.
pub fn live_message(
    conn: &mut DbConnection,
    id: MessageId,
) -> Result<Option<(Message, String)>, DbError> {
    Ok(messages::table
        .inner_join(users::table)
        .filter(messages::id.eq(id))
        .filter(messages::deleted_at.is_null())
        .select((Message::as_select(), users::username))
        .first(conn)
        .optional()?)
}
