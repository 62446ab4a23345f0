//! `POST /conversations/import/chatgpt`: a ChatGPT export (the ZIP from
//! "Settings → Data controls → Export data", or its `conversations.json`)
//! becomes the caller's conversations (`service::chatgpt_import`).
//!
//! The body is bounded before it is read: a `Content-Length` over 100 MiB is
//! a 413 at once, a chunked body is cut off at the limit; one import at a
//! time per user (409 `import_in_progress`) and [`MAX_IMPORTS`] in all, so
//! at most that many uploads are held in memory. The reading and converting
//! run on a blocking thread.

use std::collections::HashSet;
use std::sync::Mutex;

use serde::Serialize;
use utoipa::ToSchema;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::error::{json_response, respond, ApiError};
use super::filters::{authenticated, with_state, Limit, FORM_FRAMING};
use super::multipart;
use crate::api::openapi::Error;
use crate::app::AppState;
use crate::auth::CurrentUser;
use crate::service::chatgpt_import::{self as service, MAX_UPLOAD_BYTES};

/// ChatGPT imports running at once on the server (each holds its upload).
pub const MAX_IMPORTS: usize = 2;
static IMPORTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(MAX_IMPORTS);
/// The users with an import running.
static RUNNING: Mutex<Option<HashSet<String>>> = Mutex::new(None);

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(import),
    components(schemas(ChatGptUpload, ChatGptImport, ImportedConversation, ImportProblem)),
    tags((name = "conversations"))
)]
pub struct Doc;

pub fn routes(state: AppState) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    // POST /api/v1/conversations/import/chatgpt (multipart/form-data: one `file` part)
    let import = warp::path!("conversations" / "import" / "chatgpt")
        .and(warp::post())
        .and(with_state(state.clone()))
        .and(authenticated(state.clone()))
        .and(warp::header::optional::<u64>("content-length"))
        .and(multipart::form(Limit::Upload))
        .then(import)
        .map(respond);
    // The same path with anything but a form: say what it takes.
    let not_form = warp::path!("conversations" / "import" / "chatgpt")
        .and(warp::post())
        .and(authenticated(state))
        .then(|_: CurrentUser| async {
            Err::<Response, _>(ApiError::Unsupported(
                "upload the export as multipart/form-data, in one part named file".into(),
            ))
        })
        .map(respond);
    import.or(not_form).unify()
}

/// The form: one part named `file`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ChatGptUpload {
    /// The ZIP of ChatGPT's data export, or its `conversations.json`; at
    /// most 100 MiB.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// What an import did.
#[derive(Serialize, ToSchema)]
pub struct ChatGptImport {
    imported: usize,
    /// Conversations not imported (each is in `problems`).
    skipped: usize,
    /// Images and files of the imported conversations, not carried over.
    attachments_skipped: usize,
    conversations: Vec<ImportedConversation>,
    problems: Vec<ImportProblem>,
}

/// A conversation imported.
#[derive(Serialize, ToSchema)]
pub struct ImportedConversation {
    id: String,
    title: String,
}

/// A conversation not imported, and why.
#[derive(Serialize, ToSchema)]
pub struct ImportProblem {
    title: String,
    reason: String,
}

/// The caller's place as the one import they run; freed when dropped.
struct Running(String);

impl Running {
    fn take(user_id: &str) -> Result<Running, ApiError> {
        let mut running = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
        if !running
            .get_or_insert_with(HashSet::new)
            .insert(user_id.to_string())
        {
            return Err(ApiError::refused(
                StatusCode::CONFLICT,
                "import_in_progress",
                "an import of yours is still running; wait for it to finish",
            ));
        }
        Ok(Running(user_id.to_string()))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let mut running = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(set) = running.as_mut() {
            set.remove(&self.0);
        }
    }
}

fn too_large() -> ApiError {
    ApiError::refused(
        StatusCode::PAYLOAD_TOO_LARGE,
        "file_too_large",
        format!(
            "the export may be at most {} MiB",
            MAX_UPLOAD_BYTES / (1024 * 1024)
        ),
    )
}

#[utoipa::path(post, path = "/conversations/import/chatgpt", tag = "conversations",
    request_body(content = ChatGptUpload, content_type = "multipart/form-data"),
    responses((status = 200, description = "what was imported; a conversation that could \
            not be is a `problems` entry", body = ChatGptImport),
        (status = 400, body = Error), (status = 401, body = Error),
        (status = 409, description = "`import_in_progress`", body = Error),
        (status = 413, description = "`file_too_large`", body = Error),
        (status = 415, body = Error),
        (status = 422, description = "`not_chatgpt_export`", body = Error),
        (status = 503, body = Error)))]
async fn import(
    state: AppState,
    current: CurrentUser,
    declared: Option<u64>,
    mut form: multipart::Form,
) -> Result<Response, ApiError> {
    // Refused on its own word, before a byte of it is read.
    if declared.is_some_and(|n| n > MAX_UPLOAD_BYTES + FORM_FRAMING) {
        return Err(too_large());
    }
    let _running = Running::take(&current.user.id)?;
    let _permit = IMPORTS.try_acquire().map_err(|_| ApiError::Overloaded)?;
    let mut file: Option<Vec<u8>> = None;
    while let Some(part) = form.next_field().await? {
        if part.name() != "file" || file.is_some() {
            return Err(ApiError::invalid(
                "file",
                "send the export in one part named file",
            ));
        }
        file = Some(part.read(MAX_UPLOAD_BYTES, too_large()).await?);
    }
    let Some(bytes) = file else {
        return Err(ApiError::invalid("file", "is required"));
    };
    let parsed = tokio::task::spawn_blocking(move || service::read_export(&bytes))
        .await
        .map_err(|e| ApiError::Internal(format!("the export could not be read: {e}")))??;
    let summary = service::write_all(&state.db, current.user.id.clone(), parsed).await?;
    let reply = ChatGptImport {
        imported: summary.imported,
        skipped: summary.skipped,
        attachments_skipped: summary.attachments_skipped,
        conversations: summary
            .conversations
            .into_iter()
            .map(|(id, title)| ImportedConversation { id, title })
            .collect(),
        problems: summary
            .problems
            .into_iter()
            .map(|p| ImportProblem {
                title: p.title,
                reason: p.reason,
            })
            .collect(),
    };
    Ok(json_response(StatusCode::OK, &reply))
}
