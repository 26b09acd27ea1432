//! The Redis bridge: the bus that joins several confab instances, as
//! channels_redis joins Django Channels workers.
//!
//! Every room event goes through Redis, the publishing instance's own
//! members included: Redis delivers a channel's messages to every
//! subscriber in the order it received them, so all members of a room, on
//! every instance, see that room's events in one order.
//!
//! - [`RedisBus`] is what the actors hold (the [`RoomBus`] trait). Routing
//!   tables are shared with the bridge, so delivering an incoming event is a
//!   lookup and a `do_send`, not a round trip through another mailbox.
//! - [`RedisBridge`] is the actor that owns the two Redis connections: one
//!   subscribed to the channels this instance has listeners for (a room's
//!   channel while the room has local members, a user's while the user has
//!   local connections), one that publishes, in batches, one batch in
//!   flight at a time so that order is kept.
//!
//! Presence is shared the same way: for each room, a sorted set of the
//! users online on any instance, and per user a sorted set of the instances
//! they are on, scored by expiry. Each instance refreshes its entries (a
//! heartbeat) and, for rooms it has members in, sweeps out entries whose
//! instance stopped refreshing them (a crashed process), announcing those
//! users' departure. Scripts make each step atomic, so exactly one
//! instance announces a user's first arrival and last departure.
//!
//! When Redis is unreachable the server carries on alone: events are
//! delivered to this instance's members only (messages are stored either
//! way), the outage is logged and reported by `/readyz`, and the bridge
//! reconnects with backoff and resubscribes by itself.

use crate::actors::bus::{
    Arrival, RoomBus, RoomEvent, Routes, Subscribed, Subscription, UserDelivery,
};
use crate::actors::room::Published;
use crate::domain::{MessageId, RoomName, Username};
use crate::protocol::{ServerFrame, encode};
use actix::prelude::*;
use bytestring::ByteString;
use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use redis::aio::{MultiplexedConnection, PubSubSink};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::oneshot;

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

/// Why the bridge could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    /// `REDIS_URL` does not parse.
    #[error("REDIS_URL is not a valid Redis URL: {0}")]
    Url(#[from] redis::RedisError),
}

/// Channel names: `<prefix>:room:<name>` and `<prefix>:user:<name>`.
#[derive(Debug, Clone)]
struct Channels {
    prefix: String,
}

/// What a channel carries.
enum Topic {
    Room(RoomName),
    User(Username),
}

impl Channels {
    fn room(&self, room: &RoomName) -> String {
        format!("{}:room:{room}", self.prefix)
    }

    fn user(&self, user: &Username) -> String {
        format!("{}:user:{user}", self.prefix)
    }

    /// The users online in a room, scored by when they expire.
    fn online_key(&self, room: &RoomName) -> String {
        format!("{}:online:{room}", self.prefix)
    }

    /// The prefix of the per-user keys of a room: instances a user is on,
    /// scored by expiry.
    fn presence_prefix(&self, room: &RoomName) -> String {
        format!("{}:presence:{room}:", self.prefix)
    }

    fn parse(&self, channel: &str) -> Option<Topic> {
        let rest = channel.strip_prefix(&self.prefix)?.strip_prefix(':')?;
        if let Some(room) = rest.strip_prefix("room:") {
            return RoomName::parse(room).ok().map(Topic::Room);
        }
        rest.strip_prefix("user:")
            .and_then(|user| Username::parse(user).ok())
            .map(Topic::User)
    }
}

/// Adds this instance to a user's entry in a room; returns how many other
/// instances had them and who is online now.
/// KEYS: user key, room key. ARGV: instance, expiry ms, now ms, user, ttl ms.
const ARRIVE: &str = r"
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
local others = redis.call('ZCARD', KEYS[1])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('ZADD', KEYS[2], 'GT', ARGV[2], ARGV[4])
return {others, redis.call('ZRANGEBYSCORE', KEYS[2], ARGV[3], '+inf')}
";

/// The heartbeat's half of [`ARRIVE`]: renews this instance's entry and
/// returns only how many instances had the user (ourselves included while
/// our entry is live), not the room's whole list, which a refresh of every
/// room and user would otherwise fetch over and over.
/// KEYS: user key, room key. ARGV: instance, expiry ms, now ms, user, ttl ms.
const REFRESH: &str = r"
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
local present = redis.call('ZCARD', KEYS[1])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('ZADD', KEYS[2], 'GT', ARGV[2], ARGV[4])
return present
";

/// Removes this instance from a user's entry in a room; returns 1 when no
/// instance has them any more.
/// KEYS: user key, room key. ARGV: instance, now ms, user.
const DEPART: &str = r"
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
local top = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if #top == 0 then
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], ARGV[3])
  return 1
end
redis.call('ZADD', KEYS[2], top[2], ARGV[3])
return 0
";

/// Sweeps a room's users whose every instance stopped refreshing them;
/// returns them, so that the one instance that swept them announces it.
/// KEYS: room key. ARGV: now ms, user key prefix.
const REAP: &str = r"
local gone = {}
for _, user in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])) do
  local key = ARGV[2] .. user
  redis.call('ZREMRANGEBYSCORE', key, '-inf', ARGV[1])
  local top = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  if #top == 0 then
    redis.call('ZREM', KEYS[1], user)
    table.insert(gone, user)
  else
    redis.call('ZADD', KEYS[1], top[2], user)
  end
end
return gone
";

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// A room event as it travels through Redis: one header line, then the
/// frame exactly as clients receive it (so it is encoded once, at the
/// publishing room, and never re-encoded).
///
/// Header: `<published, µs since epoch> <message id or empty> <skip user or empty>`.
fn encode_event(event: &RoomEvent) -> Vec<u8> {
    let micros = event
        .published_at
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros())
        .unwrap_or(0);
    let id = event.message_id.map(|id| id.0.to_string());
    let skip = event.skip_user.as_ref().map(Username::as_str);
    let header = format!(
        "{micros} {} {}\n",
        id.as_deref().unwrap_or(""),
        skip.unwrap_or("")
    );
    let mut out = Vec::with_capacity(header.len() + event.frame.len());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(event.frame.as_bytes());
    out
}

fn decode_event(payload: &[u8]) -> Option<RoomEvent> {
    let text = std::str::from_utf8(payload).ok()?;
    let (header, frame) = text.split_once('\n')?;
    let mut fields = header.split(' ');
    let micros: u64 = fields.next()?.parse().ok()?;
    let message_id = match fields.next()? {
        "" => None,
        id => Some(MessageId(id.parse().ok()?)),
    };
    let skip_user = match fields.next()? {
        "" => None,
        user => Some(Username::parse(user).ok()?),
    };
    Some(RoomEvent {
        frame: ByteString::from(frame),
        skip_user,
        message_id,
        published_at: UNIX_EPOCH + Duration::from_micros(micros),
    })
}

/// The bus the actors use when `REDIS_URL` is set.
pub struct RedisBus {
    bridge: Addr<RedisBridge>,
    channels: Channels,
    rooms: Arc<Routes<RoomName, Published>>,
    users: Arc<Routes<Username, UserDelivery>>,
    healthy: Arc<AtomicBool>,
}

impl RedisBus {
    /// Starts the bridge actor for `url` and returns the bus in front of it.
    /// Connecting happens in the background: the server starts even while
    /// Redis is down.
    pub fn start(
        url: &str,
        prefix: &str,
        presence_ttl: Duration,
    ) -> Result<Arc<RedisBus>, BridgeError> {
        let client = redis::Client::open(url)?;
        let channels = Channels {
            prefix: prefix.to_owned(),
        };
        let rooms = Arc::new(Routes::new());
        let users = Arc::new(Routes::new());
        let healthy = Arc::new(AtomicBool::new(false));
        let bridge = RedisBridge {
            client,
            channels: channels.clone(),
            rooms: rooms.clone(),
            users: users.clone(),
            healthy: healthy.clone(),
            generation: 0,
            sink: None,
            publisher: None,
            queue: VecDeque::new(),
            flushing: false,
            backoff: BACKOFF_MIN,
            down_since: None,
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
            healthy,
        }))
    }
}

impl RoomBus for RedisBus {
    fn publish(&self, room: &RoomName, event: RoomEvent) {
        if !self.is_healthy() {
            // Alone until Redis is back: at least this instance's members
            // hear it (and it is stored for everyone).
            self.rooms.deliver(room, event);
            return;
        }
        self.bridge.do_send(Publish {
            channel: self.channels.room(room),
            payload: encode_event(&event),
            fallback: Fallback::Room(room.clone(), event),
        });
    }

    fn subscribe(&self, room: &RoomName, to: Recipient<Published>) -> Subscribed {
        let token = self.rooms.insert(room.clone(), to);
        let (done, ready) = oneshot::channel();
        self.bridge.do_send(Listen {
            channel: self.channels.room(room),
            done: Some(done),
        });
        Subscribed {
            token,
            ready: Box::pin(async move {
                let _ = tokio::time::timeout(SUBSCRIBE_TIMEOUT, ready).await;
            }),
        }
    }

    fn unsubscribe(&self, room: &RoomName, subscription: Subscription) {
        if self.rooms.remove(room, subscription) {
            self.bridge.do_send(Unlisten {
                channel: self.channels.room(room),
            });
        }
    }

    fn send_to_user(&self, user: &Username, frame: ByteString) -> BoxFuture<'static, bool> {
        if !self.is_healthy() {
            let delivered = self.users.deliver(user, frame);
            return Box::pin(futures_util::future::ready(delivered));
        }
        let (done, receivers) = oneshot::channel();
        self.bridge.do_send(Publish {
            channel: self.channels.user(user),
            payload: frame.as_bytes().to_vec(),
            fallback: Fallback::User(user.clone(), frame, done),
        });
        Box::pin(async move { receivers.await.unwrap_or(false) })
    }

    fn watch_user(&self, user: &Username, to: Recipient<UserDelivery>) -> Subscription {
        let token = self.users.insert(user.clone(), to);
        self.bridge.do_send(Listen {
            channel: self.channels.user(user),
            done: None,
        });
        token
    }

    fn unwatch_user(&self, user: &Username, subscription: Subscription) {
        if self.users.remove(user, subscription) {
            self.bridge.do_send(Unlisten {
                channel: self.channels.user(user),
            });
        }
    }

    fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Acquire)
    }

    fn arrive(
        &self,
        room: &RoomName,
        user: &Username,
        local_first: bool,
    ) -> BoxFuture<'static, Option<Arrival>> {
        let (reply, answer) = oneshot::channel();
        self.bridge.do_send(Arrive {
            room: room.clone(),
            user: user.clone(),
            local_first,
            reply,
        });
        Box::pin(async move { answer.await.ok().flatten() })
    }

    fn depart(&self, room: &RoomName, user: &Username) -> BoxFuture<'static, Option<bool>> {
        let (reply, answer) = oneshot::channel();
        self.bridge.do_send(Depart {
            room: room.clone(),
            user: user.clone(),
            reply,
        });
        Box::pin(async move { answer.await.ok().flatten() })
    }

    fn online_counts(
        &self,
        rooms: Vec<RoomName>,
    ) -> BoxFuture<'static, Option<HashMap<RoomName, usize>>> {
        let (reply, answer) = oneshot::channel();
        self.bridge.do_send(Counts { rooms, reply });
        Box::pin(async move { answer.await.ok().flatten() })
    }
}

/// What to do with an event if Redis cannot take it.
enum Fallback {
    /// Deliver to this instance's room.
    Room(RoomName, RoomEvent),
    /// Deliver to this instance's connections of the user; answer whether
    /// any instance received it.
    User(Username, ByteString, oneshot::Sender<bool>),
}

/// The actor that owns the Redis connections.
pub struct RedisBridge {
    client: redis::Client,
    channels: Channels,
    rooms: Arc<Routes<RoomName, Published>>,
    users: Arc<Routes<Username, UserDelivery>>,
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
            let pubsub = tokio::time::timeout(REDIS_TIMEOUT, client.get_async_pubsub()).await;
            let publisher =
                tokio::time::timeout(REDIS_TIMEOUT, client.get_multiplexed_async_connection())
                    .await;
            match (pubsub, publisher) {
                (Ok(Ok(pubsub)), Ok(Ok(publisher))) => Ok((pubsub, publisher)),
                (Ok(Err(e)), _) | (_, Ok(Err(e))) => Err(e.to_string()),
                _ => Err("timed out".to_owned()),
            }
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
        // Everything this instance listens to, again.
        let mut channels: Vec<String> = self
            .rooms
            .keys()
            .iter()
            .map(|r| self.channels.room(r))
            .collect();
        channels.extend(self.users.keys().iter().map(|u| self.channels.user(u)));
        self.sink = Some(sink.clone());
        self.publisher = Some(publisher.clone());
        let resubscribe = async move {
            // Pipelined script calls (heartbeat, sweep) run by hash and do
            // not load a missing script themselves; a new connection may be
            // to a restarted Redis with an empty script cache.
            let mut publisher = publisher;
            for script in [ARRIVE, REFRESH, DEPART, REAP] {
                redis::Script::new(script)
                    .load_async(&mut publisher)
                    .await?;
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
                        Some(since) => log::warn!(
                            "Redis is back after {:.1}s; rooms are shared again",
                            since.elapsed().unwrap_or_default().as_secs_f64()
                        ),
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
        let wait = self.backoff;
        self.backoff = (self.backoff * 2).min(BACKOFF_MAX);
        ctx.run_later(wait, |act, ctx| act.connect(ctx));
    }

    fn fall_back(&self, fallback: Fallback) {
        match fallback {
            Fallback::Room(room, event) => {
                self.rooms.deliver(&room, event);
            }
            Fallback::User(user, frame, done) => {
                let _ = done.send(self.users.deliver(&user, frame));
            }
        }
    }

    /// Sends the queued events as one pipeline, unless a batch is already
    /// in flight (it calls again when it lands).
    fn flush(&mut self, ctx: &mut Context<Self>) {
        if self.flushing || self.queue.is_empty() {
            return;
        }
        let Some(mut conn) = self.publisher.clone() else {
            return;
        };
        let take = self.queue.len().min(MAX_BATCH);
        let batch: Vec<Publish> = self.queue.drain(..take).collect();
        let mut pipe = redis::pipe();
        for publish in &batch {
            pipe.cmd("PUBLISH")
                .arg(&publish.channel)
                .arg(&publish.payload);
        }
        self.flushing = true;
        let generation = self.generation;
        let send = async move {
            tokio::time::timeout(REDIS_TIMEOUT, pipe.query_async::<Vec<i64>>(&mut conn)).await
        };
        ctx.spawn(send.into_actor(self).map(move |result, act, ctx| {
            act.flushing = false;
            let failure = match result {
                Ok(Ok(receivers)) => {
                    for (publish, count) in batch.into_iter().zip(receivers) {
                        if let Fallback::User(_, _, done) = publish.fallback {
                            let _ = done.send(count > 0);
                        }
                    }
                    act.flush(ctx);
                    return;
                }
                Ok(Err(e)) => e.to_string(),
                Err(_) => "publishing timed out".to_owned(),
            };
            for publish in batch {
                act.fall_back(publish.fallback);
            }
            if act.generation == generation {
                act.lost(&failure, ctx);
            }
        }));
    }
}

impl Actor for RedisBridge {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        self.connect(ctx);
        let refresh = (self.presence_ttl / 3).max(Duration::from_millis(500));
        ctx.run_interval(refresh, |act, ctx| act.heartbeat(ctx));
        let sweep = (self.presence_ttl / 6).max(Duration::from_millis(500));
        ctx.run_interval(sweep, |act, ctx| act.reap(ctx));
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
        self.queue.push_back(msg);
        self.flush(ctx);
    }
}

/// Subscribe this instance to a channel.
#[derive(Message)]
#[rtype(result = "()")]
struct Listen {
    channel: String,
    /// Told when the subscription is in effect (or Redis is down).
    done: Option<oneshot::Sender<()>>,
}

impl Handler<Listen> for RedisBridge {
    type Result = ();

    fn handle(&mut self, msg: Listen, ctx: &mut Self::Context) {
        let Some(mut sink) = self.sink.clone() else {
            // Down: the reconnection subscribes to it; meanwhile the room
            // serves this instance alone.
            if let Some(done) = msg.done {
                let _ = done.send(());
            }
            return;
        };
        let channel = msg.channel;
        let done = msg.done;
        ctx.spawn(
            async move {
                let result = sink.subscribe(&channel).await;
                if let Some(done) = done {
                    let _ = done.send(());
                }
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

impl RedisBridge {
    fn dispatch(&self, msg: &redis::Msg) {
        match self.channels.parse(msg.get_channel_name()) {
            Some(Topic::Room(room)) => {
                let Some(to) = self.rooms.get(&room) else {
                    return;
                };
                match decode_event(msg.get_payload_bytes()) {
                    Some(event) => to.do_send(Published {
                        event: Arc::new(event),
                    }),
                    None => log::warn!("undecodable event on {}", msg.get_channel_name()),
                }
            }
            Some(Topic::User(user)) => {
                let Some(to) = self.users.get(&user) else {
                    return;
                };
                match std::str::from_utf8(msg.get_payload_bytes()) {
                    Ok(frame) => to.do_send(UserDelivery {
                        user,
                        frame: ByteString::from(frame),
                    }),
                    Err(_) => log::warn!("undecodable frame on {}", msg.get_channel_name()),
                }
            }
            None => log::debug!("message on unexpected channel {}", msg.get_channel_name()),
        }
    }
}

impl RedisBridge {
    fn expiry_ms(&self) -> u64 {
        now_ms() + self.presence_ttl.as_millis() as u64
    }

    /// Refreshes every presence entry of this instance. After an outage the
    /// entries may have expired and been announced as gone elsewhere:
    /// announce those users again.
    fn heartbeat(&mut self, ctx: &mut Context<Self>) {
        let Some(mut conn) = self.publisher.clone() else {
            return;
        };
        if self.presence.is_empty() {
            return;
        }
        let pairs: Vec<(RoomName, Username)> = self.presence.iter().cloned().collect();
        let script = redis::Script::new(REFRESH);
        let mut pipe = redis::pipe();
        let (expiry, now, ttl) = (
            self.expiry_ms(),
            now_ms(),
            self.presence_ttl.as_millis() as u64,
        );
        for (room, user) in &pairs {
            let user_key = format!("{}{user}", self.channels.presence_prefix(room));
            pipe.invoke_script(
                script
                    .key(user_key)
                    .key(self.channels.online_key(room))
                    .arg(&self.instance)
                    .arg(expiry)
                    .arg(now)
                    .arg(user.as_str())
                    .arg(ttl),
            );
        }
        let refresh = async move {
            tokio::time::timeout(REDIS_TIMEOUT, pipe.query_async::<Vec<u64>>(&mut conn)).await
        };
        ctx.spawn(refresh.into_actor(self).map(move |result, act, ctx| {
            match result {
                Ok(Ok(answers)) => {
                    for ((room, user), others) in pairs.into_iter().zip(answers) {
                        // Refreshing our own live entry finds ourselves; 0
                        // means the entry had expired: announce again.
                        if others == 0 && act.presence.contains(&(room.clone(), user.clone())) {
                            act.announce(&room, ServerFrame::UserJoin { user });
                        }
                    }
                    act.flush(ctx);
                }
                Ok(Err(e)) => log::warn!("presence heartbeat failed: {e}"),
                Err(_) => log::warn!("presence heartbeat timed out"),
            }
        }));
    }

    /// Sweeps the rooms this instance has members in for users whose
    /// instance died, and announces their departure.
    fn reap(&mut self, ctx: &mut Context<Self>) {
        let Some(mut conn) = self.publisher.clone() else {
            return;
        };
        let rooms = self.rooms.keys();
        if rooms.is_empty() {
            return;
        }
        let script = redis::Script::new(REAP);
        let mut pipe = redis::pipe();
        let now = now_ms();
        for room in &rooms {
            pipe.invoke_script(
                script
                    .key(self.channels.online_key(room))
                    .arg(now)
                    .arg(self.channels.presence_prefix(room)),
            );
        }
        let sweep = async move {
            tokio::time::timeout(
                REDIS_TIMEOUT,
                pipe.query_async::<Vec<Vec<String>>>(&mut conn),
            )
            .await
        };
        ctx.spawn(sweep.into_actor(self).map(move |result, act, ctx| {
            let gone = match result {
                Ok(Ok(gone)) => gone,
                Ok(Err(e)) => return log::warn!("presence sweep failed: {e}"),
                Err(_) => return log::warn!("presence sweep timed out"),
            };
            for (room, users) in rooms.into_iter().zip(gone) {
                for user in users {
                    let Ok(user) = Username::parse(&user) else {
                        continue;
                    };
                    log::info!("{user} left #{room} with an instance that stopped");
                    act.announce(&room, ServerFrame::UserLeave { user });
                }
            }
            act.flush(ctx);
        }));
    }

    /// Publishes a presence frame to a room, like a room would.
    fn announce(&mut self, room: &RoomName, frame: ServerFrame) {
        let event = RoomEvent {
            frame: encode(&frame),
            skip_user: None,
            message_id: None,
            published_at: SystemTime::now(),
        };
        self.queue.push_back(Publish {
            channel: self.channels.room(room),
            payload: encode_event(&event),
            fallback: Fallback::Room(room.clone(), event),
        });
    }
}

/// A user's first connection to a room on this instance (or any later one,
/// to learn who is online).
#[derive(Message)]
#[rtype(result = "()")]
struct Arrive {
    room: RoomName,
    user: Username,
    local_first: bool,
    reply: oneshot::Sender<Option<Arrival>>,
}

impl Handler<Arrive> for RedisBridge {
    type Result = ();

    fn handle(&mut self, msg: Arrive, ctx: &mut Self::Context) {
        if msg.local_first {
            self.presence.insert((msg.room.clone(), msg.user.clone()));
        }
        let Some(mut conn) = self.publisher.clone() else {
            let _ = msg.reply.send(None);
            return;
        };
        let room_key = self.channels.online_key(&msg.room);
        let now = now_ms();
        let request = if msg.local_first {
            let user_key = format!("{}{}", self.channels.presence_prefix(&msg.room), msg.user);
            let (instance, expiry) = (self.instance.clone(), self.expiry_ms());
            let (user, ttl) = (msg.user.clone(), self.presence_ttl.as_millis() as u64);
            Box::pin(async move {
                redis::Script::new(ARRIVE)
                    .key(user_key)
                    .key(room_key)
                    .arg(instance)
                    .arg(expiry)
                    .arg(now)
                    .arg(user.as_str())
                    .arg(ttl)
                    .invoke_async::<(u64, Vec<String>)>(&mut conn)
                    .await
                    .map(|(others, online)| (others == 0, online))
            }) as BoxFuture<'static, redis::RedisResult<(bool, Vec<String>)>>
        } else {
            Box::pin(async move {
                redis::cmd("ZRANGEBYSCORE")
                    .arg(room_key)
                    .arg(now)
                    .arg("+inf")
                    .query_async::<Vec<String>>(&mut conn)
                    .await
                    .map(|online| (false, online))
            })
        };
        let reply = msg.reply;
        ctx.spawn(
            async move {
                let answer = match tokio::time::timeout(REDIS_TIMEOUT, request).await {
                    Ok(Ok((first, online))) => {
                        let mut online: Vec<Username> = online
                            .iter()
                            .filter_map(|u| Username::parse(u).ok())
                            .collect();
                        online.sort();
                        online.dedup();
                        Some(Arrival { first, online })
                    }
                    Ok(Err(e)) => {
                        log::warn!("presence: {e}");
                        None
                    }
                    Err(_) => None,
                };
                let _ = reply.send(answer);
            }
            .into_actor(self),
        );
    }
}

/// A user's last connection to a room on this instance closed.
#[derive(Message)]
#[rtype(result = "()")]
struct Depart {
    room: RoomName,
    user: Username,
    reply: oneshot::Sender<Option<bool>>,
}

impl Handler<Depart> for RedisBridge {
    type Result = ();

    fn handle(&mut self, msg: Depart, ctx: &mut Self::Context) {
        self.presence.remove(&(msg.room.clone(), msg.user.clone()));
        let Some(mut conn) = self.publisher.clone() else {
            let _ = msg.reply.send(None);
            return;
        };
        let user_key = format!("{}{}", self.channels.presence_prefix(&msg.room), msg.user);
        let room_key = self.channels.online_key(&msg.room);
        let instance = self.instance.clone();
        let user = msg.user;
        let reply = msg.reply;
        ctx.spawn(
            async move {
                let script = redis::Script::new(DEPART);
                let mut invocation = script.prepare_invoke();
                invocation
                    .key(user_key)
                    .key(room_key)
                    .arg(instance)
                    .arg(now_ms())
                    .arg(user.as_str());
                let depart = invocation.invoke_async::<u8>(&mut conn);
                let result = tokio::time::timeout(REDIS_TIMEOUT, depart).await;
                let _ = reply.send(match result {
                    Ok(Ok(gone)) => Some(gone == 1),
                    _ => None,
                });
            }
            .into_actor(self),
        );
    }
}

/// How many users are online in each room, over every instance.
#[derive(Message)]
#[rtype(result = "()")]
struct Counts {
    rooms: Vec<RoomName>,
    reply: oneshot::Sender<Option<HashMap<RoomName, usize>>>,
}

impl Handler<Counts> for RedisBridge {
    type Result = ();

    fn handle(&mut self, msg: Counts, ctx: &mut Self::Context) {
        let Some(mut conn) = self.publisher.clone() else {
            let _ = msg.reply.send(None);
            return;
        };
        let mut pipe = redis::pipe();
        let now = now_ms();
        for room in &msg.rooms {
            pipe.cmd("ZCOUNT")
                .arg(self.channels.online_key(room))
                .arg(now)
                .arg("+inf");
        }
        let rooms = msg.rooms;
        let reply = msg.reply;
        ctx.spawn(
            async move {
                let counts =
                    tokio::time::timeout(REDIS_TIMEOUT, pipe.query_async::<Vec<usize>>(&mut conn))
                        .await;
                let _ = reply.send(match counts {
                    Ok(Ok(counts)) => Some(rooms.into_iter().zip(counts).collect()),
                    _ => None,
                });
            }
            .into_actor(self),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_survive_the_trip() {
        let event = RoomEvent {
            frame: ByteString::from(r#"{"type":"chat_message","message":"a\nb"}"#),
            skip_user: Some(Username::parse("al-ice").unwrap()),
            message_id: Some(MessageId(42)),
            published_at: UNIX_EPOCH + Duration::from_micros(1_700_000_000_123_456),
        };
        let back = decode_event(&encode_event(&event)).unwrap();
        assert_eq!(back.frame, event.frame);
        assert_eq!(back.skip_user, event.skip_user);
        assert_eq!(back.message_id, event.message_id);
        assert_eq!(back.published_at, event.published_at);

        let bare = RoomEvent {
            skip_user: None,
            message_id: None,
            ..event
        };
        let back = decode_event(&encode_event(&bare)).unwrap();
        assert_eq!((back.skip_user, back.message_id), (None, None));
    }

    #[test]
    fn garbage_is_refused() {
        for payload in [&b""[..], b"x", b"1 2", b"nope 1 a\n{}", b"1 x a\n{}"] {
            assert!(decode_event(payload).is_none());
        }
    }

    #[test]
    fn channels_name_rooms_and_users() {
        let channels = Channels {
            prefix: "confab".into(),
        };
        let room = RoomName::parse("lobby").unwrap();
        let name = channels.room(&room);
        assert_eq!(name, "confab:room:lobby");
        assert!(matches!(channels.parse(&name), Some(Topic::Room(r)) if r == room));
        let user = Username::parse("bob").unwrap();
        assert!(matches!(channels.parse(&channels.user(&user)), Some(Topic::User(u)) if u == user));
        assert!(channels.parse("other:room:lobby").is_none());
        assert!(channels.parse("confab:room:bad name").is_none());
    }
}
