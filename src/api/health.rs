//! `/health`: is the server up and can it read its database.

use serde::Serialize;
use utoipa::ToSchema;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::error::{json_response, ApiError};
use crate::app::AppState;
use crate::service::status::{self, Health as Found};

/// GET /api/v1/health
pub fn routes(state: AppState) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("health")
        .and(warp::get())
        .and(super::with_state(state))
        .then(health)
}

/// The health check's answer: `ok`, or `degraded` with the error's
/// `error` and `code` besides.
#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok` or `degraded`.
    status: &'static str,
    /// `ok`, `disk_full` or `unavailable`.
    db: &'static str,
    version: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    error: Option<String>,
    /// `disk_full` or `db_unavailable`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    code: Option<&'static str>,
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(health), components(schemas(Health)), tags((name = "public")))]
pub struct Doc;

/// `{"status":"ok","db":"ok","version":...}`, or 503 with `db: "unavailable"`
/// when a read of the schema's own table fails, or `db: "disk_full"` while
/// writes fail for lack of space (then each check tries one small write, so
/// the state clears as soon as space is freed).
#[utoipa::path(get, path = "/health", tag = "public", security(()),
    responses((status = 200, body = Health),
        (status = 503, description = "the database cannot be read or written", body = Health)))]
async fn health(state: AppState) -> Response {
    let degraded = |db, error, code| Health {
        status: "degraded",
        db,
        version: crate::VERSION,
        error: Some(error),
        code: Some(code),
    };
    match status::health(&state.db).await {
        Found::Ok => json_response(
            StatusCode::OK,
            &Health {
                status: "ok",
                db: "ok",
                version: crate::VERSION,
                error: None,
                code: None,
            },
        ),
        Found::DiskFull => json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            &degraded("disk_full", ApiError::DiskFull.to_string(), "disk_full"),
        ),
        Found::Unavailable => json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            &degraded(
                "unavailable",
                "the database cannot be read".into(),
                "db_unavailable",
            ),
        ),
    }
}
