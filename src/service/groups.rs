//! Groups of users (issue 21): the admin's operations on them (audited) and
//! the model access they decide. A model no group lists is open to every
//! user; a model some group lists is for the members of those groups and
//! for admins. A user's allowed models are the open ones and their groups',
//! narrowed by their plan's `allowed_models`. The rule is read from the
//! database on every request, so a change applies to the next one.

use std::collections::{BTreeMap, HashSet};

use rusqlite::Connection;
use serde_json::json;

use super::{Error, Result};
use crate::db::audit::{self, Actor, Audit};
use crate::db::connection::{self, ModelRow};
use crate::db::group::{self, Group, GroupInput, GroupRef, Member};
use crate::db::user::{self, Role};
use crate::db::{plan, Db, DbError};

/// Longest group name, in characters.
pub const MAX_NAME_CHARS: usize = 64;
/// Longest description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 1000;
/// Most models one group may grant.
pub const MAX_MODELS: usize = 500;
/// Most users one request may add.
pub const MAX_MEMBERS_PER_REQUEST: usize = 1000;

// ---- model access -------------------------------------------------------

/// What decides the models one user may use, read once (an ask checks it
/// for the model it picks and for each one compared): whether they are an
/// admin, and their plan.
pub struct Access {
    user_id: String,
    admin: bool,
    /// Their effective plan (none: every model, no daily limit).
    pub plan: Option<plan::Plan>,
}

impl Access {
    /// The access of `user_id`, from the database as it is now.
    pub fn read(conn: &Connection, user_id: &str) -> Result<Access, DbError> {
        Ok(Access {
            user_id: user_id.to_string(),
            admin: is_admin(conn, user_id)?,
            plan: plan::effective(conn, user_id)?,
        })
    }

    /// Whose access this is.
    pub fn user_id(&self) -> &str {
        &self.user_id
    }

    /// [`may_use`]: admins every model, others the models no group lists
    /// and their groups' models.
    pub fn may_use(&self, conn: &Connection, model_id: &str) -> Result<bool, DbError> {
        Ok(self.admin || group::grants(conn, &self.user_id, model_id)?)
    }

    /// Whether they may pick `model_id`: the groups let them
    /// ([`may_use`](Self::may_use)) and their plan includes it.
    pub fn may_pick(&self, conn: &Connection, model_id: &str) -> Result<bool, DbError> {
        Ok(
            self.plan.as_ref().is_none_or(|p| p.allows(model_id))
                && self.may_use(conn, model_id)?,
        )
    }

    /// [`allowed_models`] for them.
    pub fn allowed_models(&self, conn: &Connection) -> Result<Vec<ModelRow>, DbError> {
        let available = connection::available_models(conn)?;
        let restricted = group::restricted_models(conn)?;
        let granted: Option<HashSet<String>> = if self.admin {
            None
        } else {
            Some(group::granted_models(conn, &self.user_id)?)
        };
        Ok(available
            .into_iter()
            .filter(|m| {
                granted
                    .as_ref()
                    .is_none_or(|g| !restricted.contains(&m.id) || g.contains(&m.id))
            })
            .filter(|m| self.plan.as_ref().is_none_or(|p| p.allows(&m.id)))
            .collect())
    }
}

/// Whether `user_id` may use `model_id` as far as groups go: admins may use
/// every model; others the models no group lists and their groups' models.
pub fn may_use(conn: &Connection, user_id: &str, model_id: &str) -> Result<bool, DbError> {
    if is_admin(conn, user_id)? {
        return Ok(true);
    }
    group::grants(conn, user_id, model_id)
}

fn is_admin(conn: &Connection, user_id: &str) -> Result<bool, DbError> {
    Ok(user::by_id(conn, user_id)?.is_some_and(|u| u.role == Role::Admin))
}

/// [`may_use`] as the ask's admission says it: 403 `model_not_allowed`.
/// Checked with the plan, inside the transaction that records the question.
pub fn check_access(access: &Access, conn: &Connection, model_id: &str) -> Result<()> {
    if access.may_use(conn, model_id)? {
        Ok(())
    } else {
        Err(not_allowed(model_id))
    }
}

/// The refusal of a model the caller's groups do not grant.
pub fn not_allowed(model_id: &str) -> Error {
    Error::forbidden(
        "model_not_allowed",
        format!("the model {model_id} is reserved for some groups of users, and you are in none of them; ask an administrator"),
    )
}

/// The models `user_id` may pick (enabled, of an enabled connection): the
/// open ones and their groups' (every one for an admin), narrowed by their
/// plan. Anonymous (`None`): the open ones only.
pub fn allowed_models(conn: &Connection, user_id: Option<&str>) -> Result<Vec<ModelRow>, DbError> {
    match user_id {
        Some(user_id) => Access::read(conn, user_id)?.allowed_models(conn),
        None => {
            let restricted = group::restricted_models(conn)?;
            Ok(connection::available_models(conn)?
                .into_iter()
                .filter(|m| !restricted.contains(&m.id))
                .collect())
        }
    }
}

/// [`allowed_models`] on a database thread.
pub async fn allowed_models_of(db: &Db, user_id: Option<String>) -> Result<Vec<ModelRow>> {
    Ok(db
        .run(move |conn| allowed_models(conn, user_id.as_deref()))
        .await?)
}

// ---- the admin's operations ---------------------------------------------

/// A new group, or the fields to change (absent ones keep their value);
/// `plan_id: Some(None)` clears the plan, `model_ids` replaces the set.
#[derive(Debug, Default, Clone)]
pub struct GroupChange {
    pub name: Option<String>,
    pub description: Option<String>,
    pub plan_id: Option<Option<String>>,
    pub temporary_chats: Option<bool>,
    pub model_ids: Option<Vec<String>>,
    /// Replaces the directory groups that feed it.
    pub directory_groups: Option<Vec<String>>,
}

/// Most directory groups feeding one group, and the longest name of one.
pub const MAX_DIRECTORY_GROUPS: usize = 50;
pub const MAX_DIRECTORY_GROUP_CHARS: usize = 512;

/// Trimmed, without empty entries and case-insensitive repeats.
fn clean_directory_groups(names: &[String]) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    names
        .iter()
        .map(|n| n.trim())
        .filter(|n| !n.is_empty() && seen.insert(n.to_lowercase()))
        .map(String::from)
        .collect()
}

/// A group with its members (`GET /admin/groups/{id}`).
#[derive(Debug, Clone)]
pub struct GroupDetail {
    pub group: Group,
    pub members: Vec<Member>,
}

/// The checks that need no database: a name of 1–64 characters without
/// control characters (required for a new group), a description of at
/// most 1000 characters, at most 500 models.
fn validate(change: &GroupChange, creating: bool) -> Result<()> {
    let mut fields = BTreeMap::new();
    match &change.name {
        Some(name) => {
            let n = name.trim().chars().count();
            if n == 0 || n > MAX_NAME_CHARS {
                fields.insert("name", format!("must be 1 to {MAX_NAME_CHARS} characters"));
            } else if name.chars().any(char::is_control) {
                fields.insert("name", "must not contain control characters".to_string());
            }
        }
        None if creating => {
            fields.insert("name", "is required".to_string());
        }
        None => {}
    }
    if let Some(description) = &change.description {
        if description.chars().count() > MAX_DESCRIPTION_CHARS {
            fields.insert(
                "description",
                format!("must be at most {MAX_DESCRIPTION_CHARS} characters"),
            );
        }
    }
    if let Some(models) = &change.model_ids {
        if models.len() > MAX_MODELS {
            fields.insert("model_ids", format!("at most {MAX_MODELS} models"));
        } else if models.iter().any(|m| m.trim().is_empty()) {
            fields.insert("model_ids", "a model id must not be empty".to_string());
        }
    }
    if let Some(names) = &change.directory_groups {
        let names = clean_directory_groups(names);
        if names.len() > MAX_DIRECTORY_GROUPS {
            fields.insert(
                "directory_groups",
                format!("at most {MAX_DIRECTORY_GROUPS} directory groups"),
            );
        } else if names.iter().any(|n| {
            n.chars().count() > MAX_DIRECTORY_GROUP_CHARS || n.chars().any(char::is_control)
        }) {
            fields.insert(
                "directory_groups",
                format!(
                    "each is at most {MAX_DIRECTORY_GROUP_CHARS} characters, without control \
                     characters"
                ),
            );
        }
    }
    if fields.is_empty() {
        Ok(())
    } else {
        Err(Error::Validation(fields))
    }
}

fn no_such_group() -> Error {
    Error::NotFound("no such group".into())
}

fn name_taken() -> Error {
    Error::refused(
        http::StatusCode::CONFLICT,
        "name_taken",
        "a group with this name already exists",
    )
}

/// Every group, by name.
pub async fn list(db: &Db) -> Result<Vec<Group>> {
    Ok(db.run(|conn| group::list(conn)).await?)
}

/// One group with its members, or 404.
pub async fn get(db: &Db, id: String) -> Result<GroupDetail> {
    db.run(move |conn| -> Result<_> {
        let group = group::get(conn, &id)?.ok_or_else(no_such_group)?;
        let members = group::members(conn, &id)?;
        Ok(GroupDetail { group, members })
    })
    .await
}

/// Adds (`id` None) or changes a group, audited (`group.create`,
/// `group.update`) with the saved group.
pub async fn save(db: &Db, actor: Actor, id: Option<String>, change: GroupChange) -> Result<Group> {
    validate(&change, id.is_none())?;
    let action = if id.is_none() {
        "group.create"
    } else {
        "group.update"
    };
    db.run(move |conn| {
        audit::audited(conn, Some(&actor), action, |tx| {
            let existing = match &id {
                Some(id) => Some(group::get(tx, id)?.ok_or_else(no_such_group)?),
                None => None,
            };
            let name = change
                .name
                .as_deref()
                .map(str::trim)
                .map(String::from)
                .or_else(|| existing.as_ref().map(|g| g.name.clone()))
                .unwrap_or_default();
            if group::name_taken(tx, &name, id.as_deref())? {
                return Err(name_taken());
            }
            let plan_id = match change.plan_id {
                Some(p) => p,
                None => existing.as_ref().and_then(|g| g.plan_id.clone()),
            };
            if let Some(p) = &plan_id {
                if plan::get(tx, p)?.is_none() {
                    return Err(Error::invalid("plan_id", format!("unknown plan {p}")));
                }
            }
            let models = match change.model_ids {
                Some(models) => {
                    let granted: Vec<String> = existing
                        .as_ref()
                        .map(|g| g.model_ids.clone())
                        .unwrap_or_default();
                    let mut kept: Vec<String> = Vec::with_capacity(models.len());
                    for m in models {
                        if kept.contains(&m) {
                            continue;
                        }
                        // A model this group already grants stays even when
                        // it left its connection (an editor sends the set back).
                        if !granted.contains(&m) && connection::route(tx, &m)?.is_none() {
                            return Err(Error::invalid("model_ids", format!("unknown model {m}")));
                        }
                        kept.push(m);
                    }
                    Some(kept)
                }
                None => None,
            };
            let input = GroupInput {
                name: &name,
                description: change
                    .description
                    .as_deref()
                    .or(existing.as_ref().map(|g| g.description.as_str()))
                    .unwrap_or_default(),
                plan_id: plan_id.as_deref(),
                temporary_chats: change
                    .temporary_chats
                    .or(existing.as_ref().map(|g| g.temporary_chats))
                    .unwrap_or(false),
            };
            let saved_id = match &id {
                Some(id) => {
                    if !group::update(tx, id, &input).map_err(conflict)? {
                        return Err(no_such_group());
                    }
                    id.clone()
                }
                None => group::insert(tx, &input).map_err(conflict)?,
            };
            if let Some(models) = &models {
                group::set_models(tx, &saved_id, models)?;
            }
            if let Some(names) = &change.directory_groups {
                group::set_directory_names(tx, &saved_id, &clean_directory_groups(names))?;
            }
            let saved = group::get(tx, &saved_id)?
                .ok_or_else(|| Error::Internal("the saved group vanished".into()))?;
            let audit = Audit::new(saved.id.clone(), json!(saved));
            Ok((saved, audit))
        })
    })
    .await
}

/// A unique violation (two admins naming two groups alike at once) as the
/// same 409 the check answers.
fn conflict(err: DbError) -> Error {
    match err {
        DbError::Conflict(_) => name_taken(),
        other => other.into(),
    }
}

/// Deletes a group, audited (`group.delete`) with its name.
pub async fn delete(db: &Db, actor: Actor, id: String) -> Result<()> {
    db.run(move |conn| {
        audit::audited(conn, Some(&actor), "group.delete", |tx| {
            let g = group::get(tx, &id)?.ok_or_else(no_such_group)?;
            group::delete(tx, &id)?;
            Ok((
                (),
                Audit::new(
                    id.clone(),
                    json!({ "name": g.name, "members": g.member_count }),
                ),
            ))
        })
    })
    .await
}

/// Adds users to a group (at most 1000 ids; an unknown one is a 422 and
/// nothing is added), audited (`group.members.add`); returns how many were
/// not members yet.
pub async fn add_members(
    db: &Db,
    actor: Actor,
    id: String,
    user_ids: Vec<String>,
) -> Result<usize> {
    if user_ids.is_empty() {
        return Err(Error::invalid("user_ids", "name at least one user"));
    }
    if user_ids.len() > MAX_MEMBERS_PER_REQUEST {
        return Err(Error::invalid(
            "user_ids",
            format!("at most {MAX_MEMBERS_PER_REQUEST} users per request"),
        ));
    }
    db.run(move |conn| {
        audit::audited(conn, Some(&actor), "group.members.add", |tx| {
            if group::get(tx, &id)?.is_none() {
                return Err(no_such_group());
            }
            let mut unknown = Vec::new();
            for u in &user_ids {
                if user::by_id(tx, u)?.is_none() {
                    unknown.push(u.clone());
                }
            }
            if !unknown.is_empty() {
                let shown: Vec<&str> = unknown.iter().take(5).map(String::as_str).collect();
                return Err(Error::invalid(
                    "user_ids",
                    format!("{} unknown user id(s): {}", unknown.len(), shown.join(", ")),
                ));
            }
            let added = group::add_members(tx, &id, &user_ids)?;
            if added > 0 {
                group::touch(tx, &id)?;
            }
            let audit = Audit::new(id.clone(), json!({ "added": added, "user_ids": user_ids }));
            Ok((added, audit))
        })
    })
    .await
}

/// Takes a user out of a group, audited (`group.members.remove`); 404 when
/// there is no such group or they are not in it.
pub async fn remove_member(db: &Db, actor: Actor, id: String, user_id: String) -> Result<()> {
    db.run(move |conn| {
        audit::audited(conn, Some(&actor), "group.members.remove", |tx| {
            if group::get(tx, &id)?.is_none() {
                return Err(no_such_group());
            }
            if !group::remove_member(tx, &id, &user_id)? {
                return Err(Error::NotFound("this user is not in the group".into()));
            }
            group::touch(tx, &id)?;
            Ok(((), Audit::new(id.clone(), json!({ "user_id": user_id }))))
        })
    })
    .await
}

/// The groups a user is in (`GET /users/{id}`).
pub async fn groups_of(db: &Db, user_id: String) -> Result<Vec<GroupRef>> {
    Ok(db.run(move |conn| group::groups_of(conn, &user_id)).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partial_change_needs_no_name_but_a_new_group_does() {
        assert!(validate(&GroupChange::default(), false).is_ok());
        let Err(Error::Validation(f)) = validate(&GroupChange::default(), true) else {
            panic!("a nameless new group was accepted");
        };
        assert_eq!(f["name"], "is required");
    }

    #[test]
    fn invalid_groups_are_refused_field_by_field() {
        let cases = [
            (
                GroupChange {
                    name: Some("  ".into()),
                    ..Default::default()
                },
                "name",
                "blank name",
            ),
            (
                GroupChange {
                    name: Some("가".repeat(65)),
                    ..Default::default()
                },
                "name",
                "65 characters",
            ),
            (
                GroupChange {
                    name: Some("a\u{0}b".into()),
                    ..Default::default()
                },
                "name",
                "a control character",
            ),
            (
                GroupChange {
                    description: Some("x".repeat(1001)),
                    ..Default::default()
                },
                "description",
                "too long a description",
            ),
            (
                GroupChange {
                    model_ids: Some(vec!["m".into(); 501]),
                    ..Default::default()
                },
                "model_ids",
                "501 models",
            ),
            (
                GroupChange {
                    directory_groups: Some((0..51).map(|i| format!("cn=g{i}")).collect()),
                    ..Default::default()
                },
                "directory_groups",
                "51 directory groups",
            ),
            (
                GroupChange {
                    directory_groups: Some(vec!["c".repeat(513)]),
                    ..Default::default()
                },
                "directory_groups",
                "a 513-character directory group",
            ),
        ];
        for (change, field, why) in cases {
            match validate(&change, false) {
                Err(Error::Validation(f)) => assert!(f.contains_key(field), "{why}: {f:?}"),
                other => panic!("{why}: {other:?}"),
            }
        }
        assert!(validate(
            &GroupChange {
                name: Some("가".repeat(64)),
                ..Default::default()
            },
            true
        )
        .is_ok());
    }
}
