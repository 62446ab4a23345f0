//! Export (JSON or Markdown, as an attachment) and import of a conversation's
//! current thread. The import reads what the export writes.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use warp::http::{header, HeaderValue, StatusCode};
use warp::reply::Response;

use super::owned;
use crate::api::error::{json_response, ApiError};
use crate::api::openapi::Error;
use crate::api::views::ConversationWithMessages;
use crate::app::AppState;
use crate::auth::CurrentUser;
use crate::db::connection;
use crate::db::conversation::{self as repo, Role, Snapshot, SnapshotMessage};
use crate::service::chat::MAX_CONTENT_CHARS;

/// Most messages one import may hold.
const MAX_IMPORT_MESSAGES: usize = 5_000;
/// The `format` of an exported conversation.
const EXPORT_FORMAT: &str = "daehwa.conversation";

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct ExportQuery {
    /// `json` (default), `markdown` (`md`) or `zip` (both, with the files).
    format: Option<String>,
}

/// An exported conversation (`format=json`): its current thread, what
/// `POST /conversations/import` reads back.
#[derive(Serialize, ToSchema)]
pub struct ExportDocument {
    /// Always `daehwa.conversation`.
    format: String,
    /// Always 1.
    version: u32,
    exported_at: String,
    created_at: String,
    #[serde(flatten)]
    snapshot: Snapshot,
}

#[utoipa::path(get, path = "/conversations/{id}/export", tag = "conversations",
    params(("id" = String, Path), ExportQuery),
    responses(
        (status = 200, description = "an attachment: the conversation as JSON, as Markdown, \
            or as a ZIP of both with the files its questions carried (`files/`)",
            content(
                (ExportDocument = "application/json"),
                (String = "text/markdown"),
                (Vec<u8> = "application/zip"),
            )),
        (status = 401, body = Error), (status = 404, body = Error),
        (status = 409, description = "a temporary chat (`temporary_chat`)", body = Error),
        (status = 422, body = Error)))]
pub(super) async fn export(
    id: String,
    state: AppState,
    current: CurrentUser,
    query: ExportQuery,
) -> Result<Response, ApiError> {
    let format = query.format.unwrap_or_else(|| "json".into());
    if !["json", "markdown", "md", "zip"].contains(&format.as_str()) {
        return Err(ApiError::invalid("format", "must be json, markdown or zip"));
    }
    let conversation = owned(&state, &current, id).await?;
    crate::service::conversations::kept(&conversation, "exported")?;
    let created_at = conversation.created_at.clone();
    let conv_id = conversation.id.clone();
    let snapshot = state
        .db
        .run(move |conn| repo::snapshot(conn, &conversation))
        .await?;
    let json_doc = |snapshot| -> Result<String, ApiError> {
        let doc = ExportDocument {
            format: EXPORT_FORMAT.into(),
            version: 1,
            exported_at: crate::db::now(),
            created_at,
            snapshot,
        };
        serde_json::to_string_pretty(&doc)
            .map_err(|e| ApiError::Internal(format!("the export could not be written: {e}")))
    };
    let (body, content_type, ext): (Vec<u8>, _, _) = match format.as_str() {
        "json" => (json_doc(snapshot)?.into_bytes(), "application/json", "json"),
        "zip" => {
            let md = markdown(&snapshot);
            let ids: Vec<(String, String)> = snapshot
                .messages
                .iter()
                .flat_map(|m| m.files.iter().map(|f| (f.id.clone(), f.name.clone())))
                .collect();
            let json = json_doc(snapshot)?;
            let zip = state
                .db
                .run(move |conn| zip_export(conn, &json, &md, &ids))
                .await?;
            (zip, "application/zip", "zip")
        }
        _ => (
            markdown(&snapshot).into_bytes(),
            "text/markdown; charset=utf-8",
            "md",
        ),
    };
    let mut res = Response::new(body.into());
    let headers = res.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename=\"conversation-{conv_id}.{ext}\""
    )) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(res)
}

/// The ZIP export: `conversation.json` (what the import reads back),
/// `conversation.md`, and each file its questions carried under `files/`.
/// Built on a database thread: the files are read one at a time into it.
fn zip_export(
    conn: &rusqlite::Connection,
    json: &str,
    md: &str,
    files: &[(String, String)],
) -> Result<Vec<u8>, ApiError> {
    use std::io::Write;
    let failed = |e: &dyn std::fmt::Display| {
        ApiError::Internal(format!("the ZIP could not be written: {e}"))
    };
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    zip.start_file("conversation.json", options)
        .map_err(|e| failed(&e))?;
    zip.write_all(json.as_bytes()).map_err(|e| failed(&e))?;
    zip.start_file("conversation.md", options)
        .map_err(|e| failed(&e))?;
    zip.write_all(md.as_bytes()).map_err(|e| failed(&e))?;
    for (id, name) in files {
        let Some(bytes) = crate::db::file::read_blob(conn, id, crate::db::file::Part::Original)?
        else {
            continue;
        };
        // Stored names are already one path component; the id keeps two
        // files of one name apart.
        zip.start_file(format!("files/{id}-{name}"), options)
            .map_err(|e| failed(&e))?;
        zip.write_all(&bytes).map_err(|e| failed(&e))?;
    }
    Ok(zip.finish().map_err(|e| failed(&e))?.into_inner())
}

/// A conversation as Markdown: the title, then each message under its speaker.
fn markdown(snapshot: &repo::Snapshot) -> String {
    let title = if snapshot.title.trim().is_empty() {
        "Conversation"
    } else {
        snapshot.title.trim()
    };
    let mut out = format!("# {title}\n");
    if !snapshot.system_prompt.trim().is_empty() {
        out.push_str(&format!(
            "\n> **System:** {}\n",
            snapshot.system_prompt.trim().replace('\n', "\n> ")
        ));
    }
    for m in &snapshot.messages {
        let who = match (m.role, &m.model_id) {
            (Role::User, _) => "**User**".to_string(),
            (Role::Assistant, Some(model)) => format!("**Assistant** ({model})"),
            (Role::Assistant, None) => "**Assistant**".to_string(),
            (Role::System, _) => "**System**".to_string(),
        };
        out.push_str(&format!("\n---\n\n{who}\n\n{}\n", m.content.trim_end()));
        for f in &m.files {
            out.push_str(&format!("\n📎 `files/{}-{}`\n", f.id, f.name));
        }
    }
    out
}

/// An exported conversation coming back: an [`ExportDocument`], every field
/// but `messages` optional (unknown top-level fields refused).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ImportBody {
    /// `daehwa.conversation` when given.
    format: Option<String>,
    /// 1 when given.
    version: Option<u32>,
    #[allow(dead_code)]
    exported_at: Option<String>,
    #[allow(dead_code)]
    created_at: Option<String>,
    title: Option<String>,
    /// Dropped when this server does not know the model.
    model_id: Option<String>,
    system_prompt: Option<String>,
    /// 1 to 5000 messages, one thread, root first.
    messages: Vec<ImportMessage>,
}

/// A message of an [`ImportBody`]: a `SnapshotMessage` whose role is checked
/// after reading, so that an unknown one is a 422 naming the field.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ImportMessage {
    /// `user`, `assistant` or `system`.
    role: String,
    content: String,
    #[serde(default)]
    model_id: Option<String>,
    /// Ignored: the import's messages are dated now.
    #[serde(default)]
    #[allow(dead_code)]
    created_at: Option<String>,
    /// Ignored: an export names the files its questions carried, but an
    /// import never takes stored files (they could be anyone's).
    #[serde(default)]
    #[allow(dead_code)]
    #[schema(value_type = Option<Vec<Object>>)]
    files: Option<serde_json::Value>,
}

#[utoipa::path(post, path = "/conversations/import", tag = "conversations",
    request_body = ImportBody,
    responses((status = 201, description = "the new conversation", body = ConversationWithMessages),
        (status = 400, body = Error), (status = 401, body = Error), (status = 422, body = Error)))]
pub(super) async fn import(
    state: AppState,
    current: CurrentUser,
    body: ImportBody,
) -> Result<Response, ApiError> {
    if body.format.as_deref().is_some_and(|f| f != EXPORT_FORMAT) {
        return Err(ApiError::invalid(
            "format",
            format!("must be {EXPORT_FORMAT} (a file exported by daehwa)"),
        ));
    }
    if body.version.is_some_and(|v| v != 1) {
        return Err(ApiError::invalid("version", "only version 1 is understood"));
    }
    if body.messages.is_empty() || body.messages.len() > MAX_IMPORT_MESSAGES {
        return Err(ApiError::invalid(
            "messages",
            format!("must hold 1 to {MAX_IMPORT_MESSAGES} messages"),
        ));
    }
    let mut messages = Vec::with_capacity(body.messages.len());
    for m in body.messages {
        let Some(role) = Role::parse(&m.role) else {
            return Err(ApiError::invalid(
                "messages",
                format!("unknown role \"{}\" (user, assistant or system)", m.role),
            ));
        };
        if m.content.chars().count() > MAX_CONTENT_CHARS {
            return Err(ApiError::invalid(
                "messages",
                format!("a message has more than {MAX_CONTENT_CHARS} characters"),
            ));
        }
        messages.push(SnapshotMessage {
            role,
            content: m.content,
            model_id: m.model_id,
            created_at: None,
            // An import never names stored files: they could be anyone's.
            files: Vec::new(),
        });
    }
    let title: String = body
        .title
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .unwrap_or("Imported conversation")
        .chars()
        .take(200)
        .collect();
    // A model this server does not know is dropped; the first available is used then.
    let model_id = match body.model_id {
        Some(id) => {
            let wanted = id.clone();
            state
                .db
                .run(move |conn| connection::route(conn, &wanted))
                .await?
                .map(|_| id)
        }
        None => None,
    };
    let snapshot = repo::Snapshot {
        title,
        model_id,
        system_prompt: body.system_prompt.unwrap_or_default(),
        messages,
    };
    let created = crate::api::views::copy_to(&state, &current, snapshot).await?;
    Ok(json_response(StatusCode::CREATED, &created))
}
