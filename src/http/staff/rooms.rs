//! `/staff/rooms/`: every room (direct conversations aside), searched by
//! name a page at a time, with a form to create one; and a page per room
//! (`/staff/rooms/<name>/`) to rename it, set who may enter, lock it, slow
//! it down, archive it, appoint its moderators, lift its mutes and bans,
//! and delete it after a confirmation that says what goes with it.

use super::{
    Flash, Kept, PageNumber, Pager, Section, Staff, Time, back_with, perform, refuse, render,
    search_text,
};
use crate::actors::registry::{OnlineRooms, Registry};
use crate::config::Settings;
use crate::db::Database;
use crate::db::models::Room;
use crate::db::queries::{self, staff};
use crate::domain::{RoomName, Username};
use crate::http::error::sentence;
use crate::http::pages::room_name_from_path;
use crate::http::{AppError, Templates, auth::check_csrf};
use crate::moderation::{Access, Action, Moderation};
use actix::Addr;
use actix_session::Session;
use actix_web::{HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Registers the room pages and forms.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(list)
        .service(create)
        .service(delete_form)
        .service(delete)
        .service(room_page)
        .service(change);
}

/// Who may enter, as the console's forms name it and shows it.
fn access_of(room: &Room) -> (&'static str, &'static str) {
    if room.admin_only {
        ("admin_only", "admin-only")
    } else if room.invite_only {
        ("private", "private")
    } else {
        ("public", "public")
    }
}

/// The `access` field of a form.
fn parse_access(raw: &str) -> Result<Access, String> {
    match raw {
        "public" => Ok(Access::Public),
        "admin_only" => Ok(Access::AdminOnly),
        "private" => Ok(Access::InviteOnly),
        _ => Err("Choose who may enter: public, admin-only or private.".to_owned()),
    }
}

/// A room as the list and its page show it.
#[derive(Serialize)]
struct RoomView {
    name: String,
    /// `public`, `admin_only` or `private`, as the access form's values.
    access: &'static str,
    /// The same in words.
    access_label: &'static str,
    locked: bool,
    archived: Option<Time>,
    slow_mode_secs: i32,
    online: usize,
    messages: i64,
    created: Time,
    creator: Option<String>,
}

impl RoomView {
    fn new(
        room: Room,
        creator: Option<String>,
        messages: i64,
        online: &HashMap<String, usize>,
    ) -> Self {
        let (access, access_label) = access_of(&room);
        RoomView {
            access,
            access_label,
            locked: room.locked,
            archived: room.archived_at.map(Time::from),
            slow_mode_secs: room.slow_mode_secs,
            online: online.get(&room.name).copied().unwrap_or(0),
            messages,
            created: room.created_at.into(),
            creator,
            name: room.name,
        }
    }
}

/// Who is online where, over every instance (one question to the
/// registry, as the room selector asks it).
async fn online(registry: &Addr<Registry>) -> Result<HashMap<String, usize>, AppError> {
    let online = registry
        .send(OnlineRooms)
        .await
        .map_err(|e| AppError::Internal(format!("registry: {e}")))?;
    Ok(online
        .into_iter()
        .map(|(name, n)| (name.as_str().to_owned(), n))
        .collect())
}

#[derive(Deserialize)]
struct ListParams {
    q: Option<String>,
}

#[get("/staff/rooms/")]
#[allow(clippy::too_many_arguments)] // each is one piece of shared state
async fn list(
    Staff(me): Staff,
    params: web::Query<ListParams>,
    page: web::Query<PageNumber>,
    templates: web::Data<Templates>,
    db: web::Data<Database>,
    registry: web::Data<Addr<Registry>>,
    settings: web::Data<Settings>,
    session: Session,
) -> Result<HttpResponse, AppError> {
    let search = search_text(params.q.as_deref(), RoomName::MAX_CHARS + 1);
    let rows = page.rows(settings.staff_page_size);
    let like = search.clone();
    let found = db
        .run(move |c| staff::rooms(c, like.as_deref(), rows))
        .await?;
    let online = online(&registry).await?;
    let pager = Pager::new(
        "/staff/rooms/",
        &[("q", search.as_deref().unwrap_or(""))],
        *page,
        found.more,
    );
    let rooms: Vec<RoomView> = found
        .rows
        .into_iter()
        .map(|line| RoomView::new(line.room, line.creator, line.messages, &online))
        .collect();
    render(
        &templates,
        &session,
        &me,
        Section::Rooms,
        "Rooms",
        "staff/rooms.html",
        |ctx| {
            ctx.insert("rooms", &rooms);
            ctx.insert("q", search.as_deref().unwrap_or(""));
            ctx.insert("pager", &pager);
        },
    )
}

#[derive(Deserialize)]
struct CreateForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    access: String,
}

/// Creates a room, then shows its page.
#[post("/staff/rooms/")]
async fn create(
    Staff(me): Staff,
    form: web::Form<CreateForm>,
    moderation: web::Data<Moderation>,
    session: Session,
) -> Result<HttpResponse, AppError> {
    check_csrf(&session, &form.csrf_token)?;
    let kept = Kept::form("create")
        .with("name", &form.name)
        .with("access", &form.access);
    let parsed = RoomName::parse(form.name.trim())
        .map_err(|e| sentence(&e))
        .and_then(|name| Ok((name, parse_access(&form.access)?)));
    let (name, access) = match parsed {
        Ok(parsed) => parsed,
        Err(error) => return refuse(&session, "/staff/rooms/", error, kept),
    };
    let to = format!("/staff/rooms/{name}/");
    match perform(&moderation, &me, Action::CreateRoom { name, access }).await? {
        Ok(outcome) => back_with(&session, &to, Flash::done(&outcome)),
        Err(error) => refuse(&session, "/staff/rooms/", error, kept),
    }
}

#[get("/staff/rooms/{room}/")]
async fn room_page(
    Staff(me): Staff,
    path: web::Path<String>,
    templates: web::Data<Templates>,
    db: web::Data<Database>,
    registry: web::Data<Addr<Registry>>,
    session: Session,
) -> Result<HttpResponse, AppError> {
    let name = room_name_from_path(&path)?;
    let lookup = name.as_str().to_owned();
    let detail = db
        .run(move |c| staff::room_detail(c, &lookup, queries::now()))
        .await?
        .ok_or_else(|| no_such_room(&name))?;
    let online = online(&registry).await?;
    let contents = detail.contents;
    let moderators: Vec<Moderator> = detail
        .moderators
        .into_iter()
        .map(|m| Moderator {
            username: m.username,
            since: m.appointed_at.into(),
        })
        .collect();
    let sanctions: Vec<super::users::SanctionView> = detail
        .sanctions
        .into_iter()
        .map(super::users::SanctionView::from)
        .collect();
    let view = RoomView::new(detail.room, detail.creator, detail.live_messages, &online);
    let title = format!("#{}", view.name);
    render(
        &templates,
        &session,
        &me,
        Section::Rooms,
        &title,
        "staff/room.html",
        |ctx| {
            ctx.insert("subpage", &true);
            ctx.insert("room", &view);
            ctx.insert("moderators", &moderators);
            ctx.insert("sanctions", &sanctions);
            ctx.insert("removes", &removal_sentence(&view.name, contents));
        },
    )
}

#[derive(Serialize)]
struct Moderator {
    username: String,
    since: Time,
}

fn no_such_room(name: &RoomName) -> AppError {
    AppError::NotFound(format!("There is no room called #{name}."))
}

/// "Delete #x and its 120 messages, 4 reactions, 3 memberships?"
fn removal_sentence(name: &str, contents: staff::RoomContents) -> String {
    let count = |n: i64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    format!(
        "Delete #{name} and its {}, {}, {}? This cannot be undone.",
        count(contents.messages, "message", "messages"),
        count(contents.reactions, "reaction", "reactions"),
        count(contents.memberships, "membership", "memberships"),
    )
}

#[derive(Deserialize)]
struct RoomForm {
    #[serde(default)]
    csrf_token: String,
    /// Which change: the name of the button pressed.
    #[serde(default)]
    op: String,
    /// `rename`: the new name.
    #[serde(default)]
    to: String,
    /// `access`: who may enter.
    #[serde(default)]
    access: String,
    /// `slow_mode`: seconds between one user's posts.
    #[serde(default)]
    secs: String,
    /// Moderators, mutes and bans: whom.
    #[serde(default)]
    user: String,
}

impl RoomForm {
    /// The fields to show again if the change is refused.
    fn kept(&self) -> Kept {
        Kept::form(&self.op)
            .with("to", &self.to)
            .with("secs", &self.secs)
            .with("user", &self.user)
    }

    /// The action the form asks for in `room`, and the page to show after
    /// it; or why it cannot be one.
    fn action(&self, room: RoomName) -> Result<(Action, String), String> {
        let here = format!("/staff/rooms/{room}/");
        let user = || Username::parse(self.user.trim()).map_err(|e| sentence(&e));
        let action = match self.op.as_str() {
            "rename" => {
                let to = RoomName::parse(self.to.trim()).map_err(|e| sentence(&e))?;
                let next = format!("/staff/rooms/{to}/");
                return Ok((Action::RenameRoom { room, to }, next));
            }
            "access" => Action::SetAccess {
                room,
                access: parse_access(&self.access)?,
            },
            "lock" => Action::Lock { room },
            "unlock" => Action::Unlock { room },
            "archive" => Action::Archive { room },
            "unarchive" => Action::Unarchive { room },
            "slow_mode" => {
                let secs = match self.secs.trim() {
                    "" => 0,
                    raw => raw.parse::<u32>().map_err(|_| {
                        "Slow mode takes a whole number of seconds; 0 turns it off.".to_owned()
                    })?,
                };
                Action::SlowMode { room, secs }
            }
            "moderator_add" => Action::AddModerator {
                room,
                user: user()?,
            },
            "moderator_remove" => Action::RemoveModerator {
                room,
                user: user()?,
            },
            "unmute" => Action::Unmute {
                room,
                user: user()?,
            },
            "unban" => Action::Unban {
                room,
                user: user()?,
            },
            _ => return Err("That is not something a room can do.".to_owned()),
        };
        Ok((action, here))
    }
}

/// One change to a room, by the button pressed.
#[post("/staff/rooms/{room}/")]
async fn change(
    Staff(me): Staff,
    path: web::Path<String>,
    form: web::Form<RoomForm>,
    moderation: web::Data<Moderation>,
    session: Session,
) -> Result<HttpResponse, AppError> {
    check_csrf(&session, &form.csrf_token)?;
    let name = room_name_from_path(&path)?;
    let here = format!("/staff/rooms/{name}/");
    let result = match form.action(name) {
        Ok((action, next)) => perform(&moderation, &me, action)
            .await?
            .map(|outcome| (outcome, next)),
        Err(error) => Err(error),
    };
    match result {
        Ok((outcome, next)) => back_with(&session, &next, Flash::done(&outcome)),
        Err(error) => refuse(&session, &here, error, form.kept()),
    }
}

/// The confirmation: what deleting the room would remove.
#[get("/staff/rooms/{room}/delete/")]
async fn delete_form(
    Staff(me): Staff,
    path: web::Path<String>,
    templates: web::Data<Templates>,
    db: web::Data<Database>,
    session: Session,
) -> Result<HttpResponse, AppError> {
    let name = room_name_from_path(&path)?;
    let lookup = name.as_str().to_owned();
    let contents = db
        .run(move |c| {
            let Some(room) = queries::rooms::by_name(c, &lookup)? else {
                return Ok(None);
            };
            if room.direct_a.is_some() {
                return Ok(None);
            }
            staff::room_contents(c, room.id).map(Some)
        })
        .await?
        .ok_or_else(|| no_such_room(&name))?;
    let title = format!("Delete #{name}");
    render(
        &templates,
        &session,
        &me,
        Section::Rooms,
        &title,
        "staff/room_delete.html",
        |ctx| {
            ctx.insert("subpage", &true);
            ctx.insert("name", name.as_str());
            ctx.insert("question", &removal_sentence(name.as_str(), contents));
        },
    )
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf_token: String,
}

/// Deletes the room, for good.
#[post("/staff/rooms/{room}/delete/")]
async fn delete(
    Staff(me): Staff,
    path: web::Path<String>,
    form: web::Form<CsrfForm>,
    moderation: web::Data<Moderation>,
    session: Session,
) -> Result<HttpResponse, AppError> {
    check_csrf(&session, &form.csrf_token)?;
    let room = room_name_from_path(&path)?;
    let here = format!("/staff/rooms/{room}/");
    match perform(&moderation, &me, Action::DeleteRoom { room }).await? {
        Ok(outcome) => back_with(&session, "/staff/rooms/", Flash::done(&outcome)),
        Err(error) => refuse(&session, &here, error, Kept::default()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delete_question_counts_what_goes() {
        let contents = staff::RoomContents {
            messages: 120,
            reactions: 4,
            memberships: 1,
        };
        assert_eq!(
            removal_sentence("x", contents),
            "Delete #x and its 120 messages, 4 reactions, 1 membership? This cannot be undone."
        );
    }

    #[test]
    fn access_words_are_the_forms_values() {
        assert_eq!(parse_access("public"), Ok(Access::Public));
        assert_eq!(parse_access("admin_only"), Ok(Access::AdminOnly));
        assert_eq!(parse_access("private"), Ok(Access::InviteOnly));
        assert!(parse_access("everyone").is_err());
    }
}
