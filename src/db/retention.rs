//! What the retention policy (src/service/retention.rs) deletes: kept (not
//! temporary) conversations not updated since a cutoff, archived ones and
//! the others each with their own cutoff. Their messages, shares and files
//! go with them by cascade (schema.sql). Conversations still being imported
//! are left alone.

use rusqlite::{named_params, Connection};

use super::DbError;

/// The conversations a cutoff covers: `:archived` 0 or 1, `updated_at`
/// before `:cutoff` (RFC 3339), not temporary, not being imported.
const COVERED: &str = "c.temporary = 0 AND c.archived = :archived AND c.updated_at < :cutoff
    AND NOT EXISTS (SELECT 1 FROM conversation_import i WHERE i.conversation_id = c.id)";

/// What a run with these cutoffs would delete now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Preview {
    pub conversations: i64,
    pub archived_conversations: i64,
    /// Users who would lose at least one conversation.
    pub users: i64,
}

/// Counts what [`delete`] would delete (`None`: that kind is off).
pub fn preview(
    conn: &Connection,
    cutoff: Option<&str>,
    archived_cutoff: Option<&str>,
) -> Result<Preview, DbError> {
    let sql = format!("SELECT count(*) FROM conversation c WHERE {COVERED}");
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut count = |archived: bool, cutoff: Option<&str>| -> Result<i64, DbError> {
        let Some(cutoff) = cutoff else {
            return Ok(0);
        };
        Ok(stmt.query_row(
            named_params! {":archived": archived, ":cutoff": cutoff},
            |r| r.get(0),
        )?)
    };
    let conversations = count(false, cutoff)?;
    let archived_conversations = count(true, archived_cutoff)?;
    let users: i64 = conn
        .prepare_cached(
            "SELECT count(DISTINCT c.user_id) FROM conversation c
              WHERE c.temporary = 0
                AND NOT EXISTS (SELECT 1 FROM conversation_import i WHERE i.conversation_id = c.id)
                AND ((c.archived = 0 AND c.updated_at < :cutoff)
                  OR (c.archived = 1 AND c.updated_at < :archived_cutoff))",
        )?
        .query_row(
            named_params! {":cutoff": cutoff, ":archived_cutoff": archived_cutoff},
            |r| r.get(0),
        )?;
    Ok(Preview {
        conversations,
        archived_conversations,
        users,
    })
}

/// Deletes the conversations the cutoffs cover (`None`: that kind is off);
/// answers how many of each. Call inside a transaction.
pub fn delete(
    conn: &Connection,
    cutoff: Option<&str>,
    archived_cutoff: Option<&str>,
) -> Result<(usize, usize), DbError> {
    let sql = format!("DELETE FROM conversation AS c WHERE {COVERED}");
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut delete = |archived: bool, cutoff: Option<&str>| -> Result<usize, DbError> {
        let Some(cutoff) = cutoff else {
            return Ok(0);
        };
        Ok(stmt.execute(named_params! {":archived": archived, ":cutoff": cutoff})?)
    };
    let kept = delete(false, cutoff)?;
    let archived = delete(true, archived_cutoff)?;
    Ok((kept, archived))
}
