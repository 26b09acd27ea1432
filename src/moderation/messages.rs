//! Actions on messages: delete one (moderators of its room), delete a
//! spammer's recent messages everywhere (staff), and close a report.
//!
//! A deletion is the one the room's own delete path makes
//! ([`messages::delete`]: the text emptied, reactions and mentions gone,
//! the search index following), and each deleted message becomes a
//! `message_deleted` frame for its room on every instance.

use super::acting::{self, Acting, account, require};
use super::audit::Entry;
use super::rooms::count;
use super::{Done, Effect, Limits, ModError, Resolution};
use crate::actors::unread::excerpt;
use crate::db::queries::moderation::{self as rows, RoomRole};
use crate::db::queries::{messages, now};
use crate::db::{DbConnection, DbError};
use crate::domain::{MessageId, Reason, RoomName, Username};
use crate::protocol::ServerFrame;
use chrono::TimeDelta;
use std::collections::BTreeSet;

/// "That message does not exist, or was deleted already."
fn no_message(id: MessageId) -> ModError {
    ModError::NotFound(format!(
        "There is no message {id}: it does not exist, or was deleted already."
    ))
}

/// The frame that removes message `id` from `room`'s open pages.
fn deleted_frame(room: &str, id: MessageId) -> Effect {
    Effect::RoomFrame {
        room: RoomName::from_stored(room.to_owned()),
        frame: ServerFrame::MessageDeleted { id },
    }
}

/// Moderators of its room (and its author): delete a message. The audit
/// entry keeps who wrote it and how it began, for the record.
pub(super) fn delete(
    conn: &mut DbConnection,
    acting: &Acting,
    id: MessageId,
    reason: &Reason,
) -> Result<Done, ModError> {
    let (message, author) = rows::live_message(conn, id)?.ok_or_else(|| no_message(id))?;
    let room = rows::room_by_id(conn, message.room_id)?.ok_or_else(|| no_message(id))?;
    let (room, role) = acting::admit(conn, acting, room)?;
    if acting.id() != Some(message.user_id) {
        require(role, RoomRole::Moderator, "delete others' messages")?;
    }
    match messages::delete(conn, id, now()) {
        Err(DbError::NotFound) => return Err(no_message(id)),
        other => other?,
    }
    Ok(Done::new(
        format!("Deleted message {id} by {author} in #{}.", room.name),
        Entry::new("message.delete", format!("message {id}"))
            .in_room(&room.name)
            .because(reason.as_str())
            .detail(format!("by {author}: {}", excerpt(&message.content))),
    )
    .effect(deleted_frame(&room.name, id)))
}

/// Staff: every message `user` posted in the last `hours` in every room
/// (not in direct conversations, which moderation does not reach).
pub(super) fn bulk_delete(
    conn: &mut DbConnection,
    acting: &Acting,
    user: &Username,
    hours: u32,
    reason: &Reason,
    limits: &Limits,
) -> Result<Done, ModError> {
    acting.require_staff("delete messages in bulk")?;
    let max = limits.bulk_delete_max_hours;
    if hours == 0 || hours > max {
        return Err(ModError::Invalid(format!(
            "A bulk delete reaches back between 1 and {max} hours; {hours} is outside that."
        )));
    }
    let target = account(conn, user)?;
    let at = now();
    let since = at - TimeDelta::hours(i64::from(hours));
    let found = rows::live_messages_since(conn, target.id, since)?;
    let mut done = Vec::with_capacity(found.len());
    for (id, room) in found {
        match messages::delete(conn, id, at) {
            // Gone meanwhile: nothing to do.
            Err(DbError::NotFound) => {}
            other => {
                other?;
                done.push((id, room));
            }
        }
    }
    let rooms: BTreeSet<&str> = done.iter().map(|(_, room)| room.as_str()).collect();
    let period = count(hours as usize, "hour");
    let deleted = format!(
        "{} in {}",
        count(done.len(), "message"),
        count(rooms.len(), "room")
    );
    let message = if done.is_empty() {
        format!("{user} posted nothing in the last {period}; nothing was deleted.")
    } else {
        format!("Deleted {deleted}: what {user} posted in the last {period}.")
    };
    let entry = Entry::new("message.bulk_delete", user.as_str())
        .because(reason.as_str())
        .detail(format!("{deleted}, last {period}"));
    let effects = done
        .iter()
        .map(|(id, room)| deleted_frame(room, *id))
        .collect();
    Ok(Done {
        message,
        effects,
        entry,
    })
}

/// Moderators of its room: close a report, saying what was done (the
/// deletion, mute or ban itself is its own action). Every open report of
/// the same message closes with it.
pub(super) fn resolve_report(
    conn: &mut DbConnection,
    acting: &Acting,
    id: i32,
    resolution: Resolution,
) -> Result<Done, ModError> {
    let not_found = || ModError::NotFound(format!("There is no report {id}."));
    let report = rows::report(conn, id)?.ok_or_else(not_found)?;
    let room = rows::room_by_id(conn, report.room_id)?.ok_or_else(not_found)?;
    let (room, role) = acting::admit(conn, acting, room)?;
    require(role, RoomRole::Moderator, "handle reports")?;
    if let Some(how) = &report.resolution {
        return Err(ModError::Conflict(format!(
            "Report {id} was handled already ({how})."
        )));
    }
    let closed = rows::resolve_reports_of(
        conn,
        report.message_id,
        acting.id(),
        resolution.as_str(),
        now(),
    )?;
    let what = match resolution {
        Resolution::Deleted => "the message was deleted",
        Resolution::Muted => "its author was muted",
        Resolution::Banned => "its author was banned",
        Resolution::Dismissed => "dismissed",
    };
    let others = match closed.saturating_sub(1) {
        0 => String::new(),
        n => format!(
            " ({} of the same message closed with it)",
            count(n, "other report")
        ),
    };
    Ok(Done::new(
        format!("Report {id} is closed: {what}{others}."),
        Entry::new("report.resolve", format!("report {id}"))
            .in_room(&room.name)
            .detail(format!(
                "{}, message {}, {}",
                resolution.as_str(),
                report.message_id,
                count(closed, "report")
            )),
    ))
}
