//! The prompt library's admin-managed prompts: the `prompt` table. The
//! starter prompts live in `assets/prompts.json` (see `crate::prompts`).

use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::Serialize;

use super::DbError;

/// A prompt of the library, as `/prompts` answers it.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Prompt {
    pub id: String,
    pub title: String,
    pub content: String,
    pub category: String,
    pub tags: Vec<String>,
    /// `ko`, `en`, or None for every language.
    pub language: Option<String>,
    /// Shipped in the binary (read-only) rather than added by an admin.
    #[serde(default)]
    pub builtin: bool,
}

pub struct PromptInput<'a> {
    pub title: &'a str,
    pub content: &'a str,
    pub category: &'a str,
    pub tags: &'a [String],
    pub language: Option<&'a str>,
}

fn prompt_from(row: &Row<'_>) -> rusqlite::Result<Prompt> {
    let tags: String = row.get(4)?;
    Ok(Prompt {
        id: row.get(0)?,
        title: row.get(1)?,
        content: row.get(2)?,
        category: row.get(3)?,
        tags: serde_json::from_str(&tags).unwrap_or_default(),
        language: row.get(5)?,
        builtin: false,
    })
}

const COLUMNS: &str = "id, title, content, category, tags, language";

pub fn list(conn: &Connection) -> Result<Vec<Prompt>, DbError> {
    let sql = format!("SELECT {COLUMNS} FROM prompt ORDER BY category, title");
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map([], prompt_from)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn get(conn: &Connection, id: &str) -> Result<Option<Prompt>, DbError> {
    let sql = format!("SELECT {COLUMNS} FROM prompt WHERE id = ?1");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row([id], prompt_from)
        .optional()?)
}

/// Inserts (`id` None) or replaces; returns None when `id` does not exist.
pub fn save(
    conn: &Connection,
    id: Option<&str>,
    input: &PromptInput<'_>,
) -> Result<Option<Prompt>, DbError> {
    let now = super::now();
    let tags = serde_json::to_string(input.tags).unwrap_or_else(|_| "[]".into());
    let id = match id {
        Some(id) => {
            let changed = conn
                .prepare_cached(
                    "UPDATE prompt SET title = ?2, content = ?3, category = ?4, tags = ?5,
                        language = ?6, updated_at = ?7 WHERE id = ?1",
                )?
                .execute(params![
                    id,
                    input.title,
                    input.content,
                    input.category,
                    tags,
                    input.language,
                    now
                ])?;
            if changed == 0 {
                return Ok(None);
            }
            id.to_string()
        }
        None => {
            let id = super::new_id();
            conn.prepare_cached(
                "INSERT INTO prompt (id, title, content, category, tags, language, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
            )?
            .execute(params![
                id,
                input.title,
                input.content,
                input.category,
                tags,
                input.language,
                now
            ])?;
            id
        }
    };
    get(conn, &id)
}

pub fn delete(conn: &Connection, id: &str) -> Result<bool, DbError> {
    Ok(conn
        .prepare_cached("DELETE FROM prompt WHERE id = ?1")?
        .execute([id])?
        > 0)
}
