//! `/static/…`: the stylesheet and scripts, compiled into the binary.
//!
//! A name may contain folders (`room/main.js`, one of the room page's ES
//! modules), so the route takes the whole rest of the path; only names in
//! `ASSETS` are served, anything else is a 404.

use super::AppError;
use actix_web::http::header;
use actix_web::{HttpResponse, get, web};

/// An [`ASSETS`] entry for `static/<name>`: the file is read at compile time.
macro_rules! asset {
    ($name:literal, $content_type:expr) => {
        (
            $name,
            $content_type,
            include_str!(concat!("../../static/", $name)),
        )
    };
}

const JS: &str = "text/javascript; charset=utf-8";

/// Every static file: name (its path under `static/`), content type, content.
const ASSETS: &[(&str, &str, &str)] = &[
    asset!("style.css", "text/css; charset=utf-8"),
    asset!("chat.js", JS),
    // The sidebar of every signed-in page (templates/base.html).
    asset!("sidebar.js", JS),
    asset!("favicon.svg", "image/svg+xml"),
    // The room page's ES modules: templates/chat/room.html loads room/main.js,
    // which imports the others.
    asset!("room/actions.js", JS),
    asset!("room/composer.js", JS),
    asset!("room/dom.js", JS),
    asset!("room/ended.js", JS),
    asset!("room/frames.js", JS),
    asset!("room/history.js", JS),
    asset!("room/jump.js", JS),
    asset!("room/log.js", JS),
    asset!("room/main.js", JS),
    asset!("room/markdown.js", JS),
    asset!("room/mentions.js", JS),
    asset!("room/moderate.js", JS),
    asset!("room/notice.js", JS),
    asset!("room/notify.js", JS),
    asset!("room/outbox.js", JS),
    asset!("room/page.js", JS),
    asset!("room/popups.js", JS),
    asset!("room/presence.js", JS),
    asset!("room/render.js", JS),
    asset!("room/scrollback.js", JS),
    asset!("room/socket.js", JS),
    asset!("room/standing.js", JS),
    asset!("room/sync.js", JS),
    asset!("room/typing.js", JS),
    asset!("room/unread.js", JS),
    asset!("room/values.js", JS),
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

#[cfg(test)]
mod tests {
    use super::ASSETS;

    #[test]
    fn every_room_module_is_served() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/static/room");
        for entry in std::fs::read_dir(dir).unwrap() {
            let file = entry.unwrap().file_name().into_string().unwrap();
            let name = format!("room/{file}");
            assert!(
                ASSETS.iter().any(|(n, _, _)| *n == name),
                "static/{name} is missing from ASSETS"
            );
        }
    }
}
