//! Replies and jumping to a message: a post may answer another message of
//! its room, and everyone sees what it quotes (or that the original is
//! gone), live, on join, in history and after a reconnect; `history` with
//! `around` loads the page around one message.

use crate::common::{TestApp, Ws};
use serde_json::{Value, json};

fn ids(messages: &[Value]) -> Vec<i64> {
    messages.iter().map(|m| m["id"].as_i64().unwrap()).collect()
}

/// Posts `text` and returns the id of its echo.
async fn post(ws: &mut Ws, text: &str) -> i64 {
    ws.say(text).await;
    ws.next_of("chat_message").await["id"].as_i64().unwrap()
}

on_every_backend!(a_reply_is_stored_broadcast_and_quoted_in_history);
async fn a_reply_is_stored_broadcast_and_quoted_in_history() {
    let app = TestApp::spawn().await;
    let [mut alice, mut bob] = app.members("lobby", ["alice", "bob"]).await;
    let long = format!("lunch at noon?\nThe usual place. {}", "x".repeat(200));
    let original = post(&mut alice, &long).await;
    bob.expect("chat_message").await;

    bob.send_json(json!({
        "type": "chat_message", "message": "yes!", "reply_to": original, "client_id": "r-1"
    }))
    .await;
    let echo = bob.expect("chat_message").await;
    assert_eq!(echo["client_id"], "r-1");
    let live = alice.expect("chat_message").await;
    let quote = &live["reply_to"];
    assert_eq!(quote["id"], original);
    assert_eq!(quote["user"], "alice");
    let excerpt = quote["excerpt"].as_str().unwrap();
    assert!(
        excerpt.starts_with("lunch at noon? The usual place. xxx"),
        "one line: {excerpt}"
    );
    assert!(excerpt.ends_with('…'), "cut short: {excerpt}");
    assert_eq!(
        excerpt.chars().count(),
        101,
        "100 characters and the ellipsis"
    );
    assert!(quote.get("deleted").is_none(), "{quote}");
    assert_eq!(echo["reply_to"], live["reply_to"]);

    // A newcomer's join burst, and a history page, quote it the same way.
    let mut carol = app.join(&app.user("carol").await, "lobby").await;
    let (history, _) = carol.joined().await;
    assert_eq!(history.last().unwrap()["reply_to"], live["reply_to"]);
    assert!(
        history[0].get("reply_to").is_none(),
        "not a reply: {}",
        history[0]
    );
    carol.send_json(json!({"type": "history"})).await;
    let page = carol.expect("history").await;
    assert_eq!(page["messages"][1]["reply_to"], live["reply_to"]);

    // The tutorial's untyped frame may reply too.
    alice
        .send_json(json!({"message": "also me", "reply_to": original}))
        .await;
    let untyped = alice.next_of("chat_message").await;
    assert_eq!(untyped["reply_to"]["id"], original);
}

on_every_backend!(a_reply_to_a_deleted_message_says_so);
async fn a_reply_to_a_deleted_message_says_so() {
    let app = TestApp::spawn().await;
    let [mut alice, mut bob] = app.members("lobby", ["alice", "bob"]).await;
    let original = post(&mut alice, "typo").await;
    bob.expect("chat_message").await;
    bob.send_json(json!({"type": "chat_message", "message": "what?", "reply_to": original}))
        .await;
    let reply = bob.expect("chat_message").await["id"].as_i64().unwrap();
    alice.expect("chat_message").await;

    alice
        .send_json(json!({"type": "delete_message", "id": original}))
        .await;
    alice.expect("message_deleted").await;
    bob.expect("message_deleted").await;

    // Already posted replies now quote nothing but the fact.
    let mut carol = app.join(&app.user("carol").await, "lobby").await;
    let (history, _) = carol.joined().await;
    assert_eq!(ids(&history), [reply]);
    assert_eq!(
        history[0]["reply_to"],
        json!({"id": original, "deleted": true})
    );
    // After a reconnect too.
    let mut again = app
        .resume(&app.user("dave").await, "lobby", reply - 1)
        .await;
    let resumed = again.next_of("chat_message").await;
    assert_eq!(
        resumed["reply_to"],
        json!({"id": original, "deleted": true})
    );

    // A new reply to it is refused, naming the post; nothing is stored.
    bob.send_json(json!({
        "type": "chat_message", "message": "still?", "reply_to": original, "client_id": "r-2"
    }))
    .await;
    let error = bob.next_of("error").await;
    assert_eq!(error["code"], "not_found");
    assert_eq!(error["client_id"], "r-2");
    let after = post(&mut bob, "ok then").await;
    assert!(after > reply);
    carol.next_of("chat_message").await;
    carol.send_json(json!({"type": "history"})).await;
    let page = carol.next_of("history").await;
    assert_eq!(ids(page["messages"].as_array().unwrap()), [reply, after]);
}

on_every_backend!(a_reply_to_another_rooms_message_is_refused);
async fn a_reply_to_another_rooms_message_is_refused() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let mut elsewhere = app.join(&alice, "secret").await;
    elsewhere.joined().await;
    let foreign = post(&mut elsewhere, "not for the lobby").await;

    let mut lobby = app.join(&alice, "lobby").await;
    lobby.joined().await;
    lobby
        .send_json(json!({
            "type": "chat_message", "message": "leak", "reply_to": foreign, "client_id": "r-3"
        }))
        .await;
    let error = lobby.expect("error").await;
    assert_eq!(error["code"], "not_found");
    assert_eq!(error["client_id"], "r-3");
    // Nor a message that never was.
    lobby
        .send_json(json!({"type": "chat_message", "message": "x", "reply_to": foreign + 1000}))
        .await;
    assert_eq!(lobby.error_code().await, "not_found");
    lobby.send_json(json!({"type": "history"})).await;
    let page = lobby.expect("history").await;
    assert!(page["messages"].as_array().unwrap().is_empty(), "{page}");
}

on_every_backend!(history_around_a_message_is_the_page_around_it);
async fn history_around_a_message_is_the_page_around_it() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let mut watcher = app.join(&app.user("bob").await, "lobby").await;
    watcher.joined().await;
    let posted = app.store_messages("lobby", "alice", (0..40).map(|i| format!("message {i}")));

    let around = |id: i64, limit: i64| json!({"type": "history", "around": id, "limit": limit});
    watcher.send_json(around(posted[20], 10)).await;
    let page = watcher.expect("history").await;
    // The message and four older ones, then five newer: half each way.
    assert_eq!(ids(page["messages"].as_array().unwrap()), posted[16..26]);
    assert_eq!(page["has_more"], true, "older ones exist");
    assert_eq!(page["has_newer"], true);
    assert_eq!(page["messages"][4]["message"], "message 20");
    assert_eq!(page["messages"][4]["history"], true);

    // Near either end, the page says where the log ends.
    watcher.send_json(around(posted[1], 10)).await;
    let start = watcher.expect("history").await;
    assert_eq!(ids(start["messages"].as_array().unwrap()), posted[..7]);
    assert_eq!(start["has_more"], false);
    assert_eq!(start["has_newer"], true);
    watcher.send_json(around(posted[38], 10)).await;
    let end = watcher.expect("history").await;
    assert_eq!(ids(end["messages"].as_array().unwrap()), posted[34..]);
    assert_eq!(end["has_more"], true);
    assert_eq!(end["has_newer"], false);

    // Around a deleted message: the page around where it was.
    let mut alice = app.join(&alice, "lobby").await;
    alice.joined().await;
    alice
        .send_json(json!({"type": "delete_message", "id": posted[20]}))
        .await;
    alice.next_of("message_deleted").await;
    watcher.next_of("message_deleted").await;
    watcher.send_json(around(posted[20], 4)).await;
    let gap = watcher.expect("history").await;
    assert_eq!(
        ids(gap["messages"].as_array().unwrap()),
        [posted[18], posted[19], posted[21], posted[22]]
    );
    // A page of one: just the message; the others are asked for apart.
    watcher.send_json(around(posted[30], 1)).await;
    let one = watcher.expect("history").await;
    assert_eq!(ids(one["messages"].as_array().unwrap()), [posted[30]]);
    assert_eq!(one["has_newer"], true);
    // Other windows do not say `has_newer`, and `around` goes with no other.
    watcher
        .send_json(json!({"type": "history", "limit": 2}))
        .await;
    assert!(watcher.expect("history").await.get("has_newer").is_none());
    watcher
        .send_json(json!({"type": "history", "around": posted[3], "before": posted[9]}))
        .await;
    assert_eq!(watcher.error_code().await, "invalid_frame");
}
