//! The disk under the database fills up while an answer streams, then space
//! comes back: on a small tmpfs the test mounts, so it runs as root (CI
//! does) and says it was skipped, and why, elsewhere.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use fake_llm::{Behavior, FakeLlm};
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{delta_text, eventually, parse_sse, spawn_in};

/// A tmpfs mounted for the test, unmounted when dropped.
struct SmallDisk {
    dir: PathBuf,
}

impl SmallDisk {
    fn mount(dir: &Path, size: &str) -> Result<SmallDisk, String> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return Err("not running as root, cannot mount a tmpfs".into());
        }
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "mount refused: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(SmallDisk {
            dir: dir.to_path_buf(),
        })
    }

    /// Writes a file until the disk has no room left; returns its path.
    fn fill(&self) -> PathBuf {
        let path = self.dir.join("filler");
        let mut file = std::fs::File::create(&path).unwrap();
        let chunk = vec![0u8; 16 * 1024];
        loop {
            if file
                .write_all(&chunk)
                .and_then(|()| file.sync_all())
                .is_err()
            {
                break;
            }
        }
        // Fill the last partial block too.
        while file.write_all(&[0u8; 512]).is_ok() && file.sync_all().is_ok() {}
        path
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
    }
}

#[tokio::test]
async fn a_full_disk_costs_a_clear_507_and_no_saved_text_and_heals_when_space_returns() {
    let dir = tempfile::tempdir().unwrap();
    let disk = match SmallDisk::mount(dir.path(), "8m") {
        Ok(disk) => disk,
        Err(why) => {
            eprintln!("disk_full test skipped: {why}");
            return;
        }
    };
    let db = dir.path().join("daehwa.db");
    let app = spawn_in(tempfile::tempdir().unwrap(), db, |_| {}).await;
    let fake = FakeLlm::start(Behavior {
        tokens: 100_000,
        token_delay: Duration::from_millis(5),
        ..Behavior::default()
    })
    .await;
    let admin = app.signup("admin").await;
    app.add_connection(&admin, "openai", &format!("{}/v1", fake.url()), None)
        .await;
    let conversation = app.new_conversation(&admin).await;
    let mut stream = app
        .as_user(
            Method::POST,
            &format!("/api/v1/conversations/{conversation}/messages"),
            &admin.access,
        )
        .json(&json!({"content": "디스크가 가득 찰 때까지 써 주세요", "stream": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    // Everything the client receives, from the first byte.
    let mut raw = String::new();
    eventually("20 deltas", async || {
        if let Ok(Some(chunk)) = stream.chunk().await {
            raw.push_str(&String::from_utf8_lossy(&chunk));
        }
        let deltas = parse_sse(&raw)
            .iter()
            .filter(|e| e.event == "delta")
            .count();
        (deltas >= 20).then_some(())
    })
    .await;

    let filler = disk.fill();

    // The answer stops with a clear error, its text kept.
    let events = eventually("the answer's disk_full error", async || {
        match tokio::time::timeout(Duration::from_secs(5), stream.chunk()).await {
            Ok(Ok(Some(chunk))) => raw.push_str(&String::from_utf8_lossy(&chunk)),
            Ok(_) => {}
            Err(_) => {}
        }
        let events = parse_sse(&raw);
        events.iter().any(|e| e.event == "error").then_some(events)
    })
    .await;
    let error = events.iter().find(|e| e.event == "error").unwrap();
    let error = &error.data;
    assert_eq!(error["code"], "disk_full", "{error}");
    assert!(error["error"].as_str().unwrap().contains("disk is full"));

    // Health says so, and new writes get 507 with a message a person reads.
    let health = app.get("/api/v1/health").await;
    assert_eq!(health.status(), 503);
    let health: Value = health.json().await.unwrap();
    assert_eq!(health["db"], "disk_full", "{health}");
    let refused = eventually("a 507", async || {
        let res = app
            .as_user(Method::POST, "/api/v1/conversations", &admin.access)
            .json(&json!({"title": "새 대화"}))
            .send()
            .await
            .unwrap();
        assert_ne!(res.status(), 500);
        (res.status() == 507).then_some(res)
    })
    .await;
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["code"], "disk_full");
    assert!(body["error"].as_str().unwrap().contains("disk is full"));
    // Reading still works.
    let list = app
        .as_user(Method::GET, "/api/v1/conversations", &admin.access)
        .send()
        .await
        .unwrap();
    assert_eq!(list.status(), 200);

    // Space comes back: no restart needed.
    std::fs::remove_file(&filler).unwrap();
    eventually("health ok again", async || {
        (app.get("/api/v1/health").await.status() == 200).then_some(())
    })
    .await;
    let saved = eventually("the kept answer written", async || {
        let full = app.conversation(&admin, &conversation).await;
        let answer = full["messages"][1].clone();
        (answer["status"] == "error").then_some(answer)
    })
    .await;
    assert_eq!(
        saved["content"].as_str().unwrap(),
        delta_text(&events),
        "the text kept in memory is all that was streamed"
    );
    assert!(saved["error"].as_str().unwrap().contains("disk is full"));
    let res = app
        .as_user(Method::POST, "/api/v1/conversations", &admin.access)
        .json(&json!({"title": "다시 쓰기"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    app.stop().await;
    drop(disk);
}
