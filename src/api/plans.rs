//! `/admin/plans`: the plans admins define (name, daily message limit,
//! allowed models, self-service flag, default flag), `service::plans`.
//! Every change is audited.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::error::{json_response, respond, ApiError};
use super::filters::{admin, json_body, with_state};
use super::openapi::Error;
use crate::app::AppState;
use crate::auth::CurrentUser;
use crate::db::plan::Plan;
use crate::service::plans::{self, PlanChange};

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(list, create, update, delete),
    components(schemas(Plan, PlanList, PlanBody)),
    tags((name = "admin", description = "Administrators only (403 otherwise)"))
)]
pub struct Doc;

pub fn routes(state: AppState) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    // GET /api/v1/admin/plans
    let list = warp::path!("admin" / "plans")
        .and(warp::get())
        .and(with_state(state.clone()))
        .and(admin(state.clone()))
        .then(list)
        .map(respond);
    // POST /api/v1/admin/plans
    let create = warp::path!("admin" / "plans")
        .and(warp::post())
        .and(with_state(state.clone()))
        .and(admin(state.clone()))
        .and(json_body())
        .then(create)
        .map(respond);
    // PUT|PATCH /api/v1/admin/plans/{id}
    let update = warp::path!("admin" / "plans" / String)
        .and(warp::put().or(warp::patch()).unify())
        .and(with_state(state.clone()))
        .and(admin(state.clone()))
        .and(json_body())
        .then(update)
        .map(respond);
    // DELETE /api/v1/admin/plans/{id}
    let delete = warp::path!("admin" / "plans" / String)
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

/// `GET /admin/plans`: every plan (one page; `next_cursor` is always null).
#[derive(Serialize, ToSchema)]
pub struct PlanList {
    plans: Vec<Plan>,
    next_cursor: Option<String>,
}

#[utoipa::path(get, path = "/admin/plans", tag = "admin",
    responses((status = 200, body = PlanList), (status = 401, body = Error),
        (status = 403, body = Error)))]
async fn list(state: AppState, _admin: CurrentUser) -> Result<Response, ApiError> {
    let plans = plans::list(&state.db).await?;
    Ok(json_response(
        StatusCode::OK,
        &PlanList {
            plans,
            next_cursor: None,
        },
    ))
}

/// A plan; on PUT, absent fields keep their value.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanBody {
    /// 1–64 characters; required for a new plan.
    name: Option<String>,
    /// 0–1000000 answers a UTC day, or `null` for no limit.
    #[serde(default, deserialize_with = "super::filters::double_option")]
    daily_message_limit: Option<Option<i64>>,
    /// Model ids (at most 500); empty allows every model.
    allowed_models: Option<Vec<String>>,
    self_service: Option<bool>,
    /// Applies to users without an assigned plan (at most one).
    is_default: Option<bool>,
}

impl From<PlanBody> for PlanChange {
    fn from(b: PlanBody) -> Self {
        PlanChange {
            name: b.name,
            daily_message_limit: b.daily_message_limit,
            allowed_models: b.allowed_models,
            self_service: b.self_service,
            is_default: b.is_default,
        }
    }
}

#[utoipa::path(post, path = "/admin/plans", tag = "admin", request_body = PlanBody,
    responses((status = 201, body = Plan), (status = 400, body = Error),
        (status = 401, body = Error), (status = 403, body = Error), (status = 409, body = Error),
        (status = 422, body = Error)))]
async fn create(state: AppState, admin: CurrentUser, body: PlanBody) -> Result<Response, ApiError> {
    let saved = plans::save(&state.db, admin.actor(), None, body.into()).await?;
    Ok(json_response(StatusCode::CREATED, &saved))
}

#[utoipa::path(put, path = "/admin/plans/{id}", tag = "admin", params(("id" = String, Path)),
    request_body = PlanBody,
    responses((status = 200, body = Plan), (status = 400, body = Error),
        (status = 401, body = Error), (status = 403, body = Error), (status = 404, body = Error),
        (status = 409, body = Error), (status = 422, body = Error)))]
async fn update(
    id: String,
    state: AppState,
    admin: CurrentUser,
    body: PlanBody,
) -> Result<Response, ApiError> {
    let saved = plans::save(&state.db, admin.actor(), Some(id), body.into()).await?;
    Ok(json_response(StatusCode::OK, &saved))
}

#[utoipa::path(delete, path = "/admin/plans/{id}", tag = "admin", params(("id" = String, Path)),
    responses((status = 204, description = "deleted"), (status = 401, body = Error),
        (status = 403, body = Error), (status = 404, body = Error)))]
async fn delete(id: String, state: AppState, admin: CurrentUser) -> Result<Response, ApiError> {
    plans::delete(&state.db, admin.actor(), id).await?;
    Ok(super::no_content())
}
