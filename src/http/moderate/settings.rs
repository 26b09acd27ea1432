//! `GET /chat/<room>/settings/`: a room's settings page, for its owner,
//! its moderators and staff (`templates/chat/settings.html`): who may
//! enter, lock and slow mode, a private room's members, the moderators,
//! the mutes and bans in force and the open reports, each with the forms
//! that change them (posted to `/moderate/`, which comes back here with
//! the outcome as a flash line).

use super::{Place, Refusal, place, take_flash};
use crate::config::Settings;
use crate::db::queries::moderation::{self as roles, RoomRole};
use crate::db::queries::{self, memberships, reports, users};
use crate::db::{Database, DbError};
use crate::http::auth::{SignedIn, csrf_token};
use crate::http::my_rooms::sidebar;
use crate::http::{AppError, Templates};
use actix_session::Session;
use actix_web::http::header;
use actix_web::{HttpResponse, get, web};
use chrono::NaiveDateTime;
use serde::Serialize;

/// A mute or ban as the page lists it.
#[derive(Serialize)]
struct SanctionRow {
    user: String,
    /// `mute` or `ban`.
    kind: &'static str,
    reason: String,
    since: String,
    /// RFC 3339, for `<time>`; empty when until lifted.
    until_iso: String,
    /// "2026-12-06 14:05 UTC" or "until lifted".
    until: String,
    /// Who imposed it, or "the command line".
    by: String,
}

/// An open report as the page lists it.
#[derive(Serialize)]
struct ReportRow {
    id: i32,
    message_id: i64,
    text: String,
    deleted: bool,
    author: String,
    reporter: String,
    reason: String,
    at_iso: String,
    at: String,
}

/// Everything the settings page shows.
#[derive(Serialize)]
struct SettingsView {
    name: String,
    /// The viewer's role: `moderator`, `owner` or `staff`.
    role: &'static str,
    /// `public`, `invite_only` or `admin_only`.
    access: &'static str,
    locked: bool,
    archived: bool,
    slow_mode_secs: i32,
    slow_mode_max_secs: u32,
    reason_max_chars: usize,
    /// The owner and staff may open or close the room.
    can_set_access: bool,
    /// Staff only: admin-only.
    is_staff: bool,
    /// The owner and staff appoint moderators.
    can_appoint: bool,
    owner: Option<String>,
    /// A private room's members.
    members: Vec<String>,
    moderators: Vec<String>,
    sanctions: Vec<SanctionRow>,
    reports: Vec<ReportRow>,
    /// More open reports than the page lists.
    more_reports: bool,
}

fn utc(at: NaiveDateTime) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn iso(at: NaiveDateTime) -> String {
    at.and_utc().to_rfc3339()
}

#[get("/chat/{room}/settings/")]
pub(super) async fn settings_page(
    SignedIn(user): SignedIn,
    path: web::Path<String>,
    session: Session,
    db: web::Data<Database>,
    settings: web::Data<Settings>,
    templates: web::Data<Templates>,
) -> Result<HttpResponse, AppError> {
    let place = place(&db, &user, &path).await.map_err(Refusal::page)?;
    if !place.role.moderates() {
        return Err(AppError::Forbidden(format!(
            "Only the owner of #{}, its moderators and staff can change its settings.",
            place.name
        )));
    }
    let view = settings_view(&db, &settings, &place).await?;
    let mut ctx = Templates::context(
        &format!("Settings of #{}", place.name),
        Some(&user),
        &csrf_token(&session)?,
    );
    ctx.insert("room", &view);
    ctx.insert("current_room", place.name.as_str());
    ctx.insert("sidebar", &sidebar(&db, &user).await?);
    if let Some(flash) = take_flash(&session) {
        ctx.insert("flash", &flash);
    }
    let page = templates.render("chat/settings.html", &ctx)?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(page))
}

/// Reads what the settings page of `place` shows.
async fn settings_view(
    db: &Database,
    settings: &Settings,
    place: &Place,
) -> Result<SettingsView, AppError> {
    let room = place.room.clone();
    let page_size = settings.staff_page_size;
    let (owner, members, moderators, sanctions, mut reports) = db
        .run(move |c| {
            let owner = match room.created_by {
                Some(id) => users::by_id(c, id)?.map(|u| u.username),
                None => None,
            };
            let members = if room.invite_only {
                memberships::members_of(c, room.id)?
            } else {
                Vec::new()
            };
            let moderators = roles::moderator_names(c, room.id)?;
            let sanctions = roles::active_sanctions_in(c, room.id, queries::now())?;
            // One more than shown, to know whether there are more.
            let reports = reports::open_in_room(c, room.id, page_size + 1)?;
            Ok::<_, DbError>((owner, members, moderators, sanctions, reports))
        })
        .await?;
    let more_reports = reports.len() > page_size;
    reports.truncate(page_size);
    let room = &place.room;
    let access = if room.admin_only {
        "admin_only"
    } else if room.invite_only {
        "invite_only"
    } else {
        "public"
    };
    Ok(SettingsView {
        name: place.name.to_string(),
        role: place.role.as_str(),
        access,
        locked: room.locked,
        archived: room.archived_at.is_some(),
        slow_mode_secs: room.slow_mode_secs,
        slow_mode_max_secs: settings.slow_mode_max_secs,
        reason_max_chars: settings.moderation_reason_max_chars,
        can_set_access: place.role >= RoomRole::Owner,
        is_staff: place.role == RoomRole::Staff,
        can_appoint: place.role >= RoomRole::Owner,
        owner,
        members,
        moderators,
        sanctions: sanctions
            .into_iter()
            .map(|s| SanctionRow {
                user: s.user,
                kind: s.kind.as_str(),
                reason: s.reason,
                since: utc(s.created_at),
                until_iso: s.until.map(iso).unwrap_or_default(),
                until: s.until.map_or_else(|| "until lifted".to_owned(), utc),
                by: s.by.unwrap_or_else(|| "the command line".to_owned()),
            })
            .collect(),
        reports: reports
            .into_iter()
            .map(|r| ReportRow {
                id: r.id,
                message_id: r.message_id.0,
                text: r.text,
                deleted: r.deleted,
                author: r.author,
                reporter: r.reporter,
                reason: r.reason,
                at_iso: iso(r.created_at),
                at: utc(r.created_at),
            })
            .collect(),
        more_reports,
    })
}
