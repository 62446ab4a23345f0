//! Schema versions through `PRAGMA user_version`.
//!
//! A new (or empty, version-0) file gets `schema.sql`; an older file is upgraded
//! one step at a time, each step in one `BEGIN IMMEDIATE` transaction with its
//! version bump, after an online backup beside the file (`<db>.pre-v<N>`, the
//! last three kept) so an upgrade can always be undone. A file newer than this
//! binary, or a non-empty file that is not a daehwa database, is refused and left
//! untouched.

use std::fs;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, TransactionBehavior, MAIN_DB};

/// The whole current schema, for new files.
pub const SCHEMA: &str = include_str!("../../schema.sql");
/// The schema version this binary writes and understands.
pub const LATEST: u32 = 10;
/// Upgrade steps: `Migration { version: N, .. }` turns a version N-1 file into N.
/// Each step's SQL lives in `src/db/migrations/` and is frozen once shipped.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 2,
        sql: include_str!("migrations/0002_search.sql"),
    },
    Migration {
        version: 3,
        sql: include_str!("migrations/0003_compat.sql"),
    },
    Migration {
        version: 4,
        sql: include_str!("migrations/0004_workspace.sql"),
    },
    Migration {
        version: 5,
        sql: include_str!("migrations/0005_import.sql"),
    },
    Migration {
        version: 6,
        sql: include_str!("migrations/0006_feedback_reasons.sql"),
    },
    Migration {
        version: 7,
        sql: include_str!("migrations/0007_files.sql"),
    },
    Migration {
        version: 8,
        sql: include_str!("migrations/0008_organize.sql"),
    },
    Migration {
        version: 9,
        sql: include_str!("migrations/0009_directory.sql"),
    },
    Migration {
        version: 10,
        sql: include_str!("migrations/0010_grams.sql"),
    },
];
/// Pre-migration backups kept beside the database.
const BACKUPS_KEPT: usize = 3;

/// One upgrade step.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: u32,
    pub sql: &'static str,
}

/// What [`migrate`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Created { version: u32 },
    Upgraded { from: u32, to: u32 },
    Current { version: u32 },
}

/// Why the schema could not be made current.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error(
        "the database was written by a newer daehwa (schema v{found}; this binary knows up to \
         v{supported}). Upgrade daehwa, or restore a backup; the file was not changed"
    )]
    TooNew { found: u32, supported: u32 },
    #[error(
        "the file has tables but no daehwa schema version: it is not a daehwa database \
         (choose another --db file); the file was not changed"
    )]
    NotDaehwa,
    #[error("no upgrade step from schema v{0} to v{1}")]
    MissingStep(u32, u32),
    #[error("backup before upgrading failed: {0}")]
    Backup(String),
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

/// Brings `conn` to [`LATEST`]. `path` is the database file, used for the
/// pre-upgrade backup (`None` for an in-memory database).
pub fn migrate(conn: &mut Connection, path: Option<&Path>) -> Result<Outcome, MigrateError> {
    migrate_to(conn, path, LATEST, SCHEMA, MIGRATIONS)
}

/// [`migrate`] with the schema and steps as parameters, so tests can run the
/// upgrade machinery with steps of their own.
pub fn migrate_to(
    conn: &mut Connection,
    path: Option<&Path>,
    latest: u32,
    schema: &str,
    steps: &[Migration],
) -> Result<Outcome, MigrateError> {
    // Whatever opened `conn`, it can write messages once migrated (the
    // search triggers call it).
    crate::db::search::grams::register(conn)?;
    let found: u32 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    if found > latest {
        return Err(MigrateError::TooNew {
            found,
            supported: latest,
        });
    }
    if found == latest {
        return Ok(Outcome::Current { version: found });
    }
    if found == 0 {
        let tables: i64 = conn.query_row(
            "SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'",
            [],
            |row| row.get(0),
        )?;
        if tables > 0 {
            return Err(MigrateError::NotDaehwa);
        }
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch(schema)?;
        tx.pragma_update(None, "user_version", latest)?;
        tx.commit()?;
        return Ok(Outcome::Created { version: latest });
    }

    for version in found + 1..=latest {
        if !steps.iter().any(|s| s.version == version) {
            return Err(MigrateError::MissingStep(version - 1, version));
        }
    }
    if let Some(path) = path {
        backup_before(conn, path, latest)?;
    }
    for step in steps
        .iter()
        .filter(|s| s.version > found && s.version <= latest)
    {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch(step.sql)?;
        tx.pragma_update(None, "user_version", step.version)?;
        tx.commit()?;
    }
    Ok(Outcome::Upgraded {
        from: found,
        to: latest,
    })
}

/// Writes `<db>.pre-v<target>` with SQLite's online backup and prunes older ones.
fn backup_before(conn: &Connection, path: &Path, target: u32) -> Result<(), MigrateError> {
    let backup = backup_path(path, target);
    if backup.exists() {
        fs::remove_file(&backup).map_err(|e| MigrateError::Backup(e.to_string()))?;
    }
    crate::fsmode::create_private(&backup)
        .map_err(|e| MigrateError::Backup(format!("{}: {e}", backup.display())))?;
    conn.backup(MAIN_DB, &backup, None)
        .map_err(|e| MigrateError::Backup(format!("{}: {e}", backup.display())))?;
    log::info!("wrote {} before upgrading the schema", backup.display());

    let mut existing = list_backups(path);
    existing.sort_by_key(|(version, _)| std::cmp::Reverse(*version));
    for (_, old) in existing.into_iter().skip(BACKUPS_KEPT) {
        if let Err(err) = fs::remove_file(&old) {
            log::warn!("could not remove old backup {}: {err}", old.display());
        }
    }
    Ok(())
}

/// `daehwa.db` → `daehwa.db.pre-v<version>`.
pub fn backup_path(db: &Path, version: u32) -> PathBuf {
    let mut name = db.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".pre-v{version}"));
    db.with_file_name(name)
}

/// The pre-migration backups beside `db`, with their versions.
pub fn list_backups(db: &Path) -> Vec<(u32, PathBuf)> {
    let Some(name) = db.file_name().and_then(|n| n.to_str()) else {
        return Vec::new();
    };
    let prefix = format!("{name}.pre-v");
    let dir = match db.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) => dir.to_path_buf(),
        None => PathBuf::from("."),
    };
    let Ok(entries) = fs::read_dir(&dir) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let file = entry.file_name();
            let version = file.to_str()?.strip_prefix(&prefix)?.parse().ok()?;
            Some((version, entry.path()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Schema v1 as first shipped.
    const SCHEMA_V1: &str = include_str!("migrations/schema_v1.sql");

    /// A v1 file upgraded by every step has exactly the schema of a new
    /// file (same objects, same SQL), and its rows are found by the new search.
    #[test]
    fn every_step_from_v1_gives_the_schema_of_a_new_file_and_keeps_search_working() {
        let mut fresh = Connection::open_in_memory().unwrap();
        migrate(&mut fresh, None).unwrap();

        let mut old = Connection::open_in_memory().unwrap();
        old.execute_batch(SCHEMA_V1).unwrap();
        old.pragma_update(None, "user_version", 1).unwrap();
        old.execute_batch(
            "INSERT INTO user (id, username, display_name, role, status, created_at, updated_at)
                  VALUES ('u', 'u', 'u', 'user', 'active', 'x', 'x');
             INSERT INTO conversation (id, user_id, title, created_at, updated_at)
                  VALUES ('c1', 'u', '강아지 산책', '2026-01-01', '2026-01-01'),
                         ('c2', 'u', '', '2026-01-02', '2026-01-02');
             INSERT INTO message (id, conversation_id, parent_id, idx, role, content, status, created_at, updated_at)
                  VALUES ('m1', 'c2', NULL, 1, 'user', '우리 고양이가 설사를 해요', 'complete', 'x', 'x'),
                         ('m2', 'c2', 'm1', 2, 'assistant', '낙타', 'streaming', 'x', 'x');",
        )
        .unwrap();
        let outcome = migrate(&mut old, None).unwrap();
        assert_eq!(
            outcome,
            Outcome::Upgraded {
                from: 1,
                to: LATEST
            }
        );
        assert_eq!(schema_of(&old), schema_of(&fresh));

        let find = |q: &str| -> Vec<i64> {
            let filter = crate::db::conversation::ListFilter {
                keywords: vec![q.into()],
                limit: 10,
                ..Default::default()
            };
            crate::db::search::matching(&old, "u", &filter).unwrap()
        };
        assert_eq!(find("강아지").len(), 1, "a title from before the upgrade");
        assert_eq!(
            find("설사").len(),
            1,
            "a two-character keyword in an old message"
        );
        assert_eq!(find("고양이가").len(), 1);
        assert!(find("낙타").is_empty(), "a streaming answer stays out");
        // A row indexed before v10 (its grams made by the SQL of v2) is
        // deleted through `daehwa_grams()`: none of its tokens is left.
        let docs = |token: &str| -> i64 {
            old.query_row(
                "SELECT count(*) FROM search_bigram WHERE search_bigram MATCH ?1",
                [format!("\"{token}\"")],
                |row| row.get(0),
            )
            .unwrap()
        };
        assert_eq!(docs("설사"), 1);
        old.execute(
            "UPDATE message SET content = '고양이가 잘 놀아요' WHERE id = 'm1'",
            [],
        )
        .unwrap();
        assert_eq!(
            [
                docs("설사"),
                docs("사를"),
                docs("설"),
                docs("놀아"),
                docs("잘")
            ],
            [0, 0, 0, 1, 1]
        );
        for table in ["search_trigram", "search_bigram"] {
            old.execute(
                &format!("INSERT INTO {table} ({table}) VALUES ('integrity-check')"),
                [],
            )
            .unwrap();
        }
    }

    /// Every table, index and trigger with its SQL, for comparing schemas.
    fn schema_of(conn: &Connection) -> Vec<(String, String, Option<String>)> {
        let mut stmt = conn
            .prepare("SELECT type, name, sql FROM sqlite_master ORDER BY type, name")
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    fn version_of(conn: &Connection) -> u32 {
        conn.pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn an_empty_database_gets_the_whole_schema_and_the_latest_version() {
        let mut conn = Connection::open_in_memory().unwrap();
        let outcome = migrate(&mut conn, None).unwrap();
        assert_eq!(outcome, Outcome::Created { version: LATEST });
        assert_eq!(version_of(&conn), LATEST);
        assert!(schema_of(&conn)
            .iter()
            .any(|(_, name, _)| name == "setting"));
        assert_eq!(
            migrate(&mut conn, None).unwrap(),
            Outcome::Current { version: LATEST }
        );
    }

    const STEP_2: Migration = Migration {
        version: 2,
        sql: "CREATE TABLE note (id TEXT PRIMARY KEY NOT NULL, body TEXT NOT NULL) STRICT;",
    };
    const STEP_3: Migration = Migration {
        version: 3,
        sql: "ALTER TABLE note ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0;",
    };
    const BROKEN_STEP_3: Migration = Migration {
        version: 3,
        sql: "ALTER TABLE missing_table ADD COLUMN x INTEGER;",
    };

    #[test]
    fn an_older_file_is_upgraded_step_by_step_after_a_backup_and_keeps_its_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("daehwa.db");
        let mut conn = Connection::open(&path).unwrap();
        // A file as a (pretend) v2 binary wrote it, with a row in the v2 table.
        conn.execute_batch(SCHEMA).unwrap();
        conn.execute_batch(STEP_2.sql).unwrap();
        conn.pragma_update(None, "user_version", 2).unwrap();
        conn.execute(
            "INSERT INTO note (id, body) VALUES ('n1', '강아지가 짖는다')",
            [],
        )
        .unwrap();

        let outcome = migrate_to(&mut conn, Some(&path), 3, SCHEMA, &[STEP_2, STEP_3]).unwrap();
        assert_eq!(outcome, Outcome::Upgraded { from: 2, to: 3 });
        assert_eq!(version_of(&conn), 3);
        let (body, pinned): (String, i64) = conn
            .query_row("SELECT body, pinned FROM note", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!((body.as_str(), pinned), ("강아지가 짖는다", 0));

        // The backup is the file as it was before the step.
        let backup = Connection::open(backup_path(&path, 3)).unwrap();
        assert_eq!(version_of(&backup), 2);
        let has_pinned: i64 = backup
            .query_row(
                "SELECT count(*) FROM pragma_table_info('note') WHERE name = 'pinned'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(has_pinned, 0);
    }

    #[test]
    fn a_failing_step_rolls_back_and_leaves_the_version_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("daehwa.db");
        let mut conn = Connection::open(&path).unwrap();
        conn.execute_batch(SCHEMA).unwrap();
        conn.execute_batch(STEP_2.sql).unwrap();
        conn.pragma_update(None, "user_version", 2).unwrap();
        let err =
            migrate_to(&mut conn, Some(&path), 3, SCHEMA, &[STEP_2, BROKEN_STEP_3]).unwrap_err();
        assert!(matches!(err, MigrateError::Sqlite(_)), "{err}");
        assert_eq!(version_of(&conn), 2);
    }

    #[test]
    fn only_the_last_three_backups_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("daehwa.db");
        for v in 1..=4 {
            fs::write(backup_path(&path, v), b"old").unwrap();
        }
        let conn = Connection::open(&path).unwrap();
        backup_before(&conn, &path, 5).unwrap();
        let mut kept: Vec<u32> = list_backups(&path).into_iter().map(|(v, _)| v).collect();
        kept.sort_unstable();
        assert_eq!(kept, vec![3, 4, 5]);
    }

    #[test]
    fn a_newer_file_is_refused_and_left_untouched() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "user_version", LATEST + 1)
            .unwrap();
        let err = migrate(&mut conn, None).unwrap_err();
        assert!(err.to_string().contains("newer daehwa"), "{err}");
        assert_eq!(version_of(&conn), LATEST + 1);
        assert!(schema_of(&conn).is_empty());
    }

    #[test]
    fn a_version_0_file_with_foreign_tables_is_refused() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE other_app (x INTEGER)")
            .unwrap();
        let err = migrate(&mut conn, None).unwrap_err();
        assert!(matches!(err, MigrateError::NotDaehwa), "{err}");
    }

    #[test]
    fn a_missing_step_is_reported_before_anything_changes() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn, None).unwrap();
        let err = migrate_to(&mut conn, None, LATEST + 2, SCHEMA, &[]).unwrap_err();
        assert!(matches!(err, MigrateError::MissingStep(..)), "{err}");
        assert_eq!(version_of(&conn), LATEST);
    }
}
