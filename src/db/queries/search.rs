//! Full-text search over the messages a user may see (`/search/`).
//!
//! One query serves both backends. It is assembled as SQL text because the
//! part that differs cannot be said in diesel's DSL: SQLite searches an
//! FTS5 table (`messages_fts`, outside schema.rs) and PostgreSQL a stored
//! tsvector column with a GIN index (`messages.search_doc`, also outside
//! schema.rs; migrations/*/2026-12-06-000010_message_search). Those
//! differences are confined to [`Dialect`]: where the rows come from, the
//! match clause, the column the results are ordered by, and the
//! placeholder syntax. The excerpt with its matches marked is made in Rust
//! ([`highlight`]), the same for both. Everything else (visibility, the
//! filters, paging) is written once below.
//!
//! Visibility ([`Scope`]): a result is a live (not deleted) message in a
//! room the searcher may enter (every ordinary room, admin-only ones for
//! staff, private ones for their members and staff) or in a direct
//! conversation they take part in (`rooms.direct_a`/`direct_b`); in the
//! staff console, in any room and in no direct conversation. Results come
//! newest first, a page at a
//! time; the next page starts below the last id shown (keyset paging, so
//! its cost does not grow with the page number).
//!
//! Speed: on SQLite the FTS5 table drives the query in descending rowid
//! order (FTS5 reads its posting lists backwards), so a page of a common
//! word stops after its first matches; on PostgreSQL the planner chooses
//! between the GIN index and walking the primary key backwards, testing
//! each row's stored tsvector. See
//! `confab-bench search` and BENCHMARKS.md.

use super::{memberships, rooms, users};
use crate::db::{DbConnection, DbError};
use crate::domain::{Identity, MessageId, Place, SearchQuery, Segment, highlight};
use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Nullable, Text, Timestamp};

/// What to search for, for whom, and which page.
#[derive(Debug, Clone)]
pub struct Search<'a> {
    /// The parsed query.
    pub query: &'a SearchQuery,
    /// Who searches: what they may see.
    pub viewer: &'a Identity,
    /// Whose view: the viewer's own, or the staff console's.
    pub scope: Scope,
    /// Only results older than this message (the next page).
    pub before_id: Option<MessageId>,
    /// Results per page.
    pub limit: i64,
}

/// Which messages a search looks through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// What the viewer may see: the rooms they may enter and their own
    /// direct conversations.
    Viewer,
    /// The staff console's (`/staff/messages/`): every room, admin-only
    /// and private ones included, and no direct conversation, whose
    /// content is its participants' alone.
    EveryRoom,
}

/// One page of results.
#[derive(Debug, Clone)]
pub struct Found {
    /// Newest first.
    pub hits: Vec<Hit>,
    /// Where the next page starts, if there are more results.
    pub next_before: Option<MessageId>,
}

/// A message found.
#[derive(Debug, Clone)]
pub struct Hit {
    /// Its id.
    pub id: MessageId,
    /// Where it was posted.
    pub place: HitPlace,
    /// Its author's name.
    pub author: String,
    /// Its whole text.
    pub content: String,
    /// When it was posted (UTC).
    pub created_at: NaiveDateTime,
    /// An excerpt of the text around the matches, cut into plain and
    /// matched parts (concatenated, they are the excerpt).
    pub highlight: Vec<Segment>,
}

/// A room, or a direct conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HitPlace {
    /// An ordinary room, by name.
    Room(String),
    /// A direct conversation, by the other participant's name (the
    /// searcher's own for notes to self).
    Direct(String),
}

/// Why a search could not run.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// `from:` or `in:@` names nobody.
    #[error("there is no user called {0}")]
    NoSuchUser(String),
    /// `in:` names no room the searcher may enter.
    #[error("there is no room called {0} that you can enter")]
    NoSuchRoom(String),
    /// `in:@` in the staff console.
    #[error("the staff console does not search direct conversations")]
    DirectOutOfScope,
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<diesel::result::Error> for SearchError {
    fn from(e: diesel::result::Error) -> Self {
        SearchError::Db(e.into())
    }
}

/// Runs `search`.
pub fn search(conn: &mut DbConnection, search: &Search<'_>) -> Result<Found, SearchError> {
    let filters = resolve(conn, search)?;
    let dialect = match conn {
        DbConnection::Sqlite(_) => Dialect::Sqlite,
        #[cfg(feature = "postgres")]
        DbConnection::Pg(_) => Dialect::Postgres,
    };
    let sql = build(dialect, search, &filters);
    // The same statement and binds on either connection; only the Rust
    // types of the backends differ, hence the macro.
    macro_rules! load {
        ($c:expr, $db:ty) => {{
            let mut query = diesel::sql_query(sql.text.as_str()).into_boxed::<$db>();
            for bind in &sql.binds {
                query = match bind.clone() {
                    Bind::Int(v) => query.bind::<Integer, _>(v),
                    Bind::Big(v) => query.bind::<BigInt, _>(v),
                    Bind::Text(v) => query.bind::<Text, _>(v),
                    Bind::Time(v) => query.bind::<Timestamp, _>(v),
                };
            }
            query.load::<Row>($c)
        }};
    }
    let mut rows = match conn {
        DbConnection::Sqlite(c) => load!(c, diesel::sqlite::Sqlite),
        #[cfg(feature = "postgres")]
        DbConnection::Pg(c) => load!(c, diesel::pg::Pg),
    }?;
    let limit = usize::try_from(search.limit).unwrap_or(0);
    let more = rows.len() > limit;
    rows.truncate(limit);
    let hits: Vec<Hit> = rows
        .into_iter()
        .map(|row| row.into_hit(search.query, search.viewer))
        .collect();
    let next_before = more.then(|| hits.last().map(|h| h.id)).flatten();
    Ok(Found { hits, next_before })
}

/// The filters, as ids.
#[derive(Debug, Default)]
struct Filters {
    author: Option<i32>,
    room: Option<i32>,
    /// The direct conversation's participants, lower id first.
    direct: Option<(i32, i32)>,
}

/// Looks up the users and the room the filters name.
fn resolve(conn: &mut DbConnection, search: &Search<'_>) -> Result<Filters, SearchError> {
    let mut filters = Filters::default();
    if let Some(name) = &search.query.from {
        let user = users::by_login_name(conn, name)?
            .ok_or_else(|| SearchError::NoSuchUser(name.to_string()))?;
        filters.author = Some(user.id.0);
    }
    match &search.query.place {
        None => {}
        Some(Place::Room(name)) => {
            let everywhere = search.scope == Scope::EveryRoom;
            let viewer = search.viewer;
            let room = match rooms::by_name(conn, name.as_str())? {
                Some(r)
                    if r.direct_a.is_none() && (everywhere || viewer.is_staff || !r.admin_only) =>
                {
                    // A private room is no one's business but its members'.
                    let hidden = !everywhere
                        && r.invite_only
                        && !viewer.is_staff
                        && !memberships::is_member(conn, viewer.id, r.id)?;
                    (!hidden).then_some(r)
                }
                _ => None,
            }
            .ok_or_else(|| SearchError::NoSuchRoom(name.to_string()))?;
            filters.room = Some(room.id.0);
        }
        Some(Place::Direct(_)) if search.scope == Scope::EveryRoom => {
            return Err(SearchError::DirectOutOfScope);
        }
        Some(Place::Direct(name)) => {
            let other = users::by_login_name(conn, name)?
                .ok_or_else(|| SearchError::NoSuchUser(name.to_string()))?;
            let (me, them) = (search.viewer.id.0, other.id.0);
            filters.direct = Some((me.min(them), me.max(them)));
        }
    }
    Ok(filters)
}

/// The backend-specific pieces of the statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialect {
    Sqlite,
    #[cfg(feature = "postgres")]
    Postgres,
}

/// A value bound to the statement.
#[derive(Debug, Clone)]
enum Bind {
    Int(i32),
    Big(i64),
    Text(String),
    Time(NaiveDateTime),
}

/// SQL text and its binds, in order.
struct Sql {
    dialect: Dialect,
    text: String,
    binds: Vec<Bind>,
}

impl Sql {
    /// The placeholder for `bind`, which is bound next.
    fn param(&mut self, bind: Bind) -> String {
        self.binds.push(bind);
        match self.dialect {
            Dialect::Sqlite => "?".to_owned(),
            #[cfg(feature = "postgres")]
            Dialect::Postgres => format!("${}", self.binds.len()),
        }
    }
}

/// The statement for `search` on `dialect`.
fn build(dialect: Dialect, search: &Search<'_>, filters: &Filters) -> Sql {
    let mut sql = Sql {
        dialect,
        text: String::new(),
        binds: Vec::new(),
    };
    let query = search.query;
    let words = !query.phrases.is_empty();
    // The backend-specific part: rows, match, order.
    let (source, matches, order) = match (dialect, words) {
        (Dialect::Sqlite, true) => {
            // FTS5's query language: each phrase in double quotes (a quote
            // inside doubled), the phrases ANDed; nothing typed is syntax.
            let fts: Vec<String> = query
                .phrases
                .iter()
                .map(|p| format!("\"{}\"", p.as_str().replace('"', "\"\"")))
                .collect();
            let fts = sql.param(Bind::Text(fts.join(" ")));
            (
                "messages_fts JOIN messages m ON m.id = messages_fts.rowid",
                format!("messages_fts MATCH {fts}"),
                "messages_fts.rowid",
            )
        }
        #[cfg(feature = "postgres")]
        (Dialect::Postgres, true) => {
            // The stored tsvector (its GIN index); each phrase through
            // phraseto_tsquery, which treats nothing typed as syntax.
            let tsquery: Vec<String> = query
                .phrases
                .iter()
                .map(|p| {
                    let p = sql.param(Bind::Text(p.as_str().to_owned()));
                    format!("phraseto_tsquery('simple', {p})")
                })
                .collect();
            (
                "messages m",
                format!("m.search_doc @@ ({})", tsquery.join(" && ")),
                "m.id",
            )
        }
        // Filters alone: the newest messages they admit, whole.
        (_, false) => ("messages m", "1 = 1".to_owned(), "m.id"),
    };
    let seen = match search.scope {
        Scope::EveryRoom => "r.direct_a IS NULL".to_owned(),
        Scope::Viewer => {
            let me = search.viewer.id.0;
            // Parameters in the order they appear (SQLite's are positional).
            let rooms_seen = if search.viewer.is_staff {
                "r.direct_a IS NULL".to_owned()
            } else {
                let me_member = sql.param(Bind::Int(me));
                format!(
                    "r.direct_a IS NULL AND r.admin_only = FALSE AND (r.invite_only = FALSE OR \
                     EXISTS (SELECT 1 FROM memberships mm WHERE mm.room_id = r.id \
                     AND mm.user_id = {me_member}))"
                )
            };
            let me_a = sql.param(Bind::Int(me));
            let me_b = sql.param(Bind::Int(me));
            format!("(({rooms_seen}) OR r.direct_a = {me_a} OR r.direct_b = {me_b})")
        }
    };
    let mut conditions = vec![matches, "m.deleted_at IS NULL".to_owned(), seen];
    if let Some(author) = filters.author {
        conditions.push(format!("m.user_id = {}", sql.param(Bind::Int(author))));
    }
    if let Some(room) = filters.room {
        conditions.push(format!("m.room_id = {}", sql.param(Bind::Int(room))));
    }
    if let Some((a, b)) = filters.direct {
        let a = sql.param(Bind::Int(a));
        let b = sql.param(Bind::Int(b));
        conditions.push(format!("r.direct_a = {a} AND r.direct_b = {b}"));
    }
    if let Some(day) = query.after {
        conditions.push(format!("m.created_at >= {}", sql.param(midnight(day))));
    }
    if let Some(day) = query.before {
        conditions.push(format!("m.created_at < {}", sql.param(midnight(day))));
    }
    if let Some(before) = search.before_id {
        conditions.push(format!("{order} < {}", sql.param(Bind::Big(before.0))));
    }
    let limit = sql.param(Bind::Big(search.limit.saturating_add(1)));
    sql.text = format!(
        "SELECT m.id, m.content, m.created_at, author.username AS author, \
                r.name AS room, r.direct_a, da.username AS direct_a_name, \
                db.username AS direct_b_name \
         FROM {source} \
         JOIN rooms r ON r.id = m.room_id \
         JOIN users author ON author.id = m.user_id \
         LEFT JOIN users da ON da.id = r.direct_a \
         LEFT JOIN users db ON db.id = r.direct_b \
         WHERE {} \
         ORDER BY {order} DESC \
         LIMIT {limit}",
        conditions.join(" AND ")
    );
    sql
}

fn midnight(day: NaiveDate) -> Bind {
    Bind::Time(day.and_time(chrono::NaiveTime::MIN))
}

/// A result row as the statement returns it.
#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    content: String,
    #[diesel(sql_type = Timestamp)]
    created_at: NaiveDateTime,
    #[diesel(sql_type = Text)]
    author: String,
    #[diesel(sql_type = Text)]
    room: String,
    #[diesel(sql_type = Nullable<Integer>)]
    direct_a: Option<i32>,
    #[diesel(sql_type = Nullable<Text>)]
    direct_a_name: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    direct_b_name: Option<String>,
}

impl Row {
    fn into_hit(self, query: &SearchQuery, viewer: &Identity) -> Hit {
        let place = match (self.direct_a, self.direct_a_name, self.direct_b_name) {
            (Some(a), Some(a_name), Some(b_name)) => {
                HitPlace::Direct(if a == viewer.id.0 { b_name } else { a_name })
            }
            _ => HitPlace::Room(self.room),
        };
        let highlight = highlight(query, &self.content);
        Hit {
            id: MessageId(self.id),
            place,
            author: self.author,
            content: self.content,
            created_at: self.created_at,
            highlight,
        }
    }
}
