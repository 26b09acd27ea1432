//! The emoji of a reaction.

use unicode_segmentation::UnicodeSegmentation;

/// Longest emoji accepted, in bytes. The longest sequences in the Unicode
/// emoji list (families, flags of subdivisions) are around 35 bytes.
const MAX_BYTES: usize = 64;

/// Why a reaction's emoji was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmojiError {
    /// Nothing, several characters, or something that is not an emoji.
    #[error("a reaction must be a single emoji, such as 👍")]
    NotAnEmoji,
}

/// One emoji from the Unicode emoji list: a single grapheme cluster, skin
/// tones and joined sequences included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Emoji(String);

impl Emoji {
    /// Accepts `raw` if it is exactly one emoji.
    pub fn parse(raw: &str) -> Result<Self, EmojiError> {
        if raw.is_empty() || raw.len() > MAX_BYTES || raw.graphemes(true).count() != 1 {
            return Err(EmojiError::NotAnEmoji);
        }
        // Browsers' pickers send the fully qualified form; a bare symbol
        // such as "❤" is accepted as its emoji presentation "❤️".
        let known = emojis::get(raw).or_else(|| {
            let qualified = format!("{raw}\u{fe0f}");
            emojis::get(&qualified).filter(|e| e.as_str() == qualified)
        });
        match known {
            Some(emoji) => Ok(Emoji(emoji.as_str().to_owned())),
            None => Err(EmojiError::NotAnEmoji),
        }
    }

    /// The emoji.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_emoji_are_accepted() {
        for e in ["👍", "❤️", "🎉", "👍🏽", "👨‍👩‍👧‍👦", "🇫🇷", "1️⃣"]
        {
            assert_eq!(
                Emoji::parse(e).map(|e| e.as_str().to_owned()),
                Ok(e.to_owned()),
                "{e}"
            );
        }
    }

    #[test]
    fn bare_symbols_get_their_emoji_form() {
        assert_eq!(Emoji::parse("❤").unwrap().as_str(), "❤️");
    }

    #[test]
    fn anything_else_is_refused() {
        for e in [
            "",
            "a",
            "ok",
            "👍👍",
            "👍 ",
            "<script>",
            "1",
            "\u{fe0f}",
            &"👍".repeat(40),
        ] {
            assert_eq!(Emoji::parse(e), Err(EmojiError::NotAnEmoji), "{e:?}");
        }
    }
}
