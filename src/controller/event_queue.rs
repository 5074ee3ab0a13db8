//! Events leave a reconciliation through a queue, as client-go's broadcaster sends them: a pass hands its Events
//! over and goes on; one background task publishes them, one request at a time, in the order they came.
//!
//! Why: Events are the operator's commentary; status is its contract. Published inline, every pass waited for its
//! Event POST, and during a burst of new registrations the Events took a third of the apiserver's requests
//! (finalizer, status, Event), so Ready statuses waited behind them. With one Event request in flight beside the
//! reconciliations' many, the status writes go first and the Events follow. A full queue (an apiserver that stays
//! behind for long) drops further Events and counts them (`callback_operator_events_dropped_total`); it never blocks
//! a pass.

use futures::StreamExt;
use k8s_openapi::api::core::v1::ObjectReference;
use kube::Resource;
use kube::runtime::events::Event;
use tokio::sync::mpsc;
use tracing::{debug, warn};

use super::recorder::EventRecorder;
use crate::api::CallbackRegistration;
use crate::telemetry::Metrics;

/// Passes' Event batches waiting; at ~1 KB each, a burst of this many new registrations is ~16 MiB at most.
const CAPACITY: usize = 16_384;
/// Event requests in flight at once: one keeps every object's Events in order (a series is decided on the last one
/// sent), and leaves the apiserver to the status writes during a burst.
const IN_FLIGHT: usize = 1;

/// One pass's Events about one object, published in order.
pub struct Batch {
    regarding: ObjectReference,
    events: Vec<Event>,
}

/// Where passes hand their Events.
#[derive(Clone)]
pub struct EventQueue {
    tx: mpsc::Sender<Batch>,
    metrics: Metrics,
}

impl EventQueue {
    /// A queue published to the apiserver through `recorder` by a background task.
    pub fn start(recorder: EventRecorder, metrics: Metrics) -> Self {
        let (queue, rx) = Self::new(CAPACITY, metrics);
        tokio::spawn(publish_all(rx, recorder));
        queue
    }

    fn new(capacity: usize, metrics: Metrics) -> (Self, mpsc::Receiver<Batch>) {
        let (tx, rx) = mpsc::channel(capacity);
        (Self { tx, metrics }, rx)
    }

    /// Queues `events` about `obj`; never waits. Dropped (and counted) when the queue is full.
    pub fn publish(&self, obj: &CallbackRegistration, events: Vec<Event>) {
        if events.is_empty() {
            return;
        }
        let batch = Batch {
            regarding: obj.object_ref(&()),
            events,
        };
        match self.tx.try_send(batch) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(batch)) => {
                debug!(count = batch.events.len(), "Event queue full; dropping");
                self.metrics.events_dropped(batch.events.len());
            }
            // The publisher is gone only when the runtime shuts down.
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }
}

/// Publishes every batch, [`IN_FLIGHT`] at a time; a failure is logged, never retried (the next pass about the
/// object publishes what is true then).
async fn publish_all(rx: mpsc::Receiver<Batch>, recorder: EventRecorder) {
    let batches = futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|batch| (batch, rx)) });
    batches
        .for_each_concurrent(IN_FLIGHT, |batch| {
            let recorder = recorder.clone();
            async move {
                for event in &batch.events {
                    if let Err(err) = recorder.publish(event, &batch.regarding).await {
                        warn!(reason = %event.reason, error = %err, "publishing an Event failed");
                    }
                }
            }
        })
        .await;
}

#[cfg(test)]
mod tests {
    use kube::runtime::events::EventType;

    use super::*;

    fn obj() -> CallbackRegistration {
        let spec = serde_json::from_value(serde_json::json!({"credentialsRef": {"name": "s"}})).unwrap();
        let mut obj = CallbackRegistration::new("a", spec);
        obj.metadata.namespace = Some("shop".into());
        obj
    }

    fn event(reason: &str) -> Event {
        Event {
            type_: EventType::Normal,
            reason: reason.into(),
            note: Some("note".into()),
            action: "Sync".into(),
            secondary: None,
        }
    }

    #[test]
    fn a_pass_hands_its_events_over_in_order_without_waiting() {
        let (queue, mut rx) = EventQueue::new(4, Metrics::new());
        queue.publish(&obj(), vec![event("Registered"), event("Synced")]);
        queue.publish(&obj(), Vec::new());
        let batch = rx.try_recv().expect("one batch");
        assert_eq!(batch.regarding.name.as_deref(), Some("a"));
        assert_eq!(batch.regarding.namespace.as_deref(), Some("shop"));
        let reasons: Vec<&str> = batch.events.iter().map(|e| e.reason.as_str()).collect();
        assert_eq!(reasons, ["Registered", "Synced"]);
        assert!(rx.try_recv().is_err(), "no batch for a pass without Events");
    }

    #[test]
    fn a_full_queue_drops_and_counts_instead_of_blocking() {
        let metrics = Metrics::new();
        let (queue, _rx) = EventQueue::new(1, metrics.clone());
        queue.publish(&obj(), vec![event("Registered")]);
        queue.publish(&obj(), vec![event("Synced"), event("Updated")]);
        let exported = metrics.encode();
        assert!(
            exported.contains("callback_operator_events_dropped_total 2"),
            "{exported}"
        );
    }
}
