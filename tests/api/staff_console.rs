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
pub(crate) fn file_report(app: &TestApp, id: i64, reporter: &str, reason: &str) -> i32 {
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
    (
        "/staff/rooms/",
        &[("name", "new-room"), ("access", "public")],
    ),
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
        assert!(
            body.contains("The staff console is for staff only."),
            "{page}"
        );
    }
    // A member's forms are refused before anything is read, token or not.
    let before = audit_rows(&app).len();
    let token = member.csrf_token("/chat/").await;
    for (path, fields) in FORMS {
        let mut all = vec![("csrf_token", token.as_str())];
        all.extend_from_slice(fields);
        assert_eq!(
            member.post_form(path, &all).await.status(),
            403,
            "POST {path}"
        );
    }
    assert_eq!(audit_rows(&app).len(), before, "nothing was done");

    // Only staff see the header's link to the console.
    assert!(
        read_page(&boss, "/chat/")
            .await
            .contains("href=\"/staff/\"")
    );
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
    assert!(
        first.contains("href=\"/staff/rooms/?page=2\""),
        "a next page"
    );
    let second = read_page(&boss, "/staff/rooms/?page=2").await;
    assert!(
        second.contains("/staff/rooms/bobs-room/") && second.contains("/staff/rooms/delta-ops/")
    );
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
    assert!(
        app.cli(&["room", "create", "ops", "--admin-only"])
            .status
            .success()
    );
    let lobby = app.store_messages("lobby", "bob", ["cheap pills here", "hello all"]);
    let ops = app.store_messages("ops", "bob", ["cheap pills in ops"]);
    app.database()
        .run_here(|c| {
            let bob = users::by_username(c, "bob")?.unwrap();
            let carol = users::by_username(c, "carol")?.unwrap();
            let dm = queries::rooms::direct(c, bob.id, carol.id)?;
            queries::messages::insert(
                c,
                dm.id,
                bob.id,
                "cheap pills for you",
                queries::now(),
                None,
            )?;
            // Even the searcher's own conversations stay out of it.
            let me = users::by_username(c, "boss")?.unwrap();
            let mine = queries::rooms::direct(c, me.id, carol.id)?;
            queries::messages::insert(c, mine.id, me.id, "cheap pills joke", queries::now(), None)?;
            Ok(())
        })
        .unwrap();

    let page = read_page(&boss, "/staff/messages/?q=cheap+pills").await;
    assert!(
        page.contains(&format!("/chat/ops/?around={}", ops[0])),
        "admin-only rooms too"
    );
    assert!(page.contains(&format!("/chat/lobby/?around={}", lobby[0])));
    assert!(
        !page.contains("for you") && !page.contains("joke"),
        "no direct conversation"
    );
    assert!(!page.contains("Older results"), "two results, one page");
    assert!(page.contains("name=\"back\" value=\"/staff/messages/?q=cheap+pills\""));

    // Paged, newest first; filters work as in the team chat's search.
    let page = read_page(&boss, "/staff/messages/?q=from:bob").await;
    assert!(page.contains("cheap pills in ops") && page.contains("hello all"));
    assert!(!page.contains("cheap pills here"));
    assert!(page.contains("Older results"));
    let page = read_page(&boss, "/staff/messages/?q=in:@carol").await;
    assert!(
        page.contains("does not search direct conversations"),
        "{page}"
    );
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
        [
            "first",
            "second",
            "third",
            "the bad one",
            "fifth",
            "sixth",
            "seventh",
        ],
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

/// The room `name` as stored.
fn room_row(app: &TestApp, name: &str) -> Option<confab::db::models::Room> {
    app.database()
        .run_here(|c| queries::rooms::by_name(c, name))
        .unwrap()
}

/// The account `name` as stored.
fn user_row(app: &TestApp, name: &str) -> confab::db::models::User {
    app.database()
        .run_here(|c| users::by_username(c, name))
        .unwrap()
        .unwrap()
}

/// The last audit entry, which must be `action` by `actor` on `target`.
fn assert_audited(app: &TestApp, actor: &str, action: &str, target: &str) {
    let rows = audit_rows(app);
    let last = rows.last().expect("an audit entry");
    assert_eq!(
        (last.0.as_str(), last.1.as_str(), last.2.as_str()),
        (actor, action, target),
        "the audit log's last entry"
    );
}

on_every_backend!(room_forms_perform_each_action_and_log_it);
async fn room_forms_perform_each_action_and_log_it() {
    let app = TestApp::spawn().await;
    let boss = staff(&app, "boss").await;
    app.user("mod").await;

    // Create, private.
    let (to, page) = submit_and_follow(
        &boss,
        "/staff/rooms/",
        "/staff/rooms/",
        &[("name", "plans"), ("access", "private")],
    )
    .await;
    assert_eq!(to, "/staff/rooms/plans/");
    assert_eq!(
        flash(&page).as_deref(),
        Some("Created the private room #plans.")
    );
    assert!(room_row(&app, "plans").unwrap().invite_only);
    assert_audited(&app, "boss", "room.create", "plans");

    // A bad name is refused, and the form shows what was typed.
    let (to, page) = submit_and_follow(
        &boss,
        "/staff/rooms/",
        "/staff/rooms/",
        &[("name", "no spaces"), ("access", "public")],
    )
    .await;
    assert_eq!(to, "/staff/rooms/");
    assert!(page.contains("class=\"alert alert-error\""), "an error");
    assert!(
        page.contains("value=\"no spaces\""),
        "the name typed is kept"
    );
    // Taken.
    let (_, page) = submit_and_follow(
        &boss,
        "/staff/rooms/",
        "/staff/rooms/",
        &[("name", "plans"), ("access", "public")],
    )
    .await;
    assert!(page.contains("alert-error") && page.contains("value=\"plans\""));

    let here = "/staff/rooms/plans/";
    let act = |fields: &'static [(&'static str, &'static str)]| {
        let boss = &boss;
        async move { submit_and_follow(boss, here, here, fields).await }
    };
    let (_, page) = act(&[("op", "access"), ("access", "public")]).await;
    assert!(flash(&page).unwrap().starts_with("#plans is now"), "{page}");
    let room = room_row(&app, "plans").unwrap();
    assert!(!room.invite_only && !room.admin_only);
    assert_audited(&app, "boss", "room.access", "plans");

    act(&[("op", "lock")]).await;
    assert!(room_row(&app, "plans").unwrap().locked);
    assert_audited(&app, "boss", "room.lock", "plans");
    let (_, page) = read_page_with_flash(act(&[("op", "unlock")]).await);
    assert_eq!(page.as_deref(), Some("#plans is open for posts again."));
    assert!(!room_row(&app, "plans").unwrap().locked);
    assert_audited(&app, "boss", "room.unlock", "plans");

    act(&[("op", "slow_mode"), ("secs", "30")]).await;
    assert_eq!(room_row(&app, "plans").unwrap().slow_mode_secs, 30);
    assert_audited(&app, "boss", "room.slow_mode", "plans");
    // Not a number: refused, and the number typed is kept.
    let (_, page) = act(&[("op", "slow_mode"), ("secs", "soon")]).await;
    assert!(flash(&page).unwrap().contains("whole number of seconds"));
    assert!(page.contains("value=\"soon\""));
    assert_eq!(room_row(&app, "plans").unwrap().slow_mode_secs, 30);

    act(&[("op", "archive")]).await;
    assert!(room_row(&app, "plans").unwrap().archived_at.is_some());
    assert_audited(&app, "boss", "room.archive", "plans");
    act(&[("op", "unarchive")]).await;
    assert!(room_row(&app, "plans").unwrap().archived_at.is_none());
    assert_audited(&app, "boss", "room.unarchive", "plans");

    let (_, page) = act(&[("op", "moderator_add"), ("user", "mod")]).await;
    assert_eq!(flash(&page).as_deref(), Some("mod now moderates #plans."));
    assert!(page.contains("href=\"/staff/users/mod/\""), "listed");
    assert_audited(&app, "boss", "room.moderator_add", "mod");
    act(&[("op", "moderator_remove"), ("user", "mod")]).await;
    assert_audited(&app, "boss", "room.moderator_remove", "mod");
    let (_, page) = act(&[("op", "moderator_add"), ("user", "nobody")]).await;
    assert!(page.contains("alert-error") && page.contains("value=\"nobody\""));

    // Renamed: the page moves with it.
    let (to, page) = act(&[("op", "rename"), ("to", "roadmap")]).await;
    assert_eq!(to, "/staff/rooms/roadmap/");
    assert!(
        flash(&page)
            .unwrap()
            .starts_with("Renamed #plans to #roadmap")
    );
    assert!(room_row(&app, "plans").is_none() && room_row(&app, "roadmap").is_some());
    let rows = audit_rows(&app);
    let last = rows.last().unwrap();
    assert_eq!((last.0.as_str(), last.1.as_str()), ("boss", "room.rename"));
}

/// The flash message of a followed redirect.
fn read_page_with_flash((to, page): (String, String)) -> (String, Option<String>) {
    (to, flash(&page))
}

on_every_backend!(deleting_a_room_first_says_what_goes_with_it);
async fn deleting_a_room_first_says_what_goes_with_it() {
    let app = TestApp::spawn().await;
    let boss = staff(&app, "boss").await;
    let bob = app.user("bob").await;
    app.user("carol").await;
    assert_eq!(bob.get("/chat/old/").await.status(), 200);
    let ids = app.store_messages("old", "bob", ["one", "two", "three"]);
    app.database()
        .run_here(|c| {
            let room = queries::rooms::by_name(c, "old")?.unwrap();
            for name in ["bob", "carol"] {
                let user = users::by_username(c, name)?.unwrap();
                queries::memberships::join(c, user.id, room.id, queries::now())?;
                queries::reactions::toggle(
                    c,
                    confab::domain::MessageId(ids[0]),
                    user.id,
                    "👍",
                    queries::now(),
                    20,
                )?;
            }
            Ok(())
        })
        .unwrap();

    let question =
        "Delete #old and its 3 messages, 2 reactions, 2 memberships? This cannot be undone.";
    assert!(
        read_page(&boss, "/staff/rooms/old/")
            .await
            .contains(question)
    );
    let confirm = read_page(&boss, "/staff/rooms/old/delete/").await;
    assert!(confirm.contains(question), "{confirm}");
    assert!(room_row(&app, "old").is_some(), "asking deletes nothing");

    let (to, page) = submit_and_follow(
        &boss,
        "/staff/rooms/old/delete/",
        "/staff/rooms/old/delete/",
        &[],
    )
    .await;
    assert_eq!(to, "/staff/rooms/");
    assert_eq!(
        flash(&page).as_deref(),
        Some("Deleted #old: 3 messages, 2 reactions, 2 members.")
    );
    assert!(room_row(&app, "old").is_none());
    assert_audited(&app, "boss", "room.delete", "old");
    assert_eq!(boss.get("/staff/rooms/old/").await.status(), 404);
}

on_every_backend!(user_forms_perform_each_action_and_log_it);
async fn user_forms_perform_each_action_and_log_it() {
    let app = TestApp::spawn().await;
    let boss = staff(&app, "boss").await;
    let bob = app.user("bob").await;
    let here = "/staff/users/bob/";

    let (_, page) = submit_and_follow(&boss, here, here, &[("op", "promote")]).await;
    assert_eq!(flash(&page).as_deref(), Some("bob is now staff."));
    assert!(user_row(&app, "bob").is_staff);
    assert_eq!(bob.get("/staff/").await.status(), 200, "at once");
    assert_audited(&app, "boss", "user.promote", "bob");
    submit_and_follow(&boss, here, here, &[("op", "demote")]).await;
    assert!(!user_row(&app, "bob").is_staff);
    assert_eq!(bob.get("/staff/").await.status(), 403, "at once");
    assert_audited(&app, "boss", "user.demote", "bob");

    // Ending the sessions signs bob out everywhere.
    assert_eq!(bob.get("/chat/").await.status(), 200);
    let (_, page) = submit_and_follow(&boss, here, here, &[("op", "end_sessions")]).await;
    assert_eq!(flash(&page).as_deref(), Some("Ended 1 session of bob."));
    assert_eq!(bob.get("/chat/").await.status(), 302, "signed out");
    assert_audited(&app, "boss", "user.end_sessions", "bob");

    // A new password: refused when the two differ (and neither is kept),
    // else set, and bob must change it.
    let (_, page) = submit_and_follow(
        &boss,
        here,
        here,
        &[
            ("op", "set_password"),
            ("password", "zebra crossing 42"),
            ("password2", "another one"),
        ],
    )
    .await;
    assert!(flash(&page).unwrap().contains("do not match"));
    assert!(!page.contains("zebra crossing 42"));
    let (_, page) = submit_and_follow(
        &boss,
        here,
        here,
        &[
            ("op", "set_password"),
            ("password", "a new password"),
            ("password2", "a new password"),
        ],
    )
    .await;
    assert!(
        flash(&page).is_some() && !page.contains("alert-error"),
        "{page}"
    );
    assert!(user_row(&app, "bob").must_change_password);
    assert_audited(&app, "boss", "user.set_password", "bob");
    let again = app.browser();
    let res = again.login("bob", "a new password", "/chat/").await;
    assert_eq!(res.status(), 303, "the new password works");
    assert_eq!(
        res.headers()["location"],
        "/accounts/password/",
        "and bob must choose his own"
    );
    assert_eq!(
        again.get("/chat/").await.headers()["location"],
        "/accounts/password/"
    );

    // Deactivated with a reason, then reactivated.
    let (_, page) = submit_and_follow(
        &boss,
        here,
        here,
        &[("op", "deactivate"), ("reason", "spam account")],
    )
    .await;
    assert!(flash(&page).unwrap().starts_with("bob is deactivated"));
    assert!(user_row(&app, "bob").deactivated_at.is_some());
    assert_eq!(
        again.get("/accounts/password/").await.status(),
        302,
        "signed out"
    );
    let refused = again.login("bob", "a new password", "/chat/").await;
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("This account is deactivated.")
    );
    let rows = audit_rows(&app);
    let last = rows.last().unwrap();
    assert_eq!(
        (
            last.0.as_str(),
            last.1.as_str(),
            last.2.as_str(),
            last.4.as_str()
        ),
        ("boss", "user.deactivate", "bob", "spam account")
    );
    assert!(page.contains("Reactivate bob"));
    submit_and_follow(&boss, here, here, &[("op", "reactivate")]).await;
    assert!(user_row(&app, "bob").deactivated_at.is_none());
    assert_audited(&app, "boss", "user.reactivate", "bob");
    let res = app.browser().login("bob", "a new password", "/chat/").await;
    assert_eq!(res.status(), 303, "may log in again");

    // A reason longer than allowed is refused, and kept for the form.
    let long = "x".repeat(501);
    let (_, page) = submit_and_follow(
        &boss,
        here,
        here,
        &[("op", "deactivate"), ("reason", &long)],
    )
    .await;
    assert!(flash(&page).unwrap().contains("at most 500"));
    assert!(page.contains(&long), "kept");
    assert!(user_row(&app, "bob").deactivated_at.is_none());
}

on_every_backend!(sanctions_show_on_the_users_page_and_lift_from_there);
async fn sanctions_show_on_the_users_page_and_lift_from_there() {
    let app = TestApp::spawn().await;
    let boss = staff(&app, "boss").await;
    app.user("bob").await;
    create_rooms(&app, &["lobby"]);
    for args in [
        ["room", "mute", "lobby", "bob", "--reason", "shouting"].as_slice(),
        ["room", "ban", "lobby", "bob"].as_slice(),
    ] {
        let out = app.cli(args);
        assert!(out.status.success(), "{args:?}: {out:?}");
    }
    let page = read_page(&boss, "/staff/users/bob/").await;
    assert!(page.contains("shouting") && page.contains("Unmute") && page.contains("Unban"));
    let room_page = read_page(&boss, "/staff/rooms/lobby/").await;
    assert!(
        room_page.contains("shouting"),
        "the room's page lists them too"
    );

    let here = "/staff/users/bob/";
    let (_, page) =
        submit_and_follow(&boss, here, here, &[("op", "unmute"), ("room", "lobby")]).await;
    assert_eq!(
        flash(&page).as_deref(),
        Some("bob may post in #lobby again.")
    );
    assert_audited(&app, "boss", "user.unmute", "bob");
    let (_, page) = submit_and_follow(
        &boss,
        "/staff/rooms/lobby/",
        "/staff/rooms/lobby/",
        &[("op", "unban"), ("user", "bob")],
    )
    .await;
    assert_eq!(flash(&page).as_deref(), Some("bob may enter #lobby again."));
    assert_audited(&app, "boss", "user.unban", "bob");
    assert!(page.contains("Nobody is muted or banned here."));
}

on_every_backend!(a_message_is_deleted_with_its_reason_and_the_page_comes_back);
async fn a_message_is_deleted_with_its_reason_and_the_page_comes_back() {
    let app = TestApp::spawn().await;
    let boss = staff(&app, "boss").await;
    app.user("bob").await;
    create_rooms(&app, &["lobby"]);
    let ids = app.store_messages("lobby", "bob", ["buy cheap pills", "hello"]);
    let from = "/staff/messages/?q=pills";
    let id = ids[0].to_string();
    let (to, page) = submit_and_follow(
        &boss,
        from,
        "/staff/messages/delete/",
        &[("id", &id), ("reason", "spam"), ("back", from)],
    )
    .await;
    assert_eq!(to, from, "back to the same search");
    assert_eq!(
        flash(&page).as_deref(),
        Some(format!("Deleted message {id} by bob in #lobby.").as_str())
    );
    assert!(page.contains("No messages match"));
    let rows = audit_rows(&app);
    let last = rows.last().unwrap();
    assert_eq!(
        (
            last.0.as_str(),
            last.1.as_str(),
            last.2.clone(),
            last.3.as_deref(),
            last.4.as_str()
        ),
        (
            "boss",
            "message.delete",
            format!("message {id}"),
            Some("lobby"),
            "spam"
        )
    );
    // A form cannot send the browser out of the console.
    let res = submit(
        &boss,
        from,
        "/staff/messages/delete/",
        &[
            ("id", &ids[1].to_string()),
            ("back", "https://evil.example/"),
        ],
    )
    .await;
    assert_eq!(res.headers()["location"], "/staff/");
}

on_every_backend!(a_bulk_delete_counts_first_then_removes_that_users_recent_messages_only);
async fn a_bulk_delete_counts_first_then_removes_that_users_recent_messages_only() {
    let app = TestApp::spawn().await;
    let boss = staff(&app, "boss").await;
    app.user("spammer").await;
    app.user("carol").await;
    create_rooms(&app, &["lobby", "ops"]);
    let recent = [
        app.store_messages("lobby", "spammer", ["spam 1", "spam 2"]),
        app.store_messages("ops", "spammer", ["spam 3"]),
    ]
    .concat();
    let carols = app.store_messages("lobby", "carol", ["carol stays"]);
    // Older than the hours asked for, and in a direct conversation: kept.
    let (old, direct) = app
        .database()
        .run_here(|c| {
            let spammer = users::by_username(c, "spammer")?.unwrap();
            let carol = users::by_username(c, "carol")?.unwrap();
            let lobby = queries::rooms::by_name(c, "lobby")?.unwrap();
            let three_hours_ago = queries::now() - chrono::TimeDelta::hours(3);
            let old =
                queries::messages::insert(c, lobby.id, spammer.id, "old", three_hours_ago, None)?;
            let dm = queries::rooms::direct(c, spammer.id, carol.id)?;
            let direct =
                queries::messages::insert(c, dm.id, spammer.id, "hi carol", queries::now(), None)?;
            Ok((old.id.0, direct.id.0))
        })
        .unwrap();

    // Too far back: refused, and the form keeps what was typed.
    let (_, page) = submit_and_follow(
        &boss,
        "/staff/messages/",
        "/staff/messages/bulk/",
        &[
            ("user", "spammer"),
            ("hours", "100000"),
            ("reason", "spam wave"),
        ],
    )
    .await;
    assert!(flash(&page).unwrap().contains("from 1 to 168"), "{page}");
    assert!(page.contains("value=\"spammer\"") && page.contains("value=\"spam wave\""));

    // First the count, nothing deleted.
    let token = boss.csrf_token("/staff/messages/").await;
    let res = boss
        .post_form(
            "/staff/messages/bulk/",
            &[
                ("csrf_token", &token),
                ("user", "spammer"),
                ("hours", "1"),
                ("reason", "spam wave"),
            ],
        )
        .await;
    assert_eq!(res.status(), 200);
    let confirm = unescape(&res.text().await.unwrap());
    assert!(
        confirm.contains("Delete the 3 messages spammer posted in the last hour, in every room?"),
        "{confirm}"
    );
    assert!(confirm.contains("name=\"confirm\" value=\"yes\""));
    let live = |id: i64| {
        use confab::db::schema::messages;
        app.database()
            .run_here(|c| {
                Ok(messages::table
                    .find(id)
                    .select(messages::deleted_at)
                    .first::<Option<chrono::NaiveDateTime>>(c)?)
            })
            .unwrap()
            .is_none()
    };
    assert!(recent.iter().all(|&id| live(id)), "asking deletes nothing");

    // Confirmed.
    let (_, page) = submit_and_follow(
        &boss,
        "/staff/messages/",
        "/staff/messages/bulk/",
        &[
            ("user", "spammer"),
            ("hours", "1"),
            ("reason", "spam wave"),
            ("confirm", "yes"),
        ],
    )
    .await;
    assert!(
        flash(&page).unwrap().starts_with("Deleted 3 messages"),
        "{page}"
    );
    assert!(recent.iter().all(|&id| !live(id)));
    assert!(
        live(carols[0]) && live(old) && live(direct),
        "only the right ones"
    );
    let rows = audit_rows(&app);
    let last = rows.last().unwrap();
    assert_eq!(
        (
            last.0.as_str(),
            last.1.as_str(),
            last.2.as_str(),
            last.4.as_str()
        ),
        ("boss", "message.bulk_delete", "spammer", "spam wave")
    );

    // Nothing left: the confirmation says so, and offers no button.
    let res = boss
        .post_form(
            "/staff/messages/bulk/",
            &[
                ("csrf_token", &token),
                ("user", "spammer"),
                ("hours", "1"),
                ("reason", ""),
            ],
        )
        .await;
    let page = unescape(&res.text().await.unwrap());
    assert!(page.contains("spammer posted nothing in the last hour"));
    assert!(!page.contains("name=\"confirm\""));
}

on_every_backend!(each_answer_to_a_report_acts_then_resolves_it);
async fn each_answer_to_a_report_acts_then_resolves_it() {
    let app = TestApp::spawn().await;
    let boss = staff(&app, "boss").await;
    for name in ["bob", "carol", "dave"] {
        app.user(name).await;
    }
    create_rooms(&app, &["lobby"]);
    let ids = app.store_messages("lobby", "bob", ["rude 1", "rude 2", "rude 3", "fine"]);
    let deleted = file_report(&app, ids[0], "carol", "insult");
    // Two reports of one message are answered together.
    let muted = file_report(&app, ids[1], "carol", "more insults");
    let muted_too = file_report(&app, ids[1], "dave", "agreed");
    let banned = file_report(&app, ids[2], "carol", "threat");
    let dismissed = file_report(&app, ids[3], "dave", "don't like it");

    let answer = |id: i32, fields: Vec<(&'static str, &'static str)>| {
        let boss = &boss;
        async move {
            submit_and_follow(
                boss,
                "/staff/reports/",
                &format!("/staff/reports/{id}/"),
                &fields,
            )
            .await
        }
    };
    let resolution = |id: i32| {
        use confab::db::schema::reports;
        app.database()
            .run_here(|c| {
                Ok(reports::table
                    .find(id)
                    .select((reports::resolution, reports::resolved_by))
                    .first::<(Option<String>, Option<i32>)>(c)?)
            })
            .unwrap()
    };
    let boss_id = user_row(&app, "boss").id.0;

    let (to, page) = answer(deleted, vec![("op", "delete"), ("reason", "insults")]).await;
    assert_eq!(to, "/staff/reports/");
    let said = flash(&page).unwrap();
    assert!(
        said.starts_with(&format!("Deleted message {} by bob", ids[0])),
        "{said}"
    );
    assert!(
        said.contains(&format!("Report {deleted} is closed")),
        "{said}"
    );
    assert_eq!(resolution(deleted), (Some("deleted".into()), Some(boss_id)));

    let (_, page) = answer(
        muted,
        vec![("op", "mute"), ("minutes", "60"), ("reason", "cool off")],
    )
    .await;
    assert!(
        flash(&page)
            .unwrap()
            .starts_with("bob is muted in #lobby for 1 hour"),
        "{page}"
    );
    assert_eq!(resolution(muted).0.as_deref(), Some("muted"));
    assert_eq!(
        resolution(muted_too).0.as_deref(),
        Some("muted"),
        "answered together"
    );
    assert!(!page.contains("more insults"), "gone from the queue");

    let (_, page) = answer(banned, vec![("op", "ban"), ("reason", "threats")]).await;
    assert!(flash(&page).unwrap().contains("bob is banned"), "{page}");
    assert_eq!(resolution(banned).0.as_deref(), Some("banned"));

    let (_, page) = answer(dismissed, vec![("op", "dismiss")]).await;
    assert!(
        flash(&page)
            .unwrap()
            .contains(&format!("Report {dismissed} is closed: dismissed"))
    );
    assert_eq!(resolution(dismissed).0.as_deref(), Some("dismissed"));
    assert!(page.contains("No open reports"));

    // Answering again is refused with a sentence.
    let (_, page) = answer(dismissed, vec![("op", "dismiss")]).await;
    assert!(
        flash(&page)
            .unwrap()
            .contains("handled that report already")
    );

    // Each action and each resolution is in the audit log.
    let actions: Vec<(String, String)> = audit_rows(&app)
        .into_iter()
        .filter(|r| r.0 == "boss")
        .map(|r| (r.1, r.4))
        .collect();
    let expected: Vec<(String, String)> = [
        ("message.delete", "insults"),
        ("report.resolve", ""),
        ("user.mute", "cool off"),
        ("report.resolve", ""),
        ("user.ban", "threats"),
        ("report.resolve", ""),
        ("report.resolve", ""),
    ]
    .iter()
    .map(|(a, r)| ((*a).to_owned(), (*r).to_owned()))
    .collect();
    assert_eq!(actions, expected);

    let resolved = read_page(&boss, "/staff/reports/resolved/").await;
    for reason in [
        "insult",
        "more insults",
        "agreed",
        "threat",
        "don't like it",
    ] {
        assert!(resolved.contains(reason), "{reason} listed as resolved");
    }
    assert!(resolved.contains("by <a href=\"/staff/users/boss/\">boss</a>"));
}

on_every_backend!(the_audit_log_filters_and_pages_and_offers_no_way_to_change_it);
async fn the_audit_log_filters_and_pages_and_offers_no_way_to_change_it() {
    let app = TestApp::spawn_with(|s| s.staff_page_size = 2).await;
    let boss = staff(&app, "boss").await;
    app.user("bob").await;
    create_rooms(&app, &["lobby", "ops"]);
    let lobby = "/staff/rooms/lobby/";
    submit_and_follow(&boss, lobby, lobby, &[("op", "lock")]).await;
    submit_and_follow(&boss, lobby, lobby, &[("op", "unlock")]).await;
    let ops = "/staff/rooms/ops/";
    submit_and_follow(&boss, ops, ops, &[("op", "lock")]).await;
    let bob = "/staff/users/bob/";
    submit_and_follow(&boss, bob, bob, &[("op", "promote")]).await;

    // Newest first, two to a page, with a link to older ones.
    let page = read_page(&boss, "/staff/audit/").await;
    let table = &page[page.find("<tbody>").unwrap()..];
    let promote = table.find("user.promote").unwrap();
    let lock = table.find("room.lock").unwrap();
    assert!(promote < lock, "newest first");
    assert!(!table.contains("room.unlock"), "on the next page");
    let next = page
        .split("href=\"")
        .find_map(|s| {
            s.starts_with("/staff/audit/?before=")
                .then(|| s[..s.find('"').unwrap()].to_owned())
        })
        .expect("a link to older entries");
    let older = read_page(&boss, &next).await;
    assert!(older.contains("<code>room.unlock</code>"));

    let page = read_page(&boss, "/staff/audit/?actor=boss&action=room.lock").await;
    assert!(
        page.contains("<td data-label=\"Whom\">ops</td>")
            && page.contains("<td data-label=\"Whom\">lobby</td>")
    );
    assert!(
        !page.contains("<code>room.unlock</code>") && !page.contains("<code>user.promote</code>")
    );
    let page = read_page(&boss, "/staff/audit/?action=user.").await;
    assert!(page.contains("<code>user.promote</code>") && !page.contains("<code>room.lock</code>"));
    let page = read_page(&boss, "/staff/audit/?q=OPS").await;
    assert!(page.contains("<td data-label=\"Whom\">ops</td>"));
    assert!(!page.contains("<td data-label=\"Whom\">lobby</td>"));
    let page = read_page(&boss, "/staff/audit/?actor=nobody").await;
    assert!(page.contains("No entry matches these filters"));
    let page = read_page(&boss, "/staff/audit/?since=2999-01-01").await;
    assert!(page.contains("No entry matches"));
    let page = read_page(&boss, "/staff/audit/?since=yesterday").await;
    assert!(page.contains("is not a day"));

    // Read only: no form on the page posts anywhere.
    let page = read_page(&boss, "/staff/audit/").await;
    assert!(
        !page.contains("method=\"post\" action=\"/staff/"),
        "no form changes the log"
    );
    assert_eq!(
        submit(&boss, "/staff/audit/", "/staff/audit/", &[])
            .await
            .status(),
        404,
        "nothing answers a POST"
    );
}
