//! The embedded web app (`frontend/dist`, built by `build.rs`) and its serving
//! rules: an embedded file is served with its type, `immutable` caching for the
//! hashed files under `assets/`, `no-cache` for everything else, an ETag with
//! 304, and gzip when the client takes it. Any other GET that does not look like
//! a file gets `index.html` (history-mode routing, the seed's IIS web.config);
//! a missing file (under `assets/` or with a web file's extension) is a 404.
//!
//! The app is built once with relative asset URLs and `<base href="/">`; for a
//! `--base-path` the served `index.html` carries `<base href="/prefix/">`, so
//! the same build runs under any prefix.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use flate2::write::GzEncoder;
use percent_encoding::percent_decode_str;
use rust_embed::Embed;
use warp::http::{header, HeaderValue, StatusCode};
use warp::reply::Response;
use warp::{Filter, Rejection};

#[derive(Embed)]
#[folder = "frontend/dist/"]
struct Dist;

/// The placeholder in the built `index.html` that a base path replaces.
const BASE_TAG: &str = r#"<base href="/">"#;
/// Bodies smaller than this are sent as they are; gzip would not pay.
const GZIP_MIN_BYTES: usize = 1024;

/// One file ready to send: bytes, their gzip form when it pays, validators.
struct Asset {
    body: Bytes,
    gzip: Option<Bytes>,
    etag: String,
    content_type: HeaderValue,
    immutable: bool,
}

/// The web app: embedded files, the rewritten `index.html`, a cache of files
/// already prepared (type, ETag, gzip) so each is compressed once.
pub struct Spa {
    index: Option<Arc<Asset>>,
    prepared: Mutex<HashMap<String, Arc<Asset>>>,
}

impl Spa {
    /// Prepares `index.html` for `base_path` (`""` or `/prefix`).
    pub fn new(base_path: &str) -> Spa {
        let index = Dist::get("index.html").map(|file| {
            let html = String::from_utf8_lossy(&file.data);
            if !html.contains(BASE_TAG) {
                log::warn!("the embedded index.html has no {BASE_TAG}: --base-path may break it");
            }
            let html = html.replacen(BASE_TAG, &format!(r#"<base href="{base_path}/">"#), 1);
            let hash = hex(&file.metadata.sha256_hash());
            Arc::new(prepare("index.html", Bytes::from(html), &hash))
        });
        if index.is_none() {
            log::warn!(
                "the web app is not embedded (frontend/dist/index.html missing at build time)"
            );
        }
        Spa {
            index,
            prepared: Mutex::new(HashMap::new()),
        }
    }

    /// Whether the build embedded the web app at all.
    pub fn has_index(&self) -> bool {
        self.index.is_some()
    }

    /// GET/HEAD of anything that is not an API path, below the base path.
    pub fn routes(
        self: Arc<Self>,
    ) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
        warp::get()
            .or(warp::head())
            .unify()
            .and(warp::path::tail())
            .and(warp::header::optional::<String>("accept-encoding"))
            .and(warp::header::optional::<String>("if-none-match"))
            .map(
                move |tail: warp::path::Tail, accept: Option<String>, inm: Option<String>| {
                    self.serve(tail.as_str(), accept.as_deref(), inm.as_deref())
                },
            )
    }

    /// Answers one request path (relative to the base path, still percent-encoded).
    pub fn serve(
        &self,
        raw_path: &str,
        accept_encoding: Option<&str>,
        if_none_match: Option<&str>,
    ) -> Response {
        let Some(path) = clean_path(raw_path) else {
            return plain(StatusCode::NOT_FOUND, "not found");
        };
        let asset = if path.is_empty() || path == "index.html" {
            self.index.clone()
        } else if let Some(asset) = self.embedded(&path) {
            Some(asset)
        } else if looks_like_a_file(&path) {
            return plain(StatusCode::NOT_FOUND, "not found");
        } else {
            self.index.clone()
        };
        match asset {
            Some(asset) => send(&asset, accept_gzip(accept_encoding), if_none_match),
            None => plain(
                StatusCode::SERVICE_UNAVAILABLE,
                "the web app was not built into this binary; the API still works",
            ),
        }
    }

    fn embedded(&self, path: &str) -> Option<Arc<Asset>> {
        let mut prepared = self.prepared.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(asset) = prepared.get(path) {
            return Some(asset.clone());
        }
        let file = Dist::get(path)?;
        let hash = hex(&file.metadata.sha256_hash());
        let asset = Arc::new(prepare(path, Bytes::from(file.data.into_owned()), &hash));
        prepared.insert(path.to_string(), asset.clone());
        Some(asset)
    }
}

/// Decodes the request path and refuses anything that could name a file
/// outside the embedded set: `..` or `.` segments, backslashes, NUL, bad UTF-8.
fn clean_path(raw: &str) -> Option<String> {
    let decoded = percent_decode_str(raw).decode_utf8().ok()?;
    if decoded.contains('\\') || decoded.contains('\0') {
        return None;
    }
    let trimmed = decoded.trim_start_matches('/');
    if trimmed.split('/').any(|seg| seg == ".." || seg == ".") {
        return None;
    }
    Some(trimmed.to_string())
}

fn prepare(path: &str, body: Bytes, hash: &str) -> Asset {
    let mime = mime_guess::from_path(path).first_or_octet_stream();
    let text_like = mime.type_() == "text"
        || matches!(
            mime.essence_str(),
            "application/javascript"
                | "application/json"
                | "image/svg+xml"
                | "application/manifest+json"
                | "application/wasm"
        );
    let content_type = match mime.essence_str() {
        "application/javascript" => "text/javascript; charset=utf-8".to_string(),
        essence if mime.type_() == "text" => format!("{essence}; charset=utf-8"),
        essence => essence.to_string(),
    };
    let gzip = (text_like && body.len() >= GZIP_MIN_BYTES)
        .then(|| gzip(&body))
        .flatten()
        .filter(|gz| gz.len() < body.len());
    Asset {
        body,
        gzip,
        etag: format!("\"{}\"", &hash[..hash.len().min(20)]),
        content_type: HeaderValue::from_str(&content_type)
            .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream")),
        immutable: path.starts_with("assets/"),
    }
}

fn gzip(data: &[u8]) -> Option<Bytes> {
    let mut encoder = GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(data).ok()?;
    encoder.finish().ok().map(Bytes::from)
}

fn send(asset: &Asset, gzip_ok: bool, if_none_match: Option<&str>) -> Response {
    let use_gzip = gzip_ok && asset.gzip.is_some();
    // The gzip form is another representation, so it gets its own ETag.
    let etag = if use_gzip {
        format!("{}-gz\"", asset.etag.trim_end_matches('"'))
    } else {
        asset.etag.clone()
    };
    let not_modified = if_none_match.is_some_and(|inm| {
        inm.split(',')
            .map(|t| t.trim().trim_start_matches("W/"))
            .any(|t| t == "*" || t == etag)
    });
    let mut res = if not_modified {
        let mut res = Response::default();
        *res.status_mut() = StatusCode::NOT_MODIFIED;
        res
    } else if use_gzip {
        let mut res = Response::new(asset.gzip.clone().unwrap_or_default().into());
        res.headers_mut()
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        res
    } else {
        Response::new(asset.body.clone().into())
    };
    let headers = res.headers_mut();
    headers.insert(header::CONTENT_TYPE, asset.content_type.clone());
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if asset.immutable {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        }),
    );
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }
    if asset.gzip.is_some() {
        headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    res
}

/// Whether `Accept-Encoding` admits gzip (`gzip` or `*` with a non-zero q).
fn accept_gzip(accept_encoding: Option<&str>) -> bool {
    accept_encoding.is_some_and(|value| {
        value.split(',').any(|item| {
            let mut parts = item.split(';').map(str::trim);
            let name = parts.next().unwrap_or_default();
            let q_zero = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q == 0.0)
            });
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !q_zero
        })
    })
}

fn plain(status: StatusCode, text: &'static str) -> Response {
    let mut res = Response::new(text.into());
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    res
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether a path that matched no embedded file asked for a file (a 404)
/// rather than a page of the app (its `index.html`): anything under
/// `assets/`, or a last segment ending in a web file's extension. A deep link
/// whose last segment merely has a dot (`/c/user.name`, a title `v1.2`) is a
/// page.
fn looks_like_a_file(path: &str) -> bool {
    const FILE_EXTENSIONS: [&str; 24] = [
        "js", "mjs", "css", "map", "html", "htm", "json", "xml", "svg", "png", "jpg", "jpeg",
        "gif", "webp", "ico", "woff", "woff2", "ttf", "txt", "pdf", "zip", "wasm", "php", "env",
    ];
    if path.starts_with("assets/") {
        return true;
    }
    let last = path.rsplit('/').next().unwrap_or_default();
    last.rsplit_once('.').is_some_and(|(_, ext)| {
        FILE_EXTENSIONS
            .iter()
            .any(|known| ext.eq_ignore_ascii_case(known))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_is_a_file_by_its_folder_or_a_web_files_extension() {
        for file in [
            "assets/x",
            "assets/a.js",
            "favicon.png",
            "c/report.PDF",
            "robots.txt",
        ] {
            assert!(looks_like_a_file(file), "{file}");
        }
        for page in [
            "c/user.name",
            "s/v1.2",
            "settings",
            "c/abc",
            "c/a.b.c",
            "c/trailing.",
        ] {
            assert!(!looks_like_a_file(page), "{page}");
        }
    }

    #[test]
    fn traversal_and_odd_paths_are_refused() {
        for bad in [
            "../x",
            "a/../../x",
            "%2e%2e/x",
            "%2E%2E%2Fx",
            "a%5c..%5cx",
            "a\\b",
            "./x",
            "%00",
            "%ff",
        ] {
            assert_eq!(clean_path(bad), None, "{bad} should be refused");
        }
        assert_eq!(
            clean_path("assets/app-1a2b.js").as_deref(),
            Some("assets/app-1a2b.js")
        );
        assert_eq!(clean_path("c/123").as_deref(), Some("c/123"));
        assert_eq!(clean_path("%EA%B0%95").as_deref(), Some("강"));
    }

    #[test]
    fn gzip_is_accepted_unless_its_quality_is_zero() {
        assert!(accept_gzip(Some("gzip, deflate, br")));
        assert!(accept_gzip(Some("br;q=1.0, gzip;q=0.5")));
        assert!(accept_gzip(Some("*")));
        assert!(!accept_gzip(Some("gzip;q=0")));
        assert!(!accept_gzip(Some("br, deflate")));
        assert!(!accept_gzip(None));
    }

    #[test]
    fn the_web_app_is_embedded_with_a_base_tag_to_rewrite() {
        let index = Dist::get("index.html").expect("frontend/dist/index.html is embedded");
        assert!(String::from_utf8_lossy(&index.data).contains(BASE_TAG));
        let spa = Spa::new("/chat");
        let body = spa.index.as_ref().unwrap().body.clone();
        assert!(String::from_utf8_lossy(&body).contains(r#"<base href="/chat/">"#));
    }
}
