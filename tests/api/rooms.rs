//! Rooms as an attacker meets them: a visit creates a room only within the
//! visitor's hourly quota (on every instance, across restarts), the
//! selector lists a bounded page of the busiest rooms and searches the
//! rest, admin-only rooms stay invisible to non-staff, and `confab room
//! set` converts a room either way, at once.

use crate::common::{Event, TestApp, backend_for_several_instances, redis_url, unique_suffix};
use confab::db::queries::rooms;
use serde_json::json;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio_tungstenite::tungstenite;

/// The rooms the selector at `path` lists, in its order.
async fn listed(browser: &crate::common::Browser, path: &str) -> Vec<String> {
    let page = browser.text(path).await;
    page.split("class=\"room-link\" href=\"/chat/")
        .skip(1)
        .map(|rest| rest.split('/').next().unwrap().to_owned())
        .collect()
}

/// Creates rooms straight in the database, as `confab room create` would.
fn make_rooms(app: &TestApp, names: impl IntoIterator<Item = String>, admin_only: bool) {
    use diesel::Connection;
    app.database()
        .run_here(|conn| {
            conn.transaction(|conn| {
                for name in names {
                    rooms::create(conn, &name, admin_only, None)?;
                }
                Ok(())
            })
        })
        .expect("rooms created");
}

fn exists(app: &TestApp, name: &str) -> bool {
    app.database()
        .run_here(|conn| rooms::by_name(conn, name))
        .unwrap()
        .is_some()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

on_every_backend!(an_eleventh_new_room_in_an_hour_is_refused_with_429);
async fn an_eleventh_new_room_in_an_hour_is_refused_with_429() {
    let app = TestApp::spawn().await;
    assert_eq!(app.settings.rooms_per_hour, 10, "the default");
    let alice = app.user("alice").await;
    for i in 0..10 {
        assert_eq!(alice.get(&format!("/chat/mine-{i}/")).await.status(), 200);
    }
    let res = alice.get("/chat/mine-10/").await;
    assert_eq!(res.status(), 429);
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((3000..=3600).contains(&retry), "about an hour: {retry}");
    let page = res.text().await.unwrap();
    assert!(page.contains("10 new rooms in the last hour"), "{page}");
    assert!(page.contains("another in 60 minutes"), "{page}");
    assert!(!exists(&app, "mine-10"));

    // Rooms that exist stay open to her, and her quota is hers alone.
    assert_eq!(alice.get("/chat/mine-3/").await.status(), 200);
    let bob = app.user("bob").await;
    assert_eq!(bob.get("/chat/bobs/").await.status(), 200);
    assert_eq!(alice.get("/chat/bobs/").await.status(), 200);

    // A socket never creates a room: one to a room that does not exist is
    // refused with 404, within the quota or not.
    for (who, room) in [(&alice, "mine-10"), (&bob, "by-socket")] {
        match app.connect(who, room).await {
            Err(tungstenite::Error::Http(res)) => assert_eq!(res.status(), 404),
            Err(other) => panic!("a socket to {room}: {other}"),
            Ok(_) => panic!("a socket to {room} was accepted"),
        }
        assert!(!exists(&app, room));
    }
}

on_every_backend!(racing_visits_do_not_slip_past_the_quota);
async fn racing_visits_do_not_slip_past_the_quota() {
    let app = TestApp::spawn_with(|s| s.rooms_per_hour = 3).await;
    let alice = app.user("alice").await;
    let paths: Vec<String> = (0..8).map(|i| format!("/chat/race-{i}/")).collect();
    let visits = futures_util::future::join_all(paths.iter().map(|p| alice.get(p))).await;
    let created = visits.iter().filter(|r| r.status() == 200).count();
    let refused = visits.iter().filter(|r| r.status() == 429).count();
    assert_eq!((created, refused), (3, 5));
}

on_every_backend!(staff_and_a_zero_quota_are_unlimited);
async fn staff_and_a_zero_quota_are_unlimited() {
    let app = TestApp::spawn_with(|s| s.rooms_per_hour = 2).await;
    let boss = app.user("boss").await;
    assert!(app.cli(&["user", "promote", "boss"]).status.success());
    for i in 0..5 {
        assert_eq!(boss.get(&format!("/chat/staff-{i}/")).await.status(), 200);
    }
    let alice = app.user("alice").await;
    assert_eq!(alice.get("/chat/a-0/").await.status(), 200);
    assert_eq!(alice.get("/chat/a-1/").await.status(), 200);
    assert_eq!(alice.get("/chat/a-2/").await.status(), 429);

    let open = TestApp::spawn_with(|s| s.rooms_per_hour = 0).await;
    let carol = open.user("carol").await;
    for i in 0..15 {
        assert_eq!(carol.get(&format!("/chat/c-{i}/")).await.status(), 200);
    }
}

on_every_backend!(the_quota_holds_across_instances_and_restarts);
async fn the_quota_holds_across_instances_and_restarts() {
    let a = TestApp::spawn_with(|s| s.rooms_per_hour = 3).await;
    let b = a.sibling(|_| {}).await;
    let on_a = a.user("alice").await;
    let on_b = b.browser();
    assert_eq!(
        on_b.login("alice", "correct horse battery", "/chat/")
            .await
            .status(),
        303
    );
    assert_eq!(on_a.get("/chat/one/").await.status(), 200);
    assert_eq!(on_b.get("/chat/two/").await.status(), 200);
    assert_eq!(on_a.get("/chat/three/").await.status(), 200);
    assert_eq!(on_b.get("/chat/four/").await.status(), 429);
    assert_eq!(on_a.get("/chat/four/").await.status(), 429);
    b.stop().await;

    let a = a.restart().await;
    let again = a.browser();
    assert_eq!(
        again
            .login("alice", "correct horse battery", "/chat/")
            .await
            .status(),
        303
    );
    assert_eq!(again.get("/chat/four/").await.status(), 429);
    assert_eq!(again.get("/chat/two/").await.status(), 200);
}

on_every_backend!(the_selector_lists_a_bounded_page_busiest_first);
async fn the_selector_lists_a_bounded_page_busiest_first() {
    let app = TestApp::spawn_with(|s| s.room_index_limit = 5).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let carol = app.user("carol").await;
    make_rooms(&app, (0..8).map(|i| format!("r{i}")), false);
    app.store_messages("r2", "alice", ["older"]);
    app.store_messages("r5", "alice", ["newer"]);
    let mut a = app.join(&alice, "r7").await;
    a.joined().await;
    let mut b = app.join(&bob, "r0").await;
    b.joined().await;
    let mut c = app.join(&carol, "r0").await;
    c.joined().await;

    // Online first (2, then 1), then the latest message, then by name.
    assert_eq!(
        listed(&alice, "/chat/").await,
        ["r0", "r7", "r5", "r2", "r1"]
    );
    let page = alice.text("/chat/").await;
    assert!(page.contains(">2 online</span>"), "{page}");
    assert!(page.contains("Showing the first 5"), "{page}");

    // A message moves a quiet room up among the quiet ones.
    app.store_messages("r6", "alice", ["newest"]);
    assert_eq!(
        listed(&alice, "/chat/").await,
        ["r0", "r7", "r6", "r5", "r2"]
    );
}

on_every_backend!(the_search_box_filters_rooms_by_name);
async fn the_search_box_filters_rooms_by_name() {
    let app = TestApp::spawn_with(|s| s.room_index_limit = 2).await;
    let alice = app.user("alice").await;
    make_rooms(
        &app,
        ["team-alpha", "Team_beta", "teamgamma", "random", "ops"].map(String::from),
        false,
    );
    assert_eq!(
        listed(&alice, "/chat/?q=TEAM").await,
        ["Team_beta", "team-alpha"],
        "any case; at most the limit"
    );
    assert!(
        alice
            .text("/chat/?q=TEAM")
            .await
            .contains("Showing the first 2")
    );
    assert_eq!(listed(&alice, "/chat/?q=gamma").await, ["teamgamma"]);
    // `_` and `%` are letters to search for, not wildcards.
    assert_eq!(listed(&alice, "/chat/?q=m_b").await, ["Team_beta"]);
    assert!(listed(&alice, "/chat/?q=%25").await.is_empty());
    let page = alice.text("/chat/?q=nothing-like-it").await;
    assert!(page.contains("No room matches"), "{page}");
    assert!(page.contains("value=\"nothing-like-it\""), "{page}");
    let long = "x".repeat(5000);
    let res = alice.get(&format!("/chat/?q={long}")).await;
    assert_eq!(res.status(), 200);
}

on_every_backend!(non_staff_never_see_admin_only_rooms_or_their_counts);
async fn non_staff_never_see_admin_only_rooms_or_their_counts() {
    let app = TestApp::spawn_with(|s| s.room_index_limit = 1).await;
    assert!(
        app.cli(&["room", "create", "secret-plans", "--admin-only"])
            .status
            .success()
    );
    let boss = app.user("boss").await;
    assert!(app.cli(&["user", "promote", "boss"]).status.success());
    let mut s = app.join(&boss, "secret-plans").await;
    s.joined().await;
    let alice = app.user("alice").await;
    assert_eq!(alice.get("/chat/lobby/").await.status(), 200);

    for path in ["/chat/", "/chat/?q=secret", "/chat/?q=s"] {
        let page = alice.text(path).await;
        // (The search box shows what was searched for: only the room's
        // full name would give it away.)
        assert!(!page.contains("secret-plans"), "{path}: {page}");
        assert!(!page.contains(">1 online"), "{path}: no count: {page}");
        assert!(!page.contains("Showing the first"), "{path}: not counted");
    }
    assert_eq!(listed(&alice, "/chat/").await, ["lobby"]);

    // Staff see it, busiest first, with its count and its badge.
    assert_eq!(listed(&boss, "/chat/").await, ["secret-plans"]);
    let page = boss.text("/chat/?q=secret").await;
    assert!(page.contains(">1 online</span>"), "{page}");
    assert!(page.contains("admin only"), "{page}");
}

on_every_backend!(room_set_converts_a_room_both_ways_at_once);
async fn room_set_converts_a_room_both_ways_at_once() {
    // The sweep off, so that the socket meets the change on its own next
    // request (the sweep's part has a test of its own below).
    let app = TestApp::spawn_with(|s| s.session_sweep = Duration::from_secs(3600)).await;
    let alice = app.user("alice").await;
    let mut a = app.join(&alice, "shared").await;
    a.joined().await;
    a.say("before").await;
    let before = a.expect("chat_message").await["id"].as_i64().unwrap();

    let out = app.cli(&["room", "set", "shared", "--admin-only"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("shared is now admin-only"),
        "{}",
        stdout(&out)
    );
    assert_eq!(alice.get("/chat/shared/").await.status(), 403);
    match app.connect(&alice, "shared").await {
        Err(tungstenite::Error::Http(res)) => assert_eq!(res.status(), 403),
        Err(other) => panic!("a new socket: {other}"),
        Ok(_) => panic!("a new socket was accepted"),
    }
    // Her open socket may no longer read the history: refused, and closed.
    a.send_json(json!({"type": "history", "before": before + 1, "limit": 10}))
        .await;
    assert_eq!(a.expect("error").await["code"], "forbidden");
    match a.next_event().await {
        Event::Closed(close) => assert_eq!(close.map(|(code, _)| code), Some(1008)),
        Event::Frame(frame) => panic!("unexpected {frame}"),
    }
    assert!(stdout(&app.cli(&["room", "list"])).contains("shared  (admin only)"));

    let out = app.cli(&["room", "set", "shared", "--public"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("shared is now open to everyone"));
    assert_eq!(alice.get("/chat/shared/").await.status(), 200);
    let mut a = app.connect(&alice, "shared").await.expect("open again");
    let (history, _) = a.joined().await;
    assert_eq!(history.len(), 1);

    let out = app.cli(&["room", "set", "ghost", "--public"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("no room called ghost"),
        "{}",
        stderr(&out)
    );
    let out = app.cli(&["room", "set", "shared"]);
    assert!(!out.status.success(), "one of --admin-only and --public");
    let out = app.cli(&["room", "set", "shared", "--admin-only", "--public"]);
    assert!(!out.status.success(), "not both");
}

on_every_backend!(a_room_made_admin_only_closes_idle_non_staff_sockets_within_the_sweep);
async fn a_room_made_admin_only_closes_idle_non_staff_sockets_within_the_sweep() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let boss = app.user("boss").await;
    assert!(app.cli(&["user", "promote", "boss"]).status.success());
    let mut a = app.join(&alice, "shared").await;
    a.joined().await;
    let mut b = app.join(&boss, "shared").await;
    b.joined().await;
    let mut elsewhere = app.join(&alice, "lobby").await;
    elsewhere.joined().await;

    let out = app.cli(&["room", "set", "shared", "--admin-only"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let since = std::time::Instant::now();
    // Alice sends nothing; the sweep (every 2 s) closes her socket.
    loop {
        match a.next_event().await {
            Event::Closed(close) => {
                assert_eq!(close.map(|(code, _)| code), Some(1008));
                break;
            }
            Event::Frame(_) => {}
        }
    }
    assert!(
        since.elapsed() < Duration::from_secs(5),
        "{:?}",
        since.elapsed()
    );
    // Staff stay, and so does her socket in a public room.
    b.say("still here").await;
    assert_eq!(b.next_of("chat_message").await["message"], "still here");
    elsewhere.say("me too").await;
    assert_eq!(elsewhere.next_of("chat_message").await["message"], "me too");
}

on_every_backend!(room_create_after_a_visit_points_at_room_set);
async fn room_create_after_a_visit_points_at_room_set() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    assert_eq!(alice.get("/chat/staff/").await.status(), 200);
    let out = app.cli(&["room", "create", "staff", "--admin-only"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("a room called staff already exists"), "{err}");
    assert!(err.contains("confab room set staff --admin-only"), "{err}");
    let out = app.cli(&["room", "set", "staff", "--admin-only"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(alice.get("/chat/staff/").await.status(), 403);
    assert!(!alice.text("/chat/").await.contains("/chat/staff/"));
}

/// Commands other clients of Redis sent that mention `prefix`, as
/// `MONITOR` shows them, split into those sent by clients (round trips)
/// and those run inside scripts, while `during` runs.
async fn redis_commands_during<F: std::future::Future<Output = ()>>(
    url: &str,
    prefix: &str,
    during: F,
) -> (Vec<String>, Vec<String>) {
    let address = url
        .trim_start_matches("redis://")
        .trim_end_matches('/')
        .to_owned();
    let stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let (read, mut write) = stream.into_split();
    write.write_all(b"MONITOR\r\n").await.unwrap();
    let mut lines = BufReader::new(read).lines();
    assert_eq!(lines.next_line().await.unwrap().as_deref(), Some("+OK"));
    during.await;
    // A marker that this connection's own command arrives after all else.
    let marker = format!("marker-{}", unique_suffix());
    let mut other = redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let _: Option<String> = redis::cmd("GET")
        .arg(&marker)
        .query_async(&mut other)
        .await
        .unwrap();
    let (mut sent, mut scripted) = (Vec::new(), Vec::new());
    loop {
        let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
            .await
            .expect("MONITOR keeps talking")
            .unwrap()
            .expect("MONITOR stays open");
        if line.contains(&marker) {
            break;
        }
        if !line.contains(prefix) {
            continue;
        }
        if line.contains(" lua] ") {
            scripted.push(line);
        } else {
            sent.push(line);
        }
    }
    (sent, scripted)
}

#[actix_web::test]
async fn the_selector_asks_redis_once_however_many_rooms_exist() {
    let Some(url) = redis_url() else { return };
    let prefix = format!("confabtest{}", unique_suffix());
    let app = TestApp::spawn_on(backend_for_several_instances(), |s| {
        s.redis_url = Some(url.clone());
        s.redis_prefix = prefix.clone();
        // No heartbeat or sweep within the test: only the selector talks.
        s.presence_ttl = Duration::from_secs(600);
    })
    .await;
    make_rooms(&app, (0..2000).map(|i| format!("quiet-{i:04}")), false);
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let mut sockets = Vec::new();
    for (who, room) in [(&alice, "busy-a"), (&bob, "busy-a"), (&alice, "busy-b")] {
        let mut ws = app.join(who, room).await;
        ws.joined().await;
        sockets.push(ws);
    }
    let loads = 3;
    let (sent, scripted) = redis_commands_during(&url, &prefix, async {
        for _ in 0..loads {
            let rooms = listed(&alice, "/chat/").await;
            assert_eq!(rooms.len(), 100, "the default limit");
            assert_eq!(rooms[..3], ["busy-a", "busy-b", "quiet-0000"]);
        }
    })
    .await;
    assert_eq!(sent.len(), loads, "one round trip per page: {sent:#?}");
    let counted = scripted.iter().filter(|l| l.contains("\"ZCOUNT\"")).count();
    assert_eq!(counted, 2 * loads, "only the busy rooms are counted");
    drop(sockets);
}
