//! `/staff/users/`: every account, newest first, searched by name a page
//! at a time; and a page per account (`/staff/users/<name>/`) to promote
//! or demote it, deactivate or reactivate it, end its sessions, set a new
//! password (which the user must change at the next login), and see its
//! latest messages and its mutes and bans (lifting those in force).

use super::{
    Kept, PageNumber, Pager, Section, Staff, Time, perform_and_return, refuse, render, search_text,
};
use crate::config::Settings;
use crate::db::Database;
use crate::db::queries::{self, staff};
use crate::domain::{Password, Reason, RoomName, Username};
use crate::http::error::sentence;
use crate::http::{AppError, Templates, auth::check_csrf};
use crate::moderation::{Action, Moderation};
use crate::passwords::PasswordHashing;
use actix_session::Session;
use actix_web::{HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};

/// Registers the user pages and forms.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(list).service(user_page).service(change);
}

/// How many of a user's latest messages their page shows.
const RECENT_MESSAGES: i64 = 20;

/// An account as the list and its page show it.
#[derive(Serialize)]
struct UserView {
    name: String,
    staff: bool,
    deactivated: Option<Time>,
    must_change_password: bool,
    joined: Time,
    last_seen: Option<Time>,
    messages: i64,
}

impl From<staff::UserLine> for UserView {
    fn from(line: staff::UserLine) -> Self {
        UserView {
            staff: line.user.is_staff,
            deactivated: line.user.deactivated_at.map(Time::from),
            must_change_password: line.user.must_change_password,
            joined: line.user.created_at.into(),
            last_seen: line.last_seen.map(Time::from),
            messages: line.messages,
            name: line.user.username,
        }
    }
}

/// A mute or a ban as a page shows it.
#[derive(Serialize)]
pub(super) struct SanctionView {
    room: String,
    user: String,
    /// `mute` or `ban`.
    kind: String,
    reason: String,
    by: Option<String>,
    since: Time,
    /// When it ends by itself; `None`: when lifted.
    until: Option<Time>,
    lifted: Option<Time>,
    active: bool,
}

impl From<staff::SanctionLine> for SanctionView {
    fn from(line: staff::SanctionLine) -> Self {
        SanctionView {
            room: line.room,
            user: line.user,
            kind: line.sanction.kind,
            reason: line.sanction.reason,
            by: line.by,
            since: line.sanction.created_at.into(),
            until: line.sanction.expires_at.map(Time::from),
            lifted: line.sanction.lifted_at.map(Time::from),
            active: line.active,
        }
    }
}

/// A message of the user's page.
#[derive(Serialize)]
struct MessageView {
    id: i64,
    room: String,
    content: String,
    posted: Time,
    /// The message in its room.
    url: String,
}

#[derive(Deserialize)]
struct ListParams {
    q: Option<String>,
}

#[get("/staff/users/")]
async fn list(
    Staff(me): Staff,
    params: web::Query<ListParams>,
    page: web::Query<PageNumber>,
    templates: web::Data<Templates>,
    db: web::Data<Database>,
    settings: web::Data<Settings>,
    session: Session,
) -> Result<HttpResponse, AppError> {
    let search = search_text(params.q.as_deref(), Username::MAX_CHARS + 1);
    let rows = page.rows(settings.staff_page_size);
    let like = search.clone();
    let found = db
        .run(move |c| staff::users(c, like.as_deref(), rows))
        .await?;
    let pager = Pager::new(
        "/staff/users/",
        &[("q", search.as_deref().unwrap_or(""))],
        *page,
        found.more,
    );
    let users: Vec<UserView> = found.rows.into_iter().map(UserView::from).collect();
    render(
        &templates,
        &session,
        &me,
        Section::Users,
        "Users",
        "staff/users.html",
        |ctx| {
            ctx.insert("users", &users);
            ctx.insert("q", search.as_deref().unwrap_or(""));
            ctx.insert("pager", &pager);
        },
    )
}

/// Parses a username from a URL; a bad one is "no such page".
fn username_from_path(raw: &str) -> Result<Username, AppError> {
    Username::parse(raw).map_err(|_| no_such_user(raw))
}

fn no_such_user(name: &str) -> AppError {
    AppError::NotFound(format!("There is no user called {name}."))
}

#[get("/staff/users/{user}/")]
async fn user_page(
    Staff(me): Staff,
    path: web::Path<String>,
    templates: web::Data<Templates>,
    db: web::Data<Database>,
    session: Session,
) -> Result<HttpResponse, AppError> {
    let name = username_from_path(&path)?;
    let lookup = name.as_str().to_owned();
    let detail = db
        .run(move |c| staff::user_detail(c, &lookup, RECENT_MESSAGES, queries::now()))
        .await?
        .ok_or_else(|| no_such_user(name.as_str()))?;
    let sessions = detail.sessions;
    let recent: Vec<MessageView> = detail
        .recent
        .into_iter()
        .map(|m| MessageView {
            id: m.id.0,
            url: format!("/chat/{}/?around={}", m.room, m.id),
            room: m.room,
            content: m.content,
            posted: m.created_at.into(),
        })
        .collect();
    let sanctions: Vec<SanctionView> = detail
        .sanctions
        .into_iter()
        .map(SanctionView::from)
        .collect();
    let view = UserView::from(detail.line);
    let is_me = view.name == me.username.as_str();
    let all_messages = format!(
        "/staff/messages/?{}",
        serde_urlencoded::to_string([("q", format!("from:{}", view.name))]).unwrap_or_default()
    );
    let title = view.name.clone();
    render(
        &templates,
        &session,
        &me,
        Section::Users,
        &title,
        "staff/user.html",
        |ctx| {
            ctx.insert("subpage", &true);
            ctx.insert("account", &view);
            ctx.insert("is_me", &is_me);
            ctx.insert("all_messages", &all_messages);
            ctx.insert("sessions", &sessions);
            ctx.insert("recent", &recent);
            ctx.insert("sanctions", &sanctions);
        },
    )
}

#[derive(Deserialize)]
struct UserForm {
    #[serde(default)]
    csrf_token: String,
    /// Which change: the name of the button pressed.
    #[serde(default)]
    op: String,
    /// `deactivate`: why.
    #[serde(default)]
    reason: String,
    /// `set_password`: the new password, twice.
    #[serde(default)]
    password: String,
    #[serde(default)]
    password2: String,
    /// `unmute`, `unban`: in which room.
    #[serde(default)]
    room: String,
}

/// One change to an account, by the button pressed.
#[post("/staff/users/{user}/")]
#[allow(clippy::too_many_arguments)] // each is one piece of shared state
async fn change(
    Staff(me): Staff,
    path: web::Path<String>,
    form: web::Form<UserForm>,
    moderation: web::Data<Moderation>,
    passwords: web::Data<PasswordHashing>,
    settings: web::Data<Settings>,
    session: Session,
) -> Result<HttpResponse, AppError> {
    check_csrf(&session, &form.csrf_token)?;
    let user = username_from_path(&path)?;
    let here = format!("/staff/users/{user}/");
    let kept = Kept::form(&form.op)
        .with("reason", &form.reason)
        .with("room", &form.room);
    let refused = |error: String| refuse(&session, &here, error, kept.clone());
    let room = || RoomName::parse(form.room.trim()).map_err(|e| sentence(&e));
    let action = match form.op.as_str() {
        "promote" => Action::Promote { user },
        "demote" => Action::Demote { user },
        "reactivate" => Action::Reactivate { user },
        "end_sessions" => Action::EndSessions { user },
        "deactivate" => match Reason::parse(&form.reason, settings.moderation_reason_max_chars) {
            Ok(reason) => Action::Deactivate { user, reason },
            Err(e) => return refused(sentence(&e)),
        },
        "unmute" => match room() {
            Ok(room) => Action::Unmute { room, user },
            Err(e) => return refused(e),
        },
        "unban" => match room() {
            Ok(room) => Action::Unban { room, user },
            Err(e) => return refused(e),
        },
        "set_password" => {
            // The rules of sign-up, for the account's own name; neither
            // password is kept for the form (they would sit in a cookie).
            let password = match Password::parse(&form.password, &user) {
                Ok(password) => password,
                Err(e) => return refused(format!("{} Type it again.", sentence(&e))),
            };
            if form.password != form.password2 {
                return refused("The two passwords do not match; type them again.".to_owned());
            }
            let hash = passwords.hash(password).await?;
            Action::SetPassword { user, hash }
        }
        _ => return refused("That is not something an account can do.".to_owned()),
    };
    perform_and_return(&moderation, &session, &me, action, &here, kept).await
}
