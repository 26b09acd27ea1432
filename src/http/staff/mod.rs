//! `/staff/`: the staff console, what Django's admin gave the tutorial,
//! rendered on the server: rooms, users, messages, reports and the audit
//! log, one module per section.
//!
//! Who may enter is decided per request ([`Staff`]): a visitor who is not
//! signed in is sent to the login page (and back), a signed-in user who is
//! not staff gets the 403 page, and a demoted user loses the console at
//! once, since rights are read with the session on every request.
//!
//! Pages only read (`db::queries::staff`); every change is a form POST
//! with its CSRF token that becomes one [`Action`] performed through the
//! [`Moderation`] service, the same code path in-room moderation and the
//! CLI take, which checks, changes and writes the audit log. The form then
//! redirects back (303) with a flash message: the action's [`Outcome`] or
//! the error sentence, and on an error the fields as they were typed, so
//! nothing typed is lost without a word.

mod audit;
mod messages;
mod overview;
mod reports;
mod rooms;
mod users;

use super::auth::{SignedIn, csrf_token};
use super::error::sentence;
use super::{AppError, Templates};
use crate::domain::Identity;
use crate::moderation::{Action, Actor, ModError, Moderation, Outcome};
use actix_session::Session;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, HttpResponse, dev::Payload, web};
use chrono::NaiveDateTime;
use futures_util::future::LocalBoxFuture;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Registers the console's pages and forms.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.configure(overview::routes)
        .configure(rooms::routes)
        .configure(users::routes)
        .configure(messages::routes)
        .configure(reports::routes)
        .configure(audit::routes);
}

/// A request by a signed-in staff member, as the database has them now.
/// Anyone else is refused before the handler runs: sent to log in, or
/// shown the 403 page.
pub struct Staff(pub Identity);

impl FromRequest for Staff {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let signed_in = SignedIn::from_request(req, payload);
        Box::pin(async move {
            let SignedIn(user) = signed_in.await?;
            if !user.is_staff {
                return Err(AppError::Forbidden(
                    "The staff console is for staff only.".to_owned(),
                ));
            }
            Ok(Staff(user))
        })
    }
}

/// The console's sections, in the order its navigation lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum Section {
    Overview,
    Rooms,
    Users,
    Messages,
    Reports,
    Audit,
}

/// The session key of the flash message.
const FLASH: &str = "staff_flash";

/// What the last form did, shown once on the page it redirected to.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Flash {
    /// Done (the outcome), or refused (the error sentence).
    ok: bool,
    /// The sentence.
    text: String,
    /// On an error: the form's fields as they were sent (never its token
    /// or a password), so the page shows them again. `form` names which
    /// form they belong to.
    kept: BTreeMap<String, String>,
}

impl Flash {
    fn done(outcome: &Outcome) -> Self {
        Flash {
            ok: true,
            text: outcome.message.clone(),
            kept: BTreeMap::new(),
        }
    }

    fn refused(text: String, kept: Kept) -> Self {
        Flash {
            ok: false,
            text,
            kept: kept.0,
        }
    }
}

/// A form's fields to show again after an error.
#[derive(Debug, Clone, Default)]
struct Kept(BTreeMap<String, String>);

impl Kept {
    /// The fields of the form called `form`.
    fn form(form: &str) -> Self {
        let mut kept = Kept::default();
        kept.0.insert("form".to_owned(), form.to_owned());
        kept
    }

    /// With the field `name` as `value` was typed.
    fn with(mut self, name: &str, value: &str) -> Self {
        self.0.insert(name.to_owned(), value.to_owned());
        self
    }
}

/// A 303 to `to`, the page to show next.
fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to))
        .finish()
}

/// Remembers `flash` for the next page and redirects there.
fn back_with(session: &Session, to: &str, flash: Flash) -> Result<HttpResponse, AppError> {
    session
        .insert(FLASH, flash)
        .map_err(|e| AppError::Internal(format!("session cookie: {e}")))?;
    Ok(see_other(to))
}

/// Redirects to `to` saying why the form was refused, with its fields.
fn refuse(
    session: &Session,
    to: &str,
    error: String,
    kept: Kept,
) -> Result<HttpResponse, AppError> {
    back_with(session, to, Flash::refused(error, kept))
}

/// Performs `action` as `staff` through the moderation service: the
/// outcome, or the sentence saying why it was refused. A database failure
/// is the server's, not the form's, and becomes the error page.
async fn perform(
    moderation: &Moderation,
    staff: &Identity,
    action: Action,
) -> Result<Result<Outcome, String>, AppError> {
    match moderation.perform(Actor::User(staff.clone()), action).await {
        Ok(outcome) => Ok(Ok(outcome)),
        Err(ModError::Db(e)) => Err(e.into()),
        Err(e) => Ok(Err(sentence(&e))),
    }
}

/// Performs `action` and redirects to `to` with its outcome, or back to
/// `to` with the error sentence and `kept`.
async fn perform_and_return(
    moderation: &Moderation,
    session: &Session,
    staff: &Identity,
    action: Action,
    to: &str,
    kept: Kept,
) -> Result<HttpResponse, AppError> {
    match perform(moderation, staff, action).await? {
        Ok(outcome) => back_with(session, to, Flash::done(&outcome)),
        Err(error) => refuse(session, to, error, kept),
    }
}

/// A console page: `template` with `title`, its section marked current in
/// the navigation, and the flash message left by the last form (taken, so
/// it shows once). `fill` adds the page's own values.
fn render(
    templates: &Templates,
    session: &Session,
    staff: &Identity,
    section: Section,
    title: &str,
    template: &str,
    fill: impl FnOnce(&mut tera::Context),
) -> Result<HttpResponse, AppError> {
    let mut ctx = Templates::context(title, Some(staff), &csrf_token(session)?);
    ctx.insert("section", &section);
    let flash = session
        .remove_as::<Flash>(FLASH)
        .and_then(Result::ok)
        .unwrap_or_default();
    ctx.insert("kept", &flash.kept);
    if !flash.text.is_empty() {
        ctx.insert("flash", &flash);
    }
    fill(&mut ctx);
    let page = templates.render(template, &ctx)?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(page))
}

/// A time as the console shows it: `2026-12-06 19:40 UTC`.
fn when(at: NaiveDateTime) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// A time for `<time datetime>`: RFC 3339, UTC.
fn machine_time(at: NaiveDateTime) -> String {
    at.and_utc()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A time for a template: readable, and for machines.
#[derive(Debug, Clone, Serialize)]
struct Time {
    text: String,
    iso: String,
}

impl From<NaiveDateTime> for Time {
    fn from(at: NaiveDateTime) -> Self {
        Time {
            text: when(at),
            iso: machine_time(at),
        }
    }
}

/// `?page=N` of a list (1 when absent or not a page number).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(from = "PageParam")]
struct PageNumber(u32);

#[derive(Deserialize)]
struct PageParam {
    page: Option<String>,
}

impl From<PageParam> for PageNumber {
    fn from(param: PageParam) -> Self {
        PageNumber(
            param
                .page
                .and_then(|p| p.trim().parse::<u32>().ok())
                .filter(|&n| n >= 1)
                .unwrap_or(1),
        )
    }
}

impl PageNumber {
    /// The rows of this page, `size` to a page.
    fn rows(self, size: usize) -> crate::db::queries::staff::PageOf {
        let limit = i64::try_from(size).unwrap_or(i64::MAX).max(1);
        crate::db::queries::staff::PageOf {
            offset: i64::from(self.0 - 1).saturating_mul(limit),
            limit,
        }
    }
}

/// The links between the pages of a list.
#[derive(Debug, Clone, Serialize)]
struct Pager {
    /// This page's number.
    number: u32,
    /// The previous page's URL, if this is not the first.
    prev: Option<String>,
    /// The next page's URL, if there are more rows.
    next: Option<String>,
}

impl Pager {
    /// The links for page `number` of the list at `path` whose other
    /// query parameters are `params` (empty ones left out).
    fn new(path: &str, params: &[(&str, &str)], number: PageNumber, more: bool) -> Self {
        let url = |page: u32| {
            let mut pairs: Vec<(&str, String)> = params
                .iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, v)| (*k, (*v).to_owned()))
                .collect();
            if page > 1 {
                pairs.push(("page", page.to_string()));
            }
            let query = serde_urlencoded::to_string(pairs).unwrap_or_default();
            if query.is_empty() {
                path.to_owned()
            } else {
                format!("{path}?{query}")
            }
        };
        let n = number.0;
        Pager {
            number: n,
            prev: (n > 1).then(|| url(n - 1)),
            next: more.then(|| url(n + 1)),
        }
    }
}

/// A search box's text: trimmed, `None` when empty, and cut to `max`
/// characters (nothing longer could match, and nothing long is sent to the
/// database).
fn search_text(raw: Option<&str>, max: usize) -> Option<String> {
    raw.map(str::trim)
        .filter(|q| !q.is_empty())
        .map(|q| q.chars().take(max).collect())
}

/// Where a form may send the browser back to: a console page, else the
/// console's front page.
fn console_path(back: &str) -> &str {
    let local = super::auth::safe_next(back);
    if local.starts_with("/staff/") {
        local
    } else {
        "/staff/"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_link_to_their_neighbours_with_the_same_search() {
        let first = Pager::new("/staff/rooms/", &[("q", "lob by")], PageNumber(1), true);
        assert_eq!(first.prev, None);
        assert_eq!(first.next.as_deref(), Some("/staff/rooms/?q=lob+by&page=2"));
        let second = Pager::new("/staff/rooms/", &[("q", "")], PageNumber(2), false);
        assert_eq!(second.prev.as_deref(), Some("/staff/rooms/"));
        assert_eq!(second.next, None);
    }

    #[test]
    fn a_page_number_is_a_positive_number_or_the_first_page() {
        let parse = |raw: Option<&str>| {
            PageNumber::from(PageParam {
                page: raw.map(str::to_owned),
            })
            .0
        };
        assert_eq!(parse(None), 1);
        assert_eq!(parse(Some("3")), 3);
        assert_eq!(parse(Some("0")), 1);
        assert_eq!(parse(Some("-2")), 1);
        assert_eq!(parse(Some("x")), 1);
        assert_eq!(PageNumber(3).rows(50).offset, 100);
    }

    #[test]
    fn forms_send_the_browser_back_into_the_console_only() {
        assert_eq!(console_path("/staff/users/bob/"), "/staff/users/bob/");
        assert_eq!(console_path("/chat/"), "/staff/");
        assert_eq!(console_path("//evil.example/staff/"), "/staff/");
        assert_eq!(console_path(""), "/staff/");
    }
}
