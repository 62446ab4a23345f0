//! Safe defaults on every response (SPEC §6): security headers and CORS only
//! for configured origins. (Body limits are the body filters' own, per route,
//! in `src/api/filters.rs`.)
//!
//! The headers go on everything the server answers — the web app, the API,
//! errors and the fallback for paths outside the base path — because a page
//! or an error page framed or sniffed by another site is the attack.

use std::convert::Infallible;
use std::sync::Arc;

use warp::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use warp::reply::Response;
use warp::{Filter, Rejection};

use crate::api::error::ApiError;

/// The web app loads only its own embedded files: no inline or remote script,
/// no framing by any site. Inline styles stay allowed (Vue binds `style`
/// attributes and the Markdown highlighter emits them); they cannot run code.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self' data:; \
     connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; \
     frame-ancestors 'none'";

/// Methods and request headers a cross-origin caller may use (preflight answer).
const CORS_METHODS: &str = "GET, POST, PUT, PATCH, DELETE, OPTIONS";
/// `x-external-token`: a portal page exchanging its identity provider's
/// token (`/auth/exchange`); `last-event-id`: re-joining an answer's stream.
const CORS_HEADERS: &str =
    "authorization, content-type, x-api-key, x-external-token, last-event-id";
/// How long a browser may cache a preflight answer, in seconds.
const CORS_MAX_AGE: &str = "600";

/// The origins allowed to call the API from another site's pages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CorsOrigins(Vec<String>);

impl CorsOrigins {
    /// Origins as `scheme://host[:port]`, compared case-insensitively.
    pub fn new(origins: &[String]) -> Result<CorsOrigins, String> {
        let mut list = Vec::new();
        for raw in origins.iter().map(|o| o.trim()).filter(|o| !o.is_empty()) {
            list.push(parse_origin(raw)?);
        }
        Ok(CorsOrigins(list))
    }

    /// Whether `origin` (the request's `Origin` header) is one of them.
    pub fn allows(&self, origin: &str) -> bool {
        let origin = origin.trim_end_matches('/').to_ascii_lowercase();
        self.0.contains(&origin)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Checks one configured origin: an http(s) scheme, a host, no path.
pub fn parse_origin(raw: &str) -> Result<String, String> {
    let origin = raw.trim_end_matches('/').to_ascii_lowercase();
    let rest = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
        .ok_or_else(|| format!("CORS origin {raw:?} must start with http:// or https://"))?;
    if rest.is_empty() || rest.contains(['/', '?', '#', '*', ' ']) {
        return Err(format!(
            "CORS origin {raw:?} must be scheme://host[:port] with no path or wildcard"
        ));
    }
    Ok(origin)
}

/// What every response gets, decided once per server.
pub struct Policy {
    pub cors: CorsOrigins,
    /// Under TLS, browsers are told to stay on HTTPS.
    pub tls: bool,
}

impl Policy {
    /// Adds the security headers, and the CORS ones when `origin` is allowed.
    pub fn decorate(&self, origin: Option<&str>, mut res: Response) -> Response {
        let headers = res.headers_mut();
        security_headers(headers, self.tls);
        if let Some(origin) = origin.filter(|o| self.cors.allows(o)) {
            allow_origin(headers, origin);
        }
        if !self.cors.is_empty() {
            // The answer depends on the Origin header: caches must keep one per origin.
            headers.append(header::VARY, HeaderValue::from_static("origin"));
        }
        res
    }

    /// The answer to a CORS preflight (`OPTIONS` with an `Origin`): 204 with
    /// the allowed methods for a configured origin, 403 for any other.
    fn preflight(&self, origin: &str) -> Response {
        if !self.cors.allows(origin) {
            return ApiError::forbidden(
                "cors_origin_not_allowed",
                "this origin may not call the API (see --cors-origins)",
            )
            .to_response();
        }
        let mut res = Response::default();
        *res.status_mut() = StatusCode::NO_CONTENT;
        let headers = res.headers_mut();
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static(CORS_METHODS),
        );
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(CORS_HEADERS),
        );
        headers.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static(CORS_MAX_AGE),
        );
        res
    }
}

fn security_headers(headers: &mut HeaderMap, tls: bool) {
    // A route with a stricter policy of its own keeps it (uploaded files
    // are served sandboxed, src/api/files.rs).
    headers
        .entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("strict-origin-when-cross-origin"),
    );
    // For browsers that predate frame-ancestors.
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if tls {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
}

fn allow_origin(headers: &mut HeaderMap, origin: &str) {
    if let Ok(value) = HeaderValue::from_str(origin) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
    }
}

/// Wraps `routes` (already under the base path): preflights are answered
/// first, anything unmatched gets a plain 404/405, and every response is
/// decorated.
pub fn wrap(
    policy: Arc<Policy>,
    routes: impl Filter<Extract = (Response,), Error = Rejection> + Clone + Send + Sync + 'static,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone + Send + Sync + 'static {
    let preflight = {
        let policy = policy.clone();
        // Matched by hand: warp::options() would reject with a 405 that
        // outranks the 404 of a path no route serves.
        warp::method()
            .and(warp::header::optional::<String>("origin"))
            .and(warp::header::optional::<String>(
                "access-control-request-method",
            ))
            .and_then(
                move |method: Method, origin: Option<String>, request: Option<String>| {
                    let policy = policy.clone();
                    async move {
                        match (origin, request) {
                            (Some(origin), Some(_)) if method == Method::OPTIONS => {
                                Ok(policy.preflight(&origin))
                            }
                            _ => Err(warp::reject::not_found()),
                        }
                    }
                },
            )
    };
    let answered = preflight
        .or(routes)
        .unify()
        .recover(|rejection: Rejection| async move { Ok::<_, Infallible>(fallback(&rejection)) })
        .unify();
    warp::header::optional::<String>("origin")
        .and(answered)
        .map(move |origin: Option<String>, res: Response| policy.decorate(origin.as_deref(), res))
}

/// What a request no route took gets (outside the base path, a method the web
/// app does not serve): a short plain answer, never a stack trace.
fn fallback(rejection: &Rejection) -> Response {
    let (status, text) = if rejection.find::<warp::reject::MethodNotAllowed>().is_some() {
        (StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
    } else if rejection.find::<warp::reject::PayloadTooLarge>().is_some() {
        return ApiError::PayloadTooLarge.to_response();
    } else {
        (StatusCode::NOT_FOUND, "not found")
    };
    let mut res = Response::new(text.into());
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    res
}

/// The warning printed at start when the server listens on a network address
/// without TLS (`None` on loopback or with TLS).
pub fn plain_network_warning(host: std::net::IpAddr, tls: bool) -> Option<String> {
    if tls || host.is_loopback() {
        return None;
    }
    Some(format!(
        "listening on {host} without TLS: passwords and tokens cross the network in clear text; \
         use --tls-cert/--tls-key or put an HTTPS reverse proxy (IIS, nginx) in front"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_normalized_and_checked() {
        let cors =
            CorsOrigins::new(&["https://Intranet.example:8443/".into(), " ".into()]).unwrap();
        assert!(cors.allows("https://intranet.example:8443"));
        assert!(!cors.allows("https://intranet.example"));
        assert!(!cors.allows("http://intranet.example:8443"));
        for bad in [
            "intranet.example",
            "https://",
            "https://a/b",
            "*",
            "https://*.a",
        ] {
            assert!(CorsOrigins::new(&[bad.into()]).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_network_address_without_tls_is_warned_about() {
        let any = std::net::IpAddr::from([0, 0, 0, 0]);
        let lo = std::net::IpAddr::from([127, 0, 0, 1]);
        assert!(plain_network_warning(any, false).is_some());
        assert!(plain_network_warning(any, true).is_none());
        assert!(plain_network_warning(lo, false).is_none());
        assert!(plain_network_warning("::1".parse().unwrap(), false).is_none());
    }
}
