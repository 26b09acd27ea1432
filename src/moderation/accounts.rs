//! Actions on accounts, staff's alone: promote and demote, deactivate and
//! reactivate, end every session, set a password the user must change.
//!
//! A deactivation, a new password and "end sessions" delete the account's
//! sessions in the same transaction, so every browser signed in as it is
//! signed out at once; the session sweep closes its sockets (and checks
//! deactivation first, to say why).

use super::acting::{Acting, account};
use super::audit::Entry;
use super::rooms::count;
use super::{Done, Effect, ModError};
use crate::db::DbConnection;
use crate::db::queries::{now, sessions, users};
use crate::domain::{Reason, Username};

/// Staff: make an account staff, or take its rights away (never one's
/// own: someone else must).
pub(super) fn staff(
    conn: &mut DbConnection,
    acting: &Acting,
    user: &Username,
    promote: bool,
) -> Result<Done, ModError> {
    let what = if promote {
        "promote accounts"
    } else {
        "demote accounts"
    };
    acting.require_staff(what)?;
    let target = account(conn, user)?;
    if !promote && acting.is(&target) {
        return Err(ModError::Forbidden(
            "You cannot demote your own account; another staff member can.".to_owned(),
        ));
    }
    users::set_staff(conn, &target.username, promote)?;
    let (action, message) = if promote {
        ("user.promote", format!("{user} is now staff."))
    } else {
        ("user.demote", format!("{user} is no longer staff."))
    };
    Ok(Done::new(message, Entry::new(action, user.as_str())).effect(Effect::Recheck))
}

/// Staff: the account cannot log in and its sessions end (never one's
/// own).
pub(super) fn deactivate(
    conn: &mut DbConnection,
    acting: &Acting,
    user: &Username,
    reason: &Reason,
) -> Result<Done, ModError> {
    acting.require_staff("deactivate accounts")?;
    let target = account(conn, user)?;
    if acting.is(&target) {
        return Err(ModError::Forbidden(
            "You cannot deactivate your own account; another staff member can.".to_owned(),
        ));
    }
    users::set_deactivated(conn, target.id, Some(now()))?;
    let ended = sessions::delete_all_for(conn, target.id)?;
    let sessions = count(ended, "session");
    Ok(Done::new(
        format!("{user} is deactivated: they cannot log in, and their {sessions} ended."),
        Entry::new("user.deactivate", user.as_str())
            .because(reason.as_str())
            .detail(format!("{sessions} ended")),
    )
    .effect(Effect::Recheck))
}

/// Staff: a deactivated account may log in again.
pub(super) fn reactivate(
    conn: &mut DbConnection,
    acting: &Acting,
    user: &Username,
) -> Result<Done, ModError> {
    acting.require_staff("reactivate accounts")?;
    let target = account(conn, user)?;
    if target.deactivated_at.is_none() {
        return Err(ModError::Invalid(format!("{user} is not deactivated.")));
    }
    users::set_deactivated(conn, target.id, None)?;
    Ok(Done::new(
        format!("{user} may log in again."),
        Entry::new("user.reactivate", user.as_str()),
    )
    .effect(Effect::Recheck))
}

/// Staff: every session of the account ends (its browsers must log in
/// again; its sockets close).
pub(super) fn end_sessions(
    conn: &mut DbConnection,
    acting: &Acting,
    user: &Username,
) -> Result<Done, ModError> {
    acting.require_staff("end others' sessions")?;
    let target = account(conn, user)?;
    let ended = count(sessions::delete_all_for(conn, target.id)?, "session");
    Ok(Done::new(
        format!("Ended {ended} of {user}."),
        Entry::new("user.end_sessions", user.as_str()).detail(format!("{ended} ended")),
    )
    .effect(Effect::Recheck))
}

/// Staff: a new password (its hash), which the user must change at the
/// next login; their sessions end.
pub(super) fn set_password(
    conn: &mut DbConnection,
    acting: &Acting,
    user: &Username,
    hash: &str,
) -> Result<Done, ModError> {
    acting.require_staff("set others' passwords")?;
    let target = account(conn, user)?;
    users::set_password_to_change(conn, target.id, hash)?;
    let ended = count(sessions::delete_all_for(conn, target.id)?, "session");
    Ok(Done::new(
        format!(
            "{user} has a new password, which they must change when they next log in; \
             their {ended} ended."
        ),
        Entry::new("user.set_password", user.as_str()).detail(format!("{ended} ended")),
    )
    .effect(Effect::Recheck))
}
