//! `/api-keys`: the signed-in user's API keys (seed 004), shown once, stored
//! hashed, accepted as `X-API-Key` or `Authorization: Bearer dk_…`.
//!
//! Keys are managed from a sign-in session only: a key that could mint keys
//! would outlive its own revocation, and one that could revoke others could
//! revoke its parent's replacements. A key may still revoke itself.

use serde::Deserialize;
use serde_json::json;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::error::{json_response, respond, ApiError};
use super::filters::{authenticated, json_body, session_only, with_state};
use crate::app::AppState;
use crate::auth::{tokens, CurrentUser};
use crate::db;

/// Longest allowed key lifetime (ten years).
const MAX_EXPIRY_DAYS: i64 = 3650;

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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    client_name: String,
    expires_in_days: Option<i64>,
}

async fn create(
    state: AppState,
    current: CurrentUser,
    body: CreateBody,
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
        StatusCode::CREATED,
        &json!({
            "id": created.id,
            "api_key": key,
            "client_name": created.client_name,
            "prefix": created.prefix,
            "created_at": created.created_at,
            "expires_at": created.expires_at,
        }),
    ))
}

async fn list(state: AppState, current: CurrentUser) -> Result<Response, ApiError> {
    let user_id = current.user.id.clone();
    let keys = state
        .db
        .run(move |conn| db::token::list_api_keys(conn, &user_id))
        .await?;
    Ok(json_response(StatusCode::OK, &json!({ "api_keys": keys })))
}

async fn revoke(id: String, state: AppState, current: CurrentUser) -> Result<Response, ApiError> {
    if current.api_key_id.as_deref() != Some(id.as_str()) {
        session_only(&current, "revoke other API keys")?;
    }
    let user_id = current.user.id.clone();
    let revoked = state
        .db
        .run(move |conn| db::token::revoke_api_key(conn, &user_id, &id))
        .await?;
    if !revoked {
        return Err(ApiError::NotFound("no such API key".into()));
    }
    Ok(json_response(
        StatusCode::OK,
        &json!({ "message": "API key revoked" }),
    ))
}
