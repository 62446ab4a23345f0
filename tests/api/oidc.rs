//! OpenID Connect sign-in (issue 22) against `fake-idp`, a real provider on
//! loopback: the browser's hops (daehwa → provider → daehwa) are driven by
//! hand with redirects off, carrying the cookies as a browser would.

use std::collections::HashMap;

use fake_idp::FakeIdp;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use serde_json::{json, Value};

use crate::helpers::{spawn_with, TestApp};

const CLIENT_ID: &str = "daehwa-test";
const CLIENT_SECRET: &str = "client-s3cret";

/// A browser without automatic redirects, with its own cookie jar
/// (name → value; these tests never need the paths).
struct Browser {
    client: reqwest::Client,
    cookies: HashMap<String, String>,
}

/// One hop's answer.
struct Hop {
    status: u16,
    location: String,
    set_cookies: Vec<String>,
}

impl Browser {
    fn new() -> Browser {
        Browser {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: HashMap::new(),
        }
    }

    async fn get(&mut self, url: &str) -> Hop {
        let mut request = self.client.get(url);
        if !self.cookies.is_empty() {
            let header: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            request = request.header(COOKIE, header.join("; "));
        }
        let res = request.send().await.expect("request");
        let set_cookies: Vec<String> = res
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect();
        for cookie in &set_cookies {
            let pair = cookie.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() || cookie.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_string(), value.to_string());
            }
        }
        Hop {
            status: res.status().as_u16(),
            location: res
                .headers()
                .get(LOCATION)
                .map(|v| v.to_str().unwrap().to_string())
                .unwrap_or_default(),
            set_cookies,
        }
    }

    /// `start` (with `return_to`), then the provider; the callback URL the
    /// provider sends the browser to.
    async fn go_to_callback(&mut self, app: &TestApp, return_to: &str) -> String {
        let start = self
            .get(&app.url(&format!(
                "/api/v1/auth/oidc/start?return_to={}",
                fake_idp::encode(return_to)
            )))
            .await;
        assert_eq!(start.status, 302, "start");
        let authorize = self.get(&start.location).await;
        assert_eq!(authorize.status, 302, "the provider approves");
        assert!(
            authorize.location.contains("/api/v1/auth/oidc/callback?"),
            "{}",
            authorize.location
        );
        authorize.location
    }

    /// The whole sign-in; the callback's answer.
    async fn sign_in(&mut self, app: &TestApp, return_to: &str) -> Hop {
        let callback = self.go_to_callback(app, return_to).await;
        self.get(&callback).await
    }
}

async fn idp() -> FakeIdp {
    FakeIdp::start(CLIENT_ID, Some(CLIENT_SECRET)).await
}

async fn app_for(idp: &FakeIdp, adjust: impl FnOnce(&mut daehwa::config::ServeArgs)) -> TestApp {
    let issuer = idp.issuer();
    spawn_with(move |args| {
        args.signin.oidc_issuer = Some(issuer);
        args.signin.oidc_client_id = Some(CLIENT_ID.into());
        args.signin.oidc_client_secret = Some(CLIENT_SECRET.into());
        adjust(args);
    })
    .await
}

fn assert_refused(hop: &Hop, base: &str, code: &str, why: &str) {
    assert_eq!(hop.status, 302, "{why}");
    assert_eq!(
        hop.location,
        format!("{base}/login?sso_error={code}"),
        "{why}"
    );
    assert!(
        !hop.set_cookies
            .iter()
            .any(|c| c.starts_with("daehwa_refresh=") && !c.starts_with("daehwa_refresh=;")),
        "{why}: no session"
    );
}

/// The refresh cookie of a successful callback.
fn refresh_cookie(hop: &Hop) -> String {
    let cookie = hop
        .set_cookies
        .iter()
        .find(|c| c.starts_with("daehwa_refresh="))
        .expect("the refresh cookie is set");
    cookie.split(';').next().unwrap().to_string()
}

async fn refresh(app: &TestApp, cookie: &str) -> (u16, Value) {
    let res = app
        .client
        .post(app.url("/api/v1/auth/refresh"))
        .header(COOKIE, cookie)
        .send()
        .await
        .unwrap();
    (
        res.status().as_u16(),
        res.json().await.unwrap_or(Value::Null),
    )
}

async fn me(app: &TestApp, access: &str) -> Value {
    let res = app
        .client
        .get(app.url("/api/v1/auth/me"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

#[tokio::test]
async fn a_provider_user_signs_in_refreshes_and_gets_role_and_groups() {
    let idp = idp().await;
    let app = app_for(&idp, |args| {
        args.signin.oidc_admin_groups = Some(vec!["Admins".into()]);
    })
    .await;
    // A local admin makes a daehwa group that follows the directory's "staff".
    let boss = app.signup("boss").await;
    let res = app
        .as_user(reqwest::Method::POST, "/api/v1/admin/groups", &boss.access)
        .json(&json!({"name": "Staff"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let group: Value = res.json().await.unwrap();
    let group_id = group["id"].as_str().unwrap().to_string();
    {
        let conn = rusqlite::Connection::open(&app.db_path).unwrap();
        daehwa::db::group::set_directory_names(&conn, &group_id, &["STAFF".to_string()]).unwrap();
    }
    idp.configure(|k| {
        k.redirect_uris = vec![app.url("/api/v1/auth/oidc/callback")];
        k.user.groups = vec!["staff".into(), "admins".into()];
    });

    let mut browser = Browser::new();
    let start = browser
        .get(&app.url("/api/v1/auth/oidc/start?return_to=/c/abc"))
        .await;
    assert_eq!(start.status, 302);
    assert!(start
        .location
        .starts_with(&format!("{}/authorize?", idp.issuer())));
    for part in [
        "code_challenge_method=S256",
        "state=",
        "nonce=",
        "client_id=daehwa-test",
    ] {
        assert!(
            start.location.contains(part),
            "{part} in {}",
            start.location
        );
    }
    let binding = &start.set_cookies[0];
    assert!(binding.starts_with("daehwa_oidc="), "{binding}");
    for attribute in [
        "HttpOnly",
        "SameSite=Lax",
        "Path=/api/v1/auth/oidc",
        "Max-Age=600",
    ] {
        assert!(binding.contains(attribute), "{attribute} in {binding}");
    }
    assert!(
        !binding.contains("Secure"),
        "a plain-HTTP request: {binding}"
    );
    let authorize = browser.get(&start.location).await;
    assert_eq!(authorize.status, 302);
    let done = browser.get(&authorize.location).await;
    assert_eq!(done.status, 302);
    assert_eq!(done.location, "/c/abc");
    assert!(
        done.set_cookies
            .iter()
            .any(|c| c.starts_with("daehwa_oidc=;") && c.contains("Max-Age=0")),
        "the binding cookie is cleared: {:?}",
        done.set_cookies
    );

    let cookie = refresh_cookie(&done);
    let (status, login) = refresh(&app, &cookie).await;
    assert_eq!(status, 200, "{login}");
    let access = login["access_token"].as_str().unwrap();
    let user = me(&app, access).await;
    assert_eq!(user["auth_method"], "oidc", "{user}");
    assert_eq!(user["email"], "kim@corp.example");
    assert_eq!(user["username"], "kim");
    assert_eq!(user["display_name"], "Kim Minji");
    assert_eq!(user["role"], "admin", "in an admin group: {user}");

    let res = app
        .as_user(
            reqwest::Method::GET,
            &format!("/api/v1/admin/groups/{group_id}"),
            &boss.access,
        )
        .send()
        .await
        .unwrap();
    let detail: Value = res.json().await.unwrap();
    let members: Vec<&str> = detail["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["username"].as_str().unwrap())
        .collect();
    assert_eq!(members, ["kim"], "{detail}");

    // Signing in again finds the same account, now out of the admin group.
    idp.configure(|k| k.user.groups = vec!["staff".into()]);
    let again = Browser::new().sign_in(&app, "/").await;
    assert_eq!(again.location, "/");
    let (_, login) = refresh(&app, &refresh_cookie(&again)).await;
    let user_again = me(&app, login["access_token"].as_str().unwrap()).await;
    assert_eq!(user_again["id"], user["id"]);
    assert_eq!(user_again["role"], "user");
    // Discovery was asked once for all of it (cached).
    assert_eq!(idp.discoveries(), 1);
}

/// A change to the provider that makes its next token bad.
type Knob = fn(&mut fake_idp::Knobs);

#[tokio::test]
async fn a_token_or_callback_that_does_not_check_out_signs_nobody_in() {
    let idp = idp().await;
    let app = app_for(&idp, |args| {
        args.signin.oidc_allowed_groups = Some(vec!["staff".into()]);
    })
    .await;

    let knobs: [(&str, Knob); 5] = [
        ("wrong issuer", |k| k.wrong_issuer = true),
        ("wrong audience", |k| k.wrong_audience = true),
        ("expired", |k| k.expired = true),
        ("another sign-in's nonce", |k| {
            k.fixed_nonce = Some("a-nonce-seen-before".into())
        }),
        ("a key the provider does not publish", |k| {
            k.sign_with_unpublished_key = true
        }),
    ];
    for (why, knob) in knobs {
        idp.configure(knob);
        let hop = Browser::new().sign_in(&app, "/").await;
        assert_refused(&hop, "", "token_invalid", why);
        idp.configure(|k| {
            k.wrong_issuer = false;
            k.wrong_audience = false;
            k.expired = false;
            k.fixed_nonce = None;
            k.sign_with_unpublished_key = false;
        });
    }

    // The same callback twice, with the cookie: the attempt worked once.
    let mut browser = Browser::new();
    let callback = browser.go_to_callback(&app, "/").await;
    let binding = browser.cookies["daehwa_oidc"].clone();
    let first = browser.get(&callback).await;
    assert_eq!(first.location, "/", "the first callback signs in");
    browser.cookies.insert("daehwa_oidc".into(), binding);
    let replayed = browser.get(&callback).await;
    assert_refused(&replayed, "", "state_mismatch", "a replayed state");

    // The state without the browser's cookie.
    let mut browser = Browser::new();
    let callback = browser.go_to_callback(&app, "/").await;
    browser.cookies.clear();
    let hop = browser.get(&callback).await;
    assert_refused(&hop, "", "state_mismatch", "no cookie");

    // The state of one attempt with the cookie of another.
    let mut victim = Browser::new();
    let victims_callback = victim.go_to_callback(&app, "/").await;
    let mut attacker = Browser::new();
    let _ = attacker.go_to_callback(&app, "/").await;
    let hop = attacker.get(&victims_callback).await;
    assert_refused(&hop, "", "state_mismatch", "another attempt's cookie");

    // An unknown state.
    let hop = Browser::new()
        .get(&app.url("/api/v1/auth/oidc/callback?code=x&state=made-up"))
        .await;
    assert_refused(&hop, "", "state_mismatch", "a made-up state");

    // The provider refuses.
    idp.configure(|k| k.deny = true);
    let hop = Browser::new().sign_in(&app, "/").await;
    assert_refused(
        &hop,
        "",
        "provider_error",
        "the provider said access_denied",
    );
    idp.configure(|k| k.deny = false);

    // Outside the allowed groups.
    idp.configure(|k| k.user.groups = vec!["guests".into()]);
    let hop = Browser::new().sign_in(&app, "/").await;
    assert_refused(&hop, "", "not_in_allowed_group", "not in an allowed group");
}

#[tokio::test]
async fn after_the_provider_rotates_its_keys_sign_in_still_works() {
    let idp = idp().await;
    let app = app_for(&idp, |_| {}).await;
    assert_eq!(Browser::new().sign_in(&app, "/").await.location, "/");
    assert_eq!(idp.discoveries(), 1);

    let kid = idp.rotate_keys();
    assert_ne!(kid, "key-1");
    let hop = Browser::new().sign_in(&app, "/").await;
    assert_eq!(hop.location, "/", "the new key is fetched and used");
    assert_eq!(idp.discoveries(), 2, "refetched once");
    refresh_cookie(&hop);

    // Known again: no more refetching.
    assert_eq!(Browser::new().sign_in(&app, "/").await.location, "/");
    assert_eq!(idp.discoveries(), 2);
}

#[tokio::test]
async fn a_public_client_signs_in_with_groups_from_userinfo() {
    let idp = FakeIdp::start(CLIENT_ID, None).await;
    let issuer = idp.issuer();
    let app = spawn_with(move |args| {
        args.signin.oidc_issuer = Some(issuer);
        args.signin.oidc_client_id = Some(CLIENT_ID.into());
        args.signin.oidc_allowed_groups = Some(vec!["staff".into()]);
    })
    .await;
    idp.configure(|k| {
        k.groups_only_in_userinfo = true;
        k.user.preferred_username = None;
    });
    let hop = Browser::new().sign_in(&app, "/").await;
    assert_eq!(hop.location, "/", "allowed by the groups of UserInfo");
    let (status, login) = refresh(&app, &refresh_cookie(&hop)).await;
    assert_eq!(status, 200);
    let user = me(&app, login["access_token"].as_str().unwrap()).await;
    assert_eq!(user["username"], "kim", "the e-mail's local part");
}

#[tokio::test]
async fn return_to_is_a_local_path_only() {
    let idp = idp().await;
    let app = app_for(&idp, |_| {}).await;
    for (asked, landed) in [
        ("//evil.example", "/"),
        ("https://evil.example/x", "/"),
        ("/\\evil.example", "/"),
        ("/c/123", "/c/123"),
    ] {
        let hop = Browser::new().sign_in(&app, asked).await;
        assert_eq!(hop.location, landed, "return_to={asked}");
    }
}

#[tokio::test]
async fn oidc_works_under_a_base_path() {
    let idp = idp().await;
    let app = app_for(&idp, |args| args.base_path = "/chat".into()).await;
    idp.configure(|k| k.redirect_uris = vec![app.url("/api/v1/auth/oidc/callback")]);
    let mut browser = Browser::new();
    let start = browser
        .get(&app.url("/api/v1/auth/oidc/start?return_to=/c/1"))
        .await;
    assert_eq!(start.status, 302);
    assert!(
        start.set_cookies[0].contains("Path=/chat/api/v1/auth/oidc"),
        "{:?}",
        start.set_cookies
    );
    let authorize = browser.get(&start.location).await;
    assert!(
        authorize
            .location
            .contains("/chat/api/v1/auth/oidc/callback?"),
        "{}",
        authorize.location
    );
    let done = browser.get(&authorize.location).await;
    assert_eq!(done.location, "/chat/c/1");
    assert!(refresh_cookie(&done).starts_with("daehwa_refresh="));
    assert!(done
        .set_cookies
        .iter()
        .any(|c| c.starts_with("daehwa_refresh=") && c.contains("Path=/chat/api/v1/auth")));
    let (status, _) = refresh(&app, &refresh_cookie(&done)).await;
    assert_eq!(status, 200);

    let hop = Browser::new()
        .get(&app.url("/api/v1/auth/oidc/callback?state=nope&code=x"))
        .await;
    assert_refused(&hop, "/chat", "state_mismatch", "under /chat");
}

#[tokio::test]
async fn oidc_off_answers_404_and_a_provider_down_502() {
    let app = spawn_with(|_| {}).await;
    for path in [
        "/api/v1/auth/oidc/start",
        "/api/v1/auth/oidc/callback?code=x&state=y",
    ] {
        let res = app.get(path).await;
        assert_eq!(res.status(), 404, "{path}");
        let body: Value = res.json().await.unwrap();
        assert!(body["code"].is_string(), "{body}");
    }

    // A provider that is not there.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let issuer = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let app = spawn_with(move |args| {
        args.signin.oidc_issuer = Some(issuer);
        args.signin.oidc_client_id = Some(CLIENT_ID.into());
    })
    .await;
    let res = Browser::new()
        .client
        .get(app.url("/api/v1/auth/oidc/start"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 502);
    assert!(res.headers().get(SET_COOKIE).is_none());
}
