//! How many sockets one user and one client address may hold, and whose
//! word counts for the client's address and host: a proxy's only when it
//! is one of `CONFAB_TRUSTED_PROXIES`.

use crate::common::{Browser, PATIENCE, TestApp, Ws};
use tokio_tungstenite::tungstenite::Error as WsError;

/// The HTTP status a refused handshake got.
fn refused_with(result: Result<Ws, WsError>) -> u16 {
    match result {
        Err(WsError::Http(response)) => response.status().as_u16(),
        Err(other) => panic!("refused, but not over HTTP: {other}"),
        Ok(_) => panic!("the handshake was accepted"),
    }
}

/// Creates the room `lobby` (as visiting it does).
async fn open_lobby(who: &Browser) {
    assert_eq!(who.get("/chat/lobby/").await.status(), 200);
}

async fn from(app: &TestApp, who: &Browser, forwarded_for: &str) -> Result<Ws, WsError> {
    app.connect_with_headers(
        who,
        "lobby",
        &app.origin(),
        &[("X-Forwarded-For", forwarded_for)],
    )
    .await
}

#[actix_web::test]
async fn one_user_may_hold_only_so_many_sockets() {
    let app = TestApp::spawn_with(|s| s.max_sockets_per_user = 2).await;
    let alice = app.user("alice").await;
    open_lobby(&alice).await;
    let first = app.connect(&alice, "lobby").await.expect("first socket");
    let _second = app.connect(&alice, "lobby").await.expect("second socket");
    assert_eq!(refused_with(app.connect(&alice, "lobby").await), 429);
    // Another user is not held back by alice's sockets.
    let bob = app.user("bob").await;
    app.connect(&bob, "lobby").await.expect("bob's socket");

    // Closing one gives its place back.
    first.close().await;
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while app.connect(&alice, "lobby").await.is_err() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the closed socket's place never came back"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[actix_web::test]
async fn forwarded_for_from_an_untrusted_peer_does_not_escape_the_address_cap() {
    let app = TestApp::spawn_with(|s| s.max_sockets_per_address = 2).await;
    let [a, b, c] = [
        app.user("alice").await,
        app.user("bob").await,
        app.user("carol").await,
    ];
    open_lobby(&a).await;
    let _a = from(&app, &a, "203.0.113.1").await.expect("first");
    let _b = from(&app, &b, "203.0.113.2").await.expect("second");
    // All three come from 127.0.0.1, whatever they claim.
    assert_eq!(refused_with(from(&app, &c, "203.0.113.3").await), 429);
}

#[actix_web::test]
async fn a_trusted_proxy_names_the_client_address_that_is_capped() {
    let app = TestApp::spawn_with(|s| {
        s.max_sockets_per_address = 2;
        s.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    let [a, b, c] = [
        app.user("alice").await,
        app.user("bob").await,
        app.user("carol").await,
    ];
    open_lobby(&a).await;
    let _a = from(&app, &a, "203.0.113.1").await.expect("first");
    let _b = from(&app, &b, "203.0.113.1").await.expect("second");
    assert_eq!(refused_with(from(&app, &c, "203.0.113.1").await), 429);
    // A client that claims an address to the left of what the proxy saw
    // is still counted as what the proxy saw.
    assert_eq!(
        refused_with(from(&app, &c, "198.51.100.9, 203.0.113.1").await),
        429
    );
    from(&app, &c, "203.0.113.2")
        .await
        .expect("another client address");
}

#[actix_web::test]
async fn a_forwarded_host_counts_only_from_a_trusted_proxy() {
    let headers = [("X-Forwarded-Host", "chat.example")];
    let open = TestApp::spawn().await;
    let alice = open.user("alice").await;
    open_lobby(&alice).await;
    let forged = open
        .connect_with_headers(&alice, "lobby", "http://chat.example", &headers)
        .await;
    assert_eq!(refused_with(forged), 403, "anyone may send the header");

    let proxied = TestApp::spawn_with(|s| {
        s.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    let alice = proxied.user("alice").await;
    open_lobby(&alice).await;
    proxied
        .connect_with_headers(&alice, "lobby", "http://chat.example", &headers)
        .await
        .expect("the trusted proxy says which host was asked for");
}
