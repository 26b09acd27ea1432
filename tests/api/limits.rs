//! What one client may cost the others: floods are cut to a trickle, pages
//! are asked for one at a time, and a client that stops reading (or
//! answering pings) is disconnected instead of being buffered for.

use crate::common::{Event, TestApp, Ws};
use serde_json::{Value, json};
use std::time::Duration;

/// `ws`'s frames of type `kind` until `marker` (a chat message) arrives.
async fn count_until_marker(ws: &mut Ws, kind: &str, marker: &str) -> usize {
    let mut count = 0;
    loop {
        let frame = ws.recv().await;
        if frame["type"] == kind {
            count += 1;
        }
        if frame["type"] == "chat_message" && frame["message"] == marker {
            return count;
        }
    }
}

on_every_backend!(a_typing_flood_reaches_the_others_as_a_trickle);
async fn a_typing_flood_reaches_the_others_as_a_trickle() {
    let app = TestApp::spawn().await;
    let [mut a, mut b] = app.members("lobby", ["alice", "bob"]).await;

    // 200 changes at once, alternating so none is a mere repeat.
    let flood: Vec<Value> = (0..200)
        .map(|i| json!({"type": "typing", "typing": i % 2 == 0}))
        .collect();
    a.send_together(&flood).await;
    a.say("after the flood").await;
    let relayed = count_until_marker(&mut b, "typing", "after the flood").await;
    assert!(
        (1..=8).contains(&relayed),
        "bob got {relayed} of 200 typing changes"
    );
    // Bob was not buried (or kicked) by it.
    b.say("still here").await;
    assert_eq!(b.next_of("chat_message").await["message"], "still here");
}

on_every_backend!(a_private_message_flood_is_refused_past_its_budget);
async fn a_private_message_flood_is_refused_past_its_budget() {
    let app = TestApp::spawn().await;
    let [mut a, mut b] = app.members("lobby", ["alice", "bob"]).await;

    let flood: Vec<Value> = (0..50)
        .map(|i| json!({"type": "chat_message", "message": format!("/pm bob {i}")}))
        .collect();
    a.send_together(&flood).await;
    let (mut delivered, mut refused) = (0, 0);
    while delivered + refused < 50 {
        let frame = a.recv().await;
        match frame["type"].as_str() {
            Some("private_message_delivered") => delivered += 1,
            Some("error") => {
                assert_eq!(frame["code"], "rate_limited", "{frame}");
                refused += 1;
            }
            _ => panic!("unexpected {frame}"),
        }
    }
    assert!(
        (10..=15).contains(&delivered),
        "{delivered} delivered, {refused} refused"
    );
    // Bob got exactly what alice was told was delivered, and stays.
    let mut received = 0;
    while received < delivered {
        assert_eq!(b.recv().await["type"], "private_message");
        received += 1;
    }
    b.say("still here").await;
    assert_eq!(b.next_of("chat_message").await["message"], "still here");
}

on_every_backend!(history_pages_are_answered_one_at_a_time);
async fn history_pages_are_answered_one_at_a_time() {
    let app = TestApp::spawn().await;
    let [mut a] = app.members("lobby", ["alice"]).await;
    a.say("something to page").await;
    a.expect("chat_message").await;

    let page = json!({"type": "history", "limit": 100});
    a.send_together(&[page.clone(), page.clone()]).await;
    let mut kinds = vec![
        a.recv().await["type"].as_str().unwrap().to_owned(),
        a.recv().await["type"].as_str().unwrap().to_owned(),
    ];
    kinds.sort();
    assert_eq!(kinds, ["error", "history"]);
    // Once answered, the next page is served.
    a.send_json(page).await;
    assert_eq!(
        a.expect("history").await["messages"][0]["message"],
        "something to page"
    );
}

on_every_backend!(a_socket_that_never_reads_again_is_reset_and_leaves);
async fn a_socket_that_never_reads_again_is_reset_and_leaves() {
    let app = TestApp::spawn_with(|s| {
        s.heartbeat_interval = Duration::from_secs(1);
        s.client_timeout = Duration::from_secs(3);
    })
    .await;
    let [mut a] = app.members("lobby", ["alice"]).await;
    let mut s = app.stalled_member("slowpoke", "lobby").await;
    a.expect("user_join").await;
    // From here on `s` never reads: its window closes and the server's
    // writes stall.

    let text = "m".repeat(3000);
    let mut sent = 0;
    loop {
        a.say(&format!("{sent} {text}")).await;
        sent += 1;
        let frame = a.recv().await;
        if frame["type"] == "user_leave" {
            assert_eq!(frame["user"], "slowpoke");
            break;
        }
        assert_eq!(frame["type"], "chat_message");
        assert!(sent < 5000, "the stalled client was never dropped");
    }
    // Dropped from the room is not enough: the connection itself must go,
    // or it would hold its buffers for as long as the peer likes. Unread
    // data for longer than the client timeout makes the server's kernel
    // reset it (this wait is that timeout, not a guess).
    tokio::time::sleep(Duration::from_secs(3 + 2)).await;
    let mut frames = 0;
    let end = loop {
        match s.next_event().await {
            Event::Frame(_) => frames += 1,
            Event::Closed(close) => break close,
        }
    };
    // A session that was merely kicked would, once read again, flush its
    // backlog and close with 1013; a reset connection ends without a close.
    assert_eq!(end, None, "the connection was reset, not closed in order");
    assert!(frames < sent, "read {frames} of {sent} before the reset");
}

on_every_backend!(a_client_that_stops_answering_pings_is_closed_with_going_away);
async fn a_client_that_stops_answering_pings_is_closed_with_going_away() {
    let app = TestApp::spawn_with(|s| {
        s.heartbeat_interval = Duration::from_secs(1);
        s.client_timeout = Duration::from_secs(2);
    })
    .await;
    let [mut a] = app.members("lobby", ["alice"]).await;
    // Not reading means not answering pings (the client library pongs as
    // it reads). This wait is the silence under test, not a guess.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let close = loop {
        match a.next_event().await {
            Event::Frame(_) => continue,
            Event::Closed(close) => break close,
        }
    };
    let (code, reason) = close.expect("a close frame");
    assert_eq!((code, reason.as_str()), (1001, "no heartbeat"));
}

on_every_backend!(the_frame_limit_follows_the_message_limit);
async fn the_frame_limit_follows_the_message_limit() {
    let app = TestApp::spawn_with(|s| s.max_message_chars = 20_000).await;
    let [mut a] = app.members("lobby", ["alice"]).await;
    // 20,000 characters of four bytes each: an 80 KB frame.
    let longest = "😀".repeat(20_000);
    a.say(&longest).await;
    assert_eq!(a.expect("chat_message").await["message"], longest.as_str());
    a.say(&format!("{longest}😀")).await;
    assert_eq!(a.expect("error").await["code"], "message_too_long");
    a.say("still open").await;
    assert_eq!(a.expect("chat_message").await["message"], "still open");
}

on_every_backend!(one_users_writes_share_one_allowance_over_all_their_sockets);
async fn one_users_writes_share_one_allowance_over_all_their_sockets() {
    let app = TestApp::spawn_with(|s| {
        s.write_burst = 3;
        s.write_per_sec = 1;
    })
    .await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let mut a = app.join(&alice, "lobby").await;
    a.joined().await;
    let mut b = app.join(&bob, "lobby").await;
    b.joined().await;
    let mut second_tab = app.join(&alice, "lobby").await;
    second_tab.joined().await;

    // The burst: a post, an edit and a reaction, from two tabs.
    a.say("one").await;
    let id = a.next_of("chat_message").await["id"].clone();
    second_tab
        .send_json(json!({"type": "edit_message", "id": id, "message": "one!"}))
        .await;
    a.next_of("message_edited").await;
    a.send_json(json!({"type": "react", "id": id, "emoji": "👍"}))
        .await;
    a.next_of("reaction").await;

    // Spent: the next write from either tab is refused, and not stored.
    for ws in [&mut a, &mut second_tab] {
        ws.say("too fast").await;
        let err = ws.next_of("error").await;
        assert_eq!(err["code"], "rate_limited", "{err}");
        let wait = err["retry_after_ms"].as_u64().expect("retry_after_ms");
        assert!(wait > 0 && wait <= 1000, "{err}");
    }
    // Bob's allowance is his own.
    b.say("bob is fine").await;
    let mut seen = Vec::new();
    loop {
        let m = b.next_of("chat_message").await;
        seen.push(m["message"].as_str().unwrap().to_owned());
        if m["user"] == "bob" {
            break;
        }
    }
    assert_eq!(
        seen,
        ["one", "bob is fine"],
        "nothing refused was delivered"
    );

    // After the wait it was told, the next write goes through.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    a.say("two").await;
    assert_eq!(a.next_of("chat_message").await["message"], "bob is fine");
    assert_eq!(a.next_of("chat_message").await["message"], "two");
}
