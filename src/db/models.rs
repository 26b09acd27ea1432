//! Row structs: what a table row looks like in Rust. Queries live apart, in
//! `queries/`; conversion to domain types happens where rows are used, or
//! here as a `From` impl when several places need the same one.

use super::schema::{
    audit_log, memberships, mentions, messages, reactions, reports, room_aliases, room_moderators,
    rooms, sanctions, sessions, users,
};
use crate::domain::{LoginId, MessageId, RoomId, RoomInfo, RoomName, UserId};
use chrono::NaiveDateTime;
use diesel::prelude::*;

/// A row of `users`.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = users)]
pub struct User {
    /// Primary key.
    pub id: UserId,
    /// Unique login name.
    pub username: String,
    /// Argon2 PHC string.
    pub password_hash: String,
    /// Staff may enter admin-only rooms and moderate.
    pub is_staff: bool,
    /// When the account was made (UTC).
    pub created_at: NaiveDateTime,
    /// The name in lower case (unique); `None` only for an old account
    /// whose name differs only in case from an older one's.
    pub username_folded: Option<String>,
    /// The name's look-alike skeleton (unique); `None` as above.
    pub username_skeleton: Option<String>,
    /// When staff deactivated the account (it cannot log in); `None`:
    /// active.
    pub deactivated_at: Option<NaiveDateTime>,
    /// Staff set the password: the user must choose a new one at the next
    /// login before anything else.
    pub must_change_password: bool,
}

/// A new row of `users`.
#[derive(Debug, Insertable)]
#[diesel(table_name = users)]
pub struct NewUser<'a> {
    /// Unique login name.
    pub username: &'a str,
    /// [`Username::folded`](crate::domain::Username::folded): unique, so
    /// no two accounts differ only in case.
    pub username_folded: &'a str,
    /// [`Username::skeleton`](crate::domain::Username::skeleton): unique,
    /// so no two accounts look alike.
    pub username_skeleton: &'a str,
    /// Argon2 PHC string.
    pub password_hash: &'a str,
    /// Staff flag.
    pub is_staff: bool,
    /// Creation time (UTC).
    pub created_at: NaiveDateTime,
}

/// A row of `rooms`.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = rooms)]
pub struct Room {
    /// Primary key.
    pub id: RoomId,
    /// Unique room name.
    pub name: String,
    /// Only staff may join.
    pub admin_only: bool,
    /// Creation time (UTC).
    pub created_at: NaiveDateTime,
    /// The user whose visit created it; `None` for rooms made by
    /// `confab room create` or before creators were recorded.
    pub created_by: Option<UserId>,
    /// For a direct conversation, the participant with the lower id.
    pub direct_a: Option<UserId>,
    /// For a direct conversation, the other participant (the same as
    /// `direct_a` for notes to self).
    pub direct_b: Option<UserId>,
    /// Read-only: only staff and the room's moderators may post, edit or
    /// react.
    pub locked: bool,
    /// Private: only its members (invited) may enter; others get 404.
    pub invite_only: bool,
    /// At most one post per this many seconds per user; 0: off.
    pub slow_mode_secs: i32,
    /// When it was archived (hidden from the selector, read-only); `None`:
    /// live.
    pub archived_at: Option<NaiveDateTime>,
}

/// The room as the handlers and actors see it; only parsed names are stored.
impl From<Room> for RoomInfo {
    fn from(row: Room) -> Self {
        RoomInfo {
            id: row.id,
            name: RoomName::from_stored(row.name),
            admin_only: row.admin_only,
            direct: row.direct_a.zip(row.direct_b),
            invite_only: row.invite_only,
            archived: row.archived_at.is_some(),
        }
    }
}

/// A new row of `rooms`.
#[derive(Debug, Insertable)]
#[diesel(table_name = rooms)]
pub struct NewRoom<'a> {
    /// Unique room name.
    pub name: &'a str,
    /// Only staff may join.
    pub admin_only: bool,
    /// Creation time (UTC).
    pub created_at: NaiveDateTime,
    /// Who created it, when a user did (counted by the hourly quota).
    pub created_by: Option<UserId>,
    /// For a direct conversation, the participant with the lower id.
    pub direct_a: Option<UserId>,
    /// For a direct conversation, the other participant.
    pub direct_b: Option<UserId>,
}

/// A row of `messages`.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = messages)]
pub struct Message {
    /// Primary key; increases with each message.
    pub id: MessageId,
    /// The room it was posted in.
    pub room_id: RoomId,
    /// Its author.
    pub user_id: UserId,
    /// The text.
    pub content: String,
    /// When it was posted (UTC).
    pub created_at: NaiveDateTime,
    /// When it was last edited (UTC), if ever.
    pub edited_at: Option<NaiveDateTime>,
    /// When it was deleted (UTC); its content is then empty.
    pub deleted_at: Option<NaiveDateTime>,
    /// The author's name for the post (the protocol's `client_id`), unique
    /// per author, if the client gave one.
    pub client_id: Option<String>,
    /// The message this one replies to, if any.
    pub reply_to: Option<MessageId>,
}

/// A new row of `messages`.
#[derive(Debug, Insertable)]
#[diesel(table_name = messages)]
pub struct NewMessage<'a> {
    /// The room.
    pub room_id: RoomId,
    /// The author.
    pub user_id: UserId,
    /// The text.
    pub content: &'a str,
    /// When it was posted (UTC).
    pub created_at: NaiveDateTime,
    /// The author's name for the post, if the client gave one.
    pub client_id: Option<&'a str>,
    /// The message (of the same room) it replies to, if any.
    pub reply_to: Option<MessageId>,
}

/// A new row of `reactions`: one user's emoji on one message.
#[derive(Debug, Insertable)]
#[diesel(table_name = reactions)]
pub struct NewReaction<'a> {
    /// The message reacted to.
    pub message_id: MessageId,
    /// Who reacted.
    pub user_id: UserId,
    /// A single emoji.
    pub emoji: &'a str,
    /// When (UTC).
    pub created_at: NaiveDateTime,
}

/// A row of `sessions`: one signed-in browser.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = sessions)]
pub struct Login {
    /// Primary key.
    pub id: LoginId,
    /// SHA-256 of the secret in the cookie (hex).
    pub key_hash: String,
    /// Whose session it is.
    pub user_id: UserId,
    /// When the user logged in (UTC).
    pub created_at: NaiveDateTime,
    /// When it was last used, as last written (UTC).
    pub last_seen_at: NaiveDateTime,
}

/// A new row of `sessions`.
#[derive(Debug, Insertable)]
#[diesel(table_name = sessions)]
pub struct NewLogin<'a> {
    /// SHA-256 of the secret in the cookie (hex).
    pub key_hash: &'a str,
    /// Whose session it is.
    pub user_id: UserId,
    /// When (UTC).
    pub created_at: NaiveDateTime,
    /// The same, as its first use.
    pub last_seen_at: NaiveDateTime,
}

/// A row of `memberships`: a user is in a room (it is one of "my rooms"),
/// and has read it up to `last_read_id`.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = memberships)]
pub struct Membership {
    /// The member.
    pub user_id: UserId,
    /// The room (or direct conversation).
    pub room_id: RoomId,
    /// The newest message read there; 0 for none.
    pub last_read_id: MessageId,
    /// When the user joined (UTC).
    pub joined_at: NaiveDateTime,
}

/// A row of `mentions`: `message_id` mentions `user_id`.
#[derive(Debug, Clone, Copy, Queryable, Selectable, Insertable)]
#[diesel(table_name = mentions)]
pub struct Mention {
    /// The message.
    pub message_id: MessageId,
    /// The user it mentions.
    pub user_id: UserId,
}

/// A row of `room_moderators`: a user appointed to moderate a room.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = room_moderators)]
pub struct RoomModerator {
    /// The room.
    pub room_id: RoomId,
    /// The moderator.
    pub user_id: UserId,
    /// When they were appointed (UTC).
    pub appointed_at: NaiveDateTime,
}

/// A row of `sanctions`: a mute or a ban of one user in one room.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = sanctions)]
pub struct Sanction {
    /// Primary key.
    pub id: i32,
    /// The room.
    pub room_id: RoomId,
    /// The user sanctioned.
    pub user_id: UserId,
    /// `"mute"` or `"ban"`.
    pub kind: String,
    /// Why, as the user is shown it (may be empty).
    pub reason: String,
    /// Who imposed it; `None`: the command line.
    pub created_by: Option<UserId>,
    /// When (UTC).
    pub created_at: NaiveDateTime,
    /// When it ends by itself; `None`: when lifted.
    pub expires_at: Option<NaiveDateTime>,
    /// When it was lifted; `None`: not (yet).
    pub lifted_at: Option<NaiveDateTime>,
}

/// A new row of `sanctions`.
#[derive(Debug, Insertable)]
#[diesel(table_name = sanctions)]
pub struct NewSanction<'a> {
    /// The room.
    pub room_id: RoomId,
    /// The user sanctioned.
    pub user_id: UserId,
    /// `"mute"` or `"ban"`.
    pub kind: &'a str,
    /// Why.
    pub reason: &'a str,
    /// Who; `None`: the command line.
    pub created_by: Option<UserId>,
    /// When (UTC).
    pub created_at: NaiveDateTime,
    /// When it ends by itself; `None`: when lifted.
    pub expires_at: Option<NaiveDateTime>,
}

/// A row of `reports`: a user flagged a message.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = reports)]
pub struct Report {
    /// Primary key.
    pub id: i32,
    /// The message reported.
    pub message_id: MessageId,
    /// Its room.
    pub room_id: RoomId,
    /// Who reported it.
    pub reporter_id: UserId,
    /// Why, in the reporter's words.
    pub reason: String,
    /// When (UTC).
    pub created_at: NaiveDateTime,
    /// When staff or a moderator handled it; `None`: open.
    pub resolved_at: Option<NaiveDateTime>,
    /// Who handled it; `None` while open, or the command line.
    pub resolved_by: Option<UserId>,
    /// What they did (`deleted`, `muted`, `banned`, `dismissed`).
    pub resolution: Option<String>,
}

/// A new row of `reports`.
#[derive(Debug, Insertable)]
#[diesel(table_name = reports)]
pub struct NewReport<'a> {
    /// The message reported.
    pub message_id: MessageId,
    /// Its room.
    pub room_id: RoomId,
    /// Who reports it.
    pub reporter_id: UserId,
    /// Why.
    pub reason: &'a str,
    /// When (UTC).
    pub created_at: NaiveDateTime,
}

/// A row of `room_aliases`: an old name of a renamed room.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = room_aliases)]
pub struct RoomAlias {
    /// The old name.
    pub name: String,
    /// The room it now names.
    pub room_id: RoomId,
    /// When the room was renamed (UTC).
    pub created_at: NaiveDateTime,
}

/// A row of `audit_log`: one moderation or console action.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = audit_log)]
pub struct AuditEntry {
    /// Primary key; increases with each entry.
    pub id: i32,
    /// When (UTC).
    pub at: NaiveDateTime,
    /// Who: a username, or `cli`.
    pub actor: String,
    /// What, as a stable word (`room.lock`, `user.deactivate`, …).
    pub action: String,
    /// Whom or what: a username, a room name, `message 42`.
    pub target: String,
    /// The room it happened in, when there is one.
    pub room: Option<String>,
    /// Why, as the actor gave it (may be empty).
    pub reason: String,
    /// More: a duration, what a deletion removed (may be empty).
    pub detail: String,
}

/// A new row of `audit_log`.
#[derive(Debug, Insertable)]
#[diesel(table_name = audit_log)]
pub struct NewAuditEntry<'a> {
    /// When (UTC).
    pub at: NaiveDateTime,
    /// Who.
    pub actor: &'a str,
    /// What.
    pub action: &'a str,
    /// Whom or what.
    pub target: &'a str,
    /// In which room.
    pub room: Option<&'a str>,
    /// Why.
    pub reason: &'a str,
    /// More.
    pub detail: &'a str,
}
