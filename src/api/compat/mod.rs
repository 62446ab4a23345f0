//! The compatibility dialects (SPEC §4): other APIs that daehwa also speaks,
//! each over the same conversations, plans and engine as the native API
//! (`/api/v1`). Each only parses its own request shape, calls the same
//! operation in `crate::service` and renders its own reply and error shapes.
//!
//! - [`gateway`]: `/v1/models` and `/v1/chat/completions`, the
//!   OpenAI-compatible gateway for the OpenAI SDKs and tools (OpenAI's error
//!   shape `{"error": {"message", "type", "param", "code"}}`).
//! - [`llm_sessions`]: `/v1/llm/*`, seed 002's sessions API (a session is a
//!   conversation; the native error shape).
//! - [`simple`]: `/simple/*`, seed 004's key-bound one-conversation API.

pub mod gateway;
pub mod llm_sessions;
pub mod simple;
