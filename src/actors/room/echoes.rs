//! The echo of a post to the socket that sent it: the one frame of a
//! message that carries the post's `client_id`.
//!
//! A room publishes each new message once, as one frame shared by every
//! member on every instance; only the room that stored it knows which of its
//! sessions posted it. So it keeps, for each post it stored and has not yet
//! seen come back (from the bus, or from its catch-up when the bus did not
//! bring it), the sender's session and the frame with the `client_id`; when
//! the message is delivered, that session gets that frame in its place
//! among the others, and everyone else the shared one.

use crate::actors::delivery::SessionId;
use crate::domain::MessageId;
use bytestring::ByteString;
use std::collections::BTreeMap;

/// Echoes a room keeps waiting at most. A post's echo waits only for the
/// bus's round trip (or, in an outage, a catch-up about a second later),
/// so this many is far more than are ever due at once; past it the oldest
/// is dropped, and its sender gets the shared frame (without `client_id`),
/// which a client also recognizes by the message's id on a repeat.
const WAITING_ECHOES: usize = 1024;

/// Echoes due, by message id.
#[derive(Debug, Default)]
pub(super) struct Echoes(BTreeMap<MessageId, Echo>);

#[derive(Debug)]
pub(super) struct Echo {
    session: SessionId,
    frame: ByteString,
}

impl Echoes {
    /// When message `id` is delivered, `session` gets `frame` instead of
    /// the shared frame.
    pub(super) fn expect(&mut self, id: MessageId, session: SessionId, frame: ByteString) {
        self.0.insert(id, Echo { session, frame });
        while self.0.len() > WAITING_ECHOES {
            self.0.pop_first();
        }
    }

    /// The echo of message `id`, if one waits: looked up once per
    /// delivery of the message, not once per member.
    pub(super) fn waiting(&self, id: Option<MessageId>) -> Option<&Echo> {
        self.0.get(&id?)
    }

    /// The echo of message `id` was handed to its session: it is not
    /// handed out again.
    pub(super) fn delivered(&mut self, id: MessageId) {
        self.0.remove(&id);
    }
}

impl Echo {
    /// The frame of this message for `session`: the echo if it posted
    /// the message, else `shared`.
    pub(super) fn frame_for(
        echo: Option<&Echo>,
        session: SessionId,
        shared: &ByteString,
    ) -> ByteString {
        match echo {
            Some(echo) if echo.session == session => echo.frame.clone(),
            _ => shared.clone(),
        }
    }

    /// Whether `session` posted the message.
    pub(super) fn is_for(&self, session: SessionId) -> bool {
        self.session == session
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_sender_gets_its_echo_and_only_once() {
        let (sender, other) = (SessionId::next(), SessionId::next());
        let shared = ByteString::from_static("shared");
        let mut echoes = Echoes::default();
        echoes.expect(MessageId(5), sender, ByteString::from_static("echo"));
        assert!(echoes.waiting(None).is_none());
        let echo = echoes.waiting(Some(MessageId(5)));
        assert_eq!(Echo::frame_for(echo, other, &shared), "shared");
        assert_eq!(Echo::frame_for(echo, sender, &shared), "echo");
        echoes.delivered(MessageId(5));
        let again = echoes.waiting(Some(MessageId(5)));
        assert_eq!(Echo::frame_for(again, sender, &shared), "shared");
    }

    #[test]
    fn the_oldest_echoes_go_first_past_the_bound() {
        let sender = SessionId::next();
        let shared = ByteString::from_static("shared");
        let mut echoes = Echoes::default();
        for id in 0..=WAITING_ECHOES as i64 {
            echoes.expect(MessageId(id), sender, ByteString::from_static("echo"));
        }
        let first = echoes.waiting(Some(MessageId(0)));
        assert_eq!(Echo::frame_for(first, sender, &shared), "shared");
        let second = echoes.waiting(Some(MessageId(1)));
        assert_eq!(Echo::frame_for(second, sender, &shared), "echo");
    }
}
