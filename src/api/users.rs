//! `/users/*`: account administration (admins only).

use serde::Deserialize;
use serde_json::json;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::auth::user_json;
use super::error::{json_response, respond, ApiError};
use super::filters::{admin, json_body, with_state, Page};
use crate::app::AppState;
use crate::auth::password::display_name_problem;
use crate::auth::CurrentUser;
use crate::db::user::{Role, Status};
use crate::db::{self, audit};

pub fn routes(state: AppState) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    // GET /api/v1/users?q=&limit=&cursor=
    let list = warp::path!("users")
        .and(warp::get())
        .and(with_state(state.clone()))
        .and(admin(state.clone()))
        .and(warp::query::<ListQuery>())
        .then(list)
        .map(respond);
    // GET /api/v1/users/{id}
    let get = warp::path!("users" / String)
        .and(warp::get())
        .and(with_state(state.clone()))
        .and(admin(state.clone()))
        .then(get)
        .map(respond);
    // PATCH /api/v1/users/{id}
    let patch = warp::path!("users" / String)
        .and(warp::patch())
        .and(with_state(state.clone()))
        .and(admin(state.clone()))
        .and(json_body())
        .then(patch)
        .map(respond);
    // DELETE /api/v1/users/{id}
    let delete = warp::path!("users" / String)
        .and(warp::delete())
        .and(with_state(state.clone()))
        .and(admin(state))
        .then(delete)
        .map(respond);
    list.or(get).unify().or(patch).unify().or(delete).unify()
}

/// `?q=&limit=&cursor=` (not `#[serde(flatten)]` of [`Page`]: flattening
/// breaks number parsing in query strings).
#[derive(Deserialize)]
struct ListQuery {
    q: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

async fn list(
    state: AppState,
    _admin: CurrentUser,
    query: ListQuery,
) -> Result<Response, ApiError> {
    let page = Page {
        limit: query.limit,
        cursor: query.cursor,
    };
    let limit = page.limit();
    let q = query.q.filter(|q| !q.trim().is_empty());
    let after = page.cursor.clone();
    let users = state
        .db
        .run(move |conn| db::user::list(conn, q.as_deref(), after.as_deref(), limit))
        .await?;
    let next = page.next_cursor(&users, |u| u.id.clone());
    let items: Vec<_> = users.iter().map(user_json).collect();
    Ok(json_response(
        StatusCode::OK,
        &json!({ "users": items, "next_cursor": next }),
    ))
}

async fn get(id: String, state: AppState, _admin: CurrentUser) -> Result<Response, ApiError> {
    let user = state
        .db
        .run(move |conn| db::user::by_id(conn, &id))
        .await?
        .ok_or_else(|| ApiError::NotFound("no such user".into()))?;
    Ok(json_response(StatusCode::OK, &user_json(&user)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchBody {
    role: Option<Role>,
    disabled: Option<bool>,
    approve: Option<bool>,
    display_name: Option<String>,
}

async fn patch(
    id: String,
    state: AppState,
    admin: CurrentUser,
    body: PatchBody,
) -> Result<Response, ApiError> {
    if let Some(why) = body.display_name.as_deref().and_then(display_name_problem) {
        return Err(ApiError::invalid("display_name", why));
    }
    let actor = (admin.user.id.clone(), admin.user.username.clone());
    let user = state
        .db
        .run(move |conn| -> Result<_, crate::db::DbError> {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let Some(user) = db::user::by_id(&tx, &id)? else {
                return Ok(Err(ApiError::NotFound("no such user".into())));
            };
            let loses_admin = user.role == Role::Admin
                && user.status == Status::Active
                && (body.role == Some(Role::User) || body.disabled == Some(true));
            if loses_admin && db::user::other_active_admins(&tx, &user.id)? == 0 {
                return Ok(Err(ApiError::Conflict(
                    "this is the last active administrator; make another account admin first"
                        .into(),
                )));
            }
            let mut changes = serde_json::Map::new();
            if let Some(role) = body.role.filter(|r| *r != user.role) {
                db::user::set_role(&tx, &user.id, role)?;
                changes.insert("role".into(), json!(role));
            }
            let status = match (body.disabled, body.approve) {
                (Some(true), _) => Some(Status::Disabled),
                (Some(false), _) if user.status == Status::Disabled => Some(Status::Active),
                (_, Some(true)) if user.status == Status::Pending => Some(Status::Active),
                _ => None,
            };
            if let Some(status) = status.filter(|s| *s != user.status) {
                db::user::set_status(&tx, &user.id, status)?;
                if status == Status::Disabled {
                    db::token::revoke_user_refresh(&tx, &user.id, None)?;
                }
                changes.insert("status".into(), json!(status));
            }
            if let Some(name) = body.display_name.as_deref().map(str::trim) {
                if name != user.display_name {
                    db::user::set_display_name(&tx, &user.id, name)?;
                    changes.insert("display_name".into(), json!(name));
                }
            }
            if !changes.is_empty() {
                audit::record(
                    &tx,
                    Some((&actor.0, &actor.1)),
                    "user.update",
                    Some(&user.id),
                    &serde_json::Value::Object(changes),
                )?;
            }
            let updated = db::user::by_id(&tx, &user.id)?.unwrap_or(user);
            tx.commit()?;
            Ok(Ok(updated))
        })
        .await??;
    Ok(json_response(StatusCode::OK, &user_json(&user)))
}

async fn delete(id: String, state: AppState, admin: CurrentUser) -> Result<Response, ApiError> {
    let actor = (admin.user.id.clone(), admin.user.username.clone());
    state
        .db
        .run(move |conn| -> Result<_, crate::db::DbError> {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let Some(user) = db::user::by_id(&tx, &id)? else {
                return Ok(Err(ApiError::NotFound("no such user".into())));
            };
            if user.role == Role::Admin
                && user.status == Status::Active
                && db::user::other_active_admins(&tx, &user.id)? == 0
            {
                return Ok(Err(ApiError::Conflict(
                    "this is the last active administrator and cannot be deleted".into(),
                )));
            }
            db::user::delete(&tx, &user.id)?;
            audit::record(
                &tx,
                Some((&actor.0, &actor.1)),
                "user.delete",
                Some(&user.id),
                &json!({ "username": user.username }),
            )?;
            tx.commit()?;
            Ok(Ok(()))
        })
        .await??;
    Ok(super::no_content())
}
