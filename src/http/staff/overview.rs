//! `/staff/`: the console's front page: what needs attention (open
//! reports) and how big the site is, with a way into each section.

use super::{Section, Staff, render};
use crate::db::Database;
use crate::db::queries::{self, staff};
use crate::http::{AppError, Templates};
use actix_session::Session;
use actix_web::{HttpResponse, get, web};

/// Registers the front page.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(overview);
}

#[get("/staff/")]
async fn overview(
    Staff(me): Staff,
    templates: web::Data<Templates>,
    db: web::Data<Database>,
    session: Session,
) -> Result<HttpResponse, AppError> {
    // "Today" is the UTC day, as every time the console shows.
    let midnight = queries::now().date().and_time(chrono::NaiveTime::MIN);
    let counts = db.run(move |c| staff::overview(c, midnight)).await?;
    render(
        &templates,
        &session,
        &me,
        Section::Overview,
        "Staff console",
        "staff/overview.html",
        |ctx| {
            ctx.insert("open_reports", &counts.open_reports);
            ctx.insert("rooms", &counts.rooms);
            ctx.insert("users", &counts.users);
            ctx.insert("messages_today", &counts.messages_today);
        },
    )
}
