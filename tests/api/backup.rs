//! `daehwa backup` while a stream runs, `daehwa restore` (refused against a
//! live server), and the scheduled daily backup of the admin settings.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use fake_llm::{Behavior, FakeLlm};
use reqwest::Method;
use serde_json::json;

use crate::helpers::{eventually, read_sse_until, spawn_app, spawn_in};

const BIN: &str = env!("CARGO_BIN_EXE_daehwa");

fn run(args: &[&str], db: &Path) -> (bool, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .env("DAEHWA_DB", db)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn integrity(path: &Path) -> String {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap()
}

#[tokio::test]
async fn a_backup_taken_during_a_stream_restores_to_a_consistent_database() {
    let app = spawn_app().await;
    let fake = FakeLlm::start(Behavior {
        tokens: 200,
        token_delay: Duration::from_millis(15),
        ..Behavior::default()
    })
    .await;
    let admin = app.signup("admin").await;
    app.add_connection(&admin, "openai", &format!("{}/v1", fake.url()), None)
        .await;
    let conv = app.new_conversation(&admin).await;
    let question = "백업 중에도 이 질문은 남아야 한다";
    let mut stream = app
        .as_user(
            Method::POST,
            &format!("/api/v1/conversations/{conv}/messages"),
            &admin.access,
        )
        .json(&json!({"content": question, "stream": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    // Some deltas are out: the answer is being written.
    let seen = read_sse_until(&mut stream, |events| {
        events.iter().filter(|e| e.event == "delta").count() >= 10
    })
    .await;
    assert!(seen.iter().any(|e| e.event == "delta"));

    let backup = app.dir.path().join("during-stream.db");
    let db = app.db_path.clone();
    let backup_arg = backup.to_str().unwrap().to_string();
    let (ok, stdout, stderr) =
        tokio::task::spawn_blocking(move || run(&["backup", &backup_arg], &db))
            .await
            .unwrap();
    assert!(ok, "backup failed: {stderr}");
    assert!(stdout.contains("written to"), "{stdout}");
    // The stream was not disturbed and still finishes.
    let rest = read_sse_until(&mut stream, |events| {
        events
            .iter()
            .any(|e| e.event == "done" || e.event == "error")
    })
    .await;
    assert!(rest.iter().any(|e| e.event == "done"), "{rest:?}");
    assert_eq!(integrity(&backup), "ok");

    // Restoring is refused while this server runs on the database.
    let db = app.db_path.clone();
    let backup_arg = backup.to_str().unwrap().to_string();
    let (ok, _, stderr) = tokio::task::spawn_blocking(move || run(&["restore", &backup_arg], &db))
        .await
        .unwrap();
    assert!(!ok);
    assert!(stderr.contains("server is running"), "{stderr}");

    // Stopped, it restores; the restored server has the question.
    let (dir, db) = app.stop().await;
    let db_for_cli = db.clone();
    let backup_arg = backup.to_str().unwrap().to_string();
    let (ok, stdout, stderr) =
        tokio::task::spawn_blocking(move || run(&["restore", &backup_arg], &db_for_cli))
            .await
            .unwrap();
    assert!(ok, "restore failed: {stderr}");
    assert!(stdout.contains("restored from"), "{stdout}");
    assert_eq!(integrity(&db), "ok");
    let mut pre_restore = db.as_os_str().to_owned();
    pre_restore.push(".pre-restore");
    assert_eq!(integrity(Path::new(&pre_restore)), "ok");

    let app = spawn_in(dir, db, |_| {}).await;
    let admin = app.sign_in("admin").await;
    let body = app.conversation(&admin, &conv).await;
    let messages = body["messages"].as_array().expect("messages");
    assert!(
        messages
            .iter()
            .any(|m| m["role"] == "user" && m["content"] == question),
        "{body}"
    );
    app.stop().await;
}

#[tokio::test]
async fn backup_and_restore_refuse_bad_targets_with_clear_messages() {
    let app = spawn_app().await;
    let db = app.db_path.clone();
    let existing = app.dir.path().join("exists.db");
    std::fs::write(&existing, b"keep me").unwrap();
    let args = existing.to_str().unwrap().to_string();
    let (ok, _, stderr) = run(&["backup", &args], &db);
    assert!(!ok);
    assert!(stderr.contains("already exists"), "{stderr}");
    assert_eq!(std::fs::read(&existing).unwrap(), b"keep me");
    let (ok, _, stderr) = run(&["backup", "x.db"], &app.dir.path().join("nothing.db"));
    assert!(!ok);
    assert!(stderr.contains("no database"), "{stderr}");
    let (dir, db) = app.stop().await;
    let (ok, _, stderr) = run(&["restore", &args], &db);
    assert!(!ok);
    assert!(stderr.contains("daehwa: "), "{stderr}");
    drop(dir);
}

#[tokio::test]
async fn the_daily_backup_is_turned_on_in_the_admin_settings_and_keeps_only_the_newest() {
    let dir = tempfile::tempdir().unwrap();
    let backups = dir.path().join("nightly");
    std::fs::create_dir_all(&backups).unwrap();
    for day in ["20240101T000000Z", "20240102T000000Z", "20240103T000000Z"] {
        std::fs::write(backups.join(format!("daehwa-{day}.db")), b"old").unwrap();
    }
    let db = dir.path().join("daehwa.db");
    let dir_for_app = backups.clone();
    let app = spawn_in(dir, db, move |a| a.backup_dir = Some(dir_for_app)).await;
    let admin = app.signup("admin").await;
    let user = app.signup("user1").await;

    let settings = |token: &str| {
        app.as_user(Method::GET, "/api/v1/admin/settings", token)
            .send()
    };
    let body: serde_json::Value = settings(&admin.access).await.unwrap().json().await.unwrap();
    assert_eq!(body["backup_daily"], false);
    assert_eq!(body["backup_keep"], 7);
    assert_eq!(body["backup_last_at"], serde_json::Value::Null);
    assert_eq!(body["backup_dir"], backups.display().to_string());

    // Validation and authorization.
    let put = |token: &str, body: serde_json::Value| {
        app.as_user(Method::PUT, "/api/v1/admin/settings", token)
            .json(&body)
            .send()
    };
    let res = put(&admin.access, json!({"backup_keep": 0})).await.unwrap();
    assert_eq!(res.status(), 422);
    let err: serde_json::Value = res.json().await.unwrap();
    assert!(err["fields"]["backup_keep"].is_string(), "{err}");
    let res = put(&admin.access, json!({"backup_daily": "yes"}))
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let res = put(&user.access, json!({"backup_daily": true}))
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(settings(&user.access).await.unwrap().status(), 403);

    let res = put(
        &admin.access,
        json!({"backup_daily": true, "backup_keep": 2}),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(
        (body["backup_daily"].clone(), body["backup_keep"].clone()),
        (json!(true), json!(2))
    );

    // The schedule is woken by the change: a backup is due at once.
    let started = tokio::time::Instant::now();
    let last_at = eventually("a backup after the change", async || {
        let body: serde_json::Value = settings(&admin.access).await.unwrap().json().await.unwrap();
        body["backup_last_at"].is_string().then(|| {
            assert_eq!(body["backup_last_error"], serde_json::Value::Null);
            body["backup_last_at"].clone()
        })
    })
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "no backup in 10 s"
    );
    assert!(last_at.is_string());
    let mut names: Vec<String> = std::fs::read_dir(&backups)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names.len(), 2, "{names:?}");
    assert_eq!(names[0], "daehwa-20240103T000000Z.db");
    let newest = backups.join(&names[1]);
    assert_eq!(integrity(&newest), "ok");
    let conn = rusqlite::Connection::open(&newest).unwrap();
    let users: i64 = conn
        .query_row("SELECT count(*) FROM user", [], |r| r.get(0))
        .unwrap();
    assert_eq!(users, 2);
    // The change is in the audit log.
    let audit: serde_json::Value = app
        .as_user(Method::GET, "/api/v1/admin/audit", &admin.access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(audit.to_string().contains("backup_keep"), "{audit}");
    app.stop().await;
}
