//! `/admin/*`: server settings, the audit log and the retention policy's
//! preview and run (admins only, `service::admin`, `service::retention`).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::error::{json_response, respond, ApiError};
use super::filters::{admin, json_body, with_state, Page};
use super::openapi::Error;
use crate::app::AppState;
use crate::auth::CurrentUser;
use crate::db::audit::AuditEntry;
use crate::service::admin::{self as service, ServerSettings, SettingsChange};

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(get_settings, put_settings, list_audit, retention_preview, retention_run),
    components(schemas(AdminSettings, AdminSettingsBody, AuditEntry, AuditLog,
        RetentionPreview, RetentionRun)),
    tags((name = "admin", description = "Administrators only (403 otherwise)"))
)]
pub struct Doc;

pub fn routes(state: AppState) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    // GET /api/v1/admin/settings
    let get = warp::path!("admin" / "settings")
        .and(warp::get())
        .and(with_state(state.clone()))
        .and(admin(state.clone()))
        .then(get_settings)
        .map(respond);
    // PUT /api/v1/admin/settings
    let put = warp::path!("admin" / "settings")
        .and(warp::put())
        .and(with_state(state.clone()))
        .and(admin(state.clone()))
        .and(json_body())
        .then(put_settings)
        .map(respond);
    // GET /api/v1/admin/audit?limit=&cursor=
    let audit_log = warp::path!("admin" / "audit")
        .and(warp::get())
        .and(with_state(state.clone()))
        .and(admin(state.clone()))
        .and(warp::query::<Page>())
        .then(list_audit)
        .map(respond);
    // GET /api/v1/admin/retention/preview?days=&archived_days=
    let preview = warp::path!("admin" / "retention" / "preview")
        .and(warp::get())
        .and(with_state(state.clone()))
        .and(admin(state.clone()))
        .and(warp::query::<PreviewQuery>())
        .then(retention_preview)
        .map(respond);
    // POST /api/v1/admin/retention/run
    let run = warp::path!("admin" / "retention" / "run")
        .and(warp::post())
        .and(with_state(state.clone()))
        .and(admin(state))
        .then(retention_run)
        .map(respond);
    get.or(put)
        .unify()
        .or(audit_log)
        .unify()
        .or(preview)
        .unify()
        .or(run)
        .unify()
}

/// The server settings as the admin pages see them.
#[derive(Serialize, ToSchema)]
pub struct AdminSettings {
    /// `open`, `approval` or `closed`.
    registration_mode: String,
    /// The model a new conversation uses when its user has chosen none.
    default_model_id: Option<String>,
    /// The plan (limits) of users with none of their own.
    default_plan_id: Option<String>,
    backup_daily: bool,
    backup_keep: u32,
    /// Where scheduled backups are written.
    backup_dir: String,
    backup_last_at: Option<String>,
    #[schema(value_type = Option<String>)]
    backup_last_error: Option<serde_json::Value>,
    /// The largest file a user may upload, in bytes (default 20 MiB).
    file_max_bytes: u64,
    /// The bytes of files one user may keep (default 1 GiB).
    file_quota_bytes: u64,
    /// Conversations (not archived) not updated for this many days are
    /// deleted, with their shares and files (null: kept forever).
    retention_days: Option<i64>,
    /// The same for archived conversations.
    retention_archived_days: Option<i64>,
}

impl AdminSettings {
    fn of(state: &AppState, s: ServerSettings) -> AdminSettings {
        AdminSettings {
            registration_mode: s.registration_mode,
            default_model_id: s.default_model_id,
            default_plan_id: s.default_plan_id,
            backup_daily: s.backup_daily,
            backup_keep: s.backup_keep,
            backup_dir: state.backups.dir.display().to_string(),
            backup_last_at: s.backup_last_at,
            backup_last_error: s.backup_last_error,
            file_max_bytes: s.files.max_file_bytes,
            file_quota_bytes: s.files.quota_bytes,
            retention_days: s.retention.days,
            retention_archived_days: s.retention.archived_days,
        }
    }
}

#[utoipa::path(get, path = "/admin/settings", tag = "admin",
    responses((status = 200, body = AdminSettings), (status = 401, body = Error),
        (status = 403, body = Error)))]
async fn get_settings(state: AppState, _admin: CurrentUser) -> Result<Response, ApiError> {
    let settings = service::settings(&state.db).await?;
    Ok(json_response(
        StatusCode::OK,
        &AdminSettings::of(&state, settings),
    ))
}

/// The settings to change; absent ones are kept.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdminSettingsBody {
    /// `open`, `approval` or `closed`.
    registration_mode: Option<String>,
    /// The model a new conversation uses when its user has chosen none
    /// (`""` clears it).
    default_model_id: Option<String>,
    /// The plan (limits) of users with none of their own (`""` clears it).
    default_plan_id: Option<String>,
    /// Turn the scheduled daily backup on or off.
    backup_daily: Option<bool>,
    /// How many daily backups are kept (1 to 365).
    backup_keep: Option<u32>,
    /// The largest file a user may upload, in bytes (1 KiB to 100 MiB).
    file_max_bytes: Option<u64>,
    /// The bytes of files one user may keep (at least 1 MiB).
    file_quota_bytes: Option<u64>,
    /// Days (1–36500) after their last update that conversations are
    /// deleted; `null` turns it off.
    #[serde(default, deserialize_with = "crate::api::filters::double_option")]
    #[schema(value_type = Option<i64>)]
    retention_days: Option<Option<serde_json::Value>>,
    /// The same for archived conversations.
    #[serde(default, deserialize_with = "crate::api::filters::double_option")]
    #[schema(value_type = Option<i64>)]
    retention_archived_days: Option<Option<serde_json::Value>>,
}

#[utoipa::path(put, path = "/admin/settings", tag = "admin", request_body = AdminSettingsBody,
    responses((status = 200, body = AdminSettings), (status = 400, body = Error),
        (status = 401, body = Error), (status = 403, body = Error), (status = 422, body = Error)))]
async fn put_settings(
    state: AppState,
    admin: CurrentUser,
    body: AdminSettingsBody,
) -> Result<Response, ApiError> {
    let change = SettingsChange {
        registration_mode: body.registration_mode,
        default_model_id: body.default_model_id,
        default_plan_id: body.default_plan_id,
        backup_daily: body.backup_daily,
        backup_keep: body.backup_keep,
        file_max_bytes: body.file_max_bytes,
        file_quota_bytes: body.file_quota_bytes,
        retention_days: body.retention_days.map(Option::unwrap_or_default),
        retention_archived_days: body.retention_archived_days.map(Option::unwrap_or_default),
    };
    let backup_changed = change.touches_backups();
    let settings = service::update_settings(&state.db, admin.actor(), change).await?;
    if backup_changed {
        state.backups.nudge();
    }
    Ok(json_response(
        StatusCode::OK,
        &AdminSettings::of(&state, settings),
    ))
}

/// `GET /admin/audit`
#[derive(Serialize, ToSchema)]
pub struct AuditLog {
    entries: Vec<AuditEntry>,
    next_cursor: Option<String>,
}

#[utoipa::path(get, path = "/admin/audit", tag = "admin",
    params(("limit" = Option<u32>, Query, description = "1–200, default 50"),
        ("cursor" = Option<String>, Query)),
    responses((status = 200, body = AuditLog), (status = 400, body = Error),
        (status = 401, body = Error), (status = 403, body = Error)))]
async fn list_audit(
    state: AppState,
    _admin: CurrentUser,
    page: Page,
) -> Result<Response, ApiError> {
    let entries = service::audit_log(&state.db, page.cursor.clone(), page.limit()).await?;
    let next_cursor = page.next_cursor(&entries, |e| e.id.clone());
    Ok(json_response(
        StatusCode::OK,
        &AuditLog {
            entries,
            next_cursor,
        },
    ))
}

/// The policy to preview; an absent kind is off. Read as text so that a
/// value no setting takes is a 422 on its field, as in the settings.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PreviewQuery {
    /// Days for conversations that are not archived (1–36500).
    #[param(value_type = Option<i64>)]
    days: Option<String>,
    /// Days for archived conversations (1–36500).
    #[param(value_type = Option<i64>)]
    archived_days: Option<String>,
}

/// What a retention run with the given days would delete now.
#[derive(Serialize, ToSchema)]
pub struct RetentionPreview {
    conversations: i64,
    archived_conversations: i64,
    /// Users who would lose at least one conversation.
    users: i64,
}

/// What a retention run deleted.
#[derive(Serialize, ToSchema)]
pub struct RetentionRun {
    conversations: usize,
    archived_conversations: usize,
}

/// A query's day count as a setting would take it (absent: off).
fn query_days(field: &'static str, raw: Option<&str>) -> Result<Option<i64>, ApiError> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    let value = serde_json::from_str::<serde_json::Value>(raw.trim())
        .unwrap_or(serde_json::Value::String(raw.into()));
    // `null` is off in the settings; here, it is a value to give.
    if value.is_null() {
        return Err(ApiError::invalid(field, "must be a whole number of days"));
    }
    crate::service::retention::check_days(field, &value)
}

#[utoipa::path(get, path = "/admin/retention/preview", tag = "admin", params(PreviewQuery),
    responses((status = 200, body = RetentionPreview), (status = 400, body = Error),
        (status = 401, body = Error), (status = 403, body = Error), (status = 422, body = Error)))]
async fn retention_preview(
    state: AppState,
    _admin: CurrentUser,
    query: PreviewQuery,
) -> Result<Response, ApiError> {
    let policy = crate::service::retention::Policy {
        days: query_days("days", query.days.as_deref())?,
        archived_days: query_days("archived_days", query.archived_days.as_deref())?,
    };
    let found = crate::service::retention::preview(&state.db, policy, chrono::Utc::now()).await?;
    Ok(json_response(
        StatusCode::OK,
        &RetentionPreview {
            conversations: found.conversations,
            archived_conversations: found.archived_conversations,
            users: found.users,
        },
    ))
}

#[utoipa::path(post, path = "/admin/retention/run", tag = "admin",
    responses((status = 200, body = RetentionRun), (status = 401, body = Error),
        (status = 403, body = Error)))]
async fn retention_run(state: AppState, admin: CurrentUser) -> Result<Response, ApiError> {
    let done =
        crate::service::retention::run(&state.db, Some(admin.actor()), chrono::Utc::now()).await?;
    Ok(json_response(
        StatusCode::OK,
        &RetentionRun {
            conversations: done.conversations,
            archived_conversations: done.archived_conversations,
        },
    ))
}
