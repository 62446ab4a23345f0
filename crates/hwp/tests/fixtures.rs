//! Real files made by Hangul (see tests/fixtures/README.md for their sources).

use daehwa_hwp::{is_hwp, is_hwpx, read_hwp, read_hwpx, Error, Limits};

fn fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn hwp_text_boxes() {
    let file = fixture("hwp-rs-draw_text.hwp");
    assert!(is_hwp(&file));
    assert!(!is_hwpx(&file));
    let text = read_hwp(&file, &Limits::default()).unwrap();
    assert_eq!(text.text, "글상자1\n글상자2\n");
    assert_eq!(text.sections, 1);
    assert!(!text.truncated);
}

#[test]
fn hwp_table() {
    let file = fixture("hwplib-table.hwp");
    assert!(is_hwp(&file));
    let text = read_hwp(&file, &Limits::default()).unwrap();
    let lines: Vec<&str> = text.text.lines().map(str::trim_end).collect();
    assert_eq!(lines[0], "표");
    assert_eq!(
        &lines[1..11],
        ["ABC", "123", "DEF", "GHI", "LMN", "OPQ", "STR", "UVM", "123", "456"]
    );
}

#[test]
fn hwp_real_distribution_document() {
    let file = fixture("hwplib-distribution.hwp");
    assert!(is_hwp(&file));
    assert_eq!(
        read_hwp(&file, &Limits::default()),
        Err(Error::Distribution)
    );
}

#[test]
fn hwpx_table() {
    let file = fixture("hwpxlib-Table.hwpx");
    assert!(is_hwpx(&file));
    assert!(!is_hwp(&file));
    let text = read_hwpx(&file, &Limits::default()).unwrap();
    let rows = [
        ["이름", "국어", "영어", "수학"],
        ["개똥이", "89", "65", "78"],
        ["칠득이", "77", "77", "77"],
        ["팔푼이", "88", "88", "88"],
        ["육손이", "66", "66", "66"],
    ];
    let cells: String = rows.iter().flatten().map(|c| format!("{c}\n")).collect();
    assert_eq!(
        text.text,
        format!("C반 기말고사\n\n\n날짜\n\n{cells}합계\n\n\n")
    );
}

#[test]
fn real_files_under_tight_limits() {
    for name in ["hwp-rs-draw_text.hwp", "hwplib-table.hwp"] {
        let file = fixture(name);
        let tiny = Limits {
            max_text_bytes: 4,
            max_unpacked_bytes: 64 << 20,
        };
        let text = read_hwp(&file, &tiny).unwrap();
        assert!(text.truncated && text.text.len() <= 4, "{name}");
        let no_room = Limits {
            max_text_bytes: 1 << 20,
            max_unpacked_bytes: 16,
        };
        assert_eq!(read_hwp(&file, &no_room), Err(Error::TooLarge), "{name}");
    }
    let file = fixture("hwpxlib-Table.hwpx");
    let no_room = Limits {
        max_text_bytes: 1 << 20,
        max_unpacked_bytes: 100,
    };
    assert_eq!(read_hwpx(&file, &no_room), Err(Error::TooLarge));
}
