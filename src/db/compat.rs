//! The compatibility dialects' tables (SPEC §4): `api_key_session` (seed 004's
//! per-key model and running conversation) and `gateway_usage` (tokens spent
//! through the OpenAI-compatible gateway).

use rusqlite::{params, Connection, OptionalExtension};

use super::DbError;

/// What seed 004 keeps for one API key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeySession {
    pub model_id: Option<String>,
    pub conversation_id: Option<String>,
}

const GET_SESSION: &str =
    "SELECT model_id, conversation_id FROM api_key_session WHERE api_key_id = ?1";
const SET_MODEL: &str = "INSERT INTO api_key_session (api_key_id, model_id, updated_at) VALUES (?1, ?2, ?3)
     ON CONFLICT (api_key_id) DO UPDATE SET model_id = excluded.model_id, updated_at = excluded.updated_at";
const SET_CONVERSATION: &str =
    "INSERT INTO api_key_session (api_key_id, conversation_id, updated_at) VALUES (?1, ?2, ?3)
     ON CONFLICT (api_key_id) DO UPDATE SET conversation_id = excluded.conversation_id,
         updated_at = excluded.updated_at";
const INSERT_USAGE: &str = "INSERT INTO gateway_usage
     (id, user_id, api_key_id, model_id, prompt_tokens, completion_tokens, status, created_at)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
const REVOKE_BY_HASH: &str = "UPDATE api_key SET revoked_at = ?3
     WHERE key_hash = ?1 AND user_id = ?2 AND revoked_at IS NULL";

/// The key's state (empty when it has none yet).
pub fn key_session(conn: &Connection, api_key_id: &str) -> Result<KeySession, DbError> {
    Ok(conn
        .prepare_cached(GET_SESSION)?
        .query_row([api_key_id], |r| {
            Ok(KeySession {
                model_id: r.get(0)?,
                conversation_id: r.get(1)?,
            })
        })
        .optional()?
        .unwrap_or_default())
}

pub fn set_key_model(conn: &Connection, api_key_id: &str, model_id: &str) -> Result<(), DbError> {
    conn.prepare_cached(SET_MODEL)?
        .execute(params![api_key_id, model_id, super::now()])?;
    Ok(())
}

/// Sets (or with `None` detaches) the key's running conversation.
pub fn set_key_conversation(
    conn: &Connection,
    api_key_id: &str,
    conversation_id: Option<&str>,
) -> Result<(), DbError> {
    conn.prepare_cached(SET_CONVERSATION)?.execute(params![
        api_key_id,
        conversation_id,
        super::now()
    ])?;
    Ok(())
}

/// Seed 004's `DELETE /api-keys/{api_key}`: revokes the user's key given by
/// its hash; `false` when it is unknown, already revoked, or another user's.
pub fn revoke_api_key_by_hash(
    conn: &Connection,
    user_id: &str,
    key_hash: &str,
) -> Result<bool, DbError> {
    Ok(conn
        .prepare_cached(REVOKE_BY_HASH)?
        .execute(params![key_hash, user_id, super::now()])?
        > 0)
}

/// One gateway call's tokens.
#[derive(Debug, Clone)]
pub struct GatewayUsage<'a> {
    pub user_id: &'a str,
    pub api_key_id: Option<&'a str>,
    pub model_id: &'a str,
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    /// `complete`, `stopped` (the client went away) or `error`.
    pub status: &'a str,
}

pub fn record_gateway_usage(conn: &Connection, usage: &GatewayUsage<'_>) -> Result<(), DbError> {
    conn.prepare_cached(INSERT_USAGE)?.execute(params![
        super::new_id(),
        usage.user_id,
        usage.api_key_id,
        usage.model_id,
        usage.prompt_tokens,
        usage.completion_tokens,
        usage.status,
        super::now()
    ])?;
    Ok(())
}
