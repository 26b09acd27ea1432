//! `@name` mentions: stored with the message for users who may read the
//! room, carried on its frames, rewritten by edits, and listed on the
//! mentioned user's `/mentions/` page and its JSON, across instances too.

use crate::common::{Browser, TestApp, Ws};
use serde_json::{Value, json};

/// Posts `text` as the socket's user; the stored message as everyone sees it.
async fn post(ws: &mut Ws, text: &str) -> Value {
    ws.say(text).await;
    ws.expect("chat_message").await
}

/// `browser`'s mentions as JSON.
async fn my_mentions(browser: &Browser) -> Value {
    let res = browser.get("/mentions/?format=json").await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    json_of(res).await
}

/// The ids of `browser`'s mentions, newest first.
async fn mention_ids(browser: &Browser) -> Vec<i64> {
    my_mentions(browser).await["mentions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_i64().unwrap())
        .collect()
}

/// A response's body as JSON.
async fn json_of(res: reqwest::Response) -> Value {
    serde_json::from_str(&res.text().await.unwrap()).unwrap()
}

on_every_backend!(a_mention_is_stored_shown_on_the_frame_and_listed);
async fn a_mention_is_stored_shown_on_the_frame_and_listed() {
    let app = TestApp::spawn().await;
    let bob = app.user("Bob").await;
    let carol = app.user("carol").await;
    let [mut a] = app.members("lobby", ["alice"]).await;

    // Case does not matter, nor does punctuation around the name; an
    // address, the author herself and a name with no account are no one.
    let sent = post(
        &mut a,
        "(@bob) and @Carol, see mail@bob.example and @alice and @nobody.",
    )
    .await;
    assert_eq!(sent["mentions"], json!(["Bob", "carol"]));
    let plain = post(&mut a, "nobody is mentioned here").await;
    assert!(
        plain.get("mentions").is_none(),
        "omitted when empty: {plain}"
    );

    let listed = my_mentions(&bob).await;
    let mentions = listed["mentions"].as_array().unwrap();
    assert_eq!(mentions.len(), 1, "{listed}");
    let m = &mentions[0];
    assert_eq!(m["id"], sent["id"]);
    assert_eq!(m["room"], "lobby");
    assert_eq!(m["user"], "alice");
    assert_eq!(m["message"], sent["message"]);
    assert_eq!(m["created_at"], sent["created_at"]);
    assert_eq!(
        m["url"],
        format!("/chat/lobby/?around={}", sent["id"].as_i64().unwrap())
    );
    assert_eq!(my_mentions(&carol).await["mentions"][0]["id"], sent["id"]);

    // A newcomer's history carries the mentions too.
    let dave = app.user("dave").await;
    let mut d = app.join(&dave, "lobby").await;
    let (history, _) = d.joined().await;
    assert_eq!(history[0]["mentions"], json!(["Bob", "carol"]));
    assert!(history[1].get("mentions").is_none());

    // The page shows it, newest first, with a link into the room.
    let page = bob.text("/mentions/").await;
    assert!(page.contains("Mentions"), "{page}");
    assert!(page.contains(&format!(
        "href=\"/chat/lobby/?around={}\"",
        sent["id"].as_i64().unwrap()
    )));
    assert!(page.contains(r#"<span class="mention mention-me">@bob</span>"#));
    assert!(page.contains("mail@bob.example"));
}

on_every_backend!(an_edit_rewrites_the_mentions);
async fn an_edit_rewrites_the_mentions() {
    let app = TestApp::spawn().await;
    let bob = app.user("bob").await;
    let carol = app.user("carol").await;
    let [mut a, mut b] = app.members("lobby", ["alice", "erin"]).await;
    let sent = post(&mut a, "hey @bob").await;
    b.expect("chat_message").await;
    let id = sent["id"].as_i64().unwrap();
    assert_eq!(mention_ids(&bob).await.len(), 1);

    a.send_json(json!({"type": "edit_message", "id": id, "message": "hey @carol"}))
        .await;
    let edited = b.expect("message_edited").await;
    assert_eq!(edited["mentions"], json!(["carol"]));
    a.expect("message_edited").await;
    assert!(mention_ids(&bob).await.is_empty());
    assert_eq!(my_mentions(&carol).await["mentions"][0]["id"], id);
    assert_eq!(
        my_mentions(&carol).await["mentions"][0]["message"],
        "hey @carol"
    );

    // An edit that drops every name leaves the field out.
    a.send_json(json!({"type": "edit_message", "id": id, "message": "hey all"}))
        .await;
    let edited = b.expect("message_edited").await;
    assert!(edited.get("mentions").is_none(), "{edited}");
    assert!(mention_ids(&carol).await.is_empty());

    // A deleted message is no one's mention any more.
    a.send_json(json!({"type": "edit_message", "id": id, "message": "@carol again"}))
        .await;
    b.expect("message_edited").await;
    a.send_json(json!({"type": "delete_message", "id": id}))
        .await;
    b.expect("message_deleted").await;
    assert!(mention_ids(&carol).await.is_empty());
}

on_every_backend!(users_who_cannot_read_the_room_are_not_mentioned);
async fn users_who_cannot_read_the_room_are_not_mentioned() {
    let app = TestApp::spawn().await;
    let bob = app.user("bob").await;
    let boss = app.user("boss").await;
    assert!(app.cli(&["user", "promote", "boss"]).status.success());
    let (_, mut staff) = app.staff_in_admin_only_room("admin").await;

    let sent = post(&mut staff, "@bob and @boss, look").await;
    assert_eq!(sent["mentions"], json!(["boss"]), "bob may not read it");
    assert!(mention_ids(&bob).await.is_empty());
    assert_eq!(
        my_mentions(&boss).await["mentions"][0]["room"],
        "staff-room"
    );

    // Mentioned in an open room that later becomes admin-only: no longer
    // listed for him, still for staff.
    let carol = app.user("carol").await;
    let mut c = app.join(&carol, "open").await;
    c.joined().await;
    post(&mut c, "@bob @boss plans").await;
    assert_eq!(mention_ids(&bob).await.len(), 1);
    assert!(
        app.cli(&["room", "set", "open", "--admin-only"])
            .status
            .success()
    );
    assert!(mention_ids(&bob).await.is_empty());
    assert_eq!(mention_ids(&boss).await.len(), 2);
}

on_every_backend!(the_mentions_list_pages_newest_first);
async fn the_mentions_list_pages_newest_first() {
    let app = TestApp::spawn_with(|s| s.mentions_page_size = 2).await;
    let bob = app.user("bob").await;
    let [mut a] = app.members("lobby", ["alice"]).await;
    let mut ids = Vec::new();
    for n in 0..3 {
        ids.push(
            post(&mut a, &format!("@bob number {n}")).await["id"]
                .as_i64()
                .unwrap(),
        );
    }
    assert_eq!(mention_ids(&bob).await, [ids[2], ids[1]]);
    let first = my_mentions(&bob).await;
    assert_eq!(first["next_before"], ids[1]);
    let older = json_of(
        bob.get(&format!("/mentions/?format=json&before={}", ids[1]))
            .await,
    )
    .await;
    assert_eq!(older["mentions"][0]["id"], ids[0]);
    assert!(older.get("next_before").is_none());
    let page = bob.text("/mentions/").await;
    assert!(page.contains(&format!("/mentions/?before={}", ids[1])));

    for bad in [
        "/mentions/?format=xml",
        "/mentions/?before=0",
        "/mentions/?before=x",
    ] {
        assert_eq!(bob.get(bad).await.status(), 400, "{bad}");
    }
}

on_every_backend!(anonymous_visitors_are_sent_to_log_in);
async fn anonymous_visitors_are_sent_to_log_in() {
    let app = TestApp::spawn().await;
    let anonymous = app.browser();
    for path in [
        "/mentions/",
        "/mentions/?format=json",
        "/chat/lobby/members.json",
    ] {
        let res = anonymous.get(path).await;
        assert_eq!(res.status(), 302, "{path}");
        let to = res.headers()["location"].to_str().unwrap();
        assert!(to.starts_with("/accounts/login/?next="), "{path}: {to}");
    }
}

on_every_backend!(the_autocomplete_offers_recent_authors_then_members);
async fn the_autocomplete_offers_recent_authors_then_members() {
    let app = TestApp::spawn().await;
    let [mut a, mut b] = app.members("lobby", ["alice", "bob"]).await;
    post(&mut a, "first").await;
    b.expect("chat_message").await;
    post(&mut b, "second").await;
    a.expect("chat_message").await;
    let carol = app.user("carol").await;
    let members = json_of(carol.get("/chat/lobby/members.json").await).await;
    assert_eq!(members["members"][0], "bob", "{members}");
    assert_eq!(members["members"][1], "alice", "{members}");

    assert_eq!(carol.get("/chat/nowhere/members.json").await.status(), 404);
    let (_, _staff) = app.staff_in_admin_only_room("admin").await;
    assert_eq!(
        carol.get("/chat/staff-room/members.json").await.status(),
        403
    );
}

#[actix_web::test]
async fn a_mention_made_on_one_instance_reaches_the_user_on_another() {
    let Some(url) = crate::common::redis_url() else {
        return;
    };
    let (one, two) = crate::scale_out::pair(&url).await;
    let mut a = one.join(&one.user("alice").await, "lobby").await;
    a.joined().await;
    let bob = two.user("bob").await;
    let mut b = two.join(&bob, "lobby").await;
    b.joined().await;

    a.say("@bob over here").await;
    let sent = a.next_of("chat_message").await;
    let seen = b.next_of("chat_message").await;
    assert_eq!(seen["id"], sent["id"]);
    assert_eq!(seen["mentions"], json!(["bob"]));
    assert_eq!(mention_ids(&bob).await, [sent["id"].as_i64().unwrap()]);

    let id = sent["id"].clone();
    a.send_json(json!({"type": "edit_message", "id": id, "message": "over here, all"}))
        .await;
    let edited = b.next_of("message_edited").await;
    assert!(edited.get("mentions").is_none(), "{edited}");
    assert!(mention_ids(&bob).await.is_empty());
}
