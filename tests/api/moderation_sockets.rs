//! Moderation takes effect on open sockets (issue 14): every action, taken
//! through the server's own moderation service (the path of the console
//! and the room's menu: the writer, then the bus), changes what open
//! sockets may do, or closes them with the code that says why; the same
//! change made by another process (the CLI) is found by the session sweep;
//! and with two instances on one Redis, an action on one reaches the
//! sockets of the other.

use crate::common::{Browser, Event, TestApp, Ws, backend_for_several_instances, redis_url};
use crate::scale_out::{fresh_prefix, same_user_on, wait_for_redis};
use confab::db::queries::users;
use confab::domain::{Identity, MessageId, Reason, RoomName, Username};
use confab::moderation::{Action, Actor, Outcome};
use serde_json::{Value, json};
use std::time::Duration;
use tokio_tungstenite::tungstenite;

/// How long a frame that must not come is waited for.
const QUIET: Duration = Duration::from_millis(400);

// What the moderation tests share (private_rooms.rs and
// browser_moderation.rs use them too).

pub(crate) fn room(raw: &str) -> RoomName {
    RoomName::parse(raw).unwrap()
}

pub(crate) fn name(raw: &str) -> Username {
    Username::parse(raw).unwrap()
}

pub(crate) fn reason(raw: &str) -> Reason {
    Reason::parse(raw, 500).unwrap()
}

/// `username`'s identity as the server knows it now.
pub(crate) fn identity(app: &TestApp, username: &str) -> Identity {
    let row = app
        .database()
        .run_here(|c| users::by_username(c, username))
        .unwrap()
        .expect("the account exists");
    Identity {
        id: row.id,
        username: Username::from_stored(row.username),
        is_staff: row.is_staff,
    }
}

/// A new staff account, signed in, and the actor of its actions; and the
/// rooms the tests use, made by the command line, so that they have no
/// owner (whoever opens a room by visiting it owns it, and owners are
/// exempt from locks and slow mode).
async fn staff(app: &TestApp, username: &str) -> (Browser, Actor) {
    for name in ["lobby", "garden", "doomed"] {
        let out = app.cli(&["room", "create", name]);
        assert!(out.status.success(), "room create {name}: {out:?}");
    }
    let browser = app.user(username).await;
    assert!(app.cli(&["user", "promote", username]).status.success());
    (browser, Actor::User(identity(app, username)))
}

/// Takes `action` as `actor` through the server, which must accept it.
pub(crate) async fn act(app: &TestApp, actor: &Actor, action: Action) -> Outcome {
    let described = format!("{action:?}");
    app.moderation
        .perform(actor.clone(), action)
        .await
        .unwrap_or_else(|e| panic!("{described} refused: {e}"))
}

/// How the socket closed, skipping any frame before the close.
async fn close_of(ws: &mut Ws) -> (u16, String) {
    loop {
        match ws.next_event().await {
            Event::Frame(_) => continue,
            Event::Closed(close) => return close.expect("a close frame with a code"),
        }
    }
}

/// The HTTP status a handshake to `room` gets (101 when it is let in).
pub(crate) async fn handshake(app: &TestApp, browser: &Browser, room: &str) -> u16 {
    match app.connect(browser, room).await {
        Ok(ws) => {
            ws.close().await;
            101
        }
        Err(tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(e) => panic!("handshake failed otherwise: {e}"),
    }
}

/// Posts `text` and returns the id of its echo (other frames skipped).
async fn post(ws: &mut Ws, text: &str) -> i64 {
    ws.say(text).await;
    loop {
        let frame = ws.next_of("chat_message").await;
        if frame["message"] == text {
            return frame["id"].as_i64().unwrap();
        }
    }
}

/// The next error frame (other frames skipped).
async fn error(ws: &mut Ws) -> Value {
    let frame = ws.next_of("error").await;
    assert!(
        frame["message"].as_str().is_some_and(|m| !m.is_empty()),
        "errors explain themselves: {frame}"
    );
    frame
}

/// A modern socket's join burst: its `room_state` and `standing`, which
/// come before `user_list`.
async fn joined_modern(ws: &mut Ws) -> (Value, Value) {
    let mut state = None;
    let mut standing = None;
    loop {
        let frame = ws.recv().await;
        match frame["type"].as_str() {
            Some("room_state") => state = Some(frame),
            Some("standing") => standing = Some(frame),
            Some("user_list") => break,
            _ => {}
        }
    }
    ws.expect("unread").await;
    (
        state.expect("room_state in the burst, before user_list"),
        standing.expect("standing in the burst, before user_list"),
    )
}

on_every_backend!(a_kick_closes_the_users_sockets_in_the_room_with_4000_and_they_may_rejoin);
async fn a_kick_closes_the_users_sockets_in_the_room_with_4000_and_they_may_rejoin() {
    let app = TestApp::spawn().await;
    let (_, boss) = staff(&app, "boss").await;
    let [mut alice, mut bob] = app.members("lobby", ["alice", "bob"]).await;
    let bob_browser = same_user_on(&app, "bob").await;
    let mut bob_elsewhere = app.join(&bob_browser, "garden").await;
    bob_elsewhere.joined().await;

    let done = act(
        &app,
        &boss,
        Action::Kick {
            room: room("lobby"),
            user: name("bob"),
            reason: reason("calm down"),
        },
    )
    .await;
    assert!(!done.message.is_empty());
    assert_eq!(close_of(&mut bob).await, (4000, "kicked: calm down".into()));
    assert_eq!(alice.next_of("user_leave").await["user"], "bob");
    // Only that room: the garden socket is open and works.
    assert!(post(&mut bob_elsewhere, "still here").await > 0);

    // A kick is not a ban: bob comes back at once.
    let mut again = app.join(&bob_browser, "lobby").await;
    again.joined().await;
    post(&mut again, "back").await;
    assert_eq!(alice.next_of("chat_message").await["message"], "back");
}

on_every_backend!(a_mute_refuses_posts_edits_and_reactions_and_drops_typing_until_lifted);
async fn a_mute_refuses_posts_edits_and_reactions_and_drops_typing_until_lifted() {
    let app = TestApp::spawn().await;
    let (_, boss) = staff(&app, "boss").await;
    let [mut alice, mut bob] = app.members("lobby", ["alice", "bob"]).await;
    let said = post(&mut bob, "before").await;
    alice.next_of("chat_message").await;
    let hers = post(&mut alice, "hello").await;
    bob.next_of("chat_message").await;
    let bob_modern = same_user_on(&app, "bob").await;
    let mut modern = app.join_modern(&bob_modern, "lobby").await;
    let (_, standing) = joined_modern(&mut modern).await;
    assert_eq!(standing["muted"], Value::Null);

    act(
        &app,
        &boss,
        Action::Mute {
            room: room("lobby"),
            user: name("bob"),
            minutes: Some(10),
            reason: reason("spamming"),
        },
    )
    .await;
    // The page hears of it at once, with the reason and the end.
    let standing = modern.next_of("standing").await;
    assert_eq!(standing["muted"]["reason"], "spamming");
    assert!(standing["muted"]["until"].is_string(), "{standing}");

    bob.say("while muted").await;
    let refused = error(&mut bob).await;
    assert_eq!(refused["code"], "muted");
    assert_eq!(refused["reason"], "spamming");
    assert!(refused["until"].is_string(), "{refused}");
    let message = refused["message"].as_str().unwrap();
    assert!(
        message.contains("muted in #lobby until") && message.ends_with("spamming"),
        "{message}"
    );
    bob.send_json(json!({"type": "edit_message", "id": said, "message": "changed"}))
        .await;
    assert_eq!(error(&mut bob).await["code"], "muted");
    bob.send_json(json!({"type": "react", "id": hers, "emoji": "👍"}))
        .await;
    assert_eq!(error(&mut bob).await["code"], "muted");
    bob.send_json(json!({"type": "typing", "typing": true}))
        .await;
    // Nothing of it reached alice: no message, edit, reaction or typing.
    alice.expect_nothing_for(QUIET).await;

    act(
        &app,
        &boss,
        Action::Unmute {
            room: room("lobby"),
            user: name("bob"),
        },
    )
    .await;
    assert_eq!(modern.next_of("standing").await["muted"], Value::Null);
    post(&mut bob, "free again").await;
    assert_eq!(alice.next_of("chat_message").await["message"], "free again");
}

on_every_backend!(a_mute_until_lifted_says_so_with_a_null_until);
async fn a_mute_until_lifted_says_so_with_a_null_until() {
    let app = TestApp::spawn().await;
    let (_, boss) = staff(&app, "boss").await;
    let [mut bob] = app.members("lobby", ["bob"]).await;
    act(
        &app,
        &boss,
        Action::Mute {
            room: room("lobby"),
            user: name("bob"),
            minutes: None,
            reason: reason(""),
        },
    )
    .await;
    bob.say("hello?").await;
    let refused = error(&mut bob).await;
    assert_eq!(refused["code"], "muted");
    assert_eq!(refused["until"], Value::Null);
    assert_eq!(refused["reason"], "");
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("until a moderator lifts it"),
        "{refused}"
    );
}

on_every_backend!(a_timed_mute_lifts_by_itself_when_it_runs_out);
async fn a_timed_mute_lifts_by_itself_when_it_runs_out() {
    let app = TestApp::spawn().await;
    let (_, boss) = staff(&app, "boss").await;
    let bob = app.user("bob").await;
    let mut modern = app.join_modern(&bob, "lobby").await;
    joined_modern(&mut modern).await;
    act(
        &app,
        &boss,
        Action::Mute {
            room: room("lobby"),
            user: name("bob"),
            minutes: Some(30),
            reason: reason("cool off"),
        },
    )
    .await;
    assert_eq!(
        modern.next_of("standing").await["muted"]["reason"],
        "cool off"
    );
    modern.say("too soon").await;
    assert_eq!(error(&mut modern).await["code"], "muted");

    // Its end comes (moved into the past rather than waited for).
    end_sanctions_now(&app);
    // The page learns it by the next sweep, and posts are taken.
    assert_eq!(modern.next_of("standing").await["muted"], Value::Null);
    post(&mut modern, "I am back").await;
}

/// Moves the end of every sanction in force a second into the past.
fn end_sanctions_now(app: &TestApp) {
    use confab::db::schema::sanctions;
    use diesel::prelude::*;
    let past = confab::db::queries::now() - chrono::TimeDelta::seconds(1);
    app.database()
        .run_here(|c| {
            diesel::update(sanctions::table.filter(sanctions::lifted_at.is_null()))
                .set(sanctions::expires_at.eq(Some(past)))
                .execute(c)
                .map_err(confab::db::DbError::from)
        })
        .unwrap();
}

on_every_backend!(a_ban_closes_with_4003_and_keeps_the_user_out_with_the_reason);
async fn a_ban_closes_with_4003_and_keeps_the_user_out_with_the_reason() {
    let app = TestApp::spawn().await;
    let (_, boss) = staff(&app, "boss").await;
    let [mut alice, mut bob] = app.members("lobby", ["alice", "bob"]).await;
    let bob_browser = same_user_on(&app, "bob").await;

    act(
        &app,
        &boss,
        Action::Ban {
            room: room("lobby"),
            user: name("bob"),
            minutes: None,
            reason: reason("trolling"),
        },
    )
    .await;
    assert_eq!(close_of(&mut bob).await, (4003, "banned: trolling".into()));
    assert_eq!(alice.next_of("user_leave").await["user"], "bob");

    assert_eq!(handshake(&app, &bob_browser, "lobby").await, 403);
    let page = bob_browser.get("/chat/lobby/").await;
    assert_eq!(page.status(), 403);
    let body = page.text().await.unwrap();
    assert!(body.contains("You are banned from #lobby"), "{body}");
    assert!(body.contains("until a moderator lifts it"), "{body}");
    assert!(body.contains("trolling"), "{body}");
    // Other rooms are open to him.
    assert_eq!(bob_browser.get("/chat/garden/").await.status(), 200);

    act(
        &app,
        &boss,
        Action::Unban {
            room: room("lobby"),
            user: name("bob"),
        },
    )
    .await;
    assert_eq!(bob_browser.get("/chat/lobby/").await.status(), 200);
    let mut back = app.join(&bob_browser, "lobby").await;
    back.joined().await;
}

on_every_backend!(a_timed_ban_shows_its_end_on_the_page);
async fn a_timed_ban_shows_its_end_on_the_page() {
    let app = TestApp::spawn().await;
    let (_, boss) = staff(&app, "boss").await;
    let bob = app.user("bob").await;
    assert_eq!(bob.get("/chat/lobby/").await.status(), 200);
    act(
        &app,
        &boss,
        Action::Ban {
            room: room("lobby"),
            user: name("bob"),
            minutes: Some(60),
            reason: reason("a break"),
        },
    )
    .await;
    let page = bob.get("/chat/lobby/").await;
    assert_eq!(page.status(), 403);
    let body = page.text().await.unwrap();
    assert!(
        body.contains("UTC: a break"),
        "the end and the reason: {body}"
    );
    end_sanctions_now(&app);
    assert_eq!(bob.get("/chat/lobby/").await.status(), 200);
}

on_every_backend!(a_locked_room_refuses_members_but_lets_staff_and_moderators_post);
async fn a_locked_room_refuses_members_but_lets_staff_and_moderators_post() {
    let app = TestApp::spawn().await;
    let (boss_browser, boss) = staff(&app, "boss").await;
    let [mut bob, mut carol] = app.members("lobby", ["bob", "carol"]).await;
    let said = post(&mut bob, "before the lock").await;
    carol.next_of("chat_message").await;
    act(
        &app,
        &boss,
        Action::AddModerator {
            room: room("lobby"),
            user: name("carol"),
        },
    )
    .await;
    let bob_modern = same_user_on(&app, "bob").await;
    let mut modern = app.join_modern(&bob_modern, "lobby").await;
    let (state, _) = joined_modern(&mut modern).await;
    assert_eq!(state["locked"], false);

    act(
        &app,
        &boss,
        Action::Lock {
            room: room("lobby"),
        },
    )
    .await;
    assert_eq!(modern.next_of("room_state").await["locked"], true);
    bob.say("locked out?").await;
    assert_eq!(error(&mut bob).await["code"], "room_locked");
    bob.send_json(json!({"type": "react", "id": said, "emoji": "👍"}))
        .await;
    assert_eq!(error(&mut bob).await["code"], "room_locked");
    bob.send_json(json!({"type": "edit_message", "id": said, "message": "x"}))
        .await;
    assert_eq!(error(&mut bob).await["code"], "room_locked");
    // The socket stays open and reads: a moderator and staff still post.
    post(&mut carol, "moderator speaking").await;
    assert_eq!(
        bob.next_of("chat_message").await["message"],
        "moderator speaking"
    );
    let mut boss_ws = app.join(&boss_browser, "lobby").await;
    boss_ws.joined().await;
    post(&mut boss_ws, "staff speaking").await;
    assert_eq!(
        bob.next_of("chat_message").await["message"],
        "staff speaking"
    );

    act(
        &app,
        &boss,
        Action::Unlock {
            room: room("lobby"),
        },
    )
    .await;
    assert_eq!(modern.next_of("room_state").await["locked"], false);
    post(&mut bob, "open again").await;
}

on_every_backend!(slow_mode_refuses_a_second_post_with_retry_after_and_spares_moderators);
async fn slow_mode_refuses_a_second_post_with_retry_after_and_spares_moderators() {
    let app = TestApp::spawn().await;
    let (_, boss) = staff(&app, "boss").await;
    let [mut bob, mut carol] = app.members("lobby", ["bob", "carol"]).await;
    act(
        &app,
        &boss,
        Action::AddModerator {
            room: room("lobby"),
            user: name("carol"),
        },
    )
    .await;
    act(
        &app,
        &boss,
        Action::SlowMode {
            room: room("lobby"),
            secs: 60,
        },
    )
    .await;
    post(&mut bob, "one").await;
    bob.say("two").await;
    let refused = error(&mut bob).await;
    assert_eq!(refused["code"], "slow_mode");
    let wait = refused["retry_after_ms"].as_u64().expect("retry_after_ms");
    assert!(wait > 50_000 && wait <= 60_000, "{refused}");
    // Edits and reactions are not slowed.
    let bobs = post_id_of_history(&mut bob).await;
    bob.send_json(json!({"type": "edit_message", "id": bobs, "message": "one!"}))
        .await;
    assert_eq!(bob.next_of("message_edited").await["message"], "one!");
    // A modern socket is told its wait.
    let bob_modern = same_user_on(&app, "bob").await;
    let mut modern = app.join_modern(&bob_modern, "lobby").await;
    let (state, standing) = joined_modern(&mut modern).await;
    assert_eq!(state["slow_mode_secs"], 60);
    assert!(
        standing["slow_mode_wait_ms"].as_u64().unwrap() > 50_000,
        "{standing}"
    );
    // The moderator is exempt.
    post(&mut carol, "first").await;
    post(&mut carol, "second").await;
    post(&mut carol, "third").await;
}

/// The id of the newest message, by a history request.
async fn post_id_of_history(ws: &mut Ws) -> i64 {
    ws.send_json(json!({"type": "history", "limit": 1})).await;
    let page = ws.next_of("history").await;
    page["messages"][0]["id"].as_i64().unwrap()
}

on_every_backend!(deactivation_closes_every_socket_with_1008_account_deactivated);
async fn deactivation_closes_every_socket_with_1008_account_deactivated() {
    let app = TestApp::spawn().await;
    let (_, boss) = staff(&app, "boss").await;
    let [mut alice, mut bob] = app.members("lobby", ["alice", "bob"]).await;
    let bob_again = same_user_on(&app, "bob").await;
    let mut other = app.join(&bob_again, "garden").await;
    other.joined().await;
    act(
        &app,
        &boss,
        Action::Deactivate {
            user: name("bob"),
            reason: reason("spam account"),
        },
    )
    .await;
    let deactivated = (1008, "account deactivated".to_owned());
    assert_eq!(close_of(&mut bob).await, deactivated);
    assert_eq!(close_of(&mut other).await, deactivated);
    assert_eq!(alice.next_of("user_leave").await["user"], "bob");
    assert_eq!(handshake(&app, &bob_again, "lobby").await, 403);
}

on_every_backend!(a_renamed_room_moves_its_sockets_and_its_old_page);
async fn a_renamed_room_moves_its_sockets_and_its_old_page() {
    let app = TestApp::spawn().await;
    let (_, boss) = staff(&app, "boss").await;
    let [mut bob] = app.members("lobby", ["bob"]).await;
    let bob_browser = same_user_on(&app, "bob").await;
    act(
        &app,
        &boss,
        Action::RenameRoom {
            room: room("lobby"),
            to: room("hall"),
        },
    )
    .await;
    assert_eq!(close_of(&mut bob).await, (4005, "moved: hall".into()));
    let old = bob_browser.get("/chat/lobby/").await;
    assert_eq!(old.status(), 301);
    assert_eq!(old.headers()["location"], "/chat/hall/");
    // The old name opens no socket; the new one does.
    assert_eq!(handshake(&app, &bob_browser, "lobby").await, 404);
    let mut hall = app.join(&bob_browser, "hall").await;
    hall.joined().await;
}

on_every_backend!(a_deleted_room_closes_its_sockets_with_4004);
async fn a_deleted_room_closes_its_sockets_with_4004() {
    let app = TestApp::spawn().await;
    let (_, boss) = staff(&app, "boss").await;
    let [mut bob] = app.members("doomed", ["bob"]).await;
    post(&mut bob, "last words").await;
    act(
        &app,
        &boss,
        Action::DeleteRoom {
            room: room("doomed"),
        },
    )
    .await;
    assert_eq!(close_of(&mut bob).await, (4004, "room deleted".into()));
    let bob_browser = same_user_on(&app, "bob").await;
    assert_eq!(handshake(&app, &bob_browser, "doomed").await, 404);
}

on_every_backend!(room_state_and_standing_come_on_join_and_when_they_change);
async fn room_state_and_standing_come_on_join_and_when_they_change() {
    let app = TestApp::spawn().await;
    let (_, boss) = staff(&app, "boss").await;
    let bob = app.user("bob").await;
    let mut legacy = app.join(&bob, "lobby").await;
    legacy.joined().await;
    let mut modern = app.join_modern(&bob, "lobby").await;
    let (state, standing) = joined_modern(&mut modern).await;
    assert_eq!(
        state,
        json!({"type": "room_state", "locked": false, "archived": false, "slow_mode_secs": 0, "invite_only": false})
    );
    assert_eq!(
        standing,
        json!({"type": "standing", "role": "member", "muted": null, "slow_mode_wait_ms": 0})
    );

    act(
        &app,
        &boss,
        Action::AddModerator {
            room: room("lobby"),
            user: name("bob"),
        },
    )
    .await;
    assert_eq!(modern.next_of("standing").await["role"], "moderator");
    act(
        &app,
        &boss,
        Action::SlowMode {
            room: room("lobby"),
            secs: 30,
        },
    )
    .await;
    assert_eq!(modern.next_of("room_state").await["slow_mode_secs"], 30);
    // New rules: the standing is told again (what it allows changed).
    assert_eq!(modern.expect("standing").await["role"], "moderator");
    // Nothing changed, nothing is sent: a sweep later, still quiet.
    modern
        .expect_nothing_for(app.settings.session_sweep + QUIET)
        .await;
    // Legacy sockets never get these frame types.
    legacy.expect_nothing_for(QUIET).await;
}

on_every_backend!(a_moderator_may_delete_any_message_of_their_room_on_the_record);
async fn a_moderator_may_delete_any_message_of_their_room_on_the_record() {
    let app = TestApp::spawn().await;
    let (_, boss) = staff(&app, "boss").await;
    let [mut bob, mut carol] = app.members("lobby", ["bob", "carol"]).await;
    let first = post(&mut bob, "first").await;
    carol.next_of("chat_message").await;
    carol
        .send_json(json!({"type": "delete_message", "id": first}))
        .await;
    assert_eq!(error(&mut carol).await["code"], "forbidden");

    act(
        &app,
        &boss,
        Action::AddModerator {
            room: room("lobby"),
            user: name("carol"),
        },
    )
    .await;
    carol
        .send_json(json!({"type": "delete_message", "id": first}))
        .await;
    assert_eq!(bob.next_of("message_deleted").await["id"], first);
    let entries = app
        .database()
        .run_here(|c| confab::moderation::audit::audit_entries(c, &Default::default(), None, 10))
        .unwrap();
    let entry = entries
        .iter()
        .find(|e| e.action == "message.delete")
        .expect("the deletion is in the audit log");
    assert_eq!(entry.actor, "carol");
    assert_eq!(entry.target, format!("message {}", MessageId(first)));
    assert_eq!(entry.room.as_deref(), Some("lobby"));
}

on_every_backend!(a_change_made_by_another_process_reaches_open_sockets_by_the_sweep);
async fn a_change_made_by_another_process_reaches_open_sockets_by_the_sweep() {
    let app = TestApp::spawn().await;
    let [mut bob] = app.members("lobby", ["bob"]).await;
    // As the CLI does: apply on a connection of its own, no bus.
    let ban = Action::Ban {
        room: room("lobby"),
        user: name("bob"),
        minutes: None,
        reason: reason("from afar"),
    };
    app.database()
        .run_here(|c| {
            confab::moderation::apply(c, &Actor::Cli, &ban, &limits())
                .map_err(|e| confab::db::DbError::Writer(e.to_string()))
        })
        .unwrap();
    let (code, why) = close_of(&mut bob).await;
    assert_eq!((code, why.as_str()), (4003, "banned: from afar"));
}

fn limits() -> confab::moderation::Limits {
    confab::moderation::Limits {
        slow_mode_max_secs: 3600,
        bulk_delete_max_hours: 168,
    }
}

on_every_backend!(a_ban_with_the_cli_closes_the_socket_of_a_running_server);
async fn a_ban_with_the_cli_closes_the_socket_of_a_running_server() {
    let app = TestApp::spawn().await;
    let [mut bob] = app.members("lobby", ["bob"]).await;
    let out = app.cli(&["room", "ban", "lobby", "bob", "--reason", "spam"]);
    assert!(
        out.status.success(),
        "confab room ban: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(close_of(&mut bob).await, (4003, "banned: spam".into()));
}

/// Two instances on one database and one Redis, and a staff account.
async fn two_instances(url: &str) -> (TestApp, TestApp, Actor) {
    let prefix = fresh_prefix();
    let one = TestApp::spawn_on(backend_for_several_instances(), |s| {
        s.redis_url = Some(url.to_owned());
        s.redis_prefix = prefix;
        // Only the bus can bring the news within the test's patience.
        s.session_sweep = Duration::from_secs(3600);
    })
    .await;
    let two = one.sibling(|_| {}).await;
    wait_for_redis(&one, "ok").await;
    wait_for_redis(&two, "ok").await;
    let (_, boss) = staff(&one, "boss").await;
    (one, two, boss)
}

/// `who` signed up on `one`, with a socket to the lobby on `two`.
async fn in_lobby_on(one: &TestApp, two: &TestApp, who: &str) -> Ws {
    one.user(who).await;
    let there = same_user_on(two, who).await;
    let mut ws = two.join(&there, "lobby").await;
    ws.joined().await;
    ws
}

#[actix_web::test]
async fn a_ban_on_one_instance_closes_the_socket_on_the_other() {
    let Some(url) = redis_url() else { return };
    let (one, two, boss) = two_instances(&url).await;
    let mut bob = in_lobby_on(&one, &two, "bob").await;
    act(
        &one,
        &boss,
        Action::Ban {
            room: room("lobby"),
            user: name("bob"),
            minutes: None,
            reason: reason("across"),
        },
    )
    .await;
    assert_eq!(close_of(&mut bob).await, (4003, "banned: across".into()));
}

#[actix_web::test]
async fn a_mute_on_one_instance_refuses_a_post_on_the_other() {
    let Some(url) = redis_url() else { return };
    let (one, two, boss) = two_instances(&url).await;
    let mut bob = in_lobby_on(&one, &two, "bob").await;
    act(
        &one,
        &boss,
        Action::Mute {
            room: room("lobby"),
            user: name("bob"),
            minutes: Some(5),
            reason: reason("hush"),
        },
    )
    .await;
    bob.say("can you hear me?").await;
    let refused = error(&mut bob).await;
    assert_eq!(
        (refused["code"].as_str(), refused["reason"].as_str()),
        (Some("muted"), Some("hush"))
    );
}

#[actix_web::test]
async fn a_kick_on_one_instance_closes_the_socket_on_the_other() {
    let Some(url) = redis_url() else { return };
    let (one, two, boss) = two_instances(&url).await;
    let mut bob = in_lobby_on(&one, &two, "bob").await;
    act(
        &one,
        &boss,
        Action::Kick {
            room: room("lobby"),
            user: name("bob"),
            reason: reason("out"),
        },
    )
    .await;
    assert_eq!(close_of(&mut bob).await, (4000, "kicked: out".into()));
}

#[actix_web::test]
async fn a_lock_on_one_instance_reaches_the_pages_on_the_other() {
    let Some(url) = redis_url() else { return };
    let (one, two, boss) = two_instances(&url).await;
    one.user("bob").await;
    let bob = same_user_on(&two, "bob").await;
    let mut modern = two.join_modern(&bob, "lobby").await;
    joined_modern(&mut modern).await;
    act(
        &one,
        &boss,
        Action::Lock {
            room: room("lobby"),
        },
    )
    .await;
    assert_eq!(modern.next_of("room_state").await["locked"], true);
}
