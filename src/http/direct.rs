//! Direct conversations as URLs: `/chat/@<user>/` and `/ws/chat/@<user>/`.
//!
//! A conversation is addressed by the other participant's name, never by
//! its room's internal name (`@dm-<a>-<b>`, see [`RoomName::direct`]), so a
//! third person can only ever reach their own conversation with that user.
//! The name is looked up as a login is (exact, else differing only in
//! case); a name with no account is "no such page". The conversation is
//! opened on first use by either participant, with both as members, and is
//! not counted by the room-creation quota. `/chat/@<me>/` is my notes to
//! self.
//!
//! [`RoomName::direct`]: crate::domain::RoomName::direct

use super::AppError;
use crate::db::queries::{rooms, users};
use crate::db::{Database, DbError};
use crate::domain::{Identity, RoomInfo, Username};

/// A direct conversation, as one participant opened it.
#[derive(Debug, Clone)]
pub struct Conversation {
    /// Its room.
    pub room: RoomInfo,
    /// The other participant (myself, for notes to self), named as their
    /// account is.
    pub with: Username,
}

impl Conversation {
    /// Whether it is the notes-to-self conversation.
    pub fn is_notes(&self, me: &Identity) -> bool {
        self.room.other_participant(me.id) == Some(me.id)
    }

    /// Its path key as URLs spell it: `@<other>`.
    pub fn key(&self) -> String {
        format!("@{}", self.with)
    }
}

/// The part of a `/chat/<x>/` path that names a conversation (`bob` for
/// `@bob`), or `None` for a room's path.
pub fn addressed(path: &str) -> Option<&str> {
    path.strip_prefix('@')
}

/// Opens (creating on first use) `me`'s conversation with the user called
/// `name`; 404 when no account has that name.
pub async fn open(db: &Database, me: &Identity, name: &str) -> Result<Conversation, AppError> {
    let no_such = || AppError::NotFound(format!("There is no user called {name:?} to talk to."));
    let username = Username::parse(name).map_err(|_| no_such())?;
    let me_id = me.id;
    let found = db
        .run(move |c| {
            let Some(other) = users::by_login_name(c, &username)? else {
                return Ok(None);
            };
            let room = rooms::direct(c, me_id, other.id)?;
            Ok::<_, DbError>(Some((room, other.username)))
        })
        .await?;
    let (room, with) = found.ok_or_else(no_such)?;
    Ok(Conversation {
        room: RoomInfo::from(room),
        with: Username::from_stored(with),
    })
}
