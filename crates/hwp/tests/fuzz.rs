//! Random mutations of valid documents: every read answers Ok or Err, never
//! panics, and never asks the allocator for a huge block.
//!
//! One test in this binary on purpose: it installs a process-wide panic hook
//! (the public readers turn a panic into `Malformed`, so the hook is how a
//! panic deep inside a parser is still seen) and a counting allocator.
//! More iterations: `DAEHWA_HWP_FUZZ_ITERS=100000 cargo test -p daehwa-hwp --test fuzz`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use daehwa_hwp::write::{self, HwpOptions};
use daehwa_hwp::{is_hwp, is_hwpx, read_hwp, read_hwpx, Limits};

/// The largest single allocation asked for.
static LARGEST: AtomicUsize = AtomicUsize::new(0);

struct Counting;

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// xorshift64*: deterministic, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(seed: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut b = seed.to_vec();
    for _ in 0..1 + rng.below(8) {
        if b.is_empty() {
            break;
        }
        let at = rng.below(b.len());
        match rng.below(6) {
            0 => b[at] ^= 1 << rng.below(8),
            1 => b[at] = rng.next() as u8,
            2 => {
                let v: u32 = match rng.below(5) {
                    0 => 0,
                    1 => u32::MAX,
                    2 => 0x7FFF_FFFF,
                    3 => 0xFFF0_0000 | rng.below(0x400) as u32,
                    _ => rng.next() as u32,
                };
                let end = (at + 4).min(b.len());
                b[at..end].copy_from_slice(&v.to_le_bytes()[..end - at]);
            }
            3 => b.truncate(at),
            4 => {
                let len = rng.below(64).min(b.len() - at);
                let chunk = b[at..at + len].to_vec();
                let to = rng.below(b.len());
                b.splice(to..to, chunk);
            }
            _ => {
                let len = rng.below(512).min(b.len() - at);
                b.drain(at..at + len);
            }
        }
    }
    b
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name),
    )
    .unwrap()
}

#[test]
fn mutated_documents_never_panic() {
    let panics = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = panics.clone();
    std::panic::set_hook(Box::new(move |info| {
        seen.lock().unwrap().push(info.to_string());
    }));

    let iters: usize = std::env::var("DAEHWA_HWP_FUZZ_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1500);
    let paras = [
        "대화는 한 파일에 저장됩니다.",
        "표 안의 글자",
        "한글 English 123\t탭",
    ];
    let plain = HwpOptions {
        compressed: false,
        ..HwpOptions::default()
    };
    let hwp_seeds = [
        write::hwp(&paras, &HwpOptions::default()),
        write::hwp_sections(&[&paras, &paras], &plain),
        fixture("hwp-rs-draw_text.hwp"),
        fixture("hwplib-table.hwp"),
    ];
    let hwpx_seeds = [
        write::hwpx(&paras),
        write::hwpx_sections(&[&paras, &paras]),
        fixture("hwpxlib-Table.hwpx"),
    ];
    let limits = Limits {
        max_text_bytes: 1 << 20,
        max_unpacked_bytes: 8 << 20,
    };
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut outcomes = [0usize; 2];
    for seed in &hwp_seeds {
        for _ in 0..iters {
            let file = mutate(seed, &mut rng);
            let _ = is_hwp(&file);
            outcomes[read_hwp(&file, &limits).is_ok() as usize] += 1;
        }
    }
    for seed in &hwpx_seeds {
        for _ in 0..iters {
            let file = mutate(seed, &mut rng);
            let _ = is_hwpx(&file);
            outcomes[read_hwpx(&file, &limits).is_ok() as usize] += 1;
        }
    }
    let _ = std::panic::take_hook();
    let panics = panics.lock().unwrap();
    assert!(
        panics.is_empty(),
        "{} panics, first: {}",
        panics.len(),
        panics[0]
    );
    // Both answers occur: the mutations are neither all fatal nor all harmless.
    assert!(outcomes[0] > 0 && outcomes[1] > 0, "{outcomes:?}");
    eprintln!("fuzz: {outcomes:?} (errors, oks)");
    let largest = LARGEST.load(Ordering::Relaxed);
    assert!(largest <= 64 << 20, "an allocation of {largest} bytes");
}
