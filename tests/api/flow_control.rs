//! Flow control: a burst reaches every member who reads, whole and in one
//! order; a pipelining client is queued, not refused; and only a client
//! that leaves too much unread for too long (or reads nothing at all) is
//! disconnected, with the server's memory bounded meanwhile.
//!
//! The write allowance is off here (the test settings' default, and set
//! for the server process), so nothing but flow control is under test.

use crate::common::{
    Event, PATIENCE, RawSocket, TestApp, Ws, read_join_burst, serve_binary, socket_to,
};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

/// The next `count` chat messages `ws` receives, as `(user, message)`;
/// panics on an error frame or a close.
async fn chat_messages(ws: &mut Ws, count: usize) -> Vec<(String, String)> {
    let mut got = Vec::with_capacity(count);
    while got.len() < count {
        match ws.next_event().await {
            Event::Frame(frame) => match frame["type"].as_str() {
                Some("chat_message") => got.push((
                    frame["user"].as_str().unwrap().to_owned(),
                    frame["message"].as_str().unwrap().to_owned(),
                )),
                Some("error") => panic!("an error in the burst: {frame}"),
                _ => {}
            },
            Event::Closed(close) => panic!("disconnected after {} messages: {close:?}", got.len()),
        }
    }
    got
}

on_every_backend!(a_burst_reaches_every_member_whole_and_in_one_order);
async fn a_burst_reaches_every_member_whole_and_in_one_order() {
    const MEMBERS: usize = 50;
    const SENDERS: usize = 10;
    const EACH: usize = 200;
    let app = TestApp::spawn_with(|s| {
        s.max_sockets_per_address = 0;
        // Fifty sign-ups take a while on a busy machine, and early members
        // are not read (so do not answer pings) meanwhile: the heartbeat
        // is not what this test is about.
        s.client_timeout = Duration::from_secs(600);
    })
    .await;
    let mut members = Vec::new();
    for i in 0..MEMBERS {
        let browser = app.user(&format!("member{i}")).await;
        let mut ws = app.join(&browser, "lobby").await;
        ws.joined().await;
        members.push(ws);
    }

    // Every sender pipelines its 200 posts in one write, all at once; then
    // every member (senders included) reads as fast as it can.
    let mut readers = Vec::new();
    for (i, mut ws) in members.into_iter().enumerate() {
        readers.push(actix_web::rt::spawn(async move {
            if i < SENDERS {
                let posts: Vec<Value> = (0..EACH)
                    .map(|n| json!({"type": "chat_message", "message": format!("{i}:{n}")}))
                    .collect();
                ws.send_together(&posts).await;
            }
            chat_messages(&mut ws, SENDERS * EACH).await
        }));
    }
    let mut seen = Vec::new();
    for reader in readers {
        seen.push(reader.await.expect("reader task"));
    }

    let first = &seen[0];
    for (i, other) in seen.iter().enumerate() {
        assert!(other == first, "member {i} saw another order");
    }
    // Each sender's posts were stored in the order it sent them.
    for sender in 0..SENDERS {
        let own: Vec<usize> = first
            .iter()
            .filter(|(user, _)| *user == format!("member{sender}"))
            .map(|(_, text)| text.split_once(':').unwrap().1.parse().unwrap())
            .collect();
        assert_eq!(own, (0..EACH).collect::<Vec<_>>(), "sender {sender}");
    }
}

on_every_backend!(a_pipelined_window_is_queued_in_order_never_refused);
async fn a_pipelined_window_is_queued_in_order_never_refused() {
    const WINDOW: usize = 300;
    let app = TestApp::spawn().await;
    let [mut a] = app.members("lobby", ["alice"]).await;
    let posts: Vec<Value> = (0..WINDOW)
        .map(|n| json!({"type": "chat_message", "message": format!("{n}")}))
        .collect();
    a.send_together(&posts).await;
    // Errors (a `rate_limited`) would fail the helper.
    let echoed = chat_messages(&mut a, WINDOW).await;
    let texts: Vec<String> = echoed.into_iter().map(|(_, text)| text).collect();
    assert_eq!(
        texts,
        (0..WINDOW).map(|n| n.to_string()).collect::<Vec<_>>()
    );
    // And stored: a newcomer's history ends with the last ten of them.
    let bob = app.user("bob").await;
    let (history, _) = app.join(&bob, "lobby").await.joined().await;
    let last: Vec<&str> = history
        .iter()
        .map(|m| m["message"].as_str().unwrap())
        .collect();
    let expected: Vec<String> = (WINDOW - 10..WINDOW).map(|n| n.to_string()).collect();
    assert_eq!(last, expected);
}

on_every_backend!(a_client_that_reads_with_pauses_is_not_dropped);
async fn a_client_that_reads_with_pauses_is_not_dropped() {
    let app = TestApp::spawn_with(|s| {
        s.slow_client = Duration::from_secs(2);
    })
    .await;
    let [mut a, mut slow] = app.members("lobby", ["alice", "slowpoke"]).await;
    // 600 frames (far more than any frame count the server might allow)
    // while `slow` looks away for 3 s, twice.
    let text = "x".repeat(1000);
    for round in 0..2 {
        let posts: Vec<Value> = (0..300)
            .map(|n| json!({"type": "chat_message", "message": format!("{round}:{n} {text}")}))
            .collect();
        a.send_together(&posts).await;
        chat_messages(&mut a, 300).await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        let got = chat_messages(&mut slow, 300).await;
        assert!(got[299].1.starts_with(&format!("{round}:299 ")));
    }
    slow.say("still here").await;
    assert_eq!(a.next_of("chat_message").await["message"], "still here");
    assert_eq!(slow.next_of("chat_message").await["message"], "still here");
}

/// A socket to `room` on the server at `port` whose TCP receive buffer is
/// a few kilobytes, so that its window closes as soon as it stops reading.
async fn small_window_socket(port: u16, cookie: HeaderValue, room: &str) -> RawSocket {
    let mut request = format!("ws://127.0.0.1:{port}/ws/chat/{room}/")
        .into_client_request()
        .unwrap();
    request.headers_mut().insert("Cookie", cookie);
    request.headers_mut().insert(
        "Origin",
        HeaderValue::from_str(&format!("http://127.0.0.1:{port}")).unwrap(),
    );
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = socket
        .connect(format!("127.0.0.1:{port}").parse().unwrap())
        .await
        .unwrap();
    let (ws, _) =
        tokio_tungstenite::client_async(request, tokio_tungstenite::MaybeTlsStream::Plain(stream))
            .await
            .expect("handshake accepted");
    ws
}

/// The resident memory of process `pid`, in bytes.
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("process status");
    let kb: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS");
    kb * 1024
}

/// Whether process `pid` still holds a socket for the TCP connection from
/// local port `client_port` to `server_port`: the connection's inode in
/// the kernel's table, among the process's open files.
fn holds_connection(pid: u32, server_port: u16, client_port: u16) -> bool {
    let table = std::fs::read_to_string(format!("/proc/{pid}/net/tcp")).expect("tcp table");
    let port_of = |address: &str| {
        address
            .split_once(':')
            .and_then(|(_, port)| u16::from_str_radix(port, 16).ok())
    };
    let inode = table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        (port_of(fields[1]) == Some(server_port) && port_of(fields[2]) == Some(client_port))
            .then(|| fields[9].to_owned())
    });
    let Some(inode) = inode.filter(|inode| inode != "0") else {
        return false;
    };
    let wanted = format!("socket:[{inode}]");
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("open files")
        .filter_map(Result::ok)
        .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|link| link.to_string_lossy() == wanted))
}

/// Reads chat messages from `stream` until `count` have come, checking
/// they are `0 …`, `1 …`, … in order; returns how many came.
async fn read_in_order(
    mut stream: futures_util::stream::SplitStream<RawSocket>,
    count: usize,
) -> usize {
    let mut next = 0;
    while next < count {
        let frame = tokio::time::timeout(PATIENCE, stream.next())
            .await
            .expect("a frame in time");
        let Some(Ok(Message::Text(text))) = frame else {
            match frame {
                Some(Ok(_)) => continue,
                other => panic!("a reader was disconnected after {next}: {other:?}"),
            }
        };
        let frame: Value = serde_json::from_str(&text).unwrap();
        match frame["type"].as_str() {
            Some("chat_message") => {
                let message = frame["message"].as_str().unwrap();
                assert!(message.starts_with(&format!("{next} ")), "in order");
                next += 1;
            }
            Some("error") => panic!("an error in the burst: {frame}"),
            _ => {}
        }
    }
    next
}

#[actix_web::test]
async fn a_member_that_never_reads_is_dropped_in_time_and_memory_stays_bounded() {
    const POSTS: usize = 4000;
    const CLIENT_TIMEOUT: u64 = 5;
    let app = TestApp::spawn().await;
    let sender = app.user("sender").await;
    let reader = app.user("reader").await;
    let stalled = app.user("stalled").await;
    // The room exists once a page of it was seen.
    assert_eq!(sender.get("/chat/lobby/").await.status(), 200);
    let (server, port) = serve_binary(
        &app,
        &[
            ("CONFAB_WRITE_PER_SEC", "0"),
            ("CONFAB_HEARTBEAT_SECS", "2"),
            ("CONFAB_CLIENT_TIMEOUT_SECS", "5"),
            ("CONFAB_SLOW_CLIENT_SECS", "3"),
        ],
    )
    .await;
    let pid = server.0.id();

    let mut s = socket_to(port, &sender, "lobby").await;
    read_join_burst(&mut s).await;
    let mut r = socket_to(port, &reader, "lobby").await;
    read_join_burst(&mut r).await;
    let mut n = small_window_socket(port, stalled.cookie_header().unwrap(), "lobby").await;
    read_join_burst(&mut n).await;
    let n_port = match n.get_ref() {
        tokio_tungstenite::MaybeTlsStream::Plain(tcp) => tcp.local_addr().unwrap().port(),
        _ => unreachable!("a plain socket"),
    };
    // From here on `n` is never read.
    assert!(holds_connection(pid, port, n_port));
    let start_rss = rss(pid);

    let (mut s_sink, s_stream) = s.split();
    let (_r_sink, r_stream) = r.split();
    let s_reader = actix_web::rt::spawn(read_in_order(s_stream, POSTS));
    let r_reader = actix_web::rt::spawn(read_in_order(r_stream, POSTS));

    // 4,000 posts of 1,000 characters over about 15 s: over 4 MiB for the
    // member that does not read.
    let text = "m".repeat(1000);
    let burst_start = Instant::now();
    let mut dropped_at = None;
    let mut peak_rss = start_rss;
    for batch in 0..100 {
        for i in 0..POSTS / 100 {
            let frame =
                json!({"type": "chat_message", "message": format!("{} {text}", batch * 40 + i)});
            s_sink
                .feed(Message::text(frame.to_string()))
                .await
                .expect("queue a post");
        }
        s_sink.flush().await.expect("send posts");
        tokio::time::sleep(Duration::from_millis(150)).await;
        peak_rss = peak_rss.max(rss(pid));
        if dropped_at.is_none() && !holds_connection(pid, port, n_port) {
            dropped_at = Some(burst_start.elapsed());
        }
    }
    assert_eq!(s_reader.await.expect("sender's reader"), POSTS);
    assert_eq!(r_reader.await.expect("reader's reader"), POSTS);
    while dropped_at.is_none() && burst_start.elapsed() < Duration::from_secs(CLIENT_TIMEOUT + 12) {
        tokio::time::sleep(Duration::from_millis(200)).await;
        if !holds_connection(pid, port, n_port) {
            dropped_at = Some(burst_start.elapsed());
        }
    }

    // Its buffers filled after the burst began, so this is within the
    // rule's CLIENT_TIMEOUT + 10 s of the first byte it did not accept.
    let dropped_at = dropped_at.expect("the server let go of the member that never reads");
    assert!(
        dropped_at <= Duration::from_secs(CLIENT_TIMEOUT + 10),
        "dropped {dropped_at:?} after the burst began"
    );
    eprintln!(
        "non-reader dropped {dropped_at:?} after the burst began; RSS {start_rss} -> peak {peak_rss}"
    );
    let bound = start_rss + 4 * 1024 * 1024 + 50 * 1024 * 1024;
    assert!(
        peak_rss < bound,
        "RSS peaked at {peak_rss} bytes, from {start_rss}"
    );
    drop(n);
}
