//! Queries, one module per table, each written once for every backend.

pub mod memberships;
pub mod mentions;
pub mod messages;
pub mod moderation;
pub mod reactions;
pub mod reports;
pub mod rooms;
pub mod rules;
pub mod search;
pub mod sessions;
pub mod staff;
pub mod users;

diesel::define_sql_function! {
    /// `lower(text)`: text filters ignore case on both backends (SQLite's
    /// LIKE does already for ASCII, PostgreSQL's does not).
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

/// `text` with LIKE's wildcards (and its escape character) escaped by `\`;
/// every pattern built from it is used with `.escape('\\')`.
pub(crate) fn like_escaped(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\\' | '%' | '_') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// `%text%` in lower case, for a case-blind "contains" with [`lower`].
pub(crate) fn contains_pattern(text: &str) -> String {
    format!("%{}%", like_escaped(&text.to_lowercase()))
}

/// The current time as stored in the database: UTC without an offset.
pub fn now() -> chrono::NaiveDateTime {
    chrono::Utc::now().naive_utc()
}
