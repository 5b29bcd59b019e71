//! Answers that stand for a while: the GitHub adapter's caches (busy notes
//! per issue, team memberships, repository permissions) all spare API calls
//! by remembering something for a fixed time, in memory that stays bounded
//! however many issues or accounts pass through.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Entries beyond which the expired ones are dropped.
const REMEMBERED: usize = 10_000;

/// A map whose entries stand for `ttl` after they were put.
pub struct Expiring<K, V> {
    ttl: Duration,
    entries: Mutex<HashMap<K, (Instant, V)>>,
}

impl<K: Eq + Hash, V: Clone> Expiring<K, V> {
    pub fn new(ttl: Duration) -> Self {
        Expiring {
            ttl,
            entries: Mutex::default(),
        }
    }

    /// The value put for `key` less than `ttl` ago.
    pub fn fresh(&self, key: &K) -> Option<V> {
        let entries = self.lock();
        let (at, v) = entries.get(key)?;
        (at.elapsed() < self.ttl).then(|| v.clone())
    }

    /// Put `value` for `key`, standing from now.
    pub fn put(&self, key: K, value: V) {
        let mut entries = self.lock();
        self.bound(&mut entries);
        entries.insert(key, (Instant::now(), value));
    }

    /// Put `value` unless `key` has a fresh entry, in one step (two callers
    /// at once cannot both put): whether it was put.
    pub fn put_unless_fresh(&self, key: K, value: V) -> bool {
        let mut entries = self.lock();
        if entries
            .get(&key)
            .is_some_and(|(at, _)| at.elapsed() < self.ttl)
        {
            return false;
        }
        self.bound(&mut entries);
        entries.insert(key, (Instant::now(), value));
        true
    }

    fn bound(&self, entries: &mut HashMap<K, (Instant, V)>) {
        if entries.len() >= REMEMBERED {
            entries.retain(|_, (at, _)| at.elapsed() < self.ttl);
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<K, (Instant, V)>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_stands_for_its_ttl_and_is_put_again_only_after() {
        let standing: Expiring<u32, &str> = Expiring::new(Duration::from_secs(60));
        assert_eq!(standing.fresh(&1), None);
        assert!(standing.put_unless_fresh(1, "a"));
        assert!(!standing.put_unless_fresh(1, "b"), "still fresh");
        assert_eq!(standing.fresh(&1), Some("a"));
        let lapsed: Expiring<u32, &str> = Expiring::new(Duration::ZERO);
        lapsed.put(1, "a");
        assert_eq!(lapsed.fresh(&1), None);
        assert!(lapsed.put_unless_fresh(1, "b"));
    }

    #[test]
    fn expired_entries_are_dropped_once_the_map_is_full() {
        let map: Expiring<usize, ()> = Expiring::new(Duration::ZERO);
        for k in 0..=REMEMBERED {
            map.put(k, ());
        }
        assert_eq!(
            map.lock().len(),
            1,
            "the full map was emptied of expired entries"
        );
    }
}
