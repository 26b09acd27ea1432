//! Who is signed in: the session cookie and CSRF tokens (passwords are
//! hashed in [`crate::passwords`]).
//!
//! The cookie is encrypted and signed (actix-session's private cookie store)
//! and holds only the user's id and the CSRF token; the user row is read
//! from the database on each request, so a demoted or deleted account loses
//! its rights at once.

use super::AppError;
use crate::db::Database;
use crate::db::queries::users;
use crate::domain::{Identity, UserId, Username};
use actix_session::{Session, SessionExt};
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use futures_util::future::LocalBoxFuture;
use rand::RngCore;

const USER_ID: &str = "uid";
const CSRF: &str = "csrf";

fn session_error(e: impl std::fmt::Display) -> AppError {
    AppError::Internal(format!("session cookie: {e}"))
}

/// The user the session cookie names, if it names one that still exists.
pub async fn current_user(session: &Session, db: &Database) -> Result<Option<Identity>, AppError> {
    let Some(id) = session.get::<UserId>(USER_ID).map_err(session_error)? else {
        return Ok(None);
    };
    let row = db.run(move |c| users::by_id(c, id)).await?;
    Ok(row.map(|u| Identity {
        id: u.id,
        username: Username::from_stored(u.username),
        is_staff: u.is_staff,
    }))
}

/// Starts a fresh session for `user` (a new cookie and CSRF token, so a
/// session fixed before login is worthless after it).
pub fn log_in(session: &Session, user: UserId) -> Result<(), AppError> {
    session.renew();
    session.insert(USER_ID, user.0).map_err(session_error)?;
    session.insert(CSRF, new_token()).map_err(session_error)?;
    Ok(())
}

/// Ends the session entirely.
pub fn log_out(session: &Session) {
    session.purge();
}

fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// The session's CSRF token, created on first use.
pub fn csrf_token(session: &Session) -> Result<String, AppError> {
    if let Some(token) = session.get::<String>(CSRF).map_err(session_error)? {
        return Ok(token);
    }
    let token = new_token();
    session.insert(CSRF, &token).map_err(session_error)?;
    Ok(token)
}

/// Refuses a form whose token does not match the session's.
pub fn check_csrf(session: &Session, submitted: &str) -> Result<(), AppError> {
    let expected = session
        .get::<String>(CSRF)
        .map_err(session_error)?
        .ok_or(AppError::Csrf)?;
    if constant_time_eq(expected.as_bytes(), submitted.as_bytes()) {
        Ok(())
    } else {
        Err(AppError::Csrf)
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Extractor for pages that need a signed-in user; anyone else is sent to
/// the login page with `?next=` pointing back.
pub struct SignedIn(pub Identity);

impl FromRequest for SignedIn {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let session = req.get_session();
        let db = req.app_data::<web::Data<Database>>().cloned();
        let next = match req.query_string() {
            "" => req.path().to_owned(),
            q => format!("{}?{q}", req.path()),
        };
        Box::pin(async move {
            let db = db.ok_or_else(|| AppError::Internal("no database configured".into()))?;
            current_user(&session, &db)
                .await?
                .map(SignedIn)
                .ok_or(AppError::LoginRequired { next })
        })
    }
}

/// Where to go after logging in: only paths on this site, never another host.
pub fn safe_next(next: &str) -> &str {
    let local = next.starts_with('/') && !next.starts_with("//") && !next.starts_with("/\\");
    if local { next } else { "/chat/" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_must_stay_on_this_site() {
        assert_eq!(safe_next("/chat/lobby/"), "/chat/lobby/");
        assert_eq!(safe_next("//evil.example/"), "/chat/");
        assert_eq!(safe_next("/\\evil.example/"), "/chat/");
        assert_eq!(safe_next("https://evil.example/"), "/chat/");
        assert_eq!(safe_next(""), "/chat/");
    }

    #[test]
    fn token_comparison() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
