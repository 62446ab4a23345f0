//! `/samples/*`: example conversations admins publish (SPEC §3 "Samples",
//! `service::samples`); every signed-in user lists, reads and clones them.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::error::{json_response, respond, ApiError};
use super::filters::{admin, authenticated, json_body, with_state, Page};
use super::openapi::Error;
use super::views::ConversationWithMessages;
use crate::app::AppState;
use crate::auth::CurrentUser;
use crate::db::conversation::SnapshotMessage;
use crate::db::share::Sample;
use crate::service::samples::{self, NewSample};

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(list, create, get, delete, clone),
    components(schemas(Sample, SampleList, SampleDetail, SampleBody, SnapshotMessage)),
    tags((name = "samples", description = "Example conversations; publishing is admin-only"))
)]
pub struct Doc;

pub fn routes(state: AppState) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let st = || with_state(state.clone());
    let user = || authenticated(state.clone());
    let adm = || admin(state.clone());
    // GET /api/v1/samples
    let list = warp::path!("samples")
        .and(warp::get())
        .and(st())
        .and(user())
        .and(warp::query::<Page>())
        .then(list)
        .map(respond);
    // POST /api/v1/samples (admin)
    let create = warp::path!("samples")
        .and(warp::post())
        .and(st())
        .and(adm())
        .and(json_body())
        .then(create)
        .map(respond);
    // GET /api/v1/samples/{id}
    let get = warp::path!("samples" / String)
        .and(warp::get())
        .and(st())
        .and(user())
        .then(get)
        .map(respond);
    // DELETE /api/v1/samples/{id} (admin)
    let delete = warp::path!("samples" / String)
        .and(warp::delete())
        .and(st())
        .and(adm())
        .then(delete)
        .map(respond);
    // POST /api/v1/samples/{id}/clone
    let clone = warp::path!("samples" / String / "clone")
        .and(warp::post())
        .and(st())
        .and(user())
        .then(clone)
        .map(respond);
    list.or(create)
        .unify()
        .or(get)
        .unify()
        .or(delete)
        .unify()
        .or(clone)
        .unify()
}

/// `GET /samples`
#[derive(Serialize, ToSchema)]
pub struct SampleList {
    samples: Vec<Sample>,
    next_cursor: Option<String>,
}

#[utoipa::path(get, path = "/samples", tag = "samples",
    params(("limit" = Option<u32>, Query, description = "1–200, default 50"),
        ("cursor" = Option<String>, Query)),
    responses((status = 200, body = SampleList), (status = 400, body = Error),
        (status = 401, body = Error)))]
async fn list(state: AppState, _user: CurrentUser, page: Page) -> Result<Response, ApiError> {
    let samples = samples::list(&state.db, page.cursor.clone(), page.limit()).await?;
    let next_cursor = page.next_cursor(&samples, |s| s.id.clone());
    Ok(json_response(
        StatusCode::OK,
        &SampleList {
            samples,
            next_cursor,
        },
    ))
}

/// One of the admin's own conversations to publish.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SampleBody {
    conversation_id: String,
    /// At most 200 characters; the conversation's title when absent or blank.
    title: Option<String>,
    /// At most 2000 characters.
    description: Option<String>,
}

#[utoipa::path(post, path = "/samples", tag = "samples", request_body = SampleBody,
    responses((status = 201, body = Sample), (status = 400, body = Error),
        (status = 401, body = Error), (status = 403, body = Error), (status = 404, body = Error),
        (status = 409, description = "a temporary chat (`temporary_chat`)", body = Error),
        (status = 422, body = Error)))]
async fn create(
    state: AppState,
    admin: CurrentUser,
    body: SampleBody,
) -> Result<Response, ApiError> {
    let new = NewSample {
        conversation_id: body.conversation_id,
        title: body.title,
        description: body.description,
    };
    let sample = samples::create(&state.db, admin.actor(), new).await?;
    Ok(json_response(StatusCode::CREATED, &sample))
}

/// `GET /samples/{id}`: the sample with its conversation.
#[derive(Serialize, ToSchema)]
pub struct SampleDetail {
    id: String,
    title: String,
    description: String,
    message_count: i64,
    created_at: String,
    model_id: Option<String>,
    messages: Vec<SnapshotMessage>,
}

#[utoipa::path(get, path = "/samples/{id}", tag = "samples", params(("id" = String, Path)),
    responses((status = 200, body = SampleDetail), (status = 401, body = Error),
        (status = 404, body = Error)))]
async fn get(id: String, state: AppState, _user: CurrentUser) -> Result<Response, ApiError> {
    let (sample, snapshot) = samples::get(&state.db, id).await?;
    let detail = SampleDetail {
        id: sample.id,
        title: sample.title,
        description: sample.description,
        message_count: sample.message_count,
        created_at: sample.created_at,
        model_id: snapshot.model_id,
        messages: snapshot.messages,
    };
    Ok(json_response(StatusCode::OK, &detail))
}

#[utoipa::path(delete, path = "/samples/{id}", tag = "samples", params(("id" = String, Path)),
    responses((status = 204, description = "deleted"), (status = 401, body = Error),
        (status = 403, body = Error), (status = 404, body = Error)))]
async fn delete(id: String, state: AppState, admin: CurrentUser) -> Result<Response, ApiError> {
    samples::delete(&state.db, admin.actor(), id).await?;
    Ok(super::no_content())
}

#[utoipa::path(post, path = "/samples/{id}/clone", tag = "samples", params(("id" = String, Path)),
    responses((status = 201, description = "the user's new conversation",
            body = ConversationWithMessages),
        (status = 401, body = Error), (status = 404, body = Error), (status = 429, body = Error)))]
async fn clone(id: String, state: AppState, current: CurrentUser) -> Result<Response, ApiError> {
    let snapshot = samples::to_clone(&state.db, id).await?;
    let created = super::views::copy_to(&state, &current, snapshot).await?;
    Ok(json_response(StatusCode::CREATED, &created))
}
