//! The room bus: where room events go between being published and being
//! delivered.
//!
//! A room never delivers its own events straight to its members: it
//! publishes them here and delivers what the bus hands back, in the order
//! the bus hands it back. With one process that order is the room's own;
//! with several processes the bus (Redis) imposes one order that every
//! instance sees. Either way the room code is the same, so swapping the
//! in-process [`LocalBus`] for a networked bus is a start-up decision only.

use crate::actors::room::Published;
use crate::domain::{MessageId, RoomName, Username};
use actix::Recipient;
use bytestring::ByteString;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// One event in one room, already encoded as the frame clients receive.
#[derive(Debug, Clone)]
pub struct RoomEvent {
    /// The encoded [`ServerFrame`](crate::protocol::ServerFrame).
    pub frame: ByteString,
    /// Members with this name do not receive it (e.g. their own typing).
    pub skip_user: Option<Username>,
    /// Set when the event is the arrival of a new message, so that a session
    /// can skip what it already got with its history.
    pub message_id: Option<MessageId>,
}

/// Proof of a subscription, needed to end it; a newer subscription for the
/// same room is not ended by an older one's token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subscription(u64);

/// What every bus implementation offers the rooms.
pub trait RoomBus: Send + Sync + 'static {
    /// Sends `event` to every subscriber of `room`, on every instance.
    fn publish(&self, room: &RoomName, event: RoomEvent);
    /// Routes `room`'s events on this instance to `to`.
    fn subscribe(&self, room: &RoomName, to: Recipient<Published>) -> Subscription;
    /// Ends a subscription made by [`subscribe`](RoomBus::subscribe).
    fn unsubscribe(&self, room: &RoomName, subscription: Subscription);
}

/// The bus as the actors hold it.
pub type Bus = Arc<dyn RoomBus>;

/// The in-process bus: one process, events handed straight to the room.
#[derive(Default)]
pub struct LocalBus {
    next: AtomicU64,
    rooms: Mutex<HashMap<RoomName, (Subscription, Recipient<Published>)>>,
}

impl LocalBus {
    /// A bus with no subscribers, ready to share.
    pub fn shared() -> Bus {
        Arc::new(LocalBus::default())
    }

    fn rooms(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<RoomName, (Subscription, Recipient<Published>)>> {
        // A panic while holding this lock leaves the map itself intact
        // (every operation is a single insert, remove or lookup).
        self.rooms
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }
}

impl RoomBus for LocalBus {
    fn publish(&self, room: &RoomName, event: RoomEvent) {
        let subscriber = self.rooms().get(room).map(|(_, to)| to.clone());
        match subscriber {
            Some(to) => to.do_send(Published {
                event: Arc::new(event),
            }),
            None => log::debug!("event for room {room} with no subscriber dropped"),
        }
    }

    fn subscribe(&self, room: &RoomName, to: Recipient<Published>) -> Subscription {
        let subscription = Subscription(self.next.fetch_add(1, Ordering::Relaxed));
        self.rooms().insert(room.clone(), (subscription, to));
        subscription
    }

    fn unsubscribe(&self, room: &RoomName, subscription: Subscription) {
        let mut rooms = self.rooms();
        if rooms.get(room).is_some_and(|(s, _)| *s == subscription) {
            rooms.remove(room);
        }
    }
}
