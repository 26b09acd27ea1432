//! Which part of a room's log a history page holds.

use super::MessageId;

/// A window on a room's log, as a `history` request or a join asks for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// The newest messages.
    Latest,
    /// The newest messages older than this id (scrolling back).
    Before(MessageId),
    /// The oldest messages newer than this id (catching up after a
    /// reconnect).
    After(MessageId),
}
