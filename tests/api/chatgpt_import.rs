//! The ChatGPT export import (issue 21): real ZIPs shaped like ChatGPT's
//! "Export data", uploaded to `POST /conversations/import/chatgpt`.

use std::io::Write;

use reqwest::multipart::{Form, Part};
use reqwest::Method;
use serde_json::{json, Map, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{world, Session, TestApp};

/// A node of a `mapping`: a message of `role` saying `text` at `t`.
fn node(id: &str, parent: Option<&str>, role: &str, text: &str, t: f64) -> (String, Value) {
    (
        id.to_string(),
        json!({
            "id": id,
            "parent": parent,
            "children": [],
            "message": {
                "id": id,
                "author": {"role": role, "name": null, "metadata": {}},
                "create_time": t,
                "update_time": null,
                "content": {"content_type": "text", "parts": [text]},
                "status": "finished_successfully",
                "end_turn": true,
                "weight": 1.0,
                "metadata": {"model_slug": "gpt-4o", "is_visually_hidden_from_conversation": false},
                "recipient": "all"
            }
        }),
    )
}

/// A conversation as ChatGPT exports it (children filled from parents).
fn conversation(title: &str, nodes: Vec<(String, Value)>, current: &str) -> Value {
    let mut mapping = Map::new();
    mapping.insert(
        "client-created-root".into(),
        json!({"id": "client-created-root", "message": null, "parent": null, "children": []}),
    );
    for (id, v) in nodes {
        mapping.insert(id, v);
    }
    let links: Vec<(String, String)> = mapping
        .iter()
        .filter_map(|(id, v)| v["parent"].as_str().map(|p| (p.to_string(), id.clone())))
        .collect();
    for (parent, child) in links {
        if let Some(Value::Array(children)) = mapping.get_mut(&parent).map(|p| &mut p["children"]) {
            children.push(json!(child));
        }
    }
    json!({
        "title": title,
        "create_time": 1714557600.25,
        "update_time": 1714561200.5,
        "mapping": mapping,
        "moderation_results": [],
        "current_node": current,
        "plugin_ids": null,
        "conversation_id": format!("conv-{title}"),
        "id": format!("conv-{title}"),
        "default_model_slug": "gpt-4o",
        "is_archived": false
    })
}

/// A ZIP of `files` (name, bytes).
fn zip_of(files: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in files {
        zip.start_file(*name, options).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

/// An export: `conversations.json` beside the rest ChatGPT puts there.
fn export(conversations: &[Value]) -> Vec<u8> {
    zip_of(&[
        (
            "conversations.json",
            serde_json::to_vec(conversations).unwrap(),
        ),
        ("chat.html", b"<html></html>".to_vec()),
        ("user.json", br#"{"id": "user-x"}"#.to_vec()),
        ("file-abc.png", vec![0x89, b'P', b'N', b'G']),
    ])
}

impl TestApp {
    async fn import_chatgpt(&self, who: &Session, bytes: Vec<u8>) -> (u16, Value) {
        let form = Form::new().part("file", Part::bytes(bytes).file_name("export.zip"));
        let res = self
            .as_user(
                Method::POST,
                "/api/v1/conversations/import/chatgpt",
                &who.access,
            )
            .multipart(form)
            .send()
            .await
            .unwrap();
        (
            res.status().as_u16(),
            res.json().await.unwrap_or(Value::Null),
        )
    }
}

fn linear() -> Value {
    conversation(
        "강아지 산책",
        vec![
            node(
                "sys",
                Some("client-created-root"),
                "system",
                "",
                1714557600.0,
            ),
            node(
                "u1",
                Some("sys"),
                "user",
                "강아지 산책은 하루에 몇 번?",
                1714557601.0,
            ),
            node(
                "a1",
                Some("u1"),
                "assistant",
                "하루 두 번이 좋아요.",
                1714557602.0,
            ),
            node("u2", Some("a1"), "user", "얼마나 오래?", 1714557603.0),
            node("a2", Some("u2"), "assistant", "30분 정도요.", 1714557604.0),
        ],
        "a2",
    )
}

fn branched() -> Value {
    let mut hidden = node(
        "h",
        Some("client-created-root"),
        "system",
        "system prompt",
        1.0,
    );
    hidden.1["message"]["metadata"]["is_visually_hidden_from_conversation"] = json!(true);
    let mut image = node("u1", Some("h"), "user", "", 1714557610.0);
    image.1["message"]["content"] = json!({
        "content_type": "multimodal_text",
        "parts": [
            {"content_type": "image_asset_pointer", "asset_pointer": "file-service://file-abc",
             "size_bytes": 1234, "width": 10, "height": 10},
            "이 사진의 고양이 품종은?"
        ]
    });
    conversation(
        "고양이 품종",
        vec![
            hidden,
            image,
            node(
                "a1",
                Some("u1"),
                "assistant",
                "코리안 숏헤어 같아요.",
                1714557611.0,
            ),
            // A regeneration of the answer…
            node(
                "a1b",
                Some("u1"),
                "assistant",
                "러시안 블루일 수도 있어요.",
                1714557612.0,
            ),
            node("u2", Some("a1b"), "user", "털 관리는?", 1714557613.0),
            node(
                "a2",
                Some("u2"),
                "assistant",
                "주 2회 빗질하세요.",
                1714557614.0,
            ),
            // …and an edit of the second question, shown.
            node(
                "u2e",
                Some("a1b"),
                "user",
                "털 관리는 어떻게 해요?",
                1714557615.0,
            ),
            node(
                "a2e",
                Some("u2e"),
                "assistant",
                "매일 빗질하면 좋아요.",
                1714557616.0,
            ),
        ],
        "a2e",
    )
}

fn cyclic() -> Value {
    json!({
        "title": "돌고 도는 대화",
        "create_time": 1714557600.0,
        "update_time": 1714557600.0,
        "mapping": {
            "x": {"id": "x", "message": null, "parent": "y", "children": ["y"]},
            "y": {"id": "y", "message": null, "parent": "x", "children": ["x"]}
        },
        "current_node": "x"
    })
}

#[tokio::test]
async fn an_export_becomes_conversations_with_their_branches_dates_and_problems() {
    let w = world().await;
    let (status, body) = w
        .app
        .import_chatgpt(&w.user, export(&[linear(), branched(), cyclic()]))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["imported"], 2, "{body}");
    assert_eq!(body["skipped"], 1, "{body}");
    assert_eq!(body["attachments_skipped"], 1, "{body}");
    assert_eq!(body["problems"][0]["title"], "돌고 도는 대화", "{body}");
    assert!(body["problems"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("loops"));
    let imported: Vec<(String, String)> = body["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_string(),
                c["title"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(imported.len(), 2);
    let id_of = |title: &str| {
        imported
            .iter()
            .find(|(_, t)| t == title)
            .map(|(id, _)| id.clone())
            .unwrap()
    };

    // The linear chat: the system message left out, dates kept.
    let (status, chat) = w
        .app
        .read_conversation(&w.user, &id_of("강아지 산책"))
        .await;
    assert_eq!(status, 200);
    let texts: Vec<&str> = chat["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(
        texts,
        [
            "강아지 산책은 하루에 몇 번?",
            "하루 두 번이 좋아요.",
            "얼마나 오래?",
            "30분 정도요."
        ]
    );
    assert_eq!(chat["messages"][1]["role"], "assistant");
    assert_eq!(chat["messages"][1]["model_id"], "gpt-4o");
    assert_eq!(chat["created_at"], "2024-05-01T10:00:00Z");
    assert_eq!(chat["updated_at"], "2024-05-01T11:00:00Z");
    assert_eq!(chat["messages"][0]["created_at"], "2024-05-01T10:00:01Z");

    // The branched chat: the current node's branch shown, the others kept
    // as versions.
    let (_, chat) = w
        .app
        .read_conversation(&w.user, &id_of("고양이 품종"))
        .await;
    let messages = chat["messages"].as_array().unwrap();
    let texts: Vec<&str> = messages
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(
        texts,
        [
            "이 사진의 고양이 품종은?",
            "러시안 블루일 수도 있어요.",
            "털 관리는 어떻게 해요?",
            "매일 빗질하면 좋아요."
        ]
    );
    assert_eq!(chat["current_message_id"], messages[3]["id"]);
    assert_eq!(
        messages[1]["sibling_ids"].as_array().unwrap().len(),
        2,
        "regenerated"
    );
    assert_eq!(
        messages[1]["sibling_ids"][1], messages[1]["id"],
        "the newer answer is the second version"
    );
    assert_eq!(
        messages[2]["sibling_ids"].as_array().unwrap().len(),
        2,
        "edited"
    );
    assert_eq!(messages[0]["sibling_ids"].as_array().unwrap().len(), 1);
    // The other version of the question is there, with its answer.
    let other = messages[2]["sibling_ids"]
        .as_array()
        .unwrap()
        .iter()
        .find(|id| **id != messages[2]["id"])
        .unwrap()
        .as_str()
        .unwrap()
        .to_string();
    let (status, switched) = w
        .app
        .call(
            Method::PATCH,
            &format!("/api/v1/conversations/{}", id_of("고양이 품종")),
            Some(&w.user),
            Some(json!({"current_message_id": other})),
        )
        .await;
    assert_eq!(status, 200, "{switched}");
    let (_, chat) = w
        .app
        .read_conversation(&w.user, &id_of("고양이 품종"))
        .await;
    let last = chat["messages"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["content"], "주 2회 빗질하세요.");

    // Listed and searchable, and nobody else's.
    let (_, list) = w.app.conversations(&w.user, "").await;
    assert_eq!(list["conversations"].as_array().unwrap().len(), 2, "{list}");
    let (_, found) = w.app.conversations(&w.user, "q=빗질").await;
    let found: Vec<&str> = found["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["title"].as_str().unwrap())
        .collect();
    assert_eq!(found, ["고양이 품종"]);
    let jisoo = w.app.signup("jisoo").await;
    for (id, _) in &imported {
        let (status, _) = w.app.read_conversation(&jisoo, id).await;
        assert_eq!(status, 404);
    }
    let (_, theirs) = w.app.conversations(&jisoo, "q=빗질").await;
    assert_eq!(theirs["conversations"], json!([]));
}

#[tokio::test]
async fn conversations_json_alone_and_one_folder_down_are_read_too() {
    let w = world().await;
    let alone = serde_json::to_vec(&[linear()]).unwrap();
    let (status, body) = w.app.import_chatgpt(&w.user, alone).await;
    assert_eq!(
        (status, body["imported"].as_u64()),
        (200, Some(1)),
        "{body}"
    );
    let nested = zip_of(&[(
        "export-2025-01-01/conversations.json",
        serde_json::to_vec(&[branched()]).unwrap(),
    )]);
    let (status, body) = w.app.import_chatgpt(&w.user, nested).await;
    assert_eq!(
        (status, body["imported"].as_u64()),
        (200, Some(1)),
        "{body}"
    );
}

#[tokio::test]
async fn a_file_that_is_not_a_chatgpt_export_is_422_and_writes_nothing() {
    let w = world().await;
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"just some text".to_vec(), "not a zip"),
        (
            zip_of(&[("chat.html", b"<html></html>".to_vec())]),
            "a zip without conversations.json",
        ),
        (
            zip_of(&[("conversations.json", br#"{"title": "x"}"#.to_vec())]),
            "JSON that is not a list",
        ),
        (
            zip_of(&[("conversations.json", br#"[{"title": "x"}, 3]"#.to_vec())]),
            "a list of things that are not conversations",
        ),
        (
            zip_of(&[("conversations.json", b"[{\"mapping\": ".to_vec())]),
            "cut off",
        ),
        (b"PK\x03\x04 broken".to_vec(), "a broken zip"),
    ];
    for (bytes, why) in cases {
        let (status, err) = w.app.import_chatgpt(&w.user, bytes).await;
        assert_eq!(status, 422, "{why}: {err}");
        assert_eq!(err["code"], "not_chatgpt_export", "{why}: {err}");
    }
    let (_, list) = w.app.conversations(&w.user, "").await;
    assert_eq!(list["conversations"], json!([]));
    // Not a form at all: 415.
    let (status, _) = w
        .app
        .call(
            Method::POST,
            "/api/v1/conversations/import/chatgpt",
            Some(&w.user),
            Some(json!([])),
        )
        .await;
    assert_eq!(status, 415);
    // Signed out: 401.
    let form = Form::new().part("file", Part::bytes(export(&[linear()])));
    let res = w
        .app
        .request(Method::POST, "/api/v1/conversations/import/chatgpt")
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn a_body_announced_over_100_mib_is_refused_before_it_is_sent() {
    let w = world().await;
    let mut stream = tokio::net::TcpStream::connect(w.app.addr).await.unwrap();
    let head = format!(
        "POST /api/v1/conversations/import/chatgpt HTTP/1.1\r\nHost: x\r\n\
         Authorization: Bearer {}\r\n\
         Content-Type: multipart/form-data; boundary=XyZ\r\n\
         Content-Length: 200000000\r\n\r\n",
        w.user.access
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let answer = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        loop {
            let n = stream.read(&mut buf).await.unwrap_or(0);
            if n == 0 {
                break;
            }
            seen.extend_from_slice(&buf[..n]);
            if String::from_utf8_lossy(&seen).contains("file_too_large") {
                break;
            }
        }
        String::from_utf8_lossy(&seen).to_string()
    })
    .await
    .expect("the server answers without the body");
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("file_too_large"), "{answer}");
}

#[tokio::test]
async fn an_import_of_old_chats_keeps_their_dates_and_is_not_taken_by_the_next_retention_run() {
    let w = world().await;
    // linear() was written on 2024-05-01: far older than a 30-day policy.
    let (status, body) = w.app.import_chatgpt(&w.user, export(&[linear()])).await;
    assert_eq!(status, 200, "{body}");
    let id = body["conversations"][0]["id"].as_str().unwrap().to_string();
    let res = w
        .app
        .as_user(
            Method::GET,
            &format!("/api/v1/conversations/{id}"),
            &w.user.access,
        )
        .send()
        .await
        .unwrap();
    let read: Value = res.json().await.unwrap();
    assert!(
        read["updated_at"]
            .as_str()
            .unwrap()
            .starts_with("2024-05-01"),
        "{read}"
    );

    let admin = |method: Method, path: &str| {
        w.app
            .as_user(method, &format!("/api/v1{path}"), &w.admin.access)
    };
    let res = admin(Method::PUT, "/admin/settings")
        .json(&json!({"retention_days": 30}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let preview: Value = admin(Method::GET, "/admin/retention/preview?days=30")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(preview["conversations"], 0, "{preview}");
    let run: Value = admin(Method::POST, "/admin/retention/run")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(run["conversations"], 0, "{run}");
    let res = w
        .app
        .as_user(
            Method::GET,
            &format!("/api/v1/conversations/{id}"),
            &w.user.access,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}
