//! Direct conversations: `/chat/@<user>/` and its socket, the same protocol
//! as a room, reachable only by their two participants; `/pm` stored into
//! them, whether or not the recipient is online; notes to self.

use crate::common::{Browser, TestApp, Ws, redis_url};
use crate::scale_out::{pair, same_user_on};
use serde_json::Value;
use std::time::Duration;
use tokio_tungstenite::tungstenite;

/// The internal name of the conversation between `a` and `b`, as stored.
fn internal_name(app: &TestApp, a: &str, b: &str) -> String {
    use confab::db::queries::users;
    use confab::domain::RoomName;
    let (a, b) = (a.to_owned(), b.to_owned());
    app.database()
        .run_here(move |conn| {
            let a = users::by_username(conn, &a)?.expect("a exists").id;
            let b = users::by_username(conn, &b)?.expect("b exists").id;
            Ok(RoomName::direct(a, b).as_str().to_owned())
        })
        .unwrap()
}

/// The texts of `frames`, in order.
fn texts(frames: &[Value]) -> Vec<&str> {
    frames
        .iter()
        .map(|m| m["message"].as_str().unwrap())
        .collect()
}

/// Reads `ws` for a while and fails on any frame of type `kind` (other new
/// frame types, such as unread notices, may come and are let pass).
async fn never_gets(ws: &mut Ws, kind: &str, quiet: Duration) {
    let deadline = tokio::time::Instant::now() + quiet;
    while let Ok(frame) = tokio::time::timeout_at(deadline, ws.recv()).await {
        assert_ne!(frame["type"], kind, "unexpected {kind}: {frame}");
    }
}

/// Asserts a socket handshake was refused with 404.
fn refused_with_404(handshake: Result<Ws, tungstenite::Error>) {
    match handshake {
        Err(tungstenite::Error::Http(res)) => assert_eq!(res.status(), 404),
        Err(other) => panic!("refused otherwise: {other}"),
        Ok(_) => panic!("the handshake was accepted"),
    }
}

/// The page at `path` for `browser`: its status and body.
async fn page(browser: &Browser, path: &str) -> (u16, String) {
    let res = browser.get(path).await;
    let status = res.status().as_u16();
    (status, res.text().await.unwrap())
}

on_every_backend!(a_conversation_works_like_a_room_for_its_two_participants);
async fn a_conversation_works_like_a_room_for_its_two_participants() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;

    let (status, body) = page(&alice, "/chat/@bob/").await;
    assert_eq!(status, 200);
    assert!(body.contains("<title>@bob"), "titled after bob");
    assert!(body.contains(r#"data-room="@bob""#), "its socket key");
    assert!(body.contains("direct message"));

    let mut a = app.join(&alice, "@bob").await;
    let (history, online) = a.joined().await;
    assert!(history.is_empty());
    assert_eq!(online, ["alice"]);
    a.say("lunch?").await;
    let lunch = a.expect("chat_message").await;
    assert_eq!(lunch["user"], "alice");

    // Bob's conversation with alice is the same one.
    let mut b = app.join(&bob, "@alice").await;
    let (history, online) = b.joined().await;
    assert_eq!(texts(&history), ["lunch?"]);
    assert_eq!(online, ["alice", "bob"]);
    assert_eq!(a.expect("user_join").await["user"], "bob");

    // Everything a room has: typing, posts, edits, reactions, deletions.
    b.send_json(serde_json::json!({"type": "typing", "typing": true}))
        .await;
    assert_eq!(a.expect("typing").await["user"], "bob");
    b.say("yes, at noon").await;
    let noon = a.next_of("chat_message").await; // after "stopped typing"
    assert_eq!(noon["message"], "yes, at noon");
    b.expect("chat_message").await;
    let id = noon["id"].clone();
    b.send_json(serde_json::json!({"type": "edit_message", "id": id, "message": "yes, at one"}))
        .await;
    assert_eq!(a.expect("message_edited").await["message"], "yes, at one");
    a.send_json(serde_json::json!({"type": "react", "id": id, "emoji": "👍"}))
        .await;
    let reaction = b.next_of("reaction").await; // after its own edit
    assert_eq!((&reaction["id"], &reaction["user"]), (&id, &"alice".into()));
    b.send_json(serde_json::json!({"type": "delete_message", "id": id}))
        .await;
    assert_eq!(a.next_of("message_deleted").await["id"], id);

    // What each calls it, for listings elsewhere: the other's name.
    let partners = |me: &'static str| {
        use confab::db::queries::{rooms, users};
        app.database()
            .run_here(move |conn| {
                let me = users::by_username(conn, me)?.expect("exists").id;
                let all: Vec<_> = (1..=10).map(confab::domain::RoomId).collect();
                rooms::partners(conn, me, &all)
            })
            .unwrap()
            .into_values()
            .collect::<Vec<_>>()
    };
    assert_eq!(partners("alice"), ["bob"]);
    assert_eq!(partners("bob"), ["alice"]);

    // A name differing only in case is the same account's conversation.
    let res = alice.get("/chat/@BOB/").await;
    assert_eq!(res.status(), 302);
    assert_eq!(res.headers()["location"], "/chat/@bob/");
}

on_every_backend!(a_third_user_cannot_reach_another_pairs_conversation);
async fn a_third_user_cannot_reach_another_pairs_conversation() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    app.user("bob").await;
    let carol = app.user("carol").await;
    let mut a = app.join(&alice, "@bob").await;
    a.joined().await;
    a.say("just between us").await;
    a.expect("chat_message").await;

    // By its internal name: no URL reaches it, page or socket.
    let internal = internal_name(&app, "alice", "bob");
    assert!(internal.starts_with('@'), "{internal}");
    let encoded = internal.replacen('@', "%40", 1);
    for path in [format!("/chat/{internal}/"), format!("/chat/{encoded}/")] {
        let (status, body) = page(&carol, &path).await;
        assert_eq!(status, 404, "{path}");
        assert!(!body.contains("just between us"));
    }
    refused_with_404(app.connect(&carol, &internal).await);

    // By bob's name: carol's own conversation with bob, without alice's words.
    let mut c = app.join(&carol, "@bob").await;
    let (history, _) = c.joined().await;
    assert!(history.is_empty(), "{history:?}");

    // No account, no conversation.
    assert_eq!(page(&carol, "/chat/@nobody/").await.0, 404);
    assert_eq!(page(&carol, "/chat/@bad<name>/").await.0, 404);
    refused_with_404(app.connect(&carol, "@nobody").await);
}

on_every_backend!(conversations_are_never_listed_and_cost_no_room_quota);
async fn conversations_are_never_listed_and_cost_no_room_quota() {
    let app = TestApp::spawn_with(|s| s.rooms_per_hour = 1).await;
    let alice = app.user("alice").await;
    for name in ["bob", "carol", "dave"] {
        app.user(name).await;
    }
    assert_eq!(
        page(&alice, "/chat/plans/").await.0,
        200,
        "her one new room"
    );
    for path in [
        "/chat/@bob/",
        "/chat/@carol/",
        "/chat/@dave/",
        "/chat/@alice/",
    ] {
        assert_eq!(page(&alice, path).await.0, 200, "{path}");
    }
    assert_eq!(
        page(&alice, "/chat/another/").await.0,
        429,
        "the quota counts rooms only"
    );

    let mut a = app.join(&alice, "@bob").await;
    a.joined().await;
    a.say("hello").await;
    a.expect("chat_message").await;
    // The sidebar (my rooms and conversations) lists it; the room list
    // (`ul.room-list`) does not.
    let room_list = |page: &str| {
        page.split_once("<ul class=\"room-list\"")
            .map(|(_, rest)| rest.split("</ul>").next().unwrap_or_default().to_owned())
            .unwrap_or_default()
    };
    let (_, index) = page(&alice, "/chat/").await;
    assert!(room_list(&index).contains("plans"));
    assert!(
        !room_list(&index).contains("dm-"),
        "no conversation in the room index"
    );
    let (_, search) = page(&alice, "/chat/?q=dm").await;
    assert!(!room_list(&search).contains("@dm-"), "nor in its search");
    // The selector's form takes `@name` for a conversation.
    let res = alice.get("/chat/?room_name=%40carol").await;
    assert_eq!(res.status(), 302);
    assert_eq!(res.headers()["location"], "/chat/@carol/");
    let listed = app.cli(&["room", "list"]);
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listed.contains("plans") && !listed.contains("dm-"),
        "{listed}"
    );
}

on_every_backend!(notes_to_self_are_a_conversation_of_ones_own);
async fn notes_to_self_are_a_conversation_of_ones_own() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let (status, body) = page(&alice, "/chat/@alice/").await;
    assert_eq!(status, 200);
    assert!(body.contains("notes to self"));

    let mut notes = app.join(&alice, "@alice").await;
    assert_eq!(notes.joined().await.1, ["alice"]);
    notes.say("buy milk").await;
    assert_eq!(notes.expect("chat_message").await["message"], "buy milk");

    // A `/pm` to oneself lands there too.
    let mut lobby = app.join(&alice, "lobby").await;
    lobby.joined().await;
    lobby.say("/pm alice call mum").await;
    // A legacy socket: the tutorial's frame too, in either order.
    let mut got = [lobby.recv().await, lobby.recv().await];
    got.sort_by_key(|frame| frame["type"].as_str().unwrap().to_owned());
    assert_eq!(got[0]["type"], "private_message");
    assert_eq!(got[1]["type"], "private_message_delivered");
    assert_eq!(got[1]["target"], "alice");
    let note = notes.expect("chat_message").await;
    assert_eq!(note["message"], "call mum");
    assert_eq!(note["user"], "alice");

    drop((notes, lobby));
    let mut again = app.join(&alice, "@alice").await;
    let (history, _) = again.joined().await;
    assert_eq!(texts(&history), ["buy milk", "call mum"]);
}

on_every_backend!(a_pm_to_an_offline_user_is_stored_in_the_conversation_and_acknowledged);
async fn a_pm_to_an_offline_user_is_stored_in_the_conversation_and_acknowledged() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let bob = app.user("Bob").await; // offline
    let mut a = app.join(&alice, "lobby").await;
    a.joined().await;

    a.send_json(serde_json::json!({
        "type": "chat_message",
        "message": "/pm bob are you there?",
        "client_id": "pm-1",
    }))
    .await;
    let delivered = a.expect("private_message_delivered").await;
    assert_eq!(delivered["target"], "Bob", "named as the account is");
    assert_eq!(delivered["message"], "are you there?");
    assert_eq!(delivered["client_id"], "pm-1");
    never_gets(&mut a, "chat_message", Duration::from_millis(200)).await;

    // Sent again (a lost answer): stored once, acknowledged again.
    a.send_json(serde_json::json!({
        "type": "chat_message",
        "message": "/pm bob are you there?",
        "client_id": "pm-1",
    }))
    .await;
    a.expect("private_message_delivered").await;

    let mut b = app.join(&bob, "@alice").await;
    let (history, _) = b.joined().await;
    assert_eq!(texts(&history), ["are you there?"]);
    assert_eq!(history[0]["user"], "alice");

    // Only a name with no account is refused.
    a.say("/pm nobody hello").await;
    let err = a.expect("error").await;
    assert_eq!(err["code"], "no_such_user");
    assert!(err["message"].as_str().unwrap().contains("nobody"), "{err}");
}

on_every_backend!(
    a_pm_reaches_the_open_conversation_live_and_only_legacy_sockets_get_the_old_frame
);
async fn a_pm_reaches_the_open_conversation_live_and_only_legacy_sockets_get_the_old_frame() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let mut a = app.join(&alice, "lobby").await;
    a.joined().await;
    let mut b_conversation = app.join_modern(&bob, "@alice").await;
    b_conversation.joined().await;
    let mut b_legacy = app.join(&bob, "elsewhere").await;
    b_legacy.joined().await;
    let mut b_modern = app.join_modern(&bob, "elsewhere").await;
    b_modern.joined().await;

    a.send_json(serde_json::json!({
        "type": "chat_message",
        "message": "/pm bob see you at noon",
        "client_id": "noon",
    }))
    .await;
    assert_eq!(a.expect("private_message_delivered").await["target"], "bob");
    let live = b_conversation.next_of("chat_message").await;
    assert_eq!(live["message"], "see you at noon");
    assert_eq!(live["user"], "alice");
    let old = b_legacy.expect("private_message").await;
    assert_eq!(old["user"], "alice");
    assert_eq!(old["message"], "see you at noon");
    never_gets(&mut b_modern, "private_message", Duration::from_millis(300)).await;

    // Sent again (a lost answer): acknowledged, but nothing new for bob.
    a.send_json(serde_json::json!({
        "type": "chat_message",
        "message": "/pm bob see you at noon",
        "client_id": "noon",
    }))
    .await;
    a.expect("private_message_delivered").await;
    never_gets(&mut b_legacy, "private_message", Duration::from_millis(300)).await;
    never_gets(
        &mut b_conversation,
        "private_message",
        Duration::from_millis(100),
    )
    .await;
}

on_every_backend!(a_conversation_survives_a_restart);
async fn a_conversation_survives_a_restart() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    app.user("bob").await;
    let mut a = app.join(&alice, "@bob").await;
    a.joined().await;
    for text in ["first", "second"] {
        a.say(text).await;
        a.expect("chat_message").await;
    }
    a.say("/pm bob third").await;
    // The ack and the message in the conversation, in either order.
    let mut got = [
        a.recv().await["type"].clone(),
        a.recv().await["type"].clone(),
    ];
    got.sort_by_key(|kind| kind.as_str().unwrap().to_owned());
    assert_eq!(got, ["chat_message", "private_message_delivered"]);
    drop(a);

    let app = app.restart().await;
    let bob = app.browser();
    let res = bob.login("bob", "correct horse battery", "/chat/").await;
    assert_eq!(res.status(), 303);
    let mut b = app.join(&bob, "@alice").await;
    let (history, _) = b.joined().await;
    assert_eq!(texts(&history), ["first", "second", "third"]);
}

#[actix_web::test]
async fn a_conversation_is_live_across_instances() {
    let Some(url) = redis_url() else { return };
    let (one, two) = pair(&url).await;
    let alice = one.user("alice").await;
    let bob_one = one.user("bob").await;
    drop(bob_one);
    let bob = same_user_on(&two, "bob").await;

    let mut a = one.join(&alice, "@bob").await;
    a.joined().await;
    let mut b = two.join(&bob, "@alice").await;
    b.joined().await;
    a.expect("user_join").await;

    a.say("posted on one").await;
    a.expect("chat_message").await;
    assert_eq!(b.expect("chat_message").await["message"], "posted on one");
    b.say("answered on two").await;
    b.expect("chat_message").await;
    assert_eq!(a.expect("chat_message").await["message"], "answered on two");

    // A `/pm` from a room on instance one reaches bob's open conversation
    // on instance two, and his legacy socket there gets the old frame.
    let mut lobby = one.join(&alice, "lobby").await;
    lobby.joined().await;
    let mut b_legacy = two.join(&bob, "lobby").await;
    b_legacy.joined().await;
    lobby.next_of("user_join").await; // bob's legacy socket
    lobby.say("/pm bob across the bus").await;
    lobby.expect("private_message_delivered").await;
    assert_eq!(b.expect("chat_message").await["message"], "across the bus");
    assert_eq!(
        b_legacy.expect("private_message").await["message"],
        "across the bus"
    );
}

#[actix_web::test]
async fn two_people_talk_in_a_direct_conversation_in_their_browsers() {
    use crate::common::browser::{Driver, Screen};
    let Some(driver) = Driver::start().await else {
        return;
    };
    let app = TestApp::spawn().await;
    let alice = driver.in_room(&app, "alice", "lobby").await;
    let bob = driver.in_room_on(&app, "bob", "lobby", Screen::Phone).await;

    // A /pm from the lobby, while bob is elsewhere, waits in the conversation.
    alice
        .type_message(&format!(
            "/pm bob lunch at noon?{}",
            fantoccini::key::Key::Enter
        ))
        .await;
    let sent = alice
        .wait_displayed(
            "the /pm in the log",
            ".message--private a.message-conversation",
        )
        .await;
    assert_eq!(
        sent.attr("href").await.unwrap().as_deref(),
        Some("/chat/@bob/"),
        "it links to the conversation"
    );
    alice.screenshot("dm-pm-from-a-room").await;
    alice.open_room(&app, "@bob", "alice").await;
    alice.wait_for_message("lunch at noon?").await;
    let title = alice
        .js(
            "return document.querySelector('.room-title').textContent.replace(/\\s+/g, '');",
            vec![],
        )
        .await;
    assert_eq!(title, "@bobdirectmessage", "the sigil, bob and the badge");

    bob.open_room(&app, "@alice", "bob").await;
    bob.wait_for_message("lunch at noon?").await;
    alice.wait_for_online("bob").await;
    let id = bob.send("yes! the usual place").await;
    assert_eq!(alice.wait_for_message("yes! the usual place").await, id);
    alice.react_with_picker(&id, "👍").await;
    bob.wait_for_reaction(&id, "👍", 1).await;
    alice.send("see you there").await;
    bob.wait_for_message("see you there").await;
    alice.screenshot("dm-conversation").await;
    bob.screenshot("dm-conversation-phone").await;

    // Notes to self.
    alice.open_room(&app, "@alice", "alice").await;
    alice.send("remember the umbrella").await;
    alice.screenshot("dm-notes-to-self").await;

    alice.close().await;
    bob.close().await;
}
