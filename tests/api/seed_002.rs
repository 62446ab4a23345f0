//! Seed 002's dialect at `/v1/llm/…`: every documented request replayed
//! against the real server, each answer compared with the seed's documented
//! answer field by field (same names, same JSON types, times in RFC 3339), and
//! sessions shown to be the native API's conversations.
//!
//! The dialect has its own small client (methods on `World`); the table of
//! bad requests keeps the generic `call`, since each row is a method and path.

use fake_llm::{answer_text, Behavior, FakeLlm};
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{assert_shape, Session, TestApp};

// The seed's documented answers, copied from seeds/002 (its two trailing
// commas removed so that they parse as JSON).
const MODELS: &str = r#"{"models": [{"vendor": "Meta", "id": "llama3", "name": "Llama 3",
    "description": "성능이 향상된 차세대 Llama 시리즈 언어 모델."}]}"#;
const CREATED: &str = r#"{"session_id": "123e4567-e89b-12d3-a456-426614174000"}"#;
const SESSIONS: &str = r#"{"sessions": [{"session_id": "123e4567-e89b-12d3-a456-426614174000",
    "title": "우리 강아지가 갑자기 토하고 설사를 ...", "created_at": "2024-01-01T12:00:00Z",
    "updated_at": "2024-01-01T12:30:00Z"}]}"#;
const SESSION: &str = r#"{"session_id": "123e4567-e89b-12d3-a456-426614174000",
    "title": "우리 강아지가 갑자기 토하고 설사를 ...", "created_at": "2024-01-01T12:00:00Z",
    "updated_at": "2024-01-01T12:30:00Z"}"#;
const ANSWER: &str = r#"{"message_idx": "1", "answer": "그런 경우 수의사에게 즉시 상담하는 것이 좋습니다.",
    "created_at": "2024-01-01T12:00:00Z", "updated_at": "2024-01-01T12:00:00Z"}"#;
const MESSAGES: &str = r#"{"messages": [{"message_idx": "1", "content": "우리 강아지가 갑자기 토하고 설사를 해요.",
    "answer": "그런 경우 수의사에게 즉시 상담하는 것이 좋습니다.", "created_at": "2024-01-01T12:00:00Z",
    "updated_at": "2024-01-01T12:00:00Z"}]}"#;
const REGENERATED: &str = r#"{"message_idx": "2", "awswer": "강아지가 음식을 잘 못 먹은 경우 …",
    "created_at": "2024-01-01T12:15:00Z", "updated_at": "2024-01-01T12:15:00Z"}"#;

fn seed(text: &str) -> Value {
    serde_json::from_str(text).expect("seed example parses")
}

struct World {
    app: TestApp,
    _fake: FakeLlm,
    user: Session,
    model: String,
}

async fn world() -> World {
    let w = crate::helpers::World::builder()
        .fake(Behavior {
            tokens: 6,
            ..Behavior::default()
        })
        .api_key(None)
        .user("dahye")
        .build()
        .await;
    World {
        model: w.model(),
        app: w.app,
        _fake: w.fake,
        user: w.user,
    }
}

/// Seed 002's dialect as the user speaks it.
impl World {
    /// Any request; the status and the JSON body (`Null` when there is none).
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        call(&self.app, &self.user, method, path, body).await
    }

    /// `POST /v1/llm/sessions`.
    async fn create_session(&self, body: Option<Value>) -> (u16, Value) {
        self.call(Method::POST, "/v1/llm/sessions", body).await
    }

    /// `GET /v1/llm/sessions`.
    async fn sessions(&self) -> (u16, Value) {
        self.call(Method::GET, "/v1/llm/sessions", None).await
    }

    /// `GET /v1/llm/sessions/{id}`.
    async fn session(&self, id: &str) -> (u16, Value) {
        self.call(Method::GET, &format!("/v1/llm/sessions/{id}"), None)
            .await
    }

    /// `DELETE /v1/llm/sessions/{id}`.
    async fn delete_session(&self, id: &str) -> (u16, Value) {
        self.call(Method::DELETE, &format!("/v1/llm/sessions/{id}"), None)
            .await
    }

    /// `POST /v1/llm/sessions/{id}/messages`: a question, answered.
    async fn add_message(&self, id: &str, body: Value) -> (u16, Value) {
        self.call(
            Method::POST,
            &format!("/v1/llm/sessions/{id}/messages"),
            Some(body),
        )
        .await
    }

    /// `GET /v1/llm/sessions/{id}/messages`.
    async fn messages(&self, id: &str) -> (u16, Value) {
        self.call(
            Method::GET,
            &format!("/v1/llm/sessions/{id}/messages"),
            None,
        )
        .await
    }

    /// `PATCH /v1/llm/sessions/{id}/messages`: the last question edited.
    async fn edit_last(&self, id: &str, body: Value) -> (u16, Value) {
        self.call(
            Method::PATCH,
            &format!("/v1/llm/sessions/{id}/messages"),
            Some(body),
        )
        .await
    }

    /// `DELETE /v1/llm/sessions/{id}/messages`: the last exchange removed.
    async fn delete_last(&self, id: &str) -> (u16, Value) {
        self.call(
            Method::DELETE,
            &format!("/v1/llm/sessions/{id}/messages"),
            None,
        )
        .await
    }

    /// `POST /v1/llm/sessions/{id}/regenerate`.
    async fn regenerate(&self, id: &str, body: Value) -> (u16, Value) {
        self.call(
            Method::POST,
            &format!("/v1/llm/sessions/{id}/regenerate"),
            Some(body),
        )
        .await
    }
}

async fn call(
    app: &TestApp,
    user: &Session,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = app.as_user(method, path, &user.access);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[tokio::test]
async fn every_documented_example_is_answered_in_the_seed_s_shape() {
    let w = world().await;

    // GET /v1/llm/models (no header in the seed: public).
    let res = w.app.get("/v1/llm/models").await;
    assert_eq!(res.status(), 200);
    let models: Value = res.json().await.unwrap();
    assert_shape(&seed(MODELS), &models, &[], "models");
    assert_eq!(models["models"][0]["id"], w.model.as_str());

    // POST /v1/llm/sessions, no body → 201 {session_id}.
    let res = w
        .app
        .as_user(Method::POST, "/v1/llm/sessions", &w.user.access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.unwrap();
    assert_shape(&seed(CREATED), &created, &[], "create");
    let id = created["session_id"].as_str().unwrap().to_string();

    // POST …/messages with the seed's `"model id"` (with a space).
    let question = "우리 강아지가 갑자기 토하고 설사를 해요.";
    let (status, first) = w
        .add_message(&id, json!({"content": question, "model id": w.model}))
        .await;
    assert_eq!(status, 201, "{first}");
    assert_shape(&seed(ANSWER), &first, &[], "add");
    assert_eq!(first["message_idx"], "1");
    assert_eq!(first["answer"], answer_text(question, 6));

    // …and with `model_id`.
    let second_q = "강아지가 먹은 음식이 이상한 것 같아요.";
    let (status, second) = w
        .add_message(&id, json!({"content": second_q, "model_id": w.model}))
        .await;
    assert_eq!(status, 201, "{second}");
    assert_eq!(second["message_idx"], "2");

    // GET /v1/llm/sessions and /v1/llm/sessions/{id}.
    let (status, sessions) = w.sessions().await;
    assert_eq!(status, 200);
    assert_shape(&seed(SESSIONS), &sessions, &[], "sessions");
    assert_eq!(sessions["sessions"][0]["session_id"], id.as_str());
    let (status, one) = w.session(&id).await;
    assert_eq!(status, 200);
    assert_shape(&seed(SESSION), &one, &[], "session");
    assert!(
        !one["title"].as_str().unwrap().is_empty(),
        "titled after the first answer"
    );

    // GET …/messages: the exchanges in order.
    let (status, listed) = w.messages(&id).await;
    assert_eq!(status, 200);
    assert_shape(&seed(MESSAGES), &listed, &[], "messages");
    let items = listed["messages"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["content"], question);
    assert_eq!(items[1]["message_idx"], "2");
    assert_eq!(items[1]["answer"], answer_text(second_q, 6));

    // PATCH …/messages: the last question edited (the seed's body).
    let edited_q = "강아지가 음식을 잘 못 먹은 것 같아요.";
    let (status, edited) = w
        .edit_last(
            &id,
            json!({"message_idx": "2", "content": edited_q, "model id": w.model}),
        )
        .await;
    assert_eq!(status, 200, "{edited}");
    assert_shape(&seed(ANSWER), &edited, &[], "edit");
    assert_eq!(edited["message_idx"], "2");
    let (_, listed) = w.messages(&id).await;
    assert_eq!(listed["messages"][1]["content"], edited_q);

    // POST …/regenerate with the seed's body (its `content` is the question again).
    let (status, again) = w
        .regenerate(&id, json!({"content": edited_q, "model_id": w.model}))
        .await;
    assert_eq!(status, 200, "{again}");
    assert_shape(&seed(REGENERATED), &again, &["answer"], "regenerate");
    assert_eq!(again["awswer"], again["answer"]);
    assert_eq!(again["message_idx"], "2");

    // The same conversation in the native API: the edit and the regeneration
    // are versions (siblings), as in the web app.
    let native = w.app.conversation(&w.user, &id).await;
    let thread = native["messages"].as_array().unwrap();
    assert_eq!(thread.len(), 4);
    assert_eq!(thread[2]["content"], edited_q);
    assert_eq!(thread[2]["sibling_ids"].as_array().unwrap().len(), 2);
    assert_eq!(thread[3]["sibling_ids"].as_array().unwrap().len(), 2);

    // DELETE …/messages: the last exchange goes.
    let (status, _) = w.delete_last(&id).await;
    assert_eq!(status, 204);
    let (_, listed) = w.messages(&id).await;
    assert_eq!(listed["messages"].as_array().unwrap().len(), 1);

    // DELETE /v1/llm/sessions/{id}: gone for both APIs.
    let (status, _) = w.delete_session(&id).await;
    assert_eq!(status, 204);
    let (status, gone) = w.session(&id).await;
    assert_eq!(status, 404);
    assert_eq!(gone["code"], "not_found");
}

#[tokio::test]
async fn a_conversation_started_in_the_web_app_is_a_session_and_vice_versa() {
    let w = world().await;
    let native = w.app.new_conversation(&w.user).await;
    let (_, sessions) = w.sessions().await;
    assert_eq!(sessions["sessions"][0]["session_id"], native.as_str());

    let (_, created) = w.create_session(Some(json!({}))).await;
    let id = created["session_id"].as_str().unwrap();
    let (status, _) = w
        .add_message(id, json!({"content": "hello", "model id": w.model}))
        .await;
    assert_eq!(status, 201);
    let conversation = w.app.conversation(&w.user, id).await;
    assert_eq!(
        conversation["messages"][1]["content"],
        answer_text("hello", 6)
    );
    assert_eq!(conversation["messages"][1]["model_id"], w.model.as_str());
}

#[tokio::test]
async fn bad_requests_and_other_users_sessions_get_clear_errors() {
    let w = world().await;
    let (_, created) = w.create_session(None).await;
    let id = created["session_id"].as_str().unwrap().to_string();
    let messages = format!("/v1/llm/sessions/{id}/messages");
    let (status, _) = w
        .add_message(&id, json!({"content": "first", "model id": w.model}))
        .await;
    assert_eq!(status, 201);

    let cases: Vec<(Method, String, Value, u16, &str)> = vec![
        (
            Method::POST,
            messages.clone(),
            json!({"content": ""}),
            422,
            "empty content",
        ),
        (
            Method::POST,
            messages.clone(),
            json!({"model id": w.model}),
            422,
            "no content",
        ),
        (
            Method::POST,
            messages.clone(),
            json!({"content": 5}),
            400,
            "content not a string",
        ),
        (
            Method::POST,
            messages.clone(),
            json!({"content": "x", "model id": "nope"}),
            422,
            "unknown model",
        ),
        (
            Method::POST,
            messages.clone(),
            json!({"content": "x", "modle_id": "m"}),
            400,
            "unknown field",
        ),
        (
            Method::PATCH,
            messages.clone(),
            json!({"message_idx": "7", "content": "x"}),
            409,
            "not the last message",
        ),
        (
            Method::PATCH,
            messages.clone(),
            json!({"message_idx": "two", "content": "x"}),
            422,
            "message_idx not a number",
        ),
        (
            Method::POST,
            "/v1/llm/sessions".into(),
            json!({"model_id": "nope"}),
            422,
            "unknown model at creation",
        ),
        (
            Method::GET,
            "/v1/llm/sessions/not-a-session".into(),
            Value::Null,
            404,
            "unknown session",
        ),
        (
            Method::DELETE,
            "/v1/llm/sessions/not-a-session/messages".into(),
            Value::Null,
            404,
            "unknown session",
        ),
    ];
    for (method, path, body, want, why) in cases {
        let body = (!body.is_null()).then_some(body);
        let (status, answer) = w.call(method, &path, body).await;
        assert_eq!(status, want, "{why}: {answer}");
        assert!(
            answer["error"].is_string() && answer["code"].is_string(),
            "{why}: {answer}"
        );
    }
    let malformed = w
        .app
        .as_user(Method::POST, &messages, &w.user.access)
        .header("content-type", "application/json")
        .body("{\"content\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);

    // Another user sees nothing of it: 404, never 403.
    let other = w.app.signup("stranger").await;
    for (method, path) in [
        (Method::GET, format!("/v1/llm/sessions/{id}")),
        (Method::GET, messages.clone()),
        (Method::DELETE, format!("/v1/llm/sessions/{id}")),
        (Method::DELETE, messages.clone()),
        (Method::POST, format!("/v1/llm/sessions/{id}/regenerate")),
    ] {
        let (status, _) = call(&w.app, &other, method.clone(), &path, None).await;
        assert_eq!(status, 404, "{method} {path}");
    }
    let (_, theirs) = call(&w.app, &other, Method::GET, "/v1/llm/sessions", None).await;
    assert_eq!(theirs["sessions"], json!([]));

    // Without credentials: 401.
    let res = w.app.get("/v1/llm/sessions").await;
    assert_eq!(res.status(), 401);
}
