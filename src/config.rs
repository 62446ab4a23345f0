//! Command line and environment configuration.
//!
//! Every flag has a `DAEHWA_*` environment fallback; a flag beats its variable,
//! which beats the default (SPEC §1). Settings changed at run time by an admin live
//! in the database, not here.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

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
    /// Manage accounts directly in the database file (works while the server
    /// runs): create an admin, list accounts, reset a lost password, set a role.
    User(UserArgs),
    /// Print the OpenAPI 3.1 document of the native API (`/api/v1`) as JSON.
    Openapi,
}

/// `daehwa user …`
#[derive(Debug, Args)]
pub struct UserArgs {
    /// SQLite database file.
    #[arg(long, env = "DAEHWA_DB", default_value = "daehwa.db", global = true)]
    pub db: PathBuf,
    #[command(subcommand)]
    pub action: UserAction,
}

#[derive(Debug, Subcommand)]
pub enum UserAction {
    /// Create an account. The password is asked for (or read from standard
    /// input when it is not a terminal).
    Create {
        /// 3 to 32 of a-z A-Z 0-9 _ . -
        username: String,
        /// Shown in the web app; defaults to the username.
        #[arg(long)]
        display_name: Option<String>,
        /// Make the account an administrator.
        #[arg(long)]
        admin: bool,
    },
    /// List every account with its role and status.
    List,
    /// Set a new password (asked for, or read from standard input), sign the
    /// account out everywhere and re-enable it if it was disabled.
    ResetPassword { username: String },
    /// Make an account `admin` or `user`.
    SetRole {
        username: String,
        #[arg(value_parser = ["admin", "user"])]
        role: String,
    },
}

impl Cli {
    /// The command to run; no sub-command means `serve` with the top-level options.
    pub fn into_command(self) -> Command {
        match self.command {
            Some(command) => command,
            None => Command::Serve(self.serve),
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

    /// Secret that signs access tokens (prefer the environment variable: a flag
    /// shows in process lists). Without it a random secret is generated once and
    /// kept in the database.
    #[arg(long, env = "DAEHWA_SECRET", hide_env_values = true)]
    pub secret: Option<String>,

    /// Shared secret of a trusted issuer; enables POST /api/v1/auth/token, which
    /// signs a user in from a request signed with it (HMAC-SHA256).
    #[arg(long, env = "DAEHWA_TRUSTED_ISSUER_SECRET", hide_env_values = true)]
    pub trusted_issuer_secret: Option<String>,

    /// Userinfo URL of an external identity provider; enables
    /// POST /api/v1/auth/exchange, which signs in the holder of a token that
    /// this URL accepts.
    #[arg(long, env = "DAEHWA_USERINFO_URL")]
    pub userinfo_url: Option<String>,

    /// Seconds to wait for the userinfo URL.
    #[arg(long, env = "DAEHWA_USERINFO_TIMEOUT", default_value_t = 10)]
    pub userinfo_timeout: u64,

    /// Seconds an LLM provider may stay silent in the middle of an answer
    /// before the answer fails with a timeout.
    #[arg(long, env = "DAEHWA_LLM_IDLE_TIMEOUT", default_value_t = 120)]
    pub llm_idle_timeout: u64,

    /// At start, with no connection yet: an OpenAI (or compatible) key becomes one.
    #[arg(long, env = "OPENAI_API_KEY", hide_env_values = true)]
    pub openai_api_key: Option<String>,

    /// Base URL for that key (default https://api.openai.com/v1).
    #[arg(long, env = "OPENAI_BASE_URL")]
    pub openai_base_url: Option<String>,

    /// At start, with no connection yet: an Anthropic key becomes one.
    #[arg(long, env = "ANTHROPIC_API_KEY", hide_env_values = true)]
    pub anthropic_api_key: Option<String>,

    /// At start, with no connection yet: an Ollama answering here becomes one
    /// (asked once, briefly). An empty value turns the check off.
    #[arg(
        long,
        env = "OLLAMA_BASE_URL",
        default_value = "http://127.0.0.1:11434"
    )]
    pub ollama_base_url: String,

    /// Cheap password hashing, for tests only; not settable from outside.
    #[arg(skip)]
    pub fast_password_hashing: bool,
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
            secret: None,
            trusted_issuer_secret: None,
            userinfo_url: None,
            userinfo_timeout: 10,
            llm_idle_timeout: 5,
            openai_api_key: None,
            openai_base_url: None,
            anthropic_api_key: None,
            ollama_base_url: String::new(),
            fast_password_hashing: true,
        }
    }

    /// Where connections may come from at start.
    pub fn bootstrap(&self) -> crate::api::connections::Bootstrap {
        crate::api::connections::Bootstrap {
            openai_api_key: self.openai_api_key.clone(),
            openai_base_url: self.openai_base_url.clone(),
            anthropic_api_key: self.anthropic_api_key.clone(),
            anthropic_base_url: None,
            ollama_base_url: Some(self.ollama_base_url.clone()).filter(|u| !u.is_empty()),
        }
    }

    /// The authentication part of the options.
    pub fn auth_config(&self) -> crate::auth::AuthConfig {
        crate::auth::AuthConfig {
            secret: self.secret.clone(),
            trusted_issuer_secret: self.trusted_issuer_secret.clone(),
            userinfo_url: self.userinfo_url.clone(),
            userinfo_timeout: Duration::from_secs(self.userinfo_timeout.max(1)),
            fast_password_hashing: self.fast_password_hashing,
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
        let serve = |argv: &[&str]| match Cli::try_parse_from(argv).unwrap().into_command() {
            Command::Serve(args) => args,
            other => panic!("{other:?}"),
        };
        assert_eq!(serve(&["daehwa", "--port", "9000"]).port, 9000);
        let args = serve(&["daehwa", "serve", "--port", "9001", "--base-path", "/chat/"]);
        assert!(!args.fast_password_hashing);
        assert_eq!((args.port, args.base_path.as_str()), (9001, "/chat"));
    }
}
