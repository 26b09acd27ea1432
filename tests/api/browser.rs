//! The room page end to end: real headless Chromiums (one per person)
//! against the real server, through the page's DOM hooks:
//!
//! - `#chat-log` holds `.message[data-id]`, each with a `.message-text`,
//!   and last, posts not yet stored: `.message--outbox`, with their
//!   `.message-text` and a `.message-status` ("sending…", "not sent — retrying");
//! - `#chat-message-input` (Enter sends), `#chat-message-submit`,
//!   `#user-list`, `#conn-status[data-state]`, `#typing-indicator`,
//!   `#history-status`;
//! - each message's `.message-bubble` holds its toolbar `.message-actions`,
//!   shown on hover, or after a tap (the message gets `.is-active`);
//! - on one's own messages, the toolbar's `button.action-edit` (opens
//!   `textarea.edit-input`: Enter saves, Escape cancels; an edited message
//!   shows `.message-edited`) and `button.action-delete` (then
//!   `button.confirm-delete`);
//! - `button.action-react` (and `button.reaction-add` after the chips)
//!   opens a `.reaction-picker` of `button.reaction-option[data-emoji]`;
//!   reactions show as `button.reaction-chip[data-emoji]` with a `.reaction-count`.
//!
//! Needs `/usr/bin/chromium` and `/usr/bin/chromedriver`; without them these
//! tests print "skipping browser tests" and pass, except under `CI=true`.
//! Screenshots land in `test-output/screenshots/`: `room.png` and
//! `room-phone.png` show the room as people see it.

use crate::common::TestApp;
use crate::common::browser::{Driver, Screen};
use crate::scale_out::same_user_on;
use fantoccini::Locator;
use fantoccini::key::Key;
use serde_json::json;
use std::time::Duration;
use tokio::time::Instant;

const THUMBS_UP: &str = "👍";

#[actix_web::test]
async fn two_people_type_send_edit_react_and_delete_live() {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let app = TestApp::spawn().await;
    let alice = driver.in_room(&app, "alice", "lobby").await;
    let bob = driver.in_room(&app, "bob", "lobby").await;
    alice.wait_for_online("bob").await;

    // Typing, not sending: bob sees it; clearing the input takes it back.
    alice.type_message("hel").await;
    bob.wait_for_typing("alice is typing").await;
    alice.clear_composer().await;
    bob.wait_for_no_typing().await;

    let id = alice.send("hello bob").await;
    assert_eq!(bob.wait_for_message("hello bob").await, id, "same message");
    assert!(!bob.has_edited_mark(&id).await, "not edited yet");

    alice.edit_message(&id, "hello bob!").await;
    for person in [&alice, &bob] {
        person.wait_for_message_text(&id, "hello bob!").await;
        person.wait_for_edited_mark(&id).await;
    }

    bob.react_with_picker(&id, THUMBS_UP).await;
    for person in [&alice, &bob] {
        person.wait_for_reaction(&id, THUMBS_UP, 1).await;
    }
    alice.click_reaction_chip(&id, THUMBS_UP).await;
    for person in [&alice, &bob] {
        person.wait_for_reaction(&id, THUMBS_UP, 2).await;
    }
    alice
        .screenshot("room-with-edited-message-and-reactions")
        .await;
    bob.screenshot("room-with-edited-message-and-reactions-bob")
        .await;
    // The room as people see it: a reply, and alice typing again.
    bob.send("thanks alice, see you at the meeting").await;
    alice.type_message("sure").await;
    bob.wait_for_typing("alice is typing").await;
    bob.screenshot("room").await;
    alice.clear_composer().await;

    alice.delete_message(&id).await;
    for person in [&alice, &bob] {
        person.wait_for_message_gone(&id).await;
    }

    alice.close().await;
    bob.close().await;
}

#[actix_web::test]
async fn a_reload_shows_the_last_ten_with_edits_and_reactions_and_scrolling_up_loads_more_in_place()
{
    let Some(driver) = Driver::start().await else {
        return;
    };
    let app = TestApp::spawn().await;
    let alice = driver.open("alice").await;
    // Short enough that ten messages overflow the log: scroll-back is then
    // the only way to see older ones.
    alice.client.set_window_size(1000, 520).await.unwrap();
    alice.sign_up(&app, "alice").await;
    alice.open_room(&app, "archive", "alice").await;

    let texts: Vec<String> = (1..=12).map(|n| format!("message {n}")).collect();
    let mut ids = Vec::new();
    for text in &texts {
        ids.push(alice.send(text).await);
    }

    // Escape leaves a message as it was.
    let editor = alice.open_editor(&ids[11]).await;
    editor
        .send_keys(&format!("never saved{}", Key::Escape))
        .await
        .unwrap();
    alice
        .wait_js(
            "the editor to close on Escape",
            "return document.querySelector('textarea.edit-input') === null;",
            vec![],
        )
        .await;
    alice.wait_for_message_text(&ids[11], "message 12").await;
    assert!(
        !alice.has_edited_mark(&ids[11]).await,
        "Escape saves nothing"
    );

    alice.edit_message(&ids[10], "message 11, revised").await;
    alice.wait_for_edited_mark(&ids[10]).await;
    alice.react_with_picker(&ids[10], THUMBS_UP).await;
    alice.wait_for_reaction(&ids[10], THUMBS_UP, 1).await;

    alice.reload().await;
    alice.wait_connected("archive", "alice").await;
    let mut expected: Vec<String> = texts.clone();
    expected[10] = "message 11, revised".into();
    alice
        .wait_for_messages("the last ten messages, oldest first", &expected[2..])
        .await;
    alice.wait_for_edited_mark(&ids[10]).await;
    alice.wait_for_reaction(&ids[10], THUMBS_UP, 1).await;
    assert!(!alice.has_edited_mark(&ids[9]).await, "only the edited one");

    // The ten overflow the short window, so nothing older loads by itself…
    assert_eq!(
        alice.history_status().await,
        ("idle".to_owned(), String::new()),
        "nothing loading before scrolling up"
    );
    // …until alice scrolls to the top. Where the message then at the top
    // is on screen is noted in the same script, before the scroll event
    // can ask for anything. (Its bubble: the message itself loses its
    // author line once older ones by alice arrive above it.)
    alice
        .js(
            "const log = document.getElementById('chat-log');\
             log.scrollTop = 0;\
             const first = log.querySelector('.message[data-id]');\
             window.__topMessage = {\
               id: first.dataset.id,\
               top: first.querySelector('.message-bubble').getBoundingClientRect().top,\
             };",
            vec![],
        )
        .await;
    alice
        .wait_for_messages("all twelve messages after scrolling up", &expected)
        .await;
    let shift = alice
        .js(
            "const m = document.querySelector(\
               `#chat-log .message[data-id=\"${window.__topMessage.id}\"] .message-bubble`);\
             return m.getBoundingClientRect().top - window.__topMessage.top;",
            vec![],
        )
        .await
        .as_f64()
        .expect("a distance in pixels");
    assert!(
        shift.abs() < 2.0,
        "the message alice was looking at stays put while older ones load above it; it moved {shift}px"
    );
    alice
        .wait_js(
            "#history-status to say the beginning is reached",
            "const s = document.getElementById('history-status');\
             return (s.dataset.state === 'done' && s.textContent === 'Beginning of #archive')\
               || { waiting: [s.dataset.state, s.textContent] };",
            vec![],
        )
        .await;
    alice.screenshot("room-history-after-scrolling-up").await;

    alice.close().await;
}

#[actix_web::test]
async fn a_non_staff_visitor_gets_the_forbidden_page_for_an_admin_only_room() {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let app = TestApp::spawn().await;
    let out = app.cli(&["room", "create", "staffroom", "--admin-only"]);
    assert!(
        out.status.success(),
        "room create: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bob = driver.open("bob").await;
    bob.sign_up(&app, "bob").await;
    bob.goto(&app.url("/chat/staffroom/")).await;

    let text = bob.page_text().await;
    assert!(text.contains("403"), "the page shows the status: {text}");
    assert!(text.contains("admin-only"), "the page says why: {text}");
    assert!(!bob.exists("#chat-log").await, "no chat log on a 403 page");
    bob.screenshot("admin-only-room-forbidden").await;

    bob.close().await;
}

#[actix_web::test]
async fn markup_in_a_message_shows_as_text_and_never_runs() {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let app = TestApp::spawn().await;
    let alice = driver.in_room(&app, "alice", "lobby").await;
    let bob = driver.in_room(&app, "bob", "lobby").await;

    let attack = "<script>window.__pwned=1</script><b>bold</b>";
    let id = alice.send(attack).await;
    assert_eq!(bob.wait_for_message(attack).await, id);
    for person in [&alice, &bob] {
        let found = person
            .js(
                "const log = document.getElementById('chat-log');\
                 return [log.querySelector('b, script') !== null, typeof window.__pwned];",
                vec![],
            )
            .await;
        assert_eq!(
            found,
            serde_json::json!([false, "undefined"]),
            "{}: the markup is text, not elements, and the script never ran",
            person.name
        );
    }

    alice.close().await;
    bob.close().await;
}

#[actix_web::test]
async fn a_page_that_loses_its_server_catches_up_on_everything_missed() {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let app = TestApp::spawn().await;
    let bob = app.user("bob").await;
    let alice = driver.in_room(&app, "alice", "lobby").await;
    let mut expected = Vec::new();
    for i in 0..3 {
        let text = format!("before {i}");
        alice.send(&text).await;
        expected.push(text);
    }

    // The server goes away (closing sockets with 1001); while it is down,
    // more is said than the ten a fresh join would show.
    app.stop().await;
    let missed: Vec<String> = (0..15).map(|i| format!("while away {i}")).collect();
    app.store_messages("lobby", "bob", &missed);
    expected.extend(missed);
    drop(bob);
    let app = app.start_again().await;

    // The page reconnects by itself with ?after=<last id> and shows every
    // message exactly once, in order, without a reload.
    alice
        .wait_for_messages("everything, after the reconnect", &expected)
        .await;
    alice.wait_connected("lobby", "alice").await;
    alice.screenshot("room-after-reconnect").await;
    alice.close().await;
    app.stop().await;
}

#[actix_web::test]
async fn a_page_back_from_an_outage_shows_the_edits_deletions_and_reactions_it_missed() {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let app = TestApp::spawn().await;
    let bob = driver.in_room(&app, "bob", "lobby").await;
    let alice = app.user("alice").await;
    let mut ws = app.join(&alice, "lobby").await;
    ws.joined().await;
    let mut ids = Vec::new();
    for text in [
        "stays as it was",
        "to be edited",
        "to be deleted",
        "to be liked",
    ] {
        ws.say(text).await;
        let id = ws.next_of("chat_message").await["id"].clone();
        assert_eq!(bob.wait_for_message(text).await, id.to_string());
        ids.push(id);
    }
    let on_bobs_page = |n: usize| ids[n].to_string();
    bob.js(HISTORY_SPY, vec![]).await;

    // Bob's server goes away; alice carries on through another instance on
    // the same database while bob's page waits to reconnect.
    let other = app.sibling(|_| {}).await;
    ws.close().await;
    app.stop().await;
    bob.wait_js(
        "bob's page to notice it lost its server",
        "return document.getElementById('conn-status').dataset.state !== 'online';",
        vec![],
    )
    .await;
    let mut ws = other
        .connect(&alice, "lobby")
        .await
        .expect("alice's socket to the other instance");
    ws.joined().await;
    ws.send_json(
        json!({"type": "edit_message", "id": ids[1], "message": "edited while bob was away"}),
    )
    .await;
    ws.next_of("message_edited").await;
    ws.send_json(json!({"type": "delete_message", "id": ids[2]}))
        .await;
    ws.next_of("message_deleted").await;
    ws.send_json(json!({"type": "react", "id": ids[3], "emoji": THUMBS_UP}))
        .await;
    ws.next_of("reaction").await;

    // Bob's server is back: his page reconnects by itself and, without a
    // reload, shows the log as it is now.
    let app = app.start_again().await;
    bob.wait_connected("lobby", "bob").await;
    bob.wait_for_message_text(&on_bobs_page(1), "edited while bob was away")
        .await;
    bob.wait_for_edited_mark(&on_bobs_page(1)).await;
    bob.wait_for_message_gone(&on_bobs_page(2)).await;
    bob.wait_for_reaction(&on_bobs_page(3), THUMBS_UP, 1).await;
    let now: Vec<String> = [
        "stays as it was",
        "edited while bob was away",
        "to be liked",
    ]
    .map(String::from)
    .into();
    bob.wait_for_messages("the three messages left, in order", &now)
        .await;
    assert!(
        !bob.has_edited_mark(&on_bobs_page(0)).await,
        "the untouched message is not marked edited"
    );
    let spy = bob
        .js(
            "const spy = window.__historySpy;\
             return spy && [spy.maxOut, spy.sent.filter((f) => f.before !== undefined).length];",
            vec![],
        )
        .await;
    assert!(
        spy.is_array(),
        "the page was not reloaded (the spy is still there)"
    );
    assert_eq!(spy[0], 1, "never more than one history request out");
    assert!(
        spy[1].as_u64() >= Some(1),
        "the page asked for the messages it shows: {spy}"
    );
    bob.screenshot("room-after-reconnect-reconciled").await;

    ws.close().await;
    bob.close().await;
    other.stop().await;
    app.stop().await;
}

/// Installed in a page, counts the `history` requests its sockets send
/// and the answers they get (only sockets opened afterwards are seen
/// answering): `window.__historySpy.maxOut` is the most ever out at once.
const HISTORY_SPY: &str = "\
    const spy = window.__historySpy = { out: 0, maxOut: 0, sent: [] };\
    const proto = WebSocket.prototype;\
    const send = proto.send;\
    proto.send = function (data) {\
      const frame = JSON.parse(data);\
      if (frame.type === 'history') {\
        spy.out += 1;\
        spy.maxOut = Math.max(spy.maxOut, spy.out);\
        spy.sent.push(frame);\
      }\
      return send.call(this, data);\
    };\
    const listen = proto.addEventListener;\
    proto.addEventListener = function (type, listener, options) {\
      let wrapped = listener;\
      if (type === 'message') wrapped = function (event) {\
        if (JSON.parse(event.data).type === 'history') spy.out -= 1;\
        return listener.call(this, event);\
      };\
      if (type === 'close') wrapped = function (event) {\
        spy.out = 0;\
        return listener.call(this, event);\
      };\
      return listen.call(this, type, wrapped, options);\
    };";

#[actix_web::test]
async fn the_typing_line_names_several_people_and_clears_on_send_or_by_itself() {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let app = TestApp::spawn().await;
    let alice = driver.in_room(&app, "alice", "lobby").await;
    let bob = driver.in_room(&app, "bob", "lobby").await;
    // Two more people, on plain sockets.
    let mut others = Vec::new();
    for name in ["carol", "dave"] {
        let [ws] = app.members("lobby", [name]).await;
        bob.wait_for_online(name).await;
        others.push(ws);
    }
    bob.record_typing_line_on_arrival().await;

    alice.type_message("hel").await;
    bob.wait_for_typing("alice is typing…").await;
    for ws in &mut others {
        ws.send_json(json!({"type": "typing", "typing": true}))
            .await;
    }
    let their_last_word = Instant::now();
    bob.wait_for_typing("several people are typing…").await;
    bob.screenshot("room-typing-several").await;

    // When alice's message reaches bob, his line no longer names her…
    alice.type_message(&format!("lo{}", Key::Enter)).await;
    bob.wait_for_message("hello").await;
    let line = bob.typing_line_when("hello").await;
    assert!(
        line.contains("carol") && line.contains("dave") && !line.contains("alice"),
        "bob's line as alice's message arrives: {line:?}"
    );
    // …and carol and dave, who never say they stopped, drop out by
    // themselves about five seconds after their last word.
    bob.wait_for_no_typing_until(their_last_word + Duration::from_secs(8))
        .await;
    let cleared = their_last_word.elapsed();
    assert!(
        cleared >= Duration::from_secs(4),
        "a fresh \"typing\" must not lapse early; it did after {cleared:?}"
    );

    // Alone again: alice's send clears the line at once, not by lapsing.
    alice.type_message("agai").await;
    bob.wait_for_typing("alice is typing…").await;
    alice.type_message(&format!("n{}", Key::Enter)).await;
    bob.wait_for_message("again").await;
    assert_eq!(
        bob.typing_line_when("again").await,
        "",
        "bob's line is clear as alice's message arrives"
    );
    bob.wait_for_no_typing().await;

    drop(others); // only now: leaving would take them off the line too
    alice.close().await;
    bob.close().await;
}

#[actix_web::test]
async fn a_messages_actions_show_on_hover_only_and_take_real_clicks() {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let app = TestApp::spawn().await;
    let alice = driver.in_room(&app, "alice", "lobby").await;
    let id = alice.send("hover over me").await;

    let header = alice
        .wait_displayed("the room header", ".room-header")
        .await;
    alice.hover(&header).await;
    assert_eq!(
        alice.toolbar_opacity(&id).await,
        "0",
        "no toolbar before the mouse comes"
    );
    let message = alice.message(&id).await;
    alice.hover(&message).await;
    alice
        .wait_js(
            "the toolbar to show on hover",
            "const bar = document.querySelector(\
               `#chat-log .message[data-id=\"${arguments[0]}\"] .message-actions`);\
             return getComputedStyle(bar).opacity === '1' || { waiting: getComputedStyle(bar).opacity };",
            vec![json!(id)],
        )
        .await;
    // Really there: nothing covers the edit button, and a real click on it works.
    let on_top = alice
        .js(
            "const edit = document.querySelector(\
               `#chat-log .message[data-id=\"${arguments[0]}\"] button.action-edit`);\
             const r = edit.getBoundingClientRect();\
             return document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2)\
               ?.closest('button') === edit;",
            vec![json!(id)],
        )
        .await;
    assert_eq!(
        on_top,
        json!(true),
        "the edit button is what the mouse is over"
    );
    let edit = message
        .find(Locator::Css("button.action-edit"))
        .await
        .unwrap();
    alice.real_click(&edit, "the edit button").await;
    let editor = alice
        .wait_displayed("the editor", "textarea.edit-input")
        .await;
    alice.save_edit(&editor, "edited by mouse").await;
    alice.wait_for_message_text(&id, "edited by mouse").await;
    alice.wait_for_edited_mark(&id).await;

    alice.close().await;
}

#[actix_web::test]
async fn the_reaction_picker_is_a_grid_that_works_from_the_keyboard_and_closes_when_left() {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let app = TestApp::spawn().await;
    let alice = driver.in_room(&app, "alice", "lobby").await;
    let id = alice.send("react to me").await;

    alice.click_message_action(&id, "button.action-react").await;
    let focused =
        |emoji: &str| format!("the {emoji} option to have the focus in the open picker, of 32",);
    let focus_on = "const picker = document.querySelector('#chat-log .reaction-picker');\
                    if (!picker) return { waiting: 'no picker' };\
                    const n = picker.querySelectorAll('button.reaction-option').length;\
                    const now = document.activeElement.dataset.emoji;\
                    return (n === 32 && now === arguments[0]) || { waiting: [n, now] };";
    alice
        .wait_js(&focused(THUMBS_UP), focus_on, vec![json!(THUMBS_UP)])
        .await;
    alice.screenshot("room-reaction-picker").await;
    // One step right and one row down, then to the end, and pick.
    alice.press(&format!("{}{}", Key::Right, Key::Down)).await;
    alice
        .wait_js(&focused("😍"), focus_on, vec![json!("😍")])
        .await;
    alice.press(&Key::End.to_string()).await;
    alice
        .wait_js(&focused("🤯"), focus_on, vec![json!("🤯")])
        .await;
    alice.press(&Key::Enter.to_string()).await;
    alice.wait_for_reaction(&id, "🤯", 1).await;
    assert!(
        !alice.exists(".reaction-picker").await,
        "picking closes the picker"
    );

    // The button after the chips opens it too; Escape closes it and gives
    // the focus back.
    let add = alice
        .wait_displayed(
            "the add-reaction button after the chips",
            "#chat-log .message-reactions button.reaction-add",
        )
        .await;
    alice.real_click(&add, "the add-reaction button").await;
    alice
        .wait_js(&focused(THUMBS_UP), focus_on, vec![json!(THUMBS_UP)])
        .await;
    alice.press(&Key::Escape.to_string()).await;
    alice
        .wait_js(
            "Escape to close the picker and focus its button",
            "return document.querySelector('.reaction-picker') === null\
               && document.activeElement.classList.contains('reaction-add');",
            vec![],
        )
        .await;

    // A click anywhere else closes it as well.
    alice.real_click(&add, "the add-reaction button").await;
    alice
        .wait_js(&focused(THUMBS_UP), focus_on, vec![json!(THUMBS_UP)])
        .await;
    let header = alice.wait_displayed("the room header", ".room-title").await;
    alice.real_click(&header, "the room title").await;
    alice
        .wait_js(
            "a click outside to close the picker",
            "return document.querySelector('.reaction-picker') === null;",
            vec![],
        )
        .await;

    alice.close().await;
}

#[actix_web::test]
async fn on_a_phone_a_tap_shows_a_messages_actions_and_editing_and_reacting_work_from_there() {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let app = TestApp::spawn().await;
    let alice = driver
        .in_room_on(&app, "alice", "lobby", Screen::Phone)
        .await;
    let phone = alice
        .js(
            "return [innerWidth, matchMedia('(pointer: coarse)').matches, matchMedia('(hover: none)').matches];",
            vec![],
        )
        .await;
    assert_eq!(
        phone,
        json!([390, true, true]),
        "a phone-sized touch screen"
    );

    // Someone to talk to, on a plain socket.
    let [mut bob_ws] = app.members("lobby", ["bob"]).await;
    alice.wait_for_online("bob").await;
    bob_ws.say("are you on your phone?").await;
    alice.wait_for_message("are you on your phone?").await;
    let id = alice.send("yes, typing with my thumbs").await;
    bob_ws
        .say("then tap your message to fix the typo, if there is one")
        .await;
    alice
        .wait_for_message("then tap your message to fix the typo, if there is one")
        .await;

    // A tap on the bubble reveals the actions…
    let bubble_css = format!("#chat-log .message[data-id=\"{id}\"] .message-bubble");
    let bubble = alice.wait_displayed("alice's bubble", &bubble_css).await;
    assert_eq!(
        alice.toolbar_opacity(&id).await,
        "0",
        "no toolbar before a tap"
    );
    alice.tap(&bubble, "alice's bubble").await;
    alice
        .wait_js(
            "the tapped message to show its actions",
            "const m = document.querySelector(`#chat-log .message[data-id=\"${arguments[0]}\"]`);\
             const bar = m.querySelector('.message-actions');\
             const style = getComputedStyle(bar);\
             return (m.classList.contains('is-active') && style.opacity === '1'\
               && style.pointerEvents !== 'none') || { waiting: [m.className, style.opacity] };",
            vec![json!(id)],
        )
        .await;
    // …and editing works from there.
    let edit = alice
        .wait_displayed(
            "the edit button",
            &format!("#chat-log .message[data-id=\"{id}\"] button.action-edit"),
        )
        .await;
    alice.tap(&edit, "the edit button").await;
    let editor = alice
        .wait_displayed("the editor", "textarea.edit-input")
        .await;
    alice
        .save_edit(&editor, "yes, typing with my thumbs!")
        .await;
    alice
        .wait_for_message_text(&id, "yes, typing with my thumbs!")
        .await;
    alice.wait_for_edited_mark(&id).await;

    // Reactions come up as a sheet along the bottom of the screen.
    alice.tap(&bubble, "alice's bubble").await;
    let react = alice
        .wait_displayed(
            "the react button",
            &format!("#chat-log .message[data-id=\"{id}\"] button.action-react"),
        )
        .await;
    alice.tap(&react, "the react button").await;
    alice
        .wait_js(
            "the picker as a sheet along the bottom",
            "const p = document.querySelector('.reaction-picker');\
             if (!p) return { waiting: 'no picker' };\
             const r = p.getBoundingClientRect();\
             return (r.left === 0 && r.right === innerWidth && Math.abs(r.bottom - innerHeight) < 1)\
               || { waiting: [r.left, r.right, r.bottom, innerWidth, innerHeight] };",
            vec![],
        )
        .await;
    alice.screenshot("room-phone-reaction-picker").await;
    let party = alice
        .wait_displayed("the 🎉 option", "button.reaction-option[data-emoji=\"🎉\"]")
        .await;
    alice.tap(&party, "the 🎉 option").await;
    alice.wait_for_reaction(&id, "🎉", 1).await;
    bob_ws.say("nice 🎉").await;
    alice.wait_for_message("nice 🎉").await;

    let overflow = alice
        .js(
            "const log = document.getElementById('chat-log');\
             return [document.documentElement.scrollWidth - innerWidth, log.scrollWidth - log.clientWidth];",
            vec![],
        )
        .await;
    assert_eq!(overflow, json!([0, 0]), "nothing sticks out sideways");
    alice.screenshot("room-phone").await;

    bob_ws.close().await;
    alice.close().await;
}

#[actix_web::test]
async fn a_refused_message_is_retried_by_itself_and_a_hopeless_one_comes_back_to_the_composer() {
    let Some(driver) = Driver::start().await else {
        return;
    };
    // One write at once, one a second; one kind of reaction per message.
    let app = TestApp::spawn_with(|s| {
        s.write_burst = 1;
        s.write_per_sec = 1;
        s.max_reactions = 1;
    })
    .await;
    let alice = driver.in_room(&app, "alice", "lobby").await;

    // Two messages sent at once: the second is over the allowance. It stays
    // in the log as not sent, and goes out again once the wait is over.
    alice
        .js(
            "const input = document.getElementById('chat-message-input');\
             input.value = 'first'; input.form.requestSubmit();\
             input.value = 'second, sent by itself later'; input.form.requestSubmit();",
            vec![],
        )
        .await;
    let id = alice.wait_for_message("first").await;
    alice
        .wait_for_outbox("second, sent by itself later", "not sent — retrying")
        .await;
    alice.screenshot("room-rate-limited").await;
    assert_eq!(alice.composer_text().await, "", "nothing to do by hand");
    alice.wait_for_message("second, sent by itself later").await;
    alice
        .wait_for_messages(
            "each once, in order",
            &[
                "first".to_owned(),
                "second, sent by itself later".to_owned(),
            ],
        )
        .await;
    assert!(
        !alice.exists(".message--outbox").await,
        "the outbox is empty"
    );

    // Bob's 👍 fills the message's one kind of reaction.
    let bob = app.user("bob").await;
    let mut b = app.join(&bob, "lobby").await;
    b.joined().await;
    b.send_json(json!({"type": "react", "id": id.parse::<i64>().unwrap(), "emoji": THUMBS_UP}))
        .await;
    b.next_of("reaction").await;
    alice.wait_for_chip(&id, THUMBS_UP, 1, false, "bob").await;

    // Past the allowance's second, alice tries another kind: refused, in words.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    alice.react_with_picker(&id, "🎉").await;
    alice
        .wait_for_notice("as many different reactions as it can take")
        .await;
    alice.screenshot("room-too-many-reactions").await;
    assert!(!alice.exists(".reaction-chip[data-emoji=\"🎉\"]").await);
    // Adding to the one there works.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    alice.click_reaction_chip(&id, THUMBS_UP).await;
    alice.wait_for_chip(&id, THUMBS_UP, 2, true, "you").await;

    // A refusal no retry can help (only invisible characters: empty) gives
    // the text back to the composer, with the reason.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    alice.type_message(&format!("\u{200B}{}", Key::Enter)).await;
    alice.wait_for_notice("empty").await;
    assert_eq!(alice.composer_text().await, "\u{200B}");
    assert!(!alice.exists(".message--outbox").await);
}

#[actix_web::test]
async fn a_message_sent_while_the_server_is_away_waits_in_the_log_and_arrives_once() {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let app = TestApp::spawn().await;
    let alice = driver.in_room(&app, "alice", "lobby").await;
    alice.send("before").await;

    // The server goes away; alice writes on regardless.
    app.stop().await;
    alice
        .wait_js(
            "the page to notice the server is gone",
            "return document.getElementById('conn-status').dataset.state !== 'online';",
            vec![],
        )
        .await;
    alice
        .type_message(&format!("while away{}", Key::Enter))
        .await;
    alice
        .wait_for_outbox("while away", "not sent — retrying")
        .await;
    assert_eq!(alice.composer_text().await, "", "the text went to the log");
    alice.screenshot("room-outbox-not-sent").await;

    // Back: the page reconnects, sends it, and shows it once, as a message.
    let app = app.start_again().await;
    alice.wait_connected("lobby", "alice").await;
    alice
        .wait_for_messages(
            "each once, after the reconnect",
            &["before".to_owned(), "while away".to_owned()],
        )
        .await;
    assert!(
        !alice.exists(".message--outbox").await,
        "the outbox is empty"
    );
    // Stored once, too.
    let mut ws = app.join(&app.user("bob").await, "lobby").await;
    let (history, _) = ws.joined().await;
    let texts: Vec<&str> = history
        .iter()
        .map(|m| m["message"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["before", "while away"]);
    alice.close().await;
    app.stop().await;
}

#[actix_web::test]
async fn a_reload_keeps_the_outbox_and_sends_it_without_doubling_what_was_stored() {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let app = TestApp::spawn().await;
    let alice = driver.in_room(&app, "alice", "lobby").await;
    // One post the server stored but whose echo the page never saw (the
    // connection dropped first), and one it never got, both still in the
    // tab's outbox when it reloads.
    let same_alice = same_user_on(&app, "alice").await;
    let mut ws = app.join(&same_alice, "lobby").await;
    ws.joined().await;
    ws.send_json(
        json!({"type": "chat_message", "message": "stored, echo lost", "client_id": "lost-echo"}),
    )
    .await;
    ws.expect("chat_message").await;
    alice
        .js(
            "sessionStorage.setItem('confab.outbox:lobby:alice', JSON.stringify([\
               {clientId: 'lost-echo', text: 'stored, echo lost'},\
               {clientId: 'never-sent', text: 'never got there'}]));",
            vec![],
        )
        .await;
    alice.reload().await;
    alice.wait_connected("lobby", "alice").await;
    alice
        .wait_for_messages(
            "each once, after the reload",
            &["stored, echo lost".to_owned(), "never got there".to_owned()],
        )
        .await;
    assert!(
        !alice.exists(".message--outbox").await,
        "the outbox is empty"
    );
    let left = alice
        .js(
            "return sessionStorage.getItem('confab.outbox:lobby:alice');",
            vec![],
        )
        .await;
    assert_eq!(left, json!(null), "and so is its storage");
    // The server stored each once.
    ws.send_json(json!({"type": "history", "limit": 10})).await;
    let page = ws.next_of("history").await;
    let texts: Vec<&str> = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["message"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["stored, echo lost", "never got there"]);
    alice.close().await;
}

#[actix_web::test]
async fn reaction_chips_count_mark_mine_and_name_everyone_on_hover() {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let app = TestApp::spawn().await;
    let alice = driver.in_room(&app, "alice", "lobby").await;
    let id = alice.send("who likes this?").await;
    let message = id.parse::<i64>().unwrap();
    for name in ["u1", "u2", "u3", "u4", "u5"] {
        let mut ws = app.join(&app.user(name).await, "lobby").await;
        ws.joined().await;
        ws.send_json(json!({"type": "react", "id": message, "emoji": "🎉"}))
            .await;
        ws.next_of("reaction").await;
    }
    alice
        .wait_for_chip(&id, "🎉", 5, false, "u1, u2, u3, u4 and u5")
        .await;

    // A fresh page gets the summary (three names) and asks for the rest on hover.
    alice.reload().await;
    alice.wait_connected("lobby", "alice").await;
    alice
        .wait_for_chip(&id, "🎉", 5, false, "u1, u2, u3 and 2 others")
        .await;
    let chip = alice
        .wait_displayed(
            "the 🎉 chip",
            &format!("#chat-log .message[data-id=\"{id}\"] button.reaction-chip"),
        )
        .await;
    alice.hover(&chip).await;
    alice
        .wait_for_chip(&id, "🎉", 5, false, "u1, u2, u3, u4 and u5")
        .await;

    alice.click_reaction_chip(&id, "🎉").await;
    let who = alice.wait_for_chip(&id, "🎉", 6, true, "you").await;
    assert!(who.starts_with("you, u1"), "{who}");
    alice.screenshot("room-reaction-chips").await;
}

#[actix_web::test]
async fn a_second_tab_is_signed_out_when_the_first_logs_out() {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let app = TestApp::spawn().await;
    // One browser, two tabs in the lobby, one session.
    let alice = driver.in_room(&app, "alice", "lobby").await;
    let first = alice.client.window().await.expect("the first tab");
    let second = alice
        .client
        .new_window(true)
        .await
        .expect("a second tab")
        .handle;
    alice
        .client
        .switch_to_window(second.clone())
        .await
        .expect("switch to the second tab");
    alice.open_room(&app, "lobby", "alice").await;

    alice
        .client
        .switch_to_window(first)
        .await
        .expect("back to the first tab");
    let logout = alice
        .wait_displayed(
            "the header's log out button",
            "form[action='/accounts/logout/'] button[type=submit]",
        )
        .await;
    alice.click(&logout, "log out").await;
    alice
        .wait_js(
            "the login page after logging out",
            "return location.pathname === '/accounts/login/';",
            vec![],
        )
        .await;

    alice
        .client
        .switch_to_window(second)
        .await
        .expect("to the second tab");
    let shown = alice
        .wait_js(
            "the second tab to say it was signed out",
            "const status = document.getElementById('conn-status');\
             const banner = document.getElementById('room-ended');\
             if (status.dataset.state !== 'signed-out' || banner.hidden) \
               return {waiting: status.dataset.state};\
             const link = banner.querySelector('.room-ended-link');\
             return [status.textContent.trim(), banner.textContent, link.getAttribute('href')];",
            vec![],
        )
        .await;
    assert_eq!(shown[0], "signed out", "{shown}");
    assert!(
        shown[1].as_str().unwrap().contains("You were signed out"),
        "{shown}"
    );
    assert_eq!(shown[2], "/accounts/login/?next=%2Fchat%2Flobby%2F");
    assert_eq!(
        alice
            .js("return document.getElementById('chat-message-input').disabled || document.getElementById('chat-message-submit').disabled;", vec![])
            .await,
        true,
        "nothing can be sent"
    );
    alice.screenshot("room-signed-out").await;
    // It stays that way: no reconnecting against a closed door.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        alice
            .js(
                "return document.getElementById('conn-status').dataset.state;",
                vec![]
            )
            .await,
        "signed-out"
    );
    alice.close().await;
}
