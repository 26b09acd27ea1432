//! Reactions are bounded: a message carries at most `CONFAB_MAX_REACTIONS`
//! distinct emoji, a toggle tells everyone only what changed (a small
//! `reaction` frame), join bursts and history pages sum each emoji up
//! (`count`, `me`, at most three `users`), and `reactors` gives the full
//! list to those who may read the room.

use crate::common::{Browser, Event, TestApp, Ws};
use confab::domain::Emoji;
use serde_json::{Value, json};
use std::time::Duration;

/// The largest frame a toggle may cause.
const DELTA_LIMIT: usize = 1024;

/// `n` distinct emoji the server accepts, the longest first (families,
/// subdivision flags: 25 to 28 bytes each).
fn long_emoji(n: usize) -> Vec<String> {
    let mut all: Vec<String> = emojis::iter()
        .map(|e| e.as_str().to_owned())
        .filter(|e| Emoji::parse(e).is_ok_and(|parsed| parsed.as_str() == e))
        .collect();
    all.sort_by_key(|e| std::cmp::Reverse(e.len()));
    all.truncate(n);
    assert_eq!(all.len(), n, "enough emoji");
    all
}

/// `name`'s existing account, signed in again.
async fn signed_in(app: &TestApp, name: &str) -> Browser {
    let browser = app.browser();
    let res = browser.login(name, "correct horse battery", "/chat/").await;
    assert_eq!(res.status(), 303, "login of {name}");
    browser
}

fn react(id: i64, emoji: &str) -> Value {
    json!({"type": "react", "id": id, "emoji": emoji})
}

/// The next `reaction` frame, checked to be small and about message `id`.
async fn delta(ws: &mut Ws, id: i64) -> Value {
    let frame = ws.expect("reaction").await;
    let size = serde_json::to_string(&frame).unwrap().len();
    assert!(size < DELTA_LIMIT, "{size} bytes: {frame}");
    assert_eq!(frame["id"], id, "{frame}");
    frame
}

/// Posts `text` as `ws` and returns its id once everyone in `others` saw it.
async fn post(ws: &mut Ws, others: &mut [&mut Ws], text: &str) -> i64 {
    ws.say(text).await;
    let id = ws.expect("chat_message").await["id"].as_i64().unwrap();
    for other in others.iter_mut() {
        assert_eq!(other.expect("chat_message").await["id"], id);
    }
    id
}

/// The stored reactions of message `id`: (emoji, user id) rows.
fn stored(app: &TestApp, id: i64) -> Vec<(String, i32)> {
    use confab::db::schema::reactions;
    use diesel::prelude::*;
    app.database()
        .run_here(|conn| {
            Ok(reactions::table
                .filter(reactions::message_id.eq(id))
                .order(reactions::id.asc())
                .select((reactions::emoji, reactions::user_id))
                .load::<(String, i32)>(conn)?)
        })
        .expect("read the reactions")
}

fn distinct(rows: &[(String, i32)]) -> usize {
    rows.iter()
        .map(|(e, _)| e.as_str())
        .collect::<std::collections::HashSet<_>>()
        .len()
}

/// A message's reactions as (emoji, count, me, users).
fn summary(message: &Value) -> Vec<(String, u64, bool, Vec<String>)> {
    message["reactions"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|r| {
                    let users: Vec<String> = r["users"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|u| u.as_str().unwrap().to_owned())
                        .collect();
                    (
                        r["emoji"].as_str().unwrap().to_owned(),
                        r["count"].as_u64().unwrap(),
                        r["me"].as_bool().unwrap(),
                        users,
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn s(emoji: &str, count: u64, me: bool, users: &[&str]) -> (String, u64, bool, Vec<String>) {
    (
        emoji.to_owned(),
        count,
        me,
        users.iter().map(|u| (*u).to_owned()).collect(),
    )
}

on_every_backend!(a_toggle_tells_everyone_only_what_changed);
async fn a_toggle_tells_everyone_only_what_changed() {
    let app = TestApp::spawn().await;
    let [mut a, mut b] = app.members("lobby", ["alice", "bob"]).await;
    let id = post(&mut a, &mut [&mut b], "react to me").await;

    b.send_json(react(id, "👍")).await;
    for ws in [&mut a, &mut b] {
        let frame = delta(ws, id).await;
        assert_eq!(
            frame,
            json!({"type": "reaction", "id": id, "emoji": "👍", "user": "bob", "added": true, "count": 1})
        );
    }
    a.send_json(react(id, "👍")).await;
    a.send_json(react(id, "🎉")).await;
    for ws in [&mut a, &mut b] {
        let frame = delta(ws, id).await;
        assert_eq!(
            (&frame["user"], &frame["count"]),
            (&json!("alice"), &json!(2))
        );
        let frame = delta(ws, id).await;
        assert_eq!(
            (&frame["emoji"], &frame["count"]),
            (&json!("🎉"), &json!(1))
        );
    }
    // Toggling again takes it back.
    b.send_json(react(id, "👍")).await;
    for ws in [&mut a, &mut b] {
        let frame = delta(ws, id).await;
        assert_eq!(
            (&frame["user"], &frame["added"], &frame["count"]),
            (&json!("bob"), &json!(false), &json!(1))
        );
    }

    for bad in ["", "ok", "👍👍", "<b>", "x".repeat(200).as_str()] {
        b.send_json(react(id, bad)).await;
        assert_eq!(b.error_code().await, "invalid_emoji", "{bad:?}");
    }
    b.send_json(react(424_242, "👍")).await;
    assert_eq!(b.error_code().await, "not_found");

    // Stored, and summed up on join: carol did not react, alice did.
    let mut c = app.join(&app.user("carol").await, "lobby").await;
    let (history, _) = c.joined().await;
    assert_eq!(
        summary(&history[0]),
        [s("👍", 1, false, &["alice"]), s("🎉", 1, false, &["alice"])]
    );
    a.expect("user_join").await;
    b.expect("user_join").await;
    a.send_json(json!({"type": "history", "limit": 10})).await;
    let page = a.expect("history").await;
    assert_eq!(
        summary(&page["messages"][0]),
        [s("👍", 1, true, &["alice"]), s("🎉", 1, true, &["alice"])]
    );

    // Deleting the message takes its reactions with it.
    a.send_json(json!({"type": "delete_message", "id": id}))
        .await;
    a.expect("message_deleted").await;
    assert!(stored(&app, id).is_empty());
}

on_every_backend!(a_message_holds_at_most_the_configured_number_of_distinct_emoji);
async fn a_message_holds_at_most_the_configured_number_of_distinct_emoji() {
    // The default cap, 20, with the longest emoji and names there are.
    let app = TestApp::spawn().await;
    assert_eq!(app.settings.max_reactions, 20);
    let names = [
        "a2345678901234567890123456789012",
        "b2345678901234567890123456789012",
        "c2345678901234567890123456789012",
        "d2345678901234567890123456789012",
    ];
    let mut sockets = app.members("lobby", names).await;
    let (first, rest) = sockets.split_first_mut().unwrap();
    let mut others: Vec<&mut Ws> = rest.iter_mut().collect();
    let id = post(first, &mut others, "react to me").await;
    let emoji = long_emoji(21);

    // Everyone reacts with all 20: 80 reactions, each toggle a small frame.
    for (who, _) in names.iter().enumerate() {
        for e in &emoji[..20] {
            sockets[who].send_json(react(id, e)).await;
        }
        for ws in sockets.iter_mut() {
            for e in &emoji[..20] {
                let frame = delta(ws, id).await;
                assert_eq!(frame["emoji"], e.as_str());
                assert_eq!(frame["user"], names[who]);
                assert_eq!(frame["count"], who + 1);
            }
        }
    }
    let before = stored(&app, id);
    assert_eq!((before.len(), distinct(&before)), (80, 20));

    // A 21st distinct emoji is refused, nothing stored, no one told.
    sockets[1].send_json(react(id, &emoji[20])).await;
    let refusal = sockets[1].expect("error").await;
    assert_eq!(refusal["code"], "too_many_reactions", "{refusal}");
    assert!(
        refusal["message"].as_str().unwrap().contains("20"),
        "{refusal}"
    );
    assert_eq!(stored(&app, id), before);
    sockets[0]
        .expect_nothing_for(Duration::from_millis(300))
        .await;

    // Existing emoji still toggle at the cap, off and on again.
    sockets[1].send_json(react(id, &emoji[3])).await;
    sockets[1].send_json(react(id, &emoji[3])).await;
    for ws in sockets.iter_mut() {
        let off = delta(ws, id).await;
        assert_eq!((&off["added"], &off["count"]), (&json!(false), &json!(3)));
        let on = delta(ws, id).await;
        assert_eq!((&on["added"], &on["count"]), (&json!(true), &json!(4)));
    }

    // Join bursts and history pages sum each emoji up: count, me, and the
    // first three names only.
    let first_three = &names[..3];
    let mut again = app.join(&signed_in(&app, names[2]).await, "lobby").await;
    let (history, _) = again.joined().await;
    let seen = summary(&history[0]);
    assert_eq!(seen.len(), 20);
    for (i, (e, count, me, users)) in seen.iter().enumerate() {
        assert_eq!(e, &emoji[i]);
        assert_eq!((*count, *me), (4, true));
        let expected: Vec<&str> = if i == 3 {
            // b took it back and added it again: now the last of four.
            vec![names[0], names[2], names[3]]
        } else {
            first_three.to_vec()
        };
        assert_eq!(users, &expected);
    }
    let mut outsider = app.join(&app.user("eve").await, "lobby").await;
    let (history, _) = outsider.joined().await;
    for ws in sockets.iter_mut() {
        ws.expect("user_join").await;
    }
    assert!(
        summary(&history[0])
            .iter()
            .all(|(_, n, me, _)| *n == 4 && !me)
    );
    outsider
        .send_json(json!({"type": "history", "limit": 10}))
        .await;
    let page = outsider.expect("history").await;
    assert_eq!(summary(&page["messages"][0]), summary(&history[0]));

    // Once every user of one emoji has taken it back, a new one fits.
    for who in 0..4 {
        sockets[who].send_json(react(id, &emoji[7])).await;
        for ws in sockets.iter_mut() {
            delta(ws, id).await;
        }
    }
    sockets[1].send_json(react(id, &emoji[20])).await;
    let frame = delta(&mut sockets[1], id).await;
    assert_eq!(
        (&frame["emoji"], &frame["added"], &frame["count"]),
        (&json!(emoji[20]), &json!(true), &json!(1))
    );
    assert_eq!(distinct(&stored(&app, id)), 20);
}

on_every_backend!(a_cap_of_one_is_honoured);
async fn a_cap_of_one_is_honoured() {
    let app = TestApp::spawn_with(|s| s.max_reactions = 1).await;
    let [mut a, mut b] = app.members("lobby", ["alice", "bob"]).await;
    let id = post(&mut a, &mut [&mut b], "one kind only").await;
    a.send_json(react(id, "👍")).await;
    delta(&mut a, id).await;
    delta(&mut b, id).await;
    b.send_json(react(id, "🎉")).await;
    assert_eq!(b.error_code().await, "too_many_reactions");
    b.send_json(react(id, "👍")).await;
    assert_eq!(delta(&mut b, id).await["count"], 2);
    assert_eq!(stored(&app, id).len(), 2);
}

on_every_backend!(instances_racing_cannot_pass_the_cap);
async fn instances_racing_cannot_pass_the_cap() {
    // Two instances on one database, each with a user firing different
    // emoji at the same message at once.
    let app = TestApp::spawn_with(|s| s.max_reactions = 5).await;
    let other = app.sibling(|_| {}).await;
    let mut a = app.join(&app.user("alice").await, "lobby").await;
    a.joined().await;
    let id = post(&mut a, &mut [], "race").await;
    let bob = other.user("bob").await;
    let mut b = other.join(&bob, "lobby").await;
    b.joined().await;
    let emoji = long_emoji(24);
    let frames = |from: usize| -> Vec<Value> {
        emoji[from..from + 12]
            .iter()
            .map(|e| react(id, e))
            .collect()
    };
    let (to_a, to_b) = (frames(0), frames(12));
    tokio::join!(a.send_together(&to_a), b.send_together(&to_b));

    // Every toggle is answered: added or refused, 24 in all.
    let mut answers = 0;
    let mut added = 0;
    for (ws, name) in [(&mut a, "alice"), (&mut b, "bob")] {
        let mut own = 0;
        while own < 12 {
            let frame = ws.recv().await;
            match frame["type"].as_str() {
                Some("reaction") => {
                    // Each instance's room tells its own members (no bus
                    // between them here).
                    assert_eq!(frame["user"], name, "{frame}");
                    own += 1;
                    added += 1;
                }
                Some("error") => {
                    assert_eq!(frame["code"], "too_many_reactions", "{frame}");
                    own += 1;
                }
                Some("user_join" | "user_leave") => {}
                _ => panic!("unexpected {frame}"),
            }
        }
        answers += own;
    }
    assert_eq!(answers, 24);
    let rows = stored(&app, id);
    assert_eq!((rows.len(), distinct(&rows), added), (5, 5, 5), "{rows:?}");
}

on_every_backend!(reactors_lists_everyone_to_those_who_may_read_the_room);
async fn reactors_lists_everyone_to_those_who_may_read_the_room() {
    let app = TestApp::spawn().await;
    let names = ["u1", "u2", "u3", "u4", "u5"];
    let mut sockets = app.members("lobby", names).await;
    let (first, rest) = sockets.split_first_mut().unwrap();
    let mut others: Vec<&mut Ws> = rest.iter_mut().collect();
    let id = post(first, &mut others, "popular").await;
    for who in 0..names.len() {
        sockets[who].send_json(react(id, "🎉")).await;
        for ws in sockets.iter_mut() {
            delta(ws, id).await;
        }
    }
    let ask = |emoji: &str| json!({"type": "reactors", "id": id, "emoji": emoji});

    // The summary stops at three; `reactors` has them all, in order.
    let mut c = app.join(&app.user("carol").await, "lobby").await;
    let (history, _) = c.joined().await;
    assert_eq!(
        summary(&history[0]),
        [s("🎉", 5, false, &["u1", "u2", "u3"])]
    );
    c.send_json(ask("🎉")).await;
    assert_eq!(
        c.expect("reactors").await,
        json!({"type": "reactors", "id": id, "emoji": "🎉", "users": names})
    );
    // An emoji no one used: no one. Errors are typed.
    c.send_json(ask("👍")).await;
    assert_eq!(c.expect("reactors").await["users"], json!([]));
    c.send_json(ask("ok")).await;
    assert_eq!(c.error_code().await, "invalid_emoji");
    c.send_json(json!({"type": "reactors", "id": 424_242, "emoji": "🎉"}))
        .await;
    assert_eq!(c.error_code().await, "not_found");
    c.send_json(json!({"type": "reactors", "id": id})).await;
    assert_eq!(c.error_code().await, "invalid_frame");

    // Only messages of the room the socket is in.
    let mut elsewhere = app.join(&app.user("dave").await, "elsewhere").await;
    elsewhere.joined().await;
    elsewhere.send_json(ask("🎉")).await;
    assert_eq!(elsewhere.error_code().await, "not_found");
}

on_every_backend!(a_member_who_lost_an_admin_only_room_cannot_list_its_reactors);
async fn a_member_who_lost_an_admin_only_room_cannot_list_its_reactors() {
    let app = TestApp::spawn().await;
    let (_carol, mut c) = app.staff_in_admin_only_room("carol").await;
    let id = post(&mut c, &mut [], "staff only").await;
    c.send_json(react(id, "👍")).await;
    delta(&mut c, id).await;
    c.send_json(json!({"type": "reactors", "id": id, "emoji": "👍"}))
        .await;
    assert_eq!(c.expect("reactors").await["users"], json!(["carol"]));

    assert!(app.cli(&["user", "demote", "carol"]).status.success());
    c.send_json(json!({"type": "reactors", "id": id, "emoji": "👍"}))
        .await;
    assert_eq!(c.error_code().await, "forbidden");
    match c.next_event().await {
        Event::Closed(close) => assert_eq!(close.map(|(code, _)| code), Some(1008)),
        Event::Frame(frame) => panic!("unexpected {frame}"),
    }
}
