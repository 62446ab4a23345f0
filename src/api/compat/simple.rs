//! `/simple/*`: seed 004's simple API (SPEC §4). A client identifies itself
//! with `X-API-Key`; each key has its own current model and running
//! conversation, kept in `api_key_session`, so both survive a restart. The
//! running conversation is an ordinary conversation of the key's user (it
//! shows in the web app); clearing the history only detaches it.
//!
//! Errors are `{"error": "...", "code": "..."}` with the seed's statuses: a
//! bad request (including an invalid value) is 400, not 422.

use std::convert::Infallible;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use warp::http::StatusCode;
use warp::reply::{Reply, Response};
use warp::{Filter, Rejection};

use crate::api::error::{from_rejection, json_response, ApiError};
use crate::api::filters::session_only;
use crate::api::filters::{authenticated, json_body, with_state};
use crate::api::views::chat;
use crate::app::AppState;
use crate::auth::{tokens, CurrentUser};
use crate::db::conversation::{self as repo, NewConversation, Role};
use crate::db::{self, compat, connection};
use crate::service::chat::{self as ask, Ask, Outcome, Turn};

/// Longest key lifetime (as the native API: ten years).
const MAX_EXPIRY_DAYS: i64 = 3650;

/// The `/simple` dialect's part of the OpenAPI document (tag `compat-simple`;
/// its paths are written from the deployment's root, see `openapi::spec`).
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(create_key, revoke_key, list_models, get_model, set_model, query, history, clear_history),
    components(schemas(
        CreatedKey, Notice, SimpleModels, SimpleModel, CurrentModel, QueryAnswer, FailedQuery,
        HistoryItem, CreateKeyBody, ModelBody, QueryBody
    )),
    tags((name = "compat-simple", description = "Seed 004's simple API at `/simple`: the per-key \
        routes (model, query, history) need `X-API-Key`. Bad requests are 400."))
)]
pub struct Doc;

/// `/simple/...` with its own `recover`, so every answer under the prefix is
/// JSON in the seed's shape.
pub fn tree(state: AppState) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path("simple").and(routes(state).recover(recover).unify())
}

fn routes(state: AppState) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let st = || with_state(state.clone());
    let user = || authenticated(state.clone());
    // POST /simple/api-keys
    let create_key = warp::path!("api-keys")
        .and(warp::post())
        .and(st())
        .and(user())
        .and(json_body())
        .then(create_key)
        .map(simple_respond);
    // DELETE /simple/api-keys/{api_key}
    let revoke_key = warp::path!("api-keys" / String)
        .and(warp::delete())
        .and(st())
        .and(user())
        .then(revoke_key)
        .map(simple_respond);
    // GET /simple/models
    let models = warp::path!("models")
        .and(warp::get())
        .and(st())
        .and(user())
        .then(list_models)
        .map(simple_respond);
    // GET /simple/model
    let get_model = warp::path!("model")
        .and(warp::get())
        .and(st())
        .and(user())
        .then(get_model)
        .map(simple_respond);
    // POST /simple/model
    let set_model = warp::path!("model")
        .and(warp::post())
        .and(st())
        .and(user())
        .and(json_body())
        .then(set_model)
        .map(simple_respond);
    // POST /simple/query
    let query = warp::path!("query")
        .and(warp::post())
        .and(st())
        .and(user())
        .and(json_body())
        .then(query)
        .map(simple_respond);
    // GET /simple/history
    let history = warp::path!("history")
        .and(warp::get())
        .and(st())
        .and(user())
        .then(history)
        .map(simple_respond);
    // DELETE /simple/history
    let clear = warp::path!("history")
        .and(warp::delete())
        .and(st())
        .and(user())
        .then(clear_history)
        .map(simple_respond);
    create_key
        .or(revoke_key)
        .unify()
        .or(models)
        .unify()
        .or(get_model)
        .unify()
        .or(set_model)
        .unify()
        .or(query)
        .unify()
        .or(history)
        .unify()
        .or(clear)
        .unify()
}

/// The seed answers 400 for every bad request: a 422 becomes a 400 whose
/// message names the field.
fn seed_error(err: &ApiError) -> Response {
    match err {
        ApiError::Validation(fields) => {
            let message = fields
                .iter()
                .map(|(field, why)| format!("{field} {why}"))
                .collect::<Vec<_>>()
                .join("; ");
            ApiError::BadRequest(message).into_response()
        }
        ApiError::MissingField(field) => {
            ApiError::BadRequest(format!("{field} is required")).into_response()
        }
        other => other.to_response(),
    }
}

fn simple_respond(result: Result<Response, ApiError>) -> Response {
    result.unwrap_or_else(|err| seed_error(&err))
}

async fn recover(rejection: Rejection) -> Result<Response, Infallible> {
    Ok(seed_error(&from_rejection(&rejection)))
}

/// The API key of the request: the per-key routes need one.
fn key_of(current: &CurrentUser) -> Result<String, ApiError> {
    current.api_key_id.clone().ok_or_else(|| {
        ApiError::unauthorized(
            "api_key_required",
            "this route keeps its state per API key: send X-API-Key",
        )
    })
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = SimpleCreateKeyBody)]
struct CreateKeyBody {
    client_name: String,
    expires_in_days: Option<i64>,
}

/// POST /simple/api-keys → 200 `{api_key, client_name, created_at, expires_at}`.
/// Unlike the seed, it needs a signed-in user (SPEC §3: that was a hole).
#[utoipa::path(post, path = "/simple/api-keys", tag = "compat-simple",
    request_body = CreateKeyBody,
    responses(
        (status = 200, description = "The new key, shown once", body = CreatedKey),
        (status = 400, description = "A bad request (the seed answers 400, never 422)", body = crate::api::openapi::Error),
        (status = 401, description = "Not signed in", body = crate::api::openapi::Error),
        (status = 403, description = "Only a signed-in session (not an API key) creates keys", body = crate::api::openapi::Error),
    ))]
async fn create_key(
    state: AppState,
    current: CurrentUser,
    body: CreateKeyBody,
) -> Result<Response, ApiError> {
    session_only(&current, "create API keys")?;
    let client_name = body.client_name.trim().to_string();
    if client_name.is_empty() || client_name.chars().count() > 64 {
        return Err(ApiError::invalid(
            "client_name",
            "must be 1 to 64 characters long",
        ));
    }
    if let Some(days) = body.expires_in_days {
        if !(1..=MAX_EXPIRY_DAYS).contains(&days) {
            return Err(ApiError::invalid(
                "expires_in_days",
                format!("must be between 1 and {MAX_EXPIRY_DAYS}"),
            ));
        }
    }
    let key = tokens::new_api_key();
    let hash = tokens::sha256_hex(&key);
    let prefix = tokens::api_key_display_prefix(&key);
    let expires_at = body.expires_in_days.map(tokens::days_from_now);
    let user_id = current.user.id.clone();
    let created = state
        .db
        .run(move |conn| -> Result<_, crate::db::DbError> {
            db::token::insert_api_key(
                conn,
                &user_id,
                &client_name,
                &hash,
                &prefix,
                expires_at.as_deref(),
            )
        })
        .await?;
    Ok(json_response(
        StatusCode::OK,
        &CreatedKey {
            api_key: key,
            client_name: created.client_name,
            created_at: created.created_at,
            expires_at: created.expires_at,
        },
    ))
}

/// DELETE /simple/api-keys/{api_key}: the key itself in the path (seed 004);
/// only the caller's own keys.
#[utoipa::path(delete, path = "/simple/api-keys/{api_key}", tag = "compat-simple",
    params(("api_key" = String, Path, description = "The key itself")),
    responses(
        (status = 200, description = "Revoked", body = Notice),
        (status = 400, description = "A bad request (the seed answers 400, never 422)", body = crate::api::openapi::Error),
        (status = 401, description = "Not signed in", body = crate::api::openapi::Error),
        (status = 404, description = "No such key of the caller's", body = crate::api::openapi::Error),
    ))]
async fn revoke_key(
    api_key: String,
    state: AppState,
    current: CurrentUser,
) -> Result<Response, ApiError> {
    let api_key = percent_encoding::percent_decode_str(&api_key)
        .decode_utf8_lossy()
        .into_owned();
    let hash = tokens::sha256_hex(&api_key);
    // A key may end itself (the seed's own use), not another key.
    if current.api_key_hash.as_deref() != Some(hash.as_str()) {
        session_only(&current, "revoke other API keys")?;
    }
    let user_id = current.user.id.clone();
    let revoked = state
        .db
        .run(move |conn| compat::revoke_api_key_by_hash(conn, &user_id, &hash))
        .await?;
    if !revoked {
        return Err(ApiError::NotFound("API 키를 찾을 수 없습니다.".into()));
    }
    Ok(json_response(
        StatusCode::OK,
        &Notice::new("API 키가 비활성화되었습니다."),
    ))
}

/// GET /simple/models: OpenAI's list shape.
#[utoipa::path(get, path = "/simple/models", tag = "compat-simple",
    responses(
        (status = 200, description = "The models that may be used", body = SimpleModels),
        (status = 400, description = "A bad request (the seed answers 400, never 422)", body = crate::api::openapi::Error),
        (status = 401, description = "Not signed in", body = crate::api::openapi::Error),
    ))]
async fn list_models(state: AppState, current: CurrentUser) -> Result<Response, ApiError> {
    let models =
        crate::service::groups::allowed_models_of(&state.db, Some(current.user.id)).await?;
    let data = models
        .iter()
        .map(|m| SimpleModel {
            id: m.id.clone(),
            object: "model",
            created: m.created_unix(),
            owned_by: m.vendor.to_lowercase(),
            permission: Vec::new(),
            root: m.id.clone(),
            parent: None,
        })
        .collect();
    Ok(json_response(
        StatusCode::OK,
        &SimpleModels {
            data,
            object: "list",
        },
    ))
}

/// The key's model while it is available (a model the user's groups no
/// longer grant stays, so that asking it is the ask's 403
/// `model_not_allowed`, not a silent switch), else the first model the
/// key's user may use.
async fn current_model(
    state: &AppState,
    user_id: String,
    key_id: String,
) -> Result<Option<String>, ApiError> {
    Ok(state
        .db
        .run(move |conn| -> Result<_, crate::db::DbError> {
            let session = compat::key_session(conn, &key_id)?;
            let available = connection::available_models(conn)?;
            let allowed = crate::service::groups::allowed_models(conn, Some(&user_id))?;
            Ok(session
                .model_id
                .filter(|m| available.iter().any(|a| &a.id == m))
                .or_else(|| allowed.first().map(|m| m.id.clone())))
        })
        .await?)
}

/// GET /simple/model → `{"model"}`.
#[utoipa::path(get, path = "/simple/model", tag = "compat-simple",
    responses(
        (status = 200, description = "The key's current model", body = CurrentModel),
        (status = 400, description = "A bad request (the seed answers 400, never 422)", body = crate::api::openapi::Error),
        (status = 401, description = "Not signed in", body = crate::api::openapi::Error),
    ))]
async fn get_model(state: AppState, current: CurrentUser) -> Result<Response, ApiError> {
    let key_id = key_of(&current)?;
    let model = current_model(&state, current.user.id.clone(), key_id).await?;
    Ok(json_response(StatusCode::OK, &CurrentModel { model }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = SimpleModelBody)]
struct ModelBody {
    model: String,
}

/// POST /simple/model `{"model"}` → `{"model"}`, or 400 naming the models
/// that can be used.
#[utoipa::path(post, path = "/simple/model", tag = "compat-simple",
    request_body = ModelBody,
    responses(
        (status = 200, description = "The key's model, changed", body = CurrentModel),
        (status = 400, description = "A bad request (the seed answers 400, never 422)", body = crate::api::openapi::Error),
        (status = 401, description = "Not signed in", body = crate::api::openapi::Error),
    ))]
async fn set_model(
    state: AppState,
    current: CurrentUser,
    body: ModelBody,
) -> Result<Response, ApiError> {
    let key_id = key_of(&current)?;
    let wanted = body.model.clone();
    let user_id = current.user.id.clone();
    let outcome = state
        .db
        .run(move |conn| -> Result<_, crate::db::DbError> {
            let available = crate::service::groups::allowed_models(conn, Some(&user_id))?;
            if !available.iter().any(|m| m.id == wanted) {
                let names: Vec<String> = available.into_iter().map(|m| m.id).collect();
                return Ok(Err(names));
            }
            compat::set_key_model(conn, &key_id, &wanted)?;
            Ok(Ok(()))
        })
        .await?;
    match outcome {
        Ok(()) => Ok(json_response(
            StatusCode::OK,
            &CurrentModel {
                model: Some(body.model),
            },
        )),
        Err(names) => Err(ApiError::BadRequest(format!(
            "사용할 수 없는 모델입니다. 사용 가능한 모델: {}",
            names.join(", ")
        ))),
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = SimpleQueryBody)]
struct QueryBody {
    input: String,
}

/// POST /simple/query `{"input"}` → `{"response"}`: the next turn of the key's
/// running conversation (started on the first query), with the key's model.
#[utoipa::path(post, path = "/simple/query", tag = "compat-simple",
    request_body = QueryBody,
    responses(
        (status = 200, description = "The answer of the key's running conversation", body = QueryAnswer),
        (status = 400, description = "A bad request (the seed answers 400, never 422)", body = crate::api::openapi::Error),
        (status = 401, description = "Not signed in", body = crate::api::openapi::Error),
        (status = 429, description = "The caller's plan or the provider says wait", body = FailedQuery),
        (status = 502, description = "The provider failed (`upstream_*`)", body = FailedQuery),
        (status = 504, description = "The provider did not answer in time", body = FailedQuery),
    ))]
async fn query(
    state: AppState,
    current: CurrentUser,
    body: QueryBody,
) -> Result<Response, ApiError> {
    let key_id = key_of(&current)?;
    if body.input.trim().is_empty() {
        return Err(ApiError::invalid("input", "must not be empty"));
    }
    let model = current_model(&state, current.user.id.clone(), key_id.clone()).await?;
    let user_id = current.user.id.clone();
    let conversation = state
        .db
        .run(move |conn| -> Result<_, crate::db::DbError> {
            let session = compat::key_session(conn, &key_id)?;
            if let Some(id) = &session.conversation_id {
                if let Some(c) = repo::get(conn, &user_id, id)? {
                    return Ok(c);
                }
            }
            let created = repo::create(
                conn,
                &user_id,
                &NewConversation {
                    title: "",
                    model_id: None,
                    system_prompt: "",
                },
            )?;
            compat::set_key_conversation(conn, &key_id, Some(&created.id))?;
            Ok(created)
        })
        .await?;
    let started = ask::ask(
        &chat(&state),
        &current.user.id,
        conversation,
        Ask::new(Turn::Question(body.input), model),
    )
    .await?;
    match ask::outcome(&started.generation).await? {
        Outcome::Answered { message, .. } => Ok(json_response(
            StatusCode::OK,
            &QueryAnswer {
                response: message["content"].as_str().unwrap_or_default().to_string(),
            },
        )),
        Outcome::Failed {
            status,
            error,
            code,
            ..
        } => Ok(json_response(
            StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY),
            &FailedQuery {
                error: error.as_str().unwrap_or_default().to_string(),
                code: code.as_str().unwrap_or_default().to_string(),
            },
        )),
    }
}

/// GET /simple/history → `[{role, content, timestamp}]` of the running conversation.
#[utoipa::path(get, path = "/simple/history", tag = "compat-simple",
    responses(
        (status = 200, description = "The key's running conversation", body = Vec<HistoryItem>),
        (status = 400, description = "A bad request (the seed answers 400, never 422)", body = crate::api::openapi::Error),
        (status = 401, description = "Not signed in", body = crate::api::openapi::Error),
    ))]
async fn history(state: AppState, current: CurrentUser) -> Result<Response, ApiError> {
    let key_id = key_of(&current)?;
    let user_id = current.user.id.clone();
    let thread = state
        .db
        .run(move |conn| -> Result<_, crate::db::DbError> {
            let session = compat::key_session(conn, &key_id)?;
            let Some(id) = session.conversation_id else {
                return Ok(Vec::new());
            };
            match repo::get(conn, &user_id, &id)? {
                Some(c) => repo::thread(conn, &c, &user_id),
                None => Ok(Vec::new()),
            }
        })
        .await?;
    let items: Vec<HistoryItem> = thread
        .into_iter()
        .filter(|m| matches!(m.role, Role::User | Role::Assistant))
        .map(|m| HistoryItem {
            role: m.role,
            content: m.content,
            timestamp: m.created_at,
        })
        .collect();
    Ok(json_response(StatusCode::OK, &items))
}

/// DELETE /simple/history: the next query starts a new conversation (the old
/// one stays in the user's list).
#[utoipa::path(delete, path = "/simple/history", tag = "compat-simple",
    responses(
        (status = 200, description = "The next query starts a new conversation", body = Notice),
        (status = 400, description = "A bad request (the seed answers 400, never 422)", body = crate::api::openapi::Error),
        (status = 401, description = "Not signed in", body = crate::api::openapi::Error),
    ))]
async fn clear_history(state: AppState, current: CurrentUser) -> Result<Response, ApiError> {
    let key_id = key_of(&current)?;
    state
        .db
        .run(move |conn| compat::set_key_conversation(conn, &key_id, None))
        .await?;
    Ok(json_response(
        StatusCode::OK,
        &Notice::new("대화 기록이 초기화되었습니다."),
    ))
}

/// `POST /simple/api-keys`: the new key, shown once.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SimpleCreatedKey)]
pub struct CreatedKey {
    /// The key: send it as `X-API-Key`.
    api_key: String,
    client_name: String,
    created_at: String,
    expires_at: Option<String>,
}

/// A done action, in the seed's words (Korean).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SimpleNotice)]
pub struct Notice {
    message: &'static str,
}

impl Notice {
    fn new(message: &'static str) -> Notice {
        Notice { message }
    }
}

/// `GET /simple/models`: OpenAI's list shape.
#[derive(Debug, Serialize, ToSchema)]
pub struct SimpleModels {
    data: Vec<SimpleModel>,
    /// Always `list`.
    #[schema(example = "list")]
    object: &'static str,
}

/// A model in the seed's (older OpenAI) shape.
#[derive(Debug, Serialize, ToSchema)]
pub struct SimpleModel {
    id: String,
    /// Always `model`.
    #[schema(example = "model")]
    object: &'static str,
    /// Always 0.
    created: i64,
    owned_by: String,
    /// Always empty.
    #[schema(value_type = Vec<Object>)]
    permission: Vec<()>,
    /// The model's id.
    root: String,
    /// Always null.
    parent: Option<String>,
}

/// The key's current model (`GET`/`POST /simple/model`); null when no model
/// can be used.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SimpleCurrentModel)]
pub struct CurrentModel {
    model: Option<String>,
}

/// `POST /simple/query`: the answer's text.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SimpleQueryAnswer)]
pub struct QueryAnswer {
    response: String,
}

/// A query whose answer failed: the native error shape, with the provider
/// failure's status and code.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SimpleFailedQuery)]
pub struct FailedQuery {
    error: String,
    code: String,
}

/// A message of `GET /simple/history`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SimpleHistoryItem)]
pub struct HistoryItem {
    /// `user` or `assistant`.
    role: Role,
    content: String,
    /// When it was written (RFC 3339).
    timestamp: String,
}
