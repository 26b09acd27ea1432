//! Scroll-back: pages of older messages on request.

use crate::common::{TestApp, Ws};
use serde_json::{Value, json};

fn ids(messages: &[Value]) -> Vec<i64> {
    messages.iter().map(|m| m["id"].as_i64().unwrap()).collect()
}

async fn page(ws: &mut Ws, request: Value) -> (Vec<Value>, bool) {
    ws.send_json(request).await;
    let frame = ws.expect("history").await;
    (
        frame["messages"].as_array().unwrap().clone(),
        frame["has_more"].as_bool().unwrap(),
    )
}

on_every_backend!(older_messages_come_in_pages_oldest_first);
async fn older_messages_come_in_pages_oldest_first() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let mut a = app.join(&alice, "lobby").await;
    a.joined().await;
    let mut posted = Vec::new();
    for i in 0..25 {
        a.say(&format!("message {i}")).await;
        posted.push(a.expect("chat_message").await["id"].as_i64().unwrap());
    }
    // Something in another room never shows up here.
    let mut other = app.join(&alice, "other").await;
    other.joined().await;
    other.say("elsewhere").await;
    other.expect("chat_message").await;

    let mut b = app.join(&app.user("bob").await, "lobby").await;
    let (history, _) = b.joined().await;
    assert_eq!(ids(&history), posted[15..]);

    let (older, more) = page(
        &mut b,
        json!({"type": "history", "before": posted[15], "limit": 10}),
    )
    .await;
    assert_eq!(ids(&older), posted[5..15]);
    assert!(more);
    assert_eq!(older[0]["message"], "message 5");
    assert_eq!(older[0]["user"], "alice");

    let (oldest, more) = page(&mut b, json!({"type": "history", "before": posted[5]})).await;
    assert_eq!(
        ids(&oldest),
        posted[..5],
        "the default limit covers the rest"
    );
    assert!(!more);

    let (nothing, more) = page(&mut b, json!({"type": "history", "before": posted[0]})).await;
    assert!(nothing.is_empty() && !more);

    // Without `before`: the newest page.
    let (newest, more) = page(&mut b, json!({"type": "history", "limit": 3})).await;
    assert_eq!(ids(&newest), posted[22..]);
    assert!(more);

    // Deleted messages leave no gap in a page.
    a.send_json(json!({"type": "delete_message", "id": posted[10]}))
        .await;
    a.next_of("message_deleted").await; // after bob's user_join
    b.expect("message_deleted").await;
    let (page_, _) = page(
        &mut b,
        json!({"type": "history", "before": posted[15], "limit": 10}),
    )
    .await;
    let mut expected: Vec<i64> = posted[4..15].to_vec();
    expected.retain(|id| *id != posted[10]);
    assert_eq!(ids(&page_), expected);
}

on_every_backend!(bad_history_requests_get_an_error_and_change_nothing);
async fn bad_history_requests_get_an_error_and_change_nothing() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let mut a = app.join(&alice, "lobby").await;
    a.joined().await;
    for frame in [
        json!({"type": "history", "limit": 0}),
        json!({"type": "history", "limit": 101}),
        json!({"type": "history", "before": "yesterday"}),
    ] {
        a.send_json(frame.clone()).await;
        let error = a.expect("error").await;
        assert_eq!(error["code"], "invalid_frame", "{frame}");
    }
    let (empty, more) = page(&mut a, json!({"type": "history", "limit": 100})).await;
    assert!(empty.is_empty() && !more);
    a.say("still here").await;
    a.expect("chat_message").await;
}

on_every_backend!(a_reconnecting_client_catches_up_on_everything_it_missed);
async fn a_reconnecting_client_catches_up_on_everything_it_missed() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let mut a = app.join(&alice, "lobby").await;
    a.joined().await;
    a.say("before").await;
    let seen = a.expect("chat_message").await["id"].as_i64().unwrap();
    a.close().await;

    // While alice is away, bob says more than the ten a plain join shows.
    let mut b = app.join(&bob, "lobby").await;
    b.joined().await;
    let mut missed = Vec::new();
    for i in 0..15 {
        b.say(&format!("missed {i}")).await;
        missed.push(b.expect("chat_message").await["id"].as_i64().unwrap());
    }

    let mut a = app.resume(&alice, "lobby", seen).await;
    let mut caught_up = Vec::new();
    loop {
        let frame = a.recv().await;
        match frame["type"].as_str().unwrap() {
            "chat_message" => {
                assert_eq!(frame["history"], true);
                caught_up.push(frame["id"].as_i64().unwrap());
            }
            "resumed" => {
                assert_eq!(frame["after"], seen);
                assert_eq!(frame["has_more"], false);
                break;
            }
            other => panic!("unexpected {other} before the catch-up ended"),
        }
    }
    // The catch-up starts a little before `seen` (whatever was stored in
    // the two seconds before it), then everything after it, in order.
    assert_eq!(caught_up[0], seen, "the overlap repeats the last one seen");
    assert_eq!(
        caught_up[1..],
        missed,
        "everything after {seen}, in order, once"
    );
    assert_eq!(
        a.expect("user_list").await["users"],
        json!(["alice", "bob"])
    );

    // Then live traffic, as usual.
    b.say("live").await;
    assert_eq!(a.next_of("chat_message").await["message"], "live");

    // Pages after an id, for a client that missed more than a burst holds.
    let (page_, more) = page(
        &mut a,
        json!({"type": "history", "after": seen, "limit": 10}),
    )
    .await;
    assert_eq!(ids(&page_), missed[..10]);
    assert!(more);
}

on_every_backend!(messages_past_two_to_the_31_are_delivered_live_and_resumed);
async fn messages_past_two_to_the_31_are_delivered_live_and_resumed() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let mut a = app.join(&alice, "lobby").await;
    a.joined().await;
    let mut b = app.join(&bob, "lobby").await;
    b.joined().await;
    a.say("before").await;
    let before = b.next_of("chat_message").await["id"].as_i64().unwrap();

    let big = (1_i64 << 31) + 5;
    app.set_next_message_id(big);
    a.say("past 2^31").await;
    let live = b.next_of("chat_message").await;
    assert_eq!(live["id"], big, "delivered live with its own id: {live}");
    assert_eq!(live["message"], "past 2^31");
    a.say("and the next").await;
    assert_eq!(b.next_of("chat_message").await["id"], big + 1);
    a.close().await;
    b.close().await;

    // A client that saw only "before" catches up on both; one that saw the
    // big id resumes after it, and a history page reads past it.
    let mut a = app.resume(&alice, "lobby", before).await;
    let mut caught_up = Vec::new();
    loop {
        let frame = a.recv().await;
        match frame["type"].as_str().unwrap() {
            "chat_message" => caught_up.push(frame["id"].as_i64().unwrap()),
            "resumed" => break,
            other => panic!("unexpected {other} before the catch-up ended"),
        }
    }
    assert_eq!(caught_up, [before, big, big + 1]);
    let mut b = app.resume(&bob, "lobby", big).await;
    let mut after_big = Vec::new();
    loop {
        let frame = b.recv().await;
        match frame["type"].as_str().unwrap() {
            "chat_message" => after_big.push(frame["id"].as_i64().unwrap()),
            "resumed" => break,
            other => panic!("unexpected {other} before the catch-up ended"),
        }
    }
    // (It starts a little before `big`, as every resume does.)
    assert_eq!(after_big.last(), Some(&(big + 1)), "{after_big:?}");
    assert!(after_big.contains(&big), "{after_big:?}");
    b.expect("user_list").await;
    let (older, _) = page(
        &mut b,
        json!({"type": "history", "before": big + 1, "limit": 10}),
    )
    .await;
    assert_eq!(ids(&older), [before, big]);
}

on_every_backend!(a_resume_also_covers_messages_stored_just_before_the_last_one_seen);
async fn a_resume_also_covers_messages_stored_just_before_the_last_one_seen() {
    // With several instances, a message stored on one just before another's
    // can reach a client after it. A client that saw only the later one
    // before dropping must still get the earlier one on resuming.
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let mut a = app.join(&alice, "lobby").await;
    a.joined().await;
    a.say("stored first, delivered late").await;
    let early = a.expect("chat_message").await["id"].as_i64().unwrap();
    a.say("stored second, seen").await;
    let seen = a.expect("chat_message").await["id"].as_i64().unwrap();
    a.close().await;

    let mut a = app.resume(&alice, "lobby", seen).await;
    let mut ids = Vec::new();
    loop {
        let frame = a.recv().await;
        match frame["type"].as_str().unwrap() {
            "chat_message" => ids.push(frame["id"].as_i64().unwrap()),
            "resumed" => break,
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(ids, [early, seen]);
}
