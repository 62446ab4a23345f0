//! Accounts (SPEC §3 "Auth", "Administration"): who may register, the
//! admins' changes to accounts (audited, never leaving the server without an
//! active admin), a user's password change and API keys.

use std::collections::BTreeMap;

use serde_json::json;

use super::{Error, Result};
use crate::auth::external::ExternalIdentity;
use crate::auth::password::{display_name_problem, password_problem, username_problem};
use crate::auth::tokens;
use crate::db::audit::{self, Actor, Audit};
use crate::db::token::{ApiKey, Rotation};
use crate::db::user::{NewUser, Role, Status, User};
use crate::db::{self, Db, DbError};

/// The registration modes an admin may choose.
pub const REGISTRATION_MODES: [&str; 3] = ["open", "approval", "closed"];

/// The registration mode an admin chose (`open` when never set).
pub fn registration_mode(conn: &rusqlite::Connection) -> Result<String, DbError> {
    Ok(db::setting::get(conn, db::setting::REGISTRATION_MODE)?
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| "open".to_string()))
}

/// Whether the server has no account at all (its next one becomes admin).
fn no_account_yet(conn: &rusqlite::Connection) -> Result<bool, DbError> {
    Ok(db::user::list(conn, None, None, 1)?.is_empty())
}

/// What the sign-in page needs before anyone signs in.
#[derive(Debug, Clone, PartialEq)]
pub struct Setup {
    /// No account exists yet: the next registration becomes the admin.
    pub first_account: bool,
    pub registration_mode: String,
}

/// Whether an account exists yet, and the registration mode.
pub async fn setup(db: &Db) -> Result<Setup> {
    db.run(move |conn| {
        Ok(Setup {
            first_account: no_account_yet(conn)?,
            registration_mode: registration_mode(conn)?,
        })
    })
    .await
}

fn registration_closed() -> Error {
    Error::forbidden(
        "registration_closed",
        "registration is closed; ask an administrator for an account",
    )
}

/// A 403 when registration is closed (the first account of an empty server
/// is always allowed: it becomes the admin).
pub fn registration_open(conn: &rusqlite::Connection) -> Result<()> {
    if registration_mode(conn)? == "closed" && !no_account_yet(conn)? {
        return Err(registration_closed());
    }
    Ok(())
}

/// The status a new account starts in under `mode`, or a 403 when the mode
/// lets nobody in (external sign-ins, which have no first-account rule).
pub fn status_for_mode(mode: &str) -> Result<Status> {
    match mode {
        "closed" => Err(registration_closed()),
        "approval" => Ok(Status::Pending),
        _ => Ok(Status::Active),
    }
}

/// A registration, checked: the trimmed username, and the display name
/// (the username when blank).
#[derive(Debug, PartialEq)]
pub struct Registration {
    pub username: String,
    pub display_name: String,
}

/// Checks a registration's fields, all at once (422 with each problem).
pub fn check_registration(
    username: &str,
    password: &str,
    display_name: Option<&str>,
) -> Result<Registration> {
    let username = username.trim().to_string();
    let display_name = display_name
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .unwrap_or(&username)
        .to_string();
    let mut fields = BTreeMap::new();
    if let Some(why) = username_problem(&username) {
        fields.insert("username", why.to_string());
    }
    if let Some(why) = password_problem(password) {
        fields.insert("password", why.to_string());
    }
    if let Some(why) = display_name_problem(&display_name) {
        fields.insert("display_name", why.to_string());
    }
    if !fields.is_empty() {
        return Err(Error::Validation(fields));
    }
    Ok(Registration {
        username,
        display_name,
    })
}

/// The cheap refusals of a registration, before any hashing: a closed
/// server or a taken name costs one read.
pub async fn precheck_registration(db: &Db, username: String) -> Result<()> {
    db.run(move |conn| {
        registration_open(conn)?;
        if db::user::by_username(conn, &username)?.is_some() {
            return Err(Error::Conflict("this username is already taken".into()));
        }
        Ok(())
    })
    .await
}

/// Creates the registered account with its password hash, checking again
/// that registration is open (an admin may have just closed it).
pub async fn register(db: &Db, registration: Registration, hash: String) -> Result<User> {
    db.run(move |conn| {
        registration_open(conn)?;
        let status = if registration_mode(conn)? == "approval" {
            Status::Pending
        } else {
            Status::Active
        };
        Ok(db::user::insert(
            conn,
            &NewUser {
                username: &registration.username,
                display_name: &registration.display_name,
                password_hash: Some(&hash),
                role: None,
                status,
                external: None,
            },
        )?)
    })
    .await
}

/// The account signing in with this username, if any.
pub async fn find_by_username(db: &Db, username: &str) -> Result<Option<User>> {
    let username = username.to_string();
    Ok(db
        .run(move |conn| db::user::by_username(conn, &username))
        .await?)
}

/// A page of accounts, optionally matching `q`, after the `after` id.
pub async fn list_users(
    db: &Db,
    q: Option<String>,
    after: Option<String>,
    limit: u32,
) -> Result<Vec<User>> {
    let q = q.filter(|q| !q.trim().is_empty());
    Ok(db
        .run(move |conn| db::user::list(conn, q.as_deref(), after.as_deref(), limit))
        .await?)
}

pub async fn get_user(db: &Db, id: String) -> Result<User> {
    db.run(move |conn| db::user::by_id(conn, &id))
        .await?
        .ok_or_else(|| Error::NotFound("no such user".into()))
}

/// An admin's change to an account; absent fields are kept.
#[derive(Debug, Default, Clone)]
pub struct UserChange {
    pub role: Option<Role>,
    pub disabled: Option<bool>,
    /// Approves a pending account.
    pub approve: Option<bool>,
    pub display_name: Option<String>,
}

impl UserChange {
    /// Whether the change would take an active admin's powers away.
    fn demotes(&self, user: &User) -> bool {
        user.role == Role::Admin
            && user.status == Status::Active
            && (self.role == Some(Role::User) || self.disabled == Some(true))
    }

    /// The status the account moves to, if any: disabling wins, enabling
    /// only touches a disabled account, approving only a pending one.
    fn new_status(&self, current: Status) -> Option<Status> {
        let status = match (self.disabled, self.approve) {
            (Some(true), _) => Some(Status::Disabled),
            (Some(false), _) if current == Status::Disabled => Some(Status::Active),
            (_, Some(true)) if current == Status::Pending => Some(Status::Active),
            _ => None,
        };
        status.filter(|s| *s != current)
    }
}

/// Changes an account (audited with what changed, when anything did). The
/// last active admin cannot be demoted or disabled; disabling signs the
/// account out everywhere.
pub async fn update_user(db: &Db, actor: Actor, id: String, change: UserChange) -> Result<User> {
    if let Some(why) = change
        .display_name
        .as_deref()
        .and_then(display_name_problem)
    {
        return Err(Error::invalid("display_name", why));
    }
    db.run(move |conn| {
        audit::audited_if_changed(conn, Some(&actor), "user.update", |tx| {
            let user =
                db::user::by_id(tx, &id)?.ok_or_else(|| Error::NotFound("no such user".into()))?;
            if change.demotes(&user) && db::user::other_active_admins(tx, &user.id)? == 0 {
                return Err(Error::Conflict(
                    "this is the last active administrator; make another account admin first"
                        .into(),
                ));
            }
            let mut changes = serde_json::Map::new();
            if let Some(role) = change.role.filter(|r| *r != user.role) {
                db::user::set_role(tx, &user.id, role)?;
                changes.insert("role".into(), json!(role));
            }
            if let Some(status) = change.new_status(user.status) {
                db::user::set_status(tx, &user.id, status)?;
                if status == Status::Disabled {
                    db::token::revoke_user_refresh(tx, &user.id, None)?;
                }
                changes.insert("status".into(), json!(status));
            }
            if let Some(name) = change.display_name.as_deref().map(str::trim) {
                if name != user.display_name {
                    db::user::set_display_name(tx, &user.id, name)?;
                    changes.insert("display_name".into(), json!(name));
                }
            }
            let audit = (!changes.is_empty())
                .then(|| Audit::new(user.id.clone(), serde_json::Value::Object(changes)));
            let updated = db::user::by_id(tx, &user.id)?.unwrap_or(user);
            Ok((updated, audit))
        })
    })
    .await
}

/// Deletes an account (audited), unless it is the last active admin.
pub async fn delete_user(db: &Db, actor: Actor, id: String) -> Result<()> {
    db.run(move |conn| {
        audit::audited(conn, Some(&actor), "user.delete", |tx| {
            let user =
                db::user::by_id(tx, &id)?.ok_or_else(|| Error::NotFound("no such user".into()))?;
            if user.role == Role::Admin
                && user.status == Status::Active
                && db::user::other_active_admins(tx, &user.id)? == 0
            {
                return Err(Error::Conflict(
                    "this is the last active administrator and cannot be deleted".into(),
                ));
            }
            db::user::delete(tx, &user.id)?;
            let audit = Audit::new(user.id.clone(), json!({ "username": user.username }));
            Ok(((), audit))
        })
    })
    .await
}

/// Saves a new password hash and signs out every session but `keep`, in
/// one transaction; the account as it is now.
pub async fn set_password(
    db: &Db,
    user_id: String,
    hash: String,
    keep: Option<String>,
) -> Result<User> {
    db.run(move |conn| {
        audit::immediate(conn, |tx| {
            db::user::set_password(tx, &user_id, &hash)?;
            db::token::revoke_user_refresh(tx, &user_id, keep.as_deref())?;
            Ok::<_, Error>(db::user::by_id(tx, &user_id)?)
        })
    })
    .await?
    .ok_or_else(|| Error::NotFound("account not found".into()))
}

/// Longest allowed API key lifetime (ten years).
pub const MAX_KEY_EXPIRY_DAYS: i64 = 3650;

/// A new API key's name (trimmed, 1–64 characters) and lifetime (1–3650
/// days, or none).
fn check_api_key(client_name: &str, expires_in_days: Option<i64>) -> Result<String> {
    let client_name = client_name.trim().to_string();
    if client_name.is_empty() || client_name.chars().count() > 64 {
        return Err(Error::invalid(
            "client_name",
            "must be 1 to 64 characters long",
        ));
    }
    if let Some(days) = expires_in_days {
        if !(1..=MAX_KEY_EXPIRY_DAYS).contains(&days) {
            return Err(Error::invalid(
                "expires_in_days",
                format!("must be between 1 and {MAX_KEY_EXPIRY_DAYS}"),
            ));
        }
    }
    Ok(client_name)
}

/// Creates an API key: the stored key (hashed) and the key itself, which
/// is shown once.
pub async fn create_api_key(
    db: &Db,
    user_id: String,
    client_name: &str,
    expires_in_days: Option<i64>,
) -> Result<(ApiKey, String)> {
    let client_name = check_api_key(client_name, expires_in_days)?;
    let key = tokens::new_api_key();
    let hash = tokens::sha256_hex(&key);
    let prefix = tokens::api_key_display_prefix(&key);
    let expires_at = expires_in_days.map(tokens::days_from_now);
    let created = db
        .run(move |conn| {
            db::token::insert_api_key(
                conn,
                &user_id,
                &client_name,
                &hash,
                &prefix,
                expires_at.as_deref(),
            )
        })
        .await?;
    Ok((created, key))
}

/// The user's live API keys, newest first.
pub async fn list_api_keys(db: &Db, user_id: String) -> Result<Vec<ApiKey>> {
    Ok(db
        .run(move |conn| db::token::list_api_keys(conn, &user_id))
        .await?)
}

/// Revokes one of the user's keys (404 when it is not theirs or unknown).
pub async fn revoke_api_key(db: &Db, user_id: String, id: String) -> Result<()> {
    let revoked = db
        .run(move |conn| db::token::revoke_api_key(conn, &user_id, &id))
        .await?;
    if revoked {
        Ok(())
    } else {
        Err(Error::NotFound("no such API key".into()))
    }
}

/// A new sign-in session (refresh family) for `user_id`: its family id and
/// refresh token (stored hashed).
pub async fn start_session(db: &Db, user_id: String) -> Result<(String, String)> {
    let family = db::new_id();
    let refresh_token = tokens::random_token();
    let hash = tokens::sha256_hex(&refresh_token);
    let family_id = family.clone();
    db.run(move |conn| {
        db::token::insert_refresh(
            conn,
            &user_id,
            &family_id,
            &hash,
            &tokens::days_from_now(tokens::REFRESH_TTL_DAYS),
        )
    })
    .await?;
    Ok((family, refresh_token))
}

/// Trades a refresh token for `new_token` (one use each): what happened to
/// the presented one, and the account of a rotated one.
pub async fn rotate_refresh(
    db: &Db,
    presented: &str,
    new_token: &str,
) -> Result<(Rotation, Option<User>)> {
    let old_hash = tokens::sha256_hex(presented);
    let new_hash = tokens::sha256_hex(new_token);
    Ok(db
        .run(move |conn| -> Result<_, DbError> {
            let rotation = db::token::rotate_refresh(
                conn,
                &old_hash,
                &new_hash,
                &tokens::days_from_now(tokens::REFRESH_TTL_DAYS),
            )?;
            let user = match &rotation {
                Rotation::Rotated { user_id, .. } => db::user::by_id(conn, user_id)?,
                _ => None,
            };
            Ok((rotation, user))
        })
        .await?)
}

/// The account of a refresh token that could still be used, without
/// using it.
pub async fn refresh_owner(db: &Db, presented: &str) -> Result<Option<User>> {
    let hash = tokens::sha256_hex(presented);
    Ok(db
        .run(move |conn| -> Result<_, DbError> {
            match db::token::user_of_refresh(conn, &hash)? {
                Some(id) => db::user::by_id(conn, &id),
                None => Ok(None),
            }
        })
        .await?)
}

/// Ends the session (refresh family) of a refresh token.
pub async fn sign_out(db: &Db, refresh_token: &str) -> Result<()> {
    let hash = tokens::sha256_hex(refresh_token);
    Ok(db
        .run(move |conn| db::token::revoke_family_of(conn, &hash))
        .await?)
}

/// Pending and disabled accounts cannot start a session.
pub fn check_can_sign_in(user: &User) -> Result<()> {
    match user.status {
        Status::Active => Ok(()),
        Status::Pending => Err(Error::forbidden(
            "pending_approval",
            "this account is waiting for an administrator's approval",
        )),
        Status::Disabled => Err(Error::forbidden(
            "account_disabled",
            "this account has been disabled",
        )),
    }
}

/// The local account linked to `(issuer, identity.id)`, created on first
/// sight with a username from the identity's username hint, else its id.
/// `role`, when given, is applied every time (the issuer is the authority).
pub async fn link_or_create(
    db: &Db,
    issuer: &'static str,
    identity: ExternalIdentity,
    role: Option<Role>,
    honour_registration_mode: bool,
) -> Result<User> {
    let ExternalIdentity {
        id: external_id,
        name,
        username: username_hint,
    } = identity;
    db.run(move |conn| {
        if let Some(user) = db::user::by_external(conn, issuer, &external_id)? {
            if let Some(role) = role.filter(|r| *r != user.role) {
                db::user::set_role(conn, &user.id, role)?;
                return Ok(db::user::by_id(conn, &user.id)?.unwrap_or(user));
            }
            return Ok(user);
        }
        let status = if honour_registration_mode {
            status_for_mode(&registration_mode(conn)?)?
        } else {
            Status::Active
        };
        let display_name = name
            .as_deref()
            .map(str::trim)
            .filter(|n| display_name_problem(n).is_none())
            .unwrap_or(&external_id)
            .chars()
            .take(64)
            .collect::<String>();
        let base = username_from(username_hint.as_deref().unwrap_or(&external_id));
        for attempt in 0..20 {
            let username = match attempt {
                0 => base.clone(),
                n => format!("{}-{}", &base[..base.len().min(28)], n + 1),
            };
            let result = db::user::insert(
                conn,
                &NewUser {
                    username: &username,
                    display_name: &display_name,
                    password_hash: None,
                    role,
                    status,
                    external: Some((issuer, &external_id)),
                },
            );
            match result {
                Ok(user) => return Ok(user),
                Err(DbError::Conflict(_)) => continue,
                Err(err) => return Err(err.into()),
            }
        }
        Err(Error::Conflict(
            "could not find a free username for this account".into(),
        ))
    })
    .await
}

/// A valid username made from an external name or id.
pub fn username_from(source: &str) -> String {
    let mut name: String = source
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '_'
            }
        })
        .take(32)
        .collect();
    if name.trim_matches('_').is_empty() {
        name = format!("user-{}", &tokens::random_token()[..8]);
    }
    while name.len() < 3 {
        name.push('_');
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_made_from_external_names_are_valid() {
        for source in [
            "kim minji",
            "emp-0042",
            "김민지",
            "a",
            "x@corp.example",
            &"y".repeat(80),
        ] {
            let name = username_from(source);
            assert_eq!(username_problem(&name), None, "{source} → {name}");
        }
        assert_eq!(username_from("emp-0042"), "emp-0042");
    }

    #[test]
    fn a_registration_is_trimmed_and_its_display_name_defaults_to_the_username() {
        let r = check_registration("  minji ", "secret123", Some("  ")).unwrap();
        assert_eq!(r.username, "minji");
        assert_eq!(r.display_name, "minji");
        let r = check_registration("minji", "secret123", Some(" 민지 ")).unwrap();
        assert_eq!(r.display_name, "민지");
    }

    #[test]
    fn a_registration_reports_every_bad_field_at_once() {
        let Err(Error::Validation(f)) = check_registration("a", "short", None) else {
            panic!("accepted");
        };
        assert!(
            f.contains_key("username") && f.contains_key("password"),
            "{f:?}"
        );
    }

    #[test]
    fn the_registration_mode_decides_how_an_external_account_starts() {
        assert_eq!(status_for_mode("open").unwrap(), Status::Active);
        assert_eq!(status_for_mode("approval").unwrap(), Status::Pending);
        assert!(matches!(
            status_for_mode("closed"),
            Err(Error::Forbidden {
                code: "registration_closed",
                ..
            })
        ));
    }

    fn user(role: Role, status: Status) -> User {
        User {
            id: "u".into(),
            username: "u".into(),
            display_name: "u".into(),
            password_hash: None,
            role,
            status,
            session_epoch: 0,
            email: None,
            external_issuer: None,
            external_id: None,
            created_at: String::new(),
            updated_at: String::new(),
        }
    }

    #[test]
    fn demoting_or_disabling_an_active_admin_is_what_the_last_admin_rule_guards() {
        let admin = user(Role::Admin, Status::Active);
        let to_user = UserChange {
            role: Some(Role::User),
            ..Default::default()
        };
        let disable = UserChange {
            disabled: Some(true),
            ..Default::default()
        };
        assert!(to_user.demotes(&admin) && disable.demotes(&admin));
        assert!(!UserChange::default().demotes(&admin));
        assert!(!disable.demotes(&user(Role::User, Status::Active)));
        assert!(!disable.demotes(&user(Role::Admin, Status::Disabled)));
    }

    #[test]
    fn status_changes_follow_disable_enable_and_approve() {
        let change = |disabled, approve| UserChange {
            disabled,
            approve,
            ..Default::default()
        };
        assert_eq!(
            change(Some(true), Some(true)).new_status(Status::Pending),
            Some(Status::Disabled)
        );
        assert_eq!(
            change(Some(false), None).new_status(Status::Disabled),
            Some(Status::Active)
        );
        assert_eq!(change(Some(false), None).new_status(Status::Pending), None);
        assert_eq!(
            change(None, Some(true)).new_status(Status::Pending),
            Some(Status::Active)
        );
        assert_eq!(change(None, Some(true)).new_status(Status::Active), None);
        assert_eq!(change(Some(true), None).new_status(Status::Disabled), None);
    }

    #[test]
    fn api_keys_need_a_name_and_live_1_to_3650_days() {
        assert_eq!(check_api_key("  cli ", None).unwrap(), "cli");
        assert!(check_api_key("cli", Some(1)).is_ok());
        assert!(check_api_key("cli", Some(3650)).is_ok());
        for (name, days, why) in [
            ("  ", None, "a blank name"),
            (&*"n".repeat(65), None, "a name over 64 characters"),
            ("cli", Some(0), "zero days"),
            ("cli", Some(3651), "over ten years"),
        ] {
            assert!(
                matches!(check_api_key(name, days), Err(Error::Validation(_))),
                "{why}"
            );
        }
    }
}
