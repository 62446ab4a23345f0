//! Sign-in through other systems: `/auth/exchange` against a fake userinfo
//! server on loopback, and `/auth/token` with signed requests.

use std::net::SocketAddr;
use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};
use warp::Filter;

use crate::helpers::{spawn_app, spawn_with, TestApp};

/// A userinfo endpoint: `good-token` is Kim (id 1001), `slow-token` answers
/// after 3 s, `broken-token` gets a 500, anything else 401.
async fn fake_userinfo() -> SocketAddr {
    let route = warp::path!("userinfo")
        .and(warp::header::optional::<String>("authorization"))
        .then(|auth: Option<String>| async move {
            let reply = |status: u16, body: Value| {
                warp::reply::with_status(
                    warp::reply::json(&body),
                    warp::http::StatusCode::from_u16(status).unwrap(),
                )
            };
            match auth.as_deref() {
                Some("Bearer good-token") => reply(200, json!({"sub": 1001, "name": "Kim Minji"})),
                Some("Bearer other-good-token") => {
                    reply(200, json!({"id": "e-7", "preferred_username": "lee"}))
                }
                Some("Bearer slow-token") => {
                    // Slow on purpose: the identity provider past the server's timeout.
                    tokio::time::sleep(Duration::from_secs(3)).await;
                    reply(200, json!({"sub": "slow"}))
                }
                Some("Bearer broken-token") => reply(500, json!({"error": "boom"})),
                _ => reply(401, json!({"error": "invalid_token"})),
            }
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(warp::serve(route).incoming(listener).run());
    addr
}

async fn exchange(app: &TestApp, token: Option<&str>) -> reqwest::Response {
    let mut req = app.request(Method::POST, "/api/v1/auth/exchange");
    if let Some(token) = token {
        req = req.header("x-external-token", token);
    }
    req.send().await.unwrap()
}

async fn code_of(res: reqwest::Response) -> (u16, String) {
    let status = res.status().as_u16();
    let body: Value = res.json().await.unwrap();
    (
        status,
        body["code"].as_str().unwrap_or_default().to_string(),
    )
}

#[tokio::test]
async fn exchange_signs_in_the_holder_of_a_token_the_userinfo_url_accepts() {
    let userinfo = fake_userinfo().await;
    let app = spawn_with(|args| {
        args.userinfo_url = Some(format!("http://{userinfo}/userinfo"));
        args.userinfo_timeout = 1;
    })
    .await;
    // An existing local admin, so the external user is an ordinary user.
    app.signup("admin").await;

    let res = exchange(&app, Some("good-token")).await;
    assert_eq!(res.status(), 200);
    assert!(res.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("HttpOnly"));
    let first: Value = res.json().await.unwrap();
    assert_eq!(first["token_type"], "bearer");
    assert_eq!(first["user"]["display_name"], "Kim Minji");
    assert_eq!(first["user"]["role"], "user");
    let access = first["access_token"].as_str().unwrap();
    let me = app
        .as_user(Method::GET, "/api/v1/auth/me", access)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);

    // The same external id links to the same local account.
    let again: Value = exchange(&app, Some("good-token"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["user"]["id"], first["user"]["id"]);
    let other: Value = exchange(&app, Some("other-good-token"))
        .await
        .json()
        .await
        .unwrap();
    assert_ne!(other["user"]["id"], first["user"]["id"]);
    assert_eq!(other["user"]["username"], "lee");

    assert_eq!(
        code_of(exchange(&app, Some("stolen-token")).await).await,
        (401, "external_token_rejected".into())
    );
    assert_eq!(
        code_of(exchange(&app, None).await).await,
        (401, "missing_external_token".into())
    );
    assert_eq!(
        code_of(exchange(&app, Some("broken-token")).await).await,
        (502, "upstream_failed".into())
    );
    assert_eq!(
        code_of(exchange(&app, Some("slow-token")).await).await,
        (504, "upstream_timeout".into())
    );
}

#[tokio::test]
async fn exchange_reports_an_unreachable_identity_provider_as_502() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let app =
        spawn_with(|args| args.userinfo_url = Some(format!("http://127.0.0.1:{port}/userinfo")))
            .await;
    assert_eq!(
        code_of(exchange(&app, Some("good-token")).await).await,
        (502, "upstream_failed".into())
    );
}

#[tokio::test]
async fn exchange_and_token_are_404_unless_configured() {
    let app = spawn_app().await;
    assert_eq!(
        code_of(exchange(&app, Some("good-token")).await).await,
        (404, "not_found".into())
    );
    let res = app
        .post_json("/api/v1/auth/token", &json!({"user_id": "x"}))
        .await;
    assert_eq!(code_of(res).await, (404, "not_found".into()));
}

/// The served OpenAPI document lists an external sign-in only on a server
/// that has it: elsewhere the route answers like an unknown one.
#[tokio::test]
async fn the_document_lists_an_external_sign_in_only_where_it_is_configured() {
    async fn paths(app: &TestApp) -> Vec<String> {
        let doc: serde_json::Value = app.get("/api/v1/openapi.json").await.json().await.unwrap();
        let paths = doc["paths"].as_object().unwrap();
        ["/api/v1/auth/token", "/api/v1/auth/exchange"]
            .into_iter()
            .filter(|p| paths.contains_key(*p))
            .map(str::to_string)
            .collect()
    }
    assert!(paths(&spawn_app().await).await.is_empty());
    let issuer = spawn_with(|args| args.trusted_issuer_secret = Some(ISSUER_SECRET.into())).await;
    assert_eq!(paths(&issuer).await, ["/api/v1/auth/token"]);
    let both = spawn_with(|args| {
        args.trusted_issuer_secret = Some(ISSUER_SECRET.into());
        args.userinfo_url = Some("http://127.0.0.1:9/userinfo".into());
    })
    .await;
    assert_eq!(
        paths(&both).await,
        ["/api/v1/auth/token", "/api/v1/auth/exchange"]
    );
    let doc: serde_json::Value = both.get("/api/v1/openapi.json").await.json().await.unwrap();
    assert_eq!(
        doc["paths"]["/api/v1/auth/token"]["post"]["operationId"],
        "issue_token"
    );
}

const ISSUER_SECRET: &str = "issuer-shared-secret-for-tests";

async fn signed_token_request(
    app: &TestApp,
    body: &str,
    timestamp: i64,
    secret: &str,
) -> reqwest::Response {
    let ts = timestamp.to_string();
    let signature = daehwa::auth::external::sign(secret.as_bytes(), &ts, body.as_bytes());
    app.request(Method::POST, "/api/v1/auth/token")
        .header("content-type", "application/json")
        .header("x-signature", signature)
        .header("x-timestamp", ts)
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn token_issues_a_session_for_a_signed_request_and_refuses_bad_or_stale_signatures() {
    let app = spawn_with(|args| args.trusted_issuer_secret = Some(ISSUER_SECRET.into())).await;
    let now = chrono::Utc::now().timestamp();
    let body = r#"{"user_id": "emp-0042", "display_name": "Park Sora", "roles": ["admin"]}"#;

    let res = signed_token_request(&app, body, now, ISSUER_SECRET).await;
    assert_eq!(res.status(), 200);
    let session: Value = res.json().await.unwrap();
    assert_eq!(session["user"]["username"], "emp-0042");
    assert_eq!(session["user"]["display_name"], "Park Sora");
    assert_eq!(session["user"]["role"], "admin");
    let access = session["access_token"].as_str().unwrap();
    let users = app
        .as_user(Method::GET, "/api/v1/users", access)
        .send()
        .await
        .unwrap();
    assert_eq!(users.status(), 200, "the issuer's admin role applies");

    // Same user id → same account; the issuer's roles are authoritative.
    let demoted = r#"{"user_id": "emp-0042", "roles": ["staff"]}"#;
    let again: Value = signed_token_request(&app, demoted, now, ISSUER_SECRET)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["user"]["id"], session["user"]["id"]);
    assert_eq!(again["user"]["role"], "user");

    let cases = [
        (
            signed_token_request(&app, body, now, "wrong-secret").await,
            "invalid_signature",
        ),
        (
            signed_token_request(&app, body, now - 600, ISSUER_SECRET).await,
            "stale_timestamp",
        ),
        (
            signed_token_request(&app, body, now + 600, ISSUER_SECRET).await,
            "stale_timestamp",
        ),
    ];
    for (res, code) in cases {
        assert_eq!(code_of(res).await, (401, code.to_string()));
    }
    // A signature for one body does not cover another.
    let ts = now.to_string();
    let signature = daehwa::auth::external::sign(ISSUER_SECRET.as_bytes(), &ts, body.as_bytes());
    let res = app
        .request(Method::POST, "/api/v1/auth/token")
        .header("content-type", "application/json")
        .header("x-signature", signature)
        .header("x-timestamp", ts)
        .body(r#"{"user_id": "someone-else", "roles": ["admin"]}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(code_of(res).await, (401, "invalid_signature".into()));
    let res = app
        .post_json("/api/v1/auth/token", &json!({"user_id": "x"}))
        .await;
    assert_eq!(code_of(res).await, (401, "missing_signature".into()));
    // Signed, but not a usable body.
    let res = signed_token_request(&app, r#"{"user_id": ""}"#, now, ISSUER_SECRET).await;
    assert_eq!(code_of(res).await, (422, "validation_failed".into()));
}
