//! Backups of the one database file: `daehwa backup FILE` (SQLite's online
//! backup, safe while the server runs), `daehwa restore FILE` (refused while a
//! server uses the database), the server's lock that tells them apart, and the
//! scheduled daily backup an admin turns on in the settings.
//!
//! The lock is an exclusive OS lock on `<db>.lock` (`flock` on Unix,
//! `LockFileEx` on Windows) held for the server's whole life; the OS drops it
//! when the process ends, however it ends, so a crash never leaves a stale lock.

use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use serde_json::json;
use tokio::sync::Notify;

use crate::db::{self, setting, Db, DbError};
use crate::fsmode::with_suffix;

/// Setting: the daily backup is on.
pub const BACKUP_DAILY: &str = "backup_daily";
/// Setting: how many daily backups are kept (older ones are deleted).
pub const BACKUP_KEEP: &str = "backup_keep";
/// Setting: when the last scheduled backup was written (RFC 3339).
pub const BACKUP_LAST_AT: &str = "backup_last_at";
/// Setting: why the last scheduled backup failed (`null` after a success).
pub const BACKUP_LAST_ERROR: &str = "backup_last_error";
/// Kept backups when the admin did not choose.
pub const DEFAULT_KEEP: u32 = 7;
/// The most daily backups an admin may keep.
pub const MAX_KEEP: u32 = 365;
/// Scheduled backups are named `daehwa-YYYYmmddTHHMMSSZ.db`.
const SCHEDULED_PREFIX: &str = "daehwa-";
/// A scheduled backup is due this long after the previous one.
const PERIOD: Duration = Duration::from_secs(24 * 60 * 60);
/// After a failure, the next try is this much later.
const RETRY: Duration = Duration::from_secs(60 * 60);

/// Why a backup, a restore or the lock failed; the message is for an operator.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0}")]
    Refused(String),
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BackupError + '_ {
    move |source| BackupError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// The server's hold on its database; dropped (and the lock released) when
/// the server stops.
#[derive(Debug)]
pub struct DbLock {
    _file: File,
}

/// `<db>.lock`
pub fn lock_path(db: &Path) -> PathBuf {
    with_suffix(db, ".lock")
}

impl DbLock {
    /// Takes the lock, or says that another process holds it.
    pub fn acquire(db: &Path) -> Result<DbLock, BackupError> {
        let path = lock_path(db);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io(&path))?;
        match fs4::FileExt::try_lock(&file) {
            Ok(()) => Ok(DbLock { _file: file }),
            Err(fs4::TryLockError::WouldBlock) => Err(BackupError::Refused(format!(
                "a daehwa server is running on {} (it holds {}); stop it first",
                db.display(),
                path.display()
            ))),
            Err(fs4::TryLockError::Error(source)) => Err(io(&path)(source)),
        }
    }
}

/// Copies the database `db` into a new file `dest` with SQLite's online
/// backup: one read transaction, so the copy is the state of one instant
/// even while the server writes (WAL readers never block writers). The copy
/// is written beside `dest` first and renamed when complete and checked.
pub fn backup_to(db: &Path, dest: &Path) -> Result<(), BackupError> {
    if !db.is_file() {
        return Err(BackupError::Refused(format!(
            "there is no database at {}",
            db.display()
        )));
    }
    if dest.exists() {
        return Err(BackupError::Refused(format!(
            "{} already exists; choose a new file name",
            dest.display()
        )));
    }
    if let Some(dir) = dest.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(io(dir))?;
    }
    let src = Connection::open_with_flags(
        db,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    src.busy_timeout(Duration::from_secs(10))?;
    let partial = with_suffix(dest, ".partial");
    let _ = fs::remove_file(&partial);
    let result = (|| {
        // A copy of the database: owner-only like it (src/fsmode.rs).
        crate::fsmode::create_private(&partial).map_err(io(&partial))?;
        let mut dst = Connection::open(&partial)?;
        copy_all(&src, &mut dst)?;
        check(&dst)?;
        drop(dst);
        fs::rename(&partial, dest).map_err(io(dest))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&partial);
    }
    result
}

/// `PRAGMA integrity_check` and "is this a daehwa database this binary reads".
fn check(conn: &Connection) -> Result<(), BackupError> {
    let verdict: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
    if verdict != "ok" {
        return Err(BackupError::Refused(format!(
            "integrity check failed: {verdict}"
        )));
    }
    let version: u32 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let has_settings: bool = conn.query_row(
        "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'setting'",
        [],
        |r| r.get(0),
    )?;
    if version == 0 || !has_settings {
        return Err(BackupError::Refused(
            "this is not a daehwa database".to_string(),
        ));
    }
    if version > db::migrate::LATEST {
        return Err(BackupError::Refused(format!(
            "this backup has schema v{version}, newer than this daehwa (v{}); use a newer daehwa",
            db::migrate::LATEST
        )));
    }
    Ok(())
}

/// Replaces the database `db` with the backup `from`, after checking the
/// backup and while holding the server lock (so no server can be running or
/// start meanwhile). The database being replaced is first copied to
/// `<db>.pre-restore`. An older backup is upgraded when the server next starts.
pub fn restore_from(from: &Path, db: &Path) -> Result<Option<PathBuf>, BackupError> {
    let _lock = DbLock::acquire(db)?;
    if !from.is_file() {
        return Err(BackupError::Refused(format!(
            "there is no backup at {}",
            from.display()
        )));
    }
    let src = Connection::open_with_flags(
        from,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    check(&src)?;
    let saved = if db.is_file() {
        let saved = with_suffix(db, ".pre-restore");
        if saved.exists() {
            fs::remove_file(&saved).map_err(io(&saved))?;
        }
        backup_to(db, &saved)?;
        Some(saved)
    } else {
        None
    };
    let mut dst = Connection::open(db)?;
    copy_all(&src, &mut dst)?;
    // Fold the restored pages into the main file and empty any WAL.
    let _: (i64, i64, i64) = dst.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
    })?;
    check(&dst)?;
    Ok(saved)
}

/// Copies every page of `src` into `dst` in one step, so inside one read
/// transaction: the copy is the state of one instant. A writer holding a lock
/// for a moment makes it wait and try again.
fn copy_all(src: &Connection, dst: &mut Connection) -> Result<(), BackupError> {
    use rusqlite::backup::StepResult;
    let backup = rusqlite::backup::Backup::new(src, dst)?;
    for _ in 0..200 {
        match backup.step(-1)? {
            StepResult::Done => return Ok(()),
            StepResult::More | StepResult::Busy | StepResult::Locked => {
                std::thread::sleep(Duration::from_millis(50))
            }
            // The enum is non-exhaustive.
            _ => std::thread::sleep(Duration::from_millis(50)),
        }
    }
    Err(BackupError::Refused(
        "the database stayed locked for 10 s; try again".to_string(),
    ))
}

/// The daily backup: where it writes, and a bell that makes it look at the
/// settings again at once (rung when an admin changes them).
#[derive(Clone)]
pub struct Schedule {
    pub dir: PathBuf,
    wake: Arc<Notify>,
}

impl Schedule {
    /// `dir`, or `backups` beside the database.
    pub fn new(db: &Path, dir: Option<PathBuf>) -> Schedule {
        let dir = dir.unwrap_or_else(|| {
            db.parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."))
                .join("backups")
        });
        Schedule {
            dir,
            wake: Arc::new(Notify::new()),
        }
    }

    /// Makes the schedule re-read its settings now.
    pub fn nudge(&self) {
        self.wake.notify_one();
    }

    /// Runs forever: writes a backup whenever one is due, then sleeps until
    /// the next is due (at most an hour, or until nudged).
    pub async fn run(self, db: Db) {
        loop {
            let wait = match self.tick(&db).await {
                Ok(wait) => wait,
                Err(err) => {
                    log::error!("scheduled backup failed: {err}");
                    let message = err.to_string();
                    let _ = db
                        .run(move |conn| -> Result<_, crate::db::DbError> {
                            setting::put(conn, BACKUP_LAST_ERROR, &json!(message))?;
                            setting::put(conn, BACKUP_LAST_AT, &json!(db::now()))
                        })
                        .await;
                    RETRY
                }
            };
            tokio::select! {
                () = tokio::time::sleep(wait.min(RETRY)) => {}
                () = self.wake.notified() => {}
            }
        }
    }

    /// One look: a backup if one is due; how long until the next look.
    async fn tick(&self, db: &Db) -> Result<Duration, String> {
        let (enabled, keep, last) = db
            .run(|conn| settings(conn))
            .await
            .map_err(|e| e.to_string())?;
        if !enabled {
            return Ok(RETRY);
        }
        let now = chrono::Utc::now();
        if let Some(last) = last {
            let since = (now - last).to_std().unwrap_or(Duration::ZERO);
            if since < PERIOD {
                return Ok(PERIOD - since);
            }
        }
        let name = format!("{SCHEDULED_PREFIX}{}.db", now.format("%Y%m%dT%H%M%SZ"));
        let dest = self.dir.join(name);
        let source = db.path().to_path_buf();
        let written = dest.clone();
        let dir = self.dir.clone();
        let removed = tokio::task::spawn_blocking(move || {
            backup_to(&source, &written)?;
            Ok::<_, BackupError>(prune(&dir, keep))
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
        log::info!(
            "scheduled backup written to {} ({removed} old ones removed, {keep} kept)",
            dest.display()
        );
        db.run(|conn| -> Result<_, crate::db::DbError> {
            setting::put(conn, BACKUP_LAST_AT, &json!(db::now()))?;
            setting::put(conn, BACKUP_LAST_ERROR, &serde_json::Value::Null)
        })
        .await
        .map_err(|e| e.to_string())?;
        Ok(PERIOD)
    }
}

/// (daily backup on, how many kept, when the last one was written).
pub fn settings(
    conn: &Connection,
) -> Result<(bool, u32, Option<chrono::DateTime<chrono::Utc>>), DbError> {
    let enabled = setting::get(conn, BACKUP_DAILY)?
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    let keep = setting::get(conn, BACKUP_KEEP)?
        .and_then(|v| v.as_u64())
        .and_then(|v| u32::try_from(v).ok())
        .unwrap_or(DEFAULT_KEEP);
    let last = setting::get(conn, BACKUP_LAST_AT)?
        .and_then(|v| v.as_str().map(str::to_owned))
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(&s).ok())
        .map(|t| t.with_timezone(&chrono::Utc));
    Ok((enabled, keep, last))
}

/// Deletes the oldest scheduled backups in `dir` beyond `keep`; returns how
/// many were deleted. Only files named like scheduled backups are touched.
pub fn prune(dir: &Path, keep: u32) -> usize {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.starts_with(SCHEDULED_PREFIX) && n.ends_with(".db"))
        .collect();
    // The timestamp in the name sorts by time.
    names.sort();
    let excess = names.len().saturating_sub(keep as usize);
    let mut removed = 0;
    for name in &names[..excess] {
        match fs::remove_file(dir.join(name)) {
            Ok(()) => removed += 1,
            Err(err) => log::warn!("could not remove old backup {name}: {err}"),
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_of_the_lock_is_refused_until_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("x.db");
        let first = DbLock::acquire(&db).unwrap();
        let err = DbLock::acquire(&db).unwrap_err().to_string();
        assert!(err.contains("running"), "{err}");
        drop(first);
        DbLock::acquire(&db).unwrap();
    }

    #[test]
    fn pruning_keeps_the_newest_scheduled_backups_and_nothing_else_is_touched() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "daehwa-20250101T000000Z.db",
            "daehwa-20250102T000000Z.db",
            "daehwa-20250103T000000Z.db",
            "mine.db",
        ] {
            fs::write(dir.path().join(name), b"x").unwrap();
        }
        assert_eq!(prune(dir.path(), 2), 1);
        let mut left: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                "daehwa-20250102T000000Z.db",
                "daehwa-20250103T000000Z.db",
                "mine.db"
            ]
        );
    }

    #[test]
    fn a_backup_never_overwrites_and_a_restore_refuses_what_is_not_daehwa() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("d.db");
        Db::open(&db).unwrap();
        let copy = dir.path().join("copy.db");
        backup_to(&db, &copy).unwrap();
        assert!(backup_to(&db, &copy)
            .unwrap_err()
            .to_string()
            .contains("exists"));
        let other = dir.path().join("other.db");
        Connection::open(&other)
            .unwrap()
            .execute_batch("CREATE TABLE t (x)")
            .unwrap();
        let err = restore_from(&other, &db).unwrap_err().to_string();
        assert!(err.contains("not a daehwa database"), "{err}");
        restore_from(&copy, &db).unwrap();
    }
}
