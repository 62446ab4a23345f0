//! Admin oversight (SPEC §3 "Administration"): a user's conversations (read,
//! delete), everyone's feedback, and usage per user and model over a date
//! range. Reading or deleting someone's conversation is written to the audit log.

use chrono::{NaiveDate, Utc};
use serde::Deserialize;
use serde_json::json;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::error::{json_response, respond, ApiError};
use super::filters::{admin, with_state, Page};
use crate::app::AppState;
use crate::auth::CurrentUser;
use crate::db::conversation::{self as repo, ListFilter};
use crate::db::{self, audit, plan};

pub fn routes(state: AppState) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let st = || with_state(state.clone());
    let adm = || admin(state.clone());
    // GET /api/v1/users/{user_id}/conversations
    let list = warp::path!("users" / String / "conversations")
        .and(warp::get())
        .and(st())
        .and(adm())
        .and(warp::query::<ConversationQuery>())
        .then(list_conversations)
        .map(respond);
    // GET /api/v1/users/{user_id}/conversations/{id}
    let get = warp::path!("users" / String / "conversations" / String)
        .and(warp::get())
        .and(st())
        .and(adm())
        .then(get_conversation)
        .map(respond);
    // DELETE /api/v1/users/{user_id}/conversations/{id}
    let delete = warp::path!("users" / String / "conversations" / String)
        .and(warp::delete())
        .and(st())
        .and(adm())
        .then(delete_conversation)
        .map(respond);
    // GET /api/v1/admin/feedback?rating=&limit=&cursor=
    let feedback = warp::path!("admin" / "feedback")
        .and(warp::get())
        .and(st())
        .and(adm())
        .and(warp::query::<FeedbackQuery>())
        .then(feedback)
        .map(respond);
    // GET /api/v1/admin/usage?from=&to=&user_id=&limit=&cursor=
    let usage = warp::path!("admin" / "usage")
        .and(warp::get())
        .and(st())
        .and(adm())
        .and(warp::query::<UsageQuery>())
        .then(usage)
        .map(respond);
    list.or(get)
        .unify()
        .or(delete)
        .unify()
        .or(feedback)
        .unify()
        .or(usage)
        .unify()
}

async fn user_exists(state: &AppState, user_id: &str) -> Result<(), ApiError> {
    let id = user_id.to_string();
    state
        .db
        .run(move |conn| db::user::by_id(conn, &id))
        .await?
        .map(|_| ())
        .ok_or_else(|| ApiError::NotFound("no such user".into()))
}

#[derive(Deserialize)]
struct ConversationQuery {
    q: Option<String>,
    archived: Option<bool>,
    limit: Option<u32>,
    cursor: Option<String>,
}

async fn list_conversations(
    user_id: String,
    state: AppState,
    _admin: CurrentUser,
    query: ConversationQuery,
) -> Result<Response, ApiError> {
    user_exists(&state, &user_id).await?;
    let page = Page {
        limit: query.limit,
        cursor: query.cursor,
    };
    let after = match page.cursor.as_deref() {
        None => None,
        Some(c) => Some(
            c.split_once('~')
                .map(|(u, i)| (u.to_string(), i.to_string()))
                .ok_or_else(|| ApiError::BadRequest("invalid cursor".into()))?,
        ),
    };
    let filter = ListFilter {
        keywords: crate::service::search::search_keywords(query.q.as_deref())?,
        archived: query.archived,
        pinned: None,
        after,
        limit: page.limit(),
    };
    let items = state
        .db
        .run(move |conn| repo::list(conn, &user_id, &filter))
        .await?;
    let next = page.next_cursor(&items, |c| format!("{}~{}", c.updated_at, c.id));
    Ok(json_response(
        StatusCode::OK,
        &json!({ "conversations": items, "next_cursor": next }),
    ))
}

async fn get_conversation(
    user_id: String,
    id: String,
    state: AppState,
    admin: CurrentUser,
) -> Result<Response, ApiError> {
    let actor = (admin.user.id.clone(), admin.user.username.clone());
    let body = state
        .db
        .run(move |conn| -> Result<_, crate::db::DbError> {
            let Some(conversation) = repo::get(conn, &user_id, &id)? else {
                return Ok(Err(ApiError::NotFound("no such conversation".into())));
            };
            let messages = repo::thread(conn, &conversation, &user_id)?;
            audit::record(
                conn,
                Some((&actor.0, &actor.1)),
                "conversation.read",
                Some(&conversation.id),
                &json!({ "user_id": user_id }),
            )?;
            let mut body = json!(conversation);
            body["messages"] = json!(messages);
            Ok(Ok(body))
        })
        .await??;
    Ok(json_response(StatusCode::OK, &body))
}

async fn delete_conversation(
    user_id: String,
    id: String,
    state: AppState,
    admin: CurrentUser,
) -> Result<Response, ApiError> {
    let actor = (admin.user.id.clone(), admin.user.username.clone());
    let (uid, cid) = (user_id.clone(), id.clone());
    let found = state
        .db
        .run(move |conn| repo::get(conn, &uid, &cid))
        .await?
        .ok_or_else(|| ApiError::NotFound("no such conversation".into()))?;
    if let Some(gen) = state.engine.get(&found.id) {
        gen.stop();
    }
    state
        .db
        .run(move |conn| -> Result<_, crate::db::DbError> {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            repo::delete(&tx, &found.id)?;
            audit::record(
                &tx,
                Some((&actor.0, &actor.1)),
                "conversation.delete",
                Some(&found.id),
                &json!({ "user_id": user_id, "title": found.title }),
            )?;
            tx.commit()?;
            Ok(())
        })
        .await?;
    Ok(super::no_content())
}

#[derive(Deserialize)]
struct FeedbackQuery {
    rating: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

async fn feedback(
    state: AppState,
    _admin: CurrentUser,
    query: FeedbackQuery,
) -> Result<Response, ApiError> {
    let rating = query.rating.filter(|r| !r.is_empty());
    if rating.as_deref().is_some_and(|r| r != "up" && r != "down") {
        return Err(ApiError::invalid("rating", "must be up or down"));
    }
    let page = Page {
        limit: query.limit,
        cursor: query.cursor,
    };
    let limit = page.limit();
    let before = page.cursor.clone();
    let entries = state
        .db
        .run(move |conn| repo::feedback_list(conn, rating.as_deref(), before.as_deref(), limit))
        .await?;
    let next = page.next_cursor(&entries, |e| e.id.clone());
    Ok(json_response(
        StatusCode::OK,
        &json!({ "feedback": entries, "next_cursor": next }),
    ))
}

#[derive(Deserialize)]
struct UsageQuery {
    from: Option<String>,
    to: Option<String>,
    user_id: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

/// `YYYY-MM-DD` (the start of that UTC day) or an RFC 3339 time, as the
/// stored form. `end_of_day` makes a bare date include the whole day.
fn parse_bound(field: &'static str, raw: &str, end_of_day: bool) -> Result<String, ApiError> {
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
        .map_err(|_| ApiError::invalid(field, "must be a date (2024-01-31) or an RFC 3339 time"))
}

async fn usage(
    state: AppState,
    _admin: CurrentUser,
    query: UsageQuery,
) -> Result<Response, ApiError> {
    let today = Utc::now().date_naive();
    let from = match &query.from {
        Some(raw) => parse_bound("from", raw, false)?,
        None => format!("{}T00:00:00Z", today - chrono::Duration::days(29)),
    };
    let to = match &query.to {
        Some(raw) => parse_bound("to", raw, true)?,
        None => plan::next_day_start_str(),
    };
    if from >= to {
        return Err(ApiError::invalid("to", "must be after from"));
    }
    let offset: u32 = match query.cursor.as_deref() {
        None => 0,
        Some(c) => c
            .parse()
            .map_err(|_| ApiError::BadRequest("invalid cursor".into()))?,
    };
    let page = Page {
        limit: query.limit,
        cursor: None,
    };
    let limit = page.limit();
    let user = query.user_id.clone();
    let (from_q, to_q) = (from.clone(), to.clone());
    let (rows, days) = state
        .db
        .run(move |conn| -> Result<_, crate::db::DbError> {
            let rows = plan::usage_report(conn, &from_q, &to_q, user.as_deref(), offset, limit)?;
            let days = plan::usage_by_day(conn, &from_q, &to_q, user.as_deref())?;
            Ok((rows, days))
        })
        .await?;
    let next = (rows.len() as u32 >= limit).then(|| (offset + limit).to_string());
    let totals = json!({
        "messages": days.iter().map(|d| d.messages).sum::<i64>(),
        "prompt_tokens": days.iter().map(|d| d.prompt_tokens).sum::<i64>(),
        "completion_tokens": days.iter().map(|d| d.completion_tokens).sum::<i64>(),
    });
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "from": from,
            "to": to,
            "items": rows,
            "days": days,
            "totals": totals,
            "next_cursor": next,
        }),
    ))
}
