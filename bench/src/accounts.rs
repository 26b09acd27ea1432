//! Real users for the load: signed up (or, when the name is taken by an
//! earlier run, logged in) through the same forms a browser uses, so the
//! sockets carry genuine session cookies.
//!
//! Each account costs the server an Argon2 hash, so they are made a few at
//! a time and the scenarios let many sockets share one account.

use crate::connect::Server;
use anyhow::{Context, bail};
use futures_util::{StreamExt, TryStreamExt, stream};
use reqwest::StatusCode;
use reqwest::header::{COOKIE, SET_COOKIE};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

/// The session cookie's name (see the server's `startup.rs`).
const SESSION_COOKIE: &str = "confab_session";

/// Every benchmark account's password.
const PASSWORD: &str = "bench-password-1";

/// A signed-in user.
#[derive(Debug, Clone)]
pub struct Account {
    /// The user's name.
    pub username: String,
    /// `confab_session=...`, ready for a `Cookie` header.
    pub cookie: String,
}

/// An HTTP client for one server's pages.
pub struct Site {
    http: reqwest::Client,
    base: String,
}

impl Site {
    /// A client for `server`; redirects are not followed, since the cookie
    /// of interest comes with the redirect itself.
    pub fn new(server: &Server) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(Duration::from_secs(60))
            .build()?;
        Ok(Site {
            http,
            base: server.http_base(),
        })
    }

    /// Fetches a form page; returns its fresh session cookie and CSRF token.
    async fn form(&self, path: &str) -> anyhow::Result<(String, String)> {
        let response = self.http.get(format!("{}{path}", self.base)).send().await?;
        if response.status() != StatusCode::OK {
            bail!("GET {path}: {}", response.status());
        }
        let cookie = session_cookie(&response).with_context(|| format!("GET {path}: no cookie"))?;
        let page = response.text().await?;
        let token = csrf_token(&page).with_context(|| format!("GET {path}: no csrf_token"))?;
        Ok((cookie, token.to_owned()))
    }

    /// Posts a form with a cookie; returns the status, the new session
    /// cookie if one was set, and the body.
    async fn post(
        &self,
        path: &str,
        cookie: &str,
        fields: &[(&str, &str)],
    ) -> anyhow::Result<(StatusCode, Option<String>, String)> {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .header(COOKIE, cookie)
            .form(fields)
            .send()
            .await?;
        let status = response.status();
        let cookie = session_cookie(&response);
        Ok((status, cookie, response.text().await?))
    }

    /// Signs `username` up, or logs in if the name exists (from an
    /// earlier run on the same database).
    pub async fn sign_in(&self, username: &str) -> anyhow::Result<Account> {
        let (cookie, token) = self.form("/accounts/signup/").await?;
        let (status, new_cookie, body) = self
            .post(
                "/accounts/signup/",
                &cookie,
                &[
                    ("csrf_token", &token),
                    ("username", username),
                    ("password", PASSWORD),
                    ("password2", PASSWORD),
                    ("next", ""),
                ],
            )
            .await?;
        match (status, new_cookie) {
            (StatusCode::SEE_OTHER, Some(cookie)) => {
                return Ok(Account {
                    username: username.to_owned(),
                    cookie,
                });
            }
            (StatusCode::BAD_REQUEST, _) if body.contains("taken") => {}
            (status, _) => bail!("signing up {username}: {status}"),
        }
        let (cookie, token) = self.form("/accounts/login/").await?;
        let (status, new_cookie, _) = self
            .post(
                "/accounts/login/",
                &cookie,
                &[
                    ("csrf_token", &token),
                    ("username", username),
                    ("password", PASSWORD),
                    ("next", ""),
                ],
            )
            .await?;
        match (status, new_cookie) {
            (StatusCode::SEE_OTHER, Some(cookie)) => Ok(Account {
                username: username.to_owned(),
                cookie,
            }),
            (status, _) => {
                bail!("logging in {username}: {status} (taken by a user with another password?)")
            }
        }
    }

    /// Visits `/chat/<room>/`, which creates the room if it is new.
    pub async fn open_room(&self, account: &Account, room: &str) -> anyhow::Result<()> {
        let response = self
            .http
            .get(format!("{}/chat/{room}/", self.base))
            .header(COOKIE, &account.cookie)
            .send()
            .await?;
        if response.status() != StatusCode::OK {
            bail!(
                "GET /chat/{room}/ as {}: {}",
                account.username,
                response.status()
            );
        }
        Ok(())
    }
}

impl Site {
    /// Makes `room` one of `account`'s rooms, as its Join button does.
    pub async fn join_room(&self, account: &Account, room: &str) -> anyhow::Result<()> {
        let page = self
            .http
            .get(format!("{}/chat/{room}/", self.base))
            .header(COOKIE, &account.cookie)
            .send()
            .await?
            .text()
            .await?;
        let token = csrf_token(&page).with_context(|| format!("/chat/{room}/: no csrf_token"))?;
        let (status, _, _) = self
            .post(
                &format!("/chat/{room}/join"),
                &account.cookie,
                &[("csrf_token", token)],
            )
            .await?;
        if status != StatusCode::SEE_OTHER {
            bail!("joining {room} as {}: {status}", account.username);
        }
        Ok(())
    }
}

/// Signs in `count` users named `<prefix><i>`, `concurrency` at a time.
///
/// With `cache`, cookies saved there by an earlier run are reused, and new
/// ones are saved: the server can then be restarted (same database and
/// key) and measured without the sign-ins' Argon2 work, which leaves its
/// memory in the server's allocator.
pub async fn sign_in_all(
    site: &Site,
    prefix: &str,
    count: usize,
    concurrency: usize,
    cache: Option<&Path>,
) -> anyhow::Result<Vec<Account>> {
    let mut saved = match cache {
        Some(path) => match std::fs::read_to_string(path) {
            Ok(text) => parse_cache(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        },
        None => BTreeMap::new(),
    };
    let names: Vec<String> = (0..count).map(|i| format!("{prefix}{i}")).collect();
    let missing: Vec<&String> = names.iter().filter(|n| !saved.contains_key(*n)).collect();
    if !missing.is_empty() {
        let started = std::time::Instant::now();
        let signed_in: Vec<Account> = stream::iter(missing)
            .map(|name| site.sign_in(name))
            .buffered(concurrency.max(1))
            .try_collect()
            .await?;
        eprintln!(
            "signed in {} users in {:.1} s",
            signed_in.len(),
            started.elapsed().as_secs_f64()
        );
        saved.extend(signed_in.into_iter().map(|a| (a.username, a.cookie)));
        if let Some(path) = cache {
            std::fs::write(path, format_cache(&saved))
                .with_context(|| format!("writing {}", path.display()))?;
        }
    } else if let Some(path) = cache {
        eprintln!("reusing {count} sessions from {}", path.display());
    }
    Ok(names
        .into_iter()
        .filter_map(|username| {
            let cookie = saved.get(&username)?.clone();
            Some(Account { username, cookie })
        })
        .collect())
}

/// `username<TAB>cookie` lines.
fn parse_cache(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|line| line.split_once('\t'))
        .map(|(name, cookie)| (name.to_owned(), cookie.to_owned()))
        .collect()
}

fn format_cache(saved: &BTreeMap<String, String>) -> String {
    saved
        .iter()
        .map(|(name, cookie)| format!("{name}\t{cookie}\n"))
        .collect()
}

/// `confab_session=VALUE` from a response's `Set-Cookie` headers.
fn session_cookie(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| cookie_pair(v, SESSION_COOKIE))
}

/// The `name=value` part of a `Set-Cookie` value, if it sets `name`.
fn cookie_pair(set_cookie: &str, name: &str) -> Option<String> {
    let pair = set_cookie.split(';').next()?.trim();
    let (key, value) = pair.split_once('=')?;
    (key == name && !value.is_empty()).then(|| pair.to_owned())
}

/// The value of the first `csrf_token` hidden field of a page.
fn csrf_token(page: &str) -> Option<&str> {
    const FIELD: &str = r#"name="csrf_token" value=""#;
    let start = page.find(FIELD)? + FIELD.len();
    let len = page[start..].find('"')?;
    Some(&page[start..start + len])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_session_cookie() {
        assert_eq!(
            cookie_pair("confab_session=abc=; Path=/; HttpOnly", SESSION_COOKIE),
            Some("confab_session=abc=".to_owned())
        );
        assert_eq!(cookie_pair("other=1; Path=/", SESSION_COOKIE), None);
        // A removal (empty value) is not a session.
        assert_eq!(
            cookie_pair("confab_session=; Max-Age=0", SESSION_COOKIE),
            None
        );
    }

    #[test]
    fn session_cache_round_trips() {
        let mut saved = BTreeMap::new();
        saved.insert("bench1".to_owned(), "confab_session=a=b".to_owned());
        saved.insert("bench0".to_owned(), "confab_session=c".to_owned());
        let text = format_cache(&saved);
        assert_eq!(
            text,
            "bench0\tconfab_session=c\nbench1\tconfab_session=a=b\n"
        );
        assert_eq!(parse_cache(&text), saved);
        assert!(parse_cache("garbage\n").is_empty());
    }

    #[test]
    fn finds_the_csrf_token() {
        let page =
            r#"<form><input type="hidden" name="csrf_token" value="f00d"><input name="x"></form>"#;
        assert_eq!(csrf_token(page), Some("f00d"));
        assert_eq!(csrf_token("<p>no form</p>"), None);
    }
}
