//! What the integration tests share: a real confab server on a random port
//! with its own database, HTTP clients with cookie jars that sign up and log
//! in through the real forms, and real WebSocket clients.
//!
//! Each test's database is its own: a SQLite file in a temporary directory,
//! or a scratch PostgreSQL database. [`on_every_backend!`] runs a test on
//! both; [`TestApp::spawn`] starts a server on the backend of the test it is
//! called from (SQLite unless that is the PostgreSQL variant).
//!
//! Tests that need a service (PostgreSQL, Redis, nginx, a browser) find it
//! through the environment and skip with a note when it is missing, except
//! under `CI=true`, where CI must run everything: see [`missing`].

pub mod browser;
#[cfg(feature = "postgres")]
pub mod postgres;
pub mod redis;

use confab::config::Settings;
use confab::db::{Backend, Database};
use confab::startup::Application;
use futures_util::{SinkExt, StreamExt};
use reqwest::cookie::{CookieStore, Jar};
use serde_json::{Value, json};
use std::cell::Cell;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// A TCP port that was free a moment ago, for a server process to bind.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind an ephemeral port")
        .local_addr()
        .expect("its address")
        .port()
}

/// A child process (a server binary) killed and reaped when the test ends,
/// however it ends.
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The real binary serving on `app`'s database and key, in a process of
/// its own (as a deployment runs it), once it answers `/readyz`; `env` adds
/// settings. Returns the process and its port.
pub async fn serve_binary(app: &TestApp, env: &[(&str, &str)]) -> (KillOnDrop, u16) {
    serve_binary_logging(app, env, std::process::Stdio::inherit()).await
}

/// [`serve_binary`] with the process's log (its standard error) sent to
/// `log`, say a file the test reads back.
pub async fn serve_binary_logging(
    app: &TestApp,
    env: &[(&str, &str)],
    log: impl Into<std::process::Stdio>,
) -> (KillOnDrop, u16) {
    let port = free_port();
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_confab"));
    command
        .arg("serve")
        .env("CONFAB_BIND", format!("127.0.0.1:{port}"))
        .env("DATABASE_URL", &app.settings.database_url)
        .env(
            "CONFAB_SECRET_KEY",
            app.settings.secret_key.clone().expect("a test key"),
        )
        .env("RUST_LOG", "warn");
    for (name, value) in env {
        command.env(name, value);
    }
    command.stderr(log);
    let child = KillOnDrop(command.spawn().expect("confab starts"));
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !reqwest::get(format!("http://127.0.0.1:{port}/readyz"))
        .await
        .is_ok_and(|res| res.status() == 200)
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the process never answered /readyz"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (child, port)
}

/// A WebSocket as tokio-tungstenite opens it, for tests that drive the
/// stream (or the TCP connection under it) themselves.
pub type RawSocket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A socket to `room` on the server at `port` (a process of its own, say)
/// as `browser`, from that server's own origin. Nothing is read from it.
pub async fn socket_to(port: u16, browser: &Browser, room: &str) -> RawSocket {
    let mut request = format!("ws://127.0.0.1:{port}/ws/chat/{room}/")
        .into_client_request()
        .unwrap();
    let headers = request.headers_mut();
    headers.insert("Cookie", browser.cookie_header().expect("signed in"));
    headers.insert(
        "Origin",
        HeaderValue::from_str(&format!("http://127.0.0.1:{port}")).unwrap(),
    );
    let (ws, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("handshake accepted");
    ws
}

/// Reads a new socket's join burst, up to and with its `user_list`.
pub async fn read_join_burst(ws: &mut RawSocket) {
    loop {
        match tokio::time::timeout(PATIENCE, ws.next()).await {
            Ok(Some(Ok(Message::Text(text)))) if text.contains("\"user_list\"") => return,
            Ok(Some(Ok(_))) => continue,
            other => panic!("socket closed before joining: {other:?}"),
        }
    }
}

/// How long a test waits for a frame that must come. Generous: it bounds a
/// hang, it is not a performance claim.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// Runs the test `async fn`s named on every database backend.
///
/// Written just above the test, as an attribute would be:
///
/// ```ignore
/// on_every_backend!(two_users_converse);
/// async fn two_users_converse() { ... }
/// ```
///
/// makes a module `two_users_converse` with two tests, `sqlite` and
/// `postgres`, that run the function. In the second, [`TestApp::spawn`]
/// starts its servers on a scratch PostgreSQL database; it skips as
/// [`postgres_url`] says, and does not exist in a build without the
/// `postgres` feature. (A test function left unnamed is dead code, which
/// the lints refuse.)
macro_rules! on_every_backend {
    ($($test:ident),+ $(,)?) => {$(
        mod $test {
            #[actix_web::test]
            async fn sqlite() {
                super::$test().await;
            }

            #[cfg(feature = "postgres")]
            #[actix_web::test]
            async fn postgres() {
                $crate::common::on_postgres(super::$test).await;
            }
        }
    )+};
}

thread_local! {
    /// The backend [`TestApp::spawn`] uses in the test running on this
    /// thread (libtest runs each test on a thread of its own, and an actix
    /// test runs all its tasks on that thread).
    static BACKEND: Cell<Backend> = const { Cell::new(Backend::Sqlite) };
}

/// Runs `test` with its servers on PostgreSQL, or skips it as
/// [`postgres_url`] says.
#[cfg(feature = "postgres")]
pub async fn on_postgres<F: std::future::Future<Output = ()>>(test: impl FnOnce() -> F) {
    if postgres_url().is_none() {
        return;
    }
    BACKEND.with(|backend| backend.set(Backend::Postgres));
    test().await;
}

/// The backend for tests of several instances sharing one database:
/// PostgreSQL when the tests have one (always in CI), else a SQLite file.
pub fn backend_for_several_instances() -> Backend {
    #[cfg(feature = "postgres")]
    if service_url(
        "CONFAB_TEST_POSTGRES_URL",
        "the instances share a SQLite file instead",
    )
    .is_some()
    {
        return Backend::Postgres;
    }
    Backend::Sqlite
}

/// Settings for a test server on `database_url`: any free port, a fixed
/// cookie key, few threads and connections (tests run side by side on a
/// small machine, and PostgreSQL's connections are limited).
pub fn test_settings(database_url: &str) -> Settings {
    Settings {
        bind: "127.0.0.1:0".parse().unwrap(),
        database_url: database_url.to_owned(),
        secret_key: Some("test-secret-key-that-is-long-enough-0123456789".into()),
        workers: 2,
        db_pool_size: 4,
        // Tests post as fast as they can; the write allowance has tests of
        // its own (limits.rs), which turn it on.
        write_per_sec: 0,
        // Tests sign many people up from 127.0.0.1; the sign-up throttle
        // has tests of its own (account_throttles.rs), which turn it on.
        signups_per_hour: 0,
        ..Settings::default()
    }
}

/// A running server and the database it serves.
pub struct TestApp {
    pub port: u16,
    /// The separate `/metrics` listener's port, with `metrics_bind` set.
    pub metrics_port: Option<u16>,
    pub settings: Settings,
    /// The server's own moderation service: actions through it take the
    /// path the console's and the room's do (the writer, then the bus).
    pub moderation: confab::moderation::Moderation,
    handle: confab::startup::StopHandle,
    /// Shared with the servers [`restart`](Self::restart),
    /// [`sibling`](Self::sibling) and [`start_again`](Self::start_again)
    /// start on it; removed with the last of them.
    database: Arc<TestDatabase>,
}

impl TestApp {
    /// A fresh server with default settings and an empty database.
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    /// A fresh server whose settings `tweak` adjusts, on the backend of the
    /// running test.
    pub async fn spawn_with(tweak: impl FnOnce(&mut Settings)) -> TestApp {
        Self::spawn_on(BACKEND.with(Cell::get), tweak).await
    }

    /// A fresh server on a new database on `backend`, with `tweak`ed settings.
    pub async fn spawn_on(backend: Backend, tweak: impl FnOnce(&mut Settings)) -> TestApp {
        let database = Arc::new(TestDatabase::create(backend));
        let mut settings = test_settings(&database.url);
        tweak(&mut settings);
        Self::start(settings, database).await
    }

    /// A fresh server on the database at `url`, which the test provides and
    /// removes (a PostgreSQL server of its own, a file on a disk of its
    /// own), with `tweak`ed settings.
    pub async fn spawn_at(url: &str, tweak: impl FnOnce(&mut Settings)) -> TestApp {
        let database = Arc::new(TestDatabase::at(url));
        let mut settings = test_settings(url);
        tweak(&mut settings);
        Self::start(settings, database).await
    }

    async fn start(settings: Settings, database: Arc<TestDatabase>) -> TestApp {
        // RUST_LOG=confab=debug shows the servers' logs in a failing test.
        let _ = env_logger::builder().is_test(true).try_init();
        let app = Application::build(settings.clone())
            .await
            .expect("server starts");
        let port = app.port();
        let metrics_port = app.metrics_port();
        let handle = app.handle();
        let moderation = app.moderation();
        actix_web::rt::spawn(app.run_until_stopped());
        TestApp {
            port,
            metrics_port,
            settings,
            moderation,
            handle,
            database,
        }
    }

    /// Stops this server and starts a new one on the same database.
    pub async fn restart(self) -> TestApp {
        self.handle.stop().await;
        let mut settings = self.settings.clone();
        settings.bind = "127.0.0.1:0".parse().unwrap();
        Self::start(settings, self.database.clone()).await
    }

    /// Another server on the same database (another instance behind the
    /// same load balancer), with its own port and `tweak`ed settings.
    pub async fn sibling(&self, tweak: impl FnOnce(&mut Settings)) -> TestApp {
        let mut settings = self.settings.clone();
        settings.bind = "127.0.0.1:0".parse().unwrap();
        tweak(&mut settings);
        Self::start(settings, self.database.clone()).await
    }

    /// Starts this (stopped) server again on the same port and database, as
    /// a restarted process would: open pages reconnect by themselves.
    pub async fn start_again(self) -> TestApp {
        let mut settings = self.settings.clone();
        settings.bind = format!("127.0.0.1:{}", self.port).parse().unwrap();
        Self::start(settings, self.database.clone()).await
    }

    /// Stops the server.
    pub async fn stop(&self) {
        self.handle.stop().await;
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The server's database through the library, for checks of what is
    /// stored that work on every backend.
    pub fn database(&self) -> Database {
        Database::connect(&self.settings.database_url, 1).expect("open the test database")
    }

    /// Stores `texts` by `user` in `room` at once, straight into the
    /// database and on any backend, as another instance (or a busy room)
    /// would have stored them without this server hearing of it; returns
    /// their ids. The room and the user must exist.
    pub fn store_messages(
        &self,
        room: &str,
        user: &str,
        texts: impl IntoIterator<Item = impl AsRef<str>>,
    ) -> Vec<i64> {
        use confab::db::queries::{self, messages, rooms, users};
        use diesel::Connection;
        self.database()
            .run_here(|conn| {
                let room = rooms::by_name(conn, room)?.expect("the room exists");
                let user = users::by_username(conn, user)?.expect("the user exists");
                conn.transaction(|conn| {
                    texts
                        .into_iter()
                        .map(|text| {
                            messages::insert(
                                conn,
                                room.id,
                                user.id,
                                text.as_ref(),
                                queries::now(),
                                None,
                            )
                            .map(|m| m.id.0)
                        })
                        .collect()
                })
            })
            .expect("store the messages")
    }

    /// Moves the message id counter on, so that the next message stored
    /// gets id `next`: how a test reaches ids past 2^31 without storing two
    /// billion messages. The SQL differs per backend (SQLite's counter is a
    /// row of `sqlite_sequence`, PostgreSQL's a sequence), as it would for
    /// an operator doing the same.
    pub fn set_next_message_id(&self, next: i64) {
        use confab::db::DbConnection;
        use diesel::RunQueryDsl;
        let last = next - 1;
        self.database()
            .run_here(|conn| {
                let moved = match conn {
                    DbConnection::Sqlite(_) => {
                        let updated = diesel::sql_query(format!(
                            "UPDATE sqlite_sequence SET seq = {last} WHERE name = 'messages'"
                        ))
                        .execute(conn)?;
                        if updated == 0 {
                            diesel::sql_query(format!(
                                "INSERT INTO sqlite_sequence (name, seq) VALUES ('messages', {last})"
                            ))
                            .execute(conn)?;
                        }
                        1
                    }
                    #[cfg(feature = "postgres")]
                    DbConnection::Pg(_) => {
                        diesel::sql_query(format!("SELECT setval('messages_id_seq', {last})"))
                            .execute(conn)?
                    }
                };
                assert_eq!(moved, 1, "the counter moved");
                Ok(())
            })
            .expect("move the message id counter");
    }

    /// `name`, made staff through the CLI, with a socket joined to a new
    /// admin-only room `staff-room`: where the tests of lost rights start.
    pub async fn staff_in_admin_only_room(&self, name: &str) -> (Browser, Ws) {
        let out = self.cli(&["room", "create", "staff-room", "--admin-only"]);
        assert!(out.status.success(), "room create: {out:?}");
        let browser = self.user(name).await;
        assert!(self.cli(&["user", "promote", name]).status.success());
        let mut ws = self.join(&browser, "staff-room").await;
        ws.joined().await;
        (browser, ws)
    }

    /// A browser-like client with a cookie jar that does not follow redirects.
    pub fn browser(&self) -> Browser {
        self.browser_on(self.port)
    }

    /// A browser for the server on `port` of this machine (one
    /// [`serve_binary`] started on this app's database, say).
    pub fn browser_on(&self, port: u16) -> Browser {
        Browser::with_jar(
            Arc::new(Jar::default()),
            format!("http://127.0.0.1:{port}"),
            String::new(),
        )
    }

    /// A new account, signed in.
    pub async fn user(&self, username: &str) -> Browser {
        let mut browser = self.browser();
        let res = browser.signup(username, "correct horse battery").await;
        assert_eq!(res.status(), 303, "signup of {username} redirects");
        browser.username = username.to_owned();
        browser
    }

    /// New accounts `names`, each with a socket in `room`, joined in that
    /// order; every socket has read its join burst and the `user_join` of
    /// each one after it.
    pub async fn members<const N: usize>(&self, room: &str, names: [&str; N]) -> [Ws; N] {
        let mut sockets: Vec<Ws> = Vec::with_capacity(N);
        for name in names {
            let mut ws = self.join(&self.user(name).await, room).await;
            ws.joined().await;
            for earlier in &mut sockets {
                assert_eq!(earlier.expect("user_join").await["user"], name);
            }
            sockets.push(ws);
        }
        sockets
            .try_into()
            .unwrap_or_else(|_| unreachable!("one socket per name"))
    }

    /// A new member of `room` whose socket has a 4 KiB receive buffer, so
    /// that the kernel cannot soak up a backlog for it: a client that is
    /// about to stop reading. Its join burst has been read.
    pub async fn stalled_member(&self, name: &str, room: &str) -> Ws {
        let browser = self.user(name).await;
        assert_eq!(browser.get(&format!("/chat/{room}/")).await.status(), 200);
        let mut ws = self
            .connect_with(&browser, room, Some(&self.origin()), Some(4096))
            .await
            .expect("handshake accepted");
        ws.joined().await;
        ws
    }

    /// Runs the real `confab` binary against this server's database.
    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        std::process::Command::new(env!("CARGO_BIN_EXE_confab"))
            .args(args)
            .env("DATABASE_URL", &self.settings.database_url)
            .env("RUST_LOG", "warn")
            .output()
            .expect("confab binary runs")
    }

    /// Opens a socket to `room` as `browser`, after visiting the room page
    /// (which creates the room, as a person's browser would).
    pub async fn join(&self, browser: &Browser, room: &str) -> Ws {
        let page = browser.get(&format!("/chat/{room}/")).await;
        assert_eq!(page.status(), 200, "room page for {room}");
        self.connect(browser, room)
            .await
            .expect("handshake accepted")
    }

    /// Opens a modern socket (`?v=2`, as the room page does) to `room` as
    /// `browser`, after visiting the room page.
    pub async fn join_modern(&self, browser: &Browser, room: &str) -> Ws {
        let page = browser.get(&format!("/chat/{room}/")).await;
        assert_eq!(page.status(), 200, "room page for {room}");
        let origin = self.origin();
        self.open_socket(
            browser,
            &format!("/ws/chat/{room}/?v=2"),
            Some(&origin),
            None,
            &[],
        )
        .await
        .expect("handshake accepted")
    }

    /// Opens a socket to `room` as `browser` without visiting the page first.
    pub async fn connect(&self, browser: &Browser, room: &str) -> Result<Ws, tungstenite::Error> {
        self.connect_with(browser, room, Some(&self.origin()), None)
            .await
    }

    /// Opens a socket with full control over `Origin` and the TCP receive buffer.
    pub async fn connect_with(
        &self,
        browser: &Browser,
        room: &str,
        origin: Option<&str>,
        recv_buffer: Option<u32>,
    ) -> Result<Ws, tungstenite::Error> {
        let path = format!("/ws/chat/{room}/");
        self.open_socket(browser, &path, origin, recv_buffer, &[])
            .await
    }

    /// Opens a socket to `room` from `origin` with these extra request
    /// headers (say, an `X-Forwarded-For` as a proxy would add it).
    pub async fn connect_with_headers(
        &self,
        browser: &Browser,
        room: &str,
        origin: &str,
        headers: &[(&str, &str)],
    ) -> Result<Ws, tungstenite::Error> {
        let path = format!("/ws/chat/{room}/");
        self.open_socket(browser, &path, Some(origin), None, headers)
            .await
    }

    /// Reopens a socket to `room` as a reconnecting client that has seen
    /// every message up to `after`.
    pub async fn resume(&self, browser: &Browser, room: &str, after: i64) -> Ws {
        let origin = self.origin();
        self.open_socket(
            browser,
            &format!("/ws/chat/{room}/?after={after}"),
            Some(&origin),
            None,
            &[],
        )
        .await
        .expect("handshake accepted")
    }

    async fn open_socket(
        &self,
        browser: &Browser,
        path: &str,
        origin: Option<&str>,
        recv_buffer: Option<u32>,
        headers: &[(&str, &str)],
    ) -> Result<Ws, tungstenite::Error> {
        let url = format!("ws://127.0.0.1:{}{path}", self.port);
        let mut request = url.into_client_request()?;
        if let Some(cookie) = browser.cookie_header() {
            request.headers_mut().insert("Cookie", cookie);
        }
        if let Some(origin) = origin {
            request
                .headers_mut()
                .insert("Origin", HeaderValue::from_str(origin).unwrap());
        }
        for (name, value) in headers {
            let name = tungstenite::http::HeaderName::from_bytes(name.as_bytes()).unwrap();
            request
                .headers_mut()
                .append(name, HeaderValue::from_str(value).unwrap());
        }
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        if let Some(size) = recv_buffer {
            socket.set_recv_buffer_size(size).unwrap();
        }
        let stream = socket
            .connect(format!("127.0.0.1:{}", self.port).parse().unwrap())
            .await
            .map_err(tungstenite::Error::Io)?;
        let config = WebSocketConfig::default().max_message_size(Some(1 << 20));
        let (ws, _) = tokio_tungstenite::client_async_with_config(
            request,
            MaybeTlsStream::Plain(stream),
            Some(config),
        )
        .await?;
        Ok(Ws { inner: ws })
    }
}

/// What a test does when something it needs is missing: a note saying
/// `what` is missing and the `consequence` (a skip, a fallback), and `None`.
/// Under `CI=true` it panics instead: CI must run every test.
pub fn missing<T>(what: &str, consequence: &str) -> Option<T> {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true but {what}: every test must run in CI");
    }
    eprintln!("{what}: {consequence}");
    None
}

/// Whether the tests run as root (who may mount a file system, and whose
/// PostgreSQL must run as another user).
pub fn running_as_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

/// The URL of a test service in the environment variable `name`, or
/// [`missing`]'s answer.
pub fn service_url(name: &str, consequence: &str) -> Option<String> {
    match std::env::var(name) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => missing(&format!("{name} is not set"), consequence),
    }
}

/// The PostgreSQL server the tests may use, from `CONFAB_TEST_POSTGRES_URL`
/// (e.g. `postgres://postgres@127.0.0.1:5432/postgres`), or [`missing`]'s
/// answer.
#[cfg(feature = "postgres")]
pub fn postgres_url() -> Option<String> {
    service_url("CONFAB_TEST_POSTGRES_URL", "skipping a PostgreSQL test")
}

/// The Redis the tests may use, from `CONFAB_TEST_REDIS_URL` (e.g.
/// `redis://127.0.0.1:6379/`), or [`missing`]'s answer.
pub fn redis_url() -> Option<String> {
    service_url("CONFAB_TEST_REDIS_URL", "skipping a Redis test")
}

/// Different in every call, run and process: for names that tests sharing
/// one server (Redis prefixes, PostgreSQL databases) must not share.
pub fn unique_suffix() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// A test's own database, removed when dropped (even if the test failed):
/// a SQLite file in a temporary directory, or a scratch PostgreSQL one.
pub struct TestDatabase {
    /// What `DATABASE_URL` is set to.
    pub url: String,
    /// Holds a SQLite database's file (and any `.secret` key beside it)
    /// for as long as this value lives.
    _dir: tempfile::TempDir,
    #[cfg(feature = "postgres")]
    _postgres: Option<ScratchPostgres>,
}

impl TestDatabase {
    /// The database at `url`, which the test provides and removes.
    fn at(url: &str) -> TestDatabase {
        TestDatabase {
            url: url.to_owned(),
            _dir: tempfile::tempdir().expect("temp dir"),
            #[cfg(feature = "postgres")]
            _postgres: None,
        }
    }

    /// A new, empty database on `backend`. PostgreSQL needs
    /// `CONFAB_TEST_POSTGRES_URL`: callers check [`postgres_url`] first.
    pub fn create(backend: Backend) -> TestDatabase {
        let dir = tempfile::tempdir().expect("temp dir");
        match backend {
            Backend::Sqlite => TestDatabase {
                url: dir.path().join("confab.db").display().to_string(),
                _dir: dir,
                #[cfg(feature = "postgres")]
                _postgres: None,
            },
            #[cfg(feature = "postgres")]
            Backend::Postgres => {
                let postgres = ScratchPostgres::create()
                    .expect("a test on PostgreSQL runs only when CONFAB_TEST_POSTGRES_URL is set");
                TestDatabase {
                    url: postgres.url.clone(),
                    _dir: dir,
                    _postgres: Some(postgres),
                }
            }
            #[cfg(not(feature = "postgres"))]
            Backend::Postgres => panic!("this build has no PostgreSQL (the `postgres` feature)"),
        }
    }
}

/// A new, empty database on the test PostgreSQL server, dropped again when
/// this value is (even if the test failed), so tests run side by side.
#[cfg(feature = "postgres")]
pub struct ScratchPostgres {
    /// The URL of the new database.
    pub url: String,
    server_url: String,
    name: String,
}

#[cfg(feature = "postgres")]
impl ScratchPostgres {
    /// Creates `confab_test_<random>` on the server [`postgres_url`] names;
    /// `None` when the tests skip. A server that is named but cannot be
    /// reached is a failure, not a skip.
    pub fn create() -> Option<ScratchPostgres> {
        use diesel::{Connection, RunQueryDsl};
        let server_url = postgres_url()?;
        let mut conn = diesel::PgConnection::establish(&server_url).unwrap_or_else(|e| {
            panic!("cannot reach the PostgreSQL at CONFAB_TEST_POSTGRES_URL={server_url}: {e}")
        });
        let name = format!("confab_test_{}", unique_suffix());
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .unwrap_or_else(|e| panic!("cannot create the test database {name}: {e}"));
        Some(ScratchPostgres {
            url: with_database(&server_url, &name),
            server_url,
            name,
        })
    }
}

#[cfg(feature = "postgres")]
impl Drop for ScratchPostgres {
    fn drop(&mut self) {
        use diesel::{Connection, RunQueryDsl};
        // Best effort: FORCE ends the connections the test's servers still
        // hold. A database left behind is only litter, named confab_test_*.
        let dropped = diesel::PgConnection::establish(&self.server_url)
            .map_err(|e| e.to_string())
            .and_then(|mut conn| {
                diesel::sql_query(format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    self.name
                ))
                .execute(&mut conn)
                .map_err(|e| e.to_string())
            });
        if let Err(e) = dropped {
            eprintln!("could not drop the test database {}: {e}", self.name);
        }
    }
}

/// `url` (`postgres://user@host:port/db?options`) with its database
/// replaced by `name`.
#[cfg(feature = "postgres")]
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[authority_start..]
        .find('/')
        .map_or(base.len(), |i| authority_start + i);
    format!("{}/{name}{query}", &base[..path_start])
}

/// An HTTP client with its own cookie jar, like one browser profile.
pub struct Browser {
    pub http: reqwest::Client,
    jar: Arc<Jar>,
    base: String,
    pub username: String,
}

impl Browser {
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("GET")
    }

    pub async fn text(&self, path: &str) -> String {
        self.get(path).await.text().await.expect("body")
    }

    /// The CSRF token from the form on `path`.
    pub async fn csrf_token(&self, path: &str) -> String {
        let page = self.text(path).await;
        csrf_from(&page).unwrap_or_else(|| panic!("no csrf_token on {path}"))
    }

    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.base))
            .form(fields)
            .send()
            .await
            .expect("POST")
    }

    pub async fn signup(&self, username: &str, password: &str) -> reqwest::Response {
        let token = self.csrf_token("/accounts/signup/").await;
        self.post_form(
            "/accounts/signup/",
            &[
                ("csrf_token", &token),
                ("username", username),
                ("password", password),
                ("password2", password),
                ("next", "/chat/"),
            ],
        )
        .await
    }

    pub async fn login(&self, username: &str, password: &str, next: &str) -> reqwest::Response {
        let token = self.csrf_token("/accounts/login/").await;
        self.post_form(
            "/accounts/login/",
            &[
                ("csrf_token", &token),
                ("username", username),
                ("password", password),
                ("next", next),
            ],
        )
        .await
    }

    /// Another client holding a copy of this one's cookies, as someone who
    /// copied them would replay them.
    pub fn replay_cookies(&self) -> Browser {
        let jar = Arc::new(Jar::default());
        let url: reqwest::Url = self.base.parse().expect("the server's URL");
        if let Some(cookies) = self.jar.cookies(&url) {
            for cookie in cookies.to_str().expect("ASCII cookies").split("; ") {
                jar.add_cookie_str(cookie, &url);
            }
        }
        Browser::with_jar(jar, self.base.clone(), self.username.clone())
    }

    /// A client on `jar` that does not follow redirects.
    fn with_jar(jar: Arc<Jar>, base: String, username: String) -> Browser {
        let http = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("http client");
        Browser {
            http,
            jar,
            base,
            username,
        }
    }

    pub fn cookie_header(&self) -> Option<HeaderValue> {
        let url = self.base.parse().ok()?;
        let value = self.jar.cookies(&url)?;
        HeaderValue::from_bytes(value.as_bytes()).ok()
    }
}

/// Finds `name="csrf_token" value="…"` in a page.
pub fn csrf_from(page: &str) -> Option<String> {
    let marker = "name=\"csrf_token\" value=\"";
    let start = page.find(marker)? + marker.len();
    let end = page[start..].find('"')? + start;
    Some(page[start..end].to_owned())
}

/// A WebSocket client speaking JSON frames.
pub struct Ws {
    inner: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Ws {
    pub async fn send_text(&mut self, text: &str) {
        self.inner
            .send(Message::text(text))
            .await
            .expect("send frame");
    }

    pub async fn send_json(&mut self, frame: Value) {
        self.send_text(&frame.to_string()).await;
    }

    /// Sends several frames in one write, so the server reads them together.
    pub async fn send_together(&mut self, frames: &[Value]) {
        for frame in frames {
            self.inner
                .feed(Message::text(frame.to_string()))
                .await
                .expect("queue frame");
        }
        self.inner.flush().await.expect("send frames");
    }

    pub async fn send_raw(&mut self, message: Message) {
        self.inner.send(message).await.expect("send frame");
    }

    /// Posts a chat message with the typed frame.
    pub async fn say(&mut self, text: &str) {
        self.send_json(json!({"type": "chat_message", "message": text}))
            .await;
    }

    /// The next frame from the server, whatever it is; panics on close.
    pub async fn recv(&mut self) -> Value {
        match self.next_event().await {
            Event::Frame(v) => v,
            Event::Closed(reason) => panic!("socket closed: {reason:?}"),
        }
    }

    /// The next JSON frame, or how the socket closed.
    pub async fn next_event(&mut self) -> Event {
        // One deadline for the whole wait: pings must not extend it.
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let next = tokio::time::timeout_at(deadline, self.inner.next())
                .await
                .expect("a frame arrives in time");
            match next {
                Some(Ok(Message::Text(text))) => {
                    return Event::Frame(serde_json::from_str(&text).expect("server sends JSON"));
                }
                Some(Ok(Message::Close(frame))) => {
                    return Event::Closed(frame.map(|f| (u16::from(f.code), f.reason.to_string())));
                }
                Some(Ok(_)) => continue, // ping/pong
                Some(Err(_)) | None => return Event::Closed(None),
            }
        }
    }

    /// How the socket closes within `limit`, frames before it skipped;
    /// `None` if it is still open then.
    pub async fn closes_within(&mut self, limit: Duration) -> Option<Option<(u16, String)>> {
        tokio::time::timeout(limit, async {
            loop {
                if let Event::Closed(close) = self.next_event().await {
                    return close;
                }
            }
        })
        .await
        .ok()
    }

    /// Skips frames until one of type `kind` arrives.
    pub async fn next_of(&mut self, kind: &str) -> Value {
        loop {
            let frame = self.recv().await;
            if frame["type"] == kind {
                return frame;
            }
        }
    }

    /// The next frame, which must be of type `kind`.
    pub async fn expect(&mut self, kind: &str) -> Value {
        let frame = self.recv().await;
        assert_eq!(frame["type"], kind, "expected {kind}, got {frame}");
        frame
    }

    /// The next frame, which must be an error that explains itself; its code.
    pub async fn error_code(&mut self) -> String {
        let frame = self.expect("error").await;
        assert!(
            frame["message"].as_str().is_some_and(|m| !m.is_empty()),
            "errors explain themselves: {frame}"
        );
        frame["code"].as_str().unwrap().to_owned()
    }

    /// Reads the join burst (history then `user_list`) and returns both.
    pub async fn joined(&mut self) -> (Vec<Value>, Vec<String>) {
        let mut history = Vec::new();
        loop {
            let frame = self.recv().await;
            match frame["type"].as_str() {
                Some("chat_message") => {
                    assert_eq!(frame["history"], true, "history is marked: {frame}");
                    history.push(frame);
                }
                // A modern socket's rules and standing, before user_list.
                Some("room_state" | "standing") => {}
                Some("user_list") => {
                    let users = frame["users"]
                        .as_array()
                        .expect("users array")
                        .iter()
                        .map(|u| u.as_str().expect("username").to_owned())
                        .collect();
                    return (history, users);
                }
                _ => panic!("unexpected frame while joining: {frame}"),
            }
        }
    }

    /// Asserts nothing but pings arrives for `quiet`.
    pub async fn expect_nothing_for(&mut self, quiet: Duration) {
        let deadline = tokio::time::Instant::now() + quiet;
        loop {
            match tokio::time::timeout_at(deadline, self.inner.next()).await {
                Err(_) => return,
                Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
                Ok(other) => panic!("expected silence, got {other:?}"),
            }
        }
    }

    pub async fn close(mut self) {
        let _ = self.inner.close(None).await;
        // Drain until the server's close arrives, so the server has seen it.
        while let Ok(Some(Ok(_))) = tokio::time::timeout(PATIENCE, self.inner.next()).await {}
    }
}

/// What reading a socket produced.
#[derive(Debug)]
pub enum Event {
    Frame(Value),
    Closed(Option<(u16, String)>),
}
