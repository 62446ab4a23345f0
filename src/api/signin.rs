//! Directory sign-in (issue 22): which methods the login page offers, the
//! admin's settings of LDAP / OpenID Connect / the proxy header, sign-in by
//! a trusted reverse proxy's header, and the directory's second look at
//! every refresh of a directory account.
//!
//! The proxy header is believed only from `--trusted-proxies` peers: from
//! anywhere else it is refused, logged (until the address's failures are
//! rate limited, so a flood writes a bounded log) and counted.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use warp::http::{HeaderMap, StatusCode};
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::error::{json_response, respond, ApiError};
use super::filters::{admin, client_ip, json_body, with_state};
use super::openapi::Error;
use crate::app::AppState;
use crate::auth::CurrentUser;
use crate::db::user::{Method, User};
use crate::listen::PeerAddr;
use crate::service::directory::{self, DirectoryIdentity};
use crate::service::signin::{self, All, Flags, Kind};

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(methods, proxy_sign_in, get_settings, put_settings),
    components(schemas(SignInMethods, OidcMethod, SignInSettings, LdapView, OidcView, ProxyView,
        SignInChange)),
    tags((name = "auth"), (name = "admin"))
)]
pub struct Doc;

pub fn routes(state: AppState) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    // GET /api/v1/auth/methods
    let methods = warp::path!("auth" / "methods")
        .and(warp::get())
        .and(with_state(state.clone()))
        .then(methods)
        .map(respond);
    // POST /api/v1/auth/proxy
    let proxy = warp::path!("auth" / "proxy")
        .and(warp::post())
        .and(super::auth::same_site(&state))
        .and(with_state(state.clone()))
        .and(client_ip(&state))
        .and(warp::ext::optional::<PeerAddr>())
        .and(warp::header::headers_cloned())
        .and(super::auth::secure_request())
        .then(proxy_sign_in)
        .then(super::auth::slow_refusal)
        .map(respond);
    // GET /api/v1/admin/sign-in
    let get = warp::path!("admin" / "sign-in")
        .and(warp::get())
        .and(with_state(state.clone()))
        .and(admin(state.clone()))
        .and(warp::header::headers_cloned())
        .and(super::auth::secure_request())
        .then(get_settings)
        .map(respond);
    // PUT /api/v1/admin/sign-in
    let put = warp::path!("admin" / "sign-in")
        .and(warp::put())
        .and(with_state(state.clone()))
        .and(admin(state))
        .and(warp::header::headers_cloned())
        .and(super::auth::secure_request())
        .and(json_body())
        .then(put_settings)
        .map(respond);
    methods.or(proxy).unify().or(get).unify().or(put).unify()
}

/// What the login page offers besides the local form (always there: the
/// first admin can always sign in locally).
#[derive(Serialize, ToSchema)]
pub struct SignInMethods {
    /// Always `true`.
    local: bool,
    /// LDAP / Active Directory: `POST /auth/ldap/login`.
    ldap: bool,
    /// OpenID Connect: a button leading to `GET /auth/oidc/start`.
    oidc: Option<OidcMethod>,
    /// A trusted proxy names the user: `POST /auth/proxy`.
    proxy: bool,
}

#[derive(Serialize, ToSchema)]
pub struct OidcMethod {
    /// "Sign in with {label}".
    label: String,
}

#[utoipa::path(get, path = "/auth/methods", tag = "auth", security(()),
    responses((status = 200, body = SignInMethods), (status = 503, body = Error)))]
async fn methods(state: AppState) -> Result<Response, ApiError> {
    let methods = signin::methods(&state.db, state.signin_flags.clone()).await?;
    Ok(json_response(
        StatusCode::OK,
        &SignInMethods {
            local: true,
            ldap: methods.ldap,
            oidc: methods.oidc.map(|label| OidcMethod { label }),
            proxy: methods.proxy,
        },
    ))
}

/// Longest name a proxy may send, and most groups it may list.
const MAX_PROXY_NAME: usize = 256;
const MAX_PROXY_GROUPS: usize = 200;

/// Who the proxy's headers name, or why not.
fn proxy_identity(
    settings: &signin::ProxySettings,
    headers: &HeaderMap,
) -> Result<Option<DirectoryIdentity>, ApiError> {
    let Some(raw) = headers.get(settings.header.trim()) else {
        return Ok(None);
    };
    let bad = || {
        ApiError::unauthorized(
            "proxy_header_invalid",
            "the proxy's user header is not a usable name",
        )
    };
    let name = raw.to_str().map_err(|_| bad())?.trim();
    if name.is_empty() {
        return Ok(None);
    }
    if name.chars().count() > MAX_PROXY_NAME || name.chars().any(char::is_control) {
        return Err(bad());
    }
    // `CORP\kim` (IIS Windows authentication) or `kim@CORP.EXAMPLE`
    // (Kerberos): the account is the whole name, the username its user part.
    let user_part = name.rsplit('\\').next().unwrap_or(name);
    let user_part = user_part.split('@').next().unwrap_or(user_part);
    let mut groups = Vec::new();
    if !settings.groups_header.trim().is_empty() {
        for value in headers.get_all(settings.groups_header.trim()) {
            let Ok(text) = value.to_str() else { continue };
            groups.extend(
                text.split([',', ';'])
                    .map(str::trim)
                    .filter(|g| !g.is_empty() && g.chars().count() <= 512)
                    .map(str::to_string),
            );
        }
        groups.truncate(MAX_PROXY_GROUPS);
    }
    Ok(Some(DirectoryIdentity {
        issuer: "proxy".into(),
        external_id: name.to_lowercase(),
        username: user_part.to_string(),
        display_name: None,
        email: None,
        groups,
    }))
}

#[utoipa::path(post, path = "/auth/proxy", tag = "auth", security(()),
    description = "Signs in the user a `--trusted-proxies` reverse proxy names in the \
        configured header (IIS Windows authentication, nginx `auth_request`). The header is \
        refused from any other address.",
    responses((status = 200, body = super::auth::Login),
        (status = 401, description = "no user header", body = Error),
        (status = 403, description = "the header came from an untrusted address, or the \
            account may not sign in", body = Error),
        (status = 404, description = "proxy sign-in is off", body = Error),
        (status = 429, body = Error)))]
async fn proxy_sign_in(
    state: AppState,
    ip: String,
    peer: Option<PeerAddr>,
    headers: HeaderMap,
    secure: bool,
) -> Result<Response, ApiError> {
    let flags = state.signin_flags.clone();
    let settings = state
        .db
        .run(move |conn| signin::proxy(conn, &flags))
        .await?;
    if !settings.enabled || state.trusted_proxies.is_empty() {
        return Err(ApiError::NotFound(
            "sign-in by a proxy header is not turned on on this server".into(),
        ));
    }
    let trusted = peer.is_some_and(|p| state.trusted_proxies.trusts(p.0.ip()));
    let limiter = &state.auth.external_by_ip;
    let reservation = limiter
        .reserve(&ip)
        .map_err(|wait| super::auth::too_many("failed sign-ins", wait))?;
    let identity = match proxy_identity(&settings, &headers) {
        Ok(found) => found,
        Err(err) => return Err(err),
    };
    if !trusted {
        if identity.is_some() {
            log::warn!(
                "proxy sign-in header {} sent from {}, which is not a trusted proxy: refused",
                settings.header,
                peer.map_or_else(|| "an unknown address".into(), |p| p.0.ip().to_string())
            );
        }
        return Err(ApiError::forbidden(
            "untrusted_proxy",
            "sign-in by proxy header is accepted only through the configured reverse proxy",
        ));
    }
    let Some(identity) = identity else {
        return Err(ApiError::unauthorized(
            "proxy_header_missing",
            "the reverse proxy did not say who you are",
        ));
    };
    let user = directory::sign_in(
        &state.db,
        identity,
        &signin::policy(&settings.admin_groups, &settings.allowed_groups),
    )
    .await?;
    limiter.release(reservation);
    super::auth::start_session(&state, user, secure).await
}

/// For a directory account, at refresh (before the refresh token is
/// spent): the directory is asked again. `Ok` with the account as the
/// directory now has it (role, name, groups synced); a refusal ends the
/// session (the caller revokes it); 503 leaves it for a later try.
pub async fn recheck(
    state: &AppState,
    user: User,
    peer: Option<PeerAddr>,
    headers: &HeaderMap,
) -> Result<User, ApiError> {
    match user.method() {
        Method::Proxy => {
            let flags = state.signin_flags.clone();
            let settings = state
                .db
                .run(move |conn| signin::proxy(conn, &flags))
                .await?;
            let refused = || {
                ApiError::unauthorized(
                    "directory_refused",
                    "the reverse proxy no longer names this account; sign in again",
                )
            };
            if !settings.enabled || state.trusted_proxies.is_empty() {
                return Err(refused());
            }
            let trusted = peer.is_some_and(|p| state.trusted_proxies.trusts(p.0.ip()));
            let identity = proxy_identity(&settings, headers)
                .ok()
                .flatten()
                .filter(|_| trusted)
                .filter(|id| user.external_id.as_deref() == Some(id.external_id.as_str()))
                .ok_or_else(refused)?;
            directory::sign_in(
                &state.db,
                identity,
                &signin::policy(&settings.admin_groups, &settings.allowed_groups),
            )
            .await
        }
        Method::Ldap => {
            Box::pin(super::ldap::recheck(state, &user)).await?;
            Ok(user)
        }
        _ => Ok(user),
    }
}

/// The admin page's view of the three methods.
#[derive(Serialize, ToSchema)]
pub struct SignInSettings {
    ldap: LdapView,
    oidc: OidcView,
    proxy: ProxyView,
}

/// LDAP / Active Directory settings (the bind password never leaves the
/// server: `bind_password_set` says whether there is one).
#[derive(Serialize, ToSchema)]
pub struct LdapView {
    enabled: bool,
    url: String,
    starttls: bool,
    ca_file: String,
    skip_verify: bool,
    bind_dn: String,
    bind_password_set: bool,
    user_base: String,
    user_filter: String,
    group_base: String,
    username_attribute: String,
    display_name_attribute: String,
    email_attribute: String,
    admin_groups: Vec<String>,
    allowed_groups: Vec<String>,
    timeout_secs: u64,
    /// Fields fixed by a flag or the environment (read-only here).
    locked: Vec<String>,
}

/// OpenID Connect settings (`client_secret_set` instead of the secret).
#[derive(Serialize, ToSchema)]
pub struct OidcView {
    enabled: bool,
    issuer: String,
    client_id: String,
    client_secret_set: bool,
    redirect_url: String,
    /// The redirect URL to register at the provider, as this request would
    /// make it (the `redirect_url` setting when set).
    redirect_url_hint: String,
    scopes: String,
    username_claim: String,
    groups_claim: String,
    admin_groups: Vec<String>,
    allowed_groups: Vec<String>,
    button_label: String,
    locked: Vec<String>,
}

/// Trusted-proxy header settings.
#[derive(Serialize, ToSchema)]
pub struct ProxyView {
    enabled: bool,
    header: String,
    groups_header: String,
    admin_groups: Vec<String>,
    allowed_groups: Vec<String>,
    locked: Vec<String>,
    /// `--trusted-proxies` (set on the command line only).
    trusted_proxies: Vec<String>,
}

fn view(all: All, flags: &Flags, redirect_url_hint: String) -> SignInSettings {
    let All { ldap, oidc, proxy } = all;
    SignInSettings {
        ldap: LdapView {
            enabled: ldap.enabled,
            url: ldap.url,
            starttls: ldap.starttls,
            ca_file: ldap.ca_file,
            skip_verify: ldap.skip_verify,
            bind_dn: ldap.bind_dn,
            bind_password_set: !ldap.bind_password.is_empty(),
            user_base: ldap.user_base,
            user_filter: ldap.user_filter,
            group_base: ldap.group_base,
            username_attribute: ldap.username_attribute,
            display_name_attribute: ldap.display_name_attribute,
            email_attribute: ldap.email_attribute,
            admin_groups: ldap.admin_groups,
            allowed_groups: ldap.allowed_groups,
            timeout_secs: ldap.timeout_secs,
            locked: flags.locked(Kind::Ldap),
        },
        oidc: OidcView {
            enabled: oidc.enabled,
            redirect_url_hint: if oidc.redirect_url.is_empty() {
                redirect_url_hint
            } else {
                oidc.redirect_url.clone()
            },
            issuer: oidc.issuer,
            client_id: oidc.client_id,
            client_secret_set: !oidc.client_secret.is_empty(),
            redirect_url: oidc.redirect_url,
            scopes: oidc.scopes,
            username_claim: oidc.username_claim,
            groups_claim: oidc.groups_claim,
            admin_groups: oidc.admin_groups,
            allowed_groups: oidc.allowed_groups,
            button_label: oidc.button_label,
            locked: flags.locked(Kind::Oidc),
        },
        proxy: ProxyView {
            enabled: proxy.enabled,
            header: proxy.header,
            groups_header: proxy.groups_header,
            admin_groups: proxy.admin_groups,
            allowed_groups: proxy.allowed_groups,
            locked: flags.locked(Kind::Proxy),
            trusted_proxies: flags.trusted_proxies.clone(),
        },
    }
}

/// The OIDC callback URL a request to this server makes, for the admin
/// page's hint: `<scheme>://<host><base>/api/v1/auth/oidc/callback`.
fn callback_hint(state: &AppState, headers: &HeaderMap, secure: bool) -> String {
    let host = headers
        .get(warp::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    let scheme = if secure { "https" } else { "http" };
    format!(
        "{scheme}://{host}{}/api/v1/auth/oidc/callback",
        state.base_path
    )
}

#[utoipa::path(get, path = "/admin/sign-in", tag = "admin",
    responses((status = 200, body = SignInSettings), (status = 401, body = Error),
        (status = 403, body = Error)))]
async fn get_settings(
    state: AppState,
    _admin: CurrentUser,
    headers: HeaderMap,
    secure: bool,
) -> Result<Response, ApiError> {
    let all = signin::read_all(&state.db, state.signin_flags.clone()).await?;
    let hint = callback_hint(&state, &headers, secure);
    Ok(json_response(
        StatusCode::OK,
        &view(all, &state.signin_flags, hint),
    ))
}

/// A change to the sign-in settings: each method's object holds only the
/// fields that change (`""` clears a secret; absent keeps it).
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)] // documents the body, which is read as JSON (service::signin)
pub struct SignInChange {
    #[schema(value_type = Option<Object>)]
    ldap: Option<Value>,
    #[schema(value_type = Option<Object>)]
    oidc: Option<Value>,
    #[schema(value_type = Option<Object>)]
    proxy: Option<Value>,
}

#[utoipa::path(put, path = "/admin/sign-in", tag = "admin", request_body = SignInChange,
    responses((status = 200, body = SignInSettings), (status = 400, body = Error),
        (status = 401, body = Error), (status = 403, body = Error),
        (status = 422, description = "a locked field, or a value that cannot be used; \
            `fields` keyed `ldap.url` and so on", body = Error)))]
async fn put_settings(
    state: AppState,
    admin: CurrentUser,
    headers: HeaderMap,
    secure: bool,
    change: Value,
) -> Result<Response, ApiError> {
    let all = signin::update(&state.db, state.signin_flags.clone(), admin.actor(), change).await?;
    let hint = callback_hint(&state, &headers, secure);
    Ok(json_response(
        StatusCode::OK,
        &view(all, &state.signin_flags, hint),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(
                warp::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        map
    }

    #[test]
    fn a_proxy_names_the_account_and_its_groups() {
        let settings = signin::ProxySettings {
            enabled: true,
            groups_header: "X-Remote-Groups".into(),
            ..Default::default()
        };
        let id = proxy_identity(
            &settings,
            &headers(&[
                ("x-remote-user", "CORP\\Kim"),
                ("x-remote-groups", "AI-Users, Staff;;"),
                ("x-remote-groups", "Research"),
            ]),
        )
        .unwrap()
        .unwrap();
        assert_eq!(id.external_id, "corp\\kim");
        assert_eq!(id.username, "Kim");
        assert_eq!(id.groups, vec!["AI-Users", "Staff", "Research"]);
        let kerberos = proxy_identity(
            &settings,
            &headers(&[("x-remote-user", "lee@CORP.EXAMPLE")]),
        )
        .unwrap()
        .unwrap();
        assert_eq!(kerberos.username, "lee");
        assert!(proxy_identity(&settings, &headers(&[])).unwrap().is_none());
        assert!(
            proxy_identity(&settings, &headers(&[("x-remote-user", "  ")]))
                .unwrap()
                .is_none()
        );
        let long = "a".repeat(MAX_PROXY_NAME + 1);
        assert!(proxy_identity(&settings, &headers(&[("x-remote-user", &long)])).is_err());
    }
}
