//! The rules moderation puts on rooms and people (issue 14), read where
//! they are enforced: the writer's checks on every post, edit and
//! reaction; the WebSocket handshake and the room page (who may enter);
//! the session sweep (who may stay, and what open sockets are told).
//!
//! Nothing here decides what happens to a socket or a request: these are
//! reads, shaped for their readers. Every one reads the database as it is
//! now, so a rule takes effect whoever changed it (this server, another
//! instance, the CLI). The moderation service writes the rows
//! (`moderation::apply`); the shared reads of a user's role and of one
//! sanction are in [`moderation`](super::moderation).
//!
//! On the writer's hot path the room's rules and its sanctions in force
//! are one query per room and batch ([`gate`]), however many posts the
//! batch holds; what depends on the user (their staff flag, whether they
//! moderate, their last post under slow mode) is read only when a rule
//! makes it matter.

use super::moderation::{RoomRole, SanctionKind, in_force, is_moderator};
use crate::db::models::{Room, Sanction};
use crate::db::schema::{
    memberships, messages, room_aliases, room_moderators, rooms, sanctions, users,
};
use crate::db::{DbConnection, DbError};
use crate::domain::{Identity, MessageId, RoomId, UserId};
use crate::protocol::{MuteView, RoomStateView, StandingView};
use chrono::{NaiveDateTime, TimeDelta};
use diesel::prelude::*;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

/// Ids per statement: within every backend's limit on bound parameters.
const IDS_PER_QUERY: usize = 10_000;

/// What a room's row says about writing in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RoomRules {
    /// Read-only for all but staff and moderators.
    pub locked: bool,
    /// Archived: read-only as locked.
    pub archived: bool,
    /// Seconds between one user's posts; 0: off.
    pub slow_mode_secs: u32,
    /// Members only.
    pub invite_only: bool,
}

impl RoomRules {
    /// The rules of `room`.
    pub fn of(room: &Room) -> Self {
        RoomRules {
            locked: room.locked,
            archived: room.archived_at.is_some(),
            slow_mode_secs: u32::try_from(room.slow_mode_secs).unwrap_or(0),
            invite_only: room.invite_only,
        }
    }

    /// As the `room_state` frame says them.
    pub fn view(&self) -> RoomStateView {
        RoomStateView {
            locked: self.locked,
            archived: self.archived,
            slow_mode_secs: self.slow_mode_secs,
            invite_only: self.invite_only,
        }
    }

    /// Slow mode's interval, if it is on.
    pub fn slow_mode(&self) -> Option<Duration> {
        (self.slow_mode_secs > 0).then(|| Duration::from_secs(u64::from(self.slow_mode_secs)))
    }
}

/// A mute or ban in force, as the user it holds is told it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sanctioned {
    /// Mute or ban.
    pub kind: SanctionKind,
    /// Why (may be empty).
    pub reason: String,
    /// When it ends by itself; `None`: when lifted.
    pub until: Option<NaiveDateTime>,
}

impl Sanctioned {
    /// `row` as its user is told it; `None` for a kind this server does
    /// not know.
    fn of(row: &Sanction) -> Option<Self> {
        let kind = match row.kind.as_str() {
            "mute" => SanctionKind::Mute,
            "ban" => SanctionKind::Ban,
            _ => return None,
        };
        Some(Sanctioned {
            kind,
            reason: row.reason.clone(),
            until: row.expires_at,
        })
    }

    /// Whether it still holds at `now` (read earlier in a batch, it may
    /// have run out since).
    pub fn holds_at(&self, now: NaiveDateTime) -> bool {
        self.until.is_none_or(|until| until > now)
    }

    /// As the `standing` frame and the `muted` error say it.
    pub fn view(&self) -> MuteView {
        MuteView {
            reason: self.reason.clone(),
            until: self.until.map(|t| t.and_utc()),
        }
    }

    /// The end in words: "until 14:05 UTC", "until Dec 7, 14:05 UTC" (when
    /// not within a day of `now`), or "until a moderator lifts it".
    pub fn until_words(&self, now: NaiveDateTime) -> String {
        match self.until {
            None => "until a moderator lifts it".to_owned(),
            Some(until) if until - now < TimeDelta::hours(24) => {
                format!("until {} UTC", until.format("%H:%M"))
            }
            Some(until) => format!("until {} UTC", until.format("%b %-d, %H:%M")),
        }
    }
}

/// One user's standing in one room: their role and the mute on them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Standing {
    /// Member, moderator, owner or staff.
    pub role: RoomRole,
    /// The mute in force, if any.
    pub muted: Option<Sanctioned>,
}

impl Standing {
    /// Whether they may post, edit and react under `rules`, as far as
    /// their standing goes (slow mode aside).
    pub fn may_write(&self, rules: &RoomRules, now: NaiveDateTime) -> bool {
        if self.role == RoomRole::Staff {
            return true;
        }
        if (rules.locked || rules.archived) && !self.role.moderates() {
            return false;
        }
        self.muted.as_ref().is_none_or(|m| !m.holds_at(now))
    }

    /// As the `standing` frame says it, with `wait` left of slow mode.
    pub fn view(&self, wait: Duration) -> StandingView {
        StandingView {
            role: self.role.as_str(),
            muted: self.muted.as_ref().map(Sanctioned::view),
            slow_mode_wait_ms: u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
        }
    }
}

/// A room as the writer checks every write in it against: its row and the
/// sanctions in force there, read once per batch.
#[derive(Debug, Clone)]
pub struct RoomGate {
    /// The room as it is now.
    pub room: Room,
    /// Mutes and bans in force when it was read, by user.
    sanctions: Vec<(UserId, Sanctioned)>,
}

impl RoomGate {
    /// The `kind` sanction on `user` in force at `now`, if any (the one
    /// that ends last, when several overlap).
    pub fn sanction(
        &self,
        user: UserId,
        kind: SanctionKind,
        now: NaiveDateTime,
    ) -> Option<&Sanctioned> {
        self.sanctions
            .iter()
            .filter(|(u, s)| *u == user && s.kind == kind && s.holds_at(now))
            .map(|(_, s)| s)
            .max_by_key(|s| (s.until.is_none(), s.until))
    }

    /// The room's rules.
    pub fn rules(&self) -> RoomRules {
        RoomRules::of(&self.room)
    }
}

/// Room `id` with its sanctions in force ([`DbError::NotFound`] once it is
/// deleted). On the writer thread it is read once per batch and room (see
/// [`gate_once_per_batch`](crate::db::writer::gate_once_per_batch)), so a
/// batch of a thousand posts reads it once per room; elsewhere, every time.
pub fn gate(conn: &mut DbConnection, id: RoomId) -> Result<Arc<RoomGate>, DbError> {
    crate::db::writer::gate_once_per_batch(id, || read_gate(conn, id).map(Arc::new))
}

/// One query: the room's row, with each sanction in force joined to it.
fn read_gate(conn: &mut DbConnection, id: RoomId) -> Result<RoomGate, DbError> {
    let now = super::now();
    let rows: Vec<(Room, Option<Sanction>)> = rooms::table
        .left_join(sanctions::table.on(sanctions::room_id.eq(rooms::id).and(in_force(now))))
        .filter(rooms::id.eq(id))
        .select((Room::as_select(), Option::<Sanction>::as_select()))
        .load(conn)?;
    let mut rows = rows.into_iter();
    let Some((room, first)) = rows.next() else {
        return Err(DbError::NotFound);
    };
    let sanctions = std::iter::once(first)
        .chain(rows.map(|(_, s)| s))
        .flatten()
        .filter_map(|row| Sanctioned::of(&row).map(|s| (row.user_id, s)))
        .collect();
    Ok(RoomGate { room, sanctions })
}

/// `user`'s role in `room`, given whether they are staff now.
pub fn role(
    conn: &mut DbConnection,
    room: &Room,
    user: UserId,
    is_staff: bool,
) -> Result<RoomRole, DbError> {
    Ok(if is_staff {
        RoomRole::Staff
    } else if room.direct_a.is_some() {
        RoomRole::Member
    } else if room.created_by == Some(user) {
        RoomRole::Owner
    } else if is_moderator(conn, room.id, user)? {
        RoomRole::Moderator
    } else {
        RoomRole::Member
    })
}

/// When `user` last posted in `room` after `since`, if they did.
///
/// Two walks of the `(room_id, id)` index from the newest message, each
/// bounded by the messages posted after `since` (which slow mode itself
/// keeps few): the newest message before `since`, then the user's newest
/// after it. A single query filtering on the author would walk the whole
/// room when they had not posted lately.
pub fn last_post_since(
    conn: &mut DbConnection,
    room: RoomId,
    user: UserId,
    since: NaiveDateTime,
) -> Result<Option<NaiveDateTime>, DbError> {
    let floor = window_floor(conn, room, since)?;
    Ok(messages::table
        .filter(messages::room_id.eq(room))
        .filter(messages::id.gt(floor))
        .filter(messages::user_id.eq(user))
        .filter(messages::created_at.gt(since))
        .order(messages::id.desc())
        .select(messages::created_at)
        .first(conn)
        .optional()?)
}

/// The newest message of `room` posted at or before `since` (0: none):
/// every message after it is newer than `since`.
fn window_floor(
    conn: &mut DbConnection,
    room: RoomId,
    since: NaiveDateTime,
) -> Result<MessageId, DbError> {
    Ok(messages::table
        .filter(messages::room_id.eq(room))
        .filter(messages::created_at.le(since))
        .order(messages::id.desc())
        .select(messages::id)
        .first(conn)
        .optional()?
        .unwrap_or(MessageId(0)))
}

/// How long `rules`' slow mode makes someone wait at `now` who last
/// posted at `last` (zero when they may post).
pub fn slow_mode_wait(
    rules: &RoomRules,
    last: Option<NaiveDateTime>,
    now: NaiveDateTime,
) -> Duration {
    let (Some(interval), Some(last)) = (rules.slow_mode(), last) else {
        return Duration::ZERO;
    };
    let next = last + TimeDelta::from_std(interval).unwrap_or(TimeDelta::MAX);
    (next - now).to_std().unwrap_or(Duration::ZERO)
}

/// Everything a socket is told of the room and its user when it joins:
/// the rules, the user's standing (with their staff flag as of now) and
/// what is left of slow mode's wait. `None` for a room that is gone.
pub fn on_join(
    conn: &mut DbConnection,
    room: RoomId,
    user: UserId,
) -> Result<Option<(RoomRules, Standing, Duration)>, DbError> {
    let now = super::now();
    let gate = match read_gate(conn, room) {
        Ok(gate) => gate,
        Err(DbError::NotFound) => return Ok(None),
        Err(e) => return Err(e),
    };
    let is_staff = match users::table
        .find(user)
        .select(users::is_staff)
        .first::<bool>(conn)
        .optional()?
    {
        Some(is_staff) => is_staff,
        None => return Ok(None),
    };
    let role = role(conn, &gate.room, user, is_staff)?;
    let rules = gate.rules();
    let standing = Standing {
        role,
        muted: gate.sanction(user, SanctionKind::Mute, now).cloned(),
    };
    let wait = match rules.slow_mode() {
        Some(interval) if !role.moderates() => {
            let since = now - TimeDelta::from_std(interval).unwrap_or(TimeDelta::MAX);
            slow_mode_wait(&rules, last_post_since(conn, room, user, since)?, now)
        }
        _ => Duration::ZERO,
    };
    Ok(Some((rules, standing, wait)))
}

/// Whether someone may enter a room (its page, its socket), as far as
/// their own rows say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Come in.
    Admitted,
    /// The room is admin-only (or a conversation of others).
    StaffOnly,
    /// Banned here: 403, with the reason and the end.
    Banned(Sanctioned),
    /// A private room they are not a member of: 404, as if it did not
    /// exist.
    NotAMember,
}

/// Whether `who` (with their staff flag as of this request) may enter
/// `room` now: the room's own rule ([`RoomInfo::admits`]), then a ban,
/// then, in a private room, membership. Staff may enter any room (but
/// not others' conversations).
///
/// [`RoomInfo::admits`]: crate::domain::RoomInfo::admits
pub fn admission(
    conn: &mut DbConnection,
    room: &Room,
    who: &Identity,
) -> Result<Admission, DbError> {
    let info = crate::domain::RoomInfo::from(room.clone());
    if !info.admits(who) {
        return Ok(Admission::StaffOnly);
    }
    if who.is_staff || info.direct.is_some() {
        return Ok(Admission::Admitted);
    }
    let now = super::now();
    if let Some(ban) =
        super::moderation::active_sanction(conn, room.id, who.id, SanctionKind::Ban, now)?
            .as_ref()
            .and_then(Sanctioned::of)
    {
        return Ok(Admission::Banned(ban));
    }
    if room.invite_only && !super::memberships::is_member(conn, who.id, room.id)? {
        return Ok(Admission::NotAMember);
    }
    Ok(Admission::Admitted)
}

/// The room once called `old` (renamed since), if any.
pub fn renamed_from(conn: &mut DbConnection, old: &str) -> Result<Option<Room>, DbError> {
    Ok(room_aliases::table
        .inner_join(rooms::table)
        .filter(room_aliases::name.eq(old))
        .select(Room::as_select())
        .first(conn)
        .optional()?)
}

/// What the session sweep reads for the connections of one instance, in a
/// few queries whatever their number.
#[derive(Debug, Default)]
pub struct SweepReads {
    /// Users among those asked about whose account is deactivated.
    pub deactivated: HashSet<UserId>,
    /// The rooms asked about that still exist.
    pub rooms: HashMap<RoomId, Room>,
    /// Sanctions in force on the users asked about, in those rooms.
    pub sanctions: HashMap<(RoomId, UserId), Vec<Sanctioned>>,
    /// Who moderates which of those rooms (among the users asked about).
    pub moderators: HashSet<(RoomId, UserId)>,
    /// Memberships of the users asked about in the private rooms among
    /// them.
    pub members: HashSet<(RoomId, UserId)>,
    /// In rooms under slow mode: each user's last post within the
    /// interval.
    pub last_posts: HashMap<(RoomId, UserId), NaiveDateTime>,
}

impl SweepReads {
    /// The `kind` sanction on `user` in `room` in force at `now`.
    pub fn sanction(
        &self,
        room: RoomId,
        user: UserId,
        kind: SanctionKind,
        now: NaiveDateTime,
    ) -> Option<&Sanctioned> {
        self.sanctions
            .get(&(room, user))?
            .iter()
            .filter(|s| s.kind == kind && s.holds_at(now))
            .max_by_key(|s| (s.until.is_none(), s.until))
    }

    /// `user`'s role in `room` (read), given whether they are staff.
    pub fn role(&self, room: &Room, user: UserId, is_staff: bool) -> RoomRole {
        if is_staff {
            RoomRole::Staff
        } else if room.direct_a.is_some() {
            RoomRole::Member
        } else if room.created_by == Some(user) {
            RoomRole::Owner
        } else if self.moderators.contains(&(room.id, user)) {
            RoomRole::Moderator
        } else {
            RoomRole::Member
        }
    }
}

/// Reads what the sweep needs about `rooms` and `users` at `now`.
pub fn for_sweep(
    conn: &mut DbConnection,
    rooms_asked: &[RoomId],
    users_asked: &[UserId],
    now: NaiveDateTime,
) -> Result<SweepReads, DbError> {
    let mut reads = SweepReads::default();
    if users_asked.is_empty() {
        return Ok(reads);
    }
    for chunk in users_asked.chunks(IDS_PER_QUERY) {
        reads.deactivated.extend(
            users::table
                .filter(users::id.eq_any(chunk))
                .filter(users::deactivated_at.is_not_null())
                .select(users::id)
                .load::<UserId>(conn)?,
        );
    }
    for chunk in rooms_asked.chunks(IDS_PER_QUERY) {
        reads.rooms.extend(
            rooms::table
                .filter(rooms::id.eq_any(chunk))
                .select(Room::as_select())
                .load(conn)?
                .into_iter()
                .map(|room| (room.id, room)),
        );
    }
    // Conversations have no moderation: only rooms are asked about.
    let moderated: Vec<RoomId> = reads
        .rooms
        .values()
        .filter(|room| room.direct_a.is_none())
        .map(|room| room.id)
        .collect();
    // Rooms and users in chunks whose product stays within the limit.
    const SIDE: usize = 1_000;
    for rooms_chunk in moderated.chunks(SIDE) {
        for users_chunk in users_asked.chunks(SIDE) {
            let rows: Vec<Sanction> = sanctions::table
                .filter(sanctions::room_id.eq_any(rooms_chunk))
                .filter(sanctions::user_id.eq_any(users_chunk))
                .filter(in_force(now))
                .select(Sanction::as_select())
                .load(conn)?;
            for row in rows {
                if let Some(sanctioned) = Sanctioned::of(&row) {
                    reads
                        .sanctions
                        .entry((row.room_id, row.user_id))
                        .or_default()
                        .push(sanctioned);
                }
            }
            reads.moderators.extend(
                room_moderators::table
                    .filter(room_moderators::room_id.eq_any(rooms_chunk))
                    .filter(room_moderators::user_id.eq_any(users_chunk))
                    .select((room_moderators::room_id, room_moderators::user_id))
                    .load::<(RoomId, UserId)>(conn)?,
            );
        }
    }
    let private: Vec<RoomId> = reads
        .rooms
        .values()
        .filter(|room| room.invite_only && room.direct_a.is_none())
        .map(|room| room.id)
        .collect();
    for rooms_chunk in private.chunks(SIDE) {
        for users_chunk in users_asked.chunks(SIDE) {
            reads.members.extend(
                memberships::table
                    .filter(memberships::room_id.eq_any(rooms_chunk))
                    .filter(memberships::user_id.eq_any(users_chunk))
                    .select((memberships::room_id, memberships::user_id))
                    .load::<(RoomId, UserId)>(conn)?,
            );
        }
    }
    let slow: Vec<(RoomId, Duration)> = reads
        .rooms
        .values()
        .filter_map(|room| Some((room.id, RoomRules::of(room).slow_mode()?)))
        .collect();
    for (room, interval) in slow {
        let since = now - TimeDelta::from_std(interval).unwrap_or(TimeDelta::MAX);
        let floor = window_floor(conn, room, since)?;
        for users_chunk in users_asked.chunks(IDS_PER_QUERY) {
            let rows: Vec<(UserId, Option<NaiveDateTime>)> = messages::table
                .filter(messages::room_id.eq(room))
                .filter(messages::id.gt(floor))
                .filter(messages::user_id.eq_any(users_chunk))
                .filter(messages::created_at.gt(since))
                .group_by(messages::user_id)
                .select((messages::user_id, diesel::dsl::max(messages::created_at)))
                .load(conn)?;
            reads.last_posts.extend(
                rows.into_iter()
                    .filter_map(|(user, at)| Some(((room, user), at?))),
            );
        }
    }
    Ok(reads)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn at(h: u32, m: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 12, 7)
            .unwrap()
            .and_hms_opt(h, m, 0)
            .unwrap()
    }

    #[test]
    fn the_end_of_a_sanction_reads_as_a_person_says_it() {
        let mute = |until| Sanctioned {
            kind: SanctionKind::Mute,
            reason: "spamming".into(),
            until,
        };
        assert_eq!(
            mute(None).until_words(at(12, 0)),
            "until a moderator lifts it"
        );
        assert_eq!(
            mute(Some(at(14, 5))).until_words(at(12, 0)),
            "until 14:05 UTC"
        );
        let later = NaiveDate::from_ymd_opt(2026, 12, 9)
            .unwrap()
            .and_hms_opt(9, 30, 0)
            .unwrap();
        assert_eq!(
            mute(Some(later)).until_words(at(12, 0)),
            "until Dec 9, 09:30 UTC"
        );
        assert!(mute(Some(at(14, 5))).holds_at(at(14, 4)));
        assert!(!mute(Some(at(14, 5))).holds_at(at(14, 5)));
        assert!(mute(None).holds_at(at(23, 59)));
    }

    #[test]
    fn slow_mode_waits_out_the_rest_of_the_interval() {
        let rules = RoomRules {
            slow_mode_secs: 30,
            ..RoomRules::default()
        };
        assert_eq!(
            slow_mode_wait(&rules, Some(at(12, 0)), at(12, 0) + TimeDelta::seconds(10)),
            Duration::from_secs(20)
        );
        assert_eq!(
            slow_mode_wait(&rules, Some(at(12, 0)), at(12, 1)),
            Duration::ZERO
        );
        assert_eq!(slow_mode_wait(&rules, None, at(12, 0)), Duration::ZERO);
        let off = RoomRules::default();
        assert_eq!(
            slow_mode_wait(&off, Some(at(12, 0)), at(12, 0)),
            Duration::ZERO
        );
    }

    #[test]
    fn who_may_write_under_which_rules() {
        let now = at(12, 0);
        let member = Standing {
            role: RoomRole::Member,
            muted: None,
        };
        let moderator = Standing {
            role: RoomRole::Moderator,
            muted: None,
        };
        let open = RoomRules::default();
        let locked = RoomRules {
            locked: true,
            ..open
        };
        let archived = RoomRules {
            archived: true,
            ..open
        };
        assert!(member.may_write(&open, now));
        assert!(!member.may_write(&locked, now));
        assert!(!member.may_write(&archived, now));
        assert!(moderator.may_write(&locked, now));
        let muted = Standing {
            muted: Some(Sanctioned {
                kind: SanctionKind::Mute,
                reason: String::new(),
                until: Some(at(13, 0)),
            }),
            ..member
        };
        assert!(!muted.may_write(&open, now));
        assert!(muted.may_write(&open, at(13, 0)), "a mute runs out");
        let staff = Standing {
            role: RoomRole::Staff,
            ..muted
        };
        assert!(staff.may_write(&locked, now));
    }
}
