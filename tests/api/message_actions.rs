//! Editing, deleting and reacting to messages: who may, what everyone sees,
//! what is stored.

use crate::common::{TestApp, Ws};
use serde_json::json;

/// Posts `text` and returns its id as everyone saw it.
async fn post(ws: &mut Ws, others: &mut [&mut Ws], text: &str) -> i64 {
    ws.say(text).await;
    let id = ws.expect("chat_message").await["id"].as_i64().unwrap();
    for other in others.iter_mut() {
        assert_eq!(other.expect("chat_message").await["id"], id);
    }
    id
}

on_every_backend!(only_the_author_edits_and_everyone_sees_it);
async fn only_the_author_edits_and_everyone_sees_it() {
    let app = TestApp::spawn().await;
    let [mut a, mut b] = app.members("lobby", ["alice", "bob"]).await;
    let id = post(&mut a, &mut [&mut b], "helo").await;

    b.send_json(json!({"type": "edit_message", "id": id, "message": "hacked"}))
        .await;
    assert_eq!(b.error_code().await, "forbidden");

    a.send_json(json!({"type": "edit_message", "id": id, "message": "hello"}))
        .await;
    let seen_by_a = a.expect("message_edited").await;
    let seen_by_b = b.expect("message_edited").await;
    assert_eq!(seen_by_a, seen_by_b);
    assert_eq!(seen_by_b["id"], id);
    assert_eq!(seen_by_b["message"], "hello");
    let edited_at = seen_by_b["edited_at"].as_str().unwrap();
    assert!(chrono::DateTime::parse_from_rfc3339(edited_at).is_ok());

    for (frame, code) in [
        (
            json!({"type": "edit_message", "id": id, "message": "  "}),
            "empty_message",
        ),
        (
            json!({"type": "edit_message", "id": id, "message": "x".repeat(4001)}),
            "message_too_long",
        ),
        (
            json!({"type": "edit_message", "id": 999_999, "message": "x"}),
            "not_found",
        ),
        (json!({"type": "edit_message", "id": id}), "invalid_frame"),
    ] {
        a.send_json(frame.clone()).await;
        assert_eq!(a.error_code().await, code, "{frame}");
    }

    // A newcomer, and anyone after a restart, sees the edited text.
    drop((a, b));
    let app = app.restart().await;
    let carol = app.user("carol").await;
    let mut c = app.join(&carol, "lobby").await;
    let (history, _) = c.joined().await;
    assert_eq!(history.len(), 1);
    assert_eq!(history[0]["message"], "hello");
    assert_eq!(history[0]["edited_at"], edited_at);
}

on_every_backend!(the_author_or_staff_delete_and_the_message_is_gone_for_everyone);
async fn the_author_or_staff_delete_and_the_message_is_gone_for_everyone() {
    let app = TestApp::spawn().await;
    let [mut a, mut b] = app.members("lobby", ["alice", "bob"]).await;
    let moderator = app.user("mod").await;
    assert!(app.cli(&["user", "promote", "mod"]).status.success());
    let first = post(&mut a, &mut [&mut b], "keep me").await;
    let second = post(&mut a, &mut [&mut b], "oops").await;
    let third = post(&mut a, &mut [&mut b], "rude").await;

    b.send_json(json!({"type": "delete_message", "id": second}))
        .await;
    assert_eq!(b.error_code().await, "forbidden");

    a.send_json(json!({"type": "delete_message", "id": second}))
        .await;
    assert_eq!(a.expect("message_deleted").await["id"], second);
    assert_eq!(
        b.expect("message_deleted").await,
        json!({"type": "message_deleted", "id": second})
    );

    // Gone means gone: no edit, no reaction, no second delete.
    for frame in [
        json!({"type": "delete_message", "id": second}),
        json!({"type": "edit_message", "id": second, "message": "back"}),
        json!({"type": "react", "id": second, "emoji": "👍"}),
    ] {
        a.send_json(frame.clone()).await;
        assert_eq!(a.error_code().await, "not_found", "{frame}");
    }

    // Staff moderate anyone's message.
    let mut m = app.join(&moderator, "lobby").await;
    m.joined().await;
    a.expect("user_join").await;
    b.expect("user_join").await;
    m.send_json(json!({"type": "delete_message", "id": third}))
        .await;
    for ws in [&mut a, &mut b, &mut m] {
        assert_eq!(ws.expect("message_deleted").await["id"], third);
    }

    drop((a, b, m));
    let app = app.restart().await;
    let mut c = app.join(&app.user("carol").await, "lobby").await;
    let (history, _) = c.joined().await;
    let ids: Vec<i64> = history.iter().map(|m| m["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, [first], "deleted messages stay out of history");

    // The stored row keeps no trace of what was said.
    assert_eq!(stored_content(&app, second), "");
}

on_every_backend!(staff_may_delete_but_not_edit_someone_elses_message);
async fn staff_may_delete_but_not_edit_someone_elses_message() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let moderator = app.user("mod").await;
    assert!(app.cli(&["user", "promote", "mod"]).status.success());
    let mut a = app.join(&alice, "lobby").await;
    a.joined().await;
    let mut m = app.join(&moderator, "lobby").await;
    m.joined().await;
    a.expect("user_join").await;
    let id = post(&mut a, &mut [&mut m], "my words").await;

    m.send_json(json!({"type": "edit_message", "id": id, "message": "put in my mouth"}))
        .await;
    assert_eq!(m.error_code().await, "forbidden");
    a.expect_nothing_for(std::time::Duration::from_millis(300))
        .await;
    assert_eq!(stored_content(&app, id), "my words");

    m.send_json(json!({"type": "delete_message", "id": id}))
        .await;
    for ws in [&mut a, &mut m] {
        assert_eq!(ws.expect("message_deleted").await["id"], id);
    }
    assert_eq!(stored_content(&app, id), "");
}

on_every_backend!(a_history_answer_after_a_restart_carries_edits_and_reactions);
async fn a_history_answer_after_a_restart_carries_edits_and_reactions() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let mut a = app.join(&alice, "lobby").await;
    a.joined().await;
    let id = post(&mut a, &mut [], "helo").await;
    let plain = post(&mut a, &mut [], "untouched").await;
    a.send_json(json!({"type": "edit_message", "id": id, "message": "hello"}))
        .await;
    let edited_at = a.expect("message_edited").await["edited_at"].clone();
    a.send_json(json!({"type": "react", "id": id, "emoji": "👍"}))
        .await;
    a.expect("reaction").await;

    drop(a);
    let app = app.restart().await;
    let mut b = app.join(&app.user("bob").await, "lobby").await;
    b.joined().await;
    b.send_json(json!({"type": "history", "limit": 10})).await;
    let answer = b.expect("history").await;
    let messages = answer["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2, "{answer}");
    assert_eq!(messages[0]["id"], id);
    assert_eq!(messages[0]["message"], "hello");
    assert_eq!(messages[0]["edited_at"], edited_at);
    assert_eq!(
        messages[0]["reactions"],
        json!([{"emoji": "👍", "count": 1, "me": false, "users": ["alice"]}])
    );
    assert_eq!(messages[1]["id"], plain);
    assert!(
        messages[1].get("edited_at").is_none() && messages[1].get("reactions").is_none(),
        "only what happened is carried: {}",
        messages[1]
    );
}

/// The stored content of message `id`, read through the library (as the
/// server reads it) whatever the backend.
fn stored_content(app: &TestApp, id: i64) -> String {
    use confab::db::schema::messages;
    use diesel::prelude::*;
    app.database()
        .run_here(|conn| {
            Ok(messages::table
                .find(id)
                .select(messages::content)
                .first::<String>(conn)?)
        })
        .expect("the row stays")
}

on_every_backend!(messages_from_another_room_cannot_be_touched);
async fn messages_from_another_room_cannot_be_touched() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let mut elsewhere = app.join(&alice, "elsewhere").await;
    elsewhere.joined().await;
    let id = post(&mut elsewhere, &mut [], "mine, but over there").await;
    let mut here = app.join(&alice, "lobby").await;
    here.joined().await;
    for frame in [
        json!({"type": "edit_message", "id": id, "message": "x"}),
        json!({"type": "delete_message", "id": id}),
        json!({"type": "react", "id": id, "emoji": "👍"}),
    ] {
        here.send_json(frame.clone()).await;
        assert_eq!(here.error_code().await, "not_found", "{frame}");
    }
    elsewhere
        .expect_nothing_for(std::time::Duration::from_millis(300))
        .await;
}
