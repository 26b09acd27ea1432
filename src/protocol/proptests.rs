//! Property tests of the edge parsers: whatever a client sends, [`parse`],
//! [`decode`] and the `/pm` parser answer with a checked request or a typed
//! error, never a panic, and never a request outside the [`Limits`].
//!
//! The unit tests beside each parser pin the cases we thought of; these
//! throw arbitrary text and arbitrary JSON-shaped values at the same
//! functions (a few hundred cases each, so `cargo test` stays quick). The
//! same parsers have a cargo-fuzz target in `fuzz/` for long runs.

use super::client::{HISTORY_LIMIT_MAX, decode};
use super::command::{CommandError, PrivateCommand};
use super::request::{Limits, Request, parse};
use super::server::ErrorCode;
use crate::domain::{Emoji, MessageId, MessageText, Username, Window};
use proptest::prelude::*;
use serde_json::{Value, json};

/// A small limit, so generated text crosses it often.
const LIMITS: Limits = Limits {
    max_message_chars: 40,
};

/// Every `type` the server knows, plus a few it does not.
const TYPES: &[&str] = &[
    "chat_message",
    "history",
    "edit_message",
    "delete_message",
    "typing",
    "react",
    "reactors",
    "read",
    "mark_unread",
    "launch_rockets",
    "",
    "CHAT_MESSAGE",
];

/// Field names a frame may carry, plus strangers.
const KEYS: &[&str] = &[
    "type",
    "message",
    "id",
    "before",
    "after",
    "limit",
    "typing",
    "emoji",
    "client_id",
    "history",
    "message_id",
    "x",
];

/// What a parsed request must satisfy, whatever the input was.
fn assert_within_limits(request: &Request) {
    let text_ok = |t: &MessageText| {
        let s = t.as_str();
        assert!(
            s.chars().count() <= LIMITS.max_message_chars,
            "{s:?} is over the limit"
        );
        assert!(!s.trim().is_empty(), "blank text {s:?} was accepted");
    };
    match request {
        Request::Post { text: t, .. } | Request::Edit { text: t, .. } => text_ok(t),
        Request::Private { to, text, .. } => {
            text_ok(text);
            assert!(Username::parse(to.as_str()).is_ok(), "{to:?}");
        }
        Request::History { limit, .. } => {
            assert!((1..=HISTORY_LIMIT_MAX).contains(limit), "limit {limit}");
        }
        Request::React { emoji, .. } | Request::Reactors { emoji, .. } => {
            assert!(Emoji::parse(emoji.as_str()).is_ok(), "{emoji:?}");
        }
        Request::Delete { .. } | Request::Typing(_) | Request::Read(_) | Request::MarkUnread(_) => {
        }
    }
}

/// Codes a frame can be refused with before it reaches a room: anything
/// else (`internal`, `rate_limited`, …) would mean the parser claimed a
/// decision that is not its to make.
fn is_parse_code(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::InvalidJson
            | ErrorCode::InvalidFrame
            | ErrorCode::UnknownType
            | ErrorCode::EmptyMessage
            | ErrorCode::MessageTooLong
            | ErrorCode::InvalidCommand
            | ErrorCode::InvalidEmoji
    )
}

/// Runs [`parse`] and checks its answer is one of the two allowed kinds.
fn check_parse(text: &str) {
    match parse(text, &LIMITS) {
        Ok(request) => assert_within_limits(&request),
        Err(e) => assert!(is_parse_code(e.code()), "{text:?} gave {:?}", e.code()),
    }
}

/// The text of a post, wherever a change of [`Request::Post`]'s shape
/// would have to be followed.
fn posted(request: &Request) -> Option<&str> {
    match request {
        Request::Post { text, .. } => Some(text.as_str()),
        _ => None,
    }
}

/// Arbitrary JSON values, biased toward frame-like objects.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (0u64..200).prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        prop::sample::select(TYPES).prop_map(Value::from),
        ".{0,60}".prop_map(Value::from),
        prop::sample::select(&["👍", "❤", "ok", "👍👍", "/pm bob hi", " "][..])
            .prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![prop::sample::select(KEYS).prop_map(str::to_owned), ".{0,8}"],
                    inner
                ),
                0..6
            )
            .prop_map(|fields| Value::Object(fields.into_iter().collect())),
        ]
    })
}

/// A frame object: a known or unknown `type` and fields of any value.
fn frame_object() -> impl Strategy<Value = Value> {
    (
        prop::option::of(prop::sample::select(TYPES)),
        prop::collection::vec((prop::sample::select(KEYS), json_value()), 0..5),
    )
        .prop_map(|(kind, fields)| {
            let mut object: serde_json::Map<String, Value> =
                fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
            if let Some(kind) = kind {
                object.insert("type".to_owned(), Value::from(kind));
            }
            Value::Object(object)
        })
}

/// Message text with at least one visible character that is not a
/// command, up to `max` characters.
fn visible_text(max: usize) -> impl Strategy<Value = String> {
    (
        "[a-zA-Z0-9é😀]",
        prop::collection::vec(any::<char>(), 0..max),
    )
        .prop_map(|(first, rest)| {
            std::iter::once(first)
                .chain(rest.into_iter().map(String::from))
                .collect::<String>()
        })
        .prop_map(move |s: String| s.chars().take(max).collect())
}

fn username() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9._@+-]{1,32}"
}

fn emoji() -> impl Strategy<Value = &'static str> {
    prop::sample::select(&["👍", "❤️", "🎉", "👍🏽", "🇫🇷", "1️⃣"][..])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_is_a_request_or_a_typed_error(text in any::<String>()) {
        check_parse(&text);
        if let Err(e) = decode(&text) {
            prop_assert!(matches!(
                e.code(),
                ErrorCode::InvalidJson | ErrorCode::InvalidFrame | ErrorCode::UnknownType
            ));
        }
    }

    #[test]
    fn arbitrary_json_is_a_request_or_a_typed_error(value in json_value()) {
        check_parse(&value.to_string());
    }

    #[test]
    fn frame_shaped_objects_are_a_request_or_a_typed_error(value in frame_object()) {
        let text = value.to_string();
        check_parse(&text);
        // Not JSON is the only thing a JSON object can never be.
        if let Err(e) = parse(&text, &LIMITS) {
            prop_assert_ne!(e.code(), ErrorCode::InvalidJson);
        }
    }

    #[test]
    fn posts_round_trip(text in visible_text(LIMITS.max_message_chars), typed in any::<bool>()) {
        prop_assume!(PrivateCommand::parse(&text).is_none());
        let frame = if typed {
            json!({"type": "chat_message", "message": text})
        } else {
            json!({"message": text})
        };
        let request = parse(&frame.to_string(), &LIMITS);
        prop_assert_eq!(request.as_ref().ok().and_then(posted), Some(text.as_str()), "{:?}", request);
    }

    #[test]
    fn unknown_fields_are_ignored(text in visible_text(20), extra in json_value()) {
        prop_assume!(PrivateCommand::parse(&text).is_none());
        let frame = json!({"type": "chat_message", "message": text, "x_future": extra});
        let request = parse(&frame.to_string(), &LIMITS);
        prop_assert_eq!(request.as_ref().ok().and_then(posted), Some(text.as_str()));
    }

    #[test]
    fn messages_over_the_limit_are_refused_as_too_long(
        text in visible_text(LIMITS.max_message_chars + 60),
        id in 1i64..1_000_000,
        user in username(),
        how in 0u8..3,
    ) {
        prop_assume!(text.chars().count() > LIMITS.max_message_chars);
        prop_assume!(PrivateCommand::parse(&text).is_none());
        let frame = match how {
            0 => json!({"type": "chat_message", "message": text}),
            1 => json!({"type": "edit_message", "id": id, "message": text}),
            _ => json!({"type": "chat_message", "message": format!("/pm {user} {text}")}),
        };
        let code = parse(&frame.to_string(), &LIMITS).err().map(|e| e.code());
        prop_assert_eq!(code, Some(ErrorCode::MessageTooLong));
    }

    #[test]
    fn other_frames_round_trip(
        id in 1i64..(1 << 53),
        text in visible_text(LIMITS.max_message_chars),
        emoji in emoji(),
        limit in 1u32..=HISTORY_LIMIT_MAX,
        typing in any::<bool>(),
        window in 0u8..3,
    ) {
        let message_id = MessageId(id);
        let checked = |frame: Value| parse(&frame.to_string(), &LIMITS);
        prop_assert_eq!(
            checked(json!({"type": "edit_message", "id": id, "message": text})),
            Ok(Request::Edit { id: message_id, text: MessageText::parse(text.clone(), LIMITS.max_message_chars).map_err(|e| TestCaseError::fail(e.to_string()))? })
        );
        prop_assert_eq!(
            checked(json!({"type": "delete_message", "id": id})),
            Ok(Request::Delete { id: message_id })
        );
        let emoji_value = Emoji::parse(emoji).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(
            checked(json!({"type": "react", "id": id, "emoji": emoji})),
            Ok(Request::React { id: message_id, emoji: emoji_value.clone() })
        );
        prop_assert_eq!(
            checked(json!({"type": "reactors", "id": id, "emoji": emoji})),
            Ok(Request::Reactors { id: message_id, emoji: emoji_value })
        );
        prop_assert_eq!(
            checked(json!({"type": "typing", "typing": typing})),
            Ok(Request::Typing(typing))
        );
        let (frame, expected) = match window {
            0 => (json!({"type": "history", "limit": limit}), Window::Latest),
            1 => (json!({"type": "history", "before": id, "limit": limit}), Window::Before(message_id)),
            _ => (json!({"type": "history", "after": id, "limit": limit}), Window::After(message_id)),
        };
        prop_assert_eq!(checked(frame), Ok(Request::History { window: expected, limit }));
    }

    #[test]
    fn history_limits_outside_the_range_are_invalid_frames(limit in prop_oneof![Just(0i64), (i64::from(HISTORY_LIMIT_MAX) + 1)..i64::MAX, i64::MIN..0]) {
        let code = parse(&json!({"type": "history", "limit": limit}).to_string(), &LIMITS)
            .err()
            .map(|e| e.code());
        prop_assert_eq!(code, Some(ErrorCode::InvalidFrame));
    }

    #[test]
    fn arbitrary_text_after_pm_is_a_command_or_a_usage_error(rest in any::<String>()) {
        let text = format!("/pm{rest}");
        match PrivateCommand::parse(&text) {
            None => prop_assert!(!rest.is_empty() && !rest.starts_with(char::is_whitespace)),
            Some(Ok(command)) => {
                prop_assert!(Username::parse(command.target.as_str()).is_ok());
                prop_assert!(!command.text.trim().is_empty());
                prop_assert!(text.ends_with(&command.text));
                prop_assert!(text.contains(command.target.as_str()));
            }
            Some(Err(CommandError::Usage | CommandError::BadUser(_))) => {}
        }
        check_parse(&json!({"message": text}).to_string());
    }

    #[test]
    fn well_formed_pm_round_trips(
        user in username(),
        gap in "[ \t]{1,3}",
        text in visible_text(LIMITS.max_message_chars),
    ) {
        prop_assume!(!text.starts_with(char::is_whitespace));
        let frame = json!({"type": "chat_message", "message": format!("/pm {user}{gap}{text}")});
        let expected = Request::Private {
            to: Username::parse(&user).map_err(|e| TestCaseError::fail(e.to_string()))?,
            text: MessageText::parse(text.clone(), LIMITS.max_message_chars)
                .map_err(|e| TestCaseError::fail(e.to_string()))?,
            client_id: None,
        };
        prop_assert_eq!(parse(&frame.to_string(), &LIMITS), Ok(expected));
    }

    #[test]
    fn ordinary_text_is_never_a_command(text in any::<String>()) {
        prop_assume!(!text.starts_with("/pm"));
        prop_assert_eq!(PrivateCommand::parse(&text), None);
    }
}
