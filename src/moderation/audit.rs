//! The audit log: one row per moderation or console action, written by
//! [`apply`](super::apply) in the action's own transaction (so there is
//! no action without its entry, nor an entry without its action), and by
//! [`record`] for what users do that moderators must see (`report.file`).
//!
//! Entries name people and rooms by name, as they were called then, and
//! nothing edits or deletes them. [`audit_entries`] lists them, newest
//! first, for the staff console and `confab audit`.

use super::Actor;
use crate::db::models::{AuditEntry, NewAuditEntry};
use crate::db::queries::moderation::{audit_page, insert_audit};
use crate::db::{DbConnection, DbError};

pub use crate::db::queries::moderation::AuditFilter;

/// What an action writes into the audit log, beside who did it and when.
#[derive(Debug, Clone, Default)]
pub(super) struct Entry {
    /// A stable word: `room.lock`, `user.mute`, …
    pub(super) action: &'static str,
    /// Whom or what: a username, a room name, `message 42`, `report 7`.
    pub(super) target: String,
    /// The room it happened in, if any.
    pub(super) room: Option<String>,
    /// Why, as the actor gave it.
    pub(super) reason: String,
    /// More: a duration, what a deletion removed.
    pub(super) detail: String,
}

impl Entry {
    /// An entry for `action` on `target`.
    pub(super) fn new(action: &'static str, target: impl Into<String>) -> Entry {
        Entry {
            action,
            target: target.into(),
            ..Entry::default()
        }
    }

    /// In room `room`.
    pub(super) fn in_room(mut self, room: &str) -> Entry {
        self.room = Some(room.to_owned());
        self
    }

    /// Because of `reason`.
    pub(super) fn because(mut self, reason: &str) -> Entry {
        self.reason = reason.to_owned();
        self
    }

    /// With `detail`.
    pub(super) fn detail(mut self, detail: impl Into<String>) -> Entry {
        self.detail = detail.into();
        self
    }

    /// Writes the entry as done by `actor` (a username or `cli`) now.
    pub(super) fn write(&self, conn: &mut DbConnection, actor: &str) -> Result<(), DbError> {
        insert_audit(
            conn,
            &NewAuditEntry {
                at: crate::db::queries::now(),
                actor,
                action: self.action,
                target: &self.target,
                room: self.room.as_deref(),
                reason: &self.reason,
                detail: &self.detail,
            },
        )
    }
}

/// The audit log's name for `actor`: their username, or `cli`.
pub fn actor_name(actor: &Actor) -> &str {
    match actor {
        Actor::User(who) => who.username.as_str(),
        Actor::Cli => "cli",
    }
}

/// Appends an entry done by `actor` now, for what does not go through
/// [`apply`](super::apply) (a user filing a report: `report.file`). Run it
/// in the same transaction as the change it records.
pub fn record(
    conn: &mut DbConnection,
    actor: &Actor,
    action: &str,
    target: &str,
    room: Option<&str>,
    reason: &str,
    detail: &str,
) -> Result<(), DbError> {
    insert_audit(
        conn,
        &NewAuditEntry {
            at: crate::db::queries::now(),
            actor: actor_name(actor),
            action,
            target,
            room,
            reason,
            detail,
        },
    )
}

/// Up to `limit` entries that `filter` lets through, newest first, older
/// than entry `before` when given (the next page).
pub fn audit_entries(
    conn: &mut DbConnection,
    filter: &AuditFilter,
    before: Option<i32>,
    limit: i64,
) -> Result<Vec<AuditEntry>, DbError> {
    audit_page(conn, filter, before, limit)
}
