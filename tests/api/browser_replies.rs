//! Replies, formatting and jumping to a message, in real headless
//! Chromiums (see browser.rs for the page's DOM hooks), besides:
//!
//! - a reply shows `button.message-quote[data-reply-to=ID]` above its
//!   `.message-text`; clicking it jumps to message ID, which gets
//!   `.is-target`; `#jump-latest` shows while the log is away from the
//!   live end;
//! - `button.action-reply` in a message's toolbar opens `#reply-banner`
//!   above the composer;
//! - formatted text is built of `strong`, `em`, `del`, `code.md-code`,
//!   `pre.md-pre`, `blockquote.md-quote`, `a.md-link`, `span.mention`
//!   (`.mention-me`).
//!
//! Screenshots: `room-reply-jump.png` (the original highlighted after a
//! jump), `room-reply-banner.png`, `room-formatted-messages.png`,
//! `room-phone-around.png` (opened at `?around=`), `room-phone-reply.png`.

use crate::common::browser::{Chrome, Driver, Screen};
use crate::common::{TestApp, Ws};
use fantoccini::key::Key;
use serde_json::json;

/// Whether message `id` is in the log, highlighted and inside the log's
/// visible area.
const TARGET_IN_VIEW: &str = "\
    const m = document.querySelector(`#chat-log .message[data-id=\"${arguments[0]}\"]`);\
    if (m === null) return { waiting: 'not in the log' };\
    const log = document.getElementById('chat-log').getBoundingClientRect();\
    const r = m.getBoundingClientRect();\
    const visible = r.top >= log.top - 1 && r.bottom <= log.bottom + 1;\
    return (m.classList.contains('is-target') && visible) || { waiting: [m.className, r.top, log.top, log.bottom] };";

/// The ids of the room messages in the log, top to bottom.
async fn log_ids(person: &Chrome) -> Vec<i64> {
    let ids = person
        .js(
            "return [...document.querySelectorAll('#chat-log .message[data-id]')].map((m) => Number(m.dataset.id));",
            vec![],
        )
        .await;
    serde_json::from_value(ids).expect("a list of ids")
}

/// Waits for a reply to `original` in the log; returns its id.
async fn wait_for_reply(person: &Chrome, original: i64) -> String {
    let id = person
        .wait_js(
            &format!("a reply quoting message {original}"),
            "const q = [...document.querySelectorAll(`#chat-log .message[data-id] .message-quote[data-reply-to=\"${arguments[0]}\"]`)];\
             return q.length ? q[q.length - 1].closest('.message').dataset.id : null;",
            vec![json!(original)],
        )
        .await;
    id.as_str().unwrap_or_default().to_owned()
}

/// The "Jump to latest" button, once it shows.
async fn jump_button(person: &Chrome) -> fantoccini::elements::Element {
    person
        .wait_js(
            "the Jump to latest button",
            "const b = document.getElementById('jump-latest');\
             return (!b.hidden && b.getBoundingClientRect().height > 0) || { waiting: b.hidden };",
            vec![],
        )
        .await;
    person
        .client
        .find(fantoccini::Locator::Id("jump-latest"))
        .await
        .expect("the Jump to latest button")
}

/// Types `text` and Enter, and waits for it as this person's newest
/// message (its text shows formatted, so it is found by id); returns its id.
async fn send_formatted(person: &Chrome, text: &str) -> String {
    let before = log_ids(person).await.into_iter().max().unwrap_or(0);
    person.type_message(&format!("{text}{}", Key::Enter)).await;
    let id = person
        .wait_js(
            "the message sent to show",
            "const mine = [...document.querySelectorAll('#chat-log .message--mine[data-id]')]               .map((m) => Number(m.dataset.id)).filter((id) => id > arguments[0]);             return mine.length ? String(Math.max(...mine)) : null;",
            vec![json!(before)],
        )
        .await;
    id.as_str().unwrap_or_default().to_owned()
}

/// Posts `text` on a plain socket as a reply to `original`; returns its id.
async fn reply_on_socket(ws: &mut Ws, text: &str, original: i64) -> i64 {
    ws.send_json(json!({"type": "chat_message", "message": text, "reply_to": original}))
        .await;
    ws.next_of("chat_message").await["id"].as_i64().unwrap()
}

#[actix_web::test]
async fn a_reply_quotes_its_original_and_a_click_on_the_quote_jumps_there_and_back() {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let app = TestApp::spawn().await;
    let alice = driver.in_room(&app, "alice", "lobby").await;
    // A long morning: the plan is far above what a page opens with.
    let original = app.store_messages(
        "lobby",
        "alice",
        ["Plan for Friday: **ship the release** at 10, then lunch"],
    )[0];
    app.store_messages(
        "lobby",
        "alice",
        (1..=60).map(|n| format!("status update {n}")),
    );
    let bob = driver.in_room(&app, "bob", "lobby").await;

    let carol = app.user("carol").await;
    let mut carol_ws = app.join(&carol, "lobby").await;
    carol_ws.joined().await;
    reply_on_socket(&mut carol_ws, "Agreed, I'll bring the cake", original).await;

    // bob sees the quote of a message he has not even loaded…
    let reply = wait_for_reply(&bob, original).await;
    let quote = bob
        .js(
            "const q = document.querySelector(`#chat-log .message[data-id=\"${arguments[0]}\"] .message-quote`);\
             return [q.querySelector('.quote-author').textContent, q.querySelector('.quote-text').textContent];",
            vec![json!(reply)],
        )
        .await;
    assert_eq!(
        quote,
        json!([
            "alice",
            "Plan for Friday: ship the release at 10, then lunch"
        ]),
        "the quote is the original's author and its text, on one line, without formatting marks"
    );
    assert!(!log_ids(&bob).await.contains(&original));

    // …and a click on it loads the page around the original, highlighted.
    let button = bob
        .wait_displayed(
            "the reply's quote",
            &format!("#chat-log .message[data-id=\"{reply}\"] .message-quote"),
        )
        .await;
    bob.real_click(&button, "the reply's quote").await;
    bob.wait_js(
        "the original, highlighted and in view",
        TARGET_IN_VIEW,
        vec![json!(original)],
    )
    .await;
    jump_button(&bob).await;
    assert!(
        !log_ids(&bob).await.contains(&reply.parse::<i64>().unwrap()),
        "the log shows the morning now, not the live end"
    );
    bob.screenshot("room-reply-jump").await;

    // While bob reads the morning, new messages wait and are counted…
    alice.send("Who has the release notes?").await;
    bob.wait_js(
        "the Jump to latest button to count one new message",
        "const b = document.getElementById('jump-latest');\
         return (!b.hidden && b.textContent.startsWith('1 new message')) || { waiting: b.textContent };",
        vec![],
    )
    .await;
    // …scrolling up still loads older messages (the beginning of the room)…
    bob.js("document.getElementById('chat-log').scrollTop = 0;", vec![])
        .await;
    bob.wait_js(
        "#history-status to say the beginning is reached",
        "const s = document.getElementById('history-status');\
         return s.dataset.state === 'done' || { waiting: s.dataset.state };",
        vec![],
    )
    .await;
    // …and scrolling down walks back to the live end, where they join in.
    let newest = bob
        .wait_js(
            "the log to come back down to the live end",
            "const log = document.getElementById('chat-log');\
             log.scrollTop = log.scrollHeight;\
             const texts = [...log.querySelectorAll('.message[data-id] .message-text')].map((t) => t.textContent);\
             return (document.getElementById('jump-latest').hidden\
               && texts[texts.length - 1] === 'Who has the release notes?') ? texts.length : { waiting: texts.slice(-2) };",
            vec![],
        )
        .await;
    assert_eq!(
        newest,
        json!(63),
        "every message once: the plan, 60 updates, the reply, the question"
    );
    let ids = log_ids(&bob).await;
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "in id order: {ids:?}");

    // After a reload (the newest ten only), jumping again, then "Jump to
    // latest" comes straight back.
    bob.reload().await;
    bob.wait_connected("lobby", "bob").await;
    wait_for_reply(&bob, original).await;
    bob.js(
        "document.querySelector(`#chat-log .message-quote[data-reply-to=\"${arguments[0]}\"]`).click();",
        vec![json!(original)],
    )
    .await;
    bob.wait_js(
        "the original, highlighted again",
        TARGET_IN_VIEW,
        vec![json!(original)],
    )
    .await;
    let jump = jump_button(&bob).await;
    bob.real_click(&jump, "Jump to latest").await;
    bob.wait_js(
        "the live end, button gone",
        "const texts = [...document.querySelectorAll('#chat-log .message[data-id] .message-text')].map((t) => t.textContent);\
         return (document.getElementById('jump-latest').hidden\
           && texts[texts.length - 1] === 'Who has the release notes?') || { waiting: texts.slice(-2) };",
        vec![],
    )
    .await;

    // bob replies from the toolbar: a banner above the composer, Esc cancels it.
    let question = bob.wait_for_message("Who has the release notes?").await;
    bob.click_message_action(&question, "button.action-reply")
        .await;
    bob.wait_displayed("the reply banner", "#reply-banner")
        .await;
    let banner = bob
        .js(
            "const b = document.getElementById('reply-banner');\
             return [b.querySelector('.reply-banner-user').textContent, b.querySelector('.reply-banner-text').textContent];",
            vec![],
        )
        .await;
    assert_eq!(banner, json!(["alice", "Who has the release notes?"]));
    bob.type_message(&Key::Escape.to_string()).await;
    bob.wait_js(
        "Esc to cancel the reply",
        "return document.getElementById('reply-banner').hidden;",
        vec![],
    )
    .await;
    bob.click_message_action(&question, "button.action-reply")
        .await;
    bob.type_message("I do, sending them over").await;
    bob.screenshot("room-reply-banner").await;
    bob.type_message(&Key::Enter.to_string()).await;
    let answer = wait_for_reply(&alice, question.parse().unwrap()).await;
    assert_eq!(
        wait_for_reply(&bob, question.parse().unwrap()).await,
        answer
    );
    assert!(
        bob.js(
            "return document.getElementById('reply-banner').hidden;",
            vec![]
        )
        .await
            == json!(true),
        "the banner goes with the post"
    );

    // The original is deleted: quotes on screen say so, at once.
    alice.delete_message(&question).await;
    for person in [&alice, &bob] {
        person
            .wait_js(
                "the quote to say its original was deleted",
                "const q = document.querySelector(`#chat-log .message[data-id=\"${arguments[0]}\"] .message-quote`);\
                 return (q.classList.contains('is-deleted') && q.textContent.includes('deleted')) || { waiting: q.textContent };",
                vec![json!(answer)],
            )
            .await;
    }

    alice.close().await;
    bob.close().await;
}

#[actix_web::test]
async fn formatted_messages_are_built_as_elements_and_hostile_ones_stay_text() {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let app = TestApp::spawn().await;
    let alice = driver.in_room(&app, "alice", "lobby").await;
    let bob = driver.in_room(&app, "bob", "lobby").await;

    // The parser's own unit tests, in this browser (the page's module).
    let source = include_str!("js/markdown_test.mjs");
    let body = source
        .split("// Alone under Node")
        .next()
        .unwrap_or_default()
        .replace("export function run", "function run");
    let script = format!(
        "const done = arguments[arguments.length - 1];\
         (async () => {{\
           const markdown = await import('/static/room/markdown.js');\
           {body}\
           return run(markdown, document);\
         }})().then(done, (e) => done([`threw: ${{e}}`]));"
    );
    let failures = alice
        .client
        .execute_async(&script, vec![])
        .await
        .expect("the markdown tests run");
    assert_eq!(failures, json!([]), "markdown.js unit tests");

    let formatted = "**Release** is _today_, ~~Thursday~~ `v2.1` — notes at https://example.com/notes?id=7. ping @bob, thanks";
    let formatted_id = send_formatted(&alice, formatted).await;
    let hostile =
        "<img src=x onerror=window.pwned=1> [click](javascript:window.pwned=2) javascript:alert(1)";
    let hostile_id = send_formatted(&alice, hostile).await;
    let carol = app.user("carol").await;
    let mut carol_ws = app.join(&carol, "lobby").await;
    carol_ws.joined().await;
    carol_ws
        .say("> **ship it** they said\nso here it is:\n```\nfn main() {\n    println!(\"<b>hi</b>\");\n}\n```\nthoughts @alice?")
        .await;
    let block_id = carol_ws.next_of("chat_message").await["id"].to_string();

    for (person, me) in [(&alice, "alice"), (&bob, "bob")] {
        person.message(&block_id).await;
        let seen = person
            .js(
                "const m = (id) => document.querySelector(`#chat-log .message[data-id=\"${id}\"] .message-text`);\
                 const f = m(arguments[0]), h = m(arguments[1]), b = m(arguments[2]);\
                 const a = f.querySelector('a');\
                 return {\
                   strong: f.querySelector('strong')?.textContent,\
                   em: f.querySelector('em')?.textContent,\
                   del: f.querySelector('del')?.textContent,\
                   code: f.querySelector('code')?.textContent,\
                   link: a && [a.getAttribute('href'), a.rel, a.target, a.textContent],\
                   mention: [...document.querySelectorAll('#chat-log .mention-me')].map((s) => s.textContent),\
                   hostile: [h.textContent, h.querySelector('img, a, script') === null, typeof window.pwned],\
                   quote: b.querySelector('blockquote strong')?.textContent,\
                   pre: b.querySelector('pre code')?.textContent,\
                   noMarkup: document.querySelector('#chat-log .message-text b, #chat-log .message-text img') === null,\
                 };",
                vec![json!(formatted_id), json!(hostile_id), json!(block_id)],
            )
            .await;
        let mention = if me == "bob" {
            json!(["@bob"])
        } else {
            json!(["@alice"])
        };
        assert_eq!(
            seen,
            json!({
                "strong": "Release",
                "em": "today",
                "del": "Thursday",
                "code": "v2.1",
                "link": ["https://example.com/notes?id=7", "noopener noreferrer nofollow", "_blank", "https://example.com/notes?id=7"],
                "mention": mention,
                "hostile": [hostile, true, "undefined"],
                "quote": "ship it",
                "pre": "fn main() {\n    println!(\"<b>hi</b>\");\n}",
                "noMarkup": true,
            }),
            "{me}'s view"
        );
    }
    // Editing shows the text as typed, not as formatted.
    let editor = alice.open_editor(&formatted_id).await;
    let raw = alice
        .js(
            "return arguments[0].value;",
            vec![serde_json::to_value(&editor).unwrap()],
        )
        .await;
    assert_eq!(raw, json!(formatted));
    editor.send_keys(&Key::Escape.to_string()).await.unwrap();
    alice.screenshot("room-formatted-messages").await;

    alice.close().await;
    bob.close().await;
}

#[actix_web::test]
async fn on_a_phone_a_link_around_a_message_opens_it_highlighted_and_replies_work() {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let app = TestApp::spawn().await;
    let bob = driver.in_room_on(&app, "bob", "lobby", Screen::Phone).await;
    let alice = app.user("alice").await;
    let ids = app.store_messages(
        "lobby",
        "alice",
        (1..=80).map(|n| format!("message {n}: the _daily_ notes")),
    );
    let target = ids[30];

    // A search result or a mention links here.
    bob.goto(&app.url(&format!("/chat/lobby/?around={target}")))
        .await;
    bob.wait_connected("lobby", "bob").await;
    bob.wait_js(
        "message 31, highlighted and in view",
        TARGET_IN_VIEW,
        vec![json!(target)],
    )
    .await;
    let shown = log_ids(&bob).await;
    assert!(
        shown.contains(&ids[20]) && shown.contains(&ids[40]) && !shown.contains(&ids[79]),
        "the page around message 31, not the live end: {shown:?}"
    );
    jump_button(&bob).await;
    bob.screenshot("room-phone-around").await;

    // A message posted meanwhile waits for the live end, then shows once.
    let mut alice_ws = app.join(&alice, "lobby").await;
    alice_ws.joined().await;
    let live = reply_on_socket(&mut alice_ws, "did you see this one?", target).await;
    bob.wait_js(
        "the button to count it",
        "return document.getElementById('jump-latest').textContent.startsWith('1 new') || { waiting: document.getElementById('jump-latest').textContent };",
        vec![],
    )
    .await;
    let jump = jump_button(&bob).await;
    bob.tap(&jump, "Jump to latest").await;
    let reply = wait_for_reply(&bob, target).await;
    assert_eq!(reply, live.to_string());
    assert!(
        bob.js("return location.search;", vec![]).await == json!(""),
        "back at the live end, a reload opens there too"
    );

    // Reply from the phone: tap the message's text (a tap on its quote
    // would jump to the original), tap Reply, send.
    let text = bob
        .wait_displayed(
            "the question's text",
            &format!("#chat-log .message[data-id=\"{live}\"] .message-text"),
        )
        .await;
    bob.tap(&text, "the question's text").await;
    let reply_button = bob
        .wait_displayed(
            "the reply button",
            &format!("#chat-log .message[data-id=\"{live}\"] button.action-reply"),
        )
        .await;
    bob.tap(&reply_button, "the reply button").await;
    bob.wait_displayed("the reply banner", "#reply-banner")
        .await;
    bob.type_message("yes, *twice*").await;
    bob.type_message(&Key::Enter.to_string()).await;
    let mine = wait_for_reply(&bob, live).await;
    let echoed = alice_ws.next_of("chat_message").await;
    assert_eq!(echoed["id"].to_string(), mine);
    assert_eq!(echoed["reply_to"]["id"], live);
    assert_eq!(echoed["message"], "yes, *twice*");
    bob.screenshot("room-phone-reply").await;

    bob.close().await;
}
