//! The fake over real sockets, read byte for byte with a raw HTTP/1.1 client:
//! what a dropped or stalled stream looks like on the wire, that a thousand
//! slow streams run at once, and that the binary announces itself as promised.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fake_llm::{Behavior, Config, FakeLlm};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A request with `Connection: close`, so the response ends with the socket.
fn request(method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> String {
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    for (name, value) in headers {
        req.push_str(&format!("{name}: {value}\r\n"));
    }
    req.push_str(&format!(
        "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    ));
    req
}

/// Everything the server sent, and whether the connection ended cleanly
/// (EOF) rather than with a reset.
async fn exchange(addr: SocketAddr, request: &str) -> (String, bool) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    let clean = loop {
        match stream.read(&mut buf).await {
            Ok(0) => break true,
            Ok(n) => received.extend_from_slice(&buf[..n]),
            Err(_) => break false,
        }
    };
    (String::from_utf8_lossy(&received).into_owned(), clean)
}

const STREAM_BODY: &str = r#"{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi there"}]}"#;

#[tokio::test]
async fn a_finished_stream_ends_with_done_and_the_chunked_terminator() {
    let fake = FakeLlm::start(Config {
        behavior: Behavior {
            tokens: 3,
            ..Behavior::default()
        },
        ..Config::default()
    })
    .await;
    let (text, clean) = exchange(
        fake.addr(),
        &request("POST", "/v1/chat/completions", &[], STREAM_BODY),
    )
    .await;
    assert!(clean);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.contains("content-type: text/event-stream"), "{text}");
    assert!(text.contains("transfer-encoding: chunked"), "{text}");
    assert!(
        text.contains(r#""prompt_tokens":2"#) && text.contains(r#""completion_tokens":3"#),
        "{text}"
    );
    assert!(text.contains("data: [DONE]"), "{text}");
    assert!(text.ends_with("0\r\n\r\n"), "{text}");
}

#[tokio::test]
async fn a_dropped_stream_is_cut_without_the_chunked_terminator() {
    let fake = FakeLlm::start(Config::default()).await;
    let body = STREAM_BODY.replace("hi there", "hi [[drop:2]]");
    let (text, _) = exchange(
        fake.addr(),
        &request("POST", "/v1/chat/completions", &[], &body),
    )
    .await;
    assert!(text.contains("Token1"), "{text}");
    assert!(!text.contains("Token2"), "{text}");
    assert!(!text.contains("[DONE]"), "{text}");
    assert!(
        !text.ends_with("0\r\n\r\n"),
        "a cut stream must not look complete: {text}"
    );
}

#[tokio::test]
async fn a_stalled_stream_keeps_the_connection_open_until_the_fake_stops() {
    let fake = FakeLlm::start(Config::default()).await;
    let body = STREAM_BODY.replace("hi there", "hi [[stall:1]]");
    let req = request("POST", "/v1/chat/completions", &[], &body);
    let mut stream = tokio::net::TcpStream::connect(fake.addr()).await.unwrap();
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&received).contains("Token0") {
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed before the first token");
        received.extend_from_slice(&buf[..n]);
    }
    let more = tokio::time::timeout(Duration::from_millis(300), stream.read(&mut buf)).await;
    assert!(more.is_err(), "a stalled stream sent more: {more:?}");
    drop(fake);
    let end = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(end.is_ok(), "stopping the fake ends stalled streams");
}

#[tokio::test]
async fn errors_come_in_the_providers_shape_with_retry_after_for_429() {
    let fake = FakeLlm::start(Config::default()).await;
    fake.set(Behavior {
        fail_with: Some((429, 1)),
        ..Behavior::default()
    });
    let body = r#"{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"x"}]}"#;
    let anthropic = [("anthropic-version", "2023-06-01")];
    let (text, _) = exchange(
        fake.addr(),
        &request("POST", "/v1/messages", &anthropic, body),
    )
    .await;
    assert!(text.starts_with("HTTP/1.1 429"), "{text}");
    assert!(text.contains("retry-after: 1"), "{text}");
    assert!(text.contains(r#""type":"rate_limit_error""#), "{text}");
    let (text, _) = exchange(
        fake.addr(),
        &request("POST", "/v1/messages", &anthropic, body),
    )
    .await;
    assert!(
        text.starts_with("HTTP/1.1 200"),
        "only one failure was asked for: {text}"
    );
    assert!(text.contains(r#""text":"Token0 Token1"#), "{text}");
    assert_eq!(fake.requests().len(), 2);
    assert_eq!(
        fake.requests()[0].header("Anthropic-Version"),
        Some("2023-06-01")
    );
}

#[tokio::test]
async fn the_model_list_shape_follows_the_callers_headers() {
    let fake = FakeLlm::start(Config::default()).await;
    let (openai, _) = exchange(fake.addr(), &request("GET", "/v1/models", &[], "")).await;
    assert!(
        openai.contains(r#""object":"list""#) && openai.contains(r#""owned_by""#),
        "{openai}"
    );
    let (anthropic, _) = exchange(
        fake.addr(),
        &request("GET", "/v1/models", &[("x-api-key", "k")], ""),
    )
    .await;
    assert!(anthropic.contains(r#""display_name""#), "{anthropic}");
    let (azure, _) = exchange(
        fake.addr(),
        &request("GET", "/openai/deployments?api-version=2022-12-01", &[], ""),
    )
    .await;
    assert!(azure.contains(r#""object":"deployment""#), "{azure}");
    assert_eq!(fake.requests()[2].query, "api-version=2022-12-01");
    let (missing, _) = exchange(fake.addr(), &request("GET", "/nope", &[], "")).await;
    assert!(
        missing.starts_with("HTTP/1.1 404") && missing.contains(r#""error""#),
        "{missing}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_streams_at_twenty_tokens_a_second_run_at_once() {
    const STREAMS: usize = 1000;
    let fake = FakeLlm::start(Config {
        behavior: Behavior {
            tokens: 20,
            token_delay: Duration::from_millis(50),
            ..Behavior::default()
        },
        ..Config::default()
    })
    .await;
    let addr = fake.addr();
    let started = Instant::now();
    let tasks: Vec<_> = (0..STREAMS)
        .map(|_| {
            tokio::spawn(async move {
                exchange(
                    addr,
                    &request("POST", "/v1/chat/completions", &[], STREAM_BODY),
                )
                .await
            })
        })
        .collect();
    for task in tasks {
        let (text, clean) = task.await.unwrap();
        assert!(
            clean && text.contains("Token19") && text.contains("data: [DONE]"),
            "{text}"
        );
    }
    // Each stream takes 1 s; run one after another they would take 1000 s.
    // The bound is generous for a slow debug build on two cores.
    let took = started.elapsed();
    assert!(took < Duration::from_secs(30), "{took:?}");
    assert_eq!(fake.requests().len(), STREAMS);
}

#[test]
fn the_binary_prints_one_line_with_its_url_and_serves() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fake-llm"))
        .args(["--port", "0", "--tokens", "2", "--api-key", "secret"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("fake-llm starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim_end()
        .strip_prefix("fake-llm listening on ")
        .unwrap_or_else(|| panic!("unexpected line {line:?}"))
        .to_string();
    let addr = url
        .strip_prefix("http://127.0.0.1:")
        .expect("a loopback URL");
    let port: u16 = addr.parse().expect("a port");
    assert_ne!(port, 0);

    let ask = |key: &str| {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let body = r#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#;
        let auth = format!("Bearer {key}");
        stream
            .write_all(
                request(
                    "POST",
                    "/v1/chat/completions",
                    &[("Authorization", &auth)],
                    body,
                )
                .as_bytes(),
            )
            .unwrap();
        let mut text = String::new();
        stream.read_to_string(&mut text).unwrap();
        text
    };
    let answer = ask("secret");
    assert!(answer.contains(r#""content":"Token0 Token1""#), "{answer}");
    let refused = ask("wrong");
    assert!(
        refused.starts_with("HTTP/1.1 401") && refused.contains("invalid_api_key"),
        "{refused}"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}
