//! What a person types into the search box, parsed once into a
//! [`SearchQuery`] that the database layer turns into SQL.
//!
//! The syntax, as the search page explains it:
//!
//! - words: messages that contain every one (`deploy friday`);
//! - `"a phrase"`: those words next to each other, in that order;
//! - `from:alice`: written by alice;
//! - `in:general`: in the room #general; `in:@bob`: in my conversation
//!   with bob;
//! - `after:2026-12-01`: posted on that day or later (UTC);
//! - `before:2026-12-06`: posted before that day (UTC), so
//!   `after:2026-12-01 before:2026-12-06` is the first five days of December.
//!
//! A `key:value` whose key is none of these is a word like any other
//! (`http://…`, `note:`). Words are matched whole, case-insensitively;
//! punctuation separates them, as the index does.

use super::{RoomName, Username};
use chrono::NaiveDate;

/// A parsed search.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SearchQuery {
    /// Words and phrases that every result contains, in the order typed.
    pub phrases: Vec<Phrase>,
    /// `from:`: only messages by this user.
    pub from: Option<Username>,
    /// `in:`: only messages in this room or conversation.
    pub place: Option<Place>,
    /// `after:`: only messages posted on this day or later.
    pub after: Option<NaiveDate>,
    /// `before:`: only messages posted before this day.
    pub before: Option<NaiveDate>,
}

/// Where `in:` looks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// `in:general`: a room.
    Room(RoomName),
    /// `in:@bob`: my direct conversation with this user.
    Direct(Username),
}

/// One word, or several in quotes that must appear together in order.
/// Always has at least one letter or digit: punctuation alone matches
/// nothing in either index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phrase(String);

impl Phrase {
    /// The words as typed (without the quotes).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Why a search could not be understood, as a person should hear it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SearchQueryError {
    /// Nothing to search for.
    #[error("type a word to search for, or a filter such as from:name")]
    Empty,
    /// Longer than `CONFAB_SEARCH_MAX_QUERY_CHARS`.
    #[error("the search is {len} characters long; the limit is {max}")]
    TooLong {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A `"` without its closing partner.
    #[error("a quote is not closed: end the phrase with \"")]
    UnclosedQuote,
    /// `from:` or `in:` with nothing after it.
    #[error("the filter {key}: needs a value, as in {example}")]
    MissingValue {
        /// The filter.
        key: &'static str,
        /// How to write it.
        example: &'static str,
    },
    /// The same filter twice.
    #[error("the filter {key}: can be used only once")]
    Repeated {
        /// The filter.
        key: &'static str,
    },
    /// `before:` or `after:` with something that is not a date.
    #[error("the date in {key}:{value} is not one; write it as YYYY-MM-DD, e.g. {key}:2026-12-01")]
    BadDate {
        /// The filter.
        key: &'static str,
        /// What was typed.
        value: String,
    },
    /// `from:` or `in:@` with something no user can be called.
    #[error("no user can be called {value} (in {key}:{value}): {reason}")]
    BadUser {
        /// The filter.
        key: &'static str,
        /// What was typed.
        value: String,
        /// Why the name cannot be.
        reason: String,
    },
    /// `in:` with something no room can be called.
    #[error("no room can be called {value} (in in:{value}): {reason}")]
    BadRoom {
        /// What was typed.
        value: String,
        /// Why the name cannot be.
        reason: String,
    },
    /// `after:` on or after `before:`: nothing could match.
    #[error("nothing can match: after:{after} is not earlier than before:{before}")]
    EmptyRange {
        /// The `after:` day.
        after: NaiveDate,
        /// The `before:` day.
        before: NaiveDate,
    },
}

impl SearchQuery {
    /// Parses `raw`, at most `max_chars` characters long.
    pub fn parse(raw: &str, max_chars: usize) -> Result<Self, SearchQueryError> {
        let len = raw.chars().count();
        if len > max_chars {
            return Err(SearchQueryError::TooLong {
                len,
                max: max_chars,
            });
        }
        let mut query = SearchQuery::default();
        for token in tokens(raw)? {
            match token {
                Token::Quoted(text) => query.push_phrase(text),
                Token::Bare(word) => query.take_word(word)?,
            }
        }
        if let (Some(after), Some(before)) = (query.after, query.before)
            && after >= before
        {
            return Err(SearchQueryError::EmptyRange { after, before });
        }
        if query.phrases.is_empty() && !query.has_filters() {
            return Err(SearchQueryError::Empty);
        }
        Ok(query)
    }

    /// Whether any filter (`from:`, `in:`, dates) is set.
    pub fn has_filters(&self) -> bool {
        self.from.is_some() || self.place.is_some() || self.after.is_some() || self.before.is_some()
    }

    fn push_phrase(&mut self, text: &str) {
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        if text.chars().any(char::is_alphanumeric) {
            self.phrases.push(Phrase(text));
        }
    }

    fn take_word(&mut self, word: &str) -> Result<(), SearchQueryError> {
        let Some((key, value)) = word.split_once(':') else {
            self.push_phrase(word);
            return Ok(());
        };
        match key.to_ascii_lowercase().as_str() {
            "from" => {
                let name = required(value, "from", "from:alice")?;
                let user = user(name, "from")?;
                set_once(&mut self.from, user, "from")
            }
            "in" => {
                let name = required(value, "in", "in:general or in:@bob")?;
                let place = match name.strip_prefix('@') {
                    Some(other) => Place::Direct(user(other, "in")?),
                    None => Place::Room(RoomName::parse(name).map_err(|e| {
                        SearchQueryError::BadRoom {
                            value: name.to_owned(),
                            reason: e.to_string(),
                        }
                    })?),
                };
                set_once(&mut self.place, place, "in")
            }
            "after" => set_once(&mut self.after, date(value, "after")?, "after"),
            "before" => set_once(&mut self.before, date(value, "before")?, "before"),
            _ => {
                self.push_phrase(word);
                Ok(())
            }
        }
    }
}

fn required<'a>(
    value: &'a str,
    key: &'static str,
    example: &'static str,
) -> Result<&'a str, SearchQueryError> {
    if value.is_empty() {
        return Err(SearchQueryError::MissingValue { key, example });
    }
    Ok(value)
}

fn user(name: &str, key: &'static str) -> Result<Username, SearchQueryError> {
    Username::parse(name).map_err(|e| SearchQueryError::BadUser {
        key,
        value: name.to_owned(),
        reason: e.to_string(),
    })
}

fn date(value: &str, key: &'static str) -> Result<NaiveDate, SearchQueryError> {
    NaiveDate::parse_from_str(value, "%Y-%m-%d").map_err(|_| SearchQueryError::BadDate {
        key,
        value: value.to_owned(),
    })
}

fn set_once<T>(slot: &mut Option<T>, value: T, key: &'static str) -> Result<(), SearchQueryError> {
    if slot.is_some() {
        return Err(SearchQueryError::Repeated { key });
    }
    *slot = Some(value);
    Ok(())
}

enum Token<'a> {
    /// Between quotes.
    Quoted(&'a str),
    /// Anything else, up to white space or a quote.
    Bare(&'a str),
}

/// Splits `raw` at white space, keeping `"…"` together.
fn tokens(raw: &str) -> Result<Vec<Token<'_>>, SearchQueryError> {
    let mut out = Vec::new();
    let mut rest = raw;
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            return Ok(out);
        }
        if let Some(quoted) = rest.strip_prefix('"') {
            let end = quoted.find('"').ok_or(SearchQueryError::UnclosedQuote)?;
            out.push(Token::Quoted(&quoted[..end]));
            rest = &quoted[end + 1..];
        } else {
            let end = rest
                .find(|c: char| c.is_whitespace() || c == '"')
                .unwrap_or(rest.len());
            out.push(Token::Bare(&rest[..end]));
            rest = &rest[end..];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str) -> Result<SearchQuery, SearchQueryError> {
        SearchQuery::parse(raw, 256)
    }

    fn phrases(raw: &str) -> Vec<String> {
        parse(raw)
            .expect("parses")
            .phrases
            .iter()
            .map(|p| p.as_str().to_owned())
            .collect()
    }

    #[test]
    fn words_and_quoted_phrases_are_kept_in_order() {
        assert_eq!(
            phrases(r#"deploy  "release   notes" Friday"#),
            ["deploy", "release notes", "Friday"]
        );
        assert_eq!(phrases(r#"a"b c"d"#), ["a", "b c", "d"]);
    }

    #[test]
    fn punctuation_alone_is_not_a_word() {
        assert_eq!(phrases(r#"deploy !!! "" "-" ?"#), ["deploy"]);
        assert_eq!(parse("!!! ?"), Err(SearchQueryError::Empty));
        assert_eq!(parse("   "), Err(SearchQueryError::Empty));
    }

    #[test]
    fn filters_are_parsed_into_typed_values() {
        let q = parse("from:alice in:general after:2026-12-01 before:2026-12-06 lunch").unwrap();
        assert_eq!(q.from.unwrap().as_str(), "alice");
        assert_eq!(
            q.place,
            Some(Place::Room(RoomName::parse("general").unwrap()))
        );
        assert_eq!(q.after, NaiveDate::from_ymd_opt(2026, 12, 1));
        assert_eq!(q.before, NaiveDate::from_ymd_opt(2026, 12, 6));
        assert_eq!(q.phrases, [Phrase("lunch".into())]);
        let dm = parse("in:@bob FROM:bob").unwrap();
        assert_eq!(
            dm.place,
            Some(Place::Direct(Username::parse("bob").unwrap()))
        );
        assert!(dm.phrases.is_empty(), "filters alone are a search");
    }

    #[test]
    fn unknown_keys_are_words() {
        assert_eq!(
            phrases("https://example.com note:"),
            ["https://example.com", "note:"]
        );
    }

    #[test]
    fn bad_syntax_is_explained() {
        assert_eq!(parse(r#"say "hello"#), Err(SearchQueryError::UnclosedQuote));
        assert!(matches!(
            parse("from:"),
            Err(SearchQueryError::MissingValue { key: "from", .. })
        ));
        assert!(matches!(
            parse("in:"),
            Err(SearchQueryError::MissingValue { key: "in", .. })
        ));
        assert!(matches!(
            parse("from:a from:b"),
            Err(SearchQueryError::Repeated { key: "from" })
        ));
        assert!(matches!(
            parse("before:yesterday"),
            Err(SearchQueryError::BadDate { key: "before", .. })
        ));
        assert!(matches!(
            parse("after:2026-13-01"),
            Err(SearchQueryError::BadDate { key: "after", .. })
        ));
        assert!(matches!(
            parse("in:no#room"),
            Err(SearchQueryError::BadRoom { .. })
        ));
        assert!(matches!(
            parse("in:@"),
            Err(SearchQueryError::BadUser { key: "in", .. })
        ));
        assert!(matches!(
            parse("after:2026-12-06 before:2026-12-06"),
            Err(SearchQueryError::EmptyRange { .. })
        ));
        assert_eq!(
            SearchQuery::parse("abcdef", 5),
            Err(SearchQueryError::TooLong { len: 6, max: 5 })
        );
        let said = parse("before:soon").unwrap_err().to_string();
        assert!(said.contains("YYYY-MM-DD"), "{said}");
    }
}
