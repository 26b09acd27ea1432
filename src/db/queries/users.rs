//! Accounts: created at sign-up or by `confab createsuperuser`, and read
//! again on every request, so a change of staff rights takes effect at once.
//!
//! A name is taken when another account's name differs from it only in case
//! or looks like it: the unique columns `username_folded` and
//! `username_skeleton` hold [`Username::folded`] and [`Username::skeleton`],
//! so the database itself refuses the second `alice` however two sign-ups
//! race.

use crate::db::models::{NewUser, User};
use crate::db::schema::users;
use crate::db::{DbConnection, DbError};
use crate::domain::{UserId, Username};
use diesel::prelude::*;

/// Creates an account; [`DbError::Conflict`] when the name, or one that
/// differs only in case or looks like it, is taken.
pub fn create(
    conn: &mut DbConnection,
    username: &Username,
    password_hash: &str,
    is_staff: bool,
) -> Result<User, DbError> {
    diesel::insert_into(users::table)
        .values(&NewUser {
            username: username.as_str(),
            username_folded: &username.folded(),
            username_skeleton: &username.skeleton(),
            password_hash,
            is_staff,
            created_at: super::now(),
        })
        .returning(users::all_columns)
        .get_result(conn)
        .map_err(DbError::from)
}

/// Whether [`create`] would refuse `username` as taken: checked before a
/// sign-up spends a password hash on it.
pub fn name_taken(conn: &mut DbConnection, username: &Username) -> Result<bool, DbError> {
    let found = users::table
        .filter(
            users::username
                .eq(username.as_str())
                .or(users::username_folded.eq(username.folded()))
                .or(users::username_skeleton.eq(username.skeleton())),
        )
        .select(users::id)
        .first::<UserId>(conn)
        .optional()?;
    Ok(found.is_some())
}

/// The account a person means when they log in as `username`: the one of
/// exactly that name, else the one whose name differs only in case. (Only
/// accounts from before names were folded can differ from each other only
/// in case; each of those logs in by its exact name.)
pub fn by_login_name(
    conn: &mut DbConnection,
    username: &Username,
) -> Result<Option<User>, DbError> {
    if let Some(exact) = by_username(conn, username.as_str())? {
        return Ok(Some(exact));
    }
    Ok(users::table
        .filter(users::username_folded.eq(username.folded()))
        .select(User::as_select())
        .first(conn)
        .optional()?)
}

/// Gives accounts without name keys (made before the keys existed, or
/// written straight into the table) their keys, oldest first; run at
/// start-up, before serving. An account whose keys an older one already
/// holds (`Alice` beside an older `alice`) keeps none: both go on working
/// under their exact names, and a warning names them. Returns how many
/// accounts got keys.
pub fn fill_in_name_keys(conn: &mut DbConnection) -> Result<usize, DbError> {
    let missing: Vec<(UserId, String)> = users::table
        .filter(
            users::username_folded
                .is_null()
                .or(users::username_skeleton.is_null()),
        )
        .order(users::id)
        .select((users::id, users::username))
        .load(conn)?;
    let mut filled = 0;
    for (id, name) in missing {
        let Ok(username) = Username::parse(&name) else {
            log::warn!("user {name:?} (id {id}) has a name confab would refuse; it gets no keys");
            continue;
        };
        // The ids not yet keyed only, so instances starting together do
        // the same work at most twice, never differently.
        let updated = diesel::update(
            users::table
                .find(id)
                .filter(users::username_folded.is_null()),
        )
        .set((
            users::username_folded.eq(username.folded()),
            users::username_skeleton.eq(username.skeleton()),
        ))
        .execute(conn);
        match updated.map_err(DbError::from) {
            Ok(n) => filled += n,
            Err(DbError::Conflict) => log::warn!(
                "user {name:?} differs only in case from an older account, or looks like \
                 one; both keep their names and log in by them exactly"
            ),
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Looks an account up by name.
pub fn by_username(conn: &mut DbConnection, username: &str) -> Result<Option<User>, DbError> {
    Ok(users::table
        .filter(users::username.eq(username))
        .select(User::as_select())
        .first(conn)
        .optional()?)
}

/// Looks an account up by id.
pub fn by_id(conn: &mut DbConnection, id: UserId) -> Result<Option<User>, DbError> {
    Ok(users::table
        .find(id)
        .select(User::as_select())
        .first(conn)
        .optional()?)
}

/// Whether the account `id` is staff now ([`DbError::NotFound`] if it is
/// gone): rights are read per request, so a demotion takes effect at once.
pub fn is_staff(conn: &mut DbConnection, id: UserId) -> Result<bool, DbError> {
    users::table
        .find(id)
        .select(users::is_staff)
        .first(conn)
        .map_err(DbError::from)
}

/// Grants or revokes staff; [`DbError::NotFound`] for an unknown name.
pub fn set_staff(conn: &mut DbConnection, username: &str, is_staff: bool) -> Result<(), DbError> {
    let changed = diesel::update(users::table.filter(users::username.eq(username)))
        .set(users::is_staff.eq(is_staff))
        .execute(conn)?;
    if changed == 0 {
        return Err(DbError::NotFound);
    }
    Ok(())
}

/// Replaces the password hash of account `id` with one its owner chose:
/// a password staff set no longer has to be changed.
pub fn set_password_hash(
    conn: &mut DbConnection,
    id: UserId,
    password_hash: &str,
) -> Result<(), DbError> {
    store_password(conn, id, password_hash, false)
}

/// Sets the password of account `id` for its owner (staff did): they
/// must choose their own at the next login.
pub fn set_password_to_change(
    conn: &mut DbConnection,
    id: UserId,
    password_hash: &str,
) -> Result<(), DbError> {
    store_password(conn, id, password_hash, true)
}

fn store_password(
    conn: &mut DbConnection,
    id: UserId,
    password_hash: &str,
    must_change: bool,
) -> Result<(), DbError> {
    let changed = diesel::update(users::table.find(id))
        .set((
            users::password_hash.eq(password_hash),
            users::must_change_password.eq(must_change),
        ))
        .execute(conn)?;
    if changed == 0 {
        return Err(DbError::NotFound);
    }
    Ok(())
}

/// Deactivates account `id` as of `at` (it cannot log in; an account
/// deactivated already keeps its first date), or reactivates it (`None`).
pub fn set_deactivated(
    conn: &mut DbConnection,
    id: UserId,
    at: Option<chrono::NaiveDateTime>,
) -> Result<(), DbError> {
    match at {
        Some(at) => diesel::update(
            users::table
                .find(id)
                .filter(users::deactivated_at.is_null()),
        )
        .set(users::deactivated_at.eq(at))
        .execute(conn)?,
        None => diesel::update(users::table.find(id))
            .set(users::deactivated_at.eq(None::<chrono::NaiveDateTime>))
            .execute(conn)?,
    };
    Ok(())
}

/// The readiness probe: reads one user id, if there is one, which proves
/// that the database answers and holds confab's tables.
pub fn probe(conn: &mut DbConnection) -> Result<(), DbError> {
    users::table
        .select(users::id)
        .first::<UserId>(conn)
        .optional()?;
    Ok(())
}
