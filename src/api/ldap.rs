//! LDAP / Active Directory sign-in (issue 22): `POST /auth/ldap/login`, the
//! administrator's tests of the settings (`/admin/sign-in/ldap/test`,
//! `/admin/sign-in/ldap/test-user`) and [`recheck`], the look at the
//! directory `/auth/refresh` makes for an LDAP account.
//!
//! A sign-in is limited like `/auth/login` (per address and per
//! username|address, reserved before the directory is asked, released
//! unless the credentials were wrong), and at most a few directory
//! operations run at once (`Auth::with_directory_slot`).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::auth::{reserve_sign_in, same_site, secure_request, slow_refusal, start_session, Login};
use super::error::{json_response, respond, ApiError};
use super::filters::{admin, client_ip, json_body, with_state};
use super::openapi::Error;
use crate::app::AppState;
use crate::auth::ldap::{self, LdapError};
use crate::auth::{Busy, CurrentUser};
use crate::db::group::GroupRef;
use crate::db::user::{Role, User};
use crate::service::directory;
use crate::service::signin::{self, Kind, LdapSettings};

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(login, test, test_user),
    components(schemas(LdapLoginBody, LdapTestBody, LdapTestUserBody, LdapTestReport,
        LdapTestStep, LdapTestUserReport, GroupRef)),
    tags((name = "auth"), (name = "admin", description = "Administrators only (403 otherwise)"))
)]
pub struct Doc;

pub fn routes(state: AppState) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    // POST /api/v1/auth/ldap/login
    let login = warp::path!("auth" / "ldap" / "login")
        .and(warp::post())
        .and(same_site(&state))
        .and(with_state(state.clone()))
        .and(client_ip(&state))
        .and(secure_request())
        .and(json_body())
        .then(login)
        .then(slow_refusal)
        .map(respond);
    // POST /api/v1/admin/sign-in/ldap/test
    let test = warp::path!("admin" / "sign-in" / "ldap" / "test")
        .and(warp::post())
        .and(with_state(state.clone()))
        .and(admin(state.clone()))
        .and(json_body())
        .then(test)
        .map(respond);
    // POST /api/v1/admin/sign-in/ldap/test-user
    let test_user = warp::path!("admin" / "sign-in" / "ldap" / "test-user")
        .and(warp::post())
        .and(with_state(state.clone()))
        .and(admin(state))
        .and(json_body())
        .then(test_user)
        .map(respond);
    login.or(test).unify().or(test_user).unify()
}

/// The effective LDAP settings (flags over the stored ones).
async fn settings(state: &AppState) -> Result<LdapSettings, ApiError> {
    let flags = state.signin_flags.clone();
    Ok(state.db.run(move |conn| signin::ldap(conn, &flags)).await?)
}

/// 503 `directory_unavailable`; the reason is logged, not sent.
fn directory_unavailable(reason: &str) -> ApiError {
    log::warn!("LDAP directory unavailable: {reason}");
    ApiError::refused(
        StatusCode::SERVICE_UNAVAILABLE,
        "directory_unavailable",
        "the company directory cannot be reached right now; try again later",
    )
}

/// No directory slot freed up in time.
fn directory_busy(_: Busy) -> ApiError {
    directory_unavailable("every directory slot stayed busy")
}

fn invalid_credentials() -> ApiError {
    ApiError::unauthorized("invalid_credentials", "wrong username or password")
}

/// A company account's sign-in.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LdapLoginBody {
    /// The directory username (as the user filter expects it).
    username: String,
    password: String,
}

/// Signs in with the company directory's username and password: the
/// account is created (or brought in step) from the directory entry.
#[utoipa::path(post, path = "/auth/ldap/login", tag = "auth", security(()), operation_id = "ldap_login",
    request_body = LdapLoginBody,
    responses((status = 200, body = Login), (status = 400, body = Error),
        (status = 401, description = "invalid_credentials", body = Error),
        (status = 403, description = "not_in_allowed_group, account_disabled, \
            pending_approval, or another site's page", body = Error),
        (status = 404, description = "LDAP sign-in is off", body = Error),
        (status = 429, body = Error),
        (status = 503, description = "directory_unavailable", body = Error)))]
async fn login(
    state: AppState,
    ip: String,
    secure: bool,
    body: LdapLoginBody,
) -> Result<Response, ApiError> {
    let settings = settings(&state).await?;
    if !settings.enabled {
        return Err(ApiError::NotFound(
            "LDAP sign-in is not turned on on this server".into(),
        ));
    }
    // As `/auth/login`: reserved before the directory is asked.
    let (by_ip, by_user) = reserve_sign_in(&state, &ip, &body.username)?;
    let asked = state
        .auth
        .with_directory_slot(Box::pin(ldap::authenticate(
            &settings,
            &body.username,
            &body.password,
        )))
        .await;
    let identity = match asked {
        Ok(Ok(identity)) => identity,
        // The reservations stay: they count as failures.
        Ok(Err(err)) if err.is_credentials() => return Err(invalid_credentials()),
        Ok(Err(err)) => {
            state.auth.login_by_ip.release(by_ip);
            state.auth.login_by_user.release(by_user);
            return Err(directory_unavailable(&err.to_string()));
        }
        Err(busy) => {
            state.auth.login_by_ip.release(by_ip);
            state.auth.login_by_user.release(by_user);
            return Err(directory_busy(busy));
        }
    };
    state.auth.login_by_ip.release(by_ip);
    state.auth.login_by_user.clear(by_user);
    let user = Box::pin(directory::sign_in(
        &state.db,
        identity,
        &signin::policy(&settings.admin_groups, &settings.allowed_groups),
    ))
    .await?;
    start_session(&state, user, secure).await
}

/// `settings` with the unsaved fields of a test over them; a locked field
/// keeps its flag's value, an empty password keeps the stored one.
fn with_unsaved(
    state: &AppState,
    settings: LdapSettings,
    unsaved: Option<Map<String, Value>>,
) -> Result<LdapSettings, ApiError> {
    let Some(unsaved) = unsaved else {
        return Ok(settings);
    };
    let locked = state.signin_flags.locked(Kind::Ldap);
    let mut fields = match serde_json::to_value(&settings) {
        Ok(Value::Object(fields)) => fields,
        _ => Map::new(),
    };
    for (field, value) in unsaved {
        if locked.contains(&field) {
            continue;
        }
        let empty_secret = field == "bind_password" && value.as_str().is_none_or(str::is_empty);
        if empty_secret {
            continue;
        }
        fields.insert(field, value);
    }
    serde_json::from_value(Value::Object(fields))
        .map_err(|e| ApiError::invalid("ldap", format!("is not valid: {e}")))
}

/// Settings to try: the saved ones, or unsaved fields over them.
#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LdapTestBody {
    /// Fields of the LDAP settings (as in `PUT /admin/sign-in`) not saved
    /// yet; locked fields keep their flag's value.
    #[schema(value_type = Option<Object>)]
    ldap: Option<Map<String, Value>>,
}

/// One step of a connection test.
#[derive(Serialize, ToSchema)]
pub struct LdapTestStep {
    /// `connect`, `tls`, `bind` or `search`.
    step: &'static str,
    ok: bool,
    detail: String,
}

/// What a connection test found (a failure is an answer, not an error).
#[derive(Serialize, ToSchema)]
pub struct LdapTestReport {
    ok: bool,
    /// `active_directory` or `ldap`; null when the server was not read.
    #[schema(value_type = Option<String>)]
    server: Option<&'static str>,
    steps: Vec<LdapTestStep>,
}

/// Connects to the directory, sets up TLS, binds as the service account and
/// reads the user base, saying how each step went.
#[utoipa::path(post, path = "/admin/sign-in/ldap/test", tag = "admin", operation_id = "ldap_test",
    request_body = LdapTestBody,
    responses((status = 200, body = LdapTestReport), (status = 400, body = Error),
        (status = 401, body = Error), (status = 403, body = Error),
        (status = 422, body = Error)))]
async fn test(
    state: AppState,
    _admin: CurrentUser,
    body: LdapTestBody,
) -> Result<Response, ApiError> {
    let settings = with_unsaved(&state, settings(&state).await?, body.ldap)?;
    let report = match state
        .auth
        .with_directory_slot(Box::pin(ldap::test_connection(&settings)))
        .await
    {
        Ok(report) => report,
        Err(Busy) => ldap::ConnectionReport {
            ok: false,
            server: None,
            steps: vec![ldap::Step {
                step: "connect",
                ok: false,
                detail: "the server is busy with other directory calls; try again".into(),
            }],
        },
    };
    let reply = LdapTestReport {
        ok: report.ok,
        server: report.server.map(ldap::ServerKind::as_str),
        steps: report
            .steps
            .into_iter()
            .map(|s| LdapTestStep {
                step: s.step,
                ok: s.ok,
                detail: s.detail,
            })
            .collect(),
    };
    Ok(json_response(StatusCode::OK, &reply))
}

/// A user to look up (and, with a password, to check).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LdapTestUserBody {
    username: String,
    /// Checked when given (a bind as the user).
    password: Option<String>,
    #[schema(value_type = Option<Object>)]
    ldap: Option<Map<String, Value>>,
}

/// What the directory says about a user, and what daehwa would make of it.
#[derive(Serialize, ToSchema)]
pub struct LdapTestUserReport {
    found: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    dn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    display_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<String>,
    /// The directory groups (DNs), nested ones included.
    groups: Vec<String>,
    /// The daehwa groups those feed.
    daehwa_groups: Vec<GroupRef>,
    /// Whether `admin_groups` makes them an admin.
    admin: bool,
    /// Whether `allowed_groups` lets them in.
    allowed: bool,
    /// Null when no password was given (or it could not be checked).
    password_ok: Option<bool>,
    detail: String,
}

/// Looks a user up as a sign-in would: their entry, groups, the daehwa
/// groups and role they would get, and (with a password) whether it is right.
#[utoipa::path(post, path = "/admin/sign-in/ldap/test-user", tag = "admin",
    request_body = LdapTestUserBody,
    responses((status = 200, body = LdapTestUserReport), (status = 400, body = Error),
        (status = 401, body = Error), (status = 403, body = Error),
        (status = 422, body = Error)))]
async fn test_user(
    state: AppState,
    _admin: CurrentUser,
    body: LdapTestUserBody,
) -> Result<Response, ApiError> {
    let settings = with_unsaved(&state, settings(&state).await?, body.ldap)?;
    let report = state
        .auth
        .with_directory_slot(Box::pin(ldap::test_user(
            &settings,
            &body.username,
            body.password.as_deref(),
        )))
        .await
        .unwrap_or_else(|Busy| ldap::UserReport {
            detail: "the server is busy with other directory calls; try again".into(),
            ..ldap::UserReport::default()
        });
    let identity = report
        .identity
        .unwrap_or_else(|| directory::DirectoryIdentity {
            issuer: ldap::ISSUER.into(),
            external_id: String::new(),
            username: String::new(),
            display_name: None,
            email: None,
            groups: Vec::new(),
        });
    let policy = signin::policy(&settings.admin_groups, &settings.allowed_groups);
    let groups = identity.groups.clone();
    let daehwa_groups = if groups.is_empty() {
        Vec::new()
    } else {
        state
            .db
            .run(move |conn| -> Result<Vec<GroupRef>, crate::db::DbError> {
                let mut found = Vec::new();
                for id in crate::db::group::fed_by(conn, &groups)? {
                    if let Some(group) = crate::db::group::get(conn, &id)? {
                        found.push(GroupRef {
                            id: group.id,
                            name: group.name,
                        });
                    }
                }
                Ok(found)
            })
            .await?
    };
    let reply = LdapTestUserReport {
        found: report.found,
        dn: report.dn,
        username: report.found.then(|| identity.username.clone()),
        display_name: identity.display_name.clone(),
        email: identity.email.clone(),
        admin: report.found && policy.role(&identity.groups) == Some(Role::Admin),
        allowed: report.found && policy.allows(&identity.groups),
        groups: identity.groups,
        daehwa_groups,
        password_ok: report.password_ok,
        detail: report.detail,
    };
    Ok(json_response(StatusCode::OK, &reply))
}

/// 401 `directory_refused`: the directory no longer lets the user in.
fn directory_refused() -> ApiError {
    ApiError::unauthorized(
        "directory_refused",
        "the company directory no longer lets this account in; ask your administrator",
    )
}

/// `/auth/refresh` for an LDAP account: the service account looks the entry
/// up by its external id. Gone (or out of `allowed_groups`) → 401
/// `directory_refused` and the user's sessions end; unreachable → 503 (the
/// session stays); found → name, e-mail, role and groups are synced.
pub async fn recheck(state: &AppState, user: &User) -> Result<(), ApiError> {
    let settings = settings(state).await?;
    let external_id = user.external_id.clone().unwrap_or_default();
    if !settings.enabled || external_id.is_empty() {
        log::info!(
            "LDAP account {} refused at refresh: LDAP sign-in is off",
            user.username
        );
        end_sessions(state, &user.id).await?;
        return Err(directory_refused());
    }
    let found = state
        .auth
        .with_directory_slot(Box::pin(ldap::lookup(&settings, &external_id)))
        .await
        .map_err(directory_busy)?;
    match found {
        Ok(Some(identity)) => {
            match directory::sign_in(
                &state.db,
                identity,
                &signin::policy(&settings.admin_groups, &settings.allowed_groups),
            )
            .await
            {
                Ok(_) => Ok(()),
                // `sign_in` ended the sessions already.
                Err(ApiError::Forbidden {
                    code: "not_in_allowed_group",
                    ..
                }) => Err(directory_refused()),
                Err(err) => Err(err),
            }
        }
        Ok(None) => {
            log::info!(
                "LDAP account {} refused at refresh: the directory entry is gone or no longer \
                 matches the user filter",
                user.username
            );
            end_sessions(state, &user.id).await?;
            Err(directory_refused())
        }
        Err(LdapError::InvalidCredentials | LdapError::NotFound) => {
            end_sessions(state, &user.id).await?;
            Err(directory_refused())
        }
        Err(LdapError::Unavailable(reason)) => Err(directory_unavailable(&reason)),
    }
}

/// Ends every session of `user_id`.
async fn end_sessions(state: &AppState, user_id: &str) -> Result<(), ApiError> {
    let user_id = user_id.to_string();
    state
        .db
        .run(move |conn| crate::db::token::revoke_user_refresh(conn, &user_id, None))
        .await?;
    Ok(())
}
