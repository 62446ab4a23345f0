//! The one error type of the API and its JSON shape
//! `{"error": "human readable", "code": "machine_code"}` (SPEC §2), plus the one
//! `recover` that turns warp's own rejections into that shape.

use std::collections::BTreeMap;
use std::convert::Infallible;

use serde_json::json;
use warp::http::{header, HeaderValue, StatusCode};
use warp::reject::Rejection;
use warp::reply::{Reply, Response};

use crate::db::import::CopyError;
use crate::db::DbError;
use crate::engine::StartError;

/// Everything a handler can answer instead of success.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    /// 400: the request cannot be understood (malformed JSON, bad query).
    #[error("{0}")]
    BadRequest(String),
    /// 401: no credentials, or ones that do not check out. Sent with
    /// `WWW-Authenticate: Bearer`.
    #[error("{message}")]
    Unauthorized { code: &'static str, message: String },
    /// 403: authenticated, but not allowed.
    #[error("{message}")]
    Forbidden { code: &'static str, message: String },
    /// 404: no such route or resource (also another user's resource).
    #[error("{0}")]
    NotFound(String),
    /// 409: the request conflicts with the current state.
    #[error("{0}")]
    Conflict(String),
    /// 409: the conversation is still answering.
    #[error("the conversation is still answering; stop it or wait for the answer")]
    Busy,
    /// 422: well-formed but invalid; `fields` says why, field by field.
    #[error("some fields are invalid")]
    Validation(BTreeMap<&'static str, String>),
    /// 429: too many attempts; retry after this many seconds.
    #[error("{message}")]
    TooManyRequests { message: String, retry_after: u64 },
    /// 429: the plan's daily message limit is used up (checked before the
    /// upstream is called); the body also carries `limit` and `resets_at`.
    #[error("{message}")]
    LimitReached {
        message: String,
        limit: i64,
        resets_at: String,
        retry_after: u64,
    },
    /// 413 with a message saying which limit (uploads).
    #[error("{0}")]
    TooLarge(String),
    /// 415 with a message saying what is accepted (uploads).
    #[error("{0}")]
    Unsupported(String),
    /// 502/504: a server daehwa relies on failed or did not answer in time.
    #[error("{message}")]
    Upstream { status: StatusCode, message: String },
    /// 405: the path exists with other methods.
    #[error("this method is not allowed on this path")]
    MethodNotAllowed,
    /// 413: the body is larger than the limit.
    #[error("the request body is too large")]
    PayloadTooLarge,
    /// 408: the client stopped sending the body before its end.
    #[error("the request body stopped arriving before its end; send it again")]
    BodyTimeout,
    /// 415: the body is not of a type this route takes.
    #[error("unsupported content type: send JSON with Content-Type: application/json")]
    UnsupportedMediaType,
    /// 507: SQLite cannot write, the disk is full.
    #[error(
        "the server's disk is full, so nothing new can be saved until an administrator \
             frees space; everything saved before is safe"
    )]
    DiskFull,
    /// 503: the database cannot be used right now.
    #[error("the database is unavailable")]
    Unavailable,
    /// 503: every database connection is busy; retry shortly (`Retry-After`).
    #[error("the server is busy; try again in a moment")]
    Overloaded,
    /// 503: SQLite's write lock stayed taken past the busy timeout (others'
    /// writes); retry shortly (`Retry-After`). Never a 500.
    #[error("the database is busy with other writes; try again in a moment")]
    DbBusy,
    /// 500: a bug or an unexpected failure; the cause is logged, not sent.
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden { .. } => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) | ApiError::Busy => StatusCode::CONFLICT,
            ApiError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::TooManyRequests { .. } | ApiError::LimitReached { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Unsupported(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Upstream { status, .. } => *status,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unavailable | ApiError::Overloaded | ApiError::DbBusy => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::DiskFull => StatusCode::INSUFFICIENT_STORAGE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad_request",
            ApiError::Unauthorized { code, .. } | ApiError::Forbidden { code, .. } => code,
            ApiError::NotFound(_) => "not_found",
            ApiError::Conflict(_) => "conflict",
            ApiError::Busy => "generation_in_progress",
            ApiError::Validation(_) => "validation_failed",
            ApiError::TooManyRequests { .. } => "rate_limited",
            ApiError::LimitReached { .. } => "daily_limit_reached",
            ApiError::TooLarge(_) => "payload_too_large",
            ApiError::Unsupported(_) => "unsupported_media_type",
            ApiError::Upstream { status, .. } if *status == StatusCode::GATEWAY_TIMEOUT => {
                "upstream_timeout"
            }
            ApiError::Upstream { .. } => "upstream_failed",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::PayloadTooLarge => "payload_too_large",
            ApiError::BodyTimeout => "request_timeout",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::Unavailable => "unavailable",
            ApiError::Overloaded => "overloaded",
            ApiError::DbBusy => "busy",
            ApiError::DiskFull => "disk_full",
            ApiError::Internal(_) => "internal",
        }
    }
}

impl ApiError {
    /// 401 with a code the client can act on (`token_expired` → refresh).
    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::Unauthorized {
            code,
            message: message.into(),
        }
    }

    pub fn forbidden(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::Forbidden {
            code,
            message: message.into(),
        }
    }

    /// 422 for one field.
    pub fn invalid(field: &'static str, why: impl Into<String>) -> ApiError {
        ApiError::Validation(BTreeMap::from([(field, why.into())]))
    }

    /// The JSON reply, built from a reference (rejections hand out `&ApiError`).
    pub fn to_response(&self) -> Response {
        if let ApiError::Internal(cause) = self {
            log::error!("internal error: {cause}");
        }
        let mut body = json!({ "error": self.to_string(), "code": self.code() });
        if let ApiError::Validation(fields) = self {
            body["fields"] = json!(fields);
        }
        if let ApiError::LimitReached {
            limit, resets_at, ..
        } = self
        {
            body["limit"] = json!(limit);
            body["resets_at"] = json!(resets_at);
        }
        let mut res = json_response(self.status(), &body);
        match self {
            ApiError::Unauthorized { .. } => {
                res.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"daehwa\""),
                );
            }
            ApiError::TooManyRequests { retry_after, .. }
            | ApiError::LimitReached { retry_after, .. } => {
                res.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
            }
            ApiError::Overloaded | ApiError::DbBusy => {
                res.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
            }
            _ => {}
        }
        res
    }
}

impl From<DbError> for ApiError {
    fn from(err: DbError) -> Self {
        match err {
            DbError::Conflict(message) => ApiError::Conflict(message),
            // Said once in the log by the database layer, not per request.
            err if err.is_disk_full() => ApiError::DiskFull,
            // Lock contention is the client's to retry, never a 500.
            err if err.is_busy() => {
                log::warn!("database write lock still taken after the busy timeout: {err}");
                ApiError::DbBusy
            }
            // r2d2's only failure is a timeout waiting for a free connection.
            DbError::Pool(cause) => {
                log::warn!("no free database connection: {cause}");
                ApiError::Overloaded
            }
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<CopyError> for ApiError {
    fn from(err: CopyError) -> Self {
        match err {
            CopyError::TooMany(limit) => ApiError::TooManyRequests {
                message: format!(
                    "you already have {limit} big conversations being imported or copied, the \
                     most at once; wait for one to finish"
                ),
                retry_after: 2,
            },
            CopyError::Db(err) => err.into(),
        }
    }
}

/// Why the engine would not start an answer (or admit a gateway call): the
/// same 409 / 429 / 503 for every dialect.
impl From<StartError> for ApiError {
    fn from(err: StartError) -> Self {
        match err {
            StartError::Busy => ApiError::Busy,
            StartError::ShuttingDown => ApiError::Unavailable,
            StartError::TooManyForUser(limit) => ApiError::TooManyRequests {
                message: format!(
                    "you already have {limit} answers being written, the most at once; \
                     wait for one to finish"
                ),
                retry_after: 5,
            },
            StartError::TooMany(limit) => ApiError::TooManyRequests {
                message: format!(
                    "the server is writing {limit} answers, the most at once; try again shortly"
                ),
                retry_after: 5,
            },
        }
    }
}

/// Auth filters reject with an `ApiError`; the API tree's `recover` answers it.
impl warp::reject::Reject for ApiError {}

impl Reply for ApiError {
    fn into_response(self) -> Response {
        self.to_response()
    }
}

/// A JSON response that no cache keeps (API answers are per user and live).
pub fn json_response(status: StatusCode, body: &serde_json::Value) -> Response {
    let mut res = Response::new(body.to_string().into());
    *res.status_mut() = status;
    let headers = res.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// Turns a handler's result into a response: domain errors never become
/// rejections, so they cannot fall through to another route (or the SPA).
pub fn respond<T: Reply>(result: Result<T, ApiError>) -> Response {
    match result {
        Ok(reply) => reply.into_response(),
        Err(err) => err.into_response(),
    }
}

/// The one `recover` of the API trees: every rejection under `/api/` and `/v1/`
/// ends here as JSON, never as warp's text or the web app's HTML.
pub async fn recover(rejection: Rejection) -> Result<Response, Infallible> {
    Ok(from_rejection(&rejection).into_response())
}

/// The [`ApiError`] a rejection stands for (dialects answer it in their own shape).
pub fn from_rejection(rejection: &Rejection) -> ApiError {
    use warp::filters::body::BodyDeserializeError;
    use warp::reject::{
        InvalidHeader, InvalidQuery, LengthRequired, MethodNotAllowed, MissingHeader,
        PayloadTooLarge, UnsupportedMediaType,
    };

    if let Some(err) = rejection.find::<ApiError>() {
        return err.clone();
    }
    if let Some(e) = rejection.find::<BodyDeserializeError>() {
        ApiError::BadRequest(format!("malformed JSON body: {e}"))
    } else if rejection.find::<PayloadTooLarge>().is_some() {
        ApiError::PayloadTooLarge
    } else if rejection.find::<UnsupportedMediaType>().is_some() {
        ApiError::UnsupportedMediaType
    } else if rejection.find::<LengthRequired>().is_some() {
        ApiError::BadRequest("a Content-Length header is required".into())
    } else if let Some(e) = rejection.find::<InvalidQuery>() {
        ApiError::BadRequest(format!("invalid query string: {e}"))
    } else if let Some(e) = rejection.find::<MissingHeader>() {
        ApiError::BadRequest(format!("missing header {}", e.name()))
    } else if let Some(e) = rejection.find::<InvalidHeader>() {
        ApiError::BadRequest(format!("invalid header {}", e.name()))
    } else if rejection.find::<MethodNotAllowed>().is_some() {
        ApiError::MethodNotAllowed
    } else if rejection.is_not_found() {
        ApiError::NotFound("no such API route".into())
    } else {
        ApiError::Internal(format!("unhandled rejection: {rejection:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_unknown_route_is_a_json_404() {
        let res = recover(warp::reject::not_found()).await.unwrap();
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
        assert_eq!(res.headers()[header::CONTENT_TYPE], "application/json");
    }

    #[test]
    fn every_error_has_a_status_and_a_snake_case_code() {
        let all = [
            ApiError::BadRequest("x".into()),
            ApiError::unauthorized("invalid_token", "x"),
            ApiError::forbidden("admin_only", "x"),
            ApiError::Conflict("x".into()),
            ApiError::Busy,
            ApiError::invalid("username", "x"),
            ApiError::TooManyRequests {
                message: "x".into(),
                retry_after: 1,
            },
            ApiError::Upstream {
                status: StatusCode::BAD_GATEWAY,
                message: "x".into(),
            },
            ApiError::NotFound("x".into()),
            ApiError::MethodNotAllowed,
            ApiError::PayloadTooLarge,
            ApiError::BodyTimeout,
            ApiError::UnsupportedMediaType,
            ApiError::Unavailable,
            ApiError::Overloaded,
            ApiError::DbBusy,
            ApiError::Internal("x".into()),
        ];
        for err in all {
            assert!(err.status().is_client_error() || err.status().is_server_error());
            assert!(err
                .code()
                .chars()
                .all(|c| c.is_ascii_lowercase() || c == '_'));
        }
    }

    #[test]
    fn a_pool_with_no_free_connection_is_a_503_with_retry_after() {
        let manager = r2d2_sqlite::SqliteConnectionManager::memory();
        let pool = r2d2::Pool::builder()
            .max_size(1)
            .connection_timeout(std::time::Duration::from_millis(10))
            .build(manager)
            .unwrap();
        let _held = pool.get().unwrap();
        let err = DbError::from(pool.get().unwrap_err());
        let res = ApiError::from(err).into_response();
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(res.headers()[header::RETRY_AFTER], "2");
    }

    #[test]
    fn a_write_lock_still_taken_after_the_busy_timeout_is_a_503_busy_with_retry_after() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.db");
        let holder = rusqlite::Connection::open(&path).unwrap();
        holder
            .execute_batch("CREATE TABLE t (x); BEGIN IMMEDIATE; INSERT INTO t VALUES (1);")
            .unwrap();
        let waiter = rusqlite::Connection::open(&path).unwrap();
        waiter
            .busy_timeout(std::time::Duration::from_millis(10))
            .unwrap();
        let err = DbError::from(waiter.execute("INSERT INTO t VALUES (2)", []).unwrap_err());
        assert!(err.is_busy(), "{err}");
        let res = ApiError::from(err).into_response();
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(res.headers()[header::RETRY_AFTER], "2");
    }

    #[test]
    fn an_internal_error_does_not_leak_its_cause() {
        let res = ApiError::Internal("secret path /etc/x".into()).into_response();
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            ApiError::Internal("secret".into()).to_string(),
            "internal error"
        );
    }
}
