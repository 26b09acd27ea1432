//! `/chat/`: the room selector and the room page.

use super::auth::{SignedIn, csrf_token};
use super::error::sentence;
use super::{AppError, Templates};
use crate::actors::registry::{OnlineCounts, Registry};
use crate::config::Settings;
use crate::db::Database;
use crate::db::queries::rooms;
use crate::domain::{RoomInfo, RoomName};
use actix::Addr;
use actix_session::Session;
use actix_web::http::header;
use actix_web::{HttpResponse, get, web};
use serde::{Deserialize, Serialize};

/// Registers the chat pages.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(home).service(index).service(room);
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
    let counts = registry
        .send(OnlineCounts)
        .await
        .map_err(|e| AppError::Internal(format!("registry: {e}")))?;
    let rooms: Vec<RoomRow> = db
        .run(rooms::all)
        .await?
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
    let mut ctx = Templates::context("Rooms", Some(&user), &csrf_token(&session)?);
    ctx.insert("rooms", &rooms);
    if let Some(error) = error {
        ctx.insert("error", &error);
    }
    let page = templates.render("chat/index.html", &ctx)?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(page))
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
    let info = RoomInfo {
        id: crate::domain::RoomId(row.id),
        name,
        admin_only: row.admin_only,
    };
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
