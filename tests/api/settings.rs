//! User settings, plans and their limits (SPEC §3 "User settings"): settings
//! follow the user, and a plan's limits stop a message before the upstream.
//!
//! Named operations from `client`; the table of bad section updates keeps the
//! generic `call`, since the route is part of each row.

use reqwest::Method;
use serde_json::{json, Value};

use crate::client::Nobody;
use crate::helpers::{spawn_app, upstream_calls_with, world, World};

async fn ask(w: &World, conv: &str, content: &str, model: Option<&str>) -> (u16, Value) {
    let mut body = json!({ "content": content });
    if let Some(m) = model {
        body["model_id"] = json!(m);
    }
    w.app.send_message(&w.user, conv, body).await
}

#[tokio::test]
async fn settings_have_defaults_change_whole_or_by_part_and_follow_the_user_to_a_new_session() {
    let app = spawn_app().await;
    let _admin = app.signup("admin").await;
    let user = app.signup("minji").await;
    let (status, s) = app.settings(&user).await;
    assert_eq!(status, 200);
    assert_eq!(s["theme"], "system");
    assert_eq!(s["language"], "ko");
    assert_eq!(s["default_model_id"], Value::Null);
    assert_eq!(
        s["notification"],
        json!({"on_complete": false, "sound": false})
    );
    assert_eq!(s["subscription"]["plan"], Value::Null);
    assert_eq!(s["subscription"]["daily_message_limit"], Value::Null);

    let (status, s) = app
        .update_settings(
            &user,
            json!({"theme": "dark", "language": "en", "system_prompt": "짧게 답해 주세요"}),
        )
        .await;
    assert_eq!(status, 200, "{s}");
    assert_eq!(s["theme"], "dark");
    assert_eq!(s["system_prompt"], "짧게 답해 주세요");

    let (status, n) = app
        .update_settings_section(&user, "notification", json!({"on_complete": true}))
        .await;
    assert_eq!(
        (status, n),
        (200, json!({"on_complete": true, "sound": false}))
    );
    let (status, t) = app
        .update_settings_section(&user, "theme", json!({"theme": "light"}))
        .await;
    assert_eq!((status, t), (200, json!({"theme": "light"})));

    // Another device: a fresh sign-in sees the same settings.
    let other_device = app.sign_in("minji").await;
    let (_, s) = app.settings(&other_device).await;
    assert_eq!(s["theme"], "light");
    assert_eq!(s["language"], "en");
    assert_eq!(s["notification"]["on_complete"], true);
    let (_, t) = app.settings_section(&other_device, "theme").await;
    assert_eq!(t, json!({"theme": "light"}));

    // A second user's settings are their own.
    let other = app.signup("other").await;
    let (_, s) = app.settings(&other).await;
    assert_eq!(s["theme"], "system");

    // Bad input, each with its reason.
    let bad: Vec<(&str, Value, u16, &str)> = vec![
        (
            "/api/v1/user/settings",
            json!({"theme": "blue"}),
            422,
            "validation_failed",
        ),
        (
            "/api/v1/user/settings",
            json!({"language": "fr"}),
            422,
            "validation_failed",
        ),
        (
            "/api/v1/user/settings",
            json!({"default_model_id": "nope"}),
            422,
            "validation_failed",
        ),
        (
            "/api/v1/user/settings",
            json!({"colour": "red"}),
            400,
            "bad_request",
        ),
        (
            "/api/v1/user/settings",
            json!({"theme": 3}),
            400,
            "bad_request",
        ),
        (
            "/api/v1/user/settings/theme",
            json!({}),
            422,
            "validation_failed",
        ),
        (
            "/api/v1/user/settings/notification",
            json!({"on_complete": "yes"}),
            400,
            "bad_request",
        ),
        (
            "/api/v1/user/settings/subscription",
            json!({}),
            422,
            "validation_failed",
        ),
        (
            "/api/v1/user/settings/subscription",
            json!({"plan": "nope"}),
            422,
            "validation_failed",
        ),
        (
            "/api/v1/user/settings/wallpaper",
            json!({}),
            404,
            "not_found",
        ),
    ];
    for (path, body, status, code) in bad {
        let (got, err) = app
            .call(Method::PUT, path, Some(&user), Some(body.clone()))
            .await;
        assert_eq!(got, status, "{path} {body} → {err}");
        assert_eq!(err["code"], code, "{path} {body}");
    }
    let res = app
        .as_user(Method::PUT, "/api/v1/user/settings", &user.access)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    // Nothing of that changed anything.
    let (_, s) = app.settings(&user).await;
    assert_eq!(
        (s["theme"].as_str(), s["language"].as_str()),
        (Some("light"), Some("en"))
    );
    // Signed out: 401.
    let (status, _) = app.settings(&Nobody).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn a_user_at_the_daily_limit_gets_429_before_any_upstream_call_until_an_admin_raises_it() {
    let w = world().await;
    let (status, plan) = w
        .app
        .create_plan(
            &w.admin,
            json!({"name": "Free", "daily_message_limit": 2, "is_default": true}),
        )
        .await;
    assert_eq!(status, 201, "{plan}");
    let plan_id = plan["id"].as_str().unwrap().to_string();

    let conv = w.app.new_conversation(&w.user).await;
    assert_eq!(ask(&w, &conv, "first question", None).await.0, 201);
    assert_eq!(ask(&w, &conv, "second question", None).await.0, 201);
    let (_, sub) = w.app.subscription(&w.user).await;
    assert_eq!(sub["plan"], "Free");
    assert_eq!(sub["daily_message_limit"], 2);
    assert_eq!(sub["used_today"], 2);

    let res = w
        .app
        .as_user(
            Method::POST,
            &format!("/api/v1/conversations/{conv}/messages"),
            &w.user.access,
        )
        .json(&json!({"content": "third question over the limit"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=86_400).contains(&retry), "{retry}");
    let err: Value = res.json().await.unwrap();
    assert_eq!(err["code"], "daily_limit_reached");
    let message = err["error"].as_str().unwrap();
    assert!(
        message.contains("all 2 messages") && message.contains("\"Free\""),
        "{message}"
    );
    assert!(message.contains("resets at") && message.contains(err["resets_at"].as_str().unwrap()));
    assert_eq!(err["resets_at"], sub["renews_at"]);
    // The upstream never saw it, and nothing was saved.
    assert_eq!(upstream_calls_with(&w.fake, "third question"), 0);
    assert_eq!(upstream_calls_with(&w.fake, "second question"), 1);
    let c = w.app.conversation(&w.user, &conv).await;
    assert_eq!(c["messages"].as_array().unwrap().len(), 4);
    // Streaming and regenerating are refused the same way.
    let (status, _) = w.app.regenerate(&w.user, &conv, json!({})).await;
    assert_eq!(status, 429);
    // Deleting the conversation does not give the messages back.
    let other = w.app.new_conversation(&w.user).await;
    w.app.delete_conversation(&w.user, &conv).await;
    assert_eq!(ask(&w, &other, "still over", None).await.0, 429);
    let (status, _) = w
        .app
        .update_plan(&w.admin, &plan_id, json!({"daily_message_limit": 3}))
        .await;
    assert_eq!(status, 200);
    let (status, body) = ask(&w, &other, "fourth question after the raise", None).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        upstream_calls_with(&w.fake, "fourth question after the raise"),
        1
    );
    assert_eq!(ask(&w, &other, "fifth", None).await.0, 429);

    // Both admin actions are in the audit log.
    let (_, audit) = w.app.audit(&w.admin, "").await;
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"plan.create") && actions.contains(&"plan.update"),
        "{actions:?}"
    );
}

#[tokio::test]
async fn a_model_outside_the_plan_is_403_and_users_switch_only_to_self_service_plans() {
    let w = world().await;
    let (allowed, other_model) = (w.models[1].clone(), w.models[0].clone());
    for body in [
        json!({"name": "Mini", "allowed_models": [allowed]}),
        json!({"name": "Pro", "self_service": false}),
        json!({"name": "Basic", "self_service": true, "daily_message_limit": 100}),
    ] {
        let (status, p) = w.app.create_plan(&w.admin, body).await;
        assert_eq!(status, 201, "{p}");
    }
    // Plans are validated.
    for (body, status) in [
        (json!({"name": "mini"}), 409),
        (json!({"name": ""}), 422),
        (json!({}), 422),
        (json!({"name": "X", "daily_message_limit": -1}), 422),
        (
            json!({"name": "X", "allowed_models": ["no-such-model"]}),
            422,
        ),
        (json!({"name": "X", "limit": 3}), 400),
    ] {
        let (got, err) = w.app.create_plan(&w.admin, body.clone()).await;
        assert_eq!(got, status, "{body} → {err}");
    }
    let (status, sub) = w
        .app
        .set_plan(&w.admin, &w.user.id, json!({"plan": "Mini"}))
        .await;
    assert_eq!(status, 200, "{sub}");
    assert_eq!(sub["plan"], "Mini");
    assert_eq!(sub["allowed_models"], json!([allowed]));

    let conv = w.app.new_conversation(&w.user).await;
    let (status, err) = ask(&w, &conv, "on the wrong model", Some(&other_model)).await;
    assert_eq!(status, 403, "{err}");
    assert_eq!(err["code"], "model_not_in_plan");
    let message = err["error"].as_str().unwrap();
    assert!(
        message.contains(&other_model) && message.contains("Mini"),
        "{message}"
    );
    assert_eq!(upstream_calls_with(&w.fake, "on the wrong model"), 0);
    let (status, _) = ask(&w, &conv, "on the right model", Some(&allowed)).await;
    assert_eq!(status, 201);
    assert_eq!(upstream_calls_with(&w.fake, "on the right model"), 1);

    // Self-service: Basic yes, Pro no.
    let (_, plans) = w.app.plans(&w.user).await;
    let names: Vec<&str> = plans["plans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Basic", "Mini"]);
    let (status, err) = w.app.choose_plan(&w.user, json!({"plan": "Pro"})).await;
    assert_eq!(
        (status, err["code"].as_str()),
        (403, Some("plan_not_self_service"))
    );
    let (status, sub) = w.app.choose_plan(&w.user, json!({"plan": "basic"})).await;
    assert_eq!(status, 200, "{sub}");
    assert_eq!(sub["plan"], "Basic");
    assert_eq!(sub["daily_message_limit"], 100);
    assert_eq!(
        ask(&w, &conv, "any model now", Some(&other_model)).await.0,
        201
    );

    // The admin sees the user's settings; a plain user gets 403 there.
    let (status, s) = w.app.user_settings(&w.admin, &w.user.id).await;
    assert_eq!(
        (status, s["subscription"]["plan"].as_str()),
        (200, Some("Basic"))
    );
    let (status, _) = w.app.user_settings(&w.user, &w.admin.id).await;
    assert_eq!(status, 403);
    let (status, _) = w.app.user_settings(&w.admin, "no-such-user").await;
    assert_eq!(status, 404);
    // Deleting the plan a user is on leaves them on no plan (no limits).
    let (_, all) = w.app.admin_plans(&w.admin).await;
    let basic = all["plans"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "Basic")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, _) = w.app.delete_plan(&w.admin, &basic).await;
    assert_eq!(status, 204);
    let (status, _) = w.app.delete_plan(&w.admin, &basic).await;
    assert_eq!(status, 404);
    let (_, sub) = w.app.subscription(&w.user).await;
    assert_eq!(sub["plan"], Value::Null);
}
