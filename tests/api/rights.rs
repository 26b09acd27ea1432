//! Rights are read per request: a user demoted while connected loses staff
//! powers on the sockets they already have open.

use crate::common::{Event, TestApp};
use serde_json::json;

on_every_backend!(a_demoted_moderator_can_no_longer_delete_others_messages);
async fn a_demoted_moderator_can_no_longer_delete_others_messages() {
    let app = TestApp::spawn().await;
    // Made by the command line, so that nobody owns it: whoever opens a
    // room by visiting it owns it, and may delete any message there.
    assert!(app.cli(&["room", "create", "lobby"]).status.success());
    let moderator = app.user("moderator").await;
    assert!(app.cli(&["user", "promote", "moderator"]).status.success());
    let bob = app.user("bob").await;
    let mut m = app.join(&moderator, "lobby").await;
    m.joined().await;
    let mut b = app.join(&bob, "lobby").await;
    b.joined().await;
    m.expect("user_join").await;
    b.say("first").await;
    let first = b.expect("chat_message").await["id"].clone();
    m.expect("chat_message").await;
    b.say("second").await;
    let second = b.expect("chat_message").await["id"].clone();
    m.expect("chat_message").await;

    // Staff while the socket opened, and still: the delete goes through.
    m.send_json(json!({"type": "delete_message", "id": first}))
        .await;
    assert_eq!(m.expect("message_deleted").await["id"], first);
    b.expect("message_deleted").await;

    assert!(app.cli(&["user", "demote", "moderator"]).status.success());
    m.send_json(json!({"type": "delete_message", "id": second}))
        .await;
    assert_eq!(m.expect("error").await["code"], "forbidden");
    // Nothing changed: bob's message is still there for everyone.
    b.expect_nothing_for(std::time::Duration::from_millis(300))
        .await;
    b.send_json(json!({"type": "history", "limit": 10})).await;
    let page = b.expect("history").await;
    assert_eq!(page["messages"][0]["id"], second);
}

on_every_backend!(a_demoted_member_of_an_admin_only_room_is_shown_the_door);
async fn a_demoted_member_of_an_admin_only_room_is_shown_the_door() {
    let app = TestApp::spawn().await;
    let (carol, mut c) = app.staff_in_admin_only_room("carol").await;
    c.say("while staff").await;
    assert_eq!(c.expect("chat_message").await["message"], "while staff");

    assert!(app.cli(&["user", "demote", "carol"]).status.success());
    c.say("after the demotion").await;
    assert_eq!(c.expect("error").await["code"], "forbidden");
    let close = match c.next_event().await {
        Event::Frame(frame) => panic!("unexpected {frame}"),
        Event::Closed(close) => close,
    };
    assert_eq!(close.map(|(code, _)| code), Some(1008));
    // Nothing was stored, and she cannot come back.
    assert!(app.connect(&carol, "staff-room").await.is_err());
    let out = app.cli(&["room", "list"]);
    assert!(out.status.success());
    let staff = app.user("dave").await;
    assert!(app.cli(&["user", "promote", "dave"]).status.success());
    let mut d = app.join(&staff, "staff-room").await;
    let (history, _) = d.joined().await;
    let texts: Vec<&str> = history
        .iter()
        .map(|m| m["message"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["while staff"]);
}
