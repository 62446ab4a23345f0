//! The `daehwa` executable: parse the command line, set up logging, run.

mod windows_service;

use std::future::Future;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};
use daehwa::app::App;
use daehwa::config::{self, Cli, Command, ServeArgs};

fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let db_defaulted = config::db_defaulted(&matches);
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|err| err.exit());
    match cli.into_command() {
        Command::Serve(mut args) => {
            if db_defaulted {
                args.db = config::default_place("daehwa.db", config::started_by_double_click());
            }
            serve(*args, daehwa::shutdown::signal())
        }
        Command::Service(args) => finish(windows_service::run(args.action)),
        Command::User(args) => finish(daehwa::cli::run_user(args)),
        Command::Backup(args) => finish(
            daehwa::backup::backup_to(&args.db, &args.file)
                .map(|()| {
                    println!(
                        "backup of {} written to {}",
                        args.db.display(),
                        args.file.display()
                    )
                })
                .map_err(|e| e.to_string()),
        ),
        Command::Restore(args) => finish(
            daehwa::backup::restore_from(&args.file, &args.db)
                .map(|saved| {
                    println!(
                        "{} restored from {}",
                        args.db.display(),
                        args.file.display()
                    );
                    if let Some(saved) = saved {
                        println!("the database it replaced is kept as {}", saved.display());
                    }
                })
                .map_err(|e| e.to_string()),
        ),
        Command::Openapi => {
            use std::io::Write;
            // A closed pipe (`daehwa openapi | head`) is not an error worth a panic.
            let _ = writeln!(std::io::stdout(), "{}", daehwa::api::openapi::document());
            ExitCode::SUCCESS
        }
    }
}

/// The exit of an operator sub-command: its error on stderr.
fn finish(result: Result<(), String>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("daehwa: {message}");
            ExitCode::FAILURE
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

/// Runs the server until `shutdown` resolves (Ctrl-C/SIGTERM, or the
/// Windows service manager's stop).
pub fn serve(args: ServeArgs, shutdown: impl Future<Output = ()> + Send + 'static) -> ExitCode {
    if let Err(err) = daehwa::logging::init(args.log_file.as_deref()) {
        eprintln!("daehwa: cannot write the log file: {err}");
        return ExitCode::FAILURE;
    }
    raise_open_file_limit();
    return_big_allocations_to_the_system();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // Blocking threads run SQLite calls (16 connections), password
        // hashing (a few at once), title requests (8 at once) and small
        // chores; answers read their provider on threads of their own. More
        // threads than that would only wait for a connection, each with its
        // stack: a thousand answers starting at once used to make ~400.
        .max_blocking_threads(64)
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
        app.run_until(shutdown).await;
        ExitCode::SUCCESS
    })
}
