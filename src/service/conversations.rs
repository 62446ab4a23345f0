//! Conversations (SPEC §3 "Conversations and messages"): creating one (and
//! asking in it at once), changing it, deleting it or its last exchange.

use super::chat::{self, Chat, Started, Turn};
use super::{Error, Result};
use crate::db::conversation::{
    self as repo, Conversation, ConversationUpdate, Feedback, NewConversation, FEEDBACK_REASONS,
};
use crate::db::Db;

/// Longest title, in characters.
pub const MAX_TITLE_CHARS: usize = 200;

/// A new conversation, and optionally its first question.
pub struct NewChat {
    pub title: Option<String>,
    pub model_id: Option<String>,
    /// The models answering the first question side by side (instead of
    /// `model_id`; the conversation's model is the first).
    pub model_ids: Option<Vec<String>>,
    pub system_prompt: Option<String>,
    /// The first question, asked at once when given.
    pub message: Option<String>,
    pub collector_item_ids: Option<Vec<String>>,
    /// Uploads the first question carries.
    pub file_ids: Option<Vec<String>>,
    /// A temporary chat (forced when one of the user's groups says so).
    pub temporary: bool,
}

/// What [`create`] made.
pub enum Created {
    /// An empty conversation.
    Empty(Conversation),
    /// A conversation answering its first question.
    Asked(Started),
}

/// A title as it is kept: trimmed, at most [`MAX_TITLE_CHARS`] characters.
pub fn clip_title(title: Option<&str>) -> String {
    title
        .map(str::trim)
        .unwrap_or_default()
        .chars()
        .take(MAX_TITLE_CHARS)
        .collect()
}

/// Creates a conversation of `user_id` (refusing an unknown or disabled
/// model, and unknown collector items, before anything is written) and asks
/// its first question when there is one.
pub async fn create(chat: &Chat<'_>, user_id: &str, new: NewChat) -> Result<Created> {
    let models = chat::Models::of(new.model_id, new.model_ids)?;
    if matches!(models, chat::Models::Compare(_)) && new.message.is_none() {
        return Err(Error::invalid(
            "model_ids",
            "models are compared on a question: give a message",
        ));
    }
    let context = chat::collector_items(chat.db, user_id, new.collector_item_ids).await?;
    let title = clip_title(new.title.as_deref());
    let system_prompt = new.system_prompt.unwrap_or_default();
    let model_id = match &models {
        chat::Models::One(model_id) => model_id.clone(),
        chat::Models::Compare(ids) => ids.first().cloned(),
    };
    if let Some(model_id) = &model_id {
        chat::resolve_model(chat.db, Some(model_id.clone()), None)
            .await
            .map_err(|err| match &models {
                chat::Models::Compare(_) => chat::about_model_ids(err),
                chat::Models::One(_) => err,
            })?;
    }
    let owner = user_id.to_string();
    let wanted_temporary = new.temporary;
    let conversation = chat
        .db
        .run(move |conn| {
            let temporary =
                wanted_temporary || crate::db::group::temporary_chats_forced(conn, &owner)?;
            repo::create_as(
                conn,
                &owner,
                &NewConversation {
                    title: &title,
                    model_id: model_id.as_deref(),
                    system_prompt: &system_prompt,
                },
                temporary,
            )
        })
        .await?;
    match new.message {
        None => Ok(Created::Empty(conversation)),
        Some(content) => {
            let id = conversation.id.clone();
            let asked = chat::ask_with(
                chat,
                user_id,
                conversation,
                Turn::Question(content),
                models,
                chat::Carried {
                    context,
                    file_ids: new.file_ids,
                },
            )
            .await;
            match asked {
                Ok(started) => Ok(Created::Asked(started)),
                Err(err) => {
                    // A refused first question leaves no empty conversation
                    // behind (nothing else was written: the turn is one
                    // transaction).
                    let owner = user_id.to_string();
                    if let Err(cleanup) = chat
                        .db
                        .run(move |conn| repo::delete_empty(conn, &owner, &id))
                        .await
                    {
                        log::warn!("could not remove a refused new conversation: {cleanup}");
                    }
                    Err(err)
                }
            }
        }
    }
}

/// A change to a conversation; `current_message_id` switches its thread to
/// the newest leaf under that message.
#[derive(Default)]
pub struct Change {
    pub title: Option<String>,
    pub pinned: Option<bool>,
    pub archived: Option<bool>,
    pub model_id: Option<Option<String>>,
    pub system_prompt: Option<String>,
    pub current_message_id: Option<String>,
    /// The user's folder to file it in; `Some(None)` unfiles it.
    pub folder_id: Option<Option<String>>,
    /// Replaces its tags (see [`normalize_tags`]).
    pub tags: Option<Vec<String>>,
}

/// Longest tag, in characters.
pub const MAX_TAG_CHARS: usize = 50;
/// Most tags on one conversation.
pub const MAX_TAGS: usize = 20;

/// Tags as they are kept: each trimmed, 1–50 characters, no comma, no
/// control character, not starting with `tag:` (the search's filter
/// token); case-insensitive repeats merged (the first spelling stays); at
/// most 20. A 422 on `tags` otherwise.
pub fn normalize_tags(tags: &[String]) -> Result<Vec<String>> {
    let bad = |why: String| Error::Validation([("tags", why)].into());
    let mut out: Vec<String> = Vec::new();
    for tag in tags {
        let tag = tag.trim();
        if tag.is_empty() {
            return Err(bad("a tag must not be empty".into()));
        }
        if tag.chars().count() > MAX_TAG_CHARS {
            return Err(bad(format!(
                "a tag must be at most {MAX_TAG_CHARS} characters"
            )));
        }
        if tag.contains(',') || tag.chars().any(char::is_control) {
            return Err(bad(
                "a tag may not contain commas or control characters".into()
            ));
        }
        if tag.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("tag:")) {
            return Err(bad("a tag must not start with tag:".into()));
        }
        if out.iter().any(|t| t.to_lowercase() == tag.to_lowercase()) {
            continue;
        }
        if out.len() == MAX_TAGS {
            return Err(bad(format!("at most {MAX_TAGS} tags per conversation")));
        }
        out.push(tag.to_string());
    }
    Ok(out)
}

/// What a temporary chat refuses to be filed or tagged with.
const NOT_KEPT: &str = "temporary chats are not kept";

/// Checks and applies `change`; answers the conversation as it is now.
pub async fn update(
    chat: &Chat<'_>,
    user_id: &str,
    conversation: Conversation,
    change: Change,
) -> Result<Conversation> {
    if let Some(title) = &change.title {
        if title.trim().is_empty() {
            return Err(Error::invalid("title", "must not be empty"));
        }
        if title.chars().count() > MAX_TITLE_CHARS {
            return Err(Error::invalid("title", "must be at most 200 characters"));
        }
    }
    if let Some(Some(model_id)) = &change.model_id {
        chat::resolve_model(chat.db, Some(model_id.clone()), None).await?;
    }
    if conversation.temporary {
        if change.folder_id.is_some() {
            return Err(Error::invalid("folder_id", NOT_KEPT));
        }
        if change.tags.is_some() {
            return Err(Error::invalid("tags", NOT_KEPT));
        }
    }
    let tags = change.tags.as_deref().map(normalize_tags).transpose()?;
    if change.current_message_id.is_some() && chat::is_busy(chat.engine, &conversation.id) {
        return Err(Error::Busy);
    }
    let update = ConversationUpdate {
        title: change.title.map(|t| t.trim().to_string()),
        pinned: change.pinned,
        archived: change.archived,
        model_id: change.model_id,
        system_prompt: change.system_prompt,
        folder_id: change.folder_id,
    };
    let target = change.current_message_id;
    let conv_id = conversation.id;
    let user_id = user_id.to_string();
    chat.db
        .run(move |conn| {
            crate::db::audit::immediate(conn, |conn| -> Result<_> {
                if let Some(Some(folder)) = &update.folder_id {
                    if crate::db::folder::get(conn, &user_id, folder)?.is_none() {
                        return Err(Error::NotFound("no such folder".into()));
                    }
                }
                if let Some(tags) = &tags {
                    repo::set_tags(conn, &user_id, &conv_id, tags)?;
                }
                if let Some(target) = &target {
                    match repo::message(conn, target)? {
                        Some(m) if m.conversation_id == conv_id => {
                            let leaf = repo::latest_leaf(conn, &m.id)?;
                            repo::set_current(conn, &conv_id, Some(&leaf), false)?;
                        }
                        _ => {
                            return Err(Error::invalid(
                                "current_message_id",
                                "is not a message of this conversation",
                            ))
                        }
                    }
                }
                repo::update(conn, &conv_id, &update)?;
                repo::get(conn, &user_id, &conv_id)?
                    .ok_or_else(|| Error::NotFound("no such conversation".into()))
            })
        })
        .await
}

/// The user's tags over their kept (not temporary) conversations, by name,
/// with how many conversations have each.
pub async fn tags(db: &Db, user_id: String) -> Result<Vec<repo::TagCount>> {
    Ok(db.run(move |conn| repo::tag_counts(conn, &user_id)).await?)
}

/// A 409 `temporary_chat` when `conversation` is a temporary chat: it
/// cannot be shared, published as a sample or exported.
pub fn kept(conversation: &Conversation, what: &str) -> Result<()> {
    if conversation.temporary {
        return Err(Error::refused(
            http::StatusCode::CONFLICT,
            "temporary_chat",
            format!("a temporary chat cannot be {what}"),
        ));
    }
    Ok(())
}

/// Deletes a conversation, stopping its answer first.
pub async fn delete(chat: &Chat<'_>, conversation: Conversation) -> Result<()> {
    chat.engine.stop_turn(&conversation.id);
    chat.db
        .run(move |conn| repo::delete(conn, &conversation.id))
        .await?;
    Ok(())
}

/// Deletes the last question of the current thread with its answers (not
/// while answering); says whether there was one.
pub async fn delete_last(chat: &Chat<'_>, conversation: Conversation) -> Result<bool> {
    if chat::is_busy(chat.engine, &conversation.id) {
        return Err(Error::Busy);
    }
    Ok(chat
        .db
        .run(move |conn| repo::delete_last_exchange(conn, &conversation))
        .await?)
}

/// Longest feedback comment kept, in characters.
pub const MAX_FEEDBACK_COMMENT_CHARS: usize = 2000;

/// Records the user's rating of one answer of `conversation` (theirs): `up`
/// or `down`, a comment kept to its first 2000 characters, and the reasons
/// (each one of [`FEEDBACK_REASONS`], repeated ones once). A message of
/// another conversation is a 404, like an unknown one.
pub async fn rate(
    db: &Db,
    user_id: String,
    conversation: &Conversation,
    message_id: String,
    mut feedback: Feedback,
) -> Result<(String, Feedback)> {
    if feedback.rating != "up" && feedback.rating != "down" {
        return Err(Error::invalid("rating", "must be up or down"));
    }
    if feedback.reasons.len() > FEEDBACK_REASONS.len()
        || feedback
            .reasons
            .iter()
            .any(|r| !FEEDBACK_REASONS.contains(&r.as_str()))
    {
        return Err(Error::invalid(
            "reasons",
            format!("must be among {}", FEEDBACK_REASONS.join(", ")),
        ));
    }
    feedback
        .reasons
        .sort_by_key(|r| FEEDBACK_REASONS.iter().position(|k| k == r));
    feedback.reasons.dedup();
    feedback.comment = feedback
        .comment
        .map(|c| {
            c.trim()
                .chars()
                .take(MAX_FEEDBACK_COMMENT_CHARS)
                .collect::<String>()
        })
        .filter(|c| !c.is_empty());
    let conversation_id = conversation.id.clone();
    db.run(move |conn| match repo::message(conn, &message_id)? {
        Some(m) if m.conversation_id == conversation_id => {
            repo::set_feedback(conn, &user_id, &m.id, &feedback)?;
            Ok((m.id, feedback))
        }
        _ => Err(Error::NotFound(
            "no such message in this conversation".into(),
        )),
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_title_is_trimmed_and_clipped() {
        assert_eq!(clip_title(None), "");
        assert_eq!(clip_title(Some("  hi  ")), "hi");
        assert_eq!(
            clip_title(Some(&"가".repeat(300))).chars().count(),
            MAX_TITLE_CHARS
        );
    }

    fn tags_field(tags: &[&str]) -> Option<String> {
        let tags: Vec<String> = tags.iter().map(|t| t.to_string()).collect();
        match normalize_tags(&tags) {
            Err(Error::Validation(f)) => f.get("tags").cloned(),
            Err(other) => panic!("{other}"),
            Ok(_) => None,
        }
    }

    #[test]
    fn tags_are_trimmed_merged_case_insensitively_and_checked() {
        let tags: Vec<String> = [" work ", "여행", "Work", "WORK", "travel"]
            .iter()
            .map(|t| t.to_string())
            .collect();
        assert_eq!(normalize_tags(&tags).unwrap(), ["work", "여행", "travel"]);
        assert!(normalize_tags(&[]).unwrap().is_empty());
        let long = "가".repeat(51);
        for (bad, why) in [
            (vec![" "], "empty"),
            (vec![long.as_str()], "too long"),
            (vec!["a,b"], "comma"),
            (vec!["a\u{0}b"], "control character"),
            (vec!["tag:x"], "the filter prefix"),
            (vec!["TAG:x"], "the filter prefix in capitals"),
        ] {
            assert!(tags_field(&bad).is_some(), "{why}: accepted");
        }
        let code = |tags: &[&str]| crate::api::error::field_code(&tags_field(tags).unwrap());
        assert_eq!(code(&[long.as_str()]), "too_long");
        assert_eq!(code(&["a,b"]), "invalid_chars");
        let many: Vec<String> = (0..21).map(|i| format!("t{i}")).collect();
        let Err(Error::Validation(f)) = normalize_tags(&many) else {
            panic!("21 tags accepted");
        };
        assert_eq!(crate::api::error::field_code(&f["tags"]), "too_many");
        // Repeats do not count towards the limit.
        let repeated: Vec<String> = (0..40).map(|i| format!("T{}", i % 20)).collect();
        assert_eq!(normalize_tags(&repeated).unwrap().len(), 20);
        assert!(normalize_tags(&["가".repeat(50)]).is_ok());
    }
}
