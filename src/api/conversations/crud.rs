//! The conversation and its thread: list, create (and ask at once), read,
//! change, delete; the thread's messages, deleting the last exchange, and
//! feedback on a message.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use warp::http::StatusCode;
use warp::reply::Response;

use super::ask::{answer, AnswerFailed, Exchange, StreamEvent};
use super::{full, owned};
use crate::api::error::{json_bytes_response, json_response, ApiError};
use crate::api::filters::Page;
use crate::api::openapi::Error;
use crate::api::views::{chat, ConversationWithMessages};
use crate::app::AppState;
use crate::auth::CurrentUser;
use crate::db::conversation::{
    self as repo, Conversation, Feedback, FolderFilter, ListFilter, Listed, Message,
};
use crate::db::DbError;
use crate::service::conversations::{self as ops, Change, Created, NewChat};
use crate::service::search::{add_tag, search_keywords, split_tags};

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct ListQuery {
    /// Comma-separated keywords, all must match; a whitespace-separated
    /// `tag:<name>` token is a tag filter instead (`tag:work 강아지`).
    q: Option<String>,
    /// Only the conversations filed in this folder (not its subfolders'), or
    /// with `none` only the unfiled ones; absent: all.
    folder_id: Option<String>,
    /// Archived conversations instead of the others (default false).
    archived: Option<bool>,
    pinned: Option<bool>,
    /// 1–200, default 50.
    limit: Option<u32>,
    cursor: Option<String>,
}

/// A conversation in the list (no system prompt, no current message).
#[derive(Serialize, ToSchema)]
pub struct ConversationItem<'a> {
    id: &'a str,
    title: &'a str,
    model_id: Option<&'a str>,
    pinned: bool,
    archived: bool,
    message_count: i64,
    folder_id: Option<&'a str>,
    /// Sorted case-insensitively.
    tags: Vec<&'a str>,
    /// Always false: temporary chats are never listed.
    temporary: bool,
    created_at: &'a str,
    updated_at: &'a str,
    /// With `q`: the text around the first match in the conversation's
    /// messages (about 160 characters); absent when only the title matched.
    #[serde(skip_serializing_if = "Option::is_none")]
    snippet: Option<&'a str>,
}

impl<'a> ConversationItem<'a> {
    fn new(c: Listed<'a>, snippet: Option<&'a str>) -> Self {
        ConversationItem {
            id: c.id,
            title: c.title,
            model_id: c.model_id,
            pinned: c.pinned,
            archived: c.archived,
            message_count: c.message_count,
            folder_id: c.folder_id,
            tags: c.tags(),
            temporary: c.temporary,
            created_at: c.created_at,
            updated_at: c.updated_at,
            snippet,
        }
    }
}

/// `GET /conversations`: a page of the user's conversations, most recently
/// updated first.
// Written by `PageOut`, item by item as the rows are read.
#[derive(Serialize, ToSchema)]
pub struct Conversations<'a> {
    conversations: Vec<ConversationItem<'a>>,
    next_cursor: Option<String>,
}

/// A [`Conversations`] written as its rows are read, each item straight
/// from its row, with no copy of the page (issue 19); the same bytes serde
/// writes for it (a test below).
struct PageOut {
    out: Vec<u8>,
    items: usize,
}

impl PageOut {
    /// About what an item takes (a typical one is 250–300 bytes).
    const ITEM: usize = 320;

    fn new(limit: u32) -> Self {
        let mut out = Vec::with_capacity(64 + Self::ITEM * limit as usize);
        out.extend_from_slice(br#"{"conversations":["#);
        PageOut { out, items: 0 }
    }

    fn item(&mut self, item: &ConversationItem<'_>) -> serde_json::Result<()> {
        if self.items > 0 {
            self.out.push(b',');
        }
        self.items += 1;
        serde_json::to_writer(&mut self.out, item)
    }

    fn finish(mut self, next_cursor: Option<&str>) -> serde_json::Result<Vec<u8>> {
        self.out.extend_from_slice(br#"],"next_cursor":"#);
        serde_json::to_writer(&mut self.out, &next_cursor)?;
        self.out.push(b'}');
        Ok(self.out)
    }
}

/// `GET /conversations/{id}/messages`: the current thread, root first.
#[derive(Serialize, ToSchema)]
pub struct Messages {
    messages: Vec<Message>,
}

/// The `tag` parameters of a raw query string (the parameter may repeat,
/// which the typed query cannot read).
pub(super) fn query_tags(raw: &str) -> Vec<String> {
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(&s.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned()
    };
    raw.split('&')
        .filter_map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(key) == "tag").then(|| decode(value))
        })
        .collect()
}

#[utoipa::path(get, path = "/conversations", tag = "conversations",
    operation_id = "list_conversations", params(ListQuery,
        ("tag" = Option<Vec<String>>, Query, explode = true,
            description = "Only conversations with this tag (case-insensitive); may repeat, \
                all must match")),
    responses((status = 200, body = Conversations), (status = 400, body = Error),
        (status = 401, body = Error), (status = 404, description = "no such folder", body = Error)))]
pub(super) async fn list(
    state: AppState,
    current: CurrentUser,
    query: ListQuery,
    tag_params: Vec<String>,
) -> Result<Response, ApiError> {
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
    let (q, mut tags) = split_tags(query.q.as_deref().unwrap_or_default());
    for tag in &tag_params {
        add_tag(&mut tags, tag);
    }
    let folder = query.folder_id.map(|f| match f.as_str() {
        "none" => FolderFilter::Unfiled,
        _ => FolderFilter::In(f),
    });
    let keywords = search_keywords(Some(&q))?;
    let searcher = (!keywords.is_empty()).then_some(current.user.id.as_str());
    let filter = ListFilter {
        keywords,
        archived: Some(query.archived.unwrap_or(false)),
        pinned: query.pinned,
        folder,
        tags,
        after,
        limit: page.limit(),
    };
    let user_id = current.user.id.clone();
    let body = state
        .db
        .run_search(searcher, move |conn| -> Result<_, ApiError> {
            if let Some(FolderFilter::In(folder)) = &filter.folder {
                if crate::db::folder::get(conn, &user_id, folder)?.is_none() {
                    return Err(ApiError::NotFound("no such folder".into()));
                }
            }
            let written = |e: serde_json::Error| DbError::Task(format!("a page of the list: {e}"));
            let mut out = PageOut::new(filter.limit);
            let mut next_cursor = None;
            repo::each_listed(conn, &user_id, &filter, |c, snippet| {
                out.item(&ConversationItem::new(c, snippet))
                    .map_err(written)?;
                if page.is_full(out.items) {
                    next_cursor = Some(format!("{}~{}", c.updated_at, c.id));
                }
                Ok(())
            })?;
            Ok(out.finish(next_cursor.as_deref()).map_err(written)?)
        })
        .await?;
    Ok(json_bytes_response(StatusCode::OK, body))
}

/// A new conversation; with `message`, its first question asked at once.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CreateConversationBody)]
pub(super) struct CreateBody {
    title: Option<String>,
    model_id: Option<String>,
    /// With `message`: 2–3 distinct models that answer the first question
    /// side by side (instead of `model_id`), as in
    /// `POST /conversations/{id}/messages`.
    #[schema(min_items = 2, max_items = 3)]
    model_ids: Option<Vec<String>>,
    system_prompt: Option<String>,
    /// Sends the first turn at once.
    message: Option<String>,
    /// Answer with server-sent events (default: whether `Accept` asks for
    /// `text/event-stream`).
    stream: Option<bool>,
    /// Collector items the first question carries.
    collector_item_ids: Option<Vec<String>>,
    /// Uploaded files (`POST /files`) the first question carries, at most 20.
    file_ids: Option<Vec<String>>,
    /// A temporary chat: never listed or searched, not filed, tagged,
    /// shared or exported, deleted 24 h after it was created at the latest.
    /// Forced when one of the user's groups makes every chat temporary.
    temporary: Option<bool>,
}

/// What POST /conversations answers: the new conversation, or with `message`
/// the first exchange (its `conversation_id` is the new conversation's id).
/// A shape for the document only.
#[derive(ToSchema)]
#[serde(untagged)]
#[allow(dead_code, clippy::large_enum_variant)]
pub(super) enum CreatedConversation {
    Conversation(Conversation),
    Exchange(Exchange),
}

#[utoipa::path(post, path = "/conversations", tag = "conversations",
    operation_id = "create_conversation", request_body = CreateBody,
    responses((status = 201, description = "the conversation, or with `message` the first exchange",
            body = CreatedConversation),
        (status = 200, description = "with `message` and `stream: true`: server-sent events \
            (see `GET /conversations/{id}/stream`)",
            content_type = "text/event-stream", body = StreamEvent),
        (status = 400, body = Error), (status = 401, body = Error), (status = 403, body = Error),
        (status = 404, body = Error), (status = 422, body = Error), (status = 429, body = Error),
        (status = "5XX", description = "the answer failed upstream", body = AnswerFailed)))]
pub(super) async fn create(
    state: AppState,
    current: CurrentUser,
    accept_sse: bool,
    body: CreateBody,
) -> Result<Response, ApiError> {
    let stream = body.stream.unwrap_or(accept_sse);
    let new = NewChat {
        title: body.title,
        model_id: body.model_id,
        model_ids: body.model_ids,
        system_prompt: body.system_prompt,
        message: body.message,
        collector_item_ids: body.collector_item_ids,
        file_ids: body.file_ids,
        temporary: body.temporary.unwrap_or(false),
    };
    match ops::create(&chat(&state), &current.user.id, new).await? {
        Created::Empty(conversation) => Ok(json_response(StatusCode::CREATED, &conversation)),
        Created::Asked(started) => answer(started, stream).await,
    }
}

#[utoipa::path(get, path = "/conversations/{id}", tag = "conversations",
    operation_id = "get_conversation", params(("id" = String, Path)),
    responses((status = 200, body = ConversationWithMessages), (status = 401, body = Error),
        (status = 404, body = Error)))]
pub(super) async fn get(
    id: String,
    state: AppState,
    current: CurrentUser,
) -> Result<Response, ApiError> {
    let conversation = owned(&state, &current, id).await?;
    Ok(json_response(
        StatusCode::OK,
        &full(&state, &current, conversation).await?,
    ))
}

/// Changes to a conversation; an absent field stays as it is.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = UpdateConversationBody)]
pub(super) struct UpdateBody {
    title: Option<String>,
    pinned: Option<bool>,
    archived: Option<bool>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "crate::api::filters::double_option")]
    #[schema(value_type = Option<String>)]
    model_id: Option<Option<String>>,
    system_prompt: Option<String>,
    /// Switches to the branch of this message.
    current_message_id: Option<String>,
    /// Files it in one of the user's folders; `null` unfiles it.
    #[serde(default, deserialize_with = "crate::api::filters::double_option")]
    #[schema(value_type = Option<String>)]
    folder_id: Option<Option<String>>,
    /// Replaces its tags: each trimmed, 1–50 characters, no comma, at most
    /// 20 (case-insensitive repeats merged).
    tags: Option<Vec<String>>,
}

#[utoipa::path(patch, path = "/conversations/{id}", tag = "conversations",
    operation_id = "update_conversation", params(("id" = String, Path)), request_body = UpdateBody,
    responses((status = 200, body = ConversationWithMessages), (status = 400, body = Error),
        (status = 401, body = Error), (status = 403, body = Error), (status = 404, body = Error),
        (status = 409, body = Error), (status = 422, body = Error)))]
pub(super) async fn update(
    id: String,
    state: AppState,
    current: CurrentUser,
    body: UpdateBody,
) -> Result<Response, ApiError> {
    let conversation = owned(&state, &current, id).await?;
    let change = Change {
        title: body.title,
        pinned: body.pinned,
        archived: body.archived,
        model_id: body.model_id,
        system_prompt: body.system_prompt,
        current_message_id: body.current_message_id,
        folder_id: body.folder_id,
        tags: body.tags,
    };
    let updated = ops::update(&chat(&state), &current.user.id, conversation, change).await?;
    Ok(json_response(
        StatusCode::OK,
        &full(&state, &current, updated).await?,
    ))
}

/// `PUT /conversations/{id}`: the same as `PATCH` (a documentation stub; the
/// route is [`update`]'s).
#[utoipa::path(put, path = "/conversations/{id}", tag = "conversations",
    params(("id" = String, Path)), request_body = UpdateBody,
    responses((status = 200, body = ConversationWithMessages), (status = 400, body = Error),
        (status = 401, body = Error), (status = 403, body = Error), (status = 404, body = Error),
        (status = 409, body = Error), (status = 422, body = Error)))]
#[allow(dead_code)]
pub(super) fn replace_conversation() {}

#[utoipa::path(delete, path = "/conversations/{id}", tag = "conversations",
    operation_id = "delete_conversation", params(("id" = String, Path)),
    responses((status = 204, description = "deleted"), (status = 401, body = Error),
        (status = 404, body = Error), (status = 409, body = Error)))]
pub(super) async fn delete(
    id: String,
    state: AppState,
    current: CurrentUser,
) -> Result<Response, ApiError> {
    let conversation = owned(&state, &current, id).await?;
    ops::delete(&chat(&state), conversation).await?;
    Ok(crate::api::no_content())
}

#[utoipa::path(get, path = "/conversations/{id}/messages", tag = "conversations",
    params(("id" = String, Path)),
    responses((status = 200, body = Messages), (status = 401, body = Error),
        (status = 404, body = Error)))]
pub(super) async fn list_messages(
    id: String,
    state: AppState,
    current: CurrentUser,
) -> Result<Response, ApiError> {
    let conversation = owned(&state, &current, id).await?;
    let messages = full(&state, &current, conversation).await?.messages;
    Ok(json_response(StatusCode::OK, &Messages { messages }))
}

#[utoipa::path(delete, path = "/conversations/{id}/messages/last", tag = "conversations",
    params(("id" = String, Path)),
    responses((status = 204, description = "the last exchange is gone"),
        (status = 401, body = Error),
        (status = 404, description = "no such conversation, or it has no messages", body = Error),
        (status = 409, body = Error)))]
pub(super) async fn delete_last(
    id: String,
    state: AppState,
    current: CurrentUser,
) -> Result<Response, ApiError> {
    let conversation = owned(&state, &current, id).await?;
    if !ops::delete_last(&chat(&state), conversation).await? {
        return Err(ApiError::NotFound(
            "the conversation has no messages".into(),
        ));
    }
    Ok(crate::api::no_content())
}

/// A rating of one answer (`message_id` is required: a rating without it
/// would land on whichever answer is current, another than the user saw).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct FeedbackBody {
    message_id: String,
    /// `up` or `down`.
    rating: String,
    /// Kept to its first 2000 characters.
    comment: Option<String>,
    /// Why (thumbs down): any of `style`, `too_verbose`, `not_helpful`,
    /// `incorrect`, `ignored_instructions`, `refused`, `unsafe`, `other`.
    reasons: Option<Vec<String>>,
}

/// The rating as it was saved.
#[derive(Serialize, ToSchema)]
pub struct FeedbackSaved {
    message_id: String,
    rating: String,
    comment: Option<String>,
    reasons: Vec<String>,
}

#[utoipa::path(post, path = "/conversations/{id}/feedback", tag = "conversations",
    params(("id" = String, Path)), request_body = FeedbackBody,
    responses((status = 200, body = FeedbackSaved), (status = 400, body = Error),
        (status = 401, body = Error), (status = 404, body = Error), (status = 422, body = Error)))]
pub(super) async fn feedback(
    id: String,
    state: AppState,
    current: CurrentUser,
    body: FeedbackBody,
) -> Result<Response, ApiError> {
    let conversation = owned(&state, &current, id).await?;
    let feedback = Feedback {
        rating: body.rating,
        comment: body.comment,
        reasons: body.reasons.unwrap_or_default(),
    };
    let user_id = current.user.id.clone();
    let (message_id, saved) =
        ops::rate(&state.db, user_id, &conversation, body.message_id, feedback).await?;
    Ok(json_response(
        StatusCode::OK,
        &FeedbackSaved {
            message_id,
            rating: saved.rating,
            comment: saved.comment,
            reasons: saved.reasons,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_tag_parameters_are_read_decoded() {
        assert_eq!(
            query_tags("q=x&tag=work&limit=5&tag=%EC%97%AC%ED%96%89&tag=a+b&tags=no"),
            ["work", "여행", "a b"]
        );
        assert!(query_tags("").is_empty());
        assert_eq!(query_tags("tag"), [""]);
        assert_eq!(query_tags("tag=%FF"), ["\u{FFFD}"]);
    }

    fn item<'a>(id: &'a str, tags: Vec<&'a str>, snippet: Option<&'a str>) -> ConversationItem<'a> {
        ConversationItem {
            id,
            title: "제목 \"quoted\"\n",
            model_id: None,
            pinned: true,
            archived: false,
            message_count: 3,
            folder_id: Some("f"),
            tags,
            temporary: false,
            created_at: "2026-12-06T10:00:00Z",
            updated_at: "2026-12-06T11:00:00Z",
            snippet,
        }
    }

    /// The page written item by item is what serde writes for the documented
    /// `Conversations` (empty, one item, several; with and without a cursor).
    #[test]
    fn a_page_written_item_by_item_is_the_documented_shape() {
        let pages = [
            (vec![], None),
            (vec![item("a", vec![], None)], None),
            (
                vec![
                    item("a", vec!["Work", "여행"], Some("…강아지…")),
                    item("b", vec![], None),
                ],
                Some("2026-12-06T11:00:00Z~b".to_string()),
            ),
        ];
        for (items, next_cursor) in pages {
            let mut page = PageOut::new(50);
            for i in &items {
                page.item(i).unwrap();
            }
            let written = page.finish(next_cursor.as_deref()).unwrap();
            let documented = serde_json::to_vec(&Conversations {
                conversations: items,
                next_cursor,
            })
            .unwrap();
            assert_eq!(
                String::from_utf8(written).unwrap(),
                String::from_utf8(documented).unwrap()
            );
        }
    }
}
