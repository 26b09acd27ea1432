//! Stopping a server: SIGTERM closes every socket with 1001 "going away"
//! (so clients reconnect, to another instance, and resume), and the process
//! exits cleanly.

use crate::common::{PATIENCE, TestApp, read_join_burst, serve_binary, socket_to};
use futures_util::StreamExt;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

on_every_backend!(sigterm_closes_sockets_with_going_away_and_exits_cleanly);
async fn sigterm_closes_sockets_with_going_away_and_exits_cleanly() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    assert_eq!(
        alice.get("/chat/lobby/").await.status(),
        200,
        "the room exists"
    );
    // The real binary, on the same database, as a deployment runs it.
    let (mut child, port) = serve_binary(&app, &[]).await;
    let mut ws = socket_to(port, &alice, "lobby").await;
    // The join burst: the socket is in its room.
    read_join_burst(&mut ws).await;

    let pid = child.0.id().to_string();
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(kill.success());
    let close = loop {
        match tokio::time::timeout(PATIENCE, ws.next())
            .await
            .expect("a close in time")
        {
            Some(Ok(Message::Close(frame))) => break frame.map(|f| u16::from(f.code)),
            Some(Ok(_)) => continue,
            other => panic!("no close frame: {other:?}"),
        }
    };
    assert_eq!(close, Some(1001));
    let mut status = None;
    for _ in 0..200 {
        status = child.0.try_wait().unwrap();
        if status.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let status = status.expect("the process exits after SIGTERM");
    assert!(status.success(), "exit status {status}");
}
