//! Moderation from inside a room, over HTTP (issue 14): the room page's
//! fetch to `/chat/<room>/moderate/` and `/chat/<room>/report/` (JSON
//! answers with typed codes), the settings page's forms (303 back with a
//! flash line) and the settings page itself, by the room's owner, its
//! moderators, plain members and staff.
//!
//! What the actions do to open sockets is tested in moderation_sockets.rs;
//! here, what the requests answer and what they change in the database.

use crate::common::{Browser, TestApp, csrf_from};
use confab::db::models::{AuditEntry, Room};
use confab::db::queries::moderation::{SanctionKind, active_sanction};
use confab::db::queries::{self, memberships, rooms, users};
use confab::db::schema::{audit_log, reports};
use diesel::prelude::*;
use serde_json::Value;

/// A signed-in person and their session's CSRF token.
struct Person {
    browser: Browser,
    token: String,
}

impl Person {
    /// A new account, signed in.
    async fn new(app: &TestApp, name: &str) -> Person {
        let browser = app.user(name).await;
        let token = browser.csrf_token("/chat/").await;
        Person { browser, token }
    }

    /// A new account, made staff by the CLI.
    async fn staff(app: &TestApp, name: &str) -> Person {
        let person = Person::new(app, name).await;
        assert!(app.cli(&["user", "promote", name]).status.success());
        person
    }

    /// A POST as the room page's fetch sends it: the form, the token in
    /// `X-CSRF-Token`, JSON asked for. The status and the JSON answer.
    async fn fetch(
        &self,
        app: &TestApp,
        path: &str,
        token: Option<&str>,
        fields: &[(&str, &str)],
    ) -> (u16, Value) {
        let mut request = self
            .browser
            .http
            .post(app.url(path))
            .header("Accept", "application/json")
            .form(fields);
        if let Some(token) = token {
            request = request.header("X-CSRF-Token", token);
        }
        let response = request.send().await.expect("POST");
        let status = response.status().as_u16();
        let text = response.text().await.expect("body");
        let body = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{path} answered {status} without JSON ({e}): {text}"));
        (status, body)
    }

    /// `fields` posted to `room`'s `/moderate/` as fetch does.
    async fn moderate(&self, app: &TestApp, room: &str, fields: &[(&str, &str)]) -> (u16, Value) {
        let path = format!("/chat/{room}/moderate/");
        self.fetch(app, &path, Some(&self.token), fields).await
    }

    /// The action succeeds; its sentence.
    async fn does(&self, app: &TestApp, room: &str, fields: &[(&str, &str)]) -> String {
        let (status, body) = self.moderate(app, room, fields).await;
        assert_eq!(
            (status, &body["ok"]),
            (200, &Value::Bool(true)),
            "{fields:?}: {body}"
        );
        sentence(&body["message"])
    }

    /// The action is refused with `status` and `code`; its sentence.
    async fn is_refused(
        &self,
        app: &TestApp,
        room: &str,
        fields: &[(&str, &str)],
        status: u16,
        code: &str,
    ) -> String {
        let (got, body) = self.moderate(app, room, fields).await;
        assert_eq!(
            (got, body["error"]["code"].as_str()),
            (status, Some(code)),
            "{fields:?}: {body}"
        );
        sentence(&body["error"]["message"])
    }

    /// Reports message `id` of `room` as fetch does.
    async fn report(&self, app: &TestApp, room: &str, id: i64, reason: &str) -> (u16, Value) {
        let path = format!("/chat/{room}/report/");
        let id = id.to_string();
        self.fetch(
            app,
            &path,
            Some(&self.token),
            &[("message_id", &id), ("reason", reason)],
        )
        .await
    }

    /// A settings form as a browser posts it: the token in the form, no
    /// JSON asked for.
    async fn submit(&self, room: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let mut form = vec![("csrf_token", self.token.as_str())];
        form.extend_from_slice(fields);
        self.browser
            .post_form(&format!("/chat/{room}/moderate/"), &form)
            .await
    }

    /// The settings page of `room`: status and body.
    async fn settings(&self, room: &str) -> (u16, String) {
        let response = self.browser.get(&format!("/chat/{room}/settings/")).await;
        let status = response.status().as_u16();
        (status, response.text().await.expect("body"))
    }
}

/// A message sentence from the server: text that ends like a sentence.
fn sentence(value: &Value) -> String {
    let text = value.as_str().unwrap_or_default().to_owned();
    assert!(
        text.len() > 5 && text.ends_with(['.', '!', ')']),
        "not a sentence: {value}"
    );
    text
}

/// `owner` opens `room` (creating it: they own it) and appoints `moderator`.
async fn room_with_moderator(app: &TestApp, owner: &Person, room: &str, moderator: &str) {
    assert_eq!(
        owner.browser.get(&format!("/chat/{room}/")).await.status(),
        200
    );
    owner
        .does(
            app,
            room,
            &[("action", "moderator_add"), ("user", moderator)],
        )
        .await;
}

fn room_row(app: &TestApp, name: &str) -> Room {
    app.database()
        .run_here(|c| rooms::by_name(c, name))
        .unwrap()
        .expect("the room exists")
}

/// Whether `user` has a `kind` sanction in force in `room`, and its reason.
fn sanction_of(app: &TestApp, room: &str, user: &str, kind: SanctionKind) -> Option<String> {
    app.database()
        .run_here(|c| {
            let room = rooms::by_name(c, room)?.expect("the room exists");
            let user = users::by_username(c, user)?.expect("the user exists");
            active_sanction(c, room.id, user.id, kind, queries::now())
        })
        .unwrap()
        .map(|s| s.reason)
}

fn is_member(app: &TestApp, room: &str, user: &str) -> bool {
    app.database()
        .run_here(|c| {
            let room = rooms::by_name(c, room)?.expect("the room exists");
            let user = users::by_username(c, user)?.expect("the user exists");
            memberships::is_member(c, user.id, room.id)
        })
        .unwrap()
}

fn audit(app: &TestApp, action: &str) -> Vec<AuditEntry> {
    app.database()
        .run_here(|c| {
            Ok(audit_log::table
                .filter(audit_log::action.eq(action))
                .order(audit_log::id.asc())
                .select(AuditEntry::as_select())
                .load(c)?)
        })
        .unwrap()
}

/// Open (unresolved) reports, and all reports.
fn report_counts(app: &TestApp) -> (i64, i64) {
    app.database()
        .run_here(|c| {
            let open = reports::table
                .filter(reports::resolved_at.is_null())
                .count()
                .get_result(c)?;
            let all = reports::table.count().get_result(c)?;
            Ok((open, all))
        })
        .unwrap()
}

// ---------------------------------------------------------------------
// /moderate/ by role
// ---------------------------------------------------------------------

on_every_backend!(the_owner_appoints_moderators_and_makes_the_room_private);
async fn the_owner_appoints_moderators_and_makes_the_room_private() {
    let app = TestApp::spawn().await;
    let olga = Person::new(&app, "olga").await;
    let mo = Person::new(&app, "mo").await;
    Person::new(&app, "pat").await;
    room_with_moderator(&app, &olga, "garden", "mo").await;

    // A moderator may not appoint or open and close the room: the owner's.
    let said = mo
        .is_refused(
            &app,
            "garden",
            &[("action", "moderator_add"), ("user", "pat")],
            403,
            "forbidden",
        )
        .await;
    assert!(said.contains("owner"), "{said}");
    mo.is_refused(
        &app,
        "garden",
        &[("action", "access"), ("access", "invite_only")],
        403,
        "forbidden",
    )
    .await;
    // Admin-only is staff's.
    olga.is_refused(
        &app,
        "garden",
        &[("action", "access"), ("access", "admin_only")],
        403,
        "forbidden",
    )
    .await;

    olga.does(
        &app,
        "garden",
        &[("action", "access"), ("access", "invite_only")],
    )
    .await;
    assert!(room_row(&app, "garden").invite_only);
    olga.does(
        &app,
        "garden",
        &[("action", "access"), ("access", "public")],
    )
    .await;
    assert!(!room_row(&app, "garden").invite_only);

    olga.does(
        &app,
        "garden",
        &[("action", "moderator_remove"), ("user", "mo")],
    )
    .await;
    // No longer a moderator: refused.
    mo.is_refused(&app, "garden", &[("action", "lock")], 403, "forbidden")
        .await;
    assert_eq!(audit(&app, "room.moderator_add").len(), 1);
    assert_eq!(audit(&app, "room.moderator_remove").len(), 1);
}

on_every_backend!(moderators_mute_kick_and_ban_and_lift_it_again);
async fn moderators_mute_kick_and_ban_and_lift_it_again() {
    let app = TestApp::spawn().await;
    let olga = Person::new(&app, "olga").await;
    let mo = Person::new(&app, "mo").await;
    Person::new(&app, "troll").await;
    room_with_moderator(&app, &olga, "garden", "mo").await;

    let said = mo
        .does(
            &app,
            "garden",
            &[
                ("action", "mute"),
                ("user", "troll"),
                ("minutes", "10"),
                ("reason", "shouting"),
            ],
        )
        .await;
    assert!(
        said.contains("troll") && said.contains("10 minutes"),
        "{said}"
    );
    assert_eq!(
        sanction_of(&app, "garden", "troll", SanctionKind::Mute).as_deref(),
        Some("shouting")
    );
    mo.does(&app, "garden", &[("action", "unmute"), ("user", "troll")])
        .await;
    assert_eq!(
        sanction_of(&app, "garden", "troll", SanctionKind::Mute),
        None
    );

    let said = mo
        .does(
            &app,
            "garden",
            &[
                ("action", "kick"),
                ("user", "troll"),
                ("reason", "cool off"),
            ],
        )
        .await;
    assert!(said.contains("kicked"), "{said}");

    // No minutes: until lifted.
    mo.does(
        &app,
        "garden",
        &[
            ("action", "ban"),
            ("user", "troll"),
            ("minutes", ""),
            ("reason", "spam"),
        ],
    )
    .await;
    assert_eq!(
        sanction_of(&app, "garden", "troll", SanctionKind::Ban).as_deref(),
        Some("spam")
    );
    mo.does(&app, "garden", &[("action", "unban"), ("user", "troll")])
        .await;
    assert_eq!(
        sanction_of(&app, "garden", "troll", SanctionKind::Ban),
        None
    );

    // Never the owner.
    mo.is_refused(
        &app,
        "garden",
        &[("action", "mute"), ("user", "olga")],
        403,
        "forbidden",
    )
    .await;
    // Nobody of that name.
    mo.is_refused(
        &app,
        "garden",
        &[("action", "mute"), ("user", "nobody")],
        404,
        "not_found",
    )
    .await;
    for action in [
        "user.mute",
        "user.unmute",
        "user.kick",
        "user.ban",
        "user.unban",
    ] {
        let entries = audit(&app, action);
        assert_eq!(entries.len(), 1, "{action}");
        assert_eq!(entries[0].actor, "mo");
        assert_eq!(entries[0].room.as_deref(), Some("garden"));
    }
}

on_every_backend!(moderators_lock_the_room_set_slow_mode_and_invite);
async fn moderators_lock_the_room_set_slow_mode_and_invite() {
    let app = TestApp::spawn().await;
    let olga = Person::new(&app, "olga").await;
    let mo = Person::new(&app, "mo").await;
    Person::new(&app, "pat").await;
    room_with_moderator(&app, &olga, "garden", "mo").await;

    mo.does(&app, "garden", &[("action", "lock")]).await;
    assert!(room_row(&app, "garden").locked);
    mo.does(&app, "garden", &[("action", "unlock")]).await;
    assert!(!room_row(&app, "garden").locked);

    mo.does(&app, "garden", &[("action", "slow_mode"), ("secs", "30")])
        .await;
    assert_eq!(room_row(&app, "garden").slow_mode_secs, 30);
    mo.does(&app, "garden", &[("action", "slow_mode"), ("secs", "0")])
        .await;
    assert_eq!(room_row(&app, "garden").slow_mode_secs, 0);

    mo.does(&app, "garden", &[("action", "invite"), ("user", "pat")])
        .await;
    assert!(is_member(&app, "garden", "pat"));
    mo.does(&app, "garden", &[("action", "uninvite"), ("user", "pat")])
        .await;
    assert!(!is_member(&app, "garden", "pat"));
}

on_every_backend!(moderators_delete_messages_of_their_room_only);
async fn moderators_delete_messages_of_their_room_only() {
    let app = TestApp::spawn().await;
    let olga = Person::new(&app, "olga").await;
    let mo = Person::new(&app, "mo").await;
    let pat = Person::new(&app, "pat").await;
    room_with_moderator(&app, &olga, "garden", "mo").await;
    assert_eq!(pat.browser.get("/chat/elsewhere/").await.status(), 200);
    let here = app.store_messages("garden", "pat", ["rude"])[0].to_string();
    let there = app.store_messages("elsewhere", "pat", ["fine"])[0].to_string();

    let said = mo
        .does(
            &app,
            "garden",
            &[
                ("action", "delete_message"),
                ("message_id", &here),
                ("reason", "rude"),
            ],
        )
        .await;
    assert!(said.contains(&here), "{said}");
    // Gone now, and a message of another room is not this room's.
    mo.is_refused(
        &app,
        "garden",
        &[("action", "delete_message"), ("message_id", &here)],
        404,
        "not_found",
    )
    .await;
    mo.is_refused(
        &app,
        "garden",
        &[("action", "delete_message"), ("message_id", &there)],
        404,
        "not_found",
    )
    .await;
    // A member deletes nobody's message through here.
    let other = app.store_messages("garden", "olga", ["hello"])[0].to_string();
    pat.is_refused(
        &app,
        "garden",
        &[("action", "delete_message"), ("message_id", &other)],
        403,
        "forbidden",
    )
    .await;
    assert_eq!(audit(&app, "message.delete").len(), 1);
}

on_every_backend!(members_are_refused_every_action);
async fn members_are_refused_every_action() {
    let app = TestApp::spawn().await;
    let olga = Person::new(&app, "olga").await;
    let pat = Person::new(&app, "pat").await;
    Person::new(&app, "quinn").await;
    assert_eq!(olga.browser.get("/chat/garden/").await.status(), 200);
    let actions: &[&[(&str, &str)]] = &[
        &[("action", "kick"), ("user", "quinn")],
        &[("action", "mute"), ("user", "quinn")],
        &[("action", "unmute"), ("user", "quinn")],
        &[("action", "ban"), ("user", "quinn")],
        &[("action", "unban"), ("user", "quinn")],
        &[("action", "lock")],
        &[("action", "unlock")],
        &[("action", "slow_mode"), ("secs", "10")],
        &[("action", "invite"), ("user", "quinn")],
        &[("action", "uninvite"), ("user", "quinn")],
        &[("action", "moderator_add"), ("user", "quinn")],
        &[("action", "moderator_remove"), ("user", "quinn")],
        &[("action", "access"), ("access", "invite_only")],
    ];
    for fields in actions {
        pat.is_refused(&app, "garden", fields, 403, "forbidden")
            .await;
    }
    let room = room_row(&app, "garden");
    assert!(!room.locked && !room.invite_only && room.slow_mode_secs == 0);
    assert_eq!(
        sanction_of(&app, "garden", "quinn", SanctionKind::Mute),
        None
    );
}

on_every_backend!(staff_moderate_every_room);
async fn staff_moderate_every_room() {
    let app = TestApp::spawn().await;
    let olga = Person::new(&app, "olga").await;
    let sam = Person::staff(&app, "sam").await;
    Person::new(&app, "mo").await;
    assert_eq!(olga.browser.get("/chat/garden/").await.status(), 200);

    sam.does(&app, "garden", &[("action", "lock")]).await;
    sam.does(
        &app,
        "garden",
        &[("action", "moderator_add"), ("user", "mo")],
    )
    .await;
    // Staff may mute the owner, and make the room admin-only.
    sam.does(
        &app,
        "garden",
        &[("action", "mute"), ("user", "olga"), ("minutes", "60")],
    )
    .await;
    assert!(sanction_of(&app, "garden", "olga", SanctionKind::Mute).is_some());
    sam.does(
        &app,
        "garden",
        &[("action", "access"), ("access", "admin_only")],
    )
    .await;
    let room = room_row(&app, "garden");
    assert!(room.locked && room.admin_only);
    // Rooms from before owners (made by the CLI) are staff's alone.
    assert!(app.cli(&["room", "create", "old"]).status.success());
    sam.does(&app, "old", &[("action", "slow_mode"), ("secs", "5")])
        .await;
    olga.is_refused(&app, "old", &[("action", "lock")], 403, "forbidden")
        .await;
}

// ---------------------------------------------------------------------
// Tokens, input, who may ask
// ---------------------------------------------------------------------

on_every_backend!(a_request_without_the_csrf_token_is_refused);
async fn a_request_without_the_csrf_token_is_refused() {
    let app = TestApp::spawn().await;
    let olga = Person::new(&app, "olga").await;
    assert_eq!(olga.browser.get("/chat/garden/").await.status(), 200);
    let lock = [("action", "lock")];

    let (status, body) = olga
        .fetch(&app, "/chat/garden/moderate/", None, &lock)
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("csrf")),
        "{body}"
    );
    sentence(&body["error"]["message"]);
    let (status, body) = olga
        .fetch(&app, "/chat/garden/moderate/", Some("not-the-token"), &lock)
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("csrf")),
        "{body}"
    );
    let (status, _) = olga
        .fetch(
            &app,
            "/chat/garden/report/",
            None,
            &[("message_id", "1"), ("reason", "x")],
        )
        .await;
    assert_eq!(status, 403);
    // A form without its token: the error page.
    let response = olga
        .browser
        .post_form("/chat/garden/moderate/", &lock)
        .await;
    assert_eq!(response.status(), 403);
    assert!(!room_row(&app, "garden").locked);
    // The token in the form field works as well as the header.
    let response = olga.submit("garden", &lock).await;
    assert_eq!(response.status(), 303);
    assert!(room_row(&app, "garden").locked);
}

on_every_backend!(bad_input_is_refused_with_a_sentence);
async fn bad_input_is_refused_with_a_sentence() {
    let app = TestApp::spawn_with(|s| {
        s.moderation_reason_max_chars = 20;
        s.slow_mode_max_secs = 600;
    })
    .await;
    let olga = Person::new(&app, "olga").await;
    Person::new(&app, "pat").await;
    assert_eq!(olga.browser.get("/chat/garden/").await.status(), 200);
    let long = "x".repeat(21);
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[("action", "mute"), ("user", "pat"), ("minutes", "0")],
            "at least 1",
        ),
        (
            &[("action", "ban"), ("user", "pat"), ("minutes", "soon")],
            "whole number",
        ),
        (&[("action", "slow_mode"), ("secs", "601")], "at most 600"),
        (&[("action", "slow_mode"), ("secs", "-1")], "from 0"),
        (
            &[("action", "kick"), ("user", "pat"), ("reason", &long)],
            "at most 20",
        ),
        (&[("action", "mute"), ("user", "not a name")], "username"),
        (&[("action", "mute")], "user field is empty"),
        (
            &[("action", "access"), ("access", "everyone")],
            "public, invite_only or admin_only",
        ),
        (&[("action", "explode")], "no action"),
        (&[], "action field is empty"),
        (
            &[("action", "delete_message"), ("message_id", "abc")],
            "not a message number",
        ),
        (
            &[
                ("action", "resolve_report"),
                ("report", "1"),
                ("resolution", "shrug"),
            ],
            "dismissed",
        ),
    ];
    for (fields, part) in cases {
        let said = olga
            .is_refused(&app, "garden", fields, 400, "invalid")
            .await;
        assert!(said.contains(part), "{fields:?}: {said:?} lacks {part:?}");
    }
    assert_eq!(room_row(&app, "garden").slow_mode_secs, 0);
    assert_eq!(sanction_of(&app, "garden", "pat", SanctionKind::Mute), None);
}

on_every_backend!(anonymous_visitors_are_asked_to_log_in);
async fn anonymous_visitors_are_asked_to_log_in() {
    let app = TestApp::spawn().await;
    let olga = Person::new(&app, "olga").await;
    assert_eq!(olga.browser.get("/chat/garden/").await.status(), 200);
    let nobody = Person {
        browser: app.browser(),
        token: String::new(),
    };
    let (status, body) = nobody.moderate(&app, "garden", &[("action", "lock")]).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("login_required"))
    );
    let (status, body) = nobody.report(&app, "garden", 1, "spam").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("login_required"))
    );
    let response = nobody
        .browser
        .post_form("/chat/garden/moderate/", &[("action", "lock")])
        .await;
    assert_eq!(response.status(), 302);
    let to = response.headers()["location"].to_str().unwrap();
    assert!(to.starts_with("/accounts/login/?next="), "{to}");
    let response = nobody.browser.get("/chat/garden/settings/").await;
    assert_eq!(response.status(), 302);
    assert!(!room_row(&app, "garden").locked);
}

on_every_backend!(unknown_rooms_and_private_rooms_of_others_are_not_found);
async fn unknown_rooms_and_private_rooms_of_others_are_not_found() {
    let app = TestApp::spawn().await;
    let olga = Person::new(&app, "olga").await;
    let pat = Person::new(&app, "pat").await;
    pat.is_refused(&app, "nowhere", &[("action", "lock")], 404, "not_found")
        .await;
    assert_eq!(pat.settings("nowhere").await.0, 404);
    // Nothing was created by asking.
    assert!(
        app.database()
            .run_here(|c| rooms::by_name(c, "nowhere"))
            .unwrap()
            .is_none()
    );

    assert_eq!(olga.browser.get("/chat/hideout/").await.status(), 200);
    let secret = app.store_messages("hideout", "olga", ["psst"])[0];
    olga.does(
        &app,
        "hideout",
        &[("action", "access"), ("access", "invite_only")],
    )
    .await;
    let said = pat
        .is_refused(&app, "hideout", &[("action", "lock")], 404, "not_found")
        .await;
    assert_eq!(said, "There is no room called hideout.");
    let (status, body) = pat.report(&app, "hideout", secret, "spam").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    assert_eq!(pat.settings("hideout").await.0, 404);
}

// ---------------------------------------------------------------------
// Reports
// ---------------------------------------------------------------------

on_every_backend!(a_reader_reports_a_message_once_and_it_is_audited);
async fn a_reader_reports_a_message_once_and_it_is_audited() {
    let app = TestApp::spawn().await;
    let olga = Person::new(&app, "olga").await;
    let pat = Person::new(&app, "pat").await;
    assert_eq!(olga.browser.get("/chat/garden/").await.status(), 200);
    let id = app.store_messages("garden", "olga", ["buy cheap watches"])[0];

    let (status, body) = pat.report(&app, "garden", id, "  spam\nlinks ").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["message"], "Thanks, the moderators will look at it.");
    assert_eq!(report_counts(&app), (1, 1));
    let entries = audit(&app, "report.file");
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].actor, "pat");
    assert_eq!(entries[0].target, format!("message {id}"));
    assert_eq!(entries[0].room.as_deref(), Some("garden"));
    assert_eq!(entries[0].reason, "spam links");

    let (status, body) = pat.report(&app, "garden", id, "again").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("already_reported"))
    );
    sentence(&body["error"]["message"]);
    assert_eq!(report_counts(&app), (1, 1));
    assert_eq!(audit(&app, "report.file").len(), 1);
}

on_every_backend!(what_cannot_be_reported);
async fn what_cannot_be_reported() {
    let app = TestApp::spawn_with(|s| s.moderation_reason_max_chars = 10).await;
    let olga = Person::new(&app, "olga").await;
    let pat = Person::new(&app, "pat").await;
    assert_eq!(olga.browser.get("/chat/garden/").await.status(), 200);
    let mine = app.store_messages("garden", "pat", ["my own"])[0];
    let hers = app.store_messages("garden", "olga", ["hers"])[0];

    let (status, body) = pat.report(&app, "garden", mine, "oops").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid"))
    );
    assert_eq!(
        body["error"]["message"],
        "You cannot report your own message."
    );
    let (status, body) = pat.report(&app, "garden", hers, "   ").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid")),
        "{body}"
    );
    let (status, body) = pat
        .report(&app, "garden", hers, "far too long a reason")
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid")),
        "{body}"
    );
    assert!(sentence(&body["error"]["message"]).contains("at most 10"));
    let (status, body) = pat.report(&app, "garden", hers + 1000, "spam").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("not_found")),
        "{body}"
    );
    // A message of another room is not this room's.
    assert_eq!(olga.browser.get("/chat/other/").await.status(), 200);
    let elsewhere = app.store_messages("other", "olga", ["x"])[0];
    let (status, _) = pat.report(&app, "garden", elsewhere, "spam").await;
    assert_eq!(status, 404);
    // Deleted messages are gone.
    olga.does(
        &app,
        "garden",
        &[
            ("action", "delete_message"),
            ("message_id", &hers.to_string()),
        ],
    )
    .await;
    let (status, _) = pat.report(&app, "garden", hers, "spam").await;
    assert_eq!(status, 404);
    assert_eq!(report_counts(&app), (0, 0));
}

on_every_backend!(open_reports_are_bounded_per_reporter);
async fn open_reports_are_bounded_per_reporter() {
    let app = TestApp::spawn_with(|s| s.open_reports_per_user = 2).await;
    let olga = Person::new(&app, "olga").await;
    let pat = Person::new(&app, "pat").await;
    assert_eq!(olga.browser.get("/chat/garden/").await.status(), 200);
    let ids = app.store_messages("garden", "olga", ["one", "two", "three"]);
    for id in &ids[..2] {
        assert_eq!(pat.report(&app, "garden", *id, "spam").await.0, 200);
    }
    let (status, body) = pat.report(&app, "garden", ids[2], "spam").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (429, Some("too_many_reports"))
    );
    let said = sentence(&body["error"]["message"]);
    assert!(said.contains("2 reports waiting"), "{said}");

    // Once one is handled, there is room for another.
    let report = app
        .database()
        .run_here(|c| {
            Ok(reports::table
                .select(reports::id)
                .order(reports::id.asc())
                .first::<i32>(c)?)
        })
        .unwrap()
        .to_string();
    olga.does(
        &app,
        "garden",
        &[
            ("action", "resolve_report"),
            ("report", &report),
            ("resolution", "dismissed"),
        ],
    )
    .await;
    assert_eq!(pat.report(&app, "garden", ids[2], "spam").await.0, 200);
    assert_eq!(report_counts(&app), (2, 3));
}

on_every_backend!(resolving_a_report_acts_on_the_message_or_its_author);
async fn resolving_a_report_acts_on_the_message_or_its_author() {
    let app = TestApp::spawn().await;
    let olga = Person::new(&app, "olga").await;
    let mo = Person::new(&app, "mo").await;
    let pat = Person::new(&app, "pat").await;
    Person::new(&app, "troll").await;
    room_with_moderator(&app, &olga, "garden", "mo").await;
    let ids = app.store_messages("garden", "troll", ["rude", "ruder", "rudest"]);
    for id in &ids {
        assert_eq!(pat.report(&app, "garden", *id, "rude").await.0, 200);
    }
    let open: Vec<i32> = app
        .database()
        .run_here(|c| {
            Ok(reports::table
                .select(reports::id)
                .order(reports::id.asc())
                .load(c)?)
        })
        .unwrap();
    let report = |n: usize| open[n].to_string();

    // Delete: the message goes, the report closes.
    let said = mo
        .does(
            &app,
            "garden",
            &[
                ("action", "resolve_report"),
                ("report", &report(0)),
                ("resolution", "deleted"),
            ],
        )
        .await;
    assert!(said.contains("Report"), "{said}");
    let (status, _) = mo
        .moderate(
            &app,
            "garden",
            &[
                ("action", "delete_message"),
                ("message_id", &ids[0].to_string()),
            ],
        )
        .await;
    assert_eq!(status, 404, "deleted already");

    // Mute the author, for a day.
    mo.does(
        &app,
        "garden",
        &[
            ("action", "resolve_report"),
            ("report", &report(1)),
            ("resolution", "muted"),
            ("minutes", "1440"),
            ("reason", "be nice"),
        ],
    )
    .await;
    assert_eq!(
        sanction_of(&app, "garden", "troll", SanctionKind::Mute).as_deref(),
        Some("be nice")
    );
    // Handled already.
    mo.is_refused(
        &app,
        "garden",
        &[
            ("action", "resolve_report"),
            ("report", &report(1)),
            ("resolution", "dismissed"),
        ],
        409,
        "conflict",
    )
    .await;
    // Ban the author.
    mo.does(
        &app,
        "garden",
        &[
            ("action", "resolve_report"),
            ("report", &report(2)),
            ("resolution", "banned"),
        ],
    )
    .await;
    assert!(sanction_of(&app, "garden", "troll", SanctionKind::Ban).is_some());
    assert_eq!(report_counts(&app), (0, 3));
    assert_eq!(audit(&app, "report.resolve").len(), 3);
    // A member handles no reports, and reports of another room are not here.
    pat.is_refused(
        &app,
        "garden",
        &[
            ("action", "resolve_report"),
            ("report", "999"),
            ("resolution", "dismissed"),
        ],
        404,
        "not_found",
    )
    .await;
}

// ---------------------------------------------------------------------
// The settings page
// ---------------------------------------------------------------------

on_every_backend!(the_settings_page_is_for_the_owner_moderators_and_staff);
async fn the_settings_page_is_for_the_owner_moderators_and_staff() {
    let app = TestApp::spawn().await;
    let olga = Person::new(&app, "olga").await;
    let mo = Person::new(&app, "mo").await;
    let sam = Person::staff(&app, "sam").await;
    let pat = Person::new(&app, "pat").await;
    room_with_moderator(&app, &olga, "garden", "mo").await;

    for who in [&olga, &mo, &sam] {
        let (status, page) = who.settings("garden").await;
        assert_eq!(status, 200, "{page}");
        assert!(page.contains("<h1>Settings of #garden</h1>"));
    }
    let (status, page) = pat.settings("garden").await;
    assert_eq!(status, 403);
    assert!(page.contains("Only the owner of #garden, its moderators and staff"));

    // The room page links to it for those who may use it, and says the role.
    let page = olga.browser.text("/chat/garden/").await;
    assert!(page.contains("href=\"/chat/garden/settings/\""));
    assert!(page.contains("data-role=\"owner\""));
    assert!(
        mo.browser
            .text("/chat/garden/")
            .await
            .contains("data-role=\"moderator\"")
    );
    assert!(
        sam.browser
            .text("/chat/garden/")
            .await
            .contains("data-role=\"staff\"")
    );
    let page = pat.browser.text("/chat/garden/").await;
    assert!(page.contains("data-role=\"member\""));
    assert!(!page.contains("/settings/"));

    // A private room: members get 403 (they know it), others 404.
    olga.does(
        &app,
        "garden",
        &[("action", "access"), ("access", "invite_only")],
    )
    .await;
    assert_eq!(pat.settings("garden").await.0, 404);
    olga.does(&app, "garden", &[("action", "invite"), ("user", "pat")])
        .await;
    assert_eq!(pat.settings("garden").await.0, 403);
    assert_eq!(mo.settings("garden").await.0, 200);
}

on_every_backend!(the_settings_page_shows_what_it_manages);
async fn the_settings_page_shows_what_it_manages() {
    let app = TestApp::spawn().await;
    let olga = Person::new(&app, "olga").await;
    let mo = Person::new(&app, "mo").await;
    let sam = Person::staff(&app, "sam").await;
    let pat = Person::new(&app, "pat").await;
    Person::new(&app, "troll").await;
    room_with_moderator(&app, &olga, "garden", "mo").await;
    olga.does(
        &app,
        "garden",
        &[("action", "access"), ("access", "invite_only")],
    )
    .await;
    for who in ["pat", "troll"] {
        olga.does(&app, "garden", &[("action", "invite"), ("user", who)])
            .await;
    }
    mo.does(&app, "garden", &[("action", "slow_mode"), ("secs", "45")])
        .await;
    mo.does(&app, "garden", &[("action", "lock")]).await;
    mo.does(
        &app,
        "garden",
        &[
            ("action", "mute"),
            ("user", "troll"),
            ("minutes", "60"),
            ("reason", "shouting"),
        ],
    )
    .await;
    mo.does(
        &app,
        "garden",
        &[
            ("action", "ban"),
            ("user", "pat"),
            ("reason", "spam <b>links</b>"),
        ],
    )
    .await;
    let id = app.store_messages("garden", "troll", ["you are all <script>wrong</script>"])[0];
    mo.does(&app, "garden", &[("action", "unban"), ("user", "pat")])
        .await;
    assert_eq!(pat.report(&app, "garden", id, "insults").await.0, 200);

    let (status, page) = olga.settings("garden").await;
    assert_eq!(status, 200);
    for part in [
        "invite-only",
        "Remove pat",
        "Remove troll",
        "id=\"invite-user\"",
        "<strong>olga</strong>",
        "Remove mo as moderator",
        "id=\"moderator-user\"",
        "Unlock the room",
        "value=\"45\"",
        "Unmute troll",
        "“shouting”",
        "By mo on",
        "troll's message, reported by pat",
        "you are all &lt;script&gt;wrong&lt;&#x2F;script&gt;",
        "<strong>Reason:</strong> insults",
        &format!("/chat/garden/?around={id}"),
        "Delete the message",
        "Mute troll",
        "Ban troll",
        "Dismiss",
        "Save access",
    ] {
        assert!(
            page.contains(part),
            "the owner's page lacks {part:?}:\n{page}"
        );
    }
    // pat was unbanned: no longer listed; no admin-only for the owner.
    assert!(!page.contains("Unban pat"));
    assert!(!page.contains("value=\"admin_only\""));
    // Every form has the token, and every input a label.
    assert_eq!(csrf_from(&page).as_deref(), Some(olga.token.as_str()));

    // A moderator sees the access but cannot change it or appoint.
    let (_, page) = mo.settings("garden").await;
    assert!(page.contains("invite-only"));
    assert!(!page.contains("Save access"));
    assert!(!page.contains("id=\"moderator-user\""));
    assert!(!page.contains("Remove mo as moderator"));
    // Staff may make it admin-only.
    let (_, page) = sam.settings("garden").await;
    assert!(page.contains("value=\"admin_only\""));
}

on_every_backend!(settings_forms_come_back_with_the_outcome);
async fn settings_forms_come_back_with_the_outcome() {
    let app = TestApp::spawn().await;
    let olga = Person::new(&app, "olga").await;
    Person::new(&app, "pat").await;
    assert_eq!(olga.browser.get("/chat/garden/").await.status(), 200);

    let response = olga
        .submit(
            "garden",
            &[("action", "mute"), ("user", "pat"), ("minutes", "10")],
        )
        .await;
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/chat/garden/settings/");
    let (_, page) = olga.settings("garden").await;
    assert!(page.contains("alert-success"), "{page}");
    assert!(
        page.contains("pat is muted in #garden for 10 minutes."),
        "{page}"
    );
    // Shown once.
    let (_, page) = olga.settings("garden").await;
    assert!(!page.contains("alert-success"));

    // A refusal comes back the same way, as an error.
    let response = olga
        .submit("garden", &[("action", "slow_mode"), ("secs", "999999")])
        .await;
    assert_eq!(response.status(), 303);
    let (_, page) = olga.settings("garden").await;
    assert!(page.contains("alert-error"));
    assert!(
        page.contains("Slow mode can be at most 3600 seconds"),
        "{page}"
    );
    // A member's form gets the error page, not a flash on a page they
    // cannot see.
    let quinn = Person::new(&app, "quinn").await;
    let response = quinn.submit("garden", &[("action", "lock")]).await;
    assert_eq!(response.status(), 403);
    let page = response.text().await.unwrap();
    assert!(page.contains("Only the room&#x27;s moderators"), "{page}");
    assert!(!room_row(&app, "garden").locked);
}

// ---------------------------------------------------------------------
// A private room's invitation, over HTTP
// ---------------------------------------------------------------------

on_every_backend!(an_invitation_lets_a_user_into_a_private_room);
async fn an_invitation_lets_a_user_into_a_private_room() {
    let app = TestApp::spawn().await;
    let olga = Person::new(&app, "olga").await;
    let bob = Person::new(&app, "bob").await;
    assert_eq!(olga.browser.get("/chat/hideout/").await.status(), 200);
    let id = app.store_messages("hideout", "olga", ["welcome"])[0];
    let response = olga
        .submit(
            "hideout",
            &[("action", "access"), ("access", "invite_only")],
        )
        .await;
    assert_eq!(response.status(), 303);
    assert!(
        is_member(&app, "hideout", "olga"),
        "the owner keeps the room"
    );
    assert_eq!(bob.report(&app, "hideout", id, "test").await.0, 404);

    let response = olga
        .submit("hideout", &[("action", "invite"), ("user", "bob")])
        .await;
    assert_eq!(response.status(), 303);
    let (_, page) = olga.settings("hideout").await;
    assert!(page.contains("bob is now a member of #hideout."), "{page}");
    assert!(page.contains("Remove bob"));
    assert!(is_member(&app, "hideout", "bob"));
    // In: bob opens it and may report what he reads there.
    assert_eq!(bob.browser.get("/chat/hideout/").await.status(), 200);
    assert_eq!(bob.report(&app, "hideout", id, "test").await.0, 200);

    // Removed: out again.
    let response = olga
        .submit("hideout", &[("action", "uninvite"), ("user", "bob")])
        .await;
    assert_eq!(response.status(), 303);
    assert!(!is_member(&app, "hideout", "bob"));
    let (status, _) = bob.moderate(&app, "hideout", &[("action", "lock")]).await;
    assert_eq!(status, 404);
}
