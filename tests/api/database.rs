use daehwa::app::App;
use daehwa::config::ServeArgs;
use daehwa::db::migrate::LATEST;
use serde_json::Value;

use crate::helpers::{spawn_app, spawn_in, user_version};

fn installed_at(path: &std::path::Path) -> String {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.query_row(
        "SELECT value FROM setting WHERE key = 'installed_at'",
        [],
        |r| r.get(0),
    )
    .unwrap()
}

#[tokio::test]
async fn a_new_database_is_created_in_wal_mode_at_the_latest_schema() {
    let app = spawn_app().await;
    assert_eq!(app.get("/api/v1/health").await.status(), 200);
    let (_dir, path) = app.stop().await;
    assert_eq!(user_version(&path), LATEST);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let mode: String = conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[tokio::test]
async fn a_restart_on_the_same_file_keeps_its_data() {
    let app = spawn_app().await;
    let (dir, path) = app.stop().await;
    let first_install = installed_at(&path);
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute(
            "INSERT INTO setting (key, value, updated_at) VALUES ('probe', '\"강아지가\"', '2026-01-01T00:00:00Z')",
            [],
        )
        .unwrap();
    }

    let app = spawn_in(dir, path.clone(), |_| {}).await;
    let body: Value = app.get("/api/v1/health").await.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    let (_dir, path) = app.stop().await;

    assert_eq!(installed_at(&path), first_install);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let probe: String = conn
        .query_row("SELECT value FROM setting WHERE key = 'probe'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(probe, "\"강아지가\"");
}

#[tokio::test]
async fn a_version_0_file_is_upgraded_to_the_current_schema() {
    // Two kinds of version-0 file: zero bytes, and an initialized SQLite file
    // with no schema yet (what `sqlite3 daehwa.db 'PRAGMA user_version'` leaves).
    for init_sqlite in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        std::fs::write(&path, b"").unwrap();
        if init_sqlite {
            let conn = rusqlite::Connection::open(&path).unwrap();
            conn.execute_batch("PRAGMA journal_mode = DELETE; VACUUM;")
                .unwrap();
        }
        assert_eq!(user_version(&path), 0);

        let app = spawn_in(dir, path.clone(), |_| {}).await;
        assert_eq!(app.get("/api/v1/health").await.status(), 200);
        let (_dir, path) = app.stop().await;
        assert_eq!(user_version(&path), LATEST);
        assert!(!installed_at(&path).is_empty());
    }
}

#[tokio::test]
async fn a_database_from_a_newer_daehwa_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("future.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE future_thing (x INTEGER);")
            .unwrap();
        conn.pragma_update(None, "user_version", LATEST + 5)
            .unwrap();
    }
    let before = std::fs::read(&path).unwrap();

    let err = App::build(&ServeArgs::for_tests(path.clone()))
        .await
        .err()
        .expect("a newer file must be refused");
    let message = err.to_string();
    assert!(message.contains("newer daehwa"), "{message}");
    assert!(message.contains("future.db"), "{message}");
    assert_eq!(user_version(&path), LATEST + 5);
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[tokio::test]
async fn a_file_of_another_program_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE invoices (id INTEGER PRIMARY KEY);")
            .unwrap();
    }
    let err = App::build(&ServeArgs::for_tests(path.clone()))
        .await
        .err()
        .expect("a foreign database must be refused");
    assert!(err.to_string().contains("not a daehwa database"), "{err}");
}

#[tokio::test]
async fn a_database_path_that_cannot_be_opened_is_a_clear_start_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing-dir").join("daehwa.db");
    let err = App::build(&ServeArgs::for_tests(path))
        .await
        .err()
        .expect("start must fail");
    assert!(
        err.to_string().contains("cannot open the database"),
        "{err}"
    );
}
