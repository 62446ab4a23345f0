//! The generation engine's limits over real HTTP: answers at once per user
//! and in all (429 with `Retry-After`), an answer that grows past the size
//! cap, and one that runs past the time limit (cut, text kept).

use std::time::Duration;

use fake_llm::Behavior;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{delta_text, eventually, parse_sse, Session, TestApp, World};

async fn world(behavior: Behavior, adjust: impl FnOnce(&mut daehwa::config::ServeArgs)) -> World {
    World::builder()
        .fake(behavior)
        .api_key(None)
        .serve(adjust)
        .await
}

/// Starts a streamed answer and returns the response (its body unread).
async fn start(app: &TestApp, user: &Session, conversation: &str) -> reqwest::Response {
    app.as_user(
        Method::POST,
        &format!("/api/v1/conversations/{conversation}/messages"),
        &user.access,
    )
    .json(&json!({"content": "안녕하세요", "stream": true}))
    .send()
    .await
    .unwrap()
}

async fn last_message(app: &TestApp, user: &Session, conversation: &str) -> Value {
    let full = app.conversation(user, conversation).await;
    full["messages"]
        .as_array()
        .unwrap()
        .last()
        .cloned()
        .unwrap()
}

async fn wait_until_finished(app: &TestApp, user: &Session, conversation: &str) -> Value {
    eventually("the answer finishing", async || {
        let last = last_message(app, user, conversation).await;
        (last["status"] != "streaming").then_some(last)
    })
    .await
}

#[tokio::test]
async fn answers_at_once_are_capped_per_user_and_in_all_with_429_and_retry_after() {
    // Every answer stalls after one token: it stays running until stopped.
    let w = world(
        Behavior {
            tokens: 10,
            stall_after: Some(1),
            ..Behavior::default()
        },
        |args| {
            args.max_generations_per_user = 2;
            args.max_generations = 3;
        },
    )
    .await;
    let mut running = Vec::new();
    for _ in 0..2 {
        let conv = w.app.new_conversation(&w.user).await;
        let res = start(&w.app, &w.user, &conv).await;
        assert_eq!(res.status(), 200);
        running.push((conv, res));
    }

    // A third for the same user: refused before anything is written.
    let third = w.app.new_conversation(&w.user).await;
    let res = start(&w.app, &w.user, &third).await;
    assert_eq!(res.status(), 429);
    assert_eq!(res.headers()["retry-after"], "5");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "rate_limited");
    assert!(
        body["error"].as_str().unwrap().contains("2 answers"),
        "{body}"
    );
    let thread = w.app.conversation(&w.user, &third).await;
    assert_eq!(thread["messages"].as_array().unwrap().len(), 0);

    // Another user still gets one: three in all.
    let other = w.admin.clone();
    let conv = w.app.new_conversation(&other).await;
    let res = start(&w.app, &other, &conv).await;
    assert_eq!(res.status(), 200);
    // The server's limit: the other user has one running, but three run in all.
    let conv2 = w.app.new_conversation(&other).await;
    let res = start(&w.app, &other, &conv2).await;
    assert_eq!(res.status(), 429);
    let body: Value = res.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("3 answers"),
        "{body}"
    );

    // Stopping one frees a place for its user.
    let (first, _response) = &running[0];
    let res = w
        .app
        .as_user(
            Method::POST,
            &format!("/api/v1/conversations/{first}/stop"),
            &w.user.access,
        )
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    let stopped = wait_until_finished(&w.app, &w.user, first).await;
    assert_eq!(stopped["status"], "stopped");
    let res = start(&w.app, &w.user, &third).await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn an_answer_past_the_size_cap_is_cut_with_a_clear_error_and_its_text_kept() {
    let w = world(
        Behavior {
            tokens: 5_000,
            ..Behavior::default()
        },
        |args| args.max_answer_chars = 500,
    )
    .await;
    let conv = w.app.new_conversation(&w.user).await;
    let res = start(&w.app, &w.user, &conv).await;
    assert_eq!(res.status(), 200);
    let events = parse_sse(&res.text().await.unwrap());
    let last = events.last().unwrap();
    assert_eq!(last.event, "error", "{events:?}");
    assert_eq!(last.data["code"], "answer_too_long", "{}", last.data);
    assert!(last.data["error"]
        .as_str()
        .unwrap()
        .contains("500 characters"));
    assert_eq!(delta_text(&events).chars().count(), 500);

    let saved = last_message(&w.app, &w.user, &conv).await;
    assert_eq!(saved["status"], "error");
    assert_eq!(saved["content"].as_str().unwrap().chars().count(), 500);
    assert_eq!(saved["content"], delta_text(&events));
}

#[tokio::test]
async fn an_answer_past_the_time_limit_is_cut_with_a_clear_error_and_its_text_kept() {
    let w = world(
        Behavior {
            tokens: 1000,
            token_delay: Duration::from_millis(20),
            ..Behavior::default()
        },
        |args| args.max_generation_time = 1,
    )
    .await;
    let conv = w.app.new_conversation(&w.user).await;
    let res = start(&w.app, &w.user, &conv).await;
    assert_eq!(res.status(), 200);
    let events = parse_sse(&res.text().await.unwrap());
    let last = events.last().unwrap();
    assert_eq!(last.event, "error", "{events:?}");
    assert_eq!(last.data["code"], "generation_timeout");
    let text = delta_text(&events);
    assert!(!text.is_empty(), "some tokens came before the cut");

    let saved = last_message(&w.app, &w.user, &conv).await;
    assert_eq!(saved["status"], "error");
    assert_eq!(saved["content"], text);
    assert!(saved["error"].as_str().unwrap().contains("1 seconds"));
}
