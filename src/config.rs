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

// Parsed once at start: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the web app and the API (the default).
    Serve(Box<ServeArgs>),
    /// Manage accounts directly in the database file (works while the server
    /// runs): create an admin, list accounts, reset a lost password, set a role.
    User(UserArgs),
    /// Copy the database into FILE with SQLite's online backup (safe while
    /// the server runs; the copy is one consistent instant).
    Backup(BackupArgs),
    /// Replace the database with the backup FILE (checked first; the current
    /// file is kept as <db>.pre-restore). Refused while a server runs on it.
    Restore(BackupArgs),
    /// Run daehwa as a Windows service (Windows only).
    Service(ServiceArgs),
    /// Print the OpenAPI 3.1 document of the native API (`/api/v1`) as JSON.
    Openapi,
}

/// `daehwa service …`
#[derive(Debug, Args)]
pub struct ServiceArgs {
    #[command(subcommand)]
    pub action: ServiceAction,
}

#[derive(Debug, Subcommand)]
pub enum ServiceAction {
    /// Register the service "daehwa" (automatic start, LocalSystem). Options
    /// after `--` are passed to `serve`; without --db the database is
    /// daehwa.db beside the exe, and without --log-file the log is daehwa.log
    /// there.
    Install {
        #[arg(last = true)]
        serve_args: Vec<String>,
    },
    /// Stop the service if it runs and remove it.
    Uninstall,
    /// Start the installed service.
    Start,
    /// Stop the service; running answers are saved first.
    Stop,
    /// What the service manager runs (not for interactive use).
    #[command(hide = true)]
    Run {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        serve_args: Vec<String>,
    },
}

/// `daehwa backup FILE` / `daehwa restore FILE`
#[derive(Debug, Args)]
pub struct BackupArgs {
    /// SQLite database file.
    #[arg(long, env = "DAEHWA_DB", default_value = "daehwa.db")]
    pub db: PathBuf,
    /// The backup file (written by `backup`, which never overwrites; read by `restore`).
    pub file: PathBuf,
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

/// `serve`'s options alone (what the Windows service runs with).
#[derive(Debug, Parser)]
#[command(name = "daehwa")]
pub struct ServeOnly {
    #[command(flatten)]
    pub serve: ServeArgs,
}

/// Whether `--db` was left to its default (no flag, no `DAEHWA_DB`) in the
/// matches of `daehwa [serve]` or of [`ServeOnly`].
pub fn db_defaulted(matches: &clap::ArgMatches) -> bool {
    let matches = match matches.subcommand() {
        Some(("serve", sub)) => sub,
        Some(_) => return false,
        None => matches,
    };
    matches!(
        matches.value_source("db"),
        Some(clap::parser::ValueSource::DefaultValue) | None
    )
}

/// Where the database goes when none was named: beside the executable when
/// Windows started it by a double-click or as a service (the working
/// directory is then the Desktop's or System32), else the working directory.
pub fn default_place(file: &str, beside_exe: bool) -> PathBuf {
    if beside_exe {
        if let Some(dir) = std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(PathBuf::from))
        {
            return dir.join(file);
        }
    }
    PathBuf::from(file)
}

/// True when this process has a console of its own, which on Windows means
/// Explorer started it (a double-click) rather than a command prompt.
pub fn started_by_double_click() -> bool {
    #[cfg(windows)]
    {
        let mut ids = [0u32; 2];
        // SAFETY: the buffer holds 2 ids and its length is passed; the call
        // only writes into it.
        let attached = unsafe {
            windows_sys::Win32::System::Console::GetConsoleProcessList(ids.as_mut_ptr(), 2)
        };
        attached == 1
    }
    #[cfg(not(windows))]
    {
        false
    }
}

impl Cli {
    /// The command to run; no sub-command means `serve` with the top-level options.
    pub fn into_command(self) -> Command {
        match self.command {
            Some(command) => command,
            None => Command::Serve(Box::new(self.serve)),
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

    /// Answers being written at once, in all (0: no limit); past it, 429.
    #[arg(long, env = "DAEHWA_MAX_GENERATIONS", default_value_t = 2000)]
    pub max_generations: usize,

    /// Answers being written at once for one user (0: no limit); past it, 429.
    #[arg(long, env = "DAEHWA_MAX_GENERATIONS_PER_USER", default_value_t = 20)]
    pub max_generations_per_user: usize,

    /// An answer longer than this many characters is cut (its text kept).
    #[arg(long, env = "DAEHWA_MAX_ANSWER_CHARS", default_value_t = 1_000_000)]
    pub max_answer_chars: usize,

    /// Seconds an answer may take in all before it is cut (its text kept).
    #[arg(long, env = "DAEHWA_MAX_GENERATION_TIME", default_value_t = 900)]
    pub max_generation_time: u64,

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

    /// Origins (scheme://host[:port]) whose pages may call the API from the
    /// browser, comma-separated. Empty (the default): only daehwa's own pages.
    #[arg(long, env = "DAEHWA_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,

    /// Reverse proxies (addresses or CIDRs, IPv4 or IPv6, comma-separated)
    /// whose X-Forwarded-For names the client: sign-in limits then apply per
    /// real client. Empty (the default): the TCP peer is the client.
    #[arg(long, env = "DAEHWA_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<String>,

    /// Largest request body in bytes; a bigger one gets 413 before it is read.
    #[arg(long, env = "DAEHWA_BODY_LIMIT", default_value_t = 1024 * 1024)]
    pub body_limit: u64,

    /// Open connections at most; past it a new one gets 503 (0: no cap).
    #[arg(long, env = "DAEHWA_MAX_CONNECTIONS", default_value_t = 4096)]
    pub max_connections: usize,

    /// Seconds a connection has to send a request's headers, from its opening
    /// or the end of the previous answer: slow and idle (keep-alive) clients
    /// are closed after it. A streamed answer is never cut by it.
    #[arg(long, env = "DAEHWA_HEADER_TIMEOUT", default_value_t = 20)]
    pub header_timeout: u64,

    /// PEM certificate chain: serve HTTPS directly (with --tls-key), for
    /// installs without a reverse proxy.
    #[arg(long, env = "DAEHWA_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key of that certificate (PKCS#8, PKCS#1 or SEC1).
    #[arg(long, env = "DAEHWA_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Serve Prometheus metrics at <base path>/metrics (off by default).
    #[arg(long, env = "DAEHWA_METRICS")]
    pub metrics: bool,

    /// Folder of the scheduled daily backups (turned on in the admin
    /// settings). Default: `backups` beside the database file.
    #[arg(long, env = "DAEHWA_BACKUP_DIR")]
    pub backup_dir: Option<PathBuf>,

    /// Directory sign-in (LDAP / Active Directory, OpenID Connect, proxy
    /// header): each is off until configured here or in the admin pages.
    #[command(flatten)]
    pub signin: SignInArgs,

    /// Cheap password hashing, for tests only; not settable from outside.
    #[arg(skip)]
    pub fast_password_hashing: bool,
}

/// A boolean flag that may also be written `--flag=false` (and read from
/// its variable as true/false/1/0/yes/no).
fn boolish() -> clap::builder::BoolishValueParser {
    clap::builder::BoolishValueParser::new()
}

/// The directory sign-in flags. Every one also has its field in the admin
/// pages; set here (or in its variable) it wins and is shown locked. Group
/// lists are separated by `;` (a DN has commas).
#[derive(Debug, Clone, Default, Args)]
pub struct SignInArgs {
    /// LDAP / Active Directory server: ldap://dc1.corp.example:389 or
    /// ldaps://dc1.corp.example:636. Turns LDAP sign-in on.
    #[arg(long, env = "DAEHWA_LDAP_URL")]
    pub ldap_url: Option<String>,
    /// Upgrade an ldap:// connection with StartTLS.
    #[arg(long, env = "DAEHWA_LDAP_STARTTLS", value_parser = boolish(), num_args = 0..=1, default_missing_value = "true")]
    pub ldap_starttls: Option<bool>,
    /// PEM file of the CA that signed the directory's certificate.
    #[arg(long, env = "DAEHWA_LDAP_CA_FILE")]
    pub ldap_ca_file: Option<String>,
    /// Accept any certificate from the directory (tests only; logged).
    #[arg(long, env = "DAEHWA_LDAP_SKIP_VERIFY", value_parser = boolish(), num_args = 0..=1, default_missing_value = "true")]
    pub ldap_skip_verify: Option<bool>,
    /// DN of the service account that searches for users.
    #[arg(long, env = "DAEHWA_LDAP_BIND_DN")]
    pub ldap_bind_dn: Option<String>,
    /// Password of the service account (prefer the variable).
    #[arg(long, env = "DAEHWA_LDAP_BIND_PASSWORD", hide_env_values = true)]
    pub ldap_bind_password: Option<String>,
    /// Where users are searched: OU=Staff,DC=corp,DC=example.
    #[arg(long, env = "DAEHWA_LDAP_USER_BASE")]
    pub ldap_user_base: Option<String>,
    /// Finds the user; {username} is the typed name: (sAMAccountName={username}).
    #[arg(long, env = "DAEHWA_LDAP_USER_FILTER")]
    pub ldap_user_filter: Option<String>,
    /// Where groups are searched (default: the user base).
    #[arg(long, env = "DAEHWA_LDAP_GROUP_BASE")]
    pub ldap_group_base: Option<String>,
    /// Attribute of the daehwa username (sAMAccountName, uid).
    #[arg(long, env = "DAEHWA_LDAP_USERNAME_ATTRIBUTE")]
    pub ldap_username_attribute: Option<String>,
    /// Attribute of the display name (displayName).
    #[arg(long, env = "DAEHWA_LDAP_DISPLAY_NAME_ATTRIBUTE")]
    pub ldap_display_name_attribute: Option<String>,
    /// Attribute of the e-mail address (mail).
    #[arg(long, env = "DAEHWA_LDAP_EMAIL_ATTRIBUTE")]
    pub ldap_email_attribute: Option<String>,
    /// Group DNs whose members (also through nested groups) are admins; `;`-separated.
    #[arg(long, env = "DAEHWA_LDAP_ADMIN_GROUPS", value_delimiter = ';')]
    pub ldap_admin_groups: Option<Vec<String>>,
    /// Group DNs whose members may sign in (default: everyone found); `;`-separated.
    #[arg(long, env = "DAEHWA_LDAP_ALLOWED_GROUPS", value_delimiter = ';')]
    pub ldap_allowed_groups: Option<Vec<String>>,
    /// Seconds to wait for the directory.
    #[arg(long, env = "DAEHWA_LDAP_TIMEOUT")]
    pub ldap_timeout: Option<u64>,

    /// OpenID Connect issuer (https://login.microsoftonline.com/<tenant>/v2.0,
    /// https://sso.corp.example/realms/corp). Turns OIDC sign-in on.
    #[arg(long, env = "DAEHWA_OIDC_ISSUER")]
    pub oidc_issuer: Option<String>,
    /// The client id daehwa was registered with at the provider.
    #[arg(long, env = "DAEHWA_OIDC_CLIENT_ID")]
    pub oidc_client_id: Option<String>,
    /// The client secret (prefer the variable; none for a public client).
    #[arg(long, env = "DAEHWA_OIDC_CLIENT_SECRET", hide_env_values = true)]
    pub oidc_client_secret: Option<String>,
    /// The redirect URL registered at the provider (default: made from the
    /// request, <scheme>://<host><base path>/api/v1/auth/oidc/callback).
    #[arg(long, env = "DAEHWA_OIDC_REDIRECT_URL")]
    pub oidc_redirect_url: Option<String>,
    /// Scopes asked for (default "openid profile email").
    #[arg(long, env = "DAEHWA_OIDC_SCOPES")]
    pub oidc_scopes: Option<String>,
    /// Claim of the daehwa username (default preferred_username).
    #[arg(long, env = "DAEHWA_OIDC_USERNAME_CLAIM")]
    pub oidc_username_claim: Option<String>,
    /// Claim listing the user's groups (default groups).
    #[arg(long, env = "DAEHWA_OIDC_GROUPS_CLAIM")]
    pub oidc_groups_claim: Option<String>,
    /// Groups whose members are admins; `;`-separated.
    #[arg(long, env = "DAEHWA_OIDC_ADMIN_GROUPS", value_delimiter = ';')]
    pub oidc_admin_groups: Option<Vec<String>>,
    /// Groups whose members may sign in (default: everyone); `;`-separated.
    #[arg(long, env = "DAEHWA_OIDC_ALLOWED_GROUPS", value_delimiter = ';')]
    pub oidc_allowed_groups: Option<Vec<String>>,
    /// The login button says "Sign in with <label>".
    #[arg(long, env = "DAEHWA_OIDC_BUTTON_LABEL")]
    pub oidc_button_label: Option<String>,

    /// Header in which a --trusted-proxies proxy names the signed-in user
    /// (X-Remote-User). Turns proxy sign-in on.
    #[arg(long, env = "DAEHWA_AUTH_PROXY_HEADER")]
    pub auth_proxy_header: Option<String>,
    /// Header with that user's groups, comma-separated.
    #[arg(long, env = "DAEHWA_AUTH_PROXY_GROUPS_HEADER")]
    pub auth_proxy_groups_header: Option<String>,
    /// Groups whose members are admins; `;`-separated.
    #[arg(long, env = "DAEHWA_AUTH_PROXY_ADMIN_GROUPS", value_delimiter = ';')]
    pub auth_proxy_admin_groups: Option<Vec<String>>,
    /// Groups whose members may sign in (default: everyone); `;`-separated.
    #[arg(long, env = "DAEHWA_AUTH_PROXY_ALLOWED_GROUPS", value_delimiter = ';')]
    pub auth_proxy_allowed_groups: Option<Vec<String>>,
}

impl SignInArgs {
    /// The fields these flags fix. A method whose main flag is set (the
    /// LDAP URL, the OIDC issuer, the proxy header) is on, and locked on.
    pub fn flags(&self, trusted_proxies: &[String]) -> crate::service::signin::Flags {
        use crate::service::signin::Kind::{Ldap, Oidc, Proxy};
        use serde_json::Value;
        let mut flags = crate::service::signin::Flags::default();
        flags.trusted_proxies = trusted_proxies
            .iter()
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty())
            .collect();
        let text = |v: &Option<String>| v.as_ref().map(|s| Value::from(s.trim()));
        let list = |v: &Option<Vec<String>>| {
            v.as_ref().map(|items| {
                Value::from(
                    items
                        .iter()
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty())
                        .collect::<Vec<_>>(),
                )
            })
        };
        let entries = [
            (
                Ldap,
                "url",
                "--ldap-url / DAEHWA_LDAP_URL",
                text(&self.ldap_url),
            ),
            (
                Ldap,
                "starttls",
                "--ldap-starttls / DAEHWA_LDAP_STARTTLS",
                self.ldap_starttls.map(Value::from),
            ),
            (
                Ldap,
                "ca_file",
                "--ldap-ca-file / DAEHWA_LDAP_CA_FILE",
                text(&self.ldap_ca_file),
            ),
            (
                Ldap,
                "skip_verify",
                "--ldap-skip-verify / DAEHWA_LDAP_SKIP_VERIFY",
                self.ldap_skip_verify.map(Value::from),
            ),
            (
                Ldap,
                "bind_dn",
                "--ldap-bind-dn / DAEHWA_LDAP_BIND_DN",
                text(&self.ldap_bind_dn),
            ),
            (
                Ldap,
                "bind_password",
                "--ldap-bind-password / DAEHWA_LDAP_BIND_PASSWORD",
                self.ldap_bind_password.clone().map(Value::from),
            ),
            (
                Ldap,
                "user_base",
                "--ldap-user-base / DAEHWA_LDAP_USER_BASE",
                text(&self.ldap_user_base),
            ),
            (
                Ldap,
                "user_filter",
                "--ldap-user-filter / DAEHWA_LDAP_USER_FILTER",
                text(&self.ldap_user_filter),
            ),
            (
                Ldap,
                "group_base",
                "--ldap-group-base / DAEHWA_LDAP_GROUP_BASE",
                text(&self.ldap_group_base),
            ),
            (
                Ldap,
                "username_attribute",
                "--ldap-username-attribute / DAEHWA_LDAP_USERNAME_ATTRIBUTE",
                text(&self.ldap_username_attribute),
            ),
            (
                Ldap,
                "display_name_attribute",
                "--ldap-display-name-attribute / DAEHWA_LDAP_DISPLAY_NAME_ATTRIBUTE",
                text(&self.ldap_display_name_attribute),
            ),
            (
                Ldap,
                "email_attribute",
                "--ldap-email-attribute / DAEHWA_LDAP_EMAIL_ATTRIBUTE",
                text(&self.ldap_email_attribute),
            ),
            (
                Ldap,
                "admin_groups",
                "--ldap-admin-groups / DAEHWA_LDAP_ADMIN_GROUPS",
                list(&self.ldap_admin_groups),
            ),
            (
                Ldap,
                "allowed_groups",
                "--ldap-allowed-groups / DAEHWA_LDAP_ALLOWED_GROUPS",
                list(&self.ldap_allowed_groups),
            ),
            (
                Ldap,
                "timeout_secs",
                "--ldap-timeout / DAEHWA_LDAP_TIMEOUT",
                self.ldap_timeout.map(Value::from),
            ),
            (
                Oidc,
                "issuer",
                "--oidc-issuer / DAEHWA_OIDC_ISSUER",
                text(&self.oidc_issuer),
            ),
            (
                Oidc,
                "client_id",
                "--oidc-client-id / DAEHWA_OIDC_CLIENT_ID",
                text(&self.oidc_client_id),
            ),
            (
                Oidc,
                "client_secret",
                "--oidc-client-secret / DAEHWA_OIDC_CLIENT_SECRET",
                self.oidc_client_secret.clone().map(Value::from),
            ),
            (
                Oidc,
                "redirect_url",
                "--oidc-redirect-url / DAEHWA_OIDC_REDIRECT_URL",
                text(&self.oidc_redirect_url),
            ),
            (
                Oidc,
                "scopes",
                "--oidc-scopes / DAEHWA_OIDC_SCOPES",
                text(&self.oidc_scopes),
            ),
            (
                Oidc,
                "username_claim",
                "--oidc-username-claim / DAEHWA_OIDC_USERNAME_CLAIM",
                text(&self.oidc_username_claim),
            ),
            (
                Oidc,
                "groups_claim",
                "--oidc-groups-claim / DAEHWA_OIDC_GROUPS_CLAIM",
                text(&self.oidc_groups_claim),
            ),
            (
                Oidc,
                "admin_groups",
                "--oidc-admin-groups / DAEHWA_OIDC_ADMIN_GROUPS",
                list(&self.oidc_admin_groups),
            ),
            (
                Oidc,
                "allowed_groups",
                "--oidc-allowed-groups / DAEHWA_OIDC_ALLOWED_GROUPS",
                list(&self.oidc_allowed_groups),
            ),
            (
                Oidc,
                "button_label",
                "--oidc-button-label / DAEHWA_OIDC_BUTTON_LABEL",
                text(&self.oidc_button_label),
            ),
            (
                Proxy,
                "header",
                "--auth-proxy-header / DAEHWA_AUTH_PROXY_HEADER",
                text(&self.auth_proxy_header),
            ),
            (
                Proxy,
                "groups_header",
                "--auth-proxy-groups-header / DAEHWA_AUTH_PROXY_GROUPS_HEADER",
                text(&self.auth_proxy_groups_header),
            ),
            (
                Proxy,
                "admin_groups",
                "--auth-proxy-admin-groups / DAEHWA_AUTH_PROXY_ADMIN_GROUPS",
                list(&self.auth_proxy_admin_groups),
            ),
            (
                Proxy,
                "allowed_groups",
                "--auth-proxy-allowed-groups / DAEHWA_AUTH_PROXY_ALLOWED_GROUPS",
                list(&self.auth_proxy_allowed_groups),
            ),
        ];
        for (kind, field, flag, value) in entries {
            if let Some(value) = value {
                flags.set(kind, field, flag, value);
            }
        }
        let non_empty = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.trim().is_empty());
        if non_empty(&self.ldap_url) {
            flags.set(
                Ldap,
                "enabled",
                "--ldap-url / DAEHWA_LDAP_URL",
                Value::Bool(true),
            );
        }
        if non_empty(&self.oidc_issuer) {
            flags.set(
                Oidc,
                "enabled",
                "--oidc-issuer / DAEHWA_OIDC_ISSUER",
                Value::Bool(true),
            );
        }
        if non_empty(&self.auth_proxy_header) {
            flags.set(
                Proxy,
                "enabled",
                "--auth-proxy-header / DAEHWA_AUTH_PROXY_HEADER",
                Value::Bool(true),
            );
        }
        flags
    }
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
            max_generations: 2000,
            max_generations_per_user: 20,
            max_answer_chars: 1_000_000,
            max_generation_time: 900,
            openai_api_key: None,
            openai_base_url: None,
            anthropic_api_key: None,
            ollama_base_url: String::new(),
            cors_origins: Vec::new(),
            trusted_proxies: Vec::new(),
            body_limit: 1024 * 1024,
            max_connections: 4096,
            header_timeout: 20,
            tls_cert: None,
            tls_key: None,
            metrics: false,
            backup_dir: None,
            signin: SignInArgs::default(),
            fast_password_hashing: true,
        }
    }

    /// What the generation engine allows.
    pub fn engine_limits(&self) -> crate::engine::Limits {
        crate::engine::Limits {
            max_generations: self.max_generations,
            max_generations_per_user: self.max_generations_per_user,
            max_answer_chars: self.max_answer_chars.max(1),
            max_generation_time: std::time::Duration::from_secs(self.max_generation_time.max(1)),
        }
    }

    /// What a client connection may do.
    pub fn connection_limits(&self) -> crate::listen::Limits {
        crate::listen::Limits {
            max_connections: self.max_connections,
            header_timeout: Duration::from_secs(self.header_timeout.max(1)),
            body_limit: self.body_limit,
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
            Command::Serve(args) => *args,
            other => panic!("{other:?}"),
        };
        assert_eq!(serve(&["daehwa", "--port", "9000"]).port, 9000);
        let args = serve(&["daehwa", "serve", "--port", "9001", "--base-path", "/chat/"]);
        assert!(!args.fast_password_hashing);
        assert_eq!((args.port, args.base_path.as_str()), (9001, "/chat"));
    }
}
