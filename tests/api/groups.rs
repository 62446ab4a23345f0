//! Groups (issue 21): the admin's `/admin/groups` routes, the models a group
//! grants as every dialect sees them (lists and asks), and a group's plan.

use reqwest::Method;
use serde_json::{json, Value};

use crate::gateway::api_key;
use crate::helpers::{audit_actions, upstream_calls_with, world, Session, TestApp, World};

impl TestApp {
    async fn group_call(
        &self,
        who: &Session,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        self.call(method, &format!("/api/v1{path}"), Some(who), body)
            .await
    }

    async fn create_group(&self, admin: &Session, body: Value) -> (u16, Value) {
        self.group_call(admin, Method::POST, "/admin/groups", Some(body))
            .await
    }

    async fn patch_group(&self, admin: &Session, id: &str, body: Value) -> (u16, Value) {
        self.group_call(
            admin,
            Method::PATCH,
            &format!("/admin/groups/{id}"),
            Some(body),
        )
        .await
    }

    async fn add_members(&self, admin: &Session, id: &str, users: &[&str]) -> (u16, Value) {
        self.group_call(
            admin,
            Method::POST,
            &format!("/admin/groups/{id}/members"),
            Some(json!({ "user_ids": users })),
        )
        .await
    }

    async fn remove_member(&self, admin: &Session, id: &str, user: &str) -> u16 {
        self.group_call(
            admin,
            Method::DELETE,
            &format!("/admin/groups/{id}/members/{user}"),
            None,
        )
        .await
        .0
    }

    /// The model ids `GET /models` lists to `who` (None: anonymous).
    async fn model_ids(&self, who: Option<&Session>) -> Vec<String> {
        let (status, body) = self.call(Method::GET, "/api/v1/models", who, None).await;
        assert_eq!(status, 200, "{body}");
        ids(&body["models"])
    }
}

fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("a list: {list}"))
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn an_admin_creates_reads_changes_and_deletes_groups_and_every_change_is_audited() {
    let w = world().await;
    let jisoo = w.app.signup("jisoo").await;
    let (status, plan) = w
        .app
        .create_plan(&w.admin, json!({"name": "Team", "daily_message_limit": 50}))
        .await;
    assert_eq!(status, 201, "{plan}");
    let plan_id = plan["id"].as_str().unwrap();

    let (status, pro) = w
        .app
        .create_group(
            &w.admin,
            json!({"name": "Pro", "description": "paid seats", "plan_id": plan_id,
                "temporary_chats": true, "model_ids": [w.models[0], w.models[0]]}),
        )
        .await;
    assert_eq!(status, 201, "{pro}");
    assert_eq!(pro["name"], "Pro");
    assert_eq!(pro["description"], "paid seats");
    assert_eq!(pro["plan_id"], plan_id);
    assert_eq!(pro["temporary_chats"], true);
    assert_eq!(pro["model_ids"], json!([w.models[0]]));
    assert_eq!(pro["member_count"], 0);
    let id = pro["id"].as_str().unwrap().to_string();
    let (status, _) = w.app.create_group(&w.admin, json!({"name": "basic"})).await;
    assert_eq!(status, 201);

    // Refusals, each with its reason; none writes anything.
    for (body, status, field_or_code, why) in [
        (
            json!({"name": "pro"}),
            409,
            "name_taken",
            "the name, in other case",
        ),
        (json!({"name": ""}), 422, "name", "an empty name"),
        (
            json!({"name": "x".repeat(65)}),
            422,
            "name",
            "65 characters",
        ),
        (json!({}), 422, "name", "no name"),
        (
            json!({"name": "X", "model_ids": ["no-such-model"]}),
            422,
            "model_ids",
            "an unknown model",
        ),
        (
            json!({"name": "X", "plan_id": "no-such-plan"}),
            422,
            "plan_id",
            "an unknown plan",
        ),
        (
            json!({"name": "X", "members": []}),
            400,
            "bad_request",
            "an unknown field",
        ),
    ] {
        let (got, err) = w.app.create_group(&w.admin, body.clone()).await;
        assert_eq!(got, status, "{why}: {body} → {err}");
        if status == 422 {
            assert!(err["fields"][field_or_code].is_string(), "{why}: {err}");
        } else {
            assert_eq!(err["code"], field_or_code, "{why}: {err}");
        }
    }
    let (_, list) = w
        .app
        .group_call(&w.admin, Method::GET, "/admin/groups", None)
        .await;
    let names: Vec<&str> = list["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["basic", "Pro"], "by name, case-insensitively");

    // Members, in bulk: a repeated id and an existing member are not counted.
    let (status, added) = w
        .app
        .add_members(
            &w.admin,
            &id,
            &[w.user.id.as_str(), jisoo.id.as_str(), w.user.id.as_str()],
        )
        .await;
    assert_eq!((status, added["added"].as_u64()), (200, Some(2)), "{added}");
    let (_, again) = w.app.add_members(&w.admin, &id, &[jisoo.id.as_str()]).await;
    assert_eq!(again["added"], 0);
    // An unknown id refuses the whole request.
    let admin_id = w.admin.id.clone();
    let (status, err) = w
        .app
        .add_members(&w.admin, &id, &[admin_id.as_str(), "no-such-user"])
        .await;
    assert_eq!(status, 422, "{err}");
    assert!(err["fields"]["user_ids"].is_string(), "{err}");
    let too_many: Vec<String> = (0..1001).map(|i| format!("u{i}")).collect();
    let refs: Vec<&str> = too_many.iter().map(String::as_str).collect();
    assert_eq!(w.app.add_members(&w.admin, &id, &refs).await.0, 422);

    let (status, detail) = w
        .app
        .group_call(&w.admin, Method::GET, &format!("/admin/groups/{id}"), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(detail["member_count"], 2);
    let mut members: Vec<&str> = detail["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["username"].as_str().unwrap())
        .collect();
    members.sort();
    assert_eq!(members, ["jisoo", "minji"]);
    assert!(detail["members"][0]["display_name"].is_string());

    // The user's page names their groups.
    let (status, user) = w
        .app
        .call(
            Method::GET,
            &format!("/api/v1/users/{}", w.user.id),
            Some(&w.admin),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(user["username"], "minji");
    assert_eq!(user["groups"], json!([{"id": id, "name": "Pro"}]));

    // PATCH: only what is sent; `plan_id: null` clears; the name stays unique.
    let (status, patched) = w
        .app
        .patch_group(
            &w.admin,
            &id,
            json!({"plan_id": null, "temporary_chats": false}),
        )
        .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["plan_id"], Value::Null);
    assert_eq!(patched["temporary_chats"], false);
    assert_eq!(patched["description"], "paid seats");
    assert_eq!(patched["model_ids"], json!([w.models[0]]));
    let (status, err) = w
        .app
        .patch_group(&w.admin, &id, json!({"name": "BASIC"}))
        .await;
    assert_eq!((status, err["code"].as_str()), (409, Some("name_taken")));
    let (status, renamed) = w
        .app
        .patch_group(&w.admin, &id, json!({"name": "pro"}))
        .await;
    assert_eq!((status, renamed["name"].as_str()), (200, Some("pro")));

    assert_eq!(w.app.remove_member(&w.admin, &id, &jisoo.id).await, 204);
    assert_eq!(w.app.remove_member(&w.admin, &id, &jisoo.id).await, 404);
    let (status, _) = w
        .app
        .group_call(
            &w.admin,
            Method::DELETE,
            &format!("/admin/groups/{id}"),
            None,
        )
        .await;
    assert_eq!(status, 204);
    let (status, _) = w
        .app
        .group_call(&w.admin, Method::GET, &format!("/admin/groups/{id}"), None)
        .await;
    assert_eq!(status, 404);
    let (_, user) = w
        .app
        .call(
            Method::GET,
            &format!("/api/v1/users/{}", w.user.id),
            Some(&w.admin),
            None,
        )
        .await;
    assert_eq!(user["groups"], json!([]));

    let actions: Vec<(String, Option<String>)> = audit_actions(&w.app, &w.admin).await;
    for action in [
        "group.create",
        "group.update",
        "group.delete",
        "group.members.add",
        "group.members.remove",
    ] {
        assert!(
            actions
                .iter()
                .any(|(a, target)| a == action && target.as_deref() == Some(id.as_str())),
            "{action} in {actions:?}"
        );
    }
}

#[tokio::test]
async fn a_granted_model_that_left_its_connection_stays_granted_and_restricted() {
    let w = world().await;
    let model = w.models[0].clone();
    let (_, group) = w
        .app
        .create_group(&w.admin, json!({"name": "Pro", "model_ids": [model]}))
        .await;
    let id = group["id"].as_str().unwrap();
    let connection = w.connection["id"].as_str().unwrap();
    let (status, _) = w
        .app
        .call(
            Method::DELETE,
            &format!("/api/v1/admin/connections/{connection}"),
            Some(&w.admin),
            None,
        )
        .await;
    assert_eq!(status, 204);

    // The editor sends the set back: kept. A new unknown id: refused.
    let (status, saved) = w
        .app
        .patch_group(
            &w.admin,
            id,
            json!({"model_ids": [model], "description": "d"}),
        )
        .await;
    assert_eq!(status, 200, "{saved}");
    assert_eq!(saved["model_ids"], json!([model]));
    let (status, err) = w
        .app
        .patch_group(&w.admin, id, json!({"model_ids": [model, "gone-too"]}))
        .await;
    assert_eq!(status, 422, "{err}");
    assert!(err["fields"]["model_ids"].is_string());
    // A new group cannot name it.
    let (status, _) = w
        .app
        .create_group(&w.admin, json!({"name": "Other", "model_ids": [model]}))
        .await;
    assert_eq!(status, 422);

    // When the model comes back (rediscovered), it is still the group's only.
    let fake_url = w.fake.openai_url();
    w.app
        .add_connection(&w.admin, "openai", &fake_url, Some("k"))
        .await;
    assert!(w.app.model_ids(Some(&w.admin)).await.contains(&model));
    assert!(!w.app.model_ids(Some(&w.user)).await.contains(&model));
    assert!(!w.app.model_ids(None).await.contains(&model));
}

/// A question through the native API with `model`: status and body.
async fn native_ask(w: &World, who: &Session, conversation: &str, model: &str) -> (u16, Value) {
    w.app
        .send_message(
            who,
            conversation,
            json!({"content": format!("native question on {model}"), "model_id": model}),
        )
        .await
}

async fn gateway_chat(w: &World, key: &str, model: &str, text: &str) -> (u16, Value) {
    let res = w
        .app
        .request(Method::POST, "/v1/chat/completions")
        .bearer_auth(key)
        .json(&json!({"model": model, "messages": [{"role": "user", "content": text}]}))
        .send()
        .await
        .unwrap();
    (
        res.status().as_u16(),
        res.json().await.unwrap_or(Value::Null),
    )
}

async fn keyed(
    w: &World,
    key: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = w.app.request(method, path).header("x-api-key", key);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let res = req.send().await.unwrap();
    (
        res.status().as_u16(),
        res.json().await.unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn a_granted_model_is_for_the_groups_members_and_admins_on_every_list_and_every_ask() {
    let w = world().await;
    let (restricted, open) = (w.models[0].clone(), w.models[1].clone());
    let (status, group) = w
        .app
        .create_group(&w.admin, json!({"name": "Pro", "model_ids": [restricted]}))
        .await;
    assert_eq!(status, 201);
    let group_id = group["id"].as_str().unwrap().to_string();
    let key = api_key(&w.app, &w.user, "sdk").await;

    // Outside the group: no list shows it, and no ask may use it.
    for (who, label) in [(None, "anonymous"), (Some(&w.user), "minji")] {
        let listed = w.app.model_ids(who).await;
        assert!(!listed.contains(&restricted), "{label}: {listed:?}");
        assert!(listed.contains(&open), "{label}: {listed:?}");
    }
    assert!(w.app.model_ids(Some(&w.admin)).await.contains(&restricted));
    let (_, llm_models) = w.app.call(Method::GET, "/v1/llm/models", None, None).await;
    assert!(!ids(&llm_models["models"]).contains(&restricted));
    let (_, llm_models) = w
        .app
        .call(Method::GET, "/v1/llm/models", Some(&w.user), None)
        .await;
    assert!(!ids(&llm_models["models"]).contains(&restricted));
    let (_, gw_models) = keyed(&w, &key, Method::GET, "/v1/models", None).await;
    assert!(
        !ids(&gw_models["data"]).contains(&restricted),
        "{gw_models}"
    );
    let (status, _) = keyed(
        &w,
        &key,
        Method::GET,
        &format!("/v1/models/{restricted}"),
        None,
    )
    .await;
    assert_eq!(status, 404);
    let (_, simple_models) = keyed(&w, &key, Method::GET, "/simple/models", None).await;
    assert!(!ids(&simple_models["data"]).contains(&restricted));
    let (status, _) = keyed(
        &w,
        &key,
        Method::POST,
        "/simple/model",
        Some(json!({"model": restricted})),
    )
    .await;
    assert_eq!(
        status, 400,
        "the seed's refusal of a model it does not offer"
    );

    let conv = w.app.new_conversation(&w.user).await;
    let (status, err) = native_ask(&w, &w.user, &conv, &restricted).await;
    assert_eq!(
        (status, err["code"].as_str()),
        (403, Some("model_not_allowed")),
        "{err}"
    );
    let (_, read) = w.app.read_conversation(&w.user, &conv).await;
    assert_eq!(read["messages"], json!([]), "nothing written");
    // A new conversation with its first question: refused, nothing left.
    let (status, err) = w
        .app
        .create_conversation(
            &w.user,
            json!({"message": "first on the restricted model", "model_id": restricted}),
        )
        .await;
    assert_eq!(
        (status, err["code"].as_str()),
        (403, Some("model_not_allowed")),
        "{err}"
    );
    let (status, err) = gateway_chat(&w, &key, &restricted, "gateway outside").await;
    assert_eq!(status, 403, "{err}");
    assert_eq!(err["error"]["code"], "model_not_allowed", "{err}");
    let (_, session) = w
        .app
        .call(Method::POST, "/v1/llm/sessions", Some(&w.user), None)
        .await;
    let session = session["session_id"].as_str().unwrap().to_string();
    let (status, err) = w
        .app
        .call(
            Method::POST,
            &format!("/v1/llm/sessions/{session}/messages"),
            Some(&w.user),
            Some(json!({"content": "seed 002 outside", "model_id": restricted})),
        )
        .await;
    assert_eq!(
        (status, err["code"].as_str()),
        (403, Some("model_not_allowed")),
        "{err}"
    );
    for text in [
        "native question",
        "first on the restricted",
        "gateway outside",
        "seed 002 outside",
    ] {
        assert_eq!(upstream_calls_with(&w.fake, text), 0, "{text}");
    }
    // The admin may use every model.
    let admin_conv = w.app.new_conversation(&w.admin).await;
    assert_eq!(
        native_ask(&w, &w.admin, &admin_conv, &restricted).await.0,
        201
    );

    // In the group (no new sign-in, no new key): everything takes it.
    let (status, _) = w
        .app
        .add_members(&w.admin, &group_id, &[w.user.id.as_str()])
        .await;
    assert_eq!(status, 200);
    assert!(w.app.model_ids(Some(&w.user)).await.contains(&restricted));
    assert!(!w.app.model_ids(None).await.contains(&restricted));
    let (_, gw_models) = keyed(&w, &key, Method::GET, "/v1/models", None).await;
    assert!(ids(&gw_models["data"]).contains(&restricted));
    let (status, answer) = native_ask(&w, &w.user, &conv, &restricted).await;
    assert_eq!(status, 201, "{answer}");
    let (status, answer) = gateway_chat(&w, &key, &restricted, "gateway inside").await;
    assert_eq!(status, 200, "{answer}");
    let (status, _) = w
        .app
        .call(
            Method::POST,
            &format!("/v1/llm/sessions/{session}/messages"),
            Some(&w.user),
            Some(json!({"content": "seed 002 inside", "model_id": restricted})),
        )
        .await;
    assert_eq!(status, 201);
    let (status, _) = keyed(
        &w,
        &key,
        Method::POST,
        "/simple/model",
        Some(json!({"model": restricted})),
    )
    .await;
    assert_eq!(status, 200);
    let (status, answer) = keyed(
        &w,
        &key,
        Method::POST,
        "/simple/query",
        Some(json!({"input": "simple inside"})),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(upstream_calls_with(&w.fake, "simple inside"), 1);

    // Out again: the next request of each kind is refused, the conversation
    // kept as it was (regenerate and edit included).
    assert_eq!(
        w.app.remove_member(&w.admin, &group_id, &w.user.id).await,
        204
    );
    let (_, before) = w.app.read_conversation(&w.user, &conv).await;
    let (status, err) = w.app.regenerate(&w.user, &conv, json!({})).await;
    assert_eq!(
        (status, err["code"].as_str()),
        (403, Some("model_not_allowed")),
        "{err}"
    );
    let (status, err) = w
        .app
        .call(
            Method::PATCH,
            &format!("/api/v1/conversations/{conv}/messages/last"),
            Some(&w.user),
            Some(json!({"content": "edited outside"})),
        )
        .await;
    assert_eq!(
        (status, err["code"].as_str()),
        (403, Some("model_not_allowed")),
        "{err}"
    );
    let (_, after) = w.app.read_conversation(&w.user, &conv).await;
    assert_eq!(before["messages"], after["messages"], "nothing written");
    for (path, body) in [
        (format!("/v1/llm/sessions/{session}/regenerate"), json!({})),
        (
            format!("/v1/llm/sessions/{session}/messages"),
            json!({"content": "seed 002 again", "model_id": restricted}),
        ),
    ] {
        let (status, err) = w
            .app
            .call(Method::POST, &path, Some(&w.user), Some(body))
            .await;
        assert_eq!(
            (status, err["code"].as_str()),
            (403, Some("model_not_allowed")),
            "{path}: {err}"
        );
    }
    let (status, err) = w
        .app
        .call(
            Method::PATCH,
            &format!("/v1/llm/sessions/{session}/messages"),
            Some(&w.user),
            Some(json!({"content": "seed 002 edit"})),
        )
        .await;
    assert_eq!(
        (status, err["code"].as_str()),
        (403, Some("model_not_allowed")),
        "{err}"
    );
    let (status, err) = keyed(
        &w,
        &key,
        Method::POST,
        "/simple/query",
        Some(json!({"input": "simple outside"})),
    )
    .await;
    assert_eq!(status, 403, "{err}");
    assert_eq!(err["code"], "model_not_allowed", "{err}");
    let (status, _) = gateway_chat(&w, &key, &restricted, "gateway again").await;
    assert_eq!(status, 403);
    for text in [
        "edited outside",
        "seed 002 again",
        "seed 002 edit",
        "simple outside",
        "gateway again",
    ] {
        assert_eq!(upstream_calls_with(&w.fake, text), 0, "{text}");
    }
    // The open model is everyone's still.
    assert_eq!(native_ask(&w, &w.user, &conv, &open).await.0, 201);
}

#[tokio::test]
async fn a_groups_plan_applies_to_members_without_their_own_and_the_most_generous_wins() {
    let w = world().await;
    let mut plans = std::collections::HashMap::new();
    for (name, limit, default) in [
        ("Free", json!(1), true),
        ("Team", json!(3), false),
        ("Big", json!(5), false),
        ("Open", Value::Null, false),
        ("Own", json!(2), false),
    ] {
        let (status, p) = w
            .app
            .create_plan(
                &w.admin,
                json!({"name": name, "daily_message_limit": limit, "is_default": default}),
            )
            .await;
        assert_eq!(status, 201, "{p}");
        plans.insert(name, p["id"].as_str().unwrap().to_string());
    }
    let plan_of = async |who: &Session| -> Value {
        let (status, sub) = w.app.subscription(who).await;
        assert_eq!(status, 200, "{sub}");
        sub
    };
    assert_eq!(plan_of(&w.user).await["plan"], "Free");
    let (_, team) = w
        .app
        .create_group(&w.admin, json!({"name": "team", "plan_id": plans["Team"]}))
        .await;
    let (_, big) = w
        .app
        .create_group(&w.admin, json!({"name": "big", "plan_id": plans["Big"]}))
        .await;
    let (team, big) = (team["id"].as_str().unwrap(), big["id"].as_str().unwrap());
    w.app
        .add_members(&w.admin, team, &[w.user.id.as_str()])
        .await;
    assert_eq!(plan_of(&w.user).await["plan"], "Team");
    w.app
        .add_members(&w.admin, big, &[w.user.id.as_str()])
        .await;
    let sub = plan_of(&w.user).await;
    assert_eq!(
        (sub["plan"].as_str(), sub["daily_message_limit"].as_i64()),
        (Some("Big"), Some(5))
    );
    // No limit beats any limit.
    w.app
        .patch_group(&w.admin, team, json!({"plan_id": plans["Open"]}))
        .await;
    assert_eq!(plan_of(&w.user).await["plan"], "Open");
    // The user's own plan wins over every group's.
    let (status, _) = w
        .app
        .set_plan(&w.admin, &w.user.id, json!({"plan": "Own"}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(plan_of(&w.user).await["plan"], "Own");

    // Enforced: a member of a group whose plan allows 3 answers a day.
    let jisoo = w.app.signup("jisoo").await;
    w.app
        .patch_group(&w.admin, team, json!({"plan_id": plans["Team"]}))
        .await;
    w.app
        .add_members(&w.admin, team, &[jisoo.id.as_str()])
        .await;
    let conv = w.app.new_conversation(&jisoo).await;
    for i in 0..3 {
        let (status, body) = w
            .app
            .send_message(&jisoo, &conv, json!({"content": format!("q{i}")}))
            .await;
        assert_eq!(status, 201, "{body}");
    }
    let (status, err) = w
        .app
        .send_message(&jisoo, &conv, json!({"content": "one too many"}))
        .await;
    assert_eq!(
        (status, err["code"].as_str()),
        (429, Some("daily_limit_reached"))
    );
}

#[tokio::test]
async fn a_plain_user_gets_403_on_every_admin_group_route_and_an_unknown_group_is_404() {
    let w = world().await;
    let (_, group) = w.app.create_group(&w.admin, json!({"name": "Pro"})).await;
    let id = group["id"].as_str().unwrap().to_string();
    let routes = |gid: &str| {
        vec![
            (Method::GET, "/admin/groups".to_string(), None),
            (
                Method::POST,
                "/admin/groups".to_string(),
                Some(json!({"name": "Mine"})),
            ),
            (Method::GET, format!("/admin/groups/{gid}"), None),
            (
                Method::PATCH,
                format!("/admin/groups/{gid}"),
                Some(json!({"name": "Mine"})),
            ),
            (Method::DELETE, format!("/admin/groups/{gid}"), None),
            (
                Method::POST,
                format!("/admin/groups/{gid}/members"),
                Some(json!({"user_ids": []})),
            ),
            (
                Method::DELETE,
                format!("/admin/groups/{gid}/members/x"),
                None,
            ),
        ]
    };
    for (method, path, body) in routes(&id) {
        let (status, err) = w
            .app
            .group_call(&w.user, method.clone(), &path, body.clone())
            .await;
        assert_eq!(
            (status, err["code"].as_str()),
            (403, Some("admin_only")),
            "{method} {path}"
        );
        let (status, _) = w
            .app
            .call(method.clone(), &format!("/api/v1{path}"), None, body)
            .await;
        assert_eq!(status, 401, "{method} {path} signed out");
    }
    // Nothing changed.
    let (_, detail) = w
        .app
        .group_call(&w.admin, Method::GET, &format!("/admin/groups/{id}"), None)
        .await;
    assert_eq!(detail["name"], "Pro");

    for (method, path, body) in routes("no-such-group").into_iter().skip(2) {
        let body = body.map(|b| {
            if b.get("user_ids").is_some() {
                json!({"user_ids": [w.user.id]})
            } else {
                b
            }
        });
        let (status, err) = w
            .app
            .group_call(&w.admin, method.clone(), &path, body)
            .await;
        assert_eq!(
            (status, err["code"].as_str()),
            (404, Some("not_found")),
            "{method} {path}"
        );
    }
}
