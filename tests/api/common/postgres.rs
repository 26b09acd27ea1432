//! A PostgreSQL server of a test's own, to stop and start again in the
//! middle of a conversation without disturbing the tests that share the
//! machine's PostgreSQL.
//!
//! It is made with the server binaries (`initdb`, `pg_ctl`) in a temporary
//! directory, on a free port, with its socket in that directory. PostgreSQL
//! refuses to run as root, so when the tests run as root it runs as the
//! `postgres` user (through `runuser`).

use super::{free_port, missing, running_as_root};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where Debian puts the server binaries.
const BIN: &str = "/usr/lib/postgresql/15/bin";

/// A private PostgreSQL server, stopped and removed when dropped.
pub struct OwnPostgres {
    dir: tempfile::TempDir,
    pub port: u16,
    as_postgres: bool,
}

impl OwnPostgres {
    /// A new server with an empty `confab` database, or `None` (with a
    /// note, or a failure under CI) when the binaries are missing.
    pub fn start() -> Option<OwnPostgres> {
        if !Path::new(BIN).join("pg_ctl").exists() {
            return missing(
                &format!("the PostgreSQL server binaries are not in {BIN}"),
                "skipping a test that stops its own PostgreSQL",
            );
        }
        let as_postgres = running_as_root();
        let dir = tempfile::tempdir().expect("temp dir");
        if as_postgres {
            let out = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .output()
                .expect("chown runs");
            assert!(out.status.success(), "chown: {out:?}");
        }
        let own = OwnPostgres {
            dir,
            port: free_port(),
            as_postgres,
        };
        let data = own.data().display().to_string();
        own.run(
            "initdb",
            &["-D", &data, "-U", "postgres", "--auth=trust", "--no-sync"],
        );
        own.start_again();
        let out = Command::new(Path::new(BIN).join("psql"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &own.port.to_string(),
                "-U",
                "postgres",
            ])
            .args(["-c", "CREATE DATABASE confab"])
            .output();
        match out {
            Ok(out) if out.status.success() => {}
            // psql is in the client package, not always beside pg_ctl.
            _ => own.create_database_with_diesel(),
        }
        Some(own)
    }

    fn create_database_with_diesel(&self) {
        use diesel::{Connection, RunQueryDsl};
        let mut conn = diesel::PgConnection::establish(&format!(
            "postgres://postgres@127.0.0.1:{}/postgres",
            self.port
        ))
        .expect("reach the private PostgreSQL");
        diesel::sql_query("CREATE DATABASE confab")
            .execute(&mut conn)
            .expect("create the confab database");
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Runs one of the server binaries, as `postgres` when we are root.
    fn run(&self, binary: &str, args: &[&str]) {
        let program = Path::new(BIN).join(binary);
        let mut command = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            Command::new(program)
        };
        let out = command.args(args).output().expect("the binary runs");
        assert!(
            out.status.success(),
            "{binary} {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Where confab finds its database.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/confab", self.port)
    }

    /// Stops the server (`pg_ctl stop -m fast`: connections are ended).
    pub fn stop(&self) {
        let data = self.data().display().to_string();
        self.run("pg_ctl", &["-D", &data, "-m", "fast", "-w", "stop"]);
    }

    /// Starts the (stopped) server again on its port and data, and
    /// returns once it accepts connections.
    pub fn start_again(&self) {
        let data = self.data().display().to_string();
        let log = self.dir.path().join("server.log").display().to_string();
        let socket = self.dir.path().display().to_string();
        let options = format!(
            "-p {} -k {socket} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port
        );
        self.run(
            "pg_ctl",
            &["-D", &data, "-l", &log, "-o", &options, "-w", "start"],
        );
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let data = self.data().display().to_string();
        let program = Path::new(BIN).join("pg_ctl");
        let args = ["-D", &data, "-m", "immediate", "stop"];
        let _ = if self.as_postgres {
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(program)
                .args(args)
                .output()
        } else {
            Command::new(program).args(args).output()
        };
    }
}
