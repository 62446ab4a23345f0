//! What the retention policy (src/service/retention.rs) deletes: kept (not
//! temporary) conversations neither updated nor created since a cutoff,
//! archived ones and the others each with their own cutoff. "Created" is
//! read from the id (a UUID v7 starts with its creation time), so an import
//! of old chats (the ChatGPT import keeps their dates in `updated_at`) is
//! not deleted by the next run: it counts from the day it was imported. Their messages, shares and files
//! go with them by cascade (schema.sql). Conversations still being imported
//! are left alone.

use rusqlite::{named_params, Connection};

use super::DbError;

/// The start of a UUID v7 made at `cutoff` (RFC 3339): its 48-bit Unix
/// time in milliseconds as the id's first 12 hex digits (`xxxxxxxx-xxxx`).
/// An id made earlier sorts before it as text. An unreadable cutoff covers
/// nothing (the empty string sorts first).
pub fn id_cutoff(cutoff: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(cutoff)
        .ok()
        .and_then(|t| u64::try_from(t.timestamp_millis()).ok())
        .map(|ms| format!("{:08x}-{:04x}", ms >> 16, ms & 0xffff))
        .unwrap_or_default()
}

/// The conversations a cutoff covers: `:archived` 0 or 1, `updated_at`
/// before `:cutoff` (RFC 3339) and an id older than `:id_cutoff` (see
/// [`id_cutoff`]), not temporary, not being imported.
const COVERED: &str = "c.temporary = 0 AND c.archived = :archived AND c.updated_at < :cutoff
    AND c.id < :id_cutoff AND NOT EXISTS (SELECT 1 FROM conversation_import i WHERE i.conversation_id = c.id)";

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
            named_params! {":archived": archived, ":cutoff": cutoff, ":id_cutoff": id_cutoff(cutoff)},
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
                AND ((c.archived = 0 AND c.updated_at < :cutoff AND c.id < :id_cutoff)
                  OR (c.archived = 1 AND c.updated_at < :archived_cutoff
                      AND c.id < :archived_id_cutoff))",
        )?
        .query_row(
            named_params! {
                ":cutoff": cutoff,
                ":archived_cutoff": archived_cutoff,
                ":id_cutoff": cutoff.map(id_cutoff),
                ":archived_id_cutoff": archived_cutoff.map(id_cutoff),
            },
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
        Ok(stmt.execute(
            named_params! {":archived": archived, ":cutoff": cutoff, ":id_cutoff": id_cutoff(cutoff)},
        )?)
    };
    let kept = delete(false, cutoff)?;
    let archived = delete(true, archived_cutoff)?;
    Ok((kept, archived))
}

#[cfg(test)]
mod tests {
    use super::id_cutoff;

    #[test]
    fn an_id_made_before_the_cutoff_sorts_before_its_id_cutoff_and_one_made_after_does_not() {
        // 2026-01-01T00:00:00Z is 1767225600000 ms = 0x019b_76da_a800.
        assert_eq!(id_cutoff("2026-01-01T00:00:00Z"), "019b76da-a800");
        let now = uuid::Uuid::now_v7().to_string();
        assert!(now.as_str() > id_cutoff("2026-01-01T00:00:00Z").as_str());
        assert!(now.as_str() < id_cutoff("2100-01-01T00:00:00Z").as_str());
        assert_eq!(id_cutoff("not a time"), "");
    }
}
