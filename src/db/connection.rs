//! The `connection` and `model` tables: LLM providers and the models users pick.

use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::Serialize;

use super::DbError;

/// A provider connection as stored (the key included: the caller decides
/// what leaves the server).
#[derive(Debug, Clone)]
pub struct ConnectionRow {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub base_url: String,
    pub api_key: Option<String>,
    pub no_proxy: bool,
    pub enabled: bool,
    pub created_at: String,
    pub updated_at: String,
}

/// A model of a connection.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ModelRow {
    pub id: String,
    #[serde(skip)]
    pub connection_id: String,
    /// The provider's name for it (an Azure deployment for azure).
    pub upstream_id: String,
    pub name: String,
    pub vendor: String,
    pub description: String,
    pub context_window: Option<u32>,
    pub enabled: bool,
    /// When daehwa discovered (or was given) it, RFC 3339; empty before it is saved.
    #[serde(skip)]
    pub created_at: String,
    /// Whether it sees images, as the admin set it (`None`: guessed from
    /// its name, `service::files::guess_vision`).
    pub vision: Option<bool>,
}

impl ModelRow {
    /// [`ModelRow::created_at`] as Unix seconds (OpenAI's `created`), 0 when unknown.
    pub fn created_unix(&self) -> i64 {
        chrono::DateTime::parse_from_rfc3339(&self.created_at).map_or(0, |t| t.timestamp())
    }
}

/// A new or replacing connection.
pub struct ConnectionInput<'a> {
    pub name: &'a str,
    pub kind: &'a str,
    pub base_url: &'a str,
    pub api_key: Option<&'a str>,
    pub no_proxy: bool,
    pub enabled: bool,
}

const CONNECTION_COLUMNS: &str =
    "id, name, kind, base_url, api_key, no_proxy, enabled, created_at, updated_at";
/// The admin's vision flag of a model (a column after [`MODEL_COLUMNS`]).
const VISION: &str = "(SELECT vision FROM model_vision v WHERE v.model_id = model.id)";
const MODEL_COLUMNS: &str =
    "id, connection_id, upstream_id, name, vendor, description, context_window, enabled, created_at";

fn connection_from(row: &Row<'_>) -> rusqlite::Result<ConnectionRow> {
    Ok(ConnectionRow {
        id: row.get(0)?,
        name: row.get(1)?,
        kind: row.get(2)?,
        base_url: row.get(3)?,
        api_key: row.get(4)?,
        no_proxy: row.get(5)?,
        enabled: row.get(6)?,
        created_at: row.get(7)?,
        updated_at: row.get(8)?,
    })
}

fn model_from(row: &Row<'_>) -> rusqlite::Result<ModelRow> {
    Ok(ModelRow {
        id: row.get(0)?,
        connection_id: row.get(1)?,
        upstream_id: row.get(2)?,
        name: row.get(3)?,
        vendor: row.get(4)?,
        description: row.get(5)?,
        context_window: row.get(6)?,
        enabled: row.get(7)?,
        created_at: row.get(8)?,
        vision: row.get(9)?,
    })
}

pub fn insert(conn: &Connection, input: &ConnectionInput<'_>) -> Result<ConnectionRow, DbError> {
    let id = super::new_id();
    let now = super::now();
    conn.prepare_cached(
        "INSERT INTO connection (id, name, kind, base_url, api_key, no_proxy, enabled, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
    )?
    .execute(params![id, input.name, input.kind, input.base_url, input.api_key, input.no_proxy, input.enabled, now])?;
    get(conn, &id)?.ok_or_else(|| DbError::Task("inserted connection vanished".into()))
}

/// Replaces the fields of a connection; `api_key: None` keeps the stored key.
pub fn update(conn: &Connection, id: &str, input: &ConnectionInput<'_>) -> Result<bool, DbError> {
    let changed = conn
        .prepare_cached(
            "UPDATE connection SET name = ?2, kind = ?3, base_url = ?4,
                api_key = COALESCE(?5, api_key), no_proxy = ?6, enabled = ?7, updated_at = ?8
             WHERE id = ?1",
        )?
        .execute(params![
            id,
            input.name,
            input.kind,
            input.base_url,
            input.api_key,
            input.no_proxy,
            input.enabled,
            super::now()
        ])?;
    Ok(changed > 0)
}

pub fn get(conn: &Connection, id: &str) -> Result<Option<ConnectionRow>, DbError> {
    let sql = format!("SELECT {CONNECTION_COLUMNS} FROM connection WHERE id = ?1");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row([id], connection_from)
        .optional()?)
}

pub fn list(conn: &Connection) -> Result<Vec<ConnectionRow>, DbError> {
    let sql = format!("SELECT {CONNECTION_COLUMNS} FROM connection ORDER BY id");
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map([], connection_from)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The enabled connections that have no model at all (their provider could
/// not be asked yet): what the background re-discovery retries.
pub fn without_models(conn: &Connection) -> Result<Vec<ConnectionRow>, DbError> {
    let sql = format!(
        "SELECT {CONNECTION_COLUMNS} FROM connection c WHERE c.enabled = 1
            AND NOT EXISTS (SELECT 1 FROM model m WHERE m.connection_id = c.id) ORDER BY c.id"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map([], connection_from)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn count(conn: &Connection) -> Result<i64, DbError> {
    Ok(conn.query_row("SELECT count(*) FROM connection", [], |r| r.get(0))?)
}

pub fn delete(conn: &Connection, id: &str) -> Result<bool, DbError> {
    Ok(conn
        .prepare_cached("DELETE FROM connection WHERE id = ?1")?
        .execute([id])?
        > 0)
}

/// The models of one connection, in the admin's order.
pub fn models_of(conn: &Connection, connection_id: &str) -> Result<Vec<ModelRow>, DbError> {
    let sql =
        format!("SELECT {MODEL_COLUMNS}, {VISION} FROM model WHERE connection_id = ?1 ORDER BY position, id");
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map([connection_id], model_from)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Replaces the model list of a connection. A model keeps its `id` when its
/// upstream id stays; a new one gets `upstream_id` as id, or
/// `<connection name>/<upstream id>` when another connection already uses it.
pub fn replace_models(
    conn: &Connection,
    connection_id: &str,
    connection_name: &str,
    models: &[ModelRow],
) -> Result<(), DbError> {
    let existing = models_of(conn, connection_id)?;
    let kept: Vec<&str> = models.iter().map(|m| m.upstream_id.as_str()).collect();
    for old in &existing {
        if !kept.contains(&old.upstream_id.as_str()) {
            conn.prepare_cached("DELETE FROM model WHERE id = ?1")?
                .execute([&old.id])?;
        }
    }
    let now = super::now();
    for (position, model) in models.iter().enumerate() {
        if let Some(old) = existing.iter().find(|m| m.upstream_id == model.upstream_id) {
            super::file::set_model_vision(conn, &old.id, model.vision)?;
            conn.prepare_cached(
                "UPDATE model SET name = ?2, vendor = ?3, description = ?4, context_window = ?5,
                    enabled = ?6, position = ?7, updated_at = ?8 WHERE id = ?1",
            )?
            .execute(params![
                old.id,
                model.name,
                model.vendor,
                model.description,
                model.context_window,
                model.enabled,
                position as i64,
                now
            ])?;
            continue;
        }
        let taken = |id: &str| -> Result<bool, DbError> {
            Ok(conn
                .prepare_cached("SELECT EXISTS (SELECT 1 FROM model WHERE id = ?1)")?
                .query_row([id], |r| r.get(0))?)
        };
        let mut id = model.upstream_id.clone();
        if taken(&id)? {
            id = format!("{}/{}", slug(connection_name), model.upstream_id);
            let base = id.clone();
            let mut n = 2;
            while taken(&id)? {
                id = format!("{base}-{n}");
                n += 1;
            }
        }
        conn.prepare_cached(
            "INSERT INTO model (id, connection_id, upstream_id, name, vendor, description,
                context_window, enabled, position, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)",
        )?
        .execute(params![
            id,
            connection_id,
            model.upstream_id,
            model.name,
            model.vendor,
            model.description,
            model.context_window,
            model.enabled,
            position as i64,
            now
        ])?;
        super::file::set_model_vision(conn, &id, model.vision)?;
    }
    Ok(())
}

fn slug(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let s = s.trim_matches('-').to_string();
    if s.is_empty() {
        "connection".into()
    } else {
        s
    }
}

/// A model with the connection that serves it.
#[derive(Debug, Clone)]
pub struct Route {
    pub model: ModelRow,
    pub connection: ConnectionRow,
}

/// The model `id` and its connection, whatever their enabled flags.
pub fn route(conn: &Connection, model_id: &str) -> Result<Option<Route>, DbError> {
    let sql = format!("SELECT {MODEL_COLUMNS}, {VISION} FROM model WHERE id = ?1");
    let Some(model) = conn
        .prepare_cached(&sql)?
        .query_row([model_id], model_from)
        .optional()?
    else {
        return Ok(None);
    };
    let Some(connection) = get(conn, &model.connection_id)? else {
        return Ok(None);
    };
    Ok(Some(Route { model, connection }))
}

/// Every model users may pick: enabled, of an enabled connection.
pub fn available_models(conn: &Connection) -> Result<Vec<ModelRow>, DbError> {
    let sql = format!(
        "SELECT {cols}, (SELECT vision FROM model_vision v WHERE v.model_id = m.id)
         FROM model m JOIN connection c ON c.id = m.connection_id
         WHERE m.enabled = 1 AND c.enabled = 1 ORDER BY c.id, m.position, m.id",
        cols = MODEL_COLUMNS
            .split(", ")
            .map(|c| format!("m.{c}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map([], model_from)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Removes the stored API key of a connection.
pub fn clear_api_key(conn: &Connection, id: &str) -> Result<(), DbError> {
    conn.prepare_cached("UPDATE connection SET api_key = NULL WHERE id = ?1")?
        .execute([id])?;
    Ok(())
}
