//! `POST /chat/<room>/report/`: anyone who may read the room reports
//! someone else's live message in it, with a reason. Stored by
//! [`reports::file`] (one per reporter and message, a bounded number open
//! per reporter) together with its `report.file` audit log entry; the
//! room's moderators and staff handle it from the settings page or the
//! staff console.

use super::actions::parse_message_id;
use super::{Place, Refusal, asker, place, refuse, see_other, wants_json};
use crate::config::Settings;
use crate::db::Database;
use crate::db::models::NewReport;
use crate::db::queries;
use crate::db::queries::moderation::{self as roles, SanctionKind};
use crate::db::queries::reports::{self, FileError};
use crate::domain::{Identity, Reason};
use crate::http::AppError;
use crate::http::error::sentence;
use crate::moderation::{self, Actor};
use actix_session::Session;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, post, web};
use serde::Deserialize;

/// What the room page's fetch is told when a report is filed.
const REPORT_FILED: &str = "Thanks, the moderators will look at it.";

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ReportForm {
    csrf_token: String,
    message_id: String,
    reason: String,
}

#[post("/chat/{room}/report/")]
pub(super) async fn report_message(
    req: HttpRequest,
    path: web::Path<String>,
    form: Result<web::Form<ReportForm>, actix_web::Error>,
    session: Session,
    db: web::Data<Database>,
    settings: web::Data<Settings>,
) -> Result<HttpResponse, AppError> {
    let json = wants_json(&req);
    let form = form.map(web::Form::into_inner).unwrap_or_default();
    let room_page = format!("/chat/{}/", path.as_str());
    let filed = async {
        let user = asker(&req, &session, &db, &settings, &form.csrf_token).await?;
        let place = place(&db, &user, &path).await?;
        file_report(&db, &settings, &user, &place, &form).await?;
        Ok::<_, Refusal>(place)
    }
    .await;
    match filed {
        Ok(_) if json => Ok(HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(serde_json::json!({ "ok": true, "message": REPORT_FILED }))),
        Ok(place) => Ok(see_other(&format!("/chat/{}/", place.name))),
        Err(refusal) => refuse(json, refusal, room_page),
    }
}

/// Checks and stores `form`'s report by `user` of a message in `place`,
/// with its audit log entry.
async fn file_report(
    db: &Database,
    settings: &Settings,
    user: &Identity,
    place: &Place,
    form: &ReportForm,
) -> Result<(), Refusal> {
    let id = parse_message_id(&form.message_id)?;
    let reason = Reason::parse(&form.reason, settings.moderation_reason_max_chars)
        .map_err(|e| Refusal::invalid(sentence(&e)))?;
    if reason.is_empty() {
        return Err(Refusal::invalid(
            "Say what is wrong with the message, so the moderators know what to look for.",
        ));
    }
    let (room, reporter, name) = (place.room.id, user.id, place.name.clone());
    let banned = db
        .run(move |c| roles::active_sanction(c, room, reporter, SanctionKind::Ban, queries::now()))
        .await?;
    if banned.is_some() {
        return Err(Refusal::forbidden(format!("You are banned from #{name}.")));
    }
    let (message, author) = db
        .run(move |c| roles::live_message(c, id))
        .await?
        .filter(|(message, _)| message.room_id == room)
        .ok_or_else(|| {
            Refusal::not_found(format!("Message {id} is not in #{name}, or was deleted."))
        })?;
    if message.user_id == user.id {
        return Err(Refusal::invalid("You cannot report your own message."));
    }
    let limit = settings.open_reports_per_user;
    let actor = Actor::User(user.clone());
    let room_name = place.name.as_str().to_owned();
    db.write(move |c| {
        let now = queries::now();
        let filed = reports::file(
            c,
            &NewReport {
                message_id: id,
                room_id: room,
                reporter_id: reporter,
                reason: reason.as_str(),
                created_at: now,
            },
            limit,
        )?;
        // In the same transaction: no report without its entry.
        moderation::record(
            c,
            &actor,
            "report.file",
            &format!("message {}", filed.message_id),
            Some(&room_name),
            reason.as_str(),
            &format!("by {author}"),
        )?;
        Ok::<_, FileError>(())
    })
    .await
    .map_err(|e| match e {
        FileError::AlreadyReported => {
            Refusal::new(StatusCode::CONFLICT, "already_reported", sentence(&e))
        }
        FileError::TooMany { .. } => Refusal::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_reports",
            sentence(&e),
        ),
        FileError::Db(e) => e.into(),
    })
}
