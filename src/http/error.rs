//! The error type of every HTTP handler, and its one conversion to a page.

use super::Templates;
use super::throttle::Throttled;
use crate::db::DbError;
use crate::passwords::HashError;
use actix_web::dev::ServiceResponse;
use actix_web::http::{StatusCode, header};
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::{HttpResponse, ResponseError, web};

/// What a handler can fail with, as a person should hear it.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The page needs a signed-in user; `next` is where to return after.
    #[error("please log in")]
    LoginRequired {
        /// Path (and query) to come back to.
        next: String,
    },
    /// Signed in, but staff set the password: every page but the password
    /// form (and logging out) sends the user there until they choose their
    /// own (303).
    #[error("choose a new password first")]
    PasswordChangeRequired,
    /// Signed in, but not allowed here.
    #[error("{0}")]
    Forbidden(String),
    /// The form's CSRF token was missing or wrong.
    #[error("the form has expired or did not come from this site; reload the page and try again")]
    Csrf,
    /// Nothing at this address.
    #[error("{0}")]
    NotFound(String),
    /// The request itself is malformed.
    #[error("{0}")]
    BadRequest(String),
    /// A limit was reached; trying again later may work.
    #[error("{0}")]
    TooManyRequests(String),
    /// A throttle refused the request (429 with `Retry-After`).
    #[error("{message}")]
    RateLimited {
        /// What was refused and when to try again, as a sentence.
        message: String,
        /// When the next try can pass.
        retry_after: std::time::Duration,
    },
    /// The server is too busy for this request just now (503 with
    /// `Retry-After`).
    #[error("{message}")]
    Busy {
        /// What is busy, as a sentence.
        message: String,
        /// When to try again.
        retry_after: std::time::Duration,
    },
    /// Our fault; details are logged, not shown.
    #[error("something went wrong on our side; please try again")]
    Internal(String),
}

/// An error message as a sentence for a page: capital first letter, full stop.
pub fn sentence(e: &impl std::fmt::Display) -> String {
    let text = e.to_string();
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect::<String>() + ".",
        None => String::new(),
    }
}

impl From<DbError> for AppError {
    fn from(e: DbError) -> Self {
        if e.is_unavailable() {
            // Down, restarting or out of disk: worth a retry, not a bug.
            log::warn!("database unavailable for a page: {e}");
            return AppError::Busy {
                message: sentence(
                    &"the database is unavailable right now; please try again in a moment",
                ),
                retry_after: crate::db::RETRY_UNAVAILABLE,
            };
        }
        AppError::Internal(e.to_string())
    }
}

impl From<HashError> for AppError {
    fn from(e: HashError) -> Self {
        match e {
            HashError::Busy => AppError::Busy {
                message: sentence(&format!("{e}; please try again in a moment")),
                retry_after: HashError::BUSY_RETRY,
            },
            e => AppError::Internal(e.to_string()),
        }
    }
}

impl From<Throttled> for AppError {
    fn from(t: Throttled) -> Self {
        AppError::RateLimited {
            message: sentence(&t),
            retry_after: t.retry_after,
        }
    }
}

/// A `Retry-After` value: whole seconds, rounded up, at least one.
fn retry_after_secs(wait: std::time::Duration) -> String {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0))
        .max(1)
        .to_string()
}

impl From<tera::Error> for AppError {
    fn from(e: tera::Error) -> Self {
        use std::error::Error;
        let mut detail = e.to_string();
        let mut source = e.source();
        while let Some(s) = source {
            detail.push_str(&format!(": {s}"));
            source = s.source();
        }
        AppError::Internal(detail)
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::LoginRequired { .. } => StatusCode::FOUND,
            AppError::PasswordChangeRequired => StatusCode::SEE_OTHER,
            AppError::Forbidden(_) | AppError::Csrf => StatusCode::FORBIDDEN,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::TooManyRequests(_) | AppError::RateLimited { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            AppError::Busy { .. } => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            AppError::LoginRequired { next } => {
                let query = serde_urlencoded::to_string([("next", next)]).unwrap_or_default();
                HttpResponse::Found()
                    .insert_header((header::LOCATION, format!("/accounts/login/?{query}")))
                    .finish()
            }
            AppError::PasswordChangeRequired => HttpResponse::SeeOther()
                .insert_header((header::LOCATION, "/accounts/password/"))
                .finish(),
            other => {
                if let AppError::Internal(detail) = other {
                    log::error!("internal error: {detail}");
                }
                let mut response = HttpResponse::build(self.status_code());
                if let AppError::RateLimited { retry_after, .. }
                | AppError::Busy { retry_after, .. } = other
                {
                    response.insert_header((header::RETRY_AFTER, retry_after_secs(*retry_after)));
                }
                // Plain text here; `render_error_page` dresses it as HTML.
                response.body(other.to_string())
            }
        }
    }
}

/// Middleware hook: every 4xx/5xx error becomes the `error.html` page.
pub fn render_error_page<B>(res: ServiceResponse<B>) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let status = res.status();
    // Responses a handler built on purpose (a form shown again with its
    // error) pass through; only errors become the error page.
    let Some(error) = res.response().error() else {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    };
    let message = match error.as_error::<AppError>() {
        Some(app) => app.to_string(),
        None => error.to_string(),
    };
    let heading = match status {
        StatusCode::NOT_FOUND => "Not found",
        StatusCode::FORBIDDEN => "Not allowed",
        StatusCode::BAD_REQUEST => "Bad request",
        StatusCode::SERVICE_UNAVAILABLE => "Server busy",
        s if s.is_server_error() => "Server error",
        s => s.canonical_reason().unwrap_or("Error"),
    };
    let Some(templates) = res.request().app_data::<web::Data<Templates>>() else {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    };
    let mut ctx = tera::Context::new();
    ctx.insert("title", heading);
    ctx.insert("status", &status.as_u16());
    ctx.insert("heading", heading);
    ctx.insert("message", &message);
    let page = match templates.render("error.html", &ctx) {
        Ok(page) => page,
        Err(e) => {
            log::error!("could not render the error page: {e}");
            return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
        }
    };
    let retry_after = res.response().headers().get(header::RETRY_AFTER).cloned();
    let (req, _) = res.into_parts();
    let mut response = HttpResponse::build(status);
    // The page replaces the body, not what the response tells the client.
    if let Some(retry_after) = retry_after {
        response.insert_header((header::RETRY_AFTER, retry_after));
    }
    let response = response.content_type("text/html; charset=utf-8").body(page);
    Ok(ErrorHandlerResponse::Response(
        ServiceResponse::new(req, response).map_into_right_body(),
    ))
}
