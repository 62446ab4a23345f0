//! The native API's answer for the one error of the operations
//! ([`crate::service::Error`], here named `ApiError`): SPEC §2's JSON shape
//! `{"error": "human readable", "code": "machine_code"}`, plus the one
//! `recover` that turns warp's own rejections into that shape.

use std::collections::BTreeMap;
use std::convert::Infallible;

use serde::Serialize;
use utoipa::ToSchema;
use warp::http::{header, HeaderValue, StatusCode};
use warp::reject::Rejection;
use warp::reply::{Reply, Response};

pub use crate::service::Error as ApiError;

/// Every error of the native API: `{"error", "code"}`, plus `fields` for a
/// 422 and `limit` and `resets_at` for a plan's limit (429). `Error` in the
/// OpenAPI document.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Error)]
pub struct ErrorBody {
    /// What went wrong, for a person (English).
    error: String,
    /// A stable machine code (`validation_failed`, `not_found`,
    /// `limit_reached` …): what the web app translates.
    #[schema(value_type = String)]
    code: &'static str,
    /// For a 422: the message of each field at fault.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<BTreeMap<String, String>>)]
    fields: Option<BTreeMap<String, String>>,
    /// For a 422: a stable code for each field at fault (`required`, `empty`,
    /// `too_short`, `too_long`, `length`, `too_many`, `invalid_chars`, `weak`,
    /// `unknown`, `invalid`), what the web app translates.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<BTreeMap<String, String>>)]
    field_codes: Option<BTreeMap<String, &'static str>>,
    /// For a plan's limit: the limit reached.
    #[serde(skip_serializing_if = "Option::is_none")]
    limit: Option<i64>,
    /// For a plan's limit: when it resets (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    resets_at: Option<String>,
    /// For a 429 or 503: seconds until a retry may succeed (also `Retry-After`).
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_after: Option<u64>,
}

/// The stable code of a field's problem, read from the one wording the
/// operations use for each kind ("must not be empty", "must be at most N
/// characters long", "may only use …"); a unit test holds every wording the
/// code base produces to its code.
pub fn field_code(message: &str) -> &'static str {
    let m = message.to_ascii_lowercase();
    if m.contains("is required") {
        "required"
    } else if m.contains("must not be empty") || m.contains("is empty") {
        "empty"
    } else if m.contains("at least one letter") {
        "weak"
    } else if m.contains("may only use") || m.contains("control characters") {
        "invalid_chars"
    } else if m.starts_with("unknown") {
        "unknown"
    } else if m.contains(" to ") && m.contains("characters") {
        "length"
    } else if m.contains("at least") && m.contains("characters") {
        "too_short"
    } else if m.contains("at most") && m.contains("characters") {
        "too_long"
    } else if m.contains("at most") {
        "too_many"
    } else {
        "invalid"
    }
}

impl ApiError {
    /// The JSON reply, built from a reference (rejections hand out `&ApiError`).
    pub fn to_response(&self) -> Response {
        if let ApiError::Internal(cause) = self {
            log::error!("internal error: {cause}");
        }
        let mut body = ErrorBody {
            error: self.to_string(),
            code: self.code(),
            fields: None,
            field_codes: None,
            limit: None,
            resets_at: None,
            retry_after: self.retry_after(),
        };
        if let ApiError::Validation(fields) = self {
            let named = |(k, v): (&&str, &String)| (k.to_string(), v.clone());
            body.fields = Some(fields.iter().map(named).collect());
            let coded = |(k, v): (&&str, &String)| (k.to_string(), field_code(v));
            body.field_codes = Some(fields.iter().map(coded).collect());
        }
        if let ApiError::MissingField(field) = self {
            body.fields = Some(BTreeMap::from([(field.clone(), "is required".into())]));
            body.field_codes = Some(BTreeMap::from([(field.clone(), "required")]));
        }
        if let ApiError::LimitReached {
            limit, resets_at, ..
        } = self
        {
            body.limit = Some(*limit);
            body.resets_at = Some(resets_at.clone());
        }
        let mut res = json_response(self.status(), &body);
        if let ApiError::Unauthorized { .. } = self {
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"daehwa\""),
            );
        }
        if let Some(seconds) = body.retry_after {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        res
    }
}

/// Auth filters reject with an `ApiError`; the API tree's `recover` answers it.
impl warp::reject::Reject for ApiError {}

impl Reply for ApiError {
    fn into_response(self) -> Response {
        self.to_response()
    }
}

/// A JSON response that no cache keeps (API answers are per user and live):
/// a typed reply (`Serialize + ToSchema` struct) or, for error bodies, a value.
pub fn json_response<T: serde::Serialize + ?Sized>(status: StatusCode, body: &T) -> Response {
    // Room for a typical reply at once (a page of a list is tens of KiB):
    // fewer regrowths, each of which copies what was written so far.
    let mut text = Vec::with_capacity(4096);
    match serde_json::to_writer(&mut text, body) {
        Ok(()) => json_bytes_response(status, text),
        Err(e) => {
            log::error!("a reply could not be serialized: {e}");
            let text = r#"{"error":"internal error","code":"internal"}"#;
            json_bytes_response(StatusCode::INTERNAL_SERVER_ERROR, text.as_bytes().to_vec())
        }
    }
}

/// [`json_response`] of a body already written as JSON.
pub fn json_bytes_response(status: StatusCode, text: Vec<u8>) -> Response {
    let mut res = Response::new(text.into());
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

    #[test]
    fn every_wording_of_a_field_problem_has_its_code() {
        let cases = [
            ("is required", "required"),
            (
                "is required (a plan id or name, or null to take the plan off)",
                "required",
            ),
            ("a file field is required", "required"),
            ("must not be empty", "empty"),
            ("the file is empty", "empty"),
            ("must be at least 3 characters long", "too_short"),
            ("must be at least 8 characters long", "too_short"),
            ("must be at most 32 characters long", "too_long"),
            ("must be at most 200 characters", "too_long"),
            ("must be 1 to 64 characters long", "length"),
            ("must be 1 to 200 characters", "length"),
            ("at most 20 tags", "too_many"),
            ("at most 500 models", "too_many"),
            (
                "may only use letters a-z, digits and _ . -",
                "invalid_chars",
            ),
            ("may not contain control characters", "invalid_chars"),
            ("must contain at least one letter and one digit", "weak"),
            ("unknown model nope", "unknown"),
            ("unknown plan", "unknown"),
            ("must be up or down", "invalid"),
            ("must be light, dark or system", "invalid"),
        ];
        for (message, code) in cases {
            assert_eq!(field_code(message), code, "{message}");
        }
    }
    use crate::db::DbError;

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
            ApiError::Llm(crate::llm::LlmError::Timeout),
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
        let err = DbError::from(
            waiter
                .execute_batch("INSERT INTO t VALUES (2)")
                .unwrap_err(),
        );
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
