//! LDAP sign-in (issue 22) against a real OpenLDAP server (`slapd`, see
//! `super::slapd`): accounts made from the directory, refusals, nested
//! groups, TLS (LDAPS with the right and a wrong CA, StartTLS, no
//! verification), the directory going away, the check at refresh, the
//! administrator's tests, the limits.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{spawn_with, TestApp};
use crate::slapd::{self, Slapd, ADMINS, AI_USERS, GROUPS, PEOPLE, RESEARCH};
use daehwa::config::ServeArgs;

/// Flags for `slapd` at `url`: the root DN as the service account,
/// `ai-users` allowed, `admins` admins.
fn configure(args: &mut ServeArgs, url: &str) {
    let s = &mut args.signin;
    s.ldap_url = Some(url.to_string());
    s.ldap_bind_dn = Some(slapd::ROOT_DN.to_string());
    s.ldap_bind_password = Some(slapd::ROOT_PASSWORD.to_string());
    s.ldap_user_base = Some(PEOPLE.to_string());
    s.ldap_user_filter = Some("(&(objectClass=inetOrgPerson)(uid={username}))".to_string());
    s.ldap_group_base = Some(GROUPS.to_string());
    s.ldap_username_attribute = Some("uid".to_string());
    s.ldap_allowed_groups = Some(vec![AI_USERS.to_string()]);
    s.ldap_admin_groups = Some(vec![ADMINS.to_string()]);
    s.ldap_timeout = Some(5);
}

async fn ldap_app(slapd: &Slapd) -> TestApp {
    let url = slapd.ldap_url();
    spawn_with(|args| configure(args, &url)).await
}

/// slapd and a server signed in to it, or `None` (the test returns) where
/// slapd is not installed.
async fn started() -> Option<(Slapd, TestApp)> {
    let slapd = Slapd::start().await?;
    let app = ldap_app(&slapd).await;
    Some((slapd, app))
}

async fn ldap_login(app: &TestApp, username: &str, password: &str) -> (u16, Value) {
    let res = app
        .post_json(
            "/api/v1/auth/ldap/login",
            &json!({"username": username, "password": password}),
        )
        .await;
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn me(app: &TestApp, token: &str) -> (u16, Value) {
    let res = app
        .as_user(Method::GET, "/api/v1/auth/me", token)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn refresh(app: &TestApp, token: &str) -> (u16, Value) {
    let res = app
        .post_json("/api/v1/auth/refresh", &json!({"refresh_token": token}))
        .await;
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn admin_post(app: &TestApp, token: &str, path: &str, body: Value) -> (u16, Value) {
    let res = app
        .as_user(Method::POST, path, token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_directory_user_signs_in_and_gets_an_account() {
    let Some((_slapd, app)) = started().await else {
        return;
    };
    // The first account of a server is its admin: a local one here.
    app.signup("root").await;
    let (status, body) = ldap_login(&app, "kim", slapd::PASSWORD).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "bearer");
    let token = body["access_token"].as_str().unwrap();
    let (status, who) = me(&app, token).await;
    assert_eq!(status, 200);
    assert_eq!(who["username"], "kim");
    assert_eq!(who["display_name"], "김민수");
    assert_eq!(who["email"], "kim@corp.example");
    assert_eq!(who["auth_method"], "ldap");
    assert_eq!(who["role"], "user");
    // The same entry signs in to the same account; a {SSHA} password works.
    let (status, again) = ldap_login(&app, "KIM", slapd::PASSWORD).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["user"]["id"], body["user"]["id"]);
    let (status, choi) = ldap_login(&app, "choi", slapd::PASSWORD).await;
    assert_eq!(status, 200, "{choi}");
    assert_ne!(choi["user"]["id"], body["user"]["id"]);
}

#[tokio::test]
async fn wrong_credentials_get_one_answer() {
    let Some((_slapd, app)) = started().await else {
        return;
    };
    for (username, password) in [
        ("kim", "wrong-password"),
        ("kim", ""),
        ("nobody", slapd::PASSWORD),
        ("*)(uid=*", slapd::PASSWORD),
        ("*", slapd::PASSWORD),
        ("", slapd::PASSWORD),
    ] {
        let (status, body) = ldap_login(&app, username, password).await;
        assert_eq!(status, 401, "{username:?}/{password:?}: {body}");
        assert_eq!(body["code"], "invalid_credentials");
        assert_eq!(body["error"], "wrong username or password");
    }
}

#[tokio::test]
async fn users_outside_the_allowed_groups_are_refused() {
    let Some((_slapd, app)) = started().await else {
        return;
    };
    let (status, body) = ldap_login(&app, "lee", slapd::PASSWORD).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["code"], "not_in_allowed_group");
}

#[tokio::test]
async fn nested_groups_feed_daehwa_groups_and_admin_groups_the_role() {
    let Some((_slapd, app)) = started().await else {
        return;
    };
    let root = app.signup("root").await;
    let res = app
        .as_user(Method::POST, "/api/v1/admin/groups", &root.access)
        .json(&json!({"name": "AI users"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let group: Value = res.json().await.unwrap();
    let group_id = group["id"].as_str().unwrap().to_string();
    {
        let conn = rusqlite::Connection::open(&app.db_path).unwrap();
        daehwa::db::group::set_directory_names(&conn, &group_id, &[AI_USERS.to_uppercase()])
            .unwrap();
    }
    // kim is in research, which is in ai-users.
    let (status, kim) = ldap_login(&app, "kim", slapd::PASSWORD).await;
    assert_eq!(status, 200, "{kim}");
    assert_eq!(kim["user"]["role"], "user");
    // park is in admins.
    let (status, park) = ldap_login(&app, "park", slapd::PASSWORD).await;
    assert_eq!(status, 200, "{park}");
    assert_eq!(park["user"]["role"], "admin");
    let res = app
        .as_user(
            Method::GET,
            &format!("/api/v1/admin/groups/{group_id}"),
            &root.access,
        )
        .send()
        .await
        .unwrap();
    let group: Value = res.json().await.unwrap();
    let mut members: Vec<(String, String)> = group["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["username"].as_str().unwrap().to_string(),
                m["source"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    members.sort();
    assert_eq!(
        members,
        vec![
            ("kim".to_string(), "directory".to_string()),
            ("park".to_string(), "directory".to_string())
        ]
    );
}

#[tokio::test]
async fn ldaps_with_the_ca_file_starttls_and_no_verification_work() {
    let Some(slapd) = Slapd::start().await else {
        return;
    };
    let ca = slapd.ca_file().display().to_string();
    // LDAPS, the test CA.
    let (url, ca_file) = (slapd.ldaps_url(), ca.clone());
    let app = spawn_with(|args| {
        configure(args, &url);
        args.signin.ldap_ca_file = Some(ca_file);
    })
    .await;
    let (status, body) = ldap_login(&app, "kim", slapd::PASSWORD).await;
    assert_eq!(status, 200, "ldaps: {body}");
    // StartTLS on ldap://, the test CA.
    let (url, ca_file) = (slapd.ldap_url(), ca.clone());
    let app = spawn_with(|args| {
        configure(args, &url);
        args.signin.ldap_starttls = Some(true);
        args.signin.ldap_ca_file = Some(ca_file);
    })
    .await;
    let (status, body) = ldap_login(&app, "kim", slapd::PASSWORD).await;
    assert_eq!(status, 200, "starttls: {body}");
    // LDAPS without verification.
    let url = slapd.ldaps_url();
    let app = spawn_with(|args| {
        configure(args, &url);
        args.signin.ldap_skip_verify = Some(true);
    })
    .await;
    let (status, body) = ldap_login(&app, "kim", slapd::PASSWORD).await;
    assert_eq!(status, 200, "skip_verify: {body}");
}

#[tokio::test]
async fn a_certificate_from_another_ca_makes_the_directory_unavailable() {
    let Some(slapd) = Slapd::start().await else {
        return;
    };
    let other = tempfile::tempdir().unwrap();
    let wrong = slapd::unrelated_ca(other.path()).display().to_string();
    let (url, ca_file) = (slapd.ldaps_url(), wrong.clone());
    let app = spawn_with(|args| {
        configure(args, &url);
        args.signin.ldap_ca_file = Some(ca_file);
    })
    .await;
    let (status, body) = ldap_login(&app, "kim", slapd::PASSWORD).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["code"], "directory_unavailable");
    // StartTLS too.
    let (url, ca_file) = (slapd.ldap_url(), wrong);
    let app = spawn_with(|args| {
        configure(args, &url);
        args.signin.ldap_starttls = Some(true);
        args.signin.ldap_ca_file = Some(ca_file);
    })
    .await;
    let (status, body) = ldap_login(&app, "kim", slapd::PASSWORD).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["code"], "directory_unavailable");
}

#[tokio::test]
async fn a_directory_that_is_down_answers_503_and_a_refused_service_account_too() {
    let url = format!("ldap://127.0.0.1:{}", slapd::free_port());
    let app = spawn_with(|args| configure(args, &url)).await;
    let (status, body) = ldap_login(&app, "kim", slapd::PASSWORD).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["code"], "directory_unavailable");

    let Some(slapd) = Slapd::start().await else {
        return;
    };
    let url = slapd.ldap_url();
    let app = spawn_with(|args| {
        configure(args, &url);
        args.signin.ldap_bind_password = Some("not-the-password".into());
    })
    .await;
    let (status, body) = ldap_login(&app, "kim", slapd::PASSWORD).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["code"], "directory_unavailable");
}

#[tokio::test]
async fn refresh_checks_the_directory_again() {
    let Some(mut slapd) = Slapd::start().await else {
        return;
    };
    let app = ldap_app(&slapd).await;
    let (status, kim) = ldap_login(&app, "kim", slapd::PASSWORD).await;
    assert_eq!(status, 200, "{kim}");
    let (status, choi) = ldap_login(&app, "choi", slapd::PASSWORD).await;
    assert_eq!(status, 200, "{choi}");
    // Still in the groups: the session goes on.
    let (status, body) = refresh(&app, choi["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{body}");
    let choi_refresh = body["refresh_token"].as_str().unwrap().to_string();
    let choi_access = body["access_token"].as_str().unwrap().to_string();
    // choi leaves research (so ai-users): the next refresh ends the session.
    let choi_dn = format!("uid=choi,{PEOPLE}");
    slapd.remove_member(RESEARCH, &choi_dn).await;
    let (status, body) = refresh(&app, &choi_refresh).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["code"], "directory_refused");
    let (status, _) = refresh(&app, &choi_refresh).await;
    assert_eq!(status, 401, "the session ended");
    let (status, _) = me(&app, &choi_access).await;
    assert_eq!(status, 401, "its access token is void");
    // The directory goes down: 503, and kim's session stays.
    slapd.stop();
    let kim_refresh = kim["refresh_token"].as_str().unwrap();
    let (status, body) = refresh(&app, kim_refresh).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["code"], "directory_unavailable");
}

#[tokio::test]
async fn the_admin_tests_report_each_step() {
    let Some((slapd, app)) = started().await else {
        return;
    };
    let root = app.signup("root").await;
    let (status, report) = admin_post(
        &app,
        &root.access,
        "/api/v1/admin/sign-in/ldap/test",
        json!({}),
    )
    .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["server"], "ldap");
    let steps: Vec<&str> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["connect", "bind", "search"]);

    // Unsaved fields are tried; locked ones (the URL and the user base here)
    // keep their flags' values.
    let url = slapd.ldap_url();
    let bare = spawn_with(|args| {
        args.signin.ldap_url = Some(url);
        args.signin.ldap_user_base = Some("ou=Nowhere,dc=corp,dc=example".into());
    })
    .await;
    let bare_root = bare.signup("root").await;
    let unsaved = |password: &str| {
        json!({"ldap": {
            "url": "ldap://127.0.0.1:1",
            "user_base": PEOPLE,
            "bind_dn": slapd::ROOT_DN,
            "bind_password": password,
        }})
    };
    let test = "/api/v1/admin/sign-in/ldap/test";
    let (status, report) = admin_post(
        &bare,
        &bare_root.access,
        test,
        unsaved(slapd::ROOT_PASSWORD),
    )
    .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["ok"], false, "{report}");
    let steps: Vec<(String, bool)> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["step"].as_str().unwrap().to_string(), s["ok"] == true))
        .collect();
    assert_eq!(
        steps,
        [
            ("connect".to_string(), true),
            ("bind".to_string(), true),
            ("search".to_string(), false)
        ],
        "{report}"
    );
    let (_, report) = admin_post(&bare, &bare_root.access, test, unsaved("wrong-password")).await;
    assert_eq!(report["ok"], false, "{report}");
    let last = report["steps"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (&last["step"], &last["ok"]),
        (&json!("bind"), &json!(false)),
        "{report}"
    );

    // A user: found, nested groups, password checked.
    let (status, user) = admin_post(
        &app,
        &root.access,
        "/api/v1/admin/sign-in/ldap/test-user",
        json!({"username": "kim", "password": slapd::PASSWORD}),
    )
    .await;
    assert_eq!(status, 200, "{user}");
    assert_eq!(user["found"], true);
    assert_eq!(user["dn"], format!("uid=kim,{PEOPLE}"));
    assert_eq!(user["display_name"], "김민수");
    assert_eq!(user["password_ok"], true);
    assert_eq!(user["allowed"], true);
    assert_eq!(user["admin"], false);
    let groups: Vec<String> = user["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g.as_str().unwrap().to_lowercase())
        .collect();
    assert!(groups.contains(&RESEARCH.to_lowercase()), "{user}");
    assert!(groups.contains(&AI_USERS.to_lowercase()), "{user}");
    let (_, user) = admin_post(
        &app,
        &root.access,
        "/api/v1/admin/sign-in/ldap/test-user",
        json!({"username": "kim", "password": "wrong"}),
    )
    .await;
    assert_eq!(user["password_ok"], false, "{user}");
    let (_, user) = admin_post(
        &app,
        &root.access,
        "/api/v1/admin/sign-in/ldap/test-user",
        json!({"username": "park"}),
    )
    .await;
    assert_eq!(user["password_ok"], Value::Null, "{user}");
    assert_eq!(user["admin"], true, "{user}");
    let (_, user) = admin_post(
        &app,
        &root.access,
        "/api/v1/admin/sign-in/ldap/test-user",
        json!({"username": "nobody"}),
    )
    .await;
    assert_eq!(user["found"], false, "{user}");

    // Not for a plain user.
    let plain = app.signup("plain").await;
    for path in [
        "/api/v1/admin/sign-in/ldap/test",
        "/api/v1/admin/sign-in/ldap/test-user",
    ] {
        let (status, body) =
            admin_post(&app, &plain.access, path, json!({"username": "kim"})).await;
        assert_eq!(status, 403, "{path}: {body}");
    }
}

#[tokio::test]
async fn the_route_is_absent_when_ldap_is_off() {
    let app = spawn_with(|_| {}).await;
    let (status, body) = ldap_login(&app, "kim", "whatever").await;
    assert_eq!(status, 404, "{body}");
}

#[tokio::test]
async fn failed_sign_ins_are_limited() {
    let Some((_slapd, app)) = started().await else {
        return;
    };
    let mut statuses = Vec::new();
    for _ in 0..7 {
        statuses.push(ldap_login(&app, "kim", "wrong-password").await.0);
    }
    assert_eq!(&statuses[..5], &[401; 5], "{statuses:?}");
    assert_eq!(statuses[6], 429, "{statuses:?}");
    // Another user from the same address is not held back.
    let (status, body) = ldap_login(&app, "park", slapd::PASSWORD).await;
    assert_eq!(status, 200, "{body}");
}
