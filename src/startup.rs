//! Builds a running server from [`Settings`]: database, actors, HTTP.
//!
//! Everything shared is built here once and handed to handlers as
//! `web::Data`. [`Application::build`] binds the port before returning, so
//! tests can ask for port 0 and read back the one they got.

use crate::actors::bus::{Bus, LocalBus};
use crate::actors::redis_bridge::{BridgeError, RedisBus};
use crate::actors::registry::{CloseAll, Registry};
use crate::config::Settings;
use crate::db::{Backend, Database, DbError, sqlite_file};
use crate::http::{self, Templates, error::render_error_page};
use actix::{Actor, Addr};
use actix_session::SessionMiddleware;
use actix_session::config::{CookieContentSecurity, PersistentSession};
use actix_session::storage::CookieSessionStore;
use actix_web::cookie::{Key, SameSite, time};
use actix_web::dev::{Server, ServerHandle};
use actix_web::middleware::{DefaultHeaders, ErrorHandlers, Logger};
use actix_web::{App, HttpServer, web};
use std::net::TcpListener;
use std::path::{Path, PathBuf};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The database could not be opened or migrated.
    #[error(transparent)]
    Database(#[from] DbError),
    /// `REDIS_URL` is unusable.
    #[error(transparent)]
    Bus(#[from] BridgeError),
    /// A template does not parse (a bug in the build).
    #[error("templates: {0}")]
    Templates(#[from] tera::Error),
    /// The secret key file could not be read or written.
    #[error(
        "secret key file {path}: {source}; fix that, or set CONFAB_SECRET_KEY so that no file is needed"
    )]
    SecretKey {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// The secret key file holds no usable key.
    #[error(
        "secret key file {path} must hold a key of at least 32 bytes in hex (64 hex \
         digits, as `openssl rand -hex 32` prints): {reason}"
    )]
    BadKeyFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with what it holds.
        reason: String,
    },
    /// A database server is configured but no shared cookie key.
    #[error(
        "CONFAB_SECRET_KEY must be set when the database is a server: every instance \
         needs the same key (at least 32 bytes; e.g. `openssl rand -hex 32`)"
    )]
    SecretKeyRequired,
    /// The SQLite database is no file, so a generated key has no place.
    #[error(
        "CONFAB_SECRET_KEY must be set (at least 32 bytes; e.g. `openssl rand -hex 32`) \
         when DATABASE_URL names no SQLite file, as for an in-memory or temporary \
         database: there is no file to keep a generated key beside"
    )]
    NoKeyFile,
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// What went wrong.
        source: std::io::Error,
    },
}

/// Content-Security-Policy of every response: our own scripts, styles and
/// sockets only, so injected markup could not run even if it got through.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
                   img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; \
                   base-uri 'none'; form-action 'self'";

/// A bound, not yet running, confab server.
pub struct Application {
    port: u16,
    server: Server,
    registry: Addr<Registry>,
}

/// Stops a running server gracefully: every WebSocket is closed with
/// 1001 "going away" (so clients reconnect, to another instance if there is
/// one, and resume), then the HTTP server stops.
#[derive(Clone)]
pub struct StopHandle {
    server: ServerHandle,
    registry: Addr<Registry>,
}

impl StopHandle {
    /// Closes every socket, then stops accepting and finishes requests.
    /// Pages are served until the end (a load balancer's requests in flight
    /// still get answers); a socket opened after the goodbyes is closed
    /// with 1001 at once, since the registry lets no one in any more.
    pub async fn stop(&self) {
        if let Err(e) = self.registry.send(CloseAll).await {
            log::warn!("could not close the sockets: {e}");
        }
        self.server.stop(true).await;
    }
}

impl Application {
    /// Opens the database, starts the actors and binds the listener.
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        // The key first, so that a bad key file stops start-up before a
        // database is created or migrated; a missing one is generated only
        // once the database is open, when the directory it goes in exists.
        let key = CookieKey::find(&settings)?;
        let db = Database::connect(&settings.database_url, settings.db_pool_size)?;
        let key = key.or_generate()?;
        let templates = web::Data::new(Templates::load()?);
        let bus: Bus = match &settings.redis_url {
            Some(url) => {
                log::info!("scale-out: rooms are shared through Redis at {url}");
                RedisBus::start(url, &settings.redis_prefix, settings.presence_ttl)?
            }
            None => LocalBus::shared(),
        };
        let registry = Registry::new(db.clone(), bus.clone()).start();
        let registry_for_stop = registry.clone();
        let listener = TcpListener::bind(settings.bind).map_err(|source| StartupError::Bind {
            addr: settings.bind,
            source,
        })?;
        let port = listener
            .local_addr()
            .map_err(|source| StartupError::Bind {
                addr: settings.bind,
                source,
            })?
            .port();
        let server = serve(listener, settings, db, bus, registry, templates, key)?;
        Ok(Application {
            port,
            server,
            registry: registry_for_stop,
        })
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A handle to stop the server gracefully.
    pub fn handle(&self) -> StopHandle {
        StopHandle {
            server: self.server.handle(),
            registry: self.registry.clone(),
        }
    }

    /// Serves until the server is stopped by its handle, or by SIGTERM or
    /// SIGINT (Ctrl-C), which stop it gracefully.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let handle = self.handle();
        actix_web::rt::spawn(async move {
            shutdown_signal().await;
            log::info!("shutting down: closing sockets with 1001 so clients reconnect elsewhere");
            handle.stop().await;
        });
        self.server.await
    }
}

/// Makes every large allocation an mmap of its own, returned to the OS
/// when freed. Call it before any thread starts.
///
/// Each Argon2 hash allocates 19 MiB. glibc raises its mmap threshold once
/// the first such block is freed, so later ones come from per-thread arenas
/// and stay resident: 100 sign-ins left a server at about 700 MB. A fixed
/// threshold (which also turns off that adjustment) keeps it near its idle
/// size.
pub fn return_large_blocks_to_the_os() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only tunes the allocator, and no other thread is
    // running yet to race with it.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}

/// Resolves at the first SIGTERM or SIGINT.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(e) => {
                log::warn!("cannot listen for SIGTERM: {e}");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn serve(
    listener: TcpListener,
    settings: Settings,
    db: Database,
    bus: Bus,
    registry: Addr<Registry>,
    templates: web::Data<Templates>,
    key: Key,
) -> Result<Server, StartupError> {
    let addr = settings.bind;
    let workers = settings.workers;
    let send_timeout = settings.client_timeout;
    let db = web::Data::new(db);
    let registry = web::Data::new(registry);
    let bus = web::Data::new(bus);
    let settings = web::Data::new(settings);
    let passwords = web::Data::new(http::auth::PasswordHashing::per_core());
    let mut server = HttpServer::new(move || {
        let sessions = SessionMiddleware::builder(CookieSessionStore::default(), key.clone())
            .cookie_name("confab_session".to_owned())
            .cookie_http_only(true)
            .cookie_same_site(SameSite::Lax)
            .cookie_secure(settings.secure_cookies)
            .cookie_content_security(CookieContentSecurity::Private)
            .session_lifecycle(PersistentSession::default().session_ttl(time::Duration::days(14)))
            .build();
        App::new()
            .wrap(ErrorHandlers::new().default_handler(render_error_page))
            .wrap(sessions)
            .wrap(
                DefaultHeaders::new()
                    .add(("Content-Security-Policy", CSP))
                    .add(("X-Content-Type-Options", "nosniff"))
                    .add(("Referrer-Policy", "same-origin")),
            )
            .wrap(Logger::new("%s %r %Dms").exclude("/healthz"))
            .app_data(db.clone())
            .app_data(registry.clone())
            .app_data(bus.clone())
            .app_data(templates.clone())
            .app_data(settings.clone())
            .app_data(passwords.clone())
            .app_data(web::FormConfig::default().limit(16 * 1024))
            .configure(http::routes)
            .default_service(web::to(|| async {
                Err::<actix_web::HttpResponse, _>(http::AppError::NotFound(
                    "There is no page at this address.".into(),
                ))
            }))
    })
    // Chat frames are small and latency matters: write each at once
    // instead of waiting (Nagle) for the previous one's acknowledgement,
    // which costs a delayed ACK (40 ms on Linux) per frame.
    .tcp_nodelay(true)
    .on_connect(move |conn, _| limit_unread_sends(conn, send_timeout))
    .shutdown_timeout(10)
    // Signals are ours (see `shutdown_signal`): sockets close before the
    // server stops.
    .disable_signals();
    server = server.workers(if workers > 0 {
        workers
    } else {
        default_workers()
    });
    let server = server
        .listen(listener)
        .map_err(|source| StartupError::Bind { addr, source })?
        .run();
    Ok(server)
}

/// A client that stops reading fills its socket's buffers, and then the
/// server's writes (and that connection's heartbeat, which runs in the same
/// task) wait forever: no timer of the HTTP layer covers a stalled write.
/// The kernel's TCP user timeout does: data left unacknowledged (or unsent
/// behind a zero window) for `timeout` resets the connection, which ends
/// its session.
fn limit_unread_sends(conn: &dyn std::any::Any, timeout: std::time::Duration) {
    #[cfg(any(target_os = "linux", target_os = "android", target_os = "fuchsia"))]
    if let Some(tcp) = conn.downcast_ref::<actix_web::rt::net::TcpStream>()
        && let Err(e) = socket2::SockRef::from(tcp).set_tcp_user_timeout(Some(timeout))
    {
        log::debug!("cannot set TCP_USER_TIMEOUT: {e}");
    }
    #[cfg(not(any(target_os = "linux", target_os = "android", target_os = "fuchsia")))]
    let _ = (conn, timeout);
}

/// HTTP workers when `CONFAB_WORKERS` is 0: one per CPU core but one. Every
/// room actor, the registry and the Redis bridge run on the actor system's
/// own thread, which fans each event out to the sessions on the workers;
/// leaving it a core of its own measured far better than one worker per
/// core, whose threads took turns with it (BENCHMARKS.md: one room of 1,000
/// members on 2 cores at 418,000 deliveries/s, p99 54–78 ms with two workers
/// against 30–42 ms with one).
fn default_workers() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get().saturating_sub(1))
        .max(1)
}

/// Where a generated key is kept: beside the file SQLite opens, as
/// `<file>.secret`, whatever form of URL names it ([`sqlite_file`]). A
/// database server has no such place (and its instances must share one
/// key), nor has an in-memory database, so there the key must be configured.
fn key_path(settings: &Settings) -> Result<PathBuf, StartupError> {
    let (backend, target) = Backend::from_url(&settings.database_url);
    match backend {
        Backend::Sqlite => {
            let mut name = sqlite_file(&target)
                .ok_or(StartupError::NoKeyFile)?
                .into_os_string();
            name.push(".secret");
            Ok(PathBuf::from(name))
        }
        Backend::Postgres => Err(StartupError::SecretKeyRequired),
    }
}

/// The cookie key as start-up finds it, before the database is opened.
enum CookieKey {
    /// From `CONFAB_SECRET_KEY` or the key file.
    Found(Key),
    /// There is no key file yet: one is generated and saved here.
    ToGenerate(PathBuf),
}

impl CookieKey {
    /// The key from `CONFAB_SECRET_KEY`, else from the key file; writes
    /// nothing.
    fn find(settings: &Settings) -> Result<Self, StartupError> {
        if let Some(secret) = &settings.secret_key {
            // Length checked when the settings were read.
            return Ok(CookieKey::Found(Key::derive_from(secret.as_bytes())));
        }
        let path = key_path(settings)?;
        Ok(match read_key_file(&path)? {
            Some(key) => CookieKey::Found(key),
            None => CookieKey::ToGenerate(path),
        })
    }

    /// The key, freshly generated and saved if there was none, so sessions
    /// survive restarts. Called once the database is open: the key file's
    /// directory exists then, and no key is left beside a database that
    /// could not be opened.
    fn or_generate(self) -> Result<Key, StartupError> {
        let path = match self {
            CookieKey::Found(key) => return Ok(key),
            CookieKey::ToGenerate(path) => path,
        };
        let key = Key::generate();
        match write_private(&path, &hex::encode(key.master())) {
            Ok(()) => {
                log::warn!(
                    "CONFAB_SECRET_KEY is not set: generated a key and saved it to {} \
                     (set CONFAB_SECRET_KEY to share one key between instances)",
                    path.display()
                );
                Ok(Key::derive_from(key.master()))
            }
            // Another instance starting on the same new database saved its
            // key while this one opened the database: take that one.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                read_key_file(&path)?.ok_or(StartupError::SecretKey { path, source: e })
            }
            Err(source) => Err(StartupError::SecretKey { path, source }),
        }
    }
}

/// The key in the key file at `path`; `None` when there is no such file.
fn read_key_file(path: &Path) -> Result<Option<Key>, StartupError> {
    match std::fs::read(path) {
        Ok(contents) => key_from_file(path, &contents).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(StartupError::SecretKey {
            path: path.to_owned(),
            source,
        }),
    }
}

/// The key in a key file's `contents`: hex, at least 32 bytes, white space
/// around it ignored.
fn key_from_file(path: &Path, contents: &[u8]) -> Result<Key, StartupError> {
    let bad = |reason: String| StartupError::BadKeyFile {
        path: path.to_owned(),
        reason,
    };
    let bytes = hex::decode(contents.trim_ascii()).map_err(|e| bad(e.to_string()))?;
    if bytes.len() < 32 {
        return Err(bad(format!(
            "the key is shorter than 32 bytes ({} bytes)",
            bytes.len()
        )));
    }
    Ok(Key::derive_from(&bytes))
}

/// Writes `contents` to a new file at `path`, readable by its owner only,
/// all at once: it is written beside `path` first and then linked into
/// place, so another instance never reads a half-written key, and
/// `AlreadyExists` means some other instance's complete key is there.
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut draft = path.as_os_str().to_owned();
    draft.push(format!(".{:016x}.new", rand::random::<u64>()));
    let draft = PathBuf::from(draft);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let written = options
        .open(&draft)
        .and_then(|mut file| {
            file.write_all(contents.as_bytes())
                .and_then(|()| file.sync_all())
        })
        .and_then(|()| std::fs::hard_link(&draft, path));
    let _ = std::fs::remove_file(&draft);
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(database_url: &str) -> Settings {
        Settings {
            database_url: database_url.to_owned(),
            ..Settings::default()
        }
    }

    #[test]
    fn the_key_file_sits_beside_the_file_sqlite_opens() {
        for (url, key) in [
            ("confab.db", "confab.db.secret"),
            ("/data/confab.db", "/data/confab.db.secret"),
            ("sqlite:///data/confab.db", "/data/confab.db.secret"),
            ("file:confab.db", "confab.db.secret"),
            ("file:/data/confab.db?mode=rwc", "/data/confab.db.secret"),
            ("file:///data/confab.db?mode=rw#x", "/data/confab.db.secret"),
        ] {
            let path = key_path(&settings(url)).map_err(|e| e.to_string());
            assert_eq!(path, Ok(PathBuf::from(key)), "{url}");
        }
    }

    #[test]
    fn a_key_file_must_hold_at_least_32_bytes_of_hex() {
        let path = Path::new("/data/confab.db.secret");
        let key = hex::encode([7u8; 32]);
        assert!(key_from_file(path, format!("{key}\n").as_bytes()).is_ok());
        for (contents, says) in [
            (
                "not a hex key at all".to_owned(),
                "Invalid character 'n' at position 0",
            ),
            ("abc".to_owned(), "Odd number of digits"),
            (
                hex::encode([7u8; 31]),
                "the key is shorter than 32 bytes (31 bytes)",
            ),
            (String::new(), "the key is shorter than 32 bytes (0 bytes)"),
        ] {
            let err = key_from_file(path, contents.as_bytes())
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(
                err.starts_with(
                    "secret key file /data/confab.db.secret must hold a key of at least \
                     32 bytes in hex"
                ) && err.ends_with(says),
                "{contents:?}: {err}"
            );
        }
    }

    #[actix_web::test]
    async fn a_bad_key_file_stops_start_up_before_the_database_is_created() {
        let dir = tempfile::tempdir().expect("temp dir");
        let database = dir.path().join("confab.db");
        std::fs::write(dir.path().join("confab.db.secret"), "not a hex key at all")
            .expect("key file written");
        let err = Application::build(settings(&database.display().to_string()))
            .await
            .err();
        assert!(
            matches!(err, Some(StartupError::BadKeyFile { .. })),
            "{err:?}"
        );
        assert!(!database.exists(), "no database was created");
    }

    #[test]
    fn a_key_saved_meanwhile_by_another_instance_is_the_one_used() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("confab.db.secret");
        let theirs = [9u8; 64];
        std::fs::write(&path, hex::encode(theirs)).expect("key file written");
        let key = CookieKey::ToGenerate(path.clone())
            .or_generate()
            .expect("the saved key is taken");
        assert_eq!(key.master(), Key::derive_from(&theirs).master());
        assert_eq!(
            std::fs::read_to_string(&path).ok(),
            Some(hex::encode(theirs))
        );
    }

    #[actix_web::test]
    async fn a_database_that_cannot_be_opened_gets_no_key_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let missing = dir.path().join("missing");
        let url = missing.join("confab.db").display().to_string();
        let err = Application::build(settings(&url)).await.err();
        assert!(matches!(err, Some(StartupError::Database(_))), "{err:?}");
        assert!(!missing.exists(), "nothing was written");
    }

    #[actix_web::test]
    async fn a_database_server_without_a_key_is_refused_before_connecting() {
        // Nothing listens on port 1: connecting would fail differently.
        let err = Application::build(settings("postgres://127.0.0.1:1/confab"))
            .await
            .err();
        assert!(
            matches!(err, Some(StartupError::SecretKeyRequired)),
            "{err:?}"
        );
    }

    #[test]
    fn a_database_without_a_file_needs_a_configured_key() {
        for url in [
            ":memory:",
            "file::memory:?cache=shared",
            "file:x.db?mode=memory",
        ] {
            let err = key_path(&settings(url)).err();
            assert!(
                matches!(err, Some(StartupError::NoKeyFile)),
                "{url}: {err:?}"
            );
        }
        let err = key_path(&settings("postgres://db/confab")).err();
        assert!(
            matches!(err, Some(StartupError::SecretKeyRequired)),
            "{err:?}"
        );
    }
}
