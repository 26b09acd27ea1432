//! A signed-in browser, as the server keeps it: the secret its cookie
//! carries, and how long it lasts without use.
//!
//! The session cookie holds a random [`LoginSecret`] and nothing else that
//! grants anything; the `sessions` table holds only the secret's SHA-256,
//! so a copy of the database cannot be replayed as cookies. Deleting the
//! row ends the session for every copy of the cookie at once. A
//! [`LoginLifetime`] says when an unused session is over and how often its
//! use is written down.

use super::LoginId;
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::time::Duration;

/// The secret a session cookie carries: 32 random bytes, hex-encoded.
#[derive(Clone, PartialEq, Eq)]
pub struct LoginSecret(String);

impl LoginSecret {
    /// A fresh secret from the operating system's random source.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        LoginSecret(hex::encode(bytes))
    }

    /// The secret as read back from a cookie (whatever it holds: a value
    /// that is no secret of ours simply finds no session).
    pub fn from_cookie(value: String) -> Self {
        LoginSecret(value)
    }

    /// The text stored in the cookie.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// What the `sessions` table stores and looks the session up by.
    pub fn hash(&self) -> String {
        hex::encode(Sha256::digest(self.0.as_bytes()))
    }
}

impl std::fmt::Debug for LoginSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LoginSecret(…)")
    }
}

/// Longest gap between two writes of a session's last use: a page load
/// within it of the last write writes nothing.
const MAX_TOUCH_INTERVAL: Duration = Duration::from_secs(60);

/// How long a session lasts unused (`CONFAB_SESSION_IDLE_SECS`), and how
/// often its use is written down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginLifetime {
    idle: Duration,
}

impl LoginLifetime {
    /// Sessions end after `idle` without use.
    pub fn new(idle: Duration) -> Self {
        LoginLifetime { idle }
    }

    /// The idle limit.
    pub fn idle(&self) -> Duration {
        self.idle
    }

    /// Whether a session last used at `last_seen` is over at `now`.
    pub fn is_over(&self, last_seen: chrono::NaiveDateTime, now: chrono::NaiveDateTime) -> bool {
        last_seen < self.cutoff(now)
    }

    /// Sessions last used before this are over at `now`.
    pub fn cutoff(&self, now: chrono::NaiveDateTime) -> chrono::NaiveDateTime {
        now - chrono::Duration::from_std(self.idle).unwrap_or(chrono::Duration::MAX)
    }

    /// Whether a use at `now` must be written, the last having been written
    /// at `last_seen`: once a minute at most, and four times per idle
    /// period at least, so a session in use never lapses between writes.
    pub fn needs_touch(
        &self,
        last_seen: chrono::NaiveDateTime,
        now: chrono::NaiveDateTime,
    ) -> bool {
        let every = (self.idle / 4).min(MAX_TOUCH_INTERVAL);
        now - last_seen >= chrono::Duration::from_std(every).unwrap_or(chrono::Duration::MAX)
    }
}

/// Which of a user's sessions just ended, for the instances holding their
/// sockets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndedLogins {
    /// This one (a logout).
    Only(LoginId),
    /// Every one but this (a password change, from the session kept).
    AllBut(LoginId),
}

impl EndedLogins {
    /// Whether the session `id` is one of them.
    pub fn includes(&self, id: LoginId) -> bool {
        match *self {
            EndedLogins::Only(ended) => id == ended,
            EndedLogins::AllBut(kept) => id != kept,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_random_and_only_their_hash_is_kept() {
        let a = LoginSecret::generate();
        let b = LoginSecret::generate();
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), 64);
        assert_eq!(a.hash().len(), 64);
        assert_ne!(a.hash(), a.as_str());
        assert_eq!(
            a.hash(),
            LoginSecret::from_cookie(a.as_str().to_owned()).hash()
        );
        assert!(!format!("{a:?}").contains(a.as_str()));
    }

    #[test]
    fn a_session_lapses_after_its_idle_time_and_is_touched_sparingly() {
        let lifetime = LoginLifetime::new(Duration::from_secs(14 * 24 * 3600));
        let now = chrono::Utc::now().naive_utc();
        let ago = |secs: i64| now - chrono::Duration::seconds(secs);
        assert!(!lifetime.is_over(ago(3600), now));
        assert!(lifetime.is_over(ago(15 * 24 * 3600), now));
        assert!(!lifetime.needs_touch(ago(10), now));
        assert!(lifetime.needs_touch(ago(61), now));

        let short = LoginLifetime::new(Duration::from_secs(4));
        assert!(!short.needs_touch(ago(0), now));
        assert!(short.needs_touch(ago(1), now));
        assert!(short.is_over(ago(5), now));
    }
}
