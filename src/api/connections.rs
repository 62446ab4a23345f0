//! `/models` (public) and `/admin/connections` (admins): the LLM providers and
//! the models users may pick. API keys are stored and never returned.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Value};
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::error::{json_response, respond, ApiError};
use super::filters::{admin, json_body, with_state};
use crate::app::AppState;
use crate::auth::CurrentUser;
use crate::db::audit;
use crate::db::connection::{self as repo, ConnectionInput, ConnectionRow, ModelRow};
use crate::llm;
use crate::service::models::endpoint_of;

pub fn routes(state: AppState) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    // GET /api/v1/models
    let models = warp::path!("models")
        .and(warp::get())
        .and(with_state(state.clone()))
        .then(list_models)
        .map(respond);
    // GET /api/v1/admin/connections
    let list = warp::path!("admin" / "connections")
        .and(warp::get())
        .and(with_state(state.clone()))
        .and(admin(state.clone()))
        .then(list)
        .map(respond);
    // POST /api/v1/admin/connections
    let create = warp::path!("admin" / "connections")
        .and(warp::post())
        .and(with_state(state.clone()))
        .and(admin(state.clone()))
        .and(json_body())
        .then(create)
        .map(respond);
    // PUT /api/v1/admin/connections/{id}
    let update = warp::path!("admin" / "connections" / String)
        .and(warp::put().or(warp::patch()).unify())
        .and(with_state(state.clone()))
        .and(admin(state.clone()))
        .and(json_body())
        .then(update)
        .map(respond);
    // DELETE /api/v1/admin/connections/{id}
    let delete = warp::path!("admin" / "connections" / String)
        .and(warp::delete())
        .and(with_state(state.clone()))
        .and(admin(state.clone()))
        .then(delete)
        .map(respond);
    // POST /api/v1/admin/connections/{id}/test
    let test = warp::path!("admin" / "connections" / String / "test")
        .and(warp::post())
        .and(with_state(state.clone()))
        .and(admin(state))
        .then(test)
        .map(respond);
    models
        .or(list)
        .unify()
        .or(create)
        .unify()
        .or(update)
        .unify()
        .or(delete)
        .unify()
        .or(test)
        .unify()
}

/// A connection as the API shows it: the key only as its last four characters.
fn connection_json(conn: &ConnectionRow, models: &[ModelRow]) -> Value {
    let key_hint = conn.api_key.as_deref().filter(|k| !k.is_empty()).map(|k| {
        let tail: String = k
            .chars()
            .rev()
            .take(4)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        format!("…{tail}")
    });
    json!({
        "id": conn.id,
        "name": conn.name,
        "kind": conn.kind,
        "base_url": conn.base_url,
        "api_key": key_hint,
        "no_proxy": conn.no_proxy,
        "enabled": conn.enabled,
        "models": models.iter().map(model_json).collect::<Vec<_>>(),
        "created_at": conn.created_at,
        "updated_at": conn.updated_at,
    })
}

fn model_json(m: &ModelRow) -> Value {
    json!({
        "id": m.id,
        "upstream_id": m.upstream_id,
        "name": m.name,
        "vendor": m.vendor,
        "description": m.description,
        "context_window": m.context_window,
        "enabled": m.enabled,
    })
}

async fn list_models(state: AppState) -> Result<Response, ApiError> {
    let models = state.db.run(|conn| repo::available_models(conn)).await?;
    let items: Vec<Value> = models
        .iter()
        .map(|m| {
            json!({
                "id": m.id,
                "name": m.name,
                "vendor": m.vendor,
                "description": m.description,
                "connection_id": m.connection_id,
                "context_window": m.context_window,
                "available": true,
            })
        })
        .collect();
    Ok(json_response(StatusCode::OK, &json!({ "models": items })))
}

async fn list(state: AppState, _admin: CurrentUser) -> Result<Response, ApiError> {
    let all = state
        .db
        .run(|conn| -> Result<_, crate::db::DbError> {
            repo::list(conn)?
                .into_iter()
                .map(|c| {
                    let models = repo::models_of(conn, &c.id)?;
                    Ok(connection_json(&c, &models))
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .await?;
    Ok(json_response(
        StatusCode::OK,
        &json!({ "connections": all }),
    ))
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct ModelInput {
    /// The provider's model id (an Azure deployment name).
    id: String,
    name: Option<String>,
    vendor: Option<String>,
    description: Option<String>,
    context_window: Option<u32>,
    enabled: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConnectionBody {
    name: Option<String>,
    kind: Option<String>,
    base_url: Option<String>,
    api_key: Option<String>,
    no_proxy: Option<bool>,
    enabled: Option<bool>,
    models: Option<Vec<ModelInput>>,
}

/// Checks and normalizes the fields; `current` supplies missing ones on update.
fn validated(
    body: &ConnectionBody,
    current: Option<&ConnectionRow>,
) -> Result<(String, String, String), ApiError> {
    let mut fields = std::collections::BTreeMap::new();
    let name = body
        .name
        .clone()
        .or_else(|| current.map(|c| c.name.clone()))
        .unwrap_or_default()
        .trim()
        .to_string();
    if name.is_empty() || name.chars().count() > 64 {
        fields.insert("name", "must be 1 to 64 characters long".to_string());
    }
    let kind = body
        .kind
        .clone()
        .or_else(|| current.map(|c| c.kind.clone()))
        .unwrap_or_default();
    if llm::Kind::parse(&kind).is_none() {
        fields.insert("kind", "must be openai, azure or anthropic".to_string());
    }
    let base_url = body
        .base_url
        .clone()
        .or_else(|| current.map(|c| c.base_url.clone()))
        .unwrap_or_default()
        .trim()
        .trim_end_matches('/')
        .to_string();
    let scheme_ok = base_url.starts_with("http://") || base_url.starts_with("https://");
    if !scheme_ok || base_url.contains(char::is_whitespace) || base_url.len() < 10 {
        fields.insert("base_url", "must be an http:// or https:// URL".to_string());
    }
    if let Some(models) = &body.models {
        if models
            .iter()
            .any(|m| m.id.trim().is_empty() || m.id.len() > 200)
        {
            fields.insert(
                "models",
                "every model needs an id of 1 to 200 characters".to_string(),
            );
        }
    }
    if fields.is_empty() {
        Ok((name, kind, base_url))
    } else {
        Err(ApiError::Validation(fields))
    }
}

fn to_rows(models: &[ModelInput]) -> Vec<ModelRow> {
    models
        .iter()
        .map(|m| ModelRow {
            id: String::new(),
            connection_id: String::new(),
            upstream_id: m.id.trim().to_string(),
            name: m
                .name
                .clone()
                .filter(|n| !n.trim().is_empty())
                .unwrap_or_else(|| m.id.trim().to_string()),
            vendor: m.vendor.clone().unwrap_or_default(),
            description: m.description.clone().unwrap_or_default(),
            context_window: m.context_window,
            enabled: m.enabled.unwrap_or(true),
        })
        .collect()
}

fn discovered_rows(models: Vec<llm::DiscoveredModel>) -> Vec<ModelRow> {
    models
        .into_iter()
        .map(|m| ModelRow {
            id: String::new(),
            connection_id: String::new(),
            upstream_id: m.id,
            name: m.name,
            vendor: m.vendor,
            description: String::new(),
            context_window: m.context_window,
            enabled: true,
        })
        .collect()
}

/// Asks the provider for its models (on a blocking thread).
async fn discover(endpoint: llm::Endpoint) -> Result<Vec<llm::DiscoveredModel>, String> {
    tokio::task::spawn_blocking(move || llm::list_models(&endpoint))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())
}

async fn create(
    state: AppState,
    admin: CurrentUser,
    body: ConnectionBody,
) -> Result<Response, ApiError> {
    let (name, kind, base_url) = validated(&body, None)?;
    let api_key = body
        .api_key
        .clone()
        .map(|k| k.trim().to_string())
        .filter(|k| !k.is_empty());
    let probe = ConnectionRow {
        id: String::new(),
        name: name.clone(),
        kind: kind.clone(),
        base_url: base_url.clone(),
        api_key: api_key.clone(),
        no_proxy: body.no_proxy.unwrap_or(false),
        enabled: true,
        created_at: String::new(),
        updated_at: String::new(),
    };
    let mut discovery_error = None;
    let models = match &body.models {
        Some(models) => to_rows(models),
        None => match discover(endpoint_of(&probe, state.llm_idle_timeout)?).await {
            Ok(found) => discovered_rows(found),
            Err(err) => {
                discovery_error = Some(err);
                Vec::new()
            }
        },
    };
    let actor = (admin.user.id.clone(), admin.user.username.clone());
    let no_proxy = body.no_proxy.unwrap_or(false);
    let enabled = body.enabled.unwrap_or(true);
    let (created, models) = state
        .db
        .run(move |conn| -> Result<_, crate::db::DbError> {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let created = repo::insert(
                &tx,
                &ConnectionInput {
                    name: &name,
                    kind: &kind,
                    base_url: &base_url,
                    api_key: api_key.as_deref(),
                    no_proxy,
                    enabled,
                },
            )?;
            repo::replace_models(&tx, &created.id, &created.name, &models)?;
            audit::record(
                &tx,
                Some((&actor.0, &actor.1)),
                "connection.create",
                Some(&created.id),
                &json!({"name": created.name, "kind": created.kind, "base_url": created.base_url}),
            )?;
            let models = repo::models_of(&tx, &created.id)?;
            tx.commit()?;
            Ok((created, models))
        })
        .await?;
    let mut body = connection_json(&created, &models);
    if let Some(err) = discovery_error {
        body["discovery_error"] = json!(format!("could not list the provider's models: {err}"));
    }
    Ok(json_response(StatusCode::CREATED, &body))
}

async fn update(
    id: String,
    state: AppState,
    admin: CurrentUser,
    body: ConnectionBody,
) -> Result<Response, ApiError> {
    let lookup = id.clone();
    let current = state
        .db
        .run(move |conn| repo::get(conn, &lookup))
        .await?
        .ok_or_else(|| ApiError::NotFound("no such connection".into()))?;
    let (name, kind, base_url) = validated(&body, Some(&current))?;
    let api_key = body.api_key.clone().map(|k| k.trim().to_string());
    let no_proxy = body.no_proxy.unwrap_or(current.no_proxy);
    let enabled = body.enabled.unwrap_or(current.enabled);
    let models = body.models.as_deref().map(to_rows);
    let actor = (admin.user.id.clone(), admin.user.username.clone());
    let (updated, models) = state
        .db
        .run(move |conn| -> Result<_, crate::db::DbError> {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            // An empty api_key removes the stored one; an absent one keeps it.
            if api_key.as_deref() == Some("") {
                tx.execute("UPDATE connection SET api_key = NULL WHERE id = ?1", [&id])?;
            }
            repo::update(
                &tx,
                &id,
                &ConnectionInput {
                    name: &name,
                    kind: &kind,
                    base_url: &base_url,
                    api_key: api_key.as_deref().filter(|k| !k.is_empty()),
                    no_proxy,
                    enabled,
                },
            )?;
            if let Some(models) = &models {
                repo::replace_models(&tx, &id, &name, models)?;
            }
            audit::record(
                &tx,
                Some((&actor.0, &actor.1)),
                "connection.update",
                Some(&id),
                &json!({"name": name, "enabled": enabled}),
            )?;
            let updated = repo::get(&tx, &id)?;
            let models = repo::models_of(&tx, &id)?;
            tx.commit()?;
            Ok((updated, models))
        })
        .await?;
    let updated = updated.ok_or_else(|| ApiError::NotFound("no such connection".into()))?;
    Ok(json_response(
        StatusCode::OK,
        &connection_json(&updated, &models),
    ))
}

async fn delete(id: String, state: AppState, admin: CurrentUser) -> Result<Response, ApiError> {
    let actor = (admin.user.id.clone(), admin.user.username.clone());
    let deleted = state
        .db
        .run(move |conn| -> Result<_, crate::db::DbError> {
            let deleted = repo::delete(conn, &id)?;
            if deleted {
                audit::record(
                    conn,
                    Some((&actor.0, &actor.1)),
                    "connection.delete",
                    Some(&id),
                    &json!({}),
                )?;
            }
            Ok(deleted)
        })
        .await?;
    if !deleted {
        return Err(ApiError::NotFound("no such connection".into()));
    }
    Ok(super::no_content())
}

async fn test(id: String, state: AppState, _admin: CurrentUser) -> Result<Response, ApiError> {
    let current = state
        .db
        .run(move |conn| repo::get(conn, &id))
        .await?
        .ok_or_else(|| ApiError::NotFound("no such connection".into()))?;
    let result = discover(endpoint_of(&current, state.llm_idle_timeout)?).await;
    let body = match result {
        Ok(found) => json!({
            "ok": true,
            "models": found.iter().map(|m| json!({"id": m.id, "name": m.name, "vendor": m.vendor, "context_window": m.context_window})).collect::<Vec<_>>(),
        }),
        Err(err) => json!({ "ok": false, "models": [], "error": err }),
    };
    Ok(json_response(StatusCode::OK, &body))
}

/// Connections from the environment at start (SPEC §3): `OPENAI_API_KEY`
/// (+ `OPENAI_BASE_URL`), `ANTHROPIC_API_KEY`, and an Ollama that answers at
/// its URL — only while no connection exists at all. Runs in the background so
/// the start stays instant; a provider that cannot be reached is logged.
pub async fn bootstrap(state: AppState, sources: Bootstrap) {
    let existing = match state.db.run(|conn| repo::count(conn)).await {
        Ok(n) => n,
        Err(err) => {
            log::warn!("cannot check connections: {err}");
            return;
        }
    };
    if existing > 0 {
        return;
    }
    let mut candidates: Vec<(String, &str, String, Option<String>)> = Vec::new();
    if let Some(key) = sources.openai_api_key.filter(|k| !k.is_empty()) {
        let base = sources
            .openai_base_url
            .unwrap_or_else(|| "https://api.openai.com/v1".into());
        candidates.push(("OpenAI".into(), "openai", base, Some(key)));
    }
    if let Some(key) = sources.anthropic_api_key.filter(|k| !k.is_empty()) {
        let base = sources
            .anthropic_base_url
            .unwrap_or_else(|| "https://api.anthropic.com".into());
        candidates.push(("Anthropic".into(), "anthropic", base, Some(key)));
    }
    if let Some(url) = sources.ollama_base_url.filter(|u| !u.is_empty()) {
        candidates.push((
            "Ollama".into(),
            "openai",
            format!("{}/v1", url.trim_end_matches('/')),
            None,
        ));
    }
    for (name, kind, base_url, api_key) in candidates {
        let probe = ConnectionRow {
            id: String::new(),
            name: name.clone(),
            kind: kind.into(),
            base_url: base_url.trim_end_matches('/').to_string(),
            api_key: api_key.clone(),
            no_proxy: false,
            enabled: true,
            created_at: String::new(),
            updated_at: String::new(),
        };
        let Ok(mut endpoint) = endpoint_of(&probe, state.llm_idle_timeout) else {
            continue;
        };
        let is_ollama = name == "Ollama";
        if is_ollama {
            // Only a running Ollama becomes a connection: ask briefly.
            endpoint.connect_timeout = Duration::from_millis(500);
        }
        let models = match discover(endpoint).await {
            Ok(found) => discovered_rows(found),
            Err(err) if is_ollama => {
                log::debug!("no Ollama at {base_url}: {err}");
                continue;
            }
            Err(err) => {
                log::warn!("{name}: could not list models ({err}); add them in the admin page");
                Vec::new()
            }
        };
        let result = state
            .db
            .run(move |conn| -> Result<_, crate::db::DbError> {
                let created = repo::insert(
                    conn,
                    &ConnectionInput {
                        name: &probe.name,
                        kind: &probe.kind,
                        base_url: &probe.base_url,
                        api_key: probe.api_key.as_deref(),
                        no_proxy: false,
                        enabled: true,
                    },
                )?;
                repo::replace_models(conn, &created.id, &created.name, &models)?;
                Ok(models.len())
            })
            .await;
        match result {
            Ok(n) => log::info!("added the {name} connection from the environment ({n} models)"),
            Err(err) => log::warn!("could not add the {name} connection: {err}"),
        }
    }
}

/// Where [`bootstrap`] looks.
#[derive(Debug, Clone, Default)]
pub struct Bootstrap {
    pub openai_api_key: Option<String>,
    pub openai_base_url: Option<String>,
    pub anthropic_api_key: Option<String>,
    pub anthropic_base_url: Option<String>,
    pub ollama_base_url: Option<String>,
}
