//! The one error of the product's operations: every refusal and failure an
//! operation can end in, each with its HTTP status and snake_case code. The
//! native API answers it as SPEC's `{"error", "code"}` (`api/error.rs`); the
//! compatibility dialects map it to their own shapes.

use std::collections::BTreeMap;

use http::StatusCode;

use crate::db::import::CopyError;
use crate::db::{DbError, DbFailure};
use crate::engine::StartError;
use crate::llm::LlmError;

/// Everything an operation (and so a handler) can answer instead of success.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
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
    /// 422: the body lacks a required field (named by the type it was read
    /// into, so never a client's string); answered like `Validation`.
    #[error("some fields are invalid")]
    MissingField(String),
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
    /// A refusal with a code of its own for the client to act on (files:
    /// 413 `file_too_large` / `quota_exceeded`, 415 `unsupported_type`,
    /// 409 `file_in_use`, 422 `model_cannot_see_images`).
    #[error("{message}")]
    Refused {
        status: StatusCode,
        code: &'static str,
        message: String,
    },
    /// 502/504: a server daehwa relies on failed or did not answer in time.
    #[error("{message}")]
    Upstream { status: StatusCode, message: String },
    /// 429/502/503/504: the model's provider failed (after the retries); its
    /// status, code and message are [`LlmError`]'s, the one mapping every
    /// dialect answers with. The provider's own text is only in the log.
    #[error("{}", .0.user_message())]
    Llm(LlmError),
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

impl Error {
    pub fn status(&self) -> StatusCode {
        match self {
            Error::BadRequest(_) => StatusCode::BAD_REQUEST,
            Error::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            Error::Forbidden { .. } => StatusCode::FORBIDDEN,
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::Conflict(_) | Error::Busy => StatusCode::CONFLICT,
            Error::Validation(_) | Error::MissingField(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Error::TooManyRequests { .. } | Error::LimitReached { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            Error::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Error::Unsupported(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Error::Upstream { status, .. } | Error::Refused { status, .. } => *status,
            Error::Llm(err) => {
                StatusCode::from_u16(err.status()).unwrap_or(StatusCode::BAD_GATEWAY)
            }
            Error::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Error::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Error::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            Error::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Error::Unavailable | Error::Overloaded | Error::DbBusy => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Error::DiskFull => StatusCode::INSUFFICIENT_STORAGE,
            Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Error::BadRequest(_) => "bad_request",
            Error::Unauthorized { code, .. }
            | Error::Forbidden { code, .. }
            | Error::Refused { code, .. } => code,
            Error::NotFound(_) => "not_found",
            Error::Conflict(_) => "conflict",
            Error::Busy => "generation_in_progress",
            Error::Validation(_) | Error::MissingField(_) => "validation_failed",
            Error::TooManyRequests { .. } => "rate_limited",
            Error::LimitReached { .. } => "daily_limit_reached",
            Error::TooLarge(_) => "payload_too_large",
            Error::Unsupported(_) => "unsupported_media_type",
            Error::Upstream { status, .. } if *status == StatusCode::GATEWAY_TIMEOUT => {
                "upstream_timeout"
            }
            Error::Upstream { .. } => "upstream_failed",
            Error::Llm(err) => err.code(),
            Error::MethodNotAllowed => "method_not_allowed",
            Error::PayloadTooLarge => "payload_too_large",
            Error::BodyTimeout => "request_timeout",
            Error::UnsupportedMediaType => "unsupported_media_type",
            Error::Unavailable => "unavailable",
            Error::Overloaded => "overloaded",
            Error::DbBusy => "busy",
            Error::DiskFull => "disk_full",
            Error::Internal(_) => "internal",
        }
    }
}

impl Error {
    /// 401 with a code the client can act on (`token_expired` → refresh).
    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Error {
        Error::Unauthorized {
            code,
            message: message.into(),
        }
    }

    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Error {
        Error::Forbidden {
            code,
            message: message.into(),
        }
    }

    /// Seconds until a retry may succeed (`Retry-After`), for the errors
    /// that have one.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Error::TooManyRequests { retry_after, .. }
            | Error::LimitReached { retry_after, .. } => Some(*retry_after),
            Error::Overloaded | Error::DbBusy => Some(2),
            Error::Llm(err) => err.retry_after(),
            _ => None,
        }
    }

    /// A refusal with its own status and code (see [`Error::Refused`]).
    pub fn refused(status: StatusCode, code: &'static str, message: impl Into<String>) -> Error {
        Error::Refused {
            status,
            code,
            message: message.into(),
        }
    }

    /// 422 for one field.
    pub fn invalid(field: &'static str, why: impl Into<String>) -> Error {
        Error::Validation(BTreeMap::from([(field, why.into())]))
    }
}

impl From<DbError> for Error {
    fn from(err: DbError) -> Self {
        match err {
            DbError::Conflict(message) => Error::Conflict(message),
            // Said once in the log by the database layer, not per request.
            err if err.is_disk_full() => Error::DiskFull,
            // Lock contention is the client's to retry, never a 500.
            err if err.is_busy() => {
                log::warn!("database write lock still taken after the busy timeout: {err}");
                Error::DbBusy
            }
            // r2d2's only failure is a timeout waiting for a free connection.
            DbError::Pool(cause) => {
                log::warn!("no free database connection: {cause}");
                Error::Overloaded
            }
            other => Error::Internal(other.to_string()),
        }
    }
}

impl From<CopyError> for Error {
    fn from(err: CopyError) -> Self {
        match err {
            CopyError::TooMany(limit) => Error::TooManyRequests {
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
impl From<StartError> for Error {
    fn from(err: StartError) -> Self {
        match err {
            StartError::Busy => Error::Busy,
            StartError::ShuttingDown => Error::Unavailable,
            StartError::TooManyForUser(limit) => Error::TooManyRequests {
                message: format!(
                    "you already have {limit} answers being written, the most at once; \
                     wait for one to finish"
                ),
                retry_after: 5,
            },
            StartError::TooMany(limit) => Error::TooManyRequests {
                message: format!(
                    "the server is writing {limit} answers, the most at once; try again shortly"
                ),
                retry_after: 5,
            },
        }
    }
}

impl From<LlmError> for Error {
    fn from(err: LlmError) -> Self {
        Error::Llm(err)
    }
}

impl DbFailure for Error {
    fn is_disk_full(&self) -> bool {
        matches!(self, Error::DiskFull)
    }
}
