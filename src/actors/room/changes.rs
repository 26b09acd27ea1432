//! What changes the room's log: [`Post`], [`Edit`], [`Delete`], [`React`].
//!
//! A post that carries a `client_id` is stored once per author and
//! `client_id`: a repeat (a client sending it again after a lost connection
//! or a refusal) stores nothing and is answered to its socket alone with
//! the message stored the first time ([`Posted::Repeat`]); the first time,
//! the sending socket's echo carries the `client_id` (`echoes.rs`).
//!
//! Each is one write for the database's writer, queued in the order the
//! room got it and published in that order once durably stored (see
//! `pending.rs`), so ids, the log and the broadcast agree. Each write
//! checks its rules and writes in one closure, inside its batch's
//! transaction: rights that can be lost are read from the database at each
//! change (whether the room is admin-only now, and then whether the user is
//! still staff; for deleting another's message, whether they are staff
//! now), so a user demoted while connected, or a room made admin-only by
//! `confab room set`, takes effect at once.
//!
//! The three changes to an existing message share their steps, written
//! once in [`Room::change_message`]: the user must still be admitted, the
//! message must be live in this room, the change must be allowed, and a
//! message that vanished meanwhile is reported as not found rather than as
//! a database failure.

use super::{Room, RoomError, view_of};
use crate::actors::bus::Activity;
use crate::actors::delivery::SessionId;
use crate::actors::unread::excerpt;
use crate::db::models::Message;
use crate::db::queries::messages::{MessageWithAuthor, Stored};
use crate::db::queries::reactions::{self, Toggled};
use crate::db::queries::{memberships, messages, rooms, users};
use crate::db::{DbConnection, DbError};
use crate::domain::{ClientId, Emoji, Identity, MessageId, MessageText, RoomId, Username};
use crate::metrics::METRICS;
use crate::protocol::{MessageView, ServerFrame, encode};
use actix::prelude::*;
use chrono::{NaiveDateTime, Utc};

/// `who` with their staff rights as they are now.
fn as_of_now(conn: &mut DbConnection, who: &Identity) -> Result<Identity, RoomError> {
    let is_staff = users::is_staff(conn, who.id)?;
    Ok(Identity {
        is_staff,
        ..who.clone()
    })
}

/// Checks that `who` may still act in (or read) the room: always in an
/// open room; in an admin-only one only while staff. Both are read now,
/// not taken from when the room or the socket started.
pub(super) fn still_admitted(
    conn: &mut DbConnection,
    room: RoomId,
    who: &Identity,
) -> Result<Identity, RoomError> {
    if !rooms::is_admin_only(conn, room)? {
        return Ok(who.clone());
    }
    let now = as_of_now(conn, who)?;
    if now.is_staff {
        Ok(now)
    } else {
        Err(RoomError::NotAdmitted)
    }
}

impl Room {
    /// The write that changes the live message `id` for `who`, in the
    /// order every such change takes: `who` must still be admitted (with
    /// their rights as of now), the message must be live in this room,
    /// `allowed` decides whether `who` may change it, and `write` changes
    /// it. A message that is missing, or deleted between the look-up and
    /// `write` (by another instance, say), is [`RoomError::NotFound`];
    /// failures of the checks are reported as they are.
    fn change_message<T: Send + 'static>(
        &self,
        who: Identity,
        id: MessageId,
        mut allowed: impl FnMut(&mut DbConnection, Identity, &Message) -> Result<Identity, RoomError>
        + Send
        + 'static,
        mut write: impl FnMut(&mut DbConnection, &Identity) -> Result<T, DbError> + Send + 'static,
    ) -> impl FnMut(&mut DbConnection) -> Result<T, RoomError> + Send + 'static {
        let room = self.info.id;
        let not_found = move |e: DbError| match e {
            DbError::NotFound => RoomError::NotFound(id),
            other => RoomError::from(other),
        };
        move |c| {
            let who = still_admitted(c, room, &who)?;
            let message = messages::find_live(c, room, id).map_err(not_found)?;
            let who = allowed(c, who, &message)?;
            write(c, &who).map_err(not_found)
        }
    }

    /// Queues `store` as the room's next write and, once it is stored in
    /// its turn, publishes the frame `announce` makes of its result.
    fn then_publish<T: Send + 'static>(
        &mut self,
        ctx: &mut Context<Self>,
        store: impl FnMut(&mut DbConnection) -> Result<T, RoomError> + Send + 'static,
        announce: impl FnOnce(T) -> ServerFrame + 'static,
    ) -> ResponseFuture<Result<(), RoomError>> {
        self.write_in_order(ctx, store, move |room, stored| {
            room.publish(&announce(stored), None, None);
        })
    }
}

/// A member posts a message to the room.
#[derive(Message)]
#[rtype(result = "Result<Posted, RoomError>")]
pub struct Post {
    /// The author.
    pub author: Identity,
    /// What they wrote.
    pub text: MessageText,
    /// The socket it came from, which alone gets the echo with `client_id`.
    pub session: SessionId,
    /// The client's name for the post: stored once per author.
    pub client_id: Option<ClientId>,
}

/// What became of a post.
#[derive(Debug)]
pub enum Posted {
    /// Stored as this message, and published: everyone gets it, the
    /// sending socket with the post's `client_id`.
    New(MessageId),
    /// Its author had stored a post with this `client_id` already: that
    /// message (with the `client_id`), for the sending socket alone.
    Repeat(MessageView),
}

/// A post as its database job left it.
enum StoredPost {
    New(MessageId),
    Repeat(MessageWithAuthor),
}

/// Stores a post once per `client_id` (see [`messages::insert_once`]); a
/// repeat is read back as its author sees it, unless it was deleted since
/// or belongs to another room. A new post makes its author a member of
/// the room (read up to their post), in the same write.
fn store_post(
    c: &mut DbConnection,
    room: RoomId,
    author: &Identity,
    text: &str,
    at: NaiveDateTime,
    client_id: Option<&ClientId>,
) -> Result<StoredPost, RoomError> {
    let stored = insert_post(c, room, author, text, at, client_id)?;
    if let StoredPost::New(id) = stored {
        memberships::joined_by_posting(c, author.id, room, id, at)?;
    }
    Ok(stored)
}

/// The insert of [`store_post`].
fn insert_post(
    c: &mut DbConnection,
    room: RoomId,
    author: &Identity,
    text: &str,
    at: NaiveDateTime,
    client_id: Option<&ClientId>,
) -> Result<StoredPost, RoomError> {
    let Some(client_id) = client_id else {
        return Ok(StoredPost::New(
            messages::insert(c, room, author.id, text, at)?.id,
        ));
    };
    match messages::insert_once(c, room, author.id, text, at, client_id)? {
        Stored::New(row) => Ok(StoredPost::New(row.id)),
        Stored::Repeat(row) => {
            let reader = [author.username.as_str()];
            messages::with_ids(c, room, &[row.id], &reader)?
                .pop()
                .map(StoredPost::Repeat)
                .ok_or(RoomError::RepeatGone(row.id))
        }
    }
}

impl Handler<Post> for Room {
    type Result = ResponseFuture<Result<Posted, RoomError>>;

    fn handle(&mut self, post: Post, ctx: &mut Self::Context) -> Self::Result {
        let room = self.info.id;
        let created_at = Utc::now();
        let text = post.text.into_string();
        let author = post.author.clone();
        let client_id = post.client_id.clone();
        // One closure checks and stores: it runs in the writer's batch.
        let store = move |c: &mut DbConnection| {
            still_admitted(c, room, &author)?;
            let stored = store_post(
                c,
                room,
                &author,
                &text,
                created_at.naive_utc(),
                client_id.as_ref(),
            )?;
            // The users the post mentions, for their `activity` frames
            // (`mention: true`); resolved and stored with the post.
            let mentioned: Vec<Username> = Vec::new();
            Ok::<_, RoomError>((stored, text.clone(), mentioned))
        };
        let Post {
            author,
            session,
            client_id,
            ..
        } = post;
        let author = author.username;
        self.write_in_order(ctx, store, move |room, stored| {
            let (id, message, mentioned) = match stored {
                (StoredPost::New(id), message, mentioned) => (id, message, mentioned),
                (StoredPost::Repeat(row), _, _) => {
                    let view = MessageView {
                        client_id,
                        ..view_of(&row, false, &author)
                    };
                    return Posted::Repeat(view);
                }
            };
            let view = MessageView {
                id,
                user: author,
                message,
                created_at,
                edited_at: None,
                reactions: Vec::new(),
                history: false,
                client_id: None,
            };
            METRICS.message_in();
            room.expect_echo(session, client_id, &view);
            let activity = Activity {
                room_id: room.info.id,
                room: room.info.name.as_str().to_owned(),
                message_id: id,
                author: view.user.clone(),
                excerpt: excerpt(&view.message),
                mentioned,
            };
            room.publish(&ServerFrame::ChatMessage(view), None, Some(id));
            room.bus.publish_activity(activity);
            Posted::New(id)
        })
    }
}

impl Room {
    /// Notes that when the new message of `view` comes back from the bus,
    /// `session` (which posted it) is to get it with its `client_id`.
    fn expect_echo(&mut self, session: SessionId, client_id: Option<ClientId>, view: &MessageView) {
        let Some(client_id) = client_id else { return };
        let echo = MessageView {
            client_id: Some(client_id),
            ..view.clone()
        };
        self.echoes
            .expect(view.id, session, encode(&ServerFrame::ChatMessage(echo)));
    }
}

/// A member changes the text of their message.
#[derive(Message)]
#[rtype(result = "Result<(), RoomError>")]
pub struct Edit {
    /// Who asks.
    pub editor: Identity,
    /// Which message.
    pub id: MessageId,
    /// The new text.
    pub text: MessageText,
}

impl Handler<Edit> for Room {
    type Result = ResponseFuture<Result<(), RoomError>>;

    fn handle(&mut self, edit: Edit, ctx: &mut Self::Context) -> Self::Result {
        let Edit { editor, id, text } = edit;
        let edited_at = Utc::now();
        let store = self.change_message(
            editor,
            id,
            |_, editor, message| {
                if editor.may_edit(message.user_id) {
                    Ok(editor)
                } else {
                    Err(RoomError::Forbidden("only its author may edit a message"))
                }
            },
            move |c, _| {
                let text = text.as_str().to_owned();
                messages::edit(c, id, &text, edited_at.naive_utc())?;
                Ok(text)
            },
        );
        self.then_publish(ctx, store, move |message| ServerFrame::MessageEdited {
            id,
            message,
            edited_at,
        })
    }
}

/// A member deletes a message: their own, or any if they are staff.
#[derive(Message)]
#[rtype(result = "Result<(), RoomError>")]
pub struct Delete {
    /// Who asks.
    pub by: Identity,
    /// Which message.
    pub id: MessageId,
}

impl Handler<Delete> for Room {
    type Result = ResponseFuture<Result<(), RoomError>>;

    fn handle(&mut self, delete: Delete, ctx: &mut Self::Context) -> Self::Result {
        let Delete { by, id } = delete;
        let store = self.change_message(
            by,
            id,
            move |c, by, message| {
                let author = message.user_id;
                // Staff rights as they are now, not as they were when the
                // socket opened. (Read again even if the room started out
                // admin-only: `confab room set` may have opened it since,
                // and then the admission check read nothing.)
                let by = if by.id == author {
                    by
                } else {
                    as_of_now(c, &by)?
                };
                if by.may_delete(author) {
                    Ok(by)
                } else {
                    Err(RoomError::Forbidden(
                        "only its author or staff may delete a message",
                    ))
                }
            },
            move |c, _| messages::delete(c, id, Utc::now().naive_utc()),
        );
        self.then_publish(ctx, store, move |()| ServerFrame::MessageDeleted { id })
    }
}

/// A member toggles their reaction on a message. Everyone is told only
/// what changed (a `reaction` frame), never the message's whole set.
#[derive(Message)]
#[rtype(result = "Result<(), RoomError>")]
pub struct React {
    /// Who reacts.
    pub user: Identity,
    /// Which message.
    pub id: MessageId,
    /// With what.
    pub emoji: Emoji,
    /// Most distinct emoji a message may carry (`CONFAB_MAX_REACTIONS`).
    pub max_distinct: usize,
}

impl Handler<React> for Room {
    type Result = ResponseFuture<Result<(), RoomError>>;

    fn handle(&mut self, react: React, ctx: &mut Self::Context) -> Self::Result {
        let React {
            user,
            id,
            emoji,
            max_distinct,
        } = react;
        let who = user.username.clone();
        let stored_emoji = emoji.as_str().to_owned();
        let mut toggle = self.change_message(
            user,
            id,
            |_, user, _| Ok(user),
            move |c, user| {
                let at = Utc::now().naive_utc();
                reactions::toggle(c, id, user.id, emoji.as_str(), at, max_distinct)
            },
        );
        let store = move |c: &mut DbConnection| match toggle(c)? {
            Toggled::Done { added, count } => Ok((added, count)),
            Toggled::Full => Err(RoomError::TooManyReactions { max: max_distinct }),
        };
        self.then_publish(ctx, store, move |(added, count)| ServerFrame::Reaction {
            id,
            emoji: stored_emoji,
            user: who,
            added,
            count,
        })
    }
}
