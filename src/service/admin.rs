//! Server settings an admin changes from the web app (registration mode,
//! scheduled backups), audited, and the audit log they read.

use serde_json::{json, Value};

use super::accounts::{registration_mode, REGISTRATION_MODES};
use super::{Error, Result};
use crate::backup;
use crate::db::audit::{self, Actor, Audit, AuditEntry};
use crate::db::{connection, plan, setting, Db, DbError};

/// The settings as the admin pages see them.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerSettings {
    pub registration_mode: String,
    /// The model a new conversation uses when its user chose none.
    pub default_model_id: Option<String>,
    /// The plan (limits) of users with none of their own.
    pub default_plan_id: Option<String>,
    pub backup_daily: bool,
    pub backup_keep: u32,
    /// When the last scheduled backup was written (RFC 3339).
    pub backup_last_at: Option<String>,
    /// Why the last scheduled backup failed.
    pub backup_last_error: Option<Value>,
    /// The largest file a user may upload, and the bytes of files one user may keep.
    pub files: super::files::Limits,
    /// How long conversations are kept (off unless set).
    pub retention: super::retention::Policy,
}

/// An admin's change to the settings; absent fields are kept.
#[derive(Debug, Default)]
pub struct SettingsChange {
    pub registration_mode: Option<String>,
    /// `""` clears it.
    pub default_model_id: Option<String>,
    /// `""` clears it.
    pub default_plan_id: Option<String>,
    pub backup_daily: Option<bool>,
    pub backup_keep: Option<u32>,
    /// Bytes (1 KiB to 100 MiB).
    pub file_max_bytes: Option<u64>,
    /// Bytes (at least 1 MiB).
    pub file_quota_bytes: Option<u64>,
    /// Days (1–36500), or `null`: off. Checked here, so that a wrong type
    /// is a 422 on its field like a wrong number.
    pub retention_days: Option<Value>,
    pub retention_archived_days: Option<Value>,
}

impl SettingsChange {
    /// Whether the backup schedule changes (the scheduler is then woken).
    pub fn touches_backups(&self) -> bool {
        self.backup_daily.is_some() || self.backup_keep.is_some()
    }

    /// A 422 for a mode outside open/approval/closed or a `backup_keep`
    /// outside 1–365.
    fn validate(&self) -> Result<()> {
        if let Some(mode) = &self.registration_mode {
            if !REGISTRATION_MODES.contains(&mode.as_str()) {
                return Err(Error::invalid(
                    "registration_mode",
                    "must be one of open, approval, closed",
                ));
            }
        }
        if let Some(keep) = self.backup_keep {
            if !(1..=backup::MAX_KEEP).contains(&keep) {
                return Err(Error::invalid(
                    "backup_keep",
                    format!("must be between 1 and {}", backup::MAX_KEEP),
                ));
            }
        }
        if let Some(days) = &self.retention_days {
            super::retention::check_days("retention_days", days)?;
        }
        if let Some(days) = &self.retention_archived_days {
            super::retention::check_days("retention_archived_days", days)?;
        }
        super::files::check_limits(self.file_max_bytes, self.file_quota_bytes)
    }

    /// The settings rows to write, keyed by setting name.
    fn rows(&self) -> serde_json::Map<String, Value> {
        let mut rows = serde_json::Map::new();
        if let Some(mode) = &self.registration_mode {
            rows.insert(setting::REGISTRATION_MODE.into(), json!(mode));
        }
        if let Some(model) = &self.default_model_id {
            let model = Some(model.as_str()).filter(|m| !m.is_empty());
            rows.insert(setting::DEFAULT_MODEL.into(), json!(model));
        }
        if let Some(daily) = self.backup_daily {
            rows.insert(backup::BACKUP_DAILY.into(), json!(daily));
        }
        if let Some(keep) = self.backup_keep {
            rows.insert(backup::BACKUP_KEEP.into(), json!(keep));
        }
        if let Some(n) = self.file_max_bytes {
            rows.insert(super::files::MAX_FILE_BYTES.into(), json!(n));
        }
        if let Some(n) = self.file_quota_bytes {
            rows.insert(super::files::QUOTA_BYTES.into(), json!(n));
        }
        for (key, days) in [
            (super::retention::RETENTION_DAYS, &self.retention_days),
            (
                super::retention::RETENTION_ARCHIVED_DAYS,
                &self.retention_archived_days,
            ),
        ] {
            if let Some(days) = days {
                rows.insert(key.into(), days.clone());
            }
        }
        rows
    }
}

fn read_settings(conn: &rusqlite::Connection) -> Result<ServerSettings, DbError> {
    let registration_mode = registration_mode(conn)?;
    let (backup_daily, backup_keep, last) = backup::settings(conn)?;
    let backup_last_error = setting::get(conn, backup::BACKUP_LAST_ERROR)?.filter(|v| !v.is_null());
    Ok(ServerSettings {
        registration_mode,
        default_model_id: default_model(conn)?,
        default_plan_id: plan::default_plan(conn)?.map(|p| p.id),
        backup_daily,
        backup_keep,
        backup_last_at: last.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        backup_last_error,
        files: super::files::limits_in(conn)?,
        retention: super::retention::policy_in(conn)?,
    })
}

/// The model an admin made the default, if any.
pub fn default_model(conn: &rusqlite::Connection) -> Result<Option<String>, DbError> {
    Ok(setting::get(conn, setting::DEFAULT_MODEL)?.and_then(|v| v.as_str().map(str::to_string)))
}

pub async fn settings(db: &Db) -> Result<ServerSettings> {
    Ok(db.run(|conn| read_settings(conn)).await?)
}

/// Saves the changed settings (audited with them), then reads them all.
pub async fn update_settings(
    db: &Db,
    actor: Actor,
    change: SettingsChange,
) -> Result<ServerSettings> {
    change.validate()?;
    let mut rows = change.rows();
    let default_plan = change
        .default_plan_id
        .map(|p| Some(p).filter(|p| !p.is_empty()));
    if let Some(plan) = &default_plan {
        rows.insert("default_plan_id".into(), json!(plan));
    }
    db.run(move |conn| {
        if let Some(Some(model)) = rows.get(setting::DEFAULT_MODEL).map(Value::as_str) {
            if connection::route(conn, model)?.is_none() {
                return Err(Error::invalid(
                    "default_model_id",
                    format!("unknown model {model}"),
                ));
            }
        }
        if !rows.is_empty() {
            audit::audited(conn, Some(&actor), "settings.update", |tx| {
                if let Some(plan) = &default_plan {
                    if !plan::set_default(tx, plan.as_deref())? {
                        return Err(Error::invalid("default_plan_id", "unknown plan"));
                    }
                }
                for (key, value) in rows.iter().filter(|(k, _)| *k != "default_plan_id") {
                    setting::put(tx, key, value)?;
                }
                let audit = Audit {
                    target: None,
                    detail: Value::Object(rows.clone()),
                };
                Ok::<_, Error>(((), audit))
            })?;
        }
        Ok(read_settings(conn)?)
    })
    .await
}

/// A page of the audit log, newest first, before the `before` entry id.
pub async fn audit_log(db: &Db, before: Option<String>, limit: u32) -> Result<Vec<AuditEntry>> {
    Ok(db
        .run(move |conn| audit::list(conn, before.as_deref(), limit))
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_changes_are_validated_and_written_under_their_setting_names() {
        let change = SettingsChange {
            registration_mode: Some("approval".into()),
            backup_keep: Some(30),
            ..Default::default()
        };
        assert!(change.validate().is_ok());
        assert!(change.touches_backups());
        let rows = change.rows();
        assert_eq!(rows[setting::REGISTRATION_MODE], json!("approval"));
        assert_eq!(rows[backup::BACKUP_KEEP], json!(30));
        assert!(!rows.contains_key(backup::BACKUP_DAILY));
        assert!(SettingsChange::default().rows().is_empty());
        for (bad, field) in [
            (
                SettingsChange {
                    registration_mode: Some("invite".into()),
                    ..Default::default()
                },
                "registration_mode",
            ),
            (
                SettingsChange {
                    backup_keep: Some(0),
                    ..Default::default()
                },
                "backup_keep",
            ),
            (
                SettingsChange {
                    backup_keep: Some(366),
                    ..Default::default()
                },
                "backup_keep",
            ),
        ] {
            let Err(Error::Validation(f)) = bad.validate() else {
                panic!("{field}: accepted");
            };
            assert!(f.contains_key(field));
        }
    }
}
