//! Full-text search (`/search/`): what it finds, for whom, in which order,
//! as a page and as JSON, and how it follows edits and deletions.

use crate::common::{Browser, TestApp};
use serde_json::{Value, json};

/// The JSON answer to `q` (and any further `extra` query pairs) as
/// `browser`, and its status.
async fn search_json(browser: &Browser, q: &str, extra: &[(&str, &str)]) -> (u16, Value) {
    let mut pairs = vec![("q", q), ("format", "json")];
    pairs.extend_from_slice(extra);
    let query = serde_urlencoded::to_string(&pairs).unwrap();
    let res = browser.get(&format!("/search/?{query}")).await;
    let status = res.status().as_u16();
    let body = res.text().await.expect("a body");
    (status, serde_json::from_str(&body).expect("a JSON body"))
}

/// The texts of the results for `q`, newest first.
async fn found(browser: &Browser, q: &str) -> Vec<String> {
    let (status, body) = search_json(browser, q, &[]).await;
    assert_eq!(status, 200, "{q}: {body}");
    body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["message"].as_str().unwrap().to_owned())
        .collect()
}

/// Opens room `name` as `browser` (which creates it).
async fn visit(browser: &Browser, name: &str) {
    assert_eq!(browser.get(&format!("/chat/{name}/")).await.status(), 200);
}

/// A direct conversation between `a` and `b`, stored as the team-chat
/// migration defines one (a room naming both participants, lower id
/// first); returns its room name.
fn direct_conversation(app: &TestApp, a: &str, b: &str) -> String {
    use confab::db::queries::{self, users};
    use confab::db::schema::rooms;
    use diesel::prelude::*;
    app.database()
        .run_here(|conn| {
            let a = users::by_username(conn, a)?.unwrap().id.0;
            let b = users::by_username(conn, b)?.unwrap().id.0;
            let (low, high) = (a.min(b), a.max(b));
            let name = format!("@dm-{low}-{high}");
            diesel::insert_into(rooms::table)
                .values((
                    rooms::name.eq(&name),
                    rooms::admin_only.eq(false),
                    rooms::created_at.eq(queries::now()),
                    rooms::direct_a.eq(low),
                    rooms::direct_b.eq(high),
                ))
                .execute(conn)?;
            Ok(name)
        })
        .unwrap()
}

on_every_backend!(words_and_phrases_find_messages_newest_first_with_highlights);
async fn words_and_phrases_find_messages_newest_first_with_highlights() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    visit(&alice, "general").await;
    let ids = app.store_messages(
        "general",
        "alice",
        [
            "The deploy is on Friday",
            "friday lunch, anyone?",
            "Deploy notes are in the wiki",
            "notes about the deploy",
            "nothing to see here",
        ],
    );

    // Every word must match, whatever its case; newest first.
    assert_eq!(
        found(&alice, "DEPLOY").await,
        [
            "notes about the deploy",
            "Deploy notes are in the wiki",
            "The deploy is on Friday"
        ]
    );
    assert_eq!(
        found(&alice, "deploy friday").await,
        ["The deploy is on Friday"]
    );
    // A phrase: those words together, in that order.
    assert_eq!(
        found(&alice, "\"deploy notes\"").await,
        ["Deploy notes are in the wiki"]
    );
    assert_eq!(
        found(&alice, "\"notes deploy\"").await,
        Vec::<String>::new()
    );
    // Whole words only, and nothing typed is query syntax.
    assert_eq!(found(&alice, "dep").await, Vec::<String>::new());
    assert_eq!(
        found(&alice, "lunch, OR NOT anyone? * (").await,
        Vec::<String>::new()
    );
    assert_eq!(
        found(&alice, "lunch, anyone? * (").await,
        ["friday lunch, anyone?"]
    );

    // The JSON shape, highlight included.
    let (status, body) = search_json(&alice, "wiki deploy", &[]).await;
    assert_eq!(status, 200);
    let result = &body["results"][0];
    let id = ids[2];
    assert_eq!(result["id"], id);
    assert_eq!(result["room"], "general");
    assert!(result.get("conversation").is_none(), "{result}");
    assert_eq!(result["user"], "alice");
    assert_eq!(result["message"], "Deploy notes are in the wiki");
    assert_eq!(result["url"], format!("/chat/general/?around={id}"));
    let created_at = result["created_at"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(created_at).is_ok() && created_at.ends_with('Z'),
        "{created_at}"
    );
    assert_eq!(
        result["highlight"],
        json!([
            {"text": "Deploy", "match": true},
            {"text": " notes are in the ", "match": false},
            {"text": "wiki", "match": true},
        ])
    );
    assert_eq!(body["next"], Value::Null);
}

on_every_backend!(from_in_before_and_after_narrow_the_search);
async fn from_in_before_and_after_narrow_the_search() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let _bob = app.user("bob").await;
    visit(&alice, "general").await;
    visit(&alice, "random").await;
    app.store_messages("general", "alice", ["standup at ten (alice, general)"]);
    app.store_messages("general", "bob", ["standup moved (bob, general)"]);
    app.store_messages("random", "bob", ["standup? (bob, random)"]);

    assert_eq!(
        found(&alice, "standup from:bob").await,
        ["standup? (bob, random)", "standup moved (bob, general)"]
    );
    // Names are matched as at login: case does not matter.
    assert_eq!(
        found(&alice, "standup from:BOB in:general").await,
        ["standup moved (bob, general)"]
    );
    assert_eq!(
        found(&alice, "in:general standup").await,
        [
            "standup moved (bob, general)",
            "standup at ten (alice, general)"
        ]
    );
    // Filters alone list the newest messages they admit.
    assert_eq!(
        found(&alice, "from:alice").await,
        ["standup at ten (alice, general)"]
    );

    let today = chrono::Utc::now().date_naive();
    let tomorrow = today.succ_opt().unwrap();
    assert_eq!(
        found(&alice, &format!("standup in:random after:{today}")).await,
        ["standup? (bob, random)"]
    );
    assert_eq!(
        found(&alice, &format!("standup before:{today}")).await,
        Vec::<String>::new()
    );
    assert_eq!(
        found(&alice, &format!("standup after:{tomorrow}")).await,
        Vec::<String>::new()
    );
    assert_eq!(
        found(&alice, &format!("standup after:{today} before:{tomorrow}"))
            .await
            .len(),
        3
    );

    // Names that match nothing are said so, not answered with nothing.
    for (q, said) in [
        ("standup from:nobody", "There is no user called nobody."),
        (
            "standup in:nowhere",
            "There is no room called nowhere that you can enter.",
        ),
    ] {
        let (status, body) = search_json(&alice, q, &[]).await;
        assert_eq!((status, body["error"].as_str()), (400, Some(said)), "{q}");
    }
}

on_every_backend!(only_messages_the_searcher_may_see_are_found);
async fn only_messages_the_searcher_may_see_are_found() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let carol = app.user("carol").await;
    let boss = app.user("boss").await;
    assert!(app.cli(&["user", "promote", "boss"]).status.success());
    assert!(
        app.cli(&["room", "create", "staff", "--admin-only"])
            .status
            .success()
    );
    visit(&alice, "general").await;
    app.store_messages("general", "alice", ["secret plan, said openly"]);
    app.store_messages("staff", "boss", ["secret plan for staff"]);
    let alice_bob = direct_conversation(&app, "alice", "bob");
    let dm = app.store_messages(&alice_bob, "bob", ["secret plan between us"])[0];
    let notes = direct_conversation(&app, "carol", "carol");
    app.store_messages(&notes, "carol", ["secret plan of my own"]);
    let deleted = app.store_messages("general", "alice", ["a deleted secret plan"])[0];
    app.database()
        .run_here(|c| {
            confab::db::queries::messages::delete(
                c,
                confab::domain::MessageId(deleted),
                confab::db::queries::now(),
            )
        })
        .unwrap();

    // Not an admin-only room without staff rights, not others'
    // conversations, never a deleted message.
    assert_eq!(
        found(&alice, "secret plan").await,
        ["secret plan between us", "secret plan, said openly"]
    );
    assert_eq!(
        found(&bob, "secret plan").await,
        ["secret plan between us", "secret plan, said openly"]
    );
    assert_eq!(
        found(&carol, "secret plan").await,
        ["secret plan of my own", "secret plan, said openly"]
    );
    assert_eq!(
        found(&boss, "secret plan").await,
        ["secret plan for staff", "secret plan, said openly"]
    );
    let (status, body) = search_json(&carol, "plan in:staff", &[]).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        found(&boss, "plan in:staff").await,
        ["secret plan for staff"]
    );

    // A conversation is named by the other participant, for each of them,
    // and links to the conversation's page.
    for (who, other) in [(&alice, "bob"), (&bob, "alice")] {
        let (_, body) = search_json(who, &format!("between in:@{other}"), &[]).await;
        let result = &body["results"][0];
        assert_eq!(result["conversation"], format!("@{other}"), "{body}");
        assert!(result.get("room").is_none(), "{result}");
        assert_eq!(result["url"], format!("/chat/@{other}/?around={dm}"));
        assert_eq!(result["user"], "bob");
    }
    assert_eq!(found(&carol, "between in:@bob").await, Vec::<String>::new());
    let (_, body) = search_json(&carol, "own", &[]).await;
    assert_eq!(body["results"][0]["conversation"], "@carol");
}

on_every_backend!(the_index_follows_posts_edits_and_deletions);
async fn the_index_follows_posts_edits_and_deletions() {
    let app = TestApp::spawn().await;
    let [mut a] = app.members("lobby", ["alice"]).await;
    let alice = app.browser_on(app.port);
    alice
        .login("alice", "correct horse battery", "/chat/")
        .await;

    a.say("the quarterly report is late").await;
    let id = a.expect("chat_message").await["id"].as_i64().unwrap();
    assert_eq!(
        found(&alice, "quarterly").await,
        ["the quarterly report is late"]
    );

    a.send_json(json!({"type": "edit_message", "id": id, "message": "the annual report is late"}))
        .await;
    a.expect("message_edited").await;
    assert_eq!(found(&alice, "quarterly").await, Vec::<String>::new());
    assert_eq!(found(&alice, "annual").await, ["the annual report is late"]);

    a.send_json(json!({"type": "delete_message", "id": id}))
        .await;
    a.expect("message_deleted").await;
    assert_eq!(found(&alice, "annual").await, Vec::<String>::new());
    assert_eq!(found(&alice, "report").await, Vec::<String>::new());
}

on_every_backend!(results_come_a_page_at_a_time);
async fn results_come_a_page_at_a_time() {
    let app = TestApp::spawn_with(|s| s.search_page_size = 2).await;
    let alice = app.user("alice").await;
    visit(&alice, "general").await;
    let ids = app.store_messages("general", "alice", (1..=5).map(|n| format!("ping {n}")));
    app.store_messages("general", "alice", ["pong"]);

    let mut pages = Vec::new();
    let mut next = Some("/search/?q=ping&format=json".to_owned());
    while let Some(url) = next {
        let body: Value = serde_json::from_str(&alice.text(&url).await).unwrap();
        let page: Vec<i64> = body["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_i64().unwrap())
            .collect();
        pages.push(page);
        next = body["next"].as_str().map(str::to_owned);
    }
    assert_eq!(
        pages,
        [vec![ids[4], ids[3]], vec![ids[2], ids[1]], vec![ids[0]]]
    );
    // The page links to the next one the same way.
    let page = alice.text("/search/?q=ping").await;
    // (Tera escapes `/` and `&` in attributes too.)
    assert!(
        page.contains(&format!("?q=ping&amp;before={}\"", ids[3])),
        "{page}"
    );
}

on_every_backend!(bad_queries_are_refused_with_a_reason);
async fn bad_queries_are_refused_with_a_reason() {
    let app = TestApp::spawn_with(|s| s.search_max_query_chars = 40).await;
    let alice = app.user("alice").await;
    for (q, said) in [
        (
            "say \"hello",
            "A quote is not closed: end the phrase with \".",
        ),
        (
            "before:yesterday",
            "The date in before:yesterday is not one; write it as YYYY-MM-DD, e.g. before:2026-12-01.",
        ),
        ("from:", "The filter from: needs a value, as in from:alice."),
        (
            "!!!",
            "Type a word to search for, or a filter such as from:name.",
        ),
        (
            &"x".repeat(41),
            "The search is 41 characters long; the limit is 40.",
        ),
    ] {
        let (status, body) = search_json(&alice, q, &[]).await;
        assert_eq!(status, 400, "{q}");
        assert_eq!(body, json!({"error": said}), "{q}");
        // The page shows the same sentence above the search, kept in the box.
        let query = serde_urlencoded::to_string([("q", q)]).unwrap();
        let res = alice.get(&format!("/search/?{query}")).await;
        assert_eq!(res.status(), 400);
        let page = res.text().await.unwrap();
        let escaped = said.replace('"', "&quot;");
        assert!(page.contains(&escaped), "{q}: {page}");
        assert!(page.contains("id=\"search-input\""), "{page}");
    }
    let (status, body) = search_json(&alice, "ping", &[("before", "soon")]).await;
    assert_eq!(status, 400, "{body}");
    // The page without a query is the search box and its help.
    let res = alice.get("/search/").await;
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("from:name"));
    // Signed out: the login page, as for every page.
    let res = app.browser().get("/search/?q=x").await;
    assert_eq!(res.status(), 302);
}

on_every_backend!(the_page_highlights_matches_and_escapes_text);
async fn the_page_highlights_matches_and_escapes_text() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    visit(&alice, "general").await;
    let id = app.store_messages(
        "general",
        "alice",
        ["<b>bold</b> claim & <script>x</script>"],
    )[0];
    let page = alice.text("/search/?q=claim").await;
    assert!(page.contains("<mark>claim</mark>"), "{page}");
    assert!(page.contains("&lt;b&gt;bold&lt;&#x2F;b&gt;"), "{page}");
    assert!(!page.contains("<script>x"), "{page}");
    assert!(
        page.contains(&format!(
            "href=\"&#x2F;chat&#x2F;general&#x2F;?around={id}\""
        )),
        "{page}"
    );
    // Every page offers the search box.
    assert!(
        alice
            .text("/chat/")
            .await
            .contains("class=\"header-search\"")
    );
}

/// The search page in a real browser, on a desktop and a phone: the header's
/// box searches from any page, matches are marked, and a result opens its
/// message in context. Screenshots: `search-header-box.png`,
/// `search-header-box-phone.png`, `search-room-header-phone.png`,
/// `search-results.png`,
/// `search-results-phone.png`, `search-bad-query.png`.
#[actix_web::test]
async fn a_person_searches_from_the_header_and_opens_a_result_in_context() {
    use crate::common::browser::{Driver, Screen};
    use fantoccini::key::Key;
    let Some(driver) = Driver::start().await else {
        return;
    };
    let app = TestApp::spawn().await;
    let alice = driver.open("alice").await;
    alice.sign_up(&app, "alice").await;
    let bob = driver.open_on("bob", Screen::Phone).await;
    bob.sign_up(&app, "bob").await;
    alice.goto(&app.url("/chat/general/")).await;
    alice.goto(&app.url("/chat/ops/")).await;
    app.store_messages(
        "general",
        "alice",
        [
            "Morning! Is the deploy still on for Friday?",
            "lunch at the usual place?",
        ],
    );
    app.store_messages(
        "ops",
        "bob",
        [
            "The deploy checklist is in the wiki; ping me before you deploy anything that \
         touches the database, and remember that the staging deploy runs the migrations \
         first, so give it ten minutes before you call it done",
            "Rolled back the deploy: the health check failed on instance b",
        ],
    );
    let general = app.store_messages("general", "bob", ["Deploy moved to Monday, sorry"])[0];
    let alice_bob = direct_conversation(&app, "alice", "bob");
    app.store_messages(
        &alice_bob,
        "bob",
        ["Between us: the Friday deploy scares me"],
    );

    // From the room index's header box.
    alice.goto(&app.url("/chat/")).await;
    let input = alice
        .wait_displayed("the header's search box", "#header-search-input")
        .await;
    input.send_keys("deploy").await.unwrap();
    alice.screenshot("search-header-box").await;
    input.send_keys(&Key::Enter.to_string()).await.unwrap();
    let shown = alice
        .wait_js(
            "the results",
            "const marks = document.querySelectorAll('.search-result mark');\
             return marks.length >= 5 && document.querySelectorAll('.search-result').length;",
            vec![],
        )
        .await;
    assert_eq!(
        shown, 5,
        "every visible deploy, hers and in her conversation"
    );
    let marked = alice
        .js(
            "return [...document.querySelectorAll('.search-result mark')]\
             .every(m => m.textContent.toLowerCase() === 'deploy');",
            vec![],
        )
        .await;
    assert_eq!(marked, true);
    alice.screenshot("search-results").await;

    // A result opens the message in its room. (The conversation's page is
    // another part of issue 13; its link is checked over HTTP above.)
    let first = alice
        .wait_displayed(
            "the newest result in #general",
            ".search-result[href^='/chat/general/']",
        )
        .await;
    alice.click(&first, "the result in #general").await;
    alice
        .wait_js(
            "the room page around the message",
            // The page drops `?around=` from its URL once it reaches the
            // live end (at once, in a room this small), and the highlight
            // fades after a while: either one shows the jump happened.
            "const item = document.querySelector(`#chat-log .message[data-id=\"${arguments[1]}\"]`);\
             return location.pathname === '/chat/general/' && item !== null \
               && (location.search === arguments[0] || item.classList.contains('is-target'));",
            vec![json!(format!("?around={general}")), json!(general.to_string())],
        )
        .await;

    // The room's header searches the room.
    let link = alice
        .wait_displayed("the room header's search link", ".room-search-link")
        .await;
    alice.click(&link, "the room's search link").await;
    let prefilled = alice
        .wait_js(
            "the search page for the room",
            "const input = document.getElementById('search-input');\
             return input && document.querySelectorAll('.search-result').length === 3 \
                    && input.value;",
            vec![],
        )
        .await;
    assert_eq!(prefilled, "in:general");

    // On a phone, with a filter and a phrase.
    bob.goto(&app.url("/chat/ops/")).await;
    bob.wait_displayed("the room header's search link", ".room-search-link")
        .await;
    assert!(
        !bob.js(
            "return document.getElementById('header-search-input').offsetParent !== null;",
            vec![]
        )
        .await
        .as_bool()
        .unwrap(),
        "in a room on a phone, the header leaves the box to the room's link"
    );
    bob.screenshot("search-room-header-phone").await;
    bob.goto(&app.url("/chat/")).await;
    bob.wait_displayed("the header's search box", "#header-search-input")
        .await;
    bob.screenshot("search-header-box-phone").await;
    bob.goto(&app.url("/search/?q=%22health+check%22+in%3Aops"))
        .await;
    bob.wait_js(
        "the phone's result",
        "return document.querySelectorAll('.search-result mark').length === 1;",
        vec![],
    )
    .await;
    bob.goto(&app.url("/search/?q=deploy+from%3Abob")).await;
    bob.wait_displayed("the phone's results", ".search-result")
        .await;
    bob.screenshot("search-results-phone").await;
    bob.goto(&app.url("/search/?q=deploy+before%3Atomorrow"))
        .await;
    bob.wait_displayed("the error", ".alert-error").await;
    bob.screenshot("search-bad-query").await;

    alice.close().await;
    bob.close().await;
}
