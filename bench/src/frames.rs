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
    /// A `chat_message`; `history` marks the ones of a join burst.
    Chat { text: Cow<'a, str>, history: bool },
    /// The `user_list` that closes a join burst.
    UserList,
    /// An `error` frame: a request of ours was refused.
    Error { code: Cow<'a, str> },
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
}

/// Parses one server text frame.
pub fn parse(text: &str) -> Result<Incoming<'_>, serde_json::Error> {
    let raw: RawFrame<'_> = serde_json::from_str(text)?;
    Ok(match raw.kind.as_ref() {
        "chat_message" => Incoming::Chat {
            text: raw.message.unwrap_or_default(),
            history: raw.history,
        },
        "user_list" => Incoming::UserList,
        "error" => Incoming::Error {
            code: raw.code.unwrap_or(Cow::Borrowed("?")),
        },
        _ => Incoming::Other,
    })
}

/// The client frame that posts `text` to the room.
pub fn chat_frame(text: &str) -> String {
    serde_json::json!({ "type": "chat_message", "message": text }).to_string()
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
                history: true
            }
        );
        let live = r#"{"type":"chat_message","id":4,"user":"a","message":"yo","created_at":"x"}"#;
        assert_eq!(
            parse(live).unwrap(),
            Incoming::Chat {
                text: "yo".into(),
                history: false
            }
        );
        assert_eq!(
            parse(r#"{"type":"user_list","users":["a","b"]}"#).unwrap(),
            Incoming::UserList
        );
        assert_eq!(
            parse(r#"{"type":"error","code":"rate_limited","message":"slow down"}"#).unwrap(),
            Incoming::Error {
                code: "rate_limited".into()
            }
        );
        assert_eq!(
            parse(r#"{"type":"user_join","user":"b"}"#).unwrap(),
            Incoming::Other
        );
        assert!(parse("not json").is_err());
    }
}
