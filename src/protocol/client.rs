//! Frames from the browser.

use crate::domain::{ClientId, MessageId};
use serde::Deserialize;

/// Most messages one `history` request may ask for.
pub const HISTORY_LIMIT_MAX: u32 = 100;

/// Messages a `history` request without a `limit` gets.
const HISTORY_LIMIT_DEFAULT: u32 = 50;

fn default_history_limit() -> u32 {
    HISTORY_LIMIT_DEFAULT
}

/// A frame a client may send.
///
/// Besides these typed frames, the original Channels tutorial client sends
/// `{"message": "..."}` with no `type`; [`parse`](super::parse) reads that as
/// [`ClientFrame::ChatMessage`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    /// Post to the room (or, starting with `/pm <user> `, to one user).
    ChatMessage {
        /// The text as typed.
        message: String,
        /// The client's name for this post, if it gave one: a repeat is
        /// not stored again, and every answer to it carries it.
        #[serde(default)]
        client_id: Option<ClientId>,
        /// The message of this room it answers, if it is a reply.
        #[serde(default)]
        reply_to: Option<MessageId>,
    },
    /// A page of the log: older than `before` (scroll-back), newer than
    /// `after` (catching up), around `around` (jumping to a message), or
    /// the newest with none.
    History {
        /// Only messages with a smaller id.
        #[serde(default)]
        before: Option<MessageId>,
        /// Only messages with a larger id.
        #[serde(default)]
        after: Option<MessageId>,
        /// The messages around this id, it included.
        #[serde(default)]
        around: Option<MessageId>,
        /// How many, 1 to [`HISTORY_LIMIT_MAX`].
        #[serde(default = "default_history_limit")]
        limit: u32,
    },
    /// Replace the text of one's own message.
    EditMessage {
        /// Which message.
        id: MessageId,
        /// The new text.
        message: String,
    },
    /// Delete a message (one's own, or any as staff).
    DeleteMessage {
        /// Which message.
        id: MessageId,
    },
    /// The user started or stopped typing.
    Typing {
        /// Whether they are typing now.
        typing: bool,
    },
    /// Toggle one's reaction on a message.
    React {
        /// Which message.
        id: MessageId,
        /// The emoji, validated by the receiver.
        emoji: String,
    },
    /// Who reacted to a message with one emoji (the full list).
    Reactors {
        /// Which message.
        id: MessageId,
        /// The emoji, validated by the receiver.
        emoji: String,
    },
    /// The user has read the room up to this message (it has been on
    /// screen in a focused tab): moves their read marker forward, never
    /// back.
    Read {
        /// The newest message read.
        message_id: MessageId,
    },
    /// "Mark as unread": moves the user's read marker back to just before
    /// this message.
    MarkUnread {
        /// The first message to count as unread again.
        message_id: MessageId,
    },
    /// Any `type` this server does not know.
    #[serde(other)]
    Unknown,
}

/// Why a text frame was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// Not JSON at all.
    #[error("the frame is not valid JSON: {0}")]
    NotJson(String),
    /// JSON, but not a frame of a known shape.
    #[error("the frame is malformed: {0}")]
    Malformed(String),
    /// A `type` this server does not know.
    #[error("unknown frame type {0:?}")]
    UnknownType(String),
}

impl FrameError {
    /// The stable code sent to the client in the `error` frame.
    pub fn code(&self) -> super::ErrorCode {
        use super::ErrorCode;
        match self {
            FrameError::NotJson(_) => ErrorCode::InvalidJson,
            FrameError::Malformed(_) => ErrorCode::InvalidFrame,
            FrameError::UnknownType(_) => ErrorCode::UnknownType,
        }
    }
}

/// Only the `type` of a frame, to tell the tutorial's untyped frame, a known
/// type and an unknown one apart before parsing the rest.
#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    kind: Option<String>,
}

/// The tutorial client's frame: `{"message": "..."}` (a client that
/// knows better may add a `client_id`).
#[derive(Deserialize)]
struct UntypedChatMessage {
    message: String,
    #[serde(default)]
    client_id: Option<ClientId>,
    #[serde(default)]
    reply_to: Option<MessageId>,
}

/// Only the fields that say which post a frame is, read without the rest.
#[derive(Deserialize)]
struct PostEnvelope {
    #[serde(rename = "type")]
    kind: Option<String>,
    client_id: Option<ClientId>,
}

/// The valid `client_id` of a post (a `chat_message` frame, typed or not)
/// that was refused, so that the error frame can say which post it
/// refuses; `None` if the text is not such a frame or has none.
pub fn post_client_id(text: &str) -> Option<ClientId> {
    let envelope: PostEnvelope = serde_json::from_str(text).ok()?;
    match envelope.kind.as_deref() {
        None | Some("chat_message") => envelope.client_id,
        Some(_) => None,
    }
}

/// Decodes one text frame into its wire shape; [`parse`](super::parse)
/// then checks what is inside.
pub fn decode(text: &str) -> Result<ClientFrame, FrameError> {
    let envelope: Envelope = serde_json::from_str(text).map_err(|e| {
        if e.is_data() {
            FrameError::Malformed("a frame must be a JSON object".to_owned())
        } else {
            FrameError::NotJson(e.to_string())
        }
    })?;
    let Some(kind) = envelope.kind else {
        let frame: UntypedChatMessage =
            serde_json::from_str(text).map_err(|e| FrameError::Malformed(e.to_string()))?;
        return Ok(ClientFrame::ChatMessage {
            message: frame.message,
            client_id: frame.client_id,
            reply_to: frame.reply_to,
        });
    };
    match serde_json::from_str(text) {
        Ok(ClientFrame::Unknown) => Err(FrameError::UnknownType(kind)),
        Ok(ClientFrame::History { limit, .. }) if !(1..=HISTORY_LIMIT_MAX).contains(&limit) => {
            Err(FrameError::Malformed(format!(
                "a history limit must be 1 to {HISTORY_LIMIT_MAX}, not {limit}"
            )))
        }
        Ok(ClientFrame::History {
            before,
            after,
            around,
            ..
        }) if [before, after, around].iter().flatten().count() > 1 => Err(FrameError::Malformed(
            "a history request takes one of `before`, `after` and `around`".to_owned(),
        )),
        Ok(frame) => Ok(frame),
        Err(e) => Err(FrameError::Malformed(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ErrorCode;

    fn chat(text: &str) -> ClientFrame {
        ClientFrame::ChatMessage {
            message: text.to_owned(),
            client_id: None,
            reply_to: None,
        }
    }

    #[test]
    fn the_tutorial_clients_untyped_frame_is_a_chat_message() {
        assert_eq!(decode(r#"{"message":"hello"}"#), Ok(chat("hello")));
    }

    #[test]
    fn typed_chat_message() {
        assert_eq!(
            decode(r#"{"type":"chat_message","message":"hi <b>"}"#),
            Ok(chat("hi <b>"))
        );
    }

    #[test]
    fn a_post_may_name_itself_with_a_client_id() {
        let id = ClientId::parse("c-1".into()).unwrap();
        let with_id = ClientFrame::ChatMessage {
            message: "hi".into(),
            client_id: Some(id.clone()),
            reply_to: None,
        };
        assert_eq!(
            decode(r#"{"type":"chat_message","message":"hi","client_id":"c-1"}"#),
            Ok(with_id.clone())
        );
        assert_eq!(decode(r#"{"message":"hi","client_id":"c-1"}"#), Ok(with_id));
        assert_eq!(
            decode(r#"{"type":"chat_message","message":"hi","client_id":null}"#),
            Ok(chat("hi"))
        );
        let long = format!(
            r#"{{"type":"chat_message","message":"hi","client_id":"{}"}}"#,
            "x".repeat(65)
        );
        for text in [
            long.as_str(),
            r#"{"type":"chat_message","message":"hi","client_id":7}"#,
            r#"{"type":"chat_message","message":"hi","client_id":""}"#,
            r#"{"message":"hi","client_id":["x"]}"#,
        ] {
            assert_eq!(
                decode(text).map_err(|e| e.code()),
                Err(ErrorCode::InvalidFrame),
                "{text:?}"
            );
        }
    }

    #[test]
    fn a_refused_post_still_says_which_it_was() {
        let id = |text: &str| post_client_id(text).map(|id| id.as_str().to_owned());
        assert_eq!(
            id(r#"{"type":"chat_message","message":5,"client_id":"c-2"}"#).as_deref(),
            Some("c-2")
        );
        assert_eq!(
            id(r#"{"message":"","client_id":"c-3"}"#).as_deref(),
            Some("c-3")
        );
        assert_eq!(id(r#"{"type":"history","client_id":"c-4"}"#), None);
        assert_eq!(id(r#"{"message":"x","client_id":""}"#), None);
        assert_eq!(id("not json"), None);
    }

    #[test]
    fn a_post_may_reply_to_a_message() {
        assert_eq!(
            decode(r#"{"type":"chat_message","message":"yes","reply_to":42}"#),
            Ok(ClientFrame::ChatMessage {
                message: "yes".into(),
                client_id: None,
                reply_to: Some(MessageId(42)),
            })
        );
        assert_eq!(
            decode(r#"{"message":"yes","reply_to":null}"#),
            Ok(chat("yes"))
        );
        for text in [
            r#"{"type":"chat_message","message":"x","reply_to":"42"}"#,
            r#"{"type":"chat_message","message":"x","reply_to":{"id":42}}"#,
        ] {
            assert_eq!(
                decode(text).map_err(|e| e.code()),
                Err(ErrorCode::InvalidFrame),
                "{text:?}"
            );
        }
    }

    #[test]
    fn not_json_is_invalid_json() {
        for text in ["", "hello", "{\"message\":", "{'message': 'x'}"] {
            assert_eq!(
                decode(text).map_err(|e| e.code()),
                Err(ErrorCode::InvalidJson),
                "{text:?}"
            );
        }
    }

    #[test]
    fn json_that_is_not_a_frame_is_invalid_frame() {
        for text in [
            "[1,2]",
            "\"message\"",
            "42",
            "null",
            "{}",
            r#"{"message": 5}"#,
            r#"{"type":"chat_message"}"#,
            r#"{"type": 7, "message": "x"}"#,
        ] {
            assert_eq!(
                decode(text).map_err(|e| e.code()),
                Err(ErrorCode::InvalidFrame),
                "{text:?}"
            );
        }
    }

    #[test]
    fn history_requests_default_and_bound_their_limit() {
        assert_eq!(
            decode(r#"{"type":"history"}"#),
            Ok(ClientFrame::History {
                before: None,
                after: None,
                around: None,
                limit: HISTORY_LIMIT_DEFAULT
            })
        );
        assert_eq!(
            decode(r#"{"type":"history","before":9,"limit":100}"#),
            Ok(ClientFrame::History {
                before: Some(MessageId(9)),
                after: None,
                around: None,
                limit: 100
            })
        );
        assert_eq!(
            decode(r#"{"type":"history","after":9}"#),
            Ok(ClientFrame::History {
                before: None,
                after: Some(MessageId(9)),
                around: None,
                limit: HISTORY_LIMIT_DEFAULT
            })
        );
        assert_eq!(
            decode(r#"{"type":"history","around":9,"limit":20}"#),
            Ok(ClientFrame::History {
                before: None,
                after: None,
                around: Some(MessageId(9)),
                limit: 20
            })
        );
        for text in [
            r#"{"type":"history","limit":0}"#,
            r#"{"type":"history","limit":101}"#,
            r#"{"type":"history","limit":-1}"#,
            r#"{"type":"history","before":"x"}"#,
            r#"{"type":"history","before":1,"after":2}"#,
            r#"{"type":"history","before":1,"around":2}"#,
            r#"{"type":"history","around":1,"after":2}"#,
            r#"{"type":"history","around":"x"}"#,
        ] {
            assert_eq!(
                decode(text).map_err(|e| e.code()),
                Err(ErrorCode::InvalidFrame),
                "{text:?}"
            );
        }
    }

    #[test]
    fn edit_delete_typing_and_react_frames() {
        assert_eq!(
            decode(r#"{"type":"edit_message","id":3,"message":"new"}"#),
            Ok(ClientFrame::EditMessage {
                id: MessageId(3),
                message: "new".into()
            })
        );
        assert_eq!(
            decode(r#"{"type":"delete_message","id":3}"#),
            Ok(ClientFrame::DeleteMessage { id: MessageId(3) })
        );
        assert_eq!(
            decode(r#"{"type":"typing","typing":true}"#),
            Ok(ClientFrame::Typing { typing: true })
        );
        assert_eq!(
            decode(r#"{"type":"react","id":3,"emoji":"👍"}"#),
            Ok(ClientFrame::React {
                id: MessageId(3),
                emoji: "👍".into()
            })
        );
        assert_eq!(
            decode(r#"{"type":"reactors","id":3,"emoji":"👍"}"#),
            Ok(ClientFrame::Reactors {
                id: MessageId(3),
                emoji: "👍".into()
            })
        );
        assert_eq!(
            decode(r#"{"type":"read","message_id":3}"#),
            Ok(ClientFrame::Read {
                message_id: MessageId(3)
            })
        );
        assert_eq!(
            decode(r#"{"type":"mark_unread","message_id":3}"#),
            Ok(ClientFrame::MarkUnread {
                message_id: MessageId(3)
            })
        );
        for text in [
            r#"{"type":"read"}"#,
            r#"{"type":"mark_unread","message_id":"3"}"#,
            r#"{"type":"reactors","id":3}"#,
            r#"{"type":"edit_message","id":3}"#,
            r#"{"type":"delete_message","id":"3"}"#,
            r#"{"type":"typing","typing":"yes"}"#,
            r#"{"type":"react","id":3}"#,
        ] {
            assert_eq!(
                decode(text).map_err(|e| e.code()),
                Err(ErrorCode::InvalidFrame),
                "{text:?}"
            );
        }
    }

    #[test]
    fn unknown_types_are_named_in_the_error() {
        let err = decode(r#"{"type":"launch_rockets"}"#).unwrap_err();
        assert_eq!(err.code(), ErrorCode::UnknownType);
        assert!(err.to_string().contains("launch_rockets"));
    }
}
