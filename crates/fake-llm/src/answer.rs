//! What the fake says and in which wire format: the deterministic answer
//! text, token counts, the streamed event sequences of OpenAI and Anthropic
//! (as a list of [`Step`]s the server plays back), their JSON answers, model
//! lists and error bodies. Pure code, unit-tested here.

use std::time::Duration;

use bytes::Bytes;
use serde_json::{json, Value};

use crate::behavior::Plan;

/// One thing a streamed response does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Wait(Duration),
    Send(Bytes),
    /// Send nothing more but keep the connection open (until the client
    /// leaves or the fake stops).
    Stall,
    /// Abort the connection without finishing the chunked body.
    Drop,
}

/// The answer's tokens: `Token0`, ` Token1`, … — or `토큰0`, ` 토큰1`, … when the
/// question contains Hangul, so Korean text (multi-byte UTF-8 split across
/// reads) flows through every test that asks in Korean.
pub fn answer_tokens(question: &str, n: usize) -> Vec<String> {
    let word = if question.chars().any(is_hangul) {
        "토큰"
    } else {
        "Token"
    };
    (0..n)
        .map(|i| {
            if i == 0 {
                format!("{word}{i}")
            } else {
                format!(" {word}{i}")
            }
        })
        .collect()
}

/// The answer to a question with `[[markdown]]`: bold text, a list and a
/// fenced code block, with Korean in each, for rendering checks (browser tests).
pub const MARKDOWN_ANSWER: &str = "Here is a **Markdown** answer (**마크다운** 답변):

- the first item
- 두 번째 항목

```python
def hello():
    print(\"안녕하세요\")
```
";

/// Splits a text into streamed tokens, each ending after a space or a line
/// break, so their concatenation is the text again.
pub fn split_tokens(text: &str) -> Vec<String> {
    text.split_inclusive([' ', '\n'])
        .map(str::to_string)
        .collect()
}

/// The answer to a question with `[[echo]]`: every message's text, one per
/// paragraph, so a browser test can see what reached the model.
pub fn echo_tokens<'a>(texts: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let texts: Vec<&str> = texts.into_iter().filter(|t| !t.is_empty()).collect();
    split_tokens(&texts.join("\n\n"))
}

/// The whole answer text for `n` tokens (what a client should end up with).
pub fn answer_text(question: &str, n: usize) -> String {
    answer_tokens(question, n).concat()
}

fn is_hangul(c: char) -> bool {
    matches!(c, '\u{AC00}'..='\u{D7A3}' | '\u{1100}'..='\u{11FF}' | '\u{3130}'..='\u{318F}')
}

/// The prompt's token count the fake reports: whitespace-separated words of
/// every message. Deterministic, so tests can assert it.
pub fn prompt_tokens<'a>(texts: impl IntoIterator<Item = &'a str>) -> u32 {
    texts
        .into_iter()
        .map(|t| t.split_whitespace().count() as u32)
        .sum()
}

/// Everything a streamed or JSON answer needs to know.
#[derive(Debug, Clone)]
pub struct Reply {
    pub id: String,
    pub model: String,
    pub tokens: Vec<String>,
    pub prompt_tokens: u32,
    pub plan: Plan,
    /// OpenAI: the request asked for a usage chunk.
    pub include_usage: bool,
}

impl Reply {
    fn completion_tokens(&self) -> u32 {
        self.tokens.len() as u32
    }
}

fn sse_data(value: &Value) -> Bytes {
    Bytes::from(format!("data: {value}\n\n"))
}

fn sse_event(name: &str, value: &Value) -> Bytes {
    Bytes::from(format!("event: {name}\ndata: {value}\n\n"))
}

/// The token loop shared by both formats, with the stall / drop / malformed
/// knobs. Returns whether the answer may be finished normally.
fn token_steps(
    reply: &Reply,
    steps: &mut Vec<Step>,
    token: impl Fn(&str) -> Bytes,
    bad: Bytes,
) -> bool {
    let plan = &reply.plan;
    steps.push(Step::Wait(plan.first_token_delay));
    for (i, text) in reply.tokens.iter().enumerate() {
        if plan.stall_after == Some(i) {
            steps.push(Step::Stall);
            return false;
        }
        if plan.drop_after == Some(i) {
            steps.push(Step::Drop);
            return false;
        }
        if plan.malformed_after == Some(i) {
            steps.push(Step::Send(bad.clone()));
        }
        steps.push(Step::Wait(plan.token_delay));
        steps.push(Step::Send(token(text)));
    }
    // "After K tokens" with K = all of them still happens before the end.
    let n = reply.tokens.len();
    if plan.stall_after == Some(n) {
        steps.push(Step::Stall);
        return false;
    }
    if plan.drop_after == Some(n) {
        steps.push(Step::Drop);
        return false;
    }
    if plan.malformed_after == Some(n) {
        steps.push(Step::Send(bad));
    }
    true
}

fn openai_chunk(reply: &Reply, delta: Value, finish: Option<&str>) -> Value {
    json!({
        "id": reply.id,
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": reply.model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    })
}

/// OpenAI's stream: a role chunk, one chunk per token, a finish chunk, the
/// usage chunk (empty `choices`) when asked for, `data: [DONE]`.
pub fn openai_stream(reply: &Reply) -> Vec<Step> {
    let mut steps = vec![Step::Send(sse_data(&openai_chunk(
        reply,
        json!({"role": "assistant", "content": ""}),
        None,
    )))];
    let finished = token_steps(
        reply,
        &mut steps,
        |t| sse_data(&openai_chunk(reply, json!({"content": t}), None)),
        Bytes::from_static(b"data: {\"choices\": [{\"delta\": not json\n\n"),
    );
    if finished {
        steps.push(Step::Send(sse_data(&openai_chunk(
            reply,
            json!({}),
            Some("stop"),
        ))));
        if reply.include_usage && reply.plan.usage {
            steps.push(Step::Send(sse_data(&json!({
                "id": reply.id,
                "object": "chat.completion.chunk",
                "created": 1_700_000_000,
                "model": reply.model,
                "choices": [],
                "usage": openai_usage(reply),
            }))));
        }
        steps.push(Step::Send(Bytes::from_static(b"data: [DONE]\n\n")));
    }
    steps
}

fn openai_usage(reply: &Reply) -> Value {
    json!({
        "prompt_tokens": reply.prompt_tokens,
        "completion_tokens": reply.completion_tokens(),
        "total_tokens": reply.prompt_tokens + reply.completion_tokens(),
    })
}

/// OpenAI's non-streamed answer.
pub fn openai_json(reply: &Reply) -> Value {
    let mut answer = json!({
        "id": reply.id,
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": reply.model,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": reply.tokens.concat()},
            "finish_reason": "stop",
        }],
    });
    if reply.plan.usage {
        answer["usage"] = openai_usage(reply);
    }
    answer
}

/// Anthropic's stream, the real event sequence: `message_start`,
/// `content_block_start`, `ping`, one `content_block_delta` per token,
/// `content_block_stop`, `message_delta` (stop reason, output usage),
/// `message_stop`.
pub fn anthropic_stream(reply: &Reply) -> Vec<Step> {
    let mut usage = json!({"input_tokens": reply.prompt_tokens, "output_tokens": 1});
    if !reply.plan.usage {
        usage = Value::Null;
    }
    let mut steps = vec![
        Step::Send(sse_event(
            "message_start",
            &json!({"type": "message_start", "message": {
                "id": reply.id, "type": "message", "role": "assistant", "model": reply.model,
                "content": [], "stop_reason": null, "stop_sequence": null, "usage": usage,
            }}),
        )),
        Step::Send(sse_event(
            "content_block_start",
            &json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        )),
        Step::Send(sse_event("ping", &json!({"type": "ping"}))),
    ];
    let finished = token_steps(
        reply,
        &mut steps,
        |t| {
            sse_event(
                "content_block_delta",
                &json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": t}}),
            )
        },
        Bytes::from_static(b"event: content_block_delta\ndata: {\"type\": not json\n\n"),
    );
    if finished {
        let mut message_delta = json!({
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": null},
        });
        if reply.plan.usage {
            message_delta["usage"] = json!({"output_tokens": reply.completion_tokens()});
        }
        steps.push(Step::Send(sse_event(
            "content_block_stop",
            &json!({"type": "content_block_stop", "index": 0}),
        )));
        steps.push(Step::Send(sse_event("message_delta", &message_delta)));
        steps.push(Step::Send(sse_event(
            "message_stop",
            &json!({"type": "message_stop"}),
        )));
    }
    steps
}

/// Anthropic's non-streamed answer.
pub fn anthropic_json(reply: &Reply) -> Value {
    let mut answer = json!({
        "id": reply.id,
        "type": "message",
        "role": "assistant",
        "model": reply.model,
        "content": [{"type": "text", "text": reply.tokens.concat()}],
        "stop_reason": "end_turn",
        "stop_sequence": null,
    });
    if reply.plan.usage {
        answer["usage"] = json!({"input_tokens": reply.prompt_tokens, "output_tokens": reply.completion_tokens()});
    }
    answer
}

/// A human message for a failure status.
fn failure_message(status: u16) -> String {
    match status {
        401 => "Incorrect API key provided (fake-llm)".into(),
        404 => "The model does not exist (fake-llm)".into(),
        429 => "Rate limit reached (fake-llm)".into(),
        529 => "Overloaded".into(),
        _ => format!("fake-llm was told to fail with {status}"),
    }
}

/// OpenAI's error body `{"error": {"message", "type", "code"}}` (Azure's too).
pub fn openai_error(status: u16) -> Value {
    let (kind, code) = match status {
        401 => ("invalid_request_error", json!("invalid_api_key")),
        404 => ("invalid_request_error", json!("model_not_found")),
        429 => ("requests", json!("rate_limit_exceeded")),
        400..=499 => ("invalid_request_error", Value::Null),
        _ => ("server_error", Value::Null),
    };
    json!({"error": {"message": failure_message(status), "type": kind, "param": null, "code": code}})
}

/// The error inside an OpenAI-style stream (OpenRouter's shape: a numeric code).
pub fn openai_stream_error(status: u16) -> Vec<Step> {
    let body = json!({"error": {"message": failure_message(status), "type": "server_error", "code": status}});
    vec![Step::Send(sse_data(&body))]
}

/// Anthropic's error type for a status.
pub fn anthropic_error_type(status: u16) -> &'static str {
    match status {
        400 => "invalid_request_error",
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        529 | 503 => "overloaded_error",
        _ => "api_error",
    }
}

/// Anthropic's error body `{"type": "error", "error": {"type", "message"}}`.
pub fn anthropic_error(status: u16) -> Value {
    json!({"type": "error", "error": {"type": anthropic_error_type(status), "message": failure_message(status)}})
}

/// The `event: error` Anthropic sends mid-stream (e.g. `overloaded_error`).
pub fn anthropic_stream_error(status: u16) -> Vec<Step> {
    vec![Step::Send(sse_event("error", &anthropic_error(status)))]
}

/// Who "owns" a model in the OpenAI list, roughly as real servers say.
fn owner(id: &str) -> &'static str {
    if id.starts_with("gpt") || id.starts_with('o') {
        "openai"
    } else if id.starts_with("claude") {
        "anthropic"
    } else {
        "library"
    }
}

/// `GET /v1/models`, OpenAI shape.
pub fn openai_models(models: &[String]) -> Value {
    let data: Vec<Value> = models
        .iter()
        .map(|id| json!({"id": id, "object": "model", "created": 1_700_000_000, "owned_by": owner(id)}))
        .collect();
    json!({"object": "list", "data": data})
}

/// `GET /v1/models`, Anthropic shape.
pub fn anthropic_models(models: &[String]) -> Value {
    let data: Vec<Value> = models
        .iter()
        .map(|id| json!({"id": id, "display_name": id, "type": "model", "created_at": "2024-10-22T00:00:00Z"}))
        .collect();
    json!({
        "data": data,
        "has_more": false,
        "first_id": models.first(),
        "last_id": models.last(),
    })
}

/// `GET /openai/deployments`, Azure shape: one deployment per model id.
pub fn azure_deployments(models: &[String]) -> Value {
    let data: Vec<Value> = models
        .iter()
        .map(|id| {
            json!({"id": id, "model": id, "object": "deployment", "status": "succeeded", "owner": "organization-owner"})
        })
        .collect();
    json!({"object": "list", "data": data})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::behavior::{Behavior, Magic};

    fn reply(behavior: Behavior, tokens: usize) -> Reply {
        Reply {
            id: "x".into(),
            model: "m".into(),
            tokens: answer_tokens("q", tokens),
            prompt_tokens: 3,
            plan: Plan::new(&behavior, &Magic::default()),
            include_usage: true,
        }
    }

    fn sent(steps: &[Step]) -> String {
        steps
            .iter()
            .filter_map(|s| match s {
                Step::Send(b) => Some(String::from_utf8_lossy(b).into_owned()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn the_markdown_answer_has_bold_a_list_and_korean_code() {
        let tokens = split_tokens(MARKDOWN_ANSWER);
        assert!(tokens.len() > 10, "streamed in many pieces");
        assert_eq!(tokens.concat(), MARKDOWN_ANSWER);
        assert!(MARKDOWN_ANSWER.contains("**Markdown**"));
        assert!(MARKDOWN_ANSWER.contains("\n- the first item\n- 두 번째 항목\n"));
        assert!(
            MARKDOWN_ANSWER.contains("```python\ndef hello():\n    print(\"안녕하세요\")\n```\n")
        );
    }

    #[test]
    fn echo_repeats_every_message() {
        let tokens = echo_tokens(["system rules", "", "배포는 금요일 [[echo]]"]);
        assert_eq!(tokens.concat(), "system rules\n\n배포는 금요일 [[echo]]");
    }

    #[test]
    fn answers_are_deterministic_and_korean_questions_get_korean_tokens() {
        assert_eq!(answer_text("hello", 3), "Token0 Token1 Token2");
        assert_eq!(answer_text("안녕하세요", 2), "토큰0 토큰1");
        assert!(answer_tokens("x", 0).is_empty());
        assert_eq!(prompt_tokens(["be brief", "how are you"]), 5);
    }

    #[test]
    fn an_openai_stream_ends_with_usage_and_done() {
        let steps = openai_stream(&reply(Behavior::default(), 2));
        let text = sent(&steps);
        assert!(text.contains(r#""delta":{"content":"Token0"}"#), "{text}");
        assert!(text.contains(r#""completion_tokens":2"#), "{text}");
        assert!(text.ends_with("data: [DONE]\n\n"), "{text}");
    }

    #[test]
    fn a_dropped_openai_stream_has_no_done_and_ends_in_a_drop() {
        let steps = openai_stream(&reply(
            Behavior {
                drop_after: Some(1),
                ..Behavior::default()
            },
            3,
        ));
        assert_eq!(steps.last(), Some(&Step::Drop));
        let text = sent(&steps);
        assert!(
            text.contains("Token0") && !text.contains("Token1"),
            "{text}"
        );
        assert!(!text.contains("[DONE]"));
    }

    #[test]
    fn a_stall_after_every_token_still_sends_them_all() {
        let steps = anthropic_stream(&reply(
            Behavior {
                stall_after: Some(2),
                ..Behavior::default()
            },
            2,
        ));
        assert_eq!(steps.last(), Some(&Step::Stall));
        assert!(sent(&steps).contains("Token1"));
        assert!(!sent(&steps).contains("message_stop"));
    }

    #[test]
    fn a_malformed_chunk_comes_after_k_tokens() {
        let steps = openai_stream(&reply(
            Behavior {
                malformed_after: Some(1),
                ..Behavior::default()
            },
            2,
        ));
        let text = sent(&steps);
        let bad = text.find("not json").unwrap();
        assert!(text.find("Token0").unwrap() < bad && bad < text.find("Token1").unwrap());
    }

    #[test]
    fn an_anthropic_stream_has_the_real_event_sequence() {
        let text = sent(&anthropic_stream(&reply(Behavior::default(), 1)));
        let order = [
            "event: message_start",
            "event: content_block_start",
            "event: ping",
            "event: content_block_delta",
            "event: content_block_stop",
            "event: message_delta",
            "event: message_stop",
        ];
        let positions: Vec<usize> = order.iter().map(|e| text.find(e).unwrap()).collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{text}");
        assert!(text.contains(r#""input_tokens":3"#));
    }

    #[test]
    fn without_usage_nothing_is_reported() {
        let r = reply(
            Behavior {
                usage: false,
                ..Behavior::default()
            },
            1,
        );
        assert!(!sent(&openai_stream(&r)).contains("completion_tokens"));
        assert!(openai_json(&r).get("usage").is_none());
        assert!(!sent(&anthropic_stream(&r)).contains("output_tokens"));
    }

    #[test]
    fn errors_have_each_providers_shape() {
        assert_eq!(openai_error(401)["error"]["code"], "invalid_api_key");
        assert_eq!(anthropic_error(529)["error"]["type"], "overloaded_error");
        assert_eq!(anthropic_error(401)["type"], "error");
    }
}
