//! `/accounts/`: sign up, log in, log out.

use super::auth::{self, check_csrf, csrf_token, safe_next};
use super::error::sentence;
use super::{AppError, Templates};
use crate::db::queries::users;
use crate::db::{Database, DbError};
use crate::domain::{Password, Username};
use crate::passwords::PasswordHashing;
use actix_session::Session;
use actix_web::http::header;
use actix_web::{HttpResponse, get, post, web};
use serde::Deserialize;

/// Registers the account routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(signup_form)
        .service(signup)
        .service(login_form)
        .service(login)
        .service(logout_form)
        .service(logout);
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
async fn signup(
    templates: web::Data<Templates>,
    db: web::Data<Database>,
    passwords: web::Data<PasswordHashing>,
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
    let password = match Password::parse(&form.password) {
        Ok(p) => p,
        Err(e) => return retry(&sentence(&e)),
    };
    if form.password != form.password2 {
        return retry("The two passwords do not match.");
    }
    let hash = passwords.hash(password).await?;
    let name = username.as_str().to_owned();
    let created = db.run(move |c| users::create(c, &name, &hash, false)).await;
    let user = match created {
        Ok(user) => user,
        Err(DbError::Conflict) => return retry("That username is taken; please choose another."),
        Err(e) => return Err(e.into()),
    };
    log::info!("new account {username}");
    auth::log_in(&session, user.id)?;
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
async fn login(
    templates: web::Data<Templates>,
    db: web::Data<Database>,
    passwords: web::Data<PasswordHashing>,
    session: Session,
    form: web::Form<CredentialsForm>,
) -> Result<HttpResponse, AppError> {
    check_csrf(&session, &form.csrf_token)?;
    let name = form.username.trim().to_owned();
    let user = db.run(move |c| users::by_username(c, &name)).await?;
    let stored = user.as_ref().map(|u| u.password_hash.clone());
    let ok = passwords.verify(stored, form.password.clone()).await?;
    match user {
        Some(user) if ok => {
            auth::log_in(&session, user.id)?;
            Ok(redirect(safe_next(&form.next)))
        }
        _ => AccountForm::Login.render(
            &templates,
            &session,
            &form.next,
            &form.username,
            Some("Wrong username or password."),
        ),
    }
}

#[get("/accounts/logout/")]
async fn logout_form(
    templates: web::Data<Templates>,
    db: web::Data<Database>,
    session: Session,
) -> Result<HttpResponse, AppError> {
    let user = auth::current_user(&session, &db).await?;
    let ctx = Templates::context("Log out", user.as_ref(), &csrf_token(&session)?);
    Ok(html(templates.render("accounts/logout.html", &ctx)?))
}

#[post("/accounts/logout/")]
async fn logout(session: Session, form: web::Form<CsrfForm>) -> Result<HttpResponse, AppError> {
    check_csrf(&session, &form.csrf_token)?;
    auth::log_out(&session);
    Ok(redirect("/accounts/login/"))
}
