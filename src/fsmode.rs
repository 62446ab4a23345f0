//! Files that hold secrets are readable by their owner only. The database
//! keeps provider keys and the generated token secret (whoever reads it can
//! forge an admin token), its backups are copies of it, and the log names
//! users and addresses: on Unix all of them are created `0600`, and ones an
//! earlier daehwa left world-readable are tightened at start.
//!
//! On Windows a new file inherits its folder's ACL; daehwa does not rewrite
//! ACLs, so the operator keeps the data folder readable by the service account
//! and administrators only (README, "Security model").

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

/// The Unix mode of every file daehwa creates: read and write for the owner.
#[cfg(unix)]
const MODE: u32 = 0o600;

/// Options that create a file (read, append) owner-only, as the rotating log
/// file wants them.
pub fn private_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.read(true).create(true).append(true);
    owner_only(&mut options);
    options
}

/// Creates `path` owner-only for writing; an error if it exists.
pub fn create_new_private(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    owner_only(&mut options);
    options.open(path)
}

fn owner_only(options: &mut OpenOptions) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(MODE);
    }
    #[cfg(not(unix))]
    let _ = options;
}

/// `<path><suffix>`: the files SQLite and daehwa keep beside a database
/// (`-wal`, `.partial`, ...).
pub fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(suffix);
    PathBuf::from(name)
}

/// Creates `path` owner-only if it is missing, and makes it owner-only if it
/// exists. Nothing is written to it.
pub fn create_private(path: &Path) -> io::Result<()> {
    private_options().open(path)?;
    restrict(path)
}

/// Makes an existing file owner-only (a no-op on Windows, and for a file
/// that does not exist).
pub fn restrict(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        match std::fs::metadata(path) {
            Ok(meta) if meta.permissions().mode() & 0o777 != MODE => {
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(MODE))
            }
            Ok(_) => Ok(()),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(err) => Err(err),
        }
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Ok(())
    }
}

/// Makes the database file and SQLite's files beside it (`-wal`, `-shm`,
/// `-journal`) owner-only, creating the database file owner-only when it
/// does not exist yet (SQLite gives the files it adds the database's mode).
pub fn secure_database(path: &Path) -> io::Result<()> {
    if !path.exists() {
        // A new database: created here so that it is never world-readable,
        // not even for the moment between SQLite creating it and a chmod.
        let _ = private_options().open(path)?;
    }
    restrict(path)?;
    for suffix in ["-wal", "-shm", "-journal"] {
        restrict(&with_suffix(path, suffix))?;
    }
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn new_and_existing_files_end_up_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let new = dir.path().join("new.log");
        create_private(&new).unwrap();
        assert_eq!(mode(&new), 0o600);

        let db = dir.path().join("old.db");
        std::fs::write(&db, b"").unwrap();
        let wal = dir.path().join("old.db-wal");
        std::fs::write(&wal, b"").unwrap();
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::set_permissions(&wal, std::fs::Permissions::from_mode(0o644)).unwrap();
        secure_database(&db).unwrap();
        assert_eq!(mode(&db), 0o600);
        assert_eq!(mode(&wal), 0o600);

        let fresh = dir.path().join("fresh.db");
        secure_database(&fresh).unwrap();
        assert_eq!(mode(&fresh), 0o600);
    }
}
