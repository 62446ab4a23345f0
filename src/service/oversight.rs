//! Admin oversight (SPEC §3 "Administration"): a user's conversations (read,
//! delete), everyone's feedback, and usage per user and model over a date
//! range. Reading or deleting someone's conversation is written to the audit
//! log, in the same transaction.

use chrono::{NaiveDate, Utc};
use serde_json::json;

use super::{Error, Result};
use crate::db::audit::{self, Actor, Audit};
use crate::db::conversation::{self as repo, Conversation, FeedbackEntry, ListFilter, Message};
use crate::db::plan::{self, UsageDay, UsageRow};
use crate::db::{user, Db};
use crate::engine::Engine;

async fn user_exists(db: &Db, user_id: &str) -> Result<()> {
    let id = user_id.to_string();
    db.run(move |conn| user::by_id(conn, &id))
        .await?
        .map(|_| ())
        .ok_or_else(|| Error::NotFound("no such user".into()))
}

/// A user's conversations, as their own list shows them (`q` keywords,
/// `cursor` the `updated_at~id` of the previous page's last one).
pub async fn conversations(
    db: &Db,
    user_id: String,
    q: Option<&str>,
    archived: Option<bool>,
    cursor: Option<&str>,
    limit: u32,
) -> Result<Vec<Conversation>> {
    user_exists(db, &user_id).await?;
    let after = match cursor {
        None => None,
        Some(c) => Some(
            c.split_once('~')
                .map(|(u, i)| (u.to_string(), i.to_string()))
                .ok_or_else(|| Error::BadRequest("invalid cursor".into()))?,
        ),
    };
    let filter = ListFilter {
        keywords: super::search::search_keywords(q)?,
        archived,
        pinned: None,
        after,
        limit,
        ..Default::default()
    };
    // A keyword search takes the searched user's turn.
    let searcher = (!filter.keywords.is_empty()).then(|| user_id.clone());
    Ok(db
        .run_search(searcher.as_deref(), move |conn| {
            repo::list(conn, &user_id, &filter)
        })
        .await?)
}

/// A user's conversation with its current thread; the reading is audited.
pub async fn read(
    db: &Db,
    admin: Actor,
    user_id: String,
    id: String,
) -> Result<(Conversation, Vec<Message>)> {
    db.run(move |conn| {
        audit::audited(conn, Some(&admin), "conversation.read", |tx| -> Result<_> {
            let Some(conversation) = repo::get(tx, &user_id, &id)? else {
                return Err(Error::NotFound("no such conversation".into()));
            };
            let messages = repo::thread(tx, &conversation, &user_id)?;
            let audit = Audit::new(conversation.id.clone(), json!({ "user_id": user_id }));
            Ok(((conversation, messages), audit))
        })
    })
    .await
}

/// Deletes a user's conversation (stopping its answer first), audited.
pub async fn delete(
    db: &Db,
    engine: &Engine,
    admin: Actor,
    user_id: String,
    id: String,
) -> Result<()> {
    let uid = user_id.clone();
    let found = db
        .run(move |conn| repo::get(conn, &uid, &id))
        .await?
        .ok_or_else(|| Error::NotFound("no such conversation".into()))?;
    engine.stop_turn(&found.id);
    db.run(move |conn| {
        audit::audited(
            conn,
            Some(&admin),
            "conversation.delete",
            |tx| -> Result<_> {
                repo::delete(tx, &found.id)?;
                let detail = json!({ "user_id": user_id, "title": found.title });
                Ok(((), Audit::new(found.id.clone(), detail)))
            },
        )
    })
    .await
}

/// Everyone's ratings, newest first; `rating` (empty: any) must be up or down.
pub async fn feedback(
    db: &Db,
    rating: Option<String>,
    before: Option<String>,
    limit: u32,
) -> Result<Vec<FeedbackEntry>> {
    let rating = rating.filter(|r| !r.is_empty());
    if rating.as_deref().is_some_and(|r| r != "up" && r != "down") {
        return Err(Error::invalid("rating", "must be up or down"));
    }
    Ok(db
        .run(move |conn| repo::feedback_list(conn, rating.as_deref(), before.as_deref(), limit))
        .await?)
}

/// `YYYY-MM-DD` (the start of that UTC day) or an RFC 3339 time, as the
/// stored form. `end_of_day` makes a bare date include the whole day.
pub fn parse_bound(field: &'static str, raw: &str, end_of_day: bool) -> Result<String> {
    if let Ok(day) = NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        let day = if end_of_day {
            day.succ_opt().unwrap_or(day)
        } else {
            day
        };
        return Ok(format!("{day}T00:00:00Z"));
    }
    chrono::DateTime::parse_from_rfc3339(raw)
        .map(|t| {
            t.with_timezone(&Utc)
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        })
        .map_err(|_| Error::invalid(field, "must be a date (2024-01-31) or an RFC 3339 time"))
}

/// The range a usage report covers: `from` (default: 30 days ago) up to
/// `to` (default: the end of today), `from` before `to`.
pub fn usage_range(from: Option<&str>, to: Option<&str>) -> Result<(String, String)> {
    let today = Utc::now().date_naive();
    let from = match from {
        Some(raw) => parse_bound("from", raw, false)?,
        None => format!("{}T00:00:00Z", today - chrono::Duration::days(29)),
    };
    let to = match to {
        Some(raw) => parse_bound("to", raw, true)?,
        None => plan::next_day_start_str(),
    };
    if from >= to {
        return Err(Error::invalid("to", "must be after from"));
    }
    Ok((from, to))
}

/// A usage report: rows per user and model (a page of them), every day of
/// the range, and their totals.
#[derive(Debug, Clone)]
pub struct UsageReport {
    pub from: String,
    pub to: String,
    pub rows: Vec<UsageRow>,
    pub days: Vec<UsageDay>,
    /// The next page's cursor when this page is full.
    pub next_cursor: Option<String>,
}

/// Usage over `from`..`to` (see [`usage_range`]), of one user or everyone;
/// rows paged by `limit` from `cursor` (an offset).
pub async fn usage(
    db: &Db,
    from: Option<&str>,
    to: Option<&str>,
    user_id: Option<String>,
    cursor: Option<&str>,
    limit: u32,
) -> Result<UsageReport> {
    let (from, to) = usage_range(from, to)?;
    let offset: u32 = match cursor {
        None => 0,
        Some(c) => c
            .parse()
            .map_err(|_| Error::BadRequest("invalid cursor".into()))?,
    };
    let (from_q, to_q) = (from.clone(), to.clone());
    let (rows, days) = db
        .run(move |conn| -> Result<_> {
            let user = user_id.as_deref();
            let rows = plan::usage_report(conn, &from_q, &to_q, user, offset, limit)?;
            let days = plan::usage_by_day(conn, &from_q, &to_q, user)?;
            Ok((rows, days))
        })
        .await?;
    let next_cursor = (rows.len() as u32 >= limit).then(|| (offset + limit).to_string());
    Ok(UsageReport {
        from,
        to,
        rows,
        days,
        next_cursor,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_date_is_the_start_of_its_day_or_with_end_of_day_the_next() {
        assert_eq!(
            parse_bound("from", "2024-01-31", false).unwrap(),
            "2024-01-31T00:00:00Z"
        );
        assert_eq!(
            parse_bound("to", "2024-01-31", true).unwrap(),
            "2024-02-01T00:00:00Z"
        );
        assert_eq!(
            parse_bound("from", "2024-01-31T09:00:00+09:00", false).unwrap(),
            "2024-01-31T00:00:00Z"
        );
    }

    #[test]
    fn a_bad_range_names_the_field_at_fault() {
        for (from, to, field, why) in [
            (Some("yesterday"), None, "from", "not a date"),
            (None, Some("31/01/2024"), "to", "not ISO"),
            (
                Some("2024-02-01"),
                Some("2024-01-01"),
                "to",
                "ends before it starts",
            ),
        ] {
            match usage_range(from, to) {
                Err(Error::Validation(fields)) => assert!(fields.contains_key(field), "{why}"),
                other => panic!("{why}: {other:?}"),
            }
        }
        let (from, to) = usage_range(None, None).unwrap();
        assert!(from < to);
    }
}
