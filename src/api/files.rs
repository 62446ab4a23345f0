//! `/files`: a user's uploads for conversations (issue 20): upload (one
//! file per request, so each has its own progress and its own refusal),
//! list with usage, the bytes (owner, or an admin: audited), an image's
//! scaled copy, a document's text, and deleting an upload no message
//! carries yet. Another user's file is a 404.

use serde::Serialize;
use utoipa::ToSchema;
use warp::http::{header, HeaderValue, StatusCode};
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::error::{json_response, respond, ApiError};
use super::filters::{authenticated, with_state, Limit, Page, FORM_FRAMING};
use super::multipart;
use crate::api::openapi::Error;
use crate::app::AppState;
use crate::auth::CurrentUser;
use crate::db::file::{FileKind, Part, StoredFile};
use crate::db::user::Role;
use crate::service::files::{self as service, Reader, Upload};

pub fn routes(state: AppState) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let st = || with_state(state.clone());
    let user = || authenticated(state.clone());
    // POST /api/v1/files (multipart/form-data: one `file` part)
    let upload = warp::path!("files")
        .and(warp::post())
        .and(st())
        .and(user())
        .and(warp::header::optional::<u64>("content-length"))
        .and(multipart::form(Limit::Upload))
        .then(upload)
        .map(respond);
    // POST /api/v1/files with anything but a form: say what it takes.
    let not_form = warp::path!("files")
        .and(warp::post())
        .and(user())
        .then(|_: CurrentUser| async {
            Err::<Response, _>(ApiError::Unsupported(
                "upload a file as multipart/form-data, in one part named file".into(),
            ))
        })
        .map(respond);
    // GET /api/v1/files?limit=&cursor=
    let list = warp::path!("files")
        .and(warp::get())
        .and(st())
        .and(user())
        .and(warp::query::<Page>())
        .then(list)
        .map(respond);
    // GET /api/v1/files/{id}
    let bytes = warp::path!("files" / String)
        .and(warp::get())
        .and(st())
        .and(user())
        .then(|id, state, user| read(id, state, user, Part::Original))
        .map(respond);
    // GET /api/v1/files/{id}/preview
    let preview = warp::path!("files" / String / "preview")
        .and(warp::get())
        .and(st())
        .and(user())
        .then(|id, state, user| read(id, state, user, Part::Preview))
        .map(respond);
    // GET /api/v1/files/{id}/text
    let text = warp::path!("files" / String / "text")
        .and(warp::get())
        .and(st())
        .and(user())
        .then(text)
        .map(respond);
    // DELETE /api/v1/files/{id}
    let delete = warp::path!("files" / String)
        .and(warp::delete())
        .and(st())
        .and(user())
        .then(delete)
        .map(respond);
    upload
        .or(not_form)
        .unify()
        .or(list)
        .unify()
        .or(bytes)
        .unify()
        .or(preview)
        .unify()
        .or(text)
        .unify()
        .or(delete)
        .unify()
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(upload, list, read_original, read_preview, text, delete),
    components(schemas(StoredFile, FileKind, FileList, FileUpload, FileText)),
    tags((name = "files"))
)]
pub struct Doc;

// ── Shapes ──────────────────────────────────────────────────────────────────

/// The upload form: one file.
#[derive(ToSchema)]
#[allow(dead_code)] // a shape for the document only: the form is read part by part
pub struct FileUpload {
    /// An image (PNG, JPEG, WebP, GIF), a document (PDF, DOCX, PPTX, XLSX,
    /// CSV, HWP, HWPX) or a text file; at most `max_file_bytes`.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// A page of the caller's files, and their storage.
#[derive(Serialize, ToSchema)]
pub struct FileList {
    files: Vec<StoredFile>,
    next_cursor: Option<String>,
    /// Bytes of all the caller's files.
    used_bytes: u64,
    quota_bytes: u64,
    /// The largest file the server takes.
    max_file_bytes: u64,
}

/// A document's extracted text.
#[derive(Serialize, ToSchema)]
pub struct FileText {
    text: String,
    /// The text stopped at the server's limit.
    truncated: bool,
}

// ── Handlers ────────────────────────────────────────────────────────────────

#[utoipa::path(post, path = "/files", tag = "files",
    request_body(content = FileUpload, content_type = "multipart/form-data"),
    responses((status = 201, description = "stored (a document whose text could not be read \
            is stored too, with `extract_error`)", body = StoredFile),
        (status = 400, body = Error), (status = 401, body = Error),
        (status = 413, description = "`file_too_large` or `quota_exceeded`", body = Error),
        (status = 415, description = "`unsupported_type`", body = Error),
        (status = 422, body = Error), (status = 429, body = Error), (status = 503, body = Error)))]
async fn upload(
    state: AppState,
    current: CurrentUser,
    declared: Option<u64>,
    mut form: multipart::Form,
) -> Result<Response, ApiError> {
    let limits = service::limits(&state.db).await?;
    // Refused on its own word, before a byte of it is read.
    if declared.is_some_and(|n| n > limits.max_file_bytes + FORM_FRAMING) {
        return Err(service::too_large(limits.max_file_bytes));
    }
    // A place among the bodies being received (each is held whole), also
    // before a byte is read: a thousand parallel uploads wait or are told
    // to come back, they do not all sit in memory at once.
    let _receiving = state.files.receive(&current.user.id).await?;
    let mut file: Option<Upload> = None;
    while let Some(part) = form.next_field().await? {
        if part.name() != "file" {
            let name = part.name().to_string();
            return Err(ApiError::invalid(
                "file",
                format!("unknown form field \"{name}\" (send one part named file)"),
            ));
        }
        if file.is_some() {
            return Err(ApiError::invalid(
                "file",
                "one file per request: send each file on its own",
            ));
        }
        let name = part.file_name().unwrap_or_default().to_string();
        let declared = part.content_type().map(str::to_string);
        let bytes = part
            .read(
                limits.max_file_bytes,
                service::too_large(limits.max_file_bytes),
            )
            .await?;
        file = Some(Upload {
            name,
            declared,
            bytes,
        });
    }
    let Some(file) = file else {
        return Err(ApiError::invalid("file", "a file field is required"));
    };
    let stored = service::upload(&state.db, &state.files, &current.user.id, file).await?;
    Ok(json_response(StatusCode::CREATED, &stored))
}

#[utoipa::path(get, path = "/files", tag = "files",
    params(("limit" = Option<u32>, Query), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = FileList), (status = 401, body = Error)))]
async fn list(state: AppState, current: CurrentUser, page: Page) -> Result<Response, ApiError> {
    let (files, used, limits) = service::list(
        &state.db,
        current.user.id.clone(),
        page.cursor.clone(),
        page.limit(),
    )
    .await?;
    let next_cursor = page.next_cursor(&files, |f| format!("{}~{}", f.created_at, f.id));
    Ok(json_response(
        StatusCode::OK,
        &FileList {
            files,
            next_cursor,
            used_bytes: used,
            quota_bytes: limits.quota_bytes,
            max_file_bytes: limits.max_file_bytes,
        },
    ))
}

fn reader(current: &CurrentUser) -> Reader {
    Reader {
        user_id: current.user.id.clone(),
        admin: (current.user.role == Role::Admin).then(|| current.actor()),
    }
}

#[utoipa::path(get, path = "/files/{id}", tag = "files", params(("id" = String, Path)),
    responses((status = 200, description = "the file as uploaded (its own Content-Type; \
            an attachment, images inline)", content_type = "*/*", body = Vec<u8>),
        (status = 401, body = Error), (status = 404, body = Error)))]
#[allow(dead_code)] // the document's entry for `read` with Part::Original
fn read_original() {}

#[utoipa::path(get, path = "/files/{id}/preview", tag = "files", params(("id" = String, Path)),
    responses((status = 200, description = "an image scaled to at most 1568 pixels on its \
            longer side (PNG or JPEG): what vision models are sent", content((Vec<u8> = "image/jpeg"), (Vec<u8> = "image/png"))),
        (status = 401, body = Error), (status = 404, description = "no such file, or a document",
            body = Error)))]
#[allow(dead_code)] // the document's entry for `read` with Part::Preview
fn read_preview() {}

/// GET /files/{id} and /files/{id}/preview.
async fn read(
    id: String,
    state: AppState,
    current: CurrentUser,
    part: Part,
) -> Result<Response, ApiError> {
    let (file, bytes) = service::bytes(&state.db, &reader(&current), id, part).await?;
    Ok(file_response(&file, bytes, part))
}

/// A file's bytes as an answer: its type (a preview's own), never sniffed,
/// never run as a page (a sandboxing CSP: an uploaded HTML or SVG file is
/// only ever a download), images inline and everything else an attachment.
pub fn file_response(file: &StoredFile, bytes: Vec<u8>, part: Part) -> Response {
    let content_type = match part {
        Part::Preview => service::preview_mime(&bytes).to_string(),
        Part::Original => file.mime.clone(),
    };
    let mut res = Response::new(bytes.into());
    let headers = res.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&content_type)
            .unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    let disposition = if file.kind == FileKind::Image {
        "inline"
    } else {
        "attachment"
    };
    let encoded =
        percent_encoding::utf8_percent_encode(&file.name, percent_encoding::NON_ALPHANUMERIC);
    let ascii: String = file
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".-_ ".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{disposition}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}"
    )) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("sandbox; default-src 'none'"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=3600"),
    );
    res
}

#[utoipa::path(get, path = "/files/{id}/text", tag = "files", params(("id" = String, Path)),
    responses((status = 200, body = FileText), (status = 401, body = Error),
        (status = 404, description = "no such file, or one without text", body = Error)))]
async fn text(id: String, state: AppState, current: CurrentUser) -> Result<Response, ApiError> {
    let (text, truncated) = service::text(&state.db, &reader(&current), id).await?;
    Ok(json_response(StatusCode::OK, &FileText { text, truncated }))
}

#[utoipa::path(delete, path = "/files/{id}", tag = "files", params(("id" = String, Path)),
    responses((status = 204, description = "deleted"), (status = 401, body = Error),
        (status = 404, body = Error),
        (status = 409, description = "`file_in_use`: a message carries it", body = Error)))]
async fn delete(id: String, state: AppState, current: CurrentUser) -> Result<Response, ApiError> {
    service::delete(&state.db, current.user.id.clone(), id).await?;
    Ok(super::no_content())
}
