//! Who is signed in: the session cookie, the server-side session it
//! names, and CSRF tokens (passwords are hashed in [`crate::passwords`]).
//!
//! The cookie is encrypted and signed (actix-session's private cookie store)
//! and holds the CSRF token and, once signed in, a random
//! [`LoginSecret`]. The session itself lives on the server: a row of
//! `sessions` found by the secret's hash, which says whose it is. So logout
//! deletes the row and every copy of the cookie stops working at once, and
//! a session unused for `CONFAB_SESSION_IDLE_SECS` is over. The user row is
//! read with the session on each request, so a demoted or deleted account
//! loses its rights at once, and a deactivated one is signed out.
//!
//! When staff set a user's password (`must_change_password`), the user may
//! log in with it, but until they choose their own every page sends them to
//! `/accounts/password/` (303; logging out still works), and chat sockets
//! are refused (403).

use super::AppError;
use crate::config::Settings;
use crate::db::Database;
use crate::db::queries::{self, sessions};
use crate::domain::{Identity, LoginId, LoginLifetime, LoginSecret, UserId, Username};
use actix_session::{Session, SessionExt};
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use futures_util::future::LocalBoxFuture;
use rand::RngCore;

/// The cookie field that holds the [`LoginSecret`].
const SECRET: &str = "sid";
const CSRF: &str = "csrf";

fn session_error(e: impl std::fmt::Display) -> AppError {
    AppError::Internal(format!("session cookie: {e}"))
}

/// A signed-in request: who, and which of their sessions.
#[derive(Debug, Clone)]
pub struct SignedInAs {
    /// The user, as the database has them now.
    pub user: Identity,
    /// The server-side session the cookie names.
    pub login: LoginId,
}

/// What the page says to a user who must change their password before a
/// chat socket is let in.
const PASSWORD_FIRST: &str =
    "Staff set a new password for your account: choose your own at /accounts/password/ first.";

/// The paths open to a user who must change their password: the form
/// that changes it, and logging out.
const OPEN_BEFORE_PASSWORD_CHANGE: [&str; 2] = ["/accounts/password/", "/accounts/logout/"];

/// The user and session the cookie names, if it names a session that is
/// still there, not idle past its time (which is then deleted) and of an
/// account that is not deactivated; and whether its user must change
/// their password first. A use is written down only every so often
/// ([`LoginLifetime::needs_touch`]), so most page loads write nothing.
async fn lookup(
    session: &Session,
    db: &Database,
    settings: &Settings,
) -> Result<Option<(SignedInAs, bool)>, AppError> {
    let Some(secret) = session.get::<String>(SECRET).map_err(session_error)? else {
        return Ok(None);
    };
    let key_hash = LoginSecret::from_cookie(secret).hash();
    let lifetime = LoginLifetime::new(settings.session_idle);
    let found = db
        .run(move |c| {
            let Some((login, user)) = sessions::find(c, &key_hash)? else {
                return Ok(None);
            };
            // Deactivation deletes the sessions too; this covers one that
            // raced it.
            if user.deactivated_at.is_some() {
                return Ok(None);
            }
            let now = queries::now();
            if lifetime.is_over(login.last_seen_at, now) {
                sessions::delete(c, login.id)?;
                return Ok(None);
            }
            if lifetime.needs_touch(login.last_seen_at, now) {
                sessions::touch(c, &[login.id], now)?;
            }
            let must_change = user.must_change_password;
            Ok::<_, crate::db::DbError>(Some((
                SignedInAs {
                    user: Identity {
                        id: user.id,
                        username: Username::from_stored(user.username),
                        is_staff: user.is_staff,
                    },
                    login: login.id,
                },
                must_change,
            )))
        })
        .await?;
    if found.is_none() {
        // Ended or expired: the cookie's secret is worthless, drop it.
        session.remove(SECRET);
    }
    Ok(found)
}

/// The user and session the cookie names, if any (see [`lookup`]); a user
/// who must change their password first is refused
/// ([`AppError::Forbidden`]): what calls this directly (the WebSocket
/// handshake) is not the password form.
pub async fn signed_in(
    session: &Session,
    db: &Database,
    settings: &Settings,
) -> Result<Option<SignedInAs>, AppError> {
    match lookup(session, db, settings).await? {
        Some((_, true)) => Err(AppError::Forbidden(PASSWORD_FIRST.into())),
        Some((found, false)) => Ok(Some(found)),
        None => Ok(None),
    }
}

/// [`signed_in`], also for a user who must change their password: for
/// logging out, and for pages that show who is signed in.
pub async fn signed_in_even_before_password_change(
    session: &Session,
    db: &Database,
    settings: &Settings,
) -> Result<Option<SignedInAs>, AppError> {
    Ok(lookup(session, db, settings).await?.map(|(found, _)| found))
}

/// The user the session cookie names, if any (see
/// [`signed_in_even_before_password_change`]).
pub async fn current_user(
    session: &Session,
    db: &Database,
    settings: &Settings,
) -> Result<Option<Identity>, AppError> {
    Ok(signed_in_even_before_password_change(session, db, settings)
        .await?
        .map(|s| s.user))
}

/// Starts a fresh session for `user`: a new row, a new cookie and CSRF
/// token, so a session fixed before login is worthless after it.
pub async fn log_in(session: &Session, db: &Database, user: UserId) -> Result<LoginId, AppError> {
    let secret = LoginSecret::generate();
    let key_hash = secret.hash();
    let login = db
        .run(move |c| sessions::create(c, &key_hash, user))
        .await?;
    session.renew();
    session
        .insert(SECRET, secret.as_str())
        .map_err(session_error)?;
    session.insert(CSRF, new_token()).map_err(session_error)?;
    Ok(login.id)
}

/// Ends the session `login` on the server and clears the cookie.
pub async fn log_out(session: &Session, db: &Database, login: LoginId) -> Result<(), AppError> {
    db.run(move |c| sessions::delete(c, login)).await?;
    session.purge();
    Ok(())
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

/// Extractor for pages that need a signed-in user; anyone else (a replayed
/// cookie of a session that ended, or of a deactivated account, included)
/// is sent to the login page with `?next=` pointing back, and a user who
/// must change their password to the password form.
pub struct SignedIn(pub Identity);

impl FromRequest for SignedInAs {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let session = req.get_session();
        let db = req.app_data::<web::Data<Database>>().cloned();
        let settings = req.app_data::<web::Data<Settings>>().cloned();
        let path = req.path().to_owned();
        let next = match req.query_string() {
            "" => path.clone(),
            q => format!("{path}?{q}"),
        };
        Box::pin(async move {
            let (Some(db), Some(settings)) = (db, settings) else {
                return Err(AppError::Internal("no database configured".into()));
            };
            match lookup(&session, &db, &settings).await? {
                Some((_, true)) if !OPEN_BEFORE_PASSWORD_CHANGE.contains(&path.as_str()) => {
                    Err(AppError::PasswordChangeRequired)
                }
                Some((found, _)) => Ok(found),
                None => Err(AppError::LoginRequired { next }),
            }
        })
    }
}

impl FromRequest for SignedIn {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let signed_in = SignedInAs::from_request(req, payload);
        Box::pin(async move { Ok(SignedIn(signed_in.await?.user)) })
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
