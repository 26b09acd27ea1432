//! Room names and usernames: short, URL-safe, and checked once.
//!
//! A username is shown as it was typed, but two names count as one
//! account's when they differ only in case (`Alice`, `alice`) or look alike
//! (`aIice` with a capital I, `a1ice`, `rnary` and `mary`): see
//! [`Username::folded`] and [`Username::skeleton`], which the database
//! keeps in unique columns.

use super::UserId;
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
///
/// A direct conversation's room is named `@dm-<a>-<b>` after its two
/// participants' ids ([`RoomName::direct`]). [`RoomName::parse`] never
/// accepts `@`, so no room URL can reach one by its name: a conversation is
/// only ever opened as `/chat/@<user>/`.
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

    /// The name of the direct conversation between users `a` and `b`
    /// (either order; the same user twice for notes to self): the lower id
    /// first, so the pair has one name.
    pub fn direct(a: UserId, b: UserId) -> Self {
        let (low, high) = if a <= b { (a, b) } else { (b, a) };
        RoomName(format!("{}{low}-{high}", Self::DIRECT_PREFIX))
    }

    /// Accepts a room's name or a direct conversation's, as another
    /// instance may name either on the bus.
    pub fn parse_any(raw: &str) -> Result<Self, NameError> {
        let direct = raw
            .strip_prefix(Self::DIRECT_PREFIX)
            .and_then(|ids| ids.split_once('-'))
            .and_then(|(a, b)| Some((a.parse::<i32>().ok()?, b.parse::<i32>().ok()?)))
            .map(|(a, b)| Self::direct(UserId(a), UserId(b)));
        match direct {
            // Only the one spelling `direct` makes of the pair.
            Some(name) if name.0 == raw => Ok(name),
            _ => Self::parse(raw),
        }
    }

    /// Whether this is a direct conversation's name.
    pub fn is_direct(&self) -> bool {
        self.0.starts_with(Self::DIRECT_PREFIX)
    }

    /// What every direct conversation's name starts with.
    const DIRECT_PREFIX: &str = "@dm-";

    /// A name read back from the database, where only parsed names (and
    /// [direct](Self::direct) ones) are written.
    pub fn from_stored(name: String) -> Self {
        debug_assert!(
            name.starts_with(Self::DIRECT_PREFIX) || Self::parse(&name).is_ok(),
            "stored room name {name:?}"
        );
        RoomName(name)
    }
}

/// A user's login name: 1–32 ASCII letters, digits and `.` `_` `@` `+` `-`
/// (Django's set), shown as typed; unique up to case and look-alikes.
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

    /// The name in lower case: names equal here are one account, which
    /// logs in by any of them.
    pub fn folded(&self) -> String {
        // ASCII only (see `parse`), so lower case is all the folding and
        // normalization (NFKC) there is to do.
        self.0.to_ascii_lowercase()
    }

    /// What the name looks like: its confusable skeleton (Unicode TS #39,
    /// which maps `I`, `1` and `|` to `l`, `0` to `O`, `m` to `rn`), lower
    /// cased, and the skeleton of that. Names equal here would pass for
    /// each other on screen. The skeleton comes first because case hides
    /// look-alikes (`I` is an `l`, `i` is not): `aIice`, `AIice` and `alice`
    /// all end up as `alice`.
    pub fn skeleton(&self) -> String {
        use unicode_security::confusable_detection::skeleton;
        let shape: String = skeleton(&self.0).collect::<String>().to_lowercase();
        skeleton(&shape).collect()
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
    fn a_pair_has_one_direct_name_that_no_url_can_spell() {
        let name = RoomName::direct(UserId(7), UserId(3));
        assert_eq!(name.as_str(), "@dm-3-7");
        assert_eq!(name, RoomName::direct(UserId(3), UserId(7)));
        assert!(name.is_direct());
        assert_eq!(RoomName::direct(UserId(4), UserId(4)).as_str(), "@dm-4-4");
        assert!(RoomName::parse(name.as_str()).is_err());
        assert!(!RoomName::parse("dm-3-7").unwrap().is_direct());
        assert_eq!(RoomName::parse_any("@dm-3-7"), Ok(name));
        assert_eq!(RoomName::parse_any("lobby"), RoomName::parse("lobby"));
        for bad in ["@dm-7-3", "@dm-3-07", "@dm-3", "@dm-x-7", "@lobby"] {
            assert!(RoomName::parse_any(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_that_differ_in_case_fold_to_one() {
        let folded = |n: &str| Username::parse(n).unwrap().folded();
        assert_eq!(folded("Alice"), "alice");
        assert_eq!(folded("ALICE"), folded("alice"));
        assert_ne!(folded("aIice"), folded("alice"), "a look-alike, not a case");
    }

    #[test]
    fn look_alike_names_share_a_skeleton() {
        let skeleton = |n: &str| Username::parse(n).unwrap().skeleton();
        let alice = skeleton("alice");
        for like in ["aIice", "AIice", "Alice", "a1ice"] {
            assert_eq!(skeleton(like), alice, "{like}");
        }
        assert_eq!(skeleton("mary"), skeleton("rnary"));
        assert_eq!(skeleton("b0b"), skeleton("bob"));
        assert_ne!(skeleton("bob"), skeleton("rob"));
        assert_ne!(skeleton("alice"), skeleton("alicia"));
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
