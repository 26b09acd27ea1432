//! What travels through Redis: channel names, and room events as bytes.
//!
//! A room event crosses Redis as one header line and then the frame
//! exactly as clients receive it, so it is encoded once, by the publishing
//! room, and never re-encoded on the way. A second kind of payload, the
//! "missed" notice, tells every instance's room to catch up from the
//! database (see [`Published::Missed`](crate::actors::bus::Published)).
//!
//! A user's channel carries either a frame for their connections (JSON,
//! so it starts with `{`), a sign-out notice, `signed_out only <id>` or
//! `signed_out all_but <id>`, naming the sessions whose sockets must close,
//! or a frame for their modern sockets only: `notice\n<frame>`, or
//! `member <room id> <1|0>\n<frame>` when they joined or left a room.
//!
//! The activity channel carries one [`Activity`] per new message:
//! `<room id> <message id> <author> <mentioned,names>\n<room>\n<excerpt>`
//! (names and room names hold no spaces, commas or line breaks; the
//! excerpt, last, may hold anything).
//!
//! The moderation channel (`<prefix>:moderation`, issue 14) carries one
//! [`ModerationNews`] per moderation action, for every instance: `recheck`
//! (re-read who may be where now), or `kick <room> <user>\n<reason>` (close
//! that user's sockets in that room; the reason, last, may hold anything).

use crate::actors::bus::{Activity, ModerationNews, RoomEvent, ToUser};
use crate::domain::{EndedLogins, LoginId, MessageId, RoomId, RoomName, Username};
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
    Activity,
    Moderation,
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

    /// The one channel of every room's [`Activity`].
    pub(super) fn activity(&self) -> String {
        format!("{}:activity", self.prefix)
    }

    /// The one channel of every instance's [`ModerationNews`].
    pub(super) fn moderation(&self) -> String {
        format!("{}:moderation", self.prefix)
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
        if rest == "activity" {
            return Some(Topic::Activity);
        }
        if rest == "moderation" {
            return Some(Topic::Moderation);
        }
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

/// The header word of a notice for a user's modern sockets.
const NOTICE: &str = "notice";

/// The header word of a membership change with its notice.
const MEMBER: &str = "member";

/// A payload for a user's channel.
pub(super) fn encode_user(what: &ToUser) -> Vec<u8> {
    match what {
        ToUser::Frame(frame) => frame.as_bytes().to_vec(),
        ToUser::Legacy(frame) => format!("{LEGACY}{frame}").into_bytes(),
        ToUser::Notice(frame) => format!("{NOTICE}\n{frame}").into_bytes(),
        ToUser::Membership {
            room,
            member,
            notice,
        } => format!("{MEMBER} {room} {}\n{notice}", u8::from(*member)).into_bytes(),
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
    if let Some(frame) = text.strip_prefix(NOTICE).and_then(|t| t.strip_prefix('\n')) {
        return Some(ToUser::Notice(ByteString::from(frame)));
    }
    if let Some(rest) = text.strip_prefix(MEMBER).and_then(|t| t.strip_prefix(' ')) {
        let (header, frame) = rest.split_once('\n')?;
        let (room, member) = header.split_once(' ')?;
        let member = match member {
            "1" => true,
            "0" => false,
            _ => return None,
        };
        return Some(ToUser::Membership {
            room: RoomId(room.parse().ok()?),
            member,
            notice: ByteString::from(frame),
        });
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

/// A payload for the activity channel.
pub(super) fn encode_activity(activity: &Activity) -> Vec<u8> {
    let mentioned: Vec<&str> = activity.mentioned.iter().map(Username::as_str).collect();
    format!(
        "{} {} {} {}\n{}\n{}",
        activity.room_id,
        activity.message_id,
        activity.author,
        mentioned.join(","),
        activity.room,
        activity.excerpt
    )
    .into_bytes()
}

/// Reads a payload from the activity channel.
pub(super) fn decode_activity(payload: &[u8]) -> Option<Activity> {
    let text = std::str::from_utf8(payload).ok()?;
    let (header, rest) = text.split_once('\n')?;
    let (room, excerpt) = rest.split_once('\n')?;
    let mut fields = header.split(' ');
    let room_id = RoomId(fields.next()?.parse().ok()?);
    let message_id = MessageId(fields.next()?.parse().ok()?);
    let author = Username::parse(fields.next()?).ok()?;
    let mentioned = match fields.next()? {
        "" => Vec::new(),
        names => names
            .split(',')
            .map(|name| Username::parse(name).ok())
            .collect::<Option<Vec<_>>>()?,
    };
    if fields.next().is_some() || room.is_empty() {
        return None;
    }
    Some(Activity {
        room_id,
        room: room.to_owned(),
        message_id,
        author,
        excerpt: excerpt.to_owned(),
        mentioned,
    })
}

/// The header word of a recheck on the moderation channel.
const RECHECK: &str = "recheck";

/// The header word of a kick on the moderation channel.
const KICK: &str = "kick";

/// A payload for the moderation channel.
pub(super) fn encode_moderation(news: &ModerationNews) -> Vec<u8> {
    match news {
        ModerationNews::Recheck => RECHECK.as_bytes().to_vec(),
        ModerationNews::Kick { room, user, reason } => {
            format!("{KICK} {room} {user}\n{reason}").into_bytes()
        }
    }
}

/// Reads a payload from the moderation channel.
pub(super) fn decode_moderation(payload: &[u8]) -> Option<ModerationNews> {
    let text = std::str::from_utf8(payload).ok()?;
    if text == RECHECK {
        return Some(ModerationNews::Recheck);
    }
    let (header, reason) = text
        .strip_prefix(KICK)?
        .strip_prefix(' ')?
        .split_once('\n')?;
    let (room, user) = header.split_once(' ')?;
    Some(ModerationNews::Kick {
        room: RoomName::parse_any(room).ok()?,
        user: Username::parse(user).ok()?,
        reason: reason.to_owned(),
    })
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
    fn notices_and_activity_survive_the_trip() {
        let frame = ByteString::from(r#"{"type":"read_marker"}"#);
        assert!(matches!(
            decode_user(&encode_user(&ToUser::Notice(frame.clone()))),
            Some(ToUser::Notice(back)) if back == frame
        ));
        let member = ToUser::Membership {
            room: RoomId(4),
            member: false,
            notice: frame.clone(),
        };
        assert!(matches!(
            decode_user(&encode_user(&member)),
            Some(ToUser::Membership { room: RoomId(4), member: false, notice }) if notice == frame
        ));
        assert!(decode_user(b"member 4 2\n{}").is_none());
        for mentioned in [
            vec![],
            vec![
                Username::parse("b.o+b").unwrap(),
                Username::parse("al").unwrap(),
            ],
        ] {
            let activity = Activity {
                room_id: RoomId(3),
                room: "@dm-1-2".to_owned(),
                message_id: MessageId(99),
                author: Username::parse("alice").unwrap(),
                excerpt: "two\nlines, and commas".to_owned(),
                mentioned,
            };
            assert_eq!(decode_activity(&encode_activity(&activity)), Some(activity));
        }
        for garbage in [&b""[..], b"1 2 a \n", b"1 2 a\nroom\nx", b"x 2 a \nroom\nx"] {
            assert!(decode_activity(garbage).is_none(), "{garbage:?}");
        }
        let channels = Channels::new("confab");
        assert!(matches!(
            channels.parse(&channels.activity()),
            Some(Topic::Activity)
        ));
    }

    #[test]
    fn moderation_news_survives_the_trip() {
        for news in [
            ModerationNews::Recheck,
            ModerationNews::Kick {
                room: RoomName::parse("lobby").unwrap(),
                user: Username::parse("b.o+b").unwrap(),
                reason: "calm down\nplease: now".to_owned(),
            },
            ModerationNews::Kick {
                room: RoomName::parse("lobby").unwrap(),
                user: Username::parse("bob").unwrap(),
                reason: String::new(),
            },
        ] {
            assert_eq!(decode_moderation(&encode_moderation(&news)), Some(news));
        }
        for garbage in [
            &b""[..],
            b"recheck ",
            b"kick lobby",
            b"kick lobby bob",
            b"kick bad!room bob\nx",
            b"kick lobby b b\nx",
        ] {
            assert!(decode_moderation(garbage).is_none(), "{garbage:?}");
        }
        let channels = Channels::new("confab");
        assert_eq!(channels.moderation(), "confab:moderation");
        assert!(matches!(
            channels.parse(&channels.moderation()),
            Some(Topic::Moderation)
        ));
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
