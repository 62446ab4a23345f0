//! `/models` (public) and `/admin/connections` (admins): the LLM providers and
//! the models users may pick. API keys are stored and never returned.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::error::{json_response, respond, ApiError};
use super::filters::{admin, json_body, optional_user, with_state};
use crate::api::openapi::Error;
use crate::app::AppState;
use crate::auth::CurrentUser;
use crate::db::connection::{ConnectionRow, ModelRow};
use crate::service::connections::{self as service, ConnectionChange, Saved};
use crate::service::groups;

pub use crate::service::connections::Bootstrap;

pub fn routes(state: AppState) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    // GET /api/v1/models
    let models = warp::path!("models")
        .and(warp::get())
        .and(with_state(state.clone()))
        .and(optional_user(state.clone()))
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

/// A model users may pick (types.ts `Model`).
#[derive(Serialize, ToSchema)]
pub struct Model {
    id: String,
    name: String,
    vendor: String,
    description: String,
    connection_id: String,
    context_window: Option<u32>,
    available: bool,
    /// Sees images (the admin's word, else guessed from the model's name).
    vision: bool,
}

#[derive(Serialize, ToSchema)]
pub struct Models {
    models: Vec<Model>,
}

/// A model of a connection as the admin sees it (types.ts `ConnectionModel`).
#[derive(Serialize, ToSchema)]
pub struct ConnectionModel {
    id: String,
    upstream_id: String,
    name: String,
    vendor: String,
    description: String,
    context_window: Option<u32>,
    enabled: bool,
    /// Sees images: `true`/`false` as the admin set it, `null` guessed
    /// from the name (`GET /models` shows the guess).
    vision: Option<bool>,
}

impl From<ModelRow> for ConnectionModel {
    fn from(m: ModelRow) -> Self {
        ConnectionModel {
            vision: m.vision,
            id: m.id,
            upstream_id: m.upstream_id,
            name: m.name,
            vendor: m.vendor,
            description: m.description,
            context_window: m.context_window,
            enabled: m.enabled,
        }
    }
}

/// A connection as the API shows it: the key only as its last four
/// characters (types.ts `Connection`).
#[derive(Serialize, ToSchema)]
pub struct Connection {
    id: String,
    name: String,
    /// `openai`, `azure` or `anthropic`.
    kind: String,
    base_url: String,
    /// Only its last four characters (`…abcd`).
    api_key: Option<String>,
    no_proxy: bool,
    enabled: bool,
    models: Vec<ConnectionModel>,
    created_at: String,
    updated_at: String,
    /// When the models could not be discovered at creation.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    discovery_error: Option<String>,
}

impl Connection {
    fn new(conn: ConnectionRow, models: Vec<ModelRow>, discovery_error: Option<String>) -> Self {
        let api_key = conn.api_key.as_deref().filter(|k| !k.is_empty()).map(|k| {
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
        Connection {
            id: conn.id,
            name: conn.name,
            kind: conn.kind,
            base_url: conn.base_url,
            api_key,
            no_proxy: conn.no_proxy,
            enabled: conn.enabled,
            models: models.into_iter().map(ConnectionModel::from).collect(),
            created_at: conn.created_at,
            updated_at: conn.updated_at,
            discovery_error,
        }
    }
}

impl From<Saved> for Connection {
    fn from(saved: Saved) -> Self {
        Connection::new(saved.connection, saved.models, saved.discovery_error)
    }
}

#[derive(Serialize, ToSchema)]
pub struct Connections {
    connections: Vec<Connection>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelInput {
    /// The provider's model id (an Azure deployment name).
    id: String,
    name: Option<String>,
    vendor: Option<String>,
    description: Option<String>,
    context_window: Option<u32>,
    enabled: Option<bool>,
    /// Sees images: `true`/`false`, or `null`/absent to guess from the name.
    vision: Option<bool>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectionBody {
    name: Option<String>,
    kind: Option<String>,
    base_url: Option<String>,
    /// On update an empty key removes the stored one.
    api_key: Option<String>,
    no_proxy: Option<bool>,
    enabled: Option<bool>,
    /// Discovered from the provider when not given.
    models: Option<Vec<ModelInput>>,
}

impl From<ConnectionBody> for ConnectionChange {
    fn from(b: ConnectionBody) -> Self {
        ConnectionChange {
            name: b.name,
            kind: b.kind,
            base_url: b.base_url,
            api_key: b.api_key,
            no_proxy: b.no_proxy,
            enabled: b.enabled,
            models: b.models.map(|models| {
                models
                    .into_iter()
                    .map(|m| service::ModelInput {
                        id: m.id,
                        name: m.name,
                        vendor: m.vendor,
                        description: m.description,
                        context_window: m.context_window,
                        enabled: m.enabled,
                        vision: m.vision,
                    })
                    .collect()
            }),
        }
    }
}

/// A model the provider lists.
#[derive(Serialize, ToSchema)]
pub struct DiscoveredModel {
    id: String,
    name: String,
    vendor: String,
    context_window: Option<u32>,
}

/// What a connection test found (types.ts `ConnectionTest`).
#[derive(Serialize, ToSchema)]
pub struct ConnectionTest {
    ok: bool,
    models: Vec<DiscoveredModel>,
    /// Why the provider could not be asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    error: Option<String>,
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(list_models, list, create, update, delete, test),
    components(schemas(Model, Models, ConnectionModel, Connection, Connections, ModelInput,
        ConnectionBody, DiscoveredModel, ConnectionTest)),
    tags((name = "public"), (name = "admin"))
)]
pub struct Doc;

/// Public: signed in, the models the caller may use (their groups' and the
/// open ones, narrowed by their plan); anonymous, the open ones only.
#[utoipa::path(get, path = "/models", tag = "public", security((), ("bearer" = []), ("api_key" = [])),
    responses((status = 200, description = "Models users may pick", body = Models),
        (status = 401, description = "credentials were sent and do not check out", body = Error)))]
async fn list_models(state: AppState, current: Option<CurrentUser>) -> Result<Response, ApiError> {
    let user_id = current.map(|c| c.user.id);
    let mut models = groups::allowed_models_of(&state.db, user_id.clone()).await?;
    // None: a provider may have come up since (an Ollama started after
    // daehwa); ask once now rather than wait for the background retry.
    if models.is_empty()
        && service::available_models(&state.db).await?.is_empty()
        && state
            .rediscovery
            .on_demand(&state.db, state.llm_idle_timeout)
            .await
    {
        models = groups::allowed_models_of(&state.db, user_id).await?;
    }
    let models = models
        .into_iter()
        .map(|m| Model {
            vision: crate::service::files::sees_images(&m),
            id: m.id,
            name: m.name,
            vendor: m.vendor,
            description: m.description,
            connection_id: m.connection_id,
            context_window: m.context_window,
            available: true,
        })
        .collect();
    Ok(json_response(StatusCode::OK, &Models { models }))
}

#[utoipa::path(get, path = "/admin/connections", tag = "admin",
    responses((status = 200, body = Connections), (status = 401, body = Error), (status = 403, body = Error)))]
async fn list(state: AppState, _admin: CurrentUser) -> Result<Response, ApiError> {
    let connections = service::list(&state.db)
        .await?
        .into_iter()
        .map(|(c, models)| Connection::new(c, models, None))
        .collect();
    Ok(json_response(StatusCode::OK, &Connections { connections }))
}

#[utoipa::path(post, path = "/admin/connections", tag = "admin", request_body = ConnectionBody,
    responses((status = 201, body = Connection), (status = 400, body = Error), (status = 401, body = Error),
        (status = 403, body = Error), (status = 409, body = Error), (status = 422, body = Error)))]
async fn create(
    state: AppState,
    admin: CurrentUser,
    body: ConnectionBody,
) -> Result<Response, ApiError> {
    let saved = service::create(
        &state.db,
        state.llm_idle_timeout,
        admin.actor(),
        body.into(),
    )
    .await?;
    Ok(json_response(StatusCode::CREATED, &Connection::from(saved)))
}

#[utoipa::path(put, path = "/admin/connections/{id}", tag = "admin", params(("id" = String, Path)),
    request_body = ConnectionBody,
    responses((status = 200, body = Connection), (status = 400, body = Error), (status = 401, body = Error),
        (status = 403, body = Error), (status = 404, body = Error), (status = 409, body = Error),
        (status = 422, body = Error)))]
async fn update(
    id: String,
    state: AppState,
    admin: CurrentUser,
    body: ConnectionBody,
) -> Result<Response, ApiError> {
    let saved = service::update(&state.db, admin.actor(), id, body.into()).await?;
    Ok(json_response(StatusCode::OK, &Connection::from(saved)))
}

#[utoipa::path(delete, path = "/admin/connections/{id}", tag = "admin", params(("id" = String, Path)),
    responses((status = 204, description = "deleted"), (status = 401, body = Error),
        (status = 403, body = Error), (status = 404, body = Error)))]
async fn delete(id: String, state: AppState, admin: CurrentUser) -> Result<Response, ApiError> {
    service::delete(&state.db, admin.actor(), id).await?;
    Ok(super::no_content())
}

#[utoipa::path(post, path = "/admin/connections/{id}/test", tag = "admin", params(("id" = String, Path)),
    responses((status = 200, body = ConnectionTest), (status = 401, body = Error),
        (status = 403, body = Error), (status = 404, body = Error)))]
async fn test(id: String, state: AppState, _admin: CurrentUser) -> Result<Response, ApiError> {
    let reply = match service::test(&state.db, state.llm_idle_timeout, id).await? {
        Ok(found) => ConnectionTest {
            ok: true,
            models: found
                .into_iter()
                .map(|m| DiscoveredModel {
                    id: m.id,
                    name: m.name,
                    vendor: m.vendor,
                    context_window: m.context_window,
                })
                .collect(),
            error: None,
        },
        Err(err) => ConnectionTest {
            ok: false,
            models: Vec::new(),
            error: Some(err),
        },
    };
    Ok(json_response(StatusCode::OK, &reply))
}

/// Adds the connections the environment names, at the first start (see
/// [`service::bootstrap`]).
pub async fn bootstrap(state: AppState, sources: Bootstrap) {
    service::bootstrap(state.db.clone(), state.llm_idle_timeout, sources).await
}
