//! A user's settings and subscription (SPEC §3 "User settings"): what may be
//! set, merging a partial change into the stored settings, and who may pick
//! which plan. A user may switch only to self-service plans; an admin may
//! assign any, and an admin's change is written to the audit log.

use rusqlite::Connection;
use serde_json::{json, Value};

use super::plan::{day_start, next_day_start};
use super::{Error, Result};
use crate::db::audit::{self, Actor, Audit};
use crate::db::plan::{self, Plan, Settings};
use crate::db::{connection, user, Db};

/// Longest default system prompt, in characters.
pub const MAX_SYSTEM_PROMPT: usize = 20_000;

/// A change to the settings: every field optional (the others stay).
#[derive(Debug, Clone, Default)]
pub struct Change {
    pub theme: Option<String>,
    pub language: Option<String>,
    /// `Some(None)` clears it.
    pub default_model_id: Option<Option<String>>,
    pub system_prompt: Option<String>,
    pub notify_on_complete: Option<bool>,
    pub notify_sound: Option<bool>,
    /// A plan id or name; `Some(None)` takes the plan off (admins only).
    pub plan: Option<Option<String>>,
}

/// A user's settings with the plan in force and the answers used today.
#[derive(Debug, Clone)]
pub struct View {
    pub settings: Settings,
    pub plan: Option<Plan>,
    pub used_today: i64,
    /// One of the user's groups makes every chat of theirs temporary.
    pub temporary_chats_forced: bool,
}

/// Refuses values no setting takes, before the database is asked.
pub fn validate(change: &Change) -> Result<()> {
    if let Some(theme) = &change.theme {
        if !["light", "dark", "system"].contains(&theme.as_str()) {
            return Err(Error::invalid("theme", "must be light, dark or system"));
        }
    }
    if let Some(language) = &change.language {
        if !["ko", "en"].contains(&language.as_str()) {
            return Err(Error::invalid("language", "must be ko or en"));
        }
    }
    if let Some(prompt) = &change.system_prompt {
        if prompt.chars().count() > MAX_SYSTEM_PROMPT {
            return Err(Error::invalid(
                "system_prompt",
                format!("must be at most {MAX_SYSTEM_PROMPT} characters"),
            ));
        }
    }
    Ok(())
}

/// Merges a validated change into `settings`: the model must exist, the plan
/// must exist and (for a user, `by_admin` false) be self-service unless it is
/// already theirs.
pub fn apply(
    conn: &Connection,
    settings: &mut Settings,
    change: Change,
    by_admin: bool,
) -> Result<()> {
    if let Some(theme) = change.theme {
        settings.theme = theme;
    }
    if let Some(language) = change.language {
        settings.language = language;
    }
    if let Some(prompt) = change.system_prompt {
        settings.system_prompt = prompt;
    }
    if let Some(v) = change.notify_on_complete {
        settings.notify_on_complete = v;
    }
    if let Some(v) = change.notify_sound {
        settings.notify_sound = v;
    }
    if let Some(model) = change.default_model_id {
        if let Some(id) = &model {
            if connection::route(conn, id)?.is_none() {
                return Err(Error::invalid(
                    "default_model_id",
                    format!("unknown model {id}"),
                ));
            }
        }
        settings.default_model_id = model;
    }
    if let Some(None) = change.plan {
        if settings.plan_id.is_some() && !by_admin {
            return Err(Error::forbidden(
                "plan_not_self_service",
                "only an administrator can take a plan off",
            ));
        }
        settings.plan_id = None;
    }
    if let Some(Some(wanted)) = change.plan {
        let Some(target) = plan::find(conn, &wanted)? else {
            return Err(Error::invalid("plan", format!("unknown plan {wanted}")));
        };
        let unchanged = settings.plan_id.as_deref() == Some(target.id.as_str());
        if !unchanged {
            if !by_admin && !target.self_service {
                return Err(Error::forbidden(
                    "plan_not_self_service",
                    format!(
                        "the plan {} can only be assigned by an administrator",
                        target.name
                    ),
                ));
            }
            settings.plan_id = Some(target.id);
        }
    }
    Ok(())
}

/// What the audit log keeps of an admin's change: the settings as SPEC shows
/// them, with an empty subscription.
fn audit_detail(s: &Settings) -> Value {
    json!({
        "theme": s.theme,
        "language": s.language,
        "default_model_id": s.default_model_id,
        "system_prompt": s.system_prompt,
        "notification": { "on_complete": s.notify_on_complete, "sound": s.notify_sound },
        "subscription": {
            "plan": null,
            "plan_id": null,
            "daily_message_limit": null,
            "allowed_models": [],
            "self_service": null,
            "used_today": 0,
            "renews_at": next_day_start(),
        },
    })
}

/// Reads (with `change`, first changes) a user's settings, in one
/// transaction; `admin` is who changes someone else's (audited when
/// something changed), `None` the user themself.
fn read_or_write(
    conn: &mut Connection,
    user_id: &str,
    admin: Option<&Actor>,
    change: Option<Change>,
) -> Result<View> {
    audit::audited_if(conn, admin, |tx| -> Result<_> {
        let mut settings = plan::settings(tx, user_id)?;
        let mut audit = None;
        if let Some(change) = change {
            let before = settings.clone();
            apply(tx, &mut settings, change, admin.is_some())?;
            if settings != before {
                plan::save_settings(tx, user_id, &settings)?;
                if admin.is_some() {
                    let action = if settings.plan_id != before.plan_id {
                        "user.subscription.update"
                    } else {
                        "user.settings.update"
                    };
                    audit = Some((action, Audit::new(user_id, audit_detail(&settings))));
                }
            }
        }
        let plan = plan::effective(tx, user_id)?;
        let used_today = plan::used_since(tx, user_id, &day_start())?;
        let temporary_chats_forced = crate::db::group::temporary_chats_forced(tx, user_id)?;
        Ok((
            View {
                settings,
                plan,
                used_today,
                temporary_chats_forced,
            },
            audit,
        ))
    })
}

/// The signed-in user's own settings, changed first when `change` is given.
pub async fn own(db: &Db, user_id: String, change: Option<Change>) -> Result<View> {
    if let Some(change) = &change {
        validate(change)?;
    }
    db.run(move |conn| read_or_write(conn, &user_id, None, change))
        .await
}

/// Another user's settings, as an admin reads or changes them (audited).
/// A change the caller could not parse is refused only once the user is
/// known to exist (an unknown user is a 404 whatever the body).
pub async fn of_user(
    db: &Db,
    admin: Actor,
    user_id: String,
    change: Option<Result<Change>>,
) -> Result<View> {
    let id = user_id.clone();
    if db.run(move |conn| user::by_id(conn, &id)).await?.is_none() {
        return Err(Error::NotFound("no such user".into()));
    }
    let change = change.transpose()?;
    if let Some(change) = &change {
        validate(change)?;
    }
    db.run(move |conn| read_or_write(conn, &user_id, Some(&admin), change))
        .await
}

/// The plans a user may switch to (self-service ones) and theirs, each with
/// whether it is theirs.
pub async fn self_service_plans(db: &Db, user_id: String) -> Result<Vec<(Plan, bool)>> {
    let (plans, mine) = db
        .run(move |conn| -> Result<_> { Ok((plan::list(conn)?, plan::effective(conn, &user_id)?)) })
        .await?;
    let mine = mine.map(|p| p.id);
    Ok(plans
        .into_iter()
        .filter(|p| p.self_service || Some(&p.id) == mine.as_ref())
        .map(|p| {
            let current = Some(&p.id) == mine.as_ref();
            (p, current)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::plan::PlanInput;

    fn conn() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::db::migrate::migrate(&mut conn, None).unwrap();
        conn
    }

    fn field(err: Error) -> &'static str {
        match err {
            Error::Validation(fields) => fields.into_keys().next().unwrap(),
            other => panic!("not a validation error: {other:?}"),
        }
    }

    #[test]
    fn only_known_themes_languages_and_short_prompts_are_taken() {
        for (change, wanted, why) in [
            (
                Change {
                    theme: Some("blue".into()),
                    ..Default::default()
                },
                "theme",
                "unknown theme",
            ),
            (
                Change {
                    language: Some("fr".into()),
                    ..Default::default()
                },
                "language",
                "unknown language",
            ),
            (
                Change {
                    system_prompt: Some("x".repeat(MAX_SYSTEM_PROMPT + 1)),
                    ..Default::default()
                },
                "system_prompt",
                "prompt too long",
            ),
        ] {
            assert_eq!(field(validate(&change).unwrap_err()), wanted, "{why}");
        }
        let fine = Change {
            theme: Some("dark".into()),
            language: Some("en".into()),
            system_prompt: Some("가".repeat(MAX_SYSTEM_PROMPT)),
            ..Default::default()
        };
        validate(&fine).unwrap();
    }

    #[test]
    fn a_partial_change_keeps_the_other_settings() {
        let conn = conn();
        let mut settings = Settings::default();
        let change = Change {
            theme: Some("dark".into()),
            notify_sound: Some(true),
            ..Default::default()
        };
        apply(&conn, &mut settings, change, false).unwrap();
        assert_eq!(settings.theme, "dark");
        assert!(settings.notify_sound);
        assert_eq!(settings.language, Settings::default().language);
        assert!(!settings.notify_on_complete);
    }

    #[test]
    fn an_unknown_model_or_plan_is_refused() {
        let conn = conn();
        let mut settings = Settings::default();
        let model = Change {
            default_model_id: Some(Some("nope".into())),
            ..Default::default()
        };
        let err = apply(&conn, &mut settings, model, false).unwrap_err();
        assert_eq!(field(err), "default_model_id");
        let plan = Change {
            plan: Some(Some("nope".into())),
            ..Default::default()
        };
        assert_eq!(
            field(apply(&conn, &mut settings, plan, true).unwrap_err()),
            "plan"
        );
    }

    #[test]
    fn only_an_admin_assigns_a_plan_that_is_not_self_service() {
        let conn = conn();
        let pro = plan::save(
            &conn,
            None,
            &PlanInput {
                name: "Pro",
                daily_message_limit: Some(100),
                allowed_models: &[],
                self_service: false,
                is_default: false,
            },
        )
        .unwrap();
        let wants_pro = || Change {
            plan: Some(Some("Pro".into())),
            ..Default::default()
        };
        let mut settings = Settings::default();
        match apply(&conn, &mut settings, wants_pro(), false) {
            Err(Error::Forbidden { code, .. }) => assert_eq!(code, "plan_not_self_service"),
            other => panic!("{other:?}"),
        }
        apply(&conn, &mut settings, wants_pro(), true).unwrap();
        assert_eq!(settings.plan_id.as_deref(), Some(pro.id.as_str()));
        // Already theirs: asking for it again is no change, so no refusal.
        apply(&conn, &mut settings, wants_pro(), false).unwrap();
    }
}
