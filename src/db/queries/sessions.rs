//! Sessions: one row per signed-in browser, found by the hash of its
//! cookie's secret ([`LoginSecret`](crate::domain::LoginSecret)). Login
//! inserts a row, logout deletes it; a password change or
//! `confab user logout-all` deletes a user's others or all; the sweep of
//! connected sockets reads the rows behind them in one query.

use crate::db::models::{Login, NewLogin, User};
use crate::db::schema::{sessions, users};
use crate::db::{DbConnection, DbError};
use crate::domain::{LoginId, UserId};
use chrono::NaiveDateTime;
use diesel::prelude::*;

/// Most ids in one `IN (…)` list: far below SQLite's and PostgreSQL's
/// limits on bound parameters (32,766 and 65,535).
const IDS_PER_QUERY: usize = 10_000;

/// Starts a session of `user`, stored under `key_hash`.
pub fn create(conn: &mut DbConnection, key_hash: &str, user: UserId) -> Result<Login, DbError> {
    let now = super::now();
    diesel::insert_into(sessions::table)
        .values(&NewLogin {
            key_hash,
            user_id: user,
            created_at: now,
            last_seen_at: now,
        })
        .returning(sessions::all_columns)
        .get_result(conn)
        .map_err(DbError::from)
}

/// The session stored under `key_hash` and its user, if there is one.
pub fn find(conn: &mut DbConnection, key_hash: &str) -> Result<Option<(Login, User)>, DbError> {
    Ok(sessions::table
        .inner_join(users::table)
        .filter(sessions::key_hash.eq(key_hash))
        .select((Login::as_select(), User::as_select()))
        .first(conn)
        .optional()?)
}

/// Writes down that the sessions `ids` were used at `now`.
pub fn touch(conn: &mut DbConnection, ids: &[LoginId], now: NaiveDateTime) -> Result<(), DbError> {
    for chunk in ids.chunks(IDS_PER_QUERY) {
        diesel::update(sessions::table.filter(sessions::id.eq_any(chunk)))
            .set(sessions::last_seen_at.eq(now))
            .execute(conn)?;
    }
    Ok(())
}

/// Ends one session; false if it had ended already.
pub fn delete(conn: &mut DbConnection, id: LoginId) -> Result<bool, DbError> {
    Ok(diesel::delete(sessions::table.find(id)).execute(conn)? > 0)
}

/// Ends every session of `user` but `keep`; returns how many ended.
pub fn delete_others(
    conn: &mut DbConnection,
    user: UserId,
    keep: LoginId,
) -> Result<usize, DbError> {
    Ok(diesel::delete(
        sessions::table
            .filter(sessions::user_id.eq(user))
            .filter(sessions::id.ne(keep)),
    )
    .execute(conn)?)
}

/// Ends every session of the user called `username`; returns how many
/// ended, or [`DbError::NotFound`] when there is no such user.
pub fn delete_all_of(conn: &mut DbConnection, username: &str) -> Result<usize, DbError> {
    let user: UserId = users::table
        .filter(users::username.eq(username))
        .select(users::id)
        .first(conn)?;
    delete_all_for(conn, user)
}

/// Ends every session of account `user`; returns how many ended.
pub fn delete_all_for(conn: &mut DbConnection, user: UserId) -> Result<usize, DbError> {
    Ok(diesel::delete(sessions::table.filter(sessions::user_id.eq(user))).execute(conn)?)
}

/// Deletes the sessions last used before `cutoff`; returns how many.
pub fn purge_idle(conn: &mut DbConnection, cutoff: NaiveDateTime) -> Result<usize, DbError> {
    Ok(diesel::delete(sessions::table.filter(sessions::last_seen_at.lt(cutoff))).execute(conn)?)
}

/// A session behind connected sockets, as the sweep reads it.
#[derive(Debug, Clone, Queryable)]
pub struct LiveLogin {
    /// The session.
    pub id: LoginId,
    /// When it was last used, as last written.
    pub last_seen_at: NaiveDateTime,
    /// Whether its user is staff now.
    pub is_staff: bool,
}

/// Which of `ids` still exist, with their last use and their user's staff
/// flag as of now: one query (per [`IDS_PER_QUERY`] ids) for every socket
/// of an instance.
pub fn live(conn: &mut DbConnection, ids: &[LoginId]) -> Result<Vec<LiveLogin>, DbError> {
    let mut found = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(IDS_PER_QUERY) {
        found.extend(
            sessions::table
                .inner_join(users::table)
                .filter(sessions::id.eq_any(chunk))
                .select((sessions::id, sessions::last_seen_at, users::is_staff))
                .load::<LiveLogin>(conn)?,
        );
    }
    Ok(found)
}
