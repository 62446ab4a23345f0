//! What one person's data must not show to another: an admin's system prompt
//! behind a published sample, a provider's raw error text behind a failed
//! answer (kept for admins only).

use reqwest::Method;
use serde_json::json;

use crate::helpers::{spawn_app, world};

#[tokio::test]
async fn cloning_a_sample_does_not_hand_out_the_publishing_admins_system_prompt() {
    let w = world().await;
    let app = &w.app;
    let secret = "내부 지침: 고객 등급 코드는 VIP-7731";
    let (status, conv) = app
        .create_conversation(&w.admin, json!({"title": "예시", "system_prompt": secret}))
        .await;
    assert_eq!(status, 201, "{conv}");
    let conv = conv["id"].as_str().unwrap().to_string();
    assert_eq!(app.ask(&w.admin, &conv, "안녕하세요").await.0, 201);
    let (status, sample) = app
        .create_sample(&w.admin, json!({"conversation_id": conv}))
        .await;
    assert_eq!(status, 201, "{sample}");
    let id = sample["id"].as_str().unwrap();

    let (status, clone) = app.clone_sample(&w.user, id).await;
    assert_eq!(status, 201, "{clone}");
    assert_eq!(clone["system_prompt"], "");
    let cloned = app
        .conversation(&w.user, clone["id"].as_str().unwrap())
        .await;
    assert_eq!(cloned["system_prompt"], "");
    assert_eq!(cloned["messages"][0]["content"], "안녕하세요");
    for seen in [&clone, &cloned, &sample] {
        assert!(!seen.to_string().contains("VIP-7731"), "{seen}");
    }
    let (_, read) = app.sample(&w.user, id).await;
    assert!(!read.to_string().contains("VIP-7731"), "{read}");
    // The admin's own conversation keeps it.
    assert_eq!(
        app.conversation(&w.admin, &conv).await["system_prompt"],
        secret
    );
}

/// What a careless upstream puts in its error body.
const LEAKY_BODY: &str = "Traceback (most recent call last): POST \
    http://10.20.30.40:8443/internal/v1/chat?api_key=sk-live-SECRET-9f8e7d failed";

/// An OpenAI-compatible upstream on 127.0.0.1 that lists one model and
/// answers every chat with a 500 whose body leaks internals.
async fn leaky_upstream() -> String {
    use warp::Filter;
    let models = warp::path!("v1" / "models").and(warp::get()).map(|| {
        warp::reply::json(
            &json!({"object": "list", "data": [{"id": "leaky-1", "object": "model"}]}),
        )
    });
    let chat = warp::path!("v1" / "chat" / "completions")
        .and(warp::post())
        .map(|| {
            warp::reply::with_status(
                warp::reply::json(
                    &json!({"error": {"message": LEAKY_BODY, "type": "server_error"}}),
                ),
                warp::http::StatusCode::INTERNAL_SERVER_ERROR,
            )
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(warp::serve(models.or(chat)).incoming(listener).run());
    format!("http://{addr}/v1")
}

fn leaks(text: &str) -> bool {
    text.contains("sk-live") || text.contains("10.20.30.40") || text.contains("Traceback")
}

#[tokio::test]
async fn a_providers_error_text_is_kept_for_admins_and_users_see_a_clear_message_with_the_status() {
    let app = spawn_app().await;
    let admin = app.signup("admin").await;
    let user = app.signup("minji").await;
    let upstream = leaky_upstream().await;
    app.add_connection(&admin, "openai", &upstream, Some("k"))
        .await;

    // The web app, streamed: the error event.
    let conv = app.new_conversation(&user).await;
    let events = app.ask_streamed(&user, &conv, "안녕").await;
    let last = events.last().unwrap();
    assert_eq!(last.event, "error", "{events:?}");
    assert!(!leaks(&last.data.to_string()), "{}", last.data);
    assert_eq!(
        last.data["error"],
        "the model's provider answered with an error (HTTP 500)"
    );
    assert_eq!(last.data["code"], "upstream_error");

    // The stored message, and the answer of a request that waits for it.
    let saved = app.conversation(&user, &conv).await;
    assert!(!leaks(&saved.to_string()), "{saved}");
    assert_eq!(saved["messages"][1]["status"], "error");
    assert!(saved["messages"][1]["error"]
        .as_str()
        .unwrap()
        .contains("HTTP 500"));
    let other = app.new_conversation(&user).await;
    let (status, body) = app.ask(&user, &other, "안녕").await;
    assert!(status >= 500, "{status} {body}");
    assert!(!leaks(&body.to_string()), "{body}");

    // The OpenAI-compatible gateway (plain and streamed) and seed 004's API.
    let key = crate::gateway::api_key(&app, &user, "sdk").await;
    for stream in [false, true] {
        let res = app
            .request(Method::POST, "/v1/chat/completions")
            .bearer_auth(&key)
            .json(&json!({"model": "leaky-1", "stream": stream, "messages": [{"role": "user", "content": "hi"}]}))
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        assert_eq!(status, 502, "{text}");
        assert!(!leaks(&text), "{text}");
        assert!(text.contains("HTTP 500"), "{text}");
    }
    let res = app
        .request(Method::POST, "/simple/query")
        .header("x-api-key", &key)
        .json(&json!({"input": "안녕"}))
        .send()
        .await
        .unwrap();
    let text = res.text().await.unwrap();
    assert!(!leaks(&text), "{text}");

    // The admin's status page still shows what the provider said.
    let (status, page) = app.admin_status(&admin).await;
    assert_eq!(status, 200);
    let last_error = page["connections"][0]["last_error"].as_str().unwrap();
    assert!(last_error.contains("sk-live-SECRET-9f8e7d"), "{page}");
}
