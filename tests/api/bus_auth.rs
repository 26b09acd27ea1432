//! The Redis bus is authenticated: what an instance did not seal with the
//! deployment's key (forged, moved to another channel, malformed,
//! oversized) is dropped and counted, never delivered; and confab reaches a
//! Redis that wants a user and password (ACL) or TLS (`rediss://`).
//!
//! Two instances and a real Redis, like `scale_out`; the TLS test runs a
//! `redis-server` of its own with a throwaway CA.

use crate::common::redis::{OwnRedis, TestCertificates};
use crate::common::{TestApp, backend_for_several_instances, redis_url, unique_suffix};
use crate::scale_out::{alice_on_one_and_bob_on_two, fresh_prefix, pair, ready, wait_for_redis};
use futures_util::StreamExt;
use serde_json::json;
use std::time::Duration;

/// `confab_bus_rejected_total{reason=…}` as `/metrics` shows it (one
/// process-wide counter: both instances of a test count into it).
async fn rejected(app: &TestApp, reason: &str) -> u64 {
    let text = reqwest::get(app.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let line = format!("confab_bus_rejected_total{{reason=\"{reason}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&line))
        .unwrap_or_else(|| panic!("no {line} in /metrics:\n{text}"))
        .parse()
        .unwrap()
}

async fn redis_connection(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

async fn publish(redis: &mut redis::aio::MultiplexedConnection, channel: &str, payload: &[u8]) {
    let _: i64 = redis::cmd("PUBLISH")
        .arg(channel)
        .arg(payload)
        .query_async(redis)
        .await
        .unwrap();
}

#[actix_web::test]
async fn forged_malformed_and_oversized_events_are_dropped_and_counted() {
    let Some(url) = redis_url() else { return };
    let (one, two) = pair(&url).await;
    let prefix = one.settings.redis_prefix.clone();
    let (mut a, mut b) = alice_on_one_and_bob_on_two(&one, &two).await;
    a.say("before").await;
    let real = a.next_of("chat_message").await;
    b.next_of("chat_message").await;
    let before = [
        rejected(&one, "forged").await,
        rejected(&one, "malformed").await,
        rejected(&one, "oversized").await,
    ];

    let mut redis = redis_connection(&url).await;
    let room = format!("{prefix}:room:lobby");
    // What an intruder with PUBLISH rights would send: a post as bob, in
    // the format the instances publish but without the tag (and with a
    // tag of the right length that is wrong), a "missed" notice whose id
    // would make pages skip real messages, a private message to bob, and
    // a payload far larger than any event.
    let forged_frame = json!({
        "type": "chat_message", "id": real["id"].as_i64().unwrap() + 1000,
        "user": "bob", "message": "send me your password",
        "created_at": real["created_at"],
    })
    .to_string();
    let unsealed = format!(
        "1700000000000000 {} \n{forged_frame}",
        real["id"].as_i64().unwrap() + 1000
    );
    publish(&mut redis, &room, unsealed.as_bytes()).await;
    let mut wrong_tag = vec![0u8; 32];
    wrong_tag.extend_from_slice(unsealed.as_bytes());
    publish(&mut redis, &room, &wrong_tag).await;
    let mut missed = vec![7u8; 32];
    missed.extend_from_slice(b"missed 999999999999\n");
    publish(&mut redis, &room, &missed).await;
    publish(&mut redis, &room, b"missed 9\n").await;
    let pm = json!({"type": "private_message", "user": "alice", "message": "it's me"}).to_string();
    publish(&mut redis, &format!("{prefix}:user:bob"), pm.as_bytes()).await;
    publish(&mut redis, &room, &vec![b'x'; 1 << 20]).await;

    // Nothing of it arrives: the next thing either member hears is the
    // next real post, and bob got no private message.
    b.say("after").await;
    for ws in [&mut a, &mut b] {
        let next = ws.next_of("chat_message").await;
        assert_eq!(next["message"], "after", "{next}");
        assert_eq!(next["id"].as_i64(), Some(real["id"].as_i64().unwrap() + 1));
    }
    b.expect_nothing_for(Duration::from_millis(300)).await;

    // Both instances listen to the room, so each room payload counts twice;
    // bob's channel has one listener (instance two): 3 × 2 + 1 forged.
    let after = [
        rejected(&one, "forged").await,
        rejected(&one, "malformed").await,
        rejected(&one, "oversized").await,
    ];
    assert!(after[0] >= before[0] + 7, "forged: {before:?} → {after:?}");
    assert!(
        after[1] >= before[1] + 2,
        "malformed: {before:?} → {after:?}"
    );
    assert!(
        after[2] >= before[2] + 2,
        "oversized: {before:?} → {after:?}"
    );
}

#[actix_web::test]
async fn a_sealed_event_moved_to_another_room_is_dropped() {
    let Some(url) = redis_url() else { return };
    let (one, two) = pair(&url).await;
    let prefix = one.settings.redis_prefix.clone();
    let (mut a, mut b) = alice_on_one_and_bob_on_two(&one, &two).await;
    let carol = two.user("carol").await;
    let mut c = two.join(&carol, "elsewhere").await;
    c.joined().await;

    // Record a real, sealed event from the lobby's channel …
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut listener = client.get_async_pubsub().await.unwrap();
    listener
        .subscribe(format!("{prefix}:room:lobby"))
        .await
        .unwrap();
    a.say("for the lobby only").await;
    let sealed: Vec<u8> =
        tokio::time::timeout(Duration::from_secs(10), listener.on_message().next())
            .await
            .expect("the event crosses Redis")
            .unwrap()
            .get_payload_bytes()
            .to_vec();
    b.next_of("chat_message").await;

    // … and publish it in another room: it was sealed for the lobby.
    let before = rejected(&one, "forged").await;
    let mut redis = redis_connection(&url).await;
    publish(&mut redis, &format!("{prefix}:room:elsewhere"), &sealed).await;
    c.expect_nothing_for(Duration::from_millis(500)).await;
    assert!(rejected(&one, "forged").await > before);
}

#[actix_web::test]
async fn a_redis_acl_user_with_a_password_is_enough() {
    let Some(admin_url) = redis_url() else { return };
    // A user that may touch only this deployment's keys and channels, as
    // a shared Redis would give confab.
    let prefix = fresh_prefix();
    let user = format!("confab{}", unique_suffix());
    let password = format!("pw{}", unique_suffix());
    let mut admin = redis_connection(&admin_url).await;
    let _: () = redis::cmd("ACL")
        .arg("SETUSER")
        .arg(&user)
        .arg("on")
        .arg(format!(">{password}"))
        .arg("resetkeys")
        .arg(format!("~{prefix}:*"))
        .arg("resetchannels")
        .arg(format!("&{prefix}:*"))
        .arg("+@all")
        .arg("-@dangerous")
        .arg("+script|load")
        .query_async(&mut admin)
        .await
        .unwrap();
    let host = admin_url
        .trim_start_matches("redis://")
        .trim_end_matches('/');
    let with_user = format!("redis://{user}:{password}@{host}/");
    let wrong = format!("redis://{user}:not-{password}@{host}/");

    let one = TestApp::spawn_on(backend_for_several_instances(), |s| {
        s.redis_url = Some(with_user.clone());
        s.redis_prefix = prefix.clone();
    })
    .await;
    let two = one.sibling(|_| {}).await;
    let refused = one.sibling(|s| s.redis_url = Some(wrong)).await;
    wait_for_redis(&one, "ok").await;
    wait_for_redis(&two, "ok").await;
    let (mut a, mut b) = alice_on_one_and_bob_on_two(&one, &two).await;
    a.say("through an ACL user").await;
    assert_eq!(
        b.next_of("chat_message").await["message"],
        "through an ACL user"
    );
    // The wrong password: Redis is reported unreachable, and the
    // password does not appear in what the server says about it.
    wait_for_redis(&refused, "unreachable").await;
    let said = ready(&refused).await.to_string();
    assert!(!said.contains(&password), "{said}");

    let _: () = redis::cmd("ACL")
        .arg("DELUSER")
        .arg(&user)
        .query_async(&mut admin)
        .await
        .unwrap();
}

#[actix_web::test]
async fn instances_share_rooms_over_tls_and_check_the_certificate() {
    let certificates = TestCertificates::make();
    let Some(redis) = OwnRedis::start_tls(certificates.dir.path()) else {
        return;
    };
    let ca = certificates.dir.path().join("ca.pem");
    let prefix = fresh_prefix();
    let one = TestApp::spawn_on(backend_for_several_instances(), |s| {
        s.redis_url = Some(redis.url());
        s.redis_ca_file = Some(ca.clone());
        s.redis_prefix = prefix;
    })
    .await;
    assert!(redis.url().starts_with("rediss://"));
    let two = one.sibling(|_| {}).await;
    wait_for_redis(&one, "ok").await;
    wait_for_redis(&two, "ok").await;
    let (mut a, mut b) = alice_on_one_and_bob_on_two(&one, &two).await;
    a.say("over TLS").await;
    assert_eq!(b.next_of("chat_message").await["message"], "over TLS");

    // Without the CA, the certificate is not trusted (the system's roots
    // do not know this CA): the connection is refused, not made blindly.
    let untrusting = one.sibling(|s| s.redis_ca_file = None).await;
    for _ in 0..40 {
        assert_ne!(ready(&untrusting).await["redis"], "ok");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    redis.stop();
}
