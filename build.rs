//! Builds the Vue web app (`frontend/` → `frontend/dist`) so that `cargo build`
//! alone produces a binary with the current app embedded.
//!
//! The npm build runs only when `frontend/dist/index.html` is missing or older than
//! a source file, so `cargo clippy`, `cargo test` and `cargo build --release` in a
//! row run it at most once. `DAEHWA_SKIP_FRONTEND=1` skips npm entirely and embeds
//! whatever `frontend/dist` holds (used by cross builds that reuse a dist).
//!
//! Then it packs `frontend/dist` into `$OUT_DIR/web`, the folder `src/spa.rs`
//! embeds: text files (scripts, styles, HTML, JSON, SVG) of 1 KiB or more are
//! stored gzip-compressed as `<name>.gz`, everything else as it is. Browsers
//! take the gzip form as it is; the rare client without gzip gets the file
//! decompressed once. The binary carries ~1.5 MB of web app instead of ~4.5 MB.
//! The committed OpenAPI document (`frontend/src/api/openapi.json`) is stored
//! gzip-compressed beside it (`$OUT_DIR/openapi.json.gz`).

use std::env;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

/// Files below this size are stored as they are: gzip would not pay.
const GZIP_MIN_BYTES: u64 = 1024;
/// Extensions of the files stored gzip-compressed (text: they shrink 3-5×).
const COMPRESSED: &[&str] = &[
    "js",
    "mjs",
    "css",
    "html",
    "json",
    "svg",
    "txt",
    "map",
    "webmanifest",
    "xml",
    "wasm",
];

/// Sources whose change means the app must be rebuilt.
const INPUTS: &[&str] = &[
    "src",
    "public",
    "index.html",
    "package.json",
    "package-lock.json",
    "vite.config.ts",
    "tsconfig.json",
    "tsconfig.app.json",
    "tsconfig.node.json",
];

fn main() {
    let root =
        PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let frontend = root.join("frontend");
    let dist_index = frontend.join("dist").join("index.html");

    order_startup_code(&root.join("link").join("startup-order.txt.gz"));
    pack_openapi(&frontend.join("src").join("api").join("openapi.json"));
    println!("cargo:rerun-if-env-changed=DAEHWA_SKIP_FRONTEND");
    println!("cargo:rerun-if-changed={}", frontend.join("dist").display());
    for input in INPUTS {
        println!("cargo:rerun-if-changed={}", frontend.join(input).display());
    }

    if env::var_os("DAEHWA_SKIP_FRONTEND").is_some_and(|v| v == "1") {
        if !dist_index.exists() {
            panic!(
                "DAEHWA_SKIP_FRONTEND=1 but {} is missing: build the web app first \
                 (cd frontend && npm ci && npm run build) or unset DAEHWA_SKIP_FRONTEND",
                dist_index.display()
            );
        }
        pack(&frontend.join("dist"));
        return;
    }

    let newest_source = INPUTS
        .iter()
        .filter_map(|input| newest_mtime(&frontend.join(input)))
        .max();
    let built = fs::metadata(&dist_index).and_then(|m| m.modified()).ok();
    let up_to_date = matches!((built, newest_source), (Some(b), Some(s)) if b >= s);
    if up_to_date {
        pack(&frontend.join("dist"));
        return;
    }

    let npm = if cfg!(windows) { "npm.cmd" } else { "npm" };
    if !frontend.join("node_modules").exists() {
        run(npm, &["ci", "--no-audit", "--no-fund"], &frontend);
    }
    run(npm, &["run", "build"], &frontend);
    if !dist_index.exists() {
        panic!(
            "`npm run build` finished but {} was not written",
            dist_index.display()
        );
    }
    pack(&frontend.join("dist"));
}

/// Has the linker put the functions a start runs, then those the common
/// requests run (listed gzip-compressed in `order`, made by
/// `bench/startup-order`; 2.2 MB of mostly generic names as text) side by
/// side at the start of the code, in a release build for x86-64 Linux. The
/// kernel maps code into a process 64 KiB around each page it touches, so the
/// ~1,600 functions a start runs (2.4 MB), spread over the whole 13 MB of
/// code, left 7.7 MB of it resident in an idle server; side by side, 2.5 MB
/// (idle RSS 16.5 -> 9.3 MiB, issue 19). Only with lld, which Rust links
/// x86-64 Linux binaries with since 1.90 (GNU ld has no such option); a name
/// the binary does not have is skipped, so a stale list costs memory, never
/// a build. `DAEHWA_NO_STARTUP_ORDER=1` leaves the order to the linker.
fn order_startup_code(order: &Path) {
    println!("cargo:rerun-if-changed={}", order.display());
    println!("cargo:rerun-if-env-changed=DAEHWA_NO_STARTUP_ORDER");
    let var = |name: &str| env::var(name).unwrap_or_default();
    let release_for_linux_x86_64 = var("CARGO_CFG_TARGET_ARCH") == "x86_64"
        && var("CARGO_CFG_TARGET_OS") == "linux"
        && var("CARGO_CFG_TARGET_ENV") == "gnu"
        && var("PROFILE") == "release";
    // A linker of one's own (`-C linker=`, `-C linker-features=-lld`,
    // `-C link-self-contained=-linker`) may be GNU ld.
    let default_linker = !var("CARGO_ENCODED_RUSTFLAGS").contains("link")
        && env::var_os("CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER").is_none();
    if !release_for_linux_x86_64
        || !default_linker
        || var("DAEHWA_NO_STARTUP_ORDER") == "1"
        || !order.exists()
        || rustc_minor_version().is_none_or(|minor| minor < 90)
    {
        return;
    }
    let mut names = Vec::new();
    let read = fs::File::open(order)
        .and_then(|file| flate2::read::GzDecoder::new(file).read_to_end(&mut names));
    if let Err(err) = read {
        panic!("cannot read {}: {err}", order.display());
    }
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let unpacked = out.join("startup-order.txt");
    fs::write(&unpacked, names).expect("write into OUT_DIR");
    println!(
        "cargo:rustc-link-arg-bin=daehwa=-Wl,--symbol-ordering-file={}",
        unpacked.display()
    );
    println!("cargo:rustc-link-arg-bin=daehwa=-Wl,--no-warn-symbol-ordering");
}

/// The minor version of the Rust compiler building daehwa (`90` for 1.90).
fn rustc_minor_version() -> Option<u32> {
    let rustc = env::var_os("RUSTC")?;
    let out = Command::new(rustc).arg("--version").output().ok()?;
    let version = String::from_utf8(out.stdout).ok()?;
    // "rustc 1.95.0 (59807616e 2026-04-14)"
    version
        .split_whitespace()
        .nth(1)?
        .split('.')
        .nth(1)?
        .parse()
        .ok()
}

/// Writes the committed OpenAPI document gzip-compressed into
/// `$OUT_DIR/openapi.json.gz`, what the server serves and `daehwa openapi`
/// prints (`src/api/openapi.rs`; a unit test keeps the committed copy equal
/// to the one its declarations make): 31 KB in the binary instead of the
/// 3 MB of code that makes it.
fn pack_openapi(document: &Path) {
    println!("cargo:rerun-if-changed={}", document.display());
    let text =
        fs::read(document).unwrap_or_else(|e| panic!("cannot read {}: {e}", document.display()));
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let target = out.join("openapi.json.gz");
    fs::write(&target, gzip(&text))
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", target.display()));
}

/// Writes `dist` into `$OUT_DIR/web` (replacing what an earlier build left):
/// text files gzip-compressed as `<name>.gz` when that is smaller, the rest
/// copied.
fn pack(dist: &Path) {
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("web");
    if out.exists() {
        fs::remove_dir_all(&out).unwrap_or_else(|e| panic!("cannot clear {}: {e}", out.display()));
    }
    pack_dir(dist, &out);
}

fn pack_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap_or_else(|e| panic!("cannot create {}: {e}", to.display()));
    let entries =
        fs::read_dir(from).unwrap_or_else(|e| panic!("cannot read {}: {e}", from.display()));
    for entry in entries {
        let entry = entry.unwrap_or_else(|e| panic!("cannot read {}: {e}", from.display()));
        let path = entry.path();
        let name = entry.file_name();
        if path.is_dir() {
            pack_dir(&path, &to.join(&name));
            continue;
        }
        let data =
            fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let text = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|ext| COMPRESSED.iter().any(|c| ext.eq_ignore_ascii_case(c)));
        let gzipped = (text && data.len() as u64 >= GZIP_MIN_BYTES)
            .then(|| gzip(&data))
            .filter(|gz| gz.len() < data.len());
        let (target, bytes) = match &gzipped {
            Some(gz) => {
                let mut gz_name = name.clone();
                gz_name.push(".gz");
                (to.join(gz_name), gz.as_slice())
            }
            None => (to.join(&name), data.as_slice()),
        };
        fs::write(&target, bytes)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", target.display()));
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(data).expect("gzip into memory");
    encoder.finish().expect("gzip into memory")
}

fn run(program: &str, args: &[&str], dir: &Path) {
    let status = Command::new(program).args(args).current_dir(dir).status();
    match status {
        Ok(status) if status.success() => {}
        Ok(status) => panic!(
            "`{program} {}` in {} failed with {status}",
            args.join(" "),
            dir.display()
        ),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => panic!(
            "building daehwa needs Node.js and npm to build its web app, but `{program}` \
             was not found on PATH. Install Node.js 20 or newer (it brings npm), or set \
             DAEHWA_SKIP_FRONTEND=1 to embed an existing frontend/dist."
        ),
        Err(err) => panic!("could not start `{program}`: {err}"),
    }
}

/// The newest modification time of a file, or of any file below a directory.
fn newest_mtime(path: &Path) -> Option<SystemTime> {
    let meta = fs::metadata(path).ok()?;
    if !meta.is_dir() {
        return meta.modified().ok();
    }
    fs::read_dir(path)
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|entry| newest_mtime(&entry.path()))
        .max()
}
