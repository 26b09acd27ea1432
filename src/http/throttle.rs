//! Throttles on logging in and signing up, checked before any password is
//! hashed, so a guesser is refused for the price of a lookup in memory
//! rather than an Argon2 run.
//!
//! Three sliding windows, each counted per client address (the one
//! [`client_addr`](super::client::client_addr) names, trusted-proxy aware):
//! - failed logins for one account from one address: at most
//!   `CONFAB_LOGIN_FAILURES_PER_ACCOUNT` in [`ACCOUNT_WINDOW`] (15 min);
//!   the account's owner logging in successfully clears that count;
//! - failed logins from one address, whatever the account: at most
//!   `CONFAB_LOGIN_FAILURES_PER_ADDRESS` in [`ADDRESS_WINDOW`] (1 min), so
//!   one address cannot try one password on many accounts either;
//! - accounts created from one address: at most `CONFAB_SIGNUPS_PER_HOUR`
//!   in [`SIGNUP_WINDOW`].
//!
//! Only failures count, but an attempt is counted as it starts and given
//! back if it succeeds (or is never checked): otherwise a hundred parallel
//! guesses would all pass the check before the first failure was written.
//!
//! The counts live in this process's memory: each instance behind a load
//! balancer counts on its own, so a guesser spread over N instances gets up
//! to N times the allowance (the README says so). Memory stays bounded:
//! each key holds at most its limit of timestamps, keys whose events have
//! all left their window are swept out as the map grows, and since every
//! counted failure cost an Argon2 run the map cannot grow faster than the
//! hashing queue lets it.
//!
//! A sliding window rather than `governor`'s token bucket: the rule is
//! "N failures within the window", the check must not spend anything
//! (governor has no look-ahead that does not take a token), and a success
//! must give its token back.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How far back failed logins for one account from one address count.
pub const ACCOUNT_WINDOW: Duration = Duration::from_secs(15 * 60);
/// How far back failed logins from one address count.
pub const ADDRESS_WINDOW: Duration = Duration::from_secs(60);
/// How far back accounts created from one address count.
pub const SIGNUP_WINDOW: Duration = Duration::from_secs(60 * 60);

/// Keys a window holds before it first sweeps out the stale ones.
const FIRST_SWEEP_AT: usize = 1024;

/// Which throttle refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// Failed logins for one account from one address.
    AccountFailures,
    /// Failed logins from one address.
    AddressFailures,
    /// Accounts created from one address.
    Signups,
}

/// A refusal: which limit was reached and when the next try can pass.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}; please try again in {}", match .limit {
    Limit::AccountFailures => "too many failed logins for this account from your address",
    Limit::AddressFailures => "too many failed logins from your address",
    Limit::Signups => "too many accounts were created from your address in the last hour",
}, in_words(*.retry_after))]
pub struct Throttled {
    /// The limit reached.
    pub limit: Limit,
    /// How long until the oldest counted event leaves its window.
    pub retry_after: Duration,
}

/// "45 seconds", "1 minute", "15 minutes": a wait as a person reads it,
/// rounded up.
fn in_words(wait: Duration) -> String {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let seconds = seconds.max(1);
    let (n, unit) = if seconds < 90 {
        (seconds, "second")
    } else {
        (seconds.div_ceil(60), "minute")
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

/// At most `limit` events per key within `span` (a limit of 0: no limit).
struct Window<K> {
    limit: usize,
    span: Duration,
    state: Mutex<Events<K>>,
}

struct Events<K> {
    by_key: HashMap<K, VecDeque<Instant>>,
    sweep_above: usize,
}

impl<K: Hash + Eq + Clone> Window<K> {
    fn new(limit: u32, span: Duration) -> Self {
        Window {
            limit: limit as usize,
            span,
            state: Mutex::new(Events {
                by_key: HashMap::new(),
                sweep_above: FIRST_SWEEP_AT,
            }),
        }
    }

    /// Counts an event for `key` at `now`, or, when `limit` are already
    /// within the span, says how long until the oldest leaves it.
    fn take(&self, key: &K, now: Instant) -> Result<(), Duration> {
        if self.limit == 0 {
            return Ok(());
        }
        // A panic elsewhere while holding the lock leaves counts that are
        // still counts: carry on with them.
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.by_key.len() > state.sweep_above {
            let span = self.span;
            state.by_key.retain(|_, times| {
                expire(times, now, span);
                !times.is_empty()
            });
            state.sweep_above = (state.by_key.len() * 2).max(FIRST_SWEEP_AT);
        }
        let times = state.by_key.entry(key.clone()).or_default();
        expire(times, now, self.span);
        if times.len() >= self.limit {
            let oldest = times.front().copied().unwrap_or(now);
            return Err((oldest + self.span).saturating_duration_since(now));
        }
        times.push_back(now);
        Ok(())
    }

    /// Uncounts the event [`take`](Self::take) counted for `key` at `at`.
    fn give_back(&self, key: &K, at: Instant) {
        if self.limit == 0 {
            return;
        }
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(times) = state.by_key.get_mut(key) {
            if let Some(i) = times.iter().rposition(|t| *t == at) {
                times.remove(i);
            }
            if times.is_empty() {
                state.by_key.remove(key);
            }
        }
    }

    /// Forgets every event of `key`.
    fn clear(&self, key: &K) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.by_key.remove(key);
    }

    /// Keys held now, for tests of the sweeping.
    #[cfg(test)]
    fn keys(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .by_key
            .len()
    }
}

/// Drops the events older than `span` from the front of `times`.
fn expire(times: &mut VecDeque<Instant>, now: Instant, span: Duration) {
    while times
        .front()
        .is_some_and(|t| now.saturating_duration_since(*t) >= span)
    {
        times.pop_front();
    }
}

/// The login and sign-up throttles of this instance, built once at
/// start-up.
pub struct AccountThrottles {
    account: Window<(String, IpAddr)>,
    address: Window<IpAddr>,
    signups: Window<IpAddr>,
}

impl AccountThrottles {
    /// Throttles with these limits (each 0 for none).
    pub fn new(
        failures_per_account: u32,
        failures_per_address: u32,
        signups_per_hour: u32,
    ) -> Self {
        AccountThrottles {
            account: Window::new(failures_per_account, ACCOUNT_WINDOW),
            address: Window::new(failures_per_address, ADDRESS_WINDOW),
            signups: Window::new(signups_per_hour, SIGNUP_WINDOW),
        }
    }

    /// Counts a login to `account` (the folded name typed, if it could be
    /// a name at all) from `client` as failed until it is known to have
    /// succeeded, or refuses it.
    pub fn begin_login(
        &self,
        account: Option<String>,
        client: IpAddr,
    ) -> Result<LoginAttempt<'_>, Throttled> {
        self.begin_login_at(account, client, Instant::now())
    }

    fn begin_login_at(
        &self,
        account: Option<String>,
        client: IpAddr,
        now: Instant,
    ) -> Result<LoginAttempt<'_>, Throttled> {
        let account = account.map(|name| (name, client));
        if let Some(key) = &account {
            self.account
                .take(key, now)
                .map_err(|retry_after| Throttled {
                    limit: Limit::AccountFailures,
                    retry_after,
                })?;
        }
        if let Err(retry_after) = self.address.take(&client, now) {
            if let Some(key) = &account {
                self.account.give_back(key, now);
            }
            return Err(Throttled {
                limit: Limit::AddressFailures,
                retry_after,
            });
        }
        Ok(LoginAttempt {
            throttles: self,
            account,
            client,
            at: now,
            outcome: Outcome::Unchecked,
        })
    }

    /// Counts an account about to be created from `client`, until it turns
    /// out not to be, or refuses it.
    pub fn begin_signup(&self, client: IpAddr) -> Result<SignupAttempt<'_>, Throttled> {
        let now = Instant::now();
        self.signups
            .take(&client, now)
            .map_err(|retry_after| Throttled {
                limit: Limit::Signups,
                retry_after,
            })?;
        Ok(SignupAttempt {
            throttles: self,
            client,
            at: now,
            created: false,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Unchecked,
    Failed,
    Succeeded,
}

/// A login counted against its throttles. Mark it [`failed`](Self::failed)
/// to keep it counted; [`succeeded`](Self::succeeded) clears the account's
/// count; dropped unmarked (the password was never checked: the hashing
/// queue was full, the database failed) it is given back.
pub struct LoginAttempt<'a> {
    throttles: &'a AccountThrottles,
    account: Option<(String, IpAddr)>,
    client: IpAddr,
    at: Instant,
    outcome: Outcome,
}

impl LoginAttempt<'_> {
    /// The password was wrong, or there is no such account.
    pub fn failed(mut self) {
        self.outcome = Outcome::Failed;
    }

    /// The owner logged in: their earlier mistakes from this address are
    /// forgiven. (The per-address count is not cleared, so logging in to an
    /// account of one's own does not buy more guesses at others.)
    pub fn succeeded(mut self) {
        self.outcome = Outcome::Succeeded;
    }
}

impl Drop for LoginAttempt<'_> {
    fn drop(&mut self) {
        if self.outcome == Outcome::Failed {
            return;
        }
        self.throttles.address.give_back(&self.client, self.at);
        if let Some(key) = &self.account {
            match self.outcome {
                Outcome::Succeeded => self.throttles.account.clear(key),
                _ => self.throttles.account.give_back(key, self.at),
            }
        }
    }
}

/// A sign-up counted against its address's allowance; given back when
/// dropped before [`created`](Self::created) (a taken name, a full hashing
/// queue).
pub struct SignupAttempt<'a> {
    throttles: &'a AccountThrottles,
    client: IpAddr,
    at: Instant,
    created: bool,
}

impl SignupAttempt<'_> {
    /// The account exists: it stays counted.
    pub fn created(mut self) {
        self.created = true;
    }
}

impl Drop for SignupAttempt<'_> {
    fn drop(&mut self) {
        if !self.created {
            self.throttles.signups.give_back(&self.client, self.at);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([192, 0, 2, last])
    }

    fn alice() -> Option<String> {
        Some("alice".to_owned())
    }

    #[test]
    fn the_sixth_failure_within_the_window_is_refused_until_the_first_leaves() {
        let t = AccountThrottles::new(5, 0, 0);
        let start = Instant::now();
        for i in 0..5 {
            let at = start + Duration::from_secs(i * 60);
            t.begin_login_at(alice(), ip(1), at).unwrap().failed();
        }
        let later = start + Duration::from_secs(5 * 60);
        let refused = t.begin_login_at(alice(), ip(1), later).err().unwrap();
        assert_eq!(refused.limit, Limit::AccountFailures);
        assert_eq!(refused.retry_after, Duration::from_secs(10 * 60));
        assert!(
            refused
                .to_string()
                .ends_with("please try again in 10 minutes"),
            "{refused}"
        );
        // Another address, or another account, is not held back.
        assert!(t.begin_login_at(alice(), ip(2), later).is_ok());
        assert!(t.begin_login_at(Some("bob".into()), ip(1), later).is_ok());
        // Once the first failure is 15 minutes old, one more try.
        let after = start + ACCOUNT_WINDOW;
        t.begin_login_at(alice(), ip(1), after).unwrap().failed();
        assert!(t.begin_login_at(alice(), ip(1), after).is_err());
    }

    #[test]
    fn a_success_is_not_counted_and_forgives_the_account() {
        let t = AccountThrottles::new(2, 3, 0);
        let now = Instant::now();
        t.begin_login_at(alice(), ip(1), now).unwrap().failed();
        t.begin_login_at(alice(), ip(1), now).unwrap().succeeded();
        t.begin_login_at(alice(), ip(1), now).unwrap().failed();
        // One failure since the success: one more allowed.
        t.begin_login_at(alice(), ip(1), now).unwrap().failed();
        // The address has three failures, its limit, whatever the account.
        let refused = t.begin_login_at(Some("carol".into()), ip(1), now);
        assert_eq!(refused.err().unwrap().limit, Limit::AddressFailures);
    }

    #[test]
    fn an_attempt_never_checked_is_given_back() {
        let t = AccountThrottles::new(1, 1, 1);
        let now = Instant::now();
        drop(t.begin_login_at(alice(), ip(1), now).unwrap());
        t.begin_login_at(alice(), ip(1), now).unwrap().failed();
        assert!(t.begin_login_at(alice(), ip(1), now).is_err());
        drop(t.begin_signup(ip(1)).unwrap());
        t.begin_signup(ip(1)).unwrap().created();
        let refused = t.begin_signup(ip(1)).err().unwrap();
        assert_eq!(refused.limit, Limit::Signups);
    }

    #[test]
    fn a_refusal_by_address_does_not_count_against_the_account() {
        let t = AccountThrottles::new(2, 1, 0);
        let now = Instant::now();
        t.begin_login_at(Some("bob".into()), ip(1), now)
            .unwrap()
            .failed();
        for _ in 0..5 {
            assert!(t.begin_login_at(alice(), ip(1), now).is_err());
        }
        assert_eq!(t.account.keys(), 1, "only bob's failure is held");
    }

    #[test]
    fn zero_turns_a_throttle_off() {
        let t = AccountThrottles::new(0, 0, 0);
        let now = Instant::now();
        for _ in 0..100 {
            t.begin_login_at(alice(), ip(1), now).unwrap().failed();
            t.begin_signup(ip(1)).unwrap().created();
        }
        assert_eq!(t.account.keys() + t.address.keys() + t.signups.keys(), 0);
    }

    #[test]
    fn stale_keys_are_swept_as_the_map_grows() {
        let window = Window::new(5, Duration::from_secs(60));
        let start = Instant::now();
        for i in 0..FIRST_SWEEP_AT as u32 + 1 {
            window.take(&i, start).unwrap();
        }
        assert_eq!(window.keys(), FIRST_SWEEP_AT + 1);
        // A minute on, all of those are stale: the next new key sweeps them.
        let later = start + Duration::from_secs(60);
        window.take(&u32::MAX, later).unwrap();
        assert_eq!(window.keys(), 1);
    }

    #[test]
    fn waits_read_as_a_person_would_say_them() {
        assert_eq!(in_words(Duration::from_millis(300)), "1 second");
        assert_eq!(in_words(Duration::from_secs(45)), "45 seconds");
        assert_eq!(in_words(Duration::from_secs(60)), "60 seconds");
        assert_eq!(in_words(Duration::from_secs(100)), "2 minutes");
        assert_eq!(in_words(Duration::from_secs(15 * 60)), "15 minutes");
    }
}
