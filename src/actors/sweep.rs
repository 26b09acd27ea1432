//! The session sweep: every `CONFAB_SESSION_SWEEP_SECS`, and at once when
//! moderation news asks for it, each instance re-checks everything that
//! decides whether its open connections may stay, in a few queries for all
//! of them.
//!
//! What the server itself changes it announces at once (a logout or a
//! password change goes over the bus, see [`RoomBus::sign_out`]; a
//! moderation action publishes [`ModerationNews::Recheck`], which the
//! registry turns into [`SweepNow`]). But the CLI is another process that
//! cannot message the server: it writes to the database and leaves it
//! there. The sweep is how those changes reach open sockets, within one
//! interval. For each connection, in this order:
//!
//! - its user's account is deactivated: [`Hangup::Deactivated`] (1008,
//!   "account deactivated"; read before the session, which deactivation
//!   deletes too, so the user is told why);
//! - its session is gone (logged out elsewhere, `confab user logout-all`,
//!   the account deleted) or idle past `CONFAB_SESSION_IDLE_SECS`:
//!   [`Hangup::SignedOut`] (1008);
//! - its room is gone: [`Hangup::RoomDeleted`] (4004);
//! - its user is banned there: [`Hangup::Banned`] (4003, with the reason);
//! - the room was renamed: [`Hangup::Moved`] (4005, with the new name);
//! - the room is admin-only now and the user is not staff:
//!   [`Hangup::NotAdmitted`] (1008);
//! - the room is private and the user is neither a member nor staff:
//!   [`Hangup::NotAMember`] (1008).
//!
//! A direct conversation is never admin-only, private or moderated and
//! its participants never change (its room admits them alone, see
//! [`RoomInfo::admits`]), so for its sockets only the account and the
//! session are re-checked.
//!
//! What it read of each room's rules (locked, archived, slow mode,
//! private) and of its connected users' standing (role, mute) it hands to
//! the rooms ([`RoomsRead`], through the registry), which tell their
//! modern sockets what changed: so a mute that runs out lifts on the page
//! within an interval too.
//!
//! Sweeps never overlap: one asked for while another runs is run once more
//! right after it (however many asked meanwhile), so news that came in
//! during a sweep is not missed, and a burst of news costs two sweeps.
//!
//! [`RoomInfo::admits`]: crate::domain::RoomInfo::admits
//!
//! An open connection is use of its session: the sweep writes that down
//! (no more often than [`LoginLifetime::needs_touch`] asks), so a session
//! with a page open never lapses; only one unused for the idle time does.
//! It also purges sessions idle past their time, once a minute (or once
//! per idle time, if that is shorter).
//!
//! [`RoomBus::sign_out`]: crate::actors::bus::RoomBus::sign_out
//! [`ModerationNews::Recheck`]: crate::actors::bus::ModerationNews::Recheck

use crate::actors::delivery::Hangup;
use crate::actors::registry::{OpenConnection, OpenConnections, Registry, RoomsRead, SweepNow};
use crate::actors::room::RulesRead;
use crate::db::queries::moderation::SanctionKind;
use crate::db::queries::rules::{self, RoomRules, Standing, SweepReads};
use crate::db::queries::{self, sessions};
use crate::db::{Database, DbError};
use crate::domain::{LoginId, LoginLifetime, RoomId, RoomName, UserId, Username};
use actix::prelude::*;
use chrono::NaiveDateTime;
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

/// How often sessions idle past their time are deleted, at most.
const PURGE_EVERY: Duration = Duration::from_secs(60);

/// The sweep actor: one per process, beside the registry.
pub struct SessionSweep {
    db: Database,
    registry: Addr<Registry>,
    lifetime: LoginLifetime,
    every: Duration,
    /// A sweep is under way.
    busy: bool,
    /// Asked for while busy: run once more when it ends.
    again: bool,
    last_purge: Option<Instant>,
}

impl SessionSweep {
    /// A sweep of `registry`'s connections every `every`, against the
    /// sessions in `db` and their `lifetime`.
    pub fn new(
        db: Database,
        registry: Addr<Registry>,
        lifetime: LoginLifetime,
        every: Duration,
    ) -> Self {
        SessionSweep {
            db,
            registry,
            lifetime,
            every,
            busy: false,
            again: false,
            last_purge: None,
        }
    }

    /// The interval's sweep: skipped while one runs (that one is as fresh).
    fn tick(&mut self, ctx: &mut Context<Self>) {
        if !self.busy {
            self.sweep(ctx);
        }
    }

    fn sweep(&mut self, ctx: &mut Context<Self>) {
        self.busy = true;
        let purge_every = PURGE_EVERY.min(self.lifetime.idle());
        let purge = self.last_purge.is_none_or(|at| at.elapsed() >= purge_every);
        let db = self.db.clone();
        let lifetime = self.lifetime;
        let registry = self.registry.clone();
        let sweep = async move {
            let open = registry.send(OpenConnections).await.unwrap_or_default();
            let logins = distinct(open.iter().map(|c| c.login));
            let rooms = distinct(open.iter().map(|c| c.room));
            let users = distinct(open.iter().map(|c| c.user_id));
            let read_at = Instant::now();
            let (live, reads, now) = db
                .run(move |c| {
                    let now = queries::now();
                    let live = check(c, &logins, lifetime, purge)?;
                    let reads = rules::for_sweep(c, &rooms, &users, now)?;
                    Ok::<_, DbError>((live, reads, now))
                })
                .await?;
            let mut staying = Vec::with_capacity(open.len());
            for connection in open {
                match verdict(&connection, &live, &reads, now) {
                    Some(why) => connection.handle.hang_up(why),
                    None => staying.push(connection),
                }
            }
            registry.do_send(RoomsRead(rooms_read(&staying, &live, &reads, now, read_at)));
            Ok::<_, DbError>(())
        };
        ctx.spawn(sweep.into_actor(self).map(move |result, act, ctx| {
            act.busy = false;
            if purge {
                act.last_purge = Some(Instant::now());
            }
            if let Err(e) = result {
                log::warn!("the session sweep could not read the sessions: {e}");
            }
            if std::mem::take(&mut act.again) {
                act.sweep(ctx);
            }
        }));
    }
}

impl Actor for SessionSweep {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.run_interval(self.every, |act, ctx| act.tick(ctx));
    }
}

impl Handler<SweepNow> for SessionSweep {
    type Result = ();

    fn handle(&mut self, _: SweepNow, ctx: &mut Self::Context) {
        if self.busy {
            self.again = true;
        } else {
            self.sweep(ctx);
        }
    }
}

/// Each value once.
fn distinct<T: std::hash::Hash + Eq>(values: impl Iterator<Item = T>) -> Vec<T> {
    values.collect::<HashSet<_>>().into_iter().collect()
}
/// What the sweep learnt of a session behind open connections: whether
/// its user is staff now. Sessions missing from the map are over.
type Live = HashMap<LoginId, bool>;

/// Reads the sessions `logins` (one query), writes down the use of those
/// that need it, and purges the idle ones if `purge`.
fn check(
    conn: &mut crate::db::DbConnection,
    logins: &[LoginId],
    lifetime: LoginLifetime,
    purge: bool,
) -> Result<Live, DbError> {
    let now = queries::now();
    let rows = if logins.is_empty() {
        Vec::new()
    } else {
        sessions::live(conn, logins)?
    };
    let mut live = Live::with_capacity(rows.len());
    let mut used = Vec::new();
    for row in rows {
        if lifetime.is_over(row.last_seen_at, now) {
            continue;
        }
        if lifetime.needs_touch(row.last_seen_at, now) {
            used.push(row.id);
        }
        live.insert(row.id, row.is_staff);
    }
    if !used.is_empty() {
        sessions::touch(conn, &used, now)?;
    }
    if purge {
        let purged = sessions::purge_idle(conn, lifetime.cutoff(now))?;
        if purged > 0 {
            log::info!(
                "purged {purged} sessions idle for over {:?}",
                lifetime.idle()
            );
        }
    }
    Ok(live)
}

/// Why `connection` must close now, if it must (the module's list, in its
/// order).
fn verdict(
    connection: &OpenConnection,
    live: &Live,
    reads: &SweepReads,
    now: NaiveDateTime,
) -> Option<Hangup> {
    if reads.deactivated.contains(&connection.user_id) {
        return Some(Hangup::Deactivated);
    }
    let Some(&is_staff) = live.get(&connection.login) else {
        return Some(Hangup::SignedOut);
    };
    let Some(room) = reads.rooms.get(&connection.room) else {
        return Some(Hangup::RoomDeleted);
    };
    if room.direct_a.is_some() {
        return None;
    }
    if !is_staff
        && let Some(ban) = reads.sanction(room.id, connection.user_id, SanctionKind::Ban, now)
    {
        return Some(Hangup::Banned {
            reason: ban.reason.clone(),
        });
    }
    if room.name != connection.room_name.as_str() {
        return Some(Hangup::Moved {
            to: RoomName::from_stored(room.name.clone()),
        });
    }
    if room.admin_only && !is_staff {
        return Some(Hangup::NotAdmitted);
    }
    if room.invite_only && !is_staff && !reads.members.contains(&(room.id, connection.user_id)) {
        return Some(Hangup::NotAMember);
    }
    None
}

/// What the rooms of the `staying` connections are told: their rules, and
/// the standing of each of their users.
fn rooms_read(
    staying: &[OpenConnection],
    live: &Live,
    reads: &SweepReads,
    now: NaiveDateTime,
    read_at: Instant,
) -> Vec<(RoomName, RulesRead)> {
    // Staff on any of their sessions is staff (one account).
    let staff: HashSet<UserId> = staying
        .iter()
        .filter(|c| live.get(&c.login).copied().unwrap_or(false))
        .map(|c| c.user_id)
        .collect();
    let mut by_room: HashMap<RoomId, (RoomName, HashMap<UserId, &Username>)> = HashMap::new();
    for connection in staying {
        by_room
            .entry(connection.room)
            .or_insert_with(|| (connection.room_name.clone(), HashMap::new()))
            .1
            .insert(connection.user_id, &connection.user);
    }
    let mut out = Vec::with_capacity(by_room.len());
    for (room_id, (name, users)) in by_room {
        let Some(room) = reads.rooms.get(&room_id) else {
            continue;
        };
        let rules = RoomRules::of(room);
        let standings = users
            .into_iter()
            .map(|(user_id, user)| {
                let is_staff = staff.contains(&user_id);
                let role = reads.role(room, user_id, is_staff);
                let standing = Standing {
                    role,
                    muted: (!is_staff)
                        .then(|| reads.sanction(room_id, user_id, SanctionKind::Mute, now))
                        .flatten()
                        .cloned(),
                };
                let wait = if role.moderates() {
                    Duration::ZERO
                } else {
                    rules::slow_mode_wait(
                        &rules,
                        reads.last_posts.get(&(room_id, user_id)).copied(),
                        now,
                    )
                };
                (user.clone(), standing, wait)
            })
            .collect();
        out.push((
            name,
            RulesRead {
                read_at,
                rules,
                standings,
            },
        ));
    }
    out
}
