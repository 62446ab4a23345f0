//! Streamed answers, timed event by event: through daehwa's
//! `POST /api/v1/conversations/{id}/messages` (`"stream": true`) and straight
//! from the fake upstream's `/v1/chat/completions`, so the difference between
//! the two is what daehwa adds.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::Method;
use serde_json::{json, Value};

use crate::client::{Conn, SseParser};

/// Longest wait for the next piece of a stream.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest a whole stream may take.
const STREAM_TIMEOUT: Duration = Duration::from_secs(180);

/// One streamed answer as the client saw it.
#[derive(Debug, Default)]
pub struct Trace {
    pub status: u16,
    /// When the request was sent.
    pub sent: Option<Instant>,
    /// Arrival of each token (a `delta` event, or a chunk with content).
    pub tokens: Vec<Instant>,
    /// Arrival of the end (`done` event, or `data: [DONE]`).
    pub done: Option<Instant>,
    /// The text of the tokens, concatenated.
    pub text: String,
    /// The final message's content and status (daehwa's `done` event).
    pub final_content: Option<String>,
    pub final_status: Option<String>,
    /// What went wrong, if anything (error event, timeout, bad sequence).
    pub error: Option<String>,
}

impl Trace {
    fn fail(&mut self, why: impl Into<String>) {
        if self.error.is_none() {
            self.error = Some(why.into());
        }
    }

    /// Time to the first token.
    pub fn ttft(&self) -> Option<Duration> {
        Some(*self.tokens.first()? - self.sent?)
    }

    /// Time to the end of the answer.
    pub fn total(&self) -> Option<Duration> {
        Some(self.done? - self.sent?)
    }

    /// Gaps between consecutive tokens, in microseconds.
    pub fn gaps_us(&self) -> impl Iterator<Item = u64> + '_ {
        self.tokens
            .windows(2)
            .map(|w| crate::stats::us(w[1] - w[0]))
    }
}

/// Which server a stream is read from, and how to read it.
#[derive(Clone)]
pub enum Target {
    /// daehwa: the conversation to ask in, authenticated by these headers.
    Daehwa {
        headers: Vec<(String, String)>,
        conversation: String,
    },
    /// The fake upstream directly, with the model's upstream id.
    Direct { model: String },
}

/// Opens a connection (not timed), sends the question, reads the whole stream.
pub async fn stream(addr: SocketAddr, target: &Target, question: &str) -> Trace {
    let mut trace = Trace::default();
    let mut conn = match tokio::time::timeout(Duration::from_secs(10), Conn::open(addr)).await {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => {
            trace.fail(e);
            return trace;
        }
        Err(_) => {
            trace.fail("connect timed out");
            return trace;
        }
    };
    let read = read_stream(&mut conn, target, question, &mut trace);
    if tokio::time::timeout(STREAM_TIMEOUT, read).await.is_err() {
        trace.fail(format!("stream not finished in {STREAM_TIMEOUT:?}"));
    }
    trace
}

async fn read_stream(conn: &mut Conn, target: &Target, question: &str, trace: &mut Trace) {
    let (path, headers, body) = match target {
        Target::Daehwa {
            headers,
            conversation,
        } => (
            format!("/api/v1/conversations/{conversation}/messages"),
            headers.clone(),
            json!({ "content": question, "stream": true }),
        ),
        Target::Direct { model } => (
            "/v1/chat/completions".to_string(),
            Vec::new(),
            json!({
                "model": model,
                "messages": [{ "role": "user", "content": question }],
                "stream": true,
                "stream_options": { "include_usage": true },
            }),
        ),
    };
    trace.sent = Some(Instant::now());
    let response = match conn
        .send(
            Method::POST,
            &path,
            &headers,
            Some(Bytes::from(body.to_string())),
        )
        .await
    {
        Ok(r) => r,
        Err(e) => return trace.fail(e),
    };
    trace.status = response.status().as_u16();
    let mut body = response.into_body();
    if trace.status != 200 {
        let text = body
            .collect()
            .await
            .map(|b| String::from_utf8_lossy(&b.to_bytes()).to_string())
            .unwrap_or_default();
        return trace.fail(format!("status {}: {text}", trace.status));
    }
    let mut parser = SseParser::default();
    let mut last_seq = 0u64;
    loop {
        let frame = match tokio::time::timeout(IDLE_TIMEOUT, body.frame()).await {
            Err(_) => return trace.fail(format!("nothing for {IDLE_TIMEOUT:?}")),
            Ok(None) => break,
            Ok(Some(Err(e))) => return trace.fail(format!("body: {e}")),
            Ok(Some(Ok(frame))) => frame,
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        let now = Instant::now();
        for event in parser.push(&data) {
            match target {
                Target::Daehwa { .. } => daehwa_event(trace, &event, now, &mut last_seq),
                Target::Direct { .. } => direct_event(trace, &event, now),
            }
        }
        if trace.done.is_some() {
            break;
        }
    }
    if trace.done.is_none() {
        trace.fail("the stream ended without its end event");
    }
}

fn daehwa_event(trace: &mut Trace, event: &crate::client::SseEvent, now: Instant, last: &mut u64) {
    match event.event.as_str() {
        "delta" => {
            let seq: u64 = event
                .id
                .as_deref()
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            if seq <= *last {
                trace.fail(format!("delta id {seq} after {last}"));
            }
            *last = seq;
            let v: Value = serde_json::from_str(&event.data).unwrap_or(Value::Null);
            trace
                .text
                .push_str(v["content"].as_str().unwrap_or_default());
            trace.tokens.push(now);
        }
        "done" => {
            let v: Value = serde_json::from_str(&event.data).unwrap_or(Value::Null);
            trace.final_content = v["content"].as_str().map(str::to_string);
            trace.final_status = v["status"].as_str().map(str::to_string);
            trace.done = Some(now);
        }
        "error" => {
            trace.fail(format!("error event: {}", event.data));
            trace.done = Some(now);
        }
        _ => {}
    }
}

fn direct_event(trace: &mut Trace, event: &crate::client::SseEvent, now: Instant) {
    if event.data == "[DONE]" {
        trace.done = Some(now);
        return;
    }
    let v: Value = serde_json::from_str(&event.data).unwrap_or(Value::Null);
    if v.get("error").is_some() {
        trace.fail(format!("error chunk: {}", event.data));
        return;
    }
    if let Some(piece) = v["choices"][0]["delta"]["content"].as_str() {
        if !piece.is_empty() {
            trace.text.push_str(piece);
            trace.tokens.push(now);
        }
    }
}

/// Checks a finished trace against the answer the fake must have given.
pub fn verify(trace: &Trace, expected: &str, tokens: usize, daehwa: bool) -> Option<String> {
    if let Some(e) = &trace.error {
        return Some(e.clone());
    }
    if trace.status != 200 {
        return Some(format!("status {}", trace.status));
    }
    if trace.tokens.len() != tokens {
        return Some(format!("{} tokens, wanted {tokens}", trace.tokens.len()));
    }
    if trace.text != expected {
        return Some("the streamed text differs from the fake's answer".into());
    }
    if daehwa {
        if trace.final_status.as_deref() != Some("complete") {
            return Some(format!("final status {:?}", trace.final_status));
        }
        if trace.final_content.as_deref() != Some(expected) {
            return Some("the saved answer differs from the streamed text".into());
        }
    }
    None
}
