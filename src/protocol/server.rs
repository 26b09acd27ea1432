//! Frames to the browser.

use crate::domain::{MessageId, Username};
use bytestring::ByteString;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// A chat message as clients see it, live or from history.
#[derive(Debug, Clone, Serialize)]
pub struct MessageView {
    /// Database id; increases within a room.
    pub id: MessageId,
    /// Author.
    pub user: Username,
    /// Text as posted.
    pub message: String,
    /// When it was posted, RFC 3339 in UTC.
    #[serde(serialize_with = "rfc3339")]
    pub created_at: DateTime<Utc>,
    /// Sent as part of the history on join rather than live.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub history: bool,
}

/// Stable, machine-readable reasons in `error` frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The frame was not JSON.
    InvalidJson,
    /// JSON, but not a known frame shape.
    InvalidFrame,
    /// A `type` the server does not know.
    UnknownType,
    /// Binary frames are not part of the protocol.
    BinaryNotSupported,
    /// The message was blank.
    EmptyMessage,
    /// The message was over the configured length.
    MessageTooLong,
    /// `/pm` without a user or text.
    InvalidCommand,
    /// The `/pm` target is not online.
    UserNotOnline,
    /// The client sent faster than the room could store.
    RateLimited,
    /// Something went wrong on the server; the message was not stored.
    Internal,
}

/// A frame the server sends.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// A message in the room.
    ChatMessage(MessageView),
    /// Everyone online in the room, sent on join.
    UserList {
        /// Usernames, sorted, each once.
        users: Vec<Username>,
    },
    /// A user's first connection to the room opened.
    UserJoin {
        /// Who.
        user: Username,
    },
    /// A user's last connection to the room closed.
    UserLeave {
        /// Who.
        user: Username,
    },
    /// A private message to the receiving user.
    PrivateMessage {
        /// The sender.
        user: Username,
        /// The text.
        message: String,
    },
    /// Confirms to the sender that a private message went out.
    PrivateMessageDelivered {
        /// The recipient.
        target: Username,
        /// The text.
        message: String,
    },
    /// Something the client sent was refused; the connection carries on.
    Error {
        /// Machine-readable reason.
        code: ErrorCode,
        /// Human-readable explanation.
        message: String,
    },
}

fn rfc3339<S: serde::Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

/// Serializes a frame once; the result is cheap to clone for every recipient.
pub fn encode(frame: &ServerFrame) -> ByteString {
    match serde_json::to_string(frame) {
        Ok(text) => ByteString::from(text),
        // Every field is a plain string, number or bool: serde_json cannot
        // fail on these types. Should it ever, log it and send a generic error.
        Err(e) => {
            log::error!("could not encode {frame:?}: {e}");
            ByteString::from_static(
                r#"{"type":"error","code":"internal","message":"server error"}"#,
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str) -> Username {
        Username::parse(name).unwrap()
    }

    #[test]
    fn chat_message_has_the_tutorial_fields_plus_id_and_time() {
        let frame = ServerFrame::ChatMessage(MessageView {
            id: MessageId(7),
            user: user("alice"),
            message: "hi".into(),
            created_at: DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
            history: false,
        });
        assert_eq!(
            &*encode(&frame),
            r#"{"type":"chat_message","id":7,"user":"alice","message":"hi","created_at":"2023-11-14T22:13:20.000Z"}"#
        );
    }

    #[test]
    fn history_messages_are_marked() {
        let frame = ServerFrame::ChatMessage(MessageView {
            id: MessageId(1),
            user: user("bob"),
            message: "old".into(),
            created_at: DateTime::from_timestamp(0, 0).unwrap(),
            history: true,
        });
        assert!(encode(&frame).contains(r#""history":true"#));
    }

    #[test]
    fn error_codes_are_snake_case() {
        let frame = ServerFrame::Error {
            code: ErrorCode::MessageTooLong,
            message: "too long".into(),
        };
        assert_eq!(
            &*encode(&frame),
            r#"{"type":"error","code":"message_too_long","message":"too long"}"#
        );
    }

    #[test]
    fn presence_frames() {
        let frame = ServerFrame::UserList {
            users: vec![user("a"), user("b")],
        };
        assert_eq!(
            &*encode(&frame),
            r#"{"type":"user_list","users":["a","b"]}"#
        );
        let frame = ServerFrame::UserJoin { user: user("a") };
        assert_eq!(&*encode(&frame), r#"{"type":"user_join","user":"a"}"#);
    }
}
