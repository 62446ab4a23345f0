//! `--base-path /chat` behind Debian's nginx, configured as the README says,
//! started by the test on loopback: the web app, the API and an SSE answer
//! that arrives token by token (not buffered until the end). Skipped, with a
//! printed reason, where nginx is not installed.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fake_llm::{Behavior, FakeLlm};
use reqwest::Method;
use serde_json::json;

use crate::helpers::{eventually, parse_sse, spawn_with};

const NGINX: &str = "/usr/sbin/nginx";

/// The README's nginx location block, with the ports filled in.
fn config(dir: &Path, listen: u16, upstream: u16) -> String {
    let d = dir.display();
    format!(
        r#"daemon off;
# One process, so stopping the test's child stops nginx entirely (a killed
# master would leave its workers behind).
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    server {{
        listen 127.0.0.1:{listen};
        location /chat/ {{
            proxy_pass http://127.0.0.1:{upstream};
            proxy_http_version 1.1;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_buffering off;
            proxy_cache off;
            proxy_read_timeout 1h;
            client_max_body_size 10m;
        }}
    }}
}}
"#
    )
}

struct Nginx(Child);

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn the_base_path_works_behind_nginx_and_answers_stream_through_it() {
    if !Path::new(NGINX).exists() {
        println!("skipped: {NGINX} is not installed (apt-get install nginx-light)");
        return;
    }
    let app = spawn_with(|a| a.base_path = "/chat".into()).await;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let conf = dir.path().join("nginx.conf");
    std::fs::write(&conf, config(dir.path(), port, app.addr.port())).unwrap();
    let _nginx = Nginx(
        Command::new(NGINX)
            .arg("-c")
            .arg(&conf)
            .arg("-p")
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    );
    let base = format!("http://127.0.0.1:{port}/chat");
    let client = reqwest::Client::new();
    // Wait until nginx answers.
    eventually("nginx answering", async || {
        let res = client.get(format!("{base}/api/v1/health")).send().await;
        matches!(res, Ok(res) if res.status() == 200).then_some(())
    })
    .await;
    // The web app with its base, a deep link, the security headers passed on.
    let page = client
        .get(format!("{base}/c/some-id"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers().get("content-security-policy").is_some());
    assert!(page
        .text()
        .await
        .unwrap()
        .contains(r#"<base href="/chat/">"#));

    // Sign up and ask through nginx.
    let fake = FakeLlm::start(Behavior::default()).await;
    let admin = app.signup("admin").await;
    app.add_connection(&admin, "openai", &format!("{}/v1", fake.url()), None)
        .await;
    let conv = app.new_conversation(&admin).await;
    let mut res = client
        .request(
            Method::POST,
            format!("{base}/api/v1/conversations/{conv}/messages"),
        )
        .bearer_auth(&admin.access)
        .json(&json!({"content": "through nginx [[tokens:8]] [[delay:250]]", "stream": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let sent = Instant::now();
    let mut first_delta = None;
    let mut body = String::new();
    while let Some(chunk) = res.chunk().await.unwrap() {
        body.push_str(&String::from_utf8_lossy(&chunk));
        if first_delta.is_none() && parse_sse(&body).iter().any(|e| e.event == "delta") {
            first_delta = Some(sent.elapsed());
        }
    }
    let total = sent.elapsed();
    let events = parse_sse(&body);
    assert_eq!(events.iter().filter(|e| e.event == "delta").count(), 8);
    assert!(events.iter().any(|e| e.event == "done"), "{body}");
    let first = first_delta.expect("a delta");
    // 8 tokens 250 ms apart take about 2 s; unbuffered, the first one shows
    // long before the end.
    assert!(
        total >= Duration::from_millis(1500) && first + Duration::from_millis(1200) < total,
        "first delta after {first:?}, end after {total:?}: nginx buffered the stream"
    );
}

/// The README's `auth_request` block: nginx asks an SSO check (here a tiny
/// server that knows the user by a test header standing in for the
/// gateway's session cookie) and passes who it said in `X-Remote-User`.
fn auth_request_config(dir: &Path, listen: u16, upstream: u16, sso: u16) -> String {
    let d = dir.display();
    format!(
        r#"daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    server {{
        listen 127.0.0.1:{listen};
        location = /_sso {{
            internal;
            proxy_pass http://127.0.0.1:{sso}/check;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
        }}
        location /chat/ {{
            auth_request /_sso;
            auth_request_set $sso_user $upstream_http_x_sso_user;
            auth_request_set $sso_groups $upstream_http_x_sso_groups;
            proxy_set_header X-Remote-User $sso_user;
            proxy_set_header X-Remote-Groups $sso_groups;
            proxy_pass http://127.0.0.1:{upstream};
            proxy_http_version 1.1;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_buffering off;
            proxy_cache off;
            proxy_read_timeout 1h;
            client_max_body_size 10m;
        }}
    }}
}}
"#
    )
}

#[tokio::test]
async fn nginx_auth_request_signs_users_in_by_the_header_it_sets() {
    use warp::Filter;
    if !Path::new(NGINX).exists() {
        println!("skipped: {NGINX} is not installed (apt-get install nginx-light)");
        return;
    }
    // The SSO check: 200 naming the user for a known session, else 401.
    let check = warp::path("check")
        .and(warp::header::optional::<String>("x-test-sso"))
        .map(|who: Option<String>| {
            let mut res = warp::reply::Response::new(Vec::new().into());
            match who {
                Some(who) => {
                    let headers = res.headers_mut();
                    headers.insert("x-sso-user", format!("CORP\\{who}").parse().unwrap());
                    headers.insert("x-sso-groups", "Staff,AI-Admins".parse().unwrap());
                }
                None => *res.status_mut() = warp::http::StatusCode::UNAUTHORIZED,
            }
            res
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sso_port = listener.local_addr().unwrap().port();
    tokio::spawn(warp::serve(check).incoming(listener).run());

    let app = spawn_with(|a| {
        a.base_path = "/chat".into();
        a.trusted_proxies = vec!["127.0.0.1".into()];
        a.signin.auth_proxy_header = Some("X-Remote-User".into());
        a.signin.auth_proxy_groups_header = Some("X-Remote-Groups".into());
        a.signin.auth_proxy_admin_groups = Some(vec!["AI-Admins".into()]);
    })
    .await;
    app.signup("admin").await;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let conf = dir.path().join("nginx.conf");
    std::fs::write(
        &conf,
        auth_request_config(dir.path(), port, app.addr.port(), sso_port),
    )
    .unwrap();
    let _nginx = Nginx(
        Command::new(NGINX)
            .arg("-c")
            .arg(&conf)
            .arg("-p")
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    );
    let base = format!("http://127.0.0.1:{port}/chat");
    let client = reqwest::Client::new();
    eventually("nginx answering", async || {
        let res = client
            .get(format!("{base}/api/v1/health"))
            .header("x-test-sso", "kim")
            .send()
            .await;
        matches!(res, Ok(res) if res.status() == 200).then_some(())
    })
    .await;
    // Without the SSO session nginx itself refuses.
    let res = client
        .post(format!("{base}/api/v1/auth/proxy"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    // With it, daehwa signs in whom the gateway named, whatever the client
    // claimed in the same header (nginx replaces it).
    let res = client
        .post(format!("{base}/api/v1/auth/proxy"))
        .header("x-test-sso", "kim")
        .header("X-Remote-User", "CORP\\admin")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["user"]["username"], "kim");
    assert_eq!(body["user"]["auth_method"], "proxy");
    assert_eq!(body["user"]["role"], "admin");
    // The refresh goes through the gateway too, which vouches again.
    let res = client
        .post(format!("{base}/api/v1/auth/refresh"))
        .header("x-test-sso", "kim")
        .json(&json!({"refresh_token": body["refresh_token"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}
