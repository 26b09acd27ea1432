//! Room names and usernames: short, URL-safe, and checked once.

use serde::Serialize;
use std::fmt;

/// Why a name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// Nothing was given.
    #[error("{0} cannot be empty")]
    Empty(&'static str),
    /// More characters than allowed.
    #[error("{what} can be at most {max} characters long")]
    TooLong {
        /// Which kind of name.
        what: &'static str,
        /// The limit.
        max: usize,
    },
    /// A character outside the allowed set.
    #[error("{what} may only contain {allowed}")]
    BadCharacter {
        /// Which kind of name.
        what: &'static str,
        /// The allowed characters, in words.
        allowed: &'static str,
    },
}

fn check(
    raw: &str,
    what: &'static str,
    max: usize,
    allowed: &'static str,
    ok: impl Fn(char) -> bool,
) -> Result<(), NameError> {
    if raw.is_empty() {
        return Err(NameError::Empty(what));
    }
    if raw.chars().count() > max {
        return Err(NameError::TooLong { what, max });
    }
    if !raw.chars().all(ok) {
        return Err(NameError::BadCharacter { what, allowed });
    }
    Ok(())
}

/// A room's name: 1–64 ASCII letters, digits, `_` and `-` (the Channels
/// tutorial's `\w+` plus `-`), so it is safe in URLs and bus channel names.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct RoomName(String);

impl RoomName {
    /// The longest name allowed.
    pub const MAX_CHARS: usize = 64;

    /// Accepts a valid room name.
    pub fn parse(raw: &str) -> Result<Self, NameError> {
        check(
            raw,
            "a room name",
            Self::MAX_CHARS,
            "letters, digits, '_' and '-'",
            |c| c.is_ascii_alphanumeric() || c == '_' || c == '-',
        )?;
        Ok(RoomName(raw.to_owned()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A name read back from the database, where only parsed names are written.
    pub fn from_stored(name: String) -> Self {
        debug_assert!(Self::parse(&name).is_ok(), "stored room name {name:?}");
        RoomName(name)
    }
}

/// A user's login name: 1–32 ASCII letters, digits and `.` `_` `@` `+` `-`
/// (Django's set), case-sensitive.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Username(String);

impl Username {
    /// The longest username allowed.
    pub const MAX_CHARS: usize = 32;

    /// Accepts a valid username.
    pub fn parse(raw: &str) -> Result<Self, NameError> {
        check(
            raw,
            "a username",
            Self::MAX_CHARS,
            "letters, digits and . _ @ + -",
            |c| c.is_ascii_alphanumeric() || "._@+-".contains(c),
        )?;
        Ok(Username(raw.to_owned()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A name read back from the database, where only parsed names are written.
    pub fn from_stored(name: String) -> Self {
        debug_assert!(Self::parse(&name).is_ok(), "stored username {name:?}");
        Username(name)
    }
}

impl fmt::Display for RoomName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_names_follow_the_tutorial_pattern_plus_dash() {
        for ok in ["lobby", "a", "dev-ops_2", &"x".repeat(64)] {
            assert!(RoomName::parse(ok).is_ok(), "{ok}");
        }
        assert_eq!(RoomName::parse(""), Err(NameError::Empty("a room name")));
        assert!(matches!(
            RoomName::parse(&"x".repeat(65)),
            Err(NameError::TooLong { max: 64, .. })
        ));
        for bad in ["with space", "dot.ted", "slash/", "ünïcode", "<script>"] {
            assert!(
                matches!(RoomName::parse(bad), Err(NameError::BadCharacter { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn usernames_allow_djangos_characters() {
        assert!(Username::parse("alice.b+c@d-e_f").is_ok());
        assert!(Username::parse("al ice").is_err());
        assert!(Username::parse(&"a".repeat(33)).is_err());
        assert_eq!(
            Username::parse("bob").unwrap().to_string(),
            "bob",
            "displays as itself"
        );
    }
}
