use serde_json::{json, Value};

use crate::helpers::spawn_app;

#[tokio::test]
async fn health_reports_ok_with_the_version_when_the_database_reads() {
    let app = spawn_app().await;
    let res = app.get("/api/v1/health").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/json");
    assert_eq!(res.headers()["cache-control"], "no-store");
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body,
        json!({"status": "ok", "db": "ok", "version": daehwa::VERSION})
    );
}

#[tokio::test]
async fn health_answers_503_when_the_database_cannot_be_read() {
    let app = spawn_app().await;
    // Break the database under the running server, from another connection.
    let conn = rusqlite::Connection::open(&app.db_path).unwrap();
    conn.execute_batch("DROP TABLE setting").unwrap();

    let res = app.get("/api/v1/health").await;
    assert_eq!(res.status(), 503);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], "degraded");
    assert_eq!(body["db"], "unavailable");
    assert_eq!(body["code"], "db_unavailable");
}

#[tokio::test]
async fn unknown_api_paths_answer_json_404_never_the_web_app() {
    let app = spawn_app().await;
    for path in [
        "/api/v1/nope",
        "/api/v1/health/extra",
        "/api/v2/health",
        "/api",
        "/api/",
        "/v1/llm/nope",
        "/v1/llm/sessions/1/nope",
    ] {
        let res = app.get(path).await;
        assert_eq!(res.status(), 404, "{path}");
        assert_eq!(res.headers()["content-type"], "application/json", "{path}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["code"], "not_found", "{path}");
        assert!(
            body["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{path}"
        );
    }
}

#[tokio::test]
async fn a_wrong_method_on_an_api_route_is_a_json_405() {
    let app = spawn_app().await;
    let res = app
        .client
        .post(app.url("/api/v1/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 405);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "method_not_allowed");
}

#[tokio::test]
async fn a_non_get_request_outside_the_api_is_not_answered_with_the_web_app() {
    let app = spawn_app().await;
    let res = app.client.post(app.url("/c/123")).send().await.unwrap();
    assert_eq!(res.status(), 405);
    assert!(!res.text().await.unwrap().contains("<html"));
}
