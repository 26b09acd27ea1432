//! Catching up from the database: nothing stored is lost to the members
//! of a room, even when the bus is not there to carry it.
//!
//! The room remembers which messages it delivered ([`super::memory`]) and
//! delivers what it has not: every [`OUTAGE_POLL`] while the bus is down,
//! whenever the bus says events may have been missed (an instance that was
//! cut off from Redis comes back, a queue overflowed), and, with several
//! instances, every few seconds for messages stored long enough ago that the
//! bus should have brought them (an instance that died between storing a
//! message and publishing it).

use super::{Room, view_of};
use crate::db::queries::messages;
use crate::db::{DbConnection, DbError};
use crate::domain::{MessageId, RoomId, Username};
use crate::metrics::METRICS;
use crate::protocol::{ServerFrame, encode};
use actix::prelude::*;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// How far before the client's last message its catch-up starts, to cover
/// messages from other instances delivered out of id order (see
/// [`messages::resume_floor`]).
const RESUME_OVERLAP_MS: i64 = 2_000;

/// Where a catch-up after message `after` starts: [`RESUME_OVERLAP_MS`]
/// before it.
pub(super) fn resume_floor(
    conn: &mut DbConnection,
    room_id: RoomId,
    after: MessageId,
) -> Result<MessageId, DbError> {
    let overlap = chrono::Duration::milliseconds(RESUME_OVERLAP_MS);
    messages::resume_floor(conn, room_id, after, overlap)
}

/// While the bus is down, how often a room looks in the database for
/// messages that other instances stored.
pub(super) const OUTAGE_POLL: Duration = Duration::from_secs(1);

/// While the bus is up, how often a room checks the database for messages
/// it never got (an instance that died between storing a message and
/// publishing it), every this many outage polls.
const SETTLED_CHECK_EVERY: u32 = 2;

/// Most messages one catch-up looks at.
const CATCH_UP_LIMIT: i64 = 10_000;

impl Room {
    /// Looks in the database for messages other instances stored that the
    /// bus did not bring: every second while it is down, now and then while
    /// it is up.
    pub(super) fn check_database(&mut self, ctx: &mut Context<Self>) {
        if !self.memory.is_anchored() {
            return; // no join burst yet: nothing to compare with
        }
        if !self.bus.is_healthy() {
            // Cut off from the other instances: their messages reach the
            // database, not the bus.
            self.ticks = 0;
            return ctx.notify(CatchUp {
                from: self.memory.newest(),
                scope: Scope::Since,
            });
        }
        self.ticks += 1;
        if self.ticks < SETTLED_CHECK_EVERY {
            return;
        }
        self.ticks = 0;
        if let Some(from) = self.memory.next_settled_check() {
            ctx.notify(CatchUp {
                from,
                scope: Scope::Settled,
            });
        }
    }
}

/// Look for stored messages that members have not had.
#[derive(Message)]
#[rtype(result = "()")]
pub(super) struct CatchUp {
    pub(super) from: MessageId,
    pub(super) scope: Scope,
}

/// Which stored messages a [`CatchUp`] considers, and when it delivers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Scope {
    /// Everything after `from`, and a little before it (see
    /// [`messages::resume_floor`]), delivered at once: the bus was down or
    /// said it missed events.
    Since,
    /// The same window, but a message is delivered only once it has been
    /// missing for [`SETTLE`](super::memory::SETTLE): a check, while the bus works, that nothing
    /// fell through it.
    Settled,
}

impl Handler<CatchUp> for Room {
    // Atomic: a catch-up takes its place in the room's order like a post.
    type Result = AtomicResponse<Self, ()>;

    fn handle(&mut self, msg: CatchUp, _ctx: &mut Self::Context) -> Self::Result {
        if self.members.is_empty() {
            return AtomicResponse::new(Box::pin(fut::ready(())));
        }
        let db = self.db.clone();
        let room_id = self.info.id;
        let forgotten = self.memory.forgotten();
        let load = async move {
            db.run(move |c| {
                let floor = resume_floor(c, room_id, msg.from)?;
                // Reads ids only; whole messages only for the missing ones.
                messages::ids_after(c, room_id, floor.max(forgotten), CATCH_UP_LIMIT)
            })
            .await
        };
        AtomicResponse::new(Box::pin(load.into_actor(self).map(
            move |found, room, ctx| {
                let ids = match found {
                    Ok(ids) => ids,
                    Err(e) => {
                        return log::warn!("room {}: catching up failed: {e}", room.info.name);
                    }
                };
                let missing = room.memory.missing(ids);
                let due = match msg.scope {
                    Scope::Since => missing,
                    Scope::Settled => room.memory.settle(missing, Instant::now()),
                };
                if !due.is_empty() {
                    ctx.notify(Fetch { ids: due });
                }
            },
        )))
    }
}

/// Deliver stored messages `ids` that members have not had.
#[derive(Message)]
#[rtype(result = "()")]
struct Fetch {
    ids: Vec<MessageId>,
}

impl Handler<Fetch> for Room {
    type Result = AtomicResponse<Self, ()>;

    fn handle(&mut self, msg: Fetch, _ctx: &mut Self::Context) -> Self::Result {
        let db = self.db.clone();
        let room_id = self.info.id;
        let ids = msg.ids;
        // The members' users, so that each is told which reactions are theirs.
        let readers: BTreeSet<Username> = self.members.values().map(|m| m.user.clone()).collect();
        let names: Vec<String> = readers.iter().map(|u| u.as_str().to_owned()).collect();
        let load = async move {
            db.run(move |c| {
                let names: Vec<&str> = names.iter().map(String::as_str).collect();
                messages::with_ids(c, room_id, &ids, &names)
            })
            .await
        };
        AtomicResponse::new(Box::pin(load.into_actor(self).map(move |loaded, room, _ctx| {
            let rows = match loaded {
                Ok(rows) => rows,
                Err(e) => return log::warn!("room {}: catching up failed: {e}", room.info.name),
            };
            let mut caught = 0;
            for row in rows {
                let id = row.message.id;
                if !room.memory.remember(id) {
                    continue;
                }
                caught += 1;
                if row.reactions.is_empty() {
                    // The same for everyone (the usual case: a message
                    // stored during an outage has no reactions yet).
                    if let Some(anyone) = readers.first() {
                        let frame = encode(&ServerFrame::ChatMessage(view_of(&row, false, anyone)));
                        room.deliver(&frame, None, Some(id));
                    }
                    continue;
                }
                // Reactions say `me` to each reader: one frame per user.
                for reader in &readers {
                    let frame = encode(&ServerFrame::ChatMessage(view_of(&row, false, reader)));
                    room.deliver_to(&frame, Some(id), |user| user == reader);
                }
            }
            if caught > 0 {
                METRICS.caught_up(caught);
                log::info!(
                    "room {}: delivered {caught} messages from the database that the bus had not",
                    room.info.name
                );
            }
        })))
    }
}
