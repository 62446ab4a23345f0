//! Read-only looks at the whole database for the operator: the health probe,
//! each connection's newest failure, and row counts for the metrics.

use rusqlite::Connection;
use serde::Serialize;

use super::DbError;

/// The setting the health check writes while the disk is full.
const HEALTH_PROBE: &str = "health_probe";

/// Reads the schema's own table; with `write`, also writes one small
/// setting (so a full disk is noticed to have been freed).
pub fn probe(conn: &Connection, write: bool) -> Result<(), DbError> {
    conn.prepare_cached("SELECT count(*) FROM setting")?
        .query_row([], |row| row.get::<_, i64>(0))?;
    if write {
        super::setting::put(conn, HEALTH_PROBE, &super::now().into())?;
    }
    Ok(())
}

/// A connection with the newest error of an answer through one of its models.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ConnectionHealth {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub enabled: bool,
    /// What the provider said when it is known.
    pub last_error: Option<String>,
    pub last_error_at: Option<String>,
}

/// Each connection with the newest error of an answer through one of its
/// models (one pass over the failed messages): what the provider said when
/// it is known, which users are not shown.
const CONNECTION_ERRORS: &str = "
    SELECT c.id, c.name, c.kind, c.enabled, e.error, e.at
    FROM connection c
    LEFT JOIN (
        SELECT md.connection_id AS connection_id,
               coalesce((SELECT d.detail FROM message_error_detail d WHERE d.message_id = m.id),
                        m.error) AS error,
               max(m.updated_at) AS at
        FROM message m JOIN model md ON md.id = m.model_id
        WHERE m.status = 'error'
        GROUP BY md.connection_id
    ) e ON e.connection_id = c.id
    ORDER BY c.name, c.id";

pub fn connection_errors(conn: &Connection) -> Result<Vec<ConnectionHealth>, DbError> {
    let mut stmt = conn.prepare_cached(CONNECTION_ERRORS)?;
    let rows = stmt.query_map([], |r| {
        Ok(ConnectionHealth {
            id: r.get(0)?,
            name: r.get(1)?,
            kind: r.get(2)?,
            enabled: r.get::<_, i64>(3)? == 1,
            last_error: r.get(4)?,
            last_error_at: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Rows of the main tables, for the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub users: i64,
    pub conversations: i64,
    pub messages: i64,
}

pub fn counts(conn: &Connection) -> Result<Counts, DbError> {
    let count = |sql: &str| -> Result<i64, DbError> {
        Ok(conn.prepare_cached(sql)?.query_row([], |r| r.get(0))?)
    };
    Ok(Counts {
        users: count("SELECT count(*) FROM user")?,
        conversations: count("SELECT count(*) FROM conversation")?,
        messages: count("SELECT count(*) FROM message")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::db::migrate::migrate(&mut conn, None).unwrap();
        conn
    }

    #[test]
    fn an_empty_database_counts_nothing_and_probes_fine() {
        let conn = conn();
        probe(&conn, true).unwrap();
        assert!(crate::db::setting::get(&conn, HEALTH_PROBE)
            .unwrap()
            .is_some());
        let counts = counts(&conn).unwrap();
        assert_eq!(counts.conversations, 0);
        assert_eq!(counts.messages, 0);
        assert!(connection_errors(&conn).unwrap().is_empty());
    }
}
