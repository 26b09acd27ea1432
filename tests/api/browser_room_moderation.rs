//! Moderation from the room page and the room's settings page, in real
//! headless Chromiums (issue 14). The page's hooks besides browser.rs's:
//!
//! - `button.action-more` in the toolbar of someone else's message, and
//!   `button.user-more` beside a name in `#user-list` (moderators only),
//!   open `#mod-menu`, whose `button.mod-menu-item[data-kind]` are
//!   `report`, `delete`, `kick`, `mute`, `ban`;
//! - `dialog#report-dialog` (`#report-reason`) and `dialog#sanction-dialog`
//!   (`#sanction-minutes`, `#sanction-reason`), each with
//!   `.mod-dialog-cancel`, `.mod-dialog-submit` and `.mod-dialog-error`;
//! - the outcome shows in `#composer-notice` (`.is-ok`);
//! - `/chat/<room>/settings/` is a plain page of forms; destructive buttons
//!   sit in `details.settings-confirm`.
//!
//! Screenshots: `report-dialog.png`, `report-dialog-phone.png`,
//! `moderate-mute-dialog.png`, `room-settings.png`,
//! `room-settings-phone.png`, `private-room-members.png`,
//! `private-room-invite.png`.

use crate::common::browser::{Chrome, Driver, PASSWORD, Screen};
use crate::common::{Browser, TestApp};
use confab::db::queries::moderation::{SanctionKind, active_sanction};
use confab::db::queries::{self, rooms, users};
use confab::db::schema::reports;
use diesel::prelude::*;
use fantoccini::Locator;
use fantoccini::key::Key;
use serde_json::{Value, json};

/// Every input, select and textarea on the page without an accessible
/// name (a label, or aria-label / aria-labelledby), as HTML snippets.
const UNLABELLED: &str = "\
    return [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]\
      .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')\
        && !el.getAttribute('aria-labelledby'))\
      .map((el) => el.outerHTML.slice(0, 120));";

/// The heading levels inside `<main>`, in document order.
const HEADINGS: &str = "\
    return [...document.querySelectorAll('main h1, main h2, main h3, main h4')]\
      .map((h) => Number(h.tagName.slice(1)));";

/// What has the focus: its id, else its class and text.
const FOCUSED: &str = "\
    const el = document.activeElement;\
    if (!el) return null;\
    return el.id || `${el.className}: ${el.textContent.trim()}`;";

async fn focused(person: &Chrome) -> String {
    person
        .js(FOCUSED, vec![])
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

async fn press(person: &Chrome, key: Key) {
    person.press(&key.to_string()).await;
}

async fn shift_tab(person: &Chrome) {
    person.press(&format!("{}{}", Key::Shift, Key::Tab)).await;
}

/// Asserts every input on the page has an accessible name.
async fn all_labelled(person: &Chrome, page: &str) {
    let unlabelled = person.js(UNLABELLED, vec![]).await;
    assert_eq!(unlabelled, json!([]), "unlabelled inputs on {page}");
}

/// Asserts the page's headings start at h1 and never skip a level.
async fn headings_in_order(person: &Chrome, page: &str) {
    let levels: Vec<u64> = serde_json::from_value(person.js(HEADINGS, vec![]).await).unwrap();
    assert_eq!(
        levels.first(),
        Some(&1),
        "{page} starts with its h1: {levels:?}"
    );
    for pair in levels.windows(2) {
        assert!(
            pair[1] <= pair[0] + 1,
            "{page} skips a heading level: {levels:?}"
        );
    }
}

/// Waits for `#mod-menu` to show its items; returns their kinds in order.
async fn menu_kinds(person: &Chrome) -> Vec<String> {
    person
        .wait_displayed("the More actions menu", "#mod-menu .mod-menu-item")
        .await;
    let kinds = person
        .js(
            "return [...document.querySelectorAll('#mod-menu .mod-menu-item')].map((b) => b.dataset.kind);",
            vec![],
        )
        .await;
    serde_json::from_value(kinds).unwrap()
}

async fn menu_item(person: &Chrome, kind: &str) -> fantoccini::elements::Element {
    person
        .wait_displayed(
            &format!("the {kind} item"),
            &format!("#mod-menu .mod-menu-item[data-kind=\"{kind}\"]"),
        )
        .await
}

/// Waits for the composer notice to say `text` as an outcome (not an error).
async fn wait_for_outcome(person: &Chrome, text: &str) {
    person
        .wait_js(
            &format!("the notice {text:?}"),
            "const n = document.getElementById('composer-notice');\
             return (!n.hidden && n.classList.contains('is-ok') && n.innerText.includes(arguments[0]))\
               || { waiting: [n.hidden, n.className, n.innerText] };",
            vec![json!(text)],
        )
        .await;
}

/// Waits until dialog `id` is open (or closed, with `open` false).
async fn wait_dialog(person: &Chrome, id: &str, open: bool) {
    person
        .wait_js(
            &format!("#{id} to be {}", if open { "open" } else { "closed" }),
            "const d = document.getElementById(arguments[0]);\
             return d.open === arguments[1] || { waiting: d.open };",
            vec![json!(id), json!(open)],
        )
        .await;
}

/// Types `text` into the report dialog's reason.
async fn type_reason(person: &Chrome, text: &str) {
    person
        .wait_displayed("the reason", "#report-reason")
        .await
        .send_keys(text)
        .await
        .unwrap();
}

/// The submit button of dialog `id`.
async fn submit_of(person: &Chrome, id: &str) -> fantoccini::elements::Element {
    person
        .wait_displayed(
            &format!("the submit button of #{id}"),
            &format!("#{id} .mod-dialog-submit"),
        )
        .await
}

/// Waits for the report dialog to close with the server's thanks.
async fn report_sent(person: &Chrome) {
    wait_dialog(person, "report-dialog", false).await;
    wait_for_outcome(person, "Thanks, the moderators will look at it.").await;
}

/// Opens message `id`'s menu with the mouse and its "Report…".
async fn open_report(person: &Chrome, id: i64) {
    person
        .click_message_action(&id.to_string(), ".action-more")
        .await;
    let report = menu_item(person, "report").await;
    person.real_click(&report, "Report…").await;
    wait_dialog(person, "report-dialog", true).await;
}

fn open_reports(app: &TestApp) -> Vec<(i64, String)> {
    app.database()
        .run_here(|c| {
            Ok(reports::table
                .filter(reports::resolved_at.is_null())
                .order(reports::id.asc())
                .select((reports::message_id, reports::reason))
                .load::<(confab::domain::MessageId, String)>(c)?
                .into_iter()
                .map(|(id, reason)| (id.0, reason))
                .collect())
        })
        .unwrap()
}

fn muted(app: &TestApp, room: &str, user: &str) -> Option<(String, bool)> {
    app.database()
        .run_here(|c| {
            let room = rooms::by_name(c, room)?.expect("the room");
            let user = users::by_username(c, user)?.expect("the user");
            active_sanction(c, room.id, user.id, SanctionKind::Mute, queries::now())
        })
        .unwrap()
        .map(|s| (s.reason, s.expires_at.is_some()))
}

/// `owner` opens `room` over HTTP (creating it: they own it), and
/// appoints `moderator` if given.
async fn owned_room(owner: &Browser, room: &str, moderator: Option<&str>) {
    assert_eq!(owner.get(&format!("/chat/{room}/")).await.status(), 200);
    if let Some(moderator) = moderator {
        let token = owner.csrf_token("/chat/").await;
        let res = owner
            .post_form(
                &format!("/chat/{room}/moderate/"),
                &[
                    ("csrf_token", &token),
                    ("action", "moderator_add"),
                    ("user", moderator),
                ],
            )
            .await;
        assert_eq!(res.status(), 303);
    }
}

/// olga's lobby, with one message of carol's there: `text`; its id.
async fn lobby_with_carols(app: &TestApp, text: &str) -> i64 {
    owned_room(&app.user("olga").await, "lobby", None).await;
    app.user("carol").await;
    app.store_messages("lobby", "carol", [text])[0]
}

/// Logs `person` in through the form (for a second browser of an account).
async fn log_in(person: &Chrome, app: &TestApp, username: &str, next: &str) {
    person
        .goto(&app.url(&format!("/accounts/login/?next={next}")))
        .await;
    for (field, value) in [("#login-username", username), ("#login-password", PASSWORD)] {
        let input = person.wait_displayed("the login form", field).await;
        input.send_keys(value).await.unwrap();
    }
    press(person, Key::Enter).await;
    person
        .wait_js(
            "the login to go through",
            "return location.pathname === arguments[0] || { waiting: location.pathname };",
            vec![json!(next)],
        )
        .await;
}

#[actix_web::test]
async fn a_reader_reports_a_message_from_its_menu_by_keyboard() {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let app = TestApp::spawn().await;
    let id = lobby_with_carols(&app, "BUY CHEAP WATCHES at example.com").await;
    let bob = driver.in_room(&app, "bob", "lobby").await;
    bob.wait_for_message("BUY CHEAP WATCHES at example.com")
        .await;
    all_labelled(&bob, "the room page").await;

    // A member's menu: Report… only.
    bob.click_message_action(&id.to_string(), ".action-more")
        .await;
    assert_eq!(menu_kinds(&bob).await, ["report"]);
    assert_eq!(focused(&bob).await, "mod-menu-item: Report…");
    // Escape closes it, back on the More button.
    press(&bob, Key::Escape).await;
    assert!(!bob.exists("#mod-menu:not([hidden])").await);
    assert_eq!(
        focused(&bob).await,
        "message-tool action-more: ",
        "focus back on the More button"
    );

    // Enter opens it again; Enter on Report… opens the dialog at its field.
    press(&bob, Key::Enter).await;
    menu_kinds(&bob).await;
    press(&bob, Key::Enter).await;
    wait_dialog(&bob, "report-dialog", true).await;
    assert_eq!(focused(&bob).await, "report-reason");
    let title = bob
        .js(
            "return document.getElementById('report-dialog-title').textContent;",
            vec![],
        )
        .await;
    assert_eq!(title, "Report carol's message");
    // Tab goes round the dialog: reason, Cancel, Send report, reason again.
    press(&bob, Key::Tab).await;
    assert_eq!(
        focused(&bob).await,
        "btn btn-ghost mod-dialog-cancel: Cancel"
    );
    press(&bob, Key::Tab).await;
    assert_eq!(
        focused(&bob).await,
        "btn btn-primary mod-dialog-submit: Send report"
    );
    press(&bob, Key::Tab).await;
    assert_eq!(
        focused(&bob).await,
        "report-reason",
        "focus stays in the dialog"
    );
    shift_tab(&bob).await;
    assert_eq!(
        focused(&bob).await,
        "btn btn-primary mod-dialog-submit: Send report"
    );
    all_labelled(&bob, "the report dialog").await;

    // Sending without a reason says what is missing, in the dialog.
    press(&bob, Key::Enter).await;
    bob.wait_displayed("the dialog's error", "#report-dialog .mod-dialog-error")
        .await;
    assert!(open_reports(&app).is_empty());
    type_reason(&bob, "Spam: the same link in every room").await;
    bob.screenshot("report-dialog").await;
    let send = submit_of(&bob, "report-dialog").await;
    bob.real_click(&send, "Send report").await;
    report_sent(&bob).await;
    assert_eq!(
        open_reports(&app),
        [(id, "Spam: the same link in every room".to_owned())]
    );

    // Twice is once: the server's refusal shows in the dialog.
    open_report(&bob, id).await;
    type_reason(&bob, "again").await;
    let send = submit_of(&bob, "report-dialog").await;
    bob.real_click(&send, "Send report").await;
    let error = bob
        .wait_displayed("the dialog's error", "#report-dialog .mod-dialog-error")
        .await;
    assert_eq!(
        error.text().await.unwrap(),
        "You have already reported this message."
    );
    // Escape closes the dialog, and focus goes back to the More button.
    press(&bob, Key::Escape).await;
    wait_dialog(&bob, "report-dialog", false).await;
    assert_eq!(focused(&bob).await, "message-tool action-more: ");
    assert_eq!(open_reports(&app).len(), 1);
    bob.close().await;
}

#[actix_web::test]
async fn a_reader_reports_a_message_on_a_phone() {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let app = TestApp::spawn().await;
    let id = lobby_with_carols(&app, "you are all idiots").await;
    let bob = driver.in_room_on(&app, "bob", "lobby", Screen::Phone).await;
    bob.wait_for_message("you are all idiots").await;

    let bubble = bob
        .wait_displayed(
            "carol's bubble",
            &format!("#chat-log .message[data-id=\"{id}\"] .message-bubble"),
        )
        .await;
    bob.tap(&bubble, "carol's bubble").await;
    let more = bob
        .wait_displayed(
            "the More button",
            &format!("#chat-log .message[data-id=\"{id}\"] button.action-more"),
        )
        .await;
    bob.tap(&more, "the More button").await;
    assert_eq!(menu_kinds(&bob).await, ["report"]);
    // A sheet along the bottom of the screen.
    bob.wait_js(
        "the menu as a bottom sheet",
        "const r = document.getElementById('mod-menu').getBoundingClientRect();\
         return (r.left === 0 && r.right === innerWidth && Math.abs(r.bottom - innerHeight) < 1)\
           || { waiting: [r.left, r.right, r.bottom, innerWidth, innerHeight] };",
        vec![],
    )
    .await;
    let report = menu_item(&bob, "report").await;
    bob.tap(&report, "Report…").await;
    wait_dialog(&bob, "report-dialog", true).await;
    // Full width.
    bob.wait_js(
        "the dialog across the screen",
        "const r = document.getElementById('report-dialog').getBoundingClientRect();\
         return (r.left === 0 && r.right === innerWidth) || { waiting: [r.left, r.right, innerWidth] };",
        vec![],
    )
    .await;
    type_reason(&bob, "insults").await;
    bob.screenshot("report-dialog-phone").await;
    let send = submit_of(&bob, "report-dialog").await;
    bob.tap(&send, "Send report").await;
    report_sent(&bob).await;
    assert_eq!(open_reports(&app), [(id, "insults".to_owned())]);
    bob.close().await;
}

#[actix_web::test]
async fn a_moderator_mutes_from_a_message_and_kicks_from_the_online_list() {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let app = TestApp::spawn().await;
    let olga = app.user("olga").await;
    app.user("mo").await;
    owned_room(&olga, "lobby", Some("mo")).await;
    let troll = app.user("troll").await;
    let mut troll_ws = app.join(&troll, "lobby").await;
    troll_ws.joined().await;
    troll_ws.say("FIRST!!! spam spam spam").await;
    let id = troll_ws.expect("chat_message").await["id"]
        .as_i64()
        .unwrap()
        .to_string();

    // mo signs up in the browser: an account of that name exists, so log in.
    let mo = driver.open("mo").await;
    log_in(&mo, &app, "mo", "/chat/lobby/").await;
    mo.wait_connected("lobby", "mo").await;
    mo.wait_for_message("FIRST!!! spam spam spam").await;
    let role = mo
        .js(
            "return document.getElementById('room').dataset.role;",
            vec![],
        )
        .await;
    assert_eq!(role, "moderator");
    assert!(
        mo.exists("a.room-settings-link[href='/chat/lobby/settings/']")
            .await
    );

    // By keyboard: the More button, then Tab through the menu in order.
    mo.js(
        "document.querySelector(`#chat-log .message[data-id=\"${arguments[0]}\"] .action-more`).focus();",
        vec![json!(id)],
    )
    .await;
    press(&mo, Key::Enter).await;
    assert_eq!(
        menu_kinds(&mo).await,
        ["report", "delete", "kick", "mute", "ban"]
    );
    let mut order = vec![focused(&mo).await];
    for _ in 0..3 {
        press(&mo, Key::Tab).await;
        order.push(focused(&mo).await);
    }
    assert_eq!(
        order,
        [
            "mod-menu-item: Report…",
            "mod-menu-item: Delete message…",
            "mod-menu-item: Kick…",
            "mod-menu-item: Mute…",
        ]
    );
    // The arrow keys move too.
    press(&mo, Key::Down).await;
    assert_eq!(focused(&mo).await, "mod-menu-item: Ban…");
    press(&mo, Key::Up).await;
    press(&mo, Key::Enter).await;
    wait_dialog(&mo, "sanction-dialog", true).await;
    let title = mo
        .js(
            "return document.getElementById('sanction-dialog-title').textContent;",
            vec![],
        )
        .await;
    assert_eq!(title, "Mute troll");
    // Duration, reason, Cancel, Mute troll.
    assert_eq!(focused(&mo).await, "sanction-minutes");
    press(&mo, Key::Down).await; // 10 minutes → 1 hour
    press(&mo, Key::Tab).await;
    assert_eq!(focused(&mo).await, "sanction-reason");
    mo.press("spamming the lobby").await;
    press(&mo, Key::Tab).await;
    assert_eq!(
        focused(&mo).await,
        "btn btn-ghost mod-dialog-cancel: Cancel"
    );
    press(&mo, Key::Tab).await;
    assert_eq!(
        focused(&mo).await,
        "btn btn-danger mod-dialog-submit: Mute troll"
    );
    all_labelled(&mo, "the mute dialog").await;
    let minutes = mo
        .js(
            "return document.getElementById('sanction-minutes').value;",
            vec![],
        )
        .await;
    assert_eq!(minutes, "60");
    mo.screenshot("moderate-mute-dialog").await;
    press(&mo, Key::Enter).await;
    wait_dialog(&mo, "sanction-dialog", false).await;
    wait_for_outcome(&mo, "troll is muted in #lobby for 1 hour.").await;
    assert_eq!(
        muted(&app, "lobby", "troll"),
        Some(("spamming the lobby".to_owned(), true))
    );

    // The online list: a More button by troll's name, without Report.
    mo.wait_for_online("troll").await;
    assert!(!mo.exists("#user-list .user--me .user-more").await);
    let more = mo
        .wait_displayed(
            "troll's More button",
            "#user-list .user-more[data-mod-user=troll]",
        )
        .await;
    let label = more.attr("aria-label").await.unwrap();
    assert_eq!(label.as_deref(), Some("Moderate troll"));
    mo.real_click(&more, "troll's More button").await;
    assert_eq!(menu_kinds(&mo).await, ["kick", "mute", "ban"]);
    let kick = menu_item(&mo, "kick").await;
    mo.real_click(&kick, "Kick…").await;
    wait_dialog(&mo, "sanction-dialog", true).await;
    // A kick has no duration.
    assert!(
        !mo.js(
            "return document.getElementById('sanction-minutes').checkVisibility();",
            vec![]
        )
        .await
        .as_bool()
        .unwrap()
    );
    assert_eq!(focused(&mo).await, "sanction-reason");
    mo.press("cool off").await;
    let submit = mo
        .wait_displayed("Kick troll", "#sanction-dialog .mod-dialog-submit")
        .await;
    assert_eq!(submit.text().await.unwrap(), "Kick troll");
    mo.real_click(&submit, "Kick troll").await;
    wait_for_outcome(&mo, "troll was kicked from #lobby").await;

    // A refusal stays in the dialog: mo may not mute the owner.
    let mut olga_ws = app.join(&olga, "lobby").await;
    olga_ws.joined().await;
    mo.wait_for_online("olga").await;
    let more = mo
        .wait_displayed(
            "olga's More button",
            "#user-list .user-more[data-mod-user=olga]",
        )
        .await;
    mo.real_click(&more, "olga's More button").await;
    let mute = menu_item(&mo, "mute").await;
    mo.real_click(&mute, "Mute…").await;
    wait_dialog(&mo, "sanction-dialog", true).await;
    let submit = mo
        .wait_displayed("Mute olga", "#sanction-dialog .mod-dialog-submit")
        .await;
    mo.real_click(&submit, "Mute olga").await;
    let error = mo
        .wait_displayed("the refusal", "#sanction-dialog .mod-dialog-error")
        .await;
    let said = error.text().await.unwrap();
    assert_eq!(said, "You cannot mute olga: they own #lobby.");
    assert!(muted(&app, "lobby", "olga").is_none());
    olga_ws.close().await;
    mo.close().await;
}

#[actix_web::test]
async fn the_owner_makes_a_room_private_and_invites_bob_from_the_settings_page() {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let app = TestApp::spawn().await;
    let olga = driver.in_room(&app, "olga", "hideout").await;
    app.user("troll").await;
    app.user("bob").await;
    let id = app.store_messages("hideout", "troll", ["secret plans, leaked"])[0];

    // The settings link in the room's header.
    let link = olga
        .wait_displayed("the Room settings link", "a.room-settings-link")
        .await;
    olga.real_click(&link, "Room settings").await;
    olga.wait_js(
        "the settings page",
        "return location.pathname === '/chat/hideout/settings/' || { waiting: location.pathname };",
        vec![],
    )
    .await;
    let heading = olga.wait_displayed("the heading", "main h1").await;
    assert_eq!(heading.text().await.unwrap(), "Settings of #hideout");
    headings_in_order(&olga, "the settings page").await;
    all_labelled(&olga, "the settings page").await;

    // Invite-only, then bob by name.
    let private = olga
        .wait_displayed(
            "the invite-only choice",
            "input[name=access][value=invite_only]",
        )
        .await;
    olga.real_click(&private, "Invite-only").await;
    let save = olga
        .client
        .find(Locator::XPath("//button[normalize-space()='Save access']"))
        .await
        .unwrap();
    olga.real_click(&save, "Save access").await;
    flash(&olga, "#hideout is now").await;
    olga.wait_displayed("the invite field", "#invite-user")
        .await
        .send_keys(&format!("bob{}", Key::Enter))
        .await
        .unwrap();
    flash(&olga, "bob is now a member of #hideout.").await;
    let members = olga
        .js(
            "return [...document.querySelectorAll('[aria-labelledby=members-heading] .settings-who')].map((e) => e.textContent);",
            vec![],
        )
        .await;
    assert_eq!(members, json!(["bob", "olga"]));
    olga.js(
        "document.getElementById('members-heading').scrollIntoView({ block: 'start' });",
        vec![],
    )
    .await;
    olga.screenshot("private-room-members").await;

    // bob opens the private room.
    let bob = driver.open("bob").await;
    log_in(&bob, &app, "bob", "/chat/hideout/").await;
    bob.wait_connected("hideout", "bob").await;
    bob.wait_for_message("secret plans, leaked").await;
    bob.screenshot("private-room-invite").await;

    // bob reports the leak; olga's settings page lists it.
    open_report(&bob, id).await;
    bob.press("leaks our plans").await;
    press(&bob, Key::Tab).await;
    press(&bob, Key::Tab).await;
    press(&bob, Key::Enter).await;
    report_sent(&bob).await;

    // And a mute to list.
    olga.reload().await;
    olga.wait_displayed("the report", "#reports-heading").await;
    let text = olga.page_text().await;
    assert!(text.contains("troll's message, reported by bob"), "{text}");
    assert!(text.contains("leaks our plans"));
    // The destructive actions take a second step, by keyboard too: the
    // summary opens with Enter, Tab reaches its fields and button.
    olga.js(
        "document.querySelectorAll('.report .settings-confirm > summary')[1].focus();",
        vec![],
    )
    .await;
    assert_eq!(
        focused(&olga).await,
        "btn btn-secondary btn-sm: Mute author…"
    );
    press(&olga, Key::Enter).await;
    press(&olga, Key::Tab).await;
    assert!(
        focused(&olga).await.ends_with("-mute-minutes"),
        "{}",
        focused(&olga).await
    );
    press(&olga, Key::Down).await; // 10 minutes → 1 hour
    press(&olga, Key::Tab).await;
    assert!(focused(&olga).await.ends_with("-mute-reason"));
    olga.press("no leaking").await;
    press(&olga, Key::Tab).await;
    assert_eq!(focused(&olga).await, "btn btn-danger btn-sm: Mute troll");
    olga.screenshot("room-settings-report").await;
    press(&olga, Key::Enter).await;
    flash(&olga, "troll is muted in #hideout for 1 hour.").await;
    assert!(open_reports(&app).is_empty());
    assert_eq!(
        muted(&app, "hideout", "troll"),
        Some(("no leaking".to_owned(), true))
    );
    olga.js("window.scrollTo(0, 0);", vec![]).await;
    olga.screenshot("room-settings").await;

    // The same page on a phone, for a moderator: olga appoints bob.
    let olga_http = app.browser();
    olga_http.login("olga", PASSWORD, "/chat/").await;
    let csrf = olga_http.csrf_token("/chat/").await;
    let res = olga_http
        .post_form(
            "/chat/hideout/moderate/",
            &[
                ("csrf_token", &csrf),
                ("action", "moderator_add"),
                ("user", "bob"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let phone = driver.open_on("bob-phone", Screen::Phone).await;
    log_in(&phone, &app, "bob", "/chat/hideout/settings/").await;
    phone.wait_displayed("the settings page", "main h1").await;
    all_labelled(&phone, "the settings page on a phone").await;
    let fits = phone
        .js(
            "return document.documentElement.scrollWidth <= innerWidth;",
            vec![],
        )
        .await;
    assert_eq!(fits, Value::Bool(true), "nothing wider than the phone");
    phone.screenshot("room-settings-phone").await;
    // A moderator sees no access form.
    assert!(!phone.exists("input[name=access]").await);
    for person in [olga, bob, phone] {
        person.close().await;
    }
}

/// Waits for the settings page's flash line to contain `text`.
async fn flash(person: &Chrome, text: &str) {
    person
        .wait_js(
            &format!("the flash line {text:?}"),
            "const f = document.getElementById('flash');\
             return (f && f.textContent.includes(arguments[0])) || { waiting: f && f.textContent };",
            vec![json!(text)],
        )
        .await;
}

/// The whole report flow, as a public room lives it: a reader reports a
/// troll's message from its menu, staff ban the troll from the queue in
/// one click, and the troll's open page says so at once, with the reason
/// (socket closed 4003), and stays shut on reload (403).
#[actix_web::test]
async fn a_report_from_a_readers_menu_ends_in_a_ban_the_troll_sees_at_once() {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let app = TestApp::spawn().await;
    // A room staff made: the troll owns nothing here.
    assert!(app.cli(&["room", "create", "lobby"]).status.success());
    let troll = driver.in_room(&app, "troll", "lobby").await;
    let insult = troll.send("You are all idiots").await;
    let insult: i64 = insult.parse().expect("a message id");

    let carol = driver.in_room(&app, "carol", "lobby").await;
    carol.wait_for_message("You are all idiots").await;
    open_report(&carol, insult).await;
    type_reason(&carol, "Insulting everyone").await;
    let send = submit_of(&carol, "report-dialog").await;
    carol.real_click(&send, "Send report").await;
    report_sent(&carol).await;
    let report: i32 = app
        .database()
        .run_here(|c| {
            Ok(reports::table
                .filter(reports::resolved_at.is_null())
                .select(reports::id)
                .first(c)?)
        })
        .unwrap();

    let boss = driver.open("boss").await;
    boss.sign_up(&app, "boss").await;
    assert!(app.cli(&["user", "promote", "boss"]).status.success());
    boss.goto(&app.url("/staff/reports/")).await;
    let card = boss
        .wait_displayed(
            "carol's report in the queue",
            &format!("form[action='/staff/reports/{report}/']"),
        )
        .await;
    let text = boss.page_text().await;
    assert!(text.contains("Insulting everyone") && text.contains("You are all idiots"));
    card.find(Locator::Css("input[name=reason]"))
        .await
        .expect("the reason field")
        .send_keys("insults in #lobby")
        .await
        .expect("type a reason");
    let ban = card
        .find(Locator::Css("button[value=ban]"))
        .await
        .expect("the Ban author button");
    boss.real_click(&ban, "Ban author").await;

    // The troll's open page is told at once, with the reason.
    let said = troll
        .wait_js(
            "the troll's page to say they are banned",
            "const b = document.getElementById('room-ended');\
             const t = b && !b.hidden ? b.textContent : '';\
             return t.includes('You are banned from this room') ? t : { waiting: t };",
            vec![],
        )
        .await;
    assert!(
        said.as_str()
            .unwrap_or_default()
            .contains("insults in #lobby"),
        "{said}"
    );
    troll.screenshot("report-flow-troll-banned").await;
    // And the page stays shut, with the reason.
    troll.reload().await;
    let page = troll.page_text().await;
    assert!(
        page.contains("You are banned from #lobby") && page.contains("insults in #lobby"),
        "{page}"
    );
    troll.screenshot("report-flow-troll-banned-page").await;
    assert!(open_reports(&app).is_empty(), "the report is resolved");
    for person in [troll, carol, boss] {
        person.close().await;
    }
}
