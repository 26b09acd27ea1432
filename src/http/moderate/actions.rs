//! `POST /chat/<room>/moderate/`: one moderation action on the room,
//! parsed from the form into a [`moderation::Action`] (reason, duration,
//! slow-mode seconds and names checked here, against the settings) and run
//! through [`Moderation::perform`], which decides who may do it.
//!
//! Two requests stand for more than one action: `delete_message` checks
//! first that the message is in this room, and `resolve_report` does what
//! the resolution says to the reported message or its author, then closes
//! the report.
//!
//! [`moderation::Action`]: crate::moderation::Action

use super::{Place, Refusal, asker, place, refuse, see_other, set_flash, settings_url, wants_json};
use crate::config::Settings;
use crate::db::queries::{messages, reports};
use crate::db::{Database, DbError};
use crate::domain::{MessageId, Reason, RoomName, Username};
use crate::http::AppError;
use crate::http::error::sentence;
use crate::moderation::{Access, Action, Actor, Moderation, Resolution};
use actix_session::Session;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, post, web};
use serde::Deserialize;

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
            "" => {
                return Err(Refusal::invalid(
                    "Say what to do: the action field is empty.",
                ));
            }
            other => return Err(Refusal::invalid(format!("There is no action {other:?}."))),
        };
        Ok(Request::One(action))
    }
}

pub(super) fn parse_message_id(raw: &str) -> Result<MessageId, Refusal> {
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
pub(super) async fn moderate_room(
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
