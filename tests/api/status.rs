//! The admin status page's data and the opt-in Prometheus metrics.

use std::time::Duration;

use fake_llm::Behavior;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{read_sse_until, spawn_app, spawn_with, World};

#[tokio::test]
async fn the_status_shows_version_uptime_sizes_running_answers_and_connection_errors() {
    let w = World::builder()
        .fake(Behavior {
            tokens: 300,
            token_delay: Duration::from_millis(20),
            ..Behavior::default()
        })
        .api_key(None)
        .user("user1")
        .build()
        .await;
    let (app, admin, user, connection) = (&w.app, &w.admin, &w.user, &w.connection);
    let status = |token: &str| {
        app.as_user(Method::GET, "/api/v1/admin/status", token)
            .send()
    };
    assert_eq!(status(&user.access).await.unwrap().status(), 403);
    let anonymous = app.get("/api/v1/admin/status").await;
    assert_eq!(anonymous.status(), 401);

    // An answer that fails upstream is the connection's last error.
    let conv = app.new_conversation(user).await;
    let (code, _) = app.ask(user, &conv, "break please [[fail:401]]").await;
    assert!(code >= 400, "{code}");

    // A long answer is running while the status is read.
    let conv2 = app.new_conversation(user).await;
    let mut stream = app
        .as_user(
            Method::POST,
            &format!("/api/v1/conversations/{conv2}/messages"),
            &user.access,
        )
        .json(&json!({"content": "long one", "stream": true}))
        .send()
        .await
        .unwrap();
    read_sse_until(&mut stream, |e| e.iter().any(|e| e.event == "delta")).await;

    let res = status(&admin.access).await.unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["version"], daehwa::VERSION);
    assert!(body["uptime_seconds"].as_u64().is_some(), "{body}");
    assert!(body["database_bytes"].as_u64().unwrap() > 4096, "{body}");
    assert!(body["free_disk_bytes"].as_u64().unwrap() > 0, "{body}");
    assert_eq!(body["active_generations"], 1, "{body}");
    let conns = body["connections"].as_array().unwrap();
    assert_eq!(conns.len(), 1);
    assert_eq!(conns[0]["id"], connection["id"]);
    let last_error = conns[0]["last_error"].as_str().expect("a last error");
    assert!(!last_error.is_empty());
    assert!(conns[0]["last_error_at"].is_string());
    drop(stream);
}

#[tokio::test]
async fn metrics_are_off_unless_enabled() {
    let app = spawn_app().await;
    // Without the flag the path is just a web-app route (index.html).
    let res = app.get("/metrics").await;
    let html = res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html");
    let text = res.text().await.unwrap();
    assert!(html && !text.contains("daehwa_"), "{text}");
}

#[tokio::test]
async fn enabled_metrics_speak_the_prometheus_text_format() {
    let app = spawn_with(|a| {
        a.metrics = true;
        a.base_path = "/chat".into();
    })
    .await;
    app.signup("admin").await;
    assert_eq!(app.get("/api/v1/nothing-here").await.status(), 404);
    let res = app.get("/metrics").await;
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let text = res.text().await.unwrap();
    assert!(
        text.contains(&format!(
            "daehwa_info{{version=\"{}\"}} 1\n",
            daehwa::VERSION
        )),
        "{text}"
    );
    assert!(
        text.contains("# TYPE daehwa_active_generations gauge\ndaehwa_active_generations 0\n"),
        "{text}"
    );
    assert!(text.contains("daehwa_users 1\n"), "{text}");
    let ok: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("daehwa_http_requests_total{class=\"2xx\"} "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(ok >= 2, "{text}");
    assert!(
        text.contains("daehwa_http_requests_total{class=\"4xx\"} "),
        "{text}"
    );
    // Every sample line is `name{labels} value` or `name value`.
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let (_, value) = line.rsplit_once(' ').unwrap();
        value.parse::<f64>().unwrap_or_else(|_| panic!("{line}"));
    }
}
