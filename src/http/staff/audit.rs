//! `/staff/audit/`: the audit log, newest first, a page at a time,
//! filtered by who acted, what they did, whom or where (text in the
//! target or the room) and on which day. Read only: nothing in the
//! console (or anywhere else) edits or deletes an entry.

use super::{Pager, PageNumber, Section, Staff, Time, render, search_text};
use crate::config::Settings;
use crate::db::Database;
use crate::db::queries::staff::{self, AuditFilter};
use crate::http::{AppError, Templates};
use actix_session::Session;
use actix_web::{HttpResponse, get, web};
use serde::{Deserialize, Serialize};

/// Registers the audit page.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(audit);
}

/// Every action word the log holds, for the filter's choices.
const ACTIONS: &[&str] = &[
    "room.create",
    "room.rename",
    "room.access",
    "room.lock",
    "room.unlock",
    "room.slow_mode",
    "room.archive",
    "room.unarchive",
    "room.delete",
    "room.invite",
    "room.uninvite",
    "room.moderator_add",
    "room.moderator_remove",
    "user.kick",
    "user.mute",
    "user.unmute",
    "user.ban",
    "user.unban",
    "user.promote",
    "user.demote",
    "user.deactivate",
    "user.reactivate",
    "user.end_sessions",
    "user.set_password",
    "message.delete",
    "message.bulk_delete",
    "report.file",
    "report.resolve",
];

/// Longest filter text sent to the database (longer than any name).
const MAX_FILTER_CHARS: usize = 100;

#[derive(Deserialize)]
struct AuditParams {
    actor: Option<String>,
    action: Option<String>,
    q: Option<String>,
    day: Option<String>,
}

/// An entry as the page shows it.
#[derive(Serialize)]
struct EntryView {
    at: Time,
    actor: String,
    action: String,
    target: String,
    room: Option<String>,
    reason: String,
    detail: String,
}

#[get("/staff/audit/")]
async fn audit(
    Staff(me): Staff,
    params: web::Query<AuditParams>,
    page: web::Query<PageNumber>,
    templates: web::Data<Templates>,
    db: web::Data<Database>,
    settings: web::Data<Settings>,
    session: Session,
) -> Result<HttpResponse, AppError> {
    let actor = search_text(params.actor.as_deref(), MAX_FILTER_CHARS);
    let action = search_text(params.action.as_deref(), MAX_FILTER_CHARS);
    let text = search_text(params.q.as_deref(), MAX_FILTER_CHARS);
    let day_raw = search_text(params.day.as_deref(), MAX_FILTER_CHARS);
    let mut error = None;
    let day = match day_raw.as_deref() {
        None => None,
        Some(raw) => match chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
            Ok(day) => Some(day),
            Err(_) => {
                error = Some(format!(
                    "{raw:?} is not a day; write it as YYYY-MM-DD, e.g. 2026-12-06."
                ));
                None
            }
        },
    };
    let filter = AuditFilter {
        actor: actor.clone(),
        action: action.clone(),
        text: text.clone(),
        day,
    };
    let rows = page.rows(settings.staff_page_size);
    let found = db.run(move |c| staff::audit(c, &filter, rows)).await?;
    let or_empty = |v: &Option<String>| v.clone().unwrap_or_default();
    let (actor, action, text, day_raw) = (
        or_empty(&actor),
        or_empty(&action),
        or_empty(&text),
        or_empty(&day_raw),
    );
    let pager = Pager::new(
        "/staff/audit/",
        &[
            ("actor", &actor),
            ("action", &action),
            ("q", &text),
            ("day", &day_raw),
        ],
        *page,
        found.more,
    );
    let entries: Vec<EntryView> = found
        .rows
        .into_iter()
        .map(|e| EntryView {
            at: e.at.into(),
            actor: e.actor,
            action: e.action,
            target: e.target,
            room: e.room,
            reason: e.reason,
            detail: e.detail,
        })
        .collect();
    let filtered = !(actor.is_empty() && action.is_empty() && text.is_empty() && day_raw.is_empty());
    render(
        &templates,
        &session,
        &me,
        Section::Audit,
        "Audit log",
        "staff/audit.html",
        |ctx| {
            ctx.insert("entries", &entries);
            ctx.insert("actions", ACTIONS);
            ctx.insert("actor", &actor);
            ctx.insert("action", &action);
            ctx.insert("q", &text);
            ctx.insert("day", &day_raw);
            ctx.insert("filtered", &filtered);
            if let Some(error) = &error {
                ctx.insert("error", error);
            }
            ctx.insert("pager", &pager);
        },
    )
}
