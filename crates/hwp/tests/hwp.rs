//! HWP 5.0: round trips through the writer and hand-built edge cases.

use daehwa_hwp::write::{self, HwpOptions};
use daehwa_hwp::{is_hwp, is_hwpx, read_hwp, Error, Limits};

const TAG_PARA_HEADER: u16 = 66;
const TAG_PARA_TEXT: u16 = 67;

fn plain() -> HwpOptions {
    HwpOptions {
        compressed: false,
        ..HwpOptions::default()
    }
}

fn utf16(units: &[u16]) -> Vec<u8> {
    units.iter().flat_map(|u| u.to_le_bytes()).collect()
}

fn text_units(s: &str) -> Vec<u16> {
    s.encode_utf16().collect()
}

fn para(level: u16, units: &[u16]) -> Vec<u8> {
    let mut out = write::record(TAG_PARA_HEADER, level, &[0u8; 22]);
    out.extend(write::record(TAG_PARA_TEXT, level + 1, &utf16(units)));
    out
}

const PARAS: [&str; 4] = [
    "대화는 한 파일에 저장됩니다.",
    "표 안의 글자",
    "한글 English 123\t탭 뒤의 글자",
    "줄 바꿈\n다음 줄",
];
const EXPECTED: &str = "대화는 한 파일에 저장됩니다.\n표 안의 글자\n한글 English 123\t탭 뒤의 글자\n줄 바꿈\n다음 줄\n";

#[test]
fn korean_round_trip_compressed() {
    let file = write::hwp(&PARAS, &HwpOptions::default());
    assert!(is_hwp(&file));
    assert!(!is_hwpx(&file));
    let text = read_hwp(&file, &Limits::default()).unwrap();
    assert_eq!(text.text, EXPECTED);
    assert!(!text.truncated);
    assert_eq!(text.sections, 1);
}

#[test]
fn korean_round_trip_uncompressed() {
    let file = write::hwp(&PARAS, &plain());
    assert!(is_hwp(&file));
    let text = read_hwp(&file, &Limits::default()).unwrap();
    assert_eq!(text.text, EXPECTED);
}

#[test]
fn sections_come_in_numeric_order() {
    let names: Vec<String> = (0..12).map(|n| format!("구역 {n}")).collect();
    let paras: Vec<[&str; 1]> = names.iter().map(|n| [n.as_str()]).collect();
    let sections: Vec<&[&str]> = paras.iter().map(|p| &p[..]).collect();
    for opts in [HwpOptions::default(), plain()] {
        let file = write::hwp_sections(&sections, &opts);
        let text = read_hwp(&file, &Limits::default()).unwrap();
        let want: String = names.iter().map(|n| format!("{n}\n")).collect();
        assert_eq!(
            text.text, want,
            "Section10 comes after Section9, not after Section1"
        );
        assert_eq!(text.sections, 12);
    }
}

#[test]
fn password_flag_is_encrypted() {
    let opts = HwpOptions {
        password: true,
        ..HwpOptions::default()
    };
    let file = write::hwp(&PARAS, &opts);
    assert!(is_hwp(&file));
    let err = read_hwp(&file, &Limits::default()).unwrap_err();
    assert_eq!(err, Error::Encrypted);
    assert_eq!(
        err.to_string(),
        "This HWP document is protected by a password; its text cannot be read."
    );
}

#[test]
fn distribution_flag_is_refused() {
    let opts = HwpOptions {
        distribution: true,
        ..HwpOptions::default()
    };
    let file = write::hwp(&PARAS, &opts);
    let err = read_hwp(&file, &Limits::default()).unwrap_err();
    assert_eq!(err, Error::Distribution);
    assert_eq!(
        err.to_string(),
        "This is a distribution (read-only) HWP document; its text cannot be read."
    );
}

#[test]
fn not_hwp() {
    for bytes in [
        &b""[..],
        b"hello, world",
        b"HWP Document File",
        &write::hwpx(&["한글"]),
    ] {
        assert!(!is_hwp(bytes));
        assert_eq!(read_hwp(bytes, &Limits::default()), Err(Error::NotHwp));
    }
    // An OLE compound file without an HWP FileHeader (a .doc, say).
    let mut ole = cfb::CompoundFile::create(std::io::Cursor::new(Vec::new())).unwrap();
    std::io::Write::write_all(&mut ole.create_stream("/WordDocument").unwrap(), b"x").unwrap();
    ole.flush().unwrap();
    let doc = ole.into_inner().into_inner();
    assert!(!is_hwp(&doc));
    assert_eq!(read_hwp(&doc, &Limits::default()), Err(Error::NotHwp));
}

#[test]
fn truncated_file_is_malformed() {
    let file = write::hwp(&PARAS, &HwpOptions::default());
    for len in [8, 100, 512, file.len() / 2] {
        match read_hwp(&file[..len], &Limits::default()) {
            Err(Error::Malformed(_)) => {}
            other => panic!("cut at {len}: {other:?}"),
        }
    }
    // Any cut: an answer, never a panic (the tail of the last sector is
    // padding, so a short cut there may still read).
    for len in (0..file.len()).step_by(97) {
        let _ = read_hwp(&file[..len], &Limits::default());
    }
}

#[test]
fn record_past_the_end_is_malformed() {
    let mut records = para(0, &text_units("앞"));
    // A header claiming 100 bytes with only 10 behind it.
    records.extend_from_slice(&(u32::from(TAG_PARA_TEXT) | (1 << 10) | (100 << 20)).to_le_bytes());
    records.extend_from_slice(&[0x41; 10]);
    for opts in [HwpOptions::default(), plain()] {
        let file = write::hwp_raw(&[records.clone()], &opts);
        match read_hwp(&file, &Limits::default()) {
            Err(Error::Malformed(m)) => assert!(m.contains("section 0"), "{m}"),
            other => panic!("{other:?}"),
        }
    }
    // A record header cut in the middle.
    let mut cut = para(0, &text_units("앞"));
    cut.extend_from_slice(&[0x43, 0x04]);
    let file = write::hwp_raw(&[cut], &plain());
    assert!(matches!(
        read_hwp(&file, &Limits::default()),
        Err(Error::Malformed(_))
    ));
}

#[test]
fn extended_record_size() {
    // 3000 UTF-16 units = 6000 bytes: past 0xFFF, so the size is in an extra u32.
    let long: String = "가나다".repeat(1000);
    let rec = write::record(TAG_PARA_TEXT, 1, &utf16(&text_units(&long)));
    assert_eq!(
        u32::from_le_bytes(rec[..4].try_into().unwrap()) >> 20,
        0xFFF
    );
    assert_eq!(u32::from_le_bytes(rec[4..8].try_into().unwrap()), 6000);
    let file = write::hwp(&[&long, "끝"], &HwpOptions::default());
    let text = read_hwp(&file, &Limits::default()).unwrap();
    assert_eq!(text.text, format!("{long}\n끝\n"));
}

#[test]
fn control_characters() {
    let mut units = text_units("가");
    units.push(24); // hyphen
    units.extend(text_units("나"));
    units.push(30); // non-breaking space
    units.extend(text_units("다"));
    units.push(31); // fixed-width space
    units.push(0); // unusable
    units.extend([4, 1, 2, 3, 4, 5, 6, 4]); // field end: inline, skipped
    units.extend(text_units("라"));
    units.extend([9, 0, 0, 0, 0, 0, 0, 9]); // tab
    units.extend(text_units("마"));
    units.push(10); // line break
    units.extend([11, 0x6c74, 0x2062, 0, 0, 0, 0, 11]); // table ("tbl "): extended
    units.extend(text_units("바"));
    units.push(13);
    let mut records = para(0, &units);
    // The table's cells: paragraphs at deeper levels.
    records.extend(para(2, &[&text_units("표 안의 글자")[..], &[13]].concat()));
    records.extend(para(2, &[&text_units("셀 둘")[..], &[13]].concat()));
    // A paragraph that only anchors a drawing adds no blank line.
    records.extend(para(0, &[2, 0x6463, 0x7365, 0, 0, 0, 0, 2, 13]));
    // Empty paragraphs (header only, or text 13 alone) are blank lines;
    // more than two in a row are cut to two.
    for _ in 0..3 {
        records.extend(write::record(TAG_PARA_HEADER, 0, &[0u8; 22]));
    }
    records.extend(para(0, &[13]));
    records.extend(para(0, &text_units("끝"))); // no paragraph end: a newline all the same
                                                // An unpaired surrogate becomes U+FFFD.
    records.extend(para(0, &[0xD800, 0x41, 13]));
    let file = write::hwp_raw(&[records], &HwpOptions::default());
    let text = read_hwp(&file, &Limits::default()).unwrap();
    assert_eq!(
        text.text,
        "가-나 다 라\t마\n바\n표 안의 글자\n셀 둘\n\n\n끝\n\u{FFFD}A\n"
    );
}

#[test]
fn text_stops_at_the_limit() {
    let paras: Vec<String> = (0..1000)
        .map(|n| format!("문단 {n}: 한글과 English"))
        .collect();
    let refs: Vec<&str> = paras.iter().map(String::as_str).collect();
    let file = write::hwp(&refs, &HwpOptions::default());
    let full = read_hwp(&file, &Limits::default()).unwrap();
    assert!(!full.truncated);
    for max in [0, 1, 2, 3, 100, 1001] {
        let limits = Limits {
            max_text_bytes: max,
            ..Limits::default()
        };
        let text = read_hwp(&file, &limits).unwrap();
        assert!(text.truncated);
        assert!(text.text.len() <= max && text.text.len() + 4 > max);
        assert!(full.text.starts_with(&text.text));
    }
}

#[test]
fn unpacked_size_is_capped() {
    // A section that inflates to 100 MiB of zeros (25 M empty records) from
    // about 100 KiB: stopped at the 1 MiB cap.
    let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..100 {
        std::io::Write::write_all(&mut enc, &zeros).unwrap();
    }
    let bomb = enc.finish().unwrap();
    assert!(bomb.len() < 1 << 20);
    let mut ole = cfb::CompoundFile::create(std::io::Cursor::new(Vec::new())).unwrap();
    let header = {
        let mut h = vec![0u8; 256];
        h[..17].copy_from_slice(b"HWP Document File");
        h[32..36].copy_from_slice(&0x0500_0300u32.to_le_bytes());
        h[36] = 1; // compressed
        h
    };
    std::io::Write::write_all(&mut ole.create_stream("/FileHeader").unwrap(), &header).unwrap();
    ole.create_storage("/BodyText").unwrap();
    std::io::Write::write_all(&mut ole.create_stream("/BodyText/Section0").unwrap(), &bomb)
        .unwrap();
    ole.flush().unwrap();
    let file = ole.into_inner().into_inner();
    let limits = Limits {
        max_unpacked_bytes: 1 << 20,
        ..Limits::default()
    };
    assert_eq!(read_hwp(&file, &limits), Err(Error::TooLarge));
    assert_eq!(
        Error::TooLarge.to_string(),
        "The document is too large when unpacked."
    );

    // The cap is on all sections together, compressed or not.
    let para_text = "가".repeat(10_000);
    let one = [para_text.as_str()];
    let sections: Vec<&[&str]> = vec![&one[..]; 4];
    for opts in [HwpOptions::default(), plain()] {
        let file = write::hwp_sections(&sections, &opts);
        let limits = Limits {
            max_unpacked_bytes: 50_000,
            ..Limits::default()
        };
        assert_eq!(read_hwp(&file, &limits), Err(Error::TooLarge));
        let limits = Limits {
            max_unpacked_bytes: 100_000,
            ..Limits::default()
        };
        assert_eq!(read_hwp(&file, &limits).unwrap().sections, 4);
    }
}

#[test]
fn empty_body_is_malformed() {
    let file = write::hwp_sections(&[], &HwpOptions::default());
    assert!(matches!(
        read_hwp(&file, &Limits::default()),
        Err(Error::Malformed(_))
    ));
    let file = write::hwp(&[], &HwpOptions::default());
    assert_eq!(read_hwp(&file, &Limits::default()).unwrap().text, "");
}
