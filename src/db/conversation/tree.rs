//! Reading a conversation's message tree: one message (with its siblings),
//! the current thread, the newest leaf under a message, the collector items
//! a question carried, and the thread frozen as a [`Snapshot`].

use std::collections::HashMap;

use rusqlite::{params, Connection, OptionalExtension};

use super::{
    message_from, ContextItem, Conversation, Feedback, Message, Role, Snapshot, SnapshotMessage,
    Status, MESSAGE_COLUMNS,
};
use crate::db::DbError;

pub fn message(conn: &Connection, id: &str) -> Result<Option<Message>, DbError> {
    let sql = format!("SELECT {MESSAGE_COLUMNS} FROM message WHERE id = ?1");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row([id], message_from)
        .optional()?)
}

/// One message with its `sibling_ids` (no feedback).
pub fn message_with_siblings(conn: &Connection, id: &str) -> Result<Option<Message>, DbError> {
    let Some(mut m) = message(conn, id)? else {
        return Ok(None);
    };
    let mut stmt = conn.prepare_cached(
        "SELECT id FROM message WHERE conversation_id = ?1 AND parent_id IS ?2 ORDER BY id",
    )?;
    m.sibling_ids = stmt
        .query_map(params![m.conversation_id, m.parent_id], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    m.context = context_of(conn, &m.id)?;
    if m.role == Role::User {
        m.files = files_of(conn, &[m.id.as_str()])?
            .remove(&m.id)
            .unwrap_or_default();
    }
    Ok(Some(m))
}

/// The thread ending at the conversation's current message, root first, with
/// `sibling_ids` and the user's feedback filled in.
pub fn thread(
    conn: &Connection,
    conversation: &Conversation,
    user_id: &str,
) -> Result<Vec<Message>, DbError> {
    let Some(current) = &conversation.current_message_id else {
        return Ok(Vec::new());
    };
    let sql = format!(
        "WITH RECURSIVE path(id) AS (
            SELECT ?1
            UNION ALL
            SELECT m.parent_id FROM message m JOIN path p ON m.id = p.id WHERE m.parent_id IS NOT NULL
         )
         SELECT {MESSAGE_COLUMNS} FROM message WHERE id IN (SELECT id FROM path) ORDER BY idx"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut messages: Vec<Message> = stmt
        .query_map([current], message_from)?
        .collect::<Result<_, _>>()?;

    let mut children: HashMap<Option<String>, Vec<String>> = HashMap::new();
    let mut stmt = conn.prepare_cached(
        "SELECT parent_id, id FROM message WHERE conversation_id = ?1 ORDER BY id",
    )?;
    let rows = stmt.query_map([&conversation.id], |r| {
        Ok((r.get::<_, Option<String>>(0)?, r.get::<_, String>(1)?))
    })?;
    for row in rows {
        let (parent, id) = row?;
        children.entry(parent).or_default().push(id);
    }
    let mut feedback: HashMap<String, Feedback> = HashMap::new();
    let mut stmt = conn.prepare_cached(
        "SELECT f.message_id, f.rating, f.comment, fr.reasons FROM feedback f
           LEFT JOIN feedback_reasons fr ON fr.feedback_id = f.id
           JOIN message m ON m.id = f.message_id
          WHERE m.conversation_id = ?1 AND f.user_id = ?2",
    )?;
    let rows = stmt.query_map([&conversation.id, user_id], |r| {
        Ok((
            r.get::<_, String>(0)?,
            Feedback {
                rating: r.get(1)?,
                comment: r.get(2)?,
                reasons: super::reasons_from(r.get(3)?),
            },
        ))
    })?;
    for row in rows {
        let (id, fb) = row?;
        feedback.insert(id, fb);
    }
    let questions: Vec<&str> = messages
        .iter()
        .filter(|m| m.role == Role::User)
        .map(|m| m.id.as_str())
        .collect();
    let mut files = files_of(conn, &questions)?;
    for m in &mut messages {
        m.files = files.remove(&m.id).unwrap_or_default();
        m.sibling_ids = children.get(&m.parent_id).cloned().unwrap_or_default();
        m.feedback = feedback.remove(&m.id);
        if m.role == Role::User {
            m.context = context_of(conn, &m.id)?;
        }
    }
    Ok(messages)
}

/// The files each of `message_ids` carried, by message id.
fn files_of(
    conn: &Connection,
    message_ids: &[&str],
) -> Result<HashMap<String, Vec<crate::db::file::StoredFile>>, DbError> {
    let mut out: HashMap<String, Vec<_>> = HashMap::new();
    for (message_id, file) in crate::db::file::of_messages(conn, message_ids)? {
        out.entry(message_id).or_default().push(file);
    }
    Ok(out)
}

/// Follows the newest child from `from` down to a leaf.
pub fn latest_leaf(conn: &Connection, from: &str) -> Result<String, DbError> {
    let mut current = from.to_string();
    let mut stmt = conn
        .prepare_cached("SELECT id FROM message WHERE parent_id = ?1 ORDER BY id DESC LIMIT 1")?;
    while let Some(child) = stmt
        .query_row([&current], |r| r.get::<_, String>(0))
        .optional()?
    {
        current = child;
    }
    Ok(current)
}

/// The thread as it is now; answers still being written and empty failed
/// answers are left out.
pub fn snapshot(conn: &Connection, conversation: &Conversation) -> Result<Snapshot, DbError> {
    let thread = thread(conn, conversation, &conversation.user_id)?;
    let messages = thread
        .into_iter()
        .filter(|m| m.status != Status::Streaming && !(m.content.is_empty() && m.files.is_empty()))
        .map(|m| SnapshotMessage {
            role: m.role,
            content: m.content,
            model_id: m.model_id,
            created_at: Some(m.created_at),
            files: m.files,
        })
        .collect();
    Ok(Snapshot {
        title: conversation.title.clone(),
        model_id: conversation.model_id.clone(),
        system_prompt: conversation.system_prompt.clone(),
        messages,
    })
}

/// The collector items a message carried, in the order they were given.
pub fn context_of(conn: &Connection, message_id: &str) -> Result<Vec<ContextItem>, DbError> {
    let mut stmt = conn.prepare_cached(
        "SELECT collector_item_id, title, truncated FROM message_context WHERE message_id = ?1
         ORDER BY rowid",
    )?;
    let rows = stmt.query_map([message_id], |r| {
        Ok(ContextItem {
            collector_item_id: r.get(0)?,
            title: r.get(1)?,
            truncated: r.get(2)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
