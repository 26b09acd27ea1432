//! Who acts and on what: the actor as the database knows them now, the
//! room or account an action names, and the rules of who may act on whom.
//!
//! Every check reads the database inside [`apply`](super::apply)'s
//! transaction, so rights lost a moment ago (a demotion, a removed
//! moderator, a deactivation) count at once.

use super::ModError;
use crate::db::DbConnection;
use crate::db::models::{Room, User};
use crate::db::queries::moderation::{self, RoomRole};
use crate::db::queries::{memberships, rooms, users};
use crate::domain::{Identity, RoomName, UserId, Username};

/// The actor of one action, as of now.
pub(super) struct Acting {
    /// The audit log's name for them: a username, or `cli`.
    pub(super) name: String,
    /// The account; `None` for the command line, which may do anything.
    pub(super) who: Option<Identity>,
}

impl Acting {
    /// `actor` as the database knows them now: a user's staff flag is read
    /// again, and a deactivated (or deleted) account may do nothing.
    pub(super) fn load(conn: &mut DbConnection, actor: &super::Actor) -> Result<Acting, ModError> {
        let super::Actor::User(identity) = actor else {
            return Ok(Acting {
                name: "cli".to_owned(),
                who: None,
            });
        };
        let user = users::by_id(conn, identity.id)?
            .ok_or_else(|| ModError::Forbidden("Your account no longer exists.".to_owned()))?;
        if user.deactivated_at.is_some() {
            return Err(ModError::Forbidden(
                "Your account is deactivated.".to_owned(),
            ));
        }
        Ok(Acting {
            name: user.username.clone(),
            who: Some(identity_of(&user)),
        })
    }

    /// The acting account's id; `None` for the command line.
    pub(super) fn id(&self) -> Option<UserId> {
        self.who.as_ref().map(|w| w.id)
    }

    /// Whether the actor is staff (the command line counts as staff).
    fn is_staff(&self) -> bool {
        self.who.as_ref().is_none_or(|w| w.is_staff)
    }

    /// Refuses unless the actor is staff; `what` completes "Only staff may …".
    pub(super) fn require_staff(&self, what: &str) -> Result<(), ModError> {
        if self.is_staff() {
            Ok(())
        } else {
            Err(ModError::Forbidden(format!("Only staff may {what}.")))
        }
    }

    /// The actor's role in `room` (the command line is staff).
    pub(super) fn role_in(
        &self,
        conn: &mut DbConnection,
        room: &Room,
    ) -> Result<RoomRole, ModError> {
        match &self.who {
            None => Ok(RoomRole::Staff),
            Some(who) => Ok(moderation::role_in(conn, room, who)?),
        }
    }

    /// Whether the actor is `user`.
    pub(super) fn is(&self, user: &User) -> bool {
        self.id() == Some(user.id)
    }
}

/// `user` as an [`Identity`], with their rights as stored.
pub(super) fn identity_of(user: &User) -> Identity {
    Identity {
        id: user.id,
        username: Username::from_stored(user.username.clone()),
        is_staff: user.is_staff,
    }
}

/// The account called `name`; [`ModError::NotFound`] if there is none.
pub(super) fn account(conn: &mut DbConnection, name: &Username) -> Result<User, ModError> {
    users::by_username(conn, name.as_str())?
        .ok_or_else(|| ModError::NotFound(format!("There is no user called {name}.")))
}

/// "There is no room called #name."
fn no_room(name: &str) -> ModError {
    ModError::NotFound(format!("There is no room called #{name}."))
}

/// The room called `name` and the actor's role in it, for an action on
/// it (see [`admit`]).
pub(super) fn room(
    conn: &mut DbConnection,
    acting: &Acting,
    name: &RoomName,
) -> Result<(Room, RoomRole), ModError> {
    let room = rooms::by_name(conn, name.as_str())?.ok_or_else(|| no_room(name.as_str()))?;
    admit(conn, acting, room)
}

/// `room` and the actor's role in it, for an action on it. A direct
/// conversation is [`ModError::Invalid`] (it has no moderation); a private
/// room the actor is not in is [`ModError::NotFound`], as everywhere else
/// (its name is not revealed).
pub(super) fn admit(
    conn: &mut DbConnection,
    acting: &Acting,
    room: Room,
) -> Result<(Room, RoomRole), ModError> {
    if room.direct_a.is_some() {
        return Err(ModError::Invalid(
            "A direct conversation has no moderation: nobody but its two participants is in it."
                .to_owned(),
        ));
    }
    let role = acting.role_in(conn, &room)?;
    if room.invite_only && role == RoomRole::Member {
        let member = match acting.id() {
            Some(id) => memberships::is_member(conn, id, room.id)?,
            None => true,
        };
        if !member {
            return Err(no_room(&room.name));
        }
    }
    Ok((room, role))
}

/// Refuses unless `role` is at least `needed`; `what` completes
/// "Only … may …".
pub(super) fn require(role: RoomRole, needed: RoomRole, what: &str) -> Result<(), ModError> {
    if role >= needed {
        return Ok(());
    }
    let who = match needed {
        RoomRole::Member => "members",
        RoomRole::Moderator => "the room's moderators, its owner and staff",
        RoomRole::Owner => "the room's owner and staff",
        RoomRole::Staff => "staff",
    };
    Err(ModError::Forbidden(format!("Only {who} may {what}.")))
}

/// Checks that an actor with `role` in `room` may `verb` (kick, mute,
/// ban, …) `target` there: not themselves; never staff (but from the
/// command line); never the owner (but staff); a moderator never another
/// moderator (the owner and staff may). Returns the target as an
/// [`Identity`].
pub(super) fn may_act_on(
    conn: &mut DbConnection,
    acting: &Acting,
    role: RoomRole,
    room: &Room,
    target: &User,
    verb: &str,
) -> Result<Identity, ModError> {
    let identity = identity_of(target);
    if acting.is(target) {
        return Err(ModError::Invalid(format!("You cannot {verb} yourself.")));
    }
    if acting.who.is_none() {
        return Ok(identity);
    }
    let theirs = moderation::role_in(conn, room, &identity)?;
    let refused = match theirs {
        RoomRole::Staff => Some("they are staff".to_owned()),
        RoomRole::Owner if role < RoomRole::Staff => Some(format!("they own #{}", room.name)),
        RoomRole::Moderator if role == RoomRole::Moderator => Some(format!(
            "they moderate #{} too (its owner or staff may)",
            room.name
        )),
        _ => None,
    };
    match refused {
        Some(why) => Err(ModError::Forbidden(format!(
            "You cannot {verb} {}: {why}.",
            target.username
        ))),
        None => Ok(identity),
    }
}
