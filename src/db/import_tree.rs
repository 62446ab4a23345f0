//! Writing a whole message *tree* at once (the ChatGPT import, issue 21):
//! edits and regenerations kept as siblings, each message with its own
//! date. Like [`super::import`]'s copies, the conversation is created hidden
//! ([`super::import::begin`]), written in parts of at most
//! [`super::import::PART_CHARS`] characters (each its own short `IMMEDIATE`
//! transaction, through `Db::run_bulk`), and shown only by [`finish`]; what
//! fails is removed with [`super::import::discard_part`].

use rusqlite::{params, Connection, TransactionBehavior};

use super::conversation::{self, Conversation, Role, Status};
use super::DbError;

/// One message of a tree, parents before their children.
#[derive(Debug, Clone, PartialEq)]
pub struct TreeMessage {
    /// The index of its parent in the same list (`None`: a first question).
    pub parent: Option<usize>,
    pub role: Role,
    pub content: String,
    pub model_id: Option<String>,
    /// RFC 3339 (`None`: now).
    pub created_at: Option<String>,
}

/// Appends `messages` (the tree's entries from `written.len()` on) in one
/// transaction; `written` holds the id and depth of every entry written so
/// far, and gains these.
pub fn append(
    conn: &mut Connection,
    conversation_id: &str,
    messages: &[TreeMessage],
    written: &mut Vec<(String, i64)>,
) -> Result<(), DbError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut added = Vec::with_capacity(messages.len());
    {
        let mut insert = tx.prepare_cached(
            "INSERT INTO message (id, conversation_id, parent_id, idx, role, content, model_id,
                status, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)",
        )?;
        for m in messages {
            let parent =
                match m.parent {
                    Some(i) => {
                        let found = if i < written.len() {
                            written.get(i)
                        } else {
                            added.get(i - written.len())
                        };
                        Some(found.cloned().ok_or_else(|| {
                            DbError::Task("a parent comes after its child".into())
                        })?)
                    }
                    None => None,
                };
            let id = super::new_id();
            let idx = parent.as_ref().map_or(1, |p| p.1 + 1);
            let at = m.created_at.clone().unwrap_or_else(super::now);
            insert.execute(params![
                id,
                conversation_id,
                parent.as_ref().map(|p| p.0.as_str()),
                idx,
                m.role,
                m.content,
                m.model_id,
                Status::Complete,
                at
            ])?;
            added.push((id, idx));
        }
    }
    tx.commit()?;
    written.extend(added);
    Ok(())
}

/// Makes `leaf` current, dates the conversation and shows it.
pub fn finish(
    conn: &mut Connection,
    conversation_id: &str,
    leaf: Option<&str>,
    created_at: Option<&str>,
    updated_at: Option<&str>,
) -> Result<Conversation, DbError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    conversation::set_current(&tx, conversation_id, leaf, true)?;
    tx.prepare_cached(
        "UPDATE conversation SET created_at = coalesce(?2, created_at),
            updated_at = coalesce(?3, ?2, updated_at) WHERE id = ?1",
    )?
    .execute(params![conversation_id, created_at, updated_at])?;
    let shown = tx
        .prepare_cached("DELETE FROM conversation_import WHERE conversation_id = ?1")?
        .execute([conversation_id])?;
    let created = conversation::get_any(&tx, conversation_id)?
        .filter(|_| shown == 1)
        .ok_or_else(|| DbError::Task("the imported conversation was removed meanwhile".into()))?;
    tx.commit()?;
    Ok(created)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::conversation::Snapshot;
    use crate::db::import;

    fn db_with_user() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("PRAGMA foreign_keys = ON").unwrap();
        crate::db::migrate::migrate(&mut conn, None).unwrap();
        conn.execute(
            "INSERT INTO user (id, username, display_name, role, status, created_at, updated_at)
             VALUES ('u', 'u', 'u', 'user', 'active', 'x', 'x')",
            [],
        )
        .unwrap();
        conn
    }

    fn msg(parent: Option<usize>, role: Role, content: &str) -> TreeMessage {
        TreeMessage {
            parent,
            role,
            content: content.into(),
            model_id: None,
            created_at: Some("2024-05-01T10:00:00Z".into()),
        }
    }

    #[test]
    fn a_tree_written_in_two_parts_keeps_its_branches_and_dates() {
        let mut conn = db_with_user();
        let header = Snapshot {
            title: "tree".into(),
            model_id: None,
            system_prompt: String::new(),
            messages: Vec::new(),
        };
        let id = import::begin(&mut conn, "u", &header, 2).unwrap().unwrap();
        let tree = [
            msg(None, Role::User, "q"),
            msg(Some(0), Role::Assistant, "a1"),
            msg(Some(0), Role::Assistant, "a2"),
            msg(Some(2), Role::User, "q2"),
        ];
        let mut written = Vec::new();
        append(&mut conn, &id, &tree[..2], &mut written).unwrap();
        append(&mut conn, &id, &tree[2..], &mut written).unwrap();
        assert_eq!(
            written.iter().map(|w| w.1).collect::<Vec<_>>(),
            [1, 2, 2, 3]
        );
        let shown = finish(
            &mut conn,
            &id,
            Some(&written[3].0),
            Some("2024-05-01T10:00:00Z"),
            Some("2024-05-02T10:00:00Z"),
        )
        .unwrap();
        assert_eq!(shown.message_count, 3);
        assert_eq!(shown.created_at, "2024-05-01T10:00:00Z");
        assert_eq!(shown.updated_at, "2024-05-02T10:00:00Z");
        let thread = conversation::thread(&conn, &shown, "u").unwrap();
        let texts: Vec<&str> = thread.iter().map(|m| m.content.as_str()).collect();
        assert_eq!(texts, ["q", "a2", "q2"]);
        assert_eq!(thread[1].sibling_ids.len(), 2);
    }
}
