//! Nothing acknowledged is lost, and the database's troubles reach clients
//! as `unavailable` to retry, not as hangs: writes of one room in flight
//! together keep their order, a PostgreSQL stopped and started again
//! mid-conversation is survived without restarting confab, a SQLite file
//! on a full disk refuses writes and keeps serving reads, and a process
//! killed mid-burst kept every message any client saw.

#[cfg(feature = "postgres")]
use crate::common::postgres::OwnPostgres;
use crate::common::{
    PATIENCE, RawSocket, TestApp, Ws, missing, read_join_burst, running_as_root, serve_binary,
    socket_to,
};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

/// How soon a write during an outage must be answered.
const ANSWERED_WITHIN: Duration = Duration::from_secs(2);

on_every_backend!(writes_in_flight_together_are_published_in_the_order_they_came);
async fn writes_in_flight_together_are_published_in_the_order_they_came() {
    let app = TestApp::spawn().await;
    let [mut alice, mut bob] = app.members("order", ["alice", "bob"]).await;
    alice.say("first").await;
    let first = bob.expect("chat_message").await["id"].as_i64().unwrap();
    alice.expect("chat_message").await;

    // Sent in one write: the room has all of them in flight at once.
    let mut frames = vec![
        json!({"type": "edit_message", "id": first, "message": "first!"}),
        json!({"type": "react", "id": first, "emoji": "👍"}),
    ];
    frames.extend((0..20).map(|i| json!({"type": "chat_message", "message": format!("m{i}")})));
    frames.push(json!({"type": "delete_message", "id": first}));
    alice.send_together(&frames).await;

    assert_eq!(bob.expect("message_edited").await["message"], "first!");
    assert_eq!(bob.expect("reaction").await["emoji"], "👍");
    let mut last = first;
    for i in 0..20 {
        let message = bob.expect("chat_message").await;
        assert_eq!(message["message"], format!("m{i}"), "{message}");
        let id = message["id"].as_i64().unwrap();
        assert!(
            id > last,
            "ids grow in the order published: {id} after {last}"
        );
        last = id;
    }
    assert_eq!(bob.expect("message_deleted").await["id"], first);
}

/// Posts `text` and waits for its answer: the echo's id, or the error.
async fn post(ws: &mut Ws, text: &str) -> Result<i64, Value> {
    ws.say(text).await;
    loop {
        let frame = ws.recv().await;
        match frame["type"].as_str() {
            Some("chat_message") if frame["message"] == text => {
                return Ok(frame["id"].as_i64().unwrap());
            }
            Some("error") => return Err(frame),
            _ => continue,
        }
    }
}

/// Asserts `frame` is an `unavailable` error that says when to retry.
fn assert_unavailable(frame: &Value) {
    assert_eq!(frame["code"], "unavailable", "{frame}");
    assert!(
        frame["retry_after_ms"].as_u64().is_some_and(|ms| ms > 0),
        "unavailable says when to retry: {frame}"
    );
}

/// `/readyz`'s status, which must come within `ANSWERED_WITHIN`.
#[cfg(feature = "postgres")]
async fn readiness(app: &TestApp) -> u16 {
    let client = reqwest::Client::new();
    let asked = Instant::now();
    let res = client
        .get(app.url("/readyz"))
        .timeout(ANSWERED_WITHIN)
        .send()
        .await
        .expect("/readyz answers within 2 s");
    assert!(asked.elapsed() < ANSWERED_WITHIN);
    res.status().as_u16()
}

/// The stored text of message `id`, if it is there.
fn stored_text(app: &TestApp, id: i64) -> Option<String> {
    use confab::db::schema::messages;
    use diesel::prelude::*;
    app.database()
        .run_here(|conn| {
            Ok(messages::table
                .filter(messages::id.eq(id))
                .select(messages::content)
                .first::<String>(conn)
                .optional()?)
        })
        .expect("read the message back")
}

#[cfg(feature = "postgres")]
#[actix_web::test]
async fn a_postgres_outage_is_answered_at_once_and_survived() {
    let Some(postgres) = OwnPostgres::start() else {
        return;
    };
    let app = TestApp::spawn_at(&postgres.url(), |_| {}).await;
    let [mut alice, mut bob] = app.members("outage", ["alice", "bob"]).await;
    let mut acknowledged = BTreeMap::new();
    let id = post(&mut alice, "before").await.expect("stored");
    bob.next_of("chat_message").await;
    acknowledged.insert(id, "before".to_owned());
    let carol = app.user("carol").await;

    let stopped = Instant::now();
    postgres.stop();
    // A page asks to be reloaded later, rather than failing as a bug.
    let page = carol.get("/chat/").await;
    assert_eq!(page.status(), 503);
    assert!(page.headers().contains_key("retry-after"), "{page:?}");
    let mut refused = 0;
    while stopped.elapsed() < Duration::from_secs(8) {
        let asked = Instant::now();
        let text = format!("during {refused}");
        match tokio::time::timeout(ANSWERED_WITHIN, post(&mut alice, &text)).await {
            Err(_) => panic!("a post during the outage waited over 2 s"),
            Ok(Ok(id)) => panic!("{text} was stored as {id} with the database stopped"),
            Ok(Err(error)) => assert_unavailable(&error),
        }
        assert!(asked.elapsed() < ANSWERED_WITHIN);
        refused += 1;
        assert_eq!(readiness(&app).await, 503, "not ready during the outage");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(refused >= 5, "{refused} posts tried during the outage");

    postgres.start_again();
    let answering = Instant::now();
    while readiness(&app).await != 200 {
        assert!(
            answering.elapsed() < Duration::from_secs(5),
            "/readyz still 503 5 s after the database answers"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The same confab, not restarted, stores and broadcasts again.
    let id = post(&mut alice, "after")
        .await
        .expect("stored after the outage");
    assert_eq!(bob.next_of("chat_message").await["id"], id);
    acknowledged.insert(id, "after".to_owned());
    for (id, text) in acknowledged {
        assert_eq!(stored_text(&app, id), Some(text), "message {id}");
    }
}

/// A tmpfs mounted for one test, unmounted when dropped, however the test
/// ends.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(size: &str) -> SmallDisk {
        let dir = tempfile::tempdir().expect("temp dir");
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .expect("mount runs");
        assert!(out.status.success(), "mount a tmpfs: {out:?}");
        SmallDisk { dir }
    }

    /// Writes a filler file until the disk is full.
    fn fill(&self) -> std::path::PathBuf {
        use std::io::Write;
        let path = self.dir.path().join("filler");
        let mut file = std::fs::File::create(&path).expect("create the filler");
        let chunk = vec![0u8; 4096];
        while file.write_all(&chunk).and_then(|()| file.flush()).is_ok() {}
        path
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        // Lazy: the server may still hold its files open.
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

#[actix_web::test]
async fn a_full_disk_refuses_writes_keeps_reads_and_writes_resume() {
    if !running_as_root() {
        missing::<()>(
            "the tests do not run as root, so they cannot mount a small tmpfs",
            "skipping the full-disk test",
        );
        return;
    }
    let disk = SmallDisk::mount("4m");
    let url = disk.dir.path().join("confab.db").display().to_string();
    let app = TestApp::spawn_at(&url, |_| {}).await;
    let [mut alice, mut bob] = app.members("full", ["alice", "bob"]).await;
    let before = post(&mut alice, "before the disk filled")
        .await
        .expect("stored");
    bob.next_of("chat_message").await;
    // Signed in while there is room: signing in writes.
    let carol = app.user("carol").await;
    assert_eq!(carol.get("/chat/full/").await.status(), 200);

    let filler = disk.fill();
    // The log has room left in pages it already holds; long posts soon
    // need new ones.
    let long = "x".repeat(3000);
    let mut refusal = None;
    for i in 0..200 {
        let asked = Instant::now();
        match post(&mut alice, &format!("{i} {long}")).await {
            Ok(_) => bob.next_of("chat_message").await,
            Err(error) => {
                assert!(asked.elapsed() < ANSWERED_WITHIN);
                refusal = Some(error);
                break;
            }
        };
    }
    let refusal = refusal.expect("a post on a full disk is refused");
    assert_unavailable(&refusal);
    // Still refused, and still answered at once.
    let error = tokio::time::timeout(ANSWERED_WITHIN, post(&mut alice, "still full"))
        .await
        .expect("answered within 2 s")
        .expect_err("refused while the disk is full");
    assert_unavailable(&error);

    // Reads go on: a history page, and a newcomer's join burst.
    bob.send_json(json!({"type": "history", "limit": 50})).await;
    let page = bob.next_of("history").await;
    assert!(
        page["messages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["id"] == before),
        "{page}"
    );
    let mut carol_ws = app.connect(&carol, "full").await.expect("a socket opens");
    let (history, _) = carol_ws.joined().await;
    assert!(
        !history.is_empty(),
        "the join burst is read from the full disk"
    );

    std::fs::remove_file(filler).expect("remove the filler");
    let resumed = Instant::now();
    let id = loop {
        match post(&mut alice, "space again").await {
            Ok(id) => break id,
            Err(error) => {
                assert_unavailable(&error);
                assert!(resumed.elapsed() < PATIENCE, "writes never resumed");
                let wait = error["retry_after_ms"].as_u64().unwrap_or(1000);
                tokio::time::sleep(Duration::from_millis(wait)).await;
            }
        }
    };
    assert_eq!(stored_text(&app, id).as_deref(), Some("space again"));
    app.stop().await;
}

/// One client of a burst: posts `count` messages with up to `window`
/// unanswered, and notes every message it sees echoed (its own and the
/// others'), until the server goes away.
async fn burst_client(
    mut ws: RawSocket,
    name: String,
    count: usize,
    window: usize,
) -> BTreeMap<i64, String> {
    let mut seen = BTreeMap::new();
    let (mut sent, mut answered) = (0, 0);
    loop {
        while sent < count && sent - answered < window {
            let text = json!({"type": "chat_message", "message": format!("{name} {sent}")});
            if ws.send(Message::text(text.to_string())).await.is_err() {
                return seen;
            }
            sent += 1;
        }
        let frame = match tokio::time::timeout(PATIENCE, ws.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => serde_json::from_str::<Value>(&text).unwrap(),
            Ok(Some(Ok(_))) => continue,
            _ => return seen, // killed
        };
        match frame["type"].as_str() {
            Some("chat_message") => {
                let text = frame["message"].as_str().unwrap().to_owned();
                if text.starts_with(&format!("{name} ")) {
                    answered += 1;
                }
                seen.insert(frame["id"].as_i64().unwrap(), text);
            }
            Some("error") => answered += 1,
            _ => {}
        }
        if answered == count {
            return seen;
        }
    }
}

on_every_backend!(a_process_killed_mid_burst_kept_every_message_it_echoed);
async fn a_process_killed_mid_burst_kept_every_message_it_echoed() {
    let app = TestApp::spawn().await;
    let names = ["ann", "ben", "cat", "dan"];
    let mut browsers = Vec::new();
    for name in names {
        let browser = app.user(name).await;
        assert_eq!(browser.get("/chat/burst/").await.status(), 200);
        browsers.push(browser);
    }
    let (mut child, port) = serve_binary(&app, &[("CONFAB_WRITE_PER_SEC", "0")]).await;
    let mut clients = Vec::new();
    for (name, browser) in names.iter().zip(&browsers) {
        let mut ws = socket_to(port, browser, "burst").await;
        read_join_burst(&mut ws).await;
        clients.push(tokio::spawn(burst_client(ws, (*name).to_owned(), 2000, 16)));
    }
    // Mid-burst: after the first messages are through, long before 8,000.
    let started = Instant::now();
    loop {
        let stored = app
            .database()
            .run_here(|conn| {
                use confab::db::schema::messages;
                use diesel::prelude::*;
                Ok(messages::table.count().get_result::<i64>(conn)?)
            })
            .unwrap();
        if stored >= 200 {
            break;
        }
        assert!(started.elapsed() < PATIENCE, "the burst never got going");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.0.kill().expect("SIGKILL");
    let _ = child.0.wait();

    let mut echoed = BTreeMap::new();
    for client in clients {
        echoed.extend(client.await.expect("the client ends"));
    }
    assert!(
        echoed.len() >= 100,
        "{} echoed before the kill",
        echoed.len()
    );
    // Started again on the same database, it has every one of them.
    let (_again, _) = serve_binary(&app, &[]).await;
    for (id, text) in &echoed {
        assert_eq!(
            stored_text(&app, *id).as_ref(),
            Some(text),
            "message {id} was echoed before the kill"
        );
    }
}
