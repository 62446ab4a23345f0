//! SQLite access. One [`Db`] holds an r2d2 pool; [`Db::run`] runs a closure with
//! a pooled connection on a blocking thread, so no query ever runs on an async
//! worker. Pragmas are set per connection; the schema is applied or upgraded by
//! [`migrate`] before the pool opens. No SQL lives outside this module.

pub mod audit;
pub mod collector;
pub mod compat;
pub mod connection;
pub mod conversation;
pub mod import;
pub mod migrate;
pub mod plan;
pub mod prompt;
pub mod search;
pub mod setting;
pub mod share;
pub mod stats;
pub mod token;
pub mod user;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::Connection;

/// How long a connection waits for SQLite's write lock before `SQLITE_BUSY`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections kept in the pool: reads run in parallel under WAL.
const POOL_SIZE: u32 = 16;

/// Why a database call failed.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("connection pool: {0}")]
    Pool(#[from] r2d2::Error),
    #[error("schema: {0}")]
    Migrate(#[from] migrate::MigrateError),
    #[error("database task failed: {0}")]
    Task(String),
    /// A unique constraint said no; the message is for the client.
    #[error("{0}")]
    Conflict(String),
}

impl DbError {
    /// SQLite's write lock stayed taken past the busy timeout (`SQLITE_BUSY`,
    /// or `SQLITE_LOCKED` on a shared table): the request may be retried.
    pub fn is_busy(&self) -> bool {
        matches!(
            self,
            DbError::Sqlite(rusqlite::Error::SqliteFailure(e, _))
                if matches!(
                    e.code,
                    rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                )
        )
    }

    /// SQLite could not write because the disk (or the WAL's growth) is full.
    pub fn is_disk_full(&self) -> bool {
        matches!(
            self,
            DbError::Sqlite(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DiskFull
        )
    }
}

/// An error a database closure may fail with: a [`DbError`] converts into it,
/// and it says whether SQLite found the disk full (so [`DiskState`] notices
/// whatever the caller's error type).
pub trait DbFailure: From<DbError> {
    fn is_disk_full(&self) -> bool;
}

impl DbFailure for DbError {
    fn is_disk_full(&self) -> bool {
        DbError::is_disk_full(self)
    }
}

/// Whether writes currently fail for lack of disk space. Set by the first
/// write that fails with SQLITE_FULL, cleared by the next that succeeds, and
/// said once in the log each way (not once per token or request).
#[derive(Debug, Default)]
pub struct DiskState {
    full: AtomicBool,
}

impl DiskState {
    pub fn is_full(&self) -> bool {
        self.full.load(Ordering::Relaxed)
    }

    /// `failed` is `None` for a success, else whether the failure was a full disk.
    fn saw(&self, failed: Option<bool>, wrote: bool) {
        match failed {
            Some(true) if !self.full.swap(true, Ordering::Relaxed) => {
                log::error!(
                    "the disk holding the database is full: nothing new can be saved \
                     (requests get 507, running answers stop and are kept in memory) \
                     until space is freed; what was saved before is safe"
                );
            }
            None if wrote && self.full.swap(false, Ordering::Relaxed) => {
                log::warn!("the database can be written again: disk space was freed");
            }
            _ => {}
        }
    }
}

/// The database: a pool of connections to one SQLite file.
#[derive(Clone)]
pub struct Db {
    pool: r2d2::Pool<SqliteConnectionManager>,
    path: PathBuf,
    disk: Arc<DiskState>,
    /// Whose turn it is among bulk writes ([`Db::run_bulk`]); FIFO.
    bulk: Arc<tokio::sync::Semaphore>,
}

impl Db {
    /// Opens (creating if needed) the database file, applies or upgrades the
    /// schema, and opens the pool. Blocking: call it from a blocking context.
    pub fn open(path: &Path) -> Result<Db, DbError> {
        // Provider keys and the token secret live here: owner-only.
        if let Err(err) = crate::fsmode::secure_database(path) {
            log::warn!("cannot make {} owner-only: {err}", path.display());
        }
        let mut conn = Connection::open(path)?;
        configure(&conn)?;
        // Migrate first: a file this binary refuses must stay byte for byte as
        // it was, and switching to WAL rewrites its header.
        let outcome = migrate::migrate(&mut conn, Some(path))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        match outcome {
            migrate::Outcome::Created { version } => {
                log::info!("created database {} (schema v{version})", path.display())
            }
            migrate::Outcome::Upgraded { from, to } => {
                log::info!("upgraded database {} from v{from} to v{to}", path.display())
            }
            migrate::Outcome::Current { .. } => {}
        }
        drop(conn);

        let manager = SqliteConnectionManager::file(path).with_init(|c| configure(c));
        let pool = r2d2::Pool::builder()
            .max_size(POOL_SIZE)
            // Open connections on demand: a cold start stays in milliseconds.
            .min_idle(Some(1))
            // A request that cannot get a connection this fast gets a 503 with
            // Retry-After rather than waiting on.
            .connection_timeout(Duration::from_secs(5))
            .build(manager)?;
        Ok(Db {
            pool,
            path: path.to_path_buf(),
            disk: Arc::default(),
            bulk: Arc::new(tokio::sync::Semaphore::new(1)),
        })
    }

    /// Copies what the WAL holds into the database without waiting for
    /// anyone (PASSIVE), so that the WAL can start over (and be truncated to
    /// `journal_size_limit`) at the next write.
    pub async fn checkpoint(&self) {
        let done = self
            .run(|conn| -> Result<_, crate::db::DbError> {
                conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                    .map_err(DbError::from)
            })
            .await;
        if let Err(err) = done {
            log::debug!("idle checkpoint: {err}");
        }
    }

    /// Whether writes fail for lack of disk space (see [`DiskState`]).
    pub fn disk_full(&self) -> bool {
        self.disk.is_full()
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` with a pooled connection on tokio's blocking pool. The pool's
    /// `get()` itself may block, so it happens on that thread too. `f` may fail
    /// with any error a [`DbError`] converts into (a service operation's own
    /// error, say), so a refusal decided inside the transaction comes back as
    /// that error, not as an `Ok(Err(..))`.
    pub async fn run<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: DbFailure + Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, E> + Send + 'static,
    {
        let pool = self.pool.clone();
        let disk = self.disk.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.get().map_err(|e| E::from(DbError::from(e)))?;
            let changes = conn.total_changes();
            let result = f(&mut conn);
            let failed = result.as_ref().err().map(DbFailure::is_disk_full);
            disk.saw(failed, conn.total_changes() > changes);
            result
        })
        .await
        .map_err(|e| E::from(DbError::Task(e.to_string())))?
    }

    /// Runs one part of a bulk write (a big import, src/db/import.rs) like
    /// [`Db::run`], taking turns with every other bulk write in arrival
    /// order, and then leaves the write lock to others for as long as the
    /// part took before the next bulk part may start. However many imports
    /// run, ordinary writes (which wait in SQLite's busy handler, polling)
    /// find the lock free at least half of the time.
    pub async fn run_bulk<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: DbFailure + Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, E> + Send + 'static,
    {
        let _turn = self
            .bulk
            .acquire()
            .await
            .map_err(|e| E::from(DbError::Task(e.to_string())))?;
        let started = std::time::Instant::now();
        let result = self.run(f).await;
        tokio::time::sleep(started.elapsed()).await;
        result
    }
}

/// Per-connection settings (journal_mode=WAL is a property of the file and is
/// set once in [`Db::open`]). `synchronous=NORMAL` under WAL keeps every
/// committed transaction across a process crash; only an OS crash or power loss
/// can drop the last few, never corrupt the file.
///
/// The WAL is checkpointed into the database by SQLite itself every 1000
/// pages (the default), and passively when the server goes idle
/// ([`Db::checkpoint`]); `journal_size_limit` truncates the WAL file back to
/// 64 MiB whenever it starts over, so a burst of writes does not leave a WAL
/// bigger than the database on disk for good (measured: 365 MiB after a soak).
fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.execute_batch(
        "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL; \
         PRAGMA journal_size_limit = 67108864;",
    )
}

/// A new primary key: a UUID v7, so keys sort by creation time.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Whether an error is a UNIQUE or PRIMARY KEY violation.
pub fn is_unique_violation(err: &rusqlite::Error) -> bool {
    matches!(
        err,
        rusqlite::Error::SqliteFailure(e, _)
            if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
    )
}

/// The current time as RFC 3339 UTC with second precision, the form every
/// `created_at` / `updated_at` column holds.
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

impl Db {
    /// A pooled connection for blocking code that already runs off the async
    /// workers (start-up, sub-commands). Async code uses [`Db::run`].
    pub fn pool_conn(&self) -> Result<r2d2::PooledConnection<SqliteConnectionManager>, DbError> {
        Ok(self.pool.get()?)
    }
}
