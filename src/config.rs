//! Command line and environment configuration.
//!
//! Every flag has a `DAEHWA_*` environment fallback; a flag beats its variable,
//! which beats the default (SPEC §1). Settings changed at run time by an admin live
//! in the database, not here.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// daehwa (대화): a self-hosted ChatGPT-style chat service in one executable.
#[derive(Debug, Parser)]
#[command(name = "daehwa", version, about, long_about = None)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Options of `serve`, which runs when no sub-command is given.
    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the web app and the API (the default).
    Serve(ServeArgs),
}

impl Cli {
    /// The serve options, whether given with or without the `serve` word.
    pub fn into_serve_args(self) -> ServeArgs {
        match self.command {
            Some(Command::Serve(args)) => args,
            None => self.serve,
        }
    }
}

/// Options of `daehwa serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on. 127.0.0.1 keeps daehwa private to this machine; use
    /// 0.0.0.0 to serve a network (put TLS or a reverse proxy in front).
    #[arg(long, env = "DAEHWA_HOST", default_value = "127.0.0.1")]
    pub host: IpAddr,

    /// TCP port to listen on; 0 picks a free one (the URL printed at start tells which).
    #[arg(long, env = "DAEHWA_PORT", default_value_t = 8080)]
    pub port: u16,

    /// SQLite database file holding every account, conversation and setting.
    /// Created with the current schema when missing; older files are upgraded.
    #[arg(long, env = "DAEHWA_DB", default_value = "daehwa.db")]
    pub db: PathBuf,

    /// Also write the log to this file, rotated at 10 MiB with 5 old files kept.
    #[arg(long, env = "DAEHWA_LOG_FILE")]
    pub log_file: Option<PathBuf>,

    /// Serve everything under this URL prefix (for example /chat behind IIS or
    /// nginx); the web app follows it.
    #[arg(long, env = "DAEHWA_BASE_PATH", default_value = "", value_parser = parse_base_path)]
    pub base_path: String,

    /// Open the web app in the default browser once the server answers.
    #[arg(long, env = "DAEHWA_OPEN")]
    pub open: bool,
}

impl ServeArgs {
    /// Options for a server on `127.0.0.1:0` using `db` (handy in tests).
    pub fn for_tests(db: PathBuf) -> Self {
        ServeArgs {
            host: IpAddr::from([127, 0, 0, 1]),
            port: 0,
            db,
            log_file: None,
            base_path: String::new(),
            open: false,
        }
    }
}

/// Normalizes a base path to `""` or `/seg/seg` (leading slash, no trailing one),
/// refusing anything that is not plain path segments.
pub fn parse_base_path(raw: &str) -> Result<String, String> {
    let segments: Vec<&str> = raw.split('/').filter(|s| !s.is_empty()).collect();
    for seg in &segments {
        let plain = seg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~'));
        if !plain || *seg == "." || *seg == ".." {
            return Err(format!(
                "base path segment {seg:?} may only use letters, digits and - _ . ~"
            ));
        }
    }
    if segments.first().is_some_and(|s| *s == "api" || *s == "v1") {
        return Err("the base path cannot start with /api or /v1".into());
    }
    Ok(segments.iter().map(|s| format!("/{s}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_paths_are_normalized_to_a_leading_slash_without_trailing_one() {
        assert_eq!(parse_base_path("").unwrap(), "");
        assert_eq!(parse_base_path("/").unwrap(), "");
        assert_eq!(parse_base_path("chat").unwrap(), "/chat");
        assert_eq!(parse_base_path("/chat/").unwrap(), "/chat");
        assert_eq!(parse_base_path("/a//b/").unwrap(), "/a/b");
    }

    #[test]
    fn base_paths_with_odd_characters_or_traversal_are_refused() {
        for bad in [
            "/../x", "/a/./b", "/a b", "/chat?x", "/%2e", "/api", "/v1/x",
        ] {
            assert!(parse_base_path(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn serve_is_the_default_and_flags_work_with_or_without_the_word() {
        let cli = Cli::try_parse_from(["daehwa", "--port", "9000"]).unwrap();
        assert_eq!(cli.into_serve_args().port, 9000);
        let cli =
            Cli::try_parse_from(["daehwa", "serve", "--port", "9001", "--base-path", "/chat/"])
                .unwrap();
        let args = cli.into_serve_args();
        assert_eq!((args.port, args.base_path.as_str()), (9001, "/chat"));
    }
}
