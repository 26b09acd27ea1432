//! Guessing passwords and mass sign-up, refused before any hashing: failed
//! logins per account and address, failed logins per address, sign-ups per
//! address (each 429 with `Retry-After`), and the bounded hashing queue
//! (503 with `Retry-After`). Failed logins are logged with the name tried
//! and the client address.

use crate::common::{Browser, TestApp, serve_binary_logging};
use futures_util::future::join_all;

const PASSWORD: &str = "correct horse battery";

/// The `Retry-After` of a response, in seconds.
fn retry_after(res: &reqwest::Response) -> Option<u64> {
    res.headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

/// A failed login as `name` from `client`, as a trusted proxy on
/// 127.0.0.1 would pass it on.
async fn login_from(
    app: &TestApp,
    browser: &Browser,
    client: &str,
    name: &str,
) -> reqwest::Response {
    let token = browser.csrf_token("/accounts/login/").await;
    browser
        .http
        .post(app.url("/accounts/login/"))
        .header("X-Forwarded-For", client)
        .form(&[
            ("csrf_token", token.as_str()),
            ("username", name),
            ("password", "not the password"),
        ])
        .send()
        .await
        .unwrap()
}

/// A counter from the server's `/metrics`.
async fn counter(browser: &Browser, name: &str) -> u64 {
    let text = browser.text("/metrics").await;
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{name} in {text}"))
}

on_every_backend!(the_sixth_failed_login_for_an_account_gets_429_until_the_window_passes);
async fn the_sixth_failed_login_for_an_account_gets_429_until_the_window_passes() {
    let app = TestApp::spawn().await;
    app.user("alice").await;
    let guesser = app.browser();
    // Any case of the name is the same account.
    for name in ["alice", "Alice", "ALICE", "alice", "aLiCe"] {
        let res = guesser.login(name, "not the password", "/chat/").await;
        assert_eq!(res.status(), 400, "{name}: an ordinary failure");
    }
    for password in ["still not it", PASSWORD] {
        let res = guesser.login("alice", password, "/chat/").await;
        assert_eq!(res.status(), 429, "refused, even the right password");
        let wait = retry_after(&res).expect("Retry-After");
        assert!((1..=15 * 60).contains(&wait), "{wait}");
        let page = res.text().await.unwrap();
        assert!(
            page.contains("Too many failed logins for this account from your address")
                && page.contains("try again in"),
            "{page}"
        );
    }
    assert_eq!(guesser.get("/chat/").await.status(), 302, "not signed in");
    // Other accounts from the same address are not held back.
    app.user("bob").await;
    let res = guesser.login("bob", PASSWORD, "/chat/").await;
    assert_eq!(res.status(), 303);
}

on_every_backend!(successful_logins_are_not_counted_and_forgive_earlier_mistakes);
async fn successful_logins_are_not_counted_and_forgive_earlier_mistakes() {
    let app = TestApp::spawn_with(|s| s.login_failures_per_account = 2).await;
    app.user("alice").await;
    let browser = app.browser();
    for _ in 0..3 {
        let res = browser.login("alice", PASSWORD, "/chat/").await;
        assert_eq!(res.status(), 303, "successes never count");
    }
    let res = browser.login("alice", "mistyped it", "/chat/").await;
    assert_eq!(res.status(), 400);
    assert_eq!(
        browser.login("alice", PASSWORD, "/chat/").await.status(),
        303
    );
    // The mistake was forgiven by the success: two more are allowed.
    for _ in 0..2 {
        let res = browser.login("alice", "mistyped it", "/chat/").await;
        assert_eq!(res.status(), 400);
    }
    let res = browser.login("alice", "mistyped it", "/chat/").await;
    assert_eq!(res.status(), 429);
}

on_every_backend!(failed_logins_from_one_address_are_throttled_whatever_the_account);
async fn failed_logins_from_one_address_are_throttled_whatever_the_account() {
    let app = TestApp::spawn_with(|s| {
        s.login_failures_per_address = 3;
        s.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    let browser = app.browser();
    let guesser = "203.0.113.7";
    for name in ["carol", "dave", "erin"] {
        assert_eq!(
            login_from(&app, &browser, guesser, name).await.status(),
            400
        );
    }
    assert_eq!(
        login_from(&app, &browser, guesser, "frank").await.status(),
        429
    );
    // The address is the one the trusted proxy names, not the proxy's.
    let other = login_from(&app, &browser, "203.0.113.8", "frank").await;
    assert_eq!(other.status(), 400);
    let res = login_from(&app, &browser, guesser, "grace").await;
    assert_eq!(res.status(), 429);
    let wait = retry_after(&res).expect("Retry-After");
    assert!((1..=60).contains(&wait), "within the minute: {wait}");
    let page = res.text().await.unwrap();
    assert!(
        page.contains("Too many failed logins from your address"),
        "{page}"
    );
}

on_every_backend!(signups_from_one_address_are_limited_per_hour);
async fn signups_from_one_address_are_limited_per_hour() {
    let app = TestApp::spawn_with(|s| s.signups_per_hour = 2).await;
    app.user("alice").await;
    // Refusals that hash nothing do not count.
    let res = app.browser().signup("Alice", PASSWORD).await;
    assert_eq!(res.status(), 400, "taken");
    let res = app.browser().signup("bob", "12345678").await;
    assert_eq!(res.status(), 400, "weak");
    app.user("bob").await;
    let res = app.browser().signup("carol", PASSWORD).await;
    assert_eq!(res.status(), 429);
    let wait = retry_after(&res).expect("Retry-After");
    assert!((1..=3600).contains(&wait), "{wait}");
    let page = res.text().await.unwrap();
    assert!(
        page.contains("Too many accounts were created from your address in the last hour"),
        "{page}"
    );
    // The accounts that exist log in as ever.
    let res = app.browser().login("alice", PASSWORD, "/chat/").await;
    assert_eq!(res.status(), 303);
}

on_every_backend!(a_full_hashing_queue_answers_503_with_retry_after);
async fn a_full_hashing_queue_answers_503_with_retry_after() {
    let app = TestApp::spawn_with(|s| {
        s.hash_queue = 1;
        // One failure per name: a second try shows whether the first counted.
        s.login_failures_per_account = 1;
    })
    .await;
    // One browser each, with its form already loaded, so that the logins
    // reach the server together.
    let mut ready = Vec::new();
    for i in 0..16 {
        let browser = app.browser();
        let token = browser.csrf_token("/accounts/login/").await;
        ready.push((format!("nobody{i}"), browser, token));
    }
    let responses = join_all(ready.iter().map(|(name, browser, token)| async move {
        let res = browser
            .post_form(
                "/accounts/login/",
                &[
                    ("csrf_token", token),
                    ("username", name),
                    ("password", "not the password"),
                ],
            )
            .await;
        (name, browser, res)
    }))
    .await;
    let (mut busy, mut failed) = (None, None);
    for (name, browser, res) in responses {
        match res.status().as_u16() {
            400 => failed = Some((name, browser)),
            503 => {
                assert_eq!(retry_after(&res), Some(2));
                let page = res.text().await.unwrap();
                assert!(
                    page.contains("checking too many passwords") && page.contains("try again"),
                    "{page}"
                );
                busy = Some((name, browser));
            }
            other => panic!("{other}: {}", res.text().await.unwrap()),
        }
    }
    let (busy, failed) = (
        busy.expect("some were turned away"),
        failed.expect("some ran"),
    );
    // A login turned away was never checked, so it did not count as a
    // failure; one that was checked did.
    let res = busy.1.login(busy.0, "not the password", "/chat/").await;
    assert_eq!(res.status(), 400, "{} tries again", busy.0);
    let res = failed.1.login(failed.0, "not the password", "/chat/").await;
    assert_eq!(res.status(), 429, "{} is throttled", failed.0);
}

on_every_backend!(failed_logins_are_logged_and_throttled_ones_cost_no_hash);
async fn failed_logins_are_logged_and_throttled_ones_cost_no_hash() {
    let app = TestApp::spawn().await;
    app.user("alice").await;
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("confab.log");
    let log = std::fs::File::create(&log_path).unwrap();
    // The real binary, alone in its process, so its counters and its log
    // are this test's only.
    let (_child, port) =
        serve_binary_logging(&app, &[("CONFAB_LOGIN_FAILURES_PER_ACCOUNT", "2")], log).await;
    let browser = app.browser_on(port);
    let hashes = counter(&browser, "confab_password_hashes_total").await;
    for _ in 0..2 {
        let res = browser.login("alice", "not the password", "/chat/").await;
        assert_eq!(res.status(), 400);
    }
    assert_eq!(
        counter(&browser, "confab_password_hashes_total").await,
        hashes + 2
    );
    for password in ["not the password", PASSWORD, "another guess"] {
        let res = browser.login("alice", password, "/chat/").await;
        assert_eq!(res.status(), 429);
    }
    assert_eq!(
        counter(&browser, "confab_password_hashes_total").await,
        hashes + 2,
        "no Argon2 run for a throttled login"
    );
    assert_eq!(
        counter(&browser, "confab_accounts_throttled_total").await,
        3
    );
    let log = std::fs::read_to_string(&log_path).unwrap();
    let failed = log
        .lines()
        .filter(|l| l.contains("WARN") && l.contains("failed login as \"alice\" from 127.0.0.1"))
        .count();
    assert_eq!(failed, 2, "{log}");
    assert!(
        log.contains("login as \"alice\" from 127.0.0.1 refused: too many failed logins"),
        "{log}"
    );
}
