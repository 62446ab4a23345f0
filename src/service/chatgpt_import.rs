//! The ChatGPT export import (issue 21): the ZIP from ChatGPT's "Export
//! data" (or its `conversations.json` alone) becomes the user's
//! conversations. Reading and converting are pure functions over the bytes
//! ([`read_export`], [`convert`]), run on a blocking thread by the caller;
//! [`write_all`] writes each conversation whole or not at all (hidden while
//! it is written, `db::import_tree`).
//!
//! Bounded everywhere: the upload (100 MiB, by the route), the unpacked
//! `conversations.json` ([`MAX_JSON_BYTES`]: a ZIP bomb stops there), the
//! conversations ([`MAX_CONVERSATIONS`]; each is converted as it is parsed,
//! so only one raw conversation is held at a time), the nodes of one
//! conversation ([`MAX_NODES`]); a `mapping` whose parent chain loops is
//! that conversation's problem, found without following the loop.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io::{Cursor, Read};

use serde::de::{DeserializeSeed, IgnoredAny, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use super::{Error, Result};
use crate::db::conversation::{Role, Snapshot};
use crate::db::import::{self, CopyError, MAX_PER_USER, PART_CHARS};
use crate::db::import_tree::{self, TreeMessage};
use crate::db::{connection, Db, DbError};

/// Largest upload: the ZIP (or the JSON) itself.
pub const MAX_UPLOAD_BYTES: u64 = 100 * 1024 * 1024;
/// Largest `conversations.json`, unpacked.
pub const MAX_JSON_BYTES: u64 = 256 * 1024 * 1024;
/// Most conversations one import takes; the rest are skipped (one problem).
pub const MAX_CONVERSATIONS: usize = 10_000;
/// Most nodes of one conversation's `mapping`.
pub const MAX_NODES: usize = 10_000;
/// Longest message kept, in characters.
pub const MAX_MESSAGE_CHARS: usize = 1_000_000;
/// Longest title kept, in characters.
const MAX_TITLE_CHARS: usize = 200;
/// The title of a conversation that has none.
const UNTITLED: &str = "ChatGPT conversation";

/// Why an upload is not imported at all.
#[derive(Debug, Clone, PartialEq)]
pub enum ReadError {
    /// Not a ChatGPT export (422 `not_chatgpt_export`).
    NotExport(String),
    /// `conversations.json` unpacks past [`MAX_JSON_BYTES`] (413).
    TooLarge,
}

impl From<ReadError> for Error {
    fn from(err: ReadError) -> Self {
        match err {
            ReadError::NotExport(why) => Error::refused(
                http::StatusCode::UNPROCESSABLE_ENTITY,
                "not_chatgpt_export",
                format!("this is not a ChatGPT export: {why} (send the ZIP from ChatGPT's Settings → Data controls → Export data, or its conversations.json)"),
            ),
            ReadError::TooLarge => Error::refused(
                http::StatusCode::PAYLOAD_TOO_LARGE,
                "file_too_large",
                format!(
                    "conversations.json unpacks to more than {} MiB",
                    MAX_JSON_BYTES / (1024 * 1024)
                ),
            ),
        }
    }
}

// ---- the export's shape (only what is read; everything else ignored) ----

#[derive(Debug, Deserialize)]
struct RawConversation {
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    create_time: Option<f64>,
    #[serde(default)]
    update_time: Option<f64>,
    /// What makes it a conversation: required.
    mapping: HashMap<String, RawNode>,
    #[serde(default)]
    current_node: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RawNode {
    #[serde(default)]
    message: Option<RawMessage>,
    #[serde(default)]
    parent: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RawMessage {
    #[serde(default)]
    author: RawAuthor,
    #[serde(default)]
    content: Option<RawContent>,
    #[serde(default)]
    create_time: Option<f64>,
    #[serde(default)]
    recipient: Option<String>,
    #[serde(default)]
    metadata: Option<RawMetadata>,
}

#[derive(Debug, Default, Deserialize)]
struct RawAuthor {
    #[serde(default)]
    role: String,
}

#[derive(Debug, Deserialize)]
struct RawContent {
    #[serde(default)]
    content_type: Option<String>,
    #[serde(default)]
    parts: Option<Vec<Value>>,
    #[serde(default)]
    text: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct RawMetadata {
    #[serde(default)]
    model_slug: Option<String>,
    #[serde(default)]
    is_visually_hidden_from_conversation: Option<bool>,
    #[serde(default)]
    attachments: Option<Vec<IgnoredAny>>,
}

// ---- what an import makes of it ------------------------------------------

/// One conversation, ready to be written.
#[derive(Debug, Clone, PartialEq)]
pub struct Converted {
    pub title: String,
    /// RFC 3339.
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
    /// The model of the last answer (`model_slug`).
    pub model_id: Option<String>,
    /// Parents before children; siblings by date.
    pub messages: Vec<TreeMessage>,
    /// The message shown (`current_node`, or its nearest kept ancestor).
    pub current: Option<usize>,
    pub attachments_skipped: usize,
}

/// A conversation that is not imported, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub title: String,
    pub reason: String,
}

/// Everything read from an export.
#[derive(Debug, Default)]
pub struct Parsed {
    pub conversations: Vec<std::result::Result<Converted, Problem>>,
    /// Conversations past [`MAX_CONVERSATIONS`], not read.
    pub over_limit: usize,
}

/// Reads an upload: a ZIP holding `conversations.json` at its root or one
/// folder down, or that JSON alone.
pub fn read_export(bytes: &[u8]) -> std::result::Result<Parsed, ReadError> {
    if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
        let mut zip = zip::ZipArchive::new(Cursor::new(bytes))
            .map_err(|e| ReadError::NotExport(format!("the ZIP cannot be read ({e})")))?;
        let name = (0..zip.len())
            .filter_map(|i| {
                zip.name_for_index(i)
                    .and_then(|n| n.ok())
                    .map(|n| (i, n.to_string()))
            })
            .filter(|(_, n)| {
                let parts: Vec<&str> = n.split('/').collect();
                parts.last() == Some(&"conversations.json") && parts.len() <= 2
            })
            .min_by_key(|(_, n)| n.len())
            .map(|(i, _)| i)
            .ok_or_else(|| ReadError::NotExport("the ZIP holds no conversations.json".into()))?;
        let entry = zip.by_index(name).map_err(|e| {
            ReadError::NotExport(format!("conversations.json cannot be read ({e})"))
        })?;
        parse_json(entry)
    } else {
        let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
        if !matches!(first, Some(b'[') | Some(b'{')) {
            return Err(ReadError::NotExport("it is neither a ZIP nor JSON".into()));
        }
        parse_json(bytes)
    }
}

/// A reader that fails once more than `left` bytes came, and says so.
struct Capped<R> {
    inner: R,
    left: u64,
    hit: bool,
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n as u64 > self.left {
            self.hit = true;
            return Err(std::io::Error::other("conversations.json is too large"));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// Parses `conversations.json`: a list of conversations, each converted as
/// soon as it is read.
fn parse_json(reader: impl Read) -> std::result::Result<Parsed, ReadError> {
    let mut capped = Capped {
        inner: std::io::BufReader::new(reader),
        left: MAX_JSON_BYTES,
        hit: false,
    };
    let mut de = serde_json::Deserializer::from_reader(&mut capped);
    let parsed = de.deserialize_seq(ListVisitor);
    let parsed = match parsed.and_then(|p| de.end().map(|()| p)) {
        Ok(p) => p,
        Err(_) if capped.hit => return Err(ReadError::TooLarge),
        Err(e) if e.is_data() || e.is_syntax() || e.is_eof() || e.is_io() => {
            return Err(ReadError::NotExport(format!(
                "conversations.json is not a list of conversations ({e})"
            )))
        }
        Err(e) => return Err(ReadError::NotExport(e.to_string())),
    };
    if !parsed.conversations.is_empty()
        && parsed
            .conversations
            .iter()
            .all(|c| matches!(c, Err(p) if p.reason == NOT_A_CONVERSATION))
    {
        return Err(ReadError::NotExport(
            "conversations.json holds no conversation".into(),
        ));
    }
    Ok(parsed)
}

const NOT_A_CONVERSATION: &str = "not a ChatGPT conversation (no mapping)";

struct ListVisitor;

impl<'de> Visitor<'de> for ListVisitor {
    type Value = Parsed;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of ChatGPT conversations")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Parsed, A::Error> {
        let mut parsed = Parsed::default();
        loop {
            if parsed.conversations.len() >= MAX_CONVERSATIONS {
                match seq.next_element::<IgnoredAny>()? {
                    Some(_) => parsed.over_limit += 1,
                    None => break,
                }
                continue;
            }
            match seq.next_element_seed(OneConversation)? {
                Some(c) => parsed.conversations.push(c),
                None => break,
            }
        }
        Ok(parsed)
    }
}

/// One element of the list: a value first (so that one odd conversation is
/// its own problem, not the file's), then the typed conversation.
struct OneConversation;

impl<'de> DeserializeSeed<'de> for OneConversation {
    type Value = std::result::Result<Converted, Problem>;

    fn deserialize<D: Deserializer<'de>>(
        self,
        de: D,
    ) -> std::result::Result<Self::Value, D::Error> {
        let value = Value::deserialize(de)?;
        let title = value
            .get("title")
            .and_then(Value::as_str)
            .map(clip_title)
            .unwrap_or_else(|| UNTITLED.to_string());
        if value.get("mapping").is_none_or(|m| !m.is_object()) {
            return Ok(Err(Problem {
                title,
                reason: NOT_A_CONVERSATION.into(),
            }));
        }
        Ok(match serde_json::from_value::<RawConversation>(value) {
            Ok(raw) => convert(raw),
            Err(e) => Err(Problem {
                title,
                reason: format!("unreadable conversation ({e})"),
            }),
        })
    }
}

fn clip_title(title: &str) -> String {
    let t: String = title.trim().chars().take(MAX_TITLE_CHARS).collect();
    if t.is_empty() {
        UNTITLED.to_string()
    } else {
        t
    }
}

/// Seconds since the epoch (ChatGPT's float) as RFC 3339.
fn rfc3339(seconds: Option<f64>) -> Option<String> {
    let s = seconds.filter(|s| s.is_finite() && *s >= 0.0 && *s < 1e11)?;
    let whole = s.trunc() as i64;
    chrono::DateTime::from_timestamp(whole, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

/// The text of a message and the attachments it showed (image and file
/// parts, or the files its metadata lists).
fn text_of(message: &RawMessage) -> (String, usize) {
    let Some(content) = &message.content else {
        return (String::new(), 0);
    };
    let kind = content.content_type.as_deref().unwrap_or("text");
    // Not words for the reader: the model's hidden reasoning, the user's
    // custom instructions, tool plumbing.
    if matches!(
        kind,
        "thoughts"
            | "reasoning_recap"
            | "user_editable_context"
            | "model_editable_context"
            | "system_error"
            | "tether_browsing_display"
            | "tether_quote"
            | "execution_output"
    ) {
        return (String::new(), 0);
    }
    let mut texts: Vec<String> = Vec::new();
    let mut attachments = 0;
    if let Some(parts) = &content.parts {
        for part in parts {
            match part {
                Value::String(s) => texts.push(s.clone()),
                Value::Object(o) => {
                    let ct = o.get("content_type").and_then(Value::as_str).unwrap_or("");
                    if ct.contains("asset_pointer") || o.contains_key("asset_pointer") {
                        attachments += 1;
                    } else if let Some(t) = o.get("text").and_then(Value::as_str) {
                        texts.push(t.to_string());
                    }
                }
                _ => {}
            }
        }
    } else if let Some(text) = &content.text {
        texts.push(if kind == "code" {
            format!("```\n{}\n```", text.trim_end())
        } else {
            text.clone()
        });
    }
    let listed = message
        .metadata
        .as_ref()
        .and_then(|m| m.attachments.as_ref())
        .map_or(0, Vec::len);
    let text = texts
        .into_iter()
        .filter(|t| !t.trim().is_empty())
        .collect::<Vec<_>>()
        .join("\n\n");
    (text, attachments.max(listed))
}

/// One node as it is kept: role, text, model, date, attachments skipped.
struct Kept {
    role: Role,
    text: String,
    model_id: Option<String>,
    time: Option<f64>,
}

/// Whether a node is kept, and as what; the attachments it showed are
/// counted either way.
fn keep(node: &RawNode, attachments: &mut usize) -> Option<Kept> {
    let message = node.message.as_ref()?;
    let role = match message.author.role.as_str() {
        "user" => Role::User,
        "assistant" => Role::Assistant,
        _ => return None,
    };
    let metadata = message.metadata.as_ref();
    if metadata.is_some_and(|m| m.is_visually_hidden_from_conversation == Some(true)) {
        return None;
    }
    // An assistant's call to a tool (browser, python) is not said to the user.
    if role == Role::Assistant && message.recipient.as_deref().is_some_and(|r| r != "all") {
        return None;
    }
    let (text, shown) = text_of(message);
    *attachments += shown;
    if text.trim().is_empty() {
        return None;
    }
    Some(Kept {
        role,
        text,
        model_id: metadata
            .and_then(|m| m.model_slug.clone())
            .filter(|s| !s.trim().is_empty()),
        time: message.create_time,
    })
}

/// Converts one conversation: its `mapping` tree becomes the message tree
/// (system, tool, hidden and empty nodes left out, their children attached
/// to the nearest kept ancestor); `current_node` is the shown branch.
fn convert(raw: RawConversation) -> std::result::Result<Converted, Problem> {
    let title = raw
        .title
        .as_deref()
        .map_or_else(|| UNTITLED.into(), clip_title);
    let problem = |reason: String| Problem {
        title: title.clone(),
        reason,
    };
    if raw.mapping.len() > MAX_NODES {
        return Err(problem(format!(
            "it has {} nodes, more than the {MAX_NODES} an import takes",
            raw.mapping.len()
        )));
    }
    // Node ids in a stable order (the map's is random).
    let mut ids: Vec<&String> = raw.mapping.keys().collect();
    ids.sort();
    let index: HashMap<&str, usize> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    let parent: Vec<Option<usize>> = ids
        .iter()
        .map(|id| {
            raw.mapping[*id]
                .parent
                .as_deref()
                .and_then(|p| index.get(p).copied())
        })
        .collect();
    // Depth of each node, walking each parent chain once; a chain that
    // comes back to a node on the walk is a loop.
    let n = ids.len();
    let mut depth: Vec<Option<usize>> = vec![None; n];
    for start in 0..n {
        let mut path = Vec::new();
        let mut on_path = HashSet::new();
        let mut at = Some(start);
        let base = loop {
            match at {
                None => break 0,
                Some(i) => {
                    if let Some(d) = depth[i] {
                        break d + 1;
                    }
                    if !on_path.insert(i) {
                        return Err(problem(
                            "its message tree loops (a message is its own ancestor)".into(),
                        ));
                    }
                    path.push(i);
                    at = parent[i];
                }
            }
        };
        for (k, i) in path.iter().rev().enumerate() {
            depth[*i] = Some(base + k);
        }
    }
    // Which nodes are kept, and each node's nearest kept ancestor-or-self,
    // shallowest first so a parent's answer is known before its children's.
    let mut attachments = 0;
    let kept: Vec<Option<Kept>> = ids
        .iter()
        .map(|id| keep(&raw.mapping[*id], &mut attachments))
        .collect();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| depth[i].unwrap_or(0));
    let mut nearest: Vec<Option<usize>> = vec![None; n];
    for &i in &order {
        nearest[i] = if kept[i].is_some() {
            Some(i)
        } else {
            parent[i].and_then(|p| nearest[p])
        };
    }
    // The kept nodes, parents first, siblings by date then id.
    let mut kept_depth: Vec<usize> = vec![0; n];
    for &i in &order {
        if kept[i].is_some() {
            kept_depth[i] = parent[i]
                .and_then(|p| nearest[p])
                .map_or(1, |a| kept_depth[a] + 1);
        }
    }
    let mut chosen: Vec<usize> = (0..n).filter(|&i| kept[i].is_some()).collect();
    chosen.sort_by(|&a, &b| {
        let time = |i: usize| kept[i].as_ref().and_then(|k| k.time).unwrap_or(0.0);
        kept_depth[a]
            .cmp(&kept_depth[b])
            .then(time(a).total_cmp(&time(b)))
            .then(ids[a].cmp(ids[b]))
    });
    if chosen.is_empty() {
        return Err(problem("it has no message with text".into()));
    }
    let position: HashMap<usize, usize> = chosen
        .iter()
        .enumerate()
        .map(|(pos, &i)| (i, pos))
        .collect();
    let mut messages = Vec::with_capacity(chosen.len());
    let mut model_id = None;
    for &i in &chosen {
        let Some(k) = &kept[i] else { continue };
        if k.text.chars().count() > MAX_MESSAGE_CHARS {
            return Err(problem(format!(
                "a message is longer than {MAX_MESSAGE_CHARS} characters"
            )));
        }
        if k.role == Role::Assistant && k.model_id.is_some() {
            model_id = k.model_id.clone();
        }
        messages.push(TreeMessage {
            parent: parent[i]
                .and_then(|p| nearest[p])
                .and_then(|a| position.get(&a).copied()),
            role: k.role,
            content: k.text.clone(),
            model_id: k.model_id.clone(),
            created_at: rfc3339(k.time),
        });
    }
    let current = raw
        .current_node
        .as_deref()
        .and_then(|c| index.get(c).copied())
        .and_then(|c| nearest[c])
        .and_then(|c| position.get(&c).copied())
        // No usable current node: the newest message's thread.
        .or_else(|| {
            (0..messages.len()).max_by(|&a, &b| {
                messages[a]
                    .created_at
                    .cmp(&messages[b].created_at)
                    .then(a.cmp(&b))
            })
        });
    let created_at = rfc3339(raw.create_time);
    Ok(Converted {
        title: title.clone(),
        updated_at: rfc3339(raw.update_time).or_else(|| created_at.clone()),
        created_at,
        model_id,
        messages,
        current,
        attachments_skipped: attachments,
    })
}

// ---- writing --------------------------------------------------------------

/// What an import did.
#[derive(Debug, Default, Clone)]
pub struct Summary {
    pub imported: usize,
    pub skipped: usize,
    pub attachments_skipped: usize,
    /// `(id, title)` of each conversation imported.
    pub conversations: Vec<(String, String)>,
    pub problems: Vec<Problem>,
}

/// Writes every converted conversation of `user_id`, each whole or not at
/// all; a conversation that cannot be written is a problem, the others
/// still import. On a task of its own, so a client that goes away does not
/// stop it between the parts of a conversation.
pub async fn write_all(db: &Db, user_id: String, parsed: Parsed) -> Result<Summary> {
    let db = db.clone();
    tokio::spawn(async move { write_each(&db, &user_id, parsed).await })
        .await
        .map_err(|e| Error::Internal(format!("the import stopped: {e}")))?
}

async fn write_each(db: &Db, user_id: &str, parsed: Parsed) -> Result<Summary> {
    let mut summary = Summary::default();
    if parsed.over_limit > 0 {
        summary.skipped += parsed.over_limit;
        summary.problems.push(Problem {
            title: format!("{} more conversations", parsed.over_limit),
            reason: format!("an import takes at most {MAX_CONVERSATIONS} conversations"),
        });
    }
    for item in parsed.conversations {
        match item {
            Err(problem) => {
                summary.skipped += 1;
                summary.problems.push(problem);
            }
            Ok(conversation) => {
                let attachments = conversation.attachments_skipped;
                let title = conversation.title.clone();
                match write_one(db, user_id, conversation).await {
                    Ok(id) => {
                        summary.imported += 1;
                        summary.attachments_skipped += attachments;
                        summary.conversations.push((id, title));
                    }
                    // The database itself is failing: stop, say so.
                    Err(err) if is_fatal(&err) => return Err(err),
                    Err(err) => {
                        summary.skipped += 1;
                        summary.problems.push(Problem {
                            title,
                            reason: err.to_string(),
                        });
                    }
                }
            }
        }
    }
    Ok(summary)
}

fn is_fatal(err: &Error) -> bool {
    matches!(
        err,
        Error::DiskFull | Error::Unavailable | Error::Overloaded | Error::DbBusy
    )
}

/// Writes one conversation hidden, part by part, then shows it; removes
/// what was written when a part fails.
async fn write_one(db: &Db, user_id: &str, conversation: Converted) -> Result<String> {
    let owner = user_id.to_string();
    let wanted = conversation.model_id.clone();
    let title = conversation.title.clone();
    let id = db
        .run(move |conn| -> Result<_> {
            // A model this server does not know is dropped (the first
            // available one answers then), as the JSON import does.
            let model_id = match wanted {
                Some(m) if connection::route(conn, &m)?.is_some() => Some(m),
                _ => None,
            };
            let header = Snapshot {
                title,
                model_id,
                system_prompt: String::new(),
                messages: Vec::new(),
            };
            match import::begin(conn, &owner, &header, MAX_PER_USER)? {
                Ok(id) => Ok(id),
                Err(CopyError::TooMany(n)) => Err(Error::Conflict(format!(
                    "{n} imports are already being written; try again when they are done"
                ))),
                Err(CopyError::Db(e)) => Err(e.into()),
            }
        })
        .await?;
    let written = write_parts(db, &id, &conversation).await;
    let shown = match written {
        Ok(ids) => {
            let leaf = conversation
                .current
                .and_then(|c| ids.get(c))
                .map(|(m, _)| m.clone());
            let (cid, created, updated) = (
                id.clone(),
                conversation.created_at.clone(),
                conversation.updated_at.clone(),
            );
            db.run(move |conn| {
                import_tree::finish(
                    conn,
                    &cid,
                    leaf.as_deref(),
                    created.as_deref(),
                    updated.as_deref(),
                )
            })
            .await
            .map(drop)
        }
        Err(e) => Err(e),
    };
    match shown {
        Ok(()) => Ok(id),
        Err(err) => {
            discard(db, &id).await;
            Err(err.into())
        }
    }
}

/// The messages in parts of at most [`PART_CHARS`] characters; returns the
/// id and depth of each, in order.
async fn write_parts(
    db: &Db,
    id: &str,
    conversation: &Converted,
) -> std::result::Result<Vec<(String, i64)>, DbError> {
    let mut written: Vec<(String, i64)> = Vec::with_capacity(conversation.messages.len());
    let mut start = 0;
    let all = &conversation.messages;
    while start < all.len() {
        let mut end = start;
        let mut chars = 0;
        while end < all.len() {
            let size = all[end].content.len();
            if end > start && chars + size > PART_CHARS {
                break;
            }
            chars += size;
            end += 1;
        }
        let part: Vec<TreeMessage> = all[start..end].to_vec();
        let cid = id.to_string();
        let mut so_far = std::mem::take(&mut written);
        written = db
            .run_bulk(move |conn| {
                import_tree::append(conn, &cid, &part, &mut so_far)?;
                Ok::<_, DbError>(so_far)
            })
            .await?;
        start = end;
    }
    Ok(written)
}

/// Removes a conversation that could not be finished, part by part.
async fn discard(db: &Db, id: &str) {
    loop {
        let part = id.to_string();
        match db
            .run_bulk(move |conn| import::discard_part(conn, &part, PART_CHARS))
            .await
        {
            Ok(true) => return,
            Ok(false) => {}
            Err(err) => {
                log::error!("could not remove the unfinished import {id}: {err}");
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn node(id: &str, parent: Option<&str>, role: &str, text: &str, t: f64) -> (String, Value) {
        (
            id.to_string(),
            json!({
                "id": id,
                "parent": parent,
                "children": [],
                "message": {
                    "id": id,
                    "author": {"role": role},
                    "create_time": t,
                    "content": {"content_type": "text", "parts": [text]},
                    "metadata": {"model_slug": "gpt-4o"}
                }
            }),
        )
    }

    fn conversation(nodes: Vec<(String, Value)>, current: &str) -> Value {
        let mut mapping = serde_json::Map::new();
        mapping.insert(
            "root".into(),
            json!({"id": "root", "message": null, "parent": null, "children": []}),
        );
        for (id, v) in nodes {
            mapping.insert(id, v);
        }
        json!({
            "title": "강아지 산책",
            "create_time": 1714557600.5,
            "update_time": 1714561200.0,
            "mapping": mapping,
            "current_node": current,
            "conversation_id": "c1"
        })
    }

    fn one(v: Value) -> std::result::Result<Converted, Problem> {
        let bytes = serde_json::to_vec(&json!([v])).unwrap();
        let mut parsed = read_export(&bytes).unwrap();
        assert_eq!(parsed.conversations.len(), 1);
        parsed.conversations.remove(0)
    }

    fn texts(c: &Converted) -> Vec<&str> {
        c.messages.iter().map(|m| m.content.as_str()).collect()
    }

    #[test]
    fn a_linear_chat_keeps_its_messages_dates_and_model() {
        let c = one(conversation(
            vec![
                node("s", Some("root"), "system", "you are helpful", 1.0),
                node("u1", Some("s"), "user", "hello", 2.0),
                node("a1", Some("u1"), "assistant", "hi!", 3.0),
            ],
            "a1",
        ))
        .unwrap();
        assert_eq!(texts(&c), ["hello", "hi!"]);
        assert_eq!(c.messages[0].parent, None);
        assert_eq!(c.messages[1].parent, Some(0));
        assert_eq!(c.messages[1].model_id.as_deref(), Some("gpt-4o"));
        assert_eq!(c.current, Some(1));
        assert_eq!(c.title, "강아지 산책");
        assert_eq!(c.created_at.as_deref(), Some("2024-05-01T10:00:00Z"));
        assert_eq!(c.updated_at.as_deref(), Some("2024-05-01T11:00:00Z"));
        assert_eq!(c.model_id.as_deref(), Some("gpt-4o"));
    }

    #[test]
    fn edits_and_regenerations_stay_siblings_and_the_current_node_is_shown() {
        let c = one(conversation(
            vec![
                node("u1", Some("root"), "user", "q", 1.0),
                node("a1", Some("u1"), "assistant", "first answer", 2.0),
                node("a2", Some("u1"), "assistant", "regenerated", 3.0),
                node("u2", Some("root"), "user", "q edited", 4.0),
                node("a3", Some("u2"), "assistant", "answer to the edit", 5.0),
            ],
            "a2",
        ))
        .unwrap();
        assert_eq!(
            texts(&c),
            [
                "q",
                "q edited",
                "first answer",
                "regenerated",
                "answer to the edit"
            ]
        );
        assert_eq!(c.messages[2].parent, Some(0));
        assert_eq!(c.messages[3].parent, Some(0));
        assert_eq!(c.messages[4].parent, Some(1));
        assert_eq!(c.current, Some(3));
    }

    #[test]
    fn hidden_tool_and_empty_nodes_are_left_out_and_their_children_move_up() {
        let mut hidden = node("h", Some("root"), "user", "custom instructions", 0.5);
        hidden.1["message"]["metadata"]["is_visually_hidden_from_conversation"] = json!(true);
        let mut call = node("call", Some("u1"), "assistant", "search(\"x\")", 1.5);
        call.1["message"]["recipient"] = json!("browser");
        let c = one(conversation(
            vec![
                hidden,
                node("u1", Some("h"), "user", "q", 1.0),
                call,
                node("tool", Some("call"), "tool", "results", 1.6),
                node("empty", Some("tool"), "assistant", "  ", 1.7),
                node("a1", Some("empty"), "assistant", "the answer", 2.0),
            ],
            "a1",
        ))
        .unwrap();
        assert_eq!(texts(&c), ["q", "the answer"]);
        assert_eq!(c.messages[1].parent, Some(0));
        assert_eq!(c.current, Some(1));
    }

    #[test]
    fn image_parts_are_counted_and_their_text_kept() {
        let mut u = node("u1", Some("root"), "user", "", 1.0);
        u.1["message"]["content"] = json!({
            "content_type": "multimodal_text",
            "parts": [
                {"content_type": "image_asset_pointer", "asset_pointer": "file-service://x"},
                "what is in this picture?"
            ]
        });
        let c = one(conversation(
            vec![u, node("a1", Some("u1"), "assistant", "a cat", 2.0)],
            "a1",
        ))
        .unwrap();
        assert_eq!(texts(&c), ["what is in this picture?", "a cat"]);
        assert_eq!(c.attachments_skipped, 1);
    }

    #[test]
    fn a_looping_mapping_is_a_problem_and_the_others_still_import() {
        let looping = json!({
            "title": "loop",
            "mapping": {
                "a": {"message": null, "parent": "b"},
                "b": {"message": null, "parent": "c"},
                "c": {"message": null, "parent": "a"}
            }
        });
        let good = conversation(
            vec![
                node("u1", Some("root"), "user", "q", 1.0),
                node("a1", Some("u1"), "assistant", "a", 2.0),
            ],
            "a1",
        );
        let bytes = serde_json::to_vec(&json!([looping, good])).unwrap();
        let parsed = read_export(&bytes).unwrap();
        let problem = parsed.conversations[0].as_ref().unwrap_err();
        assert_eq!(problem.title, "loop");
        assert!(problem.reason.contains("loops"), "{problem:?}");
        assert!(parsed.conversations[1].is_ok());
    }

    #[test]
    fn a_conversation_over_the_node_limit_is_a_problem() {
        let nodes: Vec<(String, Value)> = (0..MAX_NODES)
            .map(|i| {
                let parent = if i == 0 {
                    "root".to_string()
                } else {
                    format!("n{}", i - 1)
                };
                node(&format!("n{i}"), Some(&parent), "user", "x", i as f64)
            })
            .collect();
        let err = one(conversation(nodes, "n0")).unwrap_err();
        assert!(err.reason.contains("10000"), "{err:?}");
    }

    #[test]
    fn files_that_are_not_an_export_are_refused() {
        let cases: [(&[u8], &str); 5] = [
            (b"hello world", "plain text"),
            (b"{\"a\": 1}", "an object, not a list"),
            (b"[1, 2, 3]", "a list of numbers"),
            (b"[{\"title\": \"x\"}]", "conversations without mapping"),
            (b"[{\"mapping\": {}", "cut off"),
        ];
        for (bytes, why) in cases {
            assert!(
                matches!(read_export(bytes), Err(ReadError::NotExport(_))),
                "{why}"
            );
        }
        assert!(read_export(b"[]").unwrap().conversations.is_empty());
    }

    #[test]
    fn a_zip_is_read_at_its_root_or_one_folder_down_and_not_deeper() {
        use std::io::Write;
        let zipped = |name: &str| {
            let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
            zip.start_file(name, zip::write::SimpleFileOptions::default())
                .unwrap();
            zip.write_all(b"[]").unwrap();
            zip.finish().unwrap().into_inner()
        };
        assert!(read_export(&zipped("conversations.json")).is_ok());
        assert!(read_export(&zipped("export-2025/conversations.json")).is_ok());
        assert!(matches!(
            read_export(&zipped("a/b/conversations.json")),
            Err(ReadError::NotExport(_))
        ));
        assert!(matches!(
            read_export(&zipped("chat.html")),
            Err(ReadError::NotExport(_))
        ));
    }
}
