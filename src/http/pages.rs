//! `/chat/`: the room selector and the room page.

use super::auth::{SignedIn, check_csrf, csrf_token};
use super::error::sentence;
use super::{AppError, Templates};
use crate::actors::registry::{OnlineCounts, Registry};
use crate::config::Settings;
use crate::db::queries::rooms;
use crate::db::{Database, DbError};
use crate::domain::{Identity, RoomInfo, RoomName};
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

#[get("/")]
async fn home() -> HttpResponse {
    redirect("/chat/")
}

#[derive(Deserialize)]
struct IndexQuery {
    room_name: Option<String>,
}

#[derive(Serialize)]
struct RoomRow {
    name: String,
    online: usize,
    admin_only: bool,
}

#[get("/chat/")]
async fn index(
    SignedIn(user): SignedIn,
    query: web::Query<IndexQuery>,
    templates: web::Data<Templates>,
    db: web::Data<Database>,
    registry: web::Data<Addr<Registry>>,
    session: Session,
) -> Result<HttpResponse, AppError> {
    // The form's no-JavaScript path: `?room_name=x` goes to the room.
    let mut error = None;
    if let Some(raw) = &query.room_name {
        match RoomName::parse(raw.trim()) {
            Ok(name) => return Ok(redirect(&format!("/chat/{name}/"))),
            Err(e) => error = Some(sentence(&e)),
        }
    }
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let page = Index {
        user: &user,
        error,
        status,
    };
    page.render(&templates, &db, &registry, &session).await
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
            match db.run(move |c| rooms::create(c, &create, admin_only)).await {
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
    };
    page.render(&templates, &db, &registry, &session).await
}

/// The room selector, with an optional error for the form just sent.
struct Index<'a> {
    user: &'a Identity,
    error: Option<String>,
    status: StatusCode,
}

impl Index<'_> {
    async fn render(
        self,
        templates: &Templates,
        db: &Database,
        registry: &Addr<Registry>,
        session: &Session,
    ) -> Result<HttpResponse, AppError> {
        let all = db.run(rooms::all).await?;
        let names = all
            .iter()
            .filter_map(|r| RoomName::parse(&r.name).ok())
            .collect();
        let counts = registry
            .send(OnlineCounts { rooms: names })
            .await
            .map_err(|e| AppError::Internal(format!("registry: {e}")))?;
        let rooms: Vec<RoomRow> = all
            .into_iter()
            .map(|r| RoomRow {
                online: RoomName::parse(&r.name)
                    .ok()
                    .and_then(|n| counts.get(&n).copied())
                    .unwrap_or(0),
                name: r.name,
                admin_only: r.admin_only,
            })
            .collect();
        let mut ctx = Templates::context("Rooms", Some(self.user), &csrf_token(session)?);
        ctx.insert("rooms", &rooms);
        if let Some(error) = self.error {
            ctx.insert("error", &error);
        }
        let page = templates.render("chat/index.html", &ctx)?;
        Ok(HttpResponse::build(self.status)
            .content_type("text/html; charset=utf-8")
            .body(page))
    }
}

#[derive(Serialize)]
struct RoomContext<'a> {
    name: &'a str,
    admin_only: bool,
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
    let name = room_name_from_path(&path)?;
    let lookup = name.as_str().to_owned();
    let row = db.run(move |c| rooms::get_or_create(c, &lookup)).await?;
    let info = RoomInfo::from(row);
    if !info.admits(&user) {
        return Err(AppError::Forbidden(format!(
            "#{} is an admin-only room; only staff can enter it.",
            info.name
        )));
    }
    let mut ctx = Templates::context(
        &format!("#{}", info.name),
        Some(&user),
        &csrf_token(&session)?,
    );
    ctx.insert(
        "room",
        &RoomContext {
            name: info.name.as_str(),
            admin_only: info.admin_only,
        },
    );
    ctx.insert("max_message_chars", &settings.max_message_chars);
    let page = templates.render("chat/room.html", &ctx)?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(page))
}
