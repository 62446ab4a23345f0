//! The `daehwa` executable: parse the command line, set up logging, run.

use std::process::ExitCode;

use clap::Parser;
use daehwa::app::App;
use daehwa::config::{Cli, Command, ServeArgs};

fn main() -> ExitCode {
    match Cli::parse().into_command() {
        Command::Serve(args) => serve(args),
        Command::User(args) => match daehwa::cli::run_user(args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(message) => {
                eprintln!("daehwa: {message}");
                ExitCode::FAILURE
            }
        },
        Command::Openapi => {
            use std::io::Write;
            // A closed pipe (`daehwa openapi | head`) is not an error worth a panic.
            let _ = writeln!(std::io::stdout(), "{}", daehwa::api::openapi::document());
            ExitCode::SUCCESS
        }
    }
}

/// Every stream holds two sockets (client and provider); the usual soft limit
/// of 1024 open files would cap daehwa near 500 concurrent answers. Raise the
/// soft limit to the hard one (Windows has no such limit).
fn raise_open_file_limit() {
    #[cfg(unix)]
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) if limit < 4096 => {
            log::warn!("open files are limited to {limit}; raise the hard limit (ulimit -Hn, LimitNOFILE) for many concurrent answers")
        }
        Ok(_) => {}
        Err(err) => log::warn!("could not raise the open-file limit: {err}"),
    }
}

/// glibc raises its mmap threshold after the first large block is freed, so
/// argon2's 19 MiB blocks are afterwards kept in per-thread arenas: a burst of
/// sign-ins left 1.7 GB resident (measured). A fixed 1 MiB threshold makes
/// every large block an mmap that goes back to the system when freed (90 MB
/// after the same burst). Other allocators (Windows, musl) return large blocks
/// anyway.
fn return_big_allocations_to_the_system() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tuning; called once at start,
    // before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1024 * 1024);
    }
}

fn serve(args: ServeArgs) -> ExitCode {
    if let Err(err) = daehwa::logging::init(args.log_file.as_deref()) {
        eprintln!("daehwa: cannot write the log file: {err}");
        return ExitCode::FAILURE;
    }
    raise_open_file_limit();
    return_big_allocations_to_the_system();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // SQLite calls and (later) upstream readers use blocking threads; many
        // streams at once must not starve the database.
        .max_blocking_threads(1024)
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("daehwa: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let app = match App::build(&args).await {
            Ok(app) => app,
            Err(err) => {
                log::error!("{err}");
                eprintln!("daehwa: {err}");
                return ExitCode::FAILURE;
            }
        };
        let url = app.url();
        println!("daehwa {} listening on {url}", daehwa::VERSION);
        if args.open {
            // The listener is bound, so the server answers as soon as it runs.
            tokio::task::spawn_blocking(move || {
                if let Err(err) = webbrowser::open(&url) {
                    log::warn!("could not open a browser at {url}: {err}");
                }
            });
        }
        app.run_until(daehwa::shutdown::signal()).await;
        ExitCode::SUCCESS
    })
}
