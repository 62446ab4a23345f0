//! Asking and the answer: a new question, an edit of the last one, a new
//! answer to it; the answer as server-sent events or, once finished, as JSON;
//! following an answer being written (`/stream`) and stopping it.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use warp::http::StatusCode;
use warp::reply::Response;

use super::owned;
use crate::api::error::{json_response, ApiError};
use crate::api::openapi::Error;
use crate::api::views::chat;
use crate::app::AppState;
use crate::auth::CurrentUser;
use crate::db::conversation::{self as repo, Conversation, Message, Role, Status};
use crate::engine::{Event, Generation};
use crate::service::chat::{self as ask, Ask, Outcome, Turn};

/// A question (new, or the last one rewritten).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct MessageBody {
    content: String,
    #[serde(alias = "model id")]
    model_id: Option<String>,
    /// Side by side: 2–3 distinct models (instead of `model_id`) that each
    /// answer the question, in parallel. The answers are siblings under the
    /// question (versions); the first model's is current until another is
    /// kept with `PATCH /conversations/{id}` `{current_message_id}`. Each
    /// counts against the plan and the running-answer limits. Not streamed:
    /// `answer`/`message` are the first model's and `answers` all of them;
    /// streamed: one response carries all answers (deltas tagged with
    /// `message_id`, one `done` or `error` per answer). One model twice,
    /// fewer than 2 or more than 3, or with `model_id`: 422 on `model_ids`.
    #[schema(min_items = 2, max_items = 3)]
    model_ids: Option<Vec<String>>,
    /// Answer with server-sent events (default: whether `Accept` asks for
    /// `text/event-stream`).
    stream: Option<bool>,
    /// Collector items the question carries.
    collector_item_ids: Option<Vec<String>>,
    /// Uploaded files (`POST /files`) the question carries, at most 20. An
    /// edit without them keeps the edited question's files.
    file_ids: Option<Vec<String>>,
}

#[utoipa::path(post, path = "/conversations/{id}/messages", tag = "conversations",
    params(("id" = String, Path)), request_body = MessageBody,
    responses((status = 201, body = Exchange),
        (status = 200, description = "with `stream: true`: server-sent events \
            (see `GET /conversations/{id}/stream`)",
            content_type = "text/event-stream", body = StreamEvent),
        (status = 400, body = Error), (status = 401, body = Error), (status = 403, body = Error),
        (status = 404, body = Error), (status = 409, body = Error), (status = 422, body = Error),
        (status = 429, body = Error),
        (status = "5XX", description = "the answer failed upstream", body = AnswerFailed)))]
pub(super) async fn post_message(
    id: String,
    state: AppState,
    current: CurrentUser,
    accept_sse: bool,
    body: MessageBody,
) -> Result<Response, ApiError> {
    ask_turn(id, state, current, accept_sse, body, Turn::Question).await
}

#[utoipa::path(patch, path = "/conversations/{id}/messages/last", tag = "conversations",
    params(("id" = String, Path)), request_body = MessageBody,
    responses((status = 201, body = Exchange),
        (status = 200, description = "with `stream: true`: server-sent events \
            (see `GET /conversations/{id}/stream`)",
            content_type = "text/event-stream", body = StreamEvent),
        (status = 400, body = Error), (status = 401, body = Error), (status = 403, body = Error),
        (status = 404, body = Error), (status = 409, body = Error), (status = 422, body = Error),
        (status = 429, body = Error),
        (status = "5XX", description = "the answer failed upstream", body = AnswerFailed)))]
pub(super) async fn edit_last(
    id: String,
    state: AppState,
    current: CurrentUser,
    accept_sse: bool,
    body: MessageBody,
) -> Result<Response, ApiError> {
    ask_turn(id, state, current, accept_sse, body, Turn::Edit).await
}

#[utoipa::path(patch, path = "/conversations/{id}/messages/{message_id}", tag = "conversations",
    params(("id" = String, Path), ("message_id" = String, Path, description = "a question of this conversation")),
    request_body = MessageBody,
    responses((status = 201, body = Exchange),
        (status = 200, description = "with `stream: true`: server-sent events \
            (see `GET /conversations/{id}/stream`)",
            content_type = "text/event-stream", body = StreamEvent),
        (status = 400, body = Error), (status = 401, body = Error), (status = 403, body = Error),
        (status = 404, description = "no such conversation, or no such question in it", body = Error),
        (status = 409, body = Error), (status = 422, body = Error), (status = 429, body = Error),
        (status = "5XX", description = "the answer failed upstream", body = AnswerFailed)))]
/// Rewrites an earlier question: a new branch from there, answered anew
/// (the old branch stays, a version of that question).
pub(super) async fn edit_message(
    id: String,
    message_id: String,
    state: AppState,
    current: CurrentUser,
    accept_sse: bool,
    body: MessageBody,
) -> Result<Response, ApiError> {
    let rewrite = |content| Turn::EditAt {
        message_id,
        content,
    };
    ask_turn(id, state, current, accept_sse, body, rewrite).await
}

/// A question (new or rewritten, `turn` made from its text) in the
/// caller's conversation, answered as a stream or whole.
async fn ask_turn(
    id: String,
    state: AppState,
    current: CurrentUser,
    accept_sse: bool,
    body: MessageBody,
    turn: impl FnOnce(String) -> Turn,
) -> Result<Response, ApiError> {
    // Read (the caller's, or 404) in the transaction that writes the turn.
    let conversation = ask::In::Id(id);
    let stream = body.stream.unwrap_or(accept_sse);
    let asked = Ask {
        turn: turn(body.content),
        model_id: body.model_id,
        model_ids: body.model_ids,
        collector_item_ids: body.collector_item_ids,
        file_ids: body.file_ids,
    };
    generate(&state, &current, conversation, asked, stream).await
}

/// A new answer to the last question (the body is optional).
#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RegenerateBody {
    #[serde(alias = "model id")]
    model_id: Option<String>,
    stream: Option<bool>,
}

#[utoipa::path(post, path = "/conversations/{id}/regenerate", tag = "conversations",
    params(("id" = String, Path)),
    request_body(content = RegenerateBody, description = "optional"),
    responses((status = 201, body = Exchange),
        (status = 200, description = "with `stream: true`: server-sent events \
            (see `GET /conversations/{id}/stream`)",
            content_type = "text/event-stream", body = StreamEvent),
        (status = 400, body = Error), (status = 401, body = Error), (status = 403, body = Error),
        (status = 404, body = Error), (status = 409, body = Error), (status = 422, body = Error),
        (status = 429, body = Error),
        (status = "5XX", description = "the answer failed upstream", body = AnswerFailed)))]
pub(super) async fn regenerate(
    id: String,
    state: AppState,
    current: CurrentUser,
    accept_sse: bool,
    body: RegenerateBody,
) -> Result<Response, ApiError> {
    let conversation = ask::In::Id(id);
    let stream = body.stream.unwrap_or(accept_sse);
    let asked = Ask::new(Turn::Regenerate, body.model_id);
    generate(&state, &current, conversation, asked, stream).await
}

/// One server-sent event of a streamed answer, as a client reads it off the
/// wire (OpenAPI before 3.2 has the `text/event-stream` schema describe each
/// event). A shape for the document only.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct StreamEvent {
    /// `message`, `delta`, `done` or `error`.
    event: String,
    /// The event's JSON payload: a [`StreamCreated`] for `message`, a
    /// [`StreamDelta`] for `delta`, a `Message` for `done`, a
    /// [`StreamFailed`] for `error`.
    #[schema(content_media_type = "application/json")]
    data: String,
    /// The sequence number of a `delta`, for `Last-Event-ID` on a reconnect.
    id: Option<String>,
}

/// The `message` event: the saved question (absent for a regeneration) and
/// the empty answer being written (the first model's, side by side).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct StreamCreated {
    conversation_id: String,
    #[schema(required = false)]
    user_message: Option<Message>,
    assistant_message: Message,
    /// Side by side only: the first model's answer (`assistant_message`'s id),
    /// the one the conversation shows until another is kept.
    #[schema(required = false)]
    assistant_message_id: Option<String>,
    /// Side by side only: every answer being written, in `model_ids` order.
    #[schema(required = false)]
    assistant_message_ids: Option<Vec<String>>,
    /// Side by side only: the empty answers, in `model_ids` order.
    #[schema(required = false)]
    assistant_messages: Option<Vec<Message>>,
}

/// A `delta` event: the next piece of the answer.
#[derive(Serialize, ToSchema)]
pub struct StreamDelta {
    content: String,
    /// Side by side only: the answer this piece belongs to.
    #[schema(required = false)]
    #[serde(skip_serializing_if = "Option::is_none")]
    message_id: Option<String>,
}

/// The `error` event: why the answer failed, and the (partial) answer saved
/// with status `error`.
#[derive(Serialize, ToSchema)]
pub struct StreamFailed {
    error: Option<String>,
    code: String,
    message: Message,
    /// Side by side only: the answer that failed (the others go on).
    #[schema(required = false)]
    #[serde(skip_serializing_if = "Option::is_none")]
    message_id: Option<String>,
}

#[utoipa::path(get, path = "/conversations/{id}/stream", tag = "conversations",
    description = "The answer being written, as server-sent events (`text/event-stream`): \
        `event: message` first (a `StreamCreated`: the saved question and the empty answer), \
        then `event: delta`s (a `StreamDelta` each, its `id` the sequence number), then \
        `event: done` (the finished `Message`) or `event: error` (a `StreamFailed`). A comment \
        line is sent every 15 s to keep the connection open. With `Last-Event-ID`, only the \
        deltas after that one are sent again. When nothing is being written, the saved \
        answer comes as one `delta` and `done`; 204 when the conversation has no answer. \
        A side-by-side turn (`model_ids`) streams all its answers in this one response: \
        the `message` event adds `assistant_message_ids` and `assistant_messages`, each \
        `delta` carries its answer's `message_id`, each answer ends with its own `done` or \
        `error` (with `message_id`; the others go on), and the stream ends when all have. \
        Its delta ids are the sequence numbers of every answer, comma-separated in \
        `assistant_message_ids` order (`4,7`), so `Last-Event-ID` resumes each answer.",
    params(("id" = String, Path),
        ("Last-Event-ID" = Option<String>, Header, description = "the last delta received")),
    responses((status = 200, description = "server-sent events", content_type = "text/event-stream",
            body = StreamEvent),
        (status = 204, description = "no answer to stream"),
        (status = 400, body = Error), (status = 401, body = Error), (status = 404, body = Error)))]
pub(super) async fn stream(
    id: String,
    state: AppState,
    current: CurrentUser,
    last_event_id: Option<String>,
) -> Result<Response, ApiError> {
    let conversation = owned(&state, &current, id).await?;
    let resume = match last_event_id.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(raw) => Some(
            raw.split(',')
                .map(|seq| seq.trim().parse::<u64>())
                .collect::<Result<Vec<u64>, _>>()
                .map_err(|_| {
                    ApiError::BadRequest(
                        "Last-Event-ID must be a number (or numbers separated by commas)".into(),
                    )
                })?,
        ),
    };
    let after = resume.as_ref().and_then(|seqs| seqs.first().copied());
    let turn = state.engine.turn(&conversation.id);
    if turn.len() > 1 {
        return Ok(sse_turn(&turn, resume.as_deref()));
    }
    if let Some(gen) = turn.into_iter().next() {
        return Ok(sse_response(&gen, after));
    }
    // Nothing in memory: the saved answer, as one delta (unless the client
    // already has some of it) and `done`.
    let leaf = conversation.current_message_id.clone();
    let saved = match leaf {
        Some(id) => {
            state
                .db
                .run(move |conn| repo::message_with_siblings(conn, &id))
                .await?
        }
        None => None,
    };
    let Some(message) = saved.filter(|m| m.role == Role::Assistant) else {
        return Ok(crate::api::no_content());
    };
    let mut events = Vec::new();
    if after.is_none() && !message.content.is_empty() {
        events.push(Event::Delta {
            seq: 1,
            content: message.content.clone(),
        });
    }
    events.push(if message.status == Status::Error {
        Event::Error(to_value(&StreamFailed {
            error: message.error.clone(),
            code: "upstream_error".into(),
            message,
            message_id: None,
        }))
    } else {
        Event::Done(to_value(&message))
    });
    Ok(sse_from(futures_util::stream::iter([events]), None))
}

/// A reply as the engine's events carry it.
fn to_value(body: &impl Serialize) -> Value {
    serde_json::to_value(body).unwrap_or_else(|e| {
        log::error!("an event could not be serialized: {e}");
        Value::Null
    })
}

/// `POST /conversations/{id}/stop`: whether an answer was being written, and
/// the current message as it was saved.
#[derive(Serialize, ToSchema)]
pub struct Stopped {
    stopped: bool,
    message: Option<Message>,
}

#[utoipa::path(post, path = "/conversations/{id}/stop", tag = "conversations",
    params(("id" = String, Path)),
    responses((status = 200, body = Stopped), (status = 401, body = Error),
        (status = 404, body = Error)))]
pub(super) async fn stop(
    id: String,
    state: AppState,
    current: CurrentUser,
) -> Result<Response, ApiError> {
    let conversation = owned(&state, &current, id).await?;
    // Every answer of the turn (several side by side) stops.
    let running = state.engine.stop_turn(&conversation.id);
    let stopped = !running.is_empty();
    // Wait (bounded) for the final states to be saved.
    let _ = tokio::time::timeout(
        Duration::from_secs(10),
        futures_util::future::join_all(running.iter().map(|gen| async move {
            let mut events = Box::pin(gen.subscribe(None));
            while events.next().await.is_some() {}
        })),
    )
    .await;
    let leaf = conversation.current_message_id.clone();
    let message = match leaf {
        Some(id) => {
            state
                .db
                .run(move |conn| repo::message_with_siblings(conn, &id))
                .await?
        }
        None => None,
    };
    Ok(json_response(StatusCode::OK, &Stopped { stopped, message }))
}

/// Asks in `conversation` and answers the request: SSE when `stream`, else
/// the finished exchange as JSON.
pub(super) async fn generate(
    state: &AppState,
    current: &CurrentUser,
    conversation: ask::In,
    asked: Ask,
    stream: bool,
) -> Result<Response, ApiError> {
    let started = ask::ask(&chat(state), &current.user.id, conversation, asked).await?;
    answer(started, stream).await
}

/// The answer of a started turn: SSE when `stream`, else the finished exchange.
pub(super) async fn answer(started: ask::Started, stream: bool) -> Result<Response, ApiError> {
    if !started.others.is_empty() {
        let turn = started.generations();
        if stream {
            return Ok(sse_turn(&turn, None));
        }
        return wait_for_answers(&turn, &started.conversation).await;
    }
    if stream {
        return Ok(sse_response(&started.generation, None));
    }
    wait_for_answer(&started.generation, &started.conversation).await
}

/// A finished exchange, answered when the request did not ask for a stream
/// (seed 002's shape plus the full message objects). The messages are the
/// engine's, passed through as it wrote them.
#[derive(Serialize, ToSchema)]
pub struct Exchange {
    conversation_id: String,
    /// The exchange's number in the thread (1 for the first question).
    message_idx: i64,
    /// The question (null for a regeneration).
    #[schema(value_type = Option<Message>)]
    user_message: Value,
    #[schema(value_type = Message)]
    message: Value,
    /// The answer's text.
    #[schema(value_type = String)]
    answer: Value,
    #[schema(value_type = String)]
    created_at: Value,
    #[schema(value_type = String)]
    updated_at: Value,
    /// Side by side only: every answer (complete, or failed with status
    /// `error`), in `model_ids` order; `message` and `answer` are the first.
    #[schema(value_type = Option<Vec<Message>>, required = false)]
    #[serde(skip_serializing_if = "Option::is_none")]
    answers: Option<Vec<Value>>,
}

/// A failed answer, answered when the request did not ask for a stream: the
/// error (as every error) with the question and the (partial) answer saved
/// with status `error`.
#[derive(Serialize, ToSchema)]
pub struct AnswerFailed {
    #[schema(value_type = String)]
    error: Value,
    #[schema(value_type = String)]
    code: Value,
    #[schema(value_type = Option<Message>)]
    user_message: Value,
    #[schema(value_type = Message)]
    message: Value,
    /// Side by side only (when every answer failed): all of them.
    #[schema(value_type = Option<Vec<Message>>, required = false)]
    #[serde(skip_serializing_if = "Option::is_none")]
    answers: Option<Vec<Value>>,
}

/// Waits for the end of a generation and answers like seed 002 (plus the
/// full message objects).
pub(super) async fn wait_for_answer(
    gen: &Arc<Generation>,
    conversation: &Conversation,
) -> Result<Response, ApiError> {
    Ok(exchange(ask::outcome(gen).await?, conversation, None))
}

/// Waits for the end of every answer of a side-by-side turn: 201 with the
/// first model's answer as `message`/`answer` (whatever its status) and
/// all of them as `answers` when any answered; the first one's failure
/// (with `answers`) when all failed.
pub(super) async fn wait_for_answers(
    gens: &[Arc<Generation>],
    conversation: &Conversation,
) -> Result<Response, ApiError> {
    let outcomes = futures_util::future::join_all(gens.iter().map(ask::outcome))
        .await
        .into_iter()
        .collect::<Result<Vec<Outcome>, _>>()?;
    let answers: Vec<Value> = outcomes
        .iter()
        .map(|o| match o {
            Outcome::Answered { message, .. } | Outcome::Failed { message, .. } => message.clone(),
        })
        .collect();
    let any_answered = outcomes
        .iter()
        .any(|o| matches!(o, Outcome::Answered { .. }));
    let Some(first) = outcomes.into_iter().next() else {
        return Err(crate::service::Error::Internal(
            "a turn without answers".into(),
        ));
    };
    let first = match first {
        Outcome::Failed {
            message,
            user_message,
            ..
        } if any_answered => Outcome::Answered {
            user_message,
            message,
        },
        other => other,
    };
    Ok(exchange(first, conversation, Some(answers)))
}

/// The reply for a finished answer: 201 with the exchange, or its failure.
fn exchange(
    outcome: Outcome,
    conversation: &Conversation,
    answers: Option<Vec<Value>>,
) -> Response {
    match outcome {
        Outcome::Answered {
            user_message,
            message,
        } => {
            let idx = message["idx"].as_i64().unwrap_or(0);
            json_response(
                StatusCode::CREATED,
                &Exchange {
                    conversation_id: conversation.id.clone(),
                    message_idx: (idx + 1) / 2,
                    user_message,
                    answer: message["content"].clone(),
                    created_at: message["created_at"].clone(),
                    updated_at: message["updated_at"].clone(),
                    message,
                    answers,
                },
            )
        }
        Outcome::Failed {
            status,
            error,
            code,
            message,
            user_message,
        } => json_response(
            StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY),
            &AnswerFailed {
                error,
                code,
                user_message,
                message,
                answers,
            },
        ),
    }
}

/// The answers of a side-by-side turn in one SSE response: the first
/// answer's `message` event (naming all answers), then every answer's
/// deltas as they come, each tagged with its `message_id` and with an `id`
/// holding every answer's sequence number so far (`after`, on a resume:
/// one per answer, a missing one counts as 0), and a `done` or `error` per
/// answer; it ends when all have ended.
fn sse_turn(gens: &[Arc<Generation>], after: Option<&[u64]>) -> Response {
    let conversation_id = gens.first().map(|g| g.conversation_id.clone());
    let ids: Vec<String> = gens.iter().map(|g| g.message_id.clone()).collect();
    let mut seqs: Vec<u64> = (0..gens.len())
        .map(|i| after.and_then(|a| a.get(i).copied()).unwrap_or(0))
        .collect();
    // The `message` event goes first, before any answer's delta; the
    // answers themselves are followed from after their own.
    let created: Vec<(usize, Vec<Event>)> = match (after, gens.first().and_then(|g| g.created())) {
        (None, Some(created)) => vec![(0, vec![Event::Message(created)])],
        _ => Vec::new(),
    };
    let followed = gens.iter().enumerate().map(|(i, gen)| {
        let from = seqs.get(i).copied().unwrap_or(0);
        gen.subscribe_batches(Some(from))
            .map(move |batch| (i, batch))
            .boxed()
    });
    let batches =
        futures_util::stream::iter(created).chain(futures_util::stream::select_all(followed));
    let chunks = batches.map(move |(i, batch)| {
        let mut out = Vec::with_capacity(64 + 96 * batch.len());
        let message_id = ids.get(i).cloned().unwrap_or_default();
        for event in batch {
            match event {
                Event::Delta { seq, content } => {
                    if let Some(at) = seqs.get_mut(i) {
                        *at = seq;
                    }
                    let data = to_value(&StreamDelta {
                        content,
                        message_id: Some(message_id.clone()),
                    });
                    let id: Vec<String> = seqs.iter().map(u64::to_string).collect();
                    out.extend_from_slice(b"event:delta\ndata:");
                    if serde_json::to_writer(&mut out, &data).is_err() {
                        out.extend_from_slice(b"null");
                    }
                    out.extend_from_slice(b"\nid:");
                    out.extend_from_slice(id.join(",").as_bytes());
                    out.extend_from_slice(b"\n\n");
                }
                Event::Error(mut v) => {
                    v["message_id"] = Value::String(message_id.clone());
                    encode(&mut out, Event::Error(v), None);
                }
                other => encode(&mut out, other, conversation_id.as_deref()),
            }
        }
        bytes::Bytes::from(out)
    });
    crate::api::sse_chunks(chunks)
}

fn sse_response(gen: &Arc<Generation>, after: Option<u64>) -> Response {
    let conversation_id = gen.conversation_id.clone();
    sse_from(gen.subscribe_batches(after), Some(conversation_id))
}

/// The events as SSE, each batch in one chunk (one write); `conversation_id`
/// is added to the `message` event.
fn sse_from(
    batches: impl futures_util::Stream<Item = Vec<Event>> + Send + 'static,
    conversation_id: Option<String>,
) -> Response {
    let chunks = batches.map(move |batch| {
        let mut out = Vec::with_capacity(64 + 48 * batch.len());
        for event in batch {
            encode(&mut out, event, conversation_id.as_deref());
        }
        bytes::Bytes::from(out)
    });
    crate::api::sse_chunks(chunks)
}

/// One event in the SSE wire format (the fields in the order warp wrote
/// them: `event`, `data`, `id`). JSON has no raw line breaks, so each
/// payload is one `data` line.
fn encode(out: &mut Vec<u8>, event: Event, conversation_id: Option<&str>) {
    let json = |out: &mut Vec<u8>, value: &Value| {
        if let Err(e) = serde_json::to_writer(&mut *out, value) {
            log::error!("an event could not be serialized: {e}");
            out.extend_from_slice(b"null");
        }
    };
    let frame = |out: &mut Vec<u8>, name: &[u8], value: &Value| {
        out.extend_from_slice(b"event:");
        out.extend_from_slice(name);
        out.extend_from_slice(b"\ndata:");
        json(out, value);
        out.extend_from_slice(b"\n\n");
    };
    match event {
        Event::Message(mut v) => {
            if let Some(id) = conversation_id {
                v["conversation_id"] = Value::String(id.to_string());
            }
            frame(out, b"message", &v);
        }
        Event::Delta { seq, content } => {
            out.extend_from_slice(b"event:delta\ndata:{\"content\":");
            json(out, &Value::String(content));
            out.extend_from_slice(b"}\nid:");
            out.extend_from_slice(seq.to_string().as_bytes());
            out.extend_from_slice(b"\n\n");
        }
        Event::Done(v) => frame(out, b"done", &v),
        Event::Error(mut v) => {
            if let Some(obj) = v.as_object_mut() {
                obj.remove("status");
            }
            frame(out, b"error", &v);
        }
    }
}
