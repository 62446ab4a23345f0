//! LDAP / Active Directory sign-in (issue 22): who a username and password
//! belong to, their entry's stable id and the groups they are in, nested
//! ones included. Async on our runtime (ldap3), every operation under the
//! settings' timeout, one short-lived connection per question.
//!
//! - The service account (or an anonymous search) finds exactly one entry
//!   with `user_filter`, the typed name escaped (RFC 4515), so `*)(uid=*`
//!   finds nobody.
//! - The password is checked by binding as that entry on a fresh
//!   connection; an empty password is refused before any bind (a bind
//!   without one is an "unauthenticated bind", which many servers accept).
//! - Groups: Active Directory answers the nested membership in one search
//!   (`LDAP_MATCHING_RULE_IN_CHAIN`); other servers are walked breadth-first,
//!   bounded in depth and count.
//!
//! [`LdapError`] tells a wrong password or an unknown user (401 for the
//! client) from a directory that cannot be used (503, the log says why).

use std::collections::{HashSet, VecDeque};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use ldap3::{ldap_escape, Ldap, LdapConnAsync, LdapConnSettings, ResultEntry, Scope, SearchEntry};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};

use crate::service::directory::DirectoryIdentity;
use crate::service::signin::LdapSettings;

/// The issuer of LDAP accounts (`user.external_issuer`).
pub const ISSUER: &str = "ldap";
/// Directory operations (sign-ins, refresh checks, tests) at once.
pub const MAX_DIRECTORY_CALLS: usize = 8;
/// How deep nested groups are followed on a server other than AD.
const MAX_GROUP_DEPTH: usize = 10;
/// Groups found at most for one user.
const MAX_GROUPS: usize = 1000;
/// Group DNs per search when walking nested groups.
const GROUPS_PER_SEARCH: usize = 50;
/// Longest username accepted, in characters.
const MAX_USERNAME: usize = 256;
/// `supportedCapabilities` of an Active Directory domain controller.
const AD_CAPABILITY: &str = "1.2.840.113556.1.4.800";
/// `LDAP_MATCHING_RULE_IN_CHAIN`: membership through nested groups (AD).
const IN_CHAIN: &str = "1.2.840.113556.1.4.1941";
/// LDAP result codes used here.
const RC_NO_SUCH_OBJECT: u32 = 32;
const RC_INVALID_CREDENTIALS: u32 = 49;
const RC_UNWILLING: u32 = 53;

/// Why a directory question got no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LdapError {
    /// Wrong password, an empty one, or a name that is not one.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// No entry (or more than one) matches the name.
    #[error("no such user")]
    NotFound,
    /// The directory cannot be used: unreachable, TLS, the service
    /// account's bind refused, a timeout, a failed search. For the log.
    #[error("{0}")]
    Unavailable(String),
}

impl LdapError {
    /// Whether the user's credentials are at fault (a failed sign-in).
    pub fn is_credentials(&self) -> bool {
        matches!(self, LdapError::InvalidCredentials | LdapError::NotFound)
    }
}

fn unavailable(what: &str, err: impl std::fmt::Display) -> LdapError {
    LdapError::Unavailable(format!("{what}: {err}"))
}

/// The kind of server, from its root DSE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerKind {
    ActiveDirectory,
    Ldap,
}

impl ServerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ServerKind::ActiveDirectory => "active_directory",
            ServerKind::Ldap => "ldap",
        }
    }
}

fn timeout_of(settings: &LdapSettings) -> Duration {
    Duration::from_secs(settings.timeout_secs.clamp(1, 300))
}

/// Runs one directory operation under the timeout.
async fn within<T>(
    limit: Duration,
    what: &str,
    op: impl Future<Output = ldap3::result::Result<T>>,
) -> Result<T, LdapError> {
    // Boxed: ldap3's futures are large, and nested inline they would
    // overflow a 2 MiB thread stack in a debug build.
    match tokio::time::timeout(limit, Box::pin(op)).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(err)) => Err(unavailable(what, err)),
        Err(_) => Err(LdapError::Unavailable(format!(
            "{what}: no answer within {} s",
            limit.as_secs()
        ))),
    }
}

/// Whether the connection is TLS (`ldaps://`, or StartTLS on `ldap://`).
fn uses_tls(settings: &LdapSettings) -> bool {
    let url = settings.url.trim();
    url.starts_with("ldaps://") || (settings.starttls && url.starts_with("ldap://"))
}

/// A TLS configuration trusting only the CA of `ca_file` (PEM).
async fn ca_config(ca_file: &str) -> Result<Arc<ClientConfig>, LdapError> {
    let pem = tokio::fs::read(ca_file)
        .await
        .map_err(|e| unavailable(&format!("reading the CA file {ca_file}"), e))?;
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| unavailable(&format!("the CA file {ca_file}"), e))?;
        roots
            .add(cert)
            .map_err(|e| unavailable(&format!("a certificate of {ca_file}"), e))?;
    }
    if roots.is_empty() {
        return Err(LdapError::Unavailable(format!(
            "the CA file {ca_file} holds no PEM certificate"
        )));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| unavailable("TLS configuration", e))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// How ldap3 connects for `settings`.
async fn conn_settings(settings: &LdapSettings) -> Result<LdapConnSettings, LdapError> {
    let url = settings.url.trim();
    let mut conn = LdapConnSettings::new().set_conn_timeout(timeout_of(settings));
    if settings.starttls && url.starts_with("ldap://") {
        conn = conn.set_starttls(true);
    }
    if uses_tls(settings) {
        if settings.skip_verify {
            log::warn!("LDAP certificate verification is OFF (tests only)");
            conn = conn.set_no_tls_verify(true);
        } else if !settings.ca_file.trim().is_empty() {
            conn = conn.set_config(ca_config(settings.ca_file.trim()).await?);
        }
        // Else ldap3's configuration: the system's roots.
    }
    Ok(conn)
}

/// A connection (TLS set up), driven on our runtime.
async fn connect(settings: &LdapSettings) -> Result<Ldap, LdapError> {
    let url = settings.url.trim();
    if !(url.starts_with("ldap://") || url.starts_with("ldaps://")) {
        return Err(LdapError::Unavailable(
            "the LDAP URL must start with ldap:// or ldaps://".into(),
        ));
    }
    let conn = conn_settings(settings).await?;
    let what = if uses_tls(settings) {
        format!("connecting to {url} (TLS)")
    } else {
        format!("connecting to {url}")
    };
    let (driver, ldap) = within(
        timeout_of(settings),
        &what,
        LdapConnAsync::with_settings(conn, url),
    )
    .await?;
    ldap3::drive!(driver);
    Ok(ldap)
}

/// Ends a connection; a failure to say goodbye is nobody's problem.
async fn close(mut ldap: Ldap, limit: Duration) {
    let _ = tokio::time::timeout(limit, ldap.unbind()).await;
}

/// Binds as the service account (nothing for an anonymous search).
async fn service_bind(ldap: &mut Ldap, settings: &LdapSettings) -> Result<(), LdapError> {
    let dn = settings.bind_dn.trim();
    if dn.is_empty() {
        return Ok(());
    }
    if settings.bind_password.is_empty() {
        // An unauthenticated bind would "succeed" and search as nobody.
        return Err(LdapError::Unavailable(format!(
            "the service account {dn} has no password set"
        )));
    }
    let result = within(
        timeout_of(settings),
        "the service account's bind",
        ldap.simple_bind(dn, &settings.bind_password),
    )
    .await?;
    if result.rc != 0 {
        return Err(LdapError::Unavailable(format!(
            "the service account {dn} was refused (result {}: {})",
            result.rc, result.text
        )));
    }
    Ok(())
}

/// `filter` with `{username}` replaced by `username`, escaped (RFC 4515).
pub fn user_filter(filter: &str, username: &str) -> String {
    filter.replace("{username}", &ldap_escape(username))
}

/// `\xx` for every byte: a filter value matching binary data exactly.
pub fn escape_bytes(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("\\{b:02x}")).collect()
}

/// 32 lowercase hex digits of an `objectGUID`, bytes in stored order.
pub fn guid_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The bytes of 32 hex digits (an `objectGUID` external id).
fn hex_bytes(hex: &str) -> Option<Vec<u8>> {
    if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..16)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok())
        .collect()
}

/// Whether `id` looks like an `entryUUID` (8-4-4-4-12 hex).
fn is_uuid(id: &str) -> bool {
    let parts: Vec<&str> = id.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// A username is 1 to 256 characters without control characters.
pub fn valid_username(username: &str) -> bool {
    let n = username.chars().count();
    (1..=MAX_USERNAME).contains(&n) && !username.chars().any(char::is_control)
}

/// An entry's first value of `attr` (attribute names are case-insensitive).
fn first(entry: &SearchEntry, attr: &str) -> Option<String> {
    entry
        .attrs
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(attr))
        .and_then(|(_, values)| values.first())
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

fn values(entry: &SearchEntry, attr: &str) -> Vec<String> {
    entry
        .attrs
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case(attr))
        .flat_map(|(_, values)| values.iter().cloned())
        .collect()
}

/// An entry's first value of `attr` as bytes (binary or not: a GUID's bytes
/// may happen to be valid UTF-8).
fn first_bytes(entry: &SearchEntry, attr: &str) -> Option<Vec<u8>> {
    let binary = entry
        .bin_attrs
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(attr))
        .and_then(|(_, values)| values.first().cloned());
    binary.or_else(|| {
        entry
            .attrs
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(attr))
            .and_then(|(_, values)| values.first())
            .map(|v| v.as_bytes().to_vec())
    })
}

/// The entry's stable id: AD's `objectGUID`, else `entryUUID`, else the DN.
pub fn external_id(entry: &SearchEntry) -> String {
    if let Some(guid) = first_bytes(entry, "objectGUID").filter(|g| g.len() == 16) {
        return guid_hex(&guid);
    }
    if let Some(uuid) = first(entry, "entryUUID") {
        return uuid.to_lowercase();
    }
    entry.dn.to_lowercase()
}

/// Reads an entry; a malformed one (ldap3 panics on those) is an error.
fn entry_of(raw: ResultEntry) -> Result<SearchEntry, LdapError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| SearchEntry::construct(raw)))
        .map_err(|_| LdapError::Unavailable("the server sent a malformed entry".into()))
}

/// Runs a search; entries only (referrals are not followed).
async fn search(
    ldap: &mut Ldap,
    limit: Duration,
    what: &str,
    base: &str,
    scope: Scope,
    filter: &str,
    attrs: &[&str],
) -> Result<Vec<SearchEntry>, LdapError> {
    let result = within(
        limit,
        what,
        ldap.search(base, scope, filter, attrs.to_vec()),
    )
    .await?;
    let (raw, status) = (result.0, result.1);
    if status.rc != 0 {
        return Err(LdapError::Unavailable(format!(
            "{what} failed (result {}: {})",
            status.rc, status.text
        )));
    }
    raw.into_iter()
        .filter(|r| !r.is_ref())
        .map(entry_of)
        .collect()
}

/// The attributes read from a user's entry.
fn user_attrs(settings: &LdapSettings) -> Vec<String> {
    let mut attrs: Vec<String> = [
        settings.username_attribute.as_str(),
        settings.display_name_attribute.as_str(),
        "cn",
        settings.email_attribute.as_str(),
        "objectGUID",
        "entryUUID",
        "memberOf",
    ]
    .iter()
    .map(|a| a.trim().to_string())
    .filter(|a| !a.is_empty())
    .collect();
    attrs.dedup();
    attrs
}

/// The one entry `user_filter` finds for `username`.
async fn find_user(
    ldap: &mut Ldap,
    settings: &LdapSettings,
    username: &str,
) -> Result<SearchEntry, LdapError> {
    let filter = user_filter(&settings.user_filter, username);
    let attrs = user_attrs(settings);
    let attrs: Vec<&str> = attrs.iter().map(String::as_str).collect();
    let mut found = search(
        ldap,
        timeout_of(settings),
        "the user search",
        settings.user_base.trim(),
        Scope::Subtree,
        &filter,
        &attrs,
    )
    .await?;
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(LdapError::NotFound),
        n => {
            log::warn!(
                "LDAP: {n} entries match the user filter for one name; refused (make the filter \
                 match one entry per user)"
            );
            Err(LdapError::NotFound)
        }
    }
}

/// What the root DSE says the server is.
async fn server_kind(ldap: &mut Ldap, limit: Duration) -> Result<ServerKind, LdapError> {
    let root = search(
        ldap,
        limit,
        "reading the root DSE",
        "",
        Scope::Base,
        "(objectClass=*)",
        &["supportedCapabilities"],
    )
    .await?;
    let ad = root.first().is_some_and(|e| {
        values(e, "supportedCapabilities")
            .iter()
            .any(|c| c == AD_CAPABILITY)
    });
    Ok(if ad {
        ServerKind::ActiveDirectory
    } else {
        ServerKind::Ldap
    })
}

/// Adds `dn` to `groups` unless seen (case-insensitive); whether it was new.
fn remember(groups: &mut Vec<String>, seen: &mut HashSet<String>, dn: &str) -> bool {
    if seen.insert(dn.to_lowercase()) {
        groups.push(dn.to_string());
        true
    } else {
        false
    }
}

/// The filter of groups with any of `dns` as a member.
pub fn member_filter(dns: &[String], uid: Option<&str>) -> String {
    let mut filter = String::from("(|");
    for dn in dns {
        let dn = ldap_escape(dn.as_str());
        filter.push_str(&format!("(member={dn})(uniqueMember={dn})"));
    }
    if let Some(uid) = uid {
        filter.push_str(&format!("(memberUid={})", ldap_escape(uid)));
    }
    filter.push(')');
    filter
}

/// Every group the user is in, nested ones included, as DNs.
async fn groups_of(
    ldap: &mut Ldap,
    settings: &LdapSettings,
    kind: ServerKind,
    user: &SearchEntry,
    uid: &str,
) -> Result<Vec<String>, LdapError> {
    let limit = timeout_of(settings);
    let base = settings.group_base().trim().to_string();
    let mut groups = Vec::new();
    let mut seen = HashSet::new();
    let direct = values(user, "memberOf");
    if kind == ServerKind::ActiveDirectory {
        let filter = format!("(member:{IN_CHAIN}:={})", ldap_escape(user.dn.as_str()));
        let found = search(
            ldap,
            limit,
            "the group search",
            &base,
            Scope::Subtree,
            &filter,
            &["1.1"],
        )
        .await?;
        for group in direct
            .iter()
            .map(String::as_str)
            .chain(found.iter().map(|e| e.dn.as_str()))
        {
            if groups.len() >= MAX_GROUPS {
                break;
            }
            remember(&mut groups, &mut seen, group);
        }
        return Ok(groups);
    }
    // Breadth-first: the user's groups, then the groups those are in.
    let mut frontier: VecDeque<String> = VecDeque::new();
    for group in &direct {
        if remember(&mut groups, &mut seen, group) {
            frontier.push_back(group.clone());
        }
    }
    let first = search(
        ldap,
        limit,
        "the group search",
        &base,
        Scope::Subtree,
        &member_filter(std::slice::from_ref(&user.dn), Some(uid)),
        &["1.1"],
    )
    .await?;
    for entry in &first {
        if groups.len() < MAX_GROUPS && remember(&mut groups, &mut seen, &entry.dn) {
            frontier.push_back(entry.dn.clone());
        }
    }
    for _depth in 1..MAX_GROUP_DEPTH {
        if frontier.is_empty() || groups.len() >= MAX_GROUPS {
            break;
        }
        let level: Vec<String> = frontier.drain(..).collect();
        for chunk in level.chunks(GROUPS_PER_SEARCH) {
            let found = search(
                ldap,
                limit,
                "the nested group search",
                &base,
                Scope::Subtree,
                &member_filter(chunk, None),
                &["1.1"],
            )
            .await?;
            for entry in &found {
                if groups.len() < MAX_GROUPS && remember(&mut groups, &mut seen, &entry.dn) {
                    frontier.push_back(entry.dn.clone());
                }
            }
        }
    }
    if groups.len() >= MAX_GROUPS {
        log::warn!(
            "LDAP: {} is in {MAX_GROUPS} groups or more; the rest are ignored",
            user.dn
        );
    }
    Ok(groups)
}

/// The identity of a user's entry (groups looked up).
async fn identity_of(
    ldap: &mut Ldap,
    settings: &LdapSettings,
    entry: &SearchEntry,
    typed: &str,
) -> Result<DirectoryIdentity, LdapError> {
    let username = first(entry, settings.username_attribute.trim()).unwrap_or_else(|| typed.into());
    let kind = Box::pin(server_kind(ldap, timeout_of(settings))).await?;
    let groups = Box::pin(groups_of(ldap, settings, kind, entry, &username)).await?;
    let display_name =
        first(entry, settings.display_name_attribute.trim()).or_else(|| first(entry, "cn"));
    Ok(DirectoryIdentity {
        issuer: ISSUER.into(),
        external_id: external_id(entry),
        username,
        display_name,
        email: first(entry, settings.email_attribute.trim()),
        groups,
    })
}

/// Checks `password` by binding as `dn` on a connection of its own.
async fn check_password(
    settings: &LdapSettings,
    dn: &str,
    password: &str,
) -> Result<(), LdapError> {
    if password.is_empty() {
        return Err(LdapError::InvalidCredentials);
    }
    let mut ldap = Box::pin(connect(settings)).await?;
    let result = within(
        timeout_of(settings),
        "the user's bind",
        ldap.simple_bind(dn, password),
    )
    .await;
    close(ldap, timeout_of(settings)).await;
    let result = result?;
    match result.rc {
        0 => Ok(()),
        RC_INVALID_CREDENTIALS | RC_UNWILLING => {
            log::info!("LDAP: wrong password for {dn} (result {})", result.rc);
            Err(LdapError::InvalidCredentials)
        }
        rc => Err(LdapError::Unavailable(format!(
            "the user's bind failed (result {rc}: {})",
            result.text
        ))),
    }
}

/// The user `username` with `password`, as the directory knows them.
pub async fn authenticate(
    settings: &LdapSettings,
    username: &str,
    password: &str,
) -> Result<DirectoryIdentity, LdapError> {
    let username = username.trim();
    // Refused before any network: a bind without a password is anonymous.
    if !valid_username(username) || password.is_empty() {
        return Err(LdapError::InvalidCredentials);
    }
    let limit = timeout_of(settings);
    let mut ldap = Box::pin(connect(settings)).await?;
    let found = async {
        Box::pin(service_bind(&mut ldap, settings)).await?;
        Box::pin(find_user(&mut ldap, settings, username)).await
    }
    .await;
    let entry = match found {
        Ok(entry) => entry,
        Err(err) => {
            close(ldap, limit).await;
            return Err(err);
        }
    };
    if let Err(err) = Box::pin(check_password(settings, &entry.dn, password)).await {
        close(ldap, limit).await;
        return Err(err);
    }
    let identity = Box::pin(identity_of(&mut ldap, settings, &entry, username)).await;
    close(ldap, limit).await;
    identity
}

/// The entry with `external_id` (see [`external_id`]), with its groups,
/// still matched by `user_filter`; `None` when it is gone.
pub async fn lookup(
    settings: &LdapSettings,
    external_id: &str,
) -> Result<Option<DirectoryIdentity>, LdapError> {
    let limit = timeout_of(settings);
    let mut ldap = Box::pin(connect(settings)).await?;
    let result = async {
        Box::pin(service_bind(&mut ldap, settings)).await?;
        let Some(entry) = Box::pin(find_by_id(&mut ldap, settings, external_id)).await? else {
            return Ok(None);
        };
        // Still a user the filter lets in (AD filters often leave disabled
        // accounts out)?
        let typed = first(&entry, settings.username_attribute.trim());
        if let Some(name) = &typed {
            match Box::pin(find_user(&mut ldap, settings, name)).await {
                Ok(again) if again.dn.eq_ignore_ascii_case(&entry.dn) => {}
                Ok(_) | Err(LdapError::NotFound) => return Ok(None),
                Err(err) => return Err(err),
            }
        }
        let typed = typed.unwrap_or_default();
        Box::pin(identity_of(&mut ldap, settings, &entry, &typed))
            .await
            .map(Some)
    }
    .await;
    close(ldap, limit).await;
    result
}

/// The user entry with `external_id`.
async fn find_by_id(
    ldap: &mut Ldap,
    settings: &LdapSettings,
    external_id: &str,
) -> Result<Option<SearchEntry>, LdapError> {
    let limit = timeout_of(settings);
    let attrs = user_attrs(settings);
    let attrs: Vec<&str> = attrs.iter().map(String::as_str).collect();
    let (base, scope, filter) = if let Some(guid) = hex_bytes(external_id) {
        (
            settings.user_base.trim().to_string(),
            Scope::Subtree,
            format!("(objectGUID={})", escape_bytes(&guid)),
        )
    } else if is_uuid(external_id) {
        (
            settings.user_base.trim().to_string(),
            Scope::Subtree,
            format!("(entryUUID={})", ldap_escape(external_id)),
        )
    } else {
        (
            external_id.to_string(),
            Scope::Base,
            "(objectClass=*)".to_string(),
        )
    };
    let result = within(
        limit,
        "the user lookup",
        ldap.search(&base, scope, &filter, attrs),
    )
    .await?;
    let (raw, status) = (result.0, result.1);
    if status.rc == RC_NO_SUCH_OBJECT && scope == Scope::Base {
        return Ok(None);
    }
    if status.rc != 0 {
        return Err(LdapError::Unavailable(format!(
            "the user lookup failed (result {}: {})",
            status.rc, status.text
        )));
    }
    let mut entries = raw
        .into_iter()
        .filter(|r| !r.is_ref())
        .map(entry_of)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(if entries.len() == 1 {
        Some(entries.remove(0))
    } else {
        None
    })
}

/// One step of a connection test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// `connect`, `tls`, `bind` or `search`.
    pub step: &'static str,
    pub ok: bool,
    pub detail: String,
}

/// What a connection test found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionReport {
    pub ok: bool,
    pub server: Option<ServerKind>,
    pub steps: Vec<Step>,
}

/// `host:port` of an LDAP URL.
pub fn host_port(url: &str) -> Option<(String, u16)> {
    let (rest, default_port) = if let Some(rest) = url.strip_prefix("ldaps://") {
        (rest, 636)
    } else {
        (url.strip_prefix("ldap://")?, 389)
    };
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    if authority.is_empty() {
        return None;
    }
    if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None => default_port,
        };
        return Some((host.to_string(), port));
    }
    match authority.rsplit_once(':') {
        Some((host, port)) => Some((host.to_string(), port.parse().ok()?)),
        None => Some((authority.to_string(), default_port)),
    }
}

/// Connects, sets up TLS, binds as the service account and reads the user
/// base: each step's outcome, stopping at the first failure.
pub async fn test_connection(settings: &LdapSettings) -> ConnectionReport {
    let limit = timeout_of(settings);
    let url = settings.url.trim();
    let mut steps = Vec::new();
    let done = |steps: Vec<Step>, server| ConnectionReport {
        ok: steps.iter().all(|s| s.ok),
        server,
        steps,
    };
    // connect: the TCP connection alone.
    let Some((host, port)) = host_port(url) else {
        steps.push(Step {
            step: "connect",
            ok: false,
            detail: "the URL must be ldap://host[:port] or ldaps://host[:port]".into(),
        });
        return done(steps, None);
    };
    let tcp = tokio::time::timeout(limit, tokio::net::TcpStream::connect((host.as_str(), port)));
    match tcp.await {
        Ok(Ok(_stream)) => steps.push(Step {
            step: "connect",
            ok: true,
            detail: format!("reached {host}:{port}"),
        }),
        Ok(Err(err)) => {
            steps.push(Step {
                step: "connect",
                ok: false,
                detail: format!("cannot reach {host}:{port}: {err}"),
            });
            return done(steps, None);
        }
        Err(_) => {
            steps.push(Step {
                step: "connect",
                ok: false,
                detail: format!("{host}:{port} did not answer within {} s", limit.as_secs()),
            });
            return done(steps, None);
        }
    }
    // tls (or the LDAP connection itself, without TLS).
    let tls = uses_tls(settings);
    let step = if tls { "tls" } else { "connect" };
    let mut ldap = match Box::pin(connect(settings)).await {
        Ok(ldap) => {
            if tls {
                let detail = if settings.skip_verify {
                    "TLS is up; the certificate was NOT verified (skip_verify)".to_string()
                } else {
                    "TLS is up; the server's certificate is trusted".to_string()
                };
                steps.push(Step {
                    step,
                    ok: true,
                    detail,
                });
            }
            ldap
        }
        Err(err) => {
            steps.push(Step {
                step,
                ok: false,
                detail: err.to_string(),
            });
            return done(steps, None);
        }
    };
    // bind
    match Box::pin(service_bind(&mut ldap, settings)).await {
        Ok(()) => steps.push(Step {
            step: "bind",
            ok: true,
            detail: if settings.bind_dn.trim().is_empty() {
                "no service account: searches are anonymous".into()
            } else {
                format!("bound as {}", settings.bind_dn.trim())
            },
        }),
        Err(err) => {
            steps.push(Step {
                step: "bind",
                ok: false,
                detail: err.to_string(),
            });
            close(ldap, limit).await;
            return done(steps, None);
        }
    }
    // search: the root DSE, then the user base.
    let server = Box::pin(server_kind(&mut ldap, limit)).await.ok();
    let base = settings.user_base.trim();
    let read = search(
        &mut ldap,
        limit,
        "reading the user base",
        base,
        Scope::Base,
        "(objectClass=*)",
        &["1.1"],
    )
    .await;
    match read {
        Ok(found) if !found.is_empty() => steps.push(Step {
            step: "search",
            ok: true,
            detail: format!("the user base {base} exists"),
        }),
        Ok(_) => steps.push(Step {
            step: "search",
            ok: false,
            detail: format!("the user base {base} was not found"),
        }),
        Err(err) => steps.push(Step {
            step: "search",
            ok: false,
            detail: err.to_string(),
        }),
    }
    close(ldap, limit).await;
    done(steps, server)
}

/// What the directory says about one user.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UserReport {
    pub found: bool,
    pub dn: Option<String>,
    pub identity: Option<DirectoryIdentity>,
    /// `None` when no password was given.
    pub password_ok: Option<bool>,
    pub detail: String,
}

/// Finds `username`, their groups and, with a password, checks it.
pub async fn test_user(
    settings: &LdapSettings,
    username: &str,
    password: Option<&str>,
) -> UserReport {
    let username = username.trim();
    if !valid_username(username) {
        return UserReport {
            detail: "a username is 1 to 256 characters without control characters".into(),
            ..UserReport::default()
        };
    }
    let limit = timeout_of(settings);
    let mut ldap = match Box::pin(connect(settings)).await {
        Ok(ldap) => ldap,
        Err(err) => {
            return UserReport {
                detail: err.to_string(),
                ..UserReport::default()
            }
        }
    };
    let found = async {
        Box::pin(service_bind(&mut ldap, settings)).await?;
        let entry = Box::pin(find_user(&mut ldap, settings, username)).await?;
        let identity = Box::pin(identity_of(&mut ldap, settings, &entry, username)).await?;
        Ok::<_, LdapError>((entry, identity))
    }
    .await;
    close(ldap, limit).await;
    let (entry, identity) = match found {
        Ok(found) => found,
        Err(LdapError::NotFound) => {
            return UserReport {
                detail: format!("no single entry matches the user filter for {username:?}"),
                ..UserReport::default()
            }
        }
        Err(err) => {
            return UserReport {
                detail: err.to_string(),
                ..UserReport::default()
            }
        }
    };
    let (password_ok, detail) = match password {
        None => (None, "found; the password was not checked".to_string()),
        Some(password) => match Box::pin(check_password(settings, &entry.dn, password)).await {
            Ok(()) => (Some(true), "found; the password is right".to_string()),
            Err(LdapError::InvalidCredentials | LdapError::NotFound) => {
                (Some(false), "found; the password is wrong".to_string())
            }
            Err(err) => (None, format!("found; the password check failed: {err}")),
        },
    };
    UserReport {
        found: true,
        dn: Some(entry.dn),
        identity: Some(identity),
        password_ok,
        detail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn entry(attrs: &[(&str, &str)], bin: &[(&str, &[u8])]) -> SearchEntry {
        let mut a: HashMap<String, Vec<String>> = HashMap::new();
        for (k, v) in attrs {
            a.entry(k.to_string()).or_default().push(v.to_string());
        }
        let mut b: HashMap<String, Vec<Vec<u8>>> = HashMap::new();
        for (k, v) in bin {
            b.entry(k.to_string()).or_default().push(v.to_vec());
        }
        SearchEntry {
            dn: "CN=Kim,OU=People,DC=corp,DC=example".into(),
            attrs: a,
            bin_attrs: b,
        }
    }

    #[test]
    fn the_typed_name_is_escaped_in_the_filter() {
        assert_eq!(
            user_filter("(sAMAccountName={username})", "kim"),
            "(sAMAccountName=kim)"
        );
        assert_eq!(
            user_filter("(uid={username})", "*)(uid=*"),
            "(uid=\\2a\\29\\28uid=\\2a)"
        );
        assert_eq!(user_filter("(uid={username})", "a\\b"), "(uid=a\\5cb)");
        assert_eq!(
            user_filter("(|(uid={username})(mail={username}))", "k(1)"),
            "(|(uid=k\\281\\29)(mail=k\\281\\29))"
        );
    }

    #[test]
    fn member_filters_escape_dns() {
        assert_eq!(
            member_filter(&["cn=a(b),dc=x".into()], Some("kim*")),
            "(|(member=cn=a\\28b\\29,dc=x)(uniqueMember=cn=a\\28b\\29,dc=x)(memberUid=kim\\2a))"
        );
        assert_eq!(
            member_filter(&["cn=a".into(), "cn=b".into()], None),
            "(|(member=cn=a)(uniqueMember=cn=a)(member=cn=b)(uniqueMember=cn=b))"
        );
    }

    #[test]
    fn object_guids_are_hex_in_stored_order() {
        let guid: [u8; 16] = [
            0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55,
            0x66, 0xff,
        ];
        assert_eq!(guid_hex(&guid), "0123456789abcdef00112233445566ff");
        assert_eq!(hex_bytes(&guid_hex(&guid)).unwrap(), guid.to_vec());
        assert_eq!(
            escape_bytes(&guid[..3]),
            "\\01\\23\\45",
            "a filter matches the exact bytes"
        );
        let e = entry(&[("entryUUID", "X")], &[("objectGUID", &guid)]);
        assert_eq!(external_id(&e), "0123456789abcdef00112233445566ff");
        // A GUID whose bytes happen to be UTF-8 is read as text by ldap3.
        let ascii = entry(&[("objectguid", "ABCDEFGHIJKLMNOP")], &[]);
        assert_eq!(external_id(&ascii), guid_hex(b"ABCDEFGHIJKLMNOP"));
    }

    #[test]
    fn the_external_id_falls_back_to_entry_uuid_then_the_dn() {
        let e = entry(
            &[("entryUUID", "3F2504E0-4F89-11D3-9A0C-0305E82C3301")],
            &[],
        );
        assert_eq!(external_id(&e), "3f2504e0-4f89-11d3-9a0c-0305e82c3301");
        assert!(is_uuid(&external_id(&e)));
        let e = entry(&[], &[]);
        assert_eq!(external_id(&e), "cn=kim,ou=people,dc=corp,dc=example");
        assert!(hex_bytes("cn=kim").is_none());
        assert!(!is_uuid("cn=kim,dc=x"));
    }

    #[test]
    fn usernames_are_bounded() {
        assert!(valid_username("kim"));
        assert!(valid_username("김철수"));
        assert!(!valid_username(""));
        assert!(!valid_username("a\u{0}b"));
        assert!(!valid_username("a\nb"));
        assert!(!valid_username(&"a".repeat(257)));
        assert!(valid_username(&"a".repeat(256)));
    }

    #[test]
    fn urls_name_host_and_port() {
        assert_eq!(host_port("ldap://dc1:389"), Some(("dc1".into(), 389)));
        assert_eq!(host_port("ldaps://dc1"), Some(("dc1".into(), 636)));
        assert_eq!(host_port("ldap://dc1/"), Some(("dc1".into(), 389)));
        assert_eq!(host_port("ldaps://[::1]:1636"), Some(("::1".into(), 1636)));
        assert_eq!(host_port("http://dc1"), None);
        assert_eq!(host_port("ldap://"), None);
    }

    #[tokio::test]
    async fn an_empty_password_is_refused_without_a_server() {
        let settings = LdapSettings {
            enabled: true,
            // Nothing listens here; an attempt to connect would be Unavailable.
            url: "ldap://127.0.0.1:1".into(),
            ..LdapSettings::default()
        };
        assert_eq!(
            authenticate(&settings, "kim", "").await,
            Err(LdapError::InvalidCredentials)
        );
        assert_eq!(
            authenticate(&settings, "", "pw").await,
            Err(LdapError::InvalidCredentials)
        );
        assert!(matches!(
            authenticate(&settings, "kim", "pw").await,
            Err(LdapError::Unavailable(_))
        ));
    }
}
