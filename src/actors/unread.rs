//! Unread bookkeeping as the actors see it: which local users are members
//! of which rooms, and the sidebar frames built from the database's counts
//! and from each new message's [`Activity`].
//!
//! The counts themselves live in the database (`memberships.last_read_id`,
//! see [`db::queries::memberships`](crate::db::queries::memberships)); the
//! live side is cheap by design: one [`Activity`] per new message crosses
//! the bus, and each instance's registry looks up, in [`LocalMembers`],
//! which of *its* users are members of the room, then offers them one of
//! at most two shared frames (with and without `mention`). No query runs
//! per delivered message; the client adds one to its count.
//!
//! Only modern sockets (`?v=2`) get any of these frames.

use crate::actors::bus::Activity;
use crate::db::queries::memberships::UnreadRow;
use crate::domain::{RoomId, Username};
use crate::protocol::{ActivityView, PlaceKind, ServerFrame, UnreadView, encode, excerpt_of};
use bytestring::ByteString;
use std::collections::{HashMap, HashSet};

/// The prefix of a direct conversation's stored name (`@dm-<a>-<b>`).
const DIRECT_PREFIX: &str = "@dm-";

/// Most characters of a message an `activity` frame carries.
pub const EXCERPT_CHARS: usize = 120;

/// The start of `text` as an `activity` frame carries it: as a reply's
/// quote is made ([`excerpt_of`]), [`EXCERPT_CHARS`] long.
pub fn excerpt(text: &str) -> String {
    excerpt_of(text, EXCERPT_CHARS)
}

/// How a room row is shown to its member: label, kind and page.
fn place(name: &str, direct_with: Option<&str>) -> (String, PlaceKind, String) {
    match direct_with {
        Some(other) => (
            format!("@{other}"),
            PlaceKind::Direct,
            format!("/chat/@{other}/"),
        ),
        None => (name.to_owned(), PlaceKind::Room, format!("/chat/{name}/")),
    }
}

/// The view of one of a user's rooms with its counts.
pub fn view_of(row: UnreadRow) -> UnreadView {
    let (label, kind, url) = place(&row.name, row.direct_with.as_deref());
    UnreadView {
        room: row.name,
        label,
        kind,
        url,
        unread: row.unread,
        mentions: row.mentions,
        last_read_id: row.last_read_id,
    }
}

/// The `unread` frame listing all of a user's rooms: rooms first, then
/// direct conversations, each group in the order given (by name).
pub fn snapshot(rows: Vec<UnreadRow>) -> ByteString {
    let mut rooms: Vec<UnreadView> = rows.into_iter().map(view_of).collect();
    rooms.sort_by_key(|view| view.kind == PlaceKind::Direct);
    encode(&ServerFrame::Unread { rooms })
}

/// The frames one activity makes: for its members that it mentions, and
/// for the others. Built once per activity, shared by every delivery.
pub struct ActivityFrames {
    /// With `mention: true`.
    pub mentioning: ByteString,
    /// With `mention: false`.
    pub plain: ByteString,
}

impl ActivityFrames {
    /// The two frames of `activity`. In a direct conversation the label
    /// is the author (the other participant of every recipient).
    pub fn of(activity: &Activity) -> Self {
        let direct = activity.room.starts_with(DIRECT_PREFIX);
        let (label, kind, url) = place(&activity.room, direct.then_some(activity.author.as_str()));
        let view = ActivityView {
            room: activity.room.clone(),
            label,
            kind,
            url,
            message_id: activity.message_id,
            user: activity.author.clone(),
            excerpt: activity.excerpt.clone(),
            mention: true,
        };
        let mentioning = encode(&ServerFrame::Activity(view.clone()));
        let plain = encode(&ServerFrame::Activity(ActivityView {
            mention: false,
            ..view
        }));
        ActivityFrames { mentioning, plain }
    }

    /// The frame for `user`.
    pub fn for_user<'a>(&'a self, activity: &Activity, user: &Username) -> &'a ByteString {
        if activity.mentioned.contains(user) {
            &self.mentioning
        } else {
            &self.plain
        }
    }
}

/// Which of this instance's users are members of which rooms: the reverse
/// index the registry looks an activity's room up in. Filled when a user's
/// first connection arrives (from the database), kept up to date by their
/// joins and leaves (told on the user's bus channel) and by their posts (an
/// activity by a user makes them a member), and dropped with their last
/// connection.
#[derive(Default)]
pub struct LocalMembers {
    by_room: HashMap<RoomId, HashSet<Username>>,
    by_user: HashMap<Username, HashSet<RoomId>>,
}

impl LocalMembers {
    /// `user` is a member of `rooms` (loaded on their first connection).
    pub fn load(&mut self, user: &Username, rooms: impl IntoIterator<Item = RoomId>) {
        for room in rooms {
            self.join(user, room);
        }
    }

    /// `user` is a member of `room`.
    pub fn join(&mut self, user: &Username, room: RoomId) {
        self.by_room.entry(room).or_default().insert(user.clone());
        self.by_user.entry(user.clone()).or_default().insert(room);
    }

    /// `user` is no longer a member of `room`.
    pub fn leave(&mut self, user: &Username, room: RoomId) {
        if let Some(users) = self.by_room.get_mut(&room) {
            users.remove(user);
            if users.is_empty() {
                self.by_room.remove(&room);
            }
        }
        if let Some(rooms) = self.by_user.get_mut(user) {
            rooms.remove(&room);
            if rooms.is_empty() {
                self.by_user.remove(user);
            }
        }
    }

    /// `user` has no connection here any more.
    pub fn forget(&mut self, user: &Username) {
        for room in self.by_user.remove(user).unwrap_or_default() {
            if let Some(users) = self.by_room.get_mut(&room) {
                users.remove(user);
                if users.is_empty() {
                    self.by_room.remove(&room);
                }
            }
        }
    }

    /// The local members of `room`.
    pub fn of(&self, room: RoomId) -> impl Iterator<Item = &Username> {
        self.by_room.get(&room).into_iter().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::MessageId;

    fn user(name: &str) -> Username {
        Username::parse(name).unwrap()
    }

    #[test]
    fn excerpts_are_cut_at_a_character_boundary() {
        assert_eq!(excerpt("short"), "short");
        let long = "é".repeat(EXCERPT_CHARS + 5);
        let cut = excerpt(&long);
        assert_eq!(cut.chars().count(), EXCERPT_CHARS + 1);
        assert!(cut.ends_with('…'));
    }

    #[test]
    fn the_index_follows_joins_leaves_and_departures() {
        let mut members = LocalMembers::default();
        members.load(&user("ann"), [RoomId(1), RoomId(2)]);
        members.join(&user("bob"), RoomId(1));
        let mut in_one: Vec<&str> = members.of(RoomId(1)).map(Username::as_str).collect();
        in_one.sort();
        assert_eq!(in_one, ["ann", "bob"]);
        members.leave(&user("bob"), RoomId(1));
        members.forget(&user("ann"));
        assert_eq!(members.of(RoomId(1)).count(), 0);
        assert_eq!(members.of(RoomId(2)).count(), 0);
        assert!(members.by_room.is_empty() && members.by_user.is_empty());
    }

    #[test]
    fn a_direct_conversation_is_labelled_with_its_author() {
        let activity = Activity {
            room_id: RoomId(1),
            room: "@dm-1-2".into(),
            message_id: MessageId(5),
            author: user("bob"),
            excerpt: "hi".into(),
            mentioned: vec![user("ann")],
        };
        let frames = ActivityFrames::of(&activity);
        let ann = frames.for_user(&activity, &user("ann"));
        assert!(ann.contains(r#""label":"@bob""#), "{ann}");
        assert!(ann.contains(r#""url":"/chat/@bob/""#), "{ann}");
        assert!(ann.contains(r#""mention":true"#), "{ann}");
        let carl = frames.for_user(&activity, &user("carl"));
        assert!(carl.contains(r#""mention":false"#), "{carl}");
    }
}
