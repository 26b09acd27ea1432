//! The database: connection pool, schema, row structs and queries.
//!
//! One Rust code path serves every backend: [`DbConnection`] is a diesel
//! `MultiConnection`, so each query in `queries/` is written once. The URL
//! picks the backend ([`Backend::from_url`]): `postgres://` (or
//! `postgresql://`) is PostgreSQL, anything else a SQLite file. Only the
//! migrations differ per backend (`migrations/<backend>/`, same versions);
//! they are embedded in the binary and applied at start-up, one starting
//! instance at a time.
//!
//! PostgreSQL needs the `postgres` Cargo feature (on by default); the code
//! for it is behind `#[cfg(feature = "postgres")]` in this module only.
//!
//! Diesel is synchronous, so every query runs on the blocking thread pool
//! through [`Database::run`]; actors and request handlers await it and never
//! block their own thread. Writes that are broadcast once stored (posts,
//! edits, deletions, reactions) go through [`Database::write`] instead: one
//! [writer](writer) thread per database commits them in batches, one
//! durable commit for many writes.
//!
//! When the database cannot be reached, nothing waits long for it: a pool
//! checkout gives up after the configured timeout, the writer refuses at
//! once, and [`DbError::is_unavailable`] tells those failures (and a full or
//! read-only disk) apart, so that clients are asked to retry rather than
//! told of an internal error.

pub mod models;
pub mod queries;
pub mod schema;
pub mod writer;

use diesel::connection::{Connection, SimpleConnection};
use diesel::r2d2::{ManageConnection, Pool, PooledConnection, R2D2Connection};
use diesel::sqlite::SqliteConnection;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use writer::Writer;

/// How long a client is asked to wait before retrying a write the database
/// could not take (`retry_after_ms` of `unavailable`).
pub const RETRY_UNAVAILABLE: Duration = Duration::from_secs(1);

/// A connection to whichever backend `DATABASE_URL` names.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    /// An embedded SQLite file (the default).
    Sqlite(SqliteConnection),
    /// A PostgreSQL server (`postgres://` URLs; the `postgres` feature).
    #[cfg(feature = "postgres")]
    Pg(diesel::PgConnection),
}

/// The SQLite migrations, applied by [`Database::connect`].
pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

/// The PostgreSQL migrations: the same versions as SQLite's, in PostgreSQL's
/// dialect.
#[cfg(feature = "postgres")]
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgresql");

/// The key of the PostgreSQL advisory lock that instances starting together
/// take turns on to apply migrations ("confabmg" in ASCII). Advisory locks
/// are per database, so deployments on other databases never wait for it.
#[cfg(feature = "postgres")]
const MIGRATION_LOCK_KEY: i64 = 0x636f_6e66_6162_6d67;

/// Everything that can go wrong talking to the database.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The database could not be opened or reached.
    #[error("cannot connect to the database: {0}")]
    Connect(diesel::ConnectionError),
    /// `DATABASE_URL` names PostgreSQL but this binary cannot speak it.
    #[error(
        "DATABASE_URL names a PostgreSQL database, but this confab was built without \
         PostgreSQL support (build it with the `postgres` feature, on by default)"
    )]
    PostgresNotBuilt,
    /// No connection could be had from the pool.
    #[error("no database connection available: {0}")]
    Pool(#[from] diesel::r2d2::PoolError),
    /// A row that must be unique already exists.
    #[error("already exists")]
    Conflict,
    /// The row asked for is not there.
    #[error("not found")]
    NotFound,
    /// Any other query failure.
    #[error("database query failed: {0}")]
    Query(diesel::result::Error),
    /// The migrations could not be applied.
    #[error("database migrations failed: {0}")]
    Migration(String),
    /// The blocking task running the query was cancelled (shutdown).
    #[error("the database task was cancelled")]
    Cancelled,
    /// The writer has lost the database and refuses writes until it answers
    /// again.
    #[error("the database cannot be reached; writes are refused until it answers")]
    Unavailable,
    /// The transaction this write was part of failed: nothing of it was
    /// stored. Shared by every write of the batch.
    #[error("the write was not committed: {0}")]
    NotCommitted(Arc<DbError>),
    /// The writer thread could not be started.
    #[error("cannot start the database writer: {0}")]
    Writer(String),
}

impl DbError {
    /// Whether this failure means the database cannot be reached or cannot
    /// write right now (and may again later): no connection to be had in
    /// time, a connection that broke, PostgreSQL shutting down or not
    /// accepting connections, a SQLite file on a full or read-only disk, or
    /// locked for too long. Clients are told `unavailable` and to retry.
    pub fn is_unavailable(&self) -> bool {
        use diesel::result::{DatabaseErrorKind, Error};
        match self {
            DbError::Connect(_) | DbError::Pool(_) | DbError::Unavailable => true,
            DbError::NotCommitted(e) => e.is_unavailable(),
            DbError::Query(Error::DatabaseError(DatabaseErrorKind::ClosedConnection, _))
            | DbError::Query(Error::BrokenTransactionManager) => true,
            // diesel reports SQLite's result codes only through their
            // messages (sqlite3_errmsg), which are fixed per code.
            DbError::Query(Error::DatabaseError(_, info)) => {
                const SQLITE_UNAVAILABLE: [&str; 5] = [
                    "database or disk is full",             // SQLITE_FULL
                    "attempt to write a readonly database", // SQLITE_READONLY
                    "disk I/O error",                       // SQLITE_IOERR
                    "database is locked",                   // SQLITE_BUSY
                    "unable to open database file",         // SQLITE_CANTOPEN
                ];
                SQLITE_UNAVAILABLE.contains(&info.message())
            }
            _ => false,
        }
    }
}

impl From<diesel::ConnectionError> for DbError {
    fn from(e: diesel::ConnectionError) -> Self {
        DbError::Connect(e)
    }
}

impl From<diesel::result::Error> for DbError {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match e {
            Error::NotFound => DbError::NotFound,
            Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => DbError::Conflict,
            other => DbError::Query(other),
        }
    }
}

/// The backend a `DATABASE_URL` selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file: a path, `sqlite://path` or `file:path`.
    Sqlite,
    /// A PostgreSQL server: a `postgres://` or `postgresql://` URL.
    Postgres,
}

impl Backend {
    /// Picks the backend from the URL scheme and returns the string the
    /// driver wants.
    pub fn from_url(url: &str) -> (Backend, String) {
        let scheme = url.split_once("://").map(|(scheme, _)| scheme);
        if scheme.is_some_and(|s| {
            s.eq_ignore_ascii_case("postgres") || s.eq_ignore_ascii_case("postgresql")
        }) {
            return (Backend::Postgres, url.to_owned());
        }
        let path = url.strip_prefix("sqlite://").unwrap_or(url);
        (Backend::Sqlite, path.to_owned())
    }

    /// Opens one connection to `target` with this backend's per-connection
    /// settings applied.
    fn open(self, target: &str) -> Result<DbConnection, DbError> {
        match self {
            Backend::Sqlite => {
                let mut conn = SqliteConnection::establish(target)?;
                // The busy timeout comes first so that everything after it
                // (and every later writer) queues for the lock instead of
                // failing; WAL lets readers work while one writer writes.
                // `synchronous = FULL` syncs the WAL at every commit: a
                // message is broadcast only after its commit, so a power
                // loss must not undo it (NORMAL could, and reuse its id).
                conn.batch_execute("PRAGMA busy_timeout = 5000;")?;
                switch_to_wal(&mut conn)?;
                conn.batch_execute(
                    "PRAGMA synchronous = FULL;
                     PRAGMA foreign_keys = ON;",
                )?;
                Ok(DbConnection::Sqlite(conn))
            }
            #[cfg(feature = "postgres")]
            Backend::Postgres => {
                let mut conn = diesel::PgConnection::establish(target)?;
                // A commit is acknowledged (and its message broadcast) only
                // once it is on disk: a server configured with
                // `synchronous_commit = off` is overruled for confab's
                // connections (stronger settings, for replicas, are kept).
                conn.batch_execute(
                    "SELECT set_config('synchronous_commit', 'on', false)
                     WHERE current_setting('synchronous_commit') = 'off'",
                )?;
                Ok(DbConnection::Pg(conn))
            }
            #[cfg(not(feature = "postgres"))]
            Backend::Postgres => Err(DbError::PostgresNotBuilt),
        }
    }
}

/// The file SQLite opens for `target`, the string [`Backend::from_url`]
/// hands the SQLite driver, read the way SQLite reads it; `None` when
/// there is no file: an in-memory database, a temporary one, or a URI
/// SQLite refuses.
///
/// diesel opens SQLite with `SQLITE_OPEN_URI`, so a target that starts
/// with `file:` is a URI (<https://sqlite.org/uri.html>): after an empty
/// or `localhost` authority, the path runs up to `?` or `#`, with `%HH`
/// escapes decoded, and `mode=memory` (or `vfs=memdb`) in the query means
/// no file at all. Anything else is a path as it stands. An empty name is a
/// temporary database and `:memory:` an in-memory one, either way.
pub fn sqlite_file(target: &str) -> Option<PathBuf> {
    let Some(uri) = target.strip_prefix("file:") else {
        return file_name(target.as_bytes().to_vec());
    };
    // `#` ends the URI, and the first `?` the path; escapes are decoded
    // only after, so `%23` and `%3F` stay in the name.
    let uri = uri.split('#').next().unwrap_or_default();
    let (path, query) = uri.split_once('?').unwrap_or((uri, ""));
    let path = match path.strip_prefix("//") {
        Some(rest) => {
            let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            if !authority.is_empty() && authority != "localhost" {
                return None;
            }
            path
        }
        None => path,
    };
    let mut mode = None;
    let mut vfs = None;
    for param in query.split('&') {
        let (name, value) = param.split_once('=').unwrap_or((param, ""));
        match percent_decoded(name).as_slice() {
            b"mode" => mode = Some(percent_decoded(value)),
            b"vfs" => vfs = Some(percent_decoded(value)),
            _ => {}
        }
    }
    if mode.as_deref() == Some(b"memory") || vfs.as_deref() == Some(b"memdb") {
        return None;
    }
    file_name(percent_decoded(path))
}

/// `%HH` decoded as SQLite decodes a URI: a `%00` ends the text.
fn percent_decoded(text: &str) -> Vec<u8> {
    let hex = |b: u8| char::from(b).to_digit(16);
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = match bytes.get(i..i + 3) {
            Some([b'%', hi, lo]) => hex(*hi).zip(hex(*lo)).map(|(hi, lo)| (hi * 16 + lo) as u8),
            _ => None,
        };
        match escaped {
            Some(0) => break,
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    out
}

/// A decoded SQLite file name as a path; `None` for the names that open no
/// file (empty: a temporary database; `:memory:`).
fn file_name(name: Vec<u8>) -> Option<PathBuf> {
    if name.is_empty() || name == b":memory:" {
        return None;
    }
    #[cfg(unix)]
    let name = <std::ffi::OsString as std::os::unix::ffi::OsStringExt>::from_vec(name);
    #[cfg(not(unix))]
    let name = String::from_utf8_lossy(&name).into_owned();
    Some(PathBuf::from(name))
}

/// Puts a SQLite file in WAL mode (once set, it stays set).
///
/// On a new file, instances starting together each read the file and then
/// want its exclusive lock for the switch: a deadlock that SQLite reports at
/// once as "database is locked" rather than waiting out the busy timeout.
/// One of them wins, so the others try again for about as long.
fn switch_to_wal(conn: &mut SqliteConnection) -> diesel::QueryResult<()> {
    use diesel::result::Error;
    let mut retries = 50;
    loop {
        match conn.batch_execute("PRAGMA journal_mode = WAL;") {
            Err(Error::DatabaseError(_, info))
                if info.message() == "database is locked" && retries > 0 =>
            {
                retries -= 1;
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            done => return done,
        }
    }
}

/// Opens pooled connections on the backend the URL chose.
///
/// diesel's own `ConnectionManager<DbConnection>` would try each backend in
/// turn and report only "invalid connection url" when all fail; this one
/// opens the chosen backend and keeps its error.
#[derive(Debug)]
struct ConnectionOpener {
    backend: Backend,
    target: String,
}

impl ManageConnection for ConnectionOpener {
    type Connection = DbConnection;
    type Error = DbError;

    fn connect(&self) -> Result<DbConnection, DbError> {
        self.backend.open(&self.target)
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), DbError> {
        Ok(conn.ping()?)
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        conn.is_broken()
    }
}

/// Applies pending migrations on `conn`, one instance at a time.
///
/// Several instances may start together on one database; each must find the
/// migrations either not yet started or finished, never half-way, so each
/// takes the database's migration lock before reading which ones are applied.
fn migrate(conn: &mut DbConnection) -> Result<(), DbError> {
    let applied = match conn {
        // `BEGIN IMMEDIATE` takes SQLite's write lock up front: a second
        // instance waits (busy_timeout) and then sees the migrations done.
        // Each migration runs in a savepoint inside this transaction.
        DbConnection::Sqlite(c) => c.immediate_transaction(|c| {
            c.run_pending_migrations(SQLITE_MIGRATIONS)
                .map(|versions| versions.iter().map(ToString::to_string).collect())
        }),
        // PostgreSQL has no database-wide write lock, so the instances queue
        // on an advisory lock instead (each migration still runs in its own
        // transaction). The lock belongs to this connection's session, which
        // `Database::connect` closes right after: that releases it too, so a
        // failed unlock (a broken connection) leaves nothing held.
        #[cfg(feature = "postgres")]
        DbConnection::Pg(c) => {
            c.batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})"))?;
            let applied = c
                .run_pending_migrations(POSTGRES_MIGRATIONS)
                .map(|versions| versions.iter().map(ToString::to_string).collect());
            let _ = c.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})"));
            applied
        }
    };
    let applied: Vec<String> = applied.map_err(|e| DbError::Migration(e.to_string()))?;
    for version in applied {
        log::info!("applied database migration {version}");
    }
    Ok(())
}

/// A pooled database handle, cheap to clone and share between threads.
#[derive(Clone)]
pub struct Database {
    pool: Pool<ConnectionOpener>,
    writer: Writer,
}

impl Database {
    /// Opens the database named by `url`, applies pending migrations and
    /// builds a pool of `pool_size` connections, which waits a second at
    /// most for a connection (the server's default).
    pub fn connect(url: &str, pool_size: u32) -> Result<Self, DbError> {
        Self::connect_with(url, pool_size, Duration::from_secs(1))
    }

    /// [`connect`](Self::connect), with a pool that gives up on a
    /// connection after `checkout_timeout` (`CONFAB_DB_TIMEOUT_MS`): while
    /// the database is down, reads fail that fast instead of queueing.
    pub fn connect_with(
        url: &str,
        pool_size: u32,
        checkout_timeout: Duration,
    ) -> Result<Self, DbError> {
        let (backend, target) = Backend::from_url(url);
        // Migrate on a connection of its own, closed before serving starts,
        // so that nothing it did (a lock, a transaction) reaches the pool.
        let mut setup = backend.open(&target)?;
        migrate(&mut setup)?;
        // Accounts from before usernames had keys (or written straight into
        // the table) get them before anyone can sign up beside them.
        let keyed = queries::users::fill_in_name_keys(&mut setup)?;
        if keyed > 0 {
            log::info!("gave {keyed} existing accounts their username keys");
        }
        drop(setup);
        let pool = Pool::builder()
            .max_size(pool_size)
            .connection_timeout(checkout_timeout)
            .build(ConnectionOpener {
                backend,
                target: target.clone(),
            })?;
        let writer = Writer::start(backend, target)?;
        Ok(Database { pool, writer })
    }

    /// Queues `f` for the [writer](writer), behind every write queued
    /// before it, and answers once its batch is durably committed (or
    /// failed). The write is queued at the call, not when the future is
    /// first polled, so writes queued one after the other are stored (and
    /// get their ids) in that order.
    ///
    /// An error `f` returns undoes what it wrote and nothing else (its
    /// batch is run again with a savepoint per write, so `f` may run
    /// twice: it must not count on state of its own between runs).
    pub fn write<F, T, E>(&self, f: F) -> impl Future<Output = Result<T, E>> + Send + 'static
    where
        F: FnMut(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        self.writer.write(f)
    }

    /// Whether the writer is taking writes (false while it has lost the
    /// database).
    pub fn writes_are_taken(&self) -> bool {
        self.writer.is_up()
    }

    /// Runs `f` with a pooled connection on the blocking thread pool.
    ///
    /// `f` may fail with any error a [`DbError`] converts into, so callers
    /// can check their own rules against the rows inside the same closure.
    pub async fn run<F, T, E>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let pool = self.pool.clone();
        actix_web::rt::task::spawn_blocking(move || {
            let mut conn: PooledConnection<_> = pool.get().map_err(DbError::from)?;
            f(&mut conn)
        })
        .await
        .map_err(|_| E::from(DbError::Cancelled))?
    }

    /// Runs `f` on the calling thread; for the command line, never for actors.
    pub fn run_here<T>(
        &self,
        f: impl FnOnce(&mut DbConnection) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        let mut conn = self.pool.get()?;
        f(&mut conn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_urls_select_postgres_and_anything_else_sqlite() {
        for url in [
            "postgres://confab@db:5432/confab",
            "postgresql://confab@db/confab?sslmode=require",
            "POSTGRES://db/confab",
        ] {
            assert_eq!(Backend::from_url(url), (Backend::Postgres, url.to_owned()));
        }
        for (url, path) in [
            ("confab.db", "confab.db"),
            ("/data/confab.db", "/data/confab.db"),
            ("sqlite://confab.db", "confab.db"),
            ("file:confab.db", "file:confab.db"),
            ("postgres.db", "postgres.db"),
        ] {
            assert_eq!(Backend::from_url(url), (Backend::Sqlite, path.to_owned()));
        }
    }

    #[test]
    fn sqlite_file_is_the_file_sqlite_opens() {
        for (target, file) in [
            ("confab.db", "confab.db"),
            ("/data/confab.db", "/data/confab.db"),
            // Not a URI (no `file:`): the name as it stands.
            ("confab.db?mode=rwc", "confab.db?mode=rwc"),
            ("file:confab.db", "confab.db"),
            ("file:confab.db?mode=rwc&cache=shared", "confab.db"),
            ("file:/data/confab.db#part", "/data/confab.db"),
            ("file:///data/confab.db?mode=rw", "/data/confab.db"),
            ("file://localhost/data/confab.db", "/data/confab.db"),
            ("file:my%20chat.db", "my chat.db"),
            ("file:what%3F.db?mode=rwc", "what?.db"),
        ] {
            assert_eq!(sqlite_file(target), Some(PathBuf::from(file)), "{target}");
        }
        for target in [
            "",
            ":memory:",
            "file::memory:",
            "file::memory:?cache=shared",
            "file:confab.db?mode=memory",
            "file:confab.db?vfs=memdb",
            "file:",
            "file://elsewhere/data/confab.db",
        ] {
            assert_eq!(sqlite_file(target), None, "{target}");
        }
    }

    #[test]
    fn sqlite_file_names_the_file_the_connection_creates() {
        let dir = tempfile::tempdir().expect("temp dir");
        let dir = dir.path().display();
        for url in [
            format!("{dir}/plain.db"),
            format!("sqlite://{dir}/scheme.db"),
            format!("file:{dir}/uri.db?mode=rwc"),
            format!("file://localhost{dir}/my%20chat.db#fragment"),
        ] {
            let (_, target) = Backend::from_url(&url);
            let file = sqlite_file(&target).expect("a file");
            assert!(!file.exists(), "{url}: {} is new", file.display());
            Database::connect(&url, 1).expect("the database opens");
            assert!(file.is_file(), "{url}: {} was created", file.display());
        }
    }

    #[test]
    fn instances_starting_together_on_one_sqlite_file_all_come_up() {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = dir.path().join("confab.db").display().to_string();
        let start = std::sync::Barrier::new(4);
        std::thread::scope(|s| {
            let starts: Vec<_> = (0..4)
                .map(|_| {
                    s.spawn(|| {
                        start.wait();
                        Database::connect(&url, 1).map(|_| ())
                    })
                })
                .collect();
            for started in starts {
                let started = started.join().expect("the starting thread does not panic");
                assert!(started.is_ok(), "{started:?}");
            }
        });
        let db = Database::connect(&url, 1).expect("the database opens again");
        let rooms = db
            .run_here(queries::rooms::all)
            .expect("the tables are there");
        assert!(rooms.is_empty());
    }

    #[test]
    // Without the `postgres` feature SQLite is the only variant.
    #[allow(irrefutable_let_patterns)]
    fn every_pooled_sqlite_connection_syncs_every_commit() {
        #[derive(diesel::QueryableByName)]
        struct Synchronous {
            #[diesel(sql_type = diesel::sql_types::Integer)]
            synchronous: i32,
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let url = dir.path().join("confab.db").display().to_string();
        let db = Database::connect(&url, 4).expect("the database opens");
        // Held together, so the pool hands out four distinct connections.
        let mut held: Vec<_> = (0..4)
            .map(|_| db.pool.get().expect("a pooled connection"))
            .collect();
        for conn in &mut held {
            use diesel::RunQueryDsl;
            let DbConnection::Sqlite(conn) = &mut **conn else {
                panic!("a SQLite URL opens SQLite");
            };
            let row: Synchronous = diesel::sql_query("PRAGMA synchronous")
                .get_result(conn)
                .expect("the pragma answers");
            assert_eq!(row.synchronous, 2, "FULL");
        }
    }

    #[cfg(feature = "postgres")]
    #[test]
    fn every_pooled_postgres_connection_commits_synchronously() {
        use diesel::RunQueryDsl;
        #[derive(diesel::QueryableByName)]
        struct Setting {
            #[diesel(sql_type = diesel::sql_types::Text)]
            synchronous_commit: String,
        }
        let server = match std::env::var("CONFAB_TEST_POSTGRES_URL") {
            Ok(url) if !url.is_empty() => url,
            _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
                panic!("CI=true but CONFAB_TEST_POSTGRES_URL is not set")
            }
            _ => return eprintln!("CONFAB_TEST_POSTGRES_URL is not set: skipping"),
        };
        let name = format!("confab_unit_{:016x}", rand::random::<u64>());
        let admin = || diesel::PgConnection::establish(&server).expect("reach PostgreSQL");
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut admin())
            .expect("create a scratch database");
        let (base, _) = server.rsplit_once('/').expect("a database in the URL");
        let show = |conn: &mut DbConnection| {
            diesel::sql_query("SHOW synchronous_commit")
                .get_result::<Setting>(conn)
                .map(|row| row.synchronous_commit)
        };
        let checked = std::panic::catch_unwind(|| {
            let db = Database::connect(&format!("{base}/{name}"), 4).expect("the database opens");
            // Held together, so the pool hands out four distinct connections.
            let mut held: Vec<_> = (0..4)
                .map(|_| db.pool.get().expect("a pooled connection"))
                .collect();
            for conn in &mut held {
                assert_eq!(show(conn).expect("SHOW answers"), "on");
            }
            let writer = actix_web::rt::System::new()
                .block_on(db.write(move |c| show(c).map_err(DbError::from)));
            assert_eq!(writer.expect("the writer answers"), "on");
        });
        let _ =
            diesel::sql_query(format!("DROP DATABASE {name} WITH (FORCE)")).execute(&mut admin());
        if let Err(panic) = checked {
            std::panic::resume_unwind(panic);
        }
    }

    #[cfg(not(feature = "postgres"))]
    #[test]
    fn postgres_without_the_feature_is_a_clear_error() {
        let err = Database::connect("postgres://localhost/confab", 1).err();
        assert!(matches!(err, Some(DbError::PostgresNotBuilt)), "{err:?}");
    }
}
