//! Password hashing with Argon2id, for sign-up and login (through
//! [`PasswordHashing`], which bounds how many run at once and how many may
//! wait) and for the command line (through [`hash_here`]).
//!
//! It sits apart from the HTTP layer so that the CLI, which creates users
//! too, hashes the same way without depending on request handling.

use crate::domain::Password;
use crate::metrics::METRICS;
use argon2::Argon2;
use argon2::password_hash::{
    PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, TryAcquireError};

/// Why a password could not be hashed or checked.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// Argon2 refused (never expected with the default parameters).
    #[error("hashing a password: {0}")]
    Argon2(argon2::password_hash::Error),
    /// The work could not be run (the server is shutting down).
    #[error("password hashing is unavailable: {0}")]
    Unavailable(String),
    /// As many passwords as `CONFAB_HASH_QUEUE` allows are already waiting
    /// to be checked; trying again after [`HashError::BUSY_RETRY`] may work.
    #[error("the server is checking too many passwords at the moment")]
    Busy,
}

impl HashError {
    /// What a refused request is told to wait (`Retry-After`): about the
    /// time a full queue takes to drain on a small server (tens of
    /// milliseconds per hash, 64 waiting, two cores).
    pub const BUSY_RETRY: Duration = Duration::from_secs(2);
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
/// blocking thread (and 19 MiB) per request. The queue is bounded
/// (`CONFAB_HASH_QUEUE`): past it a request is refused at once with
/// [`HashError::Busy`] rather than held open for seconds, which is what
/// 128 parallel guessers did to a real login before.
#[derive(Clone)]
pub struct PasswordHashing {
    permits: Arc<Semaphore>,
    waiting: Arc<AtomicUsize>,
    max_waiting: usize,
}

/// A place in the queue, given up when dropped (the wait ended, or the
/// request was abandoned).
struct Waiting(Arc<AtomicUsize>);

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl PasswordHashing {
    /// At most `concurrent` (at least one) hashes at a time, and at most
    /// `max_waiting` requests waiting for one (`0`: no bound).
    pub fn new(concurrent: usize, max_waiting: usize) -> Self {
        PasswordHashing {
            permits: Arc::new(Semaphore::new(concurrent.max(1))),
            waiting: Arc::new(AtomicUsize::new(0)),
            max_waiting,
        }
    }

    /// One at a time per CPU core, `max_waiting` waiting.
    pub fn per_core(max_waiting: usize) -> Self {
        Self::new(
            std::thread::available_parallelism().map_or(1, |n| n.get()),
            max_waiting,
        )
    }

    /// A hasher's permit: at once if one is free, else after a wait in the
    /// bounded queue.
    async fn permit(&self) -> Result<OwnedSemaphorePermit, HashError> {
        let unavailable = |e: &dyn std::fmt::Display| HashError::Unavailable(e.to_string());
        match self.permits.clone().try_acquire_owned() {
            Ok(permit) => return Ok(permit),
            Err(TryAcquireError::Closed) => return Err(unavailable(&"closed")),
            Err(TryAcquireError::NoPermits) => {}
        }
        let before = self.waiting.fetch_add(1, Ordering::AcqRel);
        let _place = Waiting(self.waiting.clone());
        if self.max_waiting > 0 && before >= self.max_waiting {
            return Err(HashError::Busy);
        }
        self.permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| unavailable(&e))
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let permit = self.permit().await?;
        METRICS.password_hash();
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
