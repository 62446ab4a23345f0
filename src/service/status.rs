//! What an operator looks at: whether the database can be read (and
//! written, while the disk is full), the size of the database and the free
//! space beside it, each connection's newest failure, and row counts.

use std::path::{Path, PathBuf};

use super::{Error, Result};
use crate::db::stats::{self, ConnectionHealth, Counts};
use crate::db::Db;

/// What the health check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    Ok,
    /// Writes fail for lack of disk space.
    DiskFull,
    /// The database cannot be read.
    Unavailable,
}

/// Reads the schema's own table; while writes fail for lack of space, also
/// tries one small write, so the state clears as soon as space is freed.
pub async fn health(db: &Db) -> Health {
    let full = db.disk_full();
    match db.run(move |conn| stats::probe(conn, full)).await {
        Ok(()) => Health::Ok,
        Err(err) if err.is_disk_full() => Health::DiskFull,
        Err(err) => {
            log::warn!("health check: the database cannot be read: {err}");
            Health::Unavailable
        }
    }
}

/// The database file plus its WAL, and the free space on its disk.
#[derive(Debug, Clone, Copy)]
pub struct Storage {
    pub database_bytes: u64,
    pub free_disk_bytes: Option<u64>,
}

/// Measures [`Storage`] on a blocking thread.
pub async fn storage(db: &Db) -> Result<Storage> {
    let path = db.path().to_path_buf();
    tokio::task::spawn_blocking(move || Storage {
        database_bytes: database_bytes(&path),
        free_disk_bytes: free_disk_bytes(&path),
    })
    .await
    .map_err(|e| Error::Internal(e.to_string()))
}

/// Each connection with its newest failure, and the storage.
pub async fn report(db: &Db) -> Result<(Vec<ConnectionHealth>, Storage)> {
    let connections = db.run(|conn| stats::connection_errors(conn)).await?;
    Ok((connections, storage(db).await?))
}

/// Rows of the main tables, and the storage (the metrics).
pub async fn counts(db: &Db) -> Result<(Counts, Storage)> {
    let counts = db.run(|conn| stats::counts(conn)).await?;
    Ok((counts, storage(db).await?))
}

/// The database file plus its WAL, in bytes.
fn database_bytes(db: &Path) -> u64 {
    [db.to_path_buf(), crate::fsmode::with_suffix(db, "-wal")]
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum()
}

/// Free space on the disk holding the database (None when unknown).
pub fn free_disk_bytes(db: &Path) -> Option<u64> {
    let dir = db
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs4::available_space(dir).ok()
}

/// Below this much free space on the database's disk the log warns.
pub const LOW_DISK_BYTES: u64 = 1024 * 1024 * 1024;

/// Looks at the free space on the database's disk every minute and warns in
/// the log when it falls below [`LOW_DISK_BYTES`] (once, and once more
/// when it recovers), before SQLite runs out and writes start failing.
pub async fn watch_disk_space(db: PathBuf) {
    let mut low = false;
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
    loop {
        tick.tick().await;
        let path = db.clone();
        let Ok(Some(free)) = tokio::task::spawn_blocking(move || free_disk_bytes(&path)).await
        else {
            continue;
        };
        if free < LOW_DISK_BYTES && !low {
            log::warn!(
                "only {} MiB free on the disk holding {}; when it is full nothing new can be saved",
                free / (1024 * 1024),
                db.display()
            );
        } else if free >= LOW_DISK_BYTES && low {
            log::info!(
                "{} MiB free again on the database's disk",
                free / (1024 * 1024)
            );
        }
        low = free < LOW_DISK_BYTES;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_size_counts_the_file_and_its_wal() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("d.db");
        assert_eq!(database_bytes(&db), 0);
        std::fs::write(&db, [0u8; 10]).unwrap();
        std::fs::write(dir.path().join("d.db-wal"), [0u8; 5]).unwrap();
        assert_eq!(database_bytes(&db), 15);
        assert!(free_disk_bytes(&db).is_some());
    }
}
