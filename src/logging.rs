//! Logging through the `log` facade: env_logger formats every record and writes
//! it to the console and, when `--log-file` is given, to a file that rotates at
//! 10 MiB keeping 5 old files (the seed's uvicorn log config). `RUST_LOG` sets the
//! levels; the default is `info`.

use std::fs;
use std::io::{self, Write};
use std::path::Path;
use std::sync::Mutex;

use file_rotate::{compression::Compression, suffix::AppendCount, ContentLimit, FileRotate};

tokio::task_local! {
    /// The signed-in user of the request being answered, for its access log
    /// line (set by the authentication filter, read when the line is written).
    static ACCESS_USER: std::cell::RefCell<Option<String>>;
}

/// Runs one request's future with a slot for its user (src/listen.rs).
pub fn with_access_user<F: std::future::Future>(
    future: F,
) -> impl std::future::Future<Output = F::Output> {
    ACCESS_USER.scope(std::cell::RefCell::new(None), future)
}

/// Names the request's user in its access log line (nothing outside a
/// request).
pub fn set_access_user(username: &str) {
    let _ = ACCESS_USER.try_with(|user| *user.borrow_mut() = Some(username.to_string()));
}

/// The request's user as the access log writes it: the username, or `-`.
pub fn access_user() -> String {
    ACCESS_USER
        .try_with(|user| user.borrow().clone())
        .ok()
        .flatten()
        .unwrap_or_else(|| "-".to_string())
}

/// Size at which the log file is rotated.
pub const LOG_FILE_MAX_BYTES: usize = 10 * 1024 * 1024;
/// Rotated files kept beside the current one (`daehwa.log.1` … `.5`).
pub const LOG_FILES_KEPT: usize = 5;

/// Installs the global logger. Safe to call more than once (later calls do
/// nothing), so tests that start several servers can all call it.
pub fn init(log_file: Option<&Path>) -> io::Result<()> {
    let mut builder =
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"));
    builder.format_timestamp_millis();
    if let Some(path) = log_file {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir)?;
        }
        // Fail here with a clear error rather than inside the rotating writer.
        crate::fsmode::create_private(path)?;
        let file = FileRotate::new(
            path,
            AppendCount::new(LOG_FILES_KEPT),
            ContentLimit::BytesSurpassed(LOG_FILE_MAX_BYTES),
            Compression::None,
            // Rotated files too: a log names users and addresses.
            Some(crate::fsmode::private_options()),
        );
        builder.target(env_logger::Target::Pipe(Box::new(Tee {
            file: Mutex::new(file),
        })));
    }
    // A second init (tests) keeps the first logger.
    if builder.try_init().is_ok() {
        log_panics();
    }
    Ok(())
}

/// Sends every panic's message and place to the log (and so to the log file,
/// where an operator looks), not only to stderr. The request that panicked is
/// answered 500 and the server goes on (`src/listen.rs`); the log says why.
/// With `RUST_BACKTRACE` set, the standard report with its backtrace follows.
pub fn log_panics() {
    let standard = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let thread = std::thread::current();
        let location = info
            .location()
            .map_or_else(|| "an unknown place".to_string(), ToString::to_string);
        log::error!(
            "panic in thread {} at {location}: {}",
            thread.name().unwrap_or("unnamed"),
            crate::listen::panic_message(info.payload())
        );
        if std::env::var_os("RUST_BACKTRACE").is_some_and(|v| v != "0") {
            standard(info);
        }
    }));
}

/// Writes each formatted record to stderr and to the rotating file.
struct Tee {
    file: Mutex<FileRotate<AppendCount>>,
}

impl Write for Tee {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let _ = io::stderr().write_all(buf);
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        file.write_all(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        let _ = io::stderr().flush();
        self.file.lock().unwrap_or_else(|e| e.into_inner()).flush()
    }
}

#[cfg(test)]
mod access_user_tests {
    use super::*;

    #[tokio::test]
    async fn a_request_names_its_user_and_only_its_own() {
        assert_eq!(access_user(), "-", "outside a request");
        set_access_user("nobody"); // outside a request: ignored, no panic
        let (a, b) = tokio::join!(
            with_access_user(async {
                set_access_user("minji");
                tokio::task::yield_now().await;
                access_user()
            }),
            with_access_user(async {
                tokio::task::yield_now().await;
                access_user()
            }),
        );
        assert_eq!((a.as_str(), b.as_str()), ("minji", "-"));
    }
}
