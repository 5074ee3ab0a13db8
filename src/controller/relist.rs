//! Mark and sweep over a watch's (re)lists, so objects deleted while the watch was away are seen as deleted.
//!
//! After a watch gap (410 Gone, a restarted apiserver) kube-runtime's watcher lists again: `Init`, one `InitApply`
//! per object that exists *now*, `InitDone`. An object deleted during the gap is simply absent; nothing says
//! "deleted". The reflector copes when it alone consumes one stream (it swaps its whole store on `InitDone`), but
//! the claim and Secret indexes, the change filter and the resync queue never heard of the deletion, and with
//! several watched namespaces one reflector cannot take interleaved relists at all.
//!
//! So each watcher's stream (one per namespace, or one for the cluster) passes through a [`Sweep`]: the relist's
//! objects become plain `Apply`s and are marked; at `InitDone` every cached object in that watcher's scope that was
//! not marked becomes a synthetic `Delete`. Everything downstream (the reflector, the indexes, handover) then
//! handles a gap deletion exactly like a watched one.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use kube::ResourceExt;
use kube::runtime::watcher::Event as WatchEvent;

/// One watcher's relist bookkeeping.
#[derive(Debug)]
pub struct Sweep {
    /// The namespace this watcher lists (`None`: the whole cluster).
    scope: Option<String>,
    /// uids seen since the current relist began; `None` outside a relist.
    marked: Option<HashSet<String>>,
}

/// What one watch event becomes.
#[derive(Debug)]
pub struct Swept<K> {
    /// The events to pass on (never `Init`, `InitApply` or `InitDone`).
    pub events: Vec<WatchEvent<K>>,
    /// A relist of this watcher just completed.
    pub listed: bool,
}

impl Sweep {
    pub fn new(scope: Option<String>) -> Self {
        Self { scope, marked: None }
    }

    /// Turns `event` into plain applies and deletes. `cached` yields what the cache holds now (read only at the end
    /// of a relist, one object at a time); the relist's own applies have reached it by then.
    pub fn step<K: kube::Resource + Clone, I: IntoIterator<Item = Arc<K>>>(
        &mut self,
        event: WatchEvent<K>,
        cached: impl FnOnce() -> I,
    ) -> Swept<K> {
        match event {
            WatchEvent::Init => {
                self.marked = Some(HashSet::new());
                Swept::pass(Vec::new())
            }
            WatchEvent::InitApply(obj) => {
                if let Some(marked) = self.marked.as_mut() {
                    marked.insert(obj.uid().unwrap_or_default());
                }
                Swept::pass(vec![WatchEvent::Apply(obj)])
            }
            WatchEvent::InitDone => {
                let marked = self.marked.take().unwrap_or_default();
                let gone = unmarked(cached(), self.scope.as_deref(), &marked);
                Swept {
                    events: gone.into_iter().map(WatchEvent::Delete).collect(),
                    listed: true,
                }
            }
            other => Swept::pass(vec![other]),
        }
    }
}

impl<K> Swept<K> {
    fn pass(events: Vec<WatchEvent<K>>) -> Self {
        Self { events, listed: false }
    }
}

/// The watchers' retry delays: 500 ms doubling to at most 5 s, ±20 % jitter, reset by the first event that gets
/// through. kube's default (client-go's 800 ms to 30 s) grows so far during an apiserver outage of a few seconds that
/// a watcher comes back up to 30 s after the apiserver — and waits as long again after the 410 Gone that makes it
/// relist — leaving every event-driven path (handover, deletions, Secret rotation) blind for up to a minute. One
/// leader with a couple of watchers per namespace is no load an apiserver needs protecting from.
#[derive(Debug, Clone)]
pub struct WatchBackoff {
    next: Duration,
}

impl WatchBackoff {
    const MIN: Duration = Duration::from_millis(500);
    const MAX: Duration = Duration::from_secs(5);
}

impl Default for WatchBackoff {
    fn default() -> Self {
        Self { next: Self::MIN }
    }
}

impl Iterator for WatchBackoff {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        let delay = self.next;
        self.next = (self.next * 2).min(Self::MAX);
        Some(delay.mul_f64(rand::random_range(0.8..1.2)))
    }
}

impl kube::runtime::utils::Backoff for WatchBackoff {
    fn reset(&mut self) {
        self.next = Self::MIN;
    }
}

/// Whether every registration watcher has completed its first list. Until then nothing is reconciled: the claim
/// index would not yet know every claimant, and an identity's claimants may live in several namespaces. A namespace
/// that cannot be listed (its RoleBinding gone) holds back every one, as `/readyz` says.
#[derive(Debug, Default)]
pub struct Listed(AtomicBool);

impl Listed {
    /// Every watcher has listed.
    pub fn mark(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether objects may be reconciled.
    pub fn done(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// The cached objects in `scope` whose uid the relist did not mark: deleted while the watch was away.
pub fn unmarked<K: kube::Resource + Clone>(
    cached: impl IntoIterator<Item = Arc<K>>,
    scope: Option<&str>,
    marked: &HashSet<String>,
) -> Vec<K> {
    cached
        .into_iter()
        .filter(|obj| scope.is_none_or(|ns| obj.namespace().as_deref() == Some(ns)))
        .filter(|obj| !marked.contains(&obj.uid().unwrap_or_default()))
        .map(|obj| obj.as_ref().clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::CallbackRegistration;

    fn obj(ns: &str, name: &str, uid: &str) -> CallbackRegistration {
        let spec = serde_json::from_value(serde_json::json!({"credentialsRef": {"name": "s"}})).unwrap();
        let mut obj = CallbackRegistration::new(name, spec);
        obj.metadata.namespace = Some(ns.into());
        obj.metadata.uid = Some(uid.into());
        obj
    }

    fn names(events: &[WatchEvent<CallbackRegistration>]) -> Vec<String> {
        events
            .iter()
            .map(|e| match e {
                WatchEvent::Apply(o) => format!("apply {}", o.name_any()),
                WatchEvent::Delete(o) => format!("delete {}", o.name_any()),
                other => format!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn an_object_missing_from_the_relist_is_deleted_and_the_listed_ones_applied() {
        let mut sweep = Sweep::new(Some("shop".into()));
        let cache = vec![Arc::new(obj("shop", "kept", "1")), Arc::new(obj("shop", "ghost", "2"))];
        let init = sweep.step(WatchEvent::<CallbackRegistration>::Init, Vec::new);
        assert!(init.events.is_empty() && !init.listed);
        let applied = sweep.step(WatchEvent::InitApply(obj("shop", "kept", "1")), Vec::new);
        assert_eq!(names(&applied.events), ["apply kept"]);
        let done = sweep.step(WatchEvent::InitDone, || cache.clone());
        assert!(done.listed);
        assert_eq!(names(&done.events), ["delete ghost"]);
    }

    #[test]
    fn another_namespaces_objects_are_not_this_watchers_to_sweep() {
        let mut sweep = Sweep::new(Some("shop".into()));
        let cache = vec![Arc::new(obj("billing", "theirs", "9"))];
        sweep.step(WatchEvent::<CallbackRegistration>::Init, Vec::new);
        assert!(sweep.step(WatchEvent::InitDone, || cache.clone()).events.is_empty());
        let mut cluster = Sweep::new(None);
        cluster.step(WatchEvent::<CallbackRegistration>::Init, Vec::new);
        assert_eq!(
            names(&cluster.step(WatchEvent::InitDone, || cache.clone()).events),
            ["delete theirs"],
            "a cluster-wide watcher sweeps every namespace"
        );
    }

    #[test]
    fn a_recreated_object_under_the_same_name_is_applied_not_deleted() {
        let mut sweep = Sweep::new(None);
        sweep.step(WatchEvent::<CallbackRegistration>::Init, Vec::new);
        sweep.step(WatchEvent::InitApply(obj("shop", "a", "new")), Vec::new);
        // The cache already holds the new object under the name (the apply replaced the old one).
        let cache = vec![Arc::new(obj("shop", "a", "new"))];
        assert!(sweep.step(WatchEvent::InitDone, || cache.clone()).events.is_empty());
    }

    #[test]
    fn nothing_is_listed_until_marked() {
        let listed = Listed::default();
        assert!(!listed.done());
        listed.mark();
        assert!(listed.done());
    }

    #[test]
    fn watch_retries_double_to_five_seconds_and_reset() {
        use kube::runtime::utils::Backoff;
        let mut backoff = WatchBackoff::default();
        let delays: Vec<Duration> = backoff.by_ref().take(8).collect();
        assert!(delays[0] <= Duration::from_millis(600), "{delays:?}");
        assert!(delays.iter().all(|d| *d <= Duration::from_secs(6)), "{delays:?}");
        assert!(delays[7] >= Duration::from_secs(4), "{delays:?}");
        backoff.reset();
        assert!(backoff.next().unwrap() <= Duration::from_millis(600));
    }

    #[test]
    fn live_events_pass_unchanged() {
        let mut sweep = Sweep::new(None);
        let out = sweep.step(WatchEvent::Delete(obj("shop", "a", "1")), Vec::new);
        assert_eq!(names(&out.events), ["delete a"]);
        assert!(!out.listed);
    }
}
