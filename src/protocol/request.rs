//! Requests: client frames checked all the way down, so that the session
//! only dispatches and never validates.
//!
//! [`parse`] decodes a text frame ([`super::client`], which already bounds
//! a history request's limit and refuses `before` with `after`) and then
//! checks what is inside against the server's [`Limits`]: message text
//! (empty, too long), the `/pm` command and the emoji of a reaction, and
//! turns the history fields into a [`Window`].
//! What comes out is a [`Request`] made only of valid-by-construction
//! values; what does not is a [`RequestError`] with the code the client
//! gets back.

use super::client::{ClientFrame, FrameError, decode};
use super::command::{CommandError, PrivateCommand};
use super::server::ErrorCode;
use crate::domain::{
    ClientId, Emoji, EmojiError, MessageId, MessageText, MessageTextError, Username, Window,
};

/// The limits a request is checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest message, in characters.
    pub max_message_chars: usize,
}

/// One thing a client asks for, fully checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Post a message to the room.
    Post {
        /// What it says.
        text: MessageText,
        /// The client's name for the post: stored once per user, and
        /// carried by every answer to it.
        client_id: Option<ClientId>,
        /// The message of the room it replies to (checked by the room).
        reply_to: Option<MessageId>,
    },
    /// `/pm <user> <text>`: a post into the direct conversation with a user.
    Private {
        /// Who it is for.
        to: Username,
        /// What it says.
        text: MessageText,
        /// The client's name for it, carried by every answer to it and
        /// stored once, like a post's.
        client_id: Option<ClientId>,
    },
    /// A page of the log.
    History {
        /// Which part.
        window: Window,
        /// At most this many, 1 to [`HISTORY_LIMIT_MAX`](super::HISTORY_LIMIT_MAX).
        limit: u32,
    },
    /// Replace the text of one's own message.
    Edit {
        /// Which message.
        id: MessageId,
        /// The new text.
        text: MessageText,
    },
    /// Delete a message.
    Delete {
        /// Which message.
        id: MessageId,
    },
    /// Toggle one's reaction on a message.
    React {
        /// Which message.
        id: MessageId,
        /// With what.
        emoji: Emoji,
    },
    /// Everyone who reacted to a message with one emoji.
    Reactors {
        /// Which message.
        id: MessageId,
        /// Which emoji.
        emoji: Emoji,
    },
    /// The user started or stopped typing.
    Typing(bool),
    /// Move the user's read marker in this room forward to this message.
    Read(MessageId),
    /// Move the user's read marker back to just before this message.
    MarkUnread(MessageId),
}

impl Request {
    /// Whether the request changes the room's log (a post, an edit, a
    /// deletion or a reaction): what the per-user write allowance counts.
    pub fn is_write(&self) -> bool {
        matches!(
            self,
            Request::Post { .. }
                | Request::Edit { .. }
                | Request::Delete { .. }
                | Request::React { .. }
        )
    }

    /// The `client_id` the client gave a post (or private message), which
    /// every answer to it carries.
    pub fn client_id(&self) -> Option<&ClientId> {
        match self {
            Request::Post { client_id, .. } | Request::Private { client_id, .. } => {
                client_id.as_ref()
            }
            _ => None,
        }
    }
}

/// Why a text frame is not a request the server can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// Not a frame of a known shape.
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// The message text is empty or too long.
    #[error(transparent)]
    Text(#[from] MessageTextError),
    /// A `/pm` that is not understood.
    #[error(transparent)]
    Command(#[from] CommandError),
    /// A reaction that is not a single emoji.
    #[error(transparent)]
    Emoji(#[from] EmojiError),
}

impl RequestError {
    /// The stable code sent to the client in the `error` frame.
    pub fn code(&self) -> ErrorCode {
        match self {
            RequestError::Frame(e) => e.code(),
            RequestError::Text(MessageTextError::Empty) => ErrorCode::EmptyMessage,
            RequestError::Text(MessageTextError::TooLong { .. }) => ErrorCode::MessageTooLong,
            RequestError::Command(_) => ErrorCode::InvalidCommand,
            RequestError::Emoji(_) => ErrorCode::InvalidEmoji,
        }
    }
}

/// Parses one text frame into a checked request.
pub fn parse(text: &str, limits: &Limits) -> Result<Request, RequestError> {
    let checked = |text: String| MessageText::parse(text, limits.max_message_chars);
    Ok(match decode(text)? {
        ClientFrame::ChatMessage {
            message,
            client_id,
            reply_to,
        } => match PrivateCommand::parse(&message) {
            // A private message is not stored in the room's log: it has
            // nothing there to reply to, and `reply_to` is ignored.
            Some(command) => {
                let command = command?;
                Request::Private {
                    to: command.target,
                    text: checked(command.text)?,
                    client_id,
                }
            }
            None => Request::Post {
                text: checked(message)?,
                client_id,
                reply_to,
            },
        },
        ClientFrame::History {
            before,
            after,
            around,
            limit,
        } => {
            // `decode` refused more than one of the three.
            let window = match (before, after, around) {
                (Some(before), _, _) => Window::Before(before),
                (None, Some(after), _) => Window::After(after),
                (None, None, Some(around)) => Window::Around(around),
                (None, None, None) => Window::Latest,
            };
            Request::History { window, limit }
        }
        ClientFrame::EditMessage { id, message } => Request::Edit {
            id,
            text: checked(message)?,
        },
        ClientFrame::DeleteMessage { id } => Request::Delete { id },
        ClientFrame::React { id, emoji } => Request::React {
            id,
            emoji: Emoji::parse(&emoji)?,
        },
        ClientFrame::Reactors { id, emoji } => Request::Reactors {
            id,
            emoji: Emoji::parse(&emoji)?,
        },
        ClientFrame::Typing { typing } => Request::Typing(typing),
        ClientFrame::Read { message_id } => Request::Read(message_id),
        ClientFrame::MarkUnread { message_id } => Request::MarkUnread(message_id),
        // `decode` refuses unknown types with their name (`UnknownType`), so
        // this arm is never reached; it answers as a malformed frame rather
        // than panicking on input.
        ClientFrame::Unknown => {
            return Err(FrameError::Malformed("unknown frame".to_owned()).into());
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        max_message_chars: 10,
    };

    fn code(text: &str) -> Option<ErrorCode> {
        parse(text, &LIMITS).err().map(|e| e.code())
    }

    #[test]
    fn message_text_is_checked_wherever_it_appears() {
        assert!(matches!(
            parse(r#"{"message":"hi"}"#, &LIMITS),
            Ok(Request::Post { text, client_id: None, reply_to: None }) if text.as_str() == "hi"
        ));
        assert_eq!(code(r#"{"message":"   "}"#), Some(ErrorCode::EmptyMessage));
        assert_eq!(
            code(r#"{"message":"01234567890"}"#),
            Some(ErrorCode::MessageTooLong)
        );
        assert_eq!(
            code(r#"{"type":"edit_message","id":1,"message":""}"#),
            Some(ErrorCode::EmptyMessage)
        );
        assert_eq!(
            code(r#"{"message":"/pm bob 01234567890"}"#),
            Some(ErrorCode::MessageTooLong)
        );
    }

    #[test]
    fn private_messages_name_a_valid_user() {
        match parse(r#"{"message":"/pm bob hello"}"#, &LIMITS) {
            Ok(Request::Private { to, text, .. }) => {
                assert_eq!(to.as_str(), "bob");
                assert_eq!(text.as_str(), "hello");
            }
            other => panic!("not a private message: {other:?}"),
        }
        assert_eq!(
            code(r#"{"message":"/pm bob"}"#),
            Some(ErrorCode::InvalidCommand)
        );
    }

    #[test]
    fn reactions_must_be_emoji_and_history_windows_are_typed() {
        assert_eq!(
            code(r#"{"type":"react","id":1,"emoji":"ok"}"#),
            Some(ErrorCode::InvalidEmoji)
        );
        assert_eq!(
            code(r#"{"type":"reactors","id":1,"emoji":"ok"}"#),
            Some(ErrorCode::InvalidEmoji)
        );
        assert!(matches!(
            parse(r#"{"type":"reactors","id":1,"emoji":"👍"}"#, &LIMITS),
            Ok(Request::Reactors { id: MessageId(1), emoji }) if emoji.as_str() == "👍"
        ));
        assert_eq!(
            parse(r#"{"type":"history","before":7,"limit":5}"#, &LIMITS),
            Ok(Request::History {
                window: Window::Before(MessageId(7)),
                limit: 5
            })
        );
        assert_eq!(
            code(r#"{"type":"history","before":1,"after":2}"#),
            Some(ErrorCode::InvalidFrame)
        );
    }
}
