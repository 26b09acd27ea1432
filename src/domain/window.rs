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
    /// The messages around this id, it included (jumping to a message: a
    /// reply's original, a search result, a mention): about half older,
    /// half newer. The id need not be a live message; the page is then
    /// around where it was.
    Around(MessageId),
}
