//! The embedded web app (`frontend/dist`, built by `build.rs`) and its serving
//! rules: an embedded file is served with its type, `immutable` caching for the
//! hashed files under `assets/`, `no-cache` for everything else, an ETag with
//! 304, and gzip when the client takes it. Any other GET that does not look like
//! a file gets `index.html` (history-mode routing, the seed's IIS web.config);
//! a missing file (under `assets/` or with a web file's extension) is a 404.
//!
//! `build.rs` stores the text files gzip-compressed (`<name>.gz` in the
//! embedded folder): a browser gets those bytes as they are, a client without
//! gzip gets them decompressed once (kept while the server runs).
//!
//! The app is built once with relative asset URLs and `<base href="/">`; for a
//! `--base-path` the served `index.html` carries `<base href="/prefix/">`, so
//! the same build runs under any prefix.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::Read;
use std::sync::{Arc, Mutex, OnceLock};

use bytes::Bytes;
use flate2::read::GzDecoder;
use percent_encoding::percent_decode_str;
use rust_embed::Embed;
use warp::http::{header, HeaderValue, StatusCode};
use warp::reply::Response;
use warp::{Filter, Rejection};

/// `frontend/dist` as `build.rs` packed it.
#[derive(Embed)]
#[folder = "$OUT_DIR/web/"]
struct Dist;

/// The placeholder in the built `index.html` that a base path replaces.
const BASE_TAG: &str = r#"<base href="/">"#;
/// One file ready to send: its bytes as stored (plain, or gzip when that
/// pays), the plain form made from the gzip one on first need, validators.
struct Asset {
    plain: OnceLock<Bytes>,
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
        let index = stored("index.html").map(|file| {
            let html = match file.gzip {
                Some(gz) => gunzip(&gz),
                None => file.plain,
            };
            let html = String::from_utf8_lossy(&html);
            if !html.contains(BASE_TAG) {
                log::warn!("the embedded index.html has no {BASE_TAG}: --base-path may break it");
            }
            let html = html.replacen(BASE_TAG, &format!(r#"<base href="{base_path}/">"#), 1);
            // Sent plain: about 1 KiB, and rewritten for the base path (the
            // stored gzip form, if build.rs made one, is not this text).
            let page = Stored {
                plain: Bytes::from(html),
                gzip: None,
                hash: file.hash,
            };
            Arc::new(asset("index.html", page))
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
        let file = stored(path)?;
        let asset = Arc::new(asset(path, file));
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

/// An embedded file as `build.rs` stored it.
struct Stored {
    /// The bytes, when stored plain.
    plain: Bytes,
    /// The gzip form, when stored compressed (`plain` is then empty).
    gzip: Option<Bytes>,
    hash: String,
}

/// The embedded file for `path`: `<path>.gz` (compressed) or `<path>`. A
/// request for the `.gz` name itself finds nothing.
fn stored(path: &str) -> Option<Stored> {
    if path.ends_with(".gz") {
        return None;
    }
    if let Some(file) = Dist::get(&format!("{path}.gz")) {
        return Some(Stored {
            plain: Bytes::new(),
            gzip: Some(static_bytes(file.data)),
            hash: hex(&file.metadata.sha256_hash()),
        });
    }
    let file = Dist::get(path)?;
    Some(Stored {
        plain: static_bytes(file.data),
        gzip: None,
        hash: hex(&file.metadata.sha256_hash()),
    })
}

/// The embedded bytes without a copy (they live in the binary).
fn static_bytes(data: Cow<'static, [u8]>) -> Bytes {
    match data {
        Cow::Borrowed(data) => Bytes::from_static(data),
        Cow::Owned(data) => Bytes::from(data),
    }
}

fn gunzip(gz: &[u8]) -> Bytes {
    let mut plain = Vec::with_capacity(gz.len() * 4);
    match GzDecoder::new(gz).read_to_end(&mut plain) {
        Ok(_) => Bytes::from(plain),
        Err(err) => {
            // build.rs wrote it; a failure here is a broken build.
            log::error!("an embedded file does not decompress: {err}");
            Bytes::new()
        }
    }
}

fn asset(path: &str, file: Stored) -> Asset {
    let hash = file.hash;
    let mime = mime_guess::from_path(path).first_or_octet_stream();
    let content_type = match mime.essence_str() {
        "application/javascript" => "text/javascript; charset=utf-8".to_string(),
        essence if mime.type_() == "text" => format!("{essence}; charset=utf-8"),
        essence => essence.to_string(),
    };
    let plain = OnceLock::new();
    if file.gzip.is_none() {
        let _ = plain.set(file.plain);
    }
    Asset {
        plain,
        gzip: file.gzip,
        etag: format!("\"{}\"", &hash[..hash.len().min(20)]),
        content_type: HeaderValue::from_str(&content_type)
            .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream")),
        immutable: path.starts_with("assets/"),
    }
}

impl Asset {
    /// The plain bytes (decompressed on first need when stored as gzip).
    fn plain(&self) -> Bytes {
        self.plain
            .get_or_init(|| self.gzip.as_deref().map(gunzip).unwrap_or_default())
            .clone()
    }
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
        Response::new(asset.plain().into())
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
        let index = stored("index.html").expect("frontend/dist/index.html is embedded");
        let html = index.gzip.as_deref().map(gunzip).unwrap_or(index.plain);
        assert!(String::from_utf8_lossy(&html).contains(BASE_TAG));
        let spa = Spa::new("/chat");
        let body = spa.index.as_ref().unwrap().plain();
        assert!(String::from_utf8_lossy(&body).contains(r#"<base href="/chat/">"#));
    }

    #[test]
    fn scripts_are_stored_compressed_and_served_either_way() {
        let index = Spa::new("").index.unwrap().plain();
        let html = String::from_utf8_lossy(&index);
        // The entry script the page loads, e.g. `./assets/index-abc.js`.
        let script = html
            .split('"')
            .find(|part| part.contains("assets/") && part.ends_with(".js"))
            .expect("index.html loads a script")
            .trim_start_matches("./")
            .trim_start_matches('/');
        let stored = stored(script).expect("the entry script is embedded");
        let gz = stored.gzip.clone().expect("a script is stored compressed");
        assert!(stored.plain.is_empty());
        assert!(self::stored(&format!("{script}.gz")).is_none());

        let spa = Spa::new("");
        let zipped = spa.serve(script, Some("gzip, br"), None);
        assert_eq!(zipped.headers()[header::CONTENT_ENCODING], "gzip");
        let plain = spa.serve(script, None, None);
        assert!(plain.headers().get(header::CONTENT_ENCODING).is_none());
        assert_eq!(gunzip(&gz), spa.embedded(script).unwrap().plain());
        assert!(gunzip(&gz).len() > gz.len());
    }
}
