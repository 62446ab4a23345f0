//! The `audit` table: what admins (and operators on the command line) did.

use rusqlite::{named_params, params, Connection};
use serde::Serialize;
use serde_json::Value;

use super::DbError;

/// One entry of the audit log, as `GET /admin/audit` lists it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AuditEntry {
    pub id: String,
    pub actor_id: Option<String>,
    pub actor_name: Option<String>,
    pub action: String,
    pub target: Option<String>,
    pub detail: Value,
    pub created_at: String,
}

/// Records one action. `actor` is `(id, name)`; `None` for the command line.
pub fn record(
    conn: &Connection,
    actor: Option<(&str, &str)>,
    action: &str,
    target: Option<&str>,
    detail: &Value,
) -> Result<(), DbError> {
    let (actor_id, actor_name) = actor.unzip();
    conn.prepare_cached(
        "INSERT INTO audit (id, actor_id, actor_name, action, target, detail, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        super::new_id(),
        actor_id,
        actor_name.or(Some("command line")),
        action,
        target,
        detail.to_string(),
        super::now()
    ])?;
    Ok(())
}

/// Newest first, before `cursor` (an entry id), at most `limit`.
pub fn list(
    conn: &Connection,
    before: Option<&str>,
    limit: u32,
) -> Result<Vec<AuditEntry>, DbError> {
    let mut stmt = conn.prepare_cached(&super::with_limit(
        "SELECT id, actor_id, actor_name, action, target, detail, created_at FROM audit
         WHERE :before IS NULL OR id < :before ORDER BY id DESC LIMIT :limit",
        limit,
        None,
    ))?;
    let rows = stmt.query_map(named_params! { ":before": before }, |r| {
        Ok(AuditEntry {
            id: r.get(0)?,
            actor_id: r.get(1)?,
            actor_name: r.get(2)?,
            action: r.get(3)?,
            target: r.get(4)?,
            detail: serde_json::from_str(&r.get::<_, String>(5)?).unwrap_or(Value::Null),
            created_at: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Who made an audited change: the signed-in user's id and name, or nobody
/// (the operator at the command line).
#[derive(Debug, Clone)]
pub struct Actor {
    pub id: String,
    pub username: String,
}

/// What an audited change writes to the log besides its action: the id it
/// touched and a small JSON detail (never a secret).
pub struct Audit {
    pub target: Option<String>,
    pub detail: Value,
}

impl Audit {
    pub fn new(target: impl Into<String>, detail: Value) -> Audit {
        Audit {
            target: Some(target.into()),
            detail,
        }
    }
}

/// Runs one audited admin change: `change` runs inside a `BEGIN IMMEDIATE`
/// transaction and says what to log; the audit row is written in the same
/// transaction, so the change and its record commit together or not at all.
/// A refusal returned by `change` rolls everything back.
pub fn audited<T, E: From<DbError>>(
    conn: &mut Connection,
    actor: Option<&Actor>,
    action: &str,
    change: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<(T, Audit), E>,
) -> Result<T, E> {
    audited_if_changed(conn, actor, action, |tx| {
        change(tx).map(|(value, audit)| (value, Some(audit)))
    })
}

/// [`audited`] for a change that may turn out to change nothing (an admin's
/// PATCH repeating the current values): `change` says `None` and nothing is
/// logged.
pub fn audited_if_changed<T, E: From<DbError>>(
    conn: &mut Connection,
    actor: Option<&Actor>,
    action: &str,
    change: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<(T, Option<Audit>), E>,
) -> Result<T, E> {
    audited_if(conn, actor, |tx| {
        change(tx).map(|(value, audit)| (value, audit.map(|audit| (action, audit))))
    })
}

/// Runs `work` in one `BEGIN IMMEDIATE` transaction (a write that must not
/// be split, with no audit row: a user's own change).
pub fn immediate<T, E: From<DbError>>(
    conn: &mut Connection,
    work: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T, E>,
) -> Result<T, E> {
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(DbError::from)?;
    let value = work(&tx)?;
    tx.commit().map_err(DbError::from)?;
    Ok(value)
}

/// Like [`audited`], for a change that decides inside its transaction
/// whether it is logged and under which action (a settings write that
/// changed nothing, or one the user made themself, writes no audit row).
pub fn audited_if<'a, T, E: From<DbError>>(
    conn: &mut Connection,
    actor: Option<&Actor>,
    change: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<(T, Option<(&'a str, Audit)>), E>,
) -> Result<T, E> {
    immediate(conn, |tx| {
        let (value, audit) = change(tx)?;
        if let Some((action, audit)) = audit {
            record(
                tx,
                actor.map(|a| (a.id.as_str(), a.username.as_str())),
                action,
                audit.target.as_deref(),
                &audit.detail,
            )?;
        }
        Ok(value)
    })
}
