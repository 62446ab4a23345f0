//! Files in conversations (`file`, `file_blob`, `message_file`): the
//! metadata and extracted text of an upload, its bytes (written and read
//! with SQLite's incremental BLOB I/O, so a backup is still one file), and
//! which question carried which file.

use std::io::{Read, Write};

use rusqlite::{params, Connection, OptionalExtension, Row, MAIN_DB};
use serde::Serialize;

use super::DbError;

/// What a file is to a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum FileKind {
    /// Sent as an image part to vision models.
    Image,
    /// Its extracted text is sent as context.
    Document,
}

impl FileKind {
    fn as_str(self) -> &'static str {
        match self {
            FileKind::Image => "image",
            FileKind::Document => "document",
        }
    }
}

impl rusqlite::types::FromSql for FileKind {
    fn column_result(value: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        match value.as_str()? {
            "image" => Ok(FileKind::Image),
            "document" => Ok(FileKind::Document),
            other => Err(rusqlite::types::FromSqlError::Other(
                format!("unknown file kind {other}").into(),
            )),
        }
    }
}

/// A stored file's metadata (never its bytes or its text): `File` in the
/// OpenAPI document, in message objects' `files` and shares' snapshots.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[schema(as = File)]
pub struct StoredFile {
    pub id: String,
    #[serde(skip)]
    pub user_id: String,
    /// Set once a message carries it.
    #[serde(skip)]
    pub conversation_id: Option<String>,
    pub name: String,
    pub mime: String,
    pub kind: FileKind,
    pub size: i64,
    /// Images: the original size in pixels.
    pub width: Option<i64>,
    pub height: Option<i64>,
    /// Documents: characters of the extracted text (0 when none).
    pub text_chars: i64,
    /// The text stopped at the server's limit.
    pub text_truncated: bool,
    /// Why a document's text could not be read (the file is kept).
    pub extract_error: Option<String>,
    pub created_at: String,
}

/// A new file, ready to store.
pub struct NewFile<'a> {
    pub name: &'a str,
    pub mime: &'a str,
    pub kind: FileKind,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub text: Option<&'a str>,
    pub text_truncated: bool,
    pub extract_error: Option<&'a str>,
    pub original: &'a [u8],
    /// Images: the scaled copy sent to models.
    pub preview: Option<&'a [u8]>,
}

/// Which stored bytes of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Original,
    Preview,
}

impl Part {
    fn as_str(self) -> &'static str {
        match self {
            Part::Original => "original",
            Part::Preview => "preview",
        }
    }
}

const COLUMNS: &str = "f.id, f.user_id, f.conversation_id, f.name, f.mime, f.kind, f.size, \
    f.width, f.height, coalesce(length(f.text), 0), f.text_truncated, f.extract_error, f.created_at";

fn file_from(row: &Row<'_>) -> rusqlite::Result<StoredFile> {
    Ok(StoredFile {
        id: row.get(0)?,
        user_id: row.get(1)?,
        conversation_id: row.get(2)?,
        name: row.get(3)?,
        mime: row.get(4)?,
        kind: row.get(5)?,
        size: row.get(6)?,
        width: row.get(7)?,
        height: row.get(8)?,
        text_chars: row.get(9)?,
        text_truncated: row.get(10)?,
        extract_error: row.get(11)?,
        created_at: row.get(12)?,
    })
}

/// Bytes of files `user_id` stores (originals; previews are not counted).
pub fn used_bytes(conn: &Connection, user_id: &str) -> Result<i64, DbError> {
    Ok(conn
        .prepare_cached("SELECT coalesce(sum(size), 0) FROM file WHERE user_id = ?1")?
        .query_row([user_id], |r| r.get(0))?)
}

/// Stores a file of `user_id`: metadata, then each blob as a zero-filled
/// value of its size written in place (incremental BLOB I/O, no second copy
/// of the bytes in SQLite's memory). Call inside a write transaction, after
/// checking the quota in the same transaction.
pub fn insert(conn: &Connection, user_id: &str, new: &NewFile<'_>) -> Result<StoredFile, DbError> {
    let id = super::new_id();
    let now = super::now();
    conn.prepare_cached(
        "INSERT INTO file (id, user_id, name, mime, kind, size, width, height, text,
            text_truncated, extract_error, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )?
    .execute(params![
        id,
        user_id,
        new.name,
        new.mime,
        new.kind.as_str(),
        new.original.len() as i64,
        new.width,
        new.height,
        new.text,
        new.text_truncated,
        new.extract_error,
        now,
    ])?;
    write_blob(conn, &id, Part::Original, new.original)?;
    if let Some(preview) = new.preview {
        write_blob(conn, &id, Part::Preview, preview)?;
    }
    Ok(get(conn, &id)?.ok_or(rusqlite::Error::QueryReturnedNoRows)?)
}

fn write_blob(conn: &Connection, file_id: &str, part: Part, bytes: &[u8]) -> Result<(), DbError> {
    conn.prepare_cached(
        "INSERT INTO file_blob (file_id, part, data) VALUES (?1, ?2, zeroblob(?3))",
    )?
    .execute(params![file_id, part.as_str(), bytes.len() as i64])?;
    let rowid = conn.last_insert_rowid();
    let mut blob = conn.blob_open(MAIN_DB, c"file_blob", c"data", rowid, false)?;
    blob.write_all(bytes)
        .map_err(|e| DbError::Task(format!("writing a file's bytes: {e}")))?;
    blob.close()?;
    Ok(())
}

/// A file by id, whoever owns it (callers check ownership).
pub fn get(conn: &Connection, id: &str) -> Result<Option<StoredFile>, DbError> {
    Ok(conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM file f WHERE f.id = ?1"))?
        .query_row([id], file_from)
        .optional()?)
}

/// The file `id` if `user_id` owns it.
pub fn get_owned(
    conn: &Connection,
    user_id: &str,
    id: &str,
) -> Result<Option<StoredFile>, DbError> {
    Ok(get(conn, id)?.filter(|f| f.user_id == user_id))
}

/// A page of `user_id`'s files, newest first, after the cursor
/// (`created_at~id` of the last one seen).
pub fn list(
    conn: &Connection,
    user_id: &str,
    after: Option<(&str, &str)>,
    limit: u32,
) -> Result<Vec<StoredFile>, DbError> {
    let (at, id) = after.unwrap_or(("\u{10FFFF}", ""));
    let sql = super::with_limit(
        &format!(
            "SELECT {COLUMNS} FROM file f WHERE f.user_id = ?1
               AND (f.created_at < ?2 OR (f.created_at = ?2 AND f.id < ?3))
             ORDER BY f.created_at DESC, f.id DESC LIMIT :limit"
        ),
        limit,
        None,
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![user_id, at, id], file_from)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The stored bytes of a file (`None` when it has no such part).
pub fn read_blob(conn: &Connection, file_id: &str, part: Part) -> Result<Option<Vec<u8>>, DbError> {
    let rowid: Option<i64> = conn
        .prepare_cached("SELECT rowid FROM file_blob WHERE file_id = ?1 AND part = ?2")?
        .query_row(params![file_id, part.as_str()], |r| r.get(0))
        .optional()?;
    let Some(rowid) = rowid else { return Ok(None) };
    let mut blob = conn.blob_open(MAIN_DB, c"file_blob", c"data", rowid, true)?;
    let mut out = Vec::with_capacity(blob.len());
    blob.read_to_end(&mut out)
        .map_err(|e| DbError::Task(format!("reading a file's bytes: {e}")))?;
    Ok(Some(out))
}

/// A document's extracted text and whether it was cut.
pub fn text(conn: &Connection, file_id: &str) -> Result<Option<(String, bool)>, DbError> {
    Ok(conn
        .prepare_cached("SELECT text, text_truncated FROM file WHERE id = ?1 AND text IS NOT NULL")?
        .query_row([file_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?)
}

/// Deletes an unattached file; `false` when it does not exist or a message
/// carries it.
pub fn delete_unattached(conn: &Connection, user_id: &str, id: &str) -> Result<bool, DbError> {
    Ok(conn
        .prepare_cached(
            "DELETE FROM file WHERE id = ?1 AND user_id = ?2 AND conversation_id IS NULL
               AND NOT EXISTS (SELECT 1 FROM message_file m WHERE m.file_id = file.id)",
        )?
        .execute([id, user_id])?
        > 0)
}

/// Whether any message carries the file.
pub fn is_attached(conn: &Connection, id: &str) -> Result<bool, DbError> {
    Ok(conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM message_file WHERE file_id = ?1)")?
        .query_row([id], |r| r.get(0))?)
}

/// Records that `message_id` carries `file_ids` (in that order) and gives
/// the files to the message's conversation. Inside the turn's transaction.
pub fn attach(
    conn: &Connection,
    conversation_id: &str,
    message_id: &str,
    file_ids: &[String],
) -> Result<(), DbError> {
    let mut link = conn.prepare_cached(
        "INSERT OR IGNORE INTO message_file (message_id, file_id, position) VALUES (?1, ?2, ?3)",
    )?;
    let mut own = conn.prepare_cached(
        "UPDATE file SET conversation_id = ?1 WHERE id = ?2 AND conversation_id IS NULL",
    )?;
    for (position, id) in file_ids.iter().enumerate() {
        link.execute(params![message_id, id, position as i64])?;
        own.execute([conversation_id, id])?;
    }
    Ok(())
}

/// The files each of `message_ids` carried, in order: `(message_id, file)`.
pub fn of_messages(
    conn: &Connection,
    message_ids: &[&str],
) -> Result<Vec<(String, StoredFile)>, DbError> {
    if message_ids.is_empty() {
        return Ok(Vec::new());
    }
    // One statement per batch size would defeat the cache; a JSON array
    // parameter keeps it one statement.
    let ids = serde_json::to_string(message_ids).unwrap_or_else(|_| "[]".into());
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS}, m.message_id FROM message_file m JOIN file f ON f.id = m.file_id
         WHERE m.message_id IN (SELECT value FROM json_each(?1))
         ORDER BY m.message_id, m.position"
    ))?;
    // The message id comes after the file's columns, so `file_from` reads the rest.
    let rows = stmt.query_map([ids], |row| Ok((row.get(13)?, file_from(row)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Ids of the files a message carried, in order.
pub fn ids_of_message(conn: &Connection, message_id: &str) -> Result<Vec<String>, DbError> {
    let mut stmt = conn.prepare_cached(
        "SELECT file_id FROM message_file WHERE message_id = ?1 ORDER BY position",
    )?;
    let rows = stmt.query_map([message_id], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Copies file `id` (metadata, text and bytes) as a new, unattached file of
/// `user_id`: a cloned share's files become the cloner's own.
pub fn copy(conn: &Connection, id: &str, user_id: &str) -> Result<Option<String>, DbError> {
    let new_id = super::new_id();
    let copied = conn
        .prepare_cached(
            "INSERT INTO file (id, user_id, name, mime, kind, size, width, height, text,
                text_truncated, extract_error, created_at)
             SELECT ?1, ?2, name, mime, kind, size, width, height, text, text_truncated,
                extract_error, ?3 FROM file WHERE id = ?4",
        )?
        .execute(params![new_id, user_id, super::now(), id])?;
    if copied == 0 {
        return Ok(None);
    }
    conn.prepare_cached(
        "INSERT INTO file_blob (file_id, part, data) SELECT ?1, part, data FROM file_blob
         WHERE file_id = ?2",
    )?
    .execute([&new_id, id])?;
    Ok(Some(new_id))
}

/// Deletes the files no message carries that were uploaded before `before`
/// (uploads abandoned in the message box); returns how many.
pub fn delete_abandoned(conn: &Connection, before: &str) -> Result<usize, DbError> {
    Ok(conn
        .prepare_cached(
            "DELETE FROM file WHERE conversation_id IS NULL AND created_at < ?1
               AND NOT EXISTS (SELECT 1 FROM message_file m WHERE m.file_id = file.id)",
        )?
        .execute([before])?)
}

/// Sets (or with `None` clears) an admin's vision flag for a model.
pub fn set_model_vision(
    conn: &Connection,
    model_id: &str,
    vision: Option<bool>,
) -> Result<(), DbError> {
    match vision {
        Some(v) => conn
            .prepare_cached(
                "INSERT INTO model_vision (model_id, vision) VALUES (?1, ?2)
                 ON CONFLICT (model_id) DO UPDATE SET vision = excluded.vision",
            )?
            .execute(params![model_id, v])?,
        None => conn
            .prepare_cached("DELETE FROM model_vision WHERE model_id = ?1")?
            .execute([model_id])?,
    };
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (tempfile::TempDir, Connection, String) {
        crate::db::test_db()
    }

    fn image<'a>(original: &'a [u8], preview: &'a [u8]) -> NewFile<'a> {
        NewFile {
            name: "cat.png",
            mime: "image/png",
            kind: FileKind::Image,
            width: Some(4000),
            height: Some(3000),
            text: None,
            text_truncated: false,
            extract_error: None,
            original,
            preview: Some(preview),
        }
    }

    #[test]
    fn bytes_go_in_and_come_out_whole_through_blob_io() {
        let (_dir, conn, user) = setup();
        let original: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        let file = insert(&conn, &user, &image(&original, b"small")).unwrap();
        assert_eq!(file.size, 3_000_000);
        assert_eq!(file.kind, FileKind::Image);
        assert_eq!(file.width, Some(4000));
        assert_eq!(
            read_blob(&conn, &file.id, Part::Original).unwrap().unwrap(),
            original
        );
        assert_eq!(
            read_blob(&conn, &file.id, Part::Preview).unwrap().unwrap(),
            b"small"
        );
        assert_eq!(used_bytes(&conn, &user).unwrap(), 3_000_000);
        assert_eq!(get_owned(&conn, "someone else", &file.id).unwrap(), None);
        assert_eq!(list(&conn, &user, None, 10).unwrap(), vec![file.clone()]);

        let doc = insert(
            &conn,
            &user,
            &NewFile {
                name: "memo.hwp",
                mime: "application/x-hwp",
                kind: FileKind::Document,
                width: None,
                height: None,
                text: Some("회의록"),
                text_truncated: false,
                extract_error: None,
                original: b"bytes",
                preview: None,
            },
        )
        .unwrap();
        assert_eq!(doc.text_chars, 3, "characters, not bytes");
        assert_eq!(read_blob(&conn, &doc.id, Part::Preview).unwrap(), None);
        assert_eq!(
            text(&conn, &doc.id).unwrap(),
            Some(("회의록".into(), false))
        );
        assert_eq!(text(&conn, &file.id).unwrap(), None);
    }

    #[test]
    fn an_attached_file_stays_until_its_conversation_goes() {
        let (_dir, conn, user) = setup();
        let file = insert(&conn, &user, &image(b"png", b"p")).unwrap();
        let spare = insert(&conn, &user, &image(b"png2", b"p")).unwrap();
        let conv = crate::db::conversation::create(
            &conn,
            &user,
            &crate::db::conversation::NewConversation {
                title: "t",
                model_id: None,
                system_prompt: "",
            },
        )
        .unwrap();
        let (question, _) =
            crate::db::conversation::add_exchange(&conn, &conv.id, None, "look", "m").unwrap();
        attach(
            &conn,
            &conv.id,
            &question.id,
            std::slice::from_ref(&file.id),
        )
        .unwrap();
        assert!(is_attached(&conn, &file.id).unwrap());
        assert!(!delete_unattached(&conn, &user, &file.id).unwrap());
        let carried = of_messages(&conn, &[question.id.as_str()]).unwrap();
        assert_eq!(carried.len(), 1);
        assert_eq!(
            carried[0].1.conversation_id.as_deref(),
            Some(conv.id.as_str())
        );
        assert_eq!(
            ids_of_message(&conn, &question.id).unwrap(),
            vec![file.id.clone()]
        );

        // Abandoned uploads go; attached ones stay.
        assert_eq!(delete_abandoned(&conn, "9999").unwrap(), 1);
        assert!(get(&conn, &spare.id).unwrap().is_none());
        conn.execute("DELETE FROM conversation WHERE id = ?1", [&conv.id])
            .unwrap();
        assert!(get(&conn, &file.id).unwrap().is_none());
        let blobs: i64 = conn
            .query_row("SELECT count(*) FROM file_blob", [], |r| r.get(0))
            .unwrap();
        assert_eq!(blobs, 0);
    }
}
