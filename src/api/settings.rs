//! `/user/settings*` (the user's own settings and subscription), `/plans`
//! (the plans a user may switch to), and the admin's view of them:
//! `/users/{user_id}/settings*` (SPEC §3 "User settings", "Administration").
//! Also the plan check every answer passes before the upstream is called.

use serde::Deserialize;
use serde_json::{json, Value};
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::error::{json_response, respond, ApiError};
use super::filters::{admin, authenticated, json_body, with_state};
use crate::app::AppState;
use crate::auth::CurrentUser;
use crate::db::plan::{self, Plan, Settings};
use crate::db::{self, audit, connection, DbError};
use crate::service::plan::{day_start, next_day_start};

/// Longest default system prompt, in characters.
const MAX_SYSTEM_PROMPT: usize = 20_000;

pub fn routes(state: AppState) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let st = || with_state(state.clone());
    let user = || authenticated(state.clone());
    let adm = || admin(state.clone());

    // GET /api/v1/user/settings
    let get_all = warp::path!("user" / "settings")
        .and(warp::get())
        .and(st())
        .and(user())
        .then(|state: AppState, current: CurrentUser| async move {
            own(&state, &current, Part::All, None).await
        })
        .map(respond);
    // PUT|PATCH /api/v1/user/settings/{part}? (theme, language, notification, subscription)
    let put_all = warp::path!("user" / "settings")
        .and(warp::put().or(warp::patch()).unify())
        .and(st())
        .and(user())
        .and(json_body())
        .then(
            |state: AppState, current: CurrentUser, body: Value| async move {
                own(&state, &current, Part::All, Some(body)).await
            },
        )
        .map(respond);
    // GET /api/v1/user/settings/{part}
    let get_part = warp::path!("user" / "settings" / String)
        .and(warp::get())
        .and(st())
        .and(user())
        .then(
            |part: String, state: AppState, current: CurrentUser| async move {
                own(&state, &current, Part::parse(&part)?, None).await
            },
        )
        .map(respond);
    // PUT /api/v1/user/settings/{part}
    let put_part = warp::path!("user" / "settings" / String)
        .and(warp::put().or(warp::patch()).unify())
        .and(st())
        .and(user())
        .and(json_body())
        .then(
            |part: String, state: AppState, current: CurrentUser, body: Value| async move {
                own(&state, &current, Part::parse(&part)?, Some(body)).await
            },
        )
        .map(respond);
    // GET /api/v1/plans: the plans the user may switch to, and theirs.
    let plans = warp::path!("plans")
        .and(warp::get())
        .and(st())
        .and(user())
        .then(list_self_service)
        .map(respond);
    // GET /api/v1/users/{user_id}/settings
    let admin_get = warp::path!("users" / String / "settings")
        .and(warp::get())
        .and(st())
        .and(adm())
        .then(
            |id: String, state: AppState, admin: CurrentUser| async move {
                of_user(&state, &admin, id, Part::All, None).await
            },
        )
        .map(respond);
    // PUT /api/v1/users/{user_id}/settings
    let admin_put = warp::path!("users" / String / "settings")
        .and(warp::put().or(warp::patch()).unify())
        .and(st())
        .and(adm())
        .and(json_body())
        .then(
            |id: String, state: AppState, admin: CurrentUser, body: Value| async move {
                of_user(&state, &admin, id, Part::All, Some(body)).await
            },
        )
        .map(respond);
    // GET /api/v1/users/{user_id}/settings/subscription
    let admin_get_sub = warp::path!("users" / String / "settings" / "subscription")
        .and(warp::get())
        .and(st())
        .and(adm())
        .then(
            |id: String, state: AppState, admin: CurrentUser| async move {
                of_user(&state, &admin, id, Part::Subscription, None).await
            },
        )
        .map(respond);
    // PUT /api/v1/users/{user_id}/settings/subscription
    let admin_put_sub = warp::path!("users" / String / "settings" / "subscription")
        .and(warp::put().or(warp::patch()).unify())
        .and(st())
        .and(adm())
        .and(json_body())
        .then(
            |id: String, state: AppState, admin: CurrentUser, body: Value| async move {
                of_user(&state, &admin, id, Part::Subscription, Some(body)).await
            },
        )
        .map(respond);

    get_all
        .or(put_all)
        .unify()
        .or(get_part)
        .unify()
        .or(put_part)
        .unify()
        .or(plans)
        .unify()
        .or(admin_get)
        .unify()
        .or(admin_put)
        .unify()
        .or(admin_get_sub)
        .unify()
        .or(admin_put_sub)
        .unify()
}

/// Which part of the settings a route reads or writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    All,
    Theme,
    Language,
    Notification,
    Subscription,
}

impl Part {
    fn parse(s: &str) -> Result<Part, ApiError> {
        match s {
            "theme" => Ok(Part::Theme),
            "language" => Ok(Part::Language),
            "notification" => Ok(Part::Notification),
            "subscription" => Ok(Part::Subscription),
            _ => Err(ApiError::NotFound("no such settings part".into())),
        }
    }
}

/// The body of PUT /user/settings; every field optional (the others stay).
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct SettingsBody {
    theme: Option<String>,
    language: Option<String>,
    #[serde(default, deserialize_with = "super::filters::double_option")]
    default_model_id: Option<Option<String>>,
    system_prompt: Option<String>,
    notification: Option<NotificationBody>,
    subscription: Option<SubscriptionBody>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct NotificationBody {
    on_complete: Option<bool>,
    sound: Option<bool>,
}

/// `{"plan": id or name}` (`plan_id` is accepted too); extra read-only
/// fields a client echoes back from GET are ignored.
#[derive(Deserialize, Default)]
struct SubscriptionBody {
    #[serde(alias = "plan_id")]
    plan: Option<String>,
}

/// Parses `body` as the part's shape into the common body.
fn parse_part(part: Part, body: Value) -> Result<SettingsBody, ApiError> {
    let bad = |e: serde_json::Error| ApiError::BadRequest(format!("malformed JSON body: {e}"));
    Ok(match part {
        Part::All => serde_json::from_value(body).map_err(bad)?,
        Part::Theme => {
            #[derive(Deserialize)]
            #[serde(deny_unknown_fields)]
            struct B {
                theme: String,
            }
            let b: B = serde_json::from_value(body).map_err(bad)?;
            SettingsBody {
                theme: Some(b.theme),
                ..Default::default()
            }
        }
        Part::Language => {
            #[derive(Deserialize)]
            #[serde(deny_unknown_fields)]
            struct B {
                language: String,
            }
            let b: B = serde_json::from_value(body).map_err(bad)?;
            SettingsBody {
                language: Some(b.language),
                ..Default::default()
            }
        }
        Part::Notification => SettingsBody {
            notification: Some(serde_json::from_value(body).map_err(bad)?),
            ..Default::default()
        },
        Part::Subscription => {
            let b: SubscriptionBody = serde_json::from_value(body).map_err(bad)?;
            if b.plan.is_none() {
                return Err(ApiError::invalid("plan", "is required (a plan id or name)"));
            }
            SettingsBody {
                subscription: Some(b),
                ..Default::default()
            }
        }
    })
}

/// Who changes the settings: the user (plans: self-service only) or an admin.
#[derive(Clone)]
enum Actor {
    User,
    Admin { id: String, name: String },
}

async fn own(
    state: &AppState,
    current: &CurrentUser,
    part: Part,
    body: Option<Value>,
) -> Result<Response, ApiError> {
    read_or_write(state, current.user.id.clone(), Actor::User, part, body).await
}

async fn of_user(
    state: &AppState,
    admin: &CurrentUser,
    user_id: String,
    part: Part,
    body: Option<Value>,
) -> Result<Response, ApiError> {
    let id = user_id.clone();
    let exists = state
        .db
        .run(move |conn| db::user::by_id(conn, &id))
        .await?
        .is_some();
    if !exists {
        return Err(ApiError::NotFound("no such user".into()));
    }
    let actor = Actor::Admin {
        id: admin.user.id.clone(),
        name: admin.user.username.clone(),
    };
    read_or_write(state, user_id, actor, part, body).await
}

async fn read_or_write(
    state: &AppState,
    user_id: String,
    actor: Actor,
    part: Part,
    body: Option<Value>,
) -> Result<Response, ApiError> {
    let change = body.map(|b| parse_part(part, b)).transpose()?;
    if let Some(change) = &change {
        validate(change)?;
    }
    let (settings, plan, used) = state
        .db
        .run(move |conn| -> Result<_, crate::db::DbError> {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let mut settings = plan::settings(&tx, &user_id)?;
            if let Some(change) = change {
                let before = settings.clone();
                if let Err(e) = apply(&tx, &mut settings, change, &actor)? {
                    return Ok(Err(e));
                }
                if settings != before {
                    plan::save_settings(&tx, &user_id, &settings)?;
                    if let Actor::Admin { id, name } = &actor {
                        audit::record(
                            &tx,
                            Some((id, name)),
                            if settings.plan_id != before.plan_id {
                                "user.subscription.update"
                            } else {
                                "user.settings.update"
                            },
                            Some(&user_id),
                            &settings_json(&settings, None, 0),
                        )?;
                    }
                }
            }
            let plan = plan::effective(&tx, &user_id)?;
            let used = plan::used_since(&tx, &user_id, &day_start())?;
            tx.commit()?;
            Ok(Ok((settings, plan, used)))
        })
        .await??;
    let all = settings_json(&settings, plan.as_ref(), used);
    let out = match part {
        Part::All => all,
        Part::Theme => json!({ "theme": all["theme"] }),
        Part::Language => json!({ "language": all["language"] }),
        Part::Notification => all["notification"].clone(),
        Part::Subscription => all["subscription"].clone(),
    };
    Ok(json_response(StatusCode::OK, &out))
}

fn validate(change: &SettingsBody) -> Result<(), ApiError> {
    if let Some(theme) = &change.theme {
        if !["light", "dark", "system"].contains(&theme.as_str()) {
            return Err(ApiError::invalid("theme", "must be light, dark or system"));
        }
    }
    if let Some(language) = &change.language {
        if !["ko", "en"].contains(&language.as_str()) {
            return Err(ApiError::invalid("language", "must be ko or en"));
        }
    }
    if let Some(prompt) = &change.system_prompt {
        if prompt.chars().count() > MAX_SYSTEM_PROMPT {
            return Err(ApiError::invalid(
                "system_prompt",
                format!("must be at most {MAX_SYSTEM_PROMPT} characters"),
            ));
        }
    }
    Ok(())
}

/// Applies a validated change; a refused plan or unknown model is the inner error.
fn apply(
    conn: &rusqlite::Connection,
    settings: &mut Settings,
    change: SettingsBody,
    actor: &Actor,
) -> Result<Result<(), ApiError>, DbError> {
    if let Some(theme) = change.theme {
        settings.theme = theme;
    }
    if let Some(language) = change.language {
        settings.language = language;
    }
    if let Some(prompt) = change.system_prompt {
        settings.system_prompt = prompt;
    }
    if let Some(n) = change.notification {
        if let Some(v) = n.on_complete {
            settings.notify_on_complete = v;
        }
        if let Some(v) = n.sound {
            settings.notify_sound = v;
        }
    }
    if let Some(model) = change.default_model_id {
        if let Some(id) = &model {
            if connection::route(conn, id)?.is_none() {
                return Ok(Err(ApiError::invalid(
                    "default_model_id",
                    format!("unknown model {id}"),
                )));
            }
        }
        settings.default_model_id = model;
    }
    if let Some(wanted) = change.subscription.and_then(|s| s.plan) {
        let Some(target) = plan::find(conn, &wanted)? else {
            return Ok(Err(ApiError::invalid(
                "plan",
                format!("unknown plan {wanted}"),
            )));
        };
        let unchanged = settings.plan_id.as_deref() == Some(target.id.as_str());
        if !unchanged {
            if matches!(actor, Actor::User) && !target.self_service {
                return Ok(Err(ApiError::forbidden(
                    "plan_not_self_service",
                    format!(
                        "the plan {} can only be assigned by an administrator",
                        target.name
                    ),
                )));
            }
            settings.plan_id = Some(target.id);
        }
    }
    Ok(Ok(()))
}

/// SPEC's settings object.
fn settings_json(s: &Settings, plan: Option<&Plan>, used_today: i64) -> Value {
    json!({
        "theme": s.theme,
        "language": s.language,
        "default_model_id": s.default_model_id,
        "system_prompt": s.system_prompt,
        "notification": { "on_complete": s.notify_on_complete, "sound": s.notify_sound },
        "subscription": subscription_json(plan, used_today),
    })
}

/// SPEC's subscription object plus `plan_id`, `used_today` and `self_service`.
/// `renews_at` is when the daily message count starts again (next UTC midnight).
fn subscription_json(plan: Option<&Plan>, used_today: i64) -> Value {
    json!({
        "plan": plan.map(|p| p.name.clone()),
        "plan_id": plan.map(|p| p.id.clone()),
        "daily_message_limit": plan.and_then(|p| p.daily_message_limit),
        "allowed_models": plan.map(|p| p.allowed_models.clone()).unwrap_or_default(),
        "self_service": plan.map(|p| p.self_service),
        "used_today": used_today,
        "renews_at": next_day_start(),
    })
}

async fn list_self_service(state: AppState, current: CurrentUser) -> Result<Response, ApiError> {
    let user_id = current.user.id.clone();
    let (plans, mine) = state
        .db
        .run(move |conn| -> Result<_, crate::db::DbError> {
            Ok((plan::list(conn)?, plan::effective(conn, &user_id)?))
        })
        .await?;
    let mine_id = mine.map(|p| p.id);
    let items: Vec<Value> = plans
        .into_iter()
        .filter(|p| p.self_service || Some(&p.id) == mine_id.as_ref())
        .map(|p| {
            let current = Some(&p.id) == mine_id.as_ref();
            let mut v = json!(p);
            v["current"] = json!(current);
            v
        })
        .collect();
    Ok(json_response(StatusCode::OK, &json!({ "plans": items })))
}
