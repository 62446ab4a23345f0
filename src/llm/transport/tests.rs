use super::*;
use crate::llm::Kind;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::AtomicUsize;
use std::sync::{mpsc, Arc};

#[test]
fn error_messages_are_found_in_every_provider_shape() {
    let cases: &[(u16, &str, &str, &str)] = &[
        (
            401,
            r#"{"error":{"message":"Incorrect API key provided","type":"invalid_request_error"}}"#,
            "Incorrect API key provided",
            "OpenAI",
        ),
        (
            529,
            r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
            "Overloaded",
            "Anthropic",
        ),
        (
            404,
            r#"{"error":"model 'x' not found"}"#,
            "model 'x' not found",
            "Ollama",
        ),
        (
            400,
            r#"{"detail":"Model not loaded"}"#,
            "Model not loaded",
            "FastAPI",
        ),
        (
            422,
            r#"{"detail":[{"loc":["body"],"msg":"field required","input":"SECRET"}]}"#,
            "field required",
            "pydantic: the input is not quoted",
        ),
        (
            502,
            "Bad gateway from nginx\nmore",
            "Bad gateway from nginx",
            "plain text",
        ),
        (
            503,
            "<html><body>down</body></html>",
            "service unavailable",
            "HTML page",
        ),
        (529, "", "overloaded", "empty 529"),
        (500, "{}", "internal server error", "empty JSON"),
    ];
    for (status, body, want, why) in cases {
        assert_eq!(error_message(*status, body), *want, "{why}");
    }
}

#[test]
fn long_messages_are_cut_on_a_character_boundary() {
    let long = "가".repeat(400);
    let short = shorten(&long);
    assert_eq!(short.chars().count(), MAX_MESSAGE_CHARS + 1);
    assert!(short.ends_with('…'));
}

#[test]
fn a_proxy_given_to_the_agent_receives_a_connect_for_the_target() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy_url = format!("http://{}", listener.local_addr().unwrap());
    let seen = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut line = String::new();
        BufReader::new(&stream).read_line(&mut line).unwrap();
        (&stream)
            .write_all(b"HTTP/1.1 403 Forbidden\r\n\r\n")
            .unwrap();
        line
    });
    let ep = Endpoint::new(Kind::OpenAi, "https://api.example.invalid/v1", None);
    let agent = build_agent(&ep, Some(ureq::Proxy::new(&proxy_url).unwrap()));
    let result = agent.get("https://api.example.invalid/v1/models").call();
    assert!(result.is_err());
    assert_eq!(
        seen.join().unwrap().trim_end(),
        "CONNECT api.example.invalid:443 HTTP/1.1"
    );
}

/// Answers one connection with `response` (raw bytes, then close) after
/// reading the request; a second connection would be refused.
fn serve_once(response: &'static str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(&stream);
        let mut length = 0;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if line == "\r\n" {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        (&stream).write_all(response.as_bytes()).unwrap();
    });
    url
}

fn stream_from(response: &'static str) -> (Result<Usage, LlmError>, String) {
    let ep = Endpoint::new(Kind::OpenAi, serve_once(response), None);
    let req = crate::llm::ChatRequest {
        model: "m".into(),
        messages: vec![],
        max_tokens: None,
    };
    let http = crate::llm::openai::build_request(&ep, &req, true);
    let mut text = String::new();
    let result = stream(&ep, &http, &AtomicBool::new(false), &mut |d| {
        text.push_str(d)
    });
    (result, text)
}

const SSE_HEAD: &str =
    "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n";

#[test]
fn a_stream_closed_cleanly_after_content_without_done_is_complete() {
    let (result, text) = stream_from(concat!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n",
        ": keep-alive\r\n\r\n",
        "data: {\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\r\n\r\n",
        "data: {\"choices\":[{\"delta\":{\"content\":\"lo\"}}]}\n\n",
        "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2}}\n\n",
    ));
    assert_eq!(text, "Hello");
    assert_eq!(
        result,
        Ok(Usage {
            prompt_tokens: 3,
            completion_tokens: 2
        })
    );
}

#[test]
fn a_stream_without_any_event_is_malformed() {
    let (result, _) = stream_from(SSE_HEAD);
    assert!(matches!(result, Err(LlmError::Malformed(_))), "{result:?}");
}

#[test]
fn a_json_answer_to_a_stream_request_is_delivered_whole() {
    let (result, text) = stream_from(concat!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n",
        "{\"choices\":[{\"message\":{\"content\":\"all at once\"}}],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":3}}",
    ));
    assert_eq!(text, "all at once");
    assert_eq!(result.unwrap().completion_tokens, 3);
}

#[test]
fn a_redirect_is_reported_with_its_target_and_not_followed() {
    let (result, _) = stream_from(
        "HTTP/1.1 301 Moved Permanently\r\nlocation: https://elsewhere.example/v1/chat/completions\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
    );
    match result {
        Err(LlmError::Status {
            status: 301,
            message,
        }) => {
            assert!(message.contains("https://elsewhere.example"), "{message}")
        }
        other => panic!("{other:?}"),
    }
}

/// Reads one request (head and body); `None` when the client closed.
fn read_request(reader: &mut impl BufRead) -> Option<String> {
    let mut head = String::new();
    let mut length = 0;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if line == "\r\n" {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap();
        }
        head.push_str(&line);
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(head)
}

/// A server calling `handle(connection, its number)` on a thread of its
/// own for every connection; answers the base URL.
fn serve(handle: impl Fn(TcpStream, usize) + Send + Sync + 'static) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    let handle = Arc::new(handle);
    thread::spawn(move || {
        for (i, stream) in listener.incoming().enumerate() {
            let Ok(stream) = stream else { break };
            let handle = handle.clone();
            thread::spawn(move || handle(stream, i));
        }
    });
    url
}

/// A kept-alive OpenAI JSON answer.
fn json_answer(text: &str) -> Vec<u8> {
    let body = serde_json::json!({
        "choices": [{"message": {"content": text}}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 2}
    })
    .to_string();
    format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn chat_request(ep: &Endpoint, stream: bool) -> HttpRequest {
    let req = crate::llm::ChatRequest {
        model: "m".into(),
        messages: vec![],
        max_tokens: None,
    };
    crate::llm::openai::build_request(ep, &req, stream)
}

fn sse_event(text: &str) -> String {
    format!(
        "data: {}\n\n",
        serde_json::json!({"choices": [{"delta": {"content": text}}]})
    )
}

#[test]
fn a_large_answer_passes_through_the_small_buffers() {
    let text = "가나다 abc ".repeat(20_000); // 260 KB, far more than the buffers hold
    let answer = json_answer(&text);
    let ep = Endpoint::new(
        Kind::OpenAi,
        serve(move |stream, _| {
            let mut reader = BufReader::new(&stream);
            while read_request(&mut reader).is_some() {
                (&stream).write_all(&answer).unwrap();
            }
        }),
        None,
    );
    let (got, _) = complete(&ep, &chat_request(&ep, false)).unwrap();
    assert_eq!(got, text);

    // One SSE line far longer than the buffers, then a short one.
    let line = sse_event(&text);
    let ep = Endpoint::new(
        Kind::OpenAi,
        serve(move |stream, _| {
            let mut reader = BufReader::new(&stream);
            read_request(&mut reader).unwrap();
            let mut out = &stream;
            out.write_all(SSE_HEAD.as_bytes()).unwrap();
            out.write_all(line.as_bytes()).unwrap();
            out.write_all(sse_event("!").as_bytes()).unwrap();
            out.write_all(b"data: [DONE]\n\n").unwrap();
        }),
        None,
    );
    let mut streamed = String::new();
    let result = stream(
        &ep,
        &chat_request(&ep, true),
        &AtomicBool::new(false),
        &mut |d| streamed.push_str(d),
    );
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(streamed, format!("{text}!"));
}

#[test]
fn a_large_request_passes_through_the_small_buffers() {
    let ep = Endpoint::new(
        Kind::OpenAi,
        serve(|stream, _| {
            let mut reader = BufReader::new(&stream);
            let mut head = String::new();
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap();
                }
                head.push_str(&line);
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let body: Value = serde_json::from_slice(&body).unwrap();
            let question = body["messages"][0]["content"].as_str().unwrap().len();
            (&stream)
                .write_all(&json_answer(&question.to_string()))
                .unwrap();
        }),
        None,
    );
    let req = crate::llm::ChatRequest {
        model: "m".into(),
        messages: vec![crate::llm::ChatMessage::new(
            crate::llm::ChatRole::User,
            "질문 ".repeat(50_000),
        )],
        max_tokens: None,
    };
    let http = crate::llm::openai::build_request(&ep, &req, false);
    let (got, _) = complete(&ep, &http).unwrap();
    assert_eq!(got, "350000");
}

#[test]
fn plain_http_connections_are_not_kept_alive() {
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = connections.clone();
    let ep = Endpoint::new(
        Kind::OpenAi,
        serve(move |stream, _| {
            counted.fetch_add(1, Ordering::SeqCst);
            let mut reader = BufReader::new(&stream);
            while read_request(&mut reader).is_some() {
                (&stream).write_all(&json_answer("hi")).unwrap();
            }
        }),
        None,
    );
    for _ in 0..2 {
        complete(&ep, &chat_request(&ep, false)).unwrap();
    }
    assert_eq!(connections.load(Ordering::SeqCst), 2);
}

#[test]
fn answers_one_after_another_reuse_one_kept_alive_connection() {
    connector::keep_plain_connections_alive_on_this_thread();
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = connections.clone();
    let ep = Endpoint::new(
        Kind::OpenAi,
        serve(move |stream, _| {
            counted.fetch_add(1, Ordering::SeqCst);
            let mut reader = BufReader::new(&stream);
            while read_request(&mut reader).is_some() {
                (&stream).write_all(&json_answer("hi")).unwrap();
            }
        }),
        None,
    );
    for _ in 0..3 {
        let (text, _) = complete(&ep, &chat_request(&ep, false)).unwrap();
        assert_eq!(text, "hi");
    }
    assert_eq!(connections.load(Ordering::SeqCst), 1);
}

#[test]
fn a_kept_alive_connection_the_server_closed_is_replaced_at_once() {
    connector::keep_plain_connections_alive_on_this_thread();
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = connections.clone();
    let ep = Endpoint::new(
        Kind::OpenAi,
        serve(move |stream, i| {
            counted.fetch_add(1, Ordering::SeqCst);
            let mut reader = BufReader::new(&stream);
            let mut served = 0;
            while read_request(&mut reader).is_some() {
                if i == 0 && served == 1 {
                    // The server's idle timeout struck as the request came.
                    return;
                }
                (&stream).write_all(&json_answer("hi")).unwrap();
                served += 1;
            }
        }),
        None,
    );
    complete(&ep, &chat_request(&ep, false)).unwrap();
    let started = Instant::now();
    let (text, _) = complete(&ep, &chat_request(&ep, false)).unwrap();
    assert_eq!(text, "hi");
    assert!(
        started.elapsed() < Duration::from_millis(300),
        "sent again without the retry's backoff: {:?}",
        started.elapsed()
    );
    assert_eq!(connections.load(Ordering::SeqCst), 2);
}

/// Threads of this process named `name`.
fn threads_named(name: &str) -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|tasks| {
            tasks
                .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
                .filter(|comm| comm.trim_end() == name)
                .count()
        })
        .unwrap_or(0)
}

#[test]
fn concurrent_streams_share_one_watcher_and_a_cancel_cuts_only_its_own() {
    const STREAMS: usize = 40;
    let release = Arc::new(AtomicBool::new(false));
    let released = release.clone();
    // Kept-alive chunked answers: a first delta, then silence until released.
    let ep = Endpoint::new(
        Kind::OpenAi,
        serve(move |stream, _| {
            let mut reader = BufReader::new(&stream);
            while read_request(&mut reader).is_some() {
                let out = &stream;
                let sent = (&stream)
                    .write_all(CHUNKED_SSE_HEAD)
                    .and_then(|_| chunk(out, &sse_event("a")));
                if sent.is_err() {
                    return;
                }
                while !released.load(Ordering::Acquire) {
                    thread::sleep(Duration::from_millis(5));
                }
                let rest = chunk(out, &sse_event("b"))
                    .and_then(|_| chunk(out, "data: [DONE]\n\n"))
                    .and_then(|_| (&stream).write_all(b"0\r\n\r\n"));
                if rest.is_err() {
                    return; // a cancelled call closed its socket
                }
            }
        }),
        None,
    );
    let (first_tx, first_rx) = mpsc::channel();
    let calls: Vec<_> = (0..STREAMS)
        .map(|i| {
            let cancel = Arc::new(AtomicBool::new(false));
            let ep = ep.clone();
            let first_tx = first_tx.clone();
            let flag = cancel.clone();
            let call = thread::spawn(move || {
                connector::keep_plain_connections_alive_on_this_thread();
                let mut text = String::new();
                let result = stream(&ep, &chat_request(&ep, true), &flag, &mut |d| {
                    text.push_str(d);
                    let _ = first_tx.send(i);
                });
                (result, text, Instant::now())
            });
            (cancel, call)
        })
        .collect();
    for _ in 0..STREAMS {
        first_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    }
    // Every stream now waits on a silent socket.
    assert!(connector::registered() >= STREAMS);
    assert_eq!(threads_named("llm-cancel"), 1, "one watcher for all");
    assert!(connector::watcher_thread().is_some());

    let cancelled_at = Instant::now();
    for (cancel, _) in calls.iter().step_by(2) {
        cancel.store(true, Ordering::Release);
    }
    let mut calls: Vec<_> = calls.into_iter().map(|(_, call)| Some(call)).collect();
    for call in calls.iter_mut().step_by(2) {
        let (result, text, ended) = call.take().unwrap().join().unwrap();
        assert_eq!(result, Err(LlmError::Cancelled));
        assert_eq!(text, "a");
        let late = ended - cancelled_at;
        assert!(
            late < Duration::from_secs(1),
            "cancel noticed after {late:?}"
        );
    }
    release.store(true, Ordering::Release);
    for call in calls.into_iter().flatten() {
        let (result, text, _) = call.join().unwrap();
        assert!(result.is_ok(), "{result:?}");
        assert_eq!(text, "ab", "the other streams were not cut");
    }
}

/// Writes `s` as one chunk of a chunked body.
fn chunk(mut out: &TcpStream, s: &str) -> io::Result<()> {
    write!(out, "{:x}\r\n{s}\r\n", s.len())
}

const CHUNKED_SSE_HEAD: &[u8] =
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n";

#[test]
fn streamed_answers_one_after_another_reuse_one_connection_unless_one_lingers() {
    connector::keep_plain_connections_alive_on_this_thread();
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = connections.clone();
    let ep = Endpoint::new(
        Kind::OpenAi,
        serve(move |stream, _| {
            counted.fetch_add(1, Ordering::SeqCst);
            let mut reader = BufReader::new(&stream);
            while let Some(head) = read_request(&mut reader) {
                let out = &stream;
                let _ = (|| {
                    (&stream).write_all(CHUNKED_SSE_HEAD)?;
                    chunk(out, &sse_event("hi"))?;
                    chunk(out, "data: [DONE]\n\n")?;
                    if head.contains("linger") {
                        // The end of the body never comes.
                        thread::sleep(Duration::from_secs(5));
                    }
                    (&stream).write_all(b"0\r\n\r\n")
                })();
            }
        }),
        None,
    );
    let call = |extra: Option<&str>| {
        let mut http = chat_request(&ep, true);
        if let Some(value) = extra {
            http.headers.push(("x-test", value.to_string()));
        }
        let mut text = String::new();
        let started = Instant::now();
        let result = stream(&ep, &http, &AtomicBool::new(false), &mut |d| {
            text.push_str(d)
        });
        assert!(result.is_ok(), "{result:?}");
        assert_eq!(text, "hi");
        started.elapsed()
    };
    for _ in 0..3 {
        call(None);
    }
    assert_eq!(connections.load(Ordering::SeqCst), 1);
    let took = call(Some("linger"));
    assert!(took < Duration::from_secs(2), "{took:?}");
    call(None);
    assert_eq!(
        connections.load(Ordering::SeqCst),
        2,
        "the lingering connection was not reused"
    );
}

#[test]
fn a_long_response_head_is_read_and_one_longer_than_the_buffer_is_reported() {
    let with_header = |size: usize| {
        let filler = "x".repeat(size);
        let body = r#"{"choices":[{"message":{"content":"ok"}}]}"#;
        let answer = format!(
            "HTTP/1.1 200 OK\r\nx-filler: {filler}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        let ep = Endpoint::new(
            Kind::OpenAi,
            serve(move |stream, _| {
                read_request(&mut BufReader::new(&stream));
                let _ = (&stream).write_all(answer.as_bytes());
            }),
            None,
        );
        complete(&ep, &chat_request(&ep, false)).map(|(text, _)| text)
    };
    assert_eq!(with_header(6 * 1024), Ok("ok".to_string()));
    match with_header(40 * 1024) {
        Err(LlmError::Malformed(message)) => {
            assert!(message.contains("headers are longer"), "{message}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_cancelled_wait_returns_early() {
    let cancel = AtomicBool::new(true);
    let started = Instant::now();
    assert!(!sleep_unless_cancelled(Duration::from_secs(10), &cancel));
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(sleep_unless_cancelled(
        Duration::from_millis(1),
        &AtomicBool::new(false)
    ));
}
