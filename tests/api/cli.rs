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
