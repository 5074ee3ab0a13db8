//! The values of the Secrets registrations read, kept while the Secret watch says they are current, so a new
//! registration using a Secret already read costs no apiserver request (issue #19: one GET per registration was a
//! fifth of the apiserver's work). Safe because the metadata-only Secret watch reports every change:
//!
//! - a value is served only while its resourceVersion is the one the watch last reported for that Secret (a change
//!   reported by the watch drops it at once; the Secret's users are woken by the same event and read it again);
//! - a deleted Secret — or, in the label opt-in mode, one that lost its label (the watch reports it as deleted) —
//!   is dropped, and a relist drops whatever it no longer lists (a deletion during a watch gap);
//! - only what a reconciliation read is held (referenced Secrets), at most [`CAPACITY`] of them; values never leave
//!   this module except to the reconciler, and `SecretValue` never prints its content.
//!
//! What the watch has not reported yet (it lags the apiserver by the event's delivery) is the same lag any
//! watch-driven controller has: the change arrives as an event and triggers the Secret's users, which read it anew.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use crate::providers::SecretValues;

/// How many Secrets' values are held at most (beyond it, reads go to the apiserver as before).
pub const CAPACITY: usize = 4096;

type Key = (String, String);

#[derive(Default)]
pub struct SecretCache {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// The resourceVersion the watch last reported, per Secret in the watched scope (metadata only).
    current: HashMap<Key, String>,
    /// Values read by reconciliations, with the resourceVersion they were read at.
    values: HashMap<Key, (String, SecretValues)>,
    /// Per watcher scope (namespace, or "" for the cluster) during a relist: the Secrets it listed so far.
    relisting: HashMap<String, HashSet<Key>>,
}

fn key(namespace: &str, name: &str) -> Key {
    (namespace.to_string(), name.to_string())
}

impl SecretCache {
    /// The watch reports `namespace/name` at `version` (added, changed, or listed); returns the version it reported
    /// before, if any.
    pub fn observed(&self, namespace: &str, name: &str, version: &str) -> Option<String> {
        let mut inner = self.inner.lock().expect("secret cache lock");
        let key = key(namespace, name);
        if inner.values.get(&key).is_some_and(|(v, _)| v != version) {
            inner.values.remove(&key);
        }
        for listed in inner.relisting.values_mut() {
            listed.insert(key.clone());
        }
        inner.current.insert(key, version.to_string())
    }

    /// The watch reports `namespace/name` gone (deleted, or no longer matching the label selector).
    pub fn gone(&self, namespace: &str, name: &str) {
        let mut inner = self.inner.lock().expect("secret cache lock");
        let key = key(namespace, name);
        inner.current.remove(&key);
        inner.values.remove(&key);
    }

    /// A watcher of `scope` (a namespace, `None`: the cluster) starts listing again.
    pub fn relist_started(&self, scope: Option<&str>) {
        let mut inner = self.inner.lock().expect("secret cache lock");
        inner
            .relisting
            .insert(scope.unwrap_or_default().to_string(), HashSet::new());
    }

    /// The relist of `scope` is complete: whatever it did not list is gone.
    /// Ends a relist of `scope`; returns the Secrets (namespace, name) that vanished during the watch gap, so their
    /// users can be woken — a relist reports what exists, never a Delete for what went (soak seed 1: a Secret deleted
    /// just before an apiserver restart left its registrations reporting the old state until their resync).
    pub fn relist_done(&self, scope: Option<&str>) -> Vec<(String, String)> {
        let mut inner = self.inner.lock().expect("secret cache lock");
        let Some(listed) = inner.relisting.remove(scope.unwrap_or_default()) else {
            return Vec::new();
        };
        let in_scope = |k: &Key| scope.is_none_or(|ns| k.0 == ns);
        let vanished: Vec<Key> = inner
            .current
            .keys()
            .filter(|k| in_scope(k) && !listed.contains(*k))
            .cloned()
            .collect();
        inner.current.retain(|k, _| !in_scope(k) || listed.contains(k));
        inner.values.retain(|k, _| !in_scope(k) || listed.contains(k));
        vanished.into_iter().map(|k| (k.0, k.1)).collect()
    }

    /// The values and resourceVersion of `namespace/name`, when held at the version the watch last reported.
    pub fn get(&self, namespace: &str, name: &str) -> Option<(SecretValues, String)> {
        let inner = self.inner.lock().expect("secret cache lock");
        let key = key(namespace, name);
        let current = inner.current.get(&key)?;
        let (version, values) = inner.values.get(&key)?;
        (version == current).then(|| (values.clone(), version.clone()))
    }

    /// Keeps what a reconciliation read, when it is the version the watch reports as current (a read ahead of the
    /// watch is not kept: the event on its way would be the only thing to drop it).
    pub fn put(&self, namespace: &str, name: &str, values: &SecretValues, version: &str) {
        let mut inner = self.inner.lock().expect("secret cache lock");
        let key = key(namespace, name);
        if inner.current.get(&key).is_none_or(|current| current != version) {
            return;
        }
        if inner.values.len() >= CAPACITY && !inner.values.contains_key(&key) {
            return;
        }
        inner.values.insert(key, (version.to_string(), values.clone()));
    }

    /// Whether the watch reports `namespace/name` as existing (in the label opt-in mode: carrying the labels).
    pub fn exists(&self, namespace: &str, name: &str) -> bool {
        self.inner
            .lock()
            .expect("secret cache lock")
            .current
            .contains_key(&key(namespace, name))
    }

    #[cfg(test)]
    fn held(&self) -> usize {
        self.inner.lock().expect("secret cache lock").values.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::SecretValue;

    fn values(key: &str) -> SecretValues {
        [("apiKey".to_string(), SecretValue::new(key.to_string()))].into()
    }

    #[test]
    fn a_value_is_served_only_at_the_version_the_watch_reports() {
        let cache = SecretCache::default();
        cache.put("shop", "creds", &values("k1"), "1");
        assert!(
            cache.get("shop", "creds").is_none(),
            "not kept before the watch reported it"
        );
        cache.observed("shop", "creds", "1");
        cache.put("shop", "creds", &values("k1"), "1");
        assert_eq!(cache.get("shop", "creds"), Some((values("k1"), "1".into())));
        cache.observed("shop", "creds", "2");
        assert!(cache.get("shop", "creds").is_none(), "a change drops it");
        assert_eq!(cache.held(), 0);
        cache.put("shop", "creds", &values("k1"), "1");
        assert!(
            cache.get("shop", "creds").is_none(),
            "a read older than the watch is not kept"
        );
    }

    #[test]
    fn a_deleted_secret_is_forgotten() {
        let cache = SecretCache::default();
        cache.observed("shop", "creds", "1");
        cache.put("shop", "creds", &values("k1"), "1");
        cache.gone("shop", "creds");
        assert!(cache.get("shop", "creds").is_none());
        assert!(!cache.exists("shop", "creds"));
        cache.put("shop", "creds", &values("k1"), "1");
        assert_eq!(cache.held(), 0);
    }

    #[test]
    fn a_relist_drops_what_it_no_longer_lists_in_its_scope_only() {
        let cache = SecretCache::default();
        for (ns, name) in [("shop", "a"), ("shop", "b"), ("billing", "c")] {
            cache.observed(ns, name, "1");
            cache.put(ns, name, &values(name), "1");
        }
        cache.relist_started(Some("shop"));
        cache.observed("shop", "a", "1");
        assert_eq!(
            cache.relist_done(Some("shop")),
            vec![("shop".to_string(), "b".to_string())],
            "what vanished is reported, so its users are woken"
        );
        assert!(cache.get("shop", "a").is_some());
        assert!(cache.get("shop", "b").is_none(), "deleted during the gap");
        assert!(cache.get("billing", "c").is_some(), "another watcher's scope");
    }

    #[test]
    fn at_most_capacity_secrets_are_held() {
        let cache = SecretCache::default();
        for i in 0..CAPACITY + 10 {
            let name = format!("s{i}");
            cache.observed("ns", &name, "1");
            cache.put("ns", &name, &values("k"), "1");
        }
        assert_eq!(cache.held(), CAPACITY);
    }
}
