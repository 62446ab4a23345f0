//! The OpenAPI document: served at /api/v1/openapi.json, the same as
//! `daehwa openapi` prints, and every operation it lists (the native API's
//! and the compatibility dialects', all from the deployment's root) is a
//! real route.

use reqwest::Method;
use serde_json::Value;

use crate::helpers::spawn_app;

#[tokio::test]
async fn the_document_is_served_and_every_documented_operation_is_routed() {
    let app = spawn_app().await;
    let res = app.get("/api/v1/openapi.json").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/json");
    let doc: Value = res.json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let printed: Value = serde_json::from_str(&daehwa::api::openapi::document()).unwrap();
    assert_eq!(doc, printed, "the CLI prints what the server serves");

    let user = app.signup("reader").await;
    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        let concrete = path
            .replace("{id}", "0190a0a0-0000-7000-8000-000000000000")
            .replace("{session_id}", "0190a0a0-0000-7000-8000-000000000000")
            .replace("{api_key}", "dh-0000");
        for method in item.as_object().unwrap().keys() {
            let method: Method = method.to_uppercase().parse().unwrap();
            let res = app
                .as_user(method.clone(), &concrete, &user.access)
                .header("content-type", "application/json")
                .body("{}")
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16();
            let body: Value = res.json().await.unwrap_or(Value::Null);
            assert_ne!(status, 405, "{method} {path} is not routed");
            assert_ne!(
                body["error"], "no such API route",
                "{method} {path} is not routed"
            );
            assert!(status < 500, "{method} {path}: {status} {body}");
            operations += 1;
        }
    }
    assert!(operations >= 100, "{operations} operations");
    assert!(doc["paths"]["/v1/chat/completions"]["post"].is_object());
}
