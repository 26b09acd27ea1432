//! Reading the room's log on request: pages of it (scrolling back,
//! catching up after a reconnect beyond what the join burst carried, or
//! around one message a reader jumps to), and
//! the full list of who reacted to a message with one emoji, which pages
//! and the join burst only sum up.
//!
//! Reading an admin-only room's log is a right that can be lost, so each
//! request re-checks it (in the same database call that reads): a user
//! demoted while connected gets `forbidden` and the socket closes.

use super::admission::still_admitted;
use super::{Room, RoomError, view_of};
use crate::db::DbError;
use crate::db::queries::{messages, reactions};
use crate::domain::{Emoji, Identity, MessageId, Username, Window};
use crate::protocol::MessageView;
use actix::prelude::*;

/// A member asks for a page of the log (scrolling back, or catching up).
#[derive(Message)]
#[rtype(result = "Result<HistoryPage, RoomError>")]
pub struct LoadHistory {
    /// Who asks: they must still be admitted (the room may have become
    /// admin-only, or they may have lost staff, since they joined), and
    /// their reactions are marked `me`.
    pub who: Identity,
    /// Which part of the log.
    pub window: Window,
    /// At most this many.
    pub limit: u32,
}

/// The answer to [`LoadHistory`].
#[derive(Debug)]
pub struct HistoryPage {
    /// Oldest first.
    pub messages: Vec<MessageView>,
    /// Whether there are older ones (newer ones, for `Window::After`).
    pub has_more: bool,
    /// For `Window::Around` only: whether there are newer ones.
    pub has_newer: Option<bool>,
}

impl Handler<LoadHistory> for Room {
    // Reading needs no place in the room's order: a page holds stored
    // messages only, and the client keys messages by id.
    type Result = ResponseFuture<Result<HistoryPage, RoomError>>;

    fn handle(&mut self, msg: LoadHistory, _ctx: &mut Self::Context) -> Self::Result {
        let db = self.db.clone();
        let room = self.info.id;
        let gate = self.gate();
        let reader = msg.who.username.clone();
        let name = reader.as_str().to_owned();
        Box::pin(async move {
            let (rows, has_more, has_newer) = db
                .run(move |c| {
                    still_admitted(c, &gate, &msg.who)?;
                    let names = [name.as_str()];
                    let limit = msg.limit.into();
                    Ok::<_, RoomError>(match msg.window {
                        Window::Around(id) => {
                            let (rows, older, newer) =
                                messages::around(c, room, id, limit, &names)?;
                            (rows, older, Some(newer))
                        }
                        window => {
                            let (rows, more) = messages::page(c, room, window, limit, &names)?;
                            (rows, more, None)
                        }
                    })
                })
                .await?;
            Ok(HistoryPage {
                messages: rows.iter().map(|row| view_of(row, true, &reader)).collect(),
                has_more,
                has_newer,
            })
        })
    }
}

/// A member asks who reacted to message `id` with `emoji`: the whole list,
/// which `chat_message` frames cut short.
#[derive(Message)]
#[rtype(result = "Result<Vec<Username>, RoomError>")]
pub struct ListReactors {
    /// Who asks; they must still be admitted to the room.
    pub reader: Identity,
    /// Which message.
    pub id: MessageId,
    /// Which emoji.
    pub emoji: Emoji,
}

impl Handler<ListReactors> for Room {
    // A read, like a history page: no place in the room's order.
    type Result = ResponseFuture<Result<Vec<Username>, RoomError>>;

    fn handle(&mut self, msg: ListReactors, _ctx: &mut Self::Context) -> Self::Result {
        let db = self.db.clone();
        let room = self.info.id;
        let gate = self.gate();
        let ListReactors { reader, id, emoji } = msg;
        Box::pin(async move {
            let names = db
                .run(move |c| {
                    // Rights as of now, as for every change: a user who lost
                    // the room reads nothing more of it.
                    still_admitted(c, &gate, &reader)?;
                    messages::find_live(c, room, id).map_err(|e| match e {
                        DbError::NotFound => RoomError::NotFound(id),
                        other => RoomError::from(other),
                    })?;
                    Ok::<_, RoomError>(reactions::reactors(c, id, emoji.as_str())?)
                })
                .await?;
            Ok(names.into_iter().map(Username::from_stored).collect())
        })
    }
}
