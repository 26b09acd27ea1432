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
//! change (`admission.rs`: admin-only, bans, private rooms, locks,
//! archives, mutes, slow mode; for deleting another's message, whether
//! they are staff or moderate the room now), so a user demoted while
//! connected, or a rule set by `confab room` or another instance, takes
//! effect at once.
//!
//! The three changes to an existing message share their steps, written
//! once in [`Room::change_message`]: the user must still be admitted, the
//! message must be live in this room, the change must be allowed, and a
//! message that vanished meanwhile is reported as not found rather than as
//! a database failure.

use super::admission::{Acting, Write, may_write};
use super::{Room, RoomError, reply_view, view_of};
use crate::actors::bus::Activity;
use crate::actors::delivery::SessionId;
use crate::actors::unread::excerpt;
use crate::db::models::Message;
use crate::db::models::NewAuditEntry;
use crate::db::queries::mentions::{self, MentionedUser};
use crate::db::queries::messages::{MessageWithAuthor, Quoted, Stored};
use crate::db::queries::moderation::insert_audit;
use crate::db::queries::reactions::{self, Toggled};
use crate::db::queries::{memberships, messages, users};
use crate::db::{DbConnection, DbError};
use crate::domain::{ClientId, Emoji, Identity, MessageId, MessageText, RoomId, RoomInfo};
use crate::metrics::METRICS;
use crate::protocol::{MessageView, ServerFrame, encode};
use actix::prelude::*;
use chrono::{NaiveDateTime, Utc};

impl Room {
    /// The write that changes the live message `id` for `who`, in the
    /// order every such change takes: `who` must still be admitted and
    /// allowed `kind` of write now (see `admission.rs`), the message must
    /// be live in this room, `allowed` decides whether `who` may change
    /// it, and `write` changes it. A message that is missing, or deleted
    /// between the look-up and `write` (by another instance, say), is
    /// [`RoomError::NotFound`]; failures of the checks are reported as they
    /// are.
    fn change_message<T: Send + 'static>(
        &self,
        who: Identity,
        id: MessageId,
        kind: Write,
        mut allowed: impl FnMut(&mut DbConnection, &mut Acting<'_>, &Message) -> Result<(), RoomError>
        + Send
        + 'static,
        mut write: impl FnMut(&mut DbConnection, &Identity) -> Result<T, DbError> + Send + 'static,
    ) -> impl FnMut(&mut DbConnection) -> Result<T, RoomError> + Send + 'static {
        let room = self.info.id;
        let gate = self.gate();
        let not_found = move |e: DbError| match e {
            DbError::NotFound => RoomError::NotFound(id),
            other => RoomError::from(other),
        };
        move |c| {
            let mut acting = may_write(c, &gate, &who, kind)?;
            let message = messages::find_live(c, room, id).map_err(not_found)?;
            allowed(c, &mut acting, &message)?;
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
    /// The message of this room it replies to, if any.
    pub reply_to: Option<MessageId>,
}

/// What became of a post.
#[derive(Debug)]
pub enum Posted {
    /// Stored as this message, and published: everyone gets it, the
    /// sending socket with the post's `client_id`.
    New(MessageId),
    /// Its author had stored a post with this `client_id` already: that
    /// message (with the `client_id`), for the sending socket alone.
    Repeat(Box<MessageView>),
}

/// A post as its database job left it.
enum StoredPost {
    /// Stored now, as message `id`, mentioning `mentioned` (stored with it).
    New {
        id: MessageId,
        mentioned: Vec<MentionedUser>,
    },
    Repeat(Box<MessageWithAuthor>),
}

/// What a post replying to `id` quotes: the live message `id` of this
/// room. Otherwise the post is refused as [`RoomError::NotFound`], unless
/// it is a repeat (its `client_id` stored already) of a reply whose
/// original has gone since: that is answered as any repeat is (`None`).
fn quote_for_post(
    c: &mut DbConnection,
    room: RoomId,
    author: &Identity,
    id: MessageId,
    client_id: Option<&ClientId>,
) -> Result<Option<Quoted>, RoomError> {
    match messages::quotable(c, room, id) {
        Ok(quoted) => Ok(Some(quoted)),
        Err(DbError::NotFound) => match client_id {
            Some(client_id) if messages::by_client_id(c, author.id, client_id)?.is_some() => {
                Ok(None)
            }
            _ => Err(RoomError::NotFound(id)),
        },
        Err(e) => Err(e.into()),
    }
}

/// Stores a post once per `client_id` (see [`messages::insert_once`]),
/// with its mentions; a repeat is read back as its author sees it, unless
/// it was deleted since or belongs to another room.
fn store_post(
    c: &mut DbConnection,
    room: &RoomInfo,
    author: &Identity,
    text: &str,
    at: NaiveDateTime,
    client_id: Option<&ClientId>,
    reply_to: Option<MessageId>,
) -> Result<StoredPost, RoomError> {
    let new = |c: &mut DbConnection, id: MessageId| {
        let mentioned = mentions::record(c, id, room, author.id, text)?;
        // Posting makes the author a member, read up to their post.
        memberships::joined_by_posting(c, author.id, room.id, id, at)?;
        Ok::<_, RoomError>(StoredPost::New { id, mentioned })
    };
    let Some(client_id) = client_id else {
        let id = messages::insert(c, room.id, author.id, text, at, reply_to)?.id;
        return new(c, id);
    };
    match messages::insert_once(c, room.id, author.id, text, at, client_id, reply_to)? {
        Stored::New(row) => new(c, row.id),
        Stored::Repeat(row) => {
            let reader = [author.username.as_str()];
            messages::with_ids(c, room.id, &[row.id], &reader)?
                .pop()
                .map(|row| StoredPost::Repeat(Box::new(row)))
                .ok_or(RoomError::RepeatGone(row.id))
        }
    }
}

impl Handler<Post> for Room {
    type Result = ResponseFuture<Result<Posted, RoomError>>;

    fn handle(&mut self, post: Post, ctx: &mut Self::Context) -> Self::Result {
        let room = self.info.clone();
        let gate = self.gate();
        let created_at = Utc::now();
        let text = post.text.into_string();
        let author = post.author.clone();
        let client_id = post.client_id.clone();
        let reply_to = post.reply_to;
        // One closure checks and stores: it runs in the writer's batch.
        let posted_at = created_at.naive_utc();
        let store = move |c: &mut DbConnection| {
            may_write(c, &gate, &author, Write::Post(posted_at))?;
            let quoted = match reply_to {
                Some(id) => quote_for_post(c, room.id, &author, id, client_id.as_ref())?,
                None => None,
            };
            let stored = store_post(
                c,
                &room,
                &author,
                &text,
                created_at.naive_utc(),
                client_id.as_ref(),
                reply_to,
            )?;
            Ok::<_, RoomError>((stored, text.clone(), quoted))
        };
        let Post {
            author,
            session,
            client_id,
            ..
        } = post;
        let author = author.username;
        self.write_in_order(ctx, store, move |room, stored| {
            let (id, mentioned, message, quoted) = match stored {
                (StoredPost::New { id, mentioned }, message, quoted) => {
                    (id, mentioned, message, quoted)
                }
                (StoredPost::Repeat(row), _, _) => {
                    let view = MessageView {
                        client_id,
                        ..view_of(&row, false, &author)
                    };
                    return Posted::Repeat(Box::new(view));
                }
            };
            let view = MessageView {
                id,
                user: author,
                message,
                created_at,
                edited_at: None,
                reactions: Vec::new(),
                reply_to: quoted.as_ref().map(reply_view),
                mentions: mentioned.iter().map(|m| m.username.clone()).collect(),
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
                // Who gets `mention: true` on their `activity`: the users
                // resolved and stored with the post.
                mentioned: mentioned.into_iter().map(|m| m.username).collect(),
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
        // A `/pm` is posted into a conversation from a socket in another
        // room: it gets `private_message_delivered`, not an echo.
        if !self.members.contains_key(&session) {
            return;
        }
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
        let room = self.info.clone();
        let editor_id = editor.id;
        let store = self.change_message(
            editor,
            id,
            Write::Edit,
            move |_, _, message| {
                if message.user_id == editor_id {
                    Ok(())
                } else {
                    Err(RoomError::Forbidden("only its author may edit a message"))
                }
            },
            move |c, editor| {
                let text = text.as_str().to_owned();
                messages::edit(c, id, &text, edited_at.naive_utc())?;
                let mentioned = mentions::rewrite(c, id, &room, editor.id, &text)?;
                Ok((text, mentioned))
            },
        );
        self.then_publish(ctx, store, move |(message, mentioned)| {
            ServerFrame::MessageEdited {
                id,
                message,
                edited_at,
                mentions: mentioned.into_iter().map(|m| m.username).collect(),
            }
        })
    }
}

/// A member deletes a message: their own, or any if they are staff or
/// moderate the room.
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
        let room_name = self.info.name.clone();
        let store = self.change_message(
            by,
            id,
            Write::Delete,
            move |c, acting, message| {
                // Its author, or staff or a moderator of the room, with
                // their rights as they are now, not as they were when the
                // socket opened.
                if message.user_id == acting.user() {
                    return Ok(());
                }
                if !acting.role(c)?.moderates() {
                    return Err(RoomError::Forbidden(
                        "only its author or a moderator may delete a message",
                    ));
                }
                // Moderation, like the console's: on the record.
                let author = users::by_id(c, message.user_id)?
                    .map(|u| u.username)
                    .unwrap_or_default();
                insert_audit(
                    c,
                    &NewAuditEntry {
                        at: crate::db::queries::now(),
                        actor: acting.identity().username.as_str(),
                        action: "message.delete",
                        target: &format!("message {id}"),
                        room: Some(room_name.as_str()),
                        reason: "",
                        detail: &format!("by {author}: {}", excerpt(&message.content)),
                    },
                )?;
                Ok(())
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
            Write::React,
            |_, _, _| Ok(()),
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
