//! The Redis bridge: the bus that joins several confab instances, as
//! channels_redis joins Django Channels workers.
//!
//! Every room event goes through Redis, the publishing instance's own
//! members included: Redis delivers a channel's messages to every
//! subscriber in the order it received them, so all members of a room, on
//! every instance, see that room's events in one order.
//!
//! - [`RedisBus`] (`redis_bus.rs`) is what the actors hold (the
//!   [`RoomBus`](crate::actors::bus::RoomBus) trait). Routing tables are shared with the bridge, so
//!   delivering an incoming event is a lookup and a `do_send`, not a round
//!   trip through another mailbox.
//! - [`RedisBridge`] is the actor that owns the two Redis connections: one
//!   subscribed to the channels this instance has listeners for (a room's
//!   channel while the room has local members, a user's while the user has
//!   local connections, and always the activity and moderation channels),
//!   one that publishes, in batches, one batch in
//!   flight at a time so that order is kept.
//! - `wire` is what travels (channel names, events as bytes), `seal` the
//!   tag that authenticates it; `presence` is who is online, shared
//!   through Redis.
//!
//! When Redis is unreachable the server carries on alone: events are
//! delivered to this instance's members only (messages are stored either
//! way), rooms fetch other instances' messages from the database, the
//! outage is logged and reported by `/readyz`, and the bridge reconnects
//! with backoff and resubscribes by itself. Once back, it tells every
//! instance's rooms that events may have been missed (a "missed" notice), so
//! members who stayed connected anywhere get every message stored in
//! between. The same notice follows any event that only reached this
//! instance because a queue was full.
//!
//! (Over 500 lines: the bridge actor is one state machine — connections,
//! subscriptions, the ordered publish queue, outages and their catch-up —
//! and splitting it would spread that state over files; the bus the actors
//! call, the wire format and presence already live apart.)

mod presence;
mod redis_bus;
mod seal;
mod wire;

pub use redis_bus::RedisBus;
pub use seal::{BusKey, Rejected};

use crate::actors::bus::{
    Activity, ModerationNews, Published, RoomEvent, Routes, ToUser, UserDelivery,
};
use crate::domain::EndedLogins;
use crate::domain::{MessageId, RoomName, Username};
use crate::metrics::METRICS;
use crate::protocol::ServerFrame;
use actix::prelude::*;
use futures_util::StreamExt;
use redis::aio::{MultiplexedConnection, PubSubSink};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};
use tokio::sync::oneshot;
use wire::{Channels, Topic, Wire};

/// Events waiting to be published beyond which Redis is considered stalled
/// and events are delivered locally instead of queued without end.
const MAX_QUEUED: usize = 16_384;

/// Most events sent to Redis in one pipeline.
const MAX_BATCH: usize = 512;

/// How long a room waits for its subscription before it serves anyway.
const SUBSCRIBE_TIMEOUT: Duration = Duration::from_secs(5);

/// Connecting (or any one Redis request) longer than this counts as down.
const REDIS_TIMEOUT: Duration = Duration::from_secs(5);

/// Reconnection backoff: first and longest wait.
const BACKOFF_MIN: Duration = Duration::from_millis(250);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// Runs one Redis request, counting one that takes longer than
/// [`REDIS_TIMEOUT`] as failed.
async fn timed<T>(request: impl Future<Output = redis::RedisResult<T>>) -> Result<T, String> {
    match tokio::time::timeout(REDIS_TIMEOUT, request).await {
        Ok(answer) => answer.map_err(|e| e.to_string()),
        Err(_) => Err("timed out".to_owned()),
    }
}

/// Why the bridge could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    /// `REDIS_URL` does not parse.
    #[error("REDIS_URL is not a valid Redis URL: {0}")]
    Url(#[from] redis::RedisError),
    /// `CONFAB_REDIS_CA_FILE` cannot be read.
    #[error("CONFAB_REDIS_CA_FILE {path}: {source}")]
    CaFile {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    /// A CA file was given for a URL without TLS.
    #[error("CONFAB_REDIS_CA_FILE is set but REDIS_URL is not a rediss:// (TLS) URL")]
    CaWithoutTls,
}

/// `url` with its password (if any) replaced by `***`, for logs:
/// `redis://user:secret@host/` becomes `redis://user:***@host/`.
pub fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return url.to_owned();
    };
    let user = match userinfo.split_once(':') {
        Some((user, _password)) => format!("{user}:***"),
        // `redis://secret@host`: a lone userinfo is the password.
        None if !userinfo.is_empty() => "***".to_owned(),
        None => String::new(),
    };
    format!("{scheme}://{user}@{host}{path}")
}

/// What to do with an event if Redis cannot take it.
enum Fallback {
    /// Deliver to this instance's room.
    Room(RoomName, RoomEvent),
    /// Deliver to this instance's connections of the user; answer whether
    /// any instance received it.
    User(Username, ToUser, oneshot::Sender<bool>),
    /// Close this instance's connections of the user's ended sessions.
    SignedOut(Username, EndedLogins),
    /// Tell this instance's connections of the user.
    Tell(Username, ToUser),
    /// Hand a new message's activity to this instance's registry.
    Activity(Activity),
    /// Hand moderation news to this instance's registry.
    Moderation(ModerationNews),
    /// A notice for the other instances only; nothing to do here.
    Nothing,
}

/// The actor that owns the Redis connections.
pub struct RedisBridge {
    client: redis::Client,
    /// Seals what this instance publishes and opens what it reads.
    key: BusKey,
    channels: Channels,
    rooms: Arc<Routes<RoomName, Published>>,
    users: Arc<Routes<Username, UserDelivery>>,
    /// This instance's registry, for every room's activity.
    activity: Arc<Routes<(), Activity>>,
    /// This instance's registry, for every instance's moderation news.
    moderation: Arc<Routes<(), ModerationNews>>,
    healthy: Arc<AtomicBool>,
    /// Counts connections, so a stale stream's end is told from the
    /// current one's.
    generation: u64,
    sink: Option<PubSubSink>,
    publisher: Option<MultiplexedConnection>,
    queue: VecDeque<Publish>,
    /// A batch is in flight; the next waits for it, which keeps order.
    flushing: bool,
    backoff: Duration,
    down_since: Option<SystemTime>,
    /// Per local room, the newest message that came in through Redis: what
    /// a "missed" notice says was surely delivered before.
    last_seen: HashMap<RoomName, MessageId>,
    /// Rooms whose events reached only this instance (Redis was down, or
    /// the queue full), with what was last seen before: the other
    /// instances are told once Redis takes events again.
    missed: HashMap<RoomName, Option<MessageId>>,
    /// This process's name in presence entries.
    instance: String,
    /// Users with a connection to a room on this instance, refreshed by the
    /// heartbeat.
    presence: HashSet<(RoomName, Username)>,
    /// How long a presence entry lives without a refresh.
    presence_ttl: Duration,
}

impl RedisBridge {
    fn connect(&mut self, ctx: &mut Context<Self>) {
        let client = self.client.clone();
        let connecting = async move {
            let pubsub = timed(client.get_async_pubsub()).await?;
            let publisher = timed(client.get_multiplexed_async_connection()).await?;
            Ok::<_, String>((pubsub, publisher))
        };
        ctx.spawn(
            connecting
                .into_actor(self)
                .map(|result, act, ctx| match result {
                    Ok((pubsub, publisher)) => act.connected(pubsub, publisher, ctx),
                    Err(e) => act.lost(&format!("cannot connect: {e}"), ctx),
                }),
        );
    }

    fn connected(
        &mut self,
        pubsub: redis::aio::PubSub,
        publisher: MultiplexedConnection,
        ctx: &mut Context<Self>,
    ) {
        self.generation += 1;
        let generation = self.generation;
        let (mut sink, stream) = pubsub.split();
        ctx.add_stream(
            stream
                .map(move |msg| Incoming::Message(generation, msg))
                .chain(futures_util::stream::once(async move {
                    Incoming::Ended(generation)
                })),
        );
        // Everything this instance listens to, again; the activity and
        // moderation channels always.
        let mut channels: Vec<String> = vec![self.channels.activity(), self.channels.moderation()];
        channels.extend(self.rooms.keys().iter().map(|r| self.channels.room(r)));
        channels.extend(self.users.keys().iter().map(|u| self.channels.user(u)));
        self.sink = Some(sink.clone());
        self.publisher = Some(publisher.clone());
        let resubscribe = async move {
            // A new connection may be to a restarted Redis with an empty
            // script cache, and pipelined script calls do not load them.
            let mut publisher = publisher;
            for script in presence::scripts() {
                script.load_async(&mut publisher).await?;
            }
            if !channels.is_empty() {
                sink.subscribe(&channels).await?;
            }
            Ok::<_, redis::RedisError>(())
        };
        ctx.spawn(resubscribe.into_actor(self).map(move |result, act, ctx| {
            if act.generation != generation {
                return;
            }
            match result {
                Ok(()) => {
                    act.healthy.store(true, Ordering::Release);
                    act.backoff = BACKOFF_MIN;
                    match act.down_since.take() {
                        Some(since) => {
                            log::warn!(
                                "Redis is back after {:.1}s; rooms are shared again",
                                since.elapsed().unwrap_or_default().as_secs_f64()
                            );
                            // Every room this instance has members in may
                            // have missed events, here and elsewhere.
                            let rooms = act.rooms.keys();
                            if !rooms.is_empty() {
                                log::info!(
                                    "telling every instance to catch up in {} rooms",
                                    rooms.len()
                                );
                            }
                            for room in rooms {
                                let after = act.last_seen.get(&room).copied();
                                act.missed.entry(room).or_insert(after);
                            }
                        }
                        None => log::info!("connected to Redis"),
                    }
                    act.flush(ctx);
                }
                Err(e) => act.lost(&format!("setting up the connection failed: {e}"), ctx),
            }
        }));
    }

    /// The connection is gone: serve alone and try again later.
    fn lost(&mut self, why: &str, ctx: &mut Context<Self>) {
        self.generation += 1;
        self.healthy.store(false, Ordering::Release);
        self.sink = None;
        self.publisher = None;
        if self.down_since.is_none() {
            self.down_since = Some(SystemTime::now());
            log::error!(
                "Redis unavailable ({why}); serving this instance's members only and \
                 reconnecting in the background"
            );
        } else {
            log::debug!("Redis still unavailable: {why}");
        }
        // Whatever waits to be published is delivered here instead.
        while let Some(publish) = self.queue.pop_front() {
            self.fall_back(publish.fallback);
        }
        METRICS.bus_queue(0);
        let wait = self.backoff;
        self.backoff = (self.backoff * 2).min(BACKOFF_MAX);
        ctx.run_later(wait, |act, ctx| act.connect(ctx));
    }

    /// Delivers an event Redis could not take to this instance only, and
    /// remembers that the others must catch up.
    fn fall_back(&mut self, fallback: Fallback) {
        match fallback {
            Fallback::Room(room, event) => {
                METRICS.bus_local_only();
                let after = self.last_seen.get(&room).copied();
                self.missed.entry(room.clone()).or_insert(after);
                self.rooms.deliver(&room, event);
            }
            Fallback::User(user, what, done) => {
                let _ = done.send(self.users.hand(&user, what));
            }
            Fallback::SignedOut(user, ended) => {
                self.users.hand(&user, ToUser::SignedOut(ended));
            }
            Fallback::Tell(user, what) => {
                self.users.hand(&user, what);
            }
            Fallback::Activity(activity) => {
                self.activity.send(&(), activity);
            }
            Fallback::Moderation(news) => {
                // The other instances' sweeps find what changed (a kick
                // reaches only this instance's sockets).
                self.moderation.send(&(), news);
            }
            Fallback::Nothing => {}
        }
    }

    /// Queues an event for Redis (without sending yet: see [`flush`]).
    fn enqueue(&mut self, publish: Publish) {
        self.queue.push_back(publish);
        METRICS.bus_queue(self.queue.len());
    }

    /// Tells every instance's rooms in `missed` to catch up (once the
    /// queue has room again, so the notices travel behind what is queued).
    fn send_missed_notices(&mut self) {
        if self.missed.is_empty() || self.queue.len() > MAX_QUEUED / 2 {
            return;
        }
        for (room, after) in std::mem::take(&mut self.missed) {
            log::debug!("telling every instance's #{room} to catch up");
            self.enqueue(Publish {
                channel: self.channels.room(&room),
                payload: wire::encode_missed(after),
                fallback: Fallback::Nothing,
            });
        }
    }

    /// Sends the queued events as one pipeline, unless a batch is already
    /// in flight (it calls again when it lands).
    fn flush(&mut self, ctx: &mut Context<Self>) {
        if self.flushing {
            return;
        }
        let Some(mut conn) = self.publisher.clone() else {
            return;
        };
        self.send_missed_notices();
        if self.queue.is_empty() {
            return;
        }
        let take = self.queue.len().min(MAX_BATCH);
        let batch: Vec<Publish> = self.queue.drain(..take).collect();
        METRICS.bus_queue(self.queue.len());
        let mut pipe = redis::pipe();
        for publish in &batch {
            pipe.cmd("PUBLISH")
                .arg(&publish.channel)
                .arg(self.key.seal(&publish.channel, &publish.payload));
        }
        self.flushing = true;
        let generation = self.generation;
        let send = async move { timed(pipe.query_async::<Vec<i64>>(&mut conn)).await };
        ctx.spawn(send.into_actor(self).map(move |result, act, ctx| {
            act.flushing = false;
            let failure = match result {
                Ok(receivers) => {
                    for (publish, count) in batch.into_iter().zip(receivers) {
                        if let Fallback::User(_, _, done) = publish.fallback {
                            let _ = done.send(count > 0);
                        }
                    }
                    act.flush(ctx);
                    return;
                }
                Err(e) => format!("publishing failed: {e}"),
            };
            // Redis may have published part of it: rooms deliver each
            // message once, so a second copy here is harmless.
            for publish in batch {
                act.fall_back(publish.fallback);
            }
            if act.generation == generation {
                act.lost(&failure, ctx);
            }
        }));
    }

    /// Publishes a presence frame to a room, like a room would: a user's
    /// own connections (`skip_user`) are not told of their own arrival.
    fn announce(&mut self, room: &RoomName, frame: &ServerFrame, skip_user: Option<Username>) {
        let event = RoomEvent::now(frame, skip_user, None);
        self.enqueue(Publish {
            channel: self.channels.room(room),
            payload: wire::encode_event(&event),
            fallback: Fallback::Room(room.clone(), event),
        });
    }

    fn dispatch(&mut self, msg: &redis::Msg) {
        let channel = msg.get_channel_name();
        let Some(topic) = self.channels.parse(channel) else {
            return log::debug!("message on unexpected channel {channel}");
        };
        let payload = match self.key.open(channel, msg.get_payload_bytes()) {
            Ok(payload) => payload,
            Err(why) => return reject(channel, why),
        };
        match topic {
            Topic::Room(room) => match wire::decode(payload) {
                Some(Wire::Event(event)) => self.dispatch_event(room, event),
                Some(Wire::Missed(after)) => {
                    self.rooms.send(&room, Published::Missed { after });
                }
                None => reject(channel, Rejected::Malformed),
            },
            Topic::User(user) => match wire::decode_user(payload) {
                Some(what) => {
                    self.users.hand(&user, what);
                }
                None => reject(channel, Rejected::Malformed),
            },
            Topic::Activity => match wire::decode_activity(payload) {
                Some(activity) => {
                    self.activity.send(&(), activity);
                }
                None => reject(channel, Rejected::Malformed),
            },
            Topic::Moderation => match wire::decode_moderation(payload) {
                Some(news) => {
                    self.moderation.send(&(), news);
                }
                None => reject(channel, Rejected::Malformed),
            },
        }
    }

    /// Hands an incoming event to its room, whatever the room's mailbox
    /// holds: an event from the bus is never dropped (the subscription is
    /// drained as fast as Redis sends, and a room handles an event without
    /// waiting for anything).
    fn dispatch_event(&mut self, room: RoomName, event: RoomEvent) {
        let id = event.message_id;
        if self.rooms.deliver(&room, event)
            && let Some(id) = id
        {
            let newest = self.last_seen.entry(room).or_insert(id);
            *newest = (*newest).max(id);
        }
    }
}

impl Actor for RedisBridge {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        self.connect(ctx);
        ctx.run_interval(presence::refresh_interval(self.presence_ttl), |act, ctx| {
            act.heartbeat(ctx)
        });
        ctx.run_interval(presence::sweep_interval(self.presence_ttl), |act, ctx| {
            act.reap(ctx);
            act.forget_departed_rooms();
        });
    }
}

impl RedisBridge {
    /// Drops what is kept per room for rooms no longer here.
    fn forget_departed_rooms(&mut self) {
        let here: HashSet<RoomName> = self.rooms.keys().into_iter().collect();
        self.last_seen.retain(|room, _| here.contains(room));
    }
}

/// Counts a payload dropped from `channel`, and says so in the log: the
/// first time for each reason and then every thousandth, so a flood of
/// forgeries cannot flood the log too.
fn reject(channel: &str, why: Rejected) {
    let count = METRICS.bus_rejected(why);
    if count == 1 || count.is_multiple_of(1000) {
        log::warn!(
            "dropped a payload on {channel} read from Redis: {why} ({count} so far); \
             is something other than confab instances with this CONFAB_SECRET_KEY publishing there?"
        );
    }
}

/// An event to publish.
#[derive(Message)]
#[rtype(result = "()")]
struct Publish {
    channel: String,
    payload: Vec<u8>,
    fallback: Fallback,
}

impl Handler<Publish> for RedisBridge {
    type Result = ();

    fn handle(&mut self, msg: Publish, ctx: &mut Self::Context) {
        if self.publisher.is_none() || self.queue.len() >= MAX_QUEUED {
            if self.publisher.is_some() {
                log::warn!("Redis is not keeping up; delivering an event locally only");
            }
            return self.fall_back(msg.fallback);
        }
        self.enqueue(msg);
        self.flush(ctx);
    }
}

/// Subscribe this instance to a channel.
#[derive(Message)]
#[rtype(result = "()")]
struct Listen {
    channel: String,
    /// Told when the subscription is in effect (or Redis is down).
    done: oneshot::Sender<()>,
}

impl Handler<Listen> for RedisBridge {
    type Result = ();

    fn handle(&mut self, msg: Listen, ctx: &mut Self::Context) {
        let Some(mut sink) = self.sink.clone() else {
            // Down: the reconnection subscribes to it; meanwhile the room
            // serves this instance alone.
            let _ = msg.done.send(());
            return;
        };
        let Listen { channel, done } = msg;
        ctx.spawn(
            async move {
                let result = sink.subscribe(&channel).await;
                let _ = done.send(());
                result.map_err(|e| (channel, e))
            }
            .into_actor(self)
            .map(|result, _act, _ctx| {
                if let Err((channel, e)) = result {
                    log::warn!("subscribing to {channel} failed: {e}");
                }
            }),
        );
    }
}

/// Unsubscribe this instance from a channel.
#[derive(Message)]
#[rtype(result = "()")]
struct Unlisten {
    channel: String,
}

impl Handler<Unlisten> for RedisBridge {
    type Result = ();

    fn handle(&mut self, msg: Unlisten, ctx: &mut Self::Context) {
        let Some(mut sink) = self.sink.clone() else {
            return;
        };
        ctx.spawn(
            async move {
                if let Err(e) = sink.unsubscribe(&msg.channel).await {
                    log::debug!("unsubscribing from {} failed: {e}", msg.channel);
                }
            }
            .into_actor(self),
        );
    }
}

/// What the subscription connection produces.
enum Incoming {
    Message(u64, redis::Msg),
    Ended(u64),
}

impl StreamHandler<Incoming> for RedisBridge {
    fn handle(&mut self, item: Incoming, ctx: &mut Self::Context) {
        match item {
            Incoming::Message(generation, msg) if generation == self.generation => {
                self.dispatch(&msg);
            }
            Incoming::Ended(generation) if generation == self.generation => {
                self.lost("the subscription connection closed", ctx);
            }
            // From a connection already given up on.
            _ => {}
        }
    }

    fn finished(&mut self, _ctx: &mut Self::Context) {
        // One connection's stream ended; `Incoming::Ended` has dealt with
        // it. The bridge lives on.
    }
}

#[cfg(test)]
mod tests {
    use super::redacted;

    #[test]
    fn passwords_never_reach_the_log() {
        for (url, shown) in [
            ("redis://127.0.0.1:6379/", "redis://127.0.0.1:6379/"),
            ("redis://:s3cret@redis:6379/0", "redis://:***@redis:6379/0"),
            (
                "rediss://confab:s3cret@redis.example:6380/",
                "rediss://confab:***@redis.example:6380/",
            ),
            ("redis://s3cret@redis/", "redis://***@redis/"),
            ("redis://us:er:p@ss@redis", "redis://us:***@redis"),
        ] {
            assert_eq!(redacted(url), shown, "{url}");
            assert!(!redacted(url).contains("s3cret"));
        }
    }
}
