//! `search`: how long `/search/?q=<one word>&format=json` takes over a
//! large message log.
//!
//! First it fills the server's database (SQLite file or PostgreSQL URL,
//! `--db`) with `--messages` messages (1,000,000) in 50 rooms, 2 of them
//! admin-only, by 20 authors, written straight into the tables in
//! multi-row INSERTs (the search index follows through its triggers or
//! GIN index, as it does for posts). Texts are 4 to 16 words drawn from a
//! vocabulary of 5,000 made-up words with Zipf's law (a word's frequency
//! falls as 1/rank, as in real language), so a query can pick a common,
//! a middling or a rare word. Rows already there from an earlier run
//! count towards the total, so a second run loads nothing.
//!
//! Then it signs a non-staff user in and times `--queries` searches, one
//! after the other, for each of three words: rank 5 (in about a fifth of
//! the messages), rank 100 (about 1%) and rank 3,000 (a few hundred), each
//! asking for the server's first page of results (newest first). Timed
//! from the request to the whole JSON body: what the search page waits.
//!
//! The server may run while the rows are loaded (it reads them only when
//! searching).

use super::RunOptions;
use crate::accounts::Site;
use crate::connect::Server;
use crate::report::{self, thousands};
use crate::stats::{LatencySummary, histogram};
use anyhow::{Context, bail};
use clap::Args;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use serde::Serialize;
use std::fmt::Write as _;
use std::time::Instant;

/// Options of `search`.
#[derive(Debug, Args)]
pub struct SearchArgs {
    /// The server.
    #[arg(long, default_value = "http://127.0.0.1:8000")]
    pub url: String,
    /// The server's database (its DATABASE_URL): a SQLite file or a
    /// postgres:// URL.
    #[arg(long)]
    pub db: String,
    /// Messages the benchmark rooms should hold (loaded if fewer).
    #[arg(long, default_value_t = 1_000_000)]
    pub messages: i64,
    /// Timed searches per word.
    #[arg(long, default_value_t = 300)]
    pub queries: usize,
    /// Untimed searches per word first.
    #[arg(long, default_value_t = 20)]
    pub warmup: usize,
    /// A free-form label copied into the JSON line.
    #[arg(long)]
    pub label: Option<String>,
}

/// Distinct words.
const VOCABULARY: usize = 5_000;
/// Rooms the messages are spread over; the first two are admin-only.
const ROOMS: usize = 50;
/// Authors.
const AUTHORS: usize = 20;
/// Rows per INSERT statement.
const ROWS_PER_INSERT: usize = 1_000;
/// INSERT statements per transaction.
const INSERTS_PER_COMMIT: usize = 50;
/// The words searched for: (label, Zipf rank).
const TIERS: [(&str, usize); 3] = [("common", 5), ("middling", 100), ("rare", 3_000)];

#[derive(Debug, Serialize)]
struct TierResult {
    word: String,
    rank: usize,
    /// Messages that contain it (of all the benchmark rooms').
    matching: i64,
    /// Results on the first page.
    page: usize,
    latency: LatencySummary,
}

#[derive(Debug, Serialize)]
struct SearchResult {
    scenario: &'static str,
    label: Option<String>,
    backend: &'static str,
    messages: i64,
    loaded: i64,
    load_secs: f64,
    tiers: Vec<TierResult>,
}

/// A connection to either backend; the load's SQL is the same for both.
enum Db {
    Sqlite(diesel::SqliteConnection),
    Pg(diesel::PgConnection),
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

impl Db {
    fn open(url: &str) -> anyhow::Result<Self> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Db::Pg(diesel::PgConnection::establish(url)?));
        }
        let path = url.strip_prefix("sqlite://").unwrap_or(url);
        if !std::path::Path::new(path).exists() {
            bail!("{path} does not exist; start confab once with DATABASE_URL={path}");
        }
        let mut conn = diesel::SqliteConnection::establish(path)?;
        conn.batch_execute("PRAGMA busy_timeout = 5000;")?;
        Ok(Db::Sqlite(conn))
    }

    fn backend(&self) -> &'static str {
        match self {
            Db::Sqlite(_) => "sqlite",
            Db::Pg(_) => "postgres",
        }
    }

    fn execute(&mut self, sql: &str) -> QueryResult<()> {
        match self {
            Db::Sqlite(c) => c.batch_execute(sql),
            Db::Pg(c) => c.batch_execute(sql),
        }
    }

    fn count(&mut self, sql: &str) -> QueryResult<i64> {
        let query = diesel::sql_query(sql);
        Ok(match self {
            Db::Sqlite(c) => query.get_result::<Count>(c)?.n,
            Db::Pg(c) => query.get_result::<Count>(c)?.n,
        })
    }
}

/// A made-up, pronounceable word for each rank (all distinct).
fn word(rank: usize) -> String {
    const SYLLABLES: [&str; 20] = [
        "ka", "lo", "mi", "nu", "pe", "ra", "si", "to", "vu", "ze", "ba", "do", "fi", "gu", "he",
        "ja", "ko", "li", "mo", "ne",
    ];
    let mut n = rank;
    let mut out = String::new();
    for _ in 0..3 {
        out.push_str(SYLLABLES[n % 20]);
        n /= 20;
    }
    out
}

/// splitmix64: fast, deterministic, good enough for made-up text.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Zipf's law over the vocabulary: the cumulative weights of 1/rank.
fn zipf_cdf() -> Vec<f64> {
    let mut total = 0.0;
    let mut cdf: Vec<f64> = (1..=VOCABULARY)
        .map(|rank| {
            total += 1.0 / rank as f64;
            total
        })
        .collect();
    for c in &mut cdf {
        *c /= total;
    }
    cdf
}

/// Loads rows until the benchmark rooms hold `target` messages.
fn load(db: &mut Db, target: i64) -> anyhow::Result<(i64, f64)> {
    let now = "2026-12-06 00:00:00";
    let mut setup = String::new();
    for r in 0..ROOMS {
        let admin_only = if r < 2 { "TRUE" } else { "FALSE" };
        let _ = write!(
            setup,
            "INSERT INTO rooms (name, admin_only, created_at) \
             SELECT 'search-{r}', {admin_only}, '{now}' \
             WHERE NOT EXISTS (SELECT 1 FROM rooms WHERE name = 'search-{r}');"
        );
    }
    for a in 0..AUTHORS {
        let _ = write!(
            setup,
            "INSERT INTO users (username, password_hash, is_staff, created_at) \
             SELECT 'search-author-{a}', '!', FALSE, '{now}' \
             WHERE NOT EXISTS (SELECT 1 FROM users WHERE username = 'search-author-{a}');"
        );
    }
    db.execute(&setup)?;
    let first_room =
        db.count("SELECT CAST(id AS BIGINT) AS n FROM rooms WHERE name = 'search-0'")?;
    let first_author =
        db.count("SELECT CAST(id AS BIGINT) AS n FROM users WHERE username = 'search-author-0'")?;
    let have = db.count(
        "SELECT count(*) AS n FROM messages m JOIN rooms r ON r.id = m.room_id \
         WHERE r.name LIKE 'search-%'",
    )?;
    let missing = (target - have).max(0);
    if missing == 0 {
        return Ok((0, 0.0));
    }
    println!("loading {} messages…", thousands(missing as u64));
    let cdf = zipf_cdf();
    let mut rng = Rng(0x5eed ^ have as u64);
    let started = Instant::now();
    let mut done = 0i64;
    let year = 365 * 24 * 3600;
    while done < missing {
        let mut batch = String::from("BEGIN;");
        for _ in 0..INSERTS_PER_COMMIT {
            if done >= missing {
                break;
            }
            batch.push_str("INSERT INTO messages (room_id, user_id, content, created_at) VALUES ");
            let rows = (missing - done).min(ROWS_PER_INSERT as i64);
            for i in 0..rows {
                let n = have + done + i;
                let room = first_room + (rng.below(ROOMS) as i64);
                let author = first_author + (rng.below(AUTHORS) as i64);
                let words = 4 + rng.below(13);
                let text: Vec<String> = (0..words)
                    .map(|_| {
                        let u = rng.unit();
                        word(cdf.partition_point(|&c| c < u) + 1)
                    })
                    .collect();
                // Spread over the year before `now`, in id order.
                let secs = n * year / target.max(1);
                let at = chrono_like(secs);
                let sep = if i == 0 { "" } else { "," };
                let _ = write!(
                    batch,
                    "{sep}({room}, {author}, '{}', '{at}')",
                    text.join(" ")
                );
            }
            batch.push(';');
            done += rows;
        }
        batch.push_str("COMMIT;");
        db.execute(&batch).context("loading messages")?;
        if done % 100_000 < (ROWS_PER_INSERT * INSERTS_PER_COMMIT) as i64 {
            println!(
                "  {} / {}",
                thousands(done as u64),
                thousands(missing as u64)
            );
        }
    }
    if let Db::Pg(_) = db {
        // Fold the GIN index's pending list in and give the planner
        // statistics, as autovacuum would soon after such a load.
        db.execute("VACUUM ANALYZE messages;")?;
    }
    Ok((missing, started.elapsed().as_secs_f64()))
}

/// `secs` after 2025-12-06 00:00:00 as `YYYY-MM-DD HH:MM:SS` (UTC), the
/// format the server's own timestamps compare with.
fn chrono_like(secs: i64) -> String {
    // Days from civil (Howard Hinnant's algorithm), from 2025-12-06.
    let start_days = 20_428; // 2025-12-06 since 1970-01-01
    let total = start_days * 86_400 + secs;
    let (days, rem) = (total.div_euclid(86_400), total.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Runs `search`.
pub async fn run(args: SearchArgs, options: RunOptions<'_>) -> anyhow::Result<()> {
    let server = Server::parse(&args.url)?;
    let mut db = Db::open(&args.db)?;
    let backend = db.backend();
    let (loaded, load_secs) = load(&mut db, args.messages)?;
    if loaded > 0 {
        println!(
            "loaded {} messages in {load_secs:.1} s ({:.0} rows/s)",
            thousands(loaded as u64),
            loaded as f64 / load_secs.max(1e-9)
        );
    }
    let messages = db.count(
        "SELECT count(*) AS n FROM messages m JOIN rooms r ON r.id = m.room_id \
         WHERE r.name LIKE 'search-%'",
    )?;
    let site = Site::new(&server)?;
    let account = site.sign_in("search-reader").await?;
    let http = reqwest::Client::builder().no_proxy().build()?;
    let mut tiers = Vec::new();
    for (tier, rank) in TIERS {
        let word = word(rank);
        let url = format!("{}/search/?q={word}&format=json", server.http_base());
        let mut h = histogram();
        let mut page = 0;
        for i in 0..args.warmup + args.queries {
            if Instant::now() > options.deadline {
                bail!("out of time");
            }
            let started = Instant::now();
            let response = http
                .get(&url)
                .header(reqwest::header::COOKIE, &account.cookie)
                .send()
                .await?;
            let status = response.status();
            let body = response.text().await?;
            let micros = started.elapsed().as_micros() as u64;
            if !status.is_success() {
                bail!("GET {url}: {status}: {body}");
            }
            if i >= args.warmup {
                h.saturating_record(micros.max(1));
            }
            page = serde_json::from_str::<serde_json::Value>(&body)?["results"]
                .as_array()
                .map_or(0, Vec::len);
        }
        // Counted the simple way (a scan), once, for the report.
        let matching = db.count(&format!(
            "SELECT count(*) AS n FROM messages m JOIN rooms r ON r.id = m.room_id \
             WHERE r.name LIKE 'search-%' AND (' ' || m.content || ' ') LIKE '% {word} %'"
        ))?;
        let latency = LatencySummary::of(&h);
        report::print_table(
            &format!("search: {tier} word \"{word}\" (rank {rank}), {backend}"),
            &[
                ("messages", thousands(messages as u64)),
                ("containing it", thousands(matching as u64)),
                ("results on the page", page.to_string()),
                ("searches", latency.count.to_string()),
                ("p50", format!("{:.2} ms", latency.p50_ms)),
                ("p90", format!("{:.2} ms", latency.p90_ms)),
                ("p99", format!("{:.2} ms", latency.p99_ms)),
                ("max", format!("{:.2} ms", latency.max_ms)),
            ],
        );
        tiers.push(TierResult {
            word,
            rank,
            matching,
            page,
            latency,
        });
    }
    report::emit(
        &SearchResult {
            scenario: "search",
            label: args.label,
            backend,
            messages,
            loaded,
            load_secs,
            tiers,
        },
        options.json_out,
    )
}
