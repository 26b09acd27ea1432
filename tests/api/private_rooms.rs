//! Private (invite-only) and archived rooms (issue 14): a private room is
//! no one's business but its members' (404 everywhere else, as if it did
//! not exist: page, socket, Join, the room list, search, mentions); an
//! invitation lets one in and uninviting closes their sockets. An archived
//! room stays readable, says so, takes no posts, and leaves the room list.

use crate::common::{Browser, Event, TestApp, Ws};
use crate::moderation_sockets::{act, handshake, identity, name, room};
use crate::scale_out::same_user_on;
use confab::moderation::{Access, Action, Actor};
use serde_json::Value;

/// A staff account (signed in) and the actor of its actions.
async fn staff(app: &TestApp, username: &str) -> (Browser, Actor) {
    let browser = app.user(username).await;
    assert!(app.cli(&["user", "promote", username]).status.success());
    (browser, Actor::User(identity(app, username)))
}

/// `owner` opens `secret` by visiting it (and owns it), posts there, and
/// makes it private.
async fn private_room_of(app: &TestApp, owner: &str) -> (Browser, Ws) {
    let browser = app.user(owner).await;
    let mut ws = app.join(&browser, "secret").await;
    ws.joined().await;
    ws.say("the secret plan, for @bob's eyes only").await;
    ws.next_of("chat_message").await;
    let actor = Actor::User(identity(app, owner));
    act(
        app,
        &actor,
        Action::SetAccess {
            room: room("secret"),
            access: Access::InviteOnly,
        },
    )
    .await;
    (browser, ws)
}

async fn page(browser: &Browser, path: &str) -> (u16, String) {
    let res = browser.get(path).await;
    (res.status().as_u16(), res.text().await.unwrap())
}

async fn search(browser: &Browser, q: &str) -> Value {
    let path = format!("/search/?q={}&format=json", urlencoding(q));
    let (status, body) = page(browser, &path).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

fn urlencoding(text: &str) -> String {
    serde_urlencoded::to_string([("", text)]).unwrap()[1..].to_owned()
}

on_every_backend!(a_private_room_is_not_found_by_non_members_anywhere);
async fn a_private_room_is_not_found_by_non_members_anywhere() {
    let app = TestApp::spawn().await;
    let (_alice, _ws) = private_room_of(&app, "alice").await;
    let bob = app.user("bob").await;

    // The page and the socket: exactly as for a room that does not exist.
    let (status, body) = page(&bob, "/chat/secret/").await;
    assert_eq!(status, 404);
    assert!(body.contains("There is no room called secret."), "{body}");
    assert_eq!(handshake(&app, &bob, "secret").await, 404);
    assert_eq!(handshake(&app, &bob, "nowhere").await, 404);
    // Join is for members.
    let token = bob.csrf_token("/chat/").await;
    let joined = bob
        .post_form("/chat/secret/join", &[("csrf_token", token.as_str())])
        .await;
    assert_eq!(joined.status(), 404);
    // Not in the room list, not in search, not in mentions.
    let (_, index) = page(&bob, "/chat/").await;
    assert!(!index.contains("/chat/secret/"), "listed: {index}");
    let (_, found) = page(&bob, "/chat/?q=secr").await;
    assert!(!found.contains("/chat/secret/"));
    assert_eq!(search(&bob, "plan").await["results"], serde_json::json!([]));
    let (status, _) = page(&bob, "/search/?q=plan+in%3Asecret&format=json").await;
    assert_eq!(status, 400, "in: names no room bob may enter");
    let (_, mentions) = page(&bob, "/mentions/").await;
    assert!(!mentions.contains("secret plan"), "{mentions}");
    let (status, _) = page(&bob, "/chat/secret/members.json").await;
    assert_eq!(status, 404);

    // Staff see it, marked, and may enter.
    let (boss, _) = staff(&app, "boss").await;
    let (_, index) = page(&boss, "/chat/").await;
    assert!(index.contains("/chat/secret/"), "staff see it");
    assert!(index.contains("badge-private"), "marked private");
    assert_eq!(page(&boss, "/chat/secret/").await.0, 200);
    assert_eq!(
        search(&boss, "plan").await["results"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

on_every_backend!(an_invitation_lets_a_user_in_and_uninviting_closes_their_sockets);
async fn an_invitation_lets_a_user_in_and_uninviting_closes_their_sockets() {
    let app = TestApp::spawn().await;
    let (_alice, mut owner_ws) = private_room_of(&app, "alice").await;
    let alice = Actor::User(identity(&app, "alice"));
    let bob = app.user("bob").await;
    assert_eq!(page(&bob, "/chat/secret/").await.0, 404);

    act(
        &app,
        &alice,
        Action::Invite {
            room: room("secret"),
            user: name("bob"),
        },
    )
    .await;
    let (status, body) = page(&bob, "/chat/secret/").await;
    assert_eq!(status, 200);
    assert!(
        body.contains("badge-private"),
        "the page says it is private"
    );
    let mut b = app.join(&bob, "secret").await;
    let (history, _) = b.joined().await;
    assert_eq!(history.len(), 1, "a member reads its history");
    assert_eq!(owner_ws.next_of("user_join").await["user"], "bob");
    let (_, index) = page(&bob, "/chat/").await;
    assert!(index.contains("/chat/secret/"), "listed to its members");
    assert_eq!(
        search(&bob, "plan").await["results"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    act(
        &app,
        &alice,
        Action::Uninvite {
            room: room("secret"),
            user: name("bob"),
        },
    )
    .await;
    let close = loop {
        match b.next_event().await {
            Event::Frame(_) => continue,
            Event::Closed(close) => break close,
        }
    };
    assert_eq!(close, Some((1008, "not a member of this room".to_owned())));
    assert_eq!(page(&bob, "/chat/secret/").await.0, 404);
    assert_eq!(handshake(&app, &bob, "secret").await, 404);
}

on_every_backend!(a_private_rooms_messages_mention_only_its_members);
async fn a_private_rooms_messages_mention_only_its_members() {
    let app = TestApp::spawn().await;
    let (_alice, mut a) = private_room_of(&app, "alice").await;
    let carol = app.user("carol").await;
    app.user("bob").await;
    let alice = Actor::User(identity(&app, "alice"));
    act(
        &app,
        &alice,
        Action::Invite {
            room: room("secret"),
            user: name("carol"),
        },
    )
    .await;
    a.say("@bob and @carol: meeting at noon").await;
    let frame = a.next_of("chat_message").await;
    assert_eq!(frame["mentions"], serde_json::json!(["carol"]), "{frame}");
    let (_, mentions) = page(&carol, "/mentions/").await;
    assert!(mentions.contains("meeting at noon"));
    let bob = same_user_on(&app, "bob").await;
    let (_, mentions) = page(&bob, "/mentions/").await;
    assert!(!mentions.contains("meeting at noon"));
}

on_every_backend!(an_archived_room_is_readable_with_a_banner_and_hidden_from_the_list);
async fn an_archived_room_is_readable_with_a_banner_and_hidden_from_the_list() {
    let app = TestApp::spawn().await;
    assert!(app.cli(&["room", "create", "old-news"]).status.success());
    let (boss, boss_actor) = staff(&app, "boss").await;
    let bob = app.user("bob").await;
    let mut b = app.join(&bob, "old-news").await;
    b.joined().await;
    b.say("from before").await;
    b.next_of("chat_message").await;

    act(
        &app,
        &boss_actor,
        Action::Archive {
            room: room("old-news"),
        },
    )
    .await;
    let (status, body) = page(&bob, "/chat/old-news/").await;
    assert_eq!(status, 200, "still readable");
    assert!(body.contains("This room is archived"), "{body}");
    b.say("still here?").await;
    assert_eq!(b.next_of("error").await["code"], "room_archived");
    // The socket stays open, and history reads.
    b.send_json(serde_json::json!({"type": "history", "limit": 10}))
        .await;
    assert_eq!(
        b.next_of("history").await["messages"][0]["message"],
        "from before"
    );
    let (_, index) = page(&bob, "/chat/").await;
    assert!(!index.contains("/chat/old-news/"), "not listed");
    let (_, index) = page(&boss, "/chat/").await;
    assert!(index.contains("/chat/old-news/"), "staff see it");
    assert!(index.contains("badge-archived"), "marked archived");
    // Staff may still post there.
    let mut s = app.join(&boss, "old-news").await;
    s.joined().await;
    s.say("closing words").await;
    assert_eq!(s.next_of("chat_message").await["message"], "closing words");
}
