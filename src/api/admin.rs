//! `/admin/*`: server settings and the audit log (admins only).

use serde::Deserialize;
use serde_json::json;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::error::{json_response, respond, ApiError};
use super::filters::{admin, json_body, with_state, Page};
use crate::app::AppState;
use crate::auth::CurrentUser;
use crate::backup;
use crate::db::{self, audit, setting};
use crate::service::accounts::registration_mode;

/// The registration modes (SPEC §3 Auth).
pub const REGISTRATION_MODES: [&str; 3] = ["open", "approval", "closed"];

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

async fn get_settings(state: AppState, _admin: CurrentUser) -> Result<Response, ApiError> {
    let body = state.db.run(settings_json).await?;
    Ok(json_response(
        StatusCode::OK,
        &with_backup_dir(body, &state),
    ))
}

/// The settings as the admin pages see them.
fn settings_json(conn: &mut rusqlite::Connection) -> Result<serde_json::Value, db::DbError> {
    let mode = registration_mode(conn)?;
    let (daily, keep, last) = backup::settings(conn)?;
    let last_error = setting::get(conn, backup::BACKUP_LAST_ERROR)?.filter(|v| !v.is_null());
    Ok(json!({
        "registration_mode": mode,
        "backup_daily": daily,
        "backup_keep": keep,
        "backup_last_at": last.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        "backup_last_error": last_error,
    }))
}

fn with_backup_dir(mut body: serde_json::Value, state: &AppState) -> serde_json::Value {
    body["backup_dir"] = json!(state.backups.dir.display().to_string());
    body
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SettingsBody {
    registration_mode: Option<String>,
    /// Turn the scheduled daily backup on or off.
    backup_daily: Option<bool>,
    /// How many daily backups are kept (1 to 365).
    backup_keep: Option<u32>,
}

async fn put_settings(
    state: AppState,
    admin: CurrentUser,
    body: SettingsBody,
) -> Result<Response, ApiError> {
    if let Some(mode) = &body.registration_mode {
        if !REGISTRATION_MODES.contains(&mode.as_str()) {
            return Err(ApiError::invalid(
                "registration_mode",
                "must be one of open, approval, closed",
            ));
        }
    }
    if let Some(keep) = body.backup_keep {
        if !(1..=backup::MAX_KEEP).contains(&keep) {
            return Err(ApiError::invalid(
                "backup_keep",
                format!("must be between 1 and {}", backup::MAX_KEEP),
            ));
        }
    }
    let actor = (admin.user.id.clone(), admin.user.username.clone());
    let backup_changed = body.backup_daily.is_some() || body.backup_keep.is_some();
    let settings = state
        .db
        .run(move |conn| -> Result<_, crate::db::DbError> {
            let mut changes = serde_json::Map::new();
            if let Some(mode) = &body.registration_mode {
                changes.insert(setting::REGISTRATION_MODE.into(), json!(mode));
            }
            if let Some(daily) = body.backup_daily {
                changes.insert(backup::BACKUP_DAILY.into(), json!(daily));
            }
            if let Some(keep) = body.backup_keep {
                changes.insert(backup::BACKUP_KEEP.into(), json!(keep));
            }
            if !changes.is_empty() {
                let tx =
                    conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                for (key, value) in &changes {
                    setting::put(&tx, key, value)?;
                }
                audit::record(
                    &tx,
                    Some((&actor.0, &actor.1)),
                    "settings.update",
                    None,
                    &serde_json::Value::Object(changes),
                )?;
                tx.commit()?;
            }
            settings_json(conn)
        })
        .await?;
    if backup_changed {
        state.backups.nudge();
    }
    Ok(json_response(
        StatusCode::OK,
        &with_backup_dir(settings, &state),
    ))
}

async fn list_audit(
    state: AppState,
    _admin: CurrentUser,
    page: Page,
) -> Result<Response, ApiError> {
    let limit = page.limit();
    let before = page.cursor.clone();
    let entries = state
        .db
        .run(move |conn| db::audit::list(conn, before.as_deref(), limit))
        .await?;
    let next = page.next_cursor(&entries, |e| e.id.clone());
    Ok(json_response(
        StatusCode::OK,
        &json!({ "entries": entries, "next_cursor": next }),
    ))
}
