//! Events are posted in the background, one at a time, the way client-go's event broadcaster posts them: a pass
//! hands its Events to this queue and ends, instead of holding its reconciliation slot until the apiserver has
//! taken them.
//!
//! Why: an Event is the fourth apiserver write of a new registration (the create, the finalizer, the status, the
//! Event). Posted from the pass, every object's Event competed with every other object's finalizer and status writes
//! for the apiserver, and a burst of new registrations was Ready only once all of them were in (docs/benchmark.md,
//! "Events off the reconciliation slots"). Posted from here, one at a time, they take a small share of the apiserver
//! while a burst lasts and the rest after it; when nothing is waiting, an Event is posted as soon as it is handed in.
//!
//! While registrations wait for a reconciliation slot (`TriggerQueue::backlog`), the worker holds each Event back,
//! for at most `HOLD` after it was handed in: Events are for people reading `kubectl describe`, conditions for the
//! tools waiting on Ready, and during a burst each Event posted was apiserver work taken from the passes (~500 of
//! them before all Ready at 10,000, docs/benchmark.md, fourteenth session). A backlog longer than `HOLD` gets its
//! Events at the apiserver's pace again, one minute late; a stop posts what waits at once (`drain`).
//!
//! Nothing is dropped (client-go drops Events when its queue is full): once `capacity` Events wait, a pass posts its
//! own, as it did before this queue. One worker posts them in the order they were handed in, so an object's Events
//! keep their order and the recorder's series (`recorder.rs`) sees them as they happened; the `forget` that ends a
//! deleted object's series waits behind its Events. What still waits when the controller stops is posted for at most
//! `DRAIN` (`EventQueue::drain`). A deleted registration's last Events are posted by its cleanup pass itself
//! (`EventQueue::post_now`): they must be in before the object, and the operator's rights in its namespace, go.

use std::time::Duration;

use k8s_openapi::api::core::v1::ObjectReference;
use kube::runtime::events::Event;
use prometheus_client::metrics::gauge::Gauge;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tracing::warn;

use self::packed::PackedEvent;
use super::recorder::EventRecorder;
use crate::telemetry::Metrics;

/// At most this many Events wait (~0.35 KiB each with their strings: ~6 MiB when full, returned once posted).
pub const CAPACITY: usize = 16_384;
/// How long the Events still waiting when the controller stops are given to be posted.
pub const DRAIN: Duration = Duration::from_secs(5);
/// How long after it was handed in an Event may be held back while registrations wait for a slot.
pub const HOLD: Duration = Duration::from_secs(60);

enum Message {
    /// One allocation per waiting Event (`packed.rs`), and when it was handed in.
    Publish(PackedEvent, Instant),
    /// The object is gone: its series ends (after its last Events are posted).
    Forget(String),
}

/// Hands Events to the background worker; cheap to clone.
#[derive(Clone)]
pub struct EventQueue {
    sender: mpsc::Sender<Message>,
    recorder: EventRecorder,
    /// Handed in and not yet posted: `callback_operator_events_pending` itself, the one count (moved up and down
    /// atomically, never set from a copy that may be stale).
    pending: Gauge,
    /// Set by `drain`: nothing is held back any more.
    stopping: watch::Sender<bool>,
}

/// The worker posting the queue's Events; `EventQueue::drain` ends it, and so does dropping it (the controller
/// abandoned at its shutdown deadline abandons its Events too).
pub struct Worker(tokio::task::JoinHandle<()>);

impl Drop for Worker {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl EventQueue {
    /// The queue and its worker (spawned on the current runtime); `backlog` says whether registrations wait for a
    /// reconciliation slot (a closed channel: never).
    pub fn start(
        recorder: EventRecorder,
        metrics: &Metrics,
        capacity: usize,
        mut backlog: watch::Receiver<bool>,
    ) -> (Self, Worker) {
        let (sender, mut receiver) = mpsc::channel::<Message>(capacity.max(1));
        let (stopping, mut stopped) = watch::channel(false);
        let pending = metrics.events_pending();
        // A controller started again (leadership regained) starts from an empty queue.
        pending.set(0);
        let queue = Self {
            sender,
            recorder: recorder.clone(),
            pending: pending.clone(),
            stopping,
        };
        let worker = tokio::spawn(async move {
            while let Some(message) = receiver.recv().await {
                match message {
                    Message::Publish(packed, handed_in) => {
                        yield_to_reconciliations(&mut backlog, &mut stopped, handed_in + HOLD).await;
                        let (regarding, event) = packed.unpack();
                        post(&recorder, &regarding, &event).await;
                        pending.dec();
                    }
                    Message::Forget(uid) => recorder.forget(&uid),
                }
            }
        });
        (queue, Worker(worker))
    }

    /// Hands `events` about `regarding` to the worker; posts them here when the queue is full (in order: once one
    /// did not fit, the rest are posted here too).
    pub async fn publish(&self, regarding: &ObjectReference, events: Vec<Event>) {
        let mut events = events.into_iter();
        for event in events.by_ref() {
            let sent = match PackedEvent::pack(regarding, &event) {
                Some(packed) => {
                    // Counted before it is sent: the worker may post it and count it down at once.
                    self.pending.inc();
                    let sent = self.sender.try_send(Message::Publish(packed, Instant::now())).is_ok();
                    if !sent {
                        self.pending.dec();
                    }
                    sent
                }
                None => false,
            };
            if !sent {
                self.post_now(regarding, std::iter::once(event).chain(events).collect())
                    .await;
                return;
            }
        }
    }

    /// Posts `events` about `regarding` now, in the caller: for the last Events about a deleted registration, which
    /// must be in while the operator may still write there (a namespace-scoped install's RoleBinding in the namespace
    /// is released once its last registration is gone, `guard.rs`) and before the object goes.
    pub async fn post_now(&self, regarding: &ObjectReference, events: Vec<Event>) {
        for event in events {
            post(&self.recorder, regarding, &event).await;
        }
    }

    /// The object is gone: its series ends once the Events handed in before are posted.
    pub fn forget(&self, uid: &str) {
        if self.sender.try_send(Message::Forget(uid.to_string())).is_err() {
            // Full: forgotten now (an Event still waiting may start a series again, bounded by the recorder's cap).
            self.recorder.forget(uid);
        }
    }

    /// Events handed in and not yet posted.
    pub fn pending(&self) -> usize {
        usize::try_from(self.pending.get()).unwrap_or(0)
    }

    /// Waits until every Event handed in is posted, for at most `deadline`, then stops the worker.
    pub async fn drain(&self, worker: Worker, deadline: Duration) {
        self.stopping.send_replace(true);
        let drained = tokio::time::timeout(deadline, async {
            while self.pending() > 0 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
        if drained.is_err() {
            warn!(pending = self.pending(), "stopping with Events not yet posted");
        }
        drop(worker);
    }
}

/// Waits while registrations wait for a slot, until `until` or a stop.
async fn yield_to_reconciliations(
    backlog: &mut watch::Receiver<bool>,
    stopped: &mut watch::Receiver<bool>,
    until: Instant,
) {
    // A closed channel ends its wait at once: nothing to yield to, or nothing to wait for.
    tokio::select! {
        _ = backlog.wait_for(|backlogged| !backlogged) => {}
        _ = stopped.wait_for(|stopped| *stopped) => {}
        () = tokio::time::sleep_until(until) => {}
    }
}

/// Posts one Event; a failure is logged, never fails anything.
async fn post(recorder: &EventRecorder, regarding: &ObjectReference, event: &Event) {
    if let Err(err) = recorder.publish(event, regarding).await {
        warn!(reason = %event.reason, error = %err, "publishing an Event failed");
    }
}

mod packed;
#[cfg(test)]
mod tests;
