//! LLM provider clients: the public types the rest of daehwa codes against
//! ([`Endpoint`], [`ChatRequest`], [`LlmError`] …) and the three blocking calls
//! [`stream_chat`], [`complete`] and [`list_models`].
//!
//! Layout (STYLE §1, §4): one file per provider kind with pure
//! `build_request` / `parse_*` functions unit-tested without a network
//! (`openai.rs` also serves every OpenAI-compatible server, `azure.rs`,
//! `anthropic.rs`); `sse.rs` parses server-sent events for all of them;
//! `transport.rs` is the only code that touches the network (ureq 3, agents
//! shared per proxy and timeouts so TLS connections are kept alive), with
//! `connector.rs` (one watcher thread that cuts the socket of a cancelled
//! stream; which connections are kept) and `resolve.rs` (no lookup thread
//! for IP addresses, names remembered briefly); `retry.rs` decides whether and when to try again;
//! `proxy.rs` picks the outbound proxy from the environment. No warp and no
//! database in here.
//!
//! Everything is blocking: the generation engine runs [`stream_chat`] on a
//! blocking thread and forwards the deltas into its own channel (DESIGN §1).

mod anthropic;
mod azure;
mod connector;
mod error;
mod openai;
mod pace;
pub(crate) mod proxy;
mod resolve;
mod retry;
mod sse;
mod stack;
mod transport;

use std::fmt;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

pub use error::LlmError;
pub use pace::{paced, start_pacing, Pace};

/// The provider protocol a connection speaks (SPEC "LLM connections": `kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// OpenAI and every OpenAI-compatible server (Ollama, vLLM, llama.cpp,
    /// LM Studio, OpenRouter …).
    OpenAi,
    /// Azure OpenAI: deployments instead of model names, an `api-key` header.
    Azure,
    /// Anthropic's Messages API.
    Anthropic,
}

impl Kind {
    /// All kinds, in the order the admin pages list them.
    pub const ALL: [Kind; 3] = [Kind::OpenAi, Kind::Azure, Kind::Anthropic];

    /// Reads the `kind` stored with a connection; case and surrounding blanks
    /// are forgiven because admins type these.
    pub fn parse(s: &str) -> Option<Kind> {
        match s.trim().to_ascii_lowercase().as_str() {
            "openai" => Some(Kind::OpenAi),
            "azure" => Some(Kind::Azure),
            "anthropic" => Some(Kind::Anthropic),
            _ => None,
        }
    }

    /// The value stored in the database and used in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::OpenAi => "openai",
            Kind::Azure => "azure",
            Kind::Anthropic => "anthropic",
        }
    }

    /// The vendor shown for a model when nothing better is known.
    fn vendor(self) -> &'static str {
        match self {
            Kind::OpenAi | Kind::Azure => "OpenAI",
            Kind::Anthropic => "Anthropic",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where and how to reach one LLM connection. Built by the caller from the
/// stored connection, so tests point it at the fake upstream (STYLE §4).
#[derive(Clone)]
pub struct Endpoint {
    pub kind: Kind,
    /// openai: `https://api.openai.com/v1` or `http://127.0.0.1:11434/v1`
    /// (includes `/v1`); azure: `https://RES.openai.azure.com`;
    /// anthropic: `https://api.anthropic.com`. A trailing `/` is ignored.
    pub base_url: String,
    /// `None` (or empty) sends no credentials: local servers need none.
    pub api_key: Option<String>,
    /// `true`: never use a proxy for this connection (seed 001's no-proxy client).
    pub no_proxy: bool,
    /// Budget for DNS plus TCP connect plus TLS handshake (and a proxy's CONNECT).
    pub connect_timeout: Duration,
    /// Longest silence allowed between two reads of an answer (also while
    /// waiting for the response headers): a stalled upstream ends with
    /// [`LlmError::Timeout`] after this long instead of hanging.
    pub idle_timeout: Duration,
}

impl Endpoint {
    /// An endpoint with the usual timeouts (connect 10 s, idle 60 s) and the
    /// environment's proxy settings.
    pub fn new(kind: Kind, base_url: impl Into<String>, api_key: Option<String>) -> Endpoint {
        Endpoint {
            kind,
            base_url: base_url.into(),
            api_key,
            no_proxy: false,
            connect_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
        }
    }

    /// The key if one is set and not blank.
    fn key(&self) -> Option<&str> {
        self.api_key.as_deref().filter(|k| !k.trim().is_empty())
    }

    /// The base URL without a trailing slash, ready for `format!("{}/path")`.
    fn base(&self) -> &str {
        self.base_url.trim().trim_end_matches('/')
    }
}

/// Never prints the key: endpoints end up in `{:?}` of larger structs.
impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("kind", &self.kind)
            .field("base_url", &self.base_url)
            .field("api_key", &self.key().map(|_| "<set>"))
            .field("no_proxy", &self.no_proxy)
            .field("connect_timeout", &self.connect_timeout)
            .field("idle_timeout", &self.idle_timeout)
            .finish()
    }
}

/// Who said a message, in the providers' common vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChatRole {
    System,
    User,
    Assistant,
}

impl ChatRole {
    /// The role string OpenAI and Anthropic both use.
    pub fn as_str(self) -> &'static str {
        match self {
            ChatRole::System => "system",
            ChatRole::User => "user",
            ChatRole::Assistant => "assistant",
        }
    }
}

/// One turn of the conversation sent upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatMessage {
    pub role: ChatRole,
    pub content: String,
    /// Images the turn shows the model (user turns, vision models only),
    /// each sent in its provider's own form: OpenAI's and Azure's
    /// `image_url` data URLs (also what Ollama's, vLLM's and llama.cpp's
    /// OpenAI-compatible servers take), Anthropic's base64 `image` blocks.
    pub images: Vec<Image>,
}

impl ChatMessage {
    pub fn new(role: ChatRole, content: impl Into<String>) -> ChatMessage {
        ChatMessage {
            role,
            content: content.into(),
            images: Vec::new(),
        }
    }
}

/// An image for a vision model: already scaled to a size providers use
/// whole (PNG or JPEG), shared rather than copied between retries.
#[derive(Clone, PartialEq, Eq)]
pub struct Image {
    /// `image/png` or `image/jpeg` (also `image/webp`, `image/gif` from the gateway).
    pub media_type: String,
    pub data: std::sync::Arc<[u8]>,
}

impl Image {
    /// The bytes in base64, as every provider takes them.
    pub(crate) fn base64(&self) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(&self.data)
    }
}

/// Never prints the bytes: requests end up in logs through `{:?}`.
impl fmt::Debug for Image {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Image({}, {} bytes)", self.media_type, self.data.len())
    }
}

/// A chat completion request, provider-neutral. The caller has already
/// trimmed the history to the model's context window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatRequest {
    /// The model id (for Azure: the deployment name).
    pub model: String,
    pub messages: Vec<ChatMessage>,
    /// Upper bound on the answer's length. Anthropic requires one, so it
    /// gets 4096 when this is `None`.
    pub max_tokens: Option<u32>,
}

/// Token counts as the provider reported them. Zeros mean "not reported":
/// the caller estimates (see [`stream_chat`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
}

/// A model found in a provider's model list (SPEC: models are discovered
/// when the admin does not list them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoveredModel {
    /// What goes into [`ChatRequest::model`].
    pub id: String,
    /// A display name: the provider's if it has one, else the id.
    pub name: String,
    /// Who made the model (OpenAI, Meta, Anthropic …), for the model picker.
    pub vendor: String,
    /// Only when the provider says so (OpenRouter, vLLM do); the caller fills
    /// the rest from its catalog.
    pub context_window: Option<u32>,
}

/// Streams a chat completion, calling `on_delta` with each piece of text as it
/// arrives.
///
/// Blocking: the caller runs it on a blocking thread. Connection failures, 408,
/// 429 and 5xx (and Anthropic's in-stream `overloaded_error`) are retried
/// before the first delta only — never after, since the caller has already
/// shown the text — with exponential backoff and jitter, three attempts in all,
/// honouring `Retry-After` up to 30 s (a longer one is reported at once rather
/// than slept through). `cancel` is checked between chunks and while sleeping
/// before a retry; a watcher thread shared by all streams also closes this
/// call's socket when it is set, so even a silent upstream returns
/// [`LlmError::Cancelled`] within ~50 ms. The usage comes from the provider (OpenAI-compatible requests ask
/// for it with `stream_options.include_usage`); when it sent none the counts are
/// zero and the caller estimates them.
pub fn stream_chat(
    ep: &Endpoint,
    req: &ChatRequest,
    cancel: &AtomicBool,
    on_delta: &mut dyn FnMut(&str),
) -> Result<Usage, LlmError> {
    let http = chat_request(ep, req, true);
    transport::stream(ep, &http, cancel, on_delta)
}

/// A non-streamed completion (conversation titles), with the same retry rules.
/// The idle timeout also bounds the wait for the whole answer, so keep these
/// short (`max_tokens`).
pub fn complete(ep: &Endpoint, req: &ChatRequest) -> Result<(String, Usage), LlmError> {
    let http = chat_request(ep, req, false);
    transport::complete(ep, &http)
}

/// The provider's model list: OpenAI-compatible `GET {base}/models`,
/// Anthropic `GET {base}/v1/models`, Azure `GET {base}/openai/deployments`.
///
/// One attempt, no retries: this backs the admin's "test connection" button,
/// which should answer quickly. Azure retired the deployments listing in newer
/// API versions, so for Azure anything but an unreachable host, a timeout or
/// a rejected key (401/403) gives an empty list: the admin then enters the
/// deployment names by hand.
pub fn list_models(ep: &Endpoint) -> Result<Vec<DiscoveredModel>, LlmError> {
    match ep.kind {
        Kind::OpenAi => {
            let body = transport::fetch(ep, &openai::models_request(ep))?;
            openai::parse_models(&body, ep.kind)
        }
        Kind::Anthropic => {
            let body = transport::fetch(ep, &anthropic::models_request(ep))?;
            anthropic::parse_models(&body)
        }
        Kind::Azure => {
            let listed = transport::fetch(ep, &azure::deployments_request(ep))
                .and_then(|body| azure::parse_deployments(&body));
            match listed {
                Ok(models) => Ok(models),
                Err(e) if azure::listing_failure_is_fatal(&e) => Err(e),
                Err(e) => {
                    log::info!(
                        "azure deployments could not be listed ({}); the admin enters them",
                        e.code()
                    );
                    Ok(Vec::new())
                }
            }
        }
    }
}

/// The HTTP request for a chat call, per provider.
fn chat_request(ep: &Endpoint, req: &ChatRequest, stream: bool) -> HttpRequest {
    match ep.kind {
        Kind::OpenAi => openai::build_request(ep, req, stream),
        Kind::Azure => azure::build_request(ep, req, stream),
        Kind::Anthropic => anthropic::build_request(ep, req, stream),
    }
}

/// An HTTP request as a provider module builds it, before anything touches
/// the network, so the request shape is unit-tested as plain data.
#[derive(Clone, PartialEq)]
pub(crate) struct HttpRequest {
    pub kind: Kind,
    /// `None`: GET; `Some`: POST with this JSON body.
    pub body: Option<serde_json::Value>,
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
}

#[cfg(test)]
impl HttpRequest {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Credentials are masked: a request may be logged or shown in a failing test.
impl fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(n, v)| match *n {
                "authorization" | "api-key" | "x-api-key" => (*n, "<redacted>"),
                _ => (*n, v.as_str()),
            })
            .collect();
        f.debug_struct("HttpRequest")
            .field("kind", &self.kind)
            .field("method", &if self.body.is_some() { "POST" } else { "GET" })
            .field("url", &self.url)
            .field("headers", &headers)
            .finish_non_exhaustive()
    }
}

/// Headers of every streamed request. `identity`: ureq offers gzip by default,
/// and a proxy that compresses the stream would make the decompressor hold
/// tokens back until a whole deflate block arrived.
pub(crate) fn stream_headers() -> [(&'static str, String); 2] {
    [
        ("accept", "text/event-stream".to_string()),
        ("accept-encoding", "identity".to_string()),
    ]
}

/// What one streamed event said, provider-neutral: the provider parsers
/// produce it, the transport's read loop consumes it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Piece {
    /// Answer text (may be empty: role-only chunks, pings, usage chunks).
    pub text: String,
    pub prompt_tokens: Option<u32>,
    pub completion_tokens: Option<u32>,
    /// The provider said the answer is complete (`[DONE]`, `message_stop`).
    pub done: bool,
}

impl Piece {
    #[cfg(test)]
    pub(crate) fn text(text: impl Into<String>) -> Piece {
        Piece {
            text: text.into(),
            ..Piece::default()
        }
    }

    pub(crate) fn done() -> Piece {
        Piece {
            done: true,
            ..Piece::default()
        }
    }
}

/// Turns one SSE event into a [`Piece`], by provider.
pub(crate) fn parse_stream_event(kind: Kind, event: &sse::SseEvent) -> Result<Piece, LlmError> {
    match kind {
        Kind::OpenAi | Kind::Azure => openai::parse_chunk(&event.data),
        Kind::Anthropic => anthropic::parse_event(event),
    }
}

/// Reads a non-streamed answer, by provider.
pub(crate) fn parse_completion(kind: Kind, body: &str) -> Result<(String, Usage), LlmError> {
    match kind {
        Kind::OpenAi | Kind::Azure => openai::parse_completion(body),
        Kind::Anthropic => anthropic::parse_completion(body),
    }
}

/// Who made a model, for the model picker: from the id first (most reliable:
/// `owned_by` is "system" on OpenAI and "library" on Ollama), then from a
/// recognisable `owned_by`, else the connection kind's vendor.
pub(crate) fn vendor_for(id: &str, owned_by: Option<&str>, kind: Kind) -> String {
    let id = id.to_ascii_lowercase();
    // OpenRouter and Hugging Face style ids carry the organisation first.
    let (org, name) = match id.split_once('/') {
        Some((org, name)) => (Some(org), name),
        None => (None, id.as_str()),
    };
    org.and_then(vendor_of_org)
        .or_else(|| vendor_of_model_name(name))
        .or_else(|| owned_by.and_then(|o| vendor_of_org(&o.to_ascii_lowercase())))
        .unwrap_or(kind.vendor())
        .to_string()
}

fn vendor_of_org(org: &str) -> Option<&'static str> {
    Some(match org {
        "openai" => "OpenAI",
        "anthropic" => "Anthropic",
        "meta" | "meta-llama" | "facebook" => "Meta",
        "google" | "google-deepmind" => "Google",
        "mistralai" | "mistral" => "Mistral",
        "qwen" | "alibaba" => "Alibaba",
        "deepseek" | "deepseek-ai" => "DeepSeek",
        "microsoft" => "Microsoft",
        "x-ai" | "xai" => "xAI",
        "cohere" => "Cohere",
        _ => return None,
    })
}

fn vendor_of_model_name(name: &str) -> Option<&'static str> {
    const PREFIXES: &[(&str, &str)] = &[
        ("gpt-", "OpenAI"),
        ("gpt4", "OpenAI"),
        ("chatgpt", "OpenAI"),
        ("o1", "OpenAI"),
        ("o3", "OpenAI"),
        ("o4", "OpenAI"),
        ("text-embedding", "OpenAI"),
        ("dall-e", "OpenAI"),
        ("whisper", "OpenAI"),
        ("tts-", "OpenAI"),
        ("llama", "Meta"),
        ("meta-llama", "Meta"),
        ("codellama", "Meta"),
        ("claude", "Anthropic"),
        ("gemma", "Google"),
        ("gemini", "Google"),
        ("qwen", "Alibaba"),
        ("qwq", "Alibaba"),
        ("mistral", "Mistral"),
        ("mixtral", "Mistral"),
        ("codestral", "Mistral"),
        ("ministral", "Mistral"),
        ("deepseek", "DeepSeek"),
        ("phi", "Microsoft"),
        ("grok", "xAI"),
        ("command", "Cohere"),
    ];
    PREFIXES
        .iter()
        .find(|(prefix, _)| name.starts_with(prefix))
        .map(|(_, vendor)| *vendor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_their_stored_names() {
        for kind in Kind::ALL {
            assert_eq!(Kind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(Kind::parse(" OpenAI "), Some(Kind::OpenAi));
        assert_eq!(Kind::parse("ollama"), None);
    }

    #[test]
    fn vendors_come_from_the_id_then_owned_by_then_the_kind() {
        let cases: &[(&str, Option<&str>, Kind, &str, &str)] = &[
            (
                "gpt-4o-mini",
                Some("system"),
                Kind::OpenAi,
                "OpenAI",
                "gpt- prefix",
            ),
            (
                "o3-mini",
                Some("system"),
                Kind::OpenAi,
                "OpenAI",
                "o-series",
            ),
            (
                "llama3.2:3b",
                Some("library"),
                Kind::OpenAi,
                "Meta",
                "Ollama tag",
            ),
            (
                "meta-llama/Llama-3.1-8B-Instruct",
                Some("vllm"),
                Kind::OpenAi,
                "Meta",
                "org prefix",
            ),
            (
                "claude-3-5-haiku-latest",
                None,
                Kind::Anthropic,
                "Anthropic",
                "claude",
            ),
            ("gemma2:9b", None, Kind::OpenAi, "Google", "gemma"),
            (
                "Qwen2.5-7B-Instruct",
                None,
                Kind::OpenAi,
                "Alibaba",
                "case-insensitive",
            ),
            ("mixtral-8x7b", None, Kind::OpenAi, "Mistral", "mixtral"),
            (
                "my-finetune",
                Some("mistralai"),
                Kind::OpenAi,
                "Mistral",
                "owned_by",
            ),
            (
                "my-finetune",
                Some("library"),
                Kind::OpenAi,
                "OpenAI",
                "fallback to kind",
            ),
            (
                "prod-deployment",
                None,
                Kind::Azure,
                "OpenAI",
                "azure fallback",
            ),
            (
                "mystery",
                None,
                Kind::Anthropic,
                "Anthropic",
                "anthropic fallback",
            ),
        ];
        for (id, owned_by, kind, want, why) in cases {
            assert_eq!(vendor_for(id, *owned_by, *kind), *want, "{why}: {id}");
        }
    }

    #[test]
    fn debug_output_never_shows_the_key() {
        let ep = Endpoint::new(Kind::OpenAi, "http://x/v1", Some("sk-secret-123".into()));
        assert!(!format!("{ep:?}").contains("sk-secret"));
        let req = ChatRequest {
            model: "m".into(),
            messages: vec![ChatMessage::new(ChatRole::User, "hi")],
            max_tokens: None,
        };
        let http = chat_request(&ep, &req, true);
        assert!(!format!("{http:?}").contains("sk-secret"));
    }
}
