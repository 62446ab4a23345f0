//! HWPX: round trips through the writer and hand-built edge cases.

use std::io::{Cursor, Write};

use daehwa_hwp::write::{self, HwpOptions};
use daehwa_hwp::{is_hwp, is_hwpx, read_hwpx, Error, Limits};
use zip::write::SimpleFileOptions;

const HEAD: &str = r#"<?xml version="1.0" encoding="UTF-8"?><hs:sec xmlns:hs="http://www.hancom.co.kr/hwpml/2011/section" xmlns:hp="http://www.hancom.co.kr/hwpml/2011/paragraph">"#;

fn sec(body: &str) -> Vec<u8> {
    format!("{HEAD}{body}</hs:sec>").into_bytes()
}

/// A zip of those entries (deflated), no content.hpf unless given.
fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, data) in entries {
        zip.start_file(*name, SimpleFileOptions::default()).unwrap();
        zip.write_all(data).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

#[test]
fn korean_round_trip() {
    let paras = [
        "대화는 한 파일에 저장됩니다.",
        "표 안의 글자",
        "한글 English 123\t탭 뒤 <꺾쇠> & \"따옴표\"",
        "",
        "줄 바꿈\n다음 줄",
    ];
    let file = write::hwpx(&paras);
    assert!(is_hwpx(&file));
    assert!(!is_hwp(&file));
    let text = read_hwpx(&file, &Limits::default()).unwrap();
    assert_eq!(
        text.text,
        "대화는 한 파일에 저장됩니다.\n표 안의 글자\n한글 English 123\t탭 뒤 <꺾쇠> & \"따옴표\"\n\n줄 바꿈\n다음 줄\n"
    );
    assert!(!text.truncated);
    assert_eq!(text.sections, 1);
}

#[test]
fn sections_in_spine_order() {
    let file = write::hwpx_sections(&[&["첫째"], &["둘째"], &["셋째"]]);
    let text = read_hwpx(&file, &Limits::default()).unwrap();
    assert_eq!(text.text, "첫째\n둘째\n셋째\n");
    assert_eq!(text.sections, 3);

    // The spine decides, whatever the names.
    let a = sec("<hp:p><hp:run><hp:t>가</hp:t></hp:run></hp:p>");
    let b = sec("<hp:p><hp:run><hp:t>나</hp:t></hp:run></hp:p>");
    let file = write::hwpx_raw(
        &[
            ("Contents/section10.xml".into(), &a[..]),
            ("Contents/section2.xml".into(), &b[..]),
        ],
        None,
    );
    assert_eq!(
        read_hwpx(&file, &Limits::default()).unwrap().text,
        "가\n나\n"
    );
}

#[test]
fn sections_in_numeric_order_without_content_hpf() {
    let parts: Vec<(String, Vec<u8>)> = [10, 2, 0, 1, 11, 9]
        .iter()
        .map(|n| {
            (
                format!("Contents/section{n}.xml"),
                sec(&format!("<hp:p><hp:run><hp:t>{n}</hp:t></hp:run></hp:p>")),
            )
        })
        .collect();
    let mut entries: Vec<(&str, &[u8])> = vec![("META-INF/container.xml", b"<x/>")];
    entries.extend(parts.iter().map(|(n, d)| (n.as_str(), &d[..])));
    let file = zip_of(&entries);
    assert!(is_hwpx(&file));
    let text = read_hwpx(&file, &Limits::default()).unwrap();
    assert_eq!(text.text, "0\n1\n2\n9\n10\n11\n");
    assert_eq!(text.sections, 6);
}

#[test]
fn tables_entities_and_inline_elements() {
    let body = r#"<hp:p><hp:run><hp:t>성적표</hp:t><hp:tbl><hp:tr>
        <hp:tc><hp:subList><hp:p><hp:run><hp:t>이름</hp:t></hp:run></hp:p></hp:subList></hp:tc>
        <hp:tc><hp:subList><hp:p><hp:run><hp:t>국어</hp:t></hp:run></hp:p></hp:subList></hp:tc>
      </hp:tr></hp:tbl></hp:run></hp:p>
      <hp:p><hp:run><hp:tbl><hp:tr><hp:tc><hp:subList><hp:p><hp:run><hp:t>셀만</hp:t></hp:run></hp:p></hp:subList></hp:tc></hp:tr></hp:tbl></hp:run></hp:p>
      <hp:p><hp:run><hp:t>A &amp; B &lt;C&gt; &#xAC00;&#44032; <![CDATA[<D>]]></hp:t></hp:run></hp:p>
      <hp:p><hp:run><hp:t>탭<hp:tab width="4000" leader="0" type="1"/>뒤<hp:lineBreak/>다음<hp:nbSpace/>줄<hp:fwSpace/>끝</hp:t></hp:run></hp:p>
      <p><run><t>접두어 없음</t></run></p>
      <hp:p><hp:run><hp:secPr><hp:t>설정 밖의 글자 아님</hp:t></hp:secPr></hp:run></hp:p>
      <hp:p/>
      <hp:p><hp:run><hp:t/></hp:run></hp:p>
      <hp:p><hp:run><hp:t>끝</hp:t></hp:run></hp:p>"#;
    let file = write::hwpx_raw(&[("Contents/section0.xml".into(), &sec(body)[..])], None);
    let text = read_hwpx(&file, &Limits::default()).unwrap();
    assert_eq!(
        text.text,
        "성적표\n이름\n국어\n셀만\nA & B <C> 가가 <D>\n탭\t뒤\n다음 줄 끝\n접두어 없음\n설정 밖의 글자 아님\n\n\n끝\n"
    );
}

#[test]
fn encrypted_manifest_is_refused() {
    let manifest = r#"<?xml version="1.0" encoding="UTF-8"?><odf:manifest xmlns:odf="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"><odf:file-entry odf:full-path="Contents/section0.xml" odf:media-type="application/xml" odf:size="1234"><odf:encryption-data odf:checksum-type="SHA1" odf:checksum="AAAA"><odf:algorithm odf:algorithm-name="AES" odf:initialisation-vector="AAAA"/><odf:key-derivation odf:key-derivation-name="PBKDF2" odf:iteration-count="1024" odf:salt="AAAA"/></odf:encryption-data></odf:file-entry></odf:manifest>"#;
    let section = b"\x8a\x01garbage that is not XML".to_vec();
    let file = write::hwpx_raw(
        &[("Contents/section0.xml".into(), &section[..])],
        Some(manifest),
    );
    assert!(is_hwpx(&file));
    assert_eq!(read_hwpx(&file, &Limits::default()), Err(Error::Encrypted));
}

#[test]
fn zip_bomb_is_too_large() {
    // A section of 16 MiB (spaces inside <hp:t>) in a zip of a few KiB,
    // read with a 1 MiB cap.
    let mut xml = Vec::with_capacity(17 << 20);
    xml.extend_from_slice(HEAD.as_bytes());
    xml.extend_from_slice(b"<hp:p><hp:run><hp:t>");
    xml.resize(xml.len() + (16 << 20), b' ');
    xml.extend_from_slice(b"</hp:t></hp:run></hp:p></hs:sec>");
    let file = write::hwpx_raw(&[("Contents/section0.xml".into(), &xml[..])], None);
    assert!(file.len() < 1 << 20);
    let limits = Limits {
        max_unpacked_bytes: 1 << 20,
        max_text_bytes: 64 << 20,
    };
    assert_eq!(read_hwpx(&file, &limits), Err(Error::TooLarge));

    // The cap covers all sections together.
    let para = "가".repeat(10_000);
    let file = write::hwpx_sections(&[&[para.as_str()], &[para.as_str()], &[para.as_str()]]);
    let small = Limits {
        max_unpacked_bytes: 50_000,
        ..Limits::default()
    };
    assert_eq!(read_hwpx(&file, &small), Err(Error::TooLarge));
    let enough = Limits {
        max_unpacked_bytes: 200_000,
        ..Limits::default()
    };
    assert_eq!(read_hwpx(&file, &enough).unwrap().sections, 3);
}

#[test]
fn too_many_entries_is_malformed() {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let stored = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    zip.start_file("mimetype", stored).unwrap();
    zip.write_all(b"application/hwp+zip").unwrap();
    for n in 0..10_001 {
        zip.start_file(format!("BinData/{n}"), stored).unwrap();
    }
    let file = zip.finish().unwrap().into_inner();
    assert!(!is_hwpx(&file));
    assert!(matches!(
        read_hwpx(&file, &Limits::default()),
        Err(Error::Malformed(_))
    ));
}

#[test]
fn not_hwpx() {
    let hwp = write::hwp(&["한글"], &HwpOptions::default());
    for bytes in [&b""[..], b"PK", b"hello", &hwp] {
        assert!(!is_hwpx(bytes));
        let err = read_hwpx(bytes, &Limits::default()).unwrap_err();
        assert!(
            matches!(err, Error::NotHwp | Error::Malformed(_)),
            "{err:?}"
        );
    }
    assert_eq!(read_hwpx(&hwp, &Limits::default()), Err(Error::NotHwp));
    // A zip that is some other document.
    let docx = zip_of(&[
        ("word/document.xml", b"<w:document/>"),
        ("[Content_Types].xml", b"<x/>"),
    ]);
    assert!(!is_hwpx(&docx));
    assert!(matches!(
        read_hwpx(&docx, &Limits::default()),
        Err(Error::Malformed(_))
    ));
    // Broken XML in a section.
    let broken = write::hwpx_raw(
        &[(
            "Contents/section0.xml".into(),
            &b"<hs:sec><hp:p><hp:t>a</hp:x></hs:sec>"[..],
        )],
        None,
    );
    assert!(matches!(
        read_hwpx(&broken, &Limits::default()),
        Err(Error::Malformed(_))
    ));
    // A cut file.
    let file = write::hwpx(&["대화"]);
    for len in (0..file.len()).step_by(31) {
        assert!(read_hwpx(&file[..len], &Limits::default()).is_err());
    }
}

#[test]
fn text_stops_at_the_limit() {
    let paras: Vec<String> = (0..500)
        .map(|n| format!("문단 {n}: 한글과 English"))
        .collect();
    let refs: Vec<&str> = paras.iter().map(String::as_str).collect();
    let file = write::hwpx(&refs);
    let full = read_hwpx(&file, &Limits::default()).unwrap();
    assert!(!full.truncated);
    for max in [0, 1, 5, 1000] {
        let limits = Limits {
            max_text_bytes: max,
            ..Limits::default()
        };
        let text = read_hwpx(&file, &limits).unwrap();
        assert!(text.truncated);
        assert!(text.text.len() <= max && text.text.len() + 4 > max);
        assert!(full.text.starts_with(&text.text));
    }
}
