//! The HTTP side: pages, my rooms (join, leave, the sidebar), search, mentions,
//! in-room moderation (actions, reports, a room's settings page), the
//! staff console, accounts, the WebSocket handshake, health checks
//! and static assets, one module per group of routes.
//!
//! Handlers get their shared state (database, registry, templates, settings)
//! through `web::Data`, built once in [`startup`](crate::startup). Errors are
//! [`AppError`]s, turned into HTML pages in exactly one place
//! ([`error::render_error_page`]).

pub mod accounts;
pub mod assets;
pub mod auth;
pub mod client;
pub mod cookie_key;
pub mod direct;
pub mod error;
pub mod hardening;
pub mod health;
pub mod mentions;
pub mod moderate;
pub mod my_rooms;
pub mod pages;
pub mod search;
pub mod staff;
pub mod templates;
pub mod throttle;
pub mod ws;

pub use error::AppError;
pub use templates::Templates;

use actix_web::web;

/// Registers every route.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.configure(pages::routes)
        .configure(mentions::routes)
        .configure(moderate::routes)
        .configure(search::routes)
        .configure(my_rooms::routes)
        .configure(staff::routes)
        .configure(accounts::routes)
        .configure(ws::routes)
        .configure(health::routes)
        .configure(assets::routes);
}
