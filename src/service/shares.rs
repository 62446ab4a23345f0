//! Shares (SPEC §3 "Shares"): read-only snapshots of a conversation behind
//! an unguessable link. Another user's share is a 404; admins may list and
//! delete everyone's (a deletion of someone else's share is audited).

use base64::Engine as _;
use rand::RngCore;
use serde_json::json;

use super::{Error, Result};
use crate::db::audit::{self, Actor, Audit};
use crate::db::conversation::{self as conv_repo, Snapshot};
use crate::db::share::{self, Share};
use crate::db::{self, Db};

/// Longest expiry a share may be given.
pub const MAX_EXPIRY_DAYS: i64 = 365;

/// 128 random bits, base64url: the only secret of a public link.
fn new_share_id() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// When a share given `days` expires (RFC 3339), or a 422 outside 1–365.
fn expiry(days: Option<i64>) -> Result<Option<String>> {
    let Some(days) = days else {
        return Ok(None);
    };
    if !(1..=MAX_EXPIRY_DAYS).contains(&days) {
        return Err(Error::invalid(
            "expires_in_days",
            format!("must be between 1 and {MAX_EXPIRY_DAYS}"),
        ));
    }
    Ok(Some(
        (chrono::Utc::now() + chrono::Duration::days(days))
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    ))
}

/// Shares one of the user's conversations as it is now (without its
/// system prompt), optionally expiring after `expires_in_days`.
pub async fn create(
    db: &Db,
    user_id: String,
    conversation_id: String,
    expires_in_days: Option<i64>,
) -> Result<Share> {
    let expires_at = expiry(expires_in_days)?;
    db.run(move |conn| {
        let conversation = conv_repo::get(conn, &user_id, &conversation_id)?
            .ok_or_else(|| Error::NotFound("no such conversation".into()))?;
        super::conversations::kept(&conversation, "shared")?;
        let mut snapshot = conv_repo::snapshot(conn, &conversation)?;
        // The system prompt is the owner's instruction, not part of what is shown.
        snapshot.system_prompt = String::new();
        if snapshot.messages.is_empty() {
            return Err(Error::invalid(
                "conversation_id",
                "the conversation has no messages to share yet",
            ));
        }
        if snapshot.title.trim().is_empty() {
            snapshot.title = "Untitled".into();
        }
        Ok(share::insert(
            conn,
            &new_share_id(),
            &user_id,
            &conversation.id,
            &snapshot,
            expires_at.as_deref(),
        )?)
    })
    .await
}

/// A `created_at~id` list cursor, split; a 400 when it is not one.
fn parse_cursor(cursor: Option<&str>) -> Result<Option<(String, String)>> {
    cursor
        .map(|c| {
            c.split_once('~')
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .ok_or_else(|| Error::BadRequest("invalid cursor".into()))
        })
        .transpose()
}

/// The cursor of the page after one ending with `last`.
pub fn cursor_of(last: &Share) -> String {
    format!("{}~{}", last.created_at, last.id)
}

/// A page of the user's shares, or with `all` (admins only) everyone's,
/// newest first.
pub async fn list(
    db: &Db,
    user_id: String,
    is_admin: bool,
    all: bool,
    cursor: Option<&str>,
    limit: u32,
) -> Result<Vec<Share>> {
    if all && !is_admin {
        return Err(Error::forbidden(
            "admin_only",
            "listing everyone's shares needs an administrator account",
        ));
    }
    let before = parse_cursor(cursor)?;
    let owner = (!all).then_some(user_id);
    Ok(db
        .run(move |conn| {
            share::list(
                conn,
                owner.as_deref(),
                before.as_ref().map(|(a, b)| (a.as_str(), b.as_str())),
                limit,
            )
        })
        .await?)
}

/// A live share's snapshot, or 404 (unknown, deleted or expired alike).
pub async fn live(db: &Db, id: String) -> Result<(Share, Snapshot)> {
    db.run(move |conn| share::live_snapshot(conn, &id, &db::now()))
        .await?
        .ok_or_else(|| {
            Error::NotFound("no such share (it may have expired or been deleted)".into())
        })
}

/// A file of a live share's snapshot (public, like the share): 404 for a
/// file the snapshot does not carry, whoever owns it.
pub async fn file(
    db: &Db,
    id: String,
    file_id: String,
    part: crate::db::file::Part,
) -> Result<(crate::db::file::StoredFile, Vec<u8>)> {
    let (_, snapshot) = live(db, id).await?;
    let carried = snapshot
        .messages
        .iter()
        .any(|m| m.files.iter().any(|f| f.id == file_id));
    let missing = || Error::NotFound("no such file in this share".into());
    if !carried {
        return Err(missing());
    }
    db.run(move |conn| -> Result<_> {
        let Some(file) = crate::db::file::get(conn, &file_id)? else {
            return Err(missing());
        };
        let bytes = crate::db::file::read_blob(conn, &file_id, part)?.ok_or_else(missing)?;
        Ok((file, bytes))
    })
    .await
}

/// Deletes a share of the user's own, or as an admin anyone's (audited).
pub async fn delete(db: &Db, actor: Actor, is_admin: bool, id: String) -> Result<()> {
    db.run(move |conn| {
        let share = share::get(conn, &id)?
            .filter(|s| s.user_id == actor.id || is_admin)
            .ok_or_else(|| Error::NotFound("no such share".into()))?;
        if share.user_id == actor.id {
            share::delete(conn, &share.id)?;
            return Ok(());
        }
        audit::audited(conn, Some(&actor), "share.delete", |tx| {
            share::delete(tx, &share.id)?;
            let detail = json!({ "owner_id": share.user_id, "title": share.title });
            Ok::<_, Error>(((), Audit::new(share.id.clone(), detail)))
        })
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_share_expires_after_1_to_365_days_or_never() {
        assert_eq!(expiry(None).unwrap(), None);
        assert!(expiry(Some(1)).unwrap().is_some_and(|e| e.ends_with('Z')));
        assert!(expiry(Some(365)).unwrap().is_some());
        for days in [0, -1, 366] {
            assert!(
                matches!(expiry(Some(days)), Err(Error::Validation(_))),
                "{days}"
            );
        }
    }

    #[test]
    fn a_list_cursor_is_created_at_tilde_id() {
        assert_eq!(
            parse_cursor(Some("2025-01-01T00:00:00Z~abc")).unwrap(),
            Some(("2025-01-01T00:00:00Z".into(), "abc".into()))
        );
        assert_eq!(parse_cursor(None).unwrap(), None);
        assert!(matches!(
            parse_cursor(Some("nope")),
            Err(Error::BadRequest(_))
        ));
    }

    #[test]
    fn share_ids_are_128_random_bits_in_base64url() {
        let (a, b) = (new_share_id(), new_share_id());
        assert_eq!(a.len(), 22);
        assert_ne!(a, b);
        assert!(a
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    }
}
