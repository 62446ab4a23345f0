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
use super::stack;
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
/// How long a stream is read before its thread's unused stack is handed
/// back ([`stack::release_unused`]): the answers that last are the ones a
/// thousand of which are in flight at once; a burst of short ones would only
/// pay for the system call, while their first tokens are awaited.
const RELEASE_STACK_AFTER: Duration = Duration::from_secs(1);
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
    let mut release_stack_at = Some(Instant::now() + RELEASE_STACK_AFTER);
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
        if release_stack_at.is_some_and(|at| Instant::now() >= at) {
            // Sending was the deepest this thread's stack gets; the rest of
            // the stream needs a fraction of it.
            stack::release_unused();
            release_stack_at = None;
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
mod tests;
