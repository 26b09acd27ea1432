//! Who is acting, and where.

use super::{RoomId, RoomName, UserId, Username};

/// A signed-in user, as loaded from the database for this request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Database id.
    pub id: UserId,
    /// Login name.
    pub username: Username,
    /// May enter admin-only rooms and moderate.
    pub is_staff: bool,
}

impl Identity {
    /// Whether this user may change the text of a message by `author`: only
    /// its author may, so that nobody puts words in another's mouth.
    pub fn may_edit(&self, author: UserId) -> bool {
        self.id == author
    }

    /// Whether this user may delete a message by `author`: its author, or
    /// staff moderating the room.
    pub fn may_delete(&self, author: UserId) -> bool {
        self.id == author || self.is_staff
    }
}

/// A room that exists in the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomInfo {
    /// Database id.
    pub id: RoomId,
    /// Its name.
    pub name: RoomName,
    /// Only staff may enter.
    pub admin_only: bool,
}

impl RoomInfo {
    /// Whether `who` may read and post here.
    pub fn admits(&self, who: &Identity) -> bool {
        !self.admin_only || who.is_staff
    }
}
