//! What only PostgreSQL has: its own migrations (down and up again, and
//! their tables against SQLite's, column for column) and instances that
//! start together on a new database, queueing on an advisory lock.
//!
//! Everything else runs on PostgreSQL as part of the single-instance suite
//! (`on_every_backend!` in the other modules), and the scale-out tests
//! run their instances on it.
//!
//! Needs `CONFAB_TEST_POSTGRES_URL` (e.g.
//! `postgres://postgres@127.0.0.1:5432/postgres`): each test creates its own
//! database there and drops it at the end, so they run side by side. Without
//! the variable these tests say why they skip, except under `CI=true`, where
//! that is a failure. A build without the `postgres` feature has none.

#![cfg(feature = "postgres")]

use crate::common::{PATIENCE, ScratchPostgres, TestApp, free_port};
use confab::db::{POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS};
use diesel::migration::MigrationSource;
use diesel::prelude::*;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness};
use std::process::{Child, Command, Stdio};

/// Starts a server on `db` (whatever state it is in) and checks that it
/// stores a message.
async fn serves_a_conversation(db: &ScratchPostgres) {
    let app = TestApp::spawn_with(|s| s.database_url = db.url.clone()).await;
    let mut a = app.join(&app.user("alice").await, "lobby").await;
    a.joined().await;
    a.say("it works").await;
    assert_eq!(a.expect("chat_message").await["message"], "it works");
}

#[actix_web::test]
async fn migrations_go_down_and_up_again() {
    let Some(db) = ScratchPostgres::create() else {
        return;
    };
    // One history of versions for both backends.
    let postgres = migration_names::<diesel::pg::Pg>(&POSTGRES_MIGRATIONS);
    assert_eq!(
        postgres,
        migration_names::<diesel::sqlite::Sqlite>(&SQLITE_MIGRATIONS)
    );
    // Every version, however many there are, goes up, down and up again.
    let versions = postgres.len();

    let mut conn = PgConnection::establish(&db.url).unwrap();
    let up = conn.run_pending_migrations(POSTGRES_MIGRATIONS).unwrap();
    assert_eq!(up.len(), versions);
    assert_eq!(tables(&mut conn), TABLES);
    let down = conn.revert_all_migrations(POSTGRES_MIGRATIONS).unwrap();
    assert_eq!(down.len(), versions);
    assert!(tables(&mut conn).is_empty(), "down.sql undoes up.sql");
    let up = conn.run_pending_migrations(POSTGRES_MIGRATIONS).unwrap();
    assert_eq!(up.len(), versions);
    drop(conn);

    // The server starts on the result, finds nothing to do, and works.
    serves_a_conversation(&db).await;
}

#[actix_web::test]
async fn the_postgresql_tables_mirror_the_sqlite_ones_column_for_column() {
    let Some(db) = ScratchPostgres::create() else {
        return;
    };
    let mut pg = PgConnection::establish(&db.url).unwrap();
    pg.run_pending_migrations(POSTGRES_MIGRATIONS).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut sqlite =
        SqliteConnection::establish(dir.path().join("mirror.db").to_str().unwrap()).unwrap();
    sqlite.run_pending_migrations(SQLITE_MIGRATIONS).unwrap();

    // (table, column, type, not null), in one spelling for both. Not the
    // search index on either side: PostgreSQL's stored tsvector
    // (messages.search_doc), SQLite's FTS5 tables (below)
    // (migrations/*/2026-12-06-000010_message_search).
    let pg_columns: Vec<Column> = diesel::sql_query(
        "SELECT table_name::text AS table_name, column_name::text AS column_name, \
                upper(CASE data_type WHEN 'timestamp without time zone' THEN 'timestamp' \
                      ELSE data_type END) AS column_type, \
                is_nullable = 'NO' AS not_null \
         FROM information_schema.columns \
         WHERE table_schema = 'public' AND table_name NOT LIKE '\\_\\_diesel%' \
           AND NOT (table_name = 'messages' AND column_name = 'search_doc') \
         ORDER BY table_name, ordinal_position",
    )
    .load(&mut pg)
    .unwrap();
    let sqlite_columns: Vec<Column> = diesel::sql_query(
        "SELECT m.name AS table_name, c.name AS column_name, upper(c.type) AS column_type, \
                c.\"notnull\" = 1 AS not_null \
         FROM sqlite_master m JOIN pragma_table_info(m.name) c \
         WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite%' \
           AND m.name NOT LIKE '\\_\\_diesel%' ESCAPE '\\' \
           AND m.name NOT LIKE 'messages\\_fts%' ESCAPE '\\' \
         ORDER BY m.name, c.cid",
    )
    .load(&mut sqlite)
    .unwrap();
    assert_eq!(pg_columns.len(), 77, "{pg_columns:#?}");
    // Message, reaction and session ids are 64-bit: BIGINT in PostgreSQL, where
    // INTEGER is 32-bit; in SQLite every INTEGER is 64-bit already.
    let wide: Vec<(&str, &str)> = pg_columns
        .iter()
        .filter(|c| c.column_type == "BIGINT")
        .map(|c| (c.table_name.as_str(), c.column_name.as_str()))
        .collect();
    assert_eq!(
        wide,
        [
            ("memberships", "last_read_id"),
            ("mentions", "message_id"),
            ("messages", "id"),
            ("messages", "reply_to"),
            ("reactions", "id"),
            ("reactions", "message_id"),
            ("reports", "message_id"),
            ("sessions", "id")
        ]
    );
    // Compared as one integer type: SQLite's INTEGER and BIGINT are both
    // 64-bit (newer migrations spell wide columns BIGINT there too).
    let integers = |columns: Vec<Column>| -> Vec<Column> {
        columns
            .into_iter()
            .map(|c| match c.column_type.as_str() {
                "BIGINT" => Column {
                    column_type: "INTEGER".to_owned(),
                    ..c
                },
                _ => c,
            })
            .collect()
    };
    assert_eq!(integers(pg_columns), integers(sqlite_columns));
}

#[derive(Debug, PartialEq, QueryableByName)]
struct Column {
    #[diesel(sql_type = diesel::sql_types::Text)]
    table_name: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    column_name: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    column_type: String,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    not_null: bool,
}

fn migration_names<DB: diesel::backend::Backend>(source: &EmbeddedMigrations) -> Vec<String> {
    MigrationSource::<DB>::migrations(source)
        .unwrap()
        .iter()
        .map(|m| m.name().to_string())
        .collect()
}

/// Every table the migrations make, by name.
const TABLES: [&str; 12] = [
    "audit_log",
    "memberships",
    "mentions",
    "messages",
    "reactions",
    "reports",
    "room_aliases",
    "room_moderators",
    "rooms",
    "sanctions",
    "sessions",
    "users",
];

/// The application's tables (not diesel's bookkeeping), by name.
fn tables(conn: &mut PgConnection) -> Vec<String> {
    #[derive(QueryableByName)]
    struct Table {
        #[diesel(sql_type = diesel::sql_types::Text)]
        tablename: String,
    }
    let rows: Vec<Table> = diesel::sql_query(
        "SELECT tablename::text AS tablename FROM pg_tables \
         WHERE schemaname = 'public' AND tablename NOT LIKE '\\_\\_diesel%' \
         ORDER BY tablename",
    )
    .load(conn)
    .unwrap();
    rows.into_iter().map(|t| t.tablename).collect()
}

/// A `confab serve` process, killed when dropped.
struct Instance {
    child: Child,
    port: u16,
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[actix_web::test]
async fn three_instances_starting_at_once_on_a_fresh_database_all_come_up() {
    let Some(db) = ScratchPostgres::create() else {
        return;
    };
    // Separate processes, as a deployment starts them; none has migrated.
    let mut instances: Vec<Instance> = (0..3)
        .map(|_| {
            let port = free_port();
            let child = Command::new(env!("CARGO_BIN_EXE_confab"))
                .arg("serve")
                .env("DATABASE_URL", &db.url)
                .env("CONFAB_BIND", format!("127.0.0.1:{port}"))
                .env(
                    "CONFAB_SECRET_KEY",
                    "test-secret-key-that-is-long-enough-0123456789",
                )
                .env("CONFAB_WORKERS", "1")
                .env("CONFAB_DB_POOL_SIZE", "2")
                .env("RUST_LOG", "warn")
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            Instance { child, port }
        })
        .collect();

    let http = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + PATIENCE * 3;
    for instance in &mut instances {
        loop {
            if let Some(status) = instance.child.try_wait().unwrap() {
                let mut err = String::new();
                use std::io::Read;
                instance
                    .child
                    .stderr
                    .take()
                    .unwrap()
                    .read_to_string(&mut err)
                    .unwrap();
                panic!("an instance exited with {status} while starting: {err}");
            }
            let url = format!("http://127.0.0.1:{}/readyz", instance.port);
            if let Ok(res) = http.get(&url).send().await {
                assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "an instance never came up"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    // Each migration was applied once, and the schema is whole.
    let mut conn = PgConnection::establish(&db.url).unwrap();
    let applied = conn.applied_migrations().unwrap();
    assert_eq!(
        applied.len(),
        migration_names::<diesel::pg::Pg>(&POSTGRES_MIGRATIONS).len()
    );
    assert_eq!(tables(&mut conn), TABLES);
    serves_a_conversation(&db).await;
}
