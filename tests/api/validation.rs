//! Request validation under arbitrary input, over real HTTP: whatever the
//! body of a write request (random bytes, invalid UTF-8, JSON of any shape
//! and type, nesting far past any real request), the answer is a JSON error
//! in the 4xx range — never a 5xx, never a hang — and nothing is written.

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, Session, TestApp};

/// JSON of any shape: the fields a route expects show up now and then, with
/// values of every type.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,20}".prop_map(Value::from),
    ];
    let key = prop_oneof![
        Just("content".to_string()),
        Just("title".to_string()),
        Just("username".to_string()),
        Just("password".to_string()),
        Just("model_id".to_string()),
        Just("model id".to_string()),
        Just("stream".to_string()),
        Just("pinned".to_string()),
        Just("rating".to_string()),
        Just("message_id".to_string()),
        Just("collector_item_ids".to_string()),
        Just("system_prompt".to_string()),
        "[a-z_]{1,8}",
    ];
    leaf.prop_recursive(4, 32, 6, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map(key.clone(), inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A body: JSON (valid, maybe of the wrong shape), or raw bytes (often not
/// UTF-8, often not JSON).
fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => json_value().prop_map(|v| serde_json::to_vec(&v).unwrap()),
        1 => proptest::collection::vec(any::<u8>(), 0..200),
        1 => ".{0,5}".prop_map(|s| format!("{{\"content\": \"{s}\u{FFFD}")
            .into_bytes()),
    ]
}

/// The write routes of a signed-in user, with the ids they need.
fn routes(conversation: &str) -> Vec<(Method, String)> {
    vec![
        (Method::POST, "/api/v1/auth/register".into()),
        (Method::POST, "/api/v1/auth/login".into()),
        (Method::POST, "/api/v1/conversations".into()),
        (
            Method::PATCH,
            format!("/api/v1/conversations/{conversation}"),
        ),
        (
            Method::POST,
            format!("/api/v1/conversations/{conversation}/messages"),
        ),
        (
            Method::POST,
            format!("/api/v1/conversations/{conversation}/feedback"),
        ),
        (Method::PUT, "/api/v1/user/password".into()),
        (Method::POST, "/api/v1/api-keys".into()),
        (Method::POST, "/api/v1/auth/refresh".into()),
    ]
}

async fn send(
    app: &TestApp,
    user: &Session,
    method: &Method,
    path: &str,
    body: Vec<u8>,
) -> (u16, String) {
    let res = app
        .as_user(method.clone(), path, &user.access)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

#[tokio::test]
async fn arbitrary_bodies_get_a_json_4xx_never_a_5xx() {
    let app = spawn_app().await;
    let user = app.signup("minji").await;
    let conversation = app.new_conversation(&user).await;
    let routes = routes(&conversation);

    // Generate the cases first (the runner is synchronous), then send them.
    let mut runner = TestRunner::new(Config {
        cases: 48,
        ..Config::default()
    });
    let mut cases = Vec::new();
    for _ in 0..48 {
        let tree = body().new_tree(&mut runner).unwrap();
        cases.push(tree.current());
    }
    let mut statuses = std::collections::BTreeMap::new();
    for body in cases {
        for (method, path) in &routes {
            let (status, text) = send(&app, &user, method, path, body.clone()).await;
            assert!(
                status < 500,
                "{method} {path} with {:?}: {status} {text}",
                String::from_utf8_lossy(&body)
            );
            if status >= 400 {
                let error: Value = serde_json::from_str(&text)
                    .unwrap_or_else(|_| panic!("{method} {path}: not JSON: {text}"));
                assert!(error["error"].is_string(), "{method} {path}: {text}");
            }
            *statuses.entry(status).or_insert(0) += 1;
        }
    }
    // Some bodies are accepted by chance (a valid title, say); most are not.
    assert!(
        statuses.keys().any(|s| (400..500).contains(s)),
        "{statuses:?}"
    );

    // No model is configured, so no body may have written a message: a
    // question is checked whole before anything is saved.
    let full = app.conversation(&user, &conversation).await;
    assert_eq!(full["messages"], json!([]), "{full}");
}

#[tokio::test]
async fn nesting_far_past_any_real_request_is_a_400_not_a_crash() {
    let app = spawn_app().await;
    let user = app.signup("minji").await;
    for depth in [200usize, 10_000, 400_000] {
        for (open, close) in [("[", "]"), ("{\"a\":", "}")] {
            let body = format!("{}1{}", open.repeat(depth), close.repeat(depth)).into_bytes();
            let (status, text) = send(
                &app,
                &user,
                &Method::POST,
                "/api/v1/conversations",
                body.clone(),
            )
            .await;
            let expected = if body.len() as u64 > 1024 * 1024 {
                413
            } else {
                400
            };
            assert_eq!(status, expected, "depth {depth} {open}: {text}");
            let error: Value = serde_json::from_str(&text).unwrap();
            assert!(error["error"].is_string());
        }
    }
    // The server is fine afterwards.
    let res = app
        .as_user(Method::POST, "/api/v1/conversations", &user.access)
        .json(&json!({"title": "after"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
}

#[tokio::test]
async fn invalid_utf8_in_a_json_string_is_a_400_that_says_so() {
    let app = spawn_app().await;
    let user = app.signup("minji").await;
    let mut body = b"{\"title\": \"".to_vec();
    body.extend_from_slice(&[0xff, 0xfe, 0xc3]);
    body.extend_from_slice(b"\"}");
    let (status, text) = send(&app, &user, &Method::POST, "/api/v1/conversations", body).await;
    assert_eq!(status, 400, "{text}");
    let error: Value = serde_json::from_str(&text).unwrap();
    assert!(
        error["error"].as_str().unwrap().contains("malformed JSON"),
        "{error}"
    );
}

#[tokio::test]
async fn a_nul_character_in_a_search_keyword_is_a_400_that_says_so_not_a_500() {
    let app = spawn_app().await;
    let user = app.signup("minji").await;
    for path in [
        "/api/v1/conversations?q=%00abc",
        "/api/v1/conversations?q=apple,a%00",
        "/api/v1/conversations?q=%00",
        "/api/v1/collector/items?q=%00abc",
        &format!("/api/v1/users/{}/conversations?q=ab%00c", user.id),
    ] {
        let (status, body) = app.call(Method::GET, path, Some(&user), None).await;
        assert_eq!(status, 400, "{path} → {body}");
        assert_eq!(body["code"], "bad_request", "{path}");
        assert!(
            body["error"].as_str().unwrap().contains("NUL"),
            "{path} → {body}"
        );
    }
    // Other control characters are searched for like any other.
    let (status, _) = app.conversations(&user, "q=%01abc").await;
    assert_eq!(status, 200);
}
