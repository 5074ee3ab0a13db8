//! Events: on provider-side mutations and on Ready transitions, never on a no-op resync.

use kube::Resource;
use kube::runtime::events::{Event, EventType};

use super::event_queue::EventQueue;

use super::conditions::Verdict;
use crate::api::{CallbackRegistration, EventReason};
use crate::providers::Change;

/// The Events one pass should publish.
pub fn events_for(previous_ready: Option<(&str, &str)>, verdict: &Verdict, changes: &[Change]) -> Vec<Event> {
    let mut events: Vec<Event> = changes
        .iter()
        .map(|change| Event {
            type_: EventType::Normal,
            reason: change.reason.as_str().to_string(),
            note: Some(change.message.clone()),
            action: "Sync".into(),
            secondary: None,
        })
        .collect();
    let now = (ready_status(verdict), verdict.reason().as_str());
    if previous_ready != Some(now) {
        match verdict {
            Verdict::Ready { message } | Verdict::Observed { message }
                if changes.is_empty() && previous_ready.is_some() =>
            {
                events.push(Event {
                    type_: EventType::Normal,
                    reason: EventReason::Synced.as_str().into(),
                    note: Some(message.clone()),
                    action: "Sync".into(),
                    secondary: None,
                })
            }
            Verdict::Progressing { reason, message } | Verdict::Stalled { reason, message } => events.push(Event {
                type_: EventType::Warning,
                reason: reason.as_str().into(),
                note: Some(message.clone()),
                action: "Sync".into(),
                secondary: None,
            }),
            _ => {}
        }
    }
    events
}

fn ready_status(verdict: &Verdict) -> &'static str {
    match verdict {
        Verdict::Ready { .. } | Verdict::Observed { .. } => "True",
        Verdict::Suspended => "Unknown",
        _ => "False",
    }
}

/// Publishes events in the background (`event_queue.rs`); a failure to publish is logged, never fails the
/// reconciliation.
pub async fn publish(queue: &EventQueue, obj: &CallbackRegistration, events: Vec<Event>) {
    if events.is_empty() {
        return;
    }
    queue.publish(&obj.object_ref(&()), events).await;
}

/// Publishes events at once, in this pass: a deleted registration's last Events (`EventQueue::post_now`).
pub async fn publish_now(queue: &EventQueue, obj: &CallbackRegistration, events: Vec<Event>) {
    queue.post_now(&obj.object_ref(&()), events).await;
}

/// A single Warning or Normal event, for cleanup paths.
pub fn event(type_: EventType, reason: EventReason, note: String) -> Event {
    Event {
        type_,
        reason: reason.as_str().into(),
        note: Some(note),
        action: "Cleanup".into(),
        secondary: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Reason;

    #[test]
    fn a_no_op_resync_publishes_nothing() {
        let ready = Verdict::Ready { message: "ok".into() };
        assert!(events_for(Some(("True", "Synced")), &ready, &[]).is_empty());
    }

    #[test]
    fn a_mutation_publishes_one_event() {
        let ready = Verdict::Ready { message: "ok".into() };
        let change = Change {
            reason: EventReason::Updated,
            message: "updated".into(),
        };
        let events = events_for(Some(("True", "Synced")), &ready, &[change]);
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].reason, "Updated");
    }

    #[test]
    fn repeated_failures_publish_one_warning() {
        let stalled = Verdict::Stalled {
            reason: Reason::InvalidCredentials,
            message: "rejected".into(),
        };
        assert_eq!(events_for(Some(("True", "Synced")), &stalled, &[]).len(), 1);
        assert!(events_for(Some(("False", "InvalidCredentials")), &stalled, &[]).is_empty());
    }
}
