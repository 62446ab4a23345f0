//! The collector: a user's saved reference material (SPEC §3 "Collector").
//! What an item may hold (a title, text of at most 10 MiB, an http(s) URL,
//! a few short tags), which uploaded files are text, and that another user's
//! item or message is not found.

use super::{Error, Result};
use crate::db::collector::{self as repo, Item, ItemInput};
use crate::db::conversation as conv_repo;
use crate::db::Db;

/// Largest file (and largest JSON body) the collector takes.
pub const UPLOAD_LIMIT: u64 = 10 * 1024 * 1024;
/// Most tags on one item, and the longest tag.
const MAX_TAGS: usize = 20;
const MAX_TAG_CHARS: usize = 40;
/// Longest title, in characters.
const MAX_TITLE_CHARS: usize = 200;

/// File name endings the collector takes: text, data and source code.
pub const TEXT_EXTENSIONS: &[&str] = &[
    "txt", "md", "markdown", "csv", "tsv", "json", "jsonl", "ndjson", "xml", "yaml", "yml", "toml",
    "ini", "cfg", "conf", "log", "html", "htm", "css", "scss", "js", "mjs", "cjs", "ts", "tsx",
    "jsx", "vue", "svelte", "py", "rs", "go", "java", "kt", "kts", "scala", "c", "h", "cc", "cpp",
    "cxx", "hpp", "cs", "fs", "rb", "php", "pl", "lua", "r", "swift", "m", "dart", "sh", "bash",
    "zsh", "ps1", "bat", "cmd", "sql", "graphql", "proto", "tex", "rst", "adoc", "org", "srt",
    "vtt",
];

/// 413: a file or text over [`UPLOAD_LIMIT`].
pub fn too_large() -> Error {
    Error::TooLarge(format!(
        "the collector takes files and texts of at most {} MiB",
        UPLOAD_LIMIT / 1024 / 1024
    ))
}

/// The extension of a file name, lower case.
fn extension(name: &str) -> Option<String> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    base.rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase())
        .filter(|e| !e.is_empty())
}

/// Document types whose text the collector keeps (read by the same
/// extractors as files in conversations).
pub const DOCUMENT_EXTENSIONS: &[&str] = &["pdf", "docx", "pptx", "xlsx", "hwp", "hwpx"];

/// Whether a file name is of a type the collector takes.
pub fn accepted_file(name: &str) -> bool {
    extension(name).is_some_and(|e| {
        TEXT_EXTENSIONS.contains(&e.as_str()) || DOCUMENT_EXTENSIONS.contains(&e.as_str())
    })
}

/// 415 for a file whose name says it is not text (checked before its bytes
/// are read).
pub fn check_file_name(name: &str) -> Result<()> {
    if accepted_file(name) {
        return Ok(());
    }
    Err(Error::Unsupported(format!(
        "the collector takes text files (.txt, .md, .csv, .json and source code) and documents \
         (PDF, Word, PowerPoint, Excel, HWP, HWPX); {} is not one",
        if name.is_empty() {
            "a file without a name".to_string()
        } else {
            format!("\"{name}\"")
        }
    )))
}

/// Trimmed, deduplicated (ignoring case), validated tags.
pub fn clean_tags(tags: &[String]) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for t in tags.iter().map(|t| t.trim()).filter(|t| !t.is_empty()) {
        if t.chars().count() > MAX_TAG_CHARS {
            return Err(Error::invalid(
                "tags",
                format!("a tag has at most {MAX_TAG_CHARS} characters"),
            ));
        }
        if !out.iter().any(|o| o.to_lowercase() == t.to_lowercase()) {
            out.push(t.to_string());
        }
    }
    if out.len() > MAX_TAGS {
        return Err(Error::invalid("tags", format!("at most {MAX_TAGS} tags")));
    }
    Ok(out)
}

pub fn check_title(title: &str) -> Result<()> {
    if title.trim().is_empty() {
        return Err(Error::invalid("title", "must not be empty"));
    }
    if title.chars().count() > MAX_TITLE_CHARS {
        return Err(Error::invalid("title", "must be at most 200 characters"));
    }
    Ok(())
}

pub fn check_url(url: &str) -> Result<()> {
    let lower = url.to_ascii_lowercase();
    if url.len() > 2000 || !(lower.starts_with("http://") || lower.starts_with("https://")) {
        return Err(Error::invalid(
            "url",
            "must be an http:// or https:// address of at most 2000 characters",
        ));
    }
    Ok(())
}

/// The text of an uploaded file: UTF-8 (a BOM dropped), no NUL, not blank.
pub fn file_text(filename: &str, bytes: Vec<u8>) -> Result<String> {
    let content = String::from_utf8(bytes).map_err(|_| {
        Error::Unsupported(format!(
            "\"{filename}\" is not UTF-8 text; save it as UTF-8 and upload it again"
        ))
    })?;
    let content = content
        .strip_prefix('\u{feff}')
        .unwrap_or(&content)
        .to_string();
    if content.contains('\0') {
        return Err(Error::Unsupported(format!(
            "\"{filename}\" contains binary data, not text"
        )));
    }
    if content.trim().is_empty() {
        return Err(Error::invalid("file", "the file is empty"));
    }
    Ok(content)
}

/// A new item, or a change to one: every field optional.
#[derive(Debug, Clone, Default)]
pub struct ItemChange {
    pub title: Option<String>,
    pub content: Option<String>,
    /// `Some(None)` clears it.
    pub url: Option<Option<String>>,
    pub tags: Option<Vec<String>>,
    /// Only on creation: the answer it was saved from.
    pub source_message_id: Option<String>,
}

/// A file the user uploaded, with the form's other fields.
#[derive(Debug, Clone, Default)]
pub struct Upload {
    pub filename: String,
    pub bytes: Vec<u8>,
    pub title: Option<String>,
    pub tags: Vec<String>,
    pub url: Option<String>,
}

/// The user's items, most recently updated first (`cursor` is the
/// `updated_at~id` of the previous page's last item).
pub async fn list(
    db: &Db,
    user_id: String,
    q: Option<&str>,
    tag: Option<String>,
    cursor: Option<&str>,
    limit: u32,
) -> Result<Vec<Item>> {
    let after = match cursor {
        None => None,
        Some(c) => Some(
            c.split_once('~')
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .ok_or_else(|| Error::BadRequest("invalid cursor".into()))?,
        ),
    };
    let keywords = super::search::search_keywords(q)?;
    let tag = tag.filter(|t| !t.trim().is_empty());
    // A keyword reads every item's text: it takes its turn among searches.
    let searcher = (!keywords.is_empty()).then(|| user_id.clone());
    Ok(db
        .run_search(searcher.as_deref(), move |conn| {
            repo::list(conn, &user_id, &keywords, tag.as_deref(), after, limit)
        })
        .await?)
}

/// Saves a text as an item; a missing title is made from the text; a
/// source message must be of one of the user's own conversations.
pub async fn create(db: &Db, user_id: String, new: ItemChange) -> Result<Item> {
    let Some(content) = new.content.filter(|c| !c.trim().is_empty()) else {
        return Err(Error::invalid("content", "must not be empty"));
    };
    if content.len() as u64 > UPLOAD_LIMIT {
        return Err(too_large());
    }
    let title = new
        .title
        .unwrap_or_else(|| crate::engine::fallback_title(&content));
    check_title(&title)?;
    let url = new.url.flatten();
    if let Some(url) = &url {
        check_url(url)?;
    }
    let tags = clean_tags(&new.tags.unwrap_or_default())?;
    let source = new.source_message_id;
    db.run(move |conn| -> Result<_> {
        if let Some(source) = &source {
            let mine = match conv_repo::message(conn, source)? {
                Some(m) => conv_repo::get(conn, &user_id, &m.conversation_id)?.is_some(),
                None => false,
            };
            if !mine {
                return Err(Error::NotFound("no such message".into()));
            }
        }
        Ok(repo::insert(
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
        )?)
    })
    .await
}

/// Saves an uploaded text file as an item (titled by its file name unless
/// the form gave a title).
pub async fn upload(
    db: &Db,
    readers: &super::files::Readers,
    user_id: String,
    upload: Upload,
) -> Result<Item> {
    let Upload {
        filename,
        bytes,
        title,
        tags,
        url,
    } = upload;
    let is_document =
        extension(&filename).is_some_and(|e| DOCUMENT_EXTENSIONS.contains(&e.as_str()));
    let content = if is_document {
        super::files::document_text(readers, &user_id, &filename, bytes).await?
    } else {
        file_text(&filename, bytes)?
    };
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
    Ok(db
        .run(move |conn| {
            repo::insert(
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
        .await?)
}

/// One of the user's items.
pub async fn get(db: &Db, user_id: String, id: String) -> Result<Item> {
    db.run(move |conn| repo::get(conn, &user_id, &id))
        .await?
        .ok_or_else(|| Error::NotFound("no such collector item".into()))
}

/// Changes an item: given fields replace the stored ones (its source
/// cannot change).
pub async fn update(db: &Db, user_id: String, id: String, change: ItemChange) -> Result<Item> {
    let item = get(db, user_id.clone(), id).await?;
    if change.source_message_id.is_some() {
        return Err(Error::invalid(
            "source_message_id",
            "cannot be changed after the item is saved",
        ));
    }
    let title = change.title.unwrap_or(item.title.clone());
    check_title(&title)?;
    let content = change.content.unwrap_or(item.content.clone());
    if content.trim().is_empty() {
        return Err(Error::invalid("content", "must not be empty"));
    }
    if content.len() as u64 > UPLOAD_LIMIT {
        return Err(too_large());
    }
    let url = match change.url {
        Some(url) => url,
        None => item.url.clone(),
    };
    if let Some(url) = &url {
        check_url(url)?;
    }
    let tags = clean_tags(&change.tags.unwrap_or(item.tags.clone()))?;
    db.run(move |conn| -> Result<_> {
        repo::update(
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
        repo::get(conn, &user_id, &item.id)?
            .ok_or_else(|| Error::NotFound("no such collector item".into()))
    })
    .await
}

pub async fn delete(db: &Db, user_id: String, id: String) -> Result<()> {
    if !db
        .run(move |conn| repo::delete(conn, &user_id, &id))
        .await?
    {
        return Err(Error::NotFound("no such collector item".into()));
    }
    Ok(())
}

/// Every tag the user has, with how many items carry it.
pub async fn tags(db: &Db, user_id: String) -> Result<Vec<(String, i64)>> {
    Ok(db.run(move |conn| repo::tags(conn, &user_id)).await?)
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
            "doc.pdf",
            "보고서.HWP",
            "slides.pptx",
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
            "old.doc",
        ] {
            assert!(!accepted_file(no), "{no}");
        }
        assert!(matches!(check_file_name(""), Err(Error::Unsupported(_))));
    }

    #[test]
    fn tags_are_trimmed_deduplicated_ignoring_case_and_limited() {
        let tags = |t: &[&str]| t.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            clean_tags(&tags(&[" Rust ", "rust", "", "노트"])).unwrap(),
            tags(&["Rust", "노트"])
        );
        let long = "x".repeat(MAX_TAG_CHARS + 1);
        assert!(clean_tags(&tags(&[&long])).is_err(), "a tag too long");
        let many: Vec<String> = (0..=MAX_TAGS).map(|i| format!("t{i}")).collect();
        assert!(clean_tags(&many).is_err(), "too many tags");
    }

    #[test]
    fn titles_and_urls_are_checked() {
        assert!(check_title("  ").is_err(), "blank");
        assert!(check_title(&"가".repeat(MAX_TITLE_CHARS)).is_ok());
        assert!(
            check_title(&"가".repeat(MAX_TITLE_CHARS + 1)).is_err(),
            "too long"
        );
        assert!(check_url("HTTPS://example.com/a").is_ok());
        assert!(check_url("javascript:alert(1)").is_err(), "not http");
        assert!(
            check_url(&format!("https://e.com/{}", "a".repeat(2000))).is_err(),
            "too long"
        );
    }

    #[test]
    fn an_uploaded_file_must_be_utf8_text_and_loses_its_bom() {
        assert_eq!(file_text("a.txt", "\u{feff}안녕".into()).unwrap(), "안녕");
        assert!(matches!(
            file_text("a.txt", vec![0xff, 0xfe]),
            Err(Error::Unsupported(_))
        ));
        assert!(matches!(
            file_text("a.txt", b"a\0b".to_vec()),
            Err(Error::Unsupported(_))
        ));
        assert!(matches!(
            file_text("a.txt", b" \n".to_vec()),
            Err(Error::Validation(_))
        ));
    }
}
