//! Keyword searches take turns. A search reads for up to a millisecond of
//! CPU; on a blocking thread each, thirty-two at once on two cores all ran
//! at once and finished late together, in the scheduler's order (the p99
//! was three to four times the median), and held sixteen pool connections
//! between them. Here a few run at once ([`running_at_once`]); the rest
//! wait, without a thread or a connection, in arrival order.
//!
//! One user cannot take every turn: a user's searches first queue among
//! themselves, and at most as many of them as may run at once wait in the
//! common queue. Another user's search waits behind at most that many of
//! theirs, however many they send.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::DbError;

/// Searches that run at once: two per core (while one search's answer is
/// written, another's reads keep the core busy). Measured on two cores
/// (`bench/run`, 32 connections, `?q=강아지,설사`, issue 19): four at once
/// gave a p99 of 20-32 ms in eight runs, three 21 ms, eight 31 ms, and
/// without turns 41-42 ms.
fn running_at_once() -> usize {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    (cores * 2).clamp(2, 16)
}

pub(super) struct Searches {
    /// Places among the searches that run; FIFO (tokio's semaphore is fair).
    running: Arc<Semaphore>,
    /// How many places each user's searches may wait for or hold at once.
    per_user: usize,
    /// Each user's own queue, while they have a search waiting or running.
    users: Mutex<HashMap<String, Arc<Semaphore>>>,
}

/// A search's turn, from the moment it queues: the place goes to the next
/// one when dropped, and so does a place in line when a waiting search is
/// given up (its client went away).
pub(super) struct Turn {
    searches: Arc<Searches>,
    user_id: String,
    /// The user's queue; `None` once dropped.
    queue: Option<Arc<Semaphore>>,
    mine: Option<OwnedSemaphorePermit>,
    running: Option<OwnedSemaphorePermit>,
}

impl Default for Searches {
    fn default() -> Self {
        Searches::new(running_at_once())
    }
}

impl Searches {
    pub(super) fn new(running: usize) -> Searches {
        Searches {
            running: Arc::new(Semaphore::new(running)),
            per_user: running,
            users: Mutex::default(),
        }
    }

    /// Waits for `user_id`'s search's turn: first among the user's own,
    /// then among everyone's.
    pub(super) async fn turn(self: &Arc<Self>, user_id: &str) -> Result<Turn, DbError> {
        let queue = self
            .users
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(user_id.to_string())
            .or_insert_with(|| Arc::new(Semaphore::new(self.per_user)))
            .clone();
        let mut turn = Turn {
            searches: self.clone(),
            user_id: user_id.to_string(),
            queue: Some(queue.clone()),
            mine: None,
            running: None,
        };
        let closed = |e: tokio::sync::AcquireError| DbError::Task(e.to_string());
        turn.mine = Some(queue.acquire_owned().await.map_err(closed)?);
        turn.running = Some(self.running.clone().acquire_owned().await.map_err(closed)?);
        Ok(turn)
    }

    /// Users with a search waiting or running.
    #[cfg(test)]
    fn users(&self) -> usize {
        self.users.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        self.running.take();
        self.mine.take();
        let mut users = self
            .searches
            .users
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        self.queue = None;
        // Only the map holds the queue now: no search of this user waits.
        if users
            .get(&self.user_id)
            .is_some_and(|q| Arc::strong_count(q) == 1)
        {
            users.remove(&self.user_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::sync::mpsc;

    /// Lets every spawned task run until it waits.
    async fn settle() {
        for _ in 0..50 {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test]
    async fn no_more_than_the_places_run_at_once() {
        let searches = Arc::new(Searches::new(3));
        let now = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..40)
            .map(|i| {
                let (searches, now, most) = (searches.clone(), now.clone(), most.clone());
                tokio::spawn(async move {
                    let user = format!("u{}", i % 4);
                    let _turn = searches.turn(&user).await.unwrap();
                    let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(n, Ordering::SeqCst);
                    settle().await;
                    now.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(most.load(Ordering::SeqCst), 3);
        assert_eq!(searches.users(), 0, "every user's queue is gone");
    }

    #[tokio::test]
    async fn another_users_search_goes_before_the_rest_of_one_users_many() {
        let searches = Arc::new(Searches::new(2));
        let first = searches.turn("a").await.unwrap();
        let second = searches.turn("a").await.unwrap();
        let (done, mut order) = mpsc::unbounded_channel();
        let (go, _) = tokio::sync::broadcast::channel::<()>(1);
        let spawn = |user: &'static str| {
            let (searches, done, mut go) = (searches.clone(), done.clone(), go.subscribe());
            tokio::spawn(async move {
                let _turn = searches.turn(user).await.unwrap();
                done.send(user).unwrap();
                let _ = go.recv().await;
            })
        };
        let mut tasks: Vec<_> = (0..10).map(|_| spawn("a")).collect();
        settle().await;
        tasks.push(spawn("b"));
        settle().await;
        drop(first);
        settle().await;
        assert_eq!(
            order.recv().await,
            Some("b"),
            "b waited behind a's running two only"
        );
        drop(second);
        settle().await;
        assert_eq!(order.recv().await, Some("a"));
        assert!(order.try_recv().is_err(), "two places, both taken");
        go.send(()).unwrap();
        drop(go);
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(searches.users(), 0);
    }

    #[tokio::test]
    async fn a_search_given_up_while_it_waits_leaves_no_trace() {
        let searches = Arc::new(Searches::new(1));
        let held = searches.turn("a").await.unwrap();
        let waiting: Vec<_> = ["a", "b", "c"]
            .into_iter()
            .map(|user| {
                let searches = searches.clone();
                tokio::spawn(async move { searches.turn(user).await.map(|_| ()) })
            })
            .collect();
        settle().await;
        assert_eq!(searches.users(), 3);
        for t in &waiting {
            t.abort();
        }
        for t in waiting {
            assert!(t.await.unwrap_err().is_cancelled());
        }
        assert_eq!(
            searches.users(),
            1,
            "only the running search's user is left"
        );
        drop(held);
        assert_eq!(searches.users(), 0);
        // The places came back: a new search runs at once.
        let again =
            tokio::time::timeout(std::time::Duration::from_secs(5), searches.turn("b")).await;
        assert!(again.is_ok_and(|t| t.is_ok()));
    }
}
