//! The database: connection pool, schema, row structs and queries.
//!
//! One Rust code path serves every backend: [`DbConnection`] is a diesel
//! `MultiConnection`, so each query in `queries/` is written once. Only the
//! migrations differ per backend (`migrations/<backend>/`), and they are
//! embedded in the binary and applied at start-up.
//!
//! Diesel is synchronous, so every query runs on the blocking thread pool
//! through [`Database::run`]; actors and request handlers await it and never
//! block their own thread.

pub mod models;
pub mod queries;
pub mod schema;

use diesel::connection::SimpleConnection;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool, PooledConnection};
use diesel::sqlite::SqliteConnection;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

/// A connection to whichever backend `DATABASE_URL` names.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    /// An embedded SQLite file (the default).
    Sqlite(SqliteConnection),
}

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

/// Everything that can go wrong talking to the database.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
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
}

impl Backend {
    /// Picks the backend from the URL scheme and returns the string the
    /// driver wants.
    pub fn from_url(url: &str) -> (Backend, String) {
        let path = url.strip_prefix("sqlite://").unwrap_or(url);
        (Backend::Sqlite, path.to_owned())
    }
}

/// Per-connection settings applied whenever the pool opens a connection.
#[derive(Debug)]
struct ConnectionSetup;

impl CustomizeConnection<DbConnection, diesel::r2d2::Error> for ConnectionSetup {
    fn on_acquire(&self, conn: &mut DbConnection) -> Result<(), diesel::r2d2::Error> {
        match conn {
            // The busy timeout comes first so that everything after it (and
            // every later writer) queues for the lock instead of failing; WAL
            // lets readers work while one writer writes.
            DbConnection::Sqlite(c) => c
                .batch_execute(
                    "PRAGMA busy_timeout = 5000;
                     PRAGMA journal_mode = WAL;
                     PRAGMA synchronous = NORMAL;
                     PRAGMA foreign_keys = ON;",
                )
                .map_err(diesel::r2d2::Error::QueryError),
        }
    }
}

/// A pooled database handle, cheap to clone and share between threads.
#[derive(Clone)]
pub struct Database {
    pool: Pool<ConnectionManager<DbConnection>>,
    backend: Backend,
}

impl Database {
    /// Opens the database named by `url`, applies pending migrations and
    /// builds a pool of `pool_size` connections.
    pub fn connect(url: &str, pool_size: u32) -> Result<Self, DbError> {
        let (backend, target) = Backend::from_url(url);
        let pool = Pool::builder()
            .max_size(pool_size)
            .connection_customizer(Box::new(ConnectionSetup))
            .build(ConnectionManager::<DbConnection>::new(target))?;
        let db = Database { pool, backend };
        db.migrate()?;
        Ok(db)
    }

    /// Which backend this database runs on.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    fn migrate(&self) -> Result<(), DbError> {
        let mut conn = self.pool.get()?;
        let applied = match &mut *conn {
            DbConnection::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS),
        }
        .map_err(|e| DbError::Migration(e.to_string()))?;
        for version in applied {
            log::info!("applied database migration {version}");
        }
        Ok(())
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
