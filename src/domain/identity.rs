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

/// A room that exists in the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomInfo {
    /// Database id.
    pub id: RoomId,
    /// Its name.
    pub name: RoomName,
    /// Only staff may enter.
    pub admin_only: bool,
    /// For a direct conversation, its two participants, the lower id first
    /// (the same user twice for notes to self); `None` for a room.
    pub direct: Option<(UserId, UserId)>,
    /// Private: only its members (and staff) may enter; everyone else is
    /// told it does not exist. Whether a user is a member is read where
    /// admission is decided (`db/queries/rules.rs`), not kept here.
    pub invite_only: bool,
    /// Archived: readable, but nobody except staff and its moderators may
    /// write, and it is left out of the room selector.
    pub archived: bool,
}

impl RoomInfo {
    /// Whether `who` may read and post here as far as the room itself
    /// says: in a direct conversation its two participants only (staff
    /// included: a conversation is private); in a room anyone, or only
    /// staff if it is admin-only. What depends on the user's rows (a ban,
    /// membership of a private room) is [`rules::admission`]'s to decide.
    ///
    /// [`rules::admission`]: crate::db::queries::rules::admission
    pub fn admits(&self, who: &Identity) -> bool {
        match self.direct {
            Some((a, b)) => who.id == a || who.id == b,
            None => !self.admin_only || who.is_staff,
        }
    }

    /// The other participant of a direct conversation, as `me` sees it
    /// (myself, for notes to self); `None` for a room or a non-participant.
    pub fn other_participant(&self, me: UserId) -> Option<UserId> {
        match self.direct? {
            (a, b) if a == me => Some(b),
            (a, b) if b == me => Some(a),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: i32, is_staff: bool) -> Identity {
        Identity {
            id: UserId(id),
            username: Username::parse(&format!("u{id}")).unwrap(),
            is_staff,
        }
    }

    fn room(admin_only: bool, direct: Option<(i32, i32)>) -> RoomInfo {
        RoomInfo {
            id: RoomId(1),
            name: RoomName::parse("r").unwrap(),
            admin_only,
            direct: direct.map(|(a, b)| (UserId(a), UserId(b))),
            invite_only: false,
            archived: false,
        }
    }

    #[test]
    fn a_direct_conversation_admits_its_two_participants_only() {
        let dm = room(false, Some((1, 2)));
        assert!(dm.admits(&user(1, false)));
        assert!(dm.admits(&user(2, false)));
        assert!(!dm.admits(&user(3, false)));
        assert!(!dm.admits(&user(3, true)), "not even staff");
        assert_eq!(dm.other_participant(UserId(1)), Some(UserId(2)));
        assert_eq!(dm.other_participant(UserId(2)), Some(UserId(1)));
        assert_eq!(dm.other_participant(UserId(3)), None);
        let notes = room(false, Some((4, 4)));
        assert!(notes.admits(&user(4, false)));
        assert_eq!(notes.other_participant(UserId(4)), Some(UserId(4)));
    }

    #[test]
    fn rooms_admit_everyone_or_staff() {
        assert!(room(false, None).admits(&user(3, false)));
        assert!(!room(true, None).admits(&user(3, false)));
        assert!(room(true, None).admits(&user(3, true)));
        assert_eq!(room(false, None).other_participant(UserId(3)), None);
    }
}
