//! `/collector/*`: the user's saved reference material (SPEC §3 "Collector"):
//! items from JSON or a text-file upload (multipart, at most 10 MiB, text
//! types only), search and tags. Another user's item is a 404.

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::error::{json_response, respond, ApiError};
use super::filters::{
    authenticated, body_within, json_body_within, json_content_type, parse_json, with_state, Limit,
    Page,
};
use super::multipart;
use crate::api::openapi::Error;
use crate::app::AppState;
use crate::auth::CurrentUser;
use crate::db::collector::Item;
use crate::service::collector::{self as service, ItemChange, Upload, UPLOAD_LIMIT};

pub fn routes(state: AppState) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let st = || with_state(state.clone());
    let user = || authenticated(state.clone());
    // GET /api/v1/collector/items?q=&tag=&limit=&cursor=
    let list = warp::path!("collector" / "items")
        .and(warp::get())
        .and(st())
        .and(user())
        .and(warp::query::<ListQuery>())
        .then(list)
        .map(respond);
    // POST /api/v1/collector/items (multipart/form-data: a text file)
    let upload = warp::path!("collector" / "items")
        .and(warp::post())
        .and(multipart::is_form())
        .and(st())
        .and(user())
        .and(multipart::form(Limit::Large))
        .then(upload)
        .map(respond);
    // POST /api/v1/collector/items (JSON)
    let create = warp::path!("collector" / "items")
        .and(warp::post())
        .and(st())
        .and(user())
        .and(json_content_type())
        .and(body_within(Limit::Large))
        .then(create)
        .map(respond);
    // GET /api/v1/collector/tags
    let tags = warp::path!("collector" / "tags")
        .and(warp::get())
        .and(st())
        .and(user())
        .then(tags)
        .map(respond);
    // GET /api/v1/collector/items/{id}
    let get = warp::path!("collector" / "items" / String)
        .and(warp::get())
        .and(st())
        .and(user())
        .then(get)
        .map(respond);
    // PUT|PATCH /api/v1/collector/items/{id}
    let update = warp::path!("collector" / "items" / String)
        .and(warp::put().or(warp::patch()).unify())
        .and(st())
        .and(user())
        .and(json_body_within(Limit::Large))
        .then(update)
        .map(respond);
    // DELETE /api/v1/collector/items/{id}
    let delete = warp::path!("collector" / "items" / String)
        .and(warp::delete())
        .and(st())
        .and(user())
        .then(delete)
        .map(respond);
    list.or(upload)
        .unify()
        .or(create)
        .unify()
        .or(tags)
        .unify()
        .or(get)
        .unify()
        .or(update)
        .unify()
        .or(delete)
        .unify()
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(list, create, get, update, delete, tags),
    components(schemas(CollectorItem, CollectorItemSummary, CollectorItems, CollectorItemBody,
        CollectorUpload, CollectorTag, CollectorTags)),
    tags((name = "collector"))
)]
pub struct Doc;

// ── Shapes ──────────────────────────────────────────────────────────────────

/// A saved item (types.ts `CollectorItem`).
#[derive(Serialize, ToSchema)]
pub struct CollectorItem {
    id: String,
    title: String,
    content: String,
    url: Option<String>,
    tags: Vec<String>,
    source_message_id: Option<String>,
    /// The uploaded file's name.
    filename: Option<String>,
    /// Characters of `content`.
    size: i64,
    created_at: String,
    updated_at: String,
}

impl From<Item> for CollectorItem {
    fn from(i: Item) -> Self {
        CollectorItem {
            id: i.id,
            title: i.title,
            content: i.content,
            url: i.url,
            tags: i.tags,
            source_message_id: i.source_message_id,
            filename: i.filename,
            size: i.size,
            created_at: i.created_at,
            updated_at: i.updated_at,
        }
    }
}

/// An item as lists show it: the content cut to an excerpt.
#[derive(Serialize, ToSchema)]
pub struct CollectorItemSummary {
    id: String,
    title: String,
    /// The first 300 characters of the content.
    excerpt: String,
    url: Option<String>,
    tags: Vec<String>,
    source_message_id: Option<String>,
    filename: Option<String>,
    size: i64,
    created_at: String,
    updated_at: String,
}

impl From<Item> for CollectorItemSummary {
    fn from(i: Item) -> Self {
        CollectorItemSummary {
            excerpt: i.content.chars().take(300).collect(),
            id: i.id,
            title: i.title,
            url: i.url,
            tags: i.tags,
            source_message_id: i.source_message_id,
            filename: i.filename,
            size: i.size,
            created_at: i.created_at,
            updated_at: i.updated_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct CollectorItems {
    items: Vec<CollectorItemSummary>,
    next_cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct CollectorTag {
    tag: String,
    /// Items carrying it.
    count: i64,
}

#[derive(Serialize, ToSchema)]
pub struct CollectorTags {
    tags: Vec<CollectorTag>,
}

/// A new item (`content` required) or a change to one (every field optional).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CollectorItemBody {
    /// At most 200 characters; made from the content when not given.
    title: Option<String>,
    content: Option<String>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "super::filters::double_option")]
    #[schema(value_type = Option<String>)]
    url: Option<Option<String>>,
    tags: Option<Vec<String>>,
    /// Only on creation: the answer it was saved from.
    source_message_id: Option<String>,
}

impl From<CollectorItemBody> for ItemChange {
    fn from(b: CollectorItemBody) -> Self {
        ItemChange {
            title: b.title,
            content: b.content,
            url: b.url,
            tags: b.tags,
            source_message_id: b.source_message_id,
        }
    }
}

/// The upload form: a text file and optional fields.
#[derive(ToSchema)]
#[allow(dead_code)] // a shape for the document only: the form is read part by part
pub struct CollectorUpload {
    /// A text file (.txt, .md, .csv, .json, source code …), at most 10 MiB.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    title: Option<String>,
    /// A JSON array of strings, or comma-separated.
    tags: Option<String>,
    url: Option<String>,
}

// ── Handlers ────────────────────────────────────────────────────────────────

#[derive(Deserialize)]
struct ListQuery {
    q: Option<String>,
    tag: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

#[utoipa::path(get, path = "/collector/items", tag = "collector",
    params(("q" = Option<String>, Query, description = "comma-separated keywords, all must match"),
        ("tag" = Option<String>, Query), ("limit" = Option<u32>, Query),
        ("cursor" = Option<String>, Query)),
    responses((status = 200, body = CollectorItems), (status = 400, body = Error),
        (status = 401, body = Error)))]
async fn list(
    state: AppState,
    current: CurrentUser,
    query: ListQuery,
) -> Result<Response, ApiError> {
    let page = Page {
        limit: query.limit,
        cursor: query.cursor,
    };
    let items = service::list(
        &state.db,
        current.user.id.clone(),
        query.q.as_deref(),
        query.tag,
        page.cursor.as_deref(),
        page.limit(),
    )
    .await?;
    let next_cursor = page.next_cursor(&items, |i| format!("{}~{}", i.updated_at, i.id));
    let items = items.into_iter().map(CollectorItemSummary::from).collect();
    Ok(json_response(
        StatusCode::OK,
        &CollectorItems { items, next_cursor },
    ))
}

#[utoipa::path(post, path = "/collector/items", tag = "collector",
    request_body(content(
        (CollectorItemBody = "application/json"),
        (CollectorUpload = "multipart/form-data"),
    )),
    responses((status = 201, body = CollectorItem), (status = 400, body = Error),
        (status = 401, body = Error), (status = 404, description = "no such message", body = Error),
        (status = 413, body = Error),
        (status = 415, description = "not JSON, or not a text file", body = Error),
        (status = 422, body = Error)))]
async fn create(state: AppState, current: CurrentUser, body: Bytes) -> Result<Response, ApiError> {
    let body: CollectorItemBody = parse_json(&body)?;
    let item = service::create(&state.db, current.user.id.clone(), body.into()).await?;
    Ok(json_response(
        StatusCode::CREATED,
        &CollectorItem::from(item),
    ))
}

/// POST /collector/items as `multipart/form-data` (documented on [`create`]).
async fn upload(
    state: AppState,
    current: CurrentUser,
    mut form: multipart::Form,
) -> Result<Response, ApiError> {
    let mut file: Option<(String, Vec<u8>)> = None;
    let (mut title, mut tags, mut url) = (None, Vec::new(), None);
    while let Some(part) = form.next_field().await? {
        match part.name() {
            "file" => {
                let name = part.file_name().unwrap_or_default().to_string();
                service::check_file_name(&name)?;
                file = Some((name, part.read(UPLOAD_LIMIT, service::too_large()).await?));
            }
            "title" => title = Some(text_field(part).await?),
            "tags" => {
                let raw = text_field(part).await?;
                tags = match serde_json::from_str::<Vec<String>>(&raw) {
                    Ok(list) => list,
                    Err(_) => raw.split(',').map(String::from).collect(),
                };
            }
            "url" => url = Some(text_field(part).await?).filter(|u: &String| !u.trim().is_empty()),
            other => {
                let other = other.to_string();
                return Err(ApiError::invalid(
                    "file",
                    format!("unknown form field \"{other}\" (send file, title, tags, url)"),
                ));
            }
        }
    }
    let Some((filename, bytes)) = file else {
        return Err(ApiError::invalid("file", "a file field is required"));
    };
    let upload = Upload {
        filename,
        bytes,
        title,
        tags,
        url,
    };
    let item = service::upload(&state.db, &state.files, current.user.id.clone(), upload).await?;
    Ok(json_response(
        StatusCode::CREATED,
        &CollectorItem::from(item),
    ))
}

async fn text_field(part: multipart::Field) -> Result<String, ApiError> {
    let bytes = part
        .read(
            8 * 1024,
            ApiError::TooLarge("a form field other than the file may take at most 8 KiB".into()),
        )
        .await?;
    String::from_utf8(bytes).map_err(|_| ApiError::BadRequest("form fields must be UTF-8".into()))
}

#[utoipa::path(get, path = "/collector/items/{id}", tag = "collector",
    params(("id" = String, Path)),
    responses((status = 200, body = CollectorItem), (status = 401, body = Error),
        (status = 404, body = Error)))]
async fn get(id: String, state: AppState, current: CurrentUser) -> Result<Response, ApiError> {
    let item = service::get(&state.db, current.user.id.clone(), id).await?;
    Ok(json_response(StatusCode::OK, &CollectorItem::from(item)))
}

#[utoipa::path(method(put, patch), path = "/collector/items/{id}", tag = "collector",
    params(("id" = String, Path)), request_body = CollectorItemBody,
    responses((status = 200, body = CollectorItem), (status = 400, body = Error),
        (status = 401, body = Error), (status = 404, body = Error), (status = 413, body = Error),
        (status = 422, body = Error)))]
async fn update(
    id: String,
    state: AppState,
    current: CurrentUser,
    body: CollectorItemBody,
) -> Result<Response, ApiError> {
    let item = service::update(&state.db, current.user.id.clone(), id, body.into()).await?;
    Ok(json_response(StatusCode::OK, &CollectorItem::from(item)))
}

#[utoipa::path(delete, path = "/collector/items/{id}", tag = "collector",
    params(("id" = String, Path)),
    responses((status = 204, description = "deleted"), (status = 401, body = Error),
        (status = 404, body = Error)))]
async fn delete(id: String, state: AppState, current: CurrentUser) -> Result<Response, ApiError> {
    service::delete(&state.db, current.user.id.clone(), id).await?;
    Ok(super::no_content())
}

#[utoipa::path(get, path = "/collector/tags", tag = "collector",
    responses((status = 200, body = CollectorTags), (status = 401, body = Error)))]
async fn tags(state: AppState, current: CurrentUser) -> Result<Response, ApiError> {
    let tags = service::tags(&state.db, current.user.id.clone())
        .await?
        .into_iter()
        .map(|(tag, count)| CollectorTag { tag, count })
        .collect();
    Ok(json_response(StatusCode::OK, &CollectorTags { tags }))
}
