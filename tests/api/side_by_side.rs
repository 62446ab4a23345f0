//! Several models side by side (issue 21): one question asked of 2–3 models
//! at once (`model_ids`), the answers written in parallel as sibling
//! versions, streamed in one response, stopped together, and one of them
//! kept to continue the thread.

use std::collections::HashMap;
use std::time::Duration;

use fake_llm::{Behavior, FakeLlm};
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{parse_sse, read_sse_until, Session, SseEvent, TestApp, World};

/// A world whose fake answers `tokens` tokens, `delay` apart.
async fn world(tokens: usize, delay: Duration) -> World {
    World::builder()
        .fake(Behavior {
            tokens,
            token_delay: delay,
            ..Behavior::default()
        })
        .build()
        .await
}

/// A second upstream, connected to `w`'s server, reporting `model` only.
async fn second_upstream(w: &World, model: &str, behavior: Behavior) -> FakeLlm {
    let fake = FakeLlm::start(Behavior {
        models: vec![model.to_string()],
        ..behavior
    })
    .await;
    w.app
        .add_connection(&w.admin, "openai", &fake.openai_url(), Some("k"))
        .await;
    fake
}

async fn post(app: &TestApp, user: &Session, path: &str, body: Value) -> reqwest::Response {
    app.as_user(Method::POST, path, &user.access)
        .json(&body)
        .send()
        .await
        .unwrap()
}

fn messages_path(conv: &str) -> String {
    format!("/api/v1/conversations/{conv}/messages")
}

/// The text of each answer's deltas, by message id.
fn texts_by_answer(events: &[SseEvent]) -> HashMap<String, String> {
    let mut texts: HashMap<String, String> = HashMap::new();
    for e in events.iter().filter(|e| e.event == "delta") {
        let id = e.data["message_id"]
            .as_str()
            .expect("every delta names its answer");
        texts
            .entry(id.to_string())
            .or_default()
            .push_str(e.data["content"].as_str().unwrap());
    }
    texts
}

/// Messages saved in the conversation (any branch), from the database.
fn saved_messages(app: &TestApp, conv: &str) -> Vec<(String, String, String, Option<String>)> {
    let conn = rusqlite::Connection::open_with_flags(
        &app.db_path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT id, role, status, model_id FROM message WHERE conversation_id = ?1
             ORDER BY idx, id",
        )
        .unwrap();
    stmt.query_map([conv], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// One saved message (any branch), from the database: (content, status).
fn saved(app: &TestApp, id: &str) -> (String, String) {
    let conn = rusqlite::Connection::open_with_flags(
        &app.db_path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    conn.query_row(
        "SELECT content, status FROM message WHERE id = ?1",
        [id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .unwrap()
}

/// The models the fake's streamed chat requests named, in order.
fn upstream_models(fake: &FakeLlm) -> Vec<String> {
    fake.requests()
        .iter()
        .filter(|r| r.path.ends_with("/chat/completions") && r.body["stream"] == true)
        .map(|r| r.body["model"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test]
async fn two_models_stream_in_one_response_each_delta_tagged_and_a_done_per_answer() {
    let w = world(6, Duration::from_millis(10)).await;
    let (m0, m1) = (w.models[0].clone(), w.models[1].clone());
    let conv = w.app.new_conversation(&w.user).await;
    let res = post(
        &w.app,
        &w.user,
        &messages_path(&conv),
        json!({"content": "compare these", "model_ids": [m0, m1], "stream": true}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let events = parse_sse(&res.text().await.unwrap());

    let created = &events[0];
    assert_eq!(created.event, "message");
    let ids: Vec<String> = created.data["assistant_message_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 2);
    assert_ne!(ids[0], ids[1]);
    assert_eq!(created.data["assistant_message"]["id"], ids[0].as_str());
    assert_eq!(created.data["assistant_message_id"], ids[0].as_str());
    assert_eq!(created.data["conversation_id"], conv.as_str());
    assert_eq!(created.data["user_message"]["content"], "compare these");
    let models: Vec<&str> = created.data["assistant_messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["model_id"].as_str().unwrap())
        .collect();
    assert_eq!(models, [m0.as_str(), m1.as_str()]);
    assert_eq!(
        events.iter().filter(|e| e.event == "message").count(),
        1,
        "one message event"
    );

    let texts = texts_by_answer(&events);
    let dones: Vec<&SseEvent> = events.iter().filter(|e| e.event == "done").collect();
    assert_eq!(dones.len(), 2, "a done per answer");
    for done in &dones {
        let id = done.data["id"].as_str().unwrap();
        assert!(ids.iter().any(|i| i == id));
        assert_eq!(done.data["status"], "complete");
        assert_eq!(
            texts.get(id).map(String::as_str),
            done.data["content"].as_str(),
            "the deltas of {id} make its answer"
        );
        assert_eq!(done.data["sibling_ids"].as_array().unwrap().len(), 2);
    }
    // Every delta's id holds every answer's sequence number.
    assert!(events.iter().filter(|e| e.event == "delta").all(|e| e
        .id
        .as_deref()
        .unwrap()
        .split(',')
        .count()
        == 2));

    // Both upstream calls, one per model; the first answer is current.
    let mut asked = upstream_models(&w.fake);
    asked.sort();
    let mut expected = vec![m0.clone(), m1.clone()];
    expected.sort();
    assert_eq!(asked, expected);
    let full = w.app.conversation(&w.user, &conv).await;
    assert_eq!(full["current_message_id"], ids[0].as_str());
    assert_eq!(full["model_id"], m0.as_str());
    let shown = full["messages"].as_array().unwrap();
    assert_eq!(shown.len(), 2);
    assert_eq!(shown[1]["id"], ids[0].as_str());
    assert_eq!(shown[1]["sibling_ids"], json!(ids));
    for id in &ids {
        assert_eq!(saved(&w.app, id).1, "complete");
    }
}

#[tokio::test]
async fn three_models_answer_whole_with_every_answer_in_order() {
    let w = world(4, Duration::ZERO).await;
    let models = w.models.clone();
    assert_eq!(models.len(), 3);
    let conv = w.app.new_conversation(&w.user).await;
    let res = post(
        &w.app,
        &w.user,
        &messages_path(&conv),
        json!({"content": "three ways", "model_ids": models}),
    )
    .await;
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    let answers = body["answers"].as_array().unwrap();
    let answered: Vec<&str> = answers
        .iter()
        .map(|a| a["model_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        answered,
        models.iter().map(String::as_str).collect::<Vec<_>>()
    );
    assert!(answers.iter().all(|a| a["status"] == "complete"));
    assert_eq!(body["message"]["id"], answers[0]["id"]);
    assert_eq!(body["answer"], answers[0]["content"]);
    assert_eq!(body["message_idx"], 1);
    assert_eq!(body["user_message"]["content"], "three ways");
    for a in answers {
        assert_eq!(a["parent_id"], body["user_message"]["id"]);
        assert_eq!(
            saved(&w.app, a["id"].as_str().unwrap()),
            (
                a["content"].as_str().unwrap().to_string(),
                "complete".into()
            )
        );
    }
    // The versions switcher sees all three.
    let full = w.app.conversation(&w.user, &conv).await;
    assert_eq!(
        full["messages"][1]["sibling_ids"].as_array().unwrap().len(),
        3
    );
    // Each answer counts against the plan's daily use.
    let (_, sub) = w.app.subscription(&w.user).await;
    assert_eq!(sub["used_today"], 3);

    // A new conversation with its first question side by side.
    let (status, created) = w
        .app
        .create_conversation(
            &w.user,
            json!({"message": "first, twice", "model_ids": [models[2], models[0]]}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let answers = created["answers"].as_array().unwrap();
    assert_eq!(answers.len(), 2);
    assert_eq!(answers[0]["model_id"], models[2].as_str());
    let new_conv = created["conversation_id"].as_str().unwrap();
    let full = w.app.conversation(&w.user, new_conv).await;
    assert_eq!(full["model_id"], models[2].as_str());
    assert_eq!(full["current_message_id"], answers[0]["id"]);
}

#[tokio::test]
async fn one_model_failing_mid_stream_sends_its_error_and_the_others_finish_and_are_saved() {
    let w = world(8, Duration::from_millis(15)).await;
    let _flaky = second_upstream(
        &w,
        "flaky-model",
        Behavior {
            tokens: 8,
            drop_after: Some(2),
            ..Behavior::default()
        },
    )
    .await;
    let conv = w.app.new_conversation(&w.user).await;
    let res = post(
        &w.app,
        &w.user,
        &messages_path(&conv),
        json!({"content": "one will fail", "model_ids": ["flaky-model", w.models[0]], "stream": true}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let events = parse_sse(&res.text().await.unwrap());
    let ids: Vec<String> = events[0].data["assistant_message_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    let (flaky, good) = (&ids[0], &ids[1]);

    let errors: Vec<&SseEvent> = events.iter().filter(|e| e.event == "error").collect();
    assert_eq!(errors.len(), 1, "{events:?}");
    assert_eq!(errors[0].data["message_id"], flaky.as_str());
    assert_eq!(errors[0].data["message"]["status"], "error");
    let dones: Vec<&SseEvent> = events.iter().filter(|e| e.event == "done").collect();
    assert_eq!(dones.len(), 1);
    assert_eq!(dones[0].data["id"], good.as_str());
    assert_eq!(dones[0].data["status"], "complete");
    assert_eq!(
        dones[0].data["content"]
            .as_str()
            .unwrap()
            .split_whitespace()
            .count(),
        8,
        "the other answer went on to its end"
    );
    // The failed one's deltas came before its error, and its text is kept.
    let texts = texts_by_answer(&events);
    let (flaky_text, flaky_status) = saved(&w.app, flaky);
    assert_eq!(flaky_status, "error");
    assert_eq!(
        texts.get(flaky.as_str()).cloned().unwrap_or_default(),
        flaky_text
    );
    assert_eq!(saved(&w.app, good).1, "complete");
}

#[tokio::test]
async fn bad_model_lists_are_422_on_model_ids_and_write_nothing() {
    let w = world(3, Duration::ZERO).await;
    let m = w.models.clone();
    let conv = w.app.new_conversation(&w.user).await;
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"content": "q", "model_ids": [m[0], m[0]]}),
            "same model twice",
        ),
        (json!({"content": "q", "model_ids": [m[0]]}), "one model"),
        (json!({"content": "q", "model_ids": []}), "no model"),
        (
            json!({"content": "q", "model_ids": [m[0], m[1], m[2], "fourth"]}),
            "four models",
        ),
        (
            json!({"content": "q", "model_id": m[0], "model_ids": [m[1], m[2]]}),
            "both model_id and model_ids",
        ),
        (
            json!({"content": "q", "model_ids": [m[0], "no-such-model"]}),
            "an unknown model",
        ),
        (
            json!({"content": "q", "model_ids": ["no-such-model", m[0]]}),
            "an unknown first model",
        ),
    ];
    for (body, why) in &cases {
        let res = post(&w.app, &w.user, &messages_path(&conv), body.clone()).await;
        assert_eq!(res.status(), 422, "{why}");
        let err: Value = res.json().await.unwrap();
        assert!(err["fields"]["model_ids"].is_string(), "{why}: {err}");
        // The same for a new conversation's first question, which leaves
        // no conversation behind.
        let mut create = body.clone();
        create["message"] = create["content"].take();
        if let Some(o) = create.as_object_mut() {
            o.remove("content");
        }
        let (status, err) = w.app.create_conversation(&w.user, create).await;
        assert_eq!(status, 422, "{why} (new conversation): {err}");
        assert!(err["fields"]["model_ids"].is_string(), "{why}: {err}");
    }
    assert!(saved_messages(&w.app, &conv).is_empty());
    assert!(upstream_models(&w.fake).is_empty());
    let (_, list) = w.app.conversations(&w.user, "").await;
    assert_eq!(list["conversations"].as_array().unwrap().len(), 1, "{list}");
}

#[tokio::test]
async fn the_plan_checks_every_model_and_counts_every_answer_before_anything_is_written() {
    let w = world(3, Duration::ZERO).await;
    let m = w.models.clone();
    let (status, plan) = w
        .app
        .create_plan(
            &w.admin,
            json!({"name": "Two", "allowed_models": [m[0], m[1]], "daily_message_limit": 2}),
        )
        .await;
    assert_eq!(status, 201, "{plan}");
    let (status, _) = w
        .app
        .set_plan(&w.admin, &w.user.id, json!({"plan": "Two"}))
        .await;
    assert_eq!(status, 200);
    let conv = w.app.new_conversation(&w.user).await;

    // A model outside the plan, even the last one: 403, nothing written.
    let res = post(
        &w.app,
        &w.user,
        &messages_path(&conv),
        json!({"content": "q", "model_ids": [m[0], m[2]]}),
    )
    .await;
    assert_eq!(res.status(), 403);
    let err: Value = res.json().await.unwrap();
    assert_eq!(err["code"], "model_not_in_plan");
    assert!(saved_messages(&w.app, &conv).is_empty());
    assert!(upstream_models(&w.fake).is_empty());

    // Two answers fit the daily limit of two; a third would not.
    let res = post(
        &w.app,
        &w.user,
        &messages_path(&conv),
        json!({"content": "q", "model_ids": [m[0], m[1]]}),
    )
    .await;
    assert_eq!(res.status(), 201);
    let res = post(
        &w.app,
        &w.user,
        &messages_path(&conv),
        json!({"content": "again", "model_ids": [m[0], m[1]]}),
    )
    .await;
    assert_eq!(res.status(), 429);
    assert_eq!(
        saved_messages(&w.app, &conv).len(),
        3,
        "the first turn only"
    );
}

#[tokio::test]
async fn each_answer_takes_a_place_among_the_users_running_answers() {
    let w = World::builder()
        .fake(Behavior {
            tokens: 3,
            ..Behavior::default()
        })
        .serve(|args| args.max_generations_per_user = 2)
        .await;
    let conv = w.app.new_conversation(&w.user).await;
    let res = post(
        &w.app,
        &w.user,
        &messages_path(&conv),
        json!({"content": "three at once", "model_ids": w.models}),
    )
    .await;
    assert_eq!(res.status(), 429);
    assert!(saved_messages(&w.app, &conv).is_empty());
    let res = post(
        &w.app,
        &w.user,
        &messages_path(&conv),
        json!({"content": "two at once", "model_ids": [w.models[0], w.models[1]]}),
    )
    .await;
    assert_eq!(res.status(), 201);
}

#[tokio::test]
async fn the_kept_answer_continues_the_thread_and_regenerate_and_edit_still_work() {
    // Two upstreams whose answers differ in length, so the history tells
    // which answer was kept.
    let w = world(3, Duration::ZERO).await;
    let _long = second_upstream(
        &w,
        "long-model",
        Behavior {
            tokens: 9,
            ..Behavior::default()
        },
    )
    .await;
    let conv = w.app.new_conversation(&w.user).await;
    let res = post(
        &w.app,
        &w.user,
        &messages_path(&conv),
        json!({"content": "which is better", "model_ids": [w.models[0], "long-model"]}),
    )
    .await;
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    let answers = body["answers"].as_array().unwrap();
    let (first, kept) = (&answers[0], &answers[1]);
    assert_ne!(first["content"], kept["content"]);

    // Keep the second answer: the existing branch switch.
    let res = w
        .app
        .as_user(
            Method::PATCH,
            &format!("/api/v1/conversations/{conv}"),
            &w.user.access,
        )
        .json(&json!({"current_message_id": kept["id"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let full = w.app.conversation(&w.user, &conv).await;
    assert_eq!(full["messages"][1]["id"], kept["id"]);
    assert_eq!(
        full["messages"][1]["sibling_ids"].as_array().unwrap().len(),
        2
    );

    // The next question goes to the conversation's model with the kept
    // answer in its history.
    w.fake.reset();
    let (status, next) = w.app.ask(&w.user, &conv, "and then").await;
    assert_eq!(status, 201, "{next}");
    assert_eq!(next["user_message"]["parent_id"], kept["id"]);
    let requests = w.fake.requests();
    let asked = requests
        .iter()
        .find(|r| r.body["messages"].to_string().contains("and then"))
        .expect("the next question went upstream");
    let history: Vec<&Value> = asked.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "assistant")
        .collect();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0]["content"], kept["content"]);

    // Regenerate and edit work after a side-by-side turn.
    let (status, again) = w.app.regenerate(&w.user, &conv, json!({})).await;
    assert_eq!(status, 201, "{again}");
    assert_eq!(again["message"]["sibling_ids"].as_array().unwrap().len(), 2);
    let res = post(
        &w.app,
        &w.user,
        &format!("/api/v1/conversations/{conv}/regenerate"),
        json!({}),
    )
    .await;
    assert_eq!(res.status(), 201);
    let res = w
        .app
        .as_user(
            Method::PATCH,
            &format!("/api/v1/conversations/{conv}/messages/last"),
            &w.user.access,
        )
        .json(&json!({"content": "and then, rewritten"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let full = w.app.conversation(&w.user, &conv).await;
    let shown: Vec<&str> = full["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(shown[0], "which is better");
    assert_eq!(shown[1], kept["content"].as_str().unwrap());
    assert_eq!(shown[2], "and then, rewritten");
}

#[tokio::test]
async fn stop_stops_every_answer_of_the_turn() {
    let w = world(300, Duration::from_millis(20)).await;
    let conv = w.app.new_conversation(&w.user).await;
    let mut res = post(
        &w.app,
        &w.user,
        &messages_path(&conv),
        json!({"content": "long", "model_ids": [w.models[0], w.models[1]], "stream": true}),
    )
    .await;
    let seen = read_sse_until(&mut res, |ev| texts_by_answer(ev).len() == 2).await;
    let ids: Vec<String> = seen[0].data["assistant_message_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();

    // Busy while either runs.
    let busy = post(
        &w.app,
        &w.user,
        &messages_path(&conv),
        json!({"content": "x"}),
    )
    .await;
    assert_eq!(busy.status(), 409);

    let stop = post(
        &w.app,
        &w.user,
        &format!("/api/v1/conversations/{conv}/stop"),
        json!({}),
    )
    .await;
    assert_eq!(stop.status(), 200);
    let stopped: Value = stop.json().await.unwrap();
    assert_eq!(stopped["stopped"], true);
    // The rest of the stream: a done per answer, each stopped.
    let rest = read_sse_until(&mut res, |_| false).await;
    let dones: Vec<&SseEvent> = rest.iter().filter(|e| e.event == "done").collect();
    assert_eq!(dones.len(), 2, "{rest:?}");
    assert!(dones.iter().all(|d| d.data["status"] == "stopped"));
    for id in &ids {
        let (text, status) = saved(&w.app, id);
        assert_eq!(status, "stopped");
        assert!(!text.is_empty() && text.split_whitespace().count() < 300);
    }
    let (status, _) = w.app.ask(&w.user, &conv, "next").await;
    assert_eq!(status, 201);
}

#[tokio::test]
async fn a_reconnect_joins_every_answer_and_resumes_each_after_its_last_delta() {
    let w = world(12, Duration::from_millis(30)).await;
    let conv = w.app.new_conversation(&w.user).await;
    let mut res = post(
        &w.app,
        &w.user,
        &messages_path(&conv),
        json!({"content": "count", "model_ids": [w.models[0], w.models[1]], "stream": true}),
    )
    .await;
    let first = read_sse_until(&mut res, |ev| {
        ev.iter().filter(|e| e.event == "delta").count() >= 5
    })
    .await;
    drop(res);
    let last_id = first
        .iter()
        .rfind(|e| e.event == "delta")
        .and_then(|e| e.id.clone())
        .unwrap();
    assert!(last_id.contains(','), "{last_id}");

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
    assert_eq!(res.status(), 200);
    let rest = parse_sse(&res.text().await.unwrap());
    assert!(
        rest.iter().all(|e| e.event != "message"),
        "no second message event"
    );
    let dones: Vec<&SseEvent> = rest.iter().filter(|e| e.event == "done").collect();
    assert_eq!(dones.len(), 2);
    let (before, after) = (texts_by_answer(&first), texts_by_answer(&rest));
    for done in dones {
        let id = done.data["id"].as_str().unwrap();
        let whole = format!(
            "{}{}",
            before.get(id).cloned().unwrap_or_default(),
            after.get(id).cloned().unwrap_or_default()
        );
        assert_eq!(
            whole,
            done.data["content"].as_str().unwrap(),
            "{id}: nothing missed, nothing twice"
        );
    }

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
    assert_eq!(all[0].event, "message");
    assert_eq!(all.iter().filter(|e| e.event == "done").count(), 2);
    assert_eq!(texts_by_answer(&all).len(), 2);
}

#[tokio::test]
async fn another_users_conversation_is_404_for_side_by_side_too() {
    let w = world(3, Duration::ZERO).await;
    let conv = w.app.new_conversation(&w.user).await;
    let intruder = w.app.signup("intruder").await;
    let body = json!({"content": "mine now", "model_ids": [w.models[0], w.models[1]]});
    let res = post(&w.app, &intruder, &messages_path(&conv), body.clone()).await;
    assert_eq!(res.status(), 404);
    let stream = w
        .app
        .as_user(
            Method::GET,
            &format!("/api/v1/conversations/{conv}/stream"),
            &intruder.access,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 404);
    let stop = post(
        &w.app,
        &intruder,
        &format!("/api/v1/conversations/{conv}/stop"),
        json!({}),
    )
    .await;
    assert_eq!(stop.status(), 404);
    assert!(saved_messages(&w.app, &conv).is_empty());
    assert!(upstream_models(&w.fake).is_empty());
}
