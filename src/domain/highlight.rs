//! The excerpt of a search result, with the words it matched marked.
//!
//! Done here, once, rather than by the databases' own functions (FTS5's
//! `snippet`, PostgreSQL's `ts_headline`): both backends then show the
//! same excerpt, PostgreSQL's parser cannot swallow text that looks like
//! HTML tags, and no marker characters travel inside user text. Words are
//! found as the indexes find them: runs of letters and digits, compared
//! without regard to case.

use super::SearchQuery;
use serde::Serialize;

/// Words an excerpt shows at most; a longer message is cut around its
/// first match, with `…` where it was cut.
pub const EXCERPT_WORDS: usize = 32;

/// Words shown before the first match, when the message is cut.
const LEAD_WORDS: usize = 8;

/// A piece of an excerpt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Segment {
    /// The text.
    pub text: String,
    /// Whether it is a word (or phrase) the search matched.
    #[serde(rename = "match")]
    pub matched: bool,
}

/// `text`'s excerpt for `query`: pieces in order, matched ones marked.
pub fn highlight(query: &SearchQuery, text: &str) -> Vec<Segment> {
    let words = word_spans(text);
    let folded: Vec<String> = words.iter().map(|&(a, b)| fold(&text[a..b])).collect();
    // Which words are part of a match.
    let mut marked = vec![false; words.len()];
    // Where each match starts: two matches side by side stay two pieces.
    let mut starts = vec![false; words.len()];
    for phrase in &query.phrases {
        let wanted: Vec<String> = word_spans(phrase.as_str())
            .iter()
            .map(|&(a, b)| fold(&phrase.as_str()[a..b]))
            .collect();
        if wanted.is_empty() || wanted.len() > folded.len() {
            continue;
        }
        for start in 0..=folded.len() - wanted.len() {
            if folded[start..start + wanted.len()] == wanted[..] {
                marked[start..start + wanted.len()].fill(true);
                starts[start] = true;
            }
        }
    }
    // The window of words shown.
    let (first, last) = if words.len() <= EXCERPT_WORDS {
        (0, words.len())
    } else {
        let hit = marked.iter().position(|&m| m).unwrap_or(0);
        let first = hit
            .saturating_sub(LEAD_WORDS)
            .min(words.len() - EXCERPT_WORDS);
        (first, first + EXCERPT_WORDS)
    };
    let from = if first == 0 { 0 } else { words[first].0 };
    let to = if last == words.len() {
        text.len()
    } else {
        words[last - 1].1
    };
    let mut out = Pieces::default();
    if first > 0 {
        out.push("…", false);
    }
    let mut at = from;
    let mut i = first;
    while i < last {
        if !marked[i] {
            i += 1;
            continue;
        }
        // The words of one match are one piece, with what lies between.
        let mut end = i;
        while end + 1 < last && marked[end + 1] && !starts[end + 1] {
            end += 1;
        }
        out.push(&text[at..words[i].0], false);
        out.push(&text[words[i].0..words[end].1], true);
        at = words[end].1;
        i = end + 1;
    }
    out.push(&text[at..to], false);
    if last < words.len() {
        out.push("…", false);
    }
    out.0
}

#[derive(Default)]
struct Pieces(Vec<Segment>);

impl Pieces {
    fn push(&mut self, text: &str, matched: bool) {
        if text.is_empty() {
            return;
        }
        match self.0.last_mut() {
            Some(last) if last.matched == matched => last.text.push_str(text),
            _ => self.0.push(Segment {
                text: text.to_owned(),
                matched,
            }),
        }
    }
}

/// The byte ranges of `text`'s words.
fn word_spans(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        match (c.is_alphanumeric(), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, text.len()));
    }
    out
}

fn fold(word: &str) -> String {
    word.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marked(q: &str, text: &str) -> String {
        let query = SearchQuery::parse(q, 256).expect("parses");
        highlight(&query, text)
            .into_iter()
            .map(|s| {
                if s.matched {
                    format!("[{}]", s.text)
                } else {
                    s.text
                }
            })
            .collect()
    }

    #[test]
    fn words_and_phrases_are_marked_whatever_their_case() {
        assert_eq!(
            marked("deploy friday", "The Deploy is on FRIDAY, deploy!"),
            "The [Deploy] is on [FRIDAY], [deploy]!"
        );
        assert_eq!(
            marked("\"release notes\"", "notes: release notes, release"),
            "notes: [release notes], release"
        );
        // Whole words only.
        assert_eq!(marked("dep", "deploy dep"), "deploy [dep]");
    }

    #[test]
    fn text_that_looks_like_markup_stays_as_typed() {
        assert_eq!(
            marked("claim", "<b>bold</b> claim & <i>"),
            "<b>bold</b> [claim] & <i>"
        );
    }

    #[test]
    fn long_messages_are_cut_around_the_first_match() {
        let text: Vec<String> = (0..100).map(|n| format!("w{n}")).collect();
        let text = text.join(" ");
        let excerpt = marked("w50", &text);
        assert!(excerpt.starts_with("…w42 "), "{excerpt}");
        assert!(excerpt.contains(" [w50] "), "{excerpt}");
        assert!(excerpt.ends_with(" w73…"), "{excerpt}");
        let start = marked("w0", &text);
        assert!(start.starts_with("[w0] w1"), "{start}");
        let end = marked("w99", &text);
        assert!(end.starts_with("…w68 ") && end.ends_with("[w99]"), "{end}");
        // Filters alone mark nothing and show the start.
        assert!(marked("from:alice", &text).starts_with("w0 w1"));
    }
}
