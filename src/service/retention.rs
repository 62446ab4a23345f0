//! How long conversations are kept (issue 21 "Retention", "Temporary
//! chats"): the admin's policy (`retention_days` for conversations,
//! `retention_archived_days` for archived ones; off when unset), what a run
//! would delete, running it (audited `retention.run` when it deleted
//! something), and the background job that runs it daily and sweeps the
//! temporary chats hourly. Deleting a conversation deletes its messages,
//! shares and files with it (schema.sql's cascades).

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::{Error, Result};
use crate::db::audit::{self, Actor, Audit};
use crate::db::retention::{self as repo, Preview};
use crate::db::{conversation, setting, Db, DbError};

/// The setting (days, or null: off) for conversations that are not archived.
pub const RETENTION_DAYS: &str = "retention_days";
/// The setting (days, or null: off) for archived conversations.
pub const RETENTION_ARCHIVED_DAYS: &str = "retention_archived_days";
/// The longest a policy may keep (100 years).
pub const MAX_DAYS: i64 = 36_500;
/// How long a temporary chat is kept at most after it was created.
pub const TEMPORARY_FOR: Duration = Duration::from_secs(24 * 3600);
/// How often temporary chats are swept.
const SWEEP_EVERY: Duration = Duration::from_secs(3600);
/// How long after start the first daily run waits (the start is busy
/// enough), and how often it runs then.
const FIRST_RUN_AFTER: Duration = Duration::from_secs(5 * 60);
const RUN_EVERY: Duration = Duration::from_secs(24 * 3600);

/// The stored policy: days for each kind, `None` = that kind is kept forever.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Policy {
    pub days: Option<i64>,
    pub archived_days: Option<i64>,
}

/// What a run deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outcome {
    pub conversations: usize,
    pub archived_conversations: usize,
}

/// A day count as a setting takes it: `null` (off) or a whole number from 1
/// to 36500; anything else (0, -1, 1.5, a string) is a 422 on `field`.
pub fn check_days(field: &'static str, value: &Value) -> Result<Option<i64>> {
    if value.is_null() {
        return Ok(None);
    }
    match value.as_i64() {
        Some(n) if (1..=MAX_DAYS).contains(&n) => Ok(Some(n)),
        _ => Err(Error::invalid(
            field,
            format!("must be null (off) or a whole number of days from 1 to {MAX_DAYS}"),
        )),
    }
}

/// The policy in the settings (a stored value no setting takes reads as off).
pub fn policy_in(conn: &rusqlite::Connection) -> Result<Policy, DbError> {
    let read = |key: &str| -> Result<Option<i64>, DbError> {
        Ok(setting::get(conn, key)?
            .and_then(|v| v.as_i64())
            .filter(|n| (1..=MAX_DAYS).contains(n)))
    };
    Ok(Policy {
        days: read(RETENTION_DAYS)?,
        archived_days: read(RETENTION_ARCHIVED_DAYS)?,
    })
}

/// `now` less `days`, as the stored times are written (RFC 3339, seconds, Z).
fn cutoff(now: DateTime<Utc>, days: Option<i64>) -> Option<String> {
    days.map(|d| {
        (now - chrono::Duration::days(d)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    })
}

/// What a run with this policy would delete at `now` (counts only).
pub async fn preview(db: &Db, policy: Policy, now: DateTime<Utc>) -> Result<Preview> {
    let (kept, archived) = (cutoff(now, policy.days), cutoff(now, policy.archived_days));
    Ok(db
        .run(move |conn| repo::preview(conn, kept.as_deref(), archived.as_deref()))
        .await?)
}

/// Runs the stored policy at `now`, in one transaction; audited as
/// `retention.run` (by `actor`, or the server itself) when it deleted
/// something.
pub async fn run(db: &Db, actor: Option<Actor>, now: DateTime<Utc>) -> Result<Outcome> {
    db.run_bulk(move |conn| {
        audit::audited_if(conn, actor.as_ref(), |tx| -> Result<_> {
            let policy = policy_in(tx)?;
            let (kept, archived) = (cutoff(now, policy.days), cutoff(now, policy.archived_days));
            let (conversations, archived_conversations) =
                repo::delete(tx, kept.as_deref(), archived.as_deref())?;
            let outcome = Outcome {
                conversations,
                archived_conversations,
            };
            let audit = (conversations + archived_conversations > 0).then(|| {
                (
                    "retention.run",
                    Audit {
                        target: None,
                        detail: json!({
                            "conversations": conversations,
                            "archived_conversations": archived_conversations,
                            "days": policy.days,
                            "archived_days": policy.archived_days,
                        }),
                    },
                )
            });
            Ok((outcome, audit))
        })
    })
    .await
}

/// Deletes the temporary chats created more than [`TEMPORARY_FOR`] before
/// `now`; answers how many.
pub async fn sweep_temporary(db: &Db, now: DateTime<Utc>) -> Result<usize> {
    let before =
        now - chrono::Duration::from_std(TEMPORARY_FOR).unwrap_or(chrono::Duration::days(1));
    let before = before.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    Ok(db
        .run(move |conn| conversation::delete_temporary_before(conn, &before))
        .await?)
}

/// The background job, for as long as the server runs: sweeps temporary
/// chats at start and then hourly, and runs the retention policy a few
/// minutes after start and then daily.
pub async fn background(db: Db) {
    let sweeps = async {
        let mut every = tokio::time::interval(SWEEP_EVERY);
        loop {
            every.tick().await;
            match sweep_temporary(&db, Utc::now()).await {
                Ok(0) => {}
                Ok(n) => log::info!("deleted {n} temporary chats older than a day"),
                Err(err) => log::warn!("could not delete old temporary chats: {err}"),
            }
        }
    };
    let runs = async {
        let start = tokio::time::Instant::now() + FIRST_RUN_AFTER;
        let mut every = tokio::time::interval_at(start, RUN_EVERY);
        loop {
            every.tick().await;
            match run(&db, None, Utc::now()).await {
                Ok(Outcome {
                    conversations: 0,
                    archived_conversations: 0,
                }) => {}
                Ok(done) => log::info!(
                    "retention deleted {} conversations and {} archived ones",
                    done.conversations,
                    done.archived_conversations
                ),
                Err(err) => log::warn!("the retention run failed: {err}"),
            }
        }
    };
    tokio::join!(sweeps, runs);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_counts_are_null_or_whole_numbers_from_1_to_36500() {
        assert_eq!(check_days("retention_days", &Value::Null).unwrap(), None);
        assert_eq!(check_days("retention_days", &json!(1)).unwrap(), Some(1));
        assert_eq!(
            check_days("retention_days", &json!(36500)).unwrap(),
            Some(36500)
        );
        for bad in [
            json!(0),
            json!(-1),
            json!(1.5),
            json!("x"),
            json!("30"),
            json!(36501),
            json!(true),
            json!([1]),
        ] {
            let Err(Error::Validation(f)) = check_days("retention_days", &bad) else {
                panic!("{bad} accepted");
            };
            assert!(f.contains_key("retention_days"), "{bad}");
        }
    }

    #[test]
    fn a_cutoff_is_written_like_the_stored_times() {
        let now = DateTime::parse_from_rfc3339("2026-03-10T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            cutoff(now, Some(30)).as_deref(),
            Some("2026-02-08T12:00:00Z")
        );
        assert_eq!(cutoff(now, None), None);
    }
}
