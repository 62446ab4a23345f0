//! Shares (public snapshots of a conversation) and samples (admin-published
//! example conversations): the `share` and `sample` tables.

use rusqlite::{named_params, params, Connection, OptionalExtension, Row};
use serde::Serialize;

use super::conversation::Snapshot;
use super::DbError;

/// A share as listed (without its messages).
#[derive(Debug, Clone, Serialize)]
pub struct Share {
    pub id: String,
    #[serde(skip)]
    pub user_id: String,
    pub conversation_id: String,
    pub title: String,
    pub message_count: i64,
    pub expires_at: Option<String>,
    pub created_at: String,
    /// The owner's username (in admin listings).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
}

const SHARE_COLUMNS: &str = "s.id, s.user_id, s.conversation_id, s.title,
    json_array_length(s.snapshot, '$.messages'), s.expires_at, s.created_at, u.username";

fn share_from(row: &Row<'_>) -> rusqlite::Result<Share> {
    Ok(Share {
        id: row.get(0)?,
        user_id: row.get(1)?,
        conversation_id: row.get(2)?,
        title: row.get(3)?,
        message_count: row.get(4)?,
        expires_at: row.get(5)?,
        created_at: row.get(6)?,
        owner: row.get(7)?,
    })
}

pub fn insert(
    conn: &Connection,
    id: &str,
    user_id: &str,
    conversation_id: &str,
    snapshot: &Snapshot,
    expires_at: Option<&str>,
) -> Result<Share, DbError> {
    conn.prepare_cached(
        "INSERT INTO share (id, user_id, conversation_id, title, snapshot, expires_at, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        id,
        user_id,
        conversation_id,
        snapshot.title,
        serde_json::to_string(snapshot).map_err(|e| DbError::Task(e.to_string()))?,
        expires_at,
        super::now()
    ])?;
    get(conn, id)?.ok_or_else(|| DbError::Task("inserted share vanished".into()))
}

/// A share by id, expired or not (the caller decides).
pub fn get(conn: &Connection, id: &str) -> Result<Option<Share>, DbError> {
    let sql = format!(
        "SELECT {SHARE_COLUMNS} FROM share s LEFT JOIN user u ON u.id = s.user_id WHERE s.id = ?1"
    );
    Ok(conn
        .prepare_cached(&sql)?
        .query_row([id], share_from)
        .optional()?)
}

/// A share's snapshot, unless it expired before `now`.
pub fn live_snapshot(
    conn: &Connection,
    id: &str,
    now: &str,
) -> Result<Option<(Share, Snapshot)>, DbError> {
    let Some(share) = get(conn, id)? else {
        return Ok(None);
    };
    if share.expires_at.as_deref().is_some_and(|e| e <= now) {
        return Ok(None);
    }
    let raw: String = conn
        .prepare_cached("SELECT snapshot FROM share WHERE id = ?1")?
        .query_row([id], |r| r.get(0))?;
    let snapshot =
        serde_json::from_str(&raw).map_err(|e| DbError::Task(format!("share snapshot: {e}")))?;
    Ok(Some((share, snapshot)))
}

/// Newest first; `user_id` None lists everyone's. `before` is a share's
/// `created_at~id` cursor.
pub fn list(
    conn: &Connection,
    user_id: Option<&str>,
    before: Option<(&str, &str)>,
    limit: u32,
) -> Result<Vec<Share>, DbError> {
    let sql = format!(
        "SELECT {SHARE_COLUMNS} FROM share s LEFT JOIN user u ON u.id = s.user_id
          WHERE (:user IS NULL OR s.user_id = :user)
            AND (:at IS NULL OR s.created_at < :at OR (s.created_at = :at AND s.id < :id))
          ORDER BY s.created_at DESC, s.id DESC LIMIT :limit"
    );
    let (at, id) = before.unzip();
    let mut stmt = conn.prepare_cached(&super::with_limit(&sql, limit, None))?;
    let rows = stmt.query_map(
        named_params! { ":user": user_id, ":at": at, ":id": id },
        share_from,
    )?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn delete(conn: &Connection, id: &str) -> Result<bool, DbError> {
    Ok(conn
        .prepare_cached("DELETE FROM share WHERE id = ?1")?
        .execute([id])?
        > 0)
}

/// A sample as listed.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Sample {
    pub id: String,
    pub title: String,
    pub description: String,
    pub message_count: i64,
    pub created_at: String,
}

fn sample_from(row: &Row<'_>) -> rusqlite::Result<Sample> {
    Ok(Sample {
        id: row.get(0)?,
        title: row.get(1)?,
        description: row.get(2)?,
        message_count: row.get(3)?,
        created_at: row.get(4)?,
    })
}

const SAMPLE_COLUMNS: &str =
    "id, title, description, json_array_length(snapshot, '$.messages'), created_at";

pub fn insert_sample(
    conn: &Connection,
    title: &str,
    description: &str,
    snapshot: &Snapshot,
    created_by: &str,
) -> Result<Sample, DbError> {
    let id = super::new_id();
    conn.prepare_cached(
        "INSERT INTO sample (id, title, description, snapshot, created_by, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        id,
        title,
        description,
        serde_json::to_string(snapshot).map_err(|e| DbError::Task(e.to_string()))?,
        created_by,
        super::now()
    ])?;
    Ok(sample(conn, &id)?
        .ok_or_else(|| DbError::Task("inserted sample vanished".into()))?
        .0)
}

pub fn sample(conn: &Connection, id: &str) -> Result<Option<(Sample, Snapshot)>, DbError> {
    let sql = format!("SELECT {SAMPLE_COLUMNS}, snapshot FROM sample WHERE id = ?1");
    let row = conn
        .prepare_cached(&sql)?
        .query_row([id], |r| Ok((sample_from(r)?, r.get::<_, String>(5)?)))
        .optional()?;
    match row {
        None => Ok(None),
        Some((sample, raw)) => {
            let snapshot = serde_json::from_str(&raw)
                .map_err(|e| DbError::Task(format!("sample snapshot: {e}")))?;
            Ok(Some((sample, snapshot)))
        }
    }
}

/// Newest first, after the `before` id cursor.
pub fn samples(
    conn: &Connection,
    before: Option<&str>,
    limit: u32,
) -> Result<Vec<Sample>, DbError> {
    let sql = format!(
        "SELECT {SAMPLE_COLUMNS} FROM sample WHERE :before IS NULL OR id < :before
          ORDER BY id DESC LIMIT :limit"
    );
    let mut stmt = conn.prepare_cached(&super::with_limit(&sql, limit, None))?;
    let rows = stmt.query_map(named_params! { ":before": before }, sample_from)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn delete_sample(conn: &Connection, id: &str) -> Result<bool, DbError> {
    Ok(conn
        .prepare_cached("DELETE FROM sample WHERE id = ?1")?
        .execute([id])?
        > 0)
}
