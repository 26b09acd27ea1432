//! Writes in flight: many at once, published in the order they came.
//!
//! The room does not wait for one write to be stored before it takes the
//! next: it queues each with the database's [writer](crate::db::writer),
//! which stores the writes of every room in batches, one durable commit
//! for many. The writer stores a room's writes in the order the room
//! queued them (so ids follow that order), and the room publishes each
//! result in that same order, however the answers come back: a write that
//! is answered early waits here for those queued before it. So ids, the
//! log and the broadcast still agree in one order, and a message is
//! broadcast only once its commit is durable.
//!
//! A join stays one atomic step of the room (see `membership.rs`): the
//! answers of writes that complete while a newcomer's history loads are
//! published after it has joined, and the session skips the live copy of
//! any message its history already carried, so there is no gap and no
//! overlap.

use super::{Room, RoomError};
use crate::db::DbConnection;
use actix::prelude::*;
use std::collections::VecDeque;
use tokio::sync::oneshot;

/// What to do with a stored write once every write before it is done:
/// publish it and answer whoever asked.
type Finish = Box<dyn FnOnce(&mut Room)>;

/// The room's writes in flight, oldest first.
#[derive(Default)]
pub(super) struct PendingWrites {
    /// The sequence number of the oldest write in `slots`.
    front: u64,
    /// One per write in flight: `None` until it is answered.
    slots: VecDeque<Option<Finish>>,
}

impl PendingWrites {
    /// A place for the next write, in order; its sequence number.
    fn reserve(&mut self) -> u64 {
        self.slots.push_back(None);
        self.front + self.slots.len() as u64 - 1
    }

    /// Write `seq` is answered.
    fn complete(&mut self, seq: u64, finish: Finish) {
        if let Some(slot) = seq
            .checked_sub(self.front)
            .and_then(|at| usize::try_from(at).ok())
            .and_then(|at| self.slots.get_mut(at))
        {
            *slot = Some(finish);
        }
    }

    /// The oldest write, if it is answered.
    fn pop_ready(&mut self) -> Option<Finish> {
        if !matches!(self.slots.front(), Some(Some(_))) {
            return None;
        }
        self.front += 1;
        self.slots.pop_front().flatten()
    }

    /// No write is in flight.
    pub(super) fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }
}

impl Room {
    /// Queues `store` with the database's writer as the room's next write
    /// and, once it and every write queued before it are done, hands its
    /// result to `announce` (which publishes what it stored) and answers
    /// with what `announce` returns. Does not wait: the room takes its next
    /// message at once.
    pub(super) fn write_in_order<T, A>(
        &mut self,
        ctx: &mut Context<Self>,
        store: impl FnMut(&mut DbConnection) -> Result<T, RoomError> + Send + 'static,
        announce: impl FnOnce(&mut Room, T) -> A + 'static,
    ) -> ResponseFuture<Result<A, RoomError>>
    where
        T: Send + 'static,
        A: 'static,
    {
        let seq = self.pending.reserve();
        let stored = self.db.write(store);
        let (answer, answered) = oneshot::channel();
        ctx.spawn(stored.into_actor(self).map(move |stored, room, ctx| {
            let finish: Finish = Box::new(move |room| {
                let _ = answer.send(stored.map(|value| announce(room, value)));
            });
            room.pending.complete(seq, finish);
            while let Some(finish) = room.pending.pop_ready() {
                finish(room);
            }
            if room.closing && room.pending.is_empty() {
                ctx.stop();
            }
        }));
        Box::pin(async move { answered.await.unwrap_or(Err(RoomError::Closed)) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_leave_in_the_order_writes_came() {
        let mut pending = PendingWrites::default();
        let seqs: Vec<u64> = (0..3).map(|_| pending.reserve()).collect();
        assert_eq!(seqs, [0, 1, 2]);
        pending.complete(2, Box::new(|_| {}));
        pending.complete(1, Box::new(|_| {}));
        assert!(pending.pop_ready().is_none(), "0 is not answered yet");
        pending.complete(0, Box::new(|_| {}));
        assert!(pending.pop_ready().is_some());
        assert!(pending.pop_ready().is_some());
        assert!(pending.pop_ready().is_some());
        assert!(pending.pop_ready().is_none());
        assert!(pending.is_empty());
        assert_eq!(pending.reserve(), 3, "numbers go on");
    }
}
