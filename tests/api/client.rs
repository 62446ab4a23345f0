//! The product's operations by name: `app.share(&user, &conv)`,
//! `app.set_plan(&admin, &user.id, json!(..))`, `app.audit(&admin, "limit=1")`.
//! Each answers the status and the JSON body (`Null` when there is none),
//! exactly what [`TestApp::call`] answers, so a test reads as who does what
//! to which thing and still asserts the raw status and fields.
//!
//! Who: a [`Session`] (signed in) or [`Nobody`] (signed out). Lists take the
//! query string without its `?` (`""` for none).

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{Session, TestApp};

/// Someone calling the API: a signed-in [`Session`] or [`Nobody`].
pub trait Caller {
    fn session(&self) -> Option<&Session>;
}

/// A signed-out caller.
pub struct Nobody;

impl Caller for Nobody {
    fn session(&self) -> Option<&Session> {
        None
    }
}

impl Caller for Session {
    fn session(&self) -> Option<&Session> {
        Some(self)
    }
}

/// `path` with `?query` when there is one.
fn with_query(path: &str, query: &str) -> String {
    if query.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{query}")
    }
}

impl TestApp {
    async fn get_as(&self, who: &impl Caller, path: &str) -> (u16, Value) {
        self.call(Method::GET, path, who.session(), None).await
    }

    async fn post_as(&self, who: &impl Caller, path: &str, body: Option<Value>) -> (u16, Value) {
        self.call(Method::POST, path, who.session(), body).await
    }

    async fn put_as(&self, who: &impl Caller, path: &str, body: Value) -> (u16, Value) {
        self.call(Method::PUT, path, who.session(), Some(body))
            .await
    }

    async fn delete_as(&self, who: &impl Caller, path: &str) -> (u16, Value) {
        self.call(Method::DELETE, path, who.session(), None).await
    }

    // Conversations.

    /// `GET /conversations?query`.
    pub async fn conversations(&self, who: &impl Caller, query: &str) -> (u16, Value) {
        self.get_as(who, &with_query("/api/v1/conversations", query))
            .await
    }

    /// `POST /conversations` with `body`.
    pub async fn create_conversation(&self, who: &impl Caller, body: Value) -> (u16, Value) {
        self.post_as(who, "/api/v1/conversations", Some(body)).await
    }

    /// `GET /conversations/{id}`, whatever the status.
    pub async fn read_conversation(&self, who: &impl Caller, id: &str) -> (u16, Value) {
        self.get_as(who, &format!("/api/v1/conversations/{id}"))
            .await
    }

    /// `DELETE /conversations/{id}`.
    pub async fn delete_conversation(&self, who: &impl Caller, id: &str) -> (u16, Value) {
        self.delete_as(who, &format!("/api/v1/conversations/{id}"))
            .await
    }

    /// `POST /conversations/{id}/messages` with a whole body (the model,
    /// collector items, `stream`, …).
    pub async fn send_message(&self, who: &impl Caller, id: &str, body: Value) -> (u16, Value) {
        self.post_as(
            who,
            &format!("/api/v1/conversations/{id}/messages"),
            Some(body),
        )
        .await
    }

    /// `POST /conversations/{id}/regenerate`.
    pub async fn regenerate(&self, who: &impl Caller, id: &str, body: Value) -> (u16, Value) {
        self.post_as(
            who,
            &format!("/api/v1/conversations/{id}/regenerate"),
            Some(body),
        )
        .await
    }

    /// `POST /conversations/{id}/feedback`.
    pub async fn give_feedback(&self, who: &impl Caller, id: &str, body: Value) -> (u16, Value) {
        self.post_as(
            who,
            &format!("/api/v1/conversations/{id}/feedback"),
            Some(body),
        )
        .await
    }

    /// `GET /conversations/{id}/export?query`.
    pub async fn export_conversation(
        &self,
        who: &impl Caller,
        id: &str,
        query: &str,
    ) -> (u16, Value) {
        self.get_as(
            who,
            &with_query(&format!("/api/v1/conversations/{id}/export"), query),
        )
        .await
    }

    /// `POST /conversations/import`.
    pub async fn import_conversation(&self, who: &impl Caller, body: Value) -> (u16, Value) {
        self.post_as(who, "/api/v1/conversations/import", Some(body))
            .await
    }

    // Sharing.

    /// Shares conversation `id` (`POST /shares`, no expiry).
    pub async fn share(&self, who: &impl Caller, id: &str) -> (u16, Value) {
        self.share_with(who, json!({ "conversation_id": id })).await
    }

    /// `POST /shares` with a whole body (expiry, bad fields, …).
    pub async fn share_with(&self, who: &impl Caller, body: Value) -> (u16, Value) {
        self.post_as(who, "/api/v1/shares", Some(body)).await
    }

    /// `GET /shares?query`: the caller's shares (or all, for an admin).
    pub async fn shares(&self, who: &impl Caller, query: &str) -> (u16, Value) {
        self.get_as(who, &with_query("/api/v1/shares", query)).await
    }

    /// `GET /shares/{id}`: the shared snapshot.
    pub async fn read_share(&self, who: &impl Caller, id: &str) -> (u16, Value) {
        self.get_as(who, &format!("/api/v1/shares/{id}")).await
    }

    /// `DELETE /shares/{id}`.
    pub async fn unshare(&self, who: &impl Caller, id: &str) -> (u16, Value) {
        self.delete_as(who, &format!("/api/v1/shares/{id}")).await
    }

    /// `POST /shares/{id}/clone`: a copy in the caller's conversations.
    pub async fn clone_share(&self, who: &impl Caller, id: &str) -> (u16, Value) {
        self.post_as(who, &format!("/api/v1/shares/{id}/clone"), None)
            .await
    }

    // Samples.

    /// `POST /samples`.
    pub async fn create_sample(&self, who: &impl Caller, body: Value) -> (u16, Value) {
        self.post_as(who, "/api/v1/samples", Some(body)).await
    }

    /// `GET /samples`.
    pub async fn samples(&self, who: &impl Caller) -> (u16, Value) {
        self.get_as(who, "/api/v1/samples").await
    }

    /// `GET /samples/{id}`.
    pub async fn sample(&self, who: &impl Caller, id: &str) -> (u16, Value) {
        self.get_as(who, &format!("/api/v1/samples/{id}")).await
    }

    /// `DELETE /samples/{id}`.
    pub async fn delete_sample(&self, who: &impl Caller, id: &str) -> (u16, Value) {
        self.delete_as(who, &format!("/api/v1/samples/{id}")).await
    }

    /// `POST /samples/{id}/clone`.
    pub async fn clone_sample(&self, who: &impl Caller, id: &str) -> (u16, Value) {
        self.post_as(who, &format!("/api/v1/samples/{id}/clone"), None)
            .await
    }

    // The prompt library.

    /// `GET /prompts?query`.
    pub async fn prompts(&self, who: &impl Caller, query: &str) -> (u16, Value) {
        self.get_as(who, &with_query("/api/v1/prompts", query))
            .await
    }

    /// `POST /prompts`.
    pub async fn create_prompt(&self, who: &impl Caller, body: Value) -> (u16, Value) {
        self.post_as(who, "/api/v1/prompts", Some(body)).await
    }

    /// `PUT /prompts/{id}`.
    pub async fn update_prompt(&self, who: &impl Caller, id: &str, body: Value) -> (u16, Value) {
        self.put_as(who, &format!("/api/v1/prompts/{id}"), body)
            .await
    }

    /// `DELETE /prompts/{id}`.
    pub async fn delete_prompt(&self, who: &impl Caller, id: &str) -> (u16, Value) {
        self.delete_as(who, &format!("/api/v1/prompts/{id}")).await
    }

    // The collector.

    /// `POST /collector/items`.
    pub async fn collect(&self, who: &impl Caller, body: Value) -> (u16, Value) {
        self.post_as(who, "/api/v1/collector/items", Some(body))
            .await
    }

    /// `GET /collector/items?query`.
    pub async fn collected(&self, who: &impl Caller, query: &str) -> (u16, Value) {
        self.get_as(who, &with_query("/api/v1/collector/items", query))
            .await
    }

    /// `GET /collector/items/{id}`.
    pub async fn collected_item(&self, who: &impl Caller, id: &str) -> (u16, Value) {
        self.get_as(who, &format!("/api/v1/collector/items/{id}"))
            .await
    }

    /// `PUT /collector/items/{id}`.
    pub async fn update_collected(&self, who: &impl Caller, id: &str, body: Value) -> (u16, Value) {
        self.put_as(who, &format!("/api/v1/collector/items/{id}"), body)
            .await
    }

    /// `DELETE /collector/items/{id}`.
    pub async fn delete_collected(&self, who: &impl Caller, id: &str) -> (u16, Value) {
        self.delete_as(who, &format!("/api/v1/collector/items/{id}"))
            .await
    }

    /// `GET /collector/tags`.
    pub async fn collector_tags(&self, who: &impl Caller) -> (u16, Value) {
        self.get_as(who, "/api/v1/collector/tags").await
    }

    // Settings and plans.

    /// `GET /user/settings`: the caller's own settings.
    pub async fn settings(&self, who: &impl Caller) -> (u16, Value) {
        self.get_as(who, "/api/v1/user/settings").await
    }

    /// `PUT /user/settings`.
    pub async fn update_settings(&self, who: &impl Caller, body: Value) -> (u16, Value) {
        self.put_as(who, "/api/v1/user/settings", body).await
    }

    /// `GET /user/settings/{section}` (`theme`, `notification`, …).
    pub async fn settings_section(&self, who: &impl Caller, section: &str) -> (u16, Value) {
        self.get_as(who, &format!("/api/v1/user/settings/{section}"))
            .await
    }

    /// `PUT /user/settings/{section}`.
    pub async fn update_settings_section(
        &self,
        who: &impl Caller,
        section: &str,
        body: Value,
    ) -> (u16, Value) {
        self.put_as(who, &format!("/api/v1/user/settings/{section}"), body)
            .await
    }

    /// `GET /user/settings/subscription`: the caller's plan and its usage.
    pub async fn subscription(&self, who: &impl Caller) -> (u16, Value) {
        self.settings_section(who, "subscription").await
    }

    /// `PUT /user/settings/subscription`: a user picks a plan for themself.
    pub async fn choose_plan(&self, who: &impl Caller, body: Value) -> (u16, Value) {
        self.update_settings_section(who, "subscription", body)
            .await
    }

    /// `GET /users/{user}/settings`: someone else's settings (admin).
    pub async fn user_settings(&self, who: &impl Caller, user: &str) -> (u16, Value) {
        self.get_as(who, &format!("/api/v1/users/{user}/settings"))
            .await
    }

    /// `PUT /users/{user}/settings` (admin).
    pub async fn update_user_settings(
        &self,
        who: &impl Caller,
        user: &str,
        body: Value,
    ) -> (u16, Value) {
        self.put_as(who, &format!("/api/v1/users/{user}/settings"), body)
            .await
    }

    /// `PUT /users/{user}/settings/subscription`: an admin puts a user on a
    /// plan.
    pub async fn set_plan(&self, who: &impl Caller, user: &str, body: Value) -> (u16, Value) {
        self.put_as(
            who,
            &format!("/api/v1/users/{user}/settings/subscription"),
            body,
        )
        .await
    }

    /// `GET /plans`: the plans a user may pick.
    pub async fn plans(&self, who: &impl Caller) -> (u16, Value) {
        self.get_as(who, "/api/v1/plans").await
    }

    /// `GET /admin/plans`.
    pub async fn admin_plans(&self, who: &impl Caller) -> (u16, Value) {
        self.get_as(who, "/api/v1/admin/plans").await
    }

    /// `POST /admin/plans`.
    pub async fn create_plan(&self, who: &impl Caller, body: Value) -> (u16, Value) {
        self.post_as(who, "/api/v1/admin/plans", Some(body)).await
    }

    /// `PUT /admin/plans/{id}`.
    pub async fn update_plan(&self, who: &impl Caller, id: &str, body: Value) -> (u16, Value) {
        self.put_as(who, &format!("/api/v1/admin/plans/{id}"), body)
            .await
    }

    /// `DELETE /admin/plans/{id}`.
    pub async fn delete_plan(&self, who: &impl Caller, id: &str) -> (u16, Value) {
        self.delete_as(who, &format!("/api/v1/admin/plans/{id}"))
            .await
    }

    // Oversight.

    /// `GET /users/{user}/conversations` (admin).
    pub async fn users_conversations(&self, who: &impl Caller, user: &str) -> (u16, Value) {
        self.users_conversations_where(who, user, "").await
    }

    /// `GET /users/{user}/conversations?{query}` (admin).
    pub async fn users_conversations_where(
        &self,
        who: &impl Caller,
        user: &str,
        query: &str,
    ) -> (u16, Value) {
        let path = format!("/api/v1/users/{user}/conversations");
        self.get_as(who, &with_query(&path, query)).await
    }

    /// `GET /users/{user}/conversations/{id}` (admin).
    pub async fn users_conversation(
        &self,
        who: &impl Caller,
        user: &str,
        id: &str,
    ) -> (u16, Value) {
        self.get_as(who, &format!("/api/v1/users/{user}/conversations/{id}"))
            .await
    }

    /// `DELETE /users/{user}/conversations/{id}` (admin).
    pub async fn delete_users_conversation(
        &self,
        who: &impl Caller,
        user: &str,
        id: &str,
    ) -> (u16, Value) {
        self.delete_as(who, &format!("/api/v1/users/{user}/conversations/{id}"))
            .await
    }

    /// `GET /admin/feedback?query`.
    pub async fn all_feedback(&self, who: &impl Caller, query: &str) -> (u16, Value) {
        self.get_as(who, &with_query("/api/v1/admin/feedback", query))
            .await
    }

    /// `GET /admin/usage?query`.
    pub async fn usage(&self, who: &impl Caller, query: &str) -> (u16, Value) {
        self.get_as(who, &with_query("/api/v1/admin/usage", query))
            .await
    }

    /// `GET /admin/audit?query`.
    pub async fn audit(&self, who: &impl Caller, query: &str) -> (u16, Value) {
        self.get_as(who, &with_query("/api/v1/admin/audit", query))
            .await
    }

    /// `GET /admin/status`.
    pub async fn admin_status(&self, who: &impl Caller) -> (u16, Value) {
        self.get_as(who, "/api/v1/admin/status").await
    }
}
