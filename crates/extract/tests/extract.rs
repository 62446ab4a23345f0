//! The crate's behaviour on documents made at test time.

mod common;

use std::io::{Cursor, Write};
use std::time::{Duration, Instant};

use common::*;
use daehwa_extract::{detect, extract_text, prepare_image, Error, Format, Limits};
use lopdf::dictionary;

fn text_of(format: Format, bytes: &[u8]) -> String {
    extract_text(format, bytes, &Limits::default())
        .unwrap_or_else(|e| panic!("{format:?}: {e}"))
        .text
}

// ---- detection ----

#[test]
fn empty_file_is_empty() {
    assert_eq!(detect("a.txt", None, b""), Err(Error::Empty));
    assert_eq!(Error::Empty.to_string(), "The file is empty.");
}

#[test]
fn images_are_detected_by_their_bytes() {
    let img = rgb_image(8, 6);
    for (format, image_format, name) in [
        (Format::Png, image::ImageFormat::Png, "a.png"),
        (Format::Jpeg, image::ImageFormat::Jpeg, "a.JPG"),
        (Format::WebP, image::ImageFormat::WebP, "a.webp"),
        (Format::Gif, image::ImageFormat::Gif, "a.gif"),
    ] {
        let bytes = encode(&img, image_format);
        assert_eq!(detect(name, None, &bytes), Ok(format));
        // No extension: the bytes decide.
        assert_eq!(detect("pasted", None, &bytes), Ok(format));
        assert!(format.is_image());
    }
}

#[test]
fn png_name_with_jpeg_bytes_is_a_mismatch() {
    let jpeg = encode(&rgb_image(8, 6), image::ImageFormat::Jpeg);
    let err = detect("report.png", Some("image/png"), &jpeg).unwrap_err();
    assert_eq!(
        err,
        Error::Mismatch("report.png is not a PNG image; its contents are a JPEG image.".into())
    );
    // A declared type alone (no extension) is checked too.
    assert!(matches!(
        detect("blob", Some("image/png"), &jpeg),
        Err(Error::Mismatch(_))
    ));
}

#[test]
fn image_extension_with_other_bytes_is_a_mismatch() {
    let err = detect("photo.jpg", None, b"just some words").unwrap_err();
    assert_eq!(
        err,
        Error::Mismatch("photo.jpg is not a JPEG image.".into())
    );
    let err = detect("photo.png", None, &pdf(&["x"])).unwrap_err();
    assert!(matches!(err, Error::Mismatch(_)), "{err:?}");
}

/// A `.pdf` that holds text is a Mismatch (the name promises a PDF): the
/// caller answers 415 as for Unsupported.
#[test]
fn pdf_name_with_text_is_a_mismatch() {
    let err = detect("paper.pdf", Some("application/pdf"), b"Hello, not a PDF").unwrap_err();
    assert_eq!(
        err,
        Error::Mismatch("paper.pdf is not a PDF document.".into())
    );
}

#[test]
fn programs_and_unknown_binaries_are_unsupported() {
    let mut exe = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00".to_vec();
    exe.extend_from_slice(&[0u8; 64]);
    assert!(matches!(
        detect("setup.exe", None, &exe),
        Err(Error::Unsupported(_))
    ));
    assert!(matches!(
        detect("setup.exe", Some("application/octet-stream"), &exe),
        Err(Error::Unsupported(_))
    ));
    // A program renamed to .txt is no text.
    assert!(matches!(
        detect("notes.txt", None, &exe),
        Err(Error::Mismatch(_))
    ));
    let noise: Vec<u8> = (0..512u32).map(|i| (i * 7919 % 251) as u8).collect();
    assert!(matches!(
        detect("data.bin", None, &noise),
        Err(Error::Unsupported(_))
    ));
    // Text with an unknown extension is text only when declared so.
    assert!(matches!(
        detect("x.qqq", None, b"hello"),
        Err(Error::Unsupported(_))
    ));
    assert_eq!(
        detect("x.qqq", Some("text/plain"), b"hello"),
        Ok(Format::Text)
    );
    assert_eq!(
        detect("Makefile", None, b"all:\n\techo hi\n"),
        Ok(Format::Text)
    );
    // A plain zip archive is no document.
    let zip = zip_of(&[("a.txt", b"hi")]);
    assert!(matches!(
        detect("a.zip", None, &zip),
        Err(Error::Unsupported(_))
    ));
    // A .docx that is a zip without Word's parts is kept as a (damaged) Word file.
    assert_eq!(detect("a.docx", None, &zip), Ok(Format::Docx));
    assert!(matches!(
        extract_text(Format::Docx, &zip, &Limits::default()),
        Err(Error::Malformed(_))
    ));
    let broken = b"PK\x03\x04 not really a zip".to_vec();
    assert_eq!(detect("a.xlsx", None, &broken), Ok(Format::Xlsx));
    assert!(matches!(
        detect("a.zip", None, &broken),
        Err(Error::Unsupported(_))
    ));
}

#[test]
fn documents_are_detected_by_their_parts() {
    let docx = docx(&["hi"], &[]);
    let pptx = pptx(&[&["hi"]]);
    let xlsx = xlsx(&[("S", &[&[Cell::Text("hi")]])]);
    assert_eq!(detect("a.docx", None, &docx), Ok(Format::Docx));
    assert_eq!(detect("a.pptx", None, &pptx), Ok(Format::Pptx));
    assert_eq!(detect("a.xlsx", None, &xlsx), Ok(Format::Xlsx));
    assert_eq!(
        detect("download", Some("application/octet-stream"), &xlsx),
        Ok(Format::Xlsx)
    );
    assert!(matches!(
        detect("a.docx", None, &pptx),
        Err(Error::Mismatch(_))
    ));
    assert_eq!(detect("a.pdf", None, &pdf(&["x"])), Ok(Format::Pdf));
    let hwpx = zip_of(&[
        ("mimetype", b"application/hwp+zip"),
        ("Contents/section0.xml", b"<hs:sec/>"),
    ]);
    assert_eq!(detect("a.hwpx", None, &hwpx), Ok(Format::Hwpx));
    assert_eq!(Format::Docx.label(), "Word");
    assert_eq!(Format::Pdf.mime(), "application/pdf");
}

#[test]
fn hwp_is_detected_by_its_ole_streams() {
    // An OLE header and a directory entry naming FileHeader (UTF-16LE).
    let mut bytes = vec![0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
    bytes.resize(512, 0);
    for name in ["FileHeader", "BodyText"] {
        bytes.extend(name.encode_utf16().flat_map(|u| u.to_le_bytes()));
        bytes.resize(bytes.len() + 64, 0);
    }
    assert_eq!(detect("보고서.hwp", None, &bytes), Ok(Format::Hwp));
    assert_eq!(detect("noext", None, &bytes), Ok(Format::Hwp));
    #[cfg(not(feature = "hwp"))]
    assert!(matches!(
        extract_text(Format::Hwp, &bytes, &Limits::default()),
        Err(Error::Unsupported(_))
    ));
    // An old .doc (OLE without HWP streams) is unsupported.
    let mut doc = vec![0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
    doc.resize(512, 0);
    doc.extend("WordDocument".encode_utf16().flat_map(|u| u.to_le_bytes()));
    assert!(matches!(
        detect("old.doc", None, &doc),
        Err(Error::Unsupported(_))
    ));
    let mut enc = doc.clone();
    enc.extend(
        "EncryptedPackage"
            .encode_utf16()
            .flat_map(|u| u.to_le_bytes()),
    );
    // Office's password-protected DOCX (an OLE wrapper) is a Word file
    // whose text cannot be read.
    assert_eq!(detect("locked.docx", None, &enc), Ok(Format::Docx));
    assert_eq!(
        extract_text(Format::Docx, &enc, &Limits::default()),
        Err(Error::Encrypted(
            "This Word document is password-protected; its text cannot be read.".into()
        ))
    );
    assert!(matches!(
        detect("locked.bin", None, &enc),
        Err(Error::Unsupported(_))
    ));
}

#[test]
fn text_files() {
    assert_eq!(
        detect("a.md", None, "# 제목\n본문".as_bytes()),
        Ok(Format::Text)
    );
    assert_eq!(detect("a.csv", None, b"a,b\n1,2\n"), Ok(Format::Csv));
    assert_eq!(
        detect("a.rs", Some("text/x-rust"), b"fn main() {}"),
        Ok(Format::Text)
    );
    // UTF-8 with a BOM: the BOM is dropped.
    let bom = b"\xEF\xBB\xBFhello \xEC\x95\x88\xEB\x85\x95";
    assert_eq!(detect("a.txt", None, bom), Ok(Format::Text));
    assert_eq!(text_of(Format::Text, bom), "hello 안녕");
    // UTF-16LE with a BOM is converted.
    let utf16: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(
            "줄 하나\r\n줄 둘"
                .encode_utf16()
                .flat_map(|u| u.to_le_bytes()),
        )
        .collect();
    assert_eq!(detect("a.txt", None, &utf16), Ok(Format::Text));
    assert_eq!(text_of(Format::Text, &utf16), "줄 하나\n줄 둘");
}

#[test]
fn cp949_csv_round_trip() {
    let source = "이름,나이,도시\n김철수,30,서울\n이영희,25,부산\n";
    let (bytes, _, unmappable) = encoding_rs::EUC_KR.encode(source);
    assert!(!unmappable);
    assert!(std::str::from_utf8(&bytes).is_err(), "really CP949 bytes");
    assert_eq!(
        detect("명단.csv", Some("text/csv"), &bytes),
        Ok(Format::Csv)
    );
    let done = extract_text(Format::Csv, &bytes, &Limits::default()).unwrap();
    assert_eq!(done.text, source.trim_end());
    assert!(!done.truncated);
}

// ---- documents ----

#[test]
fn docx_text_tabs_and_tables() {
    let bytes = docx(
        &["안녕하세요, 세계!", "a\tb & <c>", "", "", "끝"],
        &[&["이름", "나이"], &["홍길동", "42"]],
    );
    let text = text_of(Format::Docx, &bytes);
    assert_eq!(
        text,
        "안녕하세요, 세계!\na\tb & <c>\n\n끝\n이름\t나이\n홍길동\t42"
    );
}

#[test]
fn pptx_slides_in_numeric_order() {
    let slides: Vec<Vec<String>> = (1..=11)
        .map(|i| vec![format!("슬라이드 {i} 제목"), "본문".into()])
        .collect();
    let refs: Vec<Vec<&str>> = slides
        .iter()
        .map(|s| s.iter().map(String::as_str).collect())
        .collect();
    let refs: Vec<&[&str]> = refs.iter().map(Vec::as_slice).collect();
    let bytes = pptx(&refs);
    let done = extract_text(Format::Pptx, &bytes, &Limits::default()).unwrap();
    assert_eq!(done.pages, Some(11));
    assert!(
        done.text
            .starts_with("--- slide 1 ---\n슬라이드 1 제목\n본문\n\n--- slide 2 ---\n"),
        "{}",
        done.text
    );
    let p9 = done.text.find("슬라이드 9 제목").unwrap();
    let p10 = done.text.find("슬라이드 10 제목").unwrap();
    assert!(p9 < p10);
    assert!(done
        .text
        .ends_with("--- slide 11 ---\n슬라이드 11 제목\n본문"));
}

#[test]
fn xlsx_sheets_and_cells() {
    let bytes = xlsx(&[
        (
            "매출",
            &[
                &[Cell::Text("품목"), Cell::Text("수량"), Cell::Text("단가")],
                &[Cell::Text("사과"), Cell::Number(3.0), Cell::Number(1.5)],
            ],
        ),
        ("Notes", &[&[Cell::Text("a & b")]]),
    ]);
    let text = text_of(Format::Xlsx, &bytes);
    assert_eq!(
        text,
        "## 매출\n품목\t수량\t단가\n사과\t3\t1.5\n\n## Notes\na & b"
    );
}

#[test]
fn pdf_text_and_pages() {
    let bytes = pdf(&["Hello PDF", "Second page"]);
    let done = extract_text(Format::Pdf, &bytes, &Limits::default()).unwrap();
    assert_eq!(done.pages, Some(2));
    assert!(done.text.contains("Hello PDF"), "{:?}", done.text);
    assert!(done.text.contains("Second page"), "{:?}", done.text);
    assert!(!done.text.contains("\n\n\n"));
    assert!(!done.truncated);
}

#[test]
fn pdf_needing_a_password_is_encrypted() {
    let bytes = encrypted_pdf("secret");
    assert_eq!(detect("locked.pdf", None, &bytes), Ok(Format::Pdf));
    let err = extract_text(Format::Pdf, &bytes, &Limits::default()).unwrap_err();
    assert_eq!(
        err,
        Error::Encrypted("This PDF is encrypted; its text cannot be read.".into())
    );
}

/// Encrypted with an empty user password (only copying is restricted):
/// readers open it without asking, and so does this crate.
#[test]
fn pdf_with_empty_user_password_is_read() {
    let bytes = encrypted_pdf("");
    let done = extract_text(Format::Pdf, &bytes, &Limits::default()).unwrap();
    assert!(done.text.contains("Secret text"), "{:?}", done.text);
}

#[test]
fn pdf_with_a_bogus_encrypt_entry_is_not_read() {
    let mut doc = pdf_document(&["Hello"]);
    let enc = doc.add_object(dictionary! {
        "Filter" => "Standard", "V" => 2, "R" => 3, "Length" => 128, "P" => -4,
        "O" => lopdf::Object::string_literal(vec![1u8; 32]),
        "U" => lopdf::Object::string_literal(vec![2u8; 32]),
    });
    doc.trailer.set("Encrypt", enc);
    let bytes = save(doc);
    let err = extract_text(Format::Pdf, &bytes, &Limits::default()).unwrap_err();
    assert!(
        matches!(err, Error::Encrypted(_) | Error::Malformed(_)),
        "{err:?}"
    );
}

/// A page showing form XObjects: `forms[i]` is the content of form `Xi`,
/// and every form sees the page's resources (it has none of its own).
fn pdf_with_forms(page_content: &str, forms: &[&str]) -> Vec<u8> {
    let mut doc = pdf_document(&["Hello"]);
    let page_id = doc.page_iter().next().unwrap();
    let font_id = doc.add_object(dictionary! {
        "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica",
    });
    let ids: Vec<lopdf::ObjectId> = forms.iter().map(|_| doc.new_object_id()).collect();
    let mut xobjects = lopdf::Dictionary::new();
    for (i, (content, id)) in forms.iter().zip(&ids).enumerate() {
        let stream = lopdf::Stream::new(
            dictionary! { "Type" => "XObject", "Subtype" => "Form", "BBox" => vec![0.into(), 0.into(), 595.into(), 842.into()] },
            content.as_bytes().to_vec(),
        );
        doc.objects.insert(*id, lopdf::Object::Stream(stream));
        xobjects.set(format!("X{i}"), *id);
    }
    let content_id = doc.add_object(lopdf::Stream::new(
        dictionary! {},
        page_content.as_bytes().to_vec(),
    ));
    let page = doc.get_object_mut(page_id).unwrap().as_dict_mut().unwrap();
    page.set("Contents", content_id);
    page.set(
        "Resources",
        dictionary! { "Font" => dictionary! { "F1" => font_id }, "XObject" => xobjects },
    );
    save(doc)
}

#[test]
fn pdf_forms_are_read_and_loops_refused() {
    // Nested forms are read.
    let bytes = pdf_with_forms(
        "/X0 Do",
        &["/X1 Do", "BT /F1 12 Tf 72 700 Td (Nested text) Tj ET"],
    );
    assert!(text_of(Format::Pdf, &bytes).contains("Nested text"));
    // A form that draws itself, and two that draw each other: pdf-extract
    // would recurse until the stack overflows (an abort, not a panic).
    for forms in [&["/X0 Do"][..], &["/X1 Do", "/X0 Do"][..]] {
        let bytes = pdf_with_forms("/X0 Do", forms);
        let err = extract_text(Format::Pdf, &bytes, &Limits::default()).unwrap_err();
        assert!(matches!(err, Error::Malformed(_)), "{err:?}");
    }
    // Ten forms each drawing the next one ten times: 10^9 calls.
    let fan = "/X{n} Do ".repeat(10);
    let forms: Vec<String> = (0..10)
        .map(|i| fan.replace("{n}", &(i + 1).to_string()))
        .collect();
    let refs: Vec<&str> = forms.iter().map(String::as_str).collect();
    let start = Instant::now();
    let err = extract_text(
        Format::Pdf,
        &pdf_with_forms("/X0 Do", &refs),
        &Limits::default(),
    )
    .unwrap_err();
    assert!(matches!(err, Error::TooLarge(_)), "{err:?}");
    assert!(start.elapsed() < Duration::from_secs(10));
}

#[test]
fn pdf_page_that_is_its_own_parent_is_refused() {
    let mut doc = pdf_document(&["Hello"]);
    let page_id = doc.page_iter().next().unwrap();
    let pages_id = doc
        .catalog()
        .unwrap()
        .get(b"Pages")
        .unwrap()
        .as_reference()
        .unwrap();
    // The page tree node loses its resources and media box and becomes
    // its own parent: looking them up would never end.
    let pages = doc.get_object_mut(pages_id).unwrap().as_dict_mut().unwrap();
    pages.remove(b"Resources");
    pages.remove(b"MediaBox");
    pages.set("Parent", pages_id);
    let _ = page_id;
    let bytes = save(doc);
    let err = extract_text(Format::Pdf, &bytes, &Limits::default()).unwrap_err();
    assert!(matches!(err, Error::Malformed(_)), "{err:?}");
}

#[test]
fn pdf_stream_bomb_is_too_large() {
    use std::io::Write as _;
    // A page content stream of 100 MiB of spaces, deflated to ~100 KB.
    let mut doc = pdf_document(&["Hello"]);
    let page_id = doc.page_iter().next().unwrap();
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    let spaces = vec![b' '; 1 << 20];
    for _ in 0..100 {
        z.write_all(&spaces).unwrap();
    }
    let packed = z.finish().unwrap();
    // Twice deflated: the first stage is small, the second the bomb.
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    z.write_all(&packed).unwrap();
    let twice = z.finish().unwrap();
    let filters = vec![
        lopdf::Object::Name(b"FlateDecode".to_vec()),
        lopdf::Object::Name(b"FlateDecode".to_vec()),
    ];
    let twice_id = doc.add_object(
        lopdf::Stream::new(dictionary! { "Filter" => filters }, twice).with_compression(false),
    );
    let mut doc2 = doc.clone();
    doc2.get_object_mut(page_id)
        .unwrap()
        .as_dict_mut()
        .unwrap()
        .set("Contents", twice_id);
    let err = extract_text(Format::Pdf, &save(doc2), &Limits::default()).unwrap_err();
    assert!(matches!(err, Error::TooLarge(_)), "{err:?}");
    let content_id = doc.add_object(
        lopdf::Stream::new(dictionary! { "Filter" => "FlateDecode" }, packed)
            .with_compression(false),
    );
    doc.get_object_mut(page_id)
        .unwrap()
        .as_dict_mut()
        .unwrap()
        .set("Contents", content_id);
    let bytes = save(doc);
    assert!(bytes.len() < 1 << 20);
    let err = extract_text(Format::Pdf, &bytes, &Limits::default()).unwrap_err();
    assert!(matches!(err, Error::TooLarge(_)), "{err:?}");

    // The same with LZW.
    let mut doc = pdf_document(&["Hello"]);
    let page_id = doc.page_iter().next().unwrap();
    let mut lzw = weezl::encode::Encoder::with_tiff_size_switch(weezl::BitOrder::Msb, 8);
    let big = vec![b' '; 80 << 20];
    let packed = lzw.encode(&big).unwrap();
    drop(big);
    let content_id = doc.add_object(
        lopdf::Stream::new(dictionary! { "Filter" => "LZWDecode" }, packed).with_compression(false),
    );
    doc.get_object_mut(page_id)
        .unwrap()
        .as_dict_mut()
        .unwrap()
        .set("Contents", content_id);
    let err = extract_text(Format::Pdf, &save(doc), &Limits::default()).unwrap_err();
    assert!(matches!(err, Error::TooLarge(_)), "{err:?}");
}

#[test]
fn malformed_pdfs_do_not_panic() {
    let good = pdf(&["Hello PDF"]);
    for bytes in [
        good[..good.len() / 2].to_vec(),
        good[..40].to_vec(),
        b"%PDF-1.7\n\x00\x01garbage garbage\n%%EOF".to_vec(),
        b"%PDF-".to_vec(),
    ] {
        match extract_text(Format::Pdf, &bytes, &Limits::default()) {
            Err(Error::Malformed(_)) => {}
            Ok(done) => assert!(!done.text.contains("Hello PDF") || bytes.len() > 40),
            Err(e) => panic!("unexpected error {e:?}"),
        }
    }
}

#[test]
fn korean_pdf_without_tounicode_does_not_panic() {
    let bytes = korean_cid_pdf();
    assert_eq!(detect("한글.pdf", None, &bytes), Ok(Format::Pdf));
    let _ = extract_text(Format::Pdf, &bytes, &Limits::default());
}

#[test]
fn text_is_truncated_at_the_cap() {
    let limits = Limits {
        max_text_bytes: 1000,
        ..Limits::default()
    };
    let long = "가나다라마바사 ".repeat(500);
    let bytes = docx(&[&long], &[]);
    let done = extract_text(Format::Docx, &bytes, &limits).unwrap();
    assert!(done.truncated);
    assert!(done.text.len() <= 1000);
    let pages: Vec<String> = (0..40)
        .map(|i| format!("Page number {i} with some words"))
        .collect();
    let refs: Vec<&str> = pages.iter().map(String::as_str).collect();
    let limits = Limits {
        max_text_bytes: 100,
        ..Limits::default()
    };
    let done = extract_text(Format::Pdf, &pdf(&refs), &limits).unwrap();
    assert!(done.truncated);
    assert!(done.text.len() <= 100);
    assert_eq!(done.pages, Some(40));
}

#[test]
fn text_box_fallbacks_are_not_doubled() {
    let document = r#"<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="w" xmlns:mc="mc"><w:body><w:p><w:r><mc:AlternateContent><mc:Choice Requires="wps"><w:txbxContent><w:p><w:r><w:t>상자 안</w:t></w:r></w:p></w:txbxContent></mc:Choice><mc:Fallback><w:pict><w:txbxContent><w:p><w:r><w:t>상자 안</w:t></w:r></w:p></w:txbxContent></w:pict></mc:Fallback></mc:AlternateContent></w:r></w:p><w:p><w:r><w:t>본문 &amp; &#xAC00;</w:t></w:r></w:p></w:body></w:document>"#;
    let bytes = zip_of(&[("word/document.xml", document.as_bytes())]);
    assert_eq!(text_of(Format::Docx, &bytes), "상자 안\n\n본문 & 가");
    // An unclosed fallback ends with the part, not in a loop.
    let cut = r#"<w:document xmlns:w="w" xmlns:mc="mc"><w:body><mc:Fallback><w:p>"#;
    let bytes = zip_of(&[("word/document.xml", cut.as_bytes())]);
    let _ = extract_text(Format::Docx, &bytes, &Limits::default());
}

/// A part that unpacks to more than the zip declares: the zip reader stops
/// at the declared size (so calamine, which unpacks on its own, is bounded
/// by the declared sizes this crate checks).
#[test]
fn parts_larger_than_declared_are_refused() {
    let big = vec![b'a'; 4 << 20];
    for (name, format) in [
        ("word/document.xml", Format::Docx),
        ("xl/workbook.xml", Format::Xlsx),
    ] {
        let mut bytes = zip_of(&[(name, &big)]);
        patch_declared_sizes(&mut bytes, 1000);
        let err = extract_text(format, &bytes, &Limits::default()).unwrap_err();
        assert!(matches!(err, Error::Malformed(_)), "{format:?}: {err:?}");
    }
}

/// Rewrites the uncompressed size in every local and central header.
fn patch_declared_sizes(zip: &mut [u8], size: u32) {
    let mut i = 0;
    while i + 4 <= zip.len() {
        let at = match &zip[i..i + 4] {
            b"PK\x03\x04" => Some(i + 22),
            b"PK\x01\x02" => Some(i + 24),
            _ => None,
        };
        if let Some(at) = at {
            zip[at..at + 4].copy_from_slice(&size.to_le_bytes());
        }
        i += 1;
    }
}

// ---- zip safety ----

#[test]
fn docx_zip_bomb_is_too_large() {
    // One part of 200 MiB of zeros: about 200 KB packed.
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(1))
        .large_file(true);
    w.start_file("[Content_Types].xml", opts).unwrap();
    w.write_all(b"<Types/>").unwrap();
    w.start_file("word/document.xml", opts).unwrap();
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..200 {
        w.write_all(&zeros).unwrap();
    }
    let bytes = w.finish().unwrap().into_inner();
    assert!(bytes.len() < 2 << 20, "packed to {} bytes", bytes.len());
    assert_eq!(detect("bomb.docx", None, &bytes), Ok(Format::Docx));
    let err = extract_text(Format::Docx, &bytes, &Limits::default()).unwrap_err();
    assert_eq!(
        err,
        Error::TooLarge("The document is too large when unpacked (zip bomb?).".into())
    );
    // Calamine unpacks on its own: the declared sizes are checked first.
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    w.start_file("xl/workbook.xml", opts).unwrap();
    w.write_all(b"<workbook/>").unwrap();
    w.start_file("xl/sharedStrings.xml", opts).unwrap();
    for _ in 0..100 {
        w.write_all(&zeros).unwrap();
    }
    let bytes = w.finish().unwrap().into_inner();
    let err = extract_text(Format::Xlsx, &bytes, &Limits::default()).unwrap_err();
    assert!(matches!(err, Error::TooLarge(_)), "{err:?}");
}

#[test]
fn zip_with_too_many_entries_is_refused() {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    w.start_file("word/document.xml", opts).unwrap();
    w.write_all(b"<w:document/>").unwrap();
    for i in 0..20_000 {
        w.start_file(format!("f/{i}"), opts).unwrap();
    }
    let bytes = w.finish().unwrap().into_inner();
    let err = extract_text(Format::Docx, &bytes, &Limits::default()).unwrap_err();
    assert!(matches!(err, Error::TooLarge(_)), "{err:?}");
    assert!(err.to_string().contains("too many parts"), "{err}");
}

// ---- images ----

#[test]
fn large_jpeg_is_scaled_to_the_long_side() {
    let bytes = encode(&rgb_image(4000, 3000), image::ImageFormat::Jpeg);
    let limits = Limits::default();
    let start = Instant::now();
    let p = prepare_image(Format::Jpeg, &bytes, 1568, &limits).unwrap();
    let spent = start.elapsed();
    assert_eq!((p.width, p.height), (1568, 1176));
    assert_eq!((p.original_width, p.original_height), (4000, 3000));
    assert_eq!(p.mime, "image/jpeg");
    let back = image::load_from_memory(&p.bytes).unwrap();
    assert_eq!((back.width(), back.height()), (1568, 1176));
    eprintln!("12 MP JPEG prepared in {spent:?} (debug build)");
}

#[test]
fn jpeg_exif_orientation_is_applied() {
    use image::ImageEncoder as _;
    // EXIF (TIFF, big-endian) with one entry: Orientation = 6 (turn 90° clockwise).
    let mut exif = b"MM\x00\x2a\x00\x00\x00\x08\x00\x01".to_vec();
    exif.extend_from_slice(&[
        0x01, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01, 0x00, 0x06, 0x00, 0x00,
    ]);
    exif.extend_from_slice(&[0, 0, 0, 0]);
    let img = rgb_image(400, 200);
    let mut bytes = Vec::new();
    let mut enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 90);
    enc.set_exif_metadata(exif).unwrap();
    enc.write_image(img.as_bytes(), 400, 200, image::ExtendedColorType::Rgb8)
        .unwrap();
    let p = prepare_image(Format::Jpeg, &bytes, 100, &Limits::default()).unwrap();
    assert_eq!((p.original_width, p.original_height), (200, 400));
    assert_eq!((p.width, p.height), (50, 100));
}

#[test]
fn image_over_the_allocation_cap_is_too_large() {
    let bytes = encode(&rgb_image(1000, 1000), image::ImageFormat::Png);
    let limits = Limits {
        max_image_alloc: 1 << 20,
        ..Limits::default()
    };
    let err = prepare_image(Format::Png, &bytes, 1568, &limits).unwrap_err();
    assert!(matches!(err, Error::TooLarge(_)), "{err:?}");
    let limits = Limits {
        max_image_pixels: 999_999,
        ..Limits::default()
    };
    let err = prepare_image(Format::Png, &bytes, 1568, &limits).unwrap_err();
    assert!(matches!(err, Error::TooLarge(_)), "{err:?}");
}

#[test]
fn small_images_are_not_enlarged() {
    let bytes = encode(&rgb_image(300, 200), image::ImageFormat::WebP);
    let p = prepare_image(Format::WebP, &bytes, 1568, &Limits::default()).unwrap();
    assert_eq!((p.width, p.height), (300, 200));
    assert_eq!(p.mime, "image/jpeg");
}

#[test]
fn png_with_alpha_stays_png() {
    let img = image::DynamicImage::ImageRgba8(image::RgbaImage::from_fn(2000, 500, |x, _| {
        image::Rgba([255, 0, 0, (x % 256) as u8])
    }));
    let bytes = encode(&img, image::ImageFormat::Png);
    let p = prepare_image(Format::Png, &bytes, 1000, &Limits::default()).unwrap();
    assert_eq!(p.mime, "image/png");
    assert_eq!((p.width, p.height), (1000, 250));
    let back = image::load_from_memory(&p.bytes).unwrap();
    assert!(back.color().has_alpha());
    // An alpha channel that is all opaque goes to JPEG.
    let opaque = image::DynamicImage::ImageRgba8(image::RgbaImage::from_pixel(
        10,
        10,
        image::Rgba([1, 2, 3, 255]),
    ));
    let p = prepare_image(
        Format::Png,
        &encode(&opaque, image::ImageFormat::Png),
        1568,
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(p.mime, "image/jpeg");
}

#[test]
fn gif_first_frame() {
    use image::codecs::gif::GifEncoder;
    use image::{Delay, Frame, Rgba, RgbaImage};
    let mut bytes = Vec::new();
    {
        let mut enc = GifEncoder::new(&mut bytes);
        for color in [[0u8, 0, 255, 255], [255, 0, 0, 255]] {
            let frame = Frame::from_parts(
                RgbaImage::from_pixel(40, 30, Rgba(color)),
                0,
                0,
                Delay::from_numer_denom_ms(100, 1),
            );
            enc.encode_frame(frame).unwrap();
        }
    }
    assert_eq!(detect("anim.gif", None, &bytes), Ok(Format::Gif));
    let p = prepare_image(Format::Gif, &bytes, 1568, &Limits::default()).unwrap();
    assert_eq!((p.width, p.height), (40, 30));
    let back = image::load_from_memory(&p.bytes).unwrap().to_rgb8();
    let px = back.get_pixel(20, 15).0;
    assert!(px[2] > 200 && px[0] < 50, "first frame is blue, got {px:?}");
}

#[test]
fn png_header_claiming_a_huge_image_is_too_large_quickly() {
    // A PNG signature and an IHDR of 100000 x 100000, RGBA, and nothing else.
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend_from_slice(&100_000u32.to_be_bytes());
    ihdr.extend_from_slice(&100_000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 6, 0, 0, 0]);
    bytes.extend_from_slice(&13u32.to_be_bytes());
    bytes.extend_from_slice(&ihdr);
    bytes.extend_from_slice(&crc32(&ihdr).to_be_bytes());
    // A few bytes of image data (a zlib stream of one stored zero byte).
    let mut idat = b"IDAT".to_vec();
    idat.extend_from_slice(&[
        0x78, 0x01, 0x01, 0x01, 0x00, 0xFE, 0xFF, 0x00, 0x00, 0x01, 0x00, 0x01,
    ]);
    bytes.extend_from_slice(&((idat.len() - 4) as u32).to_be_bytes());
    bytes.extend_from_slice(&idat);
    bytes.extend_from_slice(&crc32(&idat).to_be_bytes());
    bytes.extend_from_slice(&[0, 0, 0, 0]);
    bytes.extend_from_slice(b"IEND");
    bytes.extend_from_slice(&crc32(b"IEND").to_be_bytes());
    assert_eq!(detect("bomb.png", None, &bytes), Ok(Format::Png));
    let start = Instant::now();
    let err = prepare_image(Format::Png, &bytes, 1568, &Limits::default()).unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(1));
    assert!(matches!(err, Error::TooLarge(_)), "{err:?}");
    assert!(err.to_string().contains("100000×100000"), "{err}");
}

#[test]
fn damaged_image_is_malformed() {
    let bytes = encode(&rgb_image(64, 64), image::ImageFormat::Png);
    let err = prepare_image(
        Format::Png,
        &bytes[..bytes.len() / 2],
        1568,
        &Limits::default(),
    )
    .unwrap_err();
    assert!(matches!(err, Error::Malformed(_)), "{err:?}");
    assert!(matches!(
        prepare_image(Format::Pdf, &bytes, 1568, &Limits::default()),
        Err(Error::Unsupported(_))
    ));
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

// ---- no panics on damaged input ----

#[test]
fn mutated_documents_never_panic() {
    let (cp949, _, _) = encoding_rs::EUC_KR.encode("이름,나이\n김,3\n");
    let img = rgb_image(40, 30);
    let samples: Vec<(&str, Vec<u8>)> = vec![
        ("a.docx", docx(&["안녕 hello", "x\ty"], &[&["a", "b"]])),
        ("a.pptx", pptx(&[&["하나"], &["둘", "셋"]])),
        (
            "a.xlsx",
            xlsx(&[("S", &[&[Cell::Text("가"), Cell::Number(2.0)]])]),
        ),
        ("a.pdf", pdf(&["Hello PDF", "Second"])),
        ("b.pdf", korean_cid_pdf()),
        ("a.csv", cp949.into_owned()),
        ("a.txt", "plain 텍스트\n".as_bytes().to_vec()),
        ("a.png", encode(&img, image::ImageFormat::Png)),
        ("a.jpg", encode(&img, image::ImageFormat::Jpeg)),
        ("a.gif", encode(&img, image::ImageFormat::Gif)),
        ("a.webp", encode(&img, image::ImageFormat::WebP)),
    ];
    let limits = Limits::default();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for (name, original) in &samples {
        for round in 0..60 {
            let mut bytes = original.clone();
            match round % 4 {
                // Flip a few bytes.
                0 | 1 => {
                    for _ in 0..1 + rng.below(8) {
                        let i = rng.below(bytes.len());
                        bytes[i] ^= 1 << rng.below(8);
                    }
                }
                // Cut the end off.
                2 => bytes.truncate(rng.below(bytes.len())),
                // Overwrite a run with random bytes.
                _ => {
                    let start = rng.below(bytes.len());
                    let end = (start + 1 + rng.below(64)).min(bytes.len());
                    for b in &mut bytes[start..end] {
                        *b = rng.next() as u8;
                    }
                }
            }
            // Whatever the type turns out to be, reading it must not panic.
            let format = detect(name, None, &bytes).ok();
            let formats = [
                Format::Pdf,
                Format::Docx,
                Format::Pptx,
                Format::Xlsx,
                Format::Csv,
                Format::Text,
            ];
            for f in format.into_iter().chain(formats) {
                if f.is_image() {
                    let _ = prepare_image(f, &bytes, 64, &limits);
                } else {
                    let _ = extract_text(f, &bytes, &limits);
                }
            }
        }
    }
}
