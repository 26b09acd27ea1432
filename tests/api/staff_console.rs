//! The staff console (`/staff/`): who may enter it, what each page lists
//! (searched and paged), and what each form does: the action performed
//! through the moderation service, the flash message saying so, and the
//! audit log entry naming who did what to whom and why.

use crate::common::{Browser, TestApp};
use confab::db::queries::{self, users};
use diesel::prelude::*;

/// `name`, signed up and made staff.
async fn staff(app: &TestApp, name: &str) -> Browser {
    let browser = app.user(name).await;
    let out = app.cli(&["user", "promote", name]);
    assert!(out.status.success(), "promote {name}: {out:?}");
    browser
}

/// Creates rooms straight through the CLI.
fn create_rooms(app: &TestApp, names: &[&str]) {
    for name in names {
        let out = app.cli(&["room", "create", name]);
        assert!(out.status.success(), "room create {name}: {out:?}");
    }
}

/// Posts `fields` to `path` with the CSRF token of the page `from`, and
/// returns the response (a 303 for every console form).
async fn submit(
    browser: &Browser,
    from: &str,
    path: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let token = browser.csrf_token(from).await;
    let mut all = vec![("csrf_token", token.as_str())];
    all.extend_from_slice(fields);
    browser.post_form(path, &all).await
}

/// Submits a console form, which must redirect (303); returns where to,
/// and the page there with its flash message.
async fn submit_and_follow(
    browser: &Browser,
    from: &str,
    path: &str,
    fields: &[(&str, &str)],
) -> (String, String) {
    let res = submit(browser, from, path, fields).await;
    assert_eq!(res.status(), 303, "{path} {fields:?} redirects back");
    let to = res
        .headers()
        .get("location")
        .expect("a Location")
        .to_str()
        .unwrap()
        .to_owned();
    let page = read_page(browser, &to).await;
    (to, page)
}

/// The flash message of a console page, if it has one.
fn flash(page: &str) -> Option<String> {
    let start = page.find("id=\"flash\"")?;
    let text_start = page[start..].find('>')? + start + 1;
    let end = page[text_start..].find("</div>")? + text_start;
    Some(unescape(page[text_start..end].trim()))
}

/// Undoes Tera's HTML escaping, for comparing page text.
fn unescape(text: &str) -> String {
    text.replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&#x2F;", "/")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The audit log's rows, oldest first: (actor, action, target, room,
/// reason).
fn audit_rows(app: &TestApp) -> Vec<(String, String, String, Option<String>, String)> {
    use confab::db::schema::audit_log;
    app.database()
        .run_here(|conn| {
            Ok(audit_log::table
                .order(audit_log::id.asc())
                .select((
                    audit_log::actor,
                    audit_log::action,
                    audit_log::target,
                    audit_log::room,
                    audit_log::reason,
                ))
                .load(conn)?)
        })
        .unwrap()
}

/// Files a report of message `id` by `reporter`, straight into the
/// database (as the room page's "Report…" does through
/// `POST /chat/<room>/report/`).
fn file_report(app: &TestApp, id: i64, reporter: &str, reason: &str) -> i32 {
    use confab::db::models::NewReport;
    use confab::db::schema::{messages, reports};
    use confab::domain::MessageId;
    app.database()
        .run_here(|conn| {
            let reporter = users::by_username(conn, reporter)?.unwrap();
            let room_id = messages::table
                .find(id)
                .select(messages::room_id)
                .first(conn)?;
            Ok(diesel::insert_into(reports::table)
                .values(&NewReport {
                    message_id: MessageId(id),
                    room_id,
                    reporter_id: reporter.id,
                    reason,
                    created_at: queries::now(),
                })
                .returning(reports::id)
                .get_result(conn)?)
        })
        .unwrap()
}

/// The page at `path` as `browser` reads it, HTML escapes undone.
async fn read_page(browser: &Browser, path: &str) -> String {
    unescape(&browser.text(path).await)
}

/// Every console page, as a staff member opens it.
const PAGES: &[&str] = &[
    "/staff/",
    "/staff/rooms/",
    "/staff/rooms/lobby/",
    "/staff/rooms/lobby/delete/",
    "/staff/users/",
    "/staff/users/boss/",
    "/staff/messages/",
    "/staff/messages/?q=hello",
    "/staff/reports/",
    "/staff/reports/resolved/",
    "/staff/audit/",
];

/// Every console form, with fields it could carry.
const FORMS: &[(&str, &[(&str, &str)])] = &[
    ("/staff/rooms/", &[("name", "new-room"), ("access", "public")]),
    ("/staff/rooms/lobby/", &[("op", "lock")]),
    ("/staff/rooms/lobby/delete/", &[]),
    ("/staff/users/boss/", &[("op", "end_sessions")]),
    ("/staff/messages/delete/", &[("id", "1"), ("reason", "x")]),
    (
        "/staff/messages/bulk/",
        &[("user", "boss"), ("hours", "1"), ("confirm", "yes")],
    ),
    ("/staff/reports/1/", &[("op", "dismiss")]),
];

on_every_backend!(anonymous_visitors_are_sent_to_log_in_and_back);
async fn anonymous_visitors_are_sent_to_log_in_and_back() {
    let app = TestApp::spawn().await;
    let _boss = staff(&app, "boss").await;
    create_rooms(&app, &["lobby"]);
    let visitor = app.browser();
    for page in PAGES {
        let res = visitor.get(page).await;
        assert_eq!(res.status(), 302, "{page}");
        let location = res.headers()["location"].to_str().unwrap().to_owned();
        let next = serde_urlencoded::to_string([("next", page)]).unwrap();
        assert_eq!(location, format!("/accounts/login/?{next}"), "{page}");
    }
    for (path, fields) in FORMS {
        let res = visitor.post_form(path, fields).await;
        assert_eq!(res.status(), 302, "POST {path}");
    }
    // Logging in with that `next` lands on the page asked for.
    let res = visitor
        .login("boss", "correct horse battery", "/staff/rooms/")
        .await;
    assert_eq!(res.headers()["location"], "/staff/rooms/");
    assert_eq!(visitor.get("/staff/rooms/").await.status(), 200);
}

on_every_backend!(signed_in_non_staff_get_403_and_a_demoted_staff_member_at_once);
async fn signed_in_non_staff_get_403_and_a_demoted_staff_member_at_once() {
    let app = TestApp::spawn().await;
    let boss = staff(&app, "boss").await;
    let member = app.user("member").await;
    create_rooms(&app, &["lobby"]);
    for page in PAGES {
        assert_eq!(boss.get(page).await.status(), 200, "staff open {page}");
        let res = member.get(page).await;
        assert_eq!(res.status(), 403, "{page}");
        let body = res.text().await.unwrap();
        assert!(body.contains("The staff console is for staff only."), "{page}");
    }
    // A member's forms are refused before anything is read, token or not.
    let before = audit_rows(&app).len();
    let token = member.csrf_token("/chat/").await;
    for (path, fields) in FORMS {
        let mut all = vec![("csrf_token", token.as_str())];
        all.extend_from_slice(fields);
        assert_eq!(member.post_form(path, &all).await.status(), 403, "POST {path}");
    }
    assert_eq!(audit_rows(&app).len(), before, "nothing was done");

    // Only staff see the header's link to the console.
    assert!(read_page(&boss, "/chat/").await.contains("href=\"/staff/\""));
    assert!(!member.text("/chat/").await.contains("href=\"/staff/\""));

    // Rights are read per request: demoted, the console is gone at once.
    assert!(app.cli(&["user", "demote", "boss"]).status.success());
    for page in PAGES {
        assert_eq!(boss.get(page).await.status(), 403, "demoted: {page}");
    }
}

on_every_backend!(every_form_without_the_sessions_csrf_token_is_refused);
async fn every_form_without_the_sessions_csrf_token_is_refused() {
    let app = TestApp::spawn().await;
    let boss = staff(&app, "boss").await;
    create_rooms(&app, &["lobby"]);
    // Make the session's token exist, then send none, or a wrong one.
    boss.csrf_token("/staff/").await;
    let before = audit_rows(&app).len();
    for (path, fields) in FORMS {
        let res = boss.post_form(path, fields).await;
        assert_eq!(res.status(), 403, "POST {path} without a token");
        let mut wrong = vec![("csrf_token", "0000")];
        wrong.extend_from_slice(fields);
        let res = boss.post_form(path, &wrong).await;
        assert_eq!(res.status(), 403, "POST {path} with a wrong token");
        let body = res.text().await.unwrap();
        assert!(body.contains("reload the page"), "explained: {body}");
    }
    assert_eq!(audit_rows(&app).len(), before, "nothing was done");
    let room = app
        .database()
        .run_here(|c| queries::rooms::by_name(c, "lobby"))
        .unwrap()
        .unwrap();
    assert!(!room.locked);
}

on_every_backend!(the_room_list_searches_by_name_and_pages);
async fn the_room_list_searches_by_name_and_pages() {
    let app = TestApp::spawn_with(|s| s.staff_page_size = 2).await;
    let boss = staff(&app, "boss").await;
    create_rooms(&app, &["alpha", "beta", "gamma", "delta-ops"]);
    // Opened by a visit: created by bob, with a message.
    let bob = app.user("bob").await;
    assert_eq!(bob.get("/chat/bobs-room/").await.status(), 200);
    app.store_messages("bobs-room", "bob", ["one", "two"]);
    let out = app.cli(&["room", "create", "secret", "--admin-only"]);
    assert!(out.status.success());

    // By name, two to a page: alpha, beta | bobs-room, delta-ops | gamma, secret.
    let first = read_page(&boss, "/staff/rooms/").await;
    assert!(first.contains("/staff/rooms/alpha/") && first.contains("/staff/rooms/beta/"));
    assert!(!first.contains("/staff/rooms/gamma/"));
    assert!(first.contains("href=\"/staff/rooms/?page=2\""), "a next page");
    let second = read_page(&boss, "/staff/rooms/?page=2").await;
    assert!(second.contains("/staff/rooms/bobs-room/") && second.contains("/staff/rooms/delta-ops/"));
    assert!(second.contains(">bob</a>"), "created by bob");
    let third = read_page(&boss, "/staff/rooms/?page=3").await;
    assert!(third.contains("/staff/rooms/secret/") && third.contains("admin-only"));
    assert!(!third.contains("?page=4"), "the last page");

    // Search: a part of a name, any case.
    let found = read_page(&boss, "/staff/rooms/?q=ELT").await;
    assert!(found.contains("/staff/rooms/delta-ops/"));
    assert!(!found.contains("/staff/rooms/alpha/"));
    let none = read_page(&boss, "/staff/rooms/?q=zzz").await;
    assert!(none.contains("No room matches"));

    // A room's own page.
    let page = read_page(&boss, "/staff/rooms/bobs-room/").await;
    assert!(page.contains("<dt>Messages</dt><dd>2</dd>"), "{page}");
    assert!(page.contains("(owner)"));
    assert_eq!(boss.get("/staff/rooms/nowhere/").await.status(), 404);
}

on_every_backend!(the_user_list_searches_by_name_and_pages_newest_first);
async fn the_user_list_searches_by_name_and_pages_newest_first() {
    let app = TestApp::spawn_with(|s| s.staff_page_size = 2).await;
    let boss = staff(&app, "boss").await;
    for name in ["anna", "bert", "carla"] {
        app.user(name).await;
    }
    let first = read_page(&boss, "/staff/users/").await;
    assert!(first.contains("/staff/users/carla/") && first.contains("/staff/users/bert/"));
    assert!(!first.contains("/staff/users/anna/"));
    let second = read_page(&boss, "/staff/users/?page=2").await;
    assert!(second.contains("/staff/users/anna/") && second.contains("/staff/users/boss/"));
    assert!(second.contains("badge-staff"));
    let found = read_page(&boss, "/staff/users/?q=ER").await;
    assert!(found.contains("/staff/users/bert/"));
    assert!(!found.contains("/staff/users/anna/"));

    // A user's page lists their latest messages in rooms, not in direct
    // conversations.
    create_rooms(&app, &["lobby"]);
    app.store_messages("lobby", "bert", ["bert says hi"]);
    app.database()
        .run_here(|c| {
            let bert = users::by_username(c, "bert")?.unwrap();
            let anna = users::by_username(c, "anna")?.unwrap();
            let dm = queries::rooms::direct(c, bert.id, anna.id)?;
            queries::messages::insert(c, dm.id, bert.id, "private words", queries::now(), None)?;
            Ok(())
        })
        .unwrap();
    let page = read_page(&boss, "/staff/users/bert/").await;
    assert!(page.contains("bert says hi"));
    assert!(!page.contains("private words"));
    assert!(page.contains("/chat/lobby/?around="));
    assert_eq!(boss.get("/staff/users/nobody/").await.status(), 404);
}

on_every_backend!(message_search_covers_every_room_but_no_direct_conversation);
async fn message_search_covers_every_room_but_no_direct_conversation() {
    let app = TestApp::spawn_with(|s| s.staff_page_size = 2).await;
    let boss = staff(&app, "boss").await;
    app.user("bob").await;
    app.user("carol").await;
    create_rooms(&app, &["lobby"]);
    assert!(app.cli(&["room", "create", "ops", "--admin-only"]).status.success());
    let lobby = app.store_messages("lobby", "bob", ["cheap pills here", "hello all"]);
    let ops = app.store_messages("ops", "bob", ["cheap pills in ops"]);
    app.database()
        .run_here(|c| {
            let bob = users::by_username(c, "bob")?.unwrap();
            let carol = users::by_username(c, "carol")?.unwrap();
            let dm = queries::rooms::direct(c, bob.id, carol.id)?;
            queries::messages::insert(c, dm.id, bob.id, "cheap pills for you", queries::now(), None)?;
            // Even the searcher's own conversations stay out of it.
            let me = users::by_username(c, "boss")?.unwrap();
            let mine = queries::rooms::direct(c, me.id, carol.id)?;
            queries::messages::insert(c, mine.id, me.id, "cheap pills joke", queries::now(), None)?;
            Ok(())
        })
        .unwrap();

    let page = read_page(&boss, "/staff/messages/?q=cheap+pills").await;
    assert!(page.contains(&format!("/chat/ops/?around={}", ops[0])), "admin-only rooms too");
    assert!(page.contains(&format!("/chat/lobby/?around={}", lobby[0])));
    assert!(!page.contains("for you") && !page.contains("joke"), "no direct conversation");
    assert!(!page.contains("Older results"), "two results, one page");
    assert!(page.contains("name=\"back\" value=\"/staff/messages/?q=cheap+pills\""));

    // Paged, newest first; filters work as in the team chat's search.
    let page = read_page(&boss, "/staff/messages/?q=from:bob").await;
    assert!(page.contains("cheap pills in ops") && page.contains("hello all"));
    assert!(!page.contains("cheap pills here"));
    assert!(page.contains("Older results"));
    let page = read_page(&boss, "/staff/messages/?q=in:@carol").await;
    assert!(page.contains("does not search direct conversations"), "{page}");
}

on_every_backend!(the_report_queue_shows_each_message_in_its_context);
async fn the_report_queue_shows_each_message_in_its_context() {
    let app = TestApp::spawn().await;
    let boss = staff(&app, "boss").await;
    app.user("bob").await;
    app.user("carol").await;
    create_rooms(&app, &["lobby"]);
    let ids = app.store_messages(
        "lobby",
        "bob",
        ["first", "second", "third", "the bad one", "fifth", "sixth", "seventh"],
    );
    let later = app.store_messages("lobby", "bob", ["later bad"]);
    let report = file_report(&app, ids[3], "carol", "rude words");
    file_report(&app, later[0], "carol", "also rude");

    let page = read_page(&boss, "/staff/reports/").await;
    // Oldest first, with two messages on each side, not more.
    let first = page.find("rude words").unwrap();
    let second = page.find("also rude").unwrap();
    assert!(first < second, "oldest first");
    let card = &page[..second];
    for shown in ["second", "third", "the bad one", "fifth", "sixth"] {
        assert!(card.contains(shown), "{shown} in context");
    }
    assert!(!card.contains(">first<") && !card.contains("seventh"));
    assert!(page.contains("Reported by <a href=\"/staff/users/carol/\">carol</a>"));
    assert!(page.contains(&format!("action=\"/staff/reports/{report}/\"")));
    assert!(page.contains(&format!("/chat/lobby/?around={}", ids[3])));

    let resolved = read_page(&boss, "/staff/reports/resolved/").await;
    assert!(resolved.contains("No resolved reports yet"));
    let overview = read_page(&boss, "/staff/").await;
    assert!(overview.contains("<span class=\"staff-stat-number\">2</span>"));
}
