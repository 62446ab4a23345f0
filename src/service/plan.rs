//! Plans (SPEC §3 "Plans"): which models a user may ask and how many
//! messages a day, checked inside the transaction that records the question,
//! before the upstream is called.

use chrono::{Duration as Days, Utc};

use super::Error;
use crate::db::plan;

/// The start of today (UTC) in RFC 3339, where the daily count begins.
pub fn day_start() -> String {
    format!("{}T00:00:00Z", Utc::now().date_naive())
}

/// The next UTC midnight, when the daily count starts again.
pub fn next_day_start() -> String {
    format!("{}T00:00:00Z", Utc::now().date_naive() + Days::days(1))
}

/// Seconds until [`next_day_start`] (at least 1).
fn seconds_to_reset() -> u64 {
    let tomorrow = (Utc::now().date_naive() + Days::days(1))
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc());
    tomorrow
        .map(|t| (t - Utc::now()).num_seconds().max(1) as u64)
        .unwrap_or(1)
}

/// The plan check (SPEC §3): run inside the transaction that records the
/// answer, before the upstream is called. A model outside the plan is a 403,
/// a used-up daily limit a 429 that says when it resets.
pub fn check_plan(conn: &rusqlite::Connection, user_id: &str, model_id: &str) -> Result<(), Error> {
    let Some(plan) = plan::effective(conn, user_id)? else {
        return Ok(());
    };
    if !plan.allows(model_id) {
        return Err(Error::forbidden(
            "model_not_in_plan",
            format!(
                "the model {model_id} is not included in your plan \"{}\" (allowed: {})",
                plan.name,
                plan.allowed_models.join(", ")
            ),
        ));
    }
    if let Some(limit) = plan.daily_message_limit {
        let used = plan::used_since(conn, user_id, &day_start())?;
        if used >= limit {
            return Err(Error::LimitReached {
                message: format!(
                    "you have used all {limit} messages of your plan \"{}\" for today; \
                     the daily limit resets at {}",
                    plan.name,
                    next_day_start()
                ),
                limit,
                resets_at: next_day_start(),
                retry_after: seconds_to_reset(),
            });
        }
    }
    Ok(())
}
