//! `/shares/*`: read-only snapshots of a conversation behind an unguessable
//! link (SPEC §3 "Shares", `service::shares`). The public read needs no
//! sign-in; everything else does, and another user's share is a 404 (admins
//! may list and delete all).

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::error::{json_response, respond, ApiError};
use super::filters::{authenticated, json_body, with_state, Page};
use super::openapi::Error;
use super::views::ConversationWithMessages;
use crate::app::AppState;
use crate::auth::CurrentUser;
use crate::db::conversation::SnapshotMessage;
use crate::db::file::Part;
use crate::db::share::Share as ShareRow;
use crate::db::user::Role;
use crate::service::shares;

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(create, list, read, share_file_original, share_file_preview, clone, delete),
    components(schemas(Share, ShareList, SharedConversation, ShareBody)),
    tags((name = "shares", description = "Read-only links to a conversation"))
)]
pub struct Doc;

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
    // GET /api/v1/shares/{id}/files/{file_id}: public, no sign-in.
    let file = warp::path!("shares" / String / "files" / String)
        .and(warp::get())
        .and(st())
        .then(|id, file_id, state| share_file(id, file_id, state, Part::Original))
        .map(respond);
    // GET /api/v1/shares/{id}/files/{file_id}/preview: public, no sign-in.
    let preview = warp::path!("shares" / String / "files" / String / "preview")
        .and(warp::get())
        .and(st())
        .then(|id, file_id, state| share_file(id, file_id, state, Part::Preview))
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
        .or(file)
        .unify()
        .or(preview)
        .unify()
        .or(clone)
        .unify()
        .or(delete)
        .unify()
}

/// A share as its owner (or an admin) sees it, with its public link.
#[derive(Serialize, ToSchema)]
pub struct Share {
    id: String,
    /// The public page of the share: `{base path}/s/{id}`.
    url: String,
    conversation_id: String,
    title: String,
    message_count: i64,
    expires_at: Option<String>,
    created_at: String,
    /// The owner's username (in an admin's `all=true` listing, and on creation).
    #[serde(skip_serializing_if = "Option::is_none")]
    owner: Option<String>,
}

impl Share {
    fn of(state: &AppState, s: ShareRow) -> Share {
        Share {
            url: format!("{}/s/{}", state.base_path, s.id),
            id: s.id,
            conversation_id: s.conversation_id,
            title: s.title,
            message_count: s.message_count,
            expires_at: s.expires_at,
            created_at: s.created_at,
            owner: s.owner,
        }
    }
}

/// A conversation of the user's to share.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShareBody {
    conversation_id: String,
    /// 1–365; never expires when absent.
    expires_in_days: Option<i64>,
}

#[utoipa::path(post, path = "/shares", tag = "shares", request_body = ShareBody,
    responses((status = 201, body = Share), (status = 400, body = Error),
        (status = 401, body = Error), (status = 404, body = Error),
        (status = 409, description = "a temporary chat (`temporary_chat`)", body = Error),
        (status = 422, body = Error)))]
async fn create(
    state: AppState,
    current: CurrentUser,
    body: ShareBody,
) -> Result<Response, ApiError> {
    let created = shares::create(
        &state.db,
        current.user.id.clone(),
        body.conversation_id,
        body.expires_in_days,
    )
    .await?;
    Ok(json_response(
        StatusCode::CREATED,
        &Share::of(&state, created),
    ))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Everyone's shares (admins only).
    all: Option<bool>,
    /// 1–200, default 50.
    limit: Option<u32>,
    cursor: Option<String>,
}

/// `GET /shares`
#[derive(Serialize, ToSchema)]
pub struct ShareList {
    shares: Vec<Share>,
    next_cursor: Option<String>,
}

#[utoipa::path(get, path = "/shares", tag = "shares", params(ListQuery),
    responses((status = 200, body = ShareList), (status = 400, body = Error),
        (status = 401, body = Error),
        (status = 403, description = "`all` without being an admin", body = Error)))]
async fn list(
    state: AppState,
    current: CurrentUser,
    query: ListQuery,
) -> Result<Response, ApiError> {
    let all = query.all.unwrap_or(false);
    let page = Page {
        limit: query.limit,
        cursor: query.cursor,
    };
    let rows = shares::list(
        &state.db,
        current.user.id.clone(),
        current.user.role == Role::Admin,
        all,
        page.cursor.as_deref(),
        page.limit(),
    )
    .await?;
    let next_cursor = page.next_cursor(&rows, shares::cursor_of);
    let shares = rows
        .into_iter()
        .map(|s| {
            let mut share = Share::of(&state, s);
            if !all {
                share.owner = None;
            }
            share
        })
        .collect();
    Ok(json_response(
        StatusCode::OK,
        &ShareList {
            shares,
            next_cursor,
        },
    ))
}

/// `GET /shares/{id}`: the read-only snapshot anyone with the link sees.
#[derive(Serialize, ToSchema)]
pub struct SharedConversation {
    id: String,
    title: String,
    model_id: Option<String>,
    messages: Vec<SnapshotMessage>,
    created_at: String,
    expires_at: Option<String>,
}

#[utoipa::path(get, path = "/shares/{id}", tag = "shares", security(()),
    params(("id" = String, Path)),
    responses((status = 200, body = SharedConversation),
        (status = 404, description = "unknown, deleted or expired", body = Error)))]
async fn read(id: String, state: AppState) -> Result<Response, ApiError> {
    let (share, snapshot) = shares::live(&state.db, id).await?;
    let shared = SharedConversation {
        id: share.id,
        title: snapshot.title,
        model_id: snapshot.model_id,
        messages: snapshot.messages,
        created_at: share.created_at,
        expires_at: share.expires_at,
    };
    Ok(json_response(StatusCode::OK, &shared))
}

#[utoipa::path(get, path = "/shares/{id}/files/{file_id}", tag = "shares", security(()),
    params(("id" = String, Path), ("file_id" = String, Path)),
    responses((status = 200, description = "a file the shared conversation carries, as uploaded",
            content_type = "*/*", body = Vec<u8>),
        (status = 404, description = "unknown share, or a file it does not carry", body = Error)))]
#[allow(dead_code)] // the document's entry for `share_file` with Part::Original
fn share_file_original() {}

#[utoipa::path(get, path = "/shares/{id}/files/{file_id}/preview", tag = "shares", security(()),
    params(("id" = String, Path), ("file_id" = String, Path)),
    responses((status = 200, description = "an image of the shared conversation, scaled",
            content((Vec<u8> = "image/jpeg"), (Vec<u8> = "image/png"))),
        (status = 404, description = "unknown share, a file it does not carry, or a document",
            body = Error)))]
#[allow(dead_code)] // the document's entry for `share_file` with Part::Preview
fn share_file_preview() {}

async fn share_file(
    id: String,
    file_id: String,
    state: AppState,
    part: Part,
) -> Result<Response, ApiError> {
    let (file, bytes) = shares::file(&state.db, id, file_id, part).await?;
    Ok(super::files::file_response(&file, bytes, part))
}

#[utoipa::path(post, path = "/shares/{id}/clone", tag = "shares", params(("id" = String, Path)),
    responses((status = 201, description = "the user's new conversation",
            body = ConversationWithMessages),
        (status = 401, body = Error), (status = 404, body = Error), (status = 429, body = Error)))]
async fn clone(id: String, state: AppState, current: CurrentUser) -> Result<Response, ApiError> {
    let (_, snapshot) = shares::live(&state.db, id).await?;
    let created = super::views::copy_to(&state, &current, snapshot).await?;
    Ok(json_response(StatusCode::CREATED, &created))
}

#[utoipa::path(delete, path = "/shares/{id}", tag = "shares", params(("id" = String, Path)),
    responses((status = 204, description = "deleted"), (status = 401, body = Error),
        (status = 404, body = Error)))]
async fn delete(id: String, state: AppState, current: CurrentUser) -> Result<Response, ApiError> {
    let is_admin = current.user.role == Role::Admin;
    shares::delete(&state.db, current.actor(), is_admin, id).await?;
    Ok(super::no_content())
}
