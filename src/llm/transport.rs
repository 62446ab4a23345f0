//! The only part of `llm` that touches the network: shared ureq 3 agents
//! (timeouts, proxy, kept-alive connections), sending a provider's
//! [`HttpRequest`], turning HTTP and socket failures into [`Failure`]s the
//! retry loop understands, and the read loop that feeds a streamed body
//! through the SSE parser to `on_delta`.
//!
//! Timeouts map onto ureq's: `connect_timeout` bounds DNS and connect (with
//! TLS and a proxy's CONNECT); `idle_timeout` is ureq's per-read (and
//! per-write) timeout, so it bounds the wait for the headers and every silence
//! inside the stream, while a long answer that keeps coming is never cut.
//!
//! Agents: one per proxy and pair of timeouts, kept for the life of the
//! process ([`agent`]), so an answer reuses the TLS connection of an earlier
//! one instead of connecting again (plain-HTTP ones are not kept: see
//! [`connector`](super::connector)), and the TLS configuration is built
//! once. Their buffers are small ([`INPUT_BUFFER`], [`OUTPUT_BUFFER`]):
//! ureq's default 128 KiB in and out, zero-filled, made a thousand streams
//! cost a quarter of a GiB.
//!
//! Cancelling: a blocked socket read cannot see an `AtomicBool`; one watcher
//! thread for all streams shuts down the socket of a cancelled call, and only
//! that one (see [`connector`](super::connector)).

use std::io::{self, Read};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;
use ureq::http::Response;
use ureq::{Agent, Body};

use super::connector::{self, CallConnector, CANCEL_POLL};
use super::resolve::CallResolver;
use super::retry::{self, Failure};
use super::sse::SseParser;
use super::{parse_completion, parse_stream_event, proxy, Endpoint, HttpRequest, LlmError, Usage};

/// ureq's input buffer, per connection (and per TLS layer). The response
/// head must fit in it: a provider's is 1–2 KiB, and 8 KiB is also what nginx
/// allows an upstream's by default; a longer one fails with a clear error
/// rather than a confusing one. Bodies of any size stream through it.
const INPUT_BUFFER: usize = 8 * 1024;
/// ureq's output buffer: the longest request header line must fit; the
/// request body of any size streams through it.
const OUTPUT_BUFFER: usize = 4 * 1024;
/// What the read loop takes from the body at a time: SSE events are a few
/// hundred bytes, and a longer line is simply read in several pieces.
const READ_CHUNK: usize = 2 * 1024;
/// After a stream's end marker, how long the end of the body (the last,
/// empty chunk) may take to come before the connection is given up on
/// instead of going back to the pool; and how much may still come.
const DRAIN_WAIT: Duration = Duration::from_millis(50);
const MAX_DRAIN: usize = 64 * 1024;
/// Idle kept-alive connections per agent, and per host.
const MAX_IDLE: usize = 32;
const MAX_IDLE_PER_HOST: usize = 16;
/// Agents kept (one per proxy and timeouts: in practice one or two).
const MAX_AGENTS: usize = 16;
/// The most of an error body read to find its message.
const MAX_ERROR_BODY: u64 = 64 * 1024;
/// The most of a non-streamed answer read (a title is a few bytes; a whole
/// answer from a server that ignored `stream: true` can be long).
const MAX_ANSWER: u64 = 16 * 1024 * 1024;
/// The longest upstream error message passed on to users.
const MAX_MESSAGE_CHARS: usize = 300;

/// What an agent is made of besides its constant settings.
#[derive(PartialEq, Eq)]
struct AgentKey {
    proxy: Option<ureq::Proxy>,
    connect_timeout: Duration,
    idle_timeout: Duration,
}

static AGENTS: Mutex<Vec<(AgentKey, Agent)>> = Mutex::new(Vec::new());

/// The shared agent for a call to `url` with the endpoint's timeouts and proxy.
fn agent(ep: &Endpoint, url: &str) -> Result<Agent, LlmError> {
    let key = AgentKey {
        proxy: proxy::choose(url, ep.no_proxy, &proxy::process_env)?,
        connect_timeout: ep.connect_timeout,
        idle_timeout: ep.idle_timeout,
    };
    let mut agents = AGENTS.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((_, agent)) = agents.iter().find(|(k, _)| *k == key) {
        return Ok(agent.clone());
    }
    let agent = build_agent(ep, key.proxy.clone());
    if agents.len() >= MAX_AGENTS {
        // Its clones in use live on; its idle connections close.
        agents.remove(0);
    }
    agents.push((key, agent.clone()));
    Ok(agent)
}

fn build_agent(ep: &Endpoint, proxy: Option<ureq::Proxy>) -> Agent {
    let config = Agent::config_builder()
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
        .input_buffer_size(INPUT_BUFFER)
        .output_buffer_size(OUTPUT_BUFFER)
        // Checked against what the input buffer holds: one byte less makes a
        // head too long for the buffer a `LargeResponseHeader` error.
        .max_response_header_size(INPUT_BUFFER - 1)
        .max_idle_connections(MAX_IDLE)
        .max_idle_connections_per_host(MAX_IDLE_PER_HOST)
        .build();
    Agent::with_parts(config, CallConnector::default(), CallResolver::default())
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
    let result = connector::watch(cancel, || {
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
            let body = read_body(send(&agent, http, &never)?, MAX_ANSWER)?;
            Ok(parse_completion(http.kind, &body)?)
        },
        |delay| sleep_unless_cancelled(delay, &never),
    )
}

/// One attempt at a GET, answering the body of a 2xx.
pub(crate) fn fetch(ep: &Endpoint, http: &HttpRequest) -> Result<String, LlmError> {
    let agent = agent(ep, &http.url)?;
    send(&agent, http, &AtomicBool::new(false))
        .and_then(|response| read_body(response, MAX_ANSWER))
        .map_err(|failure| failure.error)
}

/// Sends the request; a non-2xx answer becomes a [`Failure`] carrying the
/// provider's message and its retry hints.
///
/// A kept-alive connection the server closed just as the request went out
/// (its idle timeout) fails without an answer: that request is sent again at
/// once on a new connection, before and outside the retry policy.
fn send(agent: &Agent, http: &HttpRequest, cancel: &AtomicBool) -> Result<Response<Body>, Failure> {
    // Method and URL only: the headers hold the key, the body the conversation.
    log::debug!(
        "LLM {} {} {}",
        http.kind,
        if http.body.is_some() { "POST" } else { "GET" },
        http.url
    );
    connector::begin_request();
    let result = match request(agent, http) {
        Err(ureq::Error::Io(e))
            if !connector::made_new_connection() && !cancel.load(Ordering::Acquire) =>
        {
            log::debug!("a kept-alive connection failed ({e}); sending on a new one");
            request(agent, http)
        }
        other => other,
    };
    let mut response = result.map_err(classify)?;
    if response.status().is_success() {
        Ok(response)
    } else {
        Err(status_failure(&mut response))
    }
}

fn request(agent: &Agent, http: &HttpRequest) -> Result<Response<Body>, ureq::Error> {
    match &http.body {
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
    let response = send(agent, http, cancel)?;
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
    let mut buf = vec![0u8; READ_CHUNK];
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
                if connector::kept_alive() {
                    finish_body(&mut reader, &mut buf);
                }
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

/// Reads what is left of a stream after its end marker (normally just the
/// end of the chunked body), so that ureq puts the connection back in the
/// pool for the next answer. A server that keeps the stream open after the
/// marker only costs [`DRAIN_WAIT`]: the connection is then dropped.
fn finish_body(reader: &mut impl Read, buf: &mut [u8]) {
    let until = Instant::now() + DRAIN_WAIT;
    connector::with_read_limit(DRAIN_WAIT, || {
        let mut left = MAX_DRAIN;
        while left > 0 && Instant::now() < until {
            match reader.read(buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => left = left.saturating_sub(n),
            }
        }
    });
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
        E::LargeResponseHeader(..) => Failure::fatal(LlmError::Malformed(format!(
            "the answer's headers are longer than {} KiB",
            INPUT_BUFFER / 1024
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
}
