//! What a stranger can make the sign-in routes do (issue 16): attempts are
//! counted before the password hash, per username *and* address, the client
//! address comes from `X-Forwarded-For` only through a trusted proxy, refused
//! registrations never hash, other sites' pages cannot use the cookie
//! routes, API keys cannot manage keys, and external sign-ins are limited.

use std::net::SocketAddr;
use std::time::Instant;

use reqwest::Method;
use serde_json::{json, Value};
use warp::Filter;

use crate::helpers::{spawn_app, spawn_with, TestApp, PASSWORD};

async fn code_of(res: reqwest::Response) -> (u16, String) {
    let status = res.status().as_u16();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    (
        status,
        body["code"].as_str().unwrap_or_default().to_string(),
    )
}

/// A sign-in as if from `client`, through a proxy on loopback.
async fn login_from(app: &TestApp, forwarded_for: &str, username: &str, password: &str) -> u16 {
    app.request(Method::POST, "/api/v1/auth/login")
        .header("x-forwarded-for", forwarded_for)
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// A server behind a "proxy" on 127.0.0.1, so `X-Forwarded-For` names clients.
async fn behind_proxy() -> TestApp {
    spawn_with(|args| args.trusted_proxies = vec!["127.0.0.1/32".into(), "::1".into()]).await
}

#[tokio::test]
async fn forty_parallel_wrong_passwords_are_evaluated_at_most_five_times_and_lock_the_right_one_out(
) {
    let app = spawn_app().await;
    app.signup("alice").await;
    let attempts = (0..40).map(|_| app.login("alice", "wrong-password-1"));
    let statuses: Vec<u16> = futures_util::future::join_all(attempts)
        .await
        .iter()
        .map(|res| res.status().as_u16())
        .collect();
    let evaluated = statuses.iter().filter(|s| **s == 401).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert!(
        (1..=5).contains(&evaluated),
        "{evaluated} of 40 were hashed: {statuses:?}"
    );
    assert_eq!(evaluated + refused, 40, "{statuses:?}");
    // The limit is reached: the owner's right password waits too (30 s at
    // least, far longer than this test takes).
    let res = app.login("alice", PASSWORD).await;
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&retry), "{retry}");
    assert_eq!(code_of(res).await, (429, "rate_limited".into()));
}

#[tokio::test]
async fn a_stranger_failing_from_another_address_does_not_lock_the_owner_out() {
    let app = behind_proxy().await;
    app.signup("alice").await;
    let stranger = (0..40).map(|_| login_from(&app, "203.0.113.66", "alice", "guess-1234"));
    let statuses = futures_util::future::join_all(stranger).await;
    assert!(
        statuses.iter().all(|s| *s == 401 || *s == 429),
        "{statuses:?}"
    );
    assert!(statuses.contains(&429), "the stranger is held back");
    assert_eq!(
        login_from(&app, "203.0.113.66", "alice", PASSWORD).await,
        429,
        "still held back, even with the right password"
    );
    // The owner, from their own address, is not.
    assert_eq!(
        login_from(&app, "198.51.100.7", "alice", PASSWORD).await,
        200
    );
}

#[tokio::test]
async fn one_address_is_still_limited_across_usernames() {
    let app = behind_proxy().await;
    app.signup("bob").await;
    for i in 0..30 {
        let status = login_from(&app, "203.0.113.8", &format!("user{i}"), "guess-1234").await;
        assert_eq!(status, 401, "attempt {i}");
    }
    assert_eq!(
        login_from(&app, "203.0.113.8", "someone-new", "guess-1234").await,
        429
    );
    assert_eq!(login_from(&app, "203.0.113.8", "bob", PASSWORD).await, 429);
    assert_eq!(login_from(&app, "203.0.113.9", "bob", PASSWORD).await, 200);
}

#[tokio::test]
async fn x_forwarded_for_names_the_client_only_when_a_trusted_proxy_sends_it() {
    // No trusted proxy: the header is the client's own claim and is ignored,
    // so a new value per attempt does not escape the limit.
    let app = spawn_app().await;
    app.signup("alice").await;
    for i in 0..5 {
        let spoofed = format!("203.0.113.{i}");
        assert_eq!(login_from(&app, &spoofed, "alice", "wrong-1234").await, 401);
    }
    assert_eq!(
        login_from(&app, "198.51.100.1", "alice", PASSWORD).await,
        429
    );

    // From a trusted proxy: its entry (the rightmost) names the client; what
    // the client wrote to its left does not.
    let app = behind_proxy().await;
    app.signup("alice").await;
    for _ in 0..5 {
        assert_eq!(
            login_from(&app, "203.0.113.5", "alice", "wrong-1234").await,
            401
        );
    }
    assert_eq!(
        login_from(&app, "198.51.100.9, 203.0.113.5", "alice", PASSWORD).await,
        429,
        "a spoofed entry left of the proxy's"
    );
    assert_eq!(
        login_from(&app, "not-an-address", "alice", PASSWORD).await,
        200,
        "malformed: the peer (the proxy) is the client, which has no failures"
    );
    assert_eq!(
        login_from(&app, "198.51.100.9", "alice", PASSWORD).await,
        200
    );
}

#[tokio::test]
async fn a_malformed_trusted_proxy_stops_the_start_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let mut args = daehwa::config::ServeArgs::for_tests(dir.path().join("d.db"));
    args.trusted_proxies = vec!["10.0.0.0/33".into()];
    let err = daehwa::app::App::build(&args).await.err().expect("refused");
    assert!(err.to_string().contains("10.0.0.0/33"), "{err}");
}

async fn close_registration(app: &TestApp, admin: &crate::helpers::Session) {
    let res = app
        .as_user(Method::PUT, "/api/v1/admin/settings", &admin.access)
        .json(&json!({"registration_mode": "closed"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn refused_registrations_are_answered_without_hashing_a_password() {
    // Real argon2 cost, so that a hash is what dominates a request's time.
    let app = spawn_with(|args| args.fast_password_hashing = false).await;
    let admin = app.signup("admin").await;
    close_registration(&app, &admin).await;

    // One sign-in with a wrong password: one hash.
    let started = Instant::now();
    assert_eq!(app.login("admin", "wrong-password-1").await.status(), 401);
    let one_hash = started.elapsed();

    // 32 refusals at once: had each hashed, with at most 4 hashes at a time
    // they would take 8 hashes' time or more.
    let started = Instant::now();
    let names: Vec<String> = (0..32).map(|i| format!("late{i}")).collect();
    let refusals = names.iter().map(|name| app.register(name, PASSWORD));
    for res in futures_util::future::join_all(refusals).await {
        assert_eq!(code_of(res).await, (403, "registration_closed".into()));
    }
    let took = started.elapsed();
    assert!(
        took < one_hash * 4,
        "32 refusals took {took:?}, one hash {one_hash:?}"
    );
    // A taken name is refused as cheaply (and by the same rule).
    let res = app.register("admin", PASSWORD).await;
    assert_eq!(res.status(), 403);
}

#[tokio::test]
async fn registrations_are_limited_per_address_but_the_first_account_always_works() {
    let app = spawn_app().await;
    let res = app.register("first", PASSWORD).await;
    assert_eq!(res.status(), 201, "the first account on an empty server");
    for i in 1..10 {
        assert_eq!(
            app.register(&format!("user{i}"), PASSWORD).await.status(),
            201
        );
    }
    let res = app.register("eleventh", PASSWORD).await;
    assert!(res.headers().contains_key("retry-after"));
    assert_eq!(code_of(res).await, (429, "rate_limited".into()));
    // A taken name is still told so (not hashed, not counted).
    assert_eq!(code_of(app.register("user1", PASSWORD).await).await.0, 409);
}

#[tokio::test]
async fn a_sign_in_from_another_sites_page_is_refused_and_sets_no_cookie() {
    let app = spawn_with(|args| args.cors_origins = vec!["https://portal.example".into()]).await;
    app.signup("alice").await;
    let login = |origin: Option<&str>, fetch_site: Option<&str>| {
        let mut req = app
            .request(Method::POST, "/api/v1/auth/login")
            .json(&json!({"username": "alice", "password": PASSWORD}));
        if let Some(origin) = origin {
            req = req.header("origin", origin);
        }
        if let Some(site) = fetch_site {
            req = req.header("sec-fetch-site", site);
        }
        req.send()
    };

    for (origin, site) in [
        (Some("https://evil.example"), None),
        (Some("https://evil.example"), Some("cross-site")),
        (Some("null"), None),
        (None, Some("cross-site")),
        (Some(&*format!("http://{}", app.addr.ip())), None),
    ] {
        let res = login(origin, site).await.unwrap();
        assert!(res.headers().get("set-cookie").is_none(), "{origin:?}");
        assert_eq!(
            code_of(res).await,
            (403, "cross_site_request".into()),
            "{origin:?} {site:?}"
        );
    }
    let own = format!("http://{}", app.addr);
    for (origin, site) in [
        (Some(own.as_str()), Some("same-origin")),
        (Some(own.as_str()), None),
        (Some("https://portal.example"), Some("cross-site")),
        (None, None),
        (None, Some("none")),
    ] {
        let res = login(origin, site).await.unwrap();
        assert_eq!(res.status(), 200, "{origin:?} {site:?}");
        assert!(res.headers().contains_key("set-cookie"));
    }
    // Refresh and sign-out replace or clear the cookie: the same rule.
    for path in ["/api/v1/auth/refresh", "/api/v1/auth/logout"] {
        let res = app
            .request(Method::POST, path)
            .header("origin", "https://evil.example")
            .send()
            .await
            .unwrap();
        assert!(res.headers().get("set-cookie").is_none(), "{path}");
        assert_eq!(code_of(res).await, (403, "cross_site_request".into()));
    }
}

/// An API key of `user` (made with their session).
async fn new_key(app: &TestApp, access: &str, name: &str) -> Value {
    let res = app
        .as_user(Method::POST, "/api/v1/api-keys", access)
        .json(&json!({"client_name": name}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    res.json().await.unwrap()
}

#[tokio::test]
async fn an_api_key_cannot_create_or_revoke_other_keys_nor_change_the_password() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    let parent = new_key(&app, &alice.access, "parent").await;
    let key = new_key(&app, &alice.access, "script").await;
    let key_value = key["api_key"].as_str().unwrap();
    let with_key =
        |method: Method, path: &str| app.request(method, path).header("x-api-key", key_value);

    let refused = [
        with_key(Method::POST, "/api/v1/api-keys").json(&json!({"client_name": "child"})),
        with_key(Method::POST, "/simple/api-keys").json(&json!({"client_name": "child"})),
        with_key(
            Method::DELETE,
            &format!("/api/v1/api-keys/{}", parent["id"].as_str().unwrap()),
        ),
        with_key(
            Method::DELETE,
            &format!("/simple/api-keys/{}", parent["api_key"].as_str().unwrap()),
        ),
        with_key(Method::PUT, "/api/v1/user/password")
            .json(&json!({"current_password": PASSWORD, "new_password": "taken-over-99"})),
    ];
    for req in refused {
        let res = req.send().await.unwrap();
        let url = res.url().path().to_string();
        assert_eq!(
            code_of(res).await,
            (403, "session_required".into()),
            "{url}"
        );
    }
    // Nothing changed: the parent works, the password is the same.
    let res = app
        .request(Method::GET, "/api/v1/auth/me")
        .header("x-api-key", parent["api_key"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "the parent key still works");
    assert_eq!(app.login("alice", PASSWORD).await.status(), 200);
    let res = app
        .as_user(Method::GET, "/api/v1/api-keys", &alice.access)
        .send()
        .await
        .unwrap();
    let listed: Value = res.json().await.unwrap();
    assert_eq!(
        listed["api_keys"].as_array().unwrap().len(),
        2,
        "no child key"
    );
    // A key may still end itself, and the session may manage keys.
    let res = with_key(Method::DELETE, &format!("/simple/api-keys/{key_value}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    new_key(&app, &alice.access, "from the session").await;
}

/// A userinfo endpoint: `good-token` is Kim, `nameless-token` is accepted
/// but names nobody, anything else is refused.
async fn userinfo() -> SocketAddr {
    let route = warp::path!("userinfo")
        .and(warp::header::optional::<String>("authorization"))
        .map(|auth: Option<String>| {
            let (status, body) = match auth.as_deref() {
                Some("Bearer good-token") => (200, json!({"sub": "kim", "name": "Kim"})),
                Some("Bearer nameless-token") => (200, json!({"name": "Nobody", "email": "x@y"})),
                _ => (401, json!({"error": "invalid_token"})),
            };
            warp::reply::with_status(
                warp::reply::json(&body),
                warp::http::StatusCode::from_u16(status).unwrap(),
            )
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(warp::serve(route).incoming(listener).run());
    addr
}

async fn exchange(app: &TestApp, token: &str) -> reqwest::Response {
    app.request(Method::POST, "/api/v1/auth/exchange")
        .header("x-external-token", token)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn an_exchange_whose_userinfo_names_nobody_is_the_tokens_fault_401() {
    let userinfo = userinfo().await;
    let app =
        spawn_with(|args| args.userinfo_url = Some(format!("http://{userinfo}/userinfo"))).await;
    assert_eq!(
        code_of(exchange(&app, "nameless-token").await).await,
        (401, "external_identity_missing".into())
    );
}

#[tokio::test]
async fn failed_exchanges_from_one_address_are_rate_limited() {
    let userinfo = userinfo().await;
    let app =
        spawn_with(|args| args.userinfo_url = Some(format!("http://{userinfo}/userinfo"))).await;
    app.signup("admin").await;
    // Successes do not count.
    for _ in 0..5 {
        assert_eq!(exchange(&app, "good-token").await.status(), 200);
    }
    let app = &app;
    let attempts = (0..40).map(|i| async move {
        let token = format!("stolen-{i}");
        exchange(app, &token).await.status().as_u16()
    });
    let statuses = futures_util::future::join_all(attempts).await;
    let asked = statuses.iter().filter(|s| **s == 401).count();
    assert_eq!(asked, 30, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 10);
    let res = exchange(app, "good-token").await;
    assert!(res.headers().contains_key("retry-after"));
    assert_eq!(code_of(res).await, (429, "rate_limited".into()));
}

const ISSUER_SECRET: &str = "issuer-shared-secret-for-tests";

#[tokio::test]
async fn a_signed_token_request_works_once_and_its_replay_is_refused() {
    let app = spawn_with(|args| args.trusted_issuer_secret = Some(ISSUER_SECRET.into())).await;
    let body = r#"{"user_id": "emp-0042", "display_name": "Park Sora"}"#;
    let ts = chrono::Utc::now().timestamp().to_string();
    let signature = daehwa::auth::external::sign(ISSUER_SECRET.as_bytes(), &ts, body.as_bytes());
    let send = || {
        app.request(Method::POST, "/api/v1/auth/token")
            .header("content-type", "application/json")
            .header("x-signature", &signature)
            .header("x-timestamp", &ts)
            .body(body)
            .send()
    };
    assert_eq!(send().await.unwrap().status(), 200);
    let replay = send().await.unwrap();
    assert!(replay.headers().get("set-cookie").is_none());
    assert_eq!(code_of(replay).await, (401, "replayed_request".into()));
    // A fresh signature for the same body (a nonce field or a new second)
    // is a new request.
    let body = r#"{"user_id": "emp-0042", "nonce": "2"}"#;
    let signature = daehwa::auth::external::sign(ISSUER_SECRET.as_bytes(), &ts, body.as_bytes());
    let res = app
        .request(Method::POST, "/api/v1/auth/token")
        .header("content-type", "application/json")
        .header("x-signature", signature)
        .header("x-timestamp", &ts)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn a_refused_sign_in_is_answered_after_a_pause_so_a_flood_cannot_spin() {
    let app = spawn_app().await;
    app.signup("minji").await;
    // Lock minji out from this address, then keep asking on one connection.
    for _ in 0..5 {
        app.login("minji", "wrong-password").await;
    }
    let started = Instant::now();
    let mut refused = 0;
    while started.elapsed() < std::time::Duration::from_secs(3) {
        let res = app.login("minji", "wrong-password").await;
        assert_eq!(res.status(), 429);
        refused += 1;
    }
    // Answered at once, a loop would get hundreds of 429s in 3 s; held back
    // a second each, it gets about three.
    assert!(refused <= 5, "{refused} refusals in 3 s");
}
