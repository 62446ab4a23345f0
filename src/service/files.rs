//! Files in conversations (issue 20): uploads (type checked from the bytes,
//! documents' text extracted once, images scaled for vision models, all on
//! threads of their own with a time cap), the per-file limit and per-user
//! quota, reading a file back (owner, or an admin: audited), and what a
//! question's files add to the prompt.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::StatusCode;
use rusqlite::Connection;
use serde_json::json;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::{Error, Result};
use crate::db::audit::{self, Actor, Audit};
use crate::db::file::{self as repo, FileKind, NewFile, Part, StoredFile};
use crate::db::{setting, Db};
use crate::{engine, llm};

/// Default largest file, in bytes (admin setting `file_max_bytes`).
pub const DEFAULT_MAX_FILE_BYTES: u64 = 20 * 1024 * 1024;
/// Default bytes of files one user may keep (admin setting `file_quota_bytes`).
pub const DEFAULT_QUOTA_BYTES: u64 = 1024 * 1024 * 1024;
/// The largest per-file limit an admin may set: an upload is held in memory
/// while it is read, checked and stored.
pub const MAX_FILE_LIMIT: u64 = 100 * 1024 * 1024;
/// Most files one message may carry.
pub const MAX_FILES_PER_MESSAGE: usize = 20;
/// The longer side of the image copy sent to models: what Anthropic
/// advises, and within what OpenAI keeps at high detail.
pub const PREVIEW_SIDE: u32 = 1568;
/// Longest a file's reading (text extraction, image scaling) may take.
pub const EXTRACT_TIMEOUT: Duration = Duration::from_secs(30);
/// Files read at once, server-wide: each holds its bytes and what the
/// parser makes of them.
const READERS: usize = 4;
/// Files one user may have read at once (so one user never takes every
/// reader).
const READERS_PER_USER: usize = 2;
/// Longest an upload waits for a reader before the server says it is busy.
const READER_WAIT: Duration = Duration::from_secs(20);
/// Unattached uploads (left in a message box) are deleted after this long.
pub const ABANDONED_AFTER: Duration = Duration::from_secs(24 * 3600);

/// Setting names.
pub const MAX_FILE_BYTES: &str = "file_max_bytes";
pub const QUOTA_BYTES: &str = "file_quota_bytes";

/// The limits in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_file_bytes: u64,
    pub quota_bytes: u64,
}

/// The admin's limits (defaults when unset).
pub fn limits_in(conn: &Connection) -> Result<Limits, crate::db::DbError> {
    let read = |key: &str, default: u64| -> Result<u64, crate::db::DbError> {
        Ok(setting::get(conn, key)?
            .and_then(|v| v.as_u64())
            .unwrap_or(default))
    };
    Ok(Limits {
        max_file_bytes: read(MAX_FILE_BYTES, DEFAULT_MAX_FILE_BYTES)?,
        quota_bytes: read(QUOTA_BYTES, DEFAULT_QUOTA_BYTES)?,
    })
}

pub async fn limits(db: &Db) -> Result<Limits> {
    Ok(db.run(|conn| limits_in(conn)).await?)
}

/// Checks an admin's new limits (bytes): a file limit of 1 KiB to
/// [`MAX_FILE_LIMIT`], a quota of at least 1 MiB.
pub fn check_limits(max_file_bytes: Option<u64>, quota_bytes: Option<u64>) -> Result<()> {
    if let Some(n) = max_file_bytes {
        if !(1024..=MAX_FILE_LIMIT).contains(&n) {
            return Err(Error::invalid(
                MAX_FILE_BYTES,
                format!("must be between 1024 and {MAX_FILE_LIMIT} bytes"),
            ));
        }
    }
    if let Some(n) = quota_bytes {
        if n < 1024 * 1024 {
            return Err(Error::invalid(
                QUOTA_BYTES,
                "must be at least 1048576 bytes",
            ));
        }
    }
    Ok(())
}

/// The 413 of a file over the limit, saying the limit.
pub fn too_large(max: u64) -> Error {
    Error::refused(
        StatusCode::PAYLOAD_TOO_LARGE,
        "file_too_large",
        format!("a file may be at most {}", human_size(max)),
    )
}

/// `1.5 MiB`, `20 MiB`, `512 KiB`, `100 bytes`.
pub fn human_size(n: u64) -> String {
    const MIB: u64 = 1024 * 1024;
    match n {
        n if n >= MIB && n % MIB == 0 => format!("{} MiB", n / MIB),
        n if n >= MIB => format!("{:.1} MiB", n as f64 / MIB as f64),
        n if n >= 1024 => format!("{} KiB", n / 1024),
        n => format!("{n} bytes"),
    }
}

/// The readers of uploaded files: a thread of its own per file (a parser
/// that never returns keeps its thread, not one of the runtime's), at most
/// [`READERS`] at once and [`READERS_PER_USER`] per user.
pub struct Readers {
    slots: Arc<Semaphore>,
    per_user: Arc<Mutex<HashMap<String, usize>>>,
    /// Upload bodies being received: each is held in memory whole, so at
    /// most [`RECEIVING`] at once ([`RECEIVING_PER_USER`] per user).
    receiving: Arc<Semaphore>,
    receiving_per_user: Arc<Mutex<HashMap<String, usize>>>,
    pub timeout: Duration,
}

/// Upload bodies received at once, server-wide: with the default 20 MiB
/// limit, at most 160 MiB of uploads in memory however many arrive.
const RECEIVING: usize = 8;
/// Upload bodies one user may send at once.
const RECEIVING_PER_USER: usize = 3;

impl Default for Readers {
    fn default() -> Self {
        Readers {
            slots: Arc::new(Semaphore::new(READERS)),
            per_user: Arc::default(),
            receiving: Arc::new(Semaphore::new(RECEIVING)),
            receiving_per_user: Arc::default(),
            timeout: EXTRACT_TIMEOUT,
        }
    }
}

/// A place among the uploads being received; held while the body is read
/// and the file stored.
pub struct Receiving {
    _slot: OwnedSemaphorePermit,
    _mine: UserSlot,
}

/// A user's place among the readers, given back when dropped (by the
/// reader's thread, so a parser that never returns keeps its user's place
/// too, and one user's stuck files never take more than their share).
struct UserSlot {
    per_user: Arc<Mutex<HashMap<String, usize>>>,
    user_id: String,
}

impl Drop for UserSlot {
    fn drop(&mut self) {
        let mut map = self.per_user.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = map.get_mut(&self.user_id) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.user_id);
            }
        }
    }
}

impl Readers {
    /// A place to receive an upload's body: 429 past [`RECEIVING_PER_USER`]
    /// of one user, 503 when every place stays taken for [`READER_WAIT`].
    /// Taken before a byte of the body is read.
    pub async fn receive(&self, user_id: &str) -> Result<Receiving> {
        let mine = take_user_slot(&self.receiving_per_user, user_id, RECEIVING_PER_USER)?;
        let slot =
            match tokio::time::timeout(READER_WAIT, self.receiving.clone().acquire_owned()).await {
                Ok(Ok(permit)) => permit,
                _ => return Err(Error::Overloaded),
            };
        Ok(Receiving {
            _slot: slot,
            _mine: mine,
        })
    }

    fn user_slot(&self, user_id: &str) -> Result<UserSlot> {
        take_user_slot(&self.per_user, user_id, READERS_PER_USER)
    }

    async fn slot(&self) -> Result<OwnedSemaphorePermit> {
        match tokio::time::timeout(READER_WAIT, self.slots.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(Error::Overloaded),
        }
    }

    /// Runs `work` on a thread of its own holding a reader's slot; `None`
    /// when it did not finish within the time cap (the thread keeps the
    /// slot until it does) or panicked.
    async fn read<T: Send + 'static>(
        &self,
        user_id: &str,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<Option<T>> {
        let mine = self.user_slot(user_id)?;
        let permit = self.slot().await?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        std::thread::Builder::new()
            .name("daehwa-file".into())
            .spawn(move || {
                let _slots = (permit, mine);
                let result = catch_unwind(AssertUnwindSafe(work));
                let _ = tx.send(result.ok());
            })
            .map_err(|e| Error::Internal(format!("cannot start a file reader: {e}")))?;
        match tokio::time::timeout(self.timeout, rx).await {
            Ok(Ok(result)) => Ok(result),
            _ => Ok(None),
        }
    }
}

/// One of `max` places of `user_id` in `map`, or 429.
fn take_user_slot(
    map: &Arc<Mutex<HashMap<String, usize>>>,
    user_id: &str,
    max: usize,
) -> Result<UserSlot> {
    let mut held = map.lock().unwrap_or_else(|e| e.into_inner());
    let n = held.entry(user_id.to_string()).or_default();
    if *n >= max {
        return Err(Error::TooManyRequests {
            message: format!(
                "at most {max} files of one user are taken at once; send the next when one is done"
            ),
            retry_after: 2,
        });
    }
    *n += 1;
    Ok(UserSlot {
        per_user: map.clone(),
        user_id: user_id.to_string(),
    })
}

/// An upload as the HTTP layer read it.
pub struct Upload {
    pub name: String,
    /// The part's declared Content-Type.
    pub declared: Option<String>,
    pub bytes: Vec<u8>,
}

/// A file name safe to store and to send back: the last path component,
/// no control characters, at most 255 bytes; `file` when nothing is left.
pub fn clean_name(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = last.chars().filter(|c| !c.is_control()).collect();
    let trimmed = cleaned.trim().trim_start_matches('.').trim();
    let mut name = String::new();
    for c in trimmed.chars() {
        if name.len() + c.len_utf8() > 255 {
            break;
        }
        name.push(c);
    }
    if name.is_empty() {
        "file".into()
    } else {
        name
    }
}

/// What reading a file gave.
enum Read {
    Image(daehwa_extract::Prepared),
    Document {
        text: Option<String>,
        truncated: bool,
        error: Option<String>,
    },
}

/// Stores an upload of `user_id`: refuses an empty file (422), an unknown
/// type or one that is not what its name says (415), a file over the limit
/// or past the quota (413); reads it (a document whose text cannot be read
/// is kept with the reason), then writes it in one transaction that checks
/// the quota again.
pub async fn upload(
    db: &Db,
    readers: &Readers,
    user_id: &str,
    upload: Upload,
) -> Result<StoredFile> {
    let name = clean_name(&upload.name);
    if upload.bytes.is_empty() {
        return Err(Error::invalid("file", "the file is empty"));
    }
    let owner = user_id.to_string();
    let size = upload.bytes.len() as u64;
    let limits = db
        .run(move |conn| -> Result<_> {
            let limits = limits_in(conn)?;
            let used = repo::used_bytes(conn, &owner)? as u64;
            Ok((limits, used))
        })
        .await?;
    let (limits, used) = limits;
    if size > limits.max_file_bytes {
        return Err(too_large(limits.max_file_bytes));
    }
    check_quota(used, size, limits.quota_bytes)?;
    let format = daehwa_extract::detect(&name, upload.declared.as_deref(), &upload.bytes).map_err(
        |err| match err {
            daehwa_extract::Error::Empty => Error::invalid("file", "the file is empty"),
            other => Error::refused(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_type",
                format!(
                    "{other} Accepted: images (PNG, JPEG, WebP, GIF), PDF, Word, PowerPoint, \
                     Excel, CSV, HWP, HWPX and text files."
                ),
            ),
        },
    )?;
    let bytes = Arc::new(upload.bytes);
    let input = bytes.clone();
    let read = readers
        .read(user_id, move || read_file(format, &input))
        .await?;
    let read = match read {
        Some(read) => read?,
        None if format.is_image() => {
            return Err(Error::invalid(
                "file",
                "the image could not be read in time; try a smaller one",
            ))
        }
        None => Read::Document {
            text: None,
            truncated: false,
            error: Some(format!(
                "Reading the text took too long (over {} s) or failed; the file is kept \
                 without its text.",
                readers.timeout.as_secs()
            )),
        },
    };
    let owner = user_id.to_string();
    db.run_bulk(move |conn| -> Result<StoredFile> {
        let new = match &read {
            Read::Image(p) => NewFile {
                name: &name,
                mime: format.mime(),
                kind: FileKind::Image,
                width: Some(p.original_width),
                height: Some(p.original_height),
                text: None,
                text_truncated: false,
                extract_error: None,
                original: &bytes,
                preview: Some(&p.bytes),
            },
            Read::Document {
                text,
                truncated,
                error,
            } => NewFile {
                name: &name,
                mime: format.mime(),
                kind: FileKind::Document,
                width: None,
                height: None,
                text: text.as_deref(),
                text_truncated: *truncated,
                extract_error: error.as_deref(),
                original: &bytes,
                preview: None,
            },
        };
        crate::db::conversation::turn(conn, |tx| -> Result<StoredFile> {
            let limits = limits_in(tx)?;
            check_quota(
                repo::used_bytes(tx, &owner)? as u64,
                size,
                limits.quota_bytes,
            )?;
            Ok(repo::insert(tx, &owner, &new)?)
        })
    })
    .await
}

fn check_quota(used: u64, size: u64, quota: u64) -> Result<()> {
    if used.saturating_add(size) > quota {
        return Err(Error::refused(
            StatusCode::PAYLOAD_TOO_LARGE,
            "quota_exceeded",
            format!(
                "your files would take more than your {} of storage ({} used); delete \
                 conversations with files you no longer need",
                human_size(quota),
                human_size(used)
            ),
        ));
    }
    Ok(())
}

/// Reads a file on a reader thread: an image scaled (a broken image is
/// refused), a document's text (a failure is kept as the reason).
fn read_file(format: daehwa_extract::Format, bytes: &[u8]) -> Result<Read> {
    let limits = daehwa_extract::Limits::default();
    if format.is_image() {
        return match daehwa_extract::prepare_image(format, bytes, PREVIEW_SIDE, &limits) {
            Ok(prepared) => Ok(Read::Image(prepared)),
            Err(daehwa_extract::Error::Mismatch(why)) => Err(Error::refused(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_type",
                why,
            )),
            Err(daehwa_extract::Error::TooLarge(why)) => Err(Error::refused(
                StatusCode::PAYLOAD_TOO_LARGE,
                "file_too_large",
                why,
            )),
            Err(other) => Err(Error::invalid(
                "file",
                format!("the image cannot be read: {other}"),
            )),
        };
    }
    Ok(match daehwa_extract::extract_text(format, bytes, &limits) {
        Ok(extracted) => Read::Document {
            text: Some(extracted.text),
            truncated: extracted.truncated,
            error: None,
        },
        Err(err) => Read::Document {
            text: None,
            truncated: false,
            error: Some(err.to_string()),
        },
    })
}

/// The text of a document for the collector (same readers, same caps):
/// 415 when it is not the document its name says, 422 when its text cannot
/// be read (the collector keeps text, so there is nothing to keep then).
pub async fn document_text(
    readers: &Readers,
    user_id: &str,
    name: &str,
    bytes: Vec<u8>,
) -> Result<String> {
    let format = daehwa_extract::detect(name, None, &bytes).map_err(|err| {
        Error::refused(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_type",
            err.to_string(),
        )
    })?;
    if format.is_image() {
        return Err(Error::refused(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_type",
            "the collector keeps text; attach images to a message instead",
        ));
    }
    let read = readers
        .read(user_id, move || {
            daehwa_extract::extract_text(format, &bytes, &daehwa_extract::Limits::default())
        })
        .await?;
    match read {
        Some(Ok(extracted)) if !extracted.text.trim().is_empty() => Ok(extracted.text),
        Some(Ok(_)) => Err(Error::invalid("file", "the document has no text")),
        Some(Err(err)) => Err(Error::invalid("file", err.to_string())),
        None => Err(Error::invalid(
            "file",
            "reading the document took too long or failed",
        )),
    }
}

/// A page of the user's files and their usage.
pub async fn list(
    db: &Db,
    user_id: String,
    cursor: Option<String>,
    limit: u32,
) -> Result<(Vec<StoredFile>, u64, Limits)> {
    db.run(move |conn| -> Result<_> {
        let after = cursor.as_deref().and_then(|c| c.split_once('~'));
        let files = repo::list(conn, &user_id, after, limit)?;
        let used = repo::used_bytes(conn, &user_id)? as u64;
        Ok((files, used, limits_in(conn)?))
    })
    .await
}

/// The file `id` for `reader`: their own, or any file for an admin (the
/// read of another user's file is audited). Anyone else: 404.
pub async fn get(db: &Db, reader: &Reader, id: String) -> Result<StoredFile> {
    let reader = reader.clone();
    db.run(move |conn| -> Result<StoredFile> {
        let Some(file) = repo::get(conn, &id)? else {
            return Err(not_found());
        };
        if file.user_id == reader.user_id {
            return Ok(file);
        }
        let Some(actor) = reader.admin else {
            return Err(not_found());
        };
        audit::audited(conn, Some(&actor), "file.read", |_| {
            let audit = Audit {
                target: Some(file.user_id.clone()),
                detail: json!({"file_id": file.id, "name": file.name}),
            };
            Ok::<_, Error>(((), audit))
        })?;
        Ok(file)
    })
    .await
}

/// Who reads a file: the user, and if they are an admin, who to audit.
#[derive(Clone)]
pub struct Reader {
    pub user_id: String,
    pub admin: Option<Actor>,
}

fn not_found() -> Error {
    Error::NotFound("no such file".into())
}

/// A file's stored bytes (`part`), for `reader` (see [`get`]).
pub async fn bytes(
    db: &Db,
    reader: &Reader,
    id: String,
    part: Part,
) -> Result<(StoredFile, Vec<u8>)> {
    let file = get(db, reader, id).await?;
    let file_id = file.id.clone();
    let bytes = db
        .run(move |conn| repo::read_blob(conn, &file_id, part))
        .await?
        .ok_or_else(|| Error::NotFound("this file has no preview".into()))?;
    Ok((file, bytes))
}

/// A document's extracted text, for `reader` (see [`get`]).
pub async fn text(db: &Db, reader: &Reader, id: String) -> Result<(String, bool)> {
    let file = get(db, reader, id).await?;
    db.run(move |conn| repo::text(conn, &file.id))
        .await?
        .ok_or_else(|| Error::NotFound("this file has no text".into()))
}

/// Deletes an upload no message carries yet (removed from the message box).
pub async fn delete(db: &Db, user_id: String, id: String) -> Result<()> {
    db.run(move |conn| -> Result<()> {
        let Some(_) = repo::get_owned(conn, &user_id, &id)? else {
            return Err(not_found());
        };
        if !repo::delete_unattached(conn, &user_id, &id)? {
            return Err(Error::refused(
                StatusCode::CONFLICT,
                "file_in_use",
                "a message carries this file; it goes when its conversation is deleted",
            ));
        }
        Ok(())
    })
    .await
}

/// Deletes abandoned uploads at start and then every hour, for as long as
/// the server runs.
pub async fn sweep(db: Db) {
    let mut every = tokio::time::interval(Duration::from_secs(3600));
    loop {
        every.tick().await;
        match delete_abandoned(&db).await {
            Ok(0) => {}
            Ok(n) => log::info!("deleted {n} uploads no message carried within a day"),
            Err(err) => log::warn!("could not delete abandoned uploads: {err}"),
        }
    }
}

/// Deletes uploads left in a message box for [`ABANDONED_AFTER`].
pub async fn delete_abandoned(db: &Db) -> Result<usize> {
    let before = chrono::Utc::now()
        - chrono::Duration::from_std(ABANDONED_AFTER).unwrap_or(chrono::Duration::days(1));
    let before = before.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    Ok(db
        .run(move |conn| repo::delete_abandoned(conn, &before))
        .await?)
}

/// Checks the files a question is to carry (inside the turn's
/// transaction): at most [`MAX_FILES_PER_MESSAGE`], each the user's own
/// (else 404) and not yet carried in another conversation; duplicates are
/// dropped. Returns them in order.
pub fn check_attachable(
    conn: &Connection,
    user_id: &str,
    conversation_id: &str,
    ids: &[String],
) -> Result<Vec<StoredFile>> {
    if ids.len() > MAX_FILES_PER_MESSAGE {
        return Err(Error::invalid(
            "file_ids",
            format!("at most {MAX_FILES_PER_MESSAGE} files per message"),
        ));
    }
    let mut files: Vec<StoredFile> = Vec::new();
    for id in ids {
        if files.iter().any(|f| &f.id == id) {
            continue;
        }
        let Some(file) = repo::get_owned(conn, user_id, id)? else {
            return Err(Error::NotFound(format!("no such file {id}")));
        };
        if file
            .conversation_id
            .as_deref()
            .is_some_and(|c| c != conversation_id)
        {
            return Err(Error::refused(
                StatusCode::CONFLICT,
                "file_in_use",
                format!(
                    "{} belongs to another conversation; upload it again",
                    file.name
                ),
            ));
        }
        files.push(file);
    }
    Ok(files)
}

/// The 422 of images sent to a model that cannot see them.
pub fn cannot_see(model: &str) -> Error {
    Error::refused(
        StatusCode::UNPROCESSABLE_ENTITY,
        "model_cannot_see_images",
        format!(
            "{model} cannot see images. Pick a model that can (marked with an eye), or remove \
             the image."
        ),
    )
}

/// What the files of a thread add to a prompt: each question's images (for
/// a vision model) and the documents' text as reference material.
#[derive(Default)]
pub struct ThreadFiles {
    pub images: HashMap<String, Vec<llm::Image>>,
    /// `(name, text)` of each document with text, oldest question first.
    pub documents: Vec<(String, String)>,
    /// Names of documents whose text could not be read.
    pub unreadable: Vec<String>,
}

/// Gathers the files the questions of `thread` carried (inside the turn's
/// transaction). Images are read only when the model sees them.
pub fn of_thread(conn: &Connection, message_ids: &[&str], vision: bool) -> Result<ThreadFiles> {
    let mut out = ThreadFiles::default();
    for (message_id, file) in repo::of_messages(conn, message_ids)? {
        match file.kind {
            FileKind::Image if vision => {
                if let Some(bytes) = repo::read_blob(conn, &file.id, Part::Preview)? {
                    let media_type = preview_mime(&bytes).to_string();
                    out.images.entry(message_id).or_default().push(llm::Image {
                        media_type,
                        data: Arc::from(bytes),
                    });
                }
            }
            FileKind::Image => {}
            FileKind::Document => match repo::text(conn, &file.id)? {
                Some((text, _)) => out.documents.push((file.name, text)),
                None => out.unreadable.push(file.name),
            },
        }
    }
    // Oldest question first: `of_messages` orders by message id (UUID v7,
    // so by time).
    Ok(out)
}

/// The documents of a thread as reference material for the system prompt,
/// within `budget` (in the order they were attached), and a line naming the ones whose text could
/// not be read, so the model can say so instead of guessing.
pub fn documents_block(files: &ThreadFiles, budget: &mut u32) -> String {
    let references: Vec<engine::Reference<'_>> = files
        .documents
        .iter()
        .map(|(name, text)| engine::Reference { title: name, text })
        .collect();
    let (mut block, _) = engine::reference_block(
        "The user attached the following files to the conversation; their text follows. \
         Use it to answer.",
        &references,
        budget,
    );
    if !files.unreadable.is_empty() {
        block.push_str(&format!(
            "\nThe user also attached files whose text could not be read: {}.\n",
            files.unreadable.join(", ")
        ));
    }
    block
}

/// Whether `model` sees images: the admin's word, else [`guess_vision`].
pub fn sees_images(model: &crate::db::connection::ModelRow) -> bool {
    model
        .vision
        .unwrap_or_else(|| guess_vision(&model.upstream_id))
}

/// The media type of a stored preview (PNG or JPEG, from its first bytes).
pub fn preview_mime(bytes: &[u8]) -> &'static str {
    if bytes.starts_with(b"\x89PNG") {
        "image/png"
    } else {
        "image/jpeg"
    }
}

/// Whether a model sees images: the admin's word, else a guess from its
/// name (the families that do: GPT-4o/4.1/5, o-series, Claude 3 and later,
/// Gemini, Llama 3.2 Vision, LLaVA, Qwen-VL, Gemma 3, Pixtral, MiniCPM-V …).
pub fn guess_vision(upstream_id: &str) -> bool {
    let id = upstream_id.to_ascii_lowercase();
    let id = id.rsplit('/').next().unwrap_or(&id);
    const BLIND: &[&str] = &[
        "gpt-3.5",
        "gpt-4-0613",
        "gpt-4-0314",
        "o1-mini",
        "o3-mini",
        "claude-2",
        "claude-instant",
        "embedding",
        "whisper",
        "tts",
        "dall-e",
        "gpt-oss",
        "-coder",
        "codestral",
    ];
    if BLIND.iter().any(|b| id.contains(b)) {
        return false;
    }
    const SEEING: &[&str] = &[
        "gpt-4o",
        "gpt-4.1",
        "gpt-4.5",
        "gpt-4-turbo",
        "gpt-4-vision",
        "gpt-5",
        "chatgpt-4o",
        "claude-3",
        "claude-opus-4",
        "claude-sonnet-4",
        "claude-haiku-4",
        "claude-4",
        "gemini",
        "vision",
        "llava",
        "bakllava",
        "-vl",
        "vl-",
        "qwen2.5vl",
        "gemma3",
        "gemma-3",
        "pixtral",
        "minicpm-v",
        "moondream",
        "llama4",
        "llama-4",
        "mistral-small-3",
        "granite3.2-vision",
    ];
    if SEEING.iter().any(|s| id.contains(s)) {
        return true;
    }
    // o1, o3, o4 (not their minis, above).
    ["o1", "o3", "o4"]
        .iter()
        .any(|o| id == *o || id.starts_with(&format!("{o}-")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_lose_their_paths_and_control_characters() {
        assert_eq!(clean_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_name("C:\\Users\\kim\\보고서.hwp"), "보고서.hwp");
        assert_eq!(clean_name("a\u{0}b\r\n.txt"), "ab.txt");
        assert_eq!(clean_name(".."), "file");
        assert_eq!(clean_name("   "), "file");
        assert_eq!(clean_name(".hidden"), "hidden");
        let long = "가".repeat(200);
        let cut = clean_name(&long);
        assert!(cut.len() <= 255 && cut.chars().all(|c| c == '가'));
    }

    #[test]
    fn vision_is_guessed_from_the_model_name() {
        for seeing in [
            "gpt-4o",
            "gpt-4o-mini",
            "gpt-4.1",
            "gpt-5",
            "o3",
            "o1-2024-12-17",
            "claude-3-5-sonnet-20241022",
            "claude-sonnet-4-5",
            "llama3.2-vision:11b",
            "llava:7b",
            "qwen2.5-vl-7b",
            "gemma3:12b",
            "openrouter/google/gemini-2.5-pro",
        ] {
            assert!(guess_vision(seeing), "{seeing}");
        }
        for blind in [
            "gpt-3.5-turbo",
            "o3-mini",
            "llama3.1:8b",
            "mistral",
            "qwen2.5-coder",
            "fake-model",
            "text-embedding-3-small",
            "claude-2.1",
            "gpt-oss-20b",
        ] {
            assert!(!guess_vision(blind), "{blind}");
        }
    }

    #[test]
    fn limits_are_checked_and_sizes_said_in_words() {
        assert!(check_limits(Some(20 << 20), Some(1 << 30)).is_ok());
        assert!(check_limits(Some(10), None).is_err());
        assert!(check_limits(Some(MAX_FILE_LIMIT + 1), None).is_err());
        assert!(check_limits(None, Some(1000)).is_err());
        assert_eq!(human_size(20 << 20), "20 MiB");
        assert_eq!(human_size(1536 * 1024), "1.5 MiB");
        assert_eq!(human_size(2048), "2 KiB");
        assert!(check_quota(10, 5, 15).is_ok());
        let err = check_quota(10, 6, 15).unwrap_err();
        assert_eq!(err.code(), "quota_exceeded");
        assert_eq!(err.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[tokio::test]
    async fn uploads_are_received_a_few_at_a_time_and_per_user() {
        let readers = Readers::default();
        let mut held = Vec::new();
        for _ in 0..RECEIVING_PER_USER {
            held.push(readers.receive("u").await.unwrap());
        }
        let Err(err) = readers.receive("u").await else {
            panic!("a fourth body of one user was taken");
        };
        assert_eq!(err.status(), StatusCode::TOO_MANY_REQUESTS);
        // Others still get theirs, up to the server's bound.
        for i in RECEIVING_PER_USER..RECEIVING {
            held.push(readers.receive(&format!("v{i}")).await.unwrap());
        }
        assert_eq!(readers.receiving.available_permits(), 0);
        held.clear();
        assert_eq!(readers.receiving.available_permits(), RECEIVING);
        assert!(readers.receiving_per_user.lock().unwrap().is_empty());
        assert!(readers.receive("u").await.is_ok());
    }

    #[tokio::test]
    async fn a_reader_that_never_returns_keeps_its_slot_not_the_caller() {
        let readers = Readers {
            timeout: Duration::from_millis(50),
            ..Default::default()
        };
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let stuck = readers
            .read("u", move || {
                let _ = wait.recv();
            })
            .await
            .unwrap();
        assert!(stuck.is_none(), "timed out");
        assert_eq!(readers.slots.available_permits(), READERS - 1);
        assert_eq!(readers.per_user.lock().unwrap()["u"], 1, "still the user's");
        // Someone else is not held up by it.
        assert_eq!(readers.read("v", || 1).await.unwrap(), Some(1));
        release.send(()).unwrap();
        // The thread ends and gives its slot back.
        for _ in 0..200 {
            if readers.slots.available_permits() == READERS
                && readers.per_user.lock().unwrap().is_empty()
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(readers.slots.available_permits(), READERS);
        assert!(readers.per_user.lock().unwrap().is_empty());
        let panicked = readers.read("u", || panic!("parser bug")).await.unwrap();
        assert!(panicked.is_none());
        assert_eq!(readers.read("u", || 7).await.unwrap(), Some(7));
    }
}
