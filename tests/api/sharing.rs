//! Shares (public snapshots, clone, delete, expiry) and samples (SPEC §3
//! "Shares", "Samples") over real HTTP.
//!
//! Named operations from `client`; the plain-user matrix keeps the generic
//! `call`, since it varies the method and route.

use base64::Engine as _;
use reqwest::Method;
use serde_json::{json, Value};

use crate::client::Nobody;
use crate::helpers::{audit_actions, world};

#[tokio::test]
async fn a_share_is_a_snapshot_read_signed_out_cloned_continued_and_deleted() {
    let w = world().await;
    let app = &w.app;
    let conv = app.new_conversation(&w.user).await;
    assert_eq!(
        app.ask(&w.user, &conv, "강아지 산책은 얼마나?").await.0,
        201
    );

    let (status, share) = app.share(&w.user, &conv).await;
    assert_eq!(status, 201, "{share}");
    let id = share["id"].as_str().unwrap().to_string();
    assert_eq!(share["url"], format!("/s/{id}"));
    assert_eq!(share["expires_at"], Value::Null);
    // 128 random bits, and a different id every time.
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(&id)
        .unwrap();
    assert_eq!(raw.len(), 16);
    let (_, second) = app.share(&w.user, &conv).await;
    assert_ne!(second["id"], share["id"]);

    // Signed out, the snapshot reads.
    let (status, public) = app.read_share(&Nobody, &id).await;
    assert_eq!(status, 200, "{public}");
    let messages = public["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0]["role"], "user");
    assert_eq!(messages[0]["content"], "강아지 산책은 얼마나?");
    assert_eq!(messages[1]["role"], "assistant");
    assert!(public.get("system_prompt").is_none());

    // A message added after sharing is not in the share.
    assert_eq!(app.ask(&w.user, &conv, "after the share").await.0, 201);
    let (_, public) = app.read_share(&Nobody, &id).await;
    assert_eq!(public["messages"].as_array().unwrap().len(), 2);
    assert!(!public.to_string().contains("after the share"));

    // Another user clones it and continues the conversation.
    let other = app.signup("jisoo").await;
    let (status, clone) = app.clone_share(&other, &id).await;
    assert_eq!(status, 201, "{clone}");
    let clone_id = clone["id"].as_str().unwrap().to_string();
    assert_ne!(clone_id, conv);
    assert_eq!(clone["messages"].as_array().unwrap().len(), 2);
    let (status, _) = app.ask(&other, &clone_id, "continuing the clone").await;
    assert_eq!(status, 201);
    let continued = app.conversation(&other, &clone_id).await;
    assert_eq!(continued["messages"].as_array().unwrap().len(), 4);
    // The model saw the shared history with the new question.
    let continued_request = w
        .fake
        .requests()
        .into_iter()
        .find(|r| {
            r.body["messages"]
                .to_string()
                .contains("continuing the clone")
        })
        .expect("the continued clone reached the upstream");
    assert!(continued_request.body["messages"]
        .to_string()
        .contains("강아지 산책은 얼마나?"));
    // The original is untouched.
    assert_eq!(
        app.conversation(&w.user, &conv).await["messages"]
            .as_array()
            .unwrap()
            .len(),
        4
    );

    // Lists: mine only; admins may ask for all; a plain user may not.
    let (_, mine) = app.shares(&w.user, "").await;
    assert_eq!(mine["shares"].as_array().unwrap().len(), 2);
    let (_, theirs) = app.shares(&other, "").await;
    assert_eq!(theirs["shares"], json!([]));
    let (status, err) = app.shares(&other, "all=true").await;
    assert_eq!((status, err["code"].as_str()), (403, Some("admin_only")));
    let (status, all) = app.shares(&w.admin, "all=true").await;
    assert_eq!(status, 200);
    assert_eq!(all["shares"].as_array().unwrap().len(), 2);
    assert_eq!(all["shares"][0]["owner"], "minji");
    let (_, paged) = app.shares(&w.user, "limit=1").await;
    assert_eq!(paged["shares"].as_array().unwrap().len(), 1);
    let cursor = paged["next_cursor"].as_str().unwrap().to_string();
    let (_, rest) = app
        .shares(&w.user, &format!("limit=1&cursor={cursor}"))
        .await;
    assert_eq!(rest["shares"].as_array().unwrap().len(), 1);
    assert_ne!(rest["shares"][0]["id"], paged["shares"][0]["id"]);

    // Another user cannot delete it (404, as if it did not exist).
    let (status, _) = app.unshare(&other, &id).await;
    assert_eq!(status, 404);
    assert_eq!(app.read_share(&Nobody, &id).await.0, 200);
    // The owner can; then the link is gone.
    let (status, _) = app.unshare(&w.user, &id).await;
    assert_eq!(status, 204);
    let (status, err) = app.read_share(&Nobody, &id).await;
    assert_eq!((status, err["code"].as_str()), (404, Some("not_found")));
    let (status, _) = app.clone_share(&other, &id).await;
    assert_eq!(status, 404);
    // An admin may delete someone's share, and that is audited.
    let second_id = second["id"].as_str().unwrap();
    let (status, _) = app.unshare(&w.admin, second_id).await;
    assert_eq!(status, 204);
    assert!(audit_actions(app, &w.admin)
        .await
        .contains(&("share.delete".to_string(), Some(second_id.to_string()))));
    // Clone needs a sign-in.
    assert_eq!(app.clone_share(&Nobody, second_id).await.0, 401);
}

#[tokio::test]
async fn an_expired_share_and_the_shares_of_a_deleted_conversation_are_404() {
    let w = world().await;
    let app = &w.app;
    let conv = app.new_conversation(&w.user).await;
    app.ask(&w.user, &conv, "hello").await;
    let (status, share) = app
        .share_with(
            &w.user,
            json!({"conversation_id": conv, "expires_in_days": 7}),
        )
        .await;
    assert_eq!(status, 201);
    let id = share["id"].as_str().unwrap().to_string();
    let expires =
        chrono::DateTime::parse_from_rfc3339(share["expires_at"].as_str().unwrap()).unwrap();
    let days = (expires.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_hours();
    assert!((7 * 24 - 1..=7 * 24).contains(&days), "{days}");
    assert_eq!(app.read_share(&Nobody, &id).await.0, 200);
    // Time passes: the expiry is now in the past.
    rusqlite::Connection::open(&app.db_path)
        .unwrap()
        .execute(
            "UPDATE share SET expires_at = '2020-01-01T00:00:00Z' WHERE id = ?1",
            [&id],
        )
        .unwrap();
    assert_eq!(app.read_share(&Nobody, &id).await.0, 404);
    assert_eq!(app.clone_share(&w.user, &id).await.0, 404);

    let (_, live) = app.share(&w.user, &conv).await;
    let live = live["id"].as_str().unwrap().to_string();
    app.delete_conversation(&w.user, &conv).await;
    assert_eq!(app.read_share(&Nobody, &live).await.0, 404);

    // Bad requests, each with its reason.
    let other = app.signup("other").await;
    let theirs = app.new_conversation(&other).await;
    app.ask(&other, &theirs, "theirs").await;
    let empty = app.new_conversation(&w.user).await;
    let bad: Vec<(Value, u16)> = vec![
        (json!({"conversation_id": theirs}), 404),
        (json!({"conversation_id": "no-such-id"}), 404),
        (json!({"conversation_id": empty}), 422),
        (
            json!({"conversation_id": theirs, "expires_in_days": 0}),
            422,
        ),
        (
            json!({"conversation_id": theirs, "expires_in_days": 400}),
            422,
        ),
        (json!({"expires_in_days": 3}), 422),
        (json!({"conversation_id": 5}), 400),
    ];
    for (body, status) in bad {
        let (got, err) = app.share_with(&w.user, body.clone()).await;
        assert_eq!(got, status, "{body} → {err}");
    }
    assert_eq!(app.read_share(&Nobody, "not-a-share").await.0, 404);
}

#[tokio::test]
async fn admins_publish_samples_that_every_user_lists_reads_and_clones() {
    let w = world().await;
    let app = &w.app;
    let conv = app.new_conversation(&w.admin).await;
    app.ask(&w.admin, &conv, "Rust 소유권을 설명해 주세요")
        .await;
    let (status, sample) = app
        .create_sample(&w.admin, json!({"conversation_id": conv, "title": "Rust 입문", "description": "소유권 설명 예시"}))
        .await;
    assert_eq!(status, 201, "{sample}");
    let id = sample["id"].as_str().unwrap().to_string();
    assert_eq!(sample["title"], "Rust 입문");
    assert_eq!(sample["message_count"], 2);

    let (status, list) = app.samples(&w.user).await;
    assert_eq!(status, 200);
    assert_eq!(list["samples"][0]["id"], id.as_str());
    assert_eq!(list["samples"][0]["description"], "소유권 설명 예시");
    let (status, full) = app.sample(&w.user, &id).await;
    assert_eq!(status, 200);
    assert_eq!(
        full["messages"][0]["content"],
        "Rust 소유권을 설명해 주세요"
    );
    let (status, clone) = app.clone_sample(&w.user, &id).await;
    assert_eq!(status, 201);
    let clone_id = clone["id"].as_str().unwrap();
    assert_eq!(clone["title"], "Rust 입문");
    assert_eq!(
        app.conversation(&w.user, clone_id).await["messages"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(app.ask(&w.user, clone_id, "더 알려 주세요").await.0, 201);

    // Plain users cannot publish or delete; signed-out users see nothing.
    let mine = app.new_conversation(&w.user).await;
    app.ask(&w.user, &mine, "mine").await;
    for (method, path, body) in [
        (
            Method::POST,
            "/api/v1/samples".to_string(),
            Some(json!({"conversation_id": mine})),
        ),
        (Method::DELETE, format!("/api/v1/samples/{id}"), None),
    ] {
        let (status, err) = app.call(method.clone(), &path, Some(&w.user), body).await;
        assert_eq!(
            (status, err["code"].as_str()),
            (403, Some("admin_only")),
            "{method} {path}"
        );
    }
    assert_eq!(app.samples(&Nobody).await.0, 401);
    // An admin publishes their own conversations only: a user's is a 404.
    let (status, _) = app
        .create_sample(&w.admin, json!({"conversation_id": mine}))
        .await;
    assert_eq!(status, 404);
    let (status, _) = app
        .create_sample(
            &w.admin,
            json!({"conversation_id": conv, "title": "x".repeat(201)}),
        )
        .await;
    assert_eq!(status, 422);

    // The sample outlives its source conversation, until an admin deletes it.
    app.delete_conversation(&w.admin, &conv).await;
    assert_eq!(app.sample(&w.user, &id).await.0, 200);
    let (status, _) = app.delete_sample(&w.admin, &id).await;
    assert_eq!(status, 204);
    assert_eq!(app.sample(&w.user, &id).await.0, 404);
    assert_eq!(app.clone_sample(&w.user, &id).await.0, 404);
    let actions = audit_actions(app, &w.admin).await;
    assert!(actions.contains(&("sample.create".to_string(), Some(id.clone()))));
    assert!(actions.contains(&("sample.delete".to_string(), Some(id.clone()))));
}
