//! `/v1/models` and `/v1/chat/completions`: the OpenAI-compatible gateway
//! (SPEC §4), so the official OpenAI SDKs, editors and agents work against
//! daehwa with a daehwa API key as their key and `…/v1` as their base URL.
//!
//! A request is routed to the connection that serves the asked model, through
//! the same provider clients as conversations (`crate::llm`): an Anthropic
//! answer comes back as OpenAI chunks because `llm` already reads every
//! provider into provider-neutral pieces. Nothing is kept but the tokens, one
//! `gateway_usage` row per call against the caller. Errors have OpenAI's shape
//! `{"error": {"message", "type", "param", "code"}}` and the statuses the SDKs
//! map to their exceptions (401 `AuthenticationError`, 404 `NotFoundError`, 400
//! `BadRequestError`, 429 `RateLimitError` …).

use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;
use tokio::sync::mpsc;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

use crate::api::error::{json_response, ApiError};
use crate::api::filters::{raw_body, with_state};
use crate::api::views::chat;
use crate::app::AppState;
use crate::auth::{Credentials, CurrentUser};
use crate::db::{self, compat::GatewayUsage, connection};
use crate::engine::estimate_tokens;
use crate::llm::{self, ChatRequest, LlmError};
use crate::service::chat as ask;
use crate::service::models::endpoint_of;

mod wire;
use wire::{
    to_json, to_messages, AssistantMessage, ChatBody, Choice, Chunk, ChunkChoice, Completion,
    CompletionUsage, Content, Delta, InMessage, Meta, ModelList, ModelObject, OpenAiError,
    OpenAiErrorBody, Part, StreamOptions,
};

/// Stack of a reader thread (as the engine's: ureq needs little).
const READER_STACK: usize = 512 * 1024;

/// The gateway's part of the OpenAPI document (tag `gateway`; its paths are
/// written from the deployment's root, see `openapi::spec`).
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(list_models, get_model, chat_completions),
    components(schemas(
        ModelList, ModelObject, ChatBody, InMessage, Content, Part, StreamOptions, Completion,
        Choice, AssistantMessage, CompletionUsage, Chunk, ChunkChoice, Delta, OpenAiErrorBody,
        OpenAiError
    )),
    tags((name = "gateway", description = "The OpenAI-compatible gateway at `/v1`: the \
        official OpenAI SDKs with a daehwa API key (`Authorization: Bearer <key>`). Errors \
        have OpenAI's shape."))
)]
pub struct Doc;

pub fn routes(state: AppState) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    // GET /v1/models
    let models = warp::path!("models")
        .and(warp::get())
        .and(with_state(state.clone()))
        .and(credentials())
        .then(list_models)
        .map(openai_respond);
    // GET /v1/models/{id}
    let model = warp::path!("models" / String)
        .and(warp::get())
        .and(with_state(state.clone()))
        .and(credentials())
        .then(get_model)
        .map(openai_respond);
    // POST /v1/chat/completions
    let chat = warp::path!("chat" / "completions")
        .and(warp::post())
        .and(with_state(state))
        .and(credentials())
        .and(raw_body())
        .then(chat_completions)
        .map(openai_respond);
    models.or(model).unify().or(chat).unify()
}

/// The request's credentials (checked by the handler, so a failure is
/// answered in OpenAI's shape rather than as a rejection).
fn credentials() -> impl Filter<Extract = (Credentials,), Error = Rejection> + Clone {
    warp::header::optional::<String>("authorization")
        .and(warp::header::optional::<String>("x-api-key"))
        .map(|authorization: Option<String>, api_key: Option<String>| {
            Credentials::from_headers(authorization.as_deref(), api_key.as_deref())
        })
}

async fn caller(state: &AppState, credentials: Credentials) -> Result<CurrentUser, ApiError> {
    Ok(state.auth.authenticate(&state.db, credentials).await?)
}

/// What a gateway handler answers instead of success: an operation's
/// [`ApiError`] (a provider failure among them, as [`ApiError::Llm`]), or the
/// gateway's own 404 for a model it does not serve (OpenAI's
/// `model_not_found`, with `param: "model"`).
#[derive(Debug)]
pub enum GatewayError {
    Api(ApiError),
    /// The asked model (its id) does not exist, is disabled, or its
    /// connection is.
    ModelNotFound(String),
}

impl From<ApiError> for GatewayError {
    fn from(err: ApiError) -> Self {
        GatewayError::Api(err)
    }
}

impl From<db::DbError> for GatewayError {
    fn from(err: db::DbError) -> Self {
        GatewayError::Api(err.into())
    }
}

impl From<LlmError> for GatewayError {
    fn from(err: LlmError) -> Self {
        GatewayError::Api(err.into())
    }
}

/// An error in OpenAI's shape, with the headers of the native answer
/// (`WWW-Authenticate`, `Retry-After`).
pub fn openai_error(err: &GatewayError) -> Response {
    let (status, body) = openai_body(err);
    let fresh = json_response(status, &body);
    match err {
        GatewayError::Api(err) => {
            let mut res = err.to_response();
            *res.status_mut() = status;
            *res.body_mut() = fresh.into_body();
            res
        }
        GatewayError::ModelNotFound(_) => fresh,
    }
}

/// The status and OpenAI-shaped body of an error. A 422 becomes a 400:
/// OpenAI never answers 422, and clients expect `BadRequestError` for a bad
/// parameter.
fn openai_body(err: &GatewayError) -> (StatusCode, OpenAiErrorBody) {
    let err = match err {
        GatewayError::Api(err) => err,
        GatewayError::ModelNotFound(id) => {
            let status = StatusCode::NOT_FOUND;
            let body = OpenAiErrorBody::new(
                model_not_found(id),
                status,
                Some("model"),
                "model_not_found",
            );
            return (status, body);
        }
    };
    let status = match err.status() {
        StatusCode::UNPROCESSABLE_ENTITY => StatusCode::BAD_REQUEST,
        other => other,
    };
    let (code, param, message) = match err {
        ApiError::Validation(fields) => {
            let (field, why) = fields.iter().next().map_or(("", ""), |(f, w)| (*f, w));
            ("invalid_value", Some(field), format!("{field} {why}"))
        }
        ApiError::MissingField(field) => (
            "invalid_value",
            Some(field.as_str()),
            format!("{field} is required"),
        ),
        ApiError::Unauthorized { .. } => ("invalid_api_key", None, err.to_string()),
        other => (other.code(), None, other.to_string()),
    };
    (status, OpenAiErrorBody::new(message, status, param, code))
}

/// The message of the gateway's 404 for model `id`, in OpenAI's words.
fn model_not_found(id: &str) -> String {
    format!("The model `{id}` does not exist or you do not have access to it.")
}

fn openai_respond(result: Result<Response, GatewayError>) -> Response {
    result.unwrap_or_else(|err| openai_error(&err))
}

/// The `recover` of the gateway's tree: warp's own rejections (wrong method,
/// oversize body, unknown path) in OpenAI's shape too.
pub async fn recover(rejection: Rejection) -> Result<Response, Infallible> {
    Ok(openai_error(&GatewayError::Api(
        crate::api::error::from_rejection(&rejection),
    )))
}

/// GET /v1/models
#[utoipa::path(get, path = "/v1/models", tag = "gateway",
    responses(
        (status = 200, description = "The models the caller may use", body = ModelList),
        (status = 401, description = "No or a wrong API key", body = OpenAiErrorBody),
    ))]
async fn list_models(state: AppState, credentials: Credentials) -> Result<Response, GatewayError> {
    let current = caller(&state, credentials).await?;
    let models =
        crate::service::groups::allowed_models_of(&state.db, Some(current.user.id)).await?;
    let list = ModelList {
        object: "list",
        data: models.iter().map(ModelObject::from).collect(),
    };
    Ok(json_response(StatusCode::OK, &list))
}

/// GET /v1/models/{id}
#[utoipa::path(get, path = "/v1/models/{id}", tag = "gateway",
    params(("id" = String, Path, description = "A model id (percent-encoded when it has a `/`)")),
    responses(
        (status = 200, description = "The model", body = ModelObject),
        (status = 401, description = "No or a wrong API key", body = OpenAiErrorBody),
        (status = 404, description = "No such enabled model (`model_not_found`)", body = OpenAiErrorBody),
    ))]
async fn get_model(
    id: String,
    state: AppState,
    credentials: Credentials,
) -> Result<Response, GatewayError> {
    let current = caller(&state, credentials).await?;
    let id = percent_encoding::percent_decode_str(&id)
        .decode_utf8_lossy()
        .into_owned();
    let route = usable_route(&state, id.clone()).await?;
    // A model the caller's groups do not grant is not theirs to see.
    let (user_id, model_id) = (current.user.id, route.model.id.clone());
    let granted = state
        .db
        .run(move |conn| crate::service::groups::may_use(conn, &user_id, &model_id))
        .await?;
    if !granted {
        return Err(GatewayError::ModelNotFound(id));
    }
    Ok(json_response(
        StatusCode::OK,
        &ModelObject::from(&route.model),
    ))
}

/// The enabled model `id` with its enabled connection, or a 404 that the SDKs
/// raise as `NotFoundError` (OpenAI's `model_not_found`).
async fn usable_route(state: &AppState, id: String) -> Result<connection::Route, GatewayError> {
    let wanted = id.clone();
    let route = state
        .db
        .run(move |conn| connection::route(conn, &wanted))
        .await?;
    match route {
        Some(route) if route.model.enabled && route.connection.enabled => Ok(route),
        _ => Err(GatewayError::ModelNotFound(id)),
    }
}

/// What the reader thread sends.
enum Up {
    Delta(String),
    /// The end: the usage (reported, else estimated) or the failure.
    End(Result<llm::Usage, LlmError>),
}

/// Sets the cancel flag when the response is dropped (client gone), so the
/// reader stops calling the provider.
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// POST /v1/chat/completions
#[utoipa::path(post, path = "/v1/chat/completions", tag = "gateway",
    description = "OpenAI's chat completion. With `stream: true` the answer is \
        `text/event-stream`: `data: <Chunk>` lines, then `data: [DONE]`; a failure after the \
        first chunk is sent as `data: {\"error\": …}`.",
    request_body = ChatBody,
    responses(
        (status = 200, description = "The whole answer, or its chunks when streamed", content(
            (Completion = "application/json"),
            (Chunk = "text/event-stream"),
        )),
        (status = 400, description = "A request daehwa cannot serve (`n` > 1, tools, no user message, bad JSON)", body = OpenAiErrorBody),
        (status = 401, description = "No or a wrong API key", body = OpenAiErrorBody),
        (status = 404, description = "No such enabled model (`model_not_found`)", body = OpenAiErrorBody),
        (status = 429, description = "The caller's plan, or the provider, says wait (`Retry-After`)", body = OpenAiErrorBody),
        (status = 502, description = "The provider failed (`upstream_*`)", body = OpenAiErrorBody),
        (status = 504, description = "The provider did not answer in time (`upstream_timeout`)", body = OpenAiErrorBody),
    ))]
async fn chat_completions(
    state: AppState,
    credentials: Credentials,
    body: Bytes,
) -> Result<Response, GatewayError> {
    let current = caller(&state, credentials).await?;
    let body: ChatBody = crate::api::filters::parse_json(&body)?;
    if body.n.is_some_and(|n| n != 1) {
        return Err(ApiError::invalid("n", "only 1 choice per request is supported").into());
    }
    if body.tools.as_ref().is_some_and(|t| !t.is_null()) {
        return Err(ApiError::invalid("tools", "tool calls are not supported").into());
    }
    let messages = to_messages(body.messages)?;
    let route = usable_route(&state, body.model.clone()).await?;
    if messages.iter().any(|m| !m.images.is_empty())
        && !crate::service::files::sees_images(&route.model)
    {
        return Err(crate::service::files::cannot_see(&route.model.name).into());
    }
    // A place among the answers being written, then the plan (both in the
    // operation): past the limits, a 429 in OpenAI's shape with Retry-After.
    // The reader thread holds the place and lets it go however the call ends.
    let slot = ask::admit_call(&chat(&state), &current.user.id, &route.model.id).await?;
    let endpoint = endpoint_of(&route.connection, state.llm_idle_timeout)?;
    let request = ChatRequest {
        model: route.model.upstream_id.clone(),
        messages,
        max_tokens: body.max_completion_tokens.or(body.max_tokens),
    };
    let prompt_estimate: u32 = request
        .messages
        .iter()
        .map(|m| estimate_tokens(&m.content))
        .sum();

    // The provider is read on a thread of its own (ureq blocks), as the engine does.
    let cancel = Arc::new(AtomicBool::new(false));
    let (tx, mut rx) = mpsc::unbounded_channel::<Up>();
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<(&'static str, llm::Usage)>();
    let reader_cancel = cancel.clone();
    std::thread::Builder::new()
        .name("gateway-reader".into())
        .stack_size(READER_STACK)
        .spawn(move || {
            let slot = slot;
            let mut completion = String::new();
            let outcome = llm::stream_chat(&endpoint, &request, &reader_cancel, &mut |piece| {
                completion.push_str(piece);
                let _ = tx.send(Up::Delta(piece.to_string()));
            });
            let usage = match &outcome {
                Ok(u) if u.prompt_tokens > 0 || u.completion_tokens > 0 => *u,
                _ => llm::Usage {
                    prompt_tokens: prompt_estimate,
                    completion_tokens: estimate_tokens(&completion),
                },
            };
            let status = match &outcome {
                Ok(_) => "complete",
                Err(LlmError::Cancelled) => "stopped",
                Err(_) => "error",
            };
            // Free before the end is told: a client that starts its next
            // call as soon as this one ends must find the place free.
            drop(slot);
            let _ = done_tx.send((status, usage));
            let _ = tx.send(Up::End(outcome.map(|_| usage)));
        })
        .map_err(|e| ApiError::Internal(format!("cannot start a reader thread: {e}")))?;

    // Usage is recorded whatever happens to the response (even when the
    // client goes away mid-stream).
    let recorder = state.clone();
    let model_id = route.model.id.clone();
    tokio::spawn(async move {
        let Ok((status, usage)) = done_rx.await else {
            return;
        };
        let result = recorder
            .db
            .run(move |conn| -> Result<_, crate::db::DbError> {
                db::compat::record_gateway_usage(
                    conn,
                    &GatewayUsage {
                        user_id: &current.user.id,
                        api_key_id: current.api_key_id.as_deref(),
                        model_id: &model_id,
                        prompt_tokens: usage.prompt_tokens,
                        completion_tokens: usage.completion_tokens,
                        status,
                    },
                )
            })
            .await;
        if let Err(err) = result {
            log::error!("could not record gateway usage: {err}");
        }
    });

    let guard = CancelOnDrop(cancel);
    let meta = Meta {
        id: format!("chatcmpl-{}", uuid::Uuid::now_v7().simple()),
        created: chrono::Utc::now().timestamp(),
        model: route.model.id.clone(),
    };
    // Wait for the first piece: a failure before any text (after the client's
    // retries) is an HTTP error, as OpenAI answers it.
    let first = rx.recv().await;
    let first = match first {
        None => return Err(ApiError::Internal("the reader ended without a result".into()).into()),
        Some(Up::End(Err(err))) => return Err(upstream_error(&err)),
        Some(first) => first,
    };
    if body.stream.unwrap_or(false) {
        let include_usage = body
            .stream_options
            .and_then(|o| o.include_usage)
            .unwrap_or(false);
        return Ok(stream_response(meta, first, rx, guard, include_usage));
    }
    let mut text = String::new();
    let mut next = Some(first);
    loop {
        match next {
            Some(Up::Delta(piece)) => text.push_str(&piece),
            Some(Up::End(Ok(usage))) => {
                drop(guard);
                return Ok(json_response(
                    StatusCode::OK,
                    &Completion {
                        id: meta.id,
                        object: "chat.completion",
                        created: meta.created,
                        model: meta.model,
                        choices: vec![Choice {
                            index: 0,
                            message: AssistantMessage {
                                role: "assistant",
                                content: text,
                                refusal: None,
                            },
                            logprobs: None,
                            finish_reason: "stop",
                        }],
                        usage: usage.into(),
                    },
                ));
            }
            Some(Up::End(Err(err))) => return Err(upstream_error(&err)),
            None => {
                return Err(ApiError::Internal("the reader ended without a result".into()).into())
            }
        }
        next = rx.recv().await;
    }
}

/// A provider failure as the gateway's client sees it: [`LlmError`]'s one
/// mapping (429 stays 429 with `Retry-After`, so the SDKs back off; the rest
/// are 502/503/504). The caller is told what happened and the provider's
/// status, never the provider's own text (kept in the log for admins).
fn upstream_error(err: &LlmError) -> GatewayError {
    log::warn!("gateway call failed: {err}");
    GatewayError::Api(ApiError::Llm(err.clone()))
}

/// The answer as OpenAI's SSE: a role chunk, content chunks, a chunk with
/// `finish_reason`, the usage chunk when asked for, then `data: [DONE]`. A
/// failure after the first piece is an `error` object in the stream (the
/// SDKs raise it), without `[DONE]`.
fn stream_response(
    meta: Meta,
    first: Up,
    rx: mpsc::UnboundedReceiver<Up>,
    guard: CancelOnDrop,
    include_usage: bool,
) -> Response {
    let opening = to_json(&meta.chunk(
        Delta {
            role: Some("assistant"),
            content: Some(String::new()),
        },
        None,
    ));
    struct St {
        meta: Meta,
        rx: mpsc::UnboundedReceiver<Up>,
        pending: Option<Up>,
        finished: bool,
        include_usage: bool,
        _guard: CancelOnDrop,
    }
    let st = St {
        meta,
        rx,
        pending: Some(first),
        finished: false,
        include_usage,
        _guard: guard,
    };
    let rest = futures_util::stream::unfold(st, |mut st| async move {
        if st.finished {
            return None;
        }
        let up = match st.pending.take() {
            Some(up) => Some(up),
            None => st.rx.recv().await,
        };
        let out: Vec<String> = match up {
            Some(Up::Delta(piece)) => {
                let delta = Delta {
                    role: None,
                    content: Some(piece),
                };
                vec![to_json(&st.meta.chunk(delta, None))]
            }
            Some(Up::End(Ok(usage))) => {
                st.finished = true;
                let mut out = vec![to_json(&st.meta.chunk(Delta::default(), Some("stop")))];
                if st.include_usage {
                    out.push(to_json(&st.meta.usage_chunk(usage)));
                }
                out.push("[DONE]".to_string());
                out
            }
            Some(Up::End(Err(err))) => {
                st.finished = true;
                let (_, body) = openai_body(&upstream_error(&err));
                vec![to_json(&body)]
            }
            None => {
                st.finished = true;
                Vec::new()
            }
        };
        Some((futures_util::stream::iter(out), st))
    })
    .flatten();
    let all = futures_util::stream::iter([opening])
        .chain(rest)
        .map(|data| Ok::<_, Infallible>(warp::sse::Event::default().data(data)));
    crate::api::sse_reply(all)
}

#[cfg(test)]
mod tests {
    use super::*;
    use warp::http::header;

    #[test]
    fn errors_get_the_statuses_the_sdks_map_to_their_exceptions() {
        let cases = [
            (ApiError::unauthorized("invalid_api_key", "x"), 401),
            (ApiError::NotFound("x".into()), 404),
            (ApiError::invalid("messages", "x"), 400),
            (
                ApiError::TooManyRequests {
                    message: "x".into(),
                    retry_after: 1,
                },
                429,
            ),
        ];
        for (err, status) in cases {
            assert_eq!(openai_error(&err.into()).status().as_u16(), status);
        }
        let missing = openai_error(&GatewayError::ModelNotFound("gpt-x".into()));
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        let limited = openai_error(&upstream_error(&LlmError::Status {
            status: 429,
            message: "x".into(),
        }));
        assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(limited.headers()[header::RETRY_AFTER], "1");
    }
}
