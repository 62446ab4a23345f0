//! `/admin/*`: server settings and the audit log (admins only,
//! `service::admin`).

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
    paths(get_settings, put_settings, list_audit),
    components(schemas(AdminSettings, AdminSettingsBody, AuditEntry, AuditLog)),
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
        .and(admin(state))
        .and(warp::query::<Page>())
        .then(list_audit)
        .map(respond);
    get.or(put).unify().or(audit_log).unify()
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
