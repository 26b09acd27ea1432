//! What the HTTP layer refuses or cuts, whatever actix-http would allow:
//! bodies announced with a `Transfer-Encoding`, connections kept alive
//! after their response, and requests whose head never finishes.

use crate::common::TestApp;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Longer than the 5 s the server gives a request head; it bounds a hang.
const CUT_WITHIN: Duration = Duration::from_secs(10);

async fn raw(app: &TestApp) -> TcpStream {
    TcpStream::connect(
        app.url("")
            .trim_start_matches("http://")
            .trim_end_matches('/'),
    )
    .await
    .expect("connect")
}

/// Everything the server sends until it closes the connection.
async fn until_closed(stream: &mut TcpStream) -> String {
    let mut all = Vec::new();
    tokio::time::timeout(CUT_WITHIN, stream.read_to_end(&mut all))
        .await
        .expect("the server closes the connection")
        .expect("read");
    String::from_utf8_lossy(&all).into_owned()
}

#[actix_web::test]
async fn a_body_announced_with_a_transfer_encoding_is_refused_unread() {
    let app = TestApp::spawn().await;
    for (request, status) in [
        (
            "GET /chat/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            ["400", "400"],
        ),
        (
            "POST /accounts/login/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            ["411", "411"],
        ),
        // The smuggler's pair: a length and a chunked body that disagree
        // (actix-http itself refuses this one with 400).
        (
            "POST /accounts/login/ HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\
             Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /chat/ HTTP/1.1\r\nHost: x\r\n\r\n",
            ["400", "411"],
        ),
    ] {
        let mut stream = raw(&app).await;
        stream.write_all(request.as_bytes()).await.unwrap();
        let answer = until_closed(&mut stream).await;
        assert!(
            status
                .iter()
                .any(|s| answer.starts_with(&format!("HTTP/1.1 {s}"))),
            "{request:?}: {answer}"
        );
        assert_eq!(
            answer.matches("HTTP/1.1 ").count(),
            1,
            "one answer, nothing smuggled behind it: {answer}"
        );
    }
}

#[actix_web::test]
async fn a_connection_ends_with_its_response_even_if_more_bytes_follow() {
    let app = TestApp::spawn().await;
    let mut stream = raw(&app).await;
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n")
        .await
        .unwrap();
    // One byte of a next request, as the keep-alive attack sends it; the
    // server may already have closed, so the write may fail.
    let _ = stream.write_all(b"G").await;
    let answer = until_closed(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("ok"), "only the one response: {answer}");
}

#[actix_web::test]
async fn a_request_head_that_never_finishes_is_cut() {
    let app = TestApp::spawn().await;
    let mut stream = raw(&app).await;
    stream
        .write_all(b"GET /chat/ HTTP/1.1\r\nHo")
        .await
        .unwrap();
    let answer = until_closed(&mut stream).await;
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
}
