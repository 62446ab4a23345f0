//! Folders (issue 21 "Folders"): a user's folders, one level deep, and
//! deleting one with or without the conversations in it. Filing a
//! conversation is a change to it (src/service/conversations.rs).

use super::chat::Chat;
use super::{Error, Result};
use crate::db::audit::immediate;
use crate::db::folder::{self as repo, Folder};
use crate::db::Db;

/// Longest folder name, in characters.
pub const MAX_NAME_CHARS: usize = 100;
/// Most folders one user may have.
pub const MAX_FOLDERS: i64 = 1000;

fn not_found() -> Error {
    Error::NotFound("no such folder".into())
}

/// A folder name as it is kept: trimmed, 1–100 characters, no control
/// characters.
pub fn clean_name(name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() {
        return Err(Error::invalid("name", "must not be empty"));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(Error::invalid(
            "name",
            format!("must be at most {MAX_NAME_CHARS} characters"),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(Error::invalid(
            "name",
            "must not contain control characters",
        ));
    }
    Ok(name.to_string())
}

/// Checks that `parent_id` may hold a subfolder of `user_id`: it is theirs
/// (else 404) and top-level (folders nest one level deep).
fn check_parent(conn: &rusqlite::Connection, user_id: &str, parent_id: &str) -> Result<()> {
    let parent = repo::get(conn, user_id, parent_id)?.ok_or_else(not_found)?;
    if parent.parent_id.is_some() {
        return Err(Error::invalid("parent_id", "folders nest one level deep"));
    }
    Ok(())
}

/// All of the user's folders, by name.
pub async fn list(db: &Db, user_id: String) -> Result<Vec<Folder>> {
    Ok(db.run(move |conn| repo::list(conn, &user_id)).await?)
}

/// A new folder, top-level or under one of the user's top-level folders.
pub async fn create(
    db: &Db,
    user_id: String,
    name: String,
    parent_id: Option<String>,
) -> Result<Folder> {
    let name = clean_name(&name)?;
    db.run(move |conn| {
        immediate(conn, |tx| {
            if let Some(parent) = &parent_id {
                check_parent(tx, &user_id, parent)?;
            }
            if repo::count(tx, &user_id)? >= MAX_FOLDERS {
                return Err(Error::Validation(
                    [("name", format!("at most {MAX_FOLDERS} folders per user"))].into(),
                ));
            }
            Ok(repo::create(tx, &user_id, &name, parent_id.as_deref())?)
        })
    })
    .await
}

/// One of the user's folders.
pub async fn get(db: &Db, user_id: String, id: String) -> Result<Folder> {
    db.run(move |conn| repo::get(conn, &user_id, &id))
        .await?
        .ok_or_else(not_found)
}

/// Renames and/or moves a folder (`parent_id: Some(None)` = to the top
/// level). Refused (422 `parent_id`): itself as its parent, a subfolder as
/// the parent (its own or another), and a folder with subfolders moved
/// under another.
pub async fn update(
    db: &Db,
    user_id: String,
    id: String,
    name: Option<String>,
    parent_id: Option<Option<String>>,
) -> Result<Folder> {
    let name = name.as_deref().map(clean_name).transpose()?;
    db.run(move |conn| {
        immediate(conn, |tx| {
            let folder = repo::get(tx, &user_id, &id)?.ok_or_else(not_found)?;
            if let Some(Some(parent)) = &parent_id {
                if *parent == folder.id {
                    return Err(Error::invalid(
                        "parent_id",
                        "a folder cannot be its own parent",
                    ));
                }
                check_parent(tx, &user_id, parent)?;
                if repo::has_children(tx, &folder.id)? {
                    return Err(Error::invalid(
                        "parent_id",
                        "a folder with subfolders cannot go under another (folders nest one level deep)",
                    ));
                }
            }
            repo::update(
                tx,
                &folder.id,
                name.as_deref(),
                parent_id.as_ref().map(|p| p.as_deref()),
            )?;
            repo::get(tx, &user_id, &folder.id)?.ok_or_else(not_found)
        })
    })
    .await
}

/// Deletes a folder and its subfolders in one transaction; with
/// `conversations`, the conversations in them too (their answers stopped
/// first), else those become unfiled.
pub async fn delete(
    chat: &Chat<'_>,
    user_id: String,
    id: String,
    conversations: bool,
) -> Result<()> {
    let (uid, fid) = (user_id.clone(), id.clone());
    let doomed = chat
        .db
        .run(move |conn| -> Result<_> {
            repo::get(conn, &uid, &fid)?.ok_or_else(not_found)?;
            Ok(if conversations {
                repo::conversation_ids(conn, &uid, &fid)?
            } else {
                Vec::new()
            })
        })
        .await?;
    for conversation in &doomed {
        // Every answer of the turn (side by side: all of them), as a
        // conversation's own delete does.
        chat.engine.stop_turn(conversation);
    }
    chat.db
        .run(move |conn| {
            immediate(conn, |tx| -> Result<()> {
                repo::get(tx, &user_id, &id)?.ok_or_else(not_found)?;
                repo::delete(tx, &user_id, &id, conversations)?;
                Ok(())
            })
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_names_are_trimmed_and_checked() {
        assert_eq!(clean_name("  업무 ").unwrap(), "업무");
        for (bad, why) in [
            ("   ", "empty"),
            (&"가".repeat(101)[..], "too long"),
            ("a\u{7}b", "a control character"),
            ("a\nb", "a newline"),
        ] {
            let Err(Error::Validation(fields)) = clean_name(bad) else {
                panic!("{why}: accepted");
            };
            assert!(fields.contains_key("name"), "{why}");
        }
        assert!(clean_name(&"가".repeat(100)).is_ok());
    }
}
