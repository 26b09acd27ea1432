//! What changes the room's log: [`Post`], [`Edit`], [`Delete`], [`React`].
//!
//! Each is one atomic step of the room: stored, then published, before the
//! room looks at its next message, so ids, the log and the broadcast agree.
//! Rights that can be lost are read from the database at each change
//! (whether the room is admin-only now, and then whether the user is still
//! staff; for deleting another's message, whether they are staff now), so
//! a user demoted while connected, or a room made admin-only by
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
use std::future::Future;

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
    /// Stores a change to the live message `id` made by `who`, in the
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
    ) -> impl Future<Output = Result<T, RoomError>> + 'static {
        let db = self.db.clone();
        let room = self.info.id;
        let not_found = move |e: DbError| match e {
            DbError::NotFound => RoomError::NotFound(id),
            other => RoomError::Storage(other),
        };
        async move {
            db.run(move |c| {
                let who = still_admitted(c, room, &who)?;
                let message = messages::find_live(c, room, id).map_err(not_found)?;
                let who = allowed(c, who, &message)?;
                write(c, &who).map_err(not_found)
            })
            .await
        }
    }

    /// Runs `store` as the room's next atomic step and, when it succeeds,
    /// publishes the frame `announce` makes of its result.
    fn then_publish<T: 'static>(
        &self,
        store: impl Future<Output = Result<T, RoomError>> + 'static,
        announce: impl FnOnce(T) -> ServerFrame + 'static,
    ) -> AtomicResponse<Self, Result<(), RoomError>> {
        AtomicResponse::new(Box::pin(store.into_actor(self).map(
            move |stored, room, _ctx| {
                room.publish(&announce(stored?), None, None);
                Ok(())
            },
        )))
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
    type Result = AtomicResponse<Self, Result<MessageId, RoomError>>;

    fn handle(&mut self, post: Post, _ctx: &mut Self::Context) -> Self::Result {
        let db = self.db.clone();
        let room = self.info.id;
        let created_at = Utc::now();
        let text = post.text.into_string();
        let author = post.author.clone();
        let store = async move {
            db.run(move |c| {
                still_admitted(c, room, &author)?;
                let row = messages::insert(c, room, author.id, &text, created_at.naive_utc())?;
                Ok::<_, RoomError>((row.id, text))
            })
            .await
        };
        let author = post.author.username;
        AtomicResponse::new(Box::pin(store.into_actor(self).map(
            move |stored, room, _ctx| {
                let (id, message) = stored?;
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
                Ok(id)
            },
        )))
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
    type Result = AtomicResponse<Self, Result<(), RoomError>>;

    fn handle(&mut self, edit: Edit, _ctx: &mut Self::Context) -> Self::Result {
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
        self.then_publish(store, move |message| ServerFrame::MessageEdited {
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
    type Result = AtomicResponse<Self, Result<(), RoomError>>;

    fn handle(&mut self, delete: Delete, _ctx: &mut Self::Context) -> Self::Result {
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
        self.then_publish(store, move |()| ServerFrame::MessageDeleted { id })
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
    type Result = AtomicResponse<Self, Result<(), RoomError>>;

    fn handle(&mut self, react: React, _ctx: &mut Self::Context) -> Self::Result {
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
        let store = async move {
            match toggle.await? {
                Toggled::Done { added, count } => Ok((added, count)),
                Toggled::Full => Err(RoomError::TooManyReactions { max: max_distinct }),
            }
        };
        self.then_publish(store, move |(added, count)| ServerFrame::Reaction {
            id,
            emoji: stored_emoji,
            user: who,
            added,
            count,
        })
    }
}
