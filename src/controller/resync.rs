//! The periodic drift check of every registration, kept out of kube-runtime's scheduler.
//!
//! `Action::requeue(resync)` would park every object in the controller's scheduler for its whole life: a hash map
//! entry plus a delay-queue slot, each holding a full `ReconcileRequest` (object reference with four owned strings
//! and a reason), about 900 bytes per object, 9 MiB at 10,000 registrations. Here a due registration costs one
//! heap entry and one map entry that share one small key (namespaces interned), and is handed to the controller
//! through `reconcile_on` only when it is due. Retries after errors stay with the controller's scheduler: few
//! objects are ever waiting for one.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::channel::mpsc::UnboundedSender;
use kube::runtime::reflector::ObjectRef;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::object_key::{Namespaces, ObjectKey};
use crate::api::CallbackRegistration;

/// When each registration is next due. Rescheduling replaces the due time; the superseded heap entry is skipped
/// when it surfaces (lazy deletion keeps rescheduling O(log n) without searching the heap).
#[derive(Debug, Default)]
pub struct Schedule {
    due: HashMap<Arc<ObjectKey>, Instant>,
    heap: BinaryHeap<Reverse<(Instant, Arc<ObjectKey>)>>,
    namespaces: Namespaces,
}

impl Schedule {
    /// Makes (`namespace`, `name`) due at `at`, replacing any earlier schedule of it.
    pub fn schedule(&mut self, namespace: &str, name: &str, at: Instant) {
        let key = self.namespaces.key(namespace, name);
        self.due.insert(key.clone(), at);
        self.heap.push(Reverse((at, key)));
        // Superseded entries accumulate when objects are rescheduled before they are due (spec changes, Secret
        // rotations); compact once they outnumber the live ones so the heap stays proportional to the objects.
        if self.heap.len() > 2 * self.due.len() + 64 {
            let due = &self.due;
            self.heap.retain(|Reverse((at, key))| due.get(key) == Some(at));
        }
    }

    /// Forgets (`namespace`, `name`): it is not due any more.
    pub fn cancel(&mut self, namespace: &str, name: &str) {
        if let Some(key) = self.namespaces.probe(namespace, name) {
            self.due.remove(&key);
        }
    }

    /// Removes and returns every registration due at or before `now`, as (namespace, name).
    pub fn take_due(&mut self, now: Instant) -> Vec<(String, String)> {
        let mut out = Vec::new();
        while self.heap.peek().is_some_and(|Reverse((at, _))| *at <= now) {
            let Some(Reverse((at, key))) = self.heap.pop() else {
                break;
            };
            if self.due.get(&key) == Some(&at) {
                self.due.remove(&key);
                out.push((key.namespace.to_string(), key.name.to_string()));
            }
        }
        out
    }

    /// The earliest time something may be due.
    pub fn next_due(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, _))| *at)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.due.len()
    }

    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.due.is_empty()
    }
}

/// The schedule shared by the reconciler (which schedules) and the task that hands due objects to the controller.
#[derive(Debug, Default)]
pub struct ResyncQueue {
    schedule: Mutex<Schedule>,
    changed: Notify,
}

impl ResyncQueue {
    /// Reconcile `obj` again after `delay` (replacing any earlier schedule).
    pub fn resync_after(&self, obj: &CallbackRegistration, delay: Duration) {
        if let Some((namespace, name)) = key_of(obj) {
            self.lock().schedule(namespace, name, Instant::now() + delay);
            self.changed.notify_one();
        }
    }

    /// `obj` needs no periodic check any more (deleted or suspended).
    pub fn cancel(&self, obj: &CallbackRegistration) {
        if let Some((namespace, name)) = key_of(obj) {
            self.lock().cancel(namespace, name);
        }
    }

    /// Hands due registrations to `trigger` until the receiving side is gone.
    pub async fn run(&self, trigger: UnboundedSender<ObjectRef<CallbackRegistration>>) {
        loop {
            let (due, next) = {
                let mut schedule = self.lock();
                (schedule.take_due(Instant::now()), schedule.next_due())
            };
            for (namespace, name) in due {
                if trigger
                    .unbounded_send(ObjectRef::new(&name).within(&namespace))
                    .is_err()
                {
                    return;
                }
            }
            match next {
                Some(at) => {
                    tokio::select! {
                        _ = tokio::time::sleep_until(at) => {}
                        _ = self.changed.notified() => {}
                    }
                }
                None => self.changed.notified().await,
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Schedule> {
        self.schedule.lock().expect("resync schedule lock")
    }
}

fn key_of(obj: &CallbackRegistration) -> Option<(&str, &str)> {
    Some((obj.metadata.namespace.as_deref()?, obj.metadata.name.as_deref()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> Instant {
        // A fixed origin keeps the tests independent of wall time.
        static ORIGIN: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
        *ORIGIN.get_or_init(Instant::now) + Duration::from_secs(secs)
    }

    #[test]
    fn registrations_come_due_in_time_order() {
        let mut s = Schedule::default();
        s.schedule("ns", "b", at(20));
        s.schedule("ns", "a", at(10));
        assert!(s.take_due(at(5)).is_empty());
        assert_eq!(s.take_due(at(15)), vec![("ns".into(), "a".into())]);
        assert_eq!(s.next_due(), Some(at(20)));
        assert_eq!(s.take_due(at(25)), vec![("ns".into(), "b".into())]);
        assert!(s.is_empty());
    }

    #[test]
    fn rescheduling_replaces_the_earlier_due_time() {
        let mut s = Schedule::default();
        s.schedule("ns", "a", at(10));
        s.schedule("ns", "a", at(30));
        assert!(s.take_due(at(20)).is_empty(), "the superseded time must not fire");
        assert_eq!(s.take_due(at(30)), vec![("ns".into(), "a".into())]);
        assert!(s.take_due(at(100)).is_empty(), "due once, not once per schedule call");
    }

    #[test]
    fn a_cancelled_registration_never_comes_due() {
        let mut s = Schedule::default();
        s.schedule("ns", "a", at(10));
        s.cancel("ns", "a");
        s.cancel("unknown-namespace", "a");
        assert!(s.take_due(at(20)).is_empty());
        assert_eq!(s.len(), 0);
    }

    #[test]
    fn same_names_in_other_namespaces_are_other_registrations() {
        let mut s = Schedule::default();
        s.schedule("one", "a", at(10));
        s.schedule("two", "a", at(10));
        let mut due = s.take_due(at(10));
        due.sort();
        assert_eq!(due, vec![("one".into(), "a".into()), ("two".into(), "a".into())]);
    }

    #[test]
    fn superseded_entries_are_compacted_away() {
        let mut s = Schedule::default();
        for i in 0..1000 {
            s.schedule("ns", "a", at(i));
        }
        assert_eq!(s.len(), 1);
        assert!(
            s.heap.len() <= 2 * s.len() + 65,
            "heap holds {} entries for one registration",
            s.heap.len()
        );
        assert_eq!(s.take_due(at(2000)), vec![("ns".into(), "a".into())]);
    }

    #[tokio::test(start_paused = true)]
    async fn the_queue_hands_due_registrations_to_the_controller() {
        let queue = Arc::new(ResyncQueue::default());
        let (tx, mut rx) = futures::channel::mpsc::unbounded();
        let runner = tokio::spawn({
            let queue = queue.clone();
            async move { queue.run(tx).await }
        });
        let spec = serde_json::from_value(serde_json::json!({"credentialsRef": {"name": "s"}})).unwrap();
        let mut obj = CallbackRegistration::new("r", spec);
        obj.metadata.namespace = Some("ns".into());
        queue.resync_after(&obj, Duration::from_secs(30));
        tokio::time::sleep(Duration::from_secs(29)).await;
        assert!(rx.try_recv().is_err(), "nothing is due before 30 s");
        tokio::time::sleep(Duration::from_secs(2)).await;
        let due = futures::StreamExt::next(&mut rx).await.expect("a trigger");
        assert_eq!((due.name.as_str(), due.namespace.as_deref()), ("r", Some("ns")));
        runner.abort();
    }
}
