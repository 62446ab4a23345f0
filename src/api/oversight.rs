//! Admin oversight (SPEC §3 "Administration"): a user's conversations (read,
//! delete), everyone's feedback, and usage per user and model over a date
//! range. Reading or deleting someone's conversation is written to the audit log.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::error::{json_response, respond, ApiError};
use super::filters::{admin, with_state, Page};
use crate::api::openapi::Error;
use crate::api::views::ConversationWithMessages;
use crate::app::AppState;
use crate::auth::CurrentUser;
use crate::db::conversation::{self as repo, Conversation};
use crate::db::plan;
use crate::service::oversight as service;

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

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(list_conversations, get_conversation, delete_conversation, feedback, usage),
    components(schemas(UserConversations, FeedbackEntry, FeedbackList, UsageRow, UsageDay,
        UsageTotals, UsageReport)),
    tags((name = "admin"))
)]
pub struct Doc;

// ── A user's conversations ──────────────────────────────────────────────────

#[derive(Deserialize)]
struct ConversationQuery {
    q: Option<String>,
    archived: Option<bool>,
    limit: Option<u32>,
    cursor: Option<String>,
}

/// A page of a user's conversations, as their own list shows them.
#[derive(Serialize, ToSchema)]
pub struct UserConversations {
    conversations: Vec<Conversation>,
    next_cursor: Option<String>,
}

#[utoipa::path(get, path = "/users/{user_id}/conversations", tag = "admin",
    params(("user_id" = String, Path),
        ("q" = Option<String>, Query, description = "comma-separated keywords, all must match"),
        ("archived" = Option<bool>, Query),
        ("limit" = Option<u32>, Query, description = "1–200, default 50"),
        ("cursor" = Option<String>, Query)),
    responses((status = 200, body = UserConversations), (status = 400, body = Error),
        (status = 401, body = Error), (status = 403, body = Error), (status = 404, body = Error)))]
async fn list_conversations(
    user_id: String,
    state: AppState,
    _admin: CurrentUser,
    query: ConversationQuery,
) -> Result<Response, ApiError> {
    let page = Page {
        limit: query.limit,
        cursor: query.cursor,
    };
    let conversations = service::conversations(
        &state.db,
        user_id,
        query.q.as_deref(),
        query.archived,
        page.cursor.as_deref(),
        page.limit(),
    )
    .await?;
    let next_cursor = page.next_cursor(&conversations, |c| format!("{}~{}", c.updated_at, c.id));
    Ok(json_response(
        StatusCode::OK,
        &UserConversations {
            conversations,
            next_cursor,
        },
    ))
}

#[utoipa::path(get, path = "/users/{user_id}/conversations/{id}", tag = "admin",
    params(("user_id" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = ConversationWithMessages,
            description = "the conversation with its current thread, as `GET /conversations/{id}` shows it"),
        (status = 401, body = Error), (status = 403, body = Error), (status = 404, body = Error)))]
async fn get_conversation(
    user_id: String,
    id: String,
    state: AppState,
    admin: CurrentUser,
) -> Result<Response, ApiError> {
    let (conversation, messages) = service::read(&state.db, admin.actor(), user_id, id).await?;
    Ok(json_response(
        StatusCode::OK,
        &ConversationWithMessages {
            conversation,
            messages,
        },
    ))
}

#[utoipa::path(delete, path = "/users/{user_id}/conversations/{id}", tag = "admin",
    params(("user_id" = String, Path), ("id" = String, Path)),
    responses((status = 204, description = "deleted"), (status = 401, body = Error),
        (status = 403, body = Error), (status = 404, body = Error)))]
async fn delete_conversation(
    user_id: String,
    id: String,
    state: AppState,
    admin: CurrentUser,
) -> Result<Response, ApiError> {
    service::delete(&state.db, &state.engine, admin.actor(), user_id, id).await?;
    Ok(super::no_content())
}

// ── Feedback ────────────────────────────────────────────────────────────────

#[derive(Deserialize)]
struct FeedbackQuery {
    rating: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

/// One rating as admins see it (types.ts `FeedbackEntry`).
#[derive(Serialize, ToSchema)]
pub struct FeedbackEntry {
    id: String,
    /// `up` or `down`.
    rating: String,
    comment: Option<String>,
    /// Why (thumbs down): the reason codes picked.
    reasons: Vec<String>,
    user_id: String,
    username: Option<String>,
    conversation_id: String,
    conversation_title: String,
    message_id: String,
    model_id: Option<String>,
    /// The first 300 characters of the rated answer.
    excerpt: String,
    created_at: String,
    updated_at: String,
}

impl From<repo::FeedbackEntry> for FeedbackEntry {
    fn from(e: repo::FeedbackEntry) -> Self {
        FeedbackEntry {
            id: e.id,
            rating: e.rating,
            comment: e.comment,
            reasons: e.reasons,
            user_id: e.user_id,
            username: e.username,
            conversation_id: e.conversation_id,
            conversation_title: e.conversation_title,
            message_id: e.message_id,
            model_id: e.model_id,
            excerpt: e.excerpt,
            created_at: e.created_at,
            updated_at: e.updated_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct FeedbackList {
    feedback: Vec<FeedbackEntry>,
    next_cursor: Option<String>,
}

#[utoipa::path(get, path = "/admin/feedback", tag = "admin",
    params(("rating" = Option<String>, Query, description = "`up` or `down`"),
        ("limit" = Option<u32>, Query), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = FeedbackList), (status = 400, body = Error),
        (status = 401, body = Error), (status = 403, body = Error), (status = 422, body = Error)))]
async fn feedback(
    state: AppState,
    _admin: CurrentUser,
    query: FeedbackQuery,
) -> Result<Response, ApiError> {
    let page = Page {
        limit: query.limit,
        cursor: query.cursor,
    };
    let entries =
        service::feedback(&state.db, query.rating, page.cursor.clone(), page.limit()).await?;
    let next_cursor = page.next_cursor(&entries, |e| e.id.clone());
    let feedback = entries.into_iter().map(FeedbackEntry::from).collect();
    Ok(json_response(
        StatusCode::OK,
        &FeedbackList {
            feedback,
            next_cursor,
        },
    ))
}

// ── Usage ───────────────────────────────────────────────────────────────────

#[derive(Deserialize)]
struct UsageQuery {
    from: Option<String>,
    to: Option<String>,
    user_id: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

/// A user's use of one model over the range (types.ts `UsageRow`).
#[derive(Serialize, ToSchema)]
pub struct UsageRow {
    user_id: String,
    username: Option<String>,
    model_id: String,
    messages: i64,
    prompt_tokens: i64,
    completion_tokens: i64,
}

/// One UTC day of usage (for the chart).
#[derive(Serialize, ToSchema)]
pub struct UsageDay {
    /// `YYYY-MM-DD`.
    date: String,
    messages: i64,
    prompt_tokens: i64,
    completion_tokens: i64,
}

#[derive(Serialize, ToSchema)]
pub struct UsageTotals {
    messages: i64,
    prompt_tokens: i64,
    completion_tokens: i64,
}

#[derive(Serialize, ToSchema)]
pub struct UsageReport {
    from: String,
    to: String,
    items: Vec<UsageRow>,
    days: Vec<UsageDay>,
    totals: UsageTotals,
    next_cursor: Option<String>,
}

#[utoipa::path(get, path = "/admin/usage", tag = "admin",
    params(("from" = Option<String>, Query, description = "a date (2024-01-31) or an RFC 3339 time"),
        ("to" = Option<String>, Query, description = "a date (included) or an RFC 3339 time"),
        ("user_id" = Option<String>, Query), ("limit" = Option<u32>, Query),
        ("cursor" = Option<String>, Query)),
    responses((status = 200, body = UsageReport), (status = 400, body = Error),
        (status = 401, body = Error), (status = 403, body = Error), (status = 422, body = Error)))]
async fn usage(
    state: AppState,
    _admin: CurrentUser,
    query: UsageQuery,
) -> Result<Response, ApiError> {
    let limit = Page {
        limit: query.limit,
        cursor: None,
    }
    .limit();
    let report = service::usage(
        &state.db,
        query.from.as_deref(),
        query.to.as_deref(),
        query.user_id,
        query.cursor.as_deref(),
        limit,
    )
    .await?;
    let totals = UsageTotals {
        messages: report.days.iter().map(|d| d.messages).sum(),
        prompt_tokens: report.days.iter().map(|d| d.prompt_tokens).sum(),
        completion_tokens: report.days.iter().map(|d| d.completion_tokens).sum(),
    };
    Ok(json_response(
        StatusCode::OK,
        &UsageReport {
            from: report.from,
            to: report.to,
            items: report.rows.into_iter().map(UsageRow::from).collect(),
            days: report.days.into_iter().map(UsageDay::from).collect(),
            totals,
            next_cursor: report.next_cursor,
        },
    ))
}

impl From<plan::UsageRow> for UsageRow {
    fn from(r: plan::UsageRow) -> Self {
        UsageRow {
            user_id: r.user_id,
            username: r.username,
            model_id: r.model_id,
            messages: r.messages,
            prompt_tokens: r.prompt_tokens,
            completion_tokens: r.completion_tokens,
        }
    }
}

impl From<plan::UsageDay> for UsageDay {
    fn from(d: plan::UsageDay) -> Self {
        UsageDay {
            date: d.date,
            messages: d.messages,
            prompt_tokens: d.prompt_tokens,
            completion_tokens: d.completion_tokens,
        }
    }
}
