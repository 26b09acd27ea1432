//! Nothing a client sends can break its connection, its room or the server:
//! bad frames get typed errors, refused handshakes get HTTP statuses, and a
//! client that stops reading is cut off alone.

use crate::common::{self, Event, TestApp};
use serde_json::json;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

fn status_of(result: Result<common::Ws, WsError>) -> u16 {
    match result {
        Err(WsError::Http(response)) => response.status().as_u16(),
        Err(other) => panic!("expected an HTTP refusal, got {other}"),
        Ok(_) => panic!("the handshake was accepted"),
    }
}

on_every_backend!(every_kind_of_bad_frame_gets_a_typed_error_and_the_connection_carries_on);
async fn every_kind_of_bad_frame_gets_a_typed_error_and_the_connection_carries_on() {
    let app = TestApp::spawn().await;
    let [mut a, mut b] = app.members("lobby", ["alice", "bob"]).await;

    let too_long = "x".repeat(4001);
    let cases: Vec<(Message, &str)> = vec![
        (Message::text("not json"), "invalid_json"),
        (Message::text("{\"message\":"), "invalid_json"),
        (Message::text("[1,2,3]"), "invalid_frame"),
        (
            Message::text("{\"type\":\"chat_message\"}"),
            "invalid_frame",
        ),
        (Message::text("{\"message\":42}"), "invalid_frame"),
        (
            Message::text("{\"type\":\"self_destruct\"}"),
            "unknown_type",
        ),
        (
            Message::text("{\"type\":\"chat_message\",\"message\":\"\"}"),
            "empty_message",
        ),
        (Message::text("{\"message\":\"  \\n \"}"), "empty_message"),
        (
            Message::text(json!({"message": "\u{200B}\u{202E} \u{2066}\u{FEFF}"}).to_string()),
            "empty_message",
        ),
        (
            Message::text(json!({"type": "chat_message", "message": too_long}).to_string()),
            "message_too_long",
        ),
        (Message::binary(vec![1u8, 2, 3]), "binary_not_supported"),
    ];
    for (frame, code) in cases {
        let shown = format!("{frame:?}");
        a.send_raw(frame).await;
        let err = a.expect("error").await;
        assert_eq!(err["code"], code, "for {}", &shown[..shown.len().min(60)]);
        assert!(!err["message"].as_str().unwrap().is_empty());
    }

    let exactly = "y".repeat(4000);
    a.say(&exactly).await;
    assert_eq!(a.expect("chat_message").await["message"], exactly.as_str());
    let seen = b.expect("chat_message").await;
    assert_eq!(
        seen["message"],
        exactly.as_str(),
        "bob saw only the valid message"
    );
}

on_every_backend!(the_length_limit_is_configurable);
async fn the_length_limit_is_configurable() {
    let app = TestApp::spawn_with(|s| s.max_message_chars = 5).await;
    let alice = app.user("alice").await;
    let mut a = app.join(&alice, "lobby").await;
    a.joined().await;
    a.say("ééééé").await;
    a.expect("chat_message").await;
    a.say("123456").await;
    let err = a.expect("error").await;
    assert_eq!(err["code"], "message_too_long");
    assert!(err["message"].as_str().unwrap().contains("limit is 5"));
}

on_every_backend!(an_oversized_frame_closes_only_that_connection);
async fn an_oversized_frame_closes_only_that_connection() {
    let app = TestApp::spawn().await;
    let [mut a, mut b] = app.members("lobby", ["alice", "bob"]).await;

    let huge = json!({"message": "z".repeat(100 * 1024)}).to_string();
    b.send_text(&huge).await;
    match b.next_event().await {
        Event::Closed(Some((code, _))) => assert_eq!(code, 1009),
        other => panic!("expected close 1009, got {other:?}"),
    }
    assert_eq!(a.expect("user_leave").await["user"], "bob");
    a.say("the room is fine").await;
    assert_eq!(
        a.expect("chat_message").await["message"],
        "the room is fine"
    );
}

on_every_backend!(handshakes_are_refused_without_login_from_foreign_origins_and_for_unknown_rooms);
async fn handshakes_are_refused_without_login_from_foreign_origins_and_for_unknown_rooms() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    alice.get("/chat/lobby/").await; // the room exists

    let anonymous = app.browser();
    assert_eq!(status_of(app.connect(&anonymous, "lobby").await), 403);

    let foreign = app
        .connect_with(&alice, "lobby", Some("http://evil.example"), None)
        .await;
    assert_eq!(status_of(foreign), 403);
    let no_origin = app.connect_with(&alice, "lobby", None, None).await;
    assert_eq!(status_of(no_origin), 403);

    assert_eq!(status_of(app.connect(&alice, "never-visited").await), 404);
    assert_eq!(status_of(app.connect(&alice, "bad.name").await), 404);

    let mut ok = app.connect(&alice, "lobby").await.unwrap();
    ok.joined().await;
}

on_every_backend!(configured_origins_are_allowed);
async fn configured_origins_are_allowed() {
    let app = TestApp::spawn_with(|s| {
        s.allowed_origins = vec!["https://chat.example".into()];
    })
    .await;
    let alice = app.user("alice").await;
    alice.get("/chat/lobby/").await;
    let mut ws = app
        .connect_with(&alice, "lobby", Some("https://chat.example"), None)
        .await
        .unwrap();
    ws.joined().await;
    let same_host = app.connect(&alice, "lobby").await;
    assert_eq!(status_of(same_host), 403, "the list replaces the default");
}

on_every_backend!(a_client_that_stops_reading_is_disconnected_without_harming_the_others);
async fn a_client_that_stops_reading_is_disconnected_without_harming_the_others() {
    // Judged by unread bytes over time: a little, for a short while here.
    let app = TestApp::spawn_with(|s| {
        s.max_unsent_bytes = 64 * 1024;
        s.slow_client = std::time::Duration::from_secs(1);
    })
    .await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let mut a = app.join(&alice, "lobby").await;
    a.joined().await;
    let mut b = app.join(&bob, "lobby").await;
    b.joined().await;
    a.expect("user_join").await;
    let mut s = app.stalled_member("slowpoke", "lobby").await;
    a.expect("user_join").await;
    b.expect("user_join").await;
    // From here on `s` never reads.

    // Keep talking until the server gives up on the stalled client: kernel
    // socket buffers absorb a few megabytes first. Bounded, in case it never does.
    let text = "m".repeat(3000);
    let limit = 5000;
    let mut sent = 0;
    let mut slow_left = false;
    while sent < limit && !slow_left {
        let expected = format!("{sent} {text}");
        a.say(&expected).await;
        sent += 1;
        for reader in [&mut a, &mut b] {
            loop {
                let frame = reader.recv().await;
                match frame["type"].as_str() {
                    Some("chat_message") => {
                        assert_eq!(frame["message"], expected.as_str(), "in order, none lost");
                        break;
                    }
                    Some("user_leave") => {
                        assert_eq!(frame["user"], "slowpoke");
                        slow_left = true;
                    }
                    _ => panic!("unexpected {frame}"),
                }
            }
        }
    }
    assert!(slow_left, "the stalled client was removed from the room");
    a.say("after the kick").await;
    assert_eq!(a.expect("chat_message").await["message"], "after the kick");
    assert_eq!(b.expect("chat_message").await["message"], "after the kick");

    // When it finally reads, it finds a bounded backlog and then a close.
    let mut received = 0;
    let code = loop {
        match s.next_event().await {
            Event::Frame(_) => received += 1,
            Event::Closed(close) => break close.map(|(code, _)| code),
        }
    };
    assert!(
        received < sent,
        "the backlog was cut off ({received} of {sent})"
    );
    assert_eq!(code, Some(1013), "closed with 'try again later'");
}
