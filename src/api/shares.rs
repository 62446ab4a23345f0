//! `/shares/*`: read-only snapshots of a conversation behind an unguessable
//! link (SPEC §3 "Shares"). The public read needs no sign-in; everything else
//! does, and another user's share is a 404 (admins may list and delete all).

use base64::Engine as _;
use rand::RngCore;
use serde::Deserialize;
use serde_json::{json, Value};
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::error::{json_response, respond, ApiError};
use super::filters::{authenticated, json_body, with_state};
use crate::app::AppState;
use crate::auth::CurrentUser;
use crate::db::conversation::{self as conv_repo, Snapshot};
use crate::db::share;
use crate::db::user::Role;
use crate::db::{self, audit};

/// Longest expiry a share may be given.
const MAX_EXPIRY_DAYS: i64 = 365;

pub fn routes(state: AppState) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let st = || with_state(state.clone());
    let user = || authenticated(state.clone());
    // POST /api/v1/shares
    let create = warp::path!("shares")
        .and(warp::post())
        .and(st())
        .and(user())
        .and(json_body())
        .then(create)
        .map(respond);
    // GET /api/v1/shares?all=&limit=&cursor=
    let list = warp::path!("shares")
        .and(warp::get())
        .and(st())
        .and(user())
        .and(warp::query::<ListQuery>())
        .then(list)
        .map(respond);
    // GET /api/v1/shares/{id}: public, no sign-in.
    let read = warp::path!("shares" / String)
        .and(warp::get())
        .and(st())
        .then(read)
        .map(respond);
    // POST /api/v1/shares/{id}/clone
    let clone = warp::path!("shares" / String / "clone")
        .and(warp::post())
        .and(st())
        .and(user())
        .then(clone)
        .map(respond);
    // DELETE /api/v1/shares/{id}
    let delete = warp::path!("shares" / String)
        .and(warp::delete())
        .and(st())
        .and(user())
        .then(delete)
        .map(respond);
    create
        .or(list)
        .unify()
        .or(read)
        .unify()
        .or(clone)
        .unify()
        .or(delete)
        .unify()
}

/// 128 random bits, base64url: the only secret of a public link.
fn new_share_id() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn share_json(state: &AppState, s: &share::Share) -> Value {
    let mut v = json!(s);
    v["url"] = json!(format!("{}/s/{}", state.base_path, s.id));
    v
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    conversation_id: String,
    expires_in_days: Option<i64>,
}

async fn create(
    state: AppState,
    current: CurrentUser,
    body: CreateBody,
) -> Result<Response, ApiError> {
    if let Some(days) = body.expires_in_days {
        if !(1..=MAX_EXPIRY_DAYS).contains(&days) {
            return Err(ApiError::invalid(
                "expires_in_days",
                format!("must be between 1 and {MAX_EXPIRY_DAYS}"),
            ));
        }
    }
    let expires_at = body.expires_in_days.map(|d| {
        (chrono::Utc::now() + chrono::Duration::days(d))
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    });
    let user_id = current.user.id.clone();
    let created = state
        .db
        .run(move |conn| -> Result<_, crate::db::DbError> {
            let Some(conversation) = conv_repo::get(conn, &user_id, &body.conversation_id)? else {
                return Ok(Err(ApiError::NotFound("no such conversation".into())));
            };
            let mut snapshot = conv_repo::snapshot(conn, &conversation)?;
            // The system prompt is the owner's instruction, not part of what is shown.
            snapshot.system_prompt = String::new();
            if snapshot.messages.is_empty() {
                return Ok(Err(ApiError::invalid(
                    "conversation_id",
                    "the conversation has no messages to share yet",
                )));
            }
            if snapshot.title.trim().is_empty() {
                snapshot.title = "Untitled".into();
            }
            let share = share::insert(
                conn,
                &new_share_id(),
                &user_id,
                &conversation.id,
                &snapshot,
                expires_at.as_deref(),
            )?;
            Ok(Ok(share))
        })
        .await??;
    Ok(json_response(
        StatusCode::CREATED,
        &share_json(&state, &created),
    ))
}

#[derive(Deserialize)]
struct ListQuery {
    all: Option<bool>,
    limit: Option<u32>,
    cursor: Option<String>,
}

async fn list(
    state: AppState,
    current: CurrentUser,
    query: ListQuery,
) -> Result<Response, ApiError> {
    let all = query.all.unwrap_or(false);
    if all && current.user.role != Role::Admin {
        return Err(ApiError::forbidden(
            "admin_only",
            "listing everyone's shares needs an administrator account",
        ));
    }
    let page = super::filters::Page {
        limit: query.limit,
        cursor: query.cursor,
    };
    let before = match page.cursor.as_deref() {
        None => None,
        Some(c) => Some(
            c.split_once('~')
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .ok_or_else(|| ApiError::BadRequest("invalid cursor".into()))?,
        ),
    };
    let owner = (!all).then(|| current.user.id.clone());
    let limit = page.limit();
    let shares = state
        .db
        .run(move |conn| -> Result<_, crate::db::DbError> {
            share::list(
                conn,
                owner.as_deref(),
                before.as_ref().map(|(a, b)| (a.as_str(), b.as_str())),
                limit,
            )
        })
        .await?;
    let next = page.next_cursor(&shares, |s| format!("{}~{}", s.created_at, s.id));
    let mut items: Vec<Value> = shares.iter().map(|s| share_json(&state, s)).collect();
    if !all {
        for item in &mut items {
            if let Some(obj) = item.as_object_mut() {
                obj.remove("owner");
            }
        }
    }
    Ok(json_response(
        StatusCode::OK,
        &json!({ "shares": items, "next_cursor": next }),
    ))
}

/// A live share's snapshot, or 404 (unknown, deleted or expired alike).
async fn live(state: &AppState, id: String) -> Result<(share::Share, Snapshot), ApiError> {
    state
        .db
        .run(move |conn| share::live_snapshot(conn, &id, &db::now()))
        .await?
        .ok_or_else(|| {
            ApiError::NotFound("no such share (it may have expired or been deleted)".into())
        })
}

async fn read(id: String, state: AppState) -> Result<Response, ApiError> {
    let (share, snapshot) = live(&state, id).await?;
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "id": share.id,
            "title": snapshot.title,
            "model_id": snapshot.model_id,
            "messages": snapshot.messages,
            "created_at": share.created_at,
            "expires_at": share.expires_at,
        }),
    ))
}

async fn clone(id: String, state: AppState, current: CurrentUser) -> Result<Response, ApiError> {
    let (_, snapshot) = live(&state, id).await?;
    let created = super::views::copy_to(&state, &current, snapshot).await?;
    Ok(json_response(StatusCode::CREATED, &created))
}

async fn delete(id: String, state: AppState, current: CurrentUser) -> Result<Response, ApiError> {
    let actor = (current.user.id.clone(), current.user.username.clone());
    let is_admin = current.user.role == Role::Admin;
    state
        .db
        .run(move |conn| -> Result<_, crate::db::DbError> {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let share = share::get(&tx, &id)?;
            let Some(share) = share.filter(|s| s.user_id == actor.0 || is_admin) else {
                return Ok(Err(ApiError::NotFound("no such share".into())));
            };
            share::delete(&tx, &share.id)?;
            if share.user_id != actor.0 {
                audit::record(
                    &tx,
                    Some((&actor.0, &actor.1)),
                    "share.delete",
                    Some(&share.id),
                    &json!({ "owner_id": share.user_id, "title": share.title }),
                )?;
            }
            tx.commit()?;
            Ok(Ok(()))
        })
        .await??;
    Ok(super::no_content())
}
