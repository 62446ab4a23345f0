//! Plans, per-user settings (with the plan assigned) and usage records: the
//! `plan`, `user_setting` and `usage` tables.

use rusqlite::{named_params, params, Connection, OptionalExtension, Row};
use serde::Serialize;

use super::{is_unique_violation, DbError};

/// A plan an admin defined.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Plan {
    pub id: String,
    pub name: String,
    /// Answers per UTC day; `None` is no limit.
    pub daily_message_limit: Option<i64>,
    /// Model ids allowed; empty allows every model.
    pub allowed_models: Vec<String>,
    pub self_service: bool,
    pub is_default: bool,
    pub created_at: String,
    pub updated_at: String,
}

impl Plan {
    pub fn allows(&self, model_id: &str) -> bool {
        self.allowed_models.is_empty() || self.allowed_models.iter().any(|m| m == model_id)
    }
}

/// The fields of a new or replaced plan.
pub struct PlanInput<'a> {
    pub name: &'a str,
    pub daily_message_limit: Option<i64>,
    pub allowed_models: &'a [String],
    pub self_service: bool,
    pub is_default: bool,
}

const PLAN_COLUMNS: &str =
    "id, name, daily_message_limit, allowed_models, self_service, is_default, created_at, updated_at";

fn plan_from(row: &Row<'_>) -> rusqlite::Result<Plan> {
    let models: String = row.get(3)?;
    Ok(Plan {
        id: row.get(0)?,
        name: row.get(1)?,
        daily_message_limit: row.get(2)?,
        allowed_models: serde_json::from_str(&models).unwrap_or_default(),
        self_service: row.get(4)?,
        is_default: row.get(5)?,
        created_at: row.get(6)?,
        updated_at: row.get(7)?,
    })
}

pub fn list(conn: &Connection) -> Result<Vec<Plan>, DbError> {
    let sql = format!("SELECT {PLAN_COLUMNS} FROM plan ORDER BY name");
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map([], plan_from)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn get(conn: &Connection, id: &str) -> Result<Option<Plan>, DbError> {
    let sql = format!("SELECT {PLAN_COLUMNS} FROM plan WHERE id = ?1");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row([id], plan_from)
        .optional()?)
}

/// A plan by id or (case-insensitive) name.
pub fn find(conn: &Connection, id_or_name: &str) -> Result<Option<Plan>, DbError> {
    let sql = format!("SELECT {PLAN_COLUMNS} FROM plan WHERE id = ?1 OR name = ?1 LIMIT 1");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row([id_or_name], plan_from)
        .optional()?)
}

fn conflict(err: rusqlite::Error) -> DbError {
    if is_unique_violation(&err) {
        DbError::Conflict("a plan with this name already exists".into())
    } else {
        err.into()
    }
}

/// Inserts (`id` None) or replaces a plan; making it the default takes the
/// flag from any other plan in the same transaction (the caller's).
pub fn save(conn: &Connection, id: Option<&str>, input: &PlanInput<'_>) -> Result<Plan, DbError> {
    let now = super::now();
    if input.is_default {
        conn.prepare_cached(
            "UPDATE plan SET is_default = 0 WHERE is_default = 1 AND id IS NOT ?1",
        )?
        .execute(params![id])?;
    }
    let models = serde_json::to_string(input.allowed_models).unwrap_or_else(|_| "[]".into());
    let id = match id {
        Some(id) => {
            conn.prepare_cached(
                "UPDATE plan SET name = ?2, daily_message_limit = ?3, allowed_models = ?4,
                    self_service = ?5, is_default = ?6, updated_at = ?7 WHERE id = ?1",
            )?
            .execute(params![
                id,
                input.name,
                input.daily_message_limit,
                models,
                input.self_service,
                input.is_default,
                now
            ])
            .map_err(conflict)?;
            id.to_string()
        }
        None => {
            let id = super::new_id();
            conn.prepare_cached(
                "INSERT INTO plan (id, name, daily_message_limit, allowed_models, self_service,
                    is_default, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
            )?
            .execute(params![
                id,
                input.name,
                input.daily_message_limit,
                models,
                input.self_service,
                input.is_default,
                now
            ])
            .map_err(conflict)?;
            id
        }
    };
    get(conn, &id)?.ok_or_else(|| DbError::Task("saved plan vanished".into()))
}

/// The default plan (the limits of users with none of their own), if any.
pub fn default_plan(conn: &Connection) -> Result<Option<Plan>, DbError> {
    Ok(list(conn)?.into_iter().find(|p| p.is_default))
}

/// Makes `id` the one default plan (`None`: no default plan); false when no
/// such plan exists (nothing changed).
pub fn set_default(conn: &Connection, id: Option<&str>) -> Result<bool, DbError> {
    if let Some(id) = id {
        if get(conn, id)?.is_none() {
            return Ok(false);
        }
    }
    conn.prepare_cached(
        "UPDATE plan SET is_default = (id IS ?1), updated_at = ?2
          WHERE is_default != (id IS ?1)",
    )?
    .execute(rusqlite::params![id, crate::db::now()])?;
    Ok(true)
}

pub fn delete(conn: &Connection, id: &str) -> Result<bool, DbError> {
    Ok(conn
        .prepare_cached("DELETE FROM plan WHERE id = ?1")?
        .execute([id])?
        > 0)
}

/// A user's settings (the defaults when they never changed any).
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub theme: String,
    pub language: String,
    pub default_model_id: Option<String>,
    pub system_prompt: String,
    pub notify_on_complete: bool,
    pub notify_sound: bool,
    /// The plan assigned to this user (None: the default plan applies).
    pub plan_id: Option<String>,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            theme: "system".into(),
            language: "ko".into(),
            default_model_id: None,
            system_prompt: String::new(),
            notify_on_complete: false,
            notify_sound: false,
            plan_id: None,
        }
    }
}

pub fn settings(conn: &Connection, user_id: &str) -> Result<Settings, DbError> {
    Ok(conn
        .prepare_cached(
            "SELECT theme, language, default_model_id, system_prompt, notify_on_complete,
                notify_sound, plan_id FROM user_setting WHERE user_id = ?1",
        )?
        .query_row([user_id], |r| {
            Ok(Settings {
                theme: r.get(0)?,
                language: r.get(1)?,
                default_model_id: r.get(2)?,
                system_prompt: r.get(3)?,
                notify_on_complete: r.get(4)?,
                notify_sound: r.get(5)?,
                plan_id: r.get(6)?,
            })
        })
        .optional()?
        .unwrap_or_default())
}

pub fn save_settings(conn: &Connection, user_id: &str, s: &Settings) -> Result<(), DbError> {
    conn.prepare_cached(
        "INSERT INTO user_setting (user_id, theme, language, default_model_id, system_prompt,
            notify_on_complete, notify_sound, plan_id, updated_at)
         VALUES (:user, :theme, :language, :model, :prompt, :notify, :sound, :plan, :now)
         ON CONFLICT (user_id) DO UPDATE SET theme = excluded.theme, language = excluded.language,
            default_model_id = excluded.default_model_id, system_prompt = excluded.system_prompt,
            notify_on_complete = excluded.notify_on_complete, notify_sound = excluded.notify_sound,
            plan_id = excluded.plan_id, updated_at = excluded.updated_at",
    )?
    .execute(named_params! {
        ":user": user_id,
        ":theme": s.theme,
        ":language": s.language,
        ":model": s.default_model_id,
        ":prompt": s.system_prompt,
        ":notify": s.notify_on_complete,
        ":sound": s.notify_sound,
        ":plan": s.plan_id,
        ":now": super::now(),
    })?;
    Ok(())
}

/// The plan in force for a user: the assigned one, else the most generous
/// plan of their groups ([`most_generous`]), else the default plan, else
/// none (no limits).
pub fn effective(conn: &Connection, user_id: &str) -> Result<Option<Plan>, DbError> {
    if let Some(id) = settings(conn, user_id)?.plan_id {
        if let Some(plan) = get(conn, &id)? {
            return Ok(Some(plan));
        }
    }
    if let Some(plan) = most_generous(group_plans(conn, user_id)?) {
        return Ok(Some(plan));
    }
    let sql = format!("SELECT {PLAN_COLUMNS} FROM plan WHERE is_default = 1");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row([], plan_from)
        .optional()?)
}

/// The plans the groups of `user_id` give (each once), by name.
pub fn group_plans(conn: &Connection, user_id: &str) -> Result<Vec<Plan>, DbError> {
    let sql = format!(
        "SELECT {cols} FROM plan p WHERE p.id IN (
            SELECT g.plan_id FROM group_member m JOIN user_group g ON g.id = m.group_id
             WHERE m.user_id = ?1 AND g.plan_id IS NOT NULL)
          ORDER BY p.name, p.id",
        cols = PLAN_COLUMNS
            .split(", ")
            .map(|c| format!("p.{c}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map([user_id], plan_from)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The most generous of `plans`: no daily limit beats any limit, then the
/// highest limit; among equals the first (by name).
pub fn most_generous(plans: Vec<Plan>) -> Option<Plan> {
    let mut best: Option<Plan> = None;
    for plan in plans {
        let better = match &best {
            None => true,
            Some(b) => match (plan.daily_message_limit, b.daily_message_limit) {
                (None, Some(_)) => true,
                (Some(p), Some(q)) => p > q,
                _ => false,
            },
        };
        if better {
            best = Some(plan);
        }
    }
    best
}

/// Answers asked by a user since `since` (RFC 3339).
pub fn used_since(conn: &Connection, user_id: &str, since: &str) -> Result<i64, DbError> {
    Ok(conn
        .prepare_cached("SELECT count(*) FROM usage WHERE user_id = ?1 AND created_at >= ?2")?
        .query_row(params![user_id, since], |r| r.get(0))?)
}

/// Records one answer asked of `model_id` before the upstream is called;
/// returns the record's id (its message is attached once created).
pub fn record_usage(
    conn: &Connection,
    user_id: &str,
    model_id: &str,
    message_id: Option<&str>,
) -> Result<String, DbError> {
    let id = super::new_id();
    conn.prepare_cached(
        "INSERT INTO usage (id, user_id, model_id, message_id, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![id, user_id, model_id, message_id, super::now()])?;
    Ok(id)
}

/// Links a usage record to its answer (whose end fills in the tokens).
pub fn attach_usage(conn: &Connection, id: &str, message_id: &str) -> Result<(), DbError> {
    conn.prepare_cached("UPDATE usage SET message_id = ?2 WHERE id = ?1")?
        .execute(params![id, message_id])?;
    Ok(())
}

/// Drops a usage record whose answer was never created.
pub fn forget_usage(conn: &Connection, id: &str) -> Result<(), DbError> {
    conn.prepare_cached("DELETE FROM usage WHERE id = ?1")?
        .execute([id])?;
    Ok(())
}

/// Tokens and answers of one user with one model over a time range.
#[derive(Debug, Clone, Serialize)]
pub struct UsageRow {
    pub user_id: String,
    pub username: Option<String>,
    pub model_id: String,
    pub messages: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
}

/// Per user and model, `from <= created_at < to`, busiest first; `offset`/`limit` page it.
pub fn usage_report(
    conn: &Connection,
    from: &str,
    to: &str,
    user_id: Option<&str>,
    offset: u32,
    limit: u32,
) -> Result<Vec<UsageRow>, DbError> {
    let mut stmt = conn.prepare_cached(&super::with_limit(
        "SELECT u.user_id, us.username, u.model_id, count(*), sum(u.prompt_tokens),
                sum(u.completion_tokens)
           FROM usage u LEFT JOIN user us ON us.id = u.user_id
          WHERE u.created_at >= :from AND u.created_at < :to
            AND (:user IS NULL OR u.user_id = :user)
          GROUP BY u.user_id, u.model_id
          ORDER BY count(*) DESC, u.user_id, u.model_id
          LIMIT :limit OFFSET :offset",
        limit,
        Some(offset),
    ))?;
    let rows = stmt.query_map(
        named_params! { ":from": from, ":to": to, ":user": user_id },
        |r| {
            Ok(UsageRow {
                user_id: r.get(0)?,
                username: r.get(1)?,
                model_id: r.get(2)?,
                messages: r.get(3)?,
                prompt_tokens: r.get(4)?,
                completion_tokens: r.get(5)?,
            })
        },
    )?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// One UTC day of usage (for the chart).
#[derive(Debug, Clone, Serialize)]
pub struct UsageDay {
    pub date: String,
    pub messages: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
}

pub fn usage_by_day(
    conn: &Connection,
    from: &str,
    to: &str,
    user_id: Option<&str>,
) -> Result<Vec<UsageDay>, DbError> {
    let mut stmt = conn.prepare_cached(
        "SELECT substr(created_at, 1, 10) AS day, count(*), sum(prompt_tokens),
                sum(completion_tokens)
           FROM usage WHERE created_at >= :from AND created_at < :to
            AND (:user IS NULL OR user_id = :user)
          GROUP BY day ORDER BY day",
    )?;
    let rows = stmt.query_map(
        named_params! { ":from": from, ":to": to, ":user": user_id },
        |r| {
            Ok(UsageDay {
                date: r.get(0)?,
                messages: r.get(1)?,
                prompt_tokens: r.get(2)?,
                completion_tokens: r.get(3)?,
            })
        },
    )?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The next UTC midnight in RFC 3339 (the end of today's range).
pub fn next_day_start_str() -> String {
    let tomorrow = chrono::Utc::now().date_naive() + chrono::Duration::days(1);
    format!("{tomorrow}T00:00:00Z")
}
