//! Exactly once from the user's point of view: a post may carry a
//! `client_id`; the echo to the socket that sent it (and only that socket)
//! carries it back, every error answering it does too, and a repeat is
//! never stored twice: the sending socket alone gets the stored message
//! again, also when two instances race the same repeat.

use crate::common::redis::OwnRedis;
use crate::common::{TestApp, Ws, redis_url};
use crate::scale_out::{Partition, pair, pair_via, ready, same_user_on, wait_for_redis};
use serde_json::{Value, json};
use std::time::Duration;

/// A post as the room page sends it.
fn post(text: &str, client_id: &str) -> Value {
    json!({"type": "chat_message", "message": text, "client_id": client_id})
}

/// Every message stored in `room`, as the newest-100 history page shows it.
async fn stored(ws: &mut Ws) -> Vec<Value> {
    ws.send_json(json!({"type": "history", "limit": 100})).await;
    let page = ws.next_of("history").await;
    page["messages"].as_array().unwrap().clone()
}

/// `ws`'s chat messages up to the first that carries `client_id`.
async fn until_client_id(ws: &mut Ws, client_id: &str) -> Vec<Value> {
    let mut seen = Vec::new();
    loop {
        let frame = ws.next_of("chat_message").await;
        let done = frame["client_id"] == client_id;
        seen.push(frame);
        if done {
            return seen;
        }
    }
}

/// `ws`'s chat messages before the one that says `marker` (read too).
async fn messages_until(ws: &mut Ws, marker: &str) -> Vec<Value> {
    let mut seen = Vec::new();
    loop {
        let frame = ws.next_of("chat_message").await;
        if frame["message"] == marker {
            return seen;
        }
        seen.push(frame);
    }
}

/// `frame` without its `client_id`: what everyone else gets.
fn shared(frame: &Value) -> Value {
    let mut frame = frame.clone();
    frame.as_object_mut().unwrap().remove("client_id");
    frame
}

on_every_backend!(only_the_sending_socket_gets_its_client_id_back);
async fn only_the_sending_socket_gets_its_client_id_back() {
    let app = TestApp::spawn().await;
    let [mut a, mut b] = app.members("lobby", ["alice", "bob"]).await;
    // Alice's second tab: the same user, another socket.
    let alice = same_user_on(&app, "alice").await;
    let mut a2 = app.join(&alice, "lobby").await;
    a2.joined().await;

    a.send_json(post("hello", "c-1")).await;
    let echo = a.expect("chat_message").await;
    assert_eq!(echo["client_id"], "c-1", "{echo}");
    assert_eq!(echo["message"], "hello");
    for other in [&mut a2, &mut b] {
        let seen = other.next_of("chat_message").await;
        assert!(seen.get("client_id").is_none(), "{seen}");
        assert_eq!(seen, shared(&echo), "the same message otherwise");
    }
    // Nor does it show up in history, for anyone.
    for ws in [&mut a, &mut b] {
        let page = stored(ws).await;
        assert_eq!(page.len(), 1);
        assert!(page[0].get("client_id").is_none(), "{page:?}");
    }
}

on_every_backend!(a_repeat_is_answered_with_the_stored_message_to_its_socket_alone);
async fn a_repeat_is_answered_with_the_stored_message_to_its_socket_alone() {
    let app = TestApp::spawn().await;
    let [mut a, mut b] = app.members("lobby", ["alice", "bob"]).await;
    a.send_json(post("once", "c-2")).await;
    let first = a.expect("chat_message").await;
    b.expect("chat_message").await;

    // Sent again (say the echo was lost with the connection): not stored
    // again; the same message, id and time, comes back with the client_id.
    tokio::time::sleep(Duration::from_millis(20)).await;
    a.send_json(post("once", "c-2")).await;
    let again = a.expect("chat_message").await;
    assert_eq!(again, first, "the stored message, not a new one");
    // Even with other text, from another socket of alice's.
    let alice = same_user_on(&app, "alice").await;
    let mut a2 = app.join(&alice, "lobby").await;
    a2.joined().await;
    a2.send_json(post("once, edited before resending", "c-2"))
        .await;
    let from_a2 = a2.expect("chat_message").await;
    assert_eq!(from_a2, first);

    // Nobody else hears of the repeats: bob's next message is the marker.
    a.say("marker").await;
    assert_eq!(b.expect("chat_message").await["message"], "marker");
    let page = stored(&mut b).await;
    let texts: Vec<&str> = page
        .iter()
        .map(|m| m["message"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["once", "marker"], "stored once");

    // Another user may use the same client_id: it is alice's, not global.
    b.send_json(post("bob's own", "c-2")).await;
    let bobs = b.expect("chat_message").await;
    assert_eq!(bobs["message"], "bob's own");
    assert_eq!(bobs["client_id"], "c-2");
    assert!(bobs["id"].as_i64() > first["id"].as_i64());
}

on_every_backend!(a_repeat_of_a_deleted_message_is_not_stored_again);
async fn a_repeat_of_a_deleted_message_is_not_stored_again() {
    let app = TestApp::spawn().await;
    let [mut a] = app.members("lobby", ["alice"]).await;
    a.send_json(post("regretted", "c-3")).await;
    let id = a.expect("chat_message").await["id"].clone();
    a.send_json(json!({"type": "delete_message", "id": id}))
        .await;
    a.expect("message_deleted").await;

    a.send_json(post("regretted", "c-3")).await;
    let refused = a.expect("error").await;
    assert_eq!(refused["code"], "not_found", "{refused}");
    assert_eq!(refused["client_id"], "c-3");
    assert!(stored(&mut a).await.is_empty(), "nothing came back");
}

on_every_backend!(every_error_answering_a_post_carries_its_client_id);
async fn every_error_answering_a_post_carries_its_client_id() {
    // One write at once, then one a second: the second post is refused.
    let app = TestApp::spawn_with(|s| {
        s.write_burst = 1;
        s.write_per_sec = 1;
        s.max_message_chars = 10;
    })
    .await;
    let [mut a] = app.members("lobby", ["alice"]).await;
    let refusals = [
        (post("   ", "e-1"), "empty_message"),
        (post("01234567890", "e-2"), "message_too_long"),
        (
            json!({"type": "chat_message", "message": 5, "client_id": "e-3"}),
            "invalid_frame",
        ),
        (
            json!({"message": "/pm", "client_id": "e-4"}),
            "invalid_command",
        ),
        (post("/pm nobody hi", "e-5"), "no_such_user"),
    ];
    for (frame, code) in &refusals {
        a.send_json(frame.clone()).await;
        let error = a.expect("error").await;
        assert_eq!(error["code"], *code, "{error}");
        assert_eq!(error["client_id"], frame["client_id"], "{error}");
    }
    a.send_together(&[post("first", "e-6"), post("second", "e-7")])
        .await;
    // The refusal comes at once; the echo after the database and the bus.
    let (mut echo, mut limited) = (a.recv().await, a.recv().await);
    if echo["type"] == "error" {
        std::mem::swap(&mut echo, &mut limited);
    }
    assert_eq!(echo["client_id"], "e-6", "{echo}");
    assert_eq!(limited["code"], "rate_limited", "{limited}");
    assert_eq!(limited["client_id"], "e-7");
    assert!(limited["retry_after_ms"].as_u64().is_some(), "{limited}");

    // After the wait, the same post gets in, once.
    let wait = limited["retry_after_ms"].as_u64().unwrap();
    tokio::time::sleep(Duration::from_millis(wait)).await;
    a.send_json(post("second", "e-7")).await;
    let echo = a.expect("chat_message").await;
    assert_eq!(
        (echo["message"].clone(), echo["client_id"].clone()),
        (json!("second"), json!("e-7"))
    );
    let texts: Vec<Value> = stored(&mut a)
        .await
        .iter()
        .map(|m| m["message"].clone())
        .collect();
    assert_eq!(texts, [json!("first"), json!("second")]);

    // Errors of other frames, and of posts without one, carry none.
    a.send_json(json!({"type": "history", "limit": 0, "client_id": "e-8"}))
        .await;
    assert!(a.expect("error").await.get("client_id").is_none());
    a.send_json(json!({"type": "chat_message", "message": ""}))
        .await;
    assert!(a.expect("error").await.get("client_id").is_none());
}

on_every_backend!(a_private_messages_answers_carry_its_client_id);
async fn a_private_messages_answers_carry_its_client_id() {
    let app = TestApp::spawn().await;
    let [mut a, mut b] = app.members("lobby", ["alice", "bob"]).await;
    a.send_json(post("/pm bob psst", "p-1")).await;
    let delivered = a.expect("private_message_delivered").await;
    assert_eq!(delivered["client_id"], "p-1", "{delivered}");
    let received = b.expect("private_message").await;
    assert!(received.get("client_id").is_none(), "{received}");
}

on_every_backend!(a_client_id_must_be_a_string_of_at_most_64_characters);
async fn a_client_id_must_be_a_string_of_at_most_64_characters() {
    let app = TestApp::spawn().await;
    let [mut a] = app.members("lobby", ["alice"]).await;
    let longest = "x".repeat(64);
    for bad in [
        json!("x".repeat(65)),
        json!(""),
        json!(42),
        json!({"id": 1}),
    ] {
        a.send_json(json!({"type": "chat_message", "message": "hi", "client_id": bad}))
            .await;
        let error = a.expect("error").await;
        assert_eq!(error["code"], "invalid_frame", "{error}");
        assert!(
            error["message"].as_str().unwrap().contains("client_id"),
            "says what is wrong: {error}"
        );
        assert!(error.get("client_id").is_none(), "{error}");
    }
    a.send_json(post("fits", &longest)).await;
    assert_eq!(a.expect("chat_message").await["client_id"], longest);
    assert_eq!(stored(&mut a).await.len(), 1, "only the valid one");
}

on_every_backend!(the_tutorial_client_without_client_ids_is_unaffected);
async fn the_tutorial_client_without_client_ids_is_unaffected() {
    let app = TestApp::spawn().await;
    let [mut a, mut b] = app.members("lobby", ["alice", "bob"]).await;
    // Saying the same thing twice is two messages, as it always was.
    for _ in 0..2 {
        a.send_json(json!({"message": "same again"})).await;
        let echo = a.expect("chat_message").await;
        assert!(echo.get("client_id").is_none(), "{echo}");
        assert_eq!(b.expect("chat_message").await, echo);
    }
    a.send_json(json!({"message": ""})).await;
    let error = a.expect("error").await;
    assert_eq!(error["code"], "empty_message");
    assert!(error.get("client_id").is_none(), "{error}");
    assert_eq!(stored(&mut b).await.len(), 2);
}

#[actix_web::test]
async fn two_instances_racing_one_client_id_store_one_message() {
    let Some(url) = redis_url() else { return };
    let (one, two) = pair(&url).await;
    let alice = one.user("alice").await;
    let mut a1 = one.join(&alice, "lobby").await;
    a1.joined().await;
    let alice_on_two = same_user_on(&two, "alice").await;
    let mut a2 = two.join(&alice_on_two, "lobby").await;
    a2.joined().await;
    let mut b = two.join(&two.user("bob").await, "lobby").await;
    b.joined().await;

    // The same post, at once, on both instances, several times over.
    for round in 0..5 {
        let client_id = format!("race-{round}");
        let frame = post(&format!("raced {round}"), &client_id);
        tokio::join!(a1.send_json(frame.clone()), a2.send_json(frame));
        let (mut one_saw, mut two_saw) = tokio::join!(
            until_client_id(&mut a1, &client_id),
            until_client_id(&mut a2, &client_id)
        );
        // Then, once everything about it is out, a marker from bob.
        let marker = format!("marker {round}");
        b.say(&marker).await;
        let (one_rest, two_rest, bob_saw) = tokio::join!(
            messages_until(&mut a1, &marker),
            messages_until(&mut a2, &marker),
            messages_until(&mut b, &marker)
        );
        one_saw.extend(one_rest);
        two_saw.extend(two_rest);
        // Each socket of alice's got one answer with the client_id, the
        // same message on both; the loser of the race also got the
        // winner's broadcast, which carries none. Bob got it once.
        let id = &one_saw[0]["id"];
        for (saw, sent) in [(&one_saw, "one"), (&two_saw, "two")] {
            assert!(saw.iter().all(|m| &m["id"] == id), "one message: {saw:?}");
            let answers = saw.iter().filter(|m| m["client_id"] == client_id.as_str());
            assert_eq!(answers.count(), 1, "from {sent}: {saw:?}");
            assert!((1..=2).contains(&saw.len()), "from {sent}: {saw:?}");
        }
        assert_eq!(one_saw.len() + two_saw.len(), 3, "{one_saw:?} {two_saw:?}");
        assert_eq!(bob_saw.len(), 1, "{bob_saw:?}");
        assert_eq!(&bob_saw[0]["id"], id);
        assert!(bob_saw[0].get("client_id").is_none());
    }
    let texts: Vec<Value> = stored(&mut b)
        .await
        .iter()
        .map(|m| m["message"].clone())
        .collect();
    assert_eq!(
        texts,
        [
            "raced 0", "marker 0", "raced 1", "marker 1", "raced 2", "marker 2", "raced 3",
            "marker 3", "raced 4", "marker 4"
        ],
        "each raced post stored once"
    );
}

#[actix_web::test]
async fn the_echo_carries_the_client_id_while_cut_off_from_redis() {
    let Some(redis) = OwnRedis::start() else {
        return;
    };
    // Instance one reaches Redis through a relay the test cuts: what it
    // stores meanwhile reaches its members without the bus.
    let partition = Partition::to(redis.port).await;
    let (one, two) = pair_via(&partition.url(), &redis.url()).await;
    let alice = one.user("alice").await;
    let mut a = one.join(&alice, "lobby").await;
    a.joined().await;
    let carol = one.user("carol").await;
    let mut c = one.join(&carol, "lobby").await;
    c.joined().await;
    a.next_of("user_join").await;

    partition.cut();
    wait_for_redis(&one, "unreachable").await;
    assert_eq!(ready(&two).await["redis"], "ok");
    a.send_json(post("while cut off", "k-1")).await;
    let echo = a.next_of("chat_message").await;
    assert_eq!(echo["message"], "while cut off");
    assert_eq!(echo["client_id"], "k-1", "{echo}");
    let seen = c.next_of("chat_message").await;
    assert_eq!(seen, shared(&echo));
    partition.heal();
}
