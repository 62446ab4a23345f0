//! The gateway's wire shapes, OpenAI's own: the request it reads, the
//! completion and the chunks it answers, the models and the error body, each
//! a `ToSchema` struct under an `OpenAi…` name in the OpenAPI document; and
//! the reading of OpenAI's messages into provider-neutral ones.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use warp::http::StatusCode;

use crate::api::error::ApiError;
use crate::db::connection;
use crate::llm::{self, ChatMessage, ChatRole, Image};

/// OpenAI's `error.type` for a status, as its API and SDKs use them.
pub(super) fn error_type(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 => "invalid_request_error",
        403 => "permission_error",
        429 => "rate_limit_error",
        400..=499 => "invalid_request_error",
        _ => "api_error",
    }
}

/// OpenAI's error body: `{"error": {"message", "type", "param", "code"}}`.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct OpenAiErrorBody {
    pub(super) error: OpenAiError,
}

/// The error inside [`OpenAiErrorBody`] (also a chunk of a stream that failed
/// after its first piece).
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct OpenAiError {
    /// What happened, for a person.
    pub(super) message: String,
    /// OpenAI's class of error: `invalid_request_error`, `permission_error`,
    /// `rate_limit_error`, `api_error` …
    #[serde(rename = "type")]
    #[schema(example = "invalid_request_error")]
    pub(super) kind: &'static str,
    /// The request field at fault, when one is.
    pub(super) param: Option<String>,
    /// A machine code (`invalid_api_key`, `model_not_found`,
    /// `upstream_rate_limited` …).
    pub(super) code: String,
}

impl OpenAiErrorBody {
    pub(super) fn new(
        message: String,
        status: StatusCode,
        param: Option<&str>,
        code: &str,
    ) -> Self {
        OpenAiErrorBody {
            error: OpenAiError {
                message,
                kind: error_type(status),
                param: param.map(str::to_string),
                code: code.to_string(),
            },
        }
    }
}

/// A model in OpenAI's shape (`GET /v1/models/{id}`, an item of `GET /v1/models`).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = OpenAiModel)]
pub(super) struct ModelObject {
    /// daehwa's model id: the `model` of a chat completion.
    pub(super) id: String,
    /// Always `model`.
    #[schema(example = "model")]
    pub(super) object: &'static str,
    /// When daehwa discovered it (Unix seconds).
    pub(super) created: i64,
    /// The vendor in lower case, or `daehwa`.
    pub(super) owned_by: String,
}

impl From<&connection::ModelRow> for ModelObject {
    fn from(model: &connection::ModelRow) -> Self {
        ModelObject {
            id: model.id.clone(),
            object: "model",
            created: model.created_unix(),
            owned_by: if model.vendor.is_empty() {
                "daehwa".to_string()
            } else {
                model.vendor.to_lowercase()
            },
        }
    }
}

/// `GET /v1/models`: the models the caller may use.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = OpenAiModelList)]
pub(super) struct ModelList {
    /// Always `list`.
    #[schema(example = "list")]
    pub(super) object: &'static str,
    pub(super) data: Vec<ModelObject>,
}

/// The body of `POST /v1/chat/completions`. Sampling parameters
/// (`temperature`, `top_p`, …) and `user` are accepted and not forwarded:
/// the provider clients send the providers' defaults.
/// `POST /v1/chat/completions`: OpenAI's request, the part daehwa reads
/// (other fields are ignored).
#[derive(Deserialize, ToSchema)]
#[schema(as = OpenAiChatBody)]
pub(super) struct ChatBody {
    /// A model id from `GET /v1/models`.
    pub(super) model: String,
    pub(super) messages: Vec<InMessage>,
    #[serde(default)]
    pub(super) stream: Option<bool>,
    #[serde(default)]
    pub(super) stream_options: Option<StreamOptions>,
    #[serde(default)]
    pub(super) max_tokens: Option<u32>,
    #[serde(default)]
    pub(super) max_completion_tokens: Option<u32>,
    #[serde(default)]
    pub(super) n: Option<u32>,
    /// Refused (400) unless null: tool calls are not supported.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub(super) tools: Option<Value>,
}

#[derive(Deserialize, Default, ToSchema)]
#[schema(as = OpenAiStreamOptions)]
pub(super) struct StreamOptions {
    #[serde(default)]
    pub(super) include_usage: Option<bool>,
}

#[derive(Deserialize, ToSchema)]
#[schema(as = OpenAiMessage)]
pub(super) struct InMessage {
    /// `system`, `developer`, `user` or `assistant`.
    pub(super) role: String,
    #[serde(default)]
    pub(super) content: Option<Content>,
}

/// A message's content: a string, or OpenAI's list of typed parts.
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
#[schema(as = OpenAiContent)]
pub(super) enum Content {
    Text(String),
    Parts(Vec<Part>),
}

#[derive(Deserialize, ToSchema)]
#[schema(as = OpenAiContentPart)]
pub(super) struct Part {
    /// `text` or `image_url`.
    #[serde(rename = "type")]
    pub(super) kind: String,
    #[serde(default)]
    pub(super) text: Option<String>,
    /// For `image_url`: a `data:image/…;base64,…` URL (the server never
    /// fetches a remote one).
    #[serde(default)]
    pub(super) image_url: Option<ImageUrl>,
}

#[derive(Deserialize, ToSchema)]
#[schema(as = OpenAiImageUrl)]
pub(super) struct ImageUrl {
    pub(super) url: String,
    /// Accepted and ignored (`auto`, `low`, `high`).
    #[serde(default)]
    #[allow(dead_code)]
    pub(super) detail: Option<String>,
}

/// The image of a `data:` URL: PNG, JPEG, WebP or GIF whose bytes are what
/// the URL says. A remote URL is refused: the server fetches nothing on a
/// caller's behalf.
fn data_image(url: &str) -> Result<Image, ApiError> {
    use base64::Engine as _;
    let invalid = |why: &str| ApiError::invalid("messages", why.to_string());
    let Some(rest) = url.strip_prefix("data:") else {
        return Err(invalid(
            "image_url must be a data: URL (data:image/png;base64,...); remote image URLs are not fetched",
        ));
    };
    let Some((media_type, data)) = rest.split_once(";base64,") else {
        return Err(invalid(
            "image_url data: URLs must be base64 (data:image/png;base64,...)",
        ));
    };
    let ext = match media_type.to_ascii_lowercase().as_str() {
        "image/png" => "png",
        "image/jpeg" | "image/jpg" => "jpg",
        "image/webp" => "webp",
        "image/gif" => "gif",
        _ => return Err(invalid("image_url images must be PNG, JPEG, WebP or GIF")),
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .map_err(|_| invalid("image_url holds invalid base64"))?;
    match daehwa_extract::detect(&format!("image.{ext}"), None, &bytes) {
        Ok(format) if format.is_image() => Ok(Image {
            media_type: format.mime().to_string(),
            data: bytes.into(),
        }),
        _ => Err(invalid(&format!("image_url is not a {media_type} image"))),
    }
}

/// The provider-neutral messages of a request, or a 400 that says what is
/// not supported.
pub(super) fn to_messages(messages: Vec<InMessage>) -> Result<Vec<ChatMessage>, ApiError> {
    if messages.is_empty() {
        return Err(ApiError::invalid("messages", "must not be empty"));
    }
    let mut out = Vec::with_capacity(messages.len());
    for m in messages {
        let role = match m.role.as_str() {
            "system" | "developer" => ChatRole::System,
            "user" => ChatRole::User,
            "assistant" => ChatRole::Assistant,
            other => {
                return Err(ApiError::invalid(
                    "messages",
                    format!("role {other:?} is not supported (system, developer, user, assistant)"),
                ))
            }
        };
        let mut images = Vec::new();
        let text = match m.content {
            None => String::new(),
            Some(Content::Text(t)) => t,
            Some(Content::Parts(parts)) => {
                let mut text = String::new();
                for part in parts {
                    match (part.kind.as_str(), part.text, part.image_url) {
                        ("text", Some(t), _) => text.push_str(&t),
                        ("image_url", _, Some(image)) if role == ChatRole::User => {
                            images.push(data_image(&image.url)?);
                        }
                        (kind, _, _) => {
                            return Err(ApiError::invalid(
                                "messages",
                                format!("content parts of type {kind:?} are not supported here"),
                            ))
                        }
                    }
                }
                text
            }
        };
        let mut message = ChatMessage::new(role, text);
        message.images = images;
        out.push(message);
    }
    if !out.iter().any(|m| m.role == ChatRole::User) {
        return Err(ApiError::invalid("messages", "must contain a user message"));
    }
    Ok(out)
}

/// `POST /v1/chat/completions` without `stream`: the whole answer.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = OpenAiCompletion)]
pub(super) struct Completion {
    /// `chatcmpl-…`.
    pub(super) id: String,
    /// Always `chat.completion`.
    #[schema(example = "chat.completion")]
    pub(super) object: &'static str,
    /// Unix seconds.
    pub(super) created: i64,
    pub(super) model: String,
    /// Always one.
    pub(super) choices: Vec<Choice>,
    pub(super) usage: CompletionUsage,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = OpenAiChoice)]
pub(super) struct Choice {
    pub(super) index: u32,
    pub(super) message: AssistantMessage,
    /// Always null.
    #[schema(value_type = Option<Object>)]
    pub(super) logprobs: Option<()>,
    /// Always `stop`.
    #[schema(example = "stop")]
    pub(super) finish_reason: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = OpenAiAssistantMessage)]
pub(super) struct AssistantMessage {
    /// Always `assistant`.
    #[schema(example = "assistant")]
    pub(super) role: &'static str,
    pub(super) content: String,
    /// Always null.
    pub(super) refusal: Option<String>,
}

/// Tokens of one call: the provider's count, else daehwa's estimate.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[schema(as = OpenAiUsage)]
pub(super) struct CompletionUsage {
    pub(super) prompt_tokens: u32,
    pub(super) completion_tokens: u32,
    pub(super) total_tokens: u32,
}

impl From<llm::Usage> for CompletionUsage {
    fn from(usage: llm::Usage) -> Self {
        CompletionUsage {
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
            total_tokens: usage.prompt_tokens + usage.completion_tokens,
        }
    }
}

/// One `data:` chunk of a streamed answer (`stream: true`).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = OpenAiChunk)]
pub(super) struct Chunk {
    pub(super) id: String,
    /// Always `chat.completion.chunk`.
    #[schema(example = "chat.completion.chunk")]
    pub(super) object: &'static str,
    pub(super) created: i64,
    pub(super) model: String,
    /// One, or none in the usage chunk.
    pub(super) choices: Vec<ChunkChoice>,
    /// Only in the last chunk, when `stream_options.include_usage` asked for it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) usage: Option<CompletionUsage>,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = OpenAiChunkChoice)]
pub(super) struct ChunkChoice {
    pub(super) index: u32,
    pub(super) delta: Delta,
    /// Always null.
    #[schema(value_type = Option<Object>)]
    pub(super) logprobs: Option<()>,
    /// `stop` in the last chunk of the answer, else null.
    pub(super) finish_reason: Option<&'static str>,
}

/// What a chunk adds: the role first, then pieces of the content.
#[derive(Debug, Default, Serialize, ToSchema)]
#[schema(as = OpenAiDelta)]
pub(super) struct Delta {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) content: Option<String>,
}

/// A chunk as the text of a `data:` line.
pub(super) fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// What every chunk of one answer repeats.
pub(super) struct Meta {
    pub(super) id: String,
    pub(super) created: i64,
    pub(super) model: String,
}

impl Meta {
    pub(super) fn chunk(&self, delta: Delta, finish_reason: Option<&'static str>) -> Chunk {
        Chunk {
            id: self.id.clone(),
            object: "chat.completion.chunk",
            created: self.created,
            model: self.model.clone(),
            choices: vec![ChunkChoice {
                index: 0,
                delta,
                logprobs: None,
                finish_reason,
            }],
            usage: None,
        }
    }

    /// The chunk after the last one, with the usage and no choice.
    pub(super) fn usage_chunk(&self, usage: llm::Usage) -> Chunk {
        Chunk {
            choices: Vec::new(),
            usage: Some(usage.into()),
            ..self.chunk(Delta::default(), None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn messages(v: Value) -> Vec<InMessage> {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn messages_take_strings_and_text_parts_and_refuse_what_cannot_be_sent() {
        let ok = to_messages(messages(json!([
            {"role": "developer", "content": "be brief"},
            {"role": "user", "content": [{"type": "text", "text": "hi "}, {"type": "text", "text": "there"}]},
        ])))
        .unwrap();
        assert_eq!(ok[0], ChatMessage::new(ChatRole::System, "be brief"));
        assert_eq!(ok[1], ChatMessage::new(ChatRole::User, "hi there"));
        let bad = [
            (json!([]), "empty"),
            (json!([{"role": "tool", "content": "x"}]), "tool role"),
            (
                json!([{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]),
                "not a data URL",
            ),
            (
                json!([{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://127.0.0.1/cat.png"}}]}]),
                "remote image",
            ),
            (
                json!([{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,aGVsbG8="}}]}]),
                "not a PNG",
            ),
            (
                json!([{"role": "system", "content": [{"type": "image_url", "image_url": {"url": PNG_URL}}]}, {"role": "user", "content": "x"}]),
                "image outside a user message",
            ),
            (
                json!([{"role": "system", "content": "x"}]),
                "no user message",
            ),
        ];
        for (v, why) in bad {
            assert!(to_messages(messages(v)).is_err(), "{why}");
        }
    }

    /// A 1×1 PNG.
    const PNG_URL: &str = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";

    #[test]
    fn data_url_images_are_taken_in_user_messages() {
        let ok = to_messages(messages(json!([
            {"role": "user", "content": [
                {"type": "text", "text": "what is this?"},
                {"type": "image_url", "image_url": {"url": PNG_URL, "detail": "high"}},
            ]},
        ])))
        .unwrap();
        assert_eq!(ok[0].content, "what is this?");
        assert_eq!(ok[0].images.len(), 1);
        assert_eq!(ok[0].images[0].media_type, "image/png");
        assert!(ok[0].images[0].data.starts_with(b"\x89PNG"));
    }
}
