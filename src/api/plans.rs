//! `/admin/plans`: the plans admins define (name, daily message limit,
//! allowed models, self-service flag, default flag). Every change is audited.

use serde::Deserialize;
use serde_json::json;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::error::{json_response, respond, ApiError};
use super::filters::{admin, json_body, with_state};
use crate::app::AppState;
use crate::auth::CurrentUser;
use crate::db::plan::{self, PlanInput};
use crate::db::{audit, connection};

pub fn routes(state: AppState) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    // GET /api/v1/admin/plans
    let list = warp::path!("admin" / "plans")
        .and(warp::get())
        .and(with_state(state.clone()))
        .and(admin(state.clone()))
        .then(list)
        .map(respond);
    // POST /api/v1/admin/plans
    let create = warp::path!("admin" / "plans")
        .and(warp::post())
        .and(with_state(state.clone()))
        .and(admin(state.clone()))
        .and(json_body())
        .then(
            |state: AppState, admin: CurrentUser, body: PlanBody| async move {
                save(state, admin, None, body).await
            },
        )
        .map(respond);
    // PUT|PATCH /api/v1/admin/plans/{id}
    let update = warp::path!("admin" / "plans" / String)
        .and(warp::put().or(warp::patch()).unify())
        .and(with_state(state.clone()))
        .and(admin(state.clone()))
        .and(json_body())
        .then(
            |id: String, state: AppState, admin: CurrentUser, body: PlanBody| async move {
                save(state, admin, Some(id), body).await
            },
        )
        .map(respond);
    // DELETE /api/v1/admin/plans/{id}
    let delete = warp::path!("admin" / "plans" / String)
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

async fn list(state: AppState, _admin: CurrentUser) -> Result<Response, ApiError> {
    let plans = state.db.run(|conn| plan::list(conn)).await?;
    Ok(json_response(
        StatusCode::OK,
        &json!({ "plans": plans, "next_cursor": null }),
    ))
}

/// A plan; on PUT, absent fields keep their value.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PlanBody {
    name: Option<String>,
    #[serde(default, deserialize_with = "super::filters::double_option")]
    daily_message_limit: Option<Option<i64>>,
    allowed_models: Option<Vec<String>>,
    self_service: Option<bool>,
    is_default: Option<bool>,
}

async fn save(
    state: AppState,
    admin: CurrentUser,
    id: Option<String>,
    body: PlanBody,
) -> Result<Response, ApiError> {
    let mut fields = std::collections::BTreeMap::new();
    if let Some(name) = &body.name {
        let n = name.trim().chars().count();
        if n == 0 || n > 64 {
            fields.insert("name", "must be 1 to 64 characters".to_string());
        }
    } else if id.is_none() {
        fields.insert("name", "is required".to_string());
    }
    if let Some(Some(limit)) = body.daily_message_limit {
        if !(0..=1_000_000).contains(&limit) {
            fields.insert(
                "daily_message_limit",
                "must be between 0 and 1000000, or null for no limit".to_string(),
            );
        }
    }
    if let Some(models) = &body.allowed_models {
        if models.len() > 500 {
            fields.insert("allowed_models", "at most 500 models".to_string());
        }
    }
    if !fields.is_empty() {
        return Err(ApiError::Validation(fields));
    }
    let actor = (admin.user.id.clone(), admin.user.username.clone());
    let created = id.is_none();
    let saved = state
        .db
        .run(move |conn| -> Result<_, crate::db::DbError> {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let existing = match &id {
                Some(id) => match plan::get(&tx, id)? {
                    Some(p) => Some(p),
                    None => return Ok(Err(ApiError::NotFound("no such plan".into()))),
                },
                None => None,
            };
            if let Some(models) = &body.allowed_models {
                for m in models {
                    if connection::route(&tx, m)?.is_none() {
                        return Ok(Err(ApiError::invalid(
                            "allowed_models",
                            format!("unknown model {m}"),
                        )));
                    }
                }
            }
            let name = body
                .name
                .as_deref()
                .map(str::trim)
                .map(String::from)
                .or_else(|| existing.as_ref().map(|p| p.name.clone()))
                .unwrap_or_default();
            let models = body
                .allowed_models
                .clone()
                .or_else(|| existing.as_ref().map(|p| p.allowed_models.clone()))
                .unwrap_or_default();
            let input = PlanInput {
                name: &name,
                daily_message_limit: match body.daily_message_limit {
                    Some(v) => v,
                    None => existing.as_ref().and_then(|p| p.daily_message_limit),
                },
                allowed_models: &models,
                self_service: body
                    .self_service
                    .or(existing.as_ref().map(|p| p.self_service))
                    .unwrap_or(false),
                is_default: body
                    .is_default
                    .or(existing.as_ref().map(|p| p.is_default))
                    .unwrap_or(false),
            };
            let saved = plan::save(&tx, id.as_deref(), &input)?;
            audit::record(
                &tx,
                Some((&actor.0, &actor.1)),
                if existing.is_some() {
                    "plan.update"
                } else {
                    "plan.create"
                },
                Some(&saved.id),
                &json!(saved),
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
    let actor = (admin.user.id.clone(), admin.user.username.clone());
    state
        .db
        .run(move |conn| -> Result<_, crate::db::DbError> {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let Some(plan) = plan::get(&tx, &id)? else {
                return Ok(Err(ApiError::NotFound("no such plan".into())));
            };
            plan::delete(&tx, &id)?;
            audit::record(
                &tx,
                Some((&actor.0, &actor.1)),
                "plan.delete",
                Some(&id),
                &json!({ "name": plan.name }),
            )?;
            tx.commit()?;
            Ok(Ok(()))
        })
        .await??;
    Ok(super::no_content())
}
