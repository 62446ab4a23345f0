//! `/v1/llm/*`: seed 002's dialect (SPEC §4), with its exact JSON shapes and
//! field names. A session is a conversation: one created here shows in the
//! web app, and a web-app conversation is a session here. Errors have the
//! native shape `{"error", "code"}`.
//!
//! Where the seed's examples cannot be followed literally, this is what is
//! done: `DELETE` answers 204 with no body (HTTP forbids a body on a 204);
//! `message_idx` is a string, as in the seed (`"1"`), and the n-th exchange
//! of the thread; `regenerate` answers both `answer` and the seed's misspelt
//! `awswer`, so a client written against either works.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

use crate::api::error::{json_response, respond, ApiError};
use crate::api::filters::{
    authenticated, json_body, optional_json_body, optional_user, with_state,
};
use crate::api::views::chat;
use crate::app::AppState;
use crate::auth::CurrentUser;
use crate::db::connection;
use crate::db::conversation::{
    self as repo, Conversation, ListFilter, Message, NewConversation, Role,
};
use crate::service::chat::{self as ask, Ask, Outcome, Turn};
use crate::service::conversations as ops;

/// Most sessions one list returns (the seed's list has no paging).
const LIST_LIMIT: u32 = 200;

/// The `/v1/llm` dialect's part of the OpenAPI document (tag `compat-llm`;
/// its paths are written from the deployment's root, see `openapi::spec`).
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        list_models, create_session, list_sessions, get_session, delete_session, add_message,
        list_messages, edit_last, delete_last, regenerate
    ),
    components(schemas(
        LlmModels, LlmModel, Session, Sessions, CreatedSession, Answer, Exchange, Exchanges,
        FailedAnswer, CreateBody, MessageBody, Idx, RegenerateBody
    )),
    tags((name = "compat-llm", description = "Seed 002's session dialect at `/v1/llm`: a \
        session is a conversation. Native error shape."))
)]
pub struct Doc;

pub fn routes(state: AppState) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let st = || with_state(state.clone());
    let user = || authenticated(state.clone());
    // GET /v1/llm/models
    let models = warp::path!("models")
        .and(warp::get())
        .and(st())
        .and(optional_user(state.clone()))
        .then(list_models)
        .map(respond);
    // POST /v1/llm/sessions
    let create = warp::path!("sessions")
        .and(warp::post())
        .and(st())
        .and(user())
        .and(optional_json_body())
        .then(create_session)
        .map(respond);
    // GET /v1/llm/sessions
    let list = warp::path!("sessions")
        .and(warp::get())
        .and(st())
        .and(user())
        .then(list_sessions)
        .map(respond);
    // GET /v1/llm/sessions/{session_id}
    let get = warp::path!("sessions" / String)
        .and(warp::get())
        .and(st())
        .and(user())
        .then(get_session)
        .map(respond);
    // DELETE /v1/llm/sessions/{session_id}
    let delete = warp::path!("sessions" / String)
        .and(warp::delete())
        .and(st())
        .and(user())
        .then(delete_session)
        .map(respond);
    // POST /v1/llm/sessions/{session_id}/messages
    let add = warp::path!("sessions" / String / "messages")
        .and(warp::post())
        .and(st())
        .and(user())
        .and(json_body())
        .then(add_message)
        .map(respond);
    // GET /v1/llm/sessions/{session_id}/messages
    let messages = warp::path!("sessions" / String / "messages")
        .and(warp::get())
        .and(st())
        .and(user())
        .then(list_messages)
        .map(respond);
    // PATCH /v1/llm/sessions/{session_id}/messages
    let edit = warp::path!("sessions" / String / "messages")
        .and(warp::patch())
        .and(st())
        .and(user())
        .and(json_body())
        .then(edit_last)
        .map(respond);
    // DELETE /v1/llm/sessions/{session_id}/messages
    let delete_last = warp::path!("sessions" / String / "messages")
        .and(warp::delete())
        .and(st())
        .and(user())
        .then(delete_last)
        .map(respond);
    // POST /v1/llm/sessions/{session_id}/regenerate
    let regenerate = warp::path!("sessions" / String / "regenerate")
        .and(warp::post())
        .and(st())
        .and(user())
        .and(optional_json_body())
        .then(regenerate)
        .map(respond);
    models
        .or(create)
        .unify()
        .or(list)
        .unify()
        .or(get)
        .unify()
        .or(delete)
        .unify()
        .or(add)
        .unify()
        .or(messages)
        .unify()
        .or(edit)
        .unify()
        .or(delete_last)
        .unify()
        .or(regenerate)
        .unify()
}

/// GET /v1/llm/models: `{"models": [{vendor, id, name, description}]}`:
/// the caller's allowed models when signed in, the open ones otherwise.
#[utoipa::path(get, path = "/v1/llm/models", tag = "compat-llm",
    security((), ("bearer" = []), ("api_key" = [])),
    responses((status = 200, description = "The models that may be used", body = LlmModels),
        (status = 401, description = "credentials were sent and do not check out",
            body = crate::api::openapi::Error)))]
async fn list_models(state: AppState, current: Option<CurrentUser>) -> Result<Response, ApiError> {
    let models =
        crate::service::groups::allowed_models_of(&state.db, current.map(|c| c.user.id)).await?;
    let models = models
        .iter()
        .map(|m| LlmModel {
            vendor: m.vendor.clone(),
            id: m.id.clone(),
            name: m.name.clone(),
            description: m.description.clone(),
        })
        .collect();
    Ok(json_response(StatusCode::OK, &LlmModels { models }))
}

/// `GET /v1/llm/models`.
#[derive(Debug, Serialize, ToSchema)]
pub struct LlmModels {
    models: Vec<LlmModel>,
}

/// A model that may be used, in the seed's words.
#[derive(Debug, Serialize, ToSchema)]
pub struct LlmModel {
    vendor: String,
    /// The `model_id` of a session or a message.
    id: String,
    name: String,
    description: String,
}

/// A session (a conversation).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = LlmSession)]
pub struct Session {
    session_id: String,
    title: String,
    created_at: String,
    updated_at: String,
}

impl From<&Conversation> for Session {
    fn from(c: &Conversation) -> Self {
        Session {
            session_id: c.id.clone(),
            title: c.title.clone(),
            created_at: c.created_at.clone(),
            updated_at: c.updated_at.clone(),
        }
    }
}

/// `GET /v1/llm/sessions`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = LlmSessions)]
pub struct Sessions {
    sessions: Vec<Session>,
}

/// `POST /v1/llm/sessions`: the new session's id.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = LlmCreatedSession)]
pub struct CreatedSession {
    session_id: String,
}

/// An answered message (add, edit, regenerate).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = LlmAnswer)]
pub struct Answer {
    /// The exchange's number, as a string (`"1"`).
    message_idx: String,
    answer: String,
    /// `regenerate` only: the seed's misspelling, the same text as `answer`.
    #[serde(skip_serializing_if = "Option::is_none")]
    awswer: Option<String>,
    created_at: String,
    updated_at: String,
}

/// An exchange of the thread: a question and its answer.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = LlmExchange)]
pub struct Exchange {
    message_idx: String,
    content: String,
    /// Null while unanswered.
    answer: Option<String>,
    created_at: String,
    updated_at: String,
}

/// `GET /v1/llm/sessions/{session_id}/messages`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = LlmExchanges)]
pub struct Exchanges {
    messages: Vec<Exchange>,
}

/// An answer that failed: the native error shape, with the provider
/// failure's status and code.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = LlmFailedAnswer)]
pub struct FailedAnswer {
    error: String,
    code: String,
}

/// How [`answer`] ended.
#[derive(Debug, Serialize)]
#[serde(untagged)]
enum Answered {
    Answer(Answer),
    Failed(FailedAnswer),
}

/// A string field of a message object (`Outcome`'s values), or "".
fn text_of(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_string()
}

/// The seed's body is empty; a title and a model may be given.
#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = LlmCreateBody)]
struct CreateBody {
    title: Option<String>,
    #[serde(alias = "model id")]
    model_id: Option<String>,
}

/// POST /v1/llm/sessions → 201 `{"session_id"}`.
#[utoipa::path(post, path = "/v1/llm/sessions", tag = "compat-llm",
    request_body(content = CreateBody, description = "Optional: an empty body makes an untitled session"),
    responses(
        (status = 201, description = "The new session", body = CreatedSession),
        (status = 401, description = "Not signed in", body = crate::api::openapi::Error),
        (status = 422, description = "A field is missing or wrong", body = crate::api::openapi::Error),
    ))]
async fn create_session(
    state: AppState,
    current: CurrentUser,
    body: CreateBody,
) -> Result<Response, ApiError> {
    let title: String = body
        .title
        .as_deref()
        .map(str::trim)
        .unwrap_or_default()
        .chars()
        .take(200)
        .collect();
    if let Some(model_id) = body.model_id.clone() {
        known_model(&state, model_id).await?;
    }
    let user_id = current.user.id.clone();
    let model_id = body.model_id;
    let created = state
        .db
        .run(move |conn| -> Result<_, crate::db::DbError> {
            repo::create(
                conn,
                &user_id,
                &NewConversation {
                    title: &title,
                    model_id: model_id.as_deref(),
                    system_prompt: "",
                },
            )
        })
        .await?;
    Ok(json_response(
        StatusCode::CREATED,
        &CreatedSession {
            session_id: created.id,
        },
    ))
}

/// A 422 for a model that does not exist or may not be used.
async fn known_model(state: &AppState, model_id: String) -> Result<(), ApiError> {
    let wanted = model_id.clone();
    let route = state
        .db
        .run(move |conn| connection::route(conn, &wanted))
        .await?;
    match route {
        Some(r) if r.model.enabled && r.connection.enabled => Ok(()),
        _ => Err(ApiError::invalid(
            "model_id",
            format!("unknown model {model_id}"),
        )),
    }
}

/// GET /v1/llm/sessions → `{"sessions": [...]}`, most recent first.
#[utoipa::path(get, path = "/v1/llm/sessions", tag = "compat-llm",
    responses(
        (status = 200, description = "The caller's sessions, newest first (at most 200)", body = Sessions),
        (status = 401, description = "Not signed in", body = crate::api::openapi::Error),
    ))]
async fn list_sessions(state: AppState, current: CurrentUser) -> Result<Response, ApiError> {
    let user_id = current.user.id.clone();
    let filter = ListFilter {
        keywords: Vec::new(),
        archived: Some(false),
        pinned: None,
        after: None,
        limit: LIST_LIMIT,
        ..Default::default()
    };
    let items = state
        .db
        .run(move |conn| repo::list(conn, &user_id, &filter))
        .await?;
    let sessions = items.iter().map(Session::from).collect();
    Ok(json_response(StatusCode::OK, &Sessions { sessions }))
}

/// GET /v1/llm/sessions/{session_id}
#[utoipa::path(get, path = "/v1/llm/sessions/{session_id}", tag = "compat-llm",
    params(("session_id" = String, Path, description = "A session (conversation) id")),
    responses(
        (status = 200, description = "The session", body = Session),
        (status = 401, description = "Not signed in", body = crate::api::openapi::Error),
        (status = 404, description = "No such session of the caller's", body = crate::api::openapi::Error),
    ))]
async fn get_session(
    id: String,
    state: AppState,
    current: CurrentUser,
) -> Result<Response, ApiError> {
    let conversation = session(&state, &current, id).await?;
    Ok(json_response(StatusCode::OK, &Session::from(&conversation)))
}

/// The caller's session, or 404 ("no such session", also for another user's).
async fn session(
    state: &AppState,
    current: &CurrentUser,
    id: String,
) -> Result<Conversation, ApiError> {
    ask::owned(&state.db, &current.user.id, id)
        .await
        .map_err(|err| match err {
            ApiError::NotFound(_) => ApiError::NotFound("no such session".into()),
            other => other,
        })
}

/// DELETE /v1/llm/sessions/{session_id} → 204.
#[utoipa::path(delete, path = "/v1/llm/sessions/{session_id}", tag = "compat-llm",
    params(("session_id" = String, Path, description = "A session (conversation) id")),
    responses(
        (status = 204, description = "Deleted, with its messages"),
        (status = 401, description = "Not signed in", body = crate::api::openapi::Error),
        (status = 404, description = "No such session of the caller's", body = crate::api::openapi::Error),
    ))]
async fn delete_session(
    id: String,
    state: AppState,
    current: CurrentUser,
) -> Result<Response, ApiError> {
    let conversation = session(&state, &current, id).await?;
    ops::delete(&chat(&state), conversation).await?;
    Ok(crate::api::no_content())
}

/// The body of a new message and of an edit; `"model id"` (with a space, as
/// the seed wrote it) is another spelling of `model_id`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = LlmMessageBody)]
struct MessageBody {
    /// Edits only: which exchange (must be the last).
    message_idx: Option<Idx>,
    content: String,
    #[serde(alias = "model id")]
    model_id: Option<String>,
}

/// `message_idx` as the seed writes it (`"2"`) or as a number.
/// An exchange number, as a string (`"1"`) or a number.
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
#[schema(as = LlmMessageIdx)]
enum Idx {
    Text(String),
    Number(i64),
}

impl Idx {
    fn value(&self) -> Option<i64> {
        match self {
            Idx::Text(s) => s.trim().parse().ok(),
            Idx::Number(n) => Some(*n),
        }
    }
}

/// The exchange number of a message: questions are idx 1, 3, 5 …, answers 2, 4, 6 ….
fn exchange_of(idx: i64) -> i64 {
    (idx + 1) / 2
}

/// Runs `ask` to its end and answers the seed's `{message_idx, answer,
/// created_at, updated_at}`, or the failure with the native error shape.
async fn answer(
    state: &AppState,
    current: &CurrentUser,
    conversation: Conversation,
    turn: Turn,
    model_id: Option<String>,
    status: StatusCode,
) -> Result<(StatusCode, Answered), ApiError> {
    let started = ask::ask(
        &chat(state),
        &current.user.id,
        conversation,
        Ask::new(turn, model_id),
    )
    .await?;
    match ask::outcome(&started.generation).await? {
        Outcome::Answered { message, .. } => {
            let idx = message["idx"].as_i64().unwrap_or(0);
            Ok((
                status,
                Answered::Answer(Answer {
                    message_idx: exchange_of(idx).to_string(),
                    answer: text_of(&message["content"]),
                    awswer: None,
                    created_at: text_of(&message["created_at"]),
                    updated_at: text_of(&message["updated_at"]),
                }),
            ))
        }
        Outcome::Failed {
            status,
            error,
            code,
            ..
        } => Ok((
            StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY),
            Answered::Failed(FailedAnswer {
                error: text_of(&error),
                code: text_of(&code),
            }),
        )),
    }
}

/// What a turn (ask, edit, regenerate) answers when it fails, for the
/// OpenAPI document only (the handlers answer through `ApiError`).
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
enum TurnFailures {
    #[response(status = 401, description = "Not signed in")]
    Unauthorized(crate::api::openapi::Error),
    #[response(status = 404, description = "No such session of the caller's")]
    NotFound(crate::api::openapi::Error),
    #[response(status = 422, description = "A field is missing or wrong")]
    Invalid(crate::api::openapi::Error),
    #[response(
        status = 429,
        description = "The caller's plan or the provider says wait"
    )]
    Wait(FailedAnswer),
    #[response(status = 502, description = "The provider failed (`upstream_*`)")]
    Upstream(FailedAnswer),
    #[response(status = 504, description = "The provider did not answer in time")]
    Timeout(FailedAnswer),
}

/// POST /v1/llm/sessions/{session_id}/messages → 201.
#[utoipa::path(post, path = "/v1/llm/sessions/{session_id}/messages", tag = "compat-llm",
    params(("session_id" = String, Path, description = "A session (conversation) id")),
    request_body = MessageBody,
    responses(
        (status = 201, description = "The question, answered", body = Answer),
        TurnFailures,
    ))]
async fn add_message(
    id: String,
    state: AppState,
    current: CurrentUser,
    body: MessageBody,
) -> Result<Response, ApiError> {
    if body.message_idx.is_some() {
        return Err(ApiError::invalid(
            "message_idx",
            "is only for editing the last message (PATCH)",
        ));
    }
    let conversation = session(&state, &current, id).await?;
    let (status, body) = answer(
        &state,
        &current,
        conversation,
        Turn::Question(body.content),
        body.model_id,
        StatusCode::CREATED,
    )
    .await?;
    Ok(json_response(status, &body))
}

/// The current thread as the seed's exchanges.
fn exchanges(thread: &[Message]) -> Vec<Exchange> {
    let mut out = Vec::new();
    let mut iter = thread.iter().filter(|m| m.role != Role::System).peekable();
    while let Some(m) = iter.next() {
        if m.role != Role::User {
            continue;
        }
        let reply = iter.next_if(|next| next.role == Role::Assistant);
        out.push(Exchange {
            message_idx: exchange_of(m.idx).to_string(),
            content: m.content.clone(),
            answer: reply.map(|r| r.content.clone()),
            created_at: m.created_at.clone(),
            updated_at: reply.map_or(&m.updated_at, |r| &r.updated_at).clone(),
        });
    }
    out
}

/// GET /v1/llm/sessions/{session_id}/messages
#[utoipa::path(get, path = "/v1/llm/sessions/{session_id}/messages", tag = "compat-llm",
    params(("session_id" = String, Path, description = "A session (conversation) id")),
    responses(
        (status = 200, description = "The thread as exchanges", body = Exchanges),
        (status = 401, description = "Not signed in", body = crate::api::openapi::Error),
        (status = 404, description = "No such session of the caller's", body = crate::api::openapi::Error),
    ))]
async fn list_messages(
    id: String,
    state: AppState,
    current: CurrentUser,
) -> Result<Response, ApiError> {
    let conversation = session(&state, &current, id).await?;
    let user_id = current.user.id.clone();
    let thread = state
        .db
        .run(move |conn| repo::thread(conn, &conversation, &user_id))
        .await?;
    Ok(json_response(
        StatusCode::OK,
        &Exchanges {
            messages: exchanges(&thread),
        },
    ))
}

/// PATCH /v1/llm/sessions/{session_id}/messages: the last question rewritten
/// and answered again (the old exchange stays as an earlier version).
#[utoipa::path(patch, path = "/v1/llm/sessions/{session_id}/messages", tag = "compat-llm",
    params(("session_id" = String, Path, description = "A session (conversation) id")),
    request_body = MessageBody,
    responses(
        (status = 200, description = "The last question rewritten and answered again", body = Answer),
        TurnFailures,
    ))]
async fn edit_last(
    id: String,
    state: AppState,
    current: CurrentUser,
    body: MessageBody,
) -> Result<Response, ApiError> {
    let conversation = session(&state, &current, id).await?;
    if let Some(idx) = &body.message_idx {
        let last = exchange_of(conversation.message_count);
        match idx.value() {
            None => return Err(ApiError::invalid("message_idx", "must be a number")),
            Some(n) if n != last => {
                return Err(ApiError::Conflict(format!(
                    "only the last message ({last}) can be edited"
                )))
            }
            Some(_) => {}
        }
    }
    let (status, body) = answer(
        &state,
        &current,
        conversation,
        Turn::Edit(body.content),
        body.model_id,
        StatusCode::OK,
    )
    .await?;
    Ok(json_response(status, &body))
}

/// DELETE /v1/llm/sessions/{session_id}/messages → 204.
#[utoipa::path(delete, path = "/v1/llm/sessions/{session_id}/messages", tag = "compat-llm",
    params(("session_id" = String, Path, description = "A session (conversation) id")),
    responses(
        (status = 204, description = "The last exchange deleted"),
        (status = 401, description = "Not signed in", body = crate::api::openapi::Error),
        (status = 404, description = "No such session of the caller's", body = crate::api::openapi::Error),
    ))]
async fn delete_last(
    id: String,
    state: AppState,
    current: CurrentUser,
) -> Result<Response, ApiError> {
    let conversation = session(&state, &current, id).await?;
    if !ops::delete_last(&chat(&state), conversation).await? {
        return Err(ApiError::NotFound("the session has no messages".into()));
    }
    Ok(crate::api::no_content())
}

/// The seed's regenerate body: a model, and optionally the question again
/// (a different `content` rewrites the last question, as an edit does).
#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = LlmRegenerateBody)]
struct RegenerateBody {
    content: Option<String>,
    #[serde(alias = "model id")]
    model_id: Option<String>,
}

/// POST /v1/llm/sessions/{session_id}/regenerate → 200.
#[utoipa::path(post, path = "/v1/llm/sessions/{session_id}/regenerate", tag = "compat-llm",
    params(("session_id" = String, Path, description = "A session (conversation) id")),
    request_body(content = RegenerateBody, description = "Optional: an empty body answers the last question again"),
    responses(
        (status = 200, description = "The last question answered again (`answer` and `awswer`)", body = Answer),
        TurnFailures,
    ))]
async fn regenerate(
    id: String,
    state: AppState,
    current: CurrentUser,
    body: RegenerateBody,
) -> Result<Response, ApiError> {
    let conversation = session(&state, &current, id).await?;
    let last_question = match &conversation.current_message_id {
        Some(leaf) => {
            let leaf = leaf.clone();
            state
                .db
                .run(move |conn| -> Result<_, crate::db::DbError> {
                    let Some(m) = repo::message(conn, &leaf)? else {
                        return Ok(None);
                    };
                    if m.role == Role::User {
                        return Ok(Some(m.content));
                    }
                    match m.parent_id {
                        Some(p) => Ok(repo::message(conn, &p)?.map(|q| q.content)),
                        None => Ok(None),
                    }
                })
                .await?
        }
        None => None,
    };
    let turn = match body.content {
        Some(content) if Some(&content) != last_question.as_ref() && !content.trim().is_empty() => {
            Turn::Edit(content)
        }
        _ => Turn::Regenerate,
    };
    let (status, mut body) = answer(
        &state,
        &current,
        conversation,
        turn,
        body.model_id,
        StatusCode::OK,
    )
    .await?;
    if let Answered::Answer(answer) = &mut body {
        answer.awswer = Some(answer.answer.clone());
    }
    Ok(json_response(status, &body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn exchanges_are_numbered_from_one_with_the_question_and_its_answer() {
        assert_eq!(exchange_of(1), 1);
        assert_eq!(exchange_of(2), 1);
        assert_eq!(exchange_of(3), 2);
        assert_eq!(exchange_of(4), 2);
    }

    #[test]
    fn message_idx_is_read_as_the_seed_writes_it_or_as_a_number() {
        let text: MessageBody =
            serde_json::from_value(json!({"message_idx": "2", "content": "x", "model id": "m"}))
                .unwrap();
        assert_eq!(text.message_idx.and_then(|i| i.value()), Some(2));
        assert_eq!(text.model_id.as_deref(), Some("m"));
        let number: MessageBody =
            serde_json::from_value(json!({"message_idx": 3, "content": "x"})).unwrap();
        assert_eq!(number.message_idx.and_then(|i| i.value()), Some(3));
    }
}
