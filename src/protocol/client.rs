//! Frames from the browser.

use serde::Deserialize;

/// A frame a client may send.
///
/// Besides these typed frames, the original Channels tutorial client sends
/// `{"message": "..."}` with no `type`; [`parse`] reads that as
/// [`ClientFrame::ChatMessage`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    /// Post to the room (or, starting with `/pm <user> `, to one user).
    ChatMessage {
        /// The text as typed.
        message: String,
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

/// The tutorial client's frame: `{"message": "..."}`.
#[derive(Deserialize)]
struct UntypedChatMessage {
    message: String,
}

/// Parses one text frame.
pub fn parse(text: &str) -> Result<ClientFrame, FrameError> {
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
        });
    };
    match serde_json::from_str(text) {
        Ok(ClientFrame::Unknown) => Err(FrameError::UnknownType(kind)),
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
        }
    }

    #[test]
    fn the_tutorial_clients_untyped_frame_is_a_chat_message() {
        assert_eq!(parse(r#"{"message":"hello"}"#), Ok(chat("hello")));
    }

    #[test]
    fn typed_chat_message() {
        assert_eq!(
            parse(r#"{"type":"chat_message","message":"hi <b>"}"#),
            Ok(chat("hi <b>"))
        );
    }

    #[test]
    fn not_json_is_invalid_json() {
        for text in ["", "hello", "{\"message\":", "{'message': 'x'}"] {
            assert_eq!(
                parse(text).map_err(|e| e.code()),
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
                parse(text).map_err(|e| e.code()),
                Err(ErrorCode::InvalidFrame),
                "{text:?}"
            );
        }
    }

    #[test]
    fn unknown_types_are_named_in_the_error() {
        let err = parse(r#"{"type":"launch_rockets"}"#).unwrap_err();
        assert_eq!(err.code(), ErrorCode::UnknownType);
        assert!(err.to_string().contains("launch_rockets"));
    }
}
