//! `/auth/*`: register, sign in, refresh, sign out, who am I, and the two
//! sign-ins through other systems (`/auth/token`, `/auth/exchange`).
//!
//! Refusing is cheap: limits are checked (and attempts reserved, see
//! `auth::ratelimit`) before any password hash or identity-provider call,
//! and a registration that will be refused never hashes. The routes that
//! set or clear the refresh cookie refuse other sites' pages (login CSRF).

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use warp::http::{header, HeaderValue, StatusCode};
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::error::{json_response, respond, ApiError};
use super::filters::{
    authenticated, client_ip, json_body, optional_json_body, raw_body, with_state,
};
use super::openapi::Error;
use super::views::UserView;
use crate::app::AppState;
use crate::auth::external::{self, ExchangeError, ExternalIdentity, SignatureError};
use crate::auth::proxy::same_site_request;
use crate::auth::ratelimit::{Limiter, Reservation};
use crate::auth::tokens::{self, ACCESS_TTL_SECS, REFRESH_TTL_DAYS};
use crate::auth::{Busy, CurrentUser};
use crate::db::token::Rotation;
use crate::db::user::{Role, User};
use crate::service::accounts;

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(setup, register, login, refresh, logout, me),
    components(schemas(AuthSetup, UserView, RegisterBody, LoginBody, RefreshBody, Login)),
    tags((name = "auth"))
)]
pub struct Doc;

/// The two external sign-ins. Unless configured they answer exactly like an
/// unknown route (404 "no such API route"), so the document a server serves
/// lists each only when that server has it (`openapi::document_for`):
/// listing them everywhere would tell every visitor which sign-ins a server
/// could have, and the document promises only routes that exist.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(issue_token, exchange),
    components(schemas(Login, TokenBody)),
    tags((name = "auth"))
)]
pub struct ExternalDoc;

/// The refresh cookie's name.
pub const REFRESH_COOKIE: &str = "daehwa_refresh";

pub fn routes(state: AppState) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    // GET /api/v1/auth/setup
    let setup = warp::path!("auth" / "setup")
        .and(warp::get())
        .and(with_state(state.clone()))
        .then(setup)
        .map(respond);
    // POST /api/v1/auth/register
    let register = warp::path!("auth" / "register")
        .and(warp::post())
        .and(same_site(&state))
        .and(with_state(state.clone()))
        .and(client_ip(&state))
        .and(json_body())
        .then(register)
        .then(slow_refusal)
        .map(respond);
    // POST /api/v1/auth/login
    let login = warp::path!("auth" / "login")
        .and(warp::post())
        .and(same_site(&state))
        .and(with_state(state.clone()))
        .and(client_ip(&state))
        .and(secure_request())
        .and(json_body())
        .then(login)
        .then(slow_refusal)
        .map(respond);
    // POST /api/v1/auth/refresh
    let refresh = warp::path!("auth" / "refresh")
        .and(warp::post())
        .and(same_site(&state))
        .and(with_state(state.clone()))
        .and(warp::cookie::optional::<String>(REFRESH_COOKIE))
        .and(secure_request())
        .and(warp::ext::optional::<crate::listen::PeerAddr>())
        .and(warp::header::headers_cloned())
        .and(optional_json_body())
        .then(refresh)
        .map(respond);
    // POST /api/v1/auth/logout
    let logout = warp::path!("auth" / "logout")
        .and(warp::post())
        .and(same_site(&state))
        .and(with_state(state.clone()))
        .and(warp::cookie::optional::<String>(REFRESH_COOKIE))
        .and(optional_json_body())
        .then(logout)
        .map(respond);
    // GET /api/v1/auth/me
    let me = warp::path!("auth" / "me")
        .and(warp::get())
        .and(authenticated(state.clone()))
        .map(me);
    // POST /api/v1/auth/token
    let token = warp::path!("auth" / "token")
        .and(warp::post())
        .and(same_site(&state))
        .and(with_state(state.clone()))
        .and(client_ip(&state))
        .and(warp::header::optional::<String>("x-signature"))
        .and(warp::header::optional::<String>("x-timestamp"))
        .and(secure_request())
        .and(raw_body())
        .then(issue_token)
        .then(slow_refusal)
        .map(respond);
    // POST /api/v1/auth/exchange
    let exchange = warp::path!("auth" / "exchange")
        .and(warp::post())
        .and(same_site(&state))
        .and(with_state(state.clone()))
        .and(client_ip(&state))
        .and(warp::header::optional::<String>("x-external-token"))
        .and(secure_request())
        .then(exchange)
        .then(slow_refusal)
        .map(respond);
    setup
        .or(register)
        .unify()
        .or(login)
        .unify()
        .or(refresh)
        .unify()
        .or(logout)
        .unify()
        .or(me)
        .unify()
        .or(token)
        .unify()
        .or(exchange)
        .unify()
}

#[utoipa::path(get, path = "/auth/me", tag = "auth",
    responses((status = 200, body = UserView), (status = 401, body = Error),
        (status = 403, body = Error)))]
fn me(current: CurrentUser) -> Response {
    respond(Ok(json_response(
        StatusCode::OK,
        &UserView::from(&current.user),
    )))
}

/// Refuses, with 403 `cross_site_request`, a browser request made by another
/// site's page (its `Origin`, or `Sec-Fetch-Site: cross-site`) unless that
/// site is one of `--cors-origins`: on the routes that set or clear the
/// refresh cookie, such a request could sign the victim's browser into the
/// attacker's account. Our own origin is the `Host` (or, from a trusted
/// proxy, `X-Forwarded-Host`); requests without those headers (curl,
/// scripts) are not a browser acting for another site.
pub(crate) fn same_site(state: &AppState) -> impl Filter<Extract = (), Error = Rejection> + Clone {
    let cors = state.cors.clone();
    let proxies = state.trusted_proxies.clone();
    warp::header::optional::<String>("origin")
        .and(warp::header::optional::<String>("sec-fetch-site"))
        .and(warp::host::optional())
        .and(warp::header::optional::<String>("x-forwarded-host"))
        .and(warp::ext::optional::<crate::listen::PeerAddr>())
        .and_then(
            move |origin: Option<String>,
                  fetch_site: Option<String>,
                  host: Option<warp::host::Authority>,
                  forwarded_host: Option<String>,
                  peer: Option<crate::listen::PeerAddr>| {
                let from_proxy = peer.is_some_and(|p| proxies.trusts(p.0.ip()));
                let mut own = Vec::new();
                if let Some(host) = &host {
                    own.push(host.as_str().to_string());
                }
                if let Some(forwarded) = forwarded_host.filter(|_| from_proxy) {
                    // The first entry is the host the browser asked for.
                    own.extend(forwarded.split(',').next().map(|h| h.trim().to_string()));
                }
                let own: Vec<&str> = own.iter().map(String::as_str).collect();
                let allowed =
                    same_site_request(origin.as_deref(), fetch_site.as_deref(), &own, |o| {
                        cors.allows(o)
                    });
                async move {
                    if allowed {
                        Ok(())
                    } else {
                        Err(warp::reject::custom(ApiError::forbidden(
                            "cross_site_request",
                            "this sign-in request comes from another site's page; only this \
                             server's own pages (and --cors-origins) may make it",
                        )))
                    }
                }
            },
        )
        .untuple_one()
}

/// No hashing or identity-provider slot freed up in time.
impl From<Busy> for ApiError {
    fn from(_: Busy) -> Self {
        ApiError::Overloaded
    }
}

/// How long a sign-in attempt refused by a limit (429) waits before it is
/// answered. Refusing is cheap, but a client that gets its 429 at once can
/// ask again thousands of times a second and take the cores from everyone
/// else; held back, each of its connections asks at most once a second.
/// The wait costs a timer, not a thread.
pub(crate) const REFUSAL_DELAY: std::time::Duration = std::time::Duration::from_secs(1);

pub(crate) async fn slow_refusal(result: Result<Response, ApiError>) -> Result<Response, ApiError> {
    if matches!(result, Err(ApiError::TooManyRequests { .. })) {
        tokio::time::sleep(REFUSAL_DELAY).await;
    }
    result
}

/// 429 with how long to wait.
/// Reserves one failed sign-in for the address and one for the (address,
/// username) pair, or says how long to wait. The per-username limit is per
/// address too, so a stranger elsewhere cannot lock the owner out. Local and
/// directory sign-ins share both limits.
pub(crate) fn reserve_sign_in(
    state: &AppState,
    ip: &str,
    username: &str,
) -> Result<(Reservation, Reservation), ApiError> {
    let user_key = format!("{ip}|{}", username.trim().to_lowercase());
    let by_ip = state
        .auth
        .login_by_ip
        .reserve(ip)
        .map_err(|wait| too_many("failed sign-ins", wait))?;
    match state.auth.login_by_user.reserve(&user_key) {
        Ok(by_user) => Ok((by_ip, by_user)),
        Err(wait) => {
            state.auth.login_by_ip.release(by_ip);
            Err(too_many("failed sign-ins for this account", wait))
        }
    }
}

pub(crate) fn too_many(what: &str, wait: u64) -> ApiError {
    ApiError::TooManyRequests {
        message: format!("too many {what} from this address; try again in {wait} seconds"),
        retry_after: wait,
    }
}

/// Whether the browser reached us over HTTPS (directly or through a proxy
/// that says so), so the refresh cookie can be marked `Secure`.
pub(crate) fn secure_request(
) -> impl Filter<Extract = (bool,), Error = std::convert::Infallible> + Clone {
    warp::header::optional::<String>("x-forwarded-proto")
        .or(warp::any().map(|| None))
        .unify()
        .map(|proto: Option<String>| proto.is_some_and(|p| p.eq_ignore_ascii_case("https")))
}

/// A new account: the first one of a server becomes its admin.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterBody {
    /// 3–32 of `[a-zA-Z0-9_.-]`.
    username: String,
    /// At least 8 characters with a letter and a digit.
    password: String,
    /// The username when absent or blank.
    display_name: Option<String>,
}

/// What the sign-in page needs before anyone signs in.
#[derive(Serialize, ToSchema)]
pub struct AuthSetup {
    /// No account exists yet: the next registration becomes the administrator.
    first_account: bool,
    /// `open`, `approval` or `closed`.
    registration_mode: String,
}

/// Public: whether the server has no account yet (the sign-in page then
/// leads to creating the administrator) and how registration works. Knowing
/// that a server is empty helps nobody but its first user, who takes it.
#[utoipa::path(get, path = "/auth/setup", tag = "auth", security(()),
    responses((status = 200, body = AuthSetup), (status = 503, body = Error)))]
async fn setup(state: AppState) -> Result<Response, ApiError> {
    let setup = accounts::setup(&state.db).await?;
    let body = AuthSetup {
        first_account: setup.first_account,
        registration_mode: setup.registration_mode,
    };
    Ok(json_response(StatusCode::OK, &body))
}

#[utoipa::path(post, path = "/auth/register", tag = "auth", security(()),
    request_body = RegisterBody,
    responses((status = 201, body = UserView), (status = 400, body = Error),
        (status = 403, description = "registration closed, or another site's page", body = Error),
        (status = 409, body = Error), (status = 422, body = Error),
        (status = 429, description = "too many registrations from this address", body = Error)))]
async fn register(state: AppState, ip: String, body: RegisterBody) -> Result<Response, ApiError> {
    let registration =
        accounts::check_registration(&body.username, &body.password, body.display_name.as_deref())?;
    // The cheap refusals first: a closed server or a taken name costs one
    // read, never a password hash.
    accounts::precheck_registration(&state.db, registration.username.clone()).await?;
    let reservation = state
        .auth
        .register_by_ip
        .reserve(&ip)
        .map_err(|wait| too_many("registrations", wait))?;
    let password = body.password;
    let hash = match state
        .auth
        .with_register_hasher(move |h| h.hash(&password))
        .await
    {
        Ok(hash) => hash,
        Err(busy) => {
            state.auth.register_by_ip.release(reservation);
            return Err(busy.into());
        }
    };
    let user = accounts::register(&state.db, registration, hash).await?;
    log::info!("registered account {} ({})", user.id, user.role.as_str());
    Ok(json_response(StatusCode::CREATED, &UserView::from(&user)))
}

#[derive(Deserialize, ToSchema)]
pub struct LoginBody {
    username: String,
    password: String,
}

#[utoipa::path(post, path = "/auth/login", tag = "auth", security(()),
    request_body = LoginBody,
    responses((status = 200, body = Login), (status = 400, body = Error),
        (status = 401, body = Error),
        (status = 403, description = "pending or disabled, or another site's page", body = Error),
        (status = 429, body = Error)))]
async fn login(
    state: AppState,
    ip: String,
    secure: bool,
    body: LoginBody,
) -> Result<Response, ApiError> {
    // Reserved before the hash: a burst of parallel attempts cannot all pass
    // a check that only counts finished ones.
    let (by_ip, by_user) = reserve_sign_in(&state, &ip, &body.username)?;
    // Anything but wrong credentials was not a failed sign-in.
    let not_a_failure = |by_ip: Reservation, by_user: Reservation| {
        state.auth.login_by_ip.release(by_ip);
        state.auth.login_by_user.release(by_user);
    };

    let found = match accounts::find_by_username(&state.db, body.username.trim()).await {
        Ok(found) => found,
        Err(err) => {
            not_a_failure(by_ip, by_user);
            return Err(err);
        }
    };
    let password = body.password;
    let checked = state
        .auth
        .with_hasher(move |hasher| {
            let ok = match found.as_ref().and_then(|u| u.password_hash.as_deref()) {
                Some(hash) => hasher.verify(&password, hash),
                None => {
                    hasher.verify_dummy(&password);
                    false
                }
            };
            (found, ok)
        })
        .await;

    let user = match checked {
        Err(busy) => {
            not_a_failure(by_ip, by_user);
            return Err(busy.into());
        }
        Ok((Some(user), true)) => user,
        Ok(_) => {
            // The reservations stay: they count as failures.
            return Err(ApiError::unauthorized(
                "invalid_credentials",
                "wrong username or password",
            ));
        }
    };
    state.auth.login_by_ip.release(by_ip);
    state.auth.login_by_user.clear(by_user);
    accounts::check_can_sign_in(&user)?;
    start_session(&state, user, secure).await
}

/// A new sign-in session (refresh family) for `user`: the sign-in answer with
/// both tokens, and the refresh cookie.
pub(crate) async fn start_session(
    state: &AppState,
    user: User,
    secure: bool,
) -> Result<Response, ApiError> {
    let (family, refresh_token) = accounts::start_session(&state.db, user.id.clone()).await?;
    Ok(session_response(
        state,
        &user,
        &family,
        &refresh_token,
        secure,
    ))
}

/// A new session's tokens (the refresh token is also set as the cookie).
#[derive(Serialize, ToSchema)]
pub struct Login {
    access_token: String,
    /// Always `bearer`.
    token_type: String,
    expires_in: i64,
    refresh_token: String,
    refresh_expires_in: i64,
    user: UserView,
}

fn session_response(
    state: &AppState,
    user: &User,
    family: &str,
    refresh_token: &str,
    secure: bool,
) -> Response {
    let access_token = state.auth.signer.issue(user, Some(family));
    let mut res = json_response(
        StatusCode::OK,
        &Login {
            access_token,
            token_type: "bearer".into(),
            expires_in: ACCESS_TTL_SECS,
            refresh_token: refresh_token.to_string(),
            refresh_expires_in: REFRESH_TTL_DAYS * 24 * 3600,
            user: UserView::from(user),
        },
    );
    set_refresh_cookie(&mut res, &state.base_path, Some(refresh_token), secure);
    res
}

/// Sets (or, with `None`, clears) the httpOnly, SameSite=Strict refresh cookie,
/// scoped to the auth routes so it is sent nowhere else.
pub(crate) fn set_refresh_cookie(
    res: &mut Response,
    base_path: &str,
    token: Option<&str>,
    secure: bool,
) {
    let (value, max_age) = match token {
        Some(token) => (token, REFRESH_TTL_DAYS * 24 * 3600),
        None => ("", 0),
    };
    let cookie = format!(
        "{REFRESH_COOKIE}={value}; Path={base_path}/api/v1/auth; HttpOnly; SameSite=Strict; Max-Age={max_age}{}",
        if secure { "; Secure" } else { "" }
    );
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        res.headers_mut().append(header::SET_COOKIE, value);
    }
}

#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshBody {
    /// When not sent as the httpOnly cookie.
    refresh_token: Option<String>,
}

#[utoipa::path(post, path = "/auth/refresh", tag = "auth", security(()),
    request_body(content = RefreshBody, description = "optional when the cookie is sent"),
    responses((status = 200, body = Login), (status = 400, body = Error),
        (status = 401, body = Error),
        (status = 403, description = "pending or disabled, or another site's page", body = Error)))]
async fn refresh(
    state: AppState,
    cookie: Option<String>,
    secure: bool,
    peer: Option<crate::listen::PeerAddr>,
    headers: warp::http::HeaderMap,
    body: RefreshBody,
) -> Result<Response, ApiError> {
    let Some(presented) = body.refresh_token.or(cookie).filter(|t| !t.is_empty()) else {
        return Err(ApiError::unauthorized(
            "missing_refresh_token",
            "no refresh token: send the cookie or {\"refresh_token\": ...}",
        ));
    };
    // A directory account is checked with its directory first, before the
    // token is spent: refused, the session ends; the directory unreachable
    // (503), the token stays good for a later try.
    if let Some(owner) = accounts::refresh_owner(&state.db, &presented).await? {
        if owner.directory_managed() {
            if let Err(err) = super::signin::recheck(&state, owner, peer, &headers).await {
                if matches!(
                    err.status(),
                    StatusCode::SERVICE_UNAVAILABLE | StatusCode::GATEWAY_TIMEOUT
                ) {
                    return Err(err);
                }
                accounts::sign_out(&state.db, &presented).await?;
                let mut res = err.to_response();
                set_refresh_cookie(&mut res, &state.base_path, None, secure);
                return Ok(res);
            }
        }
    }
    let new_token = tokens::random_token();
    let outcome = accounts::rotate_refresh(&state.db, &presented, &new_token).await?;

    let failure = match outcome {
        (Rotation::Rotated { family_id, .. }, Some(user)) => {
            if let Err(err) = accounts::check_can_sign_in(&user) {
                err
            } else {
                return Ok(session_response(
                    &state, &user, &family_id, &new_token, secure,
                ));
            }
        }
        (Rotation::Reused, _) => {
            log::warn!("a used refresh token was presented again; its session is revoked");
            ApiError::unauthorized(
                "refresh_token_reused",
                "this refresh token was already used, so its session has been signed out for \
                 safety; sign in again",
            )
        }
        _ => ApiError::unauthorized(
            "invalid_refresh_token",
            "the refresh token is unknown or expired; sign in again",
        ),
    };
    let mut res = failure.to_response();
    set_refresh_cookie(&mut res, &state.base_path, None, secure);
    Ok(res)
}

#[utoipa::path(post, path = "/auth/logout", tag = "auth", security(()),
    request_body(content = RefreshBody, description = "optional when the cookie is sent"),
    responses((status = 204, description = "signed out"), (status = 400, body = Error),
        (status = 403, description = "another site's page", body = Error)))]
async fn logout(
    state: AppState,
    cookie: Option<String>,
    body: RefreshBody,
) -> Result<Response, ApiError> {
    if let Some(token) = body.refresh_token.or(cookie).filter(|t| !t.is_empty()) {
        accounts::sign_out(&state.db, &token).await?;
    }
    let mut res = Response::new(Bytes::new().into());
    *res.status_mut() = StatusCode::NO_CONTENT;
    set_refresh_cookie(&mut res, &state.base_path, None, false);
    Ok(res)
}

/// Who a trusted issuer signs in (seed 001), signed with `X-Signature`.
#[derive(Deserialize, ToSchema)]
pub struct TokenBody {
    /// The issuer's id of the user: a non-empty string or a number.
    #[schema(value_type = Object)]
    user_id: serde_json::Value,
    display_name: Option<String>,
    /// `admin` among them makes the account an admin, else a user.
    roles: Option<Vec<String>>,
}

/// Runs an external sign-in under the per-address limit of failed ones: the
/// attempt is reserved first and released unless it failed (a busy server
/// is not the client's failure).
async fn limited_external_sign_in(
    limiter: &Limiter,
    ip: &str,
    attempt: impl std::future::Future<Output = Result<Response, ApiError>>,
) -> Result<Response, ApiError> {
    let reservation = limiter
        .reserve(ip)
        .map_err(|wait| too_many("failed sign-ins", wait))?;
    let result = attempt.await;
    if matches!(result, Ok(_) | Err(ApiError::Overloaded)) {
        limiter.release(reservation);
    }
    result
}

/// Seed 001's "issue a token for this user id", for a trusted issuer only
/// (404 unless one is configured).
#[utoipa::path(post, path = "/auth/token", tag = "auth", security(()),
    request_body = TokenBody,
    params(("X-Signature" = Option<String>, Header,
            description = "hex HMAC-SHA256 of `{timestamp}.{body}` with the issuer's secret"),
        ("X-Timestamp" = Option<String>, Header, description = "Unix seconds")),
    responses((status = 200, body = Login), (status = 400, body = Error),
        (status = 401, body = Error),
        (status = 403, description = "pending or disabled, or another site's page", body = Error),
        (status = 404, description = "no trusted issuer is configured", body = Error),
        (status = 409, body = Error), (status = 422, body = Error), (status = 429, body = Error)))]
async fn issue_token(
    state: AppState,
    ip: String,
    signature: Option<String>,
    timestamp: Option<String>,
    secure: bool,
    body: Bytes,
) -> Result<Response, ApiError> {
    if state.auth.trusted_issuer_secret.is_none() {
        return Err(ApiError::NotFound("no such API route".into()));
    }
    let limiter = &state.auth.external_by_ip;
    let attempt = signed_sign_in(&state, signature, timestamp, secure, body);
    limited_external_sign_in(limiter, &ip, attempt).await
}

async fn signed_sign_in(
    state: &AppState,
    signature: Option<String>,
    timestamp: Option<String>,
    secure: bool,
    body: Bytes,
) -> Result<Response, ApiError> {
    let Some(secret) = state.auth.trusted_issuer_secret.as_deref() else {
        return Err(ApiError::NotFound("no such API route".into()));
    };
    let now = chrono::Utc::now().timestamp();
    external::check_signature(
        secret,
        signature.as_deref(),
        timestamp.as_deref(),
        &body,
        now,
    )
    .map_err(|e| match e {
        SignatureError::Stale => ApiError::unauthorized(
            "stale_timestamp",
            "X-Timestamp is more than 5 minutes away from the server's clock",
        ),
        SignatureError::Missing => ApiError::unauthorized(
            "missing_signature",
            "X-Signature and X-Timestamp are required",
        ),
        SignatureError::Malformed | SignatureError::Mismatch => ApiError::unauthorized(
            "invalid_signature",
            "X-Signature does not match the body and timestamp",
        ),
    })?;
    // A valid signature works once: within its 5 minutes, a captured request
    // sent again would otherwise sign its attacker in.
    let (Some(signature), Some(ts)) = (signature, timestamp.and_then(|t| t.trim().parse().ok()))
    else {
        return Err(ApiError::Internal(
            "checked signature without its headers".into(),
        ));
    };
    if !state.auth.first_sighting(&signature, ts, now)? {
        return Err(ApiError::unauthorized(
            "replayed_request",
            "this signed request was already used; sign a new one (with a fresh X-Timestamp)",
        ));
    }
    let body: TokenBody = super::filters::parse_json(&body)?;
    let external_id = match &body.user_id {
        serde_json::Value::String(s) if !s.trim().is_empty() => s.trim().to_string(),
        serde_json::Value::Number(n) => n.to_string(),
        _ => {
            return Err(ApiError::invalid(
                "user_id",
                "must be a non-empty string or a number",
            ))
        }
    };
    let role = body.roles.as_ref().map(|roles| {
        if roles.iter().any(|r| r == "admin") {
            Role::Admin
        } else {
            Role::User
        }
    });
    let user = accounts::link_or_create(
        &state.db,
        "token",
        ExternalIdentity {
            id: external_id,
            name: body.display_name,
            username: None,
        },
        role,
        false,
    )
    .await?;
    accounts::check_can_sign_in(&user)?;
    start_session(state, user, secure).await
}

/// Seed 001's token exchange: the userinfo URL vouches for the external
/// token (404 unless one is configured).
#[utoipa::path(post, path = "/auth/exchange", tag = "auth", security(()),
    params(("X-External-Token" = Option<String>, Header,
        description = "the identity provider's access token")),
    responses((status = 200, body = Login), (status = 401, body = Error),
        (status = 403, description = "registration closed, pending or disabled, or another \
            site's page", body = Error),
        (status = 404, description = "no identity provider is configured", body = Error),
        (status = 409, body = Error), (status = 429, body = Error),
        (status = 502, body = Error), (status = 504, body = Error)))]
async fn exchange(
    state: AppState,
    ip: String,
    external_token: Option<String>,
    secure: bool,
) -> Result<Response, ApiError> {
    if state.auth.userinfo_url.is_none() {
        return Err(ApiError::NotFound("no such API route".into()));
    }
    let limiter = &state.auth.external_by_ip;
    let attempt = exchanged_sign_in(&state, external_token, secure);
    limited_external_sign_in(limiter, &ip, attempt).await
}

async fn exchanged_sign_in(
    state: &AppState,
    external_token: Option<String>,
    secure: bool,
) -> Result<Response, ApiError> {
    let Some(url) = state.auth.userinfo_url.clone() else {
        return Err(ApiError::NotFound("no such API route".into()));
    };
    let Some(token) = external_token.filter(|t| !t.trim().is_empty()) else {
        return Err(ApiError::unauthorized(
            "missing_external_token",
            "send the external access token in X-External-Token",
        ));
    };
    let timeout = state.auth.userinfo_timeout;
    let identity = state
        .auth
        .with_userinfo_slot(move || external::fetch_userinfo(&url, token.trim(), timeout))
        .await?
        .map_err(|e| match e {
            ExchangeError::Rejected => ApiError::unauthorized(
                "external_token_rejected",
                "the identity provider did not accept this token",
            ),
            ExchangeError::NoIdentity => ApiError::unauthorized(
                "external_identity_missing",
                "the identity provider accepted this token but did not say whose it is \
                     (no `sub` or `id`); it cannot sign anyone in",
            ),
            ExchangeError::Timeout => ApiError::Upstream {
                status: StatusCode::GATEWAY_TIMEOUT,
                message: "the identity provider did not answer in time".into(),
            },
            ExchangeError::BadAnswer(why) | ExchangeError::Unreachable(why) => {
                log::warn!("token exchange: userinfo failed: {why}");
                ApiError::Upstream {
                    status: StatusCode::BAD_GATEWAY,
                    message: "the identity provider could not be asked about this token".into(),
                }
            }
        })?;
    let user = accounts::link_or_create(&state.db, "exchange", identity, None, true).await?;
    accounts::check_can_sign_in(&user)?;
    start_session(state, user, secure).await
}
