//! The HTTP side of the fake: [`FakeLlm`] (start, knobs, recorded requests),
//! routing by path and headers to the three dialects, authentication and
//! failure injection, and playing a list of [`Step`]s back as a streamed body.
//!
//! Streams cost a tokio task and a timer each, no thread: thousands of slow
//! streams at once are fine. Routing is one catch-all filter and a `match`,
//! since a fake must answer unknown paths in the provider's JSON shape too.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::Value;
use tokio::sync::{mpsc, watch};
use warp::http::{HeaderMap, HeaderValue, Method, StatusCode};
use warp::reply::Response;
use warp::{Filter, Reply};

use crate::answer::{self, Reply as Answer, Step};
use crate::behavior::{parse_magic, Behavior, Plan};

/// Where to listen and how to behave at first.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// 0 picks a free port.
    pub port: u16,
    pub behavior: Behavior,
}

/// `FakeLlm::start(behavior)`: any free port, that behaviour.
impl From<Behavior> for Config {
    fn from(behavior: Behavior) -> Config {
        Config { port: 0, behavior }
    }
}

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// The raw query string, without `?` (empty when there is none).
    pub query: String,
    /// Every header, names in lower case.
    pub headers: BTreeMap<String, String>,
    /// The JSON body, `Null` when there was none or it was not JSON.
    pub body: Value,
    /// When it arrived (to check a client's retry waits).
    pub at: Instant,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }
}

/// A running fake upstream on 127.0.0.1. Dropping it stops the server (and
/// ends stalled streams).
pub struct FakeLlm {
    addr: SocketAddr,
    state: Arc<State>,
    stop: watch::Sender<bool>,
}

struct State {
    initial: Behavior,
    behavior: Mutex<Behavior>,
    /// How many more requests `fail_with` fails.
    failures_left: Mutex<u32>,
    /// `[[fail:S:N]]` counts, keyed by the whole question.
    magic_failures: Mutex<HashMap<String, u32>>,
    requests: Mutex<Vec<Recorded>>,
    ids: AtomicU64,
    /// Streamed bodies still being played (see [`FakeLlm::streams_open`]).
    streams: Arc<AtomicU64>,
    stop: watch::Receiver<bool>,
}

/// A poisoned lock only means another request panicked; the data is still fine.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl FakeLlm {
    /// Starts the fake from a [`Config`] or just a [`Behavior`]; panics if the
    /// port cannot be bound (tests use port 0).
    pub async fn start(config: impl Into<Config>) -> FakeLlm {
        FakeLlm::try_start(config)
            .await
            .expect("fake-llm binds 127.0.0.1")
    }

    /// Starts the fake, reporting a port already in use.
    pub async fn try_start(config: impl Into<Config>) -> io::Result<FakeLlm> {
        let config: Config = config.into();
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", config.port)).await?;
        let addr = listener.local_addr()?;
        let (stop, stop_rx) = watch::channel(false);
        let state = Arc::new(State {
            failures_left: Mutex::new(failures_of(&config.behavior)),
            behavior: Mutex::new(config.behavior.clone()),
            initial: config.behavior,
            magic_failures: Mutex::new(HashMap::new()),
            requests: Mutex::new(Vec::new()),
            ids: AtomicU64::new(1),
            streams: Arc::default(),
            stop: stop_rx.clone(),
        });
        let mut stopped = stop_rx;
        let server = warp::serve(routes(state.clone()))
            .incoming(listener)
            .graceful(async move {
                let _ = stopped.wait_for(|s| *s).await;
            });
        tokio::spawn(server.run());
        Ok(FakeLlm { addr, state, stop })
    }

    /// `http://127.0.0.1:PORT`: the base URL for Azure and Anthropic endpoints.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://127.0.0.1:PORT/v1`: the base URL for an OpenAI endpoint.
    pub fn openai_url(&self) -> String {
        format!("{}/v1", self.url())
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Replaces the behaviour (and restarts the `fail_with` count).
    pub fn set(&self, behavior: Behavior) {
        *lock(&self.state.failures_left) = failures_of(&behavior);
        *lock(&self.state.behavior) = behavior;
    }

    /// The current behaviour.
    pub fn behavior(&self) -> Behavior {
        lock(&self.state.behavior).clone()
    }

    /// Every request received so far, oldest first.
    /// Streamed answers still being sent: one ends when its last step was
    /// played or its client went away (a test sees a cancelled call cut).
    pub fn streams_open(&self) -> u64 {
        self.state.streams.load(Ordering::SeqCst)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.state.requests).clone()
    }

    /// Forgets the recorded requests and the magic-word counts, and goes back
    /// to the behaviour the fake started with.
    pub fn reset(&self) {
        lock(&self.state.requests).clear();
        lock(&self.state.magic_failures).clear();
        self.set(self.state.initial.clone());
    }
}

impl Drop for FakeLlm {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

fn failures_of(behavior: &Behavior) -> u32 {
    behavior.fail_with.map(|(_, times)| times).unwrap_or(0)
}

impl State {
    fn record(&self, request: Recorded) {
        lock(&self.requests).push(request);
    }

    /// The status the next request must fail with, counting it down.
    fn take_failure(&self) -> Option<u16> {
        let status = lock(&self.behavior).fail_with.map(|(status, _)| status)?;
        let mut left = lock(&self.failures_left);
        if *left == 0 {
            return None;
        }
        *left -= 1;
        Some(status)
    }

    /// `[[fail:S:N]]`: whether this question has failed fewer than `n` times yet.
    fn magic_failure_due(&self, question: &str, n: u32) -> bool {
        let mut counts = lock(&self.magic_failures);
        let seen = counts.entry(question.to_string()).or_insert(0);
        *seen += 1;
        *seen <= n
    }

    fn next_id(&self) -> u64 {
        self.ids.fetch_add(1, Ordering::Relaxed)
    }
}

/// Which protocol a request speaks (error and list shapes differ).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialect {
    OpenAi,
    Azure,
    Anthropic,
}

#[derive(Debug, PartialEq, Eq)]
enum Route {
    Models(Dialect),
    Chat(Dialect, Option<String>),
    NotFound,
}

fn route(method: &Method, path: &str, headers: &BTreeMap<String, String>) -> Route {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (method.as_str(), segments.as_slice()) {
        // OpenAI and Anthropic share this path: Anthropic clients send its headers.
        ("GET", ["v1", "models"]) => {
            if headers.contains_key("anthropic-version") || headers.contains_key("x-api-key") {
                Route::Models(Dialect::Anthropic)
            } else {
                Route::Models(Dialect::OpenAi)
            }
        }
        ("POST", ["v1", "chat", "completions"]) => Route::Chat(Dialect::OpenAi, None),
        ("POST", ["v1", "messages"]) => Route::Chat(Dialect::Anthropic, None),
        ("GET", ["openai", "deployments"]) => Route::Models(Dialect::Azure),
        ("POST", ["openai", "deployments", name, "chat", "completions"]) => {
            Route::Chat(Dialect::Azure, Some(name.to_string()))
        }
        _ => Route::NotFound,
    }
}

fn routes(
    state: Arc<State>,
) -> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone {
    warp::method()
        .and(warp::path::full())
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .and(warp::header::headers_cloned())
        .and(warp::body::bytes())
        .then(
            move |method, path: warp::path::FullPath, query, headers, body| {
                handle(
                    state.clone(),
                    method,
                    path.as_str().to_string(),
                    query,
                    headers,
                    body,
                )
            },
        )
}

async fn handle(
    state: Arc<State>,
    method: Method,
    path: String,
    query: String,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let headers: BTreeMap<String, String> = headers
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_string(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let route = route(&method, &path, &headers);
    state.record(Recorded {
        method: method.to_string(),
        path,
        query,
        headers: headers.clone(),
        body: body.clone(),
        at: Instant::now(),
    });
    let behavior = lock(&state.behavior).clone();
    let dialect = match &route {
        Route::Models(d) | Route::Chat(d, _) => *d,
        Route::NotFound => {
            let mut error = answer::openai_error(404);
            error["error"]["message"] = "fake-llm has no such route".into();
            return json_reply(StatusCode::NOT_FOUND, &error);
        }
    };
    if let Some(key) = &behavior.api_key {
        if !key_presented(dialect, &headers, key) {
            return error_reply(dialect, 401);
        }
    }
    let failure = state.take_failure();
    match route {
        Route::Models(dialect) => match failure {
            Some(status) => error_reply(dialect, status),
            None => {
                let list = match dialect {
                    Dialect::OpenAi => answer::openai_models(&behavior.models),
                    Dialect::Anthropic => answer::anthropic_models(&behavior.models),
                    Dialect::Azure => answer::azure_deployments(&behavior.models),
                };
                json_reply(StatusCode::OK, &list)
            }
        },
        Route::Chat(dialect, deployment) => {
            chat(&state, &behavior, dialect, deployment, &body, failure).await
        }
        Route::NotFound => unreachable!("answered above"),
    }
}

fn key_presented(dialect: Dialect, headers: &BTreeMap<String, String>, key: &str) -> bool {
    let header = |name: &str| headers.get(name).map(String::as_str);
    match dialect {
        Dialect::OpenAi => header("authorization") == Some(&format!("Bearer {key}")),
        Dialect::Azure => header("api-key") == Some(key),
        Dialect::Anthropic => header("x-api-key") == Some(key),
    }
}

/// The text of a message's `content`: a string, or an array of text parts.
fn content_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    }
}

async fn chat(
    state: &State,
    behavior: &Behavior,
    dialect: Dialect,
    deployment: Option<String>,
    body: &Value,
    failure: Option<u16>,
) -> Response {
    let messages: Vec<(String, String)> = body
        .get("messages")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .map(|m| {
                    let role = m.get("role").and_then(Value::as_str).unwrap_or_default();
                    (
                        role.to_string(),
                        content_text(m.get("content").unwrap_or(&Value::Null)),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let question = messages
        .iter()
        .rev()
        .find(|(role, _)| role == "user")
        .map(|(_, text)| text.clone())
        .unwrap_or_default();
    let magic = parse_magic(&question);
    let failure = failure.or_else(|| match magic.fail {
        Some((status, None)) => Some(status),
        Some((status, Some(n))) => state.magic_failure_due(&question, n).then_some(status),
        None => None,
    });
    let stream = body.get("stream").and_then(Value::as_bool).unwrap_or(false);
    if let Some(status) = failure {
        if behavior.fail_in_stream && stream {
            let steps = match dialect {
                Dialect::Anthropic => answer::anthropic_stream_error(status),
                Dialect::OpenAi | Dialect::Azure => answer::openai_stream_error(status),
            };
            return stream_reply(state, steps);
        }
        return error_reply(dialect, status);
    }

    let plan = Plan::new(behavior, &magic);
    let system = body.get("system").map(content_text).unwrap_or_default();
    let id = state.next_id();
    let reply = Answer {
        id: match dialect {
            Dialect::Anthropic => format!("msg_fake_{id}"),
            _ => format!("chatcmpl-fake-{id}"),
        },
        model: deployment
            .or_else(|| {
                body.get("model")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .unwrap_or_else(|| "fake-model".into()),
        tokens: if magic.markdown {
            answer::split_tokens(answer::MARKDOWN_ANSWER)
        } else if magic.echo {
            answer::echo_tokens(
                std::iter::once(system.as_str()).chain(messages.iter().map(|(_, t)| t.as_str())),
            )
        } else {
            answer::answer_tokens(&question, plan.tokens)
        },
        prompt_tokens: answer::prompt_tokens(
            std::iter::once(system.as_str()).chain(messages.iter().map(|(_, t)| t.as_str())),
        ),
        include_usage: body
            .pointer("/stream_options/include_usage")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        plan,
    };
    if stream {
        let steps = match dialect {
            Dialect::Anthropic => answer::anthropic_stream(&reply),
            Dialect::OpenAi | Dialect::Azure => answer::openai_stream(&reply),
        };
        return stream_reply(state, steps);
    }
    whole_reply(state, dialect, &reply).await
}

/// A non-streamed answer: as slow as the stream would be, then all at once.
/// Stall → never answers; drop → the connection is cut; malformed → not JSON.
async fn whole_reply(state: &State, dialect: Dialect, reply: &Answer) -> Response {
    let plan = &reply.plan;
    if plan.stall_after.is_some() {
        return stream_reply(state, vec![Step::Stall]);
    }
    if plan.drop_after.is_some() {
        return stream_reply(state, vec![Step::Drop]);
    }
    let wait = plan.first_token_delay + plan.token_delay * reply.tokens.len() as u32;
    if !wait.is_zero() {
        tokio::time::sleep(wait).await;
    }
    if plan.malformed_after.is_some() {
        let mut res = Response::new("{\"choices\": not json".into());
        res.headers_mut()
            .insert("content-type", HeaderValue::from_static("application/json"));
        return res;
    }
    let body = match dialect {
        Dialect::Anthropic => answer::anthropic_json(reply),
        Dialect::OpenAi | Dialect::Azure => answer::openai_json(reply),
    };
    json_reply(StatusCode::OK, &body)
}

fn json_reply(status: StatusCode, body: &Value) -> Response {
    warp::reply::with_status(warp::reply::json(body), status).into_response()
}

/// An error status in the dialect's shape; a 429 says `Retry-After: 1`.
fn error_reply(dialect: Dialect, status: u16) -> Response {
    let body = match dialect {
        Dialect::Anthropic => answer::anthropic_error(status),
        Dialect::OpenAi | Dialect::Azure => answer::openai_error(status),
    };
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut res = json_reply(code, &body);
    if status == 429 {
        res.headers_mut()
            .insert("retry-after", HeaderValue::from_static("1"));
    }
    res
}

/// An SSE response whose body a spawned task plays from `steps`.
fn stream_reply(state: &State, steps: Vec<Step>) -> Response {
    let (tx, rx) = mpsc::channel(16);
    let open = Open::new(state.streams.clone());
    let stop = state.stop.clone();
    tokio::spawn(async move {
        play(steps, tx, stop).await;
        drop(open);
    });
    let mut res = warp::reply::stream(ChannelBody(rx)).into_response();
    let headers = res.headers_mut();
    headers.insert(
        "content-type",
        HeaderValue::from_static("text/event-stream; charset=utf-8"),
    );
    headers.insert("cache-control", HeaderValue::from_static("no-cache"));
    res
}

type Chunk = Result<Bytes, io::Error>;

/// Counts one stream in [`State::streams`] while it lives.
struct Open(Arc<AtomicU64>);

impl Open {
    fn new(count: Arc<AtomicU64>) -> Open {
        count.fetch_add(1, Ordering::SeqCst);
        Open(count)
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// How long a drop waits for hyper to flush the tokens before it.
const FLUSH_GRACE: Duration = Duration::from_millis(20);

/// Plays the steps into the body channel. Stops early when the client went
/// away (the body, and with it the receiver, was dropped).
async fn play(steps: Vec<Step>, tx: mpsc::Sender<Chunk>, mut stop: watch::Receiver<bool>) {
    for step in steps {
        match step {
            Step::Wait(delay) => {
                if delay.is_zero() {
                    continue;
                }
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = tx.closed() => return,
                }
            }
            Step::Send(bytes) => {
                if tx.send(Ok(bytes)).await.is_err() {
                    return;
                }
            }
            Step::Stall => {
                tokio::select! {
                    _ = stop.wait_for(|stopped| *stopped) => {}
                    _ = tx.closed() => return,
                }
                let _ = tx.send(Err(io::Error::other("fake-llm is stopping"))).await;
                return;
            }
            Step::Drop => {
                // An error from the body makes hyper abort the connection
                // without the chunked terminator: the client sees a cut stream.
                // Hyper also discards what it has not flushed yet, so first
                // let it take everything sent and flush it (it flushes when
                // the body has nothing ready), as a real cut would find it.
                while tx.capacity() < tx.max_capacity() {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                tokio::time::sleep(FLUSH_GRACE).await;
                let _ = tx
                    .send(Err(io::Error::new(
                        io::ErrorKind::ConnectionAborted,
                        "fake-llm drops the connection",
                    )))
                    .await;
                return;
            }
        }
    }
}

/// The receiving end of [`play`] as the body stream warp wants.
struct ChannelBody(mpsc::Receiver<Chunk>);

impl warp::Stream for ChannelBody {
    type Item = Chunk;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Chunk>> {
        self.0.poll_recv(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn requests_are_routed_by_path_and_headers() {
        let none = headers(&[]);
        let anthropic = headers(&[("anthropic-version", "2023-06-01")]);
        let cases = [
            (
                Method::GET,
                "/v1/models",
                &none,
                Route::Models(Dialect::OpenAi),
            ),
            (
                Method::GET,
                "/v1/models",
                &anthropic,
                Route::Models(Dialect::Anthropic),
            ),
            (
                Method::POST,
                "/v1/chat/completions",
                &none,
                Route::Chat(Dialect::OpenAi, None),
            ),
            (
                Method::POST,
                "/v1/messages",
                &anthropic,
                Route::Chat(Dialect::Anthropic, None),
            ),
            (
                Method::GET,
                "/openai/deployments",
                &none,
                Route::Models(Dialect::Azure),
            ),
            (
                Method::POST,
                "/openai/deployments/prod/chat/completions",
                &none,
                Route::Chat(Dialect::Azure, Some("prod".into())),
            ),
            (Method::GET, "/v1/chat/completions", &none, Route::NotFound),
            (Method::POST, "/chat/completions", &none, Route::NotFound),
        ];
        for (method, path, headers, want) in cases {
            assert_eq!(route(&method, path, headers), want, "{method} {path}");
        }
    }

    #[test]
    fn each_dialect_checks_its_own_key_header() {
        let bearer = headers(&[("authorization", "Bearer k")]);
        let api_key = headers(&[("api-key", "k")]);
        let x_api_key = headers(&[("x-api-key", "k")]);
        assert!(key_presented(Dialect::OpenAi, &bearer, "k"));
        assert!(!key_presented(Dialect::OpenAi, &api_key, "k"));
        assert!(key_presented(Dialect::Azure, &api_key, "k"));
        assert!(key_presented(Dialect::Anthropic, &x_api_key, "k"));
        assert!(!key_presented(Dialect::Anthropic, &bearer, "k"));
    }
}
