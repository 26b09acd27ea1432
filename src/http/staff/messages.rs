//! `/staff/messages/`: search every room with the team chat's search (its
//! syntax: words, `"phrases"`, `from:`, `in:`, `after:`, `before:`), see a
//! message in its context, delete it with a reason; and bulk-delete what
//! one user posted in rooms in the last hours (the usual answer to a
//! spammer), after a confirmation that says how many messages will go.
//!
//! The console searches every room, admin-only and private ones included,
//! but no direct conversation: their content is their two participants'
//! alone ([`Scope::EveryRoom`]).

use super::{Kept, Section, Staff, Time, console_path, perform_and_return, refuse, render};
use crate::config::Settings;
use crate::db::Database;
use crate::db::queries::search::{self as search_queries, HitPlace, Scope, Search, SearchError};
use crate::db::queries::{self, staff};
use crate::domain::{MessageId, Reason, SearchQuery, Segment, Username};
use crate::http::error::sentence;
use crate::http::{AppError, Templates, auth::check_csrf};
use crate::moderation::{Action, Moderation};
use actix_session::Session;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};

/// Registers the message pages and forms.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(search).service(delete).service(bulk_delete);
}

#[derive(Deserialize)]
struct SearchParams {
    q: Option<String>,
    /// The next page: results older than this message id.
    before: Option<String>,
}

/// A message found.
#[derive(Serialize)]
struct HitView {
    id: i64,
    room: String,
    author: String,
    highlight: Vec<Segment>,
    posted: Time,
    /// The message in its room.
    url: String,
}

#[get("/staff/messages/")]
#[allow(clippy::too_many_arguments)] // each is one piece of shared state
async fn search(
    Staff(me): Staff,
    req: HttpRequest,
    params: web::Query<SearchParams>,
    templates: web::Data<Templates>,
    db: web::Data<Database>,
    settings: web::Data<Settings>,
    session: Session,
) -> Result<HttpResponse, AppError> {
    let raw = params.q.as_deref().unwrap_or("").trim().to_owned();
    let mut error = None;
    let mut hits: Vec<HitView> = Vec::new();
    let mut next = None;
    if !raw.is_empty() {
        let before_id = params
            .before
            .as_deref()
            .and_then(|b| b.parse::<i64>().ok())
            .filter(|&id| id > 0)
            .map(MessageId);
        match SearchQuery::parse(&raw, settings.search_max_query_chars) {
            Err(e) => error = Some(sentence(&e)),
            Ok(query) => {
                let limit = i64::try_from(settings.staff_page_size).unwrap_or(i64::MAX);
                let viewer = me.clone();
                let found = db
                    .run(move |c| {
                        search_queries::search(
                            c,
                            &Search {
                                query: &query,
                                viewer: &viewer,
                                scope: Scope::EveryRoom,
                                before_id,
                                limit,
                            },
                        )
                    })
                    .await;
                match found {
                    Ok(found) => {
                        next = found.next_before.map(|id| {
                            let query = serde_urlencoded::to_string([
                                ("q", raw.as_str()),
                                ("before", &id.to_string()),
                            ])
                            .unwrap_or_default();
                            format!("/staff/messages/?{query}")
                        });
                        hits = found.hits.into_iter().filter_map(hit_view).collect();
                    }
                    Err(SearchError::Db(e)) => return Err(e.into()),
                    Err(e) => error = Some(sentence(&e)),
                }
            }
        }
    }
    // Where the delete buttons bring the browser back to: this very page.
    let here = match req.query_string() {
        "" => "/staff/messages/".to_owned(),
        q => format!("/staff/messages/?{q}"),
    };
    render(
        &templates,
        &session,
        &me,
        Section::Messages,
        "Messages",
        "staff/messages.html",
        |ctx| {
            ctx.insert("q", &raw);
            ctx.insert("searched", &(!raw.is_empty() && error.is_none()));
            if let Some(error) = &error {
                ctx.insert("error", error);
            }
            ctx.insert("hits", &hits);
            if let Some(next) = &next {
                ctx.insert("next", next);
            }
            ctx.insert("back_to", &here);
            ctx.insert("bulk_max_hours", &settings.bulk_delete_max_hours);
        },
    )
}

/// A result as the page shows it; none for a direct conversation, which
/// [`Scope::EveryRoom`] never returns.
fn hit_view(hit: search_queries::Hit) -> Option<HitView> {
    let HitPlace::Room(room) = hit.place else {
        return None;
    };
    Some(HitView {
        id: hit.id.0,
        url: format!("/chat/{room}/?around={}", hit.id),
        room,
        author: hit.author,
        highlight: hit.highlight,
        posted: hit.created_at.into(),
    })
}

#[derive(Deserialize)]
struct DeleteForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    id: String,
    #[serde(default)]
    reason: String,
    /// The console page to return to.
    #[serde(default)]
    back: String,
}

/// Deletes one message, with a reason for the audit log.
#[post("/staff/messages/delete/")]
async fn delete(
    Staff(me): Staff,
    form: web::Form<DeleteForm>,
    moderation: web::Data<Moderation>,
    settings: web::Data<Settings>,
    session: Session,
) -> Result<HttpResponse, AppError> {
    check_csrf(&session, &form.csrf_token)?;
    let back = console_path(&form.back);
    let kept = Kept::form(&format!("delete-{}", form.id.trim())).with("reason", &form.reason);
    let Some(id) = form.id.trim().parse::<i64>().ok().filter(|&id| id > 0) else {
        return refuse(&session, back, "That is not a message.".to_owned(), kept);
    };
    let reason = match Reason::parse(&form.reason, settings.moderation_reason_max_chars) {
        Ok(reason) => reason,
        Err(e) => return refuse(&session, back, sentence(&e), kept),
    };
    let action = Action::DeleteMessage {
        id: MessageId(id),
        reason,
    };
    perform_and_return(&moderation, &session, &me, action, back, kept).await
}

#[derive(Deserialize)]
struct BulkForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    user: String,
    #[serde(default)]
    hours: String,
    #[serde(default)]
    reason: String,
    /// `yes` once the confirmation was seen; else the confirmation is
    /// shown.
    #[serde(default)]
    confirm: String,
}

/// A bulk delete as the form asks for it, parsed.
struct Bulk {
    user: Username,
    hours: u32,
    reason: Reason,
}

impl BulkForm {
    fn parse(&self, settings: &Settings) -> Result<Bulk, String> {
        let user = Username::parse(self.user.trim()).map_err(|e| sentence(&e))?;
        let max = settings.bulk_delete_max_hours;
        let hours = self
            .hours
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|h| (1..=max).contains(h))
            .ok_or_else(|| {
                format!("Say how many hours back to delete: a whole number from 1 to {max}.")
            })?;
        let reason = Reason::parse(&self.reason, settings.moderation_reason_max_chars)
            .map_err(|e| sentence(&e))?;
        Ok(Bulk {
            user,
            hours,
            reason,
        })
    }
}

/// Asks to confirm a bulk delete, saying how many messages would go; or,
/// confirmed, deletes them.
#[post("/staff/messages/bulk/")]
#[allow(clippy::too_many_arguments)] // each is one piece of shared state
async fn bulk_delete(
    Staff(me): Staff,
    form: web::Form<BulkForm>,
    templates: web::Data<Templates>,
    db: web::Data<Database>,
    moderation: web::Data<Moderation>,
    settings: web::Data<Settings>,
    session: Session,
) -> Result<HttpResponse, AppError> {
    check_csrf(&session, &form.csrf_token)?;
    let back = "/staff/messages/";
    let kept = Kept::form("bulk")
        .with("user", &form.user)
        .with("hours", &form.hours)
        .with("reason", &form.reason);
    let bulk = match form.parse(&settings) {
        Ok(bulk) => bulk,
        Err(error) => return refuse(&session, back, error, kept),
    };
    if form.confirm == "yes" {
        let action = Action::BulkDelete {
            user: bulk.user,
            hours: bulk.hours,
            reason: bulk.reason,
        };
        return perform_and_return(&moderation, &session, &me, action, back, kept).await;
    }
    let since = queries::now() - chrono::TimeDelta::hours(i64::from(bulk.hours));
    let name = bulk.user.as_str().to_owned();
    let Some(count) = db
        .run(move |c| staff::messages_since(c, &name, since))
        .await?
    else {
        return refuse(
            &session,
            back,
            format!("There is no user called {}.", bulk.user),
            kept,
        );
    };
    let hours = match bulk.hours {
        1 => "hour".to_owned(),
        n => format!("{n} hours"),
    };
    let question = match count {
        0 => format!(
            "{} posted nothing in the last {hours}: there is nothing to delete.",
            bulk.user
        ),
        1 => format!(
            "Delete the 1 message {} posted in the last {hours}, in every room? This cannot be undone.",
            bulk.user
        ),
        n => format!(
            "Delete the {n} messages {} posted in the last {hours}, in every room? This cannot be undone.",
            bulk.user
        ),
    };
    render(
        &templates,
        &session,
        &me,
        Section::Messages,
        "Delete a user's messages",
        "staff/bulk_delete.html",
        |ctx| {
            ctx.insert("subpage", &true);
            ctx.insert("question", &question);
            ctx.insert("count", &count);
            ctx.insert("whose", bulk.user.as_str());
            ctx.insert("hours", &bulk.hours);
            ctx.insert("reason", bulk.reason.as_str());
        },
    )
}
