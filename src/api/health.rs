//! `/health`: is the server up and can it read its database.

use serde_json::json;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::error::json_response;
use crate::app::AppState;
use crate::db::DbError;

/// GET /api/v1/health
pub fn routes(state: AppState) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("health")
        .and(warp::get())
        .and(super::with_state(state))
        .then(health)
}

/// `{"status":"ok","db":"ok","version":...}`, or 503 with `db: "unavailable"`
/// when a read of the schema's own table fails.
async fn health(state: AppState) -> Response {
    let read = state
        .db
        .run(|conn| {
            conn.query_row("SELECT count(*) FROM setting", [], |row| {
                row.get::<_, i64>(0)
            })
            .map_err(DbError::from)
        })
        .await;
    match read {
        Ok(_) => json_response(
            StatusCode::OK,
            &json!({"status": "ok", "db": "ok", "version": crate::VERSION}),
        ),
        Err(err) => {
            log::warn!("health check: the database cannot be read: {err}");
            json_response(
                StatusCode::SERVICE_UNAVAILABLE,
                &json!({
                    "status": "degraded",
                    "db": "unavailable",
                    "version": crate::VERSION,
                    "error": "the database cannot be read",
                    "code": "db_unavailable",
                }),
            )
        }
    }
}
