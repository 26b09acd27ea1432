//! The sidebar and unread marks in a real browser (issue 13, features 1
//! and 2): counts and mention badges that follow messages live, a room
//! that opens on its first unread message under a "New" divider, reading
//! that clears the count in my other tabs, "Mark as unread", and the
//! sidebar as a drawer on a phone.
//!
//! DOM hooks: `#sidebar` with `a.sidebar-link[data-room]`, each with a
//! `.count-unread` and a `.count-mention` (hidden at zero);
//! `#sidebar-toggle` (phone widths) opens it as a drawer
//! (`body.sidebar-open`); `.new-divider` in `#chat-log`; a message's
//! `button.action-unread`. Screenshots: `sidebar-unread.png`,
//! `new-divider.png`, `sidebar-phone-drawer.png`.

use crate::common::browser::{Driver, Screen};
use crate::common::{TestApp, Ws};
use crate::scale_out::same_user_on;
use serde_json::{Value, json};

/// The (unread, mention) counts `#sidebar` shows for `room`, or a
/// `{"waiting": ...}` while it does not list it.
const SIDEBAR_COUNTS: &str = "const link = document.querySelector(`#sidebar a.sidebar-link[data-room=\"${arguments[0]}\"]`);\
     if (!link) return { waiting: 'no link' };\
     const n = (css) => { const el = link.querySelector(css); return el.hidden ? 0 : Number(el.textContent.replace('@', '')); };\
     const counts = [n('.count-unread'), n('.count-mention')];\
     return JSON.stringify(counts) === JSON.stringify(arguments[1]) ? true : { waiting: counts };";

/// Posts `text` on `ws`; its id.
async fn post(ws: &mut Ws, text: &str) -> i64 {
    ws.say(text).await;
    loop {
        let frame = ws.next_of("chat_message").await;
        if frame["message"] == text {
            return frame["id"].as_i64().unwrap();
        }
    }
}

/// Stores that message `id` mentions `user`, as the post path does for
/// `@name` (issue 13 feature 3).
fn store_mention(app: &TestApp, id: i64, user: &str) {
    use confab::db::schema::{mentions, users};
    use diesel::prelude::*;
    app.database()
        .run_here(|c| {
            let user_id: i32 = users::table
                .filter(users::username.eq(user))
                .select(users::id)
                .first(c)?;
            diesel::insert_into(mentions::table)
                .values((mentions::message_id.eq(id), mentions::user_id.eq(user_id)))
                .execute(c)?;
            Ok(())
        })
        .expect("a mention stored");
}

#[actix_web::test]
async fn the_sidebar_counts_live_and_a_room_opens_at_its_first_unread() {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let app = TestApp::spawn().await;
    // Ann posts in the lobby and in design: both are hers.
    let ann = driver.in_room(&app, "ann", "design").await;
    ann.send("morning, design").await;
    ann.open_room(&app, "lobby", "ann").await;
    let mine = ann.send("morning, lobby").await;
    ann.open_room(&app, "design", "ann").await;

    // Bob talks in the lobby while she is in design: her sidebar counts.
    let bob = app.user("bob").await;
    let mut b = app.join(&bob, "lobby").await;
    b.joined().await;
    let mut ids = Vec::new();
    for n in 1..=14 {
        ids.push(
            post(
                &mut b,
                &format!("lobby news number {n}: the build is green again"),
            )
            .await,
        );
    }
    ann.wait_js(
        "14 unread in the lobby",
        SIDEBAR_COUNTS,
        vec![json!("lobby"), json!([14, 0])],
    )
    .await;
    // One of them mentions her: after a reload the badge shows it.
    store_mention(&app, ids[3], "ann");
    ann.reload().await;
    ann.wait_js(
        "14 unread and a mention in the lobby",
        SIDEBAR_COUNTS,
        vec![json!("lobby"), json!([14, 1])],
    )
    .await;
    assert!(
        ann.exists("#sidebar a.sidebar-link.is-current[data-room=\"design\"]")
            .await,
        "the room on screen is highlighted"
    );
    ann.screenshot("sidebar-unread").await;

    // A second device of hers, to see the count cleared there too.
    let other = same_user_on(&app, "ann").await;
    let mut other_tab = app.join_modern(&other, "kitchen").await;
    other_tab.joined().await;
    let snapshot = other_tab.expect("unread").await;
    let lobby = |list: &Value| {
        list["rooms"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["room"] == "lobby")
            .cloned()
            .unwrap()
    };
    assert_eq!(lobby(&snapshot)["unread"], 14);

    // She opens the lobby from the sidebar: it shows the first unread
    // message under "New" (older ones loaded as needed).
    let link = ann
        .wait_displayed(
            "the lobby in the sidebar",
            "#sidebar a[data-room=\"lobby\"]",
        )
        .await;
    ann.real_click(&link, "the lobby in the sidebar").await;
    ann.wait_connected("lobby", "ann").await;
    let first_unread = ann
        .wait_js(
            "the New divider above the first unread",
            "const d = document.querySelector('#chat-log .new-divider');\
             const next = d && d.nextElementSibling;\
             return next ? next.dataset.id : null;",
            vec![],
        )
        .await;
    assert_eq!(first_unread, json!(ids[0].to_string()));
    assert!(
        mine.parse::<i64>().unwrap() < ids[0],
        "her own post is not unread"
    );
    ann.screenshot("new-divider").await;

    // She reads down to the newest message (the divider may have left
    // some of the 14 below the fold); reading clears the count on her
    // other device, live.
    ann.js(
        "const l = document.getElementById('chat-log'); l.scrollTop = l.scrollHeight; return true;",
        vec![],
    )
    .await;
    loop {
        let marker = other_tab.next_of("read_marker").await;
        if marker["room"] == "lobby" && marker["unread"] == 0 {
            break;
        }
    }
    ann.wait_js(
        "the lobby read",
        SIDEBAR_COUNTS,
        vec![json!("lobby"), json!([0, 0])],
    )
    .await;

    // "Mark as unread" on the last message: one unread again, everywhere.
    let last = ids[13].to_string();
    ann.click_message_action(&last, "button.action-unread")
        .await;
    loop {
        let marker = other_tab.next_of("read_marker").await;
        if marker["room"] == "lobby" && marker["unread"] == 1 {
            break;
        }
    }
    ann.wait_js(
        "one unread in the lobby again",
        SIDEBAR_COUNTS,
        vec![json!("lobby"), json!([1, 0])],
    )
    .await;
    ann.close().await;
}

#[actix_web::test]
async fn on_a_phone_the_sidebar_is_a_drawer() {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let app = TestApp::spawn().await;
    let cleo = driver
        .in_room_on(&app, "cleo", "general", Screen::Phone)
        .await;
    cleo.send("hello from my phone").await;
    cleo.open_room(&app, "random", "cleo").await;
    cleo.send("and here").await;
    let dan = app.user("dan").await;
    let mut d = app.join(&dan, "general").await;
    d.joined().await;
    post(&mut d, "cleo, are you there?").await;
    post(&mut d, "the meeting moved to 3pm").await;

    assert!(
        !ann_drawer_open(&cleo).await,
        "the drawer starts closed on a phone"
    );
    cleo.wait_js(
        "the unread total on the drawer button",
        "const c = document.getElementById('sidebar-toggle-count');\
         return c && !c.hidden && c.textContent === '2';",
        vec![],
    )
    .await;
    cleo.screenshot("room-phone-with-drawer-button").await;
    let toggle = cleo
        .wait_displayed("the drawer button", "#sidebar-toggle")
        .await;
    cleo.real_click(&toggle, "the drawer button").await;
    cleo.wait_js(
        "the drawer open with general's count",
        SIDEBAR_COUNTS,
        vec![json!("general"), json!([2, 0])],
    )
    .await;
    cleo.wait_js(
        "the drawer on screen",
        "const r = document.getElementById('sidebar').getBoundingClientRect();\
         return document.body.classList.contains('sidebar-open') && r.left >= 0 && r.width > 200;",
        vec![],
    )
    .await;
    // Let the slide-in finish before the picture.
    cleo.wait_js(
        "the drawer settled",
        "return getComputedStyle(document.getElementById('sidebar')).transform === 'none';",
        vec![],
    )
    .await;
    cleo.screenshot("sidebar-phone-drawer").await;
    // Escape closes it.
    cleo.press(&fantoccini::key::Key::Escape.to_string()).await;
    cleo.wait_js(
        "the drawer closed",
        "return !document.body.classList.contains('sidebar-open');",
        vec![],
    )
    .await;
    cleo.close().await;
}

async fn ann_drawer_open(chrome: &crate::common::browser::Chrome) -> bool {
    chrome
        .js(
            "return document.body.classList.contains('sidebar-open');",
            vec![],
        )
        .await
        == json!(true)
}
