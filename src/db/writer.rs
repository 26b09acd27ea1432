//! The writer: one thread per database that commits every room's writes,
//! many at a time (group commit).
//!
//! A message is broadcast only once its commit is durable, and a durable
//! commit costs a sync to disk (SQLite's WAL with `synchronous = FULL`,
//! PostgreSQL's WAL flush). One transaction per message would pay that
//! sync per message; the writer pays it per batch instead. It takes
//! whatever writes have queued (at most [`MAX_BATCH`]), runs them in order
//! in one transaction, commits once and then answers each write in the
//! order it came. A write that fails (a rule it breaks, a row that
//! vanished) undoes only itself: the batch is then rolled back and run
//! again with a savepoint per write (only then, because on PostgreSQL a
//! savepoint costs two round trips a write). If the commit fails, nothing
//! of the batch was stored and every write of it is told so.
//!
//! Writes are closures over the connection, as for [`Database::run`]: a
//! write checks its rules (rights, the row it changes) and writes in one
//! closure, against the database as the earlier writes of the batch left
//! it. The queue is as long as what sessions have in flight, each of which
//! is bounded by its own allowance.
//!
//! When the database cannot be reached (PostgreSQL stopped, the connection
//! broken) the writer does not wait for it: it drops its connection,
//! refuses every write at once with [`DbError::Unavailable`], and a probe
//! thread reconnects in the background, every [`PROBE_INTERVAL`], until the
//! database answers; then writes are taken again.
//!
//! [`Database::run`]: super::Database::run

use super::queries::rules::RoomGate;
use super::{Backend, DbConnection, DbError};
use crate::domain::RoomId;
use diesel::connection::{AnsiTransactionManager, Connection, TransactionManager};
use diesel::r2d2::R2D2Connection;
use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;
use tokio::sync::oneshot;

/// Most writes one transaction commits; more wait for the next batch.
pub const MAX_BATCH: usize = 512;

/// How often the probe tries to reconnect while the database is down.
pub const PROBE_INTERVAL: Duration = Duration::from_millis(250);

/// How long the first write waits for the writer's first connection (a
/// busy PostgreSQL may take a while to let one in): within the two seconds
/// in which a write must be answered, even when the database is down.
const FIRST_CONNECT_WAIT: Duration = Duration::from_millis(1500);

/// The handle writes are queued through; cheap to clone. The thread ends
/// when the last handle is dropped.
#[derive(Clone)]
pub struct Writer {
    queue: mpsc::Sender<Box<dyn Job>>,
    state: Arc<State>,
}

/// What the writer thread and the handles share.
struct State {
    /// The writer has a connection (or has not needed one yet).
    up: AtomicBool,
}

impl Writer {
    /// Starts the writer thread for `target` on `backend`. Its connection
    /// is opened at the first write.
    pub fn start(backend: Backend, target: String) -> Result<Writer, DbError> {
        let (queue, jobs) = mpsc::channel();
        let state = Arc::new(State {
            up: AtomicBool::new(true),
        });
        let thread = Thread {
            backend,
            target,
            jobs,
            conn: None,
            probe: None,
            state: state.clone(),
        };
        std::thread::Builder::new()
            .name("confab-db-writer".to_owned())
            .spawn(move || thread.run())
            .map_err(|e| DbError::Writer(e.to_string()))?;
        Ok(Writer { queue, state })
    }

    /// Whether writes are being taken: false from a failure that lost the
    /// connection until the probe has a new one.
    pub fn is_up(&self) -> bool {
        self.state.up.load(Ordering::Relaxed)
    }

    /// Queues `job` now, behind every write queued before it, and returns
    /// its answer once its batch is committed (or failed).
    ///
    /// `job` may run twice: if a write of its batch fails, the batch is
    /// undone and run again with a savepoint per write (see
    /// [`Thread::commit`]), so it must not count on state of its own
    /// between runs.
    pub fn write<F, T, E>(&self, job: F) -> impl Future<Output = Result<T, E>> + Send + 'static
    where
        F: FnMut(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let (answer, answered) = oneshot::channel();
        let queued = self.queue.send(Box::new(Queued {
            job,
            answer,
            result: None,
        }));
        async move {
            if queued.is_err() {
                return Err(E::from(DbError::Cancelled));
            }
            answered
                .await
                .unwrap_or_else(|_| Err(E::from(DbError::Cancelled)))
        }
    }
}

/// A queued write, its types erased so that writes of every kind share one
/// queue.
trait Job: Send {
    /// Runs the write in the open transaction (in a savepoint of its own
    /// when `alone`) and keeps what it returned until the batch's fate is
    /// known; false if it failed.
    fn run(&mut self, conn: &mut DbConnection, alone: bool) -> bool;
    /// Tells the writer's caller: its own result if the batch committed,
    /// otherwise that nothing was stored.
    fn answer(self: Box<Self>, committed: Result<(), &Arc<DbError>>);
    /// Answers without running: the database cannot be reached.
    fn refuse(self: Box<Self>, error: DbError);
}

struct Queued<F, T, E> {
    job: F,
    answer: oneshot::Sender<Result<T, E>>,
    /// What the last run returned.
    result: Option<Result<T, E>>,
}

/// Why a savepoint ended without its write: the write's own error, or the
/// database's while opening or closing the savepoint.
enum Savepoint<E> {
    Job(E),
    Db(diesel::result::Error),
}

impl<E> From<diesel::result::Error> for Savepoint<E> {
    fn from(e: diesel::result::Error) -> Self {
        Savepoint::Db(e)
    }
}

impl<F, T, E> Job for Queued<F, T, E>
where
    F: FnMut(&mut DbConnection) -> Result<T, E> + Send + 'static,
    T: Send + 'static,
    E: From<DbError> + Send + 'static,
{
    fn run(&mut self, conn: &mut DbConnection, alone: bool) -> bool {
        let job = &mut self.job;
        let result = if alone {
            // Nested in the batch's transaction, diesel's `transaction` is
            // a savepoint: an error rolls back this write alone.
            match conn.transaction(|c| job(c).map_err(Savepoint::Job)) {
                Ok(value) => Ok(value),
                Err(Savepoint::Job(e)) => Err(e),
                Err(Savepoint::Db(e)) => Err(E::from(DbError::from(e))),
            }
        } else {
            job(conn)
        };
        let ok = result.is_ok();
        self.result = Some(result);
        ok
    }

    fn answer(self: Box<Self>, committed: Result<(), &Arc<DbError>>) {
        let result = match committed {
            Ok(()) => self
                .result
                .unwrap_or_else(|| Err(E::from(DbError::Cancelled))),
            Err(e) => Err(E::from(DbError::NotCommitted(e.clone()))),
        };
        // The caller may have gone (its room closed): the write stands.
        let _ = self.answer.send(result);
    }

    fn refuse(self: Box<Self>, error: DbError) {
        let _ = self.answer.send(Err(E::from(error)));
    }
}

/// The writer thread's own state.
struct Thread {
    backend: Backend,
    target: String,
    jobs: mpsc::Receiver<Box<dyn Job>>,
    /// `None` before the first write and while the database is down.
    conn: Option<DbConnection>,
    /// Where the probe hands over a new connection, while one runs.
    probe: Option<mpsc::Receiver<DbConnection>>,
    state: Arc<State>,
}

impl Thread {
    fn run(mut self) {
        while let Ok(first) = self.jobs.recv() {
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match self.jobs.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            // A write that panics is a bug; it must not take every later
            // write down with the thread. Its batch is lost (its callers
            // are told the write was cancelled) and the connection, in an
            // unknown state, replaced.
            let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.commit(batch)));
            if ran.is_err() {
                log::error!("a database write panicked: its batch is lost");
                self.conn = None;
            }
        }
    }

    /// The connection to write on: the one held, the one the probe found,
    /// or (the first time) a new one; `None` while the database is down.
    fn connection(&mut self) -> Option<&mut DbConnection> {
        if self.conn.is_none() {
            match self.probe.as_ref().map(mpsc::Receiver::try_recv) {
                Some(Ok(conn)) => {
                    log::info!("the database answers again: writes resume");
                    self.probe = None;
                    self.conn = Some(conn);
                }
                Some(Err(mpsc::TryRecvError::Empty)) => {}
                Some(Err(mpsc::TryRecvError::Disconnected)) | None => {
                    self.start_probe(FIRST_CONNECT_WAIT);
                }
            }
        }
        self.conn.as_mut()
    }

    /// Reconnects in the background: a connection attempt may take long
    /// (an unreachable host), and writes must be refused meanwhile, not
    /// kept waiting. Waits up to `wait` for the first attempt, and leaves
    /// the probe running after that.
    ///
    /// `up` is lowered here, before the probe starts, and raised only by the
    /// probe, once it has a connection.
    fn start_probe(&mut self, wait: Duration) {
        self.state.up.store(false, Ordering::Relaxed);
        let (found, probe) = mpsc::sync_channel(1);
        let (backend, target) = (self.backend, self.target.clone());
        let state = self.state.clone();
        let spawned = std::thread::Builder::new()
            .name("confab-db-probe".to_owned())
            .spawn(move || {
                loop {
                    match backend.open(&target) {
                        Ok(conn) => {
                            // Up from now: the next batch takes it.
                            if found.send(conn).is_ok() {
                                state.up.store(true, Ordering::Relaxed);
                            }
                            return;
                        }
                        Err(e) => log::debug!("the database is still down: {e}"),
                    }
                    std::thread::sleep(PROBE_INTERVAL);
                }
            });
        match spawned {
            Ok(_) => match probe.recv_timeout(wait) {
                Ok(conn) => self.conn = Some(conn),
                Err(_) => self.probe = Some(probe),
            },
            Err(e) => log::error!("cannot start the database probe: {e}"),
        }
    }

    /// Runs `batch` in one transaction and answers each write.
    ///
    /// First straight through, one statement after another: on PostgreSQL
    /// every statement is a round trip, and a savepoint per write would
    /// triple a post's. Only if a write fails (a rule it breaks, a row
    /// that vanished, an error of the database) is the batch undone and run
    /// again with a savepoint per write, so that the failure undoes only
    /// its own write (and, on PostgreSQL, does not abort the others').
    fn commit(&mut self, mut batch: Vec<Box<dyn Job>>) {
        let Some(conn) = self.connection() else {
            for job in batch {
                job.refuse(DbError::Unavailable);
            }
            return;
        };
        let mut ran = batch.len();
        let mut alone = false;
        let mut begun = begin(conn);
        if begun.is_ok() {
            if batch.iter_mut().all(|job| job.run(conn, false)) {
                ran = batch.len();
            } else {
                alone = true;
                begun =
                    <DbConnection as Connection>::TransactionManager::rollback_transaction(conn)
                        .and_then(|()| begin(conn));
            }
        }
        if let Err(e) = begun {
            let e = Arc::new(DbError::from(e));
            for job in batch {
                job.refuse(DbError::NotCommitted(e.clone()));
            }
            return self.after_failure(&e);
        }
        if alone {
            ran = 0;
            for job in batch.iter_mut() {
                job.run(conn, true);
                ran += 1;
                if transaction_is_lost(conn) {
                    break; // the rest would fail too: the batch is lost
                }
            }
        }
        let committed = <DbConnection as Connection>::TransactionManager::commit_transaction(conn)
            .map_err(|e| Arc::new(DbError::from(e)));
        if committed.is_err() {
            let _ = <DbConnection as Connection>::TransactionManager::rollback_transaction(conn);
        }
        remember_for_batch(false);
        let outcome = committed.as_ref().map(|_| ());
        let not_run = batch.split_off(ran);
        for done in batch {
            done.answer(outcome);
        }
        let lost = Arc::new(DbError::Unavailable);
        for job in not_run {
            job.refuse(DbError::NotCommitted(lost.clone()));
        }
        if let Err(e) = &committed {
            self.after_failure(e);
        }
    }

    /// After a failed transaction: a connection that no longer answers is
    /// dropped, and writes are refused until the probe finds a new one.
    fn after_failure(&mut self, error: &DbError) {
        let Some(conn) = self.conn.as_mut() else {
            return;
        };
        if R2D2Connection::is_broken(conn) || conn.ping().is_err() {
            log::error!("the database went away ({error}): writes are refused until it answers");
            self.conn = None;
            // The database just failed: no waiting for it.
            self.start_probe(Duration::ZERO);
        } else {
            log::error!("a batch of writes failed: {error}");
        }
    }
}

/// Whether diesel has given up on the open transaction (a savepoint that
/// could not be rolled back, say on a connection that broke).
fn transaction_is_lost(conn: &mut DbConnection) -> bool {
    <DbConnection as Connection>::TransactionManager::transaction_manager_status_mut(conn)
        .transaction_depth()
        .is_err()
}

thread_local! {
    /// On the writer thread, during a batch: each room's rules and
    /// sanctions in force, as read once in this batch. `None` anywhere
    /// else.
    static GATES: RefCell<Option<HashMap<RoomId, Arc<RoomGate>>>> = const { RefCell::new(None) };
}

/// Room `id`'s [`RoomGate`]: `read` once per batch on the writer thread
/// (every post checks it, and on PostgreSQL each read is a round trip of
/// the one connection), every time anywhere else. A rule changed meanwhile
/// by another process (the CLI, another instance) counts from the next
/// batch, a few milliseconds later; one changed by a write of this batch
/// counts from the next write, as that write calls [`forget_gates`].
pub fn gate_once_per_batch(
    id: RoomId,
    read: impl FnOnce() -> Result<Arc<RoomGate>, DbError>,
) -> Result<Arc<RoomGate>, DbError> {
    let known = GATES.with_borrow(|memo| memo.as_ref().map(|rooms| rooms.get(&id).cloned()));
    match known {
        Some(Some(gate)) => Ok(gate),
        Some(None) => {
            let gate = read()?;
            GATES.with_borrow_mut(|memo| {
                if let Some(rooms) = memo {
                    rooms.insert(id, gate.clone());
                }
            });
            Ok(gate)
        }
        None => read(),
    }
}

/// Forgets what [`gate_once_per_batch`] remembered in this batch: for a
/// write that changes a room's rules or sanctions (a moderation action),
/// so that the writes after it in the same batch read them again.
pub fn forget_gates() {
    GATES.with_borrow_mut(|memo| {
        if let Some(rooms) = memo {
            rooms.clear();
        }
    });
}

/// Starts (`true`) or ends what [`gate_once_per_batch`] remembers.
fn remember_for_batch(on: bool) {
    GATES.with_borrow_mut(|memo| *memo = on.then(HashMap::new));
}

/// Opens the batch's transaction. SQLite's takes the write lock at once
/// (`BEGIN IMMEDIATE`): a transaction that reads first and writes later
/// could otherwise fail at once with "database is locked" when another
/// process wrote in between, instead of waiting its turn.
fn begin(conn: &mut DbConnection) -> diesel::QueryResult<()> {
    remember_for_batch(true);
    match conn {
        DbConnection::Sqlite(c) => {
            AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")
        }
        #[cfg(feature = "postgres")]
        DbConnection::Pg(c) => AnsiTransactionManager::begin_transaction(c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Database;
    use crate::db::queries::{messages, rooms, users};
    use crate::domain::MessageId;

    /// A database with one room and one user, and their ids.
    fn seeded() -> (
        tempfile::TempDir,
        Database,
        crate::domain::RoomId,
        crate::domain::UserId,
    ) {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = dir.path().join("confab.db").display().to_string();
        let db = Database::connect(&url, 1).expect("the database opens");
        let (room, user) = db
            .run_here(|c| {
                let room = rooms::create(c, "lobby", false, None)?;
                let alice = crate::domain::Username::from_stored("alice".to_owned());
                let user = users::create(c, &alice, "hash", false)?;
                Ok((room.id, user.id))
            })
            .expect("seeded");
        (dir, db, room, user)
    }

    #[test]
    fn a_failing_write_undoes_itself_alone_and_answers_keep_their_order() {
        let (_dir, db, room, user) = seeded();
        let now = crate::db::queries::now();
        let store = |text: &'static str| {
            db.write(move |c| messages::insert(c, room, user, text, now, None).map(|m| m.id))
        };
        let first = store("one");
        let failing = db.write(move |c| {
            messages::insert(c, room, user, "undone", now, None)?;
            Err::<(), _>(DbError::Conflict)
        });
        let last = store("two");
        let answers = actix_web::rt::System::new()
            .block_on(async { (first.await, failing.await, last.await) });
        let (first, failing, last): (MessageId, _, MessageId) = (
            answers.0.expect("stored"),
            answers.1,
            answers.2.expect("stored"),
        );
        assert!(matches!(failing, Err(DbError::Conflict)), "{failing:?}");
        assert!(first < last, "ids in the order queued");
        let (rows, _) = db
            .run_here(|c| messages::page(c, room, crate::domain::Window::Latest, 10, &[]))
            .expect("the log reads");
        let texts: Vec<&str> = rows.iter().map(|r| r.message.content.as_str()).collect();
        assert_eq!(texts, ["one", "two"], "the failed write left nothing");
    }
}
