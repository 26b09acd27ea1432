//! What a room remembers of the messages it delivered, so that catching up
//! from the database sends each message once and never floods members
//! with old ones.
//!
//! Message ids grow as messages are stored, but with several instances they
//! are not delivered in id order, so the room keeps the ids themselves
//! (the newest [`REMEMBERED`]) and a watermark below which everything counts
//! as had: what came before the room's first join burst, and what it has
//! forgotten to stay bounded. A catch-up looks at stored ids above the
//! watermark and delivers those the room has not. While the bus works, a
//! stored message it did not deliver may still be on its way, so the
//! settled check only delivers a "suspect" that is still missing
//! [`SETTLE`] after it was first seen, by this instance's own clock.

use crate::domain::MessageId;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// Ids of delivered messages a room remembers: about 40 s of the busiest
/// room measured, a few hundred KiB at most.
pub(super) const REMEMBERED: usize = 16_384;

/// How long a stored message must have been missing before the settled
/// check takes it as lost rather than on its way: far more than the bus's
/// lag, so a check never overtakes the bus (which would break the one
/// order).
pub(super) const SETTLE: Duration = Duration::from_secs(3);

/// Most suspects kept at once.
const MAX_SUSPECTS: usize = 10_000;

/// A room's memory of what its members have had.
#[derive(Debug)]
pub(super) struct Memory {
    /// The newest messages the room delivered, at most [`REMEMBERED`].
    delivered: BTreeSet<MessageId>,
    /// Messages up to this id count as had.
    forgotten: MessageId,
    /// The newest message id the room knows of.
    newest: MessageId,
    /// Where the next settled check starts; `None` until the first join
    /// burst tells the room where the log stands.
    checked: Option<MessageId>,
    /// Stored messages found undelivered, and when they first were.
    suspects: BTreeMap<MessageId, Instant>,
}

impl Default for Memory {
    fn default() -> Self {
        Memory {
            delivered: BTreeSet::new(),
            forgotten: MessageId(0),
            newest: MessageId(0),
            checked: None,
            suspects: BTreeMap::new(),
        }
    }
}

impl Memory {
    /// Notes that members have had message `id`; false if they already had
    /// (or it is older than anything the room still remembers).
    pub(super) fn remember(&mut self, id: MessageId) -> bool {
        if id <= self.forgotten || !self.delivered.insert(id) {
            return false;
        }
        if self.delivered.len() > REMEMBERED
            && let Some(oldest) = self.delivered.pop_first()
        {
            self.forgotten = oldest;
            if oldest == id {
                return false;
            }
        }
        self.newest = self.newest.max(id);
        true
    }

    /// Takes in where the log stands from a join burst of `ids` (oldest
    /// first): the first one anchors the room (what is older counts as
    /// had), later ones only move `newest`. Not marked delivered: the
    /// other members may still be waiting for their live copies.
    pub(super) fn note_burst(&mut self, ids: &[MessageId]) {
        if let Some(&last) = ids.last() {
            self.newest = self.newest.max(last);
        }
        if self.checked.is_none() {
            let before_first = ids.first().map_or(self.newest, |id| id.previous());
            self.forgotten = self.forgotten.max(before_first);
            self.checked = Some(self.newest);
        }
    }

    /// Whether a join burst has anchored the room yet.
    pub(super) fn is_anchored(&self) -> bool {
        self.checked.is_some()
    }

    /// The newest message id known.
    pub(super) fn newest(&self) -> MessageId {
        self.newest
    }

    /// Below this a catch-up never looks.
    pub(super) fn forgotten(&self) -> MessageId {
        self.forgotten
    }

    /// Where a catch-up for events missed since message `after` (`None`:
    /// since before anything remembered) starts.
    pub(super) fn missed_since(&self, after: Option<MessageId>) -> MessageId {
        [after, self.delivered.first().copied()]
            .into_iter()
            .flatten()
            .fold(self.newest, MessageId::min)
    }

    /// Where the next settled check starts, moving the mark on to now;
    /// `None` before the room is anchored.
    pub(super) fn next_settled_check(&mut self) -> Option<MessageId> {
        let from = self.checked?;
        self.checked = Some(self.newest);
        Some(from)
    }

    /// Of the stored `ids`, those members have not had.
    pub(super) fn missing(&self, ids: impl IntoIterator<Item = MessageId>) -> Vec<MessageId> {
        ids.into_iter()
            .filter(|id| !had(&self.delivered, self.forgotten, *id))
            .collect()
    }

    /// Takes `missing` ids in as suspects (at `now`), and returns those
    /// missing for [`SETTLE`] and still not delivered.
    pub(super) fn settle(&mut self, missing: Vec<MessageId>, now: Instant) -> Vec<MessageId> {
        for id in missing {
            self.suspects.entry(id).or_insert(now);
        }
        let (delivered, forgotten) = (&self.delivered, self.forgotten);
        self.suspects
            .retain(|id, _| !had(delivered, forgotten, *id));
        while self.suspects.len() > MAX_SUSPECTS {
            self.suspects.pop_first();
        }
        let due: Vec<MessageId> = self
            .suspects
            .iter()
            .filter(|(_, since)| now.duration_since(**since) >= SETTLE)
            .map(|(id, _)| *id)
            .collect();
        for id in &due {
            self.suspects.remove(id);
        }
        due
    }
}

/// Whether members have had message `id`: delivered, or at or before what
/// the room no longer remembers. (A free function, so that `settle` can
/// call it while it changes the suspects.)
fn had(delivered: &BTreeSet<MessageId>, forgotten: MessageId, id: MessageId) -> bool {
    id <= forgotten || delivered.contains(&id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(range: std::ops::RangeInclusive<i64>) -> Vec<MessageId> {
        range.map(MessageId).collect()
    }

    #[test]
    fn a_message_is_delivered_once() {
        let mut memory = Memory::default();
        memory.note_burst(&[]);
        assert!(memory.remember(MessageId(5)));
        assert!(!memory.remember(MessageId(5)));
        assert_eq!(memory.newest(), MessageId(5));
    }

    #[test]
    fn what_came_before_the_first_burst_counts_as_had() {
        let mut memory = Memory::default();
        memory.note_burst(&ids(11..=20));
        assert!(memory.is_anchored());
        // The burst's messages themselves may still come live, once.
        assert!(memory.remember(MessageId(15)));
        assert!(!memory.remember(MessageId(10)), "older than the burst");
        assert_eq!(
            memory.missing(ids(5..=22)),
            ids(11..=14)
                .into_iter()
                .chain(ids(16..=22))
                .collect::<Vec<_>>()
        );
        // A later burst does not move the watermark.
        memory.note_burst(&ids(13..=22));
        assert_eq!(memory.forgotten(), MessageId(10));
        assert_eq!(memory.newest(), MessageId(22));
    }

    #[test]
    fn memory_is_bounded_and_what_it_forgets_is_never_sent_again() {
        let mut memory = Memory::default();
        memory.note_burst(&[]);
        let last = REMEMBERED as i64 + 100;
        for id in 1..=last {
            assert!(memory.remember(MessageId(id)));
        }
        assert_eq!(memory.forgotten(), MessageId(100));
        assert!(!memory.remember(MessageId(50)), "forgotten counts as had");
        assert!(memory.missing(ids(1..=last)).is_empty());
        // A catch-up for "everything since 10" starts at the watermark.
        assert_eq!(memory.missed_since(Some(MessageId(10))), MessageId(10));
        assert!(memory.missing(ids(10..=last + 1)) == [MessageId(last + 1)]);
    }

    #[test]
    fn a_catch_up_starts_at_the_oldest_of_what_was_missed_and_remembered() {
        let mut memory = Memory::default();
        memory.note_burst(&ids(1..=3));
        for id in [7, 9, 12] {
            memory.remember(MessageId(id));
        }
        assert_eq!(memory.missed_since(None), MessageId(7));
        assert_eq!(memory.missed_since(Some(MessageId(5))), MessageId(5));
        assert_eq!(memory.missed_since(Some(MessageId(10))), MessageId(7));
    }

    #[test]
    fn a_suspect_is_delivered_only_once_it_has_been_missing_long_enough() {
        let mut memory = Memory::default();
        memory.note_burst(&ids(1..=1));
        let t0 = Instant::now();
        assert!(
            memory
                .settle(vec![MessageId(2), MessageId(3)], t0)
                .is_empty()
        );
        // 3 arrives through the bus meanwhile; 2 never does.
        memory.remember(MessageId(3));
        let later = t0 + SETTLE;
        assert_eq!(
            memory.settle(memory.missing(ids(2..=3)), later),
            [MessageId(2)]
        );
        assert!(
            memory.settle(Vec::new(), later).is_empty(),
            "delivered once"
        );
    }

    #[test]
    fn the_settled_check_walks_forward() {
        let mut memory = Memory::default();
        assert_eq!(memory.next_settled_check(), None, "not before a burst");
        memory.note_burst(&ids(1..=4));
        assert_eq!(memory.next_settled_check(), Some(MessageId(4)));
        memory.remember(MessageId(8));
        assert_eq!(memory.next_settled_check(), Some(MessageId(4)));
        assert_eq!(memory.next_settled_check(), Some(MessageId(8)));
    }
}
