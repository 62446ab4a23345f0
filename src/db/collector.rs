//! The collector: a user's saved reference material (`collector_item`).

use rusqlite::types::Value as SqlValue;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension, Row};
use serde::Serialize;

use super::DbError;

#[derive(Debug, Clone, Serialize)]
pub struct Item {
    pub id: String,
    #[serde(skip)]
    pub user_id: String,
    pub title: String,
    pub content: String,
    pub url: Option<String>,
    pub tags: Vec<String>,
    pub source_message_id: Option<String>,
    pub filename: Option<String>,
    /// Characters of `content`.
    pub size: i64,
    pub created_at: String,
    pub updated_at: String,
}

pub struct ItemInput<'a> {
    pub title: &'a str,
    pub content: &'a str,
    pub url: Option<&'a str>,
    pub tags: &'a [String],
    pub source_message_id: Option<&'a str>,
    pub filename: Option<&'a str>,
}

const COLUMNS: &str = "id, user_id, title, content, url, tags, source_message_id, filename, \
    length(content), created_at, updated_at";

fn item_from(row: &Row<'_>) -> rusqlite::Result<Item> {
    let tags: String = row.get(5)?;
    Ok(Item {
        id: row.get(0)?,
        user_id: row.get(1)?,
        title: row.get(2)?,
        content: row.get(3)?,
        url: row.get(4)?,
        tags: serde_json::from_str(&tags).unwrap_or_default(),
        source_message_id: row.get(6)?,
        filename: row.get(7)?,
        size: row.get(8)?,
        created_at: row.get(9)?,
        updated_at: row.get(10)?,
    })
}

pub fn insert(conn: &Connection, user_id: &str, input: &ItemInput<'_>) -> Result<Item, DbError> {
    let id = super::new_id();
    conn.prepare_cached(
        "INSERT INTO collector_item (id, user_id, title, content, url, tags, source_message_id,
            filename, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)",
    )?
    .execute(params![
        id,
        user_id,
        input.title,
        input.content,
        input.url,
        serde_json::to_string(input.tags).unwrap_or_else(|_| "[]".into()),
        input.source_message_id,
        input.filename,
        super::now()
    ])?;
    get(conn, user_id, &id)?.ok_or_else(|| DbError::Task("inserted item vanished".into()))
}

/// The item if it belongs to `user_id` (another user's is None: a 404).
pub fn get(conn: &Connection, user_id: &str, id: &str) -> Result<Option<Item>, DbError> {
    let sql = format!("SELECT {COLUMNS} FROM collector_item WHERE id = ?1 AND user_id = ?2");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(params![id, user_id], item_from)
        .optional()?)
}

/// Replaces title, content, url and tags; false when not the user's item.
pub fn update(
    conn: &Connection,
    user_id: &str,
    id: &str,
    input: &ItemInput<'_>,
) -> Result<bool, DbError> {
    Ok(conn
        .prepare_cached(
            "UPDATE collector_item SET title = ?3, content = ?4, url = ?5, tags = ?6, updated_at = ?7
             WHERE id = ?1 AND user_id = ?2",
        )?
        .execute(params![
            id,
            user_id,
            input.title,
            input.content,
            input.url,
            serde_json::to_string(input.tags).unwrap_or_else(|_| "[]".into()),
            super::now()
        ])?
        > 0)
}

pub fn delete(conn: &Connection, user_id: &str, id: &str) -> Result<bool, DbError> {
    Ok(conn
        .prepare_cached("DELETE FROM collector_item WHERE id = ?1 AND user_id = ?2")?
        .execute(params![id, user_id])?
        > 0)
}

/// The user's items, most recently updated first; every keyword of `q` must
/// occur in the title or content (case-insensitive), `tag` must be one of
/// the tags. `after` is the `updated_at~id` of the previous page's last item.
pub fn list(
    conn: &Connection,
    user_id: &str,
    keywords: &[String],
    tag: Option<&str>,
    after: Option<(String, String)>,
    limit: u32,
) -> Result<Vec<Item>, DbError> {
    let mut sql = format!("SELECT {COLUMNS} FROM collector_item WHERE user_id = ?");
    let mut args: Vec<SqlValue> = vec![user_id.to_string().into()];
    for k in keywords {
        sql.push_str(
            " AND (instr(lower(title), lower(?)) > 0 OR instr(lower(content), lower(?)) > 0)",
        );
        args.push(k.clone().into());
        args.push(k.clone().into());
    }
    if let Some(tag) = tag {
        sql.push_str(" AND EXISTS (SELECT 1 FROM json_each(tags) WHERE lower(value) = lower(?))");
        args.push(tag.to_string().into());
    }
    if let Some((at, id)) = after {
        sql.push_str(" AND (updated_at < ? OR (updated_at = ? AND id < ?))");
        args.push(at.clone().into());
        args.push(at.into());
        args.push(id.into());
    }
    // The limit in the text, not bound: see `db::with_limit`.
    sql.push_str(&format!(" ORDER BY updated_at DESC, id DESC LIMIT {limit}"));
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params_from_iter(args), item_from)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Every tag the user has, with how many items carry it.
pub fn tags(conn: &Connection, user_id: &str) -> Result<Vec<(String, i64)>, DbError> {
    let mut stmt = conn.prepare_cached(
        "SELECT j.value, count(*) FROM collector_item c, json_each(c.tags) j
          WHERE c.user_id = ?1 GROUP BY j.value ORDER BY count(*) DESC, j.value",
    )?;
    let rows = stmt.query_map([user_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}
