//! Rooms: looked up by the name in the URL, and created on a first visit
//! (the tutorial's `get_or_create`) or by `confab room create`.

use crate::db::models::{NewRoom, Room};
use crate::db::schema::rooms;
use crate::db::{DbConnection, DbError};
use diesel::prelude::*;

/// Looks a room up by name.
pub fn by_name(conn: &mut DbConnection, name: &str) -> Result<Option<Room>, DbError> {
    Ok(rooms::table
        .filter(rooms::name.eq(name))
        .select(Room::as_select())
        .first(conn)
        .optional()?)
}

/// Creates a room; [`DbError::Conflict`] when the name is taken.
pub fn create(conn: &mut DbConnection, name: &str, admin_only: bool) -> Result<Room, DbError> {
    diesel::insert_into(rooms::table)
        .values(&NewRoom {
            name,
            admin_only,
            created_at: super::now(),
        })
        .returning(rooms::all_columns)
        .get_result(conn)
        .map_err(DbError::from)
}

/// Returns the room called `name`, creating an open room if there is none
/// (the tutorial's `get_or_create`). Safe when two requests race: the loser
/// of the insert reads the winner's row.
pub fn get_or_create(conn: &mut DbConnection, name: &str) -> Result<Room, DbError> {
    if let Some(room) = by_name(conn, name)? {
        return Ok(room);
    }
    match create(conn, name, false) {
        Err(DbError::Conflict) => by_name(conn, name)?.ok_or(DbError::NotFound),
        other => other,
    }
}

/// Every room, by name.
pub fn all(conn: &mut DbConnection) -> Result<Vec<Room>, DbError> {
    Ok(rooms::table
        .order(rooms::name.asc())
        .select(Room::as_select())
        .load(conn)?)
}
