//! A frame too big is refused at its header: the server closes the socket
//! with 1009 before it buffers more than the frame limit and one read,
//! however much the client announces and streams.

use crate::common::{PATIENCE, RawSocket, TestApp, read_join_burst, serve_binary, socket_to};
use futures_util::future::join_all;
use futures_util::{SinkExt, StreamExt};
use tokio::io::AsyncWriteExt;
use tokio_tungstenite::tungstenite::Message;

/// A masked text frame header announcing a 1 GiB payload.
const GIGABYTE_HEADER: [u8; 14] = [0x81, 0x80 | 127, 0, 0, 0, 0, 0x40, 0, 0, 0, 1, 2, 3, 4];

/// A field of `/proc/PID/status`, in KiB.
fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"));
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Streams toward a 1 GiB frame: the header, then zeros, until the server
/// stops taking them or `most` bytes are sent.
async fn stream_toward_a_gigabyte(ws: &mut RawSocket, most: usize) {
    let raw = ws.get_mut();
    if raw.write_all(&GIGABYTE_HEADER).await.is_err() {
        return;
    }
    let chunk = vec![0u8; 64 * 1024];
    let mut sent = 0;
    while sent < most {
        if raw.write_all(&chunk).await.is_err() {
            return;
        }
        sent += chunk.len();
    }
}

/// How the socket ended: the close code, if a close frame came first.
async fn close_code(ws: &mut RawSocket) -> Option<u16> {
    loop {
        match tokio::time::timeout(PATIENCE, ws.next()).await {
            Err(_) => panic!("the socket was never closed"),
            Ok(Some(Ok(Message::Close(frame)))) => return frame.map(|f| f.code.into()),
            Ok(Some(Ok(_))) => continue,
            // Reset while we were still writing: closed all the same.
            Ok(Some(Err(_)) | None) => return None,
        }
    }
}

#[actix_web::test]
async fn sockets_streaming_toward_gigabyte_frames_are_closed_at_the_header() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    assert_eq!(alice.get("/chat/lobby/").await.status(), 200);
    // The real binary, alone in its process, so its memory is its own.
    let (child, port) = serve_binary(&app, &[("CONFAB_MAX_SOCKETS_PER_USER", "0")]).await;
    let connect = || async {
        let mut ws = socket_to(port, &alice, "lobby").await;
        read_join_burst(&mut ws).await;
        ws
    };

    // One socket that stops right after the header gets a clean 1009.
    let mut one = connect().await;
    stream_toward_a_gigabyte(&mut one, 0).await;
    assert_eq!(close_code(&mut one).await, Some(1009));

    // Twenty that keep streaming (up to 32 MiB each) cost the server
    // almost nothing: its peak memory grows by far less than 50 MB.
    let mut sockets = Vec::new();
    for _ in 0..20 {
        sockets.push(connect().await);
    }
    let pid = child.0.id();
    let before = status_kib(pid, "VmRSS:");
    join_all(
        sockets
            .iter_mut()
            .map(|ws| stream_toward_a_gigabyte(ws, 32 << 20)),
    )
    .await;
    for ws in &mut sockets {
        let code = close_code(ws).await;
        assert!(matches!(code, None | Some(1009)), "closed with {code:?}");
    }
    let peak = status_kib(pid, "VmHWM:");
    eprintln!("server RSS before the attack {before} KiB, peak {peak} KiB");
    assert!(
        peak.saturating_sub(before) < 50 * 1024,
        "server peak RSS {peak} KiB against {before} KiB before the attack"
    );
    // And it carries on serving.
    let mut after = connect().await;
    after
        .send(Message::text(r#"{"message":"still here"}"#))
        .await
        .unwrap();
    loop {
        match tokio::time::timeout(PATIENCE, after.next()).await {
            Ok(Some(Ok(Message::Text(t)))) if t.contains("still here") => break,
            Ok(Some(Ok(_))) => continue,
            other => panic!("no echo after the attack: {other:?}"),
        }
    }
}
