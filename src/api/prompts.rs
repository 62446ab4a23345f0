//! `/prompts`: the prompt library (SPEC §3 "Public"): the starter prompts
//! shipped in `assets/prompts.json` (embedded in the binary, read-only) plus
//! the ones admins add. Reading needs no sign-in; changes are admin-only and
//! audited.

use std::sync::OnceLock;

use serde::Deserialize;
use serde_json::json;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::error::{json_response, respond, ApiError};
use super::filters::{admin, json_body, with_state};
use crate::app::AppState;
use crate::auth::CurrentUser;
use crate::db::audit;
use crate::db::prompt::{self, Prompt, PromptInput};

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

pub fn routes(state: AppState) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    // GET /api/v1/prompts?lang=&q=
    let list = warp::path!("prompts")
        .and(warp::get())
        .and(with_state(state.clone()))
        .and(warp::query::<ListQuery>())
        .then(list)
        .map(respond);
    // POST /api/v1/prompts (admin)
    let create = warp::path!("prompts")
        .and(warp::post())
        .and(with_state(state.clone()))
        .and(admin(state.clone()))
        .and(json_body())
        .then(
            |state: AppState, admin: CurrentUser, body: PromptBody| async move {
                save(state, admin, None, body).await
            },
        )
        .map(respond);
    // PUT /api/v1/prompts/{id} (admin)
    let update = warp::path!("prompts" / String)
        .and(warp::put().or(warp::patch()).unify())
        .and(with_state(state.clone()))
        .and(admin(state.clone()))
        .and(json_body())
        .then(
            |id: String, state: AppState, admin: CurrentUser, body: PromptBody| async move {
                save(state, admin, Some(id), body).await
            },
        )
        .map(respond);
    // DELETE /api/v1/prompts/{id} (admin)
    let delete = warp::path!("prompts" / String)
        .and(warp::delete())
        .and(with_state(state.clone()))
        .and(admin(state))
        .then(delete)
        .map(respond);
    list.or(create)
        .unify()
        .or(update)
        .unify()
        .or(delete)
        .unify()
}

#[derive(Deserialize)]
struct ListQuery {
    lang: Option<String>,
    q: Option<String>,
}

async fn list(state: AppState, query: ListQuery) -> Result<Response, ApiError> {
    let mut prompts = state.db.run(|conn| prompt::list(conn)).await?;
    prompts.extend(starter().iter().cloned());
    let lang = query.lang.filter(|l| !l.is_empty());
    let keywords = crate::service::search::keywords(query.q.as_deref().unwrap_or_default());
    let prompts: Vec<Prompt> = prompts
        .into_iter()
        .filter(|p| match (&lang, &p.language) {
            (Some(want), Some(have)) => want == have,
            _ => true,
        })
        .filter(|p| {
            let text = format!(
                "{} {} {} {}",
                p.title,
                p.content,
                p.category,
                p.tags.join(" ")
            )
            .to_lowercase();
            keywords.iter().all(|k| text.contains(&k.to_lowercase()))
        })
        .collect();
    Ok(json_response(
        StatusCode::OK,
        &json!({ "prompts": prompts }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PromptBody {
    title: Option<String>,
    content: Option<String>,
    category: Option<String>,
    tags: Option<Vec<String>>,
    #[serde(default, deserialize_with = "super::filters::double_option")]
    language: Option<Option<String>>,
}

fn builtin_refused() -> ApiError {
    ApiError::forbidden(
        "builtin_prompt",
        "the starter prompts ship with daehwa and cannot be changed; add a prompt of your own",
    )
}

async fn save(
    state: AppState,
    admin: CurrentUser,
    id: Option<String>,
    body: PromptBody,
) -> Result<Response, ApiError> {
    if id
        .as_deref()
        .is_some_and(|id| starter().iter().any(|p| p.id == id))
    {
        return Err(builtin_refused());
    }
    let actor = (admin.user.id.clone(), admin.user.username.clone());
    let created = id.is_none();
    let saved = state
        .db
        .run(move |conn| -> Result<_, crate::db::DbError> {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let existing = match &id {
                Some(id) => match prompt::get(&tx, id)? {
                    Some(p) => Some(p),
                    None => return Ok(Err(ApiError::NotFound("no such prompt".into()))),
                },
                None => None,
            };
            let title = body
                .title
                .or(existing.as_ref().map(|p| p.title.clone()))
                .unwrap_or_default();
            let content = body
                .content
                .or(existing.as_ref().map(|p| p.content.clone()))
                .unwrap_or_default();
            let category = body
                .category
                .or(existing.as_ref().map(|p| p.category.clone()))
                .unwrap_or_default();
            let tags = body
                .tags
                .or(existing.as_ref().map(|p| p.tags.clone()))
                .unwrap_or_default();
            let language = match body.language {
                Some(l) => l,
                None => existing.as_ref().and_then(|p| p.language.clone()),
            };
            let mut fields = std::collections::BTreeMap::new();
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
                return Ok(Err(ApiError::Validation(fields)));
            }
            let saved = prompt::save(
                &tx,
                id.as_deref(),
                &PromptInput {
                    title: title.trim(),
                    content: &content,
                    category: category.trim(),
                    tags: &tags,
                    language: language.as_deref(),
                },
            )?
            .ok_or_else(|| crate::db::DbError::Task("saved prompt vanished".into()))?;
            audit::record(
                &tx,
                Some((&actor.0, &actor.1)),
                if created {
                    "prompt.create"
                } else {
                    "prompt.update"
                },
                Some(&saved.id),
                &json!({ "title": saved.title }),
            )?;
            tx.commit()?;
            Ok(Ok(saved))
        })
        .await??;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(json_response(status, &json!(saved)))
}

async fn delete(id: String, state: AppState, admin: CurrentUser) -> Result<Response, ApiError> {
    if starter().iter().any(|p| p.id == id) {
        return Err(builtin_refused());
    }
    let actor = (admin.user.id.clone(), admin.user.username.clone());
    state
        .db
        .run(move |conn| -> Result<_, crate::db::DbError> {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let Some(p) = prompt::get(&tx, &id)? else {
                return Ok(Err(ApiError::NotFound("no such prompt".into())));
            };
            prompt::delete(&tx, &id)?;
            audit::record(
                &tx,
                Some((&actor.0, &actor.1)),
                "prompt.delete",
                Some(&id),
                &json!({ "title": p.title }),
            )?;
            tx.commit()?;
            Ok(Ok(()))
        })
        .await??;
    Ok(super::no_content())
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
}
