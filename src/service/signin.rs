//! The directory sign-in methods' settings (issue 22): LDAP / Active
//! Directory, OpenID Connect and a trusted reverse proxy's header.
//!
//! One rule decides every field (SPEC §1): a flag beats its environment
//! variable, which beats the value an admin stored in the database, which
//! beats the default, at every start. A field fixed by a flag or the
//! environment is *locked*: shown read-only and refused by a change. Each
//! method is stored as one JSON object (`signin.ldap`, `signin.oidc`,
//! `signin.proxy`); the effective settings are that object with the flags
//! laid over it, read at each use (a sign-in reads one small row).

use rusqlite::Connection;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{Error, Result};
use crate::db::audit::{self, Actor, Audit};
use crate::db::{setting, Db, DbError};

/// Group lists hold at most this many entries.
pub const MAX_GROUPS: usize = 100;
/// Longest text field (a DN, a filter, a URL).
const MAX_FIELD: usize = 2048;

/// The three methods, as the settings and the API name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Ldap,
    Oidc,
    Proxy,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Ldap, Kind::Oidc, Kind::Proxy];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Ldap => "ldap",
            Kind::Oidc => "oidc",
            Kind::Proxy => "proxy",
        }
    }

    fn key(self) -> &'static str {
        match self {
            Kind::Ldap => "signin.ldap",
            Kind::Oidc => "signin.oidc",
            Kind::Proxy => "signin.proxy",
        }
    }
}

/// LDAP / Active Directory. `{username}` in `user_filter` is replaced by the
/// typed name, escaped (RFC 4515).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LdapSettings {
    pub enabled: bool,
    /// `ldap://host:389` or `ldaps://host:636`.
    pub url: String,
    pub starttls: bool,
    /// PEM file of the CA that signed the server's certificate; empty: the
    /// system's roots.
    pub ca_file: String,
    /// Accept any certificate: for tests only, logged at every use.
    pub skip_verify: bool,
    /// The service account (empty: an anonymous search).
    pub bind_dn: String,
    pub bind_password: String,
    pub user_base: String,
    pub user_filter: String,
    /// Where groups are searched (empty: `user_base`).
    pub group_base: String,
    pub username_attribute: String,
    pub display_name_attribute: String,
    pub email_attribute: String,
    /// Group DNs whose members are admins (empty: the role is left alone).
    pub admin_groups: Vec<String>,
    /// Group DNs whose members may sign in (empty: everyone the filter finds).
    pub allowed_groups: Vec<String>,
    pub timeout_secs: u64,
}

impl Default for LdapSettings {
    fn default() -> Self {
        LdapSettings {
            enabled: false,
            url: String::new(),
            starttls: false,
            ca_file: String::new(),
            skip_verify: false,
            bind_dn: String::new(),
            bind_password: String::new(),
            user_base: String::new(),
            user_filter: "(sAMAccountName={username})".into(),
            group_base: String::new(),
            username_attribute: "sAMAccountName".into(),
            display_name_attribute: "displayName".into(),
            email_attribute: "mail".into(),
            admin_groups: Vec::new(),
            allowed_groups: Vec::new(),
            timeout_secs: 10,
        }
    }
}

impl LdapSettings {
    /// The base groups are searched under.
    pub fn group_base(&self) -> &str {
        if self.group_base.trim().is_empty() {
            &self.user_base
        } else {
            &self.group_base
        }
    }
}

/// OpenID Connect (authorization code with PKCE).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OidcSettings {
    pub enabled: bool,
    /// The issuer URL; discovery reads `<issuer>/.well-known/openid-configuration`.
    pub issuer: String,
    pub client_id: String,
    /// Empty: a public client (PKCE only).
    pub client_secret: String,
    /// Empty: made from the request (`<scheme>://<host><base>/api/v1/auth/oidc/callback`).
    pub redirect_url: String,
    pub scopes: String,
    pub username_claim: String,
    pub groups_claim: String,
    pub admin_groups: Vec<String>,
    pub allowed_groups: Vec<String>,
    /// "Sign in with {button_label}".
    pub button_label: String,
}

impl Default for OidcSettings {
    fn default() -> Self {
        OidcSettings {
            enabled: false,
            issuer: String::new(),
            client_id: String::new(),
            client_secret: String::new(),
            redirect_url: String::new(),
            scopes: "openid profile email".into(),
            username_claim: "preferred_username".into(),
            groups_claim: "groups".into(),
            admin_groups: Vec::new(),
            allowed_groups: Vec::new(),
            button_label: "SSO".into(),
        }
    }
}

/// A reverse proxy that authenticated the user and names them in a header
/// (IIS Windows authentication, nginx `auth_request`, an SSO gateway).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProxySettings {
    pub enabled: bool,
    pub header: String,
    /// A header with the user's groups, comma-separated (empty: none).
    pub groups_header: String,
    pub admin_groups: Vec<String>,
    pub allowed_groups: Vec<String>,
}

impl Default for ProxySettings {
    fn default() -> Self {
        ProxySettings {
            enabled: false,
            header: "X-Remote-User".into(),
            groups_header: String::new(),
            admin_groups: Vec::new(),
            allowed_groups: Vec::new(),
        }
    }
}

/// The group rules of a method's settings: each method names its admin and
/// allowed groups the same way.
pub fn policy(admin_groups: &[String], allowed_groups: &[String]) -> super::directory::GroupPolicy {
    super::directory::GroupPolicy {
        admin_groups: admin_groups.to_vec(),
        allowed_groups: allowed_groups.to_vec(),
    }
}

/// What the command line and the environment fixed: per method, the fields
/// (as JSON, named as in the settings) and the flag that set each.
#[derive(Debug, Clone, Default)]
pub struct Flags {
    ldap: Map<String, Value>,
    oidc: Map<String, Value>,
    proxy: Map<String, Value>,
    /// Field → `--flag / ENV` for messages.
    names: Vec<(Kind, &'static str, &'static str)>,
    /// `--trusted-proxies`: the proxy method needs one.
    pub trusted_proxies: Vec<String>,
}

impl Flags {
    /// Records that `--flag` (`ENV`) fixed `field` of `kind` to `value`.
    pub fn set(&mut self, kind: Kind, field: &'static str, flag: &'static str, value: Value) {
        self.map_mut(kind).insert(field.to_string(), value);
        self.names.push((kind, field, flag));
    }

    fn map(&self, kind: Kind) -> &Map<String, Value> {
        match kind {
            Kind::Ldap => &self.ldap,
            Kind::Oidc => &self.oidc,
            Kind::Proxy => &self.proxy,
        }
    }

    fn map_mut(&mut self, kind: Kind) -> &mut Map<String, Value> {
        match kind {
            Kind::Ldap => &mut self.ldap,
            Kind::Oidc => &mut self.oidc,
            Kind::Proxy => &mut self.proxy,
        }
    }

    /// The fields of `kind` that are locked, sorted.
    pub fn locked(&self, kind: Kind) -> Vec<String> {
        let mut fields: Vec<String> = self.map(kind).keys().cloned().collect();
        fields.sort();
        fields
    }

    fn flag_of(&self, kind: Kind, field: &str) -> &'static str {
        self.names
            .iter()
            .find(|(k, f, _)| *k == kind && *f == field)
            .map_or("the command line", |(_, _, flag)| flag)
    }
}

/// The stored object of `kind` with the flags over it.
fn merged(conn: &Connection, flags: &Flags, kind: Kind) -> Result<Map<String, Value>, DbError> {
    let mut fields = match setting::get(conn, kind.key())? {
        Some(Value::Object(stored)) => stored,
        _ => Map::new(),
    };
    for (field, value) in flags.map(kind) {
        fields.insert(field.clone(), value.clone());
    }
    Ok(fields)
}

/// Reads settings, ignoring stored fields this version does not know (a
/// downgrade) or cannot read, rather than failing every sign-in.
fn effective<T: DeserializeOwned + Default + Serialize>(fields: Map<String, Value>) -> T {
    let mut base = match serde_json::to_value(T::default()) {
        Ok(Value::Object(base)) => base,
        _ => Map::new(),
    };
    for (field, value) in fields {
        if let Some(slot) = base.get_mut(&field) {
            let previous = std::mem::replace(slot, value);
            if serde_json::from_value::<T>(Value::Object(base.clone())).is_err() {
                base.insert(field, previous);
            }
        }
    }
    serde_json::from_value(Value::Object(base)).unwrap_or_default()
}

pub fn ldap(conn: &Connection, flags: &Flags) -> Result<LdapSettings, DbError> {
    Ok(effective(merged(conn, flags, Kind::Ldap)?))
}

pub fn oidc(conn: &Connection, flags: &Flags) -> Result<OidcSettings, DbError> {
    Ok(effective(merged(conn, flags, Kind::Oidc)?))
}

pub fn proxy(conn: &Connection, flags: &Flags) -> Result<ProxySettings, DbError> {
    Ok(effective(merged(conn, flags, Kind::Proxy)?))
}

/// The three methods' effective settings.
#[derive(Debug, Clone, PartialEq)]
pub struct All {
    pub ldap: LdapSettings,
    pub oidc: OidcSettings,
    pub proxy: ProxySettings,
}

pub fn all(conn: &Connection, flags: &Flags) -> Result<All, DbError> {
    Ok(All {
        ldap: ldap(conn, flags)?,
        oidc: oidc(conn, flags)?,
        proxy: proxy(conn, flags)?,
    })
}

/// What the login page offers.
#[derive(Debug, Clone, PartialEq)]
pub struct Methods {
    pub ldap: bool,
    /// The OIDC button's label, when OIDC is on.
    pub oidc: Option<String>,
    pub proxy: bool,
}

pub async fn methods(db: &Db, flags: std::sync::Arc<Flags>) -> Result<Methods> {
    db.run(move |conn| {
        let all = all(conn, &flags)?;
        Ok(Methods {
            ldap: all.ldap.enabled,
            oidc: all.oidc.enabled.then_some(all.oidc.button_label),
            proxy: all.proxy.enabled && !flags.trusted_proxies.is_empty(),
        })
    })
    .await
}

/// Every field as a 422 names it (`"ldap.url"`).
const FIELD_KEYS: &[&str] = &[
    "ldap.enabled",
    "ldap.url",
    "ldap.starttls",
    "ldap.ca_file",
    "ldap.skip_verify",
    "ldap.bind_dn",
    "ldap.bind_password",
    "ldap.user_base",
    "ldap.user_filter",
    "ldap.group_base",
    "ldap.username_attribute",
    "ldap.display_name_attribute",
    "ldap.email_attribute",
    "ldap.admin_groups",
    "ldap.allowed_groups",
    "ldap.timeout_secs",
    "oidc.enabled",
    "oidc.issuer",
    "oidc.client_id",
    "oidc.client_secret",
    "oidc.redirect_url",
    "oidc.scopes",
    "oidc.username_claim",
    "oidc.groups_claim",
    "oidc.admin_groups",
    "oidc.allowed_groups",
    "oidc.button_label",
    "proxy.enabled",
    "proxy.header",
    "proxy.groups_header",
    "proxy.admin_groups",
    "proxy.allowed_groups",
];

/// A 422 on `kind.field` (on `kind` for a field that is not one).
fn invalid(kind: Kind, field: &str, why: impl Into<String>) -> Error {
    let key = FIELD_KEYS
        .iter()
        .find(|k| k.split_once('.') == Some((kind.as_str(), field)))
        .copied();
    match key {
        Some(key) => Error::invalid(key, why),
        None => Error::invalid(kind.as_str(), format!("{field:?} {}", why.into())),
    }
}

fn check_text(kind: Kind, field: &str, value: &str) -> Result<()> {
    if value.chars().count() > MAX_FIELD || value.chars().any(char::is_control) {
        return Err(invalid(
            kind,
            field,
            format!("must be at most {MAX_FIELD} characters, without control characters"),
        ));
    }
    Ok(())
}

fn check_groups(kind: Kind, field: &str, groups: &[String]) -> Result<()> {
    if groups.len() > MAX_GROUPS {
        return Err(invalid(kind, field, format!("at most {MAX_GROUPS} groups")));
    }
    for group in groups {
        if group.trim().is_empty() || group.chars().count() > 512 {
            return Err(invalid(kind, field, "each group is 1 to 512 characters"));
        }
        check_text(kind, field, group)?;
    }
    Ok(())
}

/// `http://` is allowed only to a loopback host (a provider on this machine).
fn loopback_http(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let host = if let Some(v6) = host.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        host.split(':').next().unwrap_or("")
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

pub fn validate_ldap(s: &LdapSettings) -> Result<()> {
    let k = Kind::Ldap;
    for (field, value) in [
        ("url", &s.url),
        ("ca_file", &s.ca_file),
        ("bind_dn", &s.bind_dn),
        ("user_base", &s.user_base),
        ("user_filter", &s.user_filter),
        ("group_base", &s.group_base),
        ("username_attribute", &s.username_attribute),
        ("display_name_attribute", &s.display_name_attribute),
        ("email_attribute", &s.email_attribute),
    ] {
        check_text(k, field, value)?;
    }
    check_groups(k, "admin_groups", &s.admin_groups)?;
    check_groups(k, "allowed_groups", &s.allowed_groups)?;
    let url = s.url.trim();
    if !(url.is_empty() || url.starts_with("ldap://") || url.starts_with("ldaps://")) {
        return Err(invalid(k, "url", "must start with ldap:// or ldaps://"));
    }
    if s.starttls && url.starts_with("ldaps://") {
        return Err(invalid(
            k,
            "starttls",
            "StartTLS is for ldap:// URLs; ldaps:// is TLS already",
        ));
    }
    if !s.user_filter.contains("{username}") {
        return Err(invalid(k, "user_filter", "must contain {username}"));
    }
    if !(1..=120).contains(&s.timeout_secs) {
        return Err(invalid(k, "timeout_secs", "must be between 1 and 120"));
    }
    if s.enabled {
        if url.is_empty() {
            return Err(invalid(k, "url", "is needed to turn LDAP sign-in on"));
        }
        if s.user_base.trim().is_empty() {
            return Err(invalid(k, "user_base", "is needed to turn LDAP sign-in on"));
        }
    }
    Ok(())
}

pub fn validate_oidc(s: &OidcSettings) -> Result<()> {
    let k = Kind::Oidc;
    for (field, value) in [
        ("issuer", &s.issuer),
        ("client_id", &s.client_id),
        ("client_secret", &s.client_secret),
        ("redirect_url", &s.redirect_url),
        ("scopes", &s.scopes),
        ("username_claim", &s.username_claim),
        ("groups_claim", &s.groups_claim),
    ] {
        check_text(k, field, value)?;
    }
    if s.button_label.trim().is_empty() || s.button_label.chars().count() > 40 {
        return Err(invalid(k, "button_label", "must be 1 to 40 characters"));
    }
    check_groups(k, "admin_groups", &s.admin_groups)?;
    check_groups(k, "allowed_groups", &s.allowed_groups)?;
    for (field, url) in [("issuer", &s.issuer), ("redirect_url", &s.redirect_url)] {
        let url = url.trim();
        if !url.is_empty() && !url.starts_with("https://") && !loopback_http(url) {
            return Err(invalid(
                k,
                field,
                "must be an https:// URL (http:// only to this machine)",
            ));
        }
    }
    if !s.scopes.split_whitespace().any(|scope| scope == "openid") {
        return Err(invalid(k, "scopes", "must include openid"));
    }
    if s.enabled {
        if s.issuer.trim().is_empty() {
            return Err(invalid(k, "issuer", "is needed to turn OpenID Connect on"));
        }
        if s.client_id.trim().is_empty() {
            return Err(invalid(
                k,
                "client_id",
                "is needed to turn OpenID Connect on",
            ));
        }
    }
    Ok(())
}

pub fn validate_proxy(s: &ProxySettings, trusted_proxies: &[String]) -> Result<()> {
    let k = Kind::Proxy;
    for (field, value) in [("header", &s.header), ("groups_header", &s.groups_header)] {
        let name = value.trim();
        if !name.is_empty() && http::HeaderName::from_bytes(name.as_bytes()).is_err() {
            return Err(invalid(k, field, "must be an HTTP header name"));
        }
        if name.eq_ignore_ascii_case("authorization") || name.eq_ignore_ascii_case("cookie") {
            return Err(invalid(k, field, "cannot be Authorization or Cookie"));
        }
    }
    check_groups(k, "admin_groups", &s.admin_groups)?;
    check_groups(k, "allowed_groups", &s.allowed_groups)?;
    if s.enabled {
        if s.header.trim().is_empty() {
            return Err(invalid(k, "header", "is needed to turn proxy sign-in on"));
        }
        if trusted_proxies.is_empty() {
            return Err(invalid(
                k,
                "enabled",
                "needs --trusted-proxies (DAEHWA_TRUSTED_PROXIES): the header is believed \
                 only from those addresses",
            ));
        }
    }
    Ok(())
}

/// A method's new stored object and the names of the fields that changed.
type Changed = (Map<String, Value>, Vec<String>);

/// Lays `change` (a partial object) over the stored object of `kind`:
/// refuses a locked field given another value, a field that is not one,
/// and a value of the wrong type. Returns the new stored object and the
/// names of the fields that changed.
fn apply_change(
    conn: &Connection,
    flags: &Flags,
    kind: Kind,
    change: &Value,
) -> Result<Option<Changed>> {
    let Some(change) = change.as_object() else {
        return Err(Error::invalid(kind.as_str(), "must be an object"));
    };
    let mut stored = match setting::get(conn, kind.key())? {
        Some(Value::Object(stored)) => stored,
        _ => Map::new(),
    };
    let current = merged(conn, flags, kind)?;
    let known = match kind {
        Kind::Ldap => serde_json::to_value(LdapSettings::default()),
        Kind::Oidc => serde_json::to_value(OidcSettings::default()),
        Kind::Proxy => serde_json::to_value(ProxySettings::default()),
    }
    .ok()
    .and_then(|v| v.as_object().cloned())
    .unwrap_or_default();
    let mut changed = Vec::new();
    for (field, value) in change {
        let Some(default) = known.get(field) else {
            return Err(invalid(kind, field, "is not a setting of this method"));
        };
        let same_type = matches!(
            (default, value),
            (Value::Bool(_), Value::Bool(_))
                | (Value::String(_), Value::String(_))
                | (Value::Array(_), Value::Array(_))
        ) || (default.is_u64() && value.is_u64());
        if !same_type {
            return Err(invalid(kind, field, "has the wrong type"));
        }
        if let Value::Array(items) = value {
            if !items.iter().all(Value::is_string) {
                return Err(invalid(kind, field, "must be a list of strings"));
            }
        }
        let value = normalized(value);
        let before = current.get(field).unwrap_or(default);
        if flags.map(kind).contains_key(field) {
            if before != &value {
                return Err(invalid(
                    kind,
                    field,
                    format!("is set by {}", flags.flag_of(kind, field)),
                ));
            }
            continue;
        }
        if before != &value {
            changed.push(field.clone());
        }
        stored.insert(field.clone(), value);
    }
    if changed.is_empty() {
        return Ok(None);
    }
    Ok(Some((stored, changed)))
}

/// Trims strings and list entries, and drops empty and repeated entries
/// (case-insensitive) from lists.
fn normalized(value: &Value) -> Value {
    match value {
        Value::String(s) => Value::String(s.trim().to_string()),
        Value::Array(items) => {
            let mut seen = std::collections::HashSet::new();
            Value::Array(
                items
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::trim)
                    .filter(|s| !s.is_empty() && seen.insert(s.to_lowercase()))
                    .map(|s| Value::String(s.to_string()))
                    .collect(),
            )
        }
        other => other.clone(),
    }
}

/// An admin's change: `{"ldap"?: {...}, "oidc"?: {...}, "proxy"?: {...}}`,
/// each partial. Checked as a whole before anything is stored; audited
/// `signin.update` with the names of the changed fields (no value: some are
/// secrets).
pub async fn update(
    db: &Db,
    flags: std::sync::Arc<Flags>,
    actor: Actor,
    change: Value,
) -> Result<All> {
    let Some(parts) = change.as_object() else {
        return Err(Error::BadRequest("the body must be a JSON object".into()));
    };
    for key in parts.keys() {
        if !Kind::ALL.iter().any(|k| k.as_str() == key) {
            return Err(Error::BadRequest(format!(
                "{key:?} is not a sign-in method: use ldap, oidc or proxy"
            )));
        }
    }
    db.run(move |conn| {
        audit::audited_if_changed(conn, Some(&actor), "signin.update", |tx| {
            let mut writes = Vec::new();
            let mut detail = Map::new();
            for kind in Kind::ALL {
                let Some(part) = change.get(kind.as_str()) else {
                    continue;
                };
                let Some((stored, changed)) = apply_change(tx, &flags, kind, part)? else {
                    continue;
                };
                let mut fields = stored.clone();
                for (field, value) in flags.map(kind) {
                    fields.insert(field.clone(), value.clone());
                }
                match kind {
                    Kind::Ldap => validate_ldap(&strict::<LdapSettings>(kind, fields)?)?,
                    Kind::Oidc => validate_oidc(&strict::<OidcSettings>(kind, fields)?)?,
                    Kind::Proxy => validate_proxy(
                        &strict::<ProxySettings>(kind, fields)?,
                        &flags.trusted_proxies,
                    )?,
                }
                detail.insert(kind.as_str().into(), changed.into());
                writes.push((kind, stored));
            }
            for (kind, stored) in &writes {
                setting::put(tx, kind.key(), &Value::Object(stored.clone()))?;
            }
            let result = all(tx, &flags)?;
            let audit = (!writes.is_empty()).then_some(Audit {
                target: None,
                detail: Value::Object(detail),
            });
            Ok((result, audit))
        })
    })
    .await
}

fn strict<T: DeserializeOwned + Default + Serialize>(
    kind: Kind,
    fields: Map<String, Value>,
) -> Result<T> {
    let mut base = match serde_json::to_value(T::default()) {
        Ok(Value::Object(base)) => base,
        _ => Map::new(),
    };
    base.extend(fields);
    serde_json::from_value(Value::Object(base))
        .map_err(|e| Error::invalid(kind.as_str(), format!("is not valid: {e}")))
}

/// At start: a method turned on by a flag with settings that cannot work is
/// a reason not to start (the message names the field); one turned on in
/// the admin pages that cannot work is logged and stays off in effect
/// (each sign-in checks again). `Err` only for the database.
pub fn check_at_start(
    conn: &Connection,
    flags: &Flags,
) -> std::result::Result<Option<String>, crate::db::DbError> {
    let all = all(conn, flags)?;
    let checks = [
        (Kind::Ldap, all.ldap.enabled, validate_ldap(&all.ldap)),
        (Kind::Oidc, all.oidc.enabled, validate_oidc(&all.oidc)),
        (
            Kind::Proxy,
            all.proxy.enabled,
            validate_proxy(&all.proxy, &flags.trusted_proxies),
        ),
    ];
    for (kind, enabled, result) in checks {
        let Err(err) = result else {
            if enabled {
                log::info!("{} sign-in is on", kind.as_str());
            }
            continue;
        };
        let why = match &err {
            Error::Validation(fields) => fields
                .iter()
                .map(|(field, why)| format!("{field} {why}"))
                .collect::<Vec<_>>()
                .join("; "),
            other => other.to_string(),
        };
        if flags.map(kind).contains_key("enabled") {
            return Ok(Some(format!(
                "{} sign-in is turned on by a flag but cannot work: {why}",
                kind.as_str()
            )));
        }
        if enabled {
            log::warn!(
                "{} sign-in is on in the admin settings but cannot work: {why}",
                kind.as_str()
            );
        }
    }
    Ok(None)
}

/// The effective settings, for the admin page.
pub async fn read_all(db: &Db, flags: std::sync::Arc<Flags>) -> Result<All> {
    Ok(db.run(move |conn| all(conn, &flags)).await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn conn() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::db::migrate::migrate(&mut conn, None).unwrap();
        conn
    }

    #[test]
    fn a_flag_beats_the_stored_value_which_beats_the_default() {
        let conn = conn();
        let mut flags = Flags::default();
        assert_eq!(ldap(&conn, &flags).unwrap(), LdapSettings::default());
        setting::put(
            &conn,
            Kind::Ldap.key(),
            &json!({"url": "ldap://db.example", "user_base": "dc=x", "timeout_secs": 5}),
        )
        .unwrap();
        let stored = ldap(&conn, &flags).unwrap();
        assert_eq!(
            (stored.url.as_str(), stored.timeout_secs),
            ("ldap://db.example", 5)
        );
        flags.set(
            Kind::Ldap,
            "url",
            "--ldap-url",
            json!("ldaps://flag.example"),
        );
        let flagged = ldap(&conn, &flags).unwrap();
        assert_eq!(flagged.url, "ldaps://flag.example");
        assert_eq!(flagged.user_base, "dc=x");
        assert_eq!(flags.locked(Kind::Ldap), vec!["url".to_string()]);
    }

    #[test]
    fn a_stored_field_of_the_wrong_type_or_unknown_is_ignored_not_fatal() {
        let conn = conn();
        setting::put(
            &conn,
            Kind::Proxy.key(),
            &json!({"header": 5, "groups_header": "X-Groups", "gone": true}),
        )
        .unwrap();
        let proxy = proxy(&conn, &Flags::default()).unwrap();
        assert_eq!(proxy.header, "X-Remote-User");
        assert_eq!(proxy.groups_header, "X-Groups");
    }

    #[test]
    fn a_change_refuses_locked_unknown_and_mistyped_fields() {
        let conn = conn();
        let mut flags = Flags::default();
        flags.set(Kind::Ldap, "url", "--ldap-url", json!("ldap://a"));
        let err = apply_change(&conn, &flags, Kind::Ldap, &json!({"url": "ldap://b"})).unwrap_err();
        assert!(format!("{err:?}").contains("--ldap-url"), "{err:?}");
        // The same value as the flag's is no change.
        assert!(
            apply_change(&conn, &flags, Kind::Ldap, &json!({"url": "ldap://a"}))
                .unwrap()
                .is_none()
        );
        assert!(apply_change(&conn, &flags, Kind::Ldap, &json!({"nope": 1})).is_err());
        assert!(apply_change(&conn, &flags, Kind::Ldap, &json!({"starttls": "yes"})).is_err());
        assert!(apply_change(&conn, &flags, Kind::Ldap, &json!({"admin_groups": [1]})).is_err());
        let (stored, changed) = apply_change(
            &conn,
            &flags,
            Kind::Ldap,
            &json!({"admin_groups": [" cn=a ", "CN=A", ""], "starttls": true}),
        )
        .unwrap()
        .unwrap();
        assert_eq!(stored["admin_groups"], json!(["cn=a"]));
        assert_eq!(changed, vec!["admin_groups", "starttls"]);
    }

    #[test]
    fn settings_are_checked_before_a_method_is_turned_on() {
        let mut s = LdapSettings {
            enabled: true,
            ..LdapSettings::default()
        };
        assert!(validate_ldap(&s).is_err());
        s.url = "http://x".into();
        s.user_base = "dc=x".into();
        assert!(validate_ldap(&s).is_err());
        s.url = "ldaps://dc.corp.example".into();
        validate_ldap(&s).unwrap();
        s.starttls = true;
        assert!(validate_ldap(&s).is_err());
        s.starttls = false;
        s.user_filter = "(uid=kim)".into();
        assert!(validate_ldap(&s).is_err());

        let mut o = OidcSettings {
            enabled: true,
            issuer: "http://idp.example".into(),
            client_id: "daehwa".into(),
            ..OidcSettings::default()
        };
        assert!(validate_oidc(&o).is_err());
        o.issuer = "http://127.0.0.1:9000/realms/x".into();
        validate_oidc(&o).unwrap();
        o.issuer = "https://login.microsoftonline.com/t/v2.0".into();
        validate_oidc(&o).unwrap();
        o.scopes = "profile".into();
        assert!(validate_oidc(&o).is_err());

        let p = ProxySettings {
            enabled: true,
            ..ProxySettings::default()
        };
        assert!(validate_proxy(&p, &[]).is_err());
        validate_proxy(&p, &["10.0.0.5".into()]).unwrap();
        let cookie = ProxySettings {
            header: "Cookie".into(),
            ..p
        };
        assert!(validate_proxy(&cookie, &["10.0.0.5".into()]).is_err());
    }
}
