//! One user cannot starve or fail another's requests: big imports share the
//! database's write lock with everyone else.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::spawn_app;

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
    let (status, list) = app
        .call(
            Method::GET,
            "/api/v1/conversations?limit=200",
            Some(&hana),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(list["conversations"].as_array().unwrap().len(), 4);
}
