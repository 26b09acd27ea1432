//! The command line: `confab [serve]`, `confab createsuperuser`,
//! `confab room create|set|list`, `confab user promote|demote|logout-all` and
//! `confab healthcheck`.
//!
//! A command changes the database only; it cannot reach a running server.
//! Servers notice within `CONFAB_SESSION_SWEEP_SECS` (the session sweep,
//! `actors/sweep.rs`): a demoted user's sockets in admin-only rooms close,
//! and so do the sockets of sessions `logout-all` ended.
//!
//! Administrative commands open the same database as the server (from
//! `DATABASE_URL`), apply migrations if needed, do one thing and exit
//! non-zero with a message on any error.

use crate::config::Settings;
use crate::db::queries::{rooms, sessions, users};
use crate::db::{Database, DbError};
use crate::domain::{Password, RoomName, Username};
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
    /// Change an existing room: admin-only, or open to everyone.
    #[command(group = clap::ArgGroup::new("access").required(true).args(["admin_only", "public"]))]
    Set {
        /// The room's name.
        name: String,
        /// From now on only staff may enter it, read its history or post.
        #[arg(long)]
        admin_only: bool,
        /// From now on everyone signed in may enter it.
        #[arg(long)]
        public: bool,
    },
    /// List the rooms.
    List,
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
}

/// Runs the command line.
pub fn run(cli: Cli, settings: Settings) -> anyhow::Result<()> {
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(settings),
        Command::Createsuperuser { username } => create_superuser(&settings, username),
        Command::Room { action } => room(&settings, action),
        Command::User { action } => user(&settings, action),
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

fn room(settings: &Settings, action: RoomCommand) -> anyhow::Result<()> {
    let db = open(settings)?;
    match action {
        RoomCommand::Create { name, admin_only } => {
            let name = RoomName::parse(&name)?;
            match db.run_here(|c| rooms::create(c, name.as_str(), admin_only, None)) {
                Ok(_) => {
                    let kind = if admin_only {
                        "admin-only room"
                    } else {
                        "room"
                    };
                    println!("Created {kind} {name}.");
                    Ok(())
                }
                Err(DbError::Conflict) => {
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
        RoomCommand::Set {
            name, admin_only, ..
        } => {
            // clap requires exactly one of --admin-only and --public.
            let name = RoomName::parse(&name)?;
            match db.run_here(|c| rooms::set_admin_only(c, name.as_str(), admin_only)) {
                Ok(()) => {
                    let now = if admin_only {
                        "is now admin-only: only staff may enter it"
                    } else {
                        "is now open to everyone"
                    };
                    println!("Room {name} {now}.");
                    Ok(())
                }
                Err(DbError::NotFound) => bail!("there is no room called {name}"),
                Err(e) => Err(e.into()),
            }
        }
        RoomCommand::List => {
            for room in db.run_here(rooms::all)? {
                let flag = if room.admin_only {
                    "  (admin only)"
                } else {
                    ""
                };
                println!("{}{flag}", room.name);
            }
            Ok(())
        }
    }
}

fn user(settings: &Settings, action: UserCommand) -> anyhow::Result<()> {
    let db = open(settings)?;
    let (raw, staff) = match action {
        UserCommand::Promote { username } => (username, true),
        UserCommand::Demote { username } => (username, false),
        UserCommand::LogoutAll { username } => return logout_all(&db, &username),
    };
    let username = Username::parse(&raw)?;
    match db.run_here(|c| users::set_staff(c, username.as_str(), staff)) {
        Ok(()) => {
            let now = if staff {
                "is now staff"
            } else {
                "is no longer staff"
            };
            println!("{username} {now}.");
            Ok(())
        }
        Err(DbError::NotFound) => bail!("there is no user called {username}"),
        Err(e) => Err(e.into()),
    }
}

fn logout_all(db: &Database, raw: &str) -> anyhow::Result<()> {
    let username = Username::parse(raw)?;
    match db.run_here(|c| sessions::delete_all_of(c, username.as_str())) {
        Ok(ended) => {
            let noun = if ended == 1 { "session" } else { "sessions" };
            println!("Ended {ended} {noun} of {username}.");
            Ok(())
        }
        Err(DbError::NotFound) => bail!("there is no user called {username}"),
        Err(e) => Err(e.into()),
    }
}
