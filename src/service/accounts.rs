//! Accounts: who may register.

use crate::db::{self, setting};

/// The registration mode an admin chose (`open` when never set).
pub fn registration_mode(conn: &rusqlite::Connection) -> Result<String, db::DbError> {
    Ok(setting::get(conn, setting::REGISTRATION_MODE)?
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| "open".to_string()))
}
