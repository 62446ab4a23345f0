//! The step every directory sign-in shares (issue 22): LDAP / Active
//! Directory, OpenID Connect and a trusted proxy's header each find out who
//! the user is and which groups they are in; [`sign_in`] turns that into a
//! local account, kept in step with the directory at every sign-in (and,
//! for LDAP and the proxy, at every refresh):
//!
//! - the account is found by `(issuer, external id)`, never by username, so
//!   a directory user named like a local account (say `admin`) gets an
//!   account of their own instead of the local one;
//! - outside `allowed_groups` (when set) the sign-in is refused, and the
//!   account's sessions end;
//! - display name and e-mail follow the directory; the role does too when
//!   `admin_groups` is set (the last active admin is never demoted);
//! - memberships of daehwa groups whose directory groups name one of the
//!   user's are added and removed (`source = 'directory'`); an admin's
//!   memberships stay.

use std::collections::HashSet;

use serde_json::json;

use super::accounts::check_can_sign_in;
use super::{Error, Result};
use crate::auth::password::display_name_problem;
use crate::db::user::{NewUser, Role, Status, User};
use crate::db::{self, audit, Db, DbError};

/// Who the directory says the user is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryIdentity {
    /// `ldap`, `oidc:<issuer url>` or `proxy`.
    pub issuer: String,
    /// Stable at that issuer (see the contract in `db::user::User::method`).
    pub external_id: String,
    /// A hint for the username of a new account (made valid and unique).
    pub username: String,
    pub display_name: Option<String>,
    pub email: Option<String>,
    /// As the directory names them: DNs, claim values, header values.
    pub groups: Vec<String>,
}

/// What a method's settings say about groups.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupPolicy {
    /// Members of these are admins, others users (empty: the role is the
    /// admin's to set).
    pub admin_groups: Vec<String>,
    /// Only members of these may sign in (empty: everyone).
    pub allowed_groups: Vec<String>,
}

fn lowered(names: &[String]) -> HashSet<String> {
    names.iter().map(|n| n.trim().to_lowercase()).collect()
}

impl GroupPolicy {
    /// Whether someone in `groups` may sign in.
    pub fn allows(&self, groups: &[String]) -> bool {
        self.allowed_groups.is_empty()
            || !lowered(&self.allowed_groups).is_disjoint(&lowered(groups))
    }

    /// The role someone in `groups` gets, when the directory decides it.
    pub fn role(&self, groups: &[String]) -> Option<Role> {
        if self.admin_groups.is_empty() {
            return None;
        }
        Some(
            if lowered(&self.admin_groups).is_disjoint(&lowered(groups)) {
                Role::User
            } else {
                Role::Admin
            },
        )
    }
}

fn not_allowed() -> Error {
    Error::forbidden(
        "not_in_allowed_group",
        "your directory account is not in a group allowed to use this service; ask your \
         administrator",
    )
}

/// The e-mail as stored: trimmed, at most 254 characters, else none.
fn clean_email(email: Option<&str>) -> Option<String> {
    email
        .map(str::trim)
        .filter(|e| !e.is_empty() && e.len() <= 254 && !e.chars().any(char::is_control))
        .map(str::to_string)
}

/// The display name as stored: the directory's if it is a valid one, else
/// the account's current one, else the username hint.
fn clean_name(name: Option<&str>, fallback: &str) -> String {
    name.map(str::trim)
        .filter(|n| display_name_problem(n).is_none())
        .unwrap_or(fallback)
        .chars()
        .take(64)
        .collect()
}

/// Signs a directory user in: the account, created or brought in step with
/// the directory. 403 `not_in_allowed_group` outside the allowed groups
/// (their sessions end), `account_disabled` / `pending_approval` as for a
/// local sign-in.
pub async fn sign_in(db: &Db, identity: DirectoryIdentity, policy: &GroupPolicy) -> Result<User> {
    let policy = policy.clone();
    let synced = db
        .run(move |conn| audit::immediate(conn, |tx| sync(tx, &identity, &policy)))
        .await?;
    let user = synced.ok_or_else(not_allowed)?;
    check_can_sign_in(&user)?;
    Ok(user)
}

/// [`sign_in`] in a transaction: the account, or `None` when the policy
/// refuses it (its sessions then end with the transaction's commit, which
/// is why a refusal is not an `Err` here).
pub fn sync(
    tx: &rusqlite::Transaction<'_>,
    identity: &DirectoryIdentity,
    policy: &GroupPolicy,
) -> Result<Option<User>> {
    let existing = db::user::by_external(tx, &identity.issuer, &identity.external_id)?;
    if !policy.allows(&identity.groups) {
        if let Some(user) = &existing {
            // Out of the allowed groups: whatever sessions they had end now.
            db::token::revoke_user_refresh(tx, &user.id, None)?;
            log::info!(
                "directory sign-in refused for {} ({}): not in an allowed group",
                user.username,
                identity.issuer
            );
        }
        return Ok(None);
    }
    let email = clean_email(identity.email.as_deref());
    let role = policy.role(&identity.groups);
    let user = match existing {
        Some(user) => {
            let name = clean_name(identity.display_name.as_deref(), &user.display_name);
            db::user::set_directory_profile(tx, &user.id, &name, email.as_deref())?;
            if let Some(role) = role.filter(|r| *r != user.role) {
                let last_admin = user.role == Role::Admin
                    && user.status == Status::Active
                    && db::user::other_active_admins(tx, &user.id)? == 0;
                if last_admin {
                    log::warn!(
                        "the directory no longer makes {} an admin, but they are the last \
                         active admin: the role stays",
                        user.username
                    );
                } else {
                    db::user::set_role(tx, &user.id, role)?;
                }
            }
            user.id
        }
        None => create(tx, identity, role, email.as_deref())?,
    };
    let groups = db::group::fed_by(tx, &identity.groups)?;
    db::group::sync_directory_memberships(tx, &user, &groups)?;
    let user = db::user::by_id(tx, &user)?
        .ok_or_else(|| Error::from(DbError::Task("account vanished".into())))?;
    Ok(Some(user))
}

/// A new account for `identity`: active (the directory and the allowed
/// groups are the gate, not the registration mode), no password.
fn create(
    tx: &rusqlite::Transaction<'_>,
    identity: &DirectoryIdentity,
    role: Option<Role>,
    email: Option<&str>,
) -> Result<String> {
    let base = super::accounts::username_from(&identity.username);
    // The first account of a fresh install is the admin whatever the
    // directory says (NewUser's rule); after that the directory decides,
    // else a plain user.
    let first = db::user::count(tx)? == 0;
    let role = if first {
        None
    } else {
        Some(role.unwrap_or(Role::User))
    };
    let display_name = clean_name(identity.display_name.as_deref(), &base);
    for attempt in 0..20 {
        let username = match attempt {
            0 => base.clone(),
            n => format!("{}-{}", &base[..base.len().min(28)], n + 1),
        };
        let result = db::user::insert(
            tx,
            &NewUser {
                username: &username,
                display_name: &display_name,
                password_hash: None,
                role,
                status: Status::Active,
                external: Some((&identity.issuer, &identity.external_id)),
            },
        );
        match result {
            Ok(user) => {
                db::user::set_directory_profile(tx, &user.id, &display_name, email)?;
                audit::record(
                    tx,
                    None,
                    "user.directory_sign_in",
                    Some(&user.id),
                    &json!({
                        "username": user.username,
                        "issuer": identity.issuer,
                        "role": user.role.as_str(),
                    }),
                )?;
                return Ok(user.id);
            }
            Err(DbError::Conflict(_)) => continue,
            Err(err) => return Err(err.into()),
        }
    }
    Err(Error::Conflict(
        "could not find a free username for this account".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn() -> rusqlite::Connection {
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        crate::db::migrate::migrate(&mut conn, None).unwrap();
        conn
    }

    fn kim(groups: &[&str]) -> DirectoryIdentity {
        DirectoryIdentity {
            issuer: "ldap".into(),
            external_id: "guid-kim".into(),
            username: "kim".into(),
            display_name: Some("김민지".into()),
            email: Some(" kim@corp.example ".into()),
            groups: groups.iter().map(|g| g.to_string()).collect(),
        }
    }

    fn local_admin(conn: &rusqlite::Connection) -> User {
        db::user::insert(
            conn,
            &NewUser {
                username: "kim",
                display_name: "local",
                password_hash: Some("x"),
                role: None,
                status: Status::Active,
                external: None,
            },
        )
        .unwrap()
    }

    fn run(
        conn: &mut rusqlite::Connection,
        identity: &DirectoryIdentity,
        policy: &GroupPolicy,
    ) -> Result<User> {
        audit::immediate(conn, |tx| sync(tx, identity, policy))?.ok_or_else(not_allowed)
    }

    #[test]
    fn a_directory_user_named_like_a_local_account_gets_an_account_of_their_own() {
        let mut conn = conn();
        let local = local_admin(&conn);
        let user = run(&mut conn, &kim(&[]), &GroupPolicy::default()).unwrap();
        assert_ne!(user.id, local.id);
        assert_eq!(user.username, "kim-2");
        assert_eq!(user.role, Role::User);
        assert_eq!(user.display_name, "김민지");
        assert_eq!(user.email.as_deref(), Some("kim@corp.example"));
        assert_eq!(user.method(), db::user::Method::Ldap);
        // The second sign-in finds the same account.
        let again = run(&mut conn, &kim(&[]), &GroupPolicy::default()).unwrap();
        assert_eq!(again.id, user.id);
    }

    #[test]
    fn groups_decide_who_may_sign_in_the_role_and_daehwa_memberships() {
        let mut conn = conn();
        local_admin(&conn);
        let staff = "CN=Staff,OU=Groups,DC=corp,DC=example";
        let admins = "CN=AI-Admins,OU=Groups,DC=corp,DC=example";
        let policy = GroupPolicy {
            admin_groups: vec![admins.to_lowercase()],
            allowed_groups: vec![staff.into()],
        };
        let err = run(&mut conn, &kim(&["cn=other"]), &policy).unwrap_err();
        assert!(format!("{err:?}").contains("not_in_allowed_group"));

        let research = db::group::insert(
            &conn,
            &db::group::GroupInput {
                name: "Research",
                description: "",
                plan_id: None,
                temporary_chats: false,
            },
        )
        .unwrap();
        db::group::set_directory_names(&conn, &research, &[admins.to_uppercase()]).unwrap();

        let user = run(&mut conn, &kim(&[staff, admins]), &policy).unwrap();
        assert_eq!(user.role, Role::Admin);
        let members = db::group::members(&conn, &research).unwrap();
        assert_eq!(members.len(), 1);
        assert_eq!(members[0].source, "directory");

        // Out of the admin group: a user again, and out of Research.
        let user = run(&mut conn, &kim(&[staff]), &policy).unwrap();
        assert_eq!(user.role, Role::User);
        assert!(db::group::members(&conn, &research).unwrap().is_empty());

        // An admin's membership stays whatever the directory says.
        db::group::add_members(&conn, &research, std::slice::from_ref(&user.id)).unwrap();
        run(&mut conn, &kim(&[staff]), &policy).unwrap();
        let members = db::group::members(&conn, &research).unwrap();
        assert_eq!(members[0].source, "manual");

        // Out of the allowed groups: refused, and the sessions end.
        db::token::insert_refresh(&conn, &user.id, "fam", "hash", "2999-01-01T00:00:00Z").unwrap();
        assert!(db::token::family_is_live(&conn, "fam").unwrap());
        assert!(run(&mut conn, &kim(&[]), &policy).is_err());
        assert!(!db::token::family_is_live(&conn, "fam").unwrap());
    }

    #[test]
    fn the_last_active_admin_is_not_demoted_by_the_directory() {
        let mut conn = conn();
        let policy = GroupPolicy {
            admin_groups: vec!["cn=admins".into()],
            allowed_groups: vec![],
        };
        // The first account of a fresh install is the admin.
        let first = run(&mut conn, &kim(&[]), &policy).unwrap();
        assert_eq!(first.role, Role::Admin);
        let still = run(&mut conn, &kim(&[]), &policy).unwrap();
        assert_eq!(still.role, Role::Admin);
    }
}
