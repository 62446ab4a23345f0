//! Files in conversations (issue 20) over real HTTP: uploads and their
//! refusals, the bytes, previews and text read back, files carried by
//! questions and what reaches the upstream (OpenAI's `image_url` data URLs,
//! Anthropic's base64 image blocks, documents' text in the system prompt),
//! the isolation between users, deletion with the conversation, the admin's
//! limits and vision flags, shares, the ZIP export, the collector's document
//! uploads and the gateway's image parts.
//!
//! The test files are made here from byte literals and `flate2` (a PNG of
//! any size, a one-page PDF, a stored-zip DOCX), since the test crate has
//! no image or zip library.

use std::io::{Read, Write};

use base64::Engine as _;
use fake_llm::{Behavior, FakeLlm, Recorded};
use reqwest::multipart::{Form, Part};
use reqwest::Method;
use serde_json::{json, Value};

use crate::client::Nobody;
use crate::helpers::{audit_actions, world, Session, TestApp, World};

// ── Test files ──────────────────────────────────────────────────────────────

/// A valid RGB PNG of `width` × `height` (a gradient, no transparency).
fn png(width: u32, height: u32) -> Vec<u8> {
    let mut raw = Vec::with_capacity(((width * 3 + 1) * height) as usize);
    for y in 0..height {
        raw.push(0); // filter: none
        for x in 0..width {
            raw.extend_from_slice(&[(x % 256) as u8, (y % 256) as u8, 128]);
        }
    }
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    z.write_all(&raw).unwrap();
    let idat = z.finish().unwrap();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    for (kind, data) in [
        (b"IHDR", &ihdr[..]),
        (b"IDAT", &idat[..]),
        (b"IEND", &[][..]),
    ] {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        let mut crc = flate2::Crc::new();
        crc.update(kind);
        crc.update(data);
        out.extend_from_slice(&crc.sum().to_be_bytes());
    }
    out
}

/// Width and height of a PNG (IHDR) or a JPEG (its SOF marker).
fn image_size(bytes: &[u8]) -> (u32, u32) {
    if bytes.starts_with(b"\x89PNG") {
        let be = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
        return (be(16), be(20));
    }
    assert!(bytes.starts_with(&[0xFF, 0xD8]), "neither PNG nor JPEG");
    let mut at = 2;
    while at + 9 < bytes.len() {
        assert_eq!(bytes[at], 0xFF, "JPEG marker expected at {at}");
        let marker = bytes[at + 1];
        let len = u16::from_be_bytes([bytes[at + 2], bytes[at + 3]]) as usize;
        if (0xC0..=0xCF).contains(&marker) && ![0xC4, 0xC8, 0xCC].contains(&marker) {
            let h = u16::from_be_bytes([bytes[at + 5], bytes[at + 6]]) as u32;
            let w = u16::from_be_bytes([bytes[at + 7], bytes[at + 8]]) as u32;
            return (w, h);
        }
        at += 2 + len;
    }
    panic!("no SOF marker in the JPEG");
}

/// A valid one-page PDF with `text` in Helvetica (ASCII, so byte offsets
/// are character offsets), like frontend/e2e/files.spec.ts makes.
fn pdf(text: &str) -> Vec<u8> {
    let content = format!("BT /F1 24 Tf 72 72 Td ({text}) Tj ET");
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 144] /Contents 4 0 R \
         /Resources << /Font << /F1 5 0 R >> >> >>"
            .to_string(),
        format!(
            "<< /Length {} >>\nstream\n{content}\nendstream",
            content.len()
        ),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_string(),
    ];
    let mut pdf = String::from("%PDF-1.4\n");
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.push_str(&format!("{} 0 obj\n{body}\nendobj\n", i + 1));
    }
    let xref = pdf.len();
    pdf.push_str(&format!(
        "xref\n0 {}\n0000000000 65535 f \n",
        objects.len() + 1
    ));
    for offset in offsets {
        pdf.push_str(&format!("{offset:010} 00000 n \n"));
    }
    pdf.push_str(&format!(
        "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
        objects.len() + 1
    ));
    pdf.into_bytes()
}

/// A zip archive of `entries`, stored (not compressed).
fn stored_zip(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, data) in entries {
        let mut crc = flate2::Crc::new();
        crc.update(data);
        let crc = crc.sum();
        let offset = out.len() as u32;
        let common = |v: &mut Vec<u8>| {
            v.extend_from_slice(&20u16.to_le_bytes()); // version needed
            v.extend_from_slice(&0u16.to_le_bytes()); // flags
            v.extend_from_slice(&0u16.to_le_bytes()); // stored
            v.extend_from_slice(&0u16.to_le_bytes()); // time
            v.extend_from_slice(&0x21u16.to_le_bytes()); // 1980-01-01
            v.extend_from_slice(&crc.to_le_bytes());
            v.extend_from_slice(&(data.len() as u32).to_le_bytes());
            v.extend_from_slice(&(data.len() as u32).to_le_bytes());
            v.extend_from_slice(&(name.len() as u16).to_le_bytes());
            v.extend_from_slice(&0u16.to_le_bytes()); // extra
        };
        out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        common(&mut out);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(data);
        central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        central.extend_from_slice(&20u16.to_le_bytes()); // made by
        common(&mut central);
        central.extend_from_slice(&[0; 6]); // comment length, disk, internal attributes
        central.extend_from_slice(&0u32.to_le_bytes()); // external attributes
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name.as_bytes());
    }
    let cd_offset = out.len() as u32;
    out.extend_from_slice(&central);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

/// The entries of a zip archive (stored or deflated), by its central
/// directory.
fn unzip(zip: &[u8]) -> Vec<(String, Vec<u8>)> {
    let u16_at = |at: usize| u16::from_le_bytes([zip[at], zip[at + 1]]) as usize;
    let u32_at = |at: usize| u32::from_le_bytes(zip[at..at + 4].try_into().unwrap()) as usize;
    let eocd = (0..=zip.len().saturating_sub(22))
        .rev()
        .find(|&i| zip[i..].starts_with(&0x0605_4b50u32.to_le_bytes()))
        .expect("an end of central directory record");
    let count = u16_at(eocd + 10);
    let mut at = u32_at(eocd + 16);
    let mut entries = Vec::new();
    for _ in 0..count {
        assert_eq!(u32_at(at), 0x0201_4b50, "central directory entry");
        let method = u16_at(at + 10);
        let packed = u32_at(at + 20);
        let (name_len, extra, comment) = (u16_at(at + 28), u16_at(at + 30), u16_at(at + 32));
        let local = u32_at(at + 42);
        let name = String::from_utf8(zip[at + 46..at + 46 + name_len].to_vec()).unwrap();
        at += 46 + name_len + extra + comment;
        assert_eq!(u32_at(local), 0x0403_4b50, "local header of {name}");
        let start = local + 30 + u16_at(local + 26) + u16_at(local + 28);
        let raw = &zip[start..start + packed];
        let data = match method {
            0 => raw.to_vec(),
            8 => {
                let mut out = Vec::new();
                flate2::read::DeflateDecoder::new(raw)
                    .read_to_end(&mut out)
                    .unwrap();
                out
            }
            other => panic!("{name}: compression method {other}"),
        };
        entries.push((name, data));
    }
    entries
}

/// A minimal Word document: one `<w:p>` per paragraph.
fn docx(paragraphs: &[&str]) -> Vec<u8> {
    let body: String = paragraphs
        .iter()
        .map(|p| format!("<w:p><w:r><w:t>{p}</w:t></w:r></w:p>"))
        .collect();
    let document = format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>{body}</w:body></w:document>"#
    );
    let types = r#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>"#;
    stored_zip(&[
        ("[Content_Types].xml", types.as_bytes()),
        ("word/document.xml", document.as_bytes()),
    ])
}

/// A minimal HWPX (Hangul's zip format): its stored mimetype first, and
/// one `<hp:p>` per paragraph in `Contents/section0.xml`.
fn hwpx(paragraphs: &[&str]) -> Vec<u8> {
    let body: String = paragraphs
        .iter()
        .enumerate()
        .map(|(i, p)| format!(r#"<hp:p id="{i}"><hp:run><hp:t>{p}</hp:t></hp:run></hp:p>"#))
        .collect();
    let section = format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes" ?><hs:sec xmlns:hs="http://www.hancom.co.kr/hwpml/2011/section" xmlns:hp="http://www.hancom.co.kr/hwpml/2011/paragraph">{body}</hs:sec>"#
    );
    stored_zip(&[
        ("mimetype", b"application/hwp+zip"),
        ("Contents/section0.xml", section.as_bytes()),
    ])
}

const CSV: &str = "이름,도시,암호\n민지,서울,파란고양이-7431\nJisoo,Busan,-\n";

// ── Calls ───────────────────────────────────────────────────────────────────

/// `POST /files` with one `file` part; status and JSON body.
async fn upload(app: &TestApp, user: &Session, name: &str, bytes: Vec<u8>) -> (u16, Value) {
    let form = Form::new().part("file", Part::bytes(bytes).file_name(name.to_string()));
    send_form(app, Some(user), form).await
}

/// `POST /files` with any form, as `user` (None: signed out).
async fn send_form(app: &TestApp, user: Option<&Session>, form: Form) -> (u16, Value) {
    let mut req = app.request(Method::POST, "/api/v1/files").multipart(form);
    if let Some(user) = user {
        req = req.bearer_auth(&user.access);
    }
    let res = req.send().await.expect("upload");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// Uploads and asserts 201; the file's JSON.
async fn uploaded(app: &TestApp, user: &Session, name: &str, bytes: Vec<u8>) -> Value {
    let (status, file) = upload(app, user, name, bytes).await;
    assert_eq!(status, 201, "upload of {name}: {file}");
    file
}

fn id(v: &Value) -> String {
    v["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {v}"))
        .to_string()
}

/// `GET /files?query` as `user`.
async fn files(app: &TestApp, user: &Session, query: &str) -> Value {
    let path = if query.is_empty() {
        "/api/v1/files".to_string()
    } else {
        format!("/api/v1/files?{query}")
    };
    let (status, list) = app.call(Method::GET, &path, Some(user), None).await;
    assert_eq!(status, 200, "{list}");
    list
}

/// A raw GET as `user` (None: signed out): the response, for its headers and bytes.
async fn get_raw(app: &TestApp, user: Option<&Session>, path: &str) -> reqwest::Response {
    let mut req = app.request(Method::GET, path);
    if let Some(user) = user {
        req = req.bearer_auth(&user.access);
    }
    req.send().await.expect("request")
}

fn header<'a>(res: &'a reqwest::Response, name: &str) -> &'a str {
    res.headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
}

/// The streamed chat requests the fake received (answers; titles are asked
/// without streaming), oldest first.
fn answers_asked(fake: &FakeLlm) -> Vec<Recorded> {
    fake.requests()
        .into_iter()
        .filter(|r| {
            (r.path.ends_with("/chat/completions") || r.path.ends_with("/messages"))
                && r.body["stream"] == true
        })
        .collect()
}

fn last_answer_asked(fake: &FakeLlm) -> Recorded {
    answers_asked(fake)
        .pop()
        .expect("a streamed request reached the fake")
}

/// The last user message of a recorded request.
fn last_user_message(r: &Recorded) -> Value {
    r.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|m| m["role"] == "user")
        .cloned()
        .expect("a user message")
}

/// The bytes in a `data:<mime>;base64,<data>` URL, and its mime.
fn data_url(url: &str) -> (String, Vec<u8>) {
    let rest = url.strip_prefix("data:").expect("a data URL");
    let (mime, data) = rest.split_once(";base64,").expect("base64 data URL");
    (
        mime.to_string(),
        base64::engine::general_purpose::STANDARD
            .decode(data)
            .unwrap(),
    )
}

async fn preview_bytes(app: &TestApp, user: &Session, file_id: &str) -> Vec<u8> {
    let res = get_raw(app, Some(user), &format!("/api/v1/files/{file_id}/preview")).await;
    assert_eq!(res.status(), 200);
    res.bytes().await.unwrap().to_vec()
}

// ── 1. Uploads ──────────────────────────────────────────────────────────────

#[tokio::test]
async fn images_and_documents_upload_with_their_shapes_read_back_and_list_newest_first() {
    let w = world().await;
    let app = &w.app;
    let (_, empty) = app
        .call(Method::GET, "/api/v1/files", Some(&w.user), None)
        .await;
    assert_eq!(empty["files"], json!([]));
    assert_eq!(empty["used_bytes"], 0);
    assert_eq!(empty["quota_bytes"], 1024u64 * 1024 * 1024);
    assert_eq!(empty["max_file_bytes"], 20 * 1024 * 1024);

    // A wide image: kept as sent, scaled for models to 1568 px on its long side.
    let wide = png(2000, 100);
    let image = uploaded(app, &w.user, "chart.png", wide.clone()).await;
    assert_eq!(image["name"], "chart.png");
    assert_eq!(image["kind"], "image");
    assert_eq!(image["mime"], "image/png");
    assert_eq!(image["size"], wide.len());
    assert_eq!(
        (image["width"].as_u64(), image["height"].as_u64()),
        (Some(2000), Some(100))
    );
    assert_eq!(image["extract_error"], Value::Null);
    assert!(
        chrono::DateTime::parse_from_rfc3339(image["created_at"].as_str().unwrap()).is_ok(),
        "{image}"
    );
    assert_eq!(id(&image).len(), 36, "a UUID: {image}");

    let csv = uploaded(app, &w.user, "people.csv", CSV.as_bytes().to_vec()).await;
    assert_eq!(csv["kind"], "document");
    assert!(
        csv["mime"].as_str().unwrap().starts_with("text/csv"),
        "{csv}"
    );
    assert_eq!(csv["size"], CSV.len());
    assert_eq!(
        (csv["width"].clone(), csv["height"].clone()),
        (Value::Null, Value::Null)
    );
    assert_eq!(csv["extract_error"], Value::Null);
    assert!(csv["text_chars"].as_u64().unwrap() > 0, "{csv}");

    let hello = pdf("Hello PDF");
    let doc = uploaded(app, &w.user, "hello.pdf", hello.clone()).await;
    assert_eq!(doc["kind"], "document");
    assert_eq!(doc["mime"], "application/pdf");
    assert_eq!(doc["size"], hello.len());
    assert_eq!(doc["extract_error"], Value::Null, "{doc}");
    assert!(
        doc["text_chars"].as_u64().unwrap() >= "Hello PDF".len() as u64,
        "{doc}"
    );

    let notes = "# 메모\n회의는 목요일 세 시.\n";
    let txt = uploaded(app, &w.user, "보고서 메모.md", notes.as_bytes().to_vec()).await;
    assert_eq!(txt["kind"], "document");
    assert_eq!(txt["name"], "보고서 메모.md");

    // The texts, and their lengths counted in characters (not bytes).
    for (file, must_have) in [
        (&csv, "파란고양이-7431"),
        (&doc, "Hello PDF"),
        (&txt, "회의는 목요일"),
    ] {
        let (status, text) = app
            .call(
                Method::GET,
                &format!("/api/v1/files/{}/text", id(file)),
                Some(&w.user),
                None,
            )
            .await;
        assert_eq!(status, 200, "{text}");
        let body = text["text"].as_str().unwrap();
        assert!(body.contains(must_have), "{body:?}");
        assert_eq!(text["truncated"], false);
        assert_eq!(
            file["text_chars"].as_u64().unwrap(),
            body.chars().count() as u64,
            "text_chars of {} counts the characters of its text",
            file["name"]
        );
    }

    // The list: newest first, with the bytes used.
    let list = files(app, &w.user, "").await;
    let names: Vec<&str> = list["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["보고서 메모.md", "hello.pdf", "people.csv", "chart.png"]
    );
    assert_eq!(
        list["files"][3], image,
        "the list item is the upload's answer"
    );
    assert_eq!(
        list["used_bytes"],
        wide.len() + CSV.len() + hello.len() + notes.len()
    );
    assert_eq!(list["next_cursor"], Value::Null);
    let page = files(app, &w.user, "limit=3").await;
    assert_eq!(page["files"].as_array().unwrap().len(), 3);
    let cursor = page["next_cursor"].as_str().expect("a next page");
    let rest = files(app, &w.user, &format!("limit=3&cursor={cursor}")).await;
    assert_eq!(rest["files"].as_array().unwrap().len(), 1);
    assert_eq!(rest["files"][0]["id"], image["id"]);

    // The bytes: as uploaded, never sniffed or run as a page; images inline.
    let res = get_raw(app, Some(&w.user), &format!("/api/v1/files/{}", id(&image))).await;
    assert_eq!(res.status(), 200);
    assert_eq!(header(&res, "content-type"), "image/png");
    assert!(
        header(&res, "content-disposition").starts_with("inline"),
        "{:?}",
        res.headers()
    );
    assert_eq!(header(&res, "x-content-type-options"), "nosniff");
    assert_eq!(res.bytes().await.unwrap().as_ref(), &wide[..]);
    let res = get_raw(app, Some(&w.user), &format!("/api/v1/files/{}", id(&txt))).await;
    assert_eq!(res.status(), 200);
    let disposition = header(&res, "content-disposition").to_string();
    assert!(disposition.starts_with("attachment"), "{disposition}");
    assert!(
        disposition.contains("filename*=UTF-8''%EB%B3%B4%EA%B3%A0%EC%84%9C"),
        "the Korean name, encoded: {disposition}"
    );
    assert_eq!(header(&res, "x-content-type-options"), "nosniff");
    assert_eq!(res.bytes().await.unwrap().as_ref(), notes.as_bytes());

    // The preview: what models get, at most 1568 px on the long side.
    let res = get_raw(
        app,
        Some(&w.user),
        &format!("/api/v1/files/{}/preview", id(&image)),
    )
    .await;
    assert_eq!(res.status(), 200);
    let mime = header(&res, "content-type").to_string();
    assert!(mime == "image/png" || mime == "image/jpeg", "{mime}");
    let preview = res.bytes().await.unwrap();
    let (pw, ph) = image_size(&preview);
    assert_eq!(pw, 1568, "scaled to the long side");
    assert!(
        (78..=79).contains(&ph),
        "the aspect ratio is kept: {pw}x{ph}"
    );
    // A small image is not enlarged.
    let small = uploaded(app, &w.user, "dot.png", png(4, 3)).await;
    let (sw, sh) = image_size(&preview_bytes(app, &w.user, &id(&small)).await);
    assert_eq!((sw, sh), (4, 3));

    // A document has no preview, an image no text.
    let res = get_raw(
        app,
        Some(&w.user),
        &format!("/api/v1/files/{}/preview", id(&doc)),
    )
    .await;
    assert_eq!(res.status(), 404);
    let res = get_raw(
        app,
        Some(&w.user),
        &format!("/api/v1/files/{}/text", id(&image)),
    )
    .await;
    assert_eq!(res.status(), 404);
    let res = get_raw(app, Some(&w.user), "/api/v1/files/no-such-file").await;
    assert_eq!(res.status(), 404);

    // An upload no message carries can be deleted.
    let (status, _) = app
        .call(
            Method::DELETE,
            &format!("/api/v1/files/{}", id(&small)),
            Some(&w.user),
            None,
        )
        .await;
    assert_eq!(status, 204);
    let res = get_raw(app, Some(&w.user), &format!("/api/v1/files/{}", id(&small))).await;
    assert_eq!(res.status(), 404);
}

/// Every route serving a file's bytes answers with the file's own
/// sandboxing CSP (an uploaded file is never run as a page of the app).
#[tokio::test]
async fn file_bytes_carry_a_sandboxing_csp_on_every_route() {
    let w = world().await;
    let app = &w.app;
    let image = uploaded(app, &w.user, "a.png", png(8, 8)).await;
    let doc = uploaded(app, &w.user, "a.txt", b"<script>alert(1)</script>".to_vec()).await;
    let conv = app.new_conversation(&w.user).await;
    let (status, _) = app
        .send_message(
            &w.user,
            &conv,
            json!({"content": "x", "file_ids": [id(&image), id(&doc)]}),
        )
        .await;
    assert_eq!(status, 201);
    let (_, share) = app.share(&w.user, &conv).await;
    let share_id = id(&share);
    for (who, path) in [
        (Some(&w.user), format!("/api/v1/files/{}", id(&image))),
        (
            Some(&w.user),
            format!("/api/v1/files/{}/preview", id(&image)),
        ),
        (Some(&w.user), format!("/api/v1/files/{}", id(&doc))),
        (Some(&w.admin), format!("/api/v1/files/{}", id(&doc))),
        (
            None,
            format!("/api/v1/shares/{share_id}/files/{}", id(&image)),
        ),
        (
            None,
            format!("/api/v1/shares/{share_id}/files/{}/preview", id(&image)),
        ),
        (
            None,
            format!("/api/v1/shares/{share_id}/files/{}", id(&doc)),
        ),
    ] {
        let res = get_raw(app, who, &path).await;
        assert_eq!(res.status(), 200, "{path}");
        assert_eq!(header(&res, "x-content-type-options"), "nosniff", "{path}");
        let csp = header(&res, "content-security-policy");
        assert!(
            csp.split(';').any(|d| d.trim() == "sandbox") && csp.contains("default-src 'none'"),
            "{path}: the file's own CSP, got {csp:?}"
        );
    }
}

// ── 2. Refusals ─────────────────────────────────────────────────────────────

#[tokio::test]
async fn bad_uploads_are_refused_with_their_codes_and_nothing_is_kept() {
    let w = world().await;
    let app = &w.app;

    let (status, err) = upload(app, &w.user, "empty.txt", Vec::new()).await;
    assert_eq!(status, 422, "{err}");
    assert!(err["fields"]["file"].is_string(), "{err}");

    let (status, err) = upload(
        app,
        &w.user,
        "setup.exe",
        b"MZ\x90\x00\x03\x00\x00\x00".to_vec(),
    )
    .await;
    assert_eq!(
        (status, err["code"].as_str()),
        (415, Some("unsupported_type")),
        "{err}"
    );
    let (status, err) = upload(
        app,
        &w.user,
        "photo.png",
        b"just some text, not a picture".to_vec(),
    )
    .await;
    assert_eq!(
        (status, err["code"].as_str()),
        (415, Some("unsupported_type")),
        "{err}"
    );
    assert!(
        err["error"].as_str().unwrap().contains("photo.png"),
        "{err}"
    );
    // A PDF named .png is not an image.
    let (status, err) = upload(app, &w.user, "scan.png", pdf("x")).await;
    assert_eq!(
        (status, err["code"].as_str()),
        (415, Some("unsupported_type")),
        "{err}"
    );
    // A PNG cut short is not an image that can be read.
    let mut cut = png(40, 40);
    cut.truncate(40);
    let (status, err) = upload(app, &w.user, "cut.png", cut).await;
    assert!(status == 415 || status == 422, "{status} {err}");

    // Paths are dropped from names.
    let passwd = uploaded(
        app,
        &w.user,
        "../../etc/passwd.txt",
        b"root:x:0:0\n".to_vec(),
    )
    .await;
    assert_eq!(passwd["name"], "passwd.txt");

    // A PDF whose text cannot be read is kept, with the reason.
    let broken = uploaded(app, &w.user, "broken.pdf", b"%PDF-1.4 garbage".to_vec()).await;
    assert_eq!(broken["kind"], "document");
    assert_eq!(broken["text_chars"], 0);
    let reason = broken["extract_error"]
        .as_str()
        .expect("extract_error is set");
    assert!(!reason.is_empty());

    // The form: one part named `file`, nothing else.
    let (status, err) = send_form(app, Some(&w.user), Form::new().text("title", "no file")).await;
    assert_eq!(status, 422, "an unknown part: {err}");
    let (status, err) = send_form(app, Some(&w.user), Form::new()).await;
    assert!(
        status == 422 || status == 400,
        "no part at all (an empty form is malformed or lacks the file): {status} {err}"
    );
    assert_ne!(err["code"], Value::Null);
    let two = Form::new()
        .part("file", Part::bytes(b"one".to_vec()).file_name("a.txt"))
        .part("file", Part::bytes(b"two".to_vec()).file_name("b.txt"));
    let (status, err) = send_form(app, Some(&w.user), two).await;
    assert_eq!(status, 422, "two files: {err}");
    let extra = Form::new()
        .part("file", Part::bytes(b"one".to_vec()).file_name("a.txt"))
        .text("note", "hello");
    let (status, err) = send_form(app, Some(&w.user), extra).await;
    assert_eq!(status, 422, "a file and an unknown part: {err}");
    let res = app
        .as_user(Method::POST, "/api/v1/files", &w.user.access)
        .json(&json!({"file": "not a form"}))
        .send()
        .await
        .unwrap();
    assert!(
        res.status().is_client_error(),
        "a JSON body: {}",
        res.status()
    );

    // Over the default 20 MiB: refused on the declared length, and just
    // over it (within the form's framing allowance) while it is read.
    let (status, err) = upload(app, &w.user, "big.txt", vec![b'a'; 21 * 1024 * 1024]).await;
    assert_eq!(
        (status, err["code"].as_str()),
        (413, Some("file_too_large")),
        "{err}"
    );
    assert!(err["error"].as_str().unwrap().contains("20 MiB"), "{err}");
    let (status, err) = upload(app, &w.user, "edge.txt", vec![b'a'; 20 * 1024 * 1024 + 1]).await;
    assert_eq!(
        (status, err["code"].as_str()),
        (413, Some("file_too_large")),
        "{err}"
    );

    // Signed out.
    let form = Form::new().part("file", Part::bytes(b"hi".to_vec()).file_name("a.txt"));
    let (status, _) = send_form(app, None, form).await;
    assert_eq!(status, 401);
    let (status, _) = app.call(Method::GET, "/api/v1/files", None, None).await;
    assert_eq!(status, 401);

    // Only the two accepted files were kept.
    let list = files(app, &w.user, "").await;
    let names: Vec<&str> = list["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["broken.pdf", "passwd.txt"]);
    assert_eq!(
        list["used_bytes"],
        "root:x:0:0\n".len() + "%PDF-1.4 garbage".len()
    );
    // The broken PDF has no text to read back.
    let res = get_raw(
        app,
        Some(&w.user),
        &format!("/api/v1/files/{}/text", id(&broken)),
    )
    .await;
    assert_eq!(res.status(), 404);
}

// ── 3, 4. Sending ───────────────────────────────────────────────────────────

#[tokio::test]
async fn an_image_reaches_an_openai_vision_model_as_a_data_url_again_on_regenerate_and_edit() {
    let w = world().await;
    let app = &w.app;
    let image = uploaded(app, &w.user, "chart.png", png(2000, 100)).await;
    let image_id = id(&image);
    let preview = preview_bytes(app, &w.user, &image_id).await;
    let conv = app.new_conversation(&w.user).await;
    let (status, answer) = app
        .send_message(
            &w.user,
            &conv,
            json!({"content": "이 그래프는 뭐예요?", "model_id": "gpt-4o-mini", "file_ids": [image_id]}),
        )
        .await;
    assert_eq!(status, 201, "{answer}");
    assert_eq!(answer["user_message"]["files"], json!([image]));
    assert_eq!(answer["message"]["files"], json!([]));

    // OpenAI's shape: the text, then the image as a data URL of the preview.
    let check = |r: &Recorded| {
        let content = last_user_message(r)["content"].clone();
        let parts = content
            .as_array()
            .unwrap_or_else(|| panic!("content parts: {content}"));
        assert_eq!(parts.len(), 2, "{content}");
        assert_eq!(parts[0]["type"], "text");
        assert_eq!(parts[1]["type"], "image_url");
        let (mime, bytes) = data_url(parts[1]["image_url"]["url"].as_str().unwrap());
        assert!(mime == "image/jpeg" || mime == "image/png", "{mime}");
        assert_eq!(bytes, preview, "the scaled copy is sent");
        parts[0]["text"].as_str().unwrap().to_string()
    };
    let sent = last_answer_asked(&w.fake);
    assert_eq!(sent.body["model"], "gpt-4o-mini");
    assert_eq!(check(&sent), "이 그래프는 뭐예요?");

    // The thread, reloaded, shows the question's file.
    let c = app.conversation(&w.user, &conv).await;
    assert_eq!(c["messages"][0]["files"][0]["id"], image_id.as_str());
    assert_eq!(c["messages"][0]["files"][0]["kind"], "image");
    assert_eq!(c["messages"][1]["files"], json!([]));

    // A regeneration resends it.
    let before = answers_asked(&w.fake).len();
    let (status, _) = app.regenerate(&w.user, &conv, json!({})).await;
    assert_eq!(status, 201);
    assert_eq!(answers_asked(&w.fake).len(), before + 1);
    assert_eq!(check(&last_answer_asked(&w.fake)), "이 그래프는 뭐예요?");

    // An edit without file_ids keeps the question's files.
    let (status, edited) = app
        .call(
            Method::PATCH,
            &format!("/api/v1/conversations/{conv}/messages/last"),
            Some(&w.user),
            Some(json!({"content": "다시: 이 그래프?"})),
        )
        .await;
    assert_eq!(status, 201, "{edited}");
    assert_eq!(edited["user_message"]["files"][0]["id"], image_id.as_str());
    assert_eq!(check(&last_answer_asked(&w.fake)), "다시: 이 그래프?");
    // An edit of an earlier question by id keeps them too.
    let first_question = c["messages"][0]["id"].as_str().unwrap();
    let (status, edited) = app
        .call(
            Method::PATCH,
            &format!("/api/v1/conversations/{conv}/messages/{first_question}"),
            Some(&w.user),
            Some(json!({"content": "세 번째 질문"})),
        )
        .await;
    assert_eq!(status, 201, "{edited}");
    assert_eq!(edited["user_message"]["files"][0]["id"], image_id.as_str());
    assert_eq!(check(&last_answer_asked(&w.fake)), "세 번째 질문");
    // An edit with `file_ids: []` drops them.
    let (status, edited) = app
        .call(
            Method::PATCH,
            &format!("/api/v1/conversations/{conv}/messages/last"),
            Some(&w.user),
            Some(json!({"content": "그림 없이", "file_ids": []})),
        )
        .await;
    assert_eq!(status, 201, "{edited}");
    assert_eq!(edited["user_message"]["files"], json!([]));
    assert_eq!(
        last_user_message(&last_answer_asked(&w.fake))["content"],
        "그림 없이"
    );

    // A file a message carries cannot be deleted on its own.
    let (status, err) = app
        .call(
            Method::DELETE,
            &format!("/api/v1/files/{image_id}"),
            Some(&w.user),
            None,
        )
        .await;
    assert_eq!(
        (status, err["code"].as_str()),
        (409, Some("file_in_use")),
        "{err}"
    );
    // Nor be sent in another conversation.
    let other_conv = app.new_conversation(&w.user).await;
    let (status, err) = app
        .send_message(
            &w.user,
            &other_conv,
            json!({"content": "again", "file_ids": [image_id]}),
        )
        .await;
    assert_eq!(
        (status, err["code"].as_str()),
        (409, Some("file_in_use")),
        "{err}"
    );
}

#[tokio::test]
async fn an_image_to_a_blind_model_is_refused_and_nothing_is_written() {
    let w = world().await;
    let app = &w.app;
    let image = uploaded(app, &w.user, "photo.png", png(8, 8)).await;
    let image_id = id(&image);
    let conv = app.new_conversation(&w.user).await;
    let before = w.fake.requests().len();
    let (status, err) = app
        .send_message(
            &w.user,
            &conv,
            json!({"content": "what is this?", "model_id": "llama3.2:3b", "file_ids": [image_id]}),
        )
        .await;
    assert_eq!(
        (status, err["code"].as_str()),
        (422, Some("model_cannot_see_images")),
        "{err}"
    );
    let message = err["error"].as_str().unwrap();
    assert!(
        message.contains("llama3.2:3b") && message.contains("cannot see images"),
        "{message}"
    );
    assert!(err.get("fields").is_none(), "no fields: {err}");
    // Nothing was sent, written or attached; the conversation is not left busy.
    assert_eq!(w.fake.requests().len(), before);
    assert_eq!(
        app.conversation(&w.user, &conv).await["messages"],
        json!([])
    );
    let (status, fine) = app
        .send_message(
            &w.user,
            &conv,
            json!({"content": "words only", "model_id": "llama3.2:3b"}),
        )
        .await;
    assert_eq!(status, 201, "{fine}");
    // A document goes to a blind model all the same.
    let doc = uploaded(app, &w.user, "people.csv", CSV.as_bytes().to_vec()).await;
    let (status, fine) = app
        .send_message(
            &w.user,
            &conv,
            json!({"content": "read it", "model_id": "llama3.2:3b", "file_ids": [id(&doc)]}),
        )
        .await;
    assert_eq!(status, 201, "{fine}");
    // The image is still the user's own, unattached: it can be deleted.
    let (status, _) = app
        .call(
            Method::DELETE,
            &format!("/api/v1/files/{image_id}"),
            Some(&w.user),
            None,
        )
        .await;
    assert_eq!(status, 204);

    // A regeneration on a blind model does not send the images of earlier questions.
    let seen = uploaded(app, &w.user, "seen.png", png(8, 8)).await;
    let conv = app.new_conversation(&w.user).await;
    let (status, _) = app
        .send_message(
            &w.user,
            &conv,
            json!({"content": "look", "model_id": "gpt-4o-mini", "file_ids": [id(&seen)]}),
        )
        .await;
    assert_eq!(status, 201);
    let (status, err) = app
        .send_message(
            &w.user,
            &conv,
            json!({"content": "and now?", "model_id": "llama3.2:3b"}),
        )
        .await;
    assert_eq!(status, 201, "a blind model continues the thread: {err}");
    let sent = last_answer_asked(&w.fake);
    assert_eq!(sent.body["model"], "llama3.2:3b");
    assert!(
        !sent.body.to_string().contains("image_url"),
        "no image goes to a blind model: {}",
        sent.body
    );
}

#[tokio::test]
async fn an_image_reaches_an_anthropic_model_as_a_base64_block() {
    let w = World::builder().kind("anthropic").build().await;
    let app = &w.app;
    let image = uploaded(app, &w.user, "cat.png", png(16, 9)).await;
    let preview = preview_bytes(app, &w.user, &id(&image)).await;
    let (status, answer) = app
        .create_conversation(
            &w.user,
            json!({"message": "고양이예요?", "model_id": "claude-3-5-haiku-latest", "file_ids": [id(&image)]}),
        )
        .await;
    assert_eq!(status, 201, "{answer}");
    assert_eq!(answer["user_message"]["files"][0]["id"], image["id"]);
    let sent = last_answer_asked(&w.fake);
    assert!(sent.path.ends_with("/v1/messages"), "{}", sent.path);
    let content = last_user_message(&sent)["content"].clone();
    let blocks = content
        .as_array()
        .unwrap_or_else(|| panic!("blocks: {content}"));
    assert_eq!(blocks.len(), 2, "{content}");
    assert_eq!(blocks[0]["type"], "image");
    assert_eq!(blocks[0]["source"]["type"], "base64");
    let media_type = blocks[0]["source"]["media_type"].as_str().unwrap();
    assert!(
        media_type == "image/png" || media_type == "image/jpeg",
        "{media_type}"
    );
    let data = base64::engine::general_purpose::STANDARD
        .decode(blocks[0]["source"]["data"].as_str().unwrap())
        .unwrap();
    assert_eq!(data, preview);
    assert_eq!(blocks[1], json!({"type": "text", "text": "고양이예요?"}));

    // Only the image, no words: the block alone.
    let conv = answer["conversation_id"].as_str().unwrap().to_string();
    let second = uploaded(app, &w.user, "dog.png", png(9, 16)).await;
    let (status, answer) = app
        .send_message(
            &w.user,
            &conv,
            json!({"content": "", "file_ids": [id(&second)]}),
        )
        .await;
    assert_eq!(status, 201, "{answer}");
    let content = last_user_message(&last_answer_asked(&w.fake))["content"].clone();
    let blocks = content
        .as_array()
        .unwrap_or_else(|| panic!("blocks: {content}"));
    assert_eq!(blocks[0]["type"], "image", "{content}");
    // No empty text block (Anthropic refuses one); the server may say in
    // words that the question is its files.
    for block in &blocks[1..] {
        assert_eq!(block["type"], "text", "{content}");
        assert!(
            !block["text"].as_str().unwrap().trim().is_empty(),
            "{content}"
        );
    }
}

#[tokio::test]
async fn documents_text_goes_in_the_system_prompt_with_their_names() {
    let w = world().await;
    let app = &w.app;
    let csv = uploaded(app, &w.user, "people.csv", CSV.as_bytes().to_vec()).await;
    let doc = uploaded(app, &w.user, "hello.pdf", pdf("Hello PDF")).await;
    let broken = uploaded(app, &w.user, "broken.pdf", b"%PDF-1.4 garbage".to_vec()).await;
    let (status, answer) = app
        .create_conversation(
            &w.user,
            json!({"message": "암호가 뭐예요?", "file_ids": [id(&csv), id(&doc), id(&broken)]}),
        )
        .await;
    assert_eq!(status, 201, "{answer}");
    let files: Vec<&str> = answer["user_message"]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        files,
        ["people.csv", "hello.pdf", "broken.pdf"],
        "in the order given"
    );
    let conv = answer["conversation_id"].as_str().unwrap().to_string();

    let sent = last_answer_asked(&w.fake);
    let messages = sent.body["messages"].as_array().unwrap();
    assert_eq!(messages[0]["role"], "system");
    let system = messages[0]["content"].as_str().unwrap();
    for needle in [
        "people.csv",
        "파란고양이-7431",
        "hello.pdf",
        "Hello PDF",
        "broken.pdf",
    ] {
        assert!(
            system.contains(needle),
            "{needle} in the system prompt: {system}"
        );
    }
    assert!(
        system.find("파란고양이-7431") < system.find("Hello PDF"),
        "in the order attached"
    );
    // The question itself is plain text.
    assert_eq!(last_user_message(&sent)["content"], "암호가 뭐예요?");

    // A later question in the thread still has the documents.
    let (status, _) = app.ask(&w.user, &conv, "그리고?").await;
    assert_eq!(status, 201);
    let system = last_answer_asked(&w.fake).body["messages"][0]["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(system.contains("파란고양이-7431"), "{system}");

    // A question that is only a file: no words, 201.
    let notes = uploaded(
        app,
        &w.user,
        "notes.txt",
        "내일 회의 취소".as_bytes().to_vec(),
    )
    .await;
    let (status, answer) = app
        .send_message(
            &w.user,
            &conv,
            json!({"content": "", "file_ids": [id(&notes)]}),
        )
        .await;
    assert_eq!(status, 201, "{answer}");
    assert_eq!(answer["user_message"]["content"], "");
    let system = last_answer_asked(&w.fake).body["messages"][0]["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(system.contains("내일 회의 취소"), "{system}");
    // Empty content without files is still refused.
    let (status, _) = app
        .send_message(&w.user, &conv, json!({"content": "", "file_ids": []}))
        .await;
    assert_eq!(status, 422);

    // Reloaded: each question with its files, answers with none.
    let c = app.conversation(&w.user, &conv).await;
    let messages = c["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 6);
    assert_eq!(messages[0]["files"].as_array().unwrap().len(), 3);
    assert_eq!(messages[0]["files"][1]["id"], doc["id"]);
    assert_eq!(messages[0]["files"][1]["mime"], "application/pdf");
    assert_eq!(messages[2]["files"], json!([]));
    assert_eq!(messages[4]["files"][0]["id"], notes["id"]);
    for answer in [&messages[1], &messages[3], &messages[5]] {
        assert_eq!(answer["files"], json!([]));
    }
}

#[tokio::test]
async fn a_first_question_of_only_files_is_titled_from_their_names() {
    let w = world().await;
    let app = &w.app;
    let only = uploaded(
        app,
        &w.user,
        "분기 보고서.txt",
        "매출 12억".as_bytes().to_vec(),
    )
    .await;
    let (status, answer) = app
        .create_conversation(&w.user, json!({"message": "", "file_ids": [id(&only)]}))
        .await;
    assert_eq!(status, 201, "{answer}");
    assert_eq!(answer["user_message"]["files"][0]["id"], only["id"]);
    // The answer is whole (201): its title is the files' names, and no model
    // was asked to make one up from a question without words (it would
    // have replaced the names by now or later, see the title tests).
    let conv = answer["conversation_id"].as_str().expect("conversation id");
    let shown = app.conversation(&w.user, conv).await;
    assert_eq!(shown["title"], "분기 보고서.txt", "{shown}");
    assert!(
        !w.fake
            .requests()
            .iter()
            .any(|r| r.body["messages"].to_string().contains("You write titles")),
        "a title was asked for a question of files only"
    );
}

#[tokio::test]
async fn file_ids_are_checked_for_count_owner_and_existence_before_anything_is_sent() {
    let w = world().await;
    let app = &w.app;
    let mine = uploaded(app, &w.user, "mine.txt", b"my secret 4242".to_vec()).await;
    let other = app.signup("jisoo").await;
    let theirs = app.new_conversation(&other).await;
    let conv = app.new_conversation(&w.user).await;
    let before = w.fake.requests().len();

    let many: Vec<String> = (0..21).map(|i| format!("no-such-{i}")).collect();
    let (status, err) = app
        .send_message(&w.user, &conv, json!({"content": "x", "file_ids": many}))
        .await;
    assert_eq!(status, 422, "{err}");
    assert!(err["fields"]["file_ids"].is_string(), "{err}");
    let thousand: Vec<String> = (0..1000).map(|_| id(&mine)).collect();
    let (status, err) = app
        .send_message(
            &w.user,
            &conv,
            json!({"content": "x", "file_ids": thousand}),
        )
        .await;
    assert_eq!(status, 422, "{err}");
    let (status, err) = app
        .create_conversation(&w.user, json!({"message": "x", "file_ids": many}))
        .await;
    assert_eq!(status, 422, "{err}");

    // Another user's file, or an unknown one: 404, as if it did not exist.
    let (status, err) = app
        .send_message(
            &other,
            &theirs,
            json!({"content": "steal", "file_ids": [id(&mine)]}),
        )
        .await;
    assert_eq!(
        (status, err["code"].as_str()),
        (404, Some("not_found")),
        "{err}"
    );
    let (status, err) = app
        .create_conversation(&other, json!({"message": "steal", "file_ids": [id(&mine)]}))
        .await;
    assert_eq!(
        (status, err["code"].as_str()),
        (404, Some("not_found")),
        "{err}"
    );
    let (status, err) = app
        .send_message(
            &w.user,
            &conv,
            json!({"content": "x", "file_ids": ["00000000-0000-0000-0000-000000000000"]}),
        )
        .await;
    assert_eq!(
        (status, err["code"].as_str()),
        (404, Some("not_found")),
        "{err}"
    );
    let (status, _) = app
        .send_message(
            &w.user,
            &conv,
            json!({"content": "x", "file_ids": "not-a-list"}),
        )
        .await;
    assert_eq!(status, 400);

    // Nothing reached the upstream; nothing was written.
    assert_eq!(w.fake.requests().len(), before);
    assert!(!w
        .fake
        .requests()
        .iter()
        .any(|r| r.body.to_string().contains("my secret 4242")));
    assert_eq!(
        app.conversation(&w.user, &conv).await["messages"],
        json!([])
    );
    assert_eq!(
        app.conversation(&other, &theirs).await["messages"],
        json!([])
    );

    // The same id twice counts once.
    let (status, answer) = app
        .send_message(
            &w.user,
            &conv,
            json!({"content": "twice", "file_ids": [id(&mine), id(&mine)]}),
        )
        .await;
    assert_eq!(status, 201, "{answer}");
    assert_eq!(answer["user_message"]["files"].as_array().unwrap().len(), 1);

    // The refused POST /conversations (a first message with another user's
    // file) left no empty conversation behind.
    let (_, listed) = app.conversations(&other, "").await;
    assert_eq!(
        listed["conversations"].as_array().map(Vec::len),
        Some(1),
        "the refused POST /conversations left nothing: {listed}"
    );
}

#[tokio::test]
async fn questions_asked_at_once_are_all_saved_and_one_refused_among_them_leaves_nothing() {
    // Questions that arrive together are written in one transaction, each
    // in a savepoint of its own (Db::write_together): the one that carries
    // another user's file is refused after its question row was written,
    // and that row must go while every other question and answer stays.
    let w = World::builder()
        .serve(|args| args.max_generations_per_user = 0)
        .await;
    let app = &w.app;
    let other = app.signup("jisoo").await;
    let mine = uploaded(app, &w.user, "mine.txt", b"minji's notes".to_vec()).await;
    let mut conversations = Vec::new();
    for _ in 0..40 {
        conversations.push(app.new_conversation(&w.user).await);
    }
    let theirs = app.new_conversation(&other).await;
    let user = &w.user;
    let mut asks: Vec<_> = conversations
        .iter()
        .enumerate()
        .map(|(n, conv)| {
            let body = json!({"content": format!("question {n}")});
            Box::pin(async move { app.send_message(user, conv, body).await })
                as std::pin::Pin<Box<dyn std::future::Future<Output = (u16, Value)>>>
        })
        .collect();
    let steal = json!({"content": "steal", "file_ids": [id(&mine)]});
    asks.insert(
        20,
        Box::pin(async { app.send_message(&other, &theirs, steal).await }),
    );
    let results = futures_util::future::join_all(asks).await;
    for (n, (status, body)) in results.iter().enumerate() {
        if n == 20 {
            assert_eq!((*status, body["code"].as_str()), (404, Some("not_found")));
        } else {
            assert_eq!(*status, 201, "{body}");
        }
    }
    for (n, conv) in conversations.iter().enumerate() {
        let messages = app.conversation(&w.user, conv).await["messages"].clone();
        assert_eq!(messages[0]["content"], format!("question {n}"));
        assert_eq!(messages[1]["status"], "complete", "{messages}");
        assert_eq!(messages.as_array().map(Vec::len), Some(2));
    }
    assert_eq!(
        app.conversation(&other, &theirs).await["messages"],
        json!([])
    );
}

// ── 5. Isolation ────────────────────────────────────────────────────────────

#[tokio::test]
async fn another_user_gets_404_on_every_file_route_and_an_admins_read_is_audited() {
    let w = world().await;
    let app = &w.app;
    let image = uploaded(app, &w.user, "private.png", png(8, 8)).await;
    let doc = uploaded(app, &w.user, "private.txt", b"private words".to_vec()).await;
    let other = app.signup("jisoo").await;

    for file in [&image, &doc] {
        let fid = id(file);
        for (method, path) in [
            (Method::GET, format!("/api/v1/files/{fid}")),
            (Method::GET, format!("/api/v1/files/{fid}/preview")),
            (Method::GET, format!("/api/v1/files/{fid}/text")),
            (Method::DELETE, format!("/api/v1/files/{fid}")),
        ] {
            let (status, err) = app.call(method.clone(), &path, Some(&other), None).await;
            assert_eq!(
                (status, err["code"].as_str()),
                (404, Some("not_found")),
                "{method} {path}"
            );
            let (status, _) = app.call(method.clone(), &path, None, None).await;
            assert_eq!(status, 401, "signed out: {method} {path}");
        }
    }
    // Their list is their own.
    let theirs = files(app, &other, "").await;
    assert_eq!(theirs["files"], json!([]));
    assert_eq!(theirs["used_bytes"], 0);
    // Still there for the owner.
    assert_eq!(
        files(app, &w.user, "").await["files"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // The owner's reads are not audited; an admin's read of another user's file is.
    let res = get_raw(app, Some(&w.user), &format!("/api/v1/files/{}", id(&doc))).await;
    assert_eq!(res.status(), 200);
    let reads = |actions: &[(String, Option<String>)]| {
        actions.iter().filter(|(a, _)| a == "file.read").count()
    };
    assert_eq!(reads(&audit_actions(app, &w.admin).await), 0);
    let res = get_raw(app, Some(&w.admin), &format!("/api/v1/files/{}", id(&doc))).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.bytes().await.unwrap().as_ref(), b"private words");
    let actions = audit_actions(app, &w.admin).await;
    assert_eq!(reads(&actions), 1, "{actions:?}");
    let (action, target) = &actions[0];
    assert_eq!(action, "file.read");
    assert_eq!(
        target.as_deref(),
        Some(w.user.id.as_str()),
        "the owner is the target"
    );
    let (_, audit) = app.audit(&w.admin, "limit=1").await;
    assert!(
        audit["entries"][0].to_string().contains(&id(&doc)),
        "the entry names the file: {audit}"
    );
    // The admin's own list does not hold the user's files.
    assert_eq!(files(app, &w.admin, "").await["files"], json!([]));

    // A plain user reads no admin-only thing.
    let (status, _) = app.audit(&other, "").await;
    assert_eq!(status, 403);
    let (status, _) = app
        .call(Method::GET, "/api/v1/admin/settings", Some(&w.user), None)
        .await;
    assert_eq!(status, 403);
    let (status, _) = app
        .call(
            Method::PUT,
            "/api/v1/admin/settings",
            Some(&w.user),
            Some(json!({"file_max_bytes": 2048})),
        )
        .await;
    assert_eq!(status, 403);
}

// ── 6. Deletion with the conversation ───────────────────────────────────────

#[tokio::test]
async fn deleting_a_conversation_deletes_its_files() {
    let w = world().await;
    let app = &w.app;
    let image = uploaded(app, &w.user, "a.png", png(8, 8)).await;
    let doc = uploaded(app, &w.user, "a.csv", CSV.as_bytes().to_vec()).await;
    let kept = uploaded(app, &w.user, "kept.txt", b"not sent".to_vec()).await;
    let conv = app.new_conversation(&w.user).await;
    let (status, _) = app
        .send_message(
            &w.user,
            &conv,
            json!({"content": "look", "file_ids": [id(&image), id(&doc)]}),
        )
        .await;
    assert_eq!(status, 201);
    let used = files(app, &w.user, "").await["used_bytes"]
        .as_u64()
        .unwrap();
    assert_eq!(
        used,
        image["size"].as_u64().unwrap() + doc["size"].as_u64().unwrap() + 8
    );

    let (status, _) = app.delete_conversation(&w.user, &conv).await;
    assert_eq!(status, 204);
    for file in [&image, &doc] {
        for path in [
            format!("/api/v1/files/{}", id(file)),
            format!("/api/v1/files/{}/text", id(file)),
            format!("/api/v1/files/{}/preview", id(file)),
        ] {
            assert_eq!(
                get_raw(app, Some(&w.user), &path).await.status(),
                404,
                "{path}"
            );
        }
        let res = get_raw(app, Some(&w.admin), &format!("/api/v1/files/{}", id(file))).await;
        assert_eq!(res.status(), 404, "gone for an admin too");
    }
    let list = files(app, &w.user, "").await;
    assert_eq!(list["used_bytes"], 8, "only the unsent file is left");
    assert_eq!(list["files"].as_array().unwrap().len(), 1);
    assert_eq!(list["files"][0]["id"], kept["id"]);
    let (status, _) = app
        .call(
            Method::DELETE,
            &format!("/api/v1/files/{}", id(&kept)),
            Some(&w.user),
            None,
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(files(app, &w.user, "").await["used_bytes"], 0);
}

// ── 7. Admin limits, vision flags, shares, export, collector, gateway ───────

#[tokio::test]
async fn admin_limits_refuse_big_files_and_full_quotas() {
    let w = world().await;
    let app = &w.app;
    let (status, settings) = app
        .call(Method::GET, "/api/v1/admin/settings", Some(&w.admin), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(settings["file_max_bytes"], 20 * 1024 * 1024, "{settings}");
    assert_eq!(
        settings["file_quota_bytes"],
        1024u64 * 1024 * 1024,
        "{settings}"
    );

    for bad in [
        json!({"file_max_bytes": 10}),
        json!({"file_max_bytes": 200 * 1024 * 1024}),
        json!({"file_quota_bytes": 1000}),
    ] {
        let (status, err) = app
            .call(
                Method::PUT,
                "/api/v1/admin/settings",
                Some(&w.admin),
                Some(bad.clone()),
            )
            .await;
        assert_eq!(status, 422, "{bad} → {err}");
    }

    let (status, settings) = app
        .call(
            Method::PUT,
            "/api/v1/admin/settings",
            Some(&w.admin),
            Some(json!({"file_max_bytes": 1024})),
        )
        .await;
    assert_eq!(status, 200, "{settings}");
    assert_eq!(settings["file_max_bytes"], 1024);
    assert_eq!(files(app, &w.user, "").await["max_file_bytes"], 1024);
    let (status, err) = upload(app, &w.user, "over.txt", vec![b'a'; 1025]).await;
    assert_eq!(
        (status, err["code"].as_str()),
        (413, Some("file_too_large")),
        "{err}"
    );
    assert!(err["error"].as_str().unwrap().contains("1 KiB"), "{err}");
    // Far over it: refused on the declared length.
    let (status, err) = upload(app, &w.user, "far.txt", vec![b'a'; 512 * 1024]).await;
    assert_eq!(
        (status, err["code"].as_str()),
        (413, Some("file_too_large")),
        "{err}"
    );
    let exact = uploaded(app, &w.user, "exact.txt", vec![b'a'; 1024]).await;
    assert_eq!(exact["size"], 1024);

    // The quota: 1 MiB, files of 600 KiB.
    let (status, settings) = app
        .call(
            Method::PUT,
            "/api/v1/admin/settings",
            Some(&w.admin),
            Some(json!({"file_max_bytes": 1024 * 1024, "file_quota_bytes": 1024 * 1024})),
        )
        .await;
    assert_eq!(status, 200, "{settings}");
    let list = files(app, &w.user, "").await;
    assert_eq!(list["quota_bytes"], 1024 * 1024);
    let (status, first) = upload(app, &w.user, "one.txt", vec![b'b'; 600 * 1024]).await;
    assert_eq!(status, 201, "{first}");
    let (status, err) = upload(app, &w.user, "two.txt", vec![b'c'; 600 * 1024]).await;
    assert_eq!(
        (status, err["code"].as_str()),
        (413, Some("quota_exceeded")),
        "{err}"
    );
    // Each user has their own quota.
    let other = app.signup("jisoo").await;
    let (status, _) = upload(app, &other, "theirs.txt", vec![b'c'; 600 * 1024]).await;
    assert_eq!(status, 201);
    // Freeing space lets the upload in.
    let (status, _) = app
        .call(
            Method::DELETE,
            &format!("/api/v1/files/{}", id(&first)),
            Some(&w.user),
            None,
        )
        .await;
    assert_eq!(status, 204);
    let (status, err) = upload(app, &w.user, "two.txt", vec![b'c'; 600 * 1024]).await;
    assert_eq!(status, 201, "{err}");
    let list = files(app, &w.user, "").await;
    assert_eq!(list["used_bytes"], 1024 + 600 * 1024);
}

/// The `vision` of each model in `GET /models`, by id.
async fn public_vision(app: &TestApp, user: &Session) -> Vec<(String, Value)> {
    let (status, models) = app
        .call(Method::GET, "/api/v1/models", Some(user), None)
        .await;
    assert_eq!(status, 200);
    models["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["id"].as_str().unwrap().to_string(), m["vision"].clone()))
        .collect()
}

#[tokio::test]
async fn models_say_whether_they_see_and_an_admin_can_say_otherwise() {
    let w = world().await;
    let app = &w.app;
    let mut guessed = public_vision(app, &w.user).await;
    guessed.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        guessed,
        vec![
            ("claude-3-5-haiku-latest".to_string(), json!(true)),
            ("gpt-4o-mini".to_string(), json!(true)),
            ("llama3.2:3b".to_string(), json!(false)),
        ]
    );
    let connection = w.connection["id"].as_str().unwrap().to_string();
    let path = format!("/api/v1/admin/connections/{connection}");
    let (status, all) = app
        .call(
            Method::GET,
            "/api/v1/admin/connections",
            Some(&w.admin),
            None,
        )
        .await;
    assert_eq!(status, 200, "{all}");
    let admin_view = all["connections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == connection.as_str())
        .expect("the connection")
        .clone();
    assert_eq!(admin_view["models"].as_array().unwrap().len(), 3);
    for m in admin_view["models"].as_array().unwrap() {
        assert_eq!(
            m.get("vision"),
            Some(&Value::Null),
            "not set by the admin: {m}"
        );
    }

    // The admin says llama sees and gpt-4o-mini does not.
    let (status, updated) = app
        .call(
            Method::PUT,
            &path,
            Some(&w.admin),
            Some(json!({"models": [
                {"id": "gpt-4o-mini", "vision": false},
                {"id": "llama3.2:3b", "vision": true},
                {"id": "claude-3-5-haiku-latest"},
            ]})),
        )
        .await;
    assert_eq!(status, 200, "{updated}");
    let flags: Vec<(String, Value)> = updated["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["upstream_id"].as_str().unwrap().to_string(),
                m["vision"].clone(),
            )
        })
        .collect();
    assert!(
        flags.contains(&("gpt-4o-mini".into(), json!(false))),
        "{flags:?}"
    );
    assert!(
        flags.contains(&("llama3.2:3b".into(), json!(true))),
        "{flags:?}"
    );
    assert!(
        flags.contains(&("claude-3-5-haiku-latest".into(), Value::Null)),
        "{flags:?}"
    );
    let mut public = public_vision(app, &w.user).await;
    public.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        public,
        vec![
            ("claude-3-5-haiku-latest".to_string(), json!(true)),
            ("gpt-4o-mini".to_string(), json!(false)),
            ("llama3.2:3b".to_string(), json!(true)),
        ]
    );

    // Sending follows the admin's word.
    let image = uploaded(app, &w.user, "a.png", png(8, 8)).await;
    let conv = app.new_conversation(&w.user).await;
    let (status, err) = app
        .send_message(
            &w.user,
            &conv,
            json!({"content": "see?", "model_id": "gpt-4o-mini", "file_ids": [id(&image)]}),
        )
        .await;
    assert_eq!(
        (status, err["code"].as_str()),
        (422, Some("model_cannot_see_images")),
        "{err}"
    );
    let (status, answer) = app
        .send_message(
            &w.user,
            &conv,
            json!({"content": "see?", "model_id": "llama3.2:3b", "file_ids": [id(&image)]}),
        )
        .await;
    assert_eq!(status, 201, "{answer}");
    let sent = last_answer_asked(&w.fake);
    assert_eq!(sent.body["model"], "llama3.2:3b");
    assert_eq!(last_user_message(&sent)["content"][1]["type"], "image_url");

    // null gives the guess back.
    let (status, _) = app
        .call(
            Method::PUT,
            &path,
            Some(&w.admin),
            Some(json!({"models": [
                {"id": "gpt-4o-mini", "vision": null},
                {"id": "llama3.2:3b", "vision": null},
                {"id": "claude-3-5-haiku-latest"},
            ]})),
        )
        .await;
    assert_eq!(status, 200);
    let mut back = public_vision(app, &w.user).await;
    back.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(back, guessed);
    // A plain user cannot set it.
    let (status, _) = app
        .call(
            Method::PUT,
            &path,
            Some(&w.user),
            Some(json!({"models": [{"id": "llama3.2:3b", "vision": true}]})),
        )
        .await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn a_shares_files_are_served_signed_out_and_a_clone_gets_its_own_copies() {
    let w = world().await;
    let app = &w.app;
    let picture = png(2000, 100);
    let image = uploaded(app, &w.user, "chart.png", picture.clone()).await;
    let doc = uploaded(app, &w.user, "people.csv", CSV.as_bytes().to_vec()).await;
    let unshared = uploaded(app, &w.user, "unshared.txt", b"not in the share".to_vec()).await;
    let conv = app.new_conversation(&w.user).await;
    let (status, _) = app
        .send_message(
            &w.user,
            &conv,
            json!({"content": "보세요", "file_ids": [id(&image), id(&doc)]}),
        )
        .await;
    assert_eq!(status, 201);
    let (status, share) = app.share(&w.user, &conv).await;
    assert_eq!(status, 201, "{share}");
    let share_id = id(&share);

    let (status, public) = app.read_share(&Nobody, &share_id).await;
    assert_eq!(status, 200);
    let shared: Vec<&str> = public["messages"][0]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert_eq!(shared, [id(&image), id(&doc)]);

    // Signed out: the bytes and the preview of a file in the snapshot.
    let res = get_raw(
        app,
        None,
        &format!("/api/v1/shares/{share_id}/files/{}", id(&image)),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(header(&res, "content-type"), "image/png");
    assert_eq!(header(&res, "x-content-type-options"), "nosniff");
    assert_eq!(res.bytes().await.unwrap().as_ref(), &picture[..]);
    let res = get_raw(
        app,
        None,
        &format!("/api/v1/shares/{share_id}/files/{}/preview", id(&image)),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(image_size(&res.bytes().await.unwrap()).0, 1568);
    let res = get_raw(
        app,
        None,
        &format!("/api/v1/shares/{share_id}/files/{}", id(&doc)),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert!(header(&res, "content-disposition").starts_with("attachment"));
    assert_eq!(res.bytes().await.unwrap().as_ref(), CSV.as_bytes());
    // Not in the snapshot, or no such share: 404.
    for path in [
        format!("/api/v1/shares/{share_id}/files/{}", id(&unshared)),
        format!("/api/v1/shares/{share_id}/files/{}/preview", id(&unshared)),
        format!("/api/v1/shares/{share_id}/files/{}/preview", id(&doc)),
        format!("/api/v1/shares/AAAAAAAAAAAAAAAAAAAAAA/files/{}", id(&image)),
    ] {
        let res = get_raw(app, None, &path).await;
        assert_eq!(res.status(), 404, "{path}");
    }
    // A file sent after the share was made is not in it.
    let later = uploaded(app, &w.user, "later.txt", b"after the share".to_vec()).await;
    let (status, _) = app
        .send_message(
            &w.user,
            &conv,
            json!({"content": "more", "file_ids": [id(&later)]}),
        )
        .await;
    assert_eq!(status, 201);
    let res = get_raw(
        app,
        None,
        &format!("/api/v1/shares/{share_id}/files/{}", id(&later)),
    )
    .await;
    assert_eq!(res.status(), 404);

    // A clone's files are the cloner's own copies.
    let other = app.signup("jisoo").await;
    let (status, clone) = app.clone_share(&other, &share_id).await;
    assert_eq!(status, 201, "{clone}");
    let copies = clone["messages"][0]["files"].as_array().unwrap().clone();
    assert_eq!(copies.len(), 2, "{clone}");
    assert_eq!(copies[0]["name"], "chart.png");
    assert_ne!(copies[0]["id"], image["id"]);
    assert_ne!(copies[1]["id"], doc["id"]);
    let res = get_raw(
        app,
        Some(&other),
        &format!("/api/v1/files/{}", id(&copies[0])),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.bytes().await.unwrap().as_ref(), &picture[..]);
    let theirs = files(app, &other, "").await;
    assert_eq!(theirs["used_bytes"], picture.len() + CSV.len());
    // The clone continues with the files: the image reaches the model.
    let clone_id = id(&clone);
    let (status, _) = app.ask(&other, &clone_id, "이어서").await;
    assert_eq!(status, 201);
    let sent = last_answer_asked(&w.fake);
    assert!(
        sent.body.to_string().contains("data:image/"),
        "the cloned image is sent"
    );
    assert!(
        sent.body.to_string().contains("파란고양이-7431"),
        "the cloned document is sent"
    );
    // Deleting the original leaves the clone's copies.
    let (status, _) = app.delete_conversation(&w.user, &conv).await;
    assert_eq!(status, 204);
    let res = get_raw(
        app,
        Some(&other),
        &format!("/api/v1/files/{}", id(&copies[1])),
    )
    .await;
    assert_eq!(res.status(), 200);
    let res = get_raw(app, Some(&w.user), &format!("/api/v1/files/{}", id(&image))).await;
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn a_zip_export_holds_the_conversation_and_its_files() {
    let w = world().await;
    let app = &w.app;
    let picture = png(8, 8);
    let image = uploaded(app, &w.user, "chart.png", picture.clone()).await;
    let doc = uploaded(app, &w.user, "people.csv", CSV.as_bytes().to_vec()).await;
    let conv = app.new_conversation(&w.user).await;
    let (status, _) = app
        .send_message(
            &w.user,
            &conv,
            json!({"content": "수출 질문", "file_ids": [id(&image), id(&doc)]}),
        )
        .await;
    assert_eq!(status, 201);

    let path = format!("/api/v1/conversations/{conv}/export?format=zip");
    let res = get_raw(app, Some(&w.user), &path).await;
    assert_eq!(res.status(), 200);
    assert_eq!(header(&res, "content-type"), "application/zip");
    assert!(
        header(&res, "content-disposition").contains(".zip"),
        "{:?}",
        res.headers()
    );
    let zip = res.bytes().await.unwrap().to_vec();
    assert!(zip.starts_with(b"PK\x03\x04"));
    let entries = unzip(&zip);
    let names: Vec<&str> = entries.iter().map(|(n, _)| n.as_str()).collect();
    let entry = |name: &str| {
        entries
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, d)| d.clone())
            .unwrap_or_else(|| panic!("no {name} in {names:?}"))
    };
    let json: Value = serde_json::from_slice(&entry("conversation.json")).unwrap();
    assert!(json.to_string().contains("수출 질문"), "{json}");
    let md = String::from_utf8(entry("conversation.md")).unwrap();
    assert!(md.contains("수출 질문"), "{md}");
    assert_eq!(entry(&format!("files/{}-chart.png", id(&image))), picture);
    assert_eq!(
        entry(&format!("files/{}-people.csv", id(&doc))),
        CSV.as_bytes()
    );
    assert_eq!(entries.len(), 4, "{names:?}");

    // Someone else's conversation: 404; an unknown format: 422.
    let other = app.signup("jisoo").await;
    assert_eq!(get_raw(app, Some(&other), &path).await.status(), 404);
    assert_eq!(get_raw(app, None, &path).await.status(), 401);
    let (status, _) = app.export_conversation(&w.user, &conv, "format=rar").await;
    assert_eq!(status, 422);
}

async fn collect_upload(app: &TestApp, user: &Session, name: &str, bytes: Vec<u8>) -> (u16, Value) {
    let form = Form::new().part("file", Part::bytes(bytes).file_name(name.to_string()));
    let res = app
        .as_user(Method::POST, "/api/v1/collector/items", &user.access)
        .multipart(form)
        .send()
        .await
        .expect("upload");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_collector_and_files_take_pdf_docx_and_hwpx_as_their_text() {
    let w = world().await;
    let app = &w.app;
    let (status, item) =
        collect_upload(app, &w.user, "hello.pdf", pdf("Hello Collector PDF")).await;
    assert_eq!(status, 201, "{item}");
    assert_eq!(item["filename"], "hello.pdf");
    let content = item["content"].as_str().unwrap();
    assert!(content.contains("Hello Collector PDF"), "{content:?}");
    assert!(
        !content.contains("%PDF"),
        "the text, not the bytes: {content:?}"
    );

    let word = docx(&["회의록 첫 문단", "둘째 문단: 예산 3억"]);
    let (status, item) = collect_upload(app, &w.user, "회의록.docx", word).await;
    assert_eq!(status, 201, "{item}");
    let content = item["content"].as_str().unwrap();
    assert!(
        content.contains("회의록 첫 문단") && content.contains("예산 3억"),
        "{content:?}"
    );
    // Searchable by the extracted words.
    let (_, found) = app.collected(&w.user, "q=%EC%98%88%EC%82%B0").await; // 예산
    assert_eq!(found["items"].as_array().unwrap().len(), 1, "{found}");
    let (status, item) = collect_upload(
        app,
        &w.user,
        "공문.hwpx",
        hwpx(&["한글 문서 첫 줄", "결재: 김부장"]),
    )
    .await;
    assert_eq!(status, 201, "{item}");
    let content = item["content"].as_str().unwrap();
    assert!(
        content.contains("한글 문서 첫 줄") && content.contains("결재: 김부장"),
        "{content:?}"
    );
    // The same documents as conversation files.
    for (name, bytes, mime, words) in [
        (
            "공문.hwpx",
            hwpx(&["한글 문서 첫 줄"]),
            "application/hwp+zip",
            "한글 문서 첫 줄",
        ),
        (
            "회의록.docx",
            docx(&["회의록 첫 문단"]),
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "회의록 첫 문단",
        ),
    ] {
        let file = uploaded(app, &w.user, name, bytes).await;
        assert_eq!(
            (file["kind"].as_str(), file["mime"].as_str()),
            (Some("document"), Some(mime))
        );
        assert_eq!(file["extract_error"], Value::Null, "{file}");
        let (status, text) = app
            .call(
                Method::GET,
                &format!("/api/v1/files/{}/text", id(&file)),
                Some(&w.user),
                None,
            )
            .await;
        assert_eq!(status, 200);
        assert!(text["text"].as_str().unwrap().contains(words), "{text}");
    }
    // Executables are still refused.
    let (status, _) = collect_upload(app, &w.user, "setup.exe", b"MZ\x90\x00".to_vec()).await;
    assert_eq!(status, 415);
}

#[tokio::test]
async fn the_gateway_takes_data_url_images_and_refuses_remote_ones() {
    let g = crate::gateway::gateway("openai", Behavior::default()).await;
    let picture = png(16, 16);
    let url = format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(&picture)
    );
    let chat = |body: Value| {
        g.app
            .request(Method::POST, "/v1/chat/completions")
            .bearer_auth(&g.key)
            .json(&body)
            .send()
    };
    let res = chat(
        json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": [
            {"type": "text", "text": "what is this picture?"},
            {"type": "image_url", "image_url": {"url": url}},
        ]}]}),
    )
    .await
    .unwrap();
    let status = res.status();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    assert_eq!(status, 200, "{body}");
    assert!(
        body["choices"][0]["message"]["content"].is_string(),
        "{body}"
    );
    let sent = last_answer_asked(&g.fake);
    let parts = last_user_message(&sent)["content"].clone();
    let images: Vec<&Value> = parts
        .as_array()
        .unwrap_or_else(|| panic!("parts: {parts}"))
        .iter()
        .filter(|p| p["type"] == "image_url")
        .collect();
    assert_eq!(images.len(), 1, "{parts}");
    let (mime, _) = data_url(images[0]["image_url"]["url"].as_str().unwrap());
    assert!(mime.starts_with("image/"), "{mime}");
    assert!(parts.to_string().contains("what is this picture?"));

    // A remote URL is not fetched by the server.
    let before = g.fake.requests().len();
    let res = chat(
        json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": [
            {"type": "text", "text": "and this?"},
            {"type": "image_url", "image_url": {"url": "http://127.0.0.1:9/cat.png"}},
        ]}]}),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 400);
    let err: Value = res.json().await.unwrap();
    assert!(
        err["error"]["message"].is_string(),
        "OpenAI's error shape: {err}"
    );
    // A data URL that is not an image is refused too.
    let res = chat(
        json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,bm90IGFuIGltYWdl"}},
        ]}]}),
    )
    .await
    .unwrap();
    assert!(res.status().is_client_error(), "{}", res.status());
    // An image to a blind model is refused, not silently dropped.
    let res = chat(
        json!({"model": "llama3.2:3b", "messages": [{"role": "user", "content": [
            {"type": "text", "text": "blind?"},
            {"type": "image_url", "image_url": {"url": url}},
        ]}]}),
    )
    .await
    .unwrap();
    assert!(res.status().is_client_error(), "{}", res.status());
    assert_eq!(
        g.fake.requests().len(),
        before,
        "nothing refused reached the upstream"
    );
}

#[tokio::test]
async fn hwp_documents_real_and_made_give_their_korean_text_to_the_model() {
    let w = world().await;
    let app = &w.app;
    let made = daehwa_hwp::write::hwp(
        &["분기 회의록", "매출은 12억 원입니다.\t표 안의 글자"],
        &daehwa_hwp::write::HwpOptions::default(),
    );
    let made = uploaded(app, &w.user, "회의록.hwp", made).await;
    assert_eq!(made["kind"], "document");
    assert_eq!(made["extract_error"], Value::Null, "{made}");
    // A file Hangul wrote (crates/hwp/tests/fixtures/README.md): a table.
    let real = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/crates/hwp/tests/fixtures/hwplib-table.hwp"
    ))
    .unwrap();
    let real = uploaded(app, &w.user, "표.hwp", real).await;
    assert_eq!(real["extract_error"], Value::Null, "{real}");
    // A password and a distribution document are kept, with the reason.
    let locked = daehwa_hwp::write::hwp(
        &["비밀"],
        &daehwa_hwp::write::HwpOptions {
            password: true,
            ..Default::default()
        },
    );
    let locked = uploaded(app, &w.user, "잠금.hwp", locked).await;
    assert!(
        locked["extract_error"]
            .as_str()
            .is_some_and(|e| e.contains("password")),
        "{locked}"
    );
    assert_eq!(locked["text_chars"], 0);
    let text: Value = app
        .as_user(
            Method::GET,
            &format!("/api/v1/files/{}/text", id(&made)),
            &w.user.access,
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        text["text"]
            .as_str()
            .unwrap()
            .contains("매출은 12억 원입니다."),
        "{text}"
    );

    let conv = app.new_conversation(&w.user).await;
    let ids = json!([id(&made), id(&real), id(&locked)]);
    let (status, answer) = app
        .send_message(
            &w.user,
            &conv,
            json!({"content": "요약해 줘", "file_ids": ids}),
        )
        .await;
    assert_eq!(status, 201, "{answer}");
    let sent = w
        .fake
        .requests()
        .into_iter()
        .rev()
        // The answer's request (streamed), not the title's that follows it.
        .find(|r| r.body["stream"] == true && r.body["messages"].to_string().contains("요약해 줘"))
        .expect("the question reached the model");
    let system = sent.body["messages"][0]["content"]
        .as_str()
        .unwrap()
        .to_string();
    for expected in [
        "회의록.hwp",
        "매출은 12억 원입니다.",
        "표.hwp",
        "ABC",
        "DEF",
        "잠금.hwp",
    ] {
        assert!(
            system.contains(expected),
            "{expected} missing from {system}"
        );
    }
    assert!(
        !system.contains("비밀"),
        "a locked document's text was sent"
    );
}
