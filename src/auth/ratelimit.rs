//! In-memory attempt limits (sign-in, registration, external sign-in), kept
//! per key (a client address, or a username with an address). A restart
//! forgets them, which is fine for this purpose.
//!
//! Attempts are *reserved* before the expensive work (a password hash, an
//! identity-provider call) and settled after it: a reservation counts as a
//! failure until the caller releases it. Checking first and counting after
//! would let a burst of parallel requests all pass the check before any of
//! them is counted.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How a key's attempts are limited.
#[derive(Debug, Clone, Copy)]
pub enum Rule {
    /// At most `max` attempts within the window; then wait until the oldest
    /// leaves it.
    Window { max: usize },
    /// `free` attempts at once; each one after that waits `first_delay`,
    /// doubled per further attempt (at most `max_delay`), counted from the
    /// previous attempt.
    Backoff {
        free: usize,
        first_delay: Duration,
        max_delay: Duration,
    },
}

/// Attempts per key within a sliding window, under a [`Rule`].
pub struct Limiter {
    rule: Rule,
    window: Duration,
    attempts: Mutex<HashMap<String, VecDeque<Instant>>>,
}

/// An attempt that counts until [`Limiter::release`] says it did not fail.
#[derive(Debug)]
#[must_use = "an unreleased reservation counts as a failed attempt"]
pub struct Reservation {
    key: String,
    at: Instant,
}

/// Keys kept before idle ones are swept, so the map cannot grow without bound.
const SWEEP_ABOVE: usize = 10_000;
/// Longest key stored: keys include a client-chosen username.
const MAX_KEY_CHARS: usize = 128;

impl Limiter {
    pub fn new(rule: Rule, window: Duration) -> Limiter {
        Limiter {
            rule,
            window,
            attempts: Mutex::new(HashMap::new()),
        }
    }

    /// Reserves an attempt for `key`, or `Err(seconds)` to wait first. The
    /// check and the count are one step, under one lock.
    pub fn reserve(&self, key: &str) -> Result<Reservation, u64> {
        let key: String = key.chars().take(MAX_KEY_CHARS).collect();
        let now = Instant::now();
        let mut map = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > SWEEP_ABOVE {
            map.retain(|_, times| {
                prune(times, now, self.window);
                !times.is_empty()
            });
        }
        let times = map.entry(key.clone()).or_default();
        prune(times, now, self.window);
        if let Some(ready) = self.ready_at(times) {
            if ready > now {
                let wait = ready - now;
                // Round up: a client told "0" would retry at once.
                return Err(wait.as_secs() + u64::from(wait.subsec_nanos() > 0));
            }
        }
        times.push_back(now);
        Ok(Reservation { key, at: now })
    }

    /// The attempt did not fail: it no longer counts.
    pub fn release(&self, reservation: Reservation) {
        let mut map = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(times) = map.get_mut(&reservation.key) {
            if let Some(i) = times.iter().position(|t| *t == reservation.at) {
                times.remove(i);
            }
            if times.is_empty() {
                map.remove(&reservation.key);
            }
        }
    }

    /// Forgets every attempt of `key` (a successful sign-in ends its back-off).
    pub fn clear(&self, reservation: Reservation) {
        self.attempts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&reservation.key);
    }

    /// When the next attempt may start, if the rule holds it back at all.
    fn ready_at(&self, times: &VecDeque<Instant>) -> Option<Instant> {
        match self.rule {
            Rule::Window { max } if times.len() >= max => Some(*times.front()? + self.window),
            Rule::Window { .. } => None,
            Rule::Backoff {
                free,
                first_delay,
                max_delay,
            } if times.len() >= free => {
                let doublings = u32::try_from(times.len() - free)
                    .unwrap_or(u32::MAX)
                    .min(20);
                let delay = first_delay.saturating_mul(1 << doublings).min(max_delay);
                Some(*times.back()? + delay)
            }
            Rule::Backoff { .. } => None,
        }
    }
}

fn prune(times: &mut VecDeque<Instant>, now: Instant, window: Duration) {
    while times
        .front()
        .is_some_and(|t| now.duration_since(*t) >= window)
    {
        times.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    #[test]
    fn a_window_holds_back_the_attempt_past_max_until_the_oldest_expires() {
        let limiter = Limiter::new(Rule::Window { max: 3 }, MINUTE);
        let kept: Vec<_> = (0..3).map(|_| limiter.reserve("ip").unwrap()).collect();
        let wait = limiter.reserve("ip").unwrap_err();
        assert!((1..=60).contains(&wait), "{wait}");
        assert!(limiter.reserve("other").is_ok());
        // A released attempt frees its place.
        for reservation in kept {
            limiter.release(reservation);
        }
        assert!(limiter.reserve("ip").is_ok());
    }

    #[test]
    fn a_backoff_allows_free_attempts_then_waits_longer_each_time() {
        let limiter = Limiter::new(
            Rule::Backoff {
                free: 2,
                first_delay: Duration::from_secs(30),
                max_delay: Duration::from_secs(900),
            },
            Duration::from_secs(900),
        );
        let _first = limiter.reserve("kim|ip").unwrap();
        let second = limiter.reserve("kim|ip").unwrap();
        let wait = limiter.reserve("kim|ip").unwrap_err();
        assert!((29..=30).contains(&wait), "{wait}");
        // A success clears the key.
        limiter.clear(second);
        assert!(limiter.reserve("kim|ip").is_ok());

        let times = VecDeque::from(vec![Instant::now(); 7]);
        let ready = limiter.ready_at(&times).unwrap();
        let delay = ready - times[6];
        assert_eq!(
            delay,
            Duration::from_secs(900),
            "capped: 30 s × 2^5 > 900 s"
        );
    }

    #[test]
    fn attempts_older_than_the_window_do_not_count() {
        let limiter = Limiter::new(Rule::Window { max: 1 }, Duration::from_millis(1));
        let _kept = limiter.reserve("kim").unwrap();
        std::thread::sleep(Duration::from_millis(5));
        assert!(limiter.reserve("kim").is_ok());
    }

    #[test]
    fn parallel_reservations_never_exceed_the_limit() {
        let limiter = std::sync::Arc::new(Limiter::new(Rule::Window { max: 5 }, MINUTE));
        let threads: Vec<_> = (0..40)
            .map(|_| {
                let limiter = limiter.clone();
                std::thread::spawn(move || limiter.reserve("ip").is_ok())
            })
            .collect();
        let granted = threads
            .into_iter()
            .map(|t| t.join().unwrap())
            .filter(|ok| *ok)
            .count();
        assert_eq!(granted, 5);
        let mut map = limiter.attempts.lock().unwrap();
        assert_eq!(map.remove("ip").map(|t| t.len()), Some(5));
    }
}
