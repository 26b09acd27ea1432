//! The command line: `confab [serve]`, `confab createsuperuser`,
//! `confab room create|set|list|lock|unlock|archive|unarchive|mute|unmute|
//! ban|unban`, `confab user promote|demote|logout-all|deactivate|
//! reactivate`, `confab audit` and `confab healthcheck`.
//!
//! Every command that changes rooms or accounts goes through
//! [`moderation::apply`] as [`Actor::Cli`]: the same checks, the same
//! rows and the same audit log entry (actor `cli`) as the staff console,
//! so what a script did is on record beside what people did.
//!
//! A command changes the database only; it cannot reach a running server.
//! Servers notice within `CONFAB_SESSION_SWEEP_SECS` (2 s by default; the
//! session sweep, `actors/sweep.rs`): a demoted user's sockets in
//! admin-only rooms close, and so do the sockets of sessions `logout-all`
//! or `deactivate` ended, of a user banned from a room, and of rooms made
//! private to who is not a member. What is checked at each act (a post in
//! a locked or archived room, a muted user's post) is refused at once,
//! since the writer reads those rules from the database.
//!
//! Administrative commands open the same database as the server (from
//! `DATABASE_URL`), apply migrations if needed, do one thing and exit
//! non-zero with a message on any error.

use crate::config::Settings;
use crate::db::queries::{rooms, users};
use crate::db::{Database, DbError};
use crate::domain::{Password, Reason, RoomName, Username};
use crate::moderation::{self, Access, Action, Actor, AuditFilter, Limits, ModError, Outcome};
use crate::passwords;
use crate::startup::Application;
use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use std::io::{BufRead, IsTerminal, Write};

/// confab: a real-time chat server.
#[derive(Debug, Parser)]
#[command(name = "confab", version, about)]
pub struct Cli {
    /// What to do; serving is the default.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the chat server (the default).
    Serve,
    /// Create a staff account, like Django's createsuperuser.
    Createsuperuser {
        /// The new account's name (asked for if omitted).
        #[arg(long)]
        username: Option<String>,
    },
    /// Manage rooms.
    Room {
        /// What to do with rooms.
        #[command(subcommand)]
        action: RoomCommand,
    },
    /// Manage accounts.
    User {
        /// What to do with accounts.
        #[command(subcommand)]
        action: UserCommand,
    },
    /// List the audit log, newest first: one line per entry with its time,
    /// actor, action, target (and room) and reason, separated by tabs.
    Audit {
        /// At most this many entries.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Only what this actor did (a username, or `cli`).
        #[arg(long)]
        actor: Option<String>,
        /// Only this action (`user.mute`), or every action of a kind when
        /// it ends with a dot (`room.`).
        #[arg(long)]
        action: Option<String>,
    },
    /// Exit 0 if the server at CONFAB_BIND answers /healthz (for container
    /// health checks, where no curl is installed).
    Healthcheck,
}

/// Room commands.
#[derive(Debug, Subcommand)]
pub enum RoomCommand {
    /// Create a room.
    Create {
        /// Its name: 1–64 letters, digits, '_' and '-'.
        name: String,
        /// Only staff may enter it.
        #[arg(long)]
        admin_only: bool,
    },
    /// Change an existing room: admin-only, private, or open to everyone.
    #[command(group = clap::ArgGroup::new("access").required(true).args(["admin_only", "private", "public"]))]
    Set {
        /// The room's name.
        name: String,
        /// From now on only staff may enter it, read its history or post.
        #[arg(long)]
        admin_only: bool,
        /// From now on only its members (invited) may enter it; its owner
        /// and moderators become members.
        #[arg(long)]
        private: bool,
        /// From now on everyone signed in may enter it.
        #[arg(long)]
        public: bool,
    },
    /// List the rooms.
    List,
    /// Make a room read-only: only its moderators and staff may post,
    /// edit or react.
    Lock {
        /// The room's name.
        name: String,
    },
    /// Let everyone post in a locked room again.
    Unlock {
        /// The room's name.
        name: String,
    },
    /// Archive a room: hidden from the room list, read-only, its history
    /// kept.
    Archive {
        /// The room's name.
        name: String,
    },
    /// Bring an archived room back.
    Unarchive {
        /// The room's name.
        name: String,
    },
    /// Mute a user in a room: they may read but not post, edit, react or
    /// type.
    Mute(Sanction),
    /// Lift a user's mute in a room.
    Unmute(Lift),
    /// Ban a user from a room: they may not enter it, and their open
    /// pages of it close.
    Ban(Sanction),
    /// Lift a user's ban from a room.
    Unban(Lift),
}

/// Whom a mute or a ban is for, for how long, and why.
#[derive(Debug, clap::Args)]
pub struct Sanction {
    /// The room's name.
    room: String,
    /// The user's name.
    user: String,
    /// For this many minutes; without it, until lifted.
    #[arg(long)]
    minutes: Option<u32>,
    /// Why: the user is shown it.
    #[arg(long, default_value = "")]
    reason: String,
}

/// Whose mute or ban to lift, and where.
#[derive(Debug, clap::Args)]
pub struct Lift {
    /// The room's name.
    room: String,
    /// The user's name.
    user: String,
}

/// Account commands.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Make an account staff.
    Promote {
        /// The account's username.
        username: String,
    },
    /// Take staff rights away from an account.
    Demote {
        /// The account's username.
        username: String,
    },
    /// End every session of an account: each browser signed in as it must
    /// log in again, and its open sockets close.
    LogoutAll {
        /// The account's username.
        username: String,
    },
    /// Deactivate an account: it cannot log in, and every session of it
    /// ends.
    Deactivate {
        /// The account's username.
        username: String,
        /// Why (for the audit log).
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Let a deactivated account log in again.
    Reactivate {
        /// The account's username.
        username: String,
    },
}

/// Runs the command line.
pub fn run(cli: Cli, settings: Settings) -> anyhow::Result<()> {
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(settings),
        Command::Createsuperuser { username } => create_superuser(&settings, username),
        Command::Room { action } => room(&settings, action),
        Command::User { action } => user(&settings, action),
        Command::Audit {
            limit,
            actor,
            action,
        } => audit(&settings, limit, actor, action),
        Command::Healthcheck => healthcheck(&settings),
    }
}

fn healthcheck(settings: &Settings) -> anyhow::Result<()> {
    use std::io::Read;
    use std::net::{Ipv4Addr, SocketAddr, TcpStream};
    use std::time::Duration;
    let mut addr = settings.bind;
    if addr.ip().is_unspecified() {
        addr = SocketAddr::from((Ipv4Addr::LOCALHOST, addr.port()));
    }
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(3))
        .with_context(|| format!("connecting to {addr}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(3)))?;
    stream.write_all(b"GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    match response.lines().next() {
        Some(status) if status.contains(" 200 ") => Ok(()),
        other => bail!("unhealthy: {}", other.unwrap_or("no answer")),
    }
}

fn serve(settings: Settings) -> anyhow::Result<()> {
    crate::startup::return_large_blocks_to_the_os();
    actix_web::rt::System::new().block_on(async move {
        let bind = settings.bind;
        let app = Application::build(settings).await?;
        log::info!(
            "confab listening on http://{}:{}/chat/",
            bind.ip(),
            app.port()
        );
        app.run_until_stopped().await?;
        Ok(())
    })
}

fn open(settings: &Settings) -> anyhow::Result<Database> {
    Database::connect(&settings.database_url, 1)
        .with_context(|| format!("opening the database {}", settings.database_url))
}

fn prompt(question: &str) -> anyhow::Result<String> {
    let mut stdout = std::io::stdout();
    write!(stdout, "{question}")?;
    stdout.flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

/// Reads the password: hidden and asked twice on a terminal, one line of
/// standard input otherwise (for scripts).
fn read_password(username: &Username) -> anyhow::Result<Password> {
    let raw = if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ")?;
        let again = rpassword::prompt_password("Password (again): ")?;
        if first != again {
            bail!("the passwords do not match");
        }
        first
    } else {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    };
    Ok(Password::parse(&raw, username)?)
}

fn create_superuser(settings: &Settings, username: Option<String>) -> anyhow::Result<()> {
    let raw = match username {
        Some(name) => name,
        None => prompt("Username: ")?,
    };
    let username = Username::parse(raw.trim())?;
    let password = read_password(&username)?;
    let hash = passwords::hash_here(&password)?;
    let db = open(settings)?;
    match db.run_here(|c| users::create(c, &username, &hash, true)) {
        Ok(_) => {
            println!("Superuser {username} created.");
            Ok(())
        }
        Err(DbError::Conflict) => bail!(
            "the username {username} is already taken, or looks too much like one that is \
             (names differ by more than case and look-alike letters)"
        ),
        Err(e) => Err(e.into()),
    }
}

/// Applies `action` as the command line, in one transaction with its
/// audit entry.
fn act(db: &Database, settings: &Settings, action: Action) -> Result<Outcome, ModError> {
    let limits = Limits::from_settings(settings);
    db.run_here(|c| Ok(moderation::apply(c, &Actor::Cli, &action, &limits)))?
        .map(|applied| applied.outcome)
}

/// Applies `action` and prints what it did, or fails with why not.
fn act_and_say(settings: &Settings, action: Action) -> anyhow::Result<()> {
    let db = open(settings)?;
    let outcome = act(&db, settings, action)?;
    println!("{}", outcome.message);
    Ok(())
}

/// `raw` as a reason, within `CONFAB_MODERATION_REASON_MAX_CHARS`.
fn reason(settings: &Settings, raw: &str) -> anyhow::Result<Reason> {
    Ok(Reason::parse(raw, settings.moderation_reason_max_chars)?)
}

fn room(settings: &Settings, action: RoomCommand) -> anyhow::Result<()> {
    let parse = |raw: &str| RoomName::parse(raw);
    let action = match action {
        RoomCommand::Create { name, admin_only } => {
            return create_room(settings, &name, admin_only);
        }
        RoomCommand::Set {
            name,
            admin_only,
            private,
            ..
        } => return set_room(settings, &name, admin_only, private),
        RoomCommand::List => {
            let db = open(settings)?;
            for room in db.run_here(rooms::all)? {
                let flag = if room.admin_only {
                    "  (admin only)"
                } else if room.invite_only {
                    "  (private)"
                } else {
                    ""
                };
                println!("{}{flag}", room.name);
            }
            return Ok(());
        }
        RoomCommand::Lock { name } => Action::Lock {
            room: parse(&name)?,
        },
        RoomCommand::Unlock { name } => Action::Unlock {
            room: parse(&name)?,
        },
        RoomCommand::Archive { name } => Action::Archive {
            room: parse(&name)?,
        },
        RoomCommand::Unarchive { name } => Action::Unarchive {
            room: parse(&name)?,
        },
        RoomCommand::Mute(s) => Action::Mute {
            room: parse(&s.room)?,
            user: Username::parse(&s.user)?,
            minutes: s.minutes,
            reason: reason(settings, &s.reason)?,
        },
        RoomCommand::Ban(s) => Action::Ban {
            room: parse(&s.room)?,
            user: Username::parse(&s.user)?,
            minutes: s.minutes,
            reason: reason(settings, &s.reason)?,
        },
        RoomCommand::Unmute(l) => Action::Unmute {
            room: parse(&l.room)?,
            user: Username::parse(&l.user)?,
        },
        RoomCommand::Unban(l) => Action::Unban {
            room: parse(&l.room)?,
            user: Username::parse(&l.user)?,
        },
    };
    act_and_say(settings, action)
}

fn create_room(settings: &Settings, raw: &str, admin_only: bool) -> anyhow::Result<()> {
    let name = RoomName::parse(raw)?;
    let db = open(settings)?;
    let access = if admin_only {
        Access::AdminOnly
    } else {
        Access::Public
    };
    let action = Action::CreateRoom {
        name: name.clone(),
        access,
    };
    match act(&db, settings, action) {
        Ok(_) => {
            let kind = if admin_only {
                "admin-only room"
            } else {
                "room"
            };
            println!("Created {kind} {name}.");
            Ok(())
        }
        Err(ModError::Conflict(_)) => {
            let flag = if admin_only {
                "--admin-only"
            } else {
                "--public"
            };
            bail!(
                "a room called {name} already exists; to change it, run \
                 `confab room set {name} {flag}`"
            )
        }
        Err(e) => Err(e.into()),
    }
}

fn set_room(settings: &Settings, raw: &str, admin_only: bool, private: bool) -> anyhow::Result<()> {
    // clap requires exactly one of --admin-only, --private and --public.
    let name = RoomName::parse(raw)?;
    let db = open(settings)?;
    let access = match (admin_only, private) {
        (true, _) => Access::AdminOnly,
        (_, true) => Access::InviteOnly,
        _ => Access::Public,
    };
    let action = Action::SetAccess {
        room: name.clone(),
        access,
    };
    match act(&db, settings, action) {
        Ok(_) => {
            let now = match access {
                Access::AdminOnly => "is now admin-only: only staff may enter it",
                Access::InviteOnly => "is now private: only its members may enter it",
                Access::Public => "is now open to everyone",
            };
            println!("Room {name} {now}.");
            Ok(())
        }
        Err(ModError::NotFound(_)) => bail!("there is no room called {name}"),
        Err(e) => Err(e.into()),
    }
}

fn user(settings: &Settings, action: UserCommand) -> anyhow::Result<()> {
    let (raw, make) = match action {
        UserCommand::Promote { username } => (username, Make::Promote),
        UserCommand::Demote { username } => (username, Make::Demote),
        UserCommand::LogoutAll { username } => (username, Make::EndSessions),
        UserCommand::Deactivate { username, reason } => {
            let reason = self::reason(settings, &reason)?;
            (username, Make::Deactivate(reason))
        }
        UserCommand::Reactivate { username } => (username, Make::Reactivate),
    };
    let user = Username::parse(&raw)?;
    let action = match make {
        Make::Promote => Action::Promote { user },
        Make::Demote => Action::Demote { user },
        Make::EndSessions => Action::EndSessions { user },
        Make::Deactivate(reason) => Action::Deactivate { user, reason },
        Make::Reactivate => Action::Reactivate { user },
    };
    let db = open(settings)?;
    match act(&db, settings, action) {
        Ok(outcome) => {
            println!("{}", outcome.message);
            Ok(())
        }
        Err(ModError::NotFound(_)) => bail!("there is no user called {raw}"),
        Err(e) => Err(e.into()),
    }
}

/// What a user command does to the account it names.
enum Make {
    Promote,
    Demote,
    EndSessions,
    Deactivate(Reason),
    Reactivate,
}

fn audit(
    settings: &Settings,
    limit: u32,
    actor: Option<String>,
    action: Option<String>,
) -> anyhow::Result<()> {
    let db = open(settings)?;
    let filter = AuditFilter {
        actor,
        action,
        ..AuditFilter::default()
    };
    let entries = db.run_here(|c| moderation::audit_entries(c, &filter, None, i64::from(limit)))?;
    let mut out = std::io::stdout().lock();
    for entry in entries {
        let target = match &entry.room {
            Some(room) if *room != entry.target => format!("{} (#{room})", entry.target),
            _ => entry.target.clone(),
        };
        writeln!(
            out,
            "{}\t{}\t{}\t{}\t{}",
            entry.at.and_utc().format("%Y-%m-%dT%H:%M:%SZ"),
            entry.actor,
            entry.action,
            target,
            entry.reason
        )?;
    }
    Ok(())
}
