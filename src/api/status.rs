//! What an operator looks at: `GET /api/v1/admin/status` (admins) and the
//! Prometheus text at `<base path>/metrics` (only with `--metrics`).

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;
use utoipa::ToSchema;
use warp::http::{header, HeaderValue, StatusCode};
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::error::{json_response, respond, ApiError};
use super::filters::{admin, with_state};
use crate::app::AppState;
use crate::auth::CurrentUser;
use crate::db::stats::ConnectionHealth;
use crate::service::status;

/// Requests answered since start, by status class (1xx … 5xx).
#[derive(Debug, Default)]
pub struct RequestCounts([AtomicU64; 5]);

impl RequestCounts {
    pub fn record(&self, status: u16) {
        if let Some(slot) = (status / 100)
            .checked_sub(1)
            .and_then(|i| self.0.get(i as usize))
        {
            slot.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn get(&self, class: usize) -> u64 {
        self.0[class].load(Ordering::Relaxed)
    }
}

/// GET /api/v1/admin/status
pub fn routes(state: AppState) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("admin" / "status")
        .and(warp::get())
        .and(with_state(state.clone()))
        .and(admin(state))
        .then(status)
        .map(respond)
}

/// GET <base>/metrics (mounted only when enabled).
pub fn metrics_route(
    state: AppState,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("metrics")
        .and(warp::get())
        .and(with_state(state))
        .then(|state: AppState| async move {
            match metrics(state).await {
                Ok(text) => {
                    let mut res = Response::new(text.into());
                    res.headers_mut().insert(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
                    );
                    res
                }
                Err(err) => err.to_response(),
            }
        })
}

/// `GET /admin/status`: the version, uptime, storage and each connection's
/// newest failure (types.ts `ServerStatus`).
#[derive(Serialize, ToSchema)]
pub struct ServerStatus {
    version: &'static str,
    uptime_seconds: u64,
    started_at: String,
    database_path: String,
    database_bytes: u64,
    free_disk_bytes: Option<u64>,
    active_generations: usize,
    connections: Vec<ConnectionHealth>,
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(status), components(schemas(ServerStatus, ConnectionHealth)), tags((name = "admin")))]
pub struct Doc;

#[utoipa::path(get, path = "/admin/status", tag = "admin",
    responses((status = 200, body = ServerStatus), (status = 401, body = crate::api::openapi::Error),
        (status = 403, body = crate::api::openapi::Error)))]
async fn status(state: AppState, _admin: CurrentUser) -> Result<Response, ApiError> {
    let (connections, storage) = status::report(&state.db).await?;
    Ok(json_response(
        StatusCode::OK,
        &ServerStatus {
            version: crate::VERSION,
            uptime_seconds: state.started.elapsed().as_secs(),
            started_at: state.started_at.clone(),
            database_path: state.db.path().display().to_string(),
            database_bytes: storage.database_bytes,
            free_disk_bytes: storage.free_disk_bytes,
            active_generations: state.engine.active(),
            connections,
        },
    ))
}

/// The Prometheus text exposition.
async fn metrics(state: AppState) -> Result<String, ApiError> {
    let (counts, storage) = status::counts(&state.db).await?;
    let (users, conversations, messages) = (counts.users, counts.conversations, counts.messages);
    let (db_bytes, free) = (storage.database_bytes, storage.free_disk_bytes);
    let mut out = String::new();
    let mut gauge = |name: &str, help: &str, kind: &str, value: String| {
        out.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"
        ));
    };
    gauge(
        "daehwa_info",
        "The running version.",
        "gauge",
        String::new(),
    );
    gauge(
        "daehwa_uptime_seconds",
        "Seconds since the server started.",
        "gauge",
        state.started.elapsed().as_secs().to_string(),
    );
    gauge(
        "daehwa_active_generations",
        "Answers being generated now.",
        "gauge",
        state.engine.active().to_string(),
    );
    gauge(
        "daehwa_database_bytes",
        "Size of the database file and its WAL.",
        "gauge",
        db_bytes.to_string(),
    );
    if let Some(free) = free {
        gauge(
            "daehwa_free_disk_bytes",
            "Free space on the database's disk.",
            "gauge",
            free.to_string(),
        );
    }
    gauge("daehwa_users", "Accounts.", "gauge", users.to_string());
    gauge(
        "daehwa_conversations",
        "Conversations.",
        "gauge",
        conversations.to_string(),
    );
    gauge(
        "daehwa_messages",
        "Messages.",
        "gauge",
        messages.to_string(),
    );
    // daehwa_info carries its value in a label.
    let out = out.replace(
        "daehwa_info \n",
        &format!("daehwa_info{{version=\"{}\"}} 1\n", crate::VERSION),
    );
    let mut out = out;
    out.push_str(
        "# HELP daehwa_http_requests_total Requests answered, by status class.\n\
         # TYPE daehwa_http_requests_total counter\n",
    );
    for class in 0..5 {
        out.push_str(&format!(
            "daehwa_http_requests_total{{class=\"{}xx\"}} {}\n",
            class + 1,
            state.requests.get(class)
        ));
    }
    Ok(out)
}

pub use crate::service::status::watch_disk_space;
