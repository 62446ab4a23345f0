//! Conversations and their message tree: the row types (the API's wire
//! shapes), the message vocabulary ([`Role`], [`Status`]), the conversation
//! rows themselves (create, read, list, change, delete) and the admins' view
//! of feedback. Reading the tree is in `tree`, writing it (a turn's
//! transaction, an answer's text and end) in `turn`.

use rusqlite::types::{
    FromSql, FromSqlError, FromSqlResult, ToSqlOutput, Value as SqlValue, ValueRef,
};
use rusqlite::{params, params_from_iter, Connection, OptionalExtension, Row, ToSql};
use serde::{Deserialize, Serialize};

use super::DbError;

mod tree;
mod turn;

pub use tree::{context_of, latest_leaf, message, message_with_siblings, snapshot, thread};
pub(super) use turn::insert_message;
pub use turn::{
    add_answer, add_exchange, create_from_snapshot, delete_last_exchange, finish, flush_partial,
    mark_interrupted, set_context, set_current, set_error_detail, set_feedback, turn,
};

/// Who wrote a message (the `role` column's CHECK values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = MessageRole)]
pub enum Role {
    System,
    User,
    Assistant,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "system" => Some(Role::System),
            "user" => Some(Role::User),
            "assistant" => Some(Role::Assistant),
            _ => None,
        }
    }
}

/// Where a message stands (the `status` column's CHECK values): a question
/// is `complete` at once; an answer is `streaming` while it is written, then
/// `complete`, `stopped` (by its user) or `error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = MessageStatus)]
pub enum Status {
    Complete,
    Streaming,
    Stopped,
    Error,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Complete => "complete",
            Status::Streaming => "streaming",
            Status::Stopped => "stopped",
            Status::Error => "error",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        match s {
            "complete" => Some(Status::Complete),
            "streaming" => Some(Status::Streaming),
            "stopped" => Some(Status::Stopped),
            "error" => Some(Status::Error),
            _ => None,
        }
    }
}

/// Both enums are stored as their wire text.
macro_rules! text_column {
    ($t:ty) => {
        impl ToSql for $t {
            fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
                Ok(ToSqlOutput::from(self.as_str()))
            }
        }

        impl FromSql for $t {
            fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
                let text = value.as_str()?;
                <$t>::parse(text).ok_or_else(|| {
                    FromSqlError::Other(format!("unknown {} {text:?}", stringify!($t)).into())
                })
            }
        }
    };
}
text_column!(Role);
text_column!(Status);

/// A conversation as its owner sees it (`user_id` never leaves the server).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Conversation {
    pub id: String,
    #[serde(skip)]
    pub user_id: String,
    pub title: String,
    pub model_id: Option<String>,
    pub system_prompt: String,
    pub pinned: bool,
    pub archived: bool,
    pub current_message_id: Option<String>,
    pub message_count: i64,
    /// The folder it is filed in (`null`: unfiled).
    pub folder_id: Option<String>,
    /// Its tags, sorted case-insensitively.
    pub tags: Vec<String>,
    /// A temporary chat: never listed or searched, deleted 24 h after it
    /// was created at the latest.
    pub temporary: bool,
    pub created_at: String,
    pub updated_at: String,
}

/// The tokens an answer took, as its provider counted them.
#[derive(Debug, Clone, Copy, Serialize, Default, PartialEq, Eq, utoipa::ToSchema)]
pub struct Usage {
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
}

/// The signed-in user's rating of a message.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Feedback {
    /// `up` or `down`.
    pub rating: String,
    pub comment: Option<String>,
    /// Why (thumbs down): any of [`FEEDBACK_REASONS`].
    pub reasons: Vec<String>,
}

/// The reasons a thumbs-down may give (ChatGPT's and Open WebUI's categories).
pub const FEEDBACK_REASONS: [&str; 8] = [
    "style",
    "too_verbose",
    "not_helpful",
    "incorrect",
    "ignored_instructions",
    "refused",
    "unsafe",
    "other",
];

/// A stored reasons column (a JSON array) as a list; anything else is none.
pub(crate) fn reasons_from(raw: Option<String>) -> Vec<String> {
    raw.and_then(|r| serde_json::from_str(&r).ok())
        .unwrap_or_default()
}

/// One message of a conversation's tree, with the ids of its siblings (the
/// other versions of it: edits of a question, regenerated answers).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Message {
    pub id: String,
    #[serde(skip)]
    pub conversation_id: String,
    pub idx: i64,
    pub role: Role,
    pub content: String,
    pub model_id: Option<String>,
    pub status: Status,
    /// Why the answer failed (absent unless `status` is `error`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub parent_id: Option<String>,
    pub sibling_ids: Vec<String>,
    pub usage: Usage,
    /// The signed-in user's rating (absent when none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feedback: Option<Feedback>,
    /// The collector items this question carried to the model (absent when none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(required = false)]
    pub context: Vec<ContextItem>,
    /// The files this question carried (`POST /files`), in order.
    pub files: Vec<crate::db::file::StoredFile>,
    pub created_at: String,
    pub updated_at: String,
}

/// One collector item a question carried (SPEC §3 "Collector").
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct ContextItem {
    pub collector_item_id: String,
    pub title: String,
    /// Only the beginning fit the context budget.
    pub truncated: bool,
}

/// A conversation's (`c`'s) tags in one text joined by U+001F (a tag never
/// holds a control character: `service::conversations::normalize_tags`),
/// NULL without tags, in no particular order ([`Listed::tags`] sorts them).
/// Read with the row, by the primary key's index: a second query for the
/// page, which bound a JSON array of its ids, took a tenth of a list's CPU
/// (issue 19).
macro_rules! tags_column {
    () => {
        "(SELECT group_concat(t.tag, char(31)) FROM conversation_tag t \
           WHERE t.conversation_id = c.id)"
    };
}
macro_rules! conversation_columns {
    ($tags:expr) => {
        concat!(
            "c.id, c.user_id, c.title, c.model_id, c.system_prompt, c.pinned, c.archived, \
             c.current_message_id, c.message_count, c.created_at, c.updated_at, c.folder_id, \
             c.temporary, ",
            $tags
        )
    };
}
/// The columns [`Listed::from_row`] and [`conversation_from`] read.
const CONVERSATION_COLUMNS: &str = conversation_columns!(tags_column!());
/// [`CONVERSATION_COLUMNS`] for a statement whose `?1` is the owner: when
/// the owner has no tags at all (checked once per statement, not per row) the
/// tags are not looked up row by row (a lookup is about a quarter of what
/// SQLite spends on the row).
const OWNERS_CONVERSATION_COLUMNS: &str = conversation_columns!(concat!(
    "CASE WHEN EXISTS (SELECT 1 FROM conversation_tag u WHERE u.user_id = ?1) THEN ",
    tags_column!(),
    " END"
));
/// Joins the tags in the last of [`CONVERSATION_COLUMNS`].
const TAG_SEPARATOR: char = '\u{1f}';
/// Leaves out conversations still being imported (src/db/import.rs). `NOT
/// IN` reads that (nearly always empty) table through one cursor for the
/// whole statement; a correlated `NOT EXISTS` opened a cursor per row (5% of
/// a busy search's CPU, issue 19). `conversation_id` is never NULL.
const NOT_IMPORTING: &str = "c.id NOT IN (SELECT conversation_id FROM conversation_import)";
const MESSAGE_COLUMNS: &str = "id, conversation_id, idx, role, content, model_id, status, error, \
    parent_id, prompt_tokens, completion_tokens, created_at, updated_at";

/// A conversation as the list shows it, borrowed from its row: a page is
/// written out without a copy of each row's text (with the tags' second
/// query, those copies and their frees were a third of a list's
/// instructions, issue 19).
#[derive(Debug, Clone, Copy)]
pub struct Listed<'r> {
    pub id: &'r str,
    pub title: &'r str,
    pub model_id: Option<&'r str>,
    pub pinned: bool,
    pub archived: bool,
    pub message_count: i64,
    pub folder_id: Option<&'r str>,
    tags: Option<&'r str>,
    pub temporary: bool,
    pub created_at: &'r str,
    pub updated_at: &'r str,
}

impl<'r> Listed<'r> {
    /// Reads a row of [`CONVERSATION_COLUMNS`].
    fn from_row(row: &'r Row<'_>) -> rusqlite::Result<Self> {
        let text = |i: usize| -> rusqlite::Result<&'r str> { Ok(row.get_ref(i)?.as_str()?) };
        let maybe = |i: usize| -> rusqlite::Result<Option<&'r str>> {
            Ok(row.get_ref(i)?.as_str_or_null()?)
        };
        Ok(Listed {
            id: text(0)?,
            title: text(2)?,
            model_id: maybe(3)?,
            pinned: row.get(5)?,
            archived: row.get(6)?,
            message_count: row.get(8)?,
            folder_id: maybe(11)?,
            tags: maybe(13)?,
            temporary: row.get(12)?,
            created_at: text(9)?,
            updated_at: text(10)?,
        })
    }

    /// Its tags, sorted case-insensitively (as SQLite's `NOCASE` compares:
    /// ASCII letters folded).
    pub fn tags(&self) -> Vec<&'r str> {
        let mut tags: Vec<&str> = self
            .tags
            .into_iter()
            .flat_map(|t| t.split(TAG_SEPARATOR))
            .collect();
        let folded = |s: &'r str| s.bytes().map(|b| b.to_ascii_lowercase());
        tags.sort_unstable_by(|a, b| folded(a).cmp(folded(b)).then_with(|| a.cmp(b)));
        tags
    }
}

fn conversation_from(row: &Row<'_>) -> rusqlite::Result<Conversation> {
    let listed = Listed::from_row(row)?;
    Ok(Conversation {
        id: listed.id.to_owned(),
        user_id: row.get(1)?,
        title: listed.title.to_owned(),
        model_id: listed.model_id.map(str::to_owned),
        system_prompt: row.get(4)?,
        pinned: listed.pinned,
        archived: listed.archived,
        current_message_id: row.get(7)?,
        message_count: listed.message_count,
        folder_id: listed.folder_id.map(str::to_owned),
        tags: listed.tags().into_iter().map(str::to_owned).collect(),
        temporary: listed.temporary,
        created_at: listed.created_at.to_owned(),
        updated_at: listed.updated_at.to_owned(),
    })
}

fn message_from(row: &Row<'_>) -> rusqlite::Result<Message> {
    Ok(Message {
        id: row.get(0)?,
        conversation_id: row.get(1)?,
        idx: row.get(2)?,
        role: row.get(3)?,
        content: row.get(4)?,
        model_id: row.get(5)?,
        status: row.get(6)?,
        error: row.get(7)?,
        parent_id: row.get(8)?,
        sibling_ids: Vec::new(),
        usage: Usage {
            prompt_tokens: row.get(9)?,
            completion_tokens: row.get(10)?,
        },
        feedback: None,
        context: Vec::new(),
        files: Vec::new(),
        created_at: row.get(11)?,
        updated_at: row.get(12)?,
    })
}

pub struct NewConversation<'a> {
    pub title: &'a str,
    pub model_id: Option<&'a str>,
    pub system_prompt: &'a str,
}

pub fn create(
    conn: &Connection,
    user_id: &str,
    new: &NewConversation<'_>,
) -> Result<Conversation, DbError> {
    create_as(conn, user_id, new, false)
}

/// [`create`], of a temporary chat when `temporary`.
pub fn create_as(
    conn: &Connection,
    user_id: &str,
    new: &NewConversation<'_>,
    temporary: bool,
) -> Result<Conversation, DbError> {
    let id = super::new_id();
    let now = super::now();
    conn.prepare_cached(
        "INSERT INTO conversation
            (id, user_id, title, model_id, system_prompt, temporary, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
    )?
    .execute(params![
        id,
        user_id,
        new.title,
        new.model_id,
        new.system_prompt,
        temporary,
        now
    ])?;
    get_any(conn, &id)?.ok_or_else(|| DbError::Task("inserted conversation vanished".into()))
}

/// The conversation if it belongs to `user_id` (another user's is `None`, so
/// the API answers 404 and never tells that it exists).
pub fn get(conn: &Connection, user_id: &str, id: &str) -> Result<Option<Conversation>, DbError> {
    Ok(get_any(conn, id)?.filter(|c| c.user_id == user_id))
}

/// A conversation by id, whoever's it is; one still being imported is not
/// there yet (src/db/import.rs).
pub(super) fn get_any(conn: &Connection, id: &str) -> Result<Option<Conversation>, DbError> {
    let sql = format!(
        "SELECT {CONVERSATION_COLUMNS} FROM conversation c WHERE c.id = ?1 AND {NOT_IMPORTING}"
    );
    Ok(conn
        .prepare_cached(&sql)?
        .query_row([id], conversation_from)
        .optional()?)
}

/// Which folder the list shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FolderFilter {
    /// Only unfiled conversations.
    Unfiled,
    /// Only those filed in this folder (not its subfolders').
    In(String),
}

/// What the conversation list is filtered by.
#[derive(Debug, Default, Clone)]
pub struct ListFilter {
    /// Every keyword must occur in the title or in a message that is not
    /// streaming (case-insensitive substring). A comma separates keywords.
    pub keywords: Vec<String>,
    pub archived: Option<bool>,
    pub pinned: Option<bool>,
    /// `None`: every folder and none.
    pub folder: Option<FolderFilter>,
    /// Every tag must be the conversation's (case-insensitive).
    pub tags: Vec<String>,
    /// `(updated_at, id)` of the last item of the previous page.
    pub after: Option<(String, String)>,
    pub limit: u32,
}

/// The user's conversations, most recently updated first (temporary chats
/// never). With keywords, the search (src/db/search.rs) picks the rows and
/// this fetches them.
pub fn list(
    conn: &Connection,
    user_id: &str,
    filter: &ListFilter,
) -> Result<Vec<Conversation>, DbError> {
    let mut found = Vec::new();
    let mut keep = |row: &Row<'_>| {
        found.push(conversation_from(row)?);
        Ok(())
    };
    if filter.keywords.is_empty() {
        each_row(conn, user_id, filter, &mut keep)?;
    } else {
        // The search and the fetch read one snapshot, so the rows come back
        // as the search saw them.
        super::in_snapshot(conn, || {
            each_by_rowid(
                conn,
                &super::search::matching(conn, user_id, filter)?,
                &mut keep,
            )
        })?;
    }
    Ok(found)
}

/// [`list`] for `GET /conversations`: calls `each` with every conversation
/// of the page, in order, borrowed from its row, and with keywords its
/// snippet (the text around the first keyword; `None` when only the title
/// matched), all read in the search's snapshot.
pub fn each_listed(
    conn: &Connection,
    user_id: &str,
    filter: &ListFilter,
    mut each: impl FnMut(Listed<'_>, Option<&str>) -> Result<(), DbError>,
) -> Result<(), DbError> {
    if filter.keywords.is_empty() {
        return each_row(conn, user_id, filter, |row| {
            each(Listed::from_row(row)?, None)
        });
    }
    super::in_snapshot(conn, || {
        let found = super::search::found(conn, user_id, filter)?;
        let rowids: Vec<i64> = found.iter().map(|f| f.rowid).collect();
        let snippets = super::search::snippets_of(conn, &found, &filter.keywords)?;
        let mut snippets = snippets.iter();
        each_by_rowid(conn, &rowids, |row| {
            let snippet = snippets.next().and_then(Option::as_deref);
            each(Listed::from_row(row)?, snippet)
        })
    })
}

/// Calls `each` with the rows of [`CONVERSATION_COLUMNS`] that `filter`
/// (without keywords) picks, in list order.
fn each_row(
    conn: &Connection,
    user_id: &str,
    filter: &ListFilter,
    mut each: impl FnMut(&Row<'_>) -> Result<(), DbError>,
) -> Result<(), DbError> {
    let mut sql = format!(
        "SELECT {OWNERS_CONVERSATION_COLUMNS} FROM conversation c
          WHERE c.user_id = ?1 AND c.temporary = 0 AND {NOT_IMPORTING}"
    );
    let mut args: Vec<SqlValue> = vec![user_id.to_string().into()];
    match &filter.folder {
        None => {}
        Some(FolderFilter::Unfiled) => sql.push_str(" AND c.folder_id IS NULL"),
        Some(FolderFilter::In(folder)) => {
            sql.push_str(" AND c.folder_id = ?");
            args.push(folder.clone().into());
        }
    }
    for tag in &filter.tags {
        sql.push_str(
            " AND EXISTS (SELECT 1 FROM conversation_tag t WHERE t.conversation_id = c.id AND t.tag = ?)",
        );
        args.push(tag.clone().into());
    }
    if let Some(archived) = filter.archived {
        sql.push_str(" AND c.archived = ?");
        args.push((archived as i64).into());
    }
    if let Some(pinned) = filter.pinned {
        sql.push_str(" AND c.pinned = ?");
        args.push((pinned as i64).into());
    }
    if let Some((updated_at, id)) = &filter.after {
        sql.push_str(" AND (c.updated_at < ? OR (c.updated_at = ? AND c.id < ?))");
        args.push(updated_at.clone().into());
        args.push(updated_at.clone().into());
        args.push(id.clone().into());
    }
    // The limit in the text, not bound: see `db::with_limit`.
    sql.push_str(&format!(
        " ORDER BY c.updated_at DESC, c.id DESC LIMIT {}",
        filter.limit
    ));
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(params_from_iter(args))?;
    while let Some(row) = rows.next()? {
        each(row)?;
    }
    Ok(())
}

/// Calls `each` with the rows of [`CONVERSATION_COLUMNS`] of the
/// conversations with these rowids, in their order (the search gives them in
/// list order).
fn each_by_rowid(
    conn: &Connection,
    rowids: &[i64],
    mut each: impl FnMut(&Row<'_>) -> Result<(), DbError>,
) -> Result<(), DbError> {
    if rowids.is_empty() {
        return Ok(());
    }
    let list = serde_json::to_string(rowids).map_err(|e| DbError::Task(e.to_string()))?;
    let sql = format!(
        "SELECT {CONVERSATION_COLUMNS} FROM json_each(?1) j CROSS JOIN conversation c ON c.rowid = j.value
         ORDER BY j.key"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query([list])?;
    while let Some(row) = rows.next()? {
        each(row)?;
    }
    Ok(())
}

/// Changes to a conversation; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct ConversationUpdate {
    pub title: Option<String>,
    pub pinned: Option<bool>,
    pub archived: Option<bool>,
    pub model_id: Option<Option<String>>,
    pub system_prompt: Option<String>,
    /// `Some(None)` unfiles it.
    pub folder_id: Option<Option<String>>,
}

pub fn update(conn: &Connection, id: &str, change: &ConversationUpdate) -> Result<(), DbError> {
    conn.prepare_cached(
        "UPDATE conversation SET
            title = COALESCE(?2, title),
            pinned = COALESCE(?3, pinned),
            archived = COALESCE(?4, archived),
            model_id = CASE WHEN ?5 THEN ?6 ELSE model_id END,
            system_prompt = COALESCE(?7, system_prompt),
            updated_at = ?8,
            folder_id = CASE WHEN ?9 THEN ?10 ELSE folder_id END
         WHERE id = ?1",
    )?
    .execute(params![
        id,
        change.title,
        change.pinned,
        change.archived,
        change.model_id.is_some(),
        change.model_id.clone().flatten(),
        change.system_prompt,
        super::now(),
        change.folder_id.is_some(),
        change.folder_id.clone().flatten(),
    ])?;
    Ok(())
}

/// Replaces a conversation's tags (`user_id` is its owner's; the tags are
/// already normalized: trimmed, no case-insensitive repeats).
pub fn set_tags(
    conn: &Connection,
    user_id: &str,
    id: &str,
    tags: &[String],
) -> Result<(), DbError> {
    conn.prepare_cached("DELETE FROM conversation_tag WHERE conversation_id = ?1")?
        .execute([id])?;
    let mut insert = conn.prepare_cached(
        "INSERT INTO conversation_tag (conversation_id, user_id, tag) VALUES (?1, ?2, ?3)
         ON CONFLICT DO NOTHING",
    )?;
    for tag in tags {
        insert.execute(params![id, user_id, tag])?;
    }
    Ok(())
}

/// One of a user's tags and how many of their (kept) conversations have it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct TagCount {
    pub name: String,
    pub count: i64,
}

/// The user's tags over their non-temporary conversations, by name
/// (case-insensitive; a tag spelled in two cases is one).
pub fn tag_counts(conn: &Connection, user_id: &str) -> Result<Vec<TagCount>, DbError> {
    let mut stmt = conn.prepare_cached(
        "SELECT min(t.tag), count(*) FROM conversation_tag t
           JOIN conversation c ON c.id = t.conversation_id
          WHERE t.user_id = ?1 AND c.temporary = 0
          GROUP BY t.tag ORDER BY t.tag",
    )?;
    let rows = stmt.query_map([user_id], |r| {
        Ok(TagCount {
            name: r.get(0)?,
            count: r.get(1)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Deletes the temporary chats created before `cutoff` (RFC 3339); with
/// them go (by cascade) their messages, shares and files. Answers how many.
pub fn delete_temporary_before(conn: &Connection, cutoff: &str) -> Result<usize, DbError> {
    Ok(conn
        .prepare_cached("DELETE FROM conversation WHERE temporary = 1 AND created_at < ?1")?
        .execute([cutoff])?)
}

/// Sets the title only if it is still `expected` (a generated title never
/// overwrites a name the user gave meanwhile). Does not touch `updated_at`.
pub fn set_title_if(
    conn: &Connection,
    id: &str,
    expected: &str,
    title: &str,
) -> Result<bool, DbError> {
    Ok(conn
        .prepare_cached("UPDATE conversation SET title = ?3 WHERE id = ?1 AND title = ?2")?
        .execute(params![id, expected, title])?
        > 0)
}

pub fn delete(conn: &Connection, id: &str) -> Result<(), DbError> {
    conn.prepare_cached("DELETE FROM conversation WHERE id = ?1")?
        .execute([id])?;
    Ok(())
}

/// Deletes `user_id`'s conversation `id` if it has no message (a new one
/// whose first question was refused).
pub fn delete_empty(conn: &Connection, user_id: &str, id: &str) -> Result<(), DbError> {
    conn.prepare_cached(
        "DELETE FROM conversation WHERE id = ?1 AND user_id = ?2
           AND NOT EXISTS (SELECT 1 FROM message m WHERE m.conversation_id = ?1)",
    )?
    .execute([id, user_id])?;
    Ok(())
}

/// A conversation's current thread frozen as data: what a share or a sample
/// keeps, what export writes and import reads.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Snapshot {
    pub title: String,
    #[serde(default)]
    pub model_id: Option<String>,
    #[serde(default)]
    pub system_prompt: String,
    pub messages: Vec<SnapshotMessage>,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SnapshotMessage {
    pub role: Role,
    pub content: String,
    #[serde(default)]
    pub model_id: Option<String>,
    #[serde(default)]
    pub created_at: Option<String>,
    /// The files the question carried (shares serve them; an import
    /// leaves them out).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(required = false)]
    pub files: Vec<crate::db::file::StoredFile>,
}

/// One rating as admins see it.
#[derive(Debug, Clone, Serialize)]
pub struct FeedbackEntry {
    pub id: String,
    pub rating: String,
    pub comment: Option<String>,
    pub reasons: Vec<String>,
    pub user_id: String,
    pub username: Option<String>,
    pub conversation_id: String,
    pub conversation_title: String,
    pub message_id: String,
    pub model_id: Option<String>,
    /// The first 300 characters of the rated answer.
    pub excerpt: String,
    pub created_at: String,
    pub updated_at: String,
}

/// Every user's ratings, newest first (`before` is an entry id), optionally
/// only `up` or `down`.
pub fn feedback_list(
    conn: &Connection,
    rating: Option<&str>,
    before: Option<&str>,
    limit: u32,
) -> Result<Vec<FeedbackEntry>, DbError> {
    let mut stmt = conn.prepare_cached(&super::with_limit(
        "SELECT f.id, f.rating, f.comment, f.user_id, u.username, c.id, c.title, m.id, m.model_id,
                substr(m.content, 1, 300), f.created_at, f.updated_at, fr.reasons
           FROM feedback f
           LEFT JOIN feedback_reasons fr ON fr.feedback_id = f.id
           JOIN message m ON m.id = f.message_id
           JOIN conversation c ON c.id = m.conversation_id
           LEFT JOIN user u ON u.id = f.user_id
          WHERE (:rating IS NULL OR f.rating = :rating) AND (:before IS NULL OR f.id < :before)
          ORDER BY f.id DESC LIMIT :limit",
        limit,
        None,
    ))?;
    let rows = stmt.query_map(
        rusqlite::named_params! { ":rating": rating, ":before": before },
        |r| {
            Ok(FeedbackEntry {
                id: r.get(0)?,
                rating: r.get(1)?,
                comment: r.get(2)?,
                reasons: reasons_from(r.get(12)?),
                user_id: r.get(3)?,
                username: r.get(4)?,
                conversation_id: r.get(5)?,
                conversation_title: r.get(6)?,
                message_id: r.get(7)?,
                model_id: r.get(8)?,
                excerpt: r.get(9)?,
                created_at: r.get(10)?,
                updated_at: r.get(11)?,
            })
        },
    )?;
    Ok(rows.collect::<Result<_, _>>()?)
}
