//! What [`super::Auth::authenticate`] read from the database, kept in memory
//! so that a request does not need a query (and a hop to a blocking thread)
//! to learn who sent it.
//!
//! "Changes apply at once" stays true through a generation counter that the
//! database bumps after every committed write to `user`, `api_key` or
//! `refresh_token` in this process ([`crate::db::Db::auth_generation`],
//! fed by temporary triggers on each pooled connection). An entry is tagged
//! with the generation read *before* its query, and used only while the
//! generation is unchanged: a write that commits after that read makes the
//! entry stale, a write committed before it is in what the query saw. A
//! write made by another process (`daehwa user …` at the console) is seen
//! within [`TTL`], the longest an entry lives; that command waits as long
//! before it returns (src/cli.rs), so for the operator, too, the change has
//! applied when the prompt comes back.
//!
//! Only what the database confirmed is kept (a known key, a live session);
//! a wrong key or token is looked up every time, as before, so guessing
//! cannot fill the maps, and each map is bounded by [`MAX_ENTRIES`].

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::db::user::User;

/// The longest an entry is used: how soon another process's change applies.
pub const TTL: Duration = Duration::from_secs(1);
/// Entries per map at most; past it the map starts over.
const MAX_ENTRIES: usize = 10_000;

struct Entry<T> {
    value: T,
    generation: u64,
    read_at: Instant,
}

/// One map of confirmed facts.
struct Map<K, T> {
    entries: Mutex<HashMap<K, Entry<T>>>,
}

impl<K: Hash + Eq, T: Clone> Map<K, T> {
    fn new() -> Self {
        Map {
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, Entry<T>>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn get<Q>(&self, key: &Q, generation: u64) -> Option<T>
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let entries = self.lock();
        let entry = entries.get(key)?;
        (entry.generation == generation && entry.read_at.elapsed() < TTL)
            .then(|| entry.value.clone())
    }

    fn put(&self, key: K, value: T, generation: u64, read_at: Instant) {
        let mut entries = self.lock();
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(&key) {
            entries.clear();
        }
        entries.insert(
            key,
            Entry {
                value,
                generation,
                read_at,
            },
        );
    }
}

/// A moment of the database as a query is about to see it: the generation
/// and the time, both read before the query.
#[derive(Debug, Clone, Copy)]
pub struct Stamp {
    generation: u64,
    at: Instant,
}

/// Users by id, API keys by hash, live sign-in sessions by family id.
pub struct AuthCache {
    generation: Arc<AtomicU64>,
    users: Map<String, Arc<User>>,
    /// Key hash → (key id, user id).
    keys: Map<String, (String, String)>,
    /// Refresh families known to be live.
    sessions: Map<String, ()>,
}

impl AuthCache {
    /// A cache that follows `generation` (the database's counter).
    pub fn new(generation: Arc<AtomicU64>) -> Self {
        AuthCache {
            generation,
            users: Map::new(),
            keys: Map::new(),
            sessions: Map::new(),
        }
    }

    fn now(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Take this before a query whose result is to be kept.
    pub fn stamp(&self) -> Stamp {
        Stamp {
            generation: self.now(),
            at: Instant::now(),
        }
    }

    pub fn user(&self, id: &str) -> Option<Arc<User>> {
        self.users.get(id, self.now())
    }

    pub fn put_user(&self, stamp: Stamp, user: Arc<User>) {
        self.users
            .put(user.id.clone(), user, stamp.generation, stamp.at);
    }

    /// `(key id, user id)` of a key known to be live.
    pub fn key(&self, hash: &str) -> Option<(String, String)> {
        self.keys.get(hash, self.now())
    }

    pub fn put_key(&self, stamp: Stamp, hash: String, key_id: String, user_id: String) {
        self.keys
            .put(hash, (key_id, user_id), stamp.generation, stamp.at);
    }

    /// Whether the sign-in session is known to be live.
    pub fn session_live(&self, family_id: &str) -> bool {
        self.sessions.get(family_id, self.now()).is_some()
    }

    pub fn put_live_session(&self, stamp: Stamp, family_id: String) {
        self.sessions.put(family_id, (), stamp.generation, stamp.at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::user::{Role, Status};

    fn user(id: &str, role: Role) -> Arc<User> {
        Arc::new(User {
            id: id.into(),
            username: id.into(),
            display_name: id.into(),
            password_hash: None,
            role,
            status: Status::Active,
            session_epoch: 0,
            email: None,
            external_issuer: None,
            external_id: None,
            created_at: String::new(),
            updated_at: String::new(),
        })
    }

    #[test]
    fn an_entry_lives_until_the_generation_moves() {
        let generation = Arc::new(AtomicU64::new(0));
        let cache = AuthCache::new(generation.clone());
        let stamp = cache.stamp();
        cache.put_user(stamp, user("u1", Role::User));
        cache.put_key(stamp, "h".into(), "k1".into(), "u1".into());
        cache.put_live_session(stamp, "f1".into());
        assert_eq!(cache.user("u1").unwrap().role, Role::User);
        assert_eq!(cache.key("h"), Some(("k1".into(), "u1".into())));
        assert!(cache.session_live("f1"));
        assert!(cache.user("u2").is_none());

        generation.fetch_add(1, Ordering::Release);
        assert!(cache.user("u1").is_none());
        assert!(cache.key("h").is_none());
        assert!(!cache.session_live("f1"));
    }

    #[test]
    fn a_read_that_began_before_a_write_is_never_served() {
        // The query started, then a write committed and bumped the
        // generation, then the (possibly old) row was stored: it must not
        // be used.
        let generation = Arc::new(AtomicU64::new(7));
        let cache = AuthCache::new(generation.clone());
        let before = cache.stamp();
        generation.fetch_add(1, Ordering::Release);
        cache.put_user(before, user("u1", Role::Admin));
        assert!(cache.user("u1").is_none());
        // A read stamped after the write is kept.
        cache.put_user(cache.stamp(), user("u1", Role::User));
        assert_eq!(cache.user("u1").unwrap().role, Role::User);
    }

    #[test]
    fn an_entry_expires_after_the_ttl() {
        let cache = AuthCache::new(Arc::default());
        let old = Stamp {
            generation: 0,
            at: Instant::now() - TTL,
        };
        cache.put_user(old, user("u1", Role::User));
        assert!(cache.user("u1").is_none());
    }

    #[test]
    fn a_full_map_starts_over() {
        let cache = AuthCache::new(Arc::default());
        let stamp = cache.stamp();
        for i in 0..MAX_ENTRIES {
            cache.put_live_session(stamp, format!("f{i}"));
        }
        assert!(cache.session_live("f0"));
        cache.put_live_session(stamp, "one more".into());
        assert!(!cache.session_live("f0"));
        assert!(cache.session_live("one more"));
    }
}
