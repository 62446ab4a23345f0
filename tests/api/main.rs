//! One integration test binary: each module talks HTTP to a real server started
//! on an ephemeral port with a fresh SQLite file (see `helpers`).

mod binary;
mod database;
mod health;
mod helpers;
mod spa;
