//! One integration test binary: each module talks HTTP to a real server started
//! on an ephemeral port with a fresh SQLite file (see `helpers`).

mod auth;
mod binary;
mod conversations;
mod database;
mod external;
mod gateway;
mod health;
mod helpers;
mod llm_client;
mod openapi;
mod seed_002;
mod seed_004;
mod spa;
