//! `/collector/*`: the user's saved reference material (SPEC §3 "Collector"):
//! items from JSON or a text-file upload (multipart, at most 10 MiB, text
//! types only), search and tags. Another user's item is a 404.

use bytes::Bytes;
use serde::Deserialize;
use serde_json::{json, Value};
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::error::{json_response, respond, ApiError};
use super::filters::{
    authenticated, body_within, json_body_within, json_content_type, parse_json, with_state, Limit,
    Page,
};
use super::multipart;
use crate::app::AppState;
use crate::auth::CurrentUser;
use crate::db::collector::{self, ItemInput};
use crate::db::conversation as conv_repo;

/// Largest file (and largest JSON body) the collector takes.
pub const UPLOAD_LIMIT: u64 = 10 * 1024 * 1024;
/// Most tags on one item, and the longest tag.
const MAX_TAGS: usize = 20;
const MAX_TAG_CHARS: usize = 40;

/// File name endings the collector takes: text, data and source code.
pub const TEXT_EXTENSIONS: &[&str] = &[
    "txt", "md", "markdown", "csv", "tsv", "json", "jsonl", "ndjson", "xml", "yaml", "yml", "toml",
    "ini", "cfg", "conf", "log", "html", "htm", "css", "scss", "js", "mjs", "cjs", "ts", "tsx",
    "jsx", "vue", "svelte", "py", "rs", "go", "java", "kt", "kts", "scala", "c", "h", "cc", "cpp",
    "cxx", "hpp", "cs", "fs", "rb", "php", "pl", "lua", "r", "swift", "m", "dart", "sh", "bash",
    "zsh", "ps1", "bat", "cmd", "sql", "graphql", "proto", "tex", "rst", "adoc", "org", "srt",
    "vtt",
];

pub fn routes(state: AppState) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let st = || with_state(state.clone());
    let user = || authenticated(state.clone());
    // GET /api/v1/collector/items?q=&tag=&limit=&cursor=
    let list = warp::path!("collector" / "items")
        .and(warp::get())
        .and(st())
        .and(user())
        .and(warp::query::<ListQuery>())
        .then(list)
        .map(respond);
    // POST /api/v1/collector/items (multipart/form-data: a text file)
    let upload = warp::path!("collector" / "items")
        .and(warp::post())
        .and(multipart::is_form())
        .and(st())
        .and(user())
        .and(multipart::form(Limit::Large))
        .then(upload)
        .map(respond);
    // POST /api/v1/collector/items (JSON)
    let create = warp::path!("collector" / "items")
        .and(warp::post())
        .and(st())
        .and(user())
        .and(json_content_type())
        .and(body_within(Limit::Large))
        .then(create)
        .map(respond);
    // GET /api/v1/collector/tags
    let tags = warp::path!("collector" / "tags")
        .and(warp::get())
        .and(st())
        .and(user())
        .then(tags)
        .map(respond);
    // GET /api/v1/collector/items/{id}
    let get = warp::path!("collector" / "items" / String)
        .and(warp::get())
        .and(st())
        .and(user())
        .then(get)
        .map(respond);
    // PUT|PATCH /api/v1/collector/items/{id}
    let update = warp::path!("collector" / "items" / String)
        .and(warp::put().or(warp::patch()).unify())
        .and(st())
        .and(user())
        .and(json_body_within(Limit::Large))
        .then(update)
        .map(respond);
    // DELETE /api/v1/collector/items/{id}
    let delete = warp::path!("collector" / "items" / String)
        .and(warp::delete())
        .and(st())
        .and(user())
        .then(delete)
        .map(respond);
    list.or(upload)
        .unify()
        .or(create)
        .unify()
        .or(tags)
        .unify()
        .or(get)
        .unify()
        .or(update)
        .unify()
        .or(delete)
        .unify()
}

fn too_large() -> ApiError {
    ApiError::TooLarge(format!(
        "the collector takes files and texts of at most {} MiB",
        UPLOAD_LIMIT / 1024 / 1024
    ))
}

/// Refuses a declared body over the limit before reading any of it.
#[derive(Deserialize)]
struct ListQuery {
    q: Option<String>,
    tag: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

/// An item as lists show it: the content cut to an excerpt.
fn summary(item: &collector::Item) -> Value {
    let mut v = json!(item);
    if let Some(obj) = v.as_object_mut() {
        obj.remove("content");
        obj.insert(
            "excerpt".into(),
            json!(item.content.chars().take(300).collect::<String>()),
        );
    }
    v
}

async fn list(
    state: AppState,
    current: CurrentUser,
    query: ListQuery,
) -> Result<Response, ApiError> {
    let page = Page {
        limit: query.limit,
        cursor: query.cursor,
    };
    let after = match page.cursor.as_deref() {
        None => None,
        Some(c) => Some(
            c.split_once('~')
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .ok_or_else(|| ApiError::BadRequest("invalid cursor".into()))?,
        ),
    };
    let keywords = crate::service::search::search_keywords(query.q.as_deref())?;
    let tag = query.tag.filter(|t| !t.trim().is_empty());
    let user_id = current.user.id.clone();
    let limit = page.limit();
    let items = state
        .db
        .run(move |conn| collector::list(conn, &user_id, &keywords, tag.as_deref(), after, limit))
        .await?;
    let next = page.next_cursor(&items, |i| format!("{}~{}", i.updated_at, i.id));
    Ok(json_response(
        StatusCode::OK,
        &json!({ "items": items.iter().map(summary).collect::<Vec<_>>(), "next_cursor": next }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ItemBody {
    title: Option<String>,
    content: Option<String>,
    #[serde(default, deserialize_with = "super::filters::double_option")]
    url: Option<Option<String>>,
    tags: Option<Vec<String>>,
    source_message_id: Option<String>,
}

/// Trimmed, deduplicated, validated tags.
fn clean_tags(tags: &[String]) -> Result<Vec<String>, ApiError> {
    let mut out: Vec<String> = Vec::new();
    for t in tags.iter().map(|t| t.trim()).filter(|t| !t.is_empty()) {
        if t.chars().count() > MAX_TAG_CHARS {
            return Err(ApiError::invalid(
                "tags",
                format!("a tag has at most {MAX_TAG_CHARS} characters"),
            ));
        }
        if !out.iter().any(|o| o.to_lowercase() == t.to_lowercase()) {
            out.push(t.to_string());
        }
    }
    if out.len() > MAX_TAGS {
        return Err(ApiError::invalid(
            "tags",
            format!("at most {MAX_TAGS} tags"),
        ));
    }
    Ok(out)
}

fn check_title(title: &str) -> Result<(), ApiError> {
    if title.trim().is_empty() {
        return Err(ApiError::invalid("title", "must not be empty"));
    }
    if title.chars().count() > 200 {
        return Err(ApiError::invalid("title", "must be at most 200 characters"));
    }
    Ok(())
}

fn check_url(url: &str) -> Result<(), ApiError> {
    let lower = url.to_ascii_lowercase();
    if url.len() > 2000 || !(lower.starts_with("http://") || lower.starts_with("https://")) {
        return Err(ApiError::invalid(
            "url",
            "must be an http:// or https:// address of at most 2000 characters",
        ));
    }
    Ok(())
}

async fn create(state: AppState, current: CurrentUser, body: Bytes) -> Result<Response, ApiError> {
    let body: ItemBody = parse_json(&body)?;
    let Some(content) = body.content.filter(|c| !c.trim().is_empty()) else {
        return Err(ApiError::invalid("content", "must not be empty"));
    };
    if content.len() as u64 > UPLOAD_LIMIT {
        return Err(too_large());
    }
    let title = body
        .title
        .unwrap_or_else(|| crate::engine::fallback_title(&content));
    check_title(&title)?;
    let url = body.url.flatten();
    if let Some(url) = &url {
        check_url(url)?;
    }
    let tags = clean_tags(&body.tags.unwrap_or_default())?;
    let user_id = current.user.id.clone();
    let source = body.source_message_id;
    let item = state
        .db
        .run(move |conn| -> Result<_, crate::db::DbError> {
            if let Some(source) = &source {
                // Only a message of one of the user's own conversations.
                let mine = match conv_repo::message(conn, source)? {
                    Some(m) => conv_repo::get(conn, &user_id, &m.conversation_id)?.is_some(),
                    None => false,
                };
                if !mine {
                    return Ok(Err(ApiError::NotFound("no such message".into())));
                }
            }
            let item = collector::insert(
                conn,
                &user_id,
                &ItemInput {
                    title: title.trim(),
                    content: &content,
                    url: url.as_deref(),
                    tags: &tags,
                    source_message_id: source.as_deref(),
                    filename: None,
                },
            )?;
            Ok(Ok(item))
        })
        .await??;
    Ok(json_response(StatusCode::CREATED, &json!(item)))
}

/// The extension of a file name, lower case.
fn extension(name: &str) -> Option<String> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    base.rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase())
        .filter(|e| !e.is_empty())
}

/// Whether a file name is of a type the collector takes.
pub fn accepted_file(name: &str) -> bool {
    extension(name).is_some_and(|e| TEXT_EXTENSIONS.contains(&e.as_str()))
}

async fn upload(
    state: AppState,
    current: CurrentUser,
    mut form: multipart::Form,
) -> Result<Response, ApiError> {
    let mut file: Option<(String, Vec<u8>)> = None;
    let (mut title, mut tags, mut url) = (None, Vec::new(), None);
    while let Some(part) = form.next_field().await? {
        match part.name() {
            "file" => {
                let name = part.file_name().unwrap_or_default().to_string();
                if !accepted_file(&name) {
                    return Err(ApiError::Unsupported(format!(
                        "the collector takes text files only (.txt, .md, .csv, .json and source code); \
                         {} is not one",
                        if name.is_empty() { "a file without a name".to_string() } else { format!("\"{name}\"") }
                    )));
                }
                file = Some((name, part.read(UPLOAD_LIMIT, too_large()).await?));
            }
            "title" => title = Some(text_field(part).await?),
            "tags" => {
                let raw = text_field(part).await?;
                tags = match serde_json::from_str::<Vec<String>>(&raw) {
                    Ok(list) => list,
                    Err(_) => raw.split(',').map(String::from).collect(),
                };
            }
            "url" => url = Some(text_field(part).await?).filter(|u: &String| !u.trim().is_empty()),
            other => {
                let other = other.to_string();
                return Err(ApiError::invalid(
                    "file",
                    format!("unknown form field \"{other}\" (send file, title, tags, url)"),
                ));
            }
        }
    }
    let Some((filename, bytes)) = file else {
        return Err(ApiError::invalid("file", "a file field is required"));
    };
    let content = String::from_utf8(bytes).map_err(|_| {
        ApiError::Unsupported(format!(
            "\"{filename}\" is not UTF-8 text; save it as UTF-8 and upload it again"
        ))
    })?;
    let content = content
        .strip_prefix('\u{feff}')
        .unwrap_or(&content)
        .to_string();
    if content.contains('\0') {
        return Err(ApiError::Unsupported(format!(
            "\"{filename}\" contains binary data, not text"
        )));
    }
    if content.trim().is_empty() {
        return Err(ApiError::invalid("file", "the file is empty"));
    }
    let base = filename
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(&filename)
        .to_string();
    let title = title
        .filter(|t| !t.trim().is_empty())
        .unwrap_or_else(|| base.clone());
    check_title(&title)?;
    if let Some(url) = &url {
        check_url(url)?;
    }
    let tags = clean_tags(&tags)?;
    let user_id = current.user.id.clone();
    let item = state
        .db
        .run(move |conn| -> Result<_, crate::db::DbError> {
            collector::insert(
                conn,
                &user_id,
                &ItemInput {
                    title: title.trim(),
                    content: &content,
                    url: url.as_deref(),
                    tags: &tags,
                    source_message_id: None,
                    filename: Some(&base),
                },
            )
        })
        .await?;
    Ok(json_response(StatusCode::CREATED, &json!(item)))
}

async fn text_field(part: multipart::Field) -> Result<String, ApiError> {
    let bytes = part
        .read(
            8 * 1024,
            ApiError::TooLarge("a form field other than the file may take at most 8 KiB".into()),
        )
        .await?;
    String::from_utf8(bytes).map_err(|_| ApiError::BadRequest("form fields must be UTF-8".into()))
}

async fn owned(
    state: &AppState,
    current: &CurrentUser,
    id: String,
) -> Result<collector::Item, ApiError> {
    let user_id = current.user.id.clone();
    state
        .db
        .run(move |conn| collector::get(conn, &user_id, &id))
        .await?
        .ok_or_else(|| ApiError::NotFound("no such collector item".into()))
}

async fn get(id: String, state: AppState, current: CurrentUser) -> Result<Response, ApiError> {
    let item = owned(&state, &current, id).await?;
    Ok(json_response(StatusCode::OK, &json!(item)))
}

async fn update(
    id: String,
    state: AppState,
    current: CurrentUser,
    body: ItemBody,
) -> Result<Response, ApiError> {
    let item = owned(&state, &current, id).await?;
    if body.source_message_id.is_some() {
        return Err(ApiError::invalid(
            "source_message_id",
            "cannot be changed after the item is saved",
        ));
    }
    let title = body.title.unwrap_or(item.title.clone());
    check_title(&title)?;
    let content = body.content.unwrap_or(item.content.clone());
    if content.trim().is_empty() {
        return Err(ApiError::invalid("content", "must not be empty"));
    }
    if content.len() as u64 > UPLOAD_LIMIT {
        return Err(too_large());
    }
    let url = match body.url {
        Some(url) => url,
        None => item.url.clone(),
    };
    if let Some(url) = &url {
        check_url(url)?;
    }
    let tags = clean_tags(&body.tags.unwrap_or(item.tags.clone()))?;
    let user_id = current.user.id.clone();
    let updated = state
        .db
        .run(move |conn| -> Result<_, crate::db::DbError> {
            collector::update(
                conn,
                &user_id,
                &item.id,
                &ItemInput {
                    title: title.trim(),
                    content: &content,
                    url: url.as_deref(),
                    tags: &tags,
                    source_message_id: None,
                    filename: None,
                },
            )?;
            collector::get(conn, &user_id, &item.id)
        })
        .await?
        .ok_or_else(|| ApiError::NotFound("no such collector item".into()))?;
    Ok(json_response(StatusCode::OK, &json!(updated)))
}

async fn delete(id: String, state: AppState, current: CurrentUser) -> Result<Response, ApiError> {
    let user_id = current.user.id.clone();
    let deleted = state
        .db
        .run(move |conn| collector::delete(conn, &user_id, &id))
        .await?;
    if !deleted {
        return Err(ApiError::NotFound("no such collector item".into()));
    }
    Ok(super::no_content())
}

async fn tags(state: AppState, current: CurrentUser) -> Result<Response, ApiError> {
    let user_id = current.user.id.clone();
    let tags = state
        .db
        .run(move |conn| collector::tags(conn, &user_id))
        .await?;
    let items: Vec<Value> = tags
        .into_iter()
        .map(|(tag, count)| json!({ "tag": tag, "count": count }))
        .collect();
    Ok(json_response(StatusCode::OK, &json!({ "tags": items })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_text_file_types_are_accepted() {
        for ok in [
            "노트.md",
            "data.CSV",
            "a/b/main.rs",
            "C:\\x\\readme.txt",
            "x.tar.json",
        ] {
            assert!(accepted_file(ok), "{ok}");
        }
        for no in [
            "setup.exe",
            "photo.png",
            "archive.zip",
            "README",
            "",
            ".",
            "doc.pdf",
        ] {
            assert!(!accepted_file(no), "{no}");
        }
    }
}
