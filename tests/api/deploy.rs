//! The shipped scale-out deployment, with real processes only: two `confab`
//! processes (the built binary) on one database (a scratch PostgreSQL one
//! when `CONFAB_TEST_POSTGRES_URL` is set, always in CI; else a SQLite
//! file), one Redis and one cookie key, behind a real nginx running
//! `deploy/nginx.conf`. The test talks to nginx alone, as browsers would:
//! accounts, pages and sockets go through plain round robin, and a room
//! spans both instances.
//!
//! One instance is SIGKILLed in the middle of a conversation: every socket
//! keeps posting throughout, the sockets the kill closes reconnect through
//! nginx with `?after=ID` and carry on, and in the end every socket has had
//! every message stored in the room since it joined, each once, with
//! nothing delivered live twice.
//!
//! nginx runs the shipped file with only its site-specific lines rewritten
//! (see [`local_nginx_conf`]), so a change there that breaks WebSockets,
//! the Host header or failover fails this test.
//!
//! Needs `CONFAB_TEST_REDIS_URL` (e.g. `redis://127.0.0.1:6379/`) and an
//! `nginx` binary; without either it says why and passes, except under
//! `CI=true`, where that is a failure.

use crate::common::{
    Event, PATIENCE, TestDatabase, backend_for_several_instances, csrf_from, free_port, missing,
    redis_url, unique_suffix,
};
use futures_util::future::join_all;
use futures_util::{SinkExt, StreamExt};
use reqwest::cookie::{CookieStore, Jar};
use serde_json::{Value, json};
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet, HashSet};
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

/// Posts every socket gets echoed before the kill, and again after it: the
/// kill falls in the middle of the conversation.
const POSTS_EACH_SIDE: usize = 5;

/// A sender's pause between seeing its post echoed and posting the next:
/// short, so that a socket nearly always has a post in flight.
const POST_GAP: Duration = Duration::from_millis(2);

/// How long each part of the conversation may take. It bounds a hang on a
/// loaded machine; it is not a performance claim.
const PHASE_LIMIT: Duration = Duration::from_secs(60);

#[tokio::test]
async fn behind_nginx_a_backend_killed_mid_conversation_loses_no_message() {
    let Some(mut deployment) = Deployment::start().await else {
        return;
    };
    let alice = Person::sign_up(&deployment, "alice").await;
    let bob = Person::sign_up(&deployment, "bob").await;
    alice.visit("/chat/lobby/").await; // creates the room

    // Opened one after another, round robin spreads them over both
    // instances: alice's three and bob's three each land on both.
    let mut clients = Vec::new();
    for (n, person) in [&alice, &alice, &alice, &bob, &bob, &bob]
        .into_iter()
        .enumerate()
    {
        clients.push(Client::join(person, "lobby", n).await);
    }

    // Every socket posts, one post in flight at a time, until told to stop;
    // the conductor kills an instance halfway.
    let board = Board::new(clients.len());
    let conductor = async {
        // The kill comes while every socket has a post out, so the posts on
        // the dying instance are caught at whatever stage they are: not yet
        // read, stored but not yet published, or published but not echoed.
        board
            .wait_until(
                "every socket has posted, and has a post out, before the kill",
                |all| all.iter().all(|p| p.echoed >= POSTS_EACH_SIDE && p.pending),
            )
            .await;
        let before: Vec<usize> = board.progress().iter().map(|p| p.echoed).collect();
        deployment.kill_instance(0);
        board
            .wait_until("every socket has posted again since the kill", |all| {
                all.iter()
                    .zip(&before)
                    .all(|(p, before)| p.echoed >= before + POSTS_EACH_SIDE)
            })
            .await;
        board.talking.set(false);
        board
            .wait_until("every socket's last post is echoed or given up", |all| {
                all.iter().all(|p| !p.pending)
            })
            .await;
        let log = Arc::new(stored_log(&deployment.database.url, "lobby"));
        *board.log.borrow_mut() = Some(log.clone());
        log
    };
    let (log, records) = tokio::join!(
        conductor,
        join_all(clients.into_iter().map(|client| client.converse(&board)))
    );

    // What is stored is what the sockets posted, each post at most once.
    let attempts: HashSet<(&str, &str)> = records
        .iter()
        .flat_map(|r| r.attempts.iter().map(|t| (r.owner.as_str(), t.as_str())))
        .collect();
    let mut stored_texts = HashSet::new();
    for (id, (user, text)) in log.iter() {
        assert!(
            attempts.contains(&(user.as_str(), text.as_str())),
            "message {id} ({user}: {text:?}) was never posted"
        );
        assert!(stored_texts.insert(text), "{text:?} is stored twice");
    }

    for record in &records {
        // Every post its sender saw echoed is stored, as posted.
        for (id, text) in &record.echoed {
            assert_eq!(
                log.get(id),
                Some(&(record.owner.clone(), text.clone())),
                "{}: its echoed message {id} in the log",
                record.label
            );
        }
        // Live and caught up together, each socket has exactly the log
        // since it joined: nothing missing, nothing that is not stored.
        let floor = record.joined_after.unwrap_or(i64::MIN);
        let expected: BTreeSet<i64> = log.range(floor..).map(|(id, _)| *id).collect();
        let got: BTreeSet<i64> = record.seen.range(floor..).copied().collect();
        assert_eq!(
            got,
            expected,
            "{}: missing {:?}, not stored {:?}",
            record.label,
            expected
                .difference(&got)
                .map(|id| (id, &log[id]))
                .collect::<Vec<_>>(),
            got.difference(&expected).collect::<Vec<_>>()
        );
        assert!(
            record.live_twice.is_empty(),
            "{} had these delivered live twice: {:?}",
            record.label,
            record.live_twice
        );
        // The kill ends a socket without a close frame; nothing else ends one.
        assert!(
            record.closes.len() <= 1 && record.closes.iter().all(Option::is_none),
            "{} was closed: {:?}",
            record.label,
            record.closes
        );
    }
    let reconnected = records.iter().filter(|r| !r.closes.is_empty()).count();
    assert!(
        0 < reconnected && reconnected < records.len(),
        "round robin should have put the {} sockets on both instances, but killing one \
         closed {reconnected} of them",
        records.len()
    );
    eprintln!(
        "{} messages stored; {reconnected} of {} sockets reconnected; of the posts in \
         flight on their sockets, {} came back in the catch-up and {} never arrived",
        log.len(),
        records.len(),
        records.iter().map(|r| r.echoed_in_catch_up).sum::<usize>(),
        records.iter().map(|r| r.given_up).sum::<usize>()
    );
}

/// A room's messages by id, each with its author and text.
type Log = BTreeMap<i64, (String, String)>;

/// The room's whole log as the database holds it, read through the library
/// (as the server reads it): every message that was not deleted, by id,
/// with its author and text.
fn stored_log(database_url: &str, room: &str) -> Log {
    use confab::db::Database;
    use confab::db::queries::rooms;
    use confab::db::schema::{messages, users};
    use diesel::prelude::*;
    let database = Database::connect(database_url, 1).expect("open the deployment's database");
    database
        .run_here(|conn| {
            let room = rooms::by_name(conn, room)?.expect("the room exists");
            Ok(messages::table
                .inner_join(users::table)
                .filter(messages::room_id.eq(room.id))
                .filter(messages::deleted_at.is_null())
                .order(messages::id.asc())
                .select((messages::id, users::username, messages::content))
                .load::<(i64, String, String)>(conn)?)
        })
        .expect("read the room's log")
        .into_iter()
        .map(|(id, user, text)| (id, (user, text)))
        .collect()
}

/// What the conductor and the sockets share. They all run on the test's
/// one task, so plain cells do.
struct Board {
    /// The sockets post; once false, each only waits for the echo of its
    /// last post.
    talking: Cell<bool>,
    progress: RefCell<Vec<Progress>>,
    /// The room's log, once read: each socket reads on until it has all of
    /// it since it joined.
    log: RefCell<Option<Arc<Log>>>,
}

/// How far one socket is.
#[derive(Clone, Copy, Default)]
struct Progress {
    /// Its posts it has seen echoed.
    echoed: usize,
    /// It has a post waiting for its echo.
    pending: bool,
}

impl Board {
    fn new(sockets: usize) -> Board {
        Board {
            talking: Cell::new(true),
            progress: RefCell::new(vec![Progress::default(); sockets]),
            log: RefCell::new(None),
        }
    }

    fn progress(&self) -> Vec<Progress> {
        self.progress.borrow().clone()
    }

    /// Waits until `done` holds for the sockets' progress, for at most
    /// [`PHASE_LIMIT`].
    async fn wait_until(&self, what: &str, done: impl Fn(&[Progress]) -> bool) {
        let deadline = Instant::now() + PHASE_LIMIT;
        while !done(&self.progress.borrow()) {
            assert!(
                Instant::now() < deadline,
                "not in time: {what} (posts echoed: {:?})",
                self.progress().iter().map(|p| p.echoed).collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// One chat socket of the conversation, as a careful client runs it: it
/// reconnects through nginx with `?after=` the highest id it has seen
/// whenever its socket closes, and skips ids it already has.
struct Client<'a> {
    person: &'a Person,
    room: &'static str,
    number: usize,
    socket: Socket,
    /// What it has sent, seen and been through so far.
    record: Record,
    /// Its post waiting for the echo, and since when.
    pending: Option<(String, Instant)>,
    /// When it may post again: a moment after the last echo.
    next_post: Instant,
}

/// What a [`Client`] has sent, seen and been through: what it ends with.
struct Record {
    label: String,
    owner: String,
    /// The lowest id in its first join's history, if there was any.
    joined_after: Option<i64>,
    /// Every message id it received, live or in a catch-up.
    seen: BTreeSet<i64>,
    /// Ids it received live when it already had them.
    live_twice: Vec<i64>,
    /// The text of every post it sent.
    attempts: Vec<String>,
    /// The posts it saw come back, with their ids.
    echoed: Vec<(i64, String)>,
    /// Posts in flight when its socket died that came back in the catch-up.
    echoed_in_catch_up: usize,
    /// Posts in flight when its socket died that never came back.
    given_up: usize,
    /// How each of its sockets ended, but the last.
    closes: Vec<Option<(u16, String)>>,
}

impl<'a> Client<'a> {
    /// Opens `person`'s socket number `number` to `room` and reads its join
    /// burst.
    async fn join(person: &'a Person, room: &'static str, number: usize) -> Client<'a> {
        let socket = person.open(room, None, number).await;
        let mut client = Client {
            person,
            room,
            number,
            record: Record {
                label: socket.label.clone(),
                owner: person.name.clone(),
                joined_after: None,
                seen: BTreeSet::new(),
                live_twice: Vec::new(),
                attempts: Vec::new(),
                echoed: Vec::new(),
                echoed_in_catch_up: 0,
                given_up: 0,
                closes: Vec::new(),
            },
            socket,
            pending: None,
            next_post: Instant::now(),
        };
        loop {
            let frame = client.socket.next_frame().await;
            match frame["type"].as_str() {
                Some("chat_message") => {
                    assert_eq!(frame["history"], true, "{}: {frame}", client.record.label);
                    let id = client.note(&frame);
                    let first = client.record.joined_after;
                    client.record.joined_after = Some(first.map_or(id, |f| f.min(id)));
                }
                Some("user_list") => return client,
                _ => panic!(
                    "{}: unexpected frame while joining: {frame}",
                    client.record.label
                ),
            }
        }
    }

    /// Posts, reads and reconnects as the board says, until it has every
    /// stored message (or [`PATIENCE`] after the log was read: the
    /// assertions then say what is missing).
    async fn converse(mut self, board: &Board) -> Record {
        let mut check_until = None;
        loop {
            if board.talking.get() && self.pending.is_none() && Instant::now() >= self.next_post {
                self.post().await;
            }
            board.progress.borrow_mut()[self.number] = Progress {
                echoed: self.record.echoed.len(),
                pending: self.pending.is_some(),
            };
            if let Some(log) = board.log.borrow().clone() {
                let until = *check_until.get_or_insert(Instant::now() + PATIENCE);
                let floor = self.record.joined_after.unwrap_or(i64::MIN);
                let complete = log
                    .range(floor..)
                    .all(|(id, _)| self.record.seen.contains(id));
                if complete || Instant::now() > until {
                    break;
                }
            }
            match self.socket.next_event_within(POST_GAP).await {
                None => {}
                Some(Event::Frame(frame)) => self.on_live_frame(&frame),
                Some(Event::Closed(how)) => self.reconnect(how).await,
            }
            if let Some((text, since)) = &self.pending {
                assert!(
                    since.elapsed() < PATIENCE,
                    "{}: its post {text:?} never came back; it has {} messages, up to id {}, \
                     and lacks {:?} below that",
                    self.record.label,
                    self.record.seen.len(),
                    self.highest(),
                    (self.record.joined_after.unwrap_or(1)..self.highest())
                        .filter(|id| !self.record.seen.contains(id))
                        .collect::<Vec<_>>()
                );
            }
        }
        self.record
    }

    /// The highest message id it has seen (0 before any): where a
    /// reconnect resumes.
    fn highest(&self) -> i64 {
        self.record.seen.last().copied().unwrap_or(0)
    }

    async fn post(&mut self) {
        let text = format!("{} post {}", self.record.label, self.record.attempts.len());
        self.record.attempts.push(text.clone());
        self.pending = Some((text.clone(), Instant::now()));
        if self.socket.try_say(&text).await.is_err() {
            // Gone already: the post never left, and reading says how.
            let how = match self.socket.next_event_within(PATIENCE).await {
                Some(Event::Closed(how)) => how,
                _ => None,
            };
            self.reconnect(how).await;
        }
    }

    /// Takes in a chat message: its id is seen, and it may be the echo of
    /// the pending post. Returns the id.
    fn note(&mut self, frame: &Value) -> i64 {
        let id = frame["id"].as_i64().expect("message id");
        self.record.seen.insert(id);
        let echo = self.pending.as_ref().is_some_and(|(text, _)| {
            frame["message"] == text.as_str() && frame["user"] == self.person.name.as_str()
        });
        if echo {
            let (text, _) = self.pending.take().unwrap();
            self.record.echoed.push((id, text));
            self.next_post = Instant::now() + POST_GAP;
        }
        id
    }

    /// Handles a frame outside the join burst.
    fn on_live_frame(&mut self, frame: &Value) {
        match frame["type"].as_str() {
            Some("chat_message") => {
                assert_ne!(frame["history"], true, "{}: {frame}", self.record.label);
                let id = frame["id"].as_i64().expect("message id");
                if self.record.seen.contains(&id) {
                    self.record.live_twice.push(id);
                }
                self.note(frame);
            }
            // Presence changes as sockets close and reconnect.
            Some("user_join" | "user_leave") => {}
            _ => panic!("{}: unexpected frame: {frame}", self.record.label),
        }
    }

    /// Reconnects through nginx after `highest` and reads the catch-up:
    /// messages (skipping those it has), `resumed`, then `user_list`. A post
    /// still pending after that never reached the database.
    async fn reconnect(&mut self, how: Option<(u16, String)>) {
        self.record.closes.push(how);
        let after = self.highest();
        let deadline = Instant::now() + PATIENCE;
        self.socket = loop {
            // nginx passes over the dead instance, so the first try should
            // do; a browser tries again after a refusal, and so does this.
            match self
                .person
                .try_open(self.room, Some(after), self.number)
                .await
            {
                Ok(socket) => break socket,
                Err(e) if Instant::now() < deadline => {
                    eprintln!(
                        "{}: reconnecting failed ({e}); trying again",
                        self.record.label
                    );
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("{}: cannot reconnect through nginx: {e}", self.record.label),
            }
        };
        loop {
            let frame = self.socket.next_frame().await;
            match frame["type"].as_str() {
                Some("chat_message") => {
                    assert_eq!(frame["history"], true, "{}: {frame}", self.record.label);
                    let echoes = self.record.echoed.len();
                    self.note(&frame);
                    self.record.echoed_in_catch_up += self.record.echoed.len() - echoes;
                }
                Some("resumed") => {
                    assert_eq!(
                        frame,
                        json!({"type": "resumed", "after": after, "has_more": false}),
                        "{}",
                        self.record.label
                    );
                    let list = self.socket.next_frame().await;
                    assert_eq!(list["type"], "user_list", "{}: {list}", self.record.label);
                    break;
                }
                _ => panic!(
                    "{}: unexpected frame while resuming: {frame}",
                    self.record.label
                ),
            }
        }
        if self.pending.take().is_some() {
            self.record.given_up += 1;
        }
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
    database: TestDatabase,
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
                .env_remove("CONFAB_ALLOWED_ORIGINS")
                // nginx is the proxy; as docs/deploy.md says to.
                .env("CONFAB_TRUSTED_PROXIES", "127.0.0.1")
                // Each person posts from several sockets at once, far
                // faster than a person would: the write allowance is not
                // what this test is about (limits.rs tests it).
                .env("CONFAB_WRITE_PER_SEC", "0");
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
            database,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
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
    /// nginx's address, which is also the origin of the pages it serves.
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
    async fn open(&self, room: &str, after: Option<i64>, number: usize) -> Socket {
        self.try_open(room, after, number)
            .await
            .unwrap_or_else(|e| panic!("{}'s socket #{number}: {e}", self.name))
    }

    /// [`open`](Self::open), or why the handshake failed.
    async fn try_open(
        &self,
        room: &str,
        after: Option<i64>,
        number: usize,
    ) -> Result<Socket, String> {
        let query = after.map(|id| format!("?after={id}")).unwrap_or_default();
        let url = format!("{}/ws/chat/{room}/{query}", self.base).replacen("http", "ws", 1);
        let mut request = url.into_client_request().unwrap();
        let cookies = self
            .jar
            .cookies(&self.base.parse().unwrap())
            .expect("signed in: a session cookie");
        let headers = request.headers_mut();
        headers.insert("Cookie", cookies);
        headers.insert("Origin", HeaderValue::from_str(&self.base).unwrap());
        let (ws, _) = tokio::time::timeout(PATIENCE, tokio_tungstenite::connect_async(request))
            .await
            .map_err(|_| "no handshake in time".to_owned())?
            .map_err(|e| format!("handshake through nginx refused: {e}"))?;
        Ok(Socket {
            ws,
            label: format!("{}#{number}", self.name),
        })
    }
}

/// A chat socket through nginx.
struct Socket {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    label: String,
}

impl Socket {
    /// Posts `text`; an error if the socket is gone.
    async fn try_say(&mut self, text: &str) -> Result<(), String> {
        let frame = json!({"type": "chat_message", "message": text}).to_string();
        self.ws
            .send(Message::text(frame))
            .await
            .map_err(|e| e.to_string())
    }

    /// The next JSON frame or how the socket ended, within [`PATIENCE`].
    async fn next_event(&mut self) -> Event {
        self.next_event_within(PATIENCE)
            .await
            .unwrap_or_else(|| panic!("{}: nothing arrived in time", self.label))
    }

    /// The next JSON frame or how the socket ended; `None` if neither
    /// within `wait`.
    async fn next_event_within(&mut self, wait: Duration) -> Option<Event> {
        let deadline = Instant::now() + wait;
        loop {
            // Reading a stream may be given up and taken up again: no frame
            // is lost when the wait ends first.
            let next = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .ok()?;
            return Some(match next {
                Some(Ok(Message::Text(text))) => {
                    Event::Frame(serde_json::from_str(&text).expect("server sends JSON"))
                }
                Some(Ok(Message::Close(frame))) => {
                    Event::Closed(frame.map(|f| (u16::from(f.code), f.reason.to_string())))
                }
                Some(Ok(_)) => continue, // ping, pong
                Some(Err(_)) | None => Event::Closed(None),
            });
        }
    }

    async fn next_frame(&mut self) -> Value {
        match self.next_event().await {
            Event::Frame(frame) => frame,
            Event::Closed(how) => panic!("{} closed: {how:?}", self.label),
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
