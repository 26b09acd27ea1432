//! Who is online, shared through Redis.
//!
//! For each room, a sorted set of the users online on any instance, and per
//! user a sorted set of the instances they are on, each scored by when it
//! expires. Each instance refreshes its entries (a heartbeat) and, for
//! rooms it has members in, sweeps out entries whose instance stopped
//! refreshing them (a crashed process), announcing those users' departure.
//! Lua scripts make each step atomic, so exactly one instance announces a
//! user's first arrival and last departure. A last sorted set lists the
//! rooms with anyone online (scored by when their latest entry expires),
//! so that the room selector asks one question whose cost grows with the
//! busy rooms, not with every room that exists.
//!
//! Timing: an entry is written to expire five sixths of the TTL after its
//! refresh, refreshes come every third of the TTL and sweeps every sixth, so
//! a live entry never lapses and a dead instance's users are gone from
//! every list within the TTL.

use super::{RedisBridge, timed};
use crate::actors::bus::Arrival;
use crate::domain::{RoomName, Username};
use crate::protocol::ServerFrame;
use actix::prelude::*;
use redis::aio::MultiplexedConnection;
use redis::{Script, ScriptInvocation};
use std::collections::HashMap;
use std::future::Future;
use std::sync::LazyLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::oneshot;

/// Adds (or renews) this instance in a user's entry in a room; returns how
/// many instances had the user before (ourselves included while our entry
/// is live). On an arrival (ARGV[6] = 1) it also returns who is online
/// now; the heartbeat, which refreshes every room and user, leaves the
/// lists out rather than fetch them over and over.
/// KEYS: user key, room key, busy-rooms key. ARGV: instance, expiry ms,
/// now ms, user, ttl ms, list (0 or 1), room.
const REFRESH: &str = r"
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
local present = redis.call('ZCARD', KEYS[1])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('ZADD', KEYS[2], 'GT', ARGV[2], ARGV[4])
redis.call('ZADD', KEYS[3], 'GT', ARGV[2], ARGV[7])
if ARGV[6] == '1' then
  return {present, redis.call('ZRANGEBYSCORE', KEYS[2], ARGV[3], '+inf')}
end
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

/// The rooms with anyone online, and how many: forgets rooms whose every
/// entry expired, then counts the live users of the others (a room whose
/// users all departed counts 0 and is left out).
/// KEYS: busy-rooms key. ARGV: now ms, room key prefix.
const ONLINE_ROOMS: &str = r"
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local busy = {}
for _, room in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local online = redis.call('ZCOUNT', ARGV[2] .. room, ARGV[1], '+inf')
  if online > 0 then
    table.insert(busy, {room, online})
  end
end
return busy
";

/// The scripts, each hashed once per process.
struct Scripts {
    refresh: Script,
    depart: Script,
    reap: Script,
    online_rooms: Script,
}

static SCRIPTS: LazyLock<Scripts> = LazyLock::new(|| Scripts {
    refresh: Script::new(REFRESH),
    depart: Script::new(DEPART),
    reap: Script::new(REAP),
    online_rooms: Script::new(ONLINE_ROOMS),
});

/// Every script, loaded on each new connection: pipelined invocations run
/// by hash and do not load a missing script themselves.
pub(super) fn scripts() -> [&'static Script; 4] {
    [
        &SCRIPTS.refresh,
        &SCRIPTS.depart,
        &SCRIPTS.reap,
        &SCRIPTS.online_rooms,
    ]
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// How often an instance refreshes its entries.
pub(super) fn refresh_interval(ttl: Duration) -> Duration {
    (ttl / 3).max(Duration::from_millis(500))
}

/// How often an instance sweeps its rooms for dead instances' users.
pub(super) fn sweep_interval(ttl: Duration) -> Duration {
    (ttl / 6).max(Duration::from_millis(250))
}

impl RedisBridge {
    /// When an entry written now expires: early enough that the next sweep
    /// after it still falls within the TTL.
    fn expiry_ms(&self) -> u64 {
        let ttl = self
            .presence_ttl
            .saturating_sub(sweep_interval(self.presence_ttl));
        now_ms() + ttl.as_millis() as u64
    }

    fn ttl_ms(&self) -> u64 {
        self.presence_ttl.as_millis() as u64
    }

    /// [`REFRESH`] of this instance's entry for `user` in `room`; `list`:
    /// also fetch who is online.
    fn refresh(&self, room: &RoomName, user: &Username, list: bool) -> ScriptInvocation<'static> {
        let mut refresh = SCRIPTS.refresh.prepare_invoke();
        refresh
            .key(self.channels.presence_key(room, user))
            .key(self.channels.online_key(room))
            .key(self.channels.online_rooms_key())
            .arg(&self.instance)
            .arg(self.expiry_ms())
            .arg(now_ms())
            .arg(user.as_str())
            .arg(self.ttl_ms())
            .arg(u8::from(list))
            .arg(room.as_str());
        refresh
    }

    /// Runs `request` on the publishing connection and hands its answer
    /// (`None`: Redis is down, failed or timed out) to `reply`.
    fn query<T, F>(
        &self,
        ctx: &mut Context<Self>,
        reply: oneshot::Sender<Option<T>>,
        request: impl FnOnce(MultiplexedConnection) -> F,
    ) where
        T: Send + 'static,
        F: Future<Output = redis::RedisResult<T>> + 'static,
    {
        let Some(conn) = self.publisher.clone() else {
            let _ = reply.send(None);
            return;
        };
        let request = request(conn);
        ctx.spawn(
            async move {
                let answer = timed(request).await.inspect_err(|e| {
                    log::warn!(
                        "asking Redis who is online failed ({e}); \
                         going by this instance's own members"
                    );
                });
                let _ = reply.send(answer.ok());
            }
            .into_actor(self),
        );
    }

    /// Refreshes every presence entry of this instance. After an outage the
    /// entries may have expired and been announced as gone elsewhere:
    /// announce those users again.
    pub(super) fn heartbeat(&mut self, ctx: &mut Context<Self>) {
        let Some(mut conn) = self.publisher.clone() else {
            return;
        };
        if self.presence.is_empty() {
            return;
        }
        let pairs: Vec<(RoomName, Username)> = self.presence.iter().cloned().collect();
        let mut pipe = redis::pipe();
        for (room, user) in &pairs {
            pipe.invoke_script(&self.refresh(room, user, false));
        }
        let refresh = async move { timed(pipe.query_async::<Vec<u64>>(&mut conn)).await };
        ctx.spawn(refresh.into_actor(self).map(move |result, act, ctx| {
            match result {
                Ok(answers) => {
                    for ((room, user), others) in pairs.into_iter().zip(answers) {
                        // Refreshing our own live entry finds ourselves; 0
                        // means the entry had expired: announce again.
                        if others == 0 && act.presence.contains(&(room.clone(), user.clone())) {
                            act.announce(
                                &room,
                                &ServerFrame::UserJoin { user: user.clone() },
                                Some(user),
                            );
                        }
                    }
                    act.flush(ctx);
                }
                Err(e) => log::warn!("presence heartbeat failed: {e}"),
            }
        }));
    }

    /// Sweeps the rooms this instance has members in for users whose
    /// instance died, and announces their departure.
    pub(super) fn reap(&mut self, ctx: &mut Context<Self>) {
        let Some(mut conn) = self.publisher.clone() else {
            return;
        };
        let rooms = self.rooms.keys();
        if rooms.is_empty() {
            return;
        }
        let mut pipe = redis::pipe();
        let now = now_ms();
        for room in &rooms {
            pipe.invoke_script(
                SCRIPTS
                    .reap
                    .key(self.channels.online_key(room))
                    .arg(now)
                    .arg(self.channels.presence_prefix(room)),
            );
        }
        let sweep = async move { timed(pipe.query_async::<Vec<Vec<String>>>(&mut conn)).await };
        ctx.spawn(sweep.into_actor(self).map(move |result, act, ctx| {
            let gone = match result {
                Ok(gone) => gone,
                Err(e) => return log::warn!("presence sweep failed: {e}"),
            };
            for (room, users) in rooms.into_iter().zip(gone) {
                for user in users {
                    let Ok(user) = Username::parse(&user) else {
                        continue;
                    };
                    log::info!("{user} left #{room} with an instance that stopped");
                    act.announce(&room, &ServerFrame::UserLeave { user }, None);
                }
            }
            act.flush(ctx);
        }));
    }
}

/// A user's first connection to a room on this instance (or any later one,
/// to learn who is online).
#[derive(Message)]
#[rtype(result = "()")]
pub(super) struct Arrive {
    pub(super) room: RoomName,
    pub(super) user: Username,
    pub(super) local_first: bool,
    pub(super) reply: oneshot::Sender<Option<Arrival>>,
}

impl Handler<Arrive> for RedisBridge {
    type Result = ();

    fn handle(&mut self, msg: Arrive, ctx: &mut Self::Context) {
        if msg.local_first {
            self.presence.insert((msg.room.clone(), msg.user.clone()));
        }
        let arrival = msg
            .local_first
            .then(|| self.refresh(&msg.room, &msg.user, true));
        let room_key = self.channels.online_key(&msg.room);
        let now = now_ms();
        self.query(ctx, msg.reply, move |mut conn| async move {
            let (first, online) = match arrival {
                Some(arrival) => {
                    let (others, online) = arrival
                        .invoke_async::<(u64, Vec<String>)>(&mut conn)
                        .await?;
                    (others == 0, online)
                }
                None => {
                    let online = redis::cmd("ZRANGEBYSCORE")
                        .arg(room_key)
                        .arg(now)
                        .arg("+inf")
                        .query_async::<Vec<String>>(&mut conn)
                        .await?;
                    (false, online)
                }
            };
            // A sorted set's members are distinct already.
            let mut online: Vec<Username> = online
                .iter()
                .filter_map(|u| Username::parse(u).ok())
                .collect();
            online.sort();
            Ok(Arrival { first, online })
        });
    }
}

/// A user's last connection to a room on this instance closed.
#[derive(Message)]
#[rtype(result = "()")]
pub(super) struct Depart {
    pub(super) room: RoomName,
    pub(super) user: Username,
    pub(super) reply: oneshot::Sender<Option<bool>>,
}

impl Handler<Depart> for RedisBridge {
    type Result = ();

    fn handle(&mut self, msg: Depart, ctx: &mut Self::Context) {
        self.presence.remove(&(msg.room.clone(), msg.user.clone()));
        let user_key = self.channels.presence_key(&msg.room, &msg.user);
        let room_key = self.channels.online_key(&msg.room);
        let instance = self.instance.clone();
        let user = msg.user;
        self.query(ctx, msg.reply, move |mut conn| async move {
            let gone: u8 = SCRIPTS
                .depart
                .key(user_key)
                .key(room_key)
                .arg(instance)
                .arg(now_ms())
                .arg(user.as_str())
                .invoke_async(&mut conn)
                .await?;
            Ok(gone == 1)
        });
    }
}

/// Every room with anyone online on any instance, and how many: one
/// script call, whatever the number of rooms.
#[derive(Message)]
#[rtype(result = "()")]
pub(super) struct OnlineRooms {
    pub(super) reply: oneshot::Sender<Option<HashMap<RoomName, usize>>>,
}

impl Handler<OnlineRooms> for RedisBridge {
    type Result = ();

    fn handle(&mut self, msg: OnlineRooms, ctx: &mut Self::Context) {
        let mut ask = SCRIPTS.online_rooms.prepare_invoke();
        ask.key(self.channels.online_rooms_key())
            .arg(now_ms())
            .arg(self.channels.online_prefix());
        self.query(ctx, msg.reply, move |mut conn| async move {
            let busy: Vec<(String, usize)> = ask.invoke_async(&mut conn).await?;
            // Names come from Redis: only valid ones are believed (and
            // no direct conversation's: the room selector never lists one).
            Ok(busy
                .into_iter()
                .filter_map(|(room, online)| RoomName::parse(&room).ok().map(|r| (r, online)))
                .collect())
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dead_instance_is_swept_within_the_ttl() {
        for secs in [3, 6, 30, 600] {
            let ttl = Duration::from_secs(secs);
            let lifetime = ttl - sweep_interval(ttl);
            // Written at a refresh, an entry lapses after `lifetime` and is
            // swept at most one sweep later: within the TTL.
            assert!(lifetime + sweep_interval(ttl) <= ttl, "ttl {secs}s");
            // And a live instance refreshes it before it lapses.
            assert!(refresh_interval(ttl) < lifetime, "ttl {secs}s");
        }
    }
}
