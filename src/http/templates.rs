//! Page templates, compiled into the binary and parsed once at start-up.
//!
//! Embedding them keeps confab one self-contained file: it runs from any
//! directory and the container image needs nothing beside it.

use super::AppError;
use crate::domain::Identity;
use serde::Serialize;
use tera::Tera;

/// Every template, by the name pages render it with.
const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../../templates/base.html")),
    ("error.html", include_str!("../../templates/error.html")),
    (
        "chat/index.html",
        include_str!("../../templates/chat/index.html"),
    ),
    (
        "chat/room.html",
        include_str!("../../templates/chat/room.html"),
    ),
    (
        "chat/settings.html",
        include_str!("../../templates/chat/settings.html"),
    ),
    ("search.html", include_str!("../../templates/search.html")),
    (
        "mentions.html",
        include_str!("../../templates/mentions.html"),
    ),
    (
        "staff/pager.html",
        include_str!("../../templates/staff/pager.html"),
    ),
    (
        "staff/layout.html",
        include_str!("../../templates/staff/layout.html"),
    ),
    (
        "staff/overview.html",
        include_str!("../../templates/staff/overview.html"),
    ),
    (
        "staff/rooms.html",
        include_str!("../../templates/staff/rooms.html"),
    ),
    (
        "staff/room.html",
        include_str!("../../templates/staff/room.html"),
    ),
    (
        "staff/room_delete.html",
        include_str!("../../templates/staff/room_delete.html"),
    ),
    (
        "staff/users.html",
        include_str!("../../templates/staff/users.html"),
    ),
    (
        "staff/user.html",
        include_str!("../../templates/staff/user.html"),
    ),
    (
        "staff/messages.html",
        include_str!("../../templates/staff/messages.html"),
    ),
    (
        "staff/bulk_delete.html",
        include_str!("../../templates/staff/bulk_delete.html"),
    ),
    (
        "staff/reports.html",
        include_str!("../../templates/staff/reports.html"),
    ),
    (
        "staff/audit.html",
        include_str!("../../templates/staff/audit.html"),
    ),
    (
        "accounts/login.html",
        include_str!("../../templates/accounts/login.html"),
    ),
    (
        "accounts/signup.html",
        include_str!("../../templates/accounts/signup.html"),
    ),
    (
        "accounts/logout.html",
        include_str!("../../templates/accounts/logout.html"),
    ),
    (
        "accounts/password.html",
        include_str!("../../templates/accounts/password.html"),
    ),
];

/// The parsed templates, shared by all workers.
pub struct Templates(Tera);

/// The signed-in user as templates see it.
#[derive(Serialize)]
struct UserContext<'a> {
    username: &'a str,
    is_staff: bool,
}

impl Templates {
    /// Parses every template; an error here is a bug in a template.
    pub fn load() -> Result<Self, tera::Error> {
        let mut tera = Tera::default();
        tera.add_raw_templates(TEMPLATES.iter().copied())?;
        Ok(Templates(tera))
    }

    /// Renders `name` with `ctx`.
    pub fn render(&self, name: &str, ctx: &tera::Context) -> Result<String, AppError> {
        Ok(self.0.render(name, ctx)?)
    }

    /// The context every page starts from: its title, who is signed in and
    /// the CSRF token for its forms.
    pub fn context(title: &str, user: Option<&Identity>, csrf_token: &str) -> tera::Context {
        let mut ctx = tera::Context::new();
        ctx.insert("title", title);
        ctx.insert("csrf_token", csrf_token);
        if let Some(user) = user {
            ctx.insert(
                "user",
                &UserContext {
                    username: user.username.as_str(),
                    is_staff: user.is_staff,
                },
            );
        }
        ctx
    }
}
