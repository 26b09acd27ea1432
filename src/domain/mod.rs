//! Values that are valid by construction.
//!
//! Input from forms, URLs and WebSocket frames is parsed into these types
//! once, at the edge; everything past the edge takes the typed value and
//! never checks again. Each `parse` says in its error what a person should
//! type instead.

mod client_id;
mod emoji;
mod highlight;
mod identity;
mod ids;
mod login;
mod mention;
mod message;
mod names;
mod password;
mod reason;
mod search_query;
mod window;

pub use client_id::{CLIENT_ID_MAX_CHARS, ClientId, ClientIdError};
pub use emoji::{Emoji, EmojiError};
pub use highlight::{EXCERPT_WORDS, Segment, highlight};
pub use identity::{Identity, RoomInfo};
pub use ids::{LoginId, MessageId, RoomId, UserId};
pub use login::{EndedLogins, LoginLifetime, LoginSecret};
pub use mention::{MentionSpan, mention_spans, mentioned_names};
pub use message::{MessageText, MessageTextError};
pub use names::{NameError, RoomName, Username};
pub use password::{Password, PasswordError};
pub use reason::{Reason, ReasonError};
pub use search_query::{Phrase, Place, SearchQuery, SearchQueryError};
pub use window::Window;
