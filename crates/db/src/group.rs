//! Group commit for SQLite writes: concurrent write transactions of one
//! pool share one SQLite transaction, hence one commit and one fsync.
//!
//! Why: with `synchronous = FULL` every SQLite commit waits for an fsync, so
//! a process that commits each request alone is bound by the disk's flush
//! rate, not by its CPU. Writers of one pool already take turns (SQLite has
//! one writer at a time); here a writer whose turn ends while others are
//! queued leaves the transaction open for the next one instead of committing
//! it, and the last writer of the run commits for all of them.
//!
//! The rules that keep each request's transaction its own:
//! - each writer works inside a `SAVEPOINT`; its rollback (explicit, on
//!   error, or because its future was dropped) undoes only its own changes;
//! - nobody is told "committed" before the shared `COMMIT` succeeded: a
//!   writer's [`WriteTx::commit`] waits for it, and if it fails, every
//!   writer of the group gets that error (none of their changes were kept);
//! - a group never outlives the queue: it stays open only while another
//!   writer of this pool is waiting for its turn, and at most
//!   [`MAX_MEMBERS`] writers join one group; every way a turn can end
//!   (commit, rollback, error, a dropped future, a waiter giving up) either
//!   hands the open group to the next writer or commits it;
//! - commits and rollbacks run in spawned tasks, so a request cancelled
//!   half-way (client gone) can never leave the shared transaction, the
//!   write lock or the other writers' results hanging.
//!
//! Other processes on the same file see the group as one ordinary writer
//! holding the lock (they wait in SQLite's busy handler, as before).

use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use sqlx::sqlite::{Sqlite, SqliteConnection, SqlitePool};
use sqlx::{Executor, Transaction};
use tokio::sync::{Mutex, OwnedMutexGuard, oneshot};

use crate::DbError;

/// Most writers sharing one commit: bounds how long the first of them waits
/// (each writer is well under a millisecond of work).
pub const MAX_MEMBERS: usize = 64;

/// The savepoint each writer works in (one name suffices: writers of a
/// group run one after the other, never nested), and its statements.
const SAVEPOINT: &str = "SAVEPOINT glimpse_writer";
const RELEASE: &str = "RELEASE glimpse_writer";
const ROLLBACK_TO: &str = "ROLLBACK TO glimpse_writer";

/// A pool's queue of writers and its open group, if any.
#[derive(Debug, Default)]
pub struct WriteQueue {
    state: Arc<Mutex<State>>,
    /// Writers waiting for their turn; a writer only leaves the group open
    /// for a successor when this is non-zero.
    waiting: AtomicUsize,
    commits: AtomicU64,
    writers: AtomicU64,
}

#[derive(Debug, Default)]
struct State {
    open: Option<Group>,
}

/// The shared transaction and the writers waiting for its commit.
#[derive(Debug)]
struct Group {
    tx: Transaction<'static, Sqlite>,
    members: usize,
    waiters: Vec<oneshot::Sender<Result<(), DbError>>>,
}

/// Counters for logs and tests: (commits, writers committed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupStats {
    pub commits: u64,
    pub writers: u64,
}

impl WriteQueue {
    pub fn stats(&self) -> GroupStats {
        GroupStats {
            commits: self.commits.load(Ordering::Relaxed),
            writers: self.writers.load(Ordering::Relaxed),
        }
    }

    /// Waits for this writer's turn (up to the pool's acquire timeout), then
    /// joins the open group or begins one (`BEGIN IMMEDIATE`, waiting up to
    /// the busy timeout for other processes).
    pub async fn begin(self: &Arc<Self>, pool: &SqlitePool) -> Result<WriteTx, DbError> {
        let wait = pool.options().get_acquire_timeout();
        let mut queued = Queued::enter(self.clone());
        let turn = tokio::time::timeout(wait, self.state.clone().lock_owned())
            .await
            .map_err(|_| {
                DbError::Unavailable(format!(
                    "timed out after {wait:?} waiting for a write transaction"
                ))
            })?;
        queued.took_turn();
        // From here on a dropped WriteTx ends the turn properly.
        let mut writer = WriteTx {
            queue: self.clone(),
            turn: Some(turn),
            in_savepoint: false,
        };
        let state = writer.state();
        if state.open.is_none() {
            state.open = Some(Group {
                tx: pool.begin_with("BEGIN IMMEDIATE").await?,
                members: 0,
                waiters: Vec::new(),
            });
        }
        writer.conn_mut().execute(SAVEPOINT).await?;
        writer.in_savepoint = true;
        Ok(writer)
    }
}

/// Counts a writer as waiting until it gets its turn. A writer that gives
/// up (timeout, dropped future) may have been the successor a group was
/// left open for, so it makes sure someone ends that group.
struct Queued {
    queue: Option<Arc<WriteQueue>>,
}

impl Queued {
    fn enter(queue: Arc<WriteQueue>) -> Queued {
        queue.waiting.fetch_add(1, Ordering::SeqCst);
        Queued { queue: Some(queue) }
    }

    fn took_turn(&mut self) {
        if let Some(q) = self.queue.take() {
            q.waiting.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

impl Drop for Queued {
    fn drop(&mut self) {
        let Some(queue) = self.queue.take() else {
            return;
        };
        queue.waiting.fetch_sub(1, Ordering::SeqCst);
        spawn_or_drop(async move {
            let turn = queue.state.clone().lock_owned().await;
            hand_on(&queue, turn).await;
        });
    }
}

/// One writer's turn: its savepoint inside the group's transaction.
/// Statements run on it through `Deref<Target = SqliteConnection>`.
#[derive(Debug)]
pub struct WriteTx {
    queue: Arc<WriteQueue>,
    /// `None` only once commit/rollback took it over.
    turn: Option<OwnedMutexGuard<State>>,
    in_savepoint: bool,
}

impl WriteTx {
    fn state(&mut self) -> &mut State {
        self.turn
            .as_deref_mut()
            .expect("a WriteTx holds its turn until it ends")
    }

    fn conn_mut(&mut self) -> &mut SqliteConnection {
        self.deref_mut()
    }

    /// Keeps this writer's changes and returns once they are durable: at
    /// once if nobody is queued behind it, otherwise when the group commits.
    pub async fn commit(mut self) -> Result<(), DbError> {
        let queue = self.queue.clone();
        let Some(mut turn) = self.turn.take() else {
            return Err(DbError::Other("write transaction already ended".into()));
        };
        let (done, result) = oneshot::channel();
        let release = async {
            let group = turn
                .open
                .as_mut()
                .ok_or_else(|| DbError::Other("the write group is gone".into()))?;
            group.tx.execute(RELEASE).await?;
            group.waiters.push(done);
            Ok::<_, DbError>(())
        };
        let ended = match release.await {
            Ok(()) => {
                queue.writers.fetch_add(1, Ordering::Relaxed);
                spawn_or_drop(async move { hand_on(&queue, turn).await })
            }
            // The savepoint could not be folded in: the transaction is in
            // an unknown state, so nothing of the group may be committed.
            Err(e) => {
                let err = e.clone();
                spawn_or_drop(async move { abort(turn, err).await });
                return Err(e);
            }
        };
        if !ended {
            return Err(DbError::Other(
                "no runtime left to commit the write transaction".into(),
            ));
        }
        result.await.unwrap_or_else(|_| {
            Err(DbError::Other(
                "the write transaction ended without a result".into(),
            ))
        })
    }

    /// Undoes this writer's changes; the group goes on without them.
    pub async fn rollback(mut self) -> Result<(), DbError> {
        let queue = self.queue.clone();
        let Some(turn) = self.turn.take() else {
            return Ok(());
        };
        let in_savepoint = self.in_savepoint;
        // Spawned and awaited: the rollback completes even if this future
        // is dropped, and the caller sees it done when it returns.
        match tokio::spawn(async move { end_turn(&queue, turn, in_savepoint).await }).await {
            Ok(r) => r,
            Err(e) => Err(DbError::Other(format!("rollback task failed: {e}"))),
        }
    }
}

impl Deref for WriteTx {
    type Target = SqliteConnection;
    fn deref(&self) -> &SqliteConnection {
        let group = self
            .turn
            .as_deref()
            .and_then(|s| s.open.as_ref())
            .expect("a WriteTx holds an open group until it ends");
        &group.tx
    }
}

impl DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        let group = self
            .turn
            .as_deref_mut()
            .and_then(|s| s.open.as_mut())
            .expect("a WriteTx holds an open group until it ends");
        &mut group.tx
    }
}

impl Drop for WriteTx {
    /// A writer dropped without commit or rollback (an error returned with
    /// `?`, or its request cancelled): its changes are undone.
    fn drop(&mut self) {
        let Some(turn) = self.turn.take() else {
            return;
        };
        let queue = self.queue.clone();
        let in_savepoint = self.in_savepoint;
        spawn_or_drop(async move {
            let _ = end_turn(&queue, turn, in_savepoint).await;
        });
    }
}

/// Rolls back a writer's savepoint and hands the group on; if the rollback
/// fails the group's transaction cannot be trusted and is aborted.
async fn end_turn(
    queue: &Arc<WriteQueue>,
    mut turn: OwnedMutexGuard<State>,
    in_savepoint: bool,
) -> Result<(), DbError> {
    if in_savepoint && let Some(group) = turn.open.as_mut() {
        let undo = async {
            group.tx.execute(ROLLBACK_TO).await?;
            group.tx.execute(RELEASE).await?;
            Ok::<_, DbError>(())
        };
        if let Err(e) = undo.await {
            abort(turn, e.clone()).await;
            return Err(e);
        }
    }
    hand_on(queue, turn).await;
    Ok(())
}

/// Ends a turn: leaves the group open when another writer is queued and the
/// group has room, otherwise commits it and tells every member the result.
async fn hand_on(queue: &WriteQueue, mut turn: OwnedMutexGuard<State>) {
    let Some(group) = turn.open.as_mut() else {
        return;
    };
    group.members += 1;
    if queue.waiting.load(Ordering::SeqCst) > 0 && group.members < MAX_MEMBERS {
        return;
    }
    let Some(group) = turn.open.take() else {
        return;
    };
    let result = group.tx.commit().await.map_err(DbError::from);
    if result.is_ok() && !group.waiters.is_empty() {
        queue.commits.fetch_add(1, Ordering::Relaxed);
    }
    for waiter in group.waiters {
        let _ = waiter.send(result.clone());
    }
}

/// Rolls the whole group back and gives every member `err`.
async fn abort(mut turn: OwnedMutexGuard<State>, err: DbError) {
    if let Some(group) = turn.open.take() {
        let _ = group.tx.rollback().await;
        for waiter in group.waiters {
            let _ = waiter.send(Err(err.clone()));
        }
    }
}

/// Runs `f` on the current runtime; without one (process teardown) it is
/// dropped, which drops the transaction and so rolls it back. Returns
/// whether it was spawned.
fn spawn_or_drop<F>(f: F) -> bool
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    match tokio::runtime::Handle::try_current() {
        Ok(rt) => {
            rt.spawn(f);
            true
        }
        Err(_) => false,
    }
}
