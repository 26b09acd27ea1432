//! The shipped scale-out deployment, with real processes only: two `confab`
//! processes (the built binary) on one database (a scratch PostgreSQL one
//! when `CONFAB_TEST_POSTGRES_URL` is set, always in CI; else a SQLite
//! file), one Redis and one cookie key, behind a real nginx running `deploy/nginx.conf`. The test talks to
//! nginx alone, as browsers would: accounts, pages and sockets go through
//! plain round robin, a room spans both instances, and when one instance is
//! killed its clients reconnect through nginx with `?after=ID` and get every
//! message sent while they were away.
//!
//! nginx runs the shipped file with only its site-specific lines rewritten
//! (see [`local_nginx_conf`]), so a change there that breaks WebSockets,
//! the Host header or failover fails this test.
//!
//! Needs `CONFAB_TEST_REDIS_URL` (e.g. `redis://127.0.0.1:6379/`) and an
//! `nginx` binary; without either it says why and passes, except under
//! `CI=true`, where that is a failure.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{
    Event, PATIENCE, TestDatabase, backend_for_several_instances, csrf_from, free_port, missing,
    redis_url, unique_suffix,
};
use futures_util::{SinkExt, StreamExt};
use reqwest::cookie::{CookieStore, Jar};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long a process may take to start answering (migrations included).
const STARTUP: Duration = Duration::from_secs(30);

const PASSWORD: &str = "correct horse battery";

#[tokio::test]
async fn behind_nginx_rooms_span_instances_and_losing_one_loses_no_message() {
    let Some(mut deployment) = Deployment::start().await else {
        return;
    };
    let alice = Person::sign_up(&deployment, "alice").await;
    let bob = Person::sign_up(&deployment, "bob").await;
    alice.visit("/chat/lobby/").await; // creates the room

    // Opened one after another, round robin spreads them over both
    // instances: alice's three and bob's three each land on both.
    let mut sockets = Vec::new();
    for (n, person) in [&alice, &alice, &alice, &bob, &bob, &bob]
        .into_iter()
        .enumerate()
    {
        let mut socket = person.open(&deployment, "lobby", None, n).await;
        socket.joined().await;
        sockets.push(socket);
    }

    // Every socket gets every message, whichever instance the sender is on.
    let mut last_seen = 0;
    for (sender, text) in [(0, "hello from alice"), (5, "hello from bob")] {
        sockets[sender].say(text).await;
        for socket in &mut sockets {
            let frame = socket.next_chat_message().await;
            assert_eq!(frame["message"], text, "{} got {frame}", socket.label);
            last_seen = frame["id"].as_i64().expect("message id");
        }
    }

    deployment.kill_instance(0);

    // A socket opened now can only land on the survivor: nginx passes over
    // the dead instance. While the others are away, it talks.
    let mut writer = alice.open(&deployment, "lobby", None, 6).await;
    writer.joined().await;
    let missed = ["while away 1", "while away 2", "while away 3"];
    for text in missed {
        writer.say(text).await;
        assert_eq!(writer.next_chat_message().await["message"], text);
    }

    // The sockets on the killed instance were closed by nginx; the others
    // stayed open and got everything.
    let mut reconnected = Vec::new();
    let mut survivors = Vec::new();
    for mut socket in sockets {
        match socket.chat_until(missed[missed.len() - 1]).await {
            Ok(texts) => {
                assert_eq!(texts, missed, "{} on the survivor", socket.label);
                survivors.push(socket);
            }
            Err(texts) => {
                assert!(
                    texts.is_empty(),
                    "{} after the kill: {texts:?}",
                    socket.label
                );
                reconnected.push(socket);
            }
        }
    }
    assert!(
        !reconnected.is_empty() && !survivors.is_empty(),
        "round robin should have put the six sockets on both instances, but killing \
         one closed {} of them",
        reconnected.len()
    );

    // Each reconnects through nginx from the last id it saw and catches up
    // on exactly what it missed, before anything live.
    for socket in &mut reconnected {
        let person = [&alice, &bob]
            .into_iter()
            .find(|p| p.name == socket.owner)
            .unwrap();
        let mut again = person
            .open(&deployment, "lobby", Some(last_seen), socket.number)
            .await;
        let (history, resumed) = again.resumed(last_seen).await;
        assert_eq!(history, missed, "catch-up of {}", socket.label);
        assert_eq!(
            resumed,
            json!({"type": "resumed", "after": last_seen, "has_more": false})
        );
        *socket = again;
    }

    // And the room works for everyone again.
    writer.say("welcome back").await;
    for socket in reconnected
        .iter_mut()
        .chain(&mut survivors)
        .chain([&mut writer])
    {
        let frame = socket.next_chat_message().await;
        assert_eq!(
            frame["message"], "welcome back",
            "{} got {frame}",
            socket.label
        );
    }
}

/// Two confab instances and nginx in front, each a child process that dies
/// with this value.
struct Deployment {
    // Fields drop in order: nginx first, the database last.
    nginx: Process,
    instances: Vec<Process>,
    port: u16,
    _dir: tempfile::TempDir,
    _database: TestDatabase,
}

impl Deployment {
    /// Starts everything, or says why it cannot and returns `None`.
    async fn start() -> Option<Deployment> {
        let redis_url = redis_url()?;
        let Some(nginx) = nginx_binary() else {
            return missing(
                "nginx is not installed (Debian package `nginx`)",
                "skipping the deploy test",
            );
        };
        let dir = tempfile::tempdir().expect("temp dir");
        // When the test runs as root, nginx's workers run as an unprivileged
        // user and must be able to reach their temporary directories here.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
                .expect("chmod temp dir");
        }
        let database = TestDatabase::create(backend_for_several_instances());
        let prefix = format!("confabdeploy{}", unique_suffix());

        // One after the other: each applies pending migrations as it starts.
        let mut instances = Vec::new();
        for n in 1..=2 {
            let port = free_port();
            let mut command = Command::new(env!("CARGO_BIN_EXE_confab"));
            command
                .arg("serve")
                .env("CONFAB_BIND", format!("127.0.0.1:{port}"))
                .env("DATABASE_URL", &database.url)
                .env("REDIS_URL", &redis_url)
                .env("CONFAB_REDIS_PREFIX", &prefix)
                .env(
                    "CONFAB_SECRET_KEY",
                    "deploy-test-secret-key-shared-by-every-instance",
                )
                .env("CONFAB_WORKERS", "1")
                .env("RUST_LOG", "info")
                // Origins are checked against the Host nginx passes on.
                .env_remove("CONFAB_ALLOWED_ORIGINS");
            let mut instance =
                Process::spawn(&format!("confab{n}"), command, dir.path(), port, Stop::Kill);
            // Ready, not just up: Redis must be connected before messages flow.
            wait_until_ready(&mut instance, &format!("http://127.0.0.1:{port}/readyz")).await;
            instances.push(instance);
        }

        let port = free_port();
        let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/nginx.conf");
        let shipped = std::fs::read_to_string(&shipped).expect("deploy/nginx.conf");
        let ports: Vec<u16> = instances.iter().map(|i| i.port).collect();
        let conf = dir.path().join("nginx.conf");
        std::fs::write(&conf, local_nginx_conf(&shipped, port, &ports, dir.path()))
            .expect("write nginx.conf");
        let mut command = Command::new(nginx);
        command
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(&conf)
            .arg("-g")
            .arg(format!(
                "daemon off; pid {}; error_log stderr;",
                dir.path().join("nginx.pid").display()
            ));
        let mut nginx = Process::spawn("nginx", command, dir.path(), port, Stop::Term);
        wait_until_ready(&mut nginx, &format!("http://127.0.0.1:{port}/healthz")).await;
        Some(Deployment {
            nginx,
            instances,
            port,
            _dir: dir,
            _database: database,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// What a page served through nginx has as its origin.
    fn origin(&self) -> String {
        self.url("")
    }

    /// SIGKILLs instance `n`: no goodbye to anyone, like a crashed machine.
    fn kill_instance(&mut self, n: usize) {
        self.instances[n].kill();
    }
}

impl Drop for Deployment {
    fn drop(&mut self) {
        if std::thread::panicking() {
            for process in std::iter::once(&self.nginx).chain(&self.instances) {
                eprintln!("--- log of {} ---\n{}", process.name, process.log_tail());
            }
        }
    }
}

/// `deploy/nginx.conf` for this machine: the upstream's `server` lines
/// point at `instances` (keeping their parameters), nginx listens on
/// `listen`, logs go to stderr only and temporary files under `dir`.
/// Every other line is used as shipped.
fn local_nginx_conf(shipped: &str, listen: u16, instances: &[u16], dir: &Path) -> String {
    let mut out = String::new();
    let mut servers = instances.iter();
    let (mut listens, mut upstream_servers) = (0, 0);
    for line in shipped.lines() {
        let directive = line.trim_start();
        let indent = &line[..line.len() - directive.len()];
        if directive.starts_with("error_log ") {
            continue; // given on the command line
        } else if directive.starts_with("access_log ") {
            out += &format!("{indent}access_log off;\n");
        } else if directive.starts_with("listen ") {
            listens += 1;
            out += &format!("{indent}listen 127.0.0.1:{listen};\n");
        } else if directive.starts_with("server ") && directive.ends_with(';') {
            upstream_servers += 1;
            let port = servers
                .next()
                .expect("deploy/nginx.conf names more instances than the test starts");
            let parameters = directive.split_whitespace().skip(2).collect::<Vec<_>>();
            out += &format!("{indent}server 127.0.0.1:{port} {}\n", parameters.join(" "));
        } else {
            out += line;
            out.push('\n');
            if directive == "http {" {
                for kind in ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"] {
                    let path = dir.join(format!("nginx-{kind}"));
                    out += &format!("{indent}    {kind}_temp_path {};\n", path.display());
                }
            }
        }
    }
    assert_eq!(listens, 1, "deploy/nginx.conf should have one `listen`");
    assert_eq!(
        upstream_servers,
        instances.len(),
        "deploy/nginx.conf should name {} instances in `upstream confab`",
        instances.len()
    );
    out
}

/// A child process that is stopped when dropped, its output in a log file.
struct Process {
    name: String,
    port: u16,
    child: Child,
    log: PathBuf,
    stop: Stop,
}

/// How a [`Process`] is stopped when dropped.
#[derive(Clone, Copy)]
enum Stop {
    /// SIGKILL, for a single process.
    Kill,
    /// SIGTERM, then wait: nginx's master then stops its workers, which a
    /// SIGKILL of the master alone would leave running.
    Term,
}

impl Process {
    fn spawn(name: &str, mut command: Command, dir: &Path, port: u16, stop: Stop) -> Process {
        let log = dir.join(format!("{name}.log"));
        let file = std::fs::File::create(&log).expect("log file");
        command
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log file"))
            .stderr(file);
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Process {
            name: name.to_owned(),
            port,
            child,
            log,
            stop,
        }
    }

    /// SIGKILL (that is what `Child::kill` sends on Unix), and reap.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, and SIGKILL if that has not ended it within [`PATIENCE`].
    fn terminate(&mut self) {
        let term = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        if term.is_ok_and(|s| s.success()) {
            let deadline = std::time::Instant::now() + PATIENCE;
            while std::time::Instant::now() < deadline {
                if !matches!(self.child.try_wait(), Ok(None)) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        self.kill();
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        match self.stop {
            Stop::Kill => self.kill(),
            Stop::Term => self.terminate(),
        }
    }
}

/// Polls `url` until it answers 200; fails if `process` exits or it takes
/// longer than [`STARTUP`].
async fn wait_until_ready(process: &mut Process, url: &str) {
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let deadline = Instant::now() + STARTUP;
    loop {
        if let Some(status) = process.child.try_wait().expect("process status") {
            panic!(
                "{} exited ({status}) before {url} answered:\n{}",
                process.name,
                process.log_tail()
            );
        }
        let last = match client.get(url).send().await {
            Ok(res) if res.status() == 200 => return,
            Ok(res) => format!("{} {}", res.status(), res.text().await.unwrap_or_default()),
            Err(e) => e.to_string(),
        };
        if Instant::now() > deadline {
            panic!(
                "{} never answered 200 at {url} (last: {last}):\n{}",
                process.name,
                process.log_tail()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A person with a browser (a cookie jar) who only ever talks to nginx.
struct Person {
    name: String,
    http: reqwest::Client,
    jar: Arc<Jar>,
    base: String,
}

impl Person {
    /// Signs up through the real form. The form and its submission may be
    /// served by different instances: the session cookie is valid on both.
    async fn sign_up(deployment: &Deployment, name: &str) -> Person {
        let jar = Arc::new(Jar::default());
        let http = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .expect("http client");
        let person = Person {
            name: name.to_owned(),
            http,
            jar,
            base: deployment.url(""),
        };
        let form = person.visit("/accounts/signup/").await;
        let token = csrf_from(&form).expect("csrf_token on the sign-up form");
        let res = person
            .http
            .post(format!("{}/accounts/signup/", person.base))
            .form(&[
                ("csrf_token", token.as_str()),
                ("username", name),
                ("password", PASSWORD),
                ("password2", PASSWORD),
                ("next", "/chat/"),
            ])
            .send()
            .await
            .expect("POST sign-up");
        assert_eq!(res.status(), 303, "sign-up of {name} redirects");
        person
    }

    /// The page at `path`, which must answer 200.
    async fn visit(&self, path: &str) -> String {
        let res = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("GET");
        assert_eq!(res.status(), 200, "GET {path} as {}", self.name);
        res.text().await.expect("body")
    }

    /// Opens this person's socket number `number` to `room` through nginx,
    /// resuming after message `after` if given.
    async fn open(
        &self,
        deployment: &Deployment,
        room: &str,
        after: Option<i64>,
        number: usize,
    ) -> Socket {
        let query = after.map(|id| format!("?after={id}")).unwrap_or_default();
        let url = format!("ws://127.0.0.1:{}/ws/chat/{room}/{query}", deployment.port);
        let mut request = url.into_client_request().unwrap();
        let cookies = self
            .jar
            .cookies(&self.base.parse().unwrap())
            .expect("signed in: a session cookie");
        let headers = request.headers_mut();
        headers.insert("Cookie", cookies);
        headers.insert(
            "Origin",
            HeaderValue::from_str(&deployment.origin()).unwrap(),
        );
        let label = format!("{}'s socket #{number}", self.name);
        let (ws, _) = tokio::time::timeout(PATIENCE, tokio_tungstenite::connect_async(request))
            .await
            .unwrap_or_else(|_| panic!("{label}: no handshake in time"))
            .unwrap_or_else(|e| panic!("{label}: handshake through nginx refused: {e}"));
        Socket {
            ws,
            label,
            owner: self.name.clone(),
            number,
        }
    }
}

/// A chat socket through nginx.
struct Socket {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    label: String,
    owner: String,
    number: usize,
}

impl Socket {
    async fn say(&mut self, text: &str) {
        let frame = json!({"type": "chat_message", "message": text}).to_string();
        self.ws
            .send(Message::text(frame))
            .await
            .unwrap_or_else(|e| panic!("{}: send: {e}", self.label));
    }

    /// The next JSON frame or how the socket ended, within [`PATIENCE`].
    async fn next_event(&mut self) -> Event {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let next = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .unwrap_or_else(|_| panic!("{}: nothing arrived in time", self.label));
            return match next {
                Some(Ok(Message::Text(text))) => {
                    Event::Frame(serde_json::from_str(&text).expect("server sends JSON"))
                }
                Some(Ok(Message::Close(frame))) => {
                    Event::Closed(frame.map(|f| (u16::from(f.code), f.reason.to_string())))
                }
                Some(Ok(_)) => continue, // ping, pong
                Some(Err(_)) | None => Event::Closed(None),
            };
        }
    }

    async fn next_frame(&mut self) -> Value {
        match self.next_event().await {
            Event::Frame(frame) => frame,
            Event::Closed(how) => panic!("{} closed: {how:?}", self.label),
        }
    }

    /// The next `chat_message`, skipping presence and typing frames.
    async fn next_chat_message(&mut self) -> Value {
        loop {
            let frame = self.next_frame().await;
            if frame["type"] == "chat_message" {
                return frame;
            }
        }
    }

    /// Reads the join burst, up to and including `user_list`.
    async fn joined(&mut self) {
        loop {
            let frame = self.next_frame().await;
            match frame["type"].as_str() {
                Some("chat_message") => {}
                Some("user_list") => return,
                _ => panic!("{}: unexpected frame while joining: {frame}", self.label),
            }
        }
    }

    /// Reads the burst of a resumed socket: the texts of the messages after
    /// `after` (all marked history; the catch-up also repeats a few seen
    /// ones just before it, which a client skips by id), then the `resumed`
    /// frame, then `user_list`.
    async fn resumed(&mut self, after: i64) -> (Vec<String>, Value) {
        let mut history = Vec::new();
        loop {
            let frame = self.next_frame().await;
            match frame["type"].as_str() {
                Some("chat_message") => {
                    assert_eq!(frame["history"], true, "{}: {frame}", self.label);
                    if frame["id"].as_i64().unwrap() > after {
                        history.push(frame["message"].as_str().unwrap().to_owned());
                    }
                }
                Some("resumed") => {
                    let list = self.next_frame().await;
                    assert_eq!(list["type"], "user_list", "{}: {list}", self.label);
                    return (history, frame);
                }
                _ => panic!("{}: unexpected frame while resuming: {frame}", self.label),
            }
        }
    }

    /// The texts of chat messages up to and including `last`: `Ok` when it
    /// arrives, `Err` with what came before if the socket closes first.
    async fn chat_until(&mut self, last: &str) -> Result<Vec<String>, Vec<String>> {
        let mut texts = Vec::new();
        loop {
            match self.next_event().await {
                Event::Frame(frame) if frame["type"] == "chat_message" => {
                    let text = frame["message"].as_str().unwrap().to_owned();
                    let done = text == last;
                    texts.push(text);
                    if done {
                        return Ok(texts);
                    }
                }
                Event::Frame(_) => {}
                Event::Closed(_) => return Err(texts),
            }
        }
    }
}

/// `nginx` from `PATH`, or Debian's, which is in `/usr/sbin`.
fn nginx_binary() -> Option<PathBuf> {
    ["nginx", "/usr/sbin/nginx"]
        .into_iter()
        .map(PathBuf::from)
        .find(|bin| {
            Command::new(bin)
                .arg("-v")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
}
