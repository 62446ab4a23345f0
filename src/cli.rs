//! `daehwa user …`: account management straight on the database file, for the
//! operator at the server's console (a lost admin password is the classic
//! self-hosting support question; `reset-password` is its answer). It works
//! while the server runs: SQLite's WAL and busy timeout let both write. A
//! running server keeps what it read about accounts for at most
//! [`crate::auth::cache::TTL`]; a command that changed an account waits that
//! long before it returns, so the change applies by the time the prompt
//! comes back.

use std::io::{self, BufRead, IsTerminal, Write};

use serde_json::json;

use crate::auth::password::{display_name_problem, password_problem, username_problem, Hasher};
use crate::config::{UserAction, UserArgs};
use crate::db::user::{NewUser, Role, Status};
use crate::db::{self, audit, Db};

/// Runs one `user` sub-command; the error is a message for the operator.
pub fn run_user(args: UserArgs) -> Result<(), String> {
    let db = Db::open(&args.db).map_err(|e| format!("cannot open {}: {e}", args.db.display()))?;
    let conn = db.pool_conn().map_err(|e| e.to_string())?;
    let hasher = Hasher::new(false);
    let changes = !matches!(args.action, UserAction::List);
    run_action(args.action, &conn, &hasher)?;
    if changes && server_running(&args.db) {
        std::thread::sleep(crate::auth::cache::TTL);
    }
    Ok(())
}

/// Whether a server holds the database (its lock file is taken).
fn server_running(db: &std::path::Path) -> bool {
    crate::backup::DbLock::acquire(db).is_err()
}

fn run_action(
    action: UserAction,
    conn: &rusqlite::Connection,
    hasher: &Hasher,
) -> Result<(), String> {
    match action {
        UserAction::Create {
            username,
            display_name,
            admin,
        } => {
            if let Some(why) = username_problem(&username) {
                return Err(format!("username {why}"));
            }
            let display_name = display_name.unwrap_or_else(|| username.clone());
            if let Some(why) = display_name_problem(&display_name) {
                return Err(format!("display name {why}"));
            }
            let password = read_new_password()?;
            let hash = hasher.hash(&password);
            let user = db::user::insert(
                conn,
                &NewUser {
                    username: &username,
                    display_name: &display_name,
                    password_hash: Some(&hash),
                    role: Some(if admin { Role::Admin } else { Role::User }),
                    status: Status::Active,
                    external: None,
                },
            )
            .map_err(|e| e.to_string())?;
            audit::record(
                conn,
                None,
                "user.create",
                Some(&user.id),
                &json!({"username": username, "role": user.role}),
            )
            .map_err(|e| e.to_string())?;
            println!(
                "created {} ({}, id {})",
                user.username,
                user.role.as_str(),
                user.id
            );
        }
        UserAction::List => {
            let mut after: Option<String> = None;
            println!(
                "{:<32} {:<6} {:<9} {:<20} id",
                "username", "role", "status", "created"
            );
            loop {
                let page =
                    db::user::list(conn, None, after.as_deref(), 200).map_err(|e| e.to_string())?;
                for u in &page {
                    println!(
                        "{:<32} {:<6} {:<9} {:<20} {}",
                        u.username,
                        u.role.as_str(),
                        u.status.as_str(),
                        u.created_at,
                        u.id
                    );
                }
                match page.last() {
                    Some(last) if page.len() == 200 => after = Some(last.id.clone()),
                    _ => break,
                }
            }
        }
        UserAction::ResetPassword { username } => {
            let user = find(conn, &username)?;
            let password = read_new_password()?;
            let hash = hasher.hash(&password);
            db::user::set_password(conn, &user.id, &hash).map_err(|e| e.to_string())?;
            db::token::revoke_user_refresh(conn, &user.id, None).map_err(|e| e.to_string())?;
            if user.status != Status::Active {
                db::user::set_status(conn, &user.id, Status::Active).map_err(|e| e.to_string())?;
            }
            audit::record(
                conn,
                None,
                "user.reset_password",
                Some(&user.id),
                &json!({}),
            )
            .map_err(|e| e.to_string())?;
            println!(
                "password of {} reset; every session of it is signed out",
                user.username
            );
        }
        UserAction::SetRole { username, role } => {
            let user = find(conn, &username)?;
            let role = Role::parse(&role).ok_or("role must be admin or user")?;
            if user.role == Role::Admin
                && role == Role::User
                && db::user::other_active_admins(conn, &user.id).map_err(|e| e.to_string())? == 0
            {
                return Err(
                    "this is the last active administrator; make another account admin first"
                        .into(),
                );
            }
            db::user::set_role(conn, &user.id, role).map_err(|e| e.to_string())?;
            audit::record(
                conn,
                None,
                "user.update",
                Some(&user.id),
                &json!({"role": role}),
            )
            .map_err(|e| e.to_string())?;
            println!("{} is now {}", user.username, role.as_str());
        }
    }
    Ok(())
}

fn find(conn: &rusqlite::Connection, username: &str) -> Result<db::user::User, String> {
    db::user::by_username(conn, username)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no account named {username}"))
}

/// Asks twice on a terminal (without echo); otherwise reads one line from
/// standard input, so scripts can pipe a password in.
fn read_new_password() -> Result<String, String> {
    let password = if io::stdin().is_terminal() {
        let first = rpassword::prompt_password("New password: ").map_err(|e| e.to_string())?;
        let again = rpassword::prompt_password("Again: ").map_err(|e| e.to_string())?;
        if first != again {
            return Err("the two passwords differ".into());
        }
        first
    } else {
        let mut line = String::new();
        io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
        line.trim_end_matches(['\r', '\n']).to_string()
    };
    let _ = io::stdout().flush();
    match password_problem(&password) {
        Some(why) => Err(format!("password {why}")),
        None => Ok(password),
    }
}
