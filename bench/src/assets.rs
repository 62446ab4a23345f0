//! The web app's first load: the JS and CSS that `frontend/dist/index.html`
//! loads directly (entry module, `modulepreload` links, stylesheets), raw and
//! gzip-compressed at the level the server uses (best), plus the total of
//! every file in `dist/assets` (lazy route chunks included).

use std::fs;
use std::io::Write;
use std::path::Path;

use flate2::write::GzEncoder;
use flate2::Compression;
use serde_json::{json, Value};

/// Size of `bytes` gzip-compressed like the server does it.
pub fn gzip_len(bytes: &[u8]) -> u64 {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    let _ = encoder.write_all(bytes);
    encoder.finish().map(|v| v.len() as u64).unwrap_or(0)
}

/// The files `index.html` loads at once, in document order.
pub fn first_load_files(index_html: &str) -> Vec<String> {
    let mut files = Vec::new();
    for tag in index_html.split('<').skip(1) {
        let tag = tag.split('>').next().unwrap_or_default();
        let attr = |name: &str| {
            let key = format!("{name}=\"");
            tag.find(&key).map(|i| {
                let rest = &tag[i + key.len()..];
                rest[..rest.find('"').unwrap_or(rest.len())].to_string()
            })
        };
        let url = if tag.starts_with("script") && attr("type").as_deref() == Some("module") {
            attr("src")
        } else if tag.starts_with("link")
            && matches!(attr("rel").as_deref(), Some("modulepreload" | "stylesheet"))
        {
            attr("href")
        } else {
            None
        };
        if let Some(url) = url {
            files.push(
                url.trim_start_matches("./")
                    .trim_start_matches('/')
                    .to_string(),
            );
        }
    }
    files
}

/// Measures `dist`: the first load file by file, and the whole assets folder.
pub fn measure(dist: &Path) -> Result<Value, String> {
    let index = fs::read_to_string(dist.join("index.html"))
        .map_err(|e| format!("{}: {e}", dist.join("index.html").display()))?;
    let mut files = Vec::new();
    let (mut js, mut js_gz, mut css, mut css_gz) = (0u64, 0u64, 0u64, 0u64);
    for name in first_load_files(&index) {
        let bytes = fs::read(dist.join(&name)).map_err(|e| format!("{name}: {e}"))?;
        let (raw, gz) = (bytes.len() as u64, gzip_len(&bytes));
        if name.ends_with(".css") {
            css += raw;
            css_gz += gz;
        } else {
            js += raw;
            js_gz += gz;
        }
        files.push(json!({ "file": name, "bytes": raw, "gzip_bytes": gz }));
    }
    let (mut all, mut all_gz, mut count) = (0u64, 0u64, 0usize);
    let mut entries: Vec<_> = fs::read_dir(dist.join("assets"))
        .map_err(|e| format!("{}: {e}", dist.join("assets").display()))?
        .filter_map(Result::ok)
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        if let Ok(bytes) = fs::read(entry.path()) {
            all += bytes.len() as u64;
            all_gz += gzip_len(&bytes);
            count += 1;
        }
    }
    Ok(json!({
        "first_load": {
            "js_bytes": js, "js_gzip_bytes": js_gz,
            "css_bytes": css, "css_gzip_bytes": css_gz,
            "files": files,
        },
        "assets_total": { "files": count, "bytes": all, "gzip_bytes": all_gz },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_load_is_the_entry_the_preloads_and_the_styles() {
        let html = r#"<link rel="icon" href="favicon.svg" />
            <script type="module" crossorigin src="./assets/index-a.js"></script>
            <link rel="modulepreload" crossorigin href="./assets/vendor-b.js">
            <link rel="stylesheet" crossorigin href="./assets/index-c.css">"#;
        assert_eq!(
            first_load_files(html),
            [
                "assets/index-a.js",
                "assets/vendor-b.js",
                "assets/index-c.css"
            ]
        );
    }
}
