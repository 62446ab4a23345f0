//! One user cannot starve or fail another's requests: big imports share the
//! database's write lock with everyone else, and gateway calls take the same
//! places as the web app's answers.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{eventually, read_sse_until, spawn_app, TestApp, World};

/// Text that indexes like real prose: varied words, English and Korean.
fn prose(seed: u64, bytes: usize) -> String {
    const WORDS: &[&str] = &[
        "database",
        "question",
        "answer",
        "강아지",
        "고양이",
        "설사를",
        "kimchi",
        "recipe",
        "lifetime",
        "borrow",
        "서울",
        "부산",
        "weather",
        "가나다라",
        "conversation",
        "model",
        "import",
        "export",
        "search",
        "index",
        "트라이그램",
        "바이그램",
        "token",
        "stream",
    ];
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
    let mut out = String::with_capacity(bytes + 32);
    while out.len() < bytes {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let word = WORDS[(state >> 33) as usize % WORDS.len()];
        out.push_str(word);
        // A number makes most words distinct, as names and figures do.
        out.push_str(&((state >> 40) % 1000).to_string());
        out.push(' ');
    }
    out
}

/// An exported conversation of about `messages × bytes` bytes.
fn big_export(title: &str, messages: usize, bytes: usize) -> Value {
    let messages: Vec<Value> = (0..messages)
        .map(|i| {
            json!({
                "role": if i % 2 == 0 { "user" } else { "assistant" },
                "content": format!("{title} #{i}: {}", prose(i as u64, bytes)),
            })
        })
        .collect();
    json!({
        "format": "daehwa.conversation",
        "version": 1,
        "title": title,
        "messages": messages,
    })
}

#[tokio::test]
async fn four_parallel_big_imports_by_one_user_never_fail_another_users_writes_and_all_arrive_whole(
) {
    let app = spawn_app().await;
    let hana = app.signup("hana").await;
    let minho = app.signup("minho").await;
    const MESSAGES: usize = 60;
    let docs: Vec<Value> = (0..4)
        .map(|i| big_export(&format!("import {i}"), MESSAGES, 15_000))
        .collect();
    let size = serde_json::to_vec(&docs[0]).unwrap().len();
    assert!((850_000..1_000_000).contains(&size), "{size} bytes");

    let imports: Vec<_> = docs
        .iter()
        .cloned()
        .map(|doc| {
            let client = app.client.clone();
            let url = app.url("/api/v1/conversations/import");
            let token = hana.access.clone();
            tokio::spawn(async move {
                // Past the per-user cap the server says when to come back.
                loop {
                    let res = client
                        .post(&url)
                        .bearer_auth(&token)
                        .json(&doc)
                        .send()
                        .await
                        .unwrap();
                    let status = res.status().as_u16();
                    if status != 429 {
                        let body: Value = res.json().await.unwrap();
                        return (status, body);
                    }
                    let wait: u64 = res.headers()["retry-after"]
                        .to_str()
                        .unwrap()
                        .parse()
                        .unwrap();
                    // Honouring the server's Retry-After is the behaviour under test.
                    tokio::time::sleep(std::time::Duration::from_secs(wait)).await;
                }
            })
        })
        .collect();

    // Minho keeps writing while the imports run.
    let mut writes = 0;
    let mut failures = Vec::new();
    while writes < 5 || imports.iter().any(|i| !i.is_finished()) {
        let res = app
            .as_user(Method::POST, "/api/v1/conversations", &minho.access)
            .json(&json!({"title": format!("note {writes}")}))
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        if status != 201 {
            failures.push((status, res.text().await.unwrap()));
        }
        writes += 1;
    }
    assert!(failures.is_empty(), "minho's writes failed: {failures:?}");

    for (i, import) in imports.into_iter().enumerate() {
        let (status, body) = import.await.unwrap();
        assert_eq!(status, 201, "import {i}: {body}");
        let got = app.conversation(&hana, body["id"].as_str().unwrap()).await;
        let contents: Vec<&str> = got["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["content"].as_str().unwrap())
            .collect();
        let sent: Vec<&str> = docs[i]["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["content"].as_str().unwrap())
            .collect();
        assert!(contents == sent, "import {i} did not arrive whole");
    }
    let (status, list) = app.conversations(&hana, "limit=200").await;
    assert_eq!(status, 200);
    assert_eq!(list["conversations"].as_array().unwrap().len(), 4);
}

/// A gateway call of `key` (streamed or not) saying `content`.
async fn gateway_call(
    app: &TestApp,
    key: &str,
    model: &str,
    content: &str,
    stream: bool,
) -> reqwest::Response {
    app.request(Method::POST, "/v1/chat/completions")
        .bearer_auth(key)
        .json(&json!({
            "model": model,
            "stream": stream,
            "messages": [{"role": "user", "content": content}],
        }))
        .send()
        .await
        .unwrap()
}

/// Asserts a 429 in OpenAI's error shape with `Retry-After`.
async fn assert_openai_429(res: reqwest::Response, what: &str) {
    assert_eq!(res.status(), 429, "{what}");
    assert!(res.headers().contains_key("retry-after"), "{what}");
    let body: Value = res.json().await.unwrap();
    let err = &body["error"];
    assert_eq!(err["type"], "rate_limit_error", "{what}: {body}");
    assert!(
        err["message"].as_str().unwrap().contains("2 answers"),
        "{what}: {body}"
    );
    assert!(
        err.get("param").is_some_and(Value::is_null),
        "{what}: {body}"
    );
    assert!(err["code"].is_string(), "{what}: {body}");
}

#[tokio::test]
async fn gateway_calls_take_the_same_places_as_web_app_answers_and_give_them_back_however_they_end()
{
    let w = World::builder()
        .api_key(Some("up-key"))
        .user("jisoo")
        .serve(|args| args.max_generations_per_user = 2)
        .await;
    let (app, fake, admin, user) = (&w.app, &w.fake, &w.admin, &w.user);
    let model = w.model();
    let key = crate::gateway::api_key(app, user, "sdk").await;

    // One gateway call and one web-app answer, both stalled after a token.
    let stalled = "[[stall:1]] 천천히";
    let call = gateway_call(app, &key, &model, stalled, true).await;
    assert_eq!(call.status(), 200);
    let conv = app.new_conversation(user).await;
    let answer = app
        .as_user(
            Method::POST,
            &format!("/api/v1/conversations/{conv}/messages"),
            &user.access,
        )
        .json(&json!({"content": stalled, "stream": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let mut answer = answer;
    read_sse_until(&mut answer, |events| {
        events.iter().any(|e| e.event == "delta")
    })
    .await;

    // The user's two places are taken: a third call is refused, streamed or
    // not, before the provider is asked; so is a third web-app answer.
    let asked = fake.requests().len();
    assert_openai_429(gateway_call(app, &key, &model, "hi", false).await, "plain").await;
    assert_openai_429(
        gateway_call(app, &key, &model, "hi", true).await,
        "streamed",
    )
    .await;
    assert_eq!(
        fake.requests().len(),
        asked,
        "refused calls never reach the provider"
    );
    let other = app.new_conversation(user).await;
    let (status, body) = app.ask(user, &other, "hi").await;
    assert_eq!(status, 429, "{body}");
    // Another user is not counted against this one.
    let (status, body) = app
        .ask(admin, &app.new_conversation(admin).await, "hi")
        .await;
    assert_eq!(status, 201, "{body}");

    // The client of the stalled call goes away: its place comes back.
    drop(call);
    let res = eventually("the gateway's place is given back", async || {
        let res = gateway_call(app, &key, &model, "hi", false).await;
        (res.status() != 429).then_some(res)
    })
    .await;
    assert_eq!(res.status(), 200);

    // Calls that fail upstream give their place back too: more failures in
    // a row than there are places, then a call that works.
    for _ in 0..3 {
        let res = gateway_call(app, &key, &model, "[[fail:400]] hi", false).await;
        assert_eq!(res.status(), 502);
    }
    let res = gateway_call(app, &key, &model, "hi", true).await;
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("[DONE]"));

    // The stalled web-app answer is stopped: both places are free again.
    let res = app
        .as_user(
            Method::POST,
            &format!("/api/v1/conversations/{conv}/stop"),
            &user.access,
        )
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success());
    drop(answer);
    let both = eventually("both places are given back", async || {
        let a = gateway_call(app, &key, &model, stalled, true).await;
        let b = gateway_call(app, &key, &model, stalled, true).await;
        (a.status() == 200 && b.status() == 200).then_some((a, b))
    })
    .await;
    drop(both);
}

/// The ids of `who`'s conversations that `?q=` finds, sorted.
async fn found(app: &TestApp, who: &impl crate::client::Caller, q: &str) -> Vec<String> {
    let (status, body) = app.conversations(who, &format!("q={q}")).await;
    assert_eq!(status, 200, "{q}");
    let mut ids: Vec<String> = body["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

/// Searches take turns (src/db/searches.rs): a hundred of one user's at once
/// and another user's beside them all answer, each with its own user's
/// conversations only.
#[tokio::test]
async fn a_hundred_searches_of_one_user_at_once_and_anothers_all_answer_right() {
    let app = spawn_app().await;
    let hana = app.signup("hana").await;
    let minho = app.signup("minho").await;
    let mut mine = Vec::new();
    for (user, title) in [
        (&hana, "강아지 산책 hanaword"),
        (&hana, "강아지 병원 hanaword"),
        (&minho, "고양이 사료 minhoword"),
    ] {
        let (status, body) = app
            .create_conversation(user, json!({ "title": title }))
            .await;
        assert_eq!(status, 201);
        mine.push(body["id"].as_str().unwrap().to_string());
    }
    let many = futures_util::future::join_all((0..100).map(|_| found(&app, &hana, "hanaword")));
    let others = futures_util::future::join3(
        found(&app, &minho, "minhoword"),
        found(&app, &minho, "hanaword"),
        found(&app, &minho, "%EA%B0%95%EC%95%84%EC%A7%80"),
    );
    let (many, (own, hers, dog)) = futures_util::future::join(many, others).await;
    let mut hanas = mine[..2].to_vec();
    hanas.sort();
    for ids in many {
        assert_eq!(ids, hanas);
    }
    assert_eq!(own, [mine[2].clone()]);
    assert!(hers.is_empty(), "another user's titles");
    assert!(dog.is_empty(), "강아지 is hana's only");
}
