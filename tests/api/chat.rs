//! Conversation in a room: live messages, history on join, persistence.

use crate::common::{self, TestApp};
use serde_json::{Value, json};

on_every_backend!(two_users_converse);
async fn two_users_converse() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let mut a = app.join(&alice, "lobby").await;
    assert_eq!(a.joined().await, (vec![], vec!["alice".to_owned()]));
    let mut b = app.join(&bob, "lobby").await;
    let (history, users) = b.joined().await;
    assert!(history.is_empty());
    assert_eq!(users, ["alice", "bob"]);
    assert_eq!(a.expect("user_join").await["user"], "bob");

    a.say("hello bob").await;
    let seen_by_a = a.expect("chat_message").await;
    let seen_by_b = b.expect("chat_message").await;
    assert_eq!(seen_by_a, seen_by_b, "everyone gets the same frame");
    assert_eq!(seen_by_b["user"], "alice");
    assert_eq!(seen_by_b["message"], "hello bob");
    assert!(seen_by_b["id"].as_i64().unwrap() > 0);
    assert!(
        seen_by_b.get("history").is_none(),
        "live messages are not marked"
    );
    let created = seen_by_b["created_at"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(created).is_ok() && created.ends_with('Z'),
        "{created}"
    );

    b.say("hi alice").await;
    let reply = a.expect("chat_message").await;
    assert_eq!(reply["user"], "bob");
    assert!(
        reply["id"].as_i64() > seen_by_a["id"].as_i64(),
        "ids increase"
    );
    b.expect("chat_message").await;
}

on_every_backend!(the_tutorial_clients_untyped_frame_still_works);
async fn the_tutorial_clients_untyped_frame_still_works() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let mut a = app.join(&alice, "lobby").await;
    a.joined().await;
    a.send_json(json!({"message": "from the 2018 tutorial"}))
        .await;
    let frame = a.expect("chat_message").await;
    assert_eq!(frame["message"], "from the 2018 tutorial");
}

/// Checks that `frame` carries what the 2018 tutorial's client (and the
/// clients written after it) read from a frame of its type.
fn assert_tutorial_keys(frame: &Value) {
    let is_str = |key: &str| frame[key].is_string();
    let ok = match frame["type"].as_str() {
        Some("chat_message") => is_str("message") && is_str("user") && frame["id"].is_i64(),
        Some("user_list") => frame["users"]
            .as_array()
            .is_some_and(|users| users.iter().all(Value::is_string)),
        Some("user_join" | "user_leave") => is_str("user"),
        Some("private_message") => is_str("user") && is_str("message"),
        Some("private_message_delivered") => is_str("target") && is_str("message"),
        Some(_) => true, // newer frames, which such clients ignore
        None => false,
    };
    assert!(ok, "a frame the tutorial client cannot read: {frame}");
}

on_every_backend!(the_tutorial_clients_frames_keep_their_keys_amid_typing_and_reactions);
async fn the_tutorial_clients_frames_keep_their_keys_amid_typing_and_reactions() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let carol = app.user("carol").await;
    let mut a = app.join(&alice, "lobby").await;
    a.joined().await;
    a.say("before bob").await;
    let id = a.expect("chat_message").await["id"].clone();
    a.send_json(json!({"type": "react", "id": id, "emoji": "👍"}))
        .await;
    a.expect("reaction").await;

    // Bob's client is the tutorial's: it only ever sends {"message": ...}.
    let mut t = app.join(&bob, "lobby").await;
    a.expect("user_join").await;
    a.send_json(json!({"type": "typing", "typing": true})).await;
    t.send_json(json!({"message": "hi from the tutorial"}))
        .await;
    a.send_json(json!({"type": "react", "id": id, "emoji": "🎉"}))
        .await;
    let mut c = app.join(&carol, "lobby").await;
    c.joined().await;
    a.say("/pm bob psst").await;
    a.next_of("private_message_delivered").await;
    t.send_json(json!({"message": "/pm alice yo"})).await;
    a.send_json(json!({"type": "typing", "typing": false}))
        .await;
    c.close().await;
    a.next_of("user_leave").await;
    a.say("done").await;

    let legacy = [
        "chat_message",
        "user_list",
        "user_join",
        "user_leave",
        "private_message",
        "private_message_delivered",
    ];
    let mut seen = std::collections::BTreeSet::new();
    let mut done = false;
    while !done || !legacy.iter().all(|kind| seen.contains(*kind)) {
        let frame = t.recv().await;
        assert_tutorial_keys(&frame);
        done |= frame["type"] == "chat_message" && frame["message"] == "done";
        seen.insert(frame["type"].as_str().unwrap().to_owned());
    }
    for newer in ["typing", "reaction"] {
        assert!(seen.contains(newer), "{newer} traffic went on: {seen:?}");
    }
}

on_every_backend!(rooms_are_separate);
async fn rooms_are_separate() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let mut a = app.join(&alice, "one").await;
    a.joined().await;
    let mut b = app.join(&bob, "two").await;
    b.joined().await;
    a.say("only in one").await;
    a.expect("chat_message").await;
    b.expect_nothing_for(std::time::Duration::from_millis(300))
        .await;
}

on_every_backend!(newcomers_get_exactly_the_last_ten_messages_oldest_first);
async fn newcomers_get_exactly_the_last_ten_messages_oldest_first() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let mut a = app.join(&alice, "lobby").await;
    a.joined().await;
    for i in 1..=12 {
        a.say(&format!("message {i}")).await;
        a.expect("chat_message").await;
    }
    let bob = app.user("bob").await;
    let mut b = app.join(&bob, "lobby").await;
    let (history, _) = b.joined().await;
    let texts: Vec<&str> = history
        .iter()
        .map(|m| m["message"].as_str().unwrap())
        .collect();
    let expected: Vec<String> = (3..=12).map(|i| format!("message {i}")).collect();
    assert_eq!(texts, expected);
    assert!(
        history
            .iter()
            .all(|m| m["user"] == "alice" && m["id"].is_number())
    );
}

on_every_backend!(history_survives_a_restart);
async fn history_survives_a_restart() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let mut a = app.join(&alice, "lobby").await;
    a.joined().await;
    for i in 1..=11 {
        a.say(&format!("kept {i}")).await;
        a.expect("chat_message").await;
    }
    drop(a);
    let app = app.restart().await;
    let alice = app.browser();
    assert_eq!(
        alice
            .login("alice", "correct horse battery", "/chat/")
            .await
            .status(),
        303,
        "the account survived"
    );
    let mut a = app.join(&alice, "lobby").await;
    let (history, _) = a.joined().await;
    let texts: Vec<&str> = history
        .iter()
        .map(|m| m["message"].as_str().unwrap())
        .collect();
    let expected: Vec<String> = (2..=11).map(|i| format!("kept {i}")).collect();
    assert_eq!(texts, expected);
}

on_every_backend!(markup_is_stored_and_sent_as_plain_text);
async fn markup_is_stored_and_sent_as_plain_text() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let mut a = app.join(&alice, "lobby").await;
    a.joined().await;
    a.say("<script>alert(1)</script> & \"quotes\"").await;
    let frame = a.expect("chat_message").await;
    assert_eq!(frame["message"], "<script>alert(1)</script> & \"quotes\"");
}

/// The value of an unlabelled metric in a Prometheus exposition.
fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
        .parse()
        .unwrap()
}

on_every_backend!(metrics_count_connections_messages_and_bus_lag);
async fn metrics_count_connections_messages_and_bus_lag() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let mut a = app.join(&alice, "lobby").await;
    a.joined().await;
    a.say("counted").await;
    a.expect("chat_message").await;

    let res = alice.get("/metrics").await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = res.text().await.unwrap();
    // Other tests in this binary share the process: at least ours.
    assert!(metric(&text, "confab_connections") >= 1.0, "{text}");
    assert!(metric(&text, "confab_rooms") >= 1.0);
    assert!(metric(&text, "confab_messages_in_total") >= 1.0);
    assert!(metric(&text, "confab_frames_out_total") >= 1.0);
    assert!(metric(&text, "confab_bus_lag_seconds_count") >= 1.0);
    assert!(text.contains("# TYPE confab_bus_lag_seconds histogram"));
    assert!(!text.contains("confab_redis_up"), "no Redis configured");
}

on_every_backend!(shutting_down_closes_sockets_with_going_away);
async fn shutting_down_closes_sockets_with_going_away() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let mut a = app.join(&alice, "lobby").await;
    a.joined().await;
    app.stop().await;
    match a.next_event().await {
        common::Event::Closed(Some((code, reason))) => {
            assert_eq!(code, 1001, "{reason}");
            assert!(reason.contains("going away"), "{reason}");
        }
        other => panic!("expected a 1001 close, got {other:?}"),
    }
}
