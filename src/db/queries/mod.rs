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

/// The current time as stored in the database: UTC without an offset.
pub fn now() -> chrono::NaiveDateTime {
    chrono::Utc::now().naive_utc()
}
