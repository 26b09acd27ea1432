//! Every setting of a confab server, read once from the environment.
//!
//! Nothing else in the crate reads environment variables: start-up calls
//! [`Settings::from_env`] and hands the result down. Each default is written
//! at the place it is read, and the README lists them all.

use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// Why the environment could not be turned into [`Settings`].
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A variable was set to something that does not parse.
    #[error("{name}={value:?} is not valid: {reason}")]
    Invalid {
        /// The variable's name.
        name: &'static str,
        /// What it was set to.
        value: String,
        /// What was expected.
        reason: String,
    },
}

/// The most `CONFAB_MENTIONS_PAGE_SIZE` may be: one page is one query.
pub const MAX_MENTIONS_PAGE_SIZE: usize = 1000;

/// The most `CONFAB_MENTION_CANDIDATES` may be: the list is one response.
pub const MAX_MENTION_CANDIDATES: usize = 10_000;

/// The whole configuration of one server process.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Address the HTTP server listens on (`CONFAB_BIND`).
    pub bind: SocketAddr,
    /// A separate address for `/metrics` (`CONFAB_METRICS_BIND`); when set,
    /// `/metrics` is served there only, and nothing else is.
    pub metrics_bind: Option<SocketAddr>,
    /// Where the data lives (`DATABASE_URL`): a SQLite file (a path, or a
    /// `sqlite://` or `file:` URL) or a PostgreSQL server (a `postgres://`
    /// or `postgresql://` URL); [`Backend::from_url`](crate::db::Backend::from_url)
    /// tells them apart.
    pub database_url: String,
    /// Connections in the database pool (`CONFAB_DB_POOL_SIZE`).
    pub db_pool_size: u32,
    /// How long a request waits for a pooled database connection before it
    /// fails with `unavailable` (`CONFAB_DB_TIMEOUT_MS`): while the
    /// database is down, reads and `/readyz` answer this fast.
    pub db_timeout: Duration,
    /// Cookie signing and encryption key material (`CONFAB_SECRET_KEY`);
    /// when absent one is generated and kept beside the database.
    pub secret_key: Option<String>,
    /// Origins allowed to open WebSockets (`CONFAB_ALLOWED_ORIGINS`); empty
    /// means "the same host the request was sent to".
    pub allowed_origins: Vec<String>,
    /// Longest chat message, in characters (`CONFAB_MAX_MESSAGE_CHARS`).
    pub max_message_chars: usize,
    /// How often the server pings each socket (`CONFAB_HEARTBEAT_SECS`).
    pub heartbeat_interval: Duration,
    /// Silence after which a socket is dropped (`CONFAB_CLIENT_TIMEOUT_SECS`).
    pub client_timeout: Duration,
    /// Output one client may leave unread for longer than
    /// `slow_client` before it is disconnected, in bytes
    /// (`CONFAB_MAX_UNSENT_BYTES`).
    pub max_unsent_bytes: usize,
    /// How long a client's unread output may stay over `max_unsent_bytes`
    /// (`CONFAB_SLOW_CLIENT_SECS`).
    pub slow_client: Duration,
    /// Requests from one socket that may wait for their answer before the
    /// server stops reading that socket (`CONFAB_REQUEST_QUEUE`).
    pub request_queue: usize,
    /// HTTP worker threads (`CONFAB_WORKERS`); 0 means one per CPU core
    /// but one, which is left to the actor thread that runs the rooms.
    pub workers: usize,
    /// Mark the session cookie `Secure` (`CONFAB_SECURE_COOKIES`); turn on
    /// behind HTTPS.
    pub secure_cookies: bool,
    /// Redis for scale-out (`REDIS_URL`); when absent rooms use the
    /// in-process bus and the server stands alone.
    pub redis_url: Option<String>,
    /// Prefix of every Redis key and channel (`CONFAB_REDIS_PREFIX`), so
    /// several deployments can share one Redis.
    pub redis_prefix: String,
    /// The CA certificate (PEM) that signed a `rediss://` server's
    /// certificate (`CONFAB_REDIS_CA_FILE`); unset: the system's roots.
    pub redis_ca_file: Option<std::path::PathBuf>,
    /// How long an instance's presence entries outlive its last refresh
    /// (`CONFAB_PRESENCE_TTL_SECS`): the longest a crashed instance's users
    /// stay listed.
    pub presence_ttl: Duration,
    /// Proxies whose `X-Forwarded-For`, `Forwarded` and `X-Forwarded-Host`
    /// are believed (`CONFAB_TRUSTED_PROXIES`, addresses or CIDR ranges);
    /// from anyone else those headers are ignored.
    pub trusted_proxies: Vec<IpNet>,
    /// Open WebSockets one user may hold on this instance
    /// (`CONFAB_MAX_SOCKETS_PER_USER`); 0: no limit.
    pub max_sockets_per_user: usize,
    /// Open WebSockets from one client address on this instance
    /// (`CONFAB_MAX_SOCKETS_PER_ADDRESS`); 0: no limit.
    pub max_sockets_per_address: usize,
    /// Writes (posts, edits, deletions, reactions) one user may make at
    /// once, over all their sockets on this instance (`CONFAB_WRITE_BURST`).
    pub write_burst: u32,
    /// Writes per second one user's allowance regains
    /// (`CONFAB_WRITE_PER_SEC`); 0 turns the allowance off.
    pub write_per_sec: u32,
    /// Failed logins for one account from one client address in 15
    /// minutes before further tries get 429
    /// (`CONFAB_LOGIN_FAILURES_PER_ACCOUNT`); 0: no limit.
    pub login_failures_per_account: u32,
    /// Failed logins from one client address in a minute before further
    /// tries get 429 (`CONFAB_LOGIN_FAILURES_PER_ADDRESS`); 0: no limit.
    pub login_failures_per_address: u32,
    /// Accounts one client address may create in an hour
    /// (`CONFAB_SIGNUPS_PER_HOUR`); 0: no limit.
    pub signups_per_hour: u32,
    /// Sign-ups and logins that may wait for a password hasher
    /// (`CONFAB_HASH_QUEUE`); past it: 503. 0: no limit.
    pub hash_queue: usize,
    /// Distinct emoji one message may carry (`CONFAB_MAX_REACTIONS`); a
    /// new one beyond it is refused with `too_many_reactions`.
    pub max_reactions: usize,
    /// Rooms one user may create per hour by visiting them
    /// (`CONFAB_ROOMS_PER_HOUR`), counted in the database so that it holds
    /// over every instance; staff have no limit; 0: no limit for anyone.
    pub rooms_per_hour: u32,
    /// Rooms the selector at `/chat/` lists at most
    /// (`CONFAB_ROOM_INDEX_LIMIT`); a search finds the others.
    pub room_index_limit: usize,
    /// Mentions one page of `/mentions/` lists (`CONFAB_MENTIONS_PAGE_SIZE`),
    /// newest first; a link goes on to older ones.
    pub mentions_page_size: usize,
    /// Names a room's `@` autocomplete offers at most
    /// (`CONFAB_MENTION_CANDIDATES`): the authors of that many latest
    /// messages, then the room's members.
    pub mention_candidates: usize,
    /// Results one page of `/search/` shows (`CONFAB_SEARCH_PAGE_SIZE`).
    pub search_page_size: usize,
    /// Longest search, in characters (`CONFAB_SEARCH_MAX_QUERY_CHARS`);
    /// a longer one is refused with a sentence saying so.
    pub search_max_query_chars: usize,
    /// How long a session lasts unused (`CONFAB_SESSION_IDLE_SECS`): no
    /// page load and no open socket for this long, and it is over.
    pub session_idle: Duration,
    /// How often each instance re-checks the sessions and staff rights
    /// behind its open sockets (`CONFAB_SESSION_SWEEP_SECS`): the longest
    /// a socket outlives a session ended, or rights taken away, by another
    /// process (the CLI).
    pub session_sweep: Duration,
    /// Longest reason a moderator gives or a report carries, in characters
    /// (`CONFAB_MODERATION_REASON_MAX_CHARS`).
    pub moderation_reason_max_chars: usize,
    /// Open reports one user may have at once
    /// (`CONFAB_OPEN_REPORTS_PER_USER`); more are refused until staff
    /// handle some.
    pub open_reports_per_user: u32,
    /// Longest slow mode, in seconds between one user's posts
    /// (`CONFAB_SLOW_MODE_MAX_SECS`).
    pub slow_mode_max_secs: u32,
    /// How far back a bulk delete of a user's messages reaches at most, in
    /// hours (`CONFAB_BULK_DELETE_MAX_HOURS`).
    pub bulk_delete_max_hours: u32,
    /// Rows one page of the staff console lists
    /// (`CONFAB_STAFF_PAGE_SIZE`).
    pub staff_page_size: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            bind: SocketAddr::from(([127, 0, 0, 1], 8000)),
            database_url: "confab.db".to_owned(),
            db_pool_size: 8,
            db_timeout: Duration::from_millis(1000),
            secret_key: None,
            allowed_origins: Vec::new(),
            max_message_chars: 4000,
            heartbeat_interval: Duration::from_secs(10),
            client_timeout: Duration::from_secs(30),
            max_unsent_bytes: 4 * 1024 * 1024,
            slow_client: Duration::from_secs(10),
            request_queue: 256,
            workers: 0,
            secure_cookies: false,
            redis_url: None,
            redis_prefix: "confab".to_owned(),
            redis_ca_file: None,
            presence_ttl: Duration::from_secs(30),
            trusted_proxies: Vec::new(),
            max_sockets_per_user: 20,
            max_sockets_per_address: 200,
            write_burst: 20,
            write_per_sec: 2,
            login_failures_per_account: 5,
            login_failures_per_address: 20,
            signups_per_hour: 30,
            hash_queue: 64,
            max_reactions: 20,
            metrics_bind: None,
            rooms_per_hour: 10,
            room_index_limit: 100,
            mentions_page_size: 50,
            mention_candidates: 500,
            search_page_size: 20,
            search_max_query_chars: 256,
            session_idle: Duration::from_secs(14 * 24 * 3600),
            session_sweep: Duration::from_secs(2),
            moderation_reason_max_chars: 500,
            open_reports_per_user: 20,
            slow_mode_max_secs: 3600,
            bulk_delete_max_hours: 168,
            staff_page_size: 50,
        }
    }
}

impl Settings {
    /// The largest payload an instance publishes on the Redis bus, and so
    /// the largest it accepts from there: an event carries at most one
    /// message, each of whose characters JSON may spell as twelve bytes (a
    /// surrogate pair of `\uXXXX` escapes), plus a header and the frame's
    /// other fields.
    pub fn max_bus_event(&self) -> usize {
        self.max_message_chars.saturating_mul(12) + 16 * 1024
    }

    /// The defaults on another database, for unit tests of what depends on
    /// the database URL.
    #[cfg(test)]
    pub(crate) fn on_database(database_url: &str) -> Self {
        Settings {
            database_url: database_url.to_owned(),
            ..Settings::default()
        }
    }

    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup`, so tests can pass a map.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let defaults = Settings::default();
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        if get("CONFAB_SESSION_QUEUE").is_some() {
            // Slow clients are judged by unread bytes and time now, not by
            // a count of frames (actors/outbox.rs).
            log::warn!(
                "CONFAB_SESSION_QUEUE is no longer used and is ignored; see \
                 CONFAB_MAX_UNSENT_BYTES and CONFAB_SLOW_CLIENT_SECS"
            );
        }
        Settings {
            bind: parse_or(get("CONFAB_BIND"), "CONFAB_BIND", defaults.bind)?,
            metrics_bind: get("CONFAB_METRICS_BIND")
                .map(|raw| parse(raw, "CONFAB_METRICS_BIND"))
                .transpose()?,
            database_url: get("DATABASE_URL").unwrap_or(defaults.database_url),
            db_pool_size: parse_or(
                get("CONFAB_DB_POOL_SIZE"),
                "CONFAB_DB_POOL_SIZE",
                defaults.db_pool_size,
            )?,
            db_timeout: Duration::from_millis(parse_or(
                get("CONFAB_DB_TIMEOUT_MS"),
                "CONFAB_DB_TIMEOUT_MS",
                u64::try_from(defaults.db_timeout.as_millis()).unwrap_or(u64::MAX),
            )?),
            secret_key: get("CONFAB_SECRET_KEY"),
            allowed_origins: get("CONFAB_ALLOWED_ORIGINS")
                .map(|v| {
                    v.split(',')
                        .map(|o| o.trim().trim_end_matches('/').to_owned())
                        .filter(|o| !o.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            max_message_chars: parse_or(
                get("CONFAB_MAX_MESSAGE_CHARS"),
                "CONFAB_MAX_MESSAGE_CHARS",
                defaults.max_message_chars,
            )?,
            heartbeat_interval: Duration::from_secs(parse_or(
                get("CONFAB_HEARTBEAT_SECS"),
                "CONFAB_HEARTBEAT_SECS",
                defaults.heartbeat_interval.as_secs(),
            )?),
            client_timeout: Duration::from_secs(parse_or(
                get("CONFAB_CLIENT_TIMEOUT_SECS"),
                "CONFAB_CLIENT_TIMEOUT_SECS",
                defaults.client_timeout.as_secs(),
            )?),
            max_unsent_bytes: parse_or(
                get("CONFAB_MAX_UNSENT_BYTES"),
                "CONFAB_MAX_UNSENT_BYTES",
                defaults.max_unsent_bytes,
            )?,
            slow_client: Duration::from_secs(parse_or(
                get("CONFAB_SLOW_CLIENT_SECS"),
                "CONFAB_SLOW_CLIENT_SECS",
                defaults.slow_client.as_secs(),
            )?),
            request_queue: parse_or(
                get("CONFAB_REQUEST_QUEUE"),
                "CONFAB_REQUEST_QUEUE",
                defaults.request_queue,
            )?,
            workers: parse_or(get("CONFAB_WORKERS"), "CONFAB_WORKERS", defaults.workers)?,
            secure_cookies: parse_or(
                get("CONFAB_SECURE_COOKIES"),
                "CONFAB_SECURE_COOKIES",
                defaults.secure_cookies,
            )?,
            redis_url: get("REDIS_URL"),
            redis_prefix: get("CONFAB_REDIS_PREFIX").unwrap_or(defaults.redis_prefix),
            redis_ca_file: get("CONFAB_REDIS_CA_FILE").map(Into::into),
            presence_ttl: Duration::from_secs(parse_or(
                get("CONFAB_PRESENCE_TTL_SECS"),
                "CONFAB_PRESENCE_TTL_SECS",
                defaults.presence_ttl.as_secs(),
            )?),
            trusted_proxies: match get("CONFAB_TRUSTED_PROXIES") {
                Some(list) => parse_networks(&list).map_err(|reason| ConfigError::Invalid {
                    name: "CONFAB_TRUSTED_PROXIES",
                    value: list,
                    reason,
                })?,
                None => defaults.trusted_proxies,
            },
            max_sockets_per_user: parse_or(
                get("CONFAB_MAX_SOCKETS_PER_USER"),
                "CONFAB_MAX_SOCKETS_PER_USER",
                defaults.max_sockets_per_user,
            )?,
            max_sockets_per_address: parse_or(
                get("CONFAB_MAX_SOCKETS_PER_ADDRESS"),
                "CONFAB_MAX_SOCKETS_PER_ADDRESS",
                defaults.max_sockets_per_address,
            )?,
            write_burst: parse_or(
                get("CONFAB_WRITE_BURST"),
                "CONFAB_WRITE_BURST",
                defaults.write_burst,
            )?,
            write_per_sec: parse_or(
                get("CONFAB_WRITE_PER_SEC"),
                "CONFAB_WRITE_PER_SEC",
                defaults.write_per_sec,
            )?,
            login_failures_per_account: parse_or(
                get("CONFAB_LOGIN_FAILURES_PER_ACCOUNT"),
                "CONFAB_LOGIN_FAILURES_PER_ACCOUNT",
                defaults.login_failures_per_account,
            )?,
            login_failures_per_address: parse_or(
                get("CONFAB_LOGIN_FAILURES_PER_ADDRESS"),
                "CONFAB_LOGIN_FAILURES_PER_ADDRESS",
                defaults.login_failures_per_address,
            )?,
            signups_per_hour: parse_or(
                get("CONFAB_SIGNUPS_PER_HOUR"),
                "CONFAB_SIGNUPS_PER_HOUR",
                defaults.signups_per_hour,
            )?,
            hash_queue: parse_or(
                get("CONFAB_HASH_QUEUE"),
                "CONFAB_HASH_QUEUE",
                defaults.hash_queue,
            )?,
            max_reactions: parse_or(
                get("CONFAB_MAX_REACTIONS"),
                "CONFAB_MAX_REACTIONS",
                defaults.max_reactions,
            )?,
            rooms_per_hour: parse_or(
                get("CONFAB_ROOMS_PER_HOUR"),
                "CONFAB_ROOMS_PER_HOUR",
                defaults.rooms_per_hour,
            )?,
            room_index_limit: parse_or(
                get("CONFAB_ROOM_INDEX_LIMIT"),
                "CONFAB_ROOM_INDEX_LIMIT",
                defaults.room_index_limit,
            )?,
            mentions_page_size: parse_or(
                get("CONFAB_MENTIONS_PAGE_SIZE"),
                "CONFAB_MENTIONS_PAGE_SIZE",
                defaults.mentions_page_size,
            )?,
            mention_candidates: parse_or(
                get("CONFAB_MENTION_CANDIDATES"),
                "CONFAB_MENTION_CANDIDATES",
                defaults.mention_candidates,
            )?,
            search_page_size: parse_or(
                get("CONFAB_SEARCH_PAGE_SIZE"),
                "CONFAB_SEARCH_PAGE_SIZE",
                defaults.search_page_size,
            )?,
            search_max_query_chars: parse_or(
                get("CONFAB_SEARCH_MAX_QUERY_CHARS"),
                "CONFAB_SEARCH_MAX_QUERY_CHARS",
                defaults.search_max_query_chars,
            )?,
            session_idle: Duration::from_secs(parse_or(
                get("CONFAB_SESSION_IDLE_SECS"),
                "CONFAB_SESSION_IDLE_SECS",
                defaults.session_idle.as_secs(),
            )?),
            session_sweep: Duration::from_secs(parse_or(
                get("CONFAB_SESSION_SWEEP_SECS"),
                "CONFAB_SESSION_SWEEP_SECS",
                defaults.session_sweep.as_secs(),
            )?),
            moderation_reason_max_chars: parse_or(
                get("CONFAB_MODERATION_REASON_MAX_CHARS"),
                "CONFAB_MODERATION_REASON_MAX_CHARS",
                defaults.moderation_reason_max_chars,
            )?,
            open_reports_per_user: parse_or(
                get("CONFAB_OPEN_REPORTS_PER_USER"),
                "CONFAB_OPEN_REPORTS_PER_USER",
                defaults.open_reports_per_user,
            )?,
            slow_mode_max_secs: parse_or(
                get("CONFAB_SLOW_MODE_MAX_SECS"),
                "CONFAB_SLOW_MODE_MAX_SECS",
                defaults.slow_mode_max_secs,
            )?,
            bulk_delete_max_hours: parse_or(
                get("CONFAB_BULK_DELETE_MAX_HOURS"),
                "CONFAB_BULK_DELETE_MAX_HOURS",
                defaults.bulk_delete_max_hours,
            )?,
            staff_page_size: parse_or(
                get("CONFAB_STAFF_PAGE_SIZE"),
                "CONFAB_STAFF_PAGE_SIZE",
                defaults.staff_page_size,
            )?,
        }
        .validated()
    }

    fn validated(self) -> Result<Self, ConfigError> {
        if self
            .redis_prefix
            .contains(|c: char| c.is_whitespace() || c == ':')
        {
            return Err(ConfigError::Invalid {
                name: "CONFAB_REDIS_PREFIX",
                value: self.redis_prefix,
                reason: "a prefix may not contain white space or ':'".to_owned(),
            });
        }
        let positive = [
            ("CONFAB_DB_POOL_SIZE", self.db_pool_size as u64),
            (
                "CONFAB_DB_TIMEOUT_MS",
                u64::try_from(self.db_timeout.as_millis()).unwrap_or(u64::MAX),
            ),
            ("CONFAB_MAX_MESSAGE_CHARS", self.max_message_chars as u64),
            ("CONFAB_HEARTBEAT_SECS", self.heartbeat_interval.as_secs()),
            ("CONFAB_MAX_UNSENT_BYTES", self.max_unsent_bytes as u64),
            ("CONFAB_SLOW_CLIENT_SECS", self.slow_client.as_secs()),
            ("CONFAB_REQUEST_QUEUE", self.request_queue as u64),
            ("CONFAB_PRESENCE_TTL_SECS", self.presence_ttl.as_secs()),
            ("CONFAB_WRITE_BURST", u64::from(self.write_burst)),
            ("CONFAB_MAX_REACTIONS", self.max_reactions as u64),
            ("CONFAB_ROOM_INDEX_LIMIT", self.room_index_limit as u64),
            ("CONFAB_MENTIONS_PAGE_SIZE", self.mentions_page_size as u64),
            ("CONFAB_MENTION_CANDIDATES", self.mention_candidates as u64),
            ("CONFAB_SEARCH_PAGE_SIZE", self.search_page_size as u64),
            (
                "CONFAB_SEARCH_MAX_QUERY_CHARS",
                self.search_max_query_chars as u64,
            ),
            ("CONFAB_SESSION_IDLE_SECS", self.session_idle.as_secs()),
            ("CONFAB_SESSION_SWEEP_SECS", self.session_sweep.as_secs()),
            (
                "CONFAB_MODERATION_REASON_MAX_CHARS",
                self.moderation_reason_max_chars as u64,
            ),
            (
                "CONFAB_OPEN_REPORTS_PER_USER",
                u64::from(self.open_reports_per_user),
            ),
            (
                "CONFAB_SLOW_MODE_MAX_SECS",
                u64::from(self.slow_mode_max_secs),
            ),
            (
                "CONFAB_BULK_DELETE_MAX_HOURS",
                u64::from(self.bulk_delete_max_hours),
            ),
            ("CONFAB_STAFF_PAGE_SIZE", self.staff_page_size as u64),
        ];
        for (name, value) in positive {
            if value == 0 {
                return Err(ConfigError::Invalid {
                    name,
                    value: "0".to_owned(),
                    reason: "must be at least 1".to_owned(),
                });
            }
        }
        if self.mention_candidates > MAX_MENTION_CANDIDATES {
            return Err(ConfigError::Invalid {
                name: "CONFAB_MENTION_CANDIDATES",
                value: self.mention_candidates.to_string(),
                reason: format!("must be at most {MAX_MENTION_CANDIDATES}"),
            });
        }
        if self.mentions_page_size > MAX_MENTIONS_PAGE_SIZE {
            return Err(ConfigError::Invalid {
                name: "CONFAB_MENTIONS_PAGE_SIZE",
                value: self.mentions_page_size.to_string(),
                reason: format!("must be at most {MAX_MENTIONS_PAGE_SIZE}"),
            });
        }
        if self.client_timeout <= self.heartbeat_interval {
            return Err(ConfigError::Invalid {
                name: "CONFAB_CLIENT_TIMEOUT_SECS",
                value: self.client_timeout.as_secs().to_string(),
                reason: "must be longer than CONFAB_HEARTBEAT_SECS".to_owned(),
            });
        }
        if let Some(key) = &self.secret_key
            && key.len() < 32
        {
            return Err(ConfigError::Invalid {
                name: "CONFAB_SECRET_KEY",
                value: "(hidden)".to_owned(),
                reason: "must be at least 32 bytes long".to_owned(),
            });
        }
        Ok(self)
    }
}

/// Comma-separated addresses (`10.0.0.5`) and CIDR ranges (`10.0.0.0/8`,
/// `fd00::/8`).
fn parse_networks(list: &str) -> Result<Vec<IpNet>, String> {
    list.split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            entry
                .parse::<IpNet>()
                .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("{entry:?} is neither an IP address nor a CIDR range"))
        })
        .collect()
}

fn parse_or<T>(raw: Option<String>, name: &'static str, default: T) -> Result<T, ConfigError>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    raw.map_or(Ok(default), |value| parse(value, name))
}

fn parse<T>(value: String, name: &'static str) -> Result<T, ConfigError>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    value
        .trim()
        .parse()
        .map_err(|e: T::Err| ConfigError::Invalid {
            name,
            reason: e.to_string(),
            value,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn empty_environment_gives_the_documented_defaults() {
        let s = from(&[]).unwrap();
        assert_eq!(s.bind.to_string(), "127.0.0.1:8000");
        assert_eq!(s.database_url, "confab.db");
        assert_eq!(s.db_timeout, Duration::from_millis(1000));
        assert_eq!(s.max_message_chars, 4000);
        assert_eq!(s.max_reactions, 20);
        assert!(s.allowed_origins.is_empty());
        assert_eq!(s.login_failures_per_account, 5);
        assert_eq!(s.login_failures_per_address, 20);
        assert_eq!(s.signups_per_hour, 30);
        assert_eq!(s.hash_queue, 64);
        assert_eq!(s.rooms_per_hour, 10);
        assert_eq!(s.room_index_limit, 100);
        assert_eq!(s.mentions_page_size, 50);
        assert_eq!(s.mention_candidates, 500);
        assert_eq!(s.search_page_size, 20);
        assert_eq!(s.search_max_query_chars, 256);
        assert_eq!(s.session_idle, Duration::from_secs(1_209_600));
        assert_eq!(s.session_sweep, Duration::from_secs(2));
    }

    #[test]
    fn the_mentions_page_size_is_bounded() {
        assert_eq!(
            from(&[("CONFAB_MENTIONS_PAGE_SIZE", "20")])
                .unwrap()
                .mentions_page_size,
            20
        );
        for bad in ["0", "1001"] {
            assert!(
                matches!(
                    from(&[("CONFAB_MENTIONS_PAGE_SIZE", bad)]),
                    Err(ConfigError::Invalid {
                        name: "CONFAB_MENTIONS_PAGE_SIZE",
                        ..
                    })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn account_throttles_can_be_set_or_turned_off() {
        let s = from(&[
            ("CONFAB_LOGIN_FAILURES_PER_ACCOUNT", "0"),
            ("CONFAB_LOGIN_FAILURES_PER_ADDRESS", "100"),
            ("CONFAB_SIGNUPS_PER_HOUR", "0"),
            ("CONFAB_HASH_QUEUE", "8"),
        ])
        .unwrap();
        assert_eq!(s.login_failures_per_account, 0);
        assert_eq!(s.login_failures_per_address, 100);
        assert_eq!(s.signups_per_hour, 0);
        assert_eq!(s.hash_queue, 8);
        let err = from(&[("CONFAB_SIGNUPS_PER_HOUR", "-1")]).unwrap_err();
        assert!(err.to_string().contains("CONFAB_SIGNUPS_PER_HOUR"), "{err}");
    }

    #[test]
    fn trusted_proxies_are_addresses_or_ranges() {
        let settings =
            from(&[("CONFAB_TRUSTED_PROXIES", " 10.0.0.5, 10.1.0.0/16,fd00::/8 ")]).expect("valid");
        let listed: Vec<String> = settings
            .trusted_proxies
            .iter()
            .map(|n| n.to_string())
            .collect();
        assert_eq!(listed, ["10.0.0.5/32", "10.1.0.0/16", "fd00::/8"]);
        let err = from(&[("CONFAB_TRUSTED_PROXIES", "10.0.0.5, proxy.local")])
            .expect_err("a name is no address")
            .to_string();
        assert!(
            err.contains("CONFAB_TRUSTED_PROXIES") && err.contains("proxy.local"),
            "{err}"
        );
    }

    #[test]
    fn origins_are_split_and_trimmed() {
        let s = from(&[(
            "CONFAB_ALLOWED_ORIGINS",
            "http://a.example/, https://b.example:8443",
        )])
        .unwrap();
        assert_eq!(
            s.allowed_origins,
            vec!["http://a.example", "https://b.example:8443"]
        );
    }

    #[test]
    fn bad_values_name_the_variable() {
        let err = from(&[("CONFAB_BIND", "localhost")]).unwrap_err();
        assert!(err.to_string().contains("CONFAB_BIND"), "{err}");
        let err = from(&[("CONFAB_SECRET_KEY", "short")]).unwrap_err();
        assert!(err.to_string().contains("32 bytes"), "{err}");
        let err = from(&[("CONFAB_REQUEST_QUEUE", "0")]).unwrap_err();
        assert!(err.to_string().contains("at least 1"), "{err}");
        let err = from(&[("CONFAB_MAX_UNSENT_BYTES", "lots")]).unwrap_err();
        assert!(err.to_string().contains("CONFAB_MAX_UNSENT_BYTES"), "{err}");
        // The frame-count rule is gone: its old setting is ignored, not refused.
        assert!(from(&[("CONFAB_SESSION_QUEUE", "16")]).is_ok());
        let err = from(&[("CONFAB_MAX_REACTIONS", "0")]).unwrap_err();
        assert!(err.to_string().contains("CONFAB_MAX_REACTIONS"), "{err}");
    }
}
