//! Who is signed in: the session cookie, passwords and CSRF tokens.
//!
//! The cookie is encrypted and signed (actix-session's private cookie store)
//! and holds only the user's id and the CSRF token; the user row is read
//! from the database on each request, so a demoted or deleted account loses
//! its rights at once.

use super::AppError;
use crate::db::Database;
use crate::db::queries::users;
use crate::domain::{Identity, Password, UserId, Username};
use actix_session::{Session, SessionExt};
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use argon2::Argon2;
use argon2::password_hash::{
    PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng,
};
use futures_util::future::LocalBoxFuture;
use rand::RngCore;
use std::sync::Arc;
use tokio::sync::Semaphore;

const USER_ID: &str = "uid";
const CSRF: &str = "csrf";

/// Hashes a password with Argon2id on the calling thread (slow on purpose).
pub fn hash_password_here(password: &Password) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.expose().as_bytes(), &salt)
        .map(|hash| hash.to_string())
}

/// Where passwords are hashed and checked: on the blocking pool, at most one
/// per core at a time. Each Argon2 run takes tens of milliseconds of one
/// core and 19 MiB; a burst of sign-ins queues here instead of spawning a
/// blocking thread (and 19 MiB) per request.
#[derive(Clone)]
pub struct PasswordHashing {
    permits: Arc<Semaphore>,
}

impl PasswordHashing {
    /// At most `concurrent` (at least one) hashes at a time.
    pub fn new(concurrent: usize) -> Self {
        PasswordHashing {
            permits: Arc::new(Semaphore::new(concurrent.max(1))),
        }
    }

    /// One per CPU core.
    pub fn per_core() -> Self {
        Self::new(std::thread::available_parallelism().map_or(1, |n| n.get()))
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, AppError> {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| AppError::Internal(e.to_string()))?;
        // The permit goes with the work, so a request given up on (a closed
        // connection) still holds its place until its hash is done.
        web::block(move || {
            let _permit = permit;
            work()
        })
        .await
        .map_err(|e| AppError::Internal(e.to_string()))
    }

    /// Hashes a new password.
    pub async fn hash(&self, password: Password) -> Result<String, AppError> {
        self.run(move || hash_password_here(&password))
            .await?
            .map_err(|e| AppError::Internal(format!("hashing a password: {e}")))
    }

    /// Checks `candidate` against a stored hash; `None` (no such user) still
    /// spends the same effort, so timing does not reveal which names exist.
    pub async fn verify(
        &self,
        stored: Option<String>,
        candidate: String,
    ) -> Result<bool, AppError> {
        self.run(move || match stored {
            Some(stored) => match PasswordHash::new(&stored) {
                Ok(parsed) => Argon2::default()
                    .verify_password(candidate.as_bytes(), &parsed)
                    .is_ok(),
                Err(e) => {
                    log::error!("unreadable password hash in the database: {e}");
                    false
                }
            },
            None => {
                let salt = SaltString::generate(&mut OsRng);
                let _ = Argon2::default().hash_password(candidate.as_bytes(), &salt);
                false
            }
        })
        .await
    }
}

fn session_error(e: impl std::fmt::Display) -> AppError {
    AppError::Internal(format!("session cookie: {e}"))
}

/// The user the session cookie names, if it names one that still exists.
pub async fn current_user(session: &Session, db: &Database) -> Result<Option<Identity>, AppError> {
    let Some(id) = session.get::<i32>(USER_ID).map_err(session_error)? else {
        return Ok(None);
    };
    let row = db.run(move |c| users::by_id(c, id)).await?;
    Ok(row.map(|u| Identity {
        id: UserId(u.id),
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
