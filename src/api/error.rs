//! The one error type of the API and its JSON shape
//! `{"error": "human readable", "code": "machine_code"}` (SPEC §2), plus the one
//! `recover` that turns warp's own rejections into that shape.

use std::convert::Infallible;

use serde_json::json;
use warp::http::{header, HeaderValue, StatusCode};
use warp::reject::Rejection;
use warp::reply::{Reply, Response};

use crate::db::DbError;

/// Everything a handler can answer instead of success.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request cannot be understood (malformed JSON, bad query).
    #[error("{0}")]
    BadRequest(String),
    /// 404: no such route or resource (also another user's resource).
    #[error("{0}")]
    NotFound(String),
    /// 405: the path exists with other methods.
    #[error("this method is not allowed on this path")]
    MethodNotAllowed,
    /// 413: the body is larger than the limit.
    #[error("the request body is too large")]
    PayloadTooLarge,
    /// 415: the body is not of a type this route takes.
    #[error("unsupported content type: send JSON with Content-Type: application/json")]
    UnsupportedMediaType,
    /// 503: the database cannot be used right now.
    #[error("the database is unavailable")]
    Unavailable,
    /// 500: a bug or an unexpected failure; the cause is logged, not sent.
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad_request",
            ApiError::NotFound(_) => "not_found",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::PayloadTooLarge => "payload_too_large",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::Unavailable => "unavailable",
            ApiError::Internal(_) => "internal",
        }
    }
}

impl From<DbError> for ApiError {
    fn from(err: DbError) -> Self {
        ApiError::Internal(err.to_string())
    }
}

impl Reply for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(cause) = &self {
            log::error!("internal error: {cause}");
        }
        json_response(
            self.status(),
            &json!({ "error": self.to_string(), "code": self.code() }),
        )
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
    use warp::filters::body::BodyDeserializeError;
    use warp::reject::{
        InvalidHeader, InvalidQuery, LengthRequired, MethodNotAllowed, MissingHeader,
        PayloadTooLarge, UnsupportedMediaType,
    };

    let err = if let Some(e) = rejection.find::<BodyDeserializeError>() {
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
    };
    Ok(err.into_response())
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
            ApiError::NotFound("x".into()),
            ApiError::MethodNotAllowed,
            ApiError::PayloadTooLarge,
            ApiError::UnsupportedMediaType,
            ApiError::Unavailable,
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
    fn an_internal_error_does_not_leak_its_cause() {
        let res = ApiError::Internal("secret path /etc/x".into()).into_response();
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            ApiError::Internal("secret".into()).to_string(),
            "internal error"
        );
    }
}
