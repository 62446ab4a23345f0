//! Safe defaults on real responses: security headers everywhere, CORS only for
//! configured origins, the body limit before routing.

use reqwest::header::HeaderMap;
use reqwest::Method;

use crate::helpers::{spawn_app, spawn_with};

fn assert_security_headers(headers: &HeaderMap, what: &str) {
    let csp = headers
        .get("content-security-policy")
        .unwrap_or_else(|| panic!("{what}: no CSP"))
        .to_str()
        .unwrap();
    let script_src = csp
        .split(';')
        .map(str::trim)
        .find(|d| d.starts_with("script-src"))
        .unwrap_or_else(|| panic!("{what}: no script-src in {csp}"));
    assert_eq!(script_src, "script-src 'self'", "{what}");
    assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
    assert!(csp.contains("object-src 'none'"), "{what}: {csp}");
    assert_eq!(headers["x-content-type-options"], "nosniff", "{what}");
    assert_eq!(
        headers["referrer-policy"], "strict-origin-when-cross-origin",
        "{what}"
    );
    assert_eq!(headers["x-frame-options"], "DENY", "{what}");
    assert!(
        headers.get("strict-transport-security").is_none(),
        "{what}: HSTS over plain HTTP"
    );
}

#[tokio::test]
async fn every_kind_of_response_carries_the_security_headers() {
    let app = spawn_with(|a| a.base_path = "/chat".into()).await;
    let base = format!("http://{}", app.addr);
    let cases = [
        ("/chat/", 200, "the web app"),
        ("/chat/conversations/x", 200, "a deep link"),
        ("/chat/api/v1/health", 200, "an API answer"),
        ("/chat/api/v1/conversations", 401, "an API error"),
        ("/chat/missing.js", 404, "a missing file"),
        ("/elsewhere", 404, "a path outside the base path"),
    ];
    for (path, status, what) in cases {
        let res = app
            .client
            .get(format!("{base}{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), status, "{what}");
        assert_security_headers(res.headers(), what);
    }
    // A method the web app does not serve, outside the API.
    let res = app
        .client
        .post(format!("{base}/chat/somewhere"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 405);
    assert_security_headers(res.headers(), "a 405 outside the API");
}

#[tokio::test]
async fn without_configured_origins_no_cross_origin_call_is_allowed() {
    let app = spawn_app().await;
    let res = app
        .client
        .get(app.url("/api/v1/health"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers().get("access-control-allow-origin").is_none());
    let res = app
        .request(Method::OPTIONS, "/api/v1/auth/login")
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert!(res.headers().get("access-control-allow-origin").is_none());
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["code"], "cors_origin_not_allowed");
}

#[tokio::test]
async fn a_configured_origin_may_call_the_api_and_others_may_not() {
    let app = spawn_with(|a| {
        a.cors_origins = vec![
            "https://portal.example".into(),
            "http://localhost:5173/".into(),
        ]
    })
    .await;
    // Preflight from an allowed origin.
    let res = app
        .request(Method::OPTIONS, "/api/v1/auth/login")
        .header("origin", "https://portal.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let h = res.headers();
    assert_eq!(h["access-control-allow-origin"], "https://portal.example");
    assert_eq!(h["access-control-allow-credentials"], "true");
    assert!(h["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .contains("POST"));
    let allowed = h["access-control-allow-headers"].to_str().unwrap();
    // A portal's token exchange and a stream re-join need their own headers.
    for header in [
        "content-type",
        "authorization",
        "x-external-token",
        "last-event-id",
    ] {
        assert!(allowed.contains(header), "{header} not in {allowed}");
    }
    // The real call from an allowed origin (the second, written with a slash).
    let res = app
        .request(Method::POST, "/api/v1/auth/register")
        .header("origin", "http://localhost:5173")
        .json(&serde_json::json!({"username": "corsy", "password": "correct-horse-42"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    assert_eq!(
        res.headers()["access-control-allow-origin"],
        "http://localhost:5173"
    );
    assert!(res
        .headers()
        .get_all("vary")
        .iter()
        .any(|v| v.to_str().unwrap().contains("origin")));
    // Another origin: answered (same-origin rules are the browser's) but never allowed.
    let res = app
        .client
        .get(app.url("/api/v1/health"))
        .header("origin", "https://portal.example.evil")
        .send()
        .await
        .unwrap();
    assert!(res.headers().get("access-control-allow-origin").is_none());
    let res = app
        .request(Method::OPTIONS, "/api/v1/auth/login")
        .header("origin", "http://portal.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403, "the scheme is part of the origin");
}

#[tokio::test]
async fn a_malformed_cors_origin_stops_the_start_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let mut args = daehwa::config::ServeArgs::for_tests(dir.path().join("d.db"));
    args.cors_origins = vec!["portal.example".into()];
    let err = daehwa::app::App::build(&args).await.err().expect("refused");
    assert!(err.to_string().contains("http://"), "{err}");
}

#[tokio::test]
async fn a_body_over_the_configured_limit_is_refused_before_it_is_read() {
    let app = spawn_with(|a| a.body_limit = 2000).await;
    let big = serde_json::json!({"username": "x".repeat(3000), "password": "p"});
    let res = app.post_json("/api/v1/auth/login", &big).await;
    assert_eq!(res.status(), 413);
    assert_security_headers(res.headers(), "login");
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["code"], "payload_too_large");
    assert!(
        body["error"].as_str().unwrap().contains("2000 bytes"),
        "{body}"
    );
    // A path that reads no body answers as it would without one.
    let res = app.post_json("/somewhere-else", &big).await;
    assert_eq!(res.status(), 405);
    assert_security_headers(res.headers(), "/somewhere-else");
    // Below the limit the route reads it as usual.
    let res = app
        .post_json(
            "/api/v1/auth/login",
            &serde_json::json!({"username": "nobody", "password": "wrong-password"}),
        )
        .await;
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn the_default_limit_is_one_mebibyte() {
    let app = spawn_app().await;
    let body = format!(
        "{{\"username\":\"{}\",\"password\":\"p\"}}",
        "x".repeat(1024 * 1024)
    );
    let res = app
        .request(Method::POST, "/api/v1/auth/login")
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
}

#[tokio::test]
async fn json_routes_refuse_other_content_types_with_415() {
    let app = spawn_app().await;
    app.signup("minji").await;
    let body = r#"{"username": "minji", "password": "correct-horse-42"}"#;
    // text/plain and form posts are what a foreign page can send without a
    // preflight (login CSRF); no content type at all is refused as well.
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        None,
    ] {
        let mut req = app.request(Method::POST, "/api/v1/auth/login").body(body);
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 415, "{content_type:?}");
        assert!(res.headers().get("set-cookie").is_none());
        let err: serde_json::Value = res.json().await.unwrap();
        assert_eq!(err["code"], "unsupported_media_type");
    }
    for content_type in [
        "application/json; charset=utf-8",
        "application/merge-patch+json",
    ] {
        let res = app
            .request(Method::POST, "/api/v1/auth/login")
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{content_type}");
    }
    // A route whose body is optional takes an empty one without a type.
    let res = app
        .request(Method::POST, "/api/v1/auth/logout")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
}

#[tokio::test]
async fn a_conversation_export_over_one_mebibyte_imports_back_whole() {
    let app = spawn_app().await;
    let user = app.signup("minji").await;
    // 24 messages of 64 KiB: a 1.5 MiB export, past the default JSON limit.
    let messages: Vec<serde_json::Value> = (0..24)
        .map(|i| {
            let role = if i % 2 == 0 { "user" } else { "assistant" };
            serde_json::json!({"role": role, "content": format!("{i}:{}", "가".repeat(21_800))})
        })
        .collect();
    let export = serde_json::json!({
        "format": "daehwa.conversation", "version": 1, "title": "긴 대화", "messages": messages,
    });
    assert!(export.to_string().len() > 1_500_000);
    let (status, imported) = app.import_conversation(&user, export).await;
    assert_eq!(status, 201, "{imported}");
    let id = imported["id"].as_str().unwrap();
    let res = app
        .as_user(
            Method::GET,
            &format!("/api/v1/conversations/{id}/export"),
            &user.access,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let again: serde_json::Value = res.json().await.unwrap();
    assert_eq!(again["messages"].as_array().unwrap().len(), 24);
    let (status, round_trip) = app.import_conversation(&user, again).await;
    assert_eq!(status, 201, "{round_trip}");
    // Past 10 MiB even an import is refused, before it is read.
    let huge = format!(
        "{{\"format\":\"daehwa.conversation\",\"messages\":[{{\"role\":\"user\",\"content\":\"{}\"}}]}}",
        "a".repeat(11 * 1024 * 1024)
    );
    let res = app
        .as_user(Method::POST, "/api/v1/conversations/import", &user.access)
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
}
