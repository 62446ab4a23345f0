//! One integration test binary: each module talks HTTP to a real server started
//! on an ephemeral port with a fresh SQLite file (see `helpers`), and speaks
//! through the product's operations by name (see `client`).

mod auth;
mod backup;
mod binary;
mod chatgpt_import;
mod client;
mod collector;
mod conversations;
#[cfg(unix)]
mod crash;
mod daily;
mod database;
mod disclosure;
#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod disk_full;
mod external;
mod fairness;
mod files;
mod gateway;
mod groups;
mod health;
mod helpers;
mod hostile;
#[cfg(unix)]
mod ldap;
mod limits;
mod llm_client;
mod nginx;
mod oidc;
mod openapi;
mod organize;
mod oversight;
mod security;
mod seed_002;
mod seed_004;
mod settings;
mod sharing;
mod side_by_side;
mod signin;
mod signin_limits;
#[cfg(unix)]
mod slapd;
mod spa;
mod status;
mod tls;
mod validation;
