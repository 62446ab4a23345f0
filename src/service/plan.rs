//! Plans (SPEC §3 "Plans"): which models a user may ask and how many
//! messages a day, checked inside the transaction that records the question,
//! before the upstream is called.

use chrono::{Duration as Days, Utc};

use super::groups::Access;
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
/// answer, before the upstream is called. A model the user's groups do not
/// grant is a 403 `model_not_allowed` (issue 21), a model outside the plan a
/// 403 `model_not_in_plan`, a used-up daily limit a 429 that says when it
/// resets.
pub fn check_plan(conn: &rusqlite::Connection, user_id: &str, model_id: &str) -> Result<(), Error> {
    check_plan_with(conn, &Access::read(conn, user_id)?, model_id)
}

/// [`check_plan`] with the user's [`Access`] already read.
pub fn check_plan_with(
    conn: &rusqlite::Connection,
    access: &Access,
    model_id: &str,
) -> Result<(), Error> {
    super::groups::check_access(access, conn, model_id)?;
    let Some(plan) = &access.plan else {
        return Ok(());
    };
    let user_id = access.user_id();
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

#[cfg(test)]
mod tests {
    //! The plan rules (SPEC §3 "User settings": a plan's daily message limit
    //! and allowed models are enforced, 429 / 403) against a fresh SQLite
    //! file, without HTTP: [`check_plan`] alone, and through the gateway's
    //! admission (`service::chat::admit_call`), which checks and counts in one
    //! transaction as the web app's answers do.

    use std::time::Duration;

    use super::*;
    use crate::db::plan::PlanInput;
    use crate::db::user::{self, NewUser, Status};
    use crate::db::Db;
    use crate::engine::{Engine, Limits};
    use crate::service::chat::{admit_call, Chat};

    struct Fixture {
        db: Db,
        engine: Engine,
        _dir: tempfile::TempDir,
    }

    async fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("plans.db")).unwrap();
        let engine = Engine::new(db.clone(), Limits::default());
        Fixture {
            db,
            engine,
            _dir: dir,
        }
    }

    impl Fixture {
        async fn user(&self, name: &str) -> String {
            let name = name.to_string();
            self.db
                .run(move |conn| -> Result<_, crate::db::DbError> {
                    let new = NewUser {
                        username: &name,
                        display_name: &name,
                        password_hash: None,
                        role: None,
                        status: Status::Active,
                        external: None,
                    };
                    Ok(user::insert(conn, &new)?.id)
                })
                .await
                .unwrap()
        }

        /// Saves a plan; `default` makes it every unassigned user's plan.
        async fn plan(
            &self,
            name: &str,
            limit: Option<i64>,
            models: &[&str],
            default: bool,
        ) -> String {
            let name = name.to_string();
            let models: Vec<String> = models.iter().map(|m| m.to_string()).collect();
            self.db
                .run(move |conn| -> Result<_, crate::db::DbError> {
                    let input = PlanInput {
                        name: &name,
                        daily_message_limit: limit,
                        allowed_models: &models,
                        self_service: false,
                        is_default: default,
                    };
                    Ok(plan::save(conn, None, &input)?.id)
                })
                .await
                .unwrap()
        }

        async fn assign(&self, user_id: &str, plan_id: Option<&str>) {
            let (user_id, plan_id) = (user_id.to_string(), plan_id.map(String::from));
            self.db
                .run(move |conn| -> Result<_, crate::db::DbError> {
                    let mut settings = plan::settings(conn, &user_id)?;
                    settings.plan_id = plan_id;
                    plan::save_settings(conn, &user_id, &settings)
                })
                .await
                .unwrap();
        }

        /// The plan check alone (nothing is counted).
        async fn check(&self, user_id: &str, model: &str) -> Result<(), Error> {
            let (user_id, model) = (user_id.to_string(), model.to_string());
            self.db
                .run(move |conn| check_plan(conn, &user_id, &model))
                .await
        }

        /// A gateway call's admission: the check and the count in one
        /// transaction (the slot is given back at once).
        async fn ask(&self, user_id: &str, model: &str) -> Result<(), Error> {
            let chat = Chat {
                db: &self.db,
                engine: &self.engine,
                idle_timeout: Duration::from_secs(30),
            };
            admit_call(&chat, user_id, model).await.map(drop)
        }

        /// The answers counted against `user_id` today.
        async fn used_today(&self, user_id: &str) -> i64 {
            let user_id = user_id.to_string();
            self.db
                .run(move |conn| plan::used_since(conn, &user_id, &day_start()))
                .await
                .unwrap()
        }

        /// Moves every usage record of `user_id` to `at` (test-only: the
        /// server never rewrites when an answer was asked).
        async fn backdate(&self, user_id: &str, at: String) {
            let user_id = user_id.to_string();
            self.db
                .run(move |conn| -> Result<_, crate::db::DbError> {
                    conn.execute(
                        "UPDATE usage SET created_at = ?2 WHERE user_id = ?1",
                        [&user_id, &at],
                    )?;
                    Ok(())
                })
                .await
                .unwrap();
        }
    }

    fn limit_reached(result: Result<(), Error>) -> (i64, String, u64) {
        match result {
            Err(Error::LimitReached {
                limit,
                resets_at,
                retry_after,
                message,
            }) => {
                assert!(message.contains(&resets_at), "{message}");
                (limit, resets_at, retry_after)
            }
            other => panic!("expected the daily limit, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn without_any_plan_nothing_is_limited_but_every_answer_is_counted() {
        let f = fixture().await;
        let minji = f.user("minji").await;
        for i in 0..30 {
            f.ask(&minji, if i % 2 == 0 { "m1" } else { "m2" })
                .await
                .unwrap();
        }
        assert_eq!(f.used_today(&minji).await, 30);
        assert!(f.check(&minji, "any-model").await.is_ok());
    }

    #[tokio::test]
    async fn the_daily_limit_admits_exactly_that_many_answers_and_then_answers_429_until_utc_midnight(
    ) {
        let f = fixture().await;
        f.plan("Free", Some(3), &[], true).await;
        let minji = f.user("minji").await;
        for _ in 0..3 {
            f.ask(&minji, "m1").await.unwrap();
        }
        let (limit, resets_at, retry_after) = limit_reached(f.ask(&minji, "m1").await);
        assert_eq!(limit, 3);
        assert_eq!(resets_at, next_day_start());
        assert!((1..=86_400).contains(&retry_after), "{retry_after}");
        // Every model counts towards the one limit.
        limit_reached(f.ask(&minji, "m2").await);
        // The check alone refuses too.
        limit_reached(f.check(&minji, "m1").await);
    }

    #[tokio::test]
    async fn a_refused_answer_counts_nothing() {
        let f = fixture().await;
        f.plan("Free", Some(1), &["m1"], true).await;
        let minji = f.user("minji").await;
        f.ask(&minji, "m1").await.unwrap();
        for _ in 0..5 {
            limit_reached(f.ask(&minji, "m1").await);
            assert!(f.ask(&minji, "not-in-plan").await.is_err());
        }
        assert_eq!(f.used_today(&minji).await, 1);
        // Raising the limit by one admits exactly one more: the refusals
        // above did not use it up.
        let bigger = f.plan("Bigger", Some(2), &["m1"], false).await;
        f.assign(&minji, Some(&bigger)).await;
        f.ask(&minji, "m1").await.unwrap();
        limit_reached(f.ask(&minji, "m1").await);
        assert_eq!(f.used_today(&minji).await, 2);
    }

    #[tokio::test]
    async fn the_count_starts_again_at_utc_midnight() {
        let f = fixture().await;
        f.plan("Free", Some(1), &[], true).await;
        let minji = f.user("minji").await;
        f.ask(&minji, "m1").await.unwrap();
        limit_reached(f.ask(&minji, "m1").await);

        // The same answer asked one second before today began: yesterday's.
        let today = Utc::now().date_naive();
        let last_second_of_yesterday = format!("{}T23:59:59Z", today - Days::days(1));
        f.backdate(&minji, last_second_of_yesterday).await;
        assert_eq!(f.used_today(&minji).await, 0);
        assert!(f.check(&minji, "m1").await.is_ok());

        // Asked at midnight exactly: today's.
        f.backdate(&minji, day_start()).await;
        assert_eq!(f.used_today(&minji).await, 1);
        limit_reached(f.check(&minji, "m1").await);

        assert_eq!(day_start(), format!("{today}T00:00:00Z"));
        assert_eq!(
            next_day_start(),
            format!("{}T00:00:00Z", today + Days::days(1))
        );
    }

    #[tokio::test]
    async fn a_zero_limit_refuses_the_first_answer() {
        let f = fixture().await;
        f.plan("Closed", Some(0), &[], true).await;
        let minji = f.user("minji").await;
        let (limit, _, _) = limit_reached(f.ask(&minji, "m1").await);
        assert_eq!(limit, 0);
        assert_eq!(f.used_today(&minji).await, 0);
    }

    #[tokio::test]
    async fn only_the_plans_models_may_be_asked_and_an_empty_list_allows_every_model() {
        let f = fixture().await;
        let minji = f.user("minji").await;
        let small = f.plan("Small", None, &["m1", "m2"], false).await;
        f.assign(&minji, Some(&small)).await;
        f.ask(&minji, "m1").await.unwrap();
        f.ask(&minji, "m2").await.unwrap();
        match f.ask(&minji, "big").await {
            Err(Error::Forbidden { code, message }) => {
                assert_eq!(code, "model_not_in_plan");
                assert!(
                    message.contains("big") && message.contains("Small"),
                    "{message}"
                );
                assert!(message.contains("m1, m2"), "{message}");
            }
            other => panic!("expected model_not_in_plan, got {other:?}"),
        }
        assert_eq!(f.used_today(&minji).await, 2);

        let any = f.plan("Any", None, &[], false).await;
        f.assign(&minji, Some(&any)).await;
        f.ask(&minji, "big").await.unwrap();
    }

    #[tokio::test]
    async fn an_unlimited_plan_admits_every_answer_and_counts_each() {
        let f = fixture().await;
        f.plan("Free", Some(1), &[], true).await;
        let unlimited = f.plan("Unlimited", None, &[], false).await;
        let minji = f.user("minji").await;
        f.assign(&minji, Some(&unlimited)).await;
        for _ in 0..25 {
            f.ask(&minji, "m1").await.unwrap();
        }
        assert_eq!(f.used_today(&minji).await, 25);
    }

    #[tokio::test]
    async fn the_assigned_plan_wins_over_the_default_and_a_deleted_one_falls_back_to_it() {
        let f = fixture().await;
        f.plan("Free", Some(1), &[], true).await;
        let pro = f.plan("Pro", Some(3), &[], false).await;
        let (minji, jisoo) = (f.user("minji").await, f.user("jisoo").await);
        f.assign(&minji, Some(&pro)).await;
        for _ in 0..3 {
            f.ask(&minji, "m1").await.unwrap();
        }
        assert_eq!(limit_reached(f.ask(&minji, "m1").await).0, 3);
        // Another user's answers are theirs: jisoo is on the default plan,
        // untouched by minji's three.
        f.ask(&jisoo, "m1").await.unwrap();
        assert_eq!(limit_reached(f.ask(&jisoo, "m1").await).0, 1);

        let deleted =
            f.db.run(move |conn| plan::delete(conn, &pro))
                .await
                .unwrap();
        assert!(deleted);
        assert_eq!(limit_reached(f.check(&minji, "m1").await).0, 1);
    }
}
