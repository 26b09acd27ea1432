//! [`RedisBus`]: the bus the actors hold when `REDIS_URL` is set, in front
//! of the [`RedisBridge`] actor.
//!
//! It implements [`RoomBus`] by handing work to the bridge: publishing is a
//! `do_send` into the bridge's batch queue, subscribing a `Listen`, and the
//! questions about presence go through [`RedisBus::ask`]. The routing
//! tables it shares with the bridge let an incoming event reach its room
//! without another trip through a mailbox.

use super::presence::{Arrive, Depart, OnlineRooms};
use super::wire::{self, Channels};
use super::{
    BACKOFF_MIN, BridgeError, BusKey, Fallback, Listen, Publish, RedisBridge, SUBSCRIBE_TIMEOUT,
    Unlisten,
};
use crate::actors::bus::{
    Activity, Arrival, ModerationNews, Published, RoomBus, RoomEvent, Routes, Subscribed,
    Subscription, ToUser, UserDelivery,
};
use crate::domain::{EndedLogins, RoomName, Username};
use crate::metrics::METRICS;
use actix::prelude::*;
use futures_util::future::BoxFuture;
use std::collections::{HashMap, HashSet, VecDeque};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::oneshot;

/// The bus the actors use when `REDIS_URL` is set.
pub struct RedisBus {
    bridge: Addr<RedisBridge>,
    channels: Channels,
    rooms: Arc<Routes<RoomName, Published>>,
    users: Arc<Routes<Username, UserDelivery>>,
    activity: Arc<Routes<(), Activity>>,
    moderation: Arc<Routes<(), ModerationNews>>,
    healthy: Arc<AtomicBool>,
}

impl RedisBus {
    /// Starts the bridge actor for `url` and returns the bus in front of it;
    /// `key` seals and opens every payload. Connecting happens in the
    /// background: the server starts even while Redis is down.
    pub fn start(
        url: &str,
        ca_file: Option<&Path>,
        prefix: &str,
        presence_ttl: Duration,
        key: BusKey,
    ) -> Result<Arc<RedisBus>, BridgeError> {
        let client = client_for(url, ca_file)?;
        let channels = Channels::new(prefix);
        let rooms = Arc::new(Routes::new());
        let users = Arc::new(Routes::new());
        let activity = Arc::new(Routes::new());
        let moderation = Arc::new(Routes::new());
        let healthy = Arc::new(AtomicBool::new(false));
        let bridge = RedisBridge {
            client,
            key,
            channels: channels.clone(),
            rooms: rooms.clone(),
            users: users.clone(),
            activity: activity.clone(),
            moderation: moderation.clone(),
            healthy: healthy.clone(),
            generation: 0,
            sink: None,
            publisher: None,
            queue: VecDeque::new(),
            flushing: false,
            backoff: BACKOFF_MIN,
            down_since: None,
            last_seen: HashMap::new(),
            missed: HashMap::new(),
            instance: format!("{:016x}", rand::random::<u64>()),
            presence: HashSet::new(),
            presence_ttl,
        }
        .start();
        Ok(Arc::new(RedisBus {
            bridge,
            channels,
            rooms,
            users,
            activity,
            moderation,
            healthy,
        }))
    }

    /// Puts a question to the bridge, which answers through `reply`; `None`
    /// if the bridge is gone or Redis could not answer.
    fn ask<T, M>(
        &self,
        message: impl FnOnce(oneshot::Sender<Option<T>>) -> M,
    ) -> BoxFuture<'static, Option<T>>
    where
        T: Send + 'static,
        M: Message<Result = ()> + Send + 'static,
        RedisBridge: Handler<M>,
    {
        let (reply, answer) = oneshot::channel();
        self.bridge.do_send(message(reply));
        Box::pin(async move { answer.await.ok().flatten() })
    }
}

/// The client for `url`: plain, or TLS (`rediss://`) checked against the
/// system's roots or, given `ca_file`, against that CA only.
fn client_for(url: &str, ca_file: Option<&Path>) -> Result<redis::Client, BridgeError> {
    // rustls needs its cryptography chosen once per process; a second call
    // (another instance in the same process) finds it chosen, which is fine.
    // ring, because aws-lc-rs (rustls's post-quantum choice) is a long C
    // and CMake build; the classical key exchange ring offers is what
    // Redis's own TLS (OpenSSL) negotiates with most clients today.
    #[allow(deprecated)]
    let _ = rustls::crypto::ring::default_provider().install_default();
    let Some(path) = ca_file else {
        return Ok(redis::Client::open(url)?);
    };
    let info = redis::IntoConnectionInfo::into_connection_info(url)?;
    if !matches!(info.addr(), redis::ConnectionAddr::TcpTls { .. }) {
        return Err(BridgeError::CaWithoutTls);
    }
    let pem = std::fs::read(path).map_err(|source| BridgeError::CaFile {
        path: path.to_owned(),
        source,
    })?;
    let certificates = redis::TlsCertificates {
        client_tls: None,
        root_cert: Some(pem),
    };
    Ok(redis::Client::build_with_tls(info, certificates)?)
}

impl RoomBus for RedisBus {
    fn publish(&self, room: &RoomName, event: RoomEvent) {
        if !self.is_healthy() {
            // Alone until Redis is back: at least this instance's members
            // hear it (and it is stored for everyone; the other instances'
            // rooms catch up when the bridge is back).
            METRICS.bus_local_only();
            self.rooms.deliver(room, event);
            return;
        }
        self.bridge.do_send(Publish {
            channel: self.channels.room(room),
            payload: wire::encode_event(&event),
            fallback: Fallback::Room(room.clone(), event),
        });
    }

    fn subscribe(&self, room: &RoomName, to: Recipient<Published>) -> Subscribed {
        let token = self.rooms.insert(room.clone(), to);
        self.listen(self.channels.room(room), token)
    }

    fn unsubscribe(&self, room: &RoomName, subscription: Subscription) {
        if self.rooms.remove(room, subscription) {
            self.bridge.do_send(Unlisten {
                channel: self.channels.room(room),
            });
        }
    }

    fn send_to_user(&self, user: &Username, what: ToUser) -> BoxFuture<'static, bool> {
        if !self.is_healthy() {
            let delivered = self.users.hand(user, what);
            return Box::pin(futures_util::future::ready(delivered));
        }
        let (done, receivers) = oneshot::channel();
        self.bridge.do_send(Publish {
            channel: self.channels.user(user),
            payload: wire::encode_user(&what),
            fallback: Fallback::User(user.clone(), what, done),
        });
        Box::pin(async move { receivers.await.unwrap_or(false) })
    }

    fn watch_user(&self, user: &Username, to: Recipient<UserDelivery>) -> Subscribed {
        let token = self.users.insert(user.clone(), to);
        self.listen(self.channels.user(user), token)
    }

    fn unwatch_user(&self, user: &Username, subscription: Subscription) {
        if self.users.remove(user, subscription) {
            self.bridge.do_send(Unlisten {
                channel: self.channels.user(user),
            });
        }
    }

    fn sign_out(&self, user: &Username, ended: EndedLogins) {
        if !self.is_healthy() {
            // The other instances' session sweeps close theirs.
            self.users.hand(user, ToUser::SignedOut(ended));
            return;
        }
        let what = ToUser::SignedOut(ended);
        self.bridge.do_send(Publish {
            channel: self.channels.user(user),
            payload: wire::encode_user(&what),
            fallback: Fallback::SignedOut(user.clone(), ended),
        });
    }

    fn tell_user(&self, user: &Username, what: ToUser) {
        if !self.is_healthy() {
            self.users.hand(user, what);
            return;
        }
        self.bridge.do_send(Publish {
            channel: self.channels.user(user),
            payload: wire::encode_user(&what),
            fallback: Fallback::Tell(user.clone(), what),
        });
    }

    fn publish_activity(&self, activity: Activity) {
        if !self.is_healthy() {
            // This instance's members at least hear of it.
            self.activity.send(&(), activity);
            return;
        }
        self.bridge.do_send(Publish {
            channel: self.channels.activity(),
            payload: wire::encode_activity(&activity),
            fallback: Fallback::Activity(activity),
        });
    }

    fn watch_activity(&self, to: Recipient<Activity>) {
        // The bridge listens to the activity channel from its first
        // connection on, whether anyone watches yet or not.
        self.activity.insert((), to);
    }

    fn publish_moderation(&self, news: ModerationNews) {
        if !self.is_healthy() {
            // This instance acts at once; the others' session sweeps find
            // what changed in the database (a kick reaches only this
            // instance's sockets until Redis is back).
            self.moderation.send(&(), news);
            return;
        }
        self.bridge.do_send(Publish {
            channel: self.channels.moderation(),
            payload: wire::encode_moderation(&news),
            fallback: Fallback::Moderation(news),
        });
    }

    fn watch_moderation(&self, to: Recipient<ModerationNews>) {
        // The bridge listens to the moderation channel from its first
        // connection on, whether anyone watches yet or not.
        self.moderation.insert((), to);
    }

    fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Acquire)
    }

    fn is_shared(&self) -> bool {
        true
    }

    fn arrive(
        &self,
        room: &RoomName,
        user: &Username,
        local_first: bool,
    ) -> BoxFuture<'static, Option<Arrival>> {
        self.ask(|reply| Arrive {
            room: room.clone(),
            user: user.clone(),
            local_first,
            reply,
        })
    }

    fn depart(&self, room: &RoomName, user: &Username) -> BoxFuture<'static, Option<bool>> {
        self.ask(|reply| Depart {
            room: room.clone(),
            user: user.clone(),
            reply,
        })
    }

    fn online_rooms(&self) -> BoxFuture<'static, Option<HashMap<RoomName, usize>>> {
        self.ask(|reply| OnlineRooms { reply })
    }
}

impl RedisBus {
    /// Subscribes this instance to `channel`; ready once Redis confirms
    /// (or at once while Redis is down: the reconnection subscribes).
    fn listen(&self, channel: String, token: Subscription) -> Subscribed {
        let (done, ready) = oneshot::channel();
        self.bridge.do_send(Listen { channel, done });
        Subscribed {
            token,
            ready: Box::pin(async move {
                let _ = tokio::time::timeout(SUBSCRIBE_TIMEOUT, ready).await;
            }),
        }
    }
}
