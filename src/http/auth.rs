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

/// Where to go after logging in or signing up: `next` if it is a path on
/// this site, else `/chat/`.
///
/// Browsers forgive a lot in a `Location`: they drop tabs and newlines,
/// read `\` as `/`, and treat `//host`, `/\host` and `https:host` as other
/// sites. So a path is accepted only if it starts with one `/`, has no
/// backslash, control character or white space other than a plain space,
/// and stays so once its percent-escapes are decoded (`/%09/x`, `/%5Cx`).
pub fn safe_next(next: &str) -> &str {
    if is_local_path(next) && percent_decoded(next).is_some_and(|p| is_local_path(&p)) {
        next
    } else {
        "/chat/"
    }
}

fn is_local_path(path: &str) -> bool {
    let mut chars = path.chars();
    chars.next() == Some('/')
        && !matches!(chars.next(), Some('/'))
        && !path
            .chars()
            .any(|c| c == '\\' || c.is_control() || (c.is_whitespace() && c != ' '))
}

/// `path` with its `%XX` escapes decoded (invalid UTF-8 replaced); `None`
/// for a `%` not followed by two hex digits.
fn percent_decoded(path: &str) -> Option<String> {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(String::from_utf8_lossy(&out).into_owned())
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
    fn every_known_redirect_bypass_lands_on_chat() {
        for bypass in [
            "//x",
            "/\\x",
            "/\t/x",
            "/\n/x",
            "\\/x",
            "https:x",
            "https:/x",
            "/%09/x",
            "/%2F/x",
            "/%2f%2fx",
            "/%5Cx",
            "/%0d%0aSet-Cookie:x",
            "/\u{7f}/x",
            "/\u{0}x",
            "/\u{2028}/x",
            "/%zz",
            "x",
            "javascript:alert(1)",
        ] {
            assert_eq!(safe_next(bypass), "/chat/", "{bypass:?}");
        }
        for fine in ["/", "/chat/", "/chat/caf%C3%A9/", "/chat/?q=a%20b#top"] {
            assert_eq!(safe_next(fine), fine, "{fine:?}");
        }
    }

    #[test]
    fn token_comparison() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
