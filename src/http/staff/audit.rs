//! `/staff/audit/`: the audit log, newest first, a page at a time,
//! filtered by who acted, what they did (an action, or every action on
//! rooms, users, messages or reports), whom or where (text in the target
//! or the room) and since which day. Read through
//! [`audit_entries`], as `confab audit` reads it. Read only: nothing in
//! the console (or anywhere else) edits or deletes an entry.

use super::{Section, Staff, Time, render, search_text};
use crate::config::Settings;
use crate::db::Database;
use crate::http::{AppError, Templates};
use crate::moderation::{AuditFilter, audit_entries};
use actix_session::Session;
use actix_web::{HttpResponse, get, web};
use serde::{Deserialize, Serialize};

/// Registers the audit page.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(audit);
}

/// The filter's choices of kinds: every action on rooms, on users, …
const KINDS: &[(&str, &str)] = &[
    ("room.", "any room action"),
    ("user.", "any user action"),
    ("message.", "any message action"),
    ("report.", "any report action"),
];

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
    /// Entries from this UTC day on (`YYYY-MM-DD`).
    since: Option<String>,
    /// The next page: entries older than this one.
    before: Option<String>,
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
    templates: web::Data<Templates>,
    db: web::Data<Database>,
    settings: web::Data<Settings>,
    session: Session,
) -> Result<HttpResponse, AppError> {
    let field = |raw: &Option<String>| search_text(raw.as_deref(), MAX_FILTER_CHARS);
    let (actor, action, text, since_raw) = (
        field(&params.actor),
        field(&params.action),
        field(&params.q),
        field(&params.since),
    );
    let mut error = None;
    let since = match since_raw.as_deref() {
        None => None,
        Some(raw) => match chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
            Ok(day) => Some(day.and_time(chrono::NaiveTime::MIN)),
            Err(_) => {
                error = Some(format!(
                    "{raw:?} is not a day; write it as YYYY-MM-DD, e.g. 2026-12-06."
                ));
                None
            }
        },
    };
    let before = params
        .before
        .as_deref()
        .and_then(|b| b.trim().parse::<i32>().ok());
    let filter = AuditFilter {
        actor: actor.clone(),
        action: action.clone(),
        target: text.clone(),
        since,
    };
    let limit = i64::try_from(settings.staff_page_size).unwrap_or(i64::MAX);
    // One more than a page, to know whether there is a next one.
    let mut rows = db
        .run(move |c| audit_entries(c, &filter, before, limit.saturating_add(1)))
        .await?;
    let more = rows.len() > settings.staff_page_size;
    rows.truncate(settings.staff_page_size);
    let or_empty = |v: &Option<String>| v.clone().unwrap_or_default();
    let (actor, action, text, since_raw) = (
        or_empty(&actor),
        or_empty(&action),
        or_empty(&text),
        or_empty(&since_raw),
    );
    let filters = [
        ("actor", actor.as_str()),
        ("action", action.as_str()),
        ("q", text.as_str()),
        ("since", since_raw.as_str()),
    ];
    let page_url = |before: Option<i32>| {
        let mut pairs: Vec<(&str, String)> = filters
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (*k, (*v).to_owned()))
            .collect();
        if let Some(before) = before {
            pairs.push(("before", before.to_string()));
        }
        let query = serde_urlencoded::to_string(pairs).unwrap_or_default();
        if query.is_empty() {
            "/staff/audit/".to_owned()
        } else {
            format!("/staff/audit/?{query}")
        }
    };
    let next = more
        .then(|| rows.last().map(|e| page_url(Some(e.id))))
        .flatten();
    let newest = before.map(|_| page_url(None));
    let entries: Vec<EntryView> = rows
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
    let filtered = filters.iter().any(|(_, v)| !v.is_empty());
    let kinds: Vec<Choice> = KINDS
        .iter()
        .map(|(value, label)| Choice { value, label })
        .collect();
    render(
        &templates,
        &session,
        &me,
        Section::Audit,
        "Audit log",
        "staff/audit.html",
        |ctx| {
            ctx.insert("entries", &entries);
            ctx.insert("kinds", &kinds);
            ctx.insert("actions", ACTIONS);
            ctx.insert("actor", &actor);
            ctx.insert("action", &action);
            ctx.insert("q", &text);
            ctx.insert("since", &since_raw);
            ctx.insert("filtered", &filtered);
            if let Some(error) = &error {
                ctx.insert("error", error);
            }
            if let Some(next) = &next {
                ctx.insert("next", next);
            }
            if let Some(newest) = &newest {
                ctx.insert("newest", newest);
            }
        },
    )
}

/// One choice of a select.
#[derive(Serialize)]
struct Choice {
    value: &'static str,
    label: &'static str,
}
