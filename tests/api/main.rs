//! One integration test binary: each module talks HTTP to a real server started
//! on an ephemeral port with a fresh SQLite file (see `helpers`).

mod auth;
mod binary;
mod collector;
mod conversations;
mod database;
mod external;
mod health;
mod helpers;
mod llm_client;
mod oversight;
mod settings;
mod sharing;
mod spa;
