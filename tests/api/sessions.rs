//! Sessions live on the server: logging out ends a session for every copy
//! of its cookie and closes its sockets (1008, "signed out") within a
//! second, on every instance; a password change ends the user's other
//! sessions; an unused session expires; `confab user logout-all` ends them
//! all; and rights lost through the CLI (another process) close sockets in
//! admin-only rooms within the sweep interval, while `history` re-checks
//! them on every request.

use crate::common::{
    Browser, Event, PATIENCE, TestApp, Ws, backend_for_several_instances, read_join_burst,
    redis_url, socket_to,
};
use crate::scale_out::{fresh_prefix, wait_for_redis};
use confab::db::schema::sessions;
use diesel::prelude::*;
use futures_util::StreamExt;
use serde_json::json;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::{self, Message};

const PASSWORD: &str = "correct horse battery";

/// What the issue allows between a logout and its sockets closing.
const LOGOUT_CLOSES_WITHIN: Duration = Duration::from_secs(1);

/// The close every socket of an ended session gets.
fn signed_out() -> Option<(u16, String)> {
    Some((1008, "signed out".to_owned()))
}

/// Logs `browser` out through the form in the pages' header.
async fn log_out(browser: &Browser) {
    let token = browser.csrf_token("/accounts/logout/").await;
    let res = browser
        .post_form("/accounts/logout/", &[("csrf_token", &token)])
        .await;
    assert_eq!(res.status(), 303, "logout redirects");
}

/// Whether `browser` is signed in, as `/chat/` says: 200, or a 302 to the
/// login page.
async fn signed_in(browser: &Browser) -> bool {
    let res = browser.get("/chat/").await;
    match res.status().as_u16() {
        200 => true,
        302 => {
            let to = res.headers()["location"].to_str().unwrap();
            assert!(to.starts_with("/accounts/login/"), "{to}");
            false
        }
        other => panic!("/chat/ answered {other}"),
    }
}

/// Asserts the handshake of `browser` to `room` is refused with 403.
async fn handshake_refused(app: &TestApp, browser: &Browser, room: &str) {
    match app.connect(browser, room).await {
        Err(tungstenite::Error::Http(res)) => assert_eq!(res.status(), 403),
        Err(other) => panic!("expected a 403, got {other}"),
        Ok(_) => panic!("the handshake was accepted"),
    }
}

/// `name`'s account signed in in another browser.
async fn second_browser(app: &TestApp, name: &str) -> Browser {
    let browser = app.browser();
    let res = browser.login(name, PASSWORD, "/chat/").await;
    assert_eq!(res.status(), 303, "login of {name}");
    browser
}

/// Asserts `ws` still works: a message it posts comes back.
async fn still_open(ws: &mut Ws, text: &str) {
    ws.say(text).await;
    assert_eq!(ws.next_of("chat_message").await["message"], text);
}

fn session_rows(app: &TestApp) -> i64 {
    app.database()
        .run_here(|c| Ok(sessions::table.count().get_result::<i64>(c)?))
        .unwrap()
}

on_every_backend!(logging_out_closes_that_sessions_sockets_and_its_cookie_stops_working);
async fn logging_out_closes_that_sessions_sockets_and_its_cookie_stops_working() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let phone = second_browser(&app, "alice").await;
    let mut here = app.join(&alice, "lobby").await;
    here.joined().await;
    let mut there = app.join(&phone, "lobby").await;
    there.joined().await;
    let copied = alice.replay_cookies();
    assert!(
        signed_in(&copied).await,
        "a copy works while the session lasts"
    );

    let start = Instant::now();
    log_out(&alice).await;
    let close = here.closes_within(LOGOUT_CLOSES_WITHIN).await;
    assert_eq!(close, Some(signed_out()), "closed within a second");
    eprintln!("logout to close: {:?}", start.elapsed());

    // The copied cookie is worth nothing now, on pages and sockets alike.
    assert!(!signed_in(&copied).await);
    handshake_refused(&app, &copied, "lobby").await;
    assert!(!signed_in(&alice).await);
    // The other session (another browser) is untouched.
    assert!(signed_in(&phone).await);
    still_open(&mut there, "still here").await;
    assert_eq!(session_rows(&app), 1);
}

on_every_backend!(a_password_change_ends_the_other_sessions_but_not_this_one);
async fn a_password_change_ends_the_other_sessions_but_not_this_one() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let laptop = second_browser(&app, "alice").await;
    let mut here = app.join(&alice, "lobby").await;
    here.joined().await;
    let mut there = app.join(&laptop, "lobby").await;
    there.joined().await;
    let page = alice.text("/accounts/password/").await;
    assert!(page.contains("Current password"), "{page}");
    assert!(
        alice
            .text("/chat/")
            .await
            .contains("href=\"/accounts/password/\""),
        "the header links to the page"
    );
    let token = alice.csrf_token("/accounts/password/").await;
    let change = |current: &'static str, new: &'static str, again: &'static str| {
        let token = token.clone();
        let alice = &alice;
        async move {
            alice
                .post_form(
                    "/accounts/password/",
                    &[
                        ("csrf_token", token.as_str()),
                        ("current", current),
                        ("password", new),
                        ("password2", again),
                    ],
                )
                .await
        }
    };

    // Refusals change nothing.
    let wrong = change("not my password", "a new passphrase", "a new passphrase").await;
    assert_eq!(wrong.status(), 400);
    assert!(
        wrong
            .text()
            .await
            .unwrap()
            .contains("current password is not right")
    );
    let short = change(PASSWORD, "short", "short").await;
    assert_eq!(short.status(), 400);
    assert!(
        short.text().await.unwrap().contains("at least 8"),
        "sign-up's rules"
    );
    let mismatch = change(PASSWORD, "a new passphrase", "another one").await;
    assert_eq!(mismatch.status(), 400);
    let forged = alice
        .post_form(
            "/accounts/password/",
            &[
                ("csrf_token", "forged"),
                ("current", PASSWORD),
                ("password", "a new passphrase"),
                ("password2", "a new passphrase"),
            ],
        )
        .await;
    assert_eq!(forged.status(), 403);
    assert!(signed_in(&laptop).await);

    let done = change(PASSWORD, "a new passphrase", "a new passphrase").await;
    assert_eq!(done.status(), 200);
    assert!(
        done.text()
            .await
            .unwrap()
            .contains("Your password is changed")
    );
    assert_eq!(
        there.closes_within(LOGOUT_CLOSES_WITHIN).await,
        Some(signed_out())
    );
    assert!(!signed_in(&laptop).await);
    handshake_refused(&app, &laptop, "lobby").await;
    // This session carries on, socket and all.
    assert!(signed_in(&alice).await);
    still_open(&mut here, "still signed in").await;

    let old = app.browser();
    assert_eq!(old.login("alice", PASSWORD, "/chat/").await.status(), 400);
    let new = app.browser();
    let res = new.login("alice", "a new passphrase", "/chat/").await;
    assert_eq!(res.status(), 303);
}

on_every_backend!(a_session_unused_for_the_idle_time_expires);
async fn a_session_unused_for_the_idle_time_expires() {
    let idle = Duration::from_secs(3);
    let app = TestApp::spawn_with(|s| {
        s.session_idle = idle;
        s.session_sweep = Duration::from_secs(1);
    })
    .await;
    // Hashing takes a while on a busy machine: the socket opens first, and
    // the idler is checked right after its login.
    let chatting = app.user("alice").await;
    let mut ws = app.join(&chatting, "lobby").await;
    ws.joined().await;
    let forgotten = second_browser(&app, "alice").await;
    let idler = second_browser(&app, "alice").await;
    assert!(signed_in(&idler).await);

    tokio::time::sleep(idle + Duration::from_secs(1)).await;
    // Unused: over, on pages and at the handshake.
    handshake_refused(&app, &idler, "lobby").await;
    assert!(!signed_in(&idler).await);
    // An open socket is use: that session lives on, and so does its socket.
    assert!(signed_in(&chatting).await);
    still_open(&mut ws, "still chatting").await;
    // The one never seen again is purged by the sweep.
    let deadline = Instant::now() + PATIENCE;
    while session_rows(&app) > 1 {
        assert!(Instant::now() < deadline, "idle sessions are purged");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(!signed_in(&forgotten).await);
}

on_every_backend!(demotion_through_the_cli_closes_admin_only_sockets_within_five_seconds);
async fn demotion_through_the_cli_closes_admin_only_sockets_within_five_seconds() {
    let app = TestApp::spawn().await;
    let (carol, mut staff) = app.staff_in_admin_only_room("carol").await;
    let mut lobby = app.join(&carol, "lobby").await;
    lobby.joined().await;

    // Another process: the server hears nothing of it but what the sweep reads.
    let start = Instant::now();
    assert!(app.cli(&["user", "demote", "carol"]).status.success());
    let close = staff.closes_within(Duration::from_secs(5)).await;
    let took = start.elapsed();
    assert_eq!(
        close.map(|c| c.map(|(code, _)| code)),
        Some(Some(1008)),
        "closed within 5 s"
    );
    eprintln!("demotion to close: {took:?}");
    // The open room is hers as before.
    still_open(&mut lobby, "still in the lobby").await;
    handshake_refused(&app, &carol, "staff-room").await;
}

on_every_backend!(history_rechecks_rights_on_every_request);
async fn history_rechecks_rights_on_every_request() {
    // No sweep during the test: the history request alone must notice.
    let app = TestApp::spawn_with(|s| s.session_sweep = Duration::from_secs(3600)).await;
    assert!(
        app.cli(&["room", "create", "staff-room", "--admin-only"])
            .status
            .success()
    );
    let carol = app.user("carol").await;
    assert!(app.cli(&["user", "promote", "carol"]).status.success());
    app.store_messages("staff-room", "carol", ["staff only"]);
    let mut ws = app.join(&carol, "staff-room").await;
    ws.joined().await;
    ws.send_json(json!({"type": "history", "limit": 10})).await;
    assert_eq!(
        ws.expect("history").await["messages"][0]["message"],
        "staff only"
    );

    assert!(app.cli(&["user", "demote", "carol"]).status.success());
    ws.send_json(json!({"type": "history", "limit": 10})).await;
    let refused = ws.expect("error").await;
    assert_eq!(refused["code"], "forbidden", "{refused}");
    match ws.next_event().await {
        Event::Closed(close) => assert_eq!(close.map(|(code, _)| code), Some(1008)),
        Event::Frame(frame) => panic!("no page after the demotion: {frame}"),
    }
}

on_every_backend!(logout_all_ends_every_session_of_a_user);
async fn logout_all_ends_every_session_of_a_user() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let phone = second_browser(&app, "alice").await;
    let bob = app.user("bob").await;
    let mut sockets = Vec::new();
    for browser in [&alice, &phone] {
        let mut ws = app.join(browser, "lobby").await;
        ws.joined().await;
        sockets.push(ws);
    }
    let mut bobs = app.join(&bob, "lobby").await;
    bobs.joined().await;

    let out = app.cli(&["user", "logout-all", "alice"]);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "Ended 2 sessions of alice."
    );
    let within = app.settings.session_sweep + Duration::from_secs(1);
    for ws in &mut sockets {
        assert_eq!(ws.closes_within(within).await, Some(signed_out()));
    }
    for browser in [&alice, &phone] {
        assert!(!signed_in(browser).await);
        handshake_refused(&app, browser, "lobby").await;
    }
    assert!(signed_in(&bob).await, "other users keep theirs");
    still_open(&mut bobs, "bob carries on").await;

    let unknown = app.cli(&["user", "logout-all", "nobody"]);
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no user called nobody"));
}

/// How `ws` closes within `limit`, frames before it skipped.
async fn raw_close_within(
    ws: &mut crate::common::RawSocket,
    limit: Duration,
) -> Option<(u16, String)> {
    tokio::time::timeout(limit, async {
        while let Some(message) = ws.next().await {
            if let Ok(Message::Close(frame)) = message {
                return frame.map(|f| (u16::from(f.code), f.reason.to_string()));
            }
        }
        None
    })
    .await
    .expect("the socket closes in time")
}

#[actix_web::test]
async fn a_logout_closes_the_sessions_sockets_on_every_instance() {
    let Some(url) = redis_url() else {
        return;
    };
    // No sweep during the test: only the bus can close the other
    // instance's socket within the second.
    let prefix = fresh_prefix();
    let one = TestApp::spawn_on(backend_for_several_instances(), |s| {
        s.redis_url = Some(url.clone());
        s.redis_prefix = prefix;
        s.session_sweep = Duration::from_secs(3600);
    })
    .await;
    let two = one.sibling(|_| {}).await;
    wait_for_redis(&one, "ok").await;
    wait_for_redis(&two, "ok").await;

    let alice = one.user("alice").await;
    let mut here = one.join(&alice, "lobby").await;
    here.joined().await;
    let mut elsewhere = socket_to(two.port, &alice, "lobby").await;
    read_join_burst(&mut elsewhere).await;
    let copied = alice.replay_cookies();

    let start = Instant::now();
    log_out(&alice).await;
    assert_eq!(
        here.closes_within(LOGOUT_CLOSES_WITHIN).await,
        Some(signed_out())
    );
    assert_eq!(
        raw_close_within(&mut elsewhere, LOGOUT_CLOSES_WITHIN).await,
        signed_out()
    );
    eprintln!("logout to close on both instances: {:?}", start.elapsed());

    // The copied cookie is refused by both instances.
    assert!(!signed_in(&copied).await);
    handshake_refused(&one, &copied, "lobby").await;
    let mut request = tungstenite::client::IntoClientRequest::into_client_request(format!(
        "ws://127.0.0.1:{}/ws/chat/lobby/",
        two.port
    ))
    .unwrap();
    request
        .headers_mut()
        .insert("Cookie", copied.cookie_header().unwrap());
    request
        .headers_mut()
        .insert("Origin", two.origin().parse().unwrap());
    match tokio_tungstenite::connect_async(request).await {
        Err(tungstenite::Error::Http(res)) => assert_eq!(res.status(), 403),
        other => panic!(
            "expected a 403 from the other instance, got {:?}",
            other.err()
        ),
    }
}
