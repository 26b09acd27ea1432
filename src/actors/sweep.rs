//! The session sweep: every `CONFAB_SESSION_SWEEP_SECS`, each instance
//! re-checks the signed-in sessions and staff rights behind its open
//! connections, in one query for all of them.
//!
//! What the server itself changes it announces at once (a logout or a
//! password change goes over the bus, see [`RoomBus::sign_out`]). But the
//! CLI is another process that cannot message the server: it writes to the
//! database and leaves it there. The sweep is how those changes reach open
//! sockets, within one interval: a connection whose session is gone (logged
//! out elsewhere, `confab user logout-all`, the account deleted) or idle
//! past `CONFAB_SESSION_IDLE_SECS` is closed with [`Hangup::SignedOut`],
//! and one in a room that is admin-only now (`confab room set` may have
//! made it so) whose user is not staff now with [`Hangup::NotAdmitted`].
//! Both close with 1008. A direct conversation is never admin-only and its
//! participants never change (its room admits them alone, see
//! [`RoomInfo::admits`]), so for its sockets only the session is re-checked.
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

use crate::actors::delivery::Hangup;
use crate::actors::registry::{OpenConnection, OpenConnections, Registry};
use crate::db::queries::{self, rooms, sessions};
use crate::db::{Database, DbError};
use crate::domain::{LoginId, LoginLifetime, RoomId};
use actix::prelude::*;
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
    /// A sweep is under way; a tick meanwhile is skipped.
    busy: bool,
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
            last_purge: None,
        }
    }

    fn tick(&mut self, ctx: &mut Context<Self>) {
        if self.busy {
            return;
        }
        self.busy = true;
        let purge_every = PURGE_EVERY.min(self.lifetime.idle());
        let purge = self.last_purge.is_none_or(|at| at.elapsed() >= purge_every);
        let db = self.db.clone();
        let lifetime = self.lifetime;
        let registry = self.registry.clone();
        let sweep = async move {
            let open = registry.send(OpenConnections).await.unwrap_or_default();
            let logins: Vec<LoginId> = open
                .iter()
                .map(|c| c.login)
                .collect::<HashSet<_>>()
                .into_iter()
                .collect();
            let rooms: Vec<RoomId> = open
                .iter()
                .map(|c| c.room)
                .collect::<HashSet<_>>()
                .into_iter()
                .collect();
            let (live, admin_only) = db
                .run(move |c| {
                    let live = check(c, &logins, lifetime, purge)?;
                    Ok::<_, DbError>((live, rooms::admin_only_among(c, &rooms)?))
                })
                .await?;
            hang_up_the_ended(&open, &live, &admin_only);
            Ok::<_, DbError>(())
        };
        ctx.spawn(sweep.into_actor(self).map(move |result, act, _ctx| {
            act.busy = false;
            if purge {
                act.last_purge = Some(Instant::now());
            }
            if let Err(e) = result {
                log::warn!("the session sweep could not read the sessions: {e}");
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

/// Closes each connection whose session is over, or whose room is
/// admin-only now (one of `admin_only`) while its user is not staff.
fn hang_up_the_ended(open: &[OpenConnection], live: &Live, admin_only: &HashSet<RoomId>) {
    for connection in open {
        match live.get(&connection.login) {
            None => connection.handle.hang_up(Hangup::SignedOut),
            Some(false) if admin_only.contains(&connection.room) => {
                connection.handle.hang_up(Hangup::NotAdmitted)
            }
            Some(_) => {}
        }
    }
}
