//! fake-llm: a fake LLM upstream on 127.0.0.1 that speaks the OpenAI, Azure
//! OpenAI and Anthropic protocols, for daehwa's tests, benchmarks and browser
//! tests. Deterministic answers, configurable speed, failure knobs, and a
//! record of every request it received.
//!
//! ```no_run
//! # async fn demo() {
//! use fake_llm::{Behavior, Config, FakeLlm};
//! let fake = FakeLlm::start(Config::default()).await; // or start(Behavior { … })
//! // OpenAI endpoints use fake.openai_url() (".../v1"), Azure and Anthropic fake.url().
//! fake.set(Behavior { fail_with: Some((429, 1)), ..Behavior::default() });
//! // … call it …
//! let seen = fake.requests();
//! # }
//! ```
//!
//! # Routes
//! - OpenAI: `GET /v1/models`, `POST /v1/chat/completions` (JSON or SSE;
//!   `stream_options.include_usage` adds the final usage chunk).
//! - Azure: `POST /openai/deployments/{name}/chat/completions?api-version=…`,
//!   `GET /openai/deployments`.
//! - Anthropic: `POST /v1/messages` (JSON or SSE with the real event
//!   sequence), `GET /v1/models` when the request carries `anthropic-version`
//!   or `x-api-key` (otherwise that path answers in OpenAI's shape).
//! - Anything else: 404 in OpenAI's error shape.
//!
//! # Answers
//! `Token0 Token1 …` (or `토큰0 토큰1 …` when the question contains Hangul),
//! one delta per token, [`Behavior::tokens`] of them (default 20). Usage:
//! prompt tokens = whitespace-separated words of all messages, completion
//! tokens = tokens sent. See [`answer_text`] and [`prompt_tokens`].
//!
//! # Magic words
//! In the last user message, they change that one answer (for a fake running
//! as a separate process, e.g. under a browser test):
//!
//! | word | effect |
//! | --- | --- |
//! | `[[slow]]` | 200 ms per token |
//! | `[[delay:MS]]` | MS per token |
//! | `[[first:MS]]` | MS before the first token |
//! | `[[tokens:N]]` | N tokens |
//! | `[[fail:STATUS]]` | fail with STATUS (provider's error shape; 429 adds `Retry-After: 1`) |
//! | `[[fail:STATUS:N]]` | fail the first N requests with exactly this question, then answer |
//! | `[[stall:K]]` | send K tokens, then nothing while keeping the connection open |
//! | `[[drop:K]]` | send K tokens, then cut the connection (truncated chunked body) |
//! | `[[bad:K]]` | send K tokens, then one chunk that is not JSON |
//! | `[[markdown]]` | answer with [`MARKDOWN_ANSWER`]: **bold**, a list and a fenced code block, with Korean text |
//! | `[[echo]]` | answer with the text of every message received (system prompt and context included) |
//!
//! # Binary
//! `fake-llm --port 0 [--delay-ms N] [--first-delay-ms N] [--tokens N] [--api-key K]
//! [--models A,B]`
//! prints exactly one line, `fake-llm listening on http://127.0.0.1:PORT`, and
//! serves until killed or Ctrl-C.

mod answer;
mod behavior;
mod server;

pub use answer::{
    answer_text, answer_tokens, echo_tokens, prompt_tokens, split_tokens, MARKDOWN_ANSWER,
};
pub use behavior::{parse_magic, Behavior, Magic, SLOW_TOKEN_DELAY};
pub use server::{Config, FakeLlm, Recorded};
