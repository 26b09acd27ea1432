//! The id a client gives a post, so that sending it again (after a lost
//! connection or a refusal) never stores it twice.

use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;

/// Longest `client_id`, in characters: room for a UUID (36) and then some.
pub const CLIENT_ID_MAX_CHARS: usize = 64;

/// Why a `client_id` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientIdError {
    /// Empty, or longer than [`CLIENT_ID_MAX_CHARS`].
    #[error("a client_id is 1 to {CLIENT_ID_MAX_CHARS} characters (a UUID, say), not {0}")]
    Length(usize),
}

/// A client's name for one of its posts: 1 to [`CLIENT_ID_MAX_CHARS`]
/// characters, chosen by the client (a UUID, say). Unique per user: the
/// server stores a post once per (user, `client_id`), and answers a repeat
/// with the message it stored.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(into = "String")]
pub struct ClientId(String);

impl ClientId {
    /// Accepts `raw` if it is 1 to [`CLIENT_ID_MAX_CHARS`] characters.
    pub fn parse(raw: String) -> Result<Self, ClientIdError> {
        let len = raw.chars().count();
        if len == 0 || len > CLIENT_ID_MAX_CHARS {
            return Err(ClientIdError::Length(len));
        }
        Ok(ClientId(raw))
    }

    /// A `client_id` read back from the database, where only parsed ones
    /// are written.
    pub fn from_stored(raw: String) -> Self {
        ClientId(raw)
    }

    /// The id as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ClientId {
    type Error = ClientIdError;

    fn try_from(raw: String) -> Result<Self, Self::Error> {
        ClientId::parse(raw)
    }
}

/// Read from JSON as a checked string; the error of anything else names
/// the field, so that the client's `invalid_frame` says what to fix.
impl<'de> Deserialize<'de> for ClientId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Checked;

        impl serde::de::Visitor<'_> for Checked {
            type Value = ClientId;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(
                    f,
                    "a client_id: a string of 1 to {CLIENT_ID_MAX_CHARS} characters"
                )
            }

            fn visit_str<E: serde::de::Error>(self, raw: &str) -> Result<ClientId, E> {
                ClientId::parse(raw.to_owned()).map_err(E::custom)
            }
        }

        deserializer.deserialize_str(Checked)
    }
}

impl From<ClientId> for String {
    fn from(id: ClientId) -> Self {
        id.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_id_is_one_to_64_characters() {
        assert!(ClientId::parse("0b6e1c1e-7d0f-4a51-9a53-2f1f4e8e9c11".into()).is_ok());
        assert!(ClientId::parse("é".repeat(64)).is_ok());
        assert_eq!(
            ClientId::parse(String::new()),
            Err(ClientIdError::Length(0))
        );
        assert_eq!(
            ClientId::parse("x".repeat(65)),
            Err(ClientIdError::Length(65))
        );
    }

    #[test]
    fn it_is_read_from_json_as_a_checked_string() {
        let id: ClientId = serde_json::from_str("\"abc\"").unwrap();
        assert_eq!(id.as_str(), "abc");
        let err = serde_json::from_str::<ClientId>("5").unwrap_err();
        assert!(err.to_string().contains("a client_id"), "{err}");
        let long = format!("\"{}\"", "x".repeat(65));
        let err = serde_json::from_str::<ClientId>(&long).unwrap_err();
        assert!(err.to_string().contains("1 to 64 characters"), "{err}");
    }
}
