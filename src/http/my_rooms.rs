//! "My rooms": the Join and Leave buttons of a room page, the sidebar every
//! page shows, and its JSON for pages without a room socket.
//!
//! - `POST /chat/<room>/join` and `POST /chat/<room>/leave` (forms with the
//!   CSRF token) add or remove the membership and go back to the room. The
//!   user's modern sockets on every instance get their new `unread` list,
//!   and every instance's registry learns the change (a
//!   [`ToUser::Membership`] on the user's bus channel).
//! - [`sidebar`] loads what the sidebar shows, for the pages to render
//!   without JavaScript.
//! - `GET /me/unread/` is the same as JSON (`{"rooms": [...]}`, the
//!   `unread` frame's list): pages without a room socket refresh their
//!   sidebar from it every few seconds and whenever the tab regains focus.

use super::AppError;
use super::auth::{SignedIn, check_csrf};
use super::pages::{admitted, no_such_room, room_name_from_path};
use crate::actors::bus::{Bus, ToUser};
use crate::actors::unread::{snapshot, view_of};
use crate::db::Database;
use crate::db::queries::{memberships, rooms};
use crate::domain::{Identity, RoomInfo};
use crate::protocol::{PlaceKind, UnreadView};
use actix_web::http::header;
use actix_web::{HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};

/// Registers the membership routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(join).service(leave).service(unread_json);
}

/// What the sidebar shows: the user's rooms, then their conversations,
/// with counts.
pub async fn sidebar(db: &Database, user: &Identity) -> Result<Vec<UnreadView>, AppError> {
    let id = user.id;
    let rows = db.run(move |c| memberships::unread(c, id, None)).await?;
    let mut views: Vec<UnreadView> = rows.into_iter().map(view_of).collect();
    views.sort_by_key(|view| view.kind == PlaceKind::Direct);
    Ok(views)
}

#[derive(Deserialize)]
struct MembershipForm {
    // A default, so a form without a token is refused as a CSRF failure
    // (403), not as an unparsable form.
    #[serde(default)]
    csrf_token: String,
}

/// The room in the path, which must exist and admit `user` (a private
/// room is joined by invitation only: Join answers 404 there, as the page
/// does).
async fn admitted_room(db: &Database, user: &Identity, path: &str) -> Result<RoomInfo, AppError> {
    let name = room_name_from_path(path)?;
    let lookup = name.as_str().to_owned();
    let row = db
        .run(move |c| rooms::by_name(c, &lookup))
        .await?
        .ok_or_else(|| no_such_room(&name))?;
    admitted(db, user, row).await
}

/// Tells every instance (and the user's modern sockets) that `user` joined
/// or left `room`, with their new list.
async fn announce(
    db: &Database,
    bus: &Bus,
    user: &Identity,
    room: &RoomInfo,
    member: bool,
) -> Result<(), AppError> {
    let id = user.id;
    let rows = db.run(move |c| memberships::unread(c, id, None)).await?;
    bus.tell_user(
        &user.username,
        ToUser::Membership {
            room: room.id,
            member,
            notice: snapshot(rows),
        },
    );
    Ok(())
}

/// Back to the room page (303: the browser follows with a GET).
fn back_to(room: &RoomInfo) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, format!("/chat/{}/", room.name)))
        .finish()
}

/// The Join button: the room becomes one of mine, everything in it read.
#[post("/chat/{room}/join")]
async fn join(
    SignedIn(user): SignedIn,
    path: web::Path<String>,
    form: web::Form<MembershipForm>,
    session: actix_session::Session,
    db: web::Data<Database>,
    bus: web::Data<Bus>,
) -> Result<HttpResponse, AppError> {
    check_csrf(&session, &form.csrf_token)?;
    let room = admitted_room(&db, &user, &path).await?;
    let (user_id, room_id) = (user.id, room.id);
    db.run(move |c| memberships::join(c, user_id, room_id, crate::db::queries::now()))
        .await?;
    announce(&db, &bus, &user, &room, true).await?;
    Ok(back_to(&room))
}

/// The Leave button: the room is no longer one of mine.
#[post("/chat/{room}/leave")]
async fn leave(
    SignedIn(user): SignedIn,
    path: web::Path<String>,
    form: web::Form<MembershipForm>,
    session: actix_session::Session,
    db: web::Data<Database>,
    bus: web::Data<Bus>,
) -> Result<HttpResponse, AppError> {
    check_csrf(&session, &form.csrf_token)?;
    // Leaving needs no admission: a user demoted from staff may still
    // take an admin-only room off their list.
    let name = room_name_from_path(&path)?;
    let lookup = name.as_str().to_owned();
    let room = db
        .run(move |c| rooms::by_name(c, &lookup))
        .await?
        .map(RoomInfo::from)
        .ok_or_else(|| AppError::NotFound(format!("There is no room called {name}.")))?;
    let (user_id, room_id) = (user.id, room.id);
    db.run(move |c| memberships::leave(c, user_id, room_id))
        .await?;
    announce(&db, &bus, &user, &room, false).await?;
    Ok(back_to(&room))
}

/// The sidebar's list as JSON.
#[derive(Serialize)]
struct UnreadList {
    rooms: Vec<UnreadView>,
}

/// `GET /me/unread/`: the sidebar of pages without a room socket.
#[get("/me/unread/")]
async fn unread_json(
    SignedIn(user): SignedIn,
    db: web::Data<Database>,
) -> Result<HttpResponse, AppError> {
    let rooms = sidebar(&db, &user).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(UnreadList { rooms }))
}
