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
        if raw.chars().all(|c| c.is_whitespace() || is_invisible(c)) {
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

/// Characters that take no space and show nothing: zero-width spaces and
/// joiners, the word joiner and byte-order mark, direction marks and
/// embeddings, and the blank fillers that render as nothing. A message of
/// these alone (and white space) would show as an empty line, so it is
/// refused as empty.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'                    // soft hyphen
            | '\u{034F}'              // combining grapheme joiner
            | '\u{061C}'              // Arabic letter mark
            | '\u{115F}' | '\u{1160}' // Hangul fillers
            | '\u{180E}'              // Mongolian vowel separator
            | '\u{200B}'..='\u{200F}' // zero-width space, joiners, LRM, RLM
            | '\u{202A}'..='\u{202E}' // bidi embeddings and overrides
            | '\u{2060}'..='\u{2064}' // word joiner, invisible operators
            | '\u{2066}'..='\u{206F}' // bidi isolates, deprecated formats
            | '\u{2800}'              // braille blank
            | '\u{3164}'              // Hangul filler
            | '\u{FE00}'..='\u{FE0F}' // variation selectors
            | '\u{FEFF}'              // byte-order mark
            | '\u{FFA0}'              // halfwidth Hangul filler
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invisible_characters_alone_are_empty() {
        for text in [
            "\u{200B}",
            "\u{202E}\u{2066} \u{200D}",
            "\u{FEFF}\n\u{2800}",
        ] {
            assert_eq!(
                MessageText::parse(text.into(), 10),
                Err(MessageTextError::Empty),
                "{text:?}"
            );
        }
        // With something visible, they stay (joiners build emoji).
        assert!(MessageText::parse("a\u{200B}b".into(), 10).is_ok());
        assert!(MessageText::parse("👨\u{200D}👩".into(), 10).is_ok());
    }

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
