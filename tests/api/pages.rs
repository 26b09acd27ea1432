//! The room selector, the room page, errors as pages, assets and health.

use crate::common::TestApp;
use confab::db::queries::rooms;

on_every_backend!(visiting_a_room_creates_it_and_the_selector_lists_it);
async fn visiting_a_room_creates_it_and_the_selector_lists_it() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let page = alice.text("/chat/").await;
    assert!(!page.contains("/chat/lobby/"));
    let res = alice.get("/chat/lobby/").await;
    assert_eq!(res.status(), 200);
    let page = res.text().await.unwrap();
    assert!(page.contains("data-room=\"lobby\""), "{page}");
    assert!(alice.text("/chat/").await.contains("/chat/lobby/"));
}

on_every_backend!(a_non_staff_visit_creates_an_open_room);
async fn a_non_staff_visit_creates_an_open_room() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    assert_eq!(alice.get("/chat/new-room/").await.status(), 200);
    let room = app
        .database()
        .run_here(|conn| rooms::by_name(conn, "new-room"))
        .unwrap()
        .expect("the visit stored the room");
    assert!(!room.admin_only, "open to everyone");
    let listed = app.cli(&["room", "list"]);
    assert_eq!(String::from_utf8_lossy(&listed.stdout), "new-room\n");
    let bob = app.user("bob").await;
    let mut b = app.join(&bob, "new-room").await;
    assert_eq!(b.joined().await.1, ["bob"]);
}

on_every_backend!(first_visits_racing_to_a_new_room_make_one_room);
async fn first_visits_racing_to_a_new_room_make_one_room() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    for round in 0..5 {
        let room = format!("new-{round}");
        let path = format!("/chat/{room}/");
        let (a, b, a2, b2) = tokio::join!(
            alice.get(&path),
            bob.get(&path),
            alice.get(&path),
            bob.get(&path)
        );
        for res in [a, b, a2, b2] {
            assert_eq!(res.status(), 200, "{path}");
        }
        let mut a = app.join(&alice, &room).await;
        a.joined().await;
        let mut b = app.join(&bob, &room).await;
        assert_eq!(b.joined().await.1, ["alice", "bob"], "one room, {room}");
    }
    let listed = app.cli(&["room", "list"]);
    let listed = String::from_utf8_lossy(&listed.stdout);
    let names: Vec<&str> = listed.lines().collect();
    assert_eq!(names, ["new-0", "new-1", "new-2", "new-3", "new-4"]);
}

on_every_backend!(the_selector_shows_how_many_are_online);
async fn the_selector_shows_how_many_are_online() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let mut a1 = app.join(&alice, "busy").await;
    a1.joined().await;
    let mut a2 = app.join(&alice, "busy").await;
    a2.joined().await;
    let mut b = app.join(&bob, "busy").await;
    b.joined().await;
    alice.get("/chat/quiet/").await;
    let page = alice.text("/chat/").await;
    let busy = page.find("/chat/busy/").unwrap();
    let quiet = page.find("/chat/quiet/").unwrap();
    let busy_part = &page[busy..quiet];
    assert!(
        busy_part.contains(">2 online</span>"),
        "two people (alice once) in busy: {busy_part}"
    );
    let quiet_part = &page[quiet..];
    let quiet_part = &quiet_part[..quiet_part.find("</li>").unwrap()];
    assert!(
        quiet_part.contains(">nobody online</span>"),
        "nobody in quiet: {quiet_part}"
    );
}

on_every_backend!(the_selector_form_without_javascript_redirects_or_explains);
async fn the_selector_form_without_javascript_redirects_or_explains() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let res = alice.get("/chat/?room_name=team-1").await;
    assert_eq!(res.status(), 302);
    assert_eq!(res.headers()["location"], "/chat/team-1/");
    let res = alice.get("/chat/?room_name=no%20spaces").await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("may only contain"));
}

on_every_backend!(staff_create_admin_only_rooms_from_the_selector);
async fn staff_create_admin_only_rooms_from_the_selector() {
    let app = TestApp::spawn().await;
    let boss = app.user("boss").await;
    let bob = app.user("bob").await;
    assert!(app.cli(&["user", "promote", "boss"]).status.success());

    // The form is shown to staff only, and only staff may use it.
    assert!(boss.text("/chat/").await.contains("create-room-admin"));
    assert!(!bob.text("/chat/").await.contains("create-room-admin"));
    let token = bob.csrf_token("/chat/").await;
    let res = bob
        .post_form(
            "/chat/",
            &[
                ("csrf_token", &token),
                ("name", "bobs"),
                ("admin_only", "on"),
            ],
        )
        .await;
    assert_eq!(res.status(), 403);
    assert!(!bob.text("/chat/").await.contains("/chat/bobs/"));

    let token = boss.csrf_token("/chat/").await;
    let res = boss
        .post_form(
            "/chat/",
            &[
                ("csrf_token", &token),
                ("name", "council"),
                ("admin_only", "on"),
            ],
        )
        .await;
    assert_eq!(res.status(), 302);
    assert_eq!(res.headers()["location"], "/chat/council/");
    assert_eq!(boss.get("/chat/council/").await.status(), 200);

    // Listed, marked, for staff; neither listed nor open to non-staff.
    let page = boss.text("/chat/").await;
    assert!(
        page.contains("/chat/council/") && page.contains("admin only"),
        "{page}"
    );
    assert!(!bob.text("/chat/").await.contains("council"));
    let res = bob.get("/chat/council/").await;
    assert_eq!(res.status(), 403);
    assert!(res.text().await.unwrap().contains("admin-only"));

    // An open room from the same form; mistakes are explained.
    let res = boss
        .post_form("/chat/", &[("csrf_token", &token), ("name", "open-room")])
        .await;
    assert_eq!(res.status(), 302);
    assert_eq!(bob.get("/chat/open-room/").await.status(), 200);
    for (name, says) in [
        ("council", "already exists"),
        ("no spaces", "may only contain"),
    ] {
        let res = boss
            .post_form("/chat/", &[("csrf_token", &token), ("name", name)])
            .await;
        assert_eq!(res.status(), 400, "{name}");
        assert!(res.text().await.unwrap().contains(says), "{name}");
    }
    let res = boss
        .post_form("/chat/", &[("csrf_token", "forged"), ("name", "sneaky")])
        .await;
    assert_eq!(res.status(), 403);
}

on_every_backend!(bad_room_names_are_a_clear_404_page);
async fn bad_room_names_are_a_clear_404_page() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let long = format!("/chat/{}/", "x".repeat(65));
    for path in ["/chat/dot.ted/", "/chat/%3Cscript%3E/", long.as_str()] {
        let res = alice.get(path).await;
        assert_eq!(res.status(), 404, "{path}");
        assert!(
            res.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        let page = res.text().await.unwrap();
        assert!(page.contains("There is no room called"), "{page}");
        assert!(!page.contains("<script>"), "the name is escaped");
    }
    assert_eq!(alice.get("/chat/").await.status(), 200, "server carries on");
}

on_every_backend!(unknown_pages_are_404_pages);
async fn unknown_pages_are_404_pages() {
    let app = TestApp::spawn().await;
    let res = app.browser().get("/nope").await;
    assert_eq!(res.status(), 404);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("There is no page at this address")
    );
}

on_every_backend!(assets_and_health_are_served);
async fn assets_and_health_are_served() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    for (path, kind) in [
        ("/static/style.css", "text/css"),
        ("/static/room/main.js", "text/javascript"),
        ("/static/chat.js", "text/javascript"),
    ] {
        let res = browser.get(path).await;
        assert_eq!(res.status(), 200, "{path}");
        assert!(
            res.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with(kind)
        );
        assert!(!res.text().await.unwrap().is_empty());
    }
    assert_eq!(browser.get("/static/missing.js").await.status(), 404);
    assert_eq!(browser.get("/static/room/missing.js").await.status(), 404);
    assert_eq!(browser.text("/healthz").await, "ok");
    let ready: serde_json::Value = serde_json::from_str(&browser.text("/readyz").await).unwrap();
    assert_eq!(ready["database"], "ok");
}

on_every_backend!(readiness_names_a_failing_database_but_not_its_error);
async fn readiness_names_a_failing_database_but_not_its_error() {
    use diesel::RunQueryDsl;
    let app = TestApp::spawn().await;
    // The probe reads `users`; without it the database cannot serve.
    app.database()
        .run_here(|conn| {
            diesel::sql_query("ALTER TABLE users RENAME TO users_away").execute(conn)?;
            Ok(())
        })
        .expect("rename the table");
    let res = app.browser().get("/readyz").await;
    assert_eq!(res.status(), 503);
    let body = res.text().await.unwrap();
    let ready: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(ready["database"], "unavailable", "{body}");
    assert!(!body.contains("users"), "no raw error: {body}");
}

#[actix_web::test]
async fn metrics_can_live_on_an_address_of_their_own() {
    let app = TestApp::spawn_with(|s| s.metrics_bind = Some("127.0.0.1:0".parse().unwrap())).await;
    let public = app.browser();
    assert_eq!(public.get("/metrics").await.status(), 404, "not public");
    assert_eq!(public.get("/healthz").await.status(), 200);
    let metrics_port = app.metrics_port.expect("a metrics listener");
    let private = format!("http://127.0.0.1:{metrics_port}");
    let res = reqwest::get(format!("{private}/metrics")).await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("confab_"));
    let res = reqwest::get(format!("{private}/chat/")).await.unwrap();
    assert_eq!(res.status(), 404, "the metrics address serves nothing else");
}

#[actix_web::test]
async fn hsts_comes_with_secure_cookies_only() {
    let plain = TestApp::spawn().await;
    let res = plain.browser().get("/accounts/login/").await;
    assert!(res.headers().get("strict-transport-security").is_none());
    let https = TestApp::spawn_with(|s| s.secure_cookies = true).await;
    let res = https.browser().get("/accounts/login/").await;
    assert_eq!(
        res.headers()["strict-transport-security"],
        "max-age=31536000"
    );
}

on_every_backend!(pages_forbid_inline_scripts);
async fn pages_forbid_inline_scripts() {
    let app = TestApp::spawn().await;
    let res = app.browser().get("/accounts/login/").await;
    let csp = res.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    let page = res.text().await.unwrap();
    assert!(!page.contains("<script>"), "no inline script blocks");
}
