//! Extraction time and peak memory (issue 20): a 100-page PDF, a 50-page
//! HWP and a 12-megapixel JPEG photo, all made in memory here.
//!
//! ```sh
//! cargo run --release -p daehwa-extract --example extract_bench            # 1 warm-up + 5 runs each
//! cargo run --release -p daehwa-extract --example extract_bench -- --runs 10
//! ```
//!
//! The parent builds the inputs, writes each to a temporary file and runs
//! every case in a fresh child process of itself (`--case NAME FILE`), so
//! each case's memory peak is its own. The child reads the file, notes its
//! peak RSS (`VmHWM` in `/proc/self/status`), runs `detect` +
//! `extract_text` (`prepare_image(…, 1568, …)` for the JPEG) once to warm
//! up and then `--runs` times, and reports the times and the growth of its
//! peak RSS: what the extraction needed beyond the input already in memory.
//! Off Linux the memory figures and the load average are "n/a".

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use daehwa_extract::{detect, extract_text, prepare_image, Format, Limits};

const PDF_PAGES: usize = 100;
const PDF_LINES_PER_PAGE: usize = 40;
/// About 2,500 characters a page: 40 lines of about 62.
const PDF_LINE_CHARS: usize = 62;
#[cfg(feature = "hwp")]
const HWP_SECTIONS: usize = 5;
#[cfg(feature = "hwp")]
const HWP_PAGES_PER_SECTION: usize = 10;
/// About 2,500 characters a "page": 25 paragraphs of about 100.
#[cfg(feature = "hwp")]
const HWP_PARAGRAPHS_PER_PAGE: usize = 25;
#[cfg(feature = "hwp")]
const HWP_PARAGRAPH_CHARS: usize = 100;
const JPEG_WIDTH: u32 = 4000;
const JPEG_HEIGHT: u32 = 3000;
const MAX_SIDE: u32 = 1568;

/// A case: its name (the child's argument), the file name `detect` sees and
/// the page count the time per page is reckoned with.
struct Case {
    name: &'static str,
    file_name: &'static str,
    pages: Option<usize>,
    build: fn() -> Vec<u8>,
}

fn cases() -> Vec<Case> {
    let mut cases = vec![Case {
        name: "pdf",
        file_name: "report.pdf",
        pages: Some(PDF_PAGES),
        build: build_pdf,
    }];
    #[cfg(feature = "hwp")]
    cases.push(Case {
        name: "hwp",
        file_name: "보고서.hwp",
        pages: Some(HWP_SECTIONS * HWP_PAGES_PER_SECTION),
        build: build_hwp,
    });
    cases.push(Case {
        name: "jpeg",
        file_name: "photo.jpg",
        pages: None,
        build: build_jpeg,
    });
    cases
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut runs = 5usize;
    let mut child: Option<(String, PathBuf)> = None;
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--runs" if i + 1 < args.len() => {
                runs = args[i + 1].parse().expect("--runs takes a number");
                i += 2;
            }
            "--case" if i + 2 < args.len() => {
                child = Some((args[i + 1].clone(), PathBuf::from(&args[i + 2])));
                i += 3;
            }
            other => {
                eprintln!("unknown argument {other:?}; usage: extract_bench [--runs N]");
                std::process::exit(2);
            }
        }
    }
    let runs = runs.max(1);
    match child {
        Some((name, path)) => run_child(&name, &path, runs),
        None => run_parent(runs),
    }
}

// ---------------------------------------------------------------- parent

/// What a child reports on its one line of stdout.
struct Report {
    input_bytes: usize,
    output: String,
    times_ms: Vec<f64>,
    hwm_before_kib: Option<u64>,
    hwm_after_kib: Option<u64>,
}

fn run_parent(runs: usize) {
    let exe = std::env::current_exe().expect("the path of this program");
    let dir = std::env::temp_dir().join(format!("extract_bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary folder");
    let load_before = load_average();
    let cases = cases();
    let mut rows = Vec::new();
    for case in &cases {
        eprint!("{}: building the input… ", case.name);
        let started = Instant::now();
        let bytes = (case.build)();
        let path = dir.join(case.file_name);
        std::fs::write(&path, &bytes).expect("writing the input");
        drop(bytes);
        eprint!("{:.1} s; measuring… ", started.elapsed().as_secs_f64());
        let out = Command::new(&exe)
            .arg("--case")
            .arg(case.name)
            .arg(&path)
            .arg("--runs")
            .arg(runs.to_string())
            .output()
            .expect("running the child");
        if !out.status.success() {
            eprintln!("failed:\n{}", String::from_utf8_lossy(&out.stderr));
            let _ = std::fs::remove_dir_all(&dir);
            std::process::exit(1);
        }
        let report = parse_report(&String::from_utf8_lossy(&out.stdout));
        eprintln!("done");
        rows.push((case, report));
    }
    let _ = std::fs::remove_dir_all(&dir);

    println!("1 warm-up + {runs} runs per case, each case in its own process\n");
    println!(
        "| case | input | output | min | median | per page (median) | peak RSS growth | peak RSS ÷ input |"
    );
    println!("|---|---:|---|---:|---:|---:|---:|---:|");
    for (case, r) in &rows {
        let mut sorted = r.times_ms.clone();
        sorted.sort_by(|a, b| a.total_cmp(b));
        let min = sorted[0];
        let median = median(&sorted);
        let per_page = case
            .pages
            .map(|p| format!("{:.2} ms", median / p as f64))
            .unwrap_or_else(|| "–".into());
        let growth = match (r.hwm_before_kib, r.hwm_after_kib) {
            (Some(b), Some(a)) => Some(a.saturating_sub(b)),
            _ => None,
        };
        let growth_text = growth
            .map(|g| format!("{:.1} MiB", g as f64 / 1024.0))
            .unwrap_or_else(|| "n/a".into());
        let ratio = growth
            .map(|g| format!("{:.1}×", g as f64 * 1024.0 / r.input_bytes as f64))
            .unwrap_or_else(|| "n/a".into());
        let label = match case.pages {
            Some(p) => format!("{} ({p} pages)", case.name.to_uppercase()),
            None => format!("{} ({JPEG_WIDTH}×{JPEG_HEIGHT})", case.name.to_uppercase()),
        };
        println!(
            "| {label} | {} | {} | {min:.1} ms | {median:.1} ms | {per_page} | {growth_text} | {ratio} |",
            human_bytes(r.input_bytes),
            r.output
        );
    }
    println!();
    let na = || "n/a".to_string();
    println!(
        "load average (1, 5, 15 min): {} before, {} after",
        load_before.unwrap_or_else(na),
        load_average().unwrap_or_else(na)
    );
}

fn parse_report(stdout: &str) -> Report {
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("REPORT\t"))
        .expect("the child's REPORT line");
    let fields: Vec<&str> = line.split('\t').collect();
    let opt = |s: &str| s.parse::<u64>().ok();
    Report {
        input_bytes: fields[0].parse().expect("input size"),
        output: fields[1].to_string(),
        times_ms: fields[2]
            .split(',')
            .map(|t| t.parse().expect("a time"))
            .collect(),
        hwm_before_kib: opt(fields[3]),
        hwm_after_kib: opt(fields[4]),
    }
}

fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

fn human_bytes(n: usize) -> String {
    if n >= 1 << 20 {
        format!("{:.2} MiB", n as f64 / (1 << 20) as f64)
    } else {
        format!("{:.0} KiB", n as f64 / 1024.0)
    }
}

// ----------------------------------------------------------------- child

fn run_child(name: &str, path: &Path, runs: usize) {
    let case = cases()
        .into_iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no case {name:?}"));
    let bytes = std::fs::read(path).expect("reading the input");
    let limits = Limits::default();
    let hwm_before = peak_rss_kib();
    let mut times = Vec::with_capacity(runs);
    let mut output = String::new();
    for i in 0..=runs {
        let started = Instant::now();
        let format = detect(case.file_name, None, &bytes).expect("detect");
        if format.is_image() {
            let p = prepare_image(format, &bytes, MAX_SIDE, &limits).expect("prepare_image");
            let elapsed = started.elapsed();
            output = format!(
                "{}×{} {}, {}",
                p.width,
                p.height,
                p.mime,
                human_bytes(p.bytes.len())
            );
            drop(p);
            if i > 0 {
                times.push(elapsed.as_secs_f64() * 1000.0);
            }
        } else {
            let e = extract_text(format, &bytes, &limits).expect("extract_text");
            let elapsed = started.elapsed();
            assert!(!e.truncated, "the text was cut at the limit");
            let chars = e.text.chars().count();
            output = match e.pages {
                Some(p) if format == Format::Pdf => {
                    format!("{} characters, {p} pages", group(chars))
                }
                _ => format!("{} characters", group(chars)),
            };
            drop(e);
            if i > 0 {
                times.push(elapsed.as_secs_f64() * 1000.0);
            }
        }
    }
    let hwm_after = peak_rss_kib();
    let times: Vec<String> = times.iter().map(|t| format!("{t:.3}")).collect();
    let opt = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_else(|| "n/a".into());
    println!(
        "REPORT\t{}\t{output}\t{}\t{}\t{}",
        bytes.len(),
        times.join(","),
        opt(hwm_before),
        opt(hwm_after)
    );
}

/// 12345 → "12,345".
fn group(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The process's peak resident set (`VmHWM`), in KiB.
#[cfg(target_os = "linux")]
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

#[cfg(not(target_os = "linux"))]
fn peak_rss_kib() -> Option<u64> {
    None
}

#[cfg(target_os = "linux")]
fn load_average() -> Option<String> {
    let s = std::fs::read_to_string("/proc/loadavg").ok()?;
    Some(s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
}

#[cfg(not(target_os = "linux"))]
fn load_average() -> Option<String> {
    None
}

// ---------------------------------------------------------------- inputs

/// A small seeded generator (xorshift64*), so every run reads the same text.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn pick<'a>(&mut self, words: &[&'a str]) -> &'a str {
        words[(self.next() % words.len() as u64) as usize]
    }
}

/// Words joined by spaces until the line holds about `chars` characters,
/// the first capitalised and a full stop at the end.
fn sentence_line(rng: &mut Rng, words: &[&str], chars: usize) -> String {
    let mut line = String::new();
    while line.chars().count() < chars.saturating_sub(6) {
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(rng.pick(words));
    }
    line.push('.');
    line
}

const LATIN_WORDS: &[&str] = &[
    "the",
    "annual",
    "report",
    "revenue",
    "increased",
    "by",
    "percent",
    "compared",
    "with",
    "previous",
    "year",
    "operating",
    "costs",
    "were",
    "reduced",
    "through",
    "efficiency",
    "measures",
    "and",
    "market",
    "conditions",
    "remained",
    "stable",
    "across",
    "all",
    "regions",
    "customer",
    "satisfaction",
    "improved",
    "while",
    "investment",
    "in",
    "research",
    "development",
    "continued",
    "to",
    "grow",
    "board",
    "approved",
    "new",
    "strategy",
    "for",
    "quarter",
    "results",
    "show",
    "steady",
    "progress",
    "toward",
    "targets",
    "of",
    "sustainability",
    "programme",
    "employees",
    "training",
    "sales",
];

#[cfg(feature = "hwp")]
const KOREAN_WORDS: &[&str] = &[
    "올해",
    "사업",
    "보고서",
    "매출은",
    "전년",
    "대비",
    "증가했다",
    "영업",
    "비용은",
    "효율화",
    "조치로",
    "감소했으며",
    "시장",
    "상황은",
    "안정적이었다",
    "고객",
    "만족도가",
    "개선되었고",
    "연구",
    "개발",
    "투자는",
    "계속",
    "늘었다",
    "이사회는",
    "새로운",
    "전략을",
    "승인했다",
    "분기",
    "실적은",
    "목표를",
    "향해",
    "꾸준히",
    "진전을",
    "보였다",
    "지속",
    "가능성",
    "직원",
    "교육",
    "판매",
    "지역",
    "전체에서",
    "그리고",
    "또한",
    "따라서",
];

/// 100 pages of 40 lines of Helvetica text, content streams Flate-compressed
/// (as a word processor writes them).
fn build_pdf() -> Vec<u8> {
    use lopdf::content::{Content, Operation};
    use lopdf::{dictionary, Document, Object, Stream};

    let mut rng = Rng(0x5EED_0001);
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let font_id = doc.add_object(dictionary! {
        "Type" => "Font",
        "Subtype" => "Type1",
        "BaseFont" => "Helvetica",
        "Encoding" => "WinAnsiEncoding",
    });
    let resources_id = doc.add_object(dictionary! {
        "Font" => dictionary! { "F1" => font_id },
    });
    let mut kids = Vec::new();
    for _ in 0..PDF_PAGES {
        let mut ops = vec![
            Operation::new("BT", vec![]),
            Operation::new("Tf", vec!["F1".into(), 10.into()]),
            Operation::new("TL", vec![18.into()]),
            Operation::new("Td", vec![56.into(), 780.into()]),
        ];
        for _ in 0..PDF_LINES_PER_PAGE {
            let line = sentence_line(&mut rng, LATIN_WORDS, PDF_LINE_CHARS);
            ops.push(Operation::new("Tj", vec![Object::string_literal(line)]));
            ops.push(Operation::new("T*", vec![]));
        }
        ops.push(Operation::new("ET", vec![]));
        let content = Content { operations: ops };
        let mut stream = Stream::new(dictionary! {}, content.encode().expect("content"));
        stream.compress().expect("compressing a content stream");
        let content_id = doc.add_object(stream);
        let page_id = doc.add_object(dictionary! {
            "Type" => "Page",
            "Parent" => pages_id,
            "Contents" => content_id,
        });
        kids.push(page_id.into());
    }
    let count = kids.len() as i64;
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! {
            "Type" => "Pages",
            "Kids" => kids,
            "Count" => count,
            "Resources" => resources_id,
            "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
        }),
    );
    let catalog_id = doc.add_object(dictionary! {
        "Type" => "Catalog",
        "Pages" => pages_id,
    });
    doc.trailer.set("Root", catalog_id);
    let mut out = Vec::new();
    doc.save_to(&mut out).expect("saving the PDF");
    out
}

/// 5 sections of 10 "pages" of 25 paragraphs of about 100 characters of
/// Korean: about 125,000 characters, compressed as Hangul writes it.
#[cfg(feature = "hwp")]
fn build_hwp() -> Vec<u8> {
    use daehwa_hwp::write::{hwp_sections, HwpOptions};

    let mut rng = Rng(0x5EED_0002);
    let sections: Vec<Vec<String>> = (0..HWP_SECTIONS)
        .map(|_| {
            (0..HWP_PAGES_PER_SECTION * HWP_PARAGRAPHS_PER_PAGE)
                .map(|_| sentence_line(&mut rng, KOREAN_WORDS, HWP_PARAGRAPH_CHARS))
                .collect()
        })
        .collect();
    let refs: Vec<Vec<&str>> = sections
        .iter()
        .map(|s| s.iter().map(String::as_str).collect())
        .collect();
    let slices: Vec<&[&str]> = refs.iter().map(Vec::as_slice).collect();
    hwp_sections(&slices, &HwpOptions::default())
}

/// A 4000×3000 photo-like picture (smooth gradients with sensor-like noise)
/// as a JPEG at quality 90: what a phone camera uploads.
fn build_jpeg() -> Vec<u8> {
    use image::codecs::jpeg::JpegEncoder;
    use image::{ExtendedColorType, ImageEncoder};

    let mut rng = Rng(0x5EED_0003);
    let (w, h) = (JPEG_WIDTH, JPEG_HEIGHT);
    let mut pixels = Vec::with_capacity((w * h * 3) as usize);
    for y in 0..h {
        for x in 0..w {
            let noise = (rng.next() % 24) as i32 - 12;
            let fx = x as f32 / w as f32;
            let fy = y as f32 / h as f32;
            let r = 60.0 + 150.0 * fx + 30.0 * (fy * 9.0).sin();
            let g = 90.0 + 110.0 * fy + 25.0 * (fx * 13.0).cos();
            let b = 170.0 - 90.0 * fx * fy;
            for v in [r, g, b] {
                pixels.push((v as i32 + noise).clamp(0, 255) as u8);
            }
        }
    }
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, 90)
        .write_image(&pixels, w, h, ExtendedColorType::Rgb8)
        .expect("encoding the JPEG");
    out
}
