//! Logging through the `log` facade: env_logger formats every record and writes
//! it to the console and, when `--log-file` is given, to a file that rotates at
//! 10 MiB keeping 5 old files (the seed's uvicorn log config). `RUST_LOG` sets the
//! levels; the default is `info`.

use std::fs;
use std::io::{self, Write};
use std::path::Path;
use std::sync::Mutex;

use file_rotate::{compression::Compression, suffix::AppendCount, ContentLimit, FileRotate};

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
        fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        let file = FileRotate::new(
            path,
            AppendCount::new(LOG_FILES_KEPT),
            ContentLimit::BytesSurpassed(LOG_FILE_MAX_BYTES),
            Compression::None,
            None,
        );
        builder.target(env_logger::Target::Pipe(Box::new(Tee {
            file: Mutex::new(file),
        })));
    }
    // A second init (tests) keeps the first logger.
    let _ = builder.try_init();
    Ok(())
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
