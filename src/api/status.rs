//! What an operator looks at: `GET /api/v1/admin/status` (admins) and the
//! Prometheus text at `<base path>/metrics` (only with `--metrics`).

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::json;
use warp::http::{header, HeaderValue, StatusCode};
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::error::{json_response, respond, ApiError};
use super::filters::{admin, with_state};
use crate::app::AppState;
use crate::auth::CurrentUser;
use crate::db::DbError;

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
                Err(err) => ApiError::from(err).to_response(),
            }
        })
}

/// The database file plus its WAL, in bytes.
fn database_bytes(db: &Path) -> u64 {
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    [db.to_path_buf(), wal.into()]
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum()
}

/// Free space on the disk holding the database (None when unknown).
pub fn free_disk_bytes(db: &Path) -> Option<u64> {
    let dir = db
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs4::available_space(dir).ok()
}

/// Each connection with the newest error of an answer through one of its
/// models (one pass over the failed messages): what the provider said when
/// it is known, which users are not shown.
const CONNECTION_ERRORS: &str = "
    SELECT c.id, c.name, c.kind, c.enabled, e.error, e.at
    FROM connection c
    LEFT JOIN (
        SELECT md.connection_id AS connection_id,
               coalesce((SELECT d.detail FROM message_error_detail d WHERE d.message_id = m.id),
                        m.error) AS error,
               max(m.updated_at) AS at
        FROM message m JOIN model md ON md.id = m.model_id
        WHERE m.status = 'error'
        GROUP BY md.connection_id
    ) e ON e.connection_id = c.id
    ORDER BY c.name, c.id";

async fn status(state: AppState, _admin: CurrentUser) -> Result<Response, ApiError> {
    let connections = state
        .db
        .run(|conn| -> Result<_, crate::db::DbError> {
            let mut stmt = conn.prepare_cached(CONNECTION_ERRORS)?;
            let rows = stmt.query_map([], |r| {
                let at: Option<String> = r.get(5)?;
                Ok(json!({
                    "id": r.get::<_, String>(0)?,
                    "name": r.get::<_, String>(1)?,
                    "kind": r.get::<_, String>(2)?,
                    "enabled": r.get::<_, i64>(3)? == 1,
                    "last_error": r.get::<_, Option<String>>(4)?,
                    "last_error_at": at,
                }))
            })?;
            rows.collect::<Result<Vec<_>, _>>().map_err(DbError::from)
        })
        .await?;
    let db_path = state.db.path().to_path_buf();
    let (db_bytes, free) =
        tokio::task::spawn_blocking(move || (database_bytes(&db_path), free_disk_bytes(&db_path)))
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "version": crate::VERSION,
            "uptime_seconds": state.started.elapsed().as_secs(),
            "started_at": state.started_at,
            "database_path": state.db.path().display().to_string(),
            "database_bytes": db_bytes,
            "free_disk_bytes": free,
            "active_generations": state.engine.active(),
            "connections": connections,
        }),
    ))
}

/// The Prometheus text exposition.
async fn metrics(state: AppState) -> Result<String, DbError> {
    let (users, conversations, messages) = state
        .db
        .run(|conn| -> Result<_, crate::db::DbError> {
            let count = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0));
            Ok((
                count("SELECT count(*) FROM user")?,
                count("SELECT count(*) FROM conversation")?,
                count("SELECT count(*) FROM message")?,
            ))
        })
        .await?;
    let db_path = state.db.path().to_path_buf();
    let (db_bytes, free) =
        tokio::task::spawn_blocking(move || (database_bytes(&db_path), free_disk_bytes(&db_path)))
            .await
            .map_err(|e| DbError::Task(e.to_string()))?;
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

/// Below this much free space on the database's disk the log warns.
pub const LOW_DISK_BYTES: u64 = 1024 * 1024 * 1024;

/// Looks at the free space on the database's disk every minute and warns in
/// the log when it falls below [`LOW_DISK_BYTES`] (once, and once more
/// when it recovers), before SQLite runs out and writes start failing.
pub async fn watch_disk_space(db: std::path::PathBuf) {
    let mut low = false;
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
    loop {
        tick.tick().await;
        let path = db.clone();
        let Ok(Some(free)) = tokio::task::spawn_blocking(move || free_disk_bytes(&path)).await
        else {
            continue;
        };
        if free < LOW_DISK_BYTES && !low {
            log::warn!(
                "only {} MiB free on the disk holding {}; when it is full nothing new can be saved",
                free / (1024 * 1024),
                db.display()
            );
        } else if free >= LOW_DISK_BYTES && low {
            log::info!(
                "{} MiB free again on the database's disk",
                free / (1024 * 1024)
            );
        }
        low = free < LOW_DISK_BYTES;
    }
}
