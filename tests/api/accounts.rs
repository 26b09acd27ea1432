//! Sign up, log in, log out, the CSRF guard on every form, and the cookie
//! key that signs sessions.

use crate::common::{TestApp, TestDatabase, test_settings};
use confab::db::Backend;
use confab::startup::Application;
use std::path::PathBuf;

fn location(res: &reqwest::Response) -> &str {
    res.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

on_every_backend!(anonymous_visitors_are_sent_to_login_with_next);
async fn anonymous_visitors_are_sent_to_login_with_next() {
    let app = TestApp::spawn().await;
    let res = app.browser().get("/chat/lobby/").await;
    assert_eq!(res.status(), 302);
    assert_eq!(location(&res), "/accounts/login/?next=%2Fchat%2Flobby%2F");
}

on_every_backend!(signup_signs_in_and_follows_next);
async fn signup_signs_in_and_follows_next() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    let token = browser.csrf_token("/accounts/signup/").await;
    let res = browser
        .post_form(
            "/accounts/signup/",
            &[
                ("csrf_token", &token),
                ("username", "alice"),
                ("password", "correct horse"),
                ("password2", "correct horse"),
                ("next", "/chat/lobby/"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/chat/lobby/");
    let page = browser.text("/chat/").await;
    assert!(
        page.contains("alice"),
        "the selector shows who is signed in"
    );
}

on_every_backend!(next_never_leaves_the_site);
async fn next_never_leaves_the_site() {
    let app = TestApp::spawn().await;
    app.user("alice").await;
    let browser = app.browser();
    let res = browser
        .login("alice", "correct horse battery", "//evil.example/")
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/chat/");
}

#[actix_web::test]
async fn every_known_redirect_bypass_lands_on_chat() {
    let app = TestApp::spawn().await;
    app.user("alice").await;
    let browser = app.browser();
    for next in [
        "//evil.example/",
        "/\\evil.example/",
        "/\t/evil.example/",
        "\\/evil.example/",
        "https:evil.example",
        "/%09/evil.example/",
        "/%5Cevil.example/",
        "/\u{1}/evil.example/",
    ] {
        let res = browser.login("alice", "correct horse battery", next).await;
        assert_eq!(res.status(), 303, "{next:?}");
        assert_eq!(location(&res), "/chat/", "{next:?}");
    }
    let res = browser
        .login("alice", "correct horse battery", "/chat/lobby/")
        .await;
    assert_eq!(
        location(&res),
        "/chat/lobby/",
        "a path on this site is kept"
    );
}

on_every_backend!(taken_username_gives_the_form_back_with_a_message);
async fn taken_username_gives_the_form_back_with_a_message() {
    let app = TestApp::spawn().await;
    app.user("alice").await;
    let res = app.browser().signup("alice", "another password").await;
    assert_eq!(res.status(), 400);
    let page = res.text().await.unwrap();
    assert!(page.contains("That username is taken"), "{page}");
    assert!(
        page.contains("value=\"alice\""),
        "the name is kept in the form"
    );
}

on_every_backend!(signup_rules_are_explained);
async fn signup_rules_are_explained() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    let res = browser.signup("bad name", "correct horse").await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("may only contain"));
    let res = browser.signup("bob", "short").await;
    assert!(res.text().await.unwrap().contains("at least 8 characters"));
    let token = browser.csrf_token("/accounts/signup/").await;
    let res = browser
        .post_form(
            "/accounts/signup/",
            &[
                ("csrf_token", &token),
                ("username", "bob"),
                ("password", "correct horse"),
                ("password2", "correct horsE"),
            ],
        )
        .await;
    assert!(res.text().await.unwrap().contains("do not match"));
}

on_every_backend!(weak_passwords_are_refused_with_the_reason);
async fn weak_passwords_are_refused_with_the_reason() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    for (password, says) in [
        ("short", "The password must be at least 8 characters long."),
        (
            "12345678",
            "The password cannot be only digits; add some letters or words.",
        ),
        (
            "84720193746",
            "The password cannot be only digits; add some letters or words.",
        ),
        (
            "Alice.Smith",
            "The password is too much like your username.",
        ),
        (
            "alicesmith2024",
            "The password is too much like your username.",
        ),
        ("htimsecila", "The password is too much like your username."),
        (
            "password",
            "That password is too easy to guess (this is a top-10 common password); \
             try a few unrelated words.",
        ),
        ("qwertyuiop", "That password is too easy to guess"),
        ("iloveyou1", "That password is too easy to guess"),
    ] {
        let res = browser.signup("alice.smith", password).await;
        assert_eq!(res.status(), 400, "{password}");
        let page = res.text().await.unwrap();
        assert!(page.contains(says), "{password}: {page}");
        assert!(page.contains("value=\"alice.smith\""), "the name is kept");
    }
    let res = browser.signup("alice.smith", "violet tugboat anthem").await;
    assert_eq!(res.status(), 303, "a few unrelated words pass");
}

on_every_backend!(names_that_differ_only_in_case_or_look_alike_are_one_account);
async fn names_that_differ_only_in_case_or_look_alike_are_one_account() {
    let app = TestApp::spawn().await;
    app.user("alice").await;
    for name in ["Alice", "ALICE", "aIice", "AIice", "a1ice"] {
        let res = app.browser().signup(name, "another password").await;
        assert_eq!(res.status(), 400, "{name}");
        let page = res.text().await.unwrap();
        assert!(
            page.contains("That username is taken, or looks too much like one that is"),
            "{name}: {page}"
        );
    }
    assert_eq!(app.user("alicia").await.get("/chat/").await.status(), 200);
    // Logging in takes the name in any case, and shows it as it was made.
    let browser = app.browser();
    let res = browser
        .login("ALICE", "correct horse battery", "/chat/")
        .await;
    assert_eq!(res.status(), 303);
    let page = browser.text("/chat/").await;
    assert!(page.contains(">alice<"), "{page}");
    // A look-alike is another name, not another spelling of this one.
    let res = app
        .browser()
        .login("aIice", "correct horse battery", "/chat/")
        .await;
    assert_eq!(res.status(), 400);
}

on_every_backend!(accounts_from_before_name_keys_get_them_at_start_up);
async fn accounts_from_before_name_keys_get_them_at_start_up() {
    use confab::db::queries;
    use confab::db::schema::users;
    use confab::domain::{Password, Username};
    use diesel::prelude::*;
    let app = TestApp::spawn().await;
    // Three accounts as an older confab (or a script) wrote them: no keys,
    // and two names that differ only in case.
    let name = Username::parse("Bob").unwrap();
    let password = Password::parse("correct horse battery", &name).unwrap();
    let hash = confab::passwords::hash_here(&password).unwrap();
    app.database()
        .run_here(|conn| {
            for name in ["Bob", "bob", "carol"] {
                diesel::insert_into(users::table)
                    .values((
                        users::username.eq(name),
                        users::password_hash.eq(&hash),
                        users::is_staff.eq(false),
                        users::created_at.eq(queries::now()),
                    ))
                    .execute(conn)?;
            }
            Ok(())
        })
        .unwrap();
    let app = app.restart().await;
    let keys: Vec<(String, Option<String>, Option<String>)> = app
        .database()
        .run_here(|conn| {
            Ok(users::table
                .order(users::id)
                .select((
                    users::username,
                    users::username_folded,
                    users::username_skeleton,
                ))
                .load(conn)?)
        })
        .unwrap();
    assert_eq!(
        keys,
        [
            ("Bob".into(), Some("bob".into()), Some("bob".into())),
            ("bob".into(), None, None),
            ("carol".into(), Some("carol".into()), Some("carol".into())),
        ],
        "the older of the two keeps the keys; start-up did not fail"
    );
    for name in ["Bob", "bob"] {
        let res = app
            .browser()
            .login(name, "correct horse battery", "/chat/")
            .await;
        assert_eq!(res.status(), 303, "{name} logs in by its exact name");
    }
    for name in ["BOB", "Carol", "caroI"] {
        let res = app.browser().signup(name, "another password").await;
        assert_eq!(res.status(), 400, "{name} is taken");
    }
}

on_every_backend!(wrong_password_gives_the_form_back);
async fn wrong_password_gives_the_form_back() {
    let app = TestApp::spawn().await;
    app.user("alice").await;
    let browser = app.browser();
    let res = browser.login("alice", "not the password", "/chat/").await;
    assert_eq!(res.status(), 400);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Wrong username or password")
    );
    let res = browser.login("nobody", "not the password", "/chat/").await;
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Wrong username or password")
    );
    assert_eq!(browser.get("/chat/").await.status(), 302, "still anonymous");

    let res = browser
        .login("alice", "correct horse battery", "/chat/")
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(browser.get("/chat/").await.status(), 200);
}

on_every_backend!(logout_ends_the_session);
async fn logout_ends_the_session() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    assert_eq!(alice.get("/chat/").await.status(), 200);
    let token = alice.csrf_token("/accounts/logout/").await;
    let res = alice
        .post_form("/accounts/logout/", &[("csrf_token", &token)])
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(alice.get("/chat/").await.status(), 302);
}

on_every_backend!(forms_without_the_csrf_token_are_refused);
async fn forms_without_the_csrf_token_are_refused() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    // A session exists (the form was shown) but the token is missing or wrong.
    browser.csrf_token("/accounts/signup/").await;
    for token in ["", "0000"] {
        let res = browser
            .post_form(
                "/accounts/signup/",
                &[
                    ("csrf_token", token),
                    ("username", "mallory"),
                    ("password", "correct horse"),
                    ("password2", "correct horse"),
                ],
            )
            .await;
        assert_eq!(res.status(), 403);
        assert!(res.text().await.unwrap().contains("reload the page"));
    }
    // No session at all (a cross-site form post carries no cookie).
    let res = app
        .browser()
        .post_form("/accounts/login/", &[("username", "x"), ("password", "y")])
        .await;
    assert_eq!(res.status(), 403);

    let alice = app.user("alice").await;
    let res = alice
        .post_form("/accounts/logout/", &[("csrf_token", "forged")])
        .await;
    assert_eq!(res.status(), 403);
    assert_eq!(alice.get("/chat/").await.status(), 200, "still signed in");
    let res = app.browser().signup("mallory", "correct horse").await;
    assert_eq!(res.status(), 303, "a fresh token works");
}

on_every_backend!(the_session_cookie_is_http_only_and_lax);
async fn the_session_cookie_is_http_only_and_lax() {
    let app = TestApp::spawn().await;
    let res = app.browser().get("/accounts/login/").await;
    let cookie = res
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap()
        .to_owned();
    assert!(cookie.starts_with("confab_session="), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
}

/// Where a server without `CONFAB_SECRET_KEY` keeps its generated cookie
/// key: beside its SQLite file (PostgreSQL has no such place, so these
/// tests are SQLite's alone).
fn key_file(database_url: &str) -> PathBuf {
    PathBuf::from(format!("{database_url}.secret"))
}

#[actix_web::test]
async fn without_a_configured_key_one_is_generated_and_logins_survive_a_restart() {
    let app = TestApp::spawn_on(Backend::Sqlite, |s| s.secret_key = None).await;
    let file = key_file(&app.settings.database_url);
    let saved = std::fs::read_to_string(&file).expect("the key file was written");
    let key = hex::decode(saved.trim()).expect("the key is hex");
    assert!(key.len() >= 32, "{} bytes", key.len());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "only the owner may read it");
    }
    let alice = app.user("alice").await;
    assert_eq!(alice.get("/chat/").await.status(), 200);

    app.stop().await;
    let app = app.start_again().await;
    assert_eq!(
        alice.get("/chat/").await.status(),
        200,
        "the cookie is still valid"
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), saved, "kept");

    // The key really comes from the file: another one signs alice out.
    app.stop().await;
    std::fs::write(&file, hex::encode([7u8; 32])).unwrap();
    let _app = app.start_again().await;
    assert_eq!(alice.get("/chat/").await.status(), 302, "signed out");
}

#[actix_web::test]
async fn a_key_file_too_short_or_not_hex_stops_start_up_naming_the_file() {
    for (contents, says) in [
        (hex::encode([1u8; 31]), "shorter than 32 bytes"),
        ("not a hex key at all".to_owned(), "Invalid character"),
    ] {
        let database = TestDatabase::create(Backend::Sqlite);
        let file = key_file(&database.url);
        std::fs::write(&file, &contents).unwrap();
        let mut settings = test_settings(&database.url);
        settings.secret_key = None;
        let error = Application::build(settings)
            .await
            .err()
            .unwrap_or_else(|| panic!("started with the key file {contents:?}"))
            .to_string();
        assert!(
            error.contains(&file.display().to_string()) && error.contains(says),
            "{contents:?}: {error}"
        );
        assert_eq!(std::fs::read_to_string(&file).unwrap(), contents, "kept");
    }
}
