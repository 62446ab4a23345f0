//! daehwa: a self-hosted ChatGPT-style chat service in one executable.
//!
//! The binary (`src/main.rs`) only parses the command line and calls into this
//! library, so integration tests start exactly the server that ships.

/// HTTP API under `/api/v1` and `/v1`: routes, errors, the one `recover`.
pub mod api;
/// Binding the listener, wiring the routes, running until shutdown.
pub mod app;
/// Who is calling: passwords, tokens, API keys, sign-in limits.
pub mod auth;
/// `daehwa backup|restore`, the server's database lock, the daily backup.
pub mod backup;
/// Operator sub-commands that work on the database file (`daehwa user …`).
pub mod cli;
/// Command line and environment configuration (clap).
pub mod config;
/// SQLite: connection pool, blocking-thread runner, migrations, repositories.
pub mod db;
/// The generation engine: answers run in the server, subscribers attach to them.
pub mod engine;
/// Owner-only files: the database, its backups, the log.
pub mod fsmode;
/// The accept loop: connection limits, timeouts, the per-request guards.
pub mod listen;
/// LLM provider clients (OpenAI-compatible, Azure OpenAI, Anthropic) over ureq.
pub mod llm;
/// Console plus size-rotating file logging.
pub mod logging;
/// Security headers, CORS for configured origins, the body limit.
pub mod security;
/// The product's operations over the database and the engine, called by every HTTP dialect.
pub mod service;
/// Ctrl-C / SIGTERM handling.
pub mod shutdown;
/// The embedded web app and the history-mode fallback.
pub mod spa;
/// Optional HTTPS with rustls.
pub mod tls;

/// The version printed by `--version` and answered by `/api/v1/health`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
