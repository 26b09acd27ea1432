//! The staff console (`/staff/`) in a real headless Chromium: every page
//! on a desktop and the busiest on a phone (screenshots), each checked
//! for what a screen reader needs (every control named, headings in
//! order) and for a layout no wider than the screen; a keyboard walk
//! from the top of the page; and a report handled from the queue with
//! one click.
//!
//! Screenshots land in `test-output/screenshots/`: `staff-rooms.png`,
//! `staff-room.png`, `staff-users.png`, `staff-user.png`,
//! `staff-messages.png`, `staff-reports.png`, `staff-audit.png`,
//! `staff-rooms-phone.png` and `staff-reports-phone.png`.
//!
//! Needs `/usr/bin/chromium` and `/usr/bin/chromedriver`; without them
//! these tests print "skipping browser tests" and pass, except under
//! `CI=true`.

use crate::common::TestApp;
use crate::common::browser::{Chrome, Driver, PASSWORD, Screen};
use crate::staff_console::file_report;
use fantoccini::Locator;
use fantoccini::key::Key;
use serde_json::{Value, json};

/// Logs `name` in through the real form, landing on `next`.
async fn log_in(chrome: &Chrome, app: &TestApp, name: &str, next: &str) {
    chrome
        .goto(&app.url(&format!("/accounts/login/?next={next}")))
        .await;
    for (field, value) in [("#login-username", name), ("#login-password", PASSWORD)] {
        chrome
            .wait_displayed("the login form", field)
            .await
            .send_keys(value)
            .await
            .unwrap_or_else(|e| panic!("{} types into {field}: {e}", chrome.name));
    }
    let submit = chrome
        .wait_displayed("the login button", "form[action='/accounts/login/'] button")
        .await;
    chrome.click(&submit, "the login button").await;
    chrome
        .wait_js(
            &format!("{name} to land on {next}"),
            "return location.pathname === arguments[0];",
            vec![json!(next)],
        )
        .await;
}

/// A console with something in every section: rooms (one created by a
/// visit, one admin-only, one locked), users, messages, two open reports
/// and a few audit entries. Returns the report ids.
async fn populated(app: &TestApp) -> Vec<i32> {
    for args in [
        ["room", "create", "announcements"].as_slice(),
        ["room", "create", "staff-only", "--admin-only"].as_slice(),
        ["room", "create", "offtopic"].as_slice(),
        ["room", "lock", "announcements"].as_slice(),
    ] {
        let out = app.cli(args);
        assert!(out.status.success(), "{args:?}: {out:?}");
    }
    let troll = app.user("troll").await;
    app.user("carol").await;
    app.user("dave").await;
    assert_eq!(troll.get("/chat/lobby/").await.status(), 200);
    app.store_messages("lobby", "carol", ["Morning all!", "Anyone up for lunch?"]);
    let rude = app.store_messages("lobby", "troll", ["You are all idiots", "BUY CHEAP PILLS"]);
    app.store_messages("lobby", "dave", ["Please keep it civil."]);
    app.store_messages("offtopic", "troll", ["cheap pills, cheap watches"]);
    let out = app.cli(&[
        "room",
        "mute",
        "offtopic",
        "troll",
        "--minutes",
        "60",
        "--reason",
        "spam",
    ]);
    assert!(out.status.success(), "{out:?}");
    vec![
        file_report(app, rude[0], "carol", "Insulting everyone"),
        file_report(app, rude[1], "dave", "Spam"),
    ]
}

/// What a screen reader needs of the page, and a width no more than the
/// screen's: the problems found (none, for a good page).
async fn page_problems(chrome: &Chrome) -> Value {
    chrome
        .js(
            r#"
            const problems = [];
            const shown = el => el.getClientRects().length > 0;
            // Every control has an accessible name.
            for (const el of document.querySelectorAll(
                'input:not([type=hidden]), select, textarea, button, a[href]')) {
              if (!shown(el)) continue;
              const labelled = el.labels && [...el.labels].some(l => l.textContent.trim());
              const named = labelled
                || (el.getAttribute('aria-label') || '').trim()
                || (el.tagName !== 'INPUT' && el.tagName !== 'SELECT' && el.textContent.trim());
              if (!named) problems.push('unnamed: ' + el.outerHTML.slice(0, 100));
            }
            // One h1, first, and no level skipped.
            const headings = [...document.querySelectorAll('h1, h2, h3, h4, h5, h6')].filter(shown);
            if (headings.length === 0 || headings[0].tagName !== 'H1') problems.push('the first heading is not an h1');
            if (headings.filter(h => h.tagName === 'H1').length !== 1) problems.push('not exactly one h1');
            let level = 0;
            for (const h of headings) {
              const next = Number(h.tagName[1]);
              if (next > level + 1) problems.push('skipped to ' + h.tagName + ': ' + h.textContent.trim());
              level = next;
            }
            // Tables say what they are.
            for (const t of document.querySelectorAll('table')) {
              if (!t.querySelector('caption') || !t.querySelector('th')) problems.push('a table without caption or headers');
            }
            // The console's nav names the current section.
            const nav = document.querySelector('nav[aria-label=Staff]');
            if (!nav) problems.push('no Staff nav');
            else if (!nav.querySelector('[aria-current]')) problems.push('no aria-current in the nav');
            // Nothing wider than the screen.
            const width = document.documentElement.scrollWidth;
            if (width > window.innerWidth) problems.push('the page is ' + width + 'px wide in ' + window.innerWidth);
            return problems;
            "#,
            vec![],
        )
        .await
}

/// Opens `path`, checks the page as [`page_problems`] does, and saves a
/// screenshot as `shot`.
async fn visit_and_check(chrome: &Chrome, app: &TestApp, path: &str, shot: &str) {
    chrome.goto(&app.url(path)).await;
    chrome
        .wait_displayed("the console's nav", "nav[aria-label=Staff]")
        .await;
    let problems = page_problems(chrome).await;
    assert_eq!(problems, json!([]), "{path} on {}", chrome.name);
    chrome.screenshot(shot).await;
    // The rest of a long page, for the eye.
    let long = chrome
        .js(
            "const more = document.documentElement.scrollHeight > window.innerHeight + 50;\
             if (more) window.scrollTo(0, document.documentElement.scrollHeight);\
             return more;",
            vec![],
        )
        .await;
    if long == true {
        chrome.screenshot(&format!("{shot}-end")).await;
    }
}

#[actix_web::test]
async fn every_console_page_reads_well_on_a_desktop_and_a_phone() {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let app = TestApp::spawn().await;
    let boss = driver.open("boss").await;
    boss.sign_up(&app, "boss").await;
    assert!(app.cli(&["user", "promote", "boss"]).status.success());
    populated(&app).await;

    // The header links staff to the console.
    boss.goto(&app.url("/chat/")).await;
    let link = boss
        .wait_displayed("the header's Staff link", "a[href='/staff/']")
        .await;
    boss.click(&link, "the Staff link").await;
    boss.wait_js(
        "the console's front page",
        "return location.pathname === '/staff/' && document.querySelector('h1')?.textContent.includes('Staff console');",
        vec![],
    )
    .await;
    assert_eq!(page_problems(&boss).await, json!([]), "/staff/");

    for (path, shot) in [
        ("/staff/rooms/", "staff-rooms"),
        ("/staff/rooms/lobby/", "staff-room"),
        ("/staff/users/", "staff-users"),
        ("/staff/users/troll/", "staff-user"),
        ("/staff/messages/?q=cheap", "staff-messages"),
        ("/staff/reports/", "staff-reports"),
        ("/staff/audit/", "staff-audit"),
        ("/staff/rooms/lobby/delete/", "staff-room-delete"),
        ("/staff/reports/resolved/", "staff-reports-resolved"),
    ] {
        visit_and_check(&boss, &app, path, shot).await;
    }
    // The current section is marked for screen readers.
    boss.goto(&app.url("/staff/users/troll/")).await;
    let current = boss
        .js(
            "return document.querySelector('nav[aria-label=Staff] [aria-current]').textContent;",
            vec![],
        )
        .await;
    assert_eq!(current, "Users");

    let phone = driver.open_on("boss-phone", Screen::Phone).await;
    log_in(&phone, &app, "boss", "/staff/").await;
    for (path, shot) in [
        ("/staff/rooms/", "staff-rooms-phone"),
        ("/staff/reports/", "staff-reports-phone"),
        ("/staff/users/", "staff-users-phone"),
        ("/staff/rooms/lobby/", "staff-room-phone"),
        ("/staff/audit/", "staff-audit-phone"),
    ] {
        visit_and_check(&phone, &app, path, shot).await;
    }
    // The header keeps the brand and the account links (⚙ Staff among
    // them) on one row, on the console and in the chat alike.
    for path in ["/staff/reports/", "/chat/", "/chat/lobby/"] {
        phone.goto(&app.url(path)).await;
        let rows = phone
            .js(
                "const top = s => document.querySelector(s).getBoundingClientRect().top;\
                 return [top('.site-header .brand'), top('.site-header .account'),\
                         document.documentElement.scrollWidth <= window.innerWidth];",
                vec![],
            )
            .await;
        let brand = rows[0].as_f64().unwrap();
        let account = rows[1].as_f64().unwrap();
        assert!(
            (brand - account).abs() < 24.0,
            "{path}: one header row: {rows}"
        );
        assert_eq!(rows[2], true, "{path} fits the phone");
    }
    phone.screenshot("staff-chat-room-phone").await;

    // On a phone each table row is a card whose cells name their column.
    phone.goto(&app.url("/staff/rooms/")).await;
    let label = phone
        .js(
            "const cell = document.querySelector('.staff-table td[data-label=Access]');\
             return getComputedStyle(cell, '::before').content;",
            vec![],
        )
        .await;
    assert_eq!(label, "\"Access\"");
}

/// What has the focus, as the keyboard walk records it.
const FOCUSED: &str = r#"
    const el = document.activeElement;
    if (!el || el === document.body) return null;
    const style = getComputedStyle(el);
    const visible = (style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0)
        || style.boxShadow !== 'none';
    return {
      tag: el.tagName,
      id: el.id,
      text: (el.getAttribute('aria-label') || el.textContent || el.value || '').trim().slice(0, 40),
      href: el.getAttribute('href'),
      inNav: !!el.closest('nav[aria-label=Staff]'),
      inTable: !!el.closest('table'),
      visible,
    };
"#;

#[actix_web::test]
async fn the_console_works_from_the_keyboard_in_reading_order() {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let app = TestApp::spawn().await;
    let boss = driver.open("boss").await;
    boss.sign_up(&app, "boss").await;
    assert!(app.cli(&["user", "promote", "boss"]).status.success());
    populated(&app).await;
    boss.goto(&app.url("/staff/rooms/")).await;
    boss.wait_displayed("the room table", "table.staff-table")
        .await;
    let table_links = boss
        .js(
            "return [...document.querySelectorAll('table.staff-table a')].map(a => a.getAttribute('href'));",
            vec![],
        )
        .await;
    let table_links: Vec<String> = serde_json::from_value(table_links).unwrap();
    assert!(table_links.len() >= 5, "{table_links:?}");

    // Tab from the top of the page until past the table.
    let mut walk: Vec<Value> = Vec::new();
    for _ in 0..60 {
        boss.press(&Key::Tab.to_string()).await;
        let focused = boss.js(FOCUSED, vec![]).await;
        let past_table = walk.iter().any(|f| f["inTable"] == true) && focused["inTable"] != true;
        walk.push(focused);
        if past_table {
            break;
        }
    }
    let first = &walk[0];
    assert_eq!(
        first["text"], "Skip to content",
        "the skip link comes first: {walk:?}"
    );
    for focused in &walk {
        assert_eq!(focused["visible"], true, "focus is visible on {focused}");
    }
    let position = |what: &str, test: &dyn Fn(&Value) -> bool| {
        walk.iter()
            .position(test)
            .unwrap_or_else(|| panic!("the walk reaches {what}: {walk:#?}"))
    };
    let nav = position("the Staff nav", &|f| f["inNav"] == true);
    let search = position("the room search", &|f| f["id"] == "staff-search-input");
    let table = position("the table", &|f| f["inTable"] == true);
    assert!(
        nav < search && search < table,
        "nav, then search, then the table: {walk:#?}"
    );
    let nav_order: Vec<&str> = walk
        .iter()
        .filter(|f| f["inNav"] == true)
        .map(|f| f["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        nav_order,
        [
            "Overview",
            "Rooms",
            "Users",
            "Messages",
            "Reports",
            "Audit log"
        ]
    );
    let walked_links: Vec<String> = walk
        .iter()
        .filter(|f| f["inTable"] == true)
        .map(|f| f["href"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        walked_links, table_links,
        "the table's links in reading order"
    );

    // Enter on a focused room link opens its page; its forms are reached
    // by the keyboard as well, each control named.
    boss.goto(&app.url("/staff/rooms/")).await;
    let lobby = boss
        .wait_displayed("lobby's link", "a[href='/staff/rooms/lobby/']")
        .await;
    lobby
        .send_keys(&Key::Enter.to_string())
        .await
        .expect("Enter on the link");
    boss.wait_js(
        "lobby's console page",
        "return location.pathname === '/staff/rooms/lobby/';",
        vec![],
    )
    .await;
    let lock = boss
        .wait_displayed("the lock button", "button[name=op][value=lock]")
        .await;
    boss.js(
        "arguments[0].focus();",
        vec![serde_json::to_value(&lock).unwrap()],
    )
    .await;
    boss.press(&Key::Enter.to_string()).await;
    boss.wait_js(
        "the flash saying lobby is locked",
        "const f = document.getElementById('flash'); return f && f.textContent.includes('read-only');",
        vec![],
    )
    .await;
}

#[actix_web::test]
async fn a_report_goes_from_the_queue_to_a_ban_in_one_click_and_into_the_audit_log() {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let app = TestApp::spawn().await;
    let boss = driver.open("boss").await;
    boss.sign_up(&app, "boss").await;
    assert!(app.cli(&["user", "promote", "boss"]).status.success());
    // carol reports troll's message. (The room page's "Report…" posts to
    // /chat/<room>/report/, which another branch builds; here the report
    // is filed straight into the database, as that endpoint stores it.)
    let reports = populated(&app).await;
    let insult = reports[0];

    boss.goto(&app.url("/staff/reports/")).await;
    let card = boss
        .wait_displayed(
            "the insult's report",
            &format!("form[action='/staff/reports/{insult}/']"),
        )
        .await;
    let text = boss.page_text().await;
    assert!(text.contains("Insulting everyone") && text.contains("You are all idiots"));
    assert!(
        text.contains("Anyone up for lunch?"),
        "the message in its context"
    );
    let reason = card
        .find(Locator::Css("input[name=reason]"))
        .await
        .expect("the reason field");
    reason.send_keys("insults").await.expect("type a reason");
    let ban = card
        .find(Locator::Css("button[value=ban]"))
        .await
        .expect("the Ban author button");
    boss.real_click(&ban, "Ban author").await;
    boss.wait_js(
        "the outcome of the ban",
        "const f = document.getElementById('flash');\
         return f && f.textContent.includes('troll is banned') && f.textContent.includes('is closed');",
        vec![],
    )
    .await;
    assert!(
        !boss
            .exists(&format!("form[action='/staff/reports/{insult}/']"))
            .await,
        "the report left the queue"
    );
    boss.screenshot("staff-reports-after-ban").await;

    boss.goto(&app.url("/staff/audit/")).await;
    boss.wait_displayed("the audit table", "table.staff-table")
        .await;
    let rows = boss
        .js(
            "return [...document.querySelectorAll('table.staff-table tbody tr')].slice(0, 2)\
               .map(tr => [...tr.querySelectorAll('td')].map(td => td.textContent.trim()));",
            vec![],
        )
        .await;
    let rows: Vec<Vec<String>> = serde_json::from_value(rows).unwrap();
    // Newest first: the resolution, then the ban with its reason.
    assert_eq!(rows[0][1..3], ["boss", "report.resolve"], "{rows:?}");
    assert_eq!(
        rows[1][1..5],
        ["boss", "user.ban", "troll", "#lobby"],
        "{rows:?}"
    );
    assert_eq!(rows[1][5], "insults");
    boss.screenshot("staff-audit-after-ban").await;
}
