//! Models and the connections that serve them.

use std::time::Duration;

use super::Error;
use crate::db::connection::ConnectionRow;
use crate::llm;

/// The provider endpoint of a stored connection.
pub fn endpoint_of(conn: &ConnectionRow, idle_timeout: Duration) -> Result<llm::Endpoint, Error> {
    let kind = llm::Kind::parse(&conn.kind)
        .ok_or_else(|| Error::Internal(format!("unknown connection kind {}", conn.kind)))?;
    Ok(llm::Endpoint {
        kind,
        base_url: conn.base_url.clone(),
        api_key: conn.api_key.clone(),
        no_proxy: conn.no_proxy,
        connect_timeout: Duration::from_secs(10),
        idle_timeout,
    })
}
