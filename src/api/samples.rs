//! `/samples/*`: example conversations admins publish (SPEC §3 "Samples");
//! every signed-in user lists, reads and clones them.

use serde::Deserialize;
use serde_json::json;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::error::{json_response, respond, ApiError};
use super::filters::{admin, authenticated, json_body, with_state, Page};
use crate::app::AppState;
use crate::auth::CurrentUser;
use crate::db::conversation as conv_repo;
use crate::db::{audit, share};

pub fn routes(state: AppState) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let st = || with_state(state.clone());
    let user = || authenticated(state.clone());
    let adm = || admin(state.clone());
    // GET /api/v1/samples
    let list = warp::path!("samples")
        .and(warp::get())
        .and(st())
        .and(user())
        .and(warp::query::<Page>())
        .then(list)
        .map(respond);
    // POST /api/v1/samples (admin)
    let create = warp::path!("samples")
        .and(warp::post())
        .and(st())
        .and(adm())
        .and(json_body())
        .then(create)
        .map(respond);
    // GET /api/v1/samples/{id}
    let get = warp::path!("samples" / String)
        .and(warp::get())
        .and(st())
        .and(user())
        .then(get)
        .map(respond);
    // DELETE /api/v1/samples/{id} (admin)
    let delete = warp::path!("samples" / String)
        .and(warp::delete())
        .and(st())
        .and(adm())
        .then(delete)
        .map(respond);
    // POST /api/v1/samples/{id}/clone
    let clone = warp::path!("samples" / String / "clone")
        .and(warp::post())
        .and(st())
        .and(user())
        .then(clone)
        .map(respond);
    list.or(create)
        .unify()
        .or(get)
        .unify()
        .or(delete)
        .unify()
        .or(clone)
        .unify()
}

async fn list(state: AppState, _user: CurrentUser, page: Page) -> Result<Response, ApiError> {
    let limit = page.limit();
    let before = page.cursor.clone();
    let samples = state
        .db
        .run(move |conn| share::samples(conn, before.as_deref(), limit))
        .await?;
    let next = page.next_cursor(&samples, |s| s.id.clone());
    Ok(json_response(
        StatusCode::OK,
        &json!({ "samples": samples, "next_cursor": next }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    conversation_id: String,
    title: Option<String>,
    description: Option<String>,
}

async fn create(
    state: AppState,
    admin: CurrentUser,
    body: CreateBody,
) -> Result<Response, ApiError> {
    if body
        .title
        .as_deref()
        .is_some_and(|t| t.chars().count() > 200)
    {
        return Err(ApiError::invalid("title", "must be at most 200 characters"));
    }
    if body
        .description
        .as_deref()
        .is_some_and(|t| t.chars().count() > 2000)
    {
        return Err(ApiError::invalid(
            "description",
            "must be at most 2000 characters",
        ));
    }
    let actor = (admin.user.id.clone(), admin.user.username.clone());
    let sample = state
        .db
        .run(move |conn| -> Result<_, crate::db::DbError> {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            // An admin publishes one of their own conversations.
            let Some(conversation) = conv_repo::get(&tx, &actor.0, &body.conversation_id)? else {
                return Ok(Err(ApiError::NotFound("no such conversation".into())));
            };
            let mut snapshot = conv_repo::snapshot(&tx, &conversation)?;
            // The system prompt is the admin's own instruction, not part of
            // the example (as for shares): it is not published.
            snapshot.system_prompt = String::new();
            if snapshot.messages.is_empty() {
                return Ok(Err(ApiError::invalid(
                    "conversation_id",
                    "the conversation has no messages yet",
                )));
            }
            let title = body
                .title
                .as_deref()
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(String::from)
                .unwrap_or_else(|| snapshot.title.clone());
            snapshot.title = title.clone();
            let description = body.description.unwrap_or_default();
            let sample =
                share::insert_sample(&tx, &title, description.trim(), &snapshot, &actor.0)?;
            audit::record(
                &tx,
                Some((&actor.0, &actor.1)),
                "sample.create",
                Some(&sample.id),
                &json!({ "title": sample.title, "conversation_id": conversation.id }),
            )?;
            tx.commit()?;
            Ok(Ok(sample))
        })
        .await??;
    Ok(json_response(StatusCode::CREATED, &json!(sample)))
}

async fn get(id: String, state: AppState, _user: CurrentUser) -> Result<Response, ApiError> {
    let (sample, snapshot) = state
        .db
        .run(move |conn| share::sample(conn, &id))
        .await?
        .ok_or_else(|| ApiError::NotFound("no such sample".into()))?;
    let mut body = json!(sample);
    body["model_id"] = json!(snapshot.model_id);
    body["messages"] = json!(snapshot.messages);
    Ok(json_response(StatusCode::OK, &body))
}

async fn delete(id: String, state: AppState, admin: CurrentUser) -> Result<Response, ApiError> {
    let actor = (admin.user.id.clone(), admin.user.username.clone());
    state
        .db
        .run(move |conn| -> Result<_, crate::db::DbError> {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let Some((sample, _)) = share::sample(&tx, &id)? else {
                return Ok(Err(ApiError::NotFound("no such sample".into())));
            };
            share::delete_sample(&tx, &id)?;
            audit::record(
                &tx,
                Some((&actor.0, &actor.1)),
                "sample.delete",
                Some(&id),
                &json!({ "title": sample.title }),
            )?;
            tx.commit()?;
            Ok(Ok(()))
        })
        .await??;
    Ok(super::no_content())
}

async fn clone(id: String, state: AppState, current: CurrentUser) -> Result<Response, ApiError> {
    let (_, mut snapshot) = state
        .db
        .run(move |conn| share::sample(conn, &id))
        .await?
        .ok_or_else(|| ApiError::NotFound("no such sample".into()))?;
    // Samples published before the prompt was left out still hold it.
    snapshot.system_prompt = String::new();
    let created = super::views::copy_to(&state, &current, snapshot).await?;
    Ok(json_response(StatusCode::CREATED, &created))
}
