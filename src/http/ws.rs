//! `/ws/chat/<room>/`: the WebSocket handshake.
//!
//! Everything is checked before the connection is upgraded, so a refused
//! client gets a plain HTTP status: 403 for a foreign `Origin` (as Channels'
//! `AllowedHostsOriginValidator`), for no session (or one that has ended:
//! a replayed cookie after logout, an idle one), for an admin-only room or
//! a ban; 404 for a room that does not exist, for a renamed room's old name
//! and for a private room the user is not a member of (its name is not
//! given away). Admission is [`admitted`]'s, as for the room page. `/ws/chat/@<user>/` is the socket
//! of my direct conversation with that user (404 for no such account; see
//! [`direct`](super::direct)), with the same checks and protocol.

use super::auth::{SignedInAs, signed_in};
use super::client::{client_addr, requested_host};
use super::error::sentence;
use super::pages::{admitted, no_such_room, room_name_from_path};
use super::{AppError, direct};
use crate::actors::session::{SessionsShared, WsSession};
use crate::config::Settings;
use crate::db::Database;
use crate::db::queries::rooms;
use crate::domain::MessageId;
use actix_session::Session;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, web};

/// Registers the WebSocket endpoint.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(chat_socket);
}

/// Whether a browser page from `origin` may open a socket to this server.
/// With no configured list, only the host the request was sent to is
/// allowed; `*` in the list allows any origin.
pub fn origin_allowed(origin: Option<&str>, host: &str, allowed: &[String]) -> bool {
    let Some(origin) = origin else {
        return allowed.iter().any(|a| a == "*");
    };
    let origin = origin.trim_end_matches('/');
    if allowed.is_empty() {
        let origin_host = origin.split_once("://").map(|(_, rest)| rest);
        return origin_host.is_some_and(|h| h.eq_ignore_ascii_case(host));
    }
    allowed
        .iter()
        .any(|a| a == "*" || a.eq_ignore_ascii_case(origin))
}

/// The socket URL's query: `?after=ID` when reconnecting, `v=2` from a
/// client that understands the frame types newer than the tutorial's.
#[derive(serde::Deserialize)]
struct SocketQuery {
    /// The last message id the client saw.
    after: Option<MessageId>,
    /// The protocol version the client speaks: 2 for a modern client;
    /// absent (or 1) for the tutorial's.
    v: Option<u32>,
}

/// The protocol version that adds the team-chat frames (`unread`,
/// `read_marker`, `activity`).
const MODERN: u32 = 2;

#[get("/ws/chat/{room}/")]
async fn chat_socket(
    req: HttpRequest,
    stream: web::Payload,
    path: web::Path<String>,
    session: Session,
    db: web::Data<Database>,
    sessions: web::Data<SessionsShared>,
    settings: web::Data<Settings>,
) -> Result<HttpResponse, actix_web::Error> {
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok());
    let host = requested_host(&req, &settings.trusted_proxies);
    if !origin_allowed(origin, &host, &settings.allowed_origins) {
        log::warn!("refused WebSocket from origin {origin:?} (host {host})");
        return Err(
            AppError::Forbidden("This origin may not open chat connections.".into()).into(),
        );
    }
    let SignedInAs { user, login } = signed_in(&session, &db, &settings)
        .await?
        .ok_or_else(|| AppError::Forbidden("Log in to chat.".into()))?;
    let query = web::Query::<SocketQuery>::from_query(req.query_string()).map_err(|_| {
        AppError::BadRequest(
            "`after` must be the id of the last message seen, and `v` a protocol version \
             (2)."
                .into(),
        )
    })?;
    let info = match direct::addressed(&path) {
        Some(other) => direct::open(&db, &user, other).await?.room,
        None => {
            // By its name now only: a renamed room's old name is no
            // socket's (the page redirects; the client follows).
            let name = room_name_from_path(&path)?;
            let lookup = name.as_str().to_owned();
            let row = db
                .run(move |c| rooms::by_name(c, &lookup))
                .await
                .map_err(AppError::from)?
                .ok_or_else(|| no_such_room(&name))?;
            admitted(&db, &user, row).await?
        }
    };
    if !info.admits(&user) {
        return Err(AppError::Forbidden(format!("#{} is for staff only.", info.name)).into());
    }
    let address = client_addr(&req, &settings.trusted_proxies);
    let permit = sessions
        .sockets
        .admit(user.id, address)
        .map_err(|refused| {
            log::warn!(
                "refused a WebSocket for {} from {address:?}: {refused}",
                user.username
            );
            AppError::TooManyRequests(sentence(&refused))
        })?;
    WsSession::new(user, login, info, &sessions)
        .resuming_after(query.after)
        .modern(query.v.is_some_and(|v| v >= MODERN))
        .holding(permit)
        .start(&req, stream)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_host_by_default() {
        assert!(origin_allowed(
            Some("http://127.0.0.1:8000"),
            "127.0.0.1:8000",
            &[]
        ));
        assert!(!origin_allowed(
            Some("http://evil.example"),
            "127.0.0.1:8000",
            &[]
        ));
        assert!(!origin_allowed(None, "127.0.0.1:8000", &[]));
    }

    #[test]
    fn configured_list_is_exact() {
        let allowed = vec!["https://chat.example".to_owned()];
        assert!(origin_allowed(
            Some("https://chat.example"),
            "internal:8000",
            &allowed
        ));
        assert!(!origin_allowed(
            Some("http://chat.example"),
            "internal:8000",
            &allowed
        ));
        assert!(origin_allowed(None, "x", &["*".to_owned()]));
    }
}
