//! Moderation from inside a room (issue 14): what a room's owner, its
//! moderators and staff do from the room page and the room's settings
//! page, and the reports its readers file.
//!
//! - `POST /chat/<room>/moderate/`: one action (`action` = kick, mute,
//!   unmute, ban, unban, lock, unlock, slow_mode, invite, uninvite,
//!   moderator_add, moderator_remove, access, delete_message,
//!   resolve_report) with its fields. The request is parsed here into a
//!   [`moderation::Action`]; who may do it is decided by
//!   [`Moderation::perform`], the one path every action takes.
//! - `POST /chat/<room>/report/`: a reader flags someone else's message
//!   ([`reports::file`]), written to the audit log as `report.file`.
//! - `GET /chat/<room>/settings/`: the room's settings page, whose forms
//!   post to `/moderate/`.
//!
//! Both POSTs answer the room page's `fetch` (`Accept: application/json`)
//! with `{"ok":true,"message":…}` or `{"error":{"code":…,"message":…}}`
//! and the status the code stands for; a plain form gets a 303 back to the
//! settings page with the outcome as a flash message. The CSRF token comes
//! in the `csrf_token` field or the `X-CSRF-Token` header.

use super::auth::{check_csrf, csrf_token, current_user};
use super::error::sentence;
use super::pages::room_name_from_path;
use super::{AppError, Templates};
use crate::config::Settings;
use crate::db::models::{NewAuditEntry, NewReport, Room};
use crate::db::queries::moderation::{self as roles, RoomRole, SanctionKind};
use crate::db::queries::reports::{self, FileError};
use crate::db::queries::{self, memberships, messages, rooms, users};
use crate::db::schema::audit_log;
use crate::db::{Database, DbError};
use crate::domain::{Identity, MessageId, Reason, RoomName, Username};
use crate::moderation::{Access, Action, Actor, ModError, Moderation, Resolution};
use actix_session::Session;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

/// Registers the moderation routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(moderate_room)
        .service(report_message)
        .service(settings_page);
}

/// What the room page's fetch is told when a report is filed.
const REPORT_FILED: &str = "Thanks, the moderators will look at it.";

// ---------------------------------------------------------------------
// Refusals: one typed error, answered as JSON or as a page.
// ---------------------------------------------------------------------

/// Why a request was refused: a status, a stable code for scripts and a
/// sentence for people.
#[derive(Debug)]
struct Refusal {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl Refusal {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Refusal {
            status,
            code,
            message: message.into(),
        }
    }

    fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid", message)
    }

    fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// `{"error":{"code":…,"message":…}}` with the status.
    fn json(&self) -> HttpResponse {
        #[derive(Serialize)]
        struct Body<'a> {
            error: Detail<'a>,
        }
        #[derive(Serialize)]
        struct Detail<'a> {
            code: &'a str,
            message: &'a str,
        }
        HttpResponse::build(self.status)
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(Body {
                error: Detail {
                    code: self.code,
                    message: &self.message,
                },
            })
    }

    /// The same as a page (`error.html`, through [`AppError`]).
    fn page(self) -> AppError {
        match self.status {
            StatusCode::NOT_FOUND => AppError::NotFound(self.message),
            StatusCode::FORBIDDEN if self.code == "csrf" => AppError::Csrf,
            StatusCode::FORBIDDEN => AppError::Forbidden(self.message),
            StatusCode::TOO_MANY_REQUESTS => AppError::TooManyRequests(self.message),
            StatusCode::SERVICE_UNAVAILABLE => AppError::Busy {
                message: self.message,
                retry_after: crate::db::RETRY_UNAVAILABLE,
            },
            s if s.is_server_error() => AppError::Internal(self.message),
            _ => AppError::BadRequest(self.message),
        }
    }
}

impl From<AppError> for Refusal {
    fn from(e: AppError) -> Self {
        let message = e.to_string();
        match e {
            AppError::LoginRequired { .. } => {
                Self::new(StatusCode::UNAUTHORIZED, "login_required", "Please log in.")
            }
            AppError::Csrf => Self::new(StatusCode::FORBIDDEN, "csrf", sentence(&message)),
            AppError::Forbidden(_) => Self::forbidden(message),
            AppError::NotFound(_) => Self::not_found(message),
            AppError::BadRequest(_) => Self::invalid(message),
            AppError::TooManyRequests(_) | AppError::RateLimited { .. } => {
                Self::new(StatusCode::TOO_MANY_REQUESTS, "too_many_requests", message)
            }
            AppError::Busy { .. } => {
                Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
            }
            AppError::Internal(detail) => {
                log::error!("internal error in moderation: {detail}");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    sentence(&"something went wrong on our side; please try again"),
                )
            }
        }
    }
}

impl From<DbError> for Refusal {
    fn from(e: DbError) -> Self {
        AppError::from(e).into()
    }
}

impl From<ModError> for Refusal {
    fn from(e: ModError) -> Self {
        let status = match &e {
            ModError::NotFound(_) => StatusCode::NOT_FOUND,
            ModError::Forbidden(_) => StatusCode::FORBIDDEN,
            ModError::Invalid(_) => StatusCode::BAD_REQUEST,
            ModError::Conflict(_) => StatusCode::CONFLICT,
            ModError::Db(_) => StatusCode::SERVICE_UNAVAILABLE,
        };
        let code = e.code();
        match e {
            ModError::Db(e) => AppError::from(e).into(),
            e => Self::new(status, code, e.to_string()),
        }
    }
}

// ---------------------------------------------------------------------
// What every POST here starts with: who, the token, the room.
// ---------------------------------------------------------------------

/// Whether the client asked for JSON (the room page's fetch).
fn wants_json(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"))
}

/// The CSRF token: the form's field, else the `X-CSRF-Token` header.
fn submitted_token<'a>(req: &'a HttpRequest, field: &'a str) -> &'a str {
    if !field.is_empty() {
        return field;
    }
    req.headers()
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

/// A room as moderation sees it, with the asker's role there.
struct Place {
    room: Room,
    name: RoomName,
    role: RoomRole,
}

/// The room in the path, if `who` may know of it: a private room is "not
/// found" for anyone but its members, its moderators and staff (its name
/// is not revealed), an admin-only one is forbidden to all but staff. Not
/// created by the visit, unlike the room page.
async fn place(db: &Database, who: &Identity, path: &str) -> Result<Place, Refusal> {
    let name = room_name_from_path(path)?;
    let lookup = name.as_str().to_owned();
    let asker = who.clone();
    let found = db
        .run(move |c| {
            let Some(room) = rooms::by_name(c, &lookup)? else {
                return Ok(None);
            };
            let role = roles::role_in(c, &room, &asker)?;
            let member = memberships::is_member(c, asker.id, room.id)?;
            Ok::<_, DbError>(Some((room, role, member)))
        })
        .await?;
    let unknown = || Refusal::not_found(format!("There is no room called {name}."));
    let Some((room, role, member)) = found else {
        return Err(unknown());
    };
    if room.direct_a.is_some() || (room.invite_only && !member && !role.moderates()) {
        return Err(unknown());
    }
    if room.admin_only && !who.is_staff {
        return Err(Refusal::forbidden(format!(
            "#{name} is an admin-only room; only staff can enter it."
        )));
    }
    Ok(Place {
        name: RoomName::from_stored(room.name.clone()),
        room,
        role,
    })
}

/// Signed in, with a valid token: who is asking.
async fn asker(
    req: &HttpRequest,
    session: &Session,
    db: &Database,
    settings: &Settings,
    token: &str,
) -> Result<Identity, Refusal> {
    let user = current_user(session, db, settings)
        .await?
        .ok_or_else(|| Refusal::from(AppError::LoginRequired { next: String::new() }))?;
    check_csrf(session, submitted_token(req, token))?;
    Ok(user)
}

/// A refusal before anything was tried: JSON, or the login page, or an
/// error page.
fn refuse(json: bool, refusal: Refusal, login_next: String) -> Result<HttpResponse, AppError> {
    if json {
        return Ok(refusal.json());
    }
    if refusal.code == "login_required" {
        return Err(AppError::LoginRequired { next: login_next });
    }
    Err(refusal.page())
}

// ---------------------------------------------------------------------
// Flash messages: the outcome of a settings form, shown once on the page
// it redirects to.
// ---------------------------------------------------------------------

const FLASH: &str = "flash";

/// One line for the next page: an outcome or an error.
#[derive(Debug, Serialize, Deserialize)]
struct Flash {
    ok: bool,
    text: String,
}

fn set_flash(session: &Session, ok: bool, text: String) {
    if let Err(e) = session.insert(FLASH, Flash { ok, text }) {
        log::warn!("could not keep a flash message: {e}");
    }
}

fn take_flash(session: &Session) -> Option<Flash> {
    let flash = session.get::<Flash>(FLASH).ok().flatten();
    if flash.is_some() {
        session.remove(FLASH);
    }
    flash
}

fn settings_url(room: &RoomName) -> String {
    format!("/chat/{room}/settings/")
}

fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to))
        .finish()
}

// ---------------------------------------------------------------------
// POST /chat/<room>/moderate/
// ---------------------------------------------------------------------

/// The fields of every action; each uses the ones it needs. Defaults, so
/// that a form without a token is refused as a CSRF failure, and a missing
/// field as what is missing.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ModerateForm {
    csrf_token: String,
    action: String,
    user: String,
    /// Mute and ban: empty for "until lifted".
    minutes: String,
    reason: String,
    /// Slow mode: seconds between one user's posts, 0 for off.
    secs: String,
    /// `public`, `invite_only` or `admin_only`.
    access: String,
    message_id: String,
    /// Which report `resolve_report` closes.
    report: String,
    /// `deleted`, `muted`, `banned` or `dismissed`.
    resolution: String,
}

/// A request, parsed.
enum Request {
    /// One action as it stands.
    One(Action),
    /// Delete a message of this room.
    DeleteMessage { id: MessageId, reason: Reason },
    /// Do what `resolution` says to the report's message or its author,
    /// then close the report.
    Resolve {
        report: i32,
        resolution: Resolution,
        minutes: Option<u32>,
        reason: Reason,
    },
}

/// The bounds input is held to, from the settings.
#[derive(Clone, Copy)]
struct Bounds {
    reason_max_chars: usize,
    slow_mode_max_secs: u32,
}

impl ModerateForm {
    fn username(&self) -> Result<Username, Refusal> {
        let raw = self.user.trim();
        if raw.is_empty() {
            return Err(Refusal::invalid("Say who: the user field is empty."));
        }
        Username::parse(raw).map_err(|e| Refusal::invalid(sentence(&e)))
    }

    fn reason(&self, bounds: Bounds) -> Result<Reason, Refusal> {
        Reason::parse(&self.reason, bounds.reason_max_chars)
            .map_err(|e| Refusal::invalid(sentence(&e)))
    }

    /// Empty: until lifted; else a whole number of minutes, at least 1.
    fn minutes(&self) -> Result<Option<u32>, Refusal> {
        let raw = self.minutes.trim();
        if raw.is_empty() {
            return Ok(None);
        }
        match raw.parse::<u32>() {
            Ok(n) if n >= 1 => Ok(Some(n)),
            _ => Err(Refusal::invalid(format!(
                "The duration must be a whole number of minutes, at least 1 (or empty for \
                 until lifted), not {raw:?}."
            ))),
        }
    }

    fn secs(&self, bounds: Bounds) -> Result<u32, Refusal> {
        let raw = self.secs.trim();
        let max = bounds.slow_mode_max_secs;
        match raw.parse::<u32>() {
            Ok(n) if n <= max => Ok(n),
            Ok(_) => Err(Refusal::invalid(format!(
                "Slow mode can be at most {max} seconds between one person's posts."
            ))),
            Err(_) => Err(Refusal::invalid(format!(
                "Slow mode takes a whole number of seconds from 0 (off) to {max}, not {raw:?}."
            ))),
        }
    }

    fn access(&self) -> Result<Access, Refusal> {
        match self.access.trim() {
            "public" => Ok(Access::Public),
            "invite_only" => Ok(Access::InviteOnly),
            "admin_only" => Ok(Access::AdminOnly),
            other => Err(Refusal::invalid(format!(
                "Access is public, invite_only or admin_only, not {other:?}."
            ))),
        }
    }

    fn message_id(&self) -> Result<MessageId, Refusal> {
        parse_message_id(&self.message_id)
    }

    fn resolution(&self) -> Result<Resolution, Refusal> {
        match self.resolution.trim() {
            "deleted" => Ok(Resolution::Deleted),
            "muted" => Ok(Resolution::Muted),
            "banned" => Ok(Resolution::Banned),
            "dismissed" => Ok(Resolution::Dismissed),
            other => Err(Refusal::invalid(format!(
                "A report is resolved as deleted, muted, banned or dismissed, not {other:?}."
            ))),
        }
    }

    /// The request this form makes of `room`.
    fn parse(&self, room: &RoomName, bounds: Bounds) -> Result<Request, Refusal> {
        let room = room.clone();
        let action = match self.action.trim() {
            "kick" => Action::Kick {
                room,
                user: self.username()?,
                reason: self.reason(bounds)?,
            },
            "mute" => Action::Mute {
                room,
                user: self.username()?,
                minutes: self.minutes()?,
                reason: self.reason(bounds)?,
            },
            "unmute" => Action::Unmute {
                room,
                user: self.username()?,
            },
            "ban" => Action::Ban {
                room,
                user: self.username()?,
                minutes: self.minutes()?,
                reason: self.reason(bounds)?,
            },
            "unban" => Action::Unban {
                room,
                user: self.username()?,
            },
            "lock" => Action::Lock { room },
            "unlock" => Action::Unlock { room },
            "slow_mode" => Action::SlowMode {
                room,
                secs: self.secs(bounds)?,
            },
            "invite" => Action::Invite {
                room,
                user: self.username()?,
            },
            "uninvite" => Action::Uninvite {
                room,
                user: self.username()?,
            },
            "moderator_add" => Action::AddModerator {
                room,
                user: self.username()?,
            },
            "moderator_remove" => Action::RemoveModerator {
                room,
                user: self.username()?,
            },
            "access" => Action::SetAccess {
                room,
                access: self.access()?,
            },
            "delete_message" => {
                return Ok(Request::DeleteMessage {
                    id: self.message_id()?,
                    reason: self.reason(bounds)?,
                });
            }
            "resolve_report" => {
                let report = self.report.trim().parse::<i32>().map_err(|_| {
                    Refusal::invalid(format!("{:?} is not a report number.", self.report))
                })?;
                let resolution = self.resolution()?;
                // Only a mute or a ban has a duration.
                let minutes = match resolution {
                    Resolution::Muted | Resolution::Banned => self.minutes()?,
                    Resolution::Deleted | Resolution::Dismissed => None,
                };
                return Ok(Request::Resolve {
                    report,
                    resolution,
                    minutes,
                    reason: self.reason(bounds)?,
                });
            }
            "" => return Err(Refusal::invalid("Say what to do: the action field is empty.")),
            other => return Err(Refusal::invalid(format!("There is no action {other:?}."))),
        };
        Ok(Request::One(action))
    }
}

fn parse_message_id(raw: &str) -> Result<MessageId, Refusal> {
    raw.trim()
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .map(MessageId)
        .ok_or_else(|| Refusal::invalid(format!("{raw:?} is not a message number.")))
}

/// The actions `request` stands for in `place`, in order: a report's
/// resolution is what was done (if anything) and then the report closed.
async fn actions_for(
    db: &Database,
    place: &Place,
    request: Request,
) -> Result<Vec<Action>, Refusal> {
    match request {
        Request::One(action) => Ok(vec![action]),
        Request::DeleteMessage { id, reason } => {
            let room = place.room.id;
            db.run(move |c| messages::find_live(c, room, id))
                .await
                .map_err(|e| match e {
                    DbError::NotFound => Refusal::not_found(format!(
                        "Message {id} is not in #{} (or was deleted already).",
                        place.name
                    )),
                    e => e.into(),
                })?;
            Ok(vec![Action::DeleteMessage { id, reason }])
        }
        Request::Resolve {
            report,
            resolution,
            minutes,
            reason,
        } => {
            let room = place.room.id;
            let found = db
                .run(move |c| reports::with_message(c, report))
                .await?
                .filter(|(found, _, _)| found.room_id == room);
            let Some((report, message, author)) = found else {
                return Err(Refusal::not_found(format!(
                    "There is no report {report} about #{}.",
                    place.name
                )));
            };
            if report.resolved_at.is_some() {
                return Err(Refusal::new(
                    StatusCode::CONFLICT,
                    "conflict",
                    format!("Report {} was handled already.", report.id),
                ));
            }
            let user = Username::from_stored(author);
            let room = place.name.clone();
            let mut actions = Vec::with_capacity(2);
            match resolution {
                // Another report of the same message may have had it
                // deleted already: then closing this one is all there is.
                Resolution::Deleted if message.deleted_at.is_none() => {
                    actions.push(Action::DeleteMessage {
                        id: message.id,
                        reason: reason.clone(),
                    });
                }
                Resolution::Deleted | Resolution::Dismissed => {}
                Resolution::Muted => actions.push(Action::Mute {
                    room,
                    user,
                    minutes,
                    reason,
                }),
                Resolution::Banned => actions.push(Action::Ban {
                    room,
                    user,
                    minutes,
                    reason,
                }),
            }
            actions.push(Action::ResolveReport {
                id: report.id,
                resolution,
            });
            Ok(actions)
        }
    }
}

#[post("/chat/{room}/moderate/")]
#[allow(clippy::too_many_arguments)]
async fn moderate_room(
    req: HttpRequest,
    path: web::Path<String>,
    form: Result<web::Form<ModerateForm>, actix_web::Error>,
    session: Session,
    db: web::Data<Database>,
    settings: web::Data<Settings>,
    moderation: web::Data<Moderation>,
) -> Result<HttpResponse, AppError> {
    let json = wants_json(&req);
    let back = format!("/chat/{}/settings/", path.as_str());
    let form = form.map(web::Form::into_inner).unwrap_or_default();
    let (user, place) = match async {
        let user = asker(&req, &session, &db, &settings, &form.csrf_token).await?;
        let place = place(&db, &user, &path).await?;
        Ok::<_, Refusal>((user, place))
    }
    .await
    {
        Ok(found) => found,
        Err(refusal) => return refuse(json, refusal, back),
    };
    let bounds = Bounds {
        reason_max_chars: settings.moderation_reason_max_chars,
        slow_mode_max_secs: settings.slow_mode_max_secs,
    };
    let outcome = async {
        let request = form.parse(&place.name, bounds)?;
        let mut said = Vec::new();
        for action in actions_for(&db, &place, request).await? {
            let done = moderation
                .perform(Actor::User(user.clone()), action)
                .await?;
            said.push(done.message);
        }
        Ok::<_, Refusal>(said.join(" "))
    }
    .await;
    let to = settings_url(&place.name);
    match outcome {
        Ok(message) if json => Ok(HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(serde_json::json!({ "ok": true, "message": message }))),
        Ok(message) => {
            set_flash(&session, true, message);
            Ok(see_other(&to))
        }
        Err(refusal) if json => Ok(refusal.json()),
        // The settings page's own forms: the error shows on it, where the
        // moderator can put it right. Anyone else gets the error page.
        Err(refusal) if place.role.moderates() && refusal.status.is_client_error() => {
            set_flash(&session, false, refusal.message);
            Ok(see_other(&to))
        }
        Err(refusal) => Err(refusal.page()),
    }
}

// ---------------------------------------------------------------------
// POST /chat/<room>/report/
// ---------------------------------------------------------------------

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ReportForm {
    csrf_token: String,
    message_id: String,
    reason: String,
}

#[post("/chat/{room}/report/")]
async fn report_message(
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
        .run(move |c| {
            roles::active_sanction(c, room, reporter, SanctionKind::Ban, queries::now())
        })
        .await?;
    if banned.is_some() {
        return Err(Refusal::forbidden(format!("You are banned from #{name}.")));
    }
    let message = db
        .run(move |c| messages::find_live(c, room, id))
        .await
        .map_err(|e| match e {
            DbError::NotFound => Refusal::not_found(format!(
                "Message {id} is not in #{name}, or was deleted."
            )),
            e => e.into(),
        })?;
    if message.user_id == user.id {
        return Err(Refusal::invalid("You cannot report your own message."));
    }
    let limit = settings.open_reports_per_user;
    let actor = user.username.as_str().to_owned();
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
        record_report(c, now, &actor, &room_name, filed.message_id, &reason)?;
        Ok::<_, FileError>(())
    })
    .await
    .map_err(|e| match e {
        FileError::AlreadyReported => Refusal::new(
            StatusCode::CONFLICT,
            "already_reported",
            sentence(&e),
        ),
        FileError::TooMany { .. } => Refusal::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_reports",
            sentence(&e),
        ),
        FileError::Db(e) => e.into(),
    })
}

// TODO(mod-core): write this entry through `moderation::record` once
// mod-core lands it; one writer of audit rows.
fn record_report(
    conn: &mut crate::db::DbConnection,
    at: NaiveDateTime,
    actor: &str,
    room: &str,
    message: MessageId,
    reason: &Reason,
) -> Result<(), DbError> {
    diesel::insert_into(audit_log::table)
        .values(NewAuditEntry {
            at,
            actor,
            action: "report.file",
            target: &format!("message {message}"),
            room: Some(room),
            reason: reason.as_str(),
            detail: "",
        })
        .execute(conn)?;
    Ok(())
}

// ---------------------------------------------------------------------
// GET /chat/<room>/settings/
// ---------------------------------------------------------------------

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
async fn settings_page(
    req: HttpRequest,
    path: web::Path<String>,
    session: Session,
    db: web::Data<Database>,
    settings: web::Data<Settings>,
    templates: web::Data<Templates>,
) -> Result<HttpResponse, AppError> {
    let Some(user) = current_user(&session, &db, &settings).await? else {
        return Err(AppError::LoginRequired {
            next: req.path().to_owned(),
        });
    };
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
    ctx.insert("sidebar", &super::my_rooms::sidebar(&db, &user).await?);
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
            let moderators = roles::moderators_of(c, room.id)?;
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
