//! daehwa: a self-hosted ChatGPT-style chat service in one executable.
//!
//! The binary (`src/main.rs`) only parses the command line and calls into this
//! library, so integration tests start exactly the server that ships.
//!
//! # A tour of the code
//!
//! Read it in the order a request travels:
//!
//! 1. [`app::App::build`] binds the listener, opens the database ([`db::Db`]), starts
//!    the [`engine`] and wires the routes; [`listen`] accepts connections and
//!    puts every request under its guards (timeouts, connection limits, a
//!    caught panic answers 500).
//! 2. **An HTTP dialect** parses and renders, nothing more: [`api`] is the
//!    native `/api/v1` (one module per resource, each with its typed replies
//!    and its part of the OpenAPI document, [`api::openapi::spec`]);
//!    `api::compat` holds the OpenAI-compatible gateway (`/v1`) and the two
//!    older dialects (`/v1/llm`, `/simple`). [`auth`] says who is calling.
//! 3. **The service layer**, [`service`], is the product: ask, edit and
//!    regenerate a turn ([`service::chat`]), plan checks, accounts, shares,
//!    settings, connections … as plain functions over [`db::Db`] and the engine,
//!    failing with one domain error, [`service::Error`], that each dialect maps
//!    to its own error shape.
//! 4. **The store**, [`db`]: all SQL, one transaction per operation
//!    (`BEGIN IMMEDIATE` when it writes), run on blocking threads; audited
//!    changes go through `db::audit`.
//! 5. **The engine**, [`engine`]: an answer runs in the server, not in the
//!    request. It streams from the provider ([`llm`], ureq on a blocking
//!    thread), fans the deltas out to every subscriber, and saves the text
//!    through one flush writer, so a closed tab or a reload loses nothing.
//!
//! Around them: [`config`] (the command line), [`backup`], [`cli`] (operator
//! commands on the database file), [`security`] (headers, CORS), [`spa`] (the
//! embedded web app), [`tls`], [`logging`], [`shutdown`].

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
