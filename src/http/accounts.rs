//! `/accounts/`: sign up, log in, log out, change the password.
//!
//! Logging in and signing up pass their throttles ([`super::throttle`])
//! before any password is hashed, and the hashing itself is queued with a
//! bound ([`PasswordHashing`]): a guesser gets 429 from the first and a
//! crowd 503 from the second, each with `Retry-After`, and neither can hold
//! a real user's login up for long. Failed logins are logged with the name
//! tried and the client address, for fail2ban and for people.
//!
//! Logging out and changing the password end sessions on the server
//! ([`auth`]) and tell every instance over the bus, so that the sockets of
//! the sessions ended close at once (with 1008, "signed out").
//!
//! A deactivated account's owner is told so at login (and gets no
//! session); one whose password staff set logs in with it and is then held
//! at the password form until they choose their own ([`auth`]).

use super::auth::{self, SignedInAs, check_csrf, csrf_token, safe_next};
use super::client::client_addr;
use super::error::sentence;
use super::throttle::AccountThrottles;
use super::{AppError, Templates};
use crate::actors::bus::Bus;
use crate::config::Settings;
use crate::db::queries::{sessions, users};
use crate::db::{Database, DbError};
use crate::domain::{EndedLogins, Password, Username};
use crate::metrics::METRICS;
use crate::passwords::PasswordHashing;
use actix_session::Session;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use diesel::Connection;
use serde::Deserialize;
use std::net::{IpAddr, Ipv4Addr};

/// Registers the account routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(signup_form)
        .service(signup)
        .service(login_form)
        .service(login)
        .service(logout_form)
        .service(logout)
        .service(password_form)
        .service(change_password);
}

#[derive(Deserialize)]
struct NextQuery {
    #[serde(default)]
    next: String,
}

#[derive(Deserialize)]
struct CredentialsForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    /// Signup only: the password again.
    #[serde(default)]
    password2: String,
    #[serde(default)]
    next: String,
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf_token: String,
}

fn redirect(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to))
        .finish()
}

/// The client the throttles count this request against; a request with no
/// peer address (none reaches a TCP listener) counts as one shared client.
fn client(req: &HttpRequest, settings: &Settings) -> IpAddr {
    client_addr(req, &settings.trusted_proxies).unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

/// A name as typed, fit for a log line: escaped (a newline cannot forge a
/// line) and cut short.
fn loggable(name: &str) -> String {
    format!("{:?}", name.chars().take(64).collect::<String>())
}

/// What the login form says to the owner of a deactivated account.
const DEACTIVATED: &str = "This account is deactivated.";

const TAKEN: &str =
    "That username is taken, or looks too much like one that is; please choose another.";

fn html(page: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(page)
}

/// The two forms that ask for a username and a password.
#[derive(Clone, Copy)]
enum AccountForm {
    Signup,
    Login,
}

impl AccountForm {
    /// Renders the form, with an error when it is re-shown.
    fn render(
        self,
        templates: &Templates,
        session: &Session,
        next: &str,
        username: &str,
        error: Option<&str>,
    ) -> Result<HttpResponse, AppError> {
        let (template, title) = match self {
            AccountForm::Signup => ("accounts/signup.html", "Sign up"),
            AccountForm::Login => ("accounts/login.html", "Log in"),
        };
        let mut ctx = Templates::context(title, None, &csrf_token(session)?);
        ctx.insert("next", next);
        ctx.insert("username", username);
        if let Some(error) = error {
            ctx.insert("error", error);
        }
        let page = templates.render(template, &ctx)?;
        Ok(match error {
            // A re-shown form is still a client error, for scripts and tests.
            Some(_) => HttpResponse::BadRequest()
                .content_type("text/html; charset=utf-8")
                .body(page),
            None => html(page),
        })
    }
}

#[get("/accounts/signup/")]
async fn signup_form(
    templates: web::Data<Templates>,
    session: Session,
    query: web::Query<NextQuery>,
) -> Result<HttpResponse, AppError> {
    AccountForm::Signup.render(&templates, &session, &query.next, "", None)
}

#[post("/accounts/signup/")]
#[allow(clippy::too_many_arguments)] // each is one piece of shared state
async fn signup(
    req: HttpRequest,
    templates: web::Data<Templates>,
    db: web::Data<Database>,
    passwords: web::Data<PasswordHashing>,
    throttles: web::Data<AccountThrottles>,
    settings: web::Data<Settings>,
    session: Session,
    form: web::Form<CredentialsForm>,
) -> Result<HttpResponse, AppError> {
    check_csrf(&session, &form.csrf_token)?;
    let retry = |error: &str| {
        AccountForm::Signup.render(
            &templates,
            &session,
            &form.next,
            &form.username,
            Some(error),
        )
    };
    let username = match Username::parse(form.username.trim()) {
        Ok(u) => u,
        Err(e) => return retry(&sentence(&e)),
    };
    let password = match Password::parse(&form.password, &username) {
        Ok(p) => p,
        Err(e) => return retry(&sentence(&e)),
    };
    if form.password != form.password2 {
        return retry("The two passwords do not match.");
    }
    // A taken name costs a lookup, not a hash (nor a place in the
    // throttle); the insert below still settles a race.
    let name = username.clone();
    if db.run(move |c| users::name_taken(c, &name)).await? {
        return retry(TAKEN);
    }
    let client = client(&req, &settings);
    let attempt = throttles.begin_signup(client).inspect_err(|refused| {
        METRICS.account_throttled();
        log::warn!("sign-up of {username} from {client} refused: {refused}");
    })?;
    let hash = passwords.hash(password).await?;
    let name = username.clone();
    let created = db.run(move |c| users::create(c, &name, &hash, false)).await;
    let user = match created {
        Ok(user) => user,
        Err(DbError::Conflict) => return retry(TAKEN),
        Err(e) => return Err(e.into()),
    };
    attempt.created();
    log::info!("new account {username} from {client}");
    auth::log_in(&session, &db, user.id).await?;
    Ok(redirect(safe_next(&form.next)))
}

#[get("/accounts/login/")]
async fn login_form(
    templates: web::Data<Templates>,
    session: Session,
    query: web::Query<NextQuery>,
) -> Result<HttpResponse, AppError> {
    AccountForm::Login.render(&templates, &session, &query.next, "", None)
}

#[post("/accounts/login/")]
#[allow(clippy::too_many_arguments)] // each is one piece of shared state
async fn login(
    req: HttpRequest,
    templates: web::Data<Templates>,
    db: web::Data<Database>,
    passwords: web::Data<PasswordHashing>,
    throttles: web::Data<AccountThrottles>,
    settings: web::Data<Settings>,
    session: Session,
    form: web::Form<CredentialsForm>,
) -> Result<HttpResponse, AppError> {
    check_csrf(&session, &form.csrf_token)?;
    let client = client(&req, &settings);
    let typed = form.username.trim();
    // A name that could not be one is tried (and counted) all the same, so
    // that it answers as slowly as any other wrong name.
    let name = Username::parse(typed).ok();
    let attempt = throttles
        .begin_login(name.as_ref().map(Username::folded), client)
        .inspect_err(|refused| {
            METRICS.account_throttled();
            log::warn!(
                "login as {} from {client} refused: {refused}",
                loggable(typed)
            );
        })?;
    let user = match name {
        Some(name) => db.run(move |c| users::by_login_name(c, &name)).await?,
        None => None,
    };
    let stored = user.as_ref().map(|u| u.password_hash.clone());
    let ok = passwords.verify(stored, form.password.clone()).await?;
    match user {
        // Told only to who knows the password: to anyone else the name
        // answers as any other wrong guess does.
        Some(user) if ok && user.deactivated_at.is_some() => {
            attempt.succeeded();
            log::info!(
                "login as {} from {client} refused: the account is deactivated",
                user.username
            );
            AccountForm::Login.render(
                &templates,
                &session,
                &form.next,
                &form.username,
                Some(DEACTIVATED),
            )
        }
        Some(user) if ok => {
            attempt.succeeded();
            auth::log_in(&session, &db, user.id).await?;
            if user.must_change_password {
                // Every other page would send them there anyway.
                return Ok(redirect("/accounts/password/"));
            }
            Ok(redirect(safe_next(&form.next)))
        }
        _ => {
            attempt.failed();
            log::warn!("failed login as {} from {client}", loggable(typed));
            AccountForm::Login.render(
                &templates,
                &session,
                &form.next,
                &form.username,
                Some("Wrong username or password."),
            )
        }
    }
}

#[get("/accounts/logout/")]
async fn logout_form(
    templates: web::Data<Templates>,
    db: web::Data<Database>,
    settings: web::Data<Settings>,
    session: Session,
) -> Result<HttpResponse, AppError> {
    let user = auth::current_user(&session, &db, &settings).await?;
    let ctx = Templates::context("Log out", user.as_ref(), &csrf_token(&session)?);
    Ok(html(templates.render("accounts/logout.html", &ctx)?))
}

/// Ends this browser's session everywhere: the row goes (a copy of the
/// cookie stops working), and its sockets on every instance close.
#[post("/accounts/logout/")]
async fn logout(
    db: web::Data<Database>,
    settings: web::Data<Settings>,
    bus: web::Data<Bus>,
    session: Session,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, AppError> {
    check_csrf(&session, &form.csrf_token)?;
    match auth::signed_in_even_before_password_change(&session, &db, &settings).await? {
        Some(this) => {
            auth::log_out(&session, &db, this.login).await?;
            bus.sign_out(&this.user.username, EndedLogins::Only(this.login));
        }
        None => session.purge(),
    }
    Ok(redirect("/accounts/login/"))
}

#[derive(Deserialize)]
struct PasswordForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    current: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password2: String,
}

/// What the password form says while staff's password must be replaced.
const CHOOSE_YOUR_OWN: &str = "Staff set a new password for your account. Choose your own to go on: \
     type the one you were given as the current password.";

/// The password form, with an error (and status 400) when re-shown, or a
/// confirmation once changed; `must_change` adds the notice that staff set
/// the password and the user must choose their own before anything else.
fn password_page(
    templates: &Templates,
    session: &Session,
    who: &SignedInAs,
    must_change: bool,
    outcome: Result<Option<&str>, &str>,
) -> Result<HttpResponse, AppError> {
    let mut ctx = Templates::context("Change password", Some(&who.user), &csrf_token(session)?);
    if must_change {
        ctx.insert("notice", CHOOSE_YOUR_OWN);
    }
    match outcome {
        Ok(done) => {
            if let Some(done) = done {
                ctx.insert("done", done);
            }
            Ok(html(templates.render("accounts/password.html", &ctx)?))
        }
        Err(error) => {
            ctx.insert("error", error);
            Ok(HttpResponse::BadRequest()
                .content_type("text/html; charset=utf-8")
                .body(templates.render("accounts/password.html", &ctx)?))
        }
    }
}

/// Whether account `id` must change the password staff set.
async fn must_change(db: &Database, id: crate::domain::UserId) -> Result<bool, AppError> {
    Ok(db
        .run(move |c| users::by_id(c, id))
        .await?
        .is_some_and(|u| u.must_change_password))
}

#[get("/accounts/password/")]
async fn password_form(
    templates: web::Data<Templates>,
    db: web::Data<Database>,
    session: Session,
    who: SignedInAs,
) -> Result<HttpResponse, AppError> {
    let must_change = must_change(&db, who.user.id).await?;
    password_page(&templates, &session, &who, must_change, Ok(None))
}

/// Changes the password, checked by the rules sign-up uses, and ends every
/// other session of the user (their sockets close); this one stays.
#[post("/accounts/password/")]
async fn change_password(
    templates: web::Data<Templates>,
    db: web::Data<Database>,
    passwords: web::Data<PasswordHashing>,
    bus: web::Data<Bus>,
    session: Session,
    who: SignedInAs,
    form: web::Form<PasswordForm>,
) -> Result<HttpResponse, AppError> {
    check_csrf(&session, &form.csrf_token)?;
    let id = who.user.id;
    let row = db.run(move |c| users::by_id(c, id)).await?;
    let must_change = row.as_ref().is_some_and(|u| u.must_change_password);
    let retry = |error: &str| password_page(&templates, &session, &who, must_change, Err(error));
    let stored = row.map(|u| u.password_hash);
    if !passwords.verify(stored, form.current.clone()).await? {
        return retry("Your current password is not right.");
    }
    // The very rules of sign-up, not a copy of them.
    let password = match Password::parse(&form.password, &who.user.username) {
        Ok(p) => p,
        Err(e) => return retry(&sentence(&e)),
    };
    if form.password != form.password2 {
        return retry("The two new passwords do not match.");
    }
    let hash = passwords.hash(password).await?;
    let keep = who.login;
    let ended = db
        .run(move |c| {
            // Both or neither: a new password with the old sessions still
            // open would defeat the point. (It clears the demand to change
            // a password staff set.)
            c.transaction(|c| {
                users::set_password_hash(c, id, &hash)?;
                sessions::delete_others(c, id, keep)
            })
        })
        .await?;
    log::info!(
        "{} changed their password; {ended} other sessions ended",
        who.user.username
    );
    bus.sign_out(&who.user.username, EndedLogins::AllBut(keep));
    password_page(
        &templates,
        &session,
        &who,
        false,
        Ok(Some(
            "Your password is changed, and every other browser signed in as you is signed out.",
        )),
    )
}
