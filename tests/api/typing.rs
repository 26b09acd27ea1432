//! "{user} is typing": relayed to the others, never stored.

use crate::common::TestApp;
use serde_json::json;
use std::time::Duration;

on_every_backend!(typing_reaches_the_others_but_not_the_typist);
async fn typing_reaches_the_others_but_not_the_typist() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let mut a = app.join(&alice, "lobby").await;
    a.joined().await;
    // Alice's second tab must not hear her own typing either.
    let mut a2 = app.join(&alice, "lobby").await;
    a2.joined().await;
    let mut b = app.join(&bob, "lobby").await;
    b.joined().await;
    a.expect("user_join").await;
    a2.expect("user_join").await;

    a.send_json(json!({"type": "typing", "typing": true})).await;
    assert_eq!(
        b.expect("typing").await,
        json!({"type": "typing", "user": "alice", "typing": true})
    );
    a.send_json(json!({"type": "typing", "typing": false}))
        .await;
    assert_eq!(
        b.expect("typing").await,
        json!({"type": "typing", "user": "alice", "typing": false})
    );

    // Sending a message ends typing for the others, even if the client
    // forgets to say so.
    a.send_json(json!({"type": "typing", "typing": true})).await;
    assert_eq!(b.expect("typing").await["typing"], true);
    a.say("done").await;
    assert_eq!(b.expect("typing").await["typing"], false);
    assert_eq!(b.expect("chat_message").await["message"], "done");

    for ws in [&mut a, &mut a2] {
        assert_eq!(ws.expect("chat_message").await["message"], "done");
        ws.expect_nothing_for(Duration::from_millis(200)).await;
    }

    a.send_json(json!({"type": "typing", "typing": "yes"}))
        .await;
    assert_eq!(a.expect("error").await["code"], "invalid_frame");

    // Never stored: a newcomer's history has the message only.
    let mut c = app.join(&app.user("carol").await, "lobby").await;
    let (history, _) = c.joined().await;
    assert_eq!(history.len(), 1);
}
