//! Read markers: a member says how far they have read ([`MoveMarker`]),
//! and every modern socket of theirs, on every instance, is told the
//! room's new counts (a `read_marker` frame on the user's bus channel).
//!
//! The marker is a row of `memberships`, changed through the database's
//! writer like every other write (so a `read` and a `mark_unread` sent in
//! that order are applied in that order); the counts are read afterwards
//! from the pool. A user who is not a member of the room has no marker:
//! their reads change nothing and tell no one.

use super::{Room, RoomError};
use crate::actors::bus::ToUser;
use crate::actors::unread::view_of;
use crate::db::DbError;
use crate::db::queries::memberships;
use crate::domain::{Identity, MessageId};
use crate::protocol::{ServerFrame, encode};
use actix::prelude::*;

/// Which way a marker moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marker {
    /// Forward to the message (never back): it has been read.
    Read,
    /// Back to just before the message: "Mark as unread".
    Unread,
}

/// A member moves their read marker in this room.
#[derive(Message)]
#[rtype(result = "Result<(), RoomError>")]
pub struct MoveMarker {
    /// Whose marker.
    pub user: Identity,
    /// The message it moves to (or to just before).
    pub id: MessageId,
    /// Which way.
    pub to: Marker,
}

impl Handler<MoveMarker> for Room {
    type Result = ResponseFuture<Result<(), RoomError>>;

    fn handle(&mut self, msg: MoveMarker, _ctx: &mut Self::Context) -> Self::Result {
        let MoveMarker { user, id, to } = msg;
        let (room, user_id) = (self.info.id, user.id);
        let moved = self.db.write(move |c| {
            let moved = match to {
                Marker::Read => memberships::mark_read(c, user_id, room, id),
                Marker::Unread => memberships::mark_unread(c, user_id, room, id),
            };
            moved.map_err(|e| match e {
                DbError::NotFound => RoomError::NotFound(id),
                other => RoomError::from(other),
            })
        });
        let (db, bus) = (self.db.clone(), self.bus.clone());
        Box::pin(async move {
            moved.await?;
            let rows = db
                .run(move |c| memberships::unread(c, user_id, Some(room)))
                .await?;
            if let Some(row) = rows.into_iter().next() {
                let frame = encode(&ServerFrame::ReadMarker(view_of(row)));
                bus.tell_user(&user.username, ToUser::Notice(frame));
            }
            Ok(())
        })
    }
}
