//! Real browsers for the end-to-end tests in `tests/api/browser.rs`: one
//! `chromedriver` per test and, through it, one headless Chromium per person,
//! each with a fresh profile. People sign up through the real form and use
//! the room page through its DOM hooks (listed in `tests/api/browser.rs`); every
//! check waits for what must appear, polling up to [`PATIENCE`], and fails
//! naming what it waited for (with a screenshot of the page at that moment).
//!
//! Without Chromium or chromedriver the tests print why and pass, except
//! under `CI=true`, where a missing browser is a failure.

use crate::common::TestApp;
use fantoccini::actions::{
    InputSource, MOUSE_BUTTON_LEFT, MouseActions, PointerAction, TouchActions,
};
use fantoccini::elements::Element;
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// Debian's Chromium (a wrapper script that sets Debian's flags).
pub const CHROMIUM: &str = "/usr/bin/chromium";
/// Debian's chromedriver, from the `chromium-driver` package.
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// How long a browser check waits for what must happen. Generous: two
/// Chromiums and the server share two cores; it bounds a hang, it is not a
/// speed claim.
pub const PATIENCE: Duration = Duration::from_secs(15);
const POLL: Duration = Duration::from_millis(100);

/// The password every browser user signs up with.
pub const PASSWORD: &str = "correct horse battery";

/// `#conn-status[data-state]` once the room's socket is open (static/room/socket.js).
pub const CONNECTED: &str = "online";

/// Where screenshots go: `test-output/screenshots/` (git-ignored).
pub fn screenshot_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("test-output/screenshots")
}

/// Why the browser tests cannot run here, if they cannot.
fn missing_browser() -> Option<String> {
    [CHROMIUM, CHROMEDRIVER]
        .iter()
        .find(|path| !Path::new(path).exists())
        .map(|path| format!("{path} not found (apt-get install chromium chromium-driver)"))
}

/// A running chromedriver. Dropping the last handle (the [`Driver`] and every
/// [`Chrome`] opened through it) kills chromedriver and every browser it
/// started: they share one process group, so nothing outlives a failed test.
struct DriverProcess {
    child: Mutex<Child>,
}

impl Drop for DriverProcess {
    fn drop(&mut self) {
        let Ok(mut child) = self.child.lock() else {
            return;
        };
        // Chromium does not exit when chromedriver is killed, so kill the
        // whole group chromedriver leads (`process_group(0)` below).
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", child.id())])
            .stderr(Stdio::null())
            .status();
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// The screen a browser gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    /// A desktop window, 1280×900, with a mouse.
    Desktop,
    /// A phone: a 390×844 viewport with touch input (chromedriver's mobile
    /// emulation), so `(pointer: coarse)` and `(hover: none)` hold.
    Phone,
}

/// One chromedriver for one test; [`Driver::open`] starts a browser in it.
pub struct Driver {
    process: Arc<DriverProcess>,
    url: String,
}

impl Driver {
    /// Starts chromedriver on a free port and waits until it accepts
    /// connections. Without a browser installed: says why and returns `None`
    /// (the test then passes), or panics under `CI=true`.
    pub async fn start() -> Option<Driver> {
        if let Some(why) = missing_browser() {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("browser tests cannot run in CI: {why}");
            }
            eprintln!("skipping browser tests: {why}");
            return None;
        }
        // The port is free when we look; should something take it before
        // chromedriver binds, chromedriver exits and we try another.
        for _ in 0..3 {
            if let Some(driver) = Self::try_start().await {
                return Some(driver);
            }
        }
        panic!("{CHROMEDRIVER} did not start (tried three ports)");
    }

    async fn try_start() -> Option<Driver> {
        use std::os::unix::process::CommandExt;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free local port")
            .port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("{CHROMEDRIVER} starts: {e}"));
        let process = Arc::new(DriverProcess {
            child: Mutex::new(child),
        });
        let deadline = Instant::now() + PATIENCE;
        loop {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Some(Driver {
                    process,
                    url: format!("http://127.0.0.1:{port}"),
                });
            }
            let exited = process
                .child
                .lock()
                .map(|mut c| c.try_wait().ok().flatten().is_some())
                .unwrap_or(true);
            if exited {
                return None;
            }
            assert!(
                Instant::now() < deadline,
                "{CHROMEDRIVER} did not accept connections on port {port} within {PATIENCE:?}"
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// A new headless Chromium with its own empty profile and a desktop
    /// window, for `name` (used in failure messages and screenshot names).
    pub async fn open(&self, name: &str) -> Chrome {
        self.open_on(name, Screen::Desktop).await
    }

    /// A browser for `name`, who signs up through the form and opens `room`.
    pub async fn in_room(&self, app: &TestApp, name: &str, room: &str) -> Chrome {
        self.in_room_on(app, name, room, Screen::Desktop).await
    }

    /// [`Driver::in_room`] on `screen`.
    pub async fn in_room_on(
        &self,
        app: &TestApp,
        name: &str,
        room: &str,
        screen: Screen,
    ) -> Chrome {
        let person = self.open_on(name, screen).await;
        person.sign_up(app, name).await;
        person.open_room(app, room, name).await;
        person
    }

    /// A new headless Chromium as [`Driver::open`], on `screen`.
    pub async fn open_on(&self, name: &str, screen: Screen) -> Chrome {
        let profile = tempfile::tempdir().expect("temp dir for a browser profile");
        let window = match screen {
            Screen::Desktop => "--window-size=1280,900",
            Screen::Phone => "--window-size=390,844",
        };
        // The flags the issue names, and nothing else: `--headless` is the
        // new headless mode since Chromium 132 (the old one is gone), so it
        // no longer needs `=new`.
        let mut options = json!({
            "binary": CHROMIUM,
            "args": [
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                window,
                format!("--user-data-dir={}", profile.path().display()),
            ],
        });
        if screen == Screen::Phone {
            options["mobileEmulation"] = json!({
                "deviceMetrics": { "width": 390, "height": 844, "pixelRatio": 2.0, "touch": true, "mobile": true },
            });
        }
        let capabilities = json!({
            "browserName": "chrome",
            "timeouts": { "pageLoad": 30_000, "script": 15_000 },
            "goog:chromeOptions": options,
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!("json! of an object literal is an object")
        };
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&self.url)
            .await
            .unwrap_or_else(|e| panic!("chromedriver starts a browser for {name}: {e}"));
        Chrome {
            name: name.to_owned(),
            client,
            driver_url: self.url.clone(),
            _driver: self.process.clone(),
            _profile: profile,
        }
    }
}

/// One person's headless Chromium.
pub struct Chrome {
    /// Who uses this browser; names failures and screenshots.
    pub name: String,
    pub client: Client,
    /// Where its chromedriver listens, for the commands fantoccini lacks.
    driver_url: String,
    // Field order matters on drop: the browser dies before its profile is removed.
    _driver: Arc<DriverProcess>,
    _profile: tempfile::TempDir,
}

impl Chrome {
    /// Ends the browser session cleanly (a failed test skips this; dropping
    /// the last handle kills the browser anyway).
    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }

    pub async fn goto(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("{} opens {url}: {e}", self.name));
    }

    /// Grants this browser's pages the permission to show notifications,
    /// as a person answering "Allow" would: through chromedriver's
    /// permissions endpoint (the WebDriver Permissions extension), for the
    /// origin of the page it shows.
    pub async fn grant_notifications(&self) {
        let session = self
            .client
            .session_id()
            .await
            .ok()
            .flatten()
            .unwrap_or_else(|| panic!("{} has a WebDriver session", self.name));
        let res = reqwest::Client::new()
            .post(format!("{}/session/{session}/permissions", self.driver_url))
            .header("content-type", "application/json")
            .body(json!({"descriptor": {"name": "notifications"}, "state": "granted"}).to_string())
            .send()
            .await
            .unwrap_or_else(|e| panic!("{} asks chromedriver for permissions: {e}", self.name));
        let status = res.status();
        let body = res.text().await.unwrap_or_default();
        assert!(
            status.is_success(),
            "{} granting notifications: {status} {body}",
            self.name
        );
    }

    /// Reloads the page.
    pub async fn reload(&self) {
        self.client
            .refresh()
            .await
            .unwrap_or_else(|e| panic!("{} reloads the page: {e}", self.name));
    }

    /// Saves a PNG of the viewport to `test-output/screenshots/<name>.png`
    /// and returns its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self
            .client
            .screenshot()
            .await
            .unwrap_or_else(|e| panic!("{} takes a screenshot: {e}", self.name));
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).expect("create test-output/screenshots");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("write screenshot");
        path
    }

    /// Runs `script` (a function body; `arguments` holds `args`) in the page.
    pub async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("{} runs a script: {e}\n{script}", self.name))
    }

    /// Polls `script` until it returns something truthy, and returns that.
    /// `{"waiting": x}` also means "not yet", and says what was seen instead.
    /// Gives up after [`PATIENCE`], naming `what` it waited for and what the
    /// script last returned, with a screenshot of the page.
    pub async fn wait_js(&self, what: &str, script: &str, args: Vec<Value>) -> Value {
        self.wait_js_until(Instant::now() + PATIENCE, what, script, args)
            .await
    }

    /// [`Chrome::wait_js`], giving up at `deadline` instead.
    pub async fn wait_js_until(
        &self,
        deadline: Instant,
        what: &str,
        script: &str,
        args: Vec<Value>,
    ) -> Value {
        let started = Instant::now();
        loop {
            // A script can fail while a page is loading: that is "not yet".
            let last = match self.client.execute(script, args.clone()).await {
                Ok(Value::Object(o)) if o.contains_key("waiting") => o["waiting"].to_string(),
                Ok(value) if truthy(&value) => return value,
                Ok(value) => value.to_string(),
                Err(e) => format!("script error: {e}"),
            };
            if Instant::now() >= deadline {
                let shot = self.failure_screenshot().await;
                panic!(
                    "{} waited {:?} for {what}; last seen: {last}; screenshot: {shot}",
                    self.name,
                    started.elapsed()
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    async fn failure_screenshot(&self) -> String {
        let test = std::thread::current()
            .name()
            .unwrap_or("test")
            .replace("::", "-");
        let name = format!("failure-{test}-{}", self.name);
        match self.client.screenshot().await {
            Ok(png) => {
                let dir = screenshot_dir();
                let path = dir.join(format!("{name}.png"));
                match std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&path, png)) {
                    Ok(()) => path.display().to_string(),
                    Err(e) => format!("not saved ({e})"),
                }
            }
            Err(e) => format!("not taken ({e})"),
        }
    }

    /// The first element matching `css` that is displayed, once there is one.
    pub async fn wait_displayed(&self, what: &str, css: &str) -> Element {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Ok(found) = self.client.find_all(Locator::Css(css)).await {
                for element in found {
                    if element.is_displayed().await.unwrap_or(false) {
                        return element;
                    }
                }
            }
            if Instant::now() >= deadline {
                let shot = self.failure_screenshot().await;
                panic!(
                    "{} waited {PATIENCE:?} for {what} (a displayed `{css}`); screenshot: {shot}",
                    self.name
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The text of the page's body (what a person can read).
    pub async fn page_text(&self) -> String {
        let text = self.js("return document.body.innerText;", vec![]).await;
        text.as_str().unwrap_or_default().to_owned()
    }

    /// Whether an element matches `css` right now.
    pub async fn exists(&self, css: &str) -> bool {
        self.js(
            "return document.querySelector(arguments[0]) !== null;",
            vec![json!(css)],
        )
        .await
            == json!(true)
    }

    /// Clicks `element` as a person would; if the page does not let a real
    /// click through (a hover-only control), clicks it from script instead.
    pub async fn click(&self, element: &Element, what: &str) {
        if let Err(e) = element.click().await {
            eprintln!(
                "{}: a real click on {what} failed ({e}); clicking from script",
                self.name
            );
            let handle = serde_json::to_value(element).expect("element reference serializes");
            self.js("arguments[0].click();", vec![handle]).await;
        }
    }

    /// Clicks `element` with the real mouse, failing the test if the page
    /// does not let the click through (unlike [`Chrome::click`]).
    pub async fn real_click(&self, element: &Element, what: &str) {
        element
            .click()
            .await
            .unwrap_or_else(|e| panic!("{} clicks {what}: {e}", self.name));
    }

    /// Taps `element` with a finger (a touch pointer: down and up at its centre).
    pub async fn tap(&self, element: &Element, what: &str) {
        let finger = TouchActions::new("finger".into())
            .then(PointerAction::MoveToElement {
                element: element.clone(),
                duration: None,
                x: 0.0,
                y: 0.0,
            })
            .then(PointerAction::Down {
                button: MOUSE_BUTTON_LEFT,
            })
            .then(PointerAction::Up {
                button: MOUSE_BUTTON_LEFT,
            });
        self.client
            .perform_actions(finger)
            .await
            .unwrap_or_else(|e| panic!("{} taps {what}: {e}", self.name));
    }

    /// Moves the mouse over `element`, revealing hover-only controls.
    pub async fn hover(&self, element: &Element) {
        let mouse = MouseActions::new("mouse".into()).then(PointerAction::MoveToElement {
            element: element.clone(),
            duration: None,
            x: 0.0,
            y: 0.0,
        });
        self.client
            .perform_actions(mouse)
            .await
            .unwrap_or_else(|e| panic!("{} moves the mouse: {e}", self.name));
    }

    // -----------------------------------------------------------------
    // Accounts and rooms
    // -----------------------------------------------------------------

    /// Signs `username` up through the real form at `/accounts/signup/`.
    pub async fn sign_up(&self, app: &TestApp, username: &str) {
        self.goto(&app.url("/accounts/signup/")).await;
        for (field, value) in [
            ("#signup-username", username),
            ("#signup-password", PASSWORD),
            ("#signup-password2", PASSWORD),
        ] {
            let input = self.wait_displayed("the sign-up form", field).await;
            input
                .send_keys(value)
                .await
                .unwrap_or_else(|e| panic!("{} types into {field}: {e}", self.name));
        }
        let submit = self
            .wait_displayed(
                "the sign-up button",
                "form[action='/accounts/signup/'] button[type=submit]",
            )
            .await;
        self.click(&submit, "the sign-up button").await;
        let outcome = self
            .wait_js(
                &format!("the sign-up of {username} to go through"),
                "const error = document.getElementById('form-error');\
                 if (error) return 'refused: ' + error.textContent.trim();\
                 return location.pathname === '/accounts/signup/' ? null : 'ok';",
                vec![],
            )
            .await;
        assert_eq!(outcome, "ok", "{} signs up as {username}", self.name);
    }

    /// Opens `/chat/<room>/` and waits until the socket is open and the join
    /// burst (history, then the online list naming `me`) has been shown.
    pub async fn open_room(&self, app: &TestApp, room: &str, me: &str) {
        self.goto(&app.url(&format!("/chat/{room}/"))).await;
        self.wait_connected(room, me).await;
    }

    /// Waits until the room page is connected and lists `me` online.
    pub async fn wait_connected(&self, room: &str, me: &str) {
        self.wait_js(
            &format!("#conn-status[data-state={CONNECTED}] in #{room}"),
            "const s = document.getElementById('conn-status');\
             return s !== null && s.dataset.state === arguments[0];",
            vec![json!(CONNECTED)],
        )
        .await;
        self.wait_for_online(me).await;
    }

    /// Waits until `#user-list` shows `user`.
    pub async fn wait_for_online(&self, user: &str) {
        self.wait_js(
            &format!("{user} in #user-list"),
            "const list = document.getElementById('user-list');\
             return list !== null && list.innerText.split(/\\s+/).includes(arguments[0]);",
            vec![json!(user)],
        )
        .await;
    }

    // -----------------------------------------------------------------
    // The composer
    // -----------------------------------------------------------------

    /// Types `text` into `#chat-message-input` without sending it.
    pub async fn type_message(&self, text: &str) {
        let input = self
            .wait_displayed("the message input", "#chat-message-input")
            .await;
        input
            .send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("{} types a message: {e}", self.name));
    }

    /// Deletes what is in the composer with Backspace, as a person would.
    pub async fn clear_composer(&self) {
        let input = self
            .wait_displayed("the message input", "#chat-message-input")
            .await;
        let value = input.prop("value").await.ok().flatten().unwrap_or_default();
        let backspaces: String = value.chars().map(|_| char::from(Key::Backspace)).collect();
        input
            .send_keys(&format!("{}{backspaces}", Key::End))
            .await
            .unwrap_or_else(|e| panic!("{} clears the composer: {e}", self.name));
    }

    /// What the composer holds now.
    pub async fn composer_text(&self) -> String {
        let value = self
            .js(
                "return document.getElementById('chat-message-input').value;",
                vec![],
            )
            .await;
        value.as_str().unwrap_or_default().to_owned()
    }

    /// Waits until the composer notice (`#composer-notice`) shows text
    /// containing `part`, and returns it.
    pub async fn wait_for_notice(&self, part: &str) -> String {
        let seen = self
            .wait_js(
                &format!("a notice saying {part:?}"),
                "const n = document.getElementById('composer-notice');                 const text = n && !n.hidden ? n.textContent.trim() : '';                 return text.includes(arguments[0]) ? text : { waiting: text };",
                vec![json!(part)],
            )
            .await;
        seen.as_str().unwrap_or_default().to_owned()
    }

    /// Types `text` and presses Enter, then waits until it shows in the log
    /// as this person's message; returns its id.
    pub async fn send(&self, text: &str) -> String {
        self.type_message(&format!("{text}{}", Key::Enter)).await;
        self.wait_for_message(text).await
    }

    // -----------------------------------------------------------------
    // The log
    // -----------------------------------------------------------------

    /// Waits for a `.message` whose `.message-text` is exactly `text` and
    /// returns its `data-id` (the newest, should there be several).
    pub async fn wait_for_message(&self, text: &str) -> String {
        let id = self
            .wait_js(
                &format!("a .message with text {text:?}"),
                "const hits = [...document.querySelectorAll('#chat-log .message[data-id]')]\
                   .filter((m) => m.querySelector('.message-text')?.textContent === arguments[0]);\
                 return hits.length ? hits[hits.length - 1].dataset.id : null;",
                vec![json!(text)],
            )
            .await;
        id.as_str().unwrap_or_default().to_owned()
    }

    /// Waits until the post `text` waits in the outbox (`.message--outbox`,
    /// at the end of the log, no id yet) saying `status` ("sending…",
    /// "not sent — retrying").
    pub async fn wait_for_outbox(&self, text: &str, status: &str) {
        self.wait_js(
            &format!("{text:?} in the outbox, {status:?}"),
            "const entries = [...document.querySelectorAll('#chat-log .message--outbox')];\
             const now = entries.map((m) => [m.querySelector('.message-text')?.textContent,\
               m.querySelector('.message-status')?.textContent]);\
             const last = document.getElementById('chat-log').lastElementChild;\
             return (now.some(([t, s]) => t === arguments[0] && s === arguments[1])\
               && last.classList.contains('message--outbox')) || { waiting: now };",
            vec![json!(text), json!(status)],
        )
        .await;
    }

    /// Waits until the log's messages read exactly `texts`, top to bottom.
    pub async fn wait_for_messages(&self, what: &str, texts: &[String]) {
        self.wait_js(
            what,
            "const now = [...document.querySelectorAll('#chat-log .message[data-id]')]\
               .map((m) => m.querySelector('.message-text')?.textContent ?? null);\
             return JSON.stringify(now) === JSON.stringify(arguments[0]) || { waiting: now };",
            vec![json!(texts)],
        )
        .await;
    }

    /// Waits until message `id` reads `text`.
    pub async fn wait_for_message_text(&self, id: &str, text: &str) {
        self.wait_js(
            &format!("message {id} to read {text:?}"),
            "const m = document.querySelector(`#chat-log .message[data-id=\"${arguments[0]}\"]`);\
             const now = m && m.querySelector('.message-text')?.textContent;\
             return now === arguments[1] || { waiting: now };",
            vec![json!(id), json!(text)],
        )
        .await;
    }

    /// Waits until message `id` carries a `.message-edited` mark saying "edited".
    pub async fn wait_for_edited_mark(&self, id: &str) {
        self.wait_js(
            &format!("an (edited) mark on message {id}"),
            "const m = document.querySelector(`#chat-log .message[data-id=\"${arguments[0]}\"]`);\
             const mark = m && m.querySelector('.message-edited');\
             return mark !== null && mark.getClientRects().length > 0\
               && /edited/i.test(mark.textContent);",
            vec![json!(id)],
        )
        .await;
    }

    /// Whether message `id` has a `.message-edited` mark right now.
    pub async fn has_edited_mark(&self, id: &str) -> bool {
        self.exists(&format!(
            "#chat-log .message[data-id=\"{id}\"] .message-edited"
        ))
        .await
    }

    /// Waits until message `id` is no longer in the log.
    pub async fn wait_for_message_gone(&self, id: &str) {
        self.wait_js(
            &format!("message {id} to disappear"),
            "return document.querySelector(`#chat-log .message[data-id=\"${arguments[0]}\"]`) === null;",
            vec![json!(id)],
        )
        .await;
    }

    /// Waits until message `id` shows a `emoji` reaction chip counting `count`.
    pub async fn wait_for_reaction(&self, id: &str, emoji: &str, count: u32) {
        self.wait_js(
            &format!("a {emoji} reaction chip with count {count} on message {id}"),
            "const m = document.querySelector(`#chat-log .message[data-id=\"${arguments[0]}\"]`);\
             if (m === null) return { waiting: 'no such message' };\
             const chips = [...m.querySelectorAll('button.reaction-chip')].map((c) =>\
               [c.dataset.emoji, c.querySelector('.reaction-count')?.textContent.trim()]);\
             return chips.some(([e, n]) => e === arguments[1] && n === String(arguments[2]))\
               || { waiting: chips };",
            vec![json!(id), json!(emoji), json!(count)],
        )
        .await;
    }

    /// Waits until the `emoji` chip on message `id` counts `count`, is
    /// marked as this person's (`.mine`) or not as `mine` says, and its
    /// tooltip contains `who`; returns the tooltip.
    pub async fn wait_for_chip(
        &self,
        id: &str,
        emoji: &str,
        count: u32,
        mine: bool,
        who: &str,
    ) -> String {
        let seen = self
            .wait_js(
                &format!("the {emoji} chip on message {id}: {count}, mine {mine}, naming {who:?}"),
                "const c = document.querySelector(                   `#chat-log .message[data-id=\"${arguments[0]}\"] button.reaction-chip[data-emoji=\"${arguments[1]}\"]`);                 if (c === null) return { waiting: 'no chip' };                 const state = [c.querySelector('.reaction-count')?.textContent.trim(),                   c.classList.contains('mine'), c.getAttribute('aria-pressed'), c.title];                 return (state[0] === String(arguments[2]) && state[1] === arguments[3]                   && state[2] === String(arguments[3]) && state[3].includes(arguments[4]))                   ? state[3] : { waiting: state };",
                vec![json!(id), json!(emoji), json!(count), json!(mine), json!(who)],
            )
            .await;
        seen.as_str().unwrap_or_default().to_owned()
    }

    /// The message element `id`.
    pub async fn message(&self, id: &str) -> Element {
        self.wait_displayed(
            &format!("message {id}"),
            &format!("#chat-log .message[data-id=\"{id}\"]"),
        )
        .await
    }

    /// Hovers message `id` and clicks its control matching `css` (a
    /// hover-only action button).
    pub async fn click_message_action(&self, id: &str, css: &str) {
        let message = self.message(id).await;
        self.hover(&message).await;
        let what = format!("{css} on message {id}");
        let button = message
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{}: no {what}: {e}", self.name));
        self.click(&button, &what).await;
    }

    /// Edits message `id` to `text`: the edit action, then [`Chrome::save_edit`].
    pub async fn edit_message(&self, id: &str, text: &str) {
        let editor = self.open_editor(id).await;
        self.save_edit(&editor, text).await;
    }

    /// In an open editor: select all, type `text`, Enter.
    pub async fn save_edit(&self, editor: &Element, text: &str) {
        editor
            .send_keys(&format!(
                "{}a{}{text}{}",
                Key::Control,
                Key::Null,
                Key::Enter
            ))
            .await
            .unwrap_or_else(|e| panic!("{} edits a message: {e}", self.name));
    }

    /// Opens the inline editor on message `id` and returns its textarea.
    pub async fn open_editor(&self, id: &str) -> Element {
        self.click_message_action(id, "button.action-edit").await;
        self.wait_displayed(
            &format!("the editor of message {id}"),
            &format!("#chat-log .message[data-id=\"{id}\"] textarea.edit-input"),
        )
        .await
    }

    /// Reacts to message `id` with `emoji` through the reaction picker.
    pub async fn react_with_picker(&self, id: &str, emoji: &str) {
        self.click_message_action(id, "button.action-react").await;
        let option = self
            .wait_displayed(
                &format!("the {emoji} option of the reaction picker"),
                &format!("button.reaction-option[data-emoji=\"{emoji}\"]"),
            )
            .await;
        self.click(&option, &format!("the {emoji} option")).await;
    }

    /// Toggles this person's `emoji` on message `id` by clicking its chip.
    pub async fn click_reaction_chip(&self, id: &str, emoji: &str) {
        let chip = self
            .wait_displayed(
                &format!("the {emoji} chip on message {id}"),
                &format!(
                    "#chat-log .message[data-id=\"{id}\"] button.reaction-chip[data-emoji=\"{emoji}\"]"
                ),
            )
            .await;
        self.click(&chip, &format!("the {emoji} chip")).await;
    }

    /// Deletes message `id`: the delete action, then the inline confirmation.
    pub async fn delete_message(&self, id: &str) {
        self.click_message_action(id, "button.action-delete").await;
        let confirm = self
            .wait_displayed(
                &format!("the delete confirmation of message {id}"),
                "button.confirm-delete",
            )
            .await;
        self.click(&confirm, "the delete confirmation").await;
    }

    /// `#history-status`: its `data-state` and its text.
    pub async fn history_status(&self) -> (String, String) {
        let status = self
            .js(
                "const s = document.getElementById('history-status');\
                 return [s.dataset.state, s.textContent];",
                vec![],
            )
            .await;
        serde_json::from_value(status).expect("state and text")
    }

    /// Waits until `#typing-indicator` is shown and says `text`.
    pub async fn wait_for_typing(&self, text: &str) {
        self.wait_js(
            &format!("#typing-indicator to say {text:?}"),
            "const t = document.getElementById('typing-indicator');\
             return t !== null && t.getClientRects().length > 0\
               && getComputedStyle(t).visibility !== 'hidden'\
               && t.textContent.includes(arguments[0]);",
            vec![json!(text)],
        )
        .await;
    }

    /// Waits until `#typing-indicator` is hidden or empty.
    pub async fn wait_for_no_typing(&self) {
        self.wait_for_no_typing_until(Instant::now() + PATIENCE)
            .await;
    }

    /// [`Chrome::wait_for_no_typing`], giving up at `deadline`.
    pub async fn wait_for_no_typing_until(&self, deadline: Instant) {
        self.wait_js_until(
            deadline,
            "#typing-indicator to clear",
            "const t = document.getElementById('typing-indicator');\
             return t === null || t.hidden || t.getClientRects().length === 0\
               || getComputedStyle(t).visibility === 'hidden' || t.textContent.trim() === ''\
               || { waiting: t.textContent.trim() };",
            vec![],
        )
        .await;
    }

    /// From now on, notes what `#typing-indicator` says at the moment each
    /// new message enters the log (read back with [`Chrome::typing_line_when`]).
    pub async fn record_typing_line_on_arrival(&self) {
        self.js(
            "window.__typingOnArrival = {};\
             const line = document.getElementById('typing-indicator');\
             new MutationObserver((records) => {\
               for (const record of records) for (const node of record.addedNodes) {\
                 if (node.nodeType === 1 && node.matches('.message[data-id]')) {\
                   const text = node.querySelector('.message-text').textContent;\
                   window.__typingOnArrival[text] = line.textContent.trim();\
                 }\
               }\
             }).observe(document.getElementById('chat-log'), { childList: true });",
            vec![],
        )
        .await;
    }

    /// What `#typing-indicator` said when the message reading `text` arrived.
    pub async fn typing_line_when(&self, text: &str) -> String {
        let line = self
            .js(
                "return (window.__typingOnArrival || {})[arguments[0]] ?? null;",
                vec![json!(text)],
            )
            .await;
        line.as_str()
            .unwrap_or_else(|| panic!("{}: no arrival of {text:?} was recorded", self.name))
            .to_owned()
    }

    /// The computed opacity of message `id`'s action toolbar, as CSS says it ("0", "1", …).
    pub async fn toolbar_opacity(&self, id: &str) -> String {
        let opacity = self
            .js(
                "const bar = document.querySelector(\
                   `#chat-log .message[data-id=\"${arguments[0]}\"] .message-actions`);\
                 return bar && getComputedStyle(bar).opacity;",
                vec![json!(id)],
            )
            .await;
        opacity.as_str().unwrap_or_default().to_owned()
    }

    /// Presses `keys` in whatever has the focus.
    pub async fn press(&self, keys: &str) {
        let focused = self
            .client
            .active_element()
            .await
            .unwrap_or_else(|e| panic!("{} finds the focused element: {e}", self.name));
        focused
            .send_keys(keys)
            .await
            .unwrap_or_else(|e| panic!("{} presses keys: {e}", self.name));
    }
}

/// JavaScript's idea of truthy, for a value a script returned.
fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}
