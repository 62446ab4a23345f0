//! `/user/settings*` (the user's own settings and subscription), `/plans`
//! (the plans a user may switch to), and the admin's view of them:
//! `/users/{user_id}/settings*` (SPEC §3 "User settings", "Administration").

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::error::{json_response, respond, ApiError};
use super::filters::{admin, authenticated, json_body, with_state};
use crate::api::openapi::Error;
use crate::app::AppState;
use crate::auth::CurrentUser;
use crate::db::plan::Plan;
use crate::service::plan::next_day_start;
use crate::service::settings::{self as service, Change, View};

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
    // PUT|PATCH /api/v1/user/settings
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
    // GET /api/v1/user/settings/{part} (theme, language, notification, subscription)
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
    // PUT|PATCH /api/v1/user/settings/{part}
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
    // PUT|PATCH /api/v1/users/{user_id}/settings
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
    // PUT|PATCH /api/v1/users/{user_id}/settings/subscription
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

// ── Shapes ──────────────────────────────────────────────────────────────────

/// SPEC's settings object (types.ts `ServerSettings`).
#[derive(Serialize, ToSchema)]
pub struct ServerSettings {
    /// `light`, `dark` or `system`.
    theme: String,
    /// `ko` or `en`.
    language: String,
    default_model_id: Option<String>,
    system_prompt: String,
    notification: NotificationSettings,
    subscription: Subscription,
    /// One of the user's groups makes every chat of theirs temporary.
    temporary_chats_forced: bool,
}

#[derive(Serialize, ToSchema)]
pub struct NotificationSettings {
    on_complete: bool,
    sound: bool,
}

/// A change to the notification settings; a missing field stays.
#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationBody {
    on_complete: Option<bool>,
    sound: Option<bool>,
}

/// SPEC's subscription object plus `plan_id`, `used_today` and
/// `self_service` (types.ts `Subscription`). `renews_at` is when the daily
/// message count starts again (next UTC midnight).
#[derive(Serialize, ToSchema)]
pub struct Subscription {
    /// The plan's name (null: no plan, no limits).
    plan: Option<String>,
    plan_id: Option<String>,
    daily_message_limit: Option<i64>,
    /// Model ids; empty = every model.
    allowed_models: Vec<String>,
    self_service: Option<bool>,
    used_today: i64,
    renews_at: String,
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ThemeSetting {
    /// `light`, `dark` or `system`.
    theme: String,
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LanguageSetting {
    /// `ko` or `en`.
    language: String,
}

/// The body of PUT /user/settings; every field optional (the others stay).
#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserSettingsBody {
    theme: Option<String>,
    language: Option<String>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "super::filters::double_option")]
    #[schema(value_type = Option<String>)]
    default_model_id: Option<Option<String>>,
    system_prompt: Option<String>,
    notification: Option<NotificationBody>,
    subscription: Option<SubscriptionBody>,
}

/// `{"plan": id or name}` (`plan_id` is accepted too); `{"plan": null}`
/// takes the plan off (administrators only: the user then has the default
/// plan's limits). Extra read-only fields a client echoes back from GET are
/// ignored.
#[derive(Deserialize, Default, ToSchema)]
pub struct SubscriptionBody {
    #[serde(
        alias = "plan_id",
        default,
        deserialize_with = "super::filters::double_option"
    )]
    #[schema(value_type = Option<String>)]
    plan: Option<Option<String>>,
}

/// A plan the user may switch to (or theirs), with whether it is theirs.
#[derive(Serialize, ToSchema)]
pub struct SelfServicePlan {
    id: String,
    name: String,
    daily_message_limit: Option<i64>,
    allowed_models: Vec<String>,
    self_service: bool,
    is_default: bool,
    created_at: String,
    updated_at: String,
    current: bool,
}

#[derive(Serialize, ToSchema)]
pub struct SelfServicePlans {
    plans: Vec<SelfServicePlan>,
}

impl From<(Plan, bool)> for SelfServicePlan {
    fn from((p, current): (Plan, bool)) -> Self {
        SelfServicePlan {
            id: p.id,
            name: p.name,
            daily_message_limit: p.daily_message_limit,
            allowed_models: p.allowed_models,
            self_service: p.self_service,
            is_default: p.is_default,
            created_at: p.created_at,
            updated_at: p.updated_at,
            current,
        }
    }
}

fn subscription(plan: Option<&Plan>, used_today: i64) -> Subscription {
    Subscription {
        plan: plan.map(|p| p.name.clone()),
        plan_id: plan.map(|p| p.id.clone()),
        daily_message_limit: plan.and_then(|p| p.daily_message_limit),
        allowed_models: plan.map(|p| p.allowed_models.clone()).unwrap_or_default(),
        self_service: plan.map(|p| p.self_service),
        used_today,
        renews_at: next_day_start(),
    }
}

// ── Handlers ────────────────────────────────────────────────────────────────

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
            // `notifications`: the seed's spelling.
            "notification" | "notifications" => Ok(Part::Notification),
            "subscription" => Ok(Part::Subscription),
            _ => Err(ApiError::NotFound("no such settings part".into())),
        }
    }
}

/// Parses `body` as the part's shape into a change.
fn parse_part(part: Part, body: Value) -> Result<Change, ApiError> {
    let bad = super::filters::json_error;
    let notification = |n: NotificationBody| Change {
        notify_on_complete: n.on_complete,
        notify_sound: n.sound,
        ..Default::default()
    };
    Ok(match part {
        Part::All => {
            let b: UserSettingsBody = serde_json::from_value(body).map_err(bad)?;
            let n = b.notification.map(notification).unwrap_or_default();
            Change {
                theme: b.theme,
                language: b.language,
                default_model_id: b.default_model_id,
                system_prompt: b.system_prompt,
                plan: b.subscription.and_then(|s| s.plan),
                ..n
            }
        }
        Part::Theme => {
            let b: ThemeSetting = serde_json::from_value(body).map_err(bad)?;
            Change {
                theme: Some(b.theme),
                ..Default::default()
            }
        }
        Part::Language => {
            let b: LanguageSetting = serde_json::from_value(body).map_err(bad)?;
            Change {
                language: Some(b.language),
                ..Default::default()
            }
        }
        Part::Notification => notification(serde_json::from_value(body).map_err(bad)?),
        Part::Subscription => {
            let b: SubscriptionBody = serde_json::from_value(body).map_err(bad)?;
            if b.plan.is_none() {
                return Err(ApiError::invalid(
                    "plan",
                    "is required (a plan id or name, or null to take the plan off)",
                ));
            }
            Change {
                plan: b.plan,
                ..Default::default()
            }
        }
    })
}

/// The part of the settings a route answers.
fn render(part: Part, view: View) -> Response {
    let s = view.settings;
    let notification = NotificationSettings {
        on_complete: s.notify_on_complete,
        sound: s.notify_sound,
    };
    let subscription = subscription(view.plan.as_ref(), view.used_today);
    match part {
        Part::All => json_response(
            StatusCode::OK,
            &ServerSettings {
                theme: s.theme,
                language: s.language,
                default_model_id: s.default_model_id,
                system_prompt: s.system_prompt,
                notification,
                subscription,
                temporary_chats_forced: view.temporary_chats_forced,
            },
        ),
        Part::Theme => json_response(StatusCode::OK, &ThemeSetting { theme: s.theme }),
        Part::Language => json_response(
            StatusCode::OK,
            &LanguageSetting {
                language: s.language,
            },
        ),
        Part::Notification => json_response(StatusCode::OK, &notification),
        Part::Subscription => json_response(StatusCode::OK, &subscription),
    }
}

async fn own(
    state: &AppState,
    current: &CurrentUser,
    part: Part,
    body: Option<Value>,
) -> Result<Response, ApiError> {
    let change = body.map(|b| parse_part(part, b)).transpose()?;
    let view = service::own(&state.db, current.user.id.clone(), change).await?;
    Ok(render(part, view))
}

async fn of_user(
    state: &AppState,
    admin: &CurrentUser,
    user_id: String,
    part: Part,
    body: Option<Value>,
) -> Result<Response, ApiError> {
    // Parsed here, refused (if it must be) only once the user is known.
    let change = body.map(|b| parse_part(part, b));
    let view = service::of_user(&state.db, admin.actor(), user_id, change).await?;
    Ok(render(part, view))
}

#[utoipa::path(get, path = "/plans", tag = "settings",
    responses((status = 200, body = SelfServicePlans), (status = 401, body = Error),
        (status = 403, body = Error)))]
async fn list_self_service(state: AppState, current: CurrentUser) -> Result<Response, ApiError> {
    let plans = service::self_service_plans(&state.db, current.user.id.clone())
        .await?
        .into_iter()
        .map(SelfServicePlan::from)
        .collect();
    Ok(json_response(StatusCode::OK, &SelfServicePlans { plans }))
}

// ── Documentation of the routes above ───────────────────────────────────────

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        get_settings, put_settings, get_theme, put_theme, get_language, put_language,
        get_notification, put_notification, get_subscription, put_subscription,
        list_self_service, admin_get_settings, admin_put_settings, admin_get_subscription,
        admin_put_subscription,
    ),
    components(schemas(ServerSettings, NotificationSettings, NotificationBody, Subscription, ThemeSetting,
        LanguageSetting, UserSettingsBody, SubscriptionBody, SelfServicePlan, SelfServicePlans)),
    tags((name = "settings"), (name = "admin"))
)]
pub struct Doc;

#[utoipa::path(get, path = "/user/settings", tag = "settings",
    responses((status = 200, body = ServerSettings), (status = 401, body = Error),
        (status = 403, body = Error)))]
#[allow(dead_code)] // the route is the closure in `routes`
fn get_settings() {}

#[utoipa::path(method(put, patch), path = "/user/settings", tag = "settings",
    request_body = UserSettingsBody,
    responses((status = 200, body = ServerSettings), (status = 400, body = Error),
        (status = 401, body = Error),
        (status = 403, description = "a plan only an administrator assigns", body = Error),
        (status = 422, body = Error)))]
#[allow(dead_code)] // the route is the closure in `routes`
fn put_settings() {}

#[utoipa::path(get, path = "/user/settings/theme", tag = "settings",
    responses((status = 200, body = ThemeSetting), (status = 401, body = Error),
        (status = 403, body = Error)))]
#[allow(dead_code)] // the route is the closure in `routes`
fn get_theme() {}

#[utoipa::path(method(put, patch), path = "/user/settings/theme", tag = "settings",
    request_body = ThemeSetting,
    responses((status = 200, body = ThemeSetting), (status = 400, body = Error),
        (status = 401, body = Error), (status = 403, body = Error), (status = 422, body = Error)))]
#[allow(dead_code)] // the route is the closure in `routes`
fn put_theme() {}

#[utoipa::path(get, path = "/user/settings/language", tag = "settings",
    responses((status = 200, body = LanguageSetting), (status = 401, body = Error),
        (status = 403, body = Error)))]
#[allow(dead_code)] // the route is the closure in `routes`
fn get_language() {}

#[utoipa::path(method(put, patch), path = "/user/settings/language", tag = "settings",
    request_body = LanguageSetting,
    responses((status = 200, body = LanguageSetting), (status = 400, body = Error),
        (status = 401, body = Error), (status = 403, body = Error), (status = 422, body = Error)))]
#[allow(dead_code)] // the route is the closure in `routes`
fn put_language() {}

#[utoipa::path(get, path = "/user/settings/notification", tag = "settings",
    responses((status = 200, body = NotificationSettings), (status = 401, body = Error),
        (status = 403, body = Error)))]
#[allow(dead_code)] // the route is the closure in `routes`
fn get_notification() {}

#[utoipa::path(method(put, patch), path = "/user/settings/notification", tag = "settings",
    request_body = NotificationBody,
    responses((status = 200, body = NotificationSettings), (status = 400, body = Error),
        (status = 401, body = Error), (status = 403, body = Error)))]
#[allow(dead_code)] // the route is the closure in `routes`
fn put_notification() {}

#[utoipa::path(get, path = "/user/settings/subscription", tag = "settings",
    responses((status = 200, body = Subscription), (status = 401, body = Error),
        (status = 403, body = Error)))]
#[allow(dead_code)] // the route is the closure in `routes`
fn get_subscription() {}

#[utoipa::path(method(put, patch), path = "/user/settings/subscription", tag = "settings",
    request_body = SubscriptionBody,
    responses((status = 200, body = Subscription), (status = 400, body = Error),
        (status = 401, body = Error),
        (status = 403, description = "a plan only an administrator assigns", body = Error),
        (status = 422, body = Error)))]
#[allow(dead_code)] // the route is the closure in `routes`
fn put_subscription() {}

#[utoipa::path(get, path = "/users/{user_id}/settings", tag = "admin",
    params(("user_id" = String, Path)),
    responses((status = 200, body = ServerSettings), (status = 401, body = Error),
        (status = 403, body = Error), (status = 404, body = Error)))]
#[allow(dead_code)] // the route is the closure in `routes`
fn admin_get_settings() {}

#[utoipa::path(method(put, patch), path = "/users/{user_id}/settings", tag = "admin",
    params(("user_id" = String, Path)), request_body = UserSettingsBody,
    responses((status = 200, body = ServerSettings), (status = 400, body = Error),
        (status = 401, body = Error), (status = 403, body = Error), (status = 404, body = Error),
        (status = 422, body = Error)))]
#[allow(dead_code)] // the route is the closure in `routes`
fn admin_put_settings() {}

#[utoipa::path(get, path = "/users/{user_id}/settings/subscription", tag = "admin",
    params(("user_id" = String, Path)),
    responses((status = 200, body = Subscription), (status = 401, body = Error),
        (status = 403, body = Error), (status = 404, body = Error)))]
#[allow(dead_code)] // the route is the closure in `routes`
fn admin_get_subscription() {}

#[utoipa::path(method(put, patch), path = "/users/{user_id}/settings/subscription", tag = "admin",
    params(("user_id" = String, Path)), request_body = SubscriptionBody,
    responses((status = 200, body = Subscription), (status = 400, body = Error),
        (status = 401, body = Error), (status = 403, body = Error), (status = 404, body = Error),
        (status = 422, body = Error)))]
#[allow(dead_code)] // the route is the closure in `routes`
fn admin_put_subscription() {}
