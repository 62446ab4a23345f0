//! `/health`: is the server up and can it read its database.

use serde_json::json;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::error::json_response;
use crate::app::AppState;

/// The setting the health check writes while the disk is full.
const HEALTH_PROBE: &str = "health_probe";

/// GET /api/v1/health
pub fn routes(state: AppState) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("health")
        .and(warp::get())
        .and(super::with_state(state))
        .then(health)
}

/// `{"status":"ok","db":"ok","version":...}`, or 503 with `db: "unavailable"`
/// when a read of the schema's own table fails, or `db: "disk_full"` while
/// writes fail for lack of space (then each check tries one small write, so
/// the state clears as soon as space is freed).
async fn health(state: AppState) -> Response {
    let full = state.db.disk_full();
    let read = state
        .db
        .run(move |conn| -> Result<_, crate::db::DbError> {
            conn.query_row("SELECT count(*) FROM setting", [], |row| {
                row.get::<_, i64>(0)
            })?;
            if full {
                crate::db::setting::put(conn, HEALTH_PROBE, &crate::db::now().into())?;
            }
            Ok(())
        })
        .await;
    match read {
        Err(err) if err.is_disk_full() => json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            &json!({
                "status": "degraded",
                "db": "disk_full",
                "version": crate::VERSION,
                "error": crate::api::error::ApiError::DiskFull.to_string(),
                "code": "disk_full",
            }),
        ),
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
