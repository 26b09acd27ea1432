//! The binary's admin commands, run as a person would run them.

use crate::common::TestApp;
use confab::db::schema::users;
use diesel::prelude::*;
use std::io::Write;
use std::process::{Command, Stdio};

fn createsuperuser(app: &TestApp, username: &str, password: &str) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_confab"))
        .args(["createsuperuser", "--username", username])
        .env("DATABASE_URL", &app.settings.database_url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A refused username ends the command before it reads the password, so
    // the pipe may be closed already.
    let _ = writeln!(child.stdin.take().unwrap(), "{password}");
    child.wait_with_output().unwrap()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

on_every_backend!(createsuperuser_makes_a_staff_account_that_can_log_in);
async fn createsuperuser_makes_a_staff_account_that_can_log_in() {
    let app = TestApp::spawn().await;
    let out = createsuperuser(&app, "admin", "admin password");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Superuser admin created"));

    let browser = app.browser();
    let res = browser.login("admin", "admin password", "/chat/").await;
    assert_eq!(res.status(), 303);
    let page = browser.text("/chat/").await;
    assert!(page.contains("admin"));

    let again = createsuperuser(&app, "admin", "admin password");
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("already taken"),
        "{}",
        stderr(&again)
    );
    let weak = createsuperuser(&app, "root2", "short");
    assert!(!weak.status.success());
    assert!(stderr(&weak).contains("at least 8"), "{}", stderr(&weak));
}

on_every_backend!(admin_only_rooms_from_the_cli_keep_non_staff_out);
async fn admin_only_rooms_from_the_cli_keep_non_staff_out() {
    let app = TestApp::spawn().await;
    let out = app.cli(&["room", "create", "staff-room", "--admin-only"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let bob = app.user("bob").await;
    assert_eq!(bob.get("/chat/staff-room/").await.status(), 403);
    let refused = app.connect(&bob, "staff-room").await;
    assert!(matches!(
        refused,
        Err(tokio_tungstenite::tungstenite::Error::Http(ref r)) if r.status() == 403
    ));

    let out = app.cli(&["user", "promote", "bob"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(bob.get("/chat/staff-room/").await.status(), 200);
    let mut ws = app.join(&bob, "staff-room").await;
    ws.joined().await;

    let out = app.cli(&["user", "demote", "bob"]);
    assert!(out.status.success());
    assert_eq!(
        bob.get("/chat/staff-room/").await.status(),
        403,
        "rights are read per request"
    );
}

on_every_backend!(cli_errors_are_clear_and_exit_non_zero);
async fn cli_errors_are_clear_and_exit_non_zero() {
    let app = TestApp::spawn().await;
    assert!(app.cli(&["room", "create", "dup"]).status.success());
    let too_long = "x".repeat(65);
    let cases: &[(&[&str], &str)] = &[
        (&["room", "create", "bad name"], "may only contain"),
        (&["room", "create", &too_long], "at most 64 characters"),
        (
            &["room", "create", "dup"],
            "a room called dup already exists",
        ),
        (&["user", "promote", "ghost"], "no user called ghost"),
    ];
    for (args, expected) in cases {
        let out = app.cli(args);
        assert!(!out.status.success(), "{args:?} exits non-zero");
        assert!(
            stderr(&out).contains(expected),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    let listed = app.cli(&["room", "list"]);
    assert_eq!(String::from_utf8_lossy(&listed.stdout), "dup\n", "one dup");
}

on_every_backend!(createsuperuser_refuses_an_invalid_or_empty_username);
async fn createsuperuser_refuses_an_invalid_or_empty_username() {
    let app = TestApp::spawn().await;
    for (username, expected) in [
        ("bad name", "may only contain"),
        ("", "cannot be empty"),
        ("   ", "cannot be empty"),
    ] {
        let out = createsuperuser(&app, username, "admin password");
        assert!(!out.status.success(), "{username:?} exits non-zero");
        assert!(
            stderr(&out).contains(expected),
            "{username:?}: {}",
            stderr(&out)
        );
    }
    let accounts: i64 = app
        .database()
        .run_here(|conn| Ok(users::table.count().get_result(conn)?))
        .unwrap();
    assert_eq!(accounts, 0, "no account was made");
}

on_every_backend!(room_list_sorts_byte_by_byte_and_marks_admin_only_rooms);
async fn room_list_sorts_byte_by_byte_and_marks_admin_only_rooms() {
    let app = TestApp::spawn().await;
    for args in [
        &["room", "create", "staff-room", "--admin-only"][..],
        &["room", "create", "alpha"],
        &["room", "create", "Zed"],
    ] {
        let out = app.cli(args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    }
    let listed = app.cli(&["room", "list"]);
    assert!(listed.status.success());
    assert_eq!(
        String::from_utf8_lossy(&listed.stdout),
        "Zed\nalpha\nstaff-room  (admin only)\n",
        "byte order (uppercase first) on every backend, whatever PostgreSQL's collation"
    );
}

on_every_backend!(healthcheck_reports_whether_the_server_answers);
async fn healthcheck_reports_whether_the_server_answers() {
    let app = TestApp::spawn().await;
    // Async, so this test's runtime keeps serving while the check runs.
    async fn check(bind: String) -> std::process::Output {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_confab"))
            .arg("healthcheck")
            .env("CONFAB_BIND", bind)
            .output()
            .await
            .unwrap()
    }
    let up = check(format!("127.0.0.1:{}", app.port)).await;
    assert!(up.status.success(), "{}", stderr(&up));
    app.stop().await;
    let down = check(format!("127.0.0.1:{}", app.port)).await;
    assert!(!down.status.success());
}

on_every_backend!(createsuperuser_follows_the_sign_up_rules);
async fn createsuperuser_follows_the_sign_up_rules() {
    let app = TestApp::spawn().await;
    app.user("alice").await;
    for name in ["Alice", "aIice"] {
        let out = createsuperuser(&app, name, "admin password");
        assert!(!out.status.success(), "{name}");
        assert!(
            stderr(&out).contains("already taken, or looks too much like one that is"),
            "{name}: {}",
            stderr(&out)
        );
    }
    for (password, says) in [
        ("12345678", "cannot be only digits"),
        ("password1", "too easy to guess"),
        ("root.admin", "too much like your username"),
    ] {
        let out = createsuperuser(&app, "root.admin", password);
        assert!(!out.status.success(), "{password}");
        assert!(stderr(&out).contains(says), "{password}: {}", stderr(&out));
    }
    let out = createsuperuser(&app, "root.admin", "admin password");
    assert!(out.status.success(), "{}", stderr(&out));
    let res = app
        .browser()
        .login("Root.Admin", "admin password", "/chat/")
        .await;
    assert_eq!(res.status(), 303, "any case logs in");
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `args`, which must succeed, and returns what it printed.
#[track_caller]
fn ok(app: &TestApp, args: &[&str]) -> String {
    let out = app.cli(args);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    stdout(&out)
}

/// The newest audit entry's action, actor, target and reason.
fn last_audit(app: &TestApp) -> (String, String, String, String) {
    let entries = app
        .database()
        .run_here(|c| {
            confab::moderation::audit_entries(
                c,
                &confab::moderation::AuditFilter::default(),
                None,
                1,
            )
        })
        .unwrap();
    let e = entries.into_iter().next().expect("an audit entry");
    (e.action, e.actor, e.target, e.reason)
}

fn audited(action: &str, target: &str, reason: &str) -> (String, String, String, String) {
    (action.into(), "cli".into(), target.into(), reason.into())
}

on_every_backend!(moderation_commands_change_the_database_and_are_audited);
async fn moderation_commands_change_the_database_and_are_audited() {
    use confab::db::queries::{moderation, rooms, users};
    let app = TestApp::spawn().await;
    let db = app.database();
    let room = |name: &str| db.run_here(|c| rooms::by_name(c, name)).unwrap().unwrap();
    let account = |name: &str| {
        db.run_here(|c| users::by_username(c, name))
            .unwrap()
            .unwrap()
    };

    assert!(ok(&app, &["room", "create", "lobby"]).contains("Created room lobby."));
    assert_eq!(last_audit(&app), audited("room.create", "lobby", ""));
    let _bob = app.user("bob").await;

    let out = ok(&app, &["room", "lock", "lobby"]);
    assert!(out.contains("#lobby is now read-only"), "{out}");
    assert!(room("lobby").locked);
    assert_eq!(last_audit(&app), audited("room.lock", "lobby", ""));
    ok(&app, &["room", "unlock", "lobby"]);
    assert!(!room("lobby").locked);
    assert_eq!(last_audit(&app).0, "room.unlock");

    let out = ok(&app, &["room", "archive", "lobby"]);
    assert!(out.contains("#lobby is archived"), "{out}");
    assert!(room("lobby").archived_at.is_some());
    assert_eq!(last_audit(&app).0, "room.archive");
    ok(&app, &["room", "unarchive", "lobby"]);
    assert!(room("lobby").archived_at.is_none());
    assert_eq!(last_audit(&app).0, "room.unarchive");

    let active = |kind| {
        let (r, u) = (room("lobby").id, account("bob").id);
        db.run_here(|c| moderation::active_sanction(c, r, u, kind, confab::db::queries::now()))
            .unwrap()
    };
    let out = ok(
        &app,
        &[
            "room",
            "mute",
            "lobby",
            "bob",
            "--minutes",
            "10",
            "--reason",
            "spamming",
        ],
    );
    assert_eq!(out, "bob is muted in #lobby for 10 minutes.\n");
    let mute = active(moderation::SanctionKind::Mute).expect("muted");
    assert_eq!(mute.reason, "spamming");
    assert_eq!(mute.created_by, None, "by the command line");
    assert_eq!(last_audit(&app), audited("user.mute", "bob", "spamming"));
    assert!(ok(&app, &["room", "unmute", "lobby", "bob"]).contains("bob may post in #lobby again"));
    assert!(active(moderation::SanctionKind::Mute).is_none());
    assert_eq!(last_audit(&app).0, "user.unmute");

    let out = ok(
        &app,
        &["room", "ban", "lobby", "bob", "--reason", "trolling"],
    );
    assert_eq!(
        out,
        "bob is banned from #lobby until a moderator lifts it.\n"
    );
    let ban = active(moderation::SanctionKind::Ban).expect("banned");
    assert_eq!((ban.reason.as_str(), ban.expires_at), ("trolling", None));
    assert_eq!(last_audit(&app), audited("user.ban", "bob", "trolling"));
    ok(&app, &["room", "unban", "lobby", "bob"]);
    assert!(active(moderation::SanctionKind::Ban).is_none());
    assert_eq!(last_audit(&app).0, "user.unban");

    let out = ok(
        &app,
        &["user", "deactivate", "bob", "--reason", "spam account"],
    );
    assert_eq!(
        out,
        "bob is deactivated: they cannot log in, and their 1 session ended.\n"
    );
    assert!(account("bob").deactivated_at.is_some());
    assert_eq!(
        last_audit(&app),
        audited("user.deactivate", "bob", "spam account")
    );
    assert_eq!(
        ok(&app, &["user", "reactivate", "bob"]),
        "bob may log in again.\n"
    );
    assert!(account("bob").deactivated_at.is_none());
    assert_eq!(last_audit(&app).0, "user.reactivate");

    // The commands from before are audited too, with their old words.
    assert_eq!(ok(&app, &["user", "promote", "bob"]), "bob is now staff.\n");
    assert_eq!(last_audit(&app).0, "user.promote");
    assert_eq!(
        ok(&app, &["user", "demote", "bob"]),
        "bob is no longer staff.\n"
    );
    assert_eq!(last_audit(&app).0, "user.demote");
    assert_eq!(
        ok(&app, &["user", "logout-all", "bob"]),
        "Ended 0 sessions of bob.\n"
    );
    assert_eq!(last_audit(&app).0, "user.end_sessions");
    assert_eq!(
        ok(&app, &["room", "set", "lobby", "--private"]),
        "Room lobby is now private: only its members may enter it.\n"
    );
    assert!(room("lobby").invite_only);
    assert_eq!(last_audit(&app).0, "room.access");
    assert_eq!(ok(&app, &["room", "list"]), "lobby  (private)\n");

    // `confab audit`: newest first, one line each, tab-separated.
    let listed = ok(&app, &["audit", "--limit", "3"]);
    let lines: Vec<Vec<&str>> = listed.lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(lines.len(), 3, "{listed}");
    assert_eq!(lines[0][1..], ["cli", "room.access", "lobby", ""]);
    assert_eq!(lines[1][1..], ["cli", "user.end_sessions", "bob", ""]);
    assert_eq!(lines[2][1..], ["cli", "user.demote", "bob", ""]);
    let at = chrono::DateTime::parse_from_rfc3339(lines[0][0]).expect("an RFC 3339 time");
    assert!((chrono::Utc::now() - at.to_utc()).num_minutes() < 60);
    let mutes = ok(&app, &["audit", "--action", "user.mute"]);
    assert_eq!(mutes.lines().count(), 1, "{mutes}");
    assert!(
        mutes.ends_with("\tcli\tuser.mute\tbob (#lobby)\tspamming\n"),
        "{mutes}"
    );
    let rooms_only = ok(&app, &["audit", "--action", "room."]);
    assert_eq!(rooms_only.lines().count(), 6, "{rooms_only}");
    assert_eq!(ok(&app, &["audit", "--actor", "someone"]), "");
}

on_every_backend!(moderation_commands_explain_what_they_refuse);
async fn moderation_commands_explain_what_they_refuse() {
    let app = TestApp::spawn().await;
    ok(&app, &["room", "create", "lobby"]);
    let _bob = app.user("bob").await;
    let long = "x".repeat(501);
    let cases: &[(&[&str], &str)] = &[
        (
            &["room", "lock", "ghost"],
            "There is no room called #ghost.",
        ),
        (&["room", "archive", "bad name"], "may only contain"),
        (&["room", "mute", "lobby", "ghost"], "no user called ghost"),
        (&["room", "ban", "ghost", "bob"], "no room called #ghost"),
        (
            &["room", "mute", "lobby", "bob", "--minutes", "0"],
            "at least a minute",
        ),
        (
            &["room", "mute", "lobby", "bob", "--reason", &long],
            "at most 500 are allowed",
        ),
        (
            &["room", "unmute", "lobby", "bob"],
            "bob is not muted in #lobby",
        ),
        (
            &["room", "unban", "lobby", "bob"],
            "bob is not banned from #lobby",
        ),
        (&["user", "deactivate", "ghost"], "no user called ghost"),
        (&["user", "reactivate", "bob"], "bob is not deactivated"),
        (&["user", "logout-all", "ghost"], "no user called ghost"),
    ];
    for (args, expected) in cases {
        let out = app.cli(args);
        assert!(!out.status.success(), "{args:?} exits non-zero");
        assert!(
            stderr(&out).contains(expected),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    assert_eq!(
        ok(&app, &["audit"]).lines().count(),
        1,
        "only the room's creation is on record: refusals write nothing"
    );
}
