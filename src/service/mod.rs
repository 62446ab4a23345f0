//! The product's operations, as plain functions over [`Db`](crate::db::Db)
//! and the [`Engine`](crate::engine::Engine): what happens when a user asks,
//! edits or regenerates, copies or deletes a conversation, hits a plan limit,
//! creates a key, or an admin changes something (audited). Every HTTP dialect
//! (`/api/v1`, and the compatibility ones under `api/compat/`) only parses the
//! request, calls one operation and renders its typed result; so no dialect
//! can skip a check, and the rules are unit-tested without HTTP.
//!
//! Each operation is one transaction inside `db/` (`BEGIN IMMEDIATE` where it
//! writes). No warp type appears here.

pub mod accounts;
pub mod admin;
pub mod chat;
pub mod chatgpt_import;
pub mod collector;
pub mod connections;
pub mod conversations;
pub mod directory;
pub mod error;
pub mod files;
pub mod folders;
pub mod groups;
pub mod models;
pub mod oversight;
pub mod plan;
pub mod plans;
pub mod prompts;
pub mod retention;
pub mod samples;
pub mod search;
pub mod settings;
pub mod shares;
pub mod signin;
pub mod status;

pub use error::Error;

/// What an operation returns.
pub type Result<T, E = Error> = std::result::Result<T, E>;
