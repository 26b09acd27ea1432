//! The bus: where room events and private messages go between being
//! published and being delivered.
//!
//! A room never delivers its own events straight to its members: it
//! publishes them here and delivers what the bus hands back, in the order
//! the bus hands it back. With one process that order is the room's own;
//! with several processes the bus (Redis) imposes one order that every
//! instance sees. Either way the room code is the same, so swapping the
//! in-process [`LocalBus`] for the [Redis bridge](super::redis_bridge) is a
//! start-up decision only. Private messages travel the same way, addressed
//! to a user instead of a room, and so does the news that some of a user's
//! sessions ended (a logout, a password change), so that their sockets
//! close on every instance.
//!
//! A third kind of traffic is the news for sidebars (issue 13): one
//! [`Activity`] per new message, on one channel every instance listens to,
//! which each instance's registry hands to the local members of the room;
//! and notices for one user's modern sockets (their read marker moved,
//! they joined or left a room), on the user's channel.

use crate::domain::{EndedLogins, MessageId, RoomId, RoomName, Username};
use crate::protocol::{ServerFrame, encode};
use actix::{Message, Recipient};
use bytestring::ByteString;
use futures_util::future::{self, BoxFuture};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

/// One event in one room, already encoded as the frame clients receive.
#[derive(Debug, Clone)]
pub struct RoomEvent {
    /// The encoded [`ServerFrame`].
    pub frame: ByteString,
    /// Members with this name do not receive it (e.g. their own typing).
    pub skip_user: Option<Username>,
    /// Set when the event is the arrival of a new message, so that a session
    /// can skip what it already got with its history.
    pub message_id: Option<MessageId>,
    /// When it was published, to measure how long the bus took.
    pub published_at: SystemTime,
}

impl RoomEvent {
    /// `frame`, encoded once for every member, published now.
    pub fn now(
        frame: &ServerFrame,
        skip_user: Option<Username>,
        message_id: Option<MessageId>,
    ) -> Self {
        RoomEvent {
            frame: encode(frame),
            skip_user,
            message_id,
            published_at: SystemTime::now(),
        }
    }
}

/// What the bus hands a room.
#[derive(Message)]
#[rtype(result = "()")]
pub enum Published {
    /// An event, to be delivered to every member (shared by every delivery).
    Event(Arc<RoomEvent>),
    /// Events may have been missed since message `after` (an instance was
    /// cut off from the bus, or a queue overflowed): catch up from the
    /// database. `None`: since before anything the room remembers.
    Missed {
        /// The newest message known to have been delivered before.
        after: Option<MessageId>,
    },
}

/// Something for every connection of one user, on this instance.
#[derive(Message, Debug, Clone)]
#[rtype(result = "()")]
pub struct UserDelivery {
    /// The user.
    pub user: Username,
    /// What for.
    pub what: ToUser,
}

/// What the bus brings a user's connections.
#[derive(Debug, Clone)]
pub enum ToUser {
    /// An encoded frame for each of them.
    Frame(ByteString),
    /// An encoded frame for each of their legacy connections only: those
    /// that did not declare themselves newer clients (`?v=2`), such as the
    /// tutorial's `private_message`, which a newer client gets as a
    /// message in the conversation instead.
    Legacy(ByteString),
    /// An encoded frame for their modern connections only (`?v=2`): a
    /// frame type the tutorial's client does not know (`read_marker`).
    Notice(ByteString),
    /// The user joined (`member`) or left a room: every instance's
    /// registry updates which of its users are members where, and the
    /// user's modern connections get `notice` (their new `unread` list).
    Membership {
        /// The room.
        room: RoomId,
        /// Joined (`true`) or left.
        member: bool,
        /// The encoded frame for modern connections.
        notice: ByteString,
    },
    /// Some of the user's sessions ended: their connections are closed.
    SignedOut(EndedLogins),
}

/// A new message in a room, for the sidebars of its members on every
/// instance. Published once per message (not once per member): each
/// instance's registry knows which of its users are members.
#[derive(Message, Debug, Clone, PartialEq, Eq)]
#[rtype(result = "()")]
pub struct Activity {
    /// The room.
    pub room_id: RoomId,
    /// Its stored name (`@dm-<a>-<b>` for a direct conversation).
    pub room: String,
    /// The new message.
    pub message_id: MessageId,
    /// Its author (who is not told of it).
    pub author: Username,
    /// Its first characters.
    pub excerpt: String,
    /// The users it mentions (who may read the room).
    pub mentioned: Vec<Username>,
}

/// News of a moderation action, for every instance (issue 14). The
/// database holds what changed; the news only says when to look, and who
/// to remove at once when nothing in the database says so (a kick).
#[derive(Message, Debug, Clone, PartialEq, Eq)]
#[rtype(result = "()")]
pub enum ModerationNews {
    /// Something that decides who may be where or do what changed (a
    /// mute, a ban, a lock, a deactivation, a room's access or name, ended
    /// sessions): re-read it now for every open connection, as the
    /// session sweep does every `CONFAB_SESSION_SWEEP_SECS`.
    Recheck,
    /// Close `user`'s connections to `room` (they may come back).
    Kick {
        /// The room's stored name.
        room: RoomName,
        /// Who.
        user: Username,
        /// Why, as the user is shown it.
        reason: String,
    },
}

/// Proof of a subscription, needed to end it; a newer subscription for the
/// same room is not ended by an older one's token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Subscription(u64);

impl Subscription {
    /// A token never handed out before in this process.
    pub fn next() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        Subscription(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

/// A new subscription and a future that completes once events published
/// anywhere from then on are sure to arrive. A room waits for it before
/// loading anyone's history, so nothing falls between history and live.
pub struct Subscribed {
    /// Ends the subscription.
    pub token: Subscription,
    /// Completes when the subscription is in effect.
    pub ready: BoxFuture<'static, ()>,
}

/// Who is online in a room across every instance, as seen by a user's
/// arrival.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arrival {
    /// The user was online on no instance before: announce them.
    pub first: bool,
    /// Everyone online in the room, the newcomer included, sorted.
    pub online: Vec<Username>,
}

/// What every bus implementation offers the actors.
pub trait RoomBus: Send + Sync + 'static {
    /// Sends `event` to every subscriber of `room`, on every instance.
    fn publish(&self, room: &RoomName, event: RoomEvent);
    /// Routes `room`'s events on this instance to `to`.
    fn subscribe(&self, room: &RoomName, to: Recipient<Published>) -> Subscribed;
    /// Ends a subscription made by [`subscribe`](RoomBus::subscribe).
    fn unsubscribe(&self, room: &RoomName, subscription: Subscription);
    /// Sends `what` to the connections of `user` on every instance;
    /// resolves to whether any instance had one.
    fn send_to_user(&self, user: &Username, what: ToUser) -> BoxFuture<'static, bool>;
    /// Routes frames for `user` on this instance to `to`.
    fn watch_user(&self, user: &Username, to: Recipient<UserDelivery>) -> Subscribed;
    /// Ends a subscription made by [`watch_user`](RoomBus::watch_user).
    fn unwatch_user(&self, user: &Username, subscription: Subscription);
    /// Tells every instance that the sessions `ended` of `user` are over,
    /// so that their connections close. Best effort: an instance the news
    /// does not reach closes them at its next session sweep.
    fn sign_out(&self, user: &Username, ended: EndedLogins);
    /// Tells `user`'s connections on every instance `what` (a notice for
    /// their modern sockets). Best effort: an instance the news does not
    /// reach misses it (a page reloaded gets a fresh snapshot).
    fn tell_user(&self, user: &Username, what: ToUser);
    /// Sends `activity` to every instance's activity watcher (its
    /// registry), this one's included.
    fn publish_activity(&self, activity: Activity);
    /// Routes every instance's activity to `to` (this instance's registry).
    fn watch_activity(&self, to: Recipient<Activity>);
    /// Sends `news` to every instance's moderation watcher, this one's
    /// included.
    fn publish_moderation(&self, news: ModerationNews);
    /// Routes every instance's moderation news to `to`.
    fn watch_moderation(&self, to: Recipient<ModerationNews>);
    /// Whether the bus can reach every instance right now.
    fn is_healthy(&self) -> bool;
    /// Whether other instances may store messages in the same rooms (then
    /// a room checks the database for any the bus did not bring).
    fn is_shared(&self) -> bool;
    /// `user` opened a connection to `room` here (`local_first`: their
    /// first on this instance). `None` means there is no shared view of
    /// presence (one process, or the bus is down): the caller's local view
    /// is the truth.
    fn arrive(
        &self,
        room: &RoomName,
        user: &Username,
        local_first: bool,
    ) -> BoxFuture<'static, Option<Arrival>>;
    /// `user`'s last connection to `room` on this instance closed; resolves
    /// to whether they are gone from every instance (`None`: no shared
    /// view, as for [`arrive`](RoomBus::arrive)).
    fn depart(&self, room: &RoomName, user: &Username) -> BoxFuture<'static, Option<bool>>;
    /// Every room with anyone online on any instance, and how many
    /// distinct users (`None`: no shared view). One request, whose cost
    /// grows with the rooms that have members, not with all rooms.
    fn online_rooms(&self) -> BoxFuture<'static, Option<HashMap<RoomName, usize>>>;
}

/// The bus as the actors hold it.
pub type Bus = Arc<dyn RoomBus>;

/// Subscribers by key, each with the token that may remove it.
pub(crate) struct Routes<K, M: Message<Result = ()> + Send>(
    Mutex<HashMap<K, (Subscription, Recipient<M>)>>,
);

impl<K: std::hash::Hash + Eq + Clone, M: Message<Result = ()> + Send> Routes<K, M> {
    pub(crate) fn new() -> Self {
        Routes(Mutex::new(HashMap::new()))
    }

    fn map(&self) -> MutexGuard<'_, HashMap<K, (Subscription, Recipient<M>)>> {
        // Every operation is a single insert, remove or lookup, so a panic
        // elsewhere while holding the lock cannot leave the map half-changed.
        self.0.lock().unwrap_or_else(|poison| poison.into_inner())
    }

    /// Adds (or replaces) the route for `key`.
    pub(crate) fn insert(&self, key: K, to: Recipient<M>) -> Subscription {
        let token = Subscription::next();
        self.map().insert(key, (token, to));
        token
    }

    /// Removes the route for `key` if `token` is still the current one;
    /// true when it did.
    pub(crate) fn remove(&self, key: &K, token: Subscription) -> bool {
        let mut map = self.map();
        if map.get(key).is_some_and(|(t, _)| *t == token) {
            map.remove(key);
            true
        } else {
            false
        }
    }

    /// Hands `message` to the recipient for `key`, if there is one here;
    /// false when there is none.
    pub(crate) fn send(&self, key: &K, message: M) -> bool {
        // Cloned out, so the lock is not held while sending.
        let Some(to) = self.map().get(key).map(|(_, to)| to.clone()) else {
            return false;
        };
        to.do_send(message);
        true
    }

    /// Every key with a route.
    pub(crate) fn keys(&self) -> Vec<K> {
        self.map().keys().cloned().collect()
    }
}

impl Routes<RoomName, Published> {
    /// Hands `event` to this instance's room, if it has one here.
    pub(crate) fn deliver(&self, room: &RoomName, event: RoomEvent) -> bool {
        self.send(room, Published::Event(Arc::new(event)))
    }
}

impl Routes<Username, UserDelivery> {
    /// Hands `what` to this instance's connections of `user`; false when
    /// there are none here.
    pub(crate) fn hand(&self, user: &Username, what: ToUser) -> bool {
        self.send(
            user,
            UserDelivery {
                user: user.clone(),
                what,
            },
        )
    }
}

/// The in-process bus: one process, events handed straight to the room.
pub struct LocalBus {
    rooms: Routes<RoomName, Published>,
    users: Routes<Username, UserDelivery>,
    /// The registry, which hands activity to the members of each room.
    activity: Routes<(), Activity>,
    /// Who acts on moderation news.
    moderation: Routes<(), ModerationNews>,
}

impl LocalBus {
    /// A bus with no subscribers, ready to share.
    pub fn shared() -> Bus {
        Arc::new(LocalBus {
            rooms: Routes::new(),
            users: Routes::new(),
            activity: Routes::new(),
            moderation: Routes::new(),
        })
    }
}

impl RoomBus for LocalBus {
    fn publish(&self, room: &RoomName, event: RoomEvent) {
        if !self.rooms.deliver(room, event) {
            log::debug!("event for room {room} with no subscriber dropped");
        }
    }

    fn subscribe(&self, room: &RoomName, to: Recipient<Published>) -> Subscribed {
        Subscribed {
            token: self.rooms.insert(room.clone(), to),
            ready: Box::pin(future::ready(())),
        }
    }

    fn unsubscribe(&self, room: &RoomName, subscription: Subscription) {
        self.rooms.remove(room, subscription);
    }

    fn send_to_user(&self, user: &Username, what: ToUser) -> BoxFuture<'static, bool> {
        Box::pin(future::ready(self.users.hand(user, what)))
    }

    fn watch_user(&self, user: &Username, to: Recipient<UserDelivery>) -> Subscribed {
        Subscribed {
            token: self.users.insert(user.clone(), to),
            ready: Box::pin(future::ready(())),
        }
    }

    fn unwatch_user(&self, user: &Username, subscription: Subscription) {
        self.users.remove(user, subscription);
    }

    fn sign_out(&self, user: &Username, ended: EndedLogins) {
        self.users.hand(user, ToUser::SignedOut(ended));
    }

    fn tell_user(&self, user: &Username, what: ToUser) {
        self.users.hand(user, what);
    }

    fn publish_activity(&self, activity: Activity) {
        self.activity.send(&(), activity);
    }

    fn watch_activity(&self, to: Recipient<Activity>) {
        self.activity.insert((), to);
    }

    fn publish_moderation(&self, news: ModerationNews) {
        self.moderation.send(&(), news);
    }

    fn watch_moderation(&self, to: Recipient<ModerationNews>) {
        self.moderation.insert((), to);
    }

    fn is_healthy(&self) -> bool {
        true
    }

    fn is_shared(&self) -> bool {
        false
    }

    fn arrive(&self, _: &RoomName, _: &Username, _: bool) -> BoxFuture<'static, Option<Arrival>> {
        Box::pin(future::ready(None))
    }

    fn depart(&self, _: &RoomName, _: &Username) -> BoxFuture<'static, Option<bool>> {
        Box::pin(future::ready(None))
    }

    fn online_rooms(&self) -> BoxFuture<'static, Option<HashMap<RoomName, usize>>> {
        Box::pin(future::ready(None))
    }
}
