//! `/folders` and `/tags` (issue 21 "Folders", "Tags"): the user's folders
//! (`service::folders`) and the tags over their conversations. Filing and
//! tagging a conversation are `PATCH /conversations/{id}` fields.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::error::{json_response, respond, ApiError};
use super::filters::{authenticated, json_body, with_state};
use super::openapi::Error;
use super::views::chat;
use crate::app::AppState;
use crate::auth::CurrentUser;
use crate::db::conversation::TagCount;
use crate::db::folder::Folder;
use crate::service::conversations as conversation_ops;
use crate::service::folders as ops;

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(list, create, get, update, delete, tags),
    components(schemas(Folder, FolderList, CreateFolderBody, UpdateFolderBody, TagCount, TagList)),
    tags((name = "folders", description = "The user's folders (one level deep) and tags"))
)]
pub struct Doc;

pub fn routes(state: AppState) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let st = || with_state(state.clone());
    let user = || authenticated(state.clone());
    // GET /api/v1/folders
    let list = warp::path!("folders")
        .and(warp::get())
        .and(st())
        .and(user())
        .then(list)
        .map(respond);
    // POST /api/v1/folders
    let create = warp::path!("folders")
        .and(warp::post())
        .and(st())
        .and(user())
        .and(json_body())
        .then(create)
        .map(respond);
    // GET /api/v1/folders/{id}
    let get = warp::path!("folders" / String)
        .and(warp::get())
        .and(st())
        .and(user())
        .then(get)
        .map(respond);
    // PATCH /api/v1/folders/{id}
    let update = warp::path!("folders" / String)
        .and(warp::patch().or(warp::put()).unify())
        .and(st())
        .and(user())
        .and(json_body())
        .then(update)
        .map(respond);
    // DELETE /api/v1/folders/{id}?delete_conversations=true|false
    let delete = warp::path!("folders" / String)
        .and(warp::delete())
        .and(st())
        .and(user())
        .and(warp::query::<DeleteQuery>())
        .then(delete)
        .map(respond);
    // GET /api/v1/tags
    let tags = warp::path!("tags")
        .and(warp::get())
        .and(st())
        .and(user())
        .then(tags)
        .map(respond);
    list.or(create)
        .unify()
        .or(get)
        .unify()
        .or(update)
        .unify()
        .or(delete)
        .unify()
        .or(tags)
        .unify()
}

/// `GET /folders`: all of the user's folders (at most 1000), by name.
#[derive(Serialize, ToSchema)]
pub struct FolderList {
    folders: Vec<Folder>,
}

/// A new folder.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateFolderBody {
    /// Trimmed, 1–100 characters, no control characters.
    name: String,
    /// One of the user's top-level folders (folders nest one level deep).
    parent_id: Option<String>,
}

/// A change to a folder; an absent field stays as it is.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateFolderBody {
    name: Option<String>,
    /// A top-level folder to move it under; `null` moves it to the top level.
    #[serde(default, deserialize_with = "crate::api::filters::double_option")]
    #[schema(value_type = Option<String>)]
    parent_id: Option<Option<String>>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct DeleteQuery {
    /// Also delete the conversations in it and its subfolders (default
    /// false: they become unfiled).
    delete_conversations: Option<bool>,
}

/// `GET /tags`: the user's tags over their (not temporary) conversations.
#[derive(Serialize, ToSchema)]
pub struct TagList {
    tags: Vec<TagCount>,
}

#[utoipa::path(get, path = "/folders", tag = "folders",
    responses((status = 200, body = FolderList), (status = 401, body = Error)))]
async fn list(state: AppState, current: CurrentUser) -> Result<Response, ApiError> {
    let folders = ops::list(&state.db, current.user.id.clone()).await?;
    Ok(json_response(StatusCode::OK, &FolderList { folders }))
}

#[utoipa::path(post, path = "/folders", tag = "folders", request_body = CreateFolderBody,
    responses((status = 201, body = Folder), (status = 400, body = Error),
        (status = 401, body = Error), (status = 404, description = "no such parent folder",
        body = Error), (status = 413, body = Error), (status = 422, body = Error)))]
async fn create(
    state: AppState,
    current: CurrentUser,
    body: CreateFolderBody,
) -> Result<Response, ApiError> {
    let folder = ops::create(
        &state.db,
        current.user.id.clone(),
        body.name,
        body.parent_id,
    )
    .await?;
    Ok(json_response(StatusCode::CREATED, &folder))
}

#[utoipa::path(get, path = "/folders/{id}", tag = "folders", params(("id" = String, Path)),
    responses((status = 200, body = Folder), (status = 401, body = Error),
        (status = 404, body = Error)))]
async fn get(id: String, state: AppState, current: CurrentUser) -> Result<Response, ApiError> {
    let folder = ops::get(&state.db, current.user.id.clone(), id).await?;
    Ok(json_response(StatusCode::OK, &folder))
}

#[utoipa::path(patch, path = "/folders/{id}", tag = "folders", params(("id" = String, Path)),
    request_body = UpdateFolderBody,
    responses((status = 200, body = Folder), (status = 400, body = Error),
        (status = 401, body = Error), (status = 404, body = Error), (status = 413, body = Error),
        (status = 422, body = Error)))]
async fn update(
    id: String,
    state: AppState,
    current: CurrentUser,
    body: UpdateFolderBody,
) -> Result<Response, ApiError> {
    let folder = ops::update(
        &state.db,
        current.user.id.clone(),
        id,
        body.name,
        body.parent_id,
    )
    .await?;
    Ok(json_response(StatusCode::OK, &folder))
}

#[utoipa::path(delete, path = "/folders/{id}", tag = "folders",
    params(("id" = String, Path), DeleteQuery),
    responses((status = 204, description = "deleted, with its subfolders"),
        (status = 400, body = Error), (status = 401, body = Error), (status = 404, body = Error)))]
async fn delete(
    id: String,
    state: AppState,
    current: CurrentUser,
    query: DeleteQuery,
) -> Result<Response, ApiError> {
    let with_conversations = query.delete_conversations.unwrap_or(false);
    ops::delete(
        &chat(&state),
        current.user.id.clone(),
        id,
        with_conversations,
    )
    .await?;
    Ok(super::no_content())
}

#[utoipa::path(get, path = "/tags", tag = "folders",
    responses((status = 200, body = TagList), (status = 401, body = Error)))]
async fn tags(state: AppState, current: CurrentUser) -> Result<Response, ApiError> {
    let tags = conversation_ops::tags(&state.db, current.user.id.clone()).await?;
    Ok(json_response(StatusCode::OK, &TagList { tags }))
}
