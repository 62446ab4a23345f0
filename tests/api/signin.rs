//! Directory sign-in (issue 22), the parts every method shares: which
//! methods the login page offers, the admin's settings (flag > environment >
//! database > default, locked fields, secrets never shown), sign-in by a
//! trusted reverse proxy's header with its groups, the check at every
//! refresh, and the authorization and isolation matrices run with
//! directory accounts. LDAP (`ldap::`) and OpenID Connect (`oidc::`) have
//! their own modules with their own real servers.

use daehwa::config::ServeArgs;
use reqwest::Method;
use serde_json::{json, Value};

use crate::auth::sign_in_and_admin_matrix;
use crate::conversations::another_users_conversation_answers_404;
use crate::helpers::{audit_actions, spawn_app, spawn_in, spawn_with, Session, TestApp, World};

/// Proxy sign-in as IIS or nginx would be set up: the proxy on this
/// machine, the user in `X-Remote-User`, their groups in `X-Remote-Groups`,
/// members of `AI-Admins` admins.
fn proxied(args: &mut ServeArgs) {
    args.trusted_proxies = vec!["127.0.0.1".into()];
    args.signin.auth_proxy_header = Some("X-Remote-User".into());
    args.signin.auth_proxy_groups_header = Some("X-Remote-Groups".into());
    args.signin.auth_proxy_admin_groups = Some(vec!["AI-Admins".into()]);
}

async fn proxy_sign_in(app: &TestApp, name: Option<&str>, groups: &str) -> reqwest::Response {
    let mut req = app.request(Method::POST, "/api/v1/auth/proxy");
    if let Some(name) = name {
        req = req.header("X-Remote-User", name);
    }
    if !groups.is_empty() {
        req = req.header("X-Remote-Groups", groups);
    }
    req.send().await.unwrap()
}

async fn proxy_session(app: &TestApp, name: &str, groups: &str) -> Session {
    let res = proxy_sign_in(app, Some(name), groups).await;
    assert_eq!(res.status(), 200, "proxy sign-in of {name}");
    let body: Value = res.json().await.unwrap();
    Session {
        id: body["user"]["id"].as_str().unwrap().to_string(),
        access: body["access_token"].as_str().unwrap().to_string(),
        refresh: body["refresh_token"].as_str().unwrap().to_string(),
    }
}

async fn json_of(res: reqwest::Response) -> (u16, Value) {
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn call(
    app: &TestApp,
    who: &Session,
    method: Method,
    path: &str,
    body: Value,
) -> (u16, Value) {
    let mut req = app.as_user(method, path, &who.access);
    if !body.is_null() {
        req = req.json(&body);
    }
    json_of(req.send().await.unwrap()).await
}

async fn me(app: &TestApp, who: &Session) -> Value {
    call(app, who, Method::GET, "/api/v1/auth/me", Value::Null)
        .await
        .1
}

async fn refresh(app: &TestApp, token: &str, name: Option<&str>, groups: &str) -> (u16, Value) {
    let mut req = app
        .request(Method::POST, "/api/v1/auth/refresh")
        .json(&json!({"refresh_token": token}));
    if let Some(name) = name {
        req = req.header("X-Remote-User", name);
    }
    if !groups.is_empty() {
        req = req.header("X-Remote-Groups", groups);
    }
    json_of(req.send().await.unwrap()).await
}

#[tokio::test]
async fn every_method_is_off_until_configured_and_the_login_page_is_told_which_are_on() {
    let app = spawn_app().await;
    let (status, methods) = json_of(app.get("/api/v1/auth/methods").await).await;
    assert_eq!(status, 200);
    assert_eq!(
        methods,
        json!({"local": true, "ldap": false, "oidc": null, "proxy": false})
    );
    let res = proxy_sign_in(&app, Some("CORP\\kim"), "").await;
    assert_eq!(res.status(), 404, "proxy sign-in is off");
}

#[tokio::test]
async fn an_admin_sets_the_methods_up_with_flags_winning_and_secrets_never_shown() {
    let app = spawn_with(|args| {
        args.signin.ldap_url = Some("ldaps://dc1.corp.example".into());
        args.signin.ldap_user_base = Some("OU=Staff,DC=corp,DC=example".into());
        args.signin.ldap_bind_password = Some("hunter2-secret".into());
    })
    .await;
    let admin = app.signup("admin").await;
    let user = app.signup("plain").await;
    let path = "/api/v1/admin/sign-in";

    let (status, view) = call(&app, &admin, Method::GET, path, Value::Null).await;
    assert_eq!(status, 200);
    assert_eq!(view["ldap"]["enabled"], true, "--ldap-url turns LDAP on");
    assert_eq!(view["ldap"]["url"], "ldaps://dc1.corp.example");
    assert_eq!(view["ldap"]["bind_password_set"], true);
    assert_eq!(
        view["ldap"]["locked"],
        json!(["bind_password", "enabled", "url", "user_base"])
    );
    assert_eq!(view["ldap"]["user_filter"], "(sAMAccountName={username})");
    assert!(!view.to_string().contains("hunter2-secret"));
    assert!(view["ldap"].get("bind_password").is_none());

    // A locked field is refused and the message names its flag.
    let (status, err) = call(
        &app,
        &admin,
        Method::PUT,
        path,
        json!({"ldap": {"url": "ldap://other.example"}}),
    )
    .await;
    assert_eq!(status, 422);
    assert!(
        err["fields"]["ldap.url"]
            .as_str()
            .unwrap()
            .contains("--ldap-url"),
        "{err}"
    );
    // Wrong types, unknown fields, unknown methods, bad values: refused,
    // nothing stored.
    for (body, status, field) in [
        (json!({"ldap": {"starttls": "yes"}}), 422, "ldap.starttls"),
        (
            json!({"ldap": {"admin_groups": "cn=a"}}),
            422,
            "ldap.admin_groups",
        ),
        (json!({"ldap": {"colour": "blue"}}), 422, "ldap"),
        (
            json!({"ldap": {"user_filter": "(uid=kim)"}}),
            422,
            "ldap.user_filter",
        ),
        (json!({"oidc": {"enabled": true}}), 422, "oidc.issuer"),
        (
            json!({"oidc": {"issuer": "http://idp.corp.example"}}),
            422,
            "oidc.issuer",
        ),
        (json!({"proxy": {"enabled": true}}), 422, "proxy.enabled"),
        (
            json!({"proxy": {"header": "Authorization"}}),
            422,
            "proxy.header",
        ),
        (json!({"kerberos": {}}), 400, ""),
        (json!(["ldap"]), 400, ""),
    ] {
        let (got, err) = call(&app, &admin, Method::PUT, path, body.clone()).await;
        assert_eq!(got, status, "{body}: {err}");
        if !field.is_empty() {
            assert!(err["fields"].get(field).is_some(), "{body}: {err}");
        }
    }

    let (status, view) = call(
        &app,
        &admin,
        Method::PUT,
        path,
        json!({
            "ldap": {"group_base": " OU=Groups,DC=corp,DC=example ",
                     "admin_groups": ["CN=AI-Admins,OU=Groups,DC=corp,DC=example", "cn=ai-admins,ou=groups,dc=corp,dc=example", ""]},
            "oidc": {"enabled": true, "issuer": "https://login.microsoftonline.com/tenant/v2.0",
                     "client_id": "daehwa", "client_secret": "oidc-secret-value",
                     "button_label": "Entra ID"},
        }),
    )
    .await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["ldap"]["group_base"], "OU=Groups,DC=corp,DC=example");
    assert_eq!(
        view["ldap"]["admin_groups"],
        json!(["CN=AI-Admins,OU=Groups,DC=corp,DC=example"])
    );
    assert_eq!(view["oidc"]["client_secret_set"], true);
    assert!(!view.to_string().contains("oidc-secret-value"));
    assert!(view["oidc"]["redirect_url_hint"]
        .as_str()
        .unwrap()
        .ends_with("/api/v1/auth/oidc/callback"));
    let (_, methods) = json_of(app.get("/api/v1/auth/methods").await).await;
    assert_eq!(
        methods,
        json!({"local": true, "ldap": true, "oidc": {"label": "Entra ID"}, "proxy": false})
    );

    // Audited with the names of the changed fields, never a value.
    let actions = audit_actions(&app, &admin).await;
    assert!(
        actions.iter().any(|(a, _)| a == "signin.update"),
        "{actions:?}"
    );
    let (_, audit) = call(
        &app,
        &admin,
        Method::GET,
        "/api/v1/admin/audit",
        Value::Null,
    )
    .await;
    assert!(!audit.to_string().contains("oidc-secret-value"));

    // A plain user may not read or change any of it.
    for method in [Method::GET, Method::PUT] {
        let (status, err) = call(&app, &user, method, path, json!({})).await;
        assert_eq!(status, 403);
        assert_eq!(err["code"], "admin_only");
    }

    // Restarted without the flags: what the admin stored is what counts;
    // the URL and base (never stored, the flags') are gone with the flags.
    let (dir, db) = app.stop().await;
    let app = spawn_in(dir, db, |_| {}).await;
    let admin = app.sign_in("admin").await;
    let (_, view) = call(&app, &admin, Method::GET, path, Value::Null).await;
    assert_eq!(view["ldap"]["locked"], json!([]));
    assert_eq!(view["ldap"]["enabled"], false);
    assert_eq!(view["ldap"]["url"], "");
    assert_eq!(view["ldap"]["user_base"], "");
    assert_eq!(view["ldap"]["group_base"], "OU=Groups,DC=corp,DC=example");
    assert_eq!(view["oidc"]["button_label"], "Entra ID");
}

#[tokio::test]
async fn a_method_turned_on_by_a_flag_that_cannot_work_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut args = ServeArgs::for_tests(dir.path().join("daehwa.db"));
    // A proxy header with no trusted proxy could be sent by anyone.
    args.signin.auth_proxy_header = Some("X-Remote-User".into());
    let err = daehwa::app::App::build(&args).await.err().expect("refused");
    let message = err.to_string();
    assert!(message.contains("proxy sign-in"), "{message}");
    assert!(message.contains("--trusted-proxies"), "{message}");
}

#[tokio::test]
async fn a_trusted_proxy_signs_users_in_by_header_with_their_groups() {
    let app = spawn_with(proxied).await;
    let admin = app.signup("admin").await;
    let (_, methods) = json_of(app.get("/api/v1/auth/methods").await).await;
    assert_eq!(methods["proxy"], true);
    let (status, group) = call(
        &app,
        &admin,
        Method::POST,
        "/api/v1/admin/groups",
        json!({"name": "Research", "directory_groups": [" research ", "RESEARCH", "cn=lab"]}),
    )
    .await;
    assert_eq!(status, 201, "{group}");
    assert_eq!(group["directory_groups"], json!(["cn=lab", "research"]));
    let group_path = format!("/api/v1/admin/groups/{}", group["id"].as_str().unwrap());

    // IIS Windows authentication names DOMAIN\user.
    let kim = proxy_session(&app, "CORP\\Kim", "Research, AI-Admins").await;
    let me_now = me(&app, &kim).await;
    assert_eq!(me_now["auth_method"], "proxy");
    assert_eq!(me_now["username"], "Kim");
    assert_eq!(me_now["role"], "admin");
    let (_, detail) = call(&app, &admin, Method::GET, &group_path, Value::Null).await;
    assert_eq!(detail["members"][0]["id"], kim.id);
    assert_eq!(detail["members"][0]["source"], "directory");

    // The same person again (any case), out of both groups: the same
    // account, a user now, out of Research.
    let again = proxy_session(&app, "corp\\KIM", "").await;
    assert_eq!(again.id, kim.id);
    assert_eq!(me(&app, &again).await["role"], "user");
    let (_, detail) = call(&app, &admin, Method::GET, &group_path, Value::Null).await;
    assert_eq!(detail["members"], json!([]));

    // The admin's list shows how each account signs in.
    let (_, users) = call(&app, &admin, Method::GET, "/api/v1/users", Value::Null).await;
    let methods: Vec<(&str, &str)> = users["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["username"].as_str().unwrap(),
                u["auth_method"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(methods, vec![("admin", "local"), ("Kim", "proxy")]);

    // No header, a blank one: 401; the account has no password here.
    let (status, err) = json_of(proxy_sign_in(&app, None, "").await).await;
    assert_eq!(
        (status, err["code"].as_str()),
        (401, Some("proxy_header_missing"))
    );
    let (status, _) = json_of(proxy_sign_in(&app, Some("  "), "").await).await;
    assert_eq!(status, 401);
    assert_eq!(app.login("Kim", "anything-1").await.status(), 401);
    let (status, err) = call(
        &app,
        &kim,
        Method::PUT,
        "/api/v1/user/password",
        json!({"current_password": "x", "new_password": "new-password-1"}),
    )
    .await;
    assert_eq!((status, err["code"].as_str()), (403, Some("no_password")));
}

#[tokio::test]
async fn the_proxy_header_from_anywhere_but_a_trusted_proxy_is_refused() {
    let app = spawn_with(|args| {
        proxied(args);
        // The proxy is elsewhere: this test's requests come straight in.
        args.trusted_proxies = vec!["10.20.30.40".into()];
    })
    .await;
    let admin = app.signup("admin").await;
    for forwarded in [None, Some("10.20.30.40")] {
        let mut req = app
            .request(Method::POST, "/api/v1/auth/proxy")
            .header("X-Remote-User", "CORP\\admin");
        if let Some(ip) = forwarded {
            req = req.header("X-Forwarded-For", ip);
        }
        let (status, err) = json_of(req.send().await.unwrap()).await;
        assert_eq!(status, 403, "{err}");
        assert_eq!(err["code"], "untrusted_proxy");
    }
    let (_, users) = call(&app, &admin, Method::GET, "/api/v1/users", Value::Null).await;
    assert_eq!(
        users["users"].as_array().unwrap().len(),
        1,
        "no account made"
    );
    // Nor does the header mean anything on any other route.
    let res = app
        .request(Method::GET, "/api/v1/auth/me")
        .header("X-Remote-User", "CORP\\admin")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn a_proxy_session_ends_at_refresh_once_the_proxy_stops_vouching_for_it() {
    let app = spawn_with(|args| {
        proxied(args);
        args.signin.auth_proxy_allowed_groups = Some(vec!["Staff".into()]);
    })
    .await;
    app.signup("admin").await;
    let (status, err) = json_of(proxy_sign_in(&app, Some("CORP\\lee"), "Visitors").await).await;
    assert_eq!(
        (status, err["code"].as_str()),
        (403, Some("not_in_allowed_group"))
    );

    let kim = proxy_session(&app, "CORP\\kim", "Staff").await;
    // Through the proxy, as a browser behind IIS refreshes: fine.
    let (status, body) = refresh(&app, &kim.refresh, Some("CORP\\kim"), "Staff").await;
    assert_eq!(status, 200, "{body}");
    let token = body["refresh_token"].as_str().unwrap().to_string();
    // The proxy no longer names the user: the session ends.
    let (status, err) = refresh(&app, &token, None, "").await;
    assert_eq!(
        (status, err["code"].as_str()),
        (401, Some("directory_refused"))
    );
    let (status, _) = refresh(&app, &token, Some("CORP\\kim"), "Staff").await;
    assert_eq!(status, 401, "that session is over");

    // Someone else's name on the same session: it ends.
    let kim = proxy_session(&app, "CORP\\kim", "Staff").await;
    let (status, _) = refresh(&app, &kim.refresh, Some("CORP\\lee"), "Staff").await;
    assert_eq!(status, 401);

    // Out of the allowed group: refused, and every session of the account ends.
    let first = proxy_session(&app, "CORP\\kim", "Staff").await;
    let second = proxy_session(&app, "CORP\\kim", "Staff").await;
    let (status, err) = refresh(&app, &first.refresh, Some("CORP\\kim"), "Visitors").await;
    assert_eq!(
        (status, err["code"].as_str()),
        (403, Some("not_in_allowed_group"))
    );
    let (status, _) = refresh(&app, &second.refresh, Some("CORP\\kim"), "Staff").await;
    assert_eq!(status, 401, "the other session ended too");
}

#[tokio::test]
async fn the_authorization_matrix_holds_for_directory_accounts() {
    let app = spawn_with(proxied).await;
    app.signup("admin").await;
    let kim = proxy_session(&app, "CORP\\kim", "AI-Admins").await;
    let lee = proxy_session(&app, "CORP\\lee", "Staff").await;
    assert_eq!(me(&app, &kim).await["role"], "admin");
    sign_in_and_admin_matrix(&app, &kim, &lee).await;
}

#[tokio::test]
async fn another_directory_users_conversation_is_404_on_every_route() {
    let w = World::builder().serve(proxied).await;
    let kim = proxy_session(&w.app, "CORP\\kim", "").await;
    let lee = proxy_session(&w.app, "CORP\\lee", "").await;
    let conv = w.app.new_conversation(&kim).await;
    w.app.ask(&kim, &conv, "mine").await;
    another_users_conversation_answers_404(&w.app, &kim, &conv, &lee).await;
}
