//! My rooms and unread counts (issue 13, features 1 and 2): posting or the
//! Join button makes a room mine and Leave undoes it; a modern socket
//! (`?v=2`) gets an `unread` snapshot on join, an `activity` frame for each
//! new message in my rooms, and a `read_marker` whenever my marker moves
//! (`read`, `mark_unread`) in any tab on any instance; a legacy socket gets
//! none of these frame types.

use crate::common::{Browser, TestApp, Ws, redis_url};
use crate::scale_out::{pair, same_user_on};
use serde_json::{Value, json};

/// The frame types docs/protocol.md listed before issue 13: all a legacy
/// socket may ever receive.
const LEGACY_TYPES: [&str; 14] = [
    "chat_message",
    "user_list",
    "user_join",
    "user_leave",
    "history",
    "resumed",
    "message_edited",
    "message_deleted",
    "typing",
    "reaction",
    "reactors",
    "private_message",
    "private_message_delivered",
    "error",
];

/// The entry for `room` in an `unread` frame's list.
fn entry<'a>(unread: &'a Value, room: &str) -> Option<&'a Value> {
    unread["rooms"]
        .as_array()
        .expect("rooms array")
        .iter()
        .find(|r| r["room"] == room)
}

/// Reads a modern socket's join burst (history, `user_list`) and the
/// `unread` snapshot that ends it.
async fn joined_modern(ws: &mut Ws) -> Value {
    ws.joined().await;
    ws.expect("unread").await
}

/// Posts `text` as `ws` and returns its id (from its echo; other
/// messages before it are skipped).
async fn post(ws: &mut Ws, text: &str) -> i64 {
    ws.say(text).await;
    loop {
        let frame = ws.next_of("chat_message").await;
        if frame["message"] == text {
            return frame["id"].as_i64().unwrap();
        }
    }
}

async fn press(browser: &Browser, room: &str, button: &str) -> reqwest::Response {
    let token = browser.csrf_token(&format!("/chat/{room}/")).await;
    browser
        .post_form(
            &format!("/chat/{room}/{button}"),
            &[("csrf_token", token.as_str())],
        )
        .await
}

on_every_backend!(
    posting_joins_and_reading_clears_the_count,
    join_and_leave_buttons_change_my_rooms,
    mark_unread_moves_the_marker_back,
    legacy_sockets_get_only_todays_frame_types,
    a_read_of_a_message_elsewhere_is_refused,
);

async fn posting_joins_and_reading_clears_the_count() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let mut a = app.join_modern(&alice, "lobby").await;
    let first = joined_modern(&mut a).await;
    assert!(entry(&first, "lobby").is_none(), "not mine before posting");

    // Bob posts: the lobby is his now, read up to his post.
    let mut b = app.join_modern(&bob, "lobby").await;
    let snapshot = joined_modern(&mut b).await;
    assert_eq!(snapshot["rooms"], json!([]));
    let bobs = post(&mut b, "hello").await;
    // Alice is no member: no activity for her, only the message.
    assert_eq!(a.next_of("chat_message").await["id"], bobs);

    // Alice posts, and bob's other tab (a room he is not looking at) is
    // told; the author is not.
    let mut b_elsewhere = app.join_modern(&bob, "kitchen").await;
    let elsewhere = joined_modern(&mut b_elsewhere).await;
    let lobby = entry(&elsewhere, "lobby").expect("the lobby is bob's");
    assert_eq!(
        (&lobby["unread"], &lobby["mentions"], &lobby["last_read_id"]),
        (&json!(0), &json!(0), &json!(bobs))
    );
    assert_eq!(
        (&lobby["label"], &lobby["kind"], &lobby["url"]),
        (&json!("lobby"), &json!("room"), &json!("/chat/lobby/"))
    );
    let alices = post(&mut a, "hi bob, long time no see").await;
    let activity = b_elsewhere.expect("activity").await;
    assert_eq!(
        activity,
        json!({"type": "activity", "room": "lobby", "label": "lobby", "kind": "room",
               "url": "/chat/lobby/", "message_id": alices, "user": "alice",
               "excerpt": "hi bob, long time no see", "mention": false})
    );
    let again = app.join_modern(&bob, "kitchen").await;
    let mut again = again;
    let counts = joined_modern(&mut again).await;
    assert_eq!(entry(&counts, "lobby").unwrap()["unread"], 1);
    // Alice's own snapshot now has the lobby, with nothing unread (her
    // own post does not count).
    let mut a2 = app.join_modern(&alice, "kitchen").await;
    let hers = joined_modern(&mut a2).await;
    assert_eq!(entry(&hers, "lobby").unwrap()["unread"], 0);

    // Bob reads in the lobby: every modern socket of his hears the count.
    b.next_of("chat_message").await;
    b.send_json(json!({"type": "read", "message_id": alices}))
        .await;
    for ws in [&mut b, &mut b_elsewhere, &mut again] {
        let marker = ws.next_of("read_marker").await;
        assert_eq!(
            (&marker["room"], &marker["unread"], &marker["last_read_id"]),
            (&json!("lobby"), &json!(0), &json!(alices)),
            "{marker}"
        );
    }
    // A marker never moves back by reading an older message.
    b.send_json(json!({"type": "read", "message_id": bobs}))
        .await;
    assert_eq!(b.next_of("read_marker").await["last_read_id"], alices);
}

async fn join_and_leave_buttons_change_my_rooms() {
    let app = TestApp::spawn().await;
    let carol = app.user("carol").await;
    let dave = app.user("dave").await;
    let mut d = app.join(&dave, "garden").await;
    d.joined().await;
    post(&mut d, "before carol joined").await;

    let page = carol.text("/chat/garden/").await;
    assert!(
        page.contains("action=\"/chat/garden/join\""),
        "a Join button"
    );
    // The forms are CSRF-protected like every other.
    let forged = carol
        .post_form("/chat/garden/join", &[("csrf_token", "nope")])
        .await;
    assert_eq!(forged.status(), 403);
    let mut c = app.join_modern(&carol, "lobby").await;
    joined_modern(&mut c).await;

    let joined = press(&carol, "garden", "join").await;
    assert_eq!(joined.status(), 303);
    assert_eq!(joined.headers()["location"], "/chat/garden/");
    // Her open socket gets her new list: the garden, all of it read.
    let list = c.next_of("unread").await;
    let garden = entry(&list, "garden").expect("joined");
    assert_eq!(garden["unread"], 0);
    let page = carol.text("/chat/garden/").await;
    assert!(page.contains("action=\"/chat/garden/leave\""), "now Leave");
    assert!(
        page.contains("class=\"sidebar-link is-current\"") && page.contains("data-room=\"garden\""),
        "the sidebar lists it"
    );
    let json: Value = serde_json::from_str(&carol.text("/me/unread/").await).unwrap();
    assert_eq!(entry(&json, "garden").unwrap()["unread"], 0);

    // Joined, she hears of what is said there.
    let id = post(&mut d, "welcome carol").await;
    let activity = c.expect("activity").await;
    assert_eq!(
        (&activity["room"], &activity["message_id"]),
        (&json!("garden"), &json!(id))
    );

    let left = press(&carol, "garden", "leave").await;
    assert_eq!(left.status(), 303);
    let list = c.next_of("unread").await;
    assert!(entry(&list, "garden").is_none(), "left: {list}");
    let json: Value = serde_json::from_str(&carol.text("/me/unread/").await).unwrap();
    assert_eq!(json["rooms"], json!([]));
    // No longer a member: nothing more comes (the next frame is the
    // answer to a later request of her own).
    post(&mut d, "carol left").await;
    c.send_json(json!({"type": "history", "limit": 1})).await;
    assert_eq!(c.recv().await["type"], "history");
}

async fn mark_unread_moves_the_marker_back() {
    let app = TestApp::spawn().await;
    let erin = app.user("erin").await;
    let frank = app.user("frank").await;
    let mut f = app.join(&frank, "lobby").await;
    f.joined().await;
    let mut e = app.join_modern(&erin, "lobby").await;
    joined_modern(&mut e).await;
    post(&mut e, "erin is here").await;
    let mut ids = Vec::new();
    for n in 0..3 {
        ids.push(post(&mut f, &format!("news {n}")).await);
    }
    for _ in 0..3 {
        e.next_of("chat_message").await;
    }
    e.send_json(json!({"type": "read", "message_id": ids[2]}))
        .await;
    assert_eq!(e.next_of("read_marker").await["unread"], 0);
    // "Mark as unread" on the second: it and the third are unread again.
    e.send_json(json!({"type": "mark_unread", "message_id": ids[1]}))
        .await;
    let marker = e.next_of("read_marker").await;
    assert_eq!(
        (&marker["unread"], &marker["last_read_id"]),
        (&json!(2), &json!(ids[1] - 1))
    );
    // Marking a message after the marker unread changes nothing.
    e.send_json(json!({"type": "mark_unread", "message_id": ids[2]}))
        .await;
    assert_eq!(e.next_of("read_marker").await["unread"], 2);
}

/// A legacy socket of a member, in a room where others post and where the
/// same user reads and marks unread in a modern tab, receives only the
/// frame types of before.
async fn legacy_sockets_get_only_todays_frame_types() {
    let app = TestApp::spawn().await;
    let gina = app.user("gina").await;
    let hank = app.user("hank").await;
    let mut legacy = app.join(&gina, "lobby").await;
    legacy.joined().await;
    let mut modern = app.join_modern(&gina, "lobby").await;
    joined_modern(&mut modern).await;
    let mut h = app.join(&hank, "lobby").await;
    h.joined().await;
    post(&mut legacy, "gina posts, so the lobby is hers").await;
    for n in 0..5 {
        let id = post(&mut h, &format!("@gina busy {n}")).await;
        modern
            .send_json(json!({"type": "read", "message_id": id}))
            .await;
        modern.next_of("read_marker").await;
        modern
            .send_json(json!({"type": "mark_unread", "message_id": id}))
            .await;
        modern.next_of("read_marker").await;
    }
    // Gina's other modern socket, elsewhere, gets the activity of the last
    // post: the registry has handed it to every socket of hers by then.
    let mut away = app.join_modern(&gina, "kitchen").await;
    joined_modern(&mut away).await;
    let last = post(&mut h, "the last one").await;
    assert_eq!(away.expect("activity").await["message_id"], last);
    // Everything for the legacy socket is queued before the answer to its
    // own request: read up to it.
    legacy
        .send_json(json!({"type": "history", "limit": 1}))
        .await;
    let mut seen = Vec::new();
    loop {
        let frame = legacy.recv().await;
        let kind = frame["type"].as_str().unwrap().to_owned();
        assert!(
            LEGACY_TYPES.contains(&kind.as_str()),
            "a legacy socket got {frame}"
        );
        seen.push(kind.clone());
        if kind == "history" {
            break;
        }
    }
    assert!(seen.iter().filter(|k| *k == "chat_message").count() >= 6);
}

async fn a_read_of_a_message_elsewhere_is_refused() {
    let app = TestApp::spawn().await;
    let ivy = app.user("ivy").await;
    let mut k = app.join(&ivy, "kitchen").await;
    k.joined().await;
    let id = post(&mut k, "in the kitchen").await;
    let mut l = app.join_modern(&ivy, "lobby").await;
    joined_modern(&mut l).await;
    for frame in [
        json!({"type": "read", "message_id": id}),
        json!({"type": "mark_unread", "message_id": id}),
        json!({"type": "read", "message_id": 1_000_000}),
    ] {
        l.send_json(frame).await;
        assert_eq!(l.error_code().await, "not_found");
    }
    l.send_json(json!({"type": "read"})).await;
    assert_eq!(l.error_code().await, "invalid_frame");
}

/// Two instances joined by Redis: a message on one reaches a modern tab on
/// the other as `activity`, and reading on the other clears the count on
/// the first.
#[actix_web::test]
async fn unread_counts_cross_instances() {
    let Some(url) = redis_url() else { return };
    let (one, two) = pair(&url).await;
    let jo = one.user("jo").await;
    let kim = one.user("kim").await;
    let mut kim_one = one.join_modern(&kim, "lobby").await;
    joined_modern(&mut kim_one).await;
    post(&mut kim_one, "kim joins by posting").await;

    let kim_two = same_user_on(&two, "kim").await;
    let mut kim_away = two.join_modern(&kim_two, "kitchen").await;
    let counts = joined_modern(&mut kim_away).await;
    assert_eq!(entry(&counts, "lobby").unwrap()["unread"], 0);

    let mut j = one.join(&jo, "lobby").await;
    j.joined().await;
    let id = post(&mut j, "news from instance one").await;
    let activity = kim_away.expect("activity").await;
    assert_eq!(
        (
            &activity["room"],
            &activity["message_id"],
            &activity["user"]
        ),
        (&json!("lobby"), &json!(id), &json!("jo"))
    );
    assert_eq!(activity["mention"], false);

    // A mention of her on instance one reaches her tab on instance two as
    // a mention (the badge, and a notification when no tab is in front).
    let mention_id = post(&mut j, "@kim can you look at this?").await;
    let mention = kim_away.next_of("activity").await;
    assert_eq!(
        (&mention["message_id"], &mention["mention"]),
        (&json!(mention_id), &json!(true))
    );

    // Kim reads on instance two (a lobby tab there): the badge on instance
    // one clears.
    let mut kim_lobby_two = two.join_modern(&kim_two, "lobby").await;
    let counts = joined_modern(&mut kim_lobby_two).await;
    let lobby = entry(&counts, "lobby").unwrap();
    assert_eq!(
        (&lobby["unread"], &lobby["mentions"]),
        (&json!(2), &json!(1))
    );
    kim_lobby_two
        .send_json(json!({"type": "read", "message_id": mention_id}))
        .await;
    let marker = kim_one.next_of("read_marker").await;
    assert_eq!(
        (&marker["room"], &marker["unread"], &marker["last_read_id"]),
        (&json!("lobby"), &json!(0), &json!(mention_id))
    );
    assert_eq!(kim_away.next_of("read_marker").await["unread"], 0);
}
