//! The `user` table: accounts, their role and status, linked external ids.

use rusqlite::{named_params, Connection, OptionalExtension, Row};
use serde::Serialize;

use super::{is_unique_violation, DbError};

/// What an account may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    User,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::User => "user",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
            "user" => Some(Role::User),
            _ => None,
        }
    }
}

/// Whether an account may sign in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = UserStatus)]
pub enum Status {
    Active,
    /// Registered while registration needed approval; waits for an admin.
    Pending,
    Disabled,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Pending => "pending",
            Status::Disabled => "disabled",
        }
    }

    fn parse(s: &str) -> Status {
        match s {
            "active" => Status::Active,
            "pending" => Status::Pending,
            _ => Status::Disabled,
        }
    }
}

/// One account. `password_hash` and `session_epoch` never leave the server.
#[derive(Debug, Clone, Serialize)]
pub struct User {
    pub id: String,
    pub username: String,
    pub display_name: String,
    #[serde(skip)]
    pub password_hash: Option<String>,
    pub role: Role,
    pub status: Status,
    #[serde(skip)]
    pub session_epoch: i64,
    /// From the directory (LDAP, OIDC), else `None`.
    pub email: Option<String>,
    /// Who vouches for the account when it is not local: `ldap`, `proxy`,
    /// `oidc:<issuer>`, `token`, `exchange` ([`User::method`]).
    #[serde(skip)]
    pub external_issuer: Option<String>,
    /// The account's id at that issuer.
    #[serde(skip)]
    pub external_id: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// How an account signs in (`auth_method` in the API).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    Local,
    Ldap,
    Oidc,
    Proxy,
    Token,
    Exchange,
}

impl User {
    /// How this account signs in, from its external issuer.
    pub fn method(&self) -> Method {
        match self.external_issuer.as_deref() {
            None => Method::Local,
            Some("ldap") => Method::Ldap,
            Some("proxy") => Method::Proxy,
            Some("token") => Method::Token,
            Some("exchange") => Method::Exchange,
            Some(issuer) if issuer.starts_with("oidc:") => Method::Oidc,
            // An issuer this version does not know: not a local password.
            Some(_) => Method::Exchange,
        }
    }

    /// A directory (LDAP, OIDC, proxy) manages this account's password.
    pub fn directory_managed(&self) -> bool {
        matches!(self.method(), Method::Ldap | Method::Oidc | Method::Proxy)
    }
}

/// A new account. The role is decided in the insert itself: the first account
/// becomes admin, in the same statement that counts, so two first sign-ups at
/// once cannot both become admin.
pub struct NewUser<'a> {
    pub username: &'a str,
    pub display_name: &'a str,
    pub password_hash: Option<&'a str>,
    /// `None`: admin if first, else user.
    pub role: Option<Role>,
    /// The status when not the first account (the first is always active).
    pub status: Status,
    pub external: Option<(&'a str, &'a str)>,
}

const COLUMNS: &str = "id, username, display_name, password_hash, role, status, session_epoch, \
                       created_at, updated_at, email, external_issuer, external_id";

const INSERT: &str = "INSERT INTO user (id, username, display_name, password_hash, role, status,
        external_issuer, external_id, created_at, updated_at)
    SELECT :id, :username, :display_name, :password_hash,
        CASE WHEN :role IS NOT NULL THEN :role
             WHEN NOT EXISTS (SELECT 1 FROM user) THEN 'admin' ELSE 'user' END,
        CASE WHEN NOT EXISTS (SELECT 1 FROM user) THEN 'active' ELSE :status END,
        :issuer, :external_id, :now, :now";

fn from_row(row: &Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: row.get(0)?,
        username: row.get(1)?,
        display_name: row.get(2)?,
        password_hash: row.get(3)?,
        role: Role::parse(&row.get::<_, String>(4)?).unwrap_or(Role::User),
        status: Status::parse(&row.get::<_, String>(5)?),
        session_epoch: row.get(6)?,
        created_at: row.get(7)?,
        updated_at: row.get(8)?,
        email: row.get(9)?,
        external_issuer: row.get(10)?,
        external_id: row.get(11)?,
    })
}

/// Creates an account; a taken username is [`DbError::Conflict`].
pub fn insert(conn: &Connection, new: &NewUser<'_>) -> Result<User, DbError> {
    let id = super::new_id();
    let (issuer, external_id) = new.external.unzip();
    let result = conn.prepare_cached(INSERT)?.execute(named_params! {
        ":id": id,
        ":username": new.username,
        ":display_name": new.display_name,
        ":password_hash": new.password_hash,
        ":role": new.role.map(Role::as_str),
        ":status": new.status.as_str(),
        ":issuer": issuer,
        ":external_id": external_id,
        ":now": super::now(),
    });
    match result {
        Ok(_) => by_id(conn, &id)?.ok_or_else(|| DbError::Task("inserted user vanished".into())),
        Err(err) if is_unique_violation(&err) => {
            Err(DbError::Conflict("this username is already taken".into()))
        }
        Err(err) => Err(err.into()),
    }
}

pub fn by_id(conn: &Connection, id: &str) -> Result<Option<User>, DbError> {
    let sql = format!("SELECT {COLUMNS} FROM user WHERE id = ?1");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row([id], from_row)
        .optional()?)
}

/// Case-insensitive, like the unique index.
pub fn by_username(conn: &Connection, username: &str) -> Result<Option<User>, DbError> {
    let sql = format!("SELECT {COLUMNS} FROM user WHERE username = ?1");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row([username], from_row)
        .optional()?)
}

/// The account linked to an id at an external issuer (`token`, `exchange`).
pub fn by_external(
    conn: &Connection,
    issuer: &str,
    external_id: &str,
) -> Result<Option<User>, DbError> {
    let sql = format!("SELECT {COLUMNS} FROM user WHERE external_issuer = ?1 AND external_id = ?2");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row([issuer, external_id], from_row)
        .optional()?)
}

/// Accounts whose username or display name contains `q` (case-insensitive),
/// ordered by id (creation time), after `cursor`, at most `limit`.
pub fn list(
    conn: &Connection,
    q: Option<&str>,
    after: Option<&str>,
    limit: u32,
) -> Result<Vec<User>, DbError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM user
         WHERE (:q IS NULL OR instr(lower(username), lower(:q)) > 0
                           OR instr(lower(display_name), lower(:q)) > 0)
           AND (:after IS NULL OR id > :after)
         ORDER BY id LIMIT :limit"
    );
    let mut stmt = conn.prepare_cached(&super::with_limit(&sql, limit, None))?;
    let rows = stmt.query_map(named_params! { ":q": q, ":after": after }, from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// How many accounts there are.
pub fn count(conn: &Connection) -> Result<i64, DbError> {
    Ok(conn
        .prepare_cached("SELECT count(*) FROM user")?
        .query_row([], |r| r.get(0))?)
}

/// Active admins other than `except`: the last one may not lose the role.
pub fn other_active_admins(conn: &Connection, except: &str) -> Result<i64, DbError> {
    Ok(conn
        .prepare_cached(
            "SELECT count(*) FROM user WHERE role = 'admin' AND status = 'active' AND id <> ?1",
        )?
        .query_row([except], |r| r.get(0))?)
}

pub fn set_role(conn: &Connection, id: &str, role: Role) -> Result<(), DbError> {
    conn.prepare_cached("UPDATE user SET role = ?2, updated_at = ?3 WHERE id = ?1")?
        .execute(rusqlite::params![id, role.as_str(), super::now()])?;
    Ok(())
}

pub fn set_status(conn: &Connection, id: &str, status: Status) -> Result<(), DbError> {
    conn.prepare_cached("UPDATE user SET status = ?2, updated_at = ?3 WHERE id = ?1")?
        .execute(rusqlite::params![id, status.as_str(), super::now()])?;
    Ok(())
}

/// What a directory says of an account at each sign-in.
pub fn set_directory_profile(
    conn: &Connection,
    id: &str,
    display_name: &str,
    email: Option<&str>,
) -> Result<(), DbError> {
    conn.prepare_cached(
        "UPDATE user SET display_name = ?2, email = ?3, updated_at = ?4
         WHERE id = ?1 AND (display_name IS NOT ?2 OR email IS NOT ?3)",
    )?
    .execute(rusqlite::params![id, display_name, email, super::now()])?;
    Ok(())
}

pub fn set_display_name(conn: &Connection, id: &str, name: &str) -> Result<(), DbError> {
    conn.prepare_cached("UPDATE user SET display_name = ?2, updated_at = ?3 WHERE id = ?1")?
        .execute(rusqlite::params![id, name, super::now()])?;
    Ok(())
}

/// Stores a new password hash and raises the session epoch, so every access
/// token issued before stops working on its next use.
pub fn set_password(conn: &Connection, id: &str, hash: &str) -> Result<(), DbError> {
    conn.prepare_cached(
        "UPDATE user SET password_hash = ?2, session_epoch = session_epoch + 1, updated_at = ?3
         WHERE id = ?1",
    )?
    .execute(rusqlite::params![id, hash, super::now()])?;
    Ok(())
}

/// Deletes the account; its tokens and keys go with it (foreign keys cascade).
pub fn delete(conn: &Connection, id: &str) -> Result<bool, DbError> {
    Ok(conn
        .prepare_cached("DELETE FROM user WHERE id = ?1")?
        .execute([id])?
        > 0)
}
