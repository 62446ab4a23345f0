//! Slow, idle and hostile clients over raw TCP: hundreds of connections that
//! send nothing, headers sent a byte at a time, idle keep-alive connections,
//! a flood past the connection cap, too many or too large headers, a body
//! without a length. Each costs at most a clear error, and everyone else is
//! still served. Requests without a path, bodies that never end or stall,
//! HTTP/2 connections that never ask, oversized form parts. (Oversize,
//! deeply nested and invalid-UTF-8 bodies are also in security.rs and
//! validation.rs.)

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

/// Sends `head`, then `body` in pieces of `piece` bytes until the server
/// answers (or the body ends); returns the answer.
async fn send_until_answered(
    addr: std::net::SocketAddr,
    head: &str,
    body: impl Iterator<Item = Vec<u8>>,
) -> (String, usize) {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut read, mut write) = stream.into_split();
    write.write_all(head.as_bytes()).await.unwrap();
    let reader = tokio::spawn(async move {
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match tokio::time::timeout(PATIENCE, read.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
                Ok(Ok(n)) => seen.extend_from_slice(&buf[..n]),
            }
        }
        String::from_utf8_lossy(&seen).into_owned()
    });
    let mut sent = 0;
    for piece in body {
        if reader.is_finished() || write.write_all(&piece).await.is_err() {
            break;
        }
        sent += piece.len();
    }
    // (No half-close: hyper takes a client's EOF as the end of the connection.)
    let answer = reader.await.unwrap();
    drop(write);
    (answer, sent)
}

/// A chunked body of `total` bytes of JSON string content, in 64 KiB chunks.
fn chunked_json(total: usize) -> impl Iterator<Item = Vec<u8>> {
    const PIECE: usize = 64 * 1024;
    let opening = std::iter::once(b"{\"content\": \"".to_vec());
    let middle = (0..total / PIECE).map(|_| vec![b'a'; PIECE]);
    opening
        .chain(middle)
        .map(|data| {
            let mut chunk = format!("{:x}\r\n", data.len()).into_bytes();
            chunk.extend_from_slice(&data);
            chunk.extend_from_slice(b"\r\n");
            chunk
        })
        .chain(std::iter::once(b"2\r\n\"}\r\n0\r\n\r\n".to_vec()))
}

#[tokio::test]
async fn a_chunked_body_is_refused_the_moment_it_passes_its_routes_limit() {
    let w = crate::helpers::world().await;
    let auth = format!("Authorization: Bearer {}\r\n", w.user.access);
    for (path, limit) in [
        ("/api/v1/collector/items", 10 * 1024 * 1024 + 64 * 1024),
        ("/api/v1/auth/login", 1024 * 1024),
    ] {
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: application/json\r\n\
             Transfer-Encoding: chunked\r\n\r\n"
        );
        // 64 MiB offered: refused once past the limit, not after all of it.
        let (answer, sent) = send_until_answered(w.app.addr, &head, chunked_json(64 << 20)).await;
        // The server answers 413 and closes with the rest unread, which the
        // kernel may turn into a reset that overtakes the answer: either way
        // it stopped reading.
        if !answer.is_empty() {
            assert_eq!(status_of(&answer), 413, "{path}: {answer}");
            assert!(answer.contains("payload_too_large"), "{answer}");
        }
        // What was sent includes what the kernel's socket buffers took
        // (a few MiB on loopback), not only what the server read.
        assert!(
            sent < limit + (16 << 20),
            "{path}: {sent} bytes sent before the 413"
        );
    }
    // Under the limit a chunked body is read as any other.
    let head = format!(
        "POST /api/v1/collector/items HTTP/1.1\r\nHost: x\r\n{auth}\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    let (answer, sent) = send_until_answered(w.app.addr, &head, chunked_json(2 << 20)).await;
    assert!(
        answer.starts_with("HTTP/1.1 201"),
        "{sent} sent, answered {answer:?}"
    );
}

#[tokio::test]
async fn an_oversized_form_part_header_or_file_name_is_refused_while_it_arrives() {
    let w = crate::helpers::world().await;
    let auth = format!("Authorization: Bearer {}\r\n", w.user.access);
    let head = format!(
        "POST /api/v1/collector/items HTTP/1.1\r\nHost: x\r\n{auth}\
         Content-Type: multipart/form-data; boundary=XyZ\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    // One part whose header never ends: 64 MiB of it offered.
    let opening =
        b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\nX-Pad: "
            .to_vec();
    let body = std::iter::once(opening)
        .chain((0..1024).map(|_| vec![b'p'; 64 * 1024]))
        .map(|data| {
            let mut chunk = format!("{:x}\r\n", data.len()).into_bytes();
            chunk.extend_from_slice(&data);
            chunk.extend_from_slice(b"\r\n");
            chunk
        });
    let (answer, sent) = send_until_answered(w.app.addr, &head, body).await;
    if !answer.is_empty() {
        // (Or a reset that overtook the answer, as above.)
        assert_eq!(status_of(&answer), 413, "{answer}");
        assert!(answer.contains("headers"), "{answer}");
    }
    // Socket buffers take a few MiB; the server stopped after 8 KiB.
    assert!(sent < 16 << 20, "{sent} bytes sent before the 413");

    let long_name = format!("{}.txt", "가".repeat(100));
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(b"hello".to_vec()).file_name(long_name),
    );
    let res = w
        .app
        .as_user(Method::POST, "/api/v1/collector/items", &w.user.access)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("file name"),
        "{body}"
    );
    assert_eq!(w.app.get("/api/v1/health").await.status(), 200);
}

#[tokio::test]
async fn a_stalled_body_times_out_with_408_and_frees_its_connection_slot() {
    let app = spawn_with(|a| {
        a.header_timeout = 1;
        a.max_connections = 2;
    })
    .await;
    let mut stalled = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(app.addr).await.unwrap();
        stream
            .write_all(
                b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
                  Content-Length: 100\r\n\r\n{\"username\":",
            )
            .await
            .unwrap();
        stalled.push(stream);
    }
    for mut stream in stalled {
        let mut seen = Vec::new();
        assert!(closed_by_server(&mut stream, &mut seen).await);
        let answer = String::from_utf8_lossy(&seen);
        assert_eq!(status_of(&answer), 408, "{answer}");
        assert!(answer.contains("request_timeout"), "{answer}");
    }
    eventually("a new client is served", async || {
        (app.get("/api/v1/health").await.status() == 200).then_some(())
    })
    .await;
}

/// The client's side of an HTTP/2 connection with prior knowledge (h2c).
async fn h2c(
    addr: std::net::SocketAddr,
) -> (
    h2::client::SendRequest<bytes::Bytes>,
    tokio::task::JoinHandle<Result<(), h2::Error>>,
) {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (send, conn) = h2::client::handshake(tcp).await.unwrap();
    (send, tokio::spawn(conn))
}

#[tokio::test]
async fn an_http2_connection_that_never_asks_is_closed_and_frees_its_slot() {
    let app = spawn_with(|a| {
        a.header_timeout = 1;
        a.max_connections = 3;
    })
    .await;
    // Three connections that send the preface and their settings, then nothing.
    let mut idle = Vec::new();
    for _ in 0..3 {
        idle.push(h2c(app.addr).await);
    }
    for (send, conn) in idle {
        let ended = tokio::time::timeout(PATIENCE, conn).await;
        assert!(ended.is_ok(), "an idle HTTP/2 connection stayed open");
        drop(send);
    }
    eventually("a new client is served", async || {
        (app.get("/api/v1/health").await.status() == 200).then_some(())
    })
    .await;
}

#[tokio::test]
async fn an_http2_streamed_answer_longer_than_the_idle_timeout_is_not_cut() {
    let app = spawn_with(|a| a.header_timeout = 1).await;
    // Eight pieces 400 ms apart: the answer lasts three idle timeouts.
    let fake = FakeLlm::start(Behavior {
        tokens: 8,
        token_delay: Duration::from_millis(400),
        ..Behavior::default()
    })
    .await;
    let admin = app.signup("admin").await;
    app.add_connection(&admin, "openai", &format!("{}/v1", fake.url()), None)
        .await;
    let conv = app.new_conversation(&admin).await;

    let (send, _conn) = h2c(app.addr).await;
    let mut send = send.ready().await.unwrap();
    let request = warp::http::Request::post(format!(
        "http://{}/api/v1/conversations/{conv}/messages",
        app.addr
    ))
    .header("authorization", format!("Bearer {}", admin.access))
    .header("content-type", "application/json")
    .body(())
    .unwrap();
    let (response, mut body) = send.send_request(request, false).unwrap();
    body.send_data(
        bytes::Bytes::from(json!({"content": "느린 질문", "stream": true}).to_string()),
        true,
    )
    .unwrap();
    let response = tokio::time::timeout(PATIENCE, response)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut body = response.into_body();
    let mut text = Vec::new();
    while let Some(chunk) = tokio::time::timeout(PATIENCE, body.data()).await.unwrap() {
        let chunk = chunk.unwrap();
        let _ = body.flow_control().release_capacity(chunk.len());
        text.extend_from_slice(&chunk);
    }
    let events = parse_sse(&String::from_utf8_lossy(&text));
    assert_eq!(events.last().unwrap().event, "done", "{events:?}");
    assert_eq!(delta_text(&events).split_whitespace().count(), 8);
}

#[tokio::test]
async fn requests_without_a_path_get_a_4xx_and_the_server_goes_on() {
    let app = spawn_with(|_| {}).await;
    for (request, status) in [
        (
            "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
            405,
        ),
        (
            "OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            400,
        ),
    ] {
        let answer = raw(app.addr, request.as_bytes()).await;
        assert_eq!(status_of(&answer), status, "{request:?}: {answer}");
    }

    // HTTP/2 with prior knowledge: a CONNECT, whose HEADERS carry no :path.
    let (send, _conn) = h2c(app.addr).await;
    let mut send = send.ready().await.unwrap();
    let connect = warp::http::Request::builder()
        .method("CONNECT")
        .uri("example.com:443")
        .body(())
        .unwrap();
    let (response, _) = send.send_request(connect, true).unwrap();
    let response = tokio::time::timeout(PATIENCE, response)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(response.status(), 405);

    // A HEADERS frame with no :path at all, written by hand (HPACK: :method
    // GET, :scheme http, :authority x): refused as malformed.
    let mut tcp = TcpStream::connect(app.addr).await.unwrap();
    let mut frames = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    frames.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 0, 0]); // empty SETTINGS
    let block = [0x82, 0x86, 0x01, 0x01, b'x'];
    frames.extend_from_slice(&[0, 0, block.len() as u8, 1, 0x05, 0, 0, 0, 1]);
    frames.extend_from_slice(&block);
    tcp.write_all(&frames).await.unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 1024];
    // Whatever the server says (RST_STREAM or GOAWAY), it says it and lives.
    while seen.len() < 9 + 9 {
        match tokio::time::timeout(PATIENCE, tcp.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
            Ok(Ok(n)) => seen.extend_from_slice(&buf[..n]),
        }
    }
    assert_eq!(app.get("/api/v1/health").await.status(), 200);

    // The same connection-level client still works after its CONNECT.
    let request = warp::http::Request::get(format!("http://{}/api/v1/health", app.addr))
        .body(())
        .unwrap();
    let mut send = send.ready().await.unwrap();
    let (response, _) = send.send_request(request, true).unwrap();
    assert_eq!(response.await.unwrap().status(), 200);
}
