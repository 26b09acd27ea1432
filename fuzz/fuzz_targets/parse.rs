//! Fuzzes the WebSocket edge: `protocol::parse`, which decodes a text frame
//! (`protocol::decode`), reads a `/pm` command and checks every value
//! against the limits. Whatever the bytes, it must answer a request within
//! the limits or a typed error, and never panic. The property tests in
//! `src/protocol/proptests.rs` check the same in CI with fewer cases.
//!
//! `cargo +nightly fuzz run parse` from the repository root (see README).

#![no_main]

use confab::protocol::{Limits, Request, parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first byte picks the message limit, so short inputs cross it too.
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let limits = Limits {
        max_message_chars: usize::from(first % 64) + 1,
    };
    let Ok(request) = parse(text, &limits) else {
        return;
    };
    let within = |t: &str| t.chars().count() <= limits.max_message_chars && !t.trim().is_empty();
    match &request {
        Request::Post { text: t, .. } | Request::Edit { text: t, .. } | Request::Private { text: t, .. } => {
            assert!(within(t.as_str()), "{request:?} is outside {limits:?}");
        }
        Request::History { limit, .. } => {
            assert!((1..=confab::protocol::HISTORY_LIMIT_MAX).contains(limit));
        }
        _ => {}
    }
});
