//! HWP and HWPX through daehwa-hwp (only with the `hwp` feature, which
//! needs the real sibling crate; its `write` module makes the documents).
#![cfg(feature = "hwp")]

use daehwa_extract::{detect, extract_text, Error, Format, Limits};
use daehwa_hwp::write::{hwp, hwpx, HwpOptions};

#[test]
fn hwp_and_hwpx_round_trip() {
    let paragraphs = ["안녕하세요, 한글 문서입니다.", "둘째 문단"];
    let hwp_bytes = hwp(&paragraphs, &HwpOptions::default());
    assert_eq!(detect("문서.hwp", None, &hwp_bytes), Ok(Format::Hwp));
    let done = extract_text(Format::Hwp, &hwp_bytes, &Limits::default()).unwrap();
    assert_eq!(done.text, "안녕하세요, 한글 문서입니다.\n둘째 문단");
    assert!(!done.truncated);

    let hwpx_bytes = hwpx(&paragraphs);
    assert_eq!(detect("문서.hwpx", None, &hwpx_bytes), Ok(Format::Hwpx));
    let done = extract_text(Format::Hwpx, &hwpx_bytes, &Limits::default()).unwrap();
    assert_eq!(done.text, "안녕하세요, 한글 문서입니다.\n둘째 문단");
}

#[test]
fn protected_hwp_is_encrypted() {
    for opts in [
        HwpOptions {
            password: true,
            ..HwpOptions::default()
        },
        HwpOptions {
            distribution: true,
            ..HwpOptions::default()
        },
    ] {
        let bytes = hwp(&["비밀"], &opts);
        assert_eq!(detect("a.hwp", None, &bytes), Ok(Format::Hwp));
        let err = extract_text(Format::Hwp, &bytes, &Limits::default()).unwrap_err();
        assert!(matches!(err, Error::Encrypted(_)), "{err:?}");
    }
}

#[test]
fn hwpx_text_is_capped() {
    let long = "가".repeat(10_000);
    let bytes = hwpx(&[&long]);
    let limits = Limits {
        max_text_bytes: 999,
        ..Limits::default()
    };
    let done = extract_text(Format::Hwpx, &bytes, &limits).unwrap();
    assert!(done.truncated);
    assert!(done.text.len() <= 999);
}

#[test]
fn mutated_hwp_documents_never_panic() {
    let samples = [
        ("a.hwp", hwp(&["한글 문단", "둘"], &HwpOptions::default())),
        ("a.hwpx", hwpx(&["한글 문단", "둘"])),
    ];
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for (name, original) in &samples {
        for round in 0..100 {
            let mut bytes = original.clone();
            if round % 3 == 2 {
                bytes.truncate(next() as usize % bytes.len());
            } else {
                for _ in 0..1 + next() % 8 {
                    let i = next() as usize % bytes.len();
                    bytes[i] ^= 1 << (next() % 8);
                }
            }
            let _ = detect(name, None, &bytes);
            for format in [Format::Hwp, Format::Hwpx] {
                let _ = extract_text(format, &bytes, &Limits::default());
            }
        }
    }
}
