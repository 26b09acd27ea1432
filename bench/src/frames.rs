//! The wire, as far as the generator cares.
//!
//! Server frames are parsed into [`Incoming`], keeping only what the
//! scenarios look at (chat text, the `user_list` that ends a join burst,
//! error codes). The chat text the generator sends is a [`Stamp`]: which
//! run, stage, sender and sequence number it is, and when it was sent, so a
//! receiver can measure latency and spot lost, duplicated or reordered
//! deliveries from the text alone.

use serde::Deserialize;
use std::borrow::Cow;

/// A server frame, reduced to what the scenarios need.
#[derive(Debug, PartialEq)]
pub enum Incoming<'a> {
    /// A `chat_message`; `history` marks the ones of a join burst. `id` and
    /// `client_id` (on the author's own echo, from servers that know it)
    /// are there when the server sent them.
    Chat {
        text: Cow<'a, str>,
        history: bool,
        id: Option<i64>,
        client_id: Option<Cow<'a, str>>,
    },
    /// The `user_list` that closes a join burst.
    UserList,
    /// The `resumed` frame of a reconnect with `?after=`.
    Resumed,
    /// `message_edited`: message `id` now reads `text`.
    Edited { id: i64, text: Cow<'a, str> },
    /// `message_deleted`.
    Deleted { id: i64 },
    /// `reaction`: `user` added (or took back) `emoji` on message `id`.
    Reaction {
        id: i64,
        emoji: Cow<'a, str>,
        user: Cow<'a, str>,
        added: bool,
    },
    /// An `error` frame: a request of ours was refused. `retry_after_ms`
    /// says when to try again, `client_id` which post it answers (from
    /// servers that know them).
    Error {
        code: Cow<'a, str>,
        retry_after_ms: Option<u64>,
        client_id: Option<Cow<'a, str>>,
    },
    /// Anything else (joins, leaves, typing, ...).
    Other,
}

#[derive(Deserialize)]
struct RawFrame<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(default, borrow)]
    message: Option<Cow<'a, str>>,
    #[serde(default)]
    history: bool,
    #[serde(default, borrow)]
    code: Option<Cow<'a, str>>,
    #[serde(default)]
    id: Option<i64>,
    #[serde(default, borrow)]
    client_id: Option<Cow<'a, str>>,
    #[serde(default)]
    retry_after_ms: Option<u64>,
    #[serde(default, borrow)]
    emoji: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    user: Option<Cow<'a, str>>,
    #[serde(default)]
    added: bool,
}

/// Parses one server text frame.
pub fn parse(text: &str) -> Result<Incoming<'_>, serde_json::Error> {
    let raw: RawFrame<'_> = serde_json::from_str(text)?;
    let id = raw.id.unwrap_or(-1);
    Ok(match raw.kind.as_ref() {
        "chat_message" => Incoming::Chat {
            text: raw.message.unwrap_or_default(),
            history: raw.history,
            id: raw.id,
            client_id: raw.client_id,
        },
        "user_list" => Incoming::UserList,
        "resumed" => Incoming::Resumed,
        "message_edited" => Incoming::Edited {
            id,
            text: raw.message.unwrap_or_default(),
        },
        "message_deleted" => Incoming::Deleted { id },
        "reaction" => Incoming::Reaction {
            id,
            emoji: raw.emoji.unwrap_or_default(),
            user: raw.user.unwrap_or_default(),
            added: raw.added,
        },
        "error" => Incoming::Error {
            code: raw.code.unwrap_or(Cow::Borrowed("?")),
            retry_after_ms: raw.retry_after_ms,
            client_id: raw.client_id,
        },
        _ => Incoming::Other,
    })
}

/// The client frame that posts `text` to the room.
pub fn chat_frame(text: &str) -> String {
    serde_json::json!({ "type": "chat_message", "message": text }).to_string()
}

/// The client frame that posts `text` with a `client_id` (servers that
/// know it echo it back and put it on the error frame answering the post;
/// older ones ignore it).
pub fn chat_frame_with_id(text: &str, client_id: &str) -> String {
    serde_json::json!({ "type": "chat_message", "message": text, "client_id": client_id })
        .to_string()
}

/// The identity and send time a benchmark message carries in its text:
/// `b:<run>:<stage>:<sender>:<seq>:<nanos>`, padded with `x` to a length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// Tells this run's messages from an earlier run's in the same room.
    pub run: u32,
    /// The stage (offered load) of the run.
    pub stage: u32,
    /// The sender, numbered across the whole run.
    pub sender: u32,
    /// The sender's sequence number within the stage, from 0.
    pub seq: u32,
    /// When it was sent (or due to be sent), from [`crate::clock`].
    pub sent_nanos: u64,
}

impl Stamp {
    /// The message text, padded to at least `size` bytes.
    pub fn encode(&self, size: usize) -> String {
        let mut text = format!(
            "b:{}:{}:{}:{}:{}",
            self.run, self.stage, self.sender, self.seq, self.sent_nanos
        );
        if text.len() < size {
            text.push(' ');
            let pad = size - text.len();
            text.extend(std::iter::repeat_n('x', pad));
        }
        text
    }

    /// Reads a stamp back; `None` for text that is not one.
    pub fn parse(text: &str) -> Option<Stamp> {
        let head = text.strip_prefix("b:")?.split(' ').next()?;
        let mut fields = head.split(':');
        let stamp = Stamp {
            run: fields.next()?.parse().ok()?,
            stage: fields.next()?.parse().ok()?,
            sender: fields.next()?.parse().ok()?,
            seq: fields.next()?.parse().ok()?,
            sent_nanos: fields.next()?.parse().ok()?,
        };
        fields.next().is_none().then_some(stamp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamp_round_trips_with_padding() {
        let stamp = Stamp {
            run: 7,
            stage: 2,
            sender: 41,
            seq: 1234,
            sent_nanos: 98_765_432_100,
        };
        let text = stamp.encode(64);
        assert_eq!(text.len(), 64);
        assert!(text.starts_with("b:7:2:41:1234:98765432100 x"));
        assert_eq!(Stamp::parse(&text), Some(stamp));
        assert_eq!(Stamp::parse(&stamp.encode(0)), Some(stamp));
    }

    #[test]
    fn posts_are_chat_message_frames() {
        assert_eq!(
            chat_frame("b:1 \"x\""),
            r#"{"message":"b:1 \"x\"","type":"chat_message"}"#
        );
    }

    #[test]
    fn posts_with_a_client_id() {
        assert_eq!(
            chat_frame_with_id("hi", "b1-2-3"),
            r#"{"client_id":"b1-2-3","message":"hi","type":"chat_message"}"#
        );
    }

    #[test]
    fn other_text_is_not_a_stamp() {
        assert_eq!(Stamp::parse("hello"), None);
        assert_eq!(Stamp::parse("b:1:2:3"), None);
        assert_eq!(Stamp::parse("b:1:2:3:4:5:6"), None);
        assert_eq!(Stamp::parse("b:1:2:x:4:5"), None);
    }

    #[test]
    fn frames_reduce_to_what_matters() {
        let chat = r#"{"type":"chat_message","id":3,"user":"a","message":"hi","created_at":"x","history":true}"#;
        assert_eq!(
            parse(chat).unwrap(),
            Incoming::Chat {
                text: "hi".into(),
                history: true,
                id: Some(3),
                client_id: None,
            }
        );
        let live = r#"{"type":"chat_message","id":4,"user":"a","message":"yo","created_at":"x"}"#;
        assert_eq!(
            parse(live).unwrap(),
            Incoming::Chat {
                text: "yo".into(),
                history: false,
                id: Some(4),
                client_id: None,
            }
        );
        assert_eq!(
            parse(r#"{"type":"user_list","users":["a","b"]}"#).unwrap(),
            Incoming::UserList
        );
        assert_eq!(
            parse(r#"{"type":"error","code":"rate_limited","message":"slow down"}"#).unwrap(),
            Incoming::Error {
                code: "rate_limited".into(),
                retry_after_ms: None,
                client_id: None,
            }
        );
        let refused = r#"{"type":"error","code":"rate_limited","message":"m","retry_after_ms":480,"client_id":"c1"}"#;
        assert_eq!(
            parse(refused).unwrap(),
            Incoming::Error {
                code: "rate_limited".into(),
                retry_after_ms: Some(480),
                client_id: Some("c1".into()),
            }
        );
        let echo = r#"{"type":"chat_message","id":5,"user":"a","message":"m","created_at":"x","client_id":"c1"}"#;
        assert!(matches!(
            parse(echo).unwrap(),
            Incoming::Chat { id: Some(5), client_id: Some(c), .. } if c == "c1"
        ));
        assert_eq!(
            parse(r#"{"type":"message_edited","id":5,"message":"n","edited_at":"x"}"#).unwrap(),
            Incoming::Edited {
                id: 5,
                text: "n".into()
            }
        );
        assert_eq!(
            parse(r#"{"type":"message_deleted","id":5}"#).unwrap(),
            Incoming::Deleted { id: 5 }
        );
        assert_eq!(
            parse(r#"{"type":"reaction","id":5,"emoji":"👍","user":"b","added":true,"count":1}"#)
                .unwrap(),
            Incoming::Reaction {
                id: 5,
                emoji: "👍".into(),
                user: "b".into(),
                added: true
            }
        );
        assert_eq!(
            parse(r#"{"type":"resumed","after":4,"has_more":false}"#).unwrap(),
            Incoming::Resumed
        );
        assert_eq!(
            parse(r#"{"type":"user_join","user":"b"}"#).unwrap(),
            Incoming::Other
        );
        assert!(parse("not json").is_err());
    }
}
