//! The only part of `llm` that touches the network: one ureq 3 agent per call
//! (timeouts, proxy), sending a provider's [`HttpRequest`], turning HTTP and
//! socket failures into [`Failure`]s the retry loop understands, and the read
//! loop that feeds a streamed body through the SSE parser to `on_delta`.
//!
//! Timeouts map onto ureq's: `connect_timeout` bounds DNS and connect (with
//! TLS and a proxy's CONNECT); `idle_timeout` is ureq's per-read (and
//! per-write) timeout, so it bounds the wait for the headers and every silence
//! inside the stream, while a long answer that keeps coming is never cut.
//!
//! Cancelling: a blocked socket read cannot see an `AtomicBool`, so while a
//! stream runs a small scoped watcher thread polls the flag every
//! [`CANCEL_POLL`] and calls `Agent::shutdown()`, which closes the agent's
//! sockets and makes the blocked read fail at once. This is why each call has
//! its own agent (shutting down a shared one would cut every other stream); the
//! cost is a fresh TCP/TLS connection per call, small next to an LLM's answer.

use std::io::{self, Read};
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;
use ureq::http::Response;
use ureq::{Agent, Body};

use super::retry::{self, Failure};
use super::sse::SseParser;
use super::{parse_completion, parse_stream_event, proxy, Endpoint, HttpRequest, LlmError, Usage};

/// How often the watcher looks at the cancel flag (and how finely a retry's
/// wait is sliced): the upper bound on how late a cancel is noticed.
const CANCEL_POLL: Duration = Duration::from_millis(50);
/// The most of an error body read to find its message.
const MAX_ERROR_BODY: u64 = 64 * 1024;
/// The most of a non-streamed answer read (a title is a few bytes; a whole
/// answer from a server that ignored `stream: true` can be long).
const MAX_ANSWER: u64 = 16 * 1024 * 1024;
/// The longest upstream error message passed on to users.
const MAX_MESSAGE_CHARS: usize = 300;

/// An agent for one call to `url` with the endpoint's timeouts and proxy.
fn agent(ep: &Endpoint, url: &str) -> Result<Agent, LlmError> {
    let proxy = proxy::choose(url, ep.no_proxy, &proxy::process_env)?;
    Ok(build_agent(ep, proxy))
}

fn build_agent(ep: &Endpoint, proxy: Option<ureq::Proxy>) -> Agent {
    Agent::config_builder()
        // Error statuses come back as responses so their JSON message is read.
        .http_status_as_error(false)
        // A redirect on a POST would silently become a GET: report it instead.
        .max_redirects(0)
        .proxy(proxy)
        .user_agent(format!("daehwa/{}", crate::VERSION))
        .timeout_resolve(Some(ep.connect_timeout))
        .timeout_connect(Some(ep.connect_timeout))
        .timeout_per_read(Some(ep.idle_timeout))
        .timeout_per_write(Some(ep.idle_timeout))
        .build()
        .new_agent()
}

/// See [`super::stream_chat`].
pub(crate) fn stream(
    ep: &Endpoint,
    http: &HttpRequest,
    cancel: &AtomicBool,
    on_delta: &mut dyn FnMut(&str),
) -> Result<Usage, LlmError> {
    let agent = agent(ep, &http.url)?;
    let mut delivered = false;
    let result = watch_cancel(&agent, cancel, || {
        retry::run(
            || {
                if cancel.load(Ordering::Acquire) {
                    return Err(Failure::fatal(LlmError::Cancelled));
                }
                stream_once(&agent, http, cancel, &mut delivered, on_delta).map_err(
                    |mut failure| {
                        // Never after the first delta: the user has seen the text.
                        failure.retryable &= !delivered;
                        failure
                    },
                )
            },
            |delay| sleep_unless_cancelled(delay, cancel),
        )
    });
    match result {
        // Whatever broke after a cancel (the watcher closed the socket) was the cancel.
        Err(_) if cancel.load(Ordering::Acquire) => Err(LlmError::Cancelled),
        other => other,
    }
}

/// See [`super::complete`].
pub(crate) fn complete(ep: &Endpoint, http: &HttpRequest) -> Result<(String, Usage), LlmError> {
    let agent = agent(ep, &http.url)?;
    let never = AtomicBool::new(false);
    retry::run(
        || {
            let body = read_body(send(&agent, http)?, MAX_ANSWER)?;
            Ok(parse_completion(http.kind, &body)?)
        },
        |delay| sleep_unless_cancelled(delay, &never),
    )
}

/// One attempt at a GET, answering the body of a 2xx.
pub(crate) fn fetch(ep: &Endpoint, http: &HttpRequest) -> Result<String, LlmError> {
    let agent = agent(ep, &http.url)?;
    send(&agent, http)
        .and_then(|response| read_body(response, MAX_ANSWER))
        .map_err(|failure| failure.error)
}

/// Sends the request; a non-2xx answer becomes a [`Failure`] carrying the
/// provider's message and its retry hints.
fn send(agent: &Agent, http: &HttpRequest) -> Result<Response<Body>, Failure> {
    // Method and URL only: the headers hold the key, the body the conversation.
    log::debug!(
        "LLM {} {} {}",
        http.kind,
        if http.body.is_some() { "POST" } else { "GET" },
        http.url
    );
    let result = match &http.body {
        Some(body) => {
            let mut builder = agent.post(&http.url);
            for (name, value) in &http.headers {
                builder = builder.header(*name, value.as_str());
            }
            builder.send_json(body)
        }
        None => {
            let mut builder = agent.get(&http.url);
            for (name, value) in &http.headers {
                builder = builder.header(*name, value.as_str());
            }
            builder.call()
        }
    };
    let mut response = result.map_err(classify)?;
    if response.status().is_success() {
        Ok(response)
    } else {
        Err(status_failure(&mut response))
    }
}

/// One streamed attempt. `delivered` turns true with the first non-empty delta.
fn stream_once(
    agent: &Agent,
    http: &HttpRequest,
    cancel: &AtomicBool,
    delivered: &mut bool,
    on_delta: &mut dyn FnMut(&str),
) -> Result<Usage, Failure> {
    let response = send(agent, http)?;
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if content_type.contains("json") && !content_type.contains("event-stream") {
        // The server ignored `stream: true` and answered in one piece.
        let body = read_body(response, MAX_ANSWER)?;
        let (text, usage) = parse_completion(http.kind, &body)?;
        if cancel.load(Ordering::Acquire) {
            return Err(Failure::fatal(LlmError::Cancelled));
        }
        if !text.is_empty() {
            *delivered = true;
            on_delta(&text);
        }
        return Ok(usage);
    }

    let mut reader = response.into_body().into_reader();
    let mut parser = SseParser::new();
    let mut events = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    let mut usage = Usage::default();
    let mut seen_event = false;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(n) => n,
            Err(_) if cancel.load(Ordering::Acquire) => {
                return Err(Failure::fatal(LlmError::Cancelled))
            }
            Err(e) => return Err(classify_read(e)),
        };
        if n == 0 {
            parser.finish(&mut events);
        } else {
            parser.push(&buf[..n], &mut events)?;
        }
        for event in events.drain(..) {
            let piece = parse_stream_event(http.kind, &event)?;
            seen_event = true;
            if let Some(prompt) = piece.prompt_tokens {
                usage.prompt_tokens = prompt;
            }
            if let Some(completion) = piece.completion_tokens {
                usage.completion_tokens = completion;
            }
            if !piece.text.is_empty() {
                if cancel.load(Ordering::Acquire) {
                    return Err(Failure::fatal(LlmError::Cancelled));
                }
                *delivered = true;
                on_delta(&piece.text);
            }
            if piece.done {
                return Ok(usage);
            }
        }
        if cancel.load(Ordering::Acquire) {
            return Err(Failure::fatal(LlmError::Cancelled));
        }
        if n == 0 {
            // A clean end of the body without `[DONE]`/`message_stop`: some
            // OpenAI-compatible servers just close. With events seen, that is
            // the end of the answer; a connection cut mid-way is not a clean
            // end (a chunked body then fails the read above).
            return if seen_event {
                log::debug!("LLM stream ended without its end marker");
                Ok(usage)
            } else {
                Err(Failure::fatal(LlmError::Malformed(
                    "the stream ended before any answer".into(),
                )))
            };
        }
    }
}

/// Runs `f` while a watcher thread shuts `agent` down as soon as `cancel` is
/// set. The watcher ends (without delay: it is unparked) when `f` returns.
fn watch_cancel<T>(agent: &Agent, cancel: &AtomicBool, f: impl FnOnce() -> T) -> T {
    let finished = AtomicBool::new(false);
    thread::scope(|scope| {
        let watcher = thread::Builder::new()
            .name("llm-cancel".into())
            .stack_size(64 * 1024)
            .spawn_scoped(scope, || {
                while !finished.load(Ordering::Acquire) {
                    if cancel.load(Ordering::Acquire) {
                        agent.clone().shutdown();
                        return;
                    }
                    thread::park_timeout(CANCEL_POLL);
                }
            });
        if watcher.is_err() {
            // Out of threads: cancel still works between chunks, only a
            // silent upstream is noticed late.
            log::warn!("could not start the LLM cancel watcher");
        }
        let out = f();
        finished.store(true, Ordering::Release);
        if let Ok(watcher) = &watcher {
            watcher.thread().unpark();
        }
        out
    })
}

/// Sleeps `delay` in slices, answering `false` as soon as `cancel` is set.
fn sleep_unless_cancelled(delay: Duration, cancel: &AtomicBool) -> bool {
    let until = Instant::now() + delay;
    loop {
        if cancel.load(Ordering::Acquire) {
            return false;
        }
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return true;
        }
        thread::sleep(left.min(CANCEL_POLL));
    }
}

/// Reads a whole (non-streamed) body as text.
fn read_body(mut response: Response<Body>, limit: u64) -> Result<String, Failure> {
    response
        .body_mut()
        .with_config()
        .limit(limit)
        .lossy_utf8(true)
        .read_to_string()
        .map_err(|e| match e {
            ureq::Error::BodyExceedsLimit(_) => {
                Failure::fatal(LlmError::Malformed("the answer is too large".into()))
            }
            ureq::Error::Io(io) => classify_read(io),
            other => classify(other),
        })
}

/// An error status: the provider's message, `Retry-After`, and whether to retry
/// (by status, unless the provider's `x-should-retry` says otherwise).
fn status_failure(response: &mut Response<Body>) -> Failure {
    let status = response.status().as_u16();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let retry_after = retry::parse_retry_after(
        header("retry-after-ms").as_deref(),
        header("retry-after").as_deref(),
    );
    let should_retry = header("x-should-retry").map(|v| v.trim().eq_ignore_ascii_case("true"));
    let location = header("location");
    let body = response
        .body_mut()
        .with_config()
        .limit(MAX_ERROR_BODY)
        .lossy_utf8(true)
        .read_to_string()
        .unwrap_or_default();
    let message = match location {
        Some(location) if (300..400).contains(&status) => {
            format!("it redirects to {location}; check the connection's base URL")
        }
        _ => error_message(status, &body),
    };
    Failure {
        error: LlmError::Status { status, message },
        retryable: should_retry.unwrap_or_else(|| retry::retryable_status(status)),
        retry_after,
    }
}

/// The message of an error body in any of the shapes providers use: OpenAI
/// `{"error": {"message"}}`, Anthropic `{"type": "error", "error": {"message"}}`,
/// Ollama `{"error": "..."}`, FastAPI (vLLM) `{"detail": ...}`; else the first
/// line of a plain-text body; else the status's reason phrase.
pub(crate) fn error_message(status: u16, body: &str) -> String {
    let from_json = serde_json::from_str::<Value>(body).ok().and_then(|v| {
        let pick = |pointer: &str| {
            v.pointer(pointer)
                .and_then(Value::as_str)
                .filter(|s| !s.trim().is_empty())
                .map(str::to_string)
        };
        pick("/error/message")
            .or_else(|| pick("/error"))
            .or_else(|| pick("/message"))
            .or_else(|| pick("/detail"))
            .or_else(|| pick("/detail/0/msg"))
    });
    let text = from_json.or_else(|| {
        let body = body.trim();
        let is_text = !body.is_empty() && !body.starts_with('<') && !body.starts_with('{');
        is_text.then(|| body.lines().next().unwrap_or(body).to_string())
    });
    let text = text.unwrap_or_else(|| match status {
        529 => "overloaded".to_string(),
        _ => ureq::http::StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("error")
            .to_ascii_lowercase(),
    });
    shorten(&text)
}

/// Trims a provider's message to [`MAX_MESSAGE_CHARS`] characters.
pub(crate) fn shorten(message: &str) -> String {
    let message = message.trim();
    match message.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((cut, _)) => format!("{}…", &message[..cut]),
        None => message.to_string(),
    }
}

/// A failure to send or to receive the headers.
fn classify(e: ureq::Error) -> Failure {
    use ureq::Error as E;
    match e {
        // Connecting (or resolving) timed out: the host may be back next time.
        E::Timeout(ureq::Timeout::Connect | ureq::Timeout::Resolve) => {
            Failure::retryable(LlmError::Timeout)
        }
        // No answer within the idle timeout: another 60 s wait would not help the user.
        E::Timeout(_) => Failure::fatal(LlmError::Timeout),
        E::HostNotFound => {
            Failure::retryable(LlmError::Connect("the host name was not found".into()))
        }
        E::Io(io) => Failure::retryable(LlmError::Connect(io_message(&io))),
        E::ConnectionFailed => {
            Failure::retryable(LlmError::Connect("the connection failed".into()))
        }
        E::ConnectProxyFailed(why) => {
            Failure::retryable(LlmError::Connect(format!("through the proxy: {why}")))
        }
        E::BadUri(why) => Failure::fatal(LlmError::Connect(format!(
            "the base URL is not valid: {why}"
        ))),
        E::Http(why) => Failure::fatal(LlmError::Connect(format!(
            "the request could not be built: {why}"
        ))),
        E::Protocol(why) => Failure::fatal(LlmError::Malformed(format!(
            "the answer is not valid HTTP: {why}"
        ))),
        // TLS failures (bad certificate …) and anything else will not heal by retrying.
        other => Failure::fatal(LlmError::Connect(other.to_string())),
    }
}

/// A failure while reading a body that had started.
fn classify_read(e: io::Error) -> Failure {
    match ureq::Error::from(e) {
        ureq::Error::Timeout(_) => Failure::fatal(LlmError::Timeout),
        ureq::Error::Io(io)
            if matches!(
                io.kind(),
                io::ErrorKind::UnexpectedEof
                    | io::ErrorKind::ConnectionReset
                    | io::ErrorKind::ConnectionAborted
                    | io::ErrorKind::BrokenPipe
            ) =>
        {
            Failure::retryable(LlmError::Connect(
                "the connection broke off before the answer was complete".into(),
            ))
        }
        other => classify(other),
    }
}

fn io_message(io: &io::Error) -> String {
    match io.kind() {
        io::ErrorKind::ConnectionRefused => "the connection was refused".into(),
        io::ErrorKind::ConnectionReset => "the connection was reset".into(),
        _ => io.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::Kind;
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpListener;

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
}
