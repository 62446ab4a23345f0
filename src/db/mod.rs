//! SQLite access. One [`Db`] holds an r2d2 pool; [`Db::run`] runs a closure with
//! a pooled connection on a blocking thread, so no query ever runs on an async
//! worker. Pragmas are set per connection; the schema is applied or upgraded by
//! [`migrate`] before the pool opens. No SQL lives outside this module.

pub mod audit;
pub mod collector;
pub mod compat;
pub mod connection;
pub mod conversation;
pub mod file;
pub mod folder;
pub mod group;
pub mod import;
pub mod import_tree;
pub mod migrate;
pub mod plan;
pub mod prompt;
pub mod retention;
pub mod search;
mod searches;
pub mod setting;
pub mod share;
pub mod stats;
mod template;
mod together;
pub mod token;
pub mod user;

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::Connection;

/// How long a connection waits for SQLite's write lock before `SQLITE_BUSY`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a connection sleeps between tries for the lock ([`wait_for_lock`]).
const BUSY_POLL: Duration = Duration::from_millis(1);

/// One [`Db::run`] call as its blocking thread runs it: given a connection
/// (or why there is none), it runs the caller's closure, sends its result
/// back, and tells whether it failed for a full disk (`None`: it did not fail).
type Call = Box<dyn for<'c> FnOnce(Result<&'c mut Connection, DbError>) -> Option<bool> + Send>;
/// Connections kept in the pool: reads run in parallel under WAL.
const POOL_SIZE: u32 = 16;
/// Prepared statements kept per connection (each a few KiB).
const STATEMENT_CACHE: usize = 64;

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

    /// The same error again, for each of several callers that one failure
    /// failed together (a batch of writes): what callers look at, SQLite's
    /// code (disk full, busy) and the message, is kept.
    pub fn copy(&self) -> DbError {
        match self {
            DbError::Sqlite(rusqlite::Error::SqliteFailure(code, message)) => {
                DbError::Sqlite(rusqlite::Error::SqliteFailure(*code, message.clone()))
            }
            DbError::Task(message) => DbError::Task(message.clone()),
            DbError::Conflict(message) => DbError::Conflict(message.clone()),
            other => DbError::Task(other.to_string()),
        }
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

/// Opens the pool's connections; the first one it is asked for is the
/// connection [`Db::open`] migrated with, already configured.
pub struct Manager {
    files: SqliteConnectionManager,
    first: std::sync::Mutex<Option<Connection>>,
}

impl r2d2::ManageConnection for Manager {
    type Connection = Connection;
    type Error = rusqlite::Error;

    fn connect(&self) -> Result<Connection, rusqlite::Error> {
        let first = self.first.lock().unwrap_or_else(|e| e.into_inner()).take();
        match first {
            Some(conn) => Ok(conn),
            None => self.files.connect(),
        }
    }

    fn is_valid(&self, conn: &mut Connection) -> Result<(), rusqlite::Error> {
        self.files.is_valid(conn)
    }

    fn has_broken(&self, conn: &mut Connection) -> bool {
        self.files.has_broken(conn)
    }
}

/// The database: a pool of connections to one SQLite file.
#[derive(Clone)]
pub struct Db {
    pool: r2d2::Pool<Manager>,
    path: PathBuf,
    disk: Arc<DiskState>,
    /// Whose turn it is among bulk writes ([`Db::run_bulk`]); FIFO.
    bulk: Arc<tokio::sync::Semaphore>,
    /// Bumped after every committed write to the tables that say who may
    /// call (see [`watch_auth_tables`]); the authentication cache follows it.
    auth_generation: Arc<AtomicU64>,
    /// The writes waiting for the next batch ([`Db::write_together`]).
    together: Arc<std::sync::Mutex<together::Queue>>,
    /// Whose turn it is among keyword searches ([`Db::run_search`]).
    searches: Arc<searches::Searches>,
}

thread_local! {
    /// Set by the auth tables' triggers on the thread that wrote them; read
    /// (and cleared) by [`Db::run`] once the closure, and so its
    /// transaction, has ended.
    static AUTH_WRITTEN: Cell<bool> = const { Cell::new(false) };
}

/// Temporary triggers (this connection only; nothing in the file) that
/// call `daehwa_auth_changed()` whenever a row that authentication reads
/// changes: a user (role, status, password epoch, deletion), a key's
/// revocation or expiry, a sign-in session's use or revocation.
const AUTH_TRIGGERS: &str = "
CREATE TEMP TRIGGER auth_user_update AFTER UPDATE ON main.user
BEGIN SELECT daehwa_auth_changed(); END;
CREATE TEMP TRIGGER auth_user_delete AFTER DELETE ON main.user
BEGIN SELECT daehwa_auth_changed(); END;
CREATE TEMP TRIGGER auth_key_update
AFTER UPDATE OF revoked_at, expires_at, user_id, key_hash ON main.api_key
BEGIN SELECT daehwa_auth_changed(); END;
CREATE TEMP TRIGGER auth_key_delete AFTER DELETE ON main.api_key
BEGIN SELECT daehwa_auth_changed(); END;
CREATE TEMP TRIGGER auth_session_update AFTER UPDATE ON main.refresh_token
BEGIN SELECT daehwa_auth_changed(); END;
CREATE TEMP TRIGGER auth_session_delete AFTER DELETE ON main.refresh_token
BEGIN SELECT daehwa_auth_changed(); END;
";

/// Makes `conn` report writes to the auth tables: the counter moves at
/// once (before the commit, for writes made outside [`Db::run`]) and again
/// after the closure that wrote returns (after the commit; see
/// `auth::cache` for why both).
fn watch_auth_tables(conn: &Connection, generation: Arc<AtomicU64>) -> rusqlite::Result<()> {
    conn.create_scalar_function(
        "daehwa_auth_changed",
        0,
        // Not DIRECTONLY: triggers call it. Harmless wherever it is called:
        // it only makes the cache read again.
        rusqlite::functions::FunctionFlags::SQLITE_UTF8,
        move |_| {
            generation.fetch_add(1, Ordering::AcqRel);
            AUTH_WRITTEN.set(true);
            Ok(0i64)
        },
    )?;
    conn.execute_batch(AUTH_TRIGGERS)
}

impl Db {
    /// Opens (creating if needed) the database file, applies or upgrades the
    /// schema, and opens the pool. Blocking: call it from a blocking context.
    pub fn open(path: &Path) -> Result<Db, DbError> {
        // A new file is a copy of the schema's result (see `template`).
        let from_template = template::install(path).unwrap_or_else(|err| {
            log::debug!("no template for {}: {err}", path.display());
            false
        });
        // Provider keys and the token secret live here: owner-only.
        if let Err(err) = crate::fsmode::secure_database(path) {
            log::warn!("cannot make {} owner-only: {err}", path.display());
        }
        // A new file is made in WAL mode from the start: the schema is then
        // written without the rollback journal's syncs. (An existing file is
        // switched only after it passed the version check below.)
        let new_file = std::fs::metadata(path).map_or(true, |m| m.len() == 0);
        let mut conn = Connection::open(path)?;
        configure(&conn)?;
        if new_file {
            conn.pragma_update(None, "journal_mode", "WAL")?;
        }
        // Migrate first: a file this binary refuses must stay byte for byte as
        // it was, and switching to WAL rewrites its header.
        let outcome = migrate::migrate(&mut conn, Some(path))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        match (outcome, from_template) {
            (migrate::Outcome::Created { version }, _)
            | (migrate::Outcome::Current { version }, true) => {
                log::info!("created database {} (schema v{version})", path.display())
            }
            (migrate::Outcome::Upgraded { from, to }, _) => {
                log::info!("upgraded database {} from v{from} to v{to}", path.display())
            }
            (migrate::Outcome::Current { .. }, false) => {}
        }

        let auth_generation = Arc::new(AtomicU64::new(0));
        watch_auth_tables(&conn, auth_generation.clone())?;
        let generation = auth_generation.clone();
        let manager = Manager {
            files: SqliteConnectionManager::file(path).with_init(move |c| {
                configure(c)?;
                watch_auth_tables(c, generation.clone())
            }),
            // This connection has read the schema already: it becomes the
            // pool's first, so a cold start parses the schema once.
            first: std::sync::Mutex::new(Some(conn)),
        };
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
            auth_generation,
            together: Arc::default(),
            searches: Arc::default(),
        })
    }

    /// The counter of writes to the auth tables (see [`AUTH_TRIGGERS`]).
    pub fn auth_generation(&self) -> Arc<AtomicU64> {
        self.auth_generation.clone()
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
        // `f` is boxed behind one closure type, so tokio's blocking task and
        // the connection handling around it exist once in the binary, not
        // once per call site (several hundred: 0.8 MB of machine code).
        let (reply, answer) = tokio::sync::oneshot::channel();
        let call: Call = Box::new(move |conn| {
            let result = conn.map_err(E::from).and_then(f);
            let failed = result.as_ref().err().map(DbFailure::is_disk_full);
            let _ = reply.send(result);
            failed
        });
        if let Err(e) = self.spawn_call(call).await {
            return Err(E::from(DbError::Task(e.to_string())));
        }
        answer
            .await
            .unwrap_or_else(|_| Err(E::from(DbError::Task("the database call ended".into()))))
    }

    /// Runs `call` on a blocking thread with a pooled connection (or the
    /// pool's error): [`Db::run`]'s part that does not depend on its types.
    fn spawn_call(&self, call: Call) -> tokio::task::JoinHandle<()> {
        let pool = self.pool.clone();
        let disk = self.disk.clone();
        let auth_generation = self.auth_generation.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = match pool.get() {
                Ok(conn) => conn,
                Err(e) => {
                    call(Err(DbError::from(e)));
                    return;
                }
            };
            let changes = conn.total_changes();
            AUTH_WRITTEN.set(false);
            let failed = call(Ok(&mut conn));
            // The closure's transaction has ended: whoever reads from now on
            // sees the write, so what was read before it goes stale.
            if AUTH_WRITTEN.replace(false) {
                auth_generation.fetch_add(1, Ordering::AcqRel);
            }
            disk.saw(failed, conn.total_changes() > changes);
        })
    }

    /// Runs `f` like [`Db::run`]; for a keyword search (`searcher`: whose
    /// search it is), when its turn comes (src/db/searches.rs): a few run at
    /// once, the others wait without a thread or a connection, and one
    /// user's many searches do not keep another's waiting.
    pub async fn run_search<T, E, F>(&self, searcher: Option<&str>, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: DbFailure + Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, E> + Send + 'static,
    {
        let Some(user_id) = searcher else {
            return self.run(f).await;
        };
        let turn = self.searches.turn(user_id).await.map_err(E::from)?;
        // The turn ends with the search, not with the request: a client that
        // goes away does not free a place while its search still runs.
        self.run(move |conn| {
            let _turn = turn;
            f(conn)
        })
        .await
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
    conn.busy_handler(Some(wait_for_lock))?;
    // The schema's search triggers call it whenever a message is written.
    search::grams::register(conn)?;
    // Every query goes through `prepare_cached`; rusqlite keeps 16 by
    // default, fewer than one request's mix of statements, so they would be
    // parsed again and again (a third of a list request's time, measured).
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    conn.execute_batch(
        "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL; \
         PRAGMA journal_size_limit = 67108864;",
    )
}

thread_local! {
    /// When this thread's connection first found the lock taken, for the
    /// wait it is in ([`wait_for_lock`]; a connection is used by one thread
    /// at a time, and its tries for one lock follow each other on it).
    static BUSY_SINCE: Cell<Option<std::time::Instant>> = const { Cell::new(None) };
}

/// SQLite's busy handler: called with the number of tries so far when the
/// lock a statement needs is taken; `true` tries again. It sleeps
/// [`BUSY_POLL`] between tries, for [`BUSY_TIMEOUT`] in all. SQLite's own
/// handler (`busy_timeout`) sleeps 1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50
/// and then 100 ms: a writer that found the write lock taken slept on for up
/// to 100 ms after it was free, while under load the lock changes hands every
/// few milliseconds.
fn wait_for_lock(tries: i32) -> bool {
    let now = std::time::Instant::now();
    let since = match BUSY_SINCE.get() {
        Some(since) if tries > 0 => since,
        _ => {
            BUSY_SINCE.set(Some(now));
            now
        }
    };
    if now.duration_since(since) >= BUSY_TIMEOUT {
        return false;
    }
    std::thread::sleep(BUSY_POLL);
    true
}

/// Runs `read` in one snapshot: a read transaction of its own, or the
/// caller's when one is open already (then that one is the snapshot).
pub(crate) fn in_snapshot<T>(
    conn: &Connection,
    read: impl FnOnce() -> Result<T, DbError>,
) -> Result<T, DbError> {
    let tx = if conn.is_autocommit() {
        Some(conn.unchecked_transaction()?)
    } else {
        None
    };
    let out = read()?;
    if let Some(tx) = tx {
        tx.commit()?;
    }
    Ok(out)
}

/// `sql` with its `:limit` (and `:offset`) placeholders replaced by the
/// numbers. SQLite takes a bound LIMIT into the query plan, so a statement
/// with one is compiled again every time it runs (see the test below); a
/// number in the text is not, and each page size is one cached statement.
pub(crate) fn with_limit(sql: &str, limit: u32, offset: Option<u32>) -> String {
    let sql = sql.replacen(":limit", &limit.to_string(), 1);
    match offset {
        Some(offset) => sql.replacen(":offset", &offset.to_string(), 1),
        None => sql,
    }
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
    pub fn pool_conn(&self) -> Result<r2d2::PooledConnection<Manager>, DbError> {
        Ok(self.pool.get()?)
    }
}

/// A fresh database file (the schema applied, foreign keys on) with one
/// user, `alice`: the directory holding it, a connection, the user's id.
#[cfg(test)]
pub(crate) fn test_db() -> (tempfile::TempDir, Connection, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = Connection::open(dir.path().join("daehwa.db")).unwrap();
    conn.execute_batch("PRAGMA foreign_keys = ON").unwrap();
    migrate::migrate(&mut conn, None).unwrap();
    let user_id = new_id();
    conn.execute(
        "INSERT INTO user (id, username, display_name, role, status, created_at, updated_at)
         VALUES (?1, 'alice', 'Alice', 'user', 'active', 'x', 'x')",
        [&user_id],
    )
    .unwrap();
    (dir, conn, user_id)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use rusqlite::{Connection, StatementStatus};

    use super::{Db, DbError};

    /// The bundled SQLite is built with `.cargo/config.toml`'s
    /// `LIBSQLITE3_FLAGS` (issue 19): no global memory statistics, a page
    /// cache per connection, statement journals in memory up to 96 KiB, and
    /// page caches that allocate their pages one by one.
    #[test]
    fn sqlite_is_built_with_the_flags_of_the_cargo_config() {
        let conn = Connection::open_in_memory().unwrap();
        let options: Vec<String> = conn
            .prepare("PRAGMA compile_options")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(
            options.iter().any(|o| o == "DEFAULT_MEMSTATUS=0"),
            "{options:?}"
        );
        assert!(
            !options.iter().any(|o| o == "ENABLE_MEMORY_MANAGEMENT"),
            "{options:?}"
        );
        assert!(
            options.iter().any(|o| o == "STMTJRNL_SPILL=98304"),
            "{options:?}"
        );
        assert!(
            options.iter().any(|o| o == "DEFAULT_PCACHE_INITSZ=0"),
            "{options:?}"
        );
    }

    /// A write that finds the write lock taken waits for it and is written
    /// once it is free; a wait gives up after the timeout, and the next
    /// wait starts its own count.
    #[test]
    fn a_writer_waits_for_the_lock_and_gives_up_only_after_the_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let holder = Connection::open(&path).unwrap();
        holder
            .execute_batch(
                "PRAGMA journal_mode = WAL; CREATE TABLE t (x);
                 BEGIN IMMEDIATE; INSERT INTO t VALUES (1);",
            )
            .unwrap();
        let waiter = std::thread::spawn({
            let path = path.clone();
            move || {
                let conn = Connection::open(&path).unwrap();
                super::configure(&conn).unwrap();
                conn.execute("INSERT INTO t VALUES (2)", [])
            }
        });
        std::thread::sleep(std::time::Duration::from_millis(50));
        holder.execute_batch("COMMIT").unwrap();
        assert_eq!(waiter.join().unwrap().unwrap(), 1);
        let rows: i64 = holder
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 2);

        let long_ago = std::time::Instant::now()
            .checked_sub(super::BUSY_TIMEOUT)
            .unwrap();
        super::BUSY_SINCE.set(Some(long_ago));
        assert!(!super::wait_for_lock(7), "waited the whole timeout");
        assert!(super::wait_for_lock(0), "a new wait");
        assert!(super::wait_for_lock(1));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn run_answers_each_closure_with_its_own_result_error_or_panic() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("t.db")).unwrap();
        // Many calls of different result types at once, each its own answer.
        let numbers = (0..64).map(|n: i64| {
            let db = db.clone();
            tokio::spawn(async move {
                db.run(move |conn| -> Result<i64, DbError> {
                    Ok(conn.query_row("SELECT ?1 * 2", [n], |r| r.get(0))?)
                })
                .await
            })
        });
        for (n, answer) in futures_util::future::join_all(numbers)
            .await
            .into_iter()
            .enumerate()
        {
            assert_eq!(answer.unwrap().unwrap(), n as i64 * 2);
        }
        let text = db
            .run(|conn| -> Result<String, DbError> {
                Ok(conn.query_row("SELECT 'x' || 'y'", [], |r| r.get(0))?)
            })
            .await
            .unwrap();
        assert_eq!(text, "xy");
        // The closure's own error comes back as it is.
        let err = db
            .run(|conn| -> Result<(), DbError> { Ok(conn.execute_batch("SELECT * FROM nowhere")?) })
            .await
            .unwrap_err();
        assert!(err.to_string().contains("nowhere"), "{err}");
        // A panic is an error of that call, with the panic's message; the
        // connection goes back and the next call works.
        let err = db
            .run(|_conn| -> Result<(), DbError> { panic!("boom in a closure") })
            .await
            .unwrap_err();
        assert!(
            matches!(&err, DbError::Task(m) if m.contains("boom in a closure")),
            "{err}"
        );
        // A change of an account makes what was read of accounts stale: once
        // when it is written (the trigger), again once it is committed.
        db.run(|conn| -> Result<usize, DbError> {
            Ok(conn.execute(
                "INSERT INTO user (id, username, display_name, role, status, created_at, updated_at)
                 VALUES ('u1', 'bora', 'Bora', 'user', 'active', 'x', 'x')",
                [],
            )?)
        })
        .await
        .unwrap();
        let before = db.auth_generation().load(Ordering::Acquire);
        db.run(|conn| -> Result<usize, DbError> {
            Ok(conn.execute("UPDATE user SET role = 'admin' WHERE id = 'u1'", [])?)
        })
        .await
        .unwrap();
        assert_eq!(db.auth_generation().load(Ordering::Acquire), before + 2);
    }

    /// How often SQLite compiled `sql` again when it ran twice with
    /// different values bound to `?1`.
    fn reprepared(conn: &Connection, sql: &str) -> i32 {
        let mut stmt = conn.prepare_cached(sql).unwrap();
        for value in [1, 2] {
            let _: Vec<i64> = stmt
                .query_map([value], |r| r.get(0))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
        }
        stmt.get_status(StatementStatus::RePrepare)
    }

    #[test]
    fn a_bound_limit_makes_sqlite_compile_the_statement_on_every_run() {
        // Why the lists put their LIMIT in the SQL text: SQLite takes a bound
        // LIMIT into the plan and so compiles the statement again whenever
        // the value is bound anew (measured: a third of a list request).
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (a INTEGER); INSERT INTO t VALUES (1), (2), (3);")
            .unwrap();
        assert!(reprepared(&conn, "SELECT a FROM t ORDER BY a LIMIT ?1") > 0);
        assert_eq!(
            reprepared(&conn, "SELECT a FROM t WHERE a > ?1 ORDER BY a LIMIT 50"),
            0
        );
    }

    #[test]
    fn a_copied_error_is_the_same_kind_of_error() {
        use super::DbError;
        let full = DbError::Sqlite(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL),
            Some("database or disk is full".into()),
        ));
        assert!(full.is_disk_full());
        assert!(full.copy().is_disk_full());
        assert_eq!(full.copy().to_string(), full.to_string());
        let busy = DbError::Sqlite(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
            None,
        ));
        assert!(busy.copy().is_busy());
        let other = DbError::Task("the pool is closed".into());
        assert_eq!(other.copy().to_string(), other.to_string());
    }
}
