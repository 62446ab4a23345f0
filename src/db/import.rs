//! Writing a whole conversation at once: an import, or the clone of a share
//! or a sample (issue 16, item 7).
//!
//! SQLite has one writer, and every message written also goes into both
//! search indexes (schema.sql), at about 2 µs per character in a debug build
//! (0.4 µs in release): written in one transaction, a 900 KB import held the
//! write lock for 2 s, and four of them made another user's write wait past
//! the busy timeout and fail. So a big conversation is written in parts of at
//! most [`PART_CHARS`] characters, each in its own short `IMMEDIATE`
//! transaction, through [`Db::run_bulk`]: the parts of all bulk writes take
//! turns, and after each the lock is left free for as long as the part held
//! it, so everyone else's writes get at least half of the writer's time
//! however many imports run.
//!
//! All or nothing, for the user: the conversation is created hidden (a row in
//! `conversation_import`, which every list, search and lookup leaves out)
//! and shown only by the last part; a part that fails removes what was
//! written, and a server start removes what a crash left half-written
//! ([`discard_unfinished`]). A small conversation is written in one
//! transaction, as before.

use rusqlite::{params, Connection, TransactionBehavior};

use super::conversation::{self, Conversation, Message, NewConversation, Snapshot};
use super::{Db, DbError};

/// The most characters of messages written in one transaction. At the debug
/// build's 2 µs per character that holds the lock for well under 100 ms.
pub const PART_CHARS: usize = 32_000;
/// Conversations one user may have being written in parts at once.
pub const MAX_PER_USER: usize = 2;

/// Why a copy could not be made.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// The user already has [`MAX_PER_USER`] big copies being written.
    #[error("{0} imports are already being written")]
    TooMany(usize),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// A new conversation of `user_id` holding `snapshot`'s messages as one
/// thread, with that thread (as `GET /conversations/{id}` shows it).
pub async fn copy(
    db: &Db,
    user_id: String,
    snapshot: Snapshot,
) -> Result<(Conversation, Vec<Message>), CopyError> {
    let chars: usize = snapshot
        .messages
        .iter()
        .map(|m| m.content.chars().count())
        .sum();
    if chars <= PART_CHARS {
        return Ok(db
            .run(move |conn| -> Result<_, crate::db::DbError> {
                let created = conversation::create_from_snapshot(conn, &user_id, &snapshot)?;
                let messages = conversation::thread(conn, &created, &user_id)?;
                Ok((created, messages))
            })
            .await?);
    }
    // On a task of its own: a client that goes away must not leave a
    // half-written conversation behind by dropping this future between parts.
    let db = db.clone();
    tokio::spawn(async move { copy_in_parts(&db, user_id, snapshot).await })
        .await
        .map_err(|e| CopyError::Db(DbError::Task(e.to_string())))?
}

async fn copy_in_parts(
    db: &Db,
    user_id: String,
    snapshot: Snapshot,
) -> Result<(Conversation, Vec<Message>), CopyError> {
    let owner = user_id.clone();
    let header = Snapshot {
        messages: Vec::new(),
        ..snapshot.clone()
    };
    let id = db
        .run(move |conn| begin(conn, &owner, &header, MAX_PER_USER))
        .await??;
    let written = write_parts(db, &id, snapshot).await;
    let result = match written {
        Ok(leaf) => {
            let (id, owner) = (id.clone(), user_id.clone());
            db.run(move |conn| -> Result<_, crate::db::DbError> {
                let created = finish(conn, &id, leaf.as_deref())?;
                let messages = conversation::thread(conn, &created, &owner)?;
                Ok((created, messages))
            })
            .await
        }
        Err(err) => Err(err),
    };
    if result.is_err() {
        discard(db, &id).await;
    }
    Ok(result?)
}

/// Writes the messages part by part; returns the id of the last one.
async fn write_parts(db: &Db, id: &str, snapshot: Snapshot) -> Result<Option<String>, DbError> {
    let mut parent: Option<Message> = None;
    let mut rest = snapshot.messages.into_iter().peekable();
    while rest.peek().is_some() {
        let mut part = Vec::new();
        let mut chars = 0;
        while let Some(next) = rest.peek() {
            let size = next.content.chars().count();
            if !part.is_empty() && chars + size > PART_CHARS {
                break;
            }
            chars += size;
            part.extend(rest.next());
        }
        let (id, under) = (id.to_string(), parent.take());
        parent = db
            .run_bulk(move |conn| append(conn, &id, under, &part))
            .await?;
    }
    Ok(parent.map(|m| m.id))
}

/// Removes a copy that could not be finished, part by part; what it cannot
/// remove now, the next server start does.
async fn discard(db: &Db, id: &str) {
    loop {
        let part = id.to_string();
        match db
            .run_bulk(move |conn| discard_part(conn, &part, PART_CHARS))
            .await
        {
            Ok(true) => return,
            Ok(false) => {}
            Err(err) => {
                log::error!("could not remove the unfinished import {id}: {err}");
                return;
            }
        }
    }
}

/// Creates the hidden conversation (title, model, system prompt of `header`),
/// unless the user already has `max` being written.
pub fn begin(
    conn: &mut Connection,
    user_id: &str,
    header: &Snapshot,
    max: usize,
) -> Result<Result<String, CopyError>, DbError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let running: usize = tx
        .prepare_cached(
            "SELECT count(*) FROM conversation_import i
               JOIN conversation c ON c.id = i.conversation_id WHERE c.user_id = ?1",
        )?
        .query_row([user_id], |r| r.get(0))?;
    if running >= max {
        return Ok(Err(CopyError::TooMany(max)));
    }
    let created = conversation::create(
        &tx,
        user_id,
        &NewConversation {
            title: &header.title,
            model_id: header.model_id.as_deref(),
            system_prompt: &header.system_prompt,
        },
    )?;
    tx.prepare_cached(
        "INSERT INTO conversation_import (conversation_id, created_at) VALUES (?1, ?2)",
    )?
    .execute(params![created.id, super::now()])?;
    tx.commit()?;
    Ok(Ok(created.id))
}

/// Appends `messages` as a chain under `parent` (None: from the start) in one
/// transaction; returns the last message written.
pub fn append(
    conn: &mut Connection,
    conversation_id: &str,
    parent: Option<Message>,
    messages: &[conversation::SnapshotMessage],
) -> Result<Option<Message>, DbError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut parent = parent;
    for m in messages {
        parent = Some(conversation::insert_message(
            &tx,
            conversation_id,
            parent.as_ref(),
            m.role,
            &m.content,
            m.model_id.as_deref(),
            conversation::Status::Complete,
        )?);
    }
    tx.commit()?;
    Ok(parent)
}

/// Makes `leaf` current and shows the conversation.
pub fn finish(
    conn: &mut Connection,
    conversation_id: &str,
    leaf: Option<&str>,
) -> Result<Conversation, DbError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    conversation::set_current(&tx, conversation_id, leaf, true)?;
    let shown = tx
        .prepare_cached("DELETE FROM conversation_import WHERE conversation_id = ?1")?
        .execute([conversation_id])?;
    let created = conversation::get_any(&tx, conversation_id)?
        .filter(|_| shown == 1)
        .ok_or_else(|| DbError::Task("the imported conversation was removed meanwhile".into()))?;
    tx.commit()?;
    Ok(created)
}

/// Removes the newest messages of a hidden conversation, at most `budget`
/// characters of them (at least one), or the conversation itself once it
/// has none; true when it is gone. Newest first, so no delete cascades to
/// a child (each would go through the search triggers in the same statement).
pub fn discard_part(
    conn: &mut Connection,
    conversation_id: &str,
    budget: usize,
) -> Result<bool, DbError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let hidden: bool = tx
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM conversation_import WHERE conversation_id = ?1)",
        )?
        .query_row([conversation_id], |r| r.get(0))?;
    if !hidden {
        // Shown (or gone) meanwhile: not ours to remove.
        return Ok(true);
    }
    let mut victims = Vec::new();
    {
        let mut stmt = tx.prepare_cached(
            "SELECT rowid, length(content) FROM message WHERE conversation_id = ?1
              ORDER BY idx DESC",
        )?;
        let mut rows = stmt.query([conversation_id])?;
        let mut chars = 0usize;
        while let Some(row) = rows.next()? {
            let size: i64 = row.get(1)?;
            let size = usize::try_from(size).unwrap_or(0);
            if !victims.is_empty() && chars + size > budget {
                break;
            }
            chars += size;
            victims.push(row.get::<_, i64>(0)?);
        }
    }
    let gone = victims.is_empty();
    if gone {
        tx.prepare_cached("DELETE FROM conversation WHERE id = ?1")?
            .execute([conversation_id])?;
    } else {
        let mut delete = tx.prepare_cached("DELETE FROM message WHERE rowid = ?1")?;
        for rowid in victims {
            delete.execute([rowid])?;
        }
    }
    tx.commit()?;
    Ok(gone)
}

/// At start, before anyone writes: removes the conversations a crash left
/// half-imported. Returns how many.
pub fn discard_unfinished(conn: &mut Connection) -> Result<usize, DbError> {
    let ids: Vec<String> = {
        let mut stmt = conn.prepare("SELECT conversation_id FROM conversation_import")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        rows.collect::<Result<_, _>>()?
    };
    for id in &ids {
        while !discard_part(conn, id, PART_CHARS)? {}
    }
    Ok(ids.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::conversation::{Role, SnapshotMessage};

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

    fn header() -> Snapshot {
        Snapshot {
            title: "강아지 일기".into(),
            model_id: None,
            system_prompt: String::new(),
            messages: Vec::new(),
        }
    }

    fn msgs(n: usize) -> Vec<SnapshotMessage> {
        (0..n)
            .map(|i| SnapshotMessage {
                role: if i % 2 == 0 {
                    Role::User
                } else {
                    Role::Assistant
                },
                content: format!("message {i} about 고양이"),
                model_id: None,
                created_at: None,
                files: Vec::new(),
            })
            .collect()
    }

    fn listed(conn: &Connection, keywords: Vec<String>) -> usize {
        let filter = conversation::ListFilter {
            keywords,
            limit: 50,
            ..Default::default()
        };
        conversation::list(conn, "u", &filter).unwrap().len()
    }

    #[test]
    fn a_conversation_being_imported_is_hidden_until_its_last_part_and_then_whole() {
        let mut conn = db_with_user();
        let id = begin(&mut conn, "u", &header(), 2).unwrap().unwrap();
        let first = append(&mut conn, &id, None, &msgs(2)).unwrap();
        assert_eq!(listed(&conn, vec![]), 0);
        assert_eq!(listed(&conn, vec!["고양이".into()]), 0);
        assert_eq!(listed(&conn, vec!["강아지".into()]), 0);
        assert!(conversation::get(&conn, "u", &id).unwrap().is_none());

        let last = append(&mut conn, &id, first, &msgs(3)).unwrap().unwrap();
        let shown = finish(&mut conn, &id, Some(&last.id)).unwrap();
        assert_eq!(shown.message_count, 5);
        assert_eq!(listed(&conn, vec![]), 1);
        assert_eq!(listed(&conn, vec!["고양이".into()]), 1);
        let thread = conversation::thread(&conn, &shown, "u").unwrap();
        assert_eq!(thread.len(), 5);
    }

    #[test]
    fn a_user_has_at_most_the_limit_of_imports_at_once() {
        let mut conn = db_with_user();
        begin(&mut conn, "u", &header(), 2).unwrap().unwrap();
        begin(&mut conn, "u", &header(), 2).unwrap().unwrap();
        assert!(matches!(
            begin(&mut conn, "u", &header(), 2).unwrap(),
            Err(CopyError::TooMany(2))
        ));
    }

    #[test]
    fn an_unfinished_import_is_removed_part_by_part_and_leaves_the_index_clean() {
        let mut conn = db_with_user();
        let id = begin(&mut conn, "u", &header(), 2).unwrap().unwrap();
        append(&mut conn, &id, None, &msgs(7)).unwrap();
        // A budget of one character removes one message per part.
        let mut parts = 0;
        while !discard_part(&mut conn, &id, 1).unwrap() {
            parts += 1;
        }
        assert_eq!(parts, 7);
        let left: i64 = conn
            .query_row("SELECT count(*) FROM conversation", [], |r| r.get(0))
            .unwrap();
        assert_eq!(left, 0);

        let again = begin(&mut conn, "u", &header(), 2).unwrap().unwrap();
        append(&mut conn, &again, None, &msgs(3)).unwrap();
        assert_eq!(discard_unfinished(&mut conn).unwrap(), 1);
        for table in ["search_trigram", "search_bigram"] {
            conn.execute(
                &format!("INSERT INTO {table} ({table}) VALUES ('integrity-check')"),
                [],
            )
            .unwrap();
        }
        assert_eq!(listed(&conn, vec!["고양이".into()]), 0);
    }
}
