//! `/admin/*`: server settings and the audit log (admins only).

use serde::Deserialize;
use serde_json::json;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::auth::registration_mode;
use super::error::{json_response, respond, ApiError};
use super::filters::{admin, json_body, with_state, Page};
use crate::app::AppState;
use crate::auth::CurrentUser;
use crate::db::{self, audit, setting};

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
    let mode = state.db.run(|conn| registration_mode(conn)).await?;
    Ok(json_response(
        StatusCode::OK,
        &json!({ "registration_mode": mode }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SettingsBody {
    registration_mode: Option<String>,
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
    let actor = (admin.user.id.clone(), admin.user.username.clone());
    let mode = state
        .db
        .run(move |conn| {
            if let Some(mode) = &body.registration_mode {
                let tx =
                    conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                setting::put(&tx, setting::REGISTRATION_MODE, &json!(mode))?;
                audit::record(
                    &tx,
                    Some((&actor.0, &actor.1)),
                    "settings.update",
                    None,
                    &json!({ "registration_mode": mode }),
                )?;
                tx.commit()?;
            }
            registration_mode(conn)
        })
        .await?;
    Ok(json_response(
        StatusCode::OK,
        &json!({ "registration_mode": mode }),
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
