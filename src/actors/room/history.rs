//! Pages of the room's log, on request: scrolling back, or catching up
//! after a reconnect beyond what the join burst carried.
//!
//! Reading an admin-only room's log is a right that can be lost, so each
//! page re-checks it (in the same database call that reads the page): a
//! user demoted while connected gets `forbidden` and the socket closes.

use super::changes::still_admitted;
use super::{Room, RoomError, view_of};
use crate::db::queries::messages;
use crate::domain::{Identity, Window};
use crate::protocol::MessageView;
use actix::prelude::*;

/// A member asks for a page of the log (scrolling back, or catching up).
#[derive(Message)]
#[rtype(result = "Result<HistoryPage, RoomError>")]
pub struct LoadHistory {
    /// Who asks, with their rights as of the socket's opening.
    pub reader: Identity,
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
    /// Whether there are older ones.
    pub has_more: bool,
}

impl Handler<LoadHistory> for Room {
    // Reading needs no place in the room's order: a page holds stored
    // messages only, and the client keys messages by id.
    type Result = ResponseFuture<Result<HistoryPage, RoomError>>;

    fn handle(&mut self, msg: LoadHistory, _ctx: &mut Self::Context) -> Self::Result {
        let db = self.db.clone();
        let info = self.info.clone();
        Box::pin(async move {
            let (rows, has_more) = db
                .run(move |c| {
                    still_admitted(c, &info, &msg.reader)?;
                    Ok::<_, RoomError>(messages::page(c, info.id, msg.window, msg.limit.into())?)
                })
                .await?;
            Ok(HistoryPage {
                messages: rows.into_iter().map(|row| view_of(row, true)).collect(),
                has_more,
            })
        })
    }
}
