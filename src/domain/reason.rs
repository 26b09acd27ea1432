//! Why a moderator acted, or why a user reports a message: the text the
//! affected user (or the moderators) are shown, bounded by
//! `CONFAB_MODERATION_REASON_MAX_CHARS`.

/// A reason: trimmed, at most a configured number of characters, with no
/// control characters but line breaks turned into spaces. May be empty
/// (moderators are not forced to explain a kick).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reason(String);

/// Why a reason was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReasonError {
    /// Longer than allowed.
    #[error("the reason is {len} characters long; at most {max} are allowed")]
    TooLong {
        /// Its length in characters.
        len: usize,
        /// The most allowed.
        max: usize,
    },
}

impl Reason {
    /// Parses `raw`, allowing at most `max_chars` characters after trimming.
    pub fn parse(raw: &str, max_chars: usize) -> Result<Self, ReasonError> {
        let text: String = raw
            .trim()
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let len = text.chars().count();
        if len > max_chars {
            return Err(ReasonError::TooLong {
                len,
                max: max_chars,
            });
        }
        Ok(Reason(text))
    }

    /// The text (may be empty).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether no reason was given.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_and_flattens_control_characters() {
        let reason = Reason::parse("  spam\nand more\t ", 100).unwrap();
        assert_eq!(reason.as_str(), "spam and more");
    }

    #[test]
    fn refuses_what_is_too_long() {
        assert_eq!(
            Reason::parse(&"é".repeat(11), 10),
            Err(ReasonError::TooLong { len: 11, max: 10 })
        );
        assert!(Reason::parse(&"é".repeat(10), 10).is_ok());
        assert!(Reason::parse("", 10).unwrap().is_empty());
    }
}
