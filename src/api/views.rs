//! Wire shapes that more than one resource module answers with, so that no
//! resource module imports another for them.

use serde_json::{json, Value};

use super::error::ApiError;
use crate::app::AppState;
use crate::auth::CurrentUser;
use crate::db::{self, conversation::Snapshot};

/// A new conversation of `current` from a snapshot, as GET /conversations/{id} shows it.
pub async fn copy_to(
    state: &AppState,
    current: &CurrentUser,
    snapshot: Snapshot,
) -> Result<Value, ApiError> {
    // A big one is written in parts, hidden until whole (src/db/import.rs).
    let (conversation, messages) =
        db::import::copy(&state.db, current.user.id.clone(), snapshot).await?;
    let mut body = json!(conversation);
    body["messages"] = json!(messages);
    Ok(body)
}

/// What the chat operations need from the server's state.
pub fn chat(state: &AppState) -> crate::service::chat::Chat<'_> {
    crate::service::chat::Chat {
        db: &state.db,
        engine: &state.engine,
        idle_timeout: state.llm_idle_timeout,
    }
}
