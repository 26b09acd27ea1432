//! Actions on rooms: create, rename, access, lock, slow mode, archive,
//! delete, and who is in a private room and who moderates it.
//!
//! Each checks who may, changes the rows and says what it did; the
//! caller ([`apply`](super::apply)) writes the audit entry and commits.

use super::acting::{self, Acting, account, may_act_on, require};
use super::audit::Entry;
use super::{Access, Done, Effect, Limits, ModError};
use crate::db::queries::moderation::{self as rows, RoomRole};
use crate::db::queries::{memberships, now, rooms};
use crate::db::{DbConnection, DbError};
use crate::domain::{RoomName, Username};

/// The `(admin_only, invite_only)` flags of `access`.
fn flags(access: Access) -> (bool, bool) {
    match access {
        Access::Public => (false, false),
        Access::AdminOnly => (true, false),
        Access::InviteOnly => (false, true),
    }
}

/// `access` in the audit log's words.
fn access_word(access: Access) -> &'static str {
    match access {
        Access::Public => "public",
        Access::AdminOnly => "admin-only",
        Access::InviteOnly => "invite-only",
    }
}

/// What `access` means for a room, ending a sentence about it.
fn access_words(access: Access) -> &'static str {
    match access {
        Access::Public => "open to everyone",
        Access::AdminOnly => "admin-only: only staff may enter it",
        Access::InviteOnly => "private: only its members may enter it",
    }
}

/// "A room called #name already exists."
fn taken(name: &RoomName) -> ModError {
    ModError::Conflict(format!("A room called #{name} already exists."))
}

/// Staff: a new room.
pub(super) fn create(
    conn: &mut DbConnection,
    acting: &Acting,
    name: &RoomName,
    access: Access,
) -> Result<Done, ModError> {
    acting.require_staff("create rooms")?;
    // Looked up first: on PostgreSQL a failed insert would spoil the
    // surrounding transaction (the writer's batch).
    if rooms::by_name(conn, name.as_str())?.is_some() {
        return Err(taken(name));
    }
    let (admin_only, invite_only) = flags(access);
    match rows::create_room(conn, name.as_str(), admin_only, invite_only, acting.id()) {
        Err(DbError::Conflict) => return Err(taken(name)),
        other => other?,
    };
    let kind = match access {
        Access::Public => "room",
        Access::AdminOnly => "admin-only room",
        Access::InviteOnly => "private room",
    };
    // Nobody is in it yet: open connections have nothing to re-read.
    Ok(Done::new(
        format!("Created the {kind} #{name}."),
        Entry::new("room.create", name.as_str()).detail(access_word(access)),
    ))
}

/// Staff: a new name; the old one redirects.
pub(super) fn rename(
    conn: &mut DbConnection,
    acting: &Acting,
    name: &RoomName,
    to: &RoomName,
) -> Result<Done, ModError> {
    let (room, _) = acting::room(conn, acting, name)?;
    acting.require_staff("rename rooms")?;
    if name == to {
        return Err(ModError::Invalid(format!(
            "#{name} is called that already."
        )));
    }
    if rooms::by_name(conn, to.as_str())?.is_some() {
        return Err(taken(to));
    }
    match rows::rename_room(conn, room.id, name.as_str(), to.as_str()) {
        Err(DbError::Conflict) => return Err(taken(to)),
        other => other?,
    };
    Ok(Done::new(
        format!("Renamed #{name} to #{to}; links to #{name} lead to #{to}."),
        Entry::new("room.rename", name.as_str())
            .in_room(to.as_str())
            .detail(format!("{name} → {to}")),
    )
    .effect(Effect::Recheck))
}

/// Staff: any access; the owner: public or invite-only (not an admin-only
/// room's). Making a room private makes its owner and moderators members,
/// so that they keep it.
pub(super) fn set_access(
    conn: &mut DbConnection,
    acting: &Acting,
    name: &RoomName,
    access: Access,
) -> Result<Done, ModError> {
    let (room, role) = acting::room(conn, acting, name)?;
    match access {
        Access::AdminOnly => require(role, RoomRole::Staff, "make a room admin-only")?,
        _ if room.admin_only => require(role, RoomRole::Staff, "open an admin-only room")?,
        _ => require(role, RoomRole::Owner, "make a room private or public")?,
    }
    let (admin_only, invite_only) = flags(access);
    rows::set_access(conn, room.id, admin_only, invite_only)?;
    if invite_only {
        let mut keepers = rows::moderators_of(conn, room.id)?;
        keepers.extend(room.created_by);
        for user in keepers {
            memberships::join(conn, user, room.id, now())?;
        }
    }
    Ok(Done::new(
        format!("#{name} is now {}.", access_words(access)),
        Entry::new("room.access", name.as_str())
            .in_room(name.as_str())
            .detail(access_word(access)),
    )
    .effect(Effect::Recheck))
}

/// Moderators: read-only for all but moderators and staff, or writable
/// again.
pub(super) fn lock(
    conn: &mut DbConnection,
    acting: &Acting,
    name: &RoomName,
    locked: bool,
) -> Result<Done, ModError> {
    let (room, role) = acting::room(conn, acting, name)?;
    let (what, action, message) = if locked {
        (
            "lock a room",
            "room.lock",
            format!("#{name} is now read-only: only its moderators and staff may post."),
        )
    } else {
        (
            "unlock a room",
            "room.unlock",
            format!("#{name} is open for posts again."),
        )
    };
    require(role, RoomRole::Moderator, what)?;
    rows::set_locked(conn, room.id, locked)?;
    Ok(Done::new(
        message,
        Entry::new(action, name.as_str()).in_room(name.as_str()),
    )
    .effect(Effect::Recheck))
}

/// Moderators: one post per `secs` per user (0: off), within the limit.
pub(super) fn slow_mode(
    conn: &mut DbConnection,
    acting: &Acting,
    name: &RoomName,
    secs: u32,
    limits: &Limits,
) -> Result<Done, ModError> {
    let (room, role) = acting::room(conn, acting, name)?;
    require(role, RoomRole::Moderator, "set slow mode")?;
    let max = limits.slow_mode_max_secs;
    let stored = i32::try_from(secs)
        .ok()
        .filter(|_| secs <= max)
        .ok_or_else(|| {
            ModError::Invalid(format!(
                "Slow mode may ask for at most {max} seconds between posts; {secs} is too many."
            ))
        })?;
    rows::set_slow_mode(conn, room.id, stored)?;
    let (message, detail) = if secs == 0 {
        (format!("Slow mode is off in #{name}."), "off".to_owned())
    } else {
        (
            format!(
                "#{name} is in slow mode: one post per {} per person (moderators are exempt).",
                seconds_in_words(secs)
            ),
            seconds_in_words(secs),
        )
    };
    Ok(Done::new(
        message,
        Entry::new("room.slow_mode", name.as_str())
            .in_room(name.as_str())
            .detail(detail),
    )
    .effect(Effect::Recheck))
}

/// "1 second", "30 seconds".
fn seconds_in_words(secs: u32) -> String {
    format!("{secs} second{}", if secs == 1 { "" } else { "s" })
}

/// Staff: hidden from the selector and read-only, or back.
pub(super) fn archive(
    conn: &mut DbConnection,
    acting: &Acting,
    name: &RoomName,
    archived: bool,
) -> Result<Done, ModError> {
    let (room, _) = acting::room(conn, acting, name)?;
    let (what, action, at, message) = if archived {
        (
            "archive rooms",
            "room.archive",
            Some(room.archived_at.unwrap_or_else(now)),
            format!(
                "#{name} is archived: hidden from the room list and read-only, its history kept."
            ),
        )
    } else {
        (
            "unarchive rooms",
            "room.unarchive",
            None,
            format!("#{name} is back in the room list, open for posts."),
        )
    };
    acting.require_staff(what)?;
    rows::set_archived(conn, room.id, at)?;
    Ok(Done::new(
        message,
        Entry::new(action, name.as_str()).in_room(name.as_str()),
    )
    .effect(Effect::Recheck))
}

/// "1 message", "3 messages".
pub(super) fn count(n: usize, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

/// Staff: the room and everything in it, for good.
pub(super) fn delete(
    conn: &mut DbConnection,
    acting: &Acting,
    name: &RoomName,
) -> Result<Done, ModError> {
    let (room, _) = acting::room(conn, acting, name)?;
    acting.require_staff("delete rooms")?;
    let gone = rows::delete_room(conn, room.id)?;
    let removed = format!(
        "{}, {}, {}",
        count(gone.messages, "message"),
        count(gone.reactions, "reaction"),
        count(gone.members, "member")
    );
    Ok(Done::new(
        format!("Deleted #{name}: {removed}."),
        Entry::new("room.delete", name.as_str())
            .in_room(name.as_str())
            .detail(removed),
    )
    .effect(Effect::Recheck))
}

/// Moderators: make `user` a member (the way into a private room).
pub(super) fn invite(
    conn: &mut DbConnection,
    acting: &Acting,
    name: &RoomName,
    user: &Username,
) -> Result<Done, ModError> {
    let (room, role) = acting::room(conn, acting, name)?;
    require(role, RoomRole::Moderator, "invite people")?;
    let target = account(conn, user)?;
    let message = if memberships::is_member(conn, target.id, room.id)? {
        format!("{user} was a member of #{name} already.")
    } else {
        memberships::join(conn, target.id, room.id, now())?;
        format!("{user} is now a member of #{name}.")
    };
    Ok(Done::new(
        message,
        Entry::new("room.invite", user.as_str()).in_room(name.as_str()),
    )
    .effect(Effect::Recheck))
}

/// Moderators: end `user`'s membership (out of a private room).
pub(super) fn uninvite(
    conn: &mut DbConnection,
    acting: &Acting,
    name: &RoomName,
    user: &Username,
) -> Result<Done, ModError> {
    let (room, role) = acting::room(conn, acting, name)?;
    require(role, RoomRole::Moderator, "remove members")?;
    let target = account(conn, user)?;
    may_act_on(conn, acting, role, &room, &target, "remove")?;
    if !memberships::leave(conn, target.id, room.id)? {
        return Err(ModError::Invalid(format!(
            "{user} is not a member of #{name}."
        )));
    }
    Ok(Done::new(
        format!("{user} is no longer a member of #{name}."),
        Entry::new("room.uninvite", user.as_str()).in_room(name.as_str()),
    )
    .effect(Effect::Recheck))
}

/// The owner and staff: appoint or remove a moderator. A moderator of a
/// private room is made a member of it.
pub(super) fn moderator(
    conn: &mut DbConnection,
    acting: &Acting,
    name: &RoomName,
    user: &Username,
    appoint: bool,
) -> Result<Done, ModError> {
    let (room, role) = acting::room(conn, acting, name)?;
    let what = if appoint {
        "appoint moderators"
    } else {
        "remove moderators"
    };
    require(role, RoomRole::Owner, what)?;
    let target = account(conn, user)?;
    if room.created_by == Some(target.id) {
        return Err(ModError::Invalid(format!(
            "{user} owns #{name}: an owner moderates it already."
        )));
    }
    let (action, message) = if appoint {
        if room.invite_only {
            memberships::join(conn, target.id, room.id, now())?;
        }
        let message = if rows::add_moderator(conn, room.id, target.id)? {
            format!("{user} now moderates #{name}.")
        } else {
            format!("{user} moderated #{name} already.")
        };
        ("room.moderator_add", message)
    } else {
        if !rows::remove_moderator(conn, room.id, target.id)? {
            return Err(ModError::Invalid(format!(
                "{user} is not a moderator of #{name}."
            )));
        }
        (
            "room.moderator_remove",
            format!("{user} no longer moderates #{name}."),
        )
    };
    Ok(Done::new(
        message,
        Entry::new(action, user.as_str()).in_room(name.as_str()),
    )
    .effect(Effect::Recheck))
}
