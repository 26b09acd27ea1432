//! Builds a running server from [`Settings`]: database, actors, HTTP.
//!
//! Everything shared is built here once and handed to handlers as
//! `web::Data`. [`Application::build`] binds the port before returning, so
//! tests can ask for port 0 and read back the one they got.

use crate::actors::bus::{Bus, LocalBus};
use crate::actors::redis_bridge::{BridgeError, BusKey, RedisBus};
use crate::actors::registry::{AttachSweep, CloseAll, Registry};
use crate::actors::session::SessionsShared;
use crate::actors::sweep::SessionSweep;
use crate::config::Settings;
use crate::db::{Database, DbError};
use crate::domain::LoginLifetime;
use crate::http::client::client_addr_of;
use crate::http::cookie_key::{CookieKey, KeyError};
use crate::http::hardening;
use crate::http::health::{self, MetricsAt};
use crate::http::throttle::AccountThrottles;
use crate::http::{self, Templates, error::render_error_page};
use crate::moderation::{Limits, Moderation};
use crate::passwords::PasswordHashing;
use actix::{Actor, Addr};
use actix_session::SessionMiddleware;
use actix_session::config::{CookieContentSecurity, PersistentSession};
use actix_session::storage::CookieSessionStore;
use actix_web::cookie::{Key, SameSite, time};
use actix_web::dev::{Server, ServerHandle};
use actix_web::http::KeepAlive;
use actix_web::middleware::{DefaultHeaders, ErrorHandlers, Logger, from_fn};
use actix_web::{App, HttpServer, web};
use std::net::{SocketAddr, TcpListener};

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
    /// There is no usable cookie key.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// What went wrong.
        source: std::io::Error,
    },
}

/// How long browsers keep the session cookie: the most they allow. When a
/// session ends is the server's decision (`auth.rs`).
const COOKIE_TTL: time::Duration = time::Duration::days(400);

/// Strict-Transport-Security when `CONFAB_SECURE_COOKIES` is on.
const HSTS: &str = "max-age=31536000";

/// Content-Security-Policy of every response: our own scripts, styles and
/// sockets only, so injected markup could not run even if it got through.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
                   img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; \
                   base-uri 'none'; form-action 'self'";

/// A bound, not yet running, confab server.
pub struct Application {
    port: u16,
    metrics_port: Option<u16>,
    server: Server,
    registry: Addr<Registry>,
    moderation: Moderation,
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
        let db = Database::connect_with(
            &settings.database_url,
            settings.db_pool_size,
            settings.db_timeout,
        )?;
        let key = key.or_generate()?;
        let templates = web::Data::new(Templates::load()?);
        let bus: Bus = match &settings.redis_url {
            Some(url) => {
                log::info!(
                    "scale-out: rooms are shared through Redis at {}",
                    crate::actors::redis_bridge::redacted(url)
                );
                let bus_key = BusKey::derive(key.master(), settings.max_bus_event());
                RedisBus::start(
                    url,
                    settings.redis_ca_file.as_deref(),
                    &settings.redis_prefix,
                    settings.presence_ttl,
                    bus_key,
                )?
            }
            None => LocalBus::shared(),
        };
        let registry = Registry::new(db.clone(), bus.clone()).start();
        let sweep = SessionSweep::new(
            db.clone(),
            registry.clone(),
            LoginLifetime::new(settings.session_idle),
            settings.session_sweep,
        )
        .start();
        // Moderation news reaches the sweep through the registry.
        registry.do_send(AttachSweep(sweep.recipient()));
        let registry_for_stop = registry.clone();
        let (listener, local) = bind(settings.bind)?;
        let metrics = settings.metrics_bind.map(bind).transpose()?;
        let listeners = Listeners {
            public: listener,
            metrics_at: metrics.as_ref().map(|(_, at)| *at),
            metrics: metrics.map(|(listener, _)| listener),
        };
        let metrics_port = listeners.metrics_at.map(|at| at.port());
        let moderation = Moderation::new(db.clone(), bus.clone(), Limits::from_settings(&settings));
        let services = Services {
            bus,
            registry,
            moderation: moderation.clone(),
        };
        let server = serve(listeners, settings, db, services, templates, key)?;
        Ok(Application {
            port: local.port(),
            metrics_port,
            server,
            registry: registry_for_stop,
            moderation,
        })
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port of the separate `/metrics` listener, if there is one.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics_port
    }

    /// The moderation service this server's handlers use: for what runs
    /// beside the server in the same process (the tests act through it, as
    /// the console does).
    pub fn moderation(&self) -> Moderation {
        self.moderation.clone()
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

/// Binds `addr`, and says where it bound (port 0 picks one).
fn bind(addr: SocketAddr) -> Result<(TcpListener, SocketAddr), StartupError> {
    let bound = || {
        let listener = TcpListener::bind(addr)?;
        let local = listener.local_addr()?;
        Ok((listener, local))
    };
    bound().map_err(|source| StartupError::Bind { addr, source })
}

/// Where the server listens: the public address, and `/metrics`'s own when
/// `CONFAB_METRICS_BIND` is set.
struct Listeners {
    public: TcpListener,
    metrics: Option<TcpListener>,
    metrics_at: Option<SocketAddr>,
}

/// What start-up built that the handlers share, besides the database and
/// the settings.
struct Services {
    bus: Bus,
    registry: Addr<Registry>,
    moderation: Moderation,
}

fn serve(
    listeners: Listeners,
    settings: Settings,
    db: Database,
    services: Services,
    templates: web::Data<Templates>,
    key: Key,
) -> Result<Server, StartupError> {
    let Services {
        bus,
        registry,
        moderation,
    } = services;
    let addr = settings.bind;
    let workers = settings.workers;
    let send_timeout = settings.client_timeout;
    let db = web::Data::new(db);
    let registry = web::Data::new(registry);
    let bus = web::Data::new(bus);
    let settings = web::Data::new(settings);
    let passwords = web::Data::new(PasswordHashing::per_core(settings.hash_queue));
    let throttles = web::Data::new(AccountThrottles::new(
        settings.login_failures_per_account,
        settings.login_failures_per_address,
        settings.signups_per_hour,
    ));
    let metrics_at = web::Data::new(MetricsAt(listeners.metrics_at));
    let sockets = web::Data::new(SessionsShared::new(registry.get_ref().clone(), &settings));
    let moderation = web::Data::new(moderation);
    let mut server = HttpServer::new(move || {
        let sessions = SessionMiddleware::builder(CookieSessionStore::default(), key.clone())
            .cookie_name("confab_session".to_owned())
            .cookie_http_only(true)
            .cookie_same_site(SameSite::Lax)
            .cookie_secure(settings.secure_cookies)
            .cookie_content_security(CookieContentSecurity::Private)
            // The server decides when a session is over (its `sessions`
            // row and CONFAB_SESSION_IDLE_SECS); the browser keeps the
            // cookie as long as browsers keep any (400 days), since an open
            // page's socket keeps a session in use without a request that
            // could renew a shorter cookie.
            .session_lifecycle(PersistentSession::default().session_ttl(COOKIE_TTL))
            .build();
        let mut headers = DefaultHeaders::new()
            .add(("Content-Security-Policy", CSP))
            .add(("X-Content-Type-Options", "nosniff"))
            .add(("Referrer-Policy", "same-origin"));
        if settings.secure_cookies {
            // Served over HTTPS (that is what secure cookies say): browsers
            // are told to use nothing else for a year.
            headers = headers.add(("Strict-Transport-Security", HSTS));
        }
        App::new()
            .wrap(ErrorHandlers::new().default_handler(render_error_page))
            .wrap(sessions)
            .wrap(headers)
            .wrap(from_fn(health::metrics_only_where_configured))
            .wrap(from_fn(hardening::refuse_transfer_encoding))
            .wrap(access_log(settings.trusted_proxies.clone()))
            .app_data(db.clone())
            .app_data(registry.clone())
            .app_data(bus.clone())
            .app_data(templates.clone())
            .app_data(settings.clone())
            .app_data(passwords.clone())
            .app_data(throttles.clone())
            .app_data(sockets.clone())
            .app_data(moderation.clone())
            .app_data(metrics_at.clone())
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
    // Every connection ends with its response (WebSockets are one long
    // response), and a request head must arrive within 5 s: the locked
    // actix-http can be made to hold a keep-alive connection open
    // (http/hardening.rs).
    .keep_alive(KeepAlive::Disabled)
    .client_request_timeout(hardening::REQUEST_HEAD_TIMEOUT)
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
    server = server
        .listen(listeners.public)
        .map_err(|source| StartupError::Bind { addr, source })?;
    if let (Some(listener), Some(at)) = (listeners.metrics, listeners.metrics_at) {
        server = server
            .listen(listener)
            .map_err(|source| StartupError::Bind { addr: at, source })?;
    }
    Ok(server.run())
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

/// The access log: one line per request with the client's address (the
/// one a trusted proxy names, else the peer's), status, request line and
/// time taken. `/healthz` is left out: probes would drown the rest.
fn access_log(trusted_proxies: Vec<ipnet::IpNet>) -> Logger {
    Logger::new("%{client}xi %s %r %Dms")
        .custom_request_replace("client", move |req| {
            client_addr_of(req.peer_addr(), req.headers(), &trusted_proxies)
                .map_or_else(|| "-".to_owned(), |ip| ip.to_string())
        })
        .exclude("/healthz")
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

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(database_url: &str) -> Settings {
        Settings::on_database(database_url)
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
            matches!(err, Some(StartupError::Key(KeyError::BadKeyFile { .. }))),
            "{err:?}"
        );
        assert!(!database.exists(), "no database was created");
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
            matches!(err, Some(StartupError::Key(KeyError::SecretKeyRequired))),
            "{err:?}"
        );
    }
}
