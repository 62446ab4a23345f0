//! Issue 18's server side, over HTTP: the first run (`GET /auth/setup`),
//! models re-discovered for a connection whose provider was down, reasons
//! with a thumbs-down, editing any earlier question, search snippets, the
//! error body's field codes, and the small gaps against SPEC (an admin's
//! default model and plan, a plan taken off, the seed's `notifications`,
//! empty titles, missing fields, the models' `created`).

use fake_llm::{Behavior, Config, FakeLlm};
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{eventually, spawn_app, world, Session, TestApp};

async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    who: &Session,
    body: Value,
) -> (u16, Value) {
    let body = (!body.is_null()).then_some(body);
    app.call(method, path, Some(who), body).await
}

#[tokio::test]
async fn an_empty_server_says_so_and_the_first_account_ends_the_first_run() {
    let app = spawn_app().await;
    let (status, setup) = app
        .call(Method::GET, "/api/v1/auth/setup", None, None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        setup,
        json!({"first_account": true, "registration_mode": "open"})
    );
    let admin = app.signup("first").await;
    let (_, setup) = app
        .call(Method::GET, "/api/v1/auth/setup", None, None)
        .await;
    assert_eq!(setup["first_account"], false);
    call(
        &app,
        Method::PUT,
        "/api/v1/admin/settings",
        &admin,
        json!({"registration_mode": "closed"}),
    )
    .await;
    let (_, setup) = app
        .call(Method::GET, "/api/v1/auth/setup", None, None)
        .await;
    assert_eq!(
        setup,
        json!({"first_account": false, "registration_mode": "closed"})
    );
}

#[tokio::test]
async fn a_connection_whose_provider_was_down_gets_its_models_when_it_comes_up() {
    let app = spawn_app().await;
    let admin = app.signup("admin").await;
    // A provider that is not running yet: its port, free again.
    let port = {
        let fake = FakeLlm::start(Behavior::default()).await;
        let port = fake
            .url()
            .rsplit(':')
            .next()
            .unwrap()
            .parse::<u16>()
            .unwrap();
        drop(fake);
        port
    };
    let base = format!("http://127.0.0.1:{port}/v1");
    let created = app.add_connection(&admin, "openai", &base, None).await;
    assert_eq!(created["models"], json!([]), "nothing to discover yet");
    let (_, models) = call(&app, Method::GET, "/api/v1/models", &admin, Value::Null).await;
    assert_eq!(models["models"], json!([]));

    // The provider starts; the next look at the models asks it (on demand,
    // or the background retry got there first).
    let _fake = FakeLlm::start(Config {
        port,
        behavior: Behavior::default(),
    })
    .await;
    let found = eventually("the models are discovered", async || {
        let (_, models) = app.call(Method::GET, "/api/v1/models", None, None).await;
        let list = models["models"].as_array()?.clone();
        (!list.is_empty()).then_some(list)
    })
    .await;
    assert!(found.iter().all(|m| m["available"] == true), "{found:?}");
    let (_, connections) = call(
        &app,
        Method::GET,
        "/api/v1/admin/connections",
        &admin,
        Value::Null,
    )
    .await;
    let models = connections["connections"][0]["models"].as_array().unwrap();
    assert!(
        !models.is_empty() && models.iter().all(|m| m["enabled"] == true),
        "{models:?}"
    );
}

#[tokio::test]
async fn a_thumbs_down_keeps_its_reasons_and_the_admin_sees_them() {
    let w = world().await;
    let conv = w.app.new_conversation(&w.user).await;
    let (_, exchange) = w.app.ask(&w.user, &conv, "hello").await;
    let answer = exchange["message"]["id"].as_str().unwrap().to_string();
    let path = format!("/api/v1/conversations/{conv}/feedback");

    let body = json!({"message_id": answer, "rating": "down",
        "reasons": ["incorrect", "too_verbose", "incorrect"], "comment": "  made up  "});
    let (status, saved) = call(&w.app, Method::POST, &path, &w.user, body).await;
    assert_eq!(status, 200, "{saved}");
    assert_eq!(
        saved["reasons"],
        json!(["too_verbose", "incorrect"]),
        "known order, once each"
    );
    assert_eq!(saved["comment"], "made up");
    let full = w.app.conversation(&w.user, &conv).await;
    assert_eq!(
        full["messages"][1]["feedback"],
        json!({"rating": "down", "comment": "made up", "reasons": ["too_verbose", "incorrect"]})
    );
    let (_, list) = call(
        &w.app,
        Method::GET,
        "/api/v1/admin/feedback",
        &w.admin,
        Value::Null,
    )
    .await;
    assert_eq!(
        list["feedback"][0]["reasons"],
        json!(["too_verbose", "incorrect"])
    );

    // A thumbs up afterwards drops the reasons.
    let body = json!({"message_id": answer, "rating": "up"});
    let (_, saved) = call(&w.app, Method::POST, &path, &w.user, body).await;
    assert_eq!(saved["reasons"], json!([]));

    // Refusals: an unknown reason, no message id (422, never a silent
    // rating of whichever answer is current), another conversation's message.
    let body = json!({"message_id": answer, "rating": "down", "reasons": ["boring"]});
    let (status, err) = call(&w.app, Method::POST, &path, &w.user, body).await;
    assert_eq!(
        (status, err["field_codes"]["reasons"].as_str()),
        (422, Some("invalid"))
    );
    let (status, err) = call(
        &w.app,
        Method::POST,
        &path,
        &w.user,
        json!({"rating": "down"}),
    )
    .await;
    assert_eq!(status, 422, "{err}");
    assert_eq!(err["code"], "validation_failed");
    assert_eq!(err["field_codes"], json!({"message_id": "required"}));
    let other = w.app.new_conversation(&w.user).await;
    let body = json!({"message_id": answer, "rating": "up"});
    let (status, _) = call(
        &w.app,
        Method::POST,
        &format!("/api/v1/conversations/{other}/feedback"),
        &w.user,
        body,
    )
    .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn any_earlier_question_can_be_rewritten_as_a_new_branch() {
    let w = world().await;
    let conv = w.app.new_conversation(&w.user).await;
    let mut questions = Vec::new();
    for q in ["one", "two", "three"] {
        let (status, exchange) = w.app.ask(&w.user, &conv, q).await;
        assert_eq!(status, 201);
        questions.push(exchange["user_message"]["id"].as_str().unwrap().to_string());
    }
    let old_leaf = w.app.conversation(&w.user, &conv).await["current_message_id"].clone();

    let path = format!("/api/v1/conversations/{conv}/messages/{}", questions[0]);
    let (status, exchange) = call(
        &w.app,
        Method::PATCH,
        &path,
        &w.user,
        json!({"content": "one, rewritten"}),
    )
    .await;
    assert_eq!(status, 201, "{exchange}");
    let full = w.app.conversation(&w.user, &conv).await;
    let thread = full["messages"].as_array().unwrap();
    assert_eq!(
        thread.len(),
        2,
        "the new branch: the rewritten question and its answer"
    );
    assert_eq!(thread[0]["content"], "one, rewritten");
    assert_eq!(thread[0]["sibling_ids"].as_array().unwrap().len(), 2);
    assert_eq!(thread[1]["status"], "complete");

    // The old branch is a version away, whole.
    let body = json!({"current_message_id": old_leaf});
    let (status, _) = call(
        &w.app,
        Method::PATCH,
        &format!("/api/v1/conversations/{conv}"),
        &w.user,
        body,
    )
    .await;
    assert_eq!(status, 200);
    let full = w.app.conversation(&w.user, &conv).await;
    let contents: Vec<&str> = full["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "user")
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(contents, ["one", "two", "three"]);

    // An answer is not a question; another user's conversation is not there.
    let answer = full["messages"][1]["id"].as_str().unwrap();
    let path = format!("/api/v1/conversations/{conv}/messages/{answer}");
    let (status, _) = call(
        &w.app,
        Method::PATCH,
        &path,
        &w.user,
        json!({"content": "x"}),
    )
    .await;
    assert_eq!(status, 404);
    let path = format!("/api/v1/conversations/{conv}/messages/{}", questions[1]);
    let (status, _) = call(
        &w.app,
        Method::PATCH,
        &path,
        &w.admin,
        json!({"content": "x"}),
    )
    .await;
    assert_eq!(status, 404);
    let (status, err) = call(
        &w.app,
        Method::PATCH,
        &path,
        &w.user,
        json!({"content": " "}),
    )
    .await;
    assert_eq!(
        (status, err["field_codes"]["content"].as_str()),
        (422, Some("empty"))
    );
}

#[tokio::test]
async fn search_results_carry_the_text_around_the_match() {
    let w = world().await;
    let conv = w.app.new_conversation(&w.user).await;
    let long = format!(
        "{} 배포는 금요일 오후에 Quokka 팀이 합니다 {}",
        "앞말 ".repeat(40),
        "뒷말 ".repeat(80)
    );
    w.app.ask(&w.user, &conv, &long).await;
    let (_, found) = call(
        &w.app,
        Method::GET,
        "/api/v1/conversations?q=quokka",
        &w.user,
        Value::Null,
    )
    .await;
    let snippet = found["conversations"][0]["snippet"].as_str().unwrap();
    assert!(snippet.contains("Quokka 팀이"), "{snippet}");
    assert!(
        snippet.starts_with('…') && snippet.ends_with('…'),
        "{snippet}"
    );
    assert!(snippet.chars().count() <= 170, "{snippet}");
    // Without a keyword: no snippet.
    let (_, list) = call(
        &w.app,
        Method::GET,
        "/api/v1/conversations",
        &w.user,
        Value::Null,
    )
    .await;
    assert!(list["conversations"][0].get("snippet").is_none());
}

#[tokio::test]
async fn field_errors_carry_codes_the_web_app_translates() {
    let app = spawn_app().await;
    let body = json!({"username": "a b", "password": "short"});
    let (status, err) = app
        .call(Method::POST, "/api/v1/auth/register", None, Some(body))
        .await;
    assert_eq!(status, 422);
    assert_eq!(
        err["field_codes"],
        json!({"username": "invalid_chars", "password": "too_short"})
    );
    assert!(
        err["fields"]["username"].is_string(),
        "the English text stays: {err}"
    );
    let body = json!({"username": "ab", "password": "longenough"});
    let (_, err) = app
        .call(Method::POST, "/api/v1/auth/register", None, Some(body))
        .await;
    assert_eq!(
        err["field_codes"],
        json!({"username": "too_short", "password": "weak"})
    );
    // A missing required field is a 422 with `fields`, like any other.
    let (status, err) = app
        .call(
            Method::POST,
            "/api/v1/auth/register",
            None,
            Some(json!({"username": "abc"})),
        )
        .await;
    assert_eq!(status, 422, "{err}");
    assert_eq!(err["field_codes"], json!({"password": "required"}));
    assert_eq!(err["fields"]["password"], "is required");
    // Wrong types and broken JSON stay 400.
    let (status, _) = app
        .call(
            Method::POST,
            "/api/v1/auth/register",
            None,
            Some(json!({"username": 1, "password": "x"})),
        )
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn a_refusal_to_retry_later_says_when_in_the_body() {
    let app = spawn_app().await;
    app.signup("owner").await;
    let mut last = (0, Value::Null);
    for _ in 0..7 {
        let body = json!({"username": "owner", "password": "wrong-password-1"});
        last = app
            .call(Method::POST, "/api/v1/auth/login", None, Some(body))
            .await;
        if last.0 == 429 {
            break;
        }
    }
    assert_eq!(last.0, 429, "{}", last.1);
    assert!(
        last.1["retry_after"].as_u64().is_some_and(|s| s > 0),
        "{}",
        last.1
    );
}

#[tokio::test]
async fn the_admin_sets_a_default_model_and_a_default_plan() {
    let w = world().await;
    let (status, settings) = call(
        &w.app,
        Method::GET,
        "/api/v1/admin/settings",
        &w.admin,
        Value::Null,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        (
            settings["default_model_id"].clone(),
            settings["default_plan_id"].clone()
        ),
        (Value::Null, Value::Null)
    );
    let last = w.models.last().unwrap().clone();
    assert_ne!(
        &last,
        w.models.first().unwrap(),
        "the fake lists several models"
    );
    let (status, settings) = call(
        &w.app,
        Method::PUT,
        "/api/v1/admin/settings",
        &w.admin,
        json!({"default_model_id": last}),
    )
    .await;
    assert_eq!(
        (status, settings["default_model_id"].as_str()),
        (200, Some(last.as_str()))
    );
    // A conversation with no model asked for takes it.
    let (status, created) = call(
        &w.app,
        Method::POST,
        "/api/v1/conversations",
        &w.user,
        json!({"message": "hi"}),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let conv = created["conversation_id"]
        .as_str()
        .or(created["id"].as_str())
        .unwrap()
        .to_string();
    let full = w.app.conversation(&w.user, &conv).await;
    assert_eq!(
        full["messages"][1]["model_id"].as_str(),
        Some(last.as_str()),
        "{full}"
    );
    // Unknown ones are refused; "" clears.
    let (status, err) = call(
        &w.app,
        Method::PUT,
        "/api/v1/admin/settings",
        &w.admin,
        json!({"default_model_id": "nope"}),
    )
    .await;
    assert_eq!(
        (status, err["field_codes"]["default_model_id"].as_str()),
        (422, Some("unknown"))
    );
    let (_, settings) = call(
        &w.app,
        Method::PUT,
        "/api/v1/admin/settings",
        &w.admin,
        json!({"default_model_id": ""}),
    )
    .await;
    assert_eq!(settings["default_model_id"], Value::Null);

    let (_, plan) = call(
        &w.app,
        Method::POST,
        "/api/v1/admin/plans",
        &w.admin,
        json!({"name": "Team", "daily_message_limit": 50}),
    )
    .await;
    let plan_id = plan["id"].as_str().unwrap().to_string();
    let (status, settings) = call(
        &w.app,
        Method::PUT,
        "/api/v1/admin/settings",
        &w.admin,
        json!({"default_plan_id": plan_id}),
    )
    .await;
    assert_eq!(
        (status, settings["default_plan_id"].as_str()),
        (200, Some(plan_id.as_str()))
    );
    let (_, plans) = call(
        &w.app,
        Method::GET,
        "/api/v1/admin/plans",
        &w.admin,
        Value::Null,
    )
    .await;
    let team = plans["plans"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == plan_id.as_str())
        .unwrap()
        .clone();
    assert_eq!(team["is_default"], true);
    let (status, _) = call(
        &w.app,
        Method::PUT,
        "/api/v1/admin/settings",
        &w.admin,
        json!({"default_plan_id": "nope"}),
    )
    .await;
    assert_eq!(status, 422);
    let (_, settings) = call(
        &w.app,
        Method::PUT,
        "/api/v1/admin/settings",
        &w.admin,
        json!({"default_plan_id": ""}),
    )
    .await;
    assert_eq!(settings["default_plan_id"], Value::Null);
}

#[tokio::test]
async fn an_admin_takes_a_plan_off_a_user_and_the_user_cannot() {
    let w = world().await;
    let (_, plan) = call(
        &w.app,
        Method::POST,
        "/api/v1/admin/plans",
        &w.admin,
        json!({"name": "Tiny", "daily_message_limit": 1}),
    )
    .await;
    let plan_id = plan["id"].as_str().unwrap();
    let path = format!("/api/v1/users/{}/settings/subscription", w.user.id);
    let (status, _) = call(
        &w.app,
        Method::PUT,
        &path,
        &w.admin,
        json!({"plan": plan_id}),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = call(
        &w.app,
        Method::PUT,
        "/api/v1/user/settings/subscription",
        &w.user,
        json!({"plan": null}),
    )
    .await;
    assert_eq!(status, 403, "a user may not leave an assigned plan");
    let (status, body) = call(&w.app, Method::PUT, &path, &w.admin, json!({"plan": null})).await;
    assert_eq!(status, 200, "{body}");
    let (_, settings) = call(&w.app, Method::GET, &path, &w.admin, Value::Null).await;
    assert!(
        settings["plan"].is_null() || settings["plan_id"].is_null(),
        "{settings}"
    );
    // `{}` still says what is missing.
    let (status, _) = call(&w.app, Method::PUT, &path, &w.admin, json!({})).await;
    assert_eq!(status, 422);
}

#[tokio::test]
async fn small_gaps_against_the_contract() {
    let w = world().await;
    // The seed's plural `notifications`.
    let body = json!({"on_complete": true});
    let (status, saved) = call(
        &w.app,
        Method::PUT,
        "/api/v1/user/settings/notifications",
        &w.user,
        body,
    )
    .await;
    assert_eq!(status, 200, "{saved}");
    let (_, read) = call(
        &w.app,
        Method::GET,
        "/api/v1/user/settings/notification",
        &w.user,
        Value::Null,
    )
    .await;
    assert_eq!(read["on_complete"], true);
    // An empty title is refused.
    let conv = w.app.new_conversation(&w.user).await;
    let (status, err) = call(
        &w.app,
        Method::PATCH,
        &format!("/api/v1/conversations/{conv}"),
        &w.user,
        json!({"title": "  "}),
    )
    .await;
    assert_eq!(
        (status, err["field_codes"]["title"].as_str()),
        (422, Some("empty"))
    );
    // A question without `content`: 422 naming it.
    let (status, err) = call(
        &w.app,
        Method::POST,
        &format!("/api/v1/conversations/{conv}/messages"),
        &w.user,
        json!({}),
    )
    .await;
    assert_eq!(
        (status, err["field_codes"]["content"].as_str()),
        (422, Some("required"))
    );
    // The models' `created` is when daehwa discovered them.
    let key = w
        .app
        .call(
            Method::POST,
            "/api/v1/api-keys",
            Some(&w.user),
            Some(json!({"client_name": "k"})),
        )
        .await
        .1;
    let key = key["api_key"].as_str().unwrap().to_string();
    let res = w
        .app
        .request(Method::GET, "/v1/models")
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    let models: Value = res.json().await.unwrap();
    let created = models["data"][0]["created"].as_i64().unwrap();
    assert!(created > 1_700_000_000, "{models}");
    let res = w
        .app
        .request(Method::GET, "/simple/models")
        .header("x-api-key", &key)
        .send()
        .await
        .unwrap();
    let models: Value = res.json().await.unwrap();
    assert!(
        models["data"][0]["created"].as_i64().unwrap() > 1_700_000_000,
        "{models}"
    );
}
