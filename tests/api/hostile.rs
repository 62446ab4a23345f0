//! Slow, idle and hostile clients over raw TCP: hundreds of connections that
//! send nothing, headers sent a byte at a time, idle keep-alive connections,
//! a flood past the connection cap, too many or too large headers, a body
//! without a length. Each costs at most a clear error, and everyone else is
//! still served. (Oversize, deeply nested and invalid-UTF-8 bodies are in
//! security.rs and validation.rs.)

use std::time::Duration;

use fake_llm::{Behavior, FakeLlm};
use reqwest::Method;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{delta_text, eventually, parse_sse, spawn_with};

/// Bound on every wait below: a server that never closes fails the test
/// instead of hanging it (not a timing assertion: the timeouts under test are
/// one second).
const PATIENCE: Duration = Duration::from_secs(30);

/// Hundreds of sockets on both ends live in this one process.
fn enough_open_files() {
    #[cfg(unix)]
    let _ = rlimit::increase_nofile_limit(u64::MAX);
}

/// Reads until the server closes the connection; `false` if it is still open
/// after [`PATIENCE`]. Returns what was read in `seen`.
async fn closed_by_server(stream: &mut TcpStream, seen: &mut Vec<u8>) -> bool {
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(PATIENCE, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(n)) => seen.extend_from_slice(&buf[..n]),
            Err(_) => return false,
        }
    }
}

/// Sends `request` on a new connection and reads the answer to the end.
async fn raw(addr: std::net::SocketAddr, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    // The server may answer and close before all of a refused request is sent.
    let _ = stream.write_all(request).await;
    let mut seen = Vec::new();
    assert!(closed_by_server(&mut stream, &mut seen).await);
    String::from_utf8_lossy(&seen).into_owned()
}

fn status_of(response: &str) -> u16 {
    response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {response:?}"))
}

#[tokio::test]
async fn silent_and_slow_clients_are_closed_and_starve_no_one() {
    enough_open_files();
    let app = spawn_with(|a| a.header_timeout = 1).await;

    let mut silent = Vec::new();
    for _ in 0..300 {
        silent.push(TcpStream::connect(app.addr).await.unwrap());
    }
    // Headers a line every 200 ms, never finished: each writer says whether
    // the server closed its connection.
    let mut slow = Vec::new();
    for i in 0..20 {
        let mut stream = TcpStream::connect(app.addr).await.unwrap();
        slow.push(tokio::spawn(async move {
            let started = tokio::time::Instant::now();
            let head = b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n";
            if stream.write_all(head).await.is_err() {
                return true;
            }
            while started.elapsed() < PATIENCE {
                let line = format!("x-slow-{i}: {}\r\n", started.elapsed().as_millis());
                if stream.write_all(line.as_bytes()).await.is_err() {
                    return true;
                }
                let mut buf = [0u8; 1024];
                match tokio::time::timeout(Duration::from_millis(200), stream.read(&mut buf)).await
                {
                    Ok(Ok(0)) | Ok(Err(_)) => return true,
                    _ => {}
                }
            }
            false
        }));
    }

    // Meanwhile everyone else is served.
    for _ in 0..20 {
        let res = reqwest::Client::new()
            .get(app.url("/api/v1/health"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }

    for stream in &mut silent {
        let mut seen = Vec::new();
        assert!(
            closed_by_server(stream, &mut seen).await,
            "a silent connection is still open"
        );
    }
    for writer in slow {
        assert!(
            writer.await.unwrap(),
            "a slow-header connection is still open"
        );
    }
    assert_eq!(app.get("/api/v1/health").await.status(), 200);
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_its_answer() {
    let app = spawn_with(|a| a.header_timeout = 1).await;
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    stream
        .write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut seen = Vec::new();
    assert!(closed_by_server(&mut stream, &mut seen).await);
    let text = String::from_utf8_lossy(&seen);
    assert_eq!(status_of(&text), 200, "{text}");
    assert!(text.contains("\"status\""), "{text}");
}

#[tokio::test]
async fn a_streamed_answer_longer_than_the_header_timeout_is_not_cut() {
    let app = spawn_with(|a| a.header_timeout = 1).await;
    let fake = FakeLlm::start(Behavior {
        tokens: 12,
        token_delay: Duration::from_millis(250),
        ..Behavior::default()
    })
    .await;
    let admin = app.signup("admin").await;
    app.add_connection(&admin, "openai", &format!("{}/v1", fake.url()), None)
        .await;
    let conversation = app.new_conversation(&admin).await;
    let res = app
        .as_user(
            Method::POST,
            &format!("/api/v1/conversations/{conversation}/messages"),
            &admin.access,
        )
        .json(&json!({"content": "천천히 답해 주세요", "stream": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let events = parse_sse(&res.text().await.unwrap());
    assert_eq!(events.last().unwrap().event, "done", "{events:?}");
    let text = delta_text(&events);
    assert_eq!(text.split_whitespace().count(), 12, "{text}");
}

#[tokio::test]
async fn past_the_connection_cap_a_new_client_gets_503_with_retry_after() {
    let app = spawn_with(|a| {
        a.max_connections = 5;
        a.header_timeout = 60;
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..5 {
        held.push(TcpStream::connect(app.addr).await.unwrap());
    }
    let res = reqwest::Client::new()
        .get(app.url("/api/v1/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    assert_eq!(res.headers()["retry-after"], "5");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "overloaded");
    assert!(body["error"].as_str().unwrap().contains("connections"));

    // When the held connections go, new clients are served again.
    drop(held);
    eventually("service after the held connections closed", async || {
        let res = reqwest::Client::new()
            .get(app.url("/api/v1/health"))
            .send()
            .await
            .unwrap();
        (res.status() == 200).then_some(())
    })
    .await;
}

#[tokio::test]
async fn too_many_or_too_large_headers_get_431_and_the_server_goes_on() {
    let app = spawn_with(|_| {}).await;
    let mut many = String::from("GET /api/v1/health HTTP/1.1\r\nHost: x\r\n");
    for i in 0..150 {
        many.push_str(&format!("x-h{i}: v\r\n"));
    }
    many.push_str("\r\n");
    let answer = raw(app.addr, many.as_bytes()).await;
    assert_eq!(status_of(&answer), 431, "{answer}");

    let large = format!(
        "GET /api/v1/health HTTP/1.1\r\nHost: x\r\nx-big: {}\r\n\r\n",
        "a".repeat(100 * 1024)
    );
    let answer = raw(app.addr, large.as_bytes()).await;
    assert_eq!(status_of(&answer), 431, "{answer}");

    // Within the limits: 90 headers of 500 bytes each are fine.
    let mut fine = String::from("GET /api/v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n");
    for i in 0..90 {
        fine.push_str(&format!("x-h{i}: {}\r\n", "v".repeat(500)));
    }
    fine.push_str("\r\n");
    let answer = raw(app.addr, fine.as_bytes()).await;
    assert_eq!(status_of(&answer), 200, "{answer}");
}

#[tokio::test]
async fn a_json_body_without_a_length_is_refused_before_it_is_read() {
    let app = spawn_with(|_| {}).await;
    // A chunked body announces no length: the API asks for one instead of
    // reading an unbounded stream.
    let request = b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
        Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n\
        5\r\n{\"a\":\r\n";
    let answer = raw(app.addr, request).await;
    assert_eq!(status_of(&answer), 400, "{answer}");
    assert!(
        answer.contains("a Content-Length header is required"),
        "{answer}"
    );
    assert_eq!(app.get("/api/v1/health").await.status(), 200);
}
