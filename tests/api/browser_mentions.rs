//! Mentions in real browsers: the composer's `@` autocomplete, the
//! notification a mentioned user gets when no tab of theirs is focused, and
//! the `/mentions/` page on a desktop and a phone.
//!
//! DOM hooks (static/room/mentions.js, notify.js, templates/mentions.html):
//! `#mention-suggest` (a listbox of `[role=option][data-name]`, the one in
//! focus `aria-selected=true`), `#notify-toggle[aria-pressed]` (the bell),
//! `#notification-log` (one `li[data-message-id]` per notification the
//! page showed through the real Notification API), and on `/mentions/`
//! `.mention-item` entries.
//!
//! Screenshots: `mentions-autocomplete.png`, `mentions-autocomplete-phone.png`,
//! `mentions-notifications-on.png`, `mentions-page.png`, `mentions-page-phone.png`.

use crate::common::TestApp;
use crate::common::browser::{Chrome, Driver, Screen};
use fantoccini::key::Key;
use serde_json::json;

/// Waits until `#mention-suggest` is open with `name` in focus.
async fn wait_for_suggestion(person: &Chrome, name: &str) {
    person
        .wait_js(
            &format!("the @ list offering {name}"),
            "const list = document.getElementById('mention-suggest');\
             if (!list || list.hidden) return { waiting: 'closed' };\
             const on = list.querySelector('[aria-selected=true]');\
             const input = document.getElementById('chat-message-input');\
             return on && on.dataset.name === arguments[0]\
               && input.getAttribute('aria-expanded') === 'true'\
               && input.getAttribute('aria-activedescendant') === on.id\
               ? true : { waiting: list.innerText };",
            vec![json!(name)],
        )
        .await;
}

/// The message ids `#notification-log` lists.
async fn notified(person: &Chrome) -> Vec<String> {
    let ids = person
        .js(
            "return [...document.querySelectorAll('#notification-log li')]\
               .map((li) => li.dataset.messageId);",
            vec![],
        )
        .await;
    serde_json::from_value(ids).unwrap()
}

#[actix_web::test]
async fn at_completes_a_name_and_the_mention_notifies_a_tab_not_in_front() {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let app = TestApp::spawn().await;
    let bob = driver.in_room(&app, "bob", "lobby").await;
    let carol = driver.open_on("carol", Screen::Phone).await;
    carol.sign_up(&app, "carol").await;

    // bob turns notifications on with the bell (the driver answers the
    // browser's permission question with "Allow").
    bob.grant_notifications().await;
    let bell = bob
        .wait_displayed("the notifications bell", "#notify-toggle")
        .await;
    bob.click(&bell, "the notifications bell").await;
    bob.wait_js(
        "the bell to say notifications are on",
        "const b = document.getElementById('notify-toggle');\
         return b.getAttribute('aria-pressed') === 'true' ? true : { waiting: b.textContent };",
        vec![],
    )
    .await;
    bob.screenshot("mentions-notifications-on").await;

    let alice = driver.in_room(&app, "alice", "lobby").await;
    bob.wait_for_online("alice").await;

    // @ and a letter offer bob; Enter takes the name instead of sending.
    alice.type_message("lunch @b").await;
    wait_for_suggestion(&alice, "bob").await;
    alice.screenshot("mentions-autocomplete").await;
    alice.type_message(&Key::Enter.to_string()).await;
    assert_eq!(alice.composer_text().await, "lunch @bob ");
    assert!(
        alice
            .js(
                "return document.getElementById('mention-suggest').hidden;",
                vec![]
            )
            .await
            == json!(true),
        "the list closes once a name is taken"
    );
    // An address is not a mention: nothing is offered.
    alice.type_message("or mail@b").await;
    let open = alice
        .js(
            "return !document.getElementById('mention-suggest').hidden;",
            vec![],
        )
        .await;
    assert_eq!(open, json!(false), "no list inside an address");
    alice.clear_composer().await;

    // While bob looks at the room, a mention shows in the room, not as a
    // notification.
    let seen = alice.send("@bob are you there?").await;
    bob.wait_for_message("@bob are you there?").await;

    // bob switches to another tab: the room's tab is no longer in front.
    let room_tab = bob.client.window().await.unwrap();
    let other = bob.client.new_window(true).await.unwrap();
    bob.client.switch_to_window(other.handle).await.unwrap();
    let away = alice.send("lunch @bob and @carol? 🍜").await;

    bob.client.switch_to_window(room_tab).await.unwrap();
    bob.wait_js(
        "a notification for the mention made while away",
        "const ids = [...document.querySelectorAll('#notification-log li')]\
           .map((li) => li.dataset.messageId);\
         return ids.includes(arguments[0]) ? true : { waiting: ids };",
        vec![json!(away)],
    )
    .await;
    assert_eq!(
        notified(&bob).await,
        vec![away.as_str()],
        "only the mention made while no tab was in front; not {seen}"
    );
    let entry = bob
        .js(
            "const li = document.querySelector('#notification-log li');\
             return [li.textContent, li.dataset.url];",
            vec![],
        )
        .await;
    assert_eq!(
        entry,
        json!([
            "alice mentioned you in #lobby: lunch @bob and @carol? 🍜",
            format!("/chat/lobby/?around={away}")
        ])
    );

    // /mentions/ lists both, newest first, on a desktop and on a phone.
    bob.goto(&app.url("/mentions/")).await;
    let items = bob
        .wait_js(
            "two mentions on /mentions/",
            "const items = [...document.querySelectorAll('.mention-item')].map((i) => i.id);\
             return items.length === 2 ? items : { waiting: items };",
            vec![],
        )
        .await;
    assert_eq!(
        items,
        json!([format!("mention-{away}"), format!("mention-{seen}")])
    );
    bob.screenshot("mentions-page").await;
    carol.goto(&app.url("/mentions/")).await;
    carol
        .wait_displayed("carol's mention", &format!("#mention-{away}"))
        .await;
    carol.screenshot("mentions-page-phone").await;

    // On a phone the list works by touch: a tap takes the name.
    carol.open_room(&app, "lobby", "carol").await;
    carol.type_message("thanks @al").await;
    wait_for_suggestion(&carol, "alice").await;
    carol.screenshot("mentions-autocomplete-phone").await;
    let option = carol
        .wait_displayed("alice in the @ list", "#mention-suggest [data-name=alice]")
        .await;
    carol.tap(&option, "alice in the @ list").await;
    assert_eq!(carol.composer_text().await, "thanks @alice ");

    // From another room: bob is in #lobby's members now (he posts there),
    // and reads #kitchen. A mention in #lobby reaches him as an `activity`
    // (counted in the sidebar as a mention) and notifies while no tab of
    // his is in front.
    bob.open_room(&app, "lobby", "bob").await;
    bob.send("on my way").await;
    bob.open_room(&app, "kitchen", "bob").await;
    let kitchen_tab = bob.client.window().await.unwrap();
    let other = bob.client.new_window(true).await.unwrap();
    bob.client.switch_to_window(other.handle).await.unwrap();
    let elsewhere = alice.send("@bob one more thing").await;
    bob.client.switch_to_window(kitchen_tab).await.unwrap();
    bob.wait_js(
        "a notification for the mention in another room",
        "const li = [...document.querySelectorAll('#notification-log li')]\
           .find((li) => li.dataset.messageId === arguments[0]);\
         return li ? [li.textContent, li.dataset.url] : { waiting: true };",
        vec![json!(elsewhere)],
    )
    .await;
    bob.wait_js(
        "the lobby's mention badge in the sidebar",
        "const a = document.querySelector('#sidebar a[data-room=\"lobby\"]');\
         const m = a && a.querySelector('.count-mention');\
         return m && !m.hidden && m.textContent.includes('1') ? true : { waiting: a && a.textContent };",
        vec![],
    )
    .await;

    alice.close().await;
    bob.close().await;
    carol.close().await;
}
