use std::io::Read;

use serde_json::Value;

use crate::helpers::{raw_get, spawn_app, spawn_with};

/// The first hashed JavaScript file that index.html loads.
fn script_path(index_html: &str) -> String {
    let start = index_html
        .find("assets/")
        .expect("index.html loads an asset");
    let end = index_html[start..]
        .find(".js")
        .map(|i| start + i + 3)
        .expect("a .js asset");
    index_html[start..end].to_string()
}

#[tokio::test]
async fn the_root_serves_the_app_shell_uncached() {
    let app = spawn_app().await;
    let res = app.get("/").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/html; charset=utf-8");
    assert_eq!(res.headers()["cache-control"], "no-cache");
    assert!(res.headers().contains_key("etag"));
    let html = res.text().await.unwrap();
    assert!(html.contains(r#"<base href="/">"#), "{html}");
    assert!(html.contains(r#"id="app""#));
}

#[tokio::test]
async fn deep_links_get_index_html_for_history_mode_routing() {
    let app = spawn_app().await;
    let index = app.get("/").await.text().await.unwrap();
    for path in [
        "/c/123",
        "/settings/profile",
        "/s/abc-def",
        "/index.html",
        "/c/%EA%B0%95",
    ] {
        let res = app.get(path).await;
        assert_eq!(res.status(), 200, "{path}");
        assert_eq!(res.headers()["cache-control"], "no-cache", "{path}");
        assert_eq!(res.text().await.unwrap(), index, "{path}");
    }
}

#[tokio::test]
async fn a_hashed_asset_is_immutable_with_its_type_and_answers_304_to_its_etag() {
    let app = spawn_app().await;
    let index = app.get("/").await.text().await.unwrap();
    let script = script_path(&index);

    let res = app.get(&format!("/{script}")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    assert_eq!(
        res.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    let etag = res.headers()["etag"].to_str().unwrap().to_string();
    assert!(!res.bytes().await.unwrap().is_empty());

    let res = app
        .client
        .get(app.url(&format!("/{script}")))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 304);
    assert_eq!(res.headers()["etag"].to_str().unwrap(), etag);
    assert!(res.bytes().await.unwrap().is_empty());

    let res = app
        .client
        .get(app.url(&format!("/{script}")))
        .header("if-none-match", "\"something-else\"")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn index_html_also_answers_304_to_its_etag() {
    let app = spawn_app().await;
    let res = app.get("/c/1").await;
    let etag = res.headers()["etag"].to_str().unwrap().to_string();
    let res = app
        .client
        .get(app.url("/"))
        .header("if-none-match", format!("W/{etag}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 304);
}

#[tokio::test]
async fn assets_are_gzipped_for_clients_that_accept_it_and_are_the_same_bytes() {
    let app = spawn_app().await;
    let index = app.get("/").await.text().await.unwrap();
    let script = format!("/{}", script_path(&index));
    let plain = app.get(&script).await.bytes().await.unwrap();

    let res = app
        .client
        .get(app.url(&script))
        .header("accept-encoding", "gzip, br")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-encoding"], "gzip");
    assert_eq!(res.headers()["vary"], "accept-encoding");
    let gz_etag = res.headers()["etag"].to_str().unwrap().to_string();
    let zipped = res.bytes().await.unwrap();
    assert!(zipped.len() < plain.len());
    let mut unzipped = Vec::new();
    flate2::read::GzDecoder::new(&zipped[..])
        .read_to_end(&mut unzipped)
        .unwrap();
    assert_eq!(unzipped, plain);

    // The gzip form revalidates with its own ETag.
    let res = app
        .client
        .get(app.url(&script))
        .header("accept-encoding", "gzip")
        .header("if-none-match", gz_etag)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 304);

    let res = app
        .client
        .get(app.url(&script))
        .header("accept-encoding", "gzip;q=0, identity")
        .send()
        .await
        .unwrap();
    assert!(res.headers().get("content-encoding").is_none());
}

#[tokio::test]
async fn a_missing_file_is_404_not_the_app_shell() {
    let app = spawn_app().await;
    for path in [
        "/assets/nope-123.js",
        "/favicon-missing.png",
        "/c/report.pdf",
    ] {
        let res = app.get(path).await;
        assert_eq!(res.status(), 404, "{path}");
        assert!(!res.text().await.unwrap().contains("<html"), "{path}");
    }
}

#[tokio::test]
async fn a_deep_link_whose_last_segment_has_a_dot_is_the_app() {
    let app = spawn_app().await;
    for path in ["/c/user.name", "/s/v1.2", "/settings/a.b.c"] {
        let res = app.get(path).await;
        assert_eq!(res.status(), 200, "{path}");
        assert!(res.text().await.unwrap().contains("<html"), "{path}");
    }
}

#[tokio::test]
async fn path_traversal_never_escapes_the_embedded_files() {
    let app = spawn_app().await;
    let attempts = [
        "/../Cargo.toml",
        "/../../../../etc/passwd",
        "/assets/../../Cargo.toml",
        "/%2e%2e/Cargo.toml",
        "/%2E%2E/%2E%2E/etc/passwd",
        "/assets/%2e%2e%2f%2e%2e%2fCargo.toml",
        "/..%2fCargo.toml",
        "/..%5cCargo.toml",
        "/assets%5c..%5c..%5cCargo.toml",
        "/%5c..%5c..%5cetc%5cpasswd",
        "/assets/..\\..\\Cargo.toml",
        "/.%2e/Cargo.toml",
        "/%00/Cargo.toml",
        "//etc/passwd",
    ];
    for path in attempts {
        let (status, text) = raw_get(app.addr, path).await;
        assert!(
            status == 400 || status == 404 || (status == 200 && text.contains(r#"id="app""#)),
            "{path}: unexpected {status}"
        );
        assert!(!text.contains("[package]"), "{path} leaked Cargo.toml");
        assert!(!text.contains("root:"), "{path} leaked /etc/passwd");
    }
}

#[tokio::test]
async fn a_base_path_prefixes_the_web_app_and_the_api() {
    let app = spawn_with(|args| args.base_path = "/chat".into()).await;
    assert!(app.root.ends_with("/chat"));

    let res = app.get("/").await;
    assert_eq!(res.status(), 200);
    let index = res.text().await.unwrap();
    assert!(index.contains(r#"<base href="/chat/">"#), "{index}");
    // Without the trailing slash and on deep links the shell is the same.
    assert_eq!(app.get("").await.text().await.unwrap(), index);
    assert_eq!(app.get("/c/42").await.text().await.unwrap(), index);

    let script = format!("/{}", script_path(&index));
    let res = app.get(&script).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );

    let res = app.get("/api/v1/health").await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    let res = app.get("/api/v1/nope").await;
    assert_eq!(res.status(), 404);
    assert_eq!(res.headers()["content-type"], "application/json");

    // Outside the prefix nothing is served.
    let outside = format!("http://{}", app.addr);
    for path in ["/", "/api/v1/health", &script, "/c/42"] {
        let res = app
            .client
            .get(format!("{outside}{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404, "{path} outside the base path");
    }
}
