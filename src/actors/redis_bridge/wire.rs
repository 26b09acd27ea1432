//! What travels through Redis: channel names, and room events as bytes.
//!
//! A room event crosses Redis as one header line and then the frame
//! exactly as clients receive it, so it is encoded once, by the publishing
//! room, and never re-encoded on the way. A second kind of payload, the
//! "missed" notice, tells every instance's room to catch up from the
//! database (see [`Published::Missed`](crate::actors::bus::Published)).
//!
//! A user's channel carries either a frame for their connections (JSON,
//! so it starts with `{`) or a sign-out notice, `signed_out only <id>` or
//! `signed_out all_but <id>`, naming the sessions whose sockets must close.

use crate::actors::bus::{RoomEvent, ToUser};
use crate::domain::{EndedLogins, LoginId, MessageId, RoomName, Username};
use bytestring::ByteString;
use std::time::{Duration, UNIX_EPOCH};

/// Channel and key names: `<prefix>:room:<name>`, `<prefix>:user:<name>`,
/// and the presence keys.
#[derive(Debug, Clone)]
pub(super) struct Channels {
    prefix: String,
}

/// What a channel carries.
pub(super) enum Topic {
    Room(RoomName),
    User(Username),
}

impl Channels {
    pub(super) fn new(prefix: &str) -> Self {
        Channels {
            prefix: prefix.to_owned(),
        }
    }

    pub(super) fn room(&self, room: &RoomName) -> String {
        format!("{}:room:{room}", self.prefix)
    }

    pub(super) fn user(&self, user: &Username) -> String {
        format!("{}:user:{user}", self.prefix)
    }

    /// The users online in a room, scored by when they expire.
    pub(super) fn online_key(&self, room: &RoomName) -> String {
        format!("{}{room}", self.online_prefix())
    }

    /// The prefix of every room's [`online_key`](Self::online_key).
    pub(super) fn online_prefix(&self) -> String {
        format!("{}:online:", self.prefix)
    }

    /// The rooms with anyone online, each scored by when its last entry
    /// expires: the room selector reads this instead of every room's key.
    pub(super) fn online_rooms_key(&self) -> String {
        format!("{}:online-rooms", self.prefix)
    }

    /// The key of the instances `user` is in `room` on, scored by expiry.
    pub(super) fn presence_key(&self, room: &RoomName, user: &Username) -> String {
        format!("{}{user}", self.presence_prefix(room))
    }

    /// The prefix of the per-user presence keys of a room.
    pub(super) fn presence_prefix(&self, room: &RoomName) -> String {
        format!("{}:presence:{room}:", self.prefix)
    }

    pub(super) fn parse(&self, channel: &str) -> Option<Topic> {
        let rest = channel.strip_prefix(&self.prefix)?.strip_prefix(':')?;
        if let Some(room) = rest.strip_prefix("room:") {
            return RoomName::parse_any(room).ok().map(Topic::Room);
        }
        rest.strip_prefix("user:")
            .and_then(|user| Username::parse(user).ok())
            .map(Topic::User)
    }
}

/// A payload on a room channel.
#[derive(Debug)]
pub(super) enum Wire {
    /// An event for the room's members.
    Event(RoomEvent),
    /// Events may have been missed since this message: catch up.
    Missed(Option<MessageId>),
}

/// The header word that marks a [`Wire::Missed`] notice (an event's header
/// starts with a number).
const MISSED: &str = "missed";

/// Header: `<published, µs since epoch> <message id or empty> <skip user or empty>`.
pub(super) fn encode_event(event: &RoomEvent) -> Vec<u8> {
    let micros = event
        .published_at
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros())
        .unwrap_or(0);
    let id = event.message_id.map(|id| id.0.to_string());
    let skip = event.skip_user.as_ref().map(Username::as_str);
    let header = format!(
        "{micros} {} {}\n",
        id.as_deref().unwrap_or(""),
        skip.unwrap_or("")
    );
    let mut out = Vec::with_capacity(header.len() + event.frame.len());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(event.frame.as_bytes());
    out
}

/// Header: `missed <message id or empty>`, and no frame.
pub(super) fn encode_missed(after: Option<MessageId>) -> Vec<u8> {
    match after {
        Some(id) => format!("{MISSED} {}\n", id.0).into_bytes(),
        None => format!("{MISSED} \n").into_bytes(),
    }
}

pub(super) fn decode(payload: &[u8]) -> Option<Wire> {
    let text = std::str::from_utf8(payload).ok()?;
    let (header, frame) = text.split_once('\n')?;
    let mut fields = header.split(' ');
    let first = fields.next()?;
    let message_id = match fields.next()? {
        "" => None,
        id => Some(MessageId(id.parse().ok()?)),
    };
    if first == MISSED {
        return Some(Wire::Missed(message_id));
    }
    let micros: u64 = first.parse().ok()?;
    let skip_user = match fields.next()? {
        "" => None,
        user => Some(Username::parse(user).ok()?),
    };
    Some(Wire::Event(RoomEvent {
        frame: ByteString::from(frame),
        skip_user,
        message_id,
        published_at: UNIX_EPOCH + Duration::from_micros(micros),
    }))
}

/// The header word of a sign-out notice on a user's channel.
const SIGNED_OUT: &str = "signed_out";

/// The header word of a frame for a user's legacy connections only.
const LEGACY: &str = "legacy ";

/// A payload for a user's channel.
pub(super) fn encode_user(what: &ToUser) -> Vec<u8> {
    match what {
        ToUser::Frame(frame) => frame.as_bytes().to_vec(),
        ToUser::Legacy(frame) => format!("{LEGACY}{frame}").into_bytes(),
        ToUser::SignedOut(EndedLogins::Only(id)) => format!("{SIGNED_OUT} only {id}").into_bytes(),
        ToUser::SignedOut(EndedLogins::AllBut(id)) => {
            format!("{SIGNED_OUT} all_but {id}").into_bytes()
        }
    }
}

/// Reads a payload from a user's channel.
pub(super) fn decode_user(payload: &[u8]) -> Option<ToUser> {
    let text = std::str::from_utf8(payload).ok()?;
    if let Some(frame) = text.strip_prefix(LEGACY) {
        return frame
            .starts_with('{')
            .then(|| ToUser::Legacy(ByteString::from(frame)));
    }
    let Some(notice) = text.strip_prefix(SIGNED_OUT) else {
        return text
            .starts_with('{')
            .then(|| ToUser::Frame(ByteString::from(text)));
    };
    let (which, id) = notice.trim_start().split_once(' ')?;
    let id = LoginId(id.parse().ok()?);
    match which {
        "only" => Some(ToUser::SignedOut(EndedLogins::Only(id))),
        "all_but" => Some(ToUser::SignedOut(EndedLogins::AllBut(id))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event_of(wire: Option<Wire>) -> RoomEvent {
        match wire {
            Some(Wire::Event(event)) => event,
            other => panic!("not an event: {other:?}"),
        }
    }

    #[test]
    fn events_survive_the_trip() {
        let event = RoomEvent {
            frame: ByteString::from(r#"{"type":"chat_message","message":"a\nb"}"#),
            skip_user: Some(Username::parse("al-ice").unwrap()),
            message_id: Some(MessageId(42)),
            published_at: UNIX_EPOCH + Duration::from_micros(1_700_000_000_123_456),
        };
        let back = event_of(decode(&encode_event(&event)));
        assert_eq!(back.frame, event.frame);
        assert_eq!(back.skip_user, event.skip_user);
        assert_eq!(back.message_id, event.message_id);
        assert_eq!(back.published_at, event.published_at);

        let bare = RoomEvent {
            skip_user: None,
            message_id: None,
            ..event
        };
        let back = event_of(decode(&encode_event(&bare)));
        assert_eq!((back.skip_user, back.message_id), (None, None));
    }

    #[test]
    fn missed_notices_survive_the_trip() {
        for after in [Some(MessageId(7)), None] {
            match decode(&encode_missed(after)) {
                Some(Wire::Missed(back)) => assert_eq!(back, after),
                other => panic!("not a notice: {other:?}"),
            }
        }
    }

    #[test]
    fn garbage_is_refused() {
        for payload in [
            &b""[..],
            b"x",
            b"1 2",
            b"nope 1 a\n{}",
            b"1 x a\n{}",
            b"missed x\n",
        ] {
            assert!(decode(payload).is_none(), "{payload:?}");
        }
    }

    #[test]
    fn user_payloads_survive_the_trip() {
        let frame = ByteString::from(r#"{"type":"private_message"}"#);
        assert!(matches!(
            decode_user(&encode_user(&ToUser::Frame(frame.clone()))),
            Some(ToUser::Frame(back)) if back == frame
        ));
        assert!(matches!(
            decode_user(&encode_user(&ToUser::Legacy(frame.clone()))),
            Some(ToUser::Legacy(back)) if back == frame
        ));
        for ended in [
            EndedLogins::Only(LoginId(7)),
            EndedLogins::AllBut(LoginId(1 << 40)),
        ] {
            assert!(matches!(
                decode_user(&encode_user(&ToUser::SignedOut(ended))),
                Some(ToUser::SignedOut(back)) if back == ended
            ));
        }
        for garbage in [
            &b"signed_out"[..],
            b"signed_out some 1",
            b"signed_out only x",
            b"x",
        ] {
            assert!(decode_user(garbage).is_none(), "{garbage:?}");
        }
    }

    #[test]
    fn channels_name_rooms_and_users() {
        let channels = Channels::new("confab");
        let room = RoomName::parse("lobby").unwrap();
        let name = channels.room(&room);
        assert_eq!(name, "confab:room:lobby");
        assert!(matches!(channels.parse(&name), Some(Topic::Room(r)) if r == room));
        let user = Username::parse("bob").unwrap();
        assert!(matches!(channels.parse(&channels.user(&user)), Some(Topic::User(u)) if u == user));
        assert!(channels.parse("other:room:lobby").is_none());
        assert!(channels.parse("confab:room:bad name").is_none());
        assert_eq!(
            channels.presence_key(&room, &user),
            "confab:presence:lobby:bob"
        );
    }
}
