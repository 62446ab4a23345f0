//! Anthropic's Messages API: request building and parsing of its answers and
//! its named SSE events. Pure functions only.

use serde_json::{json, Map, Value};

use super::sse::SseEvent;
use super::{
    ChatMessage, ChatRequest, ChatRole, DiscoveredModel, Endpoint, HttpRequest, Kind, LlmError,
    Piece, Usage,
};

/// The API version every request names (the one Anthropic documents as current).
pub(crate) const API_VERSION: &str = "2023-06-01";

/// Anthropic requires `max_tokens`; this is used when the caller sets none.
pub(crate) const DEFAULT_MAX_TOKENS: u32 = 4096;

/// `https://api.anthropic.com`, tolerating a pasted trailing `/v1`.
fn base(ep: &Endpoint) -> &str {
    let base = ep.base();
    base.strip_suffix("/v1").unwrap_or(base)
}

fn headers(ep: &Endpoint) -> Vec<(&'static str, String)> {
    let mut headers = vec![("anthropic-version", API_VERSION.to_string())];
    if let Some(key) = ep.key() {
        headers.push(("x-api-key", key.trim().to_string()));
    }
    headers
}

/// POST `{base}/v1/messages`. System messages go to the top-level `system`
/// field (joined by a blank line if there are several). Messages with blank
/// content are left out: Anthropic rejects empty text blocks, and a failed
/// earlier answer can leave one in the history.
/// A message's `content`: its text, or with images the blocks form (images
/// first, as Anthropic advises: `[{type: image, source: {type: base64,
/// media_type, data}}, {type: text}]`).
fn content(m: &ChatMessage) -> Value {
    if m.images.is_empty() {
        return json!(m.content);
    }
    let mut blocks: Vec<Value> = m
        .images
        .iter()
        .map(|image| {
            json!({"type": "image", "source": {
                "type": "base64", "media_type": image.media_type, "data": image.base64()}})
        })
        .collect();
    if !m.content.trim().is_empty() {
        blocks.push(json!({"type": "text", "text": m.content}));
    }
    Value::Array(blocks)
}

pub(crate) fn build_request(ep: &Endpoint, req: &ChatRequest, stream: bool) -> HttpRequest {
    let system: Vec<&str> = req
        .messages
        .iter()
        .filter(|m| m.role == ChatRole::System && !m.content.trim().is_empty())
        .map(|m| m.content.as_str())
        .collect();
    let messages: Vec<Value> = req
        .messages
        .iter()
        .filter(|m| {
            m.role != ChatRole::System && (!m.content.trim().is_empty() || !m.images.is_empty())
        })
        .map(|m| json!({"role": m.role.as_str(), "content": content(m)}))
        .collect();
    let mut body = Map::new();
    body.insert("model".into(), json!(req.model));
    body.insert(
        "max_tokens".into(),
        json!(req.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS)),
    );
    if !system.is_empty() {
        body.insert("system".into(), json!(system.join("\n\n")));
    }
    body.insert("messages".into(), Value::Array(messages));
    body.insert("stream".into(), json!(stream));
    let mut headers = headers(ep);
    if stream {
        headers.extend(super::stream_headers());
    }
    HttpRequest {
        kind: Kind::Anthropic,
        url: format!("{}/v1/messages", base(ep)),
        headers,
        body: Some(Value::Object(body)),
    }
}

/// One named SSE event: `message_start` (input usage), `content_block_delta`
/// (text), `message_delta` (output usage), `message_stop` (done), `ping`,
/// `error`. Unknown events are ignored, as Anthropic asks of clients.
pub(crate) fn parse_event(event: &SseEvent) -> Result<Piece, LlmError> {
    let value: Value = serde_json::from_str(event.data.trim())
        .map_err(|e| LlmError::Malformed(format!("a streamed event is not JSON ({e})")))?;
    if !value.is_object() {
        return Err(LlmError::Malformed(
            "a streamed event is not a JSON object".into(),
        ));
    }
    let kind = value
        .get("type")
        .and_then(Value::as_str)
        .or(event.event.as_deref())
        .unwrap_or_default();
    let mut piece = Piece::default();
    match kind {
        "message_start" => {
            let (prompt, completion) = usage_fields(value.pointer("/message/usage"));
            piece.prompt_tokens = prompt;
            piece.completion_tokens = completion;
        }
        // Only text: thinking and tool-input deltas are not part of the answer.
        "content_block_delta"
            if value.pointer("/delta/type").and_then(Value::as_str) == Some("text_delta") =>
        {
            if let Some(text) = value.pointer("/delta/text").and_then(Value::as_str) {
                piece.text = text.to_string();
            }
        }
        "message_delta" => {
            // `output_tokens` here is the running total, so it replaces the
            // value from `message_start`.
            let (prompt, completion) = usage_fields(value.get("usage"));
            piece.prompt_tokens = prompt;
            piece.completion_tokens = completion;
        }
        "message_stop" => piece.done = true,
        "error" => return Err(error_event(&value)),
        _ => {} // ping, content_block_start/stop, future events
    }
    Ok(piece)
}

/// Input tokens include the cached parts, which Anthropic counts separately.
fn usage_fields(usage: Option<&Value>) -> (Option<u32>, Option<u32>) {
    let Some(usage) = usage.filter(|u| u.is_object()) else {
        return (None, None);
    };
    let field = |name: &str| usage.get(name).and_then(Value::as_u64);
    let prompt = field("input_tokens").map(|input| {
        input
            + field("cache_creation_input_tokens").unwrap_or(0)
            + field("cache_read_input_tokens").unwrap_or(0)
    });
    let clamp = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
    (prompt.map(clamp), field("output_tokens").map(clamp))
}

/// `{"type": "error", "error": {"type": "overloaded_error", "message": …}}`
/// becomes the status that error type stands for, so the retry rules treat an
/// in-stream `overloaded_error` like an HTTP 529.
fn error_event(value: &Value) -> LlmError {
    let error_type = value
        .pointer("/error/type")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let message = value
        .pointer("/error/message")
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty())
        .unwrap_or(error_type);
    LlmError::Status {
        status: status_for_error_type(error_type),
        message: super::transport::shorten(message),
    }
}

/// Anthropic's documented error types and the statuses they come with.
pub(crate) fn status_for_error_type(error_type: &str) -> u16 {
    match error_type {
        "invalid_request_error" => 400,
        "authentication_error" => 401,
        "billing_error" => 402,
        "permission_error" => 403,
        "not_found_error" => 404,
        "request_too_large" => 413,
        "rate_limit_error" => 429,
        "api_error" => 500,
        "timeout_error" => 504,
        "overloaded_error" => 529,
        _ => 502,
    }
}

/// A non-streamed answer: the text blocks of `content`, and `usage`.
pub(crate) fn parse_completion(body: &str) -> Result<(String, Usage), LlmError> {
    let value: Value = serde_json::from_str(body)
        .map_err(|e| LlmError::Malformed(format!("the answer is not JSON ({e})")))?;
    if value.get("type").and_then(Value::as_str) == Some("error") {
        return Err(error_event(&value));
    }
    let content = value
        .get("content")
        .and_then(Value::as_array)
        .ok_or_else(|| LlmError::Malformed("the answer has no content".into()))?;
    let text: String = content
        .iter()
        .filter(|b| b.get("type").and_then(Value::as_str) == Some("text"))
        .filter_map(|b| b.get("text").and_then(Value::as_str))
        .collect();
    let (prompt, completion) = usage_fields(value.get("usage"));
    Ok((
        text,
        Usage {
            prompt_tokens: prompt.unwrap_or(0),
            completion_tokens: completion.unwrap_or(0),
        },
    ))
}

/// GET `{base}/v1/models?limit=1000` (one page holds every model Anthropic has).
pub(crate) fn models_request(ep: &Endpoint) -> HttpRequest {
    HttpRequest {
        kind: Kind::Anthropic,
        url: format!("{}/v1/models?limit=1000", base(ep)),
        headers: headers(ep),
        body: None,
    }
}

/// `{"data": [{"id", "display_name", "type": "model"}]}`.
pub(crate) fn parse_models(body: &str) -> Result<Vec<DiscoveredModel>, LlmError> {
    let value: Value = serde_json::from_str(body)
        .map_err(|e| LlmError::Malformed(format!("the model list is not JSON ({e})")))?;
    let data = value
        .get("data")
        .and_then(Value::as_array)
        .ok_or_else(|| LlmError::Malformed("the model list has no `data` array".into()))?;
    Ok(data
        .iter()
        .filter_map(|m| {
            let id = m.get("id")?.as_str()?.to_string();
            let name = m
                .get("display_name")
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty())
                .unwrap_or(&id)
                .to_string();
            let context_window = m
                .get("max_input_tokens")
                .and_then(Value::as_u64)
                .and_then(|n| u32::try_from(n).ok());
            Some(DiscoveredModel {
                id,
                name,
                vendor: "Anthropic".into(),
                context_window,
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::ChatMessage;

    fn event(name: &str, data: &str) -> SseEvent {
        SseEvent {
            event: Some(name.into()),
            data: data.into(),
        }
    }

    #[test]
    fn system_messages_move_to_the_system_field_and_max_tokens_defaults() {
        let ep = Endpoint::new(
            Kind::Anthropic,
            "https://api.anthropic.com/v1/",
            Some("ak".into()),
        );
        let req = ChatRequest {
            model: "claude-3-5-haiku-latest".into(),
            messages: vec![
                ChatMessage::new(ChatRole::System, "be brief"),
                ChatMessage::new(ChatRole::System, "answer in Korean"),
                ChatMessage::new(ChatRole::User, "hi"),
                ChatMessage::new(ChatRole::Assistant, ""),
                ChatMessage::new(ChatRole::User, "again"),
            ],
            max_tokens: None,
        };
        let http = build_request(&ep, &req, true);
        assert_eq!(http.url, "https://api.anthropic.com/v1/messages");
        assert_eq!(http.header("x-api-key"), Some("ak"));
        assert_eq!(http.header("anthropic-version"), Some("2023-06-01"));
        assert_eq!(http.header("authorization"), None);
        assert_eq!(
            http.body.unwrap(),
            json!({
                "model": "claude-3-5-haiku-latest",
                "max_tokens": 4096,
                "system": "be brief\n\nanswer in Korean",
                "messages": [
                    {"role": "user", "content": "hi"},
                    {"role": "user", "content": "again"},
                ],
                "stream": true,
            })
        );
    }

    #[test]
    fn the_event_sequence_yields_text_usage_and_done() {
        let cases: &[(SseEvent, Piece, &str)] = &[
            (
                event(
                    "message_start",
                    r#"{"type":"message_start","message":{"id":"m","usage":{"input_tokens":10,"cache_read_input_tokens":5,"output_tokens":1}}}"#,
                ),
                Piece {
                    prompt_tokens: Some(15),
                    completion_tokens: Some(1),
                    ..Piece::default()
                },
                "input usage including cache",
            ),
            (
                event(
                    "content_block_start",
                    r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
                ),
                Piece::default(),
                "block start",
            ),
            (
                event("ping", r#"{"type": "ping"}"#),
                Piece::default(),
                "ping",
            ),
            (
                event(
                    "content_block_delta",
                    r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"안녕"}}"#,
                ),
                Piece::text("안녕"),
                "text delta",
            ),
            (
                event(
                    "content_block_delta",
                    r#"{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"hmm"}}"#,
                ),
                Piece::default(),
                "thinking is not the answer",
            ),
            (
                event(
                    "message_delta",
                    r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":15}}"#,
                ),
                Piece {
                    completion_tokens: Some(15),
                    ..Piece::default()
                },
                "output usage",
            ),
            (
                event("message_stop", r#"{"type":"message_stop"}"#),
                Piece::done(),
                "stop",
            ),
            (
                event("future_event", r#"{"type":"future_event"}"#),
                Piece::default(),
                "unknown events are ignored",
            ),
        ];
        for (ev, want, why) in cases {
            assert_eq!(&parse_event(ev).unwrap(), want, "{why}");
        }
    }

    #[test]
    fn an_error_event_carries_the_status_of_its_type() {
        let err = parse_event(&event(
            "error",
            r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
        ))
        .unwrap_err();
        assert_eq!(
            err,
            LlmError::Status {
                status: 529,
                message: "Overloaded".into()
            }
        );
    }

    #[test]
    fn an_event_that_is_not_json_is_malformed() {
        assert!(matches!(
            parse_event(&event("content_block_delta", "{nope")),
            Err(LlmError::Malformed(_))
        ));
    }

    #[test]
    fn a_whole_answer_joins_its_text_blocks() {
        let body = r#"{"type":"message","content":[{"type":"text","text":"Hello "},{"type":"tool_use","id":"t"},{"type":"text","text":"there"}],"usage":{"input_tokens":3,"output_tokens":2}}"#;
        assert_eq!(
            parse_completion(body).unwrap(),
            (
                "Hello there".to_string(),
                Usage {
                    prompt_tokens: 3,
                    completion_tokens: 2
                }
            )
        );
        let err = parse_completion(
            r#"{"type":"error","error":{"type":"not_found_error","message":"model: x"}}"#,
        )
        .unwrap_err();
        assert!(matches!(err, LlmError::Status { status: 404, .. }));
    }

    #[test]
    fn the_model_list_uses_display_names() {
        let ep = Endpoint::new(
            Kind::Anthropic,
            "https://api.anthropic.com",
            Some("k".into()),
        );
        let http = models_request(&ep);
        assert_eq!(http.url, "https://api.anthropic.com/v1/models?limit=1000");
        assert_eq!(http.header("x-api-key"), Some("k"));
        let body = r#"{"data":[{"id":"claude-sonnet-4-5","display_name":"Claude Sonnet 4.5","type":"model"}],"has_more":false}"#;
        assert_eq!(
            parse_models(body).unwrap(),
            vec![DiscoveredModel {
                id: "claude-sonnet-4-5".into(),
                name: "Claude Sonnet 4.5".into(),
                vendor: "Anthropic".into(),
                context_window: None
            }]
        );
    }
}
