//! The prompt library (SPEC §3 "Public"): the starter prompts shipped in
//! `assets/prompts.json` (embedded in the binary, read-only) plus the ones
//! admins add; listing with a language and keyword filter, and the audited
//! admin changes with their validation.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde_json::json;

use super::{Error, Result};
use crate::db::audit::{self, Actor, Audit};
use crate::db::prompt::{self, Prompt, PromptInput};
use crate::db::Db;

const STARTER: &str = include_str!("../../assets/prompts.json");

/// The starter prompts, parsed once (a unit test checks the file parses).
pub fn starter() -> &'static [Prompt] {
    static PROMPTS: OnceLock<Vec<Prompt>> = OnceLock::new();
    PROMPTS.get_or_init(|| {
        let mut list: Vec<Prompt> = serde_json::from_str(STARTER).unwrap_or_else(|e| {
            log::error!("assets/prompts.json is invalid: {e}");
            Vec::new()
        });
        for p in &mut list {
            p.builtin = true;
        }
        list
    })
}

/// A change to a prompt: absent fields keep the stored value (or default to
/// empty for a new prompt); `language: Some(None)` clears it.
#[derive(Debug, Default)]
pub struct PromptChange {
    pub title: Option<String>,
    pub content: Option<String>,
    pub category: Option<String>,
    pub tags: Option<Vec<String>>,
    pub language: Option<Option<String>>,
}

/// The prompts of the library (admins' then the starter ones) in `lang`
/// (prompts for every language always match) containing every keyword of `q`.
pub async fn list(db: &Db, lang: Option<String>, q: Option<&str>) -> Result<Vec<Prompt>> {
    let mut prompts = db.run(|conn| prompt::list(conn)).await?;
    prompts.extend(starter().iter().cloned());
    let lang = lang.filter(|l| !l.is_empty());
    let keywords = super::search::keywords(q.unwrap_or_default());
    Ok(prompts
        .into_iter()
        .filter(|p| matches_language(p, lang.as_deref()))
        .filter(|p| matches_keywords(p, &keywords))
        .collect())
}

fn matches_language(p: &Prompt, lang: Option<&str>) -> bool {
    match (lang, &p.language) {
        (Some(want), Some(have)) => want == have,
        _ => true,
    }
}

fn matches_keywords(p: &Prompt, keywords: &[String]) -> bool {
    let text = format!(
        "{} {} {} {}",
        p.title,
        p.content,
        p.category,
        p.tags.join(" ")
    )
    .to_lowercase();
    keywords.iter().all(|k| text.contains(&k.to_lowercase()))
}

fn builtin_refused() -> Error {
    Error::forbidden(
        "builtin_prompt",
        "the starter prompts ship with daehwa and cannot be changed; add a prompt of your own",
    )
}

fn is_builtin(id: &str) -> bool {
    starter().iter().any(|p| p.id == id)
}

/// The fields a prompt is saved with: `change` over `existing`, validated.
struct Merged {
    title: String,
    content: String,
    category: String,
    tags: Vec<String>,
    language: Option<String>,
}

fn merge(existing: Option<&Prompt>, change: PromptChange) -> Result<Merged> {
    let title = change
        .title
        .or(existing.map(|p| p.title.clone()))
        .unwrap_or_default();
    let content = change
        .content
        .or(existing.map(|p| p.content.clone()))
        .unwrap_or_default();
    let category = change
        .category
        .or(existing.map(|p| p.category.clone()))
        .unwrap_or_default();
    let tags = change
        .tags
        .or(existing.map(|p| p.tags.clone()))
        .unwrap_or_default();
    let language = match change.language {
        Some(l) => l,
        None => existing.and_then(|p| p.language.clone()),
    };
    let mut fields = BTreeMap::new();
    if title.trim().is_empty() || title.chars().count() > 200 {
        fields.insert("title", "must be 1 to 200 characters".to_string());
    }
    if content.trim().is_empty() || content.chars().count() > 20_000 {
        fields.insert("content", "must be 1 to 20000 characters".to_string());
    }
    if category.chars().count() > 50 {
        fields.insert("category", "must be at most 50 characters".to_string());
    }
    if tags.len() > 20 || tags.iter().any(|t| t.chars().count() > 40) {
        fields.insert(
            "tags",
            "at most 20 tags of at most 40 characters".to_string(),
        );
    }
    if language.as_deref().is_some_and(|l| l != "ko" && l != "en") {
        fields.insert("language", "must be ko, en or null".to_string());
    }
    if !fields.is_empty() {
        return Err(Error::Validation(fields));
    }
    Ok(Merged {
        title,
        content,
        category,
        tags,
        language,
    })
}

/// Adds (`id` None) or changes an admin's prompt, audited.
pub async fn save(
    db: &Db,
    actor: Actor,
    id: Option<String>,
    change: PromptChange,
) -> Result<Prompt> {
    if id.as_deref().is_some_and(is_builtin) {
        return Err(builtin_refused());
    }
    let action = if id.is_none() {
        "prompt.create"
    } else {
        "prompt.update"
    };
    db.run(move |conn| {
        audit::audited(conn, Some(&actor), action, |tx| {
            let existing = match &id {
                Some(id) => Some(
                    prompt::get(tx, id)?.ok_or_else(|| Error::NotFound("no such prompt".into()))?,
                ),
                None => None,
            };
            let m = merge(existing.as_ref(), change)?;
            let saved = prompt::save(
                tx,
                id.as_deref(),
                &PromptInput {
                    title: m.title.trim(),
                    content: &m.content,
                    category: m.category.trim(),
                    tags: &m.tags,
                    language: m.language.as_deref(),
                },
            )?
            .ok_or_else(|| Error::Internal("saved prompt vanished".into()))?;
            let audit = Audit::new(saved.id.clone(), json!({ "title": saved.title }));
            Ok((saved, audit))
        })
    })
    .await
}

/// Deletes an admin's prompt, audited.
pub async fn delete(db: &Db, actor: Actor, id: String) -> Result<()> {
    if is_builtin(&id) {
        return Err(builtin_refused());
    }
    db.run(move |conn| {
        audit::audited(conn, Some(&actor), "prompt.delete", |tx| {
            let p =
                prompt::get(tx, &id)?.ok_or_else(|| Error::NotFound("no such prompt".into()))?;
            prompt::delete(tx, &id)?;
            Ok(((), Audit::new(id.clone(), json!({ "title": p.title }))))
        })
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_starter_prompts_parse_and_cover_korean_and_english_with_unique_ids() {
        let all = starter();
        assert!(
            all.iter()
                .filter(|p| p.language.as_deref() == Some("ko"))
                .count()
                >= 5
        );
        assert!(
            all.iter()
                .filter(|p| p.language.as_deref() == Some("en"))
                .count()
                >= 5
        );
        let mut ids: Vec<&str> = all.iter().map(|p| p.id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), all.len());
        assert!(all
            .iter()
            .all(|p| p.builtin && p.id.starts_with("builtin-") && !p.content.is_empty()));
    }

    fn stored() -> Prompt {
        Prompt {
            id: "p1".into(),
            title: "Old".into(),
            content: "text".into(),
            category: "cat".into(),
            tags: vec!["a".into()],
            language: Some("ko".into()),
            builtin: false,
        }
    }

    #[test]
    fn a_partial_change_keeps_the_stored_fields_and_null_clears_the_language() {
        let m = merge(
            Some(&stored()),
            PromptChange {
                title: Some("New".into()),
                language: Some(None),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(m.title, "New");
        assert_eq!(m.content, "text");
        assert_eq!(m.tags, ["a"]);
        assert_eq!(m.language, None);
        let kept = merge(Some(&stored()), PromptChange::default()).unwrap();
        assert_eq!(kept.language.as_deref(), Some("ko"));
    }

    #[test]
    fn invalid_prompts_are_refused_field_by_field() {
        let cases: [(PromptChange, &str, &str); 5] = [
            (
                PromptChange::default(),
                "title",
                "a new prompt needs a title",
            ),
            (
                PromptChange {
                    content: Some("x".repeat(20_001)),
                    ..Default::default()
                },
                "content",
                "content is at most 20000 characters",
            ),
            (
                PromptChange {
                    category: Some("c".repeat(51)),
                    ..Default::default()
                },
                "category",
                "category is at most 50 characters",
            ),
            (
                PromptChange {
                    tags: Some(vec!["t".into(); 21]),
                    ..Default::default()
                },
                "tags",
                "at most 20 tags",
            ),
            (
                PromptChange {
                    language: Some(Some("fr".into())),
                    ..Default::default()
                },
                "language",
                "only ko and en",
            ),
        ];
        for (change, field, why) in cases {
            let Err(Error::Validation(fields)) = merge(None, change) else {
                panic!("{why}: accepted");
            };
            assert!(fields.contains_key(field), "{why}: {fields:?}");
        }
    }

    #[test]
    fn the_language_filter_keeps_prompts_for_every_language_and_keywords_all_match() {
        let mut p = stored();
        assert!(matches_language(&p, Some("ko")));
        assert!(!matches_language(&p, Some("en")));
        p.language = None;
        assert!(matches_language(&p, Some("en")));
        assert!(matches_keywords(&p, &["OLD".into(), "cat".into()]));
        assert!(!matches_keywords(&p, &["old".into(), "missing".into()]));
    }
}
