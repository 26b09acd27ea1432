//! Moderation as the room page shows it (issue 14), in real headless
//! Chromiums: a muted user's composer says why and until when and takes
//! nothing; slow mode counts down on the send button, after one's own
//! post and after the server's refusal; a kick says why and offers to
//! rejoin; a renamed room's page moves to its new name.
//!
//! DOM hooks: `#composer-banner` (`role="status"`, `aria-live`) with its
//! `.composer-banner-text`, `.is-closed` while it closes the composer;
//! `#chat-message-input` (disabled while closed, described by the banner);
//! `#chat-message-submit` ("Send", or "Wait 12 s"); `#room-ended` with
//! `.room-ended-text` and `.room-ended-link`. Screenshots:
//! `moderation-muted-composer.png`, `moderation-muted-composer-phone.png`,
//! `moderation-slow-mode.png`, `moderation-slow-mode-phone.png`,
//! `moderation-kicked.png`.

use crate::common::TestApp;
use crate::common::browser::{Chrome, Driver, Screen};
use crate::moderation_sockets::{act, identity, name, reason, room};
use crate::scale_out::same_user_on;
use confab::moderation::{Action, Actor};
use fantoccini::key::Key;
use serde_json::{Value, json};

/// The composer as a person (and a screen reader) meets it: the banner's
/// text and roles, whether the box and the button take input, the
/// button's label, and whether the box is described by the banner and
/// has a label.
const COMPOSER: &str = "\
    const banner = document.getElementById('composer-banner');\
    const input = document.getElementById('chat-message-input');\
    const button = document.getElementById('chat-message-submit');\
    const label = document.querySelector('label[for=\"chat-message-input\"]');\
    return {\
      banner: banner.hidden ? '' : banner.textContent.trim(),\
      role: banner.getAttribute('role'),\
      live: banner.getAttribute('aria-live'),\
      closed: banner.classList.contains('is-closed'),\
      inputDisabled: input.disabled,\
      describedBy: (input.getAttribute('aria-describedby') || '').split(' '),\
      labelled: label !== null && label.textContent.trim() !== '',\
      placeholder: input.placeholder,\
      button: button.textContent.trim(),\
      buttonDisabled: button.disabled,\
    };";

/// Waits until the composer's state passes `check` (a JS expression over
/// `c`, the object [`COMPOSER`] returns); returns that state.
async fn wait_composer(person: &Chrome, what: &str, check: &str) -> Value {
    let script = format!(
        "const c = (() => {{ {COMPOSER} }})();\
         return ({check}) ? c : {{ waiting: c }};"
    );
    person.wait_js(what, &script, vec![]).await
}

/// A staff account and the actor of its actions; the lobby made by the
/// command line (so that no one who opens it owns it).
async fn boss(app: &TestApp) -> Actor {
    assert!(app.cli(&["room", "create", "lobby"]).status.success());
    app.user("boss").await;
    assert!(app.cli(&["user", "promote", "boss"]).status.success());
    Actor::User(identity(app, "boss"))
}

async fn mute(app: &TestApp, boss: &Actor, who: &str, minutes: Option<u32>, why: &str) {
    act(
        app,
        boss,
        Action::Mute {
            room: room("lobby"),
            user: name(who),
            minutes,
            reason: reason(why),
        },
    )
    .await;
}

#[actix_web::test]
async fn a_muted_users_composer_says_why_and_until_when_and_takes_nothing() {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let app = TestApp::spawn().await;
    let boss = boss(&app).await;
    let bob = driver.in_room(&app, "bob", "lobby").await;
    bob.send("morning all").await;
    bob.type_message("half a thought").await;

    mute(&app, &boss, "bob", Some(30), "spamming").await;
    let muted = wait_composer(
        &bob,
        "the composer closed by the mute",
        "c.closed && c.inputDisabled && c.buttonDisabled",
    )
    .await;
    let banner = muted["banner"].as_str().unwrap();
    assert!(
        banner.starts_with("You are muted until ") && banner.ends_with(": spamming"),
        "the reason and the end: {banner}"
    );
    // Screen readers hear it, and the closed box says why.
    assert_eq!(muted["role"], "status");
    assert_eq!(muted["live"], "polite");
    assert!(
        muted["describedBy"]
            .as_array()
            .unwrap()
            .contains(&json!("composer-banner")),
        "{muted}"
    );
    assert_eq!(muted["labelled"], true);
    assert_eq!(muted["placeholder"], "You are muted");
    assert_eq!(
        bob.composer_text().await,
        "half a thought",
        "what was typed is kept"
    );
    bob.screenshot("moderation-muted-composer").await;

    // On a phone: the same, at its width.
    let cleo = driver
        .in_room_on(&app, "cleo", "lobby", Screen::Phone)
        .await;
    mute(&app, &boss, "cleo", None, "flooding the room").await;
    let phone = wait_composer(&cleo, "cleo's composer closed", "c.closed").await;
    assert_eq!(
        phone["banner"],
        "You are muted until a moderator lifts it: flooding the room"
    );
    let fits = cleo
        .js(
            "const b = document.getElementById('composer-banner').getBoundingClientRect();\
             return b.left >= 0 && b.right <= window.innerWidth;",
            vec![],
        )
        .await;
    assert_eq!(fits, json!(true), "the banner fits the phone's width");
    cleo.screenshot("moderation-muted-composer-phone").await;

    // Lifted: open again.
    act(
        &app,
        &boss,
        Action::Unmute {
            room: room("lobby"),
            user: name("bob"),
        },
    )
    .await;
    wait_composer(
        &bob,
        "the composer open again",
        "!c.closed && !c.inputDisabled && !c.buttonDisabled && c.banner === ''",
    )
    .await;
    bob.type_message(&Key::Enter.to_string()).await;
    bob.wait_for_message("half a thought").await;
    bob.close().await;
    cleo.close().await;
}

#[actix_web::test]
async fn slow_mode_counts_down_on_the_send_button() {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let app = TestApp::spawn().await;
    let boss = boss(&app).await;
    let bob = driver.in_room(&app, "bob", "lobby").await;
    act(
        &app,
        &boss,
        Action::SlowMode {
            room: room("lobby"),
            secs: 45,
        },
    )
    .await;
    wait_composer(
        &bob,
        "the slow mode note",
        "c.banner === 'Slow mode: one message every 45 s.' && !c.closed",
    )
    .await;

    bob.send("one thought").await;
    let waiting = wait_composer(
        &bob,
        "the countdown on the send button",
        "/^Wait \\d+ s$/.test(c.button) && c.buttonDisabled",
    )
    .await;
    let left: u32 = waiting["button"].as_str().unwrap()[5..]
        .trim_end_matches(" s")
        .parse()
        .unwrap();
    assert!((40..=45).contains(&left), "{waiting}");
    // The box still takes text; Enter does not send it, and says why.
    bob.type_message(&format!("another thought{}", Key::Enter))
        .await;
    bob.wait_for_notice("Slow mode: you can post again in")
        .await;
    assert_eq!(bob.composer_text().await, "another thought");
    bob.screenshot("moderation-slow-mode").await;

    // A post from elsewhere (another tab of cleo's) is news to this page:
    // the server's refusal starts the same countdown.
    let cleo = driver
        .in_room_on(&app, "cleo", "lobby", Screen::Phone)
        .await;
    let cleo_elsewhere = same_user_on(&app, "cleo").await;
    let mut other_tab = app.join(&cleo_elsewhere, "lobby").await;
    other_tab.joined().await;
    other_tab.say("from my other tab").await;
    cleo.wait_for_message("from my other tab").await;
    wait_composer(&cleo, "cleo's send button free", "c.button === 'Send'").await;
    cleo.type_message(&format!("and from this one{}", Key::Enter))
        .await;
    cleo.wait_for_notice("Slow mode: you can post again in")
        .await;
    wait_composer(
        &cleo,
        "cleo's countdown after the refusal",
        "/^Wait \\d+ s$/.test(c.button) && c.buttonDisabled",
    )
    .await;
    assert_eq!(
        cleo.composer_text().await,
        "and from this one",
        "the refused text is back in the box"
    );
    cleo.screenshot("moderation-slow-mode-phone").await;
    bob.close().await;
    cleo.close().await;
}

#[actix_web::test]
async fn a_kicked_user_is_told_why_and_may_rejoin_and_a_renamed_room_moves() {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let app = TestApp::spawn().await;
    let boss = boss(&app).await;
    let bob = driver.in_room(&app, "bob", "lobby").await;
    act(
        &app,
        &boss,
        Action::Kick {
            room: room("lobby"),
            user: name("bob"),
            reason: reason("calm down"),
        },
    )
    .await;
    let ended = bob
        .wait_js(
            "the kick's notice",
            "const e = document.getElementById('room-ended');\
             if (e.hidden) return null;\
             return { text: e.querySelector('.room-ended-text').textContent,\
                      link: e.querySelector('.room-ended-link').textContent,\
                      role: e.getAttribute('role') };",
            vec![],
        )
        .await;
    assert_eq!(
        ended["text"],
        "You were removed from this room by a moderator: calm down"
    );
    assert_eq!(ended["link"], "Rejoin");
    assert_eq!(ended["role"], "alert");
    bob.screenshot("moderation-kicked").await;
    let rejoin = bob
        .wait_displayed("the Rejoin link", "#room-ended .room-ended-link")
        .await;
    bob.real_click(&rejoin, "Rejoin").await;
    bob.wait_connected("lobby", "bob").await;

    act(
        &app,
        &boss,
        Action::RenameRoom {
            room: room("lobby"),
            to: room("hall"),
        },
    )
    .await;
    bob.wait_js(
        "the page at the new name",
        "return location.pathname === '/chat/hall/' || { waiting: location.pathname };",
        vec![],
    )
    .await;
    bob.wait_connected("hall", "bob").await;
    bob.close().await;
}
