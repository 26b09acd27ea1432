//! `/search/`: full-text search over the messages the signed-in user may
//! see, as a page or (`&format=json`) as JSON.
//!
//! The query string is parsed once into a
//! [`SearchQuery`](crate::domain::SearchQuery) (its module documents the
//! syntax); the search itself is [`queries::search`]. A query that cannot
//! be understood is shown again with a sentence saying why (400), on the
//! page or as `{"error": "..."}`. Each result links to the message in its
//! context: `/chat/<room>/?around=<id>`, or `/chat/@<user>/?around=<id>`
//! in a direct conversation.

use super::auth::{SignedIn, csrf_token};
use super::error::sentence;
use super::{AppError, Templates};
use crate::config::Settings;
use crate::db::Database;
use crate::db::queries::search::{self as queries, Found, HitPlace, Scope, Search, SearchError};
use crate::domain::{MessageId, SearchQuery, Segment};
use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, web};
use serde::{Deserialize, Serialize};

/// Registers `/search/`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(search);
}

#[derive(Deserialize)]
struct SearchParams {
    /// What was typed into the search box.
    q: Option<String>,
    /// The next page: results older than this message id.
    before: Option<String>,
    /// `json` for JSON instead of the page.
    format: Option<String>,
}

/// One result, as the page and the JSON show it.
#[derive(Serialize)]
struct ResultView {
    id: i64,
    /// The room's name, for a room.
    #[serde(skip_serializing_if = "Option::is_none")]
    room: Option<String>,
    /// `@<other participant>`, for a direct conversation.
    #[serde(skip_serializing_if = "Option::is_none")]
    conversation: Option<String>,
    user: String,
    message: String,
    /// RFC 3339, UTC, milliseconds (as in the WebSocket protocol).
    created_at: String,
    /// An excerpt around the matches: its pieces in order, each with
    /// `match` true where a searched term was found.
    highlight: Vec<Segment>,
    /// The message in context.
    url: String,
    /// `created_at`, for the page's own format.
    #[serde(skip)]
    posted: chrono::NaiveDateTime,
}

/// A result on the page: the JSON's fields and a readable time.
#[derive(Serialize)]
struct ResultOnPage<'a> {
    #[serde(flatten)]
    result: &'a ResultView,
    /// `2026-12-06 19:40 UTC`.
    when: String,
}

/// The JSON answer.
#[derive(Serialize)]
struct ResultsJson<'a> {
    results: &'a [ResultView],
    /// The next page's URL (same format), if there are more results.
    next: Option<&'a str>,
}

/// A refused search as JSON.
#[derive(Serialize)]
struct ErrorJson {
    error: String,
}

#[get("/search/")]
async fn search(
    SignedIn(user): SignedIn,
    params: web::Query<SearchParams>,
    templates: web::Data<Templates>,
    db: web::Data<Database>,
    settings: web::Data<Settings>,
    session: Session,
) -> Result<HttpResponse, AppError> {
    let json = params.format.as_deref() == Some("json");
    let raw = params.q.as_deref().unwrap_or("").trim().to_owned();
    let page = Page {
        json,
        raw: &raw,
        templates: &templates,
        session: &session,
        user: &user,
    };
    if raw.is_empty() && !json {
        // The search box and its help, nothing searched yet.
        return page.render(StatusCode::OK, None, None);
    }
    let before_id = match params.before.as_deref().map(str::parse::<i64>) {
        None => None,
        Some(Ok(id)) if id > 0 => Some(MessageId(id)),
        Some(_) => {
            return page.refuse("The page asked for (before=) is not a message id.".to_owned());
        }
    };
    let query = match SearchQuery::parse(&raw, settings.search_max_query_chars) {
        Ok(query) => query,
        Err(e) => return page.refuse(sentence(&e)),
    };
    let limit = i64::try_from(settings.search_page_size).unwrap_or(i64::MAX);
    let viewer = user.clone();
    let found = db
        .run(move |c| {
            queries::search(
                c,
                &Search {
                    query: &query,
                    viewer: &viewer,
                    scope: Scope::Viewer,
                    before_id,
                    limit,
                },
            )
        })
        .await;
    match found {
        Ok(found) => page.render(StatusCode::OK, None, Some(found)),
        Err(SearchError::Db(e)) => Err(e.into()),
        Err(e) => page.refuse(sentence(&e)),
    }
}

/// What a response of `/search/` is made from.
struct Page<'a> {
    json: bool,
    raw: &'a str,
    templates: &'a Templates,
    session: &'a Session,
    user: &'a crate::domain::Identity,
}

impl Page<'_> {
    /// The search shown again with `error` (400).
    fn refuse(&self, error: String) -> Result<HttpResponse, AppError> {
        self.render(StatusCode::BAD_REQUEST, Some(error), None)
    }

    fn render(
        &self,
        status: StatusCode,
        error: Option<String>,
        found: Option<Found>,
    ) -> Result<HttpResponse, AppError> {
        let (results, next_before) = match found {
            Some(found) => (
                found.hits.into_iter().map(view).collect::<Vec<_>>(),
                found.next_before,
            ),
            None => (Vec::new(), None),
        };
        let next = next_before.map(|id| self.page_url(id));
        if self.json {
            let mut response = HttpResponse::build(status);
            return Ok(match error {
                Some(error) => response.json(ErrorJson { error }),
                None => response.json(ResultsJson {
                    results: &results,
                    next: next.as_deref(),
                }),
            });
        }
        let mut ctx = Templates::context("Search", Some(self.user), &csrf_token(self.session)?);
        ctx.insert("q", self.raw);
        let on_page: Vec<ResultOnPage<'_>> = results
            .iter()
            .map(|result| ResultOnPage {
                result,
                when: result.posted.format("%Y-%m-%d %H:%M UTC").to_string(),
            })
            .collect();
        ctx.insert("results", &on_page);
        ctx.insert("searched", &(error.is_none() && !self.raw.is_empty()));
        if let Some(next) = &next {
            ctx.insert("next", next);
        }
        if let Some(error) = &error {
            ctx.insert("error", error);
        }
        let body = self.templates.render("search.html", &ctx)?;
        Ok(HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .body(body))
    }

    /// The URL of the page of results older than `before`.
    fn page_url(&self, before: MessageId) -> String {
        let before = before.0.to_string();
        let mut pairs = vec![("q", self.raw), ("before", before.as_str())];
        if self.json {
            pairs.push(("format", "json"));
        }
        let query = serde_urlencoded::to_string(pairs).unwrap_or_default();
        format!("/search/?{query}")
    }
}

fn view(hit: queries::Hit) -> ResultView {
    let (room, conversation, url) = match hit.place {
        HitPlace::Room(name) => {
            let url = format!("/chat/{name}/?around={}", hit.id);
            (Some(name), None, url)
        }
        HitPlace::Direct(other) => {
            let url = format!("/chat/@{other}/?around={}", hit.id);
            (None, Some(format!("@{other}")), url)
        }
    };
    ResultView {
        id: hit.id.0,
        room,
        conversation,
        user: hit.author,
        message: hit.content,
        created_at: hit
            .created_at
            .and_utc()
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        highlight: hit.highlight,
        url,
        posted: hit.created_at,
    }
}
