//! `seed`: fills a room with stored messages, straight into the server's
//! SQLite file, so that `join` can be measured against a long history.
//!
//! Posting a million messages through the server would take as long as
//! the server takes to store them one at a time; writing the rows directly
//! takes seconds. One statement generates every row (a recursive common
//! table expression) in one transaction. Run it while the server is
//! stopped, after it has started once on that file (it creates the tables),
//! then start it again. The room and its author are created if missing;
//! the author `seeder` has no usable password.

use anyhow::{Context, bail};
use clap::Args;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_query;
use diesel::sql_types::{BigInt, Text};
use diesel::sqlite::SqliteConnection;
use std::time::Instant;

/// Options of `seed`.
#[derive(Debug, Args)]
pub struct SeedArgs {
    /// The server's SQLite file (its DATABASE_URL).
    #[arg(long)]
    pub db: String,
    /// The room to fill (created if missing).
    #[arg(long, default_value = "seeded")]
    pub room: String,
    /// Messages to add.
    #[arg(long, default_value_t = 1_000_000)]
    pub messages: i64,
    /// The author of the seeded messages (created if missing, cannot log in).
    #[arg(long, default_value = "seeder")]
    pub author: String,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Timestamps as the server's diesel writes them (`%F %T%.f`, UTC).
const NOW: &str = "strftime('%Y-%m-%d %H:%M:%f', 'now')";

/// Runs `seed`.
pub fn run(args: SeedArgs) -> anyhow::Result<()> {
    if args.messages < 0 {
        bail!("--messages cannot be negative");
    }
    let path = args.db.strip_prefix("sqlite://").unwrap_or(&args.db);
    if !std::path::Path::new(path).exists() {
        bail!("{path} does not exist; start confab once with DATABASE_URL={path} so it creates it");
    }
    let mut conn = SqliteConnection::establish(path).with_context(|| format!("opening {path}"))?;
    conn.batch_execute("PRAGMA busy_timeout = 5000;")?;
    let tables: Count = sql_query(
        "SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'messages'",
    )
    .get_result(&mut conn)?;
    if tables.n == 0 {
        bail!("{path} has no messages table; start confab once on it so it migrates");
    }

    let started = Instant::now();
    let total = conn.transaction::<_, diesel::result::Error, _>(|c| {
        sql_query(format!(
            "INSERT OR IGNORE INTO rooms (name, admin_only, created_at) VALUES (?, 0, {NOW})"
        ))
        .bind::<Text, _>(&args.room)
        .execute(c)?;
        sql_query(format!(
            "INSERT OR IGNORE INTO users (username, password_hash, is_staff, created_at) \
             VALUES (?, '!', 0, {NOW})"
        ))
        .bind::<Text, _>(&args.author)
        .execute(c)?;
        sql_query(format!(
            "WITH RECURSIVE n(i) AS (SELECT 1 WHERE ?1 > 0 UNION ALL SELECT i + 1 FROM n WHERE i < ?1) \
             INSERT INTO messages (room_id, user_id, content, created_at) \
             SELECT (SELECT id FROM rooms WHERE name = ?2), (SELECT id FROM users WHERE username = ?3), \
                    printf('seed message %d: the quick brown fox jumps over the lazy dog', i), {NOW} \
             FROM n"
        ))
        .bind::<BigInt, _>(args.messages)
        .bind::<Text, _>(&args.room)
        .bind::<Text, _>(&args.author)
        .execute(c)?;
        let count: Count = sql_query(
            "SELECT count(*) AS n FROM messages \
             WHERE room_id = (SELECT id FROM rooms WHERE name = ?)",
        )
        .bind::<Text, _>(&args.room)
        .get_result(c)?;
        Ok(count.n)
    })?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "added {} messages to #{} in {secs:.1} s ({:.0} rows/s); it now holds {total}",
        args.messages,
        args.room,
        args.messages as f64 / secs.max(1e-9)
    );
    Ok(())
}
