//! The OpenAI-compatible gateway (`/v1/models`, `/v1/chat/completions`) over
//! real HTTP, with a daehwa API key, against the fake provider speaking
//! OpenAI's and Anthropic's protocols.

use fake_llm::{answer_text, Behavior, FakeLlm};
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{eventually, parse_sse, Session, TestApp, World};

pub struct Gateway {
    pub app: TestApp,
    pub fake: FakeLlm,
    pub user: Session,
    pub key: String,
    pub model: String,
}

/// A server with one connection of `kind` to the fake, a user and an API key.
pub async fn gateway(kind: &'static str, behavior: Behavior) -> Gateway {
    let w = World::builder()
        .fake(behavior)
        .kind(kind)
        .api_key(Some("up-key"))
        .user("jisoo")
        .build()
        .await;
    let key = api_key(&w.app, &w.user, "sdk").await;
    Gateway {
        model: w.model(),
        app: w.app,
        fake: w.fake,
        user: w.user,
        key,
    }
}

/// Creates an API key for `user` through the native API.
pub async fn api_key(app: &TestApp, user: &Session, name: &str) -> String {
    let res = app
        .as_user(Method::POST, "/api/v1/api-keys", &user.access)
        .json(&json!({"client_name": name}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    body["api_key"].as_str().unwrap().to_string()
}

impl Gateway {
    async fn chat(&self, body: Value) -> reqwest::Response {
        self.app
            .request(Method::POST, "/v1/chat/completions")
            .bearer_auth(&self.key)
            .json(&body)
            .send()
            .await
            .unwrap()
    }
}

/// Asserts OpenAI's error shape and returns the error object.
async fn openai_error(res: reqwest::Response, status: u16) -> Value {
    assert_eq!(res.status(), status);
    let body: Value = res.json().await.unwrap();
    let err = &body["error"];
    assert!(
        err["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert!(err["type"].is_string(), "{body}");
    assert!(err.get("code").is_some(), "{body}");
    err.clone()
}

#[tokio::test]
async fn models_are_listed_in_openai_shape_for_a_key_and_refused_without_one() {
    let g = gateway("openai", Behavior::default()).await;
    let res = g
        .app
        .request(Method::GET, "/v1/models")
        .bearer_auth(&g.key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["object"], "list");
    let ids: Vec<&str> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            assert_eq!(m["object"], "model");
            assert!(m["created"].is_i64() && m["owned_by"].is_string());
            m["id"].as_str().unwrap()
        })
        .collect();
    assert!(ids.contains(&g.model.as_str()), "{ids:?}");

    let one = g
        .app
        .request(Method::GET, &format!("/v1/models/{}", g.model))
        .header("x-api-key", &g.key)
        .send()
        .await
        .unwrap();
    assert_eq!(one.status(), 200);
    assert_eq!(one.json::<Value>().await.unwrap()["id"], g.model.as_str());

    let none = g
        .app
        .request(Method::GET, "/v1/models")
        .send()
        .await
        .unwrap();
    let err = openai_error(none, 401).await;
    assert_eq!(err["code"], "invalid_api_key");
    let bad = g
        .app
        .request(Method::GET, "/v1/models")
        .bearer_auth("dk_not-a-real-key")
        .send()
        .await
        .unwrap();
    assert_eq!(openai_error(bad, 401).await["code"], "invalid_api_key");
}

#[tokio::test]
async fn a_completion_is_answered_by_the_model_s_connection_and_its_usage_counted_against_the_key()
{
    let g = gateway(
        "openai",
        Behavior {
            tokens: 4,
            ..Behavior::default()
        },
    )
    .await;
    let res = g
        .chat(json!({
            "model": g.model,
            "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": "hello there"}
            ],
            "temperature": 0.2
        }))
        .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["model"], g.model.as_str());
    assert!(body["id"].as_str().unwrap().starts_with("chatcmpl-"));
    let choice = &body["choices"][0];
    assert_eq!(choice["message"]["role"], "assistant");
    assert_eq!(choice["message"]["content"], answer_text("hello there", 4));
    assert_eq!(choice["finish_reason"], "stop");
    let usage = &body["usage"];
    assert_eq!(usage["completion_tokens"], 4);
    assert_eq!(
        usage["total_tokens"].as_u64().unwrap(),
        usage["prompt_tokens"].as_u64().unwrap() + 4
    );

    // The provider got the conversation with the upstream key, not ours.
    let seen = g.fake.requests();
    let call = seen
        .iter()
        .find(|r| r.path.ends_with("/chat/completions"))
        .unwrap();
    assert_eq!(call.header("authorization"), Some("Bearer up-key"));
    assert_eq!(call.body["messages"][0]["content"], "be brief");
    assert_eq!(call.body["messages"][1]["content"], "hello there");

    // One usage row against the user and the key (written just after the answer).
    let rows = eventually("the gateway usage row", async || {
        let conn = rusqlite::Connection::open(&g.app.db_path).unwrap();
        let mut stmt = conn
            .prepare(
                "SELECT g.user_id, k.client_name, g.model_id, g.completion_tokens, g.status
                 FROM gateway_usage g JOIN api_key k ON k.id = g.api_key_id",
            )
            .unwrap();
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, String>(4)?,
                ))
            })
            .unwrap()
            .map(Result::unwrap)
            .collect::<Vec<_>>();
        (!rows.is_empty()).then_some(rows)
    })
    .await;
    assert_eq!(
        rows,
        [(
            g.user.id.clone(),
            "sdk".to_string(),
            g.model.clone(),
            4,
            "complete".to_string()
        )]
    );
}

#[tokio::test]
async fn an_anthropic_answer_streams_as_openai_chunks_ending_with_done() {
    let g = gateway(
        "anthropic",
        Behavior {
            tokens: 5,
            ..Behavior::default()
        },
    )
    .await;
    let res = g
        .chat(json!({
            "model": g.model,
            "messages": [{"role": "user", "content": "강아지가 아파요"}],
            "stream": true,
            "stream_options": {"include_usage": true}
        }))
        .await;
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let events = parse_sse(&res.text().await.unwrap());
    assert_eq!(events.last().unwrap().data, Value::String("[DONE]".into()));
    let chunks: Vec<&Value> = events[..events.len() - 1].iter().map(|e| &e.data).collect();
    let id = chunks[0]["id"].as_str().unwrap();
    for c in &chunks {
        assert_eq!(c["object"], "chat.completion.chunk");
        assert_eq!(c["id"], id, "one id for the whole answer");
        assert_eq!(c["model"], g.model.as_str());
    }
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, answer_text("강아지가 아파요", 5));
    let finish = chunks
        .iter()
        .filter(|c| c["choices"][0]["finish_reason"] == "stop")
        .count();
    assert_eq!(finish, 1);
    let usage = chunks.last().unwrap();
    assert_eq!(usage["choices"], json!([]));
    assert_eq!(usage["usage"]["completion_tokens"], 5);
    // The provider was called with Anthropic's protocol.
    assert!(g.fake.requests().iter().any(|r| r.path == "/v1/messages"));
}

#[tokio::test]
async fn an_unknown_model_is_a_404_model_not_found() {
    let g = gateway("openai", Behavior::default()).await;
    let err = openai_error(
        g.chat(json!({"model": "no-such-model", "messages": [{"role": "user", "content": "hi"}]}))
            .await,
        404,
    )
    .await;
    assert_eq!(err["code"], "model_not_found");
    assert_eq!(err["param"], "model");
}

#[tokio::test]
async fn bad_requests_get_openai_shaped_400s_413s_405s_and_404s() {
    let g = gateway("openai", Behavior::default()).await;
    let user = |c: &str| json!([{"role": "user", "content": c}]);
    let cases: Vec<(Value, &str)> = vec![
        (json!({"messages": user("hi")}), "no model"),
        (json!({"model": g.model}), "no messages"),
        (json!({"model": g.model, "messages": []}), "empty messages"),
        (
            json!({"model": g.model, "messages": "hi"}),
            "messages not a list",
        ),
        (
            json!({"model": g.model, "messages": user("hi"), "n": 2}),
            "n > 1",
        ),
        (
            json!({"model": g.model, "messages": [{"role": "tool", "content": "x"}]}),
            "tool role",
        ),
        (
            json!({"model": g.model, "messages": user("hi"), "tools": [{"type": "function"}]}),
            "tools",
        ),
        (
            json!({"model": g.model, "messages": user("hi"), "stream": "yes"}),
            "stream not bool",
        ),
    ];
    for (body, why) in cases {
        let res = g.chat(body).await;
        assert_eq!(res.status(), 400, "{why}");
        let err = openai_error(res, 400).await;
        assert_eq!(err["type"], "invalid_request_error", "{why}");
    }
    let malformed = g
        .app
        .request(Method::POST, "/v1/chat/completions")
        .bearer_auth(&g.key)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    openai_error(malformed, 400).await;
    let huge = g
        .chat(json!({"model": g.model, "messages": user(&"x".repeat(2 * 1024 * 1024))}))
        .await;
    openai_error(huge, 413).await;
    let wrong_method = g
        .app
        .request(Method::GET, "/v1/chat/completions")
        .bearer_auth(&g.key)
        .send()
        .await
        .unwrap();
    openai_error(wrong_method, 405).await;
    let unknown = g
        .app
        .request(Method::POST, "/v1/embeddings")
        .bearer_auth(&g.key)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    openai_error(unknown, 404).await;
    for path in ["/v1", "/v1/", "/v1/models/x/y"] {
        let res = g.app.get(path).await;
        assert_eq!(res.headers()["content-type"], "application/json", "{path}");
        openai_error(res, 404).await;
    }
    // The provider was never called for any of them.
    assert!(g
        .fake
        .requests()
        .iter()
        .all(|r| !r.path.ends_with("/chat/completions")));
}

#[tokio::test]
async fn provider_failures_are_429_for_rate_limits_and_502_otherwise() {
    let g = gateway("openai", Behavior::default()).await;
    g.fake.set(Behavior {
        fail_with: Some((429, 10)),
        ..Behavior::default()
    });
    let body = json!({"model": g.model, "messages": [{"role": "user", "content": "hi"}]});
    let res = g.chat(body.clone()).await;
    assert!(res.headers().contains_key("retry-after"));
    assert_eq!(openai_error(res, 429).await["type"], "rate_limit_error");

    g.fake.set(Behavior {
        fail_with: Some((500, 10)),
        ..Behavior::default()
    });
    let mut streamed = body.clone();
    streamed["stream"] = json!(true);
    openai_error(g.chat(streamed).await, 502).await;
}

#[tokio::test]
async fn a_failure_after_the_first_token_ends_the_stream_with_an_error_object() {
    let g = gateway("openai", Behavior::default()).await;
    let res = g
        .chat(json!({
            "model": g.model,
            "messages": [{"role": "user", "content": "hi [[drop:2]]"}],
            "stream": true
        }))
        .await;
    assert_eq!(res.status(), 200);
    let events = parse_sse(&res.text().await.unwrap());
    let last = &events.last().unwrap().data;
    assert!(last["error"]["message"].is_string(), "{events:?}");
    assert!(events
        .iter()
        .all(|e| e.data != Value::String("[DONE]".into())));
}

#[tokio::test]
async fn a_client_that_goes_away_mid_stream_stops_the_upstream_call_and_its_usage_is_kept() {
    let g = gateway("openai", Behavior::default()).await;
    let mut res = g
        .chat(json!({
            "model": g.model,
            "messages": [{"role": "user", "content": "long answer [[tokens:200]] [[delay:50]]"}],
            "stream": true
        }))
        .await;
    assert_eq!(res.status(), 200);
    let first = res.chunk().await.unwrap().expect("a first chunk");
    assert!(!first.is_empty());
    drop(res);
    // The reader notices the cancel within a token or two: the row says `stopped`
    // with far fewer than 200 completion tokens.
    let (status, tokens) = eventually("a usage row", async || {
        let conn = rusqlite::Connection::open(&g.app.db_path).unwrap();
        conn.query_row(
            "SELECT status, completion_tokens FROM gateway_usage",
            [],
            |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)),
        )
        .ok()
    })
    .await;
    assert_eq!(status, "stopped");
    assert!(
        tokens < 200,
        "{tokens} tokens: the upstream call was not stopped"
    );
}

#[tokio::test]
async fn the_callers_plan_applies_through_the_gateway_before_the_provider_is_called() {
    let w = World::builder()
        .api_key(Some("up-key"))
        .user("jisoo")
        .build()
        .await;
    let (app, fake, admin, user) = (&w.app, &w.fake, &w.admin, &w.user);
    let model = w.model();
    let res = app
        .as_user(Method::POST, "/api/v1/admin/plans", &admin.access)
        .json(&json!({"name": "Free", "daily_message_limit": 1, "is_default": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let key = api_key(app, user, "sdk").await;
    let chat = |content: &'static str| {
        app.request(Method::POST, "/v1/chat/completions")
            .bearer_auth(&key)
            .json(&json!({"model": model, "messages": [{"role": "user", "content": content}]}))
            .send()
    };
    assert_eq!(
        chat("first through the gateway").await.unwrap().status(),
        200
    );
    let refused = chat("second over the daily limit").await.unwrap();
    assert_eq!(refused.status(), 429);
    assert!(refused.headers().contains_key("retry-after"));
    let body: Value = refused.json().await.unwrap();
    assert!(
        body["error"]["message"].as_str().unwrap().contains("Free"),
        "{body}"
    );
    assert!(body["error"]["type"].is_string(), "{body}");
    let asked = fake
        .requests()
        .iter()
        .filter(|r| {
            r.body["messages"]
                .to_string()
                .contains("over the daily limit")
        })
        .count();
    assert_eq!(asked, 0, "the provider was not called");
}
