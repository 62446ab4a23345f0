//! The plans admins define (SPEC §3 "Plans"): name, daily message limit,
//! allowed models, self-service and default flags. Every change is audited.
//! (The check of a plan when a user asks lives in `service::plan`.)

use std::collections::BTreeMap;

use serde_json::json;

use super::{Error, Result};
use crate::db::audit::{self, Actor, Audit};
use crate::db::plan::{self, Plan, PlanInput};
use crate::db::{connection, Db};

/// A new plan, or the fields to change (absent ones keep their value);
/// `daily_message_limit: Some(None)` removes the limit.
#[derive(Debug, Default)]
pub struct PlanChange {
    pub name: Option<String>,
    pub daily_message_limit: Option<Option<i64>>,
    pub allowed_models: Option<Vec<String>>,
    pub self_service: Option<bool>,
    pub is_default: Option<bool>,
}

/// Every plan, by name.
pub async fn list(db: &Db) -> Result<Vec<Plan>> {
    Ok(db.run(|conn| plan::list(conn)).await?)
}

/// The checks that need no database: a name of 1–64 characters (required
/// for a new plan), a limit in 0..=1000000, at most 500 models.
fn validate(change: &PlanChange, creating: bool) -> Result<()> {
    let mut fields = BTreeMap::new();
    if let Some(name) = &change.name {
        let n = name.trim().chars().count();
        if n == 0 || n > 64 {
            fields.insert("name", "must be 1 to 64 characters".to_string());
        }
    } else if creating {
        fields.insert("name", "is required".to_string());
    }
    if let Some(Some(limit)) = change.daily_message_limit {
        if !(0..=1_000_000).contains(&limit) {
            fields.insert(
                "daily_message_limit",
                "must be between 0 and 1000000, or null for no limit".to_string(),
            );
        }
    }
    if let Some(models) = &change.allowed_models {
        if models.len() > 500 {
            fields.insert("allowed_models", "at most 500 models".to_string());
        }
    }
    if fields.is_empty() {
        Ok(())
    } else {
        Err(Error::Validation(fields))
    }
}

/// Adds (`id` None) or changes a plan, audited with the saved plan.
pub async fn save(db: &Db, actor: Actor, id: Option<String>, change: PlanChange) -> Result<Plan> {
    validate(&change, id.is_none())?;
    let action = if id.is_none() {
        "plan.create"
    } else {
        "plan.update"
    };
    db.run(move |conn| {
        audit::audited(conn, Some(&actor), action, |tx| {
            let existing = match &id {
                Some(id) => {
                    Some(plan::get(tx, id)?.ok_or_else(|| Error::NotFound("no such plan".into()))?)
                }
                None => None,
            };
            if let Some(models) = &change.allowed_models {
                for m in models {
                    if connection::route(tx, m)?.is_none() {
                        return Err(Error::invalid(
                            "allowed_models",
                            format!("unknown model {m}"),
                        ));
                    }
                }
            }
            let name = change
                .name
                .as_deref()
                .map(str::trim)
                .map(String::from)
                .or_else(|| existing.as_ref().map(|p| p.name.clone()))
                .unwrap_or_default();
            let models = change
                .allowed_models
                .or_else(|| existing.as_ref().map(|p| p.allowed_models.clone()))
                .unwrap_or_default();
            let input = PlanInput {
                name: &name,
                daily_message_limit: match change.daily_message_limit {
                    Some(v) => v,
                    None => existing.as_ref().and_then(|p| p.daily_message_limit),
                },
                allowed_models: &models,
                self_service: change
                    .self_service
                    .or(existing.as_ref().map(|p| p.self_service))
                    .unwrap_or(false),
                is_default: change
                    .is_default
                    .or(existing.as_ref().map(|p| p.is_default))
                    .unwrap_or(false),
            };
            let saved = plan::save(tx, id.as_deref(), &input)?;
            let audit = Audit::new(saved.id.clone(), json!(saved));
            Ok((saved, audit))
        })
    })
    .await
}

/// Deletes a plan, audited with its name.
pub async fn delete(db: &Db, actor: Actor, id: String) -> Result<()> {
    db.run(move |conn| {
        audit::audited(conn, Some(&actor), "plan.delete", |tx| {
            let p = plan::get(tx, &id)?.ok_or_else(|| Error::NotFound("no such plan".into()))?;
            plan::delete(tx, &id)?;
            Ok(((), Audit::new(id.clone(), json!({ "name": p.name }))))
        })
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partial_change_needs_no_name_but_a_new_plan_does() {
        assert!(validate(&PlanChange::default(), false).is_ok());
        let Err(Error::Validation(f)) = validate(&PlanChange::default(), true) else {
            panic!("a nameless new plan was accepted");
        };
        assert_eq!(f["name"], "is required");
    }

    #[test]
    fn invalid_plans_are_refused_field_by_field() {
        let cases = [
            (
                PlanChange {
                    name: Some("  ".into()),
                    ..Default::default()
                },
                "name",
                "a blank name",
            ),
            (
                PlanChange {
                    name: Some("n".repeat(65)),
                    ..Default::default()
                },
                "name",
                "a name over 64 characters",
            ),
            (
                PlanChange {
                    daily_message_limit: Some(Some(-1)),
                    ..Default::default()
                },
                "daily_message_limit",
                "a negative limit",
            ),
            (
                PlanChange {
                    daily_message_limit: Some(Some(1_000_001)),
                    ..Default::default()
                },
                "daily_message_limit",
                "a limit over a million",
            ),
            (
                PlanChange {
                    allowed_models: Some(vec!["m".into(); 501]),
                    ..Default::default()
                },
                "allowed_models",
                "over 500 models",
            ),
        ];
        for (change, field, why) in cases {
            let Err(Error::Validation(f)) = validate(&change, false) else {
                panic!("{why}: accepted");
            };
            assert!(f.contains_key(field), "{why}: {f:?}");
        }
        let no_limit = PlanChange {
            daily_message_limit: Some(None),
            ..Default::default()
        };
        assert!(validate(&no_limit, false).is_ok());
    }
}
