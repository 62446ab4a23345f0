//! HTTPS with --tls-cert/--tls-key, using a certificate made at test time.

use std::path::PathBuf;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{parse_sse, spawn_with, PASSWORD};

/// A self-signed certificate for 127.0.0.1 and localhost, written as PEM.
fn certificate(dir: &std::path::Path) -> (PathBuf, PathBuf, String) {
    let made =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .unwrap();
    let cert_pem = made.cert.pem();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, &cert_pem).unwrap();
    std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
    (cert, key, cert_pem)
}

#[tokio::test]
async fn the_server_speaks_https_with_the_given_certificate() {
    let certs = tempfile::tempdir().unwrap();
    let (cert, key, cert_pem) = certificate(certs.path());
    let app = spawn_with(move |a| {
        a.tls_cert = Some(cert);
        a.tls_key = Some(key);
        a.base_path = "/chat".into();
    })
    .await;
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert_pem.as_bytes()).unwrap())
        .https_only(true)
        .build()
        .unwrap();
    let base = format!("https://{}/chat", app.addr);

    let res = client
        .get(format!("{base}/api/v1/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["strict-transport-security"],
        "max-age=31536000"
    );
    assert!(res.headers().get("content-security-policy").is_some());
    // The web app, a register and a login (the login's rate limit sees the peer).
    let page = client.get(format!("{base}/")).send().await.unwrap();
    assert!(page
        .text()
        .await
        .unwrap()
        .contains(r#"<base href="/chat/">"#));
    let res = client
        .post(format!("{base}/api/v1/auth/register"))
        .json(&serde_json::json!({"username": "tls_user", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let res = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&serde_json::json!({"username": "tls_user", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    // An untrusting client refuses the certificate; plain HTTP gets no HTTP answer.
    let strict = reqwest::Client::builder().build().unwrap();
    assert!(strict
        .get(format!("{base}/api/v1/health"))
        .send()
        .await
        .is_err());
    let mut tcp = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    tcp.write_all(b"GET /chat/api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        tcp.read_to_end(&mut answer),
    )
    .await;
    assert!(!String::from_utf8_lossy(&answer).contains("200 OK"));
    // Graceful stop works on the TLS path too.
    app.stop().await;
}

#[tokio::test]
async fn answers_stream_over_https() {
    let certs = tempfile::tempdir().unwrap();
    let (cert, key, cert_pem) = certificate(certs.path());
    let app = spawn_with(move |a| {
        a.tls_cert = Some(cert);
        a.tls_key = Some(key);
    })
    .await;
    let fake = fake_llm::FakeLlm::start(fake_llm::Behavior {
        tokens: 5,
        ..fake_llm::Behavior::default()
    })
    .await;
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert_pem.as_bytes()).unwrap())
        .build()
        .unwrap();
    let base = format!("https://{}", app.addr);
    let post = |path: &str, body: serde_json::Value, token: Option<&str>| {
        let mut req = client.post(format!("{base}{path}")).json(&body);
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        req.send()
    };
    post(
        "/api/v1/auth/register",
        serde_json::json!({"username": "admin", "password": PASSWORD}),
        None,
    )
    .await
    .unwrap();
    let login: serde_json::Value = post(
        "/api/v1/auth/login",
        serde_json::json!({"username": "admin", "password": PASSWORD}),
        None,
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let token = login["access_token"].as_str().unwrap().to_string();
    let res = post(
        "/api/v1/admin/connections",
        serde_json::json!({"name": "fake", "kind": "openai", "base_url": format!("{}/v1", fake.url())}),
        Some(&token),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 201);
    let conv: serde_json::Value =
        post("/api/v1/conversations", serde_json::json!({}), Some(&token))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    let id = conv["id"].as_str().unwrap();
    let res = post(
        &format!("/api/v1/conversations/{id}/messages"),
        serde_json::json!({"content": "hello", "stream": true}),
        Some(&token),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 200);
    let events = parse_sse(&res.text().await.unwrap());
    assert_eq!(events.iter().filter(|e| e.event == "delta").count(), 5);
    assert!(events.iter().any(|e| e.event == "done"));
}

#[tokio::test]
async fn a_key_that_does_not_match_the_certificate_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, _, _) = certificate(dir.path());
    let other = tempfile::tempdir().unwrap();
    let (_, key, _) = certificate(other.path());
    let mut args = daehwa::config::ServeArgs::for_tests(dir.path().join("d.db"));
    args.tls_cert = Some(cert);
    args.tls_key = Some(key.clone());
    let err = daehwa::app::App::build(&args).await.err().expect("refused");
    assert!(err.to_string().contains("do not go together"), "{err}");
    args.tls_cert = Some(dir.path().join("missing.pem"));
    let err = daehwa::app::App::build(&args).await.err().expect("refused");
    assert!(err.to_string().contains("missing.pem"), "{err}");
}
