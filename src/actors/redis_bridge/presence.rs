//! Who is online, shared through Redis.
//!
//! For each room, a sorted set of the users online on any instance, and per
//! user a sorted set of the instances they are on, each scored by when it
//! expires. Each instance refreshes its entries (a heartbeat) and, for
//! rooms it has members in, sweeps out entries whose instance stopped
//! refreshing them (a crashed process), announcing those users' departure.
//! Lua scripts make each step atomic, so exactly one instance announces a
//! user's first arrival and last departure.
//!
//! Timing: an entry is written to expire five sixths of the TTL after its
//! refresh, refreshes come every third of the TTL and sweeps every sixth, so
//! a live entry never lapses and a dead instance's users are gone from
//! every list within the TTL.

use super::{REDIS_TIMEOUT, RedisBridge};
use crate::actors::bus::Arrival;
use crate::domain::{RoomName, Username};
use crate::protocol::ServerFrame;
use actix::prelude::*;
use redis::aio::MultiplexedConnection;
use std::collections::HashMap;
use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::oneshot;

/// Adds this instance to a user's entry in a room; returns how many other
/// instances had them and who is online now.
/// KEYS: user key, room key. ARGV: instance, expiry ms, now ms, user, ttl ms.
pub(super) const ARRIVE: &str = r"
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
pub(super) const REFRESH: &str = r"
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
pub(super) const DEPART: &str = r"
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
pub(super) const REAP: &str = r"
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

/// Every script, loaded on each new connection: pipelined invocations run
/// by hash and do not load a missing script themselves.
pub(super) const SCRIPTS: [&str; 4] = [ARRIVE, REFRESH, DEPART, REAP];

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

    /// Runs `request` on the publishing connection and hands its answer
    /// (`None`: Redis is down, failed or timed out) to `reply`.
    fn ask<T, F>(
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
                let answer = match tokio::time::timeout(REDIS_TIMEOUT, request).await {
                    Ok(Ok(answer)) => Some(answer),
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
        let script = redis::Script::new(REFRESH);
        let mut pipe = redis::pipe();
        let (expiry, now, ttl) = (self.expiry_ms(), now_ms(), self.ttl_ms());
        for (room, user) in &pairs {
            pipe.invoke_script(
                script
                    .key(self.channels.presence_key(room, user))
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
                            act.announce(&room, &ServerFrame::UserJoin { user });
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
    pub(super) fn reap(&mut self, ctx: &mut Context<Self>) {
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
                    act.announce(&room, &ServerFrame::UserLeave { user });
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
        let room_key = self.channels.online_key(&msg.room);
        let user_key = self.channels.presence_key(&msg.room, &msg.user);
        let (instance, expiry, ttl, now) = (
            self.instance.clone(),
            self.expiry_ms(),
            self.ttl_ms(),
            now_ms(),
        );
        let Arrive {
            user,
            local_first,
            reply,
            ..
        } = msg;
        self.ask(ctx, reply, move |mut conn| async move {
            let (first, online) = if local_first {
                let (others, online) = redis::Script::new(ARRIVE)
                    .key(user_key)
                    .key(room_key)
                    .arg(instance)
                    .arg(expiry)
                    .arg(now)
                    .arg(user.as_str())
                    .arg(ttl)
                    .invoke_async::<(u64, Vec<String>)>(&mut conn)
                    .await?;
                (others == 0, online)
            } else {
                let online = redis::cmd("ZRANGEBYSCORE")
                    .arg(room_key)
                    .arg(now)
                    .arg("+inf")
                    .query_async::<Vec<String>>(&mut conn)
                    .await?;
                (false, online)
            };
            let mut online: Vec<Username> = online
                .iter()
                .filter_map(|u| Username::parse(u).ok())
                .collect();
            online.sort();
            online.dedup();
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
        self.ask(ctx, msg.reply, move |mut conn| async move {
            let gone: u8 = redis::Script::new(DEPART)
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

/// How many users are online in each room, over every instance.
#[derive(Message)]
#[rtype(result = "()")]
pub(super) struct Counts {
    pub(super) rooms: Vec<RoomName>,
    pub(super) reply: oneshot::Sender<Option<HashMap<RoomName, usize>>>,
}

impl Handler<Counts> for RedisBridge {
    type Result = ();

    fn handle(&mut self, msg: Counts, ctx: &mut Self::Context) {
        let mut pipe = redis::pipe();
        let now = now_ms();
        for room in &msg.rooms {
            pipe.cmd("ZCOUNT")
                .arg(self.channels.online_key(room))
                .arg(now)
                .arg("+inf");
        }
        let rooms = msg.rooms;
        self.ask(ctx, msg.reply, move |mut conn| async move {
            let counts: Vec<usize> = pipe.query_async(&mut conn).await?;
            Ok(rooms.into_iter().zip(counts).collect())
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
