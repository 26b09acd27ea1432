//! Accounts: created at sign-up or by `confab createsuperuser`, and read
//! again on every request, so a change of staff rights takes effect at once.

use crate::db::models::{NewUser, User};
use crate::db::schema::users;
use crate::db::{DbConnection, DbError};
use crate::domain::UserId;
use diesel::prelude::*;

/// Creates an account; [`DbError::Conflict`] when the name is taken.
pub fn create(
    conn: &mut DbConnection,
    username: &str,
    password_hash: &str,
    is_staff: bool,
) -> Result<User, DbError> {
    diesel::insert_into(users::table)
        .values(&NewUser {
            username,
            password_hash,
            is_staff,
            created_at: super::now(),
        })
        .returning(users::all_columns)
        .get_result(conn)
        .map_err(DbError::from)
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

/// Replaces the password hash of account `id`.
pub fn set_password_hash(
    conn: &mut DbConnection,
    id: UserId,
    password_hash: &str,
) -> Result<(), DbError> {
    let changed = diesel::update(users::table.find(id))
        .set(users::password_hash.eq(password_hash))
        .execute(conn)?;
    if changed == 0 {
        return Err(DbError::NotFound);
    }
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
