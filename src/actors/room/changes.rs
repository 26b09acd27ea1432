//! What changes the room's log: [`Post`], [`Edit`], [`Delete`], [`React`].
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

use super::{Room, RoomError};
use crate::db::models::Message;
use crate::db::queries::reactions::{self, Toggled};
use crate::db::queries::{messages, rooms, users};
use crate::db::{DbConnection, DbError};
use crate::domain::{Emoji, Identity, MessageId, MessageText, RoomId};
use crate::metrics::METRICS;
use crate::protocol::{MessageView, ServerFrame};
use actix::prelude::*;
use chrono::Utc;

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
        allowed: impl FnOnce(&mut DbConnection, Identity, &Message) -> Result<Identity, RoomError>
        + Send
        + 'static,
        write: impl FnOnce(&mut DbConnection, &Identity) -> Result<T, DbError> + Send + 'static,
    ) -> impl FnOnce(&mut DbConnection) -> Result<T, RoomError> + Send + 'static {
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
        store: impl FnOnce(&mut DbConnection) -> Result<T, RoomError> + Send + 'static,
        announce: impl FnOnce(T) -> ServerFrame + 'static,
    ) -> ResponseFuture<Result<(), RoomError>> {
        self.write_in_order(ctx, store, move |room, stored| {
            room.publish(&announce(stored), None, None);
        })
    }
}

/// A member posts a message to the room.
#[derive(Message)]
#[rtype(result = "Result<MessageId, RoomError>")]
pub struct Post {
    /// The author.
    pub author: Identity,
    /// What they wrote.
    pub text: MessageText,
}

impl Handler<Post> for Room {
    type Result = ResponseFuture<Result<MessageId, RoomError>>;

    fn handle(&mut self, post: Post, ctx: &mut Self::Context) -> Self::Result {
        let room = self.info.id;
        let created_at = Utc::now();
        let text = post.text.into_string();
        let author = post.author.clone();
        // One closure checks and stores: it runs in the writer's batch.
        let store = move |c: &mut DbConnection| {
            still_admitted(c, room, &author)?;
            let row = messages::insert(c, room, author.id, &text, created_at.naive_utc())?;
            Ok::<_, RoomError>((row.id, text))
        };
        let author = post.author.username;
        self.write_in_order(ctx, store, move |room, (id, message)| {
            let view = MessageView {
                id,
                user: author,
                message,
                created_at,
                edited_at: None,
                reactions: Vec::new(),
                history: false,
            };
            METRICS.message_in();
            room.publish(&ServerFrame::ChatMessage(view), None, Some(id));
            id
        })
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
                let text = text.into_string();
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
        let toggle = self.change_message(
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
