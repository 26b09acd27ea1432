//! `/pm <user> <text>`: the tutorial's private message, to every legacy
//! connection of one user, in any room (and stored in their conversation:
//! see direct_messages.rs).

use crate::common::TestApp;
use serde_json::json;
use std::time::Duration;

on_every_backend!(a_private_message_reaches_every_connection_of_its_target_and_nobody_else);
async fn a_private_message_reaches_every_connection_of_its_target_and_nobody_else() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let carol = app.user("carol").await;
    let mut a = app.join(&alice, "lobby").await;
    a.joined().await;
    let mut b_lobby = app.join(&bob, "lobby").await;
    b_lobby.joined().await;
    let mut b_elsewhere = app.join(&bob, "elsewhere").await;
    b_elsewhere.joined().await;
    let mut c = app.join(&carol, "lobby").await;
    c.joined().await;
    a.next_of("user_join").await; // bob
    a.next_of("user_join").await; // carol
    b_lobby.next_of("user_join").await; // carol

    a.say("/pm bob  the cake is a lie").await;
    let delivered = a.expect("private_message_delivered").await;
    assert_eq!(delivered["target"], "bob");
    assert_eq!(delivered["message"], "the cake is a lie");
    for b in [&mut b_lobby, &mut b_elsewhere] {
        let pm = b.expect("private_message").await;
        assert_eq!(pm["user"], "alice");
        assert_eq!(pm["message"], "the cake is a lie");
    }
    c.expect_nothing_for(Duration::from_millis(300)).await;
}

on_every_backend!(private_messages_to_offline_users_are_stored_and_only_unknown_names_fail);
async fn private_messages_to_offline_users_are_stored_and_only_unknown_names_fail() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    app.user("bob").await; // exists, but offline
    let mut a = app.join(&alice, "lobby").await;
    a.joined().await;

    // Stored in their conversation (see direct_messages.rs), so delivered.
    a.say("/pm bob are you there").await;
    let delivered = a.expect("private_message_delivered").await;
    assert_eq!(delivered["target"], "bob");
    assert_eq!(delivered["message"], "are you there");

    a.say("/pm nobody hello").await;
    let err = a.expect("error").await;
    assert_eq!(err["code"], "no_such_user");
    assert!(err["message"].as_str().unwrap().contains("nobody"), "{err}");

    for bad in ["/pm", "/pm bob", "/pm <b> hi"] {
        a.say(bad).await;
        assert_eq!(a.expect("error").await["code"], "invalid_command", "{bad}");
    }

    a.say("still here").await;
    assert_eq!(a.expect("chat_message").await["message"], "still here");
}

on_every_backend!(an_over_long_private_message_is_refused_as_too_long);
async fn an_over_long_private_message_is_refused_as_too_long() {
    let app = TestApp::spawn_with(|s| s.max_message_chars = 10).await;
    let [mut a, mut b] = app.members("lobby", ["alice", "bob"]).await;

    a.say("/pm bob 01234567890").await;
    let err = a.expect("error").await;
    assert_eq!(err["code"], "message_too_long");
    assert!(
        err["message"].as_str().unwrap().contains("limit is 10"),
        "{err}"
    );
    b.expect_nothing_for(Duration::from_millis(300)).await;

    a.say("/pm bob 0123456789").await;
    assert_eq!(
        b.expect("private_message").await["message"],
        "0123456789",
        "the limit itself is allowed"
    );
}

on_every_backend!(the_tutorial_clients_untyped_frame_sends_private_messages);
async fn the_tutorial_clients_untyped_frame_sends_private_messages() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let mut a = app.join(&alice, "lobby").await;
    a.joined().await;
    let mut b = app.join(&bob, "elsewhere").await;
    b.joined().await;

    a.send_json(json!({"message": "/pm bob hi"})).await;
    assert_eq!(
        a.expect("private_message_delivered").await,
        json!({"type": "private_message_delivered", "target": "bob", "message": "hi"})
    );
    assert_eq!(
        b.expect("private_message").await,
        json!({"type": "private_message", "user": "alice", "message": "hi"})
    );
}

on_every_backend!(a_private_message_to_yourself_reaches_all_your_connections);
async fn a_private_message_to_yourself_reaches_all_your_connections() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let mut here = app.join(&alice, "lobby").await;
    here.joined().await;
    let mut other_tab = app.join(&alice, "elsewhere").await;
    other_tab.joined().await;

    here.say("/pm alice note to self").await;
    let note = json!({"type": "private_message", "user": "alice", "message": "note to self"});
    let delivered = json!({
        "type": "private_message_delivered",
        "target": "alice",
        "message": "note to self",
    });
    // Both come to the sending socket, in no particular order.
    let mut got = vec![here.recv().await, here.recv().await];
    got.sort_by_key(|frame| frame["type"].as_str().unwrap().to_owned());
    assert_eq!(got, [note.clone(), delivered]);
    assert_eq!(other_tab.expect("private_message").await, note);
    for ws in [&mut here, &mut other_tab] {
        ws.expect_nothing_for(Duration::from_millis(300)).await;
    }
}
