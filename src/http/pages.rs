//! `/chat/`: the room selector and the room page.
//!
//! The selector lists at most `CONFAB_ROOM_INDEX_LIMIT` rooms, busiest
//! first, and searches the rest by name; its cost does not grow with every
//! room that exists (see [`rooms::index`] and [`OnlineRooms`]). It leaves
//! out archived rooms, and private rooms the reader is not a member of;
//! staff see both, marked. A visit to a room that does not exist creates
//! it, within the visitor's hourly quota (`CONFAB_ROOMS_PER_HOUR`).
//!
//! Who may enter a room is decided in one place, [`admitted`] (issue 14):
//! 403 for an admin-only room or a ban (with its reason and end), 404 for a
//! private room to a non-member. A renamed room's old name answers 301 to
//! the new one; an archived room's page is readable, with a banner.

use super::auth::{SignedIn, check_csrf, csrf_token};
use super::error::sentence;
use super::my_rooms::sidebar;
use super::{AppError, Templates, direct};
use crate::actors::registry::{OnlineRooms, Registry};
use crate::config::Settings;
use crate::db::models;
use crate::db::queries::moderation::{self, RoomRole};
use crate::db::queries::rooms::{self, IndexQuery, OpenRoomError, Visitor};
use crate::db::queries::rules::{self, Admission};
use crate::db::{Database, DbError};
use crate::domain::{Identity, RoomInfo, RoomName, Username};
use actix::Addr;
use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};

/// Registers the chat pages.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(home)
        .service(index)
        .service(create_room)
        .service(room);
}

fn redirect(to: &str) -> HttpResponse {
    HttpResponse::Found()
        .insert_header((header::LOCATION, to))
        .finish()
}

/// Parses a room name from a URL; a bad one is "no such page".
pub fn room_name_from_path(raw: &str) -> Result<RoomName, AppError> {
    RoomName::parse(raw).map_err(|e| {
        AppError::NotFound(format!(
            "There is no room called {raw:?} and there cannot be: {e}."
        ))
    })
}

/// `room`, if `user` (with their rights as loaded for this request) may
/// enter it now: 403 for an admin-only room or a ban (which says its reason
/// and end), 404 for a private room they are not a member of, worded as
/// for a room that does not exist, so that its name is not given away.
/// The page, the WebSocket handshake, Join and the composer's member list
/// all admit through here.
pub async fn admitted(
    db: &Database,
    user: &Identity,
    row: models::Room,
) -> Result<RoomInfo, AppError> {
    let who = user.clone();
    let (admission, row) = db
        .run(move |c| Ok::<_, DbError>((rules::admission(c, &row, &who)?, row)))
        .await?;
    let info = RoomInfo::from(row);
    match admission {
        Admission::Admitted => Ok(info),
        Admission::StaffOnly => Err(AppError::Forbidden(format!(
            "#{} is an admin-only room; only staff can enter it.",
            info.name
        ))),
        Admission::Banned(ban) => {
            let mut sentence = format!(
                "You are banned from #{} {}",
                info.name,
                ban.until_words(crate::db::queries::now())
            );
            if !ban.reason.is_empty() {
                sentence.push_str(": ");
                sentence.push_str(&ban.reason);
            }
            Err(AppError::Forbidden(sentence_end(sentence)))
        }
        Admission::NotAMember => Err(no_such_room(&info.name)),
    }
}

/// "There is no room called x.": for a room that does not exist, and for a
/// private one to someone who may not know it does.
pub fn no_such_room(name: &RoomName) -> AppError {
    AppError::NotFound(format!("There is no room called {name}."))
}

/// `text` ending in a full stop (unless it ends in punctuation already).
fn sentence_end(mut text: String) -> String {
    if !text.ends_with(['.', '!', '?']) {
        text.push('.');
    }
    text
}

#[get("/")]
async fn home() -> HttpResponse {
    redirect("/chat/")
}

#[derive(Deserialize)]
struct IndexParams {
    /// The "join or create" form without JavaScript (`@name`: a direct
    /// conversation).
    room_name: Option<String>,
    /// The search box: only rooms whose name contains this.
    q: Option<String>,
}

#[derive(Serialize)]
struct RoomRow {
    name: String,
    online: usize,
    admin_only: bool,
    /// Private (listed only to its members, and to staff, marked).
    invite_only: bool,
    /// Archived (listed only to staff, marked).
    archived: bool,
}

#[get("/chat/")]
async fn index(
    SignedIn(user): SignedIn,
    query: web::Query<IndexParams>,
    templates: web::Data<Templates>,
    db: web::Data<Database>,
    registry: web::Data<Addr<Registry>>,
    settings: web::Data<Settings>,
    session: Session,
) -> Result<HttpResponse, AppError> {
    // The form's no-JavaScript path: `?room_name=x` goes to the room.
    let mut error = None;
    if let Some(raw) = &query.room_name {
        let raw = raw.trim();
        let parsed = match direct::addressed(raw) {
            Some(other) => Username::parse(other).map(|name| format!("@{name}")),
            None => RoomName::parse(raw).map(|name| name.to_string()),
        };
        match parsed {
            Ok(key) => return Ok(redirect(&format!("/chat/{key}/"))),
            Err(e) => error = Some(sentence(&e)),
        }
    }
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    // Longer than any name can be: nothing could match, and nothing long
    // is sent to the database.
    let search = query
        .q
        .as_deref()
        .map(str::trim)
        .filter(|q| !q.is_empty())
        .map(|q| q.chars().take(RoomName::MAX_CHARS + 1).collect());
    let page = Index {
        user: &user,
        error,
        status,
        search,
    };
    page.render(&templates, &db, &registry, &settings, &session)
        .await
}

#[derive(Deserialize)]
struct CreateRoomForm {
    // Defaults, so a form without a token is refused as a CSRF failure
    // (403), not as an unparsable form.
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    name: String,
    /// A checkbox: present ("on") when ticked.
    admin_only: Option<String>,
}

/// Staff create a room, admin-only if they tick the box.
#[post("/chat/")]
async fn create_room(
    SignedIn(user): SignedIn,
    form: web::Form<CreateRoomForm>,
    templates: web::Data<Templates>,
    db: web::Data<Database>,
    registry: web::Data<Addr<Registry>>,
    settings: web::Data<Settings>,
    session: Session,
) -> Result<HttpResponse, AppError> {
    check_csrf(&session, &form.csrf_token)?;
    if !user.is_staff {
        return Err(AppError::Forbidden(
            "Only staff can create rooms here; anyone can open a new room by visiting it."
                .to_owned(),
        ));
    }
    let error = match RoomName::parse(form.name.trim()) {
        Err(e) => sentence(&e),
        Ok(name) => {
            let admin_only = form.admin_only.is_some();
            let create = name.as_str().to_owned();
            let by = user.id;
            match db
                .run(move |c| rooms::create(c, &create, admin_only, Some(by)))
                .await
            {
                Ok(_) => return Ok(redirect(&format!("/chat/{name}/"))),
                Err(DbError::Conflict) => format!("A room called {name} already exists."),
                Err(e) => return Err(e.into()),
            }
        }
    };
    let page = Index {
        user: &user,
        error: Some(error),
        status: StatusCode::BAD_REQUEST,
        search: None,
    };
    page.render(&templates, &db, &registry, &settings, &session)
        .await
}

/// The room selector, with an optional error for the form just sent.
struct Index<'a> {
    user: &'a Identity,
    error: Option<String>,
    status: StatusCode,
    /// The search box's text, if any.
    search: Option<String>,
}

impl Index<'_> {
    /// One question to the registry (one Redis call with a shared bus) for
    /// the busy rooms, and one database task for the page's rows: the cost
    /// grows with the rooms that have members and the index limit, not
    /// with every room.
    async fn render(
        self,
        templates: &Templates,
        db: &Database,
        registry: &Addr<Registry>,
        settings: &Settings,
        session: &Session,
    ) -> Result<HttpResponse, AppError> {
        let online = registry
            .send(OnlineRooms)
            .await
            .map_err(|e| AppError::Internal(format!("registry: {e}")))?;
        let query = IndexQuery {
            viewer: self.user.id,
            staff: self.user.is_staff,
            search: self.search.clone(),
            limit: settings.room_index_limit,
            online: online
                .into_iter()
                .map(|(name, n)| (name.as_str().to_owned(), n))
                .collect(),
        };
        let found = db.run(move |c| rooms::index(c, &query)).await?;
        let rooms: Vec<RoomRow> = found
            .rooms
            .into_iter()
            .map(|r| RoomRow {
                name: r.name,
                online: r.online,
                admin_only: r.admin_only,
                invite_only: r.invite_only,
                archived: r.archived,
            })
            .collect();
        let mut ctx = Templates::context("Rooms", Some(self.user), &csrf_token(session)?);
        ctx.insert("sidebar", &sidebar(db, self.user).await?);
        ctx.insert("rooms", &rooms);
        ctx.insert("more_rooms", &found.more);
        ctx.insert("index_limit", &settings.room_index_limit);
        if let Some(search) = &self.search {
            ctx.insert("search", search);
        }
        if let Some(error) = self.error {
            ctx.insert("error", &error);
        }
        let page = templates.render("chat/index.html", &ctx)?;
        Ok(HttpResponse::build(self.status)
            .content_type("text/html; charset=utf-8")
            .body(page))
    }
}

/// What the room page shows of a room or a conversation.
#[derive(Serialize)]
struct RoomContext<'a> {
    /// Its key in URLs (`/chat/<name>/`, `/ws/chat/<name>/`): the room's
    /// name, or `@<other>` for a conversation.
    name: &'a str,
    /// Its name without the sigil: the room's, or the other participant's.
    title: &'a str,
    /// The sigil shown before it: `#` for a room, `@` for a conversation.
    sigil: &'static str,
    /// How the page refers to it: `#room` or `@user`.
    label: String,
    admin_only: bool,
    /// Private: members only (a badge in the header).
    invite_only: bool,
    /// Archived: readable, not writable (a banner says so).
    archived: bool,
    /// A direct conversation.
    direct: bool,
    /// The conversation with myself.
    notes: bool,
    /// One of the user's rooms: the page offers Leave, else Join.
    member: bool,
    /// The user's role here (`member`, `moderator`, `owner`, `staff`):
    /// moderators and above get the Room settings link and the
    /// moderation items of the message menus (static/room/moderate.js).
    role: &'static str,
    /// Whether that role moderates the room.
    moderates: bool,
}

/// Renders the room page for `shown`, whose room is stored as `stored`
/// (the key the sidebar files it under), with the sidebar.
async fn room_page(
    templates: &Templates,
    settings: &Settings,
    db: &Database,
    session: &Session,
    user: &Identity,
    stored: &str,
    mut shown: RoomContext<'_>,
) -> Result<HttpResponse, AppError> {
    let mut ctx = Templates::context(&shown.label, Some(user), &csrf_token(session)?);
    let mine = sidebar(db, user).await?;
    shown.member = mine.iter().any(|view| view.room == stored);
    ctx.insert("sidebar", &mine);
    ctx.insert("current_room", stored);
    ctx.insert("room", &shown);
    ctx.insert("max_message_chars", &settings.max_message_chars);
    ctx.insert("reason_max_chars", &settings.moderation_reason_max_chars);
    let page = templates.render("chat/room.html", &ctx)?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(page))
}

#[get("/chat/{room}/")]
async fn room(
    SignedIn(user): SignedIn,
    path: web::Path<String>,
    templates: web::Data<Templates>,
    db: web::Data<Database>,
    settings: web::Data<Settings>,
    session: Session,
) -> Result<HttpResponse, AppError> {
    if let Some(other) = direct::addressed(&path) {
        let conversation = direct::open(&db, &user, other).await?;
        let key = conversation.key();
        if key != *path {
            // `/chat/@BOB/` is bob's conversation: one URL for it.
            return Ok(redirect(&format!("/chat/{key}/")));
        }
        let page = RoomContext {
            name: &key,
            title: conversation.with.as_str(),
            sigil: "@",
            label: key.clone(),
            admin_only: false,
            invite_only: false,
            archived: false,
            direct: true,
            notes: conversation.is_notes(&user),
            member: false,
            // Conversations have no moderation.
            role: RoomRole::Member.as_str(),
            moderates: false,
        };
        let stored = conversation.room.name.as_str();
        return room_page(&templates, &settings, &db, &session, &user, stored, page).await;
    }
    let name = room_name_from_path(&path)?;
    let lookup = name.as_str().to_owned();
    let visitor = Visitor {
        id: user.id,
        rooms_per_hour: (settings.rooms_per_hour > 0 && !user.is_staff)
            .then_some(settings.rooms_per_hour),
    };
    // A renamed room's old name leads to its new one (unless a room took
    // the old name since); anything else is found, or created.
    let found = db
        .run(move |c| {
            if rooms::by_name(c, &lookup)?.is_none()
                && let Some(renamed) = rules::renamed_from(c, &lookup)?
            {
                return Ok(Err(renamed.name));
            }
            rooms::get_or_create(c, &lookup, visitor).map(Ok)
        })
        .await
        .map_err(|e| match e {
            OpenRoomError::QuotaReached { retry_after, .. } => AppError::RateLimited {
                message: sentence(&e),
                retry_after,
            },
            OpenRoomError::Db(e) => e.into(),
        })?;
    let row = match found {
        Ok(row) => row,
        Err(new_name) => {
            // Where the room is now, but only to those it admits: a private
            // room's new name is no one else's business.
            let moved = RoomName::from_stored(new_name);
            let lookup = moved.as_str().to_owned();
            let row = db
                .run(move |c| rooms::by_name(c, &lookup))
                .await?
                .ok_or_else(|| no_such_room(&name))?;
            admitted(&db, &user, row).await.map_err(|e| match e {
                AppError::NotFound(_) => no_such_room(&name),
                other => other,
            })?;
            return Ok(HttpResponse::MovedPermanently()
                .insert_header((header::LOCATION, format!("/chat/{moved}/")))
                .finish());
        }
    };
    let info = admitted(&db, &user, row.clone()).await?;
    let role = {
        let who = user.clone();
        db.run(move |c| moderation::role_in(c, &row, &who)).await?
    };
    let page = RoomContext {
        name: info.name.as_str(),
        title: info.name.as_str(),
        sigil: "#",
        label: format!("#{}", info.name),
        admin_only: info.admin_only,
        invite_only: info.invite_only,
        archived: info.archived,
        direct: false,
        notes: false,
        member: false,
        role: role.as_str(),
        moderates: role.moderates(),
    };
    let stored = info.name.as_str();
    room_page(&templates, &settings, &db, &session, &user, stored, page).await
}
