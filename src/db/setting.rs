//! The `setting` table: server-kept key/value pairs with JSON values.

use rusqlite::{params, Connection, OptionalExtension};
use serde_json::Value;

use super::DbError;

const GET: &str = "SELECT value FROM setting WHERE key = ?1";
const PUT: &str = "INSERT INTO setting (key, value, updated_at) VALUES (?1, ?2, ?3)
     ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at";
const INSERT_NEW: &str =
    "INSERT INTO setting (key, value, updated_at) VALUES (?1, ?2, ?3) ON CONFLICT (key) DO NOTHING";

/// The install time, written once when the database is first used.
pub const INSTALLED_AT: &str = "installed_at";
/// `open` (default), `approval` or `closed`; changed by admins.
pub const REGISTRATION_MODE: &str = "registration_mode";
/// The model a conversation uses when neither it nor its user chose one.
pub const DEFAULT_MODEL: &str = "default_model_id";

/// Reads a setting.
pub fn get(conn: &Connection, key: &str) -> Result<Option<Value>, DbError> {
    let raw: Option<String> = conn
        .prepare_cached(GET)?
        .query_row(params![key], |row| row.get(0))
        .optional()?;
    Ok(raw.and_then(|text| serde_json::from_str(&text).ok()))
}

/// Writes a setting, replacing any earlier value.
pub fn put(conn: &Connection, key: &str, value: &Value) -> Result<(), DbError> {
    conn.prepare_cached(PUT)?
        .execute(params![key, value.to_string(), super::now()])?;
    Ok(())
}

/// Writes a setting only if it has no value yet; returns the value in force.
pub fn get_or_insert(conn: &Connection, key: &str, value: &Value) -> Result<Value, DbError> {
    conn.prepare_cached(INSERT_NEW)?
        .execute(params![key, value.to_string(), super::now()])?;
    Ok(get(conn, key)?.unwrap_or_else(|| value.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn conn() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::db::migrate::migrate(&mut conn, None).unwrap();
        conn
    }

    #[test]
    fn put_replaces_and_get_or_insert_keeps_the_first_value() {
        let conn = conn();
        assert_eq!(get(&conn, "k").unwrap(), None);
        put(&conn, "k", &json!({"a": 1})).unwrap();
        put(&conn, "k", &json!("two")).unwrap();
        assert_eq!(get(&conn, "k").unwrap(), Some(json!("two")));
        assert_eq!(get_or_insert(&conn, "k", &json!(3)).unwrap(), json!("two"));
        assert_eq!(get_or_insert(&conn, "n", &json!(3)).unwrap(), json!(3));
    }
}
