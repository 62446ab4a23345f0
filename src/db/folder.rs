//! The `folder` table: a user's folders (one level of nesting; the service,
//! src/service/folders.rs, checks depth and cycles), how many conversations
//! each holds, and deleting one with or without its conversations.

use rusqlite::{named_params, params, Connection, OptionalExtension, Row};
use serde::Serialize;

use super::DbError;

/// A folder as its owner sees it (`user_id` never leaves the server).
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Folder {
    pub id: String,
    #[serde(skip)]
    pub user_id: String,
    pub name: String,
    /// The top-level folder it is in (`null`: it is top-level).
    pub parent_id: Option<String>,
    /// The conversations filed in it (not its subfolders'), temporary chats
    /// never.
    pub conversation_count: i64,
    pub created_at: String,
    pub updated_at: String,
}

/// A folder's columns with its count; `f` is the folder.
const SELECT_SQL: &str = "SELECT f.id, f.user_id, f.name, f.parent_id,
        (SELECT count(*) FROM conversation c WHERE c.folder_id = f.id AND c.temporary = 0),
        f.created_at, f.updated_at
    FROM folder f";
const LIST_SQL: &str = "WHERE f.user_id = :user ORDER BY f.name COLLATE NOCASE, f.id";
const GET_SQL: &str = "WHERE f.id = :id AND f.user_id = :user";
const COUNT_SQL: &str = "SELECT count(*) FROM folder WHERE user_id = ?1";
const HAS_CHILDREN_SQL: &str = "SELECT EXISTS (SELECT 1 FROM folder WHERE parent_id = ?1)";
const INSERT_SQL: &str = "INSERT INTO folder (id, user_id, parent_id, name, created_at, updated_at)
    VALUES (?1, ?2, ?3, ?4, ?5, ?5)";
const UPDATE_SQL: &str = "UPDATE folder SET
        name = COALESCE(:name, name),
        parent_id = CASE WHEN :move THEN :parent ELSE parent_id END,
        updated_at = :now
    WHERE id = :id";
/// The ids of the conversations in a folder and its subfolders.
const CONVERSATIONS_SQL: &str = "SELECT c.id FROM conversation c
    WHERE c.user_id = :user
      AND c.folder_id IN (SELECT f.id FROM folder f WHERE f.id = :id OR f.parent_id = :id)";
const DELETE_CONVERSATIONS_SQL: &str = "DELETE FROM conversation
    WHERE user_id = :user
      AND folder_id IN (SELECT f.id FROM folder f WHERE f.id = :id OR f.parent_id = :id)";
const DELETE_SQL: &str = "DELETE FROM folder WHERE id = ?1 AND user_id = ?2";

fn folder_from(row: &Row<'_>) -> rusqlite::Result<Folder> {
    Ok(Folder {
        id: row.get(0)?,
        user_id: row.get(1)?,
        name: row.get(2)?,
        parent_id: row.get(3)?,
        conversation_count: row.get(4)?,
        created_at: row.get(5)?,
        updated_at: row.get(6)?,
    })
}

/// All of the user's folders, by name (case-insensitive).
pub fn list(conn: &Connection, user_id: &str) -> Result<Vec<Folder>, DbError> {
    let mut stmt = conn.prepare_cached(&format!("{SELECT_SQL} {LIST_SQL}"))?;
    let rows = stmt.query_map(named_params! {":user": user_id}, folder_from)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The folder if it is `user_id`'s (another user's is `None`: a 404).
pub fn get(conn: &Connection, user_id: &str, id: &str) -> Result<Option<Folder>, DbError> {
    Ok(conn
        .prepare_cached(&format!("{SELECT_SQL} {GET_SQL}"))?
        .query_row(named_params! {":id": id, ":user": user_id}, folder_from)
        .optional()?)
}

/// How many folders the user has.
pub fn count(conn: &Connection, user_id: &str) -> Result<i64, DbError> {
    Ok(conn
        .prepare_cached(COUNT_SQL)?
        .query_row([user_id], |r| r.get(0))?)
}

/// Whether the folder has subfolders.
pub fn has_children(conn: &Connection, id: &str) -> Result<bool, DbError> {
    Ok(conn
        .prepare_cached(HAS_CHILDREN_SQL)?
        .query_row([id], |r| r.get(0))?)
}

/// A new folder of `user_id` (name and parent already checked).
pub fn create(
    conn: &Connection,
    user_id: &str,
    name: &str,
    parent_id: Option<&str>,
) -> Result<Folder, DbError> {
    let id = super::new_id();
    conn.prepare_cached(INSERT_SQL)?.execute(params![
        id,
        user_id,
        parent_id,
        name,
        super::now()
    ])?;
    get(conn, user_id, &id)?.ok_or_else(|| DbError::Task("inserted folder vanished".into()))
}

/// Renames and/or moves a folder (`parent: Some(None)` = to the top level).
pub fn update(
    conn: &Connection,
    id: &str,
    name: Option<&str>,
    parent: Option<Option<&str>>,
) -> Result<(), DbError> {
    conn.prepare_cached(UPDATE_SQL)?.execute(named_params! {
        ":id": id,
        ":name": name,
        ":move": parent.is_some(),
        ":parent": parent.flatten(),
        ":now": super::now(),
    })?;
    Ok(())
}

/// The ids of the conversations in the folder and its subfolders.
pub fn conversation_ids(
    conn: &Connection,
    user_id: &str,
    id: &str,
) -> Result<Vec<String>, DbError> {
    let mut stmt = conn.prepare_cached(CONVERSATIONS_SQL)?;
    let rows = stmt.query_map(named_params! {":user": user_id, ":id": id}, |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Deletes the folder and its subfolders; with `conversations`, first the
/// conversations in them (their messages, shares and files go by cascade),
/// else those are left unfiled (`folder_id` is set to NULL by the foreign
/// key). Call inside a transaction. Answers how many conversations went.
pub fn delete(
    conn: &Connection,
    user_id: &str,
    id: &str,
    conversations: bool,
) -> Result<usize, DbError> {
    let deleted = if conversations {
        conn.prepare_cached(DELETE_CONVERSATIONS_SQL)?
            .execute(named_params! {":user": user_id, ":id": id})?
    } else {
        0
    };
    conn.prepare_cached(DELETE_SQL)?.execute([id, user_id])?;
    Ok(deleted)
}
