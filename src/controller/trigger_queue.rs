//! The queue every trigger waits in before kube-runtime's controller takes it.
//!
//! kube-runtime's scheduler takes every trigger at once and keeps each waiting object in a hash map, a hash set and
//! a delay queue, each holding a full `ReconcileRequest` (an object reference of four owned strings and a reason),
//! and none of the three shrinks once drained: a burst of new registrations (9,000 waiting for a slot at the peak of
//! the 10,000 bench) left their capacity allocated for the operator's whole life. Here a waiting registration is one
//! small key (namespace interned) in a queue and a map that are given back once the backlog is gone, and the
//! controller is handed only about as many triggers as it has slots, so its own tables stay small.
//!
//! What the controller's scheduler did is kept: a trigger for an object still waiting here is merged into it (its
//! pass will read the newest cached copy); a trigger for an object already handed to the controller runs it once
//! more afterwards — the controller reads the cached copy when it takes the object, a moment before the pass reports
//! its start, so from here a handed object may already have read an older copy. The controller's own retries (`Action::requeue` after an error or a
//! stale copy) stay with its scheduler: few objects wait for one.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use futures::Stream;
use kube::runtime::reflector::ObjectRef;
use tokio::sync::{Notify, watch};

use super::object_key::{Namespaces, ObjectKey};
use crate::api::CallbackRegistration;

/// Where a registration with a pending trigger is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// In this queue.
    Waiting,
    /// Handed to the controller; its pass has not reported its start. `again`: triggered since it was handed, so it
    /// runs once more.
    Handed { again: bool },
    /// Handed to the controller and running; `again` as above.
    Running { again: bool },
}

/// A backlog this long or longer is given back to the allocator once drained.
const SHRINK_ABOVE: usize = 256;

/// The queue's state and decisions, without IO or clocks.
#[derive(Debug)]
pub struct Queue {
    order: VecDeque<Arc<ObjectKey>>,
    states: HashMap<Arc<ObjectKey>, State>,
    namespaces: Namespaces,
    /// Handed or running, as handed by this queue.
    handed: usize,
    limit: usize,
}

impl Queue {
    /// A queue that lets at most `limit` of its triggers be with the controller at once.
    pub fn new(limit: usize) -> Self {
        Self {
            order: VecDeque::new(),
            states: HashMap::new(),
            namespaces: Namespaces::default(),
            handed: 0,
            limit: limit.max(1),
        }
    }

    /// A trigger for (`namespace`, `name`). Returns whether something new waits (the consumer may have work).
    pub fn push(&mut self, namespace: &str, name: &str) -> bool {
        let probe = self.namespaces.probe(namespace, name);
        match probe.and_then(|probe| self.states.get_mut(&probe)) {
            Some(State::Handed { again } | State::Running { again }) => {
                *again = true;
                false
            }
            // Not handed yet: the pass will read the copy this trigger is about.
            Some(State::Waiting) => false,
            // A key is made (two allocations) only for an object nothing here holds yet: most triggers at scale are
            // not.
            None => {
                let key = self.namespaces.key(namespace, name);
                self.states.insert(key.clone(), State::Waiting);
                self.order.push_back(key);
                true
            }
        }
    }

    /// The next registration to hand to the controller, if it has room for one more.
    pub fn hand(&mut self) -> Option<(Arc<str>, Box<str>)> {
        if self.handed >= self.limit {
            return None;
        }
        while let Some(key) = self.order.pop_front() {
            // Keys whose trigger a pass already served stay in the order until they surface.
            if let Some(state @ State::Waiting) = self.states.get_mut(&key) {
                *state = State::Handed { again: false };
                self.handed += 1;
                let handed = (key.namespace.clone(), key.name.clone());
                self.shrink_if_drained();
                return Some(handed);
            }
        }
        self.shrink_if_drained();
        None
    }

    /// The controller started a pass of (`namespace`, `name`). A trigger still waiting here stays: the pass may be
    /// one the controller scheduled itself (a retry), which read its copy before the trigger came.
    pub fn started(&mut self, namespace: &str, name: &str) {
        let Some(key) = self.existing_key(namespace, name) else {
            return;
        };
        if let Some(State::Handed { again }) = self.states.get(&key).copied() {
            self.states.insert(key, State::Running { again });
        }
    }

    /// A pass of (`namespace`, `name`) ended (whatever its result, or because the object was gone). Returns whether
    /// the controller has room again.
    pub fn finished(&mut self, namespace: &str, name: &str) -> bool {
        let Some(key) = self.existing_key(namespace, name) else {
            return false;
        };
        match self.states.get(&key).copied() {
            Some(State::Running { again: true } | State::Handed { again: true }) => {
                self.states.insert(key.clone(), State::Waiting);
                self.order.push_back(key);
            }
            // Handed and ended without starting: the object left the cache before its turn.
            Some(State::Running { again: false } | State::Handed { again: false }) => {
                self.states.remove(&key);
            }
            Some(State::Waiting) | None => return false,
        }
        self.handed = self.handed.saturating_sub(1);
        true
    }

    /// Whether a registration waits for a slot.
    pub fn backlogged(&self) -> bool {
        !self.order.is_empty()
    }

    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.states.is_empty()
    }

    fn existing_key(&self, namespace: &str, name: &str) -> Option<Arc<ObjectKey>> {
        let probe = self.namespaces.probe(namespace, name)?;
        self.states.get_key_value(&probe).map(|(key, _)| key.clone())
    }

    /// Gives the burst's capacity back once nothing waits here (what kube-runtime's scheduler never does).
    fn shrink_if_drained(&mut self) {
        let oversized = |capacity: usize, len: usize| capacity >= SHRINK_ABOVE && capacity > 4 * len;
        if !self.order.is_empty()
            || !(oversized(self.order.capacity(), 0) || oversized(self.states.capacity(), self.states.len()))
        {
            return;
        }
        self.order = VecDeque::new();
        self.states.shrink_to_fit();
        let states = &self.states;
        self.namespaces
            .retain(|namespace| states.keys().any(|key| Arc::ptr_eq(&key.namespace, namespace)));
    }
}

/// The queue shared by the trigger sources (which push), the reconciler (which reports starts), the controller's
/// results (which report ends) and the stream that hands triggers to the controller.
#[derive(Debug)]
pub struct TriggerQueue {
    queue: Mutex<Queue>,
    changed: Notify,
    /// Whether registrations wait for a slot, for what yields to them (the Events, `event_queue.rs`).
    backlog: watch::Sender<bool>,
}

impl TriggerQueue {
    /// Lets at most `limit` triggers be with the controller at once: enough to keep every slot busy (twice its
    /// concurrency) without the controller's scheduler holding the backlog.
    pub fn new(limit: usize) -> Self {
        Self {
            queue: Mutex::new(Queue::new(limit)),
            changed: Notify::new(),
            backlog: watch::Sender::new(false),
        }
    }

    /// A trigger for the registration (`namespace`, `name`).
    pub fn push(&self, namespace: &str, name: &str) {
        let mut queue = self.lock();
        if queue.push(namespace, name) {
            self.report_backlog(&queue);
            self.changed.notify_one();
        }
    }

    /// A trigger for `obj_ref`'s registration.
    pub fn push_ref<K: kube::Resource>(&self, obj_ref: &ObjectRef<K>) {
        self.push(obj_ref.namespace.as_deref().unwrap_or_default(), &obj_ref.name);
    }

    /// The controller started a pass of the registration.
    pub fn started(&self, namespace: &str, name: &str) {
        self.lock().started(namespace, name);
    }

    /// The controller ended a pass of `obj_ref`'s registration.
    pub fn finished<K: kube::Resource>(&self, obj_ref: &ObjectRef<K>) {
        let namespace = obj_ref.namespace.as_deref().unwrap_or_default();
        let mut queue = self.lock();
        if queue.finished(namespace, &obj_ref.name) {
            self.report_backlog(&queue);
            self.changed.notify_one();
        }
    }

    /// Whether registrations wait for a slot, as it changes.
    pub fn backlog(&self) -> watch::Receiver<bool> {
        self.backlog.subscribe()
    }

    fn report_backlog(&self, queue: &Queue) {
        let backlogged = queue.backlogged();
        self.backlog
            .send_if_modified(|was| std::mem::replace(was, backlogged) != backlogged);
    }

    /// The triggers, as the controller has room for them. One consumer: `Notify` keeps a wake that comes while it
    /// is not waiting.
    pub fn handed(self: Arc<Self>) -> impl Stream<Item = ObjectRef<CallbackRegistration>> + Send + 'static {
        futures::stream::unfold(self, |queue| async move {
            loop {
                let next = {
                    let mut locked = queue.lock();
                    let next = locked.hand();
                    queue.report_backlog(&locked);
                    next
                };
                if let Some((namespace, name)) = next {
                    return Some((ObjectRef::new(&name).within(&namespace), queue));
                }
                queue.changed.notified().await;
            }
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().expect("trigger queue lock")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hand_all(q: &mut Queue) -> Vec<String> {
        std::iter::from_fn(|| q.hand())
            .map(|(ns, name)| format!("{ns}/{name}"))
            .collect()
    }

    #[test]
    fn triggers_are_handed_in_arrival_order_up_to_the_limit() {
        let mut q = Queue::new(2);
        for name in ["a", "b", "c"] {
            q.push("ns", name);
        }
        assert_eq!(hand_all(&mut q), ["ns/a", "ns/b"]);
        q.started("ns", "a");
        assert!(q.finished("ns", "a"), "a slot came free");
        assert_eq!(hand_all(&mut q), ["ns/c"]);
    }

    #[test]
    fn a_backlog_is_what_waits_for_a_slot_not_what_runs() {
        let mut q = Queue::new(1);
        assert!(!q.backlogged());
        q.push("ns", "a");
        assert!(q.backlogged(), "a waits");
        assert_eq!(hand_all(&mut q), ["ns/a"]);
        assert!(!q.backlogged(), "a runs; nothing waits");
        q.push("ns", "b");
        assert_eq!(hand_all(&mut q), Vec::<String>::new(), "the one slot is taken");
        assert!(q.backlogged(), "b waits for the slot");
        q.started("ns", "a");
        q.finished("ns", "a");
        assert_eq!(hand_all(&mut q), ["ns/b"]);
        assert!(!q.backlogged());
    }

    #[test]
    fn a_trigger_for_a_waiting_object_is_merged() {
        let mut q = Queue::new(10);
        assert!(q.push("ns", "a"));
        assert!(!q.push("ns", "a"), "waiting: merged");
        assert_eq!(hand_all(&mut q), ["ns/a"]);
        q.started("ns", "a");
        q.finished("ns", "a");
        assert!(hand_all(&mut q).is_empty());
        assert!(q.is_empty());
    }

    #[test]
    fn a_trigger_for_a_handed_object_runs_it_once_more() {
        // The controller may have read the cached copy already (it does when it takes the object, before the pass
        // reports its start): the trigger's change must get a pass of its own.
        let mut q = Queue::new(10);
        q.push("ns", "a");
        assert_eq!(hand_all(&mut q), ["ns/a"]);
        q.push("ns", "a");
        q.started("ns", "a");
        assert!(hand_all(&mut q).is_empty(), "not while its pass runs");
        q.finished("ns", "a");
        assert_eq!(hand_all(&mut q), ["ns/a"]);
    }

    #[test]
    fn a_trigger_during_a_pass_runs_the_object_once_more_afterwards() {
        let mut q = Queue::new(10);
        q.push("ns", "a");
        hand_all(&mut q);
        q.started("ns", "a");
        q.push("ns", "a");
        q.push("ns", "a");
        assert!(hand_all(&mut q).is_empty(), "not while its pass runs");
        q.finished("ns", "a");
        assert_eq!(hand_all(&mut q), ["ns/a"], "once, for both triggers");
        q.started("ns", "a");
        q.finished("ns", "a");
        assert!(q.is_empty());
    }

    #[test]
    fn an_object_gone_before_its_turn_frees_its_room() {
        let mut q = Queue::new(1);
        q.push("ns", "a");
        q.push("ns", "b");
        assert_eq!(hand_all(&mut q), ["ns/a"]);
        // The controller reports the object not found: no start, only an end.
        assert!(q.finished("ns", "a"));
        assert_eq!(hand_all(&mut q), ["ns/b"]);
    }

    #[test]
    fn a_pass_the_controller_scheduled_itself_leaves_a_waiting_trigger_waiting() {
        let mut q = Queue::new(10);
        q.push("ns", "a");
        q.started("ns", "a");
        assert!(!q.finished("ns", "a"), "not one of ours: no room freed");
        assert_eq!(hand_all(&mut q), ["ns/a"], "its retry may have read an older copy");
    }

    #[test]
    fn passes_the_queue_never_handed_leave_its_count_alone() {
        let mut q = Queue::new(1);
        q.started("ns", "x");
        assert!(!q.finished("ns", "x"));
        q.push("ns", "a");
        assert_eq!(hand_all(&mut q), ["ns/a"], "the room is still there");
    }

    #[test]
    fn namespaces_are_told_apart() {
        let mut q = Queue::new(10);
        q.push("one", "a");
        q.push("two", "a");
        assert_eq!(hand_all(&mut q), ["one/a", "two/a"]);
    }

    #[test]
    fn the_burst_capacity_is_given_back_once_drained() {
        let mut q = Queue::new(10_000);
        for i in 0..5_000 {
            q.push(&format!("ns-{}", i % 50), &format!("r-{i}"));
        }
        assert!(q.order.capacity() >= 5_000);
        let handed = hand_all(&mut q);
        assert_eq!(handed.len(), 5_000);
        for name in &handed {
            let (ns, name) = name.split_once('/').unwrap();
            q.started(ns, name);
            q.finished(ns, name);
        }
        q.hand();
        assert!(q.is_empty());
        assert_eq!(q.order.capacity(), 0);
        assert!(q.states.capacity() < 64, "map capacity {}", q.states.capacity());
        assert!(q.namespaces.is_empty(), "no key left holds a namespace");
    }
}
