//! `/auth/oidc/*`: sign-in with an OpenID Connect provider (issue 22). The
//! browser goes to `start`, which sends it to the provider with a new
//! attempt (and a cookie binding the attempt to this browser); the provider
//! sends it back to `callback`, which checks everything (`auth::oidc`),
//! signs the user in through the shared directory step, sets the refresh
//! cookie and sends the browser on to the web app.
//!
//! Both are page navigations, not API calls: `callback` answers every
//! failure with a redirect to `<base>/login?sso_error=<code>` (the reason is
//! in the log, never in the URL).

use std::collections::HashMap;

use bytes::Bytes;
use warp::http::{header, HeaderValue, StatusCode};
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::auth::{secure_request, set_refresh_cookie, REFUSAL_DELAY};
use super::error::{respond, ApiError};
use super::filters::{client_ip, with_state};
use super::openapi::Error;
use crate::app::AppState;
use crate::auth::oidc::OidcError;
use crate::db::user::User;
use crate::service::{accounts, directory, signin};

#[derive(utoipa::OpenApi)]
#[openapi(paths(start, callback), tags((name = "auth")))]
pub struct Doc;

/// The cookie that binds a sign-in attempt to the browser that started it.
pub const BINDING_COOKIE: &str = "daehwa_oidc";
/// Longest `return_to` kept.
const MAX_RETURN_TO: usize = 512;

pub fn routes(state: AppState) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    // GET /api/v1/auth/oidc/start
    let start = warp::path!("auth" / "oidc" / "start")
        .and(warp::get())
        .and(with_state(state.clone()))
        .and(request_origin(&state))
        .and(secure_request())
        .and(warp::query::<HashMap<String, String>>())
        .then(start)
        .map(respond);
    // GET /api/v1/auth/oidc/callback
    let callback = warp::path!("auth" / "oidc" / "callback")
        .and(warp::get())
        .and(with_state(state.clone()))
        .and(client_ip(&state))
        .and(secure_request())
        .and(warp::cookie::optional::<String>(BINDING_COOKIE))
        .and(warp::query::<HashMap<String, String>>())
        .then(callback);
    start.or(callback).unify()
}

/// `<scheme>://<host>` as the browser sees this server: the `Host` header
/// and the listener's scheme, or, from a `--trusted-proxies` peer, its
/// `X-Forwarded-Host` / `X-Forwarded-Proto`. `None` without a usable host.
fn request_origin(
    state: &AppState,
) -> impl Filter<Extract = (Option<String>,), Error = Rejection> + Clone {
    let proxies = state.trusted_proxies.clone();
    let tls = state.oidc.tls();
    warp::host::optional()
        .and(warp::header::optional::<String>("x-forwarded-host"))
        .and(warp::header::optional::<String>("x-forwarded-proto"))
        .and(warp::ext::optional::<crate::listen::PeerAddr>())
        .map(
            move |host: Option<warp::host::Authority>,
                  forwarded_host: Option<String>,
                  forwarded_proto: Option<String>,
                  peer: Option<crate::listen::PeerAddr>| {
                let from_proxy = peer.is_some_and(|p| proxies.trusts(p.0.ip()));
                // The first entry is what the browser asked for.
                let first = |v: Option<String>| {
                    v.filter(|_| from_proxy)
                        .and_then(|v| v.split(',').next().map(|s| s.trim().to_string()))
                        .filter(|s| !s.is_empty())
                };
                let scheme = match first(forwarded_proto).map(|p| p.to_ascii_lowercase()) {
                    Some(p) if p == "https" || p == "http" => p,
                    _ if tls => "https".into(),
                    _ => "http".into(),
                };
                let host = first(forwarded_host).or(host.map(|h| h.as_str().to_string()))?;
                let valid = host.len() <= 255
                    && host
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-.:[]_".contains(c));
                valid.then(|| format!("{scheme}://{host}"))
            },
        )
}

/// `return_to` when it is a path of this site (`/…`, not `//…`, no `\`, no
/// control characters, at most 512 characters), else `/`.
pub fn local_path(return_to: Option<&str>) -> String {
    match return_to {
        Some(p)
            if p.starts_with('/')
                && !p.starts_with("//")
                && !p.contains('\\')
                && !p.chars().any(char::is_control)
                && p.len() <= MAX_RETURN_TO =>
        {
            p.to_string()
        }
        _ => "/".to_string(),
    }
}

async fn settings(state: &AppState) -> Result<signin::OidcSettings, ApiError> {
    let flags = state.signin_flags.clone();
    state
        .db
        .run(move |conn| signin::oidc(conn, &flags))
        .await
        .map_err(ApiError::from)
}

fn redirect(location: &str) -> Response {
    let mut res = Response::new(Bytes::new().into());
    *res.status_mut() = StatusCode::FOUND;
    if let Ok(value) = HeaderValue::from_str(location) {
        res.headers_mut().insert(header::LOCATION, value);
    }
    // Nothing of a sign-in is for a cache.
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// Sets (or, with `None`, clears) the attempt's binding cookie: httpOnly,
/// SameSite=Lax (the provider's redirect back is a top-level navigation
/// from its site), only for the OIDC routes, ten minutes.
fn set_binding_cookie(res: &mut Response, base_path: &str, value: Option<&str>, secure: bool) {
    let (value, max_age) = match value {
        Some(value) => (value, crate::auth::oidc::ATTEMPT_TTL.as_secs()),
        None => ("", 0),
    };
    let cookie = format!(
        "{BINDING_COOKIE}={value}; Path={base_path}/api/v1/auth/oidc; HttpOnly; SameSite=Lax; \
         Max-Age={max_age}{}",
        if secure { "; Secure" } else { "" }
    );
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        res.headers_mut().append(header::SET_COOKIE, value);
    }
}

/// Starts an OpenID Connect sign-in: 302 to the provider's authorization
/// endpoint (code flow, PKCE S256, `state`, `nonce`), with the cookie that
/// binds the attempt to this browser. A page navigation, not an API call.
#[utoipa::path(get, path = "/auth/oidc/start", operation_id = "oidc_start", tag = "auth", security(()),
    params(("return_to" = Option<String>, Query,
        description = "a path of this site to go to once signed in (else `/`)")),
    responses((status = 302, description = "to the identity provider; sets `daehwa_oidc`"),
        (status = 404, description = "OpenID Connect sign-in is off", body = Error),
        (status = 502, description = "the provider's discovery failed", body = Error),
        (status = 503, body = Error)))]
async fn start(
    state: AppState,
    origin: Option<String>,
    secure: bool,
    query: HashMap<String, String>,
) -> Result<Response, ApiError> {
    let settings = settings(&state).await?;
    if !settings.enabled {
        return Err(ApiError::NotFound(
            "OpenID Connect sign-in is not configured on this server".into(),
        ));
    }
    let return_to = local_path(query.get("return_to").map(String::as_str));
    let redirect_uri = match settings.redirect_url.trim() {
        "" => match origin {
            Some(origin) => format!("{origin}{}/api/v1/auth/oidc/callback", state.base_path),
            None => {
                return Err(ApiError::BadRequest(
                    "the request has no usable Host header, and no OIDC redirect URL is set".into(),
                ))
            }
        },
        url => url.to_string(),
    };
    let oidc = state.oidc.clone();
    let started = state
        .auth
        .with_userinfo_slot(move || oidc.begin(&settings, redirect_uri, return_to))
        .await?
        .map_err(|e| {
            log::warn!("OIDC sign-in cannot start: {e}");
            ApiError::Upstream {
                status: StatusCode::BAD_GATEWAY,
                message: "the identity provider could not be reached, or its discovery \
                          document is unusable"
                    .into(),
            }
        })?;
    let mut res = redirect(&started.authorize_url);
    set_binding_cookie(
        &mut res,
        &state.base_path,
        Some(&started.binding),
        secure || state.oidc.tls(),
    );
    Ok(res)
}

/// Why a callback did not sign anyone in: the code for the login page, the
/// reason for the log.
struct Failure {
    code: &'static str,
    reason: String,
    /// No slot for the provider call: not the client's failure.
    busy: bool,
}

impl Failure {
    fn new(code: &'static str, reason: impl Into<String>) -> Failure {
        Failure {
            code,
            reason: reason.into(),
            busy: false,
        }
    }
}

/// A value from the provider, made safe for one log line.
fn loggable(value: &str) -> String {
    value
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "_-.".contains(*c))
        .take(64)
        .collect()
}

/// The provider's redirect back: checks the `state` against the server's
/// attempt (one use, ten minutes) and the browser's cookie, exchanges the
/// code, validates the ID token, signs the user in and 302s to
/// `<base><return_to>` with the refresh cookie. Every failure 302s to
/// `<base>/login?sso_error=<code>`.
#[utoipa::path(get, path = "/auth/oidc/callback", operation_id = "oidc_callback", tag = "auth", security(()),
    params(("code" = Option<String>, Query), ("state" = Option<String>, Query),
        ("error" = Option<String>, Query, description = "the provider's refusal")),
    responses((status = 302, description = "signed in (refresh cookie set) to the page asked \
            for; or to `/login?sso_error=` with `state_mismatch`, `provider_error`, \
            `token_invalid`, `not_in_allowed_group`, `account_disabled`, `pending_approval`, \
            `directory_unavailable` or `too_many_attempts`"),
        (status = 404, description = "OpenID Connect sign-in is off", body = Error)))]
async fn callback(
    state: AppState,
    ip: String,
    secure: bool,
    cookie: Option<String>,
    query: HashMap<String, String>,
) -> Response {
    let secure = secure || state.oidc.tls();
    let settings = match settings(&state).await {
        Ok(settings) if settings.enabled => settings,
        Ok(_) => {
            return ApiError::NotFound(
                "OpenID Connect sign-in is not configured on this server".into(),
            )
            .to_response()
        }
        Err(e) => return e.to_response(),
    };
    let limiter = &state.auth.external_by_ip;
    let reservation = match limiter.reserve(&ip) {
        Ok(reservation) => reservation,
        Err(_) => {
            log::warn!("OIDC sign-in refused: too many failed sign-ins from {ip}");
            tokio::time::sleep(REFUSAL_DELAY).await;
            return refused(&state, "too_many_attempts", secure);
        }
    };
    match complete(&state, &settings, cookie.as_deref(), &query).await {
        Ok((user, return_to)) => {
            limiter.release(reservation);
            match accounts::start_session(&state.db, user.id.clone()).await {
                Ok((_family, refresh_token)) => {
                    log::info!("OIDC sign-in of account {}", user.id);
                    let mut res = redirect(&format!("{}{return_to}", state.base_path));
                    set_refresh_cookie(&mut res, &state.base_path, Some(&refresh_token), secure);
                    set_binding_cookie(&mut res, &state.base_path, None, secure);
                    res
                }
                Err(e) => {
                    log::error!("OIDC sign-in: the session could not be started: {e}");
                    refused(&state, "directory_unavailable", secure)
                }
            }
        }
        Err(failure) => {
            if failure.busy {
                limiter.release(reservation);
            }
            log::warn!(
                "OIDC sign-in refused ({}) from {ip}: {}",
                failure.code,
                failure.reason
            );
            refused(&state, failure.code, secure)
        }
    }
}

/// 302 to the login page with the failure's code; the binding cookie cleared.
fn refused(state: &AppState, code: &str, secure: bool) -> Response {
    let mut res = redirect(&format!("{}/login?sso_error={code}", state.base_path));
    set_binding_cookie(&mut res, &state.base_path, None, secure);
    res
}

async fn complete(
    state: &AppState,
    settings: &signin::OidcSettings,
    cookie: Option<&str>,
    query: &HashMap<String, String>,
) -> Result<(User, String), Failure> {
    let attempt = query
        .get("state")
        .and_then(|s| state.oidc.take(s))
        .ok_or_else(|| Failure::new("state_mismatch", "unknown, used or expired state"))?;
    if !attempt.bound_to(cookie) {
        return Err(Failure::new(
            "state_mismatch",
            if cookie.is_some() {
                "the browser's cookie belongs to another attempt"
            } else {
                "the browser sent no attempt cookie"
            },
        ));
    }
    if let Some(error) = query.get("error") {
        return Err(Failure::new(
            "provider_error",
            format!("the provider answered error={}", loggable(error)),
        ));
    }
    let Some(code) = query.get("code").filter(|c| !c.is_empty()).cloned() else {
        return Err(Failure::new("provider_error", "the provider sent no code"));
    };
    let oidc = state.oidc.clone();
    let finishing = settings.clone();
    let identity = match state
        .auth
        .with_userinfo_slot(move || {
            oidc.finish(&finishing, &attempt, code)
                .map(|i| (i, attempt))
        })
        .await
    {
        Err(_busy) => {
            return Err(Failure {
                code: "provider_error",
                reason: "no slot for a call to the provider within 10 s".into(),
                busy: true,
            })
        }
        Ok(Err(e @ OidcError::Token(_))) => {
            return Err(Failure::new("token_invalid", e.to_string()))
        }
        Ok(Err(e)) => return Err(Failure::new("provider_error", e.to_string())),
        Ok(Ok(done)) => done,
    };
    let (identity, attempt) = identity;
    let user = directory::sign_in(
        &state.db,
        identity,
        &signin::policy(&settings.admin_groups, &settings.allowed_groups),
    )
    .await
    .map_err(|e| {
        let code = match e.code() {
            "not_in_allowed_group" => "not_in_allowed_group",
            "account_disabled" => "account_disabled",
            "pending_approval" => "pending_approval",
            _ => "directory_unavailable",
        };
        Failure::new(code, e.to_string())
    })?;
    Ok((user, attempt.return_to))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_returned_to() {
        assert_eq!(local_path(Some("/c/123?x=1")), "/c/123?x=1");
        assert_eq!(local_path(Some("//evil.example")), "/");
        assert_eq!(local_path(Some("/\\evil.example")), "/");
        assert_eq!(local_path(Some("https://evil.example")), "/");
        assert_eq!(local_path(Some("/a\nb")), "/");
        assert_eq!(local_path(Some(&format!("/{}", "a".repeat(600)))), "/");
        assert_eq!(local_path(None), "/");
    }

    #[test]
    fn provider_text_is_cleaned_for_the_log() {
        assert_eq!(
            loggable("access_denied\r\nfake line"),
            "access_deniedfakeline"
        );
    }
}
