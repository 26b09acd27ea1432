//! The text of a chat message.

/// Why a message text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageTextError {
    /// Empty, or only white space.
    #[error("the message is empty")]
    Empty,
    /// Over the configured limit.
    #[error("the message is {len} characters long; the limit is {max}")]
    TooLong {
        /// Characters sent.
        len: usize,
        /// The limit.
        max: usize,
    },
}

/// Message text that is not blank and fits the configured limit. Kept as
/// sent (inner and surrounding white space included), counted in Unicode
/// scalar values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageText(String);

impl MessageText {
    /// Accepts `raw` if it has visible content and at most `max_chars` characters.
    pub fn parse(raw: String, max_chars: usize) -> Result<Self, MessageTextError> {
        if raw.trim().is_empty() {
            return Err(MessageTextError::Empty);
        }
        let len = raw.chars().count();
        if len > max_chars {
            return Err(MessageTextError::TooLong {
                len,
                max: max_chars,
            });
        }
        Ok(MessageText(raw))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The text, owned.
    pub fn into_string(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_and_oversized_texts_are_refused() {
        assert_eq!(
            MessageText::parse(" \n\t".into(), 10),
            Err(MessageTextError::Empty)
        );
        assert_eq!(
            MessageText::parse("ééééé".into(), 4),
            Err(MessageTextError::TooLong { len: 5, max: 4 })
        );
        assert_eq!(
            MessageText::parse("ééééé".into(), 5).unwrap().as_str(),
            "ééééé"
        );
    }
}
