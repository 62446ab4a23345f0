//! The LLM provider connections and their models (admins): validation of a
//! new or changed connection, model discovery, the audited changes, and the
//! connections taken from the environment at the first start (SPEC §3).

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::json;

use super::models::endpoint_of;
use super::{Error, Result};
use crate::db::audit::{self, Actor, Audit};
use crate::db::connection::{self as repo, ConnectionInput, ConnectionRow, ModelRow};
use crate::db::Db;
use crate::llm;

/// A model as the admin gives it.
#[derive(Debug, Clone, Default)]
pub struct ModelInput {
    /// The provider's model id (an Azure deployment name).
    pub id: String,
    pub name: Option<String>,
    pub vendor: Option<String>,
    pub description: Option<String>,
    pub context_window: Option<u32>,
    pub enabled: Option<bool>,
    /// Whether it sees images; `None`: guessed from its name.
    pub vision: Option<bool>,
}

/// A new connection, or a change to one: every field optional (on update the
/// stored value stays).
#[derive(Debug, Clone, Default)]
pub struct ConnectionChange {
    pub name: Option<String>,
    pub kind: Option<String>,
    pub base_url: Option<String>,
    /// On update an empty key removes the stored one; an absent one keeps it.
    pub api_key: Option<String>,
    pub no_proxy: Option<bool>,
    pub enabled: Option<bool>,
    /// Discovered from the provider (on create) when not given.
    pub models: Option<Vec<ModelInput>>,
}

/// A connection with its models, and on creation why discovery failed.
#[derive(Debug, Clone)]
pub struct Saved {
    pub connection: ConnectionRow,
    pub models: Vec<ModelRow>,
    pub discovery_error: Option<String>,
}

/// Checks and normalizes the name, kind and base URL; `current` supplies
/// missing ones on update.
pub fn validated(
    change: &ConnectionChange,
    current: Option<&ConnectionRow>,
) -> Result<(String, String, String)> {
    let mut fields = BTreeMap::new();
    let name = change
        .name
        .clone()
        .or_else(|| current.map(|c| c.name.clone()))
        .unwrap_or_default()
        .trim()
        .to_string();
    if name.is_empty() || name.chars().count() > 64 {
        fields.insert("name", "must be 1 to 64 characters long".to_string());
    }
    let kind = change
        .kind
        .clone()
        .or_else(|| current.map(|c| c.kind.clone()))
        .unwrap_or_default();
    if llm::Kind::parse(&kind).is_none() {
        fields.insert("kind", "must be openai, azure or anthropic".to_string());
    }
    let base_url = change
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
    if let Some(models) = &change.models {
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
        Err(Error::Validation(fields))
    }
}

/// The admin's models as rows to save (a missing name is the id).
pub fn to_rows(models: &[ModelInput]) -> Vec<ModelRow> {
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
            created_at: String::new(),
            vision: m.vision,
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
            created_at: String::new(),
            vision: None,
        })
        .collect()
}

/// Model lists asked of providers at once. Each holds a blocking thread
/// (the database's too, 64 in all) until the provider answers or times
/// out: a burst of "test connection" calls against a stalled provider must
/// not leave the database without threads.
const MAX_DISCOVERIES: usize = 4;
static DISCOVERIES: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(MAX_DISCOVERIES);

/// Asks the provider for its models (on a blocking thread).
async fn discover(endpoint: llm::Endpoint) -> Result<Vec<llm::DiscoveredModel>, String> {
    let _permit = DISCOVERIES.acquire().await.map_err(|e| e.to_string())?;
    tokio::task::spawn_blocking(move || llm::list_models(&endpoint))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())
}

/// Every model users may pick: enabled, of an enabled connection.
pub async fn available_models(db: &Db) -> Result<Vec<ModelRow>> {
    Ok(db.run(|conn| repo::available_models(conn)).await?)
}

/// Every connection with its models.
pub async fn list(db: &Db) -> Result<Vec<(ConnectionRow, Vec<ModelRow>)>> {
    db.run(|conn| -> Result<_> {
        repo::list(conn)?
            .into_iter()
            .map(|c| {
                let models = repo::models_of(conn, &c.id)?;
                Ok((c, models))
            })
            .collect()
    })
    .await
}

async fn find(db: &Db, id: String) -> Result<ConnectionRow> {
    db.run(move |conn| repo::get(conn, &id))
        .await?
        .ok_or_else(|| Error::NotFound("no such connection".into()))
}

/// Adds a connection (audited); without models, asks the provider for them,
/// and a provider that cannot answer leaves the list empty and says why.
pub async fn create(
    db: &Db,
    idle_timeout: Duration,
    actor: Actor,
    change: ConnectionChange,
) -> Result<Saved> {
    let (name, kind, base_url) = validated(&change, None)?;
    let api_key = change
        .api_key
        .clone()
        .map(|k| k.trim().to_string())
        .filter(|k| !k.is_empty());
    let no_proxy = change.no_proxy.unwrap_or(false);
    let enabled = change.enabled.unwrap_or(true);
    let probe = ConnectionRow {
        id: String::new(),
        name: name.clone(),
        kind: kind.clone(),
        base_url: base_url.clone(),
        api_key: api_key.clone(),
        no_proxy,
        enabled: true,
        created_at: String::new(),
        updated_at: String::new(),
    };
    let mut discovery_error = None;
    let models = match &change.models {
        Some(models) => to_rows(models),
        None => match discover(endpoint_of(&probe, idle_timeout)?).await {
            Ok(found) => discovered_rows(found),
            Err(err) => {
                discovery_error = Some(format!("could not list the provider's models: {err}"));
                Vec::new()
            }
        },
    };
    let (connection, models) = db
        .run(move |conn| {
            audit::audited(conn, Some(&actor), "connection.create", |tx| -> Result<_> {
                let created = repo::insert(
                    tx,
                    &ConnectionInput {
                        name: &name,
                        kind: &kind,
                        base_url: &base_url,
                        api_key: api_key.as_deref(),
                        no_proxy,
                        enabled,
                    },
                )?;
                repo::replace_models(tx, &created.id, &created.name, &models)?;
                let models = repo::models_of(tx, &created.id)?;
                let audit = Audit::new(
                    created.id.clone(),
                    json!({"name": created.name, "kind": created.kind, "base_url": created.base_url}),
                );
                Ok(((created, models), audit))
            })
        })
        .await?;
    Ok(Saved {
        connection,
        models,
        discovery_error,
    })
}

/// Changes a connection (audited): the given fields replace the stored
/// ones, given models replace the list, an empty key removes the stored one.
pub async fn update(db: &Db, actor: Actor, id: String, change: ConnectionChange) -> Result<Saved> {
    let current = find(db, id.clone()).await?;
    let (name, kind, base_url) = validated(&change, Some(&current))?;
    let api_key = change.api_key.clone().map(|k| k.trim().to_string());
    let no_proxy = change.no_proxy.unwrap_or(current.no_proxy);
    let enabled = change.enabled.unwrap_or(current.enabled);
    let models = change.models.as_deref().map(to_rows);
    let (connection, models) = db
        .run(move |conn| {
            audit::audited(conn, Some(&actor), "connection.update", |tx| -> Result<_> {
                if api_key.as_deref() == Some("") {
                    repo::clear_api_key(tx, &id)?;
                }
                repo::update(
                    tx,
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
                    repo::replace_models(tx, &id, &name, models)?;
                }
                let updated = repo::get(tx, &id)?
                    .ok_or_else(|| Error::NotFound("no such connection".into()))?;
                let models = repo::models_of(tx, &id)?;
                let audit = Audit::new(id.clone(), json!({"name": name, "enabled": enabled}));
                Ok(((updated, models), audit))
            })
        })
        .await?;
    Ok(Saved {
        connection,
        models,
        discovery_error: None,
    })
}

/// Deletes a connection and its models (audited).
pub async fn delete(db: &Db, actor: Actor, id: String) -> Result<()> {
    db.run(move |conn| {
        audit::audited(conn, Some(&actor), "connection.delete", |tx| -> Result<_> {
            if !repo::delete(tx, &id)? {
                return Err(Error::NotFound("no such connection".into()));
            }
            Ok(((), Audit::new(id.clone(), json!({}))))
        })
    })
    .await
}

/// Asks the provider of a stored connection for its models: what it lists,
/// or why it could not.
pub async fn test(
    db: &Db,
    idle_timeout: Duration,
    id: String,
) -> Result<Result<Vec<llm::DiscoveredModel>, String>> {
    let current = find(db, id).await?;
    Ok(discover(endpoint_of(&current, idle_timeout)?).await)
}

/// Asks every enabled connection that has no model for its models, and
/// saves what each lists, enabled (unless the admin gave it models in the
/// meantime). Answers how many connections are still without models.
pub async fn rediscover(db: &Db, idle_timeout: Duration) -> Result<usize> {
    let empty = db.run(|conn| repo::without_models(conn)).await?;
    let mut still_empty = 0;
    for connection in empty {
        let found = match endpoint_of(&connection, idle_timeout) {
            Ok(endpoint) => discover(endpoint).await,
            Err(err) => Err(err.to_string()),
        };
        let rows = match found {
            Ok(found) if !found.is_empty() => discovered_rows(found),
            Ok(_) => {
                still_empty += 1;
                continue;
            }
            Err(err) => {
                log::debug!("{}: still no models ({err})", connection.name);
                still_empty += 1;
                continue;
            }
        };
        let (id, name, n) = (connection.id.clone(), connection.name.clone(), rows.len());
        let saved = db
            .run(move |conn| -> Result<bool, crate::db::DbError> {
                let tx = conn.unchecked_transaction()?;
                // The admin may have saved models meanwhile: theirs win.
                if !repo::models_of(&tx, &id)?.is_empty() {
                    return Ok(false);
                }
                repo::replace_models(&tx, &id, &name, &rows)?;
                tx.commit()?;
                Ok(true)
            })
            .await?;
        if saved {
            log::info!("{}: discovered {n} models", connection.name);
        }
    }
    Ok(still_empty)
}

/// The re-discovery of models for connections that have none (a provider
/// that was down when it was added, or when daehwa started): in the
/// background with backoff while some connection has none, and on demand
/// when `GET /models` finds none — at most one attempt at a time, and on
/// demand at most one per [`Rediscovery::ON_DEMAND_EVERY`] (the route is
/// public: a flood of calls asks the providers once).
pub struct Rediscovery {
    last: tokio::sync::Mutex<Option<std::time::Instant>>,
}

impl Default for Rediscovery {
    fn default() -> Self {
        Rediscovery {
            last: tokio::sync::Mutex::new(None),
        }
    }
}

impl Rediscovery {
    pub const ON_DEMAND_EVERY: Duration = Duration::from_secs(10);
    /// The first background retry; the wait doubles up to [`Self::MAX_WAIT`].
    pub const FIRST_WAIT: Duration = Duration::from_secs(2);
    pub const MAX_WAIT: Duration = Duration::from_secs(300);
    /// How often the background task looks for connections without models
    /// when every connection has some (one cheap query).
    pub const IDLE_CHECK: Duration = Duration::from_secs(30);

    /// One attempt unless another is running or one ran within
    /// [`Self::ON_DEMAND_EVERY`]; true when an attempt ran.
    pub async fn on_demand(&self, db: &Db, idle_timeout: Duration) -> bool {
        let Ok(mut last) = self.last.try_lock() else {
            return false;
        };
        if last.is_some_and(|t| t.elapsed() < Self::ON_DEMAND_EVERY) {
            return false;
        }
        *last = Some(std::time::Instant::now());
        if let Err(err) = rediscover(db, idle_timeout).await {
            log::warn!("model re-discovery failed: {err}");
        }
        true
    }

    /// The background loop: retries with a doubling wait while a connection
    /// has no models, then checks every [`Self::IDLE_CHECK`].
    pub async fn run(self: std::sync::Arc<Self>, db: Db, idle_timeout: Duration) {
        let mut wait = Self::FIRST_WAIT;
        let mut failures = 0u32;
        loop {
            tokio::time::sleep(wait).await;
            let still_empty = {
                let mut last = self.last.lock().await;
                *last = Some(std::time::Instant::now());
                rediscover(&db, idle_timeout).await
            };
            wait = match still_empty {
                Ok(0) => {
                    failures = 0;
                    Self::IDLE_CHECK
                }
                Ok(_) | Err(_) => {
                    failures = failures.saturating_add(1);
                    Self::backoff(failures)
                }
            };
        }
    }

    /// The wait after `failures` attempts in a row that left a connection
    /// without models: 2 s, 4 s, 8 s … up to 5 minutes.
    pub fn backoff(failures: u32) -> Duration {
        let factor = 1u32 << failures.saturating_sub(1).min(16);
        Self::FIRST_WAIT.saturating_mul(factor).min(Self::MAX_WAIT)
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

/// The connections [`bootstrap`] would try, in order: `(name, kind, base URL, key)`.
fn candidates(sources: Bootstrap) -> Vec<(String, &'static str, String, Option<String>)> {
    let mut candidates = Vec::new();
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
    candidates
}

/// Connections from the environment at start (SPEC §3): `OPENAI_API_KEY`
/// (+ `OPENAI_BASE_URL`), `ANTHROPIC_API_KEY`, and an Ollama that answers at
/// its URL — only while no connection exists at all. Runs in the background so
/// the start stays instant; a provider that cannot be reached is logged.
pub async fn bootstrap(db: Db, idle_timeout: Duration, sources: Bootstrap) {
    let existing = match db.run(|conn| repo::count(conn)).await {
        Ok(n) => n,
        Err(err) => {
            log::warn!("cannot check connections: {err}");
            return;
        }
    };
    if existing > 0 {
        return;
    }
    for (name, kind, base_url, api_key) in candidates(sources) {
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
        let Ok(mut endpoint) = endpoint_of(&probe, idle_timeout) else {
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
        let result = db
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rediscovery_waits_twice_as_long_after_each_failure_up_to_five_minutes() {
        let waits: Vec<u64> = (1..=10)
            .map(|n| Rediscovery::backoff(n).as_secs())
            .collect();
        assert_eq!(waits, [2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
        assert_eq!(Rediscovery::backoff(u32::MAX), Rediscovery::MAX_WAIT);
    }

    #[tokio::test]
    async fn on_demand_the_providers_are_asked_at_most_once_per_ten_seconds() {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::db::Db::open(&dir.path().join("d.db")).unwrap();
        let rediscovery = Rediscovery::default();
        let idle = Duration::from_secs(1);
        assert!(
            rediscovery.on_demand(&db, idle).await,
            "the first call asks"
        );
        assert!(
            !rediscovery.on_demand(&db, idle).await,
            "a second one right after does not"
        );
        // While an attempt runs, a parallel call neither waits for it nor starts another.
        let other = Rediscovery::default();
        let running = other.last.lock().await;
        assert!(!other.on_demand(&db, idle).await);
        drop(running);
        assert!(other.on_demand(&db, idle).await);
    }

    fn change(name: &str, kind: &str, base_url: &str) -> ConnectionChange {
        ConnectionChange {
            name: Some(name.into()),
            kind: Some(kind.into()),
            base_url: Some(base_url.into()),
            ..Default::default()
        }
    }

    fn fields(err: Error) -> Vec<&'static str> {
        match err {
            Error::Validation(fields) => fields.into_keys().collect(),
            other => panic!("not a validation error: {other:?}"),
        }
    }

    #[test]
    fn a_connection_is_trimmed_and_its_url_loses_the_trailing_slash() {
        let ok = validated(
            &change(" Local ", "openai", " http://127.0.0.1:1/v1/ "),
            None,
        );
        assert_eq!(
            ok.unwrap(),
            (
                "Local".into(),
                "openai".into(),
                "http://127.0.0.1:1/v1".into()
            )
        );
    }

    #[test]
    fn bad_fields_are_named_each_with_its_reason() {
        for (input, wanted, why) in [
            (
                change("", "openai", "https://api.example.com"),
                vec!["name"],
                "empty name",
            ),
            (
                change(&"n".repeat(65), "openai", "https://api.example.com"),
                vec!["name"],
                "name too long",
            ),
            (
                change("x", "gemini", "https://api.example.com"),
                vec!["kind"],
                "unknown kind",
            ),
            (
                change("x", "openai", "ftp://example.com/x"),
                vec!["base_url"],
                "not http",
            ),
            (
                change("x", "openai", "http://a b.example"),
                vec!["base_url"],
                "whitespace",
            ),
            (
                change("", "", ""),
                vec!["base_url", "kind", "name"],
                "everything missing",
            ),
        ] {
            assert_eq!(
                fields(validated(&input, None).unwrap_err()),
                wanted,
                "{why}"
            );
        }
        let mut models = change("x", "openai", "https://api.example.com");
        models.models = Some(vec![ModelInput {
            id: " ".into(),
            ..Default::default()
        }]);
        assert_eq!(
            fields(validated(&models, None).unwrap_err()),
            vec!["models"]
        );
    }

    #[test]
    fn an_update_keeps_the_stored_fields_it_does_not_name() {
        let current = ConnectionRow {
            id: "c".into(),
            name: "Stored".into(),
            kind: "anthropic".into(),
            base_url: "https://api.anthropic.com".into(),
            api_key: None,
            no_proxy: false,
            enabled: true,
            created_at: String::new(),
            updated_at: String::new(),
        };
        let only_name = ConnectionChange {
            name: Some("New".into()),
            ..Default::default()
        };
        assert_eq!(
            validated(&only_name, Some(&current)).unwrap(),
            (
                "New".into(),
                "anthropic".into(),
                "https://api.anthropic.com".into()
            )
        );
    }

    #[test]
    fn a_model_without_a_name_is_named_by_its_id_and_enabled() {
        let rows = to_rows(&[ModelInput {
            id: " gpt-x ".into(),
            name: Some(" ".into()),
            ..Default::default()
        }]);
        assert_eq!(rows[0].upstream_id, "gpt-x");
        assert_eq!(rows[0].name, "gpt-x");
        assert!(rows[0].enabled);
    }

    #[test]
    fn the_environment_gives_openai_anthropic_and_ollama_in_that_order() {
        let found = candidates(Bootstrap {
            openai_api_key: Some("sk".into()),
            anthropic_api_key: Some(String::new()),
            ollama_base_url: Some("http://localhost:11434/".into()),
            ..Default::default()
        });
        let names: Vec<_> = found.iter().map(|c| (c.0.as_str(), c.2.as_str())).collect();
        assert_eq!(
            names,
            vec![
                ("OpenAI", "https://api.openai.com/v1"),
                ("Ollama", "http://localhost:11434/v1")
            ]
        );
    }
}
