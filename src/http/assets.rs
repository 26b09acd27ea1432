//! `/static/…`: the stylesheet and scripts, compiled into the binary.
//!
//! A name may contain folders (`room/main.js`, one of the room page's ES
//! modules), so the route takes the whole rest of the path; only names in
//! `ASSETS` are served, anything else is a 404.

use super::AppError;
use actix_web::http::header;
use actix_web::{HttpResponse, get, web};

/// Every static file: name (its path under `static/`), content type, content.
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "style.css",
        "text/css; charset=utf-8",
        include_str!("../../static/style.css"),
    ),
    (
        "chat.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/chat.js"),
    ),
    (
        "favicon.svg",
        "image/svg+xml",
        include_str!("../../static/favicon.svg"),
    ),
    (
        "room.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/room.js"),
    ),
];

/// Registers the asset route.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(asset);
}

#[get("/static/{name:.+}")]
async fn asset(name: web::Path<String>) -> Result<HttpResponse, AppError> {
    let (_, content_type, body) = ASSETS
        .iter()
        .find(|(n, _, _)| *n == name.as_str())
        .ok_or_else(|| AppError::NotFound("No such file.".into()))?;
    Ok(HttpResponse::Ok()
        .content_type(*content_type)
        // Revalidate on every load, so an upgraded server never runs old scripts.
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(*body))
}
