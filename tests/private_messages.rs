//! `/pm <user> <text>`: to every connection of one user, in any room.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::TestApp;
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

on_every_backend!(private_messages_to_absent_users_and_malformed_commands_get_errors);
async fn private_messages_to_absent_users_and_malformed_commands_get_errors() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    app.user("bob").await; // exists, but offline
    let mut a = app.join(&alice, "lobby").await;
    a.joined().await;

    a.say("/pm bob are you there").await;
    let err = a.expect("error").await;
    assert_eq!(err["code"], "user_not_online");
    assert!(err["message"].as_str().unwrap().contains("bob"));

    a.say("/pm nobody hello").await;
    assert_eq!(a.expect("error").await["code"], "user_not_online");

    for bad in ["/pm", "/pm bob", "/pm <b> hi"] {
        a.say(bad).await;
        assert_eq!(a.expect("error").await["code"], "invalid_command", "{bad}");
    }

    a.say("still here").await;
    assert_eq!(a.expect("chat_message").await["message"], "still here");
}
