//! Filters every route shares: the state, JSON bodies with a size limit, the
//! one authentication filter and the admin requirement, list paging.

use std::convert::Infallible;

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use warp::{Filter, Rejection};

use super::error::ApiError;
use crate::app::AppState;
use crate::auth::{AuthFailure, Credentials, CurrentUser};
use crate::db::user::Role;

/// Largest JSON body a route reads (SPEC §2).
pub const JSON_BODY_LIMIT: u64 = 1024 * 1024;

/// Hands a clone of the state to a handler.
pub fn with_state(
    state: AppState,
) -> impl Filter<Extract = (AppState,), Error = Infallible> + Clone {
    warp::any().map(move || state.clone())
}

/// The raw body, refused with 413 above the limit before it is read.
pub fn raw_body() -> impl Filter<Extract = (Bytes,), Error = Rejection> + Clone {
    warp::body::content_length_limit(JSON_BODY_LIMIT).and(warp::body::bytes())
}

/// A JSON body parsed into `T`; malformed JSON or wrong types are a 400 that
/// says what is wrong.
pub fn json_body<T: DeserializeOwned + Send>(
) -> impl Filter<Extract = (T,), Error = Rejection> + Clone {
    raw_body().and_then(|bytes: Bytes| async move {
        parse_json::<T>(&bytes).map_err(warp::reject::custom)
    })
}

/// Like [`json_body`], but an empty body is `T::default()` (for routes whose
/// body is optional, such as a refresh that uses the cookie).
pub fn optional_json_body<T: DeserializeOwned + Default + Send>(
) -> impl Filter<Extract = (T,), Error = Rejection> + Clone {
    warp::body::content_length_limit(JSON_BODY_LIMIT)
        .and(warp::body::bytes())
        .or(warp::any().map(Bytes::new))
        .unify()
        .and_then(|bytes: Bytes| async move {
            if bytes.iter().all(u8::is_ascii_whitespace) {
                Ok(T::default())
            } else {
                parse_json::<T>(&bytes).map_err(warp::reject::custom)
            }
        })
}

/// [`json_body`] with a larger limit, for routes that take big texts.
pub fn json_body_limited<T: DeserializeOwned + Send>(
    limit: u64,
) -> impl Filter<Extract = (T,), Error = Rejection> + Clone {
    warp::body::content_length_limit(limit)
        .and(warp::body::bytes())
        .and_then(
            |bytes: Bytes| async move { parse_json::<T>(&bytes).map_err(warp::reject::custom) },
        )
}

pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::BadRequest("a JSON body is required".into()));
    }
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::BadRequest(format!("malformed JSON body: {e}")))
}

/// The client's address: the peer of the TCP connection or, when that peer
/// is one of `--trusted-proxies`, the client its `X-Forwarded-For` names
/// (see `auth::proxy`). Every per-address limit keys on this.
pub fn client_ip(state: &AppState) -> impl Filter<Extract = (String,), Error = Infallible> + Clone {
    let proxies = state.trusted_proxies.clone();
    // The server's own accept loop records the peer (src/listen.rs); warp's
    // remote-address slot is private to warp's server.
    warp::ext::optional::<crate::listen::PeerAddr>()
        .and(warp::header::headers_cloned())
        .map(
            move |peer: Option<crate::listen::PeerAddr>, headers: warp::http::HeaderMap| {
                let Some(peer) = peer else {
                    return "unknown".to_string();
                };
                let forwarded: Vec<&str> = headers
                    .get_all("x-forwarded-for")
                    .iter()
                    // Not text: malformed, so the peer is used.
                    .map(|v| v.to_str().unwrap_or(""))
                    .collect();
                proxies.client_ip(peer.0.ip(), &forwarded).to_string()
            },
        )
}

/// THE authentication filter: every protected route starts with it (after its
/// path and method), and it yields the current user or answers 401/403.
pub fn authenticated(
    state: AppState,
) -> impl Filter<Extract = (CurrentUser,), Error = Rejection> + Clone {
    warp::header::optional::<String>("authorization")
        .and(warp::header::optional::<String>("x-api-key"))
        .and(with_state(state))
        .and_then(
            |authorization: Option<String>, api_key: Option<String>, state: AppState| async move {
                let credentials =
                    Credentials::from_headers(authorization.as_deref(), api_key.as_deref());
                state
                    .auth
                    .authenticate(&state.db, credentials)
                    .await
                    .map_err(|failure| warp::reject::custom(ApiError::from(failure)))
            },
        )
}

/// [`authenticated`] plus the admin role (403 otherwise).
pub fn admin(state: AppState) -> impl Filter<Extract = (CurrentUser,), Error = Rejection> + Clone {
    authenticated(state).and_then(|current: CurrentUser| async move {
        if current.user.role == Role::Admin {
            Ok(current)
        } else {
            Err(warp::reject::custom(ApiError::forbidden(
                "admin_only",
                "this needs an administrator account",
            )))
        }
    })
}

impl From<AuthFailure> for ApiError {
    fn from(failure: AuthFailure) -> Self {
        match failure {
            AuthFailure::Missing => ApiError::unauthorized(
                "unauthenticated",
                "sign in first: send Authorization: Bearer <access token> or X-API-Key",
            ),
            AuthFailure::InvalidToken => ApiError::unauthorized(
                "invalid_token",
                "the access token is not valid (signed out, or the password changed); sign in again",
            ),
            AuthFailure::ExpiredToken => ApiError::unauthorized(
                "token_expired",
                "the access token has expired; refresh it",
            ),
            AuthFailure::InvalidApiKey => ApiError::unauthorized(
                "invalid_api_key",
                "the API key is unknown, revoked or expired",
            ),
            AuthFailure::Disabled => {
                ApiError::forbidden("account_disabled", "this account has been disabled")
            }
            AuthFailure::Pending => ApiError::forbidden(
                "pending_approval",
                "this account is waiting for an administrator's approval",
            ),
            AuthFailure::Db(err) => ApiError::from(err),
        }
    }
}

/// `?limit=&cursor=` of every list (SPEC §2): default 50, at most 200.
#[derive(Debug, Default, Deserialize)]
pub struct Page {
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

impl Page {
    pub const DEFAULT: u32 = 50;
    pub const MAX: u32 = 200;

    pub fn limit(&self) -> u32 {
        self.limit.unwrap_or(Self::DEFAULT).clamp(1, Self::MAX)
    }

    /// The cursor for the next page: the last item's key when the page is full.
    pub fn next_cursor<T>(&self, items: &[T], key: impl Fn(&T) -> String) -> Option<String> {
        (items.len() as u32 >= self.limit())
            .then(|| items.last().map(key))
            .flatten()
    }
}

/// For `Option<Option<T>>` fields: absent → `None`, `null` → `Some(None)`,
/// a value → `Some(Some(v))` (so a PATCH can clear a field).
pub fn double_option<'de, D, T>(de: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(de).map(Some)
}
