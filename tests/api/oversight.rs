//! The prompt library, admin oversight (users' conversations, feedback,
//! usage, audit log), conversation export/import, and the authorization
//! matrix of every route this brought in.
//!
//! Tests speak through the named operations of `client`; the authorization
//! matrices (one status for a list of method + path pairs) keep the generic
//! `call`, since the route itself is what they vary.

use reqwest::Method;
use serde_json::{json, Value};

use crate::client::Nobody;
use crate::helpers::{audit_actions, world};

#[tokio::test]
async fn the_prompt_library_ships_korean_and_english_starters_and_admins_add_their_own() {
    let w = world().await;
    let app = &w.app;
    // No sign-in needed to read.
    let (status, all) = app.prompts(&Nobody, "").await;
    assert_eq!(status, 200);
    let prompts = all["prompts"].as_array().unwrap();
    assert!(prompts.len() >= 16);
    assert!(prompts.iter().all(|p| p["builtin"] == true));
    let (_, ko) = app.prompts(&Nobody, "lang=ko").await;
    assert!(ko["prompts"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["language"] == "ko"));
    assert!(ko.to_string().contains("회의록 정리"));
    let (_, found) = app
        .prompts(&Nobody, "q=%EB%A7%9E%EC%B6%A4%EB%B2%95") // 맞춤법
        .await;
    assert_eq!(found["prompts"].as_array().unwrap().len(), 1);

    let (status, mine) = app
        .create_prompt(&w.admin, json!({"title": "보고서 초안", "content": "다음 내용으로 주간 보고서 초안을 써 주세요: ", "category": "업무", "tags": ["보고서"], "language": "ko"}))
        .await;
    assert_eq!(status, 201, "{mine}");
    let id = mine["id"].as_str().unwrap().to_string();
    let (_, ko) = app.prompts(&Nobody, "lang=ko&q=보고서").await;
    assert_eq!(ko["prompts"][0]["id"], id.as_str());
    assert_eq!(ko["prompts"][0]["builtin"], false);
    let (status, edited) = app
        .update_prompt(&w.admin, &id, json!({"title": "주간 보고서"}))
        .await;
    assert_eq!(
        (status, edited["title"].as_str()),
        (200, Some("주간 보고서"))
    );
    assert_eq!(edited["category"], "업무");

    // Starters are read-only; plain users change nothing; bad prompts are refused.
    for (method, body) in [
        (Method::PUT, Some(json!({"title": "x"}))),
        (Method::DELETE, None),
    ] {
        let (status, err) = app
            .call(
                method,
                "/api/v1/prompts/builtin-ko-summarize",
                Some(&w.admin),
                body,
            )
            .await;
        assert_eq!(
            (status, err["code"].as_str()),
            (403, Some("builtin_prompt"))
        );
    }
    for (body, status) in [
        (json!({"title": "", "content": "x"}), 422),
        (json!({"title": "x"}), 422),
        (json!({"title": "x", "content": "y", "language": "fr"}), 422),
        (json!({"title": "x", "content": "y", "colour": 1}), 400),
    ] {
        let (got, err) = app.create_prompt(&w.admin, body.clone()).await;
        assert_eq!(got, status, "{body} → {err}");
    }
    let (status, _) = app
        .update_prompt(&w.admin, "no-such", json!({"title": "x"}))
        .await;
    assert_eq!(status, 404);
    let (status, _) = app.delete_prompt(&w.admin, &id).await;
    assert_eq!(status, 204);
    let (_, ko) = app.prompts(&Nobody, "q=보고서").await;
    assert_eq!(ko["prompts"], json!([]));
    let actions: Vec<String> = audit_actions(app, &w.admin)
        .await
        .into_iter()
        .map(|a| a.0)
        .collect();
    for a in ["prompt.create", "prompt.update", "prompt.delete"] {
        assert!(actions.contains(&a.to_string()), "{a} in {actions:?}");
    }
}

#[tokio::test]
async fn admins_read_and_delete_users_conversations_see_feedback_and_usage_and_all_of_it_is_audited(
) {
    let w = world().await;
    let app = &w.app;
    let conv = app.new_conversation(&w.user).await;
    app.ask(&w.user, &conv, "first").await;
    let (_, second) = app.ask(&w.user, &conv, "second").await;
    let other_conv = app.new_conversation(&w.admin).await;
    app.ask(&w.admin, &other_conv, "admin's own").await;
    let (status, _) = app
        .give_feedback(
            &w.user,
            &conv,
            json!({"message_id": second["message"]["id"], "rating": "down", "comment": "너무 짧아요"}),
        )
        .await;
    assert_eq!(status, 200);

    let (status, list) = app.users_conversations(&w.admin, &w.user.id).await;
    assert_eq!(status, 200);
    assert_eq!(list["conversations"].as_array().unwrap().len(), 1);
    assert_eq!(list["conversations"][0]["id"], conv.as_str());
    let (status, read) = app.users_conversation(&w.admin, &w.user.id, &conv).await;
    assert_eq!(status, 200);
    assert_eq!(read["messages"].as_array().unwrap().len(), 4);
    // The user id must match: the admin's conversation is not under the user.
    let (status, _) = app
        .users_conversation(&w.admin, &w.user.id, &other_conv)
        .await;
    assert_eq!(status, 404);
    let (status, _) = app.users_conversations(&w.admin, "no-such-user").await;
    assert_eq!(status, 404);
    // A keyword search of the user's conversations, in that user's turn
    // among searches: theirs only, never the admin's own.
    for (q, found) in [
        ("second", 1),
        ("nothing-like-this", 0),
        ("admin%27s%20own", 0),
    ] {
        let (status, list) = app
            .users_conversations_where(&w.admin, &w.user.id, &format!("q={q}"))
            .await;
        assert_eq!(status, 200, "{q}");
        assert_eq!(
            list["conversations"].as_array().unwrap().len(),
            found,
            "{q}"
        );
    }

    let (status, fb) = app.all_feedback(&w.admin, "").await;
    assert_eq!(status, 200);
    assert_eq!(fb["feedback"][0]["rating"], "down");
    assert_eq!(fb["feedback"][0]["comment"], "너무 짧아요");
    assert_eq!(fb["feedback"][0]["username"], "minji");
    assert_eq!(fb["feedback"][0]["conversation_id"], conv.as_str());
    let (_, ups) = app.all_feedback(&w.admin, "rating=up").await;
    assert_eq!(ups["feedback"], json!([]));
    assert_eq!(app.all_feedback(&w.admin, "rating=meh").await.0, 422);

    let (status, usage) = app.usage(&w.admin, "").await;
    assert_eq!(status, 200, "{usage}");
    let rows = usage["items"].as_array().unwrap();
    let minji = rows.iter().find(|r| r["username"] == "minji").unwrap();
    assert_eq!(minji["messages"], 2);
    assert_eq!(minji["model_id"], w.models[0].as_str());
    assert!(minji["completion_tokens"].as_i64().unwrap() > 0);
    assert_eq!(usage["totals"]["messages"], 3);
    assert_eq!(usage["days"].as_array().unwrap().len(), 1);
    let (_, only) = app
        .usage(&w.admin, &format!("user_id={}", w.admin.id))
        .await;
    assert_eq!(only["totals"]["messages"], 1);
    let (_, paged) = app.usage(&w.admin, "limit=1").await;
    assert_eq!(paged["items"].as_array().unwrap().len(), 1);
    assert_eq!(paged["next_cursor"], "1");
    let (_, past) = app.usage(&w.admin, "from=2020-01-01&to=2020-01-31").await;
    assert_eq!(
        (past["items"].clone(), past["totals"]["messages"].clone()),
        (json!([]), json!(0))
    );
    for bad in [
        "from=yesterday",
        "from=2024-02-01&to=2024-01-01",
        "cursor=abc",
    ] {
        let (status, _) = app.usage(&w.admin, bad).await;
        assert!(status == 422 || status == 400, "{bad}: {status}");
    }

    // Deleting a user's conversation; usage stays.
    let (status, _) = app
        .delete_users_conversation(&w.admin, &w.user.id, &conv)
        .await;
    assert_eq!(status, 204);
    let (status, _) = app.read_conversation(&w.user, &conv).await;
    assert_eq!(status, 404);
    let (_, usage) = app.usage(&w.admin, "").await;
    assert_eq!(usage["totals"]["messages"], 3);

    let actions = audit_actions(app, &w.admin).await;
    assert!(actions.contains(&("conversation.read".to_string(), Some(conv.clone()))));
    assert!(actions.contains(&("conversation.delete".to_string(), Some(conv.clone()))));
    // The audit log pages.
    let (_, first) = app.audit(&w.admin, "limit=1").await;
    let cursor = first["next_cursor"].as_str().unwrap();
    let (_, second) = app
        .audit(&w.admin, &format!("limit=1&cursor={cursor}"))
        .await;
    assert_ne!(first["entries"][0]["id"], second["entries"][0]["id"]);
    assert_eq!(first["entries"][0]["actor_name"], "admin");
    assert!(first["entries"][0]["created_at"]
        .as_str()
        .unwrap()
        .ends_with('Z'));
}

#[tokio::test]
async fn a_conversation_exports_as_json_and_markdown_and_the_json_imports_back() {
    let w = world().await;
    let app = &w.app;
    let conv = app.new_conversation(&w.user).await;
    app.ask(&w.user, &conv, "김치찌개 만드는 법").await;
    let res = app
        .as_user(
            Method::GET,
            &format!("/api/v1/conversations/{conv}/export"),
            &w.user.access,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains(".json"));
    let exported: Value = res.json().await.unwrap();
    assert_eq!(exported["format"], "daehwa.conversation");
    assert_eq!(exported["messages"][0]["content"], "김치찌개 만드는 법");
    assert_eq!(exported["messages"].as_array().unwrap().len(), 2);

    let res = app
        .as_user(
            Method::GET,
            &format!("/api/v1/conversations/{conv}/export?format=markdown"),
            &w.user.access,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/markdown"));
    let md = res.text().await.unwrap();
    assert!(md.starts_with("# "), "{md}");
    assert!(md.contains("**User**\n\n김치찌개 만드는 법"), "{md}");
    assert!(md.contains("**Assistant**"), "{md}");

    // Import it back (as another user, too): a new conversation to continue.
    let other = app.signup("other").await;
    let (status, imported) = app.import_conversation(&other, exported.clone()).await;
    assert_eq!(status, 201, "{imported}");
    let id = imported["id"].as_str().unwrap();
    assert_eq!(imported["title"], exported["title"]);
    assert_eq!(imported["messages"][0]["content"], "김치찌개 만드는 법");
    assert_eq!(app.ask(&other, id, "더 맵게 하려면?").await.0, 201);

    let bad: Vec<(Value, u16)> = vec![
        (json!({"messages": []}), 422),
        (
            json!({"messages": [{"role": "wizard", "content": "x"}]}),
            422,
        ),
        (
            json!({"format": "other.app", "messages": [{"role": "user", "content": "x"}]}),
            422,
        ),
        (
            json!({"version": 9, "messages": [{"role": "user", "content": "x"}]}),
            422,
        ),
        (json!({"title": "x"}), 422),
        (
            json!({"messages": [{"role": "user", "content": "x", "extra": 1}]}),
            400,
        ),
    ];
    for (body, status) in bad {
        let (got, err) = app.import_conversation(&w.user, body.clone()).await;
        assert_eq!(got, status, "{body} → {err}");
    }
    // Another user's conversation does not export; a bad format is refused.
    let (status, _) = app.export_conversation(&other, &conv, "").await;
    assert_eq!(status, 404);
    let (status, _) = app.export_conversation(&w.user, &conv, "format=pdf").await;
    assert_eq!(status, 422);
    assert_eq!(app.import_conversation(&Nobody, exported).await.0, 401);
}

#[tokio::test]
async fn every_new_admin_route_is_403_for_a_user_and_401_signed_out_and_other_users_things_are_404()
{
    let w = world().await;
    let app = &w.app;
    let conv = app.new_conversation(&w.user).await;
    app.ask(&w.user, &conv, "private").await;
    let (_, share) = app.share(&w.user, &conv).await;
    let share = share["id"].as_str().unwrap().to_string();
    let (_, item) = app
        .collect(&w.user, json!({"title": "t", "content": "c"}))
        .await;
    let item = item["id"].as_str().unwrap().to_string();
    let uid = w.user.id.clone();
    let admin_routes: Vec<(Method, String)> = vec![
        (Method::GET, "/api/v1/admin/plans".into()),
        (Method::POST, "/api/v1/admin/plans".into()),
        (Method::PUT, "/api/v1/admin/plans/x".into()),
        (Method::DELETE, "/api/v1/admin/plans/x".into()),
        (Method::GET, format!("/api/v1/users/{uid}/settings")),
        (Method::PUT, format!("/api/v1/users/{uid}/settings")),
        (
            Method::GET,
            format!("/api/v1/users/{uid}/settings/subscription"),
        ),
        (
            Method::PUT,
            format!("/api/v1/users/{uid}/settings/subscription"),
        ),
        (Method::GET, format!("/api/v1/users/{uid}/conversations")),
        (
            Method::GET,
            format!("/api/v1/users/{uid}/conversations/{conv}"),
        ),
        (
            Method::DELETE,
            format!("/api/v1/users/{uid}/conversations/{conv}"),
        ),
        (Method::GET, "/api/v1/admin/feedback".into()),
        (Method::GET, "/api/v1/admin/usage".into()),
        (Method::GET, "/api/v1/admin/audit".into()),
        (Method::POST, "/api/v1/samples".into()),
        (Method::DELETE, "/api/v1/samples/x".into()),
        (Method::POST, "/api/v1/prompts".into()),
        (Method::PUT, "/api/v1/prompts/x".into()),
        (Method::DELETE, "/api/v1/prompts/x".into()),
    ];
    let plain = app.signup("plain").await;
    for (method, path) in &admin_routes {
        let (status, err) = app
            .call(method.clone(), path, Some(&plain), Some(json!({})))
            .await;
        assert_eq!(
            (status, err["code"].as_str()),
            (403, Some("admin_only")),
            "{method} {path}"
        );
        let (status, _) = app.call(method.clone(), path, None, Some(json!({}))).await;
        assert_eq!(status, 401, "{method} {path} signed out");
    }
    // The user's things are untouched by all of that.
    assert_eq!(
        app.conversation(&w.user, &conv).await["messages"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // A second user: 404 on the first user's share (except the public read)
    // and collector items; their own settings are theirs.
    let user_routes: Vec<(Method, String, Option<Value>)> = vec![
        (Method::DELETE, format!("/api/v1/shares/{share}"), None),
        (Method::GET, format!("/api/v1/collector/items/{item}"), None),
        (
            Method::PUT,
            format!("/api/v1/collector/items/{item}"),
            Some(json!({"title": "x"})),
        ),
        (
            Method::DELETE,
            format!("/api/v1/collector/items/{item}"),
            None,
        ),
        (
            Method::POST,
            "/api/v1/shares".into(),
            Some(json!({"conversation_id": conv})),
        ),
        (
            Method::GET,
            format!("/api/v1/conversations/{conv}/export"),
            None,
        ),
        (
            Method::POST,
            "/api/v1/collector/items".into(),
            Some(json!({"title": "x", "content": "y", "source_message_id": "?"})),
        ),
    ];
    for (method, path, body) in user_routes {
        let (status, err) = app
            .call(method.clone(), &path, Some(&plain), body.clone())
            .await;
        assert_eq!(
            (status, err["code"].as_str()),
            (404, Some("not_found")),
            "{method} {path}"
        );
        let (status, _) = app.call(method.clone(), &path, None, body).await;
        assert_eq!(status, 401, "{method} {path} signed out");
    }
    assert_eq!(app.read_share(&plain, &share).await.0, 200);
    let (_, theirs) = app.settings(&plain).await;
    assert_eq!(theirs["theme"], "system");
    for (method, path) in [
        (Method::GET, "/api/v1/user/settings"),
        (Method::GET, "/api/v1/plans"),
        (Method::GET, "/api/v1/shares"),
        (Method::GET, "/api/v1/samples"),
        (Method::GET, "/api/v1/collector/items"),
        (Method::GET, "/api/v1/collector/tags"),
    ] {
        assert_eq!(
            app.call(method.clone(), path, None, None).await.0,
            401,
            "{method} {path}"
        );
    }
}

#[tokio::test]
async fn every_admin_change_lands_in_the_audit_log_with_who_what_and_target() {
    let w = world().await;
    let app = &w.app;
    let admin = &w.admin;
    let conv = app.new_conversation(&w.admin).await;
    app.ask(&w.admin, &conv, "sample me").await;
    let user_conv = app.new_conversation(&w.user).await;
    app.ask(&w.user, &user_conv, "hi").await;
    let (_, user_share) = app.share(&w.user, &user_conv).await;
    let (_, plan) = app.create_plan(admin, json!({"name": "P"})).await;
    let plan = plan["id"].as_str().unwrap().to_string();
    app.update_plan(admin, &plan, json!({"daily_message_limit": 9}))
        .await;
    let uid = w.user.id.clone();
    app.set_plan(admin, &uid, json!({"plan": "P"})).await;
    app.update_user_settings(admin, &uid, json!({"theme": "dark"}))
        .await;
    let (_, sample) = app
        .create_sample(admin, json!({"conversation_id": conv}))
        .await;
    let sample = sample["id"].as_str().unwrap().to_string();
    app.delete_sample(admin, &sample).await;
    let (_, prompt) = app
        .create_prompt(admin, json!({"title": "t", "content": "c"}))
        .await;
    let prompt = prompt["id"].as_str().unwrap().to_string();
    app.update_prompt(admin, &prompt, json!({"title": "t2"}))
        .await;
    app.delete_prompt(admin, &prompt).await;
    let share = user_share["id"].as_str().unwrap().to_string();
    app.unshare(admin, &share).await;
    app.users_conversation(admin, &uid, &user_conv).await;
    app.delete_users_conversation(admin, &uid, &user_conv).await;
    app.delete_plan(admin, &plan).await;

    let log = audit_actions(app, &w.admin).await;
    let expected: Vec<(&str, &str)> = vec![
        ("plan.create", &plan),
        ("plan.update", &plan),
        ("user.subscription.update", &uid),
        ("user.settings.update", &uid),
        ("sample.create", &sample),
        ("sample.delete", &sample),
        ("prompt.create", &prompt),
        ("prompt.update", &prompt),
        ("prompt.delete", &prompt),
        ("share.delete", &share),
        ("conversation.read", &user_conv),
        ("conversation.delete", &user_conv),
        ("plan.delete", &plan),
    ];
    for (action, target) in &expected {
        assert!(
            log.contains(&(action.to_string(), Some(target.to_string()))),
            "{action} on {target} missing from {log:?}"
        );
    }
    // Newest first, one entry per action above (plus the connection the world added).
    let ours: Vec<&str> = log
        .iter()
        .map(|(a, _)| a.as_str())
        .filter(|a| !a.starts_with("connection"))
        .collect();
    let wanted: Vec<&str> = expected.iter().rev().map(|(a, _)| *a).collect();
    assert_eq!(ours, wanted);
}
