//! `/prompts`: the prompt library (SPEC §3 "Public"): the starter prompts
//! shipped in the binary plus the ones admins add (`service::prompts`).
//! Reading needs no sign-in; changes are admin-only and audited.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::error::{json_response, respond, ApiError};
use super::filters::{admin, json_body, with_state};
use super::openapi::Error;
use crate::app::AppState;
use crate::auth::CurrentUser;
use crate::db::prompt::Prompt;
use crate::service::prompts::{self, PromptChange};

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(list, create, update, delete),
    components(schemas(Prompt, PromptList, PromptBody)),
    tags((name = "prompts", description = "The prompt library; changes are admin-only"))
)]
pub struct Doc;

pub fn routes(state: AppState) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    // GET /api/v1/prompts?lang=&q=
    let list = warp::path!("prompts")
        .and(warp::get())
        .and(with_state(state.clone()))
        .and(warp::query::<ListQuery>())
        .then(list)
        .map(respond);
    // POST /api/v1/prompts (admin)
    let create = warp::path!("prompts")
        .and(warp::post())
        .and(with_state(state.clone()))
        .and(admin(state.clone()))
        .and(json_body())
        .then(create)
        .map(respond);
    // PUT|PATCH /api/v1/prompts/{id} (admin)
    let update = warp::path!("prompts" / String)
        .and(warp::put().or(warp::patch()).unify())
        .and(with_state(state.clone()))
        .and(admin(state.clone()))
        .and(json_body())
        .then(update)
        .map(respond);
    // DELETE /api/v1/prompts/{id} (admin)
    let delete = warp::path!("prompts" / String)
        .and(warp::delete())
        .and(with_state(state.clone()))
        .and(admin(state))
        .then(delete)
        .map(respond);
    list.or(create)
        .unify()
        .or(update)
        .unify()
        .or(delete)
        .unify()
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// `ko` or `en`; prompts for every language always match.
    lang: Option<String>,
    /// Comma-separated keywords, all must match.
    q: Option<String>,
}

/// `GET /prompts`
#[derive(Serialize, ToSchema)]
pub struct PromptList {
    prompts: Vec<Prompt>,
}

#[utoipa::path(get, path = "/prompts", tag = "prompts", security(()), params(ListQuery),
    responses((status = 200, body = PromptList), (status = 400, body = Error)))]
async fn list(state: AppState, query: ListQuery) -> Result<Response, ApiError> {
    let prompts = prompts::list(&state.db, query.lang, query.q.as_deref()).await?;
    Ok(json_response(StatusCode::OK, &PromptList { prompts }))
}

/// A prompt to add, or the fields to change (absent ones are kept).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PromptBody {
    /// 1–200 characters.
    title: Option<String>,
    /// 1–20000 characters.
    content: Option<String>,
    category: Option<String>,
    tags: Option<Vec<String>>,
    /// `ko`, `en`, or `null` for every language.
    #[serde(default, deserialize_with = "super::filters::double_option")]
    language: Option<Option<String>>,
}

impl From<PromptBody> for PromptChange {
    fn from(b: PromptBody) -> Self {
        PromptChange {
            title: b.title,
            content: b.content,
            category: b.category,
            tags: b.tags,
            language: b.language,
        }
    }
}

#[utoipa::path(post, path = "/prompts", tag = "prompts", request_body = PromptBody,
    responses((status = 201, body = Prompt), (status = 400, body = Error),
        (status = 401, body = Error), (status = 403, body = Error), (status = 422, body = Error)))]
async fn create(
    state: AppState,
    admin: CurrentUser,
    body: PromptBody,
) -> Result<Response, ApiError> {
    let saved = prompts::save(&state.db, admin.actor(), None, body.into()).await?;
    Ok(json_response(StatusCode::CREATED, &saved))
}

#[utoipa::path(put, path = "/prompts/{id}", tag = "prompts", params(("id" = String, Path)),
    request_body = PromptBody,
    responses((status = 200, body = Prompt), (status = 400, body = Error),
        (status = 401, body = Error),
        (status = 403, description = "not an admin, or a starter prompt", body = Error),
        (status = 404, body = Error), (status = 422, body = Error)))]
async fn update(
    id: String,
    state: AppState,
    admin: CurrentUser,
    body: PromptBody,
) -> Result<Response, ApiError> {
    let saved = prompts::save(&state.db, admin.actor(), Some(id), body.into()).await?;
    Ok(json_response(StatusCode::OK, &saved))
}

#[utoipa::path(delete, path = "/prompts/{id}", tag = "prompts", params(("id" = String, Path)),
    responses((status = 204, description = "deleted"), (status = 401, body = Error),
        (status = 403, description = "not an admin, or a starter prompt", body = Error),
        (status = 404, body = Error)))]
async fn delete(id: String, state: AppState, admin: CurrentUser) -> Result<Response, ApiError> {
    prompts::delete(&state.db, admin.actor(), id).await?;
    Ok(super::no_content())
}
