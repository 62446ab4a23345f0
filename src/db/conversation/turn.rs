//! Writing the message tree: a turn's rows in one transaction (the question,
//! its empty answer, the current message), an answer's text as it streams and
//! its final state, deleting the last exchange, feedback, the collector items
//! a question carried, and a conversation made from a snapshot.

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::tree::message;
use super::{
    create, get_any, ContextItem, Conversation, Feedback, Message, NewConversation, Role, Snapshot,
    Status, Usage,
};
use crate::db::DbError;

/// Makes `leaf` the conversation's current message (and its depth the count).
pub fn set_current(
    conn: &Connection,
    conversation_id: &str,
    leaf: Option<&str>,
    touch: bool,
) -> Result<(), DbError> {
    let count: i64 = match leaf {
        Some(id) => conn
            .prepare_cached("SELECT idx FROM message WHERE id = ?1")?
            .query_row([id], |r| r.get(0))
            .optional()?
            .unwrap_or(0),
        None => 0,
    };
    if touch {
        conn.prepare_cached(
            "UPDATE conversation SET current_message_id = ?2, message_count = ?3, updated_at = ?4
             WHERE id = ?1",
        )?
        .execute(params![conversation_id, leaf, count, crate::db::now()])?;
    } else {
        conn.prepare_cached(
            "UPDATE conversation SET current_message_id = ?2, message_count = ?3 WHERE id = ?1",
        )?
        .execute(params![conversation_id, leaf, count])?;
    }
    Ok(())
}

pub(in crate::db) fn insert_message(
    conn: &Connection,
    conversation_id: &str,
    parent: Option<&Message>,
    role: Role,
    content: &str,
    model_id: Option<&str>,
    status: Status,
) -> Result<Message, DbError> {
    let id = crate::db::new_id();
    let now = crate::db::now();
    let idx = parent.map_or(1, |p| p.idx + 1);
    conn.prepare_cached(
        "INSERT INTO message (id, conversation_id, parent_id, idx, role, content, model_id, status, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)",
    )?
    .execute(params![id, conversation_id, parent.map(|p| p.id.as_str()), idx, role, content, model_id, status, now])?;
    message(conn, &id)?.ok_or_else(|| DbError::Task("inserted message vanished".into()))
}

/// Runs the writes of one turn (the plan check and its usage record, the
/// question, its empty answer, the title, the context it carries) in one
/// `BEGIN IMMEDIATE` transaction: all of them commit, or none (a refusal
/// returned by `write` rolls everything back).
pub fn turn<T, E: From<DbError>>(
    conn: &mut Connection,
    write: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T, E>,
) -> Result<T, E> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(DbError::from)?;
    let value = write(&tx)?;
    tx.commit().map_err(DbError::from)?;
    Ok(value)
}

/// A question and its (streaming, empty) answer under `parent`, made current.
/// Part of a [`turn`]: call it inside that transaction.
pub fn add_exchange(
    tx: &Connection,
    conversation_id: &str,
    parent_id: Option<&str>,
    question: &str,
    model_id: &str,
) -> Result<(Message, Message), DbError> {
    let parent = match parent_id {
        Some(id) => message(tx, id)?,
        None => None,
    };
    let user = insert_message(
        tx,
        conversation_id,
        parent.as_ref(),
        Role::User,
        question,
        None,
        Status::Complete,
    )?;
    let answer = insert_message(
        tx,
        conversation_id,
        Some(&user),
        Role::Assistant,
        "",
        Some(model_id),
        Status::Streaming,
    )?;
    set_current(tx, conversation_id, Some(&answer.id), true)?;
    tx.prepare_cached("UPDATE conversation SET model_id = ?2 WHERE id = ?1")?
        .execute(params![conversation_id, model_id])?;
    Ok((user, answer))
}

/// A new (streaming, empty) answer to `question_id`, made current.
/// Part of a [`turn`]: call it inside that transaction.
pub fn add_answer(
    tx: &Connection,
    conversation_id: &str,
    question_id: &str,
    model_id: &str,
) -> Result<Message, DbError> {
    let question =
        message(tx, question_id)?.ok_or_else(|| DbError::Task("question vanished".into()))?;
    let answer = insert_message(
        tx,
        conversation_id,
        Some(&question),
        Role::Assistant,
        "",
        Some(model_id),
        Status::Streaming,
    )?;
    set_current(tx, conversation_id, Some(&answer.id), true)?;
    tx.prepare_cached("UPDATE conversation SET model_id = ?2 WHERE id = ?1")?
        .execute(params![conversation_id, model_id])?;
    Ok(answer)
}

/// Removes the last question of the current thread with all its answers;
/// its parent becomes current. Returns whether there was one.
pub fn delete_last_exchange(
    conn: &mut Connection,
    conversation: &Conversation,
) -> Result<bool, DbError> {
    let Some(current) = &conversation.current_message_id else {
        return Ok(false);
    };
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let Some(leaf) = message(&tx, current)? else {
        return Ok(false);
    };
    let question = if leaf.role == Role::User {
        leaf
    } else {
        match leaf.parent_id.as_deref() {
            Some(id) => {
                message(&tx, id)?.ok_or_else(|| DbError::Task("question vanished".into()))?
            }
            None => leaf,
        }
    };
    tx.execute("DELETE FROM message WHERE id = ?1", [&question.id])?;
    // The files only that exchange carried go with it.
    tx.execute(
        "DELETE FROM file WHERE conversation_id = ?1
           AND NOT EXISTS (SELECT 1 FROM message_file m WHERE m.file_id = file.id)",
        [&conversation.id],
    )?;
    set_current(&tx, &conversation.id, question.parent_id.as_deref(), true)?;
    tx.commit()?;
    Ok(true)
}

/// Writes the text of streaming answers, all in one transaction (the stream
/// flush of DESIGN §1: one write per tick, not per token).
pub fn flush_partial(conn: &mut Connection, texts: &[(String, String)]) -> Result<(), DbError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    {
        let mut stmt = tx.prepare_cached(
            "UPDATE message SET content = ?2, updated_at = ?3 WHERE id = ?1 AND status = ?4",
        )?;
        let now = crate::db::now();
        for (id, text) in texts {
            stmt.execute(params![id, text, now, Status::Streaming])?;
        }
    }
    tx.commit()?;
    Ok(())
}

/// The final state of an answer.
pub fn finish(
    conn: &Connection,
    id: &str,
    content: &str,
    status: Status,
    error: Option<&str>,
    usage: Usage,
) -> Result<(), DbError> {
    conn.prepare_cached(
        "UPDATE message SET content = ?2, status = ?3, error = ?4, prompt_tokens = ?5,
            completion_tokens = ?6, updated_at = ?7 WHERE id = ?1",
    )?
    .execute(params![
        id,
        content,
        status,
        error,
        usage.prompt_tokens,
        usage.completion_tokens,
        crate::db::now()
    ])?;
    conn.prepare_cached(
        "UPDATE usage SET prompt_tokens = ?2, completion_tokens = ?3 WHERE message_id = ?1",
    )?
    .execute(params![id, usage.prompt_tokens, usage.completion_tokens])?;
    Ok(())
}

/// Keeps what the provider said about a failed answer, for administrators
/// (the message's `error` is what its user is told).
pub fn set_error_detail(conn: &Connection, message_id: &str, detail: &str) -> Result<(), DbError> {
    conn.prepare_cached(
        "INSERT INTO message_error_detail (message_id, detail) VALUES (?1, ?2)
         ON CONFLICT (message_id) DO UPDATE SET detail = excluded.detail",
    )?
    .execute(params![message_id, detail])?;
    Ok(())
}

/// At start: answers left `streaming` were cut by a crash; keep their text and
/// mark them. Returns how many.
pub fn mark_interrupted(conn: &Connection) -> Result<usize, DbError> {
    Ok(conn.execute(
        "UPDATE message SET status = ?1,
            error = 'interrupted: the server stopped while this answer was being written'
         WHERE status = ?2",
        params![Status::Error, Status::Streaming],
    )?)
}

/// Records (or replaces) a user's rating of a message, with the reasons
/// picked (none: no `feedback_reasons` row).
pub fn set_feedback(
    conn: &Connection,
    user_id: &str,
    message_id: &str,
    feedback: &Feedback,
) -> Result<(), DbError> {
    let now = crate::db::now();
    let id: String = conn
        .prepare_cached(
            "INSERT INTO feedback (id, message_id, user_id, rating, comment, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)
             ON CONFLICT (message_id, user_id) DO UPDATE SET
                rating = excluded.rating, comment = excluded.comment, updated_at = excluded.updated_at
             RETURNING id",
        )?
        .query_row(
            params![
                crate::db::new_id(),
                message_id,
                user_id,
                feedback.rating,
                feedback.comment,
                now
            ],
            |r| r.get(0),
        )?;
    if feedback.reasons.is_empty() {
        conn.prepare_cached("DELETE FROM feedback_reasons WHERE feedback_id = ?1")?
            .execute([&id])?;
    } else {
        let reasons = serde_json::to_string(&feedback.reasons).unwrap_or_else(|_| "[]".into());
        conn.prepare_cached(
            "INSERT INTO feedback_reasons (feedback_id, reasons) VALUES (?1, ?2)
             ON CONFLICT (feedback_id) DO UPDATE SET reasons = excluded.reasons",
        )?
        .execute(params![id, reasons])?;
    }
    Ok(())
}

/// A new conversation of `user_id` holding `snapshot`'s messages as one
/// thread, in one `IMMEDIATE` transaction.
pub fn create_from_snapshot(
    conn: &mut Connection,
    user_id: &str,
    snapshot: &Snapshot,
) -> Result<Conversation, DbError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let conversation = create(
        &tx,
        user_id,
        &NewConversation {
            title: &snapshot.title,
            model_id: snapshot.model_id.as_deref(),
            system_prompt: &snapshot.system_prompt,
        },
    )?;
    let mut parent: Option<Message> = None;
    for m in &snapshot.messages {
        let inserted = insert_message(
            &tx,
            &conversation.id,
            parent.as_ref(),
            m.role,
            &m.content,
            m.model_id.as_deref(),
            Status::Complete,
        )?;
        // The snapshot's files become the new owner's (those still stored).
        let mut copies = Vec::new();
        for file in &m.files {
            if let Some(copy) = crate::db::file::copy(&tx, &file.id, user_id)? {
                copies.push(copy);
            }
        }
        crate::db::file::attach(&tx, &conversation.id, &inserted.id, &copies)?;
        parent = Some(inserted);
    }
    set_current(
        &tx,
        &conversation.id,
        parent.as_ref().map(|m| m.id.as_str()),
        true,
    )?;
    let created = get_any(&tx, &conversation.id)?
        .ok_or_else(|| DbError::Task("created conversation vanished".into()))?;
    tx.commit()?;
    Ok(created)
}

/// Records the collector items a question carried to the model.
pub fn set_context(
    conn: &Connection,
    message_id: &str,
    items: &[ContextItem],
) -> Result<(), DbError> {
    let mut stmt = conn.prepare_cached(
        "INSERT OR REPLACE INTO message_context (message_id, collector_item_id, title, truncated)
         VALUES (?1, ?2, ?3, ?4)",
    )?;
    for item in items {
        stmt.execute(params![
            message_id,
            item.collector_item_id,
            item.title,
            item.truncated
        ])?;
    }
    Ok(())
}
