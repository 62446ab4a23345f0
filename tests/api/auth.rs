//! Accounts, sessions and tokens over real HTTP.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, Session, TestApp, PASSWORD, TEST_SECRET};

async fn body(res: reqwest::Response) -> Value {
    res.json().await.expect("JSON body")
}

async fn me(app: &TestApp, token: &str) -> reqwest::Response {
    app.as_user(Method::GET, "/api/v1/auth/me", token)
        .send()
        .await
        .unwrap()
}

/// Asserts a JSON error with this status and code.
async fn assert_error(res: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(res.status(), status, "expected {status} {code}");
    assert_eq!(res.headers()["content-type"], "application/json");
    if status == 401 {
        assert!(
            res.headers().contains_key("www-authenticate"),
            "401 without WWW-Authenticate"
        );
    }
    let body = body(res).await;
    assert_eq!(body["code"], code, "{body}");
    assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()));
    body
}

#[tokio::test]
async fn register_login_me_refresh_and_logout_round_trip() {
    let app = spawn_app().await;
    let res = app.register("alice", PASSWORD).await;
    assert_eq!(res.status(), 201);
    let alice = body(res).await;
    assert_eq!(alice["role"], "admin", "the first account is admin");
    assert_eq!(alice["status"], "active");
    assert!(alice.get("password_hash").is_none());

    let res = app.register("bob", PASSWORD).await;
    assert_eq!(body(res).await["role"], "user", "the second account is not");

    let res = app.login("alice", PASSWORD).await;
    assert_eq!(res.status(), 200);
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_string();
    for part in [
        "daehwa_refresh=",
        "HttpOnly",
        "SameSite=Strict",
        "Path=/api/v1/auth",
        "Max-Age=604800",
    ] {
        assert!(cookie.contains(part), "cookie {cookie} lacks {part}");
    }
    let login = body(res).await;
    assert_eq!(login["token_type"], "bearer");
    assert_eq!(login["expires_in"], 900);
    assert_eq!(login["user"]["username"], "alice");
    let access = login["access_token"].as_str().unwrap();
    let refresh = login["refresh_token"].as_str().unwrap();
    assert!(
        cookie.contains(refresh),
        "the cookie carries the same refresh token"
    );

    // The access token is a JWT with the documented claims.
    let payload = access.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    for claim in ["sub", "role", "iat", "exp", "jti"] {
        assert!(
            claims.get(claim).is_some(),
            "claim {claim} missing: {claims}"
        );
    }
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        900
    );

    for path in ["/api/v1/auth/me", "/api/v1/user/me"] {
        let res = app.as_user(Method::GET, path, access).send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
        let me = body(res).await;
        assert_eq!(
            (me["username"].as_str(), me["role"].as_str()),
            (Some("alice"), Some("admin"))
        );
        assert!(me["created_at"].as_str().unwrap().ends_with('Z'));
    }

    // Refresh with the body: a new pair, the refresh token rotated.
    let res = app
        .post_json("/api/v1/auth/refresh", &json!({"refresh_token": refresh}))
        .await;
    assert_eq!(res.status(), 200);
    let rotated = body(res).await;
    let refresh2 = rotated["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(refresh2, refresh);
    assert_eq!(
        me(&app, rotated["access_token"].as_str().unwrap())
            .await
            .status(),
        200
    );

    // Refresh with the cookie only, as the browser does.
    let res = app
        .request(Method::POST, "/api/v1/auth/refresh")
        .header("cookie", format!("daehwa_refresh={refresh2}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let rotated = body(res).await;
    let access3 = rotated["access_token"].as_str().unwrap().to_string();
    let refresh3 = rotated["refresh_token"].as_str().unwrap().to_string();

    // Logout: 204, the cookie cleared, the session's tokens dead at once.
    let res = app
        .request(Method::POST, "/api/v1/auth/logout")
        .header("cookie", format!("daehwa_refresh={refresh3}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert!(res.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    assert_error(me(&app, &access3).await, 401, "invalid_token").await;
    let res = app
        .post_json("/api/v1/auth/refresh", &json!({"refresh_token": refresh3}))
        .await;
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn wrong_password_and_unknown_user_get_the_same_answer() {
    let app = spawn_app().await;
    app.signup("alice").await;
    let wrong = app.login("alice", "wrong-password-1").await;
    let unknown = app.login("nobody", "wrong-password-1").await;
    assert_eq!(wrong.status(), 401);
    assert_eq!(unknown.status(), 401);
    let (wrong, unknown) = (body(wrong).await, body(unknown).await);
    assert_eq!(wrong, unknown);
    assert_eq!(wrong["code"], "invalid_credentials");
    // Usernames are case-insensitive at sign-in.
    assert_eq!(app.login("ALICE", PASSWORD).await.status(), 200);
}

#[tokio::test]
async fn bad_registrations_are_refused_with_reasons() {
    let app = spawn_app().await;
    app.signup("alice").await;
    let cases: Vec<(Value, u16, &str, &str)> = vec![
        (
            json!({"username": "ab", "password": PASSWORD}),
            422,
            "validation_failed",
            "username too short",
        ),
        (
            json!({"username": "has space", "password": PASSWORD}),
            422,
            "validation_failed",
            "username characters",
        ),
        (
            json!({"username": "carol", "password": "short1"}),
            422,
            "validation_failed",
            "password too short",
        ),
        (
            json!({"username": "carol", "password": "lettersonly"}),
            422,
            "validation_failed",
            "password needs a digit",
        ),
        (
            json!({"username": "carol", "password": "1234567890"}),
            422,
            "validation_failed",
            "password needs a letter",
        ),
        (
            json!({"username": "ALICE", "password": PASSWORD}),
            409,
            "conflict",
            "username taken, any case",
        ),
        (
            json!({"username": 42, "password": PASSWORD}),
            400,
            "bad_request",
            "wrong type",
        ),
        (
            json!({"password": PASSWORD}),
            422,
            "validation_failed",
            "missing username",
        ),
        (
            json!({"username": "carol", "password": PASSWORD, "admin": true}),
            400,
            "bad_request",
            "unknown field",
        ),
    ];
    for (request, status, code, why) in cases {
        let res = app.post_json("/api/v1/auth/register", &request).await;
        assert_eq!(res.status(), status, "{why}");
        let body = body(res).await;
        assert_eq!(body["code"], code, "{why}: {body}");
        if status == 422 {
            assert!(
                body["fields"].as_object().is_some_and(|f| !f.is_empty()),
                "{why}: {body}"
            );
        }
    }
    let both = app
        .post_json(
            "/api/v1/auth/register",
            &json!({"username": "x", "password": "y"}),
        )
        .await;
    let fields = body(both).await["fields"].clone();
    assert!(
        fields.get("username").is_some() && fields.get("password").is_some(),
        "{fields}"
    );

    for raw in ["{not json", "", "[]"] {
        let res = app
            .request(Method::POST, "/api/v1/auth/register")
            .header("content-type", "application/json")
            .body(raw)
            .send()
            .await
            .unwrap();
        assert_error(res, 400, "bad_request").await;
    }
}

#[tokio::test]
async fn approval_mode_keeps_new_accounts_out_until_approved_and_closed_mode_refuses_them() {
    let app = spawn_app().await;
    let admin = app.signup("admin").await;
    let res = app
        .as_user(Method::PUT, "/api/v1/admin/settings", &admin.access)
        .json(&json!({"registration_mode": "approval"}))
        .send()
        .await
        .unwrap();
    assert_eq!(body(res).await["registration_mode"], "approval");

    let res = app.register("carol", PASSWORD).await;
    assert_eq!(res.status(), 201);
    let carol = body(res).await;
    assert_eq!(carol["status"], "pending");
    assert_error(app.login("carol", PASSWORD).await, 403, "pending_approval").await;

    let res = app
        .as_user(
            Method::PATCH,
            &format!("/api/v1/users/{}", carol["id"].as_str().unwrap()),
            &admin.access,
        )
        .json(&json!({"approve": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(body(res).await["status"], "active");
    assert_eq!(app.login("carol", PASSWORD).await.status(), 200);

    app.as_user(Method::PUT, "/api/v1/admin/settings", &admin.access)
        .json(&json!({"registration_mode": "closed"}))
        .send()
        .await
        .unwrap();
    assert_error(
        app.register("dave", PASSWORD).await,
        403,
        "registration_closed",
    )
    .await;

    let res = app
        .as_user(Method::PUT, "/api/v1/admin/settings", &admin.access)
        .json(&json!({"registration_mode": "sometimes"}))
        .send()
        .await
        .unwrap();
    assert_error(res, 422, "validation_failed").await;
    let res = app
        .as_user(Method::GET, "/api/v1/admin/settings", &admin.access)
        .send()
        .await
        .unwrap();
    assert_eq!(body(res).await["registration_mode"], "closed");
}

/// A token signed with `secret` and these claims.
fn mint(secret: &str, claims: &Value) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

#[tokio::test]
async fn forged_edited_expired_and_missing_tokens_are_refused() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    let now = chrono::Utc::now().timestamp();
    let claims = |exp: i64| json!({"sub": alice.id, "role": "admin", "iat": now - 60, "exp": exp, "jti": "j", "ver": 0});

    // Sanity: a token minted with the server's secret works…
    assert_eq!(
        me(&app, &mint(TEST_SECRET, &claims(now + 600)))
            .await
            .status(),
        200
    );
    // …another key does not.
    let other_key = mint("some-other-secret-that-is-long-enough", &claims(now + 600));
    assert_error(me(&app, &other_key).await, 401, "invalid_token").await;
    // alg: none.
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let unsigned = format!(
        "{header}.{}.",
        URL_SAFE_NO_PAD.encode(claims(now + 600).to_string())
    );
    assert_error(me(&app, &unsigned).await, 401, "invalid_token").await;
    // A changed payload under the original signature.
    let parts: Vec<&str> = alice.access.split('.').collect();
    let mut payload: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    payload["sub"] = json!("someone-else");
    let edited = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(payload.to_string()),
        parts[2]
    );
    assert_error(me(&app, &edited).await, 401, "invalid_token").await;
    // Expired.
    assert_error(
        me(&app, &mint(TEST_SECRET, &claims(now - 120))).await,
        401,
        "token_expired",
    )
    .await;
    // Garbage, another scheme, nothing at all.
    assert_error(me(&app, "not.a.jwt").await, 401, "invalid_token").await;
    let res = app
        .request(Method::GET, "/api/v1/auth/me")
        .header("authorization", "Basic YWxpY2U6cHc=")
        .send()
        .await
        .unwrap();
    assert_error(res, 401, "invalid_token").await;
    let res = app.get("/api/v1/auth/me").await;
    assert_error(res, 401, "unauthenticated").await;
}

#[tokio::test]
async fn a_reused_refresh_token_kills_its_whole_family() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    let refresh = |token: String| {
        let app = &app;
        async move {
            app.post_json("/api/v1/auth/refresh", &json!({"refresh_token": token}))
                .await
        }
    };
    let res = refresh(alice.refresh.clone()).await;
    let second = body(res).await;
    let (access2, refresh2) = (
        second["access_token"].as_str().unwrap().to_string(),
        second["refresh_token"].as_str().unwrap().to_string(),
    );
    assert_eq!(me(&app, &access2).await.status(), 200);

    // The first token again: someone replayed it.
    let res = refresh(alice.refresh.clone()).await;
    assert!(res.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    assert_error(res, 401, "refresh_token_reused").await;
    // The whole family is dead: the successor and its access token too.
    assert_error(refresh(refresh2).await, 401, "refresh_token_reused").await;
    assert_error(me(&app, &access2).await, 401, "invalid_token").await;
    // Another session of the same user is untouched.
    let other = app.sign_in("alice").await;
    assert_eq!(me(&app, &other.access).await.status(), 200);

    assert_error(
        refresh("made-up".into()).await,
        401,
        "invalid_refresh_token",
    )
    .await;
    let res = app
        .request(Method::POST, "/api/v1/auth/refresh")
        .send()
        .await
        .unwrap();
    assert_error(res, 401, "missing_refresh_token").await;
}

#[tokio::test]
async fn disabling_or_changing_the_role_of_a_user_applies_on_their_next_request() {
    let app = spawn_app().await;
    let admin = app.signup("admin").await;
    let bob = app.signup("bob").await;
    let users = |token: String| {
        let app = &app;
        async move {
            app.as_user(Method::GET, "/api/v1/users", &token)
                .send()
                .await
                .unwrap()
        }
    };
    let patch = |body: Value| {
        let app = &app;
        let admin = admin.access.clone();
        let path = format!("/api/v1/users/{}", bob.id);
        async move {
            app.as_user(Method::PATCH, &path, &admin)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };

    assert_error(users(bob.access.clone()).await, 403, "admin_only").await;
    assert_eq!(patch(json!({"role": "admin"})).await.status(), 200);
    assert_eq!(
        users(bob.access.clone()).await.status(),
        200,
        "promotion applies at once"
    );
    assert_eq!(patch(json!({"role": "user"})).await.status(), 200);
    assert_error(users(bob.access.clone()).await, 403, "admin_only").await;

    let res = patch(json!({"disabled": true})).await;
    assert_eq!(body(res).await["status"], "disabled");
    assert_error(me(&app, &bob.access).await, 403, "account_disabled").await;
    assert_error(app.login("bob", PASSWORD).await, 403, "account_disabled").await;
    let res = app
        .post_json(
            "/api/v1/auth/refresh",
            &json!({"refresh_token": bob.refresh}),
        )
        .await;
    assert_eq!(res.status(), 401, "disabling revoked the refresh tokens");

    assert_eq!(patch(json!({"disabled": false})).await.status(), 200);
    assert_eq!(app.login("bob", PASSWORD).await.status(), 200);
    assert_error(patch(json!({"role": "root"})).await, 400, "bad_request").await;
    assert_error(patch(json!({"nickname": "x"})).await, 400, "bad_request").await;
}

#[tokio::test]
async fn a_password_change_ends_other_sessions_and_old_access_tokens() {
    let app = spawn_app().await;
    let here = app.signup("alice").await;
    let elsewhere = app.sign_in("alice").await;
    let change = |current: &str, new: &str| {
        let app = &app;
        let token = here.access.clone();
        let body = json!({"current_password": current, "new_password": new});
        async move {
            app.as_user(Method::PUT, "/api/v1/user/password", &token)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };

    assert_error(
        change("not-my-password-1", "new-password-77").await,
        403,
        "wrong_password",
    )
    .await;
    let res = change(PASSWORD, "weak").await;
    let body422 = assert_error(res, 422, "validation_failed").await;
    assert!(body422["fields"]["new_password"].is_string());

    let res = change(PASSWORD, "new-password-77").await;
    assert_eq!(res.status(), 200);
    let answer = body(res).await;
    let fresh = answer["access_token"].as_str().unwrap();

    assert_eq!(
        me(&app, fresh).await.status(),
        200,
        "the answer's token works"
    );
    assert_error(me(&app, &here.access).await, 401, "invalid_token").await;
    assert_error(me(&app, &elsewhere.access).await, 401, "invalid_token").await;
    let res = app
        .post_json(
            "/api/v1/auth/refresh",
            &json!({"refresh_token": elsewhere.refresh}),
        )
        .await;
    assert_eq!(res.status(), 401, "the other session is signed out");
    let res = app
        .post_json(
            "/api/v1/auth/refresh",
            &json!({"refresh_token": here.refresh}),
        )
        .await;
    assert_eq!(res.status(), 200, "this session goes on");
    assert_eq!(app.login("alice", PASSWORD).await.status(), 401);
    assert_eq!(app.login("alice", "new-password-77").await.status(), 200);
}

#[tokio::test]
async fn too_many_failed_logins_are_rate_limited_with_retry_after() {
    let app = spawn_app().await;
    app.signup("alice").await;
    for _ in 0..5 {
        assert_eq!(app.login("alice", "wrong-password-1").await.status(), 401);
    }
    let res = app.login("alice", PASSWORD).await;
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&retry), "{retry}");
    assert_error(res, 429, "rate_limited").await;
    // Another username from the same address is still allowed.
    app.register("bob", PASSWORD).await;
    assert_eq!(app.login("bob", PASSWORD).await.status(), 200);
}

#[tokio::test]
async fn api_keys_are_shown_once_work_in_both_headers_and_die_when_revoked_or_expired() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;

    assert_eq!(
        app.post_json("/api/v1/api-keys", &json!({"client_name": "x"}))
            .await
            .status(),
        401,
        "creating a key needs a sign-in"
    );
    let res = app
        .as_user(Method::POST, "/api/v1/api-keys", &alice.access)
        .json(&json!({"client_name": "my script", "expires_in_days": 30}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let created = body(res).await;
    let key = created["api_key"].as_str().unwrap().to_string();
    assert!(key.starts_with("dk_") && key.len() > 40, "{key}");
    assert!(created["expires_at"].as_str().is_some());

    let with_header = app
        .request(Method::GET, "/api/v1/auth/me")
        .header("x-api-key", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(body(with_header).await["username"], "alice");
    assert_eq!(
        body(me(&app, &key).await).await["username"],
        "alice",
        "Bearer dk_… works too"
    );

    let res = app
        .as_user(Method::GET, "/api/v1/api-keys", &alice.access)
        .send()
        .await
        .unwrap();
    let listed = body(res).await;
    let text = listed.to_string();
    assert!(!text.contains(&key), "the list never shows the key");
    let entry = &listed["api_keys"][0];
    assert_eq!(entry["client_name"], "my script");
    assert!(key.starts_with(entry["prefix"].as_str().unwrap().trim_end_matches('…')));
    assert!(entry["last_used_at"].as_str().is_some(), "use is recorded");

    // Bob can neither see nor revoke Alice's key.
    let path = format!("/api/v1/api-keys/{}", created["id"].as_str().unwrap());
    let res = app
        .as_user(Method::GET, "/api/v1/api-keys", &bob.access)
        .send()
        .await
        .unwrap();
    assert_eq!(body(res).await["api_keys"], json!([]));
    let res = app
        .as_user(Method::DELETE, &path, &bob.access)
        .send()
        .await
        .unwrap();
    assert_error(res, 404, "not_found").await;

    let res = app
        .as_user(Method::DELETE, &path, &alice.access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(body(res).await["message"].is_string());
    assert_error(me(&app, &key).await, 401, "invalid_api_key").await;
    let res = app
        .as_user(Method::DELETE, &path, &alice.access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404, "revoking twice");

    // An expired key.
    let res = app
        .as_user(Method::POST, "/api/v1/api-keys", &alice.access)
        .json(&json!({"client_name": "short lived", "expires_in_days": 1}))
        .send()
        .await
        .unwrap();
    let short = body(res).await;
    let conn = rusqlite::Connection::open(&app.db_path).unwrap();
    conn.execute(
        "UPDATE api_key SET expires_at = '2020-01-01T00:00:00Z' WHERE id = ?1",
        [short["id"].as_str().unwrap()],
    )
    .unwrap();
    assert_error(
        me(&app, short["api_key"].as_str().unwrap()).await,
        401,
        "invalid_api_key",
    )
    .await;
    assert_error(me(&app, "dk_made_up").await, 401, "invalid_api_key").await;

    for bad in [
        json!({"client_name": ""}),
        json!({"client_name": "x", "expires_in_days": 0}),
        json!({"client_name": "x", "expires_in_days": 99999}),
    ] {
        let res = app
            .as_user(Method::POST, "/api/v1/api-keys", &alice.access)
            .json(&bad)
            .send()
            .await
            .unwrap();
        assert_error(res, 422, "validation_failed").await;
    }
}

#[tokio::test]
async fn every_protected_route_needs_a_sign_in_and_admin_routes_need_an_admin() {
    let app = spawn_app().await;
    let admin = app.signup("admin").await;
    let user = app.signup("user1").await;
    sign_in_and_admin_matrix(&app, &admin, &user).await;
}

/// Every protected route answers a stranger 401 and `user` (not an admin)
/// 403 on the admin ones, and `admin` is untouched by all of that (also
/// run with directory accounts, `signin::`).
pub async fn sign_in_and_admin_matrix(app: &TestApp, admin: &Session, user: &Session) {
    let someone = format!("/api/v1/users/{}", admin.id);
    let protected: Vec<(Method, String, bool)> = vec![
        (Method::GET, "/api/v1/auth/me".into(), false),
        (Method::GET, "/api/v1/user/me".into(), false),
        (Method::PUT, "/api/v1/user/password".into(), false),
        (Method::GET, "/api/v1/api-keys".into(), false),
        (Method::POST, "/api/v1/api-keys".into(), false),
        (Method::DELETE, "/api/v1/api-keys/some-id".into(), false),
        (Method::GET, "/api/v1/users".into(), true),
        (Method::GET, someone.clone(), true),
        (Method::PATCH, someone.clone(), true),
        (Method::DELETE, someone.clone(), true),
        (Method::GET, "/api/v1/admin/settings".into(), true),
        (Method::PUT, "/api/v1/admin/settings".into(), true),
        (Method::GET, "/api/v1/admin/audit".into(), true),
    ];
    for (method, path, admin_only) in protected {
        let res = app
            .request(method.clone(), &path)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_error(res, 401, "unauthenticated").await;
        if admin_only {
            let res = app
                .as_user(method.clone(), &path, &user.access)
                .json(&json!({}))
                .send()
                .await
                .unwrap();
            assert_error(res, 403, "admin_only").await;
        }
    }
    // The admin's own account is untouched by all of that.
    assert_eq!(me(app, &admin.access).await.status(), 200);
}

#[tokio::test]
async fn admins_list_find_and_delete_users_but_never_the_last_admin() {
    let app = spawn_app().await;
    let admin = app.signup("admin").await;
    for name in ["kim.minji", "lee.jun", "park.sora"] {
        app.signup(name).await;
    }
    let get = |path: String| {
        let app = &app;
        let token = admin.access.clone();
        async move {
            app.as_user(Method::GET, &path, &token)
                .send()
                .await
                .unwrap()
        }
    };
    let all = body(get("/api/v1/users".into()).await).await;
    assert_eq!(all["users"].as_array().unwrap().len(), 4);
    assert_eq!(all["next_cursor"], Value::Null);
    let found = body(get("/api/v1/users?q=MINJI".into()).await).await;
    assert_eq!(found["users"].as_array().unwrap().len(), 1);
    assert_eq!(found["users"][0]["username"], "kim.minji");

    // Paging: two at a time, no one twice, no one missed.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/users?limit=2&cursor={c}"),
            None => "/api/v1/users?limit=2".into(),
        };
        let page = body(get(path).await).await;
        for u in page["users"].as_array().unwrap() {
            seen.push(u["username"].as_str().unwrap().to_string());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    seen.sort();
    assert_eq!(seen, ["admin", "kim.minji", "lee.jun", "park.sora"]);
    assert_error(
        get("/api/v1/users?limit=abc".into()).await,
        400,
        "bad_request",
    )
    .await;
    assert_error(
        get("/api/v1/users/no-such-id".into()).await,
        404,
        "not_found",
    )
    .await;

    // The last admin can neither be demoted, disabled nor deleted.
    let own = format!("/api/v1/users/{}", admin.id);
    for body in [json!({"role": "user"}), json!({"disabled": true})] {
        let res = app
            .as_user(Method::PATCH, &own, &admin.access)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_error(res, 409, "conflict").await;
    }
    let res = app
        .as_user(Method::DELETE, &own, &admin.access)
        .send()
        .await
        .unwrap();
    assert_error(res, 409, "conflict").await;

    // Deleting a user ends their sessions; the audit log tells who did what.
    let lee = app.sign_in("lee.jun").await;
    let res = app
        .as_user(
            Method::DELETE,
            &format!("/api/v1/users/{}", lee.id),
            &admin.access,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_error(me(&app, &lee.access).await, 401, "invalid_token").await;
    let audit = body(get("/api/v1/admin/audit".into()).await).await;
    let first = &audit["entries"][0];
    assert_eq!(first["action"], "user.delete");
    assert_eq!(first["actor_name"], "admin");
    assert_eq!(first["target"], lee.id.as_str());
}

#[tokio::test]
async fn the_signing_secret_is_generated_once_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("daehwa.db");
    let app = crate::helpers::spawn_in(dir, db.clone(), |args| args.secret = None).await;
    let alice = app.signup("alice").await;
    let (dir, db) = app.stop().await;
    let app = crate::helpers::spawn_in(dir, db, |args| args.secret = None).await;
    assert_eq!(
        me(&app, &alice.access).await.status(),
        200,
        "same secret after restart"
    );
    assert_eq!(
        app.login("alice", PASSWORD).await.status(),
        200,
        "the account is kept"
    );
    let conn = rusqlite::Connection::open(&app.db_path).unwrap();
    let stored: String = conn
        .query_row(
            "SELECT value FROM setting WHERE key = 'jwt_secret'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(stored.len() > 40);
}
