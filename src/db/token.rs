//! The `refresh_token` and `api_key` tables. Both store only a SHA-256 of the
//! secret; the caller hashes (see `auth::tokens`).

use rusqlite::{named_params, params, Connection, OptionalExtension, TransactionBehavior};
use serde::Serialize;

use super::DbError;

/// What presenting a refresh token led to.
#[derive(Debug, PartialEq, Eq)]
pub enum Rotation {
    /// The token was valid: it is now used, and the successor is stored.
    Rotated { user_id: String, family_id: String },
    /// Unknown or expired: nothing changed.
    Invalid,
    /// Already used or revoked: the whole family is now revoked.
    Reused,
}

/// Stores a refresh token hash (a new family when `family_id` is new).
pub fn insert_refresh(
    conn: &Connection,
    user_id: &str,
    family_id: &str,
    token_hash: &str,
    expires_at: &str,
) -> Result<(), DbError> {
    conn.prepare_cached(
        "INSERT INTO refresh_token (id, user_id, family_id, token_hash, expires_at, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        super::new_id(),
        user_id,
        family_id,
        token_hash,
        expires_at,
        super::now()
    ])?;
    Ok(())
}

/// The account of a refresh token that could still be used (not used, not
/// revoked, not expired), without using it: a directory account is checked
/// with its directory before the token is spent.
pub fn user_of_refresh(conn: &Connection, token_hash: &str) -> Result<Option<String>, DbError> {
    Ok(conn
        .prepare_cached(
            "SELECT user_id FROM refresh_token
             WHERE token_hash = ?1 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > ?2",
        )?
        .query_row(params![token_hash, super::now()], |r| r.get(0))
        .optional()?)
}

/// Checks `old_hash` and, when valid, marks it used and stores `new_hash` in
/// the same family, in one `IMMEDIATE` transaction (two refreshes with the
/// same token cannot both win).
pub fn rotate_refresh(
    conn: &mut Connection,
    old_hash: &str,
    new_hash: &str,
    new_expires_at: &str,
) -> Result<Rotation, DbError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let now = super::now();
    let found: Option<(String, String, String, bool)> = tx
        .prepare_cached(
            "SELECT user_id, family_id, expires_at, used_at IS NOT NULL OR revoked_at IS NOT NULL
             FROM refresh_token WHERE token_hash = ?1",
        )?
        .query_row([old_hash], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .optional()?;
    let outcome = match found {
        None => Rotation::Invalid,
        Some((_, family_id, _, true)) => {
            revoke_family_in(&tx, &family_id, &now)?;
            Rotation::Reused
        }
        Some((_, _, expires_at, false)) if expires_at <= now => Rotation::Invalid,
        Some((user_id, family_id, _, false)) => {
            tx.prepare_cached("UPDATE refresh_token SET used_at = ?2 WHERE token_hash = ?1")?
                .execute(params![old_hash, now])?;
            insert_refresh(&tx, &user_id, &family_id, new_hash, new_expires_at)?;
            Rotation::Rotated { user_id, family_id }
        }
    };
    tx.commit()?;
    Ok(outcome)
}

fn revoke_family_in(conn: &Connection, family_id: &str, now: &str) -> Result<(), DbError> {
    conn.prepare_cached(
        "UPDATE refresh_token SET revoked_at = ?2 WHERE family_id = ?1 AND revoked_at IS NULL",
    )?
    .execute(params![family_id, now])?;
    Ok(())
}

/// Revokes the family a refresh token belongs to (sign-out). Unknown: no-op.
pub fn revoke_family_of(conn: &Connection, token_hash: &str) -> Result<(), DbError> {
    let family: Option<String> = conn
        .prepare_cached("SELECT family_id FROM refresh_token WHERE token_hash = ?1")?
        .query_row([token_hash], |r| r.get(0))
        .optional()?;
    if let Some(family) = family {
        revoke_family_in(conn, &family, &super::now())?;
    }
    Ok(())
}

/// Revokes every refresh token of a user except those of `keep_family`.
pub fn revoke_user_refresh(
    conn: &Connection,
    user_id: &str,
    keep_family: Option<&str>,
) -> Result<(), DbError> {
    conn.prepare_cached(
        "UPDATE refresh_token SET revoked_at = :now
         WHERE user_id = :user AND revoked_at IS NULL
           AND (:keep IS NULL OR family_id <> :keep)",
    )?
    .execute(named_params! { ":now": super::now(), ":user": user_id, ":keep": keep_family })?;
    Ok(())
}

/// Whether a refresh family still has a live token (the session is open).
pub fn family_is_live(conn: &Connection, family_id: &str) -> Result<bool, DbError> {
    Ok(conn
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM refresh_token WHERE family_id = ?1
                AND revoked_at IS NULL AND used_at IS NULL AND expires_at > ?2)",
        )?
        .query_row(params![family_id, super::now()], |r| r.get(0))?)
}

/// An API key as its owner sees it in a list (never the key itself).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ApiKey {
    pub id: String,
    pub client_name: String,
    pub prefix: String,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub last_used_at: Option<String>,
}

pub fn insert_api_key(
    conn: &Connection,
    user_id: &str,
    client_name: &str,
    key_hash: &str,
    prefix: &str,
    expires_at: Option<&str>,
) -> Result<ApiKey, DbError> {
    let id = super::new_id();
    let now = super::now();
    conn.prepare_cached(
        "INSERT INTO api_key (id, user_id, client_name, key_hash, prefix, expires_at, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        id,
        user_id,
        client_name,
        key_hash,
        prefix,
        expires_at,
        now
    ])?;
    Ok(ApiKey {
        id,
        client_name: client_name.to_string(),
        prefix: prefix.to_string(),
        created_at: now,
        expires_at: expires_at.map(str::to_string),
        last_used_at: None,
    })
}

/// `(key id, user id)` of a live (not revoked, not expired) key; records its
/// use at most once a minute so a busy key does not write on every request.
pub fn use_api_key(conn: &Connection, key_hash: &str) -> Result<Option<(String, String)>, DbError> {
    let now = super::now();
    let found: Option<(String, String)> = conn
        .prepare_cached(
            "SELECT id, user_id FROM api_key WHERE key_hash = ?1 AND revoked_at IS NULL
               AND (expires_at IS NULL OR expires_at > ?2)",
        )?
        .query_row(params![key_hash, now], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let Some((id, user_id)) = found else {
        return Ok(None);
    };
    let a_minute_ago = (chrono::Utc::now() - chrono::Duration::minutes(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    conn.prepare_cached(
        "UPDATE api_key SET last_used_at = ?2
         WHERE id = ?1 AND (last_used_at IS NULL OR last_used_at < ?3)",
    )?
    .execute(params![id, now, a_minute_ago])?;
    Ok(Some((id, user_id)))
}

/// The user's keys that are not revoked, newest first.
pub fn list_api_keys(conn: &Connection, user_id: &str) -> Result<Vec<ApiKey>, DbError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, client_name, prefix, created_at, expires_at, last_used_at FROM api_key
         WHERE user_id = ?1 AND revoked_at IS NULL ORDER BY id DESC",
    )?;
    let rows = stmt.query_map([user_id], |r| {
        Ok(ApiKey {
            id: r.get(0)?,
            client_name: r.get(1)?,
            prefix: r.get(2)?,
            created_at: r.get(3)?,
            expires_at: r.get(4)?,
            last_used_at: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Revokes one of the user's keys; `false` when it is not theirs or unknown.
pub fn revoke_api_key(conn: &Connection, user_id: &str, id: &str) -> Result<bool, DbError> {
    Ok(conn
        .prepare_cached(
            "UPDATE api_key SET revoked_at = ?3 WHERE id = ?1 AND user_id = ?2 AND revoked_at IS NULL",
        )?
        .execute(params![id, user_id, super::now()])?
        > 0)
}
