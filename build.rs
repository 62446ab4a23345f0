//! Builds the Vue web app (`frontend/` → `frontend/dist`) so that `cargo build`
//! alone produces a binary with the current app embedded.
//!
//! The npm build runs only when `frontend/dist/index.html` is missing or older than
//! a source file, so `cargo clippy`, `cargo test` and `cargo build --release` in a
//! row run it at most once. `DAEHWA_SKIP_FRONTEND=1` skips npm entirely and embeds
//! whatever `frontend/dist` holds (used by cross builds that reuse a dist).

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

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
        return;
    }

    let newest_source = INPUTS
        .iter()
        .filter_map(|input| newest_mtime(&frontend.join(input)))
        .max();
    let built = fs::metadata(&dist_index).and_then(|m| m.modified()).ok();
    let up_to_date = matches!((built, newest_source), (Some(b), Some(s)) if b >= s);
    if up_to_date {
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
