//! Actions on people in a room: kick, mute and ban (each with the reason
//! the person is shown), and lifting a mute or a ban.
//!
//! Moderators act on members; the owner and staff on moderators too;
//! nobody but the command line on staff (see
//! [`may_act_on`](super::acting::may_act_on)).

use super::acting::{self, Acting, account, may_act_on, require};
use super::audit::Entry;
use super::{Done, Effect, ModError};
use crate::db::DbConnection;
use crate::db::models::NewSanction;
use crate::db::queries::moderation::{self as rows, RoomRole, SanctionKind};
use crate::db::queries::now;
use crate::domain::{Reason, RoomName, Username};
use chrono::TimeDelta;

/// A duration as a person says it: "1 minute", "90 minutes", "2 hours",
/// "3 days".
pub(super) fn minutes_in_words(minutes: u32) -> String {
    let (n, unit) = match minutes {
        m if m >= 1440 && m % 1440 == 0 => (m / 1440, "day"),
        m if m >= 60 && m % 60 == 0 => (m / 60, "hour"),
        m => (m, "minute"),
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

/// Moderators: close `user`'s sockets in the room; they may come back.
pub(super) fn kick(
    conn: &mut DbConnection,
    acting: &Acting,
    name: &RoomName,
    user: &Username,
    reason: &Reason,
) -> Result<Done, ModError> {
    let (room, role) = acting::room(conn, acting, name)?;
    require(role, RoomRole::Moderator, "kick people")?;
    let target = account(conn, user)?;
    may_act_on(conn, acting, role, &room, &target, "kick")?;
    Ok(Done::new(
        format!("{user} was kicked from #{name}; they may come back."),
        Entry::new("user.kick", user.as_str())
            .in_room(name.as_str())
            .because(reason.as_str()),
    )
    .effect(Effect::Kick {
        room: RoomName::from_stored(room.name),
        user: user.clone(),
        reason: reason.as_str().to_owned(),
    }))
}

/// Moderators: a mute (may read, may not post, edit, react or type) or a
/// ban (kept out), for `minutes` or until lifted. It replaces one of the
/// same kind in force.
pub(super) fn sanction(
    conn: &mut DbConnection,
    acting: &Acting,
    name: &RoomName,
    user: &Username,
    kind: SanctionKind,
    minutes: Option<u32>,
    reason: &Reason,
) -> Result<Done, ModError> {
    let (room, role) = acting::room(conn, acting, name)?;
    let (verb, what, action, state) = match kind {
        SanctionKind::Mute => ("mute", "mute people", "user.mute", "muted in"),
        SanctionKind::Ban => ("ban", "ban people", "user.ban", "banned from"),
    };
    require(role, RoomRole::Moderator, what)?;
    let target = account(conn, user)?;
    may_act_on(conn, acting, role, &room, &target, verb)?;
    let at = now();
    let expires_at = match minutes {
        None => None,
        Some(0) => {
            return Err(ModError::Invalid(format!(
                "A {verb} lasts at least a minute; leave the duration empty for one until lifted."
            )));
        }
        Some(m) => Some(
            at.checked_add_signed(TimeDelta::minutes(i64::from(m)))
                .ok_or_else(|| ModError::Invalid(format!("{m} minutes is too long.")))?,
        ),
    };
    rows::impose(
        conn,
        &NewSanction {
            room_id: room.id,
            user_id: target.id,
            kind: kind.as_str(),
            reason: reason.as_str(),
            created_by: acting.id(),
            created_at: at,
            expires_at,
        },
    )?;
    let (how_long, detail) = match minutes {
        Some(m) => (format!("for {}", minutes_in_words(m)), minutes_in_words(m)),
        None => (
            "until a moderator lifts it".to_owned(),
            "until lifted".to_owned(),
        ),
    };
    Ok(Done::new(
        format!("{user} is {state} #{name} {how_long}."),
        Entry::new(action, user.as_str())
            .in_room(name.as_str())
            .because(reason.as_str())
            .detail(detail),
    )
    .effect(Effect::Recheck))
}

/// Moderators: lift a mute or a ban in force.
pub(super) fn lift(
    conn: &mut DbConnection,
    acting: &Acting,
    name: &RoomName,
    user: &Username,
    kind: SanctionKind,
) -> Result<Done, ModError> {
    let (room, role) = acting::room(conn, acting, name)?;
    let (verb, what, action, state, message) = match kind {
        SanctionKind::Mute => (
            "unmute",
            "unmute people",
            "user.unmute",
            "muted in",
            format!("{user} may post in #{name} again."),
        ),
        SanctionKind::Ban => (
            "unban",
            "unban people",
            "user.unban",
            "banned from",
            format!("{user} may enter #{name} again."),
        ),
    };
    require(role, RoomRole::Moderator, what)?;
    let target = account(conn, user)?;
    may_act_on(conn, acting, role, &room, &target, verb)?;
    if rows::lift(conn, room.id, target.id, kind, now())? == 0 {
        return Err(ModError::Invalid(format!("{user} is not {state} #{name}.")));
    }
    Ok(Done::new(
        message,
        Entry::new(action, user.as_str()).in_room(name.as_str()),
    )
    .effect(Effect::Recheck))
}

#[cfg(test)]
mod tests {
    use super::minutes_in_words;

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(minutes_in_words(1), "1 minute");
        assert_eq!(minutes_in_words(90), "90 minutes");
        assert_eq!(minutes_in_words(120), "2 hours");
        assert_eq!(minutes_in_words(60), "1 hour");
        assert_eq!(minutes_in_words(1440), "1 day");
        assert_eq!(minutes_in_words(4320), "3 days");
    }
}
