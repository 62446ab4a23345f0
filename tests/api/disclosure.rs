//! What one person's data must not show to another: an admin's system prompt
//! behind a published sample, a provider's raw error text behind a failed
//! answer (kept for admins only).

use reqwest::Method;
use serde_json::json;

use crate::helpers::world;

#[tokio::test]
async fn cloning_a_sample_does_not_hand_out_the_publishing_admins_system_prompt() {
    let w = world().await;
    let app = &w.app;
    let secret = "내부 지침: 고객 등급 코드는 VIP-7731";
    let (status, conv) = app
        .call(
            Method::POST,
            "/api/v1/conversations",
            Some(&w.admin),
            Some(json!({"title": "예시", "system_prompt": secret})),
        )
        .await;
    assert_eq!(status, 201, "{conv}");
    let conv = conv["id"].as_str().unwrap().to_string();
    assert_eq!(app.ask(&w.admin, &conv, "안녕하세요").await.0, 201);
    let (status, sample) = app
        .call(
            Method::POST,
            "/api/v1/samples",
            Some(&w.admin),
            Some(json!({"conversation_id": conv})),
        )
        .await;
    assert_eq!(status, 201, "{sample}");
    let id = sample["id"].as_str().unwrap();

    let (status, clone) = app
        .call(
            Method::POST,
            &format!("/api/v1/samples/{id}/clone"),
            Some(&w.user),
            None,
        )
        .await;
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
    let (_, read) = app
        .call(
            Method::GET,
            &format!("/api/v1/samples/{id}"),
            Some(&w.user),
            None,
        )
        .await;
    assert!(!read.to_string().contains("VIP-7731"), "{read}");
    // The admin's own conversation keeps it.
    assert_eq!(
        app.conversation(&w.admin, &conv).await["system_prompt"],
        secret
    );
}
