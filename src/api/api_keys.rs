//! `/api-keys`: the signed-in user's API keys (seed 004), shown once, stored
//! hashed, accepted as `X-API-Key` or `Authorization: Bearer dk_…`.
//!
//! Keys are managed from a sign-in session only: a key that could mint keys
//! would outlive its own revocation, and one that could revoke others could
//! revoke its parent's replacements. A key may still revoke itself.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::error::{json_response, respond, ApiError};
use super::filters::{authenticated, json_body, session_only, with_state};
use super::openapi::Error;
use crate::app::AppState;
use crate::auth::CurrentUser;
use crate::db::token::ApiKey;
use crate::service::accounts;

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(create, list, revoke),
    components(schemas(ApiKey, ApiKeyList, CreatedApiKey, ApiKeyBody, ApiKeyRevoked)),
    tags((name = "api-keys"))
)]
pub struct Doc;

pub fn routes(state: AppState) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    // POST /api/v1/api-keys
    let create = warp::path!("api-keys")
        .and(warp::post())
        .and(with_state(state.clone()))
        .and(authenticated(state.clone()))
        .and(json_body())
        .then(create)
        .map(respond);
    // GET /api/v1/api-keys
    let list = warp::path!("api-keys")
        .and(warp::get())
        .and(with_state(state.clone()))
        .and(authenticated(state.clone()))
        .then(list)
        .map(respond);
    // DELETE /api/v1/api-keys/{id}
    let revoke = warp::path!("api-keys" / String)
        .and(warp::delete())
        .and(with_state(state.clone()))
        .and(authenticated(state))
        .then(revoke)
        .map(respond);
    create.or(list).unify().or(revoke).unify()
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyBody {
    /// 1–64 characters.
    client_name: String,
    /// 1–3650; never expires when absent.
    expires_in_days: Option<i64>,
}

/// `POST /api-keys`: the new key, shown once.
#[derive(Serialize, ToSchema)]
pub struct CreatedApiKey {
    id: String,
    /// The key itself; only in this answer.
    api_key: String,
    client_name: String,
    prefix: String,
    created_at: String,
    expires_at: Option<String>,
}

#[utoipa::path(post, path = "/api-keys", tag = "api-keys", request_body = ApiKeyBody,
    responses((status = 201, body = CreatedApiKey), (status = 400, body = Error),
        (status = 401, body = Error),
        (status = 403, description = "an API key may not create keys", body = Error),
        (status = 422, body = Error)))]
async fn create(
    state: AppState,
    current: CurrentUser,
    body: ApiKeyBody,
) -> Result<Response, ApiError> {
    session_only(&current, "create API keys")?;
    let (created, api_key) = accounts::create_api_key(
        &state.db,
        current.user.id.clone(),
        &body.client_name,
        body.expires_in_days,
    )
    .await?;
    Ok(json_response(
        StatusCode::CREATED,
        &CreatedApiKey {
            id: created.id,
            api_key,
            client_name: created.client_name,
            prefix: created.prefix,
            created_at: created.created_at,
            expires_at: created.expires_at,
        },
    ))
}

/// `GET /api-keys`
#[derive(Serialize, ToSchema)]
pub struct ApiKeyList {
    api_keys: Vec<ApiKey>,
}

#[utoipa::path(get, path = "/api-keys", tag = "api-keys",
    responses((status = 200, body = ApiKeyList), (status = 401, body = Error)))]
async fn list(state: AppState, current: CurrentUser) -> Result<Response, ApiError> {
    let api_keys = accounts::list_api_keys(&state.db, current.user.id.clone()).await?;
    Ok(json_response(StatusCode::OK, &ApiKeyList { api_keys }))
}

/// `DELETE /api-keys/{id}`
#[derive(Serialize, ToSchema)]
pub struct ApiKeyRevoked {
    /// `API key revoked`.
    message: String,
}

#[utoipa::path(delete, path = "/api-keys/{id}", tag = "api-keys", params(("id" = String, Path)),
    responses((status = 200, body = ApiKeyRevoked), (status = 401, body = Error),
        (status = 403, description = "an API key may revoke only itself", body = Error),
        (status = 404, body = Error)))]
async fn revoke(id: String, state: AppState, current: CurrentUser) -> Result<Response, ApiError> {
    if current.api_key_id.as_deref() != Some(id.as_str()) {
        session_only(&current, "revoke other API keys")?;
    }
    accounts::revoke_api_key(&state.db, current.user.id.clone(), id).await?;
    Ok(json_response(
        StatusCode::OK,
        &ApiKeyRevoked {
            message: "API key revoked".into(),
        },
    ))
}
