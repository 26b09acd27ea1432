//! The whole server on PostgreSQL: accounts, conversation, history,
//! edits, deletions and reactions, rooms, the command line, the
//! migrations, and several instances starting together on one database.
//!
//! Needs `CONFAB_TEST_POSTGRES_URL` (e.g.
//! `postgres://postgres@127.0.0.1:5432/postgres`): each test creates its own
//! database there and drops it at the end, so they run side by side. Without
//! the variable these tests say why they skip, except under `CI=true`, where
//! that is a failure. A build without the `postgres` feature has none.

#![cfg(feature = "postgres")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{PATIENCE, ScratchPostgres, TestApp, Ws, free_port};
use confab::db::{POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS};
use diesel::migration::MigrationSource;
use diesel::prelude::*;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness};
use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};

/// A server on a fresh PostgreSQL database, or `None` when skipping. Keep
/// the database value alive for the whole test: dropping it drops the
/// database.
async fn spawn() -> Option<(TestApp, ScratchPostgres)> {
    let db = ScratchPostgres::create()?;
    let app = TestApp::spawn_with(|s| s.database_url = db.url.clone()).await;
    Some((app, db))
}

fn texts(messages: &[Value]) -> Vec<&str> {
    messages
        .iter()
        .map(|m| m["message"].as_str().unwrap())
        .collect()
}

fn ids(messages: &[Value]) -> Vec<i64> {
    messages.iter().map(|m| m["id"].as_i64().unwrap()).collect()
}

/// Posts `text` and returns its id.
async fn post(ws: &mut Ws, text: &str) -> i64 {
    ws.say(text).await;
    ws.expect("chat_message").await["id"].as_i64().unwrap()
}

/// A message's reactions as `(emoji, users)`.
fn reactions(message: &Value) -> Vec<(String, Vec<String>)> {
    message["reactions"]
        .as_array()
        .map(|groups| {
            groups
                .iter()
                .map(|g| {
                    let users = g["users"].as_array().unwrap().iter();
                    (
                        g["emoji"].as_str().unwrap().to_owned(),
                        users.map(|u| u.as_str().unwrap().to_owned()).collect(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[actix_web::test]
async fn accounts_sign_up_and_log_in() {
    let Some((app, _db)) = spawn().await else {
        return;
    };
    app.user("alice").await;
    let browser = app.browser();
    let res = browser
        .login("alice", "correct horse battery", "/chat/")
        .await;
    assert_eq!(res.status(), 303, "the account is stored");
    assert!(browser.text("/chat/").await.contains("alice"));

    let wrong = app
        .browser()
        .login("alice", "wrong password", "/chat/")
        .await;
    assert_ne!(wrong.status(), 303);
    let taken = app.browser().signup("alice", "another password").await;
    assert_eq!(taken.status(), 400, "a unique violation is a taken name");
    assert!(
        taken
            .text()
            .await
            .unwrap()
            .contains("That username is taken")
    );
}

#[actix_web::test]
async fn two_users_converse() {
    let Some((app, _db)) = spawn().await else {
        return;
    };
    let mut a = app.join(&app.user("alice").await, "lobby").await;
    assert_eq!(a.joined().await, (vec![], vec!["alice".to_owned()]));
    let mut b = app.join(&app.user("bob").await, "lobby").await;
    assert_eq!(b.joined().await.1, ["alice", "bob"]);
    assert_eq!(a.expect("user_join").await["user"], "bob");

    a.say("hello bob").await;
    let seen_by_a = a.expect("chat_message").await;
    assert_eq!(seen_by_a, b.expect("chat_message").await);
    assert_eq!(seen_by_a["user"], "alice");
    let created = seen_by_a["created_at"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(created).is_ok() && created.ends_with('Z'),
        "{created}"
    );
    b.say("hi alice").await;
    let reply = a.expect("chat_message").await;
    assert_eq!(reply["user"], "bob");
    assert!(
        reply["id"].as_i64() > seen_by_a["id"].as_i64(),
        "ids increase"
    );
}

#[actix_web::test]
async fn history_on_join_is_exactly_the_last_ten_in_order_after_a_restart() {
    let Some((app, _db)) = spawn().await else {
        return;
    };
    let mut a = app.join(&app.user("alice").await, "lobby").await;
    a.joined().await;
    for i in 1..=12 {
        post(&mut a, &format!("message {i}")).await;
    }
    drop(a);
    let app = app.restart().await;
    let mut b = app.join(&app.user("bob").await, "lobby").await;
    let (history, _) = b.joined().await;
    let expected: Vec<String> = (3..=12).map(|i| format!("message {i}")).collect();
    assert_eq!(texts(&history), expected);
    assert!(history.iter().all(|m| m["user"] == "alice"));
}

#[actix_web::test]
async fn edits_deletions_and_reactions_are_stored() {
    let Some((app, db)) = spawn().await else {
        return;
    };
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let mut a = app.join(&alice, "lobby").await;
    a.joined().await;
    let mut b = app.join(&bob, "lobby").await;
    b.joined().await;
    a.expect("user_join").await;
    let edited = post(&mut a, "helo").await;
    let deleted = post(&mut a, "oops").await;
    let reacted = post(&mut a, "react to me").await;
    for _ in 0..3 {
        b.expect("chat_message").await;
    }

    a.send_json(json!({"type": "edit_message", "id": edited, "message": "hello"}))
        .await;
    let edited_at = a.expect("message_edited").await["edited_at"].clone();
    a.send_json(json!({"type": "delete_message", "id": deleted}))
        .await;
    a.expect("message_deleted").await;
    b.send_json(json!({"type": "react", "id": reacted, "emoji": "👍"}))
        .await;
    // Bob's reaction lands first (two sockets race otherwise); alice's two
    // come in the order she sent them.
    b.next_of("reactions").await;
    a.send_json(json!({"type": "react", "id": reacted, "emoji": "🎉"}))
        .await;
    a.send_json(json!({"type": "react", "id": reacted, "emoji": "👍"}))
        .await;
    for _ in 0..2 {
        b.next_of("reactions").await;
    }

    drop((a, b));
    let app = app.restart().await;
    let mut c = app.join(&app.user("carol").await, "lobby").await;
    let (history, _) = c.joined().await;
    assert_eq!(ids(&history), [edited, reacted], "the deleted one is gone");
    assert_eq!(history[0]["message"], "hello");
    assert_eq!(history[0]["edited_at"], edited_at);
    assert_eq!(
        reactions(&history[1]),
        [
            ("👍".to_owned(), vec!["bob".to_owned(), "alice".to_owned()]),
            ("🎉".to_owned(), vec!["alice".to_owned()]),
        ]
    );

    // The deleted row stays, with nothing of what was said.
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        content: String,
    }
    let mut conn = PgConnection::establish(&db.url).unwrap();
    let rows: Vec<Row> = diesel::sql_query("SELECT content FROM messages WHERE id = $1")
        .bind::<diesel::sql_types::Integer, _>(i32::try_from(deleted).unwrap())
        .load(&mut conn)
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].content, "");
}

#[actix_web::test]
async fn older_messages_come_in_pages() {
    let Some((app, _db)) = spawn().await else {
        return;
    };
    let mut a = app.join(&app.user("alice").await, "lobby").await;
    a.joined().await;
    let mut posted = Vec::new();
    for i in 0..25 {
        posted.push(post(&mut a, &format!("message {i}")).await);
    }
    let mut b = app.join(&app.user("bob").await, "lobby").await;
    let (history, _) = b.joined().await;
    assert_eq!(ids(&history), posted[15..]);

    let mut page = async |request: Value| {
        b.send_json(request).await;
        let frame = b.expect("history").await;
        (
            ids(frame["messages"].as_array().unwrap()),
            frame["has_more"].as_bool().unwrap(),
        )
    };
    let older = page(json!({"type": "history", "before": posted[15], "limit": 10})).await;
    assert_eq!(older, (posted[5..15].to_vec(), true));
    let oldest = page(json!({"type": "history", "before": posted[5]})).await;
    assert_eq!(oldest, (posted[..5].to_vec(), false));
}

#[actix_web::test]
async fn first_visits_racing_to_a_new_room_make_one_room() {
    let Some((app, _db)) = spawn().await else {
        return;
    };
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    for round in 0..5 {
        let room = format!("new-{round}");
        let path = format!("/chat/{room}/");
        let (a, b, a2, b2) = tokio::join!(
            alice.get(&path),
            bob.get(&path),
            alice.get(&path),
            bob.get(&path)
        );
        for res in [a, b, a2, b2] {
            assert_eq!(res.status(), 200, "{path}");
        }
        let mut a = app.join(&alice, &room).await;
        a.joined().await;
        let mut b = app.join(&bob, &room).await;
        assert_eq!(b.joined().await.1, ["alice", "bob"], "one room, {room}");
    }
    let listed = app.cli(&["room", "list"]);
    let listed = String::from_utf8_lossy(&listed.stdout);
    let names: Vec<&str> = listed.lines().collect();
    assert_eq!(names, ["new-0", "new-1", "new-2", "new-3", "new-4"]);
}

#[actix_web::test]
async fn the_command_line_manages_rooms_and_users() {
    let Some((app, _db)) = spawn().await else {
        return;
    };
    let out = app.cli(&["room", "create", "staff-room", "--admin-only"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let again = app.cli(&["room", "create", "staff-room"]);
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("already exists"),
        "{}",
        stderr(&again)
    );
    for name in ["alpha", "Zed"] {
        assert!(app.cli(&["room", "create", name]).status.success());
    }
    let listed = app.cli(&["room", "list"]);
    assert_eq!(
        String::from_utf8_lossy(&listed.stdout),
        "Zed\nalpha\nstaff-room  (admin only)\n",
        "rooms sort byte by byte, as on SQLite, whatever the server's collation"
    );

    let bob = app.user("bob").await;
    assert_eq!(bob.get("/chat/staff-room/").await.status(), 403);
    let out = app.cli(&["user", "promote", "bob"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(bob.get("/chat/staff-room/").await.status(), 200);
    let mut ws = app.join(&bob, "staff-room").await;
    ws.joined().await;

    let ghost = app.cli(&["user", "promote", "ghost"]);
    assert!(!ghost.status.success());
    assert!(
        stderr(&ghost).contains("no user called ghost"),
        "{}",
        stderr(&ghost)
    );
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
    assert_eq!(postgres.len(), 2);

    let mut conn = PgConnection::establish(&db.url).unwrap();
    let up = conn.run_pending_migrations(POSTGRES_MIGRATIONS).unwrap();
    assert_eq!(up.len(), 2);
    assert_eq!(
        tables(&mut conn),
        ["messages", "reactions", "rooms", "users"]
    );
    let down = conn.revert_all_migrations(POSTGRES_MIGRATIONS).unwrap();
    assert_eq!(down.len(), 2);
    assert!(tables(&mut conn).is_empty(), "down.sql undoes up.sql");
    let up = conn.run_pending_migrations(POSTGRES_MIGRATIONS).unwrap();
    assert_eq!(up.len(), 2);
    drop(conn);

    // The server starts on the result, finds nothing to do, and works.
    let app = TestApp::spawn_with(|s| s.database_url = db.url.clone()).await;
    let mut a = app.join(&app.user("alice").await, "lobby").await;
    a.joined().await;
    post(&mut a, "still works").await;
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

    // (table, column, type, not null), in one spelling for both.
    let pg_columns: Vec<Column> = diesel::sql_query(
        "SELECT table_name::text AS table_name, column_name::text AS column_name, \
                upper(CASE data_type WHEN 'timestamp without time zone' THEN 'timestamp' \
                      ELSE data_type END) AS column_type, \
                is_nullable = 'NO' AS not_null \
         FROM information_schema.columns \
         WHERE table_schema = 'public' AND table_name NOT LIKE '\\_\\_diesel%' \
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
         ORDER BY m.name, c.cid",
    )
    .load(&mut sqlite)
    .unwrap();
    assert_eq!(pg_columns.len(), 21, "{pg_columns:#?}");
    assert_eq!(pg_columns, sqlite_columns);
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
    assert_eq!(applied.len(), 2);
    assert_eq!(
        tables(&mut conn),
        ["messages", "reactions", "rooms", "users"]
    );
    let app = TestApp::spawn_with(|s| s.database_url = db.url.clone()).await;
    let mut a = app.join(&app.user("alice").await, "lobby").await;
    a.joined().await;
    post(&mut a, "after a crowded start").await;
}
