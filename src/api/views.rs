//! Wire shapes that more than one resource module answers with, so that no
//! resource module imports another for them.

use super::error::ApiError;
use crate::app::AppState;
use crate::auth::CurrentUser;
use crate::db;
use crate::db::conversation::{Conversation, Message, Snapshot};

/// A conversation with its current thread, root first: what
/// `GET /conversations/{id}` answers, and every copy (import, a share's or a
/// sample's clone, an admin's read).
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ConversationWithMessages {
    #[serde(flatten)]
    pub conversation: Conversation,
    pub messages: Vec<Message>,
}

/// A new conversation of `current` from a snapshot, as GET /conversations/{id} shows it.
pub async fn copy_to(
    state: &AppState,
    current: &CurrentUser,
    snapshot: Snapshot,
) -> Result<ConversationWithMessages, ApiError> {
    // A big one is written in parts, hidden until whole (src/db/import.rs).
    let (conversation, messages) =
        db::import::copy(&state.db, current.user.id.clone(), snapshot).await?;
    Ok(ConversationWithMessages {
        conversation,
        messages,
    })
}

/// The public view of an account (never its password hash or session
/// epoch): what sign-in, `/auth/me`, `/user/me` and `/users` answer.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[schema(as = User)]
pub struct UserView {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub role: crate::db::user::Role,
    pub status: crate::db::user::Status,
    /// How the account signs in: a local password, or a directory.
    pub auth_method: crate::db::user::Method,
    /// From the directory; `null` for local accounts.
    pub email: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&crate::db::user::User> for UserView {
    fn from(user: &crate::db::user::User) -> Self {
        UserView {
            id: user.id.clone(),
            username: user.username.clone(),
            display_name: user.display_name.clone(),
            role: user.role,
            status: user.status,
            auth_method: user.method(),
            email: user.email.clone(),
            created_at: user.created_at.clone(),
            updated_at: user.updated_at.clone(),
        }
    }
}

/// What the chat operations need from the server's state.
pub fn chat(state: &AppState) -> crate::service::chat::Chat<'_> {
    crate::service::chat::Chat {
        db: &state.db,
        engine: &state.engine,
        idle_timeout: state.llm_idle_timeout,
    }
}
