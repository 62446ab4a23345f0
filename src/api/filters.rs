//! Filters every route shares: the state, JSON bodies with a size limit, the
//! one authentication filter and the admin requirement, list paging.

use std::convert::Infallible;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use warp::{Filter, Rejection};

use super::error::ApiError;
use crate::app::AppState;
use crate::auth::{AuthFailure, Credentials, CurrentUser};
use crate::db::user::Role;

/// Largest JSON body a route reads when the server is not told otherwise
/// (`--body-limit`, SPEC §2).
pub const JSON_BODY_LIMIT: u64 = 1024 * 1024;
/// Largest body of the routes that take big documents: a conversation
/// imported back, a collector item (10 MiB of text) and its form framing.
pub const LARGE_BODY_LIMIT: u64 = 10 * 1024 * 1024 + FORM_FRAMING;
/// Room for a multipart form's boundaries and part headers around a file.
pub const FORM_FRAMING: u64 = 64 * 1024;

/// Hands a clone of the state to a handler.
pub fn with_state(
    state: AppState,
) -> impl Filter<Extract = (AppState,), Error = Infallible> + Clone {
    warp::any().map(move || state.clone())
}

/// How large a route's body may be.
#[derive(Debug, Clone, Copy)]
pub enum Limit {
    /// `--body-limit` (1 MiB unless the operator says otherwise).
    Default,
    /// [`LARGE_BODY_LIMIT`], or `--body-limit` if that is larger.
    Large,
    /// File uploads (`POST /files`): the largest per-file limit an admin
    /// may set, with room for the form's framing; the limit in force is
    /// checked by the route before it reads.
    Upload,
}

impl Limit {
    fn bytes(self, configured: Option<crate::listen::BodyLimit>) -> u64 {
        let default = configured.map_or(JSON_BODY_LIMIT, |l| l.0);
        match self {
            Limit::Default => default,
            Limit::Large => default.max(LARGE_BODY_LIMIT),
            Limit::Upload => crate::service::files::MAX_FILE_LIMIT + FORM_FRAMING,
        }
    }
}

/// The 413 of a body past `limit`, saying the limit.
fn too_large(limit: u64) -> ApiError {
    // The large limit includes room for a form's framing; say the round figure.
    let shown = if limit == LARGE_BODY_LIMIT {
        LARGE_BODY_LIMIT - 64 * 1024
    } else {
        limit
    };
    let size = match shown {
        n if n % (1024 * 1024) == 0 => format!("{} MiB", n / (1024 * 1024)),
        n if n % 1024 == 0 => format!("{} KiB", n / 1024),
        n => format!("{n} bytes"),
    };
    ApiError::TooLarge(format!("the request body may be at most {size}"))
}

/// The body, read as it arrives and refused with 413 the moment it passes
/// the route's limit, whatever its framing: a `Content-Length` above it is
/// refused before a byte is read, and a chunked (or HTTP/2) body is counted
/// as it comes. A client that stops sending mid-body gets 408 (the accept
/// loop times the wait, `src/listen.rs`).
pub fn body_within(limit: Limit) -> impl Filter<Extract = (Bytes,), Error = Rejection> + Clone {
    body_stream_within(limit).and_then(collect)
}

async fn collect(
    body: impl futures_util::Stream<Item = Result<Bytes, ApiError>>,
) -> Result<Bytes, Rejection> {
    let mut body = std::pin::pin!(body);
    let mut out = BytesMut::new();
    while let Some(chunk) = futures_util::StreamExt::next(&mut body).await {
        out.put(chunk.map_err(warp::reject::custom)?);
    }
    Ok(out.freeze())
}

/// The body as a stream of chunks that fails with 413 past the route's
/// limit (multipart uploads parse it as it arrives).
pub fn body_stream_within(
    limit: Limit,
) -> impl Filter<
    Extract = (impl futures_util::Stream<Item = Result<Bytes, ApiError>> + Send + 'static,),
    Error = Rejection,
> + Clone {
    warp::ext::optional::<crate::listen::BodyLimit>()
        .and(warp::header::optional::<u64>("content-length"))
        .and(warp::body::stream())
        .and_then(
            move |configured: Option<crate::listen::BodyLimit>, declared: Option<u64>, body| async move {
                let limit = limit.bytes(configured);
                // Past the limit by its own word: a stream that fails at
                // once, so that the reader answers 413 (a rejection here
                // would let a twin route answer instead).
                let refused = declared.is_some_and(|n| n > limit);
                Ok::<_, Rejection>(counted(body, if refused { 0 } else { limit }, limit))
            },
        )
}

/// `body` as `Bytes` chunks, failing with the 413 of `limit` once more than
/// `allowed` came (or at once when `allowed` is 0 and a body was announced).
fn counted<S, B>(
    body: S,
    allowed: u64,
    limit: u64,
) -> impl futures_util::Stream<Item = Result<Bytes, ApiError>> + Send + 'static
where
    S: futures_util::Stream<Item = Result<B, warp::Error>> + Send + 'static,
    B: Buf,
{
    let refuse_now = (allowed == 0).then(|| Err(too_large(limit)));
    let mut seen = 0u64;
    let counted = futures_util::StreamExt::map(body, move |chunk| {
        let mut chunk = chunk.map_err(|e| body_error(&e))?;
        seen += chunk.remaining() as u64;
        if seen > allowed {
            return Err(too_large(limit));
        }
        Ok(chunk.copy_to_bytes(chunk.remaining()))
    });
    futures_util::StreamExt::chain(futures_util::stream::iter(refuse_now), counted)
}

/// Why a body could not be read: the client stalled (408) or broke it (400).
fn body_error(err: &(dyn std::error::Error + 'static)) -> ApiError {
    let mut cause = Some(err);
    while let Some(err) = cause {
        if err.is::<crate::listen::BodyStalled>() {
            return ApiError::BodyTimeout;
        }
        cause = err.source();
    }
    ApiError::BadRequest(format!("the request body could not be read: {err}"))
}

/// The request's `Content-Type` must be JSON (`application/json` or a
/// `+json` type), else 415. Browsers send a cross-site form or a
/// `text/plain` fetch without asking the server first; a JSON content type
/// they only send after a CORS preflight, which only configured origins
/// pass. So this is also what stops a foreign page from posting to the API
/// with the user's cookie (login CSRF).
pub fn json_content_type() -> impl Filter<Extract = (), Error = Rejection> + Clone {
    warp::header::optional::<String>("content-type")
        .and_then(|content_type: Option<String>| async move {
            if content_type.as_deref().is_some_and(is_json) {
                Ok(())
            } else {
                Err(warp::reject::custom(ApiError::UnsupportedMediaType))
            }
        })
        .untuple_one()
}

/// Whether a `Content-Type` value names JSON.
pub fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || essence
            .strip_prefix("application/")
            .is_some_and(|sub| sub.ends_with("+json"))
}

/// The raw body of a JSON route (it is signed as sent: `/auth/token`).
pub fn raw_body() -> impl Filter<Extract = (Bytes,), Error = Rejection> + Clone {
    json_content_type().and(body_within(Limit::Default))
}

/// A JSON body parsed into `T`; malformed JSON or wrong types are a 400 that
/// says what is wrong, another content type 415, too large a body 413.
pub fn json_body<T: DeserializeOwned + Send>(
) -> impl Filter<Extract = (T,), Error = Rejection> + Clone {
    json_body_within(Limit::Default)
}

/// Like [`json_body`], but an empty body (with any content type, or none)
/// is `T::default()`: for routes whose body is optional, such as a refresh
/// that uses the cookie.
pub fn optional_json_body<T: DeserializeOwned + Default + Send>(
) -> impl Filter<Extract = (T,), Error = Rejection> + Clone {
    warp::header::optional::<String>("content-type")
        .and(body_within(Limit::Default))
        .and_then(|content_type: Option<String>, bytes: Bytes| async move {
            if bytes.iter().all(u8::is_ascii_whitespace) {
                Ok(T::default())
            } else if !content_type.as_deref().is_some_and(is_json) {
                Err(warp::reject::custom(ApiError::UnsupportedMediaType))
            } else {
                parse_json::<T>(&bytes).map_err(warp::reject::custom)
            }
        })
}

/// [`json_body`] with the given limit ([`Limit::Large`] for big documents).
pub fn json_body_within<T: DeserializeOwned + Send>(
    limit: Limit,
) -> impl Filter<Extract = (T,), Error = Rejection> + Clone {
    json_content_type()
        .and(body_within(limit))
        .and_then(
            |bytes: Bytes| async move { parse_json::<T>(&bytes).map_err(warp::reject::custom) },
        )
}

pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::BadRequest("a JSON body is required".into()));
    }
    serde_json::from_slice(bytes).map_err(json_error)
}

/// Why a JSON body could not be read into its type: a missing field is a
/// validation error (422 with `fields`), like every other; malformed JSON and
/// wrong types stay 400.
pub fn json_error(e: serde_json::Error) -> ApiError {
    let text = e.to_string();
    match text
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split_once('`'))
    {
        Some((field, _)) if e.is_data() => ApiError::MissingField(field.to_string()),
        _ => ApiError::BadRequest(format!("malformed JSON body: {text}")),
    }
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
                let current = state
                    .auth
                    .authenticate(&state.db, credentials)
                    .await
                    .map_err(|failure| warp::reject::custom(ApiError::from(failure)))?;
                crate::logging::set_access_user(&current.user.username);
                Ok::<_, Rejection>(current)
            },
        )
}

/// [`authenticated`] for a public route that answers more to a signed-in
/// caller (`GET /models`): no credentials is `None`; credentials that do
/// not check out are still their 401 (so the web app refreshes its token
/// rather than seeing the anonymous answer).
pub fn optional_user(
    state: AppState,
) -> impl Filter<Extract = (Option<CurrentUser>,), Error = Rejection> + Clone {
    warp::header::optional::<String>("authorization")
        .and(warp::header::optional::<String>("x-api-key"))
        .and(with_state(state))
        .and_then(
            |authorization: Option<String>, api_key: Option<String>, state: AppState| async move {
                if authorization.is_none() && api_key.is_none() {
                    return Ok::<_, Rejection>(None);
                }
                let credentials =
                    Credentials::from_headers(authorization.as_deref(), api_key.as_deref());
                let current = state
                    .auth
                    .authenticate(&state.db, credentials)
                    .await
                    .map_err(|failure| warp::reject::custom(ApiError::from(failure)))?;
                crate::logging::set_access_user(&current.user.username);
                Ok(Some(current))
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

    /// Whether a page of `items` items is full: then a next page may follow,
    /// from the last item's key.
    pub fn is_full(&self, items: usize) -> bool {
        items >= self.limit() as usize
    }

    /// The cursor for the next page: the last item's key when the page is full.
    pub fn next_cursor<T>(&self, items: &[T], key: impl Fn(&T) -> String) -> Option<String> {
        self.is_full(items.len())
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

/// 403 `session_required` when the caller used an API key: `what` needs a
/// sign-in session (creating or revoking keys, changing the password).
pub fn session_only(current: &CurrentUser, what: &str) -> Result<(), ApiError> {
    if current.via_api_key {
        return Err(ApiError::forbidden(
            "session_required",
            format!("an API key cannot {what}; sign in with your password to do it"),
        ));
    }
    Ok(())
}
