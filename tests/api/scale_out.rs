//! Several instances on one database, joined by a real Redis: rooms,
//! private messages and their order cross instances, an instance listens
//! to a room only while it has members there, a reconnecting client
//! catches up on any instance, and a Redis outage costs nothing that is
//! stored.
//!
//! Needs `CONFAB_TEST_REDIS_URL` (e.g. `redis://127.0.0.1:6379/`); without
//! it these tests say why they skip, except under `CI=true`, where a missing
//! Redis is a failure. The outage and partition tests run their own
//! `redis-server`. The instances share a scratch PostgreSQL database when
//! `CONFAB_TEST_POSTGRES_URL` is set (always in CI), else a SQLite file.

use crate::common::redis::OwnRedis;
use crate::common::{
    Browser, TestApp, Ws, backend_for_several_instances, free_port, redis_url, socket_to,
    unique_suffix,
};
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A Redis prefix no other test (or run) uses, so tests share one Redis.
pub(crate) fn fresh_prefix() -> String {
    format!("confabtest{}", unique_suffix())
}

/// Two instances on one database and one Redis, both connected to it.
pub(crate) async fn pair(url: &str) -> (TestApp, TestApp) {
    pair_via(url, url).await
}

/// Two instances on one database and one Redis, which the first reaches
/// at `url_one` and the second at `url_two` (a relay, say); both connected.
pub(crate) async fn pair_via(url_one: &str, url_two: &str) -> (TestApp, TestApp) {
    let prefix = fresh_prefix();
    let a = TestApp::spawn_on(backend_for_several_instances(), |s| {
        s.redis_url = Some(url_one.to_owned());
        s.redis_prefix = prefix;
    })
    .await;
    let b = a.sibling(|s| s.redis_url = Some(url_two.to_owned())).await;
    wait_for_redis(&a, "ok").await;
    wait_for_redis(&b, "ok").await;
    (a, b)
}

/// `name`'s account (signed up already), signed in again on `app`: another
/// instance, or another device of theirs on the same one.
pub(crate) async fn same_user_on(app: &TestApp, name: &str) -> Browser {
    let browser = app.browser();
    let res = browser.login(name, "correct horse battery", "/chat/").await;
    assert_eq!(res.status(), 303, "login of {name}");
    browser
}

pub(crate) async fn ready(app: &TestApp) -> serde_json::Value {
    let res = reqwest::get(app.url("/readyz")).await.unwrap();
    serde_json::from_str(&res.text().await.unwrap()).unwrap()
}

/// Waits (bounded) until `/readyz` says Redis is `want`.
pub(crate) async fn wait_for_redis(app: &TestApp, want: &str) {
    for _ in 0..200 {
        if ready(app).await["redis"] == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("/readyz never said redis={want}: {}", ready(app).await);
}

/// Alice's socket on `one` and bob's on `two`, both in the lobby.
pub(crate) async fn alice_on_one_and_bob_on_two(one: &TestApp, two: &TestApp) -> (Ws, Ws) {
    let mut a = one.join(&one.user("alice").await, "lobby").await;
    a.joined().await;
    let mut b = two.join(&two.user("bob").await, "lobby").await;
    b.joined().await;
    (a, b)
}

#[actix_web::test]
async fn a_room_spans_instances() {
    let Some(url) = redis_url() else { return };
    let (one, two) = pair(&url).await;
    let (mut a, mut b) = alice_on_one_and_bob_on_two(&one, &two).await;

    a.say("hello from one").await;
    let seen_a = a.next_of("chat_message").await;
    let seen_b = b.next_of("chat_message").await;
    assert_eq!(seen_a, seen_b, "the same bytes everywhere");
    assert_eq!(seen_b["message"], "hello from one");

    b.say("hello from two").await;
    assert_eq!(a.next_of("chat_message").await["message"], "hello from two");
    let id = b.next_of("chat_message").await["id"].as_i64().unwrap();

    // Edits, reactions and typing cross too; typing still skips the typist.
    b.send_json(json!({"type": "typing", "typing": true})).await;
    let typing = a.next_of("typing").await;
    assert_eq!(
        (typing["user"].as_str(), typing["typing"].as_bool()),
        (Some("bob"), Some(true))
    );
    b.send_json(json!({"type": "edit_message", "id": id, "message": "edited on two"}))
        .await;
    assert_eq!(
        a.next_of("message_edited").await["message"],
        "edited on two"
    );
    assert_eq!(
        b.next_of("message_edited").await["message"],
        "edited on two"
    );
    a.send_json(json!({"type": "react", "id": id, "emoji": "🎉"}))
        .await;
    // A toggle crosses as only what changed.
    let change = json!({"type": "reaction", "id": id, "emoji": "🎉", "user": "alice", "added": true, "count": 1});
    assert_eq!(b.next_of("reaction").await, change);
    assert_eq!(a.next_of("reaction").await, change);

    // A newcomer on either instance gets the same history.
    let carol = one.user("carol").await;
    let mut c = one.join(&carol, "lobby").await;
    let (history, _) = c.joined().await;
    let carol_on_two = same_user_on(&two, "carol").await;
    let mut c2 = two.join(&carol_on_two, "lobby").await;
    let (history2, _) = c2.joined().await;
    assert_eq!(history, history2);
    assert_eq!(history.len(), 2);
}

#[actix_web::test]
async fn private_messages_find_users_on_any_instance() {
    let Some(url) = redis_url() else { return };
    let (one, two) = pair(&url).await;
    let alice = one.user("alice").await;
    let bob = two.user("bob").await;
    let mut a = one.join(&alice, "lobby").await;
    a.joined().await;
    // Bob has tabs on both instances, in another room: both get it, once each.
    let mut b2 = two.join(&bob, "elsewhere").await;
    b2.joined().await;
    let bob_on_one = same_user_on(&one, "bob").await;
    let mut b1 = one.join(&bob_on_one, "elsewhere").await;
    b1.joined().await;

    a.say("/pm bob psst").await;
    assert_eq!(
        a.next_of("private_message_delivered").await,
        json!({"type": "private_message_delivered", "target": "bob", "message": "psst"})
    );
    for b in [&mut b1, &mut b2] {
        assert_eq!(
            b.next_of("private_message").await,
            json!({"type": "private_message", "user": "alice", "message": "psst"})
        );
    }

    a.say("/pm nobody hello?").await;
    assert_eq!(a.next_of("error").await["code"], "no_such_user");
}

#[actix_web::test]
async fn a_deletion_crosses_instances() {
    let Some(url) = redis_url() else { return };
    let (one, two) = pair(&url).await;
    let (mut a, mut b) = alice_on_one_and_bob_on_two(&one, &two).await;
    a.say("regrettable").await;
    let id = a.next_of("chat_message").await["id"].clone();
    assert_eq!(b.next_of("chat_message").await["id"], id);

    a.send_json(json!({"type": "delete_message", "id": id}))
        .await;
    let deleted = json!({"type": "message_deleted", "id": id});
    assert_eq!(b.next_of("message_deleted").await, deleted);
    assert_eq!(a.next_of("message_deleted").await, deleted);
    let carol = two.user("carol").await;
    let mut c = two.join(&carol, "lobby").await;
    assert!(c.joined().await.0.is_empty(), "gone from history too");
}

/// How many connections listen to Redis `channel` (`PUBSUB NUMSUB`).
async fn listeners(redis: &mut redis::aio::MultiplexedConnection, channel: &str) -> i64 {
    let (_, count): (String, i64) = redis::cmd("PUBSUB")
        .arg("NUMSUB")
        .arg(channel)
        .query_async(redis)
        .await
        .unwrap();
    count
}

/// Waits (bounded) until `channel` has `want` listeners: unsubscribing
/// happens after the leave, on the bridge's own time.
async fn wait_for_listeners(
    redis: &mut redis::aio::MultiplexedConnection,
    channel: &str,
    want: i64,
) {
    for _ in 0..200 {
        if listeners(redis, channel).await == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let now = listeners(redis, channel).await;
    panic!("{channel} never had {want} listeners (it has {now})");
}

#[actix_web::test]
async fn an_instance_listens_to_a_room_only_while_it_has_members_there() {
    let Some(url) = redis_url() else { return };
    let (one, two) = pair(&url).await;
    let mut redis = redis::Client::open(url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let channel = format!("{}:room:lobby", one.settings.redis_prefix);
    let alice = one.user("alice").await;
    let bob = two.user("bob").await;
    alice.get("/chat/lobby/").await; // the room exists, with nobody in it
    assert_eq!(listeners(&mut redis, &channel).await, 0);

    // Joining waits for the instance's subscription, so no wait here.
    let mut a = one.join(&alice, "lobby").await;
    a.joined().await;
    assert_eq!(listeners(&mut redis, &channel).await, 1, "instance one");
    let mut a2 = one.join(&alice, "lobby").await;
    a2.joined().await;
    let mut b = two.join(&bob, "lobby").await;
    b.joined().await;
    assert_eq!(
        listeners(&mut redis, &channel).await,
        2,
        "one per instance, not per member"
    );

    b.close().await;
    wait_for_listeners(&mut redis, &channel, 1).await;
    a.close().await;
    a2.say("still listening").await;
    assert_eq!(
        a2.next_of("chat_message").await["message"],
        "still listening"
    );
    assert_eq!(listeners(&mut redis, &channel).await, 1, "a member is left");
    a2.close().await;
    wait_for_listeners(&mut redis, &channel, 0).await;
}

#[actix_web::test]
async fn a_message_stored_by_an_instance_that_died_before_publishing_it_still_arrives() {
    let Some(url) = redis_url() else { return };
    let (one, two) = pair(&url).await;
    let (mut a, mut b) = alice_on_one_and_bob_on_two(&one, &two).await;
    a.say("through the bus").await;
    for ws in [&mut a, &mut b] {
        assert_eq!(
            ws.next_of("chat_message").await["message"],
            "through the bus"
        );
    }
    // Stored, never published: what an instance that died between the two
    // leaves behind. Both instances' rooms find it in the database.
    one.store_messages("lobby", "alice", ["stored 0"]);
    for ws in [&mut a, &mut b] {
        let frame = ws.next_of("chat_message").await;
        assert_eq!(frame["message"], "stored 0");
        assert!(frame.get("history").is_none(), "{frame}");
    }
    a.say("and on we go").await;
    for ws in [&mut a, &mut b] {
        assert_eq!(ws.next_of("chat_message").await["message"], "and on we go");
    }
}

#[actix_web::test]
async fn a_resume_on_another_instance_stops_at_500_and_says_there_is_more() {
    let Some(url) = redis_url() else { return };
    let (one, two) = pair(&url).await;
    let alice = one.user("alice").await;
    alice.get("/chat/lobby/").await;
    let stored = one.store_messages("lobby", "alice", (0..510).map(|i| format!("stored {i}")));

    // Alice saw the first, then lost her socket; she comes back on two.
    let alice_on_two = same_user_on(&two, "alice").await;
    let mut a = two.resume(&alice_on_two, "lobby", stored[0]).await;
    let mut caught_up = Vec::new();
    let resumed = loop {
        let frame = a.recv().await;
        match frame["type"].as_str().unwrap() {
            "chat_message" => caught_up.push(frame["id"].as_i64().unwrap()),
            "resumed" => break frame,
            other => panic!("unexpected {other} before the catch-up ended"),
        }
    };
    assert_eq!(
        resumed,
        json!({"type": "resumed", "after": stored[0], "has_more": true})
    );
    // 500 in all, the overlap (the one she saw) included.
    assert_eq!(caught_up, stored[..500]);
    a.expect("user_list").await;

    // The rest, as docs/protocol.md tells a client to ask for it.
    a.send_json(json!({"type": "history", "after": stored[499], "limit": 100}))
        .await;
    let page = a.expect("history").await;
    let rest: Vec<i64> = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_i64().unwrap())
        .collect();
    assert_eq!(rest, stored[500..]);
    assert_eq!(page["has_more"], false);
}

/// Reads `n` chat messages and returns their ids in arrival order.
async fn ids(ws: &mut Ws, n: usize) -> Vec<i64> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let frame = ws.next_of("chat_message").await;
        out.push(frame["id"].as_i64().unwrap());
    }
    out
}

#[actix_web::test]
async fn every_member_sees_one_order_with_senders_on_both_instances() {
    let Some(url) = redis_url() else { return };
    let (one, two) = pair(&url).await;
    const EACH: usize = 60;
    let mut listeners = Vec::new();
    for (i, app) in [&one, &two, &one, &two].into_iter().enumerate() {
        let browser = app.user(&format!("listener{i}")).await;
        let mut ws = app.join(&browser, "race").await;
        ws.joined().await;
        listeners.push(ws);
    }
    let s1 = one.user("sender1").await;
    let s2 = two.user("sender2").await;
    let mut w1 = one.join(&s1, "race").await;
    w1.joined().await;
    let mut w2 = two.join(&s2, "race").await;
    w2.joined().await;
    // Both senders fire at once, in bursts of ten, without waiting for
    // each other.
    let send = |mut ws: Ws, tag: &'static str| async move {
        for burst in 0..EACH / 10 {
            for i in 0..10 {
                ws.say(&format!("{tag} {}", burst * 10 + i)).await;
            }
            let mut own = 0;
            while own < 10 {
                let frame = ws.next_of("chat_message").await;
                if frame["message"]
                    .as_str()
                    .is_some_and(|m| m.starts_with(tag))
                {
                    own += 1;
                }
            }
        }
        ws
    };
    let (w1, w2) = tokio::join!(send(w1, "one"), send(w2, "two"));
    let mut orders = Vec::new();
    for ws in &mut listeners {
        orders.push(ids(ws, 2 * EACH).await);
    }
    for order in &orders[1..] {
        assert_eq!(order, &orders[0], "every member sees the same order");
    }
    let mut sorted = orders[0].clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), 2 * EACH, "nothing lost or doubled");
    drop((w1, w2));
}

/// The texts of the chat messages `ws` receives until (and with) `last`.
async fn messages_until(ws: &mut Ws, last: &str) -> Vec<String> {
    let mut texts = Vec::new();
    loop {
        let text = ws.next_of("chat_message").await["message"]
            .as_str()
            .unwrap()
            .to_owned();
        let done = text == last;
        texts.push(text);
        if done {
            return texts;
        }
    }
}

#[actix_web::test]
async fn a_redis_outage_loses_nothing_and_heals_by_itself() {
    let Some(redis) = OwnRedis::start() else {
        return;
    };
    let (one, two) = pair(&redis.url()).await;
    let (mut a, mut b) = alice_on_one_and_bob_on_two(&one, &two).await;
    a.next_of("user_join").await;
    let alice = same_user_on(&one, "alice").await;

    let port = redis.port;
    redis.stop();
    wait_for_redis(&one, "unreachable").await;
    wait_for_redis(&two, "unreachable").await;
    // Pages still work, messages are still taken and stored, and each
    // instance's members get the other's messages from the database.
    assert_eq!(alice.get("/chat/").await.status(), 200);
    a.say("from one, during the outage").await;
    b.say("from two, during the outage").await;
    let during = ["from one, during the outage", "from two, during the outage"];
    for ws in [&mut a, &mut b] {
        let mut seen = vec![
            ws.next_of("chat_message").await["message"].clone(),
            ws.next_of("chat_message").await["message"].clone(),
        ];
        seen.sort_by_key(|m| m.to_string());
        assert_eq!(seen, during);
    }

    let _redis = OwnRedis::start_on(port).unwrap();
    wait_for_redis(&one, "ok").await;
    wait_for_redis(&two, "ok").await;
    a.say("after the outage").await;
    // Live again through Redis, and nothing delivered twice when the rooms
    // catch up after the outage.
    assert_eq!(
        messages_until(&mut b, "after the outage").await,
        ["after the outage"]
    );
    assert_eq!(
        messages_until(&mut a, "after the outage").await,
        ["after the outage"]
    );
    a.expect_nothing_for(Duration::from_millis(1500)).await;
    b.expect_nothing_for(Duration::from_millis(500)).await;

    // Nothing stored was lost: a newcomer on either instance has it all.
    let carol = two.user("carol").await;
    let mut c = one.join(&carol, "lobby").await;
    let (history, _) = c.joined().await;
    let mut texts: Vec<&str> = history
        .iter()
        .map(|m| m["message"].as_str().unwrap())
        .collect();
    texts[..2].sort();
    assert_eq!(texts, [during[0], during[1], "after the outage"]);
}

/// A TCP relay to Redis that the test can cut, as a network partition
/// between one instance and Redis would: open connections are dropped and
/// new ones refused until it heals.
pub(crate) struct Partition {
    port: u16,
    cut: Arc<AtomicBool>,
    relays: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Partition {
    pub(crate) async fn to(target: u16) -> Partition {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let cut = Arc::new(AtomicBool::new(false));
        let relays = Arc::new(Mutex::new(Vec::new()));
        let (is_cut, tasks) = (cut.clone(), relays.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if is_cut.load(Ordering::SeqCst) {
                    continue; // dropped: refused
                }
                let relay = tokio::spawn(async move {
                    if let Ok(mut outbound) =
                        tokio::net::TcpStream::connect(("127.0.0.1", target)).await
                    {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                tasks.lock().unwrap().push(relay);
            }
        });
        Partition { port, cut, relays }
    }

    /// Where instances reach it.
    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    pub(crate) fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for relay in self.relays.lock().unwrap().drain(..) {
            relay.abort();
        }
    }

    pub(crate) fn heal(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

#[actix_web::test]
async fn members_stay_whole_when_one_instance_is_cut_off_from_redis() {
    let Some(redis) = OwnRedis::start() else {
        return;
    };
    // Instance one reaches Redis through a relay the test cuts; instance
    // two reaches it directly and never sees an outage.
    let partition = Partition::to(redis.port).await;
    let (one, two) = pair_via(&partition.url(), &redis.url()).await;
    let (mut a, mut b) = alice_on_one_and_bob_on_two(&one, &two).await;
    a.next_of("user_join").await;

    partition.cut();
    wait_for_redis(&one, "unreachable").await;
    assert_eq!(ready(&two).await["redis"], "ok");
    // Cut off, one still gets two's messages (from the database)...
    b.say("from two, while one is cut off").await;
    assert_eq!(
        messages_until(&mut a, "from two, while one is cut off").await,
        ["from two, while one is cut off"]
    );
    // ...and what one stores reaches two once one is back.
    a.say("from one, while cut off").await;
    assert_eq!(
        messages_until(&mut a, "from one, while cut off").await,
        ["from one, while cut off"]
    );
    partition.heal();
    wait_for_redis(&one, "ok").await;
    assert_eq!(
        messages_until(&mut b, "from one, while cut off").await,
        ["from two, while one is cut off", "from one, while cut off"]
    );

    // Together again, each message exactly once on both sides.
    a.say("together again").await;
    for ws in [&mut a, &mut b] {
        assert_eq!(
            messages_until(ws, "together again").await,
            ["together again"]
        );
        ws.expect_nothing_for(Duration::from_millis(500)).await;
    }
}

#[actix_web::test]
async fn presence_is_the_union_over_instances() {
    let Some(url) = redis_url() else { return };
    let (one, two) = pair(&url).await;
    let alice = one.user("alice").await;
    let bob = two.user("bob").await;
    let mut a1 = one.join(&alice, "lobby").await;
    a1.joined().await;
    let mut b = two.join(&bob, "lobby").await;
    assert_eq!(
        b.joined().await.1,
        ["alice", "bob"],
        "bob sees alice on the other instance"
    );
    assert_eq!(a1.next_of("user_join").await["user"], "bob");

    // Alice's second tab, on bob's instance: she is already online.
    let alice_on_two = same_user_on(&two, "alice").await;
    let mut a2 = two.join(&alice_on_two, "lobby").await;
    assert_eq!(a2.joined().await.1, ["alice", "bob"]);
    let page = alice.text("/chat/").await;
    assert!(
        page.contains("2 online"),
        "counts are over both instances: {page}"
    );

    a1.close().await;
    b.say("still there?").await;
    // No user_leave for alice before bob's own message comes back.
    let next = b.recv().await;
    assert_eq!(next["type"], "chat_message", "alice has a tab left: {next}");
    a2.close().await;
    assert_eq!(
        b.next_of("user_leave").await,
        json!({"type": "user_leave", "user": "alice"})
    );
}

/// A real `confab` process, to be killed without a goodbye.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[actix_web::test]
async fn users_of_a_killed_instance_leave_every_list() {
    let Some(url) = redis_url() else { return };
    let prefix = fresh_prefix();
    let p = prefix.clone();
    let u = url.clone();
    let survivor = TestApp::spawn_on(backend_for_several_instances(), |s| {
        s.redis_url = Some(u);
        s.redis_prefix = p;
        s.presence_ttl = Duration::from_secs(3);
    })
    .await;
    let port = free_port();
    let child = Child(
        std::process::Command::new(env!("CARGO_BIN_EXE_confab"))
            .arg("serve")
            .env("CONFAB_BIND", format!("127.0.0.1:{port}"))
            .env("DATABASE_URL", &survivor.settings.database_url)
            .env(
                "CONFAB_SECRET_KEY",
                survivor.settings.secret_key.clone().unwrap(),
            )
            .env("REDIS_URL", &url)
            .env("CONFAB_REDIS_PREFIX", &prefix)
            .env("CONFAB_PRESENCE_TTL_SECS", "3")
            .env("RUST_LOG", "warn")
            .spawn()
            .expect("confab starts"),
    );
    let doomed_url = format!("http://127.0.0.1:{port}");
    let mut up = false;
    for _ in 0..200 {
        let answer = reqwest::get(format!("{doomed_url}/readyz")).await;
        if answer.is_ok_and(|res| res.status() == 200) {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(up, "the second instance answers /readyz");
    wait_for_redis(&survivor, "ok").await;

    let bob = survivor.user("bob").await;
    let mut b = survivor.join(&bob, "lobby").await;
    b.joined().await;
    // Alice signs up on the survivor, then connects through the doomed one.
    let alice = survivor.user("alice").await;
    let _alice_ws = socket_to(port, &alice, "lobby").await;
    assert_eq!(b.next_of("user_join").await["user"], "alice");

    // SIGKILL: no goodbye, no depart. The survivor's sweep finds her
    // entries expired and announces her departure.
    drop(child);
    let killed = std::time::Instant::now();
    assert_eq!(
        b.next_of("user_leave").await,
        json!({"type": "user_leave", "user": "alice"})
    );
    // The promise is "within the TTL" (3 s here); the slack is for a busy
    // test machine's scheduling, not for the design.
    let took = killed.elapsed();
    assert!(
        took < Duration::from_secs(3) + Duration::from_secs(3),
        "alice left {took:?} after the kill"
    );
    let page = bob.text("/chat/").await;
    assert!(page.contains("1 online"), "{page}");
}
