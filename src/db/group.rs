//! Groups of users (issue 21): the `user_group`, `group_member` and
//! `group_model` tables. A group grants models (a model some group lists is
//! for its groups' members and admins only), may give its members a plan and
//! may make every chat of theirs temporary.

use std::collections::HashSet;

use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::Serialize;

use super::{is_unique_violation, DbError};

/// A group as the admin pages see it (`GET /admin/groups`).
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Group {
    pub id: String,
    pub name: String,
    pub description: String,
    /// The plan its members get when they have none of their own.
    pub plan_id: Option<String>,
    /// Every conversation its members create is temporary.
    pub temporary_chats: bool,
    /// The models it grants, sorted (a model that left its connection is
    /// still listed: it stays restricted).
    pub model_ids: Vec<String>,
    /// The directory groups whose members become its members at sign-in
    /// (LDAP group DNs, OIDC group claim values, proxy header groups).
    pub directory_groups: Vec<String>,
    pub member_count: i64,
    pub created_at: String,
    pub updated_at: String,
}

/// A member of a group, as its page lists them.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Member {
    pub id: String,
    pub username: String,
    pub display_name: String,
    /// `manual` (an admin added them) or `directory` (their directory
    /// groups did, at sign-in).
    pub source: String,
}

/// A group a user belongs to (`GET /users/{id}`).
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct GroupRef {
    pub id: String,
    pub name: String,
}

/// The fields of a new or changed group (the models are set apart).
pub struct GroupInput<'a> {
    pub name: &'a str,
    pub description: &'a str,
    pub plan_id: Option<&'a str>,
    pub temporary_chats: bool,
}

const SELECT_GROUP: &str = "SELECT g.id, g.name, g.description, g.plan_id, g.temporary_chats,
        g.created_at, g.updated_at,
        (SELECT count(*) FROM group_member m WHERE m.group_id = g.id)
   FROM user_group g";

fn group_from(row: &Row<'_>) -> rusqlite::Result<Group> {
    Ok(Group {
        id: row.get(0)?,
        name: row.get(1)?,
        description: row.get(2)?,
        plan_id: row.get(3)?,
        temporary_chats: row.get(4)?,
        created_at: row.get(5)?,
        updated_at: row.get(6)?,
        member_count: row.get(7)?,
        model_ids: Vec::new(),
        directory_groups: Vec::new(),
    })
}

fn with_models(conn: &Connection, mut group: Group) -> Result<Group, DbError> {
    group.model_ids = models_of(conn, &group.id)?;
    group.directory_groups = directory_names(conn, &group.id)?;
    Ok(group)
}

/// Every group, by name (case-insensitive).
pub fn list(conn: &Connection) -> Result<Vec<Group>, DbError> {
    let sql = format!("{SELECT_GROUP} ORDER BY g.name COLLATE NOCASE, g.id");
    let groups: Vec<Group> = {
        let mut stmt = conn.prepare_cached(&sql)?;
        let rows = stmt.query_map([], group_from)?;
        rows.collect::<Result<_, _>>()?
    };
    groups.into_iter().map(|g| with_models(conn, g)).collect()
}

pub fn get(conn: &Connection, id: &str) -> Result<Option<Group>, DbError> {
    let sql = format!("{SELECT_GROUP} WHERE g.id = ?1");
    let group = conn
        .prepare_cached(&sql)?
        .query_row([id], group_from)
        .optional()?;
    group.map(|g| with_models(conn, g)).transpose()
}

/// Whether another group (not `except`) has this name (case-insensitive).
pub fn name_taken(conn: &Connection, name: &str, except: Option<&str>) -> Result<bool, DbError> {
    Ok(conn
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM user_group WHERE name = ?1 COLLATE NOCASE AND id IS NOT ?2)",
        )?
        .query_row(params![name, except], |r| r.get(0))?)
}

fn conflict(err: rusqlite::Error) -> DbError {
    if is_unique_violation(&err) {
        DbError::Conflict("a group with this name already exists".into())
    } else {
        err.into()
    }
}

/// Adds a group; returns its id.
pub fn insert(conn: &Connection, input: &GroupInput<'_>) -> Result<String, DbError> {
    let id = super::new_id();
    conn.prepare_cached(
        "INSERT INTO user_group (id, name, description, plan_id, temporary_chats, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
    )?
    .execute(params![
        id,
        input.name,
        input.description,
        input.plan_id,
        input.temporary_chats,
        super::now()
    ])
    .map_err(conflict)?;
    Ok(id)
}

/// Replaces a group's fields; false when there is no such group.
pub fn update(conn: &Connection, id: &str, input: &GroupInput<'_>) -> Result<bool, DbError> {
    Ok(conn
        .prepare_cached(
            "UPDATE user_group SET name = ?2, description = ?3, plan_id = ?4, temporary_chats = ?5,
                updated_at = ?6 WHERE id = ?1",
        )?
        .execute(params![
            id,
            input.name,
            input.description,
            input.plan_id,
            input.temporary_chats,
            super::now()
        ])
        .map_err(conflict)?
        > 0)
}

/// Replaces the models a group grants.
pub fn set_models(conn: &Connection, id: &str, model_ids: &[String]) -> Result<(), DbError> {
    conn.prepare_cached("DELETE FROM group_model WHERE group_id = ?1")?
        .execute([id])?;
    let mut insert = conn
        .prepare_cached("INSERT OR IGNORE INTO group_model (group_id, model_id) VALUES (?1, ?2)")?;
    for model in model_ids {
        insert.execute(params![id, model])?;
    }
    Ok(())
}

/// The models a group grants, sorted.
pub fn models_of(conn: &Connection, id: &str) -> Result<Vec<String>, DbError> {
    let mut stmt = conn
        .prepare_cached("SELECT model_id FROM group_model WHERE group_id = ?1 ORDER BY model_id")?;
    let rows = stmt.query_map([id], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Deletes a group (its members and grants go with it); false when there
/// was none.
pub fn delete(conn: &Connection, id: &str) -> Result<bool, DbError> {
    Ok(conn
        .prepare_cached("DELETE FROM user_group WHERE id = ?1")?
        .execute([id])?
        > 0)
}

/// A group's members, by username.
pub fn members(conn: &Connection, id: &str) -> Result<Vec<Member>, DbError> {
    let mut stmt = conn.prepare_cached(
        "SELECT u.id, u.username, u.display_name, m.source FROM group_member m
           JOIN user u ON u.id = m.user_id
          WHERE m.group_id = ?1 ORDER BY u.username COLLATE NOCASE, u.id",
    )?;
    let rows = stmt.query_map([id], |r| {
        Ok(Member {
            id: r.get(0)?,
            username: r.get(1)?,
            display_name: r.get(2)?,
            source: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Adds users to a group; returns how many were not members yet.
pub fn add_members(conn: &Connection, id: &str, user_ids: &[String]) -> Result<usize, DbError> {
    let now = super::now();
    let mut insert = conn.prepare_cached(
        // An admin's add makes a directory-given membership the admin's:
        // the next sign-in no longer takes it away.
        "INSERT INTO group_member (group_id, user_id, added_at, source) VALUES (?1, ?2, ?3, 'manual')
         ON CONFLICT (group_id, user_id) DO UPDATE SET source = 'manual'
         WHERE group_member.source <> 'manual'",
    )?;
    let mut added = 0;
    for user in user_ids {
        added += insert.execute(params![id, user, now])?;
    }
    Ok(added)
}

/// Takes a user out of a group; false when they were not in it.
pub fn remove_member(conn: &Connection, id: &str, user_id: &str) -> Result<bool, DbError> {
    Ok(conn
        .prepare_cached("DELETE FROM group_member WHERE group_id = ?1 AND user_id = ?2")?
        .execute(params![id, user_id])?
        > 0)
}

/// Touches a group's `updated_at` (its members changed).
pub fn touch(conn: &Connection, id: &str) -> Result<(), DbError> {
    conn.prepare_cached("UPDATE user_group SET updated_at = ?2 WHERE id = ?1")?
        .execute(params![id, super::now()])?;
    Ok(())
}

/// The groups a user is in, by name.
pub fn groups_of(conn: &Connection, user_id: &str) -> Result<Vec<GroupRef>, DbError> {
    let mut stmt = conn.prepare_cached(
        "SELECT g.id, g.name FROM group_member m JOIN user_group g ON g.id = m.group_id
          WHERE m.user_id = ?1 ORDER BY g.name COLLATE NOCASE, g.id",
    )?;
    let rows = stmt.query_map([user_id], |r| {
        Ok(GroupRef {
            id: r.get(0)?,
            name: r.get(1)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Every model some group lists (restricted to those groups' members).
pub fn restricted_models(conn: &Connection) -> Result<HashSet<String>, DbError> {
    let mut stmt = conn.prepare_cached("SELECT DISTINCT model_id FROM group_model")?;
    let rows = stmt.query_map([], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The models the groups of `user_id` grant.
pub fn granted_models(conn: &Connection, user_id: &str) -> Result<HashSet<String>, DbError> {
    let mut stmt = conn.prepare_cached(
        "SELECT DISTINCT gm.model_id FROM group_member m
           JOIN group_model gm ON gm.group_id = m.group_id WHERE m.user_id = ?1",
    )?;
    let rows = stmt.query_map([user_id], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Whether `user_id` may use `model_id` as far as groups go: the model is
/// listed by no group, or by one of theirs (admins are the caller's to let
/// through).
pub fn grants(conn: &Connection, user_id: &str, model_id: &str) -> Result<bool, DbError> {
    Ok(conn
        .prepare_cached(
            "SELECT NOT EXISTS (SELECT 1 FROM group_model WHERE model_id = ?2)
                 OR EXISTS (SELECT 1 FROM group_model gm
                              JOIN group_member m ON m.group_id = gm.group_id
                             WHERE gm.model_id = ?2 AND m.user_id = ?1)",
        )?
        .query_row(params![user_id, model_id], |r| r.get(0))?)
}

/// Whether one of the groups of `user_id` makes every chat temporary.
pub fn temporary_chats_forced(conn: &Connection, user_id: &str) -> Result<bool, DbError> {
    Ok(conn
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM group_member m JOIN user_group g ON g.id = m.group_id
                             WHERE m.user_id = ?1 AND g.temporary_chats = 1)",
        )?
        .query_row([user_id], |r| r.get(0))?)
}

/// The directory groups that feed group `id`, sorted.
pub fn directory_names(conn: &Connection, id: &str) -> Result<Vec<String>, DbError> {
    let mut stmt =
        conn.prepare_cached("SELECT name FROM group_directory WHERE group_id = ?1 ORDER BY name")?;
    let rows = stmt.query_map([id], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Replaces the directory groups that feed group `id`.
pub fn set_directory_names(conn: &Connection, id: &str, names: &[String]) -> Result<(), DbError> {
    conn.prepare_cached("DELETE FROM group_directory WHERE group_id = ?1")?
        .execute([id])?;
    let mut insert = conn
        .prepare_cached("INSERT OR IGNORE INTO group_directory (group_id, name) VALUES (?1, ?2)")?;
    for name in names {
        insert.execute(params![id, name])?;
    }
    Ok(())
}

/// The daehwa groups fed by any of `names` (case-insensitive), sorted.
pub fn fed_by(conn: &Connection, names: &[String]) -> Result<Vec<String>, DbError> {
    let mut stmt = conn.prepare_cached("SELECT group_id FROM group_directory WHERE name = ?1")?;
    let mut ids = std::collections::BTreeSet::new();
    for name in names {
        for id in stmt.query_map([name], |r| r.get::<_, String>(0))? {
            ids.insert(id?);
        }
    }
    Ok(ids.into_iter().collect())
}

/// Makes the directory-given memberships of `user_id` exactly `group_ids`:
/// adds the missing ones, removes the others; an admin's memberships stay.
/// Returns whether anything changed.
pub fn sync_directory_memberships(
    conn: &Connection,
    user_id: &str,
    group_ids: &[String],
) -> Result<bool, DbError> {
    let current: HashSet<String> = conn
        .prepare_cached(
            "SELECT group_id FROM group_member WHERE user_id = ?1 AND source = 'directory'",
        )?
        .query_map([user_id], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let wanted: HashSet<&String> = group_ids.iter().collect();
    let mut changed = false;
    let mut remove = conn.prepare_cached(
        "DELETE FROM group_member WHERE group_id = ?1 AND user_id = ?2 AND source = 'directory'",
    )?;
    for id in current.iter().filter(|id| !wanted.contains(id)) {
        changed |= remove.execute(params![id, user_id])? > 0;
    }
    let mut add = conn.prepare_cached(
        "INSERT OR IGNORE INTO group_member (group_id, user_id, added_at, source)
         VALUES (?1, ?2, ?3, 'directory')",
    )?;
    let now = super::now();
    for id in group_ids.iter().filter(|id| !current.contains(*id)) {
        changed |= add.execute(params![id, user_id, now])? > 0;
    }
    Ok(changed)
}
