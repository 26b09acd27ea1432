//! Row structs: what a table row looks like in Rust. Queries live apart, in
//! `queries/`; conversion to domain types happens where rows are used, or
//! here as a `From` impl when several places need the same one.

use super::schema::{memberships, mentions, messages, reactions, rooms, sessions, users};
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
}

/// The room as the handlers and actors see it; only parsed names are stored.
impl From<Room> for RoomInfo {
    fn from(row: Room) -> Self {
        RoomInfo {
            id: row.id,
            name: RoomName::from_stored(row.name),
            admin_only: row.admin_only,
            direct: row.direct_a.zip(row.direct_b),
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
