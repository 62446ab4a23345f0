//! The collector (SPEC §3 "Collector"): text-file uploads and JSON items,
//! search and tags, refusals, and items attached to a message reaching the
//! model within the context budget.
//!
//! Named operations from `client`; the "another user sees none of it" matrix
//! keeps the generic `call`, since it varies the method over one route.

use reqwest::multipart::{Form, Part};
use reqwest::Method;
use serde_json::{json, Value};

use crate::client::Nobody;
use crate::helpers::{upstream_calls_with, world, Session, TestApp};

const KOREAN_MD: &str =
    "# 강아지 산책 안내\n\n강아지는 하루 두 번 산책이 필요합니다.\n비밀 암호: 파란고양이-7431\n";
const CSV: &str = "name,city\n민지,서울\nJisoo,Busan\n";

async fn upload(
    app: &TestApp,
    user: &Session,
    name: &str,
    bytes: Vec<u8>,
    extra: &[(&str, &str)],
) -> (u16, Value) {
    let mut form = Form::new().part("file", Part::bytes(bytes).file_name(name.to_string()));
    for (k, v) in extra {
        form = form.text(k.to_string(), v.to_string());
    }
    let res = app
        .as_user(Method::POST, "/api/v1/collector/items", &user.access)
        .multipart(form)
        .send()
        .await
        .expect("upload");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn korean_markdown_and_csv_uploads_are_kept_searched_tagged_edited_and_deleted() {
    let w = world().await;
    let app = &w.app;
    let (status, md) = upload(
        app,
        &w.user,
        "산책.md",
        KOREAN_MD.as_bytes().to_vec(),
        &[("tags", "강아지, 산책")],
    )
    .await;
    assert_eq!(status, 201, "{md}");
    assert_eq!(md["title"], "산책.md");
    assert_eq!(md["filename"], "산책.md");
    assert_eq!(md["content"], KOREAN_MD);
    assert_eq!(md["tags"], json!(["강아지", "산책"]));
    let (status, csv) = upload(
        app,
        &w.user,
        "people.csv",
        CSV.as_bytes().to_vec(),
        &[("title", "사람 목록"), ("tags", "[\"data\"]")],
    )
    .await;
    assert_eq!(status, 201, "{csv}");
    assert_eq!(csv["title"], "사람 목록");
    assert_eq!(csv["content"], CSV);
    let (status, note) = app
        .collect(&w.user, json!({"title": "메모", "content": "Rust 소유권 메모", "url": "https://doc.rust-lang.org", "tags": ["rust", "Rust", " "]}))
        .await;
    assert_eq!(status, 201, "{note}");
    assert_eq!(note["tags"], json!(["rust"]));

    // Lists carry an excerpt, newest first; q is a case-insensitive substring
    // search (a Korean word with a particle is found by its stem); tag filters.
    let (_, all) = app.collected(&w.user, "").await;
    let titles: Vec<&str> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["메모", "사람 목록", "산책.md"]);
    assert!(all["items"][0].get("content").is_none());
    assert_eq!(all["items"][0]["excerpt"], "Rust 소유권 메모");
    for (query, expected) in [
        ("q=%EA%B0%95%EC%95%84%EC%A7%80", vec!["산책.md"]), // 강아지
        ("q=busan", vec!["사람 목록"]),
        ("q=rust,%EB%A9%94%EB%AA%A8", vec!["메모"]), // rust,메모
        ("tag=DATA", vec!["사람 목록"]),
        ("tag=%EC%82%B0%EC%B1%85", vec!["산책.md"]), // 산책
        ("q=nothing-like-this", vec![]),
    ] {
        let (_, found) = app.collected(&w.user, query).await;
        let titles: Vec<&str> = found["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["title"].as_str().unwrap())
            .collect();
        assert_eq!(titles, expected, "{query}");
    }
    let (_, page) = app.collected(&w.user, "limit=2").await;
    let cursor = page["next_cursor"].as_str().unwrap();
    let (_, rest) = app
        .collected(&w.user, &format!("limit=2&cursor={cursor}"))
        .await;
    assert_eq!(rest["items"].as_array().unwrap().len(), 1);
    assert_eq!(rest["items"][0]["title"], "산책.md");
    let (_, tags) = app.collector_tags(&w.user).await;
    assert_eq!(tags["tags"].as_array().unwrap().len(), 4);

    let id = note["id"].as_str().unwrap();
    let (status, edited) = app
        .update_collected(
            &w.user,
            id,
            json!({"content": "고친 메모", "tags": ["edited"]}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        (edited["title"].as_str(), edited["content"].as_str()),
        (Some("메모"), Some("고친 메모"))
    );
    assert_eq!(edited["url"], "https://doc.rust-lang.org");
    let (_, got) = app.collected_item(&w.user, id).await;
    assert_eq!(got["tags"], json!(["edited"]));

    // Another user sees none of it: 404 on every item route, an empty list.
    let other = app.signup("other").await;
    for (method, body) in [
        (Method::GET, None),
        (Method::PUT, Some(json!({"title": "x"}))),
        (Method::DELETE, None),
    ] {
        let (status, err) = app
            .call(
                method.clone(),
                &format!("/api/v1/collector/items/{id}"),
                Some(&other),
                body,
            )
            .await;
        assert_eq!(
            (status, err["code"].as_str()),
            (404, Some("not_found")),
            "{method}"
        );
    }
    let (_, theirs) = app.collected(&other, "").await;
    assert_eq!(theirs["items"], json!([]));
    assert_eq!(app.collected(&Nobody, "").await.0, 401);

    let (status, _) = app.delete_collected(&w.user, id).await;
    assert_eq!(status, 204);
    let (status, _) = app.collected_item(&w.user, id).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn executables_big_files_and_bad_items_are_refused_with_clear_errors() {
    let w = world().await;
    let app = &w.app;
    let (status, err) = upload(app, &w.user, "setup.exe", b"MZ\x90\x00\x03".to_vec(), &[]).await;
    assert_eq!(status, 415, "{err}");
    assert_eq!(err["code"], "unsupported_media_type");
    assert!(
        err["error"].as_str().unwrap().contains("setup.exe"),
        "{err}"
    );
    assert!(
        err["error"].as_str().unwrap().contains("text files"),
        "{err}"
    );

    let big = vec![b'a'; 20 * 1024 * 1024];
    let (status, err) = upload(app, &w.user, "big.txt", big, &[]).await;
    assert_eq!(status, 413, "{err}");
    assert_eq!(err["code"], "payload_too_large");
    assert!(err["error"].as_str().unwrap().contains("10 MiB"), "{err}");
    // Just over the limit, still under the framing allowance: refused while read.
    let (status, err) = upload(
        app,
        &w.user,
        "edge.txt",
        vec![b'a'; 10 * 1024 * 1024 + 1],
        &[],
    )
    .await;
    assert_eq!(
        (status, err["code"].as_str()),
        (413, Some("payload_too_large"))
    );
    // Exactly 10 MiB is fine.
    let (status, ok) = upload(app, &w.user, "full.txt", vec![b'b'; 10 * 1024 * 1024], &[]).await;
    assert_eq!(status, 201);
    assert_eq!(ok["size"], 10 * 1024 * 1024);

    let (status, err) = upload(
        app,
        &w.user,
        "latin1.txt",
        vec![0x63, 0x61, 0x66, 0xe9],
        &[],
    )
    .await;
    assert_eq!(
        (status, err["code"].as_str()),
        (415, Some("unsupported_media_type")),
        "{err}"
    );
    assert!(err["error"].as_str().unwrap().contains("UTF-8"));
    let (status, _) = upload(app, &w.user, "nul.txt", b"a\0b".to_vec(), &[]).await;
    assert_eq!(status, 415);
    let (status, _) = upload(app, &w.user, "empty.md", Vec::new(), &[]).await;
    assert_eq!(status, 422);
    let form = Form::new().text("title", "no file");
    let res = app
        .as_user(Method::POST, "/api/v1/collector/items", &w.user.access)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);

    let bad: Vec<(Value, u16)> = vec![
        (json!({"title": "x"}), 422),
        (json!({"title": "x", "content": "  "}), 422),
        (json!({"title": "", "content": "y"}), 422),
        (
            json!({"title": "x", "content": "y", "url": "javascript:alert(1)"}),
            422,
        ),
        (
            json!({"title": "x", "content": "y", "tags": ["a".repeat(41)]}),
            422,
        ),
        (
            json!({"title": "x", "content": "y", "source_message_id": "no-such-message"}),
            404,
        ),
        (json!({"title": "x", "content": 5}), 400),
        (json!({"title": "x", "content": "y", "colour": "red"}), 400),
    ];
    for (body, status) in bad {
        let (got, err) = app.collect(&w.user, body.clone()).await;
        assert_eq!(got, status, "{body} → {err}");
    }
    let res = app
        .as_user(Method::POST, "/api/v1/collector/items", &w.user.access)
        .header("content-type", "application/json")
        .body("{broken")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    // Only the 10 MiB file was kept.
    let (_, all) = app.collected(&w.user, "").await;
    assert_eq!(all["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn attached_items_reach_the_model_within_the_budget_and_the_message_records_them() {
    let w = world().await;
    let app = &w.app;
    let (_, md) = upload(app, &w.user, "산책.md", KOREAN_MD.as_bytes().to_vec(), &[]).await;
    let (_, csv) = upload(app, &w.user, "people.csv", CSV.as_bytes().to_vec(), &[]).await;
    let md_id = md["id"].as_str().unwrap();
    let conv = app.new_conversation(&w.user).await;
    let (status, answer) = app
        .send_message(
            &w.user,
            &conv,
            json!({"content": "암호가 뭐예요?", "collector_item_ids": [md_id]}),
        )
        .await;
    assert_eq!(status, 201, "{answer}");
    assert_eq!(
        answer["user_message"]["context"],
        json!([{"collector_item_id": md_id, "title": "산책.md", "truncated": false}])
    );
    // At the upstream: the file's text went with the question; the CSV did not.
    let sent = w
        .fake
        .requests()
        .into_iter()
        .find(|r| {
            r.body["messages"].to_string().contains("암호가 뭐예요?") && r.body["stream"] == true
        })
        .expect("the question reached the upstream");
    let messages = sent.body["messages"].as_array().unwrap();
    assert_eq!(messages[0]["role"], "system");
    assert!(messages[0]["content"]
        .as_str()
        .unwrap()
        .contains("비밀 암호: 파란고양이-7431"));
    assert!(!sent.body.to_string().contains("Jisoo,Busan"));
    // The thread shows which items the question carried.
    let c = app.conversation(&w.user, &conv).await;
    assert_eq!(c["messages"][0]["context"][0]["collector_item_id"], md_id);
    assert!(c["messages"][1].get("context").is_none());
    // A regeneration carries them again.
    let (status, _) = app.regenerate(&w.user, &conv, json!({})).await;
    assert_eq!(status, 201);
    assert_eq!(upstream_calls_with(&w.fake, "파란고양이-7431"), 2);

    // A big item is cut to the budget (the model has the default 8k window);
    // the question itself is always sent.
    let huge = "가나다라마바사아자차카타파하 ".repeat(20_000);
    let (_, big) = app
        .collect(&w.user, json!({"title": "큰 문서", "content": huge}))
        .await;
    let big_id = big["id"].as_str().unwrap();
    let csv_id = csv["id"].as_str().unwrap();
    let (status, answer) = app
        .send_message(
            &w.user,
            &conv,
            json!({"content": "요약해 주세요", "collector_item_ids": [csv_id, big_id, md_id]}),
        )
        .await;
    assert_eq!(status, 201, "{answer}");
    let context = answer["user_message"]["context"].as_array().unwrap();
    assert_eq!(context.len(), 2, "{context:?}");
    assert_eq!(context[0]["truncated"], false);
    assert_eq!(
        (
            context[1]["collector_item_id"].as_str(),
            context[1]["truncated"].as_bool()
        ),
        (Some(big_id), Some(true))
    );
    let sent = w
        .fake
        .requests()
        .into_iter()
        .rev()
        .find(|r| r.body["stream"] == true)
        .unwrap();
    let system = sent.body["messages"][0]["content"].as_str().unwrap();
    assert!(system.contains("Jisoo,Busan") && system.contains("[…truncated]"));
    assert!(system.len() < 8192 * 3 / 2, "{} bytes", system.len());
    assert!(sent.body["messages"].to_string().contains("요약해 주세요"));

    // Another user's item, or an unknown one, is a 404 and nothing is sent.
    let other = app.signup("other").await;
    let theirs = app.new_conversation(&other).await;
    let before = w.fake.requests().len();
    for ids in [json!([md_id]), json!(["no-such-item"])] {
        let (status, err) = app
            .send_message(
                &other,
                &theirs,
                json!({"content": "steal it", "collector_item_ids": ids}),
            )
            .await;
        assert_eq!(
            (status, err["code"].as_str()),
            (404, Some("not_found")),
            "{ids}"
        );
    }
    let too_many: Vec<String> = (0..21).map(|i| format!("id-{i}")).collect();
    let (status, _) = app
        .send_message(
            &other,
            &theirs,
            json!({"content": "x", "collector_item_ids": too_many}),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(w.fake.requests().len(), before);
    assert_eq!(
        app.conversation(&other, &theirs).await["messages"],
        json!([])
    );
}
