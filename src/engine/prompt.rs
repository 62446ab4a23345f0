//! The prompt and title helpers: what is sent to the provider (the system
//! prompt, the collector's context and as much history as fits), token
//! estimates, and a conversation's generated or fallback title.

use std::collections::HashMap;

use crate::db::conversation::{ContextItem, Message, Role};
use crate::llm;

/// A rough token count for budgeting and for usage when the provider gives
/// none: about one token per 3 bytes (one per Hangul syllable, ~¾ of an English word).
pub fn estimate_tokens(text: &str) -> u32 {
    (text.len() as u32).div_ceil(3)
}

/// A model's answer turned into a title: first line, no quotes, at most 80 characters.
pub fn clean_title(raw: &str) -> String {
    let line = raw
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or_default();
    let line = line.trim_start_matches(['#', '*']).trim();
    let line = line.trim_matches(|c| matches!(c, '"' | '\'' | '“' | '”' | '「' | '」' | '*'));
    let line = line.strip_prefix("Title:").unwrap_or(line).trim();
    let mut title: String = line.chars().take(80).collect();
    while title.ends_with(['.', '。', ':']) {
        title.pop();
    }
    title.trim().to_string()
}

/// The fallback title: the question's first words, at most 50 characters.
pub fn fallback_title(question: &str) -> String {
    let flat: String = question.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= 50 {
        return flat;
    }
    let cut: String = flat.chars().take(50).collect();
    let cut = match cut.rfind(' ') {
        Some(i) if i > 20 => cut[..i].to_string(),
        _ => cut,
    };
    format!("{cut}…")
}

/// What an image costs in the budget, in tokens: about what providers
/// charge for one scaled to 1568 pixels on its longer side.
pub const IMAGE_TOKENS: u32 = 1_500;

/// The messages sent to the model: the system prompt, then as much of the
/// thread (newest kept first) as fits the context window, leaving room for
/// the answer. The newest question is always sent. `images` are the images
/// each question showed, by message id (vision models only; empty otherwise).
pub fn build_prompt(
    system_prompt: &str,
    thread: &[Message],
    context_window: Option<u32>,
    images: &HashMap<String, Vec<llm::Image>>,
) -> Vec<llm::ChatMessage> {
    let window = context_window.unwrap_or(8192).max(1024);
    let reserve = (window / 4).clamp(256, 4096);
    let mut budget = window
        .saturating_sub(reserve)
        .saturating_sub(estimate_tokens(system_prompt));
    let mut kept: Vec<llm::ChatMessage> = Vec::new();
    for (i, message) in thread.iter().rev().enumerate() {
        let shown = images.get(&message.id).cloned().unwrap_or_default();
        if message.content.is_empty() && shown.is_empty() && message.files.is_empty() {
            continue;
        }
        let cost = estimate_tokens(&message.content) + 4 + IMAGE_TOKENS * shown.len() as u32;
        if cost > budget && i > 0 {
            break;
        }
        budget = budget.saturating_sub(cost);
        let role = match message.role {
            Role::Assistant => llm::ChatRole::Assistant,
            Role::System => llm::ChatRole::System,
            Role::User => llm::ChatRole::User,
        };
        // A question of files only still needs words for some providers.
        let content = if role == llm::ChatRole::User && message.content.trim().is_empty() {
            "(see the attached files)".to_string()
        } else {
            message.content.clone()
        };
        kept.push(llm::ChatMessage {
            role,
            content,
            images: shown,
        });
    }
    kept.reverse();
    // A thread must not open with an answer.
    while kept
        .first()
        .is_some_and(|m| matches!(m.role, llm::ChatRole::Assistant))
    {
        kept.remove(0);
    }
    if !system_prompt.trim().is_empty() {
        kept.insert(
            0,
            llm::ChatMessage::new(llm::ChatRole::System, system_prompt),
        );
    }
    kept
}

/// The budget of reference material (collector items and documents) for
/// the system prompt: half of the model's usable window (the thread gets
/// the rest).
pub fn reference_budget(context_window: Option<u32>) -> u32 {
    let window = context_window.unwrap_or(8192).max(1024);
    let reserve = (window / 4).clamp(256, 4096);
    window.saturating_sub(reserve) / 2
}

/// One piece of reference material: a heading and its text.
pub struct Reference<'a> {
    pub title: &'a str,
    pub text: &'a str,
}

/// `references` as one block under `intro`, within `budget` tokens (taken
/// from it). They are taken in order; one that does not fit whole is cut,
/// and the ones after it are left out. Returns the block (empty when none
/// fit) and, for each reference included, whether it was cut.
pub fn reference_block(
    intro: &str,
    references: &[Reference<'_>],
    budget: &mut u32,
) -> (String, Vec<bool>) {
    let mut block = String::new();
    let mut included = Vec::new();
    for reference in references {
        let header = format!("\n### {}\n", reference.title);
        let header_cost = estimate_tokens(&header) + 4;
        if *budget <= header_cost + 16 {
            break;
        }
        *budget -= header_cost;
        let cost = estimate_tokens(reference.text);
        let (text, truncated) = if cost <= *budget {
            *budget -= cost;
            (reference.text, false)
        } else {
            // About three bytes per token: cut on a character boundary.
            let mut end = (*budget as usize * 3).min(reference.text.len());
            while !reference.text.is_char_boundary(end) {
                end -= 1;
            }
            *budget = 0;
            (&reference.text[..end], true)
        };
        if block.is_empty() {
            block.push_str(intro);
            block.push('\n');
        }
        block.push_str(&header);
        block.push_str(text);
        if truncated {
            block.push_str("\n[…truncated]");
        }
        block.push('\n');
        included.push(truncated);
        if *budget == 0 {
            break;
        }
    }
    (block, included)
}

/// The collector items attached to a question, as one block of text for the
/// system prompt, within `budget` (see [`reference_block`]). Returns the
/// block and the items included (the question's `context`, saved with it).
pub fn context_block(
    items: &[crate::db::collector::Item],
    budget: &mut u32,
) -> (String, Vec<ContextItem>) {
    let references: Vec<Reference<'_>> = items
        .iter()
        .map(|i| Reference {
            title: &i.title,
            text: &i.content,
        })
        .collect();
    let (block, included) = reference_block(
        "The user attached the following reference material from their collector. \
         Use it to answer.",
        &references,
        budget,
    );
    let used = items
        .iter()
        .zip(included)
        .map(|(item, truncated)| ContextItem {
            collector_item_id: item.id.clone(),
            title: item.title.clone(),
            truncated,
        })
        .collect();
    (block, used)
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::db::conversation::{self, Usage};

    /// A message of `role` saying `content`, its other fields empty.
    pub(in crate::engine) fn msg(role: &str, content: &str) -> Message {
        Message {
            id: String::new(),
            conversation_id: String::new(),
            idx: 0,
            role: conversation::Role::parse(role).unwrap_or(conversation::Role::User),
            content: content.into(),
            model_id: None,
            status: conversation::Status::Complete,
            error: None,
            parent_id: None,
            sibling_ids: vec![],
            usage: Usage::default(),
            feedback: None,
            context: Vec::new(),
            files: Vec::new(),
            created_at: String::new(),
            updated_at: String::new(),
        }
    }

    #[test]
    fn the_prompt_keeps_the_system_prompt_and_the_newest_messages_that_fit() {
        let long = "x".repeat(3500 * 3);
        let thread = vec![
            msg("user", &long),
            msg("assistant", "old answer"),
            msg("user", "recent question"),
            msg("assistant", "recent answer"),
            msg("user", "new question"),
        ];
        let prompt = build_prompt("Be brief.", &thread, Some(4096), &HashMap::new());
        let contents: Vec<&str> = prompt.iter().map(|m| m.content.as_str()).collect();
        assert_eq!(
            contents,
            [
                "Be brief.",
                "recent question",
                "recent answer",
                "new question"
            ]
        );
        assert!(matches!(prompt[0].role, llm::ChatRole::System));

        let everything = build_prompt("", &thread, Some(128_000), &HashMap::new());
        assert_eq!(everything.len(), 5);
        assert!(matches!(everything[0].role, llm::ChatRole::User));
    }

    #[test]
    fn the_newest_question_is_sent_even_when_it_alone_is_too_long() {
        let huge = "가".repeat(20_000);
        let prompt = build_prompt("", &[msg("user", &huge)], Some(2048), &HashMap::new());
        assert_eq!(prompt.len(), 1);
    }

    #[test]
    fn titles_are_cleaned_and_fallbacks_are_the_first_words() {
        assert_eq!(
            clean_title("\"Dog vomiting advice\"\n"),
            "Dog vomiting advice"
        );
        assert_eq!(clean_title("Title: 강아지 구토 상담."), "강아지 구토 상담");
        assert_eq!(clean_title("## **Rust lifetimes**"), "Rust lifetimes");
        assert_eq!(
            fallback_title("  우리 강아지가\n갑자기 토해요  "),
            "우리 강아지가 갑자기 토해요"
        );
        let long = fallback_title(&"word ".repeat(40));
        assert!(long.ends_with('…') && long.chars().count() <= 51, "{long}");
    }

    #[test]
    fn token_estimates_count_hangul_as_about_one_token_per_syllable() {
        assert_eq!(estimate_tokens("강아지"), 3);
        assert_eq!(estimate_tokens(""), 0);
    }
}
