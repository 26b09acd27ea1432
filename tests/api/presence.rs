//! Who is online: the list on join, joins and leaves, several tabs.

use crate::common::TestApp;
use std::time::Duration;

on_every_backend!(a_user_with_two_tabs_is_online_once_until_the_last_tab_closes);
async fn a_user_with_two_tabs_is_online_once_until_the_last_tab_closes() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let mut a = app.join(&alice, "lobby").await;
    a.joined().await;

    let mut tab1 = app.join(&bob, "lobby").await;
    assert_eq!(tab1.joined().await.1, ["alice", "bob"]);
    assert_eq!(a.expect("user_join").await["user"], "bob");

    let mut tab2 = app.join(&bob, "lobby").await;
    assert_eq!(tab2.joined().await.1, ["alice", "bob"], "listed once");
    a.expect_nothing_for(Duration::from_millis(300)).await;

    tab1.close().await;
    a.expect_nothing_for(Duration::from_millis(300)).await;

    tab2.close().await;
    assert_eq!(a.expect("user_leave").await["user"], "bob");
}

on_every_backend!(a_dropped_connection_counts_as_leaving);
async fn a_dropped_connection_counts_as_leaving() {
    let app = TestApp::spawn().await;
    let [mut a, b] = app.members("lobby", ["alice", "bob"]).await;
    drop(b); // no close frame: the TCP connection just goes away
    assert_eq!(a.expect("user_leave").await["user"], "bob");
}

on_every_backend!(presence_is_per_room);
async fn presence_is_per_room() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let mut a = app.join(&alice, "one").await;
    a.joined().await;
    let mut b = app.join(&bob, "two").await;
    assert_eq!(b.joined().await.1, ["bob"]);
    a.expect_nothing_for(Duration::from_millis(300)).await;
}
