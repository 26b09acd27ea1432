//! The moderation service (`moderation::apply`) against a real database,
//! on every backend: for each action, the change it makes, the audit entry
//! it writes, who it refuses, and what it asks of open connections.

use crate::common::TestApp;
use confab::db::models::{AuditEntry, Mention, NewReport, Room, Sanction, User};
use confab::db::queries::moderation::{self as rows, AuditFilter};
use confab::db::queries::{self, memberships, messages, reactions, rooms, sessions, users};
use confab::db::schema;
use confab::db::{Database, DbConnection};
use confab::domain::{Identity, MessageId, Reason, RoomName, Username};
use confab::moderation::{
    Access, Action, Actor, Applied, Effect, Limits, ModError, Resolution, apply,
};
use confab::protocol::ServerFrame;
use diesel::prelude::*;

/// A server's database with people and rooms in it, and a way to act.
struct World {
    _app: TestApp,
    db: Database,
}

const LIMITS: Limits = Limits {
    slow_mode_max_secs: 3600,
    bulk_delete_max_hours: 168,
};

fn name(raw: &str) -> RoomName {
    RoomName::parse(raw).unwrap()
}

fn user(raw: &str) -> Username {
    Username::parse(raw).unwrap()
}

fn reason(raw: &str) -> Reason {
    Reason::parse(raw, 500).unwrap()
}

impl World {
    async fn new() -> World {
        let app = TestApp::spawn().await;
        let db = app.database();
        World { _app: app, db }
    }

    fn with<T>(&self, f: impl FnOnce(&mut DbConnection) -> T) -> T {
        self.db.run_here(|c| Ok(f(c))).unwrap()
    }

    /// A new account, staff or not; as the actor of its requests.
    fn person(&self, raw: &str, staff: bool) -> Actor {
        let username = user(raw);
        let row = self.with(|c| users::create(c, &username, "not a real hash", staff).unwrap());
        Actor::User(Identity {
            id: row.id,
            username,
            is_staff: staff,
        })
    }

    /// A new open room, owned by `owner` if given.
    fn room(&self, raw: &str, owner: Option<&Actor>) -> Room {
        let by = owner.map(id_of);
        self.with(|c| rooms::create(c, raw, false, by).unwrap())
    }

    fn apply(&self, actor: &Actor, action: Action) -> Result<Applied, ModError> {
        self.with(|c| apply(c, actor, &action, &LIMITS))
    }

    fn ok(&self, actor: &Actor, action: Action) -> Applied {
        let described = format!("{action:?}");
        self.apply(actor, action)
            .unwrap_or_else(|e| panic!("{described} refused: {e}"))
    }

    fn room_row(&self, raw: &str) -> Option<Room> {
        self.with(|c| rooms::by_name(c, raw).unwrap())
    }

    fn account(&self, raw: &str) -> User {
        self.with(|c| users::by_username(c, raw).unwrap().unwrap())
    }

    /// The whole audit log, newest first.
    fn audit(&self) -> Vec<AuditEntry> {
        self.with(|c| confab::moderation::audit_entries(c, &AuditFilter::default(), None, 1000))
            .unwrap()
    }

    /// The newest audit entry.
    fn last_entry(&self) -> AuditEntry {
        self.audit().into_iter().next().expect("an audit entry")
    }

    fn post(&self, room: &Room, author: &Actor, text: &str) -> MessageId {
        self.with(|c| {
            messages::insert(c, room.id, id_of(author), text, queries::now(), None)
                .unwrap()
                .id
        })
    }

    fn sanctions(&self, room: &Room, who: &Actor) -> Vec<Sanction> {
        self.with(|c| {
            schema::sanctions::table
                .filter(schema::sanctions::room_id.eq(room.id))
                .filter(schema::sanctions::user_id.eq(id_of(who)))
                .order(schema::sanctions::id.asc())
                .select(Sanction::as_select())
                .load(c)
                .unwrap()
        })
    }

    fn active(&self, room: &Room, who: &Actor, kind: rows::SanctionKind) -> Option<Sanction> {
        self.with(|c| rows::active_sanction(c, room.id, id_of(who), kind, queries::now()).unwrap())
    }

    fn is_member(&self, room: &Room, who: &Actor) -> bool {
        self.with(|c| memberships::is_member(c, id_of(who), room.id).unwrap())
    }

    fn sessions_of(&self, who: &Actor) -> i64 {
        self.with(|c| {
            schema::sessions::table
                .filter(schema::sessions::user_id.eq(id_of(who)))
                .count()
                .get_result(c)
                .unwrap()
        })
    }

    fn sign_in(&self, who: &Actor, key: &str) {
        self.with(|c| sessions::create(c, key, id_of(who)).unwrap());
    }
}

fn id_of(actor: &Actor) -> confab::domain::UserId {
    match actor {
        Actor::User(who) => who.id,
        Actor::Cli => panic!("the CLI has no account"),
    }
}

/// Asserts that `result` was refused with `code`, whose message contains
/// `words`; and returns nothing else.
#[track_caller]
fn refused(result: Result<Applied, ModError>, code: &str, words: &str) {
    match result {
        Ok(applied) => panic!("expected {code}, got {:?}", applied.outcome),
        Err(e) => {
            assert_eq!(e.code(), code, "{e}");
            assert!(e.to_string().contains(words), "{e:?} should say {words:?}");
        }
    }
}

fn rechecks(applied: &Applied) -> bool {
    applied.effects.iter().any(|e| matches!(e, Effect::Recheck))
}

/// A room with its owner, a moderator, a member and a staff member.
struct Cast {
    owner: Actor,
    moderator: Actor,
    member: Actor,
    staff: Actor,
    room: Room,
}

fn cast(world: &World) -> Cast {
    let owner = world.person("owner", false);
    let moderator = world.person("moddy", false);
    let member = world.person("member", false);
    let staff = world.person("staffer", true);
    let room = world.room("lobby", Some(&owner));
    world.ok(
        &owner,
        Action::AddModerator {
            room: name("lobby"),
            user: user("moddy"),
        },
    );
    Cast {
        owner,
        moderator,
        member,
        staff,
        room,
    }
}

on_every_backend!(lock_and_slow_mode_are_for_moderators_and_are_audited);
async fn lock_and_slow_mode_are_for_moderators_and_are_audited() {
    let world = World::new().await;
    let c = cast(&world);
    let lock = || Action::Lock {
        room: name("lobby"),
    };
    refused(
        world.apply(&c.member, lock()),
        "forbidden",
        "Only the room's moderators",
    );
    assert!(
        !world.room_row("lobby").unwrap().locked,
        "a refusal changes nothing"
    );

    let done = world.ok(&c.moderator, lock());
    assert!(done.outcome.message.contains("#lobby is now read-only"));
    assert!(rechecks(&done), "open sockets learn of the lock");
    assert!(world.room_row("lobby").unwrap().locked);
    let entry = world.last_entry();
    assert_eq!(
        (
            entry.actor.as_str(),
            entry.action.as_str(),
            entry.target.as_str()
        ),
        ("moddy", "room.lock", "lobby")
    );
    assert_eq!(entry.room.as_deref(), Some("lobby"));

    world.ok(
        &c.owner,
        Action::Unlock {
            room: name("lobby"),
        },
    );
    assert!(!world.room_row("lobby").unwrap().locked);
    assert_eq!(world.last_entry().action, "room.unlock");

    let slow = |secs| Action::SlowMode {
        room: name("lobby"),
        secs,
    };
    refused(
        world.apply(&c.member, slow(30)),
        "forbidden",
        "may set slow mode",
    );
    refused(
        world.apply(&c.moderator, slow(3601)),
        "invalid",
        "at most 3600 seconds",
    );
    let done = world.ok(&c.moderator, slow(30));
    assert!(rechecks(&done));
    assert_eq!(world.room_row("lobby").unwrap().slow_mode_secs, 30);
    let entry = world.last_entry();
    assert_eq!(
        (entry.action.as_str(), entry.detail.as_str()),
        ("room.slow_mode", "30 seconds")
    );
    world.ok(&c.staff, slow(0));
    assert_eq!(world.room_row("lobby").unwrap().slow_mode_secs, 0);
    assert_eq!(world.last_entry().actor, "staffer");
}

on_every_backend!(access_is_the_owners_between_public_and_private_and_staffs_beyond);
async fn access_is_the_owners_between_public_and_private_and_staffs_beyond() {
    let world = World::new().await;
    let c = cast(&world);
    let access = |access| Action::SetAccess {
        room: name("lobby"),
        access,
    };
    refused(
        world.apply(&c.moderator, access(Access::InviteOnly)),
        "forbidden",
        "Only the room's owner and staff",
    );
    refused(
        world.apply(&c.owner, access(Access::AdminOnly)),
        "forbidden",
        "Only staff may make a room admin-only",
    );
    let done = world.ok(&c.owner, access(Access::InviteOnly));
    assert!(rechecks(&done));
    let room = world.room_row("lobby").unwrap();
    assert!(room.invite_only && !room.admin_only);
    assert!(
        world.is_member(&room, &c.owner) && world.is_member(&room, &c.moderator),
        "the owner and moderators keep their private room"
    );
    assert!(!world.is_member(&room, &c.member));
    assert_eq!(world.last_entry().detail, "invite-only");

    // A private room is not revealed to who is not in it.
    refused(
        world.apply(
            &c.member,
            Action::Lock {
                room: name("lobby"),
            },
        ),
        "not_found",
        "There is no room called #lobby",
    );

    world.ok(&c.staff, access(Access::AdminOnly));
    let room = world.room_row("lobby").unwrap();
    assert!(room.admin_only && !room.invite_only);
    refused(
        world.apply(&c.owner, access(Access::Public)),
        "forbidden",
        "Only staff may open an admin-only room",
    );
    world.ok(&Actor::Cli, access(Access::Public));
    let room = world.room_row("lobby").unwrap();
    assert!(!room.admin_only && !room.invite_only);
    assert_eq!(world.last_entry().actor, "cli");
}

on_every_backend!(staff_create_rename_archive_and_delete_rooms);
async fn staff_create_rename_archive_and_delete_rooms() {
    let world = World::new().await;
    let c = cast(&world);
    let create = |raw: &str, access| Action::CreateRoom {
        name: name(raw),
        access,
    };
    refused(
        world.apply(&c.owner, create("new", Access::Public)),
        "forbidden",
        "Only staff may create rooms",
    );
    let done = world.ok(&c.staff, create("secret", Access::InviteOnly));
    assert_eq!(done.outcome.message, "Created the private room #secret.");
    let secret = world.room_row("secret").unwrap();
    assert!(secret.invite_only);
    assert_eq!(secret.created_by, Some(id_of(&c.staff)));
    refused(
        world.apply(&c.staff, create("lobby", Access::Public)),
        "conflict",
        "#lobby already exists",
    );

    // Rename: the old name is an alias; the new name must be free.
    let rename = |from: &str, to: &str| Action::RenameRoom {
        room: name(from),
        to: name(to),
    };
    refused(
        world.apply(&c.owner, rename("lobby", "hall")),
        "forbidden",
        "Only staff may rename",
    );
    refused(
        world.apply(&c.staff, rename("lobby", "secret")),
        "conflict",
        "#secret already exists",
    );
    let done = world.ok(&c.staff, rename("lobby", "hall"));
    assert!(rechecks(&done));
    assert!(world.room_row("lobby").is_none());
    let hall = world.room_row("hall").unwrap();
    assert_eq!(hall.id, c.room.id);
    let by_old = world.with(|conn| rows::room_by_name_or_alias(conn, "lobby").unwrap());
    assert_eq!(
        by_old.map(|r| r.name),
        Some("hall".to_owned()),
        "the old name leads to the new"
    );
    let entry = world.last_entry();
    assert_eq!(
        (
            entry.action.as_str(),
            entry.target.as_str(),
            entry.room.as_deref()
        ),
        ("room.rename", "lobby", Some("hall"))
    );
    // Back again: the alias "lobby" is dropped, "hall" becomes one.
    world.ok(&c.staff, rename("hall", "lobby"));
    let aliases: Vec<String> = world.with(|conn| {
        schema::room_aliases::table
            .select(schema::room_aliases::name)
            .load(conn)
            .unwrap()
    });
    assert_eq!(aliases, vec!["hall".to_owned()]);

    // Archive and back.
    refused(
        world.apply(
            &c.moderator,
            Action::Archive {
                room: name("lobby"),
            },
        ),
        "forbidden",
        "Only staff may archive",
    );
    let done = world.ok(
        &c.staff,
        Action::Archive {
            room: name("lobby"),
        },
    );
    assert!(rechecks(&done));
    assert!(world.room_row("lobby").unwrap().archived_at.is_some());
    world.ok(
        &c.staff,
        Action::Unarchive {
            room: name("lobby"),
        },
    );
    assert!(world.room_row("lobby").unwrap().archived_at.is_none());
    assert_eq!(world.last_entry().action, "room.unarchive");

    // Delete: everything that refers to the room goes, and is counted.
    let room = world.room_row("lobby").unwrap();
    let first = world.post(&room, &c.member, "hello @owner");
    let second = world.post(&room, &c.owner, "hi");
    let gone = world.post(&room, &c.owner, "soon deleted");
    world.with(|conn| {
        messages::delete(conn, gone, queries::now()).unwrap();
        for (who, emoji) in [(&c.owner, "👍"), (&c.moderator, "🎉")] {
            reactions::toggle(conn, first, id_of(who), emoji, queries::now(), 10).unwrap();
        }
        diesel::insert_into(schema::mentions::table)
            .values(&Mention {
                message_id: first,
                user_id: id_of(&c.owner),
            })
            .execute(conn)
            .unwrap();
        for who in [&c.member, &c.owner, &c.moderator] {
            memberships::join(conn, id_of(who), room.id, queries::now()).unwrap();
        }
        diesel::insert_into(schema::reports::table)
            .values(&NewReport {
                message_id: second,
                room_id: room.id,
                reporter_id: id_of(&c.member),
                reason: "rude",
                created_at: queries::now(),
            })
            .execute(conn)
            .unwrap();
    });
    world.ok(
        &c.moderator,
        Action::Mute {
            room: name("lobby"),
            user: user("member"),
            minutes: None,
            reason: reason("calm down"),
        },
    );
    refused(
        world.apply(
            &c.owner,
            Action::DeleteRoom {
                room: name("lobby"),
            },
        ),
        "forbidden",
        "Only staff may delete rooms",
    );
    let done = world.ok(
        &c.staff,
        Action::DeleteRoom {
            room: name("lobby"),
        },
    );
    assert_eq!(
        done.outcome.message,
        "Deleted #lobby: 2 messages, 2 reactions, 3 members."
    );
    assert!(rechecks(&done));
    let entry = world.last_entry();
    assert_eq!(
        (entry.action.as_str(), entry.detail.as_str()),
        ("room.delete", "2 messages, 2 reactions, 3 members")
    );
    let left: Vec<i64> = world.with(|conn| {
        let room = room.id;
        vec![
            schema::messages::table
                .filter(schema::messages::room_id.eq(room))
                .count()
                .get_result(conn)
                .unwrap(),
            schema::reactions::table.count().get_result(conn).unwrap(),
            schema::mentions::table.count().get_result(conn).unwrap(),
            schema::reports::table.count().get_result(conn).unwrap(),
            schema::sanctions::table.count().get_result(conn).unwrap(),
            schema::room_moderators::table
                .count()
                .get_result(conn)
                .unwrap(),
            schema::room_aliases::table
                .filter(schema::room_aliases::room_id.eq(room))
                .count()
                .get_result(conn)
                .unwrap(),
            schema::memberships::table
                .filter(schema::memberships::room_id.eq(room))
                .count()
                .get_result(conn)
                .unwrap(),
        ]
    });
    assert_eq!(left, vec![0; 8], "nothing refers to the deleted room");
    assert!(world.room_row("lobby").is_none());
    assert!(
        world
            .with(|conn| rows::room_by_name_or_alias(conn, "hall").unwrap())
            .is_none(),
        "its old names lead nowhere"
    );
    world.ok(&c.staff, create("lobby", Access::Public));
    assert!(world.room_row("lobby").is_some(), "the name is free again");
}

on_every_backend!(mutes_and_bans_follow_the_ladder_of_roles);
async fn mutes_and_bans_follow_the_ladder_of_roles() {
    let world = World::new().await;
    let c = cast(&world);
    let other_mod = world.person("othermod", false);
    world.ok(
        &c.staff,
        Action::AddModerator {
            room: name("lobby"),
            user: user("othermod"),
        },
    );
    let mute = |who: &str, minutes| Action::Mute {
        room: name("lobby"),
        user: user(who),
        minutes,
        reason: reason("spamming"),
    };
    refused(
        world.apply(&c.member, mute("owner", Some(10))),
        "forbidden",
        "Only the room's moderators",
    );
    refused(
        world.apply(&c.moderator, mute("owner", Some(10))),
        "forbidden",
        "they own #lobby",
    );
    refused(
        world.apply(&c.moderator, mute("othermod", Some(10))),
        "forbidden",
        "they moderate #lobby too",
    );
    refused(
        world.apply(&c.owner, mute("staffer", Some(10))),
        "forbidden",
        "they are staff",
    );
    refused(
        world.apply(&c.staff, mute("staffer", Some(10))),
        "invalid",
        "cannot mute yourself",
    );
    refused(
        world.apply(&c.moderator, mute("moddy", Some(10))),
        "invalid",
        "cannot mute yourself",
    );
    refused(
        world.apply(&c.moderator, mute("member", Some(0))),
        "invalid",
        "at least a minute",
    );
    refused(
        world.apply(&c.moderator, mute("ghost", Some(10))),
        "not_found",
        "no user called ghost",
    );
    refused(
        world.apply(
            &c.moderator,
            Action::Mute {
                room: name("nowhere"),
                user: user("member"),
                minutes: None,
                reason: reason(""),
            },
        ),
        "not_found",
        "no room called #nowhere",
    );
    assert!(
        world.sanctions(&c.room, &c.member).is_empty(),
        "refusals change nothing"
    );

    let done = world.ok(&c.moderator, mute("member", Some(10)));
    assert_eq!(
        done.outcome.message,
        "member is muted in #lobby for 10 minutes."
    );
    assert!(rechecks(&done));
    let muted = world
        .active(&c.room, &c.member, rows::SanctionKind::Mute)
        .expect("muted");
    assert_eq!(muted.reason, "spamming");
    assert_eq!(muted.created_by, Some(id_of(&c.moderator)));
    let lasts = muted.expires_at.unwrap() - muted.created_at;
    assert_eq!(lasts.num_minutes(), 10);
    let entry = world.last_entry();
    assert_eq!(
        (
            entry.action.as_str(),
            entry.target.as_str(),
            entry.reason.as_str(),
            entry.detail.as_str()
        ),
        ("user.mute", "member", "spamming", "10 minutes")
    );

    // A new mute replaces the one in force.
    world.ok(&c.moderator, mute("member", None));
    let all = world.sanctions(&c.room, &c.member);
    assert_eq!(all.len(), 2);
    assert!(all[0].lifted_at.is_some(), "the first is lifted");
    let muted = world
        .active(&c.room, &c.member, rows::SanctionKind::Mute)
        .unwrap();
    assert_eq!(muted.expires_at, None, "until lifted");
    assert_eq!(world.last_entry().detail, "until lifted");

    // The owner may act on a moderator, staff on the owner, the CLI on staff.
    world.ok(&c.owner, mute("othermod", Some(5)));
    world.ok(&c.staff, mute("owner", Some(5)));
    world.ok(&Actor::Cli, mute("staffer", Some(5)));
    assert_eq!(world.last_entry().actor, "cli");

    let unmute = |who: &str| Action::Unmute {
        room: name("lobby"),
        user: user(who),
    };
    refused(world.apply(&c.member, unmute("member")), "forbidden", "");
    let done = world.ok(&c.moderator, unmute("member"));
    assert_eq!(done.outcome.message, "member may post in #lobby again.");
    assert!(rechecks(&done));
    assert!(
        world
            .active(&c.room, &c.member, rows::SanctionKind::Mute)
            .is_none()
    );
    refused(
        world.apply(&c.moderator, unmute("member")),
        "invalid",
        "member is not muted in #lobby",
    );
    assert_eq!(world.last_entry().action, "user.unmute");

    // Bans, the same way.
    let ban = Action::Ban {
        room: name("lobby"),
        user: user("member"),
        minutes: None,
        reason: reason("trolling"),
    };
    refused(
        world.apply(
            &c.moderator,
            Action::Ban {
                room: name("lobby"),
                user: user("owner"),
                minutes: None,
                reason: reason(""),
            },
        ),
        "forbidden",
        "they own",
    );
    let done = world.ok(&c.moderator, ban);
    assert_eq!(
        done.outcome.message,
        "member is banned from #lobby until a moderator lifts it."
    );
    assert!(rechecks(&done));
    let banned = world
        .active(&c.room, &c.member, rows::SanctionKind::Ban)
        .unwrap();
    assert_eq!(
        (banned.reason.as_str(), banned.expires_at),
        ("trolling", None)
    );
    assert!(
        world
            .active(&c.room, &c.member, rows::SanctionKind::Mute)
            .is_none(),
        "a ban is not a mute"
    );
    assert_eq!(world.last_entry().action, "user.ban");
    world.ok(
        &c.moderator,
        Action::Unban {
            room: name("lobby"),
            user: user("member"),
        },
    );
    assert!(
        world
            .active(&c.room, &c.member, rows::SanctionKind::Ban)
            .is_none()
    );
    assert_eq!(world.last_entry().action, "user.unban");
    drop(other_mod);
}

on_every_backend!(kick_closes_sockets_through_its_effect_and_changes_no_rows);
async fn kick_closes_sockets_through_its_effect_and_changes_no_rows() {
    let world = World::new().await;
    let c = cast(&world);
    let kick = |who: &str| Action::Kick {
        room: name("lobby"),
        user: user(who),
        reason: reason("cool off"),
    };
    refused(
        world.apply(&c.member, kick("moddy")),
        "forbidden",
        "Only the room's moderators",
    );
    refused(
        world.apply(&c.moderator, kick("owner")),
        "forbidden",
        "they own",
    );
    let done = world.ok(&c.moderator, kick("member"));
    assert_eq!(done.effects.len(), 1);
    match &done.effects[0] {
        Effect::Kick { room, user, reason } => {
            assert_eq!(
                (room.as_str(), user.as_str(), reason.as_str()),
                ("lobby", "member", "cool off")
            );
        }
        other => panic!("expected a kick, got {other:?}"),
    }
    let entry = world.last_entry();
    assert_eq!(
        (
            entry.action.as_str(),
            entry.target.as_str(),
            entry.reason.as_str()
        ),
        ("user.kick", "member", "cool off")
    );
    assert!(world.sanctions(&c.room, &c.member).is_empty());
}

on_every_backend!(moderators_invite_and_owners_appoint);
async fn moderators_invite_and_owners_appoint() {
    let world = World::new().await;
    let c = cast(&world);
    let newbie = world.person("newbie", false);
    world.ok(
        &c.owner,
        Action::SetAccess {
            room: name("lobby"),
            access: Access::InviteOnly,
        },
    );

    let invite = |who: &str| Action::Invite {
        room: name("lobby"),
        user: user(who),
    };
    refused(
        world.apply(&c.member, invite("newbie")),
        "not_found",
        "no room called #lobby",
    );
    let done = world.ok(&c.moderator, invite("member"));
    assert_eq!(done.outcome.message, "member is now a member of #lobby.");
    assert!(rechecks(&done));
    assert!(world.is_member(&c.room, &c.member));
    assert_eq!(world.last_entry().action, "room.invite");
    // A member who does not moderate may not invite.
    refused(
        world.apply(&c.member, invite("newbie")),
        "forbidden",
        "may invite people",
    );
    let again = world.ok(&c.moderator, invite("member"));
    assert!(again.outcome.message.contains("already"));

    let uninvite = |who: &str| Action::Uninvite {
        room: name("lobby"),
        user: user(who),
    };
    refused(
        world.apply(&c.moderator, uninvite("owner")),
        "forbidden",
        "they own",
    );
    refused(
        world.apply(&c.moderator, uninvite("newbie")),
        "invalid",
        "newbie is not a member",
    );
    let done = world.ok(&c.moderator, uninvite("member"));
    assert!(rechecks(&done));
    assert!(!world.is_member(&c.room, &c.member));
    assert_eq!(world.last_entry().action, "room.uninvite");

    // Moderators: the owner's to appoint; one of a private room is a member.
    let add = |who: &str| Action::AddModerator {
        room: name("lobby"),
        user: user(who),
    };
    let remove = |who: &str| Action::RemoveModerator {
        room: name("lobby"),
        user: user(who),
    };
    refused(
        world.apply(&c.moderator, add("newbie")),
        "forbidden",
        "Only the room's owner and staff",
    );
    refused(
        world.apply(&c.owner, add("owner")),
        "invalid",
        "owns #lobby",
    );
    let done = world.ok(&c.owner, add("newbie"));
    assert!(rechecks(&done));
    let newbie_id = id_of(&newbie);
    assert!(world.with(|conn| rows::is_moderator(conn, c.room.id, newbie_id).unwrap()));
    assert!(world.is_member(&c.room, &newbie));
    assert_eq!(world.last_entry().action, "room.moderator_add");
    refused(world.apply(&c.moderator, remove("newbie")), "forbidden", "");
    world.ok(&c.staff, remove("newbie"));
    assert!(!world.with(|conn| rows::is_moderator(conn, c.room.id, newbie_id).unwrap()));
    assert_eq!(world.last_entry().action, "room.moderator_remove");
    refused(
        world.apply(&c.owner, remove("newbie")),
        "invalid",
        "not a moderator",
    );
}

on_every_backend!(direct_conversations_have_no_moderation);
async fn direct_conversations_have_no_moderation() {
    let world = World::new().await;
    let a = world.person("alice", false);
    let b = world.person("bobby", false);
    let staff = world.person("staffer", true);
    let dm = world.with(|c| rooms::direct(c, id_of(&a), id_of(&b)).unwrap());
    let dm_name = RoomName::from_stored(dm.name.clone());
    refused(
        world.apply(
            &staff,
            Action::Lock {
                room: dm_name.clone(),
            },
        ),
        "invalid",
        "direct conversation",
    );
    refused(
        world.apply(
            &Actor::Cli,
            Action::Ban {
                room: dm_name,
                user: user("alice"),
                minutes: None,
                reason: reason(""),
            },
        ),
        "invalid",
        "direct conversation",
    );
    let said = world.post(&dm, &a, "between us");
    refused(
        world.apply(
            &staff,
            Action::DeleteMessage {
                id: said,
                reason: reason(""),
            },
        ),
        "invalid",
        "direct conversation",
    );
    assert!(world.audit().is_empty(), "a refusal writes no audit entry");
}

on_every_backend!(staff_run_accounts_but_never_against_themselves);
async fn staff_run_accounts_but_never_against_themselves() {
    let world = World::new().await;
    let staff = world.person("staffer", true);
    let bob = world.person("bobby", false);
    world.sign_in(&bob, "key-1");
    world.sign_in(&bob, "key-2");

    let deactivate = |who: &str| Action::Deactivate {
        user: user(who),
        reason: reason("spam account"),
    };
    refused(
        world.apply(&bob, deactivate("staffer")),
        "forbidden",
        "Only staff may deactivate accounts",
    );
    refused(
        world.apply(&staff, deactivate("staffer")),
        "forbidden",
        "cannot deactivate your own account",
    );
    refused(
        world.apply(&staff, deactivate("ghost")),
        "not_found",
        "no user called ghost",
    );
    let done = world.ok(&staff, deactivate("bobby"));
    assert_eq!(
        done.outcome.message,
        "bobby is deactivated: they cannot log in, and their 2 sessions ended."
    );
    assert!(rechecks(&done));
    assert!(world.account("bobby").deactivated_at.is_some());
    assert_eq!(world.sessions_of(&bob), 0);
    let entry = world.last_entry();
    assert_eq!(
        (
            entry.action.as_str(),
            entry.target.as_str(),
            entry.reason.as_str()
        ),
        ("user.deactivate", "bobby", "spam account")
    );

    // A deactivated account may do nothing, whatever its request says.
    let stale_staff = world.person("formerstaff", true);
    world.ok(&staff, deactivate("formerstaff"));
    refused(
        world.apply(
            &stale_staff,
            Action::Promote {
                user: user("bobby"),
            },
        ),
        "forbidden",
        "Your account is deactivated",
    );

    let done = world.ok(
        &staff,
        Action::Reactivate {
            user: user("bobby"),
        },
    );
    assert!(rechecks(&done));
    assert!(world.account("bobby").deactivated_at.is_none());
    refused(
        world.apply(
            &staff,
            Action::Reactivate {
                user: user("bobby"),
            },
        ),
        "invalid",
        "not deactivated",
    );
    assert_eq!(world.last_entry().action, "user.reactivate");

    // Staff rights are read again: a demoted user's identity is stale.
    let done = world.ok(
        &staff,
        Action::Promote {
            user: user("bobby"),
        },
    );
    assert_eq!(done.outcome.message, "bobby is now staff.");
    assert!(world.account("bobby").is_staff);
    let bob_as_staff = Actor::User(Identity {
        is_staff: true,
        ..match &bob {
            Actor::User(i) => i.clone(),
            Actor::Cli => unreachable!(),
        }
    });
    world.ok(
        &staff,
        Action::Demote {
            user: user("bobby"),
        },
    );
    assert!(!world.account("bobby").is_staff);
    assert_eq!(world.last_entry().action, "user.demote");
    refused(
        world.apply(
            &bob_as_staff,
            Action::Promote {
                user: user("bobby"),
            },
        ),
        "forbidden",
        "Only staff",
    );
    refused(
        world.apply(
            &staff,
            Action::Demote {
                user: user("staffer"),
            },
        ),
        "forbidden",
        "cannot demote your own account",
    );

    world.sign_in(&bob, "key-3");
    let done = world.ok(
        &staff,
        Action::EndSessions {
            user: user("bobby"),
        },
    );
    assert_eq!(done.outcome.message, "Ended 1 session of bobby.");
    assert!(rechecks(&done));
    assert_eq!(world.sessions_of(&bob), 0);
    assert_eq!(world.last_entry().action, "user.end_sessions");

    world.sign_in(&bob, "key-4");
    let done = world.ok(
        &staff,
        Action::SetPassword {
            user: user("bobby"),
            hash: "new hash".into(),
        },
    );
    assert!(rechecks(&done));
    let row = world.account("bobby");
    assert_eq!(row.password_hash, "new hash");
    assert!(row.must_change_password);
    assert_eq!(world.sessions_of(&bob), 0);
    let entry = world.last_entry();
    assert_eq!(
        (entry.action.as_str(), entry.reason.as_str()),
        ("user.set_password", "")
    );
    assert!(
        !entry.detail.contains("new hash"),
        "the hash is never logged"
    );
    // Choosing one's own clears the flag.
    world.with(|conn| users::set_password_hash(conn, row.id, "chosen").unwrap());
    assert!(!world.account("bobby").must_change_password);
}

on_every_backend!(moderators_delete_messages_as_the_room_does);
async fn moderators_delete_messages_as_the_room_does() {
    let world = World::new().await;
    let c = cast(&world);
    let id = world.post(&c.room, &c.member, "buy cheap @owner");
    world.with(|conn| {
        reactions::toggle(conn, id, id_of(&c.owner), "👎", queries::now(), 10).unwrap();
        diesel::insert_into(schema::mentions::table)
            .values(&Mention {
                message_id: id,
                user_id: id_of(&c.owner),
            })
            .execute(conn)
            .unwrap();
    });
    let own = world.post(&c.room, &c.owner, "mine");
    let delete = |id| Action::DeleteMessage {
        id,
        reason: reason("spam"),
    };
    refused(
        world.apply(&c.member, delete(own)),
        "forbidden",
        "delete others' messages",
    );
    let done = world.ok(&c.moderator, delete(id));
    match done.effects.as_slice() {
        [
            Effect::RoomFrame {
                room,
                frame: ServerFrame::MessageDeleted { id: gone },
            },
        ] => {
            assert_eq!((room.as_str(), *gone), ("lobby", id));
        }
        other => panic!("expected one message_deleted frame, got {other:?}"),
    }
    let (content, deleted_at, reactions_left, mentions_left): (
        String,
        Option<chrono::NaiveDateTime>,
        i64,
        i64,
    ) = world.with(|conn| {
        let (content, at) = schema::messages::table
            .find(id)
            .select((schema::messages::content, schema::messages::deleted_at))
            .first(conn)
            .unwrap();
        let r = schema::reactions::table
            .filter(schema::reactions::message_id.eq(id))
            .count()
            .get_result(conn)
            .unwrap();
        let m = schema::mentions::table
            .filter(schema::mentions::message_id.eq(id))
            .count()
            .get_result(conn)
            .unwrap();
        (content, at, r, m)
    });
    assert_eq!(
        (content.as_str(), reactions_left, mentions_left),
        ("", 0, 0)
    );
    assert!(
        deleted_at.is_some(),
        "a marker stays, so the id is never reused"
    );
    let entry = world.last_entry();
    assert_eq!(
        (
            entry.action.as_str(),
            entry.target.as_str(),
            entry.room.as_deref(),
            entry.reason.as_str()
        ),
        (
            "message.delete",
            format!("message {id}").as_str(),
            Some("lobby"),
            "spam"
        )
    );
    assert!(
        entry.detail.contains("by member: buy cheap"),
        "{}",
        entry.detail
    );
    refused(
        world.apply(&c.moderator, delete(id)),
        "not_found",
        "deleted already",
    );
    refused(
        world.apply(&c.moderator, delete(MessageId(999_999))),
        "not_found",
        "no message 999999",
    );
}

on_every_backend!(staff_bulk_delete_a_spammers_recent_messages_in_every_room);
async fn staff_bulk_delete_a_spammers_recent_messages_in_every_room() {
    let world = World::new().await;
    let c = cast(&world);
    let other = world.room("other", None);
    let spam = [
        world.post(&c.room, &c.member, "spam 1"),
        world.post(&other, &c.member, "spam 2"),
        world.post(&c.room, &c.member, "spam 3"),
    ];
    let old = world.post(&c.room, &c.member, "from long ago");
    world.with(|conn| {
        diesel::update(schema::messages::table.find(old))
            .set(schema::messages::created_at.eq(queries::now() - chrono::TimeDelta::hours(30)))
            .execute(conn)
            .unwrap();
    });
    let dm = world.with(|conn| rooms::direct(conn, id_of(&c.member), id_of(&c.owner)).unwrap());
    let private = world.post(&dm, &c.member, "a private word");
    let kept = world.post(&c.room, &c.owner, "not the spammer's");

    let bulk = |hours| Action::BulkDelete {
        user: user("member"),
        hours,
        reason: reason("spammer"),
    };
    refused(world.apply(&c.owner, bulk(24)), "forbidden", "Only staff");
    refused(
        world.apply(&c.staff, bulk(169)),
        "invalid",
        "between 1 and 168 hours",
    );
    refused(
        world.apply(&c.staff, bulk(0)),
        "invalid",
        "between 1 and 168 hours",
    );
    let done = world.ok(&c.staff, bulk(24));
    assert_eq!(
        done.outcome.message,
        "Deleted 3 messages in 2 rooms: what member posted in the last 24 hours."
    );
    let mut frames: Vec<(String, MessageId)> = done
        .effects
        .iter()
        .map(|e| match e {
            Effect::RoomFrame {
                room,
                frame: ServerFrame::MessageDeleted { id },
            } => (room.as_str().to_owned(), *id),
            other => panic!("unexpected effect {other:?}"),
        })
        .collect();
    frames.sort_by_key(|(_, id)| *id);
    assert_eq!(
        frames,
        vec![
            ("lobby".to_owned(), spam[0]),
            ("other".to_owned(), spam[1]),
            ("lobby".to_owned(), spam[2]),
        ]
    );
    let live: Vec<MessageId> = world.with(|conn| {
        schema::messages::table
            .filter(schema::messages::deleted_at.is_null())
            .order(schema::messages::id.asc())
            .select(schema::messages::id)
            .load(conn)
            .unwrap()
    });
    assert_eq!(
        live,
        vec![old, private, kept],
        "older, private and others' messages stay"
    );
    let entry = world.last_entry();
    assert_eq!(
        (
            entry.action.as_str(),
            entry.target.as_str(),
            entry.detail.as_str()
        ),
        (
            "message.bulk_delete",
            "member",
            "3 messages in 2 rooms, last 24 hours"
        )
    );
    let again = world.ok(&c.staff, bulk(24));
    assert!(again.effects.is_empty());
    assert!(again.outcome.message.contains("nothing was deleted"));
}

on_every_backend!(reports_are_closed_by_the_rooms_moderators);
async fn reports_are_closed_by_the_rooms_moderators() {
    let world = World::new().await;
    let c = cast(&world);
    let other_mod = world.person("elsewhere", false);
    world.room("other", Some(&other_mod));
    let id = world.post(&c.room, &c.member, "rude words");
    let report_ids: Vec<i32> = world.with(|conn| {
        [&c.owner, &c.staff]
            .into_iter()
            .map(|who| {
                diesel::insert_into(schema::reports::table)
                    .values(&NewReport {
                        message_id: id,
                        room_id: c.room.id,
                        reporter_id: id_of(who),
                        reason: "rude",
                        created_at: queries::now(),
                    })
                    .returning(schema::reports::id)
                    .get_result(conn)
                    .unwrap()
            })
            .collect()
    });
    let resolve = |id, resolution| Action::ResolveReport { id, resolution };
    refused(
        world.apply(&c.member, resolve(report_ids[0], Resolution::Dismissed)),
        "forbidden",
        "may handle reports",
    );
    refused(
        world.apply(&other_mod, resolve(report_ids[0], Resolution::Dismissed)),
        "forbidden",
        "",
    );
    refused(
        world.apply(&c.moderator, resolve(4242, Resolution::Dismissed)),
        "not_found",
        "no report 4242",
    );
    world.ok(
        &c.moderator,
        Action::DeleteMessage {
            id,
            reason: reason("rude"),
        },
    );
    let done = world.ok(&c.moderator, resolve(report_ids[0], Resolution::Deleted));
    assert_eq!(
        done.outcome.message,
        format!(
            "Report {} is closed: the message was deleted (1 other report of the same message closed with it).",
            report_ids[0]
        )
    );
    let resolved: Vec<(Option<String>, Option<confab::domain::UserId>)> = world.with(|conn| {
        schema::reports::table
            .order(schema::reports::id.asc())
            .select((schema::reports::resolution, schema::reports::resolved_by))
            .load(conn)
            .unwrap()
    });
    let by = Some(id_of(&c.moderator));
    assert_eq!(
        resolved,
        vec![(Some("deleted".into()), by), (Some("deleted".into()), by)]
    );
    let entry = world.last_entry();
    assert_eq!(
        (
            entry.action.as_str(),
            entry.target.as_str(),
            entry.room.as_deref()
        ),
        (
            "report.resolve",
            format!("report {}", report_ids[0]).as_str(),
            Some("lobby")
        )
    );
    refused(
        world.apply(&c.owner, resolve(report_ids[1], Resolution::Dismissed)),
        "conflict",
        "handled already (deleted)",
    );
}

on_every_backend!(the_audit_log_is_listed_newest_first_and_filtered);
async fn the_audit_log_is_listed_newest_first_and_filtered() {
    let world = World::new().await;
    let c = cast(&world);
    world.ok(
        &c.moderator,
        Action::Lock {
            room: name("lobby"),
        },
    );
    world.ok(
        &Actor::Cli,
        Action::Mute {
            room: name("lobby"),
            user: user("member"),
            minutes: Some(5),
            reason: reason("50%_off"),
        },
    );
    world.with(|conn| {
        confab::moderation::record(
            conn,
            &c.member,
            "report.file",
            "message 7",
            Some("lobby"),
            "rude",
            "",
        )
        .unwrap()
    });
    let all = world.audit();
    let actions: Vec<&str> = all.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        vec![
            "report.file",
            "user.mute",
            "room.lock",
            "room.moderator_add"
        ]
    );
    let page = |filter: AuditFilter, before: Option<i32>, limit: i64| -> Vec<String> {
        world
            .with(|conn| confab::moderation::audit_entries(conn, &filter, before, limit))
            .unwrap()
            .into_iter()
            .map(|e| e.action)
            .collect()
    };
    assert_eq!(
        page(AuditFilter::default(), None, 2),
        vec!["report.file", "user.mute"]
    );
    assert_eq!(
        page(AuditFilter::default(), Some(all[1].id), 10),
        vec!["room.lock", "room.moderator_add"]
    );
    let by = |actor: &str| AuditFilter {
        actor: Some(actor.into()),
        ..AuditFilter::default()
    };
    assert_eq!(page(by("cli"), None, 10), vec!["user.mute"]);
    assert_eq!(page(by("member"), None, 10), vec!["report.file"]);
    let action = |a: &str| AuditFilter {
        action: Some(a.into()),
        ..AuditFilter::default()
    };
    assert_eq!(page(action("room.lock"), None, 10), vec!["room.lock"]);
    assert_eq!(
        page(action("room."), None, 10),
        vec!["room.lock", "room.moderator_add"]
    );
    let target = |t: &str| AuditFilter {
        target: Some(t.into()),
        ..AuditFilter::default()
    };
    assert_eq!(
        page(target("MEMB"), None, 10),
        vec!["user.mute"],
        "the target, ignoring case"
    );
    assert_eq!(page(target("lob"), None, 10).len(), 4, "or the room");
    assert!(
        page(target("%"), None, 10).is_empty(),
        "wildcards are plain text"
    );
    let since = AuditFilter {
        since: Some(queries::now() + chrono::TimeDelta::minutes(1)),
        ..AuditFilter::default()
    };
    assert!(page(since, None, 10).is_empty());
}

on_every_backend!(through_the_writer_a_refusal_undoes_only_itself);
async fn through_the_writer_a_refusal_undoes_only_itself() {
    // `Moderation::perform` runs `apply` in the writer's batches, beside
    // other writes: one action's refusal must not undo its neighbours.
    let world = World::new().await;
    let c = cast(&world);
    let queue = |actor: &Actor, action: Action| {
        let actor = actor.clone();
        world
            .db
            .write(move |conn| apply(conn, &actor, &action, &LIMITS))
    };
    let lock = queue(
        &c.moderator,
        Action::Lock {
            room: name("lobby"),
        },
    );
    let refused_one = queue(
        &c.member,
        Action::SlowMode {
            room: name("lobby"),
            secs: 5,
        },
    );
    let mute = queue(
        &c.moderator,
        Action::Mute {
            room: name("lobby"),
            user: user("member"),
            minutes: Some(3),
            reason: reason(""),
        },
    );
    // Queued at the call: the three share a batch, awaited in turn.
    let (lock, refused_one, mute) = (lock.await, refused_one.await, mute.await);
    assert!(lock.is_ok(), "{:?}", lock.err());
    assert_eq!(refused_one.err().map(|e| e.code()), Some("forbidden"));
    assert!(mute.is_ok(), "{:?}", mute.err());
    let room = world.room_row("lobby").unwrap();
    assert!(room.locked);
    assert_eq!(room.slow_mode_secs, 0);
    assert!(
        world
            .active(&c.room, &c.member, rows::SanctionKind::Mute)
            .is_some()
    );
    let actions: Vec<String> = world.audit().into_iter().map(|e| e.action).collect();
    assert_eq!(
        actions,
        vec!["user.mute", "room.lock", "room.moderator_add"]
    );
}
