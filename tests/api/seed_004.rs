//! Seed 004's simple API under `/simple`: the README's documented requests
//! replayed, each answer compared with the documented shape field by field;
//! per-key model and conversation, kept across a restart on the same file.
//!
//! A key holder speaks through `by_key(..)`; the table of bad requests keeps
//! the generic `call`, since each row is a method and path.

use fake_llm::{answer_text, FakeLlm};
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{assert_shape, spawn_in, Session, TestApp, World};

// The seed's documented answers (its `"permission": [...]` written as `[]`).
const KEY_CREATED: &str = r#"{"api_key": "생성된_API_키", "client_name": "클라이언트 이름",
    "created_at": "2024-03-21T10:30:00.000Z", "expires_at": "2024-04-20T10:30:00.000Z"}"#;
const MESSAGE: &str = r#"{"message": "API 키가 비활성화되었습니다."}"#;
const ERROR: &str = r#"{"error": "에러 메시지"}"#;
const MODELS: &str = r#"{"data": [{"id": "gpt-4", "object": "model", "created": 1677610602,
    "owned_by": "openai", "permission": [], "root": "gpt-4", "parent": null}], "object": "list"}"#;
const MODEL: &str = r#"{"model": "gpt-3.5-turbo"}"#;
const RESPONSE: &str = r#"{"response": "OpenAI 응답 텍스트"}"#;
const HISTORY: &str = r#"[{"role": "user", "content": "사용자 메시지", "timestamp": "2024-03-21T10:30:00.000Z"},
    {"role": "assistant", "content": "어시스턴트 응답", "timestamp": "2024-03-21T10:30:01.000Z"}]"#;

fn seed(text: &str) -> Value {
    serde_json::from_str(text).expect("seed example parses")
}

/// Error answers: the seed's `{"error"}` plus daehwa's `code`.
fn assert_error(body: &Value, at: &str) {
    assert_shape(&seed(ERROR), body, &["code"], at);
}

/// The simple API as one key's holder speaks it (`x-api-key`).
struct Keyed<'a> {
    app: &'a TestApp,
    key: &'a str,
}

fn by_key<'a>(app: &'a TestApp, key: &'a str) -> Keyed<'a> {
    Keyed { app, key }
}

impl Keyed<'_> {
    /// Any request with the key; the status and the JSON body (`Null` when
    /// there is none).
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self.app.request(method, path).header("x-api-key", self.key);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await.unwrap();
        (
            res.status().as_u16(),
            res.json().await.unwrap_or(Value::Null),
        )
    }

    /// `GET /simple/models`.
    async fn models(&self) -> (u16, Value) {
        self.call(Method::GET, "/simple/models", None).await
    }

    /// `GET /simple/model`: the key's model.
    async fn model(&self) -> (u16, Value) {
        self.call(Method::GET, "/simple/model", None).await
    }

    /// `POST /simple/model`: picks the key's model.
    async fn set_model(&self, model: &str) -> (u16, Value) {
        self.call(
            Method::POST,
            "/simple/model",
            Some(json!({ "model": model })),
        )
        .await
    }

    /// `POST /simple/query`: asks, in the key's conversation.
    async fn query(&self, input: &str) -> (u16, Value) {
        self.call(
            Method::POST,
            "/simple/query",
            Some(json!({ "input": input })),
        )
        .await
    }

    /// `GET /simple/history`.
    async fn history(&self) -> (u16, Value) {
        self.call(Method::GET, "/simple/history", None).await
    }

    /// `DELETE /simple/history`.
    async fn clear_history(&self) -> (u16, Value) {
        self.call(Method::DELETE, "/simple/history", None).await
    }

    /// `DELETE /simple/api-keys/{key}` with this key.
    async fn revoke(&self, key: &str) -> (u16, Value) {
        self.call(Method::DELETE, &format!("/simple/api-keys/{key}"), None)
            .await
    }
}

async fn new_key(app: &TestApp, user: &Session, name: &str) -> Value {
    let res = app
        .as_user(Method::POST, "/simple/api-keys", &user.access)
        .json(&json!({"client_name": name, "expires_in_days": 30}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

async fn world() -> (TestApp, FakeLlm, Session) {
    let w = World::builder().api_key(None).user("seojun").build().await;
    (w.app, w.fake, w.user)
}

#[tokio::test]
async fn every_documented_example_is_answered_in_the_seed_s_shape() {
    let (app, _fake, user) = world().await;

    let created = new_key(&app, &user, "클라이언트 이름").await;
    assert_shape(&seed(KEY_CREATED), &created, &[], "POST /api-keys");
    assert_eq!(created["client_name"], "클라이언트 이름");
    let key = created["api_key"].as_str().unwrap().to_string();

    let (status, models) = by_key(&app, &key).models().await;
    assert_eq!(status, 200);
    assert_shape(&seed(MODELS), &models, &[], "GET /models");
    let ids: Vec<String> = models["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect();
    assert!(ids.len() >= 2, "{ids:?}");

    let (status, model) = by_key(&app, &key).model().await;
    assert_eq!(status, 200);
    assert_shape(&seed(MODEL), &model, &[], "GET /model");
    assert_eq!(
        model["model"],
        ids[0].as_str(),
        "the first model by default"
    );

    let (status, set) = by_key(&app, &key).set_model(&ids[1]).await;
    assert_eq!(status, 200);
    assert_shape(&seed(MODEL), &set, &[], "POST /model");
    assert_eq!(set["model"], ids[1].as_str());

    let (status, refused) = by_key(&app, &key).set_model("gpt-4").await;
    assert_eq!(status, 400);
    assert_error(&refused, "POST /model unknown");
    let message = refused["error"].as_str().unwrap();
    assert!(
        message.starts_with("사용할 수 없는 모델입니다. 사용 가능한 모델: "),
        "{message}"
    );
    assert!(
        message.contains(&ids[0]) && message.contains(&ids[1]),
        "{message}"
    );

    let (status, answer) = by_key(&app, &key).query("안녕하세요").await;
    assert_eq!(status, 200, "{answer}");
    assert_shape(&seed(RESPONSE), &answer, &[], "POST /query");
    assert_eq!(answer["response"], answer_text("안녕하세요", 3));

    let (status, history) = by_key(&app, &key).history().await;
    assert_eq!(status, 200);
    assert_shape(&seed(HISTORY), &history, &[], "GET /history");
    assert_eq!(history[0]["role"], "user");
    assert_eq!(history[0]["content"], "안녕하세요");
    assert_eq!(history[1]["role"], "assistant");
    assert_eq!(history[1]["content"], answer["response"]);

    // The running conversation is an ordinary one, answered by the key's model.
    let res = app
        .as_user(Method::GET, "/api/v1/conversations", &user.access)
        .send()
        .await
        .unwrap();
    let listed: Value = res.json().await.unwrap();
    let conversation = listed["conversations"][0]["id"].as_str().unwrap();
    let native = app.conversation(&user, conversation).await;
    assert_eq!(native["messages"][1]["model_id"], ids[1].as_str());

    let (status, cleared) = by_key(&app, &key).clear_history().await;
    assert_eq!(status, 200);
    assert_shape(&seed(MESSAGE), &cleared, &[], "DELETE /history");
    let (_, history) = by_key(&app, &key).history().await;
    assert_eq!(history, json!([]));
    // Nothing is lost: the conversation stays in the user's list.
    app.conversation(&user, conversation).await;

    let (status, revoked) = by_key(&app, &key).revoke(&key).await;
    assert_eq!(status, 200);
    assert_shape(&seed(MESSAGE), &revoked, &[], "DELETE /api-keys");
    let (status, denied) = by_key(&app, &key).model().await;
    assert_eq!(status, 401);
    assert_error(&denied, "revoked key");
    let again = app
        .as_user(
            Method::DELETE,
            &format!("/simple/api-keys/{key}"),
            &user.access,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 404, "already revoked");
    assert_error(&again.json().await.unwrap(), "already revoked");
}

#[tokio::test]
async fn each_key_keeps_its_own_model_and_conversation_across_a_restart() {
    let (app, fake, user) = world().await;
    let a = new_key(&app, &user, "a").await["api_key"]
        .as_str()
        .unwrap()
        .to_string();
    let b = new_key(&app, &user, "b").await["api_key"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, models) = by_key(&app, &a).models().await;
    let second = models["data"][1]["id"].as_str().unwrap().to_string();
    let first = models["data"][0]["id"].as_str().unwrap().to_string();
    by_key(&app, &a).set_model(&second).await;
    let (status, _) = by_key(&app, &a).query("one").await;
    assert_eq!(status, 200);
    let (status, _) = by_key(&app, &b).query("other").await;
    assert_eq!(status, 200);
    let (_, model_b) = by_key(&app, &b).model().await;
    assert_eq!(
        model_b["model"],
        first.as_str(),
        "b did not change its model"
    );

    // Restart on the same database file.
    let (dir, db) = app.stop().await;
    let app = spawn_in(dir, db, |_| {}).await;
    let (_, model_a) = by_key(&app, &a).model().await;
    assert_eq!(model_a["model"], second.as_str());
    let (_, history_a) = by_key(&app, &a).history().await;
    assert_eq!(history_a.as_array().unwrap().len(), 2);
    assert_eq!(history_a[0]["content"], "one");

    // The next query continues a's conversation: the provider gets the earlier turn.
    fake.reset();
    let (status, _) = by_key(&app, &a).query("two").await;
    assert_eq!(status, 200);
    let sent = fake
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("/chat/completions") && r.body["stream"] == true)
        .unwrap();
    assert_eq!(sent.body["model"], second.as_str());
    let contents: Vec<&str> = sent.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(contents.first(), Some(&"one"));
    assert_eq!(contents.last(), Some(&"two"));
    assert!(!contents.contains(&"other"), "b's conversation is its own");
    let (_, history_a) = by_key(&app, &a).history().await;
    assert_eq!(history_a.as_array().unwrap().len(), 4);
    let (_, history_b) = by_key(&app, &b).history().await;
    assert_eq!(history_b.as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn bad_requests_get_the_seed_s_error_shape_and_statuses() {
    let (app, _fake, user) = world().await;
    let key = new_key(&app, &user, "k").await["api_key"]
        .as_str()
        .unwrap()
        .to_string();
    let cases: Vec<(Method, &str, Option<Value>, u16, &str)> = vec![
        (
            Method::POST,
            "/simple/query",
            Some(json!({"input": "  "})),
            400,
            "empty input",
        ),
        (
            Method::POST,
            "/simple/query",
            Some(json!({"text": "hi"})),
            400,
            "wrong field",
        ),
        (
            Method::POST,
            "/simple/query",
            Some(json!({"input": 3})),
            400,
            "input not a string",
        ),
        (
            Method::POST,
            "/simple/model",
            Some(json!({})),
            400,
            "no model",
        ),
        (Method::GET, "/simple/nope", None, 404, "unknown route"),
        (Method::PUT, "/simple/model", None, 405, "wrong method"),
        (
            Method::DELETE,
            "/simple/api-keys/dk_unknown",
            None,
            403,
            "a key revoking another key (only a session may)",
        ),
    ];
    for (method, path, body, want, why) in cases {
        let (status, answer) = by_key(&app, &key).call(method, path, body).await;
        assert_eq!(status, want, "{why}: {answer}");
        assert_error(&answer, why);
    }
    // No key, a wrong key, or a sign-in without a key on a per-key route: 401.
    let none = app
        .request(Method::GET, "/simple/model")
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), 401);
    assert_error(&none.json().await.unwrap(), "no key");
    let (status, _) = by_key(&app, "dk_wrong").history().await;
    assert_eq!(status, 401);
    let jwt = app
        .as_user(Method::GET, "/simple/model", &user.access)
        .send()
        .await
        .unwrap();
    assert_eq!(jwt.status(), 401);
    // Creating a key needs a signed-in user (the seed left it open).
    let open = app
        .request(Method::POST, "/simple/api-keys")
        .json(&json!({"client_name": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(open.status(), 401);
    // Another user's key cannot be revoked by this one.
    let other = app.signup("other").await;
    let res = app
        .as_user(
            Method::DELETE,
            &format!("/simple/api-keys/{key}"),
            &other.access,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let (status, _) = by_key(&app, &key).model().await;
    assert_eq!(status, 200, "still valid");
}
