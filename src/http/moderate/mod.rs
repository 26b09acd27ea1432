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
//! and the status the code stands for ([`Refusal`]); a plain form gets a
//! 303 back to the settings page with the outcome as a flash message. The
//! CSRF token comes in the `csrf_token` field or the `X-CSRF-Token`
//! header. One file per route; this one holds what they share: who asks,
//! which room, how a refusal is answered, the flash line.

mod actions;
mod report;
mod settings;

use super::AppError;
use super::auth::{check_csrf, current_user};
use super::error::sentence;
use super::pages::{self, room_name_from_path};
use crate::config::Settings;
use crate::db::models::Room;
use crate::db::queries::moderation::{self as roles, RoomRole};
use crate::db::queries::rooms;
use crate::db::{Database, DbError};
use crate::domain::{Identity, RoomName};
use crate::moderation::ModError;
use actix_session::Session;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};

/// Registers the moderation routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(actions::moderate_room)
        .service(report::report_message)
        .service(settings::settings_page);
}

// ---------------------------------------------------------------------
// Refusals: one typed error, answered as JSON or as a page.
// ---------------------------------------------------------------------

/// Why a request was refused: a status, a stable code for scripts and a
/// sentence for people.
#[derive(Debug)]
pub(super) struct Refusal {
    pub(super) status: StatusCode,
    pub(super) code: &'static str,
    pub(super) message: String,
}

impl Refusal {
    pub(super) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Refusal {
            status,
            code,
            message: message.into(),
        }
    }

    pub(super) fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid", message)
    }

    pub(super) fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub(super) fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// `{"error":{"code":…,"message":…}}` with the status.
    pub(super) fn json(&self) -> HttpResponse {
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
    pub(super) fn page(self) -> AppError {
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
            AppError::PasswordChangeRequired => Self::forbidden(sentence(&message)),
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
pub(super) fn wants_json(req: &HttpRequest) -> bool {
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
pub(super) struct Place {
    /// The room's row.
    pub(super) room: Room,
    /// Its name.
    pub(super) name: RoomName,
    /// The asker's role there.
    pub(super) role: RoomRole,
}

/// The room in the path, if `who` may know of it: its moderators, its
/// owner and staff always; anyone else as the room page admits them
/// ([`pages::admitted`]: a private room is "not found" for non-members, an
/// admin-only one is forbidden to all but staff, a ban is forbidden with
/// its reason). Not created by the visit, unlike the room page.
pub(super) async fn place(db: &Database, who: &Identity, path: &str) -> Result<Place, Refusal> {
    let name = room_name_from_path(path)?;
    let lookup = name.as_str().to_owned();
    let asker = who.clone();
    let found = db
        .run(move |c| {
            let Some(room) = rooms::by_name(c, &lookup)? else {
                return Ok(None);
            };
            let role = roles::role_in(c, &room, &asker)?;
            Ok::<_, DbError>(Some((room, role)))
        })
        .await?;
    let Some((room, role)) = found.filter(|(room, _)| room.direct_a.is_none()) else {
        return Err(Refusal::not_found(format!(
            "There is no room called {name}."
        )));
    };
    if !role.moderates() {
        pages::admitted(db, who, room.clone()).await?;
    }
    Ok(Place {
        name: RoomName::from_stored(room.name.clone()),
        room,
        role,
    })
}

/// Signed in, with a valid token: who is asking.
pub(super) async fn asker(
    req: &HttpRequest,
    session: &Session,
    db: &Database,
    settings: &Settings,
    token: &str,
) -> Result<Identity, Refusal> {
    let user = current_user(session, db, settings).await?.ok_or_else(|| {
        Refusal::from(AppError::LoginRequired {
            next: String::new(),
        })
    })?;
    check_csrf(session, submitted_token(req, token))?;
    Ok(user)
}

/// A refusal before anything was tried: JSON, or the login page, or an
/// error page.
pub(super) fn refuse(
    json: bool,
    refusal: Refusal,
    login_next: String,
) -> Result<HttpResponse, AppError> {
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
pub(super) struct Flash {
    ok: bool,
    text: String,
}

pub(super) fn set_flash(session: &Session, ok: bool, text: String) {
    if let Err(e) = session.insert(FLASH, Flash { ok, text }) {
        log::warn!("could not keep a flash message: {e}");
    }
}

pub(super) fn take_flash(session: &Session) -> Option<Flash> {
    let flash = session.get::<Flash>(FLASH).ok().flatten();
    if flash.is_some() {
        session.remove(FLASH);
    }
    flash
}

pub(super) fn settings_url(room: &RoomName) -> String {
    format!("/chat/{room}/settings/")
}

pub(super) fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to))
        .finish()
}
