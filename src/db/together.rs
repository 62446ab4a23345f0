//! Group commit of short writes that arrive together (DESIGN §3): a write
//! handed to [`Db::write_together`] while a batch is being written waits for
//! the next batch, and each batch is one `BEGIN IMMEDIATE` transaction with
//! every write in a savepoint of its own (a write that fails is rolled back
//! alone). Two hundred questions asked at once then cost a few commits and
//! search-index flushes instead of two hundred, and their writers do not
//! queue for SQLite's write lock against each other, each polling in the
//! busy handler, whose sleeps grow to 100 ms while the lock is free most of
//! the time.
//!
//! No task waits for work: the first write that finds no batch being written
//! starts the writer on a blocking thread, and it writes batches until the
//! queue is empty.

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, MutexGuard};

use rusqlite::{Connection, TransactionBehavior};
use tokio::sync::oneshot;

use super::{Db, DbError, DbFailure};

/// Writes in one transaction at most: a batch stays a few milliseconds long,
/// so the writes that do not come through here (partial answers, final
/// answers, everything else) never wait long for the lock.
const MAX_BATCH: usize = 32;

/// The writes waiting for the next batch, and whether a writer is at work.
#[derive(Default)]
pub(super) struct Queue {
    waiting: Vec<Box<dyn Queued>>,
    writing: bool,
}

/// A write in the queue (its result type erased).
trait Queued: Send {
    /// Runs the write on `conn` (inside its savepoint): whether it succeeded,
    /// and the result to send once the batch's transaction has ended.
    fn write(self: Box<Self>, conn: &Connection) -> (bool, Box<dyn Written>);
    /// Fails the write without running it.
    fn fail(self: Box<Self>, err: DbError);
}

/// A write that ran, waiting for its batch's commit.
trait Written: Send {
    /// Whether it failed because the disk is full.
    fn disk_full(&self) -> bool;
    /// Sends its result, or `lost` when its batch did not commit.
    fn send(self: Box<Self>, lost: Option<&DbError>);
}

struct Write<F, T, E> {
    f: F,
    reply: oneshot::Sender<Result<T, E>>,
}

struct Ran<T, E> {
    result: Result<T, E>,
    reply: oneshot::Sender<Result<T, E>>,
}

impl<F, T, E> Queued for Write<F, T, E>
where
    F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
    T: Send + 'static,
    E: DbFailure + Send + 'static,
{
    fn write(self: Box<Self>, conn: &Connection) -> (bool, Box<dyn Written>) {
        let Write { f, reply } = *self;
        let result = f(conn);
        (result.is_ok(), Box::new(Ran { result, reply }))
    }

    fn fail(self: Box<Self>, err: DbError) {
        let _ = self.reply.send(Err(E::from(err)));
    }
}

impl<T: Send, E: DbFailure + Send> Written for Ran<T, E> {
    fn disk_full(&self) -> bool {
        self.result
            .as_ref()
            .err()
            .is_some_and(DbFailure::is_disk_full)
    }

    fn send(self: Box<Self>, lost: Option<&DbError>) {
        let result = match (self.result, lost) {
            (Ok(_), Some(err)) => Err(E::from(err.copy())),
            (result, _) => result,
        };
        let _ = self.reply.send(result);
    }
}

/// Why the writes of a batch that SQLite rolled back as a whole failed.
const ROLLED_BACK: &str = "the write was rolled back with a write of the same batch that failed";

/// A failure of SQLite's kind `code` with `message` (what callers look at:
/// busy is a 503 to retry, a full disk a 507).
fn sqlite_error(code: std::ffi::c_int, message: &str) -> DbError {
    DbError::Sqlite(rusqlite::Error::SqliteFailure(
        rusqlite::ffi::Error::new(code),
        Some(message.to_string()),
    ))
}

impl Db {
    /// Runs the write `f` in the next batch of writes ([`self`](self) module):
    /// in a transaction shared with the writes that arrived meanwhile, in a
    /// savepoint of its own. Its result comes once the batch has committed;
    /// if the batch cannot commit (a full disk), the writes that succeeded
    /// get that error instead, and nothing of theirs is saved.
    ///
    /// For short writes that many requests make at once; `f` must not start
    /// a transaction of its own (it is inside one).
    pub async fn write_together<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: DbFailure + Send + 'static,
        F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
    {
        self.queue_together(f).await
    }

    /// [`write_together`](Self::write_together), with the write queued (and
    /// a writer started) now rather than when the result is first awaited:
    /// the caller can do other work while it is written.
    pub fn queue_together<T, E, F>(
        &self,
        f: F,
    ) -> impl std::future::Future<Output = Result<T, E>> + Send + 'static
    where
        T: Send + 'static,
        E: DbFailure + Send + 'static,
        F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
    {
        let (reply, result) = oneshot::channel();
        let lead = {
            let mut queue = lock(&self.together);
            queue.waiting.push(Box::new(Write { f, reply }));
            !std::mem::replace(&mut queue.writing, true)
        };
        if lead {
            let writer = Writer {
                queue: self.together.clone(),
                done: false,
            };
            // Straight onto a blocking thread (no task in between: one
            // thread hand-off less before the first write of a batch),
            // reporting a failure as `Db::run` does. Without a connection
            // the writer is dropped, which fails the writes waiting.
            self.spawn_call(Box::new(move |conn| {
                conn.and_then(|conn| writer.write_all(conn))
                    .err()
                    .map(|e| e.is_disk_full())
            }));
        }
        async move {
            result.await.unwrap_or_else(|_| {
                Err(E::from(DbError::Task(
                    "the write was lost: its batch failed".into(),
                )))
            })
        }
    }
}

fn lock(queue: &Mutex<Queue>) -> MutexGuard<'_, Queue> {
    queue.lock().unwrap_or_else(|e| e.into_inner())
}

/// The writer's hold on the queue. However it ends (the queue is empty, no
/// connection was free, a write panicked), the queue is left without a
/// writer, so the next write starts one.
struct Writer {
    queue: Arc<Mutex<Queue>>,
    /// Found the queue empty and left it (another writer may have started).
    done: bool,
}

impl Writer {
    /// Writes batches until the queue is empty; the last batch's outcome.
    fn write_all(mut self, conn: &mut Connection) -> Result<(), DbError> {
        let mut outcome = Ok(());
        loop {
            let batch = {
                let mut queue = lock(&self.queue);
                let n = queue.waiting.len().min(MAX_BATCH);
                if n == 0 {
                    queue.writing = false;
                    self.done = true;
                    return outcome;
                }
                queue.waiting.drain(..n).collect::<Vec<_>>()
            };
            outcome = write_batch(conn, batch);
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        // Ended without emptying the queue: the writes still waiting fail
        // (and may be retried), rather than wait for a writer that is gone.
        let waiting = {
            let mut queue = lock(&self.queue);
            queue.writing = false;
            std::mem::take(&mut queue.waiting)
        };
        for write in waiting {
            write.fail(sqlite_error(
                rusqlite::ffi::SQLITE_BUSY,
                "no database connection was free for the write",
            ));
        }
    }
}

/// Writes `batch` in one transaction; its outcome (the commit's error, or
/// why the transaction was lost).
fn write_batch(conn: &mut Connection, mut batch: Vec<Box<dyn Queued>>) -> Result<(), DbError> {
    let mut tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(err) => {
            let err = DbError::from(err);
            for write in batch {
                write.fail(err.copy());
            }
            return Err(err);
        }
    };
    if batch.len() == 1 {
        if let Some(write) = batch.pop() {
            return write_alone(tx, write);
        }
    }
    let mut ran = Vec::with_capacity(batch.len());
    let mut lost: Option<DbError> = None;
    for write in batch {
        if let Some(err) = &lost {
            write.fail(err.copy());
            continue;
        }
        let savepoint = match tx.savepoint() {
            Ok(savepoint) => savepoint,
            Err(err) => {
                let err = DbError::from(err);
                write.fail(err.copy());
                lost = Some(err);
                continue;
            }
        };
        // A write that panics (a bug) fails alone: its caller gets an error
        // (its reply is dropped) and the batch goes on without it.
        let run = std::panic::catch_unwind(AssertUnwindSafe(|| write.write(&savepoint)));
        let Ok((ok, written)) = run else {
            drop(savepoint);
            if tx.is_autocommit() {
                lost = Some(sqlite_error(rusqlite::ffi::SQLITE_ABORT, ROLLED_BACK));
            }
            continue;
        };
        // A failed write's savepoint is rolled back as it is dropped.
        let released = if ok {
            savepoint.commit()
        } else {
            drop(savepoint);
            Ok(())
        };
        if tx.is_autocommit() {
            // SQLite rolled the whole transaction back (a full disk, an I/O
            // error): the writes before this one are gone too.
            lost = Some(if written.disk_full() {
                sqlite_error(rusqlite::ffi::SQLITE_FULL, "database or disk is full")
            } else {
                sqlite_error(rusqlite::ffi::SQLITE_ABORT, ROLLED_BACK)
            });
        } else if let Err(err) = released {
            lost = Some(err.into());
        }
        ran.push(written);
    }
    let outcome = match lost {
        // Dropping the transaction rolls back what is left of it.
        Some(err) => Err(err),
        None => tx.commit().map_err(DbError::from),
    };
    for written in ran {
        written.send(outcome.as_ref().err());
    }
    outcome
}

/// A batch of one write (what a server that is not busy sees), in its
/// transaction `tx`: the transaction is its savepoint, rolled back if it fails. Inside a savepoint
/// SQLite copies every page a write changes (to memory, then past 64 KiB to
/// a temporary file) and the search index writes out what it holds as the
/// savepoint begins; a question's write touches some thirty pages, and this
/// was a fifth of its time (issue 19's profile of the time to first token).
fn write_alone(tx: rusqlite::Transaction<'_>, write: Box<dyn Queued>) -> Result<(), DbError> {
    // A write that panics (a bug) is rolled back as the transaction is
    // dropped; its caller gets an error (its reply is dropped).
    let Ok((ok, written)) = std::panic::catch_unwind(AssertUnwindSafe(|| write.write(&tx))) else {
        return Ok(());
    };
    let outcome = if ok {
        tx.commit().map_err(DbError::from)
    } else {
        // Its own error goes back to its caller; a full disk is the
        // batch's outcome too, as for a write of a larger batch.
        drop(tx);
        if written.disk_full() {
            Err(sqlite_error(
                rusqlite::ffi::SQLITE_FULL,
                "database or disk is full",
            ))
        } else {
            Ok(())
        }
    };
    written.send(outcome.as_ref().err());
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("t.db")).unwrap();
        (dir, db)
    }

    async fn count(db: &Db, sql: &'static str) -> i64 {
        db.run(move |conn| -> Result<i64, DbError> { Ok(conn.query_row(sql, [], |r| r.get(0))?) })
            .await
            .unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writes_made_at_once_are_all_saved_and_a_failed_one_alone_is_rolled_back() {
        let (_dir, db) = open();
        db.run(|conn| -> Result<(), DbError> {
            Ok(conn.execute_batch("CREATE TABLE t (n INTEGER NOT NULL UNIQUE)")?)
        })
        .await
        .unwrap();
        let writes = (0..200).map(|n| {
            let db = db.clone();
            tokio::spawn(async move {
                db.write_together(move |conn| -> Result<i64, DbError> {
                    let n: i64 = n;
                    // Every tenth write inserts its row, then fails: the row
                    // must go with it, and only it.
                    conn.execute("INSERT INTO t (n) VALUES (?1)", [n])?;
                    if n % 10 == 3 {
                        conn.execute("INSERT INTO t (n) VALUES (?1)", [n])?;
                    }
                    Ok(n)
                })
                .await
            })
        });
        let results = futures_util::future::join_all(writes).await;
        let mut failed = 0;
        for (n, result) in results.into_iter().enumerate() {
            match result.unwrap() {
                Ok(value) => assert_eq!(value, n as i64),
                Err(err) => {
                    assert_eq!(n % 10, 3, "{err}");
                    assert!(err.to_string().contains("UNIQUE"), "{err}");
                    failed += 1;
                }
            }
        }
        assert_eq!(failed, 20);
        assert_eq!(count(&db, "SELECT count(*) FROM t").await, 180);
        assert_eq!(
            count(&db, "SELECT count(*) FROM t WHERE n % 10 = 3").await,
            0
        );
        // The queue is left without a writer: a later write starts one.
        let later = db
            .write_together(|conn| -> Result<usize, DbError> {
                Ok(conn.execute("INSERT INTO t (n) VALUES (1000)", [])?)
            })
            .await;
        assert_eq!(later.unwrap(), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_write_that_panics_fails_alone_and_the_next_write_is_written() {
        let (_dir, db) = open();
        let writes = (0..3).map(|n| {
            let db = db.clone();
            tokio::spawn(async move {
                db.write_together(move |conn| -> Result<i64, DbError> {
                    assert_ne!(n, 1, "a bug in a write");
                    Ok(conn.query_row("SELECT ?1", [n], |r| r.get(0))?)
                })
                .await
            })
        });
        let results = futures_util::future::join_all(writes).await;
        let results: Vec<_> = results.into_iter().map(Result::unwrap).collect();
        assert_eq!(results[0].as_ref().unwrap(), &0);
        assert!(results[1].is_err());
        assert_eq!(results[2].as_ref().unwrap(), &2);
        let next = db
            .write_together(|conn| -> Result<i64, DbError> {
                Ok(conn.query_row("SELECT 41 + 1", [], |r| r.get(0))?)
            })
            .await;
        assert_eq!(next.unwrap(), 42);
    }

    #[test]
    fn writes_of_a_batch_whose_transaction_is_lost_all_fail_and_nothing_is_saved() {
        // A write that fills the disk may make SQLite roll the whole
        // transaction back (its documentation: "Response To Errors Within A
        // Transaction"); the second write here does so itself, and says the
        // disk is full: the first was written but is gone with the
        // transaction, and the third cannot be.
        let dir = tempfile::tempdir().unwrap();
        let mut conn = Connection::open(dir.path().join("t.db")).unwrap();
        conn.execute_batch("CREATE TABLE t (n INTEGER)").unwrap();
        let (batch, mut results): (Vec<Box<dyn Queued>>, Vec<_>) = (0..3)
            .map(|n| {
                let (reply, result) = oneshot::channel::<Result<(), DbError>>();
                let write: Box<dyn Queued> = Box::new(Write {
                    f: move |conn: &Connection| -> Result<(), DbError> {
                        conn.execute("INSERT INTO t VALUES (?1)", [n])?;
                        if n == 1 {
                            conn.execute_batch("ROLLBACK")?;
                            return Err(sqlite_error(rusqlite::ffi::SQLITE_FULL, "full"));
                        }
                        Ok(())
                    },
                    reply,
                });
                (write, result)
            })
            .unzip();
        assert!(write_batch(&mut conn, batch).unwrap_err().is_disk_full());
        for result in &mut results {
            assert!(result.try_recv().unwrap().unwrap_err().is_disk_full());
        }
        let rows: i64 = conn
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 0);
        assert!(conn.is_autocommit());
    }

    /// One write in a batch of its own, on `conn`: the batch's outcome and
    /// the write's result (none when it panicked).
    fn alone(
        conn: &mut Connection,
        f: impl FnOnce(&Connection) -> Result<i64, DbError> + Send + 'static,
    ) -> (Result<(), DbError>, Option<Result<i64, DbError>>) {
        let (reply, mut result) = oneshot::channel();
        let outcome = write_batch(conn, vec![Box::new(Write { f, reply })]);
        (outcome, result.try_recv().ok())
    }

    #[test]
    fn a_write_alone_in_its_batch_is_rolled_back_whole_when_it_fails_or_panics() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = Connection::open(dir.path().join("t.db")).unwrap();
        conn.execute_batch("CREATE TABLE t (n INTEGER NOT NULL UNIQUE)")
            .unwrap();
        let rows = |conn: &Connection| -> i64 {
            conn.query_row("SELECT count(*) FROM t", [], |r| r.get(0))
                .unwrap()
        };
        // Written and committed.
        let (outcome, result) = alone(&mut conn, |c| {
            Ok(c.execute("INSERT INTO t VALUES (1)", [])? as i64)
        });
        assert!(outcome.is_ok());
        assert_eq!(result.unwrap().unwrap(), 1);
        // A failure after a row was written: its own error, and the row is gone.
        let (outcome, result) = alone(&mut conn, |c| {
            c.execute("INSERT INTO t VALUES (2)", [])?;
            Ok(c.execute("INSERT INTO t VALUES (1)", [])? as i64)
        });
        assert!(outcome.is_ok());
        assert!(result.unwrap().unwrap_err().to_string().contains("UNIQUE"));
        assert_eq!(rows(&conn), 1);
        // A panic after a row was written: no result, and the row is gone.
        let (outcome, result) = alone(&mut conn, |c| {
            c.execute("INSERT INTO t VALUES (3)", [])?;
            panic!("a bug in a write")
        });
        assert!(outcome.is_ok());
        assert!(result.is_none());
        assert_eq!(rows(&conn), 1);
        // A full disk is the batch's outcome as well as the write's error.
        let (outcome, result) = alone(&mut conn, |c| {
            c.execute("INSERT INTO t VALUES (4)", [])?;
            Err(sqlite_error(rusqlite::ffi::SQLITE_FULL, "full"))
        });
        assert!(outcome.unwrap_err().is_disk_full());
        assert!(result.unwrap().unwrap_err().is_disk_full());
        assert_eq!(rows(&conn), 1);
        assert!(conn.is_autocommit());
    }
}
