//! A new database file is written from a template: the file `schema.sql`
//! makes, stored gzip-compressed in the binary (`template.sqlite.gz`, 10 KiB).
//! Running the schema costs a cold start about 5 ms (SQLite parses 72
//! statements, generates and runs their programs, and syncs five times
//! switching a new file to WAL); copying its result costs a fraction of one.
//!
//! The copy is written beside the database under a temporary name, synced,
//! and hard-linked to the database's name, which fails when the name exists:
//! whoever creates the file first wins, and no one sees a half-written file.
//! Whenever the template cannot be used (a file or a stray `-wal` is already
//! there, the file system has no hard links) the caller runs the schema as
//! before. A test checks that the template is what the schema makes
//! (`DAEHWA_BLESS_TEMPLATE=1` writes it again after a schema change).

use std::io::{self, Read, Write};
use std::path::Path;

use flate2::read::GzDecoder;

use crate::fsmode::{create_new_private, with_suffix};

/// The database `schema.sql` makes (in WAL mode, `user_version` = LATEST).
const TEMPLATE: &[u8] = include_bytes!("template.sqlite.gz");

/// Writes the template as a new database at `path`. `Ok(true)`: the file is
/// the template; `Ok(false)`: `path` (or its `-wal`) exists and nothing was
/// done. An error means the template could not be used here (the caller then
/// makes the database the long way).
pub fn install(path: &Path) -> io::Result<bool> {
    if path.exists() || with_suffix(path, "-wal").exists() {
        return Ok(false);
    }
    let temporary = with_suffix(path, &format!(".new-{:016x}", rand::random::<u64>()));
    let installed = write_then_link(&temporary, path);
    match std::fs::remove_file(&temporary) {
        Err(err) if err.kind() != io::ErrorKind::NotFound => {
            log::warn!("cannot remove {}: {err}", temporary.display())
        }
        _ => {}
    }
    match installed {
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        other => other.map(|()| true),
    }
}

fn write_then_link(temporary: &Path, path: &Path) -> io::Result<()> {
    // Owner-only like every database file; a hard link shares the mode.
    let mut file = create_new_private(temporary)?;
    let mut bytes = Vec::with_capacity(512 * 1024);
    GzDecoder::new(TEMPLATE).read_to_end(&mut bytes)?;
    file.write_all(&bytes)?;
    // Synced before it gets its name: after a crash the database is either
    // missing or whole.
    file.sync_all()?;
    drop(file);
    std::fs::hard_link(temporary, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::migrate::{self, Outcome, LATEST};
    use rusqlite::types::Value;
    use rusqlite::Connection;

    /// The database made the long way: the schema run on a new file in WAL
    /// mode (as `Db::open` does without a template), checkpointed into the
    /// file and closed.
    fn made_by_the_schema(path: &Path) {
        let mut conn = Connection::open(path).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        let outcome = migrate::migrate(&mut conn, None).unwrap();
        assert_eq!(outcome, Outcome::Created { version: LATEST });
        conn.pragma_update(None, "wal_checkpoint", "TRUNCATE")
            .unwrap();
        conn.close().unwrap();
    }

    /// Everything a new database holds: the file's settings, every schema
    /// entry with its SQL, and every row of every table (the search indexes'
    /// own tables hold rows from the start).
    fn contents(path: &Path) -> Vec<String> {
        let conn = Connection::open(path).unwrap();
        let mut out = Vec::new();
        for pragma in [
            "journal_mode",
            "user_version",
            "application_id",
            "page_size",
            "auto_vacuum",
            "encoding",
            "freelist_count",
            "integrity_check",
        ] {
            let value: Value = conn.pragma_query_value(None, pragma, |r| r.get(0)).unwrap();
            out.push(format!("{pragma} = {value:?}"));
        }
        let entries: Vec<(String, String, Option<String>)> = conn
            .prepare("SELECT type, name, sql FROM sqlite_master ORDER BY type, name")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        for (kind, name, sql) in &entries {
            out.push(format!("{kind} {name}: {sql:?}"));
            if kind != "table" || sql.as_deref().is_some_and(|s| s.contains("VIRTUAL")) {
                continue;
            }
            let mut stmt = conn
                .prepare(&format!("SELECT * FROM \"{name}\" ORDER BY 1"))
                .unwrap();
            let columns = stmt.column_count();
            let rows = stmt
                .query_map([], |r| {
                    (0..columns)
                        .map(|i| r.get::<_, Value>(i))
                        .collect::<rusqlite::Result<Vec<_>>>()
                })
                .unwrap()
                .map(Result::unwrap);
            for row in rows {
                out.push(format!("  {name} row {row:?}"));
            }
        }
        out
    }

    #[test]
    fn the_template_is_what_the_schema_makes() {
        let dir = tempfile::tempdir().unwrap();
        let by_schema = dir.path().join("schema.db");
        made_by_the_schema(&by_schema);
        if std::env::var_os("DAEHWA_BLESS_TEMPLATE").is_some() {
            let bytes = std::fs::read(&by_schema).unwrap();
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            gz.write_all(&bytes).unwrap();
            let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/db/template.sqlite.gz");
            std::fs::write(&out, gz.finish().unwrap()).unwrap();
            return;
        }
        let from_template = dir.path().join("template.db");
        assert!(install(&from_template).unwrap());
        let expected = contents(&by_schema);
        assert!(
            contents(&from_template) == expected,
            "src/db/template.sqlite.gz is not what schema.sql makes: write it again with \
             `DAEHWA_BLESS_TEMPLATE=1 cargo test -p daehwa --lib the_template_is_what_the_schema_makes`"
        );
        assert!(expected.contains(&"journal_mode = Text(\"wal\")".to_string()));
        assert!(expected.contains(&format!("user_version = Integer({LATEST})")));
        assert!(expected.contains(&"integrity_check = Text(\"ok\")".to_string()));
    }

    #[test]
    fn an_existing_file_or_stray_wal_is_left_alone_and_no_temporary_file_stays() {
        let dir = tempfile::tempdir().unwrap();
        let existing = dir.path().join("existing.db");
        std::fs::write(&existing, b"").unwrap();
        assert!(!install(&existing).unwrap());
        assert_eq!(std::fs::metadata(&existing).unwrap().len(), 0);

        let stray = dir.path().join("stray.db");
        std::fs::write(with_suffix(&stray, "-wal"), b"left over").unwrap();
        assert!(!install(&stray).unwrap());
        assert!(!stray.exists());

        let new = dir.path().join("new.db");
        assert!(install(&new).unwrap());
        // A second try finds the file there.
        assert!(!install(&new).unwrap());
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["existing.db", "new.db", "stray.db-wal"]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&new).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_folder_that_does_not_exist_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing").join("daehwa.db");
        assert!(install(&path).is_err());
    }
}
