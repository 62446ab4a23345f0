//! Conversations with answers from a fake provider over real HTTP: streaming,
//! the message tree, search, reconnects, stop, and every failure.

use std::time::Duration;

use fake_llm::{Behavior, FakeLlm};
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{
    delta_text, eventually, parse_sse, read_sse_until, spawn_app, spawn_with, Session, TestApp,
    World,
};

/// A server with a fake provider of `kind` connected, an admin and a user.
async fn world_with(behavior: Behavior, kind: &'static str) -> World {
    world_on(spawn_app().await, behavior, kind).await
}

async fn world_on(app: TestApp, behavior: Behavior, kind: &'static str) -> World {
    World::builder()
        .fake(behavior)
        .kind(kind)
        .api_key(Some("test-key"))
        .on(app)
        .build()
        .await
}

async fn world() -> World {
    world_with(
        Behavior {
            tokens: 5,
            ..Behavior::default()
        },
        "openai",
    )
    .await
}

fn quick(tokens: usize) -> Behavior {
    Behavior {
        tokens,
        ..Behavior::default()
    }
}

async fn post(app: &TestApp, user: &Session, path: &str, body: Value) -> reqwest::Response {
    app.as_user(Method::POST, path, &user.access)
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_full_conversation_streams_through_each_provider_kind() {
    for kind in ["openai", "azure", "anthropic"] {
        let w = world_with(quick(6), kind).await;
        let conv = w.app.new_conversation(&w.user).await;
        let events = w
            .app
            .ask_streamed(&w.user, &conv, "우리 강아지가 토해요")
            .await;
        let names: Vec<&str> = events.iter().map(|e| e.event.as_str()).collect();
        assert_eq!(names.first(), Some(&"message"), "{kind}: {names:?}");
        assert_eq!(names.last(), Some(&"done"), "{kind}: {names:?}");
        assert_eq!(
            names.iter().filter(|n| **n == "delta").count(),
            6,
            "{kind}: one delta per token"
        );
        let done = &events.last().unwrap().data;
        assert_eq!(done["status"], "complete", "{kind}");
        assert_eq!(
            done["content"].as_str().unwrap(),
            delta_text(&events),
            "{kind}"
        );
        assert!(
            done["usage"]["completion_tokens"].as_u64().unwrap() > 0,
            "{kind}: usage recorded"
        );

        // A second turn, not streamed: the history goes to the provider.
        let (status, body) = w.app.ask(&w.user, &conv, "그럼 어떻게 해야 하나요?").await;
        assert_eq!(status, 201, "{kind}: {body}");
        assert_eq!(body["message_idx"], 2, "{kind}");
        assert_eq!(body["answer"], body["message"]["content"], "{kind}");
        assert_eq!(body["user_message"]["content"], "그럼 어떻게 해야 하나요?");
        let last = w
            .fake
            .requests()
            .last()
            .cloned()
            .expect("the fake saw requests");
        let sent = last.body.to_string();
        assert!(
            sent.contains("우리 강아지가 토해요") && sent.contains("그럼 어떻게"),
            "{kind}: history sent: {sent}"
        );

        let full = w.app.conversation(&w.user, &conv).await;
        let messages = full["messages"].as_array().unwrap();
        assert_eq!(messages.len(), 4, "{kind}");
        let roles: Vec<&str> = messages
            .iter()
            .map(|m| m["role"].as_str().unwrap())
            .collect();
        assert_eq!(roles, ["user", "assistant", "user", "assistant"]);
        let idx: Vec<i64> = messages
            .iter()
            .map(|m| m["idx"].as_i64().unwrap())
            .collect();
        assert_eq!(idx, [1, 2, 3, 4]);
        assert_eq!(full["message_count"], 4);
    }
}

#[tokio::test]
async fn the_sse_wire_format_is_as_the_spec_says() {
    let w = world().await;
    let conv = w.app.new_conversation(&w.user).await;
    let res = post(
        &w.app,
        &w.user,
        &format!("/api/v1/conversations/{conv}/messages"),
        json!({"content": "hello", "stream": true}),
    )
    .await;
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    assert_eq!(res.headers()["cache-control"], "no-cache");
    assert_eq!(res.headers()["x-accel-buffering"], "no");
    let text = res.text().await.unwrap();
    let events = parse_sse(&text);
    let message = &events[0];
    assert_eq!(message.event, "message");
    assert_eq!(message.data["conversation_id"], conv.as_str());
    assert_eq!(message.data["user_message"]["role"], "user");
    assert_eq!(message.data["assistant_message"]["status"], "streaming");
    let ids: Vec<String> = events
        .iter()
        .filter(|e| e.event == "delta")
        .map(|e| e.id.clone().unwrap())
        .collect();
    assert_eq!(ids, ["1", "2", "3", "4", "5"], "deltas carry sequence ids");
    // On the wire: `event:` and `id:` lines, one JSON `data:` line per event.
    for block in text.split("\n\n").filter(|b| b.contains("event:delta")) {
        assert!(block.lines().any(|l| l.starts_with("id:")), "{block}");
        assert_eq!(
            block.lines().filter(|l| l.starts_with("data:")).count(),
            1,
            "{block}"
        );
    }

    // Accept: text/event-stream alone asks for a stream too.
    let res = w
        .app
        .as_user(
            Method::POST,
            &format!("/api/v1/conversations/{conv}/messages"),
            &w.user.access,
        )
        .header("accept", "text/event-stream")
        .json(&json!({"content": "again"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["content-type"], "text/event-stream");
}

#[tokio::test]
async fn edit_regenerate_delete_last_and_branch_switching_keep_every_version() {
    let w = world().await;
    let conv = w.app.new_conversation(&w.user).await;
    w.app.ask(&w.user, &conv, "first question").await;
    let (_, second) = w.app.ask(&w.user, &conv, "second question").await;
    let first_answer_to_second = second["message"]["id"].as_str().unwrap().to_string();

    // Regenerate: a sibling answer.
    let res = post(
        &w.app,
        &w.user,
        &format!("/api/v1/conversations/{conv}/regenerate"),
        json!({}),
    )
    .await;
    assert_eq!(res.status(), 201);
    let regenerated: Value = res.json().await.unwrap();
    let siblings = regenerated["message"]["sibling_ids"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(siblings.len(), 2);
    assert_eq!(siblings[0], first_answer_to_second.as_str());

    // Edit the last question: a sibling question with its own answer.
    let res = w
        .app
        .as_user(
            Method::PATCH,
            &format!("/api/v1/conversations/{conv}/messages/last"),
            &w.user.access,
        )
        .json(&json!({"content": "second question, rephrased"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let edited: Value = res.json().await.unwrap();
    assert_eq!(
        edited["user_message"]["content"],
        "second question, rephrased"
    );
    assert_eq!(
        edited["user_message"]["sibling_ids"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let thread = w.app.conversation(&w.user, &conv).await;
    let contents: Vec<&str> = thread["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(contents[2], "second question, rephrased");

    // Switch back to the first version of the question: its latest answer shows.
    let old_question = second["user_message"]["id"].as_str().unwrap();
    let res = w
        .app
        .as_user(
            Method::PATCH,
            &format!("/api/v1/conversations/{conv}"),
            &w.user.access,
        )
        .json(&json!({"current_message_id": old_question}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let switched: Value = res.json().await.unwrap();
    let messages = switched["messages"].as_array().unwrap();
    assert_eq!(messages[2]["content"], "second question");
    assert_eq!(
        messages[3]["id"], regenerated["message"]["id"],
        "the newest answer of that branch"
    );

    // Delete the last exchange: back to the first answer.
    let res = w
        .app
        .as_user(
            Method::DELETE,
            &format!("/api/v1/conversations/{conv}/messages/last"),
            &w.user.access,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let after = w.app.conversation(&w.user, &conv).await;
    assert_eq!(after["messages"].as_array().unwrap().len(), 2);
    assert_eq!(after["message_count"], 2);

    // A message of another conversation cannot be made current.
    let other = w.app.new_conversation(&w.user).await;
    let res = w
        .app
        .as_user(
            Method::PATCH,
            &format!("/api/v1/conversations/{other}"),
            &w.user.access,
        )
        .json(&json!({"current_message_id": old_question}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    // Nothing to delete or edit in an empty conversation.
    let res = w
        .app
        .as_user(
            Method::DELETE,
            &format!("/api/v1/conversations/{other}/messages/last"),
            &w.user.access,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let res = post(
        &w.app,
        &w.user,
        &format!("/api/v1/conversations/{other}/regenerate"),
        json!({}),
    )
    .await;
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn keyword_search_finds_korean_substrings_and_needs_every_keyword() {
    let w = world().await;
    let dog = w.app.new_conversation(&w.user).await;
    w.app
        .ask(&w.user, &dog, "우리 강아지가 갑자기 토하고 설사를 해요")
        .await;
    let cat = w.app.new_conversation(&w.user).await;
    w.app.ask(&w.user, &cat, "고양이 털이 빠져요 Apple").await;
    let search = |q: &str| {
        let app = &w.app;
        let token = w.user.access.clone();
        let path = format!("/api/v1/conversations?q={}", urlencode(q));
        async move {
            let res = app
                .as_user(Method::GET, &path, &token)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200);
            let body: Value = res.json().await.unwrap();
            body["conversations"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["id"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        search("강아지").await,
        std::slice::from_ref(&dog),
        "a word inside 강아지가"
    );
    assert_eq!(
        search("설사").await,
        std::slice::from_ref(&dog),
        "two characters: the fallback"
    );
    assert_eq!(
        search("강아지, 설사").await,
        std::slice::from_ref(&dog),
        "both keywords"
    );
    assert!(
        search("강아지,고양이").await.is_empty(),
        "every keyword must match"
    );
    assert_eq!(
        search("apple").await,
        std::slice::from_ref(&cat),
        "case-insensitive"
    );
    assert_eq!(
        search("털").await,
        std::slice::from_ref(&cat),
        "one character"
    );
    assert!(search("없는말").await.is_empty());
    // The other user's conversations are never found.
    let other = w.app.signup("other").await;
    let res = w
        .app
        .as_user(
            Method::GET,
            &format!("/api/v1/conversations?q={}", urlencode("강아지")),
            &other.access,
        )
        .send()
        .await
        .unwrap();
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["conversations"], json!([]));
    // Titles count too (the generated or fallback title of the first turn).
    let titled = w.app.new_conversation(&w.user).await;
    w.app
        .as_user(
            Method::PATCH,
            &format!("/api/v1/conversations/{titled}"),
            &w.user.access,
        )
        .json(&json!({"title": "여행 계획표"}))
        .send()
        .await
        .unwrap();
    assert_eq!(search("계획").await, [titled]);
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn a_reconnect_with_last_event_id_misses_nothing_and_repeats_nothing() {
    let w = world_with(
        Behavior {
            tokens: 12,
            token_delay: Duration::from_millis(40),
            ..Behavior::default()
        },
        "openai",
    )
    .await;
    let conv = w.app.new_conversation(&w.user).await;
    let mut res = post(
        &w.app,
        &w.user,
        &format!("/api/v1/conversations/{conv}/messages"),
        json!({"content": "count", "stream": true}),
    )
    .await;
    let first = read_sse_until(&mut res, |ev| {
        ev.iter().filter(|e| e.event == "delta").count() >= 4
    })
    .await;
    drop(res); // the connection drops mid-answer
    let last_id = first
        .iter()
        .rfind(|e| e.event == "delta")
        .unwrap()
        .id
        .clone()
        .unwrap();

    let res = w
        .app
        .as_user(
            Method::GET,
            &format!("/api/v1/conversations/{conv}/stream"),
            &w.user.access,
        )
        .header("last-event-id", &last_id)
        .send()
        .await
        .unwrap();
    let rest = parse_sse(&res.text().await.unwrap());
    let done = rest.last().unwrap();
    assert_eq!(done.event, "done");
    let whole = format!("{}{}", delta_text(&first), delta_text(&rest));
    assert_eq!(
        whole,
        done.data["content"].as_str().unwrap(),
        "nothing missed, nothing twice"
    );
    let ids: Vec<u64> = rest
        .iter()
        .filter_map(|e| e.id.as_deref())
        .map(|i| i.parse().unwrap())
        .collect();
    assert_eq!(
        ids.first().copied(),
        Some(last_id.parse::<u64>().unwrap() + 1)
    );

    // A second tab joining from the start gets everything.
    let res = w
        .app
        .as_user(
            Method::GET,
            &format!("/api/v1/conversations/{conv}/stream"),
            &w.user.access,
        )
        .send()
        .await
        .unwrap();
    let all = parse_sse(&res.text().await.unwrap());
    assert_eq!(delta_text(&all), whole);
}

#[tokio::test]
async fn a_client_that_disconnects_finds_the_whole_answer_saved_later() {
    let w = world_with(
        Behavior {
            tokens: 10,
            token_delay: Duration::from_millis(30),
            ..Behavior::default()
        },
        "openai",
    )
    .await;
    let conv = w.app.new_conversation(&w.user).await;
    let mut res = post(
        &w.app,
        &w.user,
        &format!("/api/v1/conversations/{conv}/messages"),
        json!({"content": "hello", "stream": true}),
    )
    .await;
    read_sse_until(&mut res, |ev| ev.iter().any(|e| e.event == "delta")).await;
    drop(res);
    // Meanwhile the partial answer is already visible to a reload.
    let during = w.app.conversation(&w.user, &conv).await;
    assert_eq!(during["messages"][1]["status"], "streaming");
    let answer = wait_for_status(&w, &conv, "complete").await;
    assert_eq!(
        answer["content"]
            .as_str()
            .unwrap()
            .split_whitespace()
            .count(),
        10,
        "{answer}"
    );
}

/// Polls the conversation until its last message has `status`.
async fn wait_for_status(w: &World, conv: &str, status: &str) -> Value {
    eventually(&format!("the answer reaching {status}"), async || {
        let full = w.app.conversation(&w.user, conv).await;
        let last = full["messages"]
            .as_array()
            .unwrap()
            .last()
            .cloned()
            .unwrap();
        (last["status"] == status).then_some(last)
    })
    .await
}

#[tokio::test]
async fn stop_keeps_the_partial_text_as_stopped_and_a_busy_conversation_refuses_a_second_question()
{
    let w = world_with(
        Behavior {
            tokens: 200,
            token_delay: Duration::from_millis(20),
            ..Behavior::default()
        },
        "openai",
    )
    .await;
    let conv = w.app.new_conversation(&w.user).await;
    let mut res = post(
        &w.app,
        &w.user,
        &format!("/api/v1/conversations/{conv}/messages"),
        json!({"content": "long", "stream": true}),
    )
    .await;
    read_sse_until(&mut res, |ev| {
        ev.iter().filter(|e| e.event == "delta").count() >= 3
    })
    .await;

    let busy = post(
        &w.app,
        &w.user,
        &format!("/api/v1/conversations/{conv}/messages"),
        json!({"content": "another"}),
    )
    .await;
    assert_eq!(busy.status(), 409);
    let busy: Value = busy.json().await.unwrap();
    assert_eq!(busy["code"], "generation_in_progress");

    let res = post(
        &w.app,
        &w.user,
        &format!("/api/v1/conversations/{conv}/stop"),
        json!({}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let stopped: Value = res.json().await.unwrap();
    assert_eq!(stopped["stopped"], true);
    assert_eq!(stopped["message"]["status"], "stopped");
    let partial = stopped["message"]["content"].as_str().unwrap().to_string();
    assert!(
        !partial.is_empty() && partial.split_whitespace().count() < 200,
        "{partial}"
    );

    let saved = w.app.conversation(&w.user, &conv).await;
    assert_eq!(saved["messages"][1]["content"].as_str().unwrap(), partial);
    // Now a new question is welcome.
    let (status, _) = w.app.ask(&w.user, &conv, "next").await;
    assert_eq!(status, 201);
}

#[tokio::test]
async fn provider_failures_give_a_clear_error_and_keep_what_was_said() {
    // (behavior, expected status of the non-streamed answer, code)
    let cases: Vec<(Behavior, u16, &str, &str)> = vec![
        (
            Behavior {
                fail_with: Some((401, 10)),
                ..quick(3)
            },
            502,
            "upstream_unauthorized",
            "bad key",
        ),
        (
            Behavior {
                fail_with: Some((500, 3)),
                ..quick(3)
            },
            502,
            "upstream_error",
            "500 three times",
        ),
        (
            Behavior {
                stall_after: Some(2),
                ..quick(5)
            },
            504,
            "upstream_timeout",
            "stall",
        ),
        (
            Behavior {
                drop_after: Some(2),
                ..quick(5)
            },
            502,
            "upstream_error",
            "dropped mid-stream",
        ),
        (
            Behavior {
                malformed_after: Some(2),
                ..quick(5)
            },
            502,
            "upstream_malformed",
            "malformed chunk",
        ),
    ];
    let app = spawn_with(|args| args.llm_idle_timeout = 1).await;
    let w = world_on(app, quick(3), "openai").await;
    for (behavior, status, code, why) in cases {
        let again = behavior.clone();
        w.fake.set(behavior);
        let conv = w.app.new_conversation(&w.user).await;
        let (got, body) = w.app.ask(&w.user, &conv, "질문이 있어요").await;
        assert_eq!(got, status, "{why}: {body}");
        assert!(
            body["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{why}: {body}"
        );
        if !["upstream_error", "upstream_malformed"].contains(&code) || why != "dropped mid-stream"
        {
            assert_eq!(body["code"], code, "{why}: {body}");
        }
        let saved = w.app.conversation(&w.user, &conv).await;
        let messages = saved["messages"].as_array().unwrap();
        assert_eq!(
            messages[0]["content"], "질문이 있어요",
            "{why}: the question is kept"
        );
        assert_eq!(messages[1]["status"], "error", "{why}");
        assert!(messages[1]["error"].as_str().is_some(), "{why}");
        if why != "bad key" && why != "500 three times" {
            assert!(
                !messages[1]["content"].as_str().unwrap().is_empty(),
                "{why}: the partial text is kept"
            );
        }
        // Streamed, the same failure is an `error` event.
        w.fake.set(again);
        let events = w.app.ask_streamed(&w.user, &conv, "again").await;
        let last = events.last().unwrap();
        assert_eq!(last.event, "error", "{why}");
        assert!(last.data["code"].as_str().is_some(), "{why}");
    }
}

#[tokio::test]
async fn rate_limits_and_short_outages_are_retried_before_the_first_token() {
    let w = world().await;
    w.fake.set(Behavior {
        fail_with: Some((429, 1)),
        ..quick(4)
    });
    let conv = w.app.new_conversation(&w.user).await;
    let (status, body) = w.app.ask(&w.user, &conv, "retry please").await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["message"]["status"], "complete");
    w.fake.set(Behavior {
        fail_with: Some((503, 2)),
        ..quick(4)
    });
    let (status, _) = w.app.ask(&w.user, &conv, "again").await;
    assert_eq!(status, 201, "two 503s then success");
}

#[tokio::test]
async fn a_provider_that_refuses_connections_is_a_clear_502() {
    let w = world().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let res = w.app
        .as_user(Method::POST, "/api/v1/admin/connections", &w.admin.access)
        .json(&json!({"name": "gone", "kind": "openai", "base_url": format!("http://127.0.0.1:{port}/v1"), "models": [{"id": "ghost-model"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let conv = w.app.new_conversation(&w.user).await;
    let res = post(
        &w.app,
        &w.user,
        &format!("/api/v1/conversations/{conv}/messages"),
        json!({"content": "hi", "model_id": "ghost-model"}),
    )
    .await;
    assert_eq!(res.status(), 502);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "upstream_unreachable");
}

#[tokio::test]
async fn unknown_and_disabled_models_and_bad_bodies_are_refused() {
    let w = world().await;
    let conv = w.app.new_conversation(&w.user).await;
    let path = format!("/api/v1/conversations/{conv}/messages");
    let res = post(
        &w.app,
        &w.user,
        &path,
        json!({"content": "hi", "model_id": "no-such-model"}),
    )
    .await;
    assert_eq!(res.status(), 422);
    let res = post(&w.app, &w.user, &path, json!({"content": "   "})).await;
    assert_eq!(res.status(), 422);
    let res = post(&w.app, &w.user, &path, json!({"content": 5})).await;
    assert_eq!(res.status(), 400);
    let res = post(&w.app, &w.user, &path, json!({"text": "hi"})).await;
    assert_eq!(res.status(), 400);

    // Disable the model: 403 with a clear code.
    let connections: Value = w
        .app
        .as_user(Method::GET, "/api/v1/admin/connections", &w.admin.access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let connection = &connections["connections"][0];
    let models: Vec<Value> = connection["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| json!({"id": m["upstream_id"], "enabled": false}))
        .collect();
    let res = w
        .app
        .as_user(
            Method::PUT,
            &format!(
                "/api/v1/admin/connections/{}",
                connection["id"].as_str().unwrap()
            ),
            &w.admin.access,
        )
        .json(&json!({"models": models}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = post(
        &w.app,
        &w.user,
        &path,
        json!({"content": "hi", "model_id": w.model()}),
    )
    .await;
    assert_eq!(res.status(), 403);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "model_disabled");
    let listed: Value = w.app.get("/api/v1/models").await.json().await.unwrap();
    assert_eq!(
        listed["models"],
        json!([]),
        "a disabled model is not offered"
    );
}

#[tokio::test]
async fn another_users_conversation_is_404_on_every_route() {
    let w = world().await;
    let conv = w.app.new_conversation(&w.user).await;
    w.app.ask(&w.user, &conv, "mine").await;
    let intruder = w.app.signup("intruder").await;
    another_users_conversation_answers_404(&w.app, &w.user, &conv, &intruder).await;
}

/// Every route of `owner`'s conversation `conv` (asked once) answers
/// `intruder` 404 and a stranger 401, and the conversation stays whole
/// (also run with directory accounts, `signin::`).
pub async fn another_users_conversation_answers_404(
    app: &TestApp,
    owner: &Session,
    conv: &str,
    intruder: &Session,
) {
    let routes: Vec<(Method, String, Value)> = vec![
        (
            Method::GET,
            format!("/api/v1/conversations/{conv}"),
            json!(null),
        ),
        (
            Method::PATCH,
            format!("/api/v1/conversations/{conv}"),
            json!({"title": "x"}),
        ),
        (
            Method::DELETE,
            format!("/api/v1/conversations/{conv}"),
            json!(null),
        ),
        (
            Method::POST,
            format!("/api/v1/conversations/{conv}/messages"),
            json!({"content": "x"}),
        ),
        (
            Method::GET,
            format!("/api/v1/conversations/{conv}/messages"),
            json!(null),
        ),
        (
            Method::GET,
            format!("/api/v1/conversations/{conv}/stream"),
            json!(null),
        ),
        (
            Method::POST,
            format!("/api/v1/conversations/{conv}/stop"),
            json!({}),
        ),
        (
            Method::PATCH,
            format!("/api/v1/conversations/{conv}/messages/last"),
            json!({"content": "x"}),
        ),
        (
            Method::DELETE,
            format!("/api/v1/conversations/{conv}/messages/last"),
            json!(null),
        ),
        (
            Method::POST,
            format!("/api/v1/conversations/{conv}/regenerate"),
            json!({}),
        ),
        (
            Method::POST,
            format!("/api/v1/conversations/{conv}/feedback"),
            json!({"message_id": "m", "rating": "up"}),
        ),
    ];
    for (method, path, body) in routes {
        let mut req = app.as_user(method.clone(), &path, &intruder.access);
        if !body.is_null() {
            req = req.json(&body);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 404, "{method} {path}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["code"], "not_found");
        // Without a sign-in: 401.
        let res = app.request(method.clone(), &path).send().await.unwrap();
        assert_eq!(res.status(), 401, "{method} {path}");
    }
    let list: Value = app
        .as_user(Method::GET, "/api/v1/conversations", &intruder.access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["conversations"], json!([]));
    // And the owner still has it, untouched.
    let mine = app.conversation(owner, conv).await;
    assert_eq!(mine["messages"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn conversations_list_newest_first_page_by_cursor_and_filter_pinned_and_archived() {
    let w = world().await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(w.app.new_conversation(&w.user).await);
    }
    let patch = |id: &str, body: Value| {
        let app = &w.app;
        let token = w.user.access.clone();
        let path = format!("/api/v1/conversations/{id}");
        async move {
            app.as_user(Method::PATCH, &path, &token)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(patch(&ids[0], json!({"pinned": true})).await.status(), 200);
    assert_eq!(
        patch(&ids[1], json!({"archived": true})).await.status(),
        200
    );
    let get = |q: &str| {
        let app = &w.app;
        let token = w.user.access.clone();
        let path = format!("/api/v1/conversations{q}");
        async move {
            app.as_user(Method::GET, &path, &token)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let pinned = get("?pinned=true").await;
    assert_eq!(pinned["conversations"].as_array().unwrap().len(), 1);
    let archived = get("?archived=true").await;
    assert_eq!(archived["conversations"][0]["id"], ids[1].as_str());

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let q = match &cursor {
            Some(c) => format!("?limit=2&cursor={}", urlencode(c)),
            None => "?limit=2".into(),
        };
        let page = get(&q).await;
        for c in page["conversations"].as_array().unwrap() {
            seen.push(c["id"].as_str().unwrap().to_string());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 4, "archived ones are not listed by default");
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 4);

    let res = w
        .app
        .as_user(
            Method::DELETE,
            &format!("/api/v1/conversations/{}", ids[2]),
            &w.user.access,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let res = w
        .app
        .as_user(
            Method::GET,
            &format!("/api/v1/conversations/{}", ids[2]),
            &w.user.access,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(get("?cursor=garbage").await["code"], "bad_request");
}

#[tokio::test]
async fn the_first_answer_gives_the_conversation_a_title() {
    let w = world().await;
    let conv = w.app.new_conversation(&w.user).await;
    w.app
        .ask(&w.user, &conv, "How do I bake bread at home?")
        .await;
    // At once: the first words; soon after: the model's title.
    eventually("the title being generated", async || {
        let full = w.app.conversation(&w.user, &conv).await;
        let title = full["title"].as_str().unwrap().to_string();
        assert!(!title.is_empty());
        (title != "How do I bake bread at home?").then_some(())
    })
    .await;
}

#[tokio::test]
async fn feedback_is_one_per_user_and_message_and_shows_on_the_message() {
    let w = world().await;
    let conv = w.app.new_conversation(&w.user).await;
    let (_, answer) = w.app.ask(&w.user, &conv, "hi").await;
    let message_id = answer["message"]["id"].as_str().unwrap();
    let path = format!("/api/v1/conversations/{conv}/feedback");
    let res = post(
        &w.app,
        &w.user,
        &path,
        json!({"message_id": message_id, "rating": "up"}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let res = post(
        &w.app,
        &w.user,
        &path,
        json!({"message_id": message_id, "rating": "down", "comment": "too short"}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let full = w.app.conversation(&w.user, &conv).await;
    assert_eq!(
        full["messages"][1]["feedback"],
        json!({"rating": "down", "comment": "too short", "reasons": []})
    );
    let res = post(
        &w.app,
        &w.user,
        &path,
        json!({"message_id": message_id, "rating": "meh"}),
    )
    .await;
    assert_eq!(res.status(), 422);
    let res = post(
        &w.app,
        &w.user,
        &path,
        json!({"message_id": "not-a-message", "rating": "up"}),
    )
    .await;
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn connections_never_show_their_key_and_models_are_listed_for_everyone() {
    let w = world().await;
    let list: Value = w
        .app
        .as_user(Method::GET, "/api/v1/admin/connections", &w.admin.access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let text = list.to_string();
    assert!(!text.contains("test-key"), "the key never leaves: {text}");
    assert_eq!(list["connections"][0]["api_key"], "…-key");
    let models: Value = w.app.get("/api/v1/models").await.json().await.unwrap();
    let first = &models["models"][0];
    for field in [
        "id",
        "name",
        "vendor",
        "description",
        "connection_id",
        "context_window",
        "available",
    ] {
        assert!(first.get(field).is_some(), "models lack {field}: {models}");
    }
    let id = list["connections"][0]["id"].as_str().unwrap();
    let test: Value = post(
        &w.app,
        &w.admin,
        &format!("/api/v1/admin/connections/{id}/test"),
        json!({}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(test["ok"], true, "{test}");
    // Non-admins cannot see connections.
    let res = w
        .app
        .as_user(Method::GET, "/api/v1/admin/connections", &w.user.access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    // A bad key is reported by the test button.
    w.fake.set(Behavior {
        api_key: Some("another-key".into()),
        ..quick(3)
    });
    let test: Value = post(
        &w.app,
        &w.admin,
        &format!("/api/v1/admin/connections/{id}/test"),
        json!({}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(test["ok"], false, "{test}");
    let bad = post(
        &w.app,
        &w.admin,
        "/api/v1/admin/connections",
        json!({"name": "x", "kind": "gemini", "base_url": "ftp://x"}),
    )
    .await;
    assert_eq!(bad.status(), 422);
    let res = w
        .app
        .as_user(
            Method::DELETE,
            &format!("/api/v1/admin/connections/{id}"),
            &w.admin.access,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let models: Value = w.app.get("/api/v1/models").await.json().await.unwrap();
    assert_eq!(models["models"], json!([]));
}

#[tokio::test]
async fn a_graceful_shutdown_saves_the_answers_in_flight() {
    let w = world_with(
        Behavior {
            tokens: 500,
            token_delay: Duration::from_millis(20),
            ..Behavior::default()
        },
        "openai",
    )
    .await;
    let conv = w.app.new_conversation(&w.user).await;
    let mut res = post(
        &w.app,
        &w.user,
        &format!("/api/v1/conversations/{conv}/messages"),
        json!({"content": "long", "stream": true}),
    )
    .await;
    let seen = read_sse_until(&mut res, |ev| {
        ev.iter().filter(|e| e.event == "delta").count() >= 3
    })
    .await;
    let (_dir, path) = w.app.stop().await;
    drop(res);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let (status, content): (String, String) = conn
        .query_row(
            "SELECT status, content FROM message WHERE role = 'assistant'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(status, "error");
    assert!(
        content.starts_with(&delta_text(&seen)),
        "the text streamed so far is saved"
    );
}

#[tokio::test]
async fn connections_come_from_the_environment_at_start_when_there_are_none() {
    let openai = FakeLlm::start(quick(3)).await;
    let ollama = FakeLlm::start(Behavior {
        models: vec!["llama3.2".into()],
        ..quick(3)
    })
    .await;
    let openai_base = openai.openai_url();
    let ollama_base = ollama.url();
    let app = spawn_with(move |args| {
        args.openai_api_key = Some("sk-from-env".into());
        args.openai_base_url = Some(openai_base);
        args.ollama_base_url = ollama_base;
    })
    .await;
    let admin = app.signup("admin").await;
    // The bootstrap runs in the background: poll until both are there.
    let mut names = eventually("both connections bootstrapped", async || {
        let list: Value = app
            .as_user(Method::GET, "/api/v1/admin/connections", &admin.access)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let names: Vec<(String, usize)> = list["connections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["name"].as_str().unwrap().to_string(),
                    c["models"].as_array().unwrap().len(),
                )
            })
            .collect();
        (names.len() == 2).then_some(names)
    })
    .await;
    names.sort();
    assert_eq!(names.len(), 2, "{names:?}");
    assert_eq!(names[0].0, "Ollama");
    assert_eq!(names[1].0, "OpenAI");
    assert!(names.iter().all(|(_, models)| *models > 0), "{names:?}");
    let seen = openai.requests();
    assert_eq!(seen[0].header("authorization"), Some("Bearer sk-from-env"));
    let models: Value = app.get("/api/v1/models").await.json().await.unwrap();
    assert!(models.to_string().contains("llama3.2"), "{models}");

    // With a connection already there, a restart adds nothing.
    let (dir, db) = app.stop().await;
    let openai_base = openai.openai_url();
    let app = crate::helpers::spawn_in(dir, db, move |args| {
        args.openai_api_key = Some("sk-other".into());
        args.openai_base_url = Some(openai_base);
    })
    .await;
    // A negative check: nothing observable happens when the background
    // bootstrap adds nothing, so give it a moment to (not) add a connection.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let admin = app.sign_in("admin").await;
    let list: Value = app
        .as_user(Method::GET, "/api/v1/admin/connections", &admin.access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["connections"].as_array().unwrap().len(), 2);
}
