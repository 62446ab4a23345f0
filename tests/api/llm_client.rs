//! `daehwa::llm` against the fake upstream (`fake_llm`) over real HTTP on
//! loopback: streamed and whole answers, model lists, retries, timeouts, cut
//! and malformed streams, cancelling, refused connections — for every provider
//! kind where the case applies.
//!
//! The client is blocking (ureq), so each call runs in `spawn_blocking` while
//! the fake serves on the test's multi-threaded runtime. Scenarios that hold
//! for every kind are `async fn scenario(kind)`, run for the three kinds at
//! once by [`for_each_kind`] (retry waits then overlap instead of adding up).

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use daehwa::llm::{self, ChatMessage, ChatRequest, ChatRole, Endpoint, Kind, LlmError, Usage};
use fake_llm::{answer_tokens, prompt_tokens, Behavior, Config, FakeLlm};
use serde_json::json;

const KEY: &str = "test-key";
const SYSTEM: &str = "Answer briefly.";
const QUESTION: &str = "안녕하세요, 오늘 날씨 어때요?";

/// A fake that insists on [`KEY`].
async fn fake(behavior: Behavior) -> FakeLlm {
    FakeLlm::start(Config {
        behavior: Behavior {
            api_key: Some(KEY.into()),
            ..behavior
        },
        ..Config::default()
    })
    .await
}

/// An endpoint of `kind` pointed at the fake, with short but safe timeouts.
fn endpoint(kind: Kind, fake: &FakeLlm) -> Endpoint {
    let base = match kind {
        Kind::OpenAi => fake.openai_url(),
        Kind::Azure | Kind::Anthropic => fake.url(),
    };
    Endpoint {
        kind,
        base_url: base,
        api_key: Some(KEY.into()),
        no_proxy: false,
        connect_timeout: Duration::from_secs(2),
        idle_timeout: Duration::from_secs(10),
    }
}

fn request(question: &str) -> ChatRequest {
    ChatRequest {
        model: "claude-3-5-haiku-latest".into(),
        messages: vec![
            ChatMessage::new(ChatRole::System, SYSTEM),
            ChatMessage::new(ChatRole::User, question),
        ],
        max_tokens: None,
    }
}

/// What a streamed call gave.
struct Streamed {
    result: Result<Usage, LlmError>,
    deltas: Vec<String>,
    took: Duration,
}

impl Streamed {
    fn text(&self) -> String {
        self.deltas.concat()
    }
}

/// Streams on a blocking thread. With `cancel_after`, the cancel flag is set
/// from inside the callback once that many deltas arrived; `on_delta_count`
/// hears about every delta (for tests that act from outside).
async fn stream_with(
    ep: Endpoint,
    req: ChatRequest,
    cancel: Arc<AtomicBool>,
    cancel_after: Option<usize>,
    on_delta_count: Option<mpsc::Sender<usize>>,
) -> Streamed {
    tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let mut deltas = Vec::new();
        let result = llm::stream_chat(&ep, &req, &cancel, &mut |delta| {
            deltas.push(delta.to_string());
            if Some(deltas.len()) == cancel_after {
                cancel.store(true, Ordering::Release);
            }
            if let Some(tx) = &on_delta_count {
                let _ = tx.send(deltas.len());
            }
        });
        Streamed {
            result,
            deltas,
            took: started.elapsed(),
        }
    })
    .await
    .expect("the blocking call does not panic")
}

async fn stream(ep: Endpoint, req: ChatRequest) -> Streamed {
    stream_with(ep, req, Arc::new(AtomicBool::new(false)), None, None).await
}

async fn complete(ep: Endpoint, req: ChatRequest) -> Result<(String, Usage), LlmError> {
    tokio::task::spawn_blocking(move || llm::complete(&ep, &req))
        .await
        .unwrap()
}

async fn list_models(ep: Endpoint) -> Result<Vec<llm::DiscoveredModel>, LlmError> {
    tokio::task::spawn_blocking(move || llm::list_models(&ep))
        .await
        .unwrap()
}

/// Runs `scenario` for the three kinds concurrently; a failing kind panics
/// with its own message.
async fn for_each_kind<F, Fut>(scenario: F)
where
    F: Fn(Kind) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let runs: Vec<_> = Kind::ALL
        .into_iter()
        .map(|kind| (kind, tokio::spawn(scenario(kind))))
        .collect();
    for (kind, run) in runs {
        if let Err(e) = run.await {
            panic!("{kind}: {e}");
        }
    }
}

/// Waits (polling, bounded) until the fake has seen `n` requests.
async fn until_requests(fake: &FakeLlm, n: usize) {
    let what = format!("the fake seeing {n} requests");
    crate::helpers::eventually(&what, async || (fake.requests().len() >= n).then_some(())).await;
}

fn status_of(result: &Result<Usage, LlmError>) -> Option<u16> {
    match result {
        Err(LlmError::Status { status, .. }) => Some(*status),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamed_answer_arrives_in_order_and_complete_with_usage() {
    for_each_kind(|kind| async move {
        let fake = fake(Behavior::default()).await;
        let got = stream(endpoint(kind, &fake), request(QUESTION)).await;

        assert_eq!(
            got.deltas,
            answer_tokens(QUESTION, 20),
            "one delta per token, in order, Korean intact"
        );
        assert_eq!(
            got.result,
            Ok(Usage {
                prompt_tokens: prompt_tokens([SYSTEM, QUESTION]),
                completion_tokens: 20
            })
        );

        let seen = fake.requests();
        assert_eq!(seen.len(), 1);
        let sent = &seen[0];
        assert_eq!(sent.method, "POST");
        match kind {
            Kind::OpenAi => {
                assert_eq!(sent.path, "/v1/chat/completions");
                assert_eq!(sent.header("authorization"), Some("Bearer test-key"));
                assert_eq!(sent.body["stream_options"], json!({"include_usage": true}));
                assert_eq!(
                    sent.body["messages"][0],
                    json!({"role": "system", "content": SYSTEM})
                );
            }
            Kind::Azure => {
                assert_eq!(
                    sent.path,
                    "/openai/deployments/claude-3-5-haiku-latest/chat/completions"
                );
                assert_eq!(sent.query, "api-version=2024-10-21");
                assert_eq!(sent.header("api-key"), Some(KEY));
                assert_eq!(sent.header("authorization"), None);
                assert_eq!(sent.body["stream_options"], json!({"include_usage": true}));
            }
            Kind::Anthropic => {
                assert_eq!(sent.path, "/v1/messages");
                assert_eq!(sent.header("x-api-key"), Some(KEY));
                assert_eq!(sent.header("anthropic-version"), Some("2023-06-01"));
                assert_eq!(sent.body["system"], json!(SYSTEM));
                assert_eq!(sent.body["max_tokens"], json!(4096));
                assert_eq!(
                    sent.body["messages"],
                    json!([{"role": "user", "content": QUESTION}])
                );
            }
        }
        assert_eq!(sent.body["stream"], json!(true));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_answer_comes_back_with_usage_and_is_retried_like_a_stream() {
    for_each_kind(|kind| async move {
        let fake = fake(Behavior {
            tokens: 4,
            fail_with: Some((503, 1)),
            ..Behavior::default()
        })
        .await;
        let mut req = request("Title for: how do tides work?");
        req.max_tokens = Some(20);
        let got = complete(endpoint(kind, &fake), req).await;
        assert_eq!(
            got,
            Ok((
                "Token0 Token1 Token2 Token3".to_string(),
                Usage {
                    prompt_tokens: prompt_tokens([SYSTEM, "Title for: how do tides work?"]),
                    completion_tokens: 4
                }
            ))
        );
        let seen = fake.requests();
        assert_eq!(seen.len(), 2, "one 503, then the answer");
        assert_eq!(seen[1].body["stream"], json!(false));
        let limit = match kind {
            Kind::OpenAi => &seen[1].body["max_tokens"],
            Kind::Azure => &seen[1].body["max_completion_tokens"],
            Kind::Anthropic => &seen[1].body["max_tokens"],
        };
        assert_eq!(limit, &json!(20));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn model_lists_are_discovered_for_every_kind() {
    let fake = fake(Behavior {
        models: vec![
            "gpt-4o-mini".into(),
            "llama3.2:3b".into(),
            "claude-3-5-haiku-latest".into(),
        ],
        ..Behavior::default()
    })
    .await;
    for kind in Kind::ALL {
        let models = list_models(endpoint(kind, &fake)).await.unwrap();
        let ids: Vec<&str> = models.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(
            ids,
            ["gpt-4o-mini", "llama3.2:3b", "claude-3-5-haiku-latest"],
            "{kind}"
        );
        let vendors: Vec<&str> = models.iter().map(|m| m.vendor.as_str()).collect();
        // Anthropic's list holds only Anthropic's models, whatever the fake calls them.
        let want = match kind {
            Kind::Anthropic => ["Anthropic"; 3],
            Kind::OpenAi | Kind::Azure => ["OpenAI", "Meta", "Anthropic"],
        };
        assert_eq!(vendors, want, "{kind}");
    }
    let seen = fake.requests();
    assert_eq!(seen[0].path, "/v1/models");
    assert_eq!(seen[0].header("authorization"), Some("Bearer test-key"));
    assert_eq!(seen[1].path, "/openai/deployments");
    assert_eq!(seen[1].header("api-key"), Some(KEY));
    assert_eq!(seen[2].path, "/v1/models");
    assert_eq!(seen[2].header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(seen[2].query, "limit=1000");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_without_a_deployments_listing_gives_an_empty_list_but_a_wrong_key_is_an_error() {
    let fake = fake(Behavior {
        fail_with: Some((404, 1)),
        ..Behavior::default()
    })
    .await;
    assert_eq!(list_models(endpoint(Kind::Azure, &fake)).await, Ok(vec![]));

    let mut wrong = endpoint(Kind::Azure, &fake);
    wrong.api_key = Some("wrong".into());
    let err = list_models(wrong).await.unwrap_err();
    assert!(
        matches!(err, LlmError::Status { status: 401, .. }),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_is_retried_after_its_retry_after_and_then_answers() {
    for_each_kind(|kind| async move {
        let fake = fake(Behavior {
            tokens: 3,
            fail_with: Some((429, 1)),
            ..Behavior::default()
        })
        .await;
        let got = stream(endpoint(kind, &fake), request("hi")).await;
        assert!(got.result.is_ok(), "{:?}", got.result);
        assert_eq!(got.text(), "Token0 Token1 Token2");
        let seen = fake.requests();
        assert_eq!(seen.len(), 2);
        let waited = seen[1].at - seen[0].at;
        assert!(
            waited >= Duration::from_millis(990),
            "Retry-After: 1 was not honoured: {waited:?}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_500_three_times_fails_with_that_status_after_three_attempts() {
    for_each_kind(|kind| async move {
        let fake = fake(Behavior {
            fail_with: Some((500, 3)),
            ..Behavior::default()
        })
        .await;
        let got = stream(endpoint(kind, &fake), request("hi")).await;
        match &got.result {
            Err(LlmError::Status {
                status: 500,
                message,
            }) => {
                assert!(message.contains("fake-llm was told to fail"), "{message}")
            }
            other => panic!("{other:?}"),
        }
        assert!(got.deltas.is_empty());
        assert_eq!(fake.requests().len(), 3);
        // Backoff with jitter: at least 0.375 s + 0.75 s between the attempts.
        assert!(got.took >= Duration::from_millis(1100), "{:?}", got.took);
        assert_eq!(got.result.unwrap_err().status(), 502);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_is_refused_with_401_and_not_retried() {
    for_each_kind(|kind| async move {
        let fake = fake(Behavior::default()).await;
        let mut ep = endpoint(kind, &fake);
        ep.api_key = Some("wrong".into());
        let got = stream(ep, request("hi")).await;
        assert_eq!(status_of(&got.result), Some(401), "{:?}", got.result);
        let err = got.result.unwrap_err();
        assert!(err.to_string().contains("401"), "{err}");
        assert!(
            !err.to_string().contains("wrong"),
            "the key is never in the message: {err}"
        );
        assert_eq!(fake.requests().len(), 1);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_stream_ends_with_a_timeout_after_the_idle_timeout() {
    for_each_kind(|kind| async move {
        let fake = fake(Behavior {
            stall_after: Some(3),
            ..Behavior::default()
        })
        .await;
        let mut ep = endpoint(kind, &fake);
        ep.idle_timeout = Duration::from_millis(500);
        let got = stream(ep, request("hi")).await;
        assert_eq!(got.result, Err(LlmError::Timeout));
        assert_eq!(got.text(), "Token0 Token1 Token2");
        assert!(got.took >= Duration::from_millis(500), "{:?}", got.took);
        assert!(got.took < Duration::from_secs(5), "{:?}", got.took);
        assert_eq!(
            fake.requests().len(),
            1,
            "never retried after the first delta"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_dropped_mid_stream_is_an_error_not_a_complete_answer() {
    for_each_kind(|kind| async move {
        let fake = fake(Behavior {
            drop_after: Some(3),
            ..Behavior::default()
        })
        .await;
        let got = stream(endpoint(kind, &fake), request("hi")).await;
        assert!(
            matches!(got.result, Err(LlmError::Connect(_))),
            "{:?}",
            got.result
        );
        assert_eq!(got.text(), "Token0 Token1 Token2");
        assert_eq!(
            fake.requests().len(),
            1,
            "never retried after the first delta"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_dropped_before_the_first_token_is_retried() {
    let fake = fake(Behavior::default()).await;
    let got = stream(endpoint(Kind::OpenAi, &fake), request("hi [[drop:0]]")).await;
    assert!(
        matches!(got.result, Err(LlmError::Connect(_))),
        "{:?}",
        got.result
    );
    assert!(got.deltas.is_empty());
    assert_eq!(fake.requests().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunk_that_is_not_json_is_reported_as_malformed() {
    for_each_kind(|kind| async move {
        let fake = fake(Behavior {
            malformed_after: Some(2),
            ..Behavior::default()
        })
        .await;
        let got = stream(endpoint(kind, &fake), request("hi")).await;
        assert!(
            matches!(got.result, Err(LlmError::Malformed(_))),
            "{:?}",
            got.result
        );
        assert_eq!(got.text(), "Token0 Token1");
        assert_eq!(fake.requests().len(), 1);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setting_the_cancel_flag_mid_stream_stops_at_the_next_chunk() {
    for_each_kind(|kind| async move {
        let fake = fake(Behavior {
            token_delay: Duration::from_millis(20),
            ..Behavior::default()
        })
        .await;
        let cancel = Arc::new(AtomicBool::new(false));
        let got = stream_with(endpoint(kind, &fake), request("hi"), cancel, Some(3), None).await;
        assert_eq!(got.result, Err(LlmError::Cancelled));
        assert_eq!(
            got.text(),
            "Token0 Token1 Token2",
            "nothing after the cancel"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_silent_upstream_does_not_wait_for_the_idle_timeout() {
    for_each_kind(|kind| async move {
        let fake = fake(Behavior {
            stall_after: Some(2),
            ..Behavior::default()
        })
        .await;
        let mut ep = endpoint(kind, &fake);
        ep.idle_timeout = Duration::from_secs(30);
        let cancel = Arc::new(AtomicBool::new(false));
        let (tx, rx) = mpsc::channel();
        let call = tokio::spawn(stream_with(
            ep,
            request("hi"),
            cancel.clone(),
            None,
            Some(tx),
        ));
        // Once both tokens are in, the reader is (or is about to be) blocked
        // on a socket that will stay silent.
        tokio::task::spawn_blocking(move || while rx.recv().unwrap() < 2 {})
            .await
            .unwrap();
        let cancelled_at = Instant::now();
        cancel.store(true, Ordering::Release);
        let got = call.await.unwrap();
        assert_eq!(got.result, Err(LlmError::Cancelled));
        assert!(
            cancelled_at.elapsed() < Duration::from_secs(3),
            "{:?}",
            cancelled_at.elapsed()
        );
        assert_eq!(got.text(), "Token0 Token1");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_during_a_retry_wait_ends_the_call_at_once() {
    let fake = fake(Behavior {
        fail_with: Some((429, 3)),
        ..Behavior::default()
    })
    .await;
    let cancel = Arc::new(AtomicBool::new(false));
    let call = tokio::spawn(stream_with(
        endpoint(Kind::OpenAi, &fake),
        request("hi"),
        cancel.clone(),
        None,
        None,
    ));
    until_requests(&fake, 1).await;
    let cancelled_at = Instant::now();
    cancel.store(true, Ordering::Release);
    let got = call.await.unwrap();
    assert_eq!(got.result, Err(LlmError::Cancelled));
    // Retry-After asked for a whole second; the cancel cut the wait short.
    assert!(
        cancelled_at.elapsed() < Duration::from_millis(800),
        "{:?}",
        cancelled_at.elapsed()
    );
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_connection_is_a_connect_error_after_three_attempts() {
    // A port nobody listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let ep = Endpoint::new(Kind::OpenAi, format!("http://127.0.0.1:{port}/v1"), None);
    let got = stream(ep, request("hi")).await;
    match &got.result {
        Err(err @ LlmError::Connect(_)) => {
            assert_eq!(err.status(), 502);
            assert!(err.to_string().contains("refused"), "{err}");
        }
        other => panic!("{other:?}"),
    }
    assert!(
        got.took >= Duration::from_millis(1100),
        "retried with backoff: {:?}",
        got.took
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overloaded_error_inside_the_stream_before_the_first_token_is_retried() {
    for_each_kind(|kind| async move {
        let fake = fake(Behavior {
            tokens: 2,
            fail_with: Some((529, 1)),
            fail_in_stream: true,
            ..Behavior::default()
        })
        .await;
        let got = stream(endpoint(kind, &fake), request("hi")).await;
        assert!(got.result.is_ok(), "{:?}", got.result);
        assert_eq!(got.text(), "Token0 Token1");
        assert_eq!(fake.requests().len(), 2);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_that_reports_no_usage_gives_zeros_for_the_caller_to_estimate() {
    for_each_kind(|kind| async move {
        let fake = fake(Behavior {
            tokens: 2,
            usage: false,
            ..Behavior::default()
        })
        .await;
        let got = stream(endpoint(kind, &fake), request("hi")).await;
        assert_eq!(got.result, Ok(Usage::default()));
        assert_eq!(got.text(), "Token0 Token1");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_answer_comes_through_whole_streamed_and_not() {
    // 12,000 tokens: about 130 KB of text, a JSON answer many times ureq's
    // input buffer and far more SSE events than one read holds.
    for_each_kind(|kind| async move {
        let fake = fake(Behavior {
            tokens: 12_000,
            ..Behavior::default()
        })
        .await;
        let got = stream(endpoint(kind, &fake), request(QUESTION)).await;
        assert!(got.result.is_ok(), "{:?}", got.result);
        assert_eq!(got.text(), fake_llm::answer_text(QUESTION, 12_000));

        let (text, usage) = complete(endpoint(kind, &fake), request(QUESTION))
            .await
            .unwrap();
        assert!(text.len() > 100_000);
        assert_eq!(text, fake_llm::answer_text(QUESTION, 12_000));
        assert_eq!(usage.completion_tokens, 12_000);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_conversation_is_sent_whole() {
    let fake = fake(Behavior {
        tokens: 3,
        ..Behavior::default()
    })
    .await;
    let question = "긴 질문 ".repeat(40_000); // 440 KB
    let got = stream(endpoint(Kind::OpenAi, &fake), request(&question)).await;
    assert!(got.result.is_ok(), "{:?}", got.result);
    assert_eq!(got.text(), fake_llm::answer_text(&question, 3));
    assert_eq!(
        fake.requests()[0].body["messages"][1]["content"],
        json!(question)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_streams_finish_and_cancels_cut_only_their_own() {
    // 3 × 30 streams at once on the shared agents; every third one is
    // cancelled from inside its callback after two tokens.
    for_each_kind(|kind| async move {
        let fake = fake(Behavior {
            tokens: 10,
            token_delay: Duration::from_millis(20),
            ..Behavior::default()
        })
        .await;
        let calls: Vec<_> = (0..30)
            .map(|i| {
                let cancel_after = (i % 3 == 0).then_some(2);
                tokio::spawn(stream_with(
                    endpoint(kind, &fake),
                    request("hi"),
                    Arc::new(AtomicBool::new(false)),
                    cancel_after,
                    None,
                ))
            })
            .collect();
        for (i, call) in calls.into_iter().enumerate() {
            let got = call.await.unwrap();
            if i % 3 == 0 {
                assert_eq!(got.result, Err(LlmError::Cancelled), "{i}");
                assert_eq!(got.text(), "Token0 Token1", "{i}");
            } else {
                assert!(got.result.is_ok(), "{i}: {:?}", got.result);
                assert_eq!(got.text(), fake_llm::answer_text("hi", 10), "{i}");
            }
        }
        assert_eq!(fake.requests().len(), 30);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_of_a_silent_stream_is_noticed_within_the_poll() {
    let fake = fake(Behavior {
        stall_after: Some(1),
        ..Behavior::default()
    })
    .await;
    let cancel = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel();
    let call = tokio::spawn(stream_with(
        endpoint(Kind::OpenAi, &fake),
        request("hi"),
        cancel.clone(),
        None,
        Some(tx),
    ));
    tokio::task::spawn_blocking(move || rx.recv().unwrap())
        .await
        .unwrap();
    // Let the reader block on the silent socket: cancelling a blocked read is
    // the behaviour under test, and a blocked read shows nothing to poll.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let cancelled_at = Instant::now();
    cancel.store(true, Ordering::Release);
    let got = call.await.unwrap();
    assert_eq!(got.result, Err(LlmError::Cancelled));
    let late = cancelled_at.elapsed();
    // The watcher looks every 50 ms; the rest is a busy machine's slack.
    assert!(late < Duration::from_millis(500), "{late:?}");
    assert_eq!(got.text(), "Token0");
}
