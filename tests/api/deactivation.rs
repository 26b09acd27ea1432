//! Deactivated accounts and passwords staff set, over HTTP: a deactivated
//! user cannot log in and is signed out everywhere; a user whose password
//! staff set logs in with it and must choose their own before anything
//! else.

use crate::common::{Browser, TestApp};
use confab::db::queries::users;
use confab::domain::{Password, Reason, Username};
use confab::moderation::{Action, Actor, Limits, apply};
use tokio_tungstenite::tungstenite;

const PASSWORD: &str = "correct horse battery";

/// Applies `action` as the command line would, on the app's database.
fn act(app: &TestApp, action: Action) {
    let limits = Limits::from_settings(&app.settings);
    app.database()
        .run_here(|c| Ok(apply(c, &Actor::Cli, &action, &limits)))
        .unwrap()
        .unwrap_or_else(|e| panic!("refused: {e}"));
}

fn bob() -> Username {
    Username::parse("bob").unwrap()
}

/// Makes the room the sockets open.
fn lobby(app: &TestApp) {
    act(
        app,
        Action::CreateRoom {
            name: confab::domain::RoomName::parse("lobby").unwrap(),
            access: confab::moderation::Access::Public,
        },
    );
}

/// Where a redirect points.
fn location(res: &reqwest::Response) -> &str {
    res.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// Whether `browser` may open a chat socket, or the status it is refused with.
async fn handshake(app: &TestApp, browser: &Browser) -> Result<(), u16> {
    match app.connect(browser, "lobby").await {
        Ok(ws) => {
            ws.close().await;
            Ok(())
        }
        Err(tungstenite::Error::Http(res)) => Err(res.status().as_u16()),
        Err(e) => panic!("the handshake failed otherwise: {e}"),
    }
}

on_every_backend!(a_deactivated_account_is_told_so_at_login_and_gets_no_session);
async fn a_deactivated_account_is_told_so_at_login_and_gets_no_session() {
    let app = TestApp::spawn().await;
    let signed_in = app.user("bob").await;
    assert_eq!(signed_in.get("/chat/").await.status(), 200);

    act(
        &app,
        Action::Deactivate {
            user: bob(),
            reason: Reason::parse("spam", 500).unwrap(),
        },
    );
    let res = signed_in.get("/chat/").await;
    assert_eq!(res.status(), 302, "the open session ended");
    assert!(location(&res).starts_with("/accounts/login/"));

    let browser = app.browser();
    let res = browser.login("bob", PASSWORD, "/chat/").await;
    assert_eq!(res.status(), 400);
    let page = res.text().await.unwrap();
    assert!(page.contains("This account is deactivated."), "{page}");
    assert_eq!(
        browser.get("/chat/").await.status(),
        302,
        "no session was started"
    );
    // Only who knows the password learns that the account exists.
    let res = browser.login("bob", "not the password", "/chat/").await;
    assert_eq!(res.status(), 400);
    let page = res.text().await.unwrap();
    assert!(page.contains("Wrong username or password."), "{page}");
    assert!(!page.contains("deactivated"), "{page}");

    act(&app, Action::Reactivate { user: bob() });
    let res = browser.login("bob", PASSWORD, "/chat/").await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/chat/");
    assert_eq!(browser.get("/chat/").await.status(), 200);
}

on_every_backend!(a_session_of_a_deactivated_account_counts_as_signed_out);
async fn a_session_of_a_deactivated_account_counts_as_signed_out() {
    // Deactivation deletes the sessions; a session that outlived it (one
    // made in a race with it) still opens nothing.
    let app = TestApp::spawn().await;
    let browser = app.user("bob").await;
    lobby(&app);
    assert_eq!(handshake(&app, &browser).await, Ok(()));
    app.database()
        .run_here(|c| {
            let id = users::by_username(c, "bob")?.unwrap().id;
            users::set_deactivated(c, id, Some(confab::db::queries::now()))
        })
        .unwrap();
    let res = browser.get("/chat/lobby/").await;
    assert_eq!(res.status(), 302);
    assert!(location(&res).starts_with("/accounts/login/"));
    assert_eq!(handshake(&app, &browser).await, Err(403));
}

on_every_backend!(a_password_staff_set_must_be_changed_before_anything_else);
async fn a_password_staff_set_must_be_changed_before_anything_else() {
    let app = TestApp::spawn().await;
    let old = app.user("bob").await;
    lobby(&app);
    let given = "temporary password 1";
    let hash = confab::passwords::hash_here(&Password::parse(given, &bob()).unwrap()).unwrap();
    act(&app, Action::SetPassword { user: bob(), hash });
    assert_eq!(
        old.get("/chat/").await.status(),
        302,
        "the sessions from before ended"
    );
    let must_change = |app: &TestApp| {
        app.database()
            .run_here(|c| users::by_username(c, "bob"))
            .unwrap()
            .unwrap()
            .must_change_password
    };
    assert!(must_change(&app));

    // The old password is gone; the given one leads to the password form.
    let browser = app.browser();
    assert_eq!(browser.login("bob", PASSWORD, "/chat/").await.status(), 400);
    let res = browser.login("bob", given, "/chat/lobby/").await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/accounts/password/");

    // Every page sends them there; assets, logging out and the form do not.
    for page in ["/chat/", "/chat/lobby/", "/search/?q=hello", "/me/unread/"] {
        let res = browser.get(page).await;
        assert_eq!(res.status(), 303, "{page}");
        assert_eq!(location(&res), "/accounts/password/", "{page}");
    }
    assert_eq!(browser.get("/static/style.css").await.status(), 200);
    assert_eq!(browser.get("/accounts/logout/").await.status(), 200);
    assert_eq!(handshake(&app, &browser).await, Err(403));
    let form = browser.text("/accounts/password/").await;
    assert!(
        form.contains("Staff set a new password for your account"),
        "{form}"
    );

    // A wrong current password changes nothing.
    let token = browser.csrf_token("/accounts/password/").await;
    let change = |current: &'static str| {
        let token = token.clone();
        let browser = &browser;
        async move {
            browser
                .post_form(
                    "/accounts/password/",
                    &[
                        ("csrf_token", token.as_str()),
                        ("current", current),
                        ("password", "my own password 2"),
                        ("password2", "my own password 2"),
                    ],
                )
                .await
        }
    };
    let res = change("not it").await;
    assert_eq!(res.status(), 400);
    let page = res.text().await.unwrap();
    assert!(
        page.contains("Your current password is not right."),
        "{page}"
    );
    assert!(page.contains("Staff set a new password"), "{page}");
    assert!(must_change(&app));

    let res = change(given).await;
    assert_eq!(res.status(), 200);
    let page = res.text().await.unwrap();
    assert!(page.contains("Your password is changed"), "{page}");
    assert!(!page.contains("Staff set a new password"), "{page}");
    assert!(!must_change(&app));
    assert_eq!(browser.get("/chat/").await.status(), 200);
    assert_eq!(browser.get("/chat/lobby/").await.status(), 200);
    assert_eq!(handshake(&app, &browser).await, Ok(()));
    let again = app.browser();
    assert_eq!(
        again
            .login("bob", "my own password 2", "/chat/")
            .await
            .status(),
        303
    );
}

on_every_backend!(logging_out_works_before_the_password_is_changed);
async fn logging_out_works_before_the_password_is_changed() {
    let app = TestApp::spawn().await;
    app.user("bob").await;
    let given = "temporary password 1";
    let hash = confab::passwords::hash_here(&Password::parse(given, &bob()).unwrap()).unwrap();
    act(&app, Action::SetPassword { user: bob(), hash });
    let browser = app.browser();
    assert_eq!(browser.login("bob", given, "/chat/").await.status(), 303);
    let token = browser.csrf_token("/accounts/logout/").await;
    let res = browser
        .post_form("/accounts/logout/", &[("csrf_token", &token)])
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/accounts/login/");
    let res = browser.get("/accounts/password/").await;
    assert_eq!(res.status(), 302, "signed out");
    assert!(location(&res).starts_with("/accounts/login/"));
}
