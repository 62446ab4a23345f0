//! Organizing and governing conversations (issue 21): folders one level
//! deep, tags (set, listed, filtered, `tag:` in `q`), temporary chats (never
//! listed, searched, filed, shared or exported; forced by a group; swept a
//! day after they were created), the admin's retention policy (checked,
//! previewed, run with the shares of what it deletes), and the matrix of
//! another user's ids answering 404 on every new route and field.

use reqwest::Method;
use serde_json::{json, Value};

use crate::client::Nobody;
use crate::helpers::{audit_actions, world, Session, TestApp};

async fn folder(app: &TestApp, user: &Session, body: Value) -> (u16, Value) {
    app.call(Method::POST, "/api/v1/folders", Some(user), Some(body))
        .await
}

async fn new_folder(app: &TestApp, user: &Session, name: &str, parent: Option<&str>) -> String {
    let (status, body) = folder(app, user, json!({"name": name, "parent_id": parent})).await;
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().unwrap().to_string()
}

async fn patch_folder(app: &TestApp, user: &Session, id: &str, body: Value) -> (u16, Value) {
    app.call(
        Method::PATCH,
        &format!("/api/v1/folders/{id}"),
        Some(user),
        Some(body),
    )
    .await
}

async fn patch(app: &TestApp, user: &Session, id: &str, body: Value) -> (u16, Value) {
    app.call(
        Method::PATCH,
        &format!("/api/v1/conversations/{id}"),
        Some(user),
        Some(body),
    )
    .await
}

/// The ids of the conversations `GET /conversations?query` lists.
async fn listed(app: &TestApp, user: &Session, query: &str) -> Vec<String> {
    let (status, body) = app.conversations(user, query).await;
    assert_eq!(status, 200, "{query}: {body}");
    body["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect()
}

/// A conversation of `user` with one exchange whose question is `question`.
async fn asked(app: &TestApp, user: &Session, question: &str) -> String {
    let id = app.new_conversation(user).await;
    let (status, body) = app.ask(user, &id, question).await;
    assert_eq!(status, 201, "{body}");
    id
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

fn ids(list: &[&String]) -> Vec<String> {
    sorted(list.iter().map(|s| s.to_string()).collect())
}

/// A connection of the test's own to the server's file: with the server's
/// `daehwa_grams()`, which the search triggers call when a message changes.
fn db(app: &TestApp) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(&app.db_path).unwrap();
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .unwrap();
    daehwa::db::search::grams::register(&conn).unwrap();
    conn
}

/// Makes a conversation `days` old: its `updated_at` and `created_at`, and
/// its id, whose UUID v7 time retention also reads (an import of old chats
/// counts from the day it was imported). The id is rewritten in every table
/// that holds it; answers the new id.
fn age(app: &TestApp, id: &str, days: i64) -> String {
    let then = chrono::Utc::now() - chrono::Duration::days(days);
    let ms = then.timestamp_millis() as u64;
    let new_id = format!("{:08x}-{:04x}{}", ms >> 16, ms & 0xffff, &id[13..]);
    let then = then.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut conn = db(app);
    conn.pragma_update(None, "foreign_keys", false).unwrap();
    let tx = conn.transaction().unwrap();
    let n = tx
        .execute(
            "UPDATE conversation SET id = ?3, updated_at = ?2, created_at = ?2 WHERE id = ?1",
            [id, &then, &new_id],
        )
        .unwrap();
    assert_eq!(n, 1);
    for table in [
        "message",
        "api_key_session",
        "share",
        "conversation_import",
        "file",
        "conversation_tag",
    ] {
        tx.execute(
            &format!("UPDATE {table} SET conversation_id = ?2 WHERE conversation_id = ?1"),
            [id, &new_id],
        )
        .unwrap();
    }
    tx.commit().unwrap();
    new_id
}

#[tokio::test]
async fn folders_nest_one_level_refuse_cycles_and_are_deleted_with_or_without_their_conversations()
{
    let w = world().await;
    let (app, user) = (&w.app, &w.user);
    let work = new_folder(app, user, " 업무 ", None).await;
    let sub = new_folder(app, user, "보고서", Some(&work)).await;
    let home = new_folder(app, user, "Home", None).await;

    // Listed by name, case-insensitively; names trimmed.
    let (status, list) = app
        .call(Method::GET, "/api/v1/folders", Some(user), None)
        .await;
    assert_eq!(status, 200);
    let names: Vec<&str> = list["folders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Home", "보고서", "업무"]);
    let sub_json = list["folders"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == sub.as_str())
        .unwrap();
    assert_eq!(sub_json["parent_id"], work.as_str());
    assert_eq!(sub_json["conversation_count"], 0);

    // Bad names, a subfolder as parent, and cycles are refused.
    for (body, field, why) in [
        (json!({"name": "  "}), "name", "empty"),
        (json!({"name": "가".repeat(101)}), "name", "too long"),
        (json!({"name": "a\u{1}b"}), "name", "control character"),
        (
            json!({"name": "깊이", "parent_id": sub}),
            "parent_id",
            "two levels deep",
        ),
    ] {
        let (status, body) = folder(app, user, body).await;
        assert_eq!(status, 422, "{why}: {body}");
        assert!(body["fields"][field].is_string(), "{why}: {body}");
    }
    for (id, parent, why) in [
        (&work, &work, "itself"),
        (&work, &sub, "its own subfolder"),
        (&work, &home, "a folder with subfolders under another"),
        (&sub, &sub, "a subfolder under itself"),
    ] {
        let (status, body) = patch_folder(app, user, id, json!({"parent_id": parent})).await;
        assert_eq!(status, 422, "{why}: {body}");
        assert!(body["fields"]["parent_id"].is_string(), "{why}: {body}");
    }
    // Moving to the top level and back, renaming.
    let (status, moved) = patch_folder(app, user, &sub, json!({"parent_id": null})).await;
    assert_eq!(
        (status, &moved["parent_id"]),
        (200, &Value::Null),
        "{moved}"
    );
    let (status, moved) = patch_folder(
        app,
        user,
        &sub,
        json!({"parent_id": work, "name": "보고서 2026"}),
    )
    .await;
    assert_eq!(status, 200, "{moved}");
    assert_eq!(moved["parent_id"], work.as_str());
    assert_eq!(moved["name"], "보고서 2026");

    // Filing, and the list by folder.
    let in_work = asked(app, user, "업무 질문").await;
    let in_sub = asked(app, user, "보고서 질문").await;
    let unfiled = asked(app, user, "그냥 질문").await;
    let (status, filed) = patch(app, user, &in_work, json!({"folder_id": work})).await;
    assert_eq!(status, 200, "{filed}");
    assert_eq!(filed["folder_id"], work.as_str());
    assert_eq!(filed["temporary"], false);
    assert_eq!(
        patch(app, user, &in_sub, json!({"folder_id": sub})).await.0,
        200
    );
    assert_eq!(
        listed(app, user, &format!("folder_id={work}")).await,
        [in_work.as_str()]
    );
    assert_eq!(
        listed(app, user, &format!("folder_id={sub}")).await,
        [in_sub.as_str()]
    );
    assert_eq!(
        listed(app, user, "folder_id=none").await,
        [unfiled.as_str()]
    );
    assert_eq!(
        sorted(listed(app, user, "").await),
        ids(&[&in_work, &in_sub, &unfiled])
    );
    let (_, items) = app.conversations(user, "").await;
    let item = items["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == in_work.as_str())
        .unwrap();
    assert_eq!(item["folder_id"], work.as_str());
    assert_eq!(item["tags"], json!([]));
    let (_, counted) = app
        .call(
            Method::GET,
            &format!("/api/v1/folders/{work}"),
            Some(user),
            None,
        )
        .await;
    assert_eq!(counted["conversation_count"], 1);
    // Unfiling, and filing again.
    let (status, unfiled_again) = patch(app, user, &in_work, json!({"folder_id": null})).await;
    assert_eq!((status, &unfiled_again["folder_id"]), (200, &Value::Null));
    assert_eq!(
        patch(app, user, &in_work, json!({"folder_id": work}))
            .await
            .0,
        200
    );

    // Deleting without conversations: the subfolder goes too, the
    // conversations stay, unfiled.
    let (status, _) = app
        .call(
            Method::DELETE,
            &format!("/api/v1/folders/{work}"),
            Some(user),
            None,
        )
        .await;
    assert_eq!(status, 204);
    for gone in [&work, &sub] {
        let (status, _) = app
            .call(
                Method::GET,
                &format!("/api/v1/folders/{gone}"),
                Some(user),
                None,
            )
            .await;
        assert_eq!(status, 404);
    }
    for kept in [&in_work, &in_sub] {
        assert_eq!(app.conversation(user, kept).await["folder_id"], Value::Null);
    }

    // Deleting with conversations: those in it and in its subfolders go,
    // with their shares; others stay.
    let doomed = new_folder(app, user, "지울 것", None).await;
    let doomed_sub = new_folder(app, user, "지울 것 아래", Some(&doomed)).await;
    assert_eq!(
        patch(app, user, &in_work, json!({"folder_id": doomed}))
            .await
            .0,
        200
    );
    assert_eq!(
        patch(app, user, &in_sub, json!({"folder_id": doomed_sub}))
            .await
            .0,
        200
    );
    let (status, share) = app.share(user, &in_work).await;
    assert_eq!(status, 201, "{share}");
    let share = share["id"].as_str().unwrap().to_string();
    let (status, _) = app
        .call(
            Method::DELETE,
            &format!("/api/v1/folders/{doomed}?delete_conversations=true"),
            Some(user),
            None,
        )
        .await;
    assert_eq!(status, 204);
    for gone in [&in_work, &in_sub] {
        assert_eq!(app.read_conversation(user, gone).await.0, 404);
    }
    assert_eq!(app.read_share(&Nobody, &share).await.0, 404);
    assert_eq!(listed(app, user, "").await, [unfiled.as_str()]);
    let (_, list) = app
        .call(Method::GET, "/api/v1/folders", Some(user), None)
        .await;
    assert_eq!(list["folders"].as_array().unwrap().len(), 1, "{list}");
}

#[tokio::test]
async fn tags_are_set_listed_filtered_and_searched_with_tag_tokens() {
    let w = world().await;
    let (app, user) = (&w.app, &w.user);
    let trip = asked(app, user, "제주 여행 계획").await;
    let dog = asked(app, user, "강아지 산책 일정").await;
    let other_dog = asked(app, user, "강아지 사료").await;

    let (status, tagged) = patch(
        app,
        user,
        &trip,
        json!({"tags": [" 여행 ", "work", "Zebra", "Work", "Alpha"]}),
    )
    .await;
    assert_eq!(status, 200, "{tagged}");
    // Case-insensitive order, not the bytes' ("Zebra" < "work").
    let trip_tags = json!(["Alpha", "work", "Zebra", "여행"]);
    assert_eq!(tagged["tags"], trip_tags);
    assert_eq!(
        patch(app, user, &dog, json!({"tags": ["WORK"]})).await.0,
        200
    );

    let (status, tags) = app
        .call(Method::GET, "/api/v1/tags", Some(user), None)
        .await;
    assert_eq!(status, 200);
    let counts: Vec<(String, i64)> = tags["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap().to_lowercase(),
                t["count"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        counts,
        [
            ("alpha".to_string(), 1),
            ("work".to_string(), 2),
            ("zebra".to_string(), 1),
            ("여행".to_string(), 1)
        ]
    );

    // The list and a search show the tags (none on an untagged one);
    // filters by one or several (all must match).
    let (_, page) = app.conversations(user, "").await;
    let shown = |page: &Value, id: &str| {
        page["conversations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .unwrap()["tags"]
            .clone()
    };
    assert_eq!(shown(&page, &trip), trip_tags);
    assert_eq!(shown(&page, &dog), json!(["WORK"]));
    assert_eq!(shown(&page, &other_dog), json!([]));
    let (_, found) = app.conversations(user, "q=%EC%A0%9C%EC%A3%BC").await;
    assert_eq!(shown(&found, &trip), trip_tags, "{found}");
    for (query, expected, why) in [
        ("tag=work", ids(&[&trip, &dog]), "one tag"),
        ("tag=WORK", ids(&[&trip, &dog]), "any case"),
        ("tag=work&tag=%EC%97%AC%ED%96%89", ids(&[&trip]), "two tags"),
        ("tag=nothing", vec![], "an unknown tag"),
        ("q=tag:work", ids(&[&trip, &dog]), "a tag token alone"),
        (
            "q=tag%3Awork%20%EA%B0%95%EC%95%84%EC%A7%80",
            ids(&[&dog]),
            "tag:work 강아지",
        ),
        (
            "q=%EA%B0%95%EC%95%84%EC%A7%80",
            ids(&[&dog, &other_dog]),
            "강아지 alone",
        ),
        (
            "q=%EA%B0%95%EC%95%84%EC%A7%80&tag=work",
            ids(&[&dog]),
            "a keyword and the tag parameter",
        ),
        (
            "q=tag:work%20%EC%82%AC%EB%A3%8C",
            vec![],
            "a tag and a keyword that never meet",
        ),
    ] {
        assert_eq!(sorted(listed(app, user, query).await), expected, "{why}");
    }

    // Refused tags write nothing.
    let before = app.conversation(user, &trip).await["tags"].clone();
    let long = "가".repeat(10_000);
    let many: Vec<String> = (0..21).map(|i| format!("t{i}")).collect();
    let very_many: Vec<String> = (0..10_000).map(|i| format!("t{i}")).collect();
    for (body, code, why) in [
        (
            json!({"tags": [long]}),
            "too_long",
            "a tag of 10,000 characters",
        ),
        (
            json!({"tags": ["가".repeat(51)]}),
            "too_long",
            "51 characters",
        ),
        (json!({"tags": many}), "too_many", "21 tags"),
        (json!({"tags": very_many}), "too_many", "10,000 tags"),
        (json!({"tags": ["a,b"]}), "invalid_chars", "a comma"),
        (json!({"tags": ["a\nb"]}), "invalid_chars", "a newline"),
    ] {
        let (status, body) = patch(app, user, &trip, body).await;
        assert_eq!(status, 422, "{why}: {body}");
        assert_eq!(body["field_codes"]["tags"], code, "{why}: {body}");
    }
    let huge: Vec<String> = (0..10_000).map(|_| "x".repeat(10_000)).collect();
    let started = std::time::Instant::now();
    let (status, body) = patch(app, user, &trip, json!({"tags": huge})).await;
    assert!(
        status == 413 || status == 422,
        "10,000 tags of 10,000 characters: {status} {body}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    assert_eq!(app.conversation(user, &trip).await["tags"], before);

    // An empty list clears them.
    let (status, cleared) = patch(app, user, &trip, json!({"tags": []})).await;
    assert_eq!((status, &cleared["tags"]), (200, &json!([])));
    assert_eq!(sorted(listed(app, user, "tag=work").await), [dog.as_str()]);
}

#[tokio::test]
async fn a_temporary_chat_is_never_listed_searched_filed_shared_or_exported_and_is_swept_after_a_day(
) {
    let w = world().await;
    let (app, user, admin) = (&w.app, &w.user, &w.admin);
    let kept = asked(app, user, "보통 대화 고양이").await;
    let (status, created) = app
        .create_conversation(user, json!({"temporary": true}))
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["temporary"], true);
    let temp = created["id"].as_str().unwrap().to_string();
    let (status, body) = app.ask(user, &temp, "임시 대화 고양이").await;
    assert_eq!(status, 201, "{body}");
    // It works like any other for its owner.
    let read = app.conversation(user, &temp).await;
    assert_eq!(read["temporary"], true);
    assert_eq!(read["messages"].as_array().unwrap().len(), 2);

    for query in [
        "",
        "q=%EA%B3%A0%EC%96%91%EC%9D%B4",
        "q=%EC%9E%84%EC%8B%9C",
        "folder_id=none",
        "archived=false&limit=200",
    ] {
        let found = listed(app, user, query).await;
        assert!(!found.contains(&temp), "{query}: {found:?}");
    }
    assert_eq!(
        listed(app, user, "q=%EA%B3%A0%EC%96%91%EC%9D%B4").await,
        [kept.as_str()]
    );

    // Not filed, tagged, shared, published or exported.
    let folder_id = new_folder(app, user, "폴더", None).await;
    let (status, body) = patch(app, user, &temp, json!({"folder_id": folder_id})).await;
    assert_eq!(status, 422, "{body}");
    assert!(body["fields"]["folder_id"].is_string());
    let (status, body) = patch(app, user, &temp, json!({"tags": ["x"]})).await;
    assert_eq!(status, 422, "{body}");
    assert!(body["fields"]["tags"].is_string());
    let (status, body) = app.share(user, &temp).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("temporary_chat"))
    );
    let (status, body) = app.export_conversation(user, &temp, "").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("temporary_chat"))
    );
    let (status, body) = app
        .export_conversation(user, &temp, "format=markdown")
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("temporary_chat"))
    );
    let (_, admins) = app
        .create_conversation(admin, json!({"temporary": true}))
        .await;
    let admins = admins["id"].as_str().unwrap().to_string();
    assert_eq!(app.ask(admin, &admins, "예시").await.0, 201);
    let (status, body) = app
        .create_sample(admin, json!({"conversation_id": admins}))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("temporary_chat"))
    );
    // The admin's view of the user's conversations leaves it out.
    let (status, theirs) = app.users_conversations(admin, &user.id).await;
    assert_eq!(status, 200, "{theirs}");
    let theirs: Vec<&str> = theirs["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(theirs, [kept.as_str()]);

    // The sweep: nothing before a day, the temporary chat after, never the
    // others.
    let db_path = app.db_path.clone();
    let db = tokio::task::spawn_blocking(move || daehwa::db::Db::open(&db_path).unwrap())
        .await
        .unwrap();
    let now = chrono::Utc::now();
    let swept = daehwa::service::retention::sweep_temporary(&db, now)
        .await
        .unwrap();
    assert_eq!(swept, 0);
    assert_eq!(app.read_conversation(user, &temp).await.0, 200);
    let swept = daehwa::service::retention::sweep_temporary(&db, now + chrono::Duration::hours(25))
        .await
        .unwrap();
    assert_eq!(swept, 2, "the user's and the admin's");
    assert_eq!(app.read_conversation(user, &temp).await.0, 404);
    assert_eq!(app.read_conversation(user, &kept).await.0, 200);
    // And its owner may delete one at once (the tab closed).
    let (_, another) = app
        .create_conversation(user, json!({"temporary": true}))
        .await;
    let another = another["id"].as_str().unwrap().to_string();
    assert_eq!(app.delete_conversation(user, &another).await.0, 204);
    assert_eq!(app.read_conversation(user, &another).await.0, 404);
}

#[tokio::test]
async fn a_group_with_temporary_chats_makes_every_chat_of_its_members_temporary() {
    let w = world().await;
    let (app, user, admin) = (&w.app, &w.user, &w.admin);
    let (status, settings) = app.settings(user).await;
    assert_eq!(status, 200);
    assert_eq!(settings["temporary_chats_forced"], false);
    {
        let conn = db(app);
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        conn.execute(
            "INSERT INTO user_group (id, name, temporary_chats, created_at, updated_at)
             VALUES ('g1', '임시 전용', 1, ?1, ?1)",
            [&now],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO group_member (group_id, user_id, added_at) VALUES ('g1', ?1, ?2)",
            [&user.id, &now],
        )
        .unwrap();
    }
    let (_, settings) = app.settings(user).await;
    assert_eq!(settings["temporary_chats_forced"], true);
    let (status, created) = app
        .create_conversation(user, json!({"temporary": false}))
        .await;
    assert_eq!(status, 201);
    assert_eq!(created["temporary"], true);
    let (_, created) = app.create_conversation(user, json!({})).await;
    assert_eq!(created["temporary"], true);
    assert!(listed(app, user, "").await.is_empty());
    // Others are not affected.
    let (_, theirs) = app.create_conversation(admin, json!({})).await;
    assert_eq!(theirs["temporary"], false);
    let (_, settings) = app.settings(admin).await;
    assert_eq!(settings["temporary_chats_forced"], false);
}

#[tokio::test]
async fn retention_is_checked_previewed_and_run_deleting_old_conversations_with_their_shares() {
    let w = world().await;
    let (app, user, admin) = (&w.app, &w.user, &w.admin);
    let settings = |body: Value| {
        let body = body.clone();
        async move {
            app.call(
                Method::PUT,
                "/api/v1/admin/settings",
                Some(admin),
                Some(body),
            )
            .await
        }
    };
    for (body, field) in [
        (json!({"retention_days": 0}), "retention_days"),
        (json!({"retention_days": -1}), "retention_days"),
        (json!({"retention_days": 1.5}), "retention_days"),
        (json!({"retention_days": "x"}), "retention_days"),
        (json!({"retention_days": 36501}), "retention_days"),
        (
            json!({"retention_archived_days": 0}),
            "retention_archived_days",
        ),
    ] {
        let (status, answer) = settings(body.clone()).await;
        assert_eq!(status, 422, "{body}: {answer}");
        assert!(answer["fields"][field].is_string(), "{body}: {answer}");
    }
    let (status, current) = app
        .call(Method::GET, "/api/v1/admin/settings", Some(admin), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(current["retention_days"], Value::Null);
    assert_eq!(current["retention_archived_days"], Value::Null);

    // A plain user may not touch any of it.
    for (method, path) in [
        (Method::GET, "/api/v1/admin/retention/preview?days=30"),
        (Method::POST, "/api/v1/admin/retention/run"),
    ] {
        assert_eq!(
            app.call(method.clone(), path, Some(user), None).await.0,
            403
        );
        assert_eq!(app.call(method, path, None, None).await.0, 401);
    }
    let (status, _) = app
        .call(
            Method::PUT,
            "/api/v1/admin/settings",
            Some(user),
            Some(json!({"retention_days": 30})),
        )
        .await;
    assert_eq!(status, 403);

    let old = asked(app, user, "오래된 대화").await;
    let (status, share) = app.share(user, &old).await;
    assert_eq!(status, 201);
    let share = share["id"].as_str().unwrap().to_string();
    let old_archived = asked(app, user, "오래된 보관 대화").await;
    assert_eq!(
        patch(app, user, &old_archived, json!({"archived": true}))
            .await
            .0,
        200
    );
    let recent = asked(app, user, "최근 대화").await;
    let (_, temp) = app
        .create_conversation(user, json!({"temporary": true}))
        .await;
    let temp = temp["id"].as_str().unwrap().to_string();
    let old = age(app, &old, 100);
    let old_archived = age(app, &old_archived, 100);
    let temp = age(app, &temp, 100);
    let admins_old = asked(app, admin, "관리자의 오래된 대화").await;
    let admins_old = age(app, &admins_old, 40);

    let preview = |query: &'static str| async move {
        app.call(
            Method::GET,
            &format!("/api/v1/admin/retention/preview?{query}"),
            Some(admin),
            None,
        )
        .await
    };
    let (status, counts) = preview("days=30&archived_days=90").await;
    assert_eq!(status, 200, "{counts}");
    assert_eq!(
        counts,
        json!({"conversations": 2, "archived_conversations": 1, "users": 2})
    );
    let (_, counts) = preview("days=60").await;
    assert_eq!(
        counts,
        json!({"conversations": 1, "archived_conversations": 0, "users": 1})
    );
    let (_, counts) = preview("").await;
    assert_eq!(
        counts,
        json!({"conversations": 0, "archived_conversations": 0, "users": 0})
    );
    for (query, field) in [
        ("days=0", "days"),
        ("days=-1", "days"),
        ("days=1.5", "days"),
        ("days=x", "days"),
        ("archived_days=0", "archived_days"),
    ] {
        let (status, body) = preview(query).await;
        assert_eq!(status, 422, "{query}: {body}");
        assert!(body["fields"][field].is_string(), "{query}: {body}");
    }

    // Off: a run deletes nothing and logs nothing.
    let run = || async {
        app.call(
            Method::POST,
            "/api/v1/admin/retention/run",
            Some(admin),
            None,
        )
        .await
    };
    let (status, done) = run().await;
    assert_eq!(status, 200);
    assert_eq!(
        done,
        json!({"conversations": 0, "archived_conversations": 0})
    );
    assert!(!audit_actions(app, admin)
        .await
        .iter()
        .any(|(a, _)| a == "retention.run"));

    let (status, saved) =
        settings(json!({"retention_days": 60, "retention_archived_days": null})).await;
    assert_eq!(status, 200, "{saved}");
    assert_eq!(saved["retention_days"], 60);
    assert_eq!(saved["retention_archived_days"], Value::Null);
    let (status, done) = run().await;
    assert_eq!(status, 200);
    assert_eq!(
        done,
        json!({"conversations": 1, "archived_conversations": 0})
    );
    assert_eq!(app.read_conversation(user, &old).await.0, 404);
    assert_eq!(app.read_share(&Nobody, &share).await.0, 404);
    for kept in [&old_archived, &recent, &temp, &admins_old] {
        assert_eq!(
            app.read_conversation(if kept == &admins_old { admin } else { user }, kept)
                .await
                .0,
            200,
            "{kept}"
        );
    }
    let actions = audit_actions(app, admin).await;
    assert!(
        actions.iter().any(|(a, _)| a == "retention.run"),
        "{actions:?}"
    );
    assert!(
        actions.iter().any(|(a, _)| a == "settings.update"),
        "{actions:?}"
    );
    let (_, audit) = app.audit(admin, "limit=200").await;
    let entry = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "retention.run")
        .unwrap();
    assert_eq!(
        entry["detail"],
        json!({"conversations": 1, "archived_conversations": 0, "days": 60, "archived_days": null})
    );

    // Archived ones by their own days; then off again.
    let (status, _) = settings(json!({"retention_archived_days": 90})).await;
    assert_eq!(status, 200);
    let (_, done) = run().await;
    assert_eq!(
        done,
        json!({"conversations": 0, "archived_conversations": 1})
    );
    assert_eq!(app.read_conversation(user, &old_archived).await.0, 404);
    let (status, off) =
        settings(json!({"retention_days": null, "retention_archived_days": null})).await;
    assert_eq!(status, 200);
    assert_eq!(off["retention_days"], Value::Null);
}

#[tokio::test]
async fn another_users_folders_and_conversations_answer_404_on_every_new_route_and_field() {
    let w = world().await;
    let (app, owner) = (&w.app, &w.user);
    let other = app.signup("jisoo").await;
    let theirs = new_folder(app, owner, "남의 폴더", None).await;
    let their_conversation = asked(app, owner, "남의 대화").await;
    assert_eq!(
        patch(
            app,
            owner,
            &their_conversation,
            json!({"folder_id": theirs, "tags": ["비밀"]})
        )
        .await
        .0,
        200
    );
    let mine = new_folder(app, &other, "내 폴더", None).await;
    let my_conversation = asked(app, &other, "내 대화").await;

    let matrix: Vec<(Method, String, Option<Value>, &str)> = vec![
        (
            Method::GET,
            format!("/api/v1/folders/{theirs}"),
            None,
            "read their folder",
        ),
        (
            Method::PATCH,
            format!("/api/v1/folders/{theirs}"),
            Some(json!({"name": "내 것"})),
            "rename their folder",
        ),
        (
            Method::DELETE,
            format!("/api/v1/folders/{theirs}?delete_conversations=true"),
            None,
            "delete their folder",
        ),
        (
            Method::POST,
            "/api/v1/folders".into(),
            Some(json!({"name": "아래", "parent_id": theirs})),
            "a folder under theirs",
        ),
        (
            Method::PATCH,
            format!("/api/v1/folders/{mine}"),
            Some(json!({"parent_id": theirs})),
            "move mine under theirs",
        ),
        (
            Method::PATCH,
            format!("/api/v1/conversations/{my_conversation}"),
            Some(json!({"folder_id": theirs})),
            "file mine in theirs",
        ),
        (
            Method::GET,
            format!("/api/v1/conversations?folder_id={theirs}"),
            None,
            "list their folder",
        ),
        (
            Method::PATCH,
            format!("/api/v1/conversations/{their_conversation}"),
            Some(json!({"tags": ["mine"]})),
            "tag their conversation",
        ),
        (
            Method::PATCH,
            format!("/api/v1/conversations/{their_conversation}"),
            Some(json!({"folder_id": mine})),
            "file theirs in mine",
        ),
        (
            Method::GET,
            "/api/v1/folders/00000000-0000-0000-0000-000000000000".into(),
            None,
            "an unknown folder",
        ),
    ];
    for (method, path, body, why) in &matrix {
        let (status, answer) = app
            .call(method.clone(), path, Some(&other), body.clone())
            .await;
        assert_eq!(status, 404, "{why}: {answer}");
        assert_eq!(answer["code"], "not_found", "{why}");
        let text = answer.to_string();
        assert!(!text.contains("남의"), "{why} leaks: {text}");
    }
    // Nothing of theirs changed or shows.
    let (_, folders) = app
        .call(Method::GET, "/api/v1/folders", Some(owner), None)
        .await;
    assert_eq!(folders["folders"][0]["name"], "남의 폴더");
    assert_eq!(folders["folders"][0]["conversation_count"], 1);
    let read = app.conversation(owner, &their_conversation).await;
    assert_eq!(read["tags"], json!(["비밀"]));
    assert_eq!(read["folder_id"], theirs.as_str());
    let (_, tags) = app
        .call(Method::GET, "/api/v1/tags", Some(&other), None)
        .await;
    assert_eq!(tags, json!({"tags": []}));
    let (_, folders) = app
        .call(Method::GET, "/api/v1/folders", Some(&other), None)
        .await;
    assert_eq!(folders["folders"].as_array().unwrap().len(), 1);
    assert_eq!(listed(app, &other, "tag=%EB%B9%84%EB%B0%80").await.len(), 0);
    assert_eq!(app.read_conversation(&other, &my_conversation).await.0, 200);

    // Signed out: 401 on the new routes.
    for (method, path) in [
        (Method::GET, "/api/v1/folders".to_string()),
        (Method::POST, "/api/v1/folders".to_string()),
        (Method::GET, format!("/api/v1/folders/{theirs}")),
        (Method::GET, "/api/v1/tags".to_string()),
    ] {
        assert_eq!(app.call(method, &path, None, None).await.0, 401, "{path}");
    }
}

#[tokio::test]
async fn the_1001st_folder_of_a_user_is_refused() {
    let app = crate::helpers::spawn_app().await;
    let user = app.signup("minji").await;
    let other = app.signup("jisoo").await;
    {
        let mut conn = db(&app);
        let tx = conn.transaction().unwrap();
        for i in 0..999 {
            tx.execute(
                "INSERT INTO folder (id, user_id, name, created_at, updated_at)
                 VALUES (?1, ?2, ?3, '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')",
                [&format!("f{i}"), &user.id, &format!("폴더 {i}")],
            )
            .unwrap();
        }
        tx.commit().unwrap();
    }
    assert_eq!(folder(&app, &user, json!({"name": "천 번째"})).await.0, 201);
    let (status, body) = folder(&app, &user, json!({"name": "하나 더"})).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["field_codes"]["name"], "too_many");
    let (_, list) = app
        .call(Method::GET, "/api/v1/folders", Some(&user), None)
        .await;
    assert_eq!(list["folders"].as_array().unwrap().len(), 1000);
    // Another user's count is their own.
    assert_eq!(
        folder(&app, &other, json!({"name": "첫 폴더"})).await.0,
        201
    );
}
