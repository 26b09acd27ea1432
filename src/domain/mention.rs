//! `@name` mentions in a message's text: which names a message mentions.
//!
//! The parser only finds names; whether a name is an account, and whether
//! that account may read the room, is decided where the post is stored
//! (`db/queries/mentions.rs`). The rules, chosen so that ordinary prose and
//! addresses do not turn into mentions:
//!
//! - A mention is `@` followed by a username (ASCII letters, digits and
//!   `. _ @ + -`, see [`Username`]) whose first character is a letter, a
//!   digit or `_`.
//! - The `@` starts the text or follows a character that cannot be part of
//!   a name: white space or punctuation such as `(`, `,`, `"`. So
//!   `email@x.y` and `a@b` are not mentions, `(@bob)` and `hi @bob,` are.
//! - The name runs as far as name characters go, then loses trailing
//!   `.`, `-`, `+` and `@` (the end of a sentence: `thanks @bob.` mentions
//!   `bob`). A name that ends in one of those cannot be mentioned.
//! - A name longer than [`Username::MAX_CHARS`] mentions nobody.
//! - Names count once each, compared as [`Username::folded`] (`@Bob` and
//!   `@bob` are one mention), in the order they first appear.

use super::Username;

/// Characters a username may contain besides ASCII letters and digits.
const NAME_PUNCTUATION: &str = "._@+-";

/// Characters a mentioned name may not end in: they end the sentence.
const TRAILING: &[char] = &['.', '-', '+', '@'];

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || NAME_PUNCTUATION.contains(c)
}

/// Whether `@` may start a mention after `prev`: not inside a word or an
/// address.
fn is_boundary(prev: Option<char>) -> bool {
    prev.is_none_or(|c| !(c.is_alphanumeric() || NAME_PUNCTUATION.contains(c)))
}

/// Where a mention is written in a text: the bytes `at` (from its `@` to
/// the end of the name) and the name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MentionSpan {
    /// Byte range of `@name` in the text.
    pub at: std::ops::Range<usize>,
    /// The name as written.
    pub name: Username,
}

/// Every `@name` written in `text`, in order, repeats included; see the
/// module's rules.
pub fn mention_spans(text: &str) -> Vec<MentionSpan> {
    let mut found = Vec::new();
    let mut prev: Option<char> = None;
    let mut chars = text.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        if c != '@' || !is_boundary(prev) {
            prev = Some(c);
            continue;
        }
        let start = at + 1;
        let mut end = start;
        while let Some(&(i, n)) = chars.peek() {
            if !is_name_char(n) {
                break;
            }
            end = i + n.len_utf8();
            prev = Some(n);
            chars.next();
        }
        if end == start {
            prev = Some(c);
            continue;
        }
        let name = text[start..end].trim_end_matches(TRAILING);
        let starts_well = name
            .chars()
            .next()
            .is_some_and(|first| first.is_ascii_alphanumeric() || first == '_');
        if !starts_well {
            continue;
        }
        if let Ok(parsed) = Username::parse(name) {
            found.push(MentionSpan {
                at: at..start + name.len(),
                name: parsed,
            });
        }
    }
    found
}

/// The names `text` mentions, each once (by [`Username::folded`]), in the
/// order they first appear; see the module's rules.
pub fn mentioned_names(text: &str) -> Vec<Username> {
    let mut found: Vec<Username> = Vec::new();
    for span in mention_spans(text) {
        if !found.iter().any(|seen| seen.folded() == span.name.folded()) {
            found.push(span.name);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn names(text: &str) -> Vec<String> {
        mentioned_names(text)
            .into_iter()
            .map(|n| n.as_str().to_owned())
            .collect()
    }

    #[test]
    fn a_name_after_at_is_a_mention() {
        assert_eq!(names("@bob"), ["bob"]);
        assert_eq!(names("hi @bob, look"), ["bob"]);
        assert_eq!(names("(@bob)"), ["bob"]);
        assert_eq!(names("\"@bob\" and @carol!"), ["bob", "carol"]);
        assert_eq!(names("line\n@bob"), ["bob"]);
        assert_eq!(names("@bob's idea"), ["bob"]);
    }

    #[test]
    fn sentence_punctuation_is_not_part_of_the_name() {
        assert_eq!(names("thanks @bob."), ["bob"]);
        assert_eq!(names("ask @bob..."), ["bob"]);
        assert_eq!(names("@bob- not now"), ["bob"]);
        assert_eq!(names("@bob: ok"), ["bob"]);
    }

    #[test]
    fn names_keep_their_inner_punctuation() {
        assert_eq!(names("cc @j.doe"), ["j.doe"]);
        assert_eq!(names("cc @ann_b+c-d"), ["ann_b+c-d"]);
        assert_eq!(names("cc @ann@example.com."), ["ann@example.com"]);
        assert_eq!(names("cc @_under"), ["_under"]);
    }

    #[test]
    fn addresses_and_lone_ats_are_not_mentions() {
        assert!(names("mail me at email@x.y").is_empty());
        assert!(names("a@b").is_empty());
        assert!(names("x.@bob").is_empty());
        assert!(names("@ bob").is_empty());
        assert!(names("@").is_empty());
        assert!(names("@@bob").is_empty());
        assert!(names("@.bob").is_empty());
        assert!(names("@-").is_empty());
        assert!(
            names("café@bob").is_empty(),
            "inside a word, whatever script"
        );
    }

    #[test]
    fn too_long_names_mention_nobody() {
        let long = "a".repeat(Username::MAX_CHARS + 1);
        assert!(names(&format!("@{long}")).is_empty());
        let longest = "a".repeat(Username::MAX_CHARS);
        assert_eq!(names(&format!("@{longest}")), [longest]);
    }

    #[test]
    fn each_name_counts_once_whatever_its_case() {
        assert_eq!(names("@Bob @bob @BOB @carol @bob"), ["Bob", "carol"]);
    }

    #[test]
    fn spans_cover_the_at_and_the_name_only() {
        let text = "hi @Bob. and (@bob)";
        let spans = mention_spans(text);
        let written: Vec<&str> = spans.iter().map(|s| &text[s.at.clone()]).collect();
        assert_eq!(written, ["@Bob", "@bob"]);
    }

    #[test]
    fn unicode_around_mentions_is_fine() {
        assert_eq!(names("👋 @bob ünd @carol"), ["bob", "carol"]);
        assert_eq!(names("@bob👋"), ["bob"]);
    }

    proptest! {
        #[test]
        fn never_panics_and_finds_only_valid_distinct_names(text in "\\PC{0,80}") {
            let found = mentioned_names(&text);
            let mut folded: Vec<String> = found.iter().map(Username::folded).collect();
            for name in &found {
                prop_assert!(Username::parse(name.as_str()).is_ok());
                let written = format!("@{}", name.as_str());
                prop_assert!(text.contains(&written));
            }
            folded.sort();
            folded.dedup();
            prop_assert_eq!(folded.len(), found.len());
        }

        #[test]
        fn a_name_between_spaces_is_found(
            before in "[a-z ]{0,10}",
            name in "[A-Za-z0-9_][A-Za-z0-9._+@-]{0,20}[A-Za-z0-9_]",
            after in "[a-z ,!?]{0,10}",
        ) {
            let text = format!("{before} @{name} {after}");
            let found = mentioned_names(&text);
            prop_assert!(found.iter().any(|n| n.as_str() == name));
        }

        #[test]
        fn an_at_inside_a_word_is_never_a_mention(
            word in "[A-Za-z0-9]{1,10}",
            name in "[a-z]{1,10}",
        ) {
            let text = format!("{word}@{name}");
            prop_assert!(mentioned_names(&text).is_empty());
        }
    }
}
