//! Password hashing with Argon2id, for sign-up and login (through
//! [`PasswordHashing`], which bounds how many run at once) and for the
//! command line (through [`hash_here`]).
//!
//! It sits apart from the HTTP layer so that the CLI, which creates users
//! too, hashes the same way without depending on request handling.

use crate::domain::Password;
use argon2::Argon2;
use argon2::password_hash::{
    PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng,
};
use std::sync::Arc;
use tokio::sync::Semaphore;

/// Why a password could not be hashed or checked.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// Argon2 refused (never expected with the default parameters).
    #[error("hashing a password: {0}")]
    Argon2(argon2::password_hash::Error),
    /// The work could not be run (the server is shutting down).
    #[error("password hashing is unavailable: {0}")]
    Unavailable(String),
}

/// Hashes a password with Argon2id on the calling thread (slow on purpose).
pub fn hash_here(password: &Password) -> Result<String, HashError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.expose().as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(HashError::Argon2)
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
    ) -> Result<T, HashError> {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| HashError::Unavailable(e.to_string()))?;
        // The permit goes with the work, so a request given up on (a closed
        // connection) still holds its place until its hash is done.
        actix_web::rt::task::spawn_blocking(move || {
            let _permit = permit;
            work()
        })
        .await
        .map_err(|e| HashError::Unavailable(e.to_string()))
    }

    /// Hashes a new password.
    pub async fn hash(&self, password: Password) -> Result<String, HashError> {
        self.run(move || hash_here(&password)).await?
    }

    /// Checks `candidate` against a stored hash; `None` (no such user) still
    /// spends the same effort, so timing does not reveal which names exist.
    pub async fn verify(
        &self,
        stored: Option<String>,
        candidate: String,
    ) -> Result<bool, HashError> {
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
